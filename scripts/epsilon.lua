-- epsilon.lua: "beware the epsilon" (Simon Funk) -- RMSProp with eps inside the
-- square root, x -= lr*g/sqrt(s + eps) (d2l, TF1, Keras), against eps outside it,
-- x -= lr*g/(sqrt(s) + eps) (PyTorch), across epsilons.
--
--   build/bin/gdlua scripts/epsilon.lua          table, terminal plot, out/epsilon.svg
--   OUT=docs build/bin/gdlua scripts/epsilon.lua
--
-- Two things follow from the formulas, and the table shows both:
-- - once s (the mean squared gradient) is small, sqrt(s + eps) ~ sqrt(eps): eps
--   inside the root acts like sqrt(eps) outside it (1e-8 inside ~ 1e-4 outside);
-- - the step's gain is capped at lr/sqrt(eps) inside and lr/eps outside; RMSProp
--   with a constant lr keeps taking steps of about lr near the minimum, and only
--   an eps large enough to dominate sqrt(s) there turns it into plain gradient
--   descent (rate lr/sqrt(eps) or lr/eps), which converges.
-- The problem: d2l's synthetic linear regression (full batch), RMSProp with
-- lr = 0.01 and alpha (gamma) = 0.9 for 500 steps, from w = 0, b = 0.
local gd = gd or require "gd"

local out = os.getenv("OUT") or "out"
if out == "" then out = "out" end
local LR, DECAY, STEPS = 0.01, 0.9, 500

local X, y = gd.data.synthetic_regression{w = {2, -3.4}, b = 4.2, n = 1000, noise = 0.01, seed = 1,
  dtype = "float64"}
local problem = gd.objectives.least_squares(X, y, {name = "linear regression"})

local epsilons = {}
for k = -12, 0 do epsilons[#epsilons + 1] = 10 ^ k end

local runs = {}
for _, eps in ipairs(epsilons) do
  runs[#runs + 1] = {name = string.format("inside %g", eps), optimizer = "RMSProp",
    hyper = {flavor = "d2l", lr = LR, gamma = DECAY, eps = eps}}
  runs[#runs + 1] = {name = string.format("outside %g", eps), optimizer = "RMSProp",
    hyper = {flavor = "pytorch", lr = LR, alpha = DECAY, eps = eps}}
end
local tol = 1e-8
local res = gd.experiment.run{objective = problem, steps = STEPS, tol = tol, runs = runs, print = false}

local function gap(r) return r.f - problem.f_min end
local function sci(v) return string.format("%.2e", v) end
local rows, inside, outside = {}, {}, {}
for i, eps in ipairs(epsilons) do
  local a, b = res[2 * i - 1], res[2 * i]
  -- f is known to about 1e-16 * f_min: smaller differences (or negative ones) are noise
  inside[i], outside[i] = math.max(gap(a), 1e-16), math.max(gap(b), 1e-16)
  rows[i] = {string.format("%g", eps), sci(gap(a)), a.steps_to_tol and tostring(a.steps_to_tol) or "-",
             sci(gap(b)), b.steps_to_tol and tostring(b.steps_to_tol) or "-"}
end
print(string.format("RMSProp (lr %g, decay %g) on %s, %d steps: f - f_min at the end, and the first step " ..
  "with f - f_min <= %g", LR, DECAY, problem.formula, STEPS, tol))
print(gd.experiment.table({"eps", "inside sqrt(s + eps)", "steps", "outside sqrt(s) + eps", "steps"}, rows))

-- where each placement first converges: inside should need about the square of outside's eps
local function first_converging(list)
  for i, r in ipairs(list) do if r.steps_to_tol and gap(r) <= tol then return epsilons[i] end end
end
local ins, outs = {}, {}
for i = 1, #epsilons do ins[i], outs[i] = res[2 * i - 1], res[2 * i] end
local e_in, e_out = first_converging(ins), first_converging(outs)
print(string.format("\nsmallest eps that converges: inside %s, outside %s", tostring(e_in), tostring(e_out)))

local series = {{name = "inside: sqrt(s + eps)", x = epsilons, y = inside},
                {name = "outside: sqrt(s) + eps", x = epsilons, y = outside}}
gd.plot.line(series, {file = out .. "/epsilon.svg", xscale = "log", yscale = "log", xlabel = "epsilon", markers = true,
  ylabel = string.format("f - f_min after %d steps", STEPS),
  title = string.format("RMSProp (lr %g) on linear regression: where eps sits", LR)})
print()
gd.plot.term(series, {xscale = "log", yscale = "log", height = 10, title = "f - f_min against eps (log-log)"})
print(string.format("\nwrote %s/epsilon.svg", out))
