/*
 * optim.h: the per-element math of every optimizer, once, for the CPU loops
 * (src/optim.c) and the CUDA kernels (cuda/optim.cu).
 *
 * The RMSProp family
 * ------------------
 * Every framework's RMSProp (and AdaGrad, which is RMSProp with a running sum)
 * is one update with switches.  With g the gradient and p the parameter:
 *
 *   g  = clip(scale * g + wd * p)          scale: -1 to maximize, MXNet's rescale_grad;
 *                                          wd: L2 decay; clip: MXNet's clip_gradient, applied
 *                                          after the decay as MXNet does (optimizer_op-inl.h
 *                                          RMSPropUpdateKernel: grad_rescaled = rescale_grad*grad
 *                                          + wd*weight, then clip::Map(grad_rescaled, clip))
 *   p  = p - dwd * p                       decoupled decay (Keras): dwd = lr * weight_decay
 *   v  = decay * v + gain * g^2            RMSProp: decay = alpha, gain = 1 - alpha
 *                                          AdaGrad: decay = gain = 1 (a running sum)
 *   m  = decay * m + gain * g              centered only (Graves 2013, eq. 38-41)
 *   s  = v / bc - centered * (m / bc)^2    bc: Optax's bias correction 1 - decay^t (else 1)
 *   d  = sqrt(s + eps)   (eps inside: TF1, Keras, MXNet, Graves, downhill, Optax, d2l)
 *      = sqrt(s) + eps   (eps outside: PyTorch, Torch7, PuzzleLib)
 *   u  = g / d
 * then one of the momentum conventions:
 *   none         p -= lr * u
 *   PyTorch      buf = mu * buf + u;       p -= lr * buf
 *   lr inside    buf = mu * buf + lr * u;  p -= buf          (TF1, Keras, MXNet, Graves, Optax)
 *   Nesterov     buf = mu * buf + lr * u;  p -= lr * u + mu * buf
 *                (downhill's nesterov, Optax's trace(nesterov=True); downhill's
 *                 velocity is -buf, so its `p += vel` is the lr-inside form)
 * and last p = clip(p) with MXNet's clip_weights (off: an infinite limit).
 *
 * Which system is which (lua/gd/optim/flavors.lua holds each one's names,
 * defaults and source; docs/flavors.md shows each update in its own notation):
 *   eps outside: PyTorch, Torch7, PuzzleLib, Chainer (default), Caffe, MLX,
 *                Flux (Optimisers.jl), ensmallen
 *   eps inside:  TF1, Keras, MXNet, Graves / Chainer RMSpropGraves, downhill,
 *                Optax (default), d2l, Lasagne, JAX, tiny-dnn
 *   no eps:      Hinton's lecture 6e (eps = 0)
 *   lr inside the momentum buffer: TF1, Keras, MXNet, Graves, downhill, Optax, JAX
 *   first square average 1: TF1 (ms = ones); Torch7's initialMean, Optax's
 *                initial_scale choose it
 *
 * The switches are compile-time constants in the loops that call these
 * functions (one specialised loop per combination), so each loop vectorises.
 *
 * Sources: torch/optim/{rmsprop,adagrad,adam,adamw,adadelta,sgd}.py (PyTorch
 * 1.13); torch/optim rmsprop.lua, adagrad.lua (Torch7); PuzzleLib
 * Optimizers/{RMSProp,AdaGrad,SMORMS3}.py; Graves, "Generating Sequences With
 * Recurrent Neural Networks" (2013), eq. 38-41; downhill/adaptive.py; Keras 3
 * optimizers/rmsprop.py; TF1 training_ops ApplyRMSProp /
 * ApplyCenteredRMSProp; optax transform.scale_by_rms / scale_by_stddev /
 * trace; MXNet rmsprop_update / rmspropalex_update; d2l 12.7 (AdaGrad) and
 * 12.8 (RMSProp); Simon Funk, "RMSprop loses to SMORMS3 - Beware the Epsilon!"
 * (2015) and PuzzleLib's SMORMS3 kernel; lasagne/updates.py rmsprop;
 * chainer/optimizers/{rmsprop,rmsprop_graves,smorms3}.py;
 * jax/example_libraries/optimizers.py rmsprop, rmsprop_momentum; Caffe
 * src/caffe/solvers/rmsprop_solver.cpp; Hinton, Coursera "Neural Networks for
 * Machine Learning" lecture 6e; mlx/optimizers/optimizers.py RMSprop;
 * Optimisers.jl src/rules.jl RMSProp; ensmallen rmsprop_update.hpp,
 * smorms3_update.hpp; tiny_dnn/optimizers/optimizer.h RMSprop.
 */
