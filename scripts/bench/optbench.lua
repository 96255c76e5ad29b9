-- The optimizer benchmark's own speed (gd.bench, issue 17): DeepOBS's 36-point
-- lr sweep on quadratic_deep at the full budget (700 steps) plus the best
-- setting rerun with 3 seeds, for four optimizers (156 trials, about 12 ms
-- each), with 1 and 2 worker processes on fresh databases, interleaved
-- (1, 2, 1, 2, ...: GDLUA_BENCH_REPS rounds, default 3) and the medians printed.
--
-- Two views of the speed-up:
-- - wall: trials per second and their ratio (goal: at least 1.8x with 2
--   workers on 2 idle cores).  On a machine that others share, the workers get
--   what the scheduler leaves them, so this ratio drops with the load.
-- - CPU: every worker records its process's CPU seconds (start-up included)
--   and its idle waits in the database's `workers` table.  The sum over the
--   workers against the 1-worker sweep's CPU is the work that parallelism
--   adds; the 1-worker sweep's CPU divided by the busiest worker's CPU (plus
--   its idle waits) is the ratio that 2 idle cores give, whatever the load.
--   The parent's own CPU during the sweep shows that it sleeps in wait(2).
--
-- Measured on an idle 2-core machine (load 0.9-1.5, 2026-12-02): 1.63x wall,
-- 1.67x CPU view, parallel work 1.18x of serial.  The ceiling is the machine's:
-- two independent 1-worker sweeps run at once (separate processes and
-- databases, nothing shared) each took 9-15% more CPU than one alone (1.96 and
-- 2.07 s against 1.78-1.82 s), while a pure ALU loop scales 2.00x.  A trial
-- gathers 128 random rows of quadratic_deep's X each step (800 KB as float64,
-- more than a core's L2), so the two cores share the L3 and the memory bus:
-- 2 / 1.12 is about 1.78x before any cost of the protocol.  X is now float32
-- (400 KB, DeepOBS's own values): 1.75x and 1.80x against 1.71x and 1.69x
-- with float64 in interleaved runs (2026-12-02, load 0.5-0.9), parallel work
-- 1.07-1.10x of serial against 1.13-1.14x.
--
-- On another machine of the same kind (2026-12-03, idle): 1.88x, then 1.60,
-- 1.58, 1.68, 1.59, 1.65, 1.59, 1.49x over eight runs, parallel work 1.02x-1.29x
-- of serial.  The extra CPU is not this program's: two identical 1-worker
-- sweeps started together (separate processes and databases) took 1.86 and
-- 2.36 s against 1.73-1.90 s alone, and 1.82-2.10 s each when pinned to one
-- core each (taskset), while a throughput-bound ALU loop (8 independent
-- chains) and a strided read of 16 MB beside one sweep slowed neither it nor
-- themselves, which does not bear out the shared-L3 explanation above (the
-- cause is still unknown).  A worker's own fixed cost is about 0.1 s: 30-60 ms for exec,
-- require and quadratic_deep's construction, and the JIT's 266 traces (418
-- starts, 142 aborts, about 870 mprotect calls, 30-70 us each here).
local gd = gd or require "gd"
local ffi = require "ffi"
local bench = gd.bench

-- CPU seconds of the waited-for children of this process (/proc/self/stat:
-- cutime and cstime, in clock ticks): the workers and the shell that waits
pcall(ffi.cdef, "long sysconf(int name);")
local function children_cpu()
  local f = io.open("/proc/self/stat")
  if not f then return 0 end
  local line = f:read("*l")
  f:close()
  local fields = {}
  for x in line:match("%) (.*)$"):gmatch("%S+") do fields[#fields + 1] = x end
  -- after the command: state is field 3 of the file, cutime 16, cstime 17
  local hz = tonumber(ffi.C.sysconf(2)) -- _SC_CLK_TCK
  return (tonumber(fields[14]) + tonumber(fields[15])) / (hz > 0 and hz or 100)
end

local function loadavg()
  local f = io.open("/proc/loadavg")
  local s = f and f:read("*l") or "?"
  if f then f:close() end
  return s:match("^(%S+ %S+ %S+)") or s
end

local OPTIMIZERS = {"RMSProp", "Adam", "SGD", "AdaGrad"}
local REPS = tonumber(os.getenv("GDLUA_BENCH_REPS") or "") or 3

local function sweep(workers)
  local db = os.tmpname()
  os.remove(db)
  db = db .. ".db"
  local t0, c0 = gd.clock(), children_cpu()
  local u0, s0 = bench.cpu_seconds()
  bench.run{db = db, problems = {"quadratic_deep"}, optimizers = OPTIMIZERS, trials = 36, seeds = 3,
    workers = workers, print = false}
  local u1, s1 = bench.cpu_seconds()
  local r = {wall = gd.clock() - t0, children = children_cpu() - c0, parent = (u1 - u0) + (s1 - s0)}
  local h = bench.open(db)
  r.n = h:rows("SELECT COUNT(*) AS n FROM trials WHERE status IN ('done', 'diverged')")[1].n
  r.cpu, r.busiest, r.procs = 0, 0, 0
  for _, w in ipairs(h:rows("SELECT * FROM workers")) do
    local c = w.user + w.sys
    r.cpu, r.procs = r.cpu + c, r.procs + 1
    r.busiest = math.max(r.busiest, c + w.idle)
  end
  h:close()
  for _, s in ipairs{"", "-wal", "-shm"} do os.remove(db .. s) end
  return r
end

local function median(runs, key)
  local xs = {}
  for i, r in ipairs(runs) do xs[i] = r[key] end
  table.sort(xs)
  local m = #xs
  return m % 2 == 1 and xs[(m + 1) / 2] or (xs[m / 2] + xs[m / 2 + 1]) / 2
end

local load_before = loadavg()
local runs = {[1] = {}, [2] = {}}
for _ = 1, REPS do
  for _, w in ipairs{1, 2} do runs[w][#runs[w] + 1] = sweep(w) end
end
local n = runs[1][1].n
print(string.format("  quadratic_deep %s, 36 lr x full budget + 3 seeds: %d trials; %d rounds 1, 2, 1, 2, ..., " ..
  "medians; load average %s before, %s after", table.concat(OPTIMIZERS, "/"), n, REPS, load_before, loadavg()))
local m = {}
for _, w in ipairs{1, 2} do
  m[w] = {}
  for _, k in ipairs{"wall", "cpu", "busiest", "parent", "children"} do m[w][k] = median(runs[w], k) end
  print(string.format("  %d worker%s: %6.2f s  %6.1f trials/s  (workers' CPU %.2f s, busiest %.2f s with its idle " ..
    "waits; parent's CPU %.3f s)", w, w == 1 and " " or "s", m[w].wall, n / m[w].wall, m[w].cpu, m[w].busiest,
    m[w].parent))
end
print(string.format("  2 vs 1 worker: wall %.2fx (the machine's load shares the cores); CPU view %.2fx " ..
  "(1-worker CPU / busiest worker of 2: what 2 idle cores give), parallel work %.2fx of serial; goal 1.8x",
  m[1].wall / m[2].wall, m[1].cpu / m[2].busiest, m[2].cpu / m[1].cpu))
