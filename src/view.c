/*
 * view.c: tensors that share another's storage (view, transpose, narrow ...)
 * and the operations that make new layouts (contiguous, clone, to, cat).
 * Dimensions and indices are 0-based here.
 */
#include "internal.h"
#include "autograd.h"

#include <stdio.h>
#include <stdlib.h>

static int make_view(gd_tensor **out, const gd_tensor *t, int64_t offset, int rank, const int64_t *sizes,
                     const int64_t *strides)
{
    return gd_tensor_wrap(out, t->storage, t->scalar_type, offset, rank, sizes, strides);
}

/* Resolves one -1 in sizes and checks the element count matches. */
static int infer_sizes(const gd_tensor *t, int rank, const int64_t *in, int64_t *sizes, const char *what)
{
    if (rank < 0 || rank > GD_MAX_DIMS || (rank > 0 && !in))
        return gd_fail(GD_EINVAL, "%s: %d dimensions requested, at most %d are supported", what, rank, GD_MAX_DIMS);
    int infer = -1;
    int64_t known = 1;
    for (int d = 0; d < rank; d++) {
        sizes[d] = in[d];
        if (in[d] == -1) {
            if (infer >= 0) return gd_fail(GD_EINVAL, "%s: only one dimension can be -1", what);
            infer = d;
        } else if (in[d] < 0) {
            return gd_fail(GD_EINVAL, "%s: size %lld of dimension %d is negative", what, (long long)in[d], d + 1);
        } else if (__builtin_mul_overflow(known, in[d], &known) || known > GD_MAX_NUMEL) {
            goto mismatch;
        }
    }
    if (infer >= 0) {
        if (known == 0 || t->count % known != 0) goto mismatch;
        sizes[infer] = t->count / known;
        known *= sizes[infer];
    }
    if (known != t->count) goto mismatch;
    return GD_OK;
mismatch:;
    char b[128], want[160];
    size_t used = 0;
    want[0] = 0;
    for (int d = 0; d < rank && used < sizeof want; d++)
        used += (size_t)snprintf(want + used, sizeof want - used, d ? "x%lld" : "%lld", (long long)in[d]);
    return gd_fail(GD_EINVAL, "%s: cannot make a tensor of shape %s (%lld elements) into shape %s", what,
                   gd_shape_str(t, b, sizeof b), (long long)t->count, rank ? want : "scalar");
}

/* Strides that let t be seen with new sizes without copying, if any exist
   (the algorithm of NumPy's _attempt_nocopy_reshape). */
static bool view_strides(const gd_tensor *t, int rank, const int64_t *sizes, int64_t *strides)
{
    if (t->is_contiguous) {
        gd_contiguous_strides(rank, sizes, strides);
        return true;
    }
    /* squeeze out size-1 dims of t */
    int64_t os[GD_MAX_DIMS], ot[GD_MAX_DIMS];
    int on = 0;
    for (int d = 0; d < t->rank; d++)
        if (t->sizes[d] != 1) { os[on] = t->sizes[d]; ot[on] = t->strides[d]; on++; }
    int oi = 0, oj = 1, ni = 0, nj = 1;
    while (ni < rank && oi < on) {
        int64_t np = sizes[ni], op = os[oi];
        while (np != op) {
            if (np < op) np *= sizes[nj++];
            else op *= os[oj++];
        }
        for (int k = oi; k < oj - 1; k++)
            if (ot[k] != os[k + 1] * ot[k + 1]) return false;
        strides[nj - 1] = ot[oj - 1];
        for (int k = nj - 1; k > ni; k--) strides[k - 1] = strides[k] * sizes[k];
        ni = nj++;
        oi = oj++;
    }
    /* trailing size-1 dims */
    int64_t last = ni > 0 ? strides[ni - 1] : 1;
    for (; ni < rank; ni++) strides[ni] = last;
    return true;
}

static int view_untaped(gd_tensor **out, const gd_tensor *t, int rank, const int64_t *in)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    int64_t sizes[GD_MAX_DIMS], strides[GD_MAX_DIMS];
    GD_TRY(infer_sizes(t, rank, in, sizes, "view"));
    if (t->count == 0) gd_contiguous_strides(rank, sizes, strides);
    else if (!view_strides(t, rank, sizes, strides))
        return gd_fail(GD_EINVAL, "view: the tensor's strides do not allow this shape without a copy "
                                  "(use reshape, or contiguous() first)");
    return make_view(out, t, t->storage_offset, rank, sizes, strides);
}

