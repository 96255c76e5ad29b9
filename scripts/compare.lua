-- compare.lua: the optimizers of d2l chapter 12 side by side (`make run`).
--
--   build/bin/gdlua scripts/compare.lua            writes out/compare_2d.svg, out/regression_loss.svg
--   OUT=docs build/bin/gdlua scripts/compare.lua   writes the README's pictures instead
--   AIRFOIL=path/airfoil_self_noise.dat ...        the regression on d2l's airfoil data
--
-- 1. AdaGrad and RMSProp on d2l's f(x) = 0.1*x1^2 + 2*x2^2 from (-5, -2), 20 steps
--    at d2l's settings, in d2l's convention (eps inside the square root) and in
--    PyTorch's (eps outside), with SGD, momentum, Adam and SMORMS3 beside them.
--    d2l's published final points are printed next to gdlua's.
-- 2. The same optimizers training a linear regression (full batch) on d2l's
--    synthetic data (w = {2, -3.4}, b = 4.2), or on the airfoil data.
local gd = gd or require "gd"

local out = os.getenv("OUT") or "out"
if out == "" then out = "out" end

-- d2l's printed results: 12.6 (gradient descent, momentum), 12.7 (AdaGrad), 12.8 (RMSProp)
local runs = {
  {name = "AdaGrad (d2l)", optimizer = "AdaGrad", hyper = {flavor = "d2l", lr = 0.4},
   published = {-2.382563, -0.158591}},
  {name = "AdaGrad (d2l, lr 2)", optimizer = "AdaGrad", hyper = {flavor = "d2l", lr = 2},
   published = {-0.002295, -0.000000}},
  {name = "RMSProp (d2l)", optimizer = "RMSProp", hyper = {flavor = "d2l", lr = 0.4, gamma = 0.9},
   published = {-0.010599, 0.000000}},
  {name = "AdaGrad (PyTorch)", optimizer = "AdaGrad", hyper = {flavor = "pytorch", lr = 0.4}},
  {name = "RMSProp (PyTorch)", optimizer = "RMSProp", hyper = {flavor = "pytorch", lr = 0.4, alpha = 0.9}},
  {name = "SGD", optimizer = "SGD", hyper = {lr = 0.4}, published = {-0.943467, -0.000073}},
  {name = "Momentum", optimizer = "SGD", hyper = {lr = 0.6, momentum = 0.5}, published = {0.007188, 0.002553}},
  {name = "Adam", optimizer = "Adam", hyper = {lr = 0.4}},
  {name = "SMORMS3", optimizer = "SMORMS3", hyper = {lr = 0.4}},
}

-- one colour per run, the same in both pictures
local palette = require("gd.plot.axes").palette
local function colour(results)
  for i, r in ipairs(results) do r.color = palette[i] end
  return results
end

local quad = gd.objectives.quadratic
local res = colour(gd.experiment.run{objective = quad, steps = 20, runs = runs,
  title = "d2l's quadratic f(x) = 0.1*x1^2 + 2*x2^2 from (-5, -2), 20 steps " ..
          "(published: d2l 12.6-12.8)"})
-- the PyTorch-convention runs retrace d2l's (eps inside or outside the root
-- changes the 7th digit here): leave them out of the picture, not the table
local shown = {}
for _, r in ipairs(res) do
  if not r.name:find("PyTorch", 1, true) then shown[#shown + 1] = r end
end
gd.plot.trace_2d(quad, shown, {file = out .. "/compare_2d.svg",
  title = "0.1*x1^2 + 2*x2^2 from (-5, -2): 20 steps, d2l's settings"})

-- the regression
local X, y, what
local airfoil = os.getenv("AIRFOIL")
if airfoil and airfoil ~= "" then
  -- d2l 12.5's get_data_ch11: the first 1500 rows, every column standardized
  local t = gd.data.read_csv(airfoil, {sep = "\t", dtype = "float64"})
  local z = gd.data.standardize(t:narrow(1, 1, math.min(1500, t:size(1))))
  X, y = z:narrow(2, 1, 5), z:select(2, 6)
  what = string.format("airfoil (%d examples, 5 features, standardized)", X:size(1))
else
  X, y = gd.data.synthetic_regression{w = {2, -3.4}, b = 4.2, n = 1000, noise = 0.01, seed = 1,
    dtype = "float64"}
  what = "d2l's synthetic data (w = {2, -3.4}, b = 4.2, 1000 examples)"
end
local regression = gd.objectives.least_squares(X, y, {name = "linear regression"})
local reg_runs = {}
for i, r in ipairs(runs) do reg_runs[i] = {name = r.name, optimizer = r.optimizer, hyper = r.hyper} end
print()
local reg = colour(gd.experiment.run{objective = regression, steps = 100, tol = 1e-6, runs = reg_runs,
  title = "linear regression on " .. what .. ", full batch, 100 steps"})
gd.plot.losses(reg, {file = out .. "/regression_loss.svg", width = 960, height = 440,
  title = "linear regression on " .. (airfoil and airfoil ~= "" and "airfoil" or "synthetic data") ..
          ": loss - minimum per step"})
print()
gd.plot.term(reg, {height = 10, title = "loss - minimum (log scale) per step"})
print()
print(string.format("wrote %s/compare_2d.svg and %s/regression_loss.svg", out, out))
