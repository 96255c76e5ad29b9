// norm.cu: the CUDA backend's batch, layer and group normalisation,
// mirroring src/cpu/norm.c (PyTorch 1.13's batch_norm / layer_norm /
// group_norm formulas).  x is N x C x L, viewed as C channels
// of M = N*L values.  One block per channel: each thread sums its strided
// share of the channel in double, then a fixed tree in shared memory joins
// them, so results do not vary from run to run (they differ from the CPU's
// sequential sums only in rounding order).  Layer and group norm: one block
// per row of M values, the same fixed-tree sums (see nn_rownorm below).
#include "common.cuh"

namespace gdcuda {

constexpr int kNormThreads = 256;

// element m of channel c
#define CH_AT(p, m) (p)[((m) / L * C + c) * L + (m) % L]

template <typename T>
__global__ void batchnorm_kernel(T *y, T *save_mean, T *save_invstd, T *rmean, T *rvar, const T *x, const T *w,
                                 const T *b, long long N, long long C, long long L, double momentum, double eps,
                                 int training)
{
    __shared__ double sh[kNormThreads];
    long long c = blockIdx.x, M = N * L;
    double mean, invstd;
    if (training || rmean == nullptr) {
        double s = 0;
        for (long long m = threadIdx.x; m < M; m += kNormThreads) s += CH_AT(x, m);
        mean = block_sum(s, sh) / (double)M;
        double q = 0;
        for (long long m = threadIdx.x; m < M; m += kNormThreads) {
            double d = CH_AT(x, m) - mean;
            q += d * d;
        }
        q = block_sum(q, sh);
        invstd = 1.0 / sqrt(q / (double)M + eps);  // the biased variance normalises
        if (threadIdx.x == 0 && rmean && training) {
            // PyTorch: the running variance takes the unbiased estimate
            rmean[c] = (T)((1 - momentum) * rmean[c] + momentum * mean);
            rvar[c] = (T)((1 - momentum) * rvar[c] + momentum * q / (double)(M - 1));
        }
    } else {
        mean = rmean[c];
        invstd = 1.0 / sqrt((double)rvar[c] + eps);
    }
    if (threadIdx.x == 0) {
        save_mean[c] = (T)mean;
        save_invstd[c] = (T)invstd;
    }
    double gam = w ? (double)w[c] : 1.0, bet = b ? (double)b[c] : 0.0;
    T k = (T)(gam * invstd), o = (T)(bet - mean * gam * invstd);
    for (long long m = threadIdx.x; m < M; m += kNormThreads) CH_AT(y, m) = CH_AT(x, m) * k + o;
}

template <typename T>
__global__ void batchnorm_backward_kernel(T *gx, T *gw, T *gb, const T *gy, const T *x, const T *w,
                                          const T *save_mean, const T *save_invstd, long long N, long long C,
                                          long long L, int batch_stats)
{
    __shared__ double sh[kNormThreads];
    long long c = blockIdx.x, M = N * L;
    double mean = save_mean[c], invstd = save_invstd[c];
    double sg = 0, sgx = 0;
    for (long long m = threadIdx.x; m < M; m += kNormThreads) {
        double g = CH_AT(gy, m);
        sg += g;
        sgx += g * ((CH_AT(x, m) - mean) * invstd);
    }
    sg = block_sum(sg, sh);
    sgx = block_sum(sgx, sh);
    if (threadIdx.x == 0) {
        if (gw) gw[c] += (T)sgx;
        if (gb) gb[c] += (T)sg;
    }
    if (!gx) return;
    double gam = w ? (double)w[c] : 1.0;
    double k = gam * invstd, mg = sg / (double)M, mgx = sgx / (double)M;
    for (long long m = threadIdx.x; m < M; m += kNormThreads) {
        double g = CH_AT(gy, m);
        CH_AT(gx, m) = batch_stats ? (T)(k * (g - mg - (CH_AT(x, m) - mean) * invstd * mgx)) : (T)(k * g);
    }
}

#undef CH_AT

int nn_batchnorm(int dtype, void *y, void *save_mean, void *save_invstd, void *rmean, void *rvar, const void *x,
                 const void *w, const void *b, int64_t N, int64_t C, int64_t L, double momentum, double eps,
                 int training)
{
    if (C == 0) return 0;
    if (dtype == GD_FLOAT32)
        batchnorm_kernel<float><<<(unsigned)C, kNormThreads>>>(
            (float *)y, (float *)save_mean, (float *)save_invstd, (float *)rmean, (float *)rvar, (const float *)x,
            (const float *)w, (const float *)b, N, C, L, momentum, eps, training);
    else
        batchnorm_kernel<double><<<(unsigned)C, kNormThreads>>>(
            (double *)y, (double *)save_mean, (double *)save_invstd, (double *)rmean, (double *)rvar,
            (const double *)x, (const double *)w, (const double *)b, N, C, L, momentum, eps, training);
    return check_launch("batch_norm");
}

int nn_batchnorm_backward(int dtype, void *gx, void *gw, void *gb, const void *gy, const void *x, const void *w,
                          const void *save_mean, const void *save_invstd, int64_t N, int64_t C, int64_t L,
                          int batch_stats)
{
    if (C == 0) return 0;
    if (dtype == GD_FLOAT32)
        batchnorm_backward_kernel<float><<<(unsigned)C, kNormThreads>>>(
            (float *)gx, (float *)gw, (float *)gb, (const float *)gy, (const float *)x, (const float *)w,
            (const float *)save_mean, (const float *)save_invstd, N, C, L, batch_stats);
    else
        batchnorm_backward_kernel<double><<<(unsigned)C, kNormThreads>>>(
            (double *)gx, (double *)gw, (double *)gb, (const double *)gy, (const double *)x, (const double *)w,
            (const double *)save_mean, (const double *)save_invstd, N, C, L, batch_stats);
    return check_launch("batch_norm backward");
}

// ------------------------------------------------ layer and group norm

// x, y rows x M; save_mean, save_rstd rows; w, b the affine vectors, index
// ((r mod G) M + p) / span for element p of row r (src/backend.h).  One block
// per row (grid-stride over rows), blockDim.x threads sum the row in double
// with block_sum: mean, then the biased variance around it, as the CPU.
template <typename T>
__global__ void rownorm_kernel(T *y, T *save_mean, T *save_rstd, const T *x, const T *w, const T *b, long long rows,
                               long long M, long long G, long long span, double eps)
{
    extern __shared__ double sh[];
    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        const T *xr = x + r * M;
        double s = 0;
        for (long long p = threadIdx.x; p < M; p += blockDim.x) s += (double)xr[p];
        double mean = block_sum(s, sh) / (double)M;
        double q = 0;
        for (long long p = threadIdx.x; p < M; p += blockDim.x) {
            double d = (double)xr[p] - mean;
            q += d * d;
        }
        double rstd = 1.0 / sqrt(block_sum(q, sh) / (double)M + eps);
        if (threadIdx.x == 0) {
            save_mean[r] = (T)mean;
            save_rstd[r] = (T)rstd;
        }
        long long a0 = (r % G) * M;
        for (long long p = threadIdx.x; p < M; p += blockDim.x) {
            long long a = (a0 + p) / span;
            double v = ((double)xr[p] - mean) * rstd;
            if (w) v *= (double)w[a];
            if (b) v += (double)b[a];
            y[r * M + p] = (T)v;
        }
    }
}

