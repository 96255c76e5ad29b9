/*
 * cpu/nn.c: the CPU backend's layer and loss loops (src/nn.c checks and
 * lays out the operands: every pointer here is a contiguous array of one
 * float dtype; the per-element math is in src/kernels/nn.h).  Loss sums are
 * accumulated in double over fixed blocks, so results do not depend on the
 * number of threads.
 *
 * Shapes: B = rows (a batch), F = features, C = classes.
 */
#include "cpu.h"
#include "../kernels/nn.h"

#include <stdlib.h>
#include <string.h>

/* Loops that only move memory (ReLU, dropout, bias gradients, MSE) gain little
   from threads and lose a lot when the OpenMP team wakes up next to OpenBLAS's
   own thread pool (measured on 2 cores: a 1024-wide MLP step went from 7 ms
   to 20 ms), so they go parallel only when very large; loops with exp/tanh
   per element use the core's threshold. */
enum { MEMORY_BOUND_PARALLEL_MIN = 1 << 22 };

static bool par_memory_bound(int64_t n) { return n >= MEMORY_BOUND_PARALLEL_MIN && gd_parallel_worth(n); }

/* for (i = 0; i < n; i++) BODY, on OpenMP threads when par: an OpenMP region,
   even one that its if clause keeps serial, costs microseconds, which small
   batches cannot afford, so the serial loop is a separate copy. */
#define GD_NN_FOR(par, i, n, ...)                                                            \
    do {                                                                                     \
        if (par) {                                                                           \
            _Pragma("omp parallel for schedule(static)")                                     \
            for (int64_t i = 0; i < (n); i++) { __VA_ARGS__; }                               \
        } else {                                                                             \
            for (int64_t i = 0; i < (n); i++) { __VA_ARGS__; }                               \
        }                                                                                    \
    } while (0)

/* --------------------------------------------------------------- linear */

int gd_cpu_nn_bias_rows(void *y, const void *b, int64_t rows, int64_t cols, int dtype)
{
    size_t row = (size_t)cols * gd_dtype_size(dtype);
    for (int64_t i = 0; i < rows; i++) memcpy((char *)y + (size_t)i * row, b, row);
    return 0;
}

/* gb[j] += sum_i gy[i, j]; columns split among threads, each summed in row order */
#define BIAS_GRAD(T)                                                                         \
    do {                                                                                     \
        const T *G = (const T *)gy;                                                          \
        T *acc = (T *)gb;                                                                    \
        int64_t nblk = (cols + 63) / 64;                                                     \
        GD_NN_FOR(par_memory_bound(rows * cols), blk, nblk,                                   \
            int64_t j0 = blk * 64, j1 = j0 + 64 < cols ? j0 + 64 : cols;                     \
            for (int64_t i = 0; i < rows; i++) {                                             \
                const T *r = G + i * cols;                                                   \
                for (int64_t j = j0; j < j1; j++) acc[j] += r[j];                            \
            });                                                                              \
    } while (0)

int gd_cpu_nn_bias_grad(void *gb, const void *gy, int64_t rows, int64_t cols, int dtype)
{
    if (dtype == GD_FLOAT32) BIAS_GRAD(float);
    else BIAS_GRAD(double);
    return 0;
}

/* ---------------------------------------------------------- activations */

