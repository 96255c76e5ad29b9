/*
 * matmul.c: matrix products with NumPy's matmul rules for 1-D operands: the
 * checks and the BLAS layout of row-major operands; the backend's gemm
 * (OpenBLAS's cblas on the CPU, cuBLAS on CUDA: src/cpu/matmul.c,
 * cuda/matmul.cu) computes, in BLAS's column-major convention.
 */
#include "internal.h"
#include "autograd.h"
#include "backend.h"

#include <stdio.h>

/* How BLAS can read a 2-D row-major operand without copying: as stored
   (trans 0, ld = row stride) or as the transpose of a row-major matrix
   (trans 1, ld = column stride).  Returns false when it needs a copy. */
static bool blas_layout(const gd_tensor *x, int *trans, int64_t *ld)
{
    int64_t r = x->sizes[0], c = x->sizes[1];
    int64_t s0 = x->strides[0], s1 = x->strides[1];
    if (r <= 1) s0 = c > 1 ? c * s1 : 1;   /* a single row: its row stride is free */
    if (c <= 1) s1 = 1;                    /* a single column: the column stride is free */
    if (s1 == 1 && s0 >= (c > 1 ? c : 1)) { *trans = 0; *ld = s0; return true; }
    if (s0 == 1 && s1 >= (r > 1 ? r : 1)) { *trans = 1; *ld = s1; return true; }
    return false;
}

/* Makes x BLAS-readable: x itself or a contiguous copy (both retained). */
static int blas_operand(gd_tensor **out, const gd_tensor *x, int *trans, int64_t *ld)
{
    if (blas_layout(x, trans, ld)) {
        gd_tensor_retain((gd_tensor *)x);
        *out = (gd_tensor *)x;
        return GD_OK;
    }
    GD_TRY(gd_clone(out, x));
    *trans = 0;
    *ld = x->sizes[1] > 1 ? x->sizes[1] : 1;
    return GD_OK;
}

