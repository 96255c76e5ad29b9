-- gd.dist over MPI: `mpirun --oversubscribe -np 2` (and 3) running
-- spec/support/dist_worker.lua.  Each run is bounded (timeout); the
-- ranks check what needs them together and raise on a wrong value, and
-- write what the spec compares across runs.  Pending where mpirun or the
-- engine (build/lib/libgd_dist.so) is absent, and under make asan (whose
-- build has no engine: ASan's allocator and Open MPI's own memory hooks
-- disagree, and the suite's time is better spent on gd's own code there).
local P = dofile("spec/support/process.lua")

local MPIRUN = P.sh("command -v mpirun 2>/dev/null"):gsub("%s+$", "")
local ENGINE = P.gdlua:gsub("/bin/gdlua$", "/lib/libgd_dist.so")
local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end
local why_not = (MPIRUN == "" and "mpirun is absent (apt-get install openmpi-bin libopenmpi-dev)")
  or (not exists(ENGINE) and ("the MPI engine is not built (" .. ENGINE .. ")")) or nil

local now = require("gd.progress").now
local WORKER = P.root .. "/spec/support/dist_worker.lua"

--- mpirun -np n gdlua dist_worker.lua args...: {status, out (stdout and stderr), seconds}.
local function mpirun(n, args, env, limit)
  local words = {"OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1", "OMP_NUM_THREADS=1"}
  for k, v in pairs(env or {}) do words[#words + 1] = k .. "=" .. P.quote(v) end
  -- timeout exits 124 when it had to stop the run (SIGTERM, then SIGKILL 5 s later)
  words[#words + 1] = "timeout -k 5 " .. (limit or 60)
  words[#words + 1] = n and (P.quote(MPIRUN) .. " --oversubscribe -np " .. n) or ""
  words[#words + 1] = P.quote(P.gdlua) .. " " .. P.quote(WORKER)
  for _, a in ipairs(args) do words[#words + 1] = P.quote(a) end
  local t0 = now()
  local out = P.sh("cd " .. P.quote(P.root) .. " && env " .. table.concat(words, " ") .. " 2>&1; echo \"exit=$?\"")
  local status = tonumber(out:match("exit=(%d+)%s*$"))
  return {status = status, out = out, seconds = now() - t0}
end
--- The same worker in one plain process (size 1, no mpirun).
local function single(args) return mpirun(nil, args) end

local function ok_run(r)
  assert(r.status == 0, "the run failed (exit " .. tostring(r.status) .. "):\n" .. r.out)
end

local function params(dir, name, rank) return gd.load(dir .. "/" .. name .. "." .. rank) end
local function max_abs_diff(a, b) return (a - b):abs():max() end
local function bitwise_equal(a, b) return a:numel() == b:numel() and a:ne(b):sum() == 0 end

describe("gd.dist over MPI", function()
  after_each(function() P.cleanup() end)

  it("reduces, gathers and broadcasts as computed by hand on 3 ranks, through the chunk loop", function()
    if why_not then pending(why_not) return end
    -- GD_DIST_CHUNK=7: the 50-element tensors go through MPI in chunks of 7
    -- (the loop that keeps counts above INT_MAX within MPI's int); the worker
    -- raises on any wrong element, including the rank-order sum of
    -- 1, 1e16, -1e16 (0; MPI's own order may give 1)
    local r = mpirun(3, {"ops", P.tmpdir()}, {GD_DIST_CHUNK = "7"})
    ok_run(r)
    for rank = 0, 2 do assert.matches("ops ok " .. rank .. " 3", r.out, 1, true) end
  end)

  it("leaves every rank's parameters bitwise equal after k steps (2 ranks float32 Adam, 3 ranks SGD)", function()
    if why_not then pending(why_not) return end
    -- the ranks start from different weights (seed 11 + rank): only
    -- DataParallel's broadcast and identical reduced gradients make them equal
    local d2 = P.tmpdir()
    ok_run(mpirun(2, {"equal", d2, "float32", "Adam", "4"}))
    assert.is_true(bitwise_equal(params(d2, "params", 0), params(d2, "params", 1)))
    local d3 = P.tmpdir()
    ok_run(mpirun(3, {"equal", d3, "float64", "SGD", "4"}))
    local p0 = params(d3, "params", 0)
    assert.is_true(bitwise_equal(p0, params(d3, "params", 1)))
    assert.is_true(bitwise_equal(p0, params(d3, "params", 2)))
  end)

  it("2 ranks x batch B match 1 rank x batch 2B within float32 rounding", function()
    if why_not then pending(why_not) return end
    local d2, d1 = P.tmpdir(), P.tmpdir()
    ok_run(mpirun(2, {"equal", d2, "float32", "Adam", "4"}))
    ok_run(single({"bigbatch", d1, "float32", "Adam", "8"}))
    -- measured 1.8e-7 after 24 Adam steps; a missing 1/N (sums, so doubled
    -- gradients) or a rank on the wrong rows departs by 1e-2 and more
    local diff = max_abs_diff(params(d2, "params", 0), params(d1, "params", 0))
    assert.is_true(diff < 2e-6, "2 ranks vs 1: " .. diff)
  end)

  it("in float64 with the deterministic mode: 2 and 3 ranks give 1 rank's rank-order accumulation to the bit", function()
    if why_not then pending(why_not) return end
    for _, n in ipairs({2, 3}) do
      local dn, d1 = P.tmpdir(), P.tmpdir()
      ok_run(mpirun(n, {"equal", dn, "float64", "SGD", "4", "det"}))
      ok_run(single({"accumulate", d1, "float64", "SGD", "4", tostring(n)}))
      local a, b = params(dn, "params", 0), params(d1, "params", 0)
      assert.is_true(bitwise_equal(a, b), n .. " ranks vs the accumulation: " .. max_abs_diff(a, b))
    end
  end)

  it("in float64 exact arithmetic: 2 ranks x batch B equal 1 rank x batch 2B to the bit", function()
    if why_not then pending(why_not) return end
    local d2, d1 = P.tmpdir(), P.tmpdir()
    ok_run(mpirun(2, {"dyadic", d2, "4", "shard"}))
    ok_run(single({"dyadic", d1, "8"}))
    local a, b = params(d2, "params", 0), params(d1, "params", 0)
    assert.is_true(bitwise_equal(a, b), "max diff " .. max_abs_diff(a, b))
    assert.is_true(bitwise_equal(a, params(d2, "params", 1)))
  end)

  it("PuzzleLib's RMSProp{nodeinfo = gd.dist.nodeinfo()}:setupOn(net) takes DataParallel's step, bit for bit", function()
    if why_not then pending(why_not) return end
    local dp, dn = P.tmpdir(), P.tmpdir()
    ok_run(mpirun(2, {"equal", dp, "float64", "PuzzleRMSProp", "4"}))
    ok_run(mpirun(2, {"puzzle", dn, "float64", "4"}))
    assert.is_true(bitwise_equal(params(dp, "params", 0), params(dn, "params", 0)))
    assert.is_true(bitwise_equal(params(dn, "params", 0), params(dn, "params", 1)))
  end)

  it("folds the 1/N into an optimizer made on the inner net before wrapping it, as into one made on the wrapper", function()
    if why_not then pending(why_not) return end
    local a, b = P.tmpdir(), P.tmpdir()
    ok_run(mpirun(2, {"equal", a, "float64", "SGD", "4"}))
    ok_run(mpirun(2, {"equal", b, "float64", "SGD", "4", "inner"}))
    assert.is_true(bitwise_equal(params(a, "params", 0), params(b, "params", 0)))
  end)

  it("no_sync accumulates locally and the next backward reduces it all", function()
    if why_not then pending(why_not) return end
    local r = mpirun(2, {"nosync", P.tmpdir()})
    ok_run(r)
    assert.matches("nosync ok 0", r.out, 1, true)
    assert.matches("nosync ok 1", r.out, 1, true)
  end)

  it("under autograd, loss:backward() reduces in buckets posted during the walk: the module path's bits, on both ranks", function()
    if why_not then pending(why_not) return end
    -- one run, 2 ranks: float32 with 3 buckets (bucket_cap_mb of 16 bytes),
    -- float64 deterministic (MPI_Iallgather, rank order) with 3, the default
    -- 25 MiB (1 bucket), and no_sync accumulation; the worker raises on a
    -- bucket count other than the hand-computed one, a bucket left for the
    -- walk's end, a reduction count other than the steps', parameters that
    -- differ from dp:backward(grad)'s single allreduce by one bit, or from
    -- the other rank's
    local r = mpirun(2, {"autograd", P.tmpdir()})
    ok_run(r)
    for rank = 0, 1 do
      assert.matches("autograd ok " .. rank .. " float32 cap 1.52587890625e-05", r.out, 1, true)
      assert.matches("autograd ok " .. rank .. " float64 det cap", r.out, 1, true)
      assert.matches("autograd ok " .. rank .. " float32 cap 25", r.out, 1, true)
      assert.matches("autograd ok " .. rank .. " float64 no_sync cap", r.out, 1, true)
      assert.matches("autograd done " .. rank, r.out, 1, true)
    end
  end)

  it("under mpirun -np 1, the buckets run too (collectives of one): the module path's bits", function()
    if why_not then pending(why_not) return end
    -- the path one GPU takes in scripts/gpu-check (NCCL's bucket stream);
    -- here MPI's.  Catches DataParallel making no buckets with one rank
    -- (count 0, not the 3 / 1 the worker checks), a reduction count off, or
    -- a collective of one that changes the gradient (not the module path's bits)
    local r = mpirun(1, {"autograd", P.tmpdir()})
    ok_run(r)
    assert.matches("autograd ok 0 float32 cap 1.52587890625e-05", r.out, 1, true)
    assert.matches("autograd ok 0 float64 det cap", r.out, 1, true)
    assert.matches("autograd ok 0 float32 cap 25", r.out, 1, true)
    assert.matches("autograd ok 0 float64 no_sync cap", r.out, 1, true)
    assert.matches("autograd done 0", r.out, 1, true)
  end)

  it("gd.train: rank 0 alone prints; a 2-rank checkpoint resumes on 2 ranks (same bits) and on 1 rank", function()
    if why_not then pending(why_not) return end
    local A, B, C = P.tmpdir(), P.tmpdir(), P.tmpdir()
    local ra = mpirun(2, {"train", A, "4", "4", A .. "/ck"})
    ok_run(ra)
    local _, lines = ra.out:gsub("epoch %d/4", "")
    assert.equal(4, lines) -- one line per epoch, not one per rank
    -- the loss history is the ranks' average: the same on both ranks
    assert.is_true(bitwise_equal(params(A, "loss", 0), params(A, "loss", 1)))
    ok_run(mpirun(2, {"train", B, "2", "4", B .. "/ck"}))
    assert.is_true(os.execute("cp " .. P.quote(B .. "/ck") .. " " .. P.quote(C .. "/ck")) == 0)
    local rb = mpirun(2, {"train", B, "4", "4", B .. "/ck"})
    ok_run(rb)
    assert.is_nil(rb.out:find("epoch 1/4", 1, true)) -- resumed after epoch 2
    assert.is_true(bitwise_equal(params(A, "final", 0), params(B, "final", 0)))
    -- one rank with the same global batch (8 = 2 x 4) continues the same rows
    ok_run(single({"train", C, "4", "8", C .. "/ck"}))
    local diff = max_abs_diff(params(A, "final", 0), params(C, "final", 0))
    assert.is_true(diff < 1e-12, "1 rank after a 2-rank checkpoint: " .. diff)
  end)

  describe("a failing rank ends every rank, non-zero, within the timeout", function()
    -- limit 60 s (timeout's exit: 124); each case must end well before (mpirun
    -- itself exits 137 after a rank's SIGKILL, 75 after the watchdog's abort)
    local function failed(r, seconds)
      assert.is_true(r.status ~= 0 and r.status ~= 124, "exit " .. tostring(r.status) .. ":\n" .. r.out)
      assert.is_true(r.seconds < seconds, "took " .. r.seconds .. " s")
      assert.is_nil(r.out:find("fail mode finished", 1, true), "a rank finished:\n" .. r.out)
    end
    it("by an error, with the failing rank's message", function()
      if why_not then pending(why_not) return end
      local r = mpirun(2, {"fail", P.tmpdir(), "error"})
      failed(r, 30)
      assert.matches("rank 1 fails on purpose at step 3", r.out, 1, true)
      assert.matches("gd.dist: rank 1 of 2 failed; ending every rank", r.out, 1, true)
    end)
    it("by SIGKILL mid-run", function()
      if why_not then pending(why_not) return end
      failed(mpirun(2, {"fail", P.tmpdir(), "kill"}), 30)
    end)
    it("by hanging: the others' watchdog ends the job after GD_DIST_TIMEOUT", function()
      if why_not then pending(why_not) return end
      -- rank 1 sleeps 60 s; rank 0 waits in its allreduce for 2 s only
      local r = mpirun(2, {"fail", P.tmpdir(), "hang"}, {GD_DIST_TIMEOUT = "2"})
      failed(r, 30)
      assert.matches("did not finish within 2 s (GD_DIST_TIMEOUT)", r.out, 1, true)
    end)
    it("by os.exit(3)", function()
      if why_not then pending(why_not) return end
      local r = mpirun(2, {"fail", P.tmpdir(), "exit"})
      failed(r, 30)
      assert.matches("rank 1 called os.exit(3)", r.out, 1, true)
    end)
  end)
end)
