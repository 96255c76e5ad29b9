--- gd.bench.problems: the benchmark's test problems, each a table
--   {name, budget = steps, quick = steps, batch_size, target, metric, higher,
--    eval_every, make = function(seed) -> instance, [absent = reason]}
-- and an instance {params = module or {tensor}, step = function() -> loss (grads
-- filled), eval = function() -> metric}.  metric is "loss" (lower is better) or
-- "accuracy" (higher); target is the value a run must reach (AlgoPerf's
-- time-to-target).  A problem whose data is missing has `absent` set and is
-- skipped with that message.
local gd = require "gd"
local doc = require "gd.doc"
local MT = require "gd.bench.mt19937"

local M = {}
local SKLEARN = "/usr/lib/python3/dist-packages/sklearn/datasets/data/"
M.SKLEARN_DIR = SKLEARN
local here = debug.getinfo(1, "S").source:sub(2):match("^(.*)/lua/gd/bench/") or "."
M.SHARED_DATA = os.getenv("GDLUA_SHARED_DATA") or (here .. "/../shared/data")

local function exists(p) local f = io.open(p, "rb"); if f then f:close() return true end return false end

-- DeepOBS quadratic_deep (deepobs/pytorch/testproblems/quadratic_deep.py):
-- rng = RandomState(42); eigenvalues = 90 uniform(0, 1) then 10 uniform(30, 60);
-- R = random_rotation(100) (Diaconis-Shahshahani subgroup algorithm, from the
-- same rng, negated at the end); Q = R^T diag(eig) R.  Data
-- (deepobs/pytorch/datasets/quadratic.py): 1000 points RandomState(42).normal(0,
-- 0.6, (1000, 100)) as float32; batches of 128, shuffled, the remainder dropped.
-- Loss: mean over the batch of 0.5 (theta - x)^T Q (theta - x), theta from ones.
-- R and R' live in two flat (D+1)^2 double buffers, swapped each step, and
-- Dm is read through R instead of built: the same sums in the same order (so
-- the same bits) as the nested tables it replaces, which took 60% of
-- quadratic_deep's remaining start-up (measured with -jp=l).
local ffi = require "ffi"
local function random_rotation(rng, D)
  local W = D + 1
  local R, Rn = ffi.new("double[?]", W * W), ffi.new("double[?]", W * W)
  local v, x, xD = ffi.new("double[?]", W), ffi.new("double[?]", W), ffi.new("double[?]", W)
  local t = 2 * math.pi * rng:uniform()
  R[0], R[1], R[W], R[W + 1] = math.cos(t), math.sin(t), -math.sin(t), math.cos(t)
  -- Dm = [[1, 0], [0, R]] (0-based: Dm(i, j) = R(i - 1, j - 1) for i, j >= 1)
  local function Dm(i, j)
    if i == 0 or j == 0 then return (i == j) and 1 or 0 end
    return R[(i - 1) * W + j - 1]
  end
  for d = 2, D - 1 do
    local s = 0
    for i = 0, d do v[i] = rng:normal(); s = s + v[i] * v[i] end
    s = math.sqrt(s)
    local sx = 0
    for i = 0, d do x[i] = (i == 0 and 1 or 0) - v[i] / s; sx = sx + x[i] * x[i] end
    sx = math.sqrt(sx)
    for i = 0, d do x[i] = x[i] / sx end
    -- R' = Dm - 2 x (x^T Dm)
    for j = 0, d do local a = 0; for i = 0, d do a = a + x[i] * Dm(i, j) end; xD[j] = a end
    for i = 0, d do
      for j = 0, d do Rn[i * W + j] = Dm(i, j) - 2 * x[i] * xD[j] end
    end
    R, Rn = Rn, R
  end
  local out = {}
  for i = 1, D do
    out[i] = {}
    for j = 1, D do out[i][j] = -R[(i - 1) * W + j - 1] end
  end
  return out
end

