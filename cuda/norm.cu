// norm.cu: the CUDA backend's batch normalisation, mirroring src/cpu/norm.c
// (PyTorch 1.13's batch_norm formulas).  x is N x C x L, viewed as C channels
// of M = N*L values.  One block per channel: each thread sums its strided
// share of the channel in double, then a fixed tree in shared memory joins
// them, so results do not vary from run to run (they differ from the CPU's
// sequential sums only in rounding order).
#include "common.cuh"

namespace gdcuda {

constexpr int kNormThreads = 256;

// the sum over the block of v, in a fixed order; every thread gets it
__device__ inline double block_sum(double v, double *sh)
{
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = kNormThreads / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads();
    return r;
}

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

}  // namespace gdcuda
