/*
 * nn.c: the fused kernels behind gd.nn's layers and losses (declared in the
 * "neural-network kernels" section of gd.h): argument checks, shapes, the
 * index checks of targets and gathers, and the layout the backends want
 * (contiguous operands of one float dtype on one device); the loops are the
 * backend's (src/cpu/nn.c, cuda/nn.cu; math in src/kernels/nn.h).
 *
 * Every function writes into outputs the caller preallocated and reuses, so a
 * training step allocates nothing when its operands are contiguous.  Strided
 * operands go through contiguous copies on their own device (never through
 * the host).
 *
 * Shapes: B = rows (a batch), F = features, C = classes.
 */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "backend.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

/* ------------------------------------------------------------ checking */

static bool dense(const gd_tensor *t) { return t == NULL || t->is_contiguous; }

/* The backend of t's device (the caller has checked that every operand shares it). */
#define BACKEND_OF(t, b)                                                                     \
    const gd_backend *b = gd_backend_of((t)->device_kind);                                   \
    if (!b) return GD_EDEVICE

static int check_float(const gd_tensor *t, const char *fname, const char *what)
{
    GD_TRY(gd_check_tensor(t, what));
    if (!gd_is_float(t->scalar_type))
        return gd_fail(GD_EINVAL, "%s: the %s must be float32 or float64, got %s", fname, what,
                       gd_dtype_name(t->scalar_type));
    return GD_OK;
}

static int check_same_dtype(const gd_tensor *a, const gd_tensor *b, const char *fname, const char *wa,
                            const char *wb)
{
    if (a->scalar_type != b->scalar_type)
        return gd_fail(GD_EINVAL, "%s: dtypes differ (%s %s, %s %s)", fname, wa, gd_dtype_name(a->scalar_type), wb,
                       gd_dtype_name(b->scalar_type));
    return gd_check_same_device(a, b);
}

static bool same_shape(const gd_tensor *a, const gd_tensor *b)
{
    if (a->rank != b->rank) return false;
    for (int d = 0; d < a->rank; d++)
        if (a->sizes[d] != b->sizes[d]) return false;
    return true;
}

static int check_same_shape(const gd_tensor *a, const gd_tensor *b, const char *fname, const char *wa,
                            const char *wb)
{
    if (same_shape(a, b)) return GD_OK;
    char sa[128], sb[128];
    return gd_fail(GD_EINVAL, "%s: the %s has shape %s but the %s has shape %s", fname, wa,
                   gd_shape_str(a, sa, sizeof sa), wb, gd_shape_str(b, sb, sizeof sb));
}

/* The operands of an element-wise backward: gx (written) and gy, both of
   ref's shape, dtype and device, all float; checked in this order, so the
   first problem named is the same for every such entry point. */
static int check_backward3(const char *fn, const gd_tensor *gx, const gd_tensor *gy, const gd_tensor *ref,
                           const char *ref_what)
{
    GD_TRY(check_float(gx, fn, "input gradient"));
    GD_TRY(check_float(gy, fn, "output gradient"));
    GD_TRY(check_float(ref, fn, ref_what));
    GD_TRY(check_same_shape(gy, ref, fn, "output gradient", ref_what));
    GD_TRY(check_same_shape(gx, ref, fn, "input gradient", ref_what));
    GD_TRY(check_same_dtype(gy, ref, fn, "output gradient", ref_what));
    return check_same_dtype(gx, ref, fn, "input gradient", ref_what);
}


/* ------------------------------------------------------------ staging */

/* A contiguous tensor with t's values on t's device: t itself (retained) or a
   copy.  NULL stays NULL. */
static int stage(gd_tensor **out, const gd_tensor *t)
{
    *out = NULL;
    if (t == NULL) return GD_OK;
    if (dense(t)) {
        gd_tensor_retain((gd_tensor *)t);
        *out = (gd_tensor *)t;
        return GD_OK;
    }
    return gd_clone(out, t);
}

/* Writes a staged output back to where it belongs (nothing when it is t). */
static int unstage(gd_tensor *t, const gd_tensor *staged)
{
    if (t == NULL || t == staged) return GD_OK;
    return gd_copy(t, staged);
}

/* A kernel's arguments staged together: outputs first, so that `finish` can
   copy the first nout back before releasing every stand-in. */
