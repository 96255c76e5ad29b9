/*
 * tensor.c: tensor structs, their lifetime and gradient, filling, copying and
 * single-element access.
 */
#include "internal.h"
#include "autograd.h"
#include "cuda_backend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

uint64_t gd_geometry_epoch;

void gd_contiguous_strides(int rank, const int64_t *sizes, int64_t *strides)
{
    int64_t s = 1;
    for (int d = rank - 1; d >= 0; d--) {
        strides[d] = s;
        s *= sizes[d] > 0 ? sizes[d] : 1;
    }
}

void gd_tensor_refresh(gd_tensor *t)
{
    int64_t count = 1;
    for (int d = 0; d < t->rank; d++) count *= t->sizes[d];
    t->count = count;
    t->data = t->storage ? (char *)t->storage->data + t->storage_offset * (int64_t)gd_dtype_size(t->scalar_type)
                         : NULL;
    /* an empty tensor is contiguous whatever its strides (as in PyTorch): its
       copy would be laid out the same, so staging it through gd_contiguous
       would otherwise never end */
    int contiguous = 1;
    int64_t expect = 1;
    for (int d = t->rank - 1; d >= 0 && count != 0; d--) {
        if (t->sizes[d] != 1 && t->strides[d] != expect) { contiguous = 0; break; }
        expect *= t->sizes[d];
    }
    t->is_contiguous = contiguous;
}

/* Every element a non-empty geometry reaches must lie inside the storage: the
   last one is offset + sum (size-1)*stride, computed without overflow.  An
   empty geometry reaches no element (PyTorch checks no bounds for it either). */
int gd_check_extent(const gd_storage *s, int dtype, int64_t offset, int rank, const int64_t *sizes,
                    const int64_t *strides, const char *what)
{
    int64_t nelem = s ? (int64_t)(s->nbytes / gd_dtype_size(dtype)) : 0;
    int64_t hi = offset;
    bool overflow = false;
    for (int d = 0; d < rank; d++) {
        if (sizes[d] == 0) return GD_OK;
        int64_t span;
        overflow |= __builtin_mul_overflow(sizes[d] - 1, strides[d], &span);
        overflow |= __builtin_add_overflow(hi, span, &hi);
    }
    if (offset < 0 || overflow || hi >= nelem)
        return gd_fail(GD_EINVAL, "%s: the view reaches beyond the storage's %lld elements (offset %lld, shape and "
                                  "strides too large)", what, (long long)nelem, (long long)offset + 1);
    return GD_OK;
}

int gd_tensor_wrap(gd_tensor **out, gd_storage *s, int dtype, int64_t offset, int rank,
                   const int64_t *sizes, const int64_t *strides)
{
    GD_TRY(gd_check_geometry(rank, sizes, strides, "view"));
    /* no view past its storage, whoever asks (a stale optimizer layout did) */
    GD_TRY(gd_check_extent(s, dtype, offset, rank, sizes, strides, "view"));
    gd_tensor *t = calloc(1, sizeof *t);
    if (!t) return gd_fail(GD_ENOMEM, "out of memory allocating a tensor header");
    t->storage = s;
    gd_storage_retain(s);
    t->scalar_type = dtype;
    t->device_kind = s->device;
    t->refcount = 1;
    t->uid = gd_next_uid();
    t->rank = rank;
    t->storage_offset = offset;
    for (int d = 0; d < rank; d++) {
        t->sizes[d] = sizes[d];
        t->strides[d] = strides[d];
    }
    gd_tensor_refresh(t);
    *out = t;
    return GD_OK;
}

int gd_empty(gd_tensor **out, int rank, const int64_t *sizes, int dtype, int device)
{
    if (rank < 0 || rank > GD_MAX_DIMS || (rank > 0 && !sizes))
        return gd_fail(GD_EINVAL, "shape: %d dimensions requested, at most %d are supported", rank, GD_MAX_DIMS);
    GD_TRY(gd_check_geometry(rank, sizes, NULL, "shape"));
    if (dtype < 0 || dtype >= GD_DTYPE_COUNT) return gd_fail(GD_EINVAL, "unknown dtype %d", dtype);
    if (device < 0 || device >= GD_DEVICE_COUNT) return gd_fail(GD_EINVAL, "unknown device %d", device);
    int64_t count = 1;
    for (int d = 0; d < rank; d++) count *= sizes[d];
    gd_storage *s;
    GD_TRY(gd_storage_new(&s, (size_t)count * gd_dtype_size(dtype), device));
    int64_t strides[GD_MAX_DIMS];
    gd_contiguous_strides(rank, sizes, strides);
    int st = gd_tensor_wrap(out, s, dtype, 0, rank, sizes, strides);
    gd_storage_release(s);
    return st;
}

