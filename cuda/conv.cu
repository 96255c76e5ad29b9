// conv.cu: the CUDA backend's convolution and pooling, mirroring
// src/cpu/conv.c: im2col / col2im kernels around cuBLAS gemms (gemm() of
// cuda/matmul.cu, one per sample and group, on the workspace the caller
// keeps), and pooling with the window arithmetic of src/kernels/conv.h.
// Shapes as in src/backend.h: x N x C x H x W, w O x C/G x KH x KW,
// y N x O x OH x OW, col C*KH*KW x OH*OW (one sample).
#include "common.cuh"
#include "kernels/conv.h"

namespace gdcuda {

int gemm(int dtype, int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha, const void *a, int64_t lda,
         const void *b, int64_t ldb, double beta, void *c, int64_t ldc);

// row-major c (m x n) = op(a) op(b) (+ beta c): column-major c^T = op(b)^T op(a)^T,
// as gd_cpu_gemm_raw
static int gemm_rm(int dtype, int ta, int tb, int64_t m, int64_t n, int64_t k, const void *a, int64_t lda,
                   const void *b, int64_t ldb, double beta, void *c, int64_t ldc)
{
    return gemm(dtype, tb, ta, n, m, k, 1.0, b, ldb, a, lda, beta, c, ldc);
}

// ---------------------------------------------------------- im2col

// col[(c*KH + i)*KW + j][oh*OW + ow] = x[c][oh*SH - PH + i*DH][ow*SW - PW + j*DW], 0 where padded
template <typename T>
__global__ void im2col_kernel(const T *x, T *col, gd_conv_geom g)
{
    int64_t L = g.OH * g.OW, n = g.C * g.kh * g.kw * L;
    GD_CUDA_FOR(e, n) {
        int64_t l = e % L, r = e / L;
        int64_t j = r % g.kw, i = (r / g.kw) % g.kh, c = r / (g.kw * g.kh);
        int64_t ih = (l / g.OW) * g.sh - g.ph + i * g.dh, iw = (l % g.OW) * g.sw - g.pw + j * g.dw;
        col[e] = (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) ? x[(c * g.H + ih) * g.W + iw] : (T)0;
    }
}

// gx[c][ih][iw] += every col entry that im2col took from there: one thread per
// input element gathers them (no atomics; Caffe's col2im_gpu), taps in the
// CPU's order (i, then j)
template <typename T>
__global__ void col2im_kernel(const T *col, T *gx, gd_conv_geom g)
{
    int64_t L = g.OH * g.OW, n = g.C * g.H * g.W;
    GD_CUDA_FOR(e, n) {
        int64_t iw = e % g.W, ih = (e / g.W) % g.H, c = e / (g.W * g.H);
        T acc = gx[e];
        for (int64_t i = 0; i < g.kh; i++) {
            int64_t th = ih + g.ph - i * g.dh;
            if (th < 0 || th % g.sh) continue;
            int64_t oh = th / g.sh;
            if (oh >= g.OH) continue;
            for (int64_t j = 0; j < g.kw; j++) {
                int64_t tw = iw + g.pw - j * g.dw;
                if (tw < 0 || tw % g.sw) continue;
                int64_t ow = tw / g.sw;
                if (ow >= g.OW) continue;
                acc += col[((c * g.kh + i) * g.kw + j) * L + oh * g.OW + ow];
            }
        }
        gx[e] = acc;
    }
}

static int im2col(int dt, const void *x, void *col, const gd_conv_geom *g)
{
    int64_t n = g->C * g->kh * g->kw * g->OH * g->OW;
    if (n == 0) return 0;
    if (dt == GD_FLOAT32) im2col_kernel<float><<<blocks_for(n), kThreads>>>((const float *)x, (float *)col, *g);
    else im2col_kernel<double><<<blocks_for(n), kThreads>>>((const double *)x, (double *)col, *g);
    return check_launch("im2col");
}

static int col2im(int dt, const void *col, void *gx, const gd_conv_geom *g)
{
    int64_t n = g->C * g->H * g->W;
    if (n == 0) return 0;
    if (dt == GD_FLOAT32) col2im_kernel<float><<<blocks_for(n), kThreads>>>((const float *)col, (float *)gx, *g);
    else col2im_kernel<double><<<blocks_for(n), kThreads>>>((const double *)col, (double *)gx, *g);
    return check_launch("col2im");
}

// --------------------------------------------------------- the bias

// y (N x O x plane) = b[o] (0 without a bias)
template <typename T>
__global__ void fill_planes_kernel(T *y, const T *b, long long total, long long O, long long plane)
{
    GD_CUDA_FOR(e, total) y[e] = b ? b[(e / plane) % O] : (T)0;
}

static int fill_planes(int dt, void *y, const void *b, int64_t N, int64_t O, int64_t plane)
{
    int64_t n = N * O * plane;
    if (n == 0) return 0;
    if (dt == GD_FLOAT32)
        fill_planes_kernel<float><<<blocks_for(n), kThreads>>>((float *)y, (const float *)b, n, O, plane);
    else fill_planes_kernel<double><<<blocks_for(n), kThreads>>>((double *)y, (const double *)b, n, O, plane);
    return check_launch("conv bias");
}

// gb[o] += the sum over samples of gy's plane o, one thread per channel,
// samples and positions in the CPU's order, each sample's sum in double
template <typename T>
__global__ void plane_sums_kernel(T *gb, const T *gy, long long N, long long O, long long plane)
{
    GD_CUDA_FOR(o, O) {
        T acc = gb[o];
        for (long long n = 0; n < N; n++) {
            double s = 0;
            const T *r = gy + (n * O + o) * plane;
            for (long long i = 0; i < plane; i++) s += r[i];
            acc += (T)s;
        }
        gb[o] = acc;
    }
}

static int plane_sums(int dt, void *gb, const void *gy, int64_t N, int64_t O, int64_t plane)
{
    if (O == 0) return 0;
    if (dt == GD_FLOAT32)
        plane_sums_kernel<float><<<blocks_for(O), kThreads>>>((float *)gb, (const float *)gy, N, O, plane);
    else plane_sums_kernel<double><<<blocks_for(O), kThreads>>>((double *)gb, (const double *)gy, N, O, plane);
    return check_launch("conv bias gradient");
}

static int zero(void *p, size_t bytes)
{
    if (bytes == 0) return 0;
    cudaError_t e = cudaMemsetAsync(p, 0, bytes, 0);
    return e == cudaSuccess ? 0 : fail(e, "cudaMemsetAsync");
}

#define TRY(call)                                                                                  \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_) return rc_;                                                                       \
    } while (0)

