-- The adaptive thread count (src/threads.c): the tuner driven by a synthetic
-- clock (no timing in specs), and results that do not depend on the count.
local gd = require "gd"
local C = require("gd.ffi").C

describe("the adaptive thread count", function()
  local limit0, adaptive0
  before_each(function()
    limit0, adaptive0 = gd.get_num_threads(), gd.get_adaptive_threads()
    gd.set_num_threads(2)
    gd.set_adaptive_threads(true)
  end)
  after_each(function()
    gd.set_adaptive_threads(adaptive0)
    gd.set_num_threads(limit0)
  end)

  -- An optimizer id no real optimizer has, and a clock that advances by the
  -- iteration time the active count costs: cost(threads) -> seconds.
  local LEAD = 2 ^ 52
  local clock = 0
  local function run(iters, cost)
    local at = {0, 0}
    for _ = 1, iters do
      C.gd_threads_iteration(LEAD, clock)
      local a = gd.get_active_threads()
      at[a] = (at[a] or 0) + 1
      clock = clock + cost(a)
    end
    return at
  end
  local function contended(a) return a == 2 and 0.010 or 0.005 end -- 2 threads twice as slow
  local function idle(a) return a == 2 and 0.004 or 0.007 end

  it("moves to one thread when two are slower, and back when two pay again", function()
    -- catches: a tuner that never probes, compares the wrong counts, or sticks
    local at = run(20, contended)
    assert.are.equal(1, gd.get_active_threads())
    assert.is_true(at[2] <= 10, "iterations at 2 threads before moving: " .. at[2])
    assert.are.equal(2, gd.get_num_threads())           -- the limit stays the user's
    run(300, idle)                                      -- the other process has gone
    assert.are.equal(2, gd.get_active_threads())
  end)

  it("probes rarely once the choice holds (under 3% of iterations)", function()
    -- catches: probes at a fixed short interval, costing a share of every run
    run(40, contended)
    local at = run(2000, contended)
    assert.are.equal(1, gd.get_active_threads())
    assert.is_true(at[2] < 0.03 * 2000, "iterations spent probing 2 threads: " .. at[2])
  end)

  it("does not move for a difference within its hysteresis (5%)", function()
    -- catches: flapping between counts on noise
    local at = run(500, function(a) return a == 2 and 0.0100 or 0.0098 end)
    assert.are.equal(2, gd.get_active_threads())
    -- probes only (6 iterations each, doubling intervals): nearly free here, as
    -- both counts cost the same; a switch would have put hundreds at 1 thread
    assert.is_true(at[1] < 50, "iterations at 1 thread: " .. at[1])
  end)

  it("keeps what it learnt across gd.set_num_threads(1) and back", function()
    -- catches: a loop alternating 1 and 2 threads relearning (and paying) each time
    run(40, contended)
    assert.are.equal(1, gd.get_active_threads())
    gd.set_num_threads(1)
    assert.are.equal(1, gd.get_active_threads())
    gd.set_num_threads(2)
    assert.are.equal(1, gd.get_active_threads())
    assert.are.equal(2, gd.get_num_threads())
  end)

  it("does nothing when off or with one thread", function()
    -- catches: a tuner that changes the count the user fixed
    gd.set_adaptive_threads(false)
    run(100, contended)
    assert.are.equal(2, gd.get_active_threads())
    gd.set_adaptive_threads(true)
    gd.set_num_threads(1)
    run(100, function() return 0.01 end)
    assert.are.equal(1, gd.get_active_threads())
  end)

  it("refuses a non-boolean with the function's name", function()
    local ok, err = pcall(gd.set_adaptive_threads, 1)
    assert.is_false(ok)
    assert.matches("gd.set_adaptive_threads: on %(argument 1%) must be true or false, got number", err)
  end)

  it("an MLP trains to the same bits with 1 and 2 threads (gemm, loops, optimizer)", function()
    -- catches: a result that depends on the count the tuner picks (a gemm split
    -- along its sums, a reduction blocked per thread); 64-512-512-10 has
    -- 300,000 parameters, above the threading threshold
    local function train(threads)
      gd.set_adaptive_threads(false)
      gd.set_num_threads(threads)
      gd.manual_seed(5)
      local net = gd.nn.Sequential{gd.nn.Linear(64, 512), gd.nn.ReLU(), gd.nn.Linear(512, 512), gd.nn.ReLU(),
                                   gd.nn.Linear(512, 10)}
      local opt = gd.optim.RMSProp(net, {lr = 1e-3, alpha = 0.9})
      local loss = gd.nn.CrossEntropyLoss()
      local x = gd.randn(32, 64)
      local labels = {}
      for i = 1, 32 do labels[i] = (i * 7) % 10 + 1 end
      local y = gd.tensor(labels, {dtype = "int64"})
      for _ = 1, 4 do
        opt:zero_grad()
        local _, g = loss(net(x), y)
        net:backward(g)
        opt:step()
      end
      return net:parameters()
    end
    local one, two = train(1), train(2)
    for i = 1, #one do assert.is_true(one[i]:equal(two[i]), "parameter " .. i) end
  end)
end)
