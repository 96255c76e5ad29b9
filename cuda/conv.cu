// conv.cu: the CUDA backend's convolution and pooling, mirroring
// src/cpu/conv.c: batched im2col / col2im kernels around cuBLAS
// strided-batched gemms (gemm_batched of cuda/matmul.cu), and pooling with the
// window arithmetic of src/kernels/conv.h.
// Shapes as in src/backend.h: x N x C x H x W, w O x C/G x KH x KW,
// y N x O x OH x OW; K = C*KH*KW rows of the im2col matrix, L = OH*OW.
//
// Samples go in chunks of nb (as many as workspace_bytes() of workspace
// hold, at least one), each chunk's im2col in one launch and its products in
// one strided-batched gemm per group (one for groups = 1), instead of one
// gemm per sample: the forward batches over samples (col laid out per
// sample, [n][K][L], the weight's stride 0); the weight gradient needs the
// sum over samples inside one product, so the backward lays col out as
// [K][nb*L] and the output gradient as O x nb*L (a transposing copy), and
// one gemm of depth nb*L gives the chunk's gradient for all groups.
#include "common.cuh"
#include "kernels/conv.h"

#include <stdlib.h>

namespace gdcuda {

int gemm(int dtype, int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha, const void *a, int64_t lda,
         const void *b, int64_t ldb, double beta, void *c, int64_t ldc);
int gemm_batched(int dtype, int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha, const void *a, int64_t lda,
                 int64_t sa, const void *b, int64_t ldb, int64_t sb, double beta, void *c, int64_t ldc, int64_t sc,
                 int64_t batch);

// row-major c_i (m x n) = op(a_i) op(b_i) (+ beta c_i), i < batch, strides in
// elements: column-major c^T = op(b)^T op(a)^T, as gd_cpu_gemm_raw
static int gemm_rm(int dtype, int ta, int tb, int64_t m, int64_t n, int64_t k, const void *a, int64_t lda, int64_t sa,
                   const void *b, int64_t ldb, int64_t sb, double beta, void *c, int64_t ldc, int64_t sc,
                   int64_t batch)
{
    return gemm_batched(dtype, tb, ta, n, m, k, 1.0, b, ldb, sb, a, lda, sa, beta, c, ldc, sc, batch);
}

// ---------------------------------------------------------- im2col

// For nb samples of x: entry (n, r, l) of the im2col matrices, r = (c*KH + i)*KW + j,
// l = oh*OW + ow, is x[n][c][oh*SH - PH + i*DH][ow*SW - PW + j*DW] (0 where
// padded), stored at col[n*sn + r*sr + l]: [n][K][L] is sn = K*L, sr = L;
// [K][nb*L] is sn = L, sr = nb*L.
template <typename T>
__global__ void im2col_kernel(const T *x, T *col, gd_conv_geom g, long long nb, long long sn, long long sr)
{
    int64_t L = g.OH * g.OW, per = g.C * g.kh * g.kw * L;
    GD_CUDA_FOR(e, nb * per) {
        int64_t n = e / per, q = e % per, l = q % L, r = q / L;
        int64_t j = r % g.kw, i = (r / g.kw) % g.kh, c = r / (g.kw * g.kh);
        int64_t ih = (l / g.OW) * g.sh - g.ph + i * g.dh, iw = (l % g.OW) * g.sw - g.pw + j * g.dw;
        col[n * sn + r * sr + l] =
            (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) ? x[((n * g.C + c) * g.H + ih) * g.W + iw] : (T)0;
    }
}

// gx[n][c][ih][iw] += every col entry (laid out as im2col's) taken from there:
// one thread per input element gathers them (no atomics; Caffe's col2im_gpu),
// taps in the CPU's order (i, then j)
template <typename T>
__global__ void col2im_kernel(const T *col, T *gx, gd_conv_geom g, long long nb, long long sn, long long sr)
{
    int64_t per = g.C * g.H * g.W;
    GD_CUDA_FOR(e, nb * per) {
        int64_t n = e / per, q = e % per;
        int64_t iw = q % g.W, ih = (q / g.W) % g.H, c = q / (g.W * g.H);
        const T *cn = col + n * sn;
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
                acc += cn[((c * g.kh + i) * g.kw + j) * sr + oh * g.OW + ow];
            }
        }
        gx[e] = acc;
    }
}

static int im2col(int dt, const void *x, void *col, const gd_conv_geom *g, int64_t nb, int64_t sn, int64_t sr)
{
    int64_t n = nb * g->C * g->kh * g->kw * g->OH * g->OW;
    if (n == 0) return 0;
    if (dt == GD_FLOAT32)
        im2col_kernel<float><<<blocks_for(n), kThreads>>>((const float *)x, (float *)col, *g, nb, sn, sr);
    else im2col_kernel<double><<<blocks_for(n), kThreads>>>((const double *)x, (double *)col, *g, nb, sn, sr);
    return check_launch("im2col");
}

