--- gd.optim.torch7: Torch7's functional optimizers (torch/optim), as Torch7 users wrote them.
--
--   local optim = require "optim"          -- inside gdlua: this module
--   local config = {learningRate = 1e-2, momentum = 0.9}
--   for i = 1, 100 do
--     optim.sgd(function(x) return f(x), dfdx(x) end, x, config)
--   end
--
-- Each function has Torch7's signature `optim.<name>(opfunc, x, config[, state])`:
-- `opfunc(x)` returns f(x) and df/dx (a tensor shaped like x); `x` is updated in
-- place; the state lives in `config` when `state` is nil (Torch7's habit); the
-- return value is `x, {f, ...}` (the function values seen by the call, before
-- the update), plus what Torch7 returned after that (asgd: the averaged x; cg
-- and lbfgs: the number of evaluations).
--
-- The order of operations is Torch7's, line by line, from the final sources of
-- torch/optim (sgd.lua, adagrad.lua, rmsprop.lua, adam.lua, adamax.lua,
-- adadelta.lua, nag.lua, asgd.lua, rprop.lua, cg.lua, lbfgs.lua, lswolfe.lua,
-- polyinterp.lua), including its quirks, which are documented where they
-- matter:
--   * sgd/adagrad/adam/nag/rprop add weight decay into the tensor opfunc
--     returned (dfdx:add(wd, x)), and rprop zeroes its entries where the sign
--     flipped: the caller's gradient tensor is changed, as in Torch7.
--   * rmsprop: the mean square starts at `initialMean` (default 0).  For three
--     months of 2016 (commit 9c08fde, 2016-06-08, reverted 2016-09-06) Torch7
--     started it at 1; `initialMean = 1` reproduces that version.  Epsilon is
--     added outside the square root.
--   * adagrad: the final source adds a fixed 1e-10 to sqrt(sum of squares)
--     (there is no epsilon option).
--   * adam: epsilon is added to the plain sqrt(v); the bias corrections go into
--     the step size (stepSize = lr * sqrt(1 - beta2^t) / (1 - beta1^t)),
--     unlike PyTorch, which adds eps to sqrt(v / (1 - beta2^t)).
--   * adadelta has no learning rate (Zeiler's original form).
--   * asgd writes its defaults into config (config.eta0 = ...), as Torch7 did.
--   * cg: after one failed line search `ls_failed` is 0, which Lua counts as
--     true, so the next failure always stops; kept.
--   * lbfgs's first direction is scaled by min(1, 1/sum|g|) only on the very
--     first iteration of the optimizer's life (state.nIter == 1).
local gd = require "gd.tensor"
local doc = require "gd.doc"
local check = require "gd.check"
check.register_internal()
local fmt = string.format
local abs, min, max, sqrt = math.abs, math.min, math.max, math.sqrt

local M = {}

-- ------------------------------------------------------------ helpers

-- The names each optimizer reads from config (its hyperparameters) and writes
-- into its state.  Torch7 ignored other keys; here a key that looks like a
-- misspelling of one of these (and is no name of any optimizer) is an error,
-- so `learningrate = 0.1` does not silently train with the default.
local NAMES = {
  sgd = {"learningRate", "learningRateDecay", "weightDecay", "weightDecays", "momentum", "dampening",
         "nesterov", "learningRates", "evalCounter", "dfdx", "decayParameters", "deltaParameters"},
  adagrad = {"learningRate", "learningRateDecay", "weightDecay", "evalCounter", "paramVariance", "paramStd"},
  rmsprop = {"learningRate", "alpha", "epsilon", "weightDecay", "initialMean", "m", "tmp"},
  adam = {"learningRate", "learningRateDecay", "beta1", "beta2", "epsilon", "weightDecay", "t", "m", "v", "denom"},
  adamax = {"learningRate", "beta1", "beta2", "epsilon", "weightDecay", "t", "m", "u", "max"},
  adadelta = {"rho", "eps", "weightDecay", "evalCounter", "paramVariance", "paramStd", "delta", "accDelta"},
  nag = {"learningRate", "learningRateDecay", "weightDecay", "momentum", "dampening", "learningRates",
         "evalCounter", "dfdx", "deltaParameters"},
  asgd = {"eta0", "lambda", "alpha", "t0", "eta_t", "mu_t", "t", "ax", "tmp"},
  rprop = {"stepsize", "etaplus", "etaminus", "stepsizemax", "stepsizemin", "niter", "delta", "sign"},
  cg = {"rho", "sig", "int", "ext", "maxIter", "ratio", "maxEval", "verbose", "df0", "df1", "df2", "df3", "x0", "s"},
  lbfgs = {"maxIter", "maxEval", "tolFun", "tolX", "nCorrection", "lineSearch", "lineSearchOptions",
           "learningRate", "verbose", "funcEval", "nIter", "tmp1", "dir_bufs", "stp_bufs", "d", "t",
           "old_dirs", "old_stps", "Hdiag", "g_old", "f_old"},
}
local ALL = {}
for _, names in pairs(NAMES) do for _, n in ipairs(names) do ALL[n] = true end end

local function is_tensor(v) return gd.is_tensor(v) end

-- Checks the common arguments; returns config, state.
local function args(name, opfunc, x, config, state)
  local fname = "gd.optim.torch7." .. name
  if type(opfunc) ~= "function" and not (type(opfunc) == "table" and getmetatable(opfunc)
                                         and getmetatable(opfunc).__call) then
    check.raise(fmt("%s: argument 1 (opfunc) must be a function returning f, df/dx, got %s", fname, type(opfunc)))
  end
  if not is_tensor(x) then
    check.raise(fmt("%s: argument 2 (x) must be a tensor, got %s", fname, type(x)))
  end
  if x.dtype == "int64" then
    check.raise(fmt("%s: argument 2 (x) must be a float32 or float64 tensor, got int64", fname))
  end
  if config ~= nil and type(config) ~= "table" then
    check.raise(fmt("%s: argument 3 (config) must be a table or nil, got %s", fname, type(config)))
  end
  if state ~= nil and type(state) ~= "table" then
    check.raise(fmt("%s: argument 4 (state) must be a table or nil, got %s", fname, type(state)))
  end
  config = config or {}
  local known = {}
  for _, n in ipairs(NAMES[name]) do known[n] = true end
  for k in pairs(config) do
    if type(k) == "string" and not ALL[k] then
      local s = check.suggest(k, NAMES[name])
      if s then check.raise(fmt("%s: unknown config key '%s' (did you mean '%s'?)", fname, k, s)) end
    end
  end
  return config, state or config, fname
end

-- A hyperparameter: config[key] or the default, a finite number.
local function num(fname, config, key, default)
  local v = config[key]
  if v == nil then return default end
  if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then
    check.raise(fmt("%s: config.%s must be a finite number, got %s", fname, key, tostring(v)))
  end
  return v
end

-- opfunc(x) -> f, dfdx, checked: f a number, dfdx a tensor shaped like x.
local function eval(fname, opfunc, x)
  local f, g = opfunc(x)
  if is_tensor(f) and f:numel() == 1 then f = f:item() end
  if type(f) ~= "number" then
    check.raise(fmt("%s: opfunc must return f(x) (a number) first, got %s", fname, type(f)))
  end
  if not is_tensor(g) then
    check.raise(fmt("%s: opfunc must return df/dx (a tensor) second, got %s", fname, type(g)))
  end
  if g:numel() ~= x:numel() or g.dtype ~= x.dtype or g.device ~= x.device then
    check.raise(fmt("%s: df/dx (%s %s, %d elements) does not match x (%s %s, %d elements)", fname,
                    g.dtype, g.device, g:numel(), x.dtype, x.device, x:numel()))
  end
  if g:dim() ~= x:dim() then g = g:view(x.shape) end
  return f, g
end

-- A state tensor shaped like x, filled with v.
local function like(x, v)
  return gd.full(x.shape, v or 0, {dtype = x.dtype, device = x.device})
end

-- A per-element vector option (learningRates, weightDecays): a tensor like x.
local function vector(fname, config, key, x)
  local v = config[key]
  if v == nil then return nil end
  if not is_tensor(v) or v:numel() ~= x:numel() then
    check.raise(fmt("%s: config.%s must be a tensor of %d elements like x", fname, key, x:numel()))
  end
  return v:dim() == x:dim() and v or v:view(x.shape)
end

-- Torch7's `a * b` of two vectors: the dot product.
local function dot(a, b) return (a * b):sum() end

-- A state tensor read back from a state table: nil, or a tensor like x.
local function state_tensor(fname, state, key, x)
  local t = state[key]
  if t ~= nil and (not is_tensor(t) or t:numel() ~= x:numel()) then
    check.raise(fmt("%s: state.%s is not a tensor of %d elements like x (a state table of another problem?)",
                    fname, key, x:numel()))
  end
  return t
end

local function counter(fname, state, key)
  local v = state[key] or 0
  if type(v) ~= "number" or v < 0 or v ~= math.floor(v) then
    check.raise(fmt("%s: state.%s must be a count (an integer >= 0), got %s", fname, key, tostring(v)))
  end
  return v
end

-- ------------------------------------------------------------ sgd

M.sgd = doc(function(opfunc, x, config, state)
  local fname
  config, state, fname = args("sgd", opfunc, x, config, state)
  local lr = num(fname, config, "learningRate", 1e-3)
  local lrd = num(fname, config, "learningRateDecay", 0)
  local wd = num(fname, config, "weightDecay", 0)
  local mom = num(fname, config, "momentum", 0)
  local damp = num(fname, config, "dampening", mom)
  local nesterov = config.nesterov or false
  local lrs = vector(fname, config, "learningRates", x)
  local wds = vector(fname, config, "weightDecays", x)
  local nevals = counter(fname, state, "evalCounter")
  state_tensor(fname, state, "dfdx", x)
  if nesterov and not (mom > 0 and damp == 0) then
    check.raise(fname .. ": Nesterov momentum requires a momentum and zero dampening")
  end
  state.evalCounter = nevals

  local fx, dfdx = eval(fname, opfunc, x)
  if wd ~= 0 then
    dfdx:add_(x, wd)
  elseif wds then
    state.decayParameters = state.decayParameters or like(x)
    state.decayParameters:copy_(wds):mul_(x)
    dfdx:add_(state.decayParameters)
  end
  if mom ~= 0 then
    if not state.dfdx then
      state.dfdx = dfdx:clone()
    else
      state.dfdx:mul_(mom):add_(dfdx, 1 - damp)
    end
    if nesterov then dfdx:add_(state.dfdx, mom) else dfdx = state.dfdx end
  end
  local clr = lr / (1 + nevals * lrd)
  if lrs then
    state.deltaParameters = state.deltaParameters or like(x)
    state.deltaParameters:copy_(lrs):mul_(dfdx)
    x:add_(state.deltaParameters, -clr)
  else
    x:add_(dfdx, -clr)
  end
  state.evalCounter = state.evalCounter + 1
  return x, {fx}
end, "gd.optim.torch7.sgd", [[
optim.sgd(opfunc, x, config[, state]) -> x, {f(x)}
  Torch7's SGD: learningRate 1e-3, learningRateDecay 0 (lr / (1 + evals*decay)),
  weightDecay 0 (or weightDecays, a tensor), momentum 0, dampening = momentum,
  nesterov false, learningRates (a tensor of per-element rates).  The momentum
  buffer starts as the first gradient.  State: evalCounter, dfdx.]])

-- ------------------------------------------------------------ adagrad

M.adagrad = doc(function(opfunc, x, config, state)
  local fname
  config, state, fname = args("adagrad", opfunc, x, config, state)
  local lr = num(fname, config, "learningRate", 1e-3)
  local lrd = num(fname, config, "learningRateDecay", 0)
  local wd = num(fname, config, "weightDecay", 0)
  local nevals = counter(fname, state, "evalCounter")
  state_tensor(fname, state, "paramVariance", x)
  state.evalCounter = nevals

  local fx, dfdx = eval(fname, opfunc, x)
  if wd ~= 0 then dfdx:add_(x, wd) end
  local clr = lr / (1 + nevals * lrd)
  if not state.paramVariance then
    state.paramVariance = like(x)
    state.paramStd = like(x)
  end
  state.paramVariance:addcmul_(dfdx, dfdx, 1)
  state.paramStd:copy_(state.paramVariance):sqrt_()
  x:addcdiv_(dfdx, state.paramStd:add_(1e-10), -clr)
  state.evalCounter = state.evalCounter + 1
  return x, {fx}
end, "gd.optim.torch7.adagrad", [[
optim.adagrad(opfunc, x, config[, state]) -> x, {f(x)}
  Torch7's AdaGrad: learningRate 1e-3, learningRateDecay 0, weightDecay 0;
  x -= clr * g / (sqrt(sum g^2) + 1e-10) (a fixed 1e-10, as the final source).
  State: evalCounter, paramVariance, paramStd.]])

-- ------------------------------------------------------------ rmsprop

M.rmsprop = doc(function(opfunc, x, config, state)
  local fname
  config, state, fname = args("rmsprop", opfunc, x, config, state)
  local lr = num(fname, config, "learningRate", 1e-2)
  local alpha = num(fname, config, "alpha", 0.99)
  local epsilon = num(fname, config, "epsilon", 1e-8)
  local wd = num(fname, config, "weightDecay", 0)
  local mfill = num(fname, config, "initialMean", 0)
  state_tensor(fname, state, "m", x)

  local fx, dfdx = eval(fname, opfunc, x)
  if wd ~= 0 then dfdx:add_(x, wd) end
  if not state.m then
    state.m = like(x, mfill)
    state.tmp = like(x)
  end
  state.m:mul_(alpha)
  state.m:addcmul_(dfdx, dfdx, 1 - alpha)
  state.tmp:copy_(state.m):sqrt_():add_(epsilon)
  x:addcdiv_(dfdx, state.tmp, -lr)
  return x, {fx}
end, "gd.optim.torch7.rmsprop", [[
optim.rmsprop(opfunc, x, config[, state]) -> x, {f(x)}
  Torch7's RMSProp: learningRate 1e-2, alpha 0.99, epsilon 1e-8 (outside the
  root), weightDecay 0, initialMean 0 (the mean square's start; 1 reproduces
  Torch7's June-September 2016 version).  m = alpha*m + (1-alpha)*g^2;
  x -= lr * g / (sqrt(m) + epsilon).  No learningRateDecay (Torch7 had none).
  State: m, tmp.]])

-- ------------------------------------------------------------ adam

M.adam = doc(function(opfunc, x, config, state)
  local fname
  config, state, fname = args("adam", opfunc, x, config, state)
  local lr = num(fname, config, "learningRate", 0.001)
  local lrd = num(fname, config, "learningRateDecay", 0)
  local beta1 = num(fname, config, "beta1", 0.9)
  local beta2 = num(fname, config, "beta2", 0.999)
  local epsilon = num(fname, config, "epsilon", 1e-8)
  local wd = num(fname, config, "weightDecay", 0)
  local t = counter(fname, state, "t")
  state_tensor(fname, state, "m", x)
  state_tensor(fname, state, "v", x)

  local fx, dfdx = eval(fname, opfunc, x)
  if wd ~= 0 then dfdx:add_(x, wd) end
  state.t = t
  state.m = state.m or like(x)
  state.v = state.v or like(x)
  state.denom = state.denom or like(x)
  local clr = lr / (1 + state.t * lrd)
  state.t = state.t + 1
  state.m:mul_(beta1):add_(dfdx, 1 - beta1)
  state.v:mul_(beta2):addcmul_(dfdx, dfdx, 1 - beta2)
  state.denom:copy_(state.v):sqrt_():add_(epsilon)
  local biasCorrection1 = 1 - beta1 ^ state.t
  local biasCorrection2 = 1 - beta2 ^ state.t
  local stepSize = clr * sqrt(biasCorrection2) / biasCorrection1
  x:addcdiv_(state.m, state.denom, -stepSize)
  return x, {fx}
end, "gd.optim.torch7.adam", [[
optim.adam(opfunc, x, config[, state]) -> x, {f(x)}
  Torch7's Adam: learningRate 1e-3, learningRateDecay 0, beta1 0.9, beta2 0.999,
  epsilon 1e-8, weightDecay 0.  Epsilon is added to the plain sqrt(v), the bias
  corrections go into the step size: x -= clr*sqrt(1-beta2^t)/(1-beta1^t) *
  m / (sqrt(v) + epsilon).  State: t, m, v, denom.]])

-- ------------------------------------------------------------ adamax

M.adamax = doc(function(opfunc, x, config, state)
  local fname
  config, state, fname = args("adamax", opfunc, x, config, state)
  local lr = num(fname, config, "learningRate", 0.002)
  local beta1 = num(fname, config, "beta1", 0.9)
  local beta2 = num(fname, config, "beta2", 0.999)
  local epsilon = num(fname, config, "epsilon", 1e-38)
  local wd = num(fname, config, "weightDecay", 0)
  local t = counter(fname, state, "t")
  state_tensor(fname, state, "m", x)
  state_tensor(fname, state, "u", x)

  local fx, dfdx = eval(fname, opfunc, x)
  if wd ~= 0 then dfdx:add_(x, wd) end
  state.t = t
  state.m = state.m or like(x)
  state.u = state.u or like(x)
  state.t = state.t + 1
  state.m:mul_(beta1):add_(dfdx, 1 - beta1)
  -- u = max(beta2*u, |g| + eps), element-wise (Torch7: max over a 2 x n stack)
  state.u:copy_(state.u:mul(beta2):maximum(dfdx:abs():add_(epsilon)))
  local biasCorrection1 = 1 - beta1 ^ state.t
  local stepSize = lr / biasCorrection1
  x:addcdiv_(state.m, state.u, -stepSize)
  return x, {fx}
end, "gd.optim.torch7.adamax", [[
optim.adamax(opfunc, x, config[, state]) -> x, {f(x)}
  Torch7's AdaMax: learningRate 2e-3, beta1 0.9, beta2 0.999, epsilon 1e-38,
  weightDecay 0.  u = max(beta2*u, |g| + epsilon); x -= lr/(1-beta1^t) * m / u.
  State: t, m, u.]])

-- ------------------------------------------------------------ adadelta

M.adadelta = doc(function(opfunc, x, config, state)
  local fname
  config, state, fname = args("adadelta", opfunc, x, config, state)
  local rho = num(fname, config, "rho", 0.9)
  local eps = num(fname, config, "eps", 1e-6)
  local wd = num(fname, config, "weightDecay", 0)
  local nevals = counter(fname, state, "evalCounter")
  state_tensor(fname, state, "paramVariance", x)
  state_tensor(fname, state, "accDelta", x)
  state.evalCounter = nevals

  local fx, dfdx = eval(fname, opfunc, x)
  if wd ~= 0 then dfdx:add_(x, wd) end
  if not state.paramVariance then
    state.paramVariance = like(x)
    state.paramStd = like(x)
    state.delta = like(x)
    state.accDelta = like(x)
  end
  state.paramVariance:mul_(rho):addcmul_(dfdx, dfdx, 1 - rho)
  state.paramStd:copy_(state.paramVariance):add_(eps):sqrt_()
  state.delta:copy_(state.accDelta):add_(eps):sqrt_():div_(state.paramStd):mul_(dfdx)
  x:add_(state.delta, -1)
  state.accDelta:mul_(rho):addcmul_(state.delta, state.delta, 1 - rho)
  state.evalCounter = state.evalCounter + 1
  return x, {fx}
end, "gd.optim.torch7.adadelta", [[
optim.adadelta(opfunc, x, config[, state]) -> x, {f(x)}
  Torch7's AdaDelta (no learning rate): rho 0.9, eps 1e-6, weightDecay 0.
  v = rho*v + (1-rho)*g^2; delta = sqrt(acc + eps) / sqrt(v + eps) * g;
  x -= delta; acc = rho*acc + (1-rho)*delta^2.
  State: evalCounter, paramVariance, paramStd, delta, accDelta.]])

-- ------------------------------------------------------------ nag

M.nag = doc(function(opfunc, x, config, state)
  local fname
  config, state, fname = args("nag", opfunc, x, config, state)
  local lr = num(fname, config, "learningRate", 1e-3)
  local lrd = num(fname, config, "learningRateDecay", 0)
  local wd = num(fname, config, "weightDecay", 0)
  local mom = num(fname, config, "momentum", 0.9)
  num(fname, config, "dampening", mom)    -- read (and checked) but unused, as in Torch7
  local lrs = vector(fname, config, "learningRates", x)
  local nevals = counter(fname, state, "evalCounter")
  state_tensor(fname, state, "dfdx", x)
  if mom <= 0 then
    check.raise(fname .. ": Momentum must be positive for Nesterov Accelerated Gradient")
  end
  state.evalCounter = nevals

  -- evaluate at the look-ahead point x + mom * v (the point is kept)
  if state.dfdx then x:add_(state.dfdx, mom) end
  local fx, dfdx = eval(fname, opfunc, x)
  if wd ~= 0 then dfdx:add_(x, wd) end
  local clr = lr / (1 + nevals * lrd)
  if not state.dfdx then
    state.dfdx = like(x)
  else
    state.dfdx:mul_(mom)
  end
  if lrs then
    state.deltaParameters = state.deltaParameters or like(x)
    state.deltaParameters:copy_(lrs):mul_(dfdx)
    x:add_(state.deltaParameters, -clr)
    state.dfdx:add_(state.deltaParameters, -clr)
  else
    x:add_(dfdx, -clr)
    state.dfdx:add_(dfdx, -clr)
  end
  state.evalCounter = state.evalCounter + 1
  return x, {fx}
end, "gd.optim.torch7.nag", [[
optim.nag(opfunc, x, config[, state]) -> x, {f(x)}
  Torch7's Nesterov accelerated gradient (Sutskever et al. 2013's form):
  learningRate 1e-3, learningRateDecay 0, weightDecay 0, momentum 0.9 (> 0),
  learningRates.  x += mom*v; g = df/dx there; v = mom*v - clr*g; x -= clr*g.
  State: evalCounter, dfdx (the velocity).]])

-- ------------------------------------------------------------ asgd

M.asgd = doc(function(opfunc, x, config, state)
  local fname
  config, state, fname = args("asgd", opfunc, x, config, state)
  local eta0 = num(fname, config, "eta0", 1e-4)
  local lambda = num(fname, config, "lambda", 1e-4)
  local alpha = num(fname, config, "alpha", 0.75)
  local t0 = num(fname, config, "t0", 1e6)
  state_tensor(fname, state, "ax", x)
  local eta_t = num(fname, state, "eta_t", eta0)
  local mu_t = num(fname, state, "mu_t", 1)
  local t = counter(fname, state, "t")
  -- Torch7 writes its defaults into config
  config.eta0, config.lambda, config.alpha, config.t0 = eta0, lambda, alpha, t0
  state.eta_t, state.mu_t, state.t = eta_t, mu_t, t

  local fx, dfdx = eval(fname, opfunc, x)
  x:mul_(1 - lambda * state.eta_t)
  x:add_(dfdx, -state.eta_t)
  state.ax = state.ax or like(x)
  state.tmp = state.tmp or like(x)
  if state.mu_t ~= 1 then
    state.tmp:copy_(x)
    state.tmp:add_(state.ax, -1):mul_(state.mu_t)
    state.ax:add_(state.tmp)
  else
    state.ax:copy_(x)
  end
  state.t = state.t + 1
  state.eta_t = eta0 / (1 + lambda * eta0 * state.t) ^ alpha
  state.mu_t = 1 / max(1, state.t - t0)
  return x, {fx}, state.ax
end, "gd.optim.torch7.asgd", [[
optim.asgd(opfunc, x, config[, state]) -> x, {f(x)}, ax
  Torch7's averaged SGD (Bottou's sgd-2.0): eta0 1e-4, lambda 1e-4, alpha 0.75,
  t0 1e6 (written into config, as Torch7 does).  x = (1 - lambda*eta_t) x -
  eta_t g; ax += mu_t (x - ax); eta_t = eta0 / (1 + lambda*eta0*t)^alpha,
  mu_t = 1/max(1, t - t0).  Returns the averaged point ax third.]])

