--- gd.autograd: automatic differentiation on libgd's tape (src/autograd.c).
--
-- The recording happens in C: when grad mode is on and an input requires
-- grad, each differentiable operation appends a record to a C array (no Lua
-- table or closure per op, so a hot loop stays one JIT trace).  This file is
-- the Lua face of it: t:backward(), t:detach(), t:requires_grad_(),
-- gd.no_grad(fn), gd.grad(f [, argnums]) and gd.autograd.gradcheck.
local gd = require "gd.tensor"
local doc = require "gd.doc"
local check = require "gd.check"

local I = require "gd.aux"
local C, ffi = I.C, I.ffi
local Tensor = gd.Tensor
local fmt = string.format
local raise = check.raise

check.register_internal()

local M = {}

local function last_error() return I.last_error() end
local function fail(fname) raise(fname .. ": " .. last_error()) end
local function argerr(fname, msg) raise(fname .. ": " .. msg) end

local TensorCT = I.TensorCT
local function is_tensor(v) return ffi.istype(TensorCT, v) end

-- (ffi.istype inline: a tail call here would count against LuaJIT's
-- loopunroll limit, which a training step's trace is near already)
local function self_c(fname, t)
  if ffi.istype(TensorCT, t) then return t.c end
  argerr(fname, fmt("expects a tensor as self, got %s (call it as t:%s(...))", type(t), fname))
end

local out1 = I.out1

-- ---------------------------------------------------------------- methods

Tensor.backward = doc(function(t, grad, retain_graph)
  local fname = "backward"
  local c = self_c(fname, t)
  if grad == nil and retain_graph == nil then -- the training loop's call: one FFI call
    if C.gd_backward(c, nil, 0) ~= 0 then fail(fname) end
    return
  end
  if type(grad) == "table" and not is_tensor(grad) and grad.retain_graph ~= nil and retain_graph == nil then
    retain_graph, grad = grad.retain_graph, grad.gradient
  end
  local gc = nil
  if grad ~= nil then
    if type(grad) == "number" then grad = gd.full_like(t, grad) end
    if not is_tensor(grad) then argerr(fname, "the gradient must be a tensor, a number or nil, got " .. type(grad)) end
    gc = grad.c
  end
  if retain_graph ~= nil and type(retain_graph) ~= "boolean" then
    argerr(fname, "retain_graph must be a boolean, got " .. type(retain_graph))
  end
  if C.gd_backward(c, gc, retain_graph and 1 or 0) ~= 0 then fail(fname) end
end, "Tensor:backward", [[
t:backward([grad], [retain_graph]): backpropagation from t into the .grad of
every leaf that requires grad (accumulating: call zero_grad between steps).
grad (a tensor of t's shape, or a number) may be left out when t has one
element.  Without retain_graph = true the graph's saved values are freed and a
second backward through it is an error (also t:backward{retain_graph = true}).]])

Tensor.detach = doc(function(t)
  return I.result(C.gd_detach(out1, self_c("detach", t)), "detach")
end, "Tensor:detach", "t:detach() -> a tensor sharing t's storage, outside the graph (requires_grad false).")

Tensor.requires_grad_ = doc(function(t, flag)
  local c = self_c("requires_grad_", t)
  if flag == nil then flag = true end
  if type(flag) ~= "boolean" then argerr("requires_grad_", "the flag must be a boolean, got " .. type(flag)) end
  if C.gd_set_requires_grad(c, flag and 1 or 0) ~= 0 then fail("requires_grad_") end
  return t
end, "Tensor:requires_grad_", [[
t:requires_grad_([flag = true]) -> t, a leaf whose operations are recorded so
that backward() can fill its .grad (float tensors only).  t.requires_grad reads
the flag; t.requires_grad = false switches a leaf off.]])

--- t's softmax (log_ false) or log-softmax along dim, composed of recorded
-- operations (so differentiable with no backward of its own).
local function softmax(fname, t, dim, log_)
  local c = self_c(fname, t)
  I.not_freed(fname, c)
  if c.scalar_type == 2 then argerr(fname, "needs a float tensor (this one is int64)") end
  if c.rank == 0 then -- one element: probability 1
    if dim ~= nil and dim ~= 1 and dim ~= -1 then I.dim0(fname, c, dim) end
    local z = t - t
    if log_ then return z end
    return z + 1
  end
  if dim == nil then argerr(fname, "the dimension is required (PyTorch's implicit choice is deprecated)") end
  I.dim0(fname, c, dim)
  local r = t - t:logsumexp(dim, true)
  if log_ then return r end
  return r:exp()
end

Tensor.log_softmax = doc(function(t, dim) return softmax("log_softmax", t, dim, true) end, "Tensor:log_softmax", [[
t:log_softmax(dim) -> t - logsumexp(t, dim): log-probabilities along dim
(torch.log_softmax; the logsumexp is shifted by the max, so it does not overflow).]])

Tensor.softmax = doc(function(t, dim) return softmax("softmax", t, dim, false) end, "Tensor:softmax",
  "t:softmax(dim) -> exp(t:log_softmax(dim)): probabilities along dim (torch.softmax).")

-- ---------------------------------------------------------------- grad mode

local function restore(was, ok, ...)
  C.gd_set_grad_enabled(was)
  if not ok then error((...), 0) end
  return ...
end

gd.no_grad = doc(function(fn, ...)
  if type(fn) ~= "function" then argerr("gd.no_grad", "expects a function, got " .. type(fn)) end
  return restore(C.gd_set_grad_enabled(0), pcall(fn, ...))
end, "gd.no_grad", [[
gd.no_grad(fn, ...) -> fn(...)'s results, computed with grad mode off (no
operation is recorded, reductions give numbers), as PyTorch's torch.no_grad().]])

gd.enable_grad = doc(function(fn, ...)
  if type(fn) ~= "function" then argerr("gd.enable_grad", "expects a function, got " .. type(fn)) end
  return restore(C.gd_set_grad_enabled(1), pcall(fn, ...))
end, "gd.enable_grad", "gd.enable_grad(fn, ...) -> fn(...)'s results, computed with grad mode on.")

gd.set_grad_enabled = doc(function(on)
  if type(on) ~= "boolean" then argerr("gd.set_grad_enabled", "expects a boolean, got " .. type(on)) end
  return C.gd_set_grad_enabled(on and 1 or 0) ~= 0
end, "gd.set_grad_enabled", "gd.set_grad_enabled(on) -> the previous mode; turns recording on or off.")

gd.is_grad_enabled = doc(function() return C.gd_grad_enabled() ~= 0 end, "gd.is_grad_enabled",
  "gd.is_grad_enabled() -> true when operations on tensors that require grad are recorded.")

-- ---------------------------------------------------------------- gd.grad

local function value_number(fname, v)
  if type(v) == "number" then return v end
  if is_tensor(v) then
    if v.c.count ~= 1 then
      argerr(fname, fmt("the function must return one number (a one-element tensor); it returned %d elements",
        tonumber(v.c.count)))
    end
    return v:item()
  end
  argerr(fname, "the function must return a tensor of one element, got " .. type(v))
end

gd.grad = doc(function(f, argnums)
  local fname = "gd.grad"
  if type(f) ~= "function" then argerr(fname, "expects a function, got " .. type(f)) end
  local single = argnums == nil or type(argnums) == "number"
  local list = argnums == nil and {1} or type(argnums) == "number" and {argnums} or argnums
  if type(list) ~= "table" or #list == 0 then argerr(fname, "argnums must be a number or a list of numbers") end
  for i = 1, #list do
    if type(list[i]) ~= "number" or list[i] < 1 or list[i] ~= math.floor(list[i]) then
      argerr(fname, fmt("argnums[%d] must be a positive integer", i))
    end
  end
  local n = #list
  return function(...)
    local args = {...}
    local nargs = select("#", ...)
    local inputs = ffi.new("gd_tensor*[?]", n)
    local leaves = {}
    for i = 1, n do
      local k = list[i]
      local a = args[k]
      if not is_tensor(a) then
        argerr(fname, fmt("argument %d (in argnums) must be a tensor, got %s", k, type(a)))
      end
      -- a fresh leaf over the argument's storage: the caller's tensor keeps its .grad
      local leaf = a:detach():requires_grad_()
      leaves[i] = leaf
      args[k] = leaf
      inputs[i - 1] = leaf.c
    end
    local was = C.gd_set_grad_enabled(1)
    local ok, value = pcall(f, unpack(args, 1, nargs))
    C.gd_set_grad_enabled(was)
    if not ok then error(value, 0) end
    local number = value_number(fname, value)
    local grads = ffi.new("gd_tensor*[?]", n)
    if is_tensor(value) and value.c.requires_grad ~= 0 then
      if C.gd_autograd_grad(grads, value.c, nil, inputs, n, 0) ~= 0 then fail(fname) end
    end
    local out = {}
    for i = 1, n do
      if grads[i - 1] ~= nil then
        out[i] = I.wrap(grads[i - 1])
      else
        out[i] = gd.zeros_like(leaves[i]) -- f does not depend on it (JAX's zeros)
      end
    end
    if single then return out[1], number end
    out[n + 1] = number
    return unpack(out, 1, n + 1)
  end
end, "gd.grad", [[
gd.grad(f, [argnums = 1]) -> df, where df(...) returns the gradient of f(...)
with respect to argument argnums (a number, or a list of them: one gradient
each), then f's value, as torch-autograd's and JAX's grad.  f returns a
one-element tensor.  The arguments' own .grad are left alone.
  local df = gd.grad(function(w, X, y) return ((X:matmul(w) - y)^2):mean() end)
  local g, loss = df(w, X, y)]])

-- -------------------------------------------------------------- gradcheck

local GRADCHECK_OPTS = {eps = true, atol = true, rtol = true}

--- The elements of t as a flat Lua array (t is float64 on the CPU here).
local function flat(t)
  if type(t) == "number" then return {t} end -- (a reduction without grad mode)
  local v = t:contiguous():view(-1)
  local r = {}
  for i = 1, v:numel() do r[i] = v:get(i) end
  return r
end

M.gradcheck = doc(function(f, inputs, opts)
  local fname = "gd.autograd.gradcheck"
  if type(f) ~= "function" then argerr(fname, "expects a function, got " .. type(f)) end
  if is_tensor(inputs) then inputs = {inputs} end
  if type(inputs) ~= "table" or #inputs == 0 then argerr(fname, "inputs must be a tensor or a list of tensors") end
  opts = check.options(fname, opts, GRADCHECK_OPTS)
  local eps = check.number(fname, "eps", opts.eps, {default = 1e-6, min = 0})
  local atol = check.number(fname, "atol", opts.atol, {default = 1e-5, min = 0})
  local rtol = check.number(fname, "rtol", opts.rtol, {default = 1e-3, min = 0})
  local xs = {}
  for i, x in ipairs(inputs) do
    if not is_tensor(x) then argerr(fname, fmt("input %d must be a tensor, got %s", i, type(x))) end
    if x.dtype ~= "float64" then
      argerr(fname, fmt("input %d is %s; central differences need float64 inputs", i, x.dtype))
    end
    xs[i] = x:detach():clone():requires_grad_()
  end
  -- the analytical Jacobian, one backward per output element
  local was = C.gd_set_grad_enabled(1)
  local ok, y = pcall(f, unpack(xs))
  C.gd_set_grad_enabled(was)
  if not ok then error(y, 0) end
  if not is_tensor(y) then argerr(fname, "the function must return a tensor, got " .. type(y)) end
  local m = y:numel()
  local inputs_c = ffi.new("gd_tensor*[?]", #xs)
  for i = 1, #xs do inputs_c[i - 1] = xs[i].c end
  local grads = ffi.new("gd_tensor*[?]", #xs)
  local analytic = {}  -- analytic[i][j][k]: d y_j / d x_i[k]
  for i = 1, #xs do analytic[i] = {} end
  for j = 1, m do
    local seed = gd.zeros_like(y)
    seed:view(-1):set(j, 1)
    if y.c.requires_grad ~= 0 then
      if C.gd_autograd_grad(grads, y.c, seed.c, inputs_c, #xs, j < m and 1 or 0) ~= 0 then fail(fname) end
    end
    for i = 1, #xs do
      local g = grads[i - 1] ~= nil and I.wrap(grads[i - 1]) or gd.zeros_like(xs[i])
      analytic[i][j] = flat(g)
      grads[i - 1] = nil
    end
  end
  -- the numerical one: (f(x + eps e_k) - f(x - eps e_k)) / 2 eps, without recording
  local worst, where = 0, nil
  for i = 1, #xs do
    local x = xs[i]:detach()
    local xv = x:view(-1)
    for k = 1, x:numel() do
      local v0 = xv:get(k)
      xv:set(k, v0 + eps)
      local yp = flat(gd.no_grad(f, unpack(xs)))
      xv:set(k, v0 - eps)
      local ym = flat(gd.no_grad(f, unpack(xs)))
      xv:set(k, v0)
      for j = 1, m do
        local num = (yp[j] - ym[j]) / (2 * eps)
        local ana = analytic[i][j][k]
        local err = math.abs(num - ana)
        if not (err <= atol + rtol * math.abs(num)) then
          local excess = err / (atol + rtol * math.abs(num))
          if excess ~= excess or excess > worst then
            worst = excess ~= excess and math.huge or excess
            where = fmt("input %d element %d, output element %d: numerical %.10g, analytical %.10g", i, k, j, num, ana)
          end
        end
      end
    end
  end
  if where then return false, fname .. ": Jacobian mismatch at " .. where end
  return true
end, "gd.autograd.gradcheck", [[
gd.autograd.gradcheck(f, inputs, [{eps = 1e-6, atol = 1e-5, rtol = 1e-3}])
-> true, or false and where the gradients differ.  inputs: float64 tensors
(a list, or one); f(inputs...) returns a tensor.  Every element of the
Jacobian that backward computes is compared with central differences
(PyTorch's torch.autograd.gradcheck, with its default tolerances).]])

M.no_grad = gd.no_grad
M.grad = gd.grad
M.live_records = function() return tonumber(C.gd_autograd_live_records()) end
M.tape_length = function() return tonumber(C.gd_autograd_tape_length()) end
--- The bytes held by the buffers backward reuses (src/autograd_pool.c), and
-- their release (a buffer still held elsewhere goes with its last holder).
M.buffer_bytes = function() return tonumber(C.gd_autograd_buffer_bytes()) end
M.release_buffers = function() C.gd_autograd_release_buffers() end
--- The one-pass backward of small element-wise float records
-- (src/autograd_small.c): set_small_path(false) sends every record through
-- the composed backward (a check that both give the same bits; no speed).
M.set_small_path = function(on)
  if type(on) ~= "boolean" then
    error("gd.autograd.set_small_path: on (argument 1) must be true or false, got " .. type(on), 2)
  end
  C.gd_autograd_set_small_path(on and 1 or 0)
end
M.small_path = function() return C.gd_autograd_small_path() ~= 0 end
--- How many records the one-pass backward has run in this process.
M.small_records = function() return tonumber(C.gd_autograd_small_records()) end

gd.autograd = doc(M, "gd.autograd", [[
gd.autograd: automatic differentiation.  A leaf asks for gradients with
requires_grad = true (constructors' option) or t:requires_grad_(); every
differentiable operation on it is recorded on a tape owned by C; loss:backward()
fills the leaves' .grad (accumulating until zero_grad).  gd.no_grad(fn),
t:detach(), gd.grad(f [, argnums]), gd.autograd.gradcheck(f, inputs);
live_records() and tape_length() show the tape; buffer_bytes() and
release_buffers() the temporaries backward reuses from step to step;
set_small_path(on), small_path() and small_records(): the one-pass backward of
small element-wise float records (on by default; off, every record takes the
composed backward, with the same bits).]])

return M
