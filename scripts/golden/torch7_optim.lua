-- scripts/golden/torch7_optim.lua: reference trajectories for gd.optim.torch7.
--
-- Run under plain LuaJIT (no gd, no Torch):
--     luajit scripts/golden/torch7_optim.lua > spec/golden/torch7_optim.lua
--
-- Torch7 itself does not run here, so this file transcribes torch/optim's
-- final sources (sgd.lua, adagrad.lua, rmsprop.lua, adam.lua, adamax.lua,
-- adadelta.lua, nag.lua, asgd.lua, rprop.lua, cg.lua, lbfgs.lua, lswolfe.lua,
-- polyinterp.lua) statement by statement onto plain Lua arrays of doubles, one
-- element at a time, in Torch7's order of operations: each tensor statement
-- of the source becomes one loop here.  It shares no code with gdlua, so the
-- spec (spec/torch7_optim_spec.lua) checks gd.optim.torch7's tensor code
-- against an independent element-wise reading of the same sources.
--
-- Problems (both computed in float64 from Lua numbers, the spec does the same):
--   quadratic: f = 0.5 sum h_i (x_i - c_i)^2, gradient h_i (x_i - c_i) + 0.1 sin(t i)
--              at step t (1-based), as ../shared/golden's protocol;
--   rosenbrock: the extended Rosenbrock function on 8 parameters (for cg and lbfgs,
--              which need a deterministic, non-quadratic objective).
local fmt = string.format
local sqrt, abs, min, max = math.sqrt, math.abs, math.min, math.max

local N = 8
local H = {0.5, 1.0, 2.0, 3.0, 0.1, 5.0, 1.5, 0.8}
local Cc = {1.0, -2.0, 0.5, 3.0, -1.0, 0.25, 2.0, -0.5}
local X0 = {-1.0, 1.5, 2.0, 0.0, 3.0, -1.5, 0.5, 1.0}
local RX0 = {-1.2, 1.0, -1.2, 1.0, -0.5, 0.8, 1.5, 2.0}

-- ------------------------------------------------------------ vectors

local function vec(n, v) local r = {} for i = 1, n do r[i] = v or 0 end return r end
local function copy(a) local r = {} for i = 1, #a do r[i] = a[i] end return r end
local function dot(a, b) local s = 0 for i = 1, #a do s = s + a[i] * b[i] end return s end
local function asum(a) local s = 0 for i = 1, #a do s = s + abs(a[i]) end return s end
local function sign(v) if v > 0 then return 1 elseif v < 0 then return -1 else return 0 end end

local function quadratic(t)
  return function(x)
    local f, g = 0, {}
    for i = 1, N do
      local d = x[i] - Cc[i]
      f = f + 0.5 * H[i] * d * d
      g[i] = H[i] * d + 0.1 * math.sin(t * i)
    end
    return f, g
  end
end

local function rosenbrock(x)
  local f, g = 0, vec(N)
  for k = 1, N / 2 do
    local a, b = x[2 * k - 1], x[2 * k]
    local u, w = b - a * a, 1 - a
    f = f + 100 * u * u + w * w
    g[2 * k - 1] = -400 * a * u - 2 * w
    g[2 * k] = 200 * u
  end
  return f, g
end

-- ------------------------------------------------------------ the optimizers

local optim = {}

function optim.sgd(opfunc, x, config, state)
  local state = state or config
  local lr = config.learningRate or 1e-3
  local lrd = config.learningRateDecay or 0
  local wd = config.weightDecay or 0
  local mom = config.momentum or 0
  local damp = config.dampening or mom
  local nesterov = config.nesterov or false
  local lrs = config.learningRates
  local wds = config.weightDecays
  state.evalCounter = state.evalCounter or 0
  local nevals = state.evalCounter
  assert(not nesterov or (mom > 0 and damp == 0))
  local fx, dfdx = opfunc(x)
  if wd ~= 0 then
    for i = 1, N do dfdx[i] = dfdx[i] + wd * x[i] end
  elseif wds then
    state.decayParameters = state.decayParameters or vec(N)
    for i = 1, N do state.decayParameters[i] = wds[i] end
    for i = 1, N do state.decayParameters[i] = state.decayParameters[i] * x[i] end
    for i = 1, N do dfdx[i] = dfdx[i] + state.decayParameters[i] end
  end
  if mom ~= 0 then
    if not state.dfdx then
      state.dfdx = copy(dfdx)
    else
      for i = 1, N do state.dfdx[i] = state.dfdx[i] * mom end
      for i = 1, N do state.dfdx[i] = state.dfdx[i] + (1 - damp) * dfdx[i] end
    end
    if nesterov then
      for i = 1, N do dfdx[i] = dfdx[i] + mom * state.dfdx[i] end
    else
      dfdx = state.dfdx
    end
  end
  local clr = lr / (1 + nevals * lrd)
  if lrs then
    state.deltaParameters = state.deltaParameters or vec(N)
    for i = 1, N do state.deltaParameters[i] = lrs[i] end
    for i = 1, N do state.deltaParameters[i] = state.deltaParameters[i] * dfdx[i] end
    for i = 1, N do x[i] = x[i] + (-clr) * state.deltaParameters[i] end
  else
    for i = 1, N do x[i] = x[i] + (-clr) * dfdx[i] end
  end
  state.evalCounter = state.evalCounter + 1
  return x, {fx}
