-- Element-wise arithmetic and math: operators and methods, NumPy broadcasting
-- (full shape checks), PyTorch's type promotion, in-place forms and their
-- rules (b broadcasts into a; a never grows; overlapping operands), int64
-- edge cases and NaN.
local gd = require "gd"
local H = require "spec.support.tensor_helpers"

local function f64(data) return gd.tensor(data, {dtype = "float64"}) end
local function i64(data) return gd.tensor(data, {dtype = "int64"}) end

describe("binary operators", function()
  it("compute + - * / ^ % element-wise", function()
    local a, b = f64({1, -2, 3}), f64({4, 5, -6})
    H.same(a + b, {5, 3, -3})
    H.same(a - b, {-3, -7, 9})
    H.same(a * b, {4, -10, -18})
    H.same(a / b, {0.25, -0.4, -0.5})
    H.same(f64({2, 3, 4}) ^ f64({3, 2, 0.5}), {8, 9, 2})
    H.same(-a, {-1, 2, -3})
  end)

  it("mix tensors with numbers on either side", function()
    local a = f64({1, 2, 4})
    H.same(a + 1, {2, 3, 5})
    H.same(1 - a, {0, -1, -3})
    H.same(2 * a, {2, 4, 8})
    H.same(8 / a, {8, 4, 2})
    H.same(a ^ 2, {1, 4, 16})
    H.same(2 ^ a, {2, 4, 16})
  end)

  it("take a table as the other operand", function()
    H.same(f64({1, 2}) + {10, 20}, {11, 22})
    H.same({10, 20} - f64({1, 2}), {9, 18})
    H.same(f64({{1, 2}, {3, 4}}):mul({10, 100}), {{10, 200}, {30, 400}})
  end)

  it("% takes the sign of the divisor (torch.remainder, Lua's %)", function()
    H.same(f64({5.5, -5.5, 5.5, -5.5}) % f64({2, 2, -2, -2}), {1.5, 0.5, -0.5, -1.5})
    -- the same as Lua's own % for these values
    for _, x in ipairs({7, -7, 7.25}) do
      for _, y in ipairs({3, -3, 0.5}) do
        assert.are.equal(x % y, (f64({x}) % y):get(1))
      end
    end
    H.same(i64({7, -7, 7, -7}) % i64({3, 3, -3, -3}), {1, 2, -2, -1})
    -- exact for large quotients, where x - floor(x/y)*y loses the answer
    assert.are.equal(1, (f64({2 ^ 53 + 1}) % 3):get(1) == (2 ^ 53 + 1) % 3 and 1 or 0)
  end)

  it("follow IEEE for division by zero and NaN", function()
    local r = f64({1, -1, 0}) / 0
    assert.are.equal(math.huge, r:get(1))
    assert.are.equal(-math.huge, r:get(2))
    assert.is_true(r:get(3) ~= r:get(3))
    local n = f64({0 / 0}) + 1
    assert.is_true(n:get(1) ~= n:get(1))
  end)

  it("compare into 1/0 in the promoted dtype", function()
    local a, b = f64({1, 2, 3}), f64({3, 2, 1})
    H.same(a:eq(b), {0, 1, 0})
    H.same(a:ne(b), {1, 0, 1})
    H.same(a:lt(b), {1, 0, 0})
    H.same(a:le(b), {1, 1, 0})
    H.same(a:gt(2), {0, 0, 1})
    H.same(a:ge(2), {0, 1, 1})
    assert.are.equal("float64", a:eq(b).dtype)
    H.same(f64({0 / 0}):eq(f64({0 / 0})), {0}) -- NaN is unequal to itself
  end)

  it("maximum and minimum propagate NaN", function()
    local nan = 0 / 0
    local m = f64({1, nan, 5}):maximum(f64({2, 0, nan}))
    assert.are.equal(2, m:get(1))
    assert.is_true(m:get(2) ~= m:get(2))
    assert.is_true(m:get(3) ~= m:get(3))
    H.same(f64({1, 4}):minimum(f64({2, 3})), {1, 3})
    H.same(f64({1, 4}):max(f64({2, 3})), {2, 4}) -- max(tensor) is the element-wise maximum
  end)
end)