local quad_cache
local function quadratic_deep_data()
  if quad_cache then return quad_cache end
  local rng = MT.RandomState(42)
  local eig = {}
  for i = 1, 90 do eig[i] = rng:uniform(0, 1) end
  for i = 91, 100 do eig[i] = rng:uniform(30, 60) end
  local R = random_rotation(rng, 100)
  local Q = {}
  for i = 1, 100 do
    Q[i] = {}
    for j = 1, 100 do
      local a = 0
      for k = 1, 100 do a = a + R[k][i] * eig[k] * R[k][j] end
      Q[i][j] = a
    end
  end
  local X, f32 = {}, require("ffi").new("float[?]", 1000 * 100)
  MT.RandomState(42):normal_f32(f32, 1000 * 100, 0, 0.6)
  for n = 1, 1000 do
    local row = {}
    for j = 1, 100 do row[j] = f32[(n - 1) * 100 + j - 1] end
    X[n] = row
  end
  quad_cache = {eigenvalues = eig, R = R, Q = Q, X = X}
  return quad_cache
end
M.quadratic_deep_data = doc(quadratic_deep_data, "gd.bench.problems.quadratic_deep_data", [[
gd.bench.problems.quadratic_deep_data() -> {eigenvalues, R, Q, X}: DeepOBS's
  quadratic_deep construction (Lua arrays, 1-based): the 100 eigenvalues, the
  rotation, the Hessian R^T diag(eig) R and the 1000 training points.]])

local function shuffled(n, rng, perm)
  for i = 1, n do perm[i] = i end
  for i = n, 2, -1 do local j = math.floor(rng:random() * i) + 1; perm[i], perm[j] = perm[j], perm[i] end
end

-- The loss of a batch B, mean_B 0.5 (theta - x)^T Q (theta - x), expands to
--   0.5 theta^T Q theta - theta^T Q xbar_B + 0.5 mean_B x^T Q x,
-- and its gradient is Q (theta - xbar_B): with x^T Q x precomputed for each of
-- the 1000 points a step costs one 100x128 column mean and two 100x100
-- matrix-vector products instead of 128 of them (the direct sum took 1.9 s of
-- a 700-step trial, measured here; this form about 40x less work).  The same
-- numbers up to rounding: spec/bench_spec.lua checks it against the direct sum.
local quad_flat
local function quadratic_deep_flat()
  if quad_flat then return quad_flat end
  local D = quadratic_deep_data()
  -- X as float32: DeepOBS's points are float32, so the same values (and sums)
  -- in half the memory; a step reads 128 random rows of it, and two workers
  -- on two cores share the L3 (make bench, 2026-12-02: 2 vs 1 worker 1.75x and
  -- 1.80x with float32, 1.71x and 1.69x with float64, interleaved runs)
  local Q, X = ffi.new("double[?]", 100 * 100), ffi.new("float[?]", 1000 * 100)
  for i = 1, 100 do for j = 1, 100 do Q[(i - 1) * 100 + j - 1] = D.Q[i][j] end end
  for n = 1, 1000 do for j = 1, 100 do X[(n - 1) * 100 + j - 1] = D.X[n][j] end end
  local xQx, xbar_all, Qx = ffi.new("double[?]", 1000), ffi.new("double[?]", 100), ffi.new("double[?]", 100)
  local c_all = 0
  for n = 0, 999 do
    local c = 0
    for i = 0, 99 do
      local a = 0
      for j = 0, 99 do a = a + Q[i * 100 + j] * X[n * 100 + j] end
      c = c + X[n * 100 + i] * a
    end
    xQx[n] = c
    c_all = c_all + c / 1000
    for j = 0, 99 do xbar_all[j] = xbar_all[j] + X[n * 100 + j] / 1000 end
  end
  quad_flat = {Q = Q, X = X, xQx = xQx, xbar_all = xbar_all, c_all = c_all, Qx = Qx}
  return quad_flat
end

