-- Runs busted inside the gdlua host, so that specs see what scripts see
-- (the `gd` global, the host's package paths):
--   build/bin/gdlua scripts/busted.lua [busted options] [spec paths]
require "busted.runner"({ standalone = false })
