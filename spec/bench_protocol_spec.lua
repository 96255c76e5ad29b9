-- gd.bench's protocol beyond the lr grid: settings over any hyperparameters,
-- schedules and fixed-hyperparameter optimizers in sweeps, the problems' data,
-- a worker killed mid-sweep, ranks under mpirun, `gdlua -m gd.bench` and the
-- installed gdlua-optbench.
local gd = require "gd"
local bench = gd.bench
local space = bench.space
local P = bench.problems
local proc = dofile("spec/support/process.lua")

local B = dofile("spec/support/bench_db.lua")
local tmpdb, cleanup, rows = B.tmpdb, B.cleanup, B.rows
local function alive(pid) return os.execute("kill -0 " .. pid .. " 2>/dev/null") == 0 end

describe("gd.bench.space", function()
  it("grids the Cartesian product of any hyperparameters, lr on DeepOBS's grid unless given", function()
    local s = space.settings("f", "grid", {momentum = {0, 0.9}}, 3, {nesterov = false})
    assert.equal(6, #s)                        -- 3 learning rates x 2 momenta
    local seen = {}
    for _, h in ipairs(s) do
      seen[string.format("%.6g/%g", h.lr, h.momentum)] = true
      assert.equal(false, h.nesterov)          -- the fixed values in every setting
    end
    -- np.logspace(-5, 2, 3) = 1e-5, 10^-1.5, 1e2
    for _, k in ipairs{"1e-05/0", "0.0316228/0", "100/0", "1e-05/0.9", "0.0316228/0.9", "100/0.9"} do
      assert.truthy(seen[k], k)
    end
    local g = space.settings("f", "grid", {lr = {0.1, 0.2}, eps = {1e-8}}, 36)
    assert.equal(2, #g)                        -- space.lr replaces the default grid
  end)

  it("draws random settings log-uniformly, uniformly or from a choice, the same every time", function()
    local sp = {lr = {1e-4, 1}, momentum = {0, 0.99, scale = "linear"}, nesterov = {choice = {true, false}}}
    local a, b = space.settings("f", "random", sp, 200), space.settings("f", "random", sp, 200)
    local below, lin_low, t = 0, 0, 0
    for i, h in ipairs(a) do
      assert.equal(h.lr, b[i].lr)              -- MT19937 from seed 0: every optimizer gets these
      assert.is_true(h.lr >= 1e-4 and h.lr <= 1)
      assert.is_true(h.momentum >= 0 and h.momentum <= 0.99)
      if h.lr < 1e-2 then below = below + 1 end
      if h.momentum < 0.495 then lin_low = lin_low + 1 end
      if h.nesterov == true then t = t + 1 end
    end
    -- log-uniform: half the draws under the geometric middle 1e-2 (a uniform draw
    -- would put 1% there); linear: half under the arithmetic middle
    assert.is_true(below > 70 and below < 130, below)
    assert.is_true(lin_low > 70 and lin_low < 130, lin_low)
    assert.is_true(t > 70 and t < 130, t)
  end)

  it("names the hyperparameter of a bad range", function()
    assert.has_error(function() space.settings("gd.bench.run", "random", {lr = {0, 1}}, 3) end,
      "gd.bench.run: space.lr: a log-uniform range needs lo > 0 (or scale = \"linear\"), got 0")
    assert.has_error(function() space.settings("gd.bench.run", "random", {lr = {1, 0.1}}, 3) end,
      "gd.bench.run: space.lr must be {lo, hi} with lo < hi, got {1, 0.1}")
    assert.has_error(function() space.settings("gd.bench.run", "grid", {momentum = 0.9}, 3) end,
      "gd.bench.run: space.momentum must be a table (a list of values), got number")
  end)

  it("stores settings as JSON that reads back exactly, strings with commas and quotes included", function()
    local h = {lr = 0.1, eps = 1e-8, name = 'a,b "c"}', nesterov = true, n = 3}
    local text = space.encode(h)
    assert.equal('{"eps":1e-08,"lr":0.1,"n":3,"name":"a,b \\"c\\"}","nesterov":true}', text)
    assert.same(h, space.decode(text))
    assert.equal(0.1 + 0.2, space.decode(space.encode{x = 0.1 + 0.2}).x)   -- 17 digits where needed
  end)
end)

describe("gd.bench.run with schedules and fixed hyperparameters", function()
  it("steps the schedule once an epoch: StepLR with gamma 0 stops SGD after one step", function()
    -- d2l's quadratic 0.1 x1^2 + 2 x2^2 from (-5, -2), SGD lr 0.4, one step per epoch.
    -- By hand: the first step goes to (-4.6, 1.2), f = 0.1*4.6^2 + 2*1.2^2 = 4.996;
    -- with lr 0 after it x stays there.  Without the schedule 5 steps give
    -- x1 = -5*0.92^5, x2 = -2*(-0.6)^5.  A schedule never applied gives the
    -- second number, one stepped before the first update gives f(x0) = 10.5.
    local db = tmpdb()
    bench.run{db = db, problems = {"d2l_quadratic"}, optimizers = {"SGD"}, space = {lr = {0.4}}, budget = 5,
      seeds = 0, workers = 0, print = false, schedules = {"none", {"StepLR", step_size = 1, gamma = 0}}}
    local r = rows(db, "SELECT schedule, final FROM trials ORDER BY schedule = 'none' DESC")
    assert.equal(2, #r)
    assert.equal("StepLR gamma=0 step_size=1", r[2].schedule)
    assert.near(0.1 * 4.6 ^ 2 + 2 * 1.2 ^ 2, r[2].final, 1e-12)
    assert.near(0.1 * (5 * 0.92 ^ 5) ^ 2 + 2 * (2 * 0.6 ^ 5) ^ 2, r[1].final, 1e-12)
    cleanup(db)
  end)

  it("keeps an optimizer with fixed hyperparameters apart under its own name ('SGD momentum=0.5')", function()
    local db = tmpdb()
    bench.run{db = db, problems = {"d2l_quadratic"}, optimizers = {"SGD", {"SGD", momentum = 0.5}},
      space = {lr = {0.4}}, budget = 20, seeds = 1, workers = 0, print = false}
    local r = rows(db, "SELECT optimizer, final FROM trials WHERE phase = 'seed' ORDER BY optimizer")
    assert.equal("SGD", r[1].optimizer)
    assert.equal("SGD momentum=0.5", r[2].optimizer)
    -- d2l 12.6's printed results for these settings: x1 -0.943467 and 0.007188
    assert.near(0.1 * 0.943467 ^ 2, r[1].final, 1e-6)
    assert.is_true(r[2].final < 1e-3)
    cleanup(db)
  end)

  it("refuses a bad schedule or optimizer before writing any trial", function()
    local db = tmpdb()
    local ok, err = pcall(bench.run, {db = db, schedules = {"StepLr"}})
    assert.is_false(ok)
    assert.truthy(err:find("gd.bench.run: schedules[1]: unknown schedule 'StepLr' (did you mean 'StepLR'?)", 1, true), err)
    ok, err = pcall(bench.run, {db = db, schedules = {"LambdaLR"}})
    assert.truthy(err:find("LambdaLR takes functions or schedulers and cannot be stored", 1, true), err)
    ok, err = pcall(bench.run, {db = db, optimizers = {"SGD", "Adamm"}})
    assert.truthy(err:find("gd.bench.run: optimizers[2]: unknown optimizer \"Adamm\"", 1, true), err)
    assert.is_nil(io.open(db))
  end)
end)

describe("gd.bench.problems", function()
  it("gives every problem its data, metric, batch size, budgets and target, and the quick budget runs", function()
    for _, name in ipairs(P.names) do
      local p = P[name]
      assert.equal(name, p.name)
      assert.truthy(p.metric == "loss" or p.metric == "accuracy", name)
      for _, k in ipairs{"batch_size", "budget", "quick", "target", "eval_every"} do
        assert.is_number(p[k], name .. "." .. k)
      end
      assert.is_true(p.quick < p.budget, name)
      if not p.absent then
        local st, final = bench.run_trial{problem = name, optimizer = "Adam", flavor = "default", schedule = "none",
          hyper = '{"lr":0.01}', seed = 1, budget = p.quick}
        assert.equal("done", st, name)
        assert.is_number(final, name)
      end
    end
  end)

  it("reads scikit-learn's CSVs whole: iris 50/50/50, wine 59/71/48, breast cancer 212/357", function()
    -- the class counts documented by scikit-learn (load_iris, load_wine, load_breast_cancer):
    -- a dropped header or last line, or labels off by one, changes them
    for name, counts in pairs{iris_mlp = {50, 50, 50}, wine_mlp = {59, 71, 48}, breast_cancer_mlp = {212, 357}} do
      local p = P[name]
      if p.absent then
        assert.truthy(p.absent:find("python3-sklearn", 1, true))
      else
        local tr, te = p.data()
        local c = {}
        for _, set in ipairs{tr, te} do
          for _, y in ipairs(set[2]:totable()) do c[y] = (c[y] or 0) + 1 end
        end
        assert.same(counts, c, name)
        assert.equal(math.floor(#tr[2]:totable() / 0.8 + 0.5) >= #tr[2]:totable(), true)
      end
    end
  end)
end)

describe("gd.bench workers", function()
  it("survive a worker SIGKILLed mid-trial: its trial runs again, nothing finished is repeated", function()
    local db = tmpdb()
    local spec = string.format("gd.bench.run{db = %q, problems = {'quadratic_deep'}, optimizers = {'Adam'}, " ..
      "budget = 6000, trials = 24, seeds = 0, workers = 2, print = false}", db)   -- about 0.2 s a trial
    local f = io.popen(proc.quote(bench.executable()) .. " -e " .. proc.quote(spec) .. " >/dev/null 2>&1 & echo $!")
    local parent = f:read("*l")
    f:close()
    local victim, done_before
    for _ = 1, 600 do   -- until one trial is done and another is running (at most about 30 s)
      os.execute("sleep 0.05")
      local ok, r = pcall(rows, db, "SELECT id, worker FROM trials WHERE status = 'running' ORDER BY id")
      local ok2, d = pcall(rows, db, "SELECT id, seconds FROM trials WHERE status = 'done' ORDER BY id")
      if ok and ok2 and r[1] and #d >= 1 then victim, done_before = r[1], d; break end
    end
    assert.truthy(victim, "no trial was running")
    os.execute("kill -9 " .. victim.worker)
    -- the trial the dead worker held: still 'running' under its pid (it may have
    -- moved on to another trial between the query and the kill)
    local held = rows(db, "SELECT id FROM trials WHERE status = 'running' AND worker = ?", victim.worker)[1]
    assert.truthy(held, "the killed worker held no trial")
    victim.id = held.id
    done_before = rows(db, "SELECT id, seconds FROM trials WHERE status = 'done' ORDER BY id")
    for _ = 1, 1200 do if not alive(parent) then break end; os.execute("sleep 0.05") end
    assert.is_false(alive(parent))
    assert.equal("ok", rows(db, "PRAGMA integrity_check")[1].integrity_check)
    local after = rows(db, "SELECT * FROM trials ORDER BY id")
    assert.equal(24, #after)
    local by_id = {}
    for _, r in ipairs(after) do by_id[r.id] = r; assert.equal("done", r.status) end
    -- the killed trial was claimed again and finished by another process
    assert.is_true(by_id[victim.id].attempts >= 2)
    assert.not_equal(victim.worker, by_id[victim.id].worker)
    for _, r in ipairs(done_before) do
      assert.equal(r.seconds, by_id[r.id].seconds)   -- a rerun would have a new wall time
      assert.equal(1, by_id[r.id].attempts)
    end
    cleanup(db)
  end)

  local function mpirun(code)
    return proc.sh("OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout 120 mpirun --oversubscribe " ..
      "-np 2 " .. proc.quote(bench.executable()) .. " -e " .. proc.quote(code) .. " 2>&1")
  end
  local function has_mpirun() return proc.sh("command -v mpirun"):find("mpirun") ~= nil end

  it("run as ranks under mpirun: rank 0 hands the trials out over gd.dist and stores every curve", function()
    if not has_mpirun() then
      pending("mpirun is not installed (Debian: openmpi-bin)")
      return
    end
    local db = tmpdb()
    local out = mpirun(string.format("gd.bench.run{db = %q, problems = {'quadratic_deep'}, optimizers = {'SGD'}, " ..
      "budget = 600, trials = 10, seeds = 2}", db))
    local _, printed = out:gsub("gd%.bench: [^\n]*done", "")
    assert.equal(1, printed, out)                  -- one report line, from rank 0
    local how = rows(db, "SELECT value FROM meta WHERE key = 'workers'")[1].value
    if how:find("gd.dist", 1, true) then
      assert.equal("gd.dist: 2 MPI ranks, rank 0 hands out trials", how)
    else
      assert.equal("2 MPI ranks claiming trials from the file", how)   -- gd.dist's engine is not built
    end
    local r = rows(db, "SELECT COUNT(*) AS n, COUNT(DISTINCT worker) AS w, MIN(job) AS job, MAX(attempts) AS a " ..
      "FROM trials WHERE status IN ('done', 'diverged')")[1]
    assert.equal(12, r.n)                          -- 10 tuning trials + 2 seeds, none twice
    assert.equal(2, r.w)                           -- both ranks ran trials
    assert.truthy(r.job:find("^mpi:"))
    assert.equal(1, r.a)
    -- a trial that went through the messages came back whole: its result and curve are those of the
    -- same trial run here (the message round trip loses no digit and no point)
    local t = rows(db, "SELECT * FROM trials WHERE status = 'done' AND worker = (SELECT MAX(worker) FROM trials) " ..
      "ORDER BY id LIMIT 1")[1]
    local status, final, best, hit, _, _, pts = bench.run_trial(t)
    assert.equal(status, t.status)
    assert.equal(final, t.final)
    assert.equal(best, t.best)
    assert.equal(hit, t.steps_to_target)
    local stored = rows(db, "SELECT step, metric, value FROM points WHERE trial_id = ? ORDER BY step, metric", t.id)
    assert.equal(#pts, #stored)
    table.sort(pts, function(x, y) return x[1] < y[1] or (x[1] == y[1] and x[2] < y[2]) end)
    for i, q in ipairs(pts) do
      assert.equal(q[1], stored[i].step)
      assert.equal(q[2], stored[i].metric)
      assert.equal(q[3], stored[i].value)
    end
    cleanup(db)
  end)

  it("under mpirun with mpi = 'file': every rank claims trials from the shared file", function()
    if not has_mpirun() then
      pending("mpirun is not installed (Debian: openmpi-bin)")
      return
    end
    local db = tmpdb()
    local out = mpirun(string.format("gd.bench.run{db = %q, problems = {'quadratic_deep'}, optimizers = {'SGD'}, " ..
      "budget = 6000, trials = 10, seeds = 2, mpi = 'file'}", db))   -- 2.4 s of trials: both ranks are up by then
    local _, printed = out:gsub("gd%.bench: [^\n]*done", "")
    assert.equal(1, printed, out)
    assert.equal("2 MPI ranks claiming trials from the file", rows(db, "SELECT value FROM meta WHERE key = 'workers'")[1].value)
    local r = rows(db, "SELECT COUNT(*) AS n, COUNT(DISTINCT worker) AS w, MAX(attempts) AS a FROM trials " ..
      "WHERE status IN ('done', 'diverged')")[1]
    assert.equal(12, r.n)
    assert.equal(2, r.w)
    assert.equal(1, r.a)
    cleanup(db)
  end)
end)

describe("gdlua -m gd.bench", function()
  it("runs the benchmark's command line as python -m does, with its exit status", function()
    local r = proc.run({"-m", "gd.bench", "problems"})
    assert.equal(0, r.status)
    assert.truthy(r.out:find("quadratic_deep%s+loss%s+budget%s+700"))
    r = proc.run({"-m", "gd.bench", "run", "--problems", "quadratic_deep"})
    assert.equal(2, r.status)
    assert.truthy(r.err:find("gd.bench: run needs --db FILE", 1, true))
    local db = tmpdb()
    r = proc.run({"-m", "gd.bench", "run", "--db", db, "--problems", "d2l_quadratic", "--optimizers",
      "SGD,SGD momentum=0.5", "--trials", "3", "--seeds", "1", "--workers", "0", "--budget", "quick"})
    assert.equal(0, r.status, r.err)
    assert.truthy(r.out:find("8 done", 1, true), r.out)
    local out = proc.tmpdir()
    r = proc.run({"-m", "gd.bench", "report", db, "--out", out, "--formats", "svg,png"})
    assert.equal(0, r.status, r.err)
    local md = proc.read(out .. "/report.md")
    assert.truthy(md:find("| SGD momentum=0.5 | default | none |", 1, true))
    assert.equal("\137PNG", proc.read(out .. "/d2l_quadratic_lr.png"):sub(1, 4))
    assert.truthy(proc.read(out .. "/d2l_quadratic_lr.svg"):find("<svg", 1, true))
    r = proc.run({"-m", "gd.bench", "report", "/nonexistent/x.db"})
    assert.equal(2, r.status)
    assert.truthy(r.err:find("no such database", 1, true))
    cleanup(db)
    proc.cleanup()
  end)

  it("is installed by make install as gdlua-optbench, whose workers are the installed gdlua", function()
    if not proc.sh("command -v make"):find("make") then
      pending("make is not installed")
      return
    end
    local dir = proc.tmpdir()
    local prefix = dir .. "/prefix"
    local out = proc.sh(("cd %s && make -s install PREFIX=%s NVCC= 2>&1; echo rc=$?"):format(proc.quote(proc.root),
      proc.quote(prefix)))
    assert.truthy(out:find("rc=0", 1, true), out)
    local db = dir .. "/r.db"
    out = proc.sh(("cd %s && %s/bin/gdlua-optbench run --db r.db --problems d2l_quadratic --optimizers SGD " ..
      "--trials 2 --seeds 1 --workers 1 --budget quick 2>&1; echo rc=$?"):format(proc.quote(dir), proc.quote(prefix)))
    assert.truthy(out:find("3 done", 1, true), out)
    assert.truthy(out:find("rc=0", 1, true), out)
    local r = rows(db, "SELECT COUNT(*) AS n FROM trials WHERE status = 'done'")[1]
    assert.equal(3, r.n)
    proc.cleanup()
  end)
end)

-- the problems' models and data are garbage now: collect them here, so that a
-- later spec's collector step does not free them in the middle of its own
-- count of live bytes (tensor_errors_spec's "releases its memory at once")
teardown(function() collectgarbage(); collectgarbage() end)
