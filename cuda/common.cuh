// common.cuh: what the CUDA backend's files share: error recording, launch
// geometry, and the strided-offset arithmetic of a gd_iter (src/internal.h),
// which describes operands exactly as the CPU loops see them.
#pragma once

#include <cuda_runtime.h>
#include <stdint.h>

extern "C" {
#include "internal.h"
#include "backend.h"
}

namespace gdcuda {

// Records a CUDA error for gd_cuda_backend_v1.error_string(); returns -1.
int fail(cudaError_t e, const char *what);
int fail_msg(const char *msg);
// Checks the last launch; 0 or -1.
int check_launch(const char *what);

constexpr int kThreads = 256;

inline unsigned blocks_for(int64_t n)
{
    int64_t b = (n + kThreads - 1) / kThreads;
    if (b < 1) b = 1;
    if (b > 65535 * 8) b = 65535 * 8;  // grid-stride loops cover the rest
    return (unsigned)b;
}

// Threads of a reduction block: a power of two from 32 to kThreads, about n
// (a row of 4 values gets one warp, not 256 idle threads).
inline unsigned reduce_threads(int64_t n)
{
    unsigned t = 32;
    while (t < (unsigned)kThreads && (int64_t)t < n) t <<= 1;
    return t;
}

// The sum over the block of v, every thread's value joined by a fixed tree in
// shared memory (sh: blockDim.x doubles; blockDim.x a power of two), so the
// result depends on the launch geometry only, never on timing.  Every thread
// gets it; every thread of the block must call it.
__device__ inline double block_sum(double v, double *sh)
{
    sh[threadIdx.x] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads();
    return r;
}

// Byte offset of linear position i for operand k of an iteration.
__device__ inline int64_t iter_offset(const gd_iter &it, int k, int64_t i)
{
    int64_t off = 0;
    for (int d = it.rank - 1; d >= 0; d--) {
        int64_t s = it.sizes[d];
        int64_t idx = i % s;
        i /= s;
        off += idx * it.strides[k][d];
    }
    return off;
}

// grid-stride loop over [0, n)
#define GD_CUDA_FOR(i, n)                                                                         \
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

template <typename T>
__device__ inline T *iter_ptr(const gd_iter &it, int k, int64_t i)
{
    return reinterpret_cast<T *>(it.base[k] + iter_offset(it, k, i));
}

}  // namespace gdcuda
