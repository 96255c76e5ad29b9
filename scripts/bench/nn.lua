-- bench/nn.lua: training speed of gd.nn, against PyTorch where it is installed.
--
--   build/bin/gdlua scripts/bench/nn.lua          (make bench runs it)
--
-- 1. The airfoil replay (scripts/airfoil.lua, d2l's train_ch7 with minibatch
--    SGD): seconds per epoch, evaluations excluded as d2l's Timer does.
-- 2. The digits MLP (scripts/digits.lua: 64-H-H-10, ReLU, CrossEntropyLoss,
--    RMSProp, batches of 32): training samples per second at H = 128 and
--    H = 1024; for H = 1024 also the achieved GFLOP/s against OpenBLAS sgemm
--    alone on the same matrix shapes, timed in the same run.
-- 3. Where `python3 -c "import torch"` works (Debian's python3-torch), the
--    same runs in PyTorch, and the ratios.  Goals (issue 4): the airfoil run
--    at least 20x faster than PyTorch, the MLP at least 2x.
--
-- 5. The MLP-1024 under CPU contention: another process spins on one core
--    (pinned with taskset where it exists) while the MLP trains with 1
--    thread and with all of them, adaptive (the default) and fixed; with 2
--    threads it must not be slower than with 1 (issue 10: OpenMP's spinning
--    waits made it 10x slower, the host's OpenMP wait policy fixed that,
--    src/host/main.c; the rest, a thread without a core holding up every
--    region, the adaptive count, src/threads.c).
--    `gdlua scripts/bench/nn.lua contention` runs this case alone.
--
-- Every figure is the best of several repeats (the machine may be shared).
-- The data comes from ../shared/data when it is there; otherwise random data
-- of the same shapes (speed does not depend on the values).
local gd = rawget(_G, "gd") or require "gd"
local now = gd.progress.now
local C = require("gd.ffi").C
local fmt = string.format

local AIRFOIL_PATH = "../shared/data/airfoil_self_noise.dat"
local DIGITS_PATH = "../shared/data/digits.csv.gz"

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function here(name)
  local src = debug.getinfo(1, "S").source:sub(2)
  local dir = src:match("^(.*)/bench/[^/]*$") or "scripts"
  return dir .. "/" .. name
end

local airfoil = assert(loadfile(here("airfoil.lua")))("--as-module")
local digits = assert(loadfile(here("digits.lua")))("--as-module")

local function best_of(n, fn)
  local best = math.huge
  for _ = 1, n do
    local v = fn()
    if v < best then best = v end
  end
  return best
end

-- ------------------------------------------------------------ gdlua runs

local function airfoil_data()
  if exists(AIRFOIL_PATH) then
    local X, y = airfoil.load(AIRFOIL_PATH)
    return X, y, AIRFOIL_PATH
  end
  local X, y = gd.data.synthetic_regression{w = {2, -3.4, 1.5, 0.5, -1}, n = 1500, seed = 1}
  return X, y, nil
end

local function bench_airfoil(X, y)
  local run = airfoil.RUNS[1]   -- SGD, as d2l's train_sgd(0.05, 10)
  airfoil.replay(X, y, run)     -- warm up the JIT
  return best_of(15, function() return airfoil.replay(X, y, run).seconds_per_epoch end)
end

local function digits_data()
  if exists(DIGITS_PATH) then
    local train = digits.load(DIGITS_PATH)
    return train[1], train[2]
  end
  gd.manual_seed(1)
  local X = gd.rand(1437, 64)
  local y = gd.rand(1437):mul_(10):floor_():long():add_(1)
  return X, y
end

--- Samples per second training the MLP of width `hidden` (no evaluation).
local function bench_mlp(X, y, hidden, epochs, repeats)
  local function once()
    gd.manual_seed(0)
    local net = digits.model(hidden)
    local opt = gd.optim.RMSProp(net, {lr = 1e-3, alpha = 0.9})
    local h = gd.train{model = net, loss = gd.nn.CrossEntropyLoss(), optimizer = opt,
                       data = gd.data.loader({X, y}, {batch_size = 32, seed = 1}), epochs = epochs,
                       progress = false}
    return h.seconds / h.examples
  end
  once()
  return 1 / best_of(repeats, once)
end

--- Floating-point operations per training sample of the 64-H-H-10 MLP:
-- forward and weight gradients 2*(64H + H^2 + 10H) each, input gradients of
-- the two upper layers 2*(H^2 + 10H) (the first layer's is never needed).
local function mlp_flops(h)
  local fwd = 2 * (64 * h + h * h + h * 10)
  return 2 * fwd + 2 * (h * h + h * 10)
end

--- GFLOP/s of OpenBLAS sgemm alone over one step's eight products, batch 32.
local function sgemm_gflops(h)
  local B = 32
  local x, a1, a2, logits = gd.rand(B, 64), gd.rand(B, h), gd.rand(B, h), gd.rand(B, 10)
  local w1, w2, w3 = gd.rand(h, 64), gd.rand(h, h), gd.rand(10, h)
  local g1, g2, g3 = gd.rand(h, 64), gd.rand(h, h), gd.rand(10, h)
  local ga2, ga1 = gd.rand(B, h), gd.rand(B, h)
  local function step()
    C.gd_gemm(a1.c, x.c, 0, w1.c, 1, 1, 0)          -- forward
    C.gd_gemm(a2.c, a1.c, 0, w2.c, 1, 1, 0)
    C.gd_gemm(logits.c, a2.c, 0, w3.c, 1, 1, 0)
    C.gd_gemm(g3.c, logits.c, 1, a2.c, 0, 1, 1)     -- weight gradients
    C.gd_gemm(ga2.c, logits.c, 0, w3.c, 0, 1, 0)    -- input gradients
    C.gd_gemm(g2.c, ga2.c, 1, a1.c, 0, 1, 1)
    C.gd_gemm(ga1.c, ga2.c, 0, w2.c, 0, 1, 0)
    C.gd_gemm(g1.c, ga1.c, 1, x.c, 0, 1, 1)
  end
  local steps = 200
  for _ = 1, 20 do step() end
  local t = best_of(5, function()
    local t0 = now()
    for _ = 1, steps do step() end
    return (now() - t0) / steps
  end)
  return mlp_flops(h) * B / t / 1e9
end

-- ------------------------------------------------------------- PyTorch

local TORCH_SCRIPT = [=[
import sys, time
import torch
from torch import nn
from torch.utils import data as tud

airfoil_path = sys.argv[1]
# the same number of threads as gdlua, as the optimizer bench does
torch.set_num_threads(int(sys.argv[2]))
torch.manual_seed(0)

def best_of(n, fn):
    return min(fn() for _ in range(n))

# --- d2l's get_data_ch7 and train_ch7 with its from-scratch sgd (d2l/torch.py)
if airfoil_path != "-":
    import numpy as np
    raw = np.genfromtxt(airfoil_path, dtype=np.float32, delimiter='\t')
    raw = torch.from_numpy((raw - raw.mean(axis=0)) / raw.std(axis=0))
    features, labels = raw[:1500, :-1], raw[:1500, -1]
else:
    features = torch.randn(1500, 5)
    labels = features @ torch.tensor([2, -3.4, 1.5, 0.5, -1]) + 4.2
data_iter = tud.DataLoader(tud.TensorDataset(features, labels), 10, shuffle=True)

def linreg(X, w, b): return torch.matmul(X, w) + b
def squared_loss(y_hat, y): return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2
def evaluate_loss(net, it, loss):
    s, n = 0.0, 0
    for X, y in it:
        out = net(X)
        l = loss(out, y.reshape(out.shape))
        s += float(l.sum()); n += l.numel()
    return s / n
def sgd(params, states, hyper):
    for p in params:
        p.data.sub_(hyper['lr'] * p.grad)
        p.grad.data.zero_()

def train_ch7(num_epochs=2):
    w = torch.normal(mean=0.0, std=0.01, size=(5, 1), requires_grad=True)
    b = torch.zeros((1), requires_grad=True)
    net, loss = (lambda X: linreg(X, w, b)), squared_loss
    n, seconds, last = 0, 0.0, None
    t0 = time.perf_counter()
    for _ in range(num_epochs):
        for X, y in data_iter:
            l = loss(net(X), y).mean()
            l.backward()
            sgd([w, b], None, {'lr': 0.05})
            n += X.shape[0]
            if n % 100 == 0:
                seconds += time.perf_counter() - t0
                last = evaluate_loss(net, data_iter, loss)
                t0 = time.perf_counter()
    seconds += time.perf_counter() - t0
    return seconds / num_epochs

train_ch7()
print("airfoil_sec_per_epoch", best_of(5, train_ch7))

# --- the digits MLP: samples per second
X = torch.rand(1437, 64)
y = torch.randint(0, 10, (1437,))
def mlp(hidden, epochs):
    net = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                        nn.Linear(hidden, 10))
    opt = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9)
    loss = nn.CrossEntropyLoss()
    it = tud.DataLoader(tud.TensorDataset(X, y), 32, shuffle=True)
    count = 0
    t0 = time.perf_counter()
    for _ in range(epochs):
        for xb, yb in it:
            opt.zero_grad()
            l = loss(net(xb), yb)
            l.backward()
            opt.step()
            count += xb.shape[0]
    return count / (time.perf_counter() - t0)
mlp(128, 1)
print("mlp128_samples_per_s", max(mlp(128, 3) for _ in range(3)))
mlp(1024, 1)
print("mlp1024_samples_per_s", max(mlp(1024, 2) for _ in range(2)))
print("threads", torch.get_num_threads())
]=]

