/*
 * blas.c: every CPU matrix product goes through gd_cpu_blas_gemm, which cuts
 * it into blocks fixed by its shape alone and runs each block through
 * single-threaded OpenBLAS, the blocks spread over gd's threads.
 *
 * Why not OpenBLAS's own threads: its sgemm gives other bits with 2 threads
 * than with 1 (measured here, OpenBLAS 0.3.21 on AVX-512: 32x512 @ 512x512
 * differs by up to 5e-5), so results depended on the thread count, and with
 * the adaptive count (src/threads.c) they would depend on the machine's load.
 * With the blocking fixed by the shape, any thread count gives the same bits.
 * The blocks are handed out dynamically, so a thread whose core is shared
 * with another process takes fewer of them instead of holding up the rest.
 *
 * Column-major, as BLAS (src/matmul.c lays row-major tensors out for it):
 * C (m x n, ldc) = alpha op(A) op(B) + beta C; the blocks are columns of C
 * when n >= m, rows otherwise.
 */
#include "../internal.h"

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* About 2 MFLOP per block: a block takes some tens of microseconds, against
   an OpenMP hand-out of a few; blocks of whole 16-row (column) panels, the
   width of OpenBLAS's AVX-512 sgemm kernel. */
enum { BLOCK_FLOPS = 1 << 21, BLOCK_ALIGN = 16, MAX_BLOCKS = 64, BIG_OPERAND = 1 << 18, BIG_ROWS = 128 };

static void gemm_one(int dtype, int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha, const char *a,
                     int64_t lda, const char *b, int64_t ldb, double beta, char *c, int64_t ldc)
{
    CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
    if (dtype == GD_FLOAT32)
        cblas_sgemm(CblasColMajor, TA, TB, (int)m, (int)n, (int)k, (float)alpha, (const float *)a, (int)lda,
                    (const float *)b, (int)ldb, (float)beta, (float *)c, (int)ldc);
    else
        cblas_dgemm(CblasColMajor, TA, TB, (int)m, (int)n, (int)k, alpha, (const double *)a, (int)lda,
                    (const double *)b, (int)ldb, beta, (double *)c, (int)ldc);
}

typedef struct gemm_job {
    int dtype, ta, tb, by_cols;
    int64_t m, n, k, lda, ldb, ldc, es, dim, bs;
    double alpha, beta;
    const char *a, *b;
    char *c;
} gemm_job;

/* Block blk: columns (or rows) [blk*bs, blk*bs + bs) of C.  Column j of op(B)
   is column j of B, or row j when B is transposed; row i of op(A) likewise. */
static void run_block(const gemm_job *j, int64_t blk)
{
    int64_t s = blk * j->bs, len = j->dim - s < j->bs ? j->dim - s : j->bs;
    if (j->by_cols)
        gemm_one(j->dtype, j->ta, j->tb, j->m, len, j->k, j->alpha, j->a, j->lda,
                 j->b + (j->tb ? s : s * j->ldb) * j->es, j->ldb, j->beta, j->c + s * j->ldc * j->es, j->ldc);
    else
        gemm_one(j->dtype, j->ta, j->tb, len, j->n, j->k, j->alpha, j->a + (j->ta ? s * j->lda : s) * j->es, j->lda,
                 j->b, j->ldb, j->beta, j->c + s * j->es, j->ldc);
}

void gd_cpu_blas_gemm(int dtype, int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha, const void *a,
                      int64_t lda, const void *b, int64_t ldb, double beta, void *c, int64_t ldc)
{
    gemm_job j = {dtype, ta, tb, n >= m, m, n, k, lda, ldb, ldc, dtype == GD_FLOAT32 ? 4 : 8, n >= m ? n : m, 0,
                  alpha, beta, a, b, c};
    const double flops = 2.0 * (double)m * (double)n * (double)k;
    int64_t nb = flops / BLOCK_FLOPS < MAX_BLOCKS ? (int64_t)(flops / BLOCK_FLOPS) : MAX_BLOCKS;
    /* each block packs the operand it does not split (m x k, or k x n) again: where
       that operand is large, blocks of at least BIG_ROWS rows (columns) amortise it
       (measured: 16-row blocks made 1024^3 and 2048^3 products 25% slower) */
    const double other = (double)k * (double)(j.by_cols ? m : n);
    const int64_t min_rows = other >= BIG_OPERAND ? BIG_ROWS : BLOCK_ALIGN;
    const int64_t most = (j.dim + min_rows - 1) / min_rows;
    if (nb > most) nb = most;
    if (nb < 1) nb = 1;
    /* whole panels per block, the last one takes the rest */
    j.bs = ((j.dim + nb - 1) / nb + BLOCK_ALIGN - 1) / BLOCK_ALIGN * BLOCK_ALIGN;
    nb = (j.dim + j.bs - 1) / j.bs;
#ifdef _OPENMP
    if (nb > 1 && gd_threads() > 1 && !omp_in_parallel()) {
        /* inside the region each OpenBLAS call runs on its own thread (omp_in_parallel) */
        #pragma omp parallel for schedule(dynamic, 1)
        for (int64_t blk = 0; blk < nb; blk++) run_block(&j, blk);
        return;
    }
    /* one thread for OpenBLAS too: its OpenMP build reads the count at each call */
    const int saved = omp_get_max_threads();
    if (saved != 1) omp_set_num_threads(1);
    for (int64_t blk = 0; blk < nb; blk++) run_block(&j, blk);
    if (saved != 1) omp_set_num_threads(saved);
#else
    for (int64_t blk = 0; blk < nb; blk++) run_block(&j, blk);
#endif
}
