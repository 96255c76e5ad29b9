-- Specs of gd.optim.torch7 (Torch7's functional optimizers, `require "optim"`):
-- every optimizer replays spec/golden/torch7_optim.lua, written by
-- scripts/golden/torch7_optim.lua from torch/optim's sources element by element
-- (no code shared with gdlua), in float64 within 1e-9 relative per step; each
-- case's `catches` field names the wrong reading of Torch7 it separates
-- (epsilon inside/outside, decay timing, the look-ahead point, ...).  Then
-- Torch7's calling conventions (state in config, return values, the caller's
-- gradient changed in place) and bad input.
local gd = require "gd"
local G = dofile("spec/golden/torch7_optim.lua")
local optim = gd.optim.torch7

local function quadratic(t)
  -- f and df/dx from Lua numbers, in the generator's order of operations
  return function(x)
    local xs = x:totable()
    local f, g = 0, {}
    for i = 1, #xs do
      local d = xs[i] - G.c[i]
      f = f + 0.5 * G.h[i] * d * d
      g[i] = G.h[i] * d + 0.1 * math.sin(t * i)
    end
    return f, gd.tensor(g, {dtype = "float64"})
  end
end

local function rosenbrock(x)
  local xs = x:totable()
  local f, g = 0, {}
  for k = 1, #xs / 2 do
    local a, b = xs[2 * k - 1], xs[2 * k]
    local u, w = b - a * a, 1 - a
    f = f + 100 * u * u + w * w
    g[2 * k - 1] = -400 * a * u - 2 * w
    g[2 * k] = 200 * u
  end
  return f, gd.tensor(g, {dtype = "float64"})
end

local function config_of(case)
  local c = {}
  for k, v in pairs(case.config) do
    if type(v) == "table" and #v > 0 then v = gd.tensor(v, {dtype = "float64"}) end
    if v == "lswolfe" then v = optim.lswolfe end
    c[k] = v
  end
  return c
end

local function rel(a, b) return math.abs(a - b) / math.max(1, math.abs(b)) end

