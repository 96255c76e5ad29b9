--- gd.bench: an optimizer benchmark in DeepOBS's and AlgoPerf's protocol, with
-- results in SQLite.
--
--   gd.bench.run{problems = {"quadratic_deep"}, optimizers = {"SGD", "Adam"}, db = "results.db",
--                budget = "quick", seeds = 3, workers = 2}
--   gd.bench.report("results.db", {out = "report"})
--
-- Tuning (gd.bench.space): DeepOBS's lr grid (np.logspace(-5, 2, 36)), a grid
-- over any hyperparameters, or random search; every optimizer, flavor and
-- schedule gets the same settings.  The best setting (by the final metric of
-- its seed-0 tuning run) is rerun with seeds 1..k, the same seeds for every
-- optimizer.
--
-- Trials are rows of the table `trials`, the database is the queue: a worker
-- claims a pending row in a BEGIN IMMEDIATE transaction (marking it running,
-- with its pid and its sweep's job) and writes the curve and the result in one
-- transaction, so a killed sweep resumes where it stopped and a finished trial
-- is never run again; WAL lets readers and one writer share the file.  Locally,
-- run starts `workers` gdlua child processes; under mpirun every rank is one
-- worker: rank 0 hands the trials out over gd.dist (gd.bench.dispatch), or,
-- without gd.dist's MPI engine, every rank claims from the shared file.  A trial whose worker died is
-- claimed again (at most 3 times, then it is 'failed').
local gd = require "gd"
local ffi = require "ffi"
local doc = require "gd.doc"
local check = require "gd.check"
local sqlite = require "gd.bench.sqlite"
local problems = require "gd.bench.problems"
local space = require "gd.bench.space"
local now = require "gd.clock"
local dispatch = require "gd.bench.dispatch"

local M = {}
local fmt = string.format
M.problems = problems
M.sqlite = sqlite
M.space = space
M.json_encode, M.json_decode = space.encode, space.decode
local encode, decode = space.encode, space.decode

pcall(ffi.cdef, "int usleep(unsigned int usec); int getpid(void); int kill(int pid, int sig);")
pcall(ffi.cdef, [[
typedef struct { long tv_sec, tv_usec; } gd_bench_timeval;
typedef struct { gd_bench_timeval ru_utime, ru_stime; long ru_rest[14]; } gd_bench_rusage;
int getrusage(int who, gd_bench_rusage *usage);
]])
local function sleep(s) ffi.C.usleep(math.floor(s * 1e6)) end

--- This process's CPU seconds so far: user, system (getrusage, RUSAGE_SELF;
-- start-up included).
local rusage = ffi.new("gd_bench_rusage")
local function cpu_seconds()
  if ffi.C.getrusage(0, rusage) ~= 0 then return 0, 0 end
  local u, s = rusage.ru_utime, rusage.ru_stime
  return tonumber(u.tv_sec) + tonumber(u.tv_usec) * 1e-6, tonumber(s.tv_sec) + tonumber(s.tv_usec) * 1e-6
end
M.cpu_seconds = cpu_seconds

local MAX_ATTEMPTS = 3
M.MAX_ATTEMPTS = MAX_ATTEMPTS

local SCHEMA = [[
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS trials (
  id INTEGER PRIMARY KEY, problem TEXT NOT NULL, optimizer TEXT NOT NULL, flavor TEXT NOT NULL,
  schedule TEXT NOT NULL DEFAULT 'none', hyper TEXT NOT NULL, seed INTEGER NOT NULL, phase TEXT NOT NULL,
  budget INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'pending', worker INTEGER, job TEXT,
  attempts INTEGER NOT NULL DEFAULT 0, final REAL, best REAL,
  steps_to_target INTEGER, seconds_to_target REAL, seconds REAL,
  UNIQUE (problem, optimizer, flavor, schedule, hyper, seed, phase, budget));
CREATE TABLE IF NOT EXISTS points (trial_id INTEGER NOT NULL REFERENCES trials(id), step INTEGER NOT NULL,
  metric TEXT NOT NULL, value REAL, PRIMARY KEY (trial_id, step, metric));
CREATE INDEX IF NOT EXISTS trials_status ON trials (status, id);
CREATE TABLE IF NOT EXISTS workers (job TEXT NOT NULL, pid INTEGER NOT NULL, trials INTEGER NOT NULL,
  user REAL, sys REAL, seconds REAL, idle REAL, PRIMARY KEY (job, pid));
]]