int gd_view(gd_tensor **out, const gd_tensor *t, int rank, const int64_t *in)
{
    bool rec = gd_ag_begin(t, NULL, NULL);
    int st = view_untaped(out, t, rank, in);
    if (!rec) return st;
    const gd_tensor *src_[1] = {t};
    return gd_ag_end(st, out, GD_AG_RESHAPE, 0, 1, src_, NULL, NULL, 0);
}

static int reshape_untaped(gd_tensor **out, const gd_tensor *t, int rank, const int64_t *in)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    int64_t sizes[GD_MAX_DIMS], strides[GD_MAX_DIMS];
    GD_TRY(infer_sizes(t, rank, in, sizes, "reshape"));
    if (t->count == 0 || view_strides(t, rank, sizes, strides)) {
        if (t->count == 0) gd_contiguous_strides(rank, sizes, strides);
        return make_view(out, t, t->storage_offset, rank, sizes, strides);
    }
    gd_tensor *c;
    GD_TRY(gd_clone(&c, t));
    int st = gd_view(out, c, rank, sizes);
    gd_tensor_release(c);
    return st;
}

int gd_reshape(gd_tensor **out, const gd_tensor *t, int rank, const int64_t *in)
{
    bool rec = gd_ag_begin(t, NULL, NULL);
    int st = reshape_untaped(out, t, rank, in);
    if (!rec) return st;
    const gd_tensor *src_[1] = {t};
    return gd_ag_end(st, out, GD_AG_RESHAPE, 0, 1, src_, NULL, NULL, 0);
}

static int transpose_untaped(gd_tensor **out, const gd_tensor *t, int d0, int d1)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    GD_TRY(gd_check_dim(t, d0, "transpose"));
    GD_TRY(gd_check_dim(t, d1, "transpose"));
    int64_t sizes[GD_MAX_DIMS], strides[GD_MAX_DIMS];
    memcpy(sizes, t->sizes, sizeof sizes);
    memcpy(strides, t->strides, sizeof strides);
    sizes[d0] = t->sizes[d1]; sizes[d1] = t->sizes[d0];
    strides[d0] = t->strides[d1]; strides[d1] = t->strides[d0];
    return make_view(out, t, t->storage_offset, t->rank, sizes, strides);
}

int gd_transpose(gd_tensor **out, const gd_tensor *t, int d0, int d1)
{
    bool rec = gd_ag_begin(t, NULL, NULL);
    int st = transpose_untaped(out, t, d0, d1);
    if (!rec) return st;
    int64_t perm[GD_MAX_DIMS];
    for (int d = 0; d < t->rank; d++) perm[d] = d == d0 ? d1 : d == d1 ? d0 : d;
    const gd_tensor *src_[1] = {t};
    return gd_ag_end(st, out, GD_AG_PERMUTE, 0, 1, src_, NULL, perm, t->rank);
}

static int permute_untaped(gd_tensor **out, const gd_tensor *t, int rank, const int *dims)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    if (rank != t->rank)
        return gd_fail(GD_EINVAL, "permute: %d dimensions given for a tensor with %d", rank, t->rank);
    int seen[GD_MAX_DIMS] = {0};
    int64_t sizes[GD_MAX_DIMS], strides[GD_MAX_DIMS];
    for (int d = 0; d < rank; d++) {
        GD_TRY(gd_check_dim(t, dims[d], "permute"));
        if (seen[dims[d]]++) return gd_fail(GD_EINVAL, "permute: dimension %d appears twice", dims[d] + 1);
        sizes[d] = t->sizes[dims[d]];
        strides[d] = t->strides[dims[d]];
    }
    return make_view(out, t, t->storage_offset, rank, sizes, strides);
}

int gd_permute(gd_tensor **out, const gd_tensor *t, int rank, const int *dims)
{
    bool rec = gd_ag_begin(t, NULL, NULL);
    int st = permute_untaped(out, t, rank, dims);
    if (!rec) return st;
    int64_t perm[GD_MAX_DIMS];
    for (int d = 0; d < rank && d < GD_MAX_DIMS; d++) perm[d] = dims[d];
    const gd_tensor *src_[1] = {t};
    return gd_ag_end(st, out, GD_AG_PERMUTE, 0, 1, src_, NULL, perm, rank);
}

