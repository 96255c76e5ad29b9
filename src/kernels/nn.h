/*
 * nn.h: the per-element and per-row math of the neural-network kernels
 * (src/cpu/nn.c) and the CUDA kernels (cuda/nn.cu), in float and double
 * (suffix f / d).
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

/* ---- element-wise losses (gd.nn.L1Loss, SmoothL1Loss, HuberLoss, BCELoss,
   BCEWithLogitsLoss, KLDivLoss; src/nn_loss.c), in double, after PyTorch
   1.13 (aten/src/ATen/native/Loss.cpp, BinaryCrossEntropy.cpp,
   PointwiseOps): returns the loss of prediction x against target t and writes
   d loss / d x to *g.  param: SmoothL1's beta, Huber's delta, KLDiv's
   log_target (0/1). */
enum { GD_NN_LOSS_L1 = 0, GD_NN_LOSS_SMOOTH_L1 = 1, GD_NN_LOSS_HUBER = 2, GD_NN_LOSS_BCE = 3,
       GD_NN_LOSS_BCE_LOGITS = 4, GD_NN_LOSS_KLDIV = 5, GD_NN_LOSS_COUNT = 6 };

/* the p-norm's terms |v|^p and root s^(1/p), exact for p = 1 and 2
   (Embedding's max_norm: PyTorch's embedding_renorm_) */
GD_HD static inline double gd_nn_norm_term(double a, double p) { return p == 2 ? a * a : p == 1 ? a : pow(a, p); }
GD_HD static inline double gd_nn_norm_root(double s, double p) { return p == 2 ? sqrt(s) : p == 1 ? s : pow(s, 1.0 / p); }

GD_HD static inline double gd_nn_sign_d(double v) { return v > 0 ? 1.0 : v < 0 ? -1.0 : 0.0; }

/* BCEWithLogitsLoss with pos_weight p (PyTorch 1.13's
   binary_cross_entropy_with_logits): (1 - t) x + (1 + (p - 1) t)
   (log(1 + exp(-|x|)) + max(-x, 0)); gradient sigmoid(x) (p t + 1 - t) - p t
   (p = 1 is the plain loss). */
GD_HD static inline double gd_nn_bce_logits_pos_elem(double x, double t, double p, double *g)
{
    double ax = x < 0 ? -x : x;
    double sig = x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
    *g = sig * (p * t + 1 - t) - p * t;
    return (1 - t) * x + (1 + (p - 1) * t) * (log1p(exp(-ax)) + (x < 0 ? -x : 0.0));
}

GD_HD static inline double gd_nn_pointwise_loss_elem(int kind, double x, double t, double param, double *g)
{
    double d = x - t, a = d < 0 ? -d : d;
    switch (kind) {
    case GD_NN_LOSS_L1:
        *g = gd_nn_sign_d(d);
        return a;
    case GD_NN_LOSS_SMOOTH_L1:   /* beta = 0 is L1 */
        if (a < param) { *g = d / param; return 0.5 * d * d / param; }
        *g = gd_nn_sign_d(d);
        return a - 0.5 * param;
    case GD_NN_LOSS_HUBER:
        if (a < param) { *g = d; return 0.5 * d * d; }
        *g = param * gd_nn_sign_d(d);
        return param * (a - 0.5 * param);
    case GD_NN_LOSS_BCE: {       /* logs clamped at -100; gradient (x - t) / max(x (1 - x), 1e-12) */
        double lx = x > 0 ? log(x) : -100.0, l1 = x < 1 ? log1p(-x) : -100.0;
        if (lx < -100) lx = -100;
        if (l1 < -100) l1 = -100;
        double den = x * (1 - x);
        *g = d / (den > 1e-12 ? den : 1e-12);
        return -(t * lx + (1 - t) * l1);
    }
    case GD_NN_LOSS_BCE_LOGITS: { /* (1 - t) x + log(1 + exp(-x)), stably; gradient sigmoid(x) - t */
        double ax = x < 0 ? -x : x;
        double sig = x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
        *g = sig - t;
        return (x > 0 ? x : 0) - x * t + log1p(exp(-ax));
    }
    default:                     /* KLDiv, x = log q: t (log t - x), 0 where t = 0; log_target: e^t (t - x) */
        if (param != 0) { double et = exp(t); *g = -et; return et * (t - x); }
        *g = -t;
        return t > 0 ? t * (log(t) - x) : 0.0 - t * x;
    }
}


/* ---- recurrent cells (gd.nn.RNN, LSTM, GRU; src/nn_rnn.c, loops in
   src/cpu/rnn.c), after PyTorch 1.13's torch.nn.LSTM / GRU documentation and
   aten/src/ATen/native/RNN.cpp (LSTMCell, GRUCell), one hidden unit j of one
   batch row per call.  xg holds the row's input projection W_ih x + b_ih
   (gates of H units each, PyTorch's order: LSTM i, f, g, o; GRU r, z, n),
   hg the hidden projection W_hh h + b_hh.  The forward overwrites xg with the
   activated gates, which is what the backward needs:
     LSTM: i = sig(.), f = sig(.), g = tanh(.), o = sig(.),
           c' = f c + i g, h' = o tanh(c')
     GRU:  r = sig(xr + hr), z = sig(xz + hz), n = tanh(xn + r hn),
           h' = (1 - z) n + z h          (hn includes b_hn, inside r's product)
     RNN:  h' = tanh(x + h) or relu(x + h)
   The backward turns dh (and LSTM's dc) into the gradients of the gate
   pre-activations: dxg for the input projection, dhg for the hidden one
   (the same except GRU's n gate, whose hidden part is scaled by r). */