static int col2im(int dt, const void *col, void *gx, const gd_conv_geom *g, int64_t nb, int64_t sn, int64_t sr)
{
    int64_t n = nb * g->C * g->H * g->W;
    if (n == 0) return 0;
    if (dt == GD_FLOAT32)
        col2im_kernel<float><<<blocks_for(n), kThreads>>>((const float *)col, (float *)gx, *g, nb, sn, sr);
    else col2im_kernel<double><<<blocks_for(n), kThreads>>>((const double *)col, (double *)gx, *g, nb, sn, sr);
    return check_launch("col2im");
}

// nb x R x L <-> R x nb*L (the backward's sample-major to row-major layouts):
// to_rows: dst[r][n*L + l] = src[n][r][l]; from_rows the inverse
template <typename T>
__global__ void to_rows_kernel(T *dst, const T *src, long long nb, long long R, long long L, int inverse)
{
    GD_CUDA_FOR(e, nb * R * L) {
        long long l = e % L, r = (e / L) % R, n = e / (L * R);  // e = (n R + r) L + l
        long long t = r * nb * L + n * L + l;
        if (inverse) dst[e] = src[t];
        else dst[t] = src[e];
    }
}

static int to_rows(int dt, void *dst, const void *src, int64_t nb, int64_t R, int64_t L, int inverse)
{
    int64_t n = nb * R * L;
    if (n == 0) return 0;
    if (dt == GD_FLOAT32)
        to_rows_kernel<float><<<blocks_for(n), kThreads>>>((float *)dst, (const float *)src, nb, R, L, inverse);
    else to_rows_kernel<double><<<blocks_for(n), kThreads>>>((double *)dst, (const double *)src, nb, R, L, inverse);
    return check_launch(inverse ? "conv layout (back)" : "conv layout");
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

// gb[o] += the sum over samples and positions of gy's plane o: one block per
// channel, each thread summing its strided share in double, block_sum
// joining them in a fixed tree (the same from run to run; the CPU sums each
// sample's plane in order, so the two differ in rounding only), added once
template <typename T>
__global__ void plane_sums_kernel(T *gb, const T *gy, long long N, long long O, long long plane)
{
    extern __shared__ double sh[];
    long long count = N * plane;
    for (long long o = blockIdx.x; o < O; o += gridDim.x) {
        double s = 0;
        for (long long m = threadIdx.x; m < count; m += blockDim.x)
            s += (double)gy[((m / plane) * O + o) * plane + m % plane];
        s = block_sum(s, sh);
        if (threadIdx.x == 0) gb[o] += (T)s;
    }
}

static int plane_sums(int dt, void *gb, const void *gy, int64_t N, int64_t O, int64_t plane)
{
    if (O == 0) return 0;
    unsigned th = reduce_threads(N * plane), nb = (unsigned)(O < 65535LL * 8 ? O : 65535LL * 8);
    if (dt == GD_FLOAT32)
        plane_sums_kernel<float><<<nb, th, th * sizeof(double)>>>((float *)gb, (const float *)gy, N, O, plane);
    else
        plane_sums_kernel<double><<<nb, th, th * sizeof(double)>>>((double *)gb, (const double *)gy, N, O, plane);
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

// ------------------------------------------------------ the workspace

// The most workspace one call takes (the chunk size follows from it):
// 256 MiB, or GD_CUDA_CONV_WORKSPACE bytes when set (read on every call, so
// that a spec can force many small chunks and check their seams)
static int64_t workspace_bytes()
{
    const char *v = getenv("GD_CUDA_CONV_WORKSPACE");
    long long n = v ? atoll(v) : 0;
    return n > 0 ? (int64_t)n : 256LL << 20;
}

// A chunked call's workspace: nb samples of `per` bytes each, from the
// stream-ordered allocator, released when the call returns.
struct conv_ws {
    char *p = nullptr;
    int64_t nb = 1;
    ~conv_ws() { if (p) cudaFreeAsync(p, 0); }
    int take(int64_t N, int64_t per)
    {
        nb = per > 0 ? workspace_bytes() / per : N;
        if (nb > N) nb = N;
        if (nb < 1) nb = 1;
        cudaError_t e = cudaMallocAsync((void **)&p, (size_t)(nb * per > 0 ? nb * per : 1), 0);
        if (e != cudaSuccess) {
            p = nullptr;
            return fail(e, "cudaMallocAsync (convolution workspace)");
        }
        return 0;
    }
};

// ------------------------------------------------------------ conv2d

// The caller's col (one sample) is not needed: the chunks have their own.
int nn_conv2d(int dt, void *y, void *col, const void *x, const void *w, const void *b, int64_t N, int64_t O,
              int64_t G, const gd_conv_geom *g)
{
    (void)col;
    size_t es = gd_dtype_size(dt);
    int64_t L = g->OH * g->OW, Og = O / G, Kg = (g->C / G) * g->kh * g->kw, K = g->C * g->kh * g->kw;
    int64_t XS = g->C * g->H * g->W;
    if (b) TRY(fill_planes(dt, y, b, N, O, L));
    if (N == 0 || L == 0 || O == 0) return 0;
    conv_ws ws;
    TRY(ws.take(N, K * L * (int64_t)es));
    for (int64_t n0 = 0; n0 < N; n0 += ws.nb) {
        int64_t m = N - n0 < ws.nb ? N - n0 : ws.nb;
        TRY(im2col(dt, (const char *)x + (size_t)(n0 * XS) * es, ws.p, g, m, K * L, L));
        // y[n, group] (Og x L) = w[group] (Og x Kg) @ col[n][group rows] (Kg x L), for the m samples
        for (int64_t gi = 0; gi < G; gi++)
            TRY(gemm_rm(dt, 0, 0, Og, L, Kg, (const char *)w + (size_t)(gi * Og * Kg) * es, Kg, 0,
                        ws.p + (size_t)(gi * Kg * L) * es, L, K * L, b ? 1.0 : 0.0,
                        (char *)y + (size_t)((n0 * O + gi * Og) * L) * es, L, O * L, m));
    }
    return 0;
}

int nn_conv2d_backward(int dt, void *gx, void *gw, void *gb, void *col, const void *gy, const void *x,
                       const void *w, int64_t N, int64_t O, int64_t G, const gd_conv_geom *g)
{
    (void)col;
    size_t es = gd_dtype_size(dt);
    int64_t L = g->OH * g->OW, Og = O / G, Kg = (g->C / G) * g->kh * g->kw, K = g->C * g->kh * g->kw;
    int64_t XS = g->C * g->H * g->W;
    if (gb) TRY(plane_sums(dt, gb, gy, N, O, L));
    if (gx) TRY(zero(gx, (size_t)(N * XS) * es));
    if ((!gx && !gw) || N == 0 || L == 0 || O == 0) return 0;
    // per sample: col K x L and gy's rows O x L, both laid out across the chunk
    conv_ws ws;
    TRY(ws.take(N, (K + O) * L * (int64_t)es));
    for (int64_t n0 = 0; n0 < N; n0 += ws.nb) {
        int64_t m = N - n0 < ws.nb ? N - n0 : ws.nb, mL = m * L;
        char *cols = ws.p, *gyr = ws.p + (size_t)(K * mL) * es;  // K x mL, O x mL
        TRY(to_rows(dt, gyr, (const char *)gy + (size_t)(n0 * O * L) * es, m, O, L, 0));
        if (gw) {
            // gw[group] (Og x Kg) += gy rows (Og x mL) @ col rows^T (mL x Kg): every sample in one product
            TRY(im2col(dt, (const char *)x + (size_t)(n0 * XS) * es, cols, g, m, L, mL));
            TRY(gemm_rm(dt, 0, 1, Og, Kg, mL, gyr, mL, Og * mL, cols, mL, Kg * mL, 1.0, gw, Kg, Og * Kg, G));
        }
        if (gx) {
            // col rows (Kg x mL) = w[group]^T (Kg x Og) @ gy rows (Og x mL), then col2im
            TRY(gemm_rm(dt, 1, 0, Kg, mL, Og, w, Kg, Og * Kg, gyr, mL, Og * mL, 0.0, cols, mL, Kg * mL, G));
            TRY(col2im(dt, cols, (char *)gx + (size_t)(n0 * XS) * es, g, m, L, mL));
        }
    }
    return 0;
}

// -------------------------------------------------- conv_transpose2d

// g describes the conv whose adjoint this is: g.C = O output channels over
// g.H x g.W (y's plane), g.OH x g.OW = L is x's plane; K = O*KH*KW.
int nn_conv_transpose2d(int dt, void *y, void *col, const void *x, const void *w, const void *b, int64_t N,
                        int64_t Cin, int64_t G, const gd_conv_geom *g)
{
    (void)col;
    size_t es = gd_dtype_size(dt);
    int64_t O = g->C, L = g->OH * g->OW, Cg = Cin / G, Kg = (O / G) * g->kh * g->kw, K = O * g->kh * g->kw;
    int64_t YS = O * g->H * g->W;
    TRY(fill_planes(dt, y, b, N, O, g->H * g->W));  // col2im adds into it
    if (N == 0 || L == 0 || Cin == 0) return 0;
    conv_ws ws;
    TRY(ws.take(N, K * L * (int64_t)es));
    for (int64_t n0 = 0; n0 < N; n0 += ws.nb) {
        int64_t m = N - n0 < ws.nb ? N - n0 : ws.nb;
        // col[n][group rows] (Kg x L) = w[group]^T (Kg x Cg) @ x[n, group] (Cg x L), for the m samples
        for (int64_t gi = 0; gi < G; gi++)
            TRY(gemm_rm(dt, 1, 0, Kg, L, Cg, (const char *)w + (size_t)(gi * Cg * Kg) * es, Kg, 0,
                        (const char *)x + (size_t)((n0 * Cin + gi * Cg) * L) * es, L, Cin * L, 0.0,
                        ws.p + (size_t)(gi * Kg * L) * es, L, K * L, m));
        TRY(col2im(dt, ws.p, (char *)y + (size_t)(n0 * YS) * es, g, m, K * L, L));
    }
    return 0;
}

int nn_conv_transpose2d_backward(int dt, void *gx, void *gw, void *gb, void *col, const void *gy, const void *x,
                                 const void *w, int64_t N, int64_t Cin, int64_t G, const gd_conv_geom *g)
{
    (void)col;
    size_t es = gd_dtype_size(dt);
    int64_t O = g->C, L = g->OH * g->OW, Cg = Cin / G, Kg = (O / G) * g->kh * g->kw, K = O * g->kh * g->kw;
    int64_t YS = O * g->H * g->W;
    if (gb) TRY(plane_sums(dt, gb, gy, N, O, g->H * g->W));
    if (!gx && !gw) return 0;
    if (N == 0 || L == 0 || Cin == 0) return 0;  // gx (N x Cin x L) has no elements then
    // per sample: im2col(gy) K x L and x's (then gx's) rows Cin x L, across the chunk
    conv_ws ws;
    TRY(ws.take(N, (K + Cin) * L * (int64_t)es));
    for (int64_t n0 = 0; n0 < N; n0 += ws.nb) {
        int64_t m = N - n0 < ws.nb ? N - n0 : ws.nb, mL = m * L;
        char *cols = ws.p, *rows = ws.p + (size_t)(K * mL) * es;  // K x mL, Cin x mL
        TRY(im2col(dt, (const char *)gy + (size_t)(n0 * YS) * es, cols, g, m, L, mL));
        if (gw) {
            // gw[group] (Cg x Kg) += x rows (Cg x mL) @ col rows^T (mL x Kg)
            TRY(to_rows(dt, rows, (const char *)x + (size_t)(n0 * Cin * L) * es, m, Cin, L, 0));
            TRY(gemm_rm(dt, 0, 1, Cg, Kg, mL, rows, mL, Cg * mL, cols, mL, Kg * mL, 1.0, gw, Kg, Cg * Kg, G));
        }
        if (gx) {
            // gx rows (Cg x mL) = w[group] (Cg x Kg) @ col rows (Kg x mL), back to N x Cin x L
            TRY(gemm_rm(dt, 0, 0, Cg, mL, Kg, w, Kg, Cg * Kg, cols, mL, Kg * mL, 0.0, rows, mL, Cg * mL, G));
            TRY(to_rows(dt, (char *)gx + (size_t)(n0 * Cin * L) * es, rows, m, Cin, L, 1));
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
        int64_t p = e / L, oh = (e % L) / g.OW, ow = e % g.OW, h0, h1, w0, w1;
        int64_t n = gd_adaptive_window(&g, oh, ow, &h0, &h1, &w0, &w1);
        const T *xp = x + p * g.H * g.W;
        T s = 0;
        for (int64_t ih = h0; ih < h1; ih++)
            for (int64_t iw = w0; iw < w1; iw++) s += xp[ih * g.W + iw];
        y[e] = s / (T)n;
    }
}

template <typename T>
__global__ void adaptive_backward_kernel(const T *gy, T *gx, long long planes, gd_conv_geom g)
{
    int64_t L = g.OH * g.OW;
    GD_CUDA_FOR(e, planes * L) {
        int64_t p = e / L, oh = (e % L) / g.OW, ow = e % g.OW, h0, h1, w0, w1;
        T d = gy[e] / (T)gd_adaptive_window(&g, oh, ow, &h0, &h1, &w0, &w1);
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
