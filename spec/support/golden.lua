-- The project's own reference trajectories (spec/golden/<system>.lua, written by
-- scripts/golden/<system>.py) and their replay protocol
-- (scripts/golden/golden_common.py): f(x) = 0.5*sum h[i]*(x[i]-c[i])^2, the
-- gradient at step t is h[i]*(x[i]-c[i]) + 0.1*sin(t*i) from the current x in
-- float64, and a case's lr_change sets opt.hyper.lr before step lr_change.at.
local gd = require "gd"

local M = {}

-- one file per system
M.systems = {"pytorch", "torch7", "puzzlelib", "graves", "downhill", "keras", "tf1", "optax", "mxnet", "d2l",
             "lasagne", "chainer", "jax", "caffe", "hinton", "mlx", "flux", "ensmallen", "tinydnn", "funk"}

function M.load(system) return dofile("spec/golden/" .. system .. ".lua") end

--- Replays a case on a device (dtype float64 unless given); after each step
-- calls after_step(t, x, opt).  Returns x, opt.  Without case.infer, the
-- case's flavor is passed.
function M.replay(G, case, device, after_step, dtype)
  local x = gd.tensor(G.x0, {dtype = dtype or "float64", device = device})
  local hyper = {}
  for k, v in pairs(case.hyper) do hyper[k] = v end
  if not case.infer then hyper.flavor = case.flavor end
  local opt = gd.optim[case.optimizer]({x}, hyper)
  local gh = gd.zeros(#G.x0, {dtype = "float64"})
  for t = 1, G.steps do
    if case.lr_change and t == case.lr_change.at then opt.hyper.lr = case.lr_change.lr end
    local xc = x:to("cpu"):to("float64")
    for i = 1, #G.x0 do gh:set(i, G.h[i] * (xc:get(i) - G.c[i]) + 0.1 * math.sin(t * i)) end
    x.grad:copy_(gh)
    opt:step()
    if after_step then after_step(t, x, opt) end
  end
  return x, opt
end

return M
