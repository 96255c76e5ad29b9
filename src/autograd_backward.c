/*
 * autograd_backward.c: the backward of each kind of tape record.
 *
 * Each backward is composed of gd_* operations (grad mode is off while it
 * runs), so every backend that runs the forward runs the backward too; the
 * gd.nn kinds call the modules' own fused backward kernels.  The formulas are
 * PyTorch 1.13's (tools/autograd/derivatives.yaml), cited where a convention
 * is involved (ties of max, the gradient of |x| at 0, clamp at its bounds).
 *
 * A backward writes gin[k], the gradient for input k, in whatever shape the
 * forward broadcast it to; run_backward then sums it back over broadcast
 * dimensions to the input's shape and converts it to the input's dtype
 * (sum_to) before sending it on.
 */
#include "autograd_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ------------------------------------------------------------- scratch */

/* The temporaries of one record's backward, released together.  Every helper
   returns NULL once a step has failed, so a formula is written straight
   through and checked once. */
enum { SCRATCH_MAX = 64 };
typedef struct {
    gd_tensor *t[SCRATCH_MAX];
    int n, st;
} scratch;

static gd_tensor *keep(scratch *s, int st, gd_tensor *t)
{
    if (st) { s->st = st; return NULL; }
    if (s->n == SCRATCH_MAX) {
        gd_tensor_release(t);
        s->st = gd_fail(GD_ENOMEM, "backward: too many temporaries");
        return NULL;
    }
    s->t[s->n++] = t;
    return t;
}

static void scratch_free(scratch *s)
{
    for (int k = 0; k < s->n; k++) gd_tensor_release(s->t[k]);
    s->n = 0;
}

/* No failure so far, and the operands exist (a failed step gave NULL). */
static bool ok(scratch *s, const void *a, const void *b) { return !s->st && a && b; }

static gd_tensor *bin(scratch *s, const gd_tensor *a, const gd_tensor *b, int op)
{
    if (!ok(s, a, b)) return NULL;
    gd_tensor *r = NULL;
    int st_ = gd_binary(&r, a, b, op);
    return keep(s, st_, r);
}

/* a op v */
static gd_tensor *bins(scratch *s, const gd_tensor *a, double v, int op)
{
    if (!ok(s, a, a)) return NULL;
    gd_tensor *r = NULL;
    int st_ = gd_binary_scalar(&r, a, v, op, 0);
    return keep(s, st_, r);
}

/* v op a */
static gd_tensor *sbin(scratch *s, double v, const gd_tensor *a, int op)
{
    if (!ok(s, a, a)) return NULL;
    gd_tensor *r = NULL;
    int st_ = gd_binary_scalar(&r, a, v, op, 1);
    return keep(s, st_, r);
}

static gd_tensor *un(scratch *s, const gd_tensor *a, int op, double p1, double p2)
{
    if (!ok(s, a, a)) return NULL;
    gd_tensor *r = NULL;
    int st_ = gd_unary(&r, a, op, p1, p2);
    return keep(s, st_, r);
}

static gd_tensor *scalar_like(scratch *s, const gd_tensor *like, double v)
{
    if (!ok(s, like, like)) return NULL;
    gd_tensor *r = NULL;
    int st = gd_empty(&r, 0, NULL, like->scalar_type, like->device_kind);
    if (!st) st = gd_fill(r, v);
    if (st) { gd_tensor_release(r); r = NULL; }
    return keep(s, st, r);
}

/* cond ? a : b */
static gd_tensor *where(scratch *s, const gd_tensor *cond, const gd_tensor *a, const gd_tensor *b)
{
    if (!ok(s, cond, a) || !b) return NULL;
    gd_tensor *r = NULL;
    int st_ = gd_where(&r, cond, a, b);
    return keep(s, st_, r);
}

/* g where cond, else 0 */
static gd_tensor *masked(scratch *s, const gd_tensor *cond, const gd_tensor *g)
{
    return where(s, cond, g, scalar_like(s, g, 0));
}

/* Zeros of t's shape (from the reused buffers: src/autograd_pool.c). */
static gd_tensor *zeros_like(scratch *s, const gd_tensor *t, int dtype)
{
    if (!ok(s, t, t)) return NULL;
    gd_tensor *r = NULL;
    int st = gd_ag_pool_zeros(&r, t->rank, t->sizes, dtype, t->device_kind);
    return keep(s, st, r);
}

/* An uninitialised tensor of t's shape and dtype, for a kernel that writes
   every element (the module kernels' input gradients; from the reused
   buffers). */
static gd_tensor *empty_like(scratch *s, const gd_tensor *t)
{
    if (!ok(s, t, t)) return NULL;
    gd_tensor *r = NULL;
    int st = gd_ag_pool_empty(&r, t->rank, t->sizes, t->scalar_type, t->device_kind);
    return keep(s, st, r);
}

static gd_tensor *reshape(scratch *s, const gd_tensor *t, int rank, const int64_t *sizes)
{
    if (!ok(s, t, t)) return NULL;
    gd_tensor *r = NULL;
    int st_ = gd_reshape(&r, t, rank, sizes);
    return keep(s, st_, r);
}

static gd_tensor *expand(scratch *s, const gd_tensor *t, const gd_tensor *like)
{
    if (!ok(s, t, like)) return NULL;
    gd_tensor *r = NULL;
    int st_ = gd_expand(&r, t, like->rank, like->sizes);
    return keep(s, st_, r);
}

static gd_tensor *unsqueeze(scratch *s, const gd_tensor *t, int dim)
{
    if (!ok(s, t, t)) return NULL;
    gd_tensor *r = NULL;
    int st_ = gd_unsqueeze(&r, t, dim);
    return keep(s, st_, r);
}

