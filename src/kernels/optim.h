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
    } gd_optim_coef_##S;

GD_DEFINE_OPTIM_COEF(double, d)
typedef gd_optim_coef_d gd_optim_coef;

/* The resolved switches and coefficients of one step (src/optim.c). */
typedef struct gd_optim_plan {
    int kind, centered, eps_inside, mst, use_momentum, nesterov, amsgrad;
    gd_optim_coef k;
} gd_optim_plan;

/* T: the storage type, R: the arithmetic type (float for float32, as PyTorch
   computes; double for float64).  Coefficients convert once per loop (the
   compiler hoists the casts). */
#define GD_DEFINE_OPTIM_KERNELS(T, S, R, SQRT)                                                    \
    /* the gradient as every update sees it: scaled, L2-decayed, then clipped                     \
       (MXNet's order: the decay term is clipped with the gradient) */                            \
    GD_HD static inline R gd_optim_grad_##S(R g, R p, const gd_optim_coef *k)                     \
    {                                                                                             \
        const R clip = (R)k->clip, wd = (R)k->wd;                                                 \
        g = g * (R)k->scale;                                                                      \
        g = wd != 0 ? g + wd * p : g;                                                             \
        return g < -clip ? -clip : (g > clip ? clip : g);                                         \
    }                                                                                             \
                                                                                                  \
    /* RMSProp / AdaGrad, every convention (see the top of this file) */                          \
    GD_HD static inline void gd_rmsprop_elem_##S(T *p, R g, T *v, T *m, T *buf,                   \
                                                 const gd_optim_coef *k, const int centered,      \
                                                 const int eps_inside, const int mst,             \
                                                 const int clip_weights)                          \
    {                                                                                             \
        const R lr = (R)k->lr, decay = (R)k->decay, gain = (R)k->gain, eps = (R)k->eps;           \
        const R dwd = (R)k->dwd, mu = (R)k->momentum, inv_bias = (R)k->inv_bias;                  \
        R x = *p;                                                                                 \
        g = gd_optim_grad_##S(g, x, k);                                                           \
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
    GD_HD static inline void gd_smorms3_elem_##S(T *p, R g, T *mem, T *mg, T *ms,                 \
                                                 const gd_optim_coef *k)                          \
    {                                                                                             \
        const R lr = (R)k->lr, eps = (R)k->eps;                                                   \
        R x = *p;                                                                                 \
        g = gd_optim_grad_##S(g, x, k);                                                           \
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

#endif
