/*
 * autograd_small.c: the backward of a small element-wise record in one pass.
 *
 * The general backward (src/autograd_backward.c) composes each formula from
 * gd_* operations: pow's g * (a * 2) is two operations, two new tensors, two
 * trips through the checks, the iterator and the backend table.  For the
 * 2-element tensors of the d2l quadratic that machinery is most of a step.
 * Here the records whose formulas are element-wise (arithmetic without
 * broadcasting, arithmetic with a number, the unary functions, sum and mean
 * of everything) on small contiguous float64 CPU tensors are computed as one
 * loop per input into a tensor from the backward's reused buffers
 * (src/autograd_pool.c), which is then sent on as the general path sends its
 * result.  Anything else (broadcasting, other dtypes, views, the GPU, other
 * ops) returns GD_AG_NOT_SMALL and runs the general backward.
 *
 * Each loop performs the general formula's operations in the same order, in
 * double, so both paths give the same bits (spec/autograd_small_spec.lua
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

/* A contiguous float64 CPU tensor of n elements. */
static bool flat(const gd_tensor *t, int64_t n)
{
    return t && !t->is_freed && t->device_kind == GD_CPU && t->scalar_type == GD_FLOAT64 && t->is_contiguous &&
           t->count == n && t->data;
}

static bool same_shape(const gd_tensor *a, const gd_tensor *b)
{
    if (a->rank != b->rank) return false;
    for (int d = 0; d < a->rank; d++)
        if (a->sizes[d] != b->sizes[d]) return false;
    return true;
}

static bool needs(const ag_record *r, int k) { return k < r->nin && AG_IN(r)[k] && AG_IN(r)[k]->requires_grad; }

/* x^p as the unary kernel computes it (src/cpu/elementwise.c: x^2 is x*x) */
static double pows(double x, double p) { return p == 2 ? x * x : pow(x, p); }

#define EACH(EXPR)                                                                                                    \
    do {                                                                                                              \
        for (int64_t i = 0; i < n; i++) O[i] = (EXPR);                                                                \
    } while (0)

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

/* The gradient for input k (of n elements, given shape): computed into a
   reused buffer and sent on. */
static int send(const ag_record *r, int k, const double *G, int64_t n, const void *sink)
{
    gd_tensor *t = AG_IN(r)[k];
    double O[SMALL_MAX];   /* (first here: an input may be the .grad it goes to) */
    const double *A = AG_IN(r)[0]->data;
    const double *Y = r->saved ? (const double *)r->saved->data : NULL;
    double p = r->p[0];
    switch (r->kind) {
    case GD_AG_BINARY: {
        const double *B = AG_IN(r)[1]->data;
        switch (r->op) {
        case GD_OP_ADD: EACH(G[i]); break;
        case GD_OP_SUB: if (k == 0) EACH(G[i]); else EACH(-G[i]); break;
        case GD_OP_MUL: if (k == 0) EACH(G[i] * B[i]); else EACH(G[i] * A[i]); break;
        case GD_OP_DIV: /* -g a / b^2 for b */
            if (k == 0) EACH(G[i] / B[i]);
            else EACH(-((G[i] * A[i]) / (B[i] * B[i])));
            break;
        }
        break;
    }
    case GD_AG_BINARY_SCALAR: {
        bool first = r->ip[0] != 0;   /* v op a */
        switch (r->op) {
        case GD_OP_ADD: EACH(G[i]); break;
        case GD_OP_SUB: if (first) EACH(-G[i]); else EACH(G[i]); break;
        case GD_OP_MUL: EACH(G[i] * p); break;
        case GD_OP_DIV:
            if (first) EACH(-((G[i] * p) / (A[i] * A[i])));
            else EACH(G[i] / p);
            break;
        }
        break;
    }
    case GD_AG_UNARY:
        switch (r->op) {
        case GD_OP_NEG: EACH(-G[i]); break;
        case GD_OP_SQUARE: EACH(G[i] * (A[i] * 2)); break;
        case GD_OP_POWS:
            if (p == 0) EACH(0.0);
            else if (p == 2) EACH(G[i] * (A[i] * 2));
            else EACH(G[i] * (pows(A[i], p - 1) * p));
            break;
        case GD_OP_EXP: EACH(G[i] * Y[i]); break;
        case GD_OP_LOG: EACH(G[i] / A[i]); break;
        case GD_OP_SQRT: EACH(G[i] / (Y[i] * 2)); break;
        case GD_OP_TANH: EACH(G[i] * (1 - Y[i] * Y[i])); break;
        case GD_OP_SIGMOID: EACH((G[i] * Y[i]) * (1 - Y[i])); break;
        case GD_OP_SIN: EACH(G[i] * cos(A[i])); break;
        case GD_OP_COS: EACH(-(G[i] * sin(A[i]))); break;
        }
        break;
    case GD_AG_REDUCE_ALL: {
        double v = r->op == GD_RED_MEAN ? G[0] / (double)n : G[0];
        EACH(v);
        break;
    }
    }
    /* into the leaf's .grad: its x + 1 * g (gd_add_scaled_'s axpy) is x + g */
    gd_tensor *lg = gd_ag_leaf_grad_for_add(t, sink);
    if (lg && flat(lg, n) && same_shape(lg, t)) {
        GD_TRY(gd_ag_write(lg, "backward"));
        double *L = lg->data;
        for (int64_t i = 0; i < n; i++) L[i] = L[i] + O[i];
        t->grad_received = 1;
        return GD_OK;
    }
    gd_tensor *o;
    GD_TRY(gd_ag_pool_empty(&o, t->rank, t->sizes, GD_FLOAT64, GD_CPU));
    memcpy(o->data, O, (size_t)n * sizeof *O);
    int st = gd_ag_send(t, o, sink);
    gd_tensor_release(o);
    return st;
}

int gd_ag_small_backward(const ag_record *r, const void *sink)
{
    if (off || !has_formula(r)) return GD_AG_NOT_SMALL;
    const gd_tensor *g = r->gout, *a = AG_IN(r)[0];
    if (!a) return GD_AG_NOT_SMALL;
    int64_t n = a->count;
    if (n > SMALL_MAX || !flat(a, n)) return GD_AG_NOT_SMALL;
    if (r->kind == GD_AG_REDUCE_ALL) {
        if (!flat(g, 1) || g->rank != 0) return GD_AG_NOT_SMALL;
    } else if (!flat(g, n) || !same_shape(g, a)) {
        return GD_AG_NOT_SMALL;
    }
    if (r->kind == GD_AG_BINARY) {
        const gd_tensor *b = AG_IN(r)[1];
        if (!flat(b, n) || !same_shape(a, b)) return GD_AG_NOT_SMALL;
    }
    if (r->kind == GD_AG_UNARY && (r->op == GD_OP_EXP || r->op == GD_OP_SQRT || r->op == GD_OP_TANH ||
                                   r->op == GD_OP_SIGMOID) && !flat(r->saved, n))
        return GD_AG_NOT_SMALL;
    const double *G = g->data;
    taken++;
    for (int k = 0; k < r->nin && k < 2; k++)
        if (needs(r, k)) GD_TRY(send(r, k, G, n, sink));
    return GD_OK;
}
