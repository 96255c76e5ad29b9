/*
 * conv.c: the CPU loops of convolution and pooling (see conv.h).  Convolution
 * is im2col + one BLAS gemm per sample and group (Chellapilla et al. 2006,
 * "High performance convolutional neural networks for document processing";
 * Caffe's and PyTorch's CPU path): the column matrix is the workspace the
 * caller keeps, so a step allocates nothing.  Pooling follows PyTorch 1.13's
 * aten/src/ATen/native/cpu/{MaxPoolKernel,AvgPoolKernel,AdaptiveAvgPoolKernel}.cpp
 * window by window, including its treatment of padding, NaN and ceil_mode.
 */
#include "conv.h"
#include "../internal.h"
#include "../kernels/conv.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------ im2col */

/* col[(c*KH + i)*KW + j][oh*OW + ow] = x[c][oh*SH - PH + i*DH][ow*SW - PW + j*DW] */
#define IM2COL(T)                                                                              \
    do {                                                                                       \
        const T *X = (const T *)x;                                                             \
        T *Col = (T *)col;                                                                     \
        int64_t L = g->OH * g->OW;                                                             \
        for (int64_t c = 0; c < g->C; c++)                                                     \
            for (int64_t i = 0; i < g->kh; i++)                                                \
                for (int64_t j = 0; j < g->kw; j++) {                                          \
                    T *row = Col + ((c * g->kh + i) * g->kw + j) * L;                          \
                    const T *plane = X + c * g->H * g->W;                                      \
                    for (int64_t oh = 0; oh < g->OH; oh++) {                                   \
                        int64_t ih = oh * g->sh - g->ph + i * g->dh;                           \
                        T *r = row + oh * g->OW;                                               \
                        if (ih < 0 || ih >= g->H) {                                            \
                            for (int64_t ow = 0; ow < g->OW; ow++) r[ow] = 0;                  \
                            continue;                                                          \
                        }                                                                      \
                        const T *xr = plane + ih * g->W;                                       \
                        int64_t iw0 = j * g->dw - g->pw;                                       \
                        for (int64_t ow = 0; ow < g->OW; ow++) {                               \
                            int64_t iw = ow * g->sw + iw0;                                     \
                            r[ow] = (iw >= 0 && iw < g->W) ? xr[iw] : (T)0;                    \
                        }                                                                      \
                    }                                                                          \
                }                                                                              \
    } while (0)

void gd_cpu_im2col(int dtype, const void *x, void *col, const gd_conv_geom *g)
{
    if (dtype == GD_FLOAT32) IM2COL(float);
    else IM2COL(double);
}

#define COL2IM(T)                                                                              \
    do {                                                                                       \
        const T *Col = (const T *)col;                                                         \
        T *GX = (T *)gx;                                                                       \
        int64_t L = g->OH * g->OW;                                                             \
        for (int64_t c = 0; c < g->C; c++)                                                     \
            for (int64_t i = 0; i < g->kh; i++)                                                \
                for (int64_t j = 0; j < g->kw; j++) {                                          \
                    const T *row = Col + ((c * g->kh + i) * g->kw + j) * L;                    \
                    T *plane = GX + c * g->H * g->W;                                           \
                    for (int64_t oh = 0; oh < g->OH; oh++) {                                   \
                        int64_t ih = oh * g->sh - g->ph + i * g->dh;                           \
                        if (ih < 0 || ih >= g->H) continue;                                    \
                        const T *r = row + oh * g->OW;                                         \
                        T *xr = plane + ih * g->W;                                             \
                        int64_t iw0 = j * g->dw - g->pw;                                       \
                        for (int64_t ow = 0; ow < g->OW; ow++) {                               \
                            int64_t iw = ow * g->sw + iw0;                                     \
                            if (iw >= 0 && iw < g->W) xr[iw] += r[ow];                         \
                        }                                                                      \
                    }                                                                          \
                }                                                                              \
    } while (0)

void gd_cpu_col2im(int dtype, const void *col, void *gx, const gd_conv_geom *g)
{
    if (dtype == GD_FLOAT32) COL2IM(float);
    else COL2IM(double);
}

void gd_cpu_gemm_raw(int dtype, int ta, int tb, int64_t m, int64_t n, int64_t k, const void *a, int64_t lda,
                     const void *b, int64_t ldb, double beta, void *c, int64_t ldc)
{
    /* row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T */
    gd_cpu_blas_gemm(dtype, tb, ta, n, m, k, 1.0, b, ldb, a, lda, beta, c, ldc);
}