local function shell_ok(cmd)
  local r = os.execute(cmd)
  return r == 0 or r == true
end

local function run_torch(airfoil_path)
  if not shell_ok("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") then return nil end
  local file = os.tmpname()
  local f = assert(io.open(file, "w"))
  f:write(TORCH_SCRIPT)
  f:close()
  local p = io.popen(fmt("/usr/bin/python3 %s %s %d 2>&1", file, airfoil_path or "-", gd.get_num_threads()))
  local text = p:read("*a")
  p:close()
  os.remove(file)
  local r = {}
  for k, v in text:gmatch("(%S+) (%S+)\n") do r[k] = tonumber(v) end
  if not r.airfoil_sec_per_epoch then
    io.write("nn bench: the PyTorch run failed:\n", text, "\n")
    return nil
  end
  return r
end

-- --------------------------------------------------------- contention

--- Starts a process that spins on core 0 (any core without taskset); its pid.
local function start_spinner()
  local pidfile = os.tmpname()
  local pin = shell_ok("command -v taskset >/dev/null 2>&1") and "taskset -c 0 " or ""
  os.execute(pin .. "sh -c 'while :; do :; done' </dev/null >/dev/null 2>&1 & echo $! > " .. pidfile)
  local f = io.open(pidfile)
  local pid = f and tonumber(f:read("*l"))
  if f then f:close() end
  os.remove(pidfile)
  return pid, pin ~= ""