int gd_gemm(gd_tensor *c, const gd_tensor *a, int trans_a, const gd_tensor *b, int trans_b, double alpha,
            double beta)
{
    GD_TRY(gd_ag_write(c, "addmm_"));
    GD_TRY(gd_check_tensor(c, "output"));
    GD_TRY(gd_check_tensor(a, "left matrix"));
    GD_TRY(gd_check_tensor(b, "right matrix"));
    if (a->rank != 2 || b->rank != 2 || c->rank != 2)
        return gd_fail(GD_EINVAL, "gemm: operands must be 2-D (got %d-D, %d-D and a %d-D output)", a->rank,
                       b->rank, c->rank);
    GD_TRY(gd_check_same_device(a, b));
    GD_TRY(gd_check_same_device(a, c));
    if (a->scalar_type != c->scalar_type || b->scalar_type != c->scalar_type)
        return gd_fail(GD_EINVAL, "gemm: dtypes differ (%s, %s, output %s)", gd_dtype_name(a->scalar_type),
                       gd_dtype_name(b->scalar_type), gd_dtype_name(c->scalar_type));
    GD_TRY(gd_check_writable(c, "gemm"));
    if (alpha != alpha || beta != beta) return gd_fail(GD_EINVAL, "gemm: alpha or beta is NaN");
    int64_t m = trans_a ? a->sizes[1] : a->sizes[0], k = trans_a ? a->sizes[0] : a->sizes[1];
    int64_t k2 = trans_b ? b->sizes[1] : b->sizes[0], n = trans_b ? b->sizes[0] : b->sizes[1];
    if (k != k2 || c->sizes[0] != m || c->sizes[1] != n) {
        char sa[64], sb[64], sc[64];
        return gd_fail(GD_EINVAL, "gemm: shapes %s%s and %s%s do not match (output %s)", gd_shape_str(a, sa, 64),
                       trans_a ? " (transposed)" : "", gd_shape_str(b, sb, 64), trans_b ? " (transposed)" : "",
                       gd_shape_str(c, sc, 64));
    }
    if (m == 0 || n == 0) return GD_OK;
    /* BLAS takes int sizes (LP64 OpenBLAS) */
    const int64_t blas_max = 0x7fffffff;
    if (m > blas_max || n > blas_max || k > blas_max)
        return gd_fail(GD_EINVAL, "gemm: dimensions %lld x %lld x %lld exceed what BLAS can take (2^31 - 1)",
                       (long long)m, (long long)k, (long long)n);
    if (c->scalar_type == GD_INT64 && (!gd_fits_int64(alpha) || !gd_fits_int64(beta)))
        return gd_fail(GD_EINVAL, "gemm: alpha %g and beta %g must be integers for int64 matrices", alpha, beta);
    if (c->strides[1] != 1 && n > 1) {
        /* BLAS writes row-major output with unit column stride: go through a copy */
        gd_tensor *tmp;
        GD_TRY(gd_clone(&tmp, c));
        int st = gd_gemm(tmp, a, trans_a, b, trans_b, alpha, beta);
        if (!st) st = gd_copy(c, tmp);
        gd_tensor_release(tmp);
        return st;
    }
    /* an empty sum: c = beta*c, where beta == 0 means "do not read c" (it may be uninitialised) */
    if (k == 0) return beta == 1 ? GD_OK : beta == 0 ? gd_fill(c, 0) : gd_binary_scalar_(c, beta, GD_OP_MUL);
    int ta, tb;
    int64_t lda, ldb;
    gd_tensor *A = NULL, *B = NULL;
    int st = blas_operand(&A, a, &ta, &lda);
    if (!st) st = blas_operand(&B, b, &tb, &ldb);
    if (!st && (gd_same_storage(c, A) || gd_same_storage(c, B))) {
        /* BLAS must not read what it writes */
        gd_tensor *tmp = NULL;
        st = gd_clone(&tmp, c);
        if (!st) st = gd_gemm(tmp, A, trans_a, B, trans_b, alpha, beta);
        if (!st) st = gd_copy(c, tmp);
        gd_tensor_release(tmp);
        gd_tensor_release(A);
        gd_tensor_release(B);
        return st;
    }
    ta ^= trans_a;
    tb ^= trans_b;
    /* a single row's row stride is free; BLAS wants ldc >= n */
    int64_t ldc = m > 1 ? c->strides[0] : n;
    if (ldc < 1) ldc = 1;
    if (!st && (lda > blas_max || ldb > blas_max || ldc > blas_max)) {
        gd_tensor_release(A);
        gd_tensor_release(B);
        return gd_fail(GD_EINVAL, "gemm: a row stride exceeds what BLAS can take (2^31 - 1)");
    }
    /* BLAS is column-major: C^T = B'^T A'^T, so the operands swap */
    const gd_backend *be = st ? NULL : gd_backend_of(c->device_kind);
    if (!st && !be) st = GD_EDEVICE;
    if (!st)
        st = GD_BACKEND_CALL(be, "gemm", gemm(c->scalar_type, tb, ta, n, m, k, alpha, B->data, ldb, A->data, lda,
                                              beta, c->data, ldc));
    gd_tensor_release(A);
    gd_tensor_release(B);
    return st;
}

/* A 2-D view of a 1-D tensor: a row (dim 0) or a column (dim 1). */
static int as_matrix(gd_tensor **out, const gd_tensor *v, int unsqueeze_dim)
{
    return gd_unsqueeze(out, v, unsqueeze_dim);
}

