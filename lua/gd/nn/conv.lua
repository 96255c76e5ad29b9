--- gd.nn.conv: Conv1d, Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d and
-- Flatten (issue 14), with PyTorch's names, argument order, shapes (NCHW),
-- initialisation and state_dict keys (weight, bias).
--
-- Each layer's forward and backward is one C call (src/nn_conv.c, then the
-- device's backend: src/cpu/conv.c, im2col + BLAS, or cuda/conv.cu, im2col +
-- cuBLAS), writing into buffers the layer keeps per batch size on the input's
-- device, so a training step allocates nothing after the first; the C side
-- checks every shape.  Unbatched inputs (C x H x W, or C x L for Conv1d) are
-- accepted as PyTorch does.
local gd = require "gd.tensor"
local doc = require "gd.doc"
local check = require "gd.check"
local base = require "gd.nn.module"
local I = require "gd.aux"
local ffi, C = I.ffi, I.C
local out1 = I.out1
local fmt = string.format

local priv, Module, new_class = base.priv, base.Module, base.new_class

local M = {}

--- Raises "<name>: <C's message without its own prefix>" at the layer's caller.
local function fail(name)
  local msg = ffi.string(C.gd_last_error()):gsub("^[%w_ ]-: ", "", 1)
  error(name .. ": " .. msg, 3)
end

--- A reused contiguous buffer of `rank` sizes (cdata, 0-based) of dtype on
-- device, cached in P[key] by the first size.
local function buffer(P, key, rank, sizes, dtype, device)
  local cache = P[key]
  if cache == nil then cache = {}; P[key] = cache end
  local n = tonumber(sizes[0])
  local b = cache[n]
  if b ~= nil then
    local c = b.c
    local same = c.rank == rank and c.scalar_type == dtype and c.device_kind == device
    for d = 1, rank - 1 do
      if c.sizes[d] ~= sizes[d] then same = false end
    end
    if same then return b end
  end
  if C.gd_empty(out1, rank, sizes, dtype, device) ~= 0 then fail("gd.nn") end
  b = I.wrap(out1[0])
  cache[n] = b
  return b
end

--- n (an integer >= min) or a pair {a, b}, as PyTorch's _pair: returns a, b.
local function pair(fname, what, v, min, dim)
  if type(v) == "table" then
    if #v ~= dim then base.argerr(fname, fmt("%s must be a number or a table of %d numbers", what, dim), 5) end
    local a = check.number(fname, what, v[1], {integer = true, min = min, level = 5})
    local b = dim == 2 and check.number(fname, what, v[2], {integer = true, min = min, level = 5}) or a
    return a, b
  end
  check.number(fname, what, v, {integer = true, min = min, level = 5})
  return v, v
end

local function tensor_arg(name, x, level)
  if not gd.is_tensor(x) then base.argerr(name, "the input must be a tensor, got " .. type(x), level + 1) end
end

-- ------------------------------------------------------------------ ConvNd

local CONV_OPTS = {stride = true, padding = true, dilation = true, groups = true, bias = true, padding_mode = true,
                   dtype = true, device = true}

local CONVT_OPTS = {output_padding = true}
for k in pairs(CONV_OPTS) do CONVT_OPTS[k] = true end

