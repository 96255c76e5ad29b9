/*
 * norm.c: the CPU loops of batch normalisation (the backend's nn_batchnorm
 * entries; checks in src/nn_norm.c), after PyTorch 1.13's
 * aten/src/ATen/native/Normalization.cpp (batch_norm_cpu_update_stats_template,
 * batch_norm_backward_cpu_template), and of layer and group normalisation
 * (nn_rownorm: PyTorch's layer_norm / group_norm over rows of M values; see
 * src/nn_norm.c for the row and affine layout).
 *
 * x is N x C x L, viewed as C channels of M = N*L values each.  Statistics are
 * summed in double, per channel in a fixed order, so results do not depend on
 * the thread count.
 */
#include "cpu.h"

#include <math.h>
#include <stdlib.h>

#define X_AT(T, p, n, c, i) (((const T *)(p))[((n) * Cc + (c)) * L + (i)])

#define BN_FWD(T)                                                                                  \
    do {                                                                                           \
        T *Y = (T *)y;                                                                             \
        for (int64_t c = 0; c < Cc; c++) {                                                         \
            double mean, invstd;                                                                   \
            if (use_batch) {                                                                       \
                double s = 0, q = 0;                                                               \
                for (int64_t n = 0; n < N; n++)                                                    \
                    for (int64_t i = 0; i < L; i++) s += X_AT(T, x, n, c, i);                      \
                mean = s / (double)M;                                                              \
                for (int64_t n = 0; n < N; n++)                                                    \
                    for (int64_t i = 0; i < L; i++) {                                              \
                        double d = X_AT(T, x, n, c, i) - mean;                                     \
                        q += d * d;                                                                \
                    }                                                                              \
                double var = q / (double)M; /* biased, for normalising */                          \
                invstd = 1.0 / sqrt(var + eps);                                                    \
                if (rmean && training) {                                                           \
                    /* PyTorch: the running variance takes the unbiased estimate */                \
                    T *rm = (T *)rmean, *rv = (T *)rvar;                                           \
                    rm[c] = (T)((1 - momentum) * rm[c] + momentum * mean);                         \
                    rv[c] = (T)((1 - momentum) * rv[c] + momentum * q / (double)(M - 1));          \
                }                                                                                  \
            } else {                                                                               \
                mean = ((const T *)rmean)[c];                                                      \
                invstd = 1.0 / sqrt((double)((const T *)rvar)[c] + eps);                           \
            }                                                                                      \
            ((T *)save_mean)[c] = (T)mean;                                                         \
            ((T *)save_invstd)[c] = (T)invstd;                                                     \
            double gam = w ? (double)((const T *)w)[c] : 1.0;                                      \
            double bet = b ? (double)((const T *)b)[c] : 0.0;                                      \
            T k = (T)(gam * invstd), o = (T)(bet - mean * gam * invstd);                           \
            for (int64_t n = 0; n < N; n++) {                                                      \
                const T *xr = (const T *)x + (n * Cc + c) * L;                                     \
                T *yr = Y + (n * Cc + c) * L;                                                      \
                for (int64_t i = 0; i < L; i++) yr[i] = xr[i] * k + o;                             \
            }                                                                                      \
        }                                                                                          \
    } while (0)

int gd_cpu_nn_batchnorm(int dtype, void *y, void *save_mean, void *save_invstd, void *rmean, void *rvar,
                        const void *x, const void *w, const void *b, int64_t N, int64_t Cc, int64_t L,
                        double momentum, double eps, int training)
{
    int use_batch = training || rmean == NULL;
    int64_t M = N * L;
    if (dtype == GD_FLOAT32) BN_FWD(float);
    else BN_FWD(double);
    return 0;
}

/* With batch statistics: gx = gamma invstd (gy - mean(gy) - xhat mean(gy xhat));
   with running statistics (eval) gx = gamma invstd gy.  gw += sum(gy xhat),
   gb += sum(gy). */