describe("broadcasting", function()
  it("stretches size-1 and missing leading dimensions (NumPy's rules)", function()
    local col = f64({{1}, {2}, {3}})   -- 3x1
    local row = f64({10, 20})          -- 2
    local s = col + row
    assert.are.same({3, 2}, s.shape)
    H.same(s, {{11, 21}, {12, 22}, {13, 23}})
    -- 2x1x3 with 4x1 gives 2x4x3
    local a = gd.arange(6, {dtype = "float64"}):view(2, 1, 3)
    local b = gd.arange(4, {dtype = "float64"}):view(4, 1)
    local c = a * b
    assert.are.same({2, 4, 3}, c.shape)
    for i = 1, 2 do
      for j = 1, 4 do
        for k = 1, 3 do
          assert.are.equal(a:get(i, 1, k) * b:get(j, 1), c:get(i, j, k))
        end
      end
    end
  end)

  it("broadcasts 0-d tensors and zero-sized dimensions", function()
    H.same(f64({1, 2}) + gd.tensor(5, {dtype = "float64"}), {6, 7})
    local e = gd.zeros(0, 3) + gd.ones(3)
    assert.are.same({0, 3}, e.shape)
    assert.are.same({2, 0}, (gd.zeros(2, 1) + gd.zeros(0)).shape)
    assert.are.same({}, (gd.tensor(1) + gd.tensor(2)).shape)
  end)

  it("checks shapes, not element counts", function()
    -- 2x3 and 3x2 both have 6 elements, and do not broadcast
    H.raises(function() local _ = gd.zeros(2, 3) + gd.zeros(3, 2) end,
      "+: shapes 2x3 and 3x2 cannot be broadcast (dimension 1: 2 vs 3)")
    H.raises(function() local _ = gd.zeros(6) * gd.zeros(2, 3) end, "*: shapes 6 and 2x3 cannot be broadcast")
    H.raises(function() local _ = gd.zeros(0) + gd.zeros(2) end, "+: shapes 0 and 2 cannot be broadcast")
    H.raises(function() local _ = gd.zeros(2):add(gd.zeros(3)) end, "add: shapes 2 and 3 cannot be broadcast")
  end)
end)

describe("type promotion (PyTorch's rules)", function()
  it("promotes int64 with float32 to float32 and anything with float64 to float64", function()
    assert.are.equal("float32", (i64({1}) + gd.tensor({1})).dtype)
    assert.are.equal("float64", (i64({1}) + f64({1})).dtype)
    assert.are.equal("float64", (gd.tensor({1}) + f64({1})).dtype)
    assert.are.equal("int64", (i64({1}) + i64({1})).dtype)
  end)

  it("keeps a tensor's dtype next to a number, unless an int64 meets a fraction", function()
    assert.are.equal("float32", (gd.tensor({1}) + 2.5).dtype)
    assert.are.equal("int64", (i64({1}) * 3).dtype)
    local r = i64({1, 2}) * 2.5
    assert.are.equal("float32", r.dtype)
    H.same(r, {2.5, 5})
    assert.are.equal("float32", (i64({1}) + 1e20).dtype) -- beyond int64: a float
  end)

  it("divides int64 by int64 truly, into float32", function()
    local q = i64({7, -7, 1}) / i64({2, 2, 3})
    assert.are.equal("float32", q.dtype)
    H.close(q, {3.5, -3.5, 1 / 3}, 1e-7)
    assert.are.equal("float32", (i64({1}) / 2).dtype)
  end)

  it("gives float32 results for int64 math functions", function()
    local s = i64({4, 9}):sqrt()
    assert.are.equal("float32", s.dtype)
    H.same(s, {2, 3})
    assert.are.equal("int64", i64({-4}):abs().dtype)
    H.same(i64({-4, 5}):abs(), {4, 5})
  end)
end)

