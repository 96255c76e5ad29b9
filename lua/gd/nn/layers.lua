--- gd.nn.layers: Linear, Sequential, the activations and Dropout.
--
-- Each layer's forward writes into an output tensor it keeps and reuses (one
-- per batch size), and backward into a kept input-gradient tensor, through
-- one fused C kernel each (src/nn.c, on every backend); a training step allocates nothing
-- once every batch size has been seen.  As in Torch7, a layer's output is
-- overwritten by its next forward: clone it to keep it.
local gd = require "gd.tensor"
local doc = require "gd.doc"
local check = require "gd.check"
local base = require "gd.nn.module"
local I = require "gd.aux"
local C = I.C
local fmt = string.format

local priv, buffer2, buffer_like, fail = base.priv, base.buffer2, base.buffer_like, base.fail
local internal_output, sbuf = base.internal_output, I.sbuf
local Module, new_class = base.Module, base.new_class

local M = {}

-- ----------------------------------------------------------------- Linear

local Linear = new_class("Linear", Module)
M.Linear = Linear

local LINEAR_OPTS = {bias = true, dtype = true, device = true}

function Linear:init(in_features, out_features, opts)
  local fname = "gd.nn.Linear"
  -- BLAS takes int sizes: larger layers could not run anyway
  local max = 2 ^ 31 - 1
  check.number(fname, "in_features", in_features, {integer = true, min = 1, max = max, level = 4})
  check.number(fname, "out_features", out_features, {integer = true, min = 1, max = max, level = 4})
  opts = check.options(fname, opts, LINEAR_OPTS, 4)
  self.in_features, self.out_features = in_features, out_features
  local topts = {dtype = opts.dtype or "float32", device = opts.device or "cpu"}
  if topts.dtype == "int64" then base.argerr(fname, "dtype must be float32 or float64, got int64", 4) end
  -- PyTorch's reset_parameters: kaiming_uniform_(a = sqrt(5)) on the weight,
  -- which is U(-1/sqrt(in), 1/sqrt(in)), and the same bound for the bias.
  -- gd.empty's complaints (a bad dtype or device, out of memory) are the
  -- layer's: renamed, and raised at the caller's line
  local bound = 1 / math.sqrt(in_features)
  local ok, w, b = pcall(function()
    local weight = gd.empty(out_features, in_features, topts):uniform_(-bound, bound)
    local bias = opts.bias ~= false and gd.empty(out_features, topts):uniform_(-bound, bound) or nil
    return weight, bias
  end)
  if not ok then base.argerr(fname, (tostring(w):gsub("^[^:]*:%d+: ", ""):gsub("^gd%.empty: ", "")), 4) end
  self:register_parameter("weight", w)
  if b then self:register_parameter("bias", b) end
end

local function linear_input(self, x)
  if not gd.is_tensor(x) then base.argerr("Linear", "the input must be a tensor, got " .. type(x), 3) end
  local xc = x.c
  if xc.rank == 2 then return x, false end
  if xc.rank == 1 then return x:view(1, -1), true end
  base.argerr("Linear", fmt("the input must be 1-D or 2-D (rows x %d features), got %d-D", self.in_features,
    xc.rank), 3)
end

function Linear:forward(x)
  local P = priv[self]
  local internal = P.internal   -- (first: a failed call must not leave it set)
  P.internal = nil
  local x2, vec = linear_input(self, x)
  local xc = x2.c
  local b = self.bias
  local wc, bc = self.weight.c, b and b.c or nil
  local rec = base.recording(xc, wc, bc)
  local rows = tonumber(xc.sizes[0])
  local y
  if rec then
    if internal and not vec then
      sbuf[0], sbuf[1] = rows, self.out_features
      y = internal_output(P, "rec_out", 2, sbuf, xc)
    end
    y = y or base.fresh2(rows, self.out_features, xc)
  else
    y = buffer2(P, "out", rows, self.out_features, xc)
  end
  if C.gd_nn_linear_forward(y.c, xc, wc, bc) ~= 0 then fail("Linear") end
  if rec then base.record("Linear", y, C.GD_AG_NN_LINEAR, xc, wc, bc) end
  P.input, P.vec = x2, vec
  if vec then return y:view(self.out_features) end
  return y
