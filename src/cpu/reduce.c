/*
 * reduce.c: sum, mean, max, min, argmax, argmin, norm, prod, var, std, over all
 * elements or along one dimension.
 *
 * Determinism: a full reduction splits the elements into fixed blocks of
 * REDUCE_BLOCK, reduces each block in order (in double, or int64 for integer
 * sums), then combines the block results in order.  The blocks do not depend
 * on the thread count, so neither do the bits of the result.  A reduction
 * along a dimension gives each output element to one thread, which walks the
 * dimension in order.
 */
#include "../internal.h"
#include "../autograd.h"
#include "../cuda_backend.h"
#include "../kernels/elementwise.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { REDUCE_BLOCK = 4096 };

static const char *redop_name(int op)
{
    static const char *names[GD_REDOP_COUNT] = {"sum", "mean", "max", "min", "argmax",
                                                "argmin", "norm", "prod", "var", "std", "logsumexp"};
    return op >= 0 && op < GD_REDOP_COUNT ? names[op] : "?";
}

/* The reduction state of one run of elements. */
typedef struct {
    double acc;      /* sum / prod / sum of |x|^p / extreme value */
    int64_t iacc;    /* exact integer sum or product */
    int64_t index;   /* position of the extreme value */
    int64_t n;
} red_state;

static inline double load(const char *p, int dtype)
{
    switch (dtype) {
    case GD_FLOAT32: return *(const float *)p;
    case GD_FLOAT64: return *(const double *)p;
    default: return (double)*(const int64_t *)p;
    }
}

static void red_init(red_state *r, int op)
{
    r->n = 0;
    r->index = -1;
    r->iacc = op == GD_RED_PROD ? 1 : 0;
    switch (op) {
    case GD_RED_PROD: r->acc = 1; break;
    case GD_RED_MAX: case GD_RED_ARGMAX: r->acc = -INFINITY; break;
    case GD_RED_MIN: case GD_RED_ARGMIN: r->acc = INFINITY; break;
    default: r->acc = 0;
    }
}

/* Folds n elements (byte stride s, starting at element position `first`) into r.
   For VAR/STD, `center` is the mean subtracted first; for LOGSUMEXP, the shift
   (gd_logsumexp_shift of the maximum). */
static void red_run(red_state *r, int op, int dtype, const char *p, int64_t n, int64_t s, int64_t first,
                    double param, double center)
{
    if (dtype == GD_INT64 && (op == GD_RED_SUM || op == GD_RED_MEAN || op == GD_RED_PROD)) {
        /* exact, wrapping on overflow like PyTorch (unsigned: signed overflow is undefined in C) */
        uint64_t acc = (uint64_t)r->iacc;
        if (op == GD_RED_PROD)
            for (int64_t i = 0; i < n; i++) acc *= (uint64_t) * (const int64_t *)(p + i * s);
        else
            for (int64_t i = 0; i < n; i++) acc += (uint64_t) * (const int64_t *)(p + i * s);
        r->iacc = (int64_t)acc;
        r->n += n;
        return;
    }
    if (dtype == GD_INT64 && op >= GD_RED_MAX && op <= GD_RED_ARGMIN) {
        /* compared as integers: beyond 2^53 a double cannot tell neighbours apart */
        bool want_max = op == GD_RED_MAX || op == GD_RED_ARGMAX;
        int64_t best = r->iacc, idx = r->index;
        for (int64_t i = 0; i < n; i++) {
            int64_t x = *(const int64_t *)(p + i * s);
            if (idx < 0 || (want_max ? x > best : x < best)) { best = x; idx = first + i; }
        }
        r->iacc = best;
        r->acc = (double)best;
        r->index = idx;
        r->n += n;
        return;
    }
    double acc = r->acc;
    switch (op) {
    case GD_RED_SUM:
    case GD_RED_MEAN:
        if (dtype == GD_FLOAT32 && s == 4) {
            const float *f = (const float *)p;
            for (int64_t i = 0; i < n; i++) acc += f[i];
        } else if (dtype == GD_FLOAT64 && s == 8) {
            const double *d = (const double *)p;
            for (int64_t i = 0; i < n; i++) acc += d[i];
        } else {
            for (int64_t i = 0; i < n; i++) acc += load(p + i * s, dtype);
        }
        break;
    case GD_RED_PROD:
        for (int64_t i = 0; i < n; i++) acc *= load(p + i * s, dtype);
        break;
    case GD_RED_NORM:
        if (param == 2) {
            for (int64_t i = 0; i < n; i++) { double x = load(p + i * s, dtype); acc += x * x; }
        } else if (param == 1) {
            for (int64_t i = 0; i < n; i++) acc += fabs(load(p + i * s, dtype));
        } else if (isinf(param)) {
            for (int64_t i = 0; i < n; i++) {
                double x = fabs(load(p + i * s, dtype));
                if (x != x || (acc == acc && x > acc)) acc = x;
            }
        } else if (param == 0) {
            for (int64_t i = 0; i < n; i++) acc += load(p + i * s, dtype) != 0;
        } else {
            for (int64_t i = 0; i < n; i++) acc += pow(fabs(load(p + i * s, dtype)), param);
        }
        break;
    case GD_RED_VAR:
    case GD_RED_STD:
        for (int64_t i = 0; i < n; i++) { double x = load(p + i * s, dtype) - center; acc += x * x; }
        break;
    case GD_RED_LOGSUMEXP:
        for (int64_t i = 0; i < n; i++) acc += exp(load(p + i * s, dtype) - center);
        break;
    case GD_RED_MAX:
    case GD_RED_ARGMAX:
    case GD_RED_MIN:
    case GD_RED_ARGMIN: {
        bool want_max = op == GD_RED_MAX || op == GD_RED_ARGMAX;
        int64_t idx = r->index;
        for (int64_t i = 0; i < n; i++) {
            double x = load(p + i * s, dtype);
            if (acc != acc) break; /* NaN already found: it wins, first one kept */
            if (x != x || (want_max ? x > acc : x < acc) || idx < 0) { acc = x; idx = first + i; }
        }
        r->index = idx;
        break;
    }
    }
    r->acc = acc;
    r->n += n;
}

