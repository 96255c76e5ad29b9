// gemm.cu: matrix products through cuBLAS (column-major; src/cpu/matmul.c
// swaps the operands so that row-major tensors come out right).
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

int gemm(int dtype, int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha, const void *a, int64_t lda,
         const void *b, int64_t ldb, double beta, void *c, int64_t ldc)
{
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
        return fail_msg("int64 matrices are not supported on cuda");
    }
    return s == CUBLAS_STATUS_SUCCESS ? 0 : cublas_fail(s, "cublas gemm");
}

}  // namespace gdcuda
