-- gd.pace, the hill climber behind the number of unsettled tensors a
-- collection waits for (lua/gd/aux.lua, "the pace"), and its wiring into
-- gd.aux.  The best number depends on the machine (4096 on a 2-core AMD EPYC,
-- 16384-32768 on a 2-core Intel Xeon, a cliff beyond), so it is measured, not
-- fixed: these specs feed the climber synthetic rates for each level and check
-- where it spends its epochs.
local pace = require "gd.pace"
local P = dofile("spec/support/process.lua")

--- Epochs spent at each level over n epochs of rate_of(level).
local function run(climber, rate_of, n)
  local at = {}
  for l = 0, climber.top do at[l] = 0 end
  local level = climber.level
  for _ = 1, n do
    level = climber:observe(rate_of(level))
    at[level] = at[level] + 1
  end
  return at
end

--- The rate function of a machine with these rates at levels 0, 1, ...
local function machine(rates)
  return function(level) return rates[level + 1] end
end

-- a deterministic noise of +-amp (a linear congruential sequence)
local function noise(amp)
  local s = 12345
  return function()
    s = (s * 1103515245 + 12345) % 2147483648
    return 1 + amp * (2 * s / 2147483648 - 1)
  end
end

describe("gd.pace", function()
  it("climbs to the best level of the machine and stays there", function()
    -- a machine like the Xeon: level 2 (16384 tensors) is best.  Catches a
    -- climber that never leaves level 0 (the fixed 4096 of before) or that
    -- keeps probing every other epoch (at most 3/4 of them at the best level)
    local c = pace.new(3)
    local at = run(c, machine {1.0, 1.2, 1.35, 0.7}, 400)
    assert.are.equal(2, c.home)
    assert.is_true(at[2] >= 360, "epochs at level 2: " .. at[2])
    assert.is_true(at[3] <= 12, "epochs at level 3: " .. at[3])
    assert.are.equal(400, c.epochs)
  end)

  it("stays at level 0 where the smallest pace is best, probing ever more rarely", function()
    -- a machine like the EPYC: every larger pace is slower.  Catches a climber
    -- that moves on without a measured gain, or one that does not back off
    local c = pace.new(3)
    local at = run(c, machine {1.0, 0.9, 0.8, 0.6}, 400)
    assert.are.equal(0, c.home)
    -- (waits of 2, 4, 8, 16, then 32 epochs: 15 probes in 400 epochs; without
    -- the back-off, 133)
    assert.is_true(at[1] <= 16, "epochs at level 1: " .. at[1])
    assert.are.equal(0, at[2] + at[3])
    assert.are.equal(32, c.wait_len)
  end)

  it("does not move for gains inside the noise", function()
    -- flat rates with +-1% noise: no probe is 3% faster than the epoch before
    -- it.  Catches a climber without the threshold, which would drift
    local r = noise(0.01)
    local c = pace.new(3)
    local at = run(c, function() return r() end, 400)
    assert.are.equal(0, c.home)
    assert.is_true(at[0] >= 380, "epochs at level 0: " .. at[0])
  end)

  it("settles on the smaller level when two are equally fast", function()
    -- flat rates from a home at level 2: each probe down is no slower, so the
    -- climber walks down to 0 (less memory waiting).  Catches a climber that
    -- asks a lower level for the same 3% gain as a higher one (it stays at 2)
    local c = pace.new(3)
    c.level, c.home = 2, 2
    run(c, function() return 1 end, 40)
    assert.are.equal(0, c.home)
  end)

  it("follows the machine when the best level changes", function()
    -- best at 3 for 200 epochs, then best at 0 (a program whose tensors grew,
    -- say).  Catches a climber that stops probing once it has settled
    local c = pace.new(3)
    run(c, machine {1.0, 1.1, 1.2, 1.3}, 200)
    assert.are.equal(3, c.home)
    run(c, machine {1.3, 1.2, 1.1, 1.0}, 300)
    assert.are.equal(0, c.home)
  end)

  it("probes again at once when the work changes under it", function()
    -- settled at 0 with the longest wait, then another loop (rates three times
    -- as high, best at level 1): the shift of the home rate restarts the wait,
    -- so level 1 is found within a few epochs.  Catches a climber that waits
    -- out its 32 epochs first
    local c = pace.new(3)
    run(c, machine {1.0, 0.9, 0.8, 0.7}, 300)
    assert.are.equal(32, c.wait_len)
    local rate_of, epochs = machine {3.0, 3.3, 3.0, 2.7}, 0
    while c.home ~= 1 and epochs < 100 do
      c:observe(rate_of(c.level))
      epochs = epochs + 1
    end
    assert.is_true(epochs <= 4, "epochs to find the new best level: " .. epochs)
  end)

  it("with a single level, measures and stays", function()
    local c = pace.new(0)
    local at = run(c, function() return 1 end, 10)
    assert.are.equal(10, at[0])
  end)
end)

describe("the pace in gd.aux", function()
  it("raises the floor of the unsettled limit, not the heap's share of it", function()
    -- limit = max(4096 * 2^level, 4 per KB of live heap).  Catches a multiple
    -- of the whole rule, which fed on itself (the generations' tables are Lua
    -- heap): 59000 tensors waited at level 3 instead of 32768, at 0.6x the speed
    local A = require "gd.aux"
    local climber = A._pace.climber
    local saved = climber.level
    -- a live heap of some MB, so that the heap's share (4 per KB) is above 4096
    local ballast = {}
    for i = 1, 40000 do ballast[i] = {i, i + 1} end
    collectgarbage()
    local ok, err = pcall(function()
      A._pace.set_level(0)
      local base = A._pace.limit()
      assert.is_true(base > 8192, "the heap's share: " .. base)
      for level = 0, 3 do
        A._pace.set_level(level)
        assert.are.equal(math.min(math.max(base, 4096 * 2 ^ level), 262144), A._pace.limit())
      end
    end)
    A._pace.set_level(saved)
    ballast = nil
    collectgarbage()
    assert(ok, err)
  end)

  it("measures epochs of a loop of temporaries in a fresh process, within its levels", function()
    -- 3 temporaries a step, as the d2l quadratic: the paced collections end
    -- epochs and the climber sees them.  Catches a pace that is never fed (a
    -- collection path that skips it) or one that leaves its levels
    local r = P.run({"-e", [[
      local A = require "gd.aux"
      local x = gd.tensor({1, 2}, {dtype = "float64"})
      local c = A._pace.climber
      local t0 = os.clock()
      -- (until 3 epochs, or 20 s of CPU under make asan's slower code)
      while c.epochs < 3 and os.clock() - t0 < 20 do
        for _ = 1, 1000 do local y = (x * 2 + 1):sum() end
      end
      io.write("epochs=", c.epochs, " level=", c.level, " limit=", A._pace.limit(), "\n")
    ]]})
    assert.are.equal(0, r.status, r.err)
    local epochs, level, limit = r.out:match("epochs=(%d+) level=(%d+) limit=(%d+)")
    assert.truthy(epochs, r.out .. r.err)
    assert.is_true(tonumber(epochs) >= 3, r.out)
    assert.is_true(tonumber(level) >= 0 and tonumber(level) <= 3, r.out)
    assert.are.equal(math.max(4096 * 2 ^ tonumber(level), tonumber(limit)), tonumber(limit))
  end)
end)