#define ACT_LOOP(T, S)                                                                       \
    do {                                                                                     \
        T *Y = (T *)y;                                                                       \
        const T *X = (const T *)x;                                                           \
        bool par = kind == GD_NN_RELU ? par_memory_bound(n) : gd_parallel_worth(n);          \
        switch (kind) {                                                                      \
        case GD_NN_RELU:                                                                     \
            GD_NN_FOR(par, i, n, Y[i] = gd_relu_##S(X[i]));                                  \
            break;                                                                           \
        case GD_NN_TANH:                                                                     \
            GD_NN_FOR(par, i, n, Y[i] = gd_tanh_##S(X[i]));                                  \
            break;                                                                           \
        default:                                                                             \
            GD_NN_FOR(par, i, n, Y[i] = gd_sigmoid_##S(X[i]));                               \
            break;                                                                           \
        }                                                                                    \
    } while (0)

int gd_cpu_nn_activation(void *y, const void *x, int64_t n, int dtype, int kind)
{
    if (dtype == GD_FLOAT32) ACT_LOOP(float, f);
    else ACT_LOOP(double, d);
    return 0;
}

#define ACT_GRAD_LOOP(T, S)                                                                  \
    do {                                                                                     \
        T *GX = (T *)gx;                                                                     \
        const T *GY = (const T *)gy, *Y = (const T *)y;                                      \
        bool par = par_memory_bound(n);                                                      \
        switch (kind) {                                                                      \
        case GD_NN_RELU:                                                                     \
            GD_NN_FOR(par, i, n, GX[i] = gd_nn_relu_grad_##S(GY[i], Y[i]));                  \
            break;                                                                           \
        case GD_NN_TANH:                                                                     \
            GD_NN_FOR(par, i, n, GX[i] = gd_nn_tanh_grad_##S(GY[i], Y[i]));                  \
            break;                                                                           \
        default:                                                                             \
            GD_NN_FOR(par, i, n, GX[i] = gd_nn_sigmoid_grad_##S(GY[i], Y[i]));               \
            break;                                                                           \
        }                                                                                    \
    } while (0)

int gd_cpu_nn_activation_backward(void *gx, const void *gy, const void *y, int64_t n, int dtype, int kind)
{
    if (dtype == GD_FLOAT32) ACT_GRAD_LOOP(float, f);
    else ACT_GRAD_LOOP(double, d);
    return 0;
}

/* -------------------------------------------------------------- softmax */

int gd_cpu_nn_softmax(void *y, const void *x, int64_t rows, int64_t n, int dtype, int log_)
{
    bool par = gd_parallel_worth(rows * n);
    if (dtype == GD_FLOAT32) {
        float *Y = y;
        const float *X = x;
        GD_NN_FOR(par, i, rows, gd_nn_softmax_row_f(Y + i * n, X + i * n, n, log_));
    } else {
        double *Y = y;
        const double *X = x;
        GD_NN_FOR(par, i, rows, gd_nn_softmax_row_d(Y + i * n, X + i * n, n, log_));
    }
    return 0;
}

int gd_cpu_nn_softmax_backward(void *gx, const void *gy, const void *y, int64_t rows, int64_t n, int dtype, int log_)
{
    bool par = gd_parallel_worth(rows * n);
    if (dtype == GD_FLOAT32) {
        float *GX = gx;
        const float *GY = gy, *Y = y;
        GD_NN_FOR(par, i, rows, gd_nn_softmax_grad_row_f(GX + i * n, GY + i * n, Y + i * n, n, log_));
    } else {
        double *GX = gx;
        const double *GY = gy, *Y = y;
        GD_NN_FOR(par, i, rows, gd_nn_softmax_grad_row_d(GX + i * n, GY + i * n, Y + i * n, n, log_));
    }
    return 0;
}

/* --------------------------------------------------------------- losses */

/* Per-row (or per-block) partial sums live here when few, else on the heap. */
enum { PARTIALS_ON_STACK = 512 };

static double sum_in_order(const double *v, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += v[i];
    return s;
}

#define CROSS_ENTROPY_ROWS(T, S)                                                             \
    do {                                                                                     \
        const T *X = (const T *)logits;                                                      \
        T *G = (T *)grad;                                                                    \
        T *L = (T *)losses;                                                                  \
        T k = (T)row_scale;                                                                  \
        GD_NN_FOR(par, i, rows,                                                              \
            double l = gd_nn_cross_entropy_row_##S(G ? G + i * C : NULL, X + i * C, C,       \
                                                   target[i] - index_base, k);               \
            part[i] = l;                                                                     \
            if (L) L[i] = (T)(l * scale));                                                   \
    } while (0)

int gd_cpu_nn_cross_entropy(double *loss, void *losses, void *grad, const void *logits, const int64_t *target,
                            int64_t index_base, int64_t rows, int64_t C, double row_scale, double scale, int dtype)
{
    double stack_part[PARTIALS_ON_STACK];
    double *part = rows <= PARTIALS_ON_STACK ? stack_part : malloc((size_t)rows * sizeof *part);
    if (!part) return -1;
    bool par = gd_parallel_worth(rows * C);
    if (dtype == GD_FLOAT32) CROSS_ENTROPY_ROWS(float, f);
    else CROSS_ENTROPY_ROWS(double, d);
    *loss = row_scale * sum_in_order(part, rows);
    if (part != stack_part) free(part);
    return 0;
}

/* block b of the MSE: its squared-difference sum; losses and grad as it goes */
#define MSE_BLOCKS(T)                                                                        \
    do {                                                                                     \
        const T *P = (const T *)pred, *Q = (const T *)target;                                \
        T *G = (T *)grad;                                                                    \
        T *L = (T *)losses;                                                                  \
        const T k = (T)(2.0 * elem_scale), ks = (T)scale;                                    \
        GD_NN_FOR(par, b, nblk,                                                              \
            int64_t i0 = b * GD_NN_MSE_BLOCK, i1 = i0 + GD_NN_MSE_BLOCK < n ? i0 + GD_NN_MSE_BLOCK : n; \
            double s = 0;                                                                    \
            for (int64_t i = i0; i < i1; i++) {                                              \
                T d = P[i] - Q[i];                                                           \
                s += (double)d * (double)d;                                                  \
                if (L) L[i] = ks * d * d;                                                    \
                if (G) G[i] = k * d;                                                         \
            }                                                                                \
            part[b] = s);                                                                    \
    } while (0)

int gd_cpu_nn_mse(double *loss, void *losses, void *grad, const void *pred, const void *target, int64_t n,
                  double elem_scale, double scale, int dtype)
{
    int64_t nblk = (n + GD_NN_MSE_BLOCK - 1) / GD_NN_MSE_BLOCK;
    double stack_part[PARTIALS_ON_STACK];
    double *part = nblk <= PARTIALS_ON_STACK ? stack_part : malloc((size_t)nblk * sizeof *part);
    if (!part) return -1;
    bool par = nblk > 1 && par_memory_bound(n);
    if (dtype == GD_FLOAT32) MSE_BLOCKS(float);
    else MSE_BLOCKS(double);
    *loss = elem_scale * sum_in_order(part, nblk);
    if (part != stack_part) free(part);
    return 0;
}

/* -------------------------------------------------------------- dropout */

int gd_cpu_nn_dropout(void *y, void *mask, const void *x, int64_t n, double p, int dtype)
{
    double keep = p < 1 ? 1.0 / (1.0 - p) : 0.0;
    bool par = par_memory_bound(n);
    if (dtype == GD_FLOAT32) {
        float *Y = y, *M = mask;
        const float *X = x;
        const float fp = (float)p, fk = (float)keep;
        GD_NN_FOR(par, i, n, M[i] = gd_nn_dropout_mask_f(M[i], fp, fk); Y[i] = X[i] * M[i]);
    } else {
        double *Y = y, *M = mask;
        const double *X = x;
        GD_NN_FOR(par, i, n, M[i] = gd_nn_dropout_mask_d(M[i], p, keep); Y[i] = X[i] * M[i]);
    }
    return 0;
}

int gd_cpu_nn_dropout_backward(void *gx, const void *gy, const void *mask, int64_t n, int dtype)
{
    bool par = par_memory_bound(n);
    if (dtype == GD_FLOAT32) {
        float *GX = gx;
        const float *GY = gy, *M = mask;
        GD_NN_FOR(par, i, n, GX[i] = GY[i] * M[i]);
    } else {
        double *GX = gx;
        const double *GY = gy, *M = mask;
        GD_NN_FOR(par, i, n, GX[i] = GY[i] * M[i]);
    }
    return 0;
}

/* ----------------------------------------------------------------- data */

int gd_cpu_nn_gather_rows(void *out, const void *src, const int64_t *index, int64_t index_base, int64_t rows,
                          int64_t row_bytes)
{
    char *o = out;
    const char *s = src;
    for (int64_t i = 0; i < rows; i++)
        memcpy(o + i * row_bytes, s + (index[i] - index_base) * row_bytes, (size_t)row_bytes);
    return 0;
}

/* ---------------------------------------------------------- embedding */

/* gw row idx[i]-1 += gy row i, in index order; padding_idx's row gets nothing;
   with scale_grad_by_freq each occurrence is divided by its row's count
   (PyTorch's embedding_dense_backward). */
#define EMB_BACK(T)                                                                            \
    do {                                                                                       \
        T *G = (T *)gw;                                                                        \
        const T *GY = (const T *)gy;                                                           \
        for (int64_t i = 0; i < count; i++) {                                                  \
            if (ix[i] == padding_idx) continue;                                                \
            T *r = G + (ix[i] - 1) * D;                                                        \
            const T *g = GY + i * D;                                                           \
            if (freq) {                                                                        \
                T k = (T)(1.0 / (double)freq[ix[i] - 1]);                                      \
                for (int64_t j = 0; j < D; j++) r[j] += g[j] * k;                              \
            } else {                                                                           \
                for (int64_t j = 0; j < D; j++) r[j] += g[j];                                  \
            }                                                                                  \
        }                                                                                      \
    } while (0)

int gd_cpu_nn_embedding_backward(int dtype, void *gw, const void *gy, const int64_t *ix, int64_t count, int64_t rows,
                                 int64_t D, int64_t padding_idx, int scale_grad_by_freq)
{
    int64_t *freq = NULL;
    if (scale_grad_by_freq) {
        freq = calloc((size_t)(rows > 0 ? rows : 1), sizeof *freq);
        if (!freq) return -1;
        for (int64_t i = 0; i < count; i++) freq[ix[i] - 1]++;
    }
    if (dtype == GD_FLOAT32) EMB_BACK(float);
    else EMB_BACK(double);
    free(freq);
    return 0;
}

/* ------------------------------------------------- element-wise losses */

/* W: the element weights (BCE's weight, expanded to the input's shape) or
   NULL; PW: BCEWithLogits's pos_weight (expanded) or NULL */
#define LOSS_LOOP(T)                                                                           \
    do {                                                                                       \
        const T *X = (const T *)pred, *Tg = (const T *)target;                                 \
        const T *W = (const T *)weight, *PW = (const T *)pos_weight;                           \
        T *G = (T *)grad, *Ls = (T *)losses;                                                   \
        for (int64_t i = 0; i < n; i++) {                                                      \
            double g, l;                                                                       \
            if (PW) l = gd_nn_bce_logits_pos_elem((double)X[i], (double)Tg[i], (double)PW[i], &g); \
            else l = gd_nn_pointwise_loss_elem(kind, (double)X[i], (double)Tg[i], param, &g);  \
            if (W) { l *= (double)W[i]; g *= (double)W[i]; }                                   \
            if (G) G[i] = (T)(g * scale);                                                      \
            if (Ls) Ls[i] = (T)l;                                                              \
            sum += l;                                                                          \
        }                                                                                      \
    } while (0)

int gd_cpu_nn_pointwise_loss(double *out, void *losses, void *grad, const void *pred, const void *target,
                             const void *weight, const void *pos_weight, int64_t n, int kind, double param,
                             double scale, int dtype)
{
    double sum = 0;
    if (dtype == GD_FLOAT32) LOSS_LOOP(float);
    else LOSS_LOOP(double);
    *out = sum;
    return 0;
}

/* ------------------------------------ NLLLoss, CrossEntropyLoss's options */

int gd_cpu_nn_class_targets(double *denom, int64_t *bad, const int64_t *target, const void *weight, int64_t N,
                            int64_t C, int64_t ignore_index, int dtype)
{
    double d = 0;
    *bad = -1;
    for (int64_t i = 0; i < N; i++) {
        int64_t t = target[i];
        if (t == ignore_index) continue;
        if (t < 1 || t > C) {
            *bad = i;
            return 0;
        }
        d += !weight ? 1.0 : dtype == GD_FLOAT32 ? (double)((const float *)weight)[t - 1]
                                                 : ((const double *)weight)[t - 1];
    }
    *denom = d;
    return 0;
}

/* rows in order, each through src/kernels/nn.h's gd_nn_class_row */
#define CLASS_LOSS_LOOP(T, S)                                                                  \
    do {                                                                                       \
        const T *X = (const T *)x, *P = (const T *)prob, *W = (const T *)weight;               \
        for (int64_t i = 0; i < N; i++) {                                                      \
            int64_t t = P ? -1 : target[i] == ignore_index ? -1 : target[i] - 1;                \
            T *g = grad ? (T *)grad + i * C : NULL;                                            \
            double l = gd_nn_class_row_##S(g, X + i * C, C, t, P ? P + i * C : NULL, W,         \
                                           label_smoothing, scale, nll);                       \
            s += l;                                                                            \
            if (losses) ((T *)losses)[i] = (T)l;                                               \
        }                                                                                      \
    } while (0)

int gd_cpu_nn_class_loss(double *sum, void *losses, void *grad, const void *x, const int64_t *target,
                         const void *prob, const void *weight, int64_t N, int64_t C, int64_t ignore_index,
                         double label_smoothing, double scale, int nll, int dtype)
{
    double s = 0;
    if (dtype == GD_FLOAT32) CLASS_LOSS_LOOP(float, f);
    else CLASS_LOSS_LOOP(double, d);
    *sum = s;
    return 0;
}

/* ------------------------------------------------- Embedding's max_norm */

/* PyTorch's embedding_renorm_, index by index in order (a repeated index is
   renormalised once: the second time its norm no longer exceeds max_norm) */
#define EMB_RENORM(T)                                                                          \
    do {                                                                                       \
        T *W = (T *)w;                                                                         \
        for (int64_t i = 0; i < count; i++) {                                                  \
            T *r = W + (ix[i] - 1) * D;                                                        \
            double s = 0;                                                                      \
            for (int64_t j = 0; j < D; j++) s += gd_nn_norm_term(fabs((double)r[j]), norm_type); \
            double norm = gd_nn_norm_root(s, norm_type);                                       \
            if (norm > max_norm) {                                                             \
                double k = max_norm / (norm + 1e-7);                                           \
                for (int64_t j = 0; j < D; j++) r[j] = (T)((double)r[j] * k);                  \
            }                                                                                  \
        }                                                                                      \
    } while (0)

int gd_cpu_nn_embedding_renorm(int dtype, void *w, const int64_t *ix, int64_t count, int64_t rows, int64_t D,
                               double max_norm, double norm_type)
{
    (void)rows;
    if (dtype == GD_FLOAT32) EMB_RENORM(float);
    else EMB_RENORM(double);
    return 0;
}