describe("int64 edge cases", function()
  it("wraps around on overflow like two's complement (PyTorch, NumPy)", function()
    local big = i64({2 ^ 62})
    H.same(big + big, {-2 ^ 63})
    H.same(big * 4, {0})
    H.same(-i64({-2 ^ 63}), {-2 ^ 63})
    H.same(i64({-2 ^ 63}):abs(), {-2 ^ 63})
  end)

  it("computes INT64_MIN % -1 without trapping", function()
    H.same(i64({-2 ^ 63, 5}) % i64({-1, -1}), {0, 0})
  end)

  it("refuses integer modulo by zero and negative integer powers", function()
    H.raises(function() local _ = i64({1}) % i64({0}) end, "%: integer modulo by zero")
    H.raises(function() local _ = i64({2}) ^ i64({-1}) end, "^: integers to negative integer powers")
    H.raises(function() local _ = 2 ^ i64({1, -1}) end, "^: integers to negative integer powers")
    H.same(i64({2, 3}) ^ 3, {8, 27})
    assert.are.equal("float32", (i64({2}) ^ -1).dtype) -- a negative number exponent: float
    H.same(2 ^ i64({0, 10}), {1, 1024})
  end)

  it("refuses in-place results that an int64 tensor cannot hold", function()
    H.raises(function() i64({1}):div_(2) end, "div_: the result would be float32")
    H.raises(function() i64({1}):add_(0.5) end, "add_: the result would be float32")
    H.raises(function() i64({1}):add_(gd.tensor({1})) end, "add_: the result would be float")
    H.raises(function() i64({4}):sqrt_() end, "sqrt_: the result is float32")
    H.raises(function() i64({1}):fill_(0.5) end, "fill_: value 0.5 is not an integer")
    H.raises(function() i64({1}):fill_(math.huge) end, "fill_: value inf does not fit in int64")
    H.raises(function() i64({1}):set(1, 2 ^ 63) end, "set: value 9.2233720368548e+18 does not fit in int64")
  end)

  it("compares int64 values beyond 2^53 exactly in max and argmax", function()
    -- 2^62 - 1, 2^62, 2^62 + 1 are one double, so build them in int64
    local t = i64({2 ^ 62, 2 ^ 62, 2 ^ 62}):add_(i64({0, 1, -1}))
    assert.are.equal(2, t:argmax())
    local v, i = t:max(1)
    assert.are.equal(2, i:item())
    assert.are.equal(3, t:argmin())
  end)
end)

describe("unary math", function()
  it("matches the C library element by element", function()
    local x = {0.5, 1, 2, 4}
    local t = f64(x)
    local checks = {
      sqrt = math.sqrt, exp = math.exp, log = math.log, sin = math.sin, cos = math.cos, tanh = math.tanh,
      abs = math.abs, floor = math.floor, ceil = math.ceil,
      square = function(v) return v * v end, neg = function(v) return -v end,
      reciprocal = function(v) return 1 / v end, rsqrt = function(v) return 1 / math.sqrt(v) end,
      sigmoid = function(v) return 1 / (1 + math.exp(-v)) end,
    }
    for name, fn in pairs(checks) do
      local r = t[name](t)
      for i = 1, #x do
        assert.is_true(math.abs(r:get(i) - fn(x[i])) <= 1e-15 * math.max(1, math.abs(fn(x[i]))), name)
      end
    end
  end)

  it("handles signs, halves and NaN per PyTorch", function()
    H.same(f64({-3, 0, 2}):sign(), {-1, 0, 1})
    H.same(f64({0.5, 1.5, 2.5, -0.5}):round(), {0, 2, 2, -0}) -- halves to even
    H.same(f64({-1, 0, 3}):relu(), {0, 0, 3})
    local s = f64({-1000, 1000}):sigmoid()                    -- no overflow
    H.same(s, {0, 1})
    local n = f64({0 / 0}):sign()
    assert.is_true(n:get(1) ~= n:get(1))
  end)

  it("has in-place forms that return self", function()
    local t = f64({4, 9})
    assert.are.equal(t, t:sqrt_())
    H.same(t, {2, 3})
    H.same(f64({-1, 1}):neg_(), {1, -1})
    H.same(f64({1, 2}):pow_(2), {1, 4})
  end)

  it("clamps, with either bound optional", function()
    local t = f64({-5, 0, 5})
    H.same(t:clamp(-1, 1), {-1, 0, 1})
    H.same(t:clamp(nil, 1), {-5, 0, 1})
    H.same(t:clamp(0), {0, 0, 5})
    H.same(i64({-5, 0, 5}):clamp(-1, 1), {-1, 0, 1})
    H.same(i64({-5, 5}):clamp(-math.huge, 2), {-5, 2})
    assert.are.equal("float32", i64({1}):clamp(0.5, 2).dtype)
    H.same(t:clamp_(-2, 2), {-2, 0, 2})
    H.raises(function() local _ = t:clamp() end, "clamp: at least one of min and max must be given")
    H.raises(function() local _ = t:clamp(2, 1) end, "clamp: min 2 is greater than max 1")
    H.raises(function() local _ = t:clamp(0 / 0, 1) end, "clamp: min is NaN")
  end)
end)

