-- funk_smorms3.lua: Simon Funk, "RMSprop loses to SMORMS3 - Beware the
-- Epsilon!" (2015), on gdlua's noisy benchmark problems: SMORMS3 (its own
-- trivial eps 1e-16) against RMSProp at epsilons from PyTorch's 1e-8 to 1,
-- each learning rate tuned on DeepOBS's grid, the best rerun with 3 seeds.
--
--   build/bin/gdlua scripts/reproduce/funk_smorms3.lua [--problem quadratic_deep] [--trials 36]
--       [--budget full] [--seeds 3] [--workers N] [--db results.db]
--
-- Published (the post's claims, which it shows as training curves, not a
-- table): (1) tuned SMORMS3 reaches a lower loss than tuned RMSprop; (2)
-- RMSprop's result hinges on its epsilon, a constant usually left at its
-- default, while SMORMS3 has no such knob.  The printout puts each claim beside
-- what gdlua measures ("agrees" for claim 2: the spread over eps is more than
-- twice the largest seed std).  Measured here (36 points, full budget, 3
-- seeds): claim 1 holds on quadratic_deep (84.88 against 85.11); claim 2 does
-- not once the lr is tuned for each eps -- the gradients there are large
-- against every eps up to 1e-2, and tuning the lr absorbs eps = 1.
-- scripts/epsilon.lua shows the mechanism on a
-- deterministic problem (eps inside or outside the root, and the lr/eps
-- ceiling on the step).
local gd = rawget(_G, "gd") or require "gd"
local here = debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or "."
local common = dofile(here .. "/common.lua")

local EPS = {1e-8, 1e-4, 1e-2, 1}
local o = common.options({...}, {problem = "quadratic_deep", trials = 36, budget = "full", seeds = 3, workers = 2})
local opts = {"SMORMS3"}
for _, e in ipairs(EPS) do opts[#opts + 1] = "RMSProp eps=" .. gd.bench.space.number_text(e) end
local s = common.sweep(o, {problems = {o.problem}, optimizers = opts})
local P = gd.bench.problems[o.problem]
local sign = P.higher and -1 or 1       -- lower is better after multiplying
local by = {}
for _, r in ipairs(s) do by[r.optimizer] = r end
local rows, best_rms, worst_rms, noise = {}, nil, nil, 0
for _, name in ipairs(opts) do
  local r = by[name]
  if r then
    rows[#rows + 1] = {name, string.format("%.4g +- %.2g", r.mean, r.std), string.format("%.3g", r.hyper.lr),
      r.tuneability and string.format("%.0f%%", 100 * r.tuneability) or "-"}
    if name ~= "SMORMS3" then
      if not best_rms or sign * r.mean < sign * best_rms.mean then best_rms = r end
      if not worst_rms or sign * r.mean > sign * worst_rms.mean then worst_rms = r end
      noise = math.max(noise, r.std)
    end
  end
end
print(string.format("%s, %s lr grid points, budget %s, %d seeds: final %s", o.problem, o.trials, o.budget, o.seeds,
  P.metric))
common.table({"optimizer", "final (mean +- std)", "tuned lr", "tuneability"}, rows)
local sm = by.SMORMS3
local wins = sm and best_rms and sign * sm.mean < sign * best_rms.mean
local spread = best_rms and worst_rms and math.abs(worst_rms.mean - best_rms.mean) or 0
print(string.format("claim 1, RMSprop loses to SMORMS3: gdlua %s (SMORMS3 %.4g, best RMSProp %.4g at %s)",
  wins and "agrees" or "disagrees", sm and sm.mean or 0 / 0, best_rms and best_rms.mean or 0 / 0,
  best_rms and best_rms.optimizer or "-"))
print(string.format("claim 2, beware the epsilon: RMSProp's final %s moves by %.3g across eps (seed std <= %.2g): %s",
  P.metric, spread, noise, spread > 2 * noise and "agrees" or "disagrees"))
