/*
 * elementwise.c: binary, unary and ternary element-wise operations with NumPy
 * broadcasting and PyTorch's type promotion: the device-independent half.
 * Here: argument checks, the result's dtype, broadcasting into an iteration
 * (src/iter.c), operands converted or copied where they overlap the output,
 * and the int64 edge rules (kernels/elementwise.h), applied once for every
 * device; then backend_of(device) runs the loops (src/cpu/elementwise.c,
 * cuda/elementwise.cu).
 */
#include "internal.h"
#include "autograd.h"
#include "backend.h"
#include "kernels/elementwise.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* --------------------------------------------------------------- binary */
static const char *binop_name(int op)
{
    static const char *names[GD_BINOP_COUNT] = {
#define GD_BINOP(ID, name, int64, doc) #name,
#include "ops.def"
    };
    return op >= 0 && op < GD_BINOP_COUNT ? names[op] : "?";
}

/* The dtype a binary op computes in: PyTorch's promotion, and true division
   of integers in float32. */
static int binary_compute_dtype(int da, int db, int op)
{
    static const bool keeps_int64[GD_BINOP_COUNT] = {
#define GD_BINOP(ID, name, int64, doc) int64,
#include "ops.def"
    };
    int d = gd_promote(da, db);
    if (d == GD_INT64 && !keeps_int64[op]) d = GD_FLOAT32;
    return d;
}

/* t itself (retained) when it
   already has dtype d, else a converted copy. */
static int as_dtype(gd_tensor **out, const gd_tensor *t, int d)
{
    if (t->scalar_type == d) {
        gd_tensor_retain((gd_tensor *)t);
        *out = (gd_tensor *)t;
        return GD_OK;
    }
    gd_tensor *r;
    GD_TRY(gd_empty(&r, t->rank, t->sizes, d, t->device_kind));
    int st = gd_copy(r, t);
    if (st) { gd_tensor_release(r); return st; }
    *out = r;
    return GD_OK;
}

/* An operand for an in-place write into dst: converted to dtype d, and a
   private copy when it shares memory with dst in any other arrangement than
   dst's own (then reading it while dst is written would see new values). */
static int inplace_operand(gd_tensor **out, const gd_tensor *dst, const gd_tensor *t, int d)
{
    if (t->storage && gd_views_conflict(dst, t)) {
        gd_tensor *r;
        GD_TRY(gd_empty(&r, t->rank, t->sizes, d, t->device_kind));
        int st = gd_copy(r, t);
        if (st) { gd_tensor_release(r); return st; }
        *out = r;
        return GD_OK;
    }
    return as_dtype(out, t, d);
}

/* The int64 rules for a tensor operand, checked on every device before a
   kernel runs (a kernel cannot report them): rhs is the divisor (mod) or the
   exponent (pow). */
static int check_int_operand(const gd_tensor *rhs, int op)
{
    double v;
    if (rhs->count == 0) return GD_OK;
    if (op == GD_OP_MOD) {
        GD_TRY(gd_reduce_all(rhs, GD_RED_NORM, 0, &v)); /* the count of nonzeros */
        if (v < (double)rhs->count) return gd_fail(GD_EINVAL, "integer modulo by zero");
    } else if (op == GD_OP_POW) {
        GD_TRY(gd_reduce_all(rhs, GD_RED_MIN, 0, &v));
        if (v < 0) return gd_fail(GD_EINVAL, "integers to negative integer powers are not allowed");
    }
    return GD_OK;
}

/* the same rules for a scalar operand */
static int check_int_scalar(double s, int op)
{
    if (op == GD_OP_MOD && s == 0) return gd_fail(GD_EINVAL, "integer modulo by zero");
    if (op == GD_OP_POW && s < 0) return gd_fail(GD_EINVAL, "integers to negative integer powers are not allowed");
    return GD_OK;
}

/* Runs the op over an iterator whose operands all have dtype d; rhs is the
   right operand (operand 2 of the iterator). */