end

function Linear:backward(grad_out, need_input_grad)
  local P = priv[self]
  local x = P.input
  if x == nil then base.argerr("Linear:backward", "called before forward", 2) end
  if not gd.is_tensor(grad_out) then
    base.argerr("Linear:backward", "the output gradient must be a tensor, got " .. type(grad_out), 2)
  end
  if P.vec then grad_out = grad_out:view(1, -1) end
  local w, b = self.weight, self.bias
  local wg, bg = w.grad, b and b.grad
  local gx = nil
  if need_input_grad ~= false then
    local xc = x.c
    gx = buffer2(P, "grad_in", tonumber(xc.sizes[0]), self.in_features, xc)
  end
  if C.gd_nn_linear_backward(gx and gx.c or nil, wg and wg.c or nil, bg and bg.c or nil, grad_out.c, x.c, w.c) ~= 0 then
    fail("Linear:backward")
  end
  if gx and P.vec then return gx:view(self.in_features) end
  return gx
end

function Linear:describe()
  return fmt("Linear(%d -> %d%s)", self.in_features, self.out_features, self.bias and "" or ", no bias")
end

doc(Linear, "gd.nn.Linear", [[
gd.nn.Linear(in, out, [{bias = true, dtype = "float32", device = "cpu"}])
  y = x @ weight^T + bias for x of rows x in (or one vector of in).  weight is
  out x in and bias out, both initialised as PyTorch does: uniform in
  +-1/sqrt(in).  Forward and backward are one fused BLAS call each.]])

-- ------------------------------------------------------------- Sequential

local Sequential = new_class("Sequential", Module)
M.Sequential = Sequential

function Sequential:init(list)
  -- type(): a NULL cdata compares equal to nil
  if type(list) ~= "nil" and type(list) ~= "table" then
    base.argerr("gd.nn.Sequential", "expects a table of modules, got " .. type(list), 4)
  end
  self.modules = {}
  for i, m in ipairs(list or {}) do
    if type(m) ~= "table" or getmetatable(m) == nil or not m.forward then
      base.argerr("gd.nn.Sequential", fmt("element %d is not a module (%s)", i, type(m)), 4)
    end
    self:add_module(m)
  end
end

function Sequential:add(m)
  self:add_module(m)
  return self
end

-- The layers whose recorded output may be a reused buffer when only the next
-- module reads it, and the layers that are such a reader: their forward
-- neither returns its input (or a view of it) nor keeps it where a user sees
-- it (Dropout in evaluation mode and Identity return it; a user's layer may
-- keep it).  See base.internal_output.
local INTERNAL_PRODUCER = {Linear = true, ReLU = true, Tanh = true, Sigmoid = true, Softmax = true,
                           LogSoftmax = true, MaxPool2d = true, AvgPool2d = true}
local INTERNAL_READER = INTERNAL_PRODUCER

function Sequential:forward(x)
  local mods = self.modules
  local n = #mods
  if C.gd_grad_enabled() ~= 0 then
    for i = 1, n do
      local m = mods[i]
      local nxt = mods[i + 1]
      if nxt ~= nil and INTERNAL_PRODUCER[m.__class] and INTERNAL_READER[nxt.__class] then priv[m].internal = true end
      x = m:forward(x)
    end
    return x
  end
  for i = 1, n do x = mods[i]:forward(x) end
  return x
end

function Sequential:backward(g, need_input_grad)
  local mods = self.modules
  for i = #mods, 2, -1 do g = mods[i]:backward(g) end
  if mods[1] then g = mods[1]:backward(g, need_input_grad) end
  return g
end

function Sequential:get(i) return self.modules[i] end
function Sequential:size() return #self.modules end

function Sequential:describe()
  local parts = {}
  for i, m in ipairs(self.modules) do parts[i] = m:describe() end
  return "Sequential(" .. table.concat(parts, ", ") .. ")"
end