--- Conv1d/Conv2d/ConvTranspose2d's shared constructor: dim spatial
-- dimensions; transposed: ConvTranspose2d's output_padding, weight layout
-- (in x out/groups x kernel) and fan_in (out/groups x kernel).
local function conv_init(self, dim, fname, in_channels, out_channels, kernel_size, opts, transposed)
  check.number(fname, "in_channels", in_channels, {integer = true, min = 1, level = 4})
  check.number(fname, "out_channels", out_channels, {integer = true, min = 1, level = 4})
  opts = check.options(fname, opts, transposed and CONVT_OPTS or CONV_OPTS, 4)
  local kh, kw = pair(fname, "kernel_size", kernel_size, 1, dim)
  local sh, sw = pair(fname, "stride", opts.stride or 1, 1, dim)
  local ph, pw = pair(fname, "padding", opts.padding or 0, 0, dim)
  local dh, dw = pair(fname, "dilation", opts.dilation or 1, 1, dim)
  local groups = check.number(fname, "groups", opts.groups or 1, {integer = true, min = 1, level = 4})
  if in_channels % groups ~= 0 then
    base.argerr(fname, fmt("in_channels (%d) is not divisible by groups (%d)", in_channels, groups), 4)
  end
  if out_channels % groups ~= 0 then
    base.argerr(fname, fmt("out_channels (%d) is not divisible by groups (%d)", out_channels, groups), 4)
  end
  if opts.padding_mode ~= nil and opts.padding_mode ~= "zeros" then
    base.argerr(fname, fmt("padding_mode '%s' is not supported (only 'zeros')", tostring(opts.padding_mode)), 4)
  end
  self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
  if dim == 2 then
    self.kernel_size, self.stride, self.padding, self.dilation = {kh, kw}, {sh, sw}, {ph, pw}, {dh, dw}
  else
    self.kernel_size, self.stride, self.padding, self.dilation = {kw}, {sw}, {pw}, {dw}
  end
  local topts = {dtype = opts.dtype or "float32", device = opts.device or "cpu"}
  -- PyTorch's _ConvNd.reset_parameters: kaiming_uniform_(a = sqrt(5)), i.e.
  -- U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = weight.size(1) *
  -- prod(kernel) (in/groups, or out/groups for the transposed weight), and
  -- the same bound for the bias
  local rows, cols = out_channels, in_channels / groups
  if transposed then
    local oph, opw = pair(fname, "output_padding", opts.output_padding or 0, 0, dim)
    if (oph >= sh and oph >= dh) or (opw >= sw and opw >= dw) then
      base.argerr(fname, "output_padding must be smaller than either the stride or the dilation", 4)
    end
    self.output_padding = {oph, opw}
    rows, cols = in_channels, out_channels / groups
  end
  local bound = 1 / math.sqrt(cols * kh * kw)
  if dim == 1 then bound = 1 / math.sqrt(cols * kw) end
  local w
  if dim == 2 then w = gd.empty(rows, cols, kh, kw, topts)
  else w = gd.empty(rows, cols, kw, topts) end
  self:register_parameter("weight", w:uniform_(-bound, bound))
  if opts.bias ~= false then
    self:register_parameter("bias", gd.empty(out_channels, topts):uniform_(-bound, bound))
  end
end

--- The C geometry {SH, SW, PH, PW, DH, DW, groups}, made once per instance.
local function conv_geom(self, P)
  local g = P.geom
  if g then return g end
  g = ffi.new("int64_t[7]")
  local s, p, d = self.stride, self.padding, self.dilation
  if #s == 2 then
    g[0], g[1], g[2], g[3], g[4], g[5] = s[1], s[2], p[1], p[2], d[1], d[2]
  else
    g[0], g[1], g[2], g[3], g[4], g[5] = 1, s[1], 0, p[1], 1, d[1]
  end
  g[6] = self.groups
  P.geom, P.shape = g, ffi.new("int64_t[5]")
  return g
end

-- The layer's im2col workspace of at least need elements, of xc's dtype and
-- device (shp: a size box to build it with), kept across calls and shared by
-- forward and backward.
local function workspace(P, need, shp, xc)
  local col = P.col
  if col == nil or col.c.count < need or col.c.scalar_type ~= xc.scalar_type or col.c.device_kind ~= xc.device_kind then
    shp[0] = need
    col = buffer(P, "col_cache", 1, shp, xc.scalar_type, xc.device_kind)
    P.col = col
  end
  return col
end

