--- gd.tensor: the tensor type and its constructors (the core of `gd`).
--
-- A tensor is a small cdata struct holding a pointer to a C `gd_tensor`
-- (src/gd.h), which it owns through ffi.gc.  Every method is one FFI call into
-- libgd; C checks the arguments and returns a status, and a failure becomes a
-- Lua error naming the method.  Indices and dimensions are 1-based here and
-- 0-based in C.  Ctypes and out-parameter boxes are made once, at load time,
-- so that hot loops (`y:add_(x)`, `g:copy_(x):mul_(h)`) compile to traces
-- that allocate nothing.
local F = require "gd.ffi"
local doc = require "gd.doc"
local check = require "gd.check"
local ffi, C = F.ffi, F.C

ffi.cdef [[ typedef struct gdlua_tensor { gd_tensor *c; } gdlua_tensor; ]]

local gd = {}
local Tensor = {}          -- the methods; gd.Tensor, for completion and extension
gd.Tensor = Tensor

local floor, huge = math.floor, math.huge
local tonumber, type, select, error = tonumber, type, select, error
local fmt = string.format

-- boxes for out-parameters, made once
local out1 = ffi.new("gd_tensor*[1]")
local out2 = ffi.new("gd_tensor*[1]")
local dbl = ffi.new("double[1]")
local int_box = ffi.new("int[1]")
local ibuf = ffi.new("int64_t[8]")
local sbuf = ffi.new("int64_t[8]")
local tbuf = ffi.new("int64_t[8]")
local dims_buf = ffi.new("int[8]")
local u64a, u64b = ffi.new("uint64_t[1]"), ffi.new("uint64_t[1]")

local DTYPES = {float32 = 0, float64 = 1, int64 = 2}
local DTYPE_NAMES = {[0] = "float32", [1] = "float64", [2] = "int64"}
local DEVICES = {cpu = 0, cuda = 1}
local DEVICE_NAMES = {[0] = "cpu", [1] = "cuda"}
local PTR = {[0] = ffi.typeof("float *"), [1] = ffi.typeof("double *"), [2] = ffi.typeof("int64_t *")}
gd.dtypes = {"float32", "float64", "int64"}

local OP = {add = 0, sub = 1, mul = 2, div = 3, pow = 4, mod = 5, maximum = 6, minimum = 7,
            eq = 8, ne = 9, lt = 10, le = 11, gt = 12, ge = 13}
local UN = {neg = 0, abs = 1, sqrt = 2, exp = 3, log = 4, square = 5, sign = 6, relu = 7, tanh = 8,
            sigmoid = 9, floor = 10, ceil = 11, round = 12, sin = 13, cos = 14, rsqrt = 15,
            reciprocal = 16, clamp = 17, pows = 18, rpows = 19}
local RED = {sum = 0, mean = 1, max = 2, min = 3, argmax = 4, argmin = 5, norm = 6, prod = 7,
             var = 8, std = 9}

-- --------------------------------------------------------------- errors

local function last_error() return ffi.string(C.gd_last_error()) end

--- Raises "<fname>: <C's message>" at the caller of the public function.
local function fail(fname, level)
  error(fname .. ": " .. last_error(), (level or 2) + 1)
end

local function argerr(fname, msg, level)
  error(fname .. ": " .. msg, (level or 2) + 1)
end

-- -------------------------------------------------------------- wrapping

local grads = {}   -- uid -> the Lua object of the tensor's gradient (keeps it alive)

local function finalize(h)
  local c = h.c
  if c ~= nil then
    grads[tonumber(c.uid)] = nil
    h.c = nil
    C.gd_tensor_release(c)
  end
end

local TensorCT  -- the ctype, set below

--- Takes ownership of one reference to a C tensor and returns its Lua object.
-- libgd's memory is invisible to the Lua GC, so after each allocation we ask
-- libgd whether enough bytes went by to make a collection worthwhile.
local function wrap(c)
  local t = ffi.gc(TensorCT(c), finalize)
  if C.gd_mem_collect_advised() ~= 0 then collectgarbage() end
  return t
end

--- For functions that fill out1: the new tensor, or an error.
local function result(st, fname)
  if st ~= 0 then fail(fname, 2) end
  return wrap(out1[0])
end

local function is_tensor(v) return ffi.istype(TensorCT, v) end
gd.is_tensor = doc(is_tensor, "gd.is_tensor", [[
gd.is_tensor(v) -> true when v is a gd tensor.]])

-- -------------------------------------------------------- argument parsing

local function dtype_arg(fname, v, default, level)
  if v == nil then return default end
  local d = DTYPES[v]
  if not d then
    argerr(fname, check.unknown_message("dtype", v, gd.dtypes), (level or 2) + 1)
  end
  return d
end

local function device_arg(fname, v, default, level)
  if v == nil then return default end
  local d = DEVICES[v]
  if not d then argerr(fname, check.unknown_message("device", v, {"cpu", "cuda"}), (level or 2) + 1) end
  return d
end

local CTOR_OPTS = {dtype = true, device = true}

