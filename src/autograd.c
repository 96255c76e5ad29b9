/*
 * autograd.c: the tape of recorded operations, grad mode, and the backward walk.
 *
 * The tape is one growable array of plain records, in the order the ops ran
 * (so a reverse walk is a topological order).  A record holds references to
 * its inputs and to what its backward needs, and only a pointer to its output:
 * the output owns its record (output->grad_node = 1 + the record's index), and
 * the record is released when the output is (gd_ag_forget, called by
 * gd_tensor_release), or when a backward without retain_graph has walked it
 * (the output then keeps GD_AG_CONSUMED_NODE: consume_record).  So a graph
 * nobody can reach any more goes away with its last tensor, as PyTorch's does,
 * and a training loop's tape is empty again when its backward returns.
 * Releases cascade through a work list, never by recursion (a 10^6-op chain
 * must not overflow the stack).
 *
 * Why a C array and not Lua tables or closures: an FFI call appending a record
 * costs about 2 ns on LuaJIT 2.1, a Lua table per op 44 ns, a closure 54 ns,
 * and closure creation aborts the JIT trace (measured for issue 12).
 *
 * The backward of each kind of record is in src/autograd_backward.c.
 */
#include "autograd.h"
#include "autograd_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

GD_TLS int gd_ag_mode = 1;

int gd_grad_enabled(void) { return gd_ag_mode; }

int gd_set_grad_enabled(int on)
{
    int was = gd_ag_mode;
    gd_ag_mode = on ? 1 : 0;
    return was;
}

/* ------------------------------------------------------------- the tape */

static ag_record *tape;
static int64_t tape_len, tape_cap, tape_live;

/* Records waiting to be released (gd_ag_forget's work list). */
static int64_t *pending;
static int64_t pending_len, pending_cap;
static int draining;

int64_t gd_autograd_live_records(void) { return tape_live; }
int64_t gd_autograd_tape_length(void) { return tape_len; }

ag_record *gd_ag_record_at(int64_t index) { return &tape[index]; }

uint64_t gd_tensor_version(const gd_tensor *t) { return t && t->storage ? t->storage->version : 0; }

void gd_tensor_clear_grad_received(gd_tensor *t)
{
    if (t) t->grad_received = 0;
}

void gd_tensor_bump_version(gd_tensor *t)
{
    if (t && t->storage) t->storage->version++;
}

static void record_clear(ag_record *r)
{
    for (int k = 0; k < r->nin; k++) gd_tensor_release(AG_IN(r)[k]);
    if (r->in_ext) {   /* (a call of free(NULL) per record was 2% of the walk) */
        free(r->in_ext);
        r->in_ext = NULL;
    }
    r->nin = 0;
    gd_tensor_release(r->saved);
    r->saved = NULL;
    gd_tensor_release(r->gout);
    r->gout = NULL;
}

static int push_pending(int64_t idx)
{
    if (pending_len == pending_cap) {
        int64_t cap = pending_cap ? 2 * pending_cap : 64;
        int64_t *p = realloc(pending, (size_t)cap * sizeof *p);
        if (!p) return GD_ENOMEM;
        pending = p;
        pending_cap = cap;
    }
    pending[pending_len++] = idx;
    return GD_OK;
}

static void release_record(int64_t idx)
{
    ag_record *r = &tape[idx];
    /* the inputs' releases may come back here: they are queued, not recursed */
    record_clear(r);
    r->out = NULL;
    r->dead = 1;
    tape_live--;
}

/* A record walked by a backward without retain_graph goes at once: its
   output keeps GD_AG_CONSUMED_NODE instead of its index (not a leaf, and a
   second walk through it is refused), so that a training loop's records are
   free again when its backward returns and the next step's reuse the same
   slots, warm in the cache, instead of waiting until the Lua GC finds the
   outputs dead (the d2l quadratic's tape grew to thousands of cold records). */