// ------------------------------------------------------------ conv2d

int nn_conv2d(int dt, void *y, void *col, const void *x, const void *w, const void *b, int64_t N, int64_t O,
              int64_t G, const gd_conv_geom *g)
{
    size_t es = gd_dtype_size(dt);
    int64_t L = g->OH * g->OW, Og = O / G, Kg = (g->C / G) * g->kh * g->kw;
    if (b) TRY(fill_planes(dt, y, b, N, O, L));
    for (int64_t n = 0; n < N; n++) {
        char *yn = (char *)y + (size_t)(n * O * L) * es;
        TRY(im2col(dt, (const char *)x + (size_t)(n * g->C * g->H * g->W) * es, col, g));
        for (int64_t gi = 0; gi < G; gi++)
            TRY(gemm_rm(dt, 0, 0, Og, L, Kg, (const char *)w + (size_t)(gi * Og * Kg) * es, Kg,
                        (const char *)col + (size_t)(gi * Kg * L) * es, L, b ? 1.0 : 0.0,
                        yn + (size_t)(gi * Og * L) * es, L));
    }
    return 0;
}

int nn_conv2d_backward(int dt, void *gx, void *gw, void *gb, void *col, const void *gy, const void *x,
                       const void *w, int64_t N, int64_t O, int64_t G, const gd_conv_geom *g)
{
    size_t es = gd_dtype_size(dt);
    int64_t L = g->OH * g->OW, Og = O / G, Kg = (g->C / G) * g->kh * g->kw, XS = g->C * g->H * g->W;
    if (gb) TRY(plane_sums(dt, gb, gy, N, O, L));
    if (gx) TRY(zero(gx, (size_t)(N * XS) * es));
    for (int64_t n = 0; n < N; n++) {
        const char *gyn = (const char *)gy + (size_t)(n * O * L) * es;
        if (gw) {
            TRY(im2col(dt, (const char *)x + (size_t)(n * XS) * es, col, g));
            for (int64_t gi = 0; gi < G; gi++)
                TRY(gemm_rm(dt, 0, 1, Og, Kg, L, gyn + (size_t)(gi * Og * L) * es, L,
                            (const char *)col + (size_t)(gi * Kg * L) * es, L, 1.0,
                            (char *)gw + (size_t)(gi * Og * Kg) * es, Kg));
        }
        if (gx) {
            for (int64_t gi = 0; gi < G; gi++)
                TRY(gemm_rm(dt, 1, 0, Kg, L, Og, (const char *)w + (size_t)(gi * Og * Kg) * es, Kg,
                            gyn + (size_t)(gi * Og * L) * es, L, 0.0, (char *)col + (size_t)(gi * Kg * L) * es, L));
            TRY(col2im(dt, col, (char *)gx + (size_t)(n * XS) * es, g));
        }
    }
    return 0;
}