local function quadratic_deep_make(seed, bs)
  local F = quadratic_deep_flat()
  local Q, X, xQx = F.Q, F.X, F.xQx
  local theta = gd.ones(100, {dtype = "float64"})
  theta.grad = gd.zeros_like(theta)
  local rng = MT.RandomState(seed)
  local perm, pos = {}, 1000
  local nb = math.floor(1000 / bs)
  local th, xbar = ffi.new("double[100]"), ffi.new("double[100]")
  -- loss of theta against the points whose mean is xb and mean x^T Q x is c; grad = Q (theta - xb)
  local function loss_at(xb, c, grad)
    for j = 0, 99 do th[j] = theta:get(j + 1) end
    local quad, lin = 0, 0
    for i = 0, 99 do
      local qt, qx = 0, 0
      for j = 0, 99 do
        local q = Q[i * 100 + j]
        qt = qt + q * th[j]
        qx = qx + q * xb[j]
      end
      quad = quad + th[i] * qt
      lin = lin + th[i] * qx
      if grad then grad:set(i + 1, qt - qx) end
    end
    return 0.5 * quad - lin + 0.5 * c
  end
  local rows = {}
  return {
    params = {theta},
    step = function()
      if pos + bs > nb * bs then shuffled(1000, rng, perm); pos = 0 end
      for j = 0, 99 do xbar[j] = 0 end
      local c = 0
      for b = 1, bs do
        local n = perm[pos + b] - 1
        rows[b] = n + 1
        c = c + xQx[n]
        local o = n * 100
        for j = 0, 99 do xbar[j] = xbar[j] + X[o + j] end
      end
      for j = 0, 99 do xbar[j] = xbar[j] / bs end
      pos = pos + bs
      return loss_at(xbar, c / bs, theta.grad)
    end,
    eval = function() return loss_at(F.xbar_all, F.c_all, nil) end,   -- DeepOBS train_eval: the whole set
    batch = function() return rows end,   -- the rows (1-based) of the last step's batch, for specs
  }
end

M.quadratic_deep = {name = "quadratic_deep", metric = "loss", batch_size = 128, budget = 100 * 7, quick = 30,
  steps_per_epoch = 7,
  eval_every = 7, target = 100.0,   -- the train loss at theta = 0 is about 0.5*0.36*trace(Q) ~ 102
  make = function(seed) return quadratic_deep_make(seed, 128) end,
  source = "DeepOBS quadratic_deep (Schneider et al. 2019), 100 epochs of batches of 128"}

-- Noisy 2-D functions as in DeepOBS's two_d_* problems: f(u, v) + u*x + v*y with
-- (x, y) the batch mean of N(0, 1) draws, so the gradient carries minibatch noise.
local function two_d(name, f, x0, target, budget)
  return {name = "noisy_" .. name, metric = "loss", batch_size = 128, budget = budget, quick = 20,
    eval_every = 10, target = target, source = "gd.objectives / DeepOBS two_d_" .. name,
    make = function(seed)
      local obj = type(f) == "string" and gd.objectives[f] or f
      local x = gd.tensor(x0, {dtype = "float64"})
      x.grad = gd.zeros_like(x)
      local rng = MT.RandomState(seed)
      local sd = 1 / math.sqrt(128)
      return {params = {x},
        step = function()
          local a, b = x:get(1), x:get(2)
          local n1, n2 = rng:normal(0, sd), rng:normal(0, sd)
          local g1, g2 = obj.grad_xy(a, b)
          x.grad:set(1, g1 + n1); x.grad:set(2, g2 + n2)
          return obj.f_xy(a, b) + a * n1 + b * n2
        end,
        eval = function() return obj.f_xy(x:get(1), x:get(2)) end}
    end}
end

local branin = gd.objectives.from_xy{name = "branin",
  formula = "(x2 - 5.1/(4 pi^2) x1^2 + 5/pi x1 - 6)^2 + 10 (1 - 1/(8 pi)) cos(x1) + 10",
  f = function(a, b)
    local t = b - 5.1 / (4 * math.pi ^ 2) * a * a + 5 / math.pi * a - 6
    return t * t + 10 * (1 - 1 / (8 * math.pi)) * math.cos(a) + 10
  end,
  grad = function(a, b)
    local t = b - 5.1 / (4 * math.pi ^ 2) * a * a + 5 / math.pi * a - 6
    return 2 * t * (-5.1 / (2 * math.pi ^ 2) * a + 5 / math.pi) - 10 * (1 - 1 / (8 * math.pi)) * math.sin(a), 2 * t
  end,
  x0 = {2.5, 12.5}, minimum = {math.pi, 2.275}, bounds = {{-5, 10}, {0, 15}}}
M.branin = branin

