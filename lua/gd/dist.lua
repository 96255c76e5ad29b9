--- gd.dist: data-parallel training across processes (issue 16).
--
--     mpirun -np 2 gdlua train.lua        -- each rank runs the script
--
--     local net = gd.dist.DataParallel(make_net())   -- rank 0's weights everywhere
--     local opt = gd.optim.SGD(net, {lr = 0.1})       -- the 1/N is folded into its step
--     local data = gd.data.loader({X, y}, {batch_size = 32, shard = true, seed = 1})
--     gd.train{model = net, loss = gd.nn.MSELoss(), optimizer = opt, data = data, epochs = 5}
--
-- The collectives are MPI's (CPU tensors) and NCCL's (CUDA tensors), in
-- libgd_dist.so (src/dist/), which libgd opens only under a launcher or when
-- gd.dist.init() asks (src/dist.c); without it, or outside mpirun, every
-- function below works with size 1.  A rank that fails ends every rank (the
-- host calls gd_dist_abort after printing the error), and every collective is
-- bounded by GD_DIST_TIMEOUT seconds (a watchdog thread), so nothing hangs.
local gd = require "gd.tensor"
local doc = require "gd.doc"
local check = require "gd.check"
local F = require "gd.ffi"
local ffi, C = F.ffi, F.C
local fmt = string.format

local M = {}
local OPS = {sum = C.GD_DIST_SUM, mean = C.GD_DIST_MEAN, avg = C.GD_DIST_MEAN, max = C.GD_DIST_MAX, min = C.GD_DIST_MIN}
local OP_NAMES = {"sum", "mean", "avg", "max", "min"}

local function cerr() return ffi.string(C.gd_last_error()) end

--- Joins the MPI job (force: also outside a launcher, as an MPI singleton).
-- Once joined, a failing os.exit(code) ends every rank too: otherwise this
-- rank's MPI_Finalize would wait for the others, and they for it.
local exit = os.exit
local function join(fname, force, level)
  if C.gd_dist_init(force and 1 or 0) ~= 0 then error(fname .. ": " .. cerr(), level + 1) end
  if C.gd_dist_size() > 1 and os.exit == exit then
    os.exit = function(code, close)
      if code == false or (type(code) == "number" and code ~= 0) then
        io.stdout:flush()
        C.gd_dist_abort(fmt("gd.dist: rank %d called os.exit(%s); ending every rank", C.gd_dist_rank(),
          tostring(code)), code == false and 1 or code)
      end
      return exit(code, close)
    end
  end
end

-- under mpirun, loading gd.dist (gd.train does) joins the job
if C.gd_dist_launched() ~= 0 then join("gd.dist", false, 1) end

M.init = doc(function(opts)
  opts = check.options("gd.dist.init", opts, {timeout = true})
  -- outside a launcher, MPI starts as a singleton (size 1) when the engine exists
  if C.gd_dist_active() == 0 then join("gd.dist.init", true, 2) end
  if opts.timeout ~= nil then
    check.number("gd.dist.init", "timeout", opts.timeout, {min = 1e-3})
    if C.gd_dist_set_timeout(opts.timeout) ~= 0 then error("gd.dist.init: " .. cerr(), 2) end
  end
  return M
end, "gd.dist.init", [[
gd.dist.init([{timeout = seconds}]) -> gd.dist: joins the process group.
  Automatic when launched by mpirun (loading gd.dist joins); outside mpirun
  the group is this process alone (size 1; an MPI singleton when the engine,
  libgd_dist.so, is built).  timeout bounds every collective (default 600 s,
  or GD_DIST_TIMEOUT): a collective still waiting after it ends every rank.]])

M.rank = doc(function() return C.gd_dist_rank() end, "gd.dist.rank",
  "gd.dist.rank() -> this process's rank (0-based, as MPI's).")
M.size = doc(function() return C.gd_dist_size() end, "gd.dist.size", "gd.dist.size() -> the number of processes.")
M.local_rank = doc(function() return C.gd_dist_local_rank() end, "gd.dist.local_rank",
  "gd.dist.local_rank() -> this process's rank among those on its machine (which GPU it should use).")
M.is_main = doc(function() return C.gd_dist_rank() == 0 end, "gd.dist.is_main",
  "gd.dist.is_main() -> true on rank 0 (the one that prints, logs and checkpoints).")