static int run_binary(const gd_iter *it, int d, int op, int device, const gd_tensor *rhs)
{
    const gd_backend *b = gd_backend_of(device);
    if (!b) return GD_EDEVICE;
    if (d == GD_INT64) GD_TRY(check_int_operand(rhs, op));
    return GD_BACKEND_CALL(b, binop_name(op), binary(it, d, op));
}

/* Both dense, of one shape and dtype. */
static inline bool dense_same(const gd_tensor *a, const gd_tensor *b)
{
    if (a->scalar_type != b->scalar_type || !a->is_contiguous || !b->is_contiguous || a->rank != b->rank ||
        a->count != b->count)
        return false;
    for (int d = 0; d < a->rank; d++)
        if (a->sizes[d] != b->sizes[d]) return false;
    return true;
}

static int binary_impl(gd_tensor **out, const gd_tensor *a, const gd_tensor *b, int op)
{
    if (op < 0 || op >= GD_BINOP_COUNT) return gd_fail(GD_EINVAL, "unknown binary operation %d", op);
    GD_TRY(gd_check_same_device(a, b));
    /* dense operands of one shape and of the dtype the op computes in (most
       operations, and every one of an autograd step on small tensors): no
       broadcasting, no conversions, one flat run */
    if (dense_same(a, b) && binary_compute_dtype(a->scalar_type, b->scalar_type, op) == a->scalar_type) {
        gd_tensor *r;
        GD_TRY(gd_empty(&r, a->rank, a->sizes, a->scalar_type, a->device_kind));
        gd_iter it;
        const gd_tensor *ops[3] = {r, a, b};
        gd_iter_flat(&it, 3, ops);
        int st = run_binary(&it, a->scalar_type, op, a->device_kind, b);
        if (st) { gd_tensor_release(r); return st; }
        *out = r;
        return GD_OK;
    }
    int device = a->device_kind;
    int rank;
    int64_t sizes[GD_MAX_DIMS];
    GD_TRY(gd_broadcast_shape(a, b, &rank, sizes));
    int d = binary_compute_dtype(a->scalar_type, b->scalar_type, op);
    gd_tensor *ca = NULL, *cb = NULL, *r = NULL;
    int st = as_dtype(&ca, a, d);
    if (!st) st = as_dtype(&cb, b, d);
    if (!st) st = gd_empty(&r, rank, sizes, d, device);
    if (!st) {
        gd_iter it;
        const gd_tensor *ops[3] = {r, ca, cb};
        /* dense operands of the result's shape (the common case, and every
           small one of an autograd step): one flat run, no iterator set-up */
        if (ca->is_contiguous && cb->is_contiguous && ca->rank == rank && cb->rank == rank &&
            ca->count == r->count && cb->count == r->count)
            gd_iter_flat(&it, 3, ops);
        else
            st = gd_iter_init(&it, 3, ops, rank, sizes);
        if (!st) st = run_binary(&it, d, op, device, cb);
    }
    gd_tensor_release(ca); gd_tensor_release(cb);
    if (st) { gd_tensor_release(r); return st; }
    *out = r;
    return GD_OK;
}

static int binary_untaped(gd_tensor **out, const gd_tensor *a, const gd_tensor *b, int op)
{
    GD_TRY(gd_check_tensor(a, "left operand"));
    GD_TRY(gd_check_tensor(b, "right operand"));
    return binary_impl(out, a, b, op);
}

int gd_binary(gd_tensor **out, const gd_tensor *a, const gd_tensor *b, int op)
{
    bool rec = op >= 0 && op < GD_OP_EQ && gd_ag_begin(a, b, NULL);
    int st = binary_untaped(out, a, b, op);
    if (!rec) return st;
    const gd_tensor *in[2] = {a, b};
    return gd_ag_end(st, out, GD_AG_BINARY, op, 2, in, NULL, NULL, 0);
}