/* ------------------------------------------------------------ max pool */

/* PyTorch: the window starts at oh*SH - PH and steps by DH; taps outside the
   input are skipped (never compared with a padding value); the first maximum
   wins and a NaN wins over everything (val > max || isnan(val)). */
#define MAXPOOL(T)                                                                             \
    do {                                                                                       \
        const T *X = (const T *)x;                                                             \
        T *Y = (T *)y;                                                                         \
        int64_t HW = g->H * g->W, L = g->OH * g->OW;                                           \
        _Pragma("omp parallel for schedule(static) if (planes * L * g->kh * g->kw > 65536)")   \
        for (int64_t p = 0; p < planes; p++) {                                                 \
            const T *xp = X + p * HW;                                                          \
            for (int64_t oh = 0; oh < g->OH; oh++)                                             \
                for (int64_t ow = 0; ow < g->OW; ow++) {                                       \
                    T best = -INFINITY;                                                        \
                    int64_t at = -1;                                                           \
                    for (int64_t i = 0; i < g->kh; i++) {                                      \
                        int64_t ih = oh * g->sh - g->ph + i * g->dh;                           \
                        if (ih < 0 || ih >= g->H) continue;                                    \
                        for (int64_t j = 0; j < g->kw; j++) {                                  \
                            int64_t iw = ow * g->sw - g->pw + j * g->dw;                       \
                            if (iw < 0 || iw >= g->W) continue;                                \
                            T v = xp[ih * g->W + iw];                                          \
                            if (at < 0 || v > best || isnan(v)) {                              \
                                best = v;                                                      \
                                at = ih * g->W + iw;                                           \
                            }                                                                  \
                        }                                                                      \
                    }                                                                          \
                    Y[p * L + oh * g->OW + ow] = best;                                         \
                    idx[p * L + oh * g->OW + ow] = at;                                         \
                }                                                                              \
        }                                                                                      \
    } while (0)

void gd_cpu_maxpool(int dtype, const void *x, void *y, int64_t *idx, int64_t planes, const gd_conv_geom *g)
{
    if (dtype == GD_FLOAT32) MAXPOOL(float);
    else MAXPOOL(double);
}

/* gx is zeroed here, then every output's gradient goes to its argmax (windows
   overlap when stride < kernel: those sums are why planes, not outputs, are
   the unit split among threads). */
#define MAXPOOL_BACK(T)                                                                        \
    do {                                                                                       \
        const T *GY = (const T *)gy;                                                           \
        T *GX = (T *)gx;                                                                       \
        int64_t HW = g->H * g->W, L = g->OH * g->OW;                                           \
        memset(GX, 0, (size_t)(planes * HW) * sizeof(T));                                      \
        for (int64_t p = 0; p < planes; p++)                                                   \
            for (int64_t o = 0; o < L; o++) {                                                  \
                int64_t at = idx[p * L + o];                                                   \
                if (at >= 0) GX[p * HW + at] += GY[p * L + o];                                 \
            }                                                                                  \
    } while (0)

void gd_cpu_maxpool_backward(int dtype, const void *gy, const int64_t *idx, void *gx, int64_t planes,
                             const gd_conv_geom *g)
{
    if (dtype == GD_FLOAT32) MAXPOOL_BACK(float);
    else MAXPOOL_BACK(double);
}

/* ------------------------------------------------------------ avg pool */

#define AVGPOOL(T)                                                                             \
    do {                                                                                       \
        const T *X = (const T *)x;                                                             \
        T *Y = (T *)y;                                                                         \
        int64_t HW = g->H * g->W, L = g->OH * g->OW;                                           \
        for (int64_t p = 0; p < planes; p++)                                                   \
            for (int64_t oh = 0; oh < g->OH; oh++)                                             \
                for (int64_t ow = 0; ow < g->OW; ow++) {                                       \
                    int64_t h0, h1, w0, w1;                                                    \
                    int64_t div = gd_avg_window(g, oh, ow, count_include_pad, divisor_override,   \
                                             &h0, &h1, &w0, &w1);                              \
                    T s = 0;                                                                   \
                    for (int64_t ih = h0; ih < h1; ih++)                                       \
                        for (int64_t iw = w0; iw < w1; iw++) s += X[p * HW + ih * g->W + iw];  \
                    Y[p * L + oh * g->OW + ow] = (h0 >= h1 || w0 >= w1) ? (T)0 : s / (T)div;   \
                }                                                                              \
    } while (0)

