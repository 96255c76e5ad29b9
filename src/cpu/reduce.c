/*
 * cpu/reduce.c: the CPU backend's reductions and scans (src/reduce.c checks
 * and lays them out).
 *
 * Determinism: a full reduction splits the elements into fixed blocks of
 * REDUCE_BLOCK, reduces each block in order (in double, or int64 for integer
 * sums), then combines the block results in order.  The blocks do not depend
 * on the thread count, so neither do the bits of the result.  A reduction
 * along a dimension gives each output element to one thread, which walks the
 * dimension in order.
 */
#include "cpu.h"
#include "../kernels/elementwise.h"

#include <math.h>
#include <stdlib.h>

enum { REDUCE_BLOCK = 4096 };

/* The reduction state of one run of elements. */
typedef struct {
    double acc;      /* sum / prod / sum of |x|^p / extreme value */
    int64_t iacc;    /* exact integer sum or product */
    int64_t index;   /* position of the extreme value */
    int64_t n;
} red_state;

static inline double load(const char *p, int dtype)
{
    switch (dtype) {
    case GD_FLOAT32: return *(const float *)p;
    case GD_FLOAT64: return *(const double *)p;
    default: return (double)*(const int64_t *)p;
    }
}

static void red_init(red_state *r, int op)
{
    r->n = 0;
    r->index = -1;
    r->iacc = op == GD_RED_PROD ? 1 : 0;
    switch (op) {
    case GD_RED_PROD: r->acc = 1; break;
    case GD_RED_MAX: case GD_RED_ARGMAX: r->acc = -INFINITY; break;
    case GD_RED_MIN: case GD_RED_ARGMIN: r->acc = INFINITY; break;
    default: r->acc = 0;
    }
}

/* Folds n elements (byte stride s, starting at element position `first`) into r.
   For VAR/STD, `center` is the mean subtracted first; for LOGSUMEXP, the shift
   (gd_logsumexp_shift of the maximum). */
static void red_run(red_state *r, int op, int dtype, const char *p, int64_t n, int64_t s, int64_t first,
                    double param, double center)
{
    if (dtype == GD_INT64 && (op == GD_RED_SUM || op == GD_RED_MEAN || op == GD_RED_PROD)) {
        /* exact, wrapping on overflow like PyTorch (unsigned: signed overflow is undefined in C) */
        uint64_t acc = (uint64_t)r->iacc;
        if (op == GD_RED_PROD)
            for (int64_t i = 0; i < n; i++) acc *= (uint64_t) * (const int64_t *)(p + i * s);
        else
            for (int64_t i = 0; i < n; i++) acc += (uint64_t) * (const int64_t *)(p + i * s);
        r->iacc = (int64_t)acc;
        r->n += n;
        return;
    }
    if (dtype == GD_INT64 && op >= GD_RED_MAX && op <= GD_RED_ARGMIN) {
        /* compared as integers: beyond 2^53 a double cannot tell neighbours apart */
        bool want_max = op == GD_RED_MAX || op == GD_RED_ARGMAX;
        int64_t best = r->iacc, idx = r->index;
        for (int64_t i = 0; i < n; i++) {
            int64_t x = *(const int64_t *)(p + i * s);
            if (idx < 0 || (want_max ? x > best : x < best)) { best = x; idx = first + i; }
        }
        r->iacc = best;
        r->acc = (double)best;
        r->index = idx;
        r->n += n;
        return;
    }
    double acc = r->acc;
    switch (op) {
    case GD_RED_SUM:
    case GD_RED_MEAN:
        if (dtype == GD_FLOAT32 && s == 4) {
            const float *f = (const float *)p;
            for (int64_t i = 0; i < n; i++) acc += f[i];
        } else if (dtype == GD_FLOAT64 && s == 8) {
            const double *d = (const double *)p;
            for (int64_t i = 0; i < n; i++) acc += d[i];
        } else {
            for (int64_t i = 0; i < n; i++) acc += load(p + i * s, dtype);
        }
        break;
    case GD_RED_PROD:
        for (int64_t i = 0; i < n; i++) acc *= load(p + i * s, dtype);
        break;
    case GD_RED_NORM:
        if (param == 2) {
            for (int64_t i = 0; i < n; i++) { double x = load(p + i * s, dtype); acc += x * x; }
        } else if (param == 1) {
            for (int64_t i = 0; i < n; i++) acc += fabs(load(p + i * s, dtype));
        } else if (isinf(param)) {
            for (int64_t i = 0; i < n; i++) {
                double x = fabs(load(p + i * s, dtype));
                if (x != x || (acc == acc && x > acc)) acc = x;
            }
        } else if (param == 0) {
            for (int64_t i = 0; i < n; i++) acc += load(p + i * s, dtype) != 0;
        } else {
            for (int64_t i = 0; i < n; i++) acc += pow(fabs(load(p + i * s, dtype)), param);
        }
        break;
    case GD_RED_VAR:
    case GD_RED_STD:
        for (int64_t i = 0; i < n; i++) { double x = load(p + i * s, dtype) - center; acc += x * x; }
        break;
    case GD_RED_LOGSUMEXP:
        for (int64_t i = 0; i < n; i++) acc += exp(load(p + i * s, dtype) - center);
        break;
    case GD_RED_MAX:
    case GD_RED_ARGMAX:
    case GD_RED_MIN:
    case GD_RED_ARGMIN: {
        bool want_max = op == GD_RED_MAX || op == GD_RED_ARGMAX;
        int64_t idx = r->index;
        for (int64_t i = 0; i < n; i++) {
            double x = load(p + i * s, dtype);
            if (acc != acc) break; /* NaN already found: it wins, first one kept */
            if (x != x || (want_max ? x > acc : x < acc) || idx < 0) { acc = x; idx = first + i; }
        }
        r->index = idx;
        break;
    }
    }
    r->acc = acc;
    r->n += n;
}