static int narrow_untaped(gd_tensor **out, const gd_tensor *t, int dim, int64_t start, int64_t length)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    GD_TRY(gd_check_dim(t, dim, "narrow"));
    if (start < 0 || length < 0 || start > t->sizes[dim] - length)
        return gd_fail(GD_EINVAL, "narrow: elements %lld to %lld are out of range for dimension %d of size %lld",
                       (long long)start + 1, (long long)(start + length), dim + 1, (long long)t->sizes[dim]);
    int64_t sizes[GD_MAX_DIMS];
    memcpy(sizes, t->sizes, sizeof sizes);
    sizes[dim] = length;
    return make_view(out, t, t->storage_offset + start * t->strides[dim], t->rank, sizes, t->strides);
}

int gd_narrow(gd_tensor **out, const gd_tensor *t, int dim, int64_t start, int64_t length)
{
    bool rec = gd_ag_begin(t, NULL, NULL);
    int st = narrow_untaped(out, t, dim, start, length);
    if (!rec) return st;
    const gd_tensor *src_[1] = {t};
    const int64_t ip[3] = {dim, start, length};
    return gd_ag_end(st, out, GD_AG_NARROW, 0, 1, src_, NULL, ip, 3);
}

static int select_untaped(gd_tensor **out, const gd_tensor *t, int dim, int64_t index)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    GD_TRY(gd_check_dim(t, dim, "select"));
    if (index < 0 || index >= t->sizes[dim])
        return gd_fail(GD_EINVAL, "select: index %lld out of range for dimension %d of size %lld",
                       (long long)index + 1, dim + 1, (long long)t->sizes[dim]);
    int64_t sizes[GD_MAX_DIMS], strides[GD_MAX_DIMS];
    int r = 0;
    for (int d = 0; d < t->rank; d++) {
        if (d == dim) continue;
        sizes[r] = t->sizes[d];
        strides[r] = t->strides[d];
        r++;
    }
    return make_view(out, t, t->storage_offset + index * t->strides[dim], r, sizes, strides);
}

int gd_select(gd_tensor **out, const gd_tensor *t, int dim, int64_t index)
{
    bool rec = gd_ag_begin(t, NULL, NULL);
    int st = select_untaped(out, t, dim, index);
    if (!rec) return st;
    const gd_tensor *src_[1] = {t};
    const int64_t ip[2] = {dim, index};
    return gd_ag_end(st, out, GD_AG_SELECT, 0, 1, src_, NULL, ip, 2);
}

/* t[i, i + offset] for every i in range: stride strides[0] + strides[1]. */
static int diagonal_untaped(gd_tensor **out, const gd_tensor *t, int64_t offset)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    if (t->rank != 2)
        return gd_fail(GD_EINVAL, "diagonal: expects a 2-D tensor, got %d dimension%s", t->rank,
                       t->rank == 1 ? "" : "s");
    int64_t rows = t->sizes[0], cols = t->sizes[1], len = 0, start = t->storage_offset;
    /* (compared before any product, so that a huge offset cannot overflow) */
    if (offset >= 0 && offset < cols) {
        len = rows < cols - offset ? rows : cols - offset;
        start += offset * t->strides[1];
    } else if (offset < 0 && offset > -rows) {
        len = rows + offset < cols ? rows + offset : cols;
        start += -offset * t->strides[0];
    }
    if (len == 0) start = t->storage_offset;
    int64_t stride = t->strides[0] + t->strides[1];
    return make_view(out, t, start, 1, &len, &stride);
}

int gd_diagonal(gd_tensor **out, const gd_tensor *t, int64_t offset)
{
    bool rec = gd_ag_begin(t, NULL, NULL);
    int st = diagonal_untaped(out, t, offset);
    if (!rec) return st;
    const gd_tensor *src_[1] = {t};
    const int64_t ip[1] = {offset};
    return gd_ag_end(st, out, GD_AG_DIAGONAL, 0, 1, src_, NULL, ip, 1);
}

static int expand_untaped(gd_tensor **out, const gd_tensor *t, int rank, const int64_t *in)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    if (rank < t->rank || rank > GD_MAX_DIMS)
        return gd_fail(GD_EINVAL, "expand: %d dimensions given for a tensor with %d", rank, t->rank);
    int64_t sizes[GD_MAX_DIMS], strides[GD_MAX_DIMS];
    for (int d = 0; d < rank; d++) {
        int td = t->rank - rank + d;
        sizes[d] = in[d] == -1 && td >= 0 ? t->sizes[td] : in[d];
        if (sizes[d] < 0) return gd_fail(GD_EINVAL, "expand: size %lld is negative", (long long)in[d]);
    }
    GD_TRY(gd_broadcast_strides(t, rank, sizes, strides));
    return make_view(out, t, t->storage_offset, rank, sizes, strides);
}