#ifndef GD_KERNELS_OPTIM_H
#define GD_KERNELS_OPTIM_H

#include "hd.h"

/* momentum conventions, as resolved for one step */
enum { GD_MST_NONE = 0, GD_MST_PYTORCH = 1, GD_MST_LR_INSIDE = 2, GD_MST_NESTEROV = 3 };

/* Per-step coefficients, computed once per step from the hyperparameters and
   the step count (src/optim.c), in double; each loop converts them to its
   arithmetic type. */
#define GD_DEFINE_OPTIM_COEF(T, S)                                                                 \
    typedef struct gd_optim_coef_##S {                                                             \
        T lr;          /* this step's learning rate (AdaGrad's lr_decay applied) */                \
        T decay, gain; /* v = decay*v + gain*g^2 (Adam: beta2, 1-beta2) */                         \
        T beta1, one_minus_beta1;                                                                  \
        T eps, wd, dwd; /* coupled decay; decoupled: p -= dwd*p */                                 \
        T momentum, one_minus_dampening;                                                           \
        T scale, clip;  /* g = clip(scale*g + wd*p); clip = inf when off */                        \
        T clip_w;       /* RMSProp: p = clip(p) after the update (MXNet's clip_weights) */          \
        int clip_weights; /* RMSProp: whether clip_w applies */                                    \
        T inv_bias;     /* 1 / (1 - decay^t) for Optax's bias correction, else 1 */                \
        T step_size;    /* Adam: lr / (1 - beta1^t) */                                             \
        T inv_bias2_sqrt; /* Adam: 1 / sqrt(1 - beta2^t) */                                        \
        int first;      /* SGD: the momentum buffer starts as the first gradient */                \
        int memory_clipped; /* SMORMS3: the memory decays by the clipped ratio (ensmallen) */      \
        /* the rest of torch.optim (appended: see the kernels at the end of this file) */          \
        T bias1, bias2;     /* RAdam / NAdam: 1 - beta1^t, 1 - beta2^t */                          \
        T sqrt_bias2, rect; /* RAdam: sqrt(1 - beta2^t), the variance rectification */             \
        T c_grad, c_avg;    /* NAdam: the coefficients of g/denom and m/denom */                   \
        T shrink, avg_mu;   /* ASGD: 1 - lambd*eta; the averaging weight mu */                     \
        T etaminus, etaplus, step_min, step_max; /* Rprop */                                       \
        /* what papers compare against (appended: the kernels at the end of this file) */          \
        T beta2b, one_minus_beta2b; /* Lion/AdaBelief/Adan's second beta (Adan: the diff's) */     \
        T beta3, one_minus_beta3;   /* Adan's third beta */                                        \
        T sqrt_bias;            /* AdaBelief: sqrt(1 - beta2^t); Adan: sqrt(1 - beta3^t) */        \
        T step2;                /* Adan: lr*beta2/(1-beta2^t); AdaBelief: the rectified step */    \
        T prox_div;             /* Adan: 1 + lr*wd (proximal decay), or 0 */                       \
        T ckp1, y_coef;         /* Schedule-Free: the averaging weight, lr*(beta*(1-ckp1) - 1) */  \
    } gd_optim_coef_##S;

GD_DEFINE_OPTIM_COEF(double, d)
typedef gd_optim_coef_d gd_optim_coef;

/* The resolved switches and coefficients of one step (src/optim.c). */
typedef struct gd_optim_plan {
    int kind, centered, eps_inside, mst, use_momentum, nesterov, amsgrad;
    gd_optim_coef k;
    int rectify;   /* RAdam: rho_t > 5, the adaptive step */
    int avg_copy;  /* ASGD: mu == 1, the average is a copy of the parameter */
    int belief_mode; /* AdaBelief: GD_BELIEF_* (plain, rectified adaptive, rectified SGD, none) */
} gd_optim_plan;

