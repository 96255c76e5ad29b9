-- One harness for every backend (as ggml's test-backend-ops): every operation,
-- layer, loss and optimizer flavor, over operands laid out every way a tensor
-- can be (contiguous, empty, 0-d, transposed, narrowed, permuted, expanded,
-- broadcast), in float32, float64 and int64.
--
-- For each case the reference is the CPU running the operation on contiguous
-- copies of the operands.  Checked against it:
--   * the CPU on the strided/expanded/broadcast operands themselves (catches a
--     loop that assumes contiguity: reading t.data[i] instead of following the
--     strides, a stride-0 operand read as dense, a broadcast that drops a
--     dimension, a reduction that walks the wrong axis of a transposed view);
--   * every other backend (CUDA, where gd.cuda.is_available()) on the same
--     layouts built on the device; pending without one;
--   * for a few operations, a plain-Lua loop over the elements (catches an
--     operation that is wrong the same way in every layout, which the
--     comparisons above cannot see).
-- Tolerances, relative to max(|reference|, 1): float64 1e-12, float32 1e-5;
-- int64 exact.  NaN must be NaN, infinities equal.  When the reference raises
-- (an expanded destination, a shape mismatch), the case must raise too.
--
-- A new operation is one line in OPS (a code added to src/ops.def without
-- one fails the first test), a new layer or loss one line in LAYERS / LOSSES;
-- optimizers and their flavors come from the flavors registry.
local gd = require "gd"

local abs, huge, floor, max = math.abs, math.huge, math.floor, math.max
local fmt = string.format

local BACKENDS = {"cpu"}
local cuda_ok, cuda_why = gd.cuda_available()
if cuda_ok then BACKENDS[#BACKENDS + 1] = "cuda" end
local OTHER = {}
for i = 2, #BACKENDS do OTHER[#OTHER + 1] = BACKENDS[i] end

local TOL = {float64 = 1e-12, float32 = 1e-5}
local ALL, FLOAT = {"float32", "float64", "int64"}, {"float32", "float64"}

-- ------------------------------------------------------------- values

--- The elements of a tensor (or a number) in C order, its shape and dtype.
local function flat(t)
  if type(t) == "number" then return {t}, {}, nil end
  local c = t:cpu():contiguous()
  local out = {}
  local function walk(x)
    if type(x) == "table" then for i = 1, #x do walk(x[i]) end else out[#out + 1] = x end
  end
  walk(c:totable())
  return out, c.shape, c.dtype
end

--- Asserts got matches want (tensors, numbers or tables of them).
local function assert_close(got, want, what, dtype)
  if type(want) == "table" and not gd.is_tensor(want) then
    assert(type(got) == "table" and #got == #want, what .. ": expected " .. #want .. " results")
    for i = 1, #want do assert_close(got[i], want[i], what .. " result " .. i, dtype) end
    return
  end
  assert(type(got) == type(want), fmt("%s: got a %s, expected a %s", what, type(got), type(want)))
  if type(want) == "string" then assert(got == want, what .. ": " .. got) return end
  local gv, gs, gt = flat(got)
  local wv, ws, wt = flat(want)
  if gd.is_tensor(want) then
    assert(got.dtype == want.dtype, fmt("%s: dtype %s, expected %s", what, got.dtype, want.dtype))
    assert(table.concat(gs, "x") == table.concat(ws, "x"),
      fmt("%s: shape %s, expected %s", what, table.concat(gs, "x"), table.concat(ws, "x")))
  end
  local tol = TOL[wt or dtype]
  if (wt or dtype) == "int64" then tol = 0 end
  for i = 1, #wv do
    local a, b = gv[i], wv[i]
    local ok
    if b ~= b then ok = a ~= a
    elseif b == huge or b == -huge then ok = a == b
    else ok = abs(a - b) <= tol * max(abs(b), 1) end
    if not ok then
      error(fmt("%s: element %d is %.17g, expected %.17g (tolerance %g)", what, i, a, b, tol), 0)
    end
  end
end

--- n deterministic values for an operand: "any" in [-3, 3), "positive" in
-- [0.1, 3), "unit" in (0, 1), "nonzero" away from 0, "exponent" in [-2, 2);
-- int64 operands take whole numbers (-5..5, or 1..5 where 0 is excluded).
local function values(n, domain, dtype, seed)
  local s = seed
  local out = {}
  for i = 1, n do
    s = (s * 1103515245 + 12345) % 2147483648
    local u = s / 2147483648
    local v
    if dtype == "int64" then
      if domain == "positive" or domain == "nonzero" or domain == "unit" then v = floor(u * 5) + 1
      elseif domain == "exponent" then v = floor(u * 4)
      else v = floor(u * 11) - 5 end
    elseif domain == "positive" then v = 0.1 + 2.9 * u
    elseif domain == "unit" then v = 0.05 + 0.9 * u
    elseif domain == "nonzero" then v = (0.5 + 2.5 * u) * (i % 2 == 0 and -1 or 1)
    elseif domain == "exponent" then v = 4 * u - 2
    else v = 6 * u - 3 end
    out[i] = v
  end
  return out
end

local function numel(shape)
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  return n
end

--- A contiguous CPU tensor of the shape, from flat values.
local function from_flat(v, shape, dtype)
  local t = gd.empty(shape, {dtype = dtype})
  if #shape == 0 then t:fill_(v[1]) return t end
  if #v == 0 then return t end
  local f = t:view(-1)
  for i = 1, #v do f:set(i, v[i]) end
  return t
end

-- ------------------------------------------------------------ layouts

local function on(t, device) return device == "cpu" and t:clone() or t:to(device) end
local function copy(s) local r = {} for i, v in ipairs(s) do r[i] = v end return r end

--- name -> function(t, device): a tensor of t's shape (and values, except
-- "expanded", which repeats t's first row) laid out that way on the device.
local LAYOUTS = {
  contiguous = function(t, dev) return on(t, dev) end,
  -- the last two dimensions stored swapped: strides (1, n) instead of (n, 1)
  transposed = function(t, dev)
    local r = t:dim()
    return on(t:transpose(r - 1, r):contiguous(), dev):transpose(r - 1, r)
  end,
  -- every dimension reversed in memory (a 3-D permute)
  permuted = function(t, dev)
    return on(t:permute(3, 2, 1):contiguous(), dev):permute(3, 2, 1)
  end,
  -- a window into a wider tensor: an offset and a row stride past the row
  narrowed = function(t, dev)
    local s = t.shape
    local r = #s
    local big = copy(s)
    big[r] = s[r] + 3
    local v = gd.zeros(big, {dtype = t.dtype, device = dev}):narrow(r, 2, s[r])
    v:copy_(on(t, dev))
    return v
  end,
  -- stride 0 along the first dimension
  expanded = function(t, dev)
    return on(t:narrow(1, 1, 1):contiguous(), dev):expand(t.shape)
  end,
}

-- scenarios: a name and, per operand, {layout, shape}
local S = {
  unary = {
    {"3x4", {{"contiguous", {3, 4}}}},
    {"empty 0x3", {{"contiguous", {0, 3}}}},
    {"0-d", {{"contiguous", {}}}},
    {"3x4 transposed", {{"transposed", {3, 4}}}},
    {"3x4 narrowed", {{"narrowed", {3, 4}}}},
    {"2x3x4 permuted", {{"permuted", {2, 3, 4}}}},
    {"3x4 expanded", {{"expanded", {3, 4}}}},
    {"empty 3x0 transposed", {{"transposed", {3, 0}}}},
  },
  binary = {
    {"3x4, 3x4", {{"contiguous", {3, 4}}, {"contiguous", {3, 4}}}},
    {"empty 0x3, 0x3", {{"contiguous", {0, 3}}, {"contiguous", {0, 3}}}},
    {"empty 0x3 broadcast with 3", {{"contiguous", {0, 3}}, {"contiguous", {3}}}},
    {"0-d with 3x4", {{"contiguous", {}}, {"contiguous", {3, 4}}}},
    {"3x4 transposed, 3x4", {{"transposed", {3, 4}}, {"contiguous", {3, 4}}}},
    {"3x4, 3x4 narrowed", {{"contiguous", {3, 4}}, {"narrowed", {3, 4}}}},
    {"3x4 narrowed, 3x4 transposed", {{"narrowed", {3, 4}}, {"transposed", {3, 4}}}},
    {"3x4 expanded, 3x4 transposed", {{"expanded", {3, 4}}, {"transposed", {3, 4}}}},
    {"3x4, 3x4 expanded", {{"contiguous", {3, 4}}, {"expanded", {3, 4}}}},
    {"3x1 broadcast with 1x4", {{"contiguous", {3, 1}}, {"contiguous", {1, 4}}}},
    {"3x4 transposed broadcast with 4", {{"transposed", {3, 4}}, {"contiguous", {4}}}},
    {"2x3x4 permuted broadcast with 3x1", {{"permuted", {2, 3, 4}}, {"contiguous", {3, 1}}}},
  },
  ternary = {
    {"3x4 x3", {{"contiguous", {3, 4}}, {"contiguous", {3, 4}}, {"contiguous", {3, 4}}}},
    {"empty", {{"contiguous", {0, 3}}, {"contiguous", {0, 3}}, {"contiguous", {3}}}},
    {"transposed, narrowed, expanded", {{"transposed", {3, 4}}, {"narrowed", {3, 4}}, {"expanded", {3, 4}}}},
    {"3x4, 3x1, 1x4 broadcast", {{"narrowed", {3, 4}}, {"contiguous", {3, 1}}, {"contiguous", {1, 4}}}},
    {"2x3x4 permuted, 4, 3x1", {{"permuted", {2, 3, 4}}, {"contiguous", {4}}, {"transposed", {3, 1}}}},
  },
  addmm = {
    {"3x2 += 3x4 @ 4x2", {{"contiguous", {3, 2}}, {"contiguous", {3, 4}}, {"contiguous", {4, 2}}}},
    {"transposed", {{"transposed", {3, 2}}, {"transposed", {3, 4}}, {"transposed", {4, 2}}}},
    {"narrowed", {{"narrowed", {3, 2}}, {"narrowed", {3, 4}}, {"contiguous", {4, 2}}}},
    {"expanded destination", {{"expanded", {3, 2}}, {"contiguous", {3, 4}}, {"contiguous", {4, 2}}}},
    {"empty inner dimension", {{"contiguous", {3, 2}}, {"contiguous", {3, 0}}, {"contiguous", {0, 2}}}},
  },
  matmul = {
    {"3x4 @ 4x2", {{"contiguous", {3, 4}}, {"contiguous", {4, 2}}}},
    {"3x4 transposed @ 4x2 transposed", {{"transposed", {3, 4}}, {"transposed", {4, 2}}}},
    {"3x4 narrowed @ 4x2 narrowed", {{"narrowed", {3, 4}}, {"narrowed", {4, 2}}}},
    {"3x4 expanded @ 4x2", {{"expanded", {3, 4}}, {"contiguous", {4, 2}}}},
    {"empty 0x4 @ 4x2", {{"contiguous", {0, 4}}, {"contiguous", {4, 2}}}},
    {"3x0 @ 0x2 (zeros)", {{"contiguous", {3, 0}}, {"contiguous", {0, 2}}}},
    {"4 . 4", {{"contiguous", {4}}, {"narrowed", {4}}}},
    {"3x4 @ 4", {{"transposed", {3, 4}}, {"contiguous", {4}}}},
    {"2x3x4 permuted @ 2x4x2 permuted", {{"permuted", {2, 3, 4}}, {"permuted", {2, 4, 2}}}},
  },
}

--- Builds scenario sc's operands on the device for one op (domains per operand).
local function build(sc, domains, dtype, dev, seed)
  local ops = {}
  for k, spec in ipairs(sc[2]) do
    local layout, shape = spec[1], spec[2]
    local d = domains[k] or domains[#domains]
    local base = from_flat(values(numel(shape), d, dtype, seed + 7919 * k), shape, dtype)
    ops[k] = LAYOUTS[layout](base, dev)
  end
  return ops
end

--- Contiguous CPU copies of operands.
local function contiguous_copies(ops)
  local r = {}
  for k, t in ipairs(ops) do r[k] = t:cpu():contiguous():clone() end
  return r
end

--- Runs f on operands; returns true and its results in a table, or false and the error.
local function run(f, ops)
  local res = {pcall(f, unpack(ops))}
  local ok = table.remove(res, 1)
  if not ok then return false, res[1] end
  if #res == 1 then res = res[1] end
  return true, res
end

-- ---------------------------------------------------------- operations

-- name, scenario set, operand domains, dtypes, f(operands...), [lua = the
-- element-wise reference on numbers, for the plain-Lua check]
local OPS = {
  {"add", "binary", {"any"}, ALL, function(a, b) return a + b end, lua = function(x, y) return x + y end},
  {"sub", "binary", {"any"}, ALL, function(a, b) return a - b end, lua = function(x, y) return x - y end},
  {"mul", "binary", {"any"}, ALL, function(a, b) return a * b end, lua = function(x, y) return x * y end},
  {"div", "binary", {"any", "nonzero"}, ALL, function(a, b) return a / b end, lua = function(x, y) return x / y end},
  {"add alpha", "binary", {"any"}, ALL, function(a, b) return a:add(b, 3) end},
  {"sub alpha", "binary", {"any"}, ALL, function(a, b) return a:sub(b, 0.5) end},
  {"pow", "binary", {"positive", "exponent"}, ALL, function(a, b) return a:pow(b) end},
  {"remainder", "binary", {"any", "nonzero"}, ALL, function(a, b) return a % b end},
  {"maximum", "binary", {"any"}, ALL, function(a, b) return a:maximum(b) end, lua = math.max},
  {"minimum", "binary", {"any"}, ALL, function(a, b) return a:minimum(b) end},
  {"eq", "binary", {"any"}, ALL, function(a, b) return a:eq(b) end},
  {"ne", "binary", {"any"}, ALL, function(a, b) return a:ne(b) end},
  {"lt", "binary", {"any"}, ALL, function(a, b) return a:lt(b) end},
  {"le", "binary", {"any"}, ALL, function(a, b) return a:le(b) end},
  {"gt", "binary", {"any"}, ALL, function(a, b) return a:gt(b) end},
  {"ge", "binary", {"any"}, ALL, function(a, b) return a:ge(b) end},
  {"max(tensor)", "binary", {"any"}, ALL, function(a, b) return a:max(b) end},
  {"matmul", "matmul", {"any"}, ALL, function(a, b) return a:matmul(b) end},
  {"where", "ternary", {"any"}, ALL, function(c, a, b) return gd.where(c:gt(0), a, b) end},
  {"addcmul", "ternary", {"any"}, ALL, function(t, a, b) return t:addcmul(a, b, 0.5) end},
  {"addcdiv", "ternary", {"any", "any", "nonzero"}, FLOAT, function(t, a, b) return t:addcdiv(a, b, 2) end},
  -- with a number
  {"add number", "unary", {"any"}, ALL, function(a) return a + 2.5 end},
  {"number - t", "unary", {"any"}, ALL, function(a) return 2 - a end},
  {"mul number", "unary", {"any"}, ALL, function(a) return a * -3 end},
  {"number / t", "unary", {"nonzero"}, ALL, function(a) return 1.5 / a end},
  {"pow number", "unary", {"positive"}, ALL, function(a) return a ^ 2 end},
  {"pow 0.5", "unary", {"positive"}, ALL, function(a) return a:pow(0.5) end},
  {"number ^ t", "unary", {"exponent"}, ALL, function(a) return 2 ^ a end},
  {"remainder number", "unary", {"any"}, ALL, function(a) return a % 2 end},
  {"gt number", "unary", {"any"}, ALL, function(a) return a:gt(0.5) end},
  {"clamp", "unary", {"any"}, ALL, function(a) return a:clamp(-1, 2) end,
   lua = function(x) return math.min(math.max(x, -1), 2) end},
  {"clamp max only", "unary", {"any"}, ALL, function(a) return a:clamp(nil, 1) end},
  {"softplus beta 2", "unary", {"any"}, FLOAT, function(a) return a:softplus(2, 3) end},
  -- conversions and copies
  {"to float64", "unary", {"any"}, ALL, function(a) return a:to("float64") end},
  {"to float32", "unary", {"any"}, ALL, function(a) return a:to("float32") end},
  {"to int64", "unary", {"any"}, ALL, function(a) return a:long() end},
  {"contiguous", "unary", {"any"}, ALL, function(a) return a:contiguous() end},
  {"clone", "unary", {"any"}, ALL, function(a) return a:clone() end},
  {"reshape", "unary", {"any"}, ALL, function(a) return a:reshape(-1) end},
  {"index_select", "unary", {"any"}, ALL, function(a) return a:index_select(1, {1, 1, 2}) end},
  {"cat", "binary", {"any"}, ALL, function(a, b) return gd.cat({a, a * 2}, 1) end},
  {"stack", "binary", {"any"}, ALL, function(a, b) return gd.stack({a, b}, 1) end},
  {"diag", "unary", {"any"}, ALL, function(a) return a:diag(1) end},
  {"totable", "unary", {"any"}, ALL, function(a) return a:totable() end},
  {"tostring", "unary", {"any"}, ALL, function(a) return (tostring(a):gsub("cuda", "cpu")) end},
  {"equal", "binary", {"any"}, ALL, function(a, b) return (a:equal(b) or a:equal(a:clone())) and 1 or 0 end},
  {"t[1]", "unary", {"any"}, ALL, function(a) return a[1] end},
  {"t[{{}, 2}]", "unary", {"any"}, ALL, function(a) return a[{{}, 2}] end},
  {"select", "unary", {"any"}, ALL, function(a) return a:select(-1, 2) end},
  {"unsqueeze squeeze", "unary", {"any"}, ALL, function(a) return a:unsqueeze(2):squeeze(2) end},
  {"flatten", "unary", {"any"}, ALL, function(a) return a:flatten() end},
  {"diagonal", "unary", {"any"}, ALL, function(a) return a:diagonal(-1) end},
  {"uniform_", "unary", {"any"}, FLOAT, function(a) gd.manual_seed(7) return a:uniform_(-2, 1) end, inplace = true},
  {"uniform_ int64", "unary", {"any"}, {"int64"}, function(a) gd.manual_seed(7) return a:uniform_(-3, 4) end,
   inplace = true},
  {"normal_", "unary", {"any"}, FLOAT, function(a) gd.manual_seed(8) return a:normal_(1, 2) end, inplace = true},
  {"addmm_", "addmm", {"any"}, FLOAT, function(t, a, b) return t:addmm_(a, b, 0.5, 2) end, inplace = true},
  -- in place (the destination is the first operand: strided, empty, 0-d;
  -- an expanded destination must be refused on every backend)
  {"add_", "binary", {"any"}, ALL, function(a, b) return a:add_(b) end, inplace = true},
  {"add_ alpha", "binary", {"any"}, FLOAT, function(a, b) return a:add_(b, -0.25) end, inplace = true},
  {"sub_", "binary", {"any"}, ALL, function(a, b) return a:sub_(b) end, inplace = true},
  {"mul_", "binary", {"any"}, ALL, function(a, b) return a:mul_(b) end, inplace = true},
  {"div_", "binary", {"any", "nonzero"}, ALL, function(a, b) return a:div_(b) end, inplace = true},
  {"pow_", "binary", {"positive", "exponent"}, ALL, function(a, b) return a:pow_(b) end, inplace = true},
  {"copy_", "binary", {"any"}, ALL, function(a, b) return a:copy_(b) end, inplace = true},
  {"fill_", "unary", {"any"}, ALL, function(a) return a:fill_(3) end, inplace = true},
  {"zero_", "unary", {"any"}, ALL, function(a) return a:zero_() end, inplace = true},
  {"mul_ number", "unary", {"any"}, ALL, function(a) return a:mul_(2) end, inplace = true},
  {"clamp_", "unary", {"any"}, ALL, function(a) return a:clamp_(-1, 1) end, inplace = true},
  {"addcmul_", "ternary", {"any"}, ALL, function(t, a, b) return t:addcmul_(a, b, 2) end, inplace = true},
  {"addcdiv_", "ternary", {"any", "any", "nonzero"}, FLOAT, function(t, a, b) return t:addcdiv_(a, b, 0.5) end, inplace = true},
  {"cumsum_", "unary", {"any"}, ALL, function(a) return a:cumsum_(1) end, inplace = true},
  -- reductions: over everything (a number) and along each dimension
  {"cumsum", "unary", {"any"}, ALL, function(a) return a:cumsum(1) end},
  {"cumsum dim -1", "unary", {"any"}, ALL, function(a) return a:cumsum(-1) end},
  {"dot", "binary", {"any"}, ALL, function(a, b) return a:reshape(-1):dot(b:reshape(-1)) end},
  {"outer", "binary", {"any"}, ALL, function(a, b) return a:reshape(-1):outer(b:reshape(-1)) end},
}

-- the element-wise functions, t:f() and t:f_()
local DOMAIN = {sqrt = "positive", log = "positive", rsqrt = "positive", reciprocal = "nonzero", log1p = "positive"}
local LUA_REF = {sqrt = math.sqrt, exp = math.exp, neg = function(x) return -x end, abs = math.abs,
                 sigmoid = function(x) return 1 / (1 + math.exp(-x)) end, tanh = math.tanh}
for _, name in ipairs {"neg", "abs", "sqrt", "exp", "log", "square", "sign", "relu", "tanh", "sigmoid", "floor",
                       "ceil", "round", "sin", "cos", "rsqrt", "reciprocal", "log1p", "expm1", "softplus"} do
  local d = {DOMAIN[name] or "any"}
  OPS[#OPS + 1] = {name, "unary", d, ALL, function(a) return a[name](a) end, lua = LUA_REF[name]}
  if name ~= "softplus" then
    OPS[#OPS + 1] = {name .. "_", "unary", d, FLOAT, function(a) return a[name .. "_"](a) end, inplace = true}
  end
end

-- reductions: all elements (a number), and along the first and last dimension
for _, name in ipairs {"sum", "mean", "prod", "var", "std", "norm", "max", "min", "argmax", "argmin", "logsumexp"} do
  local dtypes = (name == "var" or name == "std" or name == "logsumexp" or name == "mean") and FLOAT or ALL
  OPS[#OPS + 1] = {name, "unary", {"any"}, dtypes, function(a) return a[name](a) end}
  local dim_arg = name == "norm" and function(a, d, k) return a:norm(2, d, k) end
    or function(a, d, k) return a[name](a, d, k) end
  OPS[#OPS + 1] = {name .. " dim 1", "unary", {"any"}, dtypes, function(a) return dim_arg(a, 1) end}
  OPS[#OPS + 1] = {name .. " dim -1 keepdim", "unary", {"any"}, dtypes, function(a) return dim_arg(a, -1, true) end}
end
OPS[#OPS + 1] = {"norm 1", "unary", {"any"}, ALL, function(a) return a:norm(1) end}
OPS[#OPS + 1] = {"norm inf dim 1", "unary", {"any"}, ALL, function(a) return a:norm(math.huge, 1) end}
OPS[#OPS + 1] = {"sum dim 2", "unary", {"any"}, ALL, function(a) return a:sum(2) end}

-- the plain-Lua reference of "sum dim 2": sums over the second index
local function lua_sum_dim2(v, shape)
  local n1, n2 = shape[1], shape[2]
  local rest = 1
  for d = 3, #shape do rest = rest * shape[d] end
  local out = {}
  for i = 0, n1 - 1 do
    for k = 0, rest - 1 do
      local s = 0
      for j = 0, n2 - 1 do s = s + v[(i * n2 + j) * rest + k + 1] end
      out[i * rest + k + 1] = s
    end
  end
  return out
end

--- For every case of op: the reference (the CPU on contiguous copies), then
-- fn(label, build_on(device), ref) for the checks.  Returns the number of
-- cases that produced a value (a harness that only sees errors tests nothing).
local function cases(op, fn)
  local name, set, domains, dtypes, f = op[1], op[2], op[3], op[4], op[5]
  local produced = 0
  for _, dtype in ipairs(dtypes) do
    for si, sc in ipairs(S[set]) do
      local seed = 17 * si + #name
      local label = fmt("%s, %s, %s", name, dtype, sc[1])
      local cpu_ops = build(sc, domains, dtype, "cpu", seed)
      local ok_ref, ref = run(f, contiguous_copies(cpu_ops))
      if ok_ref then produced = produced + 1 end
      fn(label, function(dev) return build(sc, domains, dtype, dev, seed) end, ok_ref, ref, cpu_ops, sc, dtype)
    end
  end
  return produced
end

--- Compares f(operands) with the reference (or: both must raise).  An
-- in-place operation into an expanded destination must be refused (its
-- elements share memory), whatever the contiguous copy did.
local function check_against(label, ops, op, ok_ref, ref, dtype, sc)
  local f = op[5]
  local ok, got = run(f, ops)
  if op.inplace and sc[2][1][1] == "expanded" then
    assert(not ok, label .. ": an in-place write into an expanded view was not refused")
    assert(not ok_ref or tostring(got):find("expanded", 1, true),
      label .. ": refused for another reason than the expanded destination: " .. tostring(got))
    return
  end
  if not ok_ref then
    assert(not ok, label .. ": the contiguous CPU case raised (" .. tostring(ref) .. ") but this one did not")
    return
  end
  assert(ok, label .. ": raised " .. tostring(got))
  assert_close(got, ref, label, dtype)
end

-- The operation codes' own list (gd.ops, generated from src/ops.def): every
-- code must have a case above, so that a new operation in ops.def without a
-- line in OPS fails here.  An OPS name other than the code's:
local COVERS = {["binary.mod"] = "remainder", ["unary.pows"] = "pow number", ["unary.rpows"] = "number ^ t",
                ["ternary.add_scaled"] = "add_ alpha"}

describe("every backend against the CPU", function()
  it("has a case for every operation code of gd.ops (src/ops.def)", function()
    local oplist = require "gd.ops"
    local have = {}
    for _, op in ipairs(OPS) do have[op[1]] = true end
    local missing, n = {}, 0
    for _, kind in ipairs {"binary", "unary", "reduce", "ternary"} do
      for _, e in ipairs(oplist[kind .. "_list"]) do
        n = n + 1
        local want = COVERS[kind .. "." .. e.name] or e.name
        if not have[want] then missing[#missing + 1] = kind .. "." .. e.name end
      end
    end
    assert(n > 40, "gd.ops lists only " .. n .. " operations")
    assert(#missing == 0, "no case in spec/backend_spec.lua's OPS for " .. table.concat(missing, ", "))
  end)

  it("lists every operation once, each with a known scenario set", function()
    local seen = {}
    for _, op in ipairs(OPS) do
      assert(not seen[op[1]], "duplicate operation " .. op[1])
      seen[op[1]] = true
      assert(S[op[2]], op[1] .. ": unknown scenario set " .. tostring(op[2]))
    end
    assert(#OPS > 100, "only " .. #OPS .. " operations")
  end)

  describe("operations on the CPU: strided, expanded, broadcast operands against contiguous copies", function()
    for _, op in ipairs(OPS) do
      it(op[1], function()
        local produced = cases(op, function(label, _, ok_ref, ref, cpu_ops, sc, dtype)
          check_against(label .. ", cpu", cpu_ops, op, ok_ref, ref, dtype, sc)
        end)
        assert(produced >= 3, op[1] .. ": only " .. produced .. " cases gave a value")
      end)
    end
  end)

  describe("operations on the CPU against plain Lua, element by element", function()
    -- results broadcast to the operands' common shape, as NumPy's rule
    local function broadcast_shape(shapes)
      local r = 0
      for _, s in ipairs(shapes) do r = max(r, #s) end
      local out = {}
      for d = 1, r do
        local n = 1
        for _, s in ipairs(shapes) do
          local v = s[#s - r + d] or 1
          if v ~= 1 then n = v end
        end
        out[d] = n
      end
      return out
    end
    local function elementwise(lua, ops)
      local vals, shapes = {}, {}
      for k, t in ipairs(ops) do vals[k], shapes[k] = flat(t) end
      local shape = broadcast_shape(shapes)
      local n = numel(shape)
      local out = {}
      local idx = {}
      for i = 0, n - 1 do
        local rem = i
        for d = #shape, 1, -1 do idx[d] = rem % shape[d]; rem = floor(rem / shape[d]) end
        local args = {}
        for k, s in ipairs(shapes) do
          local off, stride = 0, 1
          for d = #s, 1, -1 do
            local j = s[d] == 1 and 0 or idx[#shape - #s + d]
            off = off + j * stride
            stride = stride * s[d]
          end
          args[k] = vals[k][off + 1]
        end
        out[i + 1] = lua(unpack(args))
      end
      return out, shape
    end
    for _, op in ipairs(OPS) do
      if op.lua then
        it(op[1], function()
          cases(op, function(label, _, ok_ref, _, cpu_ops)
            if not ok_ref then return end
            local got = op[5](unpack(cpu_ops))
            local want, shape = elementwise(op.lua, cpu_ops)
            assert(table.concat(got.shape, "x") == table.concat(shape, "x"), label .. ": shape")
            -- the reference rounds like the result's dtype (float32 results of
            -- float32 operands: within float32's tolerance; int64 exact)
            local gv = flat(got)
            local tol = got.dtype == "int64" and 0 or TOL[got.dtype]
            for i = 1, #want do
              local a, b = gv[i], want[i]
              if got.dtype == "int64" then b = b >= 0 and floor(b) or -floor(-b) end
              assert(abs(a - b) <= tol * max(abs(b), 1),
                fmt("%s: element %d is %.17g, plain Lua gives %.17g", label, i, a, b))
            end
          end)
        end)
      end
    end
    it("sum dim 2", function()
      local op
      for _, o in ipairs(OPS) do if o[1] == "sum dim 2" then op = o end end
      cases(op, function(label, _, ok_ref, _, cpu_ops)
        if not ok_ref then return end
        local got = op[5](unpack(cpu_ops))
        local v, shape = flat(cpu_ops[1])
        local want = lua_sum_dim2(v, shape)
        local gv = flat(got)
        assert(#gv == #want, label .. ": count")
        local tol = got.dtype == "int64" and 0 or TOL[got.dtype]
        for i = 1, #want do
          assert(abs(gv[i] - want[i]) <= tol * max(abs(want[i]), 1), fmt("%s: element %d", label, i))
        end
      end)
    end)
    it("matmul", function()
      local a = from_flat(values(12, "any", "float64", 5), {3, 4}, "float64")
      local b = from_flat(values(8, "any", "float64", 6), {4, 2}, "float64")
      for _, la in ipairs {"contiguous", "transposed", "narrowed"} do
        local ta, tb = LAYOUTS[la](a, "cpu"), LAYOUTS[la](b, "cpu")
        local got = ta:matmul(tb)
        for i = 1, 3 do
          for j = 1, 2 do
            local s = 0
            for k = 1, 4 do s = s + a:get(i, k) * b:get(k, j) end
            assert(abs(got:get(i, j) - s) <= 1e-12 * max(abs(s), 1), fmt("matmul %s (%d,%d)", la, i, j))
          end
        end
      end
    end)
  end)

  describe("operations on the other backends against the CPU", function()
    if #OTHER == 0 then
      pending("no GPU here: " .. tostring(cuda_why))
      return
    end
    for _, op in ipairs(OPS) do
      it(op[1], function()
        cases(op, function(label, build_on, ok_ref, ref, _, sc, dtype)
          for _, dev in ipairs(OTHER) do
            local ok, ops = pcall(build_on, dev)
            assert(ok, label .. ", " .. dev .. ": building the operands raised " .. tostring(ops))
            check_against(label .. ", " .. dev, ops, op, ok_ref, ref, dtype, sc)
          end
        end)
      end)
    end
  end)
end)

describe("constructors on every backend", function()
  -- name, f(opts) -> tensor; the CPU's result is the reference
  local CTORS = {
    {"zeros", function(o) return gd.zeros(3, 4, o) end},
    {"ones", function(o) return gd.ones({2, 0, 3}, o) end},
    {"full", function(o) return gd.full(2, 3, -7, o) end},
    {"arange", function(o) return gd.arange(-3, 9, 2, o) end},
    {"linspace", function(o) return gd.linspace(-1, 2, 7, o) end},
    {"eye", function(o) return gd.eye(3, 5, o) end},
    {"rand", function(o) gd.manual_seed(11) return gd.rand(4, 5, o) end, FLOAT},
    {"randn", function(o) gd.manual_seed(12) return gd.randn(4, 5, o) end, FLOAT},
    {"tensor", function(o) return gd.tensor({{1, -2.5}, {3, 4}}, o) end, FLOAT},
  }
  it("the CPU's arange, linspace and eye are the plain-Lua values", function()
    for _, dtype in ipairs(FLOAT) do
      assert_close(gd.arange(-3, 9, 2, {dtype = dtype}), from_flat({-3, -1, 1, 3, 5, 7}, {6}, dtype), "arange")
      local l = {}
      for i = 0, 6 do l[i + 1] = -1 + i * 0.5 end
      assert_close(gd.linspace(-1, 2, 7, {dtype = dtype}), from_flat(l, {7}, dtype), "linspace")
      local e = {}
      for i = 1, 3 do for j = 1, 5 do e[#e + 1] = i == j and 1 or 0 end end
      assert_close(gd.eye(3, 5, {dtype = dtype}), from_flat(e, {3, 5}, dtype), "eye")
    end
  end)
  if #OTHER == 0 then
    pending("constructors on a GPU: no GPU here: " .. tostring(cuda_why))
    return
  end
  for _, c in ipairs(CTORS) do
    it(c[1], function()
      for _, dtype in ipairs(c[3] or ALL) do
        local want = c[2]({dtype = dtype})
        for _, dev in ipairs(OTHER) do
          local got = c[2]({dtype = dtype, device = dev})
          assert(got.device == dev, c[1] .. ": made on " .. got.device)
          assert_close(got, want, fmt("%s, %s, %s", c[1], dtype, dev))
        end
      end
    end)
  end
end)

-- --------------------------------------------------- layers and losses

-- name, constructor, input shape, [input domain], [integer input range]
local nn = gd.nn

--- m with every parameter set to deterministic values away from its
-- initialisation (LayerNorm/GroupNorm start at ones and zeros, which would
-- hide an affine vector read at the wrong index).
local function perturbed(m)
  for i, p in ipairs(m:parameters()) do
    p:copy_(from_flat(values(p:numel(), "any", p.dtype, 40 + i), p.shape, p.dtype))
  end
  return m
end

local LAYERS = {
  {"Linear", function() return nn.Linear(4, 3) end, {5, 4}},
  {"Linear without bias", function() return nn.Linear(4, 3, {bias = false}) end, {5, 4}},
  {"ReLU", function() return nn.ReLU() end, {5, 4}},
  {"Tanh", function() return nn.Tanh() end, {5, 4}},
  {"Sigmoid", function() return nn.Sigmoid() end, {5, 4}},
  {"Softmax", function() return nn.Softmax() end, {5, 4}},
  {"Softmax dim 1", function() return nn.Softmax(1) end, {5, 4}},
  {"LogSoftmax", function() return nn.LogSoftmax() end, {5, 4}},
  {"Dropout", function() return nn.Dropout(0.5) end, {5, 4}},
  {"Identity", function() return nn.Identity() end, {5, 4}},
  {"Flatten", function() return nn.Flatten() end, {2, 3, 4}},
  {"LayerNorm", function() return nn.LayerNorm(4) end, {5, 4}},
  {"BatchNorm1d", function() return nn.BatchNorm1d(4) end, {5, 4}},
  {"BatchNorm2d", function() return nn.BatchNorm2d(2) end, {3, 2, 3, 4}},
  {"GroupNorm", function() return nn.GroupNorm(2, 4) end, {3, 4, 2, 3}},
  {"Conv1d", function() return nn.Conv1d(2, 3, 3, {padding = 1}) end, {2, 2, 6}},
  {"Conv2d", function() return nn.Conv2d(2, 3, 3, {padding = 1, stride = 2}) end, {2, 2, 5, 4}},
  {"MaxPool2d", function() return nn.MaxPool2d(2) end, {2, 2, 4, 4}},
  {"AvgPool2d", function() return nn.AvgPool2d(2) end, {2, 2, 4, 4}},
  {"AdaptiveAvgPool2d", function() return nn.AdaptiveAvgPool2d(1) end, {2, 2, 3, 4}},
  -- the CUDA kernels' index arithmetic (cuda/conv.cu): groups and dilation
  -- in im2col/col2im, col2im's gather where windows overlap (stride < kernel),
  -- the transposed conv's col2im forward, padding in pooling windows
  {"Conv2d groups, dilation", function() return nn.Conv2d(4, 6, 3, {groups = 2, dilation = 2, padding = 2}) end,
    {2, 4, 6, 5}},
  {"Conv2d overlapping windows", function() return nn.Conv2d(2, 3, {3, 2}, {stride = {2, 1}, padding = {1, 0}}) end,
    {2, 2, 7, 5}},
  {"ConvTranspose2d", function()
    return nn.ConvTranspose2d(4, 2, 3, {stride = 2, padding = 1, output_padding = 1, groups = 2})
  end, {2, 4, 3, 4}},
  {"MaxPool2d overlapping, padded", function() return nn.MaxPool2d(3, {stride = 2, padding = 1}) end, {2, 2, 5, 6}},
  {"AvgPool2d padded, count_include_pad false", function()
    return nn.AvgPool2d(3, {stride = 2, padding = 1, count_include_pad = false})
  end, {2, 2, 5, 6}},
  {"AdaptiveAvgPool2d to 2x3", function() return nn.AdaptiveAvgPool2d({2, 3}) end, {2, 2, 5, 7}},
  {"CNN (the digits model's shape)", function()
    return nn.Sequential {nn.Conv2d(1, 4, 3, {padding = 1}), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
      nn.Flatten(), nn.Linear(4 * 4 * 4, 3)}
  end, {3, 1, 8, 8}},
  -- issue 14's CUDA kernels (cuda/norm.cu, cuda/conv.cu).  Norms: rows longer
  -- than a warp (block sums over several warps, a strided walk of the row),
  -- the affine index of GroupNorm (channel = position / span) and LayerNorm
  -- (element), with and without affine parameters; catches a block sum that
  -- drops a warp, a wrong (r mod G) in the affine index, a weight-gradient
  -- kernel that sums the wrong rows of a group.
  {"LayerNorm over 3x100 values a row", function() return perturbed(nn.LayerNorm({3, 100})) end, {4, 3, 100}},
  {"LayerNorm without affine", function() return nn.LayerNorm(6, {elementwise_affine = false}) end, {5, 6}},
  {"GroupNorm 3 groups of 2 channels, affine", function() return perturbed(nn.GroupNorm(3, 6)) end, {4, 6, 9, 7}},
  {"GroupNorm 1 group without affine", function() return nn.GroupNorm(1, 3, {affine = false}) end, {2, 3, 10, 12}},
  -- the convolutions batched over samples: one strided-batched gemm per group
  -- (the weight's stride 0), the backward's [K][N*L] layout and its
  -- transposing copies; catches a wrong sample stride (every sample but the
  -- first wrong) or a group offset off by one group
  {"Conv2d batch of 7, 3 groups", function() return perturbed(nn.Conv2d(6, 9, 3, {groups = 3, padding = 1})) end,
    {7, 6, 5, 4}},
  {"Conv1d batch of 9, stride 2", function() return perturbed(nn.Conv1d(3, 4, 3, {stride = 2, padding = 2})) end,
    {9, 3, 11}},
  {"ConvTranspose2d batch of 6, 1 group", function() return perturbed(nn.ConvTranspose2d(3, 4, 3, {stride = 2})) end,
    {6, 3, 4, 3}},
  {"Sequential MLP", function() return nn.Sequential {nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2)} end, {5, 4}},
  {"RNN", function() return nn.RNN(4, 3) end, {6, 2, 4}},
  {"LSTM 2 layers", function() return nn.LSTM(4, 3, {num_layers = 2}) end, {6, 2, 4}},
  {"GRU batch_first", function() return nn.GRU(4, 3, {batch_first = true}) end, {2, 6, 4}},
  -- LSTM's projection (the per-step w_hr gemms, h and c of two widths) and the gates' gradient clip
  {"LSTM proj_size, bidirectional, gate_grad_clip", function()
    return nn.LSTM(4, 5, {proj_size = 3, bidirectional = true, num_layers = 2, gate_grad_clip = 0.02})
  end, {6, 2, 4}},
}

-- name, constructor, prediction shape and domain, target maker(dtype)
local function target_like(domain)
  return function(shape, dtype) return from_flat(values(numel(shape), domain, dtype, 99), shape, dtype) end
end
local function classes(n)
  return function(shape) -- 1-based class indices for a (N, C) prediction
    local v = {}
    for i = 1, shape[1] do v[i] = (i * 7) % n + 1 end
    return gd.tensor(v, {dtype = "int64"})
  end
end
local LOSSES = {
  {"MSELoss", function() return nn.MSELoss() end, {5, 4}, "any", target_like("any")},
  {"MSELoss sum", function() return nn.MSELoss({reduction = "sum"}) end, {5, 4}, "any", target_like("any")},
  {"L1Loss", function() return nn.L1Loss() end, {5, 4}, "any", target_like("any")},
  {"SmoothL1Loss", function() return nn.SmoothL1Loss() end, {5, 4}, "any", target_like("any")},
  {"HuberLoss", function() return nn.HuberLoss() end, {5, 4}, "any", target_like("any")},
  {"BCELoss", function() return nn.BCELoss() end, {5, 4}, "unit", target_like("unit")},
  {"BCEWithLogitsLoss", function() return nn.BCEWithLogitsLoss() end, {5, 4}, "any", target_like("unit")},
  {"CrossEntropyLoss", function() return nn.CrossEntropyLoss() end, {5, 4}, "any", classes(4)},
  {"NLLLoss", function() return nn.NLLLoss() end, {5, 4}, "any", classes(4)},
  {"KLDivLoss", function() return nn.KLDivLoss() end, {5, 4}, "any", target_like("unit")},
  -- issue 14's CUDA kernels (cuda/nn.cu): NLLLoss and CrossEntropyLoss's
  -- options (a class weight, an ignore_index that some rows have: class 2,
  -- label smoothing, probability targets) and the parallel loss sums over
  -- many blocks.  Catches a mean divided by the row count instead of the
  -- targets' weights, an ignored row that keeps a gradient, smoothing or
  -- weights applied on one device only, and a block reduction that drops a
  -- block's partial sum.
  {"NLLLoss weight, ignore_index", function()
    return nn.NLLLoss({weight = gd.tensor({0.5, 2, 1.5, 0.25}), ignore_index = 2})
  end, {7, 4}, "any", classes(4)},
  {"NLLLoss sum", function() return nn.NLLLoss({reduction = "sum"}) end, {7, 4}, "any", classes(4)},
  {"NLLLoss none", function() return nn.NLLLoss({reduction = "none"}) end, {7, 4}, "any", classes(4)},
  {"CrossEntropyLoss weight, ignore_index, label_smoothing", function()
    return nn.CrossEntropyLoss({weight = gd.tensor({0.5, 2, 1.5, 0.25}), ignore_index = 2, label_smoothing = 0.2})
  end, {7, 4}, "any", classes(4)},
  {"CrossEntropyLoss none, label_smoothing", function()
    return nn.CrossEntropyLoss({reduction = "none", label_smoothing = 0.1})
  end, {7, 4}, "any", classes(4)},
  {"CrossEntropyLoss probability targets, weight", function()
    return nn.CrossEntropyLoss({weight = gd.tensor({0.5, 2, 1.5, 0.25}), label_smoothing = 0.1})
  end, {6, 4}, "any", target_like("unit")},
  {"L1Loss over 3000 elements (12 blocks)", function() return nn.L1Loss() end, {60, 50}, "any", target_like("any")},
  {"BCEWithLogitsLoss sum over 2100 elements", function() return nn.BCEWithLogitsLoss({reduction = "sum"}) end,
    {70, 30}, "any", target_like("unit")},
}

--- Runs a module: forward, then backward of a fixed gradient; returns the
-- output, the input gradient and the parameter gradients (all on the CPU).
local function run_layer(m, x, seed)
  gd.manual_seed(seed)  -- Dropout's mask: Philox, the same on every device
  m:zero_grad()
  local y = m:forward(x)
  local yv = y:cpu():clone()
  local g = from_flat(values(y:numel(), "any", y.dtype, 31), y.shape, y.dtype)
  g = LAYOUTS[g:dim() >= 2 and "transposed" or "contiguous"](g, y.device)
  local gx = m:backward(g)
  local out = {yv, gx and gx:cpu():clone() or "no input gradient"}
  for _, p in ipairs(m:parameters()) do out[#out + 1] = p.grad:cpu():clone() end
  return out
end

describe("layers on every backend", function()
  for _, L in ipairs(LAYERS) do
    local name, make, shape = L[1], L[2], L[3]
    it(name .. ": a strided input gives what a contiguous one does" .. (#OTHER > 0 and ", on every backend" or ""),
      function()
        for _, dtype in ipairs(FLOAT) do
          gd.manual_seed(3)
          local m = make():to(dtype)
          local base = from_flat(values(numel(shape), "any", dtype, 11), shape, dtype)
          local want = run_layer(m, base:clone(), 5)
          local strided = LAYOUTS[#shape == 3 and "permuted" or "transposed"](base, "cpu")
          assert_close(run_layer(m, strided, 5), want, name .. ", " .. dtype .. ", strided input")
          for _, dev in ipairs(OTHER) do
            local md = m:clone():to(dev)
            assert_close(run_layer(md, LAYOUTS.transposed(base, dev), 5), want, name .. ", " .. dtype .. ", " .. dev)
          end
        end
      end)
  end
  it("Embedding: int64 indices, strided or not" .. (#OTHER > 0 and ", on every backend" or ""), function()
    gd.manual_seed(4)
    local m = nn.Embedding(10, 3):to("float64")
    local idx = gd.tensor({{1, 4, 10}, {2, 2, 7}}, {dtype = "int64"})
    local want = run_layer(m, idx, 1)
    assert_close(run_layer(m, LAYOUTS.transposed(idx, "cpu"), 1), want, "Embedding, transposed indices")
    for _, dev in ipairs(OTHER) do
      assert_close(run_layer(m:clone():to(dev), idx:to(dev), 1), want, "Embedding, " .. dev)
    end
  end)
  -- catches: a CUDA scatter-add that loses repeated indices (no atomics), or
  -- counts for scale_grad_by_freq taken per thread instead of per row
  it("Embedding with padding_idx and scale_grad_by_freq over repeated indices" ..
    (#OTHER > 0 and ", on every backend" or ""), function()
    gd.manual_seed(5)
    local m = nn.Embedding(6, 4, {padding_idx = 2, scale_grad_by_freq = true}):to("float64")
    local idx = gd.tensor({{3, 3, 2, 6}, {3, 1, 6, 2}}, {dtype = "int64"})
    local want = run_layer(m, idx, 1)
    -- the CPU's values are checked against PyTorch in spec/nn_conv_spec.lua;
    -- here padding_idx's row must stay zero on every backend
    assert(want[3]:get(2, 1) == 0, "padding_idx's row got a gradient")
    for _, dev in ipairs(OTHER) do
      assert_close(run_layer(m:clone():to(dev), idx:to(dev), 1), want, "Embedding options, " .. dev)
    end
  end)
  -- catches: a CUDA renorm that never runs, renormalises rows not looked up,
  -- or takes the wrong norm (norm_type 3 vs 2); the CPU's values are checked
  -- against PyTorch in spec/nn_conv_spec.lua
  it("Embedding with max_norm renormalises the rows looked up, in place" ..
    (#OTHER > 0 and ", on every backend" or ""), function()
    for _, dtype in ipairs(FLOAT) do
      for _, norm_type in ipairs({2, 3}) do
        gd.manual_seed(6)
        local m = nn.Embedding(7, 5, {max_norm = 0.8, norm_type = norm_type}):to(dtype)
        local copies = {}
        for _, dev in ipairs(OTHER) do copies[dev] = m:clone():to(dev) end
        local idx = gd.tensor({{3, 3, 1, 6}, {6, 2, 3, 7}}, {dtype = "int64"})
        local want = run_layer(m, idx, 1)
        want[#want + 1] = m.weight:cpu():clone()
        local row = function(w, i) return (w[i]:abs() ^ norm_type):sum() ^ (1 / norm_type) end
        assert(row(want[#want], 3) <= 0.8 + 1e-6, "row 3 was not renormalised")
        assert(row(want[#want], 4) > 0.8, "row 4 (not looked up) changed, or its norm was small to begin with")
        for _, dev in ipairs(OTHER) do
          local got = run_layer(copies[dev], idx:to(dev), 1)
          got[#got + 1] = copies[dev].weight:cpu():clone()
          assert_close(got, want, fmt("Embedding max_norm, norm_type %d, %s, %s", norm_type, dtype, dev))
        end
      end
    end
  end)
  if #OTHER > 0 then
    -- cuda/conv.cu takes samples in chunks as large as its workspace allows;
    -- a tiny workspace (GD_CUDA_CONV_WORKSPACE, read on every call) forces
    -- chunks of one to four samples and a short last chunk.  Catches a chunk
    -- offset that skips or repeats samples, or a weight gradient that keeps
    -- only the last chunk's share (beta 0 instead of 1).
    it("Conv2d and ConvTranspose2d in small chunks of samples, on every backend", function()
      local ffi = require "ffi"
      pcall(ffi.cdef, "int setenv(const char *name, const char *value, int overwrite); int unsetenv(const char *name);")
      local cases = {
        {function() return perturbed(nn.Conv2d(2, 3, 3, {padding = 1, groups = 1})) end, {5, 2, 4, 4}},
        {function() return perturbed(nn.ConvTranspose2d(2, 4, 2, {stride = 2, groups = 2})) end, {5, 2, 3, 3}},
      }
      -- 5 samples: chunks of 1 (any tiny budget) up to 4 (conv forward, float32:
      -- 1152 bytes a sample under 5000), most with a short last chunk
      for _, bytes in ipairs({"1", "2500", "5000"}) do
        for ci, c in ipairs(cases) do
          for _, dtype in ipairs(FLOAT) do
            gd.manual_seed(8)
            local m = c[1]():to(dtype)
            local base = from_flat(values(numel(c[2]), "any", dtype, 17), c[2], dtype)
            local want = run_layer(m, base:clone(), 5)
            for _, dev in ipairs(OTHER) do
              local md = m:clone():to(dev)
              ffi.C.setenv("GD_CUDA_CONV_WORKSPACE", bytes, 1)
              local ok, got = pcall(run_layer, md, base:to(dev), 5)
              ffi.C.unsetenv("GD_CUDA_CONV_WORKSPACE")
              assert(ok, got)
              assert_close(got, want, fmt("conv case %d, workspace %s bytes, %s, %s", ci, bytes, dtype, dev))
            end
          end
        end
      end
    end)
  end
  if #OTHER == 0 then pending("layers on a GPU: no GPU here: " .. tostring(cuda_why)) end
end)

describe("losses on every backend", function()
  for _, L in ipairs(LOSSES) do
    local name, make, shape, domain, target = L[1], L[2], L[3], L[4], L[5]
    it(name .. ": strided operands give what contiguous ones do" .. (#OTHER > 0 and ", on every backend" or ""),
      function()
        for _, dtype in ipairs(FLOAT) do
          local loss = make()
          local pred = from_flat(values(numel(shape), domain, dtype, 13), shape, dtype)
          local tgt = target(shape, dtype)
          local function eval(p, t)
            local v, g = loss(p, t)
            return {v, g:cpu():clone()}
          end
          local want = eval(pred:clone(), tgt:clone())
          local st = tgt:dim() >= 2 and LAYOUTS.transposed(tgt, "cpu") or LAYOUTS.narrowed(tgt, "cpu")
          assert_close(eval(LAYOUTS.transposed(pred, "cpu"), st), want, name .. ", " .. dtype .. ", strided", dtype)
          for _, dev in ipairs(OTHER) do
            assert_close(eval(LAYOUTS.transposed(pred, dev), tgt:to(dev)), want, name .. ", " .. dtype .. ", " .. dev,
              dtype)
          end
        end
      end)
  end
  if #OTHER == 0 then pending("losses on a GPU: no GPU here: " .. tostring(cuda_why)) end
end)

-- ---------------------------------------------------------- optimizers

local registry = gd.optim.flavors.registry
local _, OPTIMIZERS = registry("")

--- Three steps of optimizer `name`/`flavor` over the parameters (gradients
-- 2p - 1 + p^2/4, so that each step sees a new one); returns their values.
local function steps(name, flavor, params, separate)
  -- the flavor's own name for the learning rate (torch7: learningRate), when it has one
  local hyper = {flavor = flavor}
  local names = registry(name)[flavor].names
  local lr_name = names.lr and "lr"
  for own, canonical in pairs(names) do
    if canonical == "lr" and not lr_name then lr_name = own end
  end
  if lr_name then hyper[lr_name] = 0.01 end
  local opts = {}
  if separate then
    for i, p in ipairs(params) do opts[i] = gd.optim[name]({p}, hyper) end
  else
    opts[1] = gd.optim[name](params, hyper)
  end
  for _ = 1, 3 do
    for _, p in ipairs(params) do p.grad:copy_(p * 2 - 1 + p * p / 4) end
    for _, o in ipairs(opts) do o:step() end
  end
  local out = {}
  for i, p in ipairs(params) do out[i] = p:cpu():clone() end
  return out
end

local function make_params(dtype, dev)
  local a = from_flat(values(12, "any", dtype, 3), {3, 4}, dtype)
  local b = from_flat(values(5, "any", dtype, 4), {5}, dtype)
  return {a:to(dev), b:to(dev)}
end

describe("optimizer flavors on every backend", function()
  for _, name in ipairs(OPTIMIZERS) do
    local flavors = {}
    for f in pairs(registry(name)) do flavors[#flavors + 1] = f end
    table.sort(flavors)
    for _, flavor in ipairs(flavors) do
      it(fmt("%s (%s): one step over two parameters equals a step per parameter%s", name, flavor,
        #OTHER > 0 and ", on every backend" or ""), function()
        for _, dtype in ipairs(FLOAT) do
          local ok, want = pcall(steps, name, flavor, make_params(dtype, "cpu"), false)
          assert(ok, fmt("%s %s %s: %s", name, flavor, dtype, tostring(want)))
          -- the fused loop over the arena's segments against one segment each
          assert_close(steps(name, flavor, make_params(dtype, "cpu"), true), want,
            fmt("%s %s %s, one optimizer per parameter", name, flavor, dtype))
          -- the parameters must have moved (a step that does nothing would pass the above)
          local p0 = make_params(dtype, "cpu")
          assert(not gd.allclose(want[1], p0[1], 0, 0), fmt("%s %s %s: the parameters did not move", name, flavor,
            dtype))
          for _, dev in ipairs(OTHER) do
            assert_close(steps(name, flavor, make_params(dtype, dev), false), want,
              fmt("%s %s %s, %s", name, flavor, dtype, dev))
          end
        end
      end)
    end
  end
  if #OTHER == 0 then pending("optimizers on a GPU: no GPU here: " .. tostring(cuda_why)) end

  it("SGD with momentum and Adam (pytorch) match a plain-Lua loop over the elements", function()
    -- torch.optim.SGD: b = mu*b + g (b = g at the first step), p -= lr*b;
    -- torch.optim.Adam: m, v moments, bias-corrected, p -= lr*mhat/(sqrt(vhat)+eps)
    local function lua_steps(kind, v)
      local b, m, s = {}, {}, {}
      for t = 1, 3 do
        for i = 1, #v do
          local p = v[i]
          local g = 2 * p - 1 + p * p / 4
          if kind == "SGD" then
            b[i] = t == 1 and g or 0.9 * b[i] + g
            v[i] = p - 0.01 * b[i]
          else
            m[i] = 0.9 * (m[i] or 0) + 0.1 * g
            s[i] = 0.999 * (s[i] or 0) + 0.001 * g * g
            local mh, vh = m[i] / (1 - 0.9 ^ t), s[i] / (1 - 0.999 ^ t)
            v[i] = p - 0.01 * mh / (math.sqrt(vh) + 1e-8)
          end
        end
      end
      return v
    end
    for _, kind in ipairs {"SGD", "Adam"} do
      local x = from_flat(values(12, "any", "float64", 3), {12}, "float64")
      local want = lua_steps(kind, flat(x))
      local opt = gd.optim[kind]({x}, kind == "SGD" and {lr = 0.01, momentum = 0.9} or {lr = 0.01})
      for _ = 1, 3 do
        x.grad:copy_(x * 2 - 1 + x * x / 4)
        opt:step()
      end
      local got = flat(x)
      for i = 1, 12 do
        assert(abs(got[i] - want[i]) <= 1e-12 * max(abs(want[i]), 1),
          fmt("%s element %d: %.17g, plain Lua %.17g", kind, i, got[i], want[i]))
      end
    end
  end)
end)