end

function optim.adagrad(opfunc, x, config, state)
  local state = state or config
  local lr = config.learningRate or 1e-3
  local lrd = config.learningRateDecay or 0
  local wd = config.weightDecay or 0
  state.evalCounter = state.evalCounter or 0
  local nevals = state.evalCounter
  local fx, dfdx = opfunc(x)
  if wd ~= 0 then for i = 1, N do dfdx[i] = dfdx[i] + wd * x[i] end end
  local clr = lr / (1 + nevals * lrd)
  if not state.paramVariance then
    state.paramVariance = vec(N)
    state.paramStd = vec(N)
  end
  for i = 1, N do state.paramVariance[i] = state.paramVariance[i] + 1 * dfdx[i] * dfdx[i] end
  for i = 1, N do state.paramStd[i] = sqrt(state.paramVariance[i]) end
  for i = 1, N do state.paramStd[i] = state.paramStd[i] + 1e-10 end
  for i = 1, N do x[i] = x[i] + (-clr) * dfdx[i] / state.paramStd[i] end
  state.evalCounter = state.evalCounter + 1
  return x, {fx}
end

function optim.rmsprop(opfunc, x, config, state)
  local state = state or config
  local lr = config.learningRate or 1e-2
  local alpha = config.alpha or 0.99
  local epsilon = config.epsilon or 1e-8
  local wd = config.weightDecay or 0
  local mfill = config.initialMean or 0
  local fx, dfdx = opfunc(x)
  if wd ~= 0 then for i = 1, N do dfdx[i] = dfdx[i] + wd * x[i] end end
  if not state.m then
    state.m = vec(N, mfill)
    state.tmp = vec(N)
  end
  for i = 1, N do state.m[i] = state.m[i] * alpha end
  for i = 1, N do state.m[i] = state.m[i] + (1.0 - alpha) * dfdx[i] * dfdx[i] end
  for i = 1, N do state.tmp[i] = sqrt(state.m[i]) end
  for i = 1, N do state.tmp[i] = state.tmp[i] + epsilon end
  for i = 1, N do x[i] = x[i] + (-lr) * dfdx[i] / state.tmp[i] end
  return x, {fx}
end

function optim.adam(opfunc, x, config, state)
  local state = state or config
  local lr = config.learningRate or 0.001
  local lrd = config.learningRateDecay or 0
  local beta1 = config.beta1 or 0.9
  local beta2 = config.beta2 or 0.999
  local epsilon = config.epsilon or 1e-8
  local wd = config.weightDecay or 0
  local fx, dfdx = opfunc(x)
  if wd ~= 0 then for i = 1, N do dfdx[i] = dfdx[i] + wd * x[i] end end
  state.t = state.t or 0
  state.m = state.m or vec(N)
  state.v = state.v or vec(N)
  state.denom = state.denom or vec(N)
  local clr = lr / (1 + state.t * lrd)
  state.t = state.t + 1
  for i = 1, N do state.m[i] = state.m[i] * beta1 end
  for i = 1, N do state.m[i] = state.m[i] + (1 - beta1) * dfdx[i] end
  for i = 1, N do state.v[i] = state.v[i] * beta2 end
  for i = 1, N do state.v[i] = state.v[i] + (1 - beta2) * dfdx[i] * dfdx[i] end
  for i = 1, N do state.denom[i] = sqrt(state.v[i]) + epsilon end
  local biasCorrection1 = 1 - beta1 ^ state.t
  local biasCorrection2 = 1 - beta2 ^ state.t
  local stepSize = clr * sqrt(biasCorrection2) / biasCorrection1
  for i = 1, N do x[i] = x[i] + (-stepSize) * state.m[i] / state.denom[i] end
  return x, {fx}
end

function optim.adamax(opfunc, x, config, state)
  local state = state or config
  local lr = config.learningRate or 0.002
  local beta1 = config.beta1 or 0.9
  local beta2 = config.beta2 or 0.999
  local epsilon = config.epsilon or 1e-38
  local wd = config.weightDecay or 0
  local fx, dfdx = opfunc(x)
  if wd ~= 0 then for i = 1, N do dfdx[i] = dfdx[i] + wd * x[i] end end
  state.t = state.t or 0
  state.m = state.m or vec(N)
  state.u = state.u or vec(N)
  state.t = state.t + 1
  for i = 1, N do state.m[i] = state.m[i] * beta1 + (1 - beta1) * dfdx[i] end
  for i = 1, N do
    local a = state.u[i] * beta2          -- state.max[1]
    local b = abs(dfdx[i]) + epsilon      -- state.max[2]
    state.u[i] = max(a, b)
  end
  local biasCorrection1 = 1 - beta1 ^ state.t
  local stepSize = lr / biasCorrection1
  for i = 1, N do x[i] = x[i] + (-stepSize) * state.m[i] / state.u[i] end
  return x, {fx}
end

