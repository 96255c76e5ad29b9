/*
 * nn_loss.c: the element-wise losses (L1, SmoothL1, Huber, BCE,
 * BCEWithLogits, KLDiv): one pass writing the gradient with respect to the
 * prediction and summing the losses in double in element order (so results do
 * not depend on the thread count), through the backend's nn_pointwise_loss
 * (src/cpu/nn.c, cuda/nn.cu).  Math in src/kernels/nn.h.  NLLLoss and the
 * CrossEntropyLoss with options through nn_class_targets / nn_class_loss.
 */
#include "internal.h"
#include "backend.h"
#include "kernels/nn.h"

#include <math.h>

static const char *loss_name(int kind)
{
    static const char *names[GD_NN_LOSS_COUNT] = {"l1_loss", "smooth_l1_loss", "huber_loss",
                                                  "binary_cross_entropy", "binary_cross_entropy_with_logits",
                                                  "kl_div"};
    return kind >= 0 && kind < GD_NN_LOSS_COUNT ? names[kind] : "loss";
}

static int loss_operand(const gd_tensor *t, const gd_tensor *pred, const char *fn, const char *what)
{
    GD_TRY(gd_check_tensor(t, what));
    char s1[128], s2[128];
    bool same = t->rank == pred->rank;
    for (int d = 0; same && d < t->rank; d++) same = t->sizes[d] == pred->sizes[d];
    if (!same)
        return gd_fail(GD_EINVAL, "%s: the %s has shape %s but the input %s", fn, what, gd_shape_str(t, s1, sizeof s1),
                       gd_shape_str(pred, s2, sizeof s2));
    if (t->scalar_type != pred->scalar_type)
        return gd_fail(GD_EINVAL, "%s: the %s is %s but the input is %s", fn, what, gd_dtype_name(t->scalar_type),
                       gd_dtype_name(pred->scalar_type));
    if (!t->is_contiguous) return gd_fail(GD_EINVAL, "%s: the %s must be contiguous", fn, what);
    return GD_OK;
}

/* the element-wise losses' operands: on the input's device */
static int loss_operand_on(const gd_tensor *t, const gd_tensor *pred, const char *fn, const char *what)
{
    GD_TRY(loss_operand(t, pred, fn, what));
    if (t->device_kind != pred->device_kind)
        return gd_fail(GD_EINVAL, "%s: the %s is on %s but the input is on %s", fn, what,
                       gd_device_name(t->device_kind), gd_device_name(pred->device_kind));
    return GD_OK;
}

/* reduction: 0 mean, 1 sum, 2 none, 3 batchmean (the sum over the first
   dimension's size, KLDivLoss's). */
