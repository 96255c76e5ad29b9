-- gen-ops-doc.lua: writes docs/ops.md, the list of libgd's operation codes,
-- from gd.ops (lua/gd/ops.lua, itself generated from src/ops.def).  `make
-- docs` runs it; returns the text when loaded with dofile (spec/ops_spec.lua
-- checks the committed file).
local ops = require "gd.ops"

local out = {}
local function say(s) out[#out + 1] = s end

say("# Operation codes")
say("")
say("Generated from `src/ops.def` by `make docs` (scripts/gen-ops-doc.lua); do not edit.")
say("One list gives the C enums (`src/gd.h`, `src/backend.h`), the names in error messages,")
say("the Lua names (`gd.ops`, `lua/gd/ops.lua`) and this page. Every backend (`src/backend.h`:")
say("the CPU's in `src/cpu/`, CUDA's in `cuda/`) implements every code.")

local sections = {
  {"Binary element-wise (`gd_binary`, `C.GD_OP_*`)", ops.binary_list, "int64 stays int64"},
  {"Unary element-wise (`gd_unary`, `C.GD_OP_*`)", ops.unary_list, "int64 stays int64"},
  {"Reductions (`gd_reduce_all`, `gd_reduce_dim`, `C.GD_RED_*`)", ops.reduce_list},
  {"Ternary, in place (backend kinds `GD_TERN_*`)", ops.ternary_list},
}
for _, sec in ipairs(sections) do
  say("")
  say("## " .. sec[1])
  say("")
  if sec[3] then
    say("| code | name | " .. sec[3] .. " | what |")
    say("|---:|---|:---:|---|")
  else
    say("| code | name | what |")
    say("|---:|---|---|")
  end
  for _, op in ipairs(sec[2]) do
    if sec[3] then
      say(string.format("| %d | `%s` | %s | %s |", op.code, op.name, op.int64 and "yes" or "float32", op.doc))
    else
      say(string.format("| %d | `%s` | %s |", op.code, op.name, op.doc))
    end
  end
end
say("")

local text = table.concat(out, "\n")
if arg and arg[0] and arg[0]:match("gen%-ops%-doc%.lua$") then io.write(text) end
return text