/* a op= b for dense same-shape float tensors that do not overlap (or are the
   very same elements): one flat run, no broadcasting, no temporaries: the
   per-step path of loops written in Lua (x.grad:copy_(x):mul_(h)), which
   must cost nanoseconds. */
static inline bool dense_pair(const gd_tensor *a, const gd_tensor *b)
{
    if (a->scalar_type != b->scalar_type || !gd_is_float(a->scalar_type) || a->device_kind != b->device_kind ||
        !a->is_contiguous || !b->is_contiguous || a->rank != b->rank || a->count != b->count ||
        (a->data != b->data && gd_same_storage(a, b)))
        return false;
    for (int d = 0; d < a->rank; d++)
        if (a->sizes[d] != b->sizes[d]) return false;
    return true;
}

static int binary_inplace_impl(gd_tensor *a, const gd_tensor *b, int op)
{
    if (op < 0 || op >= GD_BINOP_COUNT) return gd_fail(GD_EINVAL, "unknown binary operation %d", op);
    GD_TRY(gd_check_same_device(a, b));
    int d = a->scalar_type;
    int want = binary_compute_dtype(d, b->scalar_type, op);
    if (want != d && !(gd_is_float(d) && gd_is_float(want)))
        return gd_fail(GD_EINVAL, "%s_: the result would be %s, which cannot be stored in place in an %s tensor",
                       binop_name(op), gd_dtype_name(want), gd_dtype_name(d));
    GD_TRY(gd_check_writable(a, binop_name(op)));
    gd_tensor *cb = NULL;
    int st = inplace_operand(&cb, a, b, d);
    if (!st) {
        gd_iter it;
        const gd_tensor *ops[3] = {a, a, cb};
        st = gd_iter_init(&it, 3, ops, a->rank, a->sizes);
        if (!st) st = run_binary(&it, d, op, a->device_kind, cb);
    }
    gd_tensor_release(cb);
    return st;
}

int gd_binary_(gd_tensor *a, const gd_tensor *b, int op)
{
    GD_TRY(gd_ag_write(a, "binary_"));
    GD_TRY(gd_check_tensor(a, "tensor"));
    GD_TRY(gd_check_tensor(b, "operand"));
    if (op >= 0 && op < GD_BINOP_COUNT && dense_pair(a, b)) {
        const gd_backend *be = gd_backend_of(a->device_kind);
        if (!be) return GD_EDEVICE;
        gd_iter it;
        const gd_tensor *ops[3] = {a, a, b};
        gd_iter_flat(&it, 3, ops);
        return GD_BACKEND_CALL(be, binop_name(op), binary(&it, a->scalar_type, op));
    }
    return binary_inplace_impl(a, b, op);
}

/* The dtype a Lua number takes next to a tensor of dtype d: PyTorch keeps the
   tensor's dtype, except that a fractional number makes an integer tensor float. */
static int scalar_dtype(int d, double s)
{
    if (d == GD_INT64 && !gd_fits_int64(s)) return GD_FLOAT32; /* fractions, NaN, inf, beyond 2^63 */
    return d;
}

/* out = a op s (s op a): the scalar travels by value to the kernel (no
   one-element tensor, no host-to-device copy) */
static int run_binary_scalar(gd_tensor *out, const gd_tensor *a, double s, int op, int scalar_first, int d)
{
    const gd_backend *b = gd_backend_of(out->device_kind);
    if (!b) return GD_EDEVICE;
    if (d == GD_INT64) {
        if (scalar_first) GD_TRY(check_int_operand(a, op));
        else GD_TRY(check_int_scalar(s, op));
    }
    gd_iter it;
    const gd_tensor *ops[2] = {out, a};
    if (out->is_contiguous && a->is_contiguous && out->count == a->count && out->rank == a->rank &&
        !gd_views_conflict(out, a))
        gd_iter_flat(&it, 2, ops);
    else
        GD_TRY(gd_iter_init(&it, 2, ops, out->rank, out->sizes));
    return GD_BACKEND_CALL(b, binop_name(op), binary_scalar(&it, d, op, s, scalar_first));
}

