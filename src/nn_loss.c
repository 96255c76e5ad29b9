/*
 * nn_loss.c: the element-wise losses (L1, SmoothL1, Huber, BCE,
 * BCEWithLogits, KLDiv): one pass writing the gradient with respect to the
 * prediction and summing the losses in double in element order (so results do
 * not depend on the thread count).  Math in src/kernels/nn.h.  CPU only.
 */
#include "internal.h"
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
    if (t->device_kind != GD_CPU) return gd_fail(GD_EINVAL, "%s: the %s is on the GPU, which has no %s kernel yet", fn, what, fn);
    if (!t->is_contiguous) return gd_fail(GD_EINVAL, "%s: the %s must be contiguous", fn, what);
    return GD_OK;
}

#define LOSS_LOOP(T)                                                                           \
    do {                                                                                       \
        const T *X = (const T *)pred->data, *Tg = (const T *)target->data;                     \
        T *G = grad ? (T *)grad->data : NULL, *Ls = losses ? (T *)losses->data : NULL;         \
        for (int64_t i = 0; i < n; i++) {                                                      \
            double g, l = gd_nn_pointwise_loss_elem(kind, (double)X[i], (double)Tg[i], param, &g);  \
            if (G) G[i] = (T)(g * scale);                                                      \
            if (Ls) Ls[i] = (T)l;                                                              \
            sum += l;                                                                          \
        }                                                                                      \
    } while (0)

/* reduction: 0 mean, 1 sum, 2 none, 3 batchmean (the sum over the first
   dimension's size, KLDivLoss's). */
int gd_nn_pointwise_loss(double *loss, gd_tensor *losses, gd_tensor *grad, const gd_tensor *pred,
                         const gd_tensor *target, int kind, int reduction, double param)
{
    if (kind < 0 || kind >= GD_NN_LOSS_COUNT) return gd_fail(GD_EINVAL, "unknown loss kind %d", kind);
    const char *fn = loss_name(kind);
    if (reduction < 0 || reduction > 3) return gd_fail(GD_EINVAL, "%s: unknown reduction %d", fn, reduction);
    GD_TRY(gd_check_tensor(pred, "input"));
    if (!gd_is_float(pred->scalar_type))
        return gd_fail(GD_EINVAL, "%s: the input must be float32 or float64, got %s", fn, gd_dtype_name(pred->scalar_type));
    GD_TRY(loss_operand(pred, pred, fn, "input"));
    GD_TRY(loss_operand(target, pred, fn, "target"));
    if (grad) GD_TRY(loss_operand(grad, pred, fn, "gradient"));
    if (losses) GD_TRY(loss_operand(losses, pred, fn, "losses"));
    if (!(param >= 0)) return gd_fail(GD_EINVAL, "%s: the parameter must be >= 0, got %g", fn, param);
    if (kind == GD_NN_LOSS_HUBER && !(param > 0)) return gd_fail(GD_EINVAL, "%s: delta must be > 0", fn);
    int64_t n = pred->count;
    if (kind == GD_NN_LOSS_BCE) {
        /* PyTorch: "all elements of input should be between 0 and 1" */
        for (int64_t i = 0; i < n; i++) {
            double v = pred->scalar_type == GD_FLOAT32 ? ((const float *)pred->data)[i] : ((const double *)pred->data)[i];
            if (!(v >= 0 && v <= 1))
                return gd_fail(GD_EINVAL, "%s: the input must be probabilities in [0, 1], element %lld is %g", fn,
                               (long long)i + 1, v);
        }
    }
    double scale = 1.0;
    if (reduction == 0) scale = n ? 1.0 / (double)n : NAN;
    if (reduction == 3) scale = pred->rank > 0 && pred->sizes[0] ? 1.0 / (double)pred->sizes[0] : 1.0;
    double sum = 0;
    if (pred->scalar_type == GD_FLOAT32) LOSS_LOOP(float);
    else LOSS_LOOP(double);
    *loss = reduction == 0 || reduction == 3 ? sum * scale : sum;
    return GD_OK;
}