enum { GD_BELIEF_PLAIN = 0, GD_BELIEF_RECT = 1, GD_BELIEF_SGD = 2, GD_BELIEF_NONE = 3 };
/* Adan's weight decay: none, no_prox's p *= 1 - lr*wd first, or the proximal p /= 1 + lr*wd last */
enum { GD_ADAN_NONE = 0, GD_ADAN_DECOUPLED = 1, GD_ADAN_PROXIMAL = 2 };

/* T: the storage type, R: the arithmetic type (float for float32, as PyTorch
   computes; double for float64).  Coefficients convert once per loop (the
   compiler hoists the casts). */
#define GD_DEFINE_OPTIM_KERNELS(T, S, R, SQRT)                                                    \
    /* the gradient as every update sees it: scaled, L2-decayed, then clipped                     \
       (MXNet's order: the decay term is clipped with the gradient) */                            \
    GD_HD static inline R gd_optim_clip_##S(R g, const gd_optim_coef *k)                          \
    {                                                                                             \
        const R clip = (R)k->clip;                                                                \
        return g < -clip ? -clip : (g > clip ? clip : g);                                         \
    }                                                                                             \
    /* The coupled L2 decay is a switch (whether (R)wd != 0): the CPU loops of Adan,              \
       AdaBelief, RMSProp and SMORMS3 make it a compile-time constant, one loop each              \
       way.  Tested at run time in a body too large for gcc 12's loop unswitching                 \
       (max-unswitch-insns), the conditional multiply-add cannot be if-converted under            \
       -ftrapping-math ('tree could trap') and the loop does not vectorise (issue 15:             \
       AdaBelief with amsgrad, centered RMSProp with Nesterov, SMORMS3, Adan before). */          \
    GD_HD static inline int gd_optim_coupled_##S(const gd_optim_coef *k)                          \
    {                                                                                             \
        return (R)k->wd != 0;                                                                     \
    }                                                                                             \
    GD_HD static inline R gd_optim_grad_sw_##S(R g, R p, const gd_optim_coef *k,                  \
                                               const int coupled)                                 \
    {                                                                                             \
        g = g * (R)k->scale;                                                                      \
        if (coupled) g = g + (R)k->wd * p;                                                        \
        return gd_optim_clip_##S(g, k);                                                           \
    }                                                                                             \
    GD_HD static inline R gd_optim_grad_##S(R g, R p, const gd_optim_coef *k)                     \
    {                                                                                             \
        return gd_optim_grad_sw_##S(g, p, k, gd_optim_coupled_##S(k));                            \
    }                                                                                             \
                                                                                                  \
    /* RMSProp / AdaGrad, every convention (see the top of this file) */                          \
    GD_HD_ALWAYS_INLINE                                                                           \
    GD_HD static inline void gd_rmsprop_elem_##S(T *p, R g, T *v, T *m, T *buf,                   \
                                                 const gd_optim_coef *k, const int centered,      \
                                                 const int eps_inside, const int mst,             \
                                                 const int clip_weights, const int coupled)       \
    {                                                                                             \
        const R lr = (R)k->lr, decay = (R)k->decay, gain = (R)k->gain, eps = (R)k->eps;           \
        const R dwd = (R)k->dwd, mu = (R)k->momentum, inv_bias = (R)k->inv_bias;                  \
        R x = *p;                                                                                 \
        g = gd_optim_grad_sw_##S(g, x, k, coupled);                                               \
        if (dwd != 0) x = x - dwd * x;                                                            \
        R vv = decay * *v + gain * g * g;                                                         \
        *v = vv;                                                                                  \
        R s = vv * inv_bias;                                                                      \
        if (centered) {                                                                           \
            R mm = decay * *m + gain * g;                                                         \
            *m = mm;                                                                              \
            R mh = mm * inv_bias;                                                                 \
            s = s - mh * mh;                                                                      \
        }                                                                                         \
        R d = eps_inside ? SQRT(s + eps) : SQRT(s) + eps;                                         \
        R u = g / d;                                                                              \
        if (mst == GD_MST_NONE) {                                                                 \
            x = x - lr * u;                                                                       \
        } else if (mst == GD_MST_PYTORCH) {                                                       \
            R b = mu * *buf + u;                                                                  \
            *buf = b;                                                                             \
            x = x - lr * b;                                                                       \
        } else if (mst == GD_MST_LR_INSIDE) {                                                     \
            R b = mu * *buf + lr * u;                                                             \
            *buf = b;                                                                             \
            x = x - b;                                                                            \
        } else {                                                                                  \
            R b = mu * *buf + lr * u;                                                             \
            *buf = b;                                                                             \
            x = x - (lr * u + mu * b);                                                            \
        }                                                                                         \
        if (clip_weights) { /* a switch: the clamp in every loop kept them from vectorising */   \
            const R cw = (R)k->clip_w;                                                            \
            x = x < -cw ? -cw : (x > cw ? cw : x);                                                \
        }                                                                                         \
        *p = x;                                                                                   \
    }                                                                                             \
                                                                                                  \
    /* SGD with PyTorch's momentum, dampening and Nesterov */                                     \
    GD_HD static inline void gd_sgd_elem_##S(T *p, R g, T *buf, const gd_optim_coef *k,           \
                                             const int use_momentum, const int nesterov)          \
    {                                                                                             \
        const R lr = (R)k->lr, mu = (R)k->momentum, damp1 = (R)k->one_minus_dampening;            \
        R x = *p;                                                                                 \
        g = gd_optim_grad_##S(g, x, k);                                                           \
        if (use_momentum) {                                                                       \
            R b = k->first ? g : mu * *buf + damp1 * g;                                           \
            *buf = b;                                                                             \
            g = nesterov ? g + mu * b : b;                                                        \
        }                                                                                         \
        *p = x - lr * g;                                                                          \
    }                                                                                             \
                                                                                                  \
    /* Adam / AdamW (decoupled decay in dwd = lr*wd), with AMSGrad */                             \
    GD_HD static inline void gd_adam_elem_##S(T *p, R g, T *m, T *v, T *vmax,                     \
                                              const gd_optim_coef *k, const int amsgrad)          \
    {                                                                                             \
        const R dwd = (R)k->dwd, b1 = (R)k->beta1, b1c = (R)k->one_minus_beta1;                   \
        const R decay = (R)k->decay, gain = (R)k->gain, eps = (R)k->eps;                          \
        const R ib2 = (R)k->inv_bias2_sqrt, step = (R)k->step_size;                               \
        R x = *p;                                                                                 \
        g = gd_optim_grad_##S(g, x, k);                                                           \
        if (dwd != 0) x = x - dwd * x;                                                            \
        R mm = b1 * *m + b1c * g;                                                                 \
        R vv = decay * *v + gain * g * g;                                                         \
        *m = mm;                                                                                  \
        *v = vv;                                                                                  \
        if (amsgrad) {                                                                            \
            R mx = *vmax > vv ? (R)*vmax : vv;                                                    \
            *vmax = mx;                                                                           \
            vv = mx;                                                                              \
        }                                                                                         \
        R denom = SQRT(vv) * ib2 + eps;                                                           \
        *p = x - step * (mm / denom);                                                             \
    }                                                                                             \
                                                                                                  \
    /* AdaDelta (Zeiler 2012, PyTorch's form with lr) */                                          \
    GD_HD static inline void gd_adadelta_elem_##S(T *p, R g, T *v, T *acc,                       \
                                                  const gd_optim_coef *k)                         \
    {                                                                                             \
        const R lr = (R)k->lr, decay = (R)k->decay, gain = (R)k->gain, eps = (R)k->eps;           \
        R x = *p;                                                                                 \
        g = gd_optim_grad_##S(g, x, k);                                                           \
        R vv = decay * *v + gain * g * g;                                                         \
        *v = vv;                                                                                  \
        R delta = SQRT(*acc + eps) / SQRT(vv + eps) * g;                                          \
        *acc = decay * *acc + gain * delta * delta;                                               \
        *p = x - lr * delta;                                                                      \
    }                                                                                             \
                                                                                                  \
    /* SMORMS3: mem starts at 1, eps both places.  Funk 2015, Chainer and PuzzleLib              \
       decay the memory by the unclipped ratio q (mem = 1 + mem*(1 - q)); ensmallen               \
       (smorms3_update.hpp) clips first, x = min(q, lr), and uses x (memory_clipped) */           \
    GD_HD_ALWAYS_INLINE                                                                           \
    GD_HD static inline void gd_smorms3_elem_##S(T *p, R g, T *mem, T *mg, T *ms,                 \
                                                 const gd_optim_coef *k, const int coupled)       \
    {                                                                                             \
        const R lr = (R)k->lr, eps = (R)k->eps;                                                   \
        R x = *p;                                                                                 \
        g = gd_optim_grad_sw_##S(g, x, k, coupled);                                               \
        R r = (R)1 / (*mem + (R)1);                                                               \
        R a = ((R)1 - r) * *mg + r * g;                                                           \
        R b = ((R)1 - r) * *ms + r * g * g;                                                       \
        R q = a * a / (b + eps);                                                                  \
        *mg = a;                                                                                  \
        *ms = b;                                                                                  \
        const R qc = q < lr ? q : lr;                                                             \
        *p = x - g * qc / (SQRT(b) + eps);                                                        \
        *mem = (R)1 + *mem * ((R)1 - (k->memory_clipped ? qc : q));                               \
    }