// -------------------------------------------------- conv_transpose2d

int nn_conv_transpose2d(int dt, void *y, void *col, const void *x, const void *w, const void *b, int64_t N,
                        int64_t Cin, int64_t G, const gd_conv_geom *g)
{
    size_t es = gd_dtype_size(dt);
    int64_t O = g->C, L = g->OH * g->OW, Cg = Cin / G, Kg = (O / G) * g->kh * g->kw, YS = O * g->H * g->W;
    TRY(fill_planes(dt, y, b, N, O, g->H * g->W));  // col2im adds into it
    for (int64_t n = 0; n < N; n++) {
        for (int64_t gi = 0; gi < G; gi++)
            TRY(gemm_rm(dt, 1, 0, Kg, L, Cg, (const char *)w + (size_t)(gi * Cg * Kg) * es, Kg,
                        (const char *)x + (size_t)((n * G + gi) * Cg * L) * es, L, 0.0,
                        (char *)col + (size_t)(gi * Kg * L) * es, L));
        TRY(col2im(dt, col, (char *)y + (size_t)(n * YS) * es, g));
    }
    return 0;
}

int nn_conv_transpose2d_backward(int dt, void *gx, void *gw, void *gb, void *col, const void *gy, const void *x,
                                 const void *w, int64_t N, int64_t Cin, int64_t G, const gd_conv_geom *g)
{
    size_t es = gd_dtype_size(dt);
    int64_t O = g->C, L = g->OH * g->OW, Cg = Cin / G, Kg = (O / G) * g->kh * g->kw, YS = O * g->H * g->W;
    if (gb) TRY(plane_sums(dt, gb, gy, N, O, g->H * g->W));
    if (!gx && !gw) return 0;
    for (int64_t n = 0; n < N; n++) {
        TRY(im2col(dt, (const char *)gy + (size_t)(n * YS) * es, col, g));
        for (int64_t gi = 0; gi < G; gi++) {
            const char *colg = (const char *)col + (size_t)(gi * Kg * L) * es;
            if (gx)
                TRY(gemm_rm(dt, 0, 0, Cg, L, Kg, (const char *)w + (size_t)(gi * Cg * Kg) * es, Kg, colg, L, 0.0,
                            (char *)gx + (size_t)((n * G + gi) * Cg * L) * es, L));
            if (gw)
                TRY(gemm_rm(dt, 0, 1, Cg, Kg, L, (const char *)x + (size_t)((n * G + gi) * Cg * L) * es, L, colg, L,
                            1.0, (char *)gw + (size_t)(gi * Cg * Kg) * es, Kg));
        }
    }
    return 0;
}

