-- The GPU bench (scripts/gpu-check runs it): fused optimizer steps at 100M
-- float32 parameters against a device-to-device copy of the same bytes timed in
-- this run (the goal: step at >= 0.85 of the copy's speed), and a training step
-- of the 1024-wide MLP resident on the GPU.  Prints one table.
--   build/bin/gdlua scripts/bench/gpu.lua [N]
local gd = gd or require "gd"
if not gd.cuda.is_available() then
  print("gpu bench: skipped, no CUDA GPU here (" .. tostring(select(2, pcall(gd.cuda.synchronize))) .. ")")
  -- run by itself (scripts/gpu-check): a failure; inside make bench: skipped,
  -- and the bench goes on with the next file
  if arg and arg[0] and arg[0]:find("gpu%.lua$") then os.exit(2) end
  return
end
local N = tonumber(arg and arg[1]) or tonumber(os.getenv("GD_BENCH_N")) or 100 * 2 ^ 20
local REPS = tonumber(os.getenv("GD_BENCH_REPS")) or 10
local clock, sync = gd.clock, gd.cuda.synchronize

local function best(reps, f)
  f(); sync()
  local b = math.huge
  for _ = 1, reps do
    sync()
    local t0 = clock()
    f()
    sync()
    local t = clock() - t0
    if t < b then b = t end
  end
  return b
end

-- name, optimizer, hyper, arrays read + written per element (param, grad, state)
local configs = {
  {"SGD+momentum", "SGD", {lr = 0.01, momentum = 0.9}, 5},
  {"AdaGrad", "AdaGrad", {lr = 0.01}, 5},
  {"RMSProp", "RMSProp", {lr = 0.01}, 5},
  {"RMSProp centered+momentum", "RMSProp", {lr = 0.01, centered = true, momentum = 0.9}, 9},
  {"Adam", "Adam", {lr = 0.001}, 7},
}

local rows = {}
local function row(...) rows[#rows + 1] = {...} end
print(("gpu bench: %s, N = %d float32"):format(tostring(gd.cuda.device_count()) .. " device(s)", N))
for _, c in ipairs(configs) do
  local name, optname, hyper, arrays = c[1], c[2], c[3], c[4]
  local p = gd.randn(N, {device = "cuda"})
  p.grad = gd.randn(N, {device = "cuda"})
  local opt = gd.optim[optname]({p}, hyper)
  local t_step = best(REPS, function() opt:step() end)
  -- a copy moves each element twice (read + write): arrays/2 elements per element
  local m = math.floor(N * arrays / 2)
  local src, dst = gd.empty(m, {device = "cuda"}), gd.empty(m, {device = "cuda"})
  src:fill_(1)
  local t_copy = best(REPS, function() dst:copy_(src) end)
  local gbs = arrays * 4 * N / t_step / 1e9
  row(name, ("%.3f ms"):format(t_step * 1e3), ("%.0f GB/s"):format(gbs), ("%.2f"):format(t_copy / t_step))
  p, src, dst, opt = nil, nil, nil, nil
  collectgarbage()
end

-- the 1024-wide MLP (784 -> 1024 -> 1024 -> 10), batch 256, resident on the GPU
local ok, err = pcall(function()
  local net = gd.nn.Sequential{gd.nn.Linear(784, 1024), gd.nn.ReLU(), gd.nn.Linear(1024, 1024), gd.nn.ReLU(),
                               gd.nn.Linear(1024, 10)}:cuda()
  local loss = gd.nn.CrossEntropyLoss()
  local opt = gd.optim.RMSProp(net, {lr = 1e-3})
  local X = gd.randn(256, 784, {device = "cuda"})
  local y = gd.tensor((function() local t = {} for i = 1, 256 do t[i] = (i % 10) + 1 end return t end)(),
                      {dtype = "int64", device = "cuda"})
  local t = best(REPS, function()
    opt:zero_grad()
    local _, g = loss(net(X), y)
    net:backward(g)
    opt:step()
  end)
  row("MLP 1024 training step (batch 256)", ("%.3f ms"):format(t * 1e3), ("%.0f samples/s"):format(256 / t), "")
end)
if not ok then row("MLP 1024 training step", "failed", tostring(err):sub(1, 60), "") end

local head = {"case", "time", "throughput", "copy/step"}
local w = {}
for i = 1, 4 do
  w[i] = #head[i]
  for _, r in ipairs(rows) do w[i] = math.max(w[i], #r[i]) end
end
local function line(r)
  local s = {}
  for i = 1, 4 do s[i] = (i == 1 and "%-" .. w[i] .. "s" or "%" .. w[i] .. "s"):format(r[i]) end
  print(table.concat(s, "  "))
end
line(head)
line({("-"):rep(w[1]), ("-"):rep(w[2]), ("-"):rep(w[3]), ("-"):rep(w[4])})
for _, r in ipairs(rows) do line(r) end
print("goal: copy/step >= 0.85 for the fused steps (the step moves the bytes a copy of the same size moves)")