/* Merges block b into a (a's elements come first). */
static void red_merge(red_state *a, const red_state *b, int op, int dtype, double param)
{
    if (dtype == GD_INT64 && (op == GD_RED_SUM || op == GD_RED_MEAN || op == GD_RED_PROD)) {
        a->iacc = (int64_t)(op == GD_RED_PROD ? (uint64_t)a->iacc * (uint64_t)b->iacc
                                              : (uint64_t)a->iacc + (uint64_t)b->iacc);
    } else if (dtype == GD_INT64 && op >= GD_RED_MAX && op <= GD_RED_ARGMIN) {
        bool want_max = op == GD_RED_MAX || op == GD_RED_ARGMAX;
        if (b->index >= 0 && (a->index < 0 || (want_max ? b->iacc > a->iacc : b->iacc < a->iacc))) {
            a->iacc = b->iacc;
            a->acc = b->acc;
            a->index = b->index;
        }
    } else {
        switch (op) {
        case GD_RED_PROD: a->acc *= b->acc; break;
        case GD_RED_MAX: case GD_RED_ARGMAX: case GD_RED_MIN: case GD_RED_ARGMIN: {
            if (b->index < 0 || a->acc != a->acc) break;
            bool want_max = op == GD_RED_MAX || op == GD_RED_ARGMAX;
            if (a->index < 0 || b->acc != b->acc || (want_max ? b->acc > a->acc : b->acc < a->acc)) {
                a->acc = b->acc;
                a->index = b->index;
            }
            break;
        }
        case GD_RED_NORM:
            /* the inf-norm keeps the larger (NaN wins), the others add */
            if (!isinf(param)) a->acc += b->acc;
            else if (a->acc == a->acc && (b->acc != b->acc || b->acc > a->acc)) a->acc = b->acc;
            break;
        default: a->acc += b->acc;
        }
    }
    a->n += b->n;
}