static void consume_record(int64_t idx)
{
    ag_record *r = &tape[idx];
    if (r->out) r->out->grad_node = GD_AG_CONSUMED_NODE;
    release_record(idx);
}

void gd_ag_forget(gd_tensor *t)
{
    int64_t idx = t->grad_node - 1;   /* (a consumed record's output: negative) */
    t->grad_node = 0;
    if (idx < 0 || idx >= tape_len || tape[idx].dead || tape[idx].out != t) return;
    tape[idx].out = NULL;
    if (push_pending(idx) != GD_OK) { /* no memory for the list: release now, recursing */
        release_record(idx);
        return;
    }
    if (draining) return;
    draining = 1;
    while (pending_len > 0) release_record(pending[--pending_len]);
    draining = 0;
    while (tape_len > 0 && tape[tape_len - 1].dead) tape_len--;
    if (tape_live == 0) tape_len = 0;
}

/* Slides the live records down over the dead ones, in order (so the tape
   stays a topological order), and tells each output its new place.  Records
   no backward consumed (a forward under grad mode whose loss never saw
   backward, retain_graph, gd.grad of part of a graph) stay live until their
   tensors are collected, above the holes of older ones; without this the
   tape would grow by such records every step.  Never runs
   during a backward (only appending compacts, and a backward appends
   nothing). */
static void compact(void)
{
    int64_t w = 0;
    for (int64_t i = 0; i < tape_len; i++) {
        if (tape[i].dead) continue;
        if (w != i) {
            tape[w] = tape[i];
            if (tape[w].out) tape[w].out->grad_node = w + 1;
        }
        w++;
    }
    tape_len = w;
}

static int tape_append(int64_t *idx)
{
    if (tape_len > 1024 && tape_len > 2 * tape_live) compact();
    if (tape_len == tape_cap) {
        int64_t cap = tape_cap ? 2 * tape_cap : 256;
        ag_record *t = realloc(tape, (size_t)cap * sizeof *t);
        if (!t) return gd_fail(GD_ENOMEM, "autograd: out of memory growing the tape");
        tape = t;
        tape_cap = cap;
    }
    *idx = tape_len++;
    tape_live++;
    return GD_OK;   /* (record fills every field) */
}

/* An alias of t's storage and geometry with no place in the graph: what a
   record saves of its own output (a reference to the output itself would keep
   it, and so the record, alive for ever). */
int gd_ag_alias(gd_tensor **out, const gd_tensor *t)
{
    return gd_tensor_wrap(out, t->storage, t->scalar_type, t->storage_offset, t->rank, t->sizes, t->strides);
}

/* Which inputs (bit k) a record's backward reads, so that in-place changes to
   them are caught; the rest are kept only for their shape and identity. */
static unsigned saved_inputs(int kind, int op, int nin)
{
    switch (kind) {
    case GD_AG_BINARY:
        switch (op) {
        case GD_OP_ADD: case GD_OP_SUB: return 0;
        case GD_OP_MUL: case GD_OP_DIV: case GD_OP_POW: case GD_OP_MOD:
        case GD_OP_MAXIMUM: case GD_OP_MINIMUM: return 3;
        default: return 0;
        }
    case GD_AG_BINARY_SCALAR:
        return op == GD_OP_ADD || op == GD_OP_SUB ? 0 : 1;
    case GD_AG_UNARY:
        switch (op) {
        case GD_OP_NEG: case GD_OP_SIGN: case GD_OP_FLOOR: case GD_OP_CEIL: case GD_OP_ROUND: return 0;
        default: return 1;
        }
    case GD_AG_REDUCE_ALL: case GD_AG_REDUCE_DIM:
        return op == GD_RED_SUM || op == GD_RED_MEAN ? 0 : 1;
    case GD_AG_MATMUL: return 3;
    case GD_AG_WHERE: return 4;          /* the condition */
    case GD_AG_INDEX_SELECT: return 2;   /* the index */
    case GD_AG_NN:
        if (op == GD_AG_NN_EMBEDDING) return 0;   /* in {w}: the backward reads the saved indices only */
        /* x, w_ih, w_hh, h0, c0 and LSTM's w_hr (inputs 0-4 and 7): the backward reads them; the biases it does not */
        if (op == GD_AG_NN_RNN) return 0x9F;
        return nin >= 2 ? 3 : 1;
    default: return 0;
    }
}

