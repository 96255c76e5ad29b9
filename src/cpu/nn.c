/*
 * nn.c: the fused kernels behind gd.nn's layers and losses (declared in the
 * "neural-network kernels" section of gd.h; the per-element math is in
 * src/kernels/nn.h).
 *
 * Every function writes into outputs the caller preallocated and reuses, so a
 * training step allocates nothing.  The fast path is contiguous CPU float32 /
 * float64; any other layout or a CUDA tensor takes the slow path, which either
 * composes the core's generic operations (they dispatch to CUDA) or stages the
 * operands through contiguous CPU copies.  Loss sums are accumulated in double
 * over fixed blocks, so results do not depend on the number of threads.
 *
 * Shapes: B = rows (a batch), F = features, C = classes.
 */
#define _POSIX_C_SOURCE 200809L
#include "../internal.h"
#include "../kernels/nn.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Loops that only move memory (ReLU, dropout, bias gradients, MSE) gain little
   from threads and lose a lot when the OpenMP team wakes up next to OpenBLAS's
   own thread pool (measured on 2 cores: a 1024-wide MLP step went from 7 ms
   to 20 ms), so they go parallel only when very large; loops with exp/tanh
   per element use the core's threshold. */
enum { MEMORY_BOUND_PARALLEL_MIN = 1 << 22 };

static bool par_memory_bound(int64_t n) { return n >= MEMORY_BOUND_PARALLEL_MIN && gd_parallel_worth(n); }

/* for (i = 0; i < n; i++) BODY, on OpenMP threads when par: an OpenMP region,
   even one that its if clause keeps serial, costs microseconds, which small
   batches cannot afford, so the serial loop is a separate copy. */
#define GD_NN_FOR(par, i, n, ...)                                                            \
    do {                                                                                     \
        if (par) {                                                                           \
            _Pragma("omp parallel for schedule(static)")                                     \
            for (int64_t i = 0; i < (n); i++) { __VA_ARGS__; }                               \
        } else {                                                                             \
            for (int64_t i = 0; i < (n); i++) { __VA_ARGS__; }                               \
        }                                                                                    \
    } while (0)

/* ------------------------------------------------------------ checking */

static bool dense_cpu(const gd_tensor *t)
{
    return t == NULL || (t->device_kind == GD_CPU && t->is_contiguous);
}

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

/* v - base in 0..n-1, without computing v - base in signed arithmetic (an
   INT64_MIN target would overflow): the unsigned difference wraps, and any v
   outside the range lands at n or beyond */
static bool index_in(int64_t v, int64_t base, int64_t n)
{
    return n > 0 && (uint64_t)v - (uint64_t)base < (uint64_t)n;
}

/* ------------------------------------------------------------ staging */

/* A contiguous CPU tensor with t's values: t itself (retained) or a copy.
   NULL stays NULL. */
static int stage(gd_tensor **out, const gd_tensor *t)
{
    *out = NULL;
    if (t == NULL) return GD_OK;
    if (dense_cpu(t)) {
        gd_tensor_retain((gd_tensor *)t);
        *out = (gd_tensor *)t;
        return GD_OK;
    }
    gd_tensor *c = NULL;
    GD_TRY(gd_to(&c, t, -1, GD_CPU));
    int st = gd_contiguous(out, c);
    gd_tensor_release(c);
    return st;
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
        if (dense_cpu(y) && dense_cpu(b)) {
            size_t row = (size_t)y->sizes[1] * gd_dtype_size(y->scalar_type);
            for (int64_t i = 0; i < y->sizes[0]; i++) memcpy((char *)y->data + (size_t)i * row, b->data, row);
        } else {
            GD_TRY(gd_copy(y, b));
        }
    }
    return gd_gemm(y, x, 0, w, 1, 1.0, b ? 1.0 : 0.0);
}