/* Merges block b into a (a's elements come first). */
static void red_merge(red_state *a, const red_state *b, int op, int dtype, double param)
{
    if (dtype == GD_INT64 && (op == GD_RED_SUM || op == GD_RED_MEAN || op == GD_RED_PROD)) {
        a->iacc = (int64_t)(op == GD_RED_PROD ? (uint64_t)a->iacc * (uint64_t)b->iacc
                                              : (uint64_t)a->iacc + (uint64_t)b->iacc);
    } else if (dtype == GD_INT64 && op >= GD_RED_MAX && op <= GD_RED_ARGMIN) {
        bool want_max = op == GD_RED_MAX || op == GD_RED_ARGMAX;
        if (b->index >= 0 && (a->index < 0 || (want_max ? b->iacc > a->iacc : b->iacc < a->iacc))) {
            a->iacc = b->iacc;
            a->acc = b->acc;
            a->index = b->index;
        }
    } else {
        switch (op) {
        case GD_RED_PROD: a->acc *= b->acc; break;
        case GD_RED_MAX: case GD_RED_ARGMAX: case GD_RED_MIN: case GD_RED_ARGMIN: {
            if (b->index < 0 || a->acc != a->acc) break;
            bool want_max = op == GD_RED_MAX || op == GD_RED_ARGMAX;
            if (a->index < 0 || b->acc != b->acc || (want_max ? b->acc > a->acc : b->acc < a->acc)) {
                a->acc = b->acc;
                a->index = b->index;
            }
            break;
        }
        case GD_RED_NORM:
            /* the inf-norm keeps the larger (NaN wins), the others add */
            if (!isinf(param)) a->acc += b->acc;
            else if (a->acc == a->acc && (b->acc != b->acc || b->acc > a->acc)) a->acc = b->acc;
            break;
        default: a->acc += b->acc;
        }
    }
    a->n += b->n;
}

/* param: the norm's order, the variance's correction, logsumexp's shift */
static double red_finish(const red_state *r, int op, int dtype, double param)
{
    bool ints = dtype == GD_INT64 && (op == GD_RED_SUM || op == GD_RED_MEAN || op == GD_RED_PROD);
    double v = ints ? (double)r->iacc : r->acc;
    switch (op) {
    case GD_RED_MEAN: return v / (double)r->n;
    case GD_RED_ARGMAX: case GD_RED_ARGMIN: return (double)r->index;
    case GD_RED_NORM:
        if (param == 2) return sqrt(v);
        if (param == 1 || param == 0 || isinf(param)) return v;
        return pow(v, 1.0 / param);
    case GD_RED_VAR: return v / fmax((double)r->n - param, 0.0);
    case GD_RED_STD: return sqrt(v / fmax((double)r->n - param, 0.0));
    case GD_RED_LOGSUMEXP: return log(v) + param;
    default: return v;
    }
}

