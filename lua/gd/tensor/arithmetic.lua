--- gd.tensor.arithmetic: element-wise operations with broadcasting and
-- PyTorch's type promotion, their in-place forms, where, allclose, and the
-- arithmetic metamethods (+ - * / % ^, unary -).
local A = require "gd.aux"
local tonumber, tostring, type, select = tonumber, tostring, type, select
local floor = math.floor
local huge = math.huge
local fmt = string.format
local doc = require "gd.doc"
local check = require "gd.check"
local C = A.C
local Tensor = A.Tensor
local out1 = A.out1
local int_box = A.int_box
local INT64 = A.INT64
local OP = A.OP
local UN = A.UN
local INT64_LO = A.INT64_LO
local INT64_HI = A.INT64_HI
local result = A.result
local is_tensor = A.is_tensor
local self_c = A.self_c
local tc = A.tc
local new_empty = A.new_empty
local operand = A.operand
local argerr = A.argerr
local fail = A.fail

check.register_internal()

local gd = {}

local function binary(fname, op, a, b)
  if type(b) == "number" then
    if is_tensor(a) then return result(C.gd_binary_scalar(out1, a.c, b, op, 0), fname) end
  elseif type(a) == "number" then
    if is_tensor(b) then return result(C.gd_binary_scalar(out1, b.c, a, op, 1), fname) end
  end
  local ref = is_tensor(a) and a.c or is_tensor(b) and b.c
  if not ref then argerr(fname, fmt("expects a tensor operand, got %s and %s", type(a), type(b))) end
  local ta, tb = operand(fname, a, ref), operand(fname, b, ref)
  return result(C.gd_binary(out1, ta.c, tb.c, op), fname)
end

local function binary_(fname, op, t, x)
  local c = self_c(fname, t)
  local st
  if type(x) == "number" then st = C.gd_binary_scalar_(c, x, op)
  else
    local tx = operand(fname, x, c)
    st = C.gd_binary_(c, tx.c, op)
  end
  if st ~= 0 then fail(fname) end
  return t
end

local function unary(fname, op, t, p1, p2)
  return result(C.gd_unary(out1, self_c(fname, t), op, p1 or 0, p2 or 0), fname)
end

local function unary_(fname, op, t, p1, p2)
  if C.gd_unary_(self_c(fname, t), op, p1 or 0, p2 or 0) ~= 0 then fail(fname) end
  return t
end

local function alpha_arg(fname, alpha)
  return check.number(fname, "alpha", alpha)
end

--- PyTorch's type promotion among float32 (0), float64 (1) and int64 (2).
local function promote(a, b)
  if a == b then return a end
  if a == 1 or b == 1 then return 1 end
  return 0
end

--- t + alpha * x: PyTorch's add(other, alpha), and Torch7's add(value, other).
-- alpha*x is rounded in the promoted dtype, then added, as PyTorch does.
function Tensor.add(t, x, alpha)
  local c = self_c("add", t)
  if type(x) == "number" and is_tensor(alpha) then x, alpha = alpha, x end
  if alpha ~= nil and alpha ~= 1 then
    alpha_arg("add", alpha)
    if type(x) == "number" then return binary("add", OP.add, t, x * alpha) end
    local tx = operand("add", x, c)
    local d = promote(c.scalar_type, tx.c.scalar_type)
    if d == INT64 and (alpha ~= floor(alpha) or alpha < INT64_LO or alpha >= INT64_HI) then d = 0 end
    local xd = result(C.gd_to(out1, tx.c, d, -1), "add")
    return binary("add", OP.add, t, result(C.gd_binary_scalar(out1, xd.c, alpha, OP.mul, 0), "add"))
  end
  return binary("add", OP.add, t, x)
end
A.document("add", "t:add(x, [alpha]) -> t + alpha*x (x a tensor, number or table; broadcasting; promoted dtype).")

function Tensor.sub(t, x, alpha)
  self_c("sub", t)
  if alpha ~= nil and alpha ~= 1 then return t:add(x, -alpha_arg("sub", alpha)) end
  return binary("sub", OP.sub, t, x)
end
A.document("sub", "t:sub(x, [alpha]) -> t - alpha*x.")

function Tensor.mul(t, x) self_c("mul", t); return binary("mul", OP.mul, t, x) end
A.document("mul", "t:mul(x) -> t * x, element-wise.")
function Tensor.div(t, x) self_c("div", t); return binary("div", OP.div, t, x) end
A.document("div", "t:div(x) -> t / x (true division: int64 / int64 is float32).")
function Tensor.pow(t, x)
  if type(x) == "number" then return unary("pow", UN.pows, t, x) end
  self_c("pow", t)
  return binary("pow", OP.pow, t, x)
