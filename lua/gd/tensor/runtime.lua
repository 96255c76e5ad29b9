--- gd.tensor.runtime: threads, the GPU (gd.cuda) and memory.
local A = require "gd.aux"
local tonumber, tostring, type, select = tonumber, tostring, type, select
local fmt = string.format
local doc = require "gd.doc"
local check = require "gd.check"
local ffi = A.ffi
local C = A.C
local describe = A.describe
local argerr = A.argerr
local fail = A.fail
local last_error = A.last_error
local seed_arg = A.seed_arg

check.register_internal()

local gd = {}

gd.set_num_threads = doc(function(n)
  check.number("gd.set_num_threads", "n", n, {integer = true, max = 256})
  C.gd_set_num_threads(n)
end, "gd.set_num_threads", [[
gd.set_num_threads(n): OpenMP threads for large loops and matrix products
(n <= 0: one per processor; at most 256); with the adaptive count on (the
default, see gd.set_adaptive_threads) a limit.  Results do not depend on it:
reductions and matrix products use blocks fixed by their size, and random
numbers are counter-based.]])
gd.get_num_threads = doc(function() return C.gd_get_num_threads() end, "gd.get_num_threads",
  "gd.get_num_threads() -> the number of threads large loops may use (the limit; see gd.get_active_threads).")
gd.set_adaptive_threads = doc(function(on)
  if type(on) ~= "boolean" then
    error("gd.set_adaptive_threads: on (argument 1) must be true or false, got " .. type(on), 2)
  end
  C.gd_set_adaptive_threads(on and 1 or 0)
end, "gd.set_adaptive_threads", [[
gd.set_adaptive_threads(on): the adaptive thread count, on by default (off also
with GD_ADAPTIVE_THREADS=0 in the environment).  With it on, gd.set_num_threads'
count is a limit: timing the optimizer's steps, gdlua uses one thread fewer
while that trains faster (another process busy on a core) and returns to more
when they pay again.  Either call starts from the limit.  Results do not
depend on the count.]])
gd.get_adaptive_threads = doc(function() return C.gd_get_adaptive_threads() ~= 0 end,
  "gd.get_adaptive_threads", "gd.get_adaptive_threads() -> whether the thread count adapts.")
gd.get_active_threads = doc(function() return C.gd_get_active_threads() end, "gd.get_active_threads",
  "gd.get_active_threads() -> the threads large loops and OpenBLAS use now (at most gd.get_num_threads()).")
gd.cuda_available = doc(function()
  local ok = C.gd_cuda_available() ~= 0
  return ok, (not ok) and last_error() or nil
end, "gd.cuda_available", "gd.cuda_available() -> true, or false and the reason no GPU can be used.")
gd.synchronize = doc(function()
  if C.gd_cuda_available() ~= 0 and C.gd_synchronize(1) ~= 0 then fail("gd.synchronize") end
end, "gd.synchronize", "gd.synchronize(): waits for queued GPU work (a no-op without a GPU).")
gd.memory = doc(function()
  return {cpu = tonumber(C.gd_mem_live_bytes(0)), cuda = tonumber(C.gd_mem_live_bytes(1)),
          cpu_kept = tonumber(C.gd_mem_kept_bytes())}
end, "gd.memory", [[
gd.memory() -> {cpu = bytes, cuda = bytes, cpu_kept = bytes}: live tensor storage per
device, and the freed large CPU blocks (32 MB and more, at most 512 MB of them) kept
for reuse: glibc maps such blocks afresh each time, a page fault per 4 KB, so a loop
of large temporaries reuses them instead (gd.empty_cache() gives them back).]])

gd.empty_cache = doc(function() C.gd_mem_release_kept() end, "gd.empty_cache", [[
gd.empty_cache(): gives the freed large CPU blocks that gd keeps for reuse (see
gd.memory().cpu_kept) back to the system, as torch.cuda.empty_cache() does for
PyTorch's GPU cache.]])

-- gd.cuda: torch.cuda's names for the calls above.  Without a GPU they answer
-- as PyTorch's do: is_available() false, device_count() 0,
-- memory_allocated() 0, synchronize() an error saying why.
local cuda = {}
gd.cuda = doc(cuda, "gd.cuda", [[
gd.cuda: the GPU, with torch.cuda's names: is_available(), device_count(),
synchronize(), memory_allocated(), manual_seed(seed), manual_seed_all(seed);
and transfers() (gdlua's own: the host<->device copies made so far).
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
-- The counters live in the backends (gd_transfer_count): a spec or a user can
-- check that a training loop on the GPU never stages tensor data through the
-- host (PyTorch has no such call; its profiler shows the copies).
cuda.transfers = doc(function()
  return tonumber(C.gd_transfer_count(0)), tonumber(C.gd_transfer_count(1))
end, "gd.cuda.transfers", [[
gd.cuda.transfers() -> copies, values: the host<->device transfers this process
has made so far.  copies counts copies of tensor data (t:to(), t:cpu(), copy_
across devices, bytes in and out); values counts single values (an element read
or written, a reduction's or a loss's result, the bounds an index check reads).
Both stay 0 without a GPU and for CPU work.  A training step on the GPU makes no
copy: take the counts before and after a step to check a loop, e.g.
  local c0 = gd.cuda.transfers(); train_step(); assert(gd.cuda.transfers() == c0)]])
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

return {gd = gd}