/* Reduces n contiguous elements in fixed blocks (see the top of the file). */
static double reduce_contiguous(const char *p, int64_t n, int dtype, int op, double param, double center)
{
    size_t es = gd_dtype_size(dtype);
    int64_t nblocks = (n + REDUCE_BLOCK - 1) / REDUCE_BLOCK;
    red_state total;
    red_init(&total, op);
    red_state *parts = NULL;
    if (nblocks > 1 && gd_parallel_worth(n)) parts = malloc((size_t)nblocks * sizeof *parts);
    if (!parts) {
        /* the same blocks, one after another */
        for (int64_t b = 0; b < nblocks; b++) {
            int64_t first = b * REDUCE_BLOCK, len = n - first < REDUCE_BLOCK ? n - first : REDUCE_BLOCK;
            red_state r;
            red_init(&r, op);
            red_run(&r, op, dtype, p + first * (int64_t)es, len, (int64_t)es, first, param, center);
            red_merge(&total, &r, op, dtype, param);
        }
    } else {
        /* (without memory for the parts, the loop above does the same blocks in one thread) */
        #pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < nblocks; b++) {
            int64_t first = b * REDUCE_BLOCK, len = n - first < REDUCE_BLOCK ? n - first : REDUCE_BLOCK;
            red_init(&parts[b], op);
            red_run(&parts[b], op, dtype, p + first * (int64_t)es, len, (int64_t)es, first, param, center);
        }
        for (int64_t b = 0; b < nblocks; b++) {
            red_merge(&total, &parts[b], op, dtype, param);
        }
        free(parts);
    }
    return red_finish(&total, op, dtype, param);
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
    gd_tensor *c;
    GD_TRY(gd_contiguous(&c, t));
    int st = GD_OK;
    if (c->device_kind == GD_CUDA) {
        const gd_cuda_backend *cu = gd_cuda();
        if (!cu) st = GD_EDEVICE;
        else {
            int64_t idx = -1;
            st = cu->reduce_rows(c->data, 1, c->count, c->scalar_type, op, p, out, &idx, 0);
            if (st) st = gd_fail(GD_EDEVICE, "CUDA reduction failed: %s", cu->error_string());
            if (!st && (op == GD_RED_ARGMAX || op == GD_RED_ARGMIN)) *out = (double)idx;
        }
    } else {
        double center = 0;
        if (op == GD_RED_VAR || op == GD_RED_STD)
            center = reduce_contiguous(c->data, c->count, c->scalar_type, GD_RED_MEAN, 0, 0);
        if (op == GD_RED_LOGSUMEXP) /* (the max of nothing is -inf: an empty sum gives -inf) */
            p = center = gd_logsumexp_shift(reduce_contiguous(c->data, c->count, c->scalar_type, GD_RED_MAX, 0, 0));
        *out = reduce_contiguous(c->data, c->count, c->scalar_type, op, p, center);
    }
    gd_tensor_release(c);
    return st;
}

/* ------------------------------------------------------- along a dimension */

typedef struct {
    int op, dtype, out_dtype;
    int64_t n, stride; /* along the reduced dimension, stride in bytes */
    double param;
    int with_index;
} dim_ctx;

static inline void store(char *p, int dtype, double v)
{
    switch (dtype) {
    case GD_FLOAT32: *(float *)p = (float)v; break;
    case GD_FLOAT64: *(double *)p = v; break;
    default: *(int64_t *)p = (int64_t)v; break;
    }
}