M.noisy_rosenbrock = two_d("rosenbrock", "rosenbrock", {-0.5, 1.5}, 0.01, 1000)
-- from DeepOBS's start (-4.5, 4.5) tuned Adam and RMSProp end near f = 1.1 in 1000 steps (the
-- basin of (3, 0.5) is not reached): the target is what a tuned baseline reaches
M.noisy_beale = two_d("beale", "beale", {-4.5, 4.5}, 1.2, 1000)
M.noisy_branin = two_d("branin", branin, {2.5, 12.5}, 0.41, 1000)
-- d2l's quadratic 0.1 x1^2 + 2 x2^2 from (-5, -2), noiseless as in d2l 12.x
M.d2l_quadratic = {name = "d2l_quadratic", metric = "loss", batch_size = 1, budget = 20, quick = 10, eval_every = 1,
  target = 1e-2, source = "d2l 12.7/12.8",
  make = function()
    local obj = gd.objectives.quadratic
    local x = gd.tensor(obj.x0, {dtype = "float64"})
    x.grad = gd.zeros_like(x)
    return {params = {x}, step = function() obj.grad(x, x.grad); return obj.f(x) end,
            eval = function() return obj.f(x) end}
  end}

--- The loader's batches one after another, epoch after epoch: a function -> x, y.
local function batch_stream(loader)
  local epoch, it, st = 0, nil, nil
  return function()
    if it then
      local x, y = it(st)
      if x then return x, y end
    end
    epoch = epoch + 1
    it, st = loader:batches(epoch)
    return it(st)
  end
end

-- Supervised problems over a data set {Xtr, ytr, Xte, yte}.
-- The data set is read once per process and shared by its trials (a worker
-- runs many): the trials only read it (loaders gather batches into new tensors).
local function supervised(spec)
  spec.eval_every = spec.eval_every or 20
  local tr_once, te_once
  spec.make = function(seed)
    if not tr_once then tr_once, te_once = spec.data() end
    local tr, te = tr_once, te_once
    gd.manual_seed(seed)
    local net = spec.model()
    local loss = spec.loss()
    local loader = gd.data.loader(tr, {batch_size = spec.batch_size, shuffle = true, seed = seed})
    local next_batch = batch_stream(loader)
    return {params = net, steps_per_epoch = loader.num_batches,
      step = function()
        net:zero_grad()
        local x, y = next_batch()
        local l, g = loss(net:forward(x), y)
        net:backward(g, false)
        if type(l) ~= "number" then l = l:item() end
        return l
      end,
      eval = function()
        local out = net:forward(te[1])
        if spec.metric == "accuracy" then return (gd.nn.accuracy(out, te[2])) end
        local l = loss(out, te[2])
        if type(l) ~= "number" then l = l:item() end
        return l
      end}
  end
  return spec
end

