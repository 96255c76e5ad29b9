-- d2l_ch12.lua: Dive into Deep Learning, chapter 12 (Optimization Algorithms):
-- the optimizer figures and printed results, d2l's numbers beside gdlua's.
--
--   build/bin/gdlua scripts/reproduce/d2l_ch12.lua [airfoil_self_noise.dat]
--
-- 12.6-12.8 (gradient descent, momentum, AdaGrad, RMSProp on 0.1 x1^2 + 2 x2^2
-- from (-5, -2), 20 steps): scripts/compare.lua, whose table has d2l's
-- printed final points in its "published" columns and an "agree" column;
-- 12.5/12.7-12.10 (minibatch SGD, AdaGrad, RMSProp, Adam on the airfoil data,
-- d2l's train_ch11): scripts/airfoil.lua, d2l's reported final losses 0.243 to
-- 0.245 beside gdlua's (with the data; without it, synthetic data).
-- Pictures go to $OUT (default out/).
local here = debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or "."
local scripts = here .. "/.."
local airfoil = ...
if not airfoil then
  local shared = scripts .. "/../../shared/data/airfoil_self_noise.dat"
  local f = io.open(shared)
  if f then f:close(); airfoil = shared end
end
print("== d2l 12.6-12.8: the 2-D quadratic (scripts/compare.lua)")
dofile(scripts .. "/compare.lua")
print()
print("== d2l 12.5, 12.7-12.10: airfoil regression (scripts/airfoil.lua)")
local chunk = assert(loadfile(scripts .. "/airfoil.lua"))
chunk(airfoil)
print("d2l (12.5, 12.7-12.10, 2 epochs) reports final losses of 0.243 to 0.245 for these runs")