local function conv_forward(self, x, name, rank)
  local P = priv[self]
  tensor_arg(name, x, 3)
  local unbatched = x.c.rank == rank - 1
  if unbatched then x = x:view(1, unpack(x.shape)) end
  local g = conv_geom(self, P)
  local xc, wc, b = x.c, self.weight.c, self.bias
  local shp = P.shape
  if C.gd_nn_conv2d_shape(shp, xc, wc, g) ~= 0 then fail(name) end
  local bc = b and b.c
  -- a recorded call writes a fresh output (the graph keeps it past the next call)
  local rec = base.recording(xc, wc, bc)
  local y = rec and base.fresh(rank, shp, xc) or buffer(P, "out", rank, shp, xc.scalar_type, xc.device_kind)
  -- the workspace: one sample's im2col matrix, shared by forward and backward
  local need = tonumber(shp[rank])
  local col = workspace(P, need, shp, xc)
  if C.gd_nn_conv2d_forward(y.c, col.c, xc, wc, bc, g) ~= 0 then fail(name) end
  if rec then base.record_ip(name, y, C.GD_AG_NN_CONV2D, xc, wc, bc, nil, g, 7) end
  P.input, P.unbatched = x, unbatched
  if unbatched then return y[1] end
  return y
end

local function conv_backward(self, grad_out, need_input_grad, name)
  local P = priv[self]
  local x = P.input
  if x == nil then base.argerr(name, "called before forward", 3) end
  if not gd.is_tensor(grad_out) then base.argerr(name, "the output gradient must be a tensor, got " .. type(grad_out), 3) end
  if P.unbatched then grad_out = grad_out:view(1, unpack(grad_out.shape)) end
  local w, b = self.weight, self.bias
  local wg, bg = w.grad, b and b.grad
  local xc = x.c
  local gx = nil
  if need_input_grad ~= false then gx = buffer(P, "grad_in", xc.rank, xc.sizes, xc.scalar_type, xc.device_kind) end
  if C.gd_nn_conv2d_backward(gx and gx.c or nil, wg and wg.c or nil, bg and bg.c or nil, P.col.c, grad_out.c, xc,
                             w.c, P.geom) ~= 0 then
    fail(name)
  end
  if gx and P.unbatched then return gx[1] end
  return gx
end

local function conv_describe(self, name)
  local function t(v) return table.concat(v, ", ") end
  local extra = ""
  if self.padding[1] ~= 0 or self.padding[2] and self.padding[2] ~= 0 then extra = extra .. ", padding = (" .. t(self.padding) .. ")" end
  if self.dilation[1] ~= 1 or self.dilation[2] and self.dilation[2] ~= 1 then extra = extra .. ", dilation = (" .. t(self.dilation) .. ")" end
  if self.groups ~= 1 then extra = extra .. ", groups = " .. self.groups end
  if not self.bias then extra = extra .. ", bias = false" end
  return fmt("%s(%d, %d, kernel_size = (%s), stride = (%s)%s)", name, self.in_channels, self.out_channels,
    t(self.kernel_size), t(self.stride), extra)
end

local Conv2d = new_class("Conv2d", Module)
M.Conv2d = Conv2d
function Conv2d:init(in_channels, out_channels, kernel_size, opts)
  conv_init(self, 2, "gd.nn.Conv2d", in_channels, out_channels, kernel_size, opts)
end
function Conv2d:forward(x) return conv_forward(self, x, "Conv2d", 4) end
function Conv2d:backward(g, need_input_grad) return conv_backward(self, g, need_input_grad, "Conv2d:backward") end
function Conv2d:describe() return conv_describe(self, "Conv2d") end

doc(Conv2d, "gd.nn.Conv2d", [[
gd.nn.Conv2d(in_channels, out_channels, kernel_size, [{stride = 1, padding = 0,
  dilation = 1, groups = 1, bias = true, dtype = "float32", device = "cpu"}])
  PyTorch's 2-D convolution (cross-correlation) of x (N x C x H x W, or
  C x H x W) into N x out x OH x OW, OH = floor((H + 2 padding - dilation
  (kernel - 1) - 1) / stride) + 1.  kernel_size, stride, padding and dilation
  are a number or a pair {h, w}.  weight is out x in/groups x kh x kw, bias
  out, both U(+-1/sqrt(in/groups kh kw)) as in PyTorch.  Forward and backward
  are one C call each (im2col + BLAS gemm); backward accumulates weight.grad
  and bias.grad.  Runs on the device of its parameters and input (cuBLAS on a GPU).]])

local Conv1d = new_class("Conv1d", Module)
M.Conv1d = Conv1d
function Conv1d:init(in_channels, out_channels, kernel_size, opts)
  conv_init(self, 1, "gd.nn.Conv1d", in_channels, out_channels, kernel_size, opts)