static int binary_scalar_untaped(gd_tensor **out, const gd_tensor *a, double s, int op, int scalar_first)
{
    GD_TRY(gd_check_tensor(a, "tensor"));
    if (op < 0 || op >= GD_BINOP_COUNT) return gd_fail(GD_EINVAL, "unknown binary operation %d", op);
    int d = binary_compute_dtype(a->scalar_type, scalar_dtype(a->scalar_type, s), op);
    gd_tensor *ca = NULL, *r = NULL;
    int st = d == a->scalar_type ? GD_OK : as_dtype(&ca, a, d);
    if (!st) st = gd_empty(&r, a->rank, a->sizes, d, a->device_kind);
    if (!st) st = run_binary_scalar(r, ca ? ca : a, s, op, scalar_first, d);
    gd_tensor_release(ca);
    if (st) { gd_tensor_release(r); return st; }
    *out = r;
    return GD_OK;
}

int gd_binary_scalar(gd_tensor **out, const gd_tensor *a, double s, int op, int scalar_first)
{
    bool rec = op >= 0 && op < GD_OP_EQ && gd_ag_begin(a, NULL, NULL);
    int st = binary_scalar_untaped(out, a, s, op, scalar_first);
    if (!rec) return st;
    const gd_tensor *in[1] = {a};
    const double p[2] = {s, 0};
    const int64_t ip[1] = {scalar_first};
    return gd_ag_end(st, out, GD_AG_BINARY_SCALAR, op, 1, in, p, ip, 1);
}

int gd_binary_scalar_(gd_tensor *a, double s, int op)
{
    GD_TRY(gd_ag_write(a, "binary_scalar_"));
    GD_TRY(gd_check_tensor(a, "tensor"));
    if (op < 0 || op >= GD_BINOP_COUNT) return gd_fail(GD_EINVAL, "unknown binary operation %d", op);
    int d = a->scalar_type;
    int want = binary_compute_dtype(d, scalar_dtype(d, s), op);
    if (want != d && !(gd_is_float(d) && gd_is_float(want)))
        return gd_fail(GD_EINVAL, "%s_: the result would be %s, which cannot be stored in place in an %s tensor",
                       binop_name(op), gd_dtype_name(want), gd_dtype_name(d));
    if (!a->is_contiguous) GD_TRY(gd_check_writable(a, binop_name(op)));
    return run_binary_scalar(a, a, s, op, 0, d);
}

/* ---------------------------------------------------------------- unary */

/* Which unary operations keep int64 (others compute in float32, as PyTorch's
   do for sqrt, exp ...): those with an integer result for integer input
   (src/ops.def's int64 column). */
static const bool unop_keeps_int64[GD_UNOP_COUNT] = {
#define GD_UNOP(ID, name, int64, doc) int64,
#include "ops.def"
};

static const char *unop_name(int op)
{
    /* the Lua names of pows and rpows are both pow */
    static const char *names[GD_UNOP_COUNT] = {
#define GD_UNOP(ID, name, int64, doc) #name,
#include "ops.def"
    };
    if (op == GD_OP_POWS || op == GD_OP_RPOWS) return "pow";
    return op >= 0 && op < GD_UNOP_COUNT ? names[op] : "?";
}

/* int64 stays int64 only for ops with an integer loop and integer parameters */
/* int64 stays int64 only for ops with an integer result and integer parameters */
static int unary_dtype(int d, int op, double p1, double p2)
{
    if (d != GD_INT64) return d;
    if (!unop_keeps_int64[op]) return GD_FLOAT32;
    /* clamp: an infinite bound is an absent one; any other bound that is no
       int64 value (a fraction, 1e19) makes the result float32, as a Python
       float bound does in PyTorch (docs/int64.md) */
    if (op == GD_OP_CLAMP && ((isfinite(p1) && !gd_fits_int64(p1)) || (isfinite(p2) && !gd_fits_int64(p2))))
        return GD_FLOAT32;
    if ((op == GD_OP_POWS || op == GD_OP_RPOWS) && (!gd_fits_int64(p1) || (op == GD_OP_POWS && p1 < 0)))
        return GD_FLOAT32;
    return GD_INT64;
}