int gd_empty_like(gd_tensor **out, const gd_tensor *t)
{
    GD_TRY(gd_check_tensor(t, "argument"));
    return gd_empty(out, t->rank, t->sizes, t->scalar_type, t->device_kind);
}

int gd_full_like(gd_tensor **out, const gd_tensor *t, double value)
{
    GD_TRY(gd_empty_like(out, t));
    int st = gd_fill(*out, value);
    if (st) { gd_tensor_release(*out); *out = NULL; }
    return st;
}

void gd_tensor_retain(gd_tensor *t)
{
    if (t) __atomic_add_fetch(&t->refcount, 1, __ATOMIC_RELAXED);
}

void gd_tensor_drop_grad(gd_tensor *t)
{
    gd_tensor *g = t->gradient;
    if (!g) return;
    t->gradient = NULL;
    __atomic_sub_fetch(&g->grad_refs, 1, __ATOMIC_RELAXED);
    gd_tensor_release(g);
}

void gd_tensor_release(gd_tensor *t)
{
    if (!t) return;
    if (__atomic_sub_fetch(&t->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
    if (t->grad_node) gd_ag_forget(t);
    gd_tensor_drop_grad(t);
    gd_storage_release(t->storage);
    free(t);
}

void gd_tensor_free_data(gd_tensor *t)
{
    if (!t || t->is_freed) return;
    gd_tensor_drop_grad(t);
    gd_storage_release(t->storage);
    t->storage = NULL;
    t->data = NULL;
    t->rank = 1;
    t->sizes[0] = 0;
    t->strides[0] = 1;
    t->count = 0;
    t->is_freed = 1;
}

int gd_tensor_set_grad(gd_tensor *t, gd_tensor *g)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    if (g) {
        GD_TRY(gd_check_tensor(g, "gradient"));
        char bt[128], bg[128];
        bool same = g->rank == t->rank;
        for (int d = 0; same && d < t->rank; d++) same = g->sizes[d] == t->sizes[d];
        if (!same)
            return gd_fail(GD_EINVAL, "gradient has shape %s but the tensor has shape %s",
                           gd_shape_str(g, bg, sizeof bg), gd_shape_str(t, bt, sizeof bt));
        if (g->scalar_type != t->scalar_type)
            return gd_fail(GD_EINVAL, "gradient has dtype %s but the tensor has dtype %s",
                           gd_dtype_name(g->scalar_type), gd_dtype_name(t->scalar_type));
        if (g->device_kind != t->device_kind)
            return gd_fail(GD_EINVAL, "gradient is on %s but the tensor is on %s",
                           g->device_kind ? "cuda" : "cpu", t->device_kind ? "cuda" : "cpu");
        if (g == t) return gd_fail(GD_EINVAL, "a tensor cannot be its own gradient");
        for (const gd_tensor *h = g->gradient; h; h = h->gradient)
            if (h == t) return gd_fail(GD_EINVAL, "the gradient's own gradients lead back to the tensor (a cycle)");
        if (g == t->gradient) return GD_OK;
        gd_tensor_retain(g);
        __atomic_add_fetch(&g->grad_refs, 1, __ATOMIC_RELAXED);
    }
    gd_tensor_drop_grad(t);
    t->gradient = g;
    return GD_OK;
}

int gd_same_storage(const gd_tensor *a, const gd_tensor *b)
{
    return a && b && a->storage && a->storage == b->storage;
}

/* ------------------------------------------------------------- overlap */

typedef struct { uintptr_t lo, hi; const gd_storage *storage; int index; } extent_item;

/* The bytes [lo, hi) between a non-empty tensor's first and last element. */
static extent_item extent_of(const gd_tensor *t, int index)
{
    int64_t span = 0;
    for (int d = 0; d < t->rank; d++) span += (t->sizes[d] - 1) * t->strides[d];
    size_t es = gd_dtype_size(t->scalar_type);
    extent_item e = {(uintptr_t)t->data, (uintptr_t)t->data + (uintptr_t)(span + 1) * es, t->storage, index};
    return e;
}

static int cmp_extent(const void *a, const void *b)
{
    const extent_item *x = a, *y = b;
    if (x->storage != y->storage) return (uintptr_t)x->storage < (uintptr_t)y->storage ? -1 : 1;
    if (x->lo != y->lo) return x->lo < y->lo ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The addresses of t's elements, in index order. */
static void element_addresses(const gd_tensor *t, uint64_t *out)
{
    int64_t idx[GD_MAX_DIMS] = {0};
    size_t es = gd_dtype_size(t->scalar_type);
    uint64_t at = (uint64_t)(uintptr_t)t->data;
    for (int64_t k = 0; k < t->count; k++) {
        out[k] = at;
        for (int d = t->rank - 1; d >= 0; d--) {
            if (++idx[d] < t->sizes[d]) { at += (uint64_t)t->strides[d] * es; break; }
            at -= (uint64_t)(t->sizes[d] - 1) * (uint64_t)t->strides[d] * es;
            idx[d] = 0;
        }
    }
}

/* Beyond this many elements two interleaved strided tensors count as
   overlapping without looking (the exact test sorts their addresses). */
#define OVERLAP_EXACT_MAX ((int64_t)1 << 24)

/* Whether a and b, non-empty on one storage with intersecting extents, share
   an element: 1, 0, or a negative status. */
static int elements_shared(const gd_tensor *a, const gd_tensor *b)
{
    /* dense extents are their elements; a common first element is shared */
    if ((a->is_contiguous && b->is_contiguous) || a->data == b->data) return 1;
    if (gd_dtype_size(a->scalar_type) != gd_dtype_size(b->scalar_type)) return 1;
    if (a->count > b->count) { const gd_tensor *t = a; a = b; b = t; }
    if (a->count > OVERLAP_EXACT_MAX) return 1;
    uint64_t *addr = malloc((size_t)a->count * sizeof *addr);
    if (!addr) return gd_fail(GD_ENOMEM, "out of memory comparing the memory of two tensors");
    element_addresses(a, addr);
    qsort(addr, (size_t)a->count, sizeof *addr, cmp_u64);
    int64_t idx[GD_MAX_DIMS] = {0};
    size_t es = gd_dtype_size(b->scalar_type);
    uint64_t at = (uint64_t)(uintptr_t)b->data;
    int found = 0;
    for (int64_t k = 0; k < b->count && !found; k++) {
        found = bsearch(&at, addr, (size_t)a->count, sizeof *addr, cmp_u64) != NULL;
        for (int d = b->rank - 1; d >= 0; d--) {
            if (++idx[d] < b->sizes[d]) { at += (uint64_t)b->strides[d] * es; break; }
            at -= (uint64_t)(b->sizes[d] - 1) * (uint64_t)b->strides[d] * es;
            idx[d] = 0;
        }
    }
    free(addr);
    return found;
}

int gd_find_overlap(gd_tensor *const *ts, int n, int nwrite, int *first, int *second)
{
    if (n < 0) return gd_fail(GD_EINVAL, "find_overlap: negative tensor count");
    extent_item *items = malloc((n > 0 ? (size_t)n : 1) * sizeof *items);
    if (!items) return gd_fail(GD_ENOMEM, "out of memory");
    int m = 0;
    for (int i = 0; i < n; i++)
        if (ts[i] && ts[i]->storage && !ts[i]->is_freed && ts[i]->count > 0) items[m++] = extent_of(ts[i], i);
    qsort(items, (size_t)m, sizeof *items, cmp_extent);
    int found = 0;
    /* sorted by start: only later items starting before this one's end can meet it */
    for (int k = 0; k < m && found == 0; k++)
        for (int j = k + 1; j < m && found == 0 && items[j].storage == items[k].storage && items[j].lo < items[k].hi;
             j++) {
            int a = items[k].index, b = items[j].index;
            if (a >= nwrite && b >= nwrite) continue; /* two readers never conflict */
            found = elements_shared(ts[a], ts[b]);
            if (found == 1) {
                *first = a < b ? a : b;
                *second = a < b ? b : a;
            }
        }
    free(items);
    return found;
}

/* ------------------------------------------------------------------ fill */

#define FILL_LOOP(T)                                                                    \
    static void fill_##T(int64_t n, char **p, const int64_t *s, const void *ctx)        \
    {                                                                                   \
        T v = *(const T *)ctx;                                                          \
        if (s[0] == (int64_t)sizeof(T)) {                                               \
            T *o = (T *)p[0];                                                           \
            for (int64_t i = 0; i < n; i++) o[i] = v;                                   \
        } else {                                                                        \
            for (int64_t i = 0; i < n; i++) *(T *)(p[0] + i * s[0]) = v;                \
        }                                                                               \
    }
FILL_LOOP(float)
FILL_LOOP(double)
FILL_LOOP(int64_t)

int gd_fill(gd_tensor *t, double value)
{
    GD_TRY(gd_ag_write(t, "fill_"));
    GD_TRY(gd_check_tensor(t, "tensor"));
    if (t->scalar_type == GD_INT64) GD_TRY(gd_check_int64_value(value, "fill"));
    GD_TRY(gd_check_writable(t, "fill"));
    if (value == 0 && !signbit(value) && t->device_kind == GD_CPU && t->is_contiguous) {
        /* all-zero bits are 0.0 and 0 in every dtype */
        if (t->count) memset(t->data, 0, (size_t)t->count * gd_dtype_size(t->scalar_type));
        return GD_OK;
    }
    gd_iter it;
    const gd_tensor *ops[1] = {t};
    GD_TRY(gd_iter_init(&it, 1, ops, t->rank, t->sizes));
    if (t->device_kind == GD_CUDA) {
        const gd_cuda_backend *cu = gd_cuda();
        if (!cu) return GD_EDEVICE;
        return cu->fill(&it, t->scalar_type, value);
    }
    float f = (float)value;
    int64_t i = t->scalar_type == GD_INT64 ? (int64_t)value : 0;
    switch (t->scalar_type) {
    case GD_FLOAT32: gd_iter_run(&it, fill_float, &f); break;
    case GD_FLOAT64: gd_iter_run(&it, fill_double, &value); break;
    default: gd_iter_run(&it, fill_int64_t, &i); break;
    }
    return GD_OK;
}

/* t[i] = start + i*step, on the CPU then copied for CUDA */
int gd_fill_range(gd_tensor *t, double start, double step)
{
    GD_TRY(gd_ag_write(t, "fill_range"));
    GD_TRY(gd_check_tensor(t, "tensor"));
    if (start != start || step != step || isinf(start) || isinf(step))
        return gd_fail(GD_EINVAL, "range: start %g and step %g must be finite", start, step);
    if (t->scalar_type == GD_INT64 && t->count > 0) {
        double last = start + (double)(t->count - 1) * step;
        if (!gd_fits_int64(nearbyint(start)) || !gd_fits_int64(nearbyint(last)))
            return gd_fail(GD_EINVAL, "range: values from %g to %g do not fit in int64", start, last);
    }
    GD_TRY(gd_check_writable(t, "range"));
    if (t->device_kind != GD_CPU || !t->is_contiguous) {
        gd_tensor *tmp;
        GD_TRY(gd_empty(&tmp, t->rank, t->sizes, t->scalar_type, GD_CPU));
        int st = gd_fill_range(tmp, start, step);
        if (!st) st = gd_copy(t, tmp);
        gd_tensor_release(tmp);
        return st;
    }
    int64_t n = t->count;
    switch (t->scalar_type) {
    case GD_FLOAT32: { float *p = t->data; for (int64_t i = 0; i < n; i++) p[i] = (float)(start + (double)i * step); break; }
    case GD_FLOAT64: { double *p = t->data; for (int64_t i = 0; i < n; i++) p[i] = start + (double)i * step; break; }
    default: { int64_t *p = t->data; for (int64_t i = 0; i < n; i++) p[i] = (int64_t)llround(start + (double)i * step); break; }
    }
    return GD_OK;
}

/* ------------------------------------------------------------------ copy */

#define COPY_LOOP(NAME, TO, FROM)                                                       \
    static void NAME(int64_t n, char **p, const int64_t *s, const void *ctx)            \
    {                                                                                   \
        (void)ctx;                                                                      \
        if (s[0] == (int64_t)sizeof(TO) && s[1] == (int64_t)sizeof(FROM)) {             \
            TO *o = (TO *)p[0];                                                         \
            const FROM *a = (const FROM *)p[1];                                         \
            for (int64_t i = 0; i < n; i++) o[i] = (TO)a[i];                            \
        } else {                                                                        \
            for (int64_t i = 0; i < n; i++)                                             \
                *(TO *)(p[0] + i * s[0]) = (TO) * (const FROM *)(p[1] + i * s[1]);      \
        }                                                                               \
    }
COPY_LOOP(copy_f_f, float, float)
COPY_LOOP(copy_f_d, float, double)
COPY_LOOP(copy_f_i, float, int64_t)
COPY_LOOP(copy_d_f, double, float)
COPY_LOOP(copy_d_d, double, double)
COPY_LOOP(copy_d_i, double, int64_t)
COPY_LOOP(copy_i_i, int64_t, int64_t)

/* float -> int64 truncates toward zero, as C and PyTorch do.  NaN, the
   infinities and values out of range have no int64: casting them is undefined
   behaviour in C, so they are written as 0 and reported through ctx (an int
   flag), which gd_copy turns into an error. */
#define COPY_TO_INT64(NAME, FROM)                                                       \
    static void NAME(int64_t n, char **p, const int64_t *s, const void *ctx)            \
    {                                                                                   \
        int bad = 0;                                                                    \
        for (int64_t i = 0; i < n; i++) {                                               \
            double v = *(const FROM *)(p[1] + i * s[1]);                                \
            bool ok = v > -9223372036854777856.0 && v < 9223372036854775808.0;          \
            bad |= !ok;                                                                 \
            *(int64_t *)(p[0] + i * s[0]) = ok ? (int64_t)v : 0;                        \
        }                                                                               \
        if (bad) __atomic_store_n((int *)ctx, 1, __ATOMIC_RELAXED);                     \
    }
COPY_TO_INT64(copy_i_f, float)
COPY_TO_INT64(copy_i_d, double)

static gd_loop_fn copy_loops[GD_DTYPE_COUNT][GD_DTYPE_COUNT] = {
    {copy_f_f, copy_f_d, copy_f_i},
    {copy_d_f, copy_d_d, copy_d_i},
    {copy_i_f, copy_i_d, copy_i_i},
};

/* Copy between devices goes through contiguous staging. */
static int copy_across_devices(gd_tensor *dst, const gd_tensor *src)
{
    const gd_cuda_backend *cu = gd_cuda();
    if (!cu) return GD_EDEVICE;
    /* 1. src -> contiguous, same device, dst's dtype, broadcast to dst's shape */
    gd_tensor *stage_src = NULL, *stage_dst = NULL;
    int st = gd_empty(&stage_src, dst->rank, dst->sizes, dst->scalar_type, src->device_kind);
    if (!st) st = gd_copy(stage_src, src);
    /* 2. raw transfer into a contiguous tensor on dst's device */
    if (!st && dst->is_contiguous) {
        st = cu->memcpy(dst->data, stage_src->data, (size_t)dst->count * gd_dtype_size(dst->scalar_type),
                        dst->device_kind, src->device_kind);
        if (st) st = gd_fail(GD_EDEVICE, "CUDA copy failed: %s", cu->error_string());
    } else if (!st) {
        st = gd_empty(&stage_dst, dst->rank, dst->sizes, dst->scalar_type, dst->device_kind);
        if (!st) {
            st = cu->memcpy(stage_dst->data, stage_src->data,
                            (size_t)dst->count * gd_dtype_size(dst->scalar_type), dst->device_kind,
                            src->device_kind);
            if (st) st = gd_fail(GD_EDEVICE, "CUDA copy failed: %s", cu->error_string());
        }
        if (!st) st = gd_copy(dst, stage_dst);
    }
    gd_tensor_release(stage_src);
    gd_tensor_release(stage_dst);
    return st;
}

/* True when writing dst while reading src could read an element already
   overwritten: both on one storage, but not the very same elements in order. */
bool gd_views_conflict(const gd_tensor *dst, const gd_tensor *src)
{
    if (!gd_same_storage(dst, src)) return false;
    if (dst->data != src->data || dst->rank != src->rank) return true;
    for (int d = 0; d < dst->rank; d++)
        if (dst->sizes[d] != src->sizes[d] || (dst->sizes[d] > 1 && dst->strides[d] != src->strides[d]))
            return true;
    return false;
}

/* Same shape, both dense: the common case of copy_, kept cheap for small tensors. */
static bool same_dense_shape(const gd_tensor *a, const gd_tensor *b)
{
    if (a->rank != b->rank || !a->is_contiguous || !b->is_contiguous) return false;
    for (int d = 0; d < a->rank; d++)
        if (a->sizes[d] != b->sizes[d]) return false;
    return true;
}

int gd_copy(gd_tensor *dst, const gd_tensor *src)
{
    GD_TRY(gd_ag_write(dst, "copy_"));
    GD_TRY(gd_check_tensor(dst, "destination"));
    GD_TRY(gd_check_tensor(src, "source"));
    GD_TRY(gd_check_writable(dst, "copy"));
    if (dst->device_kind == GD_CPU && src->device_kind == GD_CPU && dst->scalar_type == src->scalar_type &&
        same_dense_shape(dst, src) && !gd_parallel_worth(dst->count)) {
        memmove(dst->data, src->data, (size_t)dst->count * gd_dtype_size(dst->scalar_type));
        return GD_OK;
    }
    if (dst->device_kind != src->device_kind) return copy_across_devices(dst, src);
    gd_iter it;
    const gd_tensor *ops[2] = {dst, src};
    GD_TRY(gd_iter_init(&it, 2, ops, dst->rank, dst->sizes));
    if (gd_views_conflict(dst, src)) {
        /* overlapping views: go through a temporary so no element is read after it is written */
        gd_tensor *tmp;
        GD_TRY(gd_clone(&tmp, src));
        int st = gd_copy(dst, tmp);
        gd_tensor_release(tmp);
        return st;
    }
    if (dst->device_kind == GD_CUDA) {
        const gd_cuda_backend *cu = gd_cuda();
        if (!cu) return GD_EDEVICE;
        if (dst->scalar_type == GD_INT64 && gd_is_float(src->scalar_type) && src->count > 0) {
            /* the kernel cannot report a value with no int64: look first (the
               inf-norm is NaN when any value is) */
            double biggest;
            GD_TRY(gd_reduce_all(src, GD_RED_NORM, INFINITY, &biggest));
            if (!(biggest < 9223372036854775808.0))
                return gd_fail(GD_EINVAL, "copy: a NaN, infinite or out-of-range %s value cannot be converted to "
                                          "int64", gd_dtype_name(src->scalar_type));
        }
        return cu->copy(&it, dst->scalar_type, src->scalar_type);
    }
    int bad = 0;
    gd_iter_run(&it, copy_loops[dst->scalar_type][src->scalar_type], &bad);
    if (bad)
        return gd_fail(GD_EINVAL, "copy: a NaN, infinite or out-of-range %s value cannot be converted to int64",
                       gd_dtype_name(src->scalar_type));
    return GD_OK;
}

int gd_copy_from_bytes(gd_tensor *t, const void *bytes, size_t nbytes)
{
    GD_TRY(gd_ag_write(t, "copy_from_bytes"));
    GD_TRY(gd_check_tensor(t, "tensor"));
    size_t need = (size_t)t->count * gd_dtype_size(t->scalar_type);
    if (nbytes != need)
        return gd_fail(GD_EINVAL, "%zu bytes given for a tensor of %zu bytes", nbytes, need);
    if (t->is_contiguous && t->device_kind == GD_CPU) {
        if (need) memcpy(t->data, bytes, need);
        return GD_OK;
    }
    /* a CPU tensor over the caller's bytes, then an ordinary copy */
    gd_storage s = {.data = (void *)bytes, .nbytes = nbytes, .device = GD_CPU, .refcount = 1 << 30};
    gd_tensor view = {0};
    view.storage = &s;
    view.scalar_type = t->scalar_type;
    view.device_kind = GD_CPU;
    view.rank = t->rank;
    view.refcount = 1;
    for (int d = 0; d < t->rank; d++) view.sizes[d] = t->sizes[d];
    gd_contiguous_strides(t->rank, t->sizes, view.strides);
    gd_tensor_refresh(&view);
    return gd_copy(t, &view);
}

int gd_copy_to_bytes(const gd_tensor *t, void *bytes, size_t nbytes)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    size_t need = (size_t)t->count * gd_dtype_size(t->scalar_type);
    if (nbytes != need)
        return gd_fail(GD_EINVAL, "%zu bytes of room for a tensor of %zu bytes", nbytes, need);
    if (t->is_contiguous && t->device_kind == GD_CPU) {
        if (need) memcpy(bytes, t->data, need);
        return GD_OK;
    }
    gd_storage s = {.data = bytes, .nbytes = nbytes, .device = GD_CPU, .refcount = 1 << 30};
    gd_tensor view = {0};
    view.storage = &s;
    view.scalar_type = t->scalar_type;
    view.device_kind = GD_CPU;
    view.rank = t->rank;
    view.refcount = 1;
    for (int d = 0; d < t->rank; d++) view.sizes[d] = t->sizes[d];
    gd_contiguous_strides(t->rank, t->sizes, view.strides);
    gd_tensor_refresh(&view);
    return gd_copy(&view, t);
}

/* --------------------------------------------------------- single elements */

static int element_offset(const gd_tensor *t, const int64_t *index, int64_t *off)
{
    int64_t o = 0;
    for (int d = 0; d < t->rank; d++) {
        if (index[d] < 0 || index[d] >= t->sizes[d]) {
            char b[128];
            return gd_fail(GD_EINVAL, "index %lld out of range for dimension %d of size %lld (shape %s)",
                           (long long)index[d] + 1, d + 1, (long long)t->sizes[d], gd_shape_str(t, b, sizeof b));
        }
        o += index[d] * t->strides[d];
    }
    *off = o;
    return GD_OK;
}

int gd_get(const gd_tensor *t, const int64_t *index, double *out)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    int64_t off = 0;
    GD_TRY(element_offset(t, index, &off));
    size_t es = gd_dtype_size(t->scalar_type);
    union { float f; double d; int64_t i; } v;
    const char *src = (const char *)t->data + off * (int64_t)es;
    if (t->device_kind == GD_CUDA) {
        const gd_cuda_backend *cu = gd_cuda();
        if (!cu) return GD_EDEVICE;
        if (cu->memcpy(&v, src, es, GD_CPU, GD_CUDA))
            return gd_fail(GD_EDEVICE, "CUDA copy failed: %s", cu->error_string());
    } else {
        memcpy(&v, src, es);
    }
    *out = t->scalar_type == GD_FLOAT32 ? v.f : t->scalar_type == GD_FLOAT64 ? v.d : (double)v.i;
    return GD_OK;
}

int gd_set(gd_tensor *t, const int64_t *index, double value)
{
    GD_TRY(gd_ag_write(t, "set"));
    GD_TRY(gd_check_tensor(t, "tensor"));
    int64_t off = 0;
    GD_TRY(element_offset(t, index, &off));
    if (t->scalar_type == GD_INT64) GD_TRY(gd_check_int64_value(value, "set"));
    size_t es = gd_dtype_size(t->scalar_type);
    union { float f; double d; int64_t i; } v;
    if (t->scalar_type == GD_FLOAT32) v.f = (float)value;
    else if (t->scalar_type == GD_FLOAT64) v.d = value;
    else v.i = (int64_t)value;
    char *dst = (char *)t->data + off * (int64_t)es;
    if (t->device_kind == GD_CUDA) {
        const gd_cuda_backend *cu = gd_cuda();
        if (!cu) return GD_EDEVICE;
        if (cu->memcpy(dst, &v, es, GD_CUDA, GD_CPU))
            return gd_fail(GD_EDEVICE, "CUDA copy failed: %s", cu->error_string());
    } else {
        memcpy(dst, &v, es);
    }
    return GD_OK;
}