end
function Conv1d:forward(x) return conv_forward(self, x, "Conv1d", 3) end
function Conv1d:backward(g, need_input_grad) return conv_backward(self, g, need_input_grad, "Conv1d:backward") end
function Conv1d:describe() return conv_describe(self, "Conv1d") end

doc(Conv1d, "gd.nn.Conv1d", [[
gd.nn.Conv1d(in_channels, out_channels, kernel_size, [{stride = 1, padding = 0,
  dilation = 1, groups = 1, bias = true, dtype, device}])
  PyTorch's 1-D convolution of x (N x C x L, or C x L) into N x out x OL;
  weight is out x in/groups x k.  The same C kernels as Conv2d (a height of 1).]])

-- --------------------------------------------------------- ConvTranspose2d

local ConvTranspose2d = new_class("ConvTranspose2d", Module)
M.ConvTranspose2d = ConvTranspose2d
function ConvTranspose2d:init(in_channels, out_channels, kernel_size, opts)
  conv_init(self, 2, "gd.nn.ConvTranspose2d", in_channels, out_channels, kernel_size, opts, true)
end

local function convt_geom(self, P)
  local g = P.geom
  if g then return g end
  g = ffi.new("int64_t[9]")
  local s, p, d, op = self.stride, self.padding, self.dilation, self.output_padding
  g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8] = s[1], s[2], p[1], p[2], d[1], d[2], self.groups, op[1], op[2]
  P.geom, P.shape = g, ffi.new("int64_t[5]")
  return g
end