static gd_tensor *transpose(scratch *s, const gd_tensor *t, int d0, int d1)
{
    if (!ok(s, t, t)) return NULL;
    gd_tensor *r = NULL;
    int st_ = gd_transpose(&r, t, d0, d1);
    return keep(s, st_, r);
}

static gd_tensor *matmul(scratch *s, const gd_tensor *a, const gd_tensor *b)
{
    if (!ok(s, a, b)) return NULL;
    gd_tensor *r = NULL;
    int st_ = gd_matmul(&r, a, b);
    return keep(s, st_, r);
}

static gd_tensor *sum_dim(scratch *s, const gd_tensor *t, int dim, int op)
{
    if (!ok(s, t, t)) return NULL;
    gd_tensor *r = NULL;
    int st_ = gd_reduce_dim(&r, NULL, t, dim, op, 1, 0);
    return keep(s, st_, r);
}

static gd_tensor *total(scratch *s, const gd_tensor *t, int op)
{
    if (!ok(s, t, t)) return NULL;
    gd_tensor *r = NULL;
    int st_ = gd_reduce(&r, t, op, 0);
    return keep(s, st_, r);
}

/* zeros of t's shape with g copied into the view that view_fn makes of it */
typedef int (*view_fn)(gd_tensor **out, const gd_tensor *z, const int64_t *ip);
static gd_tensor *scatter_view(scratch *s, const gd_tensor *like, const gd_tensor *g, view_fn f, const int64_t *ip)
{
    gd_tensor *z = zeros_like(s, like, g ? g->scalar_type : 0);
    if (!ok(s, z, g)) return NULL;
    gd_tensor *v = NULL;
    int st = f(&v, z, ip);
    if (!st) st = gd_copy(v, g);
    gd_tensor_release(v);
    if (st) { s->st = st; return NULL; }
    return z;
}
static int narrow_view(gd_tensor **o, const gd_tensor *z, const int64_t *ip) { return gd_narrow(o, z, (int)ip[0], ip[1], ip[2]); }
static int select_view(gd_tensor **o, const gd_tensor *z, const int64_t *ip) { return gd_select(o, z, (int)ip[0], ip[1]); }
static int diag_view(gd_tensor **o, const gd_tensor *z, const int64_t *ip) { return gd_diagonal(o, z, ip[0]); }

/* g summed over the dimensions that broadcasting stretched, to like's shape,
   dtype and device (NumPy's rules: leading dimensions, and size-1 ones). */
static gd_tensor *sum_to(scratch *s, const gd_tensor *g, const gd_tensor *like)
{
    if (!ok(s, g, like)) return NULL;
    const gd_tensor *r = g;
    int lead = g->rank - like->rank;
    if (lead < 0) { s->st = gd_fail(GD_EINVAL, "backward: a gradient of lower rank than its input"); return NULL; }
    bool reshaped = false;
    for (int d = 0; d < g->rank && r; d++) {
        int ld = d - lead;
        if (d < lead || (like->sizes[ld] == 1 && g->sizes[d] != 1)) {
            r = sum_dim(s, r, d, GD_RED_SUM);
            reshaped = true;
        } else if (like->sizes[ld] != g->sizes[d]) {
            char a[128], b[128];
            s->st = gd_fail(GD_EINVAL, "backward: a gradient of shape %s cannot be summed to shape %s",
                            gd_shape_str(g, a, sizeof a), gd_shape_str(like, b, sizeof b));
            return NULL;
        }
    }
    if (reshaped || lead) r = reshape(s, r, like->rank, like->sizes);
    if (!ok(s, r, r)) return NULL;
    if (r->scalar_type != like->scalar_type || r->device_kind != like->device_kind) {
        gd_tensor *c = NULL;
        int st_c = s->st ? 0 : gd_to(&c, r, like->scalar_type, like->device_kind);
        r = s->st ? NULL : keep(s, st_c, c);
    }
    return (gd_tensor *)r;
}

/* A 0/1 mask as g's dtype (comparisons give masks in their operands' dtype). */
static gd_tensor *as_dtype_of(scratch *s, const gd_tensor *t, const gd_tensor *like)
{
    if (!ok(s, t, like)) return NULL;
    if (t->scalar_type == like->scalar_type) return (gd_tensor *)t;
    gd_tensor *r = NULL;
    int st_ = gd_to(&r, t, like->scalar_type, -1);
    return keep(s, st_, r);
}

/* ------------------------------------------------------------- formulas */

