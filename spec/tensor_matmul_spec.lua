-- Matrix products: gd.matmul / t:matmul with NumPy's rules for 1-D, 2-D and
-- batched 3-D operands, through BLAS for float32/float64 and a plain loop for
-- int64; transposed and strided operands; t:addmm_ (gemm into an output).
local gd = require "gd"
local H = require "spec.support.tensor_helpers"

local function f64(data) return gd.tensor(data, {dtype = "float64"}) end

--- The textbook triple loop over Lua tables: the independent reference.
local function reference(a, b)
  local n, k, m = #a, #b, #b[1]
  local c = {}
  for i = 1, n do
    c[i] = {}
    for j = 1, m do
      local s = 0
      for l = 1, k do s = s + a[i][l] * b[l][j] end
      c[i][j] = s
    end
  end
  return c
end

describe("gd.matmul", function()
  local A = {{1, 2, 3}, {4, 5, 6}}           -- 2x3
  local B = {{7, 8}, {9, 10}, {11, 12}}      -- 3x2

  it("multiplies matrices (float64 and float32 through BLAS)", function()
    H.same(gd.matmul(f64(A), f64(B)), {{58, 64}, {139, 154}})
    local c = gd.tensor(A):matmul(gd.tensor(B))
    assert.are.equal("float32", c.dtype)
    H.same(c, {{58, 64}, {139, 154}})
  end)

  it("handles 1-D operands as NumPy does", function()
    local dot = gd.matmul(f64({1, 2, 3}), f64({4, 5, 6}))
    assert.are.same({}, dot.shape)
    assert.are.equal(32, dot:item())
    H.same(gd.matmul(f64(A), f64({1, 0, -1})), {-2, -2})          -- 2x3 @ 3 -> 2
    H.same(gd.matmul(f64({1, -1}), f64(A)), {-3, -3, -3})         -- 2 @ 2x3 -> 3
  end)

  it("reads transposed and strided views without copying them wrong", function()
    local at = f64({{1, 4}, {2, 5}, {3, 6}}):t()                   -- A as a transposed view
    H.same(gd.matmul(at, f64(B)), {{58, 64}, {139, 154}})
    local big = gd.arange(30, {dtype = "float64"}):view(5, 6)
    local sub = big:narrow(1, 2, 3):narrow(2, 2, 4)                -- 3x4 with row stride 6
    local rhs = big:t():narrow(1, 1, 4):narrow(2, 1, 2)            -- 4x2, column-major-ish
    H.same(gd.matmul(sub, rhs), reference(sub:totable(), rhs:totable()))
    local rhs_cols = big:select(2, 3):view(5, 1):expand(5, 3)      -- 2, 8, 14, 20, 26 (stride 0: copied for BLAS)
    H.same(gd.matmul(gd.ones(2, 5, {dtype = "float64"}), rhs_cols), {{70, 70, 70}, {70, 70, 70}})
  end)

  it("matches the triple loop on random matrices", function()
    gd.manual_seed(11)
    for _, dims in ipairs({{1, 1, 1}, {3, 7, 2}, {17, 9, 13}, {1, 64, 33}}) do
      local a, b = gd.randn(dims[1], dims[2], {dtype = "float64"}), gd.randn(dims[2], dims[3], {dtype = "float64"})
      H.close(gd.matmul(a, b), reference(a:totable(), b:totable()), 1e-12)
    end
  end)

  it("multiplies batches of matrices, broadcasting a batch of one or a 2-D side", function()
    local a = gd.arange(12, {dtype = "float64"}):view(2, 2, 3)
    local b = gd.arange(12, {dtype = "float64"}):view(2, 3, 2)
    local c = gd.matmul(a, b)
    assert.are.same({2, 2, 2}, c.shape)
    for i = 1, 2 do H.same(c[i], reference(a[i]:totable(), b[i]:totable())) end
    local d = gd.matmul(a, f64(B))
    for i = 1, 2 do H.same(d[i], reference(a[i]:totable(), B)) end
    assert.are.same({2, 2}, gd.matmul(a, f64({1, 1, 1})).shape)
  end)

  it("multiplies int64 matrices exactly, and promotes mixed dtypes", function()
    local c = gd.matmul(gd.tensor(A, {dtype = "int64"}), gd.tensor(B, {dtype = "int64"}))
    assert.are.equal("int64", c.dtype)
    H.same(c, {{58, 64}, {139, 154}})
    assert.are.equal("float64", gd.matmul(gd.tensor(A, {dtype = "int64"}), f64(B)).dtype)
  end)

  it("multiplies empty matrices into zeros", function()
    local z = gd.matmul(gd.ones(2, 0), gd.ones(0, 3))
    assert.are.same({2, 3}, z.shape)
    H.same(z, {{0, 0, 0}, {0, 0, 0}})
    assert.are.same({0, 3}, gd.matmul(gd.ones(0, 2), gd.ones(2, 3)).shape)
  end)

  it("names both shapes when they do not match", function()
    H.raises(function() local _ = gd.matmul(f64(A), f64(A)) end,
      "gd.matmul: shapes 2x3 and 2x3 do not match (3 columns against 2 rows)")
    H.raises(function() local _ = f64(A):matmul(f64({1, 2})) end, "matmul: shapes 2x3 and 2 do not match")
    H.raises(function() local _ = gd.matmul(gd.tensor(1), f64(A)) end, "gd.matmul: operands must be 1-D, 2-D or 3-D")
    H.raises(function() local _ = gd.matmul(gd.zeros(2, 2, 2), gd.zeros(3, 2, 2)) end,
      "gd.matmul: batch sizes 2 and 3 do not match")
    H.raises(function() local _ = gd.matmul(f64(A), {1, 2}) end, "gd.matmul: argument 2 must be a tensor")
  end)
end)

describe("addmm_", function()
  it("computes t = beta*t + alpha*op(a)@op(b) in place", function()
    local c = f64({{1, 1}, {1, 1}})
    c:addmm_(f64({{1, 2}, {3, 4}}), f64({{1, 0}, {0, 1}}), 2, 3)
    H.same(c, {{5, 7}, {9, 11}})
    local d = f64({{0, 0}, {0, 0}})
    d:addmm_(f64({{1, 2}, {3, 4}}), f64({{1, 2}, {3, 4}}), 1, 0, true, false) -- a^T a
    H.same(d, {{10, 14}, {14, 20}})
  end)

  it("writes into a transposed output and reads an output that aliases an input", function()
    local c = f64({{0, 0}, {0, 0}}):t()
    c:addmm_(f64({{1, 2}, {3, 4}}), f64({{1, 0}, {0, 1}}), 1, 0)
    H.same(c, {{1, 2}, {3, 4}})
    local a = f64({{1, 2}, {3, 4}})
    a:addmm_(a, a, 1, 0)                        -- a = a @ a, with a read before written
    H.same(a, {{7, 10}, {15, 22}})
  end)

  it("checks shapes, dtypes and its output", function()
    H.raises(function() f64({{0}}):addmm_(f64({{1, 2}}), f64({{1, 2}})) end, "addmm_: shapes 1x2 and 1x2 do not match")
    H.raises(function() gd.zeros(2, 2):addmm_(f64({{1, 2}, {3, 4}}), f64({{1, 2}, {3, 4}})) end, "addmm_: dtypes differ")
    H.raises(function() gd.zeros(2, 1, {dtype = "float64"}):expand(2, 2):addmm_(f64({{1, 0}, {0, 1}}), f64({{1, 0}, {0, 1}})) end,
      "addmm_: the tensor is an expanded")
  end)
end)
