/*
 * nn.h: the per-element and per-row math of the neural-network kernels
 * (src/cpu/nn.c), in float and double (suffix f / d), shared with a CUDA port.
 *
 * Conventions follow PyTorch (torch/nn/functional.py, aten/src/ATen/native):
 *   ReLU'(0) = 0; tanh' = 1 - y^2 and sigmoid' = y (1 - y), written in terms
 *   of the forward output y so backward needs no second exp/tanh;
 *   softmax and log-softmax subtract the row maximum first (no overflow) and
 *   sum the exponentials in double;
 *   cross-entropy = logsumexp(x) - x[target], its gradient softmax(x) - onehot;
 *   MSE = (p - t)^2, its gradient 2 (p - t);
 *   dropout keeps an element when its uniform draw u >= p and scales it by
 *   1 / (1 - p) ("inverted dropout", as torch.nn.Dropout).
 */
#ifndef GD_KERNELS_NN_H
#define GD_KERNELS_NN_H

#include "hd.h"
#include "elementwise.h"

#define GD_NN_DEFINE_KERNELS(T, S, EXP, LOG)                                                   \
    /* d relu / dx at the output y: 1 where y > 0 */                                           \
    GD_HD static inline T gd_nn_relu_grad_##S(T gy, T y) { return y > 0 ? gy : (T)0; }         \
    GD_HD static inline T gd_nn_tanh_grad_##S(T gy, T y) { return gy * ((T)1 - y * y); }       \
    GD_HD static inline T gd_nn_sigmoid_grad_##S(T gy, T y) { return gy * y * ((T)1 - y); }    \
                                                                                               \
    /* y = softmax(x) (or log-softmax when log_) over one row of n > 0 elements */             \
    GD_HD static inline void gd_nn_softmax_row_##S(T *y, const T *x, int64_t n, int log_)      \
    {                                                                                          \
        T m = x[0];                                                                            \
        for (int64_t j = 1; j < n; j++) m = x[j] > m ? x[j] : m;                               \
        double s = 0;                                                                          \
        if (log_) {                                                                            \
            for (int64_t j = 0; j < n; j++) s += (double)EXP(x[j] - m);                        \
            T lse = m + (T)log(s);                                                             \
            for (int64_t j = 0; j < n; j++) y[j] = x[j] - lse;                                 \
        } else {                                                                               \
            for (int64_t j = 0; j < n; j++) { y[j] = EXP(x[j] - m); s += (double)y[j]; }       \
            T inv = (T)(1.0 / s);                                                              \
            for (int64_t j = 0; j < n; j++) y[j] *= inv;                                       \
        }                                                                                      \
    }                                                                                          \
                                                                                               \
    /* gx from gy and the forward output y over one row:                                       \
       softmax:     gx = y * (gy - sum(gy * y))                                                \
       log-softmax: gx = gy - exp(y) * sum(gy) */                                              \
    GD_HD static inline void gd_nn_softmax_grad_row_##S(T *gx, const T *gy, const T *y,        \
                                                        int64_t n, int log_)                   \
    {                                                                                          \
        double s = 0;                                                                          \
        if (log_) {                                                                            \
            for (int64_t j = 0; j < n; j++) s += (double)gy[j];                                \
            T ts = (T)s;                                                                       \
            for (int64_t j = 0; j < n; j++) gx[j] = gy[j] - EXP(y[j]) * ts;                    \
        } else {                                                                               \
            for (int64_t j = 0; j < n; j++) s += (double)gy[j] * (double)y[j];                 \
            T ts = (T)s;                                                                       \
            for (int64_t j = 0; j < n; j++) gx[j] = y[j] * (gy[j] - ts);                       \
        }                                                                                      \
    }                                                                                          \
                                                                                               \
    /* Cross-entropy of one row of n logits against class t (0-based):                        \
       returns logsumexp(x) - x[t]; when g is not NULL writes                                  \
       g = scale * (softmax(x) - onehot(t)), one exp per element. */                           \
    GD_HD static inline double gd_nn_cross_entropy_row_##S(T *g, const T *x, int64_t n,        \
                                                           int64_t t, T scale)                 \
    {                                                                                          \
        T m = x[0];                                                                            \
        for (int64_t j = 1; j < n; j++) m = x[j] > m ? x[j] : m;                               \
        double s = 0;                                                                          \
        if (g) {                                                                               \
            for (int64_t j = 0; j < n; j++) { g[j] = EXP(x[j] - m); s += (double)g[j]; }       \
            T k = (T)((double)scale / s);                                                      \
            for (int64_t j = 0; j < n; j++) g[j] *= k;                                         \
            g[t] -= scale;                                                                     \
        } else {                                                                               \
            for (int64_t j = 0; j < n; j++) s += (double)EXP(x[j] - m);                        \
        }                                                                                      \
        return (double)m + log(s) - (double)x[t];                                              \
    }                                                                                          \
                                                                                               \
    /* inverted dropout: u (a uniform draw in [0, 1)) becomes the mask value */                \
    GD_HD static inline T gd_nn_dropout_mask_##S(T u, T p, T keep_scale)                       \
    {                                                                                          \
        return u >= p ? keep_scale : (T)0;                                                     \
    }

GD_NN_DEFINE_KERNELS(float, f, expf, logf)
GD_NN_DEFINE_KERNELS(double, d, exp, log)

#endif
