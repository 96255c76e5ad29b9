--- gd.optim.flavors: each system's optimizer convention as data.
--
-- The math lives once, in src/kernels/optim.h, with switches; a flavor is a set
-- of names (that system's keyword -> gdlua's canonical, PyTorch name),
-- defaults, fixed switches, and at most a small `resolve` step for a name
-- that is not a plain alias (downhill's half-life).  PyTorch's own names are
-- accepted in every flavor for whatever that flavor has (added at the end of
-- this file).  Each flavor cites its `source` and writes its `update` in that
-- system's own notation; `gd.optim.flavors("RMSProp")` returns the registry
-- and docs/flavors.md (`make docs`) is generated from it.
--
-- Fields of a flavor: names (keyword -> canonical), defaults (canonical),
-- fixed (switches the system does not let change; fixed_why: its reason),
-- required (canonical names without a default there), infer (names that
-- mark this system: a hyper table without `flavor` that uses one of them and
-- only this flavor's names picks it, as PuzzleLib's RMSProp{learnRate = ...,
-- factor = ...} does; {epsilon = ...} alone, a name of many systems, does
-- not), resolve, source, update.
--
-- Canonical names (opt.hyper):
--   lr, alpha (RMSProp decay of the old mean), eps, weight_decay (L2, added to
--   the gradient), decoupled_weight_decay (p -= lr*wd*p), momentum, centered,
--   maximize, nesterov, dampening, lr_decay, initial_accumulator_value /
--   state_init (first value of the square average), rho, betas, amsgrad,
--   eps_inside (sqrt(v + eps) instead of sqrt(v) + eps), momentum_style
--   ("pytorch": buf = mu*buf + g/d, p -= lr*buf; "lr_inside": buf = mu*buf +
--   lr*g/d, p -= buf), bias_correction, grad_scale, clip_gradient (after the
--   decay), clip_weights (|p| limit after the update), memory_clipped (SMORMS3).
local M = {}

-- The hyperparameters each optimizer knows, with their kind of value:
--   "rate" >= 0 finite; "decay" in [0, 1); "nonneg" >= 0; "bool"; "number";
--   "betas" two decays; "style" a momentum style; "halflife" > 0.
M.kinds = {
  lr = "rate", alpha = "decay", eps = "nonneg", weight_decay = "nonneg", decoupled_weight_decay = "nonneg",
  momentum = "nonneg", centered = "bool", maximize = "bool", nesterov = "bool", dampening = "number",
  lr_decay = "nonneg", initial_accumulator_value = "nonneg", state_init = "nonneg", rho = "decay",
  betas = "betas", amsgrad = "bool", eps_inside = "bool", momentum_style = "style",
  bias_correction = "bool", adam_step_bias = "bool", beta1 = "decay", beta2 = "decay", grad_scale = "number", clip_gradient = "number", rms_halflife = "halflife",
  clip_weights = "number", memory_clipped = "bool",
}

local function merge(...)
  local r = {}
  for i = 1, select("#", ...) do
    for k, v in pairs((select(i, ...))) do r[k] = v end
  end
  return r
end

-- Keys every RMSProp-family flavor resolves (so the C struct is always full).
local RMSPROP_BASE = {lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0, decoupled_weight_decay = 0,
                      momentum = 0, centered = false, maximize = false, nesterov = false, eps_inside = false,
                      momentum_style = "pytorch", state_init = 0, bias_correction = false, grad_scale = 1,
                      clip_gradient = 0, clip_weights = 0}

M.RMSProp = {
  -- torch/optim/rmsprop.py (PyTorch 1.13): eps outside the root; momentum
  -- buffer of g/d, lr applied outside it.
  pytorch = {
    names = {lr = "lr", alpha = "alpha", eps = "eps", weight_decay = "weight_decay", momentum = "momentum",
             centered = "centered", maximize = "maximize"},
    defaults = RMSPROP_BASE,
    source = "torch/optim/rmsprop.py (PyTorch 1.13), generated from PyTorch itself",
    update = [[
g = -g if maximize; g = g + weight_decay*p
square_avg = alpha*square_avg + (1 - alpha)*g^2
centered: grad_avg = alpha*grad_avg + (1 - alpha)*g; avg = sqrt(square_avg - grad_avg^2) + eps
else:     avg = sqrt(square_avg) + eps
momentum > 0: buf = momentum*buf + g/avg; p -= lr*buf
else:         p -= lr*g/avg]],
  },
  -- torch/optim rmsprop.lua (Torch7): state m starts at initialMean; no
  -- centering, no momentum; eps outside.
  torch7 = {
    names = {learningRate = "lr", alpha = "alpha", epsilon = "eps", weightDecay = "weight_decay",
             initialMean = "state_init"},
    defaults = merge(RMSPROP_BASE, {lr = 1e-2, alpha = 0.99, eps = 1e-8}),
    source = "torch/optim rmsprop.lua (Torch7)",
    update = [[
dfdx:add(weightDecay, x)
m (filled with initialMean) = alpha*m + (1 - alpha)*dfdx^2
x = x - learningRate*dfdx/(sqrt(m) + epsilon)]],
  },
  -- PuzzleLib Optimizers/RMSProp.py: ms = factor*ms + (1-factor)*g^2,
  -- p -= learnRate*g/(sqrt(ms) + epsilon).  Its names are recognised without
  -- flavor = "puzzlelib" (PuzzleLib's shape, RMSProp{learnRate = ..., factor = ...}).
  puzzlelib = {
    names = {learnRate = "lr", factor = "alpha", epsilon = "eps"},
    defaults = merge(RMSPROP_BASE, {lr = 1e-3, alpha = 0.9, eps = 1e-5}),
    infer = {"learnRate", "factor"},
    source = "PuzzleLib Optimizers/RMSProp.py",
    update = [[
ms = factor*ms + (1 - factor)*g^2
param -= learnRate*g/(sqrt(ms) + epsilon)]],
  },
  -- Graves 2013, eq. 38-41: centered, eps inside the root, momentum with the
  -- learning rate inside: d = mom*d - lr*g/sqrt(n - gm^2 + eps); w += d.
  -- Chainer's RMSpropGraves (lr, alpha, momentum, eps; the same defaults) is
  -- this flavor under PyTorch's names.
  graves = {
    names = {learnRate = "lr", alpha = "alpha", momRate = "momentum", epsilon = "eps"},
    defaults = merge(RMSPROP_BASE, {lr = 1e-4, alpha = 0.95, momentum = 0.9, eps = 1e-4}),
    fixed = {centered = true, eps_inside = true, momentum_style = "lr_inside"},
    source = "Graves, Generating Sequences With Recurrent Neural Networks (2013), eq. 38-41; "
      .. "chainer/optimizers/rmsprop_graves.py",
    update = [[
n = alpha*n + (1 - alpha)*g^2
gm = alpha*gm + (1 - alpha)*g
d = momRate*d - learnRate*g/sqrt(n - gm^2 + epsilon)
w = w + d]],
  },
  -- downhill (adaptive.py RMSProp, base.py momentum): always centered,
  -- rms = sqrt(g2 - g1^2 + rms_regularizer), vel = mu*vel - lr*g/rms,
  -- p += vel (nesterov: p += mu*vel - lr*g/rms); ewma = exp(-ln 2 / halflife).
  downhill = {
    names = {learning_rate = "lr", rms_halflife = "rms_halflife", rms_regularizer = "eps",
             momentum = "momentum", nesterov = "nesterov"},
    defaults = merge(RMSPROP_BASE, {lr = 1e-4, rms_halflife = 14, eps = 1e-8, momentum = 0}),
    fixed = {centered = true, eps_inside = true, momentum_style = "lr_inside"},
    -- the half-life, a downhill name, sets alpha
    resolve = function(h)
      h.alpha = math.exp(-math.log(2) / h.rms_halflife)
      h.rms_halflife = nil
    end,
    exclusive = {{"rms_halflife", "alpha"}},
    source = "downhill adaptive.py RMSProp; base.py (momentum)",
    update = [[
ewma = exp(-ln 2/rms_halflife)
g1 = ewma*g1 + (1 - ewma)*g;  g2 = ewma*g2 + (1 - ewma)*g^2
step = -learning_rate*g/sqrt(g2 - g1^2 + rms_regularizer)
vel = momentum*vel + step
p = p + vel      (nesterov: p = p + momentum*vel + step)]],
  },
  -- Keras 3 optimizers/rmsprop.py: eps inside; increment = lr*g/sqrt(...),
  -- momentum buffer of increments; weight_decay is decoupled (p -= p*wd*lr).
  keras = {
    names = {learning_rate = "lr", rho = "alpha", epsilon = "eps", momentum = "momentum", centered = "centered",
             weight_decay = "decoupled_weight_decay"},
    defaults = merge(RMSPROP_BASE, {lr = 1e-3, alpha = 0.9, eps = 1e-7}),
    fixed = {eps_inside = true, momentum_style = "lr_inside"},
    source = "Keras 3 optimizers/rmsprop.py (update_step), base_optimizer.py (_apply_weight_decay)",
    update = [[
variable -= variable*weight_decay*learning_rate
velocity = rho*velocity + (1 - rho)*g^2
centered: average_grad = rho*average_grad + (1 - rho)*g
denominator = velocity [- average_grad^2] + epsilon
increment = learning_rate*g/sqrt(denominator)
momentum > 0: momentum_buf = momentum*momentum_buf + increment; variable -= momentum_buf
else:         variable -= increment]],
  },
  -- TF1 tf.train.RMSPropOptimizer (training_ops ApplyRMSProp /
  -- ApplyCenteredRMSProp): the mean square starts at 1; eps inside; lr inside
  -- the momentum.  learning_rate has no default there.
  tf1 = {
    names = {learning_rate = "lr", decay = "alpha", epsilon = "eps", momentum = "momentum", centered = "centered"},
    defaults = merge(RMSPROP_BASE, {alpha = 0.9, eps = 1e-10, state_init = 1}),
    fixed = {eps_inside = true, momentum_style = "lr_inside"},
    required = {"lr"},
    source = "tf.compat.v1.train.RMSPropOptimizer; tensorflow/core/kernels/training_ops.cc ApplyRMSProp, "
      .. "ApplyCenteredRMSProp",
    update = [[
ms (starts at 1) = ms + (g^2 - ms)*(1 - decay)
centered: mg = mg + (g - mg)*(1 - decay)
mom = momentum*mom + learning_rate*g/sqrt(ms [- mg^2] + epsilon)
var = var - mom]],
  },
  -- optax.rmsprop: scale_by_rms / scale_by_stddev (eps_in_sqrt, initial_scale,
  -- bias_correction), then scale_by_learning_rate, then trace(momentum,
  -- nesterov): lr inside the momentum.  learning_rate has no default.
  optax = {
    names = {learning_rate = "lr", decay = "alpha", eps = "eps", eps_in_sqrt = "eps_inside",
             initial_scale = "state_init", centered = "centered", momentum = "momentum", nesterov = "nesterov",
             bias_correction = "bias_correction"},
    defaults = merge(RMSPROP_BASE, {alpha = 0.9, eps = 1e-8, eps_inside = true}),
    fixed = {momentum_style = "lr_inside"},
    required = {"lr"},
    source = "optax alias.py rmsprop; transform.py scale_by_rms, scale_by_stddev, trace",
    update = [[
nu (starts at initial_scale) = (1 - decay)*g^2 + decay*nu
centered: mu = (1 - decay)*g + decay*mu;  bias_correction: nu/(1 - decay^t), mu/(1 - decay^t)
u = g/sqrt(nu [- mu^2] + eps)   (eps_in_sqrt = false: g/(sqrt(nu [- mu^2]) + eps))
u = -learning_rate*u
momentum: trace = u + momentum*trace; u = trace (nesterov: u + momentum*trace)
p = p + u]],
  },
  -- MXNet 1.x optimizer_op-inl.h RMSPropUpdateKernel (n = g1*n + (1-g1)*g^2,
  -- w -= lr*g/sqrt(n + eps)) and RMSPropAlexUpdateKernel (centered, delta =
  -- g2*delta - lr*g/sqrt(n - g^2 + eps)); the gradient is rescale_grad*grad +
  -- wd*weight, then clipped; the weight is clipped to clip_weights last.
  -- gamma2 is a momentum only when centered.
  mxnet = {
    names = {learning_rate = "lr", gamma1 = "alpha", gamma2 = "momentum", epsilon = "eps", centered = "centered",
             wd = "weight_decay", rescale_grad = "grad_scale", clip_gradient = "clip_gradient",
             clip_weights = "clip_weights"},
    defaults = merge(RMSPROP_BASE, {lr = 1e-3, alpha = 0.9, momentum = 0.9, eps = 1e-8}),
    fixed = {eps_inside = true, momentum_style = "lr_inside"},
    resolve = function(h) if not h.centered then h.momentum = 0 end end,
    source = "MXNet 1.x python/mxnet/optimizer/optimizer.py RMSProp; src/operator/optimizer_op-inl.h "
      .. "RMSPropUpdateKernel, RMSPropAlexUpdateKernel",
    update = [[
grad = rescale_grad*grad + wd*weight; grad = clip(grad, clip_gradient)
n = (1 - gamma1)*grad^2 + gamma1*n
plain:    weight = weight - learning_rate*grad/sqrt(n + epsilon)
centered: g = (1 - gamma1)*grad + gamma1*g
          delta = gamma2*delta - learning_rate*grad/sqrt(n - g^2 + epsilon); weight = weight + delta
weight = clip(weight, clip_weights)
(gamma2 is used only when centered; clip_gradient and clip_weights <= 0: off, MXNet's None)]],
  },
  -- d2l 12.8 (rmsprop from scratch): s = gamma*s + (1-gamma)*g^2,
  -- p -= lr*g/sqrt(s + 1e-6).
  d2l = {
    names = {lr = "lr", gamma = "alpha", eps = "eps"},
    defaults = merge(RMSPROP_BASE, {alpha = 0.9, eps = 1e-6}),
    fixed = {eps_inside = true},
    required = {"lr"},
    source = "d2l 12.8 rmsprop (from scratch; eps = 1e-6 is written into it)",
    update = [[
s = gamma*s + (1 - gamma)*g^2
p -= lr*g/sqrt(s + eps)]],
  },
  -- lasagne/updates.py rmsprop(loss, params, learning_rate=1.0, rho=0.9, epsilon=1e-6).
  lasagne = {
    names = {learning_rate = "lr", rho = "alpha", epsilon = "eps"},
    defaults = merge(RMSPROP_BASE, {lr = 1.0, alpha = 0.9, eps = 1e-6}),
    fixed = {eps_inside = true},
    source = "lasagne/updates.py rmsprop",
    update = [[
accu = rho*accu + (1 - rho)*grad^2
param = param - learning_rate*grad/sqrt(accu + epsilon)]],
  },
  -- chainer/optimizers/rmsprop.py RMSprop(lr=0.01, alpha=0.99, eps=1e-8,
  -- eps_inside_sqrt=False).  (RMSpropGraves: the graves flavor.)
  chainer = {
    names = {lr = "lr", alpha = "alpha", eps = "eps", eps_inside_sqrt = "eps_inside"},
    defaults = merge(RMSPROP_BASE, {lr = 1e-2, alpha = 0.99, eps = 1e-8}),
    source = "chainer/optimizers/rmsprop.py",
    update = [[
ms = alpha*ms + (1 - alpha)*grad^2
param -= lr*grad/(sqrt(ms) + eps)     (eps_inside_sqrt: lr*grad/sqrt(ms + eps))]],
  },
  -- jax/example_libraries/optimizers.py rmsprop(step_size, gamma=0.9,
  -- eps=1e-8) and rmsprop_momentum(..., momentum=0.9): given a momentum, the
  -- rmsprop_momentum update, with step_size inside the buffer.
  jax = {
    names = {step_size = "lr", gamma = "alpha", eps = "eps", momentum = "momentum"},
    defaults = merge(RMSPROP_BASE, {alpha = 0.9, eps = 1e-8}),
    fixed = {eps_inside = true, momentum_style = "lr_inside"},
    required = {"lr"},
    source = "jax/example_libraries/optimizers.py rmsprop, rmsprop_momentum",
    update = [[
avg_sq_grad = avg_sq_grad*gamma + g^2*(1 - gamma)
rmsprop:          x = x - step_size*g/sqrt(avg_sq_grad + eps)
rmsprop_momentum: mom = momentum*mom + step_size*g/sqrt(avg_sq_grad + eps); x = x - mom]],
  },
  -- Caffe RMSPropSolver (src/caffe/solvers/rmsprop_solver.cpp): the history
  -- decays by rms_decay, delta outside the root; weight_decay (L2) goes into
  -- the diff first (SGDSolver::Regularize); base_lr has no usable default.
  caffe = {
    names = {base_lr = "lr", rms_decay = "alpha", delta = "eps", weight_decay = "weight_decay",
             momentum = "momentum"},
    defaults = merge(RMSPROP_BASE, {alpha = 0.99, eps = 1e-8}),
    fixed = {momentum = 0},
    fixed_why = {momentum = "Caffe's RMSPropSolver refuses it: \"Momentum cannot be used with RMSProp.\""},
    required = {"lr"},
    source = "Caffe src/caffe/solvers/rmsprop_solver.cpp; sgd_solver.cpp (Regularize)",
    update = [[
diff = diff + weight_decay*data
history = (1 - rms_decay)*diff^2 + rms_decay*history
diff = base_lr*diff/(sqrt(history) + delta)
data = data - diff
(momentum must be 0)]],
  },
  -- Hinton's Coursera lecture 6e: MeanSquare = 0.9*MeanSquare + 0.1*g^2, the
  -- gradient divided by sqrt(MeanSquare); no epsilon, the decay fixed.
  hinton = {
    names = {lr = "lr"},
    defaults = merge(RMSPROP_BASE, {alpha = 0.9, eps = 0}),
    fixed = {alpha = 0.9, eps = 0},
    required = {"lr"},
    source = "Hinton, Neural Networks for Machine Learning (Coursera, 2012), lecture 6e",
    update = [[
MeanSquare(w, t) = 0.9*MeanSquare(w, t-1) + 0.1*(dE/dw)^2
w = w - lr*(dE/dw)/sqrt(MeanSquare(w, t))
(no epsilon: a gradient that is 0 from the first step gives 0/0, as the formula does)]],
  },
  -- mlx/optimizers/optimizers.py RMSprop(learning_rate, alpha=0.99, eps=1e-8).
  mlx = {
    names = {learning_rate = "lr", alpha = "alpha", eps = "eps"},
    defaults = merge(RMSPROP_BASE, {alpha = 0.99, eps = 1e-8}),
    required = {"lr"},
    source = "mlx/optimizers/optimizers.py RMSprop",
    update = [[
v = alpha*v + (1 - alpha)*gradient^2
parameter = parameter - learning_rate*gradient/(sqrt(v) + eps)]],
  },
  -- Optimisers.jl (Flux) src/rules.jl RMSProp(eta=0.001, rho=0.9,
  -- epsilon=1e-8; centred=false).
  flux = {
    names = {eta = "lr", rho = "alpha", epsilon = "eps", centred = "centered"},
    defaults = merge(RMSPROP_BASE, {lr = 1e-3, alpha = 0.9, eps = 1e-8}),
    source = "Optimisers.jl src/rules.jl RMSProp (Flux)",
    update = [[
quad = rho*quad + (1 - rho)*dx^2
centred: lin = rho*lin + (1 - rho)*dx
x = x - dx*eta/(sqrt(quad [- lin^2]) + epsilon)]],
  },
  -- ensmallen (mlpack) rmsprop_update.hpp: RMSProp(stepSize = 0.01, batchSize,
  -- alpha = 0.99, epsilon = 1e-8).
  ensmallen = {
    names = {stepSize = "lr", alpha = "alpha", epsilon = "eps"},
    defaults = merge(RMSPROP_BASE, {lr = 1e-2, alpha = 0.99, eps = 1e-8}),
    source = "ensmallen include/ensmallen_bits/rmsprop/rmsprop_update.hpp",
    update = [[
meanSquaredGradient = alpha*meanSquaredGradient + (1 - alpha)*gradient^2
iterate -= stepSize*gradient/(sqrt(meanSquaredGradient) + epsilon)]],
  },
  -- tiny_dnn/optimizers/optimizer.h RMSprop: alpha is its learning rate
  -- (1e-4), mu the decay (0.99), eps inside the root (1e-8).
  tinydnn = {
    names = {alpha = "lr", mu = "alpha", eps = "eps"},
    defaults = merge(RMSPROP_BASE, {lr = 1e-4, alpha = 0.99, eps = 1e-8}),
    fixed = {eps_inside = true},
    source = "tiny_dnn/optimizers/optimizer.h RMSprop",
    update = [[
g = mu*g + (1 - mu)*dW^2
W -= alpha*dW/sqrt(g + eps)
(eps is a private member in tiny-dnn, fixed at 1e-8; gdlua lets it be given)]],
  },
}

local ADAGRAD_BASE = {lr = 1e-2, lr_decay = 0, weight_decay = 0, initial_accumulator_value = 0, eps = 1e-10,
                      maximize = false, eps_inside = false, momentum = 0, nesterov = false,
                      momentum_style = "pytorch", grad_scale = 1, clip_gradient = 0}

M.AdaGrad = {
  -- torch/optim/adagrad.py: clr = lr/(1 + (t-1)*lr_decay), sum += g^2,
  -- p -= clr*g/(sqrt(sum) + eps); the sum starts at initial_accumulator_value.
  pytorch = {
    names = {lr = "lr", lr_decay = "lr_decay", weight_decay = "weight_decay",
             initial_accumulator_value = "initial_accumulator_value", eps = "eps", maximize = "maximize"},
    defaults = ADAGRAD_BASE,
    source = "torch/optim/adagrad.py (PyTorch 1.13), generated from PyTorch itself",
    update = [[
g = -g if maximize; g = g + weight_decay*p
clr = lr/(1 + (step - 1)*lr_decay)
sum (starts at initial_accumulator_value) = sum + g^2
p -= clr*g/(sqrt(sum) + eps)]],
  },
  -- torch/optim adagrad.lua: the same update, eps 1e-10 outside.
  torch7 = {
    names = {learningRate = "lr", learningRateDecay = "lr_decay", weightDecay = "weight_decay"},
    defaults = merge(ADAGRAD_BASE, {lr = 1e-3}),
    source = "torch/optim adagrad.lua (Torch7)",
    update = [[
dfdx:add(weightDecay, x)
clr = learningRate/(1 + nevals*learningRateDecay)   (nevals: the steps before this one)
paramVariance = paramVariance + dfdx^2
x = x - clr*dfdx/(sqrt(paramVariance) + 1e-10)]],
  },
  -- d2l 12.7 (adagrad from scratch): s += g^2, p -= lr*g/sqrt(s + 1e-6).
  d2l = {
    names = {lr = "lr", eps = "eps"},
    defaults = merge(ADAGRAD_BASE, {eps = 1e-6}),
    fixed = {eps_inside = true},
    required = {"lr"},
    source = "d2l 12.7 adagrad (from scratch; eps = 1e-6 is written into it)",
    update = [[
s = s + g^2
p -= lr*g/sqrt(s + eps)]],
  },
  -- PuzzleLib Optimizers/AdaGrad.py: h += g^2, p -= learnRate*g/(sqrt(h) + epsilon).
  puzzlelib = {
    names = {learnRate = "lr", epsilon = "eps"},
    defaults = merge(ADAGRAD_BASE, {lr = 1e-3, eps = 1e-8}),
    infer = {"learnRate"},
    source = "PuzzleLib Optimizers/AdaGrad.py",
    update = [[
h = h + g^2
param -= learnRate*g/(sqrt(h) + epsilon)]],
  },
  -- downhill ADAGRAD: g2 += g^2, step = -lr*g/sqrt(g2 + regularizer), with
  -- downhill's momentum (lr inside).
  downhill = {
    names = {learning_rate = "lr", rms_regularizer = "eps", momentum = "momentum", nesterov = "nesterov"},
    defaults = merge(ADAGRAD_BASE, {lr = 1e-4, eps = 1e-8}),
    fixed = {eps_inside = true, momentum_style = "lr_inside"},
    source = "downhill adaptive.py ADAGRAD; base.py (momentum)",
    update = [[
g2 = g2 + g^2
step = -learning_rate*g/sqrt(g2 + rms_regularizer)
vel = momentum*vel + step;  p = p + vel   (nesterov: p + momentum*vel + step)]],
  },
}

local SGD_BASE = {lr = 1e-3, momentum = 0, dampening = 0, nesterov = false, weight_decay = 0, maximize = false,
                  grad_scale = 1, clip_gradient = 0}

M.SGD = {
  -- torch/optim/sgd.py: buf = g at the first step, then mu*buf + (1-dampening)*g;
  -- nesterov: g + mu*buf; p -= lr*g.  (PyTorch requires lr; 1e-3 here.)
  pytorch = {
    names = {lr = "lr", momentum = "momentum", dampening = "dampening", nesterov = "nesterov",
             weight_decay = "weight_decay", maximize = "maximize"},
    defaults = SGD_BASE,
  },
  -- torch/optim sgd.lua: the same, but dampening defaults to the momentum.
  torch7 = {
    names = {learningRate = "lr", momentum = "momentum", dampening = "dampening", nesterov = "nesterov",
             weightDecay = "weight_decay", lr = "lr", weight_decay = "weight_decay"},
    defaults = SGD_BASE,
    resolve = function(h, given) if not given.dampening then h.dampening = h.momentum end end,
  },
  -- d2l 11.4: p -= lr*g.
  d2l = {
    names = {lr = "lr"},
    defaults = SGD_BASE,
    required = {"lr"},
  },
}

local ADAM_BASE = {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0, amsgrad = false,
                   maximize = false, grad_scale = 1, clip_gradient = 0}

M.Adam = {
  -- torch/optim/adam.py: bias-corrected moments, denom = sqrt(v)/sqrt(1-b2^t) + eps.
  pytorch = {
    names = {lr = "lr", betas = "betas", eps = "eps", weight_decay = "weight_decay", amsgrad = "amsgrad",
             maximize = "maximize"},
    defaults = ADAM_BASE,
  },
  -- d2l 12.10 (adam from scratch): the same update with eps = 1e-6.
  d2l = {
    names = {lr = "lr", betas = "betas", eps = "eps"},
    defaults = merge(ADAM_BASE, {eps = 1e-6}),
    required = {"lr"},
  },
  -- Torch7 optim/adam.lua: eps on the plain sqrt(v), the bias corrections in the
  -- step size, learningRateDecay; weightDecay added to the gradient.
  torch7 = {
    names = {learningRate = "lr", learningRateDecay = "lr_decay", beta1 = "beta1", beta2 = "beta2",
             epsilon = "eps", weightDecay = "weight_decay"},
    defaults = merge(ADAM_BASE, {lr = 1e-3, lr_decay = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8}),
    fixed = {adam_step_bias = true},
    -- beta1, beta2 (Torch7's names) are the betas pair
    resolve = function(h)
      h.betas = {h.beta1, h.beta2}
      h.beta1, h.beta2 = nil, nil
    end,
    source = "torch/optim adam.lua (Torch7, final source)",
    update = [[
clr = learningRate / (1 + (t-1)*learningRateDecay);  g = g + weightDecay*x
m = beta1*m + (1-beta1)*g;  v = beta2*v + (1-beta2)*g^2
x = x - clr*sqrt(1-beta2^t)/(1-beta1^t) * m/(sqrt(v) + epsilon)]],
  },
}

M.AdamW = {
  -- torch/optim/adamw.py: p *= 1 - lr*weight_decay, then Adam.
  pytorch = {
    names = {lr = "lr", betas = "betas", eps = "eps", weight_decay = "weight_decay",
             amsgrad = "amsgrad", maximize = "maximize"},
    defaults = merge(ADAM_BASE, {weight_decay = 1e-2}),
  },
}

local ADADELTA_BASE = {lr = 1.0, rho = 0.9, eps = 1e-6, weight_decay = 0, maximize = false, grad_scale = 1,
                       clip_gradient = 0}

M.AdaDelta = {
  -- torch/optim/adadelta.py: delta = sqrt(acc + eps)/sqrt(v + eps)*g, p -= lr*delta.
  pytorch = {
    names = {lr = "lr", rho = "rho", eps = "eps", weight_decay = "weight_decay", maximize = "maximize"},
    defaults = ADADELTA_BASE,
  },
  -- d2l 12.9 (adadelta from scratch): the same with lr 1 and eps 1e-5.
  d2l = {
    names = {rho = "rho", eps = "eps"},
    defaults = merge(ADADELTA_BASE, {eps = 1e-5}),
  },
  -- Torch7 optim/adadelta.lua: Zeiler's form without a learning rate.
  torch7 = {
    names = {rho = "rho", eps = "eps", weightDecay = "weight_decay"},
    defaults = ADADELTA_BASE,
    fixed = {lr = 1.0},
    source = "torch/optim adadelta.lua (Torch7, final source)",
    update = [[
g = g + weightDecay*x;  v = rho*v + (1-rho)*g^2
delta = sqrt(acc + eps)/sqrt(v + eps)*g;  x = x - delta;  acc = rho*acc + (1-rho)*delta^2]],
  },
}

local SMORMS3_BASE = {lr = 1e-3, eps = 1e-16, weight_decay = 0, maximize = false, grad_scale = 1, clip_gradient = 0,
                      memory_clipped = false}

local FUNK_UPDATE = [[
r = 1/(mem + 1)          (mem starts at 1)
g = (1 - r)*g + r*grad;  g2 = (1 - r)*g2 + r*grad^2
x = g^2/(g2 + eps)
p -= grad*min(lr, x)/(sqrt(g2) + eps)
mem = 1 + mem*(1 - x)    (the unclipped ratio)]]

M.SMORMS3 = {
  -- Simon Funk (2015) as in PuzzleLib's SMORMS3 kernel: mem starts at 1,
  -- r = 1/(mem+1), mg and ms averaged with r, q = mg^2/(ms + eps),
  -- p -= g*min(lr, q)/(sqrt(ms) + eps), mem = 1 + mem*(1 - q).
  pytorch = {
    names = {lr = "lr", eps = "eps", weight_decay = "weight_decay", maximize = "maximize"},
    defaults = SMORMS3_BASE,
    source = "Simon Funk, RMSprop loses to SMORMS3 - Beware the Epsilon! (2015), under PyTorch's names",
    update = FUNK_UPDATE,
  },
  puzzlelib = {
    names = {learnRate = "lr", epsilon = "eps"},
    defaults = SMORMS3_BASE,
    infer = {"learnRate"},
    source = "PuzzleLib Optimizers/SMORMS3.py",
    update = FUNK_UPDATE,
  },
  -- chainer/optimizers/smorms3.py SMORMS3(lr=0.001, eps=1e-16): Funk's.
  chainer = {
    names = {lr = "lr", eps = "eps"},
    defaults = SMORMS3_BASE,
    source = "chainer/optimizers/smorms3.py",
    update = FUNK_UPDATE,
  },
  -- ensmallen smorms3_update.hpp: the ratio is clipped to stepSize *before*
  -- the memory update (mem %= 1 - x with x = min(q, stepSize)).
  ensmallen = {
    names = {stepSize = "lr", epsilon = "eps"},
    defaults = SMORMS3_BASE,
    fixed = {memory_clipped = true},
    source = "ensmallen include/ensmallen_bits/smorms3/smorms3_update.hpp",
    update = [[
r = 1/(mem + 1)          (mem starts at 1)
g = (1 - r)%g + r%gradient;  g2 = (1 - r)%g2 + r%gradient^2
x = min(g^2/(g2 + epsilon), stepSize)
iterate -= gradient%x/(sqrt(g2) + epsilon)
mem = 1 + mem%(1 - x)    (the clipped ratio)]],
  },
}

-- ------------------------------------------------- the rest of torch.optim
-- PyTorch 1.13's torch/optim/{adamax,asgd,nadam,radam,rprop}.py: PyTorch's names
-- and defaults only (these have no other systems' flavors here).  `kinds`
-- overrides the value checks above for this optimizer's own meaning of a name
-- (ASGD's alpha is a power, not a decay).
M.kinds.lambd = "number"
M.kinds.t0 = "number"
M.kinds.momentum_decay = "nonneg"
M.kinds.etas = "etas"
M.kinds.step_sizes = "step_sizes"

local BASE_MORE = {grad_scale = 1, clip_gradient = 0, maximize = false, weight_decay = 0}

M.Adamax = {
  -- adamax.py: m = b1*m + (1-b1)*g; u = max(b2*u, |g| + eps); p -= lr/(1-b1^t)*m/u.
  pytorch = {
    names = {lr = "lr", betas = "betas", eps = "eps", weight_decay = "weight_decay", maximize = "maximize"},
    defaults = merge(BASE_MORE, {lr = 2e-3, betas = {0.9, 0.999}, eps = 1e-8}),
  },
}

M.ASGD = {
  -- asgd.py (Polyak-Juditsky averaging, Bottou's schedule): p *= 1 - lambd*eta;
  -- p -= eta*g; ax += (p - ax)*mu; then eta = lr/(1 + lambd*lr*t)^alpha,
  -- mu = 1/max(1, t - t0): this step's eta and mu come from the previous one.
  pytorch = {
    names = {lr = "lr", lambd = "lambd", alpha = "alpha", t0 = "t0", weight_decay = "weight_decay",
             maximize = "maximize"},
    defaults = merge(BASE_MORE, {lr = 1e-2, lambd = 1e-4, alpha = 0.75, t0 = 1e6}),
    kinds = {alpha = "number"},
  },
}

M.NAdam = {
  -- nadam.py (Dozat 2016, with momentum_decay's mu schedule); 1.13 takes no maximize.
  pytorch = {
    names = {lr = "lr", betas = "betas", eps = "eps", weight_decay = "weight_decay",
             momentum_decay = "momentum_decay"},
    defaults = merge(BASE_MORE, {lr = 2e-3, betas = {0.9, 0.999}, eps = 1e-8, momentum_decay = 4e-3}),
  },
}

M.RAdam = {
  -- radam.py (Liu et al. 2019): Adam's moments; the adaptive step only once the
  -- SMA length rho_t > 5, else a bias-corrected momentum step.  No maximize in 1.13.
  pytorch = {
    names = {lr = "lr", betas = "betas", eps = "eps", weight_decay = "weight_decay"},
    defaults = merge(BASE_MORE, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8}),
  },
}

M.Rprop = {
  -- rprop.py (Riedmiller & Braun 1993, Rprop without weight backtracking):
  -- step sizes start at lr (a later lr change does not reach them, as in PyTorch).
  pytorch = {
    names = {lr = "lr", etas = "etas", step_sizes = "step_sizes", maximize = "maximize"},
    defaults = merge(BASE_MORE, {lr = 1e-2, etas = {0.5, 1.2}, step_sizes = {1e-6, 50}}),
  },
}

-- ------------------------------------------------- what papers compare against
-- Each optimizer in its reference implementation's names and defaults; the
-- math is in src/kernels/optim.h (GD_DEFINE_OPTIM_KERNELS_PAPERS).
M.kinds.betas3 = "betas3"
M.kinds.warmup_steps = "count"
M.kinds.r = "number"
M.kinds.weight_lr_power = "number"
M.kinds.weight_decouple = "bool"
M.kinds.fixed_decay = "bool"
M.kinds.rectify = "bool"
M.kinds.degenerated_to_sgd = "bool"
M.kinds.no_prox = "bool"
M.kinds.max_grad_norm = "nonneg"

local BASE_PAPERS = {grad_scale = 1, clip_gradient = 0, maximize = false, weight_decay = 0}

M.Lion = {
  -- google/automl lion/lion_pytorch.py (Chen et al. 2023, "Symbolic Discovery of
  -- Optimization Algorithms"): p *= 1 - lr*wd; p -= lr*sign(b1*m + (1-b1)*g);
  -- m = b2*m + (1-b2)*g.  weight_decay is decoupled.
  pytorch = {
    names = {lr = "lr", betas = "betas", weight_decay = "weight_decay"},
    defaults = merge(BASE_PAPERS, {lr = 1e-4, betas = {0.9, 0.99}}),
  },
}

M.AdaBelief = {
  -- adabelief_pytorch 0.2.0 AdaBelief.py (Zhuang et al. 2020): the second moment
  -- of g - m; eps added to it in place every step; RAdam's rectification.
  pytorch = {
    names = {lr = "lr", betas = "betas", eps = "eps", weight_decay = "weight_decay", amsgrad = "amsgrad",
             weight_decouple = "weight_decouple", fixed_decay = "fixed_decay", rectify = "rectify",
             degenerated_to_sgd = "degenerated_to_sgd"},
    defaults = merge(BASE_PAPERS, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-16, amsgrad = false,
                                   weight_decouple = true, fixed_decay = false, rectify = true,
                                   degenerated_to_sgd = true}),
  },
}

M.Adan = {
  -- sail-sg/Adan adan.py (Xie et al. 2022): betas = (gradient, difference,
  -- second moment); max_grad_norm clips the global gradient norm first
  -- (clip = min(1, max_grad_norm / (norm + eps))); weight_decay is decoupled,
  -- proximal (p /= 1 + lr*wd) unless no_prox.
  pytorch = {
    names = {lr = "lr", betas = "betas3", eps = "eps", weight_decay = "weight_decay",
             max_grad_norm = "max_grad_norm", no_prox = "no_prox"},
    defaults = merge(BASE_PAPERS, {lr = 1e-3, betas3 = {0.98, 0.92, 0.99}, eps = 1e-8, max_grad_norm = 0,
                                   no_prox = false}),
  },
}

M.NAdamW = {
  -- PyTorch 2's torch.optim.NAdam(decoupled_weight_decay = True): p *= 1 - lr*wd,
  -- then NAdam with PyTorch 2's mu product (mu_product * mu_next).
  pytorch = {
    names = {lr = "lr", betas = "betas", eps = "eps", weight_decay = "weight_decay",
             momentum_decay = "momentum_decay"},
    defaults = merge(BASE_PAPERS, {lr = 2e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 1e-2,
                                   momentum_decay = 4e-3}),
  },
}

local SF_BASE = merge(BASE_PAPERS, {warmup_steps = 0, r = 0, weight_lr_power = 2})

M.AdamWScheduleFree = {
  -- facebookresearch/schedule_free adamw_schedulefree.py (Defazio et al. 2024,
  -- "The Road Less Scheduled"): p holds y; state z (starting at p) and exp_avg_sq;
  -- train()/eval() move p between y and x.  weight_decay is taken at y.
  pytorch = {
    names = {lr = "lr", betas = "betas", eps = "eps", weight_decay = "weight_decay",
             warmup_steps = "warmup_steps", r = "r", weight_lr_power = "weight_lr_power"},
    defaults = merge(SF_BASE, {lr = 0.0025, betas = {0.9, 0.999}, eps = 1e-8}),
  },
}

M.SGDScheduleFree = {
  -- facebookresearch/schedule_free sgd_schedulefree.py: momentum is the y/z
  -- interpolation (0 < momentum < 1).
  pytorch = {
    names = {lr = "lr", momentum = "momentum", weight_decay = "weight_decay", warmup_steps = "warmup_steps",
             r = "r", weight_lr_power = "weight_lr_power"},
    defaults = merge(SF_BASE, {lr = 1.0, momentum = 0.9}),
    kinds = {momentum = "open_unit"},
  },
}


-- ------------------------------------------------------------ PyTorch's names
-- "PyTorch's keyword names are accepted in every flavor for what the flavor
-- has": a PyTorch name is added to a flavor's names when the flavor has that
-- value under a name of its own.  Where the system's own name is spelled like
-- a PyTorch name but means something else (tiny-dnn's alpha is its learning
-- rate; Keras's weight_decay is decoupled), the system's meaning wins and the
-- clash is recorded in `clashes` (shown by help and docs/flavors.md).
for _, optimizer in ipairs {"RMSProp", "AdaGrad", "SMORMS3"} do
  local fl = M[optimizer]
  local pt = fl.pytorch.names
  for _, spec in pairs(fl) do
    local own, has = {}, {}
    for k, canon in pairs(spec.names) do own[k] = canon; has[canon] = true end
    spec.own_names = own
    spec.clashes = {}
    for k, canon in pairs(pt) do
      if own[k] == nil then
        if has[canon] then spec.names[k] = canon end
      elseif own[k] ~= canon then
        spec.clashes[k] = {means = own[k], pytorch = canon}
      end
    end
  end
end

-- ------------------------------------------------------------- the registry

local function copy(v)
  if type(v) ~= "table" then return v end
  local r = {}
  for k, x in pairs(v) do r[k] = copy(x) end
  return r
end

--- gd.optim.flavors(name) -> {[flavor] = {names, pytorch_names, defaults,
-- switches, required, source, update, clashes, infer}}: a fresh copy of the
-- registry for one optimizer ("RMSProp", "AdaGrad", "SMORMS3", ...).
function M.registry(name)
  local fl = type(name) == "string" and M[name] or nil
  if type(fl) ~= "table" or name == "kinds" or type(fl.pytorch) ~= "table" then
    local valid = {}
    for k, v in pairs(M) do if type(v) == "table" and type(v.pytorch) == "table" then valid[#valid + 1] = k end end
    table.sort(valid)
    return nil, valid
  end
  local out = {}
  for flavor, spec in pairs(fl) do
    local own = spec.own_names or spec.names
    local pt = {}
    for k, canon in pairs(spec.names) do if own[k] == nil then pt[k] = canon end end
    local defaults = copy(spec.defaults)
    for k, v in pairs(spec.fixed or {}) do defaults[k] = v end
    for _, k in ipairs(spec.required or {}) do defaults[k] = nil end
    out[flavor] = {names = copy(own), pytorch_names = pt, defaults = defaults, switches = copy(spec.fixed or {}),
                   required = copy(spec.required or {}), source = spec.source, update = spec.update,
                   clashes = copy(spec.clashes or {}), infer = copy(spec.infer) or false,
                   fixed_why = copy(spec.fixed_why or {})}
  end
  return out
end

local check = require "gd.check"
check.register_internal() -- errors of gd.optim.flavors(name) point at its caller

return setmetatable(M, {__call = function(_, name)
  local r, valid = M.registry(name)
  if not r then check.raise("gd.optim.flavors: " .. check.unknown_message("optimizer", tostring(name), valid)) end
  return r
end})
