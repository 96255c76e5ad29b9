// matmul.cu: matrix products through cuBLAS (column-major; src/matmul.c swaps
// the operands so that row-major tensors come out right), and int64 by a plain
// kernel (wrapping, as src/cpu/matmul.c: cuBLAS has no integer gemm).
#include "common.cuh"

#include <cublas_v2.h>
#include <stdio.h>

namespace gdcuda {

static cublasHandle_t handle;

static int cublas_fail(cublasStatus_t s, const char *what)
{
    char msg[160];
    snprintf(msg, sizeof msg, "%s: %s", what, cublasGetStatusString(s));
    return fail_msg(msg);
}

// C (m x n, ldc) = beta C + alpha op(A) op(B), column-major; beta == 0: C is not read
__global__ void gemm_int64_kernel(int ta, int tb, long long m, long long n, long long k, long long alpha,
                                  const long long *A, long long lda, const long long *B, long long ldb, long long beta,
                                  long long *C, long long ldc)
{
    GD_CUDA_FOR(t, m * n) {
        long long i = t % m, j = t / m;
        unsigned long long acc = 0;
        for (long long l = 0; l < k; l++) {
            unsigned long long a = (unsigned long long)(ta ? A[l + i * lda] : A[i + l * lda]);
            unsigned long long b = (unsigned long long)(tb ? B[j + l * ldb] : B[l + j * ldb]);
            acc += a * b;
        }
        long long *dst = C + i + j * ldc;
        unsigned long long prev = beta != 0 ? (unsigned long long)beta * (unsigned long long)*dst : 0;
        *dst = (long long)(prev + (unsigned long long)alpha * acc);
    }
}

int gemm(int dtype, int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha, const void *a, int64_t lda,
         const void *b, int64_t ldb, double beta, void *c, int64_t ldc)
{
    if (dtype == GD_INT64) {
        gemm_int64_kernel<<<blocks_for(m * n), kThreads>>>(ta, tb, m, n, k, (long long)alpha, (const long long *)a, lda,
                                                             (const long long *)b, ldb, (long long)beta, (long long *)c, ldc);
        return check_launch("int64 gemm");
    }
    if (!handle) {
        cublasStatus_t s = cublasCreate(&handle);
        if (s != CUBLAS_STATUS_SUCCESS) { handle = nullptr; return cublas_fail(s, "cublasCreate"); }
    }
    if (m > 2147483647LL || n > 2147483647LL || k > 2147483647LL)
        return fail_msg("matrix dimensions beyond 2^31 are not supported by cuBLAS gemm");
    cublasOperation_t oa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, ob = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasStatus_t s;
    if (dtype == GD_FLOAT32) {
        float al = (float)alpha, be = (float)beta;
        s = cublasSgemm(handle, oa, ob, (int)m, (int)n, (int)k, &al, (const float *)a, (int)lda, (const float *)b,
                        (int)ldb, &be, (float *)c, (int)ldc);
    } else if (dtype == GD_FLOAT64) {
        s = cublasDgemm(handle, oa, ob, (int)m, (int)n, (int)k, &alpha, (const double *)a, (int)lda,
                        (const double *)b, (int)ldb, &beta, (double *)c, (int)ldc);
    } else {
        return fail_msg("gemm: unknown dtype");
    }
    return s == CUBLAS_STATUS_SUCCESS ? 0 : cublas_fail(s, "cublas gemm");
}

// batch products C_i = beta C_i + alpha op(A_i) op(B_i), column-major, the
// i-th operands sa, sb, sc elements after the (i-1)-th (a stride may be 0:
// one A for every product): cublas{S,D}gemmStridedBatched, one launch.
// Float dtypes only (the convolutions' caller).
int gemm_batched(int dtype, int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha, const void *a, int64_t lda,
                 int64_t sa, const void *b, int64_t ldb, int64_t sb, double beta, void *c, int64_t ldc, int64_t sc,
                 int64_t batch)
{
    if (m == 0 || n == 0 || batch == 0) return 0;
    if (batch == 1) return gemm(dtype, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    if (!handle) {
        cublasStatus_t s = cublasCreate(&handle);
        if (s != CUBLAS_STATUS_SUCCESS) { handle = nullptr; return cublas_fail(s, "cublasCreate"); }
    }
    const int64_t lim = 2147483647LL;
    if (m > lim || n > lim || k > lim || lda > lim || ldb > lim || ldc > lim || batch > lim)
        return fail_msg("matrix dimensions beyond 2^31 are not supported by cuBLAS gemm");
    cublasOperation_t oa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, ob = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasStatus_t s;
    if (dtype == GD_FLOAT32) {
        float al = (float)alpha, be = (float)beta;
        s = cublasSgemmStridedBatched(handle, oa, ob, (int)m, (int)n, (int)k, &al, (const float *)a, (int)lda, sa,
                                      (const float *)b, (int)ldb, sb, &be, (float *)c, (int)ldc, sc, (int)batch);
    } else if (dtype == GD_FLOAT64) {
        s = cublasDgemmStridedBatched(handle, oa, ob, (int)m, (int)n, (int)k, &alpha, (const double *)a, (int)lda, sa,
                                      (const double *)b, (int)ldb, sb, &beta, (double *)c, (int)ldc, sc, (int)batch);
    } else {
        return fail_msg("batched gemm: float32 or float64 only");
    }
    return s == CUBLAS_STATUS_SUCCESS ? 0 : cublas_fail(s, "cublas strided-batched gemm");
}

}  // namespace gdcuda