#define GD_NN_DEFINE_RNN_KERNELS(T, S, EXP, TANH)                                              \
    GD_HD static inline T gd_nn_sig_##S(T v) { return (T)1 / ((T)1 + EXP(-v)); }              \
                                                                                               \
    GD_HD static inline T gd_nn_lstm_cell_##S(T *xg, const T *hg, int64_t H, int64_t j,        \
                                              T c_prev, T *c_out)                              \
    {                                                                                          \
        T i = gd_nn_sig_##S(xg[j] + hg[j]);                                                    \
        T f = gd_nn_sig_##S(xg[H + j] + hg[H + j]);                                            \
        T g = TANH(xg[2 * H + j] + hg[2 * H + j]);                                             \
        T o = gd_nn_sig_##S(xg[3 * H + j] + hg[3 * H + j]);                                    \
        T c = f * c_prev + i * g;                                                              \
        xg[j] = i; xg[H + j] = f; xg[2 * H + j] = g; xg[3 * H + j] = o;                        \
        *c_out = c;                                                                            \
        return o * TANH(c);                                                                    \
    }                                                                                          \
                                                                                               \
    /* v clipped to [-clip, clip] (clip = INFINITY: v itself, NaN included) */                \
    GD_HD static inline T gd_nn_clip_##S(T v, T clip)                                          \
    {                                                                                          \
        return v > clip ? clip : v < -clip ? -clip : v;                                        \
    }                                                                                          \
                                                                                               \
    /* *dc: in, the gradient of c' from later steps; out, that of c.  clip: the                \
       gates' pre-activation gradients are clipped to [-clip, clip] (Graves 2013,              \
       sec. 2.1: "the derivative of the loss with respect to the network inputs to             \
       the LSTM layers (before the sigmoid and tanh functions are applied)"; a gdlua           \
       extension, INFINITY for PyTorch's exact gradient); the cell's own gradient              \
       *dc is not clipped. */                                                                  \
    GD_HD static inline void gd_nn_lstm_cell_grad_##S(T *dxg, const T *gate, int64_t H,        \
                                                      int64_t j, T c_prev, T c, T dh, T *dc,   \
                                                      T clip)                                  \
    {                                                                                          \
        T i = gate[j], f = gate[H + j], g = gate[2 * H + j], o = gate[3 * H + j];              \
        T tc = TANH(c);                                                                        \
        T dct = *dc + dh * o * ((T)1 - tc * tc);                                               \
        dxg[j] = gd_nn_clip_##S(dct * g * i * ((T)1 - i), clip);                               \
        dxg[H + j] = gd_nn_clip_##S(dct * c_prev * f * ((T)1 - f), clip);                      \
        dxg[2 * H + j] = gd_nn_clip_##S(dct * i * ((T)1 - g * g), clip);                       \
        dxg[3 * H + j] = gd_nn_clip_##S(dh * tc * o * ((T)1 - o), clip);                       \
        *dc = dct * f;                                                                         \
    }                                                                                          \
                                                                                               \
    /* hn_out keeps hg's n part (W_hn h + b_hn) for the backward */                            \
    GD_HD static inline T gd_nn_gru_cell_##S(T *xg, const T *hg, int64_t H, int64_t j,         \
                                             T h_prev, T *hn_out)                              \
    {                                                                                          \
        T r = gd_nn_sig_##S(xg[j] + hg[j]);                                                    \
        T z = gd_nn_sig_##S(xg[H + j] + hg[H + j]);                                            \
        T hn = hg[2 * H + j];                                                                  \
        T n = TANH(xg[2 * H + j] + r * hn);                                                    \
        xg[j] = r; xg[H + j] = z; xg[2 * H + j] = n;                                           \
        *hn_out = hn;                                                                          \
        return ((T)1 - z) * n + z * h_prev;                                                    \
    }                                                                                          \
                                                                                               \
    /* returns the part of dh_prev that does not go through W_hh: dh z */                      \
    GD_HD static inline T gd_nn_gru_cell_grad_##S(T *dxg, T *dhg, const T *gate, int64_t H,    \
                                                  int64_t j, T hn, T h_prev, T dh)             \
    {                                                                                          \
        T r = gate[j], z = gate[H + j], n = gate[2 * H + j];                                   \
        T dn = dh * ((T)1 - z) * ((T)1 - n * n);                                               \
        T dz = dh * (h_prev - n) * z * ((T)1 - z);                                             \
        T dr = dn * hn * r * ((T)1 - r);                                                       \
        dxg[j] = dr; dxg[H + j] = dz; dxg[2 * H + j] = dn;                                     \
        dhg[j] = dr; dhg[H + j] = dz; dhg[2 * H + j] = dn * r;                                 \
        return dh * z;                                                                         \
    }                                                                                          \
                                                                                               \
    /* relu_: 1 for RNN's relu nonlinearity, 0 for tanh; derivatives from h' */                \
    GD_HD static inline T gd_nn_rnn_cell_##S(T pre, int relu_)                                 \
    {                                                                                          \
        return relu_ ? (pre > 0 ? pre : (T)0) : TANH(pre);                                     \
    }                                                                                          \
    GD_HD static inline T gd_nn_rnn_cell_grad_##S(T h, T dh, int relu_)                        \
    {                                                                                          \
        return relu_ ? (h > 0 ? dh : (T)0) : dh * ((T)1 - h * h);                              \
    }

