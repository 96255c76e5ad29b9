--- gd.optim.lr: learning-rate schedules, PyTorch 1.13's torch.optim.lr_scheduler.
--
-- Each schedule follows PyTorch's own structure, so that it behaves as a
-- PyTorch user expects in every corner:
--   * construction records each group's initial lr (base_lrs) and takes the
--     first step at once (last_epoch 0: LinearLR's, ConstantLR's and LambdaLR's
--     first factor apply now);
--   * sched:step() moves one epoch with PyTorch's *chainable* form: the new lr
--     is computed from the lr now in the group (opt.hyper.lr), so two schedules
--     on one optimizer compose, and a manual `opt.hyper.lr = x` between steps
--     is kept where PyTorch keeps it (StepLR, ExponentialLR, ...; CyclicLR,
--     OneCycleLR, CosineAnnealingWarmRestarts and LambdaLR compute from base
--     values and overwrite it, as PyTorch's do);
--   * sched:step(epoch) jumps to an epoch through the closed form where
--     PyTorch has one (StepLR, MultiStepLR, ConstantLR, LinearLR,
--     ExponentialLR, PolynomialLR, CosineAnnealingLR).
--
--   local sched = gd.optim.lr.StepLR(opt, {step_size = 30, gamma = 0.1})
--   for epoch = 1, 100 do train(); sched:step() end
--
-- Source: torch/optim/lr_scheduler.py (PyTorch 1.13); checked against its
-- sequences in spec/lr_spec.lua (scripts/golden/torch_optim_more.py).
local doc = require "gd.doc"
local check = require "gd.check"
local fmt = string.format
local floor, cos, pi = math.floor, math.cos, math.pi

check.register_internal() -- errors point at the user's line, past this file's frames

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
M.Schedule = Schedule

local function is_optimizer(opt) return type(opt) == "table" and type(opt.param_groups) == "table" end

local function groups_of(s) return s.optimizer.param_groups end

--- A per-group value from a number or a list of one per group (PyTorch's _format_param).
local function per_group(fname, opt, what, v, opts)
  local n = #opt.param_groups
  if type(v) == "table" then
    if #v ~= n then check.raise(fmt("%s: expected %d values for %s, got %d", fname, n, what, #v)) end
    local r = {}
    for i = 1, n do r[i] = check.number(fname, fmt("%s[%d]", what, i), v[i], opts) end
    return r
  end
  check.number(fname, what, v, opts)
  local r = {}
  for i = 1, n do r[i] = v end
  return r
end

--- A new schedule of class `cls` (not yet stepped).
local function new(cls, opt, opts, allowed)
  local fname = "gd.optim.lr." .. cls.name
  if not is_optimizer(opt) then check.raise(fname .. ": argument 1 must be an optimizer (set up with parameters)") end
  opts = check.options(fname, opts, allowed)
  local s = setmetatable({name = cls.name, optimizer = opt, last_epoch = -1, _step_count = 0, _fname = fname,
                          base_lrs = {}}, cls)
  for i, g in ipairs(opt.param_groups) do
    if g.initial_lr == nil then g.initial_lr = g.hyper.lr end -- PyTorch's setdefault('initial_lr', lr)
    s.base_lrs[i] = g.initial_lr
  end
  return s, opts
end

local function class(name, get_lr, closed_form)
  local cls = setmetatable({name = name, get_lr = get_lr, closed_form = closed_form}, {__index = Schedule})
  cls.__index = cls
  cls.__tostring = Schedule.__tostring
  return cls
end

--- Writes lrs (checked first: a bad value changes nothing).
local function apply(s, lrs)
  local groups = groups_of(s)
  for i = 1, #groups do
    local lr = lrs[i]
    if type(lr) ~= "number" or lr ~= lr or lr < 0 or lr == math.huge then
      return fmt("%s: the schedule gave lr %s for group %d at epoch %s", s._fname, tostring(lr), i,
        tostring(s.last_epoch))
    end
  end
  for i, g in ipairs(groups) do g.hyper.lr = lrs[i] end
  local last = {}
  for i, g in ipairs(groups) do last[i] = g.hyper.lr end
  s._last_lr = last
end

--- Advances one epoch (chainable form), or to `epoch` (the closed form where
-- PyTorch has one); sets every group's lr.
function Schedule:step(epoch)
  if epoch ~= nil then check.number(self._fname .. ":step", "epoch", epoch) end
  local saved_epoch, saved_count = self.last_epoch, self._step_count
  self._step_count = self._step_count + 1
  local ok, lrs
  if epoch == nil then
    self.last_epoch = self.last_epoch + 1
    ok, lrs = pcall(self.get_lr, self)
  else
    self.last_epoch = epoch
    ok, lrs = pcall(self.closed_form or self.get_lr, self)
  end
  local err = ok and apply(self, lrs) or (not ok and lrs)
  if err then
    self.last_epoch, self._step_count = saved_epoch, saved_count
    if type(err) ~= "string" then err = tostring(err) end
    if not err:find("^gd%.optim%.lr%.") then err = self._fname .. ": " .. err end
    check.raise(err)
  end
end

--- The lrs the last step set, per group.
function Schedule:get_last_lr()
  local r = {}
  for i, v in ipairs(self._last_lr or {}) do r[i] = v end
  return r
end

local function copy_plain(v)
  if type(v) ~= "table" then return v end
  local r = {}
  for k, x in pairs(v) do if type(x) ~= "function" then r[k] = copy_plain(x) end end
  return r
end

--- The schedule's state (numbers and tables of numbers), PyTorch-shaped;
-- nested schedules (SequentialLR, ChainedScheduler) give theirs in _schedulers.
function Schedule:state_dict()
  local sd = {}
  for k, v in pairs(self) do
    if k ~= "optimizer" and k ~= "_schedulers" and type(v) ~= "function" and not (type(v) == "table" and getmetatable(v)) then
      sd[k] = copy_plain(v)
    end
  end
  if self._schedulers then
    sd._schedulers = {}
    for i, sub in ipairs(self._schedulers) do sd._schedulers[i] = sub:state_dict() end
  end
  return sd
end

--- Restores what state_dict() gave.
function Schedule:load_state_dict(sd)
  if type(sd) ~= "table" then check.raise(self._fname .. ":load_state_dict: expects a table from state_dict()") end
  if sd.name ~= nil and sd.name ~= self.name then
    check.raise(fmt("%s:load_state_dict: the state is of %s", self._fname, tostring(sd.name)))
  end
  for k, v in pairs(sd) do
    if k ~= "_schedulers" and type(self[k]) ~= "function" then self[k] = copy_plain(v) end
  end
  if self._schedulers and sd._schedulers then
    for i, sub in ipairs(self._schedulers) do
      if sd._schedulers[i] then sub:load_state_dict(sd._schedulers[i]) end
    end
  end
end

function Schedule:__tostring()
  return fmt("%s(epoch %s, lr %s)", self.name, tostring(self.last_epoch), table.concat(self:get_last_lr(), ", "))
end

local function current_lrs(s)
  local r = {}
  for i, g in ipairs(groups_of(s)) do r[i] = g.hyper.lr end
  return r
end

local function scaled(s, f)
  local r = {}
  for i, g in ipairs(groups_of(s)) do r[i] = g.hyper.lr * f end
  return r
end

local function from_base(s, f)
  local r = {}
  for i, b in ipairs(s.base_lrs) do r[i] = f(b, i) end
  return r
end

local function positive_int(fname, what, v)
  check.number(fname, what, v, {integer = true, min = 1})
  return v
end

local function register(name, ctor, text)
  M[name] = doc(ctor, "gd.optim.lr." .. name, text)
end

-- ------------------------------------------------------------------ StepLR
local StepLR = class("StepLR", function(s)
  if s.last_epoch == 0 or s.last_epoch % s.step_size ~= 0 then return current_lrs(s) end
  return scaled(s, s.gamma)
end, function(s)
  return from_base(s, function(b) return b * s.gamma ^ floor(s.last_epoch / s.step_size) end)
end)
register("StepLR", function(opt, opts)
  local s, o = new(StepLR, opt, opts, {step_size = true, gamma = true})
  s.step_size = positive_int(s._fname, "step_size", o.step_size)
  s.gamma = check.number(s._fname, "gamma", o.gamma, {default = 0.1, min = 0})
  s:step()
  return s
end, [[
gd.optim.lr.StepLR(opt, {step_size, gamma = 0.1}): lr *= gamma every step_size epochs
  (closed form base * gamma^floor(epoch/step_size)).]])

-- ------------------------------------------------------------- MultiStepLR
local MultiStepLR = class("MultiStepLR", function(s)
  local k = s.milestones[s.last_epoch]
  if not k then return current_lrs(s) end
  return scaled(s, s.gamma ^ k)
end, function(s)
  local n = 0 -- bisect_right over the sorted milestones, repeats counted
  for m, k in pairs(s.milestones) do if m <= s.last_epoch then n = n + k end end
  return from_base(s, function(b) return b * s.gamma ^ n end)
end)
register("MultiStepLR", function(opt, opts)
  local s, o = new(MultiStepLR, opt, opts, {milestones = true, gamma = true})
  if type(o.milestones) ~= "table" then check.raise(s._fname .. ": milestones must be a list of epochs") end
  s.milestones = {} -- PyTorch's Counter: a milestone listed twice multiplies by gamma^2
  for i, m in ipairs(o.milestones) do
    check.number(s._fname, fmt("milestones[%d]", i), m, {integer = true})
    s.milestones[m] = (s.milestones[m] or 0) + 1
  end
  s.gamma = check.number(s._fname, "gamma", o.gamma, {default = 0.1, min = 0})
  s:step()
  return s
end, [[
gd.optim.lr.MultiStepLR(opt, {milestones = {e1, e2, ...}, gamma = 0.1}): lr *= gamma at each
  milestone (a milestone listed twice: gamma^2, as PyTorch's Counter).]])

-- -------------------------------------------------------------- ConstantLR
local ConstantLR = class("ConstantLR", function(s)
  if s.last_epoch == 0 then return scaled(s, s.factor) end
  if s.last_epoch ~= s.total_iters then return current_lrs(s) end
  return scaled(s, 1.0 / s.factor)
end, function(s)
  return from_base(s, function(b) return b * (s.factor + (s.last_epoch >= s.total_iters and 1 or 0) * (1 - s.factor)) end)
end)
register("ConstantLR", function(opt, opts)
  local s, o = new(ConstantLR, opt, opts, {factor = true, total_iters = true})
  s.factor = check.number(s._fname, "factor", o.factor, {default = 1 / 3, min = 0, max = 1})
  s.total_iters = check.number(s._fname, "total_iters", o.total_iters, {default = 5, integer = true, min = 0})
  s:step()
  return s
end, [[
gd.optim.lr.ConstantLR(opt, {factor = 1/3, total_iters = 5}): lr * factor until epoch
  total_iters, then lr.]])

-- ---------------------------------------------------------------- LinearLR
local LinearLR = class("LinearLR", function(s)
  if s.last_epoch == 0 then return scaled(s, s.start_factor) end
  if s.last_epoch > s.total_iters then return current_lrs(s) end
  local a, b = s.start_factor, s.end_factor
  return scaled(s, 1 + (b - a) / (s.total_iters * a + (s.last_epoch - 1) * (b - a)))
end, function(s)
  local a, b = s.start_factor, s.end_factor
  return from_base(s, function(base)
    return base * (a + (b - a) * math.min(s.total_iters, s.last_epoch) / s.total_iters)
  end)
end)
register("LinearLR", function(opt, opts)
  local s, o = new(LinearLR, opt, opts, {start_factor = true, end_factor = true, total_iters = true})
  s.start_factor = check.number(s._fname, "start_factor", o.start_factor, {default = 1 / 3, min = 0, max = 1})
  s.end_factor = check.number(s._fname, "end_factor", o.end_factor, {default = 1, min = 0, max = 1})
  s.total_iters = positive_int(s._fname, "total_iters", o.total_iters or 5)
  s:step()
  return s
end, [[
gd.optim.lr.LinearLR(opt, {start_factor = 1/3, end_factor = 1, total_iters = 5}): linear
  warm-up: lr = base * (start + (end - start) * min(epoch, total) / total).  (alias LinearWarmup)]])
M.LinearWarmup = M.LinearLR

-- ----------------------------------------------------------- ExponentialLR
local ExponentialLR = class("ExponentialLR", function(s)
  if s.last_epoch == 0 then return current_lrs(s) end
  return scaled(s, s.gamma)
end, function(s) return from_base(s, function(b) return b * s.gamma ^ s.last_epoch end) end)
register("ExponentialLR", function(opt, opts)
  local s, o = new(ExponentialLR, opt, opts, {gamma = true})
  s.gamma = check.number(s._fname, "gamma", o.gamma, {min = 0})
  s:step()
  return s
end, "gd.optim.lr.ExponentialLR(opt, {gamma}): lr *= gamma every epoch.")

-- ------------------------------------------------------------ PolynomialLR
local PolynomialLR = class("PolynomialLR", function(s)
  if s.last_epoch == 0 or s.last_epoch > s.total_iters then return current_lrs(s) end
  local n = s.total_iters
  return scaled(s, ((1 - s.last_epoch / n) / (1 - (s.last_epoch - 1) / n)) ^ s.power)
end, function(s)
  return from_base(s, function(b) return b * (1 - math.min(s.total_iters, s.last_epoch) / s.total_iters) ^ s.power end)
end)
register("PolynomialLR", function(opt, opts)
  local s, o = new(PolynomialLR, opt, opts, {total_iters = true, power = true})
  s.total_iters = positive_int(s._fname, "total_iters", o.total_iters or 5)
  s.power = check.number(s._fname, "power", o.power, {default = 1})
  s:step()
  return s
end, [[
gd.optim.lr.PolynomialLR(opt, {total_iters = 5, power = 1}):
  lr = base * (1 - min(epoch, total_iters)/total_iters)^power.]])

-- ------------------------------------------------------- CosineAnnealingLR
local CosineAnnealingLR = class("CosineAnnealingLR", function(s)
  local e, T, eta = s.last_epoch, s.T_max, s.eta_min
  if e == 0 then return current_lrs(s) end
  if s._step_count == 1 and e > 0 then
    return from_base(s, function(b) return eta + (b - eta) * (1 + cos(e * pi / T)) / 2 end)
  end
  local r = {}
  if (e - 1 - T) % (2 * T) == 0 then
    for i, g in ipairs(groups_of(s)) do r[i] = g.hyper.lr + (s.base_lrs[i] - eta) * (1 - cos(pi / T)) / 2 end
    return r
  end
  for i, g in ipairs(groups_of(s)) do
    r[i] = (1 + cos(pi * e / T)) / (1 + cos(pi * (e - 1) / T)) * (g.hyper.lr - eta) + eta
  end
  return r
end, function(s)
  return from_base(s, function(b) return s.eta_min + (b - s.eta_min) * (1 + cos(pi * s.last_epoch / s.T_max)) / 2 end)
end)
register("CosineAnnealingLR", function(opt, opts)
  local s, o = new(CosineAnnealingLR, opt, opts, {T_max = true, eta_min = true})
  s.T_max = positive_int(s._fname, "T_max", o.T_max)
  s.eta_min = check.number(s._fname, "eta_min", o.eta_min, {default = 0, min = 0})
  s:step()
  return s
end, [[
gd.optim.lr.CosineAnnealingLR(opt, {T_max, eta_min = 0}): PyTorch's chainable cosine
  annealing (closed form eta_min + (base - eta_min) * (1 + cos(pi * epoch / T_max)) / 2).]])

-- ------------------------------------------------ LambdaLR, MultiplicativeLR
--- Calls a user's lambda; a failure or a non-number is a gd error naming it.
local function call_lambda(s, i, epoch)
  local f = s.lr_lambdas[i]
  local ok, v = pcall(f, epoch)
  if not ok then
    error(fmt("%s: lr_lambda%s failed at epoch %d: %s", s._fname, #s.lr_lambdas > 1 and "[" .. i .. "]" or "",
      epoch, tostring(v)), 0)
  end
  if type(v) ~= "number" or v ~= v then
    error(fmt("%s: lr_lambda%s returned %s at epoch %d (a number is needed)", s._fname,
      #s.lr_lambdas > 1 and "[" .. i .. "]" or "", type(v) == "number" and "NaN" or type(v), epoch), 0)
  end
  return v
end

local function lambdas(s, fname, f)
  local n = #s.optimizer.param_groups
  if type(f) == "function" then
    s.lr_lambdas = {}
    for i = 1, n do s.lr_lambdas[i] = f end
  elseif type(f) == "table" then
    if #f ~= n then check.raise(fmt("%s: expected %d lr_lambdas, but got %d", fname, n, #f)) end
    for i = 1, n do
      if type(f[i]) ~= "function" then check.raise(fmt("%s: lr_lambda[%d] must be a function of the epoch", fname, i)) end
    end
    s.lr_lambdas = {unpack(f)}
  else
    check.raise(fmt("%s: lr_lambda must be a function of the epoch (or one per group), got %s", fname, type(f)))
  end
end

local LambdaLR = class("LambdaLR", function(s)
  return from_base(s, function(b, i) return b * call_lambda(s, i, s.last_epoch) end)
end)
register("LambdaLR", function(opt, opts)
  local s, o = new(LambdaLR, opt, opts, {lr_lambda = true})
  lambdas(s, s._fname, o.lr_lambda)
  s:step() -- lr = base * lr_lambda(0) now, as PyTorch does
  return s
end, [[
gd.optim.lr.LambdaLR(opt, {lr_lambda = fn or {fn1, fn2, ...}}): lr = base * fn(epoch); the
  constructor applies fn(0), as PyTorch does.  A failing or non-number fn is an error.]])

local MultiplicativeLR = class("MultiplicativeLR", function(s)
  if s.last_epoch <= 0 then return current_lrs(s) end
  local r = {}
  for i, g in ipairs(groups_of(s)) do r[i] = g.hyper.lr * call_lambda(s, i, s.last_epoch) end
  return r
end)
register("MultiplicativeLR", function(opt, opts)
  local s, o = new(MultiplicativeLR, opt, opts, {lr_lambda = true})
  lambdas(s, s._fname, o.lr_lambda)
  s:step()
  return s
end, "gd.optim.lr.MultiplicativeLR(opt, {lr_lambda = fn}): lr *= fn(epoch) from epoch 1.")

-- ---------------------------------------------------------------- CyclicLR
local function set_momentum(g, m, use_beta1)
  if use_beta1 then
    local b = g.hyper.betas
    g.hyper.betas = {m, b[2]}
  else
    g.hyper.momentum = m
  end
end

local CyclicLR = class("CyclicLR", function(s)
  local cycle = floor(1 + s.last_epoch / s.total_size)
  local x = 1 + s.last_epoch / s.total_size - cycle
  local sf = x <= s.step_ratio and x / s.step_ratio or (x - 1) / (s.step_ratio - 1)
  local arg = s.scale_mode == "cycle" and cycle or s.last_epoch
  local scale = s:scale_fn(arg)
  local lrs = {}
  for i = 1, #s.base_lrs do lrs[i] = s.base_lrs[i] + (s.max_lrs[i] - s.base_lrs[i]) * sf * scale end
  if s.cycle_momentum then
    for i, g in ipairs(groups_of(s)) do
      local bm, mm = s.base_momentums[i], s.max_momentums[i]
      set_momentum(g, mm - (mm - bm) * sf * scale, s.use_beta1)
    end
  end
  return lrs
end)
function CyclicLR:scale_fn(x)
  if self._scale_fn_custom then
    local ok, v = pcall(self._scale_fn_custom, x)
    if not ok or type(v) ~= "number" or v ~= v then
      error(fmt("%s: scale_fn %s at %s", self._fname, ok and "returned " .. tostring(v) or "failed: " .. tostring(v), x), 0)
    end
    return v
  end
  if self.mode == "triangular" then return 1.0 end
  if self.mode == "triangular2" then return 1 / (2.0 ^ (x - 1)) end
  return self.gamma ^ x
end
register("CyclicLR", function(opt, opts)
  local s, o = new(CyclicLR, opt, opts, {base_lr = true, max_lr = true, step_size_up = true, step_size_down = true,
    mode = true, gamma = true, scale_fn = true, scale_mode = true, cycle_momentum = true, base_momentum = true,
    max_momentum = true})
  local fname = s._fname
  if o.base_lr == nil or o.max_lr == nil then check.raise(fname .. ": base_lr and max_lr are required") end
  local base_lrs = per_group(fname, opt, "base_lr", o.base_lr, {min = 0})
  s.max_lrs = per_group(fname, opt, "max_lr", o.max_lr, {min = 0})
  local up = check.number(fname, "step_size_up", o.step_size_up, {default = 2000, min = 1e-300})
  local down = check.number(fname, "step_size_down", o.step_size_down, {default = up, min = 0})
  s.total_size = up + down
  s.step_ratio = up / s.total_size
  s.mode = o.mode or "triangular"
  local modes = {triangular = "cycle", triangular2 = "cycle", exp_range = "iterations"}
  if o.scale_fn == nil and not modes[s.mode] then
    check.raise(fname .. ": " .. check.unknown_message("mode", tostring(s.mode), {"exp_range", "triangular", "triangular2"}))
  end
  s.gamma = check.number(fname, "gamma", o.gamma, {default = 1})
  if o.scale_fn ~= nil then
    if type(o.scale_fn) ~= "function" then check.raise(fname .. ": scale_fn must be a function") end
    s._scale_fn_custom = o.scale_fn
    s.scale_mode = o.scale_mode or "cycle"
    if s.scale_mode ~= "cycle" and s.scale_mode ~= "iterations" then
      check.raise(fname .. ": " .. check.unknown_message("scale_mode", tostring(s.scale_mode), {"cycle", "iterations"}))
    end
  else
    s.scale_mode = modes[s.mode]
  end
  s.cycle_momentum = o.cycle_momentum ~= false
  local base_m, max_m
  if s.cycle_momentum then
    if opt.param_groups[1].hyper.momentum == nil then
      check.raise(fname .. ": optimizer must support momentum with `cycle_momentum` option enabled")
    end
    base_m = per_group(fname, opt, "base_momentum", o.base_momentum or 0.8, {min = 0})
    max_m = per_group(fname, opt, "max_momentum", o.max_momentum or 0.9, {min = 0})
  end
  -- every check passed: now change the optimizer
  for i, g in ipairs(opt.param_groups) do g.hyper.lr = base_lrs[i] end
  if s.cycle_momentum then
    for i, g in ipairs(opt.param_groups) do g.hyper.momentum = base_m[i] end
    s.base_momentums, s.max_momentums = base_m, max_m
  end
  s.base_lrs = base_lrs
  s:step()
  return s
end, [[
gd.optim.lr.CyclicLR(opt, {base_lr, max_lr, step_size_up = 2000, step_size_down = step_size_up,
mode = "triangular" | "triangular2" | "exp_range", gamma = 1, scale_fn, scale_mode = "cycle",
cycle_momentum = true, base_momentum = 0.8, max_momentum = 0.9})
  Smith's cyclical lr (per batch); base_lr, max_lr and the momenta may be one per group.
  With cycle_momentum the optimizer's momentum cycles inversely (it needs a momentum).]])

-- -------------------------------------------------------------- OneCycleLR
local function anneal(strategy, a, b, pct)
  if strategy == "cos" then return b + (a - b) / 2.0 * (cos(pi * pct) + 1) end
  return (b - a) * pct + a
end

local OneCycleLR = class("OneCycleLR", function(s)
  local step = s.last_epoch
  if step > s.total_steps then
    error(fmt("%s: tried to step %d times; the specified number of total steps is %d", s._fname, step + 1,
      s.total_steps), 0)
  end
  local lrs, moms = {}, {}
  for gi, g in ipairs(groups_of(s)) do
    local start = 0
    for i, ph in ipairs(s._phases) do
      if step <= ph.end_step or i == #s._phases then
        local pct = (step - start) / (ph.end_step - start)
        lrs[gi] = anneal(s.anneal_strategy, g[ph.start_lr], g[ph.end_lr], pct)
        if s.cycle_momentum then moms[gi] = anneal(s.anneal_strategy, g[ph.start_m], g[ph.end_m], pct) end
        break
      end
      start = ph.end_step
    end
  end
  if s.cycle_momentum then
    for gi, g in ipairs(groups_of(s)) do set_momentum(g, moms[gi], s.use_beta1) end
  end
  return lrs
end)
register("OneCycleLR", function(opt, opts)
  local s, o = new(OneCycleLR, opt, opts, {max_lr = true, total_steps = true, epochs = true, steps_per_epoch = true,
    pct_start = true, anneal_strategy = true, cycle_momentum = true, base_momentum = true, max_momentum = true,
    div_factor = true, final_div_factor = true, three_phase = true})
  local fname = s._fname
  if o.total_steps ~= nil then
    s.total_steps = positive_int(fname, "total_steps", o.total_steps)
  elseif o.epochs ~= nil and o.steps_per_epoch ~= nil then
    s.total_steps = positive_int(fname, "epochs", o.epochs) * positive_int(fname, "steps_per_epoch", o.steps_per_epoch)
  else
    check.raise(fname .. ": give total_steps, or epochs and steps_per_epoch")
  end
  if o.max_lr == nil then check.raise(fname .. ": max_lr is required") end
  local pct = check.number(fname, "pct_start", o.pct_start, {default = 0.3, min = 0, max = 1})
  s.anneal_strategy = o.anneal_strategy or "cos"
  if s.anneal_strategy ~= "cos" and s.anneal_strategy ~= "linear" then
    check.raise(fname .. ": " .. check.unknown_message("anneal_strategy", tostring(s.anneal_strategy), {"cos", "linear"}))
  end
  local n = s.total_steps
  if o.three_phase then
    s._phases = {
      {end_step = pct * n - 1, start_lr = "initial_lr", end_lr = "max_lr", start_m = "max_momentum", end_m = "base_momentum"},
      {end_step = 2 * pct * n - 2, start_lr = "max_lr", end_lr = "initial_lr", start_m = "base_momentum", end_m = "max_momentum"},
      {end_step = n - 1, start_lr = "initial_lr", end_lr = "min_lr", start_m = "max_momentum", end_m = "max_momentum"},
    }
  else
    s._phases = {
      {end_step = pct * n - 1, start_lr = "initial_lr", end_lr = "max_lr", start_m = "max_momentum", end_m = "base_momentum"},
      {end_step = n - 1, start_lr = "max_lr", end_lr = "min_lr", start_m = "base_momentum", end_m = "max_momentum"},
    }
  end
  local max_lrs = per_group(fname, opt, "max_lr", o.max_lr, {min = 0})
  local div = check.number(fname, "div_factor", o.div_factor, {default = 25, min = 1e-300})
  local fdiv = check.number(fname, "final_div_factor", o.final_div_factor, {default = 1e4, min = 1e-300})
  s.cycle_momentum = o.cycle_momentum ~= false
  local max_m, base_m
  if s.cycle_momentum then
    local h = opt.param_groups[1].hyper
    if h.momentum == nil and h.betas == nil then
      check.raise(fname .. ": optimizer must support momentum with `cycle_momentum` option enabled")
    end
    s.use_beta1 = h.betas ~= nil
    max_m = per_group(fname, opt, "max_momentum", o.max_momentum or 0.95, {min = 0})
    base_m = per_group(fname, opt, "base_momentum", o.base_momentum or 0.85, {min = 0})
  end
  for i, g in ipairs(opt.param_groups) do
    g.initial_lr = max_lrs[i] / div
    g.max_lr = max_lrs[i]
    g.min_lr = g.initial_lr / fdiv
    if s.cycle_momentum then
      set_momentum(g, max_m[i], s.use_beta1)
      g.max_momentum, g.base_momentum = max_m[i], base_m[i]
    end
    s.base_lrs[i] = g.initial_lr
  end
  s:step()
  return s
end, [[
gd.optim.lr.OneCycleLR(opt, {max_lr, total_steps | epochs and steps_per_epoch, pct_start = 0.3,
anneal_strategy = "cos" | "linear", cycle_momentum = true, base_momentum = 0.85,
max_momentum = 0.95, div_factor = 25, final_div_factor = 1e4, three_phase = false})
  Smith's 1cycle policy (per batch): from max_lr/div_factor up to max_lr, then down to
  initial/final_div_factor; momentum (or Adam's beta1) cycles inversely.  Stepping past
  total_steps is an error, as in PyTorch.]])

-- ---------------------------------------------- CosineAnnealingWarmRestarts
local CosineAnnealingWarmRestarts = class("CosineAnnealingWarmRestarts", function(s)
  return from_base(s, function(b) return s.eta_min + (b - s.eta_min) * (1 + cos(pi * s.T_cur / s.T_i)) / 2 end)
end)
--- One epoch on, or to a (fractional) epoch: SGDR's restarts.
function CosineAnnealingWarmRestarts:step(epoch)
  local fname = self._fname .. ":step"
  local saved = {self.T_cur, self.T_i, self.last_epoch, self._step_count}
  if epoch == nil and self.last_epoch < 0 then epoch = 0 end
  if epoch == nil then
    epoch = self.last_epoch + 1
    self.T_cur = self.T_cur + 1
    if self.T_cur >= self.T_i then
      self.T_cur = self.T_cur - self.T_i
      self.T_i = self.T_i * self.T_mult
    end
  else
    check.number(fname, "epoch", epoch, {min = 0, finite = true})
    if epoch >= self.T_0 then
      if self.T_mult == 1 then
        self.T_cur = epoch % self.T_0
      else
        -- CPython's math.log(x, base) is log(x)/log(base): the same truncation here
        local n = floor(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1) / math.log(self.T_mult))
        self.T_cur = epoch - self.T_0 * (self.T_mult ^ n - 1) / (self.T_mult - 1)
        self.T_i = self.T_0 * self.T_mult ^ n
      end
    else
      self.T_i = self.T_0
      self.T_cur = epoch
    end
  end
  self.last_epoch = floor(epoch)
  self._step_count = self._step_count + 1
  local err = apply(self, self:get_lr())
  if err then
    self.T_cur, self.T_i, self.last_epoch, self._step_count = saved[1], saved[2], saved[3], saved[4]
    check.raise(err)
  end
end
register("CosineAnnealingWarmRestarts", function(opt, opts)
  local s, o = new(CosineAnnealingWarmRestarts, opt, opts, {T_0 = true, T_mult = true, eta_min = true})
  s.T_0 = positive_int(s._fname, "T_0", o.T_0)
  s.T_i = s.T_0
  s.T_mult = check.number(s._fname, "T_mult", o.T_mult, {default = 1, integer = true, min = 1})
  s.eta_min = check.number(s._fname, "eta_min", o.eta_min, {default = 0, min = 0})
  s.T_cur = -1
  s:step()
  return s
end, [[
gd.optim.lr.CosineAnnealingWarmRestarts(opt, {T_0, T_mult = 1, eta_min = 0}): SGDR
  (Loshchilov & Hutter): cosine over T_i epochs, restarting with T_i *= T_mult;
  sched:step(epoch) takes fractional epochs (per batch: epoch + i/iters).]])

-- -------------------------------------------------------- ReduceLROnPlateau
local ReduceLROnPlateau = setmetatable({name = "ReduceLROnPlateau"}, {__index = Schedule})
ReduceLROnPlateau.__index = ReduceLROnPlateau
ReduceLROnPlateau.__tostring = Schedule.__tostring

function ReduceLROnPlateau:is_better(a, best)
  if self.mode == "min" and self.threshold_mode == "rel" then return a < best * (1 - self.threshold) end
  if self.mode == "min" then return a < best - self.threshold end
  if self.threshold_mode == "rel" then return a > best * (self.threshold + 1) end
  return a > best + self.threshold
end

--- One epoch with its metric: reduces the lrs after `patience` epochs without improvement.
function ReduceLROnPlateau:step(metrics, epoch)
  local fname = self._fname .. ":step"
  if type(metrics) == "table" and metrics.item then metrics = metrics:item() end
  check.number(fname, "metrics", metrics)
  if epoch ~= nil then check.number(fname, "epoch", epoch) end
  self.last_epoch = epoch or self.last_epoch + 1
  if self:is_better(metrics, self.best) then
    self.best = metrics
    self.num_bad_epochs = 0
  else
    self.num_bad_epochs = self.num_bad_epochs + 1
  end
  if self.cooldown_counter > 0 then
    self.cooldown_counter = self.cooldown_counter - 1
    self.num_bad_epochs = 0
  end
  if self.num_bad_epochs > self.patience then
    for i, g in ipairs(groups_of(self)) do
      local old = g.hyper.lr
      local new_lr = math.max(old * self.factor, self.min_lrs[i])
      if old - new_lr > self.eps then g.hyper.lr = new_lr end
    end
    self.cooldown_counter = self.cooldown
    self.num_bad_epochs = 0
  end
  self._last_lr = current_lrs(self)
end

register("ReduceLROnPlateau", function(opt, opts)
  local fname = "gd.optim.lr.ReduceLROnPlateau"
  if not is_optimizer(opt) then check.raise(fname .. ": argument 1 must be an optimizer (set up with parameters)") end
  local o = check.options(fname, opts, {mode = true, factor = true, patience = true, threshold = true,
    threshold_mode = true, cooldown = true, min_lr = true, eps = true})
  local s = setmetatable({name = "ReduceLROnPlateau", optimizer = opt, _fname = fname, last_epoch = 0,
                          cooldown_counter = 0, num_bad_epochs = 0}, ReduceLROnPlateau)
  s.mode = o.mode or "min"
  if s.mode ~= "min" and s.mode ~= "max" then
    check.raise(fname .. ": " .. check.unknown_message("mode", tostring(s.mode), {"max", "min"}))
  end
  s.threshold_mode = o.threshold_mode or "rel"
  if s.threshold_mode ~= "rel" and s.threshold_mode ~= "abs" then
    check.raise(fname .. ": " .. check.unknown_message("threshold_mode", tostring(s.threshold_mode), {"abs", "rel"}))
  end
  s.factor = check.number(fname, "factor", o.factor, {default = 0.1, min = 0})
  if s.factor >= 1 then check.raise(fname .. ": factor should be < 1.0, got " .. s.factor) end
  s.patience = check.number(fname, "patience", o.patience, {default = 10, min = 0})
  s.threshold = check.number(fname, "threshold", o.threshold, {default = 1e-4})
  s.cooldown = check.number(fname, "cooldown", o.cooldown, {default = 0, min = 0})
  s.eps = check.number(fname, "eps", o.eps, {default = 1e-8})
  s.min_lrs = per_group(fname, opt, "min_lr", o.min_lr or 0, {min = 0})
  s.best = s.mode == "min" and math.huge or -math.huge
  s._last_lr = current_lrs(s)
  return s
end, [[
gd.optim.lr.ReduceLROnPlateau(opt, {mode = "min", factor = 0.1, patience = 10,
threshold = 1e-4, threshold_mode = "rel", cooldown = 0, min_lr = 0 (or one per group),
eps = 1e-8}); sched:step(metric) once per epoch: lr = max(lr*factor, min_lr) after
  more than `patience` epochs without an improvement beyond threshold.]])

-- ----------------------------------------------- SequentialLR, ChainedScheduler
local function schedule_list(fname, list)
  if type(list) ~= "table" or #list == 0 then check.raise(fname .. ": schedulers must be a list of schedules") end
  for i, s in ipairs(list) do
    if type(s) ~= "table" or getmetatable(s) == nil or type(s.step) ~= "function" or not s.optimizer then
      check.raise(fmt("%s: schedulers[%d] is not a schedule", fname, i))
    end
  end
  return list
end

local SequentialLR = setmetatable({name = "SequentialLR"}, {__index = Schedule})
SequentialLR.__index = SequentialLR
SequentialLR.__tostring = Schedule.__tostring

--- One epoch: the schedule whose milestone interval holds it steps (from 0 at its milestone).
function SequentialLR:step()
  self.last_epoch = self.last_epoch + 1
  local idx = 1
  for _, m in ipairs(self._milestones) do if m <= self.last_epoch then idx = idx + 1 end end
  local s = self._schedulers[idx]
  if idx > 1 and self._milestones[idx - 1] == self.last_epoch then s:step(0) else s:step() end
  self._last_lr = s:get_last_lr()
end

register("SequentialLR", function(opt, schedulers, milestones)
  local fname = "gd.optim.lr.SequentialLR"
  if not is_optimizer(opt) then check.raise(fname .. ": argument 1 must be an optimizer (set up with parameters)") end
  if type(schedulers) == "table" and schedulers.schedulers ~= nil and milestones == nil then
    check.options(fname, schedulers, {schedulers = true, milestones = true})
    schedulers, milestones = schedulers.schedulers, schedulers.milestones
  end
  schedule_list(fname, schedulers)
  for i, s in ipairs(schedulers) do
    if s.optimizer ~= opt then
      check.raise(fmt("%s: all schedulers must belong to the same optimizer; schedulers[%d] does not", fname, i))
    end
  end
  if type(milestones) ~= "table" or #milestones ~= #schedulers - 1 then
    check.raise(fmt("%s: expects one milestone fewer than schedulers (%d schedulers, %s milestones)", fname,
      #schedulers, type(milestones) == "table" and #milestones or "no"))
  end
  for i, m in ipairs(milestones) do check.number(fname, fmt("milestones[%d]", i), m, {integer = true, min = 0}) end
  local s = setmetatable({name = "SequentialLR", optimizer = opt, _fname = fname, last_epoch = 0,
                          _schedulers = schedulers, _milestones = {unpack(milestones)}}, SequentialLR)
  for _, g in ipairs(opt.param_groups) do g.hyper.lr = g.initial_lr end
  for _, sub in ipairs(schedulers) do sub.last_epoch = sub.last_epoch - 1 end
  schedulers[1]._step_count = 0
  schedulers[1]:step()
  s._last_lr = schedulers[1]:get_last_lr()
  return s
end, [[
gd.optim.lr.SequentialLR(opt, schedulers, milestones) (or (opt, {schedulers =, milestones =})):
  runs schedulers[1] until milestones[1], then schedulers[2] from its epoch 0, ...;
  e.g. a LinearLR warm-up, then CosineAnnealingLR.]])

local ChainedScheduler = setmetatable({name = "ChainedScheduler"}, {__index = Schedule})
ChainedScheduler.__index = ChainedScheduler
ChainedScheduler.__tostring = Schedule.__tostring

--- Steps every chained schedule, in order (their factors multiply).
function ChainedScheduler:step()
  for _, s in ipairs(self._schedulers) do s:step() end
  self._last_lr = current_lrs(self)
end

register("ChainedScheduler", function(schedulers)
  local fname = "gd.optim.lr.ChainedScheduler"
  schedule_list(fname, schedulers)
  for i = 2, #schedulers do
    if schedulers[i].optimizer ~= schedulers[1].optimizer then
      check.raise(fmt("%s: all schedulers must belong to the same optimizer; schedulers[%d] does not", fname, i))
    end
  end
  local s = setmetatable({name = "ChainedScheduler", optimizer = schedulers[1].optimizer, _fname = fname,
                          last_epoch = 0, _schedulers = {unpack(schedulers)}}, ChainedScheduler)
  s._last_lr = current_lrs(s)
  return s
end, [[
gd.optim.lr.ChainedScheduler({sched1, sched2, ...}): one step() steps them all (chainable
  schedules on one optimizer compose: their factors multiply).]])

doc(M, "gd.optim.lr", [[
gd.optim.lr: PyTorch 1.13's learning-rate schedules: StepLR, MultiStepLR, ConstantLR,
LinearLR (LinearWarmup), ExponentialLR, PolynomialLR, CosineAnnealingLR, LambdaLR,
MultiplicativeLR, CyclicLR, OneCycleLR, CosineAnnealingWarmRestarts, ReduceLROnPlateau,
SequentialLR, ChainedScheduler.  sched:step([epoch]), sched:get_last_lr(),
sched:state_dict() / load_state_dict(sd).  The chainable forms compose and keep a manual
opt.hyper.lr change where PyTorch keeps it.]])

return M