doc(Sequential, "gd.nn.Sequential", [[
gd.nn.Sequential{m1, m2, ...}: applies the modules in order; backward runs
them in reverse.  seq:add(m) appends (and returns seq, for chaining); seq:get(i)
and seq.modules[i] reach a child; seq:size() counts them.  All parameters of
the tree share one arena.]])
doc(Sequential.add, "gd.nn.Sequential:add", "seq:add(m) -> seq, with m appended (its parameters join the arena).")
doc(Sequential.get, "gd.nn.Sequential:get", "seq:get(i) -> the i-th module.")
doc(Sequential.size, "gd.nn.Sequential:size", "seq:size() -> the number of modules.")

-- ------------------------------------------------------------ activations

--- The 0-based dimension a softmax works along: its dim (1-based, negative
-- from the end, as everywhere in gd), default the last one.
local function softmax_dim(self, name, rank)
  local dim = self.dim
  if dim == nil then return rank - 1 end
  local d = dim < 0 and dim + rank + 1 or dim
  if d < 1 or d > rank then
    base.argerr(name, fmt("dim %d is out of range for a %d-D input", dim, rank), 3)
  end
  return d - 1
end

--- v, or the view of v with dimension d (0-based) swapped with the last one
-- (the kernels work along the last dimension; they stage such views).
local function last_dim_view(v, d, rank)
  if d == rank - 1 then return v end
  return v:transpose(d + 1, rank)
end