/* Does the kind's backward read the output (saved as an alias)? */
static bool saves_output(int kind, int op)
{
    if (kind == GD_AG_UNARY)
        return op == GD_OP_SQRT || op == GD_OP_EXP || op == GD_OP_TANH || op == GD_OP_SIGMOID ||
               op == GD_OP_RSQRT || op == GD_OP_RECIPROCAL || op == GD_OP_RPOWS || op == GD_OP_EXPM1 ||
               op == GD_OP_RELU;
    if (kind == GD_AG_BINARY) return op == GD_OP_POW;
    if (kind == GD_AG_REDUCE_ALL || kind == GD_AG_REDUCE_DIM)
        return op == GD_RED_MAX || op == GD_RED_MIN || op == GD_RED_NORM || op == GD_RED_LOGSUMEXP ||
               op == GD_RED_STD || op == GD_RED_PROD;
    return false;
}

/* Appends the record for out (which must be a fresh tensor: no record yet). */
static int record(gd_tensor *out, int kind, int op, int nin, const gd_tensor *const *in, const double *p,
                  const int64_t *ip, int nip, gd_tensor *saved)
{
    if (nip > AG_MAX_IP) return gd_fail(GD_EINVAL, "autograd: %d integer arguments (at most %d)", nip, AG_MAX_IP);
    if (!gd_is_float(out->scalar_type)) {   /* integer results carry no gradient (argmax, comparisons) */
        gd_tensor_release(saved);
        return GD_OK;
    }
    int64_t idx = 0;
    int st = tape_append(&idx);
    if (st) { gd_tensor_release(saved); return st; }
    ag_record *r = &tape[idx];
    /* every field, without a memset of the whole record (a rep stos of its
       264 bytes cost more than the rest of the recording) */
    r->dead = 0;
    r->mark = 0;
    r->in_ext = NULL;
    r->gout = NULL;
    r->in_inline[0] = r->in_inline[1] = r->in_inline[2] = NULL;
    /* whole fixed-size clears (a few vector stores); a clear from nin on
       became a call to memset, which cost more than the rest */
    memset(r->in_version, 0, sizeof r->in_version);
    if (nin > AG_INLINE_IN) {
        r->in_ext = calloc((size_t)nin, sizeof *r->in_ext);
        if (!r->in_ext) {
            r->dead = 1;
            tape_live--;
            tape_len--;
            gd_tensor_release(saved);
            return gd_fail(GD_ENOMEM, "autograd: out of memory recording %d inputs", nin);
        }
    }
    r->kind = (int16_t)kind;
    r->op = (int16_t)op;
    r->nin = (int16_t)nin;
    r->saves = (uint8_t)saved_inputs(kind, op, nin);
    for (int k = 0; k < nin; k++) {
        AG_IN(r)[k] = (gd_tensor *)in[k];
        gd_tensor_retain(AG_IN(r)[k]);
        if (k < AG_VERSIONED) r->in_version[k] = gd_tensor_version(in[k]);
    }
    r->p[0] = p ? p[0] : 0;
    r->p[1] = p ? p[1] : 0;
    /* the integer arguments: a record without any (most: arithmetic,
       reductions of everything) clears only the first few, which the
       backward of a kind that takes none may still read as 0 (a whole clear
       of the 12 was a tenth of the recording) */
    if (nip == 0) {
        r->ip[0] = r->ip[1] = r->ip[2] = r->ip[3] = 0;
    } else {
        memset(r->ip, 0, sizeof r->ip);
        for (int k = 0; k < nip; k++) r->ip[k] = ip[k];
    }
    r->nip = (int8_t)nip;
    r->saved = saved;
    r->saved_version = gd_tensor_version(saved);
    r->out = out;
    out->grad_node = idx + 1;
    out->requires_grad = 1;
    return GD_OK;
}