// ----------------------------------------------------------- pooling

// one thread per output; the window as src/cpu/conv.c's MAXPOOL: taps outside
// the input skipped, the first maximum wins, a NaN wins over everything
template <typename T>
__global__ void maxpool_kernel(const T *x, T *y, long long *idx, long long planes, gd_conv_geom g)
{
    int64_t L = g.OH * g.OW;
    GD_CUDA_FOR(e, planes * L) {
        int64_t p = e / L, oh = (e % L) / g.OW, ow = e % g.OW;
        const T *xp = x + p * g.H * g.W;
        T best = -INFINITY;
        int64_t at = -1;
        for (int64_t i = 0; i < g.kh; i++) {
            int64_t ih = oh * g.sh - g.ph + i * g.dh;
            if (ih < 0 || ih >= g.H) continue;
            for (int64_t j = 0; j < g.kw; j++) {
                int64_t iw = ow * g.sw - g.pw + j * g.dw;
                if (iw < 0 || iw >= g.W) continue;
                T v = xp[ih * g.W + iw];
                if (at < 0 || v > best || isnan(v)) {
                    best = v;
                    at = ih * g.W + iw;
                }
            }
        }
        y[e] = best;
        idx[e] = at;
    }
}

// gx is zeroed first; windows overlap when stride < kernel, hence atomics
template <typename T>
__global__ void maxpool_backward_kernel(const T *gy, const long long *idx, T *gx, long long planes, long long L,
                                        long long HW)
{
    GD_CUDA_FOR(e, planes * L) {
        long long at = idx[e];
        if (at >= 0) atomicAdd(gx + (e / L) * HW + at, gy[e]);
    }
}

template <typename T>
__global__ void avgpool_kernel(const T *x, T *y, long long planes, gd_conv_geom g, int cip, long long divisor)
{
    int64_t L = g.OH * g.OW;
    GD_CUDA_FOR(e, planes * L) {
        int64_t p = e / L, oh = (e % L) / g.OW, ow = e % g.OW, h0, h1, w0, w1;
        int64_t div = gd_avg_window(&g, oh, ow, cip, divisor, &h0, &h1, &w0, &w1);
        const T *xp = x + p * g.H * g.W;
        T s = 0;
        for (int64_t ih = h0; ih < h1; ih++)
            for (int64_t iw = w0; iw < w1; iw++) s += xp[ih * g.W + iw];
        y[e] = (h0 >= h1 || w0 >= w1) ? (T)0 : s / (T)div;
    }
}

template <typename T>
__global__ void avgpool_backward_kernel(const T *gy, T *gx, long long planes, gd_conv_geom g, int cip,
                                        long long divisor)
{
    int64_t L = g.OH * g.OW;
    GD_CUDA_FOR(e, planes * L) {
        int64_t p = e / L, oh = (e % L) / g.OW, ow = e % g.OW, h0, h1, w0, w1;
        int64_t div = gd_avg_window(&g, oh, ow, cip, divisor, &h0, &h1, &w0, &w1);
        T d = gy[e] / (T)div;
        T *gp = gx + p * g.H * g.W;
        for (int64_t ih = h0; ih < h1; ih++)
            for (int64_t iw = w0; iw < w1; iw++) atomicAdd(gp + ih * g.W + iw, d);
    }
}

template <typename T>
__global__ void adaptive_kernel(const T *x, T *y, long long planes, gd_conv_geom g)
{
    int64_t L = g.OH * g.OW;
    GD_CUDA_FOR(e, planes * L) {
        int64_t p = e / L, oh = (e % L) / g.OW, ow = e % g.OW;
        int64_t h0 = gd_adaptive_start(oh, g.OH, g.H), h1 = gd_adaptive_end(oh, g.OH, g.H);
        int64_t w0 = gd_adaptive_start(ow, g.OW, g.W), w1 = gd_adaptive_end(ow, g.OW, g.W);
        const T *xp = x + p * g.H * g.W;
        T s = 0;
        for (int64_t ih = h0; ih < h1; ih++)
            for (int64_t iw = w0; iw < w1; iw++) s += xp[ih * g.W + iw];
        y[e] = s / (T)((h1 - h0) * (w1 - w0));
    }
}

