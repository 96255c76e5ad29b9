-- The optimizer benchmark's own speed (gd.bench, issue 17): DeepOBS's 36-point
-- lr sweep on quadratic_deep at the full budget (700 steps) plus the best
-- setting rerun with 3 seeds, for four optimizers (156 trials, about 25 ms
-- each), with 1 and 2 worker processes on fresh databases; trials per second
-- and the ratio (goal: at least 1.8x with 2 workers on 2 idle cores).  Wall
-- time includes starting the workers twice (the sweep, then the seed reruns;
-- about 0.2 s each start): a sweep of one optimizer's 39 trials (1 s of work)
-- measured 0.67x for that reason, so the sweep is four times larger.  The CPU
-- seconds (this process and its workers) show how much of the wall time the
-- machine gave us: a loaded machine shows a lower ratio, the same CPU.
local gd = gd or require "gd"
local ffi = require "ffi"
local bench = gd.bench

-- CPU seconds of this process and its waited-for children (/proc/self/stat:
-- utime, stime, cutime, cstime, in clock ticks)
pcall(ffi.cdef, "long sysconf(int name);")
local function cpu_seconds()
  local f = io.open("/proc/self/stat")
  if not f then return 0 end
  local line = f:read("*l")
  f:close()
  local rest = line:match("%) (.*)$")
  local fields = {}
  for x in rest:gmatch("%S+") do fields[#fields + 1] = x end
  -- after the command: state is field 3 of the file, utime 14 .. cstime 17
  local ticks = tonumber(fields[12]) + tonumber(fields[13]) + tonumber(fields[14]) + tonumber(fields[15])
  local hz = tonumber(ffi.C.sysconf(2)) -- _SC_CLK_TCK
  return ticks / (hz > 0 and hz or 100)
end

local OPTIMIZERS = {"RMSProp", "Adam", "SGD", "AdaGrad"}

local function sweep(workers)
  local db = os.tmpname()
  os.remove(db)
  db = db .. ".db"
  local t0, c0 = gd.clock(), cpu_seconds()
  bench.run{db = db, problems = {"quadratic_deep"}, optimizers = OPTIMIZERS, trials = 36, seeds = 3,
    workers = workers, print = false}
  local dt, dc = gd.clock() - t0, cpu_seconds() - c0
  local h = bench.open(db)
  local n = h:rows("SELECT COUNT(*) AS n FROM trials WHERE status IN ('done', 'diverged')")[1].n
  h:close()
  for _, s in ipairs{"", "-wal", "-shm"} do os.remove(db .. s) end
  return n, dt, dc
end

local n1, t1, c1 = sweep(1)
print(string.format("  quadratic_deep %s, 36 lr x full budget + 3 seeds: %d trials",
  table.concat(OPTIMIZERS, "/"), n1))
print(string.format("  1 worker : %6.2f s  %6.1f trials/s  (CPU %.2f s)", t1, n1 / t1, c1))
local n2, t2, c2 = sweep(2)
print(string.format("  2 workers: %6.2f s  %6.1f trials/s  (CPU %.2f s; %.2fx; goal 1.8x on 2 idle cores)", t2,
  n2 / t2, c2, (n2 / t2) / (n1 / t1)))
