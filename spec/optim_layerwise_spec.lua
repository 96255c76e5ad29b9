-- Specs of LAMB, LARS, Adafactor and Muon: each replays spec/golden/layerwise_optim.lua,
-- written by scripts/golden/layerwise_optim.py from the reference implementation
-- (PyTorch code in float64), on three parameters (4x3, 3x5, 4) within 1e-9
-- relative, with an lr change after step 10.  `catches` in each case names the
-- convention it separates (a per-tensor vs per-arena norm, the factored moments,
-- the transpose of tall matrices in Newton-Schulz, ...).
local gd = require "gd"
local G = dofile("spec/golden/layerwise_optim.lua")

local function rel(a, b) return math.abs(a - b) / math.max(1, math.abs(b)) end

local function params()
  local ps = {}
  for n, shape in ipairs(G.shapes) do
    ps[n] = gd.tensor(G.p0[n], {dtype = "float64"}):view(shape)
  end
  return ps
end

local function set_grads(ps, t)
  for n, p in ipairs(ps) do
    local flat = p.grad:view(p:numel())
    local pf = p:contiguous():view(p:numel())
    for k = 1, p:numel() do
      flat:set(k, G.h[n][k] * (pf:get(k) - G.c[n][k]) + 0.1 * math.sin(t * k))
    end
  end
end

local function replay(case)
  local ps = params()
  local opt = gd.optim[case.optimizer](ps, case.hyper)
  for t = 1, G.steps do
    if t == G.lr_change_after + 1 then
      for k, v in pairs(case.change) do opt.hyper[k] = v end
    end
    set_grads(ps, t)
    opt:step()
    local ref = case.traj[t]
    if ref then
      for n, p in ipairs(ps) do
        local pf = p:contiguous():view(p:numel())
        for k = 1, p:numel() do
          local e = rel(pf:get(k), ref[n][k])
          if e > 1e-9 then
            error(("step %d, parameter %d[%d] = %.17g, reference %.17g (rel %.3g)"):format(t, n, k, pf:get(k), ref[n][k], e))
          end
        end
      end
    end
  end
  return ps, opt
end

describe("layer-wise optimizers", function()
  for _, case in ipairs(G.cases) do
    it(("%s matches its reference within 1e-9 (catches: %s)"):format(case.name, case.catches), function()
      replay(case)
    end)
  end

  it("state_dict -> load_state_dict continues with the same bits", function()
    for _, case in ipairs(G.cases) do
      local a = params()
      local oa = gd.optim[case.optimizer](a, case.hyper)
      for t = 1, 4 do set_grads(a, t); oa:step() end
      local b = {}
      for n, p in ipairs(a) do b[n] = p:clone() end
      local ob = gd.optim[case.optimizer](b, case.hyper)
      ob:load_state_dict(oa:state_dict())
      for t = 5, 8 do set_grads(a, t); oa:step(); set_grads(b, t); ob:step() end
      for n = 1, #a do assert.are.same(a[n]:totable(), b[n]:totable(), case.name) end
    end
  end)

  it("refuses bad input with the optimizer's name and changes nothing", function()
    local w = gd.tensor({{1, 2}, {3, 4}}, {dtype = "float64"})
    local cases = {
      {"LAMB", {w}, {betas = {0.9}}, "betas must be a table of two numbers"},
      {"LAMB", {w}, {lr = -1}, "lr must be a finite number >= 0"},
      {"LARS", {w}, {nesterov = true}, "Nesterov momentum requires a momentum and zero dampening"},
      {"Adafactor", {w}, {lr = 0.1}, "cannot combine a manual lr and relative_step = true"},
      {"Adafactor", {w}, {relative_step = false}, "lr is required when relative_step = false"},
      {"Muon", {w}, {ns_steps = 0}, "ns_steps must be an integer >= 1"},
      {"Muon", {w}, {learning_rate = 0.1}, "unknown hyperparameter 'learning_rate'"},
      {"LAMB", {}, nil, "optimizer got an empty parameter list"},
      {"LARS", {w, w}, nil, "some parameters appear in more than one parameter group"},
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(gd.optim[c[1]], c[2], c[3])
      assert.is_false(ok, c[4])
      assert.matches("gd.optim." .. c[1], err)
      assert.matches(c[4], err, 1, true)
    end
    local opt = gd.optim.LAMB({w}, {lr = 0.1})
    local ok, err = pcall(function() opt.hyper.lr = 0 / 0 end)
    assert.is_false(ok)
    assert.matches("lr is NaN", err)
    assert.are.equal(0.1, opt.hyper.lr)
    ok, err = pcall(function() opt.hyper.betaz = 0.5 end)
    assert.is_false(ok)
    assert.matches("gd.optim.LAMB: unknown hyperparameter 'betaz'", err)
    -- a group check that fails on assignment leaves every group as it was
    local a = gd.optim.Adafactor({w}, {relative_step = false, lr = 0.1})
    ok, err = pcall(function() a.hyper.relative_step = true end)
    assert.is_false(ok)
    assert.matches("cannot combine a manual lr", err)
    assert.is_false(a.hyper.relative_step)
  end)
end)