int gd_expand(gd_tensor **out, const gd_tensor *t, int rank, const int64_t *in)
{
    bool rec = gd_ag_begin(t, NULL, NULL);
    int st = expand_untaped(out, t, rank, in);
    if (!rec) return st;
    const gd_tensor *src_[1] = {t};
    return gd_ag_end(st, out, GD_AG_EXPAND, 0, 1, src_, NULL, NULL, 0);
}

static int unsqueeze_untaped(gd_tensor **out, const gd_tensor *t, int dim)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    if (dim < 0 || dim > t->rank || t->rank >= GD_MAX_DIMS)
        return gd_fail(GD_EINVAL, "unsqueeze: dimension %d out of range 1..%d", dim + 1, t->rank + 1);
    int64_t sizes[GD_MAX_DIMS], strides[GD_MAX_DIMS];
    for (int d = 0, r = 0; d <= t->rank; d++) {
        if (d == dim) {
            sizes[d] = 1;
            /* any stride serves a size-1 dimension; this one keeps contiguous tensors contiguous */
            if (d >= t->rank || __builtin_mul_overflow(t->strides[d], t->sizes[d], &strides[d])) strides[d] = 1;
        } else {
            sizes[d] = t->sizes[r];
            strides[d] = t->strides[r];
            r++;
        }
    }
    return make_view(out, t, t->storage_offset, t->rank + 1, sizes, strides);
}

int gd_unsqueeze(gd_tensor **out, const gd_tensor *t, int dim)
{
    bool rec = gd_ag_begin(t, NULL, NULL);
    int st = unsqueeze_untaped(out, t, dim);
    if (!rec) return st;
    const gd_tensor *src_[1] = {t};
    return gd_ag_end(st, out, GD_AG_RESHAPE, 0, 1, src_, NULL, NULL, 0);
}

static int squeeze_untaped(gd_tensor **out, const gd_tensor *t, int dim)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    if (dim >= 0) GD_TRY(gd_check_dim(t, dim, "squeeze"));
    int64_t sizes[GD_MAX_DIMS], strides[GD_MAX_DIMS];
    int r = 0;
    for (int d = 0; d < t->rank; d++) {
        if (t->sizes[d] == 1 && (dim < 0 || dim == d)) continue;
        sizes[r] = t->sizes[d];
        strides[r] = t->strides[d];
        r++;
    }
    return make_view(out, t, t->storage_offset, r, sizes, strides);
}

int gd_squeeze(gd_tensor **out, const gd_tensor *t, int dim)
{
    bool rec = gd_ag_begin(t, NULL, NULL);
    int st = squeeze_untaped(out, t, dim);
    if (!rec) return st;
    const gd_tensor *src_[1] = {t};
    return gd_ag_end(st, out, GD_AG_RESHAPE, 0, 1, src_, NULL, NULL, 0);
}

static int contiguous_untaped(gd_tensor **out, const gd_tensor *t)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    if (t->is_contiguous) return make_view(out, t, t->storage_offset, t->rank, t->sizes, t->strides);
    return gd_clone(out, t);
}

int gd_contiguous(gd_tensor **out, const gd_tensor *t)
{
    bool rec = gd_ag_begin(t, NULL, NULL);
    int st = contiguous_untaped(out, t);
    if (!rec) return st;
    const gd_tensor *src_[1] = {t};
    return gd_ag_end(st, out, GD_AG_CONVERT, 0, 1, src_, NULL, NULL, 0);
}

int gd_clone(gd_tensor **out, const gd_tensor *t)
{
    return gd_to(out, t, -1, -1);
}

/* dtype/device -1: keep.  gd_clone is gd_to with both kept, and always copies. */
static int to_untaped(gd_tensor **out, const gd_tensor *t, int dtype, int device)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    bool copy_always = dtype < 0 && device < 0;
    if (dtype < 0) dtype = t->scalar_type;
    if (device < 0) device = t->device_kind;
    if (!copy_always && dtype == t->scalar_type && device == t->device_kind)
        return make_view(out, t, t->storage_offset, t->rank, t->sizes, t->strides);
    gd_tensor *r;
    GD_TRY(gd_empty(&r, t->rank, t->sizes, dtype, device));
    int st = gd_copy(r, t);
    if (st) { gd_tensor_release(r); return st; }
    *out = r;
    return GD_OK;
}