template <typename T>
__global__ void adaptive_backward_kernel(const T *gy, T *gx, long long planes, gd_conv_geom g)
{
    int64_t L = g.OH * g.OW;
    GD_CUDA_FOR(e, planes * L) {
        int64_t p = e / L, oh = (e % L) / g.OW, ow = e % g.OW;
        int64_t h0 = gd_adaptive_start(oh, g.OH, g.H), h1 = gd_adaptive_end(oh, g.OH, g.H);
        int64_t w0 = gd_adaptive_start(ow, g.OW, g.W), w1 = gd_adaptive_end(ow, g.OW, g.W);
        T d = gy[e] / (T)((h1 - h0) * (w1 - w0));
        T *gp = gx + p * g.H * g.W;
        for (int64_t ih = h0; ih < h1; ih++)
            for (int64_t iw = w0; iw < w1; iw++) atomicAdd(gp + ih * g.W + iw, d);
    }
}

template <typename T>
static void pool_launch(int kind, void *y, int64_t *idx, const void *x, int64_t planes, const gd_conv_geom *g,
                        int cip, int64_t divisor)
{
    unsigned nb = blocks_for(planes * g->OH * g->OW);
    if (kind == GD_NN_MAXPOOL)
        maxpool_kernel<T><<<nb, kThreads>>>((const T *)x, (T *)y, (long long *)idx, planes, *g);
    else if (kind == GD_NN_AVGPOOL)
        avgpool_kernel<T><<<nb, kThreads>>>((const T *)x, (T *)y, planes, *g, cip, divisor);
    else adaptive_kernel<T><<<nb, kThreads>>>((const T *)x, (T *)y, planes, *g);
}

template <typename T>
static void pool_backward_launch(int kind, void *gx, const void *gy, const int64_t *idx, int64_t planes,
                                 const gd_conv_geom *g, int cip, int64_t divisor)
{
    int64_t L = g->OH * g->OW;
    unsigned nb = blocks_for(planes * L);
    if (kind == GD_NN_MAXPOOL)
        maxpool_backward_kernel<T><<<nb, kThreads>>>((const T *)gy, (const long long *)idx, (T *)gx, planes, L,
                                                     g->H * g->W);
    else if (kind == GD_NN_AVGPOOL)
        avgpool_backward_kernel<T><<<nb, kThreads>>>((const T *)gy, (T *)gx, planes, *g, cip, divisor);
    else adaptive_backward_kernel<T><<<nb, kThreads>>>((const T *)gy, (T *)gx, planes, *g);
}

int nn_pool2d(int dt, int kind, void *y, int64_t *idx, const void *x, int64_t planes, const gd_conv_geom *g,
              int count_include_pad, int64_t divisor_override)
{
    if (planes * g->OH * g->OW == 0) return 0;
    if (dt == GD_FLOAT32) pool_launch<float>(kind, y, idx, x, planes, g, count_include_pad, divisor_override);
    else pool_launch<double>(kind, y, idx, x, planes, g, count_include_pad, divisor_override);
    return check_launch("pooling");
}

int nn_pool2d_backward(int dt, int kind, void *gx, const void *gy, const int64_t *idx, int64_t planes,
                       const gd_conv_geom *g, int count_include_pad, int64_t divisor_override)
{
    TRY(zero(gx, (size_t)(planes * g->H * g->W) * gd_dtype_size(dt)));
    if (planes * g->OH * g->OW == 0) return 0;
    if (dt == GD_FLOAT32)
        pool_backward_launch<float>(kind, gx, gy, idx, planes, g, count_include_pad, divisor_override);
    else pool_backward_launch<double>(kind, gx, gy, idx, planes, g, count_include_pad, divisor_override);
    return check_launch("pooling backward");
}

}  // namespace gdcuda