static void binary_backward(scratch *s, const ag_record *r, const gd_tensor *g, gd_tensor **gin)
{
    const gd_tensor *a = AG_IN(r)[0], *b = AG_IN(r)[1];
    switch (r->op) {
    case GD_OP_ADD: gin[0] = (gd_tensor *)g; gin[1] = (gd_tensor *)g; break;
    case GD_OP_SUB:
        gin[0] = (gd_tensor *)g;
        if (gd_ag_needs(r, 1)) gin[1] = un(s, g, GD_OP_NEG, 0, 0);
        break;
    case GD_OP_MUL:
        if (gd_ag_needs(r, 0)) gin[0] = bin(s, g, b, GD_OP_MUL);
        if (gd_ag_needs(r, 1)) gin[1] = bin(s, g, a, GD_OP_MUL);
        break;
    case GD_OP_DIV:
        if (gd_ag_needs(r, 0)) gin[0] = bin(s, g, b, GD_OP_DIV);
        if (gd_ag_needs(r, 1)) /* -g a / b^2 */
            gin[1] = un(s, bin(s, bin(s, g, a, GD_OP_MUL), bin(s, b, b, GD_OP_MUL), GD_OP_DIV), GD_OP_NEG, 0, 0);
        break;
    case GD_OP_POW:
        if (gd_ag_needs(r, 0)) /* g b a^(b-1) */
            gin[0] = bin(s, g, bin(s, b, bin(s, a, bins(s, b, 1, GD_OP_SUB), GD_OP_POW), GD_OP_MUL), GD_OP_MUL);
        if (gd_ag_needs(r, 1)) { /* g a^b log a, 0 where a == 0 and b >= 0 (PyTorch's pow_backward_exponent) */
            gd_tensor *v = bin(s, bin(s, g, r->saved, GD_OP_MUL), un(s, a, GD_OP_LOG, 0, 0), GD_OP_MUL);
            gd_tensor *zero_base = bin(s, bins(s, a, 0, GD_OP_EQ), bins(s, b, 0, GD_OP_GE), GD_OP_MUL);
            gin[1] = where(s, zero_base, scalar_like(s, g, 0), v);
        }
        break;
    case GD_OP_MOD: /* a - floor(a/b) b */
        gin[0] = (gd_tensor *)g;
        if (gd_ag_needs(r, 1)) gin[1] = un(s, bin(s, g, un(s, bin(s, a, b, GD_OP_DIV), GD_OP_FLOOR, 0, 0), GD_OP_MUL),
                                    GD_OP_NEG, 0, 0);
        break;
    case GD_OP_MAXIMUM: case GD_OP_MINIMUM: {
        /* ties share the gradient equally (PyTorch 1.13: grad / 2 where a == b) */
        gd_tensor *tie = where(s, bin(s, a, b, GD_OP_EQ), bins(s, g, 0.5, GD_OP_MUL), g);
        int lose_a = r->op == GD_OP_MAXIMUM ? GD_OP_LT : GD_OP_GT;
        int lose_b = r->op == GD_OP_MAXIMUM ? GD_OP_GT : GD_OP_LT;
        if (gd_ag_needs(r, 0)) gin[0] = where(s, bin(s, a, b, lose_a), scalar_like(s, g, 0), tie);
        if (gd_ag_needs(r, 1)) gin[1] = where(s, bin(s, a, b, lose_b), scalar_like(s, g, 0), tie);
        break;
    }
    default: break; /* comparisons: no gradient */
    }
}

static void binary_scalar_backward(scratch *s, const ag_record *r, const gd_tensor *g, gd_tensor **gin)
{
    const gd_tensor *a = AG_IN(r)[0];
    double v = r->p[0];
    bool first = r->ip[0] != 0;
    switch (r->op) {
    case GD_OP_ADD: gin[0] = (gd_tensor *)g; break;
    case GD_OP_SUB: gin[0] = first ? un(s, g, GD_OP_NEG, 0, 0) : (gd_tensor *)g; break;
    case GD_OP_MUL: gin[0] = bins(s, g, v, GD_OP_MUL); break;
    case GD_OP_DIV:
        gin[0] = first ? un(s, bin(s, bins(s, g, v, GD_OP_MUL), bin(s, a, a, GD_OP_MUL), GD_OP_DIV), GD_OP_NEG, 0, 0)
                       : bins(s, g, v, GD_OP_DIV);
        break;
    case GD_OP_POW:
        if (first) gin[0] = bins(s, bin(s, g, un(s, a, GD_OP_RPOWS, v, 0), GD_OP_MUL), log(v), GD_OP_MUL);
        else if (v == 0) gin[0] = zeros_like(s, g, g->scalar_type);
        else gin[0] = bin(s, bins(s, g, v, GD_OP_MUL), un(s, a, GD_OP_POWS, v - 1, 0), GD_OP_MUL);
        break;
    case GD_OP_MOD:
        gin[0] = first ? un(s, bin(s, g, un(s, sbin(s, v, a, GD_OP_DIV), GD_OP_FLOOR, 0, 0), GD_OP_MUL), GD_OP_NEG, 0, 0)
                       : (gd_tensor *)g;
        break;
    case GD_OP_MAXIMUM: case GD_OP_MINIMUM: {
        gd_tensor *tie = where(s, bins(s, a, v, GD_OP_EQ), bins(s, g, 0.5, GD_OP_MUL), g);
        gin[0] = where(s, bins(s, a, v, r->op == GD_OP_MAXIMUM ? GD_OP_LT : GD_OP_GT), scalar_like(s, g, 0), tie);
        break;
    }
    default: break;
    }
}

