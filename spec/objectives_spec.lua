-- gd.objectives: values at hand-computed points, and every gradient against
-- central finite differences of f at points spread over the plotting window.
local gd = require "gd"
local O = gd.objectives

--- Central differences of obj.f at x (a Lua array), in float64.
local function numeric_grad(obj, x)
  local t = gd.tensor(x, {dtype = "float64"})
  local g = {}
  for i = 1, #x do
    local h = 1e-6 * math.max(1, math.abs(x[i]))
    t:set(i, x[i] + h)
    local fp = obj.f(t)
    t:set(i, x[i] - h)
    local fm = obj.f(t)
    t:set(i, x[i])
    g[i] = (fp - fm) / (2 * h)
  end
  return g
end

local function analytic_grad(obj, x, dtype)
  local t = gd.tensor(x, {dtype = dtype or "float64"})
  local out = gd.zeros_like(t)
  assert.are.equal(out, obj.grad(t, out))   -- returns out
  return out:totable()
end

local function assert_grad(obj, x)
  local num, ana = numeric_grad(obj, x), analytic_grad(obj, x)
  for i = 1, #x do
    local scale = math.max(1, math.abs(num[i]))
    assert.is_true(math.abs(num[i] - ana[i]) <= 1e-6 * scale,
      string.format("%s: d/dx%d at (%s) = %.10g, finite differences %.10g", obj.name, i,
        table.concat(x, ", "), ana[i], num[i]))
  end
end

