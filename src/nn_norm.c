/*
 * nn_norm.c: batch normalisation (gd.nn.BatchNorm1d/2d): checks, then the
 * device's backend (nn_batchnorm: src/cpu/norm.c, cuda/norm.cu); layer and
 * group norm likewise (nn_rownorm).
 *
 * x is N x C x L (L = H*W for 2-D, 1 for N x C input), viewed as C channels of
 * N*L values each.  Statistics are summed in double, per channel in a fixed
 * order, so results do not depend on the thread count.
 */
#include "internal.h"
#include "backend.h"

#include <math.h>

/* const gd_backend *be = the backend of t's device, or return its error */
#define BACKEND(be, t)                                                                          \
    const gd_backend *be = gd_backend_of((t)->device_kind);                                     \
    if (!be) return GD_EDEVICE

static int bn_check(const gd_tensor *t, const char *what, int dtype, int device, int64_t n)
{
    GD_TRY(gd_check_tensor(t, what));
    if (t->scalar_type != dtype)
        return gd_fail(GD_EINVAL, "batch_norm: the %s is %s but the input is %s", what, gd_dtype_name(t->scalar_type),
                       gd_dtype_name(dtype));
    if (t->device_kind != device)
        return gd_fail(GD_EINVAL, "batch_norm: the %s is on %s but the input is on %s", what,
                       gd_device_name(t->device_kind), gd_device_name(device));
    if (!t->is_contiguous || t->count != n) {
        char s[128];
        return gd_fail(GD_EINVAL, "batch_norm: the %s has shape %s, expected %lld contiguous elements", what,
                       gd_shape_str(t, s, sizeof s), (long long)n);
    }
    return GD_OK;
}

/* N, C, L of x (2-D N x C, 3-D N x C x L, 4-D N x C x H x W). */
static int bn_dims(const gd_tensor *x, int64_t *N, int64_t *Cc, int64_t *L)
{
    GD_TRY(gd_check_tensor(x, "input"));
    char s[128];
    if (!gd_is_float(x->scalar_type))
        return gd_fail(GD_EINVAL, "batch_norm: the input must be float32 or float64, got %s", gd_dtype_name(x->scalar_type));
    if (x->rank < 2 || x->rank > 4)
        return gd_fail(GD_EINVAL, "batch_norm: the input must be 2-D to 4-D (batch x channels x ...), got shape %s",
                       gd_shape_str(x, s, sizeof s));
    if (!x->is_contiguous) return gd_fail(GD_EINVAL, "batch_norm: the input must be contiguous");
    *N = x->sizes[0];
    *Cc = x->sizes[1];
    *L = 1;
    for (int d = 2; d < x->rank; d++) *L *= x->sizes[d];
    return GD_OK;
}

int gd_nn_batchnorm_forward(gd_tensor *y, gd_tensor *save_mean, gd_tensor *save_invstd, gd_tensor *rmean,
                            gd_tensor *rvar, const gd_tensor *x, const gd_tensor *w, const gd_tensor *b,
                            double momentum, double eps, int training)
{
    int64_t N = 0, Cc = 0, L = 0;
    GD_TRY(bn_dims(x, &N, &Cc, &L));
    int dt = x->scalar_type;
    GD_TRY(bn_check(y, "output", dt, x->device_kind, x->count));
    for (int d = 0; d < x->rank; d++)
        if (y->rank != x->rank || y->sizes[d] != x->sizes[d])
            return gd_fail(GD_EINVAL, "batch_norm: the output's shape differs from the input's");
    GD_TRY(bn_check(save_mean, "saved mean", dt, x->device_kind, Cc));
    GD_TRY(bn_check(save_invstd, "saved inverse deviation", dt, x->device_kind, Cc));
    if (w) GD_TRY(bn_check(w, "weight", dt, x->device_kind, Cc));
    if (b) GD_TRY(bn_check(b, "bias", dt, x->device_kind, Cc));
    if ((rmean == NULL) != (rvar == NULL)) return gd_fail(GD_EINVAL, "batch_norm: give both running statistics or neither");
    if (rmean) {
        GD_TRY(bn_check(rmean, "running mean", dt, x->device_kind, Cc));
        GD_TRY(bn_check(rvar, "running variance", dt, x->device_kind, Cc));
    }
    if (!(eps >= 0) || !(momentum >= 0 && momentum <= 1))
        return gd_fail(GD_EINVAL, "batch_norm: eps must be >= 0 and momentum in [0, 1]");
    int use_batch = training || rmean == NULL;
    int64_t M = N * L;
    if (use_batch && M < 2 && training) {
        char s[128];
        /* PyTorch: "Expected more than 1 value per channel when training" */
        return gd_fail(GD_EINVAL, "batch_norm: expected more than 1 value per channel when training, got input %s",
                       gd_shape_str(x, s, sizeof s));
    }
    if (use_batch && M < 1) return gd_fail(GD_EINVAL, "batch_norm: the input is empty");
    BACKEND(be, x);
    return GD_BACKEND_CALL(be, "batch_norm",
                           nn_batchnorm(dt, y->data, save_mean->data, save_invstd->data, rmean ? rmean->data : NULL,
                                        rvar ? rvar->data : NULL, x->data, w ? w->data : NULL, b ? b->data : NULL, N,
                                        Cc, L, momentum, eps, training));
}