// gx = rstd (g - mean(g) - xhat mean(g xhat)), g = gy * gamma: one block per
// row, with the saved (T-rounded) statistics, as the CPU
template <typename T>
__global__ void rownorm_backward_kernel(T *gx, const T *gy, const T *x, const T *w, const T *save_mean,
                                        const T *save_rstd, long long rows, long long M, long long G, long long span)
{
    extern __shared__ double sh[];
    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        const T *xr = x + r * M, *gr = gy + r * M;
        double mean = (double)save_mean[r], rstd = (double)save_rstd[r];
        long long a0 = (r % G) * M;
        double sg = 0, sgx = 0;
        for (long long p = threadIdx.x; p < M; p += blockDim.x) {
            double g = w ? (double)gr[p] * (double)w[(a0 + p) / span] : (double)gr[p];
            sg += g;
            sgx += g * (((double)xr[p] - mean) * rstd);
        }
        double mg = block_sum(sg, sh) / (double)M, mgx = block_sum(sgx, sh) / (double)M;
        for (long long p = threadIdx.x; p < M; p += blockDim.x) {
            double g = w ? (double)gr[p] * (double)w[(a0 + p) / span] : (double)gr[p];
            double xh = ((double)xr[p] - mean) * rstd;
            gx[r * M + p] = (T)(rstd * (g - mg - xh * mgx));
        }
    }
}

// The affine gradients: gw[a] += sum gy xhat, gb[a] += sum gy over the
// elements of affine index a: the rows r = g + G k (k < rows / G) of its
// group g = a span / M, positions p0 .. p0 + span - 1 (p0 = a span - g M).
// span == 1 (LayerNorm): one thread per a, rows in order (adjacent threads
// read adjacent columns); otherwise (GroupNorm: a channel of N*H*W values)
// one block per a with block_sum.  Summed in double, added once.
template <typename T>
__device__ inline void rownorm_affine_term(double *sw, double *sb, const T *gy, const T *x, const T *save_mean,
                                           const T *save_rstd, long long r, long long p, long long M)
{
    double g = (double)gy[r * M + p];
    *sw += g * (((double)x[r * M + p] - (double)save_mean[r]) * (double)save_rstd[r]);
    *sb += g;
}

