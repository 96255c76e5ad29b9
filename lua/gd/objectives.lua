--- gd.objectives: test functions for comparing optimizers.
--
-- Every objective is a table with
--   f(x)          -> the value at x (a gd tensor) as a Lua number
--   grad(x, out)  -> writes the gradient at x into `out` (a tensor shaped like x), returns out
--   x0            -> the usual starting point (a Lua array)
--   minimum       -> the minimiser (a Lua array; nil when f is unbounded below)
--   f_min         -> f(minimum) (nil when there is none)
--   bounds        -> the plotting window {{x1_lo, x1_hi}, {x2_lo, x2_hi}} (2-D ones)
--   name, formula -> for tables and plot titles
--   levels        -> "linear", "sqrt" or "log": how contour levels are best spaced
--                    (see gd.plot.contour)
--   coordinates   -> (optional) names of x's elements for tables ({"w1", "w2", "b"})
-- and, for the 2-D ones, f_xy(x1, x2) -> number and grad_xy(x1, x2) -> g1, g2 on plain
-- numbers (used for contour grids, and handy at the REPL).
--
-- The 2-D functions follow the usual optimisation test-function definitions
-- (Jamil & Yang, "A literature survey of benchmark functions for global
-- optimization problems", 2013); `quadratic` is d2l's f(x) = 0.1*x1^2 + 2*x2^2
-- (Dive into Deep Learning, sections 12.7 and 12.8).
local gd = require "gd.tensor"
local doc = require "gd.doc"
local check = require "gd.check"

local M = {}
local pi, cos, sin, sqrt = math.pi, math.cos, math.sin, math.sqrt

local function check_size(name, x, n)
  if not gd.is_tensor(x) then
    error(string.format("gd.objectives.%s: x must be a tensor, got %s", name, type(x)), 3)
  end
  if x:numel() ~= n then
    error(string.format("gd.objectives.%s: x has %d elements; this objective takes %d",
      name, x:numel(), n), 3)
  end
end

--- Builds a 2-D objective from plain-number functions value(x1, x2) and
-- gradient(x1, x2) -> g1, g2.  Without a gradient, central differences stand in.
local function from_xy(spec)
  local fname = "gd.objectives.from_xy"
  check.options(fname, spec, {name = true, formula = true, f = true, grad = true, x0 = true,
    minimum = true, f_min = true, bounds = true, levels = true, minima = true})
  if type(spec.f) ~= "function" then error(fname .. ": f must be a function f(x1, x2) -> number", 2) end
  if type(spec.x0) ~= "table" or #spec.x0 ~= 2 then error(fname .. ": x0 must be {x1, x2}", 2) end
  if type(spec.bounds) ~= "table" or #spec.bounds ~= 2 then
    error(fname .. ": bounds must be {{x1_lo, x1_hi}, {x2_lo, x2_hi}}", 2)
  end
  local name = spec.name or "objective"
  local value = spec.f
  local gradient = spec.grad
  if gradient == nil then
    gradient = function(a, b)
      local h1, h2 = 1e-6 * math.max(1, math.abs(a)), 1e-6 * math.max(1, math.abs(b))
      return (value(a + h1, b) - value(a - h1, b)) / (2 * h1), (value(a, b + h2) - value(a, b - h2)) / (2 * h2)
    end
  end
  local obj = {
    name = name, formula = spec.formula or name, dim = 2,
    x0 = spec.x0, minimum = spec.minimum, minima = spec.minima, bounds = spec.bounds,
    levels = spec.levels or "linear", f_xy = value, grad_xy = gradient,
  }
  obj.f_min = spec.f_min
  if obj.f_min == nil and obj.minimum then obj.f_min = value(obj.minimum[1], obj.minimum[2]) end
  obj.f = function(x)
    check_size(name, x, 2)
    return value(x:get(1), x:get(2))
  end
  obj.grad = function(x, out)
    check_size(name, x, 2)
    local g1, g2 = gradient(x:get(1), x:get(2))
    out:set(1, g1)
    out:set(2, g2)
    return out
  end
  return obj
end
M.from_xy = doc(from_xy, "gd.objectives.from_xy", [[
gd.objectives.from_xy{f = function(x1, x2) ... end, [grad = function(x1, x2) return g1, g2 end],
  x0 = {x1, x2}, bounds = {{lo, hi}, {lo, hi}}, [minimum = {x1, x2}], [f_min], [name],
  [formula], [levels = "linear" | "sqrt" | "log"]} -> an objective like gd.objectives.rosenbrock.
Without grad, central differences are used.  Example:
  local bowl = gd.objectives.from_xy{name = "bowl", f = function(a, b) return a*a + 3*b*b end,
    grad = function(a, b) return 2*a, 6*b end, x0 = {2, 1}, minimum = {0, 0},
    bounds = {{-3, 3}, {-2, 2}}}]])

local function document(obj, key, text)
  local full = "gd.objectives." .. key
  doc(obj, full, text)
  doc(obj.f, full .. ".f", full .. ".f(x) -> " .. obj.formula .. " at x (a tensor), a number.")
  doc(obj.grad, full .. ".grad", full .. ".grad(x, out) -> out, holding the gradient of f at x.")
  return obj
end

M.quadratic = document(from_xy{
  name = "quadratic", formula = "0.1*x1^2 + 2*x2^2",
  f = function(a, b) return 0.1 * a * a + 2 * b * b end,
  grad = function(a, b) return 0.2 * a, 4 * b end,
  x0 = {-5, -2}, minimum = {0, 0}, bounds = {{-5.5, 1}, {-3, 1}}, levels = "sqrt",
}, "quadratic", [[
gd.objectives.quadratic: d2l's f(x) = 0.1*x1^2 + 2*x2^2 (sections 12.7, 12.8), from
x0 = {-5, -2}; the plotting window is d2l's show_trace_2d window.  Curvatures 0.2 and 4:
a learning rate that suits x2 crawls along x1.]])

M.rosenbrock = document(from_xy{
  name = "rosenbrock", formula = "(1 - x1)^2 + 100*(x2 - x1^2)^2",
  f = function(a, b) local u, v = 1 - a, b - a * a; return u * u + 100 * v * v end,
  grad = function(a, b) local v = b - a * a; return -2 * (1 - a) - 400 * a * v, 200 * v end,
  x0 = {-1.5, 2}, minimum = {1, 1}, bounds = {{-2, 2}, {-1, 3}}, levels = "log",
}, "rosenbrock", [[
gd.objectives.rosenbrock: (1 - x1)^2 + 100*(x2 - x1^2)^2, minimum 0 at (1, 1) at the
end of a long curved valley; x0 = {-1.5, 2}.]])

M.beale = document(from_xy{
  name = "beale", formula = "(1.5 - x1 + x1*x2)^2 + (2.25 - x1 + x1*x2^2)^2 + (2.625 - x1 + x1*x2^3)^2",
  f = function(a, b)
    local t1, t2, t3 = 1.5 - a + a * b, 2.25 - a + a * b * b, 2.625 - a + a * b * b * b
    return t1 * t1 + t2 * t2 + t3 * t3
  end,
  grad = function(a, b)
    local b2, b3 = b * b, b * b * b
    local t1, t2, t3 = 1.5 - a + a * b, 2.25 - a + a * b2, 2.625 - a + a * b3
    return 2 * (t1 * (b - 1) + t2 * (b2 - 1) + t3 * (b3 - 1)),
           2 * (t1 * a + t2 * 2 * a * b + t3 * 3 * a * b2)
  end,
  x0 = {1, 1.5}, minimum = {3, 0.5}, bounds = {{-4.5, 4.5}, {-4.5, 4.5}}, levels = "log",
}, "beale", [[
gd.objectives.beale: Beale's function, minimum 0 at (3, 0.5), flat plateaus and steep
walls; x0 = {1, 1.5}.]])

M.himmelblau = document(from_xy{
  name = "himmelblau", formula = "(x1^2 + x2 - 11)^2 + (x1 + x2^2 - 7)^2",
  f = function(a, b) local u, v = a * a + b - 11, a + b * b - 7; return u * u + v * v end,
  grad = function(a, b)
    local u, v = a * a + b - 11, a + b * b - 7
    return 4 * a * u + 2 * v, 2 * u + 4 * b * v
  end,
  x0 = {0, 0}, minimum = {3, 2}, bounds = {{-5, 5}, {-5, 5}}, levels = "log",
  minima = {{3, 2}, {-2.805118086952745, 3.131312518250573}, {-3.779310253377747, -3.283185991286170},
            {3.584428340330492, -1.848126526964404}},
}, "himmelblau", [[
gd.objectives.himmelblau: (x1^2 + x2 - 11)^2 + (x1 + x2^2 - 7)^2, four minima of value 0
(`minima`); `minimum` is (3, 2), the one reached from x0 = {0, 0}.]])

M.booth = document(from_xy{
  name = "booth", formula = "(x1 + 2*x2 - 7)^2 + (2*x1 + x2 - 5)^2",
  f = function(a, b) local u, v = a + 2 * b - 7, 2 * a + b - 5; return u * u + v * v end,
  grad = function(a, b)
    local u, v = a + 2 * b - 7, 2 * a + b - 5
    return 2 * u + 4 * v, 4 * u + 2 * v
  end,
  x0 = {-5, -5}, minimum = {1, 3}, bounds = {{-10, 10}, {-10, 10}}, levels = "sqrt",
}, "booth", [[
gd.objectives.booth: (x1 + 2*x2 - 7)^2 + (2*x1 + x2 - 5)^2, a tilted quadratic bowl with
minimum 0 at (1, 3); x0 = {-5, -5}.]])

M.rastrigin = document(from_xy{
  name = "rastrigin", formula = "20 + sum_i (xi^2 - 10*cos(2*pi*xi))",
  f = function(a, b)
    return 20 + a * a - 10 * cos(2 * pi * a) + b * b - 10 * cos(2 * pi * b)
  end,
  grad = function(a, b)
    return 2 * a + 20 * pi * sin(2 * pi * a), 2 * b + 20 * pi * sin(2 * pi * b)
  end,
  x0 = {2.2, -1.7}, minimum = {0, 0}, bounds = {{-5.12, 5.12}, {-5.12, 5.12}},
}, "rastrigin", [[
gd.objectives.rastrigin: 20 + sum_i (xi^2 - 10*cos(2*pi*xi)) in 2-D: a bowl covered in
local minima one unit apart; global minimum 0 at (0, 0); x0 = {2.2, -1.7}.]])

M.saddle = document(from_xy{
  name = "saddle", formula = "x1^2 - x2^2",
  f = function(a, b) return a * a - b * b end,
  grad = function(a, b) return 2 * a, -2 * b end,
  x0 = {-1.5, 0.01}, bounds = {{-2, 2}, {-2, 2}},
}, "saddle", [[
gd.objectives.saddle: x1^2 - x2^2, a saddle point at (0, 0) and no minimum (minimum and
f_min are nil).  From x0 = {-1.5, 0.01}, gradient descent approaches the saddle and only
slowly escapes along x2.]])
M.saddle.saddle_point = {0, 0}

--- ill_conditioned(n, kappa): f = 0.5 * sum_i d_i * x_i^2 with d_i spaced
-- geometrically from 1 to kappa, so the Hessian's condition number is kappa.
-- Written with whole-tensor operations, so n may be large (and x on a GPU).
local function ill_conditioned(n, kappa)
  local fname = "gd.objectives.ill_conditioned"
  n = check.number(fname, "n", n, {default = 2, integer = true, min = 1})
  kappa = check.number(fname, "kappa", kappa, {default = 100, min = 1})
  local diag = {}
  for i = 1, n do diag[i] = n == 1 and 1 or kappa ^ ((i - 1) / (n - 1)) end
  -- the diagonal as a tensor, once per dtype/device that x comes in
  local cache = {}
  local function diag_like(x)
    local key = x.dtype .. "/" .. x.device
    local d = cache[key]
    if d == nil then
      d = gd.tensor(diag, {dtype = x.dtype, device = x.device})
      cache[key] = d
    end
    return d
  end
  local name = string.format("ill_conditioned(%d, %g)", n, kappa)
  local obj = {
    name = name, formula = string.format("0.5*sum_i d_i*x_i^2, d from 1 to %g (n = %d)", kappa, n),
    dim = n, diag = diag, levels = "sqrt", f_min = 0,
  }
  local x0, minimum = {}, {}
  for i = 1, n do x0[i], minimum[i] = 1, 0 end
  obj.x0, obj.minimum = x0, minimum
  obj.f = function(x)
    check_size(name, x, n)
    local t = x * x
    t:mul_(diag_like(x))
    local v = 0.5 * t:sum()
    t:free()
    return v
  end
  obj.grad = function(x, out)
    check_size(name, x, n)
    return out:copy_(x):mul_(diag_like(x))
  end
  if n == 2 then
    local d1, d2 = diag[1], diag[2]
    obj.f_xy = function(a, b) return 0.5 * (d1 * a * a + d2 * b * b) end
    obj.grad_xy = function(a, b) return d1 * a, d2 * b end
    obj.bounds = {{-1.5, 1.5}, {-1.5, 1.5}}
  end
  return document(obj, "ill_conditioned(" .. n .. ", " .. kappa .. ")", "gd.objectives." .. name ..
    ": " .. obj.formula .. ".")
end
M.ill_conditioned = doc(ill_conditioned, "gd.objectives.ill_conditioned", [[
gd.objectives.ill_conditioned([n = 2], [kappa = 100]) -> the diagonal quadratic
f(x) = 0.5 * sum_i d_i * x_i^2, d_i = kappa^((i-1)/(n-1)) (from 1 to kappa), so the
condition number is kappa.  x0 = all ones, minimum 0 at the origin.  Any n: f and grad
are whole-tensor operations (x may be float32/float64, CPU or GPU).]])

--- Solves the small dense system A p = b (Lua arrays) by Gaussian elimination
-- with partial pivoting; returns p, or nil when A is singular.
local function solve(A, b)
  local n = #b
  local m = {}
  for i = 1, n do
    m[i] = {}
    for j = 1, n do m[i][j] = A[i][j] end
    m[i][n + 1] = b[i]
  end
  for col = 1, n do
    local piv = col
    for r = col + 1, n do if math.abs(m[r][col]) > math.abs(m[piv][col]) then piv = r end end
    if m[piv][col] == 0 then return nil end
    m[col], m[piv] = m[piv], m[col]
    for r = col + 1, n do
      local factor = m[r][col] / m[col][col]
      for c = col, n + 1 do m[r][c] = m[r][c] - factor * m[col][c] end
    end
  end
  local p = {}
  for i = n, 1, -1 do
    local s = m[i][n + 1]
    for j = i + 1, n do s = s - m[i][j] * p[j] end
    p[i] = s / m[i][i]
  end
  return p
end

--- least_squares(X, y): linear regression as an objective over p = {w..., b}.
local function least_squares(X, y, opts)
  local fname = "gd.objectives.least_squares"
  opts = check.options(fname, opts, {name = true})
  if not gd.is_tensor(X) or X:dim() ~= 2 then error(fname .. ": X must be a 2-D tensor (examples x features)", 2) end
  if not gd.is_tensor(y) then error(fname .. ": y must be a tensor", 2) end
  local n, d = X:size(1), X:size(2)
  if y:numel() ~= n then
    error(string.format("%s: X has %d rows but y has %d elements", fname, n, y:numel()), 2)
  end
  local dtype = X.dtype
  local Xa = gd.cat({X, gd.ones(n, 1, {dtype = dtype, device = X.device})}, 2)  -- [X, 1]: p = {w..., b}
  local Xt = Xa:t():contiguous()
  local target = y:reshape(n):to(X)
  local name = opts.name or "least_squares"
  local obj = {
    name = name, dim = d + 1, levels = "log", coordinates = {},
    formula = string.format("0.5*mean((X*w + b - y)^2), %d examples, %d features", n, d),
  }
  for i = 1, d do obj.coordinates[i] = "w" .. i end
  obj.coordinates[d + 1] = "b"
  local function residual(p)
    check_size(name, p, d + 1)
    local r = Xa:matmul(p:to(Xa))
    r:sub_(target)
    return r
  end
  obj.f = function(p)
    local r = residual(p)
    local v = 0.5 * (r * r):mean()
    r:free()
    return v
  end
  obj.grad = function(p, out)
    local r = residual(p)
    local g = Xt:matmul(r)
    g:div_(n)
    out:copy_(g)
    r:free()
    g:free()
    return out
  end
  obj.x0 = {}
  for i = 1, d + 1 do obj.x0[i] = 0 end
  -- the minimiser from the normal equations (Xa' Xa) p = Xa' y, in float64
  local XtX = Xt:matmul(Xa):to("float64"):totable()
  local Xty = Xt:matmul(target):to("float64"):totable()
  obj.minimum = solve(XtX, Xty)
  if obj.minimum then
    obj.f_min = obj.f(gd.tensor(obj.minimum, {dtype = dtype, device = X.device}))
  end
  return obj
end
M.least_squares = doc(least_squares, "gd.objectives.least_squares", [[
gd.objectives.least_squares(X, y, [{name = s}]) -> linear regression as an objective over
p = {w1, ..., wd, b}: f(p) = 0.5 * mean((X*w + b - y)^2) (d2l's squared loss), full batch.
X is n x d, y has n elements.  x0 = zeros; minimum and f_min come from the normal
equations, so loss curves can show f - f_min; coordinates = {"w1", ..., "b"}.
  local X, y = gd.data.synthetic_regression{w = {2, -3.4}, b = 4.2, n = 1000, noise = 0.01}
  local lr = gd.objectives.least_squares(X, y)]])

--- An objective from f alone, written with tensor operations: the gradient
-- comes from autograd (f's tape), so nothing is derived by hand.
local FROM_FUNCTION_OPTS = {x0 = true, name = true, formula = true, minimum = true, f_min = true}
local function from_function(f, opts)
  local fname = "gd.objectives.from_function"
  if type(f) ~= "function" then error(fname .. ": f must be a function f(x) -> a one-element tensor", 2) end
  opts = check.options(fname, opts, FROM_FUNCTION_OPTS)
  local df = gd.grad(f)
  return {
    name = opts.name or "objective", formula = opts.formula or "(a Lua function)", x0 = opts.x0,
    minimum = opts.minimum, f_min = opts.f_min,
    f = function(x)
      local v = gd.no_grad(f, x)
      if gd.is_tensor(v) then return v:item() end
      return v
    end,
    grad = function(x, out)
      local g = df(x)
      out:copy_(g)
      return out
    end,
  }
end
M.from_function = doc(from_function, "gd.objectives.from_function", [[
gd.objectives.from_function(f, [{x0 =, name =, formula =, minimum =, f_min =}])
-> an objective (f, grad, x0 ...) from f(x) alone, written with tensor
operations: grad(x, out) is autograd's gradient of f, nothing derived by hand.
  local obj = gd.objectives.from_function(function(x)
    return x:exp():log1p():sum() + x:matmul(A):matmul(x)
  end, {x0 = {1, -1}})
gd.experiment.run{objective = function(x) ... end, x0 = {...}} builds one itself.]])

--- The built-in 2-D objectives, in a fixed order (for galleries and loops).
M.names = {"quadratic", "rosenbrock", "beale", "himmelblau", "booth", "rastrigin", "saddle"}

return doc(M, "gd.objectives", [[
gd.objectives: test functions for optimizers.  Each has f(x) -> number, grad(x, out),
x0, minimum, f_min and bounds (a plotting window):
  quadratic (d2l's 0.1*x1^2 + 2*x2^2), rosenbrock, beale, himmelblau, booth, rastrigin,
  saddle (x1^2 - x2^2), ill_conditioned(n, kappa), least_squares(X, y), from_xy{...},
  from_function(f, {x0 = ...}) (f alone; its gradient from autograd).
gd.objectives.names lists the built-in 2-D ones.]])