enum { STAGE_MAX = 4 };
typedef struct {
    gd_tensor *orig[STAGE_MAX];
    gd_tensor *copy[STAGE_MAX];
    int n;
} staging;

static int stage_all(staging *s, int n, gd_tensor *const *ts)
{
    s->n = n;
    for (int k = 0; k < n; k++) { s->orig[k] = ts[k]; s->copy[k] = NULL; }
    for (int k = 0; k < n; k++) GD_TRY(stage(&s->copy[k], ts[k]));
    return GD_OK;
}

/* Copies the first nout stand-ins back when st is 0, releases them all; st. */
static int unstage_all(staging *s, int st, int nout)
{
    for (int k = 0; k < nout && !st; k++) st = unstage(s->orig[k], s->copy[k]);
    for (int k = 0; k < s->n; k++) gd_tensor_release(s->copy[k]);
    return st;
}

/* --------------------------------------------------------------- linear */

int gd_nn_linear_forward(gd_tensor *y, const gd_tensor *x, const gd_tensor *w, const gd_tensor *b)
{
    const char *fn = "linear";
    GD_TRY(check_float(x, fn, "input"));
    GD_TRY(check_float(y, fn, "output"));
    GD_TRY(check_float(w, fn, "weight"));
    char s1[128], s2[128];
    if (x->rank != 2)
        return gd_fail(GD_EINVAL, "%s: the input must be 2-D (rows x features), got shape %s", fn,
                       gd_shape_str(x, s1, sizeof s1));
    if (w->rank != 2) return gd_fail(GD_EINVAL, "%s: the weight must be 2-D (out x in)", fn);
    if (x->sizes[1] != w->sizes[1])
        return gd_fail(GD_EINVAL, "%s: the input has %lld features but the layer takes %lld (input %s, weight %s)", fn,
                       (long long)x->sizes[1], (long long)w->sizes[1], gd_shape_str(x, s1, sizeof s1),
                       gd_shape_str(w, s2, sizeof s2));
    if (y->rank != 2 || y->sizes[0] != x->sizes[0] || y->sizes[1] != w->sizes[0])
        return gd_fail(GD_EINVAL, "%s: the output has shape %s, expected %lldx%lld", fn,
                       gd_shape_str(y, s1, sizeof s1), (long long)x->sizes[0], (long long)w->sizes[0]);
    GD_TRY(check_same_dtype(x, w, fn, "input", "weight"));
    GD_TRY(check_same_dtype(y, w, fn, "output", "weight"));
    if (b) {
        GD_TRY(check_float(b, fn, "bias"));
        GD_TRY(check_same_dtype(b, w, fn, "bias", "weight"));
        if (b->rank != 1 || b->sizes[0] != w->sizes[0])
            return gd_fail(GD_EINVAL, "%s: the bias has shape %s, expected %lld", fn, gd_shape_str(b, s1, sizeof s1),
                           (long long)w->sizes[0]);
        /* y = b in every row, then gemm with beta = 1 adds x @ w^T: when y
           shares memory with an operand (a layer fed its own output), the
           bias would overwrite the input before gemm reads it, so the
           result goes through a temporary */
        if (gd_same_storage(y, x) || gd_same_storage(y, w) || gd_same_storage(y, b)) {
            gd_tensor *tmp = NULL;
            int st = gd_empty(&tmp, y->rank, y->sizes, y->scalar_type, y->device_kind);
            if (!st) st = gd_nn_linear_forward(tmp, x, w, b);
            if (!st) st = gd_copy(y, tmp);
            gd_tensor_release(tmp);
            return st;
        }
        if (dense(y) && dense(b)) {
            BACKEND_OF(y, be);
            GD_TRY(GD_BACKEND_CALL(be, fn, nn_bias_rows(y->data, b->data, y->sizes[0], y->sizes[1], y->scalar_type)));
        } else {
            GD_TRY(gd_copy(y, b));
        }
    }
    return gd_gemm(y, x, 0, w, 1, 1.0, b ? 1.0 : 0.0);
}