int gd_to(gd_tensor **out, const gd_tensor *t, int dtype, int device)
{
    bool rec = gd_ag_begin(t, NULL, NULL);
    int st = to_untaped(out, t, dtype, device);
    if (!rec) return st;
    const gd_tensor *src_[1] = {t};
    return gd_ag_end(st, out, GD_AG_CONVERT, 0, 1, src_, NULL, NULL, 0);
}

/* gd_set_storage, and gd_set_data when retype (t takes src's dtype). */
static int set_storage(gd_tensor *t, const gd_tensor *src, int64_t offset, int rank, const int64_t *sizes,
                       const int64_t *strides, bool retype)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    GD_TRY(gd_check_tensor(src, "source"));
    if (t->scalar_type != src->scalar_type && !retype)
        return gd_fail(GD_EINVAL, "set_: dtypes differ (%s and %s)", gd_dtype_name(t->scalar_type),
                       gd_dtype_name(src->scalar_type));
    if (t->scalar_type != src->scalar_type && t->grad_refs > 0)
        return gd_fail(GD_EINVAL, "set_data: the tensor is the gradient of another tensor, so its dtype cannot "
                                  "change");
    GD_TRY(gd_check_geometry(rank, sizes, strides, "set_"));
    if (t->grad_refs > 0) {
        bool same = rank == t->rank;
        for (int d = 0; same && d < rank; d++) same = sizes[d] == t->sizes[d];
        if (!same) {
            char b[128];
            return gd_fail(GD_EINVAL, "set_: the tensor is the gradient of another tensor, so its shape %s cannot "
                                      "change", gd_shape_str(t, b, sizeof b));
        }
    }
    if (offset < 0) return gd_fail(GD_EINVAL, "set_: offset %lld is negative", (long long)offset + 1);
    /* the offset a user gives lies in the storage even for an empty view */
    int64_t nelem = (int64_t)(src->storage->nbytes / gd_dtype_size(src->scalar_type));
    if (offset > nelem)
        return gd_fail(GD_EINVAL, "set_: offset %lld is beyond the storage's %lld elements", (long long)offset + 1,
                       (long long)nelem);
    GD_TRY(gd_check_extent(src->storage, src->scalar_type, offset, rank, sizes, strides, "set_"));
    gd_storage *s = src->storage;
    gd_storage_retain(s);
    gd_storage_release(t->storage);
    t->storage = s;
    t->device_kind = s->device;
    t->storage_offset = offset;
    /* (entries from rank on stay 0: a header's last line is reused unwritten, src/core.c) */
    for (int d = rank; d < t->rank; d++) t->sizes[d] = t->strides[d] = 0;
    t->rank = rank;
    for (int d = 0; d < rank; d++) { t->sizes[d] = sizes[d]; t->strides[d] = strides[d]; }
    /* a gradient of the old dtype no longer fits */
    if (t->scalar_type != src->scalar_type) gd_tensor_drop_grad(t);
    t->scalar_type = src->scalar_type;
    gd_tensor_refresh(t);
    __atomic_add_fetch(&gd_geometry_epoch, 1, __ATOMIC_RELAXED);
    /* a gradient of the old shape no longer fits */
    if (t->gradient) {
        bool same = t->gradient->rank == rank;
        for (int d = 0; same && d < rank; d++) same = t->gradient->sizes[d] == sizes[d];
        if (!same) gd_tensor_drop_grad(t);
    }
    return GD_OK;
}

int gd_set_storage(gd_tensor *t, const gd_tensor *src, int64_t offset, int rank, const int64_t *sizes,
                   const int64_t *strides)
{
    GD_TRY(gd_ag_write(t, "set_"));
    return set_storage(t, src, offset, rank, sizes, strides, false);
}

int gd_set_data(gd_tensor *t, const gd_tensor *src, int64_t offset, int rank, const int64_t *sizes,
                const int64_t *strides)
{
    GD_TRY(gd_ag_write(t, "set_"));
    return set_storage(t, src, offset, rank, sizes, strides, true);
}

