--- gd.optim.LBFGS: PyTorch 1.13's torch.optim.LBFGS (Nocedal & Wright, alg. 7.4
-- two-loop recursion; line search: alg. 3.5/3.6 strong Wolfe with cubic
-- interpolation, as minFunc's), written over whole-tensor ops on one flat
-- vector, in PyTorch's order of operations, so that a trajectory and the
-- number of closure calls per step match PyTorch's (spec/optim_more_spec.lua).
-- It is not element-wise: each iteration is a few vector ops and dots, and the
-- closure (the model's forward and backward) dominates.
--
--   local opt = gd.optim.LBFGS({x}, {lr = 1, line_search_fn = "strong_wolfe"})
--   opt:step(function() opt:zero_grad(); f.grad(x, x.grad); return f.f(x) end)
--
-- Source: torch/optim/lbfgs.py (PyTorch 1.13).
local gd = require "gd.tensor"
local doc = require "gd.doc"
local check = require "gd.check"
local fmt = string.format
local abs, min, max, sqrt = math.abs, math.min, math.max, math.sqrt

local LBFGS = {}
LBFGS.__index = LBFGS

-- -------------------------------------------------------------- vectors
local function dot(a, b) return (a * b):sum() end
local function absmax(a) return a:abs():max() end

--- The parameters' gradients as one flat vector (zeros for a missing one).
function LBFGS:_gather_flat_grad()
  local flat = gd.zeros(self._numel, {dtype = self._dtype, device = self._device})
  local off = 0
  for _, p in ipairs(self._params) do
    local n = p:numel()
    if p.grad ~= nil and n > 0 then flat:narrow(1, off + 1, n):copy_(p.grad:reshape(n)) end
    off = off + n
  end
  return flat
end

--- p += step * update (the flat update cut into the parameters' shapes).
function LBFGS:_add_grad(step, update)
  local off = 0
  for _, p in ipairs(self._params) do
    local n = p:numel()
    if n > 0 then p:add_(update:narrow(1, off + 1, n):view(p.shape), step) end
    off = off + n
  end
end

function LBFGS:_clone_param()
  local r = {}
  for i, p in ipairs(self._params) do r[i] = p:clone() end
  return r
end

function LBFGS:_set_param(data)
  for i, p in ipairs(self._params) do p:copy_(data[i]) end
end

--- Calls the user's closure; its loss as a number.
function LBFGS:_call(closure)
  local v = closure()
  local loss = v
  if gd.is_tensor(v) then loss = v:item() end
  if type(loss) ~= "number" then
    error(fmt("%s:step: the closure must return the loss (a number or a 1-element tensor), got %s", self._fname,
      type(v)), 0)
  end
  return loss, v
end

function LBFGS:_directional_evaluate(closure, x, t, d)
  self:_add_grad(t, d)
  local loss = self:_call(closure)
  local flat_grad = self:_gather_flat_grad()
  self:_set_param(x)
  return loss, flat_grad
end

-- ---------------------------------------------------------- line search
local function cubic_interpolate(x1, f1, g1, x2, f2, g2, lo, hi)
  if lo == nil then
    if x1 <= x2 then lo, hi = x1, x2 else lo, hi = x2, x1 end
  end
  local d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
  local d2_square = d1 ^ 2 - g1 * g2
  if d2_square >= 0 then
    local d2 = sqrt(d2_square)
    local min_pos
    if x1 <= x2 then
      min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else
      min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    end
    return min(max(min_pos, lo), hi)
  end
  return (lo + hi) / 2
end

local function strong_wolfe(obj, x, t, d, f, g, gtd, tolerance_change)
  local c1, c2, max_ls = 1e-4, 0.9, 25
  local d_norm = absmax(d)
  g = g:clone()
  local f_new, g_new = obj(x, t, d)
  local ls_func_evals = 1
  local gtd_new = dot(g_new, d)
  local t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
  local done = false
  local ls_iter = 0
  local bracket, bracket_f, bracket_g, bracket_gtd
  while ls_iter < max_ls do
    if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev) then
      bracket, bracket_f = {t_prev, t}, {f_prev, f_new}
      bracket_g, bracket_gtd = {g_prev, g_new:clone()}, {gtd_prev, gtd_new}
      break
    end
    if abs(gtd_new) <= -c2 * gtd then
      bracket, bracket_f, bracket_g = {t}, {f_new}, {g_new}
      done = true
      break
    end
    if gtd_new >= 0 then
      bracket, bracket_f = {t_prev, t}, {f_prev, f_new}
      bracket_g, bracket_gtd = {g_prev, g_new:clone()}, {gtd_prev, gtd_new}
      break
    end
    -- interpolate
    local min_step = t + 0.01 * (t - t_prev)
    local max_step = t * 10
    local tmp = t
    t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, min_step, max_step)
    t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new:clone(), gtd_new
    f_new, g_new = obj(x, t, d)
    ls_func_evals = ls_func_evals + 1
    gtd_new = dot(g_new, d)
    ls_iter = ls_iter + 1
  end
  if ls_iter == max_ls then
    bracket, bracket_f, bracket_g = {0, t}, {f, f_new}, {g, g_new}
  end
  -- zoom (the bracket holds the point with the lower f at low_pos)
  local insuf_progress = false
  local low_pos, high_pos = 1, 2
  if not (bracket_f[1] <= bracket_f[#bracket_f]) then low_pos, high_pos = 2, 1 end
  while not done and ls_iter < max_ls do
    if abs(bracket[2] - bracket[1]) * d_norm < tolerance_change then break end
    t = cubic_interpolate(bracket[1], bracket_f[1], bracket_gtd[1], bracket[2], bracket_f[2], bracket_gtd[2])
    local bmax, bmin = max(bracket[1], bracket[2]), min(bracket[1], bracket[2])
    local eps = 0.1 * (bmax - bmin)
    if min(bmax - t, t - bmin) < eps then
      if insuf_progress or t >= bmax or t <= bmin then
        if abs(t - bmax) < abs(t - bmin) then t = bmax - eps else t = bmin + eps end
        insuf_progress = false
      else
        insuf_progress = true
      end
    else
      insuf_progress = false
    end
    f_new, g_new = obj(x, t, d)
    ls_func_evals = ls_func_evals + 1
    gtd_new = dot(g_new, d)
    ls_iter = ls_iter + 1
    if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos] then
      bracket[high_pos], bracket_f[high_pos] = t, f_new
      bracket_g[high_pos], bracket_gtd[high_pos] = g_new:clone(), gtd_new
      if bracket_f[1] <= bracket_f[2] then low_pos, high_pos = 1, 2 else low_pos, high_pos = 2, 1 end
    else
      if abs(gtd_new) <= -c2 * gtd then
        done = true
      elseif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0 then
        bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
        bracket_g[high_pos], bracket_gtd[high_pos] = bracket_g[low_pos], bracket_gtd[low_pos]
      end
      bracket[low_pos], bracket_f[low_pos] = t, f_new
      bracket_g[low_pos], bracket_gtd[low_pos] = g_new:clone(), gtd_new
    end
  end
  return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals
end

-- ----------------------------------------------------------------- step

--- One LBFGS step: up to max_iter iterations (max_eval closure calls); returns
-- the closure's first loss, as PyTorch does.
function LBFGS:step(closure)
  local fname = self._fname .. ":step"
  if type(closure) ~= "function" then
    check.raise(fmt("%s: LBFGS needs a closure that re-evaluates the model and returns the loss, got %s", fname,
      type(closure)))
  end
  local ok, a, b = pcall(self._step, self, closure)
  if not ok then
    if type(a) == "string" and not a:find("^gd%.optim%.LBFGS") then a = fname .. ": the closure failed: " .. a end
    check.raise(a)
  end
  return a, b
end

function LBFGS:_step(closure)
  local h = self._values
  local lr, max_iter, max_eval = h.lr, h.max_iter, h.max_eval
  local tolerance_grad, tolerance_change = h.tolerance_grad, h.tolerance_change
  local line_search_fn, history_size = h.line_search_fn, h.history_size
  local state = self.state

  local loss, orig_loss = self:_call(closure)
  local current_evals = 1
  state.func_evals = state.func_evals + 1
  local flat_grad = self:_gather_flat_grad()
  local opt_cond = absmax(flat_grad) <= tolerance_grad
  if opt_cond then return orig_loss end

  local d, t = state.d, state.t
  local old_dirs, old_stps, ro = state.old_dirs, state.old_stps, state.ro
  local H_diag, prev_flat_grad, prev_loss = state.H_diag, state.prev_flat_grad, state.prev_loss
  local n_iter = 0
  while n_iter < max_iter do
    n_iter = n_iter + 1
    state.n_iter = state.n_iter + 1
    -- the direction
    if state.n_iter == 1 then
      d = -flat_grad
      old_dirs, old_stps, ro = {}, {}, {}
      H_diag = 1
    else
      local y = flat_grad - prev_flat_grad
      local s = d * t
      local ys = dot(y, s)
      if ys > 1e-10 then
        if #old_dirs == history_size then
          table.remove(old_dirs, 1)
          table.remove(old_stps, 1)
          table.remove(ro, 1)
        end
        old_dirs[#old_dirs + 1] = y
        old_stps[#old_stps + 1] = s
        ro[#ro + 1] = 1 / ys
        H_diag = ys / dot(y, y)
      end
      -- two-loop recursion: d = -H g
      local num_old = #old_dirs
      local al = {}
      local q = -flat_grad
      for i = num_old, 1, -1 do
        al[i] = dot(old_stps[i], q) * ro[i]
        q:add_(old_dirs[i], -al[i])
      end
      local r = q * H_diag
      d = r
      for i = 1, num_old do
        local be_i = dot(old_dirs[i], r) * ro[i]
        r:add_(old_stps[i], al[i] - be_i)
      end
    end
    if prev_flat_grad == nil then prev_flat_grad = flat_grad:clone() else prev_flat_grad:copy_(flat_grad) end
    prev_loss = loss
    -- the step length
    if state.n_iter == 1 then
      t = min(1, 1 / flat_grad:abs():sum()) * lr
    else
      t = lr
    end
    local gtd = dot(flat_grad, d)
    if gtd > -tolerance_change then break end
    local ls_func_evals = 0
    if line_search_fn ~= nil then
      local x_init = self:_clone_param()
      local function obj(x, tt, dd) return self:_directional_evaluate(closure, x, tt, dd) end
      loss, flat_grad, t, ls_func_evals = strong_wolfe(obj, x_init, t, d, loss, flat_grad, gtd, tolerance_change)
      self:_add_grad(t, d)
      opt_cond = absmax(flat_grad) <= tolerance_grad
    else
      self:_add_grad(t, d)
      if n_iter ~= max_iter then
        loss = self:_call(closure)
        flat_grad = self:_gather_flat_grad()
        opt_cond = absmax(flat_grad) <= tolerance_grad
        ls_func_evals = 1
      end
    end
    current_evals = current_evals + ls_func_evals
    state.func_evals = state.func_evals + ls_func_evals
    -- the stopping conditions, in PyTorch's order
    if n_iter == max_iter then break end
    if current_evals >= max_eval then break end
    if opt_cond then break end
    if absmax(d * t) <= tolerance_change then break end
    if abs(loss - prev_loss) < tolerance_change then break end
  end
  state.d, state.t = d, t
  state.old_dirs, state.old_stps, state.ro = old_dirs, old_stps, ro
  state.H_diag, state.prev_flat_grad, state.prev_loss = H_diag, prev_flat_grad, prev_loss
  return orig_loss
end

-- ------------------------------------------------------- the rest of the API

--- Sets every parameter's gradient to zero.
function LBFGS:zero_grad()
  for _, p in ipairs(self._params) do if p.grad ~= nil then p.grad:zero_() end end
end

--- PyTorch-shaped: {state = {[1] = {func_evals, n_iter, d, t, old_dirs, ...}}, param_groups = {...}}.
function LBFGS:state_dict()
  local st = {}
  for k, v in pairs(self.state) do st[k] = v end
  local hv = {}
  for k, v in pairs(self._values) do hv[k] = v end
  local ids = {}
  for i = 1, #self._params do ids[i] = i end
  hv.params = ids
  return {optimizer = "LBFGS", state = {st}, param_groups = {hv}}
end

--- Restores what state_dict() gave.
function LBFGS:load_state_dict(sd)
  local fname = self._fname .. ":load_state_dict"
  if type(sd) ~= "table" or type(sd.state) ~= "table" or type(sd.param_groups) ~= "table" then
    check.raise(fname .. ": expects a table with state and param_groups (from state_dict())")
  end
  if sd.optimizer and sd.optimizer ~= "LBFGS" then
    check.raise(fmt("%s: the state is of %s, this optimizer is LBFGS", fname, tostring(sd.optimizer)))
  end
  local st = sd.state[1] or {}
  if st.d ~= nil and (not gd.is_tensor(st.d) or st.d:numel() ~= self._numel) then
    check.raise(fmt("%s: the state's direction has %s elements, the parameters %d", fname,
      gd.is_tensor(st.d) and st.d:numel() or "no", self._numel))
  end
  local g = sd.param_groups[1]
  if type(g) == "table" then
    for k, v in pairs(g) do
      if k ~= "params" and self._values[k] ~= nil then self.hyper[k] = v end
    end
  end
  local new = {func_evals = 0, n_iter = 0}
  for k, v in pairs(st) do new[k] = v end
  self.state = new
  self.param_groups[1].initial_lr = self._values.lr
end

function LBFGS:steps() return self.state.n_iter end

--- LBFGS keeps one group, as PyTorch's (whose step asserts it).
function LBFGS:add_param_group()
  check.raise(self._fname .. ":add_param_group: LBFGS doesn't support per-parameter options (parameter groups)")
end

function LBFGS:__tostring()
  local v = self._values
  return fmt("LBFGS (pytorch): lr=%s max_iter=%d max_eval=%d tolerance_grad=%g tolerance_change=%g " ..
    "history_size=%d line_search_fn=%s [%d tensor%s, %d parameters]", tostring(v.lr), v.max_iter, v.max_eval,
    v.tolerance_grad, v.tolerance_change, v.history_size, tostring(v.line_search_fn), #self._params,
    #self._params == 1 and "" or "s", self._numel)
end

-- --------------------------------------------------------- construction
local KNOWN = {lr = true, max_iter = true, max_eval = true, tolerance_grad = true, tolerance_change = true,
               history_size = true, line_search_fn = true, flavor = true}

local function check_value(fname, k, v)
  if k == "line_search_fn" then
    if v ~= nil and v ~= "strong_wolfe" then
      check.raise(fmt("%s: line_search_fn must be nil or \"strong_wolfe\" (the only one PyTorch has), got %s",
        fname, tostring(v)))
    end
    return v
  elseif k == "lr" then
    check.number(fname, k, v, {min = 0, finite = true})
  elseif k == "max_iter" or k == "max_eval" or k == "history_size" then
    check.number(fname, k, v, {integer = true, min = 1})
  elseif k == "tolerance_grad" or k == "tolerance_change" then
    check.number(fname, k, v, {min = 0})
  end
  return v
end

local function new_lbfgs(params, hyper)
  local fname = "gd.optim.LBFGS"
  hyper = hyper or {}
  if type(hyper) ~= "table" then check.raise(fmt("%s: hyper must be a table, got %s", fname, type(hyper))) end
  for k in pairs(hyper) do
    if not KNOWN[k] then
      local valid = {}
      for n in pairs(KNOWN) do if n ~= "flavor" then valid[#valid + 1] = n end end
      table.sort(valid)
      check.raise(fname .. ": " .. check.unknown_message("hyperparameter", tostring(k), valid))
    end
  end
  if hyper.flavor ~= nil and hyper.flavor ~= "pytorch" then
    check.raise(fmt("%s: LBFGS has PyTorch's flavor only, got %s", fname, tostring(hyper.flavor)))
  end
  if type(params) == "table" and type(params.parameters) == "function" then params = params:parameters() end
  if gd.is_tensor(params) then params = {params} end
  if type(params) ~= "table" then check.raise(fmt("%s: params must be a table of tensors or a module", fname)) end
  if type(params[1]) == "table" and not gd.is_tensor(params[1]) then
    check.raise(fname .. ": LBFGS doesn't support per-parameter options (parameter groups)")
  end
  local list = {}
  for i = 1, #params do
    local p = params[i]
    if not gd.is_tensor(p) then check.raise(fmt("%s: params[%d] is a %s, not a tensor", fname, i, type(p))) end
    if p.dtype ~= "float32" and p.dtype ~= "float64" then
      check.raise(fmt("%s: params[%d] has dtype %s; LBFGS updates float32 or float64 tensors", fname, i, p.dtype))
    end
    if i > 1 and (p.dtype ~= list[1].dtype or p.device ~= list[1].device) then
      check.raise(fmt("%s: params[%d] is %s on %s, params[1] %s on %s: LBFGS keeps one flat vector of one dtype",
        fname, i, p.dtype, p.device, list[1].dtype, list[1].device))
    end
    for j = 1, i - 1 do
      if rawequal(list[j], p) or list[j].c == p.c then
        check.raise(fmt("%s: params[%d] is the same tensor as params[%d]", fname, i, j))
      end
    end
    list[i] = p
  end
  local values = {lr = 1, max_iter = 20, tolerance_grad = 1e-7, tolerance_change = 1e-9, history_size = 100}
  for k, v in pairs(hyper) do if k ~= "flavor" then values[k] = check_value(fname, k, v) end end
  if values.max_eval == nil then values.max_eval = math.floor(values.max_iter * 5 / 4) end -- max_iter * 5 // 4
  local numel = 0
  for _, p in ipairs(list) do
    numel = numel + p:numel()
    if p.grad == nil then p.grad = gd.zeros_like(p) end
  end
  local opt = setmetatable({name = "LBFGS", flavor = "pytorch", _fname = fname, _params = list, params = list,
    _numel = numel, _dtype = list[1] and list[1].dtype or "float32", _device = list[1] and list[1].device or "cpu",
    _values = values, state = {func_evals = 0, n_iter = 0}}, LBFGS)
  opt.hyper = setmetatable({}, {
    __index = function(_, k) return values[k] end,
    __newindex = function(_, k, v)
      if not KNOWN[k] or k == "flavor" then
        check.raise(fname .. ": " .. check.unknown_message("hyperparameter", tostring(k),
          {"history_size", "line_search_fn", "lr", "max_eval", "max_iter", "tolerance_change", "tolerance_grad"}))
      end
      values[k] = check_value(fname, k, v)
    end,
    __pairs = function() return next, values, nil end,
  })
  opt.param_groups = {{params = list, hyper = opt.hyper, initial_lr = values.lr}}
  return opt
end

check.register_internal()

return doc(function(params, hyper) return new_lbfgs(params, hyper) end, "gd.optim.LBFGS", [[
gd.optim.LBFGS(params, {lr = 1, max_iter = 20, max_eval = max_iter*5//4, tolerance_grad = 1e-7,
tolerance_change = 1e-9, history_size = 100, line_search_fn = nil | "strong_wolfe"})
  PyTorch 1.13's L-BFGS: opt:step(closure) runs up to max_iter iterations, calling the
  closure (which must zero and recompute the gradients and return the loss) as PyTorch
  does: once at the start, then once per iteration (not after the last) or per line-search
  evaluation; it returns the first loss.  One parameter group; all parameters of one
  dtype and device.  opt.hyper, opt:zero_grad(), opt:state_dict() / load_state_dict(sd);
  schedules in gd.optim.lr work on its lr.]])