bool gd_ag_begin_n(gd_tensor *const *ts, int n)
{
    if (!gd_ag_mode) return false;
    for (int k = 0; k < n; k++)
        if (ts[k] && ts[k]->requires_grad) {
            gd_ag_mode = 0;
            return true;
        }
    return false;
}

int gd_ag_end(int st, gd_tensor **out, int kind, int op, int nin, const gd_tensor *const *in, const double *p,
              const int64_t *ip, int nip)
{
    gd_ag_mode = 1;
    if (st) return st;
    gd_tensor *saved = NULL;
    if (saves_output(kind, op)) st = gd_ag_alias(&saved, *out);
    if (!st) st = record(*out, kind, op, nin, in, p, ip, nip, saved);
    if (st) { gd_tensor_release(*out); *out = NULL; }
    return st;
}

int gd_ag_end_reduce_dim(int st, gd_tensor **values, const gd_tensor *indices, const gd_tensor *t, int op,
                         int dim, int keepdim, double p)
{
    gd_ag_mode = 1;
    if (st) return st;
    gd_tensor *saved = NULL;
    /* max/min along a dim route the gradient to the index they report; the
       caller may change its indices (the Lua layer makes them 1-based in
       place), so the record keeps a copy */
    if ((op == GD_RED_MAX || op == GD_RED_MIN) && indices) st = gd_clone(&saved, indices);
    else if (saves_output(GD_AG_REDUCE_DIM, op)) st = gd_ag_alias(&saved, *values);
    int64_t ip[2] = {dim, keepdim};
    double pp[2] = {p, 0};
    const gd_tensor *in[1] = {t};
    if (!st) st = record(*values, GD_AG_REDUCE_DIM, op, 1, in, pp, ip, 2, saved);
    if (st) { gd_tensor_release(*values); *values = NULL; }
    return st;
}

int gd_ag_write(gd_tensor *t, const char *fname)
{
    if (!t) return GD_OK;
    if (t->grad_node && gd_ag_mode)
        return gd_fail(GD_EINVAL, "%s: in-place operations on a tensor that autograd recorded (the result of a "
                                  "differentiable operation) are not supported: use the out-of-place form, or "
                                  "detach() it / run it under gd.no_grad", fname);
    if (t->storage) t->storage->version++;
    return GD_OK;
}

/* ------------------------------------------------------------- the API */

int gd_set_requires_grad(gd_tensor *t, int on)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    if (on && !gd_is_float(t->scalar_type))
        return gd_fail(GD_EINVAL, "requires_grad: only float tensors can require gradients (this one is %s)",
                       gd_dtype_name(t->scalar_type));
    if (!on && t->grad_node)
        return gd_fail(GD_EINVAL, "requires_grad: this tensor is the result of a recorded operation; only leaves can "
                                  "be switched off (use detach())");
    t->requires_grad = on ? 1 : 0;
    return GD_OK;
}

int gd_detach(gd_tensor **out, const gd_tensor *t)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    return gd_ag_alias(out, t);
}

int gd_reduce(gd_tensor **out, const gd_tensor *t, int op, double p)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    bool rec = gd_ag_begin(t, NULL, NULL);
    double v = 0;
    int st = gd_reduce_all(t, op, p, &v);
    int d = t->scalar_type;
    if (op == GD_RED_ARGMAX || op == GD_RED_ARGMIN) d = GD_INT64;
    else if (d == GD_INT64 && op != GD_RED_SUM && op != GD_RED_PROD && op != GD_RED_MAX && op != GD_RED_MIN)
        d = GD_FLOAT32;
    *out = NULL;
    if (!st) st = gd_empty(out, 0, NULL, d, t->device_kind);
    if (!st) st = gd_fill_fresh1(*out, v);
    if (st && *out) { gd_tensor_release(*out); *out = NULL; }
    if (rec) {
        double pp[2] = {p, 0};
        const gd_tensor *in[1] = {t};
        st = gd_ag_end(st, out, GD_AG_REDUCE_ALL, op, 1, in, pp, NULL, 0);
    }
    return st;
}

