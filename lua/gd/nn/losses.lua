--- gd.nn.losses: MSELoss and CrossEntropyLoss.
--
-- A loss returns its value and the gradient with respect to the prediction in
-- one call, PuzzleLib's shape: `local err, grad = loss(pred, target)`.  The
-- value is a number for reduction "mean" and "sum" and a tensor of
-- per-element (MSE) or per-row (cross-entropy) losses for "none", whose grad
-- is then the gradient of their sum.  The grad tensor is kept and reused by
-- the next call (clone it to keep it); loss:backward([g = 1]) returns the last
-- one again (scaled by g), for code written in the forward/backward style.
local gd = require "gd.tensor"
local doc = require "gd.doc"
local check = require "gd.check"
local base = require "gd.nn.module"
local I = require "gd.aux"
local C = I.C
local fmt = string.format

local priv, buffer_like, buffer2, fail = base.priv, base.buffer_like, base.buffer2, base.fail
local Module, new_class = base.Module, base.new_class
local dbl = I.ffi.new("double[1]")

local M = {}

local REDUCTIONS = {mean = 0, sum = 1, none = 2}
local REDUCTION_NAMES = {"mean", "sum", "none"}

local Loss = new_class("Loss", Module)
M.Loss = Loss
doc(Loss, "gd.nn.Loss", [[
gd.nn.Loss: the base class of MSELoss and CrossEntropyLoss.  A loss is called
as err, grad = loss(pred, target); loss:backward([g]) returns the last grad.]])

local function loss_options(fname, self, opts, allowed)
  if type(opts) == "string" then opts = {reduction = opts} end
  opts = check.options(fname, opts, allowed, 5)
  local r = opts.reduction or "mean"
  if REDUCTIONS[r] == nil then base.argerr(fname, check.unknown_message("reduction", r, REDUCTION_NAMES), 5) end
  self.reduction = r
  return opts
end

function Loss:backward(g)
  local P = priv[self]
  local grad = P.last_grad
  if grad == nil then base.argerr(self.__class .. ":backward", "called before forward", 2) end
  if g ~= nil and g ~= 1 then
    if type(g) ~= "number" then base.argerr(self.__class .. ":backward", "expects a number (d total / d loss)", 2) end
    grad:mul_(g)
  end
  return grad
end

doc(Loss.backward, "gd.nn.Loss:backward", [[
loss:backward([g = 1]) -> the gradient of the last forward with respect to the
prediction (the grad that forward returned), scaled by g.]])

function Loss:describe()
  if self.reduction ~= "mean" then return fmt("%s(reduction = %s)", self.__class, self.reduction) end
  return self.__class
end

-- ---------------------------------------------------------------- MSELoss

local MSELoss = new_class("MSELoss", Loss)
M.MSELoss = MSELoss

local MSE_OPTS = {reduction = true, scale = true}

function MSELoss:init(opts)
  opts = loss_options("gd.nn.MSELoss", self, opts, MSE_OPTS)
  self.scale = check.number("gd.nn.MSELoss", "scale", opts.scale, {default = 1, level = 4})
end

local function same_shape(a, b)
  if a.rank ~= b.rank then return false end
  for d = 0, a.rank - 1 do
    if a.sizes[d] ~= b.sizes[d] then return false end
  end
  return true
end

function MSELoss:forward(pred, target)
  local P = priv[self]
  if not gd.is_tensor(pred) then base.argerr("MSELoss", "the prediction must be a tensor, got " .. type(pred), 2) end
  if not gd.is_tensor(target) then base.argerr("MSELoss", "the target must be a tensor, got " .. type(target), 2) end
  local pc, tc = pred.c, target.c
  -- one shape only: (N, 1) against (N) is d2l's classic slip, which PyTorch
  -- broadcasts to N x N (with a warning) and an element-wise loss would pair
  -- up silently
  if not same_shape(pc, tc) then
    base.argerr("MSELoss", fmt("the prediction has shape %s but the target %s: give them one shape "
      .. "(y:reshape(...) or y:view(...))", table.concat(pred.shape, "x"), table.concat(target.shape, "x")), 2)
  end
  local grad = buffer_like(P, "grad", pc)
  local red = REDUCTIONS[self.reduction]
  local losses = red == 2 and buffer_like(P, "losses", pc) or nil
  if C.gd_nn_mse(dbl, losses and losses.c or nil, grad.c, pc, tc, red, self.scale) ~= 0 then fail("MSELoss") end
  P.last_grad = grad
  if losses then return base.loss_result("MSELoss", losses, losses, grad, pred), grad end
  return base.loss_result("MSELoss", dbl[0], nil, grad, pred), grad
