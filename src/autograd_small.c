/*
 * autograd_small.c: the backward of a small element-wise record in one pass.
 *
 * The general backward (src/autograd_backward.c) composes each formula from
 * gd_* operations: pow's g * (a * 2) is two operations, two new tensors, two
 * trips through the checks, the iterator and the backend table.  For the
 * 2-element tensors of the d2l quadratic that machinery is most of a step.
 * Here the records whose formulas are element-wise (arithmetic without
 * broadcasting, arithmetic with a number, the unary functions, sum and mean
 * of everything) on small contiguous float32 or float64 CPU tensors (one
 * dtype throughout) are computed as one loop per input, added straight into
 * the leaf's .grad when that is where the gradient goes, and otherwise put in
 * a tensor from the backward's reused buffers (src/autograd_pool.c) and sent
 * on as the general path sends its result.  Anything else (broadcasting,
 * mixed dtypes, views, the GPU, other ops) returns GD_AG_NOT_SMALL and runs
 * the general backward.
 *
 * Each loop performs the general formula's operations in the same order, in
 * the same dtype, so both paths give the same bits (spec/autograd_small_spec.lua
 * compares them); floating-point contraction is off in this file, so that no
 * a * b + c of a formula becomes one fused multiply-add where the composed
 * path rounds twice.
 */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "autograd_internal.h"

#include <math.h>
#include <string.h>

/* Larger tensors take the general path: its kernels are vectorised and
   threaded, and the per-operation overhead this file saves is small beside
   their arithmetic. */
enum { SMALL_MAX = 256 };

static bool off = false;
static int64_t taken;   /* records this path has run */
void gd_autograd_set_small_path(int on) { off = !on; }
int gd_autograd_small_path(void) { return !off; }
int64_t gd_autograd_small_records(void) { return taken; }

/* A contiguous CPU tensor of dtype d and n elements. */
static bool flat(const gd_tensor *t, int d, int64_t n)
{
    return t && !t->is_freed && t->device_kind == GD_CPU && t->scalar_type == d && t->is_contiguous &&
           t->count == n && t->data;
}

/* Which formulas this file has: those below, op by op. */
static bool has_formula(const ag_record *r)
{
    switch (r->kind) {
    case GD_AG_BINARY:
        return r->op == GD_OP_ADD || r->op == GD_OP_SUB || r->op == GD_OP_MUL || r->op == GD_OP_DIV;
    case GD_AG_BINARY_SCALAR:
        return r->op == GD_OP_ADD || r->op == GD_OP_SUB || r->op == GD_OP_MUL || r->op == GD_OP_DIV;
    case GD_AG_UNARY:
        switch (r->op) {
        case GD_OP_NEG: case GD_OP_SQUARE: case GD_OP_POWS: case GD_OP_EXP: case GD_OP_LOG: case GD_OP_SQRT:
        case GD_OP_TANH: case GD_OP_SIGMOID: case GD_OP_SIN: case GD_OP_COS:
            return true;
        default: return false;
        }
    case GD_AG_REDUCE_ALL: return r->op == GD_RED_SUM || r->op == GD_RED_MEAN;
    default: return false;
    }
}

#define EACH(EXPR)                                                                                                    \
    do {                                                                                                              \
        for (int64_t i = 0; i < n; i++) O[i] = (EXPR);                                                                \
    } while (0)

/* The formulas in T (float or double), each as src/autograd_backward.c
   composes it from kernels that compute in T: a number enters as (T)v (the
   binary-with-scalar kernel's conversion), x^q is x*x for q = 2 and POW(x,
   (T)q) otherwise (the unary kernel's), sin and cos are the T versions.  O
   gets input k's gradient of n elements. */