int gd_autograd_record_nn(gd_tensor *y, int kind, gd_tensor *const *in, int nin, const gd_tensor *saved,
                          const int64_t *ip, int nip)
{
    GD_TRY(gd_check_tensor(y, "output"));
    if (kind < 0 || kind >= GD_AG_NN_KIND_COUNT) return gd_fail(GD_EINVAL, "autograd: unknown module kind %d", kind);
    int most = kind == GD_AG_NN_RNN ? 8 : AG_INLINE_IN;   /* RNN: + LSTM's w_hr */
    if (nin < 1 || nin > most) return gd_fail(GD_EINVAL, "autograd: a module node takes 1 to %d inputs", most);
    if (!gd_ag_mode) return GD_OK;
    bool any = false;
    for (int k = 0; k < nin; k++) {
        if (in[k]) GD_TRY(gd_check_tensor(in[k], "input"));
        any = any || (in[k] && in[k]->requires_grad);
    }
    if (!any) return GD_OK;
    if (y->grad_node)
        return gd_fail(GD_EINVAL, "autograd: the module's output is already recorded (a new output is needed for "
                                  "each recorded call)");
    gd_tensor *keep = NULL;
    if (saved) {
        GD_TRY(gd_check_tensor(saved, "saved"));
        GD_TRY(gd_ag_alias(&keep, saved));
    }
    int n = nin;
    while (n > 1 && !in[n - 1]) n--;    /* a missing bias */
    return record(y, GD_AG_NN, kind, n, (const gd_tensor *const *)in, NULL, ip, nip, keep);
}

int gd_autograd_reuse_output(gd_tensor *y)
{
    /* one reference (its owner's handle) and one on its storage: no record
       reads it (records retain their inputs and alias what they save), no
       view, detach or gradient slot of it exists; a user-made leaf is left
       alone */
    if (!y || y->refcount != 1 || !y->storage || y->storage->refcount != 1 || y->is_freed || y->gradient ||
        y->grad_refs || (y->requires_grad && !y->grad_node))
        return 0;
    /* its old record (walked, or part of a graph nobody can reach any more:
       only y led to it) goes now */
    if (y->grad_node) gd_ag_forget(y);
    y->requires_grad = 0;
    y->grad_received = 0;
    gd_tensor_bump_version(y);
    return 1;
}

int gd_autograd_loss_result(gd_tensor **out, double value, const gd_tensor *losses, const gd_tensor *grad,
                            gd_tensor *pred, int extra_dim)
{
    *out = NULL;
    GD_TRY(gd_check_tensor(pred, "prediction"));
    GD_TRY(gd_check_tensor(grad, "gradient"));
    if (grad->rank != pred->rank || grad->count != pred->count)
        return gd_fail(GD_EINVAL, "autograd: a loss's gradient must have the prediction's shape");
    int st;
    if (losses) {
        GD_TRY(gd_check_tensor(losses, "losses"));
        st = gd_clone(out, losses);
    } else {
        st = gd_empty(out, 0, NULL, pred->scalar_type, pred->device_kind);
        if (!st) st = gd_fill(*out, value);
    }
    if (st || !gd_ag_mode || !pred->requires_grad) {
        if (st) { gd_tensor_release(*out); *out = NULL; }
        return st;
    }
    /* the record keeps its own copy of the gradient (the loss's buffer is
       overwritten by its next call), from the reused buffers */
    gd_tensor *g = NULL;
    st = gd_ag_pool_empty(&g, grad->rank, grad->sizes, grad->scalar_type, grad->device_kind);
    if (!st) st = gd_copy(g, grad);
    if (st) {
        gd_tensor_release(g);
        gd_tensor_release(*out);
        *out = NULL;
        return st;
    }
    int64_t ip[1] = {losses && extra_dim ? 1 : 0};
    const gd_tensor *in[1] = {pred};
    st = record(*out, GD_AG_NN, GD_AG_NN_LOSS_GRAD, 1, in, NULL, ip, 1, g);   /* (takes g's reference) */
    if (st) { gd_tensor_release(*out); *out = NULL; }
    return st;
}

