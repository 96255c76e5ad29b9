-- Runs busted inside the gdlua host, so that specs see what scripts see
-- (the `gd` global, the host's package paths):
--   build/bin/gdlua scripts/busted.lua [busted options] [spec paths]
-- (`gdlua -b` does the same from any directory.)  --ignore-lua first: the
-- repository's .busted names gdlua as busted's `lua`, which would otherwise
-- start a second gdlua (and re-split arguments at spaces).
table.insert(arg, 1, "--ignore-lua")
require "busted.runner"({ standalone = false })