#define SMALL_FORMULAS(T, S, POW, SIN, COS)                                                                           \
    static T pows_##S(T x, double q) { return q == 2 ? x * x : POW(x, (T)q); }                                       \
    static void formulas_##S(const ag_record *r, int k, const T *G, int64_t n, T *O)                                  \
    {                                                                                                                 \
        const T *A = AG_IN(r)[0]->data;                                                                               \
        const T *Y = r->saved ? (const T *)r->saved->data : NULL;                                                     \
        const double p = r->p[0];                                                                                     \
        const T v = (T)p;                                                                                             \
        switch (r->kind) {                                                                                            \
        case GD_AG_BINARY: {                                                                                          \
            const T *B = AG_IN(r)[1]->data;                                                                           \
            switch (r->op) {                                                                                          \
            case GD_OP_ADD: EACH(G[i]); break;                                                                        \
            case GD_OP_SUB: if (k == 0) EACH(G[i]); else EACH(-G[i]); break;                                          \
            case GD_OP_MUL: if (k == 0) EACH(G[i] * B[i]); else EACH(G[i] * A[i]); break;                             \
            case GD_OP_DIV: /* -g a / b^2 for b */                                                                    \
                if (k == 0) EACH(G[i] / B[i]);                                                                        \
                else EACH(-((G[i] * A[i]) / (B[i] * B[i])));                                                          \
                break;                                                                                                \
            }                                                                                                         \
            break;                                                                                                    \
        }                                                                                                             \
        case GD_AG_BINARY_SCALAR: {                                                                                   \
            bool first = r->ip[0] != 0; /* v op a */                                                                  \
            switch (r->op) {                                                                                          \
            case GD_OP_ADD: EACH(G[i]); break;                                                                        \
            case GD_OP_SUB: if (first) EACH(-G[i]); else EACH(G[i]); break;                                           \
            case GD_OP_MUL: EACH(G[i] * v); break;                                                                    \
            case GD_OP_DIV:                                                                                           \
                if (first) EACH(-((G[i] * v) / (A[i] * A[i])));                                                      \
                else EACH(G[i] / v);                                                                                  \
                break;                                                                                                \
            }                                                                                                         \
            break;                                                                                                    \
        }                                                                                                             \
        case GD_AG_UNARY:                                                                                             \
            switch (r->op) {                                                                                          \
            case GD_OP_NEG: EACH(-G[i]); break;                                                                       \
            case GD_OP_SQUARE: EACH(G[i] * (A[i] * (T)2)); break;                                                     \
            case GD_OP_POWS:                                                                                          \
                if (p == 0) EACH((T)0);                                                                               \
                else if (p == 2) EACH(G[i] * (A[i] * (T)2));                                                          \
                else EACH(G[i] * (pows_##S(A[i], p - 1) * v));                                                        \
                break;                                                                                                \
            case GD_OP_EXP: EACH(G[i] * Y[i]); break;                                                                 \
            case GD_OP_LOG: EACH(G[i] / A[i]); break;                                                                 \
            case GD_OP_SQRT: EACH(G[i] / (Y[i] * (T)2)); break;                                                       \
            case GD_OP_TANH: EACH(G[i] * ((T)1 - Y[i] * Y[i])); break;                                                \
            case GD_OP_SIGMOID: EACH((G[i] * Y[i]) * ((T)1 - Y[i])); break;                                           \
            case GD_OP_SIN: EACH(G[i] * COS(A[i])); break;                                                            \
            case GD_OP_COS: EACH(-(G[i] * SIN(A[i]))); break;                                                         \
            }                                                                                                         \
            break;                                                                                                    \
        case GD_AG_REDUCE_ALL: {                                                                                      \
            T g0 = r->op == GD_RED_MEAN ? G[0] / (T)n : G[0];                                                         \
            EACH(g0);                                                                                                 \
            break;                                                                                                    \
        }                                                                                                             \
        }                                                                                                             \
    }                                                                                                                 \
    /* into the leaf's .grad L: gd_add_scaled_'s x + (T)1 * g is x + g */                                            \
    static void add_##S(void *L, const void *O, int64_t n)                                                            \
    {                                                                                                                 \
        T *l = L;                                                                                                     \
        const T *o = O;                                                                                               \
        for (int64_t i = 0; i < n; i++) l[i] = l[i] + o[i];                                                           \
    }

SMALL_FORMULAS(double, d, pow, sin, cos)
SMALL_FORMULAS(float, f, powf, sinf, cosf)

/* Input k's gradient: computed, then added into the leaf's .grad or sent on
   in a reused buffer. */
static int send(const ag_record *r, int k, const void *G, int d, int64_t n, const void *sink)
{
    gd_tensor *t = AG_IN(r)[k];
    double buf[SMALL_MAX];   /* (first here: an input may be the .grad it goes to) */
    if (d == GD_FLOAT64) formulas_d(r, k, G, n, buf);
    else formulas_f(r, k, G, n, (float *)buf);
    gd_tensor *lg = gd_ag_leaf_grad_for_add(t, sink);
    if (lg && flat(lg, d, n) && gd_ag_same_shape(lg, t)) {
        GD_TRY(gd_ag_write(lg, "backward"));
        if (d == GD_FLOAT64) add_d(lg->data, buf, n);
        else add_f(lg->data, buf, n);
        t->grad_received = 1;
        return GD_OK;
    }
    gd_tensor *o;
    GD_TRY(gd_ag_pool_empty(&o, t->rank, t->sizes, d, GD_CPU));
    memcpy(o->data, buf, (size_t)n * gd_dtype_size(d));
    int st = gd_ag_send(t, o, sink);
    gd_tensor_release(o);
    return st;
}

int gd_ag_small_backward(const ag_record *r, const void *sink)
{
    if (off || !has_formula(r)) return GD_AG_NOT_SMALL;
    const gd_tensor *g = r->gout, *a = AG_IN(r)[0];
    if (!a || (a->scalar_type != GD_FLOAT64 && a->scalar_type != GD_FLOAT32)) return GD_AG_NOT_SMALL;
    int d = a->scalar_type;
    int64_t n = a->count;
    if (n > SMALL_MAX || !flat(a, d, n)) return GD_AG_NOT_SMALL;
    if (r->kind == GD_AG_REDUCE_ALL) {
        if (!flat(g, d, 1) || g->rank != 0) return GD_AG_NOT_SMALL;
    } else if (!flat(g, d, n) || !gd_ag_same_shape(g, a)) {
        return GD_AG_NOT_SMALL;
    }
    if (r->kind == GD_AG_BINARY) {
        const gd_tensor *b = AG_IN(r)[1];
        if (!flat(b, d, n) || !gd_ag_same_shape(a, b)) return GD_AG_NOT_SMALL;
    }
    if (r->kind == GD_AG_UNARY && (r->op == GD_OP_EXP || r->op == GD_OP_SQRT || r->op == GD_OP_TANH ||
                                   r->op == GD_OP_SIGMOID) && !flat(r->saved, d, n))
        return GD_AG_NOT_SMALL;
    taken++;
    for (int k = 0; k < r->nin && k < 2; k++)
        if (gd_ag_needs(r, k)) GD_TRY(send(r, k, g->data, d, n, sink));
    return GD_OK;
}
