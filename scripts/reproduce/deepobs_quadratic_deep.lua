-- deepobs_quadratic_deep.lua: DeepOBS's baseline ranking of SGD, Momentum and
-- Adam on quadratic_deep, under DeepOBS's protocol (gd.bench): the learning
-- rate tuned on np.logspace(-5, 2, 36), 100 epochs of batches of 128, the best
-- setting rerun with 10 seeds, the final loss compared.
--
--   build/bin/gdlua scripts/reproduce/deepobs_quadratic_deep.lua [--trials 36] [--budget full]
--       [--seeds 10] [--workers N] [--db results.db]
--
-- Published: Schneider, Balles & Hennig, "DeepOBS: A Deep Learning Optimizer
-- Benchmark Suite" (ICLR 2019), baseline table for P1 quadratic_deep, final
-- test loss (TensorFlow, 10 seeds): SGD 87.40, Momentum (0.9) 87.05,
-- Adam 87.11.  The shape: Momentum and Adam within about 0.1% of each other,
-- SGD last by about 0.4%.  gdlua's numbers are DeepOBS's train_eval loss (the
-- whole 1000-point training set, as gd.bench.problems.quadratic_deep); the
-- test set is another draw of the same distribution, so the levels differ
-- (about 85 against 87) and the ranking is what is compared.
local gd = rawget(_G, "gd") or require "gd"
local here = debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or "."
local common = dofile(here .. "/common.lua")

local PUBLISHED = {{"SGD", "SGD", 87.40}, {"Momentum", "SGD momentum=0.9", 87.05}, {"Adam", "Adam", 87.11}}
local o = common.options({...}, {trials = 36, budget = "full", seeds = 10, workers = 2})
local s = common.sweep(o, {problems = {"quadratic_deep"}, optimizers = {"SGD", "SGD momentum=0.9", "Adam"}})
local ours = {}
for _, r in ipairs(s) do ours[r.optimizer] = r end

local function rank(values)   -- names ordered by value, lowest (best) first
  local names = {}
  for k in pairs(values) do names[#names + 1] = k end
  table.sort(names, function(a, b) return values[a] < values[b] end)
  return names
end
local pub, got = {}, {}
for _, p in ipairs(PUBLISHED) do
  pub[p[1]] = p[3]
  got[p[1]] = ours[p[2]] and ours[p[2]].mean or math.huge
end
local pb, gb = pub[rank(pub)[1]], got[rank(got)[1]]
local rows = {}
for _, p in ipairs(PUBLISHED) do
  local r = ours[p[2]]
  rows[#rows + 1] = {p[1], string.format("%.2f", p[3]), string.format("%+.2f%%", 100 * (p[3] / pb - 1)),
    r and string.format("%.2f +- %.2f", r.mean, r.std) or "-", r and string.format("%+.2f%%", 100 * (r.mean / gb - 1)) or "-",
    r and r.hyper and string.format("%.3g", r.hyper.lr) or "-"}
end
print(string.format("quadratic_deep, %s lr grid points, budget %s, %d seeds: final loss", o.trials, o.budget, o.seeds))
common.table({"optimizer", "DeepOBS (test)", "vs best", "gdlua (train_eval)", "vs best", "tuned lr"}, rows)
local pr, gr = table.concat(rank(pub), " < "), table.concat(rank(got), " < ")
print("ranking (best first): published " .. pr .. ";  gdlua " .. gr)
print("shape " .. (pr == gr and "matches" or "differs"))