describe("in-place operations", function()
  it("broadcast the operand into self, returning self", function()
    local a = gd.zeros(2, 3, {dtype = "float64"})
    local r = a:add_(f64({1, 2, 3}))
    assert.are.equal(a, r)
    H.same(a, {{1, 2, 3}, {1, 2, 3}})
    a:mul_(f64({{2}, {3}}))
    H.same(a, {{2, 4, 6}, {3, 6, 9}})
    a:sub_(1):div_(f64({1, 2, 1}))
    H.same(a, {{1, 1.5, 5}, {2, 2.5, 8}})
  end)

  it("never grow self: the operand must broadcast to self's shape", function()
    local a = gd.zeros(3)
    H.raises(function() a:add_(gd.zeros(2, 3)) end, "add_: shape 2x3 cannot be broadcast to 3")
    H.raises(function() a:mul_(gd.zeros(2)) end, "mul_: shape 2 cannot be broadcast to 3")
    H.raises(function() gd.zeros(2, 1):add_(gd.zeros(2, 3)) end, "add_: shape 2x3 cannot be broadcast to 2x1")
  end)

  it("take alpha and value scales (PyTorch and Torch7 orders)", function()
    local y = f64({1, 1})
    y:add_(f64({1, 2}), 3)
    H.same(y, {4, 7})
    y:add_(2, f64({1, 1}))   -- Torch7's add_(value, tensor)
    H.same(y, {6, 9})
    y:sub_(f64({1, 1}), 2)
    H.same(y, {4, 7})
    H.same(f64({1}):add(f64({1}), 0.5), {1.5})
    H.same(f64({1}):sub(f64({1}), 3), {-2})
    H.same(f64({0, 0}):addcmul_(f64({2, 3}), f64({4, 5})), {8, 15})
    H.same(f64({1, 1}):addcmul_(f64({2, 3}), f64({4, 5}), 0.5), {5, 8.5})
    H.same(f64({1, 1}):addcdiv_(f64({2, 3}), f64({4, 6}), 2), {2, 2})
    H.same(f64({1}):addcmul(f64({2}), f64({3})), {7})
    local i = i64({1, 2})
    i:add_(i64({1, 1}), 3)
    H.same(i, {4, 5})
  end)

  it("store a float64 operand into a float32 tensor by rounding", function()
    local a = gd.zeros(1)
    a:add_(f64({0.1}))
    assert.are.equal(0.100000001490116119384765625, a:get(1))
  end)

  it("give correct results when the operand overlaps self", function()
    -- a += a^T reads elements that the loop has already written, unless copied first
    local a = gd.arange(9, {dtype = "float64"}):view(3, 3)
    a:add_(a:t())
    H.same(a, {{0, 4, 8}, {4, 8, 12}, {8, 12, 16}})
    -- shifted windows of one storage, both directions
    local b = gd.arange(6, {dtype = "float64"})
    b:narrow(1, 2, 5):add_(b:narrow(1, 1, 5))
    H.same(b, {0, 1, 3, 5, 7, 9})
    local c = gd.arange(6, {dtype = "float64"})
    c:narrow(1, 1, 5):add_(c:narrow(1, 2, 5))
    H.same(c, {1, 3, 5, 7, 9, 5})
    local d = gd.arange(6, {dtype = "float64"})
    d:narrow(1, 2, 5):mul_(d:narrow(1, 1, 5))
    H.same(d, {0, 0, 2, 6, 12, 20})
    local e = gd.arange(4, {dtype = "float64"}):view(2, 2)
    e:addcmul_(e:t(), e)
    H.same(e, {{0, 3}, {4, 12}})   -- e + e^T * e with the old e: [[0,1],[2,3]] + [[0,2],[2,9]]
    local f = gd.arange(6, {dtype = "float64"})
    f:narrow(1, 2, 5):copy_(f:narrow(1, 1, 5))
    H.same(f, {0, 0, 1, 2, 3, 4})
    local g = gd.arange(4, {dtype = "float64"}):view(2, 2)
    g:copy_(g:t())
    H.same(g, {{0, 2}, {1, 3}})
  end)

  it("accept a tensor as its own operand", function()
    local a = f64({1, 2})
    a:add_(a)
    H.same(a, {2, 4})
    a:mul_(a)
    H.same(a, {4, 16})
  end)

  it("copy_ broadcasts and converts; fill_ and zero_ set every element", function()
    local a = gd.zeros(2, 2, {dtype = "int64"})
    a:copy_(f64({7.9, -7.9}))
    H.same(a, {{7, -7}, {7, -7}})
    a:copy_({{1, 2}, {3, 4}})
    H.same(a, {{1, 2}, {3, 4}})
    assert.are.equal(a, a:fill_(5))
    H.same(a, {{5, 5}, {5, 5}})
    H.same(a:zero_(), {{0, 0}, {0, 0}})
    H.raises(function() a:copy_(gd.zeros(3)) end, "copy_: shape 3 cannot be broadcast to 2x2")
    H.raises(function() a:copy_(3) end, "copy_: source must be a tensor or a table, got number")
  end)

  it("write through strided views only where they point", function()
    local a = gd.zeros(3, 4, {dtype = "float64"})
    a:t():narrow(1, 2, 2):add_(1)     -- columns 2 and 3 of a
    H.same(a, {{0, 1, 1, 0}, {0, 1, 1, 0}, {0, 1, 1, 0}})
  end)
end)