end
A.document("pow", "t:pow(x) -> t ^ x (int64 to a negative integer power is an error).")
function Tensor.remainder(t, x) self_c("remainder", t); return binary("remainder", OP.mod, t, x) end
A.document("remainder", "t:remainder(x) -> t % x with the sign of x (torch.remainder; Lua's %).")
function Tensor.maximum(t, x) self_c("maximum", t); return binary("maximum", OP.maximum, t, x) end
A.document("maximum", "t:maximum(x) -> the element-wise larger (NaN propagates).")
function Tensor.minimum(t, x) self_c("minimum", t); return binary("minimum", OP.minimum, t, x) end
A.document("minimum", "t:minimum(x) -> the element-wise smaller (NaN propagates).")
-- the comparisons: name, documentation
for _, m in ipairs {
  {"eq", "t:eq(x) -> 1 where t == x, else 0 (in the promoted dtype)."},
  {"ne", "t:ne(x) -> 1 where t ~= x, else 0."},
  {"lt", "t:lt(x) -> 1 where t < x, else 0."},
  {"le", "t:le(x) -> 1 where t <= x, else 0."},
  {"gt", "t:gt(x) -> 1 where t > x, else 0."},
  {"ge", "t:ge(x) -> 1 where t >= x, else 0."},
} do
  local name = m[1]
  local op = OP[name]
  Tensor[name] = function(t, x) self_c(name, t); return binary(name, op, t, x) end
  A.document(name, m[2])
end

-- the element-wise functions t:f() and t:f_(): name, what they compute
for _, m in ipairs {
  {"neg", "-t"}, {"abs", "|t|"}, {"sqrt", "the square root"}, {"exp", "e^t"}, {"log", "the natural logarithm"},
  {"square", "t^2"}, {"sign", "-1, 0 or 1 (NaN stays NaN)"}, {"relu", "max(t, 0)"}, {"tanh", "tanh(t)"},
  {"sigmoid", "1 / (1 + e^-t)"}, {"floor", "rounded down"}, {"ceil", "rounded up"},
  {"round", "rounded, halves to even"}, {"sin", "sin(t)"}, {"cos", "cos(t)"}, {"rsqrt", "1 / sqrt(t)"},
  {"reciprocal", "1 / t"},
} do
  local name, what = m[1], m[2]
  local op = UN[name]
  local name_ = name .. "_"
  Tensor[name] = function(t) return unary(name, op, t) end
  Tensor[name_] = function(t) return unary_(name_, op, t) end
  A.document(name, fmt("t:%s() -> %s, element-wise (int64 becomes float32 where the result is not whole).",
    name, what))
  A.document(name_, fmt("t:%s_() -> t, replaced by %s.", name, what))
end

local function clamp_bounds(fname, lo, hi)
  if lo == nil and hi == nil then argerr(fname, "at least one of min and max must be given") end
  if lo ~= nil then check.number(fname, "min", lo) end
  if hi ~= nil then check.number(fname, "max", hi) end
  if lo ~= nil and hi ~= nil and lo > hi then
    argerr(fname, fmt("min %s is greater than max %s", tostring(lo), tostring(hi)))
  end
  return lo or -huge, hi or huge
end
function Tensor.clamp(t, lo, hi)
  lo, hi = clamp_bounds("clamp", lo, hi)
  return unary("clamp", UN.clamp, t, lo, hi)
end
A.document("clamp", "t:clamp(min, max) -> values limited to [min, max] (either may be nil).")
function Tensor.clamp_(t, lo, hi)
  lo, hi = clamp_bounds("clamp_", lo, hi)
  return unary_("clamp_", UN.clamp, t, lo, hi)
end
A.document("clamp_", "t:clamp_(min, max) -> t, with values limited to [min, max].")

--- t += alpha * x: the body of add_ and sub_ (which passes -alpha).
local function add_scaled_(fname, t, x, alpha)
  local c = self_c(fname, t)
  if type(x) == "number" then
    if C.gd_binary_scalar_(c, x * alpha, OP.add) ~= 0 then fail(fname) end
    return t
  end
  local tx = operand(fname, x, c)
  if C.gd_add_scaled_(c, tx.c, alpha) ~= 0 then fail(fname) end
  return t
end

function Tensor.add_(t, x, alpha)
  if alpha == nil then
    alpha = 1
  else
    if type(x) == "number" and is_tensor(alpha) then x, alpha = alpha, x end -- Torch7: add_(value, tensor)
    alpha_arg("add_", alpha)
  end
  add_scaled_("add_", t, x, alpha)
  return t
