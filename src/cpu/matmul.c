/*
 * cpu/matmul.c: the CPU backend's gemm, in BLAS's column-major convention
 * (src/matmul.c lays row-major tensors out for it): OpenBLAS for float32 and
 * float64, in blocks fixed by the shape (src/cpu/blas.c); a plain loop for
 * int64 (wrapping, as the element-wise int64 kernels; BLAS has no integer gemm).
 */
#include "cpu.h"

/* C (m x n, ldc) = beta C + alpha op(A) op(B), all int64, column-major;
   beta == 0: C is not read (it may be uninitialised) */
static void gemm_int64(int ta, int tb, int64_t m, int64_t n, int64_t k, int64_t alpha, const int64_t *A, int64_t lda,
                       const int64_t *B, int64_t ldb, int64_t beta, int64_t *C, int64_t ldc)
{
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < m; i++) {
            uint64_t acc = 0;
            for (int64_t l = 0; l < k; l++) {
                uint64_t a = (uint64_t)(ta ? A[l + i * lda] : A[i + l * lda]);
                uint64_t b = (uint64_t)(tb ? B[j + l * ldb] : B[l + j * ldb]);
                acc += a * b;
            }
            int64_t *dst = C + i + j * ldc;
            uint64_t prev = beta != 0 ? (uint64_t)beta * (uint64_t)*dst : 0;
            *dst = (int64_t)(prev + (uint64_t)alpha * acc);
        }
}

int gd_cpu_gemm(int dtype, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, double alpha, const void *a,
                int64_t lda, const void *b, int64_t ldb, double beta, void *c, int64_t ldc)
{
    if (dtype == GD_FLOAT32 || dtype == GD_FLOAT64)
        gd_cpu_blas_gemm(dtype, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else
        gemm_int64(trans_a, trans_b, m, n, k, (int64_t)alpha, a, lda, b, ldb, (int64_t)beta, c, ldc);
    return 0;
}