-- points of a 5 x 5 lattice over the window, shifted off the grid lines
local function window_points(obj)
  local pts = {}
  local b = obj.bounds
  for i = 0, 4 do
    for j = 0, 4 do
      pts[#pts + 1] = {b[1][1] + (i + 0.37) / 5 * (b[1][2] - b[1][1]), b[2][1] + (j + 0.61) / 5 * (b[2][2] - b[2][1])}
    end
  end
  return pts
end

local function f_at(obj, x) return obj.f(gd.tensor(x, {dtype = "float64"})) end

describe("gd.objectives", function()
  for _, name in ipairs(O.names) do
    local obj = O[name]
    describe(name, function()
      it("has f, grad, x0, bounds and a docstring", function()
        assert.is_function(obj.f)
        assert.is_function(obj.grad)
        assert.are.equal(2, #obj.x0)
        assert.are.equal(2, #obj.bounds)
        assert.is_truthy(gd.doc.lookup(obj))
        assert.is_truthy(gd.doc.lookup(obj.f))
      end)

      it("has a gradient that matches finite differences", function()
        for _, x in ipairs(window_points(obj)) do assert_grad(obj, x) end
        assert_grad(obj, obj.x0)
      end)

      it("agrees with f_xy and grad_xy on plain numbers", function()
        local x = window_points(obj)[7]
        assert.are.equal(obj.f_xy(x[1], x[2]), f_at(obj, x))
        local g1, g2 = obj.grad_xy(x[1], x[2])
        assert.are.same({g1, g2}, analytic_grad(obj, x))
      end)

      it("has a zero gradient at its minimum (or saddle point)", function()
        local m = obj.minimum or obj.saddle_point
        local g = analytic_grad(obj, m)
        assert.is_true(math.abs(g[1]) < 1e-12 and math.abs(g[2]) < 1e-12)
      end)

      it("works on float32 tensors", function()
        local x = window_points(obj)[12]
        local g64, g32 = analytic_grad(obj, x), analytic_grad(obj, x, "float32")
        for i = 1, 2 do
          assert.is_true(math.abs(g64[i] - g32[i]) <= 1e-4 * math.max(1, math.abs(g64[i])))
        end
      end)
    end)
  end

  it("has the published minima, of value 0", function()
    local known = {quadratic = {0, 0}, rosenbrock = {1, 1}, beale = {3, 0.5}, himmelblau = {3, 2},
                   booth = {1, 3}, rastrigin = {0, 0}}
    for name, m in pairs(known) do
      assert.are.same(m, O[name].minimum)
      assert.are.equal(0, O[name].f_min)
      assert.are.equal(0, f_at(O[name], m))
    end
    for _, m in ipairs(O.himmelblau.minima) do
      assert.is_true(f_at(O.himmelblau, m) < 1e-20)
    end
  end)

  it("evaluates to hand-computed values", function()
    -- d2l: f(-5, -2) = 0.1*25 + 2*4
    assert.are.equal(10.5, f_at(O.quadratic, O.quadratic.x0))
    assert.are.same({-5, -2}, O.quadratic.x0)
    assert.are.same({-1, -4}, analytic_grad(O.quadratic, {-5, -1}))
    -- (1 - 0)^2 + 100*(1 - 0)^2
    assert.are.equal(101, f_at(O.rosenbrock, {0, 1}))
    -- Beale at 0: 1.5^2 + 2.25^2 + 2.625^2
    assert.are.equal(1.5 ^ 2 + 2.25 ^ 2 + 2.625 ^ 2, f_at(O.beale, {0, 0}))
    assert.are.equal(121 + 49, f_at(O.himmelblau, {0, 0}))
    assert.are.equal(49 + 25, f_at(O.booth, {0, 0}))
    -- Rastrigin at integers: 20 + x^2 + y^2 - 20
    assert.is_true(math.abs(f_at(O.rastrigin, {1, 2}) - 5) < 1e-12)
    assert.are.equal(-3, f_at(O.saddle, {1, 2}))
    assert.is_nil(O.saddle.minimum)
    assert.is_nil(O.saddle.f_min)
  end)

  it("rejects a tensor of the wrong size", function()
    assert.has_error(function() O.rosenbrock.f(gd.zeros(3)) end,
      "gd.objectives.rosenbrock: x has 3 elements; this objective takes 2")
  end)
end)

describe("gd.objectives.ill_conditioned", function()
  it("is the diagonal quadratic with condition number kappa", function()
    local obj = O.ill_conditioned(3, 100)
    assert.are.same({1, 10, 100}, obj.diag)
    -- 0.5 * (1 + 10 + 100) at x0 = ones
    assert.are.equal(55.5, f_at(obj, obj.x0))
    assert.are.same({0, 0, 0}, obj.minimum)
    assert_grad(obj, {0.3, -1.2, 2.5})
  end)

  it("works for large n and float32, on whole tensors", function()
    local n = 10000
    local obj = O.ill_conditioned(n, 1e4)
    local x = gd.ones(n)
    local expected = 0
    for i = 1, n do expected = expected + 0.5 * obj.diag[i] end
    assert.is_true(math.abs(obj.f(x) - expected) <= 1e-5 * expected)
    local g = obj.grad(x, gd.zeros(n))
    assert.is_true(math.abs(g:get(n) - 1e4) < 1e-2)
    assert.is_true(math.abs(g:get(1) - 1) < 1e-6)
  end)

  it("has a 2-D window and plain-number form for n = 2", function()
    local obj = O.ill_conditioned(2, 50)
    assert.are.equal(0.5 * (1 * 4 + 50 * 9), obj.f_xy(2, 3))
    assert.is_table(obj.bounds)
  end)
end)

describe("gd.objectives.least_squares", function()
  gd.manual_seed(7)
  local n = 200
  local X = gd.randn(n, 2, {dtype = "float64"})
  local w, b = {2, -3.4}, 4.2
  local y = gd.zeros(n, {dtype = "float64"})
  for i = 1, n do y:set(i, X:get(i, 1) * w[1] + X:get(i, 2) * w[2] + b) end
  local obj = O.least_squares(X, y)

  it("finds the generating weights as its minimum (noise-free data)", function()
    assert.are.equal(3, #obj.minimum)
    assert.is_true(math.abs(obj.minimum[1] - 2) < 1e-10)
    assert.is_true(math.abs(obj.minimum[2] + 3.4) < 1e-10)
    assert.is_true(math.abs(obj.minimum[3] - 4.2) < 1e-10)
    assert.is_true(obj.f_min < 1e-20)
  end)

  it("is d2l's squared loss, averaged", function()
    -- at p = 0 the residual is -y: 0.5 * mean(y^2)
    local s = 0
    for i = 1, n do s = s + y:get(i) ^ 2 end
    assert.is_true(math.abs(f_at(obj, {0, 0, 0}) - 0.5 * s / n) < 1e-10)
  end)

  it("has a gradient that matches finite differences", function()
    assert_grad(obj, {0.5, -1, 2})
    assert_grad(obj, {2, -3.4, 4.2})
  end)
end)

describe("gd.objectives.from_xy", function()
  it("differentiates numerically when no gradient is given", function()
    local obj = O.from_xy{name = "cubic", f = function(a, b) return a ^ 3 + a * b end, x0 = {1, 1},
      bounds = {{-2, 2}, {-2, 2}}}
    -- d/da = 3a^2 + b, d/db = a
    local g = analytic_grad(obj, {1.5, -0.5})
    assert.is_true(math.abs(g[1] - (3 * 2.25 - 0.5)) < 1e-6)
    assert.is_true(math.abs(g[2] - 1.5) < 1e-6)
    assert.is_nil(obj.f_min)
  end)

  it("computes f_min from the minimum", function()
    local obj = O.from_xy{f = function(a, b) return (a - 1) ^ 2 + b * b + 3 end, x0 = {0, 0}, minimum = {1, 0},
      bounds = {{-2, 2}, {-2, 2}}}
    assert.are.equal(3, obj.f_min)
  end)

  it("names a misspelt field", function()
    assert.has_error(function()
      O.from_xy{f = function() return 0 end, x0 = {0, 0}, bounds = {{0, 1}, {0, 1}}, minimun = {0, 0}}
    end, "gd.objectives.from_xy: unknown option 'minimun' (did you mean 'minimum'?); valid options: " ..
      "bounds, f, f_min, formula, grad, levels, minima, minimum, name, x0")
  end)
end)