GD_NN_DEFINE_RNN_KERNELS(float, f, expf, tanhf)
GD_NN_DEFINE_RNN_KERNELS(double, d, exp, tanh)


/* ---- CrossEntropyLoss with class weights, label smoothing and probability
   targets (gd.nn.CrossEntropyLoss; src/nn_loss.c), after PyTorch 1.13's
   aten/src/ATen/native/LossNLL.cpp (cross_entropy_loss_label_smoothing,
   cross_entropy_loss_prob_target).  One row of n logits x, in double: every
   case is loss = sum_c a_c (lse(x) - x_c) for coefficients
     class target t (0-based): a_c = w_c ((1 - eps) [c == t] + eps / n)
     probabilities p:          a_c = w_c ((1 - eps) p_c + eps / n)
   (w_c = 1 without weights), whose gradient is sum(a) softmax(x)_c - a_c,
   written to g scaled by `scale` when g is not NULL.  p and w are read as
   T. */
#define GD_NN_DEFINE_CE_KERNELS(T, S)                                                          \
    GD_HD static inline double gd_nn_ce_coef_##S(int64_t c, int64_t t, const T *p, const T *w, \
                                                 double eps, double inv_n)                     \
    {                                                                                          \
        double a = p ? (1 - eps) * (double)p[c] : (c == t ? 1 - eps : 0.0);                    \
        a += eps * inv_n;                                                                      \
        return w ? a * (double)w[c] : a;                                                       \
    }                                                                                          \
    GD_HD static inline double gd_nn_soft_cross_entropy_row_##S(T *g, const T *x, int64_t n,   \
                                                                int64_t t, const T *p,         \
                                                                const T *w, double eps,        \
                                                                double scale)                  \
    {                                                                                          \
        double m = (double)x[0];                                                               \
        for (int64_t c = 1; c < n; c++) m = (double)x[c] > m ? (double)x[c] : m;               \
        double s = 0;                                                                          \
        for (int64_t c = 0; c < n; c++) s += exp((double)x[c] - m);                            \
        double lse = m + log(s), loss = 0, sa = 0, inv_n = 1.0 / (double)n;                    \
        for (int64_t c = 0; c < n; c++) {                                                      \
            double a = gd_nn_ce_coef_##S(c, t, p, w, eps, inv_n);                              \
            loss += a * (lse - (double)x[c]);                                                  \
            sa += a;                                                                           \
        }                                                                                      \
        if (g)                                                                                 \
            for (int64_t c = 0; c < n; c++)                                                    \
                g[c] = (T)(scale * (sa * exp((double)x[c] - lse) -                             \
                                    gd_nn_ce_coef_##S(c, t, p, w, eps, inv_n)));               \
        return loss;                                                                           \
    }                                                                                          \
    /* one row of NLLLoss (nll: loss -w_t x_t, gradient -scale w_t at t, zero   */           \
    /* elsewhere; PyTorch's nll_loss) or of CrossEntropyLoss with options;     */           \
    /* t < 0: ignored (loss 0, a zero gradient row)                            */           \
    GD_HD static inline double gd_nn_class_row_##S(T *g, const T *x, int64_t n, int64_t t,     \
                                                   const T *p, const T *w, double eps,         \
                                                   double scale, int nll)                      \
    {                                                                                          \
        if (!nll && p) return gd_nn_soft_cross_entropy_row_##S(g, x, n, -1, p, w, eps, scale); \
        if (t < 0 || nll) {                                                                    \
            if (g)                                                                             \
                for (int64_t c = 0; c < n; c++) g[c] = (T)0;                                   \
            if (t < 0) return 0.0;                                                             \
            double wt = w ? (double)w[t] : 1.0;                                                \
            if (g) g[t] = (T)(-wt * scale);                                                    \
            return -wt * (double)x[t];                                                         \
        }                                                                                      \
        return gd_nn_soft_cross_entropy_row_##S(g, x, n, t, NULL, w, eps, scale);              \
    }

GD_NN_DEFINE_CE_KERNELS(float, f)
GD_NN_DEFINE_CE_KERNELS(double, d)

#endif
