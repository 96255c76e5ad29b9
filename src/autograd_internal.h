/*
 * autograd_internal.h: the tape record, shared by the tape (src/autograd.c)
 * and the backward of each kind (src/autograd_backward.c).
 */
#ifndef GD_AUTOGRAD_INTERNAL_H
#define GD_AUTOGRAD_INTERNAL_H

#include "autograd.h"

enum { AG_INLINE_IN = 3, AG_MAX_IP = GD_MAX_DIMS + 4 };   /* a pool geometry and its kind: 12 */
/* inputs whose versions a record keeps (the RNN node's 8: x, w_ih, w_hh, h0, c0, b_ih, b_hh, w_hr) */
enum { AG_VERSIONED = 8 };

typedef struct ag_record {
    int16_t kind;                 /* gd_ag_kind */
    int16_t op;                   /* the binop/unop/redop/gd_ag_nn_kind */
    int16_t nin;
    int8_t nip;
    uint8_t saves;                /* bit k: the backward reads input k (its version is checked) */
    int8_t dead;                  /* released: its output is gone */
    int8_t mark;                  /* reached by the current backward */
    gd_tensor *in_inline[AG_INLINE_IN]; /* references to the inputs (AG_IN: these, or in_ext) */
    gd_tensor **in_ext;           /* more than AG_INLINE_IN inputs (cat): allocated */
    uint64_t in_version[AG_VERSIONED];
    gd_tensor *saved;             /* reference: an alias of the output, indices, a loss gradient */
    uint64_t saved_version;
    gd_tensor *out;               /* not a reference: the output owns the record */
    gd_tensor *gout;              /* during a backward: the gradient reaching the output */
    double p[2];
    int64_t ip[AG_MAX_IP];
} ag_record;

/* grad_node of a tensor whose record a backward without retain_graph consumed */
enum { GD_AG_CONSUMED_NODE = -1 };

/* A record's inputs (the tape is realloc'd: a record cannot point into itself). */
#define AG_IN(r) ((r)->in_ext ? (r)->in_ext : (r)->in_inline)

/* a and b have one shape */
static inline bool gd_ag_same_shape(const gd_tensor *a, const gd_tensor *b)
{
    if (a->rank != b->rank) return false;
    for (int d = 0; d < a->rank; d++)
        if (a->sizes[d] != b->sizes[d]) return false;
    return true;
}

/* Input k of r exists and wants a gradient. */
static inline bool gd_ag_needs(const ag_record *r, int k)
{
    return k < r->nin && AG_IN(r)[k] && AG_IN(r)[k]->requires_grad;
}

/* Where gradients of leaves go: their .grad (n == 0), or the slot of the
   listed input (gd_autograd_grad). */
typedef struct gd_ag_sink {
    gd_tensor *const *inputs;
    gd_tensor **grads;
    int n;
} gd_ag_sink;

/* Runs r's backward on r->gout and sends each input its gradient. */
int gd_ag_backward_record(ag_record *r, const void *sink);
/* Sends g (of t's shape and dtype) to input t: its record, its .grad, or the
   listed slot of gd_autograd_grad. */
int gd_ag_send(const gd_tensor *t, const gd_tensor *g, const void *sink);
int gd_ag_accumulate(gd_tensor **acc, const gd_tensor *g);
int gd_ag_alias(gd_tensor **out, const gd_tensor *t);
/* Tensors for a backward's temporaries, reused once nobody else refers to
   them (src/autograd_pool.c): uninitialised, or zeros. */
int gd_ag_pool_empty(gd_tensor **out, int rank, const int64_t *sizes, int dtype, int device);
int gd_ag_pool_zeros(gd_tensor **out, int rank, const int64_t *sizes, int dtype, int device);
/* During a walk from a one-element root without a given gradient: the seed
   (the implied 1), so that a loss's node can pass its gradient on unscaled. */
extern const gd_tensor *gd_ag_implied_seed;
/* The one-pass backward of a small element-wise float record
   (src/autograd_small.c): its status, or GD_AG_NOT_SMALL when the record is
   not one it takes (the composed backward runs instead). */
enum { GD_AG_NOT_SMALL = 1 };
/* The .grad a gradient for t may be added into directly (what gd_ag_send
   would do with gd_add_scaled_): t's existing .grad when t is a leaf, the walk
   writes leaves' .grad and no leaf hook watches; else NULL. */
gd_tensor *gd_ag_leaf_grad_for_add(const gd_tensor *t, const void *sink);
int gd_ag_small_backward(const ag_record *r, const void *sink);
/* "mul", "sum", "Linear" ... for messages. */
const char *gd_ag_kind_name(int kind, int op);

#endif