int gd_nn_pointwise_loss(double *loss, gd_tensor *losses, gd_tensor *grad, const gd_tensor *pred,
                         const gd_tensor *target, int kind, int reduction, double param, const gd_tensor *weight,
                         const gd_tensor *pos_weight)
{
    if (kind < 0 || kind >= GD_NN_LOSS_COUNT) return gd_fail(GD_EINVAL, "unknown loss kind %d", kind);
    const char *fn = loss_name(kind);
    if (reduction < 0 || reduction > 3) return gd_fail(GD_EINVAL, "%s: unknown reduction %d", fn, reduction);
    GD_TRY(gd_check_tensor(pred, "input"));
    if (!gd_is_float(pred->scalar_type))
        return gd_fail(GD_EINVAL, "%s: the input must be float32 or float64, got %s", fn, gd_dtype_name(pred->scalar_type));
    GD_TRY(loss_operand_on(pred, pred, fn, "input"));
    GD_TRY(loss_operand_on(target, pred, fn, "target"));
    if (grad) GD_TRY(loss_operand_on(grad, pred, fn, "gradient"));
    if (losses) GD_TRY(loss_operand_on(losses, pred, fn, "losses"));
    if (weight) {
        if (kind != GD_NN_LOSS_BCE && kind != GD_NN_LOSS_BCE_LOGITS)
            return gd_fail(GD_EINVAL, "%s: takes no weight", fn);
        GD_TRY(loss_operand_on(weight, pred, fn, "weight"));
    }
    if (pos_weight) {
        if (kind != GD_NN_LOSS_BCE_LOGITS) return gd_fail(GD_EINVAL, "%s: takes no pos_weight", fn);
        GD_TRY(loss_operand_on(pos_weight, pred, fn, "pos_weight"));
    }
    if (!(param >= 0)) return gd_fail(GD_EINVAL, "%s: the parameter must be >= 0, got %g", fn, param);
    if (kind == GD_NN_LOSS_HUBER && !(param > 0)) return gd_fail(GD_EINVAL, "%s: delta must be > 0", fn);
    int64_t n = pred->count;
    if (kind == GD_NN_LOSS_BCE) {
        /* PyTorch: "all elements of input should be between 0 and 1".  From
           the smallest and largest values on the input's device (a NaN
           propagates into both); the offender is found on the host, an
           error path only. */
        double lo = 0, hi = 0;
        if (n) {
            GD_TRY(gd_reduce_all(pred, GD_RED_MIN, 0, &lo));
            GD_TRY(gd_reduce_all(pred, GD_RED_MAX, 0, &hi));
        }
        if (!(lo >= 0 && hi <= 1)) {
            gd_tensor *h = NULL;
            GD_TRY(gd_to(&h, pred, GD_FLOAT64, GD_CPU));
            const double *v = (const double *)h->data;
            int64_t i = 0;
            while (i < n - 1 && v[i] >= 0 && v[i] <= 1) i++;
            double bad = v[i];
            gd_tensor_release(h);
            return gd_fail(GD_EINVAL, "%s: the input must be probabilities in [0, 1], element %lld is %g", fn,
                           (long long)i + 1, bad);
        }
    }
    double scale = 1.0;
    if (reduction == 0) scale = n ? 1.0 / (double)n : NAN;
    if (reduction == 3) scale = pred->rank > 0 && pred->sizes[0] ? 1.0 / (double)pred->sizes[0] : 1.0;
    double sum = 0;
    const gd_backend *be = gd_backend_of(pred->device_kind);
    if (!be) return GD_EDEVICE;
    GD_TRY(GD_BACKEND_CALL(be, fn, nn_pointwise_loss(&sum, losses ? losses->data : NULL, grad ? grad->data : NULL,
                                                     pred->data, target->data, weight ? weight->data : NULL,
                                                     pos_weight ? pos_weight->data : NULL, n, kind, param, scale,
                                                     pred->scalar_type)));
    *loss = reduction == 0 || reduction == 3 ? sum * scale : sum;
    return GD_OK;
}

/* NLLLoss and CrossEntropyLoss with options: the checks both share, the
   targets' check and the mean's divisor (nn_class_targets, on the input's
   device; the offending target read back on the error path only), then
   every row (nn_class_loss: src/cpu/nn.c, cuda/nn.cu; math in
   src/kernels/nn.h's gd_nn_class_row).  x is N x C; nll picks NLLLoss. */