--- A layer without parameters whose backward needs only its output: the
-- activations and the softmaxes.  forward_c(y, x, param) and
-- backward_c(grad_in, grad_out, y, param) are libgd's kernels.  With_dim: the
-- layer takes PyTorch's `dim` (the softmaxes), kept in self.dim.
local function output_layer(name, forward_c, backward_c, param, math_doc, with_dim)
  local cls = new_class(name, Module)
  local record_kind = forward_c == C.gd_nn_softmax and C.GD_AG_NN_SOFTMAX or C.GD_AG_NN_ACTIVATION
  if with_dim then
    cls.init = function(self, dim)
      if dim ~= nil then
        check.number("gd.nn." .. name, "dim", dim, {integer = true, level = 4})
        if dim == 0 then base.argerr("gd.nn." .. name, "dim is 1-based (1, 2, ... or -1 for the last)", 4) end
      end
      self.dim = dim
    end
    cls.describe = function(self)
      if self.dim == nil then return name end
      return fmt("%s(dim = %d)", name, self.dim)
    end
  else
    cls.init = function() end
  end
  cls.forward = function(self, x)
    local P = priv[self]
    local internal = P.internal   -- (first: a failed call must not leave it set)
    P.internal = nil
    if not gd.is_tensor(x) then base.argerr(name, "the input must be a tensor, got " .. type(x), 2) end
    local xc = x.c
    local rec = base.recording(xc)
    if rec and with_dim and self.dim ~= nil and xc.rank > 0 and softmax_dim(self, name, xc.rank) ~= xc.rank - 1 then
      -- along another dimension: composed of recorded operations
      local d = softmax_dim(self, name, xc.rank) + 1
      local y = param == 1 and x:log_softmax(d) or x:softmax(d)
      P.output = y
      return y
    end
    local y
    if rec then
      if internal then y = internal_output(P, "rec_out", xc.rank, xc.sizes, xc) end
      y = y or base.fresh_like(xc)
    else
      y = buffer_like(P, "out", xc)
    end
    local yc = y.c
    local xv, yv   -- (the views' handles, held while their pointers are used)
    if with_dim and self.dim ~= nil and xc.rank > 0 then
      local rank = xc.rank
      local d = softmax_dim(self, name, rank)
      xv, yv = last_dim_view(x, d, rank), last_dim_view(y, d, rank)
      xc, yc = xv.c, yv.c
    end
    if forward_c(yc, xc, param) ~= 0 then fail(name) end
    if rec then base.record(name, y, record_kind, xc, nil, nil, y.c, param) end
    P.output = y
    return y
  end
  cls.backward = function(self, grad_out)
    local P = priv[self]
    local y = P.output
    if y == nil then base.argerr(name .. ":backward", "called before forward", 2) end
    if not gd.is_tensor(grad_out) then
      base.argerr(name .. ":backward", "the output gradient must be a tensor, got " .. type(grad_out), 2)
    end
    local yc = y.c
    local gx = buffer_like(P, "grad_in", yc)
    local gxc, gyc = gx.c, grad_out.c
    local gxv, gyv, yv   -- (the views' handles, held while their pointers are used)
    if with_dim and self.dim ~= nil and yc.rank > 0 and grad_out.c.rank == yc.rank then
      local rank = yc.rank
      local d = softmax_dim(self, name, rank)
      gxv, gyv, yv = last_dim_view(gx, d, rank), last_dim_view(grad_out, d, rank), last_dim_view(y, d, rank)
      gxc, gyc, yc = gxv.c, gyv.c, yv.c
    end
    if backward_c(gxc, gyc, yc, param) ~= 0 then fail(name .. ":backward") end
    return gx
  end
  doc(cls, "gd.nn." .. name, "gd.nn." .. name .. (with_dim and "([dim])" or "()") .. ": " .. math_doc)
  M[name] = cls
  return cls
end

local A, AB = C.gd_nn_activation, C.gd_nn_activation_backward
output_layer("ReLU", A, AB, C.GD_NN_RELU, "max(x, 0), element-wise (gradient 0 at 0).")
output_layer("Tanh", A, AB, C.GD_NN_TANH, "tanh(x), element-wise.")
output_layer("Sigmoid", A, AB, C.GD_NN_SIGMOID, "1 / (1 + exp(-x)), element-wise.")
local S, SB = C.gd_nn_softmax, C.gd_nn_softmax_backward
output_layer("Softmax", S, SB, 0, [[exp(x) / sum(exp(x)) along dim (1-based, negative
from the end; default the last dimension, PyTorch's dim = -1).]], true)
output_layer("LogSoftmax", S, SB, 1, [[x - log(sum(exp(x))) along dim (1-based, negative
from the end; default the last dimension), for NLL losses.]], true)

-- ---------------------------------------------------------------- Dropout

local Dropout = new_class("Dropout", Module)
M.Dropout = Dropout

function Dropout:init(p)
  if p == nil then p = 0.5 end
  check.number("gd.nn.Dropout", "p", p, {level = 4})
  if p < 0 or p > 1 then base.argerr("gd.nn.Dropout", fmt("p = %g is not a probability in [0, 1]", p), 4) end
  self.p = p
end

function Dropout:forward(x)
  local P = priv[self]
  if not gd.is_tensor(x) then base.argerr("Dropout", "the input must be a tensor, got " .. type(x), 2) end
  if not self.training or self.p == 0 then
    P.active = false
    return x
  end
  local xc = x.c
  local mask = buffer_like(P, "mask", xc)
  local y = buffer_like(P, "out", xc)
  -- the draws come from gd's Philox generator (gd.manual_seed)
  if C.gd_random_(mask.c, 0, 0, 1) ~= 0 then fail("Dropout") end
  if C.gd_nn_dropout(y.c, mask.c, xc, self.p) ~= 0 then fail("Dropout") end
  P.active, P.mask_used = true, mask
  -- recorded: y = x * mask, one recorded multiplication (the mask copied: the buffer is reused)
  if base.recording(xc) then return x * mask:clone() end
  return y
end

function Dropout:backward(grad_out)
  local P = priv[self]
  if not P.active then return grad_out end
  local mask = P.mask_used
  local gx = buffer_like(P, "grad_in", mask.c)
  if C.gd_nn_dropout_backward(gx.c, grad_out.c, mask.c) ~= 0 then fail("Dropout:backward") end
  return gx
end

function Dropout:describe() return fmt("Dropout(p = %g)", self.p) end

doc(Dropout, "gd.nn.Dropout", [[
gd.nn.Dropout([p = 0.5]): in training mode zeroes each element with
probability p and scales the others by 1/(1-p) (PyTorch's inverted dropout);
in evaluation mode (m:evaluate()) passes the input through.  The draws come
from gd's generator (gd.manual_seed).]])

-- -------------------------------------------------------------- Identity

local Identity = new_class("Identity", Module)
M.Identity = Identity
function Identity:forward(x) return x end
function Identity:backward(g) return g end
doc(Identity, "gd.nn.Identity", "gd.nn.Identity(): passes its input (and gradient) through.")

return M