static int run_unary(gd_tensor *out, const gd_tensor *a, int op, double p1, double p2)
{
    const gd_backend *b = gd_backend_of(out->device_kind);
    if (!b) return GD_EDEVICE;
    gd_iter it;
    const gd_tensor *ops[2] = {out, a};
    if (out->is_contiguous && a->is_contiguous && out->count == a->count && out->rank == a->rank &&
        (out == a || !gd_views_conflict(out, a)))
        gd_iter_flat(&it, 2, ops);
    else
        GD_TRY(gd_iter_init(&it, 2, ops, out->rank, out->sizes));
    if (out->scalar_type == GD_INT64 && op == GD_OP_RPOWS && a->count > 0) {
        double least; /* the exponents are the tensor's values */
        GD_TRY(gd_reduce_all(a, GD_RED_MIN, 0, &least));
        if (least < 0) return gd_fail(GD_EINVAL, "pow: integers to negative integer powers are not allowed");
    }
    return GD_BACKEND_CALL(b, unop_name(op), unary(&it, out->scalar_type, op, p1, p2));
}

static int check_unop(int op, double p1, double p2)
{
    if (op < 0 || op >= GD_UNOP_COUNT) return gd_fail(GD_EINVAL, "unknown unary operation %d", op);
    if (op == GD_OP_CLAMP && (p1 > p2 || p1 != p1 || p2 != p2))
        return gd_fail(GD_EINVAL, "clamp: min %g is greater than max %g (or one is NaN)", p1, p2);
    if (op == GD_OP_SOFTPLUS && (p1 == 0 || p1 != p1 || p2 != p2))
        return gd_fail(GD_EINVAL, "softplus: beta must be a nonzero number and threshold not NaN (got beta %g, "
                                  "threshold %g)", p1, p2);
    return GD_OK;
}

static int unary_untaped(gd_tensor **out, const gd_tensor *a, int op, double p1, double p2)
{
    GD_TRY(gd_check_tensor(a, "tensor"));
    GD_TRY(check_unop(op, p1, p2));
    int d = unary_dtype(a->scalar_type, op, p1, p2);
    gd_tensor *ca = NULL, *r = NULL;
    int st = d == a->scalar_type ? GD_OK : as_dtype(&ca, a, d);
    if (!st) st = gd_empty(&r, a->rank, a->sizes, d, a->device_kind);
    if (!st) st = run_unary(r, ca ? ca : a, op, p1, p2);
    gd_tensor_release(ca);
    if (st) { gd_tensor_release(r); return st; }
    *out = r;
    return GD_OK;
}

int gd_unary(gd_tensor **out, const gd_tensor *a, int op, double p1, double p2)
{
    bool rec = gd_ag_begin(a, NULL, NULL);
    int st = unary_untaped(out, a, op, p1, p2);
    if (!rec) return st;
    const gd_tensor *in[1] = {a};
    const double p[2] = {p1, p2};
    return gd_ag_end(st, out, GD_AG_UNARY, op, 1, in, p, NULL, 0);
}

int gd_unary_(gd_tensor *a, int op, double p1, double p2)
{
    GD_TRY(gd_ag_write(a, "unary_"));
    GD_TRY(gd_check_tensor(a, "tensor"));
    GD_TRY(check_unop(op, p1, p2));
    if (unary_dtype(a->scalar_type, op, p1, p2) != a->scalar_type)
        return gd_fail(GD_EINVAL, "%s_: the result is float32, which cannot be stored in place in an int64 tensor",
                       unop_name(op));
    GD_TRY(gd_check_writable(a, unop_name(op)));
    return run_unary(a, a, op, p1, p2);
}

/* -------------------------------------------------------------- ternary */