GD_DEFINE_OPTIM_KERNELS(float, f, float, sqrtf)
GD_DEFINE_OPTIM_KERNELS(double, d, double, sqrt)

/*
 * The rest of torch.optim (PyTorch 1.13, torch/optim/{adamax,asgd,nadam,radam,
 * rprop}.py, _single_tensor_* functions), each in PyTorch's order of
 * operations.  The per-step scalars (bias corrections, NAdam's mu products,
 * ASGD's eta and mu, RAdam's rectification) are computed once per step in
 * double by src/optim.c; the loops below see only constants.
 *
 *   Adamax  m = b1*m + (1-b1)*g;  u = max(b2*u, |g| + eps);  p -= lr/(1-b1^t) * m/u
 *   NAdam   m, v as Adam;  d = sqrt(v/(1-b2^t)) + eps;
 *           p += c_grad*g/d;  p += c_avg*m/d   (c_grad = -lr*(1-mu_t)/(1-prod mu),
 *           c_avg = -lr*mu_{t+1}/(1 - prod mu * mu_t * mu_{t+1}), PyTorch 1.13's form)
 *   RAdam   m, v as Adam;  mh = m/(1-b1^t);  rho_t > 5: p -= mh*lr*sqrt(1-b2^t)/(sqrt(v)+eps)*rect
 *           else p -= mh*lr  (the per-step scalars folded into one coefficient)
 *   ASGD    p *= 1 - lambd*eta;  p -= eta*g;  ax += (p - ax)*mu  (ax = p when mu == 1)
 *   Rprop   s = g*prev;  f = etaplus (s > 0), etaminus (s < 0), 1;  step = clamp(step*f, min, max);
 *           g = 0 where s < 0;  p -= sign(g)*step;  prev = g
 */