/* ------------------------------------------------------- the backward walk */

static int shape_mismatch(const gd_tensor *g, const gd_tensor *t)
{
    char a[128], b[128];
    return gd_fail(GD_EINVAL, "backward: the gradient has shape %s but the tensor has shape %s",
                   gd_shape_str(g, a, sizeof a), gd_shape_str(t, b, sizeof b));
}

/* Adds g (with t's shape) into dst's accumulated gradient *acc. */
int gd_ag_accumulate(gd_tensor **acc, const gd_tensor *g)
{
    if (!*acc) {
        gd_tensor_retain((gd_tensor *)g);
        *acc = (gd_tensor *)g;
        return GD_OK;
    }
    gd_tensor *sum;
    GD_TRY(gd_binary(&sum, *acc, g, GD_OP_ADD));
    gd_tensor_release(*acc);
    *acc = sum;
    return GD_OK;
}

const gd_tensor *gd_ag_implied_seed;

/* The leaf hook, and whether the walk in progress reports to it. */
static const gd_ag_leaf_hook *leaf_hook;
static bool hook_on;

void gd_ag_set_leaf_hook(const gd_ag_leaf_hook *hook) { leaf_hook = hook; }

int gd_ag_leaf_written(const gd_tensor *leaf) { return hook_on ? leaf_hook->written(leaf) : GD_OK; }

/* t.grad += g; a new .grad (contiguous, t's dtype) when t has none. */
static int accumulate_leaf(gd_tensor *t, const gd_tensor *g)
{
    t->grad_received = 1;
    if (t->gradient) {
        GD_TRY(gd_add_scaled_(t->gradient, g, 1.0));
        return gd_ag_leaf_written(t);
    }
    gd_tensor *c;
    GD_TRY(gd_empty(&c, t->rank, t->sizes, t->scalar_type, t->device_kind));
    int st = gd_copy(c, g);
    if (!st) st = gd_tensor_set_grad(t, c);
    gd_tensor_release(c);
    return st;
}

gd_tensor *gd_ag_leaf_grad_for_add(const gd_tensor *t, const void *vsink)
{
    const gd_ag_sink *sink = vsink;
    if (!t->requires_grad || t->grad_node || sink->n > 0 || hook_on) return NULL;
    return t->gradient;
}

static int second_time_error(void)
{
    return gd_fail(GD_EINVAL, "backward: trying to backward through the graph a second time (its saved values were "
                              "freed by the first backward; pass retain_graph = true to the first)");
}

/* Sends g, the gradient for input t (already of t's shape and dtype), on. */
int gd_ag_send(const gd_tensor *t, const gd_tensor *g, const void *vsink)
{
    const gd_ag_sink *sink = vsink;
    if (!t || !g || !t->requires_grad) return GD_OK;
    /* a recorded input: into its record (a listed one is collected there) */
    if (t->grad_node > 0) return gd_ag_accumulate(&tape[t->grad_node - 1].gout, g);
    if (t->grad_node) return second_time_error();   /* consumed (the marking refuses such a walk first) */
    if (sink->n > 0) {
        for (int k = 0; k < sink->n; k++)
            if (sink->inputs[k] == t) GD_TRY(gd_ag_accumulate(&sink->grads[k], g));
        return GD_OK;
    }
    return accumulate_leaf((gd_tensor *)t, g);
}

