-- Per backend (the CPU, then CUDA where a GPU is present): element-wise
-- throughput in GB/s (bytes read + written per second), and each fused
-- optimizer step against a copy that moves the same bytes, timed in the same
-- run (copy/step: 1 means the step runs at the copy's speed; the GPU goal is
-- >= 0.85).  One table; a backend without its device is listed as skipped.
--   build/bin/gdlua scripts/bench/backends.lua       (make bench runs it too)
-- GD_BENCH_N: elements per array (default 16M on the CPU, 100M on a GPU);
-- GD_BENCH_REPS: timed repetitions, best taken (default 10).
local gd = gd or require "gd"
local clock = gd.clock
local REPS = tonumber(os.getenv("GD_BENCH_REPS")) or 10

local backends = {{"cpu", tonumber(os.getenv("GD_BENCH_N")) or 16 * 2 ^ 20}}
local cuda_ok, cuda_why = gd.cuda_available()
if cuda_ok then backends[2] = {"cuda", tonumber(os.getenv("GD_BENCH_N")) or 100 * 2 ^ 20} end

local function sync(dev) if dev == "cuda" then gd.cuda.synchronize() end end

--- Best times of f and g, run alternately so that both see the same machine
-- (a loaded machine's bandwidth wanders: measured pairs stay comparable).
local function best_of_pair(dev, f, g)
  f(); g(); sync(dev)
  local bf, bg = math.huge, math.huge
  for _ = 1, REPS do
    sync(dev)
    local t0 = clock()
    f(); sync(dev)
    local t1 = clock()
    g(); sync(dev)
    local t2 = clock()
    bf, bg = math.min(bf, t1 - t0), math.min(bg, t2 - t1)
  end
  return bf, bg
end

-- element-wise cases: name, arrays read + written per element, setup(n, dev) -> f
local ELEMENTWISE = {
  {"copy_ (y = x)", 2, function(n, dev)
    local x, y = gd.ones(n, {device = dev}), gd.empty(n, {device = dev})
    return function() y:copy_(x) end
  end},
  {"add_ (y += x)", 3, function(n, dev)
    local x, y = gd.ones(n, {device = dev}), gd.zeros(n, {device = dev})
    return function() y:add_(x) end
  end},
  {"mul_ number (y *= 0.5)", 2, function(n, dev)
    local y = gd.ones(n, {device = dev})
    return function() y:mul_(0.5) end
  end},
  {"addcmul_ (y += a*b)", 4, function(n, dev)
    local a, b, y = gd.ones(n, {device = dev}), gd.ones(n, {device = dev}), gd.zeros(n, {device = dev})
    return function() y:addcmul_(a, b, 1e-3) end
  end},
  {"sqrt_", 2, function(n, dev)
    local y = gd.ones(n, {device = dev})
    return function() y:sqrt_() end
  end},
  {"sum", 1, function(n, dev)
    local x = gd.ones(n, {device = dev})
    return function() return x:sum() end
  end},
}

-- optimizer steps: name, optimizer, hyper, arrays read + written per element
-- (param, grad, state: read and written, grad only read)
local STEPS = {
  {"SGD+momentum step", "SGD", {lr = 0.01, momentum = 0.9}, 5},
  {"RMSProp step", "RMSProp", {lr = 0.01}, 5},
  {"Adam step", "Adam", {lr = 0.001}, 7},
}

local rows = {}
local function row(...) rows[#rows + 1] = {...} end

for _, b in ipairs(backends) do
  local dev, n = b[1], b[2]
  -- the reference copy for every line of this backend: its time per byte
  local x, y = gd.ones(n, {device = dev}), gd.empty(n, {device = dev})
  for _, c in ipairs(ELEMENTWISE) do
    local name, arrays, setup = c[1], c[2], c[3]
    local f = setup(n, dev)
    local t, t_copy = best_of_pair(dev, f, function() y:copy_(x) end)
    -- a copy moves 2 arrays: scaled to this case's traffic
    local ratio = (t_copy * arrays / 2) / t
    row(dev, name, ("%.2f ms"):format(t * 1e3), ("%.1f GB/s"):format(arrays * 4 * n / t / 1e9), ("%.2f"):format(ratio))
    collectgarbage()
  end
  x, y = nil, nil
  collectgarbage()
  for _, c in ipairs(STEPS) do
    local name, optname, hyper, arrays = c[1], c[2], c[3], c[4]
    local p = gd.randn(n, {device = dev})
    p.grad = gd.randn(n, {device = dev})
    local opt = gd.optim[optname]({p}, hyper)
    -- a copy of the same bytes: arrays/2 elements copied per parameter
    local m = math.floor(n * arrays / 2)
    local src, dst = gd.ones(m, {device = dev}), gd.empty(m, {device = dev})
    local t, t_copy = best_of_pair(dev, function() opt:step() end, function() dst:copy_(src) end)
    row(dev, name, ("%.2f ms"):format(t * 1e3), ("%.1f GB/s"):format(arrays * 4 * n / t / 1e9),
      ("%.2f"):format(t_copy / t))
    p, opt, src, dst = nil, nil, nil, nil
    collectgarbage()
  end
end
if not cuda_ok then row("cuda", "skipped (no GPU, see below)", "", "", "") end

local head = {"backend", "case", "time", "throughput", "copy/step"}
local w = {}
for i = 1, #head do
  w[i] = #head[i]
  for _, r in ipairs(rows) do w[i] = math.max(w[i], #r[i]) end
end
local function line(r)
  local s = {}
  for i = 1, #head do s[i] = ((i <= 2 and "%-" or "%") .. w[i] .. "s"):format(r[i]) end
  print(table.concat(s, "  "))
end
print(("backends: float32, %d elements per array on the CPU, best of %d"):format(backends[1][2], REPS))
line(head)
local dashes = {}
for i = 1, #head do dashes[i] = ("-"):rep(w[i]) end
line(dashes)
for _, r in ipairs(rows) do line(r) end
print("copy/step: the time of a copy moving the same bytes over the case's time (1 = at the copy's speed)")
if not cuda_ok then print("cuda skipped: " .. tostring(cuda_why)) end
