-- gd.bench: DeepOBS's quadratic_deep, the SQLite results database, sweeps with
-- worker processes, resume after a kill, divergence and the report.
local gd = require "gd"
local bench = gd.bench
local P = bench.problems
local golden = dofile("spec/golden/quadratic_deep.lua")   -- scripts/golden/quadratic_deep.py (NumPy)

local B = dofile("spec/support/bench_db.lua")
local tmpdb, cleanup, rows = B.tmpdb, B.cleanup, B.rows

describe("gd.bench.problems.quadratic_deep", function()
  local D = P.quadratic_deep_data()

  it("has DeepOBS's spectrum: 90 eigenvalues in (0, 1) and 10 in (30, 60)", function()
    local low, high = 0, 0
    for _, e in ipairs(D.eigenvalues) do
      if e > 0 and e < 1 then low = low + 1 elseif e > 30 and e < 60 then high = high + 1 end
    end
    assert.equal(90, low)
    assert.equal(10, high)
  end)

  it("draws the eigenvalues, the rotation and the data as NumPy's RandomState(42) does", function()
    -- Golden values from DeepOBS's own construction run under NumPy: a different
    -- generator, a different draw order (rotation before eigenvalues), a missing
    -- final negation/transpose or float64 data would each change these digits.
    for i, v in pairs(golden.eigenvalues) do assert.near(v, D.eigenvalues[i], 1e-15) end
    for _, q in ipairs(golden.Q) do assert.near(q[3], D.Q[q[1]][q[2]], 1e-11) end
    for _, x in ipairs(golden.X) do assert.equal(x[3], D.X[x[1]][x[2]]) end
  end)

  it("is Q = R^T diag(eig) R with R orthogonal: row k of R is an eigenvector", function()
    -- from the definition, independently of the generator: catches R vs R^T
    local R, Q, eig = D.R, D.Q, D.eigenvalues
    for _, k in ipairs{1, 57, 95} do
      for i = 1, 100, 9 do
        local a = 0
        for j = 1, 100 do a = a + Q[i][j] * R[k][j] end
        assert.near(eig[k] * R[k][i], a, 1e-9)
      end
      local n = 0
      for j = 1, 100 do n = n + R[k][j] * R[k][j] end
      assert.near(1, n, 1e-12)
    end
  end)

  it("has DeepOBS's loss at theta = ones, and the same minibatches for the same seed", function()
    local a, b, c = P.quadratic_deep.make(3), P.quadratic_deep.make(3), P.quadratic_deep.make(4)
    assert.near(golden.loss_at_ones, a.eval(), 1e-6 * golden.loss_at_ones)  -- mean 0.5 (1-x)'Q(1-x) over the 1000 points
    local la, lb, lc = a.step(), b.step(), c.step()
    assert.equal(la, lb)
    assert.not_equal(la, lc)                   -- the shuffle follows the seed
    assert.equal(a.params[1].grad:get(7), b.params[1].grad:get(7))
  end)

  it("computes a minibatch's loss and gradient as DeepOBS's direct sum over the batch does", function()
    -- The problem uses the expanded form 0.5 t'Qt - t'Q xbar + 0.5 mean x'Qx; the
    -- direct mean of 0.5 (t - x)'Q(t - x) over the batch's rows, computed here from
    -- Q and X, catches a wrong sign, a missing 1/2, a sum instead of a mean, or
    -- a batch mean taken over the wrong rows.
    local inst = P.quadratic_deep.make(5)
    local theta = inst.params[1]
    for j = 1, 100 do theta:set(j, math.sin(j)) end   -- away from the all-ones start
    local l = inst.step()
    local rows = inst.batch()
    assert.equal(128, #rows)
    local direct, g = 0, {}
    for i = 1, 100 do g[i] = 0 end
    for _, n in ipairs(rows) do
      local x = D.X[n]
      for i = 1, 100 do
        local a = 0
        for j = 1, 100 do a = a + D.Q[i][j] * (math.sin(j) - x[j]) end
        direct = direct + 0.5 * (math.sin(i) - x[i]) * a / 128
        g[i] = g[i] + a / 128
      end
    end
    assert.near(direct, l, 1e-10 * math.abs(direct))
    for _, i in ipairs{1, 2, 50, 99, 100} do assert.near(g[i], theta.grad:get(i), 1e-10) end
    -- and the whole-set metric at the same theta
    local full = 0
    for n = 1, 1000 do
      local x = D.X[n]
      for i = 1, 100 do
        local a = 0
        for j = 1, 100 do a = a + D.Q[i][j] * (math.sin(j) - x[j]) end
        full = full + 0.5 * (math.sin(i) - x[i]) * a / 1000
      end
    end
    assert.near(full, inst.eval(), 1e-10 * full)
  end)
end)

describe("gd.bench.run", function()
  it("runs a quick sweep end to end with two worker processes into one database", function()
    local db = tmpdb()
    bench.run{db = db, problems = {"quadratic_deep", "noisy_beale"}, optimizers = {"SGD", "Adam"},
      budget = "quick", trials = 6, seeds = 2, workers = 2, print = false}
    -- 2 problems x 2 optimizers x (6 grid points + 2 seed reruns)
    local n = rows(db, "SELECT COUNT(*) AS n FROM trials")[1].n
    assert.equal(2 * 2 * (6 + 2), n)
    assert.equal(0, rows(db, "SELECT COUNT(*) AS n FROM trials WHERE status NOT IN ('done', 'diverged')")[1].n)
    -- the grid is DeepOBS's logspace: lr 1e-5 and 1e2 at the ends
    local lrs = rows(db, "SELECT hyper FROM trials WHERE problem = 'quadratic_deep' AND optimizer = 'SGD' " ..
      "AND phase = 'tune' ORDER BY id")
    assert.near(1e-5, bench.json_decode(lrs[1].hyper).lr, 1e-18)
    assert.near(1e2, bench.json_decode(lrs[6].hyper).lr, 1e-10)
    -- two concurrent workers: the file is intact, both took trials, each trial has one curve
    assert.equal("ok", rows(db, "PRAGMA integrity_check")[1].integrity_check)
    assert.is_true(rows(db, "SELECT COUNT(DISTINCT worker) AS n FROM trials WHERE phase = 'tune'")[1].n >= 2)
    -- each worker started once for the whole sweep (catches a second start for
    -- the seed reruns: 4 processes), and they ran every trial between them
    local w = rows(db, "SELECT COUNT(*) AS n, SUM(trials) AS trials, MIN(user) AS user FROM workers")[1]
    assert.equal(2, w.n)
    assert.equal(n, w.trials)
    assert.is_true(w.user > 0)
    assert.equal(2, rows(db, "SELECT COUNT(DISTINCT worker) AS n FROM trials")[1].n)
    local pts = rows(db, "SELECT COUNT(*) AS n FROM points p JOIN trials t ON t.id = p.trial_id " ..
      "WHERE t.problem = 'quadratic_deep' AND p.metric = 'loss' AND t.status = 'done'")[1].n
    local done = rows(db, "SELECT COUNT(*) AS n FROM trials WHERE problem = 'quadratic_deep' AND status = 'done'")[1].n
    assert.equal(done * (30 / 7 + 1 - (30 / 7) % 1 + 1), pts)   -- steps 0, 7, 14, 21, 28 and 30
    -- the same seeds for every optimizer
    local s = rows(db, "SELECT optimizer, GROUP_CONCAT(seed) AS seeds FROM trials WHERE phase = 'seed' AND " ..
      "problem = 'quadratic_deep' GROUP BY optimizer ORDER BY optimizer")
    assert.equal(s[1].seeds, s[2].seeds)
    -- divergence is recorded, not fatal: SGD at lr 100 on Beale's function from (-4.5, 4.5)
    local d = rows(db, "SELECT status FROM trials WHERE problem = 'noisy_beale' AND optimizer = 'SGD' AND " ..
      "phase = 'tune' ORDER BY id DESC LIMIT 1")[1]
    assert.equal("diverged", d.status)
    -- the report: tables and plots
    local out = os.tmpname(); os.remove(out)
    local md = bench.report(db, {out = out})
    assert.truthy(md:find("## quadratic_deep", 1, true))
    assert.truthy(md:find("| Adam | default |", 1, true))
    for _, f in ipairs{"report.md", "profile.svg", "quadratic_deep_lr.svg", "quadratic_deep_curves.svg"} do
      local h = io.open(out .. "/" .. f)
      assert.truthy(h, f)
      assert.truthy(h:read("*a"):find(f:match("svg$") and "<svg" or "#", 1, true))
      h:close()
    end
    os.execute("rm -rf " .. bench.shell_quote(out))
    cleanup(db)
  end)

  -- catches: a claim that ignores its count (one transaction, one write lock on
  -- the shared file, per trial) or that hands one trial to two claims
  it("claims several trials in one transaction, and a batched worker runs each once", function()
    local db = tmpdb()
    bench.run{db = db, problems = {"noisy_beale"}, optimizers = {"SGD"}, budget = "quick", trials = 7,
      seeds = 0, workers = 0, print = false}
    local h = bench.open(db)
    h:run("UPDATE trials SET status = 'pending', worker = NULL, attempts = 0")
    local got = bench._claim(h, 11, "local:11", 3)
    assert.equal(3, #got)
    assert.equal(3, h:rows("SELECT COUNT(*) AS n FROM trials WHERE status = 'running' AND worker = 11")[1].n)
    local ran = bench.worker(db, {batch = 3, pid = 12, job = "local:12"})
    assert.equal(4, ran)                                   -- the 4 left: claims of 3 and 1
    local seen = {}
    for _, r in ipairs(got) do seen[r.id] = true end
    for _, r in ipairs(h:rows("SELECT id, worker, status FROM trials WHERE worker = 12")) do
      assert.is_nil(seen[r.id], "trial " .. r.id .. " claimed twice")
      assert.truthy(r.status == "done" or r.status == "diverged", r.status)
    end
    h:close()
    cleanup(db)
  end)

  it("resumes a sweep whose worker was SIGKILLed without repeating a finished trial", function()
    local db = tmpdb()
    local spec = string.format("gd.bench.run{db = %q, problems = {'quadratic_deep'}, optimizers = {'Adam'}, " ..
      "budget = 3000, trials = 36, seeds = 0, workers = 0, print = false}", db)   -- about 0.1 s a trial
    local f = io.popen(bench.shell_quote(bench.executable()) .. " -e " .. bench.shell_quote(spec) ..
      " >/dev/null 2>&1 & echo $!")
    local pid = f:read("*l")
    f:close()
    local done = 0
    for _ = 1, 400 do   -- until a few trials are finished (at most about 20 s)
      os.execute("sleep 0.05")
      local ok, r = pcall(rows, db, "SELECT COUNT(*) AS n FROM trials WHERE status = 'done'")
      done = ok and r[1] and r[1].n or 0
      if done >= 2 then break end
    end
    os.execute("kill -9 " .. pid .. " 2>/dev/null")
    os.execute("sleep 0.1")
    assert.is_true(done >= 2)
    local before = rows(db, "SELECT id, seconds FROM trials WHERE status = 'done' ORDER BY id")
    assert.is_true(#before < 36)    -- killed mid-sweep
    assert.is_function(load(spec))
    load(spec)()
    local after = rows(db, "SELECT id, seconds, status FROM trials ORDER BY id")
    assert.equal(36, #after)                   -- no duplicate rows
    local by_id = {}
    for _, r in ipairs(after) do by_id[r.id] = r; assert.equal("done", r.status) end
    -- a rerun trial would have a new wall time
    for _, r in ipairs(before) do assert.equal(r.seconds, by_id[r.id].seconds) end
    cleanup(db)
  end)

  -- catches: a sweep whose workers cannot start (a broken install) starting
  -- them again forever
  it("stops with a message when its workers exit without claiming a trial", function()
    local db = tmpdb()
    local exe = bench.executable
    bench.executable = function() return "/bin/false" end
    local ok, err = pcall(bench.run, {db = db, problems = {"noisy_beale"}, optimizers = {"SGD"}, budget = "quick",
      trials = 3, seeds = 0, workers = 2, print = false})
    bench.executable = exe
    assert.is_false(ok)
    assert.truthy(tostring(err):find("gd.bench.run: the workers exited without claiming a trial", 1, true), err)
    assert.equal(3, rows(db, "SELECT COUNT(*) AS n FROM trials WHERE status = 'pending' AND attempts = 0")[1].n)
    cleanup(db)
  end)

  it("names the argument when it is wrong", function()
    local ok, err = pcall(function() bench.run{db = "/tmp/x.db", problems = {"quadratic_dep"}} end)
    assert.is_false(ok)
    assert.truthy(err:find("gd.bench.run: problems[1]: unknown problem 'quadratic_dep' (did you mean 'quadratic_deep'?)", 1, true))
    assert.truthy(err:find("^spec/bench_spec.lua:"))   -- raised at the caller's line
    -- a bad flavor stops the sweep before any trial is written (not a column of failed trials)
    local db = tmpdb()
    ok, err = pcall(function() bench.run{db = db, optimizers = {"RMSProp"}, flavors = {"pytorch", "nosuch"}} end)
    assert.is_false(ok)
    assert.truthy(err:find("gd.bench.run: optimizer RMSProp with flavor \"nosuch\"", 1, true))
    assert.is_nil(io.open(db))
    assert.has_error(function() bench.run{problems = {"quadratic_deep"}} end,
      "gd.bench.run: db must be a file name (the SQLite results database)")
  end)
end)

-- the problems' models and data are garbage now: collect them here, so that a
-- later spec's collector step does not free them in the middle of its own
-- count of live bytes (tensor_errors_spec's "releases its memory at once")
teardown(function() collectgarbage(); collectgarbage() end)
