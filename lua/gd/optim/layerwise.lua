--- gd.optim layer-wise optimizers: LAMB, LARS, Adafactor, Muon.
--
-- These look at whole tensors (a norm per tensor, factored row/column moments,
-- a Newton-Schulz orthogonalisation through matmul), so a step is a few tensor
-- operations per parameter rather than one fused element-wise pass: the norms
-- and the matmuls are the extra passes (each counted in the docs below).  Each
-- follows its reference implementation's order of operations:
--   LAMB       cybertronai/pytorch-lamb pytorch_lamb/lamb.py (You et al. 2019)
--   LARS       timm/optim/lars.py (You et al. 2017, with apex LARC's trust_clip)
--   Adafactor  huggingface/transformers optimization.py (Shazeer & Stern 2018)
--   Muon       KellerJordan/Muon muon.py, SingleDeviceMuonWithAuxAdam: quintic
--              Newton-Schulz on matrices, Adam on the rest.  The reference runs
--              Newton-Schulz in bfloat16 on GPUs; gdlua runs it in the
--              parameters' dtype.
-- The interface is the other optimizers': opt:step([closure]), opt:zero_grad(),
-- opt.hyper (assignable between steps), opt.param_groups, state_dict /
-- load_state_dict, parameter groups as tables {params = {...}, <hyper>...}.
local gd = require "gd.tensor"
local doc = require "gd.doc"
local check = require "gd.check"
check.register_internal()
local fmt = string.format
local sqrt, max, min = math.sqrt, math.max, math.min

local M = {}

-- ------------------------------------------------------------ the specs

-- value kinds: "rate" finite >= 0 (or nil where allowed), "decay" [0,1),
-- "nonneg", "number", "bool", "betas", "eps2", "count"
local SPECS = {
  LAMB = {
    defaults = {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-6, weight_decay = 0, adam = false},
    kinds = {lr = "rate", betas = "betas", eps = "nonneg", weight_decay = "nonneg", adam = "bool"},
  },
  LARS = {
    defaults = {lr = 1.0, momentum = 0, dampening = 0, weight_decay = 0, nesterov = false, trust_coeff = 0.001,
                eps = 1e-8, trust_clip = false, always_adapt = false},
    kinds = {lr = "rate", momentum = "nonneg", dampening = "number", weight_decay = "nonneg", nesterov = "bool",
             trust_coeff = "nonneg", eps = "nonneg", trust_clip = "bool", always_adapt = "bool"},
    check = function(fname, h)
      if h.nesterov and (h.momentum <= 0 or h.dampening ~= 0) then
        error(fname .. ": Nesterov momentum requires a momentum and zero dampening", 0)
      end
    end,
  },
  Adafactor = {
    defaults = {lr = nil, eps = {1e-30, 1e-3}, clip_threshold = 1.0, decay_rate = -0.8, beta1 = nil,
                weight_decay = 0, scale_parameter = true, relative_step = true, warmup_init = false},
    kinds = {lr = "rate_or_nil", eps = "eps2", clip_threshold = "positive", decay_rate = "number",
             beta1 = "decay_or_nil", weight_decay = "nonneg", scale_parameter = "bool", relative_step = "bool",
             warmup_init = "bool"},
    check = function(fname, h)
      if h.lr ~= nil and h.relative_step then
        error(fname .. ": cannot combine a manual lr and relative_step = true (set relative_step = false)", 0)
      end
      if h.lr == nil and not h.relative_step then error(fname .. ": lr is required when relative_step = false", 0) end
      if h.warmup_init and not h.relative_step then error(fname .. ": warmup_init = true requires relative_step = true", 0) end
    end,
  },
  Muon = {
    defaults = {lr = 0.02, momentum = 0.95, weight_decay = 0, nesterov = true, ns_steps = 5, adam_lr = 3e-4,
                adam_betas = {0.9, 0.95}, adam_eps = 1e-10, adam_weight_decay = 0, use_muon = nil},
    kinds = {lr = "rate", momentum = "decay", weight_decay = "nonneg", nesterov = "bool", ns_steps = "count",
             adam_lr = "rate", adam_betas = "betas", adam_eps = "nonneg", adam_weight_decay = "nonneg",
             use_muon = "bool_or_nil"},
  },
}

local function validate(fname, key, v, kind)
  local function bad(what) error(fmt("%s: %s %s", fname, key, what), 0) end
  if kind == "bool" then
    if type(v) ~= "boolean" then bad("must be true or false, got " .. tostring(v)) end
    return v
  elseif kind == "bool_or_nil" then
    if v ~= nil and type(v) ~= "boolean" then bad("must be true, false or nil, got " .. tostring(v)) end
    return v
  elseif kind == "betas" or kind == "eps2" then
    if type(v) ~= "table" or #v ~= 2 or type(v[1]) ~= "number" or type(v[2]) ~= "number" then
      bad("must be a table of two numbers")
    end
    for i = 1, 2 do
      local b = v[i]
      if b ~= b or b < 0 or (kind == "betas" and b >= 1) or b == math.huge then
        error(fmt("%s: %s[%d] = %s is outside %s", fname, key, i, tostring(b), kind == "betas" and "[0, 1)" or
          "[0, inf)"), 0)
      end
    end
    return {v[1], v[2]}
  elseif (kind == "rate_or_nil" or kind == "decay_or_nil") and v == nil then
    return nil
  end
  if type(v) ~= "number" then bad("must be a number, got " .. type(v)) end
  if v ~= v then bad("is NaN") end
  if kind == "rate" or kind == "rate_or_nil" or kind == "nonneg" then
    if v < 0 or v == math.huge then bad(fmt("must be a finite number >= 0, got %s", tostring(v))) end
  elseif kind == "decay" or kind == "decay_or_nil" then
    if v < 0 or v >= 1 then bad(fmt("must be in [0, 1), got %s", tostring(v))) end
  elseif kind == "positive" then
    if not (v > 0) or v == math.huge then bad(fmt("must be a finite number > 0, got %s", tostring(v))) end
  elseif kind == "count" then
    if v < 1 or v ~= math.floor(v) or v == math.huge then bad(fmt("must be an integer >= 1, got %s", tostring(v))) end
  elseif v == math.huge or v == -math.huge then
    bad(fmt("must be finite, got %s", tostring(v)))
  end
  return v
end

-- defaults + given, each checked; returns the resolved table
local function resolve(fname, spec, given, base)
  local out = {}
  for k, v in pairs(base or spec.defaults) do out[k] = v end
  local valid = {}
  for k in pairs(spec.kinds) do valid[#valid + 1] = k end
  table.sort(valid)
  for k, v in pairs(given) do
    if k ~= "params" then
      if not spec.kinds[k] then error(fname .. ": " .. check.unknown_message("hyperparameter", k, valid), 0) end
      out[k] = validate(fname, k, v, spec.kinds[k])
    end
  end
  if spec.check then spec.check(fname, out) end
  return out
end

-- ------------------------------------------------------------ the class

local Opt = {}
Opt.__index = Opt
M.Optimizer = Opt

local function tensors_of(fname, p, what)
  if type(p) == "table" and not gd.is_tensor(p) and type(p.parameters) == "function" then p = p:parameters() end
  if gd.is_tensor(p) then p = {p} end
  if type(p) ~= "table" then error(fmt("%s: %s must be a list of tensors or a module, got %s", fname, what, type(p)), 0) end
  local out = {}
  for i, t in ipairs(p) do
    if not gd.is_tensor(t) then
      error(fmt("%s: %s[%d] must be a tensor, got %s", fname, what, i, type(t)), 0)
    end
    if t.dtype == "int64" then error(fmt("%s: %s[%d] is int64; optimizers update float tensors", fname, what, i), 0) end
    out[i] = t
  end
  return out
end

local function new(name, params, hyper)
  local fname = "gd.optim." .. name
  local spec = SPECS[name]
  if hyper ~= nil and type(hyper) ~= "table" then error(fmt("%s: hyper must be a table, got %s", fname, type(hyper)), 0) end
  hyper = hyper or {}
  local base = resolve(fname, spec, hyper)
  local groups = {}
  local given = type(params) == "table" and not gd.is_tensor(params) and type(params[1]) == "table"
    and not gd.is_tensor(params[1]) and params[1].params ~= nil
  local list = given and params or {{params = params}}
  local seen = {}
  for gi, g in ipairs(list) do
    local ps = tensors_of(fname, g.params, given and fmt("group %d's params", gi) or "params")
    for _, p in ipairs(ps) do
      -- by the C tensor's uid: two handles of one tensor are one parameter (a
      -- cdata pointer as a key would be a new key at every read of p.c)
      local uid = tonumber(p.c.uid)
      if seen[uid] then
        error(fname .. ": some parameters appear in more than one parameter group", 0)
      end
      seen[uid] = true
    end
    groups[gi] = {params = ps, hyper = resolve(fmt("%s (group %d)", fname, gi), spec, g, base)}
  end
  local n = 0
  for _, g in ipairs(groups) do n = n + #g.params end
  if n == 0 then error(fname .. ": optimizer got an empty parameter list", 0) end
  for _, g in ipairs(groups) do
    for _, p in ipairs(g.params) do if p.grad == nil then p.grad = gd.zeros_like(p) end end
  end
  local opt = setmetatable({name = name, _fname = fname, _spec = spec, param_groups = groups, state = {}}, Opt)
  -- opt.hyper: the first group's values, checked on assignment (into every group)
  opt.hyper = setmetatable({}, {
    __index = function(_, k) return groups[1].hyper[k] end,
    __newindex = function(_, k, v)
      if not spec.kinds[k] then
        local valid = {}
        for kk in pairs(spec.kinds) do valid[#valid + 1] = kk end
        table.sort(valid)
        check.raise(fname .. ": " .. check.unknown_message("hyperparameter", k, valid))
      end
      local ok, val = pcall(validate, fname, k, v, spec.kinds[k])
      if not ok then check.raise(val) end
      for _, g in ipairs(groups) do
        local h = {}
        for kk, vv in pairs(g.hyper) do h[kk] = vv end
        h[k] = val
        if spec.check then
          local ok2, err = pcall(spec.check, fname, h)
          if not ok2 then check.raise(err) end
        end
      end
      for _, g in ipairs(groups) do g.hyper[k] = val end
    end,
  })
  return opt
end

local function like(p) return gd.zeros_like(p) end

-- ------------------------------------------------------------ updates

-- pytorch-lamb: m, v without bias correction; trust = ||p|| / ||m/(sqrt(v)+eps) + wd*p||.
-- The reference divides 0 by 0 when a norm is 0; here a zero norm gives trust 1
-- (the LAMB paper's phi convention, as apex and timm do).  3 passes + 2 norms.
local function lamb(p, g, st, h)
  local b1, b2 = h.betas[1], h.betas[2]
  st.step = (st.step or 0) + 1
  st.exp_avg = st.exp_avg or like(p)
  st.exp_avg_sq = st.exp_avg_sq or like(p)
  st.exp_avg:mul_(b1):add_(g, 1 - b1)
  st.exp_avg_sq:mul_(b2):addcmul_(g, g, 1 - b2)
  local denom = st.exp_avg_sq:sqrt():add_(h.eps)
  local weight_norm = sqrt((p * p):sum())
  local adam_step = st.exp_avg / denom
  if h.weight_decay ~= 0 then adam_step:add_(p, h.weight_decay) end
  local adam_norm = sqrt((adam_step * adam_step):sum())
  local trust = (weight_norm == 0 or adam_norm == 0) and 1 or weight_norm / adam_norm
  if h.adam then trust = 1 end
  p:add_(adam_step, -h.lr * trust)
end

-- timm's Lars: LARS adaptation (and LARC clipping) of g + wd*p, then SGD momentum.
local function lars(p, g, st, h)
  local wd, mom = h.weight_decay, h.momentum
  if wd ~= 0 or h.always_adapt then
    local w_norm, g_norm = p:norm(), g:norm()
    local trust = h.trust_coeff * w_norm / (g_norm + w_norm * wd + h.eps)
    if not (w_norm > 0 and g_norm > 0) then trust = 1 end
    if h.trust_clip then trust = min(trust / h.lr, 1.0) end
    g = (g + p * wd) * trust
  end
  if mom ~= 0 then
    if not st.momentum_buffer then
      st.momentum_buffer = g:clone()
    else
      st.momentum_buffer:mul_(mom):add_(g, 1 - h.dampening)
    end
    if h.nesterov then g = g + st.momentum_buffer * mom else g = st.momentum_buffer end
  end
  p:add_(g, -h.lr)
end

local function rms(t) return t:norm() / sqrt(t:numel()) end

-- transformers' Adafactor: factored second moments (rows, columns) for tensors
-- of 2 or more dims, a full one for vectors; relative step and parameter scale.
local function adafactor(p, g, st, h)
  local factored = p:dim() >= 2
  local shape = p.shape
  st.step = (st.step or 0) + 1
  if factored then
    local rows = {}
    for i = 1, #shape - 1 do rows[i] = shape[i] end
    local cols = {}
    for i = 1, #shape - 2 do cols[i] = shape[i] end
    cols[#cols + 1] = shape[#shape]
    st.exp_avg_sq_row = st.exp_avg_sq_row or gd.zeros(rows, {dtype = p.dtype, device = p.device})
    st.exp_avg_sq_col = st.exp_avg_sq_col or gd.zeros(cols, {dtype = p.dtype, device = p.device})
  else
    st.exp_avg_sq = st.exp_avg_sq or like(p)
  end
  if h.beta1 ~= nil then st.exp_avg = st.exp_avg or like(p) end
  st.RMS = rms(p)
  local rel = h.lr
  if h.relative_step then
    local min_step = h.warmup_init and 1e-6 * st.step or 1e-2
    rel = min(min_step, 1.0 / sqrt(st.step))
  end
  local scale = h.scale_parameter and max(h.eps[2], st.RMS) or 1.0
  local lr = scale * rel
  local beta2t = 1.0 - st.step ^ h.decay_rate
  local update = g * g + h.eps[1]
  local nd = #shape
  if factored then
    local row, col = st.exp_avg_sq_row, st.exp_avg_sq_col
    row:mul_(beta2t):add_(update:mean(nd), 1.0 - beta2t)
    col:mul_(beta2t):add_(update:mean(nd - 1), 1.0 - beta2t)
    local r_factor = (row / row:mean(nd - 1, true)):sqrt()
    r_factor = (1 / r_factor):unsqueeze(nd)
    local c_factor = 1 / col:unsqueeze(nd - 1):sqrt()
    update = (r_factor * c_factor) * g
  else
    st.exp_avg_sq:mul_(beta2t):add_(update, 1.0 - beta2t)
    update = (1 / st.exp_avg_sq:sqrt()) * g
  end
  update:div_(max(rms(update) / h.clip_threshold, 1.0))
  update:mul_(lr)
  if h.beta1 ~= nil then
    st.exp_avg:mul_(h.beta1):add_(update, 1 - h.beta1)
    update = st.exp_avg
  end
  if h.weight_decay ~= 0 then p:add_(p, -h.weight_decay * lr) end
  p:sub_(update)
end

-- torch.lerp's two-sided formula
local function lerp(a, b, w)
  if w < 0.5 then return a + (b - a) * w end
  return b - (b - a) * (1 - w)
end

-- Muon's quintic Newton-Schulz: X ~ U S' V^T of the 2-D update.
local NS_A, NS_B, NS_C = 3.4445, -4.7750, 2.0315
local function newton_schulz(G, steps)
  local tall = G:size(1) > G:size(2)
  local X = tall and G:t():contiguous() or G:clone()
  X = X / (X:norm() + 1e-7)
  for _ = 1, steps do
    local A = gd.matmul(X, X:t())
    local B = A * NS_B + gd.matmul(A, A) * NS_C
    X = X * NS_A + gd.matmul(B, X)
  end
  return tall and X:t():contiguous() or X
end

local function muon(p, g, st, h)
  local use = h.use_muon
  if use == nil then use = p:dim() >= 2 end
  if use then
    if p:dim() < 2 then error("gd.optim.Muon: use_muon needs matrices (2 or more dims), got a " .. p:dim() .. "-D parameter", 0) end
    st.momentum_buffer = st.momentum_buffer or like(p)
    local beta = h.momentum
    st.momentum_buffer:copy_(lerp(st.momentum_buffer, g, 1 - beta))
    local update = h.nesterov and lerp(g, st.momentum_buffer, beta) or st.momentum_buffer
    local shape = p.shape
    local rows = shape[1]
    local cols = p:numel() / rows
    local u2 = update:contiguous():view(rows, cols)
    local o = newton_schulz(u2, h.ns_steps)
    -- max(1, grad.size(-2)/grad.size(-1))^0.5, on the gradient's own last two dims
    o = o * max(1, shape[#shape - 1] / shape[#shape]) ^ 0.5
    p:mul_(1 - h.lr * h.weight_decay)
    p:add_(o:view(shape), -h.lr)
  else
    st.step = (st.step or 0) + 1
    st.exp_avg = st.exp_avg or like(p)
    st.exp_avg_sq = st.exp_avg_sq or like(p)
    local b1, b2 = h.adam_betas[1], h.adam_betas[2]
    st.exp_avg:copy_(lerp(st.exp_avg, g, 1 - b1))
    st.exp_avg_sq:copy_(lerp(st.exp_avg_sq, g * g, 1 - b2))
    local m = st.exp_avg / (1 - b1 ^ st.step)
    local v = st.exp_avg_sq / (1 - b2 ^ st.step)
    local update = m / (v:sqrt() + h.adam_eps)
    p:mul_(1 - h.adam_lr * h.adam_weight_decay)
    p:add_(update, -h.adam_lr)
  end
end

local UPDATE = {LAMB = lamb, LARS = lars, Adafactor = adafactor, Muon = muon}

--- One step over every parameter that has a gradient; returns the closure's loss.
function Opt:step(closure)
  local loss
  if closure ~= nil then loss = closure() end
  local update = UPDATE[self.name]
  -- check every parameter first: a failing step changes nothing
  for _, g in ipairs(self.param_groups) do
    for _, p in ipairs(g.params) do
      local gr = p.grad
      if gr ~= nil and (gr.dtype ~= p.dtype or gr.device ~= p.device or gr:numel() ~= p:numel()) then
        check.raise(fmt("%s:step: the gradient (%s %s, %d elements) does not match its parameter (%s %s, %d)",
          self._fname, gr.dtype, gr.device, gr:numel(), p.dtype, p.device, p:numel()))
      end
    end
  end
  local k = 0
  for _, g in ipairs(self.param_groups) do
    for _, p in ipairs(g.params) do
      k = k + 1
      if p.grad ~= nil then
        self.state[k] = self.state[k] or {}
        local gr = p.grad
        if gr:dim() ~= p:dim() then gr = gr:view(p.shape) end
        update(p, gr, self.state[k], g.hyper)
      end
    end
  end
  return loss
end

--- Sets every parameter's gradient to zero.
function Opt:zero_grad()
  for _, g in ipairs(self.param_groups) do
    for _, p in ipairs(g.params) do if p.grad ~= nil then p.grad:zero_() end end
  end
end

--- PyTorch's state_dict shape: {optimizer, state = {[k] = {...}}, param_groups}.
function Opt:state_dict()
  local state = {}
  for k, s in pairs(self.state) do
    local c = {}
    for key, v in pairs(s) do c[key] = gd.is_tensor(v) and v:clone() or v end
    state[k] = c
  end
  local groups, k = {}, 0
  for gi, g in ipairs(self.param_groups) do
    local h, ids = {}, {}
    for key, v in pairs(g.hyper) do h[key] = type(v) == "table" and {unpack(v)} or v end
    for j = 1, #g.params do k = k + 1; ids[j] = k end
    h.params = ids
    groups[gi] = h
  end
  return {optimizer = self.name, state = state, param_groups = groups}
end

--- Restores a state_dict (of the same optimizer and parameter shapes); checks
-- everything before changing anything.
function Opt:load_state_dict(sd)
  local fname = self._fname .. ":load_state_dict"
  if type(sd) ~= "table" or sd.optimizer ~= self.name or type(sd.state) ~= "table"
    or type(sd.param_groups) ~= "table" or #sd.param_groups ~= #self.param_groups then
    check.raise(fmt("%s: not a state_dict of this %s (same parameter groups)", fname, self.name))
  end
  local params = {}
  for _, g in ipairs(self.param_groups) do for _, p in ipairs(g.params) do params[#params + 1] = p end end
  local hypers = {}
  for gi, g in ipairs(sd.param_groups) do
    local given = {}
    for key, v in pairs(g) do if key ~= "params" then given[key] = v end end
    local ok, h = pcall(resolve, fname, self._spec, given)
    if not ok then check.raise(h) end
    hypers[gi] = h
  end
  local state = {}
  for k, s in pairs(sd.state) do
    local p = params[k]
    if type(k) ~= "number" or not p or type(s) ~= "table" then
      check.raise(fmt("%s: state for parameter %s, which this optimizer does not have", fname, tostring(k)))
    end
    local c = {}
    for key, v in pairs(s) do
      if gd.is_tensor(v) then
        if v.dtype ~= p.dtype then check.raise(fmt("%s: state %s of parameter %d is %s, not %s", fname, key, k, v.dtype, p.dtype)) end
        c[key] = v:clone()
      elseif type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge then
        c[key] = v
      else
        check.raise(fmt("%s: state %s of parameter %d must be a tensor or a finite number, got %s", fname, key, k, tostring(v)))
      end
    end
    if c.step ~= nil and (c.step < 0 or c.step ~= math.floor(c.step)) then
      check.raise(fmt("%s: state step of parameter %d must be an integer >= 0, got %s", fname, k, tostring(c.step)))
    end
    for key in pairs({exp_avg = 1, exp_avg_sq = 1, momentum_buffer = 1}) do
      if c[key] and c[key]:numel() ~= p:numel() then
        check.raise(fmt("%s: state %s of parameter %d has %d elements, the parameter %d", fname, key, k, c[key]:numel(), p:numel()))
      end
    end
    state[k] = c
  end
  for gi, g in ipairs(self.param_groups) do g.hyper = hypers[gi] end
  self.state = state
end

function Opt:__tostring()
  local n = 0
  for _, g in ipairs(self.param_groups) do n = n + #g.params end
  return fmt("gd.optim.%s (%d parameters in %d groups, lr %s)", self.name, n, #self.param_groups,
             tostring(self.param_groups[1].hyper.lr))
end

local DOCS = {
  LAMB = [[
gd.optim.LAMB(params, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-6, weight_decay = 0, adam = false})
  LAMB (You et al. 2019; cybertronai/pytorch-lamb): per tensor, s = m/(sqrt(v) + eps) + wd*p
  (no bias correction, as the paper's v3), p -= lr * ||p||/||s|| * s (trust 1 for a zero norm;
  adam = true: always 1).  Passes: 3 element-wise + 2 norms per tensor.]],
  LARS = [[
gd.optim.LARS(params, {lr = 1.0, momentum = 0, dampening = 0, weight_decay = 0, nesterov = false,
trust_coeff = 1e-3, eps = 1e-8, trust_clip = false, always_adapt = false})
  LARS (You et al. 2017; timm's Lars): g = (g + wd*p) * coeff*||p||/(||g|| + wd*||p|| + eps)
  (LARC's trust_clip: min(trust/lr, 1)), then SGD momentum.  Passes: 2 norms + 3.]],
  Adafactor = [[
gd.optim.Adafactor(params, {lr = nil, eps = {1e-30, 1e-3}, clip_threshold = 1.0, decay_rate = -0.8,
beta1 = nil, weight_decay = 0, scale_parameter = true, relative_step = true, warmup_init = false})
  Adafactor (Shazeer & Stern 2018; transformers' Adafactor): row and column means of g^2 + eps1
  for matrices (their outer product approximates the second moment), a full one for vectors;
  lr = max(eps2, RMS(p)) * min(1e-2, 1/sqrt(t)) with relative_step; updates clipped to RMS
  clip_threshold.  A manual lr needs relative_step = false.]],
  Muon = [[
gd.optim.Muon(params, {lr = 0.02, momentum = 0.95, weight_decay = 0, nesterov = true, ns_steps = 5,
adam_lr = 3e-4, adam_betas = {0.9, 0.95}, adam_eps = 1e-10, adam_weight_decay = 0})
  Muon (Keller Jordan 2024; KellerJordan/Muon SingleDeviceMuonWithAuxAdam): parameters of 2 or
  more dims get momentum (Nesterov blend), quintic Newton-Schulz orthogonalisation (ns_steps
  matmul rounds) scaled by sqrt(max(1, rows/cols)), and p -= lr*update; the others get Adam
  with the adam_* hyperparameters.  A group's use_muon = true/false overrides the choice.]],
}

for name in pairs(SPECS) do
  M[name] = doc(function(params, hyper)
    local ok, opt = pcall(new, name, params, hyper)
    if not ok then check.raise(opt) end
    return opt
  end, "gd.optim." .. name, DOCS[name] .. [[

  opt:step([closure]), opt:zero_grad(), opt.hyper (assignable), opt.param_groups,
  opt:state_dict() / opt:load_state_dict(sd).]])
end

return M