static int matmul_untaped(gd_tensor **out, const gd_tensor *a, const gd_tensor *b)
{
    GD_TRY(gd_check_tensor(a, "left operand"));
    GD_TRY(gd_check_tensor(b, "right operand"));
    GD_TRY(gd_check_same_device(a, b));
    if (a->rank == 0 || b->rank == 0 || a->rank > 3 || b->rank > 3)
        return gd_fail(GD_EINVAL, "matmul: operands must be 1-D, 2-D or 3-D (got %d-D and %d-D)", a->rank, b->rank);
    int d = gd_promote(a->scalar_type, b->scalar_type);
    gd_tensor *ca = NULL, *cb = NULL, *ma = NULL, *mb = NULL, *r = NULL, *rv = NULL;
    int st = gd_to(&ca, a, d, -1);
    if (!st) st = gd_to(&cb, b, d, -1);
    char sa[64], sb[64];
    int64_t ka = a->sizes[a->rank - 1];
    int64_t kb = b->rank == 1 ? b->sizes[0] : b->sizes[b->rank - 2];
    if (!st && ka != kb)
        st = gd_fail(GD_EINVAL, "matmul: shapes %s and %s do not match (%lld columns against %lld rows)",
                     gd_shape_str(a, sa, 64), gd_shape_str(b, sb, 64), (long long)ka, (long long)kb);
    if (!st && a->rank <= 2 && b->rank <= 2) {
        st = a->rank == 1 ? as_matrix(&ma, ca, 0) : (gd_tensor_retain(ca), ma = ca, 0);
        if (!st) st = b->rank == 1 ? as_matrix(&mb, cb, 1) : (gd_tensor_retain(cb), mb = cb, 0);
        int64_t sizes[2] = {ma ? ma->sizes[0] : 0, mb ? mb->sizes[1] : 0};
        if (!st) st = gd_empty(&r, 2, sizes, d, a->device_kind);
        if (!st) st = gd_gemm(r, ma, 0, mb, 0, 1.0, 0.0);
        /* drop the dimensions that 1-D operands added */
        if (!st && (a->rank == 1 || b->rank == 1)) {
            int64_t vs[1] = {a->rank == 1 ? sizes[1] : sizes[0]};
            st = a->rank == 1 && b->rank == 1 ? gd_view(&rv, r, 0, vs) : gd_view(&rv, r, 1, vs);
            gd_tensor_release(r);
            r = rv;
        }
    } else if (!st) {
        /* batched: (B x n x k) @ (B x k x m), a batch of 1 or a 2-D/1-D side broadcasting */
        int64_t ba = a->rank == 3 ? a->sizes[0] : 1, bb = b->rank == 3 ? b->sizes[0] : 1;
        if (ba != bb && ba != 1 && bb != 1)
            st = gd_fail(GD_EINVAL, "matmul: batch sizes %lld and %lld do not match", (long long)ba, (long long)bb);
        int64_t batch = ba > bb ? ba : bb;
        if (!st) st = a->rank == 1 ? as_matrix(&ma, ca, 0) : (gd_tensor_retain(ca), ma = ca, 0);
        if (!st) st = b->rank == 1 ? as_matrix(&mb, cb, 1) : (gd_tensor_retain(cb), mb = cb, 0);
        int64_t n = ma ? ma->sizes[ma->rank - 2] : 0, m = mb ? mb->sizes[mb->rank - 1] : 0;
        int64_t sizes[3] = {batch, n, m};
        if (!st) st = gd_empty(&r, 3, sizes, d, a->device_kind);
        for (int64_t i = 0; !st && i < batch; i++) {
            gd_tensor *ai = NULL, *bi = NULL, *ri = NULL;
            st = ma->rank == 3 ? gd_select(&ai, ma, 0, ba == 1 ? 0 : i) : (gd_tensor_retain(ma), ai = ma, 0);
            if (!st) st = mb->rank == 3 ? gd_select(&bi, mb, 0, bb == 1 ? 0 : i) : (gd_tensor_retain(mb), bi = mb, 0);
            if (!st) st = gd_select(&ri, r, 0, i);
            if (!st) st = gd_gemm(ri, ai, 0, bi, 0, 1.0, 0.0);
            gd_tensor_release(ai);
            gd_tensor_release(bi);
            gd_tensor_release(ri);
        }
        if (!st && (a->rank == 1 || b->rank == 1)) {
            int64_t vs[2] = {batch, a->rank == 1 ? m : n};
            st = gd_view(&rv, r, 2, vs);
            gd_tensor_release(r);
            r = rv;
        }
    }
    gd_tensor_release(ca);
    gd_tensor_release(cb);
    gd_tensor_release(ma);
    gd_tensor_release(mb);
    if (st) { gd_tensor_release(r); return st; }
    *out = r;
    return GD_OK;
}

int gd_matmul(gd_tensor **out, const gd_tensor *a, const gd_tensor *b)
{
    bool rec = gd_ag_begin(a, b, NULL);
    int st = matmul_untaped(out, a, b);
    if (!rec) return st;
    const gd_tensor *in[2] = {a, b};
    return gd_ag_end(st, out, GD_AG_MATMUL, 0, 2, in, NULL, NULL, 0);
}