/* param: the norm's order, the variance's correction, logsumexp's shift */
static double red_finish(const red_state *r, int op, int dtype, double param)
{
    bool ints = dtype == GD_INT64 && (op == GD_RED_SUM || op == GD_RED_MEAN || op == GD_RED_PROD);
    double v = ints ? (double)r->iacc : r->acc;
    switch (op) {
    case GD_RED_MEAN: return v / (double)r->n;
    case GD_RED_ARGMAX: case GD_RED_ARGMIN: return (double)r->index;
    case GD_RED_NORM:
        if (param == 2) return sqrt(v);
        if (param == 1 || param == 0 || isinf(param)) return v;
        return pow(v, 1.0 / param);
    case GD_RED_VAR: return v / fmax((double)r->n - param, 0.0);
    case GD_RED_STD: return sqrt(v / fmax((double)r->n - param, 0.0));
    case GD_RED_LOGSUMEXP: return log(v) + param;
    default: return v;
    }
}

/* Reduces n contiguous elements in fixed blocks (see the top of the file). */
static red_state reduce_contiguous(const char *p, int64_t n, int dtype, int op, double param, double center)
{
    size_t es = gd_dtype_size(dtype);
    int64_t nblocks = (n + REDUCE_BLOCK - 1) / REDUCE_BLOCK;
    red_state total;
    red_init(&total, op);
    red_state *parts = NULL;
    if (nblocks > 1 && gd_parallel_worth(n)) parts = malloc((size_t)nblocks * sizeof *parts);
    if (!parts) {
        /* the same blocks, one after another */
        for (int64_t b = 0; b < nblocks; b++) {
            int64_t first = b * REDUCE_BLOCK, len = n - first < REDUCE_BLOCK ? n - first : REDUCE_BLOCK;
            red_state r;
            red_init(&r, op);
            red_run(&r, op, dtype, p + first * (int64_t)es, len, (int64_t)es, first, param, center);
            red_merge(&total, &r, op, dtype, param);
        }
    } else {
        /* (without memory for the parts, the loop above does the same blocks in one thread) */
        #pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < nblocks; b++) {
            int64_t first = b * REDUCE_BLOCK, len = n - first < REDUCE_BLOCK ? n - first : REDUCE_BLOCK;
            red_init(&parts[b], op);
            red_run(&parts[b], op, dtype, p + first * (int64_t)es, len, (int64_t)es, first, param, center);
        }
        for (int64_t b = 0; b < nblocks; b++) {
            red_merge(&total, &parts[b], op, dtype, param);
        }
        free(parts);
    }
    return total;
}

int gd_cpu_reduce_all(const void *p, int64_t n, int dtype, int op, double param, double *value, int64_t *index)
{
    /* the sum or mean of one block of floats (a loss, the d2l quadratic's
       2 elements): reduce_contiguous's one block and its merge into a total
       from 0, without the rest of its states and finish (most of a small
       sum's time) */
    if ((op == GD_RED_SUM || op == GD_RED_MEAN) && n >= 1 && n <= REDUCE_BLOCK &&
        (dtype == GD_FLOAT64 || dtype == GD_FLOAT32)) {
        red_state r;
        red_init(&r, op);
        red_run(&r, op, dtype, p, n, (int64_t)gd_dtype_size(dtype), 0, param, 0);
        double total = 0;
        total += r.acc;
        *value = op == GD_RED_MEAN ? total / (double)n : total;
        if (index) *index = -1;
        return 0;
    }
    double center = 0;
    if (op == GD_RED_VAR || op == GD_RED_STD) {
        red_state m = reduce_contiguous(p, n, dtype, GD_RED_MEAN, 0, 0);
        center = red_finish(&m, GD_RED_MEAN, dtype, 0);
    }
    if (op == GD_RED_LOGSUMEXP) { /* (the max of nothing is -inf: an empty sum gives -inf) */
        red_state m = reduce_contiguous(p, n, dtype, GD_RED_MAX, 0, 0);
        param = center = gd_logsumexp_shift(m.acc);
    }
    red_state r = reduce_contiguous(p, n, dtype, op, param, center);
    *value = red_finish(&r, op, dtype, param);
    if (index) *index = r.index;
    return 0;
}

/* ------------------------------------------------------- along a dimension */

typedef struct {
    int op, dtype, out_dtype;
    int64_t n, stride; /* along the reduced dimension, stride in bytes */
    double param;
    int with_index;
} dim_ctx;