end
A.document("add_", "t:add_(x, [alpha]) -> t, after t += alpha*x (x broadcasts to t's shape).")

function Tensor.sub_(t, x, alpha)
  if alpha == nil then alpha = 1 else alpha_arg("sub_", alpha) end
  add_scaled_("sub_", t, x, -alpha)
  return t
end
A.document("sub_", "t:sub_(x, [alpha]) -> t, after t -= alpha*x.")

function Tensor.mul_(t, x)
  binary_("mul_", OP.mul, t, x)
  return t
end
A.document("mul_", "t:mul_(x) -> t, after t *= x.")

function Tensor.div_(t, x)
  binary_("div_", OP.div, t, x)
  return t
end
A.document("div_", "t:div_(x) -> t, after t /= x (an error on int64 tensors: the result is float).")

function Tensor.pow_(t, x)
  if type(x) == "number" then return unary_("pow_", UN.pows, t, x) end
  return binary_("pow_", OP.pow, t, x)
end
A.document("pow_", "t:pow_(x) -> t, after t = t ^ x.")

function Tensor.copy_(t, src)
  local c = self_c("copy_", t)
  if is_tensor(src) then
    if C.gd_copy(c, src.c) ~= 0 then fail("copy_") end
    return t
  end
  if type(src) == "table" then
    local ts = operand("copy_", src, c)
    if C.gd_copy(c, ts.c) ~= 0 then fail("copy_") end
    return t
  end
  argerr("copy_", "source must be a tensor or a table, got " .. type(src))
end
A.document("copy_", "t:copy_(src) -> t, with src's values (broadcast to t's shape, converted, across devices).")

function Tensor.fill_(t, v)
  local c = self_c("fill_", t)
  if type(v) == "boolean" then v = v and 1 or 0 end
  if type(v) ~= "number" then argerr("fill_", "value must be a number, got " .. type(v)) end
  if C.gd_fill(c, v) ~= 0 then fail("fill_") end
  return t
end
A.document("fill_", "t:fill_(v) -> t, every element set to v.")

function Tensor.zero_(t)
  if C.gd_fill(self_c("zero_", t), 0) ~= 0 then fail("zero_") end
  return t
end
A.document("zero_", "t:zero_() -> t, filled with zeros.")

-- PyTorch's addcmul_(t1, t2, value=1), and Torch7's addcmul(value, t1, t2)
local function addc(fname, cfn, t, a, b, value)
  local c = t.c
  if type(a) == "number" then a, b, value = b, value, a end
  if value == nil then value = 1 end
  check.number(fname, "value", value)
  local ta, tb = operand(fname, a, c), operand(fname, b, c)
  if cfn(c, ta.c, tb.c, value) ~= 0 then fail(fname) end
  return t
end
function Tensor.addcmul_(t, a, b, value)
  self_c("addcmul_", t)
  return addc("addcmul_", C.gd_addcmul_, t, a, b, value)
end
A.document("addcmul_", "t:addcmul_(a, b, [value = 1]) -> t, after t += value*a*b.")
function Tensor.addcdiv_(t, a, b, value)
  self_c("addcdiv_", t)
  return addc("addcdiv_", C.gd_addcdiv_, t, a, b, value)
end
A.document("addcdiv_", "t:addcdiv_(a, b, [value = 1]) -> t, after t += value*a/b.")
function Tensor.addcmul(t, a, b, value)
  return addc("addcmul", C.gd_addcmul_, result(C.gd_clone(out1, self_c("addcmul", t)), "addcmul"), a, b, value)
end
A.document("addcmul", "t:addcmul(a, b, [value = 1]) -> t + value*a*b (a new tensor).")
function Tensor.addcdiv(t, a, b, value)
  return addc("addcdiv", C.gd_addcdiv_, result(C.gd_clone(out1, self_c("addcdiv", t)), "addcdiv"), a, b, value)
end
A.document("addcdiv", "t:addcdiv(a, b, [value = 1]) -> t + value*a/b (a new tensor).")

local function where_value(fname, v, ref, what)
  if is_tensor(v) then return v end
  if type(v) == "number" then
    local dtype = ref.scalar_type
    if dtype == INT64 and (v ~= floor(v) or v ~= v or v < INT64_LO or v >= INT64_HI) then dtype = 0 end
    local t = new_empty(fname, 0, dtype, ref.device_kind)
    if C.gd_fill(t.c, v) ~= 0 then fail(fname) end
    return t
  end
  argerr(fname, fmt("%s must be a tensor or a number, got %s", what, type(v)))
end

