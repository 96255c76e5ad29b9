// random.cu: Philox fills with the CPU's block-to-element mapping
// (src/kernels/philox.h), so a seed gives the same numbers on both devices.
#include "common.cuh"
#include "kernels/philox.h"

namespace gdcuda {

template <typename T>
__global__ void random_kernel(T *p, long long n, int kind, double a, double b, unsigned long long seed,
                              unsigned long long offset, int per)
{
    long long nblocks = (n + per - 1) / per;
    for (long long blk = blockIdx.x * (long long)blockDim.x + threadIdx.x; blk < nblocks;
         blk += (long long)gridDim.x * blockDim.x) {
        double v[4];
        gd_philox_block_values(seed, offset + (unsigned long long)blk, kind, sizeof(T) == 4, a, b, v);
        for (int j = 0; j < per; j++) {
            long long i = blk * per + j;
            if (i >= n) break;
            if (sizeof(T) == 4) {
                float x = (float)v[j];
                if (kind == 0 && x >= (float)b && b > a) x = nextafterf((float)b, (float)a);
                p[i] = (T)x;
            } else {
                double x = v[j];
                if (kind == 0 && x >= b && b > a) x = nextafter(b, a);
                p[i] = (T)x;
            }
        }
    }
}

__global__ void random_kernel_i(long long *p, long long n, int kind, double a, double b, unsigned long long seed,
                                unsigned long long offset)
{
    long long nblocks = (n + 1) / 2;
    for (long long blk = blockIdx.x * (long long)blockDim.x + threadIdx.x; blk < nblocks;
         blk += (long long)gridDim.x * blockDim.x) {
        double v[4];
        gd_philox_block_values(seed, offset + (unsigned long long)blk, kind, 0, a, b, v);
        for (int j = 0; j < 2; j++) {
            long long i = blk * 2 + j;
            if (i >= n) break;
            /* uniform integers in [a, b) (normal draws into int64 are refused by the core) */
            double x = floor(v[j]);
            if (x >= b && b > a) x = b - 1;
            p[i] = (long long)x;
        }
    }
}

int random(void *p, int64_t n, int dtype, int kind, double a, double b, uint64_t seed, uint64_t offset)
{
    if (n == 0) return 0;
    int per = gd_philox_per_block(dtype == GD_FLOAT32);
    unsigned g = blocks_for((n + per - 1) / per);
    switch (dtype) {
    case GD_FLOAT32: random_kernel<float><<<g, kThreads>>>((float *)p, n, kind, a, b, seed, offset, per); break;
    case GD_FLOAT64: random_kernel<double><<<g, kThreads>>>((double *)p, n, kind, a, b, seed, offset, per); break;
    default: random_kernel_i<<<g, kThreads>>>((long long *)p, n, kind, a, b, seed, offset); break;
    }
    return check_launch("random fill");
}

}  // namespace gdcuda