static void unary_backward(scratch *s, const ag_record *r, const gd_tensor *g, gd_tensor **gin)
{
    const gd_tensor *a = AG_IN(r)[0], *y = r->saved;
    double p1 = r->p[0], p2 = r->p[1];
    switch (r->op) {
    case GD_OP_NEG: gin[0] = un(s, g, GD_OP_NEG, 0, 0); break;
    case GD_OP_ABS: gin[0] = bin(s, g, un(s, a, GD_OP_SIGN, 0, 0), GD_OP_MUL); break; /* sign(0) = 0, as PyTorch */
    case GD_OP_SQRT: gin[0] = bin(s, g, bins(s, y, 2, GD_OP_MUL), GD_OP_DIV); break;
    case GD_OP_EXP: gin[0] = bin(s, g, y, GD_OP_MUL); break;
    case GD_OP_LOG: gin[0] = bin(s, g, a, GD_OP_DIV); break;
    case GD_OP_SQUARE: gin[0] = bin(s, g, bins(s, a, 2, GD_OP_MUL), GD_OP_MUL); break;
    case GD_OP_SIGN: case GD_OP_FLOOR: case GD_OP_CEIL: case GD_OP_ROUND:
        gin[0] = zeros_like(s, g, g->scalar_type);
        break;
    case GD_OP_RELU: gin[0] = masked(s, bins(s, y, 0, GD_OP_GT), g); break; /* threshold_backward on the result */
    case GD_OP_TANH: /* g (1 - y^2) */
        gin[0] = bin(s, g, sbin(s, 1, bin(s, y, y, GD_OP_MUL), GD_OP_SUB), GD_OP_MUL);
        break;
    case GD_OP_SIGMOID: /* g y (1 - y) */
        gin[0] = bin(s, bin(s, g, y, GD_OP_MUL), sbin(s, 1, y, GD_OP_SUB), GD_OP_MUL);
        break;
    case GD_OP_SIN: gin[0] = bin(s, g, un(s, a, GD_OP_COS, 0, 0), GD_OP_MUL); break;
    case GD_OP_COS: gin[0] = un(s, bin(s, g, un(s, a, GD_OP_SIN, 0, 0), GD_OP_MUL), GD_OP_NEG, 0, 0); break;
    case GD_OP_RSQRT: /* -g y^3 / 2 */
        gin[0] = bins(s, bin(s, g, un(s, y, GD_OP_POWS, 3, 0), GD_OP_MUL), -0.5, GD_OP_MUL);
        break;
    case GD_OP_RECIPROCAL: gin[0] = un(s, bin(s, g, bin(s, y, y, GD_OP_MUL), GD_OP_MUL), GD_OP_NEG, 0, 0); break;
    case GD_OP_CLAMP: /* PyTorch 1.13: the gradient passes where min <= x <= max, bounds included */
        gin[0] = masked(s, bin(s, bins(s, a, p1, GD_OP_GE), bins(s, a, p2, GD_OP_LE), GD_OP_MUL), g);
        break;
    case GD_OP_POWS:
        /* PyTorch's pow_backward: g * (p * a^(p-1)); for p = 2, a^1 is a (one temporary less) */
        if (p1 == 0) gin[0] = zeros_like(s, g, g->scalar_type);
        else if (p1 == 2) gin[0] = bin(s, g, bins(s, a, 2, GD_OP_MUL), GD_OP_MUL);
        else gin[0] = bin(s, g, bins(s, un(s, a, GD_OP_POWS, p1 - 1, 0), p1, GD_OP_MUL), GD_OP_MUL);
        break;
    case GD_OP_RPOWS: gin[0] = bins(s, bin(s, g, y, GD_OP_MUL), log(p1), GD_OP_MUL); break;
    case GD_OP_LOG1P: gin[0] = bin(s, g, bins(s, a, 1, GD_OP_ADD), GD_OP_DIV); break;
    case GD_OP_EXPM1: gin[0] = bin(s, g, bins(s, y, 1, GD_OP_ADD), GD_OP_MUL); break;
    case GD_OP_SOFTPLUS: { /* PyTorch's softplus_backward: g where beta x > threshold, else g sigmoid(beta x) */
        gd_tensor *bx = bins(s, a, p1, GD_OP_MUL);
        gin[0] = where(s, bins(s, bx, p2, GD_OP_GT), g, bin(s, g, un(s, bx, GD_OP_SIGMOID, 0, 0), GD_OP_MUL));
        break;
    }
    default: break;
    }
}

/* The reductions, for the whole tensor (dim < 0: g and y are 0-d) or along
   dim (g and y with that dimension kept, size 1). */
static gd_tensor *reduce_backward(scratch *s, int op, double p, const gd_tensor *a, const gd_tensor *g,
                                  const gd_tensor *y, const gd_tensor *indices, int dim)
{
    double n = dim < 0 ? (double)a->count : (double)a->sizes[dim];
    switch (op) {
    case GD_RED_SUM: return expand(s, g, a);
    case GD_RED_MEAN: return expand(s, bins(s, g, n, GD_OP_DIV), a);
    case GD_RED_MAX: case GD_RED_MIN:
        if (indices) { /* along a dim: to the index the forward reported (PyTorch's value_selecting_reduction) */
            int64_t sizes[GD_MAX_DIMS];
            for (int d = 0; d < a->rank; d++) sizes[d] = d == dim ? a->sizes[d] : 1;
            gd_tensor *ar = NULL;
            int st = gd_empty(&ar, a->rank, sizes, GD_INT64, a->device_kind);
            if (!st) st = gd_fill_range(ar, 0, 1);
            if (st) { gd_tensor_release(ar); ar = NULL; }
            ar = keep(s, st, ar);
            return masked(s, bin(s, ar, indices, GD_OP_EQ), expand(s, g, a));
        } else { /* the whole tensor: shared evenly by the ties (PyTorch's evenly_distribute_backward) */
            gd_tensor *mask = as_dtype_of(s, bin(s, a, y, GD_OP_EQ), g);
            return bin(s, mask, bin(s, g, total(s, mask, GD_RED_SUM), GD_OP_DIV), GD_OP_MUL);
        }
    case GD_RED_NORM:
        if (p == 0) return zeros_like(s, a, g->scalar_type);
        if (p == 1) return bin(s, un(s, a, GD_OP_SIGN, 0, 0), expand(s, g, a), GD_OP_MUL);
        if (isinf(p)) { /* sign(a) g / count over the elements that reach the max |a| */
            gd_tensor *mask = as_dtype_of(s, bin(s, un(s, a, GD_OP_ABS, 0, 0), y, GD_OP_EQ), g);
            gd_tensor *cnt = dim < 0 ? total(s, mask, GD_RED_SUM) : sum_dim(s, mask, dim, GD_RED_SUM);
            return bin(s, bin(s, un(s, a, GD_OP_SIGN, 0, 0), mask, GD_OP_MUL), bin(s, g, cnt, GD_OP_DIV), GD_OP_MUL);
        }
        { /* a |a|^(p-2) g / y^(p-1), 0 where the norm is 0 */
            gd_tensor *num = p == 2 ? (gd_tensor *)a
                                    : bin(s, a, un(s, un(s, a, GD_OP_ABS, 0, 0), GD_OP_POWS, p - 2, 0), GD_OP_MUL);
            gd_tensor *den = p == 2 ? (gd_tensor *)y : un(s, y, GD_OP_POWS, p - 1, 0);
            gd_tensor *v = bin(s, num, bin(s, g, den, GD_OP_DIV), GD_OP_MUL);
            return where(s, expand(s, bins(s, y, 0, GD_OP_EQ), a), scalar_like(s, g, 0), v);
        }
    case GD_RED_LOGSUMEXP: return bin(s, g, un(s, bin(s, a, y, GD_OP_SUB), GD_OP_EXP, 0, 0), GD_OP_MUL);
    case GD_RED_VAR: case GD_RED_STD: {
        gd_tensor *mean = dim < 0 ? total(s, a, GD_RED_MEAN) : sum_dim(s, a, dim, GD_RED_MEAN);
        gd_tensor *dev = bin(s, a, mean, GD_OP_SUB);
        double m = n - p;
        if (op == GD_RED_VAR) return bin(s, dev, bins(s, g, 2 / m, GD_OP_MUL), GD_OP_MUL);
        return bin(s, dev, bin(s, g, bins(s, y, m, GD_OP_MUL), GD_OP_DIV), GD_OP_MUL);
    }
    case GD_RED_PROD: /* y / a: exact where no element is 0 */
        return bin(s, bin(s, g, y, GD_OP_MUL), a, GD_OP_DIV);
    default: return NULL;
    }
}