static int modified_error(const gd_tensor *t, const ag_record *r, uint64_t was)
{
    char s[128];
    return gd_fail(GD_EINVAL, "backward: a tensor needed for gradient computation has been modified by an in-place "
                              "operation (a %s tensor of shape %s, saved by %s at version %llu, now at version %llu)",
                   gd_dtype_name(t->scalar_type), gd_shape_str(t, s, sizeof s), gd_ag_kind_name(r->kind, r->op),
                   (unsigned long long)was, (unsigned long long)gd_tensor_version(t));
}

/* The records the current backward reaches, in decreasing index order (a
   topological order): the walk visits only these, so its cost does not grow
   with the records of other graphs still on the tape (those of earlier steps
   whose tensors the Lua GC has not finalized yet). */
static int64_t *reached;
static int64_t reached_len, reached_cap;

static int reach(int64_t idx)
{
    if (reached_len == reached_cap) {
        int64_t cap = reached_cap ? 2 * reached_cap : 256;
        int64_t *p = realloc(reached, (size_t)cap * sizeof *p);
        if (!p) return gd_fail(GD_ENOMEM, "backward: out of memory");
        reached = p;
        reached_cap = cap;
    }
    reached[reached_len++] = idx;
    return GD_OK;
}

/* Marks the records root's gradient reaches; checks that none was consumed or
   had a saved tensor changed, before any gradient is written.  Stops as soon
   as no marked record is left below. */
static int mark_reachable(int64_t top)
{
    reached_len = 0;
    tape[top].mark = 1;
    int64_t waiting = 1;   /* marked records not visited yet */
    for (int64_t i = top; i >= 0 && waiting > 0; i--) {
        ag_record *r = &tape[i];
        if (!r->mark) continue;
        waiting--;
        GD_TRY(reach(i));
        if (r->dead) continue;
        for (int k = 0; k < r->nin; k++) {
            const gd_tensor *t = AG_IN(r)[k];
            if (t && t->grad_node == GD_AG_CONSUMED_NODE) return second_time_error();
            if (k < AG_VERSIONED && (r->saves >> k & 1) && gd_tensor_version(t) != r->in_version[k])
                return modified_error(t, r, r->in_version[k]);
            if (hook_on && t && !t->grad_node && t->requires_grad) leaf_hook->expect(t);
            if (t && t->grad_node && t->requires_grad && !tape[t->grad_node - 1].mark) {
                tape[t->grad_node - 1].mark = 1;
                waiting++;
            }
        }
        if (r->saved && gd_tensor_version(r->saved) != r->saved_version)
            return modified_error(r->saved, r, r->saved_version);
    }
    return GD_OK;
}

/* Clears the marks (also of records marked but not reached: an error stopped
   the marking) and any gradient left in them. */
static void unmark(int64_t top, bool marking_failed)
{
    for (int64_t k = 0; k < reached_len; k++) {
        ag_record *r = &tape[reached[k]];
        r->mark = 0;
        gd_tensor_release(r->gout);
        r->gout = NULL;
    }
    /* an error in the marking leaves marks below the last record reached */
    int64_t low = reached_len ? reached[reached_len - 1] : top + 1;
    for (int64_t i = low - 1; marking_failed && i >= 0; i--) {
        if (!tape[i].mark) continue;
        tape[i].mark = 0;
    }
    reached_len = 0;
}