#define BN_BWD(T)                                                                                  \
    do {                                                                                           \
        for (int64_t c = 0; c < Cc; c++) {                                                         \
            double mean = ((const T *)save_mean)[c], invstd = ((const T *)save_invstd)[c];         \
            double sg = 0, sgx = 0;                                                                \
            for (int64_t n = 0; n < N; n++) {                                                      \
                const T *xr = (const T *)x + (n * Cc + c) * L;                                     \
                const T *gr = (const T *)gy + (n * Cc + c) * L;                                    \
                for (int64_t i = 0; i < L; i++) {                                                  \
                    sg += gr[i];                                                                   \
                    sgx += gr[i] * ((xr[i] - mean) * invstd);                                      \
                }                                                                                  \
            }                                                                                      \
            if (gw) ((T *)gw)[c] += (T)sgx;                                                        \
            if (gb) ((T *)gb)[c] += (T)sg;                                                         \
            if (!gx) continue;                                                                     \
            double gam = w ? (double)((const T *)w)[c] : 1.0;                                      \
            double k = gam * invstd, mg = sg / (double)M, mgx = sgx / (double)M;                   \
            for (int64_t n = 0; n < N; n++) {                                                      \
                const T *xr = (const T *)x + (n * Cc + c) * L;                                     \
                const T *gr = (const T *)gy + (n * Cc + c) * L;                                    \
                T *o = (T *)gx + (n * Cc + c) * L;                                                 \
                for (int64_t i = 0; i < L; i++) {                                                  \
                    if (batch_stats) o[i] = (T)(k * (gr[i] - mg - (xr[i] - mean) * invstd * mgx)); \
                    else o[i] = (T)(k * gr[i]);                                                    \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    } while (0)

int gd_cpu_nn_batchnorm_backward(int dtype, void *gx, void *gw, void *gb, const void *gy, const void *x,
                                 const void *w, const void *save_mean, const void *save_invstd, int64_t N,
                                 int64_t Cc, int64_t L, int batch_stats)
{
    int64_t M = N * L;
    if (dtype == GD_FLOAT32) BN_BWD(float);
    else BN_BWD(double);
    return 0;
}

/* ------------------------------------------------ layer and group norm */

/* rows x M values; the affine index of element p of row r is
   ((r mod G) M + p) / span (src/nn_norm.c).  Mean and biased variance in
   double, row by row in element order. */
#define ROWNORM_FWD(T)                                                                             \
    do {                                                                                           \
        const T *X = (const T *)x;                                                                 \
        T *Y = (T *)y;                                                                             \
        for (int64_t r = 0; r < rows; r++) {                                                       \
            const T *xr = X + r * M;                                                               \
            double s = 0, q = 0;                                                                   \
            for (int64_t p = 0; p < M; p++) s += xr[p];                                            \
            double mean = s / (double)M;                                                           \
            for (int64_t p = 0; p < M; p++) { double d = xr[p] - mean; q += d * d; }               \
            double rstd = 1.0 / sqrt(q / (double)M + eps);                                         \
            ((T *)save_mean)[r] = (T)mean;                                                         \
            ((T *)save_rstd)[r] = (T)rstd;                                                         \
            int64_t a0 = (r % G) * M;                                                              \
            for (int64_t p = 0; p < M; p++) {                                                      \
                int64_t a = (a0 + p) / span;                                                       \
                double v = (xr[p] - mean) * rstd;                                                  \
                if (w) v *= ((const T *)w)[a];                                                     \
                if (b) v += ((const T *)b)[a];                                                     \
                Y[r * M + p] = (T)v;                                                               \
            }                                                                                      \
        }                                                                                          \
    } while (0)

int gd_cpu_nn_rownorm(int dtype, void *y, void *save_mean, void *save_rstd, const void *x, const void *w,
                      const void *b, int64_t rows, int64_t M, int64_t G, int64_t span, double eps)
{
    if (dtype == GD_FLOAT32) ROWNORM_FWD(float);
    else ROWNORM_FWD(double);
    return 0;
}

/* gx = rstd (g - mean(g) - xhat mean(g xhat)) with g = gy * gamma;
   gw[a] += sum gy xhat, gb[a] += sum gy, each summed in double over the rows
   in order (acc: na pairs) and added once, as cuda/norm.cu does. */
#define ROWNORM_BWD(T)                                                                             \
    do {                                                                                           \
        const T *X = (const T *)x, *GY = (const T *)gy;                                            \
        for (int64_t r = 0; r < rows; r++) {                                                       \
            const T *xr = X + r * M, *gr = GY + r * M;                                             \
            double mean = ((const T *)save_mean)[r], rstd = ((const T *)save_rstd)[r];             \
            int64_t a0 = (r % G) * M;                                                              \
            double sg = 0, sgx = 0;                                                                \
            for (int64_t p = 0; p < M; p++) {                                                      \
                int64_t a = (a0 + p) / span;                                                       \
                double xh = (xr[p] - mean) * rstd;                                                 \
                double g = w ? gr[p] * (double)((const T *)w)[a] : (double)gr[p];                  \
                sg += g;                                                                           \
                sgx += g * xh;                                                                     \
                if (acc) {                                                                         \
                    acc[2 * a] += gr[p] * xh;                                                      \
                    acc[2 * a + 1] += gr[p];                                                       \
                }                                                                                  \
            }                                                                                      \
            if (!gx) continue;                                                                     \
            double mg = sg / (double)M, mgx = sgx / (double)M;                                     \
            T *o = (T *)gx + r * M;                                                                \
            for (int64_t p = 0; p < M; p++) {                                                      \
                int64_t a = (a0 + p) / span;                                                       \
                double xh = (xr[p] - mean) * rstd;                                                 \
                double g = w ? gr[p] * (double)((const T *)w)[a] : (double)gr[p];                  \
                o[p] = (T)(rstd * (g - mg - xh * mgx));                                            \
            }                                                                                      \
        }                                                                                          \
    } while (0)

int gd_cpu_nn_rownorm_backward(int dtype, void *gx, void *gw, void *gb, const void *gy, const void *x,
                               const void *w, const void *save_mean, const void *save_rstd, int64_t rows,
                               int64_t M, int64_t G, int64_t span)
{
    int64_t na = G * M / span;
    double *acc = NULL;
    if (gw || gb) {
        acc = calloc((size_t)(2 * na), sizeof *acc);
        if (!acc) return -1;
    }
    if (dtype == GD_FLOAT32) ROWNORM_BWD(float);
    else ROWNORM_BWD(double);
    for (int64_t a = 0; acc && a < na; a++) {
        if (dtype == GD_FLOAT32) {
            if (gw) ((float *)gw)[a] += (float)acc[2 * a];
            if (gb) ((float *)gb)[a] += (float)acc[2 * a + 1];
        } else {
            if (gw) ((double *)gw)[a] += acc[2 * a];
            if (gb) ((double *)gb)[a] += acc[2 * a + 1];
        }
    }
    free(acc);
    return 0;
}
