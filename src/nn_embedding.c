/*
 * nn_embedding.c: gd.nn.Embedding's forward (a row gather) and backward (a
 * row scatter-add into the weight gradient), CPU, float32/float64.  Indices
 * are 1-based, as everywhere in gdlua; padding_idx (1-based, 0 = none) gets no
 * gradient, as in PyTorch's embedding_backward.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>

static int emb_check(const gd_tensor *idx, const gd_tensor *w, const char *fn)
{
    GD_TRY(gd_check_tensor(idx, "indices"));
    GD_TRY(gd_check_tensor(w, "weight"));
    if (idx->scalar_type != GD_INT64)
        return gd_fail(GD_EINVAL, "%s: the indices must be int64, got %s", fn, gd_dtype_name(idx->scalar_type));
    if (!gd_is_float(w->scalar_type) || w->rank != 2)
        return gd_fail(GD_EINVAL, "%s: the weight must be a 2-D float tensor", fn);
    if (idx->device_kind != GD_CPU || w->device_kind != GD_CPU)
        return gd_fail(GD_EINVAL, "%s: CUDA tensors have no embedding kernel yet: move them with :to('cpu')", fn);
    if (!idx->is_contiguous || !w->is_contiguous) return gd_fail(GD_EINVAL, "%s: the operands must be contiguous", fn);
    if (idx->rank + 1 > GD_MAX_DIMS) return gd_fail(GD_EINVAL, "%s: the indices have too many dimensions", fn);
    const int64_t *ix = (const int64_t *)idx->data;
    int64_t n = w->sizes[0];
    for (int64_t i = 0; i < idx->count; i++)
        if (ix[i] < 1 || ix[i] > n)
            return gd_fail(GD_EINVAL, "%s: index %lld (at position %lld) is outside the embedding's 1..%lld", fn,
                           (long long)ix[i], (long long)i + 1, (long long)n);
    return GD_OK;
}

static int check_out(const gd_tensor *y, const gd_tensor *idx, const gd_tensor *w, const char *fn, const char *what)
{
    GD_TRY(gd_check_tensor(y, what));
    bool ok = y->scalar_type == w->scalar_type && y->device_kind == GD_CPU && y->is_contiguous &&
              y->rank == idx->rank + 1 && y->sizes[idx->rank] == w->sizes[1];
    for (int d = 0; ok && d < idx->rank; d++) ok = y->sizes[d] == idx->sizes[d];
    if (!ok) {
        char s[128];
        return gd_fail(GD_EINVAL, "%s: the %s has shape %s, expected the indices' shape x %lld (contiguous, %s)", fn,
                       what, gd_shape_str(y, s, sizeof s), (long long)w->sizes[1], gd_dtype_name(w->scalar_type));
    }
    return GD_OK;
}

int gd_nn_embedding_forward(gd_tensor *y, const gd_tensor *idx, const gd_tensor *w)
{
    const char *fn = "embedding";
    GD_TRY(emb_check(idx, w, fn));
    GD_TRY(check_out(y, idx, w, fn, "output"));
    size_t row = (size_t)w->sizes[1] * gd_dtype_size(w->scalar_type);
    const int64_t *ix = (const int64_t *)idx->data;
    for (int64_t i = 0; i < idx->count; i++)
        memcpy((char *)y->data + (size_t)i * row, (const char *)w->data + (size_t)(ix[i] - 1) * row, row);
    return GD_OK;
}

/* freq: NULL, or how often each row occurs in idx (scale_grad_by_freq:
   each occurrence's gradient is divided by its row's count, PyTorch's
   embedding_dense_backward) */
#define EMB_BACK(T)                                                                            \
    do {                                                                                       \
        T *G = (T *)gw->data;                                                                  \
        const T *GY = (const T *)gy->data;                                                     \
        for (int64_t i = 0; i < idx->count; i++) {                                             \
            if (ix[i] == padding_idx) continue;                                                \
            T *r = G + (ix[i] - 1) * D;                                                        \
            const T *g = GY + i * D;                                                           \
            if (freq) {                                                                        \
                T k = (T)(1.0 / (double)freq[ix[i] - 1]);                                      \
                for (int64_t j = 0; j < D; j++) r[j] += g[j] * k;                              \
            } else {                                                                           \
                for (int64_t j = 0; j < D; j++) r[j] += g[j];                                  \
            }                                                                                  \
        }                                                                                      \
    } while (0)

int gd_nn_embedding_backward(gd_tensor *gw, const gd_tensor *gy, const gd_tensor *idx, int64_t padding_idx,
                             int scale_grad_by_freq)
{
    const char *fn = "embedding backward";
    GD_TRY(emb_check(idx, gw, fn));
    GD_TRY(check_out(gy, idx, gw, fn, "output gradient"));
    const int64_t *ix = (const int64_t *)idx->data;
    int64_t D = gw->sizes[1];
    int64_t *freq = NULL;
    if (scale_grad_by_freq) {
        freq = calloc((size_t)gw->sizes[0], sizeof *freq);
        if (!freq) return gd_fail(GD_ENOMEM, "%s: out of memory for %lld counts", fn, (long long)gw->sizes[0]);
        for (int64_t i = 0; i < idx->count; i++) freq[ix[i] - 1]++;
    }
    if (gw->scalar_type == GD_FLOAT32) EMB_BACK(float);
    else EMB_BACK(double);
    free(freq);
    return GD_OK;
}

/* PyTorch's embedding_renorm_: every row of w that idx refers to whose
   norm_type-norm exceeds max_norm is scaled by max_norm / (norm + 1e-7), in
   place (a repeated index is renormalised once: the second time its norm no
   longer exceeds max_norm). */
#define EMB_RENORM(T)                                                                          \
    do {                                                                                       \
        T *W = (T *)w->data;                                                                   \
        for (int64_t i = 0; i < idx->count; i++) {                                             \
            T *r = W + (ix[i] - 1) * D;                                                        \
            double s = 0;                                                                      \
            for (int64_t j = 0; j < D; j++) {                                                  \
                double a = fabs((double)r[j]);                                                 \
                s += norm_type == 2 ? a * a : norm_type == 1 ? a : pow(a, norm_type);          \
            }                                                                                  \
            double norm = norm_type == 2 ? sqrt(s) : norm_type == 1 ? s : pow(s, 1.0 / norm_type); \
            if (norm > max_norm) {                                                             \
                double k = max_norm / (norm + 1e-7);                                           \
                for (int64_t j = 0; j < D; j++) r[j] = (T)((double)r[j] * k);                  \
            }                                                                                  \
        }                                                                                      \
    } while (0)

int gd_nn_embedding_renorm(gd_tensor *w, const gd_tensor *idx, double max_norm, double norm_type)
{
    const char *fn = "embedding_renorm";
    GD_TRY(emb_check(idx, w, fn));
    if (!(max_norm >= 0)) return gd_fail(GD_EINVAL, "%s: max_norm must be >= 0, got %g", fn, max_norm);
    if (!(norm_type > 0)) return gd_fail(GD_EINVAL, "%s: norm_type must be > 0, got %g", fn, norm_type);
    const int64_t *ix = (const int64_t *)idx->data;
    int64_t D = w->sizes[1];
    if (w->scalar_type == GD_FLOAT32) EMB_RENORM(float);
    else EMB_RENORM(double);
    return GD_OK;
}
