-- The digits CNN training step (scripts/digits_cnn.lua's model, RMSProp, batch
-- 32, module path) that both scripts/bench/models.lua (against PyTorch) and
-- scripts/bench/nn.lua (against sgemm) time: one definition, so that the two
-- report the same workload.
--   local per_sample = dofile(".../digits_cnn_step.lua")(scripts_dir, steps)
-- returns the best of 3 runs (after one warm-up run) in seconds per sample.
local gd = gd or require "gd"
local now = gd.progress.now

return function(scripts_dir, steps)
  local cnn = assert(loadfile(scripts_dir .. "/digits_cnn.lua"))("--as-module")
  gd.manual_seed(0)
  local net = cnn.model()
  local loss, opt = gd.nn.CrossEntropyLoss(), gd.optim.RMSProp(net, {lr = 1e-3, alpha = 0.9})
  local B = 32
  local labels = {}
  for i = 1, B do labels[i] = (i - 1) % 10 + 1 end
  local x, y = gd.rand(B, 64), gd.tensor(labels, {dtype = "int64"})
  local function run()
    local t0 = now()
    for _ = 1, steps do
      opt:zero_grad()
      local _, g = loss(net(x), y)
      net:backward(g)
      opt:step()
    end
    return (now() - t0) / (steps * B)
  end
  run()
  local best = math.huge
  for _ = 1, 3 do best = math.min(best, run()) end
  return best
end
