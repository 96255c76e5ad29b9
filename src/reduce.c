/*
 * reduce.c: sum, mean, max, min, argmax, argmin, norm, prod, var, std,
 * logsumexp, over all elements or along one dimension, and cumulative sums:
 * checks, output dtypes and shapes, and the layout of the lines a backend
 * reduces (src/cpu/reduce.c, cuda/reduce.cu).
 */
#include "internal.h"
#include "autograd.h"
#include "backend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const char *redop_name(int op)
{
    static const char *names[GD_REDOP_COUNT] = {
#define GD_REDOP(ID, name, doc) #name,
#include "ops.def"
    };
    return op >= 0 && op < GD_REDOP_COUNT ? names[op] : "?";
}

static int check_redop(const gd_tensor *t, int op, double p, bool all)
{
    if (op < 0 || op >= GD_REDOP_COUNT) return gd_fail(GD_EINVAL, "unknown reduction %d", op);
    if (op == GD_RED_NORM && (p != p || p < 0)) return gd_fail(GD_EINVAL, "norm: order %g must be >= 0", p);
    if ((op == GD_RED_VAR || op == GD_RED_STD) && (p != p || p < 0))
        return gd_fail(GD_EINVAL, "%s: correction %g must be >= 0", redop_name(op), p);
    if (all && t->count == 0 && (op == GD_RED_MAX || op == GD_RED_MIN || op == GD_RED_ARGMAX || op == GD_RED_ARGMIN))
        return gd_fail(GD_EINVAL, "%s of an empty tensor", redop_name(op));
    return GD_OK;
}

int gd_reduce_all(const gd_tensor *t, int op, double p, double *out)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    GD_TRY(check_redop(t, op, p, true));
    const gd_backend *b = gd_backend_of(t->device_kind);
    if (!b) return GD_EDEVICE;
    gd_tensor *c = NULL; /* a contiguous copy, only when t is not */
    if (!t->is_contiguous) GD_TRY(gd_contiguous(&c, t));
    const gd_tensor *src = c ? c : t;
    int64_t idx = -1;
    int st = GD_BACKEND_CALL(b, redop_name(op),
                             reduce_all(src->data, src->count, src->scalar_type, op, p, out, &idx));
    if (!st && (op == GD_RED_ARGMAX || op == GD_RED_ARGMIN)) *out = (double)idx;
    gd_tensor_release(c);
    return st;
}

static int reduce_dim_untaped(gd_tensor **values, gd_tensor **indices, const gd_tensor *t, int dim, int op, int keepdim,
                  double p)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    GD_TRY(gd_check_dim(t, dim, redop_name(op)));
    GD_TRY(check_redop(t, op, p, false));
    if (t->sizes[dim] == 0 && (op == GD_RED_MAX || op == GD_RED_MIN || op == GD_RED_ARGMAX || op == GD_RED_ARGMIN))
        return gd_fail(GD_EINVAL, "%s along dimension %d of size 0", redop_name(op), dim + 1);
    bool is_arg = op == GD_RED_ARGMAX || op == GD_RED_ARGMIN;
    bool want_index = indices && (op == GD_RED_MAX || op == GD_RED_MIN);
    int out_dtype;
    switch (op) {
    case GD_RED_ARGMAX: case GD_RED_ARGMIN: out_dtype = GD_INT64; break;
    case GD_RED_SUM: case GD_RED_PROD: case GD_RED_MAX: case GD_RED_MIN: out_dtype = t->scalar_type; break;
    default: out_dtype = t->scalar_type == GD_INT64 ? GD_FLOAT32 : t->scalar_type;
    }

    const gd_backend *b = gd_backend_of(t->device_kind);
    if (!b) return GD_EDEVICE;

    /* outputs with keepdim's shape; the loop runs over the input with dim selected away */
    int64_t ksizes[GD_MAX_DIMS];
    memcpy(ksizes, t->sizes, sizeof ksizes);
    ksizes[dim] = 1;
    gd_tensor *v = NULL, *ix = NULL, *base = NULL, *vsel = NULL, *isel = NULL;
    int st = gd_empty(&v, t->rank, ksizes, out_dtype, t->device_kind);
    if (!st && want_index) st = gd_empty(&ix, t->rank, ksizes, GD_INT64, t->device_kind);
    if (!st) {
        if (t->sizes[dim] > 0) st = gd_select(&base, t, dim, 0);
        else {
            /* empty dimension: a sum of nothing; fill and skip the loop */
            st = gd_fill(v, op == GD_RED_PROD                        ? 1
                            : (op == GD_RED_SUM || op == GD_RED_NORM) ? 0
                            : op == GD_RED_LOGSUMEXP                  ? -INFINITY
                                                                      : NAN);
        }
    }
    if (!st && base) st = gd_select(&vsel, v, dim, 0);
    if (!st && base && ix) st = gd_select(&isel, ix, dim, 0);
    if (!st && base) {
        gd_iter it;
        const gd_tensor *ops[3] = {vsel, isel ? isel : vsel, base};
        st = gd_iter_init(&it, 3, ops, base->rank, base->sizes);
        if (!st)
            st = GD_BACKEND_CALL(b, redop_name(op),
                                 reduce_dim(&it, t->sizes[dim], t->strides[dim] * (int64_t)gd_dtype_size(t->scalar_type),
                                            t->scalar_type, is_arg ? GD_INT64 : out_dtype, op, p, want_index));
    }
    gd_tensor_release(base);
    gd_tensor_release(vsel);
    gd_tensor_release(isel);
    if (!st && !keepdim) {
        gd_tensor *sq = NULL;
        st = gd_squeeze(&sq, v, dim);
        gd_tensor_release(v);
        v = sq;
        if (!st && ix) {
            st = gd_squeeze(&sq, ix, dim);
            gd_tensor_release(ix);
            ix = sq;
        }
    }
    if (st) { gd_tensor_release(v); gd_tensor_release(ix); return st; }
    *values = v;
    if (indices) *indices = ix; else gd_tensor_release(ix);
    return GD_OK;
}