static void matmul_backward(scratch *s, const ag_record *r, const gd_tensor *g, gd_tensor **gin)
{
    const gd_tensor *a = AG_IN(r)[0], *b = AG_IN(r)[1];
    /* 1-D operands as the matrices matmul made of them: a row (1 x k), a column (k x 1) */
    const gd_tensor *a2 = a->rank == 1 ? unsqueeze(s, a, 0) : a;
    const gd_tensor *b2 = b->rank == 1 ? unsqueeze(s, b, 1) : b;
    if (!ok(s, a2, b2)) return;
    int batched = a2->rank == 3 || b2->rank == 3;
    int64_t gs[3];
    int gr = 0;
    if (batched) gs[gr++] = g->sizes[0];
    gs[gr++] = a2->sizes[a2->rank - 2];
    gs[gr++] = b2->sizes[b2->rank - 1];
    const gd_tensor *g2 = reshape(s, g, gr, gs);
    if (gd_ag_needs(r, 0)) {   /* g b^T, summed over a broadcast batch */
        gd_tensor *ga = matmul(s, g2, transpose(s, b2, b2->rank - 2, b2->rank - 1));
        gin[0] = reshape(s, sum_to(s, ga, a2), a->rank, a->sizes);
    }
    if (gd_ag_needs(r, 1)) {   /* a^T g */
        gd_tensor *gb = matmul(s, transpose(s, a2, a2->rank - 2, a2->rank - 1), g2);
        gin[1] = reshape(s, sum_to(s, gb, b2), b->rank, b->sizes);
    }
}

/* index_select's backward: rows of g added back at their indices, as a
   one-hot matrix product (size x m) @ (m x rest), on any backend. */
static gd_tensor *index_select_backward(scratch *s, const gd_tensor *t, const gd_tensor *index, const gd_tensor *g,
                                        int dim)
{
    int64_t n = t->sizes[dim], m = index->count;
    int64_t cs[2] = {n, 1}, rs[2] = {1, m};
    gd_tensor *ar = NULL;
    int st = gd_empty(&ar, 2, cs, GD_INT64, t->device_kind);
    if (!st) st = gd_fill_range(ar, 0, 1);
    if (st) { gd_tensor_release(ar); ar = NULL; }
    ar = keep(s, st, ar);
    gd_tensor *onehot = as_dtype_of(s, bin(s, ar, reshape(s, index, 2, rs), GD_OP_EQ), g);
    gd_tensor *gt = transpose(s, g, 0, dim);                      /* m x ...rest */
    if (!ok(s, gt, onehot)) return NULL;
    int64_t flat[2] = {m, m ? g->count / m : 0};
    gd_tensor *sum = matmul(s, onehot, reshape(s, gt, 2, flat)); /* n x rest */
    if (!ok(s, sum, sum)) return NULL;
    int64_t back[GD_MAX_DIMS];
    for (int d = 0; d < gt->rank; d++) back[d] = gt->sizes[d];
    back[0] = n;
    return transpose(s, reshape(s, sum, gt->rank, back), 0, dim);
}

/* Where a module kernel accumulates the gradient of parameter input k:
   straight into its .grad (the model's arena) when it is a leaf that has one
   and the backward fills .grad (sent[k]: nothing more to send), otherwise
   into zeros sent on as any input's gradient. */
static gd_tensor *param_grad(scratch *s, const ag_record *r, int k, const void *sink, bool *sent)
{
    gd_tensor *p = AG_IN(r)[k];
    if (!gd_ag_needs(r, k)) return NULL;
    if (((const gd_ag_sink *)sink)->n == 0 && !p->grad_node && p->gradient && p->gradient->is_contiguous) {
        sent[k] = true;
        p->grad_received = 1;
        return p->gradient;
    }
    return zeros_like(s, p, p->scalar_type);
}

/* g, contiguous (the module kernels read it flat). */
static const gd_tensor *contiguous(scratch *s, const gd_tensor *g)
{
    if (s->st || g->is_contiguous) return s->st ? NULL : g;
    gd_tensor *c = NULL;
    int st_c = gd_contiguous(&c, g);
    return keep(s, st_c, c);
}

/* A fresh 1-D workspace of n elements of t's dtype (a convolution's im2col
   matrix of one sample). */
static gd_tensor *workspace(scratch *s, const gd_tensor *t, int64_t n)
{
    if (s->st) return NULL;
    gd_tensor *r = NULL;
    int64_t sz[1] = {n > 0 ? n : 1};
    int st = gd_empty(&r, 1, sz, t->scalar_type, t->device_kind);
    return keep(s, st, r);
}

