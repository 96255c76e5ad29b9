-- The optimizer benchmark's own speed (gd.bench, issue 17): DeepOBS's 36-point
-- lr sweep of RMSProp on quadratic_deep at the full budget (700 steps) plus the
-- best setting rerun with 3 seeds, 39 trials, with 1 and 2 worker processes on
-- fresh databases; trials per second and the ratio (goal: at least 1.8x with 2
-- workers on 2 idle cores; a loaded machine shows less).  Wall time includes
-- starting the workers and building the problem in each (about 0.06 s).
local gd = gd or require "gd"
local bench = gd.bench

local function sweep(workers)
  local db = os.tmpname()
  os.remove(db)
  db = db .. ".db"
  local t0 = gd.clock()
  bench.run{db = db, problems = {"quadratic_deep"}, optimizers = {"RMSProp"}, trials = 36, seeds = 3,
    workers = workers, print = false}
  local dt = gd.clock() - t0
  local h = bench.open(db)
  local n = h:rows("SELECT COUNT(*) AS n FROM trials WHERE status IN ('done', 'diverged')")[1].n
  h:close()
  for _, s in ipairs{"", "-wal", "-shm"} do os.remove(db .. s) end
  return n, dt
end

local n1, t1 = sweep(1)
print(string.format("  quadratic_deep RMSProp, 36 lr x full budget + 3 seeds: %d trials", n1))
print(string.format("  1 worker : %6.2f s  %6.1f trials/s", t1, n1 / t1))
local n2, t2 = sweep(2)
print(string.format("  2 workers: %6.2f s  %6.1f trials/s  (%.2fx; goal 1.8x on 2 idle cores)", t2, n2 / t2,
  (n2 / t2) / (n1 / t1)))
