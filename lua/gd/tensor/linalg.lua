--- gd.tensor.linalg: matmul (BLAS), addmm_ (gemm into an existing output),
-- dot and outer.
local A = require "gd.aux"
local tonumber, tostring, type, select = tonumber, tostring, type, select
local fmt = string.format
local doc = require "gd.doc"
local check = require "gd.check"
local C = A.C
local Tensor = A.Tensor
local out1 = A.out1
local dbl = A.dbl
local ibuf = A.ibuf
local DTYPE_NAMES = A.DTYPE_NAMES
local OP = A.OP
local result = A.result
local self_c = A.self_c
local tc = A.tc
local operand = A.operand
local argerr = A.argerr
local fail = A.fail

check.register_internal()

local gd = {}

function Tensor.matmul(t, x)
  local c = self_c("matmul", t)
  local tx = operand("matmul", x, c)
  return result(C.gd_matmul(out1, c, tx.c), "matmul")
end
A.document("matmul", "t:matmul(x) -> the matrix product (see gd.matmul).")
gd.matmul = doc(function(a, b)
  return result(C.gd_matmul(out1, tc("gd.matmul", a, "argument 1"), tc("gd.matmul", b, "argument 2")), "gd.matmul")
end, "gd.matmul", [[
gd.matmul(a, b) -> the matrix product, with NumPy's rules: 1-D.1-D is a dot
product (a 0-d tensor), 2-D@1-D a matrix-vector product, 1-D@2-D a
vector-matrix product, 2-D@2-D a matrix product, 3-D@3-D (or with a 2-D or
1-D side) a batched product.  float32/float64 go through BLAS (OpenBLAS
cblas on the CPU); mixed dtypes are promoted.]])

--- gemm into an existing output: t = beta*t + alpha * op(a) @ op(b)
function Tensor.addmm_(t, a, b, alpha, beta, trans_a, trans_b)
  local fname = "addmm_"
  local c = self_c(fname, t)
  alpha = check.number(fname, "alpha", alpha, {default = 1})
  beta = check.number(fname, "beta", beta, {default = 1})
  if C.gd_gemm(c, tc(fname, a, "argument 1"), trans_a and 1 or 0, tc(fname, b, "argument 2"),
    trans_b and 1 or 0, alpha, beta) ~= 0 then
    fail(fname)
  end
  return t
end
A.document("addmm_", "t:addmm_(a, b, [alpha = 1], [beta = 1], [trans_a], [trans_b]) -> t, after "
  .. "t = beta*t + alpha*op(a)@op(b) (2-D, BLAS gemm).")

--- Two 1-D operands of one length for dot; the second may be a table.
local function vectors(fname, a, x, same_dtype)
  local tx = operand(fname, x, a)
  local b = tx.c
  if a.rank ~= 1 or b.rank ~= 1 then
    argerr(fname, fmt("expects two 1-D tensors, got %d-D and %d-D", a.rank, b.rank))
  end
  if same_dtype and a.sizes[0] ~= b.sizes[0] then
    argerr(fname, fmt("the vectors have %d and %d elements", tonumber(a.sizes[0]), tonumber(b.sizes[0])))
  end
  if same_dtype and a.scalar_type ~= b.scalar_type then
    argerr(fname, fmt("expects two tensors of one dtype, got %s and %s", DTYPE_NAMES[a.scalar_type],
      DTYPE_NAMES[b.scalar_type]))
  end
  return tx
end
local function dot(fname, a, x)
  local tx = vectors(fname, a, x, true)
  local r = result(C.gd_matmul(out1, a, tx.c), fname)
  if C.gd_get(r.c, ibuf, dbl) ~= 0 then fail(fname) end
  return dbl[0]
end
function Tensor.dot(t, x) return dot("dot", self_c("dot", t), x) end
A.document("dot", [[
t:dot(x) -> the inner product of two 1-D tensors of one length and dtype, as
a number (Torch7's dot; torch.dot; through BLAS for floats).]])

local function outer(fname, a, x)
  local tx = vectors(fname, a, x, false)
  local col = result(C.gd_unsqueeze(out1, a, 1), fname)
  local row = result(C.gd_unsqueeze(out1, tx.c, 0), fname)
  return result(C.gd_binary(out1, col.c, row.c, OP.mul), fname)
end
function Tensor.outer(t, x) return outer("outer", self_c("outer", t), x) end
function Tensor.ger(t, x) return outer("ger", self_c("ger", t), x) end
A.document("outer", [[
t:outer(x) -> the n x m matrix t[i] * x[j] of two 1-D tensors (torch.outer;
the dtype is promoted as for *).]])
A.document("ger", "t:ger(x) -> t:outer(x) (Torch7's and BLAS's name).")

return {gd = gd}
