-- Top-level locals typed at the REPL live on at the next prompt (gd.repl_locals),
-- with Lua's own scoping, and a script is never rewritten.
-- Run: build/bin/gdlua scripts/busted.lua spec/repl_locals_spec.lua
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "spec"
local P = dofile(here .. "/support/process.lua")
local repl_locals = require "gd.repl_locals"

local function contains(haystack, needle)
  return haystack:find(needle, 1, true) ~= nil
end

describe("gd.repl_locals", function()
  local S
  before_each(function() S = repl_locals.new() end)

  -- runs each chunk in turn in one session; returns the results of the last
  local function lines(...)
    local chunks = {...}
    for i = 1, #chunks - 1 do assert(S:wrap(chunks[i], "=stdin"))() end
    return assert(S:wrap(chunks[#chunks], "=stdin"))()
  end

  it("keeps a local for the next chunk, and the next one after it", function()
    -- plain Lua (today's REPL) gives nil: each chunk's locals die with it
    assert.are.equal(3, lines("local n = 3", "return n"))
    assert.are.equal(4, lines("n = n + 1", "return n"))
    -- and it is a local, not a global
    assert.is_nil(rawget(_G, "n"))
  end)

  it("keeps every name of `local a, b = ...`, including nils and all results of a call", function()
    -- catches keeping only the first name, or only names that got a value
    local a, b, c = lines("local function two() return 10, 20 end local a, b, c = two()", "return a, b, c")
    assert.are.same({10, 20, nil}, {a, b, c})
    assert.are.same({"a", "b", "c", "two"}, S:names())
    assert.is_true(select(2, S:get("c")))
  end)

  it("keeps `local function`, recursive calls included", function()
    assert.are.equal(120, lines("local function fact(k) if k <= 1 then return 1 end return k * fact(k - 1) end",
                                "return fact(5)"))
  end)

  it("shares one variable between the prompt and closures defined at the prompt", function()
    -- a copy of the value (an environment table filled after the chunk) would
    -- leave the closure and the prompt seeing different variables
    lines("local count = 0", "function repl_locals_spec_inc() count = count + 1 return count end")
    assert.are.equal(1, repl_locals_spec_inc())
    assert.are.equal(2, lines("repl_locals_spec_inc()", "return count"))
    lines("count = 10")
    assert.are.equal(11, repl_locals_spec_inc())
    repl_locals_spec_inc = nil
  end)

  it("shares the variable with compiled code too: a hot closure from a later line assigns it", function()
    -- catches a holder whose upvalue LuaJIT flags immutable (the first chunk never assigns the local):
    -- the JIT then compiles the closure's read of it as the value at recording time, so 200 calls of
    -- an increment gave 56 and the prompt saw 56 (an intermittent failure of the spec above in full
    -- runs, whenever the call was compiled).  hotloop=1 makes the loop and the closure compile at once.
    local jit_on = jit and jit.status()
    if jit_on then jit.opt.start("hotloop=1") end
    local ok, err = pcall(function()
      lines("local hits = 0", "function repl_locals_spec_hit() hits = hits + 1 return hits end")
      local last
      for _ = 1, 200 do last = repl_locals_spec_hit() end
      assert.are.equal(200, last)
      assert.are.equal(200, lines("return hits"))
    end)
    if jit_on then jit.opt.start("hotloop=56") end   -- LuaJIT's default
    repl_locals_spec_hit = nil
    assert(ok, err)
  end)

  it("keeps Lua's scoping when a local is shadowed later", function()
    -- in one chunk and across chunks, a closure keeps the x it was made with
    local first, second = lines("local x = 1 local f = function() return x end local x = 2", "return f(), x")
    assert.are.same({1, 2}, {first, second})
    lines("local y = 'old'", "local g = function() return y end", "local y = 'new'")
    assert.are.same({"old", "new"}, {lines("return g(), y")})
    -- `local z = z + 1` reads the earlier z
    assert.are.equal(6, lines("local z = 5", "local z = z + 1", "return z"))
  end)

  it("keeps only top-level locals: not those of blocks, functions or strings", function()
    lines("do local in_do = 1 end if true then local in_if = 2 end "
          .. "repeat local in_repeat = 3 until in_repeat == 3 "
          .. "local t = {f = function() local in_fn = 4 end} "
          .. "local s = 'local in_string = 5' .. [[local in_long = 6]] -- local in_comment = 7")
    assert.are.same({"s", "t"}, S:names())
  end)

  it("finds where a local statement ends in any expression", function()
    -- a wrong end would put the keeping call inside the expression (a syntax
    -- error, or a value kept before the whole expression ran)
    local function pack(...) return {n = select("#", ...), ...} end
    local r = pack(lines(
      "local a = -2 ^ 2 .. 'x' local b = ('%d'):format(7) local c = #{1, 2, [3] = 3}",
      "local d = 0x10 + 1e-1 local e = tostring 'ab' local f = (function(...) return select('#', ...) end)(1, 2)",
      "local g = not nil and ({k = 1})['k'] or 0 local h = a .. b; local i",
      "return a, b, c, d, e, f, g, h, i"))
    assert.are.same({"-4x", "7", 3, 16.1, "ab", 2, 1, "-4x7", n = 9}, r)
  end)

  it("keeps a local whose chunk failed after it", function()
    -- keeping only at the end of a chunk would lose it
    local f = assert(S:wrap("local kept = 'yes' error('boom')", "=stdin"))
    local ok, err = pcall(f)
    assert.is_false(ok)
    assert.are.equal("stdin:1: boom", err)
    assert.are.equal("yes", lines("return kept"))
  end)

  it("keeps line numbers as typed", function()
    local f = assert(S:wrap("local x = 1\n\nerror('line 3')", "=stdin"))
    assert.are.equal("stdin:3: line 3", select(2, pcall(f)))
  end)
end)

describe("REPL locals through gdlua -i", function()
  after_each(function() P.cleanup() end)

  it("runs the README's example typed line by line", function()
    -- the issue's case: `local runs = {...}` on one line, pairs(runs) later
    local r = P.run({"-i"}, {stdin = table.concat({
      "local f = gd.objectives.quadratic",
      "local runs = { AdaGrad = {flavor = 'd2l', lr = 0.4},",
      "               RMSProp = {flavor = 'd2l', lr = 0.4, gamma = 0.9} }",
      "for name, hyper in pairs(runs) do",
      "  local x = gd.tensor(f.x0, {dtype = 'float64'})",
      "  local opt = gd.optim[name]({x}, hyper)",
      "  for epoch = 1, 20 do opt:step(function() f.grad(x, x.grad) return f.f(x) end) end",
      "  print(name, ('%.6f %.6f'):format(x:get(1), x:get(2)))",
      "end", ""}, "\n")})
    assert.are.equal(0, r.status)
    assert.are.equal("", r.err)
    -- d2l's published numbers (d2l 12.7 / 12.8)
    assert.truthy(contains(r.out, "AdaGrad\t-2.382563 -0.158591\n"), r.out)
    assert.truthy(contains(r.out, "RMSProp\t-0.010599 0.000000\n"), r.out)
  end)

  it("shows locals as values, completes them and documents them", function()
    local r = P.run({"-i"}, {stdin = "local answer = 6 * 7\nanswer\nlocal opt = gd.optim.SGD({gd.zeros(1)}, {lr = 0.1})\n?opt\n"})
    assert.truthy(contains(r.out, "> 42\n"), r.out)
    assert.truthy(contains(r.out, (require("gd.doc").lookup(gd.optim.SGD)):sub(1, 30)), r.out)
  end)

  it("completes a local's name and fields", function()
    local repl = require "gd.repl"
    repl.session:clear()
    repl.compile("local repl_locals_spec_tbl = {alpha = 1, beta = 2}")()
    local _, list = repl.candidates("repl_locals_spec_t")
    assert.are.same({"repl_locals_spec_tbl"}, list)
    _, list = repl.candidates("repl_locals_spec_tbl.al")
    assert.are.same({"alpha"}, list)
    repl.session:clear()
  end)

  it("gives a script's locals to nobody: scripts run as written", function()
    local dir = P.tmpdir()
    P.write(dir .. "/setup.lua", "local hidden = 'script local'\nshown = 'global'\n"
            .. "local x = 1 local f = function() return x end local x = 2 print(f(), x)\n")
    local r = P.run({"-i", dir .. "/setup.lua"}, {stdin = "hidden\nshown\n"})
    assert.are.equal(0, r.status)
    assert.truthy(contains(r.out, "1\t2\n"), r.out)
    assert.truthy(contains(r.out, "> nil\n> global\n"), r.out)
  end)

  it("rejects a Lua 5.4 attribute as a script does", function()
    -- LuaJIT has no <const>/<close>; the prompt says what loadstring says
    local _, expected = loadstring("local k <const> = 1", "=stdin")
    local r = P.run({"-i"}, {stdin = "local k <const> = 1\nk\n"})
    assert.truthy(contains(r.err, expected), r.err)
    assert.truthy(contains(r.out, "> nil\n"), r.out)
  end)
end)