int gd_nn_batchnorm_backward(gd_tensor *gx, gd_tensor *gw, gd_tensor *gb, const gd_tensor *gy, const gd_tensor *x,
                             const gd_tensor *w, const gd_tensor *save_mean, const gd_tensor *save_invstd,
                             int batch_stats)
{
    int64_t N = 0, Cc = 0, L = 0;
    GD_TRY(bn_dims(x, &N, &Cc, &L));
    int dt = x->scalar_type;
    GD_TRY(bn_check(gy, "output gradient", dt, x->device_kind, x->count));
    for (int d = 0; d < x->rank; d++)
        if (gy->rank != x->rank || gy->sizes[d] != x->sizes[d])
            return gd_fail(GD_EINVAL, "batch_norm backward: the output gradient's shape differs from the input's");
    if (gx) GD_TRY(bn_check(gx, "input gradient", dt, x->device_kind, x->count));
    GD_TRY(bn_check(save_mean, "saved mean", dt, x->device_kind, Cc));
    GD_TRY(bn_check(save_invstd, "saved inverse deviation", dt, x->device_kind, Cc));
    if (w) GD_TRY(bn_check(w, "weight", dt, x->device_kind, Cc));
    if (gw) GD_TRY(bn_check(gw, "weight gradient", dt, x->device_kind, Cc));
    if (gb) GD_TRY(bn_check(gb, "bias gradient", dt, x->device_kind, Cc));
    BACKEND(be, x);
    return GD_BACKEND_CALL(be, "batch_norm backward",
                           nn_batchnorm_backward(dt, gx ? gx->data : NULL, gw ? gw->data : NULL, gb ? gb->data : NULL,
                                                 gy->data, x->data, w ? w->data : NULL, save_mean->data,
                                                 save_invstd->data, N, Cc, L, batch_stats));
}

/* --------------------------------------------------- layer and group norm */

/*
 * Both normalise rows of M contiguous values by their mean and biased
 * variance (PyTorch's layer_norm / group_norm, eps inside the square root):
 * LayerNorm's rows are the trailing normalized_shape (G = 1, span = 1: one
 * affine value per element); GroupNorm's are the C/G channels x L positions of
 * one group of one sample (span = L: one affine value per channel).  The
 * affine index of element p of row r is ((r mod G) M + p) / span.
 */
static int rownorm_check(const gd_tensor *x, int64_t M, int64_t G, int64_t span, const char *fn)
{
    GD_TRY(gd_check_tensor(x, "input"));
    if (!gd_is_float(x->scalar_type))
        return gd_fail(GD_EINVAL, "%s: the input must be float32 or float64, got %s", fn, gd_dtype_name(x->scalar_type));
    if (!x->is_contiguous) return gd_fail(GD_EINVAL, "%s: the input must be contiguous", fn);
    if (M < 1 || G < 1 || span < 1 || M % span != 0 || x->count % M != 0 || (x->count / M) % G != 0)
        return gd_fail(GD_EINVAL, "%s: rows of %lld do not divide the input's %lld elements", fn, (long long)M,
                       (long long)x->count);
    return GD_OK;
}

