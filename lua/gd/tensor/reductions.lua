--- gd.tensor.reductions: sum, mean, prod, var, std, norm, max, min, argmax,
-- argmin, logsumexp (over everything or along a dimension) and cumsum.
local A = require "gd.aux"
local tonumber, tostring, type, select = tonumber, tostring, type, select
local huge = math.huge
local check = require "gd.check"
local C = A.C
local Tensor = A.Tensor
local out1 = A.out1
local out2 = A.out2
local dbl = A.dbl
local OP = A.OP
local RED = A.RED
local wrap = A.wrap
local result = A.result
local is_tensor = A.is_tensor
local self_c = A.self_c
local dim0 = A.dim0
local fail = A.fail
local binary = require("gd.tensor.arithmetic").binary

check.register_internal()

local gd = {}

-- ------------------------------------------------------------ reductions

--- A tensor that requires grad reduces to a 0-d tensor (the expression stays
-- differentiable); any other to a number, as before autograd.  (Not tail
-- calls: LuaJIT counts those against loopunroll, and a training step's trace
-- is near that limit already.)
local function reduce(fname, op, t, dim, keepdim, p)
  local c = self_c(fname, t)
  if dim == nil then
    if c.requires_grad ~= 0 and C.gd_grad_enabled() ~= 0 then
      local r = result(C.gd_reduce(out1, c, op, p or 0), fname)
      return r
    end
    if C.gd_reduce_all(c, op, p or 0, dbl) ~= 0 then fail(fname) end
    return dbl[0]
  end
  local d = dim0(fname, c, dim)
  return result(C.gd_reduce_dim(out1, nil, c, d, op, keepdim and 1 or 0, p or 0), fname)
end

function Tensor.sum(t, dim, keepdim) return reduce("sum", RED.sum, t, dim, keepdim) end
A.document("sum", "t:sum([dim], [keepdim]) -> the sum (a number), or a tensor reduced along dim.  Deterministic: "
  .. "the same bits with any number of threads.")
function Tensor.mean(t, dim, keepdim) return reduce("mean", RED.mean, t, dim, keepdim) end
A.document("mean", "t:mean([dim], [keepdim]) -> the mean (NaN for no elements).")
function Tensor.prod(t, dim, keepdim) return reduce("prod", RED.prod, t, dim, keepdim) end
A.document("prod", "t:prod([dim], [keepdim]) -> the product.")
-- var/std: PyTorch's unbiased estimate by default (correction 1)
function Tensor.var(t, dim, keepdim, correction)
  correction = check.number("var", "correction", correction, {default = 1, min = 0})
  return reduce("var", RED.var, t, dim, keepdim, correction)
end
A.document("var", "t:var([dim], [keepdim], [correction = 1]) -> the variance (unbiased by default, as PyTorch).")
function Tensor.std(t, dim, keepdim, correction)
  correction = check.number("std", "correction", correction, {default = 1, min = 0})
  return reduce("std", RED.std, t, dim, keepdim, correction)
end
A.document("std", "t:std([dim], [keepdim], [correction = 1]) -> the standard deviation.")

function Tensor.norm(t, p, dim, keepdim)
  if p == nil or p == "fro" then p = 2 end
  if p == "inf" then p = huge end
  check.number("norm", "p", p, {min = 0})
  return reduce("norm", RED.norm, t, dim, keepdim, p)
end
A.document("norm",
  "t:norm([p = 2], [dim], [keepdim]) -> the p-norm (p may be math.huge or \"inf\", 0 counts nonzeros).")

