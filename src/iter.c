/*
 * iter.c: broadcasting and the strided iterator every element-wise loop runs on.
 *
 * An iteration is a shape and, per operand, byte strides over it (0 where an
 * operand is broadcast).  Dimensions of size 1 are dropped and neighbours that
 * are contiguous for every operand are merged, so that the common cases (all
 * contiguous, or a contiguous tensor with a scalar) become one flat loop that
 * the compiler vectorises.  The loop body is a function of (n, pointers,
 * strides) called once per run of the innermost dimension.
 */
#include "internal.h"

#include <stdio.h>
#ifdef _OPENMP
#include <omp.h>
#endif

int gd_broadcast_shape(const gd_tensor *a, const gd_tensor *b, int *rank, int64_t *sizes)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    for (int i = 0; i < r; i++) {
        int ia = a->rank - r + i, ib = b->rank - r + i;
        int64_t sa = ia >= 0 ? a->sizes[ia] : 1;
        int64_t sb = ib >= 0 ? b->sizes[ib] : 1;
        if (sa != sb && sa != 1 && sb != 1) {
            char ba[128], bb[128];
            return gd_fail(GD_EINVAL, "shapes %s and %s cannot be broadcast (dimension %d: %lld vs %lld)",
                           gd_shape_str(a, ba, sizeof ba), gd_shape_str(b, bb, sizeof bb), i + 1,
                           (long long)sa, (long long)sb);
        }
        sizes[i] = sa == 1 ? sb : sa;
    }
    *rank = r;
    return GD_OK;
}

int gd_broadcast_strides(const gd_tensor *t, int rank, const int64_t *sizes, int64_t *strides)
{
    if (t->rank > rank) goto bad;
    for (int i = 0; i < rank; i++) {
        int it = t->rank - rank + i;
        if (it < 0) { strides[i] = 0; continue; }
        if (t->sizes[it] == sizes[i]) strides[i] = sizes[i] == 1 ? 0 : t->strides[it];
        else if (t->sizes[it] == 1) strides[i] = 0;
        else goto bad;
    }
    return GD_OK;
bad:;
    char bt[128], bs[128];
    gd_tensor shape = {0};
    shape.rank = rank;
    for (int i = 0; i < rank; i++) shape.sizes[i] = sizes[i];
    return gd_fail(GD_EINVAL, "shape %s cannot be broadcast to %s", gd_shape_str(t, bt, sizeof bt),
                   gd_shape_str(&shape, bs, sizeof bs));
}

int gd_iter_init(gd_iter *it, int nops, const gd_tensor *const *ops, int rank, const int64_t *sizes)
{
    int64_t st[GD_ITER_MAX][GD_MAX_DIMS];
    memset(it, 0, sizeof *it);
    it->nops = nops;
    it->count = 1;
    for (int d = 0; d < rank; d++) it->count *= sizes[d];
    for (int k = 0; k < nops; k++) {
        GD_TRY(gd_broadcast_strides(ops[k], rank, sizes, st[k]));
        size_t es = gd_dtype_size(ops[k]->scalar_type);
        for (int d = 0; d < rank; d++) st[k][d] *= (int64_t)es;
        it->base[k] = (char *)ops[k]->data;
    }
    /* drop size-1 dimensions, then merge dimension d into d+1 when every
       operand steps through d exactly as if it continued d+1 */
    int r = 0;
    for (int d = 0; d < rank; d++) {
        if (sizes[d] == 1) continue;
        if (r > 0) {
            bool merge = true;
            for (int k = 0; k < nops; k++)
                if (it->strides[k][r - 1] != st[k][d] * sizes[d]) { merge = false; break; }
            if (merge) {
                it->sizes[r - 1] *= sizes[d];
                for (int k = 0; k < nops; k++) it->strides[k][r - 1] = st[k][d];
                continue;
            }
        }
        it->sizes[r] = sizes[d];
        for (int k = 0; k < nops; k++) it->strides[k][r] = st[k][d];
        r++;
    }
    if (r == 0 || it->count == 0) { /* a scalar, or nothing to do */
        r = 1;
        it->sizes[0] = it->count;
        for (int k = 0; k < nops; k++) it->strides[k][0] = 0;
    }
    it->rank = r;
    return GD_OK;
}

/* Runs linear positions [begin, end) of the iteration space. */
static void iter_run_range(const gd_iter *it, gd_loop_fn fn, const void *ctx, int64_t begin, int64_t end)
{
    int r = it->rank, nops = it->nops;
    int64_t idx[GD_MAX_DIMS];
    int64_t rem = begin;
    for (int d = r - 1; d >= 0; d--) {
        idx[d] = rem % it->sizes[d];
        rem /= it->sizes[d];
    }
    int64_t inner_stride[GD_ITER_MAX];
    for (int k = 0; k < nops; k++) inner_stride[k] = it->strides[k][r - 1];
    int64_t pos = begin;
    while (pos < end) {
        char *ptrs[GD_ITER_MAX];
        for (int k = 0; k < nops; k++) {
            char *p = it->base[k];
            for (int d = 0; d < r; d++) p += idx[d] * it->strides[k][d];
            ptrs[k] = p;
        }
        int64_t n = it->sizes[r - 1] - idx[r - 1];
        if (n > end - pos) n = end - pos;
        fn(n, ptrs, inner_stride, ctx);
        pos += n;
        idx[r - 1] += n;
        for (int d = r - 1; d > 0 && idx[d] >= it->sizes[d]; d--) {
            idx[d] = 0;
            idx[d - 1]++;
        }
    }
}

void gd_iter_run_all(const gd_iter *it, gd_loop_fn fn, const void *ctx)
{
    int64_t count = it->count;
    if (count == 0) return;
    if (!gd_parallel_worth(count)) {
        iter_run_range(it, fn, ctx, 0, count);
        return;
    }
#ifdef _OPENMP
    #pragma omp parallel
    {
        int nt = omp_get_num_threads(), tid = omp_get_thread_num();
        /* chunks aligned to 64 elements keep threads off each other's cache lines */
        int64_t chunk = ((count + nt - 1) / nt + 63) & ~(int64_t)63;
        int64_t b = (int64_t)tid * chunk, e = b + chunk;
        if (e > count) e = count;
        if (b < e) iter_run_range(it, fn, ctx, b, e);
    }
#else
    iter_run_range(it, fn, ctx, 0, count);
#endif
}

