--- gd.nn.gradcheck: backward checked against central finite differences.
--
-- The module (or loss) is cloned and converted to float64 on the CPU; the
-- check then perturbs every element of the input and of each parameter by
-- +-eps and compares (L(x + eps) - L(x - eps)) / 2 eps with what backward
-- computed, where L is sum(output * r) for a fixed random r (a module: its
-- backward gets grad_out = r) or the loss value (a loss; for reduction "none"
-- the sum of the losses).  The random generator is rewound before every
-- forward, so Dropout draws the same mask each time.
local gd = require "gd.tensor"
local doc = require "gd.doc"
local check = require "gd.check"
local base = require "gd.nn.module"
local I = require "gd.aux"
local fmt = string.format

local OPTS = {eps = true, atol = true, rtol = true, max_elements = true}

local function is_loss(m)
  local Loss = base.registry.Loss
  local mt = getmetatable(m)
  while mt do
    if mt == Loss then return true end
    mt = mt.super
  end
  return false
end

local function to64(t)
  if t.dtype == "int64" then return t:to("cpu"):clone() end
  return t:to({dtype = "float64", device = "cpu"}):clone()
end

local function gradcheck(m, input, target, opts)
  local fname = "gd.nn.gradcheck"
  if type(m) ~= "table" or not m.forward then error(fname .. ": argument 1 must be a module or a loss", 2) end
  local loss = is_loss(m)
  if type(input) == "table" and not gd.is_tensor(input) then
    opts = target
    input, target = input[1], input[2]
  elseif loss == false and type(target) == "table" and not gd.is_tensor(target) then
    opts, target = target, nil
  end
  opts = check.options(fname, opts, OPTS)
  local eps, atol, rtol = opts.eps or 1e-6, opts.atol or 1e-5, opts.rtol or 1e-4
  local max_elements = opts.max_elements or 4096
  if not gd.is_tensor(input) then error(fname .. ": the input must be a tensor", 2) end
  if loss and target == nil then error(fname .. ": a loss needs a target: gradcheck(loss, pred, target)", 2) end

  local m64 = m:clone():to({dtype = "float64", device = "cpu"})
  local x = to64(input)
  local y_target = gd.is_tensor(target) and to64(target) or target
  local rng = gd.rng_state()
  local r   -- the random projection of a module's output

  local function value()
    gd.set_rng_state(rng)
    if loss then
      local v = m64:forward(x, y_target)
      if gd.is_tensor(v) then return v:sum() end
      return v
    end
    local y = m64:forward(x)
    if r == nil then
      r = gd.empty(y.shape, {dtype = "float64"})
      if I.C.gd_random_seeded_(r.c, 1, 0, 1, 20240607, 0) ~= 0 then error(fname .. ": " .. I.last_error(), 2) end
    end
    return (y * r):sum()
  end

  -- analytic gradients
  value()
  m64:zero_grad()
  gd.set_rng_state(rng)
  local gx
  if loss then
    local _, g = m64:forward(x, y_target)
    gx = g:clone()
  else
    m64:forward(x)
    gx = m64:backward(r)
    gx = gx and gx:clone()
  end
  local checks = {{name = "input", t = x, g = gx}}
  local sd = m64:state_dict()
  local names = {}
  for k in pairs(sd) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    -- buffers (BatchNorm's running statistics) have no gradient to check
    if sd[k].grad then checks[#checks + 1] = {name = k, t = sd[k], g = sd[k].grad:clone()} end
  end

  local worst, worst_where, worst_a, worst_n = 0, nil, 0, 0
  for _, c in ipairs(checks) do
    if c.g ~= nil then
      local flat = c.t:view(-1)
      local ga = c.g:reshape(-1)
      local n = math.min(flat:numel(), max_elements)
      for i = 1, n do
        local orig = flat:get(i)
        flat:set(i, orig + eps)
        local lp = value()
        flat:set(i, orig - eps)
        local lm = value()
        flat:set(i, orig)
        local num = (lp - lm) / (2 * eps)
        local ana = ga:get(i)
        local err = math.abs(num - ana) / (atol + rtol * math.abs(num))
        if err ~= err then err = math.huge end
        if err > worst then
          worst, worst_where, worst_a, worst_n = err, fmt("%s[%d]", c.name, i), ana, num
        end
      end
    end
  end
  if worst <= 1 then return true, fmt("%s: backward matches finite differences", m:describe()) end
  return false, fmt("%s: %s: backward gives %.10g, finite differences %.10g", m:describe(), worst_where,
    worst_a, worst_n)
end

return doc(gradcheck, "gd.nn.gradcheck", [[
gd.nn.gradcheck(module, input, [opts]) -> ok, message
gd.nn.gradcheck(loss, pred, target, [opts]) -> ok, message
  Compares backward with central finite differences in float64 (on a float64
  CPU clone of the module; the module itself is untouched), for every element
  of the input and of each parameter.  opts: eps (1e-6), atol (1e-5), rtol
  (1e-4), max_elements per tensor (4096).  The message names the worst element
  when the check fails.]])
