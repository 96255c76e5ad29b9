-- Optimizer steps at 16M float32 parameters against the memory roofline (a
-- stream over the same arrays, timed in this run) and against torch.optim
-- (when /usr/bin/python3 or python3 can import torch); then the 2-parameter
-- per-step loop of the d2l experiments, in steps per second.
local gd = gd or require "gd"
local F = require "gd.ffi"
local ffi, C = F.ffi, F.C
local N = tonumber(os.getenv("GD_BENCH_N")) or 16 * 2 ^ 20
local REPS = tonumber(os.getenv("GD_BENCH_REPS")) or 20
local clock = gd.clock

--- Best times of f and g, run alternately so that both see the same machine
-- (this bench's memory bandwidth wanders with the neighbours' load).
local function best_of_pair(reps, f, g)
  f(); g() -- warm: page faults, state allocation
  local bf, bg = math.huge, math.huge
  for _ = 1, reps do
    local t0 = clock()
    f()
    local t1 = clock()
    g()
    local t2 = clock()
    if t1 - t0 < bf then bf = t1 - t0 end
    if t2 - t1 < bg then bg = t2 - t1 end
  end
  return bf, bg
end

-- name, optimizer, hyper, arrays written (param + state), arrays only read (grad)
local configs = {
  {"SGD+momentum", "SGD", {lr = 0.01, momentum = 0.9}, 2, 1},
  {"AdaGrad", "AdaGrad", {lr = 0.01}, 2, 1},
  {"RMSProp", "RMSProp", {lr = 0.01}, 2, 1},
  {"RMSProp centered+momentum", "RMSProp", {lr = 0.01, centered = true, momentum = 0.9}, 4, 1},
  {"Adam", "Adam", {lr = 0.001}, 3, 1},
  -- the rest of torch.optim (each one fused pass: param + its state slots written)
  {"Adamax", "Adamax", {lr = 0.002}, 3, 1},
  {"ASGD", "ASGD", {lr = 0.01, t0 = 0}, 2, 1},
  {"NAdam", "NAdam", {lr = 0.002}, 3, 1},
  {"RAdam", "RAdam", {lr = 0.001}, 3, 1},
  {"Rprop", "Rprop", {lr = 0.01}, 3, 1},
  -- what papers compare against (fused)
  {"Lion", "Lion", {lr = 1e-4}, 2, 1},
  {"AdaBelief", "AdaBelief", {lr = 1e-3}, 3, 1},
  {"Adan", "Adan", {lr = 1e-3}, 5, 1},
  {"NAdamW", "NAdamW", {lr = 2e-3}, 3, 1},
  {"AdamWScheduleFree", "AdamWScheduleFree", {lr = 2.5e-3}, 3, 1},
  {"SGDScheduleFree", "SGDScheduleFree", {lr = 1.0}, 2, 1},
}

-- PyTorch, in one child process for all configurations
local torch = {}
local python
for _, py in ipairs {"/usr/bin/python3", "python3"} do
  if os.execute(py .. ' -c "import torch" >/dev/null 2>&1') == 0 then python = py break end
end
if python then
  local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "scripts/bench"
  local cmd = string.format("%s %s/torch_optim.py %d %d %d", python, dir, N, REPS, gd.get_num_threads())
  local p = io.popen(cmd)
  for line in p:lines() do
    local name, v = line:match("^(.-)\t([%d.e+-]+)$")
    if name then torch[name] = tonumber(v) end
  end
  p:close()
end

print(string.format("optimizer steps, %d float32 parameters (%d MB each array), best of %d:", N, N * 4 / 2 ^ 20, REPS))
print(string.format("  %-27s %9s %9s %9s %10s %11s %9s", "", "ms/step", "GB/s", "stream ms", "roofline", "torch ms", "vs torch"))
gd.manual_seed(0)
for _, c in ipairs(configs) do
  local name, optname, hyper, nrw, nro = c[1], c[2], c[3], c[4], c[5]
  local p = gd.randn(N)
  p.grad = gd.randn(N):mul_(0.01)
  local opt = gd.optim[optname]({p}, hyper)
  -- the same arrays' worth of traffic through the stream kernel
  local rw, ro = {}, {}
  for i = 1, nrw do rw[i] = gd.zeros(N) end
  for i = 1, nro do ro[i] = gd.zeros(N) end
  local rwa, roa = ffi.new("gd_tensor*[?]", nrw), ffi.new("gd_tensor*[?]", nro)
  for i = 1, nrw do rwa[i - 1] = rw[i].c end
  for i = 1, nro do roa[i - 1] = ro[i].c end
  local step, stream = best_of_pair(REPS, function() opt:step() end,
    function() assert(C.gd_bench_stream(rwa, nrw, roa, nro) == 0) end)
  local bytes = (2 * nrw + nro) * 4 * N
  local t = torch[name]
  print(string.format("  %-27s %9.2f %9.1f %9.2f %9.2fx %11s %9s", name, step * 1e3, bytes / step / 1e9,
    stream * 1e3, stream / step, t and string.format("%.2f", t * 1e3) or "-",
    t and string.format("%.1fx", t / step) or "-"))
  p:free()
  for i = 1, nrw do rw[i]:free() end
  for i = 1, nro do ro[i]:free() end