void gd_cpu_avgpool(int dtype, const void *x, void *y, int64_t planes, const gd_conv_geom *g,
                    int count_include_pad, int64_t divisor_override)
{
    if (dtype == GD_FLOAT32) AVGPOOL(float);
    else AVGPOOL(double);
}

#define AVGPOOL_BACK(T)                                                                        \
    do {                                                                                       \
        const T *GY = (const T *)gy;                                                           \
        T *GX = (T *)gx;                                                                       \
        int64_t HW = g->H * g->W, L = g->OH * g->OW;                                           \
        memset(GX, 0, (size_t)(planes * HW) * sizeof(T));                                      \
        for (int64_t p = 0; p < planes; p++)                                                   \
            for (int64_t oh = 0; oh < g->OH; oh++)                                             \
                for (int64_t ow = 0; ow < g->OW; ow++) {                                       \
                    int64_t h0, h1, w0, w1;                                                    \
                    int64_t div = gd_avg_window(g, oh, ow, count_include_pad, divisor_override,   \
                                             &h0, &h1, &w0, &w1);                              \
                    T d = GY[p * L + oh * g->OW + ow] / (T)div;                                \
                    for (int64_t ih = h0; ih < h1; ih++)                                       \
                        for (int64_t iw = w0; iw < w1; iw++) GX[p * HW + ih * g->W + iw] += d; \
                }                                                                              \
    } while (0)

void gd_cpu_avgpool_backward(int dtype, const void *gy, void *gx, int64_t planes, const gd_conv_geom *g,
                             int count_include_pad, int64_t divisor_override)
{
    if (dtype == GD_FLOAT32) AVGPOOL_BACK(float);
    else AVGPOOL_BACK(double);
}

/* ------------------------------------------------------- adaptive avg */

#define ADAPTIVE(T, BODY)                                                                      \
    do {                                                                                       \
        int64_t HW = g->H * g->W, L = g->OH * g->OW;                                           \
        for (int64_t p = 0; p < planes; p++)                                                   \
            for (int64_t oh = 0; oh < g->OH; oh++) {                                           \
                int64_t h0 = gd_adaptive_start(oh, g->OH, g->H), h1 = gd_adaptive_end(oh, g->OH, g->H);    \
                for (int64_t ow = 0; ow < g->OW; ow++) {                                       \
                    int64_t w0 = gd_adaptive_start(ow, g->OW, g->W), w1 = gd_adaptive_end(ow, g->OW, g->W);\
                    int64_t o = p * L + oh * g->OW + ow, base = p * HW;                        \
                    T n = (T)((h1 - h0) * (w1 - w0));                                          \
                    BODY;                                                                      \
                }                                                                              \
            }                                                                                  \
    } while (0)

#define ADAPTIVE_FWD(T)                                                                        \
    do {                                                                                       \
        const T *X = (const T *)x;                                                             \
        T *Y = (T *)y;                                                                         \
        ADAPTIVE(T, T s = 0;                                                                   \
                 for (int64_t ih = h0; ih < h1; ih++)                                          \
                     for (int64_t iw = w0; iw < w1; iw++) s += X[base + ih * g->W + iw];       \
                 Y[o] = s / n);                                                                \
    } while (0)

#define ADAPTIVE_BWD(T)                                                                        \
    do {                                                                                       \
        const T *GY = (const T *)gy;                                                           \
        T *GX = (T *)gx;                                                                       \
        memset(GX, 0, (size_t)(planes * g->H * g->W) * sizeof(T));                             \
        ADAPTIVE(T, T d = GY[o] / n;                                                           \
                 for (int64_t ih = h0; ih < h1; ih++)                                          \
                     for (int64_t iw = w0; iw < w1; iw++) GX[base + ih * g->W + iw] += d);     \
    } while (0)

void gd_cpu_adaptive_avgpool(int dtype, const void *x, void *y, int64_t planes, const gd_conv_geom *g)
{
    if (dtype == GD_FLOAT32) ADAPTIVE_FWD(float);
    else ADAPTIVE_FWD(double);
}

void gd_cpu_adaptive_avgpool_backward(int dtype, const void *gy, void *gx, int64_t planes, const gd_conv_geom *g)
{
    if (dtype == GD_FLOAT32) ADAPTIVE_BWD(float);
    else ADAPTIVE_BWD(double);
}

/* ------------------------------------------------- the backend entries */

