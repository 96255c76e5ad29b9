-- airfoil.lua [path]: d2l's train_ch7 (Dive into Deep Learning, chapter
-- "Optimization Algorithms": minibatch SGD, AdaGrad, RMSProp, Adam) replayed
-- on NASA's airfoil self-noise data.
--
--   build/bin/gdlua scripts/airfoil.lua ../shared/data/airfoil_self_noise.dat
--
-- As d2l's get_data_ch7 and train_ch7 (d2l/torch.py): standardise all 1503
-- rows (population std), keep the first 1500, linear regression with
-- w ~ N(0, 0.01^2) and b = 0, loss (y_hat - y)^2 / 2 averaged over the batch,
-- batches of 10 shuffled each epoch, 2 epochs; the loss over all 1500
-- examples is recorded every 100 examples, and the line printed is d2l's:
-- the last recorded loss and the training seconds per epoch (evaluations
-- excluded, as d2l's Timer stops for them).  d2l's book reports final losses
-- of 0.243 to 0.245 for these runs.
--
-- Without a path it says where the data comes from and runs on
-- gd.data.synthetic_regression instead.  (Loaded with "--as-module" as its
-- first argument it returns its functions, for scripts/bench/nn.lua.)
local gd = rawget(_G, "gd") or require "gd"

local M = {}

M.DATA_URL = "http://d2l-data.s3-accelerate.amazonaws.com/airfoil_self_noise.dat"

-- The runs of d2l's chapter, in its order: name, optimizer, hyperparameters.
M.RUNS = {
  {name = "SGD (lr 0.05)", optim = "SGD", hyper = {lr = 0.05}},
  {name = "AdaGrad (d2l, lr 0.1)", optim = "AdaGrad", hyper = {flavor = "d2l", lr = 0.1}},
  {name = "RMSProp (d2l, lr 0.01, gamma 0.9)", optim = "RMSProp", hyper = {flavor = "d2l", lr = 0.01, gamma = 0.9}},
  {name = "RMSProp (pytorch, lr 0.01, alpha 0.9)", optim = "RMSProp", hyper = {lr = 0.01, alpha = 0.9}},
  {name = "Adam (pytorch, lr 0.01)", optim = "Adam", hyper = {lr = 0.01}},
}

--- X (1500 x 5), y (1500 x 1) from the data file, as d2l's get_data_ch7.
function M.load(path, n)
  n = n or 1500
  local data = gd.data.read_csv(path, {sep = "\t"})
  local z = gd.data.standardize(data):narrow(1, 1, n)
  local features = data:size(2) - 1
  return z:narrow(2, 1, features):contiguous(), z:narrow(2, features + 1, 1):contiguous()
end

--- One train_ch7 run: returns the history (eval[#eval] is d2l's loss).
function M.replay(X, y, run, opts)
  opts = opts or {}
  gd.manual_seed(opts.seed or 1)
  local net = gd.nn.Linear(X:size(2), 1)
  net.weight:normal_(0, 0.01)
  net.bias:zero_()
  local loss = gd.nn.MSELoss{scale = 0.5}            -- d2l's squared_loss, averaged
  local opt = gd.optim[run.optim](net, run.hyper)
  local data = gd.data.loader({X, y}, {batch_size = 10, shuffle = true})
  return gd.train{
    model = net, loss = loss, optimizer = opt, data = data, epochs = opts.epochs or 2,
    eval = function(m) return (loss(m(X), y)) end,   -- d2l.evaluate_loss over all examples
    eval_every = 100 / 10,                            -- every 100 examples
    progress = opts.progress or false,
  }
end

function M.main(path)
  local X, y
  if path then
    X, y = M.load(path)
    print(string.format("airfoil: %d examples, %d features, from %s", X:size(1), X:size(2), path))
  else
    print("airfoil: no data file given.  The NASA airfoil self-noise data (1503 rows, 5 features and the")
    print("sound pressure, tab-separated) is what d2l's get_data_ch7 downloads from")
    print("  " .. M.DATA_URL)
    print("(also the UCI repository's \"Airfoil Self-Noise\"; a copy lives in ../shared/data).")
    print("Running on gd.data.synthetic_regression instead: 1500 examples, 5 features, noise 0.01.")
    X, y = gd.data.synthetic_regression{w = {2, -3.4, 1.5, 0.5, -1}, b = 4.2, n = 1500, noise = 0.01, seed = 7}
  end
  -- one untimed epoch first, so that the JIT has compiled the loop before the
  -- first timed run (d2l's timings are of warm PyTorch code too)
  M.replay(X, y, M.RUNS[1], {epochs = 1})
  for _, run in ipairs(M.RUNS) do
    local h = M.replay(X, y, run)
    print(string.format("%-40s loss: %f, %f sec per epoch", run.name, h.eval[#h.eval], h.seconds_per_epoch))
  end
end

if ... == "--as-module" then return M end
M.main(...)
