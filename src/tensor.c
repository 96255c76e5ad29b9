/*
 * tensor.c: tensor structs, their lifetime and gradient, filling, copying and
 * single-element access.
 */
#include "internal.h"
#include "autograd.h"
#include "backend.h"
#include "kernels/elementwise.h"

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
    gd_tensor *t = gd_tensor_header_alloc();
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
    /* a fresh contiguous tensor over all of a fresh storage: the geometry was
       checked above and the extent holds by construction (gd_tensor_wrap's
       checks are for views); the tensor takes the storage's one reference */
    gd_tensor *t = gd_tensor_header_alloc();
    if (!t) {
        gd_storage_release(s);
        return gd_fail(GD_ENOMEM, "out of memory allocating a tensor header");
    }
    t->storage = s;
    t->scalar_type = dtype;
    t->device_kind = device;
    t->refcount = 1;
    t->uid = gd_next_uid();
    t->rank = rank;
    int64_t stride = 1;
    for (int d = rank - 1; d >= 0; d--) {
        t->sizes[d] = sizes[d];
        t->strides[d] = stride;
        stride *= sizes[d] > 0 ? sizes[d] : 1;
    }
    t->count = count;
    t->data = s->data;
    t->is_contiguous = 1;
    *out = t;
    return GD_OK;
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
    if (t) gd_owned_add32(&t->refcount, 1);
}

void gd_tensor_drop_grad(gd_tensor *t)
{
    gd_tensor *g = t->gradient;
    if (!g) return;
    t->gradient = NULL;
    gd_owned_add32(&g->grad_refs, -1);
    gd_tensor_release(g);
}

void gd_tensor_release(gd_tensor *t)
{
    if (!t) return;
    if (gd_owned_add32(&t->refcount, -1) != 0) return;
    if (t->grad_node) gd_ag_forget(t);
    gd_tensor_drop_grad(t);
    gd_storage_release(t->storage);
    gd_tensor_header_free(t);
}

int64_t gd_tensor_release_batch(gd_tensor **ptrs, int64_t n, int64_t *uids)
{
    enum { AHEAD = 8 };   /* headers this far ahead, their storages half as far */
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i + AHEAD < n && ptrs[i + AHEAD]) {
            /* the line a release touches: uid, .grad, storage, grad_node,
               refcount, lua_grad, rank (and the free list's link: src/core.c,
               link_of); a tensor of more than 4 dimensions also clears its
               last line */
            __builtin_prefetch(ptrs[i + AHEAD], 1);
        }
        if (i + AHEAD / 2 < n && ptrs[i + AHEAD / 2] && ptrs[i + AHEAD / 2]->storage)
            __builtin_prefetch(ptrs[i + AHEAD / 2]->storage, 1);
        gd_tensor *t = ptrs[i];
        if (!t) continue;
        ptrs[i] = NULL;
        if (t->lua_grad && uids) uids[k++] = t->uid;
        gd_tensor_release(t);
    }
    return k;
}

void gd_tensor_mark_lua_grad(gd_tensor *t)
{
    if (t) t->lua_grad = 1;
}

void gd_tensor_free_data(gd_tensor *t)
{
    if (!t || t->is_freed) return;
    gd_tensor_drop_grad(t);
    gd_storage_release(t->storage);
    t->storage = NULL;
    t->data = NULL;
    for (int d = 1; d < t->rank; d++) t->sizes[d] = t->strides[d] = 0;   /* (entries from rank on are 0) */
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
                           gd_device_name(g->device_kind), gd_device_name(t->device_kind));
        if (g == t) return gd_fail(GD_EINVAL, "a tensor cannot be its own gradient");
        for (const gd_tensor *h = g->gradient; h; h = h->gradient)
            if (h == t) return gd_fail(GD_EINVAL, "the gradient's own gradients lead back to the tensor (a cycle)");
        if (g == t->gradient) return GD_OK;
        gd_tensor_retain(g);
        gd_owned_add32(&g->grad_refs, 1);
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

int gd_fill(gd_tensor *t, double value)
{
    GD_TRY(gd_ag_write(t, "fill_"));
    GD_TRY(gd_check_tensor(t, "tensor"));
    if (t->scalar_type == GD_INT64) GD_TRY(gd_check_int64_value(value, "fill"));
    GD_TRY(gd_check_writable(t, "fill"));
    /* (the iterator and the backend call were a tenth of the d2l quadratic's backward) */
    if (gd_fill1_store(t, value)) return GD_OK;
    const gd_backend *b = gd_backend_of(t->device_kind);
    if (!b) return GD_EDEVICE;
    gd_iter it;
    const gd_tensor *ops[1] = {t};
    if (t->is_contiguous) gd_iter_flat(&it, 1, ops);
    else GD_TRY(gd_iter_init(&it, 1, ops, t->rank, t->sizes));
    return GD_BACKEND_CALL(b, "fill", fill(&it, t->scalar_type, value));
}

/* t[i] = start + i*step over the flat C-order index i */
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
    if (!t->is_contiguous) {
        gd_tensor *tmp;
        GD_TRY(gd_empty(&tmp, t->rank, t->sizes, t->scalar_type, t->device_kind));
        int st = gd_fill_range(tmp, start, step);
        if (!st) st = gd_copy(t, tmp);
        gd_tensor_release(tmp);
        return st;
    }
    const gd_backend *b = gd_backend_of(t->device_kind);
    if (!b) return GD_EDEVICE;
    return GD_BACKEND_CALL(b, "range", range(t->data, t->count, t->scalar_type, start, step));
}

