--- gd.nn.module: the Module base class, the parameter arena, and the helpers
-- every layer shares (reused output buffers, errors from the C kernels).
--
-- A module is a Lua table whose own fields are plain, saveable data (its
-- configuration, its parameter tensors, its children in `modules`), so that
-- `gd.save(path, model)` writes it and `gd.nn.load(path)` rebuilds it.  Per-
-- instance working state (reused output buffers, the saved input, the arena)
-- lives in a weak side table instead, out of gd.save's way.
--
-- The arena (Torch7's getParameters(), done once and kept): every parameter
-- of a module tree is a view into one flat tensor, and every gradient a view
-- into another, so that zero_grad is one fill and an optimizer step can be one
-- fused pass over the whole model.  When a tree changes (a module is added),
-- the arena is rebuilt and the existing parameter and gradient tensors are
-- re-pointed into it (Tensor.set_): references held by the user or by an
-- optimizer stay valid.
local gd = require "gd.tensor"
local doc = require "gd.doc"
local I = require "gd.aux"
local ffi, C = I.ffi, I.C
local out1, sbuf, tbuf = I.out1, I.sbuf, I.tbuf
local fmt = string.format

local M = {}

-- ------------------------------------------------------------ private state

--- priv[module] -> {param_names = {...}, arena = Arena, buffers ...}
local priv = setmetatable({}, {__mode = "k"})
M.priv = priv

local function state(m)
  local P = priv[m]
  if P == nil then
    P = {}
    priv[m] = P
  end
  return P
end
M.state = state

-- ----------------------------------------------------------------- errors

-- the C kernels start their messages with their own name ("linear: ..."),
-- which the module's name replaces
local C_NAMES = {"linear backward", "linear", "relu", "tanh", "sigmoid", "log_softmax backward",
                 "softmax backward", "log_softmax", "softmax", "cross_entropy", "mse", "dropout backward",
                 "dropout", "gather_rows", "count_correct", "gemm"}

local function c_message()
  local msg = ffi.string(C.gd_last_error())
  for _, name in ipairs(C_NAMES) do
    if msg:sub(1, #name + 2) == name .. ": " then return msg:sub(#name + 3) end
  end
  return msg
end

--- Raises "<fname>: <the C kernel's message>" at the caller's caller.
function M.fail(fname, level)
  error(fname .. ": " .. c_message(), (level or 2) + 1)
end

function M.argerr(fname, msg, level)
  error(fname .. ": " .. msg, (level or 2) + 1)
end

-- ---------------------------------------------------------------- autograd

-- A module records ONE node on libgd's tape (src/autograd.c) for its fused
-- kernels when grad mode is on and its input or a parameter requires grad;
-- the node's backward runs the same kernel as m:backward(), with parameter
-- gradients landing in their .grad (the model's arena).  A recorded call
-- writes a fresh output (the reused buffers would be overwritten by the next
-- call while the graph still needs them).
local rec_in = ffi.new("gd_tensor*[3]")
local rec_ip = ffi.new("int64_t[2]")

--- true when a call on these C tensors (any may be nil) must be recorded.
function M.recording(a, b, c)
  if C.gd_grad_enabled() == 0 then return false end
  return (a ~= nil and a.requires_grad ~= 0) or (b ~= nil and b.requires_grad ~= 0)
    or (c ~= nil and c.requires_grad ~= 0)
end

--- Records y = kind(a, b, c) (C tensors; b, c may be nil) with saved (a C
-- tensor or nil) and one integer argument.
function M.record(fname, y, kind, a, b, c, saved, ip)
  rec_in[0], rec_in[1], rec_in[2] = a, b, c
  rec_ip[0] = ip or 0
  local n = c ~= nil and 3 or b ~= nil and 2 or 1
  if C.gd_autograd_record_nn(y.c, kind, rec_in, n, saved, rec_ip, 1) ~= 0 then M.fail(fname, 3) end
  rec_in[0], rec_in[1], rec_in[2] = nil, nil, nil
end

--- Records y = kind(a, b, c) as M.record does, with nip integer arguments
-- from ip (a cdata int64_t array: a layer's geometry).
function M.record_ip(fname, y, kind, a, b, c, saved, ip, nip)
  rec_in[0], rec_in[1], rec_in[2] = a, b, c
  local n = c ~= nil and 3 or b ~= nil and 2 or 1
  if C.gd_autograd_record_nn(y.c, kind, rec_in, n, saved, ip, nip) ~= 0 then M.fail(fname, 3) end
  rec_in[0], rec_in[1], rec_in[2] = nil, nil, nil
end

--- A fresh contiguous tensor of `rank` sizes (cdata, 0-based) with ref's
-- (a C tensor's) dtype and device: a recorded call's output or saved values.
function M.fresh(rank, sizes, ref)
  if C.gd_empty(out1, rank, sizes, ref.scalar_type, ref.device_kind) ~= 0 then M.fail("nn", 2) end
  return I.wrap(out1[0])
end

--- A loss's value as autograd's result when pred requires grad: a 0-d tensor
-- (or a copy of the per-element losses) whose node multiplies the loss's
-- gradient (copied in C into a reused buffer: the loss's own is overwritten by
-- its next call) by the incoming one.  extra_dim: the gradient has one more
-- trailing dimension than the losses (cross-entropy's classes).  Otherwise
-- value itself.
function M.loss_result(fname, value, losses, grad, pred, extra_dim)
  local pc = pred.c
  if not M.recording(pc) then return value end
  if C.gd_autograd_loss_result(out1, losses and 0 or value, losses and losses.c or nil, grad.c, pc,
                               extra_dim and 1 or 0) ~= 0 then
    M.fail(fname, 3)
  end
  return I.wrap(out1[0])
end

--- The output of a recorded call that only the next module of a Sequential
-- reads (P.internal, set by Sequential:forward just before the call): the
-- module's kept buffer P[key] when libgd says that nothing refers to it any
-- more (gd_autograd_reuse_output: the last step's graph is gone or walked),
-- else nil (the caller makes a fresh one).  A tensor a user holds is never
-- one of these: they see only a Sequential's last output.
-- dtype: the buffer's (default ref's; a max pool's int64 argmax, which no
-- user sees either, goes through here too).
function M.internal_output(P, key, rank, sizes, ref, dtype)
  dtype = dtype or ref.scalar_type
  local b = P[key]
  if b ~= nil then
    local c = b.c
    if c.rank == rank and c.scalar_type == dtype and c.device_kind == ref.device_kind then
      local same = true
      for d = 0, rank - 1 do
        if c.sizes[d] ~= sizes[d] then same = false; break end
      end
      if same then
        if C.gd_autograd_reuse_output(c) ~= 0 then return b end
        return nil
      end
    end
  end
  if C.gd_empty(out1, rank, sizes, dtype, ref.device_kind) ~= 0 then M.fail("nn", 3) end
  b = I.wrap(out1[0])
  P[key] = b
  return b
end

--- A fresh rows x cols tensor like ref (a C tensor), or one of x's shape.
function M.fresh2(rows, cols, ref)
  sbuf[0] = rows
  sbuf[1] = cols
  if C.gd_empty(out1, 2, sbuf, ref.scalar_type, ref.device_kind) ~= 0 then M.fail("nn", 2) end
  return I.wrap(out1[0])
end
function M.fresh_like(x)
  if C.gd_empty(out1, x.rank, x.sizes, x.scalar_type, x.device_kind) ~= 0 then M.fail("nn", 2) end
  return I.wrap(out1[0])
end

-- ---------------------------------------------------------------- buffers

--- A reused 2-D buffer rows x cols with ref's dtype and device (ref: a C
-- tensor), cached in P[key] by row count, so that a loop over batches (and a
-- last, shorter batch) allocates only on its first pass.
function M.buffer2(P, key, rows, cols, ref)
  local cache = P[key]
  if cache == nil then
    cache = {}
    P[key] = cache
  end
  local b = cache[rows]
  if b ~= nil then
    local c = b.c
    if c.sizes[1] == cols and c.scalar_type == ref.scalar_type and c.device_kind == ref.device_kind then
      return b
    end
  end
  sbuf[0] = rows
  sbuf[1] = cols
  if C.gd_empty(out1, 2, sbuf, ref.scalar_type, ref.device_kind) ~= 0 then M.fail("nn", 2) end
  b = I.wrap(out1[0])
  cache[rows] = b
  return b
end

--- A reused buffer with x's shape, dtype and device (x: a C tensor), cached
-- in P[key] by the size of the first dimension.
function M.buffer_like(P, key, x)
  local cache = P[key]
  if cache == nil then
    cache = {}
    P[key] = cache
  end
  local rank = x.rank
  local rows = rank > 0 and tonumber(x.sizes[0]) or -1
  local b = cache[rows]
  if b ~= nil then
    local c = b.c
    local same = c.rank == rank and c.scalar_type == x.scalar_type and c.device_kind == x.device_kind
    if same then
      for d = 1, rank - 1 do
        if c.sizes[d] ~= x.sizes[d] then same = false; break end
      end
      if same then return b end
    end
  end
  if C.gd_empty(out1, rank, x.sizes, x.scalar_type, x.device_kind) ~= 0 then M.fail("nn", 2) end
  b = I.wrap(out1[0])
  cache[rows] = b
  return b
end

-- ------------------------------------------------------------------ classes

local registry = {}   -- class name -> class, for gd.nn.from_table
M.registry = registry

local Module = {}
M.Module = Module

local METAMETHODS = {"__call", "__tostring"}

--- Makes a class: a table of methods that is also the metatable of its
-- instances; calling the class constructs an instance (cls.init(self, ...)).
-- The classes whose forward autograd records (one node each, or recorded
-- tensor operations); every other layer's forward refuses to run when grad
-- mode is on and its input or its weight/bias requires grad.
local RECORDED = {Module = true, Sequential = true, Linear = true, ReLU = true, Tanh = true, Sigmoid = true,
                  Softmax = true, LogSoftmax = true, Dropout = true, Identity = true, Flatten = true,
                  Unflatten = true, Conv1d = true, Conv2d = true, ConvTranspose2d = true, MaxPool2d = true,
                  AvgPool2d = true, AdaptiveAvgPool2d = true, BatchNorm1d = true, BatchNorm2d = true,
                  LayerNorm = true, GroupNorm = true, Embedding = true, RNN = true, LSTM = true, GRU = true,
                  RNNCell = true, LSTMCell = true, GRUCell = true,
                  MSELoss = true, CrossEntropyLoss = true, NLLLoss = true, L1Loss = true,
                  SmoothL1Loss = true, HuberLoss = true, BCELoss = true, BCEWithLogitsLoss = true, KLDivLoss = true,
                  Loss = true}
M.RECORDED = RECORDED

local function needs_grad(v) return v ~= nil and I.is_tensor(v) and v.c.requires_grad ~= 0 end
--- Does any of m's own parameters require grad (an LSTM's are weight_ih_l0 ...)?
local function params_need_grad(m)
  local names = rawget(m, "__params")
  if names then
    for _, n in ipairs(names) do
      if needs_grad(rawget(m, n)) then return true end
    end
  end
  return false
end
local function refuse_unrecorded(name, forward)
  return function(self, x, ...)
    if C.gd_grad_enabled() ~= 0 and (needs_grad(x) or params_need_grad(self)) then
      M.argerr(name, "autograd does not record this layer yet: train it with net:backward(grad), or run it "
        .. "under gd.no_grad", 2)
    end
    return forward(self, x, ...)
  end
end

local function new_class(name, parent)
  local cls = {}
  cls.__index = cls
  cls.__name = name
  cls.super = parent
  for _, k in ipairs(METAMETHODS) do cls[k] = parent and parent[k] end
  setmetatable(cls, {
    __index = parent,
    -- a layer whose forward autograd does not record yet refuses to run where it
    -- would have to be (a silent gap in the graph would leave the layers below
    -- it with no gradient)
    __newindex = function(c, k, v)
      if k == "forward" and type(v) == "function" and not RECORDED[name] then v = refuse_unrecorded(name, v) end
      rawset(c, k, v)
    end,
    __call = function(c, ...)
      local self = setmetatable({__class = name, training = true}, c)
      state(self)
      c.init(self, ...)
      return self
    end,
    __tostring = function() return "gd.nn." .. name end,
  })
  registry[name] = cls
  return cls
end
M.new_class = new_class

--- Module:extend(name) -> a subclass.  Define init(self, ...), forward(self,
-- x) and backward(self, grad_out) on it; register parameters in init with
-- self:register_parameter(name, tensor).
function Module.extend(parent, name)
  if type(name) ~= "string" then error("Module:extend(name): the class needs a name (a string)", 2) end
  RECORDED[name] = true -- (a user's forward of tensor operations records itself)
  return new_class(name, parent)
end

Module.__index = Module
Module.__name = "Module"
registry.Module = Module
function Module.init() end

-- --------------------------------------------------------------- the arena

--- The module tree under root, depth first: root, then its children's trees.
local function walk(root, fn)
  fn(root)
  local mods = rawget(root, "modules")
  if mods then
    for i = 1, #mods do walk(mods[i], fn) end
  end
end
M.walk = walk

--- {owner, name} for every parameter under root, in parameters() order.
local function parameter_slots(root)
  local slots = {}
  walk(root, function(m)
    local names = rawget(m, "__params")
    if names then
      for _, name in ipairs(names) do slots[#slots + 1] = {owner = m, name = name} end
    end
  end)
  return slots
end

--- The module at the top of m's tree (the owner of its arena).
local function root_of(m)
  local P = state(m)
  local a = P.arena
  if a then
    local owner = a.owner[1]
    if owner then return owner end
  end
  return m
end
M.root_of = root_of

--- Makes t (same Lua and C object) the contiguous view of `shape` at 0-based
-- element `offset` of flat, taking flat's dtype and device: PyTorch's
-- `param.data = ...` in module.double(), which keeps the parameter's identity
-- so that an optimizer built before still holds the model's parameters.
local function repoint(t, flat, offset, shape)
  local rank = #shape
  local stride = 1
  for d = rank - 1, 0, -1 do
    sbuf[d] = shape[d + 1]
    tbuf[d] = stride
    stride = stride * shape[d + 1]
  end
  if C.gd_set_data(t.c, flat.c, offset, rank, sbuf, tbuf) ~= 0 then M.fail("gd.nn", 3) end
end

--- Rebuilds the arena of the tree under root: one flat parameter tensor and
-- one flat gradient tensor, of `dtype` and `device` (default: those of the
-- first parameter).  Every parameter and gradient is re-pointed into the new
-- arena (same Lua objects, converted when the dtype changes).
--
-- The arena is shared by every module of the tree through the weak-keyed
-- priv table, so nothing in it may refer to a module: LuaJIT's weak tables
-- are not ephemerons, and a value that reaches its own key keeps it alive for
-- ever (every dropped model leaked).  The slots keep names and tensors only;
-- the owner is reached through a weak-valued table.
local function rebuild(root, dtype, device)
  local slots = parameter_slots(root)
  local arena = {owner = setmetatable({root}, {__mode = "v"}), n = 0, slots = slots}
  local total = 0
  for _, s in ipairs(slots) do
    local t = s.owner[s.name]
    if not gd.is_tensor(t) then
      error(fmt("gd.nn: parameter '%s' of %s is not a tensor", s.name, tostring(s.owner.__class)), 3)
    end
    dtype = dtype or t.dtype
    device = device or t.device
    s.offset = total
    s.numel = t:numel()
    s.shape = t.shape
    total = total + s.numel
  end
  arena.n = total
  if total > 0 then
    local flat = gd.empty(total, {dtype = dtype, device = device})
    local gflat = gd.zeros(total, {dtype = dtype, device = device})
    for _, s in ipairs(slots) do
      local t = s.owner[s.name]
      local region = flat:narrow(1, s.offset + 1, s.numel)
      region:copy_(t:reshape(s.numel))
      local g = t.grad
      if g then gflat:narrow(1, s.offset + 1, s.numel):copy_(g:reshape(s.numel)) end
      -- the gradient leaves t first: a gradient's dtype cannot change under it
      t.grad = nil
      repoint(t, flat, s.offset, s.shape)
      if g then
        repoint(g, gflat, s.offset, s.shape)
      else
        g = gflat:narrow(1, s.offset + 1, s.numel):view(s.shape)
      end
      t.grad = g
      s.param, s.grad = t, g
    end
    arena.params, arena.grads = flat, gflat
  end
  for _, s in ipairs(slots) do s.owner = nil end
  walk(root, function(m) state(m).arena = arena end)
  return arena
end
M.rebuild = rebuild

--- Adds a parameter (a tensor, whose values it keeps) under `name`: it
-- becomes self[name], a view into the arena, with a zero gradient.
function Module:register_parameter(name, t)
  if type(name) ~= "string" then error("register_parameter: the name must be a string", 2) end
  if not gd.is_tensor(t) then error("register_parameter: the parameter must be a tensor", 2) end
  local names = rawget(self, "__params")
  if not names then
    names = {}
    self.__params = names
  end
  local known = false
  for _, n in ipairs(names) do if n == name then known = true end end
  if not known then names[#names + 1] = name end
  self[name] = t
  local root = root_of(self)
  local a = state(root).arena
  rebuild(root, a and a.params and a.params.dtype, a and a.params and a.params.device)
  return self[name]
end
doc(Module.register_parameter, "gd.nn.Module:register_parameter",
  "m:register_parameter(name, tensor) -> the parameter, now m[name], a view into the arena.")

--- Adds a child module (containers): its parameters join this tree's arena.
function Module:add_module(m)
  if type(m) ~= "table" or getmetatable(m) == nil or not m.forward then
    error(fmt("%s:add: expected a module, got %s", self.__class, type(m)), 3)
  end
  if m == self then error(fmt("%s:add: a module cannot contain itself", self.__class), 3) end
  -- nor contain a module that contains it: the tree would be a cycle, and
  -- every walk over it (forward, parameters, the arena) would recurse until
  -- the stack overflows
  local cycle = false
  walk(m, function(x) if x == self then cycle = true end end)
  if cycle then error(fmt("%s:add: the module contains this %s already (a cycle)", self.__class, self.__class), 3) end
  local mods = rawget(self, "modules")
  if not mods then
    mods = {}
    self.modules = mods
  end
  mods[#mods + 1] = m
  local root = root_of(self)
  local a = state(root).arena
  local ok, err = pcall(rebuild, root, a and a.params and a.params.dtype, a and a.params and a.params.device)
  if not ok then
    mods[#mods] = nil
    error(err, 3)
  end
  return self
end

-- -------------------------------------------------------------- the basics

--- Every parameter tensor of the tree, in order (a fresh array).
function Module:parameters()
  local list = {}
  for _, s in ipairs(parameter_slots(self)) do list[#list + 1] = s.owner[s.name] end
  return list
end
doc(Module.parameters, "gd.nn.Module:parameters",
  "m:parameters() -> an array of the parameter tensors (views into the arena).")

--- The number of parameters (elements).
function Module:num_parameters()
  local n = 0
  for _, p in ipairs(self:parameters()) do n = n + p:numel() end
  return n
end
doc(Module.num_parameters, "gd.nn.Module:num_parameters", "m:num_parameters() -> the number of parameter elements.")

--- params, grads: 1-D views covering every parameter of this module and its
-- gradients, contiguous in the arena (Torch7's getParameters()).
function Module:flat_parameters()
  local a = state(self).arena
  local params = self:parameters()
  if #params == 0 or a == nil or a.params == nil then return nil, nil end
  local lo, hi = math.huge, -1
  local count = 0
  for _, s in ipairs(a.slots) do
    for _, p in ipairs(params) do
      if s.param == p then
        lo = math.min(lo, s.offset)
        hi = math.max(hi, s.offset + s.numel)
        count = count + s.numel
      end
    end
  end
  if count ~= hi - lo then error("flat_parameters: this module's parameters are not contiguous in the arena", 2) end
  if lo == 0 and hi == a.n then return a.params, a.grads end
  return a.params:narrow(1, lo + 1, hi - lo), a.grads:narrow(1, lo + 1, hi - lo)
end
doc(Module.flat_parameters, "gd.nn.Module:flat_parameters",
  "m:flat_parameters() -> params, grads: 1-D views over all of m's parameters and gradients.")

--- Zeroes the gradients (one fill over the arena when this is its root).
--- m:requires_grad_([flag = true]) -> m, with every parameter a leaf that
-- requires grad (or not): then loss:backward() reaches them through the one
-- node each module records (PyTorch's parameters require grad by default;
-- here it is asked for, so that code written before autograd keeps getting
-- numbers from t:sum() on parameters).
function Module:requires_grad_(flag)
  if flag == nil then flag = true end
  if type(flag) ~= "boolean" then M.argerr("requires_grad_", "the flag must be a boolean, got " .. type(flag), 2) end
  for _, p in ipairs(self:parameters()) do p:requires_grad_(flag) end
  return self
end

function Module:zero_grad()
  local a = state(self).arena
  if a and a.grads and a.owner[1] == self then
    a.grads:zero_()
    return self
  end
  for _, p in ipairs(self:parameters()) do
    local g = p.grad
    if g then g:zero_() end
  end
  return self
end
doc(Module.zero_grad, "gd.nn.Module:zero_grad", "m:zero_grad() -> m, with every parameter gradient zeroed.")

-- recursive rather than walk(): no closure, so callers' traces keep compiling
local function set_training(m, mode)
  m.training = mode
  local mods = rawget(m, "modules")
  if mods then
    for i = 1, #mods do set_training(mods[i], mode) end
  end
end

function Module:train(mode)
  set_training(self, mode ~= false)
  return self
end
doc(Module.train, "gd.nn.Module:train", "m:train([mode = true]) -> m, in training mode (Dropout active) or not.")

function Module:evaluate() return self:train(false) end
doc(Module.evaluate, "gd.nn.Module:evaluate",
  "m:evaluate() -> m, in evaluation mode (Dropout passes its input through); also m:eval().")
Module.eval = Module.evaluate

function Module:forward() error(self.__class .. ":forward is not defined", 2) end
doc(Module.forward, "gd.nn.Module:forward",
  "m:forward(x) -> the output (also m(x)).  Layers reuse their output tensor from call to call.")
function Module:backward() error(self.__class .. ":backward is not defined", 2) end
doc(Module.backward, "gd.nn.Module:backward", [[
m:backward(grad_out, [need_input_grad = true]) -> the gradient with respect to the
input of the last forward; parameter gradients accumulate into p.grad.]])
Module.__call = function(self, ...) return self:forward(...) end

--- The one-line description without the parameter count.
function Module:describe() return self.__class end

Module.__tostring = function(self)
  local n = self:num_parameters()
  if n > 0 then return fmt("%s [parameters: %d]", self:describe(), n) end
  return self:describe()
end

-- ---------------------------------------------------------- state dicts

--- {["weight"] = t, ["1.bias"] = t, ...}: the parameter tensors themselves,
-- named by field, prefixed by child position in containers (1-based).
function Module:state_dict(prefix, into)
  into = into or {}
  prefix = prefix or ""
  local names = rawget(self, "__params")
  if names then
    for _, name in ipairs(names) do into[prefix .. name] = self[name] end
  end
  local mods = rawget(self, "modules")
  if mods then
    for i, m in ipairs(mods) do m:state_dict(prefix .. i .. ".", into) end
  end
  return into
end
doc(Module.state_dict, "gd.nn.Module:state_dict",
  "m:state_dict() -> {name = tensor}: 'weight', '2.bias' ... (children by 1-based position).")

--- Copies a state dict's tensors into the parameters (converting dtype and
-- device).  Strict by default: missing and unexpected names are errors.
function Module:load_state_dict(sd, strict)
  if type(sd) ~= "table" then error("load_state_dict: expected a table of tensors, got " .. type(sd), 2) end
  if strict == nil then strict = true end
  local own = self:state_dict()
  local missing, unexpected = {}, {}
  for k in pairs(own) do if sd[k] == nil then missing[#missing + 1] = k end end
  for k in pairs(sd) do if own[k] == nil then unexpected[#unexpected + 1] = tostring(k) end end
  table.sort(missing)
  table.sort(unexpected)
  if strict and (#missing > 0 or #unexpected > 0) then
    local parts = {}
    if #missing > 0 then parts[#parts + 1] = "missing " .. table.concat(missing, ", ") end
    if #unexpected > 0 then parts[#parts + 1] = "unexpected " .. table.concat(unexpected, ", ") end
    error("load_state_dict: " .. table.concat(parts, "; "), 2)
  end
  for k, p in pairs(own) do
    local v = sd[k]
    if v ~= nil then
      if not gd.is_tensor(v) then error(fmt("load_state_dict: '%s' is a %s, not a tensor", k, type(v)), 2) end
      local a, b = p.shape, v.shape
      if table.concat(a, "x") ~= table.concat(b, "x") then
        error(fmt("load_state_dict: '%s' has shape %s, the parameter %s", k, table.concat(b, "x"),
          table.concat(a, "x")), 2)
      end
      p:copy_(v)
    end
  end
  return self
end
doc(Module.load_state_dict, "gd.nn.Module:load_state_dict",
  "m:load_state_dict(sd, [strict = true]) -> m, with the parameters copied from sd.")

-- ------------------------------------------------------- copies and moves

--- A deep copy of fields: tensors cloned, tables copied (modules keep their
-- class), private state left behind.
local function deep_copy(v, memo)
  if gd.is_tensor(v) then
    if memo[v] then return memo[v] end
    local c = v:clone()
    memo[v] = c
    return c
  end
  if type(v) ~= "table" then return v end
  if memo[v] then return memo[v] end
  local r = {}
  memo[v] = r
  for k, x in pairs(v) do r[deep_copy(k, memo)] = deep_copy(x, memo) end
  local mt = getmetatable(v)
  if mt then setmetatable(r, mt) end
  return r
end

--- An independent copy of the module tree (parameters copied, gradients zero).
function Module:clone()
  local copy = deep_copy(self, {})
  rebuild(copy)
  return copy
end
doc(Module.clone, "gd.nn.Module:clone", "m:clone() -> an independent copy (parameters copied, gradients zero).")

--- Moves or converts every parameter: m:to("float64"), m:to("cuda"),
-- m:to{dtype =, device =}.  The parameter and gradient tensors stay the same
-- objects, re-pointed into the new arena (PyTorch's module.to keeps its
-- Parameters too); an optimizer built before then refuses to step (its state
-- has the old dtype or device) instead of updating copies the model no longer
-- uses.  Build the optimizer after converting.
function Module:to(x)
  local dtype, device
  if type(x) == "string" then
    if I.DTYPES[x] then dtype = x elseif I.DEVICES[x] then device = x
    else error(fmt("to: unknown dtype or device '%s'", x), 2) end
  elseif type(x) == "table" then
    dtype, device = x.dtype, x.device
  else
    error("to: expects a dtype, a device or {dtype =, device =}", 2)
  end
  local root = root_of(self)
  local a = state(root).arena
  if a == nil or a.params == nil then return self end
  rebuild(root, dtype or a.params.dtype, device or a.params.device)
  -- drop reused buffers: they have the old dtype or device
  walk(root, function(m)
    local P = state(m)
    for k in pairs(P) do if k ~= "arena" then P[k] = nil end end
  end)
  return self
end
doc(Module.to, "gd.nn.Module:to", [[
m:to(dtype | device | {dtype, device}) -> m, its parameters converted or moved in place (the
same tensors: build the optimizer afterwards; one built before refuses to step).]])
function Module:float() return self:to("float32") end
function Module:double() return self:to("float64") end
function Module:cuda() return self:to("cuda") end
function Module:cpu() return self:to("cpu") end

--- Rebuilds modules from what gd.load returned for a saved module (plain
-- tables with a __class field): classes restored, arena rebuilt.
function M.from_table(t)
  local function restore(v)
    if type(v) ~= "table" or gd.is_tensor(v) then return end
    local name = rawget(v, "__class")
    if name then
      local cls = registry[name]
      if not cls then error(fmt("gd.nn.from_table: unknown module class '%s'", tostring(name)), 3) end
      setmetatable(v, cls)
      state(v)
    end
    for _, x in pairs(v) do restore(x) end
  end
  restore(t)
  if type(t) == "table" and rawget(t, "__class") then rebuild(t) end
  return t
end

doc(Module, "gd.nn.Module", [[
gd.nn.Module: the base class of layers and losses.  Methods: forward(x) (or
m(x)), backward(grad_out, [need_input_grad = true]), parameters(),
num_parameters(), flat_parameters(), zero_grad(), train([mode]),
evaluate() / eval(), state_dict(), load_state_dict(sd, [strict = true]),
clone(), to(dtype | device), float(), double(), cuda(), cpu().
A custom layer:
  local Scale = gd.nn.Module:extend("Scale")
  function Scale:init(k) self.k = k end
  function Scale:forward(x) self.y = x * self.k; return self.y end
  function Scale:backward(g) return g * self.k end
Parameters registered in init with self:register_parameter(name, tensor)
live in the model's arena (one flat tensor; gradients in another).]])

return M
