-- Reductions: sum, mean, prod, var, std, norm, max/min (values and indices),
-- argmax/argmin; over everything and along one dimension; empty tensors, NaN,
-- and determinism: the same bits with 1 or 2 threads.
local gd = require "gd"
local H = require "spec.support.tensor_helpers"

local function f64(data) return gd.tensor(data, {dtype = "float64"}) end
local function i64(data) return gd.tensor(data, {dtype = "int64"}) end

describe("reductions over all elements", function()
  local m = f64({{1, 2, 3}, {4, 5, 6}})

  it("sum, mean and prod return numbers", function()
    assert.are.equal(21, m:sum())
    assert.are.equal(3.5, m:mean())
    assert.are.equal(720, m:prod())
    assert.are.equal(21, i64({{1, 2, 3}, {4, 5, 6}}):sum())
  end)

  -- A sum or mean of at most one reduction block (4096 elements) of floats
  -- takes a short path (src/cpu/reduce.c); it must give the blocked path's
  -- bits.  Each input separates a wrong short path from the right one:
  -- (0.1 + 0.2) + 0.3 is 0.6000000000000001 and 0.1 + (0.2 + 0.3) is 0.6
  -- (a pairwise or reversed order); float32's 1e8 + 1 - 1e8 is 1 in double
  -- and 0 in float (a float accumulator); -0 folded from the blocked path's
  -- starting 0 is +0 (a fold that starts from the first element keeps -0);
  -- and 4096 elements against 4097 (the blocked path) catch a short path that
  -- drops or repeats the block's last elements.
  it("sums one block of floats in order from 0, in double, as the blocked path does", function()
    local a = f64({0.1, 0.2, 0.3})
    assert.are.equal((0.1 + 0.2) + 0.3, a:sum())
    assert.are_not.equal(0.6, a:sum())
    assert.are.equal(((0.1 + 0.2) + 0.3) / 3, a:mean())
    assert.are.equal(1, gd.tensor({1e8, 1, -1e8}, {dtype = "float32"}):sum())
    assert.are.equal(math.huge, 1 / f64({-0.0}):sum())
    -- through autograd the result is a 0-d tensor with the same value
    local x = gd.tensor({0.1, 0.2, 0.3}, {dtype = "float64", requires_grad = true})
    assert.are.equal((0.1 + 0.2) + 0.3, x:sum():item())
    assert.are.equal(((0.1 + 0.2) + 0.3) / 3, x:mean():item())
    for _, dtype in ipairs({"float32", "float64"}) do
      local v = {}
      for i = 1, 4097 do v[i] = 1 / i end
      local t = gd.tensor(v, {dtype = dtype})
      local w = t:totable()   -- (float32: the stored values)
      local s = 0
      for i = 1, 4096 do s = s + w[i] end
      assert.are.equal(s, t:narrow(1, 1, 4096):sum(), dtype)
      assert.are.equal(s / 4096, t:narrow(1, 1, 4096):mean(), dtype)
      -- 4097: two blocks, the first folded as above, then the second added
      assert.are.equal(s + (0 + w[4097]), t:sum(), dtype)
    end
  end)

  it("var and std are unbiased by default, with a correction argument", function()
    -- values 1..6: mean 3.5, squared deviations sum to 17.5
    assert.are.equal(17.5 / 5, m:var())
    assert.are.equal(17.5 / 6, m:var(nil, nil, 0))
    assert.is_true(math.abs(m:std() - math.sqrt(3.5)) < 1e-15)
  end)

  it("norm takes p = 2 (default), 1, inf and 0", function()
    local v = f64({3, -4, 0})
    assert.are.equal(5, v:norm())
    assert.are.equal(7, v:norm(1))
    assert.are.equal(4, v:norm(math.huge))
    assert.are.equal(4, v:norm("inf"))
    assert.are.equal(2, v:norm(0))
    assert.is_true(math.abs(v:norm(3) - (27 + 64) ^ (1 / 3)) < 1e-14)
    H.raises(function() local _ = v:norm(-1) end, "norm: p must be >= 0")
  end)

  it("max, min, argmax, argmin (1-based, first on ties)", function()
    local t = f64({3, 7, 1, 7, 1})
    assert.are.equal(7, t:max())
    assert.are.equal(1, t:min())
    assert.are.equal(2, t:argmax())
    assert.are.equal(3, t:argmin())
    assert.are.equal(6, m:argmax())  -- position in the flattened tensor
  end)

  it("NaN wins max and argmax, the first one", function()
    local nan = 0 / 0
    local t = f64({1, nan, 5, nan})
    local mx = t:max()
    assert.is_true(mx ~= mx)
    assert.are.equal(2, t:argmax())
    assert.are.equal(2, t:argmin())
    local s = t:sum()
    assert.is_true(s ~= s)
  end)

  it("sum of nothing is 0, mean is NaN; max of nothing is an error", function()
    local e = gd.zeros(0)
    assert.are.equal(0, e:sum())
    assert.are.equal(1, e:prod())
    local mean = e:mean()
    assert.is_true(mean ~= mean)
    H.raises(function() local _ = e:max() end, "max: max of an empty tensor")
    H.raises(function() local _ = e:argmax() end, "argmax: argmax of an empty tensor")
  end)

  it("reduce non-contiguous views correctly", function()
    local a = gd.arange(12, {dtype = "float64"}):view(3, 4)
    assert.are.equal(1 + 5 + 9, a:select(2, 2):sum())
    assert.are.equal(66, a:t():sum())
    assert.are.equal(11, a:t():max())
    assert.are.equal(12, a:t():argmax()) -- flat index in the transposed order
  end)

  it("wraps int64 sums like two's complement", function()
    assert.are.equal(-2 ^ 63, i64({2 ^ 62, 2 ^ 62}):sum())
  end)
end)

