--- gd.bench: an optimizer benchmark in DeepOBS's and AlgoPerf's protocol, with
-- results in SQLite.
--
--   gd.bench.run{problems = {"quadratic_deep"}, optimizers = {"SGD", "Adam"}, db = "results.db",
--                budget = "quick", seeds = 3, workers = 2}
--   gd.bench.report("results.db", {out = "report"})
--
-- Tuning: DeepOBS's lr grid (np.logspace(-5, 2, 36)) or log-uniform random
-- search; the best setting (by the final metric of the seed-0 tuning run) is
-- rerun with seeds 1..k, the same seeds for every optimizer.  Trials are rows of
-- the table `trials`; workers (gdlua child processes) claim pending rows in a
-- BEGIN IMMEDIATE transaction and write the curve and the result in one
-- transaction, so a killed sweep resumes where it stopped and a finished trial is
-- never run again.
local gd = require "gd"
local doc = require "gd.doc"
local check = require "gd.check"
local sqlite = require "gd.bench.sqlite"
local problems = require "gd.bench.problems"
local MT = require "gd.bench.mt19937"
local now = require "gd.clock"

local M = {}
local fmt = string.format
M.problems = problems
M.sqlite = sqlite

-- JSON for flat hyperparameter tables: keys sorted, so one setting has one text.
local function encode(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = t[k]
    parts[#parts + 1] = fmt("%q:%s", k, type(v) == "number" and fmt("%.17g", v)
      or type(v) == "boolean" and tostring(v) or fmt("%q", tostring(v)))
  end
  return "{" .. table.concat(parts, ",") .. "}"
end
local function decode(s)
  local t = {}
  for k, v in s:gmatch('"([^"]+)":([^,}]+)') do
    if v:sub(1, 1) == '"' then t[k] = v:sub(2, -2)
    elseif v == "true" or v == "false" then t[k] = v == "true"
    else t[k] = tonumber(v) end
  end
  return t
end
M.json_encode, M.json_decode = encode, decode

local SCHEMA = [[
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS trials (
  id INTEGER PRIMARY KEY, problem TEXT NOT NULL, optimizer TEXT NOT NULL, flavor TEXT NOT NULL,
  hyper TEXT NOT NULL, seed INTEGER NOT NULL, phase TEXT NOT NULL, budget INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending', worker INTEGER, final REAL, best REAL,
  steps_to_target INTEGER, seconds_to_target REAL, seconds REAL,
  UNIQUE (problem, optimizer, flavor, hyper, seed, phase, budget));
CREATE TABLE IF NOT EXISTS points (trial_id INTEGER NOT NULL REFERENCES trials(id), step INTEGER NOT NULL,
  metric TEXT NOT NULL, value REAL, PRIMARY KEY (trial_id, step, metric));
]]

local function open_db(path)
  local db = sqlite.open(path)
  db:exec(SCHEMA)
  return db
end
M.open = doc(open_db, "gd.bench.open", [[
gd.bench.open(path) -> db: the results database (gd.bench.sqlite), tables meta,
  trials (id, problem, optimizer, flavor, hyper JSON, seed, phase "tune" | "seed",
  budget, status pending | running | done | diverged | failed (an error, logged), final, best,
  steps_to_target, seconds_to_target, seconds) and points (trial_id, step,
  metric "train_loss" | the problem's metric, value).]])

local function lr_grid(n)
  local g = {}
  for i = 1, n do g[i] = 10 ^ (-5 + 7 * (i - 1) / math.max(n - 1, 1)) end
  return g
end
M.lr_grid = doc(lr_grid, "gd.bench.lr_grid", [[
gd.bench.lr_grid([n = 36]) -> n learning rates log-spaced from 1e-5 to 1e2
  (DeepOBS's np.logspace(-5, 2, 36)).]])

local function is_bad(v) return v ~= v or v == math.huge or v == -math.huge end

--- Runs one trial row; returns status, final, best, steps_to_target, seconds_to_target, seconds, points.
local function run_trial(row)
  local p = problems[row.problem]
  local hyper = decode(row.hyper)
  if row.flavor ~= "default" then hyper.flavor = row.flavor end
  local inst = p.make(row.seed)
  local opt = gd.optim[row.optimizer](inst.params, hyper)
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
    if step % p.eval_every == 0 or step == row.budget then
      pts[#pts + 1] = {step, "train_loss", l}
      ok = evaluate(step)
    end
  end
  if not ok then status = "diverged" end
  return status, final, best, hit, hit_s, now() - t0, pts
end

local function claim(db, pid)
  return db:transaction(function()
    local r = db:rows("SELECT * FROM trials WHERE status = 'pending' ORDER BY id LIMIT 1")[1]
    if r then db:run("UPDATE trials SET status = 'running', worker = ? WHERE id = ?", pid, r.id) end
    return r
  end)
end

local function worker(path, opts)
  opts = opts or {}
  local db = open_db(path)
  local pid = opts.pid or tonumber(io.open("/proc/self/stat"):read("*l"):match("^(%d+)")) or 0
  local n = 0
  while true do
    local row = claim(db, pid)
    if not row then break end
    local ok, status, final, best, hit, hit_s, seconds, pts = pcall(run_trial, row)
    if not ok then
      io.stderr:write(fmt("gd.bench: trial %d (%s %s %s) failed: %s\n", row.id, row.problem, row.optimizer,
        row.hyper, tostring(status)))
      status, pts = "failed", {}   -- an error, not a NaN: kept apart from divergence
    end
    db:transaction(function()
      db:run("DELETE FROM points WHERE trial_id = ?", row.id)
      for _, q in ipairs(pts) do
        db:run("INSERT INTO points (trial_id, step, metric, value) VALUES (?, ?, ?, ?)", row.id, q[1], q[2],
          not is_bad(q[3]) and q[3] or nil)
      end
      db:run("UPDATE trials SET status = ?, final = ?, best = ?, steps_to_target = ?, seconds_to_target = ?, " ..
        "seconds = ? WHERE id = ?", status, final, best, hit, hit_s, seconds, row.id)
    end)
    n = n + 1
    if opts.max_trials and n >= opts.max_trials then break end
  end
  db:close()
  return n
end
M.worker = doc(worker, "gd.bench.worker", [[
gd.bench.worker(db_path, [opts]) -> trials run: claims pending trials one at a time
  (a transaction marks it running) and stores each result with its curve in one
  transaction, until none is left.  gd.bench.run starts these as child processes.]])

local function executable()
  local f = io.popen("readlink /proc/" .. "self/exe 2>/dev/null")
  local exe = f and f:read("*l")
  if f then f:close() end
  -- io.popen's child is the shell; the host is arg[-1] or the gdlua next to busted
  local a = rawget(_G, "arg")
  if a and a[-1] and a[-1]:match("gdlua$") then return a[-1] end
  local here = debug.getinfo(1, "S").source:sub(2):match("^(.*)/lua/gd/bench/")
  if here then return here .. "/build/bin/gdlua" end
  return exe or "gdlua"
end
M.executable = executable

local function shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
M.shell_quote = shell_quote

local function spawn_workers(path, n)
  local cmd = {}
  local code = fmt("require('gd.bench').worker(%q)", path)
  for _ = 1, n do cmd[#cmd + 1] = shell_quote(executable()) .. " -e " .. shell_quote(code) .. " &" end
  cmd[#cmd + 1] = "wait"
  os.execute(table.concat(cmd, " "))
end

local function ncores()
  local f = io.popen("nproc 2>/dev/null")
  local n = f and tonumber(f:read("*l"))
  if f then f:close() end
  return n or 1
end

local RUN_KEYS = {problems = true, optimizers = true, flavors = true, budget = true, seeds = true, trials = true,
  workers = true, db = true, search = true, space = true, hyper = true, print = true}

local function run(spec)
  local fname = "gd.bench.run"
  spec = check.options(fname, spec, RUN_KEYS)
  if type(spec.db) ~= "string" then error(fname .. ": db must be a file name (the SQLite results database)", 2) end
  local probs = spec.problems or {"quadratic_deep"}
  local list = {}
  for i, name in ipairs(probs) do
    if problems[name] == nil then
      error(fmt("%s: problems[%d]: %s", fname, i, check.unknown_message("problem", name, problems.names)), 2)
    end
    if problems[name].absent then
      print(fmt("gd.bench: skipping %s: %s", name, problems[name].absent))
    else list[#list + 1] = problems[name] end
  end
  local opts = spec.optimizers or {"SGD", "Adam"}
  for i, o in ipairs(opts) do
    if type(gd.optim[o]) ~= "table" and type(gd.optim[o]) ~= "function" then
      error(fmt("%s: optimizers[%d]: unknown optimizer %q", fname, i, tostring(o)), 2)
    end
  end
  local flavors = spec.flavors or {"default"}
  -- a wrong optimizer/flavor pair fails here, with its message, not as failed trials
  for _, o in ipairs(opts) do
    for _, fl in ipairs(flavors) do
      local probe = gd.zeros(2, {dtype = "float64"})
      probe.grad = gd.zeros_like(probe)
      local ok, err = pcall(gd.optim[o], {probe}, fl ~= "default" and {flavor = fl} or {})
      if not ok then error(fmt("%s: optimizer %s with flavor %q: %s", fname, o, fl, tostring(err)), 2) end
    end
  end
  local budget = spec.budget or "full"
  if budget ~= "quick" and budget ~= "full" and type(budget) ~= "number" then
    error(fname .. ": budget must be \"quick\", \"full\" or a number of steps, got " .. tostring(budget), 2)
  end
  local seeds = check.number(fname, "seeds", spec.seeds, {integer = true, min = 0, default = 3})
  local ntrials = check.number(fname, "trials", spec.trials, {integer = true, min = 1, default = 36})
  local workers = check.number(fname, "workers", spec.workers, {integer = true, min = 0, default = ncores()})
  local search = spec.search or "grid"
  if search ~= "grid" and search ~= "random" then error(fname .. ": search must be \"grid\" or \"random\"", 2) end
  local space = spec.space or {lr = {1e-5, 1e2}}
  local settings = {}
  if search == "grid" then
    for _, lr in ipairs(lr_grid(ntrials)) do
      local h = {}
      for k, v in pairs(spec.hyper or {}) do h[k] = v end
      h.lr = lr
      settings[#settings + 1] = h
    end
  else
    local rng = MT.RandomState(0)   -- the same settings for every optimizer
    local keys = {}
    for k in pairs(space) do keys[#keys + 1] = k end
    table.sort(keys)
    for _ = 1, ntrials do
      local h = {}
      for k, v in pairs(spec.hyper or {}) do h[k] = v end
      for _, k in ipairs(keys) do
        local r = space[k]
        h[k] = math.exp(math.log(r[1]) + rng:random() * (math.log(r[2]) - math.log(r[1])))
      end
      settings[#settings + 1] = h
    end
  end

  local db = open_db(spec.db)
  db:transaction(function()
    db:run("INSERT OR REPLACE INTO meta VALUES ('gdlua_version', ?)", gd.version)
    local f = io.popen("uname -srm; nproc")
    db:run("INSERT OR REPLACE INTO meta VALUES ('machine', ?)", (f:read("*a"):gsub("\n", " "):gsub("%s+$", "")))
    f:close()
    -- a killed sweep: trials left running by a dead worker run again from the start
    db:run("UPDATE trials SET status = 'pending', worker = NULL WHERE status = 'running'")
    for _, p in ipairs(list) do
      local steps = budget == "quick" and p.quick or budget == "full" and p.budget or budget
      for _, o in ipairs(opts) do
        for _, fl in ipairs(flavors) do
          for _, h in ipairs(settings) do
            db:run("INSERT OR IGNORE INTO trials (problem, optimizer, flavor, hyper, seed, phase, budget) " ..
              "VALUES (?, ?, ?, ?, 0, 'tune', ?)", p.name, o, fl, encode(h), steps)
          end
        end
      end
    end
  end)
  local function go()
    if workers == 0 then worker(spec.db) else spawn_workers(spec.db, workers) end
  end
  go()
  -- the best setting per (problem, optimizer, flavor) rerun with seeds 1..k
  db:transaction(function()
    for _, p in ipairs(list) do
      local order = p.higher and "DESC" or "ASC"
      for _, o in ipairs(opts) do
        for _, fl in ipairs(flavors) do
          local b = db:rows("SELECT hyper, budget FROM trials WHERE problem = ? AND optimizer = ? AND flavor = ? " ..
            "AND phase = 'tune' AND status = 'done' ORDER BY final " .. order .. " LIMIT 1", p.name, o, fl)[1]
          if b then
            for s = 1, seeds do
              db:run("INSERT OR IGNORE INTO trials (problem, optimizer, flavor, hyper, seed, phase, budget) " ..
                "VALUES (?, ?, ?, ?, ?, 'seed', ?)", p.name, o, fl, b.hyper, s, b.budget)
            end
          end
        end
      end
    end
  end)
  go()
  local counts = db:rows("SELECT status, COUNT(*) AS n FROM trials GROUP BY status ORDER BY status")
  db:close()
  if spec.print ~= false then
    local parts = {}
    for _, c in ipairs(counts) do parts[#parts + 1] = c.n .. " " .. c.status end
    print("gd.bench: " .. spec.db .. ": " .. table.concat(parts, ", "))
  end
  return counts
end
M.run = doc(run, "gd.bench.run", [[
gd.bench.run{db = "results.db", [problems = {"quadratic_deep"}], [optimizers = {"SGD", "Adam"}],
  [flavors = {"default"}], [budget = "full" | "quick" | steps], [seeds = 3], [trials = 36],
  [search = "grid" | "random"], [space = {lr = {1e-5, 1e2}, ...}], [hyper = {fixed ...}],
  [workers = cores]} -> counts by status.
  Grid: `trials` learning rates log-spaced 1e-5..1e2 (DeepOBS); random: log-uniform
  draws over space (the same draws for every optimizer).  The best tuning trial
  (seed 0) of each problem/optimizer/flavor is rerun with seeds 1..seeds.  A NaN
  or inf loss marks a trial diverged.  workers = 0 runs in this process; n > 0
  starts n gdlua child processes sharing the database.  Running it again on
  the same database resumes: finished trials are kept, interrupted ones rerun.]])

M.report = doc(function(...) return require("gd.bench.report").report(...) end, "gd.bench.report", [[
gd.bench.report(db_path, [{out = "report"}]) -> the Markdown text; writes out/report.md,
  out/<problem>_lr.svg (final metric against lr), out/<problem>_curves.svg (the best
  setting's metric over seeds: mean with a -+std band) and out/profile.svg
  (AlgoPerf performance profile of steps to target).]])

return doc(M, "gd.bench", [[
gd.bench: an optimizer benchmark (DeepOBS / AlgoPerf protocol) with results in SQLite:
  run, report, worker, open, lr_grid, problems, sqlite.  Command line:
  gdlua scripts/optbench.lua run|report ...]])