--- The output_padding pair that makes the output output_size ({OH, OW}, or
-- a longer size table whose last two entries are OH, OW), as PyTorch's
-- ConvTranspose2d._output_padding; errors name the valid range.
local function padding_for_size(self, x, output_size)
  local name = "ConvTranspose2d"
  if type(output_size) ~= "table" or #output_size < 2 then
    base.argerr(name, "output_size must be a table {height, width} (or a full shape ending in them)", 3)
  end
  local op = {}
  for a = 1, 2 do
    local want = output_size[#output_size - 2 + a]
    local n = x.shape[x:dim() - 2 + a]
    local s, p, d, k = self.stride[a], self.padding[a], self.dilation[a], self.kernel_size[a]
    local lo = (n - 1) * s - 2 * p + d * (k - 1) + 1
    local hi = lo + math.max(s, d) - 1
    if type(want) ~= "number" or want < lo or want > hi or want % 1 ~= 0 then
      base.argerr(name, fmt("output_size %s is not reachable: with this input the %s can be %d to %d",
        table.concat(output_size, "x"), a == 1 and "height" or "width", lo, hi), 3)
    end
    op[a] = want - lo
  end
  return op
end

function ConvTranspose2d:forward(x, output_size)
  local name = "ConvTranspose2d"
  local P = priv[self]
  tensor_arg(name, x, 2)
  local unbatched = x.c.rank == 3
  if unbatched then x = x:view(1, unpack(x.shape)) end
  local g = convt_geom(self, P)
  -- this call's output_padding: from output_size, or the layer's own
  local op = output_size ~= nil and padding_for_size(self, x, output_size) or self.output_padding
  g[7], g[8] = op[1], op[2]
  local xc, b = x.c, self.bias
  local shp = P.shape
  if C.gd_nn_conv_transpose2d_shape(shp, xc, self.weight.c, g) ~= 0 then fail(name) end
  local wc, bc = self.weight.c, b and b.c
  local rec = base.recording(xc, wc, bc)
  local y = rec and base.fresh(4, shp, xc) or buffer(P, "out", 4, shp, xc.scalar_type, xc.device_kind)
  local need = tonumber(shp[4])
  local col = workspace(P, need, shp, xc)
  if C.gd_nn_conv_transpose2d_forward(y.c, col.c, xc, wc, bc, g) ~= 0 then fail(name) end
  if rec then base.record_ip(name, y, C.GD_AG_NN_CONV_T2D, xc, wc, bc, nil, g, 9) end
  P.input, P.unbatched = x, unbatched
  if unbatched then return y[1] end
  return y
end

function ConvTranspose2d:backward(grad_out, need_input_grad)
  local name = "ConvTranspose2d:backward"
  local P = priv[self]
  local x = P.input
  if x == nil then base.argerr(name, "called before forward", 2) end
  if not gd.is_tensor(grad_out) then base.argerr(name, "the output gradient must be a tensor, got " .. type(grad_out), 2) end
  if P.unbatched then grad_out = grad_out:view(1, unpack(grad_out.shape)) end
  local w, b = self.weight, self.bias
  local xc = x.c
  local gx = nil
  if need_input_grad ~= false then gx = buffer(P, "grad_in", xc.rank, xc.sizes, xc.scalar_type, xc.device_kind) end
  if C.gd_nn_conv_transpose2d_backward(gx and gx.c or nil, w.grad and w.grad.c or nil, b and b.grad and b.grad.c or nil,
                                       P.col.c, grad_out.c, xc, w.c, P.geom) ~= 0 then
    fail(name)
  end
  if gx and P.unbatched then return gx[1] end
  return gx
end

function ConvTranspose2d:describe()
  local s = conv_describe(self, "ConvTranspose2d")
  if self.output_padding[1] ~= 0 or self.output_padding[2] ~= 0 then
    s = s:sub(1, -2) .. fmt(", output_padding = (%d, %d))", self.output_padding[1], self.output_padding[2])
  end
  return s
end

doc(ConvTranspose2d, "gd.nn.ConvTranspose2d", [[
gd.nn.ConvTranspose2d(in_channels, out_channels, kernel_size, [{stride = 1,
  padding = 0, output_padding = 0, groups = 1, bias = true, dilation = 1,
  dtype, device}])
  PyTorch's transposed convolution (the gradient of Conv2d with respect to
  its input, "deconvolution"): x (N x in x H x W, or unbatched) into N x out x
  OH x OW, OH = (H - 1) stride - 2 padding + dilation (kernel - 1) +
  output_padding + 1.  weight is in x out/groups x kh x kw (PyTorch's
  layout), weight and bias U(+-1/sqrt(out/groups kh kw)).  Forward is gemm +
  col2im, backward im2col + gemm, one C call each.  m:forward(x,
  output_size) picks the output_padding that gives output_size ({OH, OW}, as
  PyTorch's forward(input, output_size)).  On the CPU or a GPU.]])

-- ----------------------------------------------------------------- pooling

--- The C pool geometry, made once per instance (see gd.h).
local function pool_geom(self, P)
  local g = P.geom
  if g then return g end
  g = ffi.new("int64_t[12]")   -- the geometry, and the kind where autograd records it
  if self.output_size then
    g[0], g[1] = self.output_size[1], self.output_size[2]
  else
    local k, s, p, d = self.kernel_size, self.stride, self.padding, self.dilation or {1, 1}
    g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7] = k[1], k[2], s[1], s[2], p[1], p[2], d[1], d[2]
    g[8] = self.ceil_mode and 1 or 0
    g[9] = self.count_include_pad == false and 0 or 1
    g[10] = self.divisor_override or 0
  end
  P.geom, P.shape = g, ffi.new("int64_t[4]")
  return g
end

local function pool_forward(self, x, name, kind)
  local P = priv[self]
  local internal = P.internal   -- (first: a failed call must not leave it set)
  P.internal = nil
  tensor_arg(name, x, 3)
  local unbatched = x.c.rank == 3
  if unbatched then x = x:view(1, unpack(x.shape)) end
  local g, shp = pool_geom(self, P), P.shape
  local xc = x.c
  if C.gd_nn_pool2d_shape(shp, xc, g, kind) ~= 0 then fail(name) end
  -- a recorded call writes a fresh output and argmax (the graph keeps them),
  -- or kept ones nothing refers to any more: the output when only the next
  -- module of a Sequential reads it, the argmax (which no user sees) always
  local rec = base.recording(xc)
  local y, idx = nil, nil
  if rec then
    if internal and not unbatched then y = base.internal_output(P, "rec_out", 4, shp, xc) end
    y = y or base.fresh(4, shp, xc)
    if kind == C.GD_NN_MAXPOOL then
      idx = base.internal_output(P, "rec_idx", 4, shp, xc, C.GD_INT64)
        or gd.empty(tonumber(shp[0]), tonumber(shp[1]), tonumber(shp[2]), tonumber(shp[3]),
                    {dtype = "int64", device = x.device})
    end
  else
    y = buffer(P, "out", 4, shp, xc.scalar_type, xc.device_kind)
    if kind == C.GD_NN_MAXPOOL then idx = buffer(P, "indices", 4, shp, C.GD_INT64, xc.device_kind) end
  end
  if C.gd_nn_pool2d_forward(y.c, idx and idx.c or nil, xc, g, kind) ~= 0 then fail(name) end
  if rec then
    g[11] = kind
    base.record_ip(name, y, C.GD_AG_NN_POOL2D, xc, nil, nil, idx and idx.c, g, 12)
  end
  P.input, P.idx, P.unbatched = x, idx, unbatched
  if unbatched then return y[1] end
  return y
end

local function pool_backward(self, grad_out, name, kind)
  local P = priv[self]
  local x = P.input
  if x == nil then base.argerr(name, "called before forward", 3) end
  if not gd.is_tensor(grad_out) then base.argerr(name, "the output gradient must be a tensor, got " .. type(grad_out), 3) end
  if P.unbatched then grad_out = grad_out:view(1, unpack(grad_out.shape)) end
  local xc = x.c
  local gx = buffer(P, "grad_in", 4, xc.sizes, xc.scalar_type, xc.device_kind)
  if C.gd_nn_pool2d_backward(gx.c, grad_out.c, P.idx and P.idx.c or nil, xc, P.geom, kind) ~= 0 then fail(name) end
  if P.unbatched then return gx[1] end
  return gx
end

local function same_sizes(a, b)
  if a.rank ~= b.rank then return false end
  for d = 0, a.rank - 1 do
    if a.sizes[d] ~= b.sizes[d] then return false end
  end
  return true
end

local MAXPOOL_OPTS = {stride = true, padding = true, dilation = true, ceil_mode = true, return_indices = true}

local MaxPool2d = new_class("MaxPool2d", Module)
M.MaxPool2d = MaxPool2d
function MaxPool2d:init(kernel_size, opts)
  local fname = "gd.nn.MaxPool2d"
  opts = check.options(fname, opts, MAXPOOL_OPTS, 4)
  local kh, kw = pair(fname, "kernel_size", kernel_size, 1, 2)
  local sh, sw = kh, kw   -- PyTorch: stride defaults to kernel_size
  if opts.stride ~= nil then sh, sw = pair(fname, "stride", opts.stride, 1, 2) end
  local ph, pw = pair(fname, "padding", opts.padding or 0, 0, 2)
  local dh, dw = pair(fname, "dilation", opts.dilation or 1, 1, 2)
  self.kernel_size, self.stride, self.padding, self.dilation = {kh, kw}, {sh, sw}, {ph, pw}, {dh, dw}
  self.ceil_mode = opts.ceil_mode == true
  self.return_indices = opts.return_indices == true
end
function MaxPool2d:forward(x)
  local y = pool_forward(self, x, "MaxPool2d", C.GD_NN_MAXPOOL)
  if not self.return_indices then return y end
  -- PyTorch's indices count from 0 within each flattened H x W plane; gdlua's
  -- from 1, as every index (a window of only padding, which PyTorch never
  -- makes at padding <= kernel/2, would give 0)
  local P = priv[self]
  local idx = P.idx
  local out = P.idx_out
  if out == nil or not same_sizes(out.c, idx.c) then out = idx:clone(); P.idx_out = out end
  out:copy_(idx):add_(1)
  if P.unbatched then return y, out[1] end
  return y, out
end
function MaxPool2d:backward(g) return pool_backward(self, g, "MaxPool2d:backward", C.GD_NN_MAXPOOL) end
function MaxPool2d:describe()
  return fmt("MaxPool2d(kernel_size = (%d, %d), stride = (%d, %d))", self.kernel_size[1], self.kernel_size[2],
    self.stride[1], self.stride[2])
end
doc(MaxPool2d, "gd.nn.MaxPool2d", [[
gd.nn.MaxPool2d(kernel_size, [{stride = kernel_size, padding = 0, dilation = 1,
  ceil_mode = false, return_indices = false}])
  With return_indices, forward returns y, indices: int64, y's shape, each
  the 1-based position of its maximum in the flattened H x W plane (PyTorch's
  index + 1).
  The maximum over each window of x (N x C x H x W or C x H x W), as PyTorch:
  padded positions never win, a NaN does, the first maximum takes the
  gradient.  Output size as Conv2d's (ceil instead of floor with ceil_mode,
  the last window starting inside the input).  padding is at most half the
  kernel.]])

local AVGPOOL_OPTS = {stride = true, padding = true, ceil_mode = true, count_include_pad = true,
                      divisor_override = true}

local AvgPool2d = new_class("AvgPool2d", Module)
M.AvgPool2d = AvgPool2d
function AvgPool2d:init(kernel_size, opts)
  local fname = "gd.nn.AvgPool2d"
  opts = check.options(fname, opts, AVGPOOL_OPTS, 4)
  local kh, kw = pair(fname, "kernel_size", kernel_size, 1, 2)
  local sh, sw = kh, kw
  if opts.stride ~= nil then sh, sw = pair(fname, "stride", opts.stride, 1, 2) end
  local ph, pw = pair(fname, "padding", opts.padding or 0, 0, 2)
  self.kernel_size, self.stride, self.padding = {kh, kw}, {sh, sw}, {ph, pw}
  self.ceil_mode = opts.ceil_mode == true
  self.count_include_pad = opts.count_include_pad ~= false
  if opts.divisor_override ~= nil then
    self.divisor_override = check.number(fname, "divisor_override", opts.divisor_override,
      {integer = true, min = 1, level = 4})
  end
end
function AvgPool2d:forward(x) return pool_forward(self, x, "AvgPool2d", C.GD_NN_AVGPOOL) end
function AvgPool2d:backward(g) return pool_backward(self, g, "AvgPool2d:backward", C.GD_NN_AVGPOOL) end
function AvgPool2d:describe()
  return fmt("AvgPool2d(kernel_size = (%d, %d), stride = (%d, %d))", self.kernel_size[1], self.kernel_size[2],
    self.stride[1], self.stride[2])
end
doc(AvgPool2d, "gd.nn.AvgPool2d", [[
gd.nn.AvgPool2d(kernel_size, [{stride = kernel_size, padding = 0, ceil_mode =
  false, count_include_pad = true, divisor_override = nil}])
  The mean over each window, as PyTorch's avg_pool2d: with count_include_pad
  the divisor counts padded positions (but not the part of a ceil_mode window
  past the padding); divisor_override replaces the divisor.]])

local AdaptiveAvgPool2d = new_class("AdaptiveAvgPool2d", Module)
M.AdaptiveAvgPool2d = AdaptiveAvgPool2d
function AdaptiveAvgPool2d:init(output_size)
  local oh, ow = pair("gd.nn.AdaptiveAvgPool2d", "output_size", output_size, 1, 2)
  self.output_size = {oh, ow}
end
function AdaptiveAvgPool2d:forward(x)
  return pool_forward(self, x, "AdaptiveAvgPool2d", C.GD_NN_ADAPTIVE_AVGPOOL)
end
function AdaptiveAvgPool2d:backward(g)
  return pool_backward(self, g, "AdaptiveAvgPool2d:backward", C.GD_NN_ADAPTIVE_AVGPOOL)
end
function AdaptiveAvgPool2d:describe()
  return fmt("AdaptiveAvgPool2d(%d, %d)", self.output_size[1], self.output_size[2])
end
doc(AdaptiveAvgPool2d, "gd.nn.AdaptiveAvgPool2d", [[
gd.nn.AdaptiveAvgPool2d(output_size): averages x (N x C x H x W) into
  N x C x OH x OW (output_size: a number or {OH, OW}); cell i covers rows
  floor(i H / OH) to ceil((i + 1) H / OH) - 1, as in PyTorch.]])

-- ------------------------------------------------------------------ Flatten

local Flatten = new_class("Flatten", Module)
M.Flatten = Flatten
function Flatten:init(start_dim, end_dim)
  local fname = "gd.nn.Flatten"
  self.start_dim = check.number(fname, "start_dim", start_dim, {integer = true, default = 2, level = 4})
  self.end_dim = check.number(fname, "end_dim", end_dim, {integer = true, default = -1, level = 4})
end

--- 1-based dim d (negative from the end) of a rank-r tensor, checked.
local function norm_dim(d, r, what)
  local n = d < 0 and r + 1 + d or d
  if n < 1 or n > r then
    base.argerr("Flatten", fmt("%s %d is out of range for a %d-D input", what, d, r), 4)
  end
  return n
end

function Flatten:forward(x)
  tensor_arg("Flatten", x, 2)
  local shape = x.shape
  local r = #shape
  local s, e = norm_dim(self.start_dim, r, "start_dim"), norm_dim(self.end_dim, r, "end_dim")
  if s > e then base.argerr("Flatten", fmt("start_dim %d comes after end_dim %d", self.start_dim, self.end_dim), 2) end
  local out, k = {}, 1
  for d = 1, s - 1 do out[k] = shape[d]; k = k + 1 end
  local m = 1
  for d = s, e do m = m * shape[d] end
  out[k] = m; k = k + 1
  for d = e + 1, r do out[k] = shape[d]; k = k + 1 end
  priv[self].in_shape = shape
  return x:reshape(out)
end

function Flatten:backward(g)
  local shape = priv[self].in_shape
  if shape == nil then base.argerr("Flatten:backward", "called before forward", 2) end
  return g:reshape(shape)
end
function Flatten:describe() return fmt("Flatten(%d, %d)", self.start_dim, self.end_dim) end
doc(Flatten, "gd.nn.Flatten", [[
gd.nn.Flatten([start_dim = 2, end_dim = -1]): merges dimensions start_dim ..
  end_dim (1-based, as every gdlua index; negative counts from the end) into
  one, as torch.nn.Flatten (whose default start_dim = 1 is 0-based: the batch
  dimension stays).  A view when the input is contiguous.]])

-- ---------------------------------------------------------------- Unflatten

local Unflatten = new_class("Unflatten", Module)
M.Unflatten = Unflatten
function Unflatten:init(dim, sizes)
  local fname = "gd.nn.Unflatten"
  self.dim = check.number(fname, "dim", dim, {integer = true, level = 4})
  if type(sizes) ~= "table" or #sizes == 0 then base.argerr(fname, "unflattened_size must be a table of sizes", 4) end
  for _, n in ipairs(sizes) do check.number(fname, "unflattened_size", n, {integer = true, min = 1, level = 4}) end
  self.unflattened_size = sizes
end
function Unflatten:forward(x)
  tensor_arg("Unflatten", x, 2)
  local shape = x.shape
  local r = #shape
  local d = norm_dim(self.dim, r, "dim")
  local out, k, m = {}, 1, 1
  for i = 1, d - 1 do out[k] = shape[i]; k = k + 1 end
  for _, n in ipairs(self.unflattened_size) do out[k] = n; k = k + 1; m = m * n end
  for i = d + 1, r do out[k] = shape[i]; k = k + 1 end
  if m ~= shape[d] then
    base.argerr("Unflatten", fmt("dimension %d has size %d, not %d = the product of %s", d, shape[d], m,
      table.concat(self.unflattened_size, "x")), 2)
  end
  priv[self].in_shape = shape
  return x:reshape(out)
end
Unflatten.backward = Flatten.backward
function Unflatten:describe() return fmt("Unflatten(%d, %s)", self.dim, table.concat(self.unflattened_size, "x")) end
doc(Unflatten, "gd.nn.Unflatten", [[
gd.nn.Unflatten(dim, unflattened_size): splits dimension dim (1-based) into
  unflattened_size (a table), as torch.nn.Unflatten: Unflatten(2, {1, 8, 8})
  turns N x 64 rows into N x 1 x 8 x 8 images.]])

return M