static inline void store(char *p, int dtype, double v)
{
    switch (dtype) {
    case GD_FLOAT32: *(float *)p = (float)v; break;
    case GD_FLOAT64: *(double *)p = v; break;
    default: *(int64_t *)p = (int64_t)v; break;
    }
}

/* operands: 0 values, 1 indices (or the input again), 2 input (dim removed) */
static void dim_loop(int64_t n, char **p, const int64_t *s, const void *vctx)
{
    const dim_ctx *c = vctx;
    for (int64_t i = 0; i < n; i++) {
        const char *in = p[2] + i * s[2];
        red_state r;
        red_init(&r, c->op);
        double center = 0, param = c->param;
        if (c->op == GD_RED_VAR || c->op == GD_RED_STD) {
            red_state m;
            red_init(&m, GD_RED_MEAN);
            red_run(&m, GD_RED_MEAN, c->dtype, in, c->n, c->stride, 0, 0, 0);
            center = red_finish(&m, GD_RED_MEAN, c->dtype, 0);
        } else if (c->op == GD_RED_LOGSUMEXP) {
            red_state m;
            red_init(&m, GD_RED_MAX);
            red_run(&m, GD_RED_MAX, c->dtype, in, c->n, c->stride, 0, 0, 0);
            param = center = gd_logsumexp_shift(m.acc);
        }
        red_run(&r, c->op, c->dtype, in, c->n, c->stride, 0, param, center);
        char *out = p[0] + i * s[0];
        if (c->dtype == GD_INT64 && (c->op == GD_RED_SUM || c->op == GD_RED_PROD) && c->out_dtype == GD_INT64)
            *(int64_t *)out = r.iacc;
        else if (c->dtype == GD_INT64 && (c->op == GD_RED_MAX || c->op == GD_RED_MIN))
            /* re-read the winner exactly: int64 beyond 2^53 does not survive a double */
            *(int64_t *)out = *(const int64_t *)(in + r.index * c->stride);
        else
            store(out, c->out_dtype, red_finish(&r, c->op, c->dtype, param));
        if (c->with_index) *(int64_t *)(p[1] + i * s[1]) = r.index;
    }
}

int gd_cpu_reduce_dim(const gd_iter *it, int64_t n, int64_t stride, int dtype, int out_dtype, int op, double param,
                      int with_index)
{
    dim_ctx c = {op, dtype, out_dtype, n, stride, param, with_index};
    gd_iter_run(it, dim_loop, &c);
    return 0;
}

/* ------------------------------------------------------------------ scans */

/* One line per loop position: operands 0 (out) and 1 (in) are the lines'
   first elements; the line runs n elements with byte strides so, si. */
typedef struct {
    int dtype;
    int64_t n, so, si;
} scan_ctx;

/* Sums in double, as PyTorch's CPU cumsum does (at::acc_type of float is double
   there), and in order; int64 exactly, wrapping. */
#define CUMSUM_LINE(T, ACC)                                                                   \
    do {                                                                                      \
        ACC acc = 0;                                                                          \
        for (int64_t j = 0; j < c->n; j++) {                                                  \
            acc += (ACC) * (const T *)(in + j * c->si);                                       \
            *(T *)(o + j * c->so) = (T)acc;                                                   \
        }                                                                                     \
    } while (0)

static void cumsum_loop(int64_t n, char **p, const int64_t *s, const void *vctx)
{
    const scan_ctx *c = vctx;
    for (int64_t i = 0; i < n; i++) {
        char *o = p[0] + i * s[0];
        const char *in = p[1] + i * s[1];
        switch (c->dtype) {
        case GD_FLOAT32: CUMSUM_LINE(float, double); break;
        case GD_FLOAT64: CUMSUM_LINE(double, double); break;
        default: CUMSUM_LINE(int64_t, uint64_t); break;
        }
    }
}

int gd_cpu_cumsum(const gd_iter *it, int64_t n, int64_t so, int64_t si, int dtype)
{
    scan_ctx c = {dtype, n, so, si};
    gd_iter_run(it, cumsum_loop, &c);
    return 0;
}