-- max()/min() -> number; max(dim) -> values, indices (1-based int64);
-- max(tensor) -> the element-wise maximum
local function extreme(fname, op, t, dim, keepdim)
  local c = self_c(fname, t)
  if dim == nil then
    if c.requires_grad ~= 0 and C.gd_grad_enabled() ~= 0 then
      local r = result(C.gd_reduce(out1, c, op, 0), fname)
      return r
    end
    if C.gd_reduce_all(c, op, 0, dbl) ~= 0 then fail(fname) end
    return dbl[0]
  end
  if is_tensor(dim) or type(dim) == "table" then
    return binary(fname, op == RED.max and OP.maximum or OP.minimum, t, dim)
  end
  local d = dim0(fname, c, dim)
  if C.gd_reduce_dim(out1, out2, c, d, op, keepdim and 1 or 0, 0) ~= 0 then fail(fname) end
  local values, indices = wrap(out1[0]), wrap(out2[0])
  if C.gd_binary_scalar_(indices.c, 1, OP.add) ~= 0 then fail(fname) end
  return values, indices
end
function Tensor.max(t, dim, keepdim) return extreme("max", RED.max, t, dim, keepdim) end
A.document("max", "t:max() -> the largest value (NaN if any is NaN); t:max(dim, [keepdim]) -> values, indices "
  .. "(1-based int64) along dim; t:max(x) -> the element-wise maximum.")
function Tensor.min(t, dim, keepdim) return extreme("min", RED.min, t, dim, keepdim) end
A.document("min",
  "t:min() -> the smallest value; t:min(dim, [keepdim]) -> values, indices; t:min(x) -> element-wise.")

local function argext(fname, op, t, dim, keepdim)
  local c = self_c(fname, t)
  if dim == nil then
    if C.gd_reduce_all(c, op, 0, dbl) ~= 0 then fail(fname) end
    return dbl[0] + 1
  end
  local d = dim0(fname, c, dim)
  local r = result(C.gd_reduce_dim(out1, nil, c, d, op, keepdim and 1 or 0, 0), fname)
  if C.gd_binary_scalar_(r.c, 1, OP.add) ~= 0 then fail(fname) end
  return r
end
function Tensor.argmax(t, dim, keepdim) return argext("argmax", RED.argmax, t, dim, keepdim) end
A.document("argmax",
  "t:argmax([dim], [keepdim]) -> 1-based position of the largest value (over the flattened tensor), "
  .. "or int64 indices along dim; the first one on ties, the first NaN if any.")
function Tensor.argmin(t, dim, keepdim) return argext("argmin", RED.argmin, t, dim, keepdim) end
A.document("argmin", "t:argmin([dim], [keepdim]) -> 1-based position of the smallest value.")

function Tensor.logsumexp(t, dim, keepdim) return reduce("logsumexp", RED.logsumexp, t, dim, keepdim) end
A.document("logsumexp", [[
t:logsumexp([dim], [keepdim]) -> log(sum(exp(t))) over everything (a number)
or along dim (torch.logsumexp), computed as m + log(sum(exp(t - m))) with m
the largest value, so that large values do not overflow; no elements give
-inf; int64 becomes float32.]])

--- cumsum's dimension: Torch7's default 1; a 0-d tensor takes 1 or -1.
local function scan_dim(fname, c, dim)
  if dim == nil then dim = 1 end
  if c.rank == 0 and (dim == 1 or dim == -1) then return 0 end
  return dim0(fname, c, dim)
end
function Tensor.cumsum(t, dim)
  local c = self_c("cumsum", t)
  return result(C.gd_cumsum(out1, c, scan_dim("cumsum", c, dim)), "cumsum")
end
function Tensor.cumsum_(t, dim)
  local c = self_c("cumsum_", t)
  if C.gd_cumsum_(c, scan_dim("cumsum_", c, dim)) ~= 0 then fail("cumsum_") end
  return t
end
A.document("cumsum", [[
t:cumsum([dim = 1]) -> the running sums along dim: element j is the sum of
elements 1..j (torch.cumsum; Torch7's default dim).  Same shape and dtype
(int64 stays exact); each line is summed in order, in double.]])
A.document("cumsum_", "t:cumsum_([dim = 1]) -> t, replaced by its running sums along dim.")

return {gd = gd}
