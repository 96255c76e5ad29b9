/*
 * nn_loss.c: the element-wise losses (L1, SmoothL1, Huber, BCE,
 * BCEWithLogits, KLDiv): one pass writing the gradient with respect to the
 * prediction and summing the losses in double in element order (so results do
 * not depend on the thread count), through the backend's nn_pointwise_loss
 * (src/cpu/nn.c, cuda/nn.cu).  Math in src/kernels/nn.h.  NLLLoss and the
 * CrossEntropyLoss with options: CPU only for now.
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

/* the other losses' operands, CPU only for now */
static int loss_operand_cpu(const gd_tensor *t, const gd_tensor *pred, const char *fn, const char *what)
{
    GD_TRY(loss_operand(t, pred, fn, what));
    if (t->device_kind != GD_CPU)
        return gd_fail(GD_EINVAL, "%s: the %s is on the GPU, which has no %s kernel yet", fn, what, fn);
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

/* NLLLoss (PyTorch's nll_loss): rows i of x (N x C, log-probabilities),
   1-based class targets t_i; loss_i = -w[t_i] x[i, t_i], 0 where t_i ==
   ignore_index (compared as given: a 1-based class, or PyTorch's -100,
   which no class has).  mean divides by sum of w[t_i] over the
   rows not ignored (PyTorch's weighted mean); grad is overwritten (zeros but
   -w[t_i] / divisor at the targets). */
int gd_nn_nll_loss(double *loss, gd_tensor *losses, gd_tensor *grad, const gd_tensor *x, const gd_tensor *target,
                   const gd_tensor *weight, int reduction, int64_t ignore_index)
{
    const char *fn = "nll_loss";
    if (reduction < 0 || reduction > 2) return gd_fail(GD_EINVAL, "%s: unknown reduction %d", fn, reduction);
    GD_TRY(gd_check_tensor(x, "input"));
    GD_TRY(gd_check_tensor(target, "target"));
    char s1[128], s2[128];
    if (!gd_is_float(x->scalar_type) || x->rank != 2 || x->device_kind != GD_CPU || !x->is_contiguous)
        return gd_fail(GD_EINVAL, "%s: the input must be a contiguous 2-D (rows x classes) float CPU tensor, got %s", fn,
                       gd_shape_str(x, s1, sizeof s1));
    int64_t N = x->sizes[0], Cn = x->sizes[1];
    if (target->scalar_type != GD_INT64 || target->rank != 1 || target->sizes[0] != N || !target->is_contiguous ||
        target->device_kind != GD_CPU)
        return gd_fail(GD_EINVAL, "%s: the target must be %lld int64 class indices, got %s %s", fn, (long long)N,
                       gd_dtype_name(target->scalar_type), gd_shape_str(target, s2, sizeof s2));
    if (grad) GD_TRY(loss_operand_cpu(grad, x, fn, "gradient"));
    if (weight) {
        GD_TRY(gd_check_tensor(weight, "weight"));
        if (weight->scalar_type != x->scalar_type || weight->rank != 1 || weight->sizes[0] != Cn ||
            !weight->is_contiguous || weight->device_kind != GD_CPU)
            return gd_fail(GD_EINVAL, "%s: the weight must be %lld %s values (one per class), got %s", fn, (long long)Cn,
                           gd_dtype_name(x->scalar_type), gd_shape_str(weight, s1, sizeof s1));
    }
    if (losses) {
        GD_TRY(gd_check_tensor(losses, "losses"));
        if (losses->scalar_type != x->scalar_type || losses->count != N || !losses->is_contiguous)
            return gd_fail(GD_EINVAL, "%s: the losses buffer must hold %lld values", fn, (long long)N);
    }
    const int64_t *T = (const int64_t *)target->data;
    for (int64_t i = 0; i < N; i++)
        if (T[i] != ignore_index && (T[i] < 1 || T[i] > Cn))
            return gd_fail(GD_EINVAL, "%s: target %lld (row %lld) is outside the classes 1..%lld", fn, (long long)T[i],
                           (long long)i + 1, (long long)Cn);
    bool f32 = x->scalar_type == GD_FLOAT32;
#define AT(p, k) (f32 ? (double)((const float *)(p))[k] : ((const double *)(p))[k])
#define PUT(p, k, v) do { if (f32) ((float *)(p))[k] = (float)(v); else ((double *)(p))[k] = (v); } while (0)
    double sum = 0, wsum = 0;
    for (int64_t i = 0; i < N; i++) {
        double l = 0;
        if (T[i] != ignore_index) {
            double w = weight ? AT(weight->data, T[i] - 1) : 1.0;
            l = -w * AT(x->data, i * Cn + T[i] - 1);
            wsum += w;
        }
        sum += l;
        if (losses) PUT(losses->data, i, l);
    }
    double scale = reduction == 0 ? 1.0 / wsum : 1.0;   /* 0/0 = NaN when every row is ignored, as PyTorch */
    if (grad) {
        memset(grad->data, 0, (size_t)grad->count * gd_dtype_size(grad->scalar_type));
        for (int64_t i = 0; i < N; i++)
            if (T[i] != ignore_index) PUT(grad->data, i * Cn + T[i] - 1, -(weight ? AT(weight->data, T[i] - 1) : 1.0) * scale);
    }
#undef AT
#undef PUT
    *loss = reduction == 0 ? sum / wsum : sum;
    return GD_OK;
}

/* CrossEntropyLoss with weights, ignore_index, label smoothing and
   probability targets (see gd.h): a first pass finds the mean's divisor, a
   second computes every row with src/kernels/nn.h's row function. */
int gd_nn_cross_entropy_ex(double *loss, gd_tensor *losses, gd_tensor *grad, const gd_tensor *logits,
                           const gd_tensor *target, const gd_tensor *weight, int64_t ignore_index,
                           double label_smoothing, int reduction)
{
    const char *fn = "cross_entropy";
    if (reduction < 0 || reduction > 2) return gd_fail(GD_EINVAL, "%s: unknown reduction %d", fn, reduction);
    GD_TRY(gd_check_tensor(logits, "input"));
    GD_TRY(gd_check_tensor(target, "target"));
    char s1[128], s2[128];
    if (!gd_is_float(logits->scalar_type) || logits->rank != 2 || logits->device_kind != GD_CPU ||
        !logits->is_contiguous)
        return gd_fail(GD_EINVAL, "%s: the input must be a contiguous 2-D (rows x classes) float CPU tensor, got %s",
                       fn, gd_shape_str(logits, s1, sizeof s1));
    if (!(label_smoothing >= 0 && label_smoothing <= 1))
        return gd_fail(GD_EINVAL, "%s: label_smoothing must be in [0, 1], got %g", fn, label_smoothing);
    int64_t N = logits->sizes[0], Cn = logits->sizes[1];
    int dt = logits->scalar_type;
    bool prob = target->scalar_type != GD_INT64;
    if (prob) {
        GD_TRY(loss_operand_cpu(target, logits, fn, "target (probabilities)"));
        if (Cn < 1 && N > 0) return gd_fail(GD_EINVAL, "%s: the input has no classes", fn);
    } else if (target->rank != 1 || target->sizes[0] != N || !target->is_contiguous || target->device_kind != GD_CPU) {
        return gd_fail(GD_EINVAL, "%s: the target has shape %s, expected %lld class indices (int64, contiguous) or "
                       "%s probabilities of the input's shape", fn, gd_shape_str(target, s2, sizeof s2), (long long)N,
                       gd_dtype_name(dt));
    }
    if (grad) GD_TRY(loss_operand_cpu(grad, logits, fn, "gradient"));
    if (weight) {
        GD_TRY(gd_check_tensor(weight, "weight"));
        if (weight->scalar_type != dt || weight->rank != 1 || weight->sizes[0] != Cn || !weight->is_contiguous ||
            weight->device_kind != GD_CPU)
            return gd_fail(GD_EINVAL, "%s: the weight must be %lld %s values (one per class), got %s", fn,
                           (long long)Cn, gd_dtype_name(dt), gd_shape_str(weight, s1, sizeof s1));
    }
    if (losses) {
        GD_TRY(gd_check_tensor(losses, "losses"));
        if (losses->scalar_type != dt || losses->count != N || !losses->is_contiguous || losses->device_kind != GD_CPU)
            return gd_fail(GD_EINVAL, "%s: the losses buffer must hold %lld values", fn, (long long)N);
    }
    const int64_t *T = prob ? NULL : (const int64_t *)target->data;
    bool f32 = dt == GD_FLOAT32;
    double denom = (double)N;
    if (!prob) {
        denom = 0;
        for (int64_t i = 0; i < N; i++) {
            if (T[i] == ignore_index) continue;
            if (T[i] < 1 || T[i] > Cn)
                return gd_fail(GD_EINVAL, "%s: target %lld (row %lld) is not a class in 1..%lld", fn,
                               (long long)T[i], (long long)i + 1, (long long)Cn);
            denom += weight ? (f32 ? (double)((const float *)weight->data)[T[i] - 1]
                                   : ((const double *)weight->data)[T[i] - 1])
                            : 1.0;
        }
    }
    double scale = reduction == 0 ? 1.0 / denom : 1.0;   /* 0/0 = NaN when every row is ignored, as PyTorch */
    double sum = 0;
    size_t es = gd_dtype_size(dt);
    for (int64_t i = 0; i < N; i++) {
        double l = 0;
        bool ignored = !prob && T[i] == ignore_index;
        void *g = grad ? (char *)grad->data + (size_t)(i * Cn) * es : NULL;
        if (ignored) {
            if (g) memset(g, 0, (size_t)Cn * es);
        } else if (f32) {
            l = gd_nn_soft_cross_entropy_row_f(g, (const float *)logits->data + i * Cn, Cn, prob ? -1 : T[i] - 1,
                                               prob ? (const float *)target->data + i * Cn : NULL,
                                               weight ? (const float *)weight->data : NULL, label_smoothing, scale);
        } else {
            l = gd_nn_soft_cross_entropy_row_d(g, (const double *)logits->data + i * Cn, Cn, prob ? -1 : T[i] - 1,
                                               prob ? (const double *)target->data + i * Cn : NULL,
                                               weight ? (const double *)weight->data : NULL, label_smoothing, scale);
        }
        sum += l;
        if (losses) {
            if (f32) ((float *)losses->data)[i] = (float)l;
            else ((double *)losses->data)[i] = l;
        }
    }
    *loss = reduction == 0 ? sum / denom : sum;
    return GD_OK;
}