function optim.adadelta(opfunc, x, config, state)
  local state = state or config
  local rho = config.rho or 0.9
  local eps = config.eps or 1e-6
  local wd = config.weightDecay or 0
  state.evalCounter = state.evalCounter or 0
  local fx, dfdx = opfunc(x)
  if wd ~= 0 then for i = 1, N do dfdx[i] = dfdx[i] + wd * x[i] end end
  if not state.paramVariance then
    state.paramVariance = vec(N); state.paramStd = vec(N); state.delta = vec(N); state.accDelta = vec(N)
  end
  for i = 1, N do state.paramVariance[i] = state.paramVariance[i] * rho + (1 - rho) * dfdx[i] * dfdx[i] end
  for i = 1, N do state.paramStd[i] = sqrt(state.paramVariance[i] + eps) end
  for i = 1, N do state.delta[i] = sqrt(state.accDelta[i] + eps) / state.paramStd[i] * dfdx[i] end
  for i = 1, N do x[i] = x[i] + (-1) * state.delta[i] end
  for i = 1, N do state.accDelta[i] = state.accDelta[i] * rho + (1 - rho) * state.delta[i] * state.delta[i] end
  state.evalCounter = state.evalCounter + 1
  return x, {fx}
end

function optim.nag(opfunc, x, config, state)
  local state = state or config
  local lr = config.learningRate or 1e-3
  local lrd = config.learningRateDecay or 0
  local wd = config.weightDecay or 0
  local mom = config.momentum or 0.9
  local lrs = config.learningRates
  state.evalCounter = state.evalCounter or 0
  local nevals = state.evalCounter
  assert(mom > 0)
  if state.dfdx then for i = 1, N do x[i] = x[i] + mom * state.dfdx[i] end end
  local fx, dfdx = opfunc(x)
  if wd ~= 0 then for i = 1, N do dfdx[i] = dfdx[i] + wd * x[i] end end
  local clr = lr / (1 + nevals * lrd)
  if not state.dfdx then
    state.dfdx = vec(N)
  else
    for i = 1, N do state.dfdx[i] = state.dfdx[i] * mom end
  end
  local delta = dfdx
  if lrs then
    delta = vec(N)
    for i = 1, N do delta[i] = lrs[i] * dfdx[i] end
  end
  for i = 1, N do x[i] = x[i] + (-clr) * delta[i] end
  for i = 1, N do state.dfdx[i] = state.dfdx[i] + (-clr) * delta[i] end
  state.evalCounter = state.evalCounter + 1
  return x, {fx}
end

function optim.asgd(opfunc, x, config, state)
  local state = state or config
  config.eta0 = config.eta0 or 1e-4
  config.lambda = config.lambda or 1e-4
  config.alpha = config.alpha or 0.75
  config.t0 = config.t0 or 1e6
  state.eta_t = state.eta_t or config.eta0
  state.mu_t = state.mu_t or 1
  state.t = state.t or 0
  local fx, dfdx = opfunc(x)
  for i = 1, N do x[i] = x[i] * (1 - config.lambda * state.eta_t) end
  for i = 1, N do x[i] = x[i] + (-state.eta_t) * dfdx[i] end
  state.ax = state.ax or vec(N)
  state.tmp = state.tmp or vec(N)
  if state.mu_t ~= 1 then
    for i = 1, N do state.tmp[i] = x[i] end
    for i = 1, N do state.tmp[i] = (state.tmp[i] + (-1) * state.ax[i]) * state.mu_t end
    for i = 1, N do state.ax[i] = state.ax[i] + state.tmp[i] end
  else
    for i = 1, N do state.ax[i] = x[i] end
  end
  state.t = state.t + 1
  state.eta_t = config.eta0 / math.pow((1 + config.lambda * config.eta0 * state.t), config.alpha)
  state.mu_t = 1 / max(1, state.t - config.t0)
  return x, {fx}, state.ax
end