/* gb[j] += sum_i gy[i, j]; columns split among threads, each summed in row order */
#define BIAS_GRAD(T)                                                                         \
    do {                                                                                     \
        const T *G = (const T *)gy->data;                                                    \
        T *acc = (T *)gb->data;                                                              \
        int64_t rows = gy->sizes[0], cols = gy->sizes[1];                                    \
        int64_t nblk = (cols + 63) / 64;                                                     \
        GD_NN_FOR(par_memory_bound(rows * cols), blk, nblk,                                   \
            int64_t j0 = blk * 64, j1 = j0 + 64 < cols ? j0 + 64 : cols;                     \
            for (int64_t i = 0; i < rows; i++) {                                             \
                const T *r = G + i * cols;                                                   \
                for (int64_t j = j0; j < j1; j++) acc[j] += r[j];                            \
            });                                                                              \
    } while (0)

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
        if (gb->rank != 1 || gb->sizes[0] != w->sizes[0])
            return gd_fail(GD_EINVAL, "%s: the bias gradient has shape %s, expected %lld", fn,
                           gd_shape_str(gb, s1, sizeof s1), (long long)w->sizes[0]);
        if (dense_cpu(gb) && dense_cpu(gy)) {
            if (gy->scalar_type == GD_FLOAT32) BIAS_GRAD(float);
            else BIAS_GRAD(double);
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

#define ACT_LOOP(T, S)                                                                       \
    do {                                                                                     \
        T *Y = (T *)y->data;                                                                 \
        const T *X = (const T *)x->data;                                                     \
        int64_t n = y->count;                                                                \
        bool par = kind == GD_NN_RELU ? par_memory_bound(n) : gd_parallel_worth(n);          \
        switch (kind) {                                                                      \
        case GD_NN_RELU:                                                                     \
            GD_NN_FOR(par, i, n, Y[i] = gd_relu_##S(X[i]));                                  \
            break;                                                                           \
        case GD_NN_TANH:                                                                     \
            GD_NN_FOR(par, i, n, Y[i] = gd_tanh_##S(X[i]));                                  \
            break;                                                                           \
        default:                                                                             \
            GD_NN_FOR(par, i, n, Y[i] = gd_sigmoid_##S(X[i]));                               \
            break;                                                                           \
        }                                                                                    \
    } while (0)

int gd_nn_activation(gd_tensor *y, const gd_tensor *x, int kind)
{
    if (kind < 0 || kind >= GD_NN_ACTIVATION_COUNT) return gd_fail(GD_EINVAL, "unknown activation %d", kind);
    const char *fn = activation_name(kind);
    GD_TRY(check_float(x, fn, "input"));
    GD_TRY(check_float(y, fn, "output"));
    GD_TRY(check_same_shape(y, x, fn, "output", "input"));
    GD_TRY(check_same_dtype(y, x, fn, "output", "input"));
    if (dense_cpu(y) && dense_cpu(x)) {
        if (y->scalar_type == GD_FLOAT32) ACT_LOOP(float, f);
        else ACT_LOOP(double, d);
        return GD_OK;
    }
    static const int ops[GD_NN_ACTIVATION_COUNT] = {GD_OP_RELU, GD_OP_TANH, GD_OP_SIGMOID};
    if (y != x) GD_TRY(gd_copy(y, x));
    return gd_unary_(y, ops[kind], 0, 0);
}

#define ACT_GRAD_LOOP(T, S)                                                                  \
    do {                                                                                     \
        T *GX = (T *)gx->data;                                                               \
        const T *GY = (const T *)gy->data, *Y = (const T *)y->data;                          \
        int64_t n = gx->count;                                                               \
        bool par = par_memory_bound(n);                                                      \
        switch (kind) {                                                                      \
        case GD_NN_RELU:                                                                     \
            GD_NN_FOR(par, i, n, GX[i] = gd_nn_relu_grad_##S(GY[i], Y[i]));                  \
            break;                                                                           \
        case GD_NN_TANH:                                                                     \
            GD_NN_FOR(par, i, n, GX[i] = gd_nn_tanh_grad_##S(GY[i], Y[i]));                  \
            break;                                                                           \
        default:                                                                             \
            GD_NN_FOR(par, i, n, GX[i] = gd_nn_sigmoid_grad_##S(GY[i], Y[i]));               \
            break;                                                                           \
        }                                                                                    \
    } while (0)

/* The slow path: gx = gy * act'(y) from generic operations (any device). */
static int activation_backward_generic(gd_tensor *gx, const gd_tensor *gy, const gd_tensor *y, int kind)
{
    gd_tensor *d = NULL, *t = NULL;
    int st;
    if (kind == GD_NN_RELU) {
        st = gd_binary_scalar(&d, y, 0.0, GD_OP_GT, 0);                    /* y > 0 */
    } else if (kind == GD_NN_TANH) {
        st = gd_binary(&t, y, y, GD_OP_MUL);                              /* 1 - y^2 */
        if (!st) st = gd_binary_scalar(&d, t, 1.0, GD_OP_SUB, 1);
    } else {
        st = gd_binary_scalar(&t, y, 1.0, GD_OP_SUB, 1);                  /* y (1 - y) */
        if (!st) st = gd_binary(&d, y, t, GD_OP_MUL);
    }
    gd_tensor_release(t);
    t = NULL;
    if (!st) st = gd_binary(&t, d, gy, GD_OP_MUL);
    if (!st) st = gd_copy(gx, t);
    gd_tensor_release(d);
    gd_tensor_release(t);
    return st;
}

int gd_nn_activation_backward(gd_tensor *gx, const gd_tensor *gy, const gd_tensor *y, int kind)
{
    if (kind < 0 || kind >= GD_NN_ACTIVATION_COUNT) return gd_fail(GD_EINVAL, "unknown activation %d", kind);
    const char *fn = activation_name(kind);
    GD_TRY(check_float(gx, fn, "input gradient"));
    GD_TRY(check_float(gy, fn, "output gradient"));
    GD_TRY(check_float(y, fn, "output"));
    GD_TRY(check_same_shape(gy, y, fn, "output gradient", "output"));
    GD_TRY(check_same_shape(gx, y, fn, "input gradient", "output"));
    GD_TRY(check_same_dtype(gy, y, fn, "output gradient", "output"));
    GD_TRY(check_same_dtype(gx, y, fn, "input gradient", "output"));
    if (dense_cpu(gx) && dense_cpu(gy) && dense_cpu(y)) {
        if (gx->scalar_type == GD_FLOAT32) ACT_GRAD_LOOP(float, f);
        else ACT_GRAD_LOOP(double, d);
        return GD_OK;
    }
    return activation_backward_generic(gx, gy, y, kind);
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
    if (!dense_cpu(y) || !dense_cpu(x)) {
        staging s;
        gd_tensor *args[2] = {y, (gd_tensor *)x};
        int st = stage_all(&s, 2, args);
        if (!st) st = gd_nn_softmax(s.copy[0], s.copy[1], log_);
        return unstage_all(&s, st, 1);
    }
    int64_t n = x->sizes[x->rank - 1];
    if (n == 0 || x->count == 0) return GD_OK;
    int64_t rows = x->count / n;
    bool par = gd_parallel_worth(x->count);
    if (x->scalar_type == GD_FLOAT32) {
        float *Y = y->data;
        const float *X = x->data;
        GD_NN_FOR(par, i, rows, gd_nn_softmax_row_f(Y + i * n, X + i * n, n, log_));
    } else {
        double *Y = y->data;
        const double *X = x->data;
        GD_NN_FOR(par, i, rows, gd_nn_softmax_row_d(Y + i * n, X + i * n, n, log_));
    }
    return GD_OK;
}

int gd_nn_softmax_backward(gd_tensor *gx, const gd_tensor *gy, const gd_tensor *y, int log_)
{
    const char *fn = log_ ? "log_softmax backward" : "softmax backward";
    GD_TRY(check_float(gx, fn, "input gradient"));
    GD_TRY(check_float(gy, fn, "output gradient"));
    GD_TRY(check_float(y, fn, "output"));
    GD_TRY(check_same_shape(gy, y, fn, "output gradient", "output"));
    GD_TRY(check_same_shape(gx, y, fn, "input gradient", "output"));
    GD_TRY(check_same_dtype(gy, y, fn, "output gradient", "output"));
    GD_TRY(check_same_dtype(gx, y, fn, "input gradient", "output"));
    if (y->rank == 0) return gd_fail(GD_EINVAL, "%s: the output has no dimensions", fn);
    if (!dense_cpu(gx) || !dense_cpu(gy) || !dense_cpu(y)) {
        staging s;
        gd_tensor *args[3] = {gx, (gd_tensor *)gy, (gd_tensor *)y};
        int st = stage_all(&s, 3, args);
        if (!st) st = gd_nn_softmax_backward(s.copy[0], s.copy[1], s.copy[2], log_);
        return unstage_all(&s, st, 1);
    }
    int64_t n = y->sizes[y->rank - 1];
    if (n == 0 || y->count == 0) return GD_OK;
    int64_t rows = y->count / n;
    bool par = gd_parallel_worth(y->count);
    if (y->scalar_type == GD_FLOAT32) {
        float *GX = gx->data;
        const float *GY = gy->data, *Y = y->data;
        GD_NN_FOR(par, i, rows, gd_nn_softmax_grad_row_f(GX + i * n, GY + i * n, Y + i * n, n, log_));
    } else {
        double *GX = gx->data;
        const double *GY = gy->data, *Y = y->data;
        GD_NN_FOR(par, i, rows, gd_nn_softmax_grad_row_d(GX + i * n, GY + i * n, Y + i * n, n, log_));
    }
    return GD_OK;
}

/* --------------------------------------------------------------- losses */

/* Per-row (or per-block) partial sums live here when few, else on the heap. */
enum { PARTIALS_ON_STACK = 512, MSE_BLOCK = 4096 };

static int check_reduction(int reduction, const char *fn)
{
    if (reduction < 0 || reduction >= GD_NN_REDUCTION_COUNT)
        return gd_fail(GD_EINVAL, "%s: unknown reduction %d", fn, reduction);
    return GD_OK;
}

static double sum_in_order(const double *v, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += v[i];
    return s;
}

#define CROSS_ENTROPY_ROWS(T, S)                                                             \
    do {                                                                                     \
        const T *X = (const T *)logits->data;                                                \
        T *G = grad ? (T *)grad->data : NULL;                                                \
        T *L = losses ? (T *)losses->data : NULL;                                            \
        T k = (T)row_scale;                                                                  \
        GD_NN_FOR(par, i, rows,                                                              \
            double l = gd_nn_cross_entropy_row_##S(G ? G + i * C : NULL, X + i * C, C,       \
                                                   T_[i] - index_base, k);                   \
            part[i] = l;                                                                     \
            if (L) L[i] = (T)(l * scale));                                                   \
    } while (0)

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
    if (!dense_cpu(logits) || !dense_cpu(target) || !dense_cpu(grad) || !dense_cpu(losses)) {
        staging s;
        gd_tensor *args[4] = {grad, losses, (gd_tensor *)logits, (gd_tensor *)target};
        int st = stage_all(&s, 4, args);
        if (!st) st = gd_nn_cross_entropy(loss, s.copy[1], s.copy[0], s.copy[2], s.copy[3], index_base, reduction,
                                          scale);
        return unstage_all(&s, st, 2);
    }
    int64_t rows = logits->sizes[0], C = logits->sizes[1];
    const int64_t *T_ = target->data;
    for (int64_t i = 0; i < rows; i++)
        if (!index_in(T_[i], index_base, C))
            return gd_fail(GD_EINVAL, "%s: target %lld (row %lld) is not a class in %lld..%lld", fn, (long long)T_[i],
                           (long long)(i + index_base), (long long)index_base, (long long)(C - 1 + index_base));
    if (rows == 0) {
        *loss = reduction == GD_NN_MEAN ? NAN : 0.0;
        return GD_OK;
    }
    if (C == 0) return gd_fail(GD_EINVAL, "%s: the input has no classes", fn);
    double row_scale = reduction == GD_NN_MEAN ? scale / (double)rows : scale;
    double stack_part[PARTIALS_ON_STACK];
    double *part = rows <= PARTIALS_ON_STACK ? stack_part : malloc((size_t)rows * sizeof *part);
    if (!part) return gd_fail(GD_ENOMEM, "%s: out of memory", fn);
    bool par = gd_parallel_worth(rows * C);
    if (logits->scalar_type == GD_FLOAT32) CROSS_ENTROPY_ROWS(float, f);
    else CROSS_ENTROPY_ROWS(double, d);
    *loss = row_scale * sum_in_order(part, rows);
    if (part != stack_part) free(part);
    return GD_OK;
}

/* block b of the MSE: its squared-difference sum; losses and grad as it goes */
#define MSE_BLOCKS(T)                                                                        \
    do {                                                                                     \
        const T *P = (const T *)pred->data, *Q = (const T *)target->data;                    \
        T *G = grad ? (T *)grad->data : NULL;                                                \
        T *L = losses ? (T *)losses->data : NULL;                                            \
        const T k = (T)(2.0 * elem_scale), ks = (T)scale;                                    \
        GD_NN_FOR(par, b, nblk,                                                              \
            int64_t i0 = b * MSE_BLOCK, i1 = i0 + MSE_BLOCK < n ? i0 + MSE_BLOCK : n;        \
            double s = 0;                                                                    \
            for (int64_t i = i0; i < i1; i++) {                                              \
                T d = P[i] - Q[i];                                                           \
                s += (double)d * (double)d;                                                  \
                if (L) L[i] = ks * d * d;                                                    \
                if (G) G[i] = k * d;                                                         \
            }                                                                                \
            part[b] = s);                                                                    \
    } while (0)

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
    if (!dense_cpu(pred) || !dense_cpu(target) || !dense_cpu(grad) || !dense_cpu(losses)) {
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
    int64_t nblk = (n + MSE_BLOCK - 1) / MSE_BLOCK;
    double stack_part[PARTIALS_ON_STACK];
    double *part = nblk <= PARTIALS_ON_STACK ? stack_part : malloc((size_t)nblk * sizeof *part);
    if (!part) return gd_fail(GD_ENOMEM, "%s: out of memory", fn);
    bool par = nblk > 1 && par_memory_bound(n);
    if (pred->scalar_type == GD_FLOAT32) MSE_BLOCKS(float);
    else MSE_BLOCKS(double);
    *loss = elem_scale * sum_in_order(part, nblk);
    if (part != stack_part) free(part);
    return GD_OK;
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
    if (!dense_cpu(y) || !dense_cpu(mask) || !dense_cpu(x)) {
        staging s;
        gd_tensor *args[3] = {y, mask, (gd_tensor *)x};
        int st = stage_all(&s, 3, args);
        if (!st) st = gd_nn_dropout(s.copy[0], s.copy[1], s.copy[2], p);
        return unstage_all(&s, st, 2);
    }
    double keep = p < 1 ? 1.0 / (1.0 - p) : 0.0;
    int64_t n = x->count;
    bool par = par_memory_bound(n);
    if (x->scalar_type == GD_FLOAT32) {
        float *Y = y->data, *M = mask->data;
        const float *X = x->data;
        const float fp = (float)p, fk = (float)keep;
        GD_NN_FOR(par, i, n, M[i] = gd_nn_dropout_mask_f(M[i], fp, fk); Y[i] = X[i] * M[i]);
    } else {
        double *Y = y->data, *M = mask->data;
        const double *X = x->data;
        GD_NN_FOR(par, i, n, M[i] = gd_nn_dropout_mask_d(M[i], p, keep); Y[i] = X[i] * M[i]);
    }
    return GD_OK;
}

int gd_nn_dropout_backward(gd_tensor *gx, const gd_tensor *gy, const gd_tensor *mask)
{
    const char *fn = "dropout backward";
    GD_TRY(check_float(gx, fn, "input gradient"));
    GD_TRY(check_float(gy, fn, "output gradient"));
    GD_TRY(check_float(mask, fn, "mask"));
    GD_TRY(check_same_shape(gy, mask, fn, "output gradient", "mask"));
    GD_TRY(check_same_shape(gx, mask, fn, "input gradient", "mask"));
    GD_TRY(check_same_dtype(gy, mask, fn, "output gradient", "mask"));
    GD_TRY(check_same_dtype(gx, mask, fn, "input gradient", "mask"));
    if (!dense_cpu(gx) || !dense_cpu(gy) || !dense_cpu(mask)) {
        if (gx != gy) GD_TRY(gd_copy(gx, gy));
        return gd_binary_(gx, mask, GD_OP_MUL);
    }
    int64_t n = gx->count;
    bool par = par_memory_bound(n);
    if (gx->scalar_type == GD_FLOAT32) {
        float *GX = gx->data;
        const float *GY = gy->data, *M = mask->data;
        GD_NN_FOR(par, i, n, GX[i] = GY[i] * M[i]);
    } else {
        double *GX = gx->data;
        const double *GY = gy->data, *M = mask->data;
        GD_NN_FOR(par, i, n, GX[i] = GY[i] * M[i]);
    }
    return GD_OK;
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
    if (!dense_cpu(out) || !dense_cpu(src) || !dense_cpu(index)) {
        gd_tensor *part = NULL, *zero_based = NULL, *rowsel = NULL;
        int st = gd_narrow(&part, index, 0, start, rows);
        if (!st) st = gd_binary_scalar(&zero_based, part, (double)index_base, GD_OP_SUB, 0);
        if (!st) st = gd_index_select(&rowsel, src, 0, zero_based);
        if (!st) st = gd_copy(out, rowsel);
        gd_tensor_release(part);
        gd_tensor_release(zero_based);
        gd_tensor_release(rowsel);
        return st;
    }
    const int64_t *ix = (const int64_t *)index->data + start;
    for (int64_t i = 0; i < rows; i++)
        if (!index_in(ix[i], index_base, nsrc))
            return gd_fail(GD_EINVAL, "%s: index %lld is outside 1..%lld", fn,
                           (long long)((uint64_t)ix[i] - (uint64_t)index_base + 1), (long long)nsrc);
    size_t row = (size_t)(rows ? out->count / rows : 0) * gd_dtype_size(out->scalar_type);
    char *o = out->data;
    const char *s = src->data;
    for (int64_t i = 0; i < rows; i++) memcpy(o + (size_t)i * row, s + (size_t)(ix[i] - index_base) * row, row);
    return GD_OK;
}

#define COUNT_CORRECT(T)                                                                     \
    do {                                                                                     \
        const T *X = (const T *)logits->data;                                                \
        for (int64_t i = 0; i < rows; i++) {                                                 \
            const T *r = X + i * C;                                                          \
            int64_t best = 0;                                                                \
            for (int64_t j = 1; j < C; j++)                                                  \
                if (r[j] > r[best]) best = j;                                                \
            if ((uint64_t)T_[i] - (uint64_t)index_base == (uint64_t)best) n++;                                             \
        }                                                                                    \
    } while (0)

int gd_nn_count_correct(int64_t *correct, const gd_tensor *logits, const gd_tensor *target, int64_t index_base)
{
    const char *fn = "count_correct";
    GD_TRY(check_float(logits, fn, "input"));
    GD_TRY(gd_check_tensor(target, "target"));
    if (logits->rank != 2 || target->rank != 1 || target->scalar_type != GD_INT64 ||
        target->sizes[0] != logits->sizes[0])
        return gd_fail(GD_EINVAL, "%s: expects rows x classes scores and one int64 class per row", fn);
    if (!dense_cpu(logits) || !dense_cpu(target)) {
        staging s;
        gd_tensor *args[2] = {(gd_tensor *)logits, (gd_tensor *)target};
        int st = stage_all(&s, 2, args);
        if (!st) st = gd_nn_count_correct(correct, s.copy[0], s.copy[1], index_base);
        return unstage_all(&s, st, 0);
    }
    int64_t rows = logits->sizes[0], C = logits->sizes[1], n = 0;
    const int64_t *T_ = target->data;
    /* a target outside the classes is a caller's mistake, as in the loss */
    for (int64_t i = 0; i < rows; i++)
        if (!index_in(T_[i], index_base, C))
            return gd_fail(GD_EINVAL, "%s: target %lld (row %lld) is not a class in %lld..%lld", fn, (long long)T_[i],
                           (long long)(i + index_base), (long long)index_base, (long long)(C - 1 + index_base));
    if (C > 0) {
        if (logits->scalar_type == GD_FLOAT32) COUNT_CORRECT(float);
        else COUNT_CORRECT(double);
    }
    *correct = n;
    return GD_OK;
}

/* ------------------------------------------------------------- helpers */

int gd_nn_isatty(int fd) { return isatty(fd) ? 1 : 0; }