#define GD_DEFINE_OPTIM_KERNELS_MORE(T, S, R, SQRT)                                               \
    GD_HD static inline void gd_adamax_elem_##S(T *p, R g, T *m, T *u, const gd_optim_coef *k)    \
    {                                                                                             \
        const R b1 = (R)k->beta1, b1c = (R)k->one_minus_beta1, b2 = (R)k->decay;                  \
        const R eps = (R)k->eps, clr = (R)k->step_size;                                           \
        R x = *p;                                                                                 \
        g = gd_optim_grad_##S(g, x, k);                                                           \
        R mm = b1 * *m + b1c * g;                                                                 \
        R a = b2 * *u, b = (g < 0 ? -g : g) + eps;                                                \
        R uu = a > b || a != a ? a : b; /* torch.amax propagates NaN */                           \
        *m = mm;                                                                                  \
        *u = uu;                                                                                  \
        *p = x - clr * (mm / uu);                                                                 \
    }                                                                                             \
                                                                                                  \
    GD_HD static inline void gd_nadam_elem_##S(T *p, R g, T *m, T *v, const gd_optim_coef *k)     \
    {                                                                                             \
        const R b1 = (R)k->beta1, b1c = (R)k->one_minus_beta1;                                    \
        const R decay = (R)k->decay, gain = (R)k->gain, eps = (R)k->eps, bc2 = (R)k->bias2;       \
        const R cg = (R)k->c_grad, ca = (R)k->c_avg, dwd = (R)k->dwd;                             \
        R x = *p;                                                                                 \
        g = gd_optim_grad_##S(g, x, k);                                                           \
        if (dwd != 0) x = x * ((R)1 - dwd); /* NAdamW (PyTorch 2's decoupled decay) */            \
        R mm = b1 * *m + b1c * g;                                                                 \
        R vv = decay * *v + gain * g * g;                                                         \
        *m = mm;                                                                                  \
        *v = vv;                                                                                  \
        R r = (R)1 / (SQRT(vv / bc2) + eps); /* one division for both terms */                    \
        x = x + cg * (g * r);                                                                     \
        *p = x + ca * (mm * r);                                                                   \
    }                                                                                             \
                                                                                                  \
    GD_HD static inline void gd_radam_elem_##S(T *p, R g, T *m, T *v, const gd_optim_coef *k,     \
                                               const int rectify)                                 \
    {                                                                                             \
        const R b1 = (R)k->beta1, b1c = (R)k->one_minus_beta1;                                    \
        const R decay = (R)k->decay, gain = (R)k->gain, eps = (R)k->eps;                          \
        R x = *p;                                                                                 \
        g = gd_optim_grad_##S(g, x, k);                                                           \
        R mm = b1 * *m + b1c * g;                                                                 \
        R vv = decay * *v + gain * g * g;                                                         \
        *m = mm;                                                                                  \
        *v = vv;                                                                                  \
        /* rectify: p -= m/bc1 * lr * sqrt(bc2)/(sqrt(v)+eps) * rect, with the scalars folded     \
           into step_size = lr*rect*sqrt(bc2)/bc1 (else lr/bc1): one division per element */      \
        R u = rectify ? mm / (SQRT(vv) + eps) : mm;                                               \
        *p = x - (R)k->step_size * u;                                                             \
    }                                                                                             \
                                                                                                  \
    GD_HD static inline void gd_asgd_elem_##S(T *p, R g, T *ax, const gd_optim_coef *k,           \
                                              const int avg_copy)                                 \
    {                                                                                             \
        const R eta = (R)k->lr, shrink = (R)k->shrink, mu = (R)k->avg_mu;                         \
        R x = *p;                                                                                 \
        g = gd_optim_grad_##S(g, x, k);                                                           \
        x = x * shrink;                                                                           \
        x = x - eta * g;                                                                          \
        *p = x;                                                                                   \
        if (avg_copy) *ax = x;                                                                    \
        else *ax = *ax + (x - *ax) * mu;                                                          \
    }                                                                                             \
                                                                                                  \
    GD_HD static inline void gd_rprop_elem_##S(T *p, R g, T *prev, T *step,                       \
                                               const gd_optim_coef *k)                            \
    {                                                                                             \
        const R em = (R)k->etaminus, ep = (R)k->etaplus;                                          \
        const R lo = (R)k->step_min, hi = (R)k->step_max;                                         \
        g = g * (R)k->scale;                                                                      \
        R s = g * *prev;                                                                          \
        /* selects, not ifs: the loop vectorises (with ifs: 14x slower at 16M float32) */       \
        R f = s > 0 ? ep : (R)1;                                                                  \
        f = s < 0 ? em : f;                                                                       \
        R st = *step * f;                                                                         \
        st = st < lo ? lo : st;                                                                   \
        st = st > hi ? hi : st;                                                                   \
        *step = st;                                                                               \
        g = s < 0 ? (R)0 : g;                                                                     \
        R sg = (R)(g > 0) - (R)(g < 0);                                                           \
        *p = *p - sg * st;                                                                        \
        *prev = g;                                                                                \
    }

