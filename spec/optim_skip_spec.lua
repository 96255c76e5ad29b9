--- gd_optim_step_grads: the optimizer steps with the gradients it is handed
-- (autograd's), and a NULL gradient skips that parameter entirely, as
-- PyTorch skips a parameter whose .grad is None: no weight decay, no
-- momentum, no state change, and its own step count stays (its later bias
-- corrections are its own).  Replays spec/golden/optim_skip.lua, written by
-- PyTorch 1.13's torch.optim (scripts/golden/optim_skip.py); each case says
-- which wrong rule it catches.
local gd = require "gd"
local ffi = require "ffi"
local C = require("gd.ffi").C

local G = dofile("spec/golden/optim_skip.lua")

local function member(list, v)
  for _, x in ipairs(list) do if x == v then return true end end
  return false
end

-- gd's names for PyTorch's (flavor "pytorch" takes these keyword names)
local CLASS = {SGD = "SGD", Adam = "Adam", AdamW = "AdamW", RMSprop = "RMSprop", Adagrad = "Adagrad"}

local function replay(case)
  local p1 = gd.tensor(G.x1, {dtype = "float64"})
  local p2 = gd.tensor(G.x2, {dtype = "float64"})
  local hyper = {}
  for k, v in pairs(case.hyper) do hyper[k] = v end
  local opt = gd.optim[CLASS[case.optimizer]]({p1, p2}, hyper)
  -- the gradients live apart from the parameters' .grad, as autograd's do
  local g1, g2 = gd.zeros(3, {dtype = "float64"}), gd.zeros(2, {dtype = "float64"})
  p1.grad:fill_(1e6)   -- what the step must not read
  p2.grad:fill_(1e6)
  local grads = ffi.new("gd_tensor*[2]")
  local worst = 0
  for t = 1, G.steps do
    local x = {p1:get(1), p1:get(2), p1:get(3), p2:get(1), p2:get(2)}
    for j = 1, 5 do
      local g = 0.5 * x[j] + 0.1 * math.sin(t * j)
      if j <= 3 then g1:set(j, g) else g2:set(j - 3, g) end
    end
    grads[0] = g1.c
    grads[1] = g2.c
    if member(G.skip1, t) then grads[0] = nil end
    if member(G.skip2, t) then grads[1] = nil end
    assert(C.gd_optim_step_grads(opt._c[1], opt._h[1], grads) == 0, ffi.string(C.gd_last_error()))
    local want = case.traj[t]
    local got = {p1:get(1), p1:get(2), p1:get(3), p2:get(1), p2:get(2)}
    for j = 1, 5 do
      local err = math.abs(got[j] - want[j]) / math.max(1, math.abs(want[j]))
      worst = math.max(worst, err)
      assert(err < 1e-12, string.format("%s step %d element %d: %.17g, PyTorch %.17g", case.optimizer, t, j,
                                        got[j], want[j]))
    end
  end
  return worst
end

describe("gd_optim_step_grads", function()
  for _, case in ipairs(G.cases) do
    it(string.format("matches PyTorch's %s with skipped parameters (catches: %s)", case.optimizer, case.catches),
       function() replay(case) end)
  end

  it("reads the gradients handed to it, not the parameters' .grad", function()
    local p = gd.tensor({1, 2}, {dtype = "float64"})
    local opt = gd.optim.SGD({p}, {lr = 0.5})
    p.grad:fill_(100)
    local g = gd.tensor({2, 4}, {dtype = "float64"})
    local grads = ffi.new("gd_tensor*[1]", {g.c})
    assert.equal(0, C.gd_optim_step_grads(opt._c[1], opt._h[1], grads))
    assert.are.same({0, 0}, p:totable())
    -- and opt:step() still reads .grad
    opt:step()
    assert.are.same({-50, -50}, p:totable())
  end)

  it("changes nothing when every parameter is skipped", function()
    local p = gd.tensor({1, 2}, {dtype = "float64"})
    local opt = gd.optim.Adam({p}, {lr = 0.5, weight_decay = 0.1})
    local grads = ffi.new("gd_tensor*[1]")
    assert.equal(0, C.gd_optim_step_grads(opt._c[1], opt._h[1], grads))
    assert.are.same({1, 2}, p:totable())
    assert.equal(0, tonumber(C.gd_optim_get_step(opt._c[1])))
  end)

  -- catches: state_dict() writing the group's step count for every parameter
  -- (a parameter skipped before the checkpoint resumed with the others'
  -- bias correction), or load_state_dict refusing counts that differ
  it("keeps each parameter's step count through state_dict, gd.save/gd.load and load_state_dict", function()
    local function setup()
      local a = gd.tensor({1, -2, 3}, {dtype = "float64"})
      local b = gd.tensor({0.5, 4}, {dtype = "float64"})
      return a, b, gd.optim.Adam({a, b}, {lr = 0.1, weight_decay = 0.01})
    end
    local grads = ffi.new("gd_tensor*[2]")
    local function run(a, b, opt, from, to)
      for t = from, to do
        local ga = a * 0.5 + math.sin(t)      -- depends on the parameters: a wrong step shows later too
        local gb = b * 0.5 + math.cos(t)
        grads[0] = ga.c
        grads[1] = gb.c
        if t == 2 or t == 3 then grads[1] = nil end     -- b gets no gradient at steps 2 and 3
        assert(C.gd_optim_step_grads(opt._c[1], opt._h[1], grads) == 0, ffi.string(C.gd_last_error()))
      end
    end
    local a, b, opt = setup()
    run(a, b, opt, 1, 6)
    local a2, b2, opt2 = setup()
    run(a2, b2, opt2, 1, 4)
    local sd = opt2:state_dict()
    assert.equal(4, sd.state[1].step)
    assert.equal(2, sd.state[2].step)
    local path = os.tmpname()
    gd.save(path, sd)
    local loaded = gd.load(path)
    os.remove(path)
    local a3, b3 = a2:clone(), b2:clone()
    local opt3 = gd.optim.Adam({a3, b3}, {lr = 0.1, weight_decay = 0.01})
    opt3:load_state_dict(loaded)
    assert.equal(4, opt3:steps())
    run(a3, b3, opt3, 5, 6)
    -- bitwise: the same operations in the same order as the uninterrupted run
    assert.are.same(a:totable(), a3:totable())
    assert.are.same(b:totable(), b3:totable())
    assert.equal(4, opt3:state_dict().state[2].step)
  end)

  it("refuses a handed gradient of the wrong shape, and ASGD's shared state with a skip", function()
    local p, q = gd.zeros(2, {dtype = "float64"}), gd.zeros(2, {dtype = "float64"})
    local opt = gd.optim.SGD({p}, {lr = 0.5})
    local bad = gd.zeros(3, {dtype = "float64"})
    assert.is_true(C.gd_optim_step_grads(opt._c[1], opt._h[1], ffi.new("gd_tensor*[1]", {bad.c})) ~= 0)
    assert.matches("gradient of parameter 1 no longer matches it", ffi.string(C.gd_last_error()))
    local asgd = gd.optim.ASGD({p, q}, {lr = 0.1})
    local g = gd.ones(2, {dtype = "float64"})
    local half = ffi.new("gd_tensor*[2]")   -- (an initializer of one element would fill both)
    half[0] = g.c
    assert.is_true(C.gd_optim_step_grads(asgd._c[1], asgd._h[1], half) ~= 0)
    assert.matches("ASGD: parameters without a gradient this step %(skipped%) are not supported",
                   ffi.string(C.gd_last_error()))
    assert.are.same({0, 0}, p:totable())
  end)
end)

describe("gd.optim's lookup of gd.dist", function()
  -- catches: a failed require "gd.dist" (under mpirun without the MPI engine)
  -- leaves LuaJIT's loading sentinel in package.loaded; gd.optim took it for
  -- the module and every step raised "attempt to index a number value".  Run in a fresh host: this process may have loaded gd.dist already.
  it("ignores LuaJIT's loading sentinel of a failed require, and steps", function()
    local GDLUA = os.getenv("GDLUA") or "build/bin/gdlua"
    local script = table.concat({
      "package.preload['gd.dist'] = function() error('no MPI engine here') end",
      "local ok = pcall(require, 'gd.dist')",
      -- (LuaJIT 2.1's sentinel is a light userdata that type() reports as a number)
      "local s = package.loaded['gd.dist']",
      "assert(not ok and s ~= nil and type(s) ~= 'table', 'no sentinel left: ' .. type(s))",
      "local gd = require 'gd'",
      "local x = gd.tensor({1, 2}, {dtype = 'float64'})",
      "local opt = gd.optim.SGD({x}, {lr = 0.5})",
      "x.grad:fill_(1)",
      "opt:step()",
      "io.write(x:get(1), ' ', x:get(2))",
    }, "\n")
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(script)
    f:close()
    local p = io.popen(GDLUA .. " " .. path .. " 2>&1")
    local out = p:read("*a")
    p:close()
    os.remove(path)
    assert.are.equal("0.5 1.5", out)
  end)
end)