/* t (op 0) is written; a, b (and c) are converted to t's dtype, broadcast to t's
   shape, and copied first when they overlap t. */
static int ternary_inplace(gd_tensor *t, const gd_tensor *a, const gd_tensor *b, const gd_tensor *c,
                           int kind, double value, const char *name)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    const gd_tensor *in[3] = {a, b, c};
    int nin = c ? 3 : b ? 2 : 1;
    for (int k = 0; k < nin; k++) {
        GD_TRY(gd_check_tensor(in[k], "operand"));
        GD_TRY(gd_check_same_device(t, in[k]));
    }
    int d = t->scalar_type;
    if (d == GD_INT64 && kind != GD_TERN_WHERE) { /* where's t has the promoted dtype already */
        if (kind == GD_TERN_ADDCDIV)
            return gd_fail(GD_EINVAL, "%s: integer division is not supported in place on an int64 tensor", name);
        for (int k = 0; k < nin; k++)
            if (gd_is_float(in[k]->scalar_type) || !gd_fits_int64(value))
                return gd_fail(GD_EINVAL, "%s: the result would be float, which cannot be stored in place in an "
                                          "int64 tensor", name);
    }
    if (value != value && kind != GD_TERN_WHERE) return gd_fail(GD_EINVAL, "%s: the scale is NaN", name);
    if (kind != GD_TERN_WHERE) GD_TRY(gd_check_writable(t, name));
    gd_tensor *conv[3] = {NULL, NULL, NULL};
    int st = 0;
    for (int k = 0; k < nin && !st; k++) st = inplace_operand(&conv[k], t, in[k], d);
    if (!st) {
        gd_iter it;
        const gd_tensor *ops[4] = {t, conv[0], conv[1], conv[2]};
        st = gd_iter_init(&it, nin + 1, ops, t->rank, t->sizes);
        const gd_backend *be = st ? NULL : gd_backend_of(t->device_kind);
        if (!st && !be) st = GD_EDEVICE;
        if (!st) st = GD_BACKEND_CALL(be, name, ternary(&it, d, kind, value));
    }
    for (int k = 0; k < 3; k++) gd_tensor_release(conv[k]);
    return st;
}

int gd_add_scaled_(gd_tensor *t, const gd_tensor *x, double alpha)
{
    GD_TRY(gd_ag_write(t, "add_scaled_"));
    /* dense same-shape operands: one flat run */
    if (t && x && !t->is_freed && !x->is_freed && alpha == alpha && dense_pair(t, x)) {
        const gd_backend *be = gd_backend_of(t->device_kind);
        if (!be) return GD_EDEVICE;
        gd_iter it;
        const gd_tensor *ops[2] = {t, x};
        gd_iter_flat(&it, 2, ops);
        return GD_BACKEND_CALL(be, "add_", ternary(&it, t->scalar_type, GD_TERN_ADD_SCALED, alpha));
    }
    return ternary_inplace(t, x, NULL, NULL, GD_TERN_ADD_SCALED, alpha, "add_");
}

int gd_addcmul_(gd_tensor *t, const gd_tensor *a, const gd_tensor *b, double value)
{
    GD_TRY(gd_ag_write(t, "addcmul_"));
    return ternary_inplace(t, a, b, NULL, GD_TERN_ADDCMUL, value, "addcmul_");
}

int gd_addcdiv_(gd_tensor *t, const gd_tensor *a, const gd_tensor *b, double value)
{
    GD_TRY(gd_ag_write(t, "addcdiv_"));
    return ternary_inplace(t, a, b, NULL, GD_TERN_ADDCDIV, value, "addcdiv_");
}