describe("gd.where and gd.allclose", function()
  it("where picks a where cond is nonzero (NaN too) and broadcasts", function()
    local cond = gd.tensor({1, 0, 0.5, 0 / 0})
    H.same(gd.where(cond, f64({1, 2, 3, 4}), -1), {1, -1, 3, 4})
    H.same(gd.where(gd.tensor({{1}, {0}}), 1, f64({5, 6})), {{1, 1}, {5, 6}})
    -- a fractional condition stays true next to int64 values
    H.same(gd.where(gd.tensor({0.5, 0}), i64({1, 2}), i64({7, 8})), {1, 8})
    H.raises(function() local _ = gd.where(1, 2, 3) end, "gd.where: the condition must be a tensor")
    H.raises(function() local _ = gd.where(gd.ones(2), gd.ones(3), 0) end, "gd.where: shapes 3 and 2 cannot be broadcast")
  end)

  it("allclose compares shape and |a - b| <= atol + rtol |b|", function()
    assert.is_true(gd.allclose(f64({1, 2}), f64({1, 2 + 1e-9})))
    assert.is_false(gd.allclose(f64({1, 2}), f64({1, 2.001})))
    assert.is_true(gd.allclose(f64({1, 2}), f64({1, 2.001}), 1e-3))
    assert.is_false(gd.allclose(f64({1, 2}), f64({{1, 2}})))
    assert.is_false(gd.allclose(f64({0 / 0}), f64({0 / 0})))
    assert.is_true(gd.allclose(f64({3, 3}), 3))
    assert.is_true(gd.allclose(f64({1, 2}), {1, 2}))
  end)
end)
