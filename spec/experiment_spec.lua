-- gd.experiment: d2l's published numbers through gd.optim, and the bookkeeping
-- (losses, trajectory, steps to tolerance) against gradient descent in closed form.
local gd = require "gd"
local quad = gd.objectives.quadratic

--- Plain gradient descent x -= lr * grad, as an optimizer constructor.
local function GD(params, hyper)
  local x = params[1]
  return {step = function(_, closure)
    local loss = closure()
    x:sub_(x.grad, hyper.lr)
    return loss
  end}
end

-- GD on 0.1*x1^2 + 2*x2^2 from (-5, -2): x1_k = -5*(1 - 0.2 lr)^k, x2_k = -2*(1 - 4 lr)^k
local function gd_closed_form(lr, k)
  local x1, x2 = -5 * (1 - 0.2 * lr) ^ k, -2 * (1 - 4 * lr) ^ k
  return x1, x2, 0.1 * x1 * x1 + 2 * x2 * x2
end

describe("gd.experiment.run", function()
  it("reproduces d2l's AdaGrad and RMSProp results (sections 12.7, 12.8)", function()
    local res = gd.experiment.run{objective = quad, steps = 20, print = false, runs = {
      {name = "RMSProp", optimizer = "RMSProp", hyper = {flavor = "d2l", lr = 0.4, gamma = 0.9}},
      {name = "AdaGrad", optimizer = "AdaGrad", hyper = {flavor = "d2l", lr = 0.4}},
      {name = "AdaGrad lr 2", optimizer = "AdaGrad", hyper = {flavor = "d2l", lr = 2}},
    }}
    -- d2l prints 'epoch 20, x1: -0.010599, x2: 0.000000' and so on
    local published = {{-0.010599, 0.000000}, {-2.382563, -0.158591}, {-0.002295, -0.000000}}
    for i, p in ipairs(published) do
      local x = res[i].x
      assert.are.equal(string.format("%.6f %.6f", p[1], p[2]), string.format("%.6f %.6f", x:get(1), x:get(2)))
    end
  end)

  describe("with gradient descent, whose iterates are known in closed form", function()
    local lr, steps = 0.4, 60
    local res = gd.experiment.run{objective = quad, steps = steps, tol = 1e-2, print = false,
      runs = {{name = "GD", optimizer = GD, hyper = {lr = lr}}}}
    local r = res[1]

    it("records f after 0..steps steps", function()
      assert.are.equal(steps + 1, #r.losses)
      for k = 0, steps do
        local _, _, f = gd_closed_form(lr, k)
        assert.is_true(math.abs(r.losses[k + 1] - f) < 1e-12 * math.max(1, f))
      end
      assert.are.equal(r.losses[steps + 1], r.f)
    end)

    it("keeps the trajectory of a 2-D problem, starting at x0", function()
      assert.are.equal(steps + 1, #r.trajectory)
      assert.are.same({-5, -2}, r.trajectory[1])
      for k = 0, steps do
        local x1, x2 = gd_closed_form(lr, k)
        assert.is_true(math.abs(r.trajectory[k + 1][1] - x1) < 1e-12)
        assert.is_true(math.abs(r.trajectory[k + 1][2] - x2) < 1e-12)
      end
      assert.are.equal(r.trajectory[steps + 1][1], r.x:get(1))
    end)

    it("counts the steps until f is within tol of the minimum", function()
      local first
      for k = 0, steps do
        local _, _, f = gd_closed_form(lr, k)
        if f <= 1e-2 then first = k; break end
      end
      assert.is_number(first)
      assert.are.equal(first, r.steps_to_tol)
    end)

    it("times each run", function()
      assert.is_true(r.time > 0 and r.time < 10)
    end)
  end)

  it("reports no step count when the tolerance is never reached", function()
    local res = gd.experiment.run{objective = quad, steps = 3, print = false,
      runs = {{optimizer = GD, hyper = {lr = 0.01}}}}
    assert.is_nil(res[1].steps_to_tol)
    assert.are.equal("run 1", res[1].name)
  end)

  it("runs on tensors of any size, keeping losses but no trajectory", function()
    local obj = gd.objectives.ill_conditioned(500, 10)
    local res = gd.experiment.run{objective = obj, steps = 50, print = false,
      runs = {{name = "GD", optimizer = GD, hyper = {lr = 0.1}}}}
    local r = res[1]
    assert.is_nil(r.trajectory)
    assert.are.equal(51, #r.losses)
    assert.are.equal(500, r.x:numel())
    -- coordinate i shrinks by (1 - 0.1 d_i) per step from 1
    local expected = 0
    for i = 1, 500 do expected = expected + 0.5 * obj.diag[i] * (1 - 0.1 * obj.diag[i]) ^ 100 end
    assert.is_true(math.abs(r.f - expected) <= 1e-9 * expected)
    assert.is_true(r.losses[51] < r.losses[1])
  end)

  it("takes x0, dtype and a saddle without a minimum", function()
    local res = gd.experiment.run{objective = gd.objectives.saddle, steps = 5, x0 = {1, 0.5}, dtype = "float32",
      print = false, runs = {{name = "GD", optimizer = GD, hyper = {lr = 0.1}}}}
    assert.are.equal("float32", res[1].x.dtype)
    -- x1 *= 0.8, x2 *= 1.2 per step
    assert.is_true(math.abs(res[1].x:get(1) - 0.8 ^ 5) < 1e-6)
    assert.is_true(math.abs(res[1].x:get(2) - 0.5 * 1.2 ^ 5) < 1e-6)
    assert.is_nil(res[1].steps_to_tol)
  end)

  it("names an unknown optimizer and suggests the nearest", function()
    local ok, err = pcall(gd.experiment.run, {objective = quad, print = false,
      runs = {{optimizer = "RMSprob", hyper = {lr = 0.1}}}})
    assert.is_false(ok)
    assert.is_truthy(err:find("unknown optimizer 'RMSprob' (did you mean 'RMSProp'?)", 1, true), err)
  end)

  it("rejects misspelt options and objectives without f and grad", function()
    assert.has_error(function() gd.experiment.run{objective = quad, runs = {{optimizer = GD}}, step = 3} end)
    assert.has_error(function() gd.experiment.run{objective = {}, runs = {{optimizer = GD}}} end,
      "gd.experiment.run: objective must be a table with f(x) and grad(x, out), or f alone: a function f(x) "
      .. "written with tensor operations (see gd.objectives)")
  end)
end)

describe("gd.experiment.format", function()
  local res = gd.experiment.run{objective = quad, steps = 20, print = false, runs = {
    {name = "GD", optimizer = GD, hyper = {lr = 0.2}, published = {-5 * 0.96 ^ 20, 0}},
    {name = "slow", optimizer = GD, hyper = {lr = 0.001}, published = {1, 2}},
    {name = "plain", optimizer = GD, hyper = {lr = 0.1}},
  }}
  local text = gd.experiment.format(res)
  local lines = {}
  for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end

  it("prints a title, a header, a rule and a row per run", function()
    assert.are.equal(6, #lines)
    assert.is_truthy(lines[1]:find("quadratic: f(x) = 0.1*x1^2 + 2*x2^2, 20 steps", 1, true))
    for _, col in ipairs({"run", "x1", "x2", "f(x)", "steps to tol 0.001", "time", "published x1", "agree"}) do
      assert.is_truthy(lines[2]:find(col, 1, true), col)
    end
    assert.is_truthy(lines[3]:find("^%-+  %-+"))
  end)

  it("shows the final x to 6 decimals beside the published values", function()
    local x1 = string.format("%.6f", -5 * 0.96 ^ 20)
    assert.is_truthy(lines[4]:find("^GD%s+" .. x1:gsub("%-", "%%-") .. "%s+%-?0%.000000"), lines[4])
    assert.is_truthy(lines[4]:find("yes$"))
    assert.is_truthy(lines[5]:find("NO$"))
    assert.is_truthy(lines[5]:find("%s1%.000000%s+2%.000000%s+NO$"))
    assert.is_truthy(lines[6]:find("^plain"))
  end)

  it("shows '-' for a tolerance never reached", function()
    -- 'slow' is the second row: its steps column holds '-'
    assert.is_truthy(lines[5]:find("%s%-%s"))
  end)

  it("aligns columns", function()
    local t = gd.experiment.table({"name", "value"}, {{"a", "1"}, {"long name", "12345"}})
    assert.are.equal("name       value\n---------  -----\na              1\nlong name  12345", t)
  end)
end)