/* an operand of n contiguous values of the input's dtype, on its device */
static int rownorm_vec(const gd_tensor *t, const gd_tensor *x, const char *fn, const char *what, int64_t n)
{
    GD_TRY(gd_check_tensor(t, what));
    if (t->device_kind != x->device_kind)
        return gd_fail(GD_EINVAL, "%s: the %s is on %s but the input is on %s", fn, what,
                       gd_device_name(t->device_kind), gd_device_name(x->device_kind));
    if (t->scalar_type != x->scalar_type || !t->is_contiguous || t->count != n) {
        char s[128];
        return gd_fail(GD_EINVAL, "%s: the %s has shape %s (%s), expected %lld contiguous %s values", fn, what,
                       gd_shape_str(t, s, sizeof s), gd_dtype_name(t->scalar_type), (long long)n,
                       gd_dtype_name(x->scalar_type));
    }
    return GD_OK;
}

int gd_nn_rownorm_forward(gd_tensor *y, gd_tensor *save_mean, gd_tensor *save_rstd, const gd_tensor *x,
                          const gd_tensor *w, const gd_tensor *b, int64_t M, int64_t G, int64_t span, double eps)
{
    const char *fn = G > 1 || span > 1 ? "group_norm" : "layer_norm";
    GD_TRY(rownorm_check(x, M, G, span, fn));
    int64_t rows = x->count / M, na = G * M / span;
    GD_TRY(rownorm_vec(y, x, fn, "output", x->count));
    GD_TRY(rownorm_vec(save_mean, x, fn, "saved mean", rows));
    GD_TRY(rownorm_vec(save_rstd, x, fn, "saved inverse deviation", rows));
    if (w) GD_TRY(rownorm_vec(w, x, fn, "weight", na));
    if (b) GD_TRY(rownorm_vec(b, x, fn, "bias", na));
    if (!(eps >= 0)) return gd_fail(GD_EINVAL, "%s: eps must be >= 0", fn);
    if (rows == 0) return GD_OK;
    BACKEND(be, x);
    return GD_BACKEND_CALL(be, fn, nn_rownorm(x->scalar_type, y->data, save_mean->data, save_rstd->data, x->data,
                                              w ? w->data : NULL, b ? b->data : NULL, rows, M, G, span, eps));
}

int gd_nn_rownorm_backward(gd_tensor *gx, gd_tensor *gw, gd_tensor *gb, const gd_tensor *gy, const gd_tensor *x,
                           const gd_tensor *w, const gd_tensor *save_mean, const gd_tensor *save_rstd, int64_t M,
                           int64_t G, int64_t span)
{
    const char *fn = G > 1 || span > 1 ? "group_norm backward" : "layer_norm backward";
    GD_TRY(rownorm_check(x, M, G, span, fn));
    int64_t rows = x->count / M, na = G * M / span;
    GD_TRY(rownorm_vec(gy, x, fn, "output gradient", x->count));
    if (gx) GD_TRY(rownorm_vec(gx, x, fn, "input gradient", x->count));
    GD_TRY(rownorm_vec(save_mean, x, fn, "saved mean", rows));
    GD_TRY(rownorm_vec(save_rstd, x, fn, "saved inverse deviation", rows));
    if (w) GD_TRY(rownorm_vec(w, x, fn, "weight", na));
    if (gw) GD_TRY(rownorm_vec(gw, x, fn, "weight gradient", na));
    if (gb) GD_TRY(rownorm_vec(gb, x, fn, "bias gradient", na));
    if (rows == 0) return GD_OK;
    BACKEND(be, x);
    return GD_BACKEND_CALL(be, fn, nn_rownorm_backward(x->scalar_type, gx ? gx->data : NULL, gw ? gw->data : NULL,
                                                       gb ? gb->data : NULL, gy->data, x->data, w ? w->data : NULL,
                                                       save_mean->data, save_rstd->data, rows, M, G, span));
}