int gd_reduce_dim(gd_tensor **values, gd_tensor **indices, const gd_tensor *t, int dim, int op, int keepdim,
                  double p)
{
    bool rec = gd_ag_begin(t, NULL, NULL);
    gd_tensor *own = NULL, **ix = indices;
    if (rec && !ix && (op == GD_RED_MAX || op == GD_RED_MIN)) ix = &own;  /* the backward needs them */
    int st = reduce_dim_untaped(values, ix, t, dim, op, keepdim, p);
    if (!rec) return st;
    st = gd_ag_end_reduce_dim(st, values, st ? NULL : ix ? *ix : NULL, t, op, dim, keepdim, p);
    if (own) gd_tensor_release(own);
    if (st && indices && *indices && !*values) { gd_tensor_release(*indices); *indices = NULL; }
    return st;
}

/* ------------------------------------------------------------------ scans */

/* out[..., j, ...] = sum of t[..., 0..j, ...] along dim; out has t's shape and
   dtype and may be t itself (each element is read before it is written). */
static int cumsum_into(gd_tensor *out, const gd_tensor *t, int dim)
{
    if (t->count == 0) return GD_OK;
    if (t->rank == 0) return out == t ? GD_OK : gd_copy(out, t);
    const gd_backend *b = gd_backend_of(t->device_kind);
    if (!b) return GD_EDEVICE;
    gd_tensor *osel = NULL, *isel = NULL;
    int st = gd_select(&osel, out, dim, 0);
    if (!st) st = gd_select(&isel, t, dim, 0);
    if (!st) {
        int64_t es = (int64_t)gd_dtype_size(t->scalar_type);
        gd_iter it;
        const gd_tensor *ops[2] = {osel, isel};
        st = gd_iter_init(&it, 2, ops, isel->rank, isel->sizes);
        if (!st)
            st = GD_BACKEND_CALL(b, "cumsum", cumsum(&it, t->sizes[dim], out->strides[dim] * es,
                                                    t->strides[dim] * es, t->scalar_type));
    }
    gd_tensor_release(osel);
    gd_tensor_release(isel);
    return st;
}

/* dim of a 0-d tensor: 0 (or -1), as torch.cumsum allows */
static int check_scan_dim(const gd_tensor *t, int dim, const char *what)
{
    if (t->rank == 0 && (dim == 0 || dim == -1)) return GD_OK;
    return gd_check_dim(t, dim, what);
}

static int cumsum_untaped(gd_tensor **out, const gd_tensor *t, int dim)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    GD_TRY(check_scan_dim(t, dim, "cumsum"));
    gd_tensor *r;
    GD_TRY(gd_empty(&r, t->rank, t->sizes, t->scalar_type, t->device_kind));
    int st = cumsum_into(r, t, dim);
    if (st) { gd_tensor_release(r); return st; }
    *out = r;
    return GD_OK;
}

int gd_cumsum(gd_tensor **out, const gd_tensor *t, int dim)
{
    bool rec = gd_ag_begin(t, NULL, NULL);
    int st = cumsum_untaped(out, t, dim);
    if (!rec) return st;
    const gd_tensor *in[1] = {t};
    const int64_t ip[1] = {dim};
    return gd_ag_end(st, out, GD_AG_CUMSUM, 0, 1, in, NULL, ip, 1);
}

int gd_cumsum_(gd_tensor *t, int dim)
{
    GD_TRY(gd_ag_write(t, "cumsum_"));
    GD_TRY(gd_check_tensor(t, "tensor"));
    GD_TRY(check_scan_dim(t, dim, "cumsum_"));
    GD_TRY(gd_check_writable(t, "cumsum_"));
    return cumsum_into(t, t, dim);
}