gd.where = doc(function(cond, a, b)
  local fname = "gd.where"
  local cc = tc(fname, cond, "the condition")
  local ref = is_tensor(a) and a.c or is_tensor(b) and b.c or cc
  local ta = where_value(fname, a, ref, "argument 2")
  local tb = where_value(fname, b, ref, "argument 3")
  return result(C.gd_where(out1, cc, ta.c, tb.c), fname)
end, "gd.where", [[
gd.where(cond, a, b) -> a where cond is nonzero (NaN counts as nonzero), else
b, element-wise with broadcasting; a and b may be numbers.]])

gd.allclose = doc(function(a, b, rtol, atol)
  local fname = "gd.allclose"
  local ca = tc(fname, a, "argument 1")
  rtol = check.number(fname, "rtol", rtol, {default = 1e-5, min = 0})
  atol = check.number(fname, "atol", atol, {default = 1e-8, min = 0})
  local tb
  if type(b) == "number" then
    -- a number compares with every element (in float64, as gd_allclose does)
    tb = result(C.gd_empty(out1, ca.rank, ca.sizes, 1, ca.device_kind), fname)
    if C.gd_fill(tb.c, b) ~= 0 then fail(fname) end
  else
    tb = operand(fname, b, ca)
  end
  if C.gd_allclose(ca, tb.c, rtol, atol, int_box) ~= 0 then fail(fname) end
  return int_box[0] ~= 0
end, "gd.allclose", [[
gd.allclose(a, b, [rtol = 1e-5], [atol = 1e-8]) -> true when a and b have one
shape and |a - b| <= atol + rtol * |b| everywhere (NumPy's rule; NaN is never
close).  b may be a number or a table.]])

-- ------------------------------------------------ more basics (PyTorch's names)
-- log1p, expm1 and softplus are fused C kernels (src/kernels/elementwise.h,
-- src/cpu, cuda/).

for _, name in ipairs {"log1p", "expm1"} do
  local op = UN[name]
  local name_ = name .. "_"
  Tensor[name] = function(t) return unary(name, op, t) end
  Tensor[name_] = function(t) return unary_(name_, op, t) end
end
A.document("log1p", [[
t:log1p() -> log(1 + t), element-wise, exact for tiny t (where log(1 + t)
rounds to 0); int64 becomes float32.]])
A.document("log1p_", "t:log1p_() -> t, replaced by log(1 + t).")
A.document("expm1", [[
t:expm1() -> e^t - 1, element-wise, exact for tiny t; int64 becomes float32.]])
A.document("expm1_", "t:expm1_() -> t, replaced by e^t - 1.")

--- beta and threshold, positional or as an options table {beta =, threshold =}.
local SOFTPLUS_OPTS = {beta = true, threshold = true}
local function softplus_args(fname, beta, threshold)
  if type(beta) == "table" then
    if threshold ~= nil then argerr(fname, "give beta and threshold positionally or in one options table") end
    local opts = check.options(fname, beta, SOFTPLUS_OPTS)
    beta, threshold = opts.beta, opts.threshold
  end
  beta = check.number(fname, "beta", beta, {default = 1})
  threshold = check.number(fname, "threshold", threshold, {default = 20})
  if beta == 0 then argerr(fname, "beta must not be 0 (softplus divides by it)") end
  return beta, threshold
end
function Tensor.softplus(t, beta, threshold)
  self_c("softplus", t)
  beta, threshold = softplus_args("softplus", beta, threshold)
  return unary("softplus", UN.softplus, t, beta, threshold)
end
A.document("softplus", [[
t:softplus([beta = 1], [threshold = 20]) -> log(1 + e^(beta*t)) / beta,
element-wise, and t itself where beta*t > threshold (PyTorch's
torch.nn.functional.softplus; {beta =, threshold =} works too).]])
-- ------------------------------------------------------------ operators

local mt = A.metatable
mt.__add = function(a, b) return binary("+", OP.add, a, b) end
mt.__sub = function(a, b) return binary("-", OP.sub, a, b) end
mt.__mul = function(a, b) return binary("*", OP.mul, a, b) end
mt.__div = function(a, b) return binary("/", OP.div, a, b) end
mt.__mod = function(a, b) return binary("%", OP.mod, a, b) end
mt.__pow = function(a, b)
  if is_tensor(a) and type(b) == "number" then return unary("^", UN.pows, a, b) end
  if type(a) == "number" and is_tensor(b) then return unary("^", UN.rpows, b, a) end
  return binary("^", OP.pow, a, b)
end
mt.__unm = function(a) return unary("-", UN.neg, a) end

-- gd.where, gd.allclose; binary and unary for the other method files
return {gd = gd, binary = binary, unary = unary}