end

function MSELoss:describe()
  local parts = {}
  if self.reduction ~= "mean" then parts[#parts + 1] = "reduction = " .. self.reduction end
  if self.scale ~= 1 then parts[#parts + 1] = fmt("scale = %g", self.scale) end
  if #parts == 0 then return "MSELoss" end
  return "MSELoss(" .. table.concat(parts, ", ") .. ")"
end

doc(MSELoss, "gd.nn.MSELoss", [[
gd.nn.MSELoss([{reduction = "mean", scale = 1}]) -> loss; err, grad = loss(pred, target)
  scale * mean((pred - target)^2) (or its sum, or the element-wise squares for
  reduction = "none"), and the gradient with respect to pred.  pred and target
  must have one shape ((N, 1) against (N) is refused: reshape one of them).
  d2l's squared_loss, (y_hat - y)^2 / 2 averaged, is
  MSELoss{scale = 0.5}.]])

-- ------------------------------------------------------- CrossEntropyLoss

local CrossEntropyLoss = new_class("CrossEntropyLoss", Loss)
M.CrossEntropyLoss = CrossEntropyLoss

local CE_OPTS = {reduction = true, weight = true, ignore_index = true, label_smoothing = true}

--- weight (a 1-D tensor, one value per class) and ignore_index (an integer,
-- compared with the targets as given) of NLLLoss and CrossEntropyLoss.
local function class_options(fname, self, opts)
  if opts.weight ~= nil then
    if not gd.is_tensor(opts.weight) or opts.weight:dim() ~= 1 then
      base.argerr(fname, "weight must be a 1-D tensor (one value per class)", 5)
    end
    self.weight = opts.weight   -- a plain field: a constant of the loss, not a parameter
  end
  self.ignore_index = check.number(fname, "ignore_index", opts.ignore_index, {integer = true, default = -100,
                                                                               level = 5})
end

function CrossEntropyLoss:init(opts)
  local fname = "gd.nn.CrossEntropyLoss"
  opts = loss_options(fname, self, opts, CE_OPTS)
  class_options(fname, self, opts)
  local eps = check.number(fname, "label_smoothing", opts.label_smoothing, {default = 0, level = 4})
  if not (eps >= 0 and eps <= 1) then
    base.argerr(fname, fmt("label_smoothing = %g is not in [0, 1]", eps), 4)
  end
  self.label_smoothing = eps
end

--- int64 class targets from a number or a table (gd.tensor's complaint
-- renamed for the loss): a tensor or an error at the caller's caller.
local function targets_from(fname, v)
  local ok, t = pcall(gd.tensor, v, {dtype = "int64"})
  if ok then return t end
  local why = tostring(t):gsub("^.-gd%.tensor: ", "")
  base.argerr(fname, "the target must hold class indices: " .. why, 4)
end

local function class_targets(fname, target, rows)
  if type(target) == "number" then return targets_from(fname, {target}) end
  if type(target) == "table" and not gd.is_tensor(target) then return targets_from(fname, target) end
  if not gd.is_tensor(target) then
    base.argerr(fname, "the target must be an int64 tensor of class indices, got " .. type(target), 3)
  end
  local tc = target.c
  if tc.scalar_type ~= 2 then
    base.argerr(fname, fmt("the target must hold int64 class indices (1-based), got %s (convert with :long())",
      target.dtype), 3)
  end
  if tc.rank == 1 then return target end
  if tc.count == rows then return target:reshape(rows) end
  base.argerr(fname, fmt("the target has shape %s, expected %d class indices", table.concat(target.shape, "x"), rows), 3)
end

function CrossEntropyLoss:forward(logits, target)
  local P = priv[self]
  local fname = "CrossEntropyLoss"
  if not gd.is_tensor(logits) then base.argerr(fname, "the input must be a tensor, got " .. type(logits), 2) end
  local lc = logits.c
  local vec = lc.rank == 1
  if vec then logits = logits:view(1, -1); lc = logits.c end
  if lc.rank ~= 2 then
    base.argerr(fname, fmt("the input must be rows x classes, got shape %s", table.concat(logits.shape, "x")), 2)
  end
  if lc.is_contiguous == 0 then logits = logits:contiguous(); lc = logits.c end
  local rows = tonumber(lc.sizes[0])
  local tc = target
  if gd.is_tensor(target) and target.c.scalar_type ~= 2 then
    -- probabilities, one row per logits row (PyTorch's "class probabilities" targets)
    if vec and target.c.rank == 1 then tc = target:view(1, -1) end
    if not same_shape(tc.c, lc) then
      base.argerr(fname, fmt("the target must hold int64 class indices (1-based) or probabilities of the input's "
        .. "shape %s, got %s %s", table.concat(logits.shape, "x"), target.dtype, table.concat(target.shape, "x")), 2)
    end
    if tc.c.is_contiguous == 0 then tc = tc:contiguous() end
    if self.ignore_index ~= -100 then
      base.argerr(fname, "ignore_index applies to class-index targets, not to probabilities", 2)
    end
  elseif not (gd.is_tensor(target) and target.c.rank == 1) then
    tc = class_targets(fname, target, rows)
    -- classes given as numbers go where the logits are
    if not gd.is_tensor(target) and tc.device ~= logits.device then tc = tc:to(logits.device) end
  elseif target.c.is_contiguous == 0 then
    tc = target:contiguous()
  end
  local w = self.weight
  if w and (w.c.scalar_type ~= lc.scalar_type or w.c.device_kind ~= lc.device_kind) then
    w = w:to({dtype = logits.dtype, device = logits.device})  -- follows the input, as the loss's buffers
    self.weight = w
  end
  local grad = buffer2(P, "grad", rows, tonumber(lc.sizes[1]), lc)
  local red = REDUCTIONS[self.reduction]
  local losses = nil
  if red == 2 then
    losses = buffer2(P, "losses", rows, 1, lc):view(rows)
  end
  if C.gd_nn_cross_entropy_ex(dbl, losses and losses.c or nil, grad.c, lc, tc.c, w and w.c or nil, self.ignore_index,
                              self.label_smoothing, red) ~= 0 then
    fail(fname)
  end
  if vec then grad = grad:view(-1) end
  P.last_grad = grad
  if losses then return base.loss_result(fname, losses, losses, grad, logits, true), grad end
  return base.loss_result(fname, dbl[0], nil, grad, logits), grad
end

function CrossEntropyLoss:describe()
  local parts = {}
  if self.reduction ~= "mean" then parts[#parts + 1] = "reduction = " .. self.reduction end
  if self.weight then parts[#parts + 1] = "weight = (" .. self.weight:numel() .. ")" end
  if self.ignore_index ~= -100 then parts[#parts + 1] = "ignore_index = " .. self.ignore_index end
  if self.label_smoothing ~= 0 then parts[#parts + 1] = fmt("label_smoothing = %g", self.label_smoothing) end
  if #parts == 0 then return "CrossEntropyLoss" end
  return "CrossEntropyLoss(" .. table.concat(parts, ", ") .. ")"
end

doc(CrossEntropyLoss, "gd.nn.CrossEntropyLoss", [[
gd.nn.CrossEntropyLoss([{reduction = "mean", weight = nil, ignore_index = -100,
  label_smoothing = 0}]) -> loss; err, grad = loss(logits, target)
  PyTorch 1.13's CrossEntropyLoss: log-softmax and negative log-likelihood
  fused in one pass.  logits: rows x classes (or one row); target: int64 class
  indices, 1-based (1..classes), one per row, or class probabilities (a float
  tensor of the logits' shape).  weight: one value per class.  ignore_index
  is compared with the targets as given (1-based: ignore_index = 1 ignores
  class 1; PyTorch's default -100 stays -100, so padding marked -100 is
  skipped as in PyTorch); ignored rows add nothing and get a zero gradient.
  label_smoothing eps mixes the target with the uniform distribution:
  (1 - eps) onehot + eps / classes.  "mean" divides by the sum of the
  non-ignored targets' weights (their count without weights) for class
  targets, by the number of rows for probabilities, as PyTorch.  Without
  options grad = (softmax(logits) - onehot) / rows.]])

-- ---------------------------------------------------------------- metrics

local count = I.ffi.new("int64_t[1]")

M.accuracy = doc(function(logits, target)
  local fname = "gd.nn.accuracy"
  if not gd.is_tensor(logits) then base.argerr(fname, "the scores must be a tensor", 2) end
  if logits.c.rank == 1 then logits = logits:view(1, -1) end
  local rows = tonumber(logits.c.sizes[0])
  local tc = class_targets(fname, target, rows)
  if C.gd_nn_count_correct(count, logits.c, tc.c, 1) ~= 0 then fail(fname) end
  local n = tonumber(count[0])
  return rows > 0 and n / rows or 0, n
end, "gd.nn.accuracy", [[
gd.nn.accuracy(scores, target) -> fraction, count: the share (and number) of rows
whose largest score is at the target class (int64, 1-based).]])

-- ------------------------------------------- element-wise losses (issue 14)

--- Raises "<name>: <C's message without its kernel's name>" at the caller.
local function pointwise_fail(name)
  local msg = I.ffi.string(C.gd_last_error()):gsub("^[%w_ ]-: ", "", 1)
  error(name .. ": " .. msg, 3)
end

--- A loss computed element by element in one C pass (src/nn_loss.c): kind
-- (gd.h's numbering), the option naming its parameter (or nil) and default.
-- weights: the tensor options it takes (BCE's weight, BCEWithLogits's
-- pos_weight), broadcast to the input's shape as PyTorch does.
local function pointwise_loss(name, kind, pname, pdefault, extra_reductions, math_doc, weights)
  local cls = new_class(name, Loss)
  M[name] = cls
  local fname = "gd.nn." .. name
  local allowed = {reduction = true}
  if pname then allowed[pname] = true end
  for _, w in ipairs(weights or {}) do allowed[w] = true end
  cls.init = function(self, opts)
    if type(opts) == "string" then opts = {reduction = opts} end
    local r = type(opts) == "table" and opts.reduction
    if extra_reductions and r == "batchmean" then
      -- KLDivLoss's batchmean: checked here, the rest by loss_options
      local o = {}
      for k, v in pairs(opts) do if k ~= "reduction" then o[k] = v end end
      opts = loss_options(fname, self, o, allowed)
      self.reduction = "batchmean"
    else
      opts = loss_options(fname, self, opts, allowed)
    end
    if pname == "log_target" then
      self.log_target = opts.log_target == true
    elseif pname then
      self[pname] = check.number(fname, pname, opts[pname], {default = pdefault, min = 0, level = 5})
    end
    for _, w in ipairs(weights or {}) do
      if opts[w] ~= nil then
        if not gd.is_tensor(opts[w]) then base.argerr(fname, fmt("%s must be a tensor, got %s", w, type(opts[w])), 5) end
        self[w] = opts[w]   -- a plain field: a constant of the loss, not a parameter
      end
    end
  end
  --- self[w] broadcast to pred's shape and dtype, in a reused buffer (nil without it)
  local function expanded(self, P, w, pred, level)
    local t = self[w]
    if t == nil then return nil end
    local b = buffer_like(P, w, pred.c)
    local ok, err = pcall(b.copy_, b, t)
    if not ok then
      base.argerr(name, fmt("%s of shape %s does not broadcast to the input's %s", w, table.concat(t.shape, "x"),
        table.concat(pred.shape, "x")), level + 1)
    end
    return b
  end
  cls.forward = function(self, pred, target)
    local P = priv[self]
    if not gd.is_tensor(pred) then base.argerr(name, "the input must be a tensor, got " .. type(pred), 2) end
    if not gd.is_tensor(target) then base.argerr(name, "the target must be a tensor, got " .. type(target), 2) end
    -- a strided prediction or target (a transposed view) is read through a
    -- contiguous copy, as PyTorch accepts any layout (the C loss reads dense rows)
    if not pred:is_contiguous() then pred = pred:contiguous() end
    if not target:is_contiguous() then target = target:contiguous() end
    local pc = pred.c
    local grad = buffer_like(P, "grad", pc)
    local r = self.reduction
    local red = r == "batchmean" and 3 or REDUCTIONS[r]
    local losses = red == 2 and buffer_like(P, "losses", pc) or nil
    local param = 0
    if pname == "log_target" then param = self.log_target and 1 or 0 elseif pname then param = self[pname] end
    local w = weights and expanded(self, P, "weight", pred, 2)
    local pw = weights and weights[2] and expanded(self, P, "pos_weight", pred, 2)
    if C.gd_nn_pointwise_loss(dbl, losses and losses.c or nil, grad.c, pc, target.c, kind, red, param,
                              w and w.c or nil, pw and pw.c or nil) ~= 0 then
      pointwise_fail(name)
    end
    P.last_grad = grad
    if losses then return base.loss_result(name, losses, losses, grad, pred), grad end
    return base.loss_result(name, dbl[0], nil, grad, pred), grad
  end
  local wdoc = ""
  for _, w in ipairs(weights or {}) do wdoc = wdoc .. ", " .. w .. " = nil" end
  doc(cls, fname, fname .. "([{reduction = \"mean\"" .. wdoc .. (pname and (", " .. pname .. " = " .. tostring(pdefault)) or "") ..
    (extra_reductions and " (or \"batchmean\")" or "") .. "}]) -> loss; err, grad = loss(input, target)\n  " ..
    math_doc .. "\n  As PyTorch's; input and target have one shape, on one device.")
  return cls
end

pointwise_loss("L1Loss", 0, nil, nil, false, "|input - target| (gradient sign(input - target), 0 at 0).")
pointwise_loss("SmoothL1Loss", 1, "beta", 1, false,
  "0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere (d = input - target; beta = 0 is L1).")
pointwise_loss("HuberLoss", 2, "delta", 1, false,
  "0.5 d^2 where |d| < delta, delta (|d| - 0.5 delta) elsewhere (d = input - target).")
pointwise_loss("BCELoss", 3, nil, nil, false,
  "-w (t log p + (1 - t) log(1 - p)) for probabilities p in [0, 1], logs clamped at -100 as PyTorch; " ..
  "weight w (default 1) broadcasts to the input's shape.", {"weight"})
pointwise_loss("BCEWithLogitsLoss", 4, nil, nil, false,
  "BCE of sigmoid(x), computed stably: max(x, 0) - x t + log(1 + exp(-|x|)); gradient sigmoid(x) - t.  " ..
  "weight w scales each element's loss, pos_weight p (one per class, the last dimension) its positive " ..
  "term: -w (p t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))), as PyTorch.", {"weight", "pos_weight"})
pointwise_loss("KLDivLoss", 5, "log_target", false, true,
  "t (log t - input) for log-probabilities input (0 where t = 0); log_target: exp(t) (t - input).  " ..
  "\"batchmean\" divides the sum by the batch size (the KL divergence); \"mean\" by the element count.")

-- ---------------------------------------------------------------- NLLLoss

local NLLLoss = new_class("NLLLoss", Loss)
M.NLLLoss = NLLLoss
local NLL_OPTS = {reduction = true, weight = true, ignore_index = true}

function NLLLoss:init(opts)
  local fname = "gd.nn.NLLLoss"
  opts = loss_options(fname, self, opts, NLL_OPTS)
  class_options(fname, self, opts)
end

function NLLLoss:forward(input, target)
  local P = priv[self]
  if not gd.is_tensor(input) then base.argerr("NLLLoss", "the input must be a tensor, got " .. type(input), 2) end
  if not gd.is_tensor(target) then base.argerr("NLLLoss", "the target must be a tensor, got " .. type(target), 2) end
  -- any layout, as PyTorch (the C loss reads dense rows)
  if not input:is_contiguous() then input = input:contiguous() end
  if not target:is_contiguous() then target = target:contiguous() end
  local xc = input.c
  local w = self.weight
  if w and (w.c.scalar_type ~= xc.scalar_type or w.c.device_kind ~= xc.device_kind) then
    w = w:to({dtype = input.dtype, device = input.device})  -- follows the input, as the loss's buffers
    self.weight = w
  end
  local grad = buffer_like(P, "grad", xc)
  local red = REDUCTIONS[self.reduction]
  local losses = nil
  if red == 2 then losses = buffer2(P, "losses", tonumber(xc.sizes[0]), 1, xc):view(-1) end
  if C.gd_nn_nll_loss(dbl, losses and losses.c or nil, grad.c, xc, target.c, w and w.c or nil, red,
      self.ignore_index or -100) ~= 0 then
    pointwise_fail("NLLLoss")
  end
  P.last_grad = grad
  if losses then return base.loss_result("NLLLoss", losses, losses, grad, input, true), grad end
  return base.loss_result("NLLLoss", dbl[0], nil, grad, input), grad
end

doc(NLLLoss, "gd.nn.NLLLoss", [[
gd.nn.NLLLoss([{reduction = "mean", weight = nil, ignore_index = -100}]) -> loss;
  err, grad = loss(log_probs, target): -weight[t] log_probs[i, t] for rows of
  log-probabilities (N x C, e.g. from LogSoftmax) and 1-based int64 classes t,
  as PyTorch's nll_loss: "mean" divides by the sum of the targets' weights;
  rows whose target equals ignore_index (compared as given, as in
  CrossEntropyLoss: a class number, or PyTorch's default -100) count for
  nothing.]])

return M