static int walk(gd_tensor *root, const gd_tensor *grad, int retain, gd_ag_sink *sink)
{
    GD_TRY(gd_check_tensor(root, "tensor"));
    if (!root->requires_grad)
        return gd_fail(GD_EINVAL, "backward: the tensor does not require grad and has no recorded operation behind it "
                                  "(give a leaf requires_grad = true before computing with it)");
    if (grad) {
        GD_TRY(gd_check_tensor(grad, "gradient"));
        if (!gd_ag_same_shape(grad, root)) return shape_mismatch(grad, root);
        GD_TRY(gd_check_same_device(grad, root));
    } else if (root->count != 1) {
        char s[128];
        return gd_fail(GD_EINVAL, "backward: a gradient can be implied only for a one-element result; this one has "
                                  "shape %s (pass the gradient: t:backward(g))", gd_shape_str(root, s, sizeof s));
    }
    if (root->grad_node == GD_AG_CONSUMED_NODE) return second_time_error();
    int was = gd_ag_mode;
    gd_ag_mode = 0;    /* the backward's own ops are not recorded */
    gd_tensor *seed = NULL;
    int st;
    if (grad) {
        st = gd_to(&seed, grad, root->scalar_type, -1);
    } else {
        st = gd_ag_pool_empty(&seed, root->rank, root->sizes, root->scalar_type, root->device_kind);
        if (!st) st = gd_fill_fresh1(seed, 1.0);
        if (st) { gd_tensor_release(seed); seed = NULL; }
    }
    if (st) { gd_ag_mode = was; return st; }
    bool hooked = leaf_hook && sink->n == 0;
    if (hooked) leaf_hook->begin();
    hook_on = hooked;
    if (!root->grad_node) {   /* a leaf: its own gradient */
        st = gd_ag_send(root, seed, sink);
        gd_tensor_release(seed);
        hook_on = false;
        if (hooked) st = leaf_hook->end(st);
        gd_ag_mode = was;
        return st;
    }
    int64_t top = root->grad_node - 1;
    if (!st) st = mark_reachable(top);
    bool marking_failed = st != 0;
    if (!st) st = gd_ag_accumulate(&tape[top].gout, seed);
    gd_ag_implied_seed = grad ? NULL : seed;
    gd_tensor_release(seed);
    for (int64_t k = 0; !st && k < reached_len; k++) {
        ag_record *r = &tape[reached[k]];
        if (r->dead || !r->gout) continue;
        if (sink->n > 0 && r->out)   /* a listed non-leaf input: its gradient is the record's */
            for (int k = 0; k < sink->n; k++)
                if (sink->inputs[k] == r->out) st = gd_ag_accumulate(&sink->grads[k], r->gout);
        if (!st) st = gd_ag_backward_record(r, sink);
        gd_tensor_release(r->gout);
        r->gout = NULL;
        /* the seed reaches the root's record only (and its buffer may be
           reused for another gradient from here on) */
        gd_ag_implied_seed = NULL;
    }
    if (!st && !retain)
        for (int64_t k = 0; k < reached_len; k++)
            if (!tape[reached[k]].dead) consume_record(reached[k]);
    unmark(top, marking_failed);
    gd_ag_implied_seed = NULL;
    hook_on = false;
    /* DataParallel: the buckets not posted yet, then every wait, in order */
    if (hooked) st = leaf_hook->end(st);
    gd_ag_mode = was;
    /* consuming released inputs: dead records at the top go */
    while (tape_len > 0 && tape[tape_len - 1].dead) tape_len--;
    if (tape_live == 0) tape_len = 0;
    return st;
}

int gd_backward(gd_tensor *root, const gd_tensor *grad, int retain_graph)
{
    gd_ag_sink sink = {NULL, NULL, 0};
    return walk(root, grad, retain_graph, &sink);
}

int gd_autograd_grad(gd_tensor **grads, gd_tensor *root, const gd_tensor *grad, gd_tensor *const *inputs, int n,
                     int retain_graph)
{
    if (n < 1) return gd_fail(GD_EINVAL, "grad: no inputs to differentiate with respect to");
    for (int k = 0; k < n; k++) {
        GD_TRY(gd_check_tensor(inputs[k], "input"));
        if (!inputs[k]->requires_grad)
            return gd_fail(GD_EINVAL, "grad: input %d does not require grad", k + 1);
        grads[k] = NULL;
    }
    gd_ag_sink sink = {inputs, grads, n};
    int st = walk(root, grad, retain_graph, &sink);
    if (st)
        for (int k = 0; k < n; k++) { gd_tensor_release(grads[k]); grads[k] = NULL; }
    return st;
}