int gd_nn_linear_backward(gd_tensor *gx, gd_tensor *gw, gd_tensor *gb, const gd_tensor *gy, const gd_tensor *x,
                          const gd_tensor *w)
{
    const char *fn = "linear backward";
    GD_TRY(check_float(gy, fn, "output gradient"));
    GD_TRY(check_float(x, fn, "input"));
    GD_TRY(check_float(w, fn, "weight"));
    char s1[128];
    if (gy->rank != 2 || x->rank != 2 || w->rank != 2 || gy->sizes[0] != x->sizes[0] ||
        gy->sizes[1] != w->sizes[0] || x->sizes[1] != w->sizes[1])
        return gd_fail(GD_EINVAL, "%s: the output gradient has shape %s, expected %lldx%lld", fn,
                       gd_shape_str(gy, s1, sizeof s1), (long long)x->sizes[0], (long long)w->sizes[0]);
    GD_TRY(check_same_dtype(gy, w, fn, "output gradient", "weight"));
    GD_TRY(check_same_dtype(x, w, fn, "input", "weight"));
    if (gw) {
        GD_TRY(check_same_shape(gw, w, fn, "weight gradient", "weight"));
        GD_TRY(gd_gemm(gw, gy, 1, x, 0, 1.0, 1.0));
    }
    if (gb) {
        GD_TRY(check_float(gb, fn, "bias gradient"));
        GD_TRY(check_same_dtype(gb, w, fn, "bias gradient", "weight"));
        GD_TRY(gd_check_same_device(gb, gy));
        if (gb->rank != 1 || gb->sizes[0] != w->sizes[0])
            return gd_fail(GD_EINVAL, "%s: the bias gradient has shape %s, expected %lld", fn,
                           gd_shape_str(gb, s1, sizeof s1), (long long)w->sizes[0]);
        if (dense(gb) && dense(gy)) {
            BACKEND_OF(gy, be);
            GD_TRY(GD_BACKEND_CALL(be, fn, nn_bias_grad(gb->data, gy->data, gy->sizes[0], gy->sizes[1],
                                                        gy->scalar_type)));
        } else {
            gd_tensor *s = NULL;
            GD_TRY(gd_reduce_dim(&s, NULL, gy, 0, GD_RED_SUM, 0, 0));
            int st = gd_add_scaled_(gb, s, 1.0);
            gd_tensor_release(s);
            GD_TRY(st);
        }
    }
    if (gx) {
        if (gx->rank != 2 || gx->sizes[0] != x->sizes[0] || gx->sizes[1] != x->sizes[1])
            return gd_fail(GD_EINVAL, "%s: the input gradient has shape %s, expected the input's", fn,
                           gd_shape_str(gx, s1, sizeof s1));
        GD_TRY(gd_gemm(gx, gy, 0, w, 0, 1.0, 0.0));
    }
    return GD_OK;
}

/* ---------------------------------------------------------- activations */

static const char *activation_name(int kind)
{
    static const char *names[GD_NN_ACTIVATION_COUNT] = {"relu", "tanh", "sigmoid"};
    return kind >= 0 && kind < GD_NN_ACTIVATION_COUNT ? names[kind] : "activation";
}

int gd_nn_activation(gd_tensor *y, const gd_tensor *x, int kind)
{
    if (kind < 0 || kind >= GD_NN_ACTIVATION_COUNT) return gd_fail(GD_EINVAL, "unknown activation %d", kind);
    const char *fn = activation_name(kind);
    GD_TRY(check_float(x, fn, "input"));
    GD_TRY(check_float(y, fn, "output"));
    GD_TRY(check_same_shape(y, x, fn, "output", "input"));
    GD_TRY(check_same_dtype(y, x, fn, "output", "input"));
    if (!dense(y) || !dense(x)) {
        staging s;
        gd_tensor *args[2] = {y, (gd_tensor *)x};
        int st = stage_all(&s, 2, args);
        if (!st) st = gd_nn_activation(s.copy[0], s.copy[1], kind);
        return unstage_all(&s, st, 1);
    }
    BACKEND_OF(x, b);
    return GD_BACKEND_CALL(b, fn, nn_activation(y->data, x->data, y->count, y->scalar_type, kind));
}

