-- Specs of gd.optim: every golden trajectory, d2l's published numbers, every
-- flavor against a reference written from that system's source, bad input,
-- state_dict round trips, parameter groups, schedules and clipping.
local gd = require "gd"

local files = require "spec.support.files"
local readable = files.exists

-- The golden problem: g[i] = h[i]*(x[i]-c[i]) + 0.1*sin(t*i).
local function golden_grad(G, x, t)
  for i = 1, #G.x0 do x.grad:set(i, G.h[i] * (x:get(i) - G.c[i]) + 0.1 * math.sin(t * i)) end
end

local function case_hyper(case)
  local h = {}
  for k, v in pairs(case.hyper) do h[k] = v end
  if case.flavor then h.flavor = case.flavor end
  return h
end

--- Replays a golden case; returns the worst relative error per step and x.
-- With emulate32, the run is in float64 but x, its gradient and the state are
-- rounded to float32 after each change: what float32 storage does to exact math.
local function replay(G, case, dtype, emulate32)
  local x = gd.tensor(G.x0, {dtype = dtype})
  local opt = gd.optim[case.torch or case.optimizer]({x}, case_hyper(case))
  local function round32(t) t:copy_(t:to("float32")) end
  if emulate32 then round32(x) end
  local errs, xs = {}, {}
  for t = 1, G.steps do
    golden_grad(G, x, t)
    if emulate32 then round32(x.grad) end
    opt:step()
    if emulate32 then
      round32(x)
      for _, st in pairs(opt:state_dict().state[1]) do
        if gd.is_tensor(st) then round32(st) end
      end
    end
    local worst = 0
    for i = 1, #G.x0 do
      local r = case.traj[t][i]
      local e = math.abs(x:get(i) - r) / math.max(1, math.abs(r))
      if e > worst then worst = e end
    end
    errs[t] = worst
    xs[t] = x:totable()
  end
  return errs, xs
end

