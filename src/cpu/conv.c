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

/* The window [h0, h1) x [w0, w1) of output (oh, ow) and its divisor, as in
   PyTorch's avg_pool2d: the padded window is clipped to the padded input for
   count_include_pad, then to the input itself for the sum. */
static inline int64_t avg_window(const gd_conv_geom *g, int64_t oh, int64_t ow, int count_include_pad,
                                 int64_t divisor_override, int64_t *h0, int64_t *h1, int64_t *w0, int64_t *w1)
{
    int64_t a0 = oh * g->sh - g->ph, b0 = ow * g->sw - g->pw;
    int64_t a1 = a0 + g->kh < g->H + g->ph ? a0 + g->kh : g->H + g->ph;
    int64_t b1 = b0 + g->kw < g->W + g->pw ? b0 + g->kw : g->W + g->pw;
    int64_t pool = (a1 - a0) * (b1 - b0);
    if (a0 < 0) a0 = 0;
    if (b0 < 0) b0 = 0;
    if (a1 > g->H) a1 = g->H;
    if (b1 > g->W) b1 = g->W;
    *h0 = a0; *h1 = a1; *w0 = b0; *w1 = b1;
    if (divisor_override) return divisor_override;
    return count_include_pad ? pool : (a1 - a0) * (b1 - b0);
}

#define AVGPOOL(T)                                                                             \
    do {                                                                                       \
        const T *X = (const T *)x;                                                             \
        T *Y = (T *)y;                                                                         \
        int64_t HW = g->H * g->W, L = g->OH * g->OW;                                           \
        for (int64_t p = 0; p < planes; p++)                                                   \
            for (int64_t oh = 0; oh < g->OH; oh++)                                             \
                for (int64_t ow = 0; ow < g->OW; ow++) {                                       \
                    int64_t h0, h1, w0, w1;                                                    \
                    int64_t div = avg_window(g, oh, ow, count_include_pad, divisor_override,   \
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
                    int64_t div = avg_window(g, oh, ow, count_include_pad, divisor_override,   \
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

static inline int64_t start_index(int64_t o, int64_t out, int64_t in) { return (o * in) / out; }
static inline int64_t end_index(int64_t o, int64_t out, int64_t in) { return ((o + 1) * in + out - 1) / out; }

#define ADAPTIVE(T, BODY)                                                                      \
    do {                                                                                       \
        int64_t HW = g->H * g->W, L = g->OH * g->OW;                                           \
        for (int64_t p = 0; p < planes; p++)                                                   \
            for (int64_t oh = 0; oh < g->OH; oh++) {                                           \
                int64_t h0 = start_index(oh, g->OH, g->H), h1 = end_index(oh, g->OH, g->H);    \
                for (int64_t ow = 0; ow < g->OW; ow++) {                                       \
                    int64_t w0 = start_index(ow, g->OW, g->W), w1 = end_index(ow, g->OW, g->W);\
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