/* y's O planes of `plane` elements each: plane o = b[o] (0 without a bias). */
static void fill_planes(int dt, void *y, const void *b, int64_t O, int64_t plane)
{
    for (int64_t o = 0; o < O; o++) {
        if (dt == GD_FLOAT32) { float v = b ? ((const float *)b)[o] : 0.0f; float *r = (float *)y + o * plane; for (int64_t i = 0; i < plane; i++) r[i] = v; }
        else { double v = b ? ((const double *)b)[o] : 0.0; double *r = (double *)y + o * plane; for (int64_t i = 0; i < plane; i++) r[i] = v; }
    }
}

/* gb[o] += the sum of gy's plane o, each plane summed in order, in double. */
static void add_plane_sums(int dt, void *gb, const void *gy, int64_t O, int64_t plane)
{
    for (int64_t o = 0; o < O; o++) {
        double s = 0;
        if (dt == GD_FLOAT32) { const float *r = (const float *)gy + o * plane; for (int64_t i = 0; i < plane; i++) s += r[i]; ((float *)gb)[o] += (float)s; }
        else { const double *r = (const double *)gy + o * plane; for (int64_t i = 0; i < plane; i++) s += r[i]; ((double *)gb)[o] += s; }
    }
}

/* y[n, o] = bias[o] + sum over the group's channels and the kernel of w * x:
   per sample, col = im2col(x[n]) (C*KH*KW x OH*OW), then for each group
   y[n, group] (O/G x L) = w[group] (O/G x C/G*KH*KW) @ col[group rows]. */
int gd_cpu_nn_conv2d(int dt, void *y, void *col, const void *x, const void *w, const void *b, int64_t N,
                     int64_t O, int64_t G, const gd_conv_geom *g)
{
    size_t es = gd_dtype_size(dt);
    int64_t L = g->OH * g->OW, Og = O / G, Kg = (g->C / G) * g->kh * g->kw;
    for (int64_t n = 0; n < N; n++) {
        char *yn = (char *)y + (size_t)(n * O * L) * es;
        if (b) fill_planes(dt, yn, b, O, L);
        gd_cpu_im2col(dt, (const char *)x + (size_t)(n * g->C * g->H * g->W) * es, col, g);
        for (int64_t gi = 0; gi < G; gi++)
            gd_cpu_gemm_raw(dt, 0, 0, Og, L, Kg, (const char *)w + (size_t)(gi * Og * Kg) * es, Kg,
                            (const char *)col + (size_t)(gi * Kg * L) * es, L, b ? 1.0 : 0.0,
                            yn + (size_t)(gi * Og * L) * es, L);
    }
    return 0;
}

/* gw[group] += gy[n, group] @ col[group]^T; gb[o] += sum gy[n, o, :];
   gx[n] = col2im(w[group]^T @ gy[n, group]) (overwritten). */
int gd_cpu_nn_conv2d_backward(int dt, void *gx, void *gw, void *gb, void *col, const void *gy, const void *x,
                              const void *w, int64_t N, int64_t O, int64_t G, const gd_conv_geom *g)
{
    size_t es = gd_dtype_size(dt);
    int64_t L = g->OH * g->OW, Og = O / G, Kg = (g->C / G) * g->kh * g->kw, XS = g->C * g->H * g->W;
    for (int64_t n = 0; n < N; n++) {
        const char *gyn = (const char *)gy + (size_t)(n * O * L) * es;
        if (gb) add_plane_sums(dt, gb, gyn, O, L);
        if (gw) {
            gd_cpu_im2col(dt, (const char *)x + (size_t)(n * XS) * es, col, g);
            for (int64_t gi = 0; gi < G; gi++)
                gd_cpu_gemm_raw(dt, 0, 1, Og, Kg, L, gyn + (size_t)(gi * Og * L) * es, L,
                                (const char *)col + (size_t)(gi * Kg * L) * es, L, 1.0,
                                (char *)gw + (size_t)(gi * Og * Kg) * es, Kg);
        }
        if (gx) {
            for (int64_t gi = 0; gi < G; gi++)
                gd_cpu_gemm_raw(dt, 1, 0, Kg, L, Og, (const char *)w + (size_t)(gi * Og * Kg) * es, Kg,
                                gyn + (size_t)(gi * Og * L) * es, L, 0.0, (char *)col + (size_t)(gi * Kg * L) * es,
                                L);
            char *gxn = (char *)gx + (size_t)(n * XS) * es;
            memset(gxn, 0, (size_t)XS * es);
            gd_cpu_col2im(dt, col, gxn, g);
        }
    }
    return 0;
}