static int where_untaped(gd_tensor **out, const gd_tensor *cond, const gd_tensor *a, const gd_tensor *b)
{
    GD_TRY(gd_check_tensor(cond, "condition"));
    GD_TRY(gd_check_tensor(a, "first value"));
    GD_TRY(gd_check_tensor(b, "second value"));
    int rank;
    int64_t sizes[GD_MAX_DIMS];
    GD_TRY(gd_broadcast_shape(a, b, &rank, sizes));
    gd_tensor shape = {0};
    shape.rank = rank;
    memcpy(shape.sizes, sizes, sizeof sizes);
    GD_TRY(gd_broadcast_shape(&shape, cond, &rank, sizes));
    GD_TRY(gd_check_same_device(a, b));
    GD_TRY(gd_check_same_device(a, cond));
    /* the condition is cond != 0 in cond's own dtype (NaN counts as true), so
       that converting it to the values' dtype cannot turn 0.5 into 0 */
    gd_tensor *mask = NULL, *r = NULL;
    int st = gd_binary_scalar(&mask, cond, 0, GD_OP_NE, 0);
    if (!st) st = gd_empty(&r, rank, sizes, gd_promote(a->scalar_type, b->scalar_type), a->device_kind);
    if (!st) st = ternary_inplace(r, mask, a, b, GD_TERN_WHERE, 0, "where");
    gd_tensor_release(mask);
    if (st) { gd_tensor_release(r); return st; }
    *out = r;
    return GD_OK;
}

int gd_where(gd_tensor **out, const gd_tensor *cond, const gd_tensor *a, const gd_tensor *b)
{
    bool rec = gd_ag_begin(a, b, NULL);
    int st = where_untaped(out, cond, a, b);
    if (!rec) return st;
    const gd_tensor *in[3] = {a, b, cond};
    return gd_ag_end(st, out, GD_AG_WHERE, 0, 3, in, NULL, NULL, 0);
}

/* |x - y| <= atol + rtol |y| for every element.  Two int64 tensors are compared
   as integers (through float64, 2^53 and 2^53 + 1 would be equal); any other
   pair in float64, as PyTorch promotes. */
int gd_allclose(const gd_tensor *a, const gd_tensor *b, double rtol, double atol, int *result)
{
    GD_TRY(gd_check_tensor(a, "first tensor"));
    GD_TRY(gd_check_tensor(b, "second tensor"));
    *result = 0;
    if (a->rank != b->rank) return GD_OK;
    for (int d = 0; d < a->rank; d++)
        if (a->sizes[d] != b->sizes[d]) return GD_OK;
    bool ints = a->scalar_type == GD_INT64 && b->scalar_type == GD_INT64;
    int dtype = ints ? GD_INT64 : GD_FLOAT64;
    gd_tensor *ca = NULL, *cb = NULL, *ca2 = NULL, *cb2 = NULL;
    int st = gd_to(&ca, a, dtype, GD_CPU);
    if (!st) st = gd_to(&cb, b, dtype, GD_CPU);
    if (!st) st = gd_contiguous(&ca2, ca);
    if (!st) st = gd_contiguous(&cb2, cb);
    if (!st && ints) {
        const int64_t *x = ca2->data, *y = cb2->data;
        int ok = 1;
        for (int64_t i = 0; i < ca2->count && ok; i++) {
            if (x[i] == y[i]) continue;
            /* the distance as uint64_t: exact, and no signed overflow */
            uint64_t diff = x[i] > y[i] ? (uint64_t)x[i] - (uint64_t)y[i] : (uint64_t)y[i] - (uint64_t)x[i];
            if (!((double)diff <= atol + rtol * fabs((double)y[i]))) ok = 0;
        }
        *result = ok;
    } else if (!st) {
        const double *x = ca2->data, *y = cb2->data;
        int ok = 1;
        for (int64_t i = 0; i < ca2->count && ok; i++) {
            double diff = fabs(x[i] - y[i]);
            if (x[i] == y[i]) continue; /* infinities of one sign */
            if (!(diff <= atol + rtol * fabs(y[i]))) ok = 0;
        }
        *result = ok;
    }
    gd_tensor_release(ca); gd_tensor_release(cb);
    gd_tensor_release(ca2); gd_tensor_release(cb2);
    return st;
}