template <typename T>
__global__ void rownorm_affine_columns_kernel(T *gw, T *gb, const T *gy, const T *x, const T *save_mean,
                                              const T *save_rstd, long long rows, long long M, long long G)
{
    GD_CUDA_FOR(a, G * M) {
        long long g = a / M, p = a % M;
        double sw = 0, sb = 0;
        for (long long r = g; r < rows; r += G) rownorm_affine_term(&sw, &sb, gy, x, save_mean, save_rstd, r, p, M);
        if (gw) gw[a] += (T)sw;
        if (gb) gb[a] += (T)sb;
    }
}

template <typename T>
__global__ void rownorm_affine_blocks_kernel(T *gw, T *gb, const T *gy, const T *x, const T *save_mean,
                                             const T *save_rstd, long long rows, long long M, long long G,
                                             long long span)
{
    extern __shared__ double sh[];
    long long na = G * M / span, count = rows / G * span;
    for (long long a = blockIdx.x; a < na; a += gridDim.x) {
        long long g = a * span / M, p0 = a * span - g * M;
        double sw = 0, sb = 0;
        for (long long m = threadIdx.x; m < count; m += blockDim.x)
            rownorm_affine_term(&sw, &sb, gy, x, save_mean, save_rstd, g + G * (m / span), p0 + m % span, M);
        sw = block_sum(sw, sh);
        sb = block_sum(sb, sh);
        if (threadIdx.x == 0) {
            if (gw) gw[a] += (T)sw;
            if (gb) gb[a] += (T)sb;
        }
    }
}

// blocks for a grid-stride loop over n rows (the grid's x limit is far above)
static unsigned row_blocks(int64_t n) { return (unsigned)(n < 65535LL * 8 ? (n > 0 ? n : 1) : 65535LL * 8); }

template <typename T>
static int rownorm_run(void *y, void *save_mean, void *save_rstd, const void *x, const void *w, const void *b,
                       int64_t rows, int64_t M, int64_t G, int64_t span, double eps)
{
    unsigned th = reduce_threads(M);
    rownorm_kernel<T><<<row_blocks(rows), th, th * sizeof(double)>>>((T *)y, (T *)save_mean, (T *)save_rstd,
                                                                     (const T *)x, (const T *)w, (const T *)b, rows,
                                                                     M, G, span, eps);
    return check_launch("layer/group norm");
}

template <typename T>
static int rownorm_backward_run(void *gx, void *gw, void *gb, const void *gy, const void *x, const void *w,
                                const void *save_mean, const void *save_rstd, int64_t rows, int64_t M, int64_t G,
                                int64_t span)
{
    if (gw || gb) {
        if (span == 1) {
            rownorm_affine_columns_kernel<T><<<blocks_for(G * M), kThreads>>>(
                (T *)gw, (T *)gb, (const T *)gy, (const T *)x, (const T *)save_mean, (const T *)save_rstd, rows, M,
                G);
        } else {
            unsigned th = reduce_threads(rows / G * span);
            rownorm_affine_blocks_kernel<T><<<row_blocks(G * M / span), th, th * sizeof(double)>>>(
                (T *)gw, (T *)gb, (const T *)gy, (const T *)x, (const T *)save_mean, (const T *)save_rstd, rows, M,
                G, span);
        }
        if (check_launch("layer/group norm backward (weights)")) return -1;
    }
    if (!gx) return 0;
    unsigned th = reduce_threads(M);
    rownorm_backward_kernel<T><<<row_blocks(rows), th, th * sizeof(double)>>>(
        (T *)gx, (const T *)gy, (const T *)x, (const T *)w, (const T *)save_mean, (const T *)save_rstd, rows, M, G,
        span);
    return check_launch("layer/group norm backward");
}

int nn_rownorm(int dtype, void *y, void *save_mean, void *save_rstd, const void *x, const void *w, const void *b,
               int64_t rows, int64_t M, int64_t G, int64_t span, double eps)
{
    if (rows == 0 || M == 0) return 0;
    return dtype == GD_FLOAT32 ? rownorm_run<float>(y, save_mean, save_rstd, x, w, b, rows, M, G, span, eps)
                               : rownorm_run<double>(y, save_mean, save_rstd, x, w, b, rows, M, G, span, eps);
}

int nn_rownorm_backward(int dtype, void *gx, void *gw, void *gb, const void *gy, const void *x, const void *w,
                        const void *save_mean, const void *save_rstd, int64_t rows, int64_t M, int64_t G,
                        int64_t span)
{
    if (rows == 0 || M == 0) return 0;
    return dtype == GD_FLOAT32
               ? rownorm_backward_run<float>(gx, gw, gb, gy, x, w, save_mean, save_rstd, rows, M, G, span)
               : rownorm_backward_run<double>(gx, gw, gb, gy, x, w, save_mean, save_rstd, rows, M, G, span);
}

}  // namespace gdcuda
