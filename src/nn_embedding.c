/*
 * nn_embedding.c: gd.nn.Embedding's forward (a row gather: the backend's
 * nn_gather_rows) and backward (a row scatter-add into the weight gradient:
 * nn_embedding_backward, src/cpu/nn.c and cuda/nn.cu), float32/float64; the
 * max_norm renormalisation (nn_embedding_renorm).  Indices
 * are 1-based, as everywhere in gdlua; padding_idx (1-based, 0 = none) gets no
 * gradient, as in PyTorch's embedding_backward.
 */
#include "internal.h"
#include "backend.h"

#include <math.h>
#include <stdlib.h>

/* Every index in 1..rows of w: checked from the indices' smallest and largest
   values on their device (gd_indices_out_of_range: two scalar readouts). */
static int emb_check(const gd_tensor *idx, const gd_tensor *w, const char *fn)
{
    GD_TRY(gd_check_tensor(idx, "indices"));
    GD_TRY(gd_check_tensor(w, "weight"));
    if (idx->scalar_type != GD_INT64)
        return gd_fail(GD_EINVAL, "%s: the indices must be int64, got %s", fn, gd_dtype_name(idx->scalar_type));
    if (!gd_is_float(w->scalar_type) || w->rank != 2)
        return gd_fail(GD_EINVAL, "%s: the weight must be a 2-D float tensor", fn);
    if (idx->device_kind != w->device_kind)
        return gd_fail(GD_EINVAL, "%s: the indices are on %s but the weight is on %s", fn,
                       gd_device_name(idx->device_kind), gd_device_name(w->device_kind));
    if (!idx->is_contiguous || !w->is_contiguous) return gd_fail(GD_EINVAL, "%s: the operands must be contiguous", fn);
    if (idx->rank + 1 > GD_MAX_DIMS) return gd_fail(GD_EINVAL, "%s: the indices have too many dimensions", fn);
    int64_t n = w->sizes[0], bad = 0, value = 0;
    int st = GD_OK;
    if (gd_indices_out_of_range(idx, 1, n, &bad, &value, &st))
        return gd_fail(GD_EINVAL, "%s: index %lld (at position %lld) is outside the embedding's 1..%lld", fn,
                       (long long)value, (long long)bad + 1, (long long)n);
    return st;
}

static int check_out(const gd_tensor *y, const gd_tensor *idx, const gd_tensor *w, const char *fn, const char *what)
{
    GD_TRY(gd_check_tensor(y, what));
    bool ok = y->scalar_type == w->scalar_type && y->device_kind == w->device_kind && y->is_contiguous &&
              y->rank == idx->rank + 1 && y->sizes[idx->rank] == w->sizes[1];
    for (int d = 0; ok && d < idx->rank; d++) ok = y->sizes[d] == idx->sizes[d];
    if (!ok) {
        char s[128];
        return gd_fail(GD_EINVAL, "%s: the %s has shape %s, expected the indices' shape x %lld (contiguous, %s, on %s)",
                       fn, what, gd_shape_str(y, s, sizeof s), (long long)w->sizes[1], gd_dtype_name(w->scalar_type),
                       gd_device_name(w->device_kind));
    }
    return GD_OK;
}

int gd_nn_embedding_forward(gd_tensor *y, const gd_tensor *idx, const gd_tensor *w)
{
    const char *fn = "embedding";
    GD_TRY(emb_check(idx, w, fn));
    GD_TRY(check_out(y, idx, w, fn, "output"));
    const gd_backend *be = gd_backend_of(w->device_kind);
    if (!be) return GD_EDEVICE;
    return GD_BACKEND_CALL(be, fn, nn_gather_rows(y->data, w->data, (const int64_t *)idx->data, 1, idx->count,
                                                  w->sizes[1] * (int64_t)gd_dtype_size(w->scalar_type)));
}

int gd_nn_embedding_backward(gd_tensor *gw, const gd_tensor *gy, const gd_tensor *idx, int64_t padding_idx,
                             int scale_grad_by_freq)
{
    const char *fn = "embedding backward";
    GD_TRY(emb_check(idx, gw, fn));
    GD_TRY(check_out(gy, idx, gw, fn, "output gradient"));
    const gd_backend *be = gd_backend_of(gw->device_kind);
    if (!be) return GD_EDEVICE;
    return GD_BACKEND_CALL(be, fn, nn_embedding_backward(gw->scalar_type, gw->data, gy->data, (const int64_t *)idx->data,
                                                         idx->count, gw->sizes[0], gw->sizes[1], padding_idx,
                                                         scale_grad_by_freq));
}

/* PyTorch's embedding_renorm_ (the backend's nn_embedding_renorm): every
   row of w that idx refers to whose norm_type-norm exceeds max_norm is
   scaled by max_norm / (norm + 1e-7), in place (a repeated index is
   renormalised once). */
int gd_nn_embedding_renorm(gd_tensor *w, const gd_tensor *idx, double max_norm, double norm_type)
{
    const char *fn = "embedding_renorm";
    if (!(max_norm >= 0)) return gd_fail(GD_EINVAL, "%s: max_norm must be >= 0, got %g", fn, max_norm);
    if (!(norm_type > 0)) return gd_fail(GD_EINVAL, "%s: norm_type must be > 0, got %g", fn, norm_type);
    GD_TRY(emb_check(idx, w, fn));
    if (idx->count == 0 || w->sizes[1] == 0) return GD_OK;
    const gd_backend *be = gd_backend_of(w->device_kind);
    if (!be) return GD_EDEVICE;
    return GD_BACKEND_CALL(be, fn, nn_embedding_renorm(w->scalar_type, w->data, (const int64_t *)idx->data,
                                                       idx->count, w->sizes[0], w->sizes[1], max_norm, norm_type));
}