/* Elements [start, start + len) of a 1-D tensor. */
static const gd_tensor *slice(scratch *s, const gd_tensor *t, int64_t start, int64_t len)
{
    if (!ok(s, t, t)) return NULL;
    gd_tensor *v = NULL;
    int st = gd_narrow(&v, t, 0, start, len);
    return keep(s, st, v);
}

/* The two halves of a module's saved statistics ({mean, invstd}, 1-D). */
static void halves(scratch *s, const gd_tensor *saved, const gd_tensor **a, const gd_tensor **b)
{
    int64_t h = saved->count / 2;
    gd_tensor *lo = NULL, *hi = NULL;
    int st = gd_narrow(&lo, saved, 0, 0, h);
    *a = keep(s, st, lo);
    if (s->st) return;
    st = gd_narrow(&hi, saved, 0, h, h);
    *b = keep(s, st, hi);
}

/* The gd.nn kinds: the modules' fused kernels. */
static void nn_backward(scratch *s, const ag_record *r, const gd_tensor *g, gd_tensor **gin, const void *sink,
                        bool *sent)
{
    const gd_tensor *x = AG_IN(r)[0];
    switch (r->op) {
    case GD_AG_NN_LINEAR: case GD_AG_NN_CONV2D: case GD_AG_NN_CONV_T2D: case GD_AG_NN_BATCHNORM:
    case GD_AG_NN_ROWNORM: {
        /* kernels that overwrite gx (the module path hands them its reused
           buffer as it is) and accumulate into gw, gb; no gx at all when x
           needs none (the first layer's input) */
        gd_tensor *gx = gd_ag_needs(r, 0) ? empty_like(s, x) : NULL;
        gd_tensor *gp[3] = {NULL, NULL, NULL};
        for (int k = 1; k < r->nin; k++) gp[k] = param_grad(s, r, k, sink, sent);
        const gd_tensor *gy = contiguous(s, g);
        if (s->st || !gy) return;
        const gd_tensor *w = r->nin > 1 ? AG_IN(r)[1] : NULL;
        switch (r->op) {
        case GD_AG_NN_LINEAR: s->st = gd_nn_linear_backward(gx, gp[1], gp[2], gy, x, w); break;
        case GD_AG_NN_CONV2D: case GD_AG_NN_CONV_T2D: {
            int64_t shp[5];
            bool t = r->op == GD_AG_NN_CONV_T2D;
            s->st = t ? gd_nn_conv_transpose2d_shape(shp, x, w, r->ip) : gd_nn_conv2d_shape(shp, x, w, r->ip);
            gd_tensor *col = s->st ? NULL : workspace(s, x, shp[x->rank]);   /* {N, O, spatial..., ws} */
            if (!col) return;
            s->st = t ? gd_nn_conv_transpose2d_backward(gx, gp[1], gp[2], col, gy, x, w, r->ip)
                      : gd_nn_conv2d_backward(gx, gp[1], gp[2], col, gy, x, w, r->ip);
            break;
        }
        case GD_AG_NN_BATCHNORM: case GD_AG_NN_ROWNORM: {
            const gd_tensor *mean = NULL, *spread = NULL;
            halves(s, r->saved, &mean, &spread);
            if (s->st) return;
            s->st = r->op == GD_AG_NN_BATCHNORM
                        ? gd_nn_batchnorm_backward(gx, gp[1], gp[2], gy, x, w, mean, spread, (int)r->ip[0])
                        : gd_nn_rownorm_backward(gx, gp[1], gp[2], gy, x, w, mean, spread, r->ip[0], r->ip[1],
                                                 r->ip[2]);
            break;
        }
        default: break;
        }
        if (s->st) return;
        for (int k = 1; k < r->nin; k++) if (sent[k]) gd_tensor_bump_version(gp[k]);
        /* DataParallel: a bucket whose gradients are all in goes on the wire now */
        for (int k = 1; k < r->nin && !s->st; k++) if (sent[k]) s->st = gd_ag_leaf_written(AG_IN(r)[k]);
        gin[0] = gx;
        for (int k = 1; k < r->nin; k++) if (!sent[k]) gin[k] = gp[k];
        break;
    }
    case GD_AG_NN_POOL2D: {
        gd_tensor *gx = empty_like(s, x);   /* (overwritten, as in the module path) */
        const gd_tensor *gy = contiguous(s, g);
        if (s->st || !gx || !gy) return;
        s->st = gd_nn_pool2d_backward(gx, gy, r->saved, x, r->ip, (int)r->ip[11]);
        gin[0] = gx;
        break;
    }
    case GD_AG_NN_RNN: {
        /* the flat output: [y | hn | cn (LSTM) | workspace], and its gradient;
           ip[6] = LSTM's proj_size P (h is B x P), ip[7] the gate gradient
           clip's bits (a double) */
        int64_t T = r->ip[0], B = r->ip[1], H = r->ip[2], DH = r->ip[3], P = r->nip > 6 ? r->ip[6] : 0;
        int mode = (int)r->ip[4], dir = (int)r->ip[5];
        double clip = 0;
        if (r->nip > 7) memcpy(&clip, &r->ip[7], sizeof clip);
        int64_t HW = P ? P : H, ny = T * B * DH, nh = B * HW, nc = mode == GD_NN_LSTM ? B * H : 0;
        int64_t fws = 0, bws_n = 0;
        s->st = gd_nn_rnn_workspace(&fws, &bws_n, mode, T, B, H, P);
        const gd_tensor *gf = contiguous(s, g);
        if (s->st || !gf) return;
        int64_t ys[3] = {T, B, DH}, hs[2] = {B, HW}, cs[2] = {B, H};
        const gd_tensor *gy = reshape(s, slice(s, gf, 0, ny), 3, ys), *ghn = reshape(s, slice(s, gf, ny, nh), 2, hs);
        const gd_tensor *gcn = nc ? reshape(s, slice(s, gf, ny + nh, nc), 2, cs) : NULL;
        const gd_tensor *y = reshape(s, slice(s, r->saved, 0, ny), 3, ys);
        const gd_tensor *ws = slice(s, r->saved, ny + nh + nc, fws);
        gd_tensor *bws = workspace(s, x, bws_n);
        gd_tensor *gx = zeros_like(s, x, x->scalar_type);
        const gd_tensor *h0 = r->nin > 3 ? AG_IN(r)[3] : NULL, *c0 = r->nin > 4 ? AG_IN(r)[4] : NULL;
        gd_tensor *gh0 = h0 && gd_ag_needs(r, 3) ? zeros_like(s, h0, h0->scalar_type) : NULL;
        gd_tensor *gc0 = c0 && gd_ag_needs(r, 4) ? zeros_like(s, c0, c0->scalar_type) : NULL;
        gd_tensor *gp[8] = {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
        static const int params[5] = {1, 2, 5, 6, 7};   /* w_ih, w_hh, b_ih, b_hh, w_hr */
        for (int j = 0; j < 5; j++) if (params[j] < r->nin) gp[params[j]] = param_grad(s, r, params[j], sink, sent);
        if (s->st || !gy || !ghn || !y || !ws || !bws || !gx) return;
        const gd_tensor *w_hr = r->nin > 7 ? AG_IN(r)[7] : NULL;
        s->st = gd_nn_rnn_backward(gx, gh0, gc0, gp[1], gp[2], gp[5], gp[6], gp[7], bws, gy, ghn, gcn, ws, x, y, h0,
                                   c0, AG_IN(r)[1], AG_IN(r)[2], w_hr, mode, dir, 0, clip);
        if (s->st) return;
        for (int j = 0; j < 5; j++) {
            int k = params[j];
            if (k >= r->nin || !gp[k]) continue;
            if (sent[k]) {
                gd_tensor_bump_version(gp[k]);
                /* DataParallel: a bucket whose gradients are all in goes on the wire now */
                if (!s->st) s->st = gd_ag_leaf_written(AG_IN(r)[k]);
            } else {
                gin[k] = gp[k];
            }
        }
        if (s->st) return;
        gin[0] = gx;
        if (r->nin > 3) gin[3] = gh0;
        if (r->nin > 4) gin[4] = gc0;
        break;
    }
    case GD_AG_NN_EMBEDDING: {
        gd_tensor *gw = param_grad(s, r, 0, sink, sent);
        const gd_tensor *gy = contiguous(s, g);
        if (s->st || !gw || !gy) return;
        s->st = gd_nn_embedding_backward(gw, gy, r->saved, r->ip[0], (int)r->ip[1]);
        if (s->st) return;
        if (sent[0]) {
            gd_tensor_bump_version(gw);
            s->st = gd_ag_leaf_written(AG_IN(r)[0]);
        } else {
            gin[0] = gw;
        }
        break;
    }
    case GD_AG_NN_ACTIVATION: case GD_AG_NN_SOFTMAX: {
        gd_tensor *gx = empty_like(s, r->saved);   /* element-wise: every element written */
        if (!gx) return;
        s->st = r->op == GD_AG_NN_ACTIVATION ? gd_nn_activation_backward(gx, g, r->saved, (int)r->ip[0])
                                             : gd_nn_softmax_backward(gx, g, r->saved, (int)r->ip[0]);
        gin[0] = gx;
        break;
    }
    case GD_AG_NN_LOSS_GRAD: {
        /* the implied 1 of loss:backward(): the loss's own gradient goes on
           as it is, read only by the backward kernels below (gd.grad, which
           hands gradients out, gets a product of its own) */
        if (g == gd_ag_implied_seed && ((const gd_ag_sink *)sink)->n == 0) {
            gin[0] = r->saved;
            break;
        }
        const gd_tensor *gg = r->nip > 0 && r->ip[0] ? unsqueeze(s, g, g->rank) : g;
        gin[0] = bin(s, r->saved, gg, GD_OP_MUL);
        break;
    }
    default: break;
    }
}

/* ------------------------------------------------------------ dispatch */

int gd_ag_backward_record(ag_record *r, const void *sink)
{
    int small = gd_ag_small_backward(r, sink);
    if (small != GD_AG_NOT_SMALL) return small;
    scratch sc;   /* (t[] is read only below n: no 512-byte clear) */
    sc.n = 0;
    sc.st = 0;
    scratch *s = &sc;
    const gd_tensor *g = r->gout;
    gd_tensor *gin_inline[AG_INLINE_IN] = {NULL, NULL, NULL};
    gd_tensor **gin = gin_inline;
    bool sent_inline[AG_INLINE_IN] = {false, false, false};
    bool *sent = sent_inline;
    if (r->nin > AG_INLINE_IN) {
        gin = calloc((size_t)r->nin, sizeof *gin);
        sent = calloc((size_t)r->nin, sizeof *sent);
        if (!gin || !sent) { free(gin); free(sent); return gd_fail(GD_ENOMEM, "backward: out of memory"); }
    }
    const gd_tensor *a = AG_IN(r)[0];
    switch (r->kind) {
    case GD_AG_BINARY: binary_backward(s, r, g, gin); break;
    case GD_AG_BINARY_SCALAR: binary_scalar_backward(s, r, g, gin); break;
    case GD_AG_UNARY: unary_backward(s, r, g, gin); break;
    case GD_AG_REDUCE_ALL: gin[0] = reduce_backward(s, r->op, r->p[0], a, g, r->saved, NULL, -1); break;
    case GD_AG_REDUCE_DIM: {
        int dim = (int)r->ip[0];
        bool keepdim = r->ip[1] != 0;
        const gd_tensor *gk = keepdim ? g : unsqueeze(s, g, dim);
        const gd_tensor *ik = NULL, *yk = NULL;
        if (r->op == GD_RED_MAX || r->op == GD_RED_MIN) ik = keepdim ? r->saved : unsqueeze(s, r->saved, dim);
        else if (r->saved) yk = keepdim ? r->saved : unsqueeze(s, r->saved, dim);
        gin[0] = reduce_backward(s, r->op, r->p[0], a, gk, yk, ik, dim);
        break;
    }
    case GD_AG_MATMUL: matmul_backward(s, r, g, gin); break;
    case GD_AG_RESHAPE: gin[0] = reshape(s, g, a->rank, a->sizes); break;
    case GD_AG_EXPAND: case GD_AG_CONVERT: gin[0] = (gd_tensor *)g; break;
    case GD_AG_PERMUTE: {
        int inv[GD_MAX_DIMS];
        for (int d = 0; d < a->rank; d++) inv[r->ip[d]] = d;
        gd_tensor *t = NULL;
        if (!s->st) {
            int st_t = gd_permute(&t, g, a->rank, inv);
            gin[0] = keep(s, st_t, t);
        }
        break;
    }
    case GD_AG_NARROW: gin[0] = scatter_view(s, a, g, narrow_view, r->ip); break;
    case GD_AG_SELECT: gin[0] = scatter_view(s, a, g, select_view, r->ip); break;
    case GD_AG_DIAGONAL: gin[0] = scatter_view(s, a, g, diag_view, r->ip); break;
    case GD_AG_INDEX_SELECT: gin[0] = index_select_backward(s, a, AG_IN(r)[1], g, (int)r->ip[0]); break;
    case GD_AG_CAT: {
        int dim = (int)r->ip[0];
        int64_t off = 0;
        for (int k = 0; k < r->nin && !s->st; k++) {
            int64_t len = AG_IN(r)[k]->rank > dim ? AG_IN(r)[k]->sizes[dim] : 0;
            gd_tensor *v = NULL;
            if (gd_ag_needs(r, k)) {
                int st_v = gd_narrow(&v, g, dim, off, len);
                gin[k] = keep(s, st_v, v);
            }
            off += len;
        }
        break;
    }
    case GD_AG_WHERE: {
        const gd_tensor *cond = AG_IN(r)[2];
        gd_tensor *zero = scalar_like(s, g, 0);
        if (gd_ag_needs(r, 0)) gin[0] = where(s, cond, g, zero);
        if (gd_ag_needs(r, 1)) gin[1] = where(s, cond, zero, g);
        break;
    }
    case GD_AG_CUMSUM: { /* the reversed cumulative sum: sum(g) - cumsum(g) + g */
        int dim = (int)r->ip[0];
        gd_tensor *c = NULL;
        int st_c = s->st ? 0 : gd_cumsum(&c, g, dim);
        gd_tensor *cs = s->st ? NULL : keep(s, st_c, c);
        gin[0] = bin(s, bin(s, sum_dim(s, g, dim, GD_RED_SUM), cs, GD_OP_SUB), g, GD_OP_ADD);
        break;
    }
    case GD_AG_NN: nn_backward(s, r, g, gin, sink, sent); break;
    default: s->st = gd_fail(GD_EINVAL, "backward: unknown record kind %d", r->kind); break;
    }
    int no_grad_in = r->kind == GD_AG_WHERE ? 2 : r->kind == GD_AG_INDEX_SELECT ? 1 : -1;
    for (int k = 0; k < r->nin && !s->st; k++) {
        if (k == no_grad_in || sent[k] || !gin[k] || !gd_ag_needs(r, k)) continue;
        gd_tensor *gk = sum_to(s, gin[k], AG_IN(r)[k]);
        if (gk) s->st = gd_ag_send(AG_IN(r)[k], gk, sink);
    }
    int st = s->st;
    scratch_free(s);
    if (gin != gin_inline) { free(gin); free(sent); }
    return st;
}

/* ---------------------------------------------------------------- names */

const char *gd_ag_kind_name(int kind, int op)
{
    /* the op names from the one list of operations (src/ops.def) */
    static const char *bin_names[] = {
#define GD_BINOP(ID, name, int64, doc) #name,
#include "ops.def"
#undef GD_BINOP
    };
    static const char *un_names[] = {
#define GD_UNOP(ID, name, int64, doc) #name,
#include "ops.def"
#undef GD_UNOP
    };
    static const char *red_names[] = {
#define GD_REDOP(ID, name, doc) #name,
#include "ops.def"
#undef GD_REDOP
    };
    static const char *nn_names[] = {"Linear", "an activation", "softmax", "a loss", "a convolution",
                                     "ConvTranspose2d", "pooling", "BatchNorm", "a layer or group norm",
                                     "Embedding", "a recurrent layer"};
    static const char *kind_names[] = {"", "", "", "", "", "matmul", "view", "expand", "permute", "narrow",
                                       "select", "diagonal", "to", "index_select", "cat", "where", "cumsum", ""};
    switch (kind) {
    case GD_AG_BINARY: case GD_AG_BINARY_SCALAR: return op >= 0 && op < GD_BINOP_COUNT ? bin_names[op] : "?";
    case GD_AG_UNARY: return op >= 0 && op < GD_UNOP_COUNT ? un_names[op] : "?";
    case GD_AG_REDUCE_ALL: case GD_AG_REDUCE_DIM: return op >= 0 && op < GD_REDOP_COUNT ? red_names[op] : "?";
    case GD_AG_NN: return op >= 0 && op < GD_AG_NN_KIND_COUNT ? nn_names[op] : "?";
    default: return kind >= 0 && kind < GD_AG_KIND_COUNT ? kind_names[kind] : "?";
    }
}
