#!/bin/sh
# gen-ops.sh OPS_DEF: prints lua/gd/ops.lua, the Lua side of the one list of
# operation codes (src/ops.def), by running the C preprocessor over it with
# each kind of entry spelled as a Lua table.
set -eu
def=$1
echo "-- Generated from $def by scripts/gen-ops.sh; do not edit."
${CC:-cc} -E -P -nostdinc -I"$(dirname "$def")" -x c - <<'TEMPLATE' | grep -v '^[[:space:]]*$'
-- gd.ops: the operation codes of libgd (src/ops.def), by name, and their lists.
--   gd.ops.binary.add == C.GD_OP_ADD; gd.ops.unary, gd.ops.reduce, gd.ops.ternary alike
--   gd.ops.binary_list[i] = {name, int64, doc, code = i - 1}: the entries in code order
local M = {}
M.binary_list = {
#define GD_BINOP(ID, NAME, INT64, DOC) {#NAME, INT64 == 1, DOC},
#include "ops.def"
}
M.unary_list = {
#define GD_UNOP(ID, NAME, INT64, DOC) {#NAME, INT64 == 1, DOC},
#include "ops.def"
}
M.reduce_list = {
#define GD_REDOP(ID, NAME, DOC) {#NAME, false, DOC},
#include "ops.def"
}
M.ternary_list = {
#define GD_TERNOP(ID, NAME, NOPS, DOC) {#NAME, false, DOC, NOPS},
#include "ops.def"
}
-- each entry {name, int64, doc[, nops]} becomes {name =, int64 =, doc =, nops =, code =}
local function codes(list)
  local t = {}
  for i, e in ipairs(list) do
    list[i] = {name = e[1], int64 = e[2], doc = e[3], nops = e[4], code = i - 1}
    t[e[1]] = i - 1
  end
  return t
end
M.binary, M.unary = codes(M.binary_list), codes(M.unary_list)
M.reduce, M.ternary = codes(M.reduce_list), codes(M.ternary_list)
return M
TEMPLATE
