--- spec/support/dist_worker.lua: what each rank runs in spec/dist_mpi_spec.lua
-- (under `mpirun -np N gdlua spec/support/dist_worker.lua MODE OUT [...]`).
-- Every check that needs the ranks together runs here and raises on a wrong
-- value (which, through the host, ends every rank non-zero); results that the
-- spec compares across runs are written to OUT/<name>.<rank>.
local mode, out = arg[1], arg[2]
local d = gd.dist
local rank, size = d.rank(), d.size()

local function save(name, t) gd.save(out .. "/" .. name .. "." .. rank, t) end
local function say(...) io.stdout:write(table.concat({...}, " "), "\n"); io.stdout:flush() end

-- The regression data every run shares (from its own seed, the same on every rank).
local function data(dtype, n)
  local X, y = gd.data.synthetic_regression{w = {1.5, -2, 0.5, 3, -1, 0.25}, b = 0.3, n = n, noise = 0.1,
                                            seed = 7, dtype = dtype}
  return X, y
end

local function mlp(dtype)
  gd.manual_seed(11 + rank) -- different on every rank: DataParallel must broadcast rank 0's
  local net = gd.nn.Sequential{gd.nn.Linear(6, 5), gd.nn.Tanh(), gd.nn.Linear(5, 1)}
  if dtype == "float64" then net = net:double() end
  return net
end

local function optimizer(name, net, extra)
  if name == "PuzzleRMSProp" then return gd.optim.RMSProp{learnRate = 0.05}:setupOn(net) end
  local h = {lr = 0.05}
  if name == "SGD" then h.momentum = 0.9 end
  for k, v in pairs(extra or {}) do h[k] = v end
  return gd.optim[name](net, h)
end

-- One manual loop: zero_grad, forward, loss, backward, step.
local function train_steps(net, opt, loader, epochs)
  local loss = gd.nn.MSELoss()
  for _ = 1, epochs do
    for x, y in loader do
      opt:zero_grad()
      local _, g = loss(net:forward(x), y)
      net:backward(g)
      opt:step()
    end
  end
end

