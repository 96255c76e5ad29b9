--- gd.dist: data-parallel training across processes (issue 16).
--
-- This file holds the single-process engine: the whole public API with size 1
-- (what every rank sees outside mpirun, or where libgd_dist.so is absent).
-- The MPI / NCCL engine (libgd_dist.so, loaded through the FFI like
-- libgd_cuda.so) is NOT written yet; when it is, the functions below keep their
-- names and shapes and call it when size() > 1.
local gd = require "gd.tensor"
local doc = require "gd.doc"
local check = require "gd.check"

local M = {}
local OPS = {sum = true, mean = true, max = true, min = true}

local function tensor_arg(fname, t)
  if not gd.is_tensor(t) then error(fname .. ": argument 1 (t) must be a tensor, got " .. type(t), 3) end
end

M.init = doc(function() return M end, "gd.dist.init", [[
gd.dist.init() -> gd.dist: joins the process group (automatic when launched by
  mpirun).  Outside mpirun the group is this process alone (size 1).]])
M.rank = doc(function() return 0 end, "gd.dist.rank", "gd.dist.rank() -> this process's rank (0-based, as MPI's).")
M.size = doc(function() return 1 end, "gd.dist.size", "gd.dist.size() -> the number of processes.")
M.local_rank = doc(function() return 0 end, "gd.dist.local_rank",
  "gd.dist.local_rank() -> this process's rank among those on its machine.")
M.is_main = doc(function() return M.rank() == 0 end, "gd.dist.is_main",
  "gd.dist.is_main() -> true on rank 0 (the one that prints, logs and checkpoints).")
M.barrier = doc(function() end, "gd.dist.barrier", "gd.dist.barrier(): waits until every rank reaches it.")

M.allreduce = doc(function(t, op)
  tensor_arg("gd.dist.allreduce", t)
  op = op or "sum"
  if not OPS[op] then
    error("gd.dist.allreduce: argument 2 (op) must be one of sum, mean, max, min" ..
      (type(op) == "string" and check.suggest(op, {"sum", "mean", "max", "min"}) or ""), 2)
  end
  return t -- one rank: every reduction of one value is that value
end, "gd.dist.allreduce", [[
gd.dist.allreduce(t [, op = "sum"]) -> t: reduces t over every rank, in place;
  op: "sum", "mean", "max" or "min".]])

M.broadcast = doc(function(t, root)
  tensor_arg("gd.dist.broadcast", t)
  root = root or 0
  check.number("gd.dist.broadcast", "root", root, {integer = true, min = 0, max = M.size() - 1})
  return t
end, "gd.dist.broadcast", "gd.dist.broadcast(t [, root = 0]) -> t: copies root's t into every rank's t, in place.")

M.allgather = doc(function(t)
  tensor_arg("gd.dist.allgather", t)
  local shape = t.shape
  table.insert(shape, 1, M.size())
  local out = gd.empty(shape, {dtype = t.dtype, device = t.device})
  out:select(1, 1):copy_(t)
  return out
end, "gd.dist.allgather", [[
gd.dist.allgather(t) -> a new tensor of shape {size(), t.shape...}: row r + 1
  holds rank r's t.]])

M.nodeinfo = doc(function()
  return {rank = M.rank(), size = M.size(), localRank = M.local_rank(), isMain = M.is_main()}
end, "gd.dist.nodeinfo", [[
gd.dist.nodeinfo() -> {rank, size, localRank, isMain}: PuzzleLib's shape, for
  gd.optim.X{..., nodeinfo = gd.dist.nodeinfo()}.]])

M.broadcast_module = doc(function(net)
  if type(net) ~= "table" or type(net.flat_parameters) ~= "function" then
    error("gd.dist.broadcast_module: argument 1 (net) must be a gd.nn module", 2)
  end
  local p = net:flat_parameters()
  if p then M.broadcast(p, 0) end
  return net
end, "gd.dist.broadcast_module", [[
gd.dist.broadcast_module(net) -> net: one broadcast of net's parameter arena
  from rank 0, so every rank starts from rank 0's weights.]])

-- DataParallel: a module wrapping net; backward ends with one allreduce over
-- the whole gradient arena (a later bucket API can post slices of the same
-- arena while an autograd backward runs).
local DataParallel = {}
DataParallel.__index = DataParallel
function DataParallel:forward(...) return self.module:forward(...) end
DataParallel.__call = function(self, ...) return self.module:forward(...) end
function DataParallel:backward(...)
  local r1, r2, r3 = self.module:backward(...)
  if self.sync then
    local _, g = self.module:flat_parameters()
    if g then M.allreduce(g, self.average and "mean" or "sum") end
  end
  return r1, r2, r3
end
function DataParallel:parameters() return self.module:parameters() end
function DataParallel:zero_grad() return self.module:zero_grad() end
function DataParallel:flat_parameters() return self.module:flat_parameters() end
function DataParallel:state_dict(...) return self.module:state_dict(...) end
function DataParallel:load_state_dict(...) return self.module:load_state_dict(...) end
function DataParallel:train(m) self.module:train(m) return self end
function DataParallel:evaluate() self.module:evaluate() return self end
--- Runs fn() with the gradient allreduce off (gradient accumulation).
function DataParallel:no_sync(fn)
  local was = self.sync
  self.sync = false
  local ok, err = pcall(fn)
  self.sync = was
  if not ok then error(err, 0) end
end
DataParallel.__tostring = function(self) return "gd.dist.DataParallel(" .. tostring(self.module) .. ")" end

M.DataParallel = doc(function(net, opts)
  if type(net) ~= "table" or type(net.flat_parameters) ~= "function" then
    error("gd.dist.DataParallel: argument 1 (net) must be a gd.nn module", 2)
  end
  opts = check.options("gd.dist.DataParallel", opts, {average = true})
  M.broadcast_module(net)
  return setmetatable({module = net, average = opts.average ~= false, sync = true}, DataParallel)
end, "gd.dist.DataParallel", [[
gd.dist.DataParallel(net [, {average = true}]) -> a module: forward passes
  through to net; backward(grad) runs net's backward, then one allreduce over
  the whole gradient arena (mean with average, else sum).  dp:no_sync(fn) runs
  fn without the allreduce (gradient accumulation).]])

doc(M, "gd.dist", [[
gd.dist: init, rank, size, local_rank, is_main, barrier, allreduce, broadcast,
  allgather, nodeinfo, broadcast_module, DataParallel.  Outside mpirun: size 1.
  (The MPI/NCCL engine, libgd_dist.so, is not built yet: every process is a
  group of one.)]])

return M
