--- gd.optim.flavors: each system's optimizer convention as data.
--
-- The math lives once, in src/kernels/optim.h, with switches; a flavor is a set
-- of names (that system's keyword -> gdlua's canonical, PyTorch name),
-- defaults, fixed switches, and at most a small `resolve` step for a name
-- that is not a plain alias (downhill's half-life).  PyTorch's own names are
-- accepted in every flavor for whatever that flavor has.
--
-- Canonical names (opt.hyper):
--   lr, alpha (RMSProp decay of the old mean), eps, weight_decay (L2, added to
--   the gradient), decoupled_weight_decay (p -= lr*wd*p), momentum, centered,
--   maximize, nesterov, dampening, lr_decay, initial_accumulator_value /
--   state_init (first value of the square average), rho, betas, amsgrad,
--   eps_inside (sqrt(v + eps) instead of sqrt(v) + eps), momentum_style
--   ("pytorch": buf = mu*buf + g/d, p -= lr*buf; "lr_inside": buf = mu*buf +
--   lr*g/d, p -= buf), bias_correction, grad_scale, clip_gradient.
local M = {}

-- The hyperparameters each optimizer knows, with their kind of value:
--   "rate" >= 0 finite; "decay" in [0, 1); "nonneg" >= 0; "bool"; "number";
--   "betas" two decays; "style" a momentum style; "halflife" > 0.
M.kinds = {
  lr = "rate", alpha = "decay", eps = "nonneg", weight_decay = "nonneg", decoupled_weight_decay = "nonneg",
  momentum = "nonneg", centered = "bool", maximize = "bool", nesterov = "bool", dampening = "number",
  lr_decay = "nonneg", initial_accumulator_value = "nonneg", state_init = "nonneg", rho = "decay",
  betas = "betas", amsgrad = "bool", eps_inside = "bool", momentum_style = "style",
  bias_correction = "bool", grad_scale = "number", clip_gradient = "number", rms_halflife = "halflife",
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
                      clip_gradient = 0}

M.RMSProp = {
  -- torch/optim/rmsprop.py (PyTorch 1.13): eps outside the root; momentum
  -- buffer of g/d, lr applied outside it.
  pytorch = {
    names = {lr = "lr", alpha = "alpha", eps = "eps", weight_decay = "weight_decay", momentum = "momentum",
             centered = "centered", maximize = "maximize"},
    defaults = RMSPROP_BASE,
  },
  -- torch/optim rmsprop.lua (Torch7): state m starts at initialMean; no
  -- centering, no momentum; eps outside.
  torch7 = {
    names = {learningRate = "lr", alpha = "alpha", epsilon = "eps", weightDecay = "weight_decay",
             initialMean = "state_init", lr = "lr", eps = "eps", weight_decay = "weight_decay"},
    defaults = merge(RMSPROP_BASE, {lr = 1e-2, alpha = 0.99, eps = 1e-8}),
  },
  -- PuzzleLib Optimizers/RMSProp.py: ms = factor*ms + (1-factor)*g^2,
  -- p -= learnRate*g/(sqrt(ms) + epsilon).
  puzzlelib = {
    names = {learnRate = "lr", factor = "alpha", epsilon = "eps", lr = "lr", alpha = "alpha", eps = "eps"},
    defaults = merge(RMSPROP_BASE, {lr = 1e-3, alpha = 0.9, eps = 1e-5}),
  },
  -- Graves 2013, eq. 38-41: centered, eps inside the root, momentum with the
  -- learning rate inside: d = mom*d - lr*g/sqrt(n - gm^2 + eps); w += d.
  graves = {
    names = {learnRate = "lr", alpha = "alpha", momRate = "momentum", epsilon = "eps",
             lr = "lr", eps = "eps", momentum = "momentum"},
    defaults = merge(RMSPROP_BASE, {lr = 1e-4, alpha = 0.95, momentum = 0.9, eps = 1e-4}),
    fixed = {centered = true, eps_inside = true, momentum_style = "lr_inside"},
  },
  -- downhill (adaptive.py RMSProp, base.py momentum): always centered,
  -- rms = sqrt(g2 - g1^2 + rms_regularizer), vel = mu*vel - lr*g/rms,
  -- p += vel (nesterov: p += mu*vel - lr*g/rms); ewma = exp(-ln 2 / halflife).
  downhill = {
    names = {learning_rate = "lr", rms_halflife = "rms_halflife", rms_regularizer = "eps",
             momentum = "momentum", nesterov = "nesterov", lr = "lr", eps = "eps"},
    defaults = merge(RMSPROP_BASE, {lr = 1e-4, rms_halflife = 14, eps = 1e-8, momentum = 0}),
    fixed = {centered = true, eps_inside = true, momentum_style = "lr_inside"},
    -- the half-life, a downhill name, sets alpha
    resolve = function(h)
      h.alpha = math.exp(-math.log(2) / h.rms_halflife)
      h.rms_halflife = nil
    end,
    exclusive = {{"rms_halflife", "alpha"}},
  },
  -- Keras 3 optimizers/rmsprop.py: eps inside; increment = lr*g/sqrt(...),
  -- momentum buffer of increments; weight_decay is decoupled (p -= p*wd*lr).
  keras = {
    names = {learning_rate = "lr", rho = "alpha", epsilon = "eps", momentum = "momentum", centered = "centered",
             weight_decay = "decoupled_weight_decay", lr = "lr", eps = "eps"},
    defaults = merge(RMSPROP_BASE, {lr = 1e-3, alpha = 0.9, eps = 1e-7}),
    fixed = {eps_inside = true, momentum_style = "lr_inside"},
  },
  -- TF1 tf.train.RMSPropOptimizer (training_ops ApplyRMSProp /
  -- ApplyCenteredRMSProp): the mean square starts at 1; eps inside; lr inside
  -- the momentum.  learning_rate has no default there.
  tf1 = {
    names = {learning_rate = "lr", decay = "alpha", epsilon = "eps", momentum = "momentum", centered = "centered",
             lr = "lr", eps = "eps"},
    defaults = merge(RMSPROP_BASE, {alpha = 0.9, eps = 1e-10, state_init = 1}),
    required = {"lr"},
  },
  -- optax.rmsprop: scale_by_rms / scale_by_stddev (eps_in_sqrt, initial_scale,
  -- bias_correction), then scale_by_learning_rate, then trace(momentum,
  -- nesterov): lr inside the momentum.  learning_rate has no default.
  optax = {
    names = {learning_rate = "lr", decay = "alpha", eps = "eps", eps_in_sqrt = "eps_inside",
             initial_scale = "state_init", centered = "centered", momentum = "momentum", nesterov = "nesterov",
             bias_correction = "bias_correction", lr = "lr"},
    defaults = merge(RMSPROP_BASE, {alpha = 0.9, eps = 1e-8, eps_inside = true}),
    fixed = {momentum_style = "lr_inside"},
    required = {"lr"},
  },
  -- MXNet rmsprop_update (n = g1*n + (1-g1)*g^2, w -= lr*g/sqrt(n + eps)) and
  -- rmspropalex_update (centered, delta = g2*delta - lr*g/sqrt(n - g^2 + eps));
  -- gamma2 is a momentum only when centered.
  mxnet = {
    names = {learning_rate = "lr", gamma1 = "alpha", gamma2 = "momentum", epsilon = "eps", centered = "centered",
             wd = "weight_decay", rescale_grad = "grad_scale", clip_gradient = "clip_gradient",
             lr = "lr", eps = "eps", weight_decay = "weight_decay"},
    defaults = merge(RMSPROP_BASE, {lr = 1e-3, alpha = 0.9, momentum = 0.9, eps = 1e-8}),
    fixed = {eps_inside = true, momentum_style = "lr_inside"},
    resolve = function(h) if not h.centered then h.momentum = 0 end end,
  },
  -- d2l 12.8 (rmsprop from scratch): s = gamma*s + (1-gamma)*g^2,
  -- p -= lr*g/sqrt(s + 1e-6).
  d2l = {
    names = {lr = "lr", gamma = "alpha", eps = "eps"},
    defaults = merge(RMSPROP_BASE, {alpha = 0.9, eps = 1e-6}),
    fixed = {eps_inside = true},
    required = {"lr"},
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
  },
  -- torch/optim adagrad.lua: the same update, eps 1e-10 outside.
  torch7 = {
    names = {learningRate = "lr", learningRateDecay = "lr_decay", weightDecay = "weight_decay",
             lr = "lr", lr_decay = "lr_decay", weight_decay = "weight_decay"},
    defaults = merge(ADAGRAD_BASE, {lr = 1e-3}),
  },
  -- d2l 12.7 (adagrad from scratch): s += g^2, p -= lr*g/sqrt(s + 1e-6).
  d2l = {
    names = {lr = "lr", eps = "eps"},
    defaults = merge(ADAGRAD_BASE, {eps = 1e-6}),
    fixed = {eps_inside = true},
    required = {"lr"},
  },
  -- PuzzleLib Optimizers/AdaGrad.py: h += g^2, p -= learnRate*g/(sqrt(h) + epsilon).
  puzzlelib = {
    names = {learnRate = "lr", epsilon = "eps", lr = "lr", eps = "eps"},
    defaults = merge(ADAGRAD_BASE, {lr = 1e-3, eps = 1e-8}),
  },
  -- downhill ADAGRAD: g2 += g^2, step = -lr*g/sqrt(g2 + regularizer), with
  -- downhill's momentum (lr inside).
  downhill = {
    names = {learning_rate = "lr", rms_regularizer = "eps", momentum = "momentum", nesterov = "nesterov",
             lr = "lr", eps = "eps"},
    defaults = merge(ADAGRAD_BASE, {lr = 1e-4, eps = 1e-8}),
    fixed = {eps_inside = true, momentum_style = "lr_inside"},
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
}

local SMORMS3_BASE = {lr = 1e-3, eps = 1e-16, weight_decay = 0, maximize = false, grad_scale = 1, clip_gradient = 0}

M.SMORMS3 = {
  -- Simon Funk (2015) as in PuzzleLib's SMORMS3 kernel: mem starts at 1,
  -- r = 1/(mem+1), mg and ms averaged with r, q = mg^2/(ms + eps),
  -- p -= g*min(lr, q)/(sqrt(ms) + eps), mem = 1 + mem*(1 - q).
  pytorch = {
    names = {lr = "lr", eps = "eps", weight_decay = "weight_decay", maximize = "maximize"},
    defaults = SMORMS3_BASE,
  },
  puzzlelib = {
    names = {learnRate = "lr", epsilon = "eps", lr = "lr", eps = "eps"},
    defaults = SMORMS3_BASE,
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

return M
