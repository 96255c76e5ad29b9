/*
 * autograd.h: what the differentiable entry points of the core call to put
 * their record on the tape (src/autograd.c).  Not part of the public header.
 *
 * The pattern, in every differentiable entry point:
 *
 *     int gd_exp_like(gd_tensor **out, const gd_tensor *a)
 *     {
 *         bool rec = gd_ag_begin(a, NULL, NULL);   // grad mode on and a needs grad:
 *         int st = exp_like_untaped(out, a);       //   mode off inside (no nested records)
 *         if (rec) st = gd_ag_end(st, ...);        // mode back on; the record if st == 0
 *         return st;
 *     }
 *
 * and in every entry point that writes a tensor in place, gd_ag_write(t, name)
 * before the write: it moves the storage's version counter (what saved tensors
 * are checked against) and refuses to change a recorded output in grad mode.
 */
#ifndef GD_AUTOGRAD_H
#define GD_AUTOGRAD_H

#include "internal.h"

/* What made a tensor: the kinds of tape records. */
typedef enum gd_ag_kind {
    GD_AG_BINARY = 0,      /* op = gd_binop; in a, b */
    GD_AG_BINARY_SCALAR,   /* op = gd_binop; in a; p[0] = s, ip[0] = scalar_first */
    GD_AG_UNARY,           /* op = gd_unop; in a; p = p1, p2 */
    GD_AG_REDUCE_ALL,      /* op = gd_redop; in t; p[0]; out is 0-d */
    GD_AG_REDUCE_DIM,      /* op = gd_redop; in t; ip = dim, keepdim; p[0]; saved = indices (max/min) */
    GD_AG_MATMUL,          /* in a, b */
    GD_AG_RESHAPE,         /* view, reshape, squeeze, unsqueeze: g reshaped to the input's shape */
    GD_AG_EXPAND,          /* g summed back to the input's shape */
    GD_AG_PERMUTE,         /* ip = the permutation (transpose is one) */
    GD_AG_NARROW,          /* ip = dim, start, length */
    GD_AG_SELECT,          /* ip = dim, index */
    GD_AG_DIAGONAL,        /* ip = offset */
    GD_AG_CONVERT,         /* to, contiguous, clone: g converted to the input's dtype and device */
    GD_AG_INDEX_SELECT,    /* in t, index (not differentiable); ip = dim */
    GD_AG_CAT,             /* in = the n parts; ip = dim */
    GD_AG_WHERE,           /* in a, b, cond (not differentiable) */
    GD_AG_CUMSUM,          /* ip = dim */
    GD_AG_NN,              /* a gd.nn module's fused kernels: op = gd_ag_nn_kind */
    GD_AG_KIND_COUNT
} gd_ag_kind;

extern GD_TLS int gd_ag_mode;   /* grad mode: 1 on (the default), 0 off */

/* 1 when the op must be recorded (grad mode on and an input requires grad);
   then grad mode is off until gd_ag_end. */
static inline bool gd_ag_begin(const gd_tensor *a, const gd_tensor *b, const gd_tensor *c)
{
    if (!gd_ag_mode) return false;
    if (!((a && a->requires_grad) || (b && b->requires_grad) || (c && c->requires_grad))) return false;
    gd_ag_mode = 0;
    return true;
}
bool gd_ag_begin_n(gd_tensor *const *ts, int n);

/* Turns grad mode back on; when st == 0 appends the record that made out from
   the nin inputs (retained) and returns its status (out is released and *out
   cleared when recording fails, so the caller returns the failure). */
int gd_ag_end(int st, gd_tensor **out, int kind, int op, int nin, const gd_tensor *const *in, const double *p,
              const int64_t *ip, int nip);
/* gd_ag_end for a max/min along a dim: saves a copy of the indices too. */
int gd_ag_end_reduce_dim(int st, gd_tensor **values, const gd_tensor *indices, const gd_tensor *t, int op,
                         int dim, int keepdim, double p);

/* Before an in-place write of t: bumps its storage version; fails (naming
   fname) when t is a recorded output and grad mode is on. */
int gd_ag_write(gd_tensor *t, const char *fname);

/* gd_tensor_release's hook: t, which a record made, is going away. */
void gd_ag_forget(gd_tensor *t);

/* A watcher of the leaf gradients one gd_backward writes (DataParallel's
   gradient buckets, src/dist.c): C calling C, never Lua.  begin() before the
   walk; expect(leaf) once per edge from a record the walk reaches to a leaf
   that requires grad (so a leaf with k edges is complete after its k-th
   write); written(leaf) after each gradient added into the leaf's existing
   .grad (an arena view); end(status) after the walk, which returns the walk's
   status or its own failure.  Not called by gd_autograd_grad (it writes no
   .grad).  NULL: none. */
typedef struct gd_ag_leaf_hook {
    void (*begin)(void);
    void (*expect)(const gd_tensor *leaf);
    int (*written)(const gd_tensor *leaf);
    int (*end)(int status);
} gd_ag_leaf_hook;
void gd_ag_set_leaf_hook(const gd_ag_leaf_hook *hook);
/* Tells the hook that leaf's .grad was written (by gd_ag_send, or by a
   backward that writes a parameter gradient in place: Linear's). */
int gd_ag_leaf_written(const gd_tensor *leaf);

#endif
