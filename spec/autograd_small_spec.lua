-- The one-pass backward of small element-wise float64 records
-- (src/autograd_small.c, issue 12's speed goal for the d2l quadratic): each
-- formula it has gives the same bits as the composed backward
-- (gd.autograd.set_small_path(false) sends every record there; that path is
-- checked against PyTorch and central differences in autograd_spec.lua), it
-- runs for exactly the records it should (small_records() counts them) and
-- for no other, and what it writes (a leaf's .grad in place, a reused buffer
-- for a gradient that goes on) keeps autograd's rules: accumulation,
-- versions, results that gd.grad hands out.
local gd = require "gd"
local A = require "gd.aux"

local F64 = {dtype = "float64"}

--- A leaf that requires grad (float64 unless opts says otherwise).
local function leaf(values, opts)
  return gd.tensor(values, opts or F64):requires_grad_()
end

local function flat(t)
  local v = t:contiguous():view(-1)
  local out = {}
  for i = 1, v:numel() do out[i] = v:get(i) end
  return out
end

--- Every element equal, bit for bit (NaN equal to NaN).
local function same_bits(a, b, what)
  assert.are.equal(#a, #b, what)
  for i = 1, #a do
    local x, y = a[i], b[i]
    if not (x == y or (x ~= x and y ~= y)) or (x == 0 and 1 / x ~= 1 / y) then
      error(string.format("%s: element %d is %.17g with the one-pass backward, %.17g composed", what, i, x, y), 2)
    end
  end
end

--- The inputs' gradients of loss(inputs...), with the path on or off, and how
-- many records the one-pass backward ran.
local function grads_of(make_inputs, loss, small)
  gd.autograd.set_small_path(small)
  local ok, res, n = pcall(function()
    local inputs = make_inputs()
    local before = gd.autograd.small_records()
    loss(table.unpack(inputs)):backward()
    local n = gd.autograd.small_records() - before
    local out = {}
    for i, t in ipairs(inputs) do out[i] = t.grad and flat(t.grad) or false end
    return out, n
  end)
  gd.autograd.set_small_path(true)
  if not ok then error(res, 0) end
  return res, n
end

-- The weights make the gradient reaching each formula differ element by
-- element, so a formula that reads the wrong element, or uses the upstream
-- gradient of element 1 everywhere, is caught.
local W = {0.7, -1.3, 2.1, 0.45, -0.9, 1.7}

local P = {0.3, 1.7, 2.9, 0.55}          -- positive: log, sqrt, fractional powers
local S = {-1.25, 0.8, 2.2, -0.35}       -- both signs
local Q = {1.9, -0.6, 0.45, 3.1}

--- The cases in dtype D (an options table): name, inputs, loss, and how many
-- records the path runs (the product with the weights and the final sum are
-- two of them).
local function cases_for(D)
  local OTHER = {dtype = D.dtype == "float64" and "float32" or "float64"}
  local function T(v) return gd.tensor(v, D) end
  local function wsum(y)
    return (y * T({table.unpack(W, 1, y:numel())}):reshape(y.shape)):sum()
  end
  return {
    {"a + b", {S, Q}, function(a, b) return wsum(a + b) end, 3},
    {"a - b", {S, Q}, function(a, b) return wsum(a - b) end, 3},
    {"a * b", {S, Q}, function(a, b) return wsum(a * b) end, 3},
    {"a / b", {S, Q}, function(a, b) return wsum(a / b) end, 3},
    {"x * x (one tensor, both sides)", {S}, function(a) return wsum(a * a) end, 3},
    {"a * c, c without grad", {S}, function(a) return wsum(a * T(Q)) end, 3},
    {"a + 2.5", {S}, function(a) return wsum(a + 2.5) end, 3},
    {"2.5 - a", {S}, function(a) return wsum(2.5 - a) end, 3},
    {"a - 2.5", {S}, function(a) return wsum(a - 2.5) end, 3},
    {"a * 1.3", {S}, function(a) return wsum(a * 1.3) end, 3},
    {"1.3 / a", {S}, function(a) return wsum(1.3 / a) end, 3},
    {"a / 1.3", {S}, function(a) return wsum(a / 1.3) end, 3},
    {"-a", {S}, function(a) return wsum(-a) end, 3},
    {"a:square()", {S}, function(a) return wsum(a:square()) end, 3},
    {"a ^ 2", {S}, function(a) return wsum(a ^ 2) end, 3},
    {"a ^ 3 (pow(a, 2) inside: x*x)", {S}, function(a) return wsum(a ^ 3) end, 3},
    {"a ^ 0.7", {P}, function(a) return wsum(a ^ 0.7) end, 3},
    {"a ^ 0", {S}, function(a) return wsum(a ^ 0) end, 3},
    {"exp", {S}, function(a) return wsum(a:exp()) end, 3},
    {"log", {P}, function(a) return wsum(a:log()) end, 3},
    {"sqrt", {P}, function(a) return wsum(a:sqrt()) end, 3},
    {"tanh", {S}, function(a) return wsum(a:tanh()) end, 3},
    {"sigmoid", {S}, function(a) return wsum(a:sigmoid()) end, 3},
    {"sin", {S}, function(a) return wsum(a:sin()) end, 3},
    {"cos", {S}, function(a) return wsum(a:cos()) end, 3},
    {"mean", {S}, function(a) return (a * 3.7):mean() end, 2},
    {"the d2l quadratic", {{-5, -2}}, function(x) return (T({0.1, 2}) * x ^ 2):sum() end, 3},
    {"Rosenbrock", {{-1.2}, {1.0}}, function(a, b) return ((1 - a) ^ 2 + 100 * (b - a ^ 2) ^ 2):sum() end, 8},
    -- records it must leave to the composed backward (the final sum of a
    -- contiguous tensor of one dtype is still its own)
    {"broadcast (3) * (2, 3)", {{0.3, -1.1, 2.0}, {S[1], S[2], S[3], Q[1], Q[2], Q[3]}},
     function(a, b) return (a * b:reshape{2, 3}):sum() end, 1},
    {"a transposed view", {{0.3, -1.1, 2.0, 1.5, -0.2, 0.9}},
     function(a) return (a:reshape{2, 3}:t() * T({1, 2, 3, 4, 5, 6}):reshape{3, 2}):sum() end, 1},
    {"an operand of the other float dtype: promoted, then converted back", {S},
     function(a) return (a * gd.tensor(Q, OTHER)):sum() end, 1},
  }
end

describe("the one-pass backward of small element-wise records", function()
  after_each(function() gd.autograd.set_small_path(true) end)

  it("is on by default", function()
    assert.is_true(gd.autograd.small_path())
  end)

  for _, D in ipairs {{dtype = "float64"}, {dtype = "float32"}} do
    for _, case in ipairs(cases_for(D)) do
      local name, values, loss, expect = case[1], case[2], case[3], case[4]
      name = D.dtype .. " " .. name
      -- catches: a formula whose operations differ from the composed one (other
      -- order, another rounding, a number not rounded to float32 first), a
      -- wrong formula, a wrong element, a record taken that should not be
      -- (broadcasting, views, mixed dtypes) or one left out
      it(name .. ": the same bits as the composed backward, for exactly " .. expect .. " records", function()
        local function make() local t = {}; for i, v in ipairs(values) do t[i] = leaf(v, D) end; return t end
        local fast, n_fast = grads_of(make, loss, true)
        local slow, n_slow = grads_of(make, loss, false)
        assert.are.equal(expect, n_fast)
        assert.are.equal(0, n_slow)
        for i = 1, #values do
          assert.is_truthy(fast[i], "input " .. i .. " got no gradient")
          same_bits(fast[i], slow[i], name .. ", input " .. i)
        end
      end)
    end
  end

  it("matches a hand computation: d/dx sum(c x^2) = 2 c x (catches both paths wrong alike)", function()
    local x = leaf({-5, -2})
    local c = gd.tensor({0.1, 2}, F64)
    ;(c * x ^ 2):sum():backward()
    same_bits(flat(x.grad), {2 * 0.1 * -5, 2 * 2 * -2}, "x.grad")
  end)

  it("takes tensors up to 256 elements and leaves larger ones to the kernels", function()
    for _, n in ipairs {256, 257} do
      local v = {}
      for i = 1, n do v[i] = math.sin(i) end
      local x = leaf(v)
      local before = gd.autograd.small_records()
      ;(x * x):sum():backward()
      -- catches: the size limit not applied (large tensors lose the threaded kernels)
      assert.are.equal(n <= 256 and 2 or 0, gd.autograd.small_records() - before)
      same_bits(flat(x.grad), flat(gd.tensor(v, F64) * 2), "n = " .. n)
    end
  end)

  it("accumulates into an existing .grad across backward calls, in place", function()
    local x = leaf({0.5, -1.5})
    local c = gd.tensor({0.1, 2}, F64)
    ;(c * x ^ 2):sum():backward()
    local g = x.grad
    local v0 = A.C.gd_tensor_version(g.c)
    ;(c * x ^ 2):sum():backward()
    -- catches: the second backward overwriting instead of adding, or writing a
    -- new tensor instead of the existing .grad (an optimizer holding it would
    -- miss the update), or an in-place write that leaves the version alone
    assert.are.equal(g.c, x.grad.c)
    same_bits(flat(x.grad), {2 * (2 * 0.1 * 0.5), 2 * (2 * 2 * -1.5)}, "accumulated")
    assert.is_true(A.C.gd_tensor_version(g.c) > v0)
  end)

  it("reads an input that is the .grad it writes before writing it", function()
    for _, small in ipairs {true, false} do
      gd.autograd.set_small_path(small)
      local x = leaf({0.5, -1.5})
      ;(x * x):sum():backward()          -- x.grad = 2x = {1, -3}
      ;(x * x.grad):sum():backward()     -- adds x.grad as it was: {2, -6}
      -- catches: adding into .grad while the loop still reads it
      same_bits(flat(x.grad), {2, -6}, small and "one pass" or "composed")
    end
  end)

  it("keeps the in-place check on a .grad that a record saved", function()
    local msgs = {}
    for _, small in ipairs {true, false} do
      gd.autograd.set_small_path(small)
      local x = leaf({0.5, -1.5})
      ;(x * x):sum():backward()
      local w = leaf({2, 3})
      local y = (w * x.grad):sum()       -- saves x.grad (mul reads it)
      ;(x * x):sum():backward()          -- writes x.grad in place
      local ok, err = pcall(function() y:backward() end)
      assert.is_false(ok)
      msgs[#msgs + 1] = tostring(err):match("backward: .*")
    end
    -- catches: the direct write not bumping the version (a stale gradient)
    assert.truthy(msgs[1]:find("modified by an in-place operation", 1, true))
    assert.are.equal(msgs[2], msgs[1])
  end)

  it("never reuses a gradient gd.grad handed out", function()
    local df = gd.grad(function(x) return (gd.tensor({0.1, 2}, F64) * x ^ 2):sum() end)
    local g1 = df(leaf({-5, -2}))
    local keep = flat(g1)
    for _ = 1, 50 do df(leaf({3, 7})) end
    -- catches: a reused buffer handed out while a user still holds it
    same_bits(flat(g1), keep, "the first gradient")
    same_bits(flat(df(leaf({3, 7}))), {2 * 0.1 * 3, 2 * 2 * 7}, "a later gradient")
  end)

  it("leaves a graph it walked with retain_graph walkable again, with the same gradient", function()
    local x = leaf({0.3, -0.8})
    local y = (x:tanh() * x * gd.tensor({0.7, -1.3}, F64)):sum()
    y:backward(nil, true)
    local first = flat(x.grad)
    x.grad = nil
    y:backward()
    same_bits(flat(x.grad), first, "second walk")
  end)

  it("refuses a bad argument to set_small_path", function()
    local ok, err = pcall(gd.autograd.set_small_path, 1)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("gd.autograd.set_small_path: on (argument 1) must be true or false", 1, true))
    assert.is_true(gd.autograd.small_path())
  end)
end)