end
if not python then print("  (PyTorch not found: install python3-torch to compare)") end

-- Layer-wise optimizers: a norm per tensor, factored moments, Newton-Schulz.
-- Their extra passes are the point: "roofline" is the time the minimal traffic
-- (param + state written, grad read, as if fused) takes through the stream
-- kernel divided by the step's time, so 0.25x means about four times the
-- minimal traffic.  Muon's Newton-Schulz is matmuls: its GFLOP/s are printed.
do
  local side = math.floor(math.sqrt(N))
  local layerwise = {
    {"LAMB", "LAMB", {lr = 1e-3}, 3, 1},
    {"LARS", "LARS", {lr = 0.1, momentum = 0.9, weight_decay = 1e-4}, 2, 1},
    {"Adafactor", "Adafactor", {}, 1, 1},
  }
  print(string.format("layer-wise optimizers on one %dx%d float32 matrix, best of %d:", side, side, REPS))
  for _, c in ipairs(layerwise) do
    local name, optname, hyper, nrw, nro = c[1], c[2], c[3], c[4], c[5]
    local p = gd.randn(side, side)
    p.grad = gd.randn(side, side):mul_(0.01)
    local opt = gd.optim[optname]({p}, hyper)
    local n = side * side
    local rw, ro = {}, {}
    for i = 1, nrw do rw[i] = gd.zeros(n) end
    for i = 1, nro do ro[i] = gd.zeros(n) end
    local rwa, roa = ffi.new("gd_tensor*[?]", nrw), ffi.new("gd_tensor*[?]", nro)
    for i = 1, nrw do rwa[i - 1] = rw[i].c end
    for i = 1, nro do roa[i - 1] = ro[i].c end
    local step, stream = best_of_pair(math.max(3, math.floor(REPS / 4)), function() opt:step() end,
      function() assert(C.gd_bench_stream(rwa, nrw, roa, nro) == 0) end)
    print(string.format("  %-27s %9.2f ms/step, minimal traffic through the stream %.2f ms: %.2fx", name,
      step * 1e3, stream * 1e3, stream / step))
    p:free()
    for i = 1, nrw do rw[i]:free() end
    for i = 1, nro do ro[i]:free() end
  end
  local m = 512
  local w = gd.randn(m, m)
  w.grad = gd.randn(m, m)
  local opt = gd.optim.Muon({w}, {lr = 0.02})
  local _, t = best_of_pair(3, function() end, function() opt:step() end)
  local flops = 5 * 3 * 2 * m ^ 3      -- ns_steps x (X X^T, A A, B X) x 2 m^3
  print(string.format("  %-27s %9.2f ms/step on %dx%d: Newton-Schulz at %.1f GFLOP/s", "Muon", t * 1e3, m, m,
    flops / t / 1e9))
end

-- the d2l loop: two parameters, three FFI calls per step
local x = gd.tensor({-5, -2}, {dtype = "float64"})
local h = gd.tensor({0.2, 4}, {dtype = "float64"})
local opt = gd.optim.RMSProp({x}, {flavor = "d2l", lr = 0.01, gamma = 0.9})
local ITER = 5000000
local function loop(n)
  for _ = 1, n do
    x.grad:copy_(x):mul_(h)
    opt:step()
  end
end
loop(100000)
local t0 = clock()
loop(ITER)
local rate = ITER / (clock() - t0)
local t = torch["loop"]
print(string.format("2-parameter loop x.grad:copy_(x):mul_(h); opt:step(): %.2f M steps/s%s", rate / 1e6,
  t and string.format(" (PyTorch %.0f steps/s: %.0fx)", 1 / t, rate * t) or ""))
