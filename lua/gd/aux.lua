--- gd.aux: the helper layer between the binding (gd.ffi) and the tensor
-- methods, in the role of Lua's lauxlib: the tensor ctype and its wrapping
-- (ownership by generations, then ffi.gc; the collector nudge), libgd's status turned into a Lua
-- error, and the argument checks every tensor function shares.  Modules that
-- call libgd directly (gd.nn, gd.optim, gd.serialize, gd.data) take what they
-- need from here and from gd.ffi; nothing here is public API.
--
-- Errors: every check raises "<fname>: <what was wrong>" at the caller's line
-- through gd.check.raise (the first stack frame outside the files registered
-- with check.register_internal(): a module that raises through these helpers
-- registers itself, so the error lands on the user's line however deep in gd
-- it was found).  Indices and dimensions are 1-based here (negative ones count
-- from the end) and 0-based in C.
--
-- Ctypes and out-parameter boxes are made once, at load time, so that hot
-- loops (`y:add_(x)`, `g:copy_(x):mul_(h)`) compile to traces that allocate
-- nothing.  libgd's memory is invisible to the Lua GC (a 100 MB tensor is an
-- 8-byte handle to it), so every new tensor asks libgd whether enough bytes
-- were allocated since the last collection to make a full one worthwhile
-- (gd_mem_collect_advised: a heap that doubles, with a floor of 64 MB or 4x
-- the Lua heap).
local F = require "gd.ffi"
local check = require "gd.check"
local ffi, C = F.ffi, F.C

check.register_internal()

local A = {ffi = ffi, C = C}

local floor = math.floor
local tonumber, tostring, type, select = tonumber, tostring, type, select
local fmt = string.format
local raise = check.raise
A.raise = raise

-- ------------------------------------------------------- the tensor ctype

