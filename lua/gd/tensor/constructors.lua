--- gd.tensor.constructors: gd.tensor, zeros, ones, empty, full, the *_like
-- forms, arange, linspace, eye, and the random ones (rand, randn, randperm,
-- manual_seed, rng_state); uniform_ and normal_ fill in place.
local A = require "gd.aux"
local tonumber, tostring, type, select = tonumber, tostring, type, select
local fmt = string.format
local doc = require "gd.doc"
local check = require "gd.check"
local C = A.C
local Tensor = A.Tensor
local out1 = A.out1
local sbuf = A.sbuf
local u64a = A.u64a
local u64b = A.u64b
local DTYPE_NAMES = A.DTYPE_NAMES
local DEVICE_NAMES = A.DEVICE_NAMES
local INT64 = A.INT64
local MAX_SIZE = A.MAX_SIZE
local result = A.result
local is_tensor = A.is_tensor
local self_c = A.self_c
local tc = A.tc
local dtype_arg = A.dtype_arg
local device_arg = A.device_arg
local shape_args = A.shape_args
local new_empty = A.new_empty
local int64_value = A.int64_value
local from_data = A.from_data
local argerr = A.argerr
local fail = A.fail
local CTOR_OPTS = A.CTOR_OPTS
local seed_arg = A.seed_arg

check.register_internal()

local gd = {}

-- ------------------------------------------------------------ constructors

--- t, a leaf that requires grad when opts.requires_grad says so (float only).
local function grad_opt(fname, t, opts)
  local rg = opts.requires_grad
  if rg == nil or rg == false then return t end
  if rg ~= true then argerr(fname, "option 'requires_grad' must be a boolean, got " .. A.describe(rg)) end
  if C.gd_set_requires_grad(t.c, 1) ~= 0 then fail(fname) end
  return t
end

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
A.document("uniform_", [[t:uniform_([low = 0], [high = 1]) -> t, filled with uniform numbers in [low, high).
An int64 t takes whole numbers, each of low, low + 1, ..., high - 1 equally likely: both bounds
are required, whole, and within +-2^53.]])
function Tensor.normal_(t, mean, std)
  local c = self_c("normal_", t)
  mean, std = mean or 0, std or 1
  check.number("normal_", "mean", mean, {finite = true})
  check.number("normal_", "std", std, {finite = true, min = 0})
  if C.gd_random_(c, 1, mean, std) ~= 0 then fail("normal_") end
  return t
end
A.document("normal_", "t:normal_([mean = 0], [std = 1]) -> t, filled with normal numbers.")

--- A where() value: a tensor, or a number as a 0-d tensor of ref's dtype
-- (float32 when ref is int64 and the number is not a whole int64).

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

return {gd = gd}
