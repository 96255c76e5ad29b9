--- The one list of operation codes (src/ops.def): the C enums, the Lua names
-- (gd.ops, lua/gd/ops.lua), the messages and docs/ops.md come from it and
-- agree; the Lua layer has no hand-numbered table of codes left.
local gd = require "gd"
local C = require("gd.ffi").C
local ops = require "gd.ops"
local files = require "spec.support.files"

describe("gd.ops", function()
  -- catches: a code renumbered in one place only (gd.h's enum against the
  -- Lua table), the failure the six hand-written lists of old invited
  it("gives every binary, unary and reduction code its C enum value", function()
    local kinds = {{ops.binary_list, "GD_OP_", C.GD_BINOP_COUNT}, {ops.unary_list, "GD_OP_", C.GD_UNOP_COUNT},
                   {ops.reduce_list, "GD_RED_", C.GD_REDOP_COUNT}}
    for _, k in ipairs(kinds) do
      local list, prefix, count = k[1], k[2], k[3]
      assert.equal(tonumber(count), #list)
      for i, op in ipairs(list) do
        assert.equal(i - 1, op.code)
        assert.equal(tonumber(C[prefix .. op.name:upper()]), op.code, prefix .. op.name:upper())
      end
    end
    assert.equal(tonumber(C.GD_OP_SOFTPLUS), ops.unary.softplus)
    assert.equal(tonumber(C.GD_RED_LOGSUMEXP), ops.reduce.logsumexp)
    assert.equal(3, ops.ternary.where)
  end)

  -- catches: a tensor method wired to the wrong code (sub running add ...):
  -- every binary op by its gd.ops name, against plain Lua arithmetic
  it("drives the tensor methods: each binary code computes its operation", function()
    local a, b = gd.tensor({7, -7, 2.5}, {dtype = "float64"}), gd.tensor({2, 2, -0.5}, {dtype = "float64"})
    local want = {add = {9, -5, 2}, sub = {5, -9, 3}, mul = {14, -14, -1.25}, div = {3.5, -3.5, -5},
                  pow = {49, 49, 1 / math.sqrt(2.5)}, mod = {1, 1, 0}, maximum = {7, 2, 2.5}, minimum = {2, -7, -0.5},
                  eq = {0, 0, 0}, ne = {1, 1, 1}, lt = {0, 1, 0}, le = {0, 1, 0}, gt = {1, 0, 1}, ge = {1, 0, 1}}
    local method = {mod = "remainder"}
    local seen = 0
    for _, op in ipairs(ops.binary_list) do
      local out = a[method[op.name] or op.name](a, b)
      for i = 1, 3 do assert.near(want[op.name][i], out:get(i), 1e-12, op.name) end
      seen = seen + 1
    end
    assert.equal(14, seen)
  end)

  it("lua/gd/ops.lua is what scripts/gen-ops.sh makes of src/ops.def", function()
    local p = io.popen("sh scripts/gen-ops.sh src/ops.def")
    local gen = p:read("*a")
    p:close()
    assert(gen:match("M%.binary_list"), "scripts/gen-ops.sh failed")
    assert(gen == files.read("lua/gd/ops.lua"), "lua/gd/ops.lua is out of date: run make")
  end)

  it("docs/ops.md is what make docs generates from it", function()
    local gen = dofile("scripts/gen-ops-doc.lua")
    local committed = files.read("docs/ops.md")
    assert(committed, "docs/ops.md is missing")
    assert(gen == committed, "docs/ops.md is out of date: run make docs")
    assert(committed:match("| 13 | `ge` |"))
  end)

  it("leaves no hand-numbered table of operation codes in lua/gd", function()
    local p = io.popen("grep -rlE '(add|neg|sum) = 0,' lua/gd --include=*.lua")
    local hits = p:read("*a")
    p:close()
    assert.equal("", hits)
  end)
end)