int gd_nn_activation_backward(gd_tensor *gx, const gd_tensor *gy, const gd_tensor *y, int kind)
{
    if (kind < 0 || kind >= GD_NN_ACTIVATION_COUNT) return gd_fail(GD_EINVAL, "unknown activation %d", kind);
    const char *fn = activation_name(kind);
    GD_TRY(check_backward3(fn, gx, gy, y, "output"));
    if (!dense(gx) || !dense(gy) || !dense(y)) {
        staging s;
        gd_tensor *args[3] = {gx, (gd_tensor *)gy, (gd_tensor *)y};
        int st = stage_all(&s, 3, args);
        if (!st) st = gd_nn_activation_backward(s.copy[0], s.copy[1], s.copy[2], kind);
        return unstage_all(&s, st, 1);
    }
    BACKEND_OF(y, b);
    return GD_BACKEND_CALL(b, fn, nn_activation_backward(gx->data, gy->data, y->data, gx->count, gx->scalar_type,
                                                         kind));
}

/* -------------------------------------------------------------- softmax */

int gd_nn_softmax(gd_tensor *y, const gd_tensor *x, int log_)
{
    const char *fn = log_ ? "log_softmax" : "softmax";
    GD_TRY(check_float(x, fn, "input"));
    GD_TRY(check_float(y, fn, "output"));
    GD_TRY(check_same_shape(y, x, fn, "output", "input"));
    GD_TRY(check_same_dtype(y, x, fn, "output", "input"));
    if (x->rank == 0) return gd_fail(GD_EINVAL, "%s: the input has no dimensions", fn);
    if (!dense(y) || !dense(x)) {
        staging s;
        gd_tensor *args[2] = {y, (gd_tensor *)x};
        int st = stage_all(&s, 2, args);
        if (!st) st = gd_nn_softmax(s.copy[0], s.copy[1], log_);
        return unstage_all(&s, st, 1);
    }
    int64_t n = x->sizes[x->rank - 1];
    if (n == 0 || x->count == 0) return GD_OK;
    BACKEND_OF(x, b);
    return GD_BACKEND_CALL(b, fn, nn_softmax(y->data, x->data, x->count / n, n, x->scalar_type, log_));
}

int gd_nn_softmax_backward(gd_tensor *gx, const gd_tensor *gy, const gd_tensor *y, int log_)
{
    const char *fn = log_ ? "log_softmax backward" : "softmax backward";
    GD_TRY(check_backward3(fn, gx, gy, y, "output"));
    if (y->rank == 0) return gd_fail(GD_EINVAL, "%s: the output has no dimensions", fn);
    if (!dense(gx) || !dense(gy) || !dense(y)) {
        staging s;
        gd_tensor *args[3] = {gx, (gd_tensor *)gy, (gd_tensor *)y};
        int st = stage_all(&s, 3, args);
        if (!st) st = gd_nn_softmax_backward(s.copy[0], s.copy[1], s.copy[2], log_);
        return unstage_all(&s, st, 1);
    }
    int64_t n = y->sizes[y->rank - 1];
    if (n == 0 || y->count == 0) return GD_OK;
    BACKEND_OF(y, b);
    return GD_BACKEND_CALL(b, fn, nn_softmax_backward(gx->data, gy->data, y->data, y->count / n, n, y->scalar_type,
                                                      log_));
}

/* --------------------------------------------------------------- losses */

static int check_reduction(int reduction, const char *fn)
{
    if (reduction < 0 || reduction >= GD_NN_REDUCTION_COUNT)
        return gd_fail(GD_EINVAL, "%s: unknown reduction %d", fn, reduction);
    return GD_OK;
}

