--- gd.tensor: the tensor type and its constructors (the core of `gd`).
--
-- A tensor is a small cdata struct holding a pointer to a C `gd_tensor`
-- (src/gd.h), which it owns through ffi.gc.  Every method is one FFI call into
-- libgd; C checks the arguments and returns a status, and a failure becomes a
-- Lua error "<method>: <what was wrong>" raised at the line of the caller
-- (gd.check.raise: the first stack frame outside gd's own files).  Indices and
-- dimensions are 1-based here (negative ones count from the end) and 0-based
-- in C.  Ctypes and out-parameter boxes are made once, at load time, so that
-- hot loops (`y:add_(x)`, `g:copy_(x):mul_(h)`) compile to traces that
-- allocate nothing.
--
-- libgd's memory is invisible to the Lua GC (a 100 MB tensor is an 8-byte
-- handle to it), so every new tensor asks libgd whether enough bytes were
-- allocated since the last collection to make a full one worthwhile
-- (gd_mem_collect_advised: a heap that doubles, with a floor of 64 MB or 4x
-- the Lua heap).  `t:free()` releases a tensor's storage at once.
local F = require "gd.ffi"
local doc = require "gd.doc"
local check = require "gd.check"
local ffi, C = F.ffi, F.C

check.register_internal()

ffi.cdef [[ typedef struct gdlua_tensor { gd_tensor *c; } gdlua_tensor; ]]

local gd = {}
local Tensor = {}          -- the methods; gd.Tensor, for completion and extension
gd.Tensor = Tensor

local floor, huge, abs = math.floor, math.huge, math.abs
local tonumber, tostring, type, select, error = tonumber, tostring, type, select, error
local fmt = string.format
local raise = check.raise

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
local INT64 = 2
gd.dtypes = {"float32", "float64", "int64"}

local OP = {add = 0, sub = 1, mul = 2, div = 3, pow = 4, mod = 5, maximum = 6, minimum = 7,
            eq = 8, ne = 9, lt = 10, le = 11, gt = 12, ge = 13}
local UN = {neg = 0, abs = 1, sqrt = 2, exp = 3, log = 4, square = 5, sign = 6, relu = 7, tanh = 8,
            sigmoid = 9, floor = 10, ceil = 11, round = 12, sin = 13, cos = 14, rsqrt = 15,
            reciprocal = 16, clamp = 17, pows = 18, rpows = 19, log1p = 20, expm1 = 21, softplus = 22}
local RED = {sum = 0, mean = 1, max = 2, min = 3, argmax = 4, argmin = 5, norm = 6, prod = 7,
             var = 8, std = 9, logsumexp = 10}