/* per sample and group: col[group] (O/G*KH*KW x H*W) = w[group]^T
   (O/G*KH*KW x C/G) @ x[n, group] (C/G x H*W); y[n] = bias + col2im(col). */
int gd_cpu_nn_conv_transpose2d(int dt, void *y, void *col, const void *x, const void *w, const void *b,
                               int64_t N, int64_t Cin, int64_t G, const gd_conv_geom *g)
{
    size_t es = gd_dtype_size(dt);
    int64_t O = g->C, L = g->OH * g->OW, Cg = Cin / G, Kg = (O / G) * g->kh * g->kw, YS = O * g->H * g->W;
    for (int64_t n = 0; n < N; n++) {
        for (int64_t gi = 0; gi < G; gi++)
            gd_cpu_gemm_raw(dt, 1, 0, Kg, L, Cg, (const char *)w + (size_t)(gi * Cg * Kg) * es, Kg,
                            (const char *)x + (size_t)((n * G + gi) * Cg * L) * es, L, 0.0,
                            (char *)col + (size_t)(gi * Kg * L) * es, L);
        char *yn = (char *)y + (size_t)(n * YS) * es;
        fill_planes(dt, yn, b, O, g->H * g->W);   /* col2im adds into it */
        gd_cpu_col2im(dt, col, yn, g);
    }
    return 0;
}

/* per sample: col = im2col(gy[n]); gx[n, group] = w[group] @ col[group];
   gw[group] += x[n, group] @ col[group]^T; gb[o] += sum gy[n, o, :]. */
int gd_cpu_nn_conv_transpose2d_backward(int dt, void *gx, void *gw, void *gb, void *col, const void *gy,
                                        const void *x, const void *w, int64_t N, int64_t Cin, int64_t G,
                                        const gd_conv_geom *g)
{
    size_t es = gd_dtype_size(dt);
    int64_t O = g->C, L = g->OH * g->OW, Cg = Cin / G, Kg = (O / G) * g->kh * g->kw, YS = O * g->H * g->W,
            plane = g->H * g->W;
    for (int64_t n = 0; n < N; n++) {
        const char *gyn = (const char *)gy + (size_t)(n * YS) * es;
        if (gb) add_plane_sums(dt, gb, gyn, O, plane);
        if (!gx && !gw) continue;
        gd_cpu_im2col(dt, gyn, col, g);
        for (int64_t gi = 0; gi < G; gi++) {
            const char *colg = (const char *)col + (size_t)(gi * Kg * L) * es;
            if (gx)
                gd_cpu_gemm_raw(dt, 0, 0, Cg, L, Kg, (const char *)w + (size_t)(gi * Cg * Kg) * es, Kg, colg, L, 0.0,
                                (char *)gx + (size_t)((n * G + gi) * Cg * L) * es, L);
            if (gw)
                gd_cpu_gemm_raw(dt, 0, 1, Cg, Kg, L, (const char *)x + (size_t)((n * G + gi) * Cg * L) * es, L, colg,
                                L, 1.0, (char *)gw + (size_t)(gi * Cg * Kg) * es, Kg);
        }
    }
    return 0;
}

int gd_cpu_nn_pool2d(int dtype, int kind, void *y, int64_t *idx, const void *x, int64_t planes,
                     const gd_conv_geom *g, int count_include_pad, int64_t divisor_override)
{
    if (kind == GD_NN_MAXPOOL) gd_cpu_maxpool(dtype, x, y, idx, planes, g);
    else if (kind == GD_NN_AVGPOOL) gd_cpu_avgpool(dtype, x, y, planes, g, count_include_pad, divisor_override);
    else gd_cpu_adaptive_avgpool(dtype, x, y, planes, g);
    return 0;
}

int gd_cpu_nn_pool2d_backward(int dtype, int kind, void *gx, const void *gy, const int64_t *idx, int64_t planes,
                              const gd_conv_geom *g, int count_include_pad, int64_t divisor_override)
{
    if (kind == GD_NN_MAXPOOL) gd_cpu_maxpool_backward(dtype, gy, idx, gx, planes, g);
    else if (kind == GD_NN_AVGPOOL)
        gd_cpu_avgpool_backward(dtype, gy, gx, planes, g, count_include_pad, divisor_override);
    else gd_cpu_adaptive_avgpool_backward(dtype, gy, gx, planes, g);
    return 0;
}