-- A Lua tensor is this one-pointer struct owning a reference to a C
-- gd_tensor (released when the struct is collected: see "Ownership by
-- generations" below).  gd.tensor sets its metatype once every method
-- file has loaded (a metatable cannot change after ffi.metatype); the ctype
-- is the same object before and after.
ffi.cdef [[ typedef struct gdlua_tensor { gd_tensor *c; } gdlua_tensor; ]]
local TensorCT = ffi.typeof("gdlua_tensor")
A.TensorCT = TensorCT

--- The methods (gd.Tensor): the method files add to it; the metatype's
-- __index looks names up here first.
A.Tensor = {}
--- Computed fields (t.shape, t.dtype, ...): name -> function(t).
A.getters = {}
--- The metatable given to the ctype: the method files add metamethods.
A.metatable = {}

-- ------------------------------------------------- boxes, made once

A.out1 = ffi.new("gd_tensor*[1]")
A.out2 = ffi.new("gd_tensor*[1]")
A.dbl = ffi.new("double[1]")
A.int_box = ffi.new("int[1]")
A.ibuf = ffi.new("int64_t[8]")
A.sbuf = ffi.new("int64_t[8]")
A.tbuf = ffi.new("int64_t[8]")
A.dims_buf = ffi.new("int[8]")
A.u64a, A.u64b = ffi.new("uint64_t[1]"), ffi.new("uint64_t[1]")
local out1, sbuf = A.out1, A.sbuf

-- --------------------------------------------------- dtypes and devices

A.DTYPES = {float32 = 0, float64 = 1, int64 = 2}
A.DTYPE_NAMES = {[0] = "float32", [1] = "float64", [2] = "int64"}
A.DEVICES = {cpu = 0, cuda = 1}
A.DEVICE_NAMES = {[0] = "cpu", [1] = "cuda"}
A.PTR = {[0] = ffi.typeof("float *"), [1] = ffi.typeof("double *"), [2] = ffi.typeof("int64_t *")}
A.INT64 = 2
A.dtype_list = {"float32", "float64", "int64"}
local DTYPES, DEVICES, PTR, INT64 = A.DTYPES, A.DEVICES, A.PTR, A.INT64

-- operation codes of gd_binary, gd_unary and gd_reduce_* by name, generated from src/ops.def
local ops = require("gd.ops")
A.OP, A.UN, A.RED = ops.binary, ops.unary, ops.reduce

-- sizes, indices and counts are exact in a double up to 2^53 (libgd's limit too)
A.MAX_SIZE = 2 ^ 53
-- int64 values a Lua number can hold: whole numbers in [-2^63, 2^63)
A.INT64_LO, A.INT64_HI = -2 ^ 63, 2 ^ 63
local MAX_SIZE, INT64_LO, INT64_HI = A.MAX_SIZE, A.INT64_LO, A.INT64_HI

-- --------------------------------------------------------------- errors

--- libgd's message for the last failure.  C messages often start with the C
-- function's own name ("view: ..."); the Lua function's name replaces it.
local function last_error()
  local msg = ffi.string(C.gd_last_error())
  return msg:match("^[%a_][%w_]*: (.*)$") or msg
end
A.last_error = last_error

--- Raises "<fname>: <msg>" at the caller of the public function.
local function argerr(fname, msg) raise(fname .. ": " .. msg) end
A.argerr = argerr

--- Raises "<fname>: <libgd's message>" at the caller of the public function.
local function fail(fname) raise(fname .. ": " .. last_error()) end
A.fail = fail

-- -------------------------------------------------------------- wrapping

--- uid -> the Lua object of the tensor's gradient (keeps it alive).
local grads = {}
A.grads = grads

local function finalize(h)
  local c = h.c
  if c ~= nil then
    grads[tonumber(c.uid)] = nil
    h.c = nil
    C.gd_tensor_release(c)
  end
end

-- Ownership by generations.  A finalizer per tensor (ffi.gc) costs about
-- 400 ns in LuaJIT (a hash insertion into the finalizer table and a Lua call
-- when it is collected), ten times a small operation, and most tensors are
-- temporaries that die young.  So a new tensor gets no finalizer: its Lua
-- object goes into a weak-valued table of its generation, and its C pointer
-- into the generation's C array.  A sentinel userdata with a __gc fires at the
-- end of every collection cycle (it re-arms itself).  At fire F, the
-- generations closed at fire F-1 are settled: every entry appended before
-- fire F-1 has been through the atomic phase of cycle F, so a nil slot is a
-- dead handle (its C tensor is released) and a live one is promoted to the
-- usual finalizer.  Temporaries are released at most two cycles after they
-- die; a full collection (the advice below, or collectgarbage(), which gd
-- wraps for this) settles everything at once.  Nothing that mutates the
-- generations runs while `busy` (wrap, settling): a fire then is deferred to
-- the end of that work.  At lua_close, an anchored cdata's finalizer releases
-- what is still in a generation.
local GEN_CAP = 2048
local new_table = require "table.new"
local PtrArray = ffi.typeof("gd_tensor *[?]")
local free_gens = {}   -- settled generations, for reuse
local function new_gen()
  local g = free_gens[#free_gens]
  if g then free_gens[#free_gens] = nil; return g end
  return {objs = setmetatable(new_table(GEN_CAP, 0), {__mode = "v"}), ptrs = PtrArray(GEN_CAP), n = 0}
end
local cur = new_gen()
local recent = {}      -- generations closed since the last fire
local old = {}         -- generations closed before the last fire: settled at the next
local busy, deferred = false, false
local unsettled_limit_reached
local epoch_t0   -- the CPU clock at the start of the pace's epoch (nil: none; see "the pace" below)
local paced      -- at the end of each full collection (collect, collectgarbage): the pace's clock (below)

-- Settling a generation: the live handles get their finalizer, then one C
-- call releases the dead ones' tensors (gd_tensor_release_batch prefetches the
-- next headers, cold since the generation was filled: a release per FFI call,
-- each a chain of cache misses, cost about 5% of the d2l quadratic's step) and
-- names those whose .grad has a Lua object here, to drop.
local settled_uids = ffi.new("int64_t[?]", GEN_CAP)
local function settle(gen)
  local objs, ptrs = gen.objs, gen.ptrs
  for i = 1, gen.n do
    if ptrs[i - 1] ~= nil then
      local o = objs[i]
      if o ~= nil then
        ptrs[i - 1] = nil
        objs[i] = nil
        ffi.gc(o, finalize)
      end
    end
  end
  for j = 0, tonumber(C.gd_tensor_release_batch(ptrs, gen.n, settled_uids)) - 1 do
    grads[tonumber(settled_uids[j])] = nil
  end
  gen.n = 0
  free_gens[#free_gens + 1] = gen
end

local function settle_old()
  local list = old
  old = {}
  for i = 1, #list do settle(list[i]) end
end

--- What a fire does (outside busy): settle what was closed before the last
-- fire, and close what was appended since.
local function on_fire()
  busy = true
  settle_old()
  recent[#recent + 1] = cur
  old, recent = recent, old
  cur = new_gen()
  busy = false
end

local function run_deferred()
  while deferred do
    deferred = false
    on_fire()
  end
end

local arm
local closing = false
local function fire()
  if closing then return end
  arm()
  deferred = true
  if not busy then run_deferred() end
end
arm = function()
  local p = newproxy(true)
  getmetatable(p).__gc = fire
end
arm()

-- at lua_close (this anchor is never collected before): release what is left
local function release_all()
  closing = true
  local function drop(gen)
    for i = 0, gen.n - 1 do
      local c = gen.ptrs[i]
      if c ~= nil then gen.ptrs[i] = nil; C.gd_tensor_release(c) end
    end
    gen.n = 0
  end
  drop(cur)
  for i = 1, #recent do drop(recent[i]) end
  for i = 1, #old do drop(old[i]) end
end
A._generations_anchor = ffi.gc(ffi.new("char[1]"), release_all)

--- A full collection, when libgd advises one (see the top of the file).  Its
-- cost grows with the Lua heap, so the garbage allowed between collections
-- grows with it too: at least 4x the Lua heap (Lua's own collector lets its
-- garbage reach 1x), so that a big Lua heap does not make every 64 MB of
-- temporaries cost a traversal of it.  The fire inside it put everything
-- appended before it into `old`, which the collection's atomic phase has
-- judged: settle it now.
local raw_collectgarbage = collectgarbage

--- Settles every generation: right after a full collection, every entry was
-- appended before its atomic phase.
local function settle_all()
  if busy then return end
  run_deferred()
  busy = true
  settle_old()
  local list = recent
  recent = {}
  for i = 1, #list do settle(list[i]) end
  local g = cur
  cur = new_gen()
  settle(g)
  busy = false
  run_deferred()
end

local live_kb = raw_collectgarbage("count")   -- the Lua heap after the last full collection

-- The grace of the newest tensors.  A forced collection (below) runs inside
-- wrap, that is in the middle of some expression, and the expression may hold
-- a raw pointer to a temporary whose Lua object it has already dropped:
-- C.f(h[k].c, x:view(2, 3).c) wraps the second view while the first one's
-- handle is garbage, and LuaJIT's traces also keep a local only as long as its
-- slot is read again (a local whose last use is `t.c` in an argument list is
-- dead from there).  Settling such a temporary would free the header the
-- call is about to read (the header pool hands it out again at once: a
-- crash, or another tensor's sizes).  So the GRACE newest entries sit out the
-- forced collection: they are taken out of their generations, held strongly
-- while it runs, and appended to the new generation afterwards, to be judged
-- by a later cycle like anything appended then.  What lies between the
-- pointer's read and its use is a few operations of one statement: the 16
-- newest tensors sit out, fewer when they are big (once they hold 64 MB, at
-- least the 4 newest), since a collection the C memory asked for must still
-- release a loop's large temporaries (measured: a grace of 256 held 256 MB of
-- a loop of 1 MB temporaries).
local GRACE, GRACE_MIN, GRACE_BYTES = 16, 4, 64 * 2 ^ 20
local grace_objs, grace_ptrs = {}, PtrArray(GRACE)
local grace_k, grace_bytes = 0, 0
-- (no closure: FNEW would abort the trace of a loop whose wrap collects)
local function grace_take(gen)
  local objs, ptrs = gen.objs, gen.ptrs
  for i = gen.n, 1, -1 do
    if grace_k == GRACE or (grace_k >= GRACE_MIN and grace_bytes >= GRACE_BYTES) then return end
    local c = ptrs[i - 1]
    if c ~= nil then
      grace_bytes = grace_bytes + tonumber(c.count) * 8   -- (at most 8 bytes an element)
      grace_ptrs[grace_k] = c
      grace_k = grace_k + 1
      grace_objs[grace_k] = objs[i] or false   -- false: already found dead by an earlier cycle
      ptrs[i - 1] = nil
      objs[i] = nil
    end
  end
end
local function take_newest()
  grace_k, grace_bytes = 0, 0
  grace_take(cur)
  for j = #recent, 1, -1 do grace_take(recent[j]) end
  for j = #old, 1, -1 do grace_take(old[j]) end
  return grace_k
end
local function give_back_newest(k)
  -- oldest first, so that the generation keeps the order of wrapping
  for i = k, 1, -1 do
    local g = cur
    local n = g.n
    g.ptrs[n] = grace_ptrs[i - 1]
    grace_ptrs[i - 1] = nil
    n = n + 1
    g.objs[n] = grace_objs[i] or nil
    grace_objs[i] = nil
    g.n = n
    if n == GEN_CAP then recent[#recent + 1] = g; cur = new_gen() end
  end
end

local function collect()
  if busy then return end
  run_deferred()
  busy = true
  local k = take_newest()
  busy = false
  raw_collectgarbage()
  settle_all()
  busy = true
  give_back_newest(k)
  busy = false
  run_deferred()
  live_kb = raw_collectgarbage("count")
  C.gd_mem_set_collect_floor(live_kb * 4096)
  paced()
end
A.collect = collect   -- (the specs force one)

--- collectgarbage() and collectgarbage("collect") also release, at once, the
-- C tensors whose handles the collection found dead (without this they would
-- wait for the next cycle's fire); every other option is Lua's own.
function collectgarbage(opt, ...)
  if opt == nil or opt == "collect" then
    local r = raw_collectgarbage("collect")
    settle_all()
    live_kb = raw_collectgarbage("count")
    paced()
    return r
  end
  return raw_collectgarbage(opt, ...)
end

--- Whether the unsettled generations hold enough tensors for a full
-- collection to be worth it.  The Lua heap grows by about 40 bytes a tensor,
-- so its own cycles come only every ~10^5 temporaries in a program of a few
-- MB, while their C headers, storages and records wait, and are cold in the
-- cache by the time they are released and reused (about 400 bytes each).  A
-- full collection costs about 0.18 us per KB of live Lua heap (97 us for the
-- 540 KB of gd loaded, measured here), so the base rule is one every 4
-- tensors per KB of the heap that survived the last collection (at least
-- 4096, at most 262144).  Measured on the d2l quadratic through autograd
-- (3 temporaries a step, 2026-12-02, idle machine): 16 per KB of the heap
-- counted with its garbage (the rule before) gave 380-430 k steps/s, 16 per
-- KB of the live heap 420-460 k, 8 per KB 390-540 k, 4 per KB 620-700 k;
-- the other autograd loops of make bench did not change.  The live heap, not
-- collectgarbage("count"): that counts the garbage too, which made the limit
-- grow between collections with the very temporaries it is meant to bound.
--
-- Which multiple of the base rule is best depends on the machine: the
-- collections' fixed cost falls with the number of tensors between them, and
-- the waiting tensors' memory falls out of the caches.  On a 2-core AMD EPYC
-- (1 MB L2 a core) 4096 was best and 16384 20% slower; on a 2-core Intel Xeon
-- (2 MB L2 a core) 32768 ran 1.99 M steps/s against 1.55 M at 4096 and
-- 1.05 M at 65536 (2026-12-03).  So the pace climbs: gd.pace measures the
-- tensors wrapped per CPU second over epochs of at least PACE_CYCLES full
-- collections and PACE_SECONDS, and moves the multiple (1, 2, 4, 8: level
-- 0..PACE_TOP) of the floor, 4096, towards the faster one ("the pace").
-- Every full collection ends a cycle of the epoch, whatever asked for it (the
-- memory advice, collectgarbage()): a loop of large tensors that the advice
-- collects must still measure the level it inherited from the loop before.
-- The floor, not the whole rule: the generations' own tables are Lua heap
-- (32 KB for each 2048 tensors), so a multiple of the heap rule fed on
-- itself (at 8x: 59000 tensors between collections instead of 32768, at
-- 1.1 M steps/s).
local UNSETTLED_MIN, UNSETTLED_PER_KB, UNSETTLED_MAX = 4096, 4, 262144
local PACE_TOP, PACE_CYCLES, PACE_SECONDS = 3, 4, 0.01
local pacer = require("gd.pace").new(PACE_TOP)
local pace_mult = 1
local gens_closed = 0                -- generations filled since load (a count of tensors / GEN_CAP)
local epoch_gens, epoch_cycles = 0, 0
local cpu_clock = os.clock

--- The number of unsettled tensors that calls for a collection.
local function unsettled_limit()
  local limit = live_kb * UNSETTLED_PER_KB
  local floor = UNSETTLED_MIN * pace_mult
  if limit < floor then limit = floor end
  return limit < UNSETTLED_MAX and limit or UNSETTLED_MAX
end
unsettled_limit_reached = function()
  return (#recent + #old) * GEN_CAP >= unsettled_limit()
end

--- After a full collection: the end of an epoch when it has lasted long
-- enough (see above).
paced = function()
  local now = cpu_clock()
  if not epoch_t0 then
    epoch_t0, epoch_gens, epoch_cycles = now, gens_closed, 0
    return
  end
  epoch_cycles = epoch_cycles + 1
  local dt = now - epoch_t0
  if epoch_cycles < PACE_CYCLES or dt < PACE_SECONDS then return end
  local level = pacer:observe((gens_closed - epoch_gens) / dt)
  epoch_t0, epoch_gens, epoch_cycles = now, gens_closed, 0
  if 2 ^ level ~= pace_mult then
    -- the cycle that grows (or shrinks) into the new limit is not measured:
    -- its first reach for that much memory costs page faults, not the pace
    pace_mult = 2 ^ level
    epoch_t0 = nil
  end
end

--- For the specs: the pace's climber, the current limit, and a way to set
-- the level (nil: back to climbing from where it is).
A._pace = {
  climber = pacer,
  limit = unsettled_limit,
  set_level = function(level)
    if level then pacer.level, pacer.home, pacer.probing = level, level, false end
    pace_mult = 2 ^ pacer.level
    epoch_t0 = nil
  end,
}

--- Takes ownership of one reference to a C tensor and returns its Lua object.
-- GD_GC_TORTURE=n (a test mode, as Lua's own GC stress tests): a forced
-- collection every n tensors, so that a raw pointer that outlives its handle
-- (see GRACE above) shows up as a crash or a wrong value at once instead of
-- once in many runs.  spec/gc_torture_spec.lua runs spec files under it.
local torture_every = tonumber(os.getenv("GD_GC_TORTURE") or "")
if torture_every and torture_every < 1 then torture_every = nil end
local torture_count = 0

local collect_hint = C.gd_mem_collect_hint()   -- (a pointer into libgd: one load per tensor)
local function wrap(c)
  local t = TensorCT(c)
  busy = true
  local g = cur
  local n = g.n
  g.ptrs[n] = c
  n = n + 1
  g.objs[n] = t
  g.n = n
  local full = n == GEN_CAP
  if full then
    recent[#recent + 1] = g
    cur = new_gen()
    gens_closed = gens_closed + 1
  end
  busy = false
  if deferred then run_deferred() end
  if (collect_hint[0] ~= 0 and C.gd_mem_collect_advised() ~= 0) or (full and unsettled_limit_reached()) then
    collect()
  elseif torture_every then
    torture_count = torture_count + 1
    if torture_count >= torture_every then torture_count = 0; collect() end
  end
  return t
end
A.wrap = wrap

--- Does nothing with its arguments, but reads them: a handle passed here
-- stays reachable up to this call, also in compiled code (a LuaJIT trace
-- drops a local that is not read again, so a raw pointer taken from a
-- temporary, t.c or t.c.data, can outlive the handle; Go's runtime.KeepAlive).
function A.keep_alive() end

--- For functions that fill out1: the new tensor, or an error naming fname.
local function result(st, fname)
  if st ~= 0 then fail(fname) end
  return wrap(out1[0])
end
A.result = result

local function is_tensor(v) return ffi.istype(TensorCT, v) end
A.is_tensor = is_tensor

--- The C pointer of `self`; an error when a method is called on something
-- else (typically t.add(x) written for t:add(x)).
function A.self_c(fname, t)
  if is_tensor(t) then return t.c end
  argerr(fname, fmt("expects a tensor as self, got %s (call it as t:%s(...))", type(t), fname))
end

--- The C pointer of a tensor argument, or an error naming the argument.
function A.tc(fname, v, what)
  if is_tensor(v) then return v.c end
  argerr(fname, fmt("%s must be a tensor, got %s", what or "argument", type(v)))
end

--- The shape of C tensor c as a fresh Lua table.
function A.shape_of(c)
  local s = {}
  for d = 0, c.rank - 1 do s[d + 1] = tonumber(c.sizes[d]) end
  return s
end

-- -------------------------------------------------------- argument checks

--- A short description of an argument for messages: numbers and strings as
-- themselves, anything else by its kind (a tensor would print its values).
local function describe(v)
  if type(v) == "number" then return fmt("%.14g", v) end
  if type(v) == "string" then return "'" .. v .. "'" end
  if is_tensor(v) then return "a tensor" end
  return type(v) == "nil" and "nil" or "a " .. type(v)
end
A.describe = describe

--- The dtype code of a name (default when v is nil).
function A.dtype_arg(fname, v, default)
  if v == nil then return default end
  local d = DTYPES[v]
  if not d then argerr(fname, check.unknown_message("dtype", v, A.dtype_list)) end
  return d
end

--- The device code of a name (default when v is nil).
function A.device_arg(fname, v, default)
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

--- The options every constructor takes.
A.CTOR_OPTS = {dtype = true, device = true, requires_grad = true}

--- Sizes and options from gd.zeros-style arguments: (n, m, ..., [opts]) or
-- ({n, m, ...}, [opts]).  Fills sbuf; returns rank, opts.
function A.shape_args(fname, ...)
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
  return rank, check.options(fname, opts, A.CTOR_OPTS)
end

--- A new uninitialised tensor of the sizes in sbuf.
local function new_empty(fname, rank, dtype, device)
  return result(C.gd_empty(out1, rank, sbuf, dtype, device), fname)
end
A.new_empty = new_empty

--- Sizes from (n, m, ...) or ({n, m, ...}) into sbuf, -1 allowed; returns the count.
function A.sizes_from(fname, a, ...)
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
function A.dim0(fname, c, d, extra)
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
function A.index0(fname, c, d, i)
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

function A.not_freed(fname, c)
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
A.int64_value = int64_value

--- True when v is a number an int64 tensor can hold exactly.
function A.fits_int64(v)
  return v == floor(v) and v == v and v >= INT64_LO and v < INT64_HI
end

--- A seed: a whole number in [0, 2^53], or a uint64/int64 cdata.
function A.seed_arg(fname, seed)
  if type(seed) == "cdata" and (ffi.istype("uint64_t", seed) or ffi.istype("int64_t", seed)) then return seed end
  return check.number(fname, "seed", seed, {integer = true, min = 0, max = MAX_SIZE})
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
A.from_data = from_data

--- A tensor operand: v itself, or a table made into a tensor of like_c's
-- dtype (float32 if like_c is int64 and a value is not whole) and device.
-- Callers pass the returned object's .c to C, which keeps it alive.
function A.operand(fname, v, like_c)
  if is_tensor(v) then return v end
  if type(v) == "table" then
    local t = from_data(fname, v, like_c.scalar_type, true)
    if like_c.device_kind ~= 0 then t = result(C.gd_to(out1, t.c, -1, like_c.device_kind), fname) end
    return t
  end
  argerr(fname, "operand must be a tensor, a number or a table, got " .. type(v))
end

-- ------------------------------------------------------------------ docs

local doc = require "gd.doc"

--- Registers the documentation of method `name` (it must exist) as
-- "Tensor:<name>"; the method files call it right after each definition.
function A.document(name, text)
  local m = A.Tensor[name]
  if m == nil then error("gd.aux.document: no method '" .. tostring(name) .. "'", 2) end
  doc(m, "Tensor:" .. name, text)
end

return A