static int class_loss(const char *fn, int nll, double *loss, gd_tensor *losses, gd_tensor *grad, const gd_tensor *x,
                      const gd_tensor *target, const gd_tensor *weight, int64_t ignore_index, double label_smoothing,
                      int reduction)
{
    if (reduction < 0 || reduction > 2) return gd_fail(GD_EINVAL, "%s: unknown reduction %d", fn, reduction);
    GD_TRY(gd_check_tensor(x, "input"));
    GD_TRY(gd_check_tensor(target, "target"));
    char s1[128], s2[128];
    if (!gd_is_float(x->scalar_type) || x->rank != 2 || !x->is_contiguous)
        return gd_fail(GD_EINVAL, "%s: the input must be a contiguous 2-D (rows x classes) float tensor, got %s %s",
                       fn, gd_dtype_name(x->scalar_type), gd_shape_str(x, s1, sizeof s1));
    if (!(label_smoothing >= 0 && label_smoothing <= 1))
        return gd_fail(GD_EINVAL, "%s: label_smoothing must be in [0, 1], got %g", fn, label_smoothing);
    int64_t N = x->sizes[0], Cn = x->sizes[1];
    int dt = x->scalar_type;
    bool prob = !nll && target->scalar_type != GD_INT64;
    if (prob) {
        GD_TRY(loss_operand_on(target, x, fn, "target (probabilities)"));
        if (Cn < 1 && N > 0) return gd_fail(GD_EINVAL, "%s: the input has no classes", fn);
    } else if (target->scalar_type != GD_INT64 || target->rank != 1 || target->sizes[0] != N ||
               !target->is_contiguous) {
        if (nll)
            return gd_fail(GD_EINVAL, "%s: the target must be %lld int64 class indices, got %s %s", fn, (long long)N,
                           gd_dtype_name(target->scalar_type), gd_shape_str(target, s2, sizeof s2));
        return gd_fail(GD_EINVAL, "%s: the target has shape %s, expected %lld class indices (int64, contiguous) or "
                       "%s probabilities of the input's shape", fn, gd_shape_str(target, s2, sizeof s2), (long long)N,
                       gd_dtype_name(dt));
    } else if (target->device_kind != x->device_kind) {
        return gd_fail(GD_EINVAL, "%s: the target is on %s but the input is on %s", fn,
                       gd_device_name(target->device_kind), gd_device_name(x->device_kind));
    }
    if (grad) GD_TRY(loss_operand_on(grad, x, fn, "gradient"));
    if (weight) {
        GD_TRY(gd_check_tensor(weight, "weight"));
        if (weight->scalar_type != dt || weight->rank != 1 || weight->sizes[0] != Cn || !weight->is_contiguous)
            return gd_fail(GD_EINVAL, "%s: the weight must be %lld %s values (one per class), got %s", fn,
                           (long long)Cn, gd_dtype_name(dt), gd_shape_str(weight, s1, sizeof s1));
        if (weight->device_kind != x->device_kind)
            return gd_fail(GD_EINVAL, "%s: the weight is on %s but the input is on %s", fn,
                           gd_device_name(weight->device_kind), gd_device_name(x->device_kind));
    }
    if (losses) {
        GD_TRY(gd_check_tensor(losses, "losses"));
        if (losses->scalar_type != dt || losses->count != N || !losses->is_contiguous ||
            losses->device_kind != x->device_kind)
            return gd_fail(GD_EINVAL, "%s: the losses buffer must hold %lld values", fn, (long long)N);
    }
    const gd_backend *be = gd_backend_of(x->device_kind);
    if (!be) return GD_EDEVICE;
    const int64_t *T = prob ? NULL : (const int64_t *)target->data;
    double denom = (double)N;
    if (!prob && N > 0) {
        int64_t bad = -1;
        GD_TRY(GD_BACKEND_CALL(be, fn, nn_class_targets(&denom, &bad, T, weight ? weight->data : NULL, N, Cn,
                                                        ignore_index, dt)));
        if (bad >= 0) {
            int64_t v = 0;
            GD_TRY(gd_transfer(be, &v, T + bad, sizeof v, GD_CPU, x->device_kind, 1));
            return gd_fail(GD_EINVAL, nll ? "%s: target %lld (row %lld) is outside the classes 1..%lld"
                                          : "%s: target %lld (row %lld) is not a class in 1..%lld",
                           fn, (long long)v, (long long)bad + 1, (long long)Cn);
        }
    } else if (!prob) {
        denom = 0;
    }
    double scale = reduction == 0 ? 1.0 / denom : 1.0;   /* 0/0 = NaN when every row is ignored, as PyTorch */
    double sum = 0;
    if (N > 0)
        GD_TRY(GD_BACKEND_CALL(be, fn, nn_class_loss(&sum, losses ? losses->data : NULL, grad ? grad->data : NULL,
                                                     x->data, T, prob ? target->data : NULL,
                                                     weight ? weight->data : NULL, N, Cn, ignore_index,
                                                     label_smoothing, scale, nll, dt)));
    *loss = reduction == 0 ? sum / denom : sum;
    return GD_OK;
}

/* NLLLoss (PyTorch's nll_loss): rows i of x (N x C, log-probabilities),
   1-based class targets t_i; loss_i = -w[t_i] x[i, t_i], 0 where t_i ==
   ignore_index (compared as given: a 1-based class, or PyTorch's -100,
   which no class has).  mean divides by sum of w[t_i] over the
   rows not ignored (PyTorch's weighted mean); grad is overwritten (zeros but
   -w[t_i] / divisor at the targets). */
int gd_nn_nll_loss(double *loss, gd_tensor *losses, gd_tensor *grad, const gd_tensor *x, const gd_tensor *target,
                   const gd_tensor *weight, int reduction, int64_t ignore_index)
{
    return class_loss("nll_loss", 1, loss, losses, grad, x, target, weight, ignore_index, 0.0, reduction);
}

/* CrossEntropyLoss with weights, ignore_index, label smoothing and
   probability targets (see gd.h): the mean's divisor first, then every row
   with src/kernels/nn.h's row function. */
int gd_nn_cross_entropy_ex(double *loss, gd_tensor *losses, gd_tensor *grad, const gd_tensor *logits,
                           const gd_tensor *target, const gd_tensor *weight, int64_t ignore_index,
                           double label_smoothing, int reduction)
{
    return class_loss("cross_entropy", 0, loss, losses, grad, logits, target, weight, ignore_index, label_smoothing,
                      reduction);
}