--- Sizes and options from gd.zeros-style arguments: (n, m, ..., [opts]) or
-- ({n, m, ...}, [opts]).  Fills sbuf; returns rank, opts.
local function shape_args(fname, ...)
  local n = select("#", ...)
  local first = ...
  local opts, sizes
  if type(first) == "table" and not is_tensor(first) then
    sizes = first
    opts = select(2, ...)
    if select("#", ...) > 2 then argerr(fname, "too many arguments after the shape table", 3) end
  else
    sizes = {}
    for i = 1, n do
      local v = select(i, ...)
      if type(v) == "number" then
        sizes[#sizes + 1] = v
      elseif i == n and (type(v) == "table" or v == nil) then
        opts = v
      else
        argerr(fname, fmt("argument %d: expected a size (number), got %s", i, type(v)), 3)
      end
    end
  end
  if #sizes > 8 then argerr(fname, fmt("%d dimensions requested, at most 8 are supported", #sizes), 3) end
  for i = 1, #sizes do
    local s = sizes[i]
    if type(s) ~= "number" or s ~= floor(s) or s < 0 then
      argerr(fname, fmt("size %s of dimension %d is not a non-negative integer", tostring(s), i), 3)
    end
    sbuf[i - 1] = s
  end
  return #sizes, check.options(fname, opts, CTOR_OPTS, 3)
end

local function new_empty(fname, rank, dtype, device)
  return result(C.gd_empty(out1, rank, sbuf, dtype, device), fname)
end

--- The C pointer of a tensor argument, or an error naming it.
local function tc(fname, v, what, level)
  if is_tensor(v) then return v.c end
  argerr(fname, fmt("%s must be a tensor, got %s", what or "argument", type(v)), (level or 2) + 1)
end

-- -------------------------------------------------------- nested tables

--- Shape of a (rectangular) nested table of numbers; errors name the ragged row.
local function table_shape(fname, data)
  local shape = {}
  local t = data
  while type(t) == "table" and not is_tensor(t) do
    shape[#shape + 1] = #t
    if #t == 0 then break end
    t = t[1]
  end
  if #shape > 8 then argerr(fname, "more than 8 levels of nesting", 4) end
  local function walk(x, d, path)
    if d > #shape then
      if type(x) ~= "number" and type(x) ~= "boolean" then
        argerr(fname, fmt("element %s is a %s, not a number", path, type(x)), 5 + d)
      end
      return
    end
    if type(x) ~= "table" then
      argerr(fname, fmt("element %s is a %s where a table of %d was expected (ragged nesting)", path,
        type(x), shape[d]), 5 + d)
    end
    if #x ~= shape[d] then
      argerr(fname, fmt("row %s has %d elements, but the first row at this level has %d", path, #x,
        shape[d]), 5 + d)
    end
    for i = 1, #x do walk(x[i], d + 1, path == "" and tostring(i) or path .. "," .. i) end
  end
  walk(data, 1, "")
  return shape
end

local function flatten_into(data, ptr, depth, rank, pos)
  if depth > rank then
    local v = data
    if v == true then v = 1 elseif v == false then v = 0 end
    ptr[pos] = v
    return pos + 1
  end
  for i = 1, #data do pos = flatten_into(data[i], ptr, depth + 1, rank, pos) end
  return pos
end

-- ------------------------------------------------------------ constructors

gd.tensor = doc(function(data, opts)
  local fname = "gd.tensor"
  opts = check.options(fname, opts, CTOR_OPTS)
  local dtype = dtype_arg(fname, opts.dtype, nil)
  local device = device_arg(fname, opts.device, nil)
  if is_tensor(data) then
    if dtype == nil and device == nil then return result(C.gd_clone(out1, data.c), fname) end
    local r = result(C.gd_to(out1, data.c, dtype or -1, device or -1), fname)
    -- gd_to hands back a view when nothing changes; gd.tensor always copies
    if r.c.storage == data.c.storage then r = r:clone() end
    return r
  end
  dtype, device = dtype or 0, device or 0
  local shape
  if type(data) == "number" or type(data) == "boolean" then
    shape = {}
  elseif type(data) == "table" then
    shape = table_shape(fname, data)
  else
    argerr(fname, "data must be a number, a (nested) table of numbers or a tensor, got " .. type(data))
  end
  for i = 1, #shape do sbuf[i - 1] = shape[i] end
  local t = new_empty(fname, #shape, dtype, 0)
  local ptr = ffi.cast(PTR[dtype], t.c.data)
  if #shape == 0 then
    local v = data == true and 1 or data == false and 0 or data
    if dtype == 2 and v ~= floor(v) then argerr(fname, fmt("value %s is not an integer (dtype int64)", tostring(v))) end
    ptr[0] = v
  elseif dtype == 2 then
    -- int64 from Lua numbers: refuse fractions rather than truncate silently
    local flat = {}
    local n = flatten_into(data, flat, 1, #shape, 1) - 1
    for i = 1, n do
      local v = flat[i]
      if v ~= floor(v) then argerr(fname, fmt("value %s is not an integer (dtype int64)", tostring(v))) end
      ptr[i - 1] = v
    end
  else
    flatten_into(data, ptr, 1, #shape, 0)
  end
  if device ~= 0 then return t:to(DEVICE_NAMES[device]) end
  return t
end, "gd.tensor", [[
gd.tensor(data, [{dtype = "float32", device = "cpu"}]) -> tensor
  data: a number (a 0-d tensor), a nested table of numbers (its nesting gives
  the shape; rows must be rectangular), or a tensor (copied).
  gd.tensor({{1, 2}, {3, 4}}, {dtype = "float64"})]])

local function filled(fname, value, ...)
  local rank, opts = shape_args(fname, ...)
  local t = new_empty(fname, rank, dtype_arg(fname, opts.dtype, 0, 3), device_arg(fname, opts.device, 0, 3))
  if value ~= nil and C.gd_fill(t.c, value) ~= 0 then fail(fname, 3) end
  return t
end

gd.empty = doc(function(...) return filled("gd.empty", nil, ...) end, "gd.empty", [[
gd.empty(size..., [opts]) -> an uninitialised tensor.  Sizes as numbers or one
table: gd.empty(3, 4), gd.empty({3, 4}, {dtype = "float64"}).  opts: dtype
("float32" | "float64" | "int64"), device ("cpu" | "cuda").]])
gd.zeros = doc(function(...) return filled("gd.zeros", 0, ...) end, "gd.zeros", [[
gd.zeros(size..., [opts]) -> a tensor of zeros.  gd.zeros(3, 4, {dtype = "float64"})
or gd.zeros({3, 4}).  opts: dtype ("float32" default | "float64" | "int64"),
device ("cpu" default | "cuda").]])
gd.ones = doc(function(...) return filled("gd.ones", 1, ...) end, "gd.ones", [[
gd.ones(size..., [opts]) -> a tensor of ones (see gd.zeros).]])

gd.full = doc(function(...)
  local fname = "gd.full"
  local args = {...}
  local n = select("#", ...)
  local value, opts
  if type(args[1]) == "table" and not is_tensor(args[1]) then
    value, opts = args[2], args[3]
    if type(value) ~= "number" then argerr(fname, "the fill value must be a number, got " .. type(value)) end
    return filled(fname, value, args[1], opts)
  end
  if type(args[n]) == "table" then opts = args[n]; n = n - 1 end
  value = args[n]
  if type(value) ~= "number" then argerr(fname, "the fill value must be a number, got " .. type(value)) end
  local sizes = {}
  for i = 1, n - 1 do sizes[i] = args[i] end
  return filled(fname, value, sizes, opts)
end, "gd.full", [[
gd.full(size..., value, [opts]) -> a tensor filled with value.
  gd.full(2, 3, 7.5) or gd.full({2, 3}, 7.5, {dtype = "float64"})]])

local function like(fname, t, value, opts)
  tc(fname, t, "argument 1", 3)
  opts = check.options(fname, opts, CTOR_OPTS, 3)
  local shape = t.shape
  shape[#shape + 1] = nil
  return filled(fname, value, shape, {dtype = opts.dtype or t.dtype, device = opts.device or t.device})
end
gd.zeros_like = doc(function(t, opts) return like("gd.zeros_like", t, 0, opts) end, "gd.zeros_like",
  "gd.zeros_like(t, [opts]) -> zeros with t's shape, dtype and device.")
gd.ones_like = doc(function(t, opts) return like("gd.ones_like", t, 1, opts) end, "gd.ones_like",
  "gd.ones_like(t, [opts]) -> ones with t's shape, dtype and device.")
gd.empty_like = doc(function(t, opts) return like("gd.empty_like", t, nil, opts) end, "gd.empty_like",
  "gd.empty_like(t, [opts]) -> an uninitialised tensor with t's shape, dtype and device.")

gd.arange = doc(function(a, b, c, d)
  local fname = "gd.arange"
  local start, stop, step, opts
  if type(b) ~= "number" then start, stop, step, opts = 0, a, 1, b
  elseif type(c) ~= "number" then start, stop, step, opts = a, b, 1, c
  else start, stop, step, opts = a, b, c, d end
  check.number(fname, "start", start)
  check.number(fname, "end", stop)
  check.number(fname, "step", step)
  if step == 0 then argerr(fname, "step must not be 0") end
  if (stop - start) / step < 0 then argerr(fname, fmt("step %g does not lead from %g to %g", step, start, stop)) end
  opts = check.options(fname, opts, CTOR_OPTS)
  local n = math.ceil((stop - start) / step)
  sbuf[0] = n
  local t = new_empty(fname, 1, dtype_arg(fname, opts.dtype, 0), device_arg(fname, opts.device, 0))
  if C.gd_fill_range(t.c, start, step) ~= 0 then fail(fname) end
  return t
end, "gd.arange", [[
gd.arange([start = 0,] end, [step = 1,] [opts]) -> 1-D tensor start, start+step, ...
  up to but excluding end (PyTorch's arange).  gd.arange(5) is 0..4.]])

gd.linspace = doc(function(start, stop, n, opts)
  local fname = "gd.linspace"
  check.number(fname, "start", start)
  check.number(fname, "end", stop)
  check.number(fname, "steps", n, {integer = true, min = 0})
  opts = check.options(fname, opts, CTOR_OPTS)
  sbuf[0] = n
  local t = new_empty(fname, 1, dtype_arg(fname, opts.dtype, 0), device_arg(fname, opts.device, 0))
  local step = n > 1 and (stop - start) / (n - 1) or 0
  if C.gd_fill_range(t.c, start, step) ~= 0 then fail(fname) end
  if n > 1 then t:set(n, stop) end -- the end point exactly, as NumPy does
  return t
end, "gd.linspace", [[
gd.linspace(start, end, steps, [opts]) -> 1-D tensor of `steps` evenly spaced
values from start to end inclusive.]])

local function random_ctor(fname, kind, a, b, ...)
  local rank, opts = shape_args(fname, ...)
  local t = new_empty(fname, rank, dtype_arg(fname, opts.dtype, 0, 3), device_arg(fname, opts.device, 0, 3))
  if C.gd_random_(t.c, kind, a, b) ~= 0 then fail(fname, 3) end
  return t
end
gd.rand = doc(function(...) return random_ctor("gd.rand", 0, 0, 1, ...) end, "gd.rand", [[
gd.rand(size..., [opts]) -> uniform [0, 1) numbers from the global Philox
generator (gd.manual_seed); the same seed gives the same numbers on any
device and thread count.]])
gd.randn = doc(function(...) return random_ctor("gd.randn", 1, 0, 1, ...) end, "gd.randn", [[
gd.randn(size..., [opts]) -> standard normal numbers (see gd.rand).]])

gd.manual_seed = doc(function(seed)
  check.number("gd.manual_seed", "seed", seed, {integer = true, min = 0})
  C.gd_manual_seed(seed)
end, "gd.manual_seed", [[
gd.manual_seed(seed) -> seeds the global generator (and resets its position).]])

gd.rng_state = doc(function()
  C.gd_rng_get_state(u64a, u64b)
  return {seed = tonumber(u64a[0]), offset = tonumber(u64b[0])}
end, "gd.rng_state", "gd.rng_state() -> {seed, offset} of the global generator, for checkpoints.")
gd.set_rng_state = doc(function(s)
  C.gd_rng_set_state(s.seed, s.offset)
end, "gd.set_rng_state", "gd.set_rng_state(state) restores what gd.rng_state() returned.")

gd.randperm = doc(function(n, opts)
  local fname = "gd.randperm"
  check.number(fname, "n", n, {integer = true, min = 0})
  opts = check.options(fname, opts, {seed = true, offset = true})
  sbuf[0] = n
  local t = new_empty(fname, 1, 2, 0)
  local seed, offset = opts.seed, opts.offset or 0
  if seed == nil then
    -- from the global generator, which then moves past the blocks used
    C.gd_rng_get_state(u64a, u64b)
    seed, offset = u64a[0], u64b[0]
    C.gd_rng_set_state(u64a[0], u64b[0] + math.ceil(n / 2))
  end
  if C.gd_randperm_(t.c, seed, offset) ~= 0 then fail(fname) end
  return t:add_(1)
end, "gd.randperm", [[
gd.randperm(n, [{seed = s, offset = 0}]) -> int64 tensor holding a random
permutation of 1..n (1-based, for indexing).  With a seed, the global generator
is left untouched.]])

gd.set_num_threads = doc(function(n)
  check.number("gd.set_num_threads", "n", n, {integer = true})
  C.gd_set_num_threads(n)
end, "gd.set_num_threads", "gd.set_num_threads(n): OpenMP threads for large loops (0: all cores).")
gd.get_num_threads = doc(function() return C.gd_get_num_threads() end, "gd.get_num_threads",
  "gd.get_num_threads() -> the number of threads large loops use.")
gd.cuda_available = doc(function()
  local ok = C.gd_cuda_available() ~= 0
  return ok, (not ok) and last_error() or nil
end, "gd.cuda_available", "gd.cuda_available() -> true, or false and the reason no GPU can be used.")
gd.synchronize = doc(function()
  if C.gd_synchronize(1) ~= 0 then fail("gd.synchronize") end
end, "gd.synchronize", "gd.synchronize(): waits for queued GPU work (a no-op without one).")
gd.memory = doc(function()
  return {cpu = tonumber(C.gd_mem_live_bytes(0)), cuda = tonumber(C.gd_mem_live_bytes(1))}
end, "gd.memory", "gd.memory() -> {cpu = bytes, cuda = bytes} of live tensor storage.")
gd.version = ffi.string(C.gd_version())

-- ------------------------------------------------------------- fields

local getters = {
  shape = function(t)
    local c = t.c
    local s = {}
    for d = 0, c.rank - 1 do s[d + 1] = tonumber(c.sizes[d]) end
    return s
  end,
  dtype = function(t) return DTYPE_NAMES[t.c.scalar_type] end,
  device = function(t) return DEVICE_NAMES[t.c.device_kind] end,
  grad = function(t)
    local c = t.c
    if c.gradient == nil then return nil end
    return grads[tonumber(c.uid)]
  end,
}

local function set_grad(t, g)
  local c = t.c
  if g == nil then
    C.gd_tensor_set_grad(c, nil)
    grads[tonumber(c.uid)] = nil
    return
  end
  if not is_tensor(g) then argerr("tensor.grad", "must be a tensor or nil, got " .. type(g), 3) end
  if C.gd_tensor_set_grad(c, g.c) ~= 0 then fail("tensor.grad", 3) end
  grads[tonumber(c.uid)] = g
end

-- ------------------------------------------------------ element access

--- 0-based offset (in elements) of a 1-based index on dimension d; negative
-- indices count from the end.
local function index0(fname, c, d, i)
  local n = c.sizes[d]
  if type(i) ~= "number" or i ~= floor(i) then
    argerr(fname, fmt("index %s for dimension %d is not an integer", tostring(i), d + 1), 4)
  end
  if i < 0 then i = i + n + 1 end
  if i < 1 or i > n then
    argerr(fname, fmt("index %d out of range for dimension %d of size %d", i, d + 1, tonumber(n)), 4)
  end
  return i - 1
end

local function read_at(c, off)
  if c.device_kind == 0 then
    local v = ffi.cast(PTR[c.scalar_type], c.data)[off]
    if c.scalar_type == 2 then return tonumber(v) end
    return v
  end
  return nil
end

function Tensor.get(t, i, j, ...)
  local fname = "get"
  local c = t.c
  local n = select("#", ...)
  local rank = c.rank
  if c.is_freed ~= 0 then argerr(fname, "the tensor was released with free()") end
  local given = (i ~= nil and 1 or 0) + (j ~= nil and 1 or 0) + n
  if given ~= rank then argerr(fname, fmt("%d indices given for a %d-dimensional tensor", given, rank)) end
  local off
  if rank == 1 then
    off = index0(fname, c, 0, i) * c.strides[0]
  elseif rank == 2 then
    off = index0(fname, c, 0, i) * c.strides[0] + index0(fname, c, 1, j) * c.strides[1]
  elseif rank == 0 then
    off = 0
  else
    off = index0(fname, c, 0, i) * c.strides[0] + index0(fname, c, 1, j) * c.strides[1]
    for d = 2, rank - 1 do off = off + index0(fname, c, d, (select(d - 1, ...))) * c.strides[d] end
  end
  local v = read_at(c, off)
  if v ~= nil then return v end
  -- other devices: through C
  ibuf[0] = 0
  for d = 0, rank - 1 do ibuf[d] = 0 end
  local idx = {i, j, ...}
  for d = 0, rank - 1 do ibuf[d] = index0(fname, c, d, idx[d + 1]) end
  if C.gd_get(c, ibuf, dbl) ~= 0 then fail(fname) end
  return dbl[0]
end

function Tensor.set(t, ...)
  local fname = "set"
  local c = t.c
  local n = select("#", ...)
  local rank = c.rank
  if c.is_freed ~= 0 then argerr(fname, "the tensor was released with free()") end
  if n ~= rank + 1 then
    argerr(fname, fmt("%d indices given for a %d-dimensional tensor (set takes the indices, then the value)",
      n - 1, rank))
  end
  local value = select(n, ...)
  if type(value) == "boolean" then value = value and 1 or 0 end
  if type(value) ~= "number" then argerr(fname, "the value must be a number, got " .. type(value)) end
  local i, j = ...
  local off = 0
  if rank >= 1 then off = index0(fname, c, 0, i) * c.strides[0] end
  if rank >= 2 then off = off + index0(fname, c, 1, j) * c.strides[1] end
  for d = 2, rank - 1 do off = off + index0(fname, c, d, (select(d + 1, ...))) * c.strides[d] end
  if c.device_kind == 0 then
    local st = c.scalar_type
    if st == 2 and value ~= floor(value) then
      argerr(fname, fmt("value %s is not an integer, and the tensor is int64", tostring(value)))
    end
    ffi.cast(PTR[st], c.data)[off] = value
    return t
  end
  for d = 0, rank - 1 do ibuf[d] = index0(fname, c, d, (select(d + 1, ...))) end
  if C.gd_set(c, ibuf, value) ~= 0 then fail(fname) end
  return t
end

function Tensor.item(t)
  local c = t.c
  if c.count ~= 1 then
    argerr("item", fmt("the tensor has %d elements; item() needs exactly one", tonumber(c.count)))
  end
  for d = 0, c.rank - 1 do ibuf[d] = 0 end
  if C.gd_get(c, ibuf, dbl) ~= 0 then fail("item") end
  return dbl[0]
end

--- Contiguous CPU copy (or t itself when it already is one).
local function cpu_contiguous(t, fname)
  local c = t.c
  if c.device_kind == 0 and c.is_contiguous ~= 0 then return t end
  local r = result(C.gd_to(out1, c, -1, 0), fname)
  return result(C.gd_contiguous(out1, r.c), fname)
end

function Tensor.totable(t)
  local src = cpu_contiguous(t, "totable")
  local c = src.c
  local ptr = ffi.cast(PTR[c.scalar_type], c.data)
  local rank = c.rank
  local int = c.scalar_type == 2
  if rank == 0 then local v = ptr[0]; return int and tonumber(v) or v end
  local pos = 0
  local function build(d)
    local n = tonumber(c.sizes[d])
    local r = {}
    if d == rank - 1 then
      for i = 1, n do
        local v = ptr[pos]
        r[i] = int and tonumber(v) or v
        pos = pos + 1
      end
    else
      for i = 1, n do r[i] = build(d + 1) end
    end
    return r
  end
  return build(0)
end

-- -------------------------------------------------------------- views

--- Sizes from (n, m, ...) or ({n, m, ...}) into sbuf; returns the count.
local function sizes_from(fname, a, ...)
  local sizes = a
  if type(a) ~= "table" or is_tensor(a) then sizes = {a, ...} end
  if #sizes > 8 then argerr(fname, "at most 8 dimensions are supported", 3) end
  for i = 1, #sizes do
    local s = sizes[i]
    if type(s) ~= "number" or s ~= floor(s) then
      argerr(fname, fmt("size %s of dimension %d is not an integer", tostring(s), i), 3)
    end
    sbuf[i - 1] = s
  end
  return #sizes
end

--- A 1-based dimension (negative counts from the end) as 0-based.
local function dim0(fname, c, d, extra)
  local r = c.rank + (extra or 0)
  if type(d) ~= "number" or d ~= floor(d) then
    argerr(fname, fmt("dimension %s is not an integer", tostring(d)), 3)
  end
  if d < 0 then d = d + r + 1 end
  if d < 1 or d > r then
    argerr(fname, fmt("dimension %d out of range (the tensor has %d dimension%s)", d, c.rank,
      c.rank == 1 and "" or "s"), 3)
  end
  return d - 1
end

function Tensor.view(t, ...)
  local n = sizes_from("view", ...)
  return result(C.gd_view(out1, t.c, n, sbuf), "view")
end

function Tensor.reshape(t, ...)
  local n = sizes_from("reshape", ...)
  return result(C.gd_reshape(out1, t.c, n, sbuf), "reshape")
end

function Tensor.view_as(t, other)
  local o = tc("view_as", other, "argument 1")
  for d = 0, o.rank - 1 do sbuf[d] = o.sizes[d] end
  return result(C.gd_view(out1, t.c, o.rank, sbuf), "view_as")
end

function Tensor.flatten(t)
  sbuf[0] = -1
  return result(C.gd_reshape(out1, t.c, 1, sbuf), "flatten")
end

function Tensor.transpose(t, d1, d2)
  local c = t.c
  return result(C.gd_transpose(out1, c, dim0("transpose", c, d1), dim0("transpose", c, d2)), "transpose")
end

function Tensor.t(t)
  local c = t.c
  if c.rank > 2 then argerr("t", fmt("expects a tensor with at most 2 dimensions, got %d", c.rank)) end
  if c.rank < 2 then return result(C.gd_view(out1, c, c.rank, c.sizes), "t") end
  return result(C.gd_transpose(out1, c, 0, 1), "t")
end

function Tensor.permute(t, a, ...)
  local c = t.c
  local dims = type(a) == "table" and a or {a, ...}
  for i = 1, #dims do dims_buf[i - 1] = dim0("permute", c, dims[i]) end
  return result(C.gd_permute(out1, c, #dims, dims_buf), "permute")
end

function Tensor.narrow(t, dim, start, len)
  local c = t.c
  local d = dim0("narrow", c, dim)
  check.number("narrow", "start", start, {integer = true})
  check.number("narrow", "length", len, {integer = true, min = 0})
  if start < 0 then start = start + tonumber(c.sizes[d]) + 1 end
  return result(C.gd_narrow(out1, c, d, start - 1, len), "narrow")
end

function Tensor.select(t, dim, index)
  local c = t.c
  local d = dim0("select", c, dim)
  check.number("select", "index", index, {integer = true})
  if index < 0 then index = index + tonumber(c.sizes[d]) + 1 end
  return result(C.gd_select(out1, c, d, index - 1), "select")
end

function Tensor.expand(t, ...)
  local n = sizes_from("expand", ...)
  return result(C.gd_expand(out1, t.c, n, sbuf), "expand")
end

function Tensor.expand_as(t, other)
  local o = tc("expand_as", other, "argument 1")
  return result(C.gd_expand(out1, t.c, o.rank, o.sizes), "expand_as")
end

function Tensor.unsqueeze(t, dim)
  local c = t.c
  return result(C.gd_unsqueeze(out1, c, dim0("unsqueeze", c, dim, 1)), "unsqueeze")
end

function Tensor.squeeze(t, dim)
  local c = t.c
  return result(C.gd_squeeze(out1, c, dim == nil and -1 or dim0("squeeze", c, dim)), "squeeze")
end

function Tensor.contiguous(t) return result(C.gd_contiguous(out1, t.c), "contiguous") end
function Tensor.clone(t) return result(C.gd_clone(out1, t.c), "clone") end

function Tensor.is_contiguous(t) return t.c.is_contiguous ~= 0 end

local TO_OPTS = {dtype = true, device = true}
function Tensor.to(t, x)
  local fname = "to"
  local dtype, device = -1, -1
  if type(x) == "string" then
    if DTYPES[x] then dtype = DTYPES[x]
    elseif DEVICES[x] then device = DEVICES[x]
    else
      local all = {"float32", "float64", "int64", "cpu", "cuda"}
      argerr(fname, check.unknown_message("dtype or device", x, all))
    end
  elseif is_tensor(x) then
    dtype, device = x.c.scalar_type, x.c.device_kind
  elseif type(x) == "table" then
    check.options(fname, x, TO_OPTS)
    dtype = dtype_arg(fname, x.dtype, -1)
    device = device_arg(fname, x.device, -1)
  else
    argerr(fname, "expects a dtype, a device, an options table or a tensor, got " .. type(x))
  end
  return result(C.gd_to(out1, t.c, dtype, device), fname)
end
function Tensor.float(t) return result(C.gd_to(out1, t.c, 0, -1), "float") end
function Tensor.double(t) return result(C.gd_to(out1, t.c, 1, -1), "double") end
function Tensor.long(t) return result(C.gd_to(out1, t.c, 2, -1), "long") end
function Tensor.cpu(t) return result(C.gd_to(out1, t.c, -1, 0), "cpu") end
function Tensor.cuda(t) return result(C.gd_to(out1, t.c, -1, 1), "cuda") end

--- Torch7's set_: makes t a view of src's storage (offset 1-based, in elements).
function Tensor.set_(t, src, offset, sizes, strides)
  local fname = "set_"
  local s = tc(fname, src, "argument 1 (source)")
  offset = offset or 1
  check.number(fname, "offset", offset, {integer = true, min = 1})
  local rank
  if sizes == nil then
    rank = s.rank
    for d = 0, rank - 1 do sbuf[d] = s.sizes[d]; tbuf[d] = s.strides[d] end
  else
    rank = sizes_from(fname, sizes)
    if strides then
      for d = 0, rank - 1 do tbuf[d] = strides[d + 1] end
    else
      local acc = 1
      for d = rank - 1, 0, -1 do tbuf[d] = acc; acc = acc * tonumber(sbuf[d]) end
    end
  end
  if C.gd_set_storage(t.c, s, offset - 1, rank, sbuf, tbuf) ~= 0 then fail(fname) end
  return t
end

function Tensor.storage_offset(t) return tonumber(t.c.storage_offset) + 1 end
function Tensor.is_same_storage(t, other) return C.gd_same_storage(t.c, tc("is_same_storage", other)) ~= 0 end

function Tensor.index_select(t, dim, index)
  local fname = "index_select"
  local c = t.c
  local d = dim0(fname, c, dim)
  if type(index) == "table" and not is_tensor(index) then index = gd.tensor(index, {dtype = "int64"}) end
  local ix = tc(fname, index, "index")
  -- 1-based indices to 0-based
  local z = result(C.gd_binary_scalar(out1, ix, 1, OP.sub, 0), fname)
  return result(C.gd_index_select(out1, c, d, z.c), fname)
end

gd.cat = doc(function(list, dim)
  local fname = "gd.cat"
  if type(list) ~= "table" or #list == 0 then argerr(fname, "expects a non-empty table of tensors") end
  local arr = ffi.new("gd_tensor*[?]", #list)
  for i = 1, #list do arr[i - 1] = tc(fname, list[i], "element " .. i) end
  dim = dim or 1
  local d = dim0(fname, list[1].c, dim)
  return result(C.gd_cat(out1, arr, #list, d), fname)
end, "gd.cat", [[
gd.cat({t1, t2, ...}, [dim = 1]) -> the tensors joined along dim.]])

gd.stack = doc(function(list, dim)
  local fname = "gd.stack"
  if type(list) ~= "table" or #list == 0 then argerr(fname, "expects a non-empty table of tensors") end
  dim = dim or 1
  local parts = {}
  for i = 1, #list do
    tc(fname, list[i], "element " .. i)
    parts[i] = list[i]:unsqueeze(dim)
  end
  return gd.cat(parts, dim)
end, "gd.stack", "gd.stack({t1, t2, ...}, [dim = 1]) -> the tensors stacked along a new dimension.")

-- ------------------------------------------------------------ arithmetic

--- A tensor operand from a number or table (numbers are handled by callers).
local function operand(fname, v, like_t, level)
  if is_tensor(v) then return v.c end
  if type(v) == "table" then
    return gd.tensor(v, {dtype = DTYPE_NAMES[like_t.c.scalar_type], device = DEVICE_NAMES[like_t.c.device_kind]}).c
  end
  argerr(fname, "operand must be a tensor, a number or a table, got " .. type(v), (level or 2) + 1)
end

local function binary(fname, op, a, b)
  if type(b) == "number" then
    if is_tensor(a) then return result(C.gd_binary_scalar(out1, a.c, b, op, 0), fname) end
  elseif type(a) == "number" then
    if is_tensor(b) then return result(C.gd_binary_scalar(out1, b.c, a, op, 1), fname) end
  end
  local ta = is_tensor(a) and a or nil
  local ref = ta or b
  local ca = operand(fname, a, ref, 3)
  local cb = operand(fname, b, ref, 3)
  return result(C.gd_binary(out1, ca, cb, op), fname)
end

local function binary_(fname, op, t, x)
  local st
  if type(x) == "number" then st = C.gd_binary_scalar_(t.c, x, op)
  else st = C.gd_binary_(t.c, operand(fname, x, t, 3), op) end
  if st ~= 0 then fail(fname, 3) end
  return t
end

local function unary(fname, op, t, p1, p2)
  return result(C.gd_unary(out1, t.c, op, p1 or 0, p2 or 0), fname)
end

local function unary_(fname, op, t, p1, p2)
  if C.gd_unary_(t.c, op, p1 or 0, p2 or 0) ~= 0 then fail(fname, 3) end
  return t
end

-- a + alpha * b, PyTorch's add(other, alpha) (and Torch7's add(value, other))
function Tensor.add(t, x, alpha)
  if type(x) == "number" and is_tensor(alpha) then x, alpha = alpha, x end
  if alpha ~= nil and alpha ~= 1 then
    check.number("add", "alpha", alpha)
    local r = t:clone()
    if C.gd_add_scaled_(r.c, operand("add", x, t), alpha) ~= 0 then fail("add") end
    return r
  end
  return binary("add", OP.add, t, x)
end

function Tensor.sub(t, x, alpha)
  if alpha ~= nil and alpha ~= 1 then return t:add(x, -check.number("sub", "alpha", alpha)) end
  return binary("sub", OP.sub, t, x)
end

function Tensor.mul(t, x) return binary("mul", OP.mul, t, x) end
function Tensor.div(t, x) return binary("div", OP.div, t, x) end
function Tensor.pow(t, x)
  if type(x) == "number" then return unary("pow", UN.pows, t, x) end
  return binary("pow", OP.pow, t, x)
end
function Tensor.fmod(t, x) return binary("mod", OP.mod, t, x) end
function Tensor.remainder(t, x) return binary("remainder", OP.mod, t, x) end
function Tensor.maximum(t, x) return binary("maximum", OP.maximum, t, x) end
function Tensor.minimum(t, x) return binary("minimum", OP.minimum, t, x) end
for _, name in ipairs {"eq", "ne", "lt", "le", "gt", "ge"} do
  local op = OP[name]
  Tensor[name] = function(t, x) return binary(name, op, t, x) end
end

for _, name in ipairs {"neg", "abs", "sqrt", "exp", "log", "square", "sign", "relu", "tanh", "sigmoid",
                       "floor", "ceil", "round", "sin", "cos", "rsqrt", "reciprocal"} do
  local op = UN[name]
  local name_ = name .. "_"
  Tensor[name] = function(t) return unary(name, op, t) end
  Tensor[name_] = function(t) return unary_(name_, op, t) end
end

local function clamp_bounds(fname, lo, hi)
  if lo == nil and hi == nil then argerr(fname, "at least one of min and max must be given", 3) end
  if lo ~= nil then check.number(fname, "min", lo, {level = 3}) end
  if hi ~= nil then check.number(fname, "max", hi, {level = 3}) end
  return lo or -huge, hi or huge
end
function Tensor.clamp(t, lo, hi)
  lo, hi = clamp_bounds("clamp", lo, hi)
  return unary("clamp", UN.clamp, t, lo, hi)
end
function Tensor.clamp_(t, lo, hi)
  lo, hi = clamp_bounds("clamp_", lo, hi)
  return unary_("clamp_", UN.clamp, t, lo, hi)
end

function Tensor.add_(t, x, alpha)
  if alpha == nil then
    if type(x) == "number" then
      if C.gd_binary_scalar_(t.c, x, 0) ~= 0 then fail("add_") end
      return t
    end
    if is_tensor(x) then
      if C.gd_add_scaled_(t.c, x.c, 1) ~= 0 then fail("add_") end
      return t
    end
    return binary_("add_", OP.add, t, x)
  end
  if type(x) == "number" and is_tensor(alpha) then x, alpha = alpha, x end -- Torch7: add_(value, tensor)
  check.number("add_", "alpha", alpha)
  if C.gd_add_scaled_(t.c, operand("add_", x, t), alpha) ~= 0 then fail("add_") end
  return t
end

function Tensor.sub_(t, x, alpha)
  if alpha == nil then
    if type(x) == "number" then
      if C.gd_binary_scalar_(t.c, x, 1) ~= 0 then fail("sub_") end
      return t
    end
    return binary_("sub_", OP.sub, t, x)
  end
  check.number("sub_", "alpha", alpha)
  if C.gd_add_scaled_(t.c, operand("sub_", x, t), -alpha) ~= 0 then fail("sub_") end
  return t
end

function Tensor.mul_(t, x)
  if type(x) == "number" then
    if C.gd_binary_scalar_(t.c, x, 2) ~= 0 then fail("mul_") end
    return t
  end
  return binary_("mul_", OP.mul, t, x)
end

function Tensor.div_(t, x)
  if type(x) == "number" then
    if C.gd_binary_scalar_(t.c, x, 3) ~= 0 then fail("div_") end
    return t
  end
  return binary_("div_", OP.div, t, x)
end

function Tensor.pow_(t, x)
  if type(x) == "number" then return unary_("pow_", UN.pows, t, x) end
  return binary_("pow_", OP.pow, t, x)
end

function Tensor.copy_(t, src)
  if is_tensor(src) then
    if C.gd_copy(t.c, src.c) ~= 0 then fail("copy_") end
    return t
  end
  if type(src) == "table" then
    if C.gd_copy(t.c, operand("copy_", src, t)) ~= 0 then fail("copy_") end
    return t
  end
  argerr("copy_", "source must be a tensor or a table, got " .. type(src))
end

function Tensor.fill_(t, v)
  if type(v) == "boolean" then v = v and 1 or 0 end
  if type(v) ~= "number" then argerr("fill_", "value must be a number, got " .. type(v)) end
  if C.gd_fill(t.c, v) ~= 0 then fail("fill_") end
  return t
end

function Tensor.zero_(t)
  if C.gd_fill(t.c, 0) ~= 0 then fail("zero_") end
  return t
end

-- PyTorch's addcmul_(t1, t2, value=1), and Torch7's addcmul(value, t1, t2)
local function addc(fname, cfn, t, a, b, value)
  if type(a) == "number" then a, b, value = b, value, a end
  if value == nil then value = 1 end
  check.number(fname, "value", value, {level = 3})
  if cfn(t.c, operand(fname, a, t, 3), operand(fname, b, t, 3), value) ~= 0 then fail(fname, 3) end
  return t
end
function Tensor.addcmul_(t, a, b, value) return addc("addcmul_", C.gd_addcmul_, t, a, b, value) end
function Tensor.addcdiv_(t, a, b, value) return addc("addcdiv_", C.gd_addcdiv_, t, a, b, value) end
function Tensor.addcmul(t, a, b, value) return addc("addcmul", C.gd_addcmul_, t:clone(), a, b, value) end
function Tensor.addcdiv(t, a, b, value) return addc("addcdiv", C.gd_addcdiv_, t:clone(), a, b, value) end

function Tensor.uniform_(t, a, b)
  a, b = a or 0, b or 1
  if C.gd_random_(t.c, 0, a, b) ~= 0 then fail("uniform_") end
  return t
end
function Tensor.normal_(t, mean, std)
  mean, std = mean or 0, std or 1
  if C.gd_random_(t.c, 1, mean, std) ~= 0 then fail("normal_") end
  return t
end

gd.where = doc(function(cond, a, b)
  local fname = "gd.where"
  local ref = is_tensor(a) and a or is_tensor(b) and b or cond
  tc(fname, cond, "condition")
  local ca = type(a) == "number" and gd.full({}, a, {dtype = ref.dtype, device = ref.device}).c or operand(fname, a, ref)
  local cb = type(b) == "number" and gd.full({}, b, {dtype = ref.dtype, device = ref.device}).c or operand(fname, b, ref)
  return result(C.gd_where(out1, cond.c, ca, cb), fname)
end, "gd.where", [[
gd.where(cond, a, b) -> element-wise a where cond is nonzero, else b (broadcasting).]])

gd.allclose = doc(function(a, b, rtol, atol)
  local fname = "gd.allclose"
  if C.gd_allclose(tc(fname, a, "argument 1"), operand(fname, b, a), rtol or 1e-5, atol or 1e-8, int_box) ~= 0 then
    fail(fname)
  end
  return int_box[0] ~= 0
end, "gd.allclose", [[
gd.allclose(a, b, [rtol = 1e-5], [atol = 1e-8]) -> true when a and b have one
shape and |a - b| <= atol + rtol * |b| everywhere (NumPy's rule).]])

-- ------------------------------------------------------------ reductions

local function reduce(fname, op, t, dim, keepdim, p)
  local c = t.c
  if dim == nil then
    if C.gd_reduce_all(c, op, p or 0, dbl) ~= 0 then fail(fname, 3) end
    return dbl[0]
  end
  local d = dim0(fname, c, dim)
  return result(C.gd_reduce_dim(out1, nil, c, d, op, keepdim and 1 or 0, p or 0), fname)
end

function Tensor.sum(t, dim, keepdim) return reduce("sum", RED.sum, t, dim, keepdim) end
function Tensor.mean(t, dim, keepdim) return reduce("mean", RED.mean, t, dim, keepdim) end
function Tensor.prod(t, dim, keepdim) return reduce("prod", RED.prod, t, dim, keepdim) end
-- var/std: PyTorch's unbiased estimate by default (correction 1)
function Tensor.var(t, dim, keepdim, correction) return reduce("var", RED.var, t, dim, keepdim, correction or 1) end
function Tensor.std(t, dim, keepdim, correction) return reduce("std", RED.std, t, dim, keepdim, correction or 1) end

function Tensor.norm(t, p, dim, keepdim)
  if p == nil then p = 2 end
  if p == "fro" then p = 2 end
  if p == "inf" then p = huge end
  check.number("norm", "p", p)
  return reduce("norm", RED.norm, t, dim, keepdim, p)
end

-- max()/min() -> number; max(dim) -> values, indices (1-based int64)
local function extreme(fname, op, t, dim, keepdim)
  local c = t.c
  if dim == nil then
    if C.gd_reduce_all(c, op, 0, dbl) ~= 0 then fail(fname, 3) end
    return dbl[0]
  end
  if is_tensor(dim) then return binary(fname, op == RED.max and OP.maximum or OP.minimum, t, dim) end
  local d = dim0(fname, c, dim)
  if C.gd_reduce_dim(out1, out2, c, d, op, keepdim and 1 or 0, 0) ~= 0 then fail(fname, 3) end
  local values, indices = wrap(out1[0]), wrap(out2[0])
  return values, indices:add_(1)
end
function Tensor.max(t, dim, keepdim) return extreme("max", RED.max, t, dim, keepdim) end
function Tensor.min(t, dim, keepdim) return extreme("min", RED.min, t, dim, keepdim) end

local function argext(fname, op, t, dim, keepdim)
  local c = t.c
  if dim == nil then
    if C.gd_reduce_all(c, op, 0, dbl) ~= 0 then fail(fname, 3) end
    return dbl[0] + 1
  end
  local d = dim0(fname, c, dim)
  local r = result(C.gd_reduce_dim(out1, nil, c, d, op, keepdim and 1 or 0, 0), fname)
  return r:add_(1)
end
function Tensor.argmax(t, dim, keepdim) return argext("argmax", RED.argmax, t, dim, keepdim) end
function Tensor.argmin(t, dim, keepdim) return argext("argmin", RED.argmin, t, dim, keepdim) end

function Tensor.matmul(t, x)
  return result(C.gd_matmul(out1, t.c, operand("matmul", x, t)), "matmul")
end
gd.matmul = doc(function(a, b)
  return result(C.gd_matmul(out1, tc("gd.matmul", a, "argument 1"), tc("gd.matmul", b, "argument 2")), "gd.matmul")
end, "gd.matmul", [[
gd.matmul(a, b) -> matrix product with NumPy's rules: 1-D·1-D is a dot product
(0-d tensor), 2-D@1-D a matrix-vector product, 2-D@2-D a matrix product,
3-D@3-D a batched product.  float32/float64 go through BLAS.]])

--- gemm into an existing output: c = beta*c + alpha * op(a) @ op(b)
function Tensor.addmm_(t, a, b, alpha, beta, trans_a, trans_b)
  local fname = "addmm_"
  if C.gd_gemm(t.c, tc(fname, a, "argument 1"), trans_a and 1 or 0, tc(fname, b, "argument 2"),
    trans_b and 1 or 0, alpha or 1, beta or 1) ~= 0 then
    fail(fname)
  end
  return t
end

-- --------------------------------------------------------- misc methods

function Tensor.dim(t) return t.c.rank end
function Tensor.nDimension(t) return t.c.rank end
function Tensor.numel(t) return tonumber(t.c.count) end
function Tensor.nElement(t) return tonumber(t.c.count) end
function Tensor.size(t, d)
  local c = t.c
  if d == nil then return t.shape end
  return tonumber(c.sizes[dim0("size", c, d)])
end
function Tensor.stride(t, d)
  local c = t.c
  if d == nil then
    local s = {}
    for i = 0, c.rank - 1 do s[i + 1] = tonumber(c.strides[i]) end
    return s
  end
  return tonumber(c.strides[dim0("stride", c, d)])
end

--- Releases the tensor's storage now instead of at garbage collection; the
-- tensor becomes empty, and using it afterwards is an error (never a crash).
function Tensor.free(t)
  local c = t.c
  if c ~= nil then
    grads[tonumber(c.uid)] = nil
    C.gd_tensor_free_data(c)
  end
end

function Tensor.type(t) return DTYPE_NAMES[t.c.scalar_type] end
function Tensor.is_cuda(t) return t.c.device_kind == 1 end
function Tensor.equal(t, other)
  if not is_tensor(other) then return false end
  local a, b = t.c, other.c
  if a.rank ~= b.rank then return false end
  for d = 0, a.rank - 1 do if a.sizes[d] ~= b.sizes[d] then return false end end
  return gd.allclose(t, other, 0, 0)
end

-- -------------------------------------------------------------- printing

local function format_number(v, int, scale)
  if int then return fmt("%d", v) end
  if v ~= v then return "nan" end
  if v == huge then return "inf" elseif v == -huge then return "-inf" end
  if scale == "e" then return fmt("%.4e", v) end
  return fmt("%.4f", v)
end

--- Torch7/NumPy-style printout: values (large tensors summarised: three at
-- each end of every dimension), then "[float32 tensor, cpu, 2x3]".
local function tensor_tostring(t)
  local c = t.c
  if c == nil then return "[freed tensor]" end
  local dtype, device = DTYPE_NAMES[c.scalar_type], DEVICE_NAMES[c.device_kind]
  local shape = t.shape
  local desc = fmt("[%s tensor, %s, %s]", dtype, device, #shape == 0 and "scalar" or table.concat(shape, "x"))
  if c.is_freed ~= 0 then return "[tensor released with free()]" end
  local n = tonumber(c.count)
  if n == 0 then return "[empty " .. desc:sub(2) end -- "[empty float32 tensor, cpu, 0x3]"
  local src = cpu_contiguous(t, "tostring")
  local sc = src.c
  local ptr = ffi.cast(PTR[sc.scalar_type], sc.data)
  local int = sc.scalar_type == 2
  local summarise = n > 1000
  local edge = 3
  -- pick a common format: scientific when magnitudes are extreme
  local maxabs, minabs = 0, huge
  local step = summarise and math.max(1, floor(n / 1000)) or 1
  for i = 0, n - 1, step do
    local v = tonumber(ptr[i])
    if v == v and v ~= huge and v ~= -huge then
      local a = math.abs(v)
      if a > maxabs then maxabs = a end
      if a > 0 and a < minabs then minabs = a end
    end
  end
  -- fixed point unless the values are all tiny or some are huge
  local scale = (not int and (maxabs >= 1e6 or (maxabs > 0 and maxabs < 1e-3))) and "e" or "f"
  local rank = sc.rank
  local strides = {}
  do
    local acc = 1
    for d = rank - 1, 0, -1 do strides[d] = acc; acc = acc * tonumber(sc.sizes[d]) end
  end
  local function indices(d)
    local size = tonumber(sc.sizes[d])
    local list = {}
    if summarise and size > 2 * edge then
      for i = 0, edge - 1 do list[#list + 1] = i end
      list[#list + 1] = false
      for i = size - edge, size - 1 do list[#list + 1] = i end
    else
      for i = 0, size - 1 do list[#list + 1] = i end
    end
    return list
  end
  -- width of the widest printed number
  local width = 1
  local cells = {}
  local function cell(off)
    local s = cells[off]
    if not s then
      s = format_number(tonumber(ptr[off]), int, scale)
      cells[off] = s
      if #s > width then width = #s end
    end
    return s
  end
  local function visit(d, off)
    if d == rank then cell(off); return end
    for _, i in ipairs(indices(d)) do if i then visit(d + 1, off + i * strides[d]) end end
  end
  if rank == 0 then
    return format_number(tonumber(ptr[0]), int, scale) .. "\n" .. desc
  end
  visit(0, 0)
  local lines = {}
  local function row(off)
    local parts = {}
    for _, j in ipairs(indices(rank - 1)) do
      parts[#parts + 1] = j and fmt("%" .. width .. "s", cell(off + j * strides[rank - 1])) or "..."
    end
    return " " .. table.concat(parts, " ")
  end
  local function matrix(off)
    if rank == 1 then
      -- a column, as Torch7 prints vectors
      for _, i in ipairs(indices(0)) do
        lines[#lines + 1] = i and fmt(" %" .. width .. "s", cell(off + i * strides[0])) or " ..."
      end
      return
    end
    for _, i in ipairs(indices(rank - 2)) do
      lines[#lines + 1] = i and row(off + i * strides[rank - 2]) or " ..."
    end
  end
  local function slices(d, off, prefix)
    if d == rank - 2 or rank <= 2 then
      if rank > 2 then lines[#lines + 1] = "(" .. prefix .. ",.,.) = " end
      matrix(off)
      if rank > 2 then lines[#lines + 1] = "" end
      return
    end
    for _, i in ipairs(indices(d)) do
      if i then slices(d + 1, off + i * strides[d], prefix == "" and tostring(i + 1) or prefix .. "," .. (i + 1))
      else lines[#lines + 1] = "(...)"; lines[#lines + 1] = "" end
    end
  end
  slices(0, 0, "")
  lines[#lines + 1] = desc
  return table.concat(lines, "\n")
end
Tensor.tostring = tensor_tostring

-- ------------------------------------------------------------ metatype

local function index_number(t, i)
  local c = t.c
  if c.rank == 1 then return t:get(i) end
  if c.rank == 0 then argerr("index", "a 0-d tensor cannot be indexed (use item())", 3) end
  if type(i) ~= "number" or i ~= floor(i) then argerr("index", "index must be an integer", 3) end
  local n = tonumber(c.sizes[0])
  local j = i < 0 and i + n + 1 or i
  if j < 1 or j > n then
    argerr("index", fmt("index %d out of range for dimension 1 of size %d", i, n), 3)
  end
  return result(C.gd_select(out1, c, 0, j - 1), "index")
end

local mt = {
  __index = function(t, k)
    local m = Tensor[k]
    if m ~= nil then return m end
    local g = getters[k]
    if g then return g(t) end
    if type(k) == "number" then return index_number(t, k) end
    return nil
  end,
  __newindex = function(t, k, v)
    if k == "grad" then return set_grad(t, v) end
    if type(k) == "number" then
      local c = t.c
      if c.rank == 1 then t:set(k, v); return end
      local row = index_number(t, k)
      if type(v) == "number" then row:fill_(v) else row:copy_(v) end
      return
    end
    argerr("tensor", fmt("cannot set field '%s' (tensors have no user fields; only grad is assignable)",
      tostring(k)), 2)
  end,
  __add = function(a, b) return binary("+", OP.add, a, b) end,
  __sub = function(a, b) return binary("-", OP.sub, a, b) end,
  __mul = function(a, b) return binary("*", OP.mul, a, b) end,
  __div = function(a, b) return binary("/", OP.div, a, b) end,
  __mod = function(a, b) return binary("%", OP.mod, a, b) end,
  __pow = function(a, b)
    if is_tensor(a) and type(b) == "number" then return unary("^", UN.pows, a, b) end
    if type(a) == "number" and is_tensor(b) then return unary("^", UN.rpows, b, a) end
    return binary("^", OP.pow, a, b)
  end,
  __unm = function(a) return unary("-", UN.neg, a) end,
  __len = function(t)
    local c = t.c
    if c.rank == 0 then argerr("#", "a 0-d tensor has no length", 2) end
    return tonumber(c.sizes[0])
  end,
  __eq = function(a, b)
    return is_tensor(a) and is_tensor(b) and a.c == b.c
  end,
  __tostring = tensor_tostring,
}
TensorCT = ffi.metatype("gdlua_tensor", mt)

-- method docs (a few lines each, for help())
local method_docs = {
  get = "t:get(i, j, ...) -> the element at 1-based indices (negative counts from the end).",
  set = "t:set(i, j, ..., value) -> t, with that element set.",
  item = "t:item() -> the number in a one-element tensor.",
  totable = "t:totable() -> nested Lua tables of the values.",
  view = "t:view(size...) -> a view with another shape (one size may be -1); errors if the strides do not allow it.",
  reshape = "t:reshape(size...) -> like view, but copies when it must.",
  transpose = "t:transpose(d1, d2) -> a view with two dimensions swapped.",
  t = "t:t() -> the transpose of a 2-D tensor (a view).",
  narrow = "t:narrow(dim, start, length) -> a view of `length` entries from 1-based start along dim.",
  select = "t:select(dim, index) -> a view with dimension dim fixed at index (one dimension fewer).",
  contiguous = "t:contiguous() -> t's values in C order: a view when already contiguous, else a copy.",
  clone = "t:clone() -> a contiguous copy.",
  to = "t:to(x) -> a copy in another dtype/device: x = \"float64\", \"cuda\", {dtype=, device=} or a tensor.",
  add = "t:add(x, [alpha]) -> t + alpha*x (x a tensor, number or table; broadcasting).",
  add_ = "t:add_(x, [alpha]) -> t, after t += alpha*x.",
  sub_ = "t:sub_(x, [alpha]) -> t, after t -= alpha*x.",
  mul_ = "t:mul_(x) -> t, after t *= x.",
  div_ = "t:div_(x) -> t, after t /= x.",
  copy_ = "t:copy_(src) -> t, with src's values (broadcast, converted, across devices).",
  fill_ = "t:fill_(v) -> t, every element set to v.",
  zero_ = "t:zero_() -> t, filled with zeros.",
  addcmul_ = "t:addcmul_(a, b, [value = 1]) -> t, after t += value*a*b.",
  addcdiv_ = "t:addcdiv_(a, b, [value = 1]) -> t, after t += value*a/b.",
  clamp = "t:clamp(min, max) -> values limited to [min, max] (either may be nil).",
  sum = "t:sum([dim], [keepdim]) -> the sum (a number), or a tensor reduced along dim.",
  mean = "t:mean([dim], [keepdim]) -> the mean.",
  max = "t:max() -> the largest value; t:max(dim) -> values, indices (1-based) along dim.",
  min = "t:min() -> the smallest value; t:min(dim) -> values, indices (1-based).",
  argmax = "t:argmax([dim]) -> 1-based position of the largest value (flat), or int64 indices along dim.",
  norm = "t:norm([p = 2], [dim]) -> the p-norm (p may be math.huge).",
  matmul = "t:matmul(x) -> the matrix product (see gd.matmul).",
  free = "t:free() -> releases the storage now; the tensor becomes empty.",
}
for k, text in pairs(method_docs) do doc(Tensor[k], "Tensor:" .. k, text) end
doc(Tensor, "gd.Tensor", [[
gd.Tensor: the tensor methods.  Fields: t.shape (a fresh table), t.dtype,
t.device, t.grad (nil or a tensor; assignable).  Methods: dim numel size get
set item totable view reshape t transpose permute narrow select expand
unsqueeze squeeze contiguous clone to add sub mul div pow sqrt exp log abs
neg clamp matmul sum mean max min argmax norm, in place: add_ sub_ mul_ div_
copy_ fill_ zero_ addcmul_ addcdiv_ clamp_ sqrt_ ...  Operators + - * / ^ %
and unary - broadcast like NumPy.  t[i] is a number on a 1-D tensor and a
view otherwise.]])

-- internals for other gd modules (optim, nn, serialize): not public API
gd._internal = {
  wrap = wrap, result = result, fail = fail, argerr = argerr, tc = tc, out1 = out1, out2 = out2,
  sbuf = sbuf, tbuf = tbuf, dbl = dbl, PTR = PTR, DTYPES = DTYPES, DTYPE_NAMES = DTYPE_NAMES,
  DEVICES = DEVICES, DEVICE_NAMES = DEVICE_NAMES, dtype_arg = dtype_arg, device_arg = device_arg,
  last_error = last_error, C = C, ffi = ffi, TensorCT = TensorCT, grads = grads,
}

return gd