local function describe_golden(file)
  local path = files.shared("golden/" .. file)
  describe("golden " .. file, function()
    if not readable(path) then
      pending("needs " .. path)
      return
    end
    local G = dofile(path)
    for _, case in ipairs(G.cases) do
      local label = (case.torch or case.optimizer) .. " " .. (case.flavor or "pytorch") .. " "
        .. string.format("%q", tostring(gd.doc and "") or ""):sub(1, 0)
      local keys = {}
      for k, v in pairs(case.hyper) do
        keys[#keys + 1] = k .. "=" .. (type(v) == "table" and "{" .. table.concat(v, ",") .. "}" or tostring(v))
      end
      table.sort(keys)
      label = label .. table.concat(keys, " ")
      it("matches " .. label .. " in float64, every step within 1e-9", function()
        local errs = replay(G, case, "float64")
        for t, e in ipairs(errs) do
          assert(e <= 1e-9, string.format("step %d: relative error %.3g", t, e))
        end
      end)
      it("matches " .. label .. " in float32 within 1e-5", function()
        local errs = replay(G, case, "float32")
        -- what float32 storage alone does: float64 math, values rounded to
        -- float32 as they are stored.  Where that departs more than 1e-5 from
        -- the float64 reference (a chaotic case, d2l's lr 0.4), no float32 run
        -- can follow it further, and the claim holds up to that step.
        local inherent = replay(G, case, "float64", true)
        local last = G.steps
        for t = 1, G.steps do
          if inherent[t] > 1e-5 then last = t - 1 break end
        end
        if last < G.steps then
          print(string.format("\n  note: %s: float32 storage alone departs %.2g from the float64 reference at "
            .. "step %d; float32 checked up to step %d", label, inherent[last + 1], last + 1, last))
        end
        for t = 1, last do
          assert(errs[t] <= 1e-5, string.format("step %d: relative error %.3g", t, errs[t]))
        end
      end)
    end
  end)
end

describe_golden("torch_optim.lua")
describe_golden("flavors.lua")

describe("d2l's 2-D runs (f = 0.1*x1^2 + 2*x2^2 from {-5, -2}, 20 steps)", function()
  local function run(name, hyper)
    local x = gd.tensor({-5, -2}, {dtype = "float64"})
    local opt = gd.optim[name]({x}, hyper)
    local losses = {}
    for _ = 1, 20 do
      losses[#losses + 1] = opt:step(function()
        x.grad:set(1, 0.2 * x:get(1))
        x.grad:set(2, 4 * x:get(2))
        return 0.1 * x:get(1) ^ 2 + 2 * x:get(2) ^ 2
      end)
    end
    return string.format("%f %f", x:get(1), x:get(2)), losses
  end
  it("RMSProp (d2l, lr 0.4, gamma 0.9) ends at -0.010599 0.000000", function()
    assert.are.equal("-0.010599 0.000000", (run("RMSProp", {flavor = "d2l", lr = 0.4, gamma = 0.9})))
  end)
  it("AdaGrad (d2l, lr 0.4) ends at -2.382563 -0.158591", function()
    assert.are.equal("-2.382563 -0.158591", (run("AdaGrad", {flavor = "d2l", lr = 0.4})))
  end)
  it("AdaGrad (d2l, lr 2) ends at -0.002295 -0.000000", function()
    assert.are.equal("-0.002295 -0.000000", (run("AdaGrad", {flavor = "d2l", lr = 2})))
  end)
  it("step returns the closure's loss", function()
    local _, losses = run("RMSProp", {flavor = "d2l", lr = 0.4, gamma = 0.9})
    assert.are.equal(0.1 * 25 + 2 * 4, losses[1])
    assert.is_true(losses[20] < losses[1])
  end)
  it("the aliases RMSprop and Adagrad are the same optimizers", function()
    assert.are.equal(run("RMSprop", {flavor = "d2l", lr = 0.4, gamma = 0.9}),
      run("RMSProp", {flavor = "d2l", lr = 0.4, gamma = 0.9}))
    assert.are.equal(run("Adagrad", {flavor = "d2l", lr = 0.4}), run("AdaGrad", {flavor = "d2l", lr = 0.4}))
  end)
end)

-- ---------------------------------------------------------------------------
-- Flavors without golden files: an independent float64 reference per system,
-- written from its source, on the same problem as the golden files.
local P = {
  h = {1.5, 0.7, 3.1, 2.2}, c = {0.3, -1.2, 0.8, 0.1}, x0 = {2.0, -0.5, -1.5, 3.0}, steps = 40,
}
local function ref_grad(x, t)
  local g = {}
  for i = 1, #x do g[i] = P.h[i] * (x[i] - P.c[i]) + 0.1 * math.sin(t * i) end
  return g
end

--- Runs the reference `update(x, g, state, t)` and gdlua side by side.
local function compare(name, hyper, update, dtype)
  local x = gd.tensor(P.x0, {dtype = dtype or "float64"})
  local opt = gd.optim[name]({x}, hyper)
  local ref = {unpack(P.x0)}
  local state = {}
  local worst = 0
  for t = 1, P.steps do
    local g = ref_grad(ref, t)
    ref = update(ref, g, state, t)
    local gx = ref_grad(x:totable(), t)
    x.grad:copy_(gd.tensor(gx, {dtype = dtype or "float64"}))
    opt:step()
    for i = 1, #ref do
      local e = math.abs(x:get(i) - ref[i]) / math.max(1, math.abs(ref[i]))
      if e > worst then worst = e end
    end
  end
  return worst
end

local function zeros(s, k, v) s[k] = s[k] or {0, 0, 0, 0}; if v then for i = 1, 4 do s[k][i] = v end end; return s[k] end

describe("RMSProp flavors against references from their sources", function()
  it("graves: centered, eps inside, momentum with lr inside (Graves 2013 eq. 38-41)", function()
    local e = compare("RMSProp", {flavor = "graves", learnRate = 0.01, alpha = 0.95, momRate = 0.9, epsilon = 1e-4},
      function(x, g, s, t)
        local n, gm, d = zeros(s, "n"), zeros(s, "gm"), zeros(s, "d")
        for i = 1, 4 do
          n[i] = 0.95 * n[i] + 0.05 * g[i] ^ 2
          gm[i] = 0.95 * gm[i] + 0.05 * g[i]
          d[i] = 0.9 * d[i] - 0.01 * g[i] / math.sqrt(n[i] - gm[i] ^ 2 + 1e-4)
          x[i] = x[i] + d[i]
        end
        return x
      end)
    assert.is_true(e < 1e-12, e)
  end)
  it("tf1: mean square starts at 1, eps inside, lr inside the momentum", function()
    local e = compare("RMSProp", {flavor = "tf1", learning_rate = 0.01, decay = 0.9, momentum = 0.5},
      function(x, g, s, t)
        if not s.ms then s.ms = {1, 1, 1, 1} end
        local mom = zeros(s, "mom")
        for i = 1, 4 do
          s.ms[i] = s.ms[i] + (g[i] ^ 2 - s.ms[i]) * (1 - 0.9)
          mom[i] = 0.5 * mom[i] + 0.01 * g[i] / math.sqrt(s.ms[i] + 1e-10)
          x[i] = x[i] - mom[i]
        end
        return x
      end)
    -- TF writes ms + (g^2 - ms)*(1 - decay): the same value rounded differently
    assert.is_true(e < 1e-9, e)
  end)
  it("tf1 centered: sqrt(ms - mg^2 + eps)", function()
    local e = compare("RMSProp", {flavor = "tf1", learning_rate = 0.01, centered = true},
      function(x, g, s, t)
        if not s.ms then s.ms = {1, 1, 1, 1} end
        local mg = zeros(s, "mg")
        for i = 1, 4 do
          s.ms[i] = 0.9 * s.ms[i] + 0.1 * g[i] ^ 2
          mg[i] = 0.9 * mg[i] + 0.1 * g[i]
          x[i] = x[i] - 0.01 * g[i] / math.sqrt(s.ms[i] - mg[i] ^ 2 + 1e-10)
        end
        return x
      end)
    assert.is_true(e < 1e-9, e)
  end)
  it("optax: bias correction, eps outside the root when eps_in_sqrt = false, Nesterov trace", function()
    local e = compare("RMSProp", {flavor = "optax", learning_rate = 0.02, decay = 0.8, eps = 1e-3,
      eps_in_sqrt = false, bias_correction = true, momentum = 0.6, nesterov = true},
      function(x, g, s, t)
        local nu, tr = zeros(s, "nu"), zeros(s, "tr")
        for i = 1, 4 do
          nu[i] = 0.8 * nu[i] + 0.2 * g[i] ^ 2
          local nu_hat = nu[i] / (1 - 0.8 ^ t)
          local u = -0.02 * g[i] / (math.sqrt(nu_hat) + 1e-3)  -- scale_by_rms, then -lr
          tr[i] = u + 0.6 * tr[i]                                -- optax.trace
          x[i] = x[i] + (u + 0.6 * tr[i])                        -- nesterov
        end
        return x
      end)
    assert.is_true(e < 1e-12, e)
  end)
  it("optax: initial_scale starts the second moment", function()
    local e = compare("RMSProp", {flavor = "optax", learning_rate = 0.01, initial_scale = 0.5},
      function(x, g, s, t)
        if not s.nu then s.nu = {0.5, 0.5, 0.5, 0.5} end
        for i = 1, 4 do
          s.nu[i] = 0.9 * s.nu[i] + 0.1 * g[i] ^ 2
          x[i] = x[i] - 0.01 * g[i] / math.sqrt(s.nu[i] + 1e-8)
        end
        return x
      end)
    assert.is_true(e < 1e-12, e)
  end)
  it("downhill with nesterov: p += mu*vel - lr*g/rms", function()
    local a = math.exp(-math.log(2) / 5)
    local e = compare("RMSProp", {flavor = "downhill", learning_rate = 0.01, rms_halflife = 5, momentum = 0.8,
      nesterov = true}, function(x, g, s, t)
        local g1, g2, v = zeros(s, "g1"), zeros(s, "g2"), zeros(s, "v")
        for i = 1, 4 do
          g1[i] = a * g1[i] + (1 - a) * g[i]
          g2[i] = a * g2[i] + (1 - a) * g[i] ^ 2
          local step = -0.01 * g[i] / math.sqrt(g2[i] - g1[i] ^ 2 + 1e-8)
          v[i] = 0.8 * v[i] + step
          x[i] = x[i] + 0.8 * v[i] + step
        end
        return x
      end)
    assert.is_true(e < 1e-12, e)
  end)
  it("mxnet centered (rmspropalex): gamma2 is the momentum, with wd, rescale_grad and clip_gradient", function()
    local e = compare("RMSProp", {flavor = "mxnet", learning_rate = 0.01, gamma1 = 0.9, gamma2 = 0.8, centered = true,
      wd = 0.01, rescale_grad = 0.5, clip_gradient = 1.0}, function(x, g, s, t)
        local n, gg, d = zeros(s, "n"), zeros(s, "g"), zeros(s, "d")
        for i = 1, 4 do
          local gr = math.max(-1, math.min(1, 0.5 * g[i] + 0.01 * x[i])) -- MXNet clips after adding wd*w
          n[i] = 0.1 * gr ^ 2 + 0.9 * n[i]
          gg[i] = 0.1 * gr + 0.9 * gg[i]
          d[i] = 0.8 * d[i] - 0.01 * gr / math.sqrt(n[i] - gg[i] ^ 2 + 1e-8)
          x[i] = x[i] + d[i]
        end
        return x
      end)
    assert.is_true(e < 1e-12, e)
  end)
  it("keras: weight_decay is decoupled (p -= p*wd*lr before the update)", function()
    local e = compare("RMSProp", {flavor = "keras", learning_rate = 0.01, weight_decay = 0.1},
      function(x, g, s, t)
        local v = zeros(s, "v")
        for i = 1, 4 do
          x[i] = x[i] - x[i] * 0.1 * 0.01
          v[i] = 0.9 * v[i] + 0.1 * g[i] ^ 2
          x[i] = x[i] - 0.01 * g[i] / math.sqrt(v[i] + 1e-7)
        end
        return x
      end)
    assert.is_true(e < 1e-12, e)
  end)
  it("pytorch with maximize ascends", function()
    local e = compare("RMSProp", {lr = 0.01, maximize = true}, function(x, g, s, t)
      local v = zeros(s, "v")
      for i = 1, 4 do
        v[i] = 0.99 * v[i] + 0.01 * g[i] ^ 2
        x[i] = x[i] + 0.01 * g[i] / (math.sqrt(v[i]) + 1e-8)
      end
      return x
    end)
    assert.is_true(e < 1e-12, e)
  end)
end)

describe("other optimizers' flavors against their sources", function()
  it("AdaGrad torch7: learningRateDecay and weightDecay", function()
    local e = compare("AdaGrad", {flavor = "torch7", learningRate = 0.1, learningRateDecay = 0.05, weightDecay = 0.01},
      function(x, g, s, t)
        local v = zeros(s, "v")
        local clr = 0.1 / (1 + (t - 1) * 0.05)
        for i = 1, 4 do
          local gr = g[i] + 0.01 * x[i]
          v[i] = v[i] + gr ^ 2
          x[i] = x[i] - clr * gr / (math.sqrt(v[i]) + 1e-10)
        end
        return x
      end)
    assert.is_true(e < 1e-12, e)
  end)
  it("AdaGrad puzzlelib: epsilon 1e-8 outside", function()
    local e = compare("AdaGrad", {flavor = "puzzlelib", learnRate = 0.1}, function(x, g, s, t)
      local v = zeros(s, "v")
      for i = 1, 4 do
        v[i] = v[i] + g[i] ^ 2
        x[i] = x[i] - 0.1 * g[i] / (math.sqrt(v[i]) + 1e-8)
      end
      return x
    end)
    assert.is_true(e < 1e-12, e)
  end)
  it("AdaGrad downhill: regularizer inside, with momentum", function()
    local e = compare("AdaGrad", {flavor = "downhill", learning_rate = 0.1, momentum = 0.5},
      function(x, g, s, t)
        local v, vel = zeros(s, "v"), zeros(s, "vel")
        for i = 1, 4 do
          v[i] = v[i] + g[i] ^ 2
          vel[i] = 0.5 * vel[i] - 0.1 * g[i] / math.sqrt(v[i] + 1e-8)
          x[i] = x[i] + vel[i]
        end
        return x
      end)
    assert.is_true(e < 1e-12, e)
  end)
  it("SGD torch7: dampening defaults to the momentum", function()
    local e = compare("SGD", {flavor = "torch7", learningRate = 0.05, momentum = 0.9}, function(x, g, s, t)
      for i = 1, 4 do
        if t == 1 then s[i] = g[i] else s[i] = 0.9 * s[i] + (1 - 0.9) * g[i] end
        x[i] = x[i] - 0.05 * s[i]
      end
      return x
    end)
    assert.is_true(e < 1e-12, e)
  end)
  it("Adam d2l: eps 1e-6", function()
    local e = compare("Adam", {flavor = "d2l", lr = 0.05}, function(x, g, s, t)
      local m, v = zeros(s, "m"), zeros(s, "v")
      for i = 1, 4 do
        m[i] = 0.9 * m[i] + 0.1 * g[i]
        v[i] = 0.999 * v[i] + 0.001 * g[i] ^ 2
        local mh, vh = m[i] / (1 - 0.9 ^ t), v[i] / (1 - 0.999 ^ t)
        x[i] = x[i] - 0.05 * mh / (math.sqrt(vh) + 1e-6)
      end
      return x
    end)
    assert.is_true(e < 1e-10, e)
  end)
  it("AdaDelta d2l: rho 0.9, eps 1e-5, no learning rate", function()
    local e = compare("AdaDelta", {flavor = "d2l", rho = 0.9}, function(x, g, s, t)
      local v, d = zeros(s, "v"), zeros(s, "d")
      for i = 1, 4 do
        v[i] = 0.9 * v[i] + 0.1 * g[i] ^ 2
        local gp = math.sqrt((d[i] + 1e-5) / (v[i] + 1e-5)) * g[i]
        x[i] = x[i] - gp
        d[i] = 0.9 * d[i] + 0.1 * gp ^ 2
      end
      return x
    end)
    assert.is_true(e < 1e-12, e)
  end)
end)

-- ---------------------------------------------------------------------------
describe("bad hyperparameters", function()
  local x = gd.zeros(3, {dtype = "float64"})
  local function err(f, ...)
    local ok, e = pcall(f, ...)
    assert.is_false(ok)
    return tostring(e)
  end
  it("an unknown name lists the valid ones and suggests the nearest", function()
    local e = err(gd.optim.RMSProp, {x}, {lr = 0.1, alhpa = 0.9})
    assert.matches("gd.optim.RMSProp: unknown hyperparameter 'alhpa' %(did you mean 'alpha'%?%)", e)
    assert.matches("valid hyperparameters: alpha, centered, eps, lr", e)
    e = err(gd.optim.RMSProp, {x}, {flavor = "d2l", lr = 0.4, gama = 0.9})
    assert.matches("did you mean 'gamma'", e)
  end)
  it("the error points at the caller's line", function()
    -- called from a Lua line (not straight from pcall, which has no line)
    local e = err(function() local opt = gd.optim.Adam({x}, {lr = -1}); return opt end)
    assert.matches("optim_spec.lua:%d+: gd.optim.Adam: lr must be a finite number >= 0", e)
  end)
  it("two names for one value are refused", function()
    assert.matches("'alpha' and 'factor' both set alpha", err(gd.optim.RMSProp, {x}, {alpha = 0.9, factor = 0.9}))
    assert.matches("'learning_rate' and 'lr' both set lr",
      err(gd.optim.RMSProp, {x}, {flavor = "keras", learning_rate = 0.1, lr = 0.1}))
  end)
  it("out-of-range values are refused", function()
    assert.matches("lr must be a finite number >= 0", err(gd.optim.SGD, {x}, {lr = -0.1}))
    assert.matches("alpha must be in %[0, 1%)", err(gd.optim.RMSProp, {x}, {alpha = 1}))
    assert.matches("alpha must be in %[0, 1%)", err(gd.optim.RMSProp, {x}, {alpha = -0.1}))
    assert.matches("betas%[2%] = 1 is outside %[0, 1%)", err(gd.optim.Adam, {x}, {betas = {0.9, 1}}))
    assert.matches("eps must be >= 0", err(gd.optim.Adam, {x}, {eps = -1e-8}))
    assert.matches("momentum must be >= 0", err(gd.optim.SGD, {x}, {lr = 0.1, momentum = -0.5}))
    assert.matches("rho must be in %[0, 1%)", err(gd.optim.AdaDelta, {x}, {rho = 1.5}))
    assert.matches("gamma must be in %[0, 1%)", err(gd.optim.RMSProp, {x}, {flavor = "d2l", lr = 1, gamma = 2}))
  end)
  it("NaN anywhere is refused", function()
    local nan = 0 / 0
    assert.matches("lr is NaN", err(gd.optim.SGD, {x}, {lr = nan}))
    assert.matches("eps is NaN", err(gd.optim.RMSProp, {x}, {eps = nan}))
    assert.matches("momentum is NaN", err(gd.optim.RMSProp, {x}, {momentum = nan}))
    assert.matches("weight_decay is NaN", err(gd.optim.Adam, {x}, {weight_decay = nan}))
    assert.matches("outside %[0, 1%)", err(gd.optim.Adam, {x}, {betas = {nan, 0.9}}))
  end)
  it("nesterov needs momentum and no dampening (PyTorch's rules)", function()
    assert.matches("nesterov needs a momentum > 0", err(gd.optim.SGD, {x}, {lr = 0.1, nesterov = true}))
    assert.matches("nesterov needs zero dampening",
      err(gd.optim.SGD, {x}, {lr = 0.1, momentum = 0.9, dampening = 0.1, nesterov = true}))
    assert.matches("nesterov needs a momentum > 0",
      err(gd.optim.RMSProp, {x}, {flavor = "downhill", nesterov = true}))
  end)
  it("flags must be booleans, and unknown flavors are named", function()
    assert.matches("centered must be true or false", err(gd.optim.RMSProp, {x}, {centered = 1}))
    assert.matches("unknown flavor 'pytroch' %(did you mean 'pytorch'%?%)", err(gd.optim.RMSProp, {x}, {flavor = "pytroch"}))
  end)
  it("a flavor refuses what its system does not have", function()
    assert.matches("the graves flavor of RMSProp does not take 'centered'",
      err(gd.optim.RMSProp, {x}, {flavor = "graves", centered = false}))
    assert.matches("the tf1 flavor needs learning_rate", err(gd.optim.RMSProp, {x}, {flavor = "tf1"}))
  end)
  it("changes through opt.hyper are checked too", function()
    local opt = gd.optim.RMSProp({x}, {lr = 0.1})
    assert.matches("lr is NaN", err(function() opt.hyper.lr = 0 / 0 end))
    assert.matches("unknown hyperparameter 'lrr' %(did you mean 'lr'%?%)", err(function() opt.hyper.lrr = 1 end))
    assert.matches("nesterov needs", err(function() opt.hyper.momentum = 0; opt.hyper.nesterov = true end))
    assert.are.equal(0.1, opt.hyper.lr)
  end)
  it("parameters must be float tensors, each listed once", function()
    assert.matches("is a number, not a tensor", err(gd.optim.SGD, {1, 2}, {lr = 0.1}))
    assert.matches("dtype int64", err(gd.optim.SGD, {gd.zeros(2, {dtype = "int64"})}, {lr = 0.1}))
    assert.matches("parameter 2 is the same tensor as parameter 1", err(gd.optim.SGD, {x, x}, {lr = 0.1}))
  end)
end)

describe("bad gradients", function()
  it("a gradient of another shape or dtype cannot be attached", function()
    local x = gd.zeros(3)
    assert.has_error(function() x.grad = gd.zeros(4) end, nil)
    local ok, e = pcall(function() x.grad = gd.zeros(4) end)
    assert.matches("gradient has shape 4 but the tensor has shape 3", e)
    ok, e = pcall(function() x.grad = gd.zeros(3, {dtype = "float64"}) end)
    assert.matches("gradient has dtype float64 but the tensor has dtype float32", e)
  end)
  it("a missing gradient names the parameter, and nothing is modified", function()
    local a, b = gd.ones(2, {dtype = "float64"}), gd.ones(2, {dtype = "float64"})
    local opt = gd.optim.SGD({a, b}, {lr = 0.1})
    a.grad:fill_(1)
    b.grad = nil
    local ok, e = pcall(opt.step, opt)
    assert.is_false(ok)
    assert.matches("parameter 2 has no gradient", e)
    assert.are.same({1, 1}, a:totable())
    assert.are.equal(0, opt:steps())
  end)
  it("a parameter without .grad gets a zero one", function()
    local w = gd.ones(2, 3)
    assert.is_nil(w.grad)
    gd.optim.Adam({w}, {})
    assert.are.same({2, 3}, w.grad.shape)
    assert.are.equal(0, w.grad:abs():sum())
  end)
  it("a CUDA tensor without a GPU is a clear error", function()
    if gd.cuda_available() then pending("a GPU is present") return end
    local ok, e = pcall(gd.zeros, 2, {device = "cuda"})
    assert.is_false(ok)
    assert.matches("no CUDA GPU", e)
  end)
end)

-- ---------------------------------------------------------------------------
describe("state_dict", function()
  local function problem(dtype)
    return gd.tensor({1.5, -2, 0.5, 3, -1, 2}, {dtype = dtype})
  end
  local function run(opt, x, from, to)
    for t = from, to do
      x.grad:copy_(x):mul_(gd.tensor({1, 2, 3, 0.5, 1.5, 2.5}, {dtype = x.dtype})):add_(math.sin(t))
      opt:step()
    end
  end
  local cases = {
    {"RMSProp", {lr = 0.01, centered = true, momentum = 0.9}},
    {"RMSProp", {flavor = "tf1", learning_rate = 0.01, momentum = 0.5}},
    {"AdaGrad", {lr = 0.1, lr_decay = 0.01}},
    {"SGD", {lr = 0.05, momentum = 0.9, nesterov = true}},
    {"Adam", {lr = 0.01, amsgrad = true}},
    {"AdamW", {lr = 0.01}},
    {"AdaDelta", {}},
    {"SMORMS3", {lr = 0.01}},
  }
  for _, c in ipairs(cases) do
    it(c[1] .. " saved, loaded into a fresh optimizer and continued gives the same bits", function()
      local xa = problem("float64")
      local a = gd.optim[c[1]]({xa}, c[2])
      run(a, xa, 1, 30)
      local xb = problem("float64")
      local b = gd.optim[c[1]]({xb}, c[2])
      run(b, xb, 1, 12)
      local path = os.tmpname()
      gd.save(path, {x = xb, opt = b:state_dict()})
      local saved = gd.load(path)
      os.remove(path)
      local xc = saved.x
      local cfresh = gd.optim[c[1]]({xc}, c[2])
      cfresh:load_state_dict(saved.opt)
      assert.are.equal(12, cfresh:steps())
      run(cfresh, xc, 13, 30)
      for i = 1, 6 do
        assert.are.equal(string.format("%.17g", xa:get(i)), string.format("%.17g", xc:get(i)))
      end
    end)
  end
  it("refuses a state of another shape or optimizer", function()
    local x = gd.zeros(3)
    local a = gd.optim.Adam({x}, {})
    a:step()
    local sd = a:state_dict()
    local y = gd.zeros(4)
    local ok, e = pcall(gd.optim.Adam({y}, {}).load_state_dict, gd.optim.Adam({y}, {}), sd)
    assert.is_false(ok)
    assert.matches("has shape 3, the parameter 4", e)
    ok, e = pcall(function() gd.optim.SGD({x}, {lr = 0.1}):load_state_dict(sd) end)
    assert.matches("the state is of Adam, this optimizer is SGD", e)
  end)
end)

describe("parameter groups and arenas", function()
  it("groups take their own hyperparameters over the defaults (biases skip weight decay)", function()
    local w, b = gd.tensor({1, 2}, {dtype = "float64"}), gd.tensor({3}, {dtype = "float64"})
    local opt = gd.optim.SGD({{params = {w}}, {params = {b}, weight_decay = 0}}, {lr = 0.1, weight_decay = 0.5})
    w.grad:fill_(1); b.grad:fill_(1)
    opt:step()
    -- w: 1 - 0.1*(1 + 0.5*1) = 0.85; b: 3 - 0.1*1 = 2.9
    assert.are.same({0.85, 2 - 0.1 * (1 + 0.5 * 2)}, w:totable())
    assert.are.same({2.9}, b:totable())
    assert.are.equal(2, #opt.param_groups)
    assert.are.equal(0, opt.param_groups[2].hyper.weight_decay)
  end)
  it("parameters that are views of one arena update like separate tensors", function()
    local arena = gd.zeros(10, {dtype = "float64"})
    local garena = gd.zeros(10, {dtype = "float64"})
    local p1, p2 = arena:narrow(1, 1, 4):view(2, 2), arena:narrow(1, 5, 6)
    p1.grad, p2.grad = garena:narrow(1, 1, 4):view(2, 2), garena:narrow(1, 5, 6)
    local q1, q2 = gd.zeros(2, 2, {dtype = "float64"}), gd.zeros(6, {dtype = "float64"})
    for i = 1, 10 do arena:set(i, i / 3) end
    q1:copy_(p1); q2:copy_(p2)
    local a = gd.optim.RMSProp({p1, p2}, {lr = 0.01, centered = true, momentum = 0.9})
    local b = gd.optim.RMSProp({q1, q2}, {lr = 0.01, centered = true, momentum = 0.9})
    for t = 1, 5 do
      garena:copy_(arena):mul_(t)
      q1.grad:copy_(q1):mul_(t); q2.grad:copy_(q2):mul_(t)
      a:step(); b:step()
    end
    assert.is_true(gd.allclose(p1, q1, 0, 0))
    assert.is_true(gd.allclose(p2, q2, 0, 0))
  end)
  it("a strided (transposed) parameter is updated in place", function()
    local base = gd.tensor({{1, 2, 3}, {4, 5, 6}}, {dtype = "float64"})
    local p = base:t()
    local opt = gd.optim.SGD({p}, {lr = 0.5})
    p.grad:fill_(2)
    opt:step()
    assert.are.same({{0, 1, 2}, {3, 4, 5}}, base:totable())
  end)
  it("one large parameter list steps the same with 1 and 2 threads", function()
    local n = 300000
    local function run(threads)
      gd.set_num_threads(threads)
      gd.manual_seed(5)
      local ps = {gd.randn(n), gd.randn(n / 2), gd.randn(7)}
      local opt = gd.optim.Adam(ps, {lr = 0.01})
      for _ = 1, 3 do
        for _, p in ipairs(ps) do p.grad:copy_(p):mul_(0.5) end
        opt:step()
      end
      return ps
    end
    local a, b = run(1), run(2)
    gd.set_num_threads(0)
    for i = 1, 3 do assert.is_true(gd.allclose(a[i], b[i], 0, 0)) end
  end)
end)

describe("PuzzleLib's shape", function()
  it("RMSProp{learnRate, factor} then setupOn, zeroGradParams, update", function()
    local w = gd.tensor({1, -1}, {dtype = "float64"})
    local net = {parameters = function() return {w} end}
    local opt = gd.optim.RMSProp{learnRate = 0.01, factor = 0.9}
    assert.are.equal("puzzlelib", opt.flavor)
    opt:setupOn(net)
    w.grad:fill_(3)
    opt:zeroGradParams()
    assert.are.same({0, 0}, w.grad:totable())
    w.grad:fill_(2)
    opt:update()
    -- ms = 0.1*4; p -= 0.01*2/(sqrt(0.4) + 1e-5)
    local expect = 1 - 0.01 * 2 / (math.sqrt(0.4) + 1e-5)
    assert.is_true(math.abs(w:get(1) - expect) < 1e-15)
  end)
end)

describe("tostring", function()
  it("summarises type, flavor, hyperparameters and parameter count", function()
    local opt = gd.optim.RMSProp({gd.zeros(3, 4), gd.zeros(4)}, {flavor = "d2l", lr = 0.4, gamma = 0.9})
    assert.are.equal("RMSProp (d2l): alpha=0.9 eps=1e-06 lr=0.4 [2 tensors, 16 parameters]", tostring(opt))
  end)
end)

-- ---------------------------------------------------------------------------
describe("schedules", function()
  local function opt_with(lr)
    return gd.optim.SGD({gd.zeros(1)}, {lr = lr})
  end
  it("StepLR multiplies by gamma every step_size epochs", function()
    local opt = opt_with(1)
    local s = gd.optim.lr.StepLR(opt, {step_size = 2, gamma = 0.5})
    local seen = {}
    for _ = 1, 5 do s:step(); seen[#seen + 1] = opt.hyper.lr end
    assert.are.same({1, 0.5, 0.5, 0.25, 0.25}, seen)
  end)
  it("ExponentialLR, CosineAnnealingLR and LambdaLR follow their closed forms", function()
    local o1 = opt_with(2)
    local e = gd.optim.lr.ExponentialLR(o1, {gamma = 0.9})
    e:step(); e:step()
    assert.is_true(math.abs(o1.hyper.lr - 2 * 0.81) < 1e-15)
    local o2 = opt_with(1)
    local c = gd.optim.lr.CosineAnnealingLR(o2, {T_max = 4, eta_min = 0.1})
    c:step(2)
    assert.is_true(math.abs(o2.hyper.lr - (0.1 + 0.9 * 0.5)) < 1e-15)
    c:step(4)
    assert.is_true(math.abs(o2.hyper.lr - 0.1) < 1e-15)
    local o3 = opt_with(0.5)
    local l = gd.optim.lr.LambdaLR(o3, {lr_lambda = function(ep) return 1 / (ep + 1) end})
    l:step(); l:step(); l:step()
    assert.is_true(math.abs(o3.hyper.lr - 0.5 / 4) < 1e-15)
  end)
  it("LinearLR warms up from start_factor to 1", function()
    local opt = opt_with(1)
    local s = gd.optim.lr.LinearLR(opt, {start_factor = 0.25, total_iters = 3})
    local seen = {opt.hyper.lr}
    for _ = 1, 4 do s:step(); seen[#seen + 1] = opt.hyper.lr end
    assert.are.same({0.25, 0.5, 0.75, 1, 1}, seen)
  end)
  it("schedules scale each group's own initial lr", function()
    local opt = gd.optim.SGD({{params = {gd.zeros(1)}}, {params = {gd.zeros(1)}, lr = 0.2}}, {lr = 1})
    local s = gd.optim.lr.StepLR(opt, {step_size = 1, gamma = 0.5})
    s:step()
    assert.are.same({0.5, 0.1}, s:get_last_lr())
  end)
end)

describe("gradient clipping", function()
  it("clip_grad_norm_ scales all gradients by max_norm / (norm + 1e-6) and returns the norm", function()
    local a, b = gd.zeros(2, {dtype = "float64"}), gd.zeros(1, {dtype = "float64"})
    a.grad = gd.tensor({3, 0}, {dtype = "float64"})
    b.grad = gd.tensor({4}, {dtype = "float64"})
    local norm = gd.optim.clip_grad_norm_({a, b}, 1)
    assert.are.equal(5, norm)
    local coef = 1 / (5 + 1e-6)
    assert.is_true(math.abs(a.grad:get(1) - 3 * coef) < 1e-15)
    assert.is_true(math.abs(b.grad:get(1) - 4 * coef) < 1e-15)
  end)
  it("clip_grad_norm_ leaves small gradients alone", function()
    local a = gd.zeros(2, {dtype = "float64"})
    a.grad = gd.tensor({0.3, 0.4}, {dtype = "float64"})
    assert.is_true(math.abs(gd.optim.clip_grad_norm_({a}, 1) - 0.5) < 1e-15)
    assert.are.same({0.3, 0.4}, a.grad:totable())
  end)
  it("clip_grad_value_ clamps every element", function()
    local a = gd.zeros(3, {dtype = "float64"})
    a.grad = gd.tensor({-5, 0.5, 7}, {dtype = "float64"})
    gd.optim.clip_grad_value_({a}, 1)
    assert.are.same({-1, 0.5, 1}, a.grad:totable())
  end)
end)

describe("the per-step path", function()
  it("x.grad:copy_(x):mul_(h); opt:step() compiles into a trace that does not abort", function()
    local jit = require "jit"
    if not jit.status() then pending("the JIT is off") return end
    -- in a fresh host: what other specs ran in this one says nothing about the
    -- loop a user runs (LuaJIT's penalty cache is keyed by bytecode address, so
    -- a loop can start out blacklisted where an earlier, collected function's
    -- loop kept aborting; jit.flush() does not clear it)
    local P = dofile("spec/support/process.lua")
    local r = P.run({"-e", [[
local gd = require "gd"
local x = gd.tensor({-5, -2}, {dtype = "float64"})
local h = gd.tensor({0.2, 4}, {dtype = "float64"})
local opt = gd.optim.RMSProp({x}, {flavor = "d2l", lr = 0.01, gamma = 0.9})
local util = require "jit.util"
local vmdef = require "jit.vmdef"
local starts, loop_traces, aborts = {}, 0, {}
local function loop(n)
  for _ = 1, n do
    x.grad:copy_(x):mul_(h)
    opt:step()
  end
end
local here = util.funcinfo(loop).source
-- a trace that starts in this chunk must compile into a loop and never abort
-- on something the JIT cannot compile (aborts of traces that start inside
-- gd, say at an inner loop over groups, are retried)
local function on_trace(what, tr, func, pc, otr, oex)
  if what == "start" then
    starts[tr] = util.funcinfo(func, pc).source
  elseif what == "stop" then
    if starts[tr] == here and util.traceinfo(tr).linktype == "loop" then loop_traces = loop_traces + 1 end
  elseif what == "abort" and starts[tr] == here then
    -- an NYI is code the JIT cannot compile; other aborts (a finalizer
    -- running while a trace records) are retried
    local msg = vmdef.traceerr[otr] or tostring(otr)
    if type(oex) == "number" and msg:find("%%d") then msg = msg:format(oex) end
    if msg:find("NYI", 1, true) or msg:find("blacklisted", 1, true) then aborts[#aborts + 1] = msg end
  end
end
jit.flush()
jit.attach(on_trace, "trace")
loop(100000)
jit.attach(on_trace)
io.write("aborts=", #aborts, " ", table.concat(aborts, "; "), "\n")
io.write("loop_traces=", loop_traces, "\n")
]]}, {timeout = 120, env = {GD_GC_TORTURE = ""}})   -- (a normal run's loop, also when the suite runs under torture)
    assert.are.equal(0, r.status, r.err)
    assert.truthy(r.out:find("aborts=0 ", 1, true), "trace aborts: " .. r.out)
    local n = tonumber(r.out:match("loop_traces=(%d+)"))
    assert.is_true(n ~= nil and n >= 1, "the loop did not compile into a trace: " .. r.out .. r.err)
  end)
end)

describe("gd.optim's lazily loaded parts", function()
  local P = dofile((debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "spec") .. "/support/process.lua")

  it("load on first use, each the very object of its module, and a run naming one finds it", function()
    -- catches eager requires coming back (each full collection of a loop that never uses them
    -- then traverses their ~360 KB of heap: the d2l quadratic got ~10% slower), a lazy name
    -- resolving to the wrong module or field, and unknown names no longer nil
    local r = P.run({"-e", [[
      local _ = gd.optim.RMSProp
      local names = {"gd.optim.lr", "gd.optim.lbfgs", "gd.optim.torch7", "gd.optim.layerwise"}
      local loaded = {}
      for _, m in ipairs(names) do loaded[#loaded + 1] = tostring(package.loaded[m] ~= nil) end
      io.write("before=", table.concat(loaded, ","), "\n")
      local lw = require "gd.optim.layerwise"
      io.write("same=", tostring(gd.optim.LBFGS == require "gd.optim.lbfgs" and gd.optim.lr == require "gd.optim.lr"
        and gd.optim.torch7 == require "gd.optim.torch7" and gd.optim.LAMB == lw.LAMB and gd.optim.LARS == lw.LARS
        and gd.optim.Adafactor == lw.Adafactor and gd.optim.Muon == lw.Muon and gd.optim.Muon ~= nil), "\n")
      io.write("nope=", tostring(gd.optim.Nope), "\n")
    ]]})
    assert.are.equal(0, r.status, r.err)
    assert.truthy(r.out:find("before=false,false,false,false", 1, true), r.out)
    assert.truthy(r.out:find("same=true", 1, true), r.out)
    assert.truthy(r.out:find("nope=nil", 1, true), r.out)
    -- a fresh process: the experiment's list of known optimizers names the lazy ones too
    r = P.run({"-e", [[
      local ok, err = pcall(gd.experiment.run, {objective = function(x) return (x ^ 2):sum() end,
        x0 = {1, 2}, steps = 2, runs = {{optimizer = "LBFGZ", hyper = {lr = 0.1}}}})
      io.write(tostring(ok), " ", tostring(err), "\n")
    ]]})
    assert.truthy(r.out:find("false", 1, true), r.out .. r.err)
    assert.truthy(r.out:find("LBFGS", 1, true), r.out .. r.err)
  end)
end)