int gd_nn_cross_entropy(double *loss, gd_tensor *losses, gd_tensor *grad, const gd_tensor *logits,
                        const gd_tensor *target, int64_t index_base, int reduction, double scale)
{
    const char *fn = "cross_entropy";
    GD_TRY(check_reduction(reduction, fn));
    GD_TRY(check_float(logits, fn, "input"));
    GD_TRY(gd_check_tensor(target, "target"));
    char s1[128], s2[128];
    if (logits->rank != 2)
        return gd_fail(GD_EINVAL, "%s: the input must be 2-D (rows x classes), got shape %s", fn,
                       gd_shape_str(logits, s1, sizeof s1));
    if (target->scalar_type != GD_INT64)
        return gd_fail(GD_EINVAL, "%s: the target must hold int64 class indices, got %s", fn,
                       gd_dtype_name(target->scalar_type));
    if (target->rank != 1 || target->sizes[0] != logits->sizes[0])
        return gd_fail(GD_EINVAL, "%s: the target has shape %s, expected %lld class indices (the input is %s)", fn,
                       gd_shape_str(target, s1, sizeof s1), (long long)logits->sizes[0],
                       gd_shape_str(logits, s2, sizeof s2));
    if (grad) {
        GD_TRY(check_float(grad, fn, "gradient"));
        GD_TRY(check_same_shape(grad, logits, fn, "gradient", "input"));
        GD_TRY(check_same_dtype(grad, logits, fn, "gradient", "input"));
    }
    if (losses) {
        GD_TRY(check_float(losses, fn, "losses"));
        GD_TRY(check_same_dtype(losses, logits, fn, "losses", "input"));
        if (losses->rank != 1 || losses->sizes[0] != logits->sizes[0])
            return gd_fail(GD_EINVAL, "%s: the losses have shape %s, expected %lld", fn,
                           gd_shape_str(losses, s1, sizeof s1), (long long)logits->sizes[0]);
    }
    GD_TRY(gd_check_same_device(target, logits));
    if (grad) GD_TRY(gd_check_same_device(grad, logits));
    if (losses) GD_TRY(gd_check_same_device(losses, logits));
    if (!dense(logits) || !dense(target) || !dense(grad) || !dense(losses)) {
        staging s;
        gd_tensor *args[4] = {grad, losses, (gd_tensor *)logits, (gd_tensor *)target};
        int st = stage_all(&s, 4, args);
        if (!st) st = gd_nn_cross_entropy(loss, s.copy[1], s.copy[0], s.copy[2], s.copy[3], index_base, reduction,
                                          scale);
        return unstage_all(&s, st, 2);
    }
    int64_t rows = logits->sizes[0], C = logits->sizes[1];
    int64_t bad = 0, value = 0;
    int st = GD_OK;
    if (gd_indices_out_of_range(target, index_base, C, &bad, &value, &st))
        return gd_fail(GD_EINVAL, "%s: target %lld (row %lld) is not a class in %lld..%lld", fn, (long long)value,
                       (long long)(bad + index_base), (long long)index_base, (long long)(C - 1 + index_base));
    GD_TRY(st);
    if (rows == 0) {
        *loss = reduction == GD_NN_MEAN ? NAN : 0.0;
        return GD_OK;
    }
    if (C == 0) return gd_fail(GD_EINVAL, "%s: the input has no classes", fn);
    double row_scale = reduction == GD_NN_MEAN ? scale / (double)rows : scale;
    BACKEND_OF(logits, b);
    return GD_BACKEND_CALL(b, fn, nn_cross_entropy(loss, losses ? losses->data : NULL, grad ? grad->data : NULL,
                                                   logits->data, target->data, index_base, rows, C, row_scale, scale,
                                                   logits->scalar_type));
}

int gd_nn_mse(double *loss, gd_tensor *losses, gd_tensor *grad, const gd_tensor *pred, const gd_tensor *target,
              int reduction, double scale)
{
    const char *fn = "mse";
    GD_TRY(check_reduction(reduction, fn));
    GD_TRY(check_float(pred, fn, "input"));
    GD_TRY(check_float(target, fn, "target"));
    GD_TRY(check_same_dtype(pred, target, fn, "input", "target"));
    char s1[128], s2[128];
    if (pred->count != target->count)
        return gd_fail(GD_EINVAL, "%s: the input (%s) and the target (%s) have different numbers of elements", fn,
                       gd_shape_str(pred, s1, sizeof s1), gd_shape_str(target, s2, sizeof s2));
    if (grad) {
        GD_TRY(check_float(grad, fn, "gradient"));
        GD_TRY(check_same_shape(grad, pred, fn, "gradient", "input"));
        GD_TRY(check_same_dtype(grad, pred, fn, "gradient", "input"));
    }
    if (losses) {
        GD_TRY(check_float(losses, fn, "losses"));
        GD_TRY(check_same_shape(losses, pred, fn, "losses", "input"));
        GD_TRY(check_same_dtype(losses, pred, fn, "losses", "input"));
    }
    if (grad) GD_TRY(gd_check_same_device(grad, pred));
    if (losses) GD_TRY(gd_check_same_device(losses, pred));
    if (!dense(pred) || !dense(target) || !dense(grad) || !dense(losses)) {
        staging s;
        gd_tensor *args[4] = {grad, losses, (gd_tensor *)pred, (gd_tensor *)target};
        int st = stage_all(&s, 4, args);
        if (!st) st = gd_nn_mse(loss, s.copy[1], s.copy[0], s.copy[2], s.copy[3], reduction, scale);
        return unstage_all(&s, st, 2);
    }
    int64_t n = pred->count;
    if (n == 0) {
        *loss = reduction == GD_NN_MEAN ? NAN : 0.0;
        return GD_OK;
    }
    double elem_scale = reduction == GD_NN_MEAN ? scale / (double)n : scale;
    BACKEND_OF(pred, b);
    return GD_BACKEND_CALL(b, fn, nn_mse(loss, losses ? losses->data : NULL, grad ? grad->data : NULL, pred->data,
                                         target->data, n, elem_scale, scale, pred->scalar_type));
}