-- sizes, indices and counts are exact in a double up to 2^53 (libgd's limit too)
local MAX_SIZE = 2 ^ 53
-- int64 values a Lua number can hold: whole numbers in [-2^63, 2^63)
local INT64_LO, INT64_HI = -2 ^ 63, 2 ^ 63

-- --------------------------------------------------------------- errors

--- libgd's message for the last failure.  C messages often start with the C
-- function's own name ("view: ..."); the Lua function's name replaces it.
local function last_error()
  local msg = ffi.string(C.gd_last_error())
  return msg:match("^[%a_][%w_]*: (.*)$") or msg
end

--- Raises "<fname>: <msg>" at the caller of the public function.
local function argerr(fname, msg) raise(fname .. ": " .. msg) end

--- Raises "<fname>: <libgd's message>" at the caller of the public function.
local function fail(fname) raise(fname .. ": " .. last_error()) end

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

--- A full collection, when libgd advises one (see the top of the file).  Its
-- cost grows with the Lua heap, so the garbage allowed between collections
-- grows with it too: at least 4x the Lua heap (Lua's own collector lets its
-- garbage reach 1x), so that a big Lua heap does not make every 64 MB of
-- temporaries cost a traversal of it.
local function collect()
  collectgarbage()
  C.gd_mem_set_collect_floor(collectgarbage("count") * 4096)
end

--- Takes ownership of one reference to a C tensor and returns its Lua object.
local function wrap(c)
  local t = ffi.gc(TensorCT(c), finalize)
  if C.gd_mem_collect_advised() ~= 0 then collect() end
  return t
end

--- For functions that fill out1: the new tensor, or an error naming fname.
local function result(st, fname)
  if st ~= 0 then fail(fname) end
  return wrap(out1[0])
end

local function is_tensor(v) return ffi.istype(TensorCT, v) end
gd.is_tensor = doc(is_tensor, "gd.is_tensor", [[
gd.is_tensor(v) -> true when v is a gd tensor.]])

--- The C pointer of `self`; an error when a method is called on something
-- else (typically t.add(x) written for t:add(x)).
local function self_c(fname, t)
  if is_tensor(t) then return t.c end
  argerr(fname, fmt("expects a tensor as self, got %s (call it as t:%s(...))", type(t), fname))
end

--- The C pointer of a tensor argument, or an error naming the argument.
local function tc(fname, v, what)
  if is_tensor(v) then return v.c end
  argerr(fname, fmt("%s must be a tensor, got %s", what or "argument", type(v)))
end

-- -------------------------------------------------------- argument parsing

--- A short description of an argument for messages: numbers and strings as
-- themselves, anything else by its kind (a tensor would print its values).
local function describe(v)
  if type(v) == "number" then return fmt("%.14g", v) end
  if type(v) == "string" then return "'" .. v .. "'" end
  if is_tensor(v) then return "a tensor" end
  return type(v) == "nil" and "nil" or "a " .. type(v)
end

local function dtype_arg(fname, v, default)
  if v == nil then return default end
  local d = DTYPES[v]
  if not d then argerr(fname, check.unknown_message("dtype", v, gd.dtypes)) end
  return d
end

local function device_arg(fname, v, default)
  if v == nil then return default end
  local d = DEVICES[v]
  if not d then argerr(fname, check.unknown_message("device", v, {"cpu", "cuda"})) end
  return d
end

--- One size: a whole number in [0, 2^53].
local function size_arg(fname, s, i)
  if type(s) ~= "number" then
    argerr(fname, fmt("size %d must be a number, got %s", i, type(s)))
  end
  if s ~= floor(s) or s < 0 or s > MAX_SIZE then
    argerr(fname, fmt("size %s of dimension %d is not a whole number from 0 to 2^53", describe(s), i))
  end
  return s
end

local CTOR_OPTS = {dtype = true, device = true, requires_grad = true}

--- Sizes and options from gd.zeros-style arguments: (n, m, ..., [opts]) or
-- ({n, m, ...}, [opts]).  Fills sbuf; returns rank, opts.
local function shape_args(fname, ...)
  local n = select("#", ...)
  local first = ...
  local opts, sizes
  if type(first) == "table" then
    sizes = first
    opts = select(2, ...)
    if n > 2 then argerr(fname, "too many arguments after the shape table") end
  else
    sizes = {}
    for i = 1, n do
      local v = select(i, ...)
      if type(v) == "number" then
        sizes[#sizes + 1] = v
      elseif i == n and (type(v) == "table" or (v == nil and i > 1)) then
        opts = v -- (a lone nil is a missing size, not missing options)
      else
        argerr(fname, fmt("argument %d must be a size (a number) or the options table, got %s", i, type(v)))
      end
    end
  end
  local rank = #sizes
  if rank > 8 then argerr(fname, fmt("%d dimensions requested, at most 8 are supported", rank)) end
  for i = 1, rank do sbuf[i - 1] = size_arg(fname, sizes[i], i) end
  for k in pairs(sizes) do
    if type(k) ~= "number" or k < 1 or k > rank or k ~= floor(k) then
      argerr(fname, "the shape table must be a list of sizes")
    end
  end
  return rank, check.options(fname, opts, CTOR_OPTS)
end

local function new_empty(fname, rank, dtype, device)
  return result(C.gd_empty(out1, rank, sbuf, dtype, device), fname)
end

--- t, a leaf that requires grad when opts.requires_grad says so (float only).
local function grad_opt(fname, t, opts)
  local rg = opts.requires_grad
  if rg == nil or rg == false then return t end
  if rg ~= true then argerr(fname, "option 'requires_grad' must be a boolean, got " .. describe(rg)) end
  if C.gd_set_requires_grad(t.c, 1) ~= 0 then fail(fname) end
  return t
end

--- Sizes from (n, m, ...) or ({n, m, ...}) into sbuf, -1 allowed; returns the count.
local function sizes_from(fname, a, ...)
  local sizes = a
  if type(a) ~= "table" then sizes = {a, ...} end
  local n = #sizes
  if n > 8 then argerr(fname, "at most 8 dimensions are supported") end
  for i = 1, n do
    local s = sizes[i]
    if type(s) ~= "number" then argerr(fname, fmt("size %d must be a number, got %s", i, describe(s))) end
    if s ~= floor(s) or s < -1 or s > MAX_SIZE then
      argerr(fname, fmt("size %s of dimension %d is not a whole number from 0 to 2^53 (or -1)", describe(s), i))
    end
    sbuf[i - 1] = s
  end
  return n
end

--- A 1-based dimension (negative counts from the end) as 0-based; `extra`
-- widens the range (unsqueeze can insert after the last dimension).
local function dim0(fname, c, d, extra)
  local r = c.rank + (extra or 0)
  if type(d) ~= "number" then argerr(fname, "dimension must be an integer, got " .. describe(d)) end
  if d ~= floor(d) then argerr(fname, fmt("dimension %s is not an integer", describe(d))) end
  local given = d
  if d < 0 then d = d + r + 1 end
  if d < 1 or d > r then
    argerr(fname, fmt("dimension %s out of range (the tensor has %d dimension%s)", describe(given), c.rank,
      c.rank == 1 and "" or "s"))
  end
  return d - 1
end

--- 0-based position of a 1-based index on dimension d (negative from the end).
local function index0(fname, c, d, i)
  local n = tonumber(c.sizes[d])
  if type(i) ~= "number" or i ~= floor(i) then
    argerr(fname, fmt("index %s for dimension %d is not an integer", describe(i), d + 1))
  end
  local j = i < 0 and i + n + 1 or i
  if j < 1 or j > n then
    argerr(fname, fmt("index %s out of range for dimension %d of size %d", describe(i), d + 1, n))
  end
  return j - 1
end

local function not_freed(fname, c)
  if c.is_freed ~= 0 then argerr(fname, "the tensor was released with free()") end
end

--- A number stored into an int64 tensor: a whole number in range.
local function int64_value(fname, v)
  if v ~= floor(v) or v ~= v then
    argerr(fname, fmt("value %s is not an integer, and the tensor is int64", tostring(v)))
  end
  if v < INT64_LO or v >= INT64_HI then argerr(fname, fmt("value %s does not fit in int64", tostring(v))) end
  return v
end

-- -------------------------------------------------------- nested tables

--- Shape of a (rectangular) nested table of numbers and booleans; errors name
-- the first ragged row or bad element.
local function table_shape(fname, data)
  local shape = {}
  local t = data
  while type(t) == "table" do
    shape[#shape + 1] = #t
    if #shape > 8 then argerr(fname, "more than 8 levels of nesting") end
    if #t == 0 then break end
    t = t[1]
  end
  local rank = #shape
  local function walk(x, d, path)
    if d > rank then
      if type(x) ~= "number" and type(x) ~= "boolean" then
        argerr(fname, fmt("element %s is a %s, not a number", path, type(x)))
      end
      return
    end
    if type(x) ~= "table" then
      argerr(fname, fmt("element %s is a %s where a table of %d was expected (ragged nesting)", path,
        type(x), shape[d]))
    end
    if #x ~= shape[d] then
      argerr(fname, fmt("row %s has %d elements, but the first row at this level has %d", path, #x, shape[d]))
    end
    for i = 1, #x do walk(x[i], d + 1, path == "" and tostring(i) or path .. "," .. i) end
  end
  walk(data, 1, "")
  return shape
end

--- Flattens nested rows into a Lua array (booleans as 1/0).
local function flatten(data, depth, rank, out)
  if depth > rank then
    if data == true then data = 1 elseif data == false then data = 0 end
    out[#out + 1] = data
    return
  end
  for i = 1, #data do flatten(data[i], depth + 1, rank, out) end
end

--- A new CPU tensor from a number or a nested table.  dtype nil: float32, or
-- (promote) float32 when int64 was asked for but some value is not a whole
-- number (the rule for table operands next to an int64 tensor).
local function from_data(fname, data, dtype, promote)
  local shape, flat
  if type(data) == "number" or type(data) == "boolean" then
    shape = {}
    flat = {data == true and 1 or data == false and 0 or data}
  elseif type(data) == "table" then
    shape = table_shape(fname, data)
    flat = {}
    flatten(data, 1, #shape, flat)
  else
    argerr(fname, "data must be a number, a (nested) table of numbers or a tensor, got " .. type(data))
  end
  if dtype == INT64 then
    for i = 1, #flat do
      local v = flat[i]
      if v ~= floor(v) or v ~= v or v < INT64_LO or v >= INT64_HI then
        if promote then dtype = 0; break end
        int64_value(fname, v)
      end
    end
  end
  for i = 1, #shape do sbuf[i - 1] = shape[i] end
  local t = new_empty(fname, #shape, dtype, 0)
  local ptr = ffi.cast(PTR[dtype], t.c.data)
  for i = 1, #flat do ptr[i - 1] = flat[i] end
  return t
end

-- ------------------------------------------------------------ constructors

gd.tensor = doc(function(data, opts)
  local fname = "gd.tensor"
  opts = check.options(fname, opts, CTOR_OPTS)
  local dtype = dtype_arg(fname, opts.dtype, nil)
  local device = device_arg(fname, opts.device, nil)
  if is_tensor(data) then
    local c = data.c
    -- a new leaf: the copy is not recorded (PyTorch's torch.tensor(t) detaches)
    local was = C.gd_set_grad_enabled(0)
    local st
    if dtype == nil and device == nil then st = C.gd_clone(out1, c)
    else st = C.gd_to(out1, c, dtype or -1, device or -1) end
    C.gd_set_grad_enabled(was)
    local r = result(st, fname)
    -- gd_to hands back a view when nothing changes; gd.tensor always copies
    if C.gd_same_storage(r.c, c) ~= 0 then r = result(C.gd_clone(out1, r.c), fname) end
    return grad_opt(fname, r, opts)
  end
  local t = from_data(fname, data, dtype or 0, false)
  if device ~= nil and device ~= 0 then t = result(C.gd_to(out1, t.c, -1, device), fname) end
  return grad_opt(fname, t, opts)
end, "gd.tensor", [[
gd.tensor(data, [{dtype = "float32", device = "cpu"}]) -> a new tensor.
  data: a number or boolean (a 0-d tensor), a nested table of numbers (its
  nesting gives the shape; rows must be rectangular; booleans are 1 and 0), or
  a tensor (always copied, converted to the dtype/device asked for).
  int64 refuses values that are not whole numbers instead of truncating them.
  gd.tensor({{1, 2}, {3, 4}}, {dtype = "float64"})]])

local function filled(fname, value, ...)
  local rank, opts = shape_args(fname, ...)
  local dtype = dtype_arg(fname, opts.dtype, 0)
  if value ~= nil and dtype == INT64 then int64_value(fname, value) end
  local t = new_empty(fname, rank, dtype, device_arg(fname, opts.device, 0))
  if value ~= nil and C.gd_fill(t.c, value) ~= 0 then fail(fname) end
  return grad_opt(fname, t, opts)
end

gd.empty = doc(function(...) return filled("gd.empty", nil, ...) end, "gd.empty", [[
gd.empty(size..., [opts]) -> a tensor whose values are not initialised (on the
CPU: whatever the memory held).  Sizes as numbers or one table:
gd.empty(3, 4), gd.empty({3, 4}, {dtype = "float64"}).  opts: dtype
("float32" default | "float64" | "int64"), device ("cpu" default | "cuda").
No sizes at all make a 0-d (scalar) tensor.]])
gd.zeros = doc(function(...) return filled("gd.zeros", 0, ...) end, "gd.zeros", [[
gd.zeros(size..., [opts]) -> a tensor of zeros.  gd.zeros(3, 4, {dtype = "float64"})
or gd.zeros({3, 4}).  opts: dtype ("float32" default | "float64" | "int64"),
device ("cpu" default | "cuda").]])
gd.ones = doc(function(...) return filled("gd.ones", 1, ...) end, "gd.ones", [[
gd.ones(size..., [opts]) -> a tensor of ones (sizes and opts as gd.zeros).]])

gd.full = doc(function(...)
  local fname = "gd.full"
  local n = select("#", ...)
  local args = {...}
  if type(args[1]) == "table" then
    if n > 3 then argerr(fname, "too many arguments: gd.full({sizes}, value, [opts])") end
    local value = args[2]
    if type(value) ~= "number" then argerr(fname, "the fill value must be a number, got " .. type(value)) end
    return filled(fname, value, args[1], args[3])
  end
  local opts
  if n > 0 and type(args[n]) == "table" then opts = args[n]; n = n - 1 end
  local value = args[n]
  if type(value) ~= "number" then argerr(fname, "the fill value must be a number, got " .. type(value)) end
  local sizes = {}
  for i = 1, n - 1 do
    if type(args[i]) ~= "number" then argerr(fname, fmt("size %d must be a number, got %s", i, type(args[i]))) end
    sizes[i] = args[i]
  end
  return filled(fname, value, sizes, opts)
end, "gd.full", [[
gd.full(size..., value, [opts]) -> a tensor filled with value.
  gd.full(2, 3, 7.5) or gd.full({2, 3}, 7.5, {dtype = "float64"}); gd.full(7.5)
  is a 0-d tensor.]])

local function like(fname, t, value, opts)
  local c = tc(fname, t, "argument 1")
  opts = check.options(fname, opts, CTOR_OPTS)
  local shape = {}
  for d = 0, c.rank - 1 do shape[d + 1] = tonumber(c.sizes[d]) end
  return filled(fname, value, shape, {dtype = opts.dtype or DTYPE_NAMES[c.scalar_type],
                                      device = opts.device or DEVICE_NAMES[c.device_kind],
                                      requires_grad = opts.requires_grad})
end
gd.zeros_like = doc(function(t, opts) return like("gd.zeros_like", t, 0, opts) end, "gd.zeros_like",
  "gd.zeros_like(t, [opts]) -> zeros with t's shape, and t's dtype and device unless opts say otherwise.")
gd.ones_like = doc(function(t, opts) return like("gd.ones_like", t, 1, opts) end, "gd.ones_like",
  "gd.ones_like(t, [opts]) -> ones with t's shape, dtype and device (opts may override the last two).")
gd.empty_like = doc(function(t, opts) return like("gd.empty_like", t, nil, opts) end, "gd.empty_like",
  "gd.empty_like(t, [opts]) -> an uninitialised tensor with t's shape, dtype and device.")
gd.full_like = doc(function(t, value, opts)
  if type(value) ~= "number" then argerr("gd.full_like", "the fill value must be a number, got " .. type(value)) end
  return like("gd.full_like", t, value, opts)
end, "gd.full_like", "gd.full_like(t, value, [opts]) -> a tensor of t's shape, dtype and device filled with value.")

gd.arange = doc(function(a, b, c, d)
  local fname = "gd.arange"
  local start, stop, step, opts
  if type(b) ~= "number" then start, stop, step, opts = 0, a, 1, b
  elseif type(c) ~= "number" then start, stop, step, opts = a, b, 1, c
  else start, stop, step, opts = a, b, c, d end
  check.number(fname, "start", start, {finite = true})
  check.number(fname, "end", stop, {finite = true})
  check.number(fname, "step", step, {finite = true})
  if step == 0 then argerr(fname, "step must not be 0") end
  if (stop - start) / step < 0 then
    argerr(fname, fmt("step %s does not lead from %s to %s", tostring(step), tostring(start), tostring(stop)))
  end
  opts = check.options(fname, opts, CTOR_OPTS)
  local n = math.ceil((stop - start) / step)
  if n > MAX_SIZE then argerr(fname, fmt("%s elements are too many", tostring(n))) end
  sbuf[0] = n
  local t = new_empty(fname, 1, dtype_arg(fname, opts.dtype, 0), device_arg(fname, opts.device, 0))
  if C.gd_fill_range(t.c, start, step) ~= 0 then fail(fname) end
  return grad_opt(fname, t, opts)
end, "gd.arange", [[
gd.arange([start = 0,] end, [step = 1,] [opts]) -> 1-D tensor start, start+step, ...
  up to but excluding end (PyTorch's arange; float32 unless opts.dtype says
  otherwise).  gd.arange(5) is 0, 1, 2, 3, 4.]])

gd.linspace = doc(function(start, stop, n, opts)
  local fname = "gd.linspace"
  check.number(fname, "start", start, {finite = true})
  check.number(fname, "end", stop, {finite = true})
  check.number(fname, "steps", n, {integer = true, min = 0, max = MAX_SIZE})
  opts = check.options(fname, opts, CTOR_OPTS)
  sbuf[0] = n
  local t = new_empty(fname, 1, dtype_arg(fname, opts.dtype, 0), device_arg(fname, opts.device, 0))
  local step = n > 1 and (stop - start) / (n - 1) or 0
  if C.gd_fill_range(t.c, start, step) ~= 0 then fail(fname) end
  if n > 1 then
    -- the end point exactly, as NumPy does
    sbuf[0] = n - 1
    if C.gd_set(t.c, sbuf, stop) ~= 0 then fail(fname) end
  end
  return grad_opt(fname, t, opts)
end, "gd.linspace", [[
gd.linspace(start, end, steps, [opts]) -> 1-D tensor of `steps` evenly spaced
values from start to end, both included.]])

local function random_ctor(fname, kind, ...)
  local rank, opts = shape_args(fname, ...)
  local dtype = dtype_arg(fname, opts.dtype, 0)
  if dtype == INT64 then argerr(fname, "dtype int64 is not supported (random numbers are floating point)") end
  local t = new_empty(fname, rank, dtype, device_arg(fname, opts.device, 0))
  if C.gd_random_(t.c, kind, 0, 1) ~= 0 then fail(fname) end
  return grad_opt(fname, t, opts)
end
gd.rand = doc(function(...) return random_ctor("gd.rand", 0, ...) end, "gd.rand", [[
gd.rand(size..., [opts]) -> uniform numbers in [0, 1) from the global Philox
4x32-10 generator (gd.manual_seed).  Element i depends only on the seed, the
generator's position and i: the same seed gives the same numbers on any
device and with any number of threads.  opts: dtype (float32 | float64), device.]])
gd.randn = doc(function(...) return random_ctor("gd.randn", 1, ...) end, "gd.randn", [[
gd.randn(size..., [opts]) -> standard normal numbers (Box-Muller on Philox
4x32-10; reproducible as gd.rand).]])

--- A seed: a whole number in [0, 2^53], or a uint64/int64 cdata.
local function seed_arg(fname, seed)
  if type(seed) == "cdata" and (ffi.istype("uint64_t", seed) or ffi.istype("int64_t", seed)) then return seed end
  return check.number(fname, "seed", seed, {integer = true, min = 0, max = MAX_SIZE})
end

gd.manual_seed = doc(function(seed)
  C.gd_manual_seed(seed_arg("gd.manual_seed", seed))
end, "gd.manual_seed", [[
gd.manual_seed(seed) -> seeds the global generator and resets its position,
so that what follows (gd.rand, gd.randn, uniform_, normal_, gd.randperm)
repeats exactly.  seed: a whole number from 0 to 2^53 (or a uint64 cdata).]])

gd.rng_state = doc(function()
  C.gd_rng_get_state(u64a, u64b)
  return {seed = u64a[0] < 2 ^ 53 and tonumber(u64a[0]) or u64a[0] + 0ULL, offset = tonumber(u64b[0])}
end, "gd.rng_state", [[
gd.rng_state() -> {seed = ..., offset = ...}: the global generator's seed and
position, for checkpoints (gd.set_rng_state restores it).]])

gd.set_rng_state = doc(function(s)
  local fname = "gd.set_rng_state"
  if type(s) ~= "table" then argerr(fname, "expects the table gd.rng_state() returned, got " .. type(s)) end
  local seed = seed_arg(fname, s.seed)
  check.number(fname, "offset", s.offset, {integer = true, min = 0, max = MAX_SIZE})
  C.gd_rng_set_state(seed, s.offset)
end, "gd.set_rng_state", "gd.set_rng_state(state) restores what gd.rng_state() returned.")

gd.randperm = doc(function(n, opts)
  local fname = "gd.randperm"
  check.number(fname, "n", n, {integer = true, min = 0, max = MAX_SIZE})
  opts = check.options(fname, opts, {seed = true, offset = true})
  sbuf[0] = n
  local t = new_empty(fname, 1, INT64, 0)
  local seed, offset = opts.seed, opts.offset or 0
  if seed == nil then
    -- from the global generator, which then moves past the blocks used
    C.gd_rng_get_state(u64a, u64b)
    seed, offset = u64a[0], u64b[0]
    C.gd_rng_set_state(u64a[0], u64b[0] + math.ceil(n / 2))
  else
    seed = seed_arg(fname, seed)
    check.number(fname, "offset", offset, {integer = true, min = 0, max = MAX_SIZE})
  end
  if C.gd_randperm_(t.c, seed, offset) ~= 0 then fail(fname) end
  return t:add_(1)
end, "gd.randperm", [[
gd.randperm(n, [{seed = s, offset = 0}]) -> int64 tensor holding a random
permutation of 1..n (1-based, for indexing).  With a seed, the global generator
is left untouched.]])

gd.set_num_threads = doc(function(n)
  check.number("gd.set_num_threads", "n", n, {integer = true, max = 256})
  C.gd_set_num_threads(n)
end, "gd.set_num_threads", [[
gd.set_num_threads(n): OpenMP threads for large loops (n <= 0: one per
processor; at most 256).  Results do not depend on it: reductions use fixed
blocks and random numbers are counter-based.]])
gd.get_num_threads = doc(function() return C.gd_get_num_threads() end, "gd.get_num_threads",
  "gd.get_num_threads() -> the number of threads large loops use.")
gd.cuda_available = doc(function()
  local ok = C.gd_cuda_available() ~= 0
  return ok, (not ok) and last_error() or nil
end, "gd.cuda_available", "gd.cuda_available() -> true, or false and the reason no GPU can be used.")
gd.synchronize = doc(function()
  if C.gd_cuda_available() ~= 0 and C.gd_synchronize(1) ~= 0 then fail("gd.synchronize") end
end, "gd.synchronize", "gd.synchronize(): waits for queued GPU work (a no-op without a GPU).")
gd.memory = doc(function()
  return {cpu = tonumber(C.gd_mem_live_bytes(0)), cuda = tonumber(C.gd_mem_live_bytes(1))}
end, "gd.memory", "gd.memory() -> {cpu = bytes, cuda = bytes} of live tensor storage.")

-- gd.cuda: torch.cuda's names for the calls above.  Without a GPU they answer
-- as PyTorch's do: is_available() false, device_count() 0,
-- memory_allocated() 0, synchronize() an error saying why.
local cuda = {}
gd.cuda = doc(cuda, "gd.cuda", [[
gd.cuda: the GPU, with torch.cuda's names: is_available(), device_count(),
synchronize(), memory_allocated(), manual_seed(seed), manual_seed_all(seed).
(gd.cuda_available(), gd.synchronize() and gd.memory() are the older names.)
t:cuda() and {device = "cuda"} put tensors there.]])
cuda.is_available = doc(function() return C.gd_cuda_available() ~= 0 end, "gd.cuda.is_available",
  "gd.cuda.is_available() -> true when a CUDA GPU can be used (gd.cuda_available() also says why not).")
cuda.device_count = doc(function() return C.gd_cuda_device_count() end, "gd.cuda.device_count",
  "gd.cuda.device_count() -> the number of CUDA GPUs (0 without one).")
cuda.synchronize = doc(function()
  if C.gd_synchronize(1) ~= 0 then fail("gd.cuda.synchronize") end
end, "gd.cuda.synchronize", [[
gd.cuda.synchronize(): waits for queued GPU work; an error without a GPU, as
torch.cuda.synchronize() (gd.synchronize() is the no-op-without-GPU form).]])
cuda.memory_allocated = doc(function(device)
  if device ~= nil and device ~= 0 and device ~= "cuda" and device ~= "cuda:0" then
    argerr("gd.cuda.memory_allocated", fmt("device must be 0, 'cuda' or 'cuda:0' (gdlua uses one GPU), got %s",
      describe(device)))
  end
  return tonumber(C.gd_mem_live_bytes(1))
end, "gd.cuda.memory_allocated", [[
gd.cuda.memory_allocated([device]) -> bytes of live tensor storage on the GPU
(0 without one).]])
cuda.manual_seed = doc(function(seed)
  C.gd_manual_seed(seed_arg("gd.cuda.manual_seed", seed))
end, "gd.cuda.manual_seed", [[
gd.cuda.manual_seed(seed): seeds the generator GPU draws come from.  gdlua has
one counter-based generator for every device (the same seed gives the same
numbers on CPU and GPU), so this is gd.manual_seed(seed), with or without a GPU.]])
cuda.manual_seed_all = doc(function(seed)
  C.gd_manual_seed(seed_arg("gd.cuda.manual_seed_all", seed))
end, "gd.cuda.manual_seed_all", "gd.cuda.manual_seed_all(seed) -> gd.cuda.manual_seed(seed) (one generator).")
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
  requires_grad = function(t) return t.c.requires_grad ~= 0 end,
  is_leaf = function(t) return t.c.grad_node == 0 end,
  grad = function(t)
    local c = t.c
    local gc = c.gradient
    if gc == nil then return nil end
    local uid = tonumber(c.uid)
    local g = grads[uid]
    if g == nil or g.c ~= gc then
      -- set in C (an optimizer, a kernel): give it a Lua object of its own
      C.gd_tensor_retain(gc)
      g = wrap(gc)
      grads[uid] = g
    end
    return g
  end,
}

local function set_grad(t, g)
  local c = t.c
  if g == nil then
    C.gd_tensor_set_grad(c, nil)
    grads[tonumber(c.uid)] = nil
    return
  end
  if not is_tensor(g) then argerr("grad", "must be a tensor or nil, got " .. type(g)) end
  if C.gd_tensor_set_grad(c, g.c) ~= 0 then fail("grad") end
  grads[tonumber(c.uid)] = g
end

-- ------------------------------------------------------ element access

function Tensor.get(t, i, j, ...)
  local fname = "get"
  local c = self_c(fname, t)
  not_freed(fname, c)
  local n = select("#", ...)
  local rank = c.rank
  local given = (i ~= nil and 1 or 0) + (j ~= nil and 1 or 0) + n
  if given ~= rank or (i == nil and rank > 0) or (j == nil and rank > 1) then
    argerr(fname, fmt("%d indices given for a %d-dimensional tensor", given, rank))
  end
  local off = 0
  if rank >= 1 then off = index0(fname, c, 0, i) * c.strides[0] end
  if rank >= 2 then off = off + index0(fname, c, 1, j) * c.strides[1] end
  for d = 2, rank - 1 do off = off + index0(fname, c, d, (select(d - 1, ...))) * c.strides[d] end
  if c.device_kind == 0 then
    local v = ffi.cast(PTR[c.scalar_type], c.data)[off]
    if c.scalar_type == INT64 then return tonumber(v) end
    return v
  end
  -- other devices: through C
  if rank >= 1 then ibuf[0] = index0(fname, c, 0, i) end
  if rank >= 2 then ibuf[1] = index0(fname, c, 1, j) end
  for d = 2, rank - 1 do ibuf[d] = index0(fname, c, d, (select(d - 1, ...))) end
  if C.gd_get(c, ibuf, dbl) ~= 0 then fail(fname) end
  return dbl[0]
end

function Tensor.set(t, ...)
  local fname = "set"
  local c = self_c(fname, t)
  not_freed(fname, c)
  local n = select("#", ...)
  local rank = c.rank
  if n == 0 then argerr(fname, "expects the indices, then the value") end
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
  local st = c.scalar_type
  if st == INT64 then int64_value(fname, value) end
  if c.device_kind == 0 then
    C.gd_tensor_bump_version(c) -- (what autograd checks saved tensors against)
    ffi.cast(PTR[st], c.data)[off] = value
    return t
  end
  for d = 0, rank - 1 do ibuf[d] = index0(fname, c, d, (select(d + 1, ...))) end
  if C.gd_set(c, ibuf, value) ~= 0 then fail(fname) end
  return t
end

function Tensor.item(t)
  local c = self_c("item", t)
  not_freed("item", c)
  if c.count ~= 1 then
    argerr("item", fmt("the tensor has %d elements; item() needs exactly one", tonumber(c.count)))
  end
  for d = 0, c.rank - 1 do ibuf[d] = 0 end
  if C.gd_get(c, ibuf, dbl) ~= 0 then fail("item") end
  return dbl[0]
end

--- t itself when it is a contiguous CPU tensor, else a contiguous CPU copy.
local function cpu_contiguous(t, fname)
  local c = t.c
  if c.device_kind == 0 and c.is_contiguous ~= 0 then return t end
  local r = result(C.gd_to(out1, c, -1, 0), fname)
  return result(C.gd_contiguous(out1, r.c), fname)
end

function Tensor.totable(t)
  local c0 = self_c("totable", t)
  not_freed("totable", c0)
  local src = cpu_contiguous(t, "totable")
  local c = src.c
  local ptr = ffi.cast(PTR[c.scalar_type], c.data)
  local rank = c.rank
  local int = c.scalar_type == INT64
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

--- A method taking sizes (n, m, ...) or ({n, m, ...}) for a C view function
-- f(out, t, rank, sizes): view, reshape, expand.
local function sized_view(name, f)
  return function(t, ...)
    local c = self_c(name, t)
    local n = sizes_from(name, ...)
    return result(f(out1, c, n, sbuf), name)
  end
end

--- A method taking another tensor's shape for the same kind of C function.
local function shaped_like(name, f)
  return function(t, other)
    local c = self_c(name, t)
    local o = tc(name, other, "argument 1")
    return result(f(out1, c, o.rank, o.sizes), name)
  end
end

Tensor.view = sized_view("view", C.gd_view)
Tensor.reshape = sized_view("reshape", C.gd_reshape)
Tensor.expand = sized_view("expand", C.gd_expand)
Tensor.view_as = shaped_like("view_as", C.gd_view)
Tensor.expand_as = shaped_like("expand_as", C.gd_expand)

function Tensor.flatten(t)
  local c = self_c("flatten", t)
  sbuf[0] = -1
  return result(C.gd_reshape(out1, c, 1, sbuf), "flatten")
end

function Tensor.transpose(t, d1, d2)
  local c = self_c("transpose", t)
  return result(C.gd_transpose(out1, c, dim0("transpose", c, d1), dim0("transpose", c, d2)), "transpose")
end

function Tensor.t(t)
  local c = self_c("t", t)
  if c.rank > 2 then argerr("t", fmt("expects a tensor with at most 2 dimensions, got %d", c.rank)) end
  if c.rank < 2 then return result(C.gd_view(out1, c, c.rank, c.sizes), "t") end
  return result(C.gd_transpose(out1, c, 0, 1), "t")
end

function Tensor.permute(t, a, ...)
  local c = self_c("permute", t)
  local dims = type(a) == "table" and a or {a, ...}
  if #dims ~= c.rank then
    argerr("permute", fmt("%d dimensions given for a tensor with %d", #dims, c.rank))
  end
  for i = 1, #dims do dims_buf[i - 1] = dim0("permute", c, dims[i]) end
  return result(C.gd_permute(out1, c, #dims, dims_buf), "permute")
end

function Tensor.narrow(t, dim, start, len)
  local c = self_c("narrow", t)
  local d = dim0("narrow", c, dim)
  check.number("narrow", "start", start, {integer = true})
  check.number("narrow", "length", len, {integer = true, min = 0, max = MAX_SIZE})
  local size = tonumber(c.sizes[d])
  if start < 0 then start = start + size + 1 end
  if start < 1 or start - 1 + len > size then
    argerr("narrow", fmt("elements %s to %s are out of range for dimension %d of size %d", tostring(start),
      tostring(start + len - 1), d + 1, size))
  end
  return result(C.gd_narrow(out1, c, d, start - 1, len), "narrow")
end

function Tensor.select(t, dim, index)
  local c = self_c("select", t)
  local d = dim0("select", c, dim)
  return result(C.gd_select(out1, c, d, index0("select", c, d, index)), "select")
end


function Tensor.unsqueeze(t, dim)
  local c = self_c("unsqueeze", t)
  return result(C.gd_unsqueeze(out1, c, dim0("unsqueeze", c, dim, 1)), "unsqueeze")
end

function Tensor.squeeze(t, dim)
  local c = self_c("squeeze", t)
  return result(C.gd_squeeze(out1, c, dim == nil and -1 or dim0("squeeze", c, dim)), "squeeze")
end

function Tensor.contiguous(t) return result(C.gd_contiguous(out1, self_c("contiguous", t)), "contiguous") end
function Tensor.clone(t) return result(C.gd_clone(out1, self_c("clone", t)), "clone") end
function Tensor.is_contiguous(t) return self_c("is_contiguous", t).is_contiguous ~= 0 end

local TO_OPTS = {dtype = true, device = true}
function Tensor.to(t, x)
  local fname = "to"
  local c = self_c(fname, t)
  local dtype, device = -1, -1
  if type(x) == "string" then
    if DTYPES[x] then dtype = DTYPES[x]
    elseif DEVICES[x] then device = DEVICES[x]
    else
      local s = check.suggest(x, {"float32", "float64", "int64", "cpu", "cuda"})
      argerr(fname, fmt("unknown dtype or device '%s'%s; valid: float32, float64, int64, cpu, cuda", x,
        s and fmt(" (did you mean '%s'?)", s) or ""))
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
  return result(C.gd_to(out1, c, dtype, device), fname)
end
function Tensor.float(t) return result(C.gd_to(out1, self_c("float", t), 0, -1), "float") end
function Tensor.double(t) return result(C.gd_to(out1, self_c("double", t), 1, -1), "double") end
function Tensor.long(t) return result(C.gd_to(out1, self_c("long", t), 2, -1), "long") end
function Tensor.cpu(t) return result(C.gd_to(out1, self_c("cpu", t), -1, 0), "cpu") end
function Tensor.cuda(t) return result(C.gd_to(out1, self_c("cuda", t), -1, 1), "cuda") end

--- Torch7's set_: makes t a view of src's storage (offset 1-based, in elements).
function Tensor.set_(t, src, offset, sizes, strides)
  local fname = "set_"
  local c = self_c(fname, t)
  local s = tc(fname, src, "argument 1 (source)")
  offset = offset or 1
  check.number(fname, "offset", offset, {integer = true, min = 1, max = MAX_SIZE})
  local rank
  if sizes == nil then
    rank = s.rank
    for d = 0, rank - 1 do sbuf[d] = s.sizes[d]; tbuf[d] = s.strides[d] end
  else
    rank = sizes_from(fname, sizes)
    for d = 0, rank - 1 do if sbuf[d] < 0 then argerr(fname, "sizes must not be negative") end end
    if strides ~= nil then
      if type(strides) ~= "table" or #strides ~= rank then
        argerr(fname, fmt("strides must be a table of %d numbers", rank))
      end
      for d = 0, rank - 1 do
        local v = strides[d + 1]
        if type(v) ~= "number" or v ~= floor(v) or v < 0 or v > MAX_SIZE then
          argerr(fname, fmt("stride %s of dimension %d is not a whole number from 0 to 2^53", tostring(v), d + 1))
        end
        tbuf[d] = v
      end
    else
      local acc = 1
      for d = rank - 1, 0, -1 do tbuf[d] = acc; acc = acc * tonumber(sbuf[d]) end
    end
  end
  if C.gd_set_storage(c, s, offset - 1, rank, sbuf, tbuf) ~= 0 then fail(fname) end
  return t
end

function Tensor.storage_offset(t) return tonumber(self_c("storage_offset", t).storage_offset) + 1 end
function Tensor.is_same_storage(t, other)
  return C.gd_same_storage(self_c("is_same_storage", t), tc("is_same_storage", other, "argument 1")) ~= 0
end

function Tensor.index_select(t, dim, index)
  local fname = "index_select"
  local c = self_c(fname, t)
  local d = dim0(fname, c, dim)
  if type(index) == "table" and not is_tensor(index) then index = from_data(fname, index, INT64, false) end
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
  if dim == nil then dim = 1 end
  local d = dim0(fname, arr[0], dim)
  return result(C.gd_cat(out1, arr, #list, d), fname)
end, "gd.cat", [[
gd.cat({t1, t2, ...}, [dim = 1]) -> the tensors joined along dim (their other
sizes must match; the dtype is promoted as for arithmetic).]])

gd.stack = doc(function(list, dim)
  local fname = "gd.stack"
  if type(list) ~= "table" or #list == 0 then argerr(fname, "expects a non-empty table of tensors") end
  if dim == nil then dim = 1 end
  local parts = {}
  local first
  for i = 1, #list do
    local c = tc(fname, list[i], "element " .. i)
    -- one shape for all (gd.cat's message would name cat and the unsqueezed shapes)
    local shape = table.concat(list[i].shape, "x")
    first = first or shape
    if shape ~= first then
      argerr(fname, fmt("tensor %d has shape %s but tensor 1 has %s (stack needs one shape)", i, shape, first))
    end
    parts[i] = result(C.gd_unsqueeze(out1, c, dim0(fname, c, dim, 1)), fname)
  end
  return gd.cat(parts, dim)
end, "gd.stack", "gd.stack({t1, t2, ...}, [dim = 1]) -> the tensors (of one shape) stacked along a new dimension.")

-- ------------------------------------------------------------ arithmetic

--- A tensor operand: v itself, or a table made into a tensor of like_c's
-- dtype (float32 if like_c is int64 and a value is not whole) and device.
-- Callers pass the returned object's .c to C, which keeps it alive.
local function operand(fname, v, like_c)
  if is_tensor(v) then return v end
  if type(v) == "table" then
    local t = from_data(fname, v, like_c.scalar_type, true)
    if like_c.device_kind ~= 0 then t = result(C.gd_to(out1, t.c, -1, like_c.device_kind), fname) end
    return t
  end
  argerr(fname, "operand must be a tensor, a number or a table, got " .. type(v))
end

local function binary(fname, op, a, b)
  if type(b) == "number" then
    if is_tensor(a) then return result(C.gd_binary_scalar(out1, a.c, b, op, 0), fname) end
  elseif type(a) == "number" then
    if is_tensor(b) then return result(C.gd_binary_scalar(out1, b.c, a, op, 1), fname) end
  end
  local ref = is_tensor(a) and a.c or is_tensor(b) and b.c
  if not ref then argerr(fname, fmt("expects a tensor operand, got %s and %s", type(a), type(b))) end
  local ta, tb = operand(fname, a, ref), operand(fname, b, ref)
  return result(C.gd_binary(out1, ta.c, tb.c, op), fname)
end

local function binary_(fname, op, t, x)
  local c = self_c(fname, t)
  local st
  if type(x) == "number" then st = C.gd_binary_scalar_(c, x, op)
  else
    local tx = operand(fname, x, c)
    st = C.gd_binary_(c, tx.c, op)
  end
  if st ~= 0 then fail(fname) end
  return t
end

local function unary(fname, op, t, p1, p2)
  return result(C.gd_unary(out1, self_c(fname, t), op, p1 or 0, p2 or 0), fname)
end

local function unary_(fname, op, t, p1, p2)
  if C.gd_unary_(self_c(fname, t), op, p1 or 0, p2 or 0) ~= 0 then fail(fname) end
  return t
end

local function alpha_arg(fname, alpha)
  return check.number(fname, "alpha", alpha)
end

--- PyTorch's type promotion among float32 (0), float64 (1) and int64 (2).
local function promote(a, b)
  if a == b then return a end
  if a == 1 or b == 1 then return 1 end
  return 0
end

--- t + alpha * x: PyTorch's add(other, alpha), and Torch7's add(value, other).
-- alpha*x is rounded in the promoted dtype, then added, as PyTorch does.
function Tensor.add(t, x, alpha)
  local c = self_c("add", t)
  if type(x) == "number" and is_tensor(alpha) then x, alpha = alpha, x end
  if alpha ~= nil and alpha ~= 1 then
    alpha_arg("add", alpha)
    if type(x) == "number" then return binary("add", OP.add, t, x * alpha) end
    local tx = operand("add", x, c)
    local d = promote(c.scalar_type, tx.c.scalar_type)
    if d == INT64 and (alpha ~= floor(alpha) or alpha < INT64_LO or alpha >= INT64_HI) then d = 0 end
    local xd = result(C.gd_to(out1, tx.c, d, -1), "add")
    return binary("add", OP.add, t, result(C.gd_binary_scalar(out1, xd.c, alpha, OP.mul, 0), "add"))
  end
  return binary("add", OP.add, t, x)
end

function Tensor.sub(t, x, alpha)
  self_c("sub", t)
  if alpha ~= nil and alpha ~= 1 then return t:add(x, -alpha_arg("sub", alpha)) end
  return binary("sub", OP.sub, t, x)
end

function Tensor.mul(t, x) self_c("mul", t); return binary("mul", OP.mul, t, x) end
function Tensor.div(t, x) self_c("div", t); return binary("div", OP.div, t, x) end
function Tensor.pow(t, x)
  if type(x) == "number" then return unary("pow", UN.pows, t, x) end
  self_c("pow", t)
  return binary("pow", OP.pow, t, x)
end
function Tensor.remainder(t, x) self_c("remainder", t); return binary("remainder", OP.mod, t, x) end
function Tensor.maximum(t, x) self_c("maximum", t); return binary("maximum", OP.maximum, t, x) end
function Tensor.minimum(t, x) self_c("minimum", t); return binary("minimum", OP.minimum, t, x) end
for _, name in ipairs {"eq", "ne", "lt", "le", "gt", "ge"} do
  local op = OP[name]
  Tensor[name] = function(t, x) self_c(name, t); return binary(name, op, t, x) end
end

for _, name in ipairs {"neg", "abs", "sqrt", "exp", "log", "square", "sign", "relu", "tanh", "sigmoid",
                       "floor", "ceil", "round", "sin", "cos", "rsqrt", "reciprocal"} do
  local op = UN[name]
  local name_ = name .. "_"
  Tensor[name] = function(t) return unary(name, op, t) end
  Tensor[name_] = function(t) return unary_(name_, op, t) end
end

local function clamp_bounds(fname, lo, hi)
  if lo == nil and hi == nil then argerr(fname, "at least one of min and max must be given") end
  if lo ~= nil then check.number(fname, "min", lo) end
  if hi ~= nil then check.number(fname, "max", hi) end
  if lo ~= nil and hi ~= nil and lo > hi then
    argerr(fname, fmt("min %s is greater than max %s", tostring(lo), tostring(hi)))
  end
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

--- t += alpha * x: the body of add_ and sub_ (which passes -alpha).
local function add_scaled_(fname, t, x, alpha)
  local c = self_c(fname, t)
  if type(x) == "number" then
    if C.gd_binary_scalar_(c, x * alpha, OP.add) ~= 0 then fail(fname) end
    return t
  end
  local tx = operand(fname, x, c)
  if C.gd_add_scaled_(c, tx.c, alpha) ~= 0 then fail(fname) end
  return t
end

function Tensor.add_(t, x, alpha)
  if alpha == nil then
    alpha = 1
  else
    if type(x) == "number" and is_tensor(alpha) then x, alpha = alpha, x end -- Torch7: add_(value, tensor)
    alpha_arg("add_", alpha)
  end
  add_scaled_("add_", t, x, alpha)
  return t
end

function Tensor.sub_(t, x, alpha)
  if alpha == nil then alpha = 1 else alpha_arg("sub_", alpha) end
  add_scaled_("sub_", t, x, -alpha)
  return t
end

function Tensor.mul_(t, x)
  binary_("mul_", OP.mul, t, x)
  return t
end

function Tensor.div_(t, x)
  binary_("div_", OP.div, t, x)
  return t
end

function Tensor.pow_(t, x)
  if type(x) == "number" then return unary_("pow_", UN.pows, t, x) end
  return binary_("pow_", OP.pow, t, x)
end

function Tensor.copy_(t, src)
  local c = self_c("copy_", t)
  if is_tensor(src) then
    if C.gd_copy(c, src.c) ~= 0 then fail("copy_") end
    return t
  end
  if type(src) == "table" then
    local ts = operand("copy_", src, c)
    if C.gd_copy(c, ts.c) ~= 0 then fail("copy_") end
    return t
  end
  argerr("copy_", "source must be a tensor or a table, got " .. type(src))
end

function Tensor.fill_(t, v)
  local c = self_c("fill_", t)
  if type(v) == "boolean" then v = v and 1 or 0 end
  if type(v) ~= "number" then argerr("fill_", "value must be a number, got " .. type(v)) end
  if C.gd_fill(c, v) ~= 0 then fail("fill_") end
  return t
end

function Tensor.zero_(t)
  if C.gd_fill(self_c("zero_", t), 0) ~= 0 then fail("zero_") end
  return t
end

-- PyTorch's addcmul_(t1, t2, value=1), and Torch7's addcmul(value, t1, t2)
local function addc(fname, cfn, t, a, b, value)
  local c = t.c
  if type(a) == "number" then a, b, value = b, value, a end
  if value == nil then value = 1 end
  check.number(fname, "value", value)
  local ta, tb = operand(fname, a, c), operand(fname, b, c)
  if cfn(c, ta.c, tb.c, value) ~= 0 then fail(fname) end
  return t
end
function Tensor.addcmul_(t, a, b, value)
  self_c("addcmul_", t)
  return addc("addcmul_", C.gd_addcmul_, t, a, b, value)
end
function Tensor.addcdiv_(t, a, b, value)
  self_c("addcdiv_", t)
  return addc("addcdiv_", C.gd_addcdiv_, t, a, b, value)
end
function Tensor.addcmul(t, a, b, value)
  return addc("addcmul", C.gd_addcmul_, result(C.gd_clone(out1, self_c("addcmul", t)), "addcmul"), a, b, value)
end
function Tensor.addcdiv(t, a, b, value)
  return addc("addcdiv", C.gd_addcdiv_, result(C.gd_clone(out1, self_c("addcdiv", t)), "addcdiv"), a, b, value)
end

function Tensor.uniform_(t, a, b)
  local c = self_c("uniform_", t)
  -- int64: whole numbers in [low, high) (Torch7's random_(a, b)); the float
  -- defaults [0, 1) would silently give all zeros there
  if c.scalar_type == INT64 and (a == nil or b == nil) then
    argerr("uniform_", "an int64 tensor draws whole numbers in [low, high): give both bounds")
  end
  a, b = a or 0, b or 1
  check.number("uniform_", "low", a, {finite = true})
  check.number("uniform_", "high", b, {finite = true})
  if C.gd_random_(c, 0, a, b) ~= 0 then fail("uniform_") end
  return t
end
function Tensor.normal_(t, mean, std)
  local c = self_c("normal_", t)
  mean, std = mean or 0, std or 1
  check.number("normal_", "mean", mean, {finite = true})
  check.number("normal_", "std", std, {finite = true, min = 0})
  if C.gd_random_(c, 1, mean, std) ~= 0 then fail("normal_") end
  return t
end

--- A where() value: a tensor, or a number as a 0-d tensor of ref's dtype
-- (float32 when ref is int64 and the number is not a whole int64).
local function where_value(fname, v, ref, what)
  if is_tensor(v) then return v end
  if type(v) == "number" then
    local dtype = ref.scalar_type
    if dtype == INT64 and (v ~= floor(v) or v ~= v or v < INT64_LO or v >= INT64_HI) then dtype = 0 end
    local t = new_empty(fname, 0, dtype, ref.device_kind)
    if C.gd_fill(t.c, v) ~= 0 then fail(fname) end
    return t
  end
  argerr(fname, fmt("%s must be a tensor or a number, got %s", what, type(v)))
end

gd.where = doc(function(cond, a, b)
  local fname = "gd.where"
  local cc = tc(fname, cond, "the condition")
  local ref = is_tensor(a) and a.c or is_tensor(b) and b.c or cc
  local ta = where_value(fname, a, ref, "argument 2")
  local tb = where_value(fname, b, ref, "argument 3")
  return result(C.gd_where(out1, cc, ta.c, tb.c), fname)
end, "gd.where", [[
gd.where(cond, a, b) -> a where cond is nonzero (NaN counts as nonzero), else
b, element-wise with broadcasting; a and b may be numbers.]])

gd.allclose = doc(function(a, b, rtol, atol)
  local fname = "gd.allclose"
  local ca = tc(fname, a, "argument 1")
  rtol = check.number(fname, "rtol", rtol, {default = 1e-5, min = 0})
  atol = check.number(fname, "atol", atol, {default = 1e-8, min = 0})
  local tb
  if type(b) == "number" then
    -- a number compares with every element (in float64, as gd_allclose does)
    tb = result(C.gd_empty(out1, ca.rank, ca.sizes, 1, ca.device_kind), fname)
    if C.gd_fill(tb.c, b) ~= 0 then fail(fname) end
  else
    tb = operand(fname, b, ca)
  end
  if C.gd_allclose(ca, tb.c, rtol, atol, int_box) ~= 0 then fail(fname) end
  return int_box[0] ~= 0
end, "gd.allclose", [[
gd.allclose(a, b, [rtol = 1e-5], [atol = 1e-8]) -> true when a and b have one
shape and |a - b| <= atol + rtol * |b| everywhere (NumPy's rule; NaN is never
close).  b may be a number or a table.]])

-- ------------------------------------------------------------ reductions

--- A tensor that requires grad reduces to a 0-d tensor (the expression stays
-- differentiable); any other to a number, as before autograd.
local function recording(c) return c.requires_grad ~= 0 and C.gd_grad_enabled() ~= 0 end

local function reduce(fname, op, t, dim, keepdim, p)
  local c = self_c(fname, t)
  if dim == nil then
    if c.requires_grad ~= 0 and C.gd_grad_enabled() ~= 0 then
      -- (not a tail call: LuaJIT counts those against loopunroll, and a training
      -- step's trace is near that limit already)
      local r = result(C.gd_reduce(out1, c, op, p or 0), fname)
      return r
    end
    if C.gd_reduce_all(c, op, p or 0, dbl) ~= 0 then fail(fname) end
    return dbl[0]
  end
  local d = dim0(fname, c, dim)
  return result(C.gd_reduce_dim(out1, nil, c, d, op, keepdim and 1 or 0, p or 0), fname)
end

function Tensor.sum(t, dim, keepdim) return reduce("sum", RED.sum, t, dim, keepdim) end
function Tensor.mean(t, dim, keepdim) return reduce("mean", RED.mean, t, dim, keepdim) end
function Tensor.prod(t, dim, keepdim) return reduce("prod", RED.prod, t, dim, keepdim) end
-- var/std: PyTorch's unbiased estimate by default (correction 1)
function Tensor.var(t, dim, keepdim, correction)
  correction = check.number("var", "correction", correction, {default = 1, min = 0})
  return reduce("var", RED.var, t, dim, keepdim, correction)
end
function Tensor.std(t, dim, keepdim, correction)
  correction = check.number("std", "correction", correction, {default = 1, min = 0})
  return reduce("std", RED.std, t, dim, keepdim, correction)
end

function Tensor.norm(t, p, dim, keepdim)
  if p == nil or p == "fro" then p = 2 end
  if p == "inf" then p = huge end
  check.number("norm", "p", p, {min = 0})
  return reduce("norm", RED.norm, t, dim, keepdim, p)
end

-- max()/min() -> number; max(dim) -> values, indices (1-based int64);
-- max(tensor) -> the element-wise maximum
local function extreme(fname, op, t, dim, keepdim)
  local c = self_c(fname, t)
  if dim == nil then
    if recording(c) then return result(C.gd_reduce(out1, c, op, 0), fname) end
    if C.gd_reduce_all(c, op, 0, dbl) ~= 0 then fail(fname) end
    return dbl[0]
  end
  if is_tensor(dim) or type(dim) == "table" then
    return binary(fname, op == RED.max and OP.maximum or OP.minimum, t, dim)
  end
  local d = dim0(fname, c, dim)
  if C.gd_reduce_dim(out1, out2, c, d, op, keepdim and 1 or 0, 0) ~= 0 then fail(fname) end
  local values, indices = wrap(out1[0]), wrap(out2[0])
  if C.gd_binary_scalar_(indices.c, 1, OP.add) ~= 0 then fail(fname) end
  return values, indices
end
function Tensor.max(t, dim, keepdim) return extreme("max", RED.max, t, dim, keepdim) end
function Tensor.min(t, dim, keepdim) return extreme("min", RED.min, t, dim, keepdim) end

local function argext(fname, op, t, dim, keepdim)
  local c = self_c(fname, t)
  if dim == nil then
    if C.gd_reduce_all(c, op, 0, dbl) ~= 0 then fail(fname) end
    return dbl[0] + 1
  end
  local d = dim0(fname, c, dim)
  local r = result(C.gd_reduce_dim(out1, nil, c, d, op, keepdim and 1 or 0, 0), fname)
  if C.gd_binary_scalar_(r.c, 1, OP.add) ~= 0 then fail(fname) end
  return r
end
function Tensor.argmax(t, dim, keepdim) return argext("argmax", RED.argmax, t, dim, keepdim) end
function Tensor.argmin(t, dim, keepdim) return argext("argmin", RED.argmin, t, dim, keepdim) end

function Tensor.matmul(t, x)
  local c = self_c("matmul", t)
  local tx = operand("matmul", x, c)
  return result(C.gd_matmul(out1, c, tx.c), "matmul")
end
gd.matmul = doc(function(a, b)
  return result(C.gd_matmul(out1, tc("gd.matmul", a, "argument 1"), tc("gd.matmul", b, "argument 2")), "gd.matmul")
end, "gd.matmul", [[
gd.matmul(a, b) -> the matrix product, with NumPy's rules: 1-D.1-D is a dot
product (a 0-d tensor), 2-D@1-D a matrix-vector product, 1-D@2-D a
vector-matrix product, 2-D@2-D a matrix product, 3-D@3-D (or with a 2-D or
1-D side) a batched product.  float32/float64 go through BLAS (OpenBLAS
cblas on the CPU); mixed dtypes are promoted.]])

--- gemm into an existing output: t = beta*t + alpha * op(a) @ op(b)
function Tensor.addmm_(t, a, b, alpha, beta, trans_a, trans_b)
  local fname = "addmm_"
  local c = self_c(fname, t)
  alpha = check.number(fname, "alpha", alpha, {default = 1})
  beta = check.number(fname, "beta", beta, {default = 1})
  if C.gd_gemm(c, tc(fname, a, "argument 1"), trans_a and 1 or 0, tc(fname, b, "argument 2"),
    trans_b and 1 or 0, alpha, beta) ~= 0 then
    fail(fname)
  end
  return t
end

-- --------------------------------------------------------- misc methods

function Tensor.dim(t) return self_c("dim", t).rank end
function Tensor.nDimension(t) return self_c("nDimension", t).rank end
function Tensor.numel(t) return tonumber(self_c("numel", t).count) end
function Tensor.nElement(t) return tonumber(self_c("nElement", t).count) end
function Tensor.size(t, d)
  local c = self_c("size", t)
  if d == nil then return getters.shape(t) end
  return tonumber(c.sizes[dim0("size", c, d)])
end
function Tensor.stride(t, d)
  local c = self_c("stride", t)
  if d == nil then
    local s = {}
    for i = 0, c.rank - 1 do s[i + 1] = tonumber(c.strides[i]) end
    return s
  end
  return tonumber(c.strides[dim0("stride", c, d)])
end

--- Releases the tensor's storage now instead of at garbage collection; the
-- tensor becomes empty, and using it afterwards is an error (never a crash).
-- Views of it keep the storage alive until they go too.
function Tensor.free(t)
  local c = self_c("free", t)
  grads[tonumber(c.uid)] = nil
  C.gd_tensor_free_data(c)
end
function Tensor.is_freed(t) return self_c("is_freed", t).is_freed ~= 0 end

function Tensor.type(t) return DTYPE_NAMES[self_c("type", t).scalar_type] end
function Tensor.is_cuda(t) return self_c("is_cuda", t).device_kind == 1 end
function Tensor.equal(t, other)
  local a = self_c("equal", t)
  if not is_tensor(other) then return false end
  local b = other.c
  if a.rank ~= b.rank then return false end
  for d = 0, a.rank - 1 do if a.sizes[d] ~= b.sizes[d] then return false end end
  if C.gd_allclose(a, b, 0, 0, int_box) ~= 0 then fail("equal") end
  return int_box[0] ~= 0
end

-- ------------------------------------------------ more basics (PyTorch's names)
-- log1p, expm1, softplus, logsumexp and cumsum are fused C kernels
-- (src/kernels/elementwise.h, src/cpu, cuda/); eye, diag and diagonal are
-- diagonal views (gd_diagonal); dot and outer go through matmul and one
-- broadcasting multiply.

for _, name in ipairs {"log1p", "expm1"} do
  local op = UN[name]
  local name_ = name .. "_"
  Tensor[name] = function(t) return unary(name, op, t) end
  Tensor[name_] = function(t) return unary_(name_, op, t) end
end
doc(Tensor.log1p, "Tensor:log1p", [[
t:log1p() -> log(1 + t), element-wise, exact for tiny t (where log(1 + t)
rounds to 0); int64 becomes float32.]])
doc(Tensor.log1p_, "Tensor:log1p_", "t:log1p_() -> t, replaced by log(1 + t).")
doc(Tensor.expm1, "Tensor:expm1", [[
t:expm1() -> e^t - 1, element-wise, exact for tiny t; int64 becomes float32.]])
doc(Tensor.expm1_, "Tensor:expm1_", "t:expm1_() -> t, replaced by e^t - 1.")

--- beta and threshold, positional or as an options table {beta =, threshold =}.
local SOFTPLUS_OPTS = {beta = true, threshold = true}
local function softplus_args(fname, beta, threshold)
  if type(beta) == "table" then
    if threshold ~= nil then argerr(fname, "give beta and threshold positionally or in one options table") end
    local opts = check.options(fname, beta, SOFTPLUS_OPTS)
    beta, threshold = opts.beta, opts.threshold
  end
  beta = check.number(fname, "beta", beta, {default = 1})
  threshold = check.number(fname, "threshold", threshold, {default = 20})
  if beta == 0 then argerr(fname, "beta must not be 0 (softplus divides by it)") end
  return beta, threshold
end
function Tensor.softplus(t, beta, threshold)
  self_c("softplus", t)
  beta, threshold = softplus_args("softplus", beta, threshold)
  return unary("softplus", UN.softplus, t, beta, threshold)
end
doc(Tensor.softplus, "Tensor:softplus", [[
t:softplus([beta = 1], [threshold = 20]) -> log(1 + e^(beta*t)) / beta,
element-wise, and t itself where beta*t > threshold (PyTorch's
torch.nn.functional.softplus; {beta =, threshold =} works too).]])

function Tensor.logsumexp(t, dim, keepdim) return reduce("logsumexp", RED.logsumexp, t, dim, keepdim) end
doc(Tensor.logsumexp, "Tensor:logsumexp", [[
t:logsumexp([dim], [keepdim]) -> log(sum(exp(t))) over everything (a number)
or along dim (torch.logsumexp), computed as m + log(sum(exp(t - m))) with m
the largest value, so that large values do not overflow; no elements give
-inf; int64 becomes float32.]])

--- cumsum's dimension: Torch7's default 1; a 0-d tensor takes 1 or -1.
local function scan_dim(fname, c, dim)
  if dim == nil then dim = 1 end
  if c.rank == 0 and (dim == 1 or dim == -1) then return 0 end
  return dim0(fname, c, dim)
end
function Tensor.cumsum(t, dim)
  local c = self_c("cumsum", t)
  return result(C.gd_cumsum(out1, c, scan_dim("cumsum", c, dim)), "cumsum")
end
function Tensor.cumsum_(t, dim)
  local c = self_c("cumsum_", t)
  if C.gd_cumsum_(c, scan_dim("cumsum_", c, dim)) ~= 0 then fail("cumsum_") end
  return t
end
doc(Tensor.cumsum, "Tensor:cumsum", [[
t:cumsum([dim = 1]) -> the running sums along dim: element j is the sum of
elements 1..j (torch.cumsum; Torch7's default dim).  Same shape and dtype
(int64 stays exact); each line is summed in order, in double.]])
doc(Tensor.cumsum_, "Tensor:cumsum_", "t:cumsum_([dim = 1]) -> t, replaced by its running sums along dim.")

--- A diagonal's offset: a whole number (0 is the main diagonal).
local function offset_arg(fname, k)
  return check.number(fname, "diagonal", k, {default = 0, integer = true, min = -MAX_SIZE, max = MAX_SIZE})
end
function Tensor.diagonal(t, k)
  local c = self_c("diagonal", t)
  return result(C.gd_diagonal(out1, c, offset_arg("diagonal", k)), "diagonal")
end
doc(Tensor.diagonal, "Tensor:diagonal", [[
t:diagonal([k = 0]) -> the k-th diagonal of a 2-D tensor as a 1-D view
(writes go to t): k > 0 above the main diagonal, k < 0 below; empty when k
is out of range.]])

local function diag(fname, c, k)
  k = offset_arg(fname, k)
  if c.rank == 1 then
    local n = tonumber(c.sizes[0]) + abs(k)
    sbuf[0], sbuf[1] = n, n
    local r = new_empty(fname, 2, c.scalar_type, c.device_kind)
    if C.gd_fill(r.c, 0) ~= 0 then fail(fname) end
    local dg = result(C.gd_diagonal(out1, r.c, k), fname)
    if C.gd_copy(dg.c, c) ~= 0 then fail(fname) end
    return r
  elseif c.rank == 2 then
    local dg = result(C.gd_diagonal(out1, c, k), fname)
    return result(C.gd_clone(out1, dg.c), fname)
  end
  argerr(fname, fmt("expects a 1-D or 2-D tensor, got %d dimension%s", c.rank, c.rank == 1 and "" or "s"))
end
function Tensor.diag(t, k) return diag("diag", self_c("diag", t), k) end
doc(Tensor.diag, "Tensor:diag", [[
t:diag([k = 0]) -> torch.diag: of a 1-D tensor of n values, the square
matrix (n + |k| wide) with them on its k-th diagonal and zeros elsewhere; of
a 2-D tensor, a copy of its k-th diagonal (k > 0 above the main one).]])

--- Two 1-D operands of one length for dot; the second may be a table.
local function vectors(fname, a, x, same_dtype)
  local tx = operand(fname, x, a)
  local b = tx.c
  if a.rank ~= 1 or b.rank ~= 1 then
    argerr(fname, fmt("expects two 1-D tensors, got %d-D and %d-D", a.rank, b.rank))
  end
  if same_dtype and a.sizes[0] ~= b.sizes[0] then
    argerr(fname, fmt("the vectors have %d and %d elements", tonumber(a.sizes[0]), tonumber(b.sizes[0])))
  end
  if same_dtype and a.scalar_type ~= b.scalar_type then
    argerr(fname, fmt("expects two tensors of one dtype, got %s and %s", DTYPE_NAMES[a.scalar_type],
      DTYPE_NAMES[b.scalar_type]))
  end
  return tx
end
local function dot(fname, a, x)
  local tx = vectors(fname, a, x, true)
  local r = result(C.gd_matmul(out1, a, tx.c), fname)
  if C.gd_get(r.c, ibuf, dbl) ~= 0 then fail(fname) end
  return dbl[0]
end
function Tensor.dot(t, x) return dot("dot", self_c("dot", t), x) end
doc(Tensor.dot, "Tensor:dot", [[
t:dot(x) -> the inner product of two 1-D tensors of one length and dtype, as
a number (Torch7's dot; torch.dot; through BLAS for floats).]])

local function outer(fname, a, x)
  local tx = vectors(fname, a, x, false)
  local col = result(C.gd_unsqueeze(out1, a, 1), fname)
  local row = result(C.gd_unsqueeze(out1, tx.c, 0), fname)
  return result(C.gd_binary(out1, col.c, row.c, OP.mul), fname)
end
function Tensor.outer(t, x) return outer("outer", self_c("outer", t), x) end
function Tensor.ger(t, x) return outer("ger", self_c("ger", t), x) end
doc(Tensor.outer, "Tensor:outer", [[
t:outer(x) -> the n x m matrix t[i] * x[j] of two 1-D tensors (torch.outer;
the dtype is promoted as for *).]])
doc(Tensor.ger, "Tensor:ger", "t:ger(x) -> t:outer(x) (Torch7's and BLAS's name).")

gd.eye = doc(function(n, m, opts)
  local fname = "gd.eye"
  if type(m) == "table" and opts == nil then m, opts = nil, m end
  check.number(fname, "n", n, {integer = true, min = 0, max = MAX_SIZE})
  m = check.number(fname, "m", m, {default = n, integer = true, min = 0, max = MAX_SIZE})
  local t = filled(fname, 0, {n, m}, opts)
  local dg = result(C.gd_diagonal(out1, t.c, 0), fname)
  if C.gd_fill(dg.c, 1) ~= 0 then fail(fname) end
  return t
end, "gd.eye", [[
gd.eye(n, [m = n], [opts]) -> the n x m matrix with ones on its main diagonal
and zeros elsewhere (torch.eye).  opts: dtype, device, as gd.zeros.]])

--- gd.f(t, ...) for the methods that PyTorch also has as torch.f.
for _, name in ipairs {"log1p", "expm1", "softplus", "logsumexp", "cumsum", "diag", "diagonal", "dot", "outer"} do
  local method, fname = Tensor[name], "gd." .. name
  gd[name] = doc(function(t, ...)
    tc(fname, t, "argument 1")
    return method(t, ...)
  end, fname, fmt("%s(t, ...) -> t:%s(...).\n%s", fname, name, (doc.lookup(method))))
end

-- -------------------------------------------- Torch7's table indexing

--- One entry of x[{...}] applied to dimension d of c: a number selects (the
-- dimension goes), {} takes all, {a} is a..a and {a, b} is a..b inclusive
-- (negative from the end), as Torch7's __index__.  Returns the view and the
-- next dimension.
local function index_entry(fname, c, d, e, i)
  if type(e) == "number" then
    return result(C.gd_select(out1, c, d, index0(fname, c, d, e)), fname), d
  end
  if type(e) ~= "table" then
    argerr(fname, fmt("entry %d must be a number, {} or a range {first, last}, got %s", i, describe(e)))
  end
  if e[3] ~= nil then argerr(fname, fmt("entry %d has more than two numbers; a range is {first, last}", i)) end
  local size = tonumber(c.sizes[d])
  local a, b = e[1], e[2]
  if a == nil and b == nil then return result(C.gd_narrow(out1, c, d, 0, size), fname), d + 1 end
  if b == nil then b = a end
  a = a or 1
  if type(a) ~= "number" or a ~= floor(a) then
    argerr(fname, fmt("entry %d: range bound %s is not an integer", i, describe(a)))
  end
  if type(b) ~= "number" or b ~= floor(b) then
    argerr(fname, fmt("entry %d: range bound %s is not an integer", i, describe(b)))
  end
  local first, last = a < 0 and a + size + 1 or a, b < 0 and b + size + 1 or b
  if first < 1 or first > size or last < 1 or last > size then
    argerr(fname, fmt("entry %d: range {%s, %s} is out of range for dimension %d of size %d", i, describe(a),
      describe(b), d + 1, size))
  end
  if last < first then
    argerr(fname, fmt("entry %d: range {%s, %s} ends before it starts", i, describe(a), describe(b)))
  end
  return result(C.gd_narrow(out1, c, d, first - 1, last - first + 1), fname), d + 1
end

--- x[{...}]: a view, or nil and true when every dimension is selected by a
-- number (the element itself is then read or written by get/set).
local function index_table(fname, t, idx)
  local c = t.c
  local n = #idx
  if n > c.rank then
    argerr(fname, fmt("%d entries given for a %d-dimensional tensor", n, c.rank))
  end
  local all_numbers = n == c.rank and n > 0
  for i = 1, n do
    if type(idx[i]) ~= "number" then all_numbers = false; break end
  end
  if all_numbers then
    for i = 1, n do index0(fname, c, i - 1, idx[i]) end -- (out-of-range errors name the indexing)
    return nil, true
  end
  if n == 0 then return result(C.gd_view(out1, c, c.rank, c.sizes), fname) end
  local v, d = t, 0
  for i = 1, n do v, d = index_entry(fname, v.c, d, idx[i], i) end
  return v
end

local function table_get(t, idx)
  local v, element = index_table("index", t, idx)
  if element then return t:get(unpack(idx, 1, #idx)) end
  return v
end

--- x[{...}] = v: a number (or boolean) fills, a tensor or table is copied in
-- (broadcast; or, as Torch7, element by element when only the counts agree).
local function table_set(t, idx, v)
  local fname = "index"
  local view, element = index_table(fname, t, idx)
  if element then
    local n = #idx
    if n == 1 then t:set(idx[1], v) elseif n == 2 then t:set(idx[1], idx[2], v)
    else
      local args = {unpack(idx, 1, n)}
      args[n + 1] = v
      t:set(unpack(args, 1, n + 1))
    end
    return
  end
  if type(v) == "number" or type(v) == "boolean" then view:fill_(v); return end
  if type(v) == "table" and not is_tensor(v) then v = operand(fname, v, view.c) end
  if not is_tensor(v) then
    argerr(fname, fmt("cannot assign %s to a tensor slice (a number, a tensor or a table of numbers is expected)",
      describe(v)))
  end
  local vc, sc = view.c, v.c
  if vc.rank ~= sc.rank and vc.count == sc.count then
    v = result(C.gd_reshape(out1, sc, vc.rank, vc.sizes), fname)
  end
  if C.gd_copy(vc, v.c) ~= 0 then fail(fname) end
end

-- -------------------------------------------------------------- printing

--- Torch7/NumPy-style printout: the values, then "[float32 tensor, cpu, 2x3]".
-- Matrices print as rows, 1-D tensors as a column (Torch7's way), higher
-- ranks as 2-D slices headed "(i,j,.,.) =".  Past 1000 elements only three
-- entries at each end of every dimension are shown.  One format serves every
-- printed value: fixed point with 4 decimals, or %.4e when some are >= 1e6 or
-- all are tiny; int64 values print exactly.
local function tensor_tostring(t)
  local c = t.c
  if c == nil then return "[freed tensor]" end
  if c.is_freed ~= 0 then return "[tensor released with free()]" end
  local dtype, device = DTYPE_NAMES[c.scalar_type], DEVICE_NAMES[c.device_kind]
  local shape = getters.shape(t)
  local desc = fmt("[%s tensor, %s, %s]", dtype, device, #shape == 0 and "scalar" or table.concat(shape, "x"))
  local n = tonumber(c.count)
  if n == 0 then return "[empty " .. desc:sub(2) end -- "[empty float32 tensor, cpu, 0x3]"
  -- a CPU tensor is read where it lies (through its strides: an expanded
  -- view of 2^40 elements prints without being copied); others are copied
  local src = t
  if c.device_kind ~= 0 then src = result(C.gd_to(out1, c, -1, 0), "tostring") end
  local sc = src.c
  local ptr = ffi.cast(PTR[sc.scalar_type], sc.data)
  local int = sc.scalar_type == INT64
  local rank = sc.rank
  local summarise = n > 1000
  local edge = 3
  local strides = {}
  for d = 0, rank - 1 do strides[d] = tonumber(sc.strides[d]) end
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
  -- the offsets that will be printed, to choose one format for all of them
  local shown = {}
  local function visit(d, off)
    if d == rank then shown[#shown + 1] = off; return end
    for _, i in ipairs(indices(d)) do if i then visit(d + 1, off + i * strides[d]) end end
  end
  visit(0, 0)
  local maxabs = 0
  for _, off in ipairs(shown) do
    local v = tonumber(ptr[off])
    if v == v and v ~= huge and v ~= -huge and abs(v) > maxabs then maxabs = abs(v) end
  end
  local sci = not int and (maxabs >= 1e6 or (maxabs > 0 and maxabs < 1e-3))
  local function format_value(off)
    local v = ptr[off]
    if int then return (tostring(v):gsub("LL$", "")) end
    if v ~= v then return "nan" end
    if v == huge then return "inf" elseif v == -huge then return "-inf" end
    return fmt(sci and "%.4e" or "%.4f", v)
  end
  local width, cells = 1, {}
  for _, off in ipairs(shown) do
    local s = format_value(off)
    cells[off] = s
    if #s > width then width = #s end
  end
  local cellfmt = "%" .. width .. "s"
  if rank == 0 then
    -- a 0-d tensor in a differentiable expression (a loss) prints like the number it holds
    if c.requires_grad ~= 0 then return tostring(int and tonumber(ptr[0]) or tonumber(ptr[0])) end
    return cells[0] .. "\n" .. desc
  end
  local lines = {}
  local function row(off)
    local parts = {}
    for _, j in ipairs(indices(rank - 1)) do
      parts[#parts + 1] = j and fmt(cellfmt, cells[off + j * strides[rank - 1]]) or "..."
    end
    return " " .. table.concat(parts, " ")
  end
  local function matrix(off)
    if rank == 1 then
      for _, i in ipairs(indices(0)) do
        lines[#lines + 1] = i and " " .. fmt(cellfmt, cells[off + i * strides[0]]) or " ..."
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
function Tensor.tostring(t)
  self_c("tostring", t)
  return tensor_tostring(t)
end

-- ------------------------------------------------------------ metatype

--- The number in a one-element tensor (or v itself), for < and <=.
local function scalar_value(op, v)
  if type(v) == "number" then return v end
  if is_tensor(v) and v.c.count == 1 then return v:item() end
  argerr(op, "compares numbers and one-element tensors only (use lt/le/gt/ge for element-wise comparisons)")
end

local function index_number(t, i)
  local c = t.c
  if c.rank == 1 and not recording(c) then return t:get(i) end
  if c.rank == 0 then argerr("index", "a 0-d tensor cannot be indexed (use item())") end
  return result(C.gd_select(out1, c, 0, index0("index", c, 0, i)), "index")
end

local mt = {
  __index = function(t, k)
    local m = Tensor[k]
    if m ~= nil then return m end
    local g = getters[k]
    if g then return g(t) end
    if type(k) == "number" then return index_number(t, k) end
    if type(k) == "table" then return table_get(t, k) end
    if type(k) ~= "string" then
      argerr("index", fmt("cannot index a tensor with %s (use a number, a table such as {{}, 2}, or "
        .. "index_select)", describe(k)))
    end
    return nil
  end,
  __newindex = function(t, k, v)
    if k == "grad" then return set_grad(t, v) end
    if k == "requires_grad" then
      if type(v) ~= "boolean" then argerr("requires_grad", "must be a boolean, got " .. describe(v)) end
      if C.gd_set_requires_grad(t.c, v and 1 or 0) ~= 0 then fail("requires_grad") end
      return
    end
    if type(k) == "number" then
      local c = t.c
      if c.rank == 1 then t:set(k, v); return end
      local row = index_number(t, k)
      if type(v) == "number" or type(v) == "boolean" then row:fill_(v) else row:copy_(v) end
      return
    end
    if type(k) == "table" then return table_set(t, k, v) end
    argerr("tensor", fmt("cannot set field '%s' (tensors have no user fields; only grad is assignable)",
      tostring(k)))
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
    if c.rank == 0 then argerr("#", "a 0-d tensor has no length") end
    return tonumber(c.sizes[0])
  end,
  __eq = function(a, b)
    return is_tensor(a) and is_tensor(b) and a.c == b.c
  end,
  -- 0-d tensors (a loss that requires grad) compare and concatenate like numbers
  __lt = function(a, b) return scalar_value("<", a) < scalar_value("<", b) end,
  __le = function(a, b) return scalar_value("<=", a) <= scalar_value("<=", b) end,
  __concat = function(a, b)
    return (is_tensor(a) and tensor_tostring(a) or a) .. (is_tensor(b) and tensor_tostring(b) or b)
  end,
  __tostring = tensor_tostring,
}
TensorCT = ffi.metatype("gdlua_tensor", mt)

-- ---------------------------------------------------------------- docs

local method_docs = {
  get = "t:get(i, j, ...) -> the element at 1-based indices (negative ones count from the end).",
  set = "t:set(i, j, ..., value) -> t, with that element set (booleans store 1/0).",
  item = "t:item() -> the number in a one-element tensor.",
  totable = "t:totable() -> nested Lua tables of the values (a number for a 0-d tensor).",
  view = "t:view(size...) -> a view with another shape sharing t's storage (one size may be -1); an error "
    .. "when t's strides do not allow it (see reshape).",
  view_as = "t:view_as(other) -> t:view(other's shape).",
  reshape = "t:reshape(size...) -> like view, but copies when the strides do not allow a view.",
  flatten = "t:flatten() -> a 1-D view (or copy) of all elements in C order.",
  transpose = "t:transpose(d1, d2) -> a view with dimensions d1 and d2 swapped.",
  t = "t:t() -> the transpose of a 2-D tensor (a view); 0-D and 1-D tensors come back as views of themselves.",
  permute = "t:permute(d1, d2, ...) -> a view with the dimensions in that order (a table works too).",
  narrow = "t:narrow(dim, start, length) -> a view of `length` entries from 1-based start along dim.",
  select = "t:select(dim, index) -> a view with dimension dim fixed at index (one dimension fewer).",
  expand = "t:expand(size...) -> a view broadcasting size-1 dimensions to the sizes given (-1 keeps one); "
    .. "read-only: in-place writes into it are refused.",
  expand_as = "t:expand_as(other) -> t:expand(other's shape).",
  unsqueeze = "t:unsqueeze(dim) -> a view with a size-1 dimension inserted at dim (1 .. t:dim()+1).",
  squeeze = "t:squeeze([dim]) -> a view without size-1 dimensions (or only dim, if it has size 1).",
  contiguous = "t:contiguous() -> t's values in C order: a view when already contiguous, else a copy.",
  is_contiguous = "t:is_contiguous() -> true when t's elements are dense in C order.",
  clone = "t:clone() -> a contiguous copy.",
  to = "t:to(x) -> t in another dtype/device: x = \"float64\", \"cuda\", {dtype =, device =} or a tensor "
    .. "(its dtype and device).  A view of t when nothing changes, else a copy.",
  float = "t:float() -> t:to(\"float32\").",
  double = "t:double() -> t:to(\"float64\").",
  long = "t:long() -> t:to(\"int64\") (floats truncate toward zero; NaN and infinities are an error).",
  cpu = "t:cpu() -> t:to(\"cpu\").",
  cuda = "t:cuda() -> t:to(\"cuda\") (an error without a GPU).",
  set_ = "t:set_(src, [offset = 1], [sizes], [strides]) -> t, made a view of src's storage (Torch7's set_).",
  storage_offset = "t:storage_offset() -> 1-based position of t's first element in its storage.",
  is_same_storage = "t:is_same_storage(other) -> true when t and other share one storage.",
  index_select = "t:index_select(dim, index) -> a copy of the entries at 1-based indices (a table or int64 tensor).",
  add = "t:add(x, [alpha]) -> t + alpha*x (x a tensor, number or table; broadcasting; promoted dtype).",
  sub = "t:sub(x, [alpha]) -> t - alpha*x.",
  mul = "t:mul(x) -> t * x, element-wise.",
  div = "t:div(x) -> t / x (true division: int64 / int64 is float32).",
  pow = "t:pow(x) -> t ^ x (int64 to a negative integer power is an error).",
  remainder = "t:remainder(x) -> t % x with the sign of x (torch.remainder; Lua's %).",
  maximum = "t:maximum(x) -> the element-wise larger (NaN propagates).",
  minimum = "t:minimum(x) -> the element-wise smaller (NaN propagates).",
  eq = "t:eq(x) -> 1 where t == x, else 0 (in the promoted dtype).",
  ne = "t:ne(x) -> 1 where t ~= x, else 0.",
  lt = "t:lt(x) -> 1 where t < x, else 0.",
  le = "t:le(x) -> 1 where t <= x, else 0.",
  gt = "t:gt(x) -> 1 where t > x, else 0.",
  ge = "t:ge(x) -> 1 where t >= x, else 0.",
  add_ = "t:add_(x, [alpha]) -> t, after t += alpha*x (x broadcasts to t's shape).",
  sub_ = "t:sub_(x, [alpha]) -> t, after t -= alpha*x.",
  mul_ = "t:mul_(x) -> t, after t *= x.",
  div_ = "t:div_(x) -> t, after t /= x (an error on int64 tensors: the result is float).",
  pow_ = "t:pow_(x) -> t, after t = t ^ x.",
  copy_ = "t:copy_(src) -> t, with src's values (broadcast to t's shape, converted, across devices).",
  fill_ = "t:fill_(v) -> t, every element set to v.",
  zero_ = "t:zero_() -> t, filled with zeros.",
  addcmul_ = "t:addcmul_(a, b, [value = 1]) -> t, after t += value*a*b.",
  addcdiv_ = "t:addcdiv_(a, b, [value = 1]) -> t, after t += value*a/b.",
  addcmul = "t:addcmul(a, b, [value = 1]) -> t + value*a*b (a new tensor).",
  addcdiv = "t:addcdiv(a, b, [value = 1]) -> t + value*a/b (a new tensor).",
  clamp = "t:clamp(min, max) -> values limited to [min, max] (either may be nil).",
  clamp_ = "t:clamp_(min, max) -> t, with values limited to [min, max].",
  uniform_ = [[t:uniform_([low = 0], [high = 1]) -> t, filled with uniform numbers in [low, high).
An int64 t takes whole numbers, each of low, low + 1, ..., high - 1 equally likely: both bounds
are required, whole, and within +-2^53.]],
  normal_ = "t:normal_([mean = 0], [std = 1]) -> t, filled with normal numbers.",
  sum = "t:sum([dim], [keepdim]) -> the sum (a number), or a tensor reduced along dim.  Deterministic: "
    .. "the same bits with any number of threads.",
  mean = "t:mean([dim], [keepdim]) -> the mean (NaN for no elements).",
  prod = "t:prod([dim], [keepdim]) -> the product.",
  var = "t:var([dim], [keepdim], [correction = 1]) -> the variance (unbiased by default, as PyTorch).",
  std = "t:std([dim], [keepdim], [correction = 1]) -> the standard deviation.",
  norm = "t:norm([p = 2], [dim], [keepdim]) -> the p-norm (p may be math.huge or \"inf\", 0 counts nonzeros).",
  max = "t:max() -> the largest value (NaN if any is NaN); t:max(dim, [keepdim]) -> values, indices "
    .. "(1-based int64) along dim; t:max(x) -> the element-wise maximum.",
  min = "t:min() -> the smallest value; t:min(dim, [keepdim]) -> values, indices; t:min(x) -> element-wise.",
  argmax = "t:argmax([dim], [keepdim]) -> 1-based position of the largest value (over the flattened tensor), "
    .. "or int64 indices along dim; the first one on ties, the first NaN if any.",
  argmin = "t:argmin([dim], [keepdim]) -> 1-based position of the smallest value.",
  matmul = "t:matmul(x) -> the matrix product (see gd.matmul).",
  addmm_ = "t:addmm_(a, b, [alpha = 1], [beta = 1], [trans_a], [trans_b]) -> t, after "
    .. "t = beta*t + alpha*op(a)@op(b) (2-D, BLAS gemm).",
  dim = "t:dim() -> the number of dimensions.",
  nDimension = "t:nDimension() -> t:dim() (Torch7's name).",
  numel = "t:numel() -> the number of elements.",
  nElement = "t:nElement() -> t:numel() (Torch7's name).",
  size = "t:size([dim]) -> the size of dimension dim, or the shape as a table.",
  stride = "t:stride([dim]) -> the stride (in elements) of dimension dim, or all of them as a table.",
  free = "t:free() -> releases the storage now; the tensor becomes empty and using it is an error.",
  is_freed = "t:is_freed() -> true after t:free().",
  type = "t:type() -> the dtype name.",
  is_cuda = "t:is_cuda() -> true for a tensor on the GPU.",
  equal = "t:equal(other) -> true when other is a tensor of the same shape and values (NaN is unequal).",
  tostring = "t:tostring() -> tostring(t): the values, then dtype, device and shape.",
}
local unary_docs = {
  neg = "-t", abs = "|t|", sqrt = "the square root", exp = "e^t", log = "the natural logarithm",
  square = "t^2", sign = "-1, 0 or 1 (NaN stays NaN)", relu = "max(t, 0)", tanh = "tanh(t)",
  sigmoid = "1 / (1 + e^-t)", floor = "rounded down", ceil = "rounded up", round = "rounded, halves to even",
  sin = "sin(t)", cos = "cos(t)", rsqrt = "1 / sqrt(t)", reciprocal = "1 / t",
}
for name, what in pairs(unary_docs) do
  method_docs[name] = fmt("t:%s() -> %s, element-wise (int64 becomes float32 where the result is not whole).",
    name, what)
  method_docs[name .. "_"] = fmt("t:%s_() -> t, replaced by %s.", name, what)
end
for k, text in pairs(method_docs) do
  assert(Tensor[k], k)
  doc(Tensor[k], "Tensor:" .. k, text)
end
doc(Tensor, "gd.Tensor", [[
gd.Tensor: the tensor methods.  Fields: t.shape (a fresh table), t.dtype,
t.device, t.grad (nil or a tensor of the same shape, dtype and device;
assignable).  Methods: dim numel size stride get set item totable view
reshape t transpose permute narrow select expand unsqueeze squeeze
contiguous clone to add sub mul div pow sqrt exp log abs neg clamp matmul
sum mean max min argmax norm ..., and in place add_ sub_ mul_ div_ copy_
fill_ zero_ addcmul_ addcdiv_ clamp_ sqrt_ ...  Operators + - * / ^ % and
unary - broadcast like NumPy and promote dtypes like PyTorch.  t[i] is a
number on a 1-D tensor and a view (select) otherwise; #t is the first size.
t[{...}] is Torch7's indexing: x[{{}, 2}] (a column), x[{{1, 2}}] (rows 1..2),
x[{2, {1, 3}}], x[{{-2, -1}}] (from the end); x[{...}] = v fills or copies.
help(t.add) (or any method) shows its own documentation.]])

-- internals for other gd modules (optim, nn, serialize): not public API.
-- fail/argerr/tc keep their explicit-level convention (level counted as
-- error()'s from the function that calls them; default 2, its caller).
local function fail_at(fname, level)
  error(fname .. ": " .. last_error(), (level or 2) + 1)
end
local function argerr_at(fname, msg, level)
  error(fname .. ": " .. msg, (level or 2) + 1)
end
local function tc_at(fname, v, what, level)
  if is_tensor(v) then return v.c end
  argerr_at(fname, fmt("%s must be a tensor, got %s", what or "argument", type(v)), (level or 2) + 1)
end
local function dtype_arg_at(fname, v, default, level)
  if v == nil then return default end
  local d = DTYPES[v]
  if not d then argerr_at(fname, check.unknown_message("dtype", v, gd.dtypes), (level or 2) + 1) end
  return d
end
local function device_arg_at(fname, v, default, level)
  if v == nil then return default end
  local d = DEVICES[v]
  if not d then argerr_at(fname, check.unknown_message("device", v, {"cpu", "cuda"}), (level or 2) + 1) end
  return d
end

gd._internal = {
  wrap = wrap, result = result, fail = fail_at, argerr = argerr_at, tc = tc_at, out1 = out1, out2 = out2,
  sbuf = sbuf, tbuf = tbuf, dbl = dbl, PTR = PTR, DTYPES = DTYPES, DTYPE_NAMES = DTYPE_NAMES,
  DEVICES = DEVICES, DEVICE_NAMES = DEVICE_NAMES, dtype_arg = dtype_arg_at, device_arg = device_arg_at,
  last_error = last_error, C = C, ffi = ffi, TensorCT = TensorCT, grads = grads,
  raise = raise, from_data = from_data,
}

return gd