-- scikit-learn's CSVs: a header line "n_samples,n_features,names..." then rows of
-- features and an integer label.
local function sklearn_csv(file)
  local rows, labels = {}, {}
  local first = true
  for line in io.lines(SKLEARN .. file) do
    if first then first = false elseif line:match("%S") then
      local r = {}
      for v in line:gmatch("[^,]+") do r[#r + 1] = tonumber(v) end
      labels[#labels + 1] = table.remove(r) + 1
      rows[#rows + 1] = r
    end
  end
  local X = gd.data.standardize(gd.tensor(rows, {dtype = "float32"}))
  local y = gd.tensor(labels, {dtype = "int64"})
  local ntr = math.floor(#rows * 0.8)
  local tr, te = gd.data.split({X, y}, ntr, {shuffle = true, seed = 0})
  return tr, te, #rows[1]
end

local function mlp(nin, nhid, nout)
  return function() return gd.nn.Sequential{gd.nn.Linear(nin, nhid), gd.nn.ReLU(), gd.nn.Linear(nhid, nout)} end
end

local function sk_problem(name, file, nin, nout, target)
  local p = supervised{name = name, metric = "accuracy", higher = true, batch_size = 16, budget = 400, quick = 20,
    target = target, source = "scikit-learn's " .. file .. " (Debian python3-sklearn), MLP " .. nin .. "-32-" .. nout,
    data = function() local tr, te = sklearn_csv(file); return tr, te end,
    model = mlp(nin, 32, nout), loss = function() return gd.nn.CrossEntropyLoss() end}
  if not exists(SKLEARN .. file) then p.absent = "needs " .. SKLEARN .. file .. " (Debian package python3-sklearn)" end
  return p
end
M.iris_mlp = sk_problem("iris_mlp", "iris.csv", 4, 3, 0.9)
M.wine_mlp = sk_problem("wine_mlp", "wine_data.csv", 13, 3, 0.9)
M.breast_cancer_mlp = sk_problem("breast_cancer_mlp", "breast_cancer.csv", 30, 2, 0.93)

local function digits_path()
  for _, p in ipairs{M.SHARED_DATA .. "/digits.csv.gz", SKLEARN .. "digits.csv.gz"} do if exists(p) then return p end end
end
local function digits_data()
  local data = gd.data.read_csv(digits_path())
  local X = data:narrow(2, 1, 64):div(16)
  local y = data:select(2, 65):long():add_(1)
  return gd.data.split({X, y}, 1437, {shuffle = true, seed = 0})
end
M.digits_logreg = supervised{name = "digits_logreg", metric = "accuracy", higher = true, batch_size = 32,
  budget = 45 * 10, quick = 20, target = 0.9, data = digits_data, source = "8x8 digits, softmax regression",
  model = function() return gd.nn.Linear(64, 10) end, loss = function() return gd.nn.CrossEntropyLoss() end}
-- the 2c2d-style CNN of scripts/digits_cnn.lua: two 3x3 convolutions with max pooling
M.digits_cnn = supervised{name = "digits_cnn", metric = "accuracy", higher = true, batch_size = 32,
  budget = 45 * 10, quick = 10, target = 0.95, data = digits_data,
  source = "8x8 digits, CNN conv3-16, pool, conv3-32, pool, linear (scripts/digits_cnn.lua)",
  model = function()
    local nn = gd.nn
    return nn.Sequential{nn.Unflatten(2, {1, 8, 8}), nn.Conv2d(1, 16, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),
      nn.Conv2d(16, 32, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 2 * 2, 10)}
  end, loss = function() return gd.nn.CrossEntropyLoss() end}
M.digits_mlp = supervised{name = "digits_mlp", metric = "accuracy", higher = true, batch_size = 32,
  budget = 45 * 10, quick = 20, target = 0.93, data = digits_data, source = "8x8 digits, MLP 64-128-128-10",
  model = function() return gd.nn.Sequential{gd.nn.Linear(64, 128), gd.nn.ReLU(), gd.nn.Linear(128, 128),
    gd.nn.ReLU(), gd.nn.Linear(128, 10)} end, loss = function() return gd.nn.CrossEntropyLoss() end}
if not digits_path() then
  M.digits_logreg.absent = "needs digits.csv.gz in ../shared/data or python3-sklearn"
  M.digits_mlp.absent = M.digits_logreg.absent
  M.digits_cnn.absent = M.digits_logreg.absent
end

-- d2l 12.x's airfoil linear regression (first 1500 rows, standardised, batch 10)
local airfoil_file = M.SHARED_DATA .. "/airfoil_self_noise.dat"
M.airfoil = supervised{name = "airfoil", metric = "loss", batch_size = 10, budget = 300, quick = 20, target = 0.25,
  source = "d2l 12.5 airfoil self-noise, linear regression, squared loss / 2",
  data = function()
    local data = gd.data.standardize(gd.data.read_csv(airfoil_file, {sep = "\t"})):narrow(1, 1, 1500)
    local X, y = data:narrow(2, 1, 5):contiguous(), data:narrow(2, 6, 1):contiguous()
    return {X, y}, {X, y}   -- d2l evaluates on the training set
  end,
  model = function() return gd.nn.Linear(5, 1) end, loss = function() return gd.nn.MSELoss{scale = 0.5} end}
if not exists(airfoil_file) then M.airfoil.absent = "pending: needs " .. airfoil_file end

-- A character-level LSTM on the fortunes text (DeepOBS's tolstoi_char_rnn in
-- miniature): Debian's fortunes-min file, the characters seen in it as the
-- vocabulary, non-overlapping windows of 33 characters (input 1..32, target
-- 2..33), the first 90% of the windows for training and the rest for the
-- metric, batches of 16.  Embedding(V, 32) -> LSTM(32, 64, batch_first) ->
-- Linear(64, V), cross-entropy per character in nats (log V ~ 4.4 at the start).
local FORTUNES = "/usr/share/games/fortunes/fortunes"
M.FORTUNES = FORTUNES
local SEQ = 32
local char_cache
local function char_data()
  if char_cache then return char_cache end
  local f = assert(io.open(FORTUNES, "rb"))
  local text = f:read("*a")
  f:close()
  local ids, vocab, n = {}, {}, 0
  for i = 1, #text do
    local c = text:byte(i)
    if not vocab[c] then n = n + 1; vocab[c] = n end
  end
  local nw = math.floor((#text - 1) / (SEQ + 1))
  local X, Y = {}, {}
  for w = 1, nw do
    local xr, yr = {}, {}
    local o = (w - 1) * (SEQ + 1)
    for t = 1, SEQ do xr[t] = vocab[text:byte(o + t)]; yr[t] = vocab[text:byte(o + t + 1)] end
    X[w], Y[w] = xr, yr
  end
  local ntr = math.floor(nw * 0.9)
  local function slice(a, b)
    local xs, ys = {}, {}
    for i = a, b do xs[#xs + 1] = X[i]; ys[#ys + 1] = Y[i] end
    return {gd.tensor(xs, {dtype = "int64"}), gd.tensor(ys, {dtype = "int64"})}
  end
  char_cache = {train = slice(1, ntr), test = slice(ntr + 1, nw), vocab = n}
  return char_cache
end
M.char_data = char_data

M.char_lstm = {name = "char_lstm", metric = "loss", batch_size = 16, budget = 6 * 42, quick = 5, eval_every = 21,
  target = 2.3, source = "fortunes-min's fortunes text, char LSTM Embedding(V,32)-LSTM(32,64)-Linear(64,V)",
  make = function(seed)
    local D = char_data()
    local nn = gd.nn
    gd.manual_seed(seed)
    local emb, lstm, lin = nn.Embedding(D.vocab, 32), nn.LSTM(32, 64, {batch_first = true}), nn.Linear(64, D.vocab)
    local net = nn.Sequential{emb, lstm, lin}   -- holds the parameters; the forward pass is below
    local loss = nn.CrossEntropyLoss()
    local loader = gd.data.loader(D.train, {batch_size = 16, shuffle = true, seed = seed, drop_last = true})
    local next_batch = batch_stream(loader)
    local function forward(x)
      local b = x:size(1)
      local out = lstm:forward(emb:forward(x))
      return lin:forward(out:reshape(b * SEQ, 64)), b
    end
    return {params = net, steps_per_epoch = loader.num_batches,
      step = function()
        net:zero_grad()
        local x, y = next_batch()
        local logits, b = forward(x)
        local l, g = loss(logits, y:reshape(b * SEQ))
        local gout = lin:backward(g)
        emb:backward(lstm:backward(gout:reshape(b, SEQ, 64)))
        return type(l) == "number" and l or l:item()
      end,
      eval = function()
        local logits, b = forward(D.test[1])
        local l = loss(logits, D.test[2]:reshape(b * SEQ))
        return type(l) == "number" and l or l:item()
      end}
  end}
if not exists(FORTUNES) then M.char_lstm.absent = "needs " .. FORTUNES .. " (Debian package fortunes-min)" end

M.names = {"quadratic_deep", "noisy_rosenbrock", "noisy_beale", "noisy_branin", "d2l_quadratic", "airfoil",
           "digits_logreg", "digits_mlp", "digits_cnn", "iris_mlp", "wine_mlp", "breast_cancer_mlp", "char_lstm"}

return doc(M, "gd.bench.problems", [[
gd.bench.problems: the benchmark problems by name (gd.bench.problems.names):
  quadratic_deep (DeepOBS, exact), noisy_rosenbrock, noisy_beale, noisy_branin,
  d2l_quadratic, airfoil, digits_logreg, digits_mlp, digits_cnn, iris_mlp,
  wine_mlp, breast_cancer_mlp, char_lstm.  Each: metric ("loss" | "accuracy"), batch_size,
  budget and quick (steps), steps_per_epoch, eval_every, target, make(seed) ->
  {params, step, eval}; absent says why one cannot run here; char_lstm: a
  character LSTM on Debian's fortunes text.]])
