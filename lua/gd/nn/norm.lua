--- gd.nn.norm: BatchNorm1d and BatchNorm2d (issue 14), PyTorch's names,
-- options, initialisation (weight 1, bias 0, running_mean 0, running_var 1)
-- and state_dict keys (weight, bias, running_mean, running_var,
-- num_batches_tracked).  Forward and backward are one C call each
-- (src/nn_norm.c); the layer keeps its buffers per batch size.
local gd = require "gd.tensor"
local doc = require "gd.doc"
local check = require "gd.check"
local base = require "gd.nn.module"
local I = require "gd.aux"
local ffi, C = I.ffi, I.C
local fmt = string.format

local priv, Module, new_class, buffer_like = base.priv, base.Module, base.new_class, base.buffer_like

local M = {}

local function fail(name)
  local msg = ffi.string(C.gd_last_error()):gsub("^[%w_ ]-: ", "", 1)
  error(name .. ": " .. msg, 3)
end

local BN_OPTS = {eps = true, momentum = true, affine = true, track_running_stats = true, dtype = true, device = true}

local function bn_init(self, fname, num_features, opts)
  check.number(fname, "num_features", num_features, {integer = true, min = 1, level = 5})
  opts = check.options(fname, opts, BN_OPTS, 5)
  self.num_features = num_features
  self.eps = check.number(fname, "eps", opts.eps, {default = 1e-5, min = 0, level = 5})
  if opts.momentum == false then
    base.argerr(fname, "momentum = None (a cumulative average) is not supported yet; give a number", 5)
  end
  self.momentum = check.number(fname, "momentum", opts.momentum, {default = 0.1, min = 0, max = 1, level = 5})
  self.affine = opts.affine ~= false
  self.track_running_stats = opts.track_running_stats ~= false
  local topts = {dtype = opts.dtype or "float32", device = opts.device or "cpu"}
  if self.affine then
    self:register_parameter("weight", gd.ones(num_features, topts))
    self:register_parameter("bias", gd.zeros(num_features, topts))
  end
  if self.track_running_stats then
    self.running_mean = gd.zeros(num_features, topts)
    self.running_var = gd.ones(num_features, topts)
    self.num_batches_tracked = gd.zeros({}, {dtype = "int64"})   -- 0-d, as PyTorch's
  end
end

--- Running statistics follow the input's dtype and device after m:double(),
-- m:float() or m:to("cuda") (moved once, at the first forward after).
local rec_ip = ffi.new("int64_t[3]")

local function stats_like(self, x)
  local rm, xc = self.running_mean, x.c
  if rm and (rm.c.scalar_type ~= xc.scalar_type or rm.c.device_kind ~= xc.device_kind) then
    local to = {dtype = x.dtype, device = x.device}
    self.running_mean, self.running_var = rm:to(to), self.running_var:to(to)
  end
end