/* ------------------------------------------------------------------ copy */

/* The int64 rule of conversions (kernels/elementwise.h), for every device:
   a float tensor converts to int64 only when every value has an int64. */
static int check_int64_convertible(const gd_tensor *src)
{
    if (src->count == 0) return GD_OK;
    double hi, lo;
    GD_TRY(gd_reduce_all(src, GD_RED_MAX, 0, &hi)); /* NaN wins max */
    GD_TRY(gd_reduce_all(src, GD_RED_MIN, 0, &lo));
    if (!gd_float_fits_int64(hi) || !gd_float_fits_int64(lo)) {
        double v = gd_float_fits_int64(hi) ? lo : hi;
        char shown[32];
        if (v != v) snprintf(shown, sizeof shown, "NaN");
        else snprintf(shown, sizeof shown, "%.17g", v);
        return gd_fail(GD_EINVAL, "copy: a NaN, infinite or out-of-range %s value (%s) cannot be converted to int64 "
                                  "(int64 holds -2^63 <= v < 2^63)", gd_dtype_name(src->scalar_type), shown);
    }
    return GD_OK;
}

/* Copy between devices goes through contiguous staging: one transfer. */
static int copy_across_devices(gd_tensor *dst, const gd_tensor *src)
{
    /* the device side's backend moves the bytes */
    const gd_backend *b = gd_backend_of(dst->device_kind != GD_CPU ? dst->device_kind : src->device_kind);
    if (!b) return GD_EDEVICE;
    /* 1. src -> contiguous, same device, dst's dtype, broadcast to dst's shape */
    gd_tensor *stage_src = NULL, *stage_dst = NULL;
    int st = GD_OK;
    if (src->is_contiguous && src->scalar_type == dst->scalar_type && src->count == dst->count &&
        src->rank == dst->rank && !memcmp(src->sizes, dst->sizes, sizeof(int64_t) * (size_t)src->rank)) {
        gd_tensor_retain((gd_tensor *)src);
        stage_src = (gd_tensor *)src;
    } else {
        st = gd_empty(&stage_src, dst->rank, dst->sizes, dst->scalar_type, src->device_kind);
        if (!st) st = gd_copy(stage_src, src);
    }
    size_t bytes = (size_t)dst->count * gd_dtype_size(dst->scalar_type);
    /* 2. raw transfer into a contiguous tensor on dst's device */
    if (!st && dst->is_contiguous) {
        st = gd_transfer(b, dst->data, stage_src->data, bytes, dst->device_kind, src->device_kind, 0);
    } else if (!st) {
        st = gd_empty(&stage_dst, dst->rank, dst->sizes, dst->scalar_type, dst->device_kind);
        if (!st) st = gd_transfer(b, stage_dst->data, stage_src->data, bytes, dst->device_kind, src->device_kind, 0);
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
    if (dst->device_kind != src->device_kind) return copy_across_devices(dst, src);
    if (dst->scalar_type == src->scalar_type && same_dense_shape(dst, src) && !gd_parallel_worth(dst->count)) {
        /* the common case of copy_, kept cheap for small tensors: raw bytes */
        if (dst->data == src->data || dst->count == 0) return GD_OK;
        if (!gd_same_storage(dst, src)) {
            const gd_backend *b = gd_backend_of(dst->device_kind);
            if (!b) return GD_EDEVICE;
            return GD_BACKEND_CALL(b, "copy", memcpy(dst->data, src->data,
                                                    (size_t)dst->count * gd_dtype_size(dst->scalar_type),
                                                    dst->device_kind, src->device_kind));
        }
    }
    if (gd_views_conflict(dst, src)) {
        /* overlapping views: go through a temporary so no element is read after it is written */
        gd_tensor *tmp;
        GD_TRY(gd_clone(&tmp, src));
        int st = gd_copy(dst, tmp);
        gd_tensor_release(tmp);
        return st;
    }
    if (dst->scalar_type == GD_INT64 && gd_is_float(src->scalar_type)) GD_TRY(check_int64_convertible(src));
    const gd_backend *b = gd_backend_of(dst->device_kind);
    if (!b) return GD_EDEVICE;
    gd_iter it;
    const gd_tensor *ops[2] = {dst, src};
    if (same_dense_shape(dst, src)) gd_iter_flat(&it, 2, ops);
    else GD_TRY(gd_iter_init(&it, 2, ops, dst->rank, dst->sizes));
    return GD_BACKEND_CALL(b, "copy", copy(&it, dst->scalar_type, src->scalar_type));
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
    const gd_backend *b = gd_backend_of(t->device_kind);
    if (!b) return GD_EDEVICE;
    GD_TRY(gd_transfer(b, &v, src, es, GD_CPU, t->device_kind, 1));
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
    const gd_backend *b = gd_backend_of(t->device_kind);
    if (!b) return GD_EDEVICE;
    GD_TRY(gd_transfer(b, dst, &v, es, t->device_kind, GD_CPU, 1));
    return GD_OK;
}