describe("gd.optim.torch7", function()
  it("is what require 'optim' gives inside gdlua", function()
    assert.are.equal(optim, require("optim"))
    for _, name in ipairs {"sgd", "adagrad", "rmsprop", "adam", "adamax", "adadelta", "nag", "asgd", "rprop",
                           "cg", "lbfgs", "lswolfe"} do
      assert.is_function(optim[name], name)
      assert.is_string(gd.doc.lookup(optim[name]), name .. " has a docstring")
    end
  end)

  for _, case in ipairs(G.cases) do
    -- catches: case.catches (printed in the test name)
    it(("replays Torch7's %s (%s) within 1e-9: catches %s"):format(case.optimizer, case.name, case.catches), function()
      local rosen = case.problem == "rosenbrock"
      local x = gd.tensor(rosen and G.rx0 or G.x0, {dtype = "float64"})
      local config = config_of(case)
      for t = 1, case.steps do
        local x2, fh, third = optim[case.optimizer](rosen and rosenbrock or quadratic(t), x, config)
        assert.are.equal(x, x2, "returns x itself")
        assert.is_table(fh)
        for i = 1, #G.x0 do
          local e = rel(x:get(i), case.traj[t][i])
          if e > 1e-9 then
            error(("step %d, x[%d] = %.17g, Torch7 %.17g (rel %.3g)"):format(t, i, x:get(i), case.traj[t][i], e))
          end
        end
        if case.f then
          assert.are.equal(#case.f[t], #fh, "number of f values at step " .. t)
          for k = 1, #fh do assert.is_true(rel(fh[k], case.f[t][k]) < 1e-9, "f value " .. k .. " at step " .. t) end
        end
        if case.evals then assert.are.equal(case.evals[t], third, "evaluations at step " .. t) end
        if case.ax then
          for i = 1, #G.x0 do assert.is_true(rel(third:get(i), case.ax[t][i]) < 1e-9, "ax at step " .. t) end
        end
      end
    end)
  end

  -- The object API's torch7 flavor of Adam and AdaDelta (one fused step)
  -- against the same Torch7 trajectories.  Catches: PyTorch's eps after the
  -- bias-corrected root, or a learning rate in Torch7's AdaDelta.
  for _, c in ipairs {{"adam lrdecay eps 0.1", "Adam"}, {"adadelta eps 0.1", "AdaDelta"}} do
    it(("gd.optim.%s{flavor = 'torch7'} replays Torch7's %s"):format(c[2], c[1]), function()
      local case
      for _, k in ipairs(G.cases) do if k.name == c[1] then case = k end end
      local x = gd.tensor(G.x0, {dtype = "float64"})
      local hyper = {flavor = "torch7"}
      for k, v in pairs(case.config) do hyper[k] = v end
      local opt = gd.optim[c[2]]({x}, hyper)
      for t = 1, case.steps do
        local _, g = quadratic(t)(x)
        x.grad:copy_(g)
        opt:step()
        for i = 1, #G.x0 do
          assert.is_true(rel(x:get(i), case.traj[t][i]) < 1e-9, ("step %d x[%d]"):format(t, i))
        end
      end
    end)
  end

  it("keeps the state in config when state is nil, and in state when given", function()
    local x = gd.tensor(G.x0, {dtype = "float64"})
    local config = {learningRate = 0.1}
    optim.adam(quadratic(1), x, config)
    assert.are.equal(1, config.t)
    assert.is_true(gd.is_tensor(config.m))
    local cfg, st = {learningRate = 0.1}, {}
    optim.adam(quadratic(1), x, cfg, st)
    assert.is_nil(cfg.t)
    assert.are.equal(1, st.t)
    -- asgd writes its defaults into config, as Torch7 does
    local ac = {}
    optim.asgd(quadratic(1), x, ac)
    assert.are.equal(1e-4, ac.eta0)
    assert.are.equal(1e6, ac.t0)
  end)

  it("adds weight decay into the caller's gradient tensor, as Torch7 does", function()
    -- catches: a copy of dfdx (Torch7 scripts that read gradParameters after
    -- optim.sgd see the decayed gradient)
    local x = gd.tensor({1, 2}, {dtype = "float64"})
    local g = gd.tensor({0.5, 0.5}, {dtype = "float64"})
    optim.sgd(function() return 0, g end, x, {learningRate = 0.1, weightDecay = 0.5})
    assert.are.same({1.0, 1.5}, g:totable())
    assert.is_true(math.abs(x:get(1) - 0.9) < 1e-15 and math.abs(x:get(2) - 1.85) < 1e-15)
  end)

  it("works on float32 parameters within float32 rounding", function()
    local x = gd.tensor(G.x0, {dtype = "float32"})
    local ref = G.cases[1]
    local config = config_of(ref)
    for t = 1, ref.steps do
      optim.sgd(function(p)
        local f, g = quadratic(t)(p:to("float64"))
        return f, g:to("float32")
      end, x, config)
    end
    for i = 1, #G.x0 do assert.is_true(rel(x:get(i), ref.traj[ref.steps][i]) < 1e-4) end
  end)

  describe("refuses bad input with the function's name", function()
    local x = gd.tensor({1, 2}, {dtype = "float64"})
    local good = function() return 1, gd.tensor({1, 1}, {dtype = "float64"}) end
    local cases = {
      {function() optim.sgd(nil, x, {}) end, "gd.optim.torch7.sgd: argument 1 %(opfunc%) must be a function"},
      {function() optim.sgd(good, {1, 2}, {}) end, "gd.optim.torch7.sgd: argument 2 %(x%) must be a tensor"},
      {function() optim.adam(good, x, 5) end, "gd.optim.torch7.adam: argument 3 %(config%) must be a table"},
      {function() optim.adam(good, x, {}, "s") end, "argument 4 %(state%) must be a table"},
      {function() optim.rmsprop(good, x, {learningRate = "big"}) end, "config.learningRate must be a finite number"},
      {function() optim.rmsprop(good, x, {alpha = 0 / 0}) end, "config.alpha must be a finite number"},
      {function() optim.sgd(good, x, {learningrate = 0.1}) end, "unknown config key 'learningrate' %(did you mean 'learningRate'%?%)"},
      {function() optim.sgd(good, x, {nesterov = true, momentum = 0.9}) end, "Nesterov momentum requires a momentum and zero dampening"},
      {function() optim.nag(good, x, {momentum = 0}) end, "Momentum must be positive"},
      {function() optim.sgd(function() return "f", x end, x, {}) end, "opfunc must return f%(x%) %(a number%) first"},
      {function() optim.sgd(function() return 1, 2 end, x, {}) end, "opfunc must return df/dx %(a tensor%) second"},
      {function() optim.sgd(function() return 1, gd.zeros(3, {dtype = "float64"}) end, x, {}) end, "does not match x"},
      {function() optim.adam(good, x, {m = gd.zeros(5)}) end, "state.m is not a tensor of 2 elements"},
      {function() optim.lbfgs(good, x, {lineSearch = "wolfe"}) end, "config.lineSearch must be a function"},
      {function() optim.rprop(good, x, {niter = 0}) end, "config.niter must be an integer >= 1"},
      {function() optim.sgd(good, gd.tensor({1, 2}, {dtype = "int64"}), {}) end, "must be a float32 or float64 tensor"},
    }
    for i, c in ipairs(cases) do
      it("case " .. i .. ": " .. c[2], function()
        local before = x:totable()
        local ok, err = pcall(c[1])
        assert.is_false(ok)
        assert.matches("gd.optim.torch7", tostring(err))
        assert.matches(c[2], tostring(err))
        assert.are.same(before, x:totable(), "x unchanged")
      end)
    end
  end)
end)