GD_DEFINE_OPTIM_KERNELS_MORE(float, f, float, sqrtf)
GD_DEFINE_OPTIM_KERNELS_MORE(double, d, double, sqrt)

/*
 * What papers compare against now, each in its reference implementation's order
 * of operations (the per-step scalars come from src/optim.c, in double):
 *
 *   Lion (Chen et al. 2023; google/automl lion/lion_pytorch.py)
 *     p *= 1 - lr*wd;  c = b1*m + (1-b1)*g;  p -= lr*sign(c);  m = b2*m + (1-b2)*g
 *   AdaBelief (Zhuang et al. 2020; adabelief_pytorch 0.2.0 AdaBelief.py)
 *     decoupled: p *= 1 - lr*wd (fixed_decay: 1 - wd), else g += wd*p;
 *     m = b1*m + (1-b1)*g;  s = b2*s + (1-b2)*(g - m)^2;  s += eps (in place, as
 *     the source does: eps accumulates in the state);  amsgrad: smax = max(smax, s);
 *     plain:     p -= lr/(1-b1^t) * m / (sqrt(s or smax)/sqrt(1-b2^t) + eps)
 *     rectified: RAdam's N_sma >= 5: p -= step*lr * m/(sqrt(s) + eps);
 *                else (degenerated_to_sgd) p -= step*lr * m
 *   Adan (Xie et al. 2022; sail-sg/Adan adan.py, _single_tensor_adan)
 *     d = g - g_prev (0 at the first step);  m = b1*m + (1-b1)*g;
 *     dm = b2*dm + (1-b2)*d;  u = b2*d + g;  n = b3*n + (1-b3)*u^2;
 *     denom = sqrt(n)/sqrt(1-b3^t) + eps;  p -= lr/(1-b1^t) * m/denom;
 *     p -= lr*b2/(1-b2^t) * dm/denom;  p /= 1 + lr*wd  (no_prox: p *= 1 - lr*wd first)
 *   Schedule-Free AdamW / SGD (Defazio et al. 2024; facebookresearch/schedule_free
 *   adamw_schedulefree.py, sgd_schedulefree.py): p holds y;
 *     AdamW: v = b2*v + (1-b2)*g^2;  gn = g/(sqrt(v) + eps) (+ wd*y)
 *     SGD:   gn = g (+ wd*y)
 *     y = lerp(y, z, ckp1);  y += lr*(b1*(1-ckp1) - 1) * gn;  z -= lr*gn
 *   (lerp as torch.lerp: w < 0.5 ? a + w*(b - a) : b - (b - a)*(1 - w))
 */
