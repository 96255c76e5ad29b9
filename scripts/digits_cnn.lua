-- digits_cnn.lua [path] [epochs] [seeds]: a small CNN on the 8x8 digits
-- comparing optimizers (issue 14; after DeepOBS's 2c2d, scaled to 8x8).
--
--   build/bin/gdlua scripts/digits_cnn.lua ../shared/data/digits.csv.gz 10 3
--
-- Model: Unflatten to 1x8x8, Conv2d(1, 16, 3, padding 1), ReLU, MaxPool2d(2),
-- Conv2d(16, 32, 3, padding 1), ReLU, MaxPool2d(2), Flatten, Linear(128, 10),
-- trained with CrossEntropyLoss on batches of 32 from the same split as
-- scripts/digits.lua.  Optimizers: RMSProp in PyTorch's flavor and in Graves'
-- (centered, eps inside the root, momentum 0.9: the flavor's own setting with
-- lr 1e-3), Adam, SGD with momentum 0.9.  For each it prints the final test
-- accuracy and the per-epoch training loss as mean +- standard deviation over
-- the seeds.  (Loaded with "--as-module" it returns its functions.)
local gd = rawget(_G, "gd") or require "gd"
local digits = assert(loadfile("scripts/digits.lua"))("--as-module")
local nn = gd.nn

local M = {}

M.OPTIMIZERS = {
  {name = "RMSProp (pytorch)", make = function(net) return gd.optim.RMSProp(net, {lr = 1e-3, alpha = 0.9}) end},
  {name = "RMSProp (graves)", make = function(net) return gd.optim.RMSProp(net, {flavor = "graves", lr = 1e-3}) end},
  {name = "Adam", make = function(net) return gd.optim.Adam(net, {lr = 1e-3}) end},
  {name = "SGD momentum", make = function(net) return gd.optim.SGD(net, {lr = 0.05, momentum = 0.9}) end},
}

function M.model()
  return nn.Sequential{nn.Unflatten(2, {1, 8, 8}), nn.Conv2d(1, 16, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),
                       nn.Conv2d(16, 32, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                       nn.Linear(32 * 2 * 2, 10)}
end

--- Trains one model with optimizer entry o from seed; returns the history.
function M.run(o, train, test, epochs, seed)
  gd.manual_seed(seed)
  local net = M.model()
  return gd.train{model = net, loss = nn.CrossEntropyLoss(), optimizer = o.make(net),
                  data = gd.data.loader(train, {batch_size = 32, shuffle = true}), epochs = epochs,
                  eval = function(m) return (nn.accuracy(m(test[1]), test[2])) end, progress = false}
end

local function mean_std(xs)
  local s = 0
  for _, v in ipairs(xs) do s = s + v end
  local m = s / #xs
  local q = 0
  for _, v in ipairs(xs) do q = q + (v - m) ^ 2 end
  return m, #xs > 1 and math.sqrt(q / (#xs - 1)) or 0
end

--- {name, acc_mean, acc_std, loss_mean = {...}, loss_std = {...}} per optimizer.
function M.compare(train, test, epochs, seeds)
  local results = {}
  for _, o in ipairs(M.OPTIMIZERS) do
    local accs, losses = {}, {}
    for s = 1, seeds do
      local h = M.run(o, train, test, epochs, s - 1)
      accs[s] = h.eval[#h.eval]
      for e = 1, epochs do
        losses[e] = losses[e] or {}
        losses[e][s] = h.loss[e]
      end
    end
    local r = {name = o.name, loss_mean = {}, loss_std = {}}
    r.acc_mean, r.acc_std = mean_std(accs)
    for e = 1, epochs do r.loss_mean[e], r.loss_std[e] = mean_std(losses[e]) end
    results[#results + 1] = r
  end
  return results
end

function M.main(path, epochs, seeds)
  path = path or digits.DEBIAN_PATH
  local f = io.open(path, "rb")
  if not f then
    print("digits_cnn: no data file.  The data is scikit-learn's load_digits; Debian's python3-sklearn ships it as")
    print(digits.DEBIAN_PATH .. " (a copy lives in ../shared/data).")
    return
  end
  f:close()
  epochs, seeds = tonumber(epochs) or 10, tonumber(seeds) or 3
  local train, test = digits.load(path)
  print(tostring(M.model()))
  for _, r in ipairs(M.compare(train, test, epochs, seeds)) do
    local curve = {}
    for e = 1, epochs do curve[e] = string.format("%.3f+-%.3f", r.loss_mean[e], r.loss_std[e]) end
    print(string.format("%-18s test accuracy %.2f%% +- %.2f over %d seeds; train loss per epoch: %s", r.name,
      100 * r.acc_mean, 100 * r.acc_std, seeds, table.concat(curve, " ")))
  end
end

if ... == "--as-module" then return M end
M.main(...)
