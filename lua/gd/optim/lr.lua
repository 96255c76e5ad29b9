--- gd.optim.lr: learning-rate schedules (PyTorch's lr_scheduler, closed forms).
--
-- A schedule remembers each parameter group's initial lr; sched:step() moves
-- to the next epoch and writes the new lr into the optimizer (opt.hyper.lr,
-- per group), as PyTorch's schedulers do:
--
--   local sched = gd.optim.lr.StepLR(opt, {step_size = 30, gamma = 0.1})
--   for epoch = 1, 100 do train(); sched:step() end
local doc = require "gd.doc"
local check = require "gd.check"
local fmt = string.format

local M = {}
doc(M, "gd.optim.lr", [[
gd.optim.lr: learning-rate schedules, PyTorch's lr_scheduler in closed form.
  sched = gd.optim.lr.StepLR(opt, {step_size = 30, gamma = 0.1})
  for epoch = 1, 100 do train_one_epoch() sched:step() end
  sched:step([epoch]) writes the epoch's lr into every parameter group
  (opt.hyper.lr); sched:get_last_lr() -> {lr per group};
  sched:state_dict() / sched:load_state_dict(sd) for checkpoints.
  Schedules: StepLR, ExponentialLR, CosineAnnealingLR, LambdaLR, LinearLR
  (alias LinearWarmup); help(gd.optim.lr.StepLR) documents one.]])

local Schedule = {}
Schedule.__index = Schedule

local function new(name, opt, opts, allowed, factor)
  local fname = "gd.optim.lr." .. name
  if type(opt) ~= "table" or not opt.param_groups then
    error(fname .. ": argument 1 must be an optimizer (set up with parameters)", 3)
  end
  opts = check.options(fname, opts, allowed, 3)
  local s = setmetatable({name = name, optimizer = opt, last_epoch = 0, _factor = factor, _opts = opts,
                          base_lrs = {}}, Schedule)
  for i, g in ipairs(opt.param_groups) do s.base_lrs[i] = g.initial_lr or g.hyper.lr end
  return s
end

--- Advances one epoch (or to `epoch`) and sets every group's lr.
function Schedule:step(epoch)
  self.last_epoch = epoch or self.last_epoch + 1
  local f = self._factor(self.last_epoch, self._opts)
  for i, g in ipairs(self.optimizer.param_groups) do
    local lr = f(self.base_lrs[i])
    if type(lr) ~= "number" or lr ~= lr then
      error(fmt("gd.optim.lr.%s: the schedule gave lr %s at epoch %d", self.name, tostring(lr), self.last_epoch), 2)
    end
    g.hyper.lr = lr
  end
end

--- The lrs now in force, per group.
function Schedule:get_last_lr()
  local r = {}
  for i, g in ipairs(self.optimizer.param_groups) do r[i] = g.hyper.lr end
  return r
end

function Schedule:state_dict() return {last_epoch = self.last_epoch, base_lrs = {unpack(self.base_lrs)}} end
function Schedule:load_state_dict(sd)
  self.last_epoch = sd.last_epoch
  self.base_lrs = {unpack(sd.base_lrs)}
end
function Schedule:__tostring() return fmt("%s(epoch %d, lr %s)", self.name, self.last_epoch,
  table.concat(self:get_last_lr(), ", ")) end

local function positive_int(fname, what, v)
  check.number(fname, what, v, {integer = true, min = 1, level = 4})
end

-- factor(epoch, opts) returns a function of the base lr; closures keep the
-- schedules' closed forms in one place each.
M.StepLR = doc(function(opt, opts)
  local s = new("StepLR", opt, opts, {step_size = true, gamma = true}, function(epoch, o)
    return function(base) return base * (o.gamma or 0.1) ^ math.floor(epoch / o.step_size) end
  end)
  positive_int("gd.optim.lr.StepLR", "step_size", s._opts.step_size)
  return s
end, "gd.optim.lr.StepLR", [[
gd.optim.lr.StepLR(opt, {step_size, gamma = 0.1}): lr = base * gamma^floor(epoch/step_size).]])

M.ExponentialLR = doc(function(opt, opts)
  local s = new("ExponentialLR", opt, opts, {gamma = true}, function(epoch, o)
    return function(base) return base * o.gamma ^ epoch end
  end)
  check.number("gd.optim.lr.ExponentialLR", "gamma", s._opts.gamma, {min = 0, level = 3})
  return s
end, "gd.optim.lr.ExponentialLR", "gd.optim.lr.ExponentialLR(opt, {gamma}): lr = base * gamma^epoch.")

M.CosineAnnealingLR = doc(function(opt, opts)
  local s = new("CosineAnnealingLR", opt, opts, {T_max = true, eta_min = true}, function(epoch, o)
    return function(base)
      local eta_min = o.eta_min or 0
      return eta_min + (base - eta_min) * (1 + math.cos(math.pi * epoch / o.T_max)) / 2
    end
  end)
  positive_int("gd.optim.lr.CosineAnnealingLR", "T_max", s._opts.T_max)
  return s
end, "gd.optim.lr.CosineAnnealingLR", [[
gd.optim.lr.CosineAnnealingLR(opt, {T_max, eta_min = 0}):
  lr = eta_min + (base - eta_min) * (1 + cos(pi * epoch / T_max)) / 2.]])

M.LambdaLR = doc(function(opt, opts)
  local s = new("LambdaLR", opt, opts, {lr_lambda = true}, function(epoch, o)
    local f = o.lr_lambda(epoch)
    return function(base) return base * f end
  end)
  if type(s._opts.lr_lambda) ~= "function" then
    error("gd.optim.lr.LambdaLR: lr_lambda must be a function of the epoch", 2)
  end
  return s
end, "gd.optim.lr.LambdaLR", "gd.optim.lr.LambdaLR(opt, {lr_lambda = fn}): lr = base * fn(epoch).")

M.LinearLR = doc(function(opt, opts)
  local s = new("LinearLR", opt, opts, {start_factor = true, end_factor = true, total_iters = true},
    function(epoch, o)
      local a, b, n = o.start_factor or 1 / 3, o.end_factor or 1, o.total_iters or 5
      local f = a + (b - a) * math.min(epoch, n) / n
      return function(base) return base * f end
    end)
  local o = s._opts
  if o.total_iters ~= nil then positive_int("gd.optim.lr.LinearLR", "total_iters", o.total_iters) end
  if o.start_factor ~= nil then check.number("gd.optim.lr.LinearLR", "start_factor", o.start_factor, {min = 0, level = 3}) end
  -- the first epoch's lr takes effect now, as in PyTorch
  for i, g in ipairs(opt.param_groups) do
    g.hyper.lr = s.base_lrs[i] * (o.start_factor or 1 / 3)
  end
  return s
end, "gd.optim.lr.LinearLR", [[
gd.optim.lr.LinearLR(opt, {start_factor = 1/3, end_factor = 1, total_iters = 5}):
  linear warm-up: lr = base * (start + (end - start) * min(epoch, total) / total).]])
M.LinearWarmup = M.LinearLR

return M