/* -------------------------------------------------------------- dropout */

int gd_nn_dropout(gd_tensor *y, gd_tensor *mask, const gd_tensor *x, double p)
{
    const char *fn = "dropout";
    GD_TRY(check_float(x, fn, "input"));
    GD_TRY(check_float(y, fn, "output"));
    GD_TRY(check_float(mask, fn, "mask"));
    if (!(p >= 0 && p <= 1)) return gd_fail(GD_EINVAL, "%s: p = %g is not a probability in [0, 1]", fn, p);
    GD_TRY(check_same_shape(y, x, fn, "output", "input"));
    GD_TRY(check_same_shape(mask, x, fn, "mask", "input"));
    GD_TRY(check_same_dtype(y, x, fn, "output", "input"));
    GD_TRY(check_same_dtype(mask, x, fn, "mask", "input"));
    if (!dense(y) || !dense(mask) || !dense(x)) {
        staging s;
        gd_tensor *args[3] = {y, mask, (gd_tensor *)x};
        int st = stage_all(&s, 3, args);
        if (!st) st = gd_nn_dropout(s.copy[0], s.copy[1], s.copy[2], p);
        return unstage_all(&s, st, 2);
    }
    BACKEND_OF(x, b);
    return GD_BACKEND_CALL(b, fn, nn_dropout(y->data, mask->data, x->data, x->count, p, x->scalar_type));
}

int gd_nn_dropout_backward(gd_tensor *gx, const gd_tensor *gy, const gd_tensor *mask)
{
    const char *fn = "dropout backward";
    GD_TRY(check_backward3(fn, gx, gy, mask, "mask"));
    if (!dense(gx) || !dense(gy) || !dense(mask)) {
        staging s;
        gd_tensor *args[3] = {gx, (gd_tensor *)gy, (gd_tensor *)mask};
        int st = stage_all(&s, 3, args);
        if (!st) st = gd_nn_dropout_backward(s.copy[0], s.copy[1], s.copy[2]);
        return unstage_all(&s, st, 1);
    }
    BACKEND_OF(mask, b);
    return GD_BACKEND_CALL(b, fn, nn_dropout_backward(gx->data, gy->data, mask->data, gx->count, gx->scalar_type));
}

/* ----------------------------------------------------------------- data */