-- ------------------------------------------------------------ rprop

M.rprop = doc(function(opfunc, x, config, state)
  local fname
  config, state, fname = args("rprop", opfunc, x, config, state)
  -- with state == config (Torch7's habit) state.stepsize, the per-element step
  -- tensor, replaces the number config.stepsize after the first call
  local stepsize = config.stepsize
  if not (state == config and gd.is_tensor(stepsize)) then stepsize = num(fname, config, "stepsize", 0.1) end
  local etaplus = num(fname, config, "etaplus", 1.2)
  local etaminus = num(fname, config, "etaminus", 0.5)
  local stepsizemax = num(fname, config, "stepsizemax", 50.0)
  local stepsizemin = num(fname, config, "stepsizemin", 1e-6)
  local niter = num(fname, config, "niter", 1)
  if niter < 1 or niter ~= math.floor(niter) then
    check.raise(fmt("%s: config.niter must be an integer >= 1, got %s", fname, tostring(niter)))
  end
  state_tensor(fname, state, "delta", x)
  -- state.stepsize is a tensor once initialised, config.stepsize a number
  if state.delta and not (gd.is_tensor(state.stepsize) and state.stepsize:numel() == x:numel()) then
    check.raise(fname .. ": state.stepsize is not the per-element step tensor (a damaged state table?)")
  end

  local hfx = {}
  for _ = 1, niter do
    local fx, dfdx = eval(fname, opfunc, x)
    if not state.delta then
      state.delta = like(x)
      state.stepsize = like(x, stepsize)
    end
    -- factor = etaplus where g*delta > 0, etaminus where < 0, 1 where 0
    local sign = (dfdx * state.delta):sign()
    local factor = gd.where(sign:gt(0), etaplus, gd.where(sign:lt(0), etaminus, 1))
    state.stepsize:mul_(factor)
    state.stepsize:copy_(gd.where(state.stepsize:gt(stepsizemax), stepsizemax, state.stepsize))
    state.stepsize:copy_(gd.where(state.stepsize:lt(stepsizemin), stepsizemin, state.stepsize))
    -- where the sign flipped the gradient is zeroed (in the caller's tensor)
    dfdx:copy_(gd.where(sign:lt(0), 0, dfdx))
    x:addcmul_(dfdx:sign(), state.stepsize, -1)
    state.delta:copy_(dfdx)
    hfx[#hfx + 1] = fx
  end
  return x, hfx
end, "gd.optim.torch7.rprop", [[
optim.rprop(opfunc, x, config[, state]) -> x, {f(x) per iteration}
  Torch7's Rprop (Riedmiller; Kavukcuoglu 2013): stepsize 0.1 (initial, per
  element), etaplus 1.2, etaminus 0.5, stepsizemax 50, stepsizemin 1e-6,
  niter 1 (evaluations per call).  Where the gradient's sign flipped, the step
  shrinks and that gradient element is zeroed (no move); x -= sign(g) * step.]])

-- ------------------------------------------------------------ cg

M.cg = doc(function(opfunc, x, config, state)
  local fname
  config, state, fname = args("cg", opfunc, x, config, state)
  local rho = num(fname, config, "rho", 0.01)
  local sig = num(fname, config, "sig", 0.5)
  local int = num(fname, config, "int", 0.1)
  local ext = num(fname, config, "ext", 3.0)
  local maxIter = num(fname, config, "maxIter", 20)
  local ratio = num(fname, config, "ratio", 100)
  local maxEval = num(fname, config, "maxEval", maxIter * 1.25)
  local red = 1
  for _, k in ipairs {"df0", "df1", "df2", "df3", "x0", "s"} do state_tensor(fname, state, k, x) end

  local i = 0
  local ls_failed = 0
  local fx = {}
  local z1, z2, z3 = 0, 0, 0
  local d1, d2, d3 = 0, 0, 0
  local f1, f2, f3 = 0, 0, 0
  local df1 = state.df1 or like(x)
  local df2 = state.df2 or like(x)
  local df3 = state.df3 or like(x)
  local tdf
  local s = state.s or like(x)
  local x0 = state.x0 or like(x)
  local f0 = 0
  local df0 = state.df0 or like(x)

  f1, tdf = eval(fname, opfunc, x)
  fx[#fx + 1] = f1
  df1:copy_(tdf)
  i = i + 1
  s:copy_(df1):mul_(-1)
  d1 = -dot(s, s)
  z1 = red / (1 - d1)

  while i < abs(maxEval) do
    x0:copy_(x)
    f0 = f1
    df0:copy_(df1)
    x:add_(s, z1)
    f2, tdf = eval(fname, opfunc, x)
    df2:copy_(tdf)
    i = i + 1
    d2 = dot(df2, s)
    f3, d3, z3 = f1, d1, -z1
    local m = min(maxIter, maxEval - i)
    local success = 0
    local limit = -1
    while true do
      while (f2 > f1 + z1 * rho * d1 or d2 > -sig * d1) and m > 0 do
        limit = z1
        if f2 > f1 then
          z2 = z3 - (0.5 * d3 * z3 * z3) / (d3 * z3 + f2 - f3)
        else
          local A = 6 * (f2 - f3) / z3 + 3 * (d2 + d3)
          local B = 3 * (f3 - f2) - z3 * (d3 + 2 * d2)
          z2 = (sqrt(B * B - A * d2 * z3 * z3) - B) / A
        end
        if z2 ~= z2 or z2 == math.huge or z2 == -math.huge then z2 = z3 / 2 end
        z2 = max(min(z2, int * z3), (1 - int) * z3)
        z1 = z1 + z2
        x:add_(s, z2)
        f2, tdf = eval(fname, opfunc, x)
        df2:copy_(tdf)
        i = i + 1
        m = m - 1
        d2 = dot(df2, s)
        z3 = z3 - z2
      end
      if f2 > f1 + z1 * rho * d1 or d2 > -sig * d1 then
        break
      elseif d2 > sig * d1 then
        success = 1
        break
      elseif m == 0 then
        break
      end
      local A = 6 * (f2 - f3) / z3 + 3 * (d2 + d3)
      local B = 3 * (f3 - f2) - z3 * (d3 + 2 * d2)
      z2 = -d2 * z3 * z3 / (B + sqrt(B * B - A * d2 * z3 * z3))
      if z2 ~= z2 or z2 == math.huge or z2 == -math.huge or z2 < 0 then
        if limit < -0.5 then z2 = z1 * (ext - 1) else z2 = (limit - z1) / 2 end
      elseif (limit > -0.5) and (z2 + z1) > limit then
        z2 = (limit - z1) / 2
      elseif limit < -0.5 and (z2 + z1) > z1 * ext then
        z2 = z1 * (ext - 1)
      elseif z2 < -z3 * int then
        z2 = -z3 * int
      elseif limit > -0.5 and z2 < (limit - z1) * (1 - int) then
        z2 = (limit - z1) * (1 - int)
      end
      f3 = f2; d3 = d2; z3 = -z2
      z1 = z1 + z2
      x:add_(s, z2)
      f2, tdf = eval(fname, opfunc, x)
      df2:copy_(tdf)
      i = i + 1
      m = m - 1
      d2 = dot(df2, s)
    end
    if success == 1 then
      f1 = f2
      fx[#fx + 1] = f1
      local ss = (dot(df2, df2) - dot(df2, df1)) / dot(df1, df1)
      s:mul_(ss)
      s:add_(df2, -1)
      local tmp = df1:clone()
      df1:copy_(df2)
      df2:copy_(tmp)
      d2 = dot(df1, s)
      if d2 > 0 then
        s:copy_(df1)
        s:mul_(-1)
        d2 = -dot(s, s)
      end
      z1 = z1 * min(ratio, d1 / (d2 - 1e-320))
      d1 = d2
      ls_failed = 0
    else
      x:copy_(x0)
      f1 = f0
      df1:copy_(df0)
      -- Torch7: `if ls_failed or i > maxEval`; ls_failed is 0 or 1, both true in Lua
      if ls_failed or i > maxEval then break end
      local tmp = df1:clone()
      df1:copy_(df2)
      df2:copy_(tmp)
      s:copy_(df1)
      s:mul_(-1)
      d1 = -dot(s, s)
      z1 = 1 / (1 - d1)
      ls_failed = 1
    end
  end
  state.df0, state.df1, state.df2, state.df3, state.x0, state.s = df0, df1, df2, df3, x0, s
  return x, fx, i
end, "gd.optim.torch7.cg", [[
optim.cg(opfunc, x, config[, state]) -> x, {f per line search}, evaluations
  Torch7's conjugate gradients (Rasmussen's minimize.m): rho 0.01, sig 0.5,
  int 0.1, ext 3.0, maxIter 20, ratio 100, maxEval maxIter*1.25.  Polak-Ribiere
  directions with a cubic-interpolating Wolfe line search.]])

-- ------------------------------------------------------------ line search

-- Torch7's polyinterp for the two points {x, f, f'} that lswolfe passes, with
-- optional bounds: the minimiser of the cubic through both points (with both
-- derivatives) within the bounds.  Without bounds, Torch7's closed form; with
-- bounds, its general path (solve for the cubic, test the bounds, the points
-- and the real roots of its derivative), written out for the cubic.
local function polyinterp(p1, p2, xminBound, xmaxBound)
  if not xminBound and not xmaxBound then
    local lo, hi = p1, p2
    if p2[1] < p1[1] then lo, hi = p2, p1 end   -- minPos: the point with the smaller x
    local d1 = lo[3] + hi[3] - 3 * (lo[2] - hi[2]) / (lo[1] - hi[1])
    local disc = d1 * d1 - lo[3] * hi[3]
    if disc >= 0 then
      local d2 = sqrt(disc)
      local t = hi[1] - (hi[1] - lo[1]) * ((hi[3] + d2 - d1) / (hi[3] - lo[3] + 2 * d2))
      return min(max(t, lo[1]), hi[1])
    end
    return (p1[1] + p2[1]) / 2
  end
  xminBound = xminBound or min(p1[1], p2[1])
  xmaxBound = xmaxBound or max(p1[1], p2[1])
  -- f(x) = a x^3 + b x^2 + c x + d through (x1, f1, g1), (x2, f2, g2): solve the
  -- 4x4 system [x^3 x^2 x 1; 3x^2 2x 1 0] by Gaussian elimination with pivoting
  local A = {{p1[1] ^ 3, p1[1] ^ 2, p1[1], 1, p1[2]}, {p2[1] ^ 3, p2[1] ^ 2, p2[1], 1, p2[2]},
             {3 * p1[1] ^ 2, 2 * p1[1], 1, 0, p1[3]}, {3 * p2[1] ^ 2, 2 * p2[1], 1, 0, p2[3]}}
  local singular = false
  for c = 1, 4 do
    local piv = c
    for r = c + 1, 4 do if abs(A[r][c]) > abs(A[piv][c]) then piv = r end end
    A[c], A[piv] = A[piv], A[c]
    if A[c][c] == 0 then singular = true break end
    for r = c + 1, 4 do
      local f = A[r][c] / A[c][c]
      for k = c, 5 do A[r][k] = A[r][k] - f * A[c][k] end
    end
  end
  local minPos = (xminBound + xmaxBound) / 2
  if singular then return minPos end
  local params = {}
  for r = 4, 1, -1 do
    local v = A[r][5]
    for k = r + 1, 4 do v = v - A[r][k] * params[k] end
    params[r] = v / A[r][r]
  end
  for k = 1, 4 do if abs(params[k]) <= 1e-12 then params[k] = 0 end end
  -- Torch7's polyval: sum of p_k * x^power, highest power first
  local function polyval(v) return 0 + params[1] * v ^ 3 + params[2] * v ^ 2 + params[3] * v ^ 1 + params[4] * v ^ 0 end
  local cps = {xminBound, xmaxBound, p1[1], p2[1]}
  -- f'(x) = 3a x^2 + 2b x + c: its real roots
  local qa, qb, qc = 3 * params[1], 2 * params[2], params[3]
  -- Torch7's roots(): coefficients below 1e-12 count as 0
  if abs(qa) < 1e-12 then qa = 0 end
  if abs(qb) < 1e-12 then qb = 0 end
  if abs(qc) < 1e-12 then qc = 0 end
  if qa == 0 and qb == 0 then
    cps[#cps + 1] = 0       -- Torch7's roots() returns 0 for an all-zero polynomial
  elseif qa ~= 0 then
    local disc = qb * qb - 4 * qa * qc
    if disc >= 0 then
      cps[#cps + 1] = (-qb + sqrt(disc)) / (2 * qa)
      cps[#cps + 1] = (-qb - sqrt(disc)) / (2 * qa)
    end
  elseif qb ~= 0 then
    cps[#cps + 1] = -qc / qb
  end
  local fmin = math.huge
  for _, v in ipairs(cps) do
    if v >= xminBound and v <= xmaxBound then
      local fv = polyval(v)
      if fv < fmin then minPos, fmin = v, fv end
    end
  end
  return minPos, fmin
end
M.polyinterp = polyinterp

M.lswolfe = doc(function(opfunc, x, t, d, f, g, gtd, options)
  local fname = "gd.optim.torch7.lswolfe"
  options = options or {}
  local c1 = num(fname, options, "c1", 1e-4)
  local c2 = num(fname, options, "c2", 0.9)
  local tolX = num(fname, options, "tolX", 1e-9)
  local maxIter = num(fname, options, "maxIter", 20)

  local x_init = x:clone()
  x:add_(d, t)
  local f_new, g_new = eval(fname, opfunc, x)
  g_new = g_new:clone()
  local lsFuncEval = 1
  local gtd_new = dot(g_new, d)

  local LSiter, t_prev, done = 0, 0, false
  local f_prev, g_prev, gtd_prev = f, g:clone(), gtd
  local bracket, bracketFval, bracketGval
  while LSiter < maxIter do
    if (f_new > (f + c1 * t * gtd)) or (LSiter > 1 and f_new >= f_prev) then
      bracket, bracketFval, bracketGval = {t_prev, t}, {f_prev, f_new}, {g_prev, g_new}
      break
    elseif abs(gtd_new) <= -c2 * gtd then
      bracket, bracketFval, bracketGval = {t}, {f_new}, {g_new}
      done = true
      break
    elseif gtd_new >= 0 then
      bracket, bracketFval, bracketGval = {t_prev, t}, {f_prev, f_new}, {g_prev, g_new}
      break
    end
    local tmp = t_prev
    t_prev = t
    local minStep = t + 0.01 * (t - tmp)
    local maxStep = t * 10
    t = polyinterp({tmp, f_prev, gtd_prev}, {t, f_new, gtd_new}, minStep, maxStep)
    f_prev = f_new
    g_prev = g_new:clone()
    gtd_prev = gtd_new
    x:copy_(x_init)
    x:add_(d, t)
    f_new, g_new = eval(fname, opfunc, x)
    g_new = g_new:clone()
    lsFuncEval = lsFuncEval + 1
    gtd_new = dot(g_new, d)
    LSiter = LSiter + 1
  end
  if LSiter == maxIter then
    bracket, bracketFval, bracketGval = {0, t}, {f, f_new}, {g, g_new}
  end

  local function lo_pos()   -- Torch7's bracketFval:min(1): the first of equal minima
    if #bracketFval == 2 and bracketFval[2] < bracketFval[1] then return 2 end
    return 1
  end
  local function bmax() return #bracket == 1 and bracket[1] or max(bracket[1], bracket[2]) end
  local function bmin() return #bracket == 1 and bracket[1] or min(bracket[1], bracket[2]) end
  local insufProgress = false
  while not done and LSiter < maxIter do
    local LOpos = lo_pos()
    local f_LO = bracketFval[LOpos]
    local HIpos = -LOpos + 3
    t = polyinterp({bracket[1], bracketFval[1], dot(bracketGval[1], d)},
                   {bracket[2], bracketFval[2], dot(bracketGval[2], d)})
    if min(bmax() - t, t - bmin()) / (bmax() - bmin()) < 0.1 then
      if insufProgress or t >= bmax() or t <= bmin() then
        if abs(t - bmax()) < abs(t - bmin()) then
          t = bmax() - 0.1 * (bmax() - bmin())
        else
          t = bmin() + 0.1 * (bmax() - bmin())
        end
        insufProgress = false
      else
        insufProgress = true
      end
    else
      insufProgress = false
    end
    x:copy_(x_init)
    x:add_(d, t)
    f_new, g_new = eval(fname, opfunc, x)
    g_new = g_new:clone()
    lsFuncEval = lsFuncEval + 1
    gtd_new = dot(g_new, d)
    LSiter = LSiter + 1
    if f_new > f + c1 * t * gtd or f_new >= f_LO then
      bracket[HIpos], bracketFval[HIpos], bracketGval[HIpos] = t, f_new, g_new
    else
      if abs(gtd_new) <= -c2 * gtd then
        done = true
      elseif gtd_new * (bracket[HIpos] - bracket[LOpos]) >= 0 then
        bracket[HIpos], bracketFval[HIpos], bracketGval[HIpos] =
          bracket[LOpos], bracketFval[LOpos], bracketGval[LOpos]
      end
      bracket[LOpos], bracketFval[LOpos], bracketGval[LOpos] = t, f_new, g_new
    end
    if not done and abs((bracket[1] - bracket[2]) * gtd_new) < tolX then break end
  end
  local LOpos = lo_pos()
  t = bracket[LOpos]
  f_new = bracketFval[LOpos]
  g_new = bracketGval[LOpos]
  x:copy_(x_init)
  x:add_(d, t)
  return f_new, g_new, x, t, lsFuncEval
end, "gd.optim.torch7.lswolfe", [[
optim.lswolfe(opfunc, x, t, d, f, g, gtd[, options]) -> f, g, x, t, evaluations
  Torch7's line search satisfying the strong Wolfe conditions (for
  optim.lbfgs's config.lineSearch): options c1 1e-4, c2 0.9, tolX 1e-9,
  maxIter 20.  Bracketing by cubic interpolation, then zoom.]])

-- ------------------------------------------------------------ lbfgs

M.lbfgs = doc(function(opfunc, x, config, state)
  local fname
  config, state, fname = args("lbfgs", opfunc, x, config, state)
  local maxIter = num(fname, config, "maxIter", 20)
  local maxEval = num(fname, config, "maxEval", maxIter * 1.25)
  local tolFun = num(fname, config, "tolFun", 1e-5)
  local tolX = num(fname, config, "tolX", 1e-9)
  local nCorrection = num(fname, config, "nCorrection", 100)
  local lineSearch = config.lineSearch
  local lineSearchOpts = config.lineSearchOptions
  local learningRate = num(fname, config, "learningRate", 1)
  local isverbose = config.verbose or false
  if nCorrection < 1 or nCorrection ~= math.floor(nCorrection) then
    check.raise(fmt("%s: config.nCorrection must be an integer >= 1, got %s", fname, tostring(nCorrection)))
  end
  if lineSearch ~= nil and type(lineSearch) ~= "function" then
    check.raise(fmt("%s: config.lineSearch must be a function (optim.lswolfe), got %s", fname, type(lineSearch)))
  end
  state.funcEval = counter(fname, state, "funcEval")
  state.nIter = counter(fname, state, "nIter")
  local function verbose(...) if isverbose then print("<optim.lbfgs> ", ...) end end

  local f, g = eval(fname, opfunc, x)
  local f_hist = {f}
  local currentFuncEval = 1
  state.funcEval = state.funcEval + 1

  state.tmp1 = state.tmp1 or like(x)
  local tmp1 = state.tmp1
  tmp1:copy_(g):abs_()
  if tmp1:sum() <= tolFun then
    verbose("optimality condition below tolFun")
    return x, f_hist
  end
  if not state.dir_bufs then
    state.dir_bufs, state.stp_bufs = {}, {}
    for i = 1, nCorrection + 1 do state.dir_bufs[i] = like(x); state.stp_bufs[i] = like(x) end
  end

  local d = state.d
  local t = state.t
  local old_dirs = state.old_dirs
  local old_stps = state.old_stps
  local Hdiag = state.Hdiag
  local g_old = state.g_old
  local f_old = state.f_old

  local nIter = 0
  while nIter < maxIter do
    nIter = nIter + 1
    state.nIter = state.nIter + 1
    if state.nIter == 1 then
      d = g:clone():mul_(-1)
      old_dirs = {}
      old_stps = {}
      Hdiag = 1
    else
      local y = table.remove(state.dir_bufs)
      local s = table.remove(state.stp_bufs)
      y:copy_(g):add_(g_old, -1)
      s:copy_(d):mul_(t)
      local ys = dot(y, s)
      if ys > 1e-10 then
        if #old_dirs == nCorrection then
          local removed1 = table.remove(old_dirs, 1)
          local removed2 = table.remove(old_stps, 1)
          table.insert(state.dir_bufs, removed1)
          table.insert(state.stp_bufs, removed2)
        end
        table.insert(old_dirs, s)
        table.insert(old_stps, y)
        Hdiag = ys / dot(y, y)
      else
        table.insert(state.dir_bufs, y)
        table.insert(state.stp_bufs, s)
      end
      local k = #old_dirs
      local ro, al = {}, {}
      for i = 1, k do ro[i] = 1 / dot(old_stps[i], old_dirs[i]) end
      local q = tmp1
      q:copy_(g):mul_(-1)
      for i = k, 1, -1 do
        al[i] = dot(old_dirs[i], q) * ro[i]
        q:add_(old_stps[i], -al[i])
      end
      local r = d
      r:copy_(q):mul_(Hdiag)
      for i = 1, k do
        local be_i = dot(old_stps[i], r) * ro[i]
        r:add_(old_dirs[i], al[i] - be_i)
      end
    end
    g_old = g_old or g:clone()
    g_old:copy_(g)
    f_old = f

    local gtd = dot(g, d)
    if gtd > -tolX then break end

    if state.nIter == 1 then
      tmp1:copy_(g):abs_()
      t = min(1, 1 / tmp1:sum()) * learningRate
    else
      t = learningRate
    end

    local lsFuncEval = 0
    if lineSearch then
      f, g, x, t, lsFuncEval = lineSearch(opfunc, x, t, d, f, g, gtd, lineSearchOpts)
      table.insert(f_hist, f)
    else
      x:add_(d, t)
      if nIter ~= maxIter then
        f, g = eval(fname, opfunc, x)
        lsFuncEval = 1
        table.insert(f_hist, f)
      end
    end
    currentFuncEval = currentFuncEval + lsFuncEval
    state.funcEval = state.funcEval + lsFuncEval

    if nIter == maxIter then verbose("reached max number of iterations") break end
    if currentFuncEval >= maxEval then verbose("max nb of function evals") break end
    tmp1:copy_(g):abs_()
    if tmp1:sum() <= tolFun then verbose("optimality condition below tolFun") break end
    tmp1:copy_(d):mul_(t):abs_()
    if tmp1:sum() <= tolX then verbose("step size below tolX") break end
    if abs(f - f_old) < tolX then verbose("function value changing less than tolX") break end
  end

  state.old_dirs = old_dirs
  state.old_stps = old_stps
  state.Hdiag = Hdiag
  state.g_old = g_old
  state.f_old = f_old
  state.t = t
  state.d = d
  return x, f_hist, currentFuncEval
end, "gd.optim.torch7.lbfgs", [[
optim.lbfgs(opfunc, x, config[, state]) -> x, {f per evaluation}, evaluations
  Torch7's L-BFGS: maxIter 20, maxEval maxIter*1.25, tolFun 1e-5 (sum |g|),
  tolX 1e-9, nCorrection 100, learningRate 1 (fixed step without a line
  search), lineSearch (optim.lswolfe) with lineSearchOptions, verbose.]])

return doc(M, "gd.optim.torch7", [[
gd.optim.torch7 (also `require "optim"` inside gdlua): Torch7's functional optimizers
  optim.<name>(opfunc, x, config[, state]) -> x, {f(x), ...}
  opfunc(x) returns f(x), df/dx; x is updated in place; the state lives in
  config when state is nil.  sgd, adagrad, rmsprop, adam, adamax, adadelta,
  nag, asgd, rprop, cg, lbfgs (+ lswolfe, polyinterp), with Torch7's names,
  defaults and order of operations (torch/optim's final sources; differences
  across Torch7's history are documented in help(gd.optim.torch7.rmsprop)).]])
