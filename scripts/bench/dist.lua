-- bench/dist.lua: data-parallel training speed (issue 16).
--
--   build/bin/gdlua scripts/bench/dist.lua          (make bench runs it)
--   GD_BENCH_DIST_ROUNDS=9 GD_BENCH_DIST_BIND=none build/bin/gdlua scripts/bench/dist.lua
--
-- The digits MLP at width 1024 (64-1024-1024-10, ReLU, CrossEntropyLoss,
-- RMSProp, 1.1M parameters), batches of 64 per rank, one OpenMP (and so
-- OpenBLAS) thread per rank: `mpirun -np 2` against `mpirun -np 1`, samples
-- per second of training steps (the global batch is 2 x 64 on 2 ranks).
-- Goal: at least 1.6x.  Both run under the same launcher and the same
-- binding (--bind-to core --map-by core where the machine has 2 cores or
-- more: each rank on a core of its own, the 1-rank run too), and the kinds
-- are interleaved over ROUNDS rounds (1 rank, 2 ranks, 2 ranks rank-order,
-- then again), so that a change in the machine's load falls on all alike;
-- every figure is a median over the rounds, the speed-up the median of the
-- rounds' own ratios (each from two runs next to each other).
--
-- Besides the wall clock, each rank reads its CPU time (os.clock: this
-- process's user + system time).  With 1 thread per rank, a rank's CPU time
-- over the timed steps is what the steps cost when the rank has its core to
-- itself; the CPU-time speed-up 2 x cpu(1 rank) / max over ranks cpu(2 ranks)
-- is what the wall clock would give on an unloaded machine, so a wall-clock
-- ratio well below it means other processes took the cores (load average
-- printed), while a CPU-time ratio below the goal is this program's own cost
-- (the allreduce's work, the two ranks' compute slowing on shared cache and
-- memory).  MPI waits by polling, so a rank's time waiting for the other is
-- CPU time too and is counted against it.
--
-- The phases of a 2-rank step are timed on every rank (the slowest rank's
-- median printed): forward + loss, backward, the allreduce (DataParallel's
-- one MPI_Allreduce over the 4.4 MB gradient arena, which includes waiting
-- for the slower rank), the optimizer step; and the allreduce alone after a
-- barrier (its own cost, without the wait).  Random data of the digits'
-- shapes (speed does not depend on the values).
local gd = rawget(_G, "gd") or require "gd"
local now = gd.progress.now
local fmt = string.format

local BATCH, HIDDEN, STEPS, WARM = 64, 1024, 40, 5

local function median(xs)
  local s = {}
  for i, x in ipairs(xs) do s[i] = x end
  table.sort(s)
  local n = #s
  if n == 0 then return 0 / 0 end
  return n % 2 == 1 and s[(n + 1) / 2] or (s[n / 2] + s[n / 2 + 1]) / 2
end

--- One rank's timed loop: prints the slowest rank's figures on rank 0.
-- mode "det": the rank-order reduction; "ag": under autograd, loss:backward()
-- reducing in buckets while the walk runs (a 1 MiB cap: 2 buckets, {W2, b2,
-- W3, b3} of 4.2 MB, posted once dW2 is written, and {W1, b1}; its
-- allreduce time is inside backward's).
local function worker(mode)
  local deterministic, autograd = mode == "det", mode == "ag"
  gd.set_num_threads(1)
  local d = gd.dist
  gd.manual_seed(1 + d.rank())
  local X = gd.rand(BATCH * (STEPS + WARM), 64)
  local y = gd.rand(BATCH * (STEPS + WARM)):mul_(10):floor_():long():add_(1)
  gd.manual_seed(0)
  local net = gd.nn.Sequential{gd.nn.Linear(64, HIDDEN), gd.nn.ReLU(), gd.nn.Linear(HIDDEN, HIDDEN), gd.nn.ReLU(),
                               gd.nn.Linear(HIDDEN, 10)}
  local dp = d.DataParallel(net, {deterministic = deterministic, bucket_cap_mb = autograd and 1 or nil})
  if autograd then dp:requires_grad_() end
  local opt = gd.optim.RMSProp(dp, {lr = 1e-3, alpha = 0.9})
  local loss = gd.nn.CrossEntropyLoss()
  local xs, ys = {}, {}
  for i = 1, STEPS + WARM do
    xs[i] = X:narrow(1, (i - 1) * BATCH + 1, BATCH):contiguous()
    ys[i] = y:narrow(1, (i - 1) * BATCH + 1, BATCH):contiguous()
  end
  local fwd, bwd, ar, stp = {}, {}, {}, {}
  local wall0, cpu0, cpu_ar = nil, nil, 0
  for i = 1, STEPS + WARM do
    if i == WARM + 1 then
      d.barrier()
      wall0, cpu0 = now(), os.clock()
    end
    local t0 = now()
    opt:zero_grad()
    local _, g = loss(net:forward(xs[i]), ys[i])
    local t1 = now()
    net:backward(g, false)
    local t2, c2 = now(), os.clock()
    if d.size() > 1 and not autograd then dp:reduce_gradients() end
    local t3 = now()
    if i > WARM then cpu_ar = cpu_ar + (os.clock() - c2) end
    opt:step()
    local t4 = now()
    if i > WARM then
      local k = i - WARM
      fwd[k], bwd[k], ar[k], stp[k] = t1 - t0, t2 - t1, t3 - t2, t4 - t3
    end
  end
  local wall, cpu = now() - wall0, os.clock() - cpu0
  -- the allreduce alone, each after a barrier (so that it does not time the
  -- wait for a slower rank): the median of 20
  local alone = {}
  if d.size() > 1 then
    for k = 1, 20 do
      d.barrier()
      local t0 = now()
      dp:reduce_gradients()
      alone[k] = now() - t0
    end
  end
  -- the slowest rank sets the pace; the least CPU share says whether
  -- another process took a rank's core
  local mine = {wall, cpu, median(fwd), median(bwd), median(ar), median(stp), d.size() > 1 and median(alone) or 0,
                cpu - cpu_ar, -cpu / wall}
  local t = d.allreduce(gd.tensor(mine, {dtype = "float64"}), "max")
  if d.is_main() then
    print(fmt("steps %d wall %.6f cpu %.6f fwd %.6f bwd %.6f ar %.6f step %.6f alone %.6f compute %.6f share %.4f " ..
      "size %d", STEPS, t:get(1), t:get(2), t:get(3), t:get(4), t:get(5), t:get(6), t:get(7), t:get(8), -t:get(9),
      d.size()))
  end
end

if arg and arg[1] == "--worker" then
  worker(arg[2])
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

local function read_line(cmd)
  local p = io.popen(cmd)
  local s = p:read("*l")
  p:close()
  return s
end
local cores = tonumber(read_line("nproc 2>/dev/null") or "") or 1
local ROUNDS = tonumber(os.getenv("GD_BENCH_DIST_ROUNDS") or "") or 5
local bind = os.getenv("GD_BENCH_DIST_BIND") or (cores >= 2 and "core" or "none")
local BIND = bind == "core" and "--bind-to core --map-by core" or "--bind-to none"
local function loadavg() return (read_line("cat /proc/loadavg 2>/dev/null") or "?"):match("^(%S+)") or "?" end

--- One run of np ranks: its figures (seconds per step), from its rank 0.
local function run_once(np, mode)
  local env = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1"
  local cmd = fmt("%s timeout 300 %s --oversubscribe %s -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS -np %d %s %s " ..
                  "--worker %s 2>&1", env, mpirun, BIND, np, gdlua, script, mode or "")
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  local r = {}
  for k, v in out:gmatch("(%a+) ([%d.e-]+)") do r[k] = tonumber(v) end
  if not (r.steps and r.wall and r.alone) then error("the run failed:\n" .. out) end
  r.sps = r.steps * BATCH * np / r.wall        -- samples/s, wall clock
  r.cpu_step = r.cpu / r.steps                  -- CPU seconds per step, the slowest rank
  r.own_step = r.compute / r.steps + r.alone    -- its compute's CPU time + the allreduce's own cost
  r.wall_step = r.wall / r.steps
  return r
end

local runs = {one = {}, two = {}, det = {}, ag = {}}
local ratio, cpu_ratio, own_ratio, det_ratio, ag_ratio = {}, {}, {}, {}, {}
local load0 = loadavg()
for k = 1, ROUNDS do
  local one, two, det, ag = run_once(1), run_once(2), run_once(2, "det"), run_once(2, "ag")
  runs.one[k], runs.two[k], runs.det[k], runs.ag[k] = one, two, det, ag
  ag_ratio[k] = ag.sps / one.sps
  ratio[k] = two.sps / one.sps
  det_ratio[k] = det.sps / one.sps
  cpu_ratio[k] = 2 * one.cpu_step / two.cpu_step
  own_ratio[k] = 2 * one.cpu_step / two.own_step
end
local function med(list, field, scale)
  local xs = {}
  for i, r in ipairs(list) do xs[i] = r[field] * (scale or 1) end
  return median(xs)
end

local one, two, det, ag = runs.one, runs.two, runs.det, runs.ag
print(fmt("  MLP-1024, batch %d per rank, 1 thread per rank, mpirun %s, medians of %d interleaved rounds " ..
  "(load average %s -> %s, %d cores):", BATCH, BIND, ROUNDS, load0, loadavg(), cores))
print(fmt("    1 rank               %8.0f samples/s   step %.2f ms wall, %.2f ms CPU", med(one, "sps"),
  med(one, "wall_step", 1e3), med(one, "cpu_step", 1e3)))
print(fmt("    2 ranks (MPI)        %8.0f samples/s   step %.2f ms wall, %.2f ms CPU", med(two, "sps"),
  med(two, "wall_step", 1e3), med(two, "cpu_step", 1e3)))
print(fmt("    2 ranks, rank-order  %8.0f samples/s   step %.2f ms wall, %.2f ms CPU   (%.2fx of 1 rank)",
  med(det, "sps"), med(det, "wall_step", 1e3), med(det, "cpu_step", 1e3), median(det_ratio)))
print(fmt("    2 ranks, autograd    %8.0f samples/s   step %.2f ms wall, %.2f ms CPU   (%.2fx of 1 rank; " ..
  "loss:backward() with 1 MiB buckets)", med(ag, "sps"), med(ag, "wall_step", 1e3), med(ag, "cpu_step", 1e3),
  median(ag_ratio)))
print(fmt("    phases, median step: 1 rank fwd %.2f bwd %.2f step %.2f ms; 2 ranks fwd %.2f bwd %.2f allreduce %.2f " ..
  "step %.2f ms", med(one, "fwd", 1e3), med(one, "bwd", 1e3), med(one, "step", 1e3), med(two, "fwd", 1e3),
  med(two, "bwd", 1e3), med(two, "ar", 1e3), med(two, "step", 1e3)))
local compute2 = med(two, "fwd") + med(two, "bwd") + med(two, "step")
print(fmt("    allreduce of the 4.4 MB arena: %.2f ms in the step (%.0f%% of a 2-rank step), %.2f ms alone " ..
  "after a barrier (%.1f GB/s of arena)", med(two, "ar", 1e3),
  100 * med(two, "ar") / (compute2 + med(two, "ar")), med(two, "alone", 1e3), 4.4e-3 / med(two, "alone")))
print(fmt("    least CPU share of a rank (CPU time / wall time; below 1: another process took its core): " ..
  "1 rank %.2f, 2 ranks %.2f", med(one, "share"), med(two, "share")))
print(fmt("    speed-up 2 ranks / 1 rank: %.2fx wall clock, %.2fx CPU time (goal >= 1.6x)", median(ratio),
  median(cpu_ratio)))
-- without the wait for the slower rank (polled, so CPU time too): 2 ranks'
-- compute CPU time plus the allreduce alone, against 1 rank's step
print(fmt("    speed-up from each rank's own cost (compute CPU time + allreduce alone, no waiting): %.2fx",
  median(own_ratio)))
print("dist_speedup", fmt("%.3f", median(ratio)), "dist_speedup_cpu", fmt("%.3f", median(cpu_ratio)),
  "dist_speedup_own", fmt("%.3f", median(own_ratio)))
