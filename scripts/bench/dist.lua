-- bench/dist.lua: data-parallel training speed (issue 16).
--
--   build/bin/gdlua scripts/bench/dist.lua          (make bench runs it)
--
-- The digits MLP at width 1024 (64-1024-1024-10, ReLU, CrossEntropyLoss,
-- RMSProp, 1.1M parameters), batches of 64 per rank, one OpenMP thread per
-- rank: `mpirun -np 2` against one plain process, samples per second of
-- training steps (the global batch is 2 x 64 on 2 ranks).  Goal: at least
-- 1.6x.  Also the allreduce's share of a 2-rank step (DataParallel's one
-- MPI_Allreduce over the 4.4 MB gradient arena, timed on rank 0) and what the
-- deterministic (rank-order) mode costs.  Each figure is the best of 3 runs,
-- interleaved; on a machine shared with other work read the ratios.
-- Random data of the digits' shapes (speed does not depend on the values).
local gd = rawget(_G, "gd") or require "gd"
local now = gd.progress.now
local fmt = string.format

local BATCH, HIDDEN, STEPS, WARM = 64, 1024, 40, 5

--- One rank's timed loop: prints "steps_per_s ... allreduce_s ..." on rank 0.
local function worker(deterministic)
  gd.set_num_threads(1)
  local d = gd.dist
  gd.manual_seed(1 + d.rank())
  local X = gd.rand(BATCH * (STEPS + WARM), 64)
  local y = gd.rand(BATCH * (STEPS + WARM)):mul_(10):floor_():long():add_(1)
  gd.manual_seed(0)
  local net = gd.nn.Sequential{gd.nn.Linear(64, HIDDEN), gd.nn.ReLU(), gd.nn.Linear(HIDDEN, HIDDEN), gd.nn.ReLU(),
                               gd.nn.Linear(HIDDEN, 10)}
  local dp = d.DataParallel(net, {deterministic = deterministic})
  local opt = gd.optim.RMSProp(dp, {lr = 1e-3, alpha = 0.9})
  local loss = gd.nn.CrossEntropyLoss()
  local xs, ys = {}, {}
  for i = 1, STEPS + WARM do
    xs[i] = X:narrow(1, (i - 1) * BATCH + 1, BATCH):contiguous()
    ys[i] = y:narrow(1, (i - 1) * BATCH + 1, BATCH):contiguous()
  end
  local t_all, t_ar = 0, 0
  local min_compute, min_ar = math.huge, math.huge
  for i = 1, STEPS + WARM do
    if i == WARM + 1 then d.barrier() end
    local t0 = now()
    opt:zero_grad()
    local _, g = loss(net:forward(xs[i]), ys[i])
    net:backward(g, false)
    local t1 = now()
    if d.size() > 1 then dp:reduce_gradients() end
    local t2 = now()
    opt:step()
    local t3 = now()
    if i > WARM then
      t_all = t_all + (t3 - t0)
      t_ar = t_ar + (t2 - t1)
      min_compute = math.min(min_compute, (t1 - t0) + (t3 - t2))
    end
  end
  -- the allreduce alone, each after a barrier (so that it does not time the
  -- wait for a slower rank): the best of 20
  if d.size() > 1 then
    for _ = 1, 20 do
      d.barrier()
      local t0 = now()
      dp:reduce_gradients()
      min_ar = math.min(min_ar, now() - t0)
    end
  else
    min_ar = 0
  end
  -- the slowest rank sets the pace
  local t = d.allreduce(gd.tensor({t_all, t_ar, min_compute, min_ar}, {dtype = "float64"}), "max")
  if d.is_main() then
    print(fmt("steps %d seconds %.6f allreduce %.6f min_compute %.6f min_allreduce %.6f size %d", STEPS, t:get(1),
      t:get(2), t:get(3), t:get(4), d.size()))
  end
end

if arg and arg[1] == "--worker" then
  worker(arg[2] == "det")
  return
end