/* operands: 0 values, 1 indices (or the input again), 2 input (dim removed) */
static void dim_loop(int64_t n, char **p, const int64_t *s, const void *vctx)
{
    const dim_ctx *c = vctx;
    for (int64_t i = 0; i < n; i++) {
        const char *in = p[2] + i * s[2];
        red_state r;
        red_init(&r, c->op);
        double center = 0, param = c->param;
        if (c->op == GD_RED_VAR || c->op == GD_RED_STD) {
            red_state m;
            red_init(&m, GD_RED_MEAN);
            red_run(&m, GD_RED_MEAN, c->dtype, in, c->n, c->stride, 0, 0, 0);
            center = red_finish(&m, GD_RED_MEAN, c->dtype, 0);
        } else if (c->op == GD_RED_LOGSUMEXP) {
            red_state m;
            red_init(&m, GD_RED_MAX);
            red_run(&m, GD_RED_MAX, c->dtype, in, c->n, c->stride, 0, 0, 0);
            param = center = gd_logsumexp_shift(m.acc);
        }
        red_run(&r, c->op, c->dtype, in, c->n, c->stride, 0, param, center);
        char *out = p[0] + i * s[0];
        if (c->dtype == GD_INT64 && (c->op == GD_RED_SUM || c->op == GD_RED_PROD) && c->out_dtype == GD_INT64)
            *(int64_t *)out = r.iacc;
        else if (c->dtype == GD_INT64 && (c->op == GD_RED_MAX || c->op == GD_RED_MIN))
            /* re-read the winner exactly: int64 beyond 2^53 does not survive a double */
            *(int64_t *)out = *(const int64_t *)(in + r.index * c->stride);
        else
            store(out, c->out_dtype, red_finish(&r, c->op, c->dtype, param));
        if (c->with_index) *(int64_t *)(p[1] + i * s[1]) = r.index;
    }
}

static int reduce_dim_untaped(gd_tensor **values, gd_tensor **indices, const gd_tensor *t, int dim, int op,
                              int keepdim, double p)
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

    if (t->device_kind == GD_CUDA) {
        /* the backend reduces rows: move dim last and make it contiguous */
        const gd_cuda_backend *cu = gd_cuda();
        if (!cu) return GD_EDEVICE;
        int perm[GD_MAX_DIMS], r = 0;
        for (int d = 0; d < t->rank; d++) if (d != dim) perm[r++] = d;
        perm[r] = dim;
        gd_tensor *pt = NULL, *c = NULL, *v = NULL, *ix = NULL;
        int64_t osizes[GD_MAX_DIMS];
        int st = gd_permute(&pt, t, t->rank, perm);
        if (!st) st = gd_contiguous(&c, pt);
        for (int d = 0, k = 0; d < t->rank; d++) {
            if (d == dim) { if (keepdim) osizes[k++] = 1; }
            else osizes[k++] = t->sizes[d];
        }
        int orank = keepdim ? t->rank : t->rank - 1;
        if (!st) st = gd_empty(&v, orank, osizes, out_dtype, GD_CUDA);
        if (!st && (want_index || is_arg)) st = gd_empty(&ix, orank, osizes, GD_INT64, GD_CUDA);
        if (!st) {
            int64_t rows = t->sizes[dim] ? c->count / t->sizes[dim] : 0;
            st = cu->reduce_rows(c->data, rows, t->sizes[dim], t->scalar_type, op, p, is_arg ? NULL : v->data,
                                 ix ? (int64_t *)ix->data : NULL, 1);
            if (st) st = gd_fail(GD_EDEVICE, "CUDA reduction failed: %s", cu->error_string());
        }
        if (!st && is_arg) { gd_tensor_release(v); v = ix; ix = NULL; }
        gd_tensor_release(pt);
        gd_tensor_release(c);
        if (st) { gd_tensor_release(v); gd_tensor_release(ix); return st; }
        *values = v;
        if (indices) *indices = ix; else gd_tensor_release(ix);
        return GD_OK;
    }

    /* outputs with keepdim's shape; the loop runs over the input with dim selected away */
    int64_t ksizes[GD_MAX_DIMS];
    memcpy(ksizes, t->sizes, sizeof ksizes);
    ksizes[dim] = 1;
    gd_tensor *v = NULL, *ix = NULL, *base = NULL, *vsel = NULL, *isel = NULL;
    int st = gd_empty(&v, t->rank, ksizes, out_dtype, GD_CPU);
    if (!st && want_index) st = gd_empty(&ix, t->rank, ksizes, GD_INT64, GD_CPU);
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
        dim_ctx c = {op, t->scalar_type, is_arg ? GD_INT64 : out_dtype, t->sizes[dim],
                     t->strides[dim] * (int64_t)gd_dtype_size(t->scalar_type), p, want_index};
        gd_iter it;
        const gd_tensor *ops[3] = {vsel, isel ? isel : vsel, base};
        st = gd_iter_init(&it, 3, ops, base->rank, base->sizes);
        if (!st) gd_iter_run(&it, dim_loop, &c);
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
    if (st) return gd_ag_end_reduce_dim(st, values, NULL, t, op, dim, keepdim, p);
    st = gd_ag_end_reduce_dim(st, values, ix ? *ix : NULL, t, op, dim, keepdim, p);
    gd_tensor_release(own);
    if (st && indices) { gd_tensor_release(*indices); *indices = NULL; }
    return st;
}