end

--- Samples per second of the MLP-1024 with 1 thread and with `threads`,
-- while a spinner holds one core; prints both and whether 2 threads held up.
local function bench_contention(X, y)
  local threads = gd.get_num_threads()
  if threads < 2 then
    print("contention: 1 thread only here; the case needs 2 (gd.set_num_threads or OMP_NUM_THREADS)")
    return
  end
  local pid, pinned = start_spinner()
  if not pid then
    print("contention: could not start the spinning process; case skipped")
    return
  end
  -- what libgomp read when it started (the host sets OMP_WAIT_POLICY for it
  -- and removes it again; /proc/self/environ keeps the environment of exec)
  local f = io.open("/proc/self/environ", "rb")
  local env = "\0" .. (f and f:read("*a") or "")
  if f then f:close() end
  local policy = env:match("%zOMP_WAIT_POLICY=([^%z]*)") or "unset"
  local spins = env:match("%zGOMP_SPINCOUNT=([^%z]*)") or "unset"
  local ok, err = pcall(function()
    -- alternating, so that a change in the machine's load hits all three alike:
    -- 1 thread, `threads` with the adaptive count (src/threads.c, learning
    -- anew each round: its probes and first iterations at the wrong count are
    -- in the figure), and `threads` fixed; ratios per round, median and range
    local adaptive0 = gd.get_adaptive_threads()
    local ron, roff = {}, {}
    local ROUNDS = tonumber(os.getenv("GD_BENCH_CONTENTION_ROUNDS")) or 5
    for r = 1, ROUNDS do
      gd.set_num_threads(1)
      local one = bench_mlp(X, y, 1024, 2, 1)
      gd.set_num_threads(threads)
      gd.set_adaptive_threads(true)
      local on = bench_mlp(X, y, 1024, 2, 1)
      gd.set_adaptive_threads(false)
      local off = bench_mlp(X, y, 1024, 2, 1)
      ron[r], roff[r] = on / one, off / one
    end
    gd.set_adaptive_threads(adaptive0)
    local function median(t)
      table.sort(t)
      local n = #t
      return n % 2 == 1 and t[(n + 1) / 2] or (t[n / 2] + t[n / 2 + 1]) / 2
    end
    local mon, moff = median(ron), median(roff)
    print(fmt("digits MLP 64-1024-1024-10 while another process spins on %s (libgomp: OMP_WAIT_POLICY=%s, "
      .. "GOMP_SPINCOUNT=%s), %d rounds of 2 epochs, %d threads against 1: adaptive count median %.2fx "
      .. "(%.2f-%.2f: %s), fixed count median %.2fx (%.2f-%.2f)",
      pinned and "core 0" or "one core", policy, spins, ROUNDS, threads, mon, ron[1], ron[#ron],
      mon >= 0.95 and "not slower, goal met" or "slower, below goal", moff, roff[1], roff[#roff]))
  end)
  gd.set_num_threads(threads)
  os.execute("kill " .. pid .. " 2>/dev/null")
  if not ok then error(err, 0) end
end

-- ------------------------------------------------------------------ main

if arg and arg[0] and arg[0]:find("nn%.lua$") and arg[1] == "contention" then
  bench_contention(digits_data())
  return
end

print(fmt("nn bench: %s, %d threads", gd.version, gd.get_num_threads()))

local AX, Ay, apath = airfoil_data()
local air = bench_airfoil(AX, Ay)
print(fmt("airfoil (d2l train_ch7, SGD, batch 10%s): %.6f s per epoch", apath and "" or ", synthetic data", air))

local DX, Dy = digits_data()
local mlp128 = bench_mlp(DX, Dy, 128, 5, 5)
print(fmt("digits MLP 64-128-128-10, batch 32: %.0f samples/s", mlp128))
local mlp1024 = bench_mlp(DX, Dy, 1024, 2, 3)
local achieved = mlp1024 * mlp_flops(1024) / 1e9
local blas = sgemm_gflops(1024)
print(fmt("digits MLP 64-1024-1024-10, batch 32: %.0f samples/s, %.1f GFLOP/s (OpenBLAS sgemm alone on the same shapes: %.1f GFLOP/s, %.0f%%)",
  mlp1024, achieved, blas, 100 * achieved / blas))
-- the same run on one thread (gd's loops and the matrix products, whose
-- blocks run through single-threaded OpenBLAS: src/cpu/blas.c) shows what the
-- second thread brings on this machine
local threads = gd.get_num_threads()
if threads > 1 then
  gd.set_num_threads(1)
  local serial = bench_mlp(DX, Dy, 1024, 2, 3)
  gd.set_num_threads(threads)
  print(fmt("  the same with gd.set_num_threads(1) (loops and matrix products on one thread): %.0f samples/s, %.1f GFLOP/s",
    serial, serial * mlp_flops(1024) / 1e9))
end

-- 4. The digits CNN (scripts/digits_cnn.lua, issue 14): training samples/s
--    with RMSProp at batch 32, and its second convolution's forward+backward
--    GFLOP/s (16 -> 32 channels, 3x3 on 4x4, im2col + sgemm) against sgemm
--    alone on the same three im2col matrix shapes.  (Against PyTorch: bench/models.lua.)
do
  local per = assert(loadfile(here("bench/digits_cnn_step.lua")))()(here(""):sub(1, -2), 200)
  local B = 32
  local conv = gd.nn.Conv2d(16, 32, 3, {padding = 1})
  local cx, reps = gd.randn(B, 16, 4, 4), 300
  local cy = conv(cx)
  local gy = gd.randn(cy.shape)
  local function conv_step()
    local t0 = now()
    for _ = 1, reps do conv:forward(cx); conv:backward(gy) end
    return (now() - t0) / reps
  end
  local tc = best_of(3, conv_step)
  -- per sample: forward 32x144 @ 144x16, weight grad 32x16 @ 16x144, input grad 144x32 @ 32x16
  local flops = B * 3 * 2 * 32 * 144 * 16
  local a, w, c = gd.randn(32, 16), gd.randn(144, 16), gd.empty(32, 144)
  local function gemm_step()
    local t0 = now()
    for _ = 1, reps * B * 3 do C.gd_gemm(c.c, a.c, 0, w.c, 1, 1, 0) end
    return (now() - t0) / reps
  end
  local tg = best_of(3, gemm_step)
  print(fmt("digits CNN (2 convs + linear, RMSProp), batch 32: %.0f samples/s; conv 16->32 3x3 on 4x4 fwd+bwd: "
    .. "%.2f GFLOP/s (sgemm alone on the im2col shapes: %.2f GFLOP/s)", 1 / per, flops / tc / 1e9, flops / tg / 1e9))
end

bench_contention(DX, Dy)

local torch = run_torch(apath)
if not torch then
  print("PyTorch: not installed (apt-get install python3-torch); comparison skipped")
  return
end
print(fmt("PyTorch (%d thread%s): airfoil %.6f s per epoch, MLP-128 %.0f samples/s, MLP-1024 %.0f samples/s (%.1f GFLOP/s)",
  torch.threads or 0, torch.threads == 1 and "" or "s", torch.airfoil_sec_per_epoch, torch.mlp128_samples_per_s,
  torch.mlp1024_samples_per_s, torch.mlp1024_samples_per_s * mlp_flops(1024) / 1e9))
local function verdict(ratio, goal) return ratio >= goal and "goal met" or "below goal" end
local ra = torch.airfoil_sec_per_epoch / air
local r128 = mlp128 / torch.mlp128_samples_per_s
local r1024 = mlp1024 / torch.mlp1024_samples_per_s
print(fmt("ratio airfoil: gdlua %.1fx faster than PyTorch (goal 20x: %s)", ra, verdict(ra, 20)))
print(fmt("ratio MLP-128: gdlua %.1fx faster than PyTorch (goal 2x: %s)", r128, verdict(r128, 2)))
print(fmt("ratio MLP-1024: gdlua %.1fx faster than PyTorch (goal 2x: %s)", r1024, verdict(r1024, 2)))