function optim.rprop(opfunc, x, config, state)
  local state = state or config
  local stepsize = config.stepsize or 0.1
  local etaplus = config.etaplus or 1.2
  local etaminus = config.etaminus or 0.5
  local stepsizemax = config.stepsizemax or 50.0
  local stepsizemin = config.stepsizemin or 1E-06
  local niter = config.niter or 1
  local hfx = {}
  for _ = 1, niter do
    local fx, dfdx = opfunc(x)
    if not state.delta then
      state.delta = vec(N)
      state.stepsize = vec(N, stepsize)
      state.sign = vec(N)
    end
    local psign, nsign, zsign = {}, {}, {}
    for i = 1, N do state.sign[i] = sign(dfdx[i] * state.delta[i]) end
    for i = 1, N do
      psign[i] = state.sign[i] > 0; nsign[i] = state.sign[i] < 0; zsign[i] = state.sign[i] == 0
    end
    for i = 1, N do
      if psign[i] then state.sign[i] = etaplus end
      if nsign[i] then state.sign[i] = etaminus end
      if zsign[i] then state.sign[i] = 1 end
    end
    for i = 1, N do state.stepsize[i] = state.stepsize[i] * state.sign[i] end
    for i = 1, N do if state.stepsize[i] > stepsizemax then state.stepsize[i] = stepsizemax end end
    for i = 1, N do if state.stepsize[i] < stepsizemin then state.stepsize[i] = stepsizemin end end
    for i = 1, N do if nsign[i] then dfdx[i] = 0 end end
    for i = 1, N do state.sign[i] = sign(dfdx[i]) end
    for i = 1, N do x[i] = x[i] + (-1) * state.sign[i] * state.stepsize[i] end
    state.delta = copy(dfdx)
    hfx[#hfx + 1] = fx
  end
  return x, hfx
end

function optim.cg(opfunc, x, config, state)
  local state = state or config
  local rho = config.rho or 0.01
  local sig = config.sig or 0.5
  local int = config.int or 0.1
  local ext = config.ext or 3.0
  local maxIter = config.maxIter or 20
  local ratio = config.ratio or 100
  local maxEval = config.maxEval or maxIter * 1.25
  local red = 1
  local i = 0
  local ls_failed = 0
  local fx = {}
  local z1, z2, z3 = 0, 0, 0
  local d1, d2, d3 = 0, 0, 0
  local f1, f2, f3 = 0, 0, 0
  local df1 = state.df1 or vec(N)
  local df2 = state.df2 or vec(N)
  local df3 = state.df3 or vec(N)
  local tdf
  local s = state.s or vec(N)
  local x0 = state.x0 or vec(N)
  local f0 = 0
  local df0 = state.df0 or vec(N)
  local function set(dst, src) for k = 1, N do dst[k] = src[k] end end
  local function axpy(a, v) for k = 1, N do x[k] = x[k] + a * v[k] end end

  f1, tdf = opfunc(x)
  fx[#fx + 1] = f1
  set(df1, tdf)
  i = i + 1
  for k = 1, N do s[k] = -df1[k] end
  d1 = -dot(s, s)
  z1 = red / (1 - d1)
  while i < abs(maxEval) do
    set(x0, x); f0 = f1; set(df0, df1)
    axpy(z1, s)
    f2, tdf = opfunc(x); set(df2, tdf)
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
        axpy(z2, s)
        f2, tdf = opfunc(x); set(df2, tdf)
        i = i + 1
        m = m - 1
        d2 = dot(df2, s)
        z3 = z3 - z2
      end
      if f2 > f1 + z1 * rho * d1 or d2 > -sig * d1 then break
      elseif d2 > sig * d1 then success = 1 break
      elseif m == 0 then break end
      local A = 6 * (f2 - f3) / z3 + 3 * (d2 + d3)
      local B = 3 * (f3 - f2) - z3 * (d3 + 2 * d2)
      z2 = -d2 * z3 * z3 / (B + sqrt(B * B - A * d2 * z3 * z3))
      if z2 ~= z2 or z2 == math.huge or z2 == -math.huge or z2 < 0 then
        if limit < -0.5 then z2 = z1 * (ext - 1) else z2 = (limit - z1) / 2 end
      elseif (limit > -0.5) and (z2 + z1) > limit then z2 = (limit - z1) / 2
      elseif limit < -0.5 and (z2 + z1) > z1 * ext then z2 = z1 * (ext - 1)
      elseif z2 < -z3 * int then z2 = -z3 * int
      elseif limit > -0.5 and z2 < (limit - z1) * (1 - int) then z2 = (limit - z1) * (1 - int) end
      f3 = f2; d3 = d2; z3 = -z2
      z1 = z1 + z2
      axpy(z2, s)
      f2, tdf = opfunc(x); set(df2, tdf)
      i = i + 1
      m = m - 1
      d2 = dot(df2, s)
    end
    if success == 1 then
      f1 = f2
      fx[#fx + 1] = f1
      local ss = (dot(df2, df2) - dot(df2, df1)) / dot(df1, df1)
      for k = 1, N do s[k] = s[k] * ss end
      for k = 1, N do s[k] = s[k] + (-1) * df2[k] end
      local tmp = copy(df1); set(df1, df2); set(df2, tmp)
      d2 = dot(df1, s)
      if d2 > 0 then
        for k = 1, N do s[k] = -df1[k] end
        d2 = -dot(s, s)
      end
      z1 = z1 * min(ratio, d1 / (d2 - 1e-320))
      d1 = d2
      ls_failed = 0
    else
      set(x, x0); f1 = f0; set(df1, df0)
      if ls_failed or i > maxEval then break end
      local tmp = copy(df1); set(df1, df2); set(df2, tmp)
      for k = 1, N do s[k] = -df1[k] end
      d1 = -dot(s, s)
      z1 = 1 / (1 - d1)
      ls_failed = 1
    end
  end
  state.df0, state.df1, state.df2, state.df3, state.x0, state.s = df0, df1, df2, df3, x0, s
  return x, fx, i
end

-- polyinterp for two points, as lswolfe calls it (see gd.optim.torch7 for the
-- derivation); here the general path solves the 4x4 system by Cramer's rule,
-- a different route from gdlua's elimination.
local function det4(m)
  local function det3(a, b, c, d, e, f, g, h, i) return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g) end
  return m[1][1] * det3(m[2][2], m[2][3], m[2][4], m[3][2], m[3][3], m[3][4], m[4][2], m[4][3], m[4][4])
       - m[1][2] * det3(m[2][1], m[2][3], m[2][4], m[3][1], m[3][3], m[3][4], m[4][1], m[4][3], m[4][4])
       + m[1][3] * det3(m[2][1], m[2][2], m[2][4], m[3][1], m[3][2], m[3][4], m[4][1], m[4][2], m[4][4])
       - m[1][4] * det3(m[2][1], m[2][2], m[2][3], m[3][1], m[3][2], m[3][3], m[4][1], m[4][2], m[4][3])
end

local function polyinterp(points, xminBound, xmaxBound)
  if not xminBound and not xmaxBound then
    local minPos = points[2][1] < points[1][1] and 2 or 1
    local notMinPos = -minPos + 3
    local P = points
    local d1 = P[minPos][3] + P[notMinPos][3] - 3 * (P[minPos][2] - P[notMinPos][2]) / (P[minPos][1] - P[notMinPos][1])
    local d2 = sqrt(d1 ^ 2 - P[minPos][3] * P[notMinPos][3])
    if d2 == d2 then
      local t = P[notMinPos][1] - (P[notMinPos][1] - P[minPos][1]) *
                ((P[notMinPos][3] + d2 - d1) / (P[notMinPos][3] - P[minPos][3] + 2 * d2))
      return min(max(t, P[minPos][1]), P[notMinPos][1])
    end
    return (P[1][1] + P[2][1]) / 2
  end
  local x1, x2 = points[1][1], points[2][1]
  xminBound = xminBound or min(x1, x2)
  xmaxBound = xmaxBound or max(x1, x2)
  local A = {{x1 ^ 3, x1 ^ 2, x1, 1}, {x2 ^ 3, x2 ^ 2, x2, 1}, {3 * x1 ^ 2, 2 * x1, 1, 0}, {3 * x2 ^ 2, 2 * x2, 1, 0}}
  local b = {points[1][2], points[2][2], points[1][3], points[2][3]}
  local D = det4(A)
  local params = {}
  for c = 1, 4 do
    local M = {}
    for r = 1, 4 do M[r] = copy(A[r]); M[r][c] = b[r] end
    params[c] = det4(M) / D
  end
  for k = 1, 4 do if abs(params[k]) <= 1e-12 then params[k] = 0 end end
  local dP = {params[1] * 3, params[2] * 2, params[3]}
  for k = 1, 3 do if abs(dP[k]) < 1e-12 then dP[k] = 0 end end
  local cp = {xminBound, xmaxBound, x1, x2}
  if dP[1] ~= 0 then
    local disc = dP[2] * dP[2] - 4 * dP[1] * dP[3]
    if disc >= 0 then
      cp[#cp + 1] = (-dP[2] + sqrt(disc)) / (2 * dP[1])
      cp[#cp + 1] = (-dP[2] - sqrt(disc)) / (2 * dP[1])
    end
  elseif dP[2] ~= 0 then
    cp[#cp + 1] = -dP[3] / dP[2]
  else
    cp[#cp + 1] = 0
  end
  local fmin = math.huge
  local minPos = (xminBound + xmaxBound) / 2
  for _, v in ipairs(cp) do
    if v >= xminBound and v <= xmaxBound then
      local fv = 0 + params[1] * v ^ 3 + params[2] * v ^ 2 + params[3] * v ^ 1 + params[4] * v ^ 0
      if fv < fmin then minPos, fmin = v, fv end
    end
  end
  return minPos, fmin
end

function optim.lswolfe(opfunc, x, t, d, f, g, gtd, options)
  options = options or {}
  local c1 = options.c1 or 1e-4
  local c2 = options.c2 or 0.9
  local tolX = options.tolX or 1e-9
  local maxIter = options.maxIter or 20
  local x_init = copy(x)
  for k = 1, N do x[k] = x[k] + t * d[k] end
  local f_new, g_new = opfunc(x)
  g_new = copy(g_new)
  local lsFuncEval = 1
  local gtd_new = dot(g_new, d)
  local LSiter, t_prev, done = 0, 0, false
  local f_prev, g_prev, gtd_prev = f, copy(g), gtd
  local bracket, bracketFval, bracketGval
  while LSiter < maxIter do
    if (f_new > (f + c1 * t * gtd)) or (LSiter > 1 and f_new >= f_prev) then
      bracket, bracketFval, bracketGval = {t_prev, t}, {f_prev, f_new}, {copy(g_prev), copy(g_new)}
      break
    elseif abs(gtd_new) <= -c2 * gtd then
      bracket, bracketFval, bracketGval = {t}, {f_new}, {copy(g_new)}
      done = true
      break
    elseif gtd_new >= 0 then
      bracket, bracketFval, bracketGval = {t_prev, t}, {f_prev, f_new}, {copy(g_prev), copy(g_new)}
      break
    end
    local tmp = t_prev
    t_prev = t
    local minStep = t + 0.01 * (t - tmp)
    local maxStep = t * 10
    t = polyinterp({{tmp, f_prev, gtd_prev}, {t, f_new, gtd_new}}, minStep, maxStep)
    f_prev = f_new
    g_prev = copy(g_new)
    gtd_prev = gtd_new
    for k = 1, N do x[k] = x_init[k] + t * d[k] end
    f_new, g_new = opfunc(x)
    g_new = copy(g_new)
    lsFuncEval = lsFuncEval + 1
    gtd_new = dot(g_new, d)
    LSiter = LSiter + 1
  end
  if LSiter == maxIter then
    bracket, bracketFval, bracketGval = {0, t}, {f, f_new}, {copy(g), copy(g_new)}
  end
  local insufProgress = false
  local function bmax() local m = bracket[1] for k = 2, #bracket do m = max(m, bracket[k]) end return m end
  local function bmin() local m = bracket[1] for k = 2, #bracket do m = min(m, bracket[k]) end return m end
  local function lopos()
    local p = 1
    for k = 2, #bracketFval do if bracketFval[k] < bracketFval[p] then p = k end end
    return p
  end
  while not done and LSiter < maxIter do
    local LOpos = lopos()
    local f_LO = bracketFval[LOpos]
    local HIpos = -LOpos + 3
    t = polyinterp({{bracket[1], bracketFval[1], dot(bracketGval[1], d)},
                    {bracket[2], bracketFval[2], dot(bracketGval[2], d)}})
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
    for k = 1, N do x[k] = x_init[k] + t * d[k] end
    f_new, g_new = opfunc(x)
    g_new = copy(g_new)
    lsFuncEval = lsFuncEval + 1
    gtd_new = dot(g_new, d)
    LSiter = LSiter + 1
    if f_new > f + c1 * t * gtd or f_new >= f_LO then
      bracket[HIpos] = t; bracketFval[HIpos] = f_new; bracketGval[HIpos] = copy(g_new)
    else
      if abs(gtd_new) <= -c2 * gtd then
        done = true
      elseif gtd_new * (bracket[HIpos] - bracket[LOpos]) >= 0 then
        bracket[HIpos] = bracket[LOpos]; bracketFval[HIpos] = bracketFval[LOpos]
        bracketGval[HIpos] = copy(bracketGval[LOpos])
      end
      bracket[LOpos] = t; bracketFval[LOpos] = f_new; bracketGval[LOpos] = copy(g_new)
    end
    if not done and abs((bracket[1] - bracket[2]) * gtd_new) < tolX then break end
  end
  local LOpos = lopos()
  t = bracket[LOpos]
  f_new = bracketFval[LOpos]
  g_new = bracketGval[LOpos]
  for k = 1, N do x[k] = x_init[k] + t * d[k] end
  return f_new, g_new, x, t, lsFuncEval
end

function optim.lbfgs(opfunc, x, config, state)
  local state = state or config
  local maxIter = tonumber(config.maxIter) or 20
  local maxEval = tonumber(config.maxEval) or maxIter * 1.25
  local tolFun = config.tolFun or 1e-5
  local tolX = config.tolX or 1e-9
  local nCorrection = config.nCorrection or 100
  local lineSearch = config.lineSearch
  local lineSearchOpts = config.lineSearchOptions
  local learningRate = config.learningRate or 1
  state.funcEval = state.funcEval or 0
  state.nIter = state.nIter or 0
  local f, g = opfunc(x)
  g = copy(g)
  local f_hist = {f}
  local currentFuncEval = 1
  state.funcEval = state.funcEval + 1
  if asum(g) <= tolFun then return x, f_hist end
  local d, t = state.d, state.t
  local old_dirs, old_stps = state.old_dirs, state.old_stps
  local Hdiag, g_old, f_old = state.Hdiag, state.g_old, state.f_old
  local nIter = 0
  while nIter < maxIter do
    nIter = nIter + 1
    state.nIter = state.nIter + 1
    if state.nIter == 1 then
      d = {}
      for k = 1, N do d[k] = g[k] * -1 end
      old_dirs, old_stps = {}, {}
      Hdiag = 1
    else
      local y, s = {}, {}
      for k = 1, N do y[k] = g[k] + (-1) * g_old[k] end
      for k = 1, N do s[k] = d[k] * t end
      local ys = dot(y, s)
      if ys > 1e-10 then
        if #old_dirs == nCorrection then
          table.remove(old_dirs, 1)
          table.remove(old_stps, 1)
        end
        table.insert(old_dirs, s)
        table.insert(old_stps, y)
        Hdiag = ys / dot(y, y)
      end
      local k = #old_dirs
      local ro, al = {}, {}
      for i = 1, k do ro[i] = 1 / dot(old_stps[i], old_dirs[i]) end
      local q = {}
      for j = 1, N do q[j] = g[j] * -1 end
      for i = k, 1, -1 do
        al[i] = dot(old_dirs[i], q) * ro[i]
        for j = 1, N do q[j] = q[j] + (-al[i]) * old_stps[i][j] end
      end
      for j = 1, N do d[j] = q[j] * Hdiag end
      for i = 1, k do
        local be_i = dot(old_stps[i], d) * ro[i]
        for j = 1, N do d[j] = d[j] + (al[i] - be_i) * old_dirs[i][j] end
      end
    end
    g_old = copy(g)
    f_old = f
    local gtd = dot(g, d)
    if gtd > -tolX then break end
    if state.nIter == 1 then
      t = min(1, 1 / asum(g)) * learningRate
    else
      t = learningRate
    end
    local lsFuncEval = 0
    if lineSearch then
      f, g, x, t, lsFuncEval = lineSearch(opfunc, x, t, d, f, g, gtd, lineSearchOpts)
      g = copy(g)
      table.insert(f_hist, f)
    else
      for k = 1, N do x[k] = x[k] + t * d[k] end
      if nIter ~= maxIter then
        f, g = opfunc(x)
        g = copy(g)
        lsFuncEval = 1
        table.insert(f_hist, f)
      end
    end
    currentFuncEval = currentFuncEval + lsFuncEval
    state.funcEval = state.funcEval + lsFuncEval
    if nIter == maxIter then break end
    if currentFuncEval >= maxEval then break end
    if asum(g) <= tolFun then break end
    local st = 0
    for k = 1, N do st = st + abs(d[k] * t) end
    if st <= tolX then break end
    if abs(f - f_old) < tolX then break end
  end
  state.old_dirs, state.old_stps, state.Hdiag = old_dirs, old_stps, Hdiag
  state.g_old, state.f_old, state.t, state.d = g_old, f_old, t, d
  return x, f_hist, currentFuncEval
end

-- ------------------------------------------------------------ cases

-- Each case: the optimizer, its config, the problem, the number of calls.
-- `catches` says which wrong reading of Torch7 the case separates.
local LRS = {1.0, 0.5, 2.0, 1.5, 0.25, 0.8, 1.2, 0.6}
local WDS = {0.0, 0.1, 0.05, 0.2, 0.0, 0.3, 0.01, 0.1}
local CASES = {
  {name = "sgd momentum dampening lrdecay wd", optimizer = "sgd", steps = 20,
   config = {learningRate = 0.05, learningRateDecay = 0.1, weightDecay = 0.05, momentum = 0.9, dampening = 0.5},
   catches = "decay counted after the increment; dampening defaulting to 0; PyTorch's buffer rule"},
  {name = "sgd nesterov", optimizer = "sgd", steps = 20,
   config = {learningRate = 0.03, momentum = 0.8, dampening = 0, nesterov = true},
   catches = "Nesterov as PyTorch's g + mu*buf without the first-gradient start"},
  {name = "sgd learningRates weightDecays", optimizer = "sgd", steps = 20,
   config = {learningRate = 0.04, momentum = 0.5, learningRates = LRS, weightDecays = WDS},
   catches = "per-element rates/decays ignored or applied after momentum"},
  {name = "adagrad lrdecay wd", optimizer = "adagrad", steps = 20,
   config = {learningRate = 0.5, learningRateDecay = 0.05, weightDecay = 0.1},
   catches = "an epsilon other than Torch7's fixed 1e-10 outside the root; decay timing"},
  {name = "rmsprop initialMean 1 eps 0.1", optimizer = "rmsprop", steps = 20,
   config = {learningRate = 0.05, alpha = 0.8, epsilon = 0.1, weightDecay = 0.05, initialMean = 1},
   catches = "epsilon inside the root (differs by ~0.05 here); the mean square starting at 0"},
  {name = "rmsprop defaults-start eps 0.2", optimizer = "rmsprop", steps = 20,
   config = {learningRate = 0.02, alpha = 0.9, epsilon = 0.2},
   catches = "initialMean defaulting to 1 (the 2016 version)"},
  {name = "adam lrdecay eps 0.1", optimizer = "adam", steps = 20,
   config = {learningRate = 0.1, learningRateDecay = 0.01, beta1 = 0.8, beta2 = 0.9, epsilon = 0.1, weightDecay = 0.05},
   catches = "PyTorch's eps after the bias-corrected sqrt (differs at eps 0.1)"},
  {name = "adamax eps 0.05", optimizer = "adamax", steps = 20,
   config = {learningRate = 0.1, beta1 = 0.8, beta2 = 0.9, epsilon = 0.05, weightDecay = 0.1},
   catches = "PyTorch's max(beta2*u, |g| + eps) vs eps added after; missing bias correction"},
  {name = "adadelta eps 0.1", optimizer = "adadelta", steps = 20,
   config = {rho = 0.8, eps = 0.1, weightDecay = 0.05},
   catches = "a learning rate multiplied in; eps outside the roots"},
  {name = "nag lrdecay wd", optimizer = "nag", steps = 20,
   config = {learningRate = 0.05, learningRateDecay = 0.1, momentum = 0.8, weightDecay = 0.02},
   catches = "gradient at x instead of the look-ahead point x + mom*v"},
  {name = "nag learningRates", optimizer = "nag", steps = 20,
   config = {learningRate = 0.05, momentum = 0.7, learningRates = LRS},
   catches = "per-element rates ignored in the velocity"},
  {name = "asgd averaging from t0 = 10", optimizer = "asgd", steps = 20,
   config = {eta0 = 0.1, lambda = 0.5, alpha = 0.6, t0 = 10},
   catches = "eta_t/mu_t updated before the step; averaging start off by one"},
  {name = "rprop niter 2 clamped", optimizer = "rprop", steps = 20,
   config = {stepsize = 0.05, etaplus = 1.3, etaminus = 0.4, stepsizemax = 0.2, stepsizemin = 0.01, niter = 2},
   catches = "the gradient not zeroed after a sign flip; clamp order; niter ignored"},
  {name = "cg rosenbrock", optimizer = "cg", steps = 6, problem = "rosenbrock",
   config = {maxIter = 8},
   catches = "line-search branch order, Torch7's truthy ls_failed, the evaluation count"},
  {name = "cg rosenbrock short line searches", optimizer = "cg", steps = 6, problem = "rosenbrock",
   config = {maxIter = 2, maxEval = 6},
   catches = "a failed line search retried (Torch7's ls_failed = 0 is true: it stops)"},
  {name = "lbfgs rosenbrock lswolfe c2 0.1", optimizer = "lbfgs", steps = 4, problem = "rosenbrock",
   config = {maxIter = 5, nCorrection = 5, lineSearch = "lswolfe", lineSearchOptions = {c2 = 0.1, maxIter = 10}},
   catches = "the zoom phase (a tight curvature condition brackets, then zooms)"},
  {name = "lbfgs rosenbrock lswolfe long first step", optimizer = "lbfgs", steps = 4, problem = "rosenbrock",
   config = {maxIter = 4, nCorrection = 5, learningRate = 30, lineSearch = "lswolfe"},
   catches = "the zoom phase: a first trial far past the minimum fails Armijo, is bracketed, then zoomed"},
  {name = "lbfgs rosenbrock lswolfe short first step", optimizer = "lbfgs", steps = 4, problem = "rosenbrock",
   config = {maxIter = 4, nCorrection = 5, learningRate = 0.02, lineSearch = "lswolfe",
             lineSearchOptions = {c2 = 0.5}},
   catches = "extrapolation: bounded cubic interpolation between minStep and maxStep"},
  {name = "lbfgs quadratic fixed step", optimizer = "lbfgs", steps = 6,
   config = {maxIter = 4, nCorrection = 3, learningRate = 0.7},
   catches = "history shift at nCorrection; first-iteration step min(1, 1/sum|g|) once per life"},
  {name = "lbfgs rosenbrock lswolfe", optimizer = "lbfgs", steps = 5, problem = "rosenbrock",
   config = {maxIter = 6, nCorrection = 4, lineSearch = "lswolfe"},
   catches = "the strong-Wolfe bracket/zoom and the cubic interpolation"},
}

local function num(v) return fmt("%.17g", v) end
local function arr(a)
  local p = {}
  for i = 1, #a do p[i] = num(a[i]) end
  return "{" .. table.concat(p, ", ") .. "}"
end
local function value(v)
  if type(v) == "table" and #v == 0 then   -- an options table
    local keys, p = {}, {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do p[#p + 1] = fmt("%s = %s", k, num(v[k])) end
    return "{" .. table.concat(p, ", ") .. "}"
  end
  if type(v) == "table" then return arr(v) end
  if type(v) == "number" then return num(v) end
  if type(v) == "string" then return fmt("%q", v) end
  return tostring(v)
end

local out = {}
out[#out + 1] = "-- Generated by scripts/golden/torch7_optim.lua (plain LuaJIT transcription of torch/optim); do not edit."
out[#out + 1] = "return {"
out[#out + 1] = fmt("  h = %s, c = %s, x0 = %s, rx0 = %s,", arr(H), arr(Cc), arr(X0), arr(RX0))
out[#out + 1] = "  cases = {"
for _, case in ipairs(CASES) do
  local config = {}
  for k, v in pairs(case.config) do
    if type(v) == "table" then
      local c = {}
      for kk, vv in pairs(v) do c[kk] = vv end
      v = c
    end
    config[k] = v
  end
  if config.lineSearch == "lswolfe" then config.lineSearch = optim.lswolfe end
  local rosen = case.problem == "rosenbrock"
  local x = copy(rosen and RX0 or X0)
  local traj, fs, evals, ax = {}, {}, {}, {}
  for t = 1, case.steps do
    local opfunc = rosen and rosenbrock or quadratic(t)
    local _, fh, third = optim[case.optimizer](opfunc, x, config)
    traj[t] = copy(x)
    fs[t] = copy(fh)
    if type(third) == "number" then evals[t] = third end
    if type(third) == "table" then ax[t] = copy(third) end
  end
  local keys = {}
  for k in pairs(case.config) do keys[#keys + 1] = k end
  table.sort(keys)
  local cfg = {}
  for _, k in ipairs(keys) do cfg[#cfg + 1] = fmt("%s = %s", k, value(case.config[k])) end
  out[#out + 1] = fmt("    {name = %q, optimizer = %q, problem = %q, steps = %d, catches = %q,",
                      case.name, case.optimizer, case.problem or "quadratic", case.steps, case.catches)
  out[#out + 1] = "     config = {" .. table.concat(cfg, ", ") .. "},"
  local rows = {}
  for t = 1, #traj do rows[t] = arr(traj[t]) end
  out[#out + 1] = "     traj = {" .. table.concat(rows, ",\n       ") .. "},"
  -- f values: for the optimizers that evaluate more than once per call
  if #fs[1] > 1 or #evals > 0 then
    rows = {}
    for t = 1, #fs do rows[t] = arr(fs[t]) end
    out[#out + 1] = "     f = {" .. table.concat(rows, ",\n       ") .. "},"
  end
  if #evals > 0 then out[#out + 1] = "     evals = " .. arr(evals) .. "," end
  if #ax > 0 then
    rows = {}
    for t = 1, #ax do rows[t] = arr(ax[t]) end
    out[#out + 1] = "     ax = {" .. table.concat(rows, ",\n       ") .. "},"
  end
  out[#out + 1] = "    },"
end
out[#out + 1] = "  },"
out[#out + 1] = "}"
print(table.concat(out, "\n"))