#define GD_DEFINE_OPTIM_KERNELS_PAPERS(T, S, R, SQRT)                                             \
    GD_HD static inline void gd_lion_elem_##S(T *p, R g, T *m, const gd_optim_coef *k)            \
    {                                                                                             \
        const R lr = (R)k->lr, dwd = (R)k->dwd, b1 = (R)k->beta1, b1c = (R)k->one_minus_beta1;    \
        const R b2 = (R)k->beta2b, b2c = (R)k->one_minus_beta2b;                                  \
        R x = *p;                                                                                 \
        g = gd_optim_grad_##S(g, x, k);                                                           \
        if (dwd != 0) x = x * ((R)1 - dwd);                                                       \
        R c = *m * b1 + g * b1c;                                                                  \
        R sg = (R)(c > 0) - (R)(c < 0); /* sign, branch-free: the loop vectorises */              \
        *p = x + (-lr) * sg;                                                                      \
        *m = *m * b2 + b2c * g;                                                                   \
    }                                                                                             \
                                                                                                  \
    GD_HD_ALWAYS_INLINE                                                                           \
    GD_HD static inline void gd_adabelief_elem_##S(T *p, R g, T *m, T *s, T *smax,                \
                                                   const gd_optim_coef *k, const int amsgrad,     \
                                                   const int mode, const int coupled)             \
    {                                                                                             \
        const R dwd = (R)k->dwd, b1 = (R)k->beta1, b1c = (R)k->one_minus_beta1;                   \
        const R b2 = (R)k->beta2b, b2c = (R)k->one_minus_beta2b, eps = (R)k->eps;                 \
        R x = *p;                                                                                 \
        g = gd_optim_grad_sw_##S(g, x, k, coupled);                                               \
        if (dwd != 0) x = x * ((R)1 - dwd);                                                       \
        R mm = *m * b1 + b1c * g;                                                                 \
        R r = g - mm;                                                                             \
        R ss = *s * b2 + b2c * r * r;                                                             \
        ss = ss + eps;                                                                            \
        *m = mm;                                                                                  \
        *s = ss;                                                                                  \
        R base = ss;                                                                              \
        if (amsgrad) {                                                                            \
            R mx = *smax > ss || *smax != *smax ? (R)*smax : ss;                                  \
            *smax = mx;                                                                           \
            base = mx;                                                                            \
        }                                                                                         \
        if (mode == GD_BELIEF_PLAIN) {                                                            \
            R denom = SQRT(base) / (R)k->sqrt_bias + eps;                                        \
            x = x + (-(R)k->step_size) * (mm / denom);                                            \
        } else if (mode == GD_BELIEF_RECT) {                                                      \
            R denom = SQRT(ss) + eps;                                                             \
            x = x + (-(R)k->step2) * (mm / denom);                                                \
        } else if (mode == GD_BELIEF_SGD) {                                                       \
            x = x + (-(R)k->step2) * mm;                                                          \
        }                                                                                         \
        *p = x;                                                                                   \
    }                                                                                             \
                                                                                                  \
    /* Adan's switches are compile-time constants of its loops (src/optim.c): coupled,             \
       whether (R)wd != 0 (then g += wd*p as gd_optim_grad does), and decay, GD_ADAN_*            \
       from gd_adan_decay.  With them as run-time tests the body is too large for gcc's           \
       loop unswitching (max-unswitch-insns) and, under -ftrapping-math, a conditional            \
       multiply or divide cannot be if-converted: the loop did not vectorise (0.46x of            \
       the stream kernel, issue 15).  The first step's select stays: it only picks a value. */    \
    GD_HD static inline void gd_adan_elem_##S(T *p, R g, T *m, T *dm, T *n, T *neg,               \
                                              const gd_optim_coef *k, const int coupled,          \
                                              const int decay)                                    \
    {                                                                                             \
        const R b1 = (R)k->beta1, b1c = (R)k->one_minus_beta1, eps = (R)k->eps;                   \
        const R b2 = (R)k->beta2b, b2c = (R)k->one_minus_beta2b;                                  \
        const R b3 = (R)k->beta3, b3c = (R)k->one_minus_beta3, dwd = (R)k->dwd;                   \
        R x = *p;                                                                                 \
        g = gd_optim_grad_sw_##S(g, x, k, coupled);                                               \
        R d = (k->first ? -g : (R)*neg) + g;                                                      \
        R mm = *m * b1 + b1c * g;                                                                 \
        R dd = *dm * b2 + b2c * d;                                                                \
        R u = d * b2 + g;                                                                         \
        R nn = *n * b3 + b3c * u * u;                                                             \
        *m = mm;                                                                                  \
        *dm = dd;                                                                                 \
        *n = nn;                                                                                  \
        R denom = SQRT(nn) / (R)k->sqrt_bias + eps;                                               \
        if (decay == GD_ADAN_DECOUPLED) x = x * ((R)1 - dwd);                                     \
        x = x + (-(R)k->step_size) * (mm / denom);                                                \
        x = x + (-(R)k->step2) * (dd / denom);                                                    \
        if (decay == GD_ADAN_PROXIMAL) x = x / (R)k->prox_div;                                    \
        *p = x;                                                                                   \
        *neg = -g;                                                                                \
    }                                                                                             \
                                                                                                  \
    /* Adan's decay switch in the arithmetic type R, as the update tests it */                    \
    GD_HD static inline int gd_adan_decay_##S(const gd_optim_coef *k)                             \
    {                                                                                             \
        return (R)k->dwd != 0 ? GD_ADAN_DECOUPLED : k->prox_div != 0 ? GD_ADAN_PROXIMAL : GD_ADAN_NONE; \
    }                                                                                             \
                                                                                                  \
    GD_HD static inline R gd_lerp_##S(R a, R b, R w)                                              \
    {                                                                                             \
        return w < (R)0.5 ? a + w * (b - a) : b - (b - a) * ((R)1 - w);                          \
    }                                                                                             \
                                                                                                  \
    GD_HD static inline void gd_schedulefree_elem_##S(T *p, R g, T *z, T *v,                      \
                                                      const gd_optim_coef *k, const int adam)     \
    {                                                                                             \
        const R lr = (R)k->lr, ckp1 = (R)k->ckp1, yc = (R)k->y_coef, wd = (R)k->wd;               \
        R y = *p;                                                                                 \
        g = g * (R)k->scale;                                                                      \
        if (adam) {                                                                               \
            R vv = *v * (R)k->beta2b + (R)k->one_minus_beta2b * g * g;                            \
            *v = vv;                                                                              \
            g = g / (SQRT(vv) + (R)k->eps);                                                       \
        }                                                                                         \
        if (wd != 0) g = g + wd * y;                                                              \
        R zz = *z;                                                                                \
        y = gd_lerp_##S(y, zz, ckp1);                                                             \
        *p = y + yc * g;                                                                          \
        *z = zz - lr * g;                                                                         \
    }

GD_DEFINE_OPTIM_KERNELS_PAPERS(float, f, float, sqrtf)
GD_DEFINE_OPTIM_KERNELS_PAPERS(double, d, double, sqrt)

#endif