local function open_db(path)
  local db = sqlite.open(path)
  db:exec(SCHEMA)
  local cols = {}
  for _, c in ipairs(db:rows("PRAGMA table_info(trials)")) do cols[c.name] = true end
  if not (cols.schedule and cols.job and cols.attempts) then
    db:close()
    error(fmt("gd.bench.open: %s was written by an older gd.bench (no schedule/job/attempts columns): " ..
      "start a new results database", path), 2)
  end
  return db
end
M.open = doc(open_db, "gd.bench.open", [[
gd.bench.open(path) -> db: the results database (gd.bench.sqlite), tables meta
  (gdlua_version, machine), trials (id, problem, optimizer, flavor, schedule,
  hyper JSON, seed, phase "tune" | "seed", budget, status pending | running |
  done | diverged | failed (an error, logged, or a worker that died 3 times),
  worker pid, job, attempts, final, best, steps_to_target, seconds_to_target,
  seconds), points (trial_id, step, metric "train_loss" | the problem's
  metric, value) and workers (one row per worker process: job, pid, trials,
  user, sys, seconds, idle; see gd.bench.worker).]])

M.lr_grid = doc(space.lr_grid, "gd.bench.lr_grid", [[
gd.bench.lr_grid([n = 36]) -> n learning rates log-spaced from 1e-5 to 1e2
  (DeepOBS's np.logspace(-5, 2, 36)).]])

local function is_bad(v) return v ~= v or v == math.huge or v == -math.huge end

--- Runs one trial row; returns status, final, best, steps_to_target, seconds_to_target, seconds, points.
local function run_trial(row)
  local p = problems[row.problem]
  if p == nil then error("unknown problem " .. tostring(row.problem)) end
  local hyper = decode(row.hyper)
  local class, fixed = space.parse_optimizer(row.optimizer)
  for k, v in pairs(fixed) do hyper[k] = v end
  if row.flavor ~= "default" then hyper.flavor = row.flavor end
  local inst = p.make(row.seed)
  local opt = gd.optim[class](inst.params, hyper)
  local epoch_steps = inst.steps_per_epoch or p.steps_per_epoch or 1
  local sched, sched_name = space.make_schedule(opt, row.schedule or "none", row.budget / epoch_steps)
  local higher = p.higher
  local pts = {}
  local best, final, hit, hit_s
  local status = "done"
  local t0 = now()
  local function evaluate(step)
    local m = inst.eval()
    pts[#pts + 1] = {step, p.metric, m}
    if is_bad(m) then return false end
    final = m
    if best == nil or (higher and m > best) or (not higher and m < best) then best = m end
    if hit == nil and ((higher and m >= p.target) or (not higher and m <= p.target)) then hit, hit_s = step, now() - t0 end
    return true
  end
  local ok = evaluate(0)
  for step = 1, row.budget do
    if not ok then break end
    local l = inst.step()
    if is_bad(l) then pts[#pts + 1] = {step, "train_loss", l}; ok = false; break end
    opt:step()
    if sched and step % epoch_steps == 0 then
      if sched_name == "ReduceLROnPlateau" then sched:step(l) else sched:step() end
    end
    if step % p.eval_every == 0 or step == row.budget then
      pts[#pts + 1] = {step, "train_loss", l}
      ok = evaluate(step)
    end
  end
  if not ok then status = "diverged" end
  return status, final, best, hit, hit_s, now() - t0, pts
end
M.run_trial = run_trial

--- Claims the next pending trial (n = nil: the row or nil) or up to n of them
-- (a list, possibly empty), marking them running; claim_rows runs inside the
-- caller's transaction, claim in its own.
local function claim_rows(db, pid, job, n)
  -- a trial whose worker died MAX_ATTEMPTS times kills workers: it fails instead
  db:run("UPDATE trials SET status = 'failed' WHERE status = 'pending' AND attempts >= ?", MAX_ATTEMPTS)
  local rows = db:rows("SELECT * FROM trials WHERE status = 'pending' ORDER BY id LIMIT ?", n or 1)
  for _, r in ipairs(rows) do
    db:run("UPDATE trials SET status = 'running', worker = ?, job = ?, attempts = attempts + 1 WHERE id = ?",
      pid, job, r.id)
  end
  if n == nil then return rows[1] end
  return rows
end

local function claim(db, pid, job, n)
  return db:transaction(function() return claim_rows(db, pid, job, n) end)
end

local function this_pid() return tonumber(ffi.C.getpid()) end

--- Runs one claimed row; an error is a 'failed' trial (logged), never the worker's end.
local function run_one(row)
  local ok, status, final, best, hit, hit_s, seconds, pts = pcall(run_trial, row)
  if not ok then
    io.stderr:write(fmt("gd.bench: trial %d (%s %s %s) failed: %s\n", row.id, row.problem, row.optimizer,
      row.hyper, tostring(status)))
    return "failed", nil, nil, nil, nil, nil, {}   -- an error, not a NaN: kept apart from divergence
  end
  return status, final, best, hit, hit_s, seconds, pts
end
M._run_one = run_one

--- Writes a trial's result and its curve (worker: the pid that ran it); the
-- caller holds the transaction.
local function store_rows(db, id, worker_pid, status, final, best, hit, hit_s, seconds, pts)
  db:run("DELETE FROM points WHERE trial_id = ?", id)
  for _, q in ipairs(pts) do
    db:run("INSERT INTO points (trial_id, step, metric, value) VALUES (?, ?, ?, ?)", id, q[1], q[2],
      (q[3] and not is_bad(q[3])) and q[3] or nil)
  end
  db:run("UPDATE trials SET status = ?, final = ?, best = ?, steps_to_target = ?, seconds_to_target = ?, " ..
    "seconds = ?, worker = ? WHERE id = ?", status, final, best, hit, hit_s, seconds, worker_pid, id)
end

--- Stores one result in its own transaction (gd.bench.dispatch's rank 0).
local function store(db, ...)
  local args = {...}
  db:transaction(function() store_rows(db, unpack(args, 1, 9)) end)
end
M._store, M._claim = store, claim

-- The seed reruns of one group (problem, optimizer, flavor, schedule, budget):
-- once none of its tuning trials is pending or running, its best finished
-- setting (seed 0) is inserted with seeds 1..seeds (INSERT OR IGNORE: running
-- it again adds nothing).  The caller holds the transaction.
local function advance(db, g, seeds)
  if seeds < 1 then return end
  local open = db:rows("SELECT COUNT(*) AS n FROM trials WHERE problem = ? AND optimizer = ? AND flavor = ? " ..
    "AND schedule = ? AND budget = ? AND phase = 'tune' AND status IN ('pending', 'running')",
    g.problem, g.optimizer, g.flavor, g.schedule, g.budget)[1].n
  if open > 0 then return end
  local p = problems[g.problem]
  local order = type(p) == "table" and p.higher and "DESC" or "ASC"
  local b = db:rows("SELECT hyper FROM trials WHERE problem = ? AND optimizer = ? AND flavor = ? AND schedule = ? " ..
    "AND budget = ? AND phase = 'tune' AND status = 'done' ORDER BY final " .. order .. ", id LIMIT 1",
    g.problem, g.optimizer, g.flavor, g.schedule, g.budget)[1]
  if not b then return end
  for s = 1, seeds do
    db:run("INSERT OR IGNORE INTO trials (problem, optimizer, flavor, schedule, hyper, seed, phase, budget) " ..
      "VALUES (?, ?, ?, ?, ?, ?, 'seed', ?)", g.problem, g.optimizer, g.flavor, g.schedule, b.hyper, s, g.budget)
  end
end

local function alive(pid)
  return pid and ffi.C.kill(pid, 0) == 0 or (pid and ffi.errno() == 1)   -- EPERM: it exists
end

-- Trials left 'running' by local worker processes that are gone (this
-- machine's pids: a worker SIGKILLed beside its siblings) become pending again.
-- The caller holds the transaction.
local function requeue_dead_local(db)
  local n = 0
  for _, r in ipairs(db:rows("SELECT id, worker FROM trials WHERE status = 'running' AND job LIKE 'local:%'")) do
    if not alive(r.worker) then
      db:run("UPDATE trials SET status = 'pending', worker = NULL WHERE id = ?", r.id)
      n = n + 1
    end
  end
  return n
end

local function count(db, sql, ...) return db:rows(sql, ...)[1].n end

-- seconds between looks at the queue of a worker waiting for its siblings'
-- last trials: 20 ms, growing to 0.25 s while the wait lasts (each look is a
-- short write transaction)
local IDLE_POLL, IDLE_POLL_MAX = 0.02, 0.25

local function worker(path, opts)
  opts = opts or {}
  local db = open_db(path)
  local pid = opts.pid or this_pid()
  local job = opts.job or ("local:" .. pid)
  -- each transaction is a write lock on the shared file that the other workers
  -- wait for: a worker stores the results of its last claim and claims the
  -- next trials in one transaction, up to `batch` at a time (with `workers`
  -- given, fewer as the queue empties, so that no worker holds the sweep's
  -- last trials while another idles)
  local batch = opts.batch or 1
  local siblings = opts.workers
  local seeds = opts.seeds
  local is_local = opts.wait and job:match("^local:") ~= nil
  local n = 0
  local t0, idle, poll = now(), 0, IDLE_POLL
  local results = {}   -- finished, not yet stored: {row, status, final, best, hit, hit_s, seconds, pts}
  local function flush()
    for _, r in ipairs(results) do
      store_rows(db, r[1].id, pid, unpack(r, 2, 8))
      if seeds then advance(db, r[1], seeds) end
    end
    results = {}
  end
  while true do
    local want = batch
    if opts.max_trials then want = math.min(want, opts.max_trials - n) end
    if want < 1 then break end
    local rows, running = db:transaction(function()
      flush()
      local k = want
      if siblings then
        local pending = count(db, "SELECT COUNT(*) AS n FROM trials WHERE status = 'pending'")
        k = math.max(1, math.min(want, math.floor(pending / (2 * siblings))))
      end
      local got = claim_rows(db, pid, job, k)
      if #got > 0 or not opts.wait then return got, 0 end
      -- the queue is empty: the trials still running may add seed reruns, and
      -- a sibling that died leaves its claims running
      if is_local then requeue_dead_local(db) end
      return got, count(db, "SELECT COUNT(*) AS n FROM trials WHERE status IN ('pending', 'running')")
    end)
    if #rows == 0 then
      if running == 0 then break end
      local t = now()
      sleep(poll)
      idle = idle + now() - t
      poll = math.min(IDLE_POLL_MAX, poll * 1.5)
    else
      poll = IDLE_POLL
      for _, row in ipairs(rows) do
        results[#results + 1] = {row, run_one(row)}
        n = n + 1
      end
    end
  end
  -- the results not stored yet, and this process's account: its CPU seconds
  -- (start-up included), its life in this function and its idle waits
  local user, sys = cpu_seconds()
  db:transaction(function()
    flush()
    db:run("INSERT OR REPLACE INTO workers (job, pid, trials, user, sys, seconds, idle) VALUES (?, ?, ?, ?, ?, ?, ?)",
      job, pid, n, user, sys, now() - t0, idle)
  end)
  db:close()
  return n
end
M.worker = doc(worker, "gd.bench.worker", [[
gd.bench.worker(db_path, [{job = text, max_trials = n, batch = k, workers = w, seeds = s, wait = bool}])
  -> trials run: claims pending trials up to k at a time (default 1; with w, the
  number of workers sharing the file, fewer as the queue empties), marked running
  with this process's pid and the sweep's job, and stores their results with
  their curves in the transaction of its next claim.  seeds = s: once a
  problem/optimizer/flavor/schedule's tuning trials are all finished, the worker
  storing the last one adds its best setting's reruns with seeds 1..s.  It stops
  when none is pending, or with wait = true when none is pending or running
  (trials of local workers that died become pending again meanwhile), and
  records itself in the table workers (job, pid, trials, user and sys: its
  process's CPU seconds, seconds: its time in this function, idle: seconds
  spent waiting for its siblings' last trials).
  gd.bench.run starts these as child processes, one start per worker for the
  whole sweep; under mpirun every rank runs one.]])

local function executable()
  -- the host is arg[-1] (a script run by gdlua) or the gdlua next to this package
  -- (lua.c's arg table: the interpreter has the lowest index, past -e/-m and their values)
  local a = rawget(_G, "arg")
  if a and a[-1] then
    local i = -1
    while a[i - 1] do i = i - 1 end
    if a[i]:match("gdlua$") then return a[i] end
  end
  local here = debug.getinfo(1, "S").source:sub(2):match("^(.*)/lua/gd/bench/")
  if here then
    local f = io.open(here .. "/build/bin/gdlua")
    if f then f:close() return here .. "/build/bin/gdlua" end
    f = io.open(here .. "/../../bin/gdlua")   -- installed: PREFIX/share/gdlua/lua/gd/bench
    if f then f:close() return here .. "/../../bin/gdlua" end
  end
  return "gdlua"
end
M.executable = executable

local function shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
M.shell_quote = shell_quote

local function spawn_workers(path, n, job, pending, seeds)
  local cmd = {}
  -- claims per transaction: about an eighth of each worker's share, at most 4
  local batch = math.max(1, math.min(4, math.floor(pending / (8 * n))))
  local code = fmt("require('gd.bench').worker(%q, {job = %q, batch = %d, workers = %d, seeds = %d, wait = true})",
    path, job, batch, n, seeds)
  for _ = 1, n do cmd[#cmd + 1] = shell_quote(M.executable()) .. " -e " .. shell_quote(code) .. " &" end
  -- this process sleeps in the shell's wait until every worker has exited
  cmd[#cmd + 1] = "wait"
  os.execute(table.concat(cmd, " "))
end

local function ncores()
  local f = io.popen("nproc 2>/dev/null")
  local n = f and tonumber(f:read("*l"))
  if f then f:close() end
  return n or 1
end

--- This process's place under mpirun (Open MPI, MPICH/PMI or PMIx): rank, size, job id.
local function mpi_env()
  local e = os.getenv
  local rank = tonumber(e("OMPI_COMM_WORLD_RANK") or e("PMI_RANK") or e("PMIX_RANK") or "")
  local size = tonumber(e("OMPI_COMM_WORLD_SIZE") or e("PMI_SIZE") or "")
  if not rank or not size or size < 2 then return nil end
  local job = e("OMPI_MCA_ess_base_jobid") or e("PMIX_NAMESPACE") or e("PMI_JOBID") or e("SLURM_JOB_ID") or "job"
  return {rank = rank, size = size, job = "mpi:" .. job}
end
M.mpi_env = mpi_env

-- Trials left 'running' by workers that are gone become pending again: those
-- of other jobs whose process is not alive on this machine (a killed sweep),
-- and, after our own workers have all exited, our own.
local function requeue_dead(db, job, own)
  return db:transaction(function()
    local n = 0
    for _, r in ipairs(db:rows("SELECT id, worker, job FROM trials WHERE status = 'running'")) do
      local dead
      if r.job == job then dead = own
      elseif r.job and r.job:match("^local:") then dead = not alive(r.worker)
      else dead = true end   -- another mpirun's job: that sweep is over
      if dead then
        db:run("UPDATE trials SET status = 'pending', worker = NULL WHERE id = ?", r.id)
        n = n + 1
      end
    end
    return n
  end)
end

--- gd.dist, joined over MPI with more than one rank, or nil.  Its collectives'
-- watchdog (GD_DIST_TIMEOUT, 600 s) would end a sweep whose trial outlasts it:
-- unless the user set one, a round may take a day.
local function dist_mpi()
  local ok, dist = pcall(require, "gd.dist")
  if not ok then
    -- under mpirun without libgd_dist.so loading gd.dist fails; LuaJIT leaves
    -- its loading sentinel in package.loaded, where gd.optim would find it
    package.loaded["gd.dist"] = nil
    return nil
  end
  if dist.engine() ~= "mpi" or dist.size() < 2 then return nil end
  if not os.getenv("GD_DIST_TIMEOUT") then dist.init{timeout = 86400} end
  return dist
end

local RUN_KEYS = {problems = true, optimizers = true, flavors = true, schedules = true, budget = true, seeds = true,
  trials = true, workers = true, db = true, search = true, space = true, hyper = true, print = true, mpi = true}

local function run(spec)
  local fname = "gd.bench.run"
  spec = check.options(fname, spec, RUN_KEYS)
  if type(spec.db) ~= "string" then error(fname .. ": db must be a file name (the SQLite results database)", 2) end
  local probs = spec.problems or {"quadratic_deep"}
  local list = {}
  for i, name in ipairs(probs) do
    if problems[name] == nil or type(problems[name]) ~= "table" or not problems[name].make then
      error(fmt("%s: problems[%d]: %s", fname, i, check.unknown_message("problem", tostring(name), problems.names)), 2)
    end
    if problems[name].absent then
      print(fmt("gd.bench: skipping %s: %s", name, problems[name].absent))
    else list[#list + 1] = problems[name] end
  end
  local opts = {}
  for i, o in ipairs(spec.optimizers or {"SGD", "Adam"}) do
    local ok, label = pcall(space.optimizer_label, fname, o)
    if not ok then error(fmt("%s: optimizers[%d]: %s", fname, i, tostring(label):gsub("^" .. fname .. ": ", "")), 2) end
    opts[i] = label
  end
  local flavors = spec.flavors or {"default"}
  local schedules = {}
  for i, s in ipairs(spec.schedules or {"none"}) do
    local ok, label = pcall(space.schedule_label, fname, s)
    if not ok then error(fmt("%s: schedules[%d]: %s", fname, i, tostring(label):gsub("^" .. fname .. ": ", "")), 2) end
    schedules[i] = label
  end
  local search = spec.search or "grid"
  if search ~= "grid" and search ~= "random" then error(fname .. ": search must be \"grid\" or \"random\"", 2) end
  local ntrials = check.number(fname, "trials", spec.trials, {integer = true, min = 1, default = 36})
  local ok_s, settings = pcall(space.settings, fname, search, spec.space, ntrials, spec.hyper)
  if not ok_s then error(settings, 2) end
  -- a wrong optimizer/flavor/schedule fails here, with its message, not as failed trials
  for _, o in ipairs(opts) do
    for _, fl in ipairs(flavors) do
      for _, sc in ipairs(schedules) do
        local probe = gd.zeros(2, {dtype = "float64"})
        probe.grad = gd.zeros_like(probe)
        local class, h = space.parse_optimizer(o)
        for k, v in pairs(settings[1]) do h[k] = v end
        if fl ~= "default" then h.flavor = fl end
        local ok, err = pcall(function()
          local opt = gd.optim[class]({probe}, h)
          space.make_schedule(opt, sc, 10)
        end)
        if not ok then
          error(fmt("%s: optimizer %s with flavor %q%s: %s", fname, o, fl,
            sc ~= "none" and (" and schedule " .. sc) or "", tostring(err)), 2)
        end
      end
    end
  end
  local budget = spec.budget or "full"
  if budget ~= "quick" and budget ~= "full" and (type(budget) ~= "number" or budget < 1 or budget % 1 ~= 0) then
    error(fname .. ": budget must be \"quick\", \"full\" or a whole number of steps, got " .. tostring(budget), 2)
  end
  local seeds = check.number(fname, "seeds", spec.seeds, {integer = true, min = 0, default = 3})
  local mpi = mpi_env()
  local workers = check.number(fname, "workers", spec.workers, {integer = true, min = 0,
    default = mpi and 0 or ncores()})
  if mpi then workers = 0 end   -- each rank is one worker
  local job = mpi and mpi.job or fmt("local:%d", this_pid())
  local is_main = not mpi or mpi.rank == 0
  -- under mpirun with gd.dist's MPI engine rank 0 alone owns the file and hands
  -- the trials out (gd.bench.dispatch); without the engine every rank claims
  -- trials from the shared file itself
  if spec.mpi ~= nil and spec.mpi ~= "dist" and spec.mpi ~= "file" then
    error(fname .. ": mpi must be \"dist\" (rank 0 hands out trials over gd.dist) or \"file\" (every rank " ..
      "claims from the shared file), got " .. tostring(spec.mpi), 2)
  end
  local dist = mpi and spec.mpi ~= "file" and dist_mpi()

  local db = (is_main or not dist) and open_db(spec.db) or nil
  if db then
  requeue_dead(db, job, false)
  db:transaction(function()
    db:run("INSERT OR REPLACE INTO meta VALUES ('gdlua_version', ?)", gd.version)
    db:run("INSERT OR REPLACE INTO meta VALUES ('workers', ?)", dist and
      fmt("gd.dist: %d MPI ranks, rank 0 hands out trials", dist.size()) or mpi and
      fmt("%d MPI ranks claiming trials from the file", mpi.size) or fmt("%d local worker processes", workers))
    local f = io.popen("uname -srm; nproc")
    db:run("INSERT OR REPLACE INTO meta VALUES ('machine', ?)", (f:read("*a"):gsub("\n", " "):gsub("%s+$", "")))
    f:close()
    for _, p in ipairs(list) do
      local steps = budget == "quick" and p.quick or budget == "full" and p.budget or budget
      for _, o in ipairs(opts) do
        for _, fl in ipairs(flavors) do
          for _, sc in ipairs(schedules) do
            for _, h in ipairs(settings) do
              db:run("INSERT OR IGNORE INTO trials (problem, optimizer, flavor, schedule, hyper, seed, phase, budget) " ..
                "VALUES (?, ?, ?, ?, ?, 0, 'tune', ?)", p.name, o, fl, sc, encode(h), steps)
            end
          end
        end
      end
    end
  end)
  end
  -- the groups whose best tuning setting is rerun with seeds 1..k
  local groups = {}
  for _, p in ipairs(list) do
    local steps = budget == "quick" and p.quick or budget == "full" and p.budget or budget
    for _, o in ipairs(opts) do
      for _, fl in ipairs(flavors) do
        for _, sc in ipairs(schedules) do
          groups[#groups + 1] = {problem = p.name, optimizer = o, flavor = fl, schedule = sc, budget = steps}
        end
      end
    end
  end
  -- seed reruns of the groups whose tuning is over (a resumed sweep may have
  -- finished a group's tuning before it was killed); workers add the others
  -- as they store each group's last tuning trial
  local function advance_all()
    if db then db:transaction(function() for _, g in ipairs(groups) do advance(db, g, seeds) end end) end
  end
  if dist then
    -- rank 0 hands out the tuning trials, then the seed reruns
    dispatch.drain(M, dist, db, this_pid(), job)
    advance_all()
    dispatch.drain(M, dist, db, this_pid(), job)
  else
    -- every pending trial runs: the workers, started once, run the tuning
    -- trials and then the seed reruns, and exit when nothing is pending or
    -- running; one that died leaves its trials running, and a sibling or the
    -- next round claims them again
    -- one snapshot: the pending trials and the claims made so far
    local state_sql = "SELECT COALESCE(SUM(status = 'pending'), 0) AS pending, COALESCE(SUM(attempts), 0) AS claims " ..
      "FROM trials"
    while true do
      advance_all()
      local before = db:rows(state_sql)[1]
      if before.pending == 0 then break end
      if workers == 0 then worker(spec.db, {job = job, seeds = seeds, wait = true})
      else spawn_workers(spec.db, math.min(workers, before.pending), job, before.pending, seeds) end   -- no idle starts
      -- under mpirun a rank that dies ends the whole mpirun
      if not mpi then requeue_dead(db, job, true) end
      local after = db:rows(state_sql)[1]
      if after.claims == before.claims and after.pending == before.pending then
        -- workers that cannot start (a broken install) would be started again forever
        db:close()
        error(fname .. ": the workers exited without claiming a trial (their errors are above)", 2)
      end
    end
  end
  local counts = {}
  if db then
    counts = db:rows("SELECT status, COUNT(*) AS n FROM trials GROUP BY status ORDER BY status")
    db:close()
  end
  if spec.print ~= false and is_main then
    local parts = {}
    for _, c in ipairs(counts) do parts[#parts + 1] = c.n .. " " .. c.status end
    print("gd.bench: " .. spec.db .. ": " .. table.concat(parts, ", "))
  end
  return counts
end
M.run = doc(run, "gd.bench.run", [[
gd.bench.run{db = "results.db", [problems = {"quadratic_deep"}], [optimizers = {"SGD", "Adam"}],
  [flavors = {"default"}], [schedules = {"none"}], (optimizers may carry fixed
  hyperparameters: {"SGD", momentum = 0.9} or "SGD momentum=0.9", its own row), [budget = "full" | "quick" | steps],
  [seeds = 3], [trials = 36], [search = "grid" | "random"], [space = {...}],
  [hyper = {fixed ...}], [workers = cores], [mpi = "dist" | "file"]} -> counts by status.
  Grid: the Cartesian product of space's value lists, e.g. space = {momentum =
  {0, 0.9}}; lr takes `trials` values log-spaced 1e-5..1e2 (DeepOBS) unless
  space.lr is given.  Random: `trials` draws, space = {lr = {1e-5, 1e2}} (log-
  uniform), {lo, hi, scale = "linear"} or {choice = {...}}, the same draws for
  every optimizer.  schedules: gd.optim.lr names or {"StepLR", gamma = 0.5, ...},
  stepped once an epoch (T_max, step_size, total_steps default to the run).
  The best tuning trial (seed 0) of each problem/optimizer/flavor/schedule is
  rerun with seeds 1..seeds.  A NaN or inf loss marks a trial diverged.
  workers = 0 runs in this process; n > 0 starts n gdlua child processes
  sharing the database; under mpirun each rank is one worker and rank 0
  prints: with gd.dist's MPI engine rank 0 alone opens the file and hands the
  trials out in rounds (gd.bench.dispatch; the ranks may be on other
  machines), else (or mpi = "file") every rank claims from the shared file.
  Running it again on the same database resumes: finished trials are kept,
  interrupted ones rerun.  The file must be on a local disk (SQLite's WAL
  needs shared memory: not NFS).]])

local function summary(path)
  local db = open_db(path)
  local out = {}
  local groups = db:rows("SELECT DISTINCT problem, optimizer, flavor, schedule FROM trials WHERE phase = 'seed' " ..
    "ORDER BY problem, optimizer, flavor, schedule")
  for _, g in ipairs(groups) do
    local r = db:rows("SELECT hyper, final, steps_to_target, status FROM trials WHERE phase = 'seed' AND problem = ? " ..
      "AND optimizer = ? AND flavor = ? AND schedule = ? ORDER BY seed", g.problem, g.optimizer, g.flavor, g.schedule)
    local finals, steps = {}, {}
    for _, t in ipairs(r) do
      if t.status == "done" then finals[#finals + 1] = t.final end
      if t.steps_to_target then steps[#steps + 1] = t.steps_to_target end
    end
    local mean, std = require("gd.bench.report").mean_std(finals)
    local tune = db:rows("SELECT COUNT(*) AS n, SUM(steps_to_target IS NOT NULL) AS hit FROM trials WHERE phase = 'tune' " ..
      "AND problem = ? AND optimizer = ? AND flavor = ? AND schedule = ? AND status IN ('done', 'diverged')",
      g.problem, g.optimizer, g.flavor, g.schedule)[1]
    out[#out + 1] = {problem = g.problem, optimizer = g.optimizer, flavor = g.flavor, schedule = g.schedule,
      hyper = r[1] and decode(r[1].hyper), mean = mean, std = std, seeds = #finals,
      steps = #steps == #r and #r > 0 and (require("gd.bench.report").mean_std(steps)) or nil,
      tuneability = tune.n > 0 and (tune.hit or 0) / tune.n or nil}
  end
  db:close()
  return out
end
M.summary = doc(summary, "gd.bench.summary", [[
gd.bench.summary(db_path) -> {{problem, optimizer, flavor, schedule, hyper (the tuned
  setting), mean, std (final metric over the seed reruns), seeds, steps (mean
  steps to target, nil unless every seed reached it), tuneability (share of the
  tuning settings that reached the target)}, ...}, one per rerun group.]])

M.report = doc(function(...) return require("gd.bench.report").report(...) end, "gd.bench.report", [[
gd.bench.report(db_path, [{out = "report", formats = {"svg"}}]) -> the Markdown text;
  writes out/report.md, out/<problem>_lr.svg (final metric against lr),
  out/<problem>_curves.svg (the best setting's metric over seeds: mean with a
  -+std band) and out/profile.svg (AlgoPerf performance profile of steps to
  target); formats = {"svg", "png"} writes PNGs beside them.]])

M.main = doc(function(...) return require("gd.bench.cli").main({...}) end, "gd.bench.main", [[
gd.bench.main(command, args...) -> exit status: the command line of
  `gdlua -m gd.bench run|report|problems ...` (and of scripts/optbench.lua,
  installed as gdlua-optbench).]])

return doc(M, "gd.bench", [[
gd.bench: an optimizer benchmark (DeepOBS / AlgoPerf protocol) with results in SQLite:
  run, report, worker, open, lr_grid, problems, space, sqlite, main.  Command line:
  gdlua -m gd.bench run|report|problems ...  (= gdlua scripts/optbench.lua, gdlua-optbench)]])