M.engine = doc(function()
  if C.gd_dist_active() ~= 0 then return "mpi" end
  return nil, ffi.string(C.gd_dist_why())
end, "gd.dist.engine", [[
gd.dist.engine() -> "mpi" once joined through libgd_dist.so, else nil and why
  (not under a launcher, or the engine was not built).]])

M.barrier = doc(function()
  if C.gd_dist_barrier() ~= 0 then error("gd.dist.barrier: " .. cerr(), 2) end
end, "gd.dist.barrier", "gd.dist.barrier(): waits until every rank reaches it.")

local function tensor_arg(fname, t)
  if not gd.is_tensor(t) then error(fname .. ": argument 1 (t) must be a tensor, got " .. type(t), 3) end
  if not t:is_contiguous() then error(fname .. ": argument 1 (t) must be contiguous (call t:contiguous())", 3) end
end

local ALLREDUCE_OPTS = {deterministic = true}

M.allreduce = doc(function(t, op, opts)
  local fname = "gd.dist.allreduce"
  tensor_arg(fname, t)
  op = op or "sum"
  local code = OPS[op]
  if code == nil then
    error(fname .. ": argument 2 (op) must be one of sum, mean (avg), max, min, got " .. tostring(op) ..
      (type(op) == "string" and check.suggest(op, OP_NAMES) or ""), 2)
  end
  opts = check.options(fname, opts, ALLREDUCE_OPTS)
  if C.gd_dist_allreduce(t.c, code, opts.deterministic and 1 or 0) ~= 0 then error(fname .. ": " .. cerr(), 2) end
  return t
end, "gd.dist.allreduce", [==[
gd.dist.allreduce(t [, op = "sum" [, {deterministic = false}]]) -> t: reduces t
  over every rank, in place; op: "sum", "mean" (or "avg": the sum divided by
  size(), as PyTorch's ReduceOp.AVG), "max" or "min".  deterministic = true
  sums in rank order, ((t0 + t1) + t2) + ..., by gathering every rank's t
  (size() times t's memory, in chunks of 4M elements): the same bits for any
  rank count and message size, so 2 ranks x batch B reproduce 1 rank's
  gradient accumulation over the same rows exactly (CPU tensors).]==])

M.broadcast = doc(function(t, root)
  local fname = "gd.dist.broadcast"
  tensor_arg(fname, t)
  root = root or 0
  check.number(fname, "root", root, {integer = true, min = 0, max = M.size() - 1})
  if C.gd_dist_broadcast(t.c, root) ~= 0 then error(fname .. ": " .. cerr(), 2) end
  return t
end, "gd.dist.broadcast", "gd.dist.broadcast(t [, root = 0]) -> t: copies root's t into every rank's t, in place.")

M.allgather = doc(function(t)
  local fname = "gd.dist.allgather"
  tensor_arg(fname, t)
  local shape = t.shape
  table.insert(shape, 1, M.size())
  local out = gd.empty(shape, {dtype = t.dtype, device = t.device})
  if C.gd_dist_allgather(out.c, t.c) ~= 0 then error(fname .. ": " .. cerr(), 2) end
  return out
end, "gd.dist.allgather", [[
gd.dist.allgather(t) -> a new tensor of shape {size(), t.shape...}: row r + 1
  holds rank r's t.]])

--- Averages numbers over the ranks (gd.train's metrics): one allreduce of a
-- float64 tensor, in rank order, so every rank gets the same bits.
function M._mean_numbers(list)
  if C.gd_dist_size() == 1 or #list == 0 then return list end
  local t = gd.tensor(list, {dtype = "float64"})
  M.allreduce(t, "mean", {deterministic = true})
  return t:totable()
end

M.nodeinfo = doc(function()
  return {rank = M.rank(), size = M.size(), localRank = M.local_rank(), isMain = M.is_main()}
end, "gd.dist.nodeinfo", [[
gd.dist.nodeinfo() -> {rank, size, localRank, isMain}: PuzzleLib's shape, for
  gd.optim.X{..., nodeinfo = gd.dist.nodeinfo()}: with size > 1, the
  optimizer's step first sums every gradient over the ranks (one allreduce
  over the model's gradient arena) and folds the 1/size into its update.]])

local function module_arg(fname, net)
  if type(net) ~= "table" or type(net.flat_parameters) ~= "function" then
    error(fname .. ": argument 1 (net) must be a gd.nn module", 3)
  end
end

local function storage_key(t) return tonumber(ffi.cast("uintptr_t", t.c.storage)) end

M.broadcast_module = doc(function(net)
  module_arg("gd.dist.broadcast_module", net)
  if C.gd_dist_size() == 1 then return net end
  local p = net:flat_parameters()
  local arena = p and storage_key(p)
  if p then M.broadcast(p, 0) end
  -- buffers (BatchNorm's running statistics) live outside the arena
  local sd = net:state_dict()
  local names = {}
  for k, v in pairs(sd) do if gd.is_tensor(v) and storage_key(v) ~= arena then names[#names + 1] = k end end
  table.sort(names) -- the same order on every rank
  for _, k in ipairs(names) do
    local v = sd[k]
    if v:is_contiguous() then M.broadcast(v, 0) else v:copy_(M.broadcast(v:contiguous(), 0)) end
  end
  return net
end, "gd.dist.broadcast_module", [[
gd.dist.broadcast_module(net) -> net: one broadcast of net's parameter arena
  (and one per buffer, such as BatchNorm's running statistics) from rank 0,
  so every rank starts from rank 0's weights.]])

-- ------------------------------------------------------- DataParallel

-- The gradient arenas whose allreduce is a sum that an optimizer scales by
-- 1/N in its step: DataParallel -> {key = the arena's storage, scale}.  Weak
-- keys: a collected DataParallel stops claiming its arena; while it lives it
-- holds the arena's tensor, so the storage's address cannot be reused.
M._folded = setmetatable({}, {__mode = "k"})
M._generation = 0  -- moves when _folded gains an entry (optimizers re-check)

--- The factor gd.optim folds into grad_scale for a gradient tensor (1
-- normally; 1/N for a DataParallel(average = true) arena), and whether a
-- DataParallel already reduces it.
function M._folded_scale(grad)
  if grad == nil then return 1, false end
  local key = storage_key(grad)
  for _, e in pairs(M._folded) do
    if e.key == key then return e.scale, true end
  end
  return 1, false
end

local DataParallel = {}
DataParallel.__index = DataParallel
function DataParallel:forward(...) return self.module:forward(...) end
DataParallel.__call = function(self, ...) return self.module:forward(...) end

--- The allreduce of the whole gradient arena: the one collective of a
-- step on the module path (dp:backward(grad)).  Under autograd,
-- loss:backward() reduces the same arena in buckets from C instead
-- (gd_dist_buckets: posted in reverse layer order while the walk runs,
-- waited for in order at its end), with the same result.
function DataParallel:reduce_gradients()
  local g = self.grads
  if g == nil then return end
  local op = (self.average and not self.fold) and 1 or 0
  if C.gd_dist_allreduce(g.c, op, self.deterministic and 1 or 0) ~= 0 then
    error("gd.dist.DataParallel: the gradient allreduce: " .. cerr(), 3)
  end
end

function DataParallel:backward(...)
  local r1, r2, r3 = self.module:backward(...)
  if self.sync and self.size > 1 then self:reduce_gradients() end
  return r1, r2, r3
end
function DataParallel:parameters() return self.module:parameters() end
function DataParallel:requires_grad_(flag) self.module:requires_grad_(flag) return self end
local stats_buf = ffi.new("int64_t[3]")
--- dp:bucket_stats() -> {count, posted_during_backward, reduced}: the
-- autograd path's buckets (count 0 outside a launcher), how many of them the last
-- reduced loss:backward() posted before its walk ended, and how many
-- backwards were reduced.
function DataParallel:bucket_stats()
  C.gd_dist_buckets_stats(self.buckets, stats_buf)
  return {count = tonumber(stats_buf[0]), posted_during_backward = tonumber(stats_buf[1]),
          reduced = tonumber(stats_buf[2])}
end
function DataParallel:zero_grad() self.module:zero_grad() return self end
function DataParallel:flat_parameters() return self.module:flat_parameters() end
function DataParallel:state_dict(...) return self.module:state_dict(...) end
function DataParallel:load_state_dict(...) return self.module:load_state_dict(...) end
function DataParallel:train(m) self.module:train(m) return self end
function DataParallel:evaluate() self.module:evaluate() return self end
DataParallel.eval = DataParallel.evaluate
--- Runs fn() with the gradient allreduce off (gradient accumulation): the
-- next backward outside no_sync reduces everything accumulated.
function DataParallel:no_sync(fn)
  if type(fn) ~= "function" then error("gd.dist.DataParallel:no_sync: expects a function, got " .. type(fn), 2) end
  local was = self.sync
  self.sync = false
  if self.buckets ~= nil then C.gd_dist_buckets_enable(self.buckets, 0) end
  local ok, err = pcall(fn)
  self.sync = was
  if self.buckets ~= nil then C.gd_dist_buckets_enable(self.buckets, was and 1 or 0) end
  if not ok then error(err, 0) end
end
DataParallel.__tostring = function(self) return "gd.dist.DataParallel(" .. tostring(self.module) .. ")" end

local DP_OPTS = {average = true, deterministic = true, fold = true, bucket_cap_mb = true}

--- The autograd path's buckets over net's gradient arena g (C owns them).
local function make_buckets(fname, net, g, op, deterministic, cap_mb)
  local ps = net:parameters()
  local arr = ffi.new("gd_tensor*[?]", #ps)
  for i, p in ipairs(ps) do arr[i - 1] = p.c end
  local box = ffi.new("gd_dist_buckets*[1]")
  if C.gd_dist_buckets_new(box, g.c, arr, #ps, cap_mb, op, deterministic and 1 or 0) ~= 0 then
    error(fname .. ": " .. cerr(), 3)
  end
  return ffi.gc(box[0], C.gd_dist_buckets_free)
end

M._DataParallel = DataParallel

M.DataParallel = doc(function(net, opts)
  local fname = "gd.dist.DataParallel"
  module_arg(fname, net)
  opts = check.options(fname, opts, DP_OPTS)
  M.broadcast_module(net)
  local _, g = net:flat_parameters()
  local size = M.size()
  local self = setmetatable({module = net, grads = g, size = size, average = opts.average ~= false,
                             fold = opts.fold ~= false, deterministic = opts.deterministic == true, sync = true},
                            DataParallel)
  local cap = opts.bucket_cap_mb
  if cap == nil then cap = 25 end
  check.number(fname, "bucket_cap_mb", cap, {min = 1e-9, finite = true})
  if g and size > 1 then
    M._folded[self] = {key = storage_key(g), grads = g,
                       scale = (self.average and self.fold) and 1 / size or 1}
    M._generation = M._generation + 1
  end
  -- the buckets also with one rank under mpirun (`mpirun -np 1`: a real
  -- collective of one, as gd.dist.allreduce does there), so that one GPU runs
  -- the NCCL bucket path (scripts/gpu-check); outside a launcher, none
  if g and (size > 1 or C.gd_dist_active() ~= 0) then
    self.buckets = make_buckets(fname, net, g, (self.average and not self.fold) and C.GD_DIST_MEAN or C.GD_DIST_SUM,
                                self.deterministic, cap)
  end
  return self
end, "gd.dist.DataParallel", [[
gd.dist.DataParallel(net [, {average = true, deterministic = false, fold = true,
  bucket_cap_mb = 25}])
  -> a module: forward passes through to net, after one broadcast of rank 0's
  weights; backward(grad) runs net's backward, then ONE allreduce (a sum)
  over net's whole gradient arena.  Under autograd (dp:requires_grad_()),
  loss:backward() ends with the same reduction, done in buckets of about
  bucket_cap_mb MiB in reverse layer order, each posted as a non-blocking
  allreduce as soon as backward has written its gradients, all waited for
  in order before loss:backward() returns (dp:bucket_stats()).  With average, the 1/size() is folded into
  the optimizer's step (gd.optim's grad_scale) rather than a pass of its own:
  build the optimizer on the DataParallel or on net, before or after.  (fold =
  false divides in the allreduce instead, for optimizers written in Lua.)
  deterministic = true reduces in rank order (gd.dist.allreduce).
  dp:no_sync(fn) runs fn without the allreduce (gradient accumulation).]])

doc(M, "gd.dist", [[
gd.dist: init, rank, size, local_rank, is_main, barrier, allreduce, broadcast,
  allgather, nodeinfo, broadcast_module, DataParallel, engine.
  `mpirun -np N gdlua script.lua` runs N ranks over MPI (CUDA tensors over
  NCCL); outside mpirun, size 1.  gd.data.loader(..., {shard = true}) gives
  each rank its share of every epoch; gd.train prints, logs, plots and
  checkpoints on rank 0 only, with metrics averaged over the ranks.
  See docs/distributed.md.]])

return M