-- DataParallel's two paths, k steps each from the same start on the same
-- sharded batches (spec/dist_mpi_spec.lua's autograd case, and on CUDA
-- spec/cuda_dist_spec.lua's): the module path (dp:backward(grad), one
-- allreduce) and the autograd path (loss:backward() alone, the buckets).
-- Their parameters must agree on this rank (the same bits on the CPU; within
-- tol on CUDA, where the two paths' backward kernels may round differently)
-- and be the same bits on every rank.  Catches a missing reduction (the
-- ranks' shards differ), a bucket reduced twice or not at all, or posted
-- before its last gradient was written (then not the module path's
-- numbers), a missing or doubled 1/N, and buckets posted in a different
-- order on the ranks (MPI would pair the wrong buffers: wrong numbers, or
-- the watchdog's timeout).
local function same_bits(a, b) return a:numel() == b:numel() and a:ne(b):sum() == 0 end
local function check_paths(device, cases, tol)
  local X, y = data("float64", 96)
  local function run(dtype, path, opts, accumulate)
    local Xd, yd = X:to(dtype):to(device), y:to(dtype):to(device)
    local net = mlp(dtype)
    if device == "cuda" then net = net:cuda() end
    local dp = d.DataParallel(net, opts)
    local opt = optimizer("Adam", dp)
    local loss = gd.nn.MSELoss()
    if path == "autograd" then dp:requires_grad_() end
    local function grads_of(xb, yb)
      if path == "module" then local _, g = loss(dp:forward(xb), yb); dp:backward(g)
      else loss(dp:forward(xb), yb):backward() end
    end
    local steps = 0
    local loader = gd.data.loader({Xd, yd}, {batch_size = 4, shard = true, seed = 3})
    for _ = 1, 2 do
      local first = nil
      for xb, yb in loader do
        if accumulate and first == nil then
          first = {xb:clone(), yb:clone()}   -- no_sync's micro-batch, reduced with the next
        else
          opt:zero_grad()
          if first then dp:no_sync(function() grads_of(first[1], first[2]) end) first = nil end
          grads_of(xb, yb)
          opt:step()
          steps = steps + 1
        end
      end
    end
    return (net:flat_parameters()):to("cpu"), dp:bucket_stats(), steps
  end
  for _, case in ipairs(cases) do
    local dtype, opts, want_buckets, acc = case[1], case[2], case[3], case[4] ~= nil
    local ref = run(dtype, "module", opts, acc)
    local got, stats, steps = run(dtype, "autograd", opts, acc)
    local tag = dtype .. (opts.deterministic and " det" or "") .. (acc and " no_sync" or "") .. " cap " ..
      tostring(opts.bucket_cap_mb or 25)
    assert(stats.count == want_buckets, tag .. ": " .. stats.count .. " buckets, " .. want_buckets .. " expected")
    -- every bucket complete before the walk's end, so posted during it (the
    -- last layer's first: the first layer's backward had not run yet)
    assert(stats.posted_during_backward == want_buckets, tag .. ": " .. stats.posted_during_backward ..
      " posted during backward")
    -- one reduction per step: none for no_sync's backward
    assert(stats.reduced == steps, tag .. ": " .. stats.reduced .. " reductions for " .. steps .. " steps")
    local diff = (got - ref):abs():max()
    assert(tol and diff <= tol or same_bits(got, ref), tag .. ": the autograd path differs from the module path by "
      .. diff)
    local all = d.allgather(got)
    for r = 2, size do assert(same_bits(all[r], all[1]), tag .. ": rank " .. (r - 1) .. " differs from rank 0") end
    say(device == "cuda" and "cuda autograd ok" or "autograd ok", rank, tag)
  end
  return X, y
end

if mode == "ops" then
  -- the collectives against hand computation; GD_DIST_CHUNK=7 (set by the
  -- spec) makes every tensor of more than 7 elements go through the chunk loop
  local n = 50
  local t = gd.arange(n, {dtype = "float64"}) * (rank + 1)       -- rank r: (r+1) * i
  d.allreduce(t, "sum")
  local tri = size * (size + 1) / 2
  for i = 1, n do assert(t:get(i) == (i - 1) * tri, "sum at " .. i .. ": " .. t:get(i)) end
  local m = gd.full({n}, rank + 1)
  d.allreduce(m, "mean")
  assert(m:get(n) == (size + 1) / 2, "mean " .. m:get(n))
  local mx = gd.tensor({rank, -rank}, {dtype = "int64"})
  d.allreduce(mx, "max")
  assert(mx:get(1) == size - 1 and mx:get(2) == 0, "max")
  local mn = gd.tensor({rank, -rank})
  d.allreduce(mn, "min")
  assert(mn:get(1) == 0 and mn:get(2) == -(size - 1), "min")
  local g = d.allgather(gd.arange(n, {dtype = "float64"}):add_(1000 * rank):view(5, 10))
  assert(g.shape[1] == size and g.shape[2] == 5 and g.shape[3] == 10, "allgather shape")
  for r = 0, size - 1 do
    assert(g:get(r + 1, 5, 10) == 49 + 1000 * r and g:get(r + 1, 1, 1) == 1000 * r, "allgather row " .. r)
  end
  local b = gd.arange(n):add_(rank * 100)
  d.broadcast(b, size - 1)
  assert(b:get(n) == n - 1 + (size - 1) * 100, "broadcast from the last rank")
  -- rank order: x0 = 1, x1 = 1e16, x2 = -1e16 in float64: ((1 + 1e16) - 1e16) = 0
  -- (1 + 1e16 rounds to 1e16), while 1 + (1e16 - 1e16) = 1: the deterministic
  -- sum must give 0 on every rank, whatever order MPI's own sum would take
  local vals = {1, 1e16, -1e16}
  local x = gd.full({20}, vals[rank + 1] or 0, {dtype = "float64"})
  d.allreduce(x, "sum", {deterministic = true})
  local want = 0
  for r = 1, size do want = want + (vals[r] or 0) end   -- Lua sums in rank order too
  for i = 1, 20 do assert(x:get(i) == want, "deterministic sum " .. x:get(i) .. " ~= " .. want) end
  -- bad input: a clear error on every rank, no collective started
  local ok, err = pcall(d.allreduce, gd.zeros(4, 4):t(), "sum")
  assert(not ok and err:find("must be contiguous", 1, true), tostring(err))
  d.barrier()
  say("ops ok", rank, size)

elseif mode == "equal" then
  -- k steps of DataParallel training on sharded batches: parameters saved per rank
  local dtype, optname, bs = arg[3], arg[4], tonumber(arg[5])
  local X, y = data(dtype, 96)
  local net = mlp(dtype)
  local opt, dp
  if arg[6] == "inner" then
    -- the optimizer made on the inner net before it is wrapped: it must still
    -- find the DataParallel's 1/N (gd.dist's generation moves when one is made)
    opt = optimizer(optname, net)
    dp = d.DataParallel(net)
  else
    dp = d.DataParallel(net, {deterministic = arg[6] == "det"})
    opt = optimizer(optname, dp)
  end
  local loader = gd.data.loader({X, y}, {batch_size = bs, shard = true, seed = 3})
  train_steps(dp, opt, loader, 2)
  save("params", (net:flat_parameters()))
  say("equal done", rank)

elseif mode == "puzzle" then
  -- PuzzleLib's shape: the optimizer reduces the gradients itself
  local dtype, bs = arg[3], tonumber(arg[4])
  local X, y = data(dtype, 96)
  local net = mlp(dtype)
  d.broadcast_module(net)
  local opt = gd.optim.RMSProp{learnRate = 0.05, nodeinfo = d.nodeinfo()}
  opt:setupOn(net)
  local loader = gd.data.loader({X, y}, {batch_size = bs, shard = true, seed = 3})
  train_steps(net, opt, loader, 2)
  save("params", (net:flat_parameters()))
  say("puzzle done", rank)

elseif mode == "accumulate" then
  -- one process, the reference of 2 ranks x batch B: each step accumulates
  -- the gradients of the batches the ranks would have had, in rank order, and
  -- scales their sum by 1/ranks (exact for 2 ranks: a power of two, so the
  -- same bits as DataParallel's grad_scale inside the step)
  local dtype, optname, bs, ranks = arg[3], arg[4], tonumber(arg[5]), tonumber(arg[6])
  local X, y = data(dtype, 96)
  gd.manual_seed(11)
  local net = gd.nn.Sequential{gd.nn.Linear(6, 5), gd.nn.Tanh(), gd.nn.Linear(5, 1)}
  if dtype == "float64" then net = net:double() end
  local opt = optimizer(optname, net)
  local _, grads = net:flat_parameters()
  local loss = gd.nn.MSELoss()
  local loader = gd.data.loader({X, y}, {batch_size = bs, seed = 3})
  local sum
  for _ = 1, 2 do
    local b = 0
    local rounds = math.floor(loader.num_batches / ranks)
    for x, yb in loader do
      if b < rounds * ranks then
        -- batch b is rank (b mod ranks)'s: its gradient alone, then added to
        -- the sum of the ranks before it, as the rank-order reduction adds
        opt:zero_grad()
        local _, g = loss(net:forward(x), yb)
        net:backward(g)
        if b % ranks == 0 then sum = grads:clone() else sum = sum + grads end
        if b % ranks == ranks - 1 then grads:copy_(sum):mul_(1 / ranks); opt:step() end
      end
      b = b + 1
    end
  end
  save("params", (net:flat_parameters()))
  say("accumulate done")

elseif mode == "bigbatch" then
  -- one process with batch ranks*B, unsharded
  local dtype, optname, bs = arg[3], arg[4], tonumber(arg[5])
  local X, y = data(dtype, 96)
  gd.manual_seed(11)
  local net = gd.nn.Sequential{gd.nn.Linear(6, 5), gd.nn.Tanh(), gd.nn.Linear(5, 1)}
  if dtype == "float64" then net = net:double() end
  local opt = optimizer(optname, net)
  local loader = gd.data.loader({X, y}, {batch_size = bs, seed = 3})
  train_steps(net, opt, loader, 2)
  save("params", (net:flat_parameters()))
  say("bigbatch done")

elseif mode == "dyadic" then
  -- exact arithmetic: inputs, targets, weights and lr are multiples of 2^-4
  -- with few bits, so every sum is exact in float64 in any order; 2 ranks x B
  -- (sharded, batch B) and 1 rank x 2B (unsharded) must then agree to the
  -- bit, which fails on a wrong share of rows, a missing or doubled 1/N, or a
  -- permutation that differs between ranks
  local bs, sharded = tonumber(arg[3]), arg[4] == "shard"
  local n = 32
  local X = gd.zeros(n, 3, {dtype = "float64"})
  local y = gd.zeros(n, 1, {dtype = "float64"})
  for i = 1, n do
    for j = 1, 3 do X:set(i, j, ((i * 7 + j * 3) % 9 - 4) / 4) end
    y:set(i, 1, ((i * 5) % 7 - 3) / 2)
  end
  local net = gd.nn.Linear(3, 1):double()
  local p = net:flat_parameters()
  p:copy_(gd.tensor({0.5, -0.25, 0.75, 0.125}, {dtype = "float64"}))
  local model = sharded and d.DataParallel(net, {deterministic = true}) or net
  local opt = gd.optim.SGD(model, {lr = 1 / 16})
  local loader = gd.data.loader({X, y}, {batch_size = bs, seed = 5, shard = sharded or nil})
  train_steps(model, opt, loader, 1)
  save("params", (net:flat_parameters()))
  say("dyadic done", rank)

elseif mode == "nosync" then
  -- gradient accumulation: no_sync for the first of two micro-batches, the
  -- second's backward reduces both; must equal the batches' sum reduced once
  local X, y = data("float64", 64)
  local net = mlp("float64")
  local dp = d.DataParallel(net, {deterministic = true})
  local loss = gd.nn.MSELoss()
  local loader = gd.data.loader({X, y}, {batch_size = 4, shard = true, seed = 9})
  local batches = {}
  for xb, yb in loader do batches[#batches + 1] = {xb:clone(), yb:clone()} if #batches == 2 then break end end
  dp:zero_grad()
  dp:no_sync(function()
    local _, g = loss(dp:forward(batches[1][1]), batches[1][2]); dp:backward(g)
  end)
  local _, g2 = loss(dp:forward(batches[2][1]), batches[2][2]); dp:backward(g2)
  local _, reduced = net:flat_parameters()
  reduced = reduced:clone()
  -- the reference: each rank's two gradients, summed locally, then summed over the ranks in rank order
  net:zero_grad()
  for k = 1, 2 do local _, g = loss(net:forward(batches[k][1]), batches[k][2]); net:backward(g) end
  local _, mine = net:flat_parameters()
  local all = d.allgather(mine:clone())
  local want = all[1]:clone()
  for r = 2, size do want:add_(all[r]) end
  assert(reduced:ne(want):sum() == 0, "no_sync accumulation differs from the reference")
  say("nosync ok", rank)

elseif mode == "autograd" then
  -- DataParallel under autograd: loss:backward() alone (no dp:backward, no
  -- call of ours) must leave the gradients reduced, through the buckets
  -- (check_paths).  Also with one rank (`mpirun -np 1`: the buckets are
  -- posted as collectives of one).
  -- the 6-5-1 MLP's arena: W1 (30), b1 (5), W2 (5), b2 (1).  cap 16 bytes in
  -- float32, from the end: {b2, W2} (24 bytes >= 16), {b1} (20), {W1} (120):
  -- 3 buckets; the default 25 MiB: 1
  local tiny = 16 / 1048576
  local X, y = check_paths("cpu", {
    {"float32", {bucket_cap_mb = tiny}, 3},
    {"float64", {bucket_cap_mb = tiny, deterministic = true}, 3},
    {"float32", {}, 1},
    {"float64", {bucket_cap_mb = tiny}, 3, "accumulate"},
  })
  -- without DataParallel, the same net's autograd gradients are local: the
  -- check above would fail without the reduction (the shards differ)
  if size == 1 then say("autograd done", rank) return end
  local net = mlp("float32")
  d.broadcast_module(net)
  net:requires_grad_()
  local loader = gd.data.loader({X:to("float32"), y:to("float32")}, {batch_size = 4, shard = true, seed = 3})
  for xb, yb in loader do gd.nn.MSELoss()(net:forward(xb), yb):backward() break end
  local _, g = net:flat_parameters()
  local all = d.allgather(g:clone())
  assert(not same_bits(all[1], all[2]), "the ranks' local gradients are equal: the check proves nothing")
  say("autograd done", rank)

elseif mode == "train" then
  -- gd.train over sharded data with a checkpoint; OUT/final.<rank> at the end
  local epochs, bs, ckpt = tonumber(arg[3]), tonumber(arg[4]), arg[5]
  local X, y = data("float64", 96)
  local net = mlp("float64")
  local dp = d.DataParallel(net)
  local opt = gd.optim.Adam(dp, {lr = 0.01})
  local loader = gd.data.loader({X, y}, {batch_size = bs, shard = true, seed = 3})
  local h = gd.train{model = dp, loss = gd.nn.MSELoss(), optimizer = opt, data = loader, epochs = epochs,
                     checkpoint = ckpt, verbose = true, progress = false,
                     eval = function() return {rank_value = rank} end}
  save("final", (net:flat_parameters()))
  -- the averaged metrics: every rank's history holds the same losses; eval's rank_value is the ranks' mean
  local last = h.eval[#h.eval].rank_value
  assert(math.abs(last - (size - 1) / 2) < 1e-12, "eval averaged: " .. last)
  save("loss", gd.tensor(h.loss, {dtype = "float64"}))
  say("train done", rank, #h.loss)

elseif mode == "cuda" then
  -- the NCCL path (spec/cuda_dist_spec.lua, scripts/gpu-check): CUDA tensors'
  -- collectives against the same computed by hand on the CPU, and
  -- DataParallel training on the GPU leaving every rank's weights equal
  local n = 1000
  local t = gd.arange(n):mul_(rank + 1):to("cuda")
  d.allreduce(t, "sum")
  local tri = size * (size + 1) / 2
  local host = t:to("cpu")
  for i = 1, n, 37 do assert(host:get(i) == (i - 1) * tri, "NCCL sum at " .. i .. ": " .. host:get(i)) end
  local m = gd.full({n}, rank + 1, {device = "cuda"})
  d.allreduce(m, "mean")
  assert(m:to("cpu"):get(n) == (size + 1) / 2, "NCCL mean")
  local mx = gd.tensor({rank, -rank}, {dtype = "float64", device = "cuda"})
  d.allreduce(mx, "max")
  assert(mx:to("cpu"):get(1) == size - 1, "NCCL max")
  local b = gd.arange(n, {device = "cuda"}):add_(rank * 100)
  d.broadcast(b, size - 1)
  assert(b:to("cpu"):get(n) == n - 1 + (size - 1) * 100, "NCCL broadcast")
  local g = d.allgather(gd.full({3}, rank, {device = "cuda"}))
  for r = 0, size - 1 do assert(g:to("cpu"):get(r + 1, 2) == r, "NCCL allgather row " .. r) end
  local ok, err = pcall(d.allreduce, gd.zeros(4, {device = "cuda"}), "sum", {deterministic = true})
  assert(not ok and err:find("CPU-only", 1, true), tostring(err))
  local X, y = data("float32", 96)
  local net = mlp("float32"):cuda()
  local dp = d.DataParallel(net)
  local opt = gd.optim.SGD(dp, {lr = 0.05, momentum = 0.9})
  local loader = gd.data.loader({X:to("cuda"), y:to("cuda")}, {batch_size = 4, shard = true, seed = 3})
  train_steps(dp, opt, loader, 1)
  save("params", (net:flat_parameters()):to("cpu"))
  -- the buckets under autograd on CUDA: NCCL on the bucket stream, ordered
  -- by events with the backward kernels before and the step after
  -- (dist/nccl.c); 3 buckets and 1, as on the CPU.  Within 1e-5 of the module
  -- path (the two paths' backward kernels may round differently on the GPU);
  -- a bucket reduced before its gradients were written, or a step that ran
  -- before its allreduce ended, would be off by a gradient's size, and on 2
  -- ranks the ranks would differ.  (On one rank NCCL's in-place allreduce of
  -- one moves nothing: there it checks the stream, events and waits run.)
  check_paths("cuda", {{"float32", {bucket_cap_mb = 16 / 1048576}, 3}, {"float32", {}, 1}}, 1e-5)
  say("cuda ok", rank, size)

elseif mode == "fail" then
  -- a rank that fails mid-run: by an error, a SIGKILL, a hang, or os.exit
  local how = arg[3]
  local t = gd.ones(8)
  for step = 1, 6 do
    if step == 3 and rank == 1 then
      if how == "error" then error("rank 1 fails on purpose at step 3") end
      if how == "kill" then
        local ffi = require "ffi"
        ffi.cdef "int kill(int pid, int sig); int getpid(void);"
        ffi.C.kill(ffi.C.getpid(), 9)
      end
      if how == "hang" then os.execute("sleep 60") end
      if how == "exit" then os.exit(3) end
    end
    d.allreduce(t)
  end
  say("fail mode finished", rank) -- must never print on any rank
else
  error("dist_worker: unknown mode " .. tostring(mode))
end