describe("reductions along a dimension", function()
  local m = f64({{1, 2, 3}, {4, 5, 6}})

  it("sum and mean, with and without keepdim, negative dims", function()
    H.same(m:sum(1), {5, 7, 9})
    H.same(m:sum(2), {6, 15})
    H.same(m:sum(-1), {6, 15})
    H.same(m:sum(2, true), {{6}, {15}})
    H.same(m:mean(1), {2.5, 3.5, 4.5})
    H.same(m:prod(2), {6, 120})
    H.same(m:var(2), {1, 1})
    H.same(m:norm(1, 2), {6, 15})
    assert.are.equal("int64", i64({{1, 2}}):sum(2).dtype)
    assert.are.equal("float32", i64({{1, 2}}):mean(2).dtype)
  end)

  it("max and min return values and 1-based int64 indices", function()
    local v, i = m:max(2)
    H.same(v, {3, 6})
    H.same(i, {3, 3})
    assert.are.equal("int64", i.dtype)
    local v2, i2 = f64({{5, 1}, {0, 9}}):min(1, true)
    H.same(v2, {{0, 1}})
    H.same(i2, {{2, 1}})
    H.same(f64({{1, 8, 8}, {9, 2, 9}}):argmax(2), {2, 1})
    H.same(f64({{1, 8}, {9, 2}}):argmin(1), {1, 2})
  end)

  it("lets NaN win max and argmax along a dimension too, the first one", function()
    local nan = 0 / 0
    local v, i = f64({{1, nan, 3, nan}, {4, 5, 6, 2}}):max(2)
    assert.is_true(v:get(1) ~= v:get(1))
    assert.are.equal(6, v:get(2))
    H.same(i, {2, 3})
    H.same(f64({{nan, 1}, {0, nan}}):argmin(2), {1, 2})
    local s = f64({{1, nan}, {2, 3}}):sum(2)
    assert.is_true(s:get(1) ~= s:get(1))
    assert.are.equal(5, s:get(2))
  end)

  it("handles zero-sized dimensions", function()
    H.same(gd.zeros(2, 0):sum(2), {0, 0})
    assert.are.same({0}, gd.zeros(0, 3):sum(2).shape)
    H.raises(function() local _ = gd.zeros(2, 0):max(2) end, "max: max along dimension 2 of size 0")
  end)

  it("checks the dimension", function()
    H.raises(function() local _ = m:sum(3) end, "sum: dimension 3 out of range (the tensor has 2 dimensions)")
    H.raises(function() local _ = m:sum(1.5) end, "sum: dimension 1.5 is not an integer")
    H.raises(function() local _ = gd.tensor(1):sum(1) end, "sum: dimension 1 out of range (the tensor has 0 dimensions)")
  end)
end)

describe("determinism", function()
  -- large enough for the parallel path (more than 2^17 elements) and not a
  -- multiple of the reduction block
  local n = 2 ^ 20 + 12344
  local threads

  before_each(function() threads = gd.get_num_threads() end)
  after_each(function() gd.set_num_threads(threads) end)

  local function reductions(t)
    local r = {}
    for _, name in ipairs({"sum", "mean", "var", "std", "norm", "max", "min", "argmax", "prod"}) do
      r[name] = t[name](t)
    end
    r.norm3 = t:norm(3)
    r.rows = t:view(-1, 5):sum(2)
    r.cols = t:view(-1, 5):sum(1)
    return r
  end

  it("gives bit-identical results with 1 and 2 threads", function()
    gd.manual_seed(7)
    for _, dtype in ipairs({"float32", "float64"}) do
      local t = gd.randn(n, {dtype = dtype})
      gd.set_num_threads(1)
      local one = reductions(t)
      gd.set_num_threads(2)
      local two = reductions(t)
      for _, name in ipairs({"sum", "mean", "var", "std", "norm", "norm3", "max", "min", "argmax", "prod"}) do
        assert.are.equal(string.format("%.17g", one[name]), string.format("%.17g", two[name]), dtype .. " " .. name)
      end
      assert.is_true(one.rows:equal(two.rows))
      assert.is_true(one.cols:equal(two.cols))
    end
  end)

  it("sums accurately (double accumulation) against a compensated Lua sum", function()
    gd.manual_seed(8)
    local t = gd.rand(n)
    local v = t:totable()
    local s, comp = 0, 0
    for i = 1, #v do -- Kahan summation
      local y = v[i] - comp
      local u = s + y
      comp = (u - s) - y
      s = u
    end
    assert.is_true(math.abs(t:sum() - s) <= 1e-9 * s)
    local mx, arg = -math.huge, 0
    for i = 1, #v do if v[i] > mx then mx, arg = v[i], i end end
    assert.are.equal(mx, t:max())
    assert.are.equal(arg, t:argmax())
  end)
end)
