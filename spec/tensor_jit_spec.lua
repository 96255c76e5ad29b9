-- The JIT: hot loops over tensor methods (the per-step code of a training
-- loop written in Lua) must compile into LuaJIT traces.  The trace events are
-- recorded with jit.attach; a loop passes when a trace started in it closes
-- on itself (a looping trace: the whole iteration, gd's methods inlined, runs
-- as machine code) and no trace through it or through gd's tensor code
-- aborted on something the JIT cannot compile (an "NYI" abort).  Other
-- aborts are part of normal recording: a trace started at a hot function's
-- entry that runs into the caller's loop ("leaving loop in root trace"), or a
-- garbage-collection finalizer running while a trace records.
local gd = require "gd"
local jutil = require "jit.util"

local ok_vmdef, vmdef = pcall(require, "jit.vmdef")
local torture = (tonumber(os.getenv("GD_GC_TORTURE") or "") or 0) >= 1

--- Runs fn() with the trace log attached; returns the events.
local function traced(fn)
  local events = {}
  local function record(what, tr, func, pc, otr, oex)
    events[#events + 1] = {what = what, tr = tr, func = func, pc = pc, otr = otr, oex = oex}
  end
  jit.flush()
  jit.attach(record, "trace")
  local ok, err = pcall(fn)
  jit.attach(record)
  assert(ok, err)
  return events
end

local function where(func, pc)
  local fi = jutil.funcinfo(func, pc)
  return (fi.source or "?") .. ":" .. tostring(fi.currentline or fi.linedefined or "?")
end

--- Asserts that `loop` compiled: a looping trace started in it, and no NYI
-- abort happened in it or in gd's tensor code (lua/gd/tensor.lua, lua/gd/tensor/*.lua
-- and the helper layer lua/gd/aux.lua).
local function assert_compiled(events, loop)
  local looping, aborts = false, {}
  for _, e in ipairs(events) do
    if e.what == "stop" and e.func == loop then
      local info = jutil.traceinfo(e.tr)
      if info and info.linktype == "loop" and info.link == e.tr then looping = true end
    elseif e.what == "abort" then
      local fi = jutil.funcinfo(e.func, e.pc)
      local reason = ok_vmdef and vmdef.traceerr[e.otr] or tostring(e.otr)
      if type(reason) == "string" and reason:find("%%") then reason = reason:format(tostring(e.oex)) end
      reason = tostring(reason)
      local src = fi.source or ""
      local ours = e.func == loop or src:find("gd/tensor", 1, true) or src:find("gd/aux.lua", 1, true)
      if ours and (reason:find("NYI", 1, true) or reason:find("blacklisted", 1, true)) then
        aborts[#aborts + 1] = where(e.func, e.pc) .. ": " .. reason
      end
    end
  end
  assert.are.same({}, aborts)
  -- Under GD_GC_TORTURE=n (lua/gd/aux.lua's test mode) a forced full
  -- collection comes every n tensors, and collectgarbage is not compiled: with
  -- a small n every iteration of a loop that makes a tensor leaves its trace,
  -- so only a normal run can show the looping trace (the NYI check above
  -- still holds under torture).
  if not torture then assert.is_true(looping, "no looping trace started in the hot loop") end
end

describe("hot loops", function()
  before_each(function() assert.is_true(jit.status(), "the JIT is off") end)

  it("compile 10^5 calls of y:add_(x) into one looping trace", function()
    local y, x = gd.zeros(16, {dtype = "float64"}), gd.ones(16, {dtype = "float64"})
    local function loop(n)
      for _ = 1, n do y:add_(x) end
    end
    assert_compiled(traced(function() loop(10 ^ 5) end), loop)
    assert.are.equal(10 ^ 5, y:get(1))
  end)

  it("compile the other per-step operations of an optimizer written in Lua", function()
    local p, g = gd.ones(8), gd.full(8, 0.5)
    local buf = gd.zeros(8)
    local function loop(n)
      for i = 1, n do
        buf:mul_(0.9):add_(g, 0.1)   -- momentum
        p:sub_(buf, 0.01)            -- step
        g:copy_(p):mul_(2)           -- a gradient, 2p
        if p:get(1) ~= p:get(1) then error("NaN") end
        p:set(8, p:get(8))
        local _ = i
      end
    end
    assert_compiled(traced(function() loop(2 * 10 ^ 4) end), loop)
    assert.is_true(p:get(1) < 1)
  end)

  it("compile a loop of element reads and writes", function()
    local t = gd.zeros(4, 4, {dtype = "float64"})
    local function loop(n)
      local s = 0
      for i = 1, n do
        local r, c = i % 4 + 1, (i * 3) % 4 + 1
        t:set(r, c, t:get(r, c) + 1)
        s = s + t[r]:numel()
      end
      return s
    end
    assert_compiled(traced(function() loop(10 ^ 5) end), loop)
    assert.are.equal(10 ^ 5, t:sum())
  end)
end)