int gd_nn_gather_rows(gd_tensor *out, const gd_tensor *src, const gd_tensor *index, int64_t start,
                      int64_t index_base)
{
    const char *fn = "gather_rows";
    GD_TRY(gd_check_tensor(out, "output"));
    GD_TRY(gd_check_tensor(src, "source"));
    GD_TRY(gd_check_tensor(index, "index"));
    char s1[128], s2[128];
    if (index->scalar_type != GD_INT64 || index->rank != 1)
        return gd_fail(GD_EINVAL, "%s: the index must be a 1-D int64 tensor", fn);
    if (out->scalar_type != src->scalar_type)
        return gd_fail(GD_EINVAL, "%s: dtypes differ (output %s, source %s)", fn, gd_dtype_name(out->scalar_type),
                       gd_dtype_name(src->scalar_type));
    bool fits = out->rank == src->rank && out->rank >= 1;
    for (int d = 1; fits && d < out->rank; d++) fits = out->sizes[d] == src->sizes[d];
    if (!fits)
        return gd_fail(GD_EINVAL, "%s: the output (%s) and the source (%s) differ beyond their rows", fn,
                       gd_shape_str(out, s1, sizeof s1), gd_shape_str(src, s2, sizeof s2));
    int64_t rows = out->sizes[0], nsrc = src->sizes[0];
    if (start < 0 || start + rows > index->sizes[0])
        return gd_fail(GD_EINVAL, "%s: rows %lld..%lld are beyond the index's %lld entries", fn, (long long)start + 1,
                       (long long)(start + rows), (long long)index->sizes[0]);
    GD_TRY(gd_check_same_device(out, src));
    GD_TRY(gd_check_same_device(index, src));
    gd_tensor *part = NULL;
    GD_TRY(gd_narrow(&part, index, 0, start, rows));
    int64_t bad = 0, value = 0;
    int st = GD_OK;
    if (gd_indices_out_of_range(part, index_base, nsrc, &bad, &value, &st)) {
        gd_tensor_release(part);
        return gd_fail(GD_EINVAL, "%s: index %lld is outside 1..%lld", fn,
                       (long long)((uint64_t)value - (uint64_t)index_base + 1), (long long)nsrc);
    }
    if (st || rows == 0) { gd_tensor_release(part); return st; }
    staging s;
    gd_tensor *args[3] = {out, (gd_tensor *)src, part};
    st = stage_all(&s, 3, args);
    gd_tensor_release(part);
    if (!st) {
        BACKEND_OF(src, b);
        size_t row = (size_t)(out->count / rows) * gd_dtype_size(out->scalar_type);
        st = GD_BACKEND_CALL(b, fn, nn_gather_rows(s.copy[0]->data, s.copy[1]->data, s.copy[2]->data, index_base,
                                                   rows, (int64_t)row));
    }
    return unstage_all(&s, st, 1);
}

/* The rows whose largest logit (the first, on ties; NaN counts as the
   largest, as in argmax) is at the target class: argmax, compare, sum, on the
   operands' device. */
int gd_nn_count_correct(int64_t *correct, const gd_tensor *logits, const gd_tensor *target, int64_t index_base)
{
    const char *fn = "count_correct";
    GD_TRY(check_float(logits, fn, "input"));
    GD_TRY(gd_check_tensor(target, "target"));
    if (logits->rank != 2 || target->rank != 1 || target->scalar_type != GD_INT64 ||
        target->sizes[0] != logits->sizes[0])
        return gd_fail(GD_EINVAL, "%s: expects rows x classes scores and one int64 class per row", fn);
    GD_TRY(gd_check_same_device(logits, target));
    int64_t rows = logits->sizes[0], C = logits->sizes[1];
    /* a target outside the classes is a caller's mistake, as in the loss */
    int64_t bad = 0, value = 0;
    int st = GD_OK;
    if (gd_indices_out_of_range(target, index_base, C, &bad, &value, &st))
        return gd_fail(GD_EINVAL, "%s: target %lld (row %lld) is not a class in %lld..%lld", fn, (long long)value,
                       (long long)(bad + index_base), (long long)index_base, (long long)(C - 1 + index_base));
    GD_TRY(st);
    *correct = 0;
    if (rows == 0 || C == 0) return GD_OK;
    gd_tensor *best = NULL, *shifted = NULL, *hit = NULL;
    st = gd_reduce_dim(&best, NULL, logits, 1, GD_RED_ARGMAX, 0, 0);
    if (!st) st = gd_binary_scalar(&shifted, target, (double)index_base, GD_OP_SUB, 0);
    if (!st) st = gd_binary(&hit, best, shifted, GD_OP_EQ);
    double n = 0;
    if (!st) st = gd_reduce_all(hit, GD_RED_SUM, 0, &n);
    gd_tensor_release(best);
    gd_tensor_release(shifted);
    gd_tensor_release(hit);
    if (!st) *correct = (int64_t)n;
    return st;
}

/* ------------------------------------------------------------- helpers */

int gd_nn_isatty(int fd) { return isatty(fd) ? 1 : 0; }