static int index_select_untaped(gd_tensor **out, const gd_tensor *t, int dim, const gd_tensor *index)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    GD_TRY(gd_check_tensor(index, "index"));
    GD_TRY(gd_check_dim(t, dim, "index_select"));
    if (index->scalar_type != GD_INT64 || index->rank != 1)
        return gd_fail(GD_EINVAL, "index_select: the index must be a 1-D int64 tensor");
    GD_TRY(gd_check_same_device(t, index));
    int64_t bad = 0, value = 0;
    int st = GD_OK;
    if (gd_indices_out_of_range(index, 0, t->sizes[dim], &bad, &value, &st))
        return gd_fail(GD_EINVAL, "index_select: index %lld out of range for dimension %d of size %lld",
                       (long long)((uint64_t)value + 1), dim + 1, (long long)t->sizes[dim]);
    GD_TRY(st);
    /* rows of the tensor with dim moved first, gathered on its device, moved back */
    gd_tensor *moved = NULL, *front = NULL, *picked = NULL, *back = NULL, *r = NULL;
    int64_t sizes[GD_MAX_DIMS];
    st = gd_transpose(&moved, t, 0, dim);
    if (!st) st = gd_contiguous(&front, moved);
    if (!st) {
        memcpy(sizes, front->sizes, sizeof sizes);
        sizes[0] = index->count;
        st = gd_empty(&picked, front->rank, sizes, t->scalar_type, t->device_kind);
    }
    if (!st) st = gd_nn_gather_rows(picked, front, index, 0, 0);
    if (!st) st = gd_transpose(&back, picked, 0, dim);
    if (!st) st = gd_contiguous(&r, back);
    gd_tensor_release(moved);
    gd_tensor_release(front);
    gd_tensor_release(picked);
    gd_tensor_release(back);
    if (st) { gd_tensor_release(r); return st; }
    *out = r;
    return GD_OK;
}

int gd_index_select(gd_tensor **out, const gd_tensor *t, int dim, const gd_tensor *index)
{
    bool rec = gd_ag_begin(t, NULL, NULL);
    int st = index_select_untaped(out, t, dim, index);
    if (!rec) return st;
    const int64_t ip[1] = {dim};
    const gd_tensor *src_[2] = {t, index};
    return gd_ag_end(st, out, GD_AG_INDEX_SELECT, 0, 2, src_, NULL, ip, 1);
}

static int cat_untaped(gd_tensor **out, gd_tensor *const *ts, int n, int dim)
{
    if (n < 1) return gd_fail(GD_EINVAL, "cat: no tensors given");
    for (int i = 0; i < n; i++) GD_TRY(gd_check_tensor(ts[i], "tensor"));
    const gd_tensor *first = ts[0];
    GD_TRY(gd_check_dim(first, dim, "cat"));
    int64_t sizes[GD_MAX_DIMS];
    memcpy(sizes, first->sizes, sizeof sizes);
    sizes[dim] = 0;
    int dtype = first->scalar_type;
    for (int i = 0; i < n; i++) {
        const gd_tensor *t = ts[i];
        bool ok = t->rank == first->rank;
        for (int d = 0; ok && d < t->rank; d++) ok = d == dim || t->sizes[d] == first->sizes[d];
        if (!ok) {
            char a[128], b[128];
            return gd_fail(GD_EINVAL, "cat: tensor %d has shape %s, which does not fit %s outside dimension %d",
                           i + 1, gd_shape_str(t, a, sizeof a), gd_shape_str(first, b, sizeof b), dim + 1);
        }
        GD_TRY(gd_check_same_device(first, t));
        dtype = gd_promote(dtype, t->scalar_type);
        sizes[dim] += t->sizes[dim];
    }
    gd_tensor *r;
    GD_TRY(gd_empty(&r, first->rank, sizes, dtype, first->device_kind));
    int64_t at = 0;
    int st = 0;
    for (int i = 0; !st && i < n; i++) {
        gd_tensor *part = NULL;
        st = gd_narrow(&part, r, dim, at, ts[i]->sizes[dim]);
        if (!st) st = gd_copy(part, ts[i]);
        gd_tensor_release(part);
        at += ts[i]->sizes[dim];
    }
    if (st) { gd_tensor_release(r); return st; }
    *out = r;
    return GD_OK;
}

int gd_cat(gd_tensor **out, gd_tensor *const *ts, int n, int dim)
{
    bool rec = n > 0 && gd_ag_begin_n(ts, n);
    int st = cat_untaped(out, ts, n, dim);
    if (!rec) return st;
    const int64_t ip[1] = {dim};
    return gd_ag_end(st, out, GD_AG_CAT, 0, n, (const gd_tensor *const *)ts, NULL, ip, 1);
}