local script = debug.getinfo(1, "S").source:sub(2)
local gdlua = (arg and arg[-1]) or "build/bin/gdlua"
local mpirun = io.popen("command -v mpirun 2>/dev/null"):read("*l")
local engine = gdlua:gsub("/bin/gdlua$", "/lib/libgd_dist.so")
local f = io.open(engine, "rb")
if f then f:close() end
if not mpirun or mpirun == "" or not f then
  print("  skipped: " .. ((not mpirun or mpirun == "") and "mpirun is absent" or (engine .. " is not built")))
  return
end

--- One run of np ranks: samples/s and the timings of its rank 0.
local function run_once(np, det)
  local env = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 "
  local cmd = np > 1 and fmt("%s timeout 300 %s --oversubscribe --bind-to none -np %d %s %s --worker %s 2>&1", env,
                             mpirun, np, gdlua, script, det and "det" or "")
                      or fmt("%s timeout 300 %s %s --worker 2>&1", env, gdlua, script)
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  local steps, secs, ar, mc, ma = out:match(
    "steps (%d+) seconds ([%d.e-]+) allreduce ([%d.e-]+) min_compute ([%d.e-]+) min_allreduce ([%d.e-]+)")
  if not steps then error("the run failed:\n" .. out) end
  return {sps = tonumber(steps) * BATCH * np / tonumber(secs), share = tonumber(ar) / tonumber(secs),
          step_ms = 1e3 * tonumber(secs) / tonumber(steps), ar_ms = 1e3 * tonumber(ar) / tonumber(steps),
          compute_ms = 1e3 * tonumber(mc), min_ar_ms = 1e3 * tonumber(ma)}
end

--- The best of each kind over 3 rounds, the kinds interleaved (1 rank, 2
-- ranks, 2 ranks rank-order, then again), so that a change in the machine's
-- load falls on all of them alike.
local function keep_best(best, r)
  if not best then return r end
  if r.sps > best.sps then
    r.compute_ms, r.min_ar_ms = math.min(r.compute_ms, best.compute_ms), math.min(r.min_ar_ms, best.min_ar_ms)
    return r
  end
  best.compute_ms, best.min_ar_ms = math.min(r.compute_ms, best.compute_ms), math.min(r.min_ar_ms, best.min_ar_ms)
  return best
end
local one, two, det
for _ = 1, 3 do
  one = keep_best(one, run_once(1))
  two = keep_best(two, run_once(2))
  det = keep_best(det, run_once(2, true))
end

print(fmt("  MLP-1024, batch %d per rank, 1 thread per rank (best of 3):", BATCH))
print(fmt("    1 rank               %8.0f samples/s   step %.2f ms", one.sps, one.step_ms))
print(fmt("    2 ranks (MPI)        %8.0f samples/s   step %.2f ms   allreduce %.2f ms = %.0f%% of a step",
  two.sps, two.step_ms, two.ar_ms, 100 * two.share))
print(fmt("    2 ranks, rank-order  %8.0f samples/s   step %.2f ms   allreduce %.2f ms = %.0f%% of a step",
  det.sps, det.step_ms, det.ar_ms, 100 * det.share))
print(fmt("    speed-up 2 ranks / 1 rank: %.2fx measured (goal >= 1.6x)", two.sps / one.sps))
-- On a shared machine the wall clock mostly times the other work; the best
-- step and the best allreduce (each the minimum over its repeats) are the
-- pieces' own costs, and give the speed-up an unloaded machine would show:
-- 2 ranks do 2 batches in (compute + allreduce), 1 rank one batch in compute.
local model = 2 * one.compute_ms / (two.compute_ms + two.min_ar_ms)
print(fmt("    best step: 1 rank %.2f ms, 2 ranks %.2f ms + allreduce %.2f ms (4.4 MB, %.1f GB/s of arena)",
  one.compute_ms, two.compute_ms, two.min_ar_ms, 4.4e-3 / (two.min_ar_ms * 1e-3)))
print(fmt("    speed-up from the best times: %.2fx; allreduce share of a 2-rank step %.0f%%", model,
  100 * two.min_ar_ms / (two.compute_ms + two.min_ar_ms)))
print("dist_speedup", fmt("%.3f", two.sps / one.sps), "dist_speedup_best", fmt("%.3f", model))