/* ------------------------------------------------------------------ scans */

/* One line per loop position: operands 0 (out) and 1 (in) are the lines'
   first elements; the line runs n elements with byte strides so, si. */
typedef struct {
    int dtype;
    int64_t n, so, si;
} scan_ctx;

/* Sums in double, as PyTorch's CPU cumsum does (at::acc_type of float is double
   there), and in order; int64 exactly, wrapping. */
#define CUMSUM_LINE(T, ACC)                                                                   \
    do {                                                                                      \
        ACC acc = 0;                                                                          \
        for (int64_t j = 0; j < c->n; j++) {                                                  \
            acc += (ACC) * (const T *)(in + j * c->si);                                       \
            *(T *)(o + j * c->so) = (T)acc;                                                   \
        }                                                                                     \
    } while (0)

static void cumsum_loop(int64_t n, char **p, const int64_t *s, const void *vctx)
{
    const scan_ctx *c = vctx;
    for (int64_t i = 0; i < n; i++) {
        char *o = p[0] + i * s[0];
        const char *in = p[1] + i * s[1];
        switch (c->dtype) {
        case GD_FLOAT32: CUMSUM_LINE(float, double); break;
        case GD_FLOAT64: CUMSUM_LINE(double, double); break;
        default: CUMSUM_LINE(int64_t, uint64_t); break;
        }
    }
}

/* out[..., j, ...] = sum of t[..., 0..j, ...] along dim; out has t's shape and
   dtype and may be t itself (each element is read before it is written). */
static int cumsum_into(gd_tensor *out, const gd_tensor *t, int dim)
{
    if (t->count == 0) return GD_OK;
    if (t->rank == 0) return out == t ? GD_OK : gd_copy(out, t);
    if (t->device_kind == GD_CUDA) {
        /* the backend scans rows: move dim last, make it contiguous, scan, move it back */
        const gd_cuda_backend *cu = gd_cuda();
        if (!cu) return GD_EDEVICE;
        int perm[GD_MAX_DIMS], inv[GD_MAX_DIMS], r = 0;
        for (int d = 0; d < t->rank; d++) if (d != dim) perm[r++] = d;
        perm[r] = dim;
        for (int d = 0; d < t->rank; d++) inv[perm[d]] = d;
        gd_tensor *pt = NULL, *ct = NULL, *sc = NULL, *back = NULL;
        int st = gd_permute(&pt, t, t->rank, perm);
        if (!st) st = gd_contiguous(&ct, pt);
        if (!st) st = gd_empty(&sc, ct->rank, ct->sizes, ct->scalar_type, GD_CUDA);
        if (!st && cu->cumsum_rows(sc->data, ct->data, ct->count / t->sizes[dim], t->sizes[dim], t->scalar_type))
            st = gd_fail(GD_EDEVICE, "CUDA cumsum failed: %s", cu->error_string());
        if (!st) st = gd_permute(&back, sc, t->rank, inv);
        if (!st) st = gd_copy(out, back);
        gd_tensor_release(pt); gd_tensor_release(ct); gd_tensor_release(sc); gd_tensor_release(back);
        return st;
    }
    gd_tensor *osel = NULL, *isel = NULL;
    int st = gd_select(&osel, out, dim, 0);
    if (!st) st = gd_select(&isel, t, dim, 0);
    if (!st) {
        int64_t es = (int64_t)gd_dtype_size(t->scalar_type);
        scan_ctx c = {t->scalar_type, t->sizes[dim], out->strides[dim] * es, t->strides[dim] * es};
        gd_iter it;
        const gd_tensor *ops[2] = {osel, isel};
        st = gd_iter_init(&it, 2, ops, isel->rank, isel->sizes);
        if (!st) gd_iter_run(&it, cumsum_loop, &c);
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
