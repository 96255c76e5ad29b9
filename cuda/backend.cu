// backend.cu: libgd_cuda.so's entry point, gd_cuda_backend_v1, and the
// memory functions: the stream-ordered allocator (cudaMallocAsync) on the
// default stream, copies, synchronisation, and error messages.
#include "common.cuh"

#include <stdio.h>
#include <string.h>

namespace gdcuda {

static thread_local char last_error[512];

int fail(cudaError_t e, const char *what)
{
    snprintf(last_error, sizeof last_error, "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
    return -1;
}

int fail_msg(const char *msg)
{
    snprintf(last_error, sizeof last_error, "%s", msg);
    return -1;
}

int check_launch(const char *what)
{
    cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? 0 : fail(e, what);
}

static const char *error_string() { return last_error; }

static int device_count()
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        fail(e, "cudaGetDeviceCount");
        return 0;
    }
    if (n == 0) fail_msg("the CUDA runtime sees no device");
    return n;
}

static int alloc(void **p, size_t n)
{
    cudaError_t e = cudaMallocAsync(p, n, 0);
    if (e != cudaSuccess) return fail(e, "cudaMallocAsync");
    e = cudaMemsetAsync(*p, 0, n, 0);
    if (e != cudaSuccess) return fail(e, "cudaMemsetAsync");
    return 0;
}

static void release(void *p)
{
    if (p) cudaFreeAsync(p, 0);
}

static int copy_bytes(void *dst, const void *src, size_t n, int dst_device, int src_device)
{
    cudaMemcpyKind kind = dst_device == GD_CUDA ? (src_device == GD_CUDA ? cudaMemcpyDeviceToDevice
                                                                         : cudaMemcpyHostToDevice)
                                                : cudaMemcpyDeviceToHost;
    cudaError_t e = cudaMemcpy(dst, src, n, kind);
    return e == cudaSuccess ? 0 : fail(e, "cudaMemcpy");
}

static int synchronize()
{
    cudaError_t e = cudaDeviceSynchronize();
    return e == cudaSuccess ? 0 : fail(e, "cudaDeviceSynchronize");
}

// in the other files
int copy(const gd_iter *it, int dst_dtype, int src_dtype);
int fill(const gd_iter *it, int dtype, double value);
int binary(const gd_iter *it, int dtype, int op);
int unary(const gd_iter *it, int dtype, int op, double p1, double p2);
int ternary(const gd_iter *it, int dtype, int kind, double value);
int reduce_rows(const void *p, int64_t rows, int64_t n, int dtype, int op, double param, void *values,
                int64_t *indices, int out_device);
int gemm(int dtype, int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha, const void *a, int64_t lda,
         const void *b, int64_t ldb, double beta, void *c, int64_t ldc);
int random(void *p, int64_t n, int dtype, int kind, double a, double b, uint64_t seed, uint64_t offset);
int optim_step(const gd_optim_plan *plan, const gd_optim_segment *segs, int nseg);
int cumsum_rows(void *out, const void *in, int64_t rows, int64_t n, int dtype);

}  // namespace gdcuda

// (const at namespace scope is internal in C++: declare it extern first)
extern "C" {
extern const gd_cuda_backend gd_cuda_backend_v1;
const gd_cuda_backend gd_cuda_backend_v1 = {
    GD_CUDA_ABI,
    gdcuda::error_string,
    gdcuda::device_count,
    gdcuda::alloc,
    gdcuda::release,
    gdcuda::copy_bytes,
    gdcuda::synchronize,
    gdcuda::copy,
    gdcuda::fill,
    gdcuda::binary,
    gdcuda::unary,
    gdcuda::ternary,
    gdcuda::reduce_rows,
    gdcuda::gemm,
    gdcuda::random,
    gdcuda::optim_step,
    gdcuda::cumsum_rows,
};
}