local function bn_forward(self, x, name, ranks)
  local P = priv[self]
  if not gd.is_tensor(x) then base.argerr(name, "the input must be a tensor, got " .. type(x), 3) end
  local xc = x.c
  if not ranks[tonumber(xc.rank)] then
    base.argerr(name, fmt("the input must be %s, got %d-D", ranks.what, xc.rank), 3)
  end
  if xc.sizes[1] ~= self.num_features then
    base.argerr(name, fmt("the input has %d channels but the layer has num_features = %d", tonumber(xc.sizes[1]),
      self.num_features), 3)
  end
  if xc.is_contiguous == 0 then x = x:contiguous(); xc = x.c end
  stats_like(self, x)
  local w, b, rm, rv = self.weight, self.bias, self.running_mean, self.running_var
  local wc, bc = w and w.c, b and b.c
  -- a recorded call writes a fresh output and statistics {mean, invstd} (one
  -- tensor of 2C, the node's saved value)
  local rec = base.recording(xc, wc, bc)
  local y, sm, si, stats
  if rec then
    local nf = self.num_features
    y = base.fresh_like(xc)
    stats = gd.empty(2 * nf, {dtype = x.dtype, device = x.device})
    sm, si = stats:narrow(1, 1, nf), stats:narrow(1, nf + 1, nf)
  else
    y = buffer_like(P, "out", xc)
    sm = P.save_mean
    if sm == nil or sm.c.scalar_type ~= xc.scalar_type or sm.c.device_kind ~= xc.device_kind then
      sm = gd.empty(self.num_features, {dtype = x.dtype, device = x.device})
      P.save_mean, P.save_invstd = sm, sm:clone()
    end
    si = P.save_invstd
  end
  local training = self.training
  if C.gd_nn_batchnorm_forward(y.c, sm.c, si.c, rm and rm.c or nil, rv and rv.c or nil, xc,
      wc, bc, self.momentum, self.eps, training and 1 or 0) ~= 0 then
    fail(name)
  end
  P.save_mean, P.save_invstd = sm, si
  if rec then
    rec_ip[0] = (training or rm == nil) and 1 or 0
    base.record_ip(name, y, C.GD_AG_NN_BATCHNORM, xc, wc, bc, stats.c, rec_ip, 1)
  end
  if training and rm then
    local nb = self.num_batches_tracked
    nb:fill_(nb:item() + 1)
  end
  P.input, P.batch_stats = x, (training or rm == nil) and 1 or 0
  return y
end

local function bn_backward(self, grad_out, name)
  local P = priv[self]
  local x = P.input
  if x == nil then base.argerr(name, "called before forward", 3) end
  if not gd.is_tensor(grad_out) then base.argerr(name, "the output gradient must be a tensor, got " .. type(grad_out), 3) end
  if grad_out.c.is_contiguous == 0 then grad_out = grad_out:contiguous() end
  local xc = x.c
  local gx = buffer_like(P, "grad_in", xc)
  local w, b = self.weight, self.bias
  local wg, bg = w and w.grad, b and b.grad
  if C.gd_nn_batchnorm_backward(gx.c, wg and wg.c or nil, bg and bg.c or nil, grad_out.c, xc, w and w.c or nil,
      P.save_mean.c, P.save_invstd.c, P.batch_stats) ~= 0 then
    fail(name)
  end
  return gx
end

--- PyTorch's state_dict: the parameters, then the running statistics.
local function bn_state_dict(self, prefix, into)
  into = Module.state_dict(self, prefix, into)
  prefix = prefix or ""
  if self.running_mean then
    into[prefix .. "running_mean"] = self.running_mean
    into[prefix .. "running_var"] = self.running_var
    into[prefix .. "num_batches_tracked"] = self.num_batches_tracked
  end
  return into
end

local function make(name, ranks, shape_doc)
  local cls = new_class(name, Module)
  M[name] = cls
  cls.init = function(self, num_features, opts) bn_init(self, "gd.nn." .. name, num_features, opts) end
  cls.forward = function(self, x) return bn_forward(self, x, name, ranks) end
  cls.backward = function(self, g) return bn_backward(self, g, name .. ":backward") end
  cls.state_dict = bn_state_dict
  cls.describe = function(self)
    return fmt("%s(%d, eps = %g, momentum = %g%s%s)", name, self.num_features, self.eps, self.momentum,
      self.affine and "" or ", affine = false", self.track_running_stats and "" or ", track_running_stats = false")
  end
  doc(cls, "gd.nn." .. name, "gd.nn." .. name .. [[(num_features, [{eps = 1e-5, momentum = 0.1, affine = true,
  track_running_stats = true, dtype, device}])
  Batch normalisation over ]] .. shape_doc .. [[ as PyTorch: in training mode
  each channel is normalised by its batch mean and biased variance, and the
  running statistics move by momentum (running_var by the unbiased variance,
  n/(n-1) times the biased one); in evaluation mode (m:evaluate()) the running
  statistics normalise.  weight starts at 1, bias at 0; state_dict() adds
  running_mean, running_var and num_batches_tracked.  On the CPU or a GPU (the running
  statistics follow the input's device).]])
  return cls
end

make("BatchNorm1d", {[2] = true, [3] = true, what = "2-D (N x C) or 3-D (N x C x L)"}, "N x C or N x C x L input")
make("BatchNorm2d", {[4] = true, what = "4-D (N x C x H x W)"}, "N x C x H x W input")

-- ----------------------------------------------------- LayerNorm, GroupNorm

--- The saved per-row statistics, on the input's device, reused while the row
-- count, dtype and device hold.
local function row_stats(P, rows, x)
  local sm, xc = P.save_mean, x.c
  if sm == nil or sm.c.count ~= rows or sm.c.scalar_type ~= xc.scalar_type or sm.c.device_kind ~= xc.device_kind then
    sm = gd.empty(rows, {dtype = x.dtype, device = x.device})
    P.save_mean, P.save_rstd = sm, sm:clone()
  end
  return sm, P.save_rstd
end

local function rownorm_forward(self, x, name, M, G, span)
  local P = priv[self]
  if x.c.is_contiguous == 0 then x = x:contiguous() end
  local xc = x.c
  local w, b = self.weight, self.bias
  local wc, bc = w and w.c, b and b.c
  -- a recorded call writes a fresh output and statistics {mean, rstd} (one
  -- tensor of two rows' worth, the node's saved value)
  local rec = base.recording(xc, wc, bc)
  local y, sm, sr, stats
  local rows = tonumber(xc.count) / M
  if rec then
    y = base.fresh_like(xc)
    stats = gd.empty(2 * rows, {dtype = x.dtype, device = x.device})
    sm, sr = stats:narrow(1, 1, rows), stats:narrow(1, rows + 1, rows)
    P.save_mean, P.save_rstd = nil, nil
  else
    y = buffer_like(P, "out", xc)
    sm, sr = row_stats(P, rows, x)
  end
  if C.gd_nn_rownorm_forward(y.c, sm.c, sr.c, xc, wc, bc, M, G, span, self.eps) ~= 0 then
    fail(name)
  end
  if rec then
    P.save_mean, P.save_rstd = sm, sr
    rec_ip[0], rec_ip[1], rec_ip[2] = M, G, span
    base.record_ip(name, y, C.GD_AG_NN_ROWNORM, xc, wc, bc, stats.c, rec_ip, 3)
  end
  P.input, P.M, P.G, P.span = x, M, G, span
  return y
end

local function rownorm_backward(self, grad_out, name)
  local P = priv[self]
  local x = P.input
  if x == nil then base.argerr(name, "called before forward", 3) end
  if not gd.is_tensor(grad_out) then base.argerr(name, "the output gradient must be a tensor, got " .. type(grad_out), 3) end
  if grad_out.c.is_contiguous == 0 then grad_out = grad_out:contiguous() end
  local xc = x.c
  local gx = buffer_like(P, "grad_in", xc)
  local w, b = self.weight, self.bias
  local wg, bg = w and w.grad, b and b.grad
  if C.gd_nn_rownorm_backward(gx.c, wg and wg.c or nil, bg and bg.c or nil, grad_out.c, xc, w and w.c or nil,
      P.save_mean.c, P.save_rstd.c, P.M, P.G, P.span) ~= 0 then
    fail(name)
  end
  return gx
end

local LN_OPTS = {eps = true, elementwise_affine = true, dtype = true, device = true}

local LayerNorm = new_class("LayerNorm", Module)
M.LayerNorm = LayerNorm

function LayerNorm:init(normalized_shape, opts)
  local fname = "gd.nn.LayerNorm"
  if type(normalized_shape) == "number" then normalized_shape = {normalized_shape} end
  if type(normalized_shape) ~= "table" or #normalized_shape == 0 then
    base.argerr(fname, "normalized_shape must be a number or a table of numbers", 4)
  end
  local shape = {}
  for i, n in ipairs(normalized_shape) do
    shape[i] = check.number(fname, "normalized_shape", n, {integer = true, min = 1, level = 4})
  end
  opts = check.options(fname, opts, LN_OPTS, 4)
  self.normalized_shape = shape
  self.eps = check.number(fname, "eps", opts.eps, {default = 1e-5, min = 0, level = 4})
  self.elementwise_affine = opts.elementwise_affine ~= false
  if self.elementwise_affine then
    local topts = {dtype = opts.dtype or "float32", device = opts.device or "cpu"}
    self:register_parameter("weight", gd.ones(shape, topts))
    self:register_parameter("bias", gd.zeros(shape, topts))
  end
end

function LayerNorm:forward(x)
  if not gd.is_tensor(x) then base.argerr("LayerNorm", "the input must be a tensor, got " .. type(x), 2) end
  local ns, xc = self.normalized_shape, x.c
  local r, k = tonumber(xc.rank), #ns
  local ok, M = r >= k, 1
  for i = 1, k do
    if not ok then break end
    ok = tonumber(xc.sizes[r - k + i - 1]) == ns[i]
    M = M * ns[i]
  end
  if not ok then
    base.argerr("LayerNorm", fmt("the input's shape %s does not end in normalized_shape %s",
      table.concat(x.shape, "x"), table.concat(ns, "x")), 2)
  end
  return rownorm_forward(self, x, "LayerNorm", M, 1, 1)
end
function LayerNorm:backward(g) return rownorm_backward(self, g, "LayerNorm:backward") end
function LayerNorm:describe() return fmt("LayerNorm(%s, eps = %g)", table.concat(self.normalized_shape, "x"), self.eps) end
doc(LayerNorm, "gd.nn.LayerNorm", [[
gd.nn.LayerNorm(normalized_shape, [{eps = 1e-5, elementwise_affine = true, dtype, device}])
  Normalises over the trailing dimensions normalized_shape (a number or a
  table) by their mean and biased variance, as PyTorch; weight (ones) and bias
  (zeros) have normalized_shape.  Same in training and evaluation.]])

local GN_OPTS = {eps = true, affine = true, dtype = true, device = true}

local GroupNorm = new_class("GroupNorm", Module)
M.GroupNorm = GroupNorm

function GroupNorm:init(num_groups, num_channels, opts)
  local fname = "gd.nn.GroupNorm"
  check.number(fname, "num_groups", num_groups, {integer = true, min = 1, level = 4})
  check.number(fname, "num_channels", num_channels, {integer = true, min = 1, level = 4})
  if num_channels % num_groups ~= 0 then
    base.argerr(fname, fmt("num_channels (%d) is not divisible by num_groups (%d)", num_channels, num_groups), 4)
  end
  opts = check.options(fname, opts, GN_OPTS, 4)
  self.num_groups, self.num_channels = num_groups, num_channels
  self.eps = check.number(fname, "eps", opts.eps, {default = 1e-5, min = 0, level = 4})
  self.affine = opts.affine ~= false
  if self.affine then
    local topts = {dtype = opts.dtype or "float32", device = opts.device or "cpu"}
    self:register_parameter("weight", gd.ones(num_channels, topts))
    self:register_parameter("bias", gd.zeros(num_channels, topts))
  end
end

function GroupNorm:forward(x)
  if not gd.is_tensor(x) then base.argerr("GroupNorm", "the input must be a tensor, got " .. type(x), 2) end
  local xc = x.c
  if xc.rank < 2 or tonumber(xc.sizes[1]) ~= self.num_channels then
    base.argerr("GroupNorm", fmt("the input (shape %s) must be N x %d x ...", table.concat(x.shape, "x"),
      self.num_channels), 2)
  end
  local L = 1
  for d = 2, xc.rank - 1 do L = L * tonumber(xc.sizes[d]) end
  local G = self.num_groups
  return rownorm_forward(self, x, "GroupNorm", self.num_channels / G * L, G, L)
end
function GroupNorm:backward(g) return rownorm_backward(self, g, "GroupNorm:backward") end
function GroupNorm:describe() return fmt("GroupNorm(%d, %d, eps = %g)", self.num_groups, self.num_channels, self.eps) end
doc(GroupNorm, "gd.nn.GroupNorm", [[
gd.nn.GroupNorm(num_groups, num_channels, [{eps = 1e-5, affine = true, dtype, device}])
  Normalises each sample's groups of num_channels/num_groups channels (with
  all their positions) by their mean and biased variance, as PyTorch; weight
  (ones) and bias (zeros) are per channel.]])

return M
