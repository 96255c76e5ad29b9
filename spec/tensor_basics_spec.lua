-- The basics users reach for: gd.eye, diag/diagonal, log1p, expm1, softplus,
-- dot, outer, logsumexp, cumsum (functions gd.x and methods t:x, in-place forms
-- where PyTorch has them), gd.cuda's names, and optimizers refusing an empty
-- parameter list.  Numerics replay PyTorch's own values
-- (spec/golden/tensor_basics.lua, from scripts/golden/tensor_basics.py);
-- everything else is checked against hand computations.
local gd = require "gd"
local H = require "spec.support.tensor_helpers"

local golden = dofile("spec/golden/tensor_basics.lua")

local function f64(data) return gd.tensor(data, {dtype = "float64"}) end
local function i64(data) return gd.tensor(data, {dtype = "int64"}) end

--- a equals b within tol *relative to b* (infinities, zeros and NaN exactly):
-- H.close is absolute below 1, which could not tell log1p(1e-10) from 0.
local function rel(a, b, tol, path)
  path = path or "value"
  if type(b) == "table" then
    assert(type(a) == "table" and #a == #b, path .. ": shapes differ")
    for i = 1, #b do rel(a[i], b[i], tol, path .. "[" .. i .. "]") end
    return
  end
  if b ~= b then assert(a ~= a, path .. ": expected nan, got " .. tostring(a)); return end
  if b == 0 or b == math.huge or b == -math.huge then
    assert(a == b, string.format("%s: expected %.17g, got %.17g", path, b, a))
    return
  end
  assert(math.abs(a - b) <= tol * math.abs(b), string.format("%s: expected %.17g, got %.17g", path, b, a))
end
-- float32 results: the C library's and PyTorch's may differ in the last bit
local TOL = {float32 = 4e-7, float64 = 1e-14}

local function golden_cases(op)
  local list = {}
  for _, g in ipairs(golden) do if g.op == op then list[#list + 1] = g end end
  assert(#list > 0, "no golden cases for " .. op)
  return list
end

describe("log1p and expm1", function()
  -- a naive log(1 + x) / exp(x) - 1 gives 0 for 1e-10 and 1e-12 in float32 and
  -- is wrong from the 8th digit in float64: the relative tolerance catches both
  for _, op in ipairs {"log1p", "expm1"} do
    it(op .. " matches PyTorch in float32 and float64, as method, in place and gd." .. op, function()
      for _, g in ipairs(golden_cases(op)) do
        local x = gd.tensor(g.x, {dtype = g.dtype})
        rel(x[op](x):totable(), g.out, TOL[g.dtype], g.name)
        rel(gd[op](x):totable(), g.out, TOL[g.dtype], g.name .. " (gd." .. op .. ")")
        local y = x:clone()
        assert.are.equal(y, y[op .. "_"](y)) -- returns self
        rel(y:totable(), g.out, TOL[g.dtype], g.name .. " (in place)")
        assert.are.equal(g.dtype, x[op](x).dtype)
      end
    end)
  end

  it("turns int64 into float32, and refuses to do so in place", function()
    local r = i64({0, 1, 3}):log1p()
    assert.are.equal("float32", r.dtype)
    rel(r:totable(), {0, 0.69314718, 1.3862944}, 1e-7)
    H.raises(function() i64({1}):expm1_() end, "expm1_: the result is float32, which cannot be stored in place")
  end)

  it("reads strided views and keeps empty shapes", function()
    local m = f64({{1e-9, 2}, {3, -0.5}})
    -- a transposed view: a loop that ignored strides would give the rows
    rel(m:t():log1p():totable(), {{9.999999995e-10, math.log(4)}, -- log1p(1e-9) = 1e-9 - 1e-18/2 + ...
                                  {math.log(3), math.log(0.5)}}, 1e-14)
    local e = gd.zeros(0, 3):expm1()
    assert.are.equal("0x3", H.shape(e))
  end)
end)

describe("softplus", function()
  -- the cases separate "beta*x > threshold" from "x > threshold" (x = 5,
  -- beta = 0.5, threshold = 3 is not linear), negative beta, and overflow
  it("matches torch.nn.functional.softplus for several beta and threshold", function()
    for _, g in ipairs(golden_cases("softplus")) do
      local x = gd.tensor(g.x, {dtype = g.dtype})
      rel(x:softplus(g.beta, g.threshold):totable(), g.out, TOL[g.dtype], g.name)
      rel(gd.softplus(x, {beta = g.beta, threshold = g.threshold}):totable(), g.out, TOL[g.dtype], g.name)
    end
  end)

  it("defaults to beta 1, threshold 20 (by hand)", function()
    local r = f64({0, 21, 19}):softplus():totable()
    assert.are.equal(math.log(2), r[1])          -- log(1 + e^0)
    assert.are.equal(21, r[2])                   -- past the threshold: x itself
    rel(r[3], 19 + math.log(1 + math.exp(-19)), 1e-15)
  end)

  it("refuses beta 0, NaN and unknown options", function()
    local x = gd.ones(2)
    H.raises(function() x:softplus(0) end, "softplus: beta must not be 0")
    H.raises(function() x:softplus(0 / 0) end, "softplus: beta is NaN")
    H.raises(function() x:softplus(1, "20") end, "softplus: threshold must be a number, got string")
    H.raises(function() x:softplus({betta = 2}) end, "softplus: unknown option 'betta' (did you mean 'beta'?)")
    H.raises(function() gd.softplus(3) end, "gd.softplus: argument 1 must be a tensor, got number")
  end)
end)

describe("logsumexp", function()
  -- rows of 1000 overflow a naive log(sum(exp(x))) (inf); a row of -inf must
  -- give -inf (not the NaN of -inf - -inf); a row holding +inf gives +inf
  it("matches torch.logsumexp along a dimension, with keepdim, and over everything", function()
    for _, g in ipairs(golden_cases("logsumexp")) do
      local x = gd.tensor(g.x, {dtype = g.dtype})
      if g.dim then
        local r = x:logsumexp(g.dim, g.keepdim)
        rel(r:totable(), g.out, TOL[g.dtype], g.name)
        assert.are.equal(g.dtype, r.dtype)
        rel(gd.logsumexp(x, g.dim, g.keepdim):totable(), g.out, TOL[g.dtype], g.name)
      else
        rel(x:logsumexp(), g.out, TOL[g.dtype], g.name)
      end
    end
  end)

  it("is log(2) + 1000 for two elements of 1000 (by hand), and -inf for no elements", function()
    assert.are.equal(1000 + math.log(2), f64({1000, 1000}):logsumexp())
    assert.are.equal(-math.huge, gd.zeros(0):logsumexp())
    H.same(gd.zeros(0, 2):logsumexp(1), {-math.huge, -math.huge})
    assert.are.equal("2", H.shape(gd.zeros(2, 0):logsumexp(2)))
  end)

  it("reads strided views, turns int64 into float32, and checks dim", function()
    local m = f64({{1, 2}, {3, 4}})
    -- along dim 2 of the transpose = along dim 1 of m
    rel(m:t():logsumexp(2):totable(), {math.log(math.exp(1) + math.exp(3)), math.log(math.exp(2) + math.exp(4))},
      1e-15)
    local r = i64({{1, 2, 3}}):logsumexp(2)
    assert.are.equal("float32", r.dtype)
    rel(r:totable(), {math.log(math.exp(1) + math.exp(2) + math.exp(3))}, 1e-7)
    H.raises(function() m:logsumexp(3) end, "logsumexp: dimension 3 out of range")
  end)
end)

describe("cumsum", function()
  it("matches torch.cumsum along each dimension (float32 sums in double, as PyTorch's CPU)", function()
    -- {1e8, 1, 1, 1, 1, -1e8} ends in 4 in double; a float accumulator gives 0
    for _, g in ipairs(golden_cases("cumsum")) do
      local x = gd.tensor(g.x, {dtype = g.dtype})
      local r = x:cumsum(g.dim)
      rel(r:totable(), g.out, TOL[g.dtype], g.name)
      assert.are.equal(g.dtype, r.dtype)
      rel(gd.cumsum(x, g.dim):totable(), g.out, TOL[g.dtype], g.name)
    end
  end)

  it("keeps int64 exact, wrapping as PyTorch (a double accumulator saturates)", function()
    local r = i64({1, 2, 3}):cumsum()
    assert.are.equal("int64", r.dtype)
    H.same(r, {1, 3, 6})
    -- 3 * 2^62 wraps to -2^62 in 64-bit arithmetic (torch.cumsum gives the same)
    local w = i64({2 ^ 62, 2 ^ 62, 2 ^ 62}):cumsum()
    assert.are.equal(-2 ^ 62, w:get(3))
  end)

  it("works in place on a strided column, leaving the rest alone", function()
    local m = f64({{1, 10}, {2, 20}, {3, 30}})
    local col = m:select(2, 2)
    assert.are.equal(col, col:cumsum_(1))
    H.same(m, {{1, 10}, {2, 30}, {3, 60}})
    H.same(m:t():cumsum(2), {{1, 3, 6}, {10, 40, 100}}) -- along the transposed view's rows
  end)

  it("handles 0-d and empty tensors, and refuses expanded views and bad dims", function()
    local s = gd.tensor(3.5):cumsum(1)
    assert.are.equal("", H.shape(s))
    assert.are.equal(3.5, s:item())
    assert.are.equal("0x3", H.shape(gd.zeros(0, 3):cumsum(2)))
    assert.are.equal("2x0", H.shape(gd.zeros(2, 0):cumsum(1)))
    H.raises(function() gd.ones(1, 3):expand(2, 3):cumsum_(1) end, "cumsum_: the tensor is an expanded")
    H.raises(function() gd.ones(2):cumsum(2) end, "cumsum: dimension 2 out of range")
    H.raises(function() gd.tensor(1):cumsum(2) end, "cumsum: dimension 2 out of range")
  end)

  it("gives the same bits with 1 and 2 threads", function()
    gd.manual_seed(13)
    local x = gd.randn(64, 2000)
    local before = gd.get_num_threads()
    gd.set_num_threads(1)
    local a = x:cumsum(2)
    gd.set_num_threads(2)
    local b = x:cumsum(2)
    gd.set_num_threads(before)
    assert.is_true(a:equal(b))
  end)
end)

describe("eye, diag and diagonal", function()
  it("gd.eye makes identity matrices, square or not, in any dtype", function()
    H.same(gd.eye(3), {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}})
    H.same(gd.eye(2, 3), {{1, 0, 0}, {0, 1, 0}})
    H.same(gd.eye(3, 2), {{1, 0}, {0, 1}, {0, 0}})
    local e = gd.eye(2, {dtype = "int64"})
    assert.are.equal("int64", e.dtype)
    H.same(e, {{1, 0}, {0, 1}})
    assert.are.equal("0x0", H.shape(gd.eye(0)))
    H.raises(function() gd.eye(-1) end, "gd.eye: n must be >= 0")
    H.raises(function() gd.eye(2, 1.5) end, "gd.eye: m must be an integer")
    H.raises(function() gd.eye(2, {dtyp = "int64"}) end, "gd.eye: unknown option 'dtyp'")
  end)

  it("diag of a vector puts it on the k-th diagonal (k > 0 above, as torch.diag)", function()
    local v = gd.tensor({1, 2})
    H.same(v:diag(), {{1, 0}, {0, 2}})
    H.same(gd.diag(v, 1), {{0, 1, 0}, {0, 0, 2}, {0, 0, 0}})
    H.same(gd.diag(v, -1), {{0, 0, 0}, {1, 0, 0}, {0, 2, 0}})
    assert.are.equal("int64", i64({3}):diag().dtype)
  end)

  it("diag of a matrix copies its k-th diagonal; diagonal is a view", function()
    local m = gd.tensor({{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}})
    H.same(m:diag(), {1, 6, 11})
    H.same(m:diag(1), {2, 7, 12})
    H.same(m:diag(2), {3, 8})
    H.same(m:diag(-1), {5, 10})
    assert.are.equal("0", H.shape(m:diag(4)))
    assert.are.equal("0", H.shape(m:diag(-3)))
    H.same(m:t():diag(1), {5, 10}) -- strided: the transpose's first super-diagonal
    local d = m:diag()
    d:fill_(0)
    assert.are.equal(6, m:get(2, 2)) -- diag copies
    m:diagonal(1):fill_(0)
    H.same(m, {{1, 0, 3, 4}, {5, 6, 0, 8}, {9, 10, 11, 0}}) -- diagonal writes through
  end)

  it("refuses other ranks and bad offsets", function()
    H.raises(function() gd.zeros(2, 2, 2):diag() end, "diag: expects a 1-D or 2-D tensor, got 3 dimensions")
    H.raises(function() gd.tensor(1):diag() end, "diag: expects a 1-D or 2-D tensor, got 0 dimensions")
    H.raises(function() gd.ones(2):diag(0.5) end, "diag: diagonal must be an integer")
    H.raises(function() gd.ones(2):diagonal() end, "diagonal: expects a 2-D tensor, got 1 dimension")
  end)
end)

describe("dot and outer", function()
  it("dot is the inner product as a number, for every dtype and strided vectors", function()
    assert.are.equal(32, gd.tensor({1, 2, 3}):dot(gd.tensor({4, 5, 6})))
    assert.are.equal(32, gd.dot(i64({1, 2, 3}), {4, 5, 6}))
    assert.are.equal(0.1 * 0.3 + 0.2 * 0.4, f64({0.1, 0.2}):dot(f64({0.3, 0.4})))
    local m = f64({{1, 2}, {3, 4}})
    assert.are.equal(1 * 2 + 3 * 4, m:select(2, 1):dot(m:select(2, 2))) -- columns: stride 2
    assert.are.equal(0, gd.zeros(0):dot(gd.zeros(0)))
  end)

  it("dot refuses other shapes, lengths and mixed dtypes (as torch.dot)", function()
    H.raises(function() gd.ones(2):dot(gd.ones(3)) end, "dot: the vectors have 2 and 3 elements")
    H.raises(function() gd.ones(2, 2):dot(gd.ones(4)) end, "dot: expects two 1-D tensors, got 2-D and 1-D")
    H.raises(function() gd.ones(2):dot(f64({1, 1})) end, "dot: expects two tensors of one dtype, got float32 and float64")
    H.raises(function() gd.ones(2):dot("x") end, "dot: operand must be a tensor, a number or a table, got string")
  end)

  it("outer is the n x m matrix of products, with promotion", function()
    H.same(gd.tensor({1, 2}):outer(gd.tensor({3, 4, 5})), {{3, 4, 5}, {6, 8, 10}})
    H.same(gd.outer(i64({1, -1}), i64({2})), {{2}, {-2}})
    assert.are.equal("int64", gd.outer(i64({1}), i64({2})).dtype)
    assert.are.equal("float64", gd.ones(2):outer(f64({1})).dtype)
    H.same(gd.tensor({1, 2}):ger(gd.tensor({1, 2})), {{1, 2}, {2, 4}})
    assert.are.equal("0x3", H.shape(gd.zeros(0):outer(gd.ones(3))))
    H.raises(function() gd.ones(2):outer(gd.ones(2, 2)) end, "outer: expects two 1-D tensors, got 1-D and 2-D")
  end)
end)

describe("gd.cuda", function()
  it("has PyTorch's names, documented, next to the old ones", function()
    for _, name in ipairs {"is_available", "device_count", "synchronize", "memory_allocated", "manual_seed", "transfers",
                           "manual_seed_all"} do
      assert.is_function(gd.cuda[name], name)
      assert.truthy(gd.doc.lookup(gd.cuda[name]), name)
    end
    assert.truthy(gd.doc.lookup(gd.cuda))
    assert.are.equal(gd.cuda_available(), gd.cuda.is_available())
  end)

  it("answers as PyTorch does without a GPU", function()
    if gd.cuda.is_available() then return pending("a GPU is present") end
    assert.are.equal(false, gd.cuda.is_available())
    assert.are.equal(0, gd.cuda.device_count())
    assert.are.equal(0, gd.cuda.memory_allocated())
    H.raises(function() gd.cuda.synchronize() end, "gd.cuda.synchronize: no CUDA GPU is available")
    gd.synchronize() -- the old name stays a no-op
    H.raises(function() gd.cuda.memory_allocated(3) end, "gd.cuda.memory_allocated: device must be 0")
  end)

  it("manual_seed seeds the one generator (the same draws as gd.manual_seed)", function()
    gd.cuda.manual_seed(42)
    local a = gd.rand(5)
    gd.manual_seed(42)
    assert.is_true(gd.rand(5):equal(a))
    gd.cuda.manual_seed_all(7)
    local b = gd.rand(3)
    gd.manual_seed(7)
    assert.is_true(gd.rand(3):equal(b))
    H.raises(function() gd.cuda.manual_seed(-1) end, "gd.cuda.manual_seed: seed must be >= 0")
  end)
end)

describe("optimizers and an empty parameter list", function()
  -- (the constructors' errors carry no position yet, unlike setupOn's: that is
  -- the constructor's error path, shared by every construction error)
  local function refused(fn, text)
    local ok, err = pcall(fn)
    assert.is_false(ok)
    assert.truthy(tostring(err):find(text, 1, true), tostring(err))
  end

  it("are refused as PyTorch does", function()
    refused(function() gd.optim.SGD({}, {lr = 0.1}) end, "gd.optim.SGD: optimizer got an empty parameter list")
    -- Adam(net:parameters()) of a net without parameters: {} alone is no hyper table
    refused(function() gd.optim.Adam({}) end, "gd.optim.Adam: optimizer got an empty parameter list")
    local empty_net = {parameters = function() return {} end}
    refused(function() gd.optim.RMSProp(empty_net, {lr = 0.1}) end, "optimizer got an empty parameter list")
    H.raises(function() gd.optim.SGD({lr = 0.1}):setupOn(empty_net) end, "optimizer got an empty parameter list")
  end)

  it("still accept one parameter, and all defaults with no arguments", function()
    local x = gd.zeros(2)
    assert.are.equal(1, #gd.optim.Adam({x}).params)
    local opt = gd.optim.Adam()
    opt:setupOn({x})
    assert.are.equal(1, #opt.params)
  end)
end)

describe("documentation of the basics", function()
  it("covers every new function and method (help shows each)", function()
    local missing = {}
    for _, name in ipairs {"eye", "diag", "diagonal", "log1p", "expm1", "softplus", "dot", "outer", "logsumexp",
                           "cumsum"} do
      if not gd.doc.lookup(gd[name]) then missing[#missing + 1] = "gd." .. name end
    end
    for _, name in ipairs {"diag", "diagonal", "log1p", "log1p_", "expm1", "expm1_", "softplus", "dot", "outer",
                           "ger", "logsumexp", "cumsum", "cumsum_"} do
      if not gd.doc.lookup(gd.Tensor[name]) then missing[#missing + 1] = "Tensor:" .. name end
    end
    assert.are.same({}, missing)
    assert.truthy(gd.doc.lookup(gd.Tensor):find("x[{{}, 2}]", 1, true))
  end)
end)
