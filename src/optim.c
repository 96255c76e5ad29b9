/*
 * optim.c: fused optimizer steps over parameter lists.
 *
 * Layout.  An optimizer keeps, per (dtype, device) of its parameters, one flat
 * arena per state slot; parameter i owns elements [off_i, off_i + n_i) of the
 * arenas of its kind.  Offsets are assigned in the order of the parameters'
 * addresses, so parameters that are adjacent in memory (a module's parameter
 * arena) have adjacent state too and merge into one *segment*: a run of
 * (param, grad, state...) pointers over n elements.  A step is one pass over
 * the segments, split across threads by element ranges in one parallel
 * region; on CUDA, one kernel per segment.
 *
 * Every check (gradients present, shapes, finite learning rate, allocation,
 * memory shared between parameters and gradients, parameters that cannot be
 * written back) happens before the first element is touched, so a failed step
 * modifies nothing.
 *
 * Sizes.  The offsets hold while each parameter keeps the element count it
 * had when they were assigned (layout_count).  A parameter resized through
 * set_ is re-laid out while the optimizer has no state yet, and refused once
 * it has (the state of the old size means nothing for the new one, and the
 * old offsets would run past the arenas).  Both are found by the layout
 * cache, so an unchanged step pays nothing for them.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "cuda_backend.h"
#include "kernels/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

enum { MAX_SLOTS = GD_OPTIM_MAX_SLOTS, NGROUPS = GD_DTYPE_COUNT * GD_DEVICE_COUNT };

typedef struct {
    gd_tensor *param, *grad;    /* contiguous copies for a strided parameter */
} stage_pair;

struct gd_optim {
    int kind, n;
    gd_tensor **params;         /* retained */
    int *group;                 /* (dtype, device) group of each parameter */
    int64_t *offset;            /* state offset of each parameter in its group's arenas */
    int64_t *layout_count;      /* each parameter's element count when the offsets were assigned */
    int64_t group_size[NGROUPS];
    gd_tensor *arena[NGROUPS][MAX_SLOTS];
    /* what the current segments were built from; a change rebuilds them */
    const gd_tensor **seen_grad;
    void **seen_grad_data, **seen_param_data;
    int64_t *seen_count;
    uint64_t seen_epoch;        /* gd_geometry_epoch: a set_ anywhere re-checks everything */
    int layout_valid;
    gd_optim_segment *segs;
    int nseg;
    stage_pair *stage;          /* per parameter, allocated when needed */
    int any_staged, any_cuda, state_bound;
    int64_t step;
    /* the plan of the last step and the hyperparameters it came from: most
       steps reuse it (the per-step path must cost nanoseconds) */
    gd_optim_plan plan;
    gd_optim_hyper plan_hyper;
    int plan_valid;
};

static const int slot_count[GD_OPTIM_KIND_COUNT] = {1, 3, 2, 3, 3};
static const char *kind_name[GD_OPTIM_KIND_COUNT] = {"SGD", "RMSProp", "AdaDelta", "Adam", "SMORMS3"};

int gd_optim_num_slots(int kind) { return kind >= 0 && kind < GD_OPTIM_KIND_COUNT ? slot_count[kind] : 0; }

/* Does a step with these hyperparameters use the slot? */
static bool slot_needed(int kind, int slot, const gd_optim_hyper *h)
{
    switch (kind) {
    case GD_OPTIM_SGD: return h->momentum != 0;
    case GD_OPTIM_RMSPROP: return slot == 0 || (slot == 1 && h->centered) || (slot == 2 && h->momentum != 0);
    case GD_OPTIM_ADAM: return slot < 2 || h->amsgrad;
    default: return true;
    }
}

static double slot_init(int kind, int slot, const gd_optim_hyper *h)
{
    if (kind == GD_OPTIM_RMSPROP && slot == 0) return h->state_init;
    if (kind == GD_OPTIM_SMORMS3 && slot == 0) return 1.0; /* SMORMS3's memory starts at 1 */
    return 0.0;
}

static int group_of(const gd_tensor *t) { return t->scalar_type * GD_DEVICE_COUNT + t->device_kind; }

/* ---------------------------------------------------------------- create */

static int cmp_by_address(const void *a, const void *b, void *ctx);
typedef struct { const gd_tensor *t; int index; } addr_item;

static int cmp_items(const void *a, const void *b)
{
    const addr_item *x = a, *y = b;
    int gx = group_of(x->t), gy = group_of(y->t);
    if (gx != gy) return gx < gy ? -1 : 1;
    uintptr_t px = (uintptr_t)x->t->data, py = (uintptr_t)y->t->data;
    if (px != py) return px < py ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

void gd_optim_free(gd_optim *o)
{
    if (!o) return;
    for (int i = 0; i < o->n; i++) {
        gd_tensor_release(o->params[i]);
        if (o->stage) {
            gd_tensor_release(o->stage[i].param);
            gd_tensor_release(o->stage[i].grad);
        }
    }
    for (int g = 0; g < NGROUPS; g++)
        for (int s = 0; s < MAX_SLOTS; s++) gd_tensor_release(o->arena[g][s]);
    free(o->params);
    free(o->group);
    free(o->offset);
    free(o->layout_count);
    free(o->seen_grad);
    free(o->seen_grad_data);
    free(o->seen_param_data);
    free(o->seen_count);
    free(o->segs);
    free(o->stage);
    free(o);
}

/* State offsets in address order: neighbours in memory are neighbours in
   state.  Sets group_size and layout_count from the parameters' sizes now. */
static int assign_offsets(gd_optim *o)
{
    addr_item *items = malloc((o->n > 0 ? (size_t)o->n : 1) * sizeof *items);
    if (!items) return gd_fail(GD_ENOMEM, "out of memory");
    for (int i = 0; i < o->n; i++) {
        items[i].t = o->params[i];
        items[i].index = i;
    }
    qsort(items, (size_t)o->n, sizeof *items, cmp_items);
    memset(o->group_size, 0, sizeof o->group_size);
    for (int k = 0; k < o->n; k++) {
        int i = items[k].index, g = o->group[i];
        o->offset[i] = o->group_size[g];
        o->layout_count[i] = o->params[i]->count;
        o->group_size[g] += o->params[i]->count;
    }
    free(items);
    o->layout_valid = 0;
    return GD_OK;
}

static bool has_state(const gd_optim *o)
{
    for (int g = 0; g < NGROUPS; g++)
        for (int s = 0; s < MAX_SLOTS; s++)
            if (o->arena[g][s]) return true;
    return false;
}

/* Parameter i still fits its state offsets, or is given new ones while there
   is no state. */
static int fit_layout(gd_optim *o, int i)
{
    const gd_tensor *p = o->params[i];
    if (p->count == o->layout_count[i]) return GD_OK;
    if (has_state(o))
        return gd_fail(GD_EINVAL, "parameter %d has %lld elements but its optimizer state was made for %lld: a "
                                  "parameter cannot change size once the optimizer has state (make a new optimizer)",
                       i + 1, (long long)p->count, (long long)o->layout_count[i]);
    return assign_offsets(o);
}

/* A staged parameter is written back after the update: the write-back must
   not fail once the state has changed. */
static int check_updatable(const gd_tensor *p, int i)
{
    if (gd_check_writable(p, "step"))
        return gd_fail(GD_EINVAL, "parameter %d is an expanded (or self-overlapping) view, where several elements "
                                  "share one memory location; an optimizer cannot update it", i + 1);
    return GD_OK;
}

/* Two parameters, or a gradient and a parameter, that share memory: the step
   would update one element twice, or read a gradient it has already
   overwritten (with `restrict` loops, in an order that depends on the SIMD
   width).  PyTorch refuses a parameter listed twice; views of one memory are
   the same mistake. */
static int check_disjoint(gd_tensor *const *params, int n, bool with_grads)
{
    int m = with_grads ? 2 * n : n;
    gd_tensor **ts = malloc((m > 0 ? (size_t)m : 1) * sizeof *ts);
    if (!ts) return gd_fail(GD_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        ts[i] = params[i];
        if (with_grads) ts[n + i] = params[i]->gradient;
    }
    int a = 0, b = 0;
    int found = gd_find_overlap(ts, m, n, &a, &b);
    free(ts);
    if (found <= 0) return found;
    if (b < n) return gd_fail(GD_EINVAL, "parameters %d and %d share memory (views of one tensor): the step would "
                                         "update it twice", a + 1, b + 1);
    if (b - n == a)
        return gd_fail(GD_EINVAL, "the gradient of parameter %d shares memory with the parameter; give it a "
                                  "gradient of its own (clone())", a + 1);
    return gd_fail(GD_EINVAL, "the gradient of parameter %d shares memory with parameter %d; give it a gradient "
                              "of its own (clone())", b - n + 1, a + 1);
}

int gd_optim_new(gd_optim **out, int kind, gd_tensor *const *params, int n, const gd_optim_hyper *hyper)
{
    if (kind < 0 || kind >= GD_OPTIM_KIND_COUNT) return gd_fail(GD_EINVAL, "unknown optimizer kind %d", kind);
    if (n < 0) return gd_fail(GD_EINVAL, "negative parameter count");
    (void)hyper;
    for (int i = 0; i < n; i++) {
        char what[64];
        snprintf(what, sizeof what, "parameter %d", i + 1);
        GD_TRY(gd_check_tensor(params[i], what));
        if (!gd_is_float(params[i]->scalar_type))
            return gd_fail(GD_EINVAL, "parameter %d has dtype %s; optimizers update float32 or float64 tensors",
                           i + 1, gd_dtype_name(params[i]->scalar_type));
        for (int j = 0; j < i; j++)
            if (params[j] == params[i])
                return gd_fail(GD_EINVAL, "parameter %d is the same tensor as parameter %d", i + 1, j + 1);
    }
    GD_TRY(check_disjoint(params, n, false));
    gd_optim *o = calloc(1, sizeof *o);
    if (!o) return gd_fail(GD_ENOMEM, "out of memory");
    o->kind = kind;
    o->n = n;
    size_t m = n > 0 ? (size_t)n : 1;
    o->params = calloc(m, sizeof *o->params);
    o->group = calloc(m, sizeof *o->group);
    o->offset = calloc(m, sizeof *o->offset);
    o->layout_count = calloc(m, sizeof *o->layout_count);
    o->seen_grad = calloc(m, sizeof *o->seen_grad);
    o->seen_grad_data = calloc(m, sizeof *o->seen_grad_data);
    o->seen_param_data = calloc(m, sizeof *o->seen_param_data);
    o->seen_count = calloc(m, sizeof *o->seen_count);
    o->segs = calloc(m, sizeof *o->segs);
    if (!o->params || !o->group || !o->offset || !o->layout_count || !o->seen_grad || !o->seen_grad_data ||
        !o->seen_param_data || !o->seen_count || !o->segs) {
        gd_optim_free(o);
        return gd_fail(GD_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        o->params[i] = params[i];
        gd_tensor_retain(params[i]);
        o->group[i] = group_of(params[i]);
    }
    int st = assign_offsets(o);
    if (st) { gd_optim_free(o); return st; }
    *out = o;
    return GD_OK;
}

/* ----------------------------------------------------------------- state */

static int ensure_slot(gd_optim *o, int slot, const gd_optim_hyper *h)
{
    for (int g = 0; g < NGROUPS; g++) {
        if (o->group_size[g] == 0 || o->arena[g][slot]) continue;
        int64_t size = o->group_size[g];
        gd_tensor *a;
        GD_TRY(gd_empty(&a, 1, &size, g / GD_DEVICE_COUNT, g % GD_DEVICE_COUNT));
        int st = gd_fill(a, slot_init(o->kind, slot, h));
        if (st) { gd_tensor_release(a); return st; }
        o->arena[g][slot] = a;
        o->state_bound = 0;
    }
    return GD_OK;
}

int gd_optim_slot_allocated(const gd_optim *o, int slot)
{
    if (!o || slot < 0 || slot >= slot_count[o->kind]) return 0;
    for (int g = 0; g < NGROUPS; g++)
        if (o->group_size[g] > 0) return o->arena[g][slot] != NULL;
    return 0;
}

int gd_optim_state(gd_tensor **out, gd_optim *o, int param, int slot, const gd_optim_hyper *hyper)
{
    if (!o) return gd_fail(GD_EINVAL, "no optimizer");
    if (param < 0 || param >= o->n) return gd_fail(GD_EINVAL, "parameter %d out of range 1..%d", param + 1, o->n);
    if (slot < 0 || slot >= slot_count[o->kind]) return gd_fail(GD_EINVAL, "state slot %d out of range", slot);
    GD_TRY(gd_optim_check_state(o, param));
    GD_TRY(ensure_slot(o, slot, hyper));
    const gd_tensor *p = o->params[param];
    gd_tensor *a = o->arena[o->group[param]][slot];
    int64_t strides[GD_MAX_DIMS];
    gd_contiguous_strides(p->rank, p->sizes, strides);
    return gd_tensor_wrap(out, a->storage, a->scalar_type, o->offset[param], p->rank, p->sizes, strides);
}

int gd_optim_check_state(gd_optim *o, int param)
{
    if (!o) return gd_fail(GD_EINVAL, "no optimizer");
    if (param < 0 || param >= o->n) return gd_fail(GD_EINVAL, "parameter %d out of range 1..%d", param + 1, o->n);
    const gd_tensor *p = o->params[param];
    if (p->is_freed) return gd_fail(GD_EFREED, "parameter %d was released with free()", param + 1);
    if (group_of(p) != o->group[param])
        return gd_fail(GD_EINVAL, "parameter %d changed dtype or device since the optimizer was created", param + 1);
    return fit_layout(o, param);
}

int64_t gd_optim_get_step(const gd_optim *o) { return o ? o->step : 0; }
int gd_optim_set_step(gd_optim *o, int64_t step)
{
    if (!o) return gd_fail(GD_EINVAL, "no optimizer");
    if (step < 0) return gd_fail(GD_EINVAL, "step %lld is negative", (long long)step);
    o->step = step;
    o->plan_valid = 0; /* the plan may depend on the step */
    return GD_OK;
}

/* ---------------------------------------------------------------- layout */

/* Checks every parameter and gradient; on success (re)builds the segments when
   anything they were built from changed.  Touches no element. */
static int check_and_layout(gd_optim *o)
{
    /* set_ is the one way to change a tensor's strides in place (a dense
       parameter turned strided, or expanded, over the same memory): it moves
       the epoch, and then everything is checked again */
    uint64_t epoch = __atomic_load_n(&gd_geometry_epoch, __ATOMIC_RELAXED);
    bool changed = !o->layout_valid || o->seen_epoch != epoch;
    for (int i = 0; i < o->n; i++) {
        const gd_tensor *p = o->params[i], *g = p->gradient;
        if (p->is_freed) return gd_fail(GD_EFREED, "parameter %d was released with free()", i + 1);
        if (!g) return gd_fail(GD_EINVAL, "parameter %d has no gradient (set .grad, or run backward first)", i + 1);
        if (g->is_freed) return gd_fail(GD_EFREED, "the gradient of parameter %d was released with free()", i + 1);
        if (group_of(p) != o->group[i])
            return gd_fail(GD_EINVAL, "parameter %d changed dtype or device since the optimizer was created", i + 1);
        if (g->count != p->count || g->scalar_type != p->scalar_type || g->device_kind != p->device_kind)
            return gd_fail(GD_EINVAL, "the gradient of parameter %d no longer matches it (%lld elements of %s on %s "
                                      "for %lld of %s on %s)", i + 1, (long long)g->count,
                           gd_dtype_name(g->scalar_type), g->device_kind ? "cuda" : "cpu", (long long)p->count,
                           gd_dtype_name(p->scalar_type), p->device_kind ? "cuda" : "cpu");
        if (o->seen_grad[i] != g || o->seen_grad_data[i] != g->data || o->seen_param_data[i] != p->data ||
            o->seen_count[i] != p->count)
            changed = true;
    }
    if (!changed) return GD_OK;
    /* each parameter's element count fixes its state offset */
    for (int i = 0; i < o->n; i++) GD_TRY(fit_layout(o, i));
    for (int i = 0; i < o->n; i++) GD_TRY(check_updatable(o->params[i], i));
    GD_TRY(check_disjoint(o->params, o->n, true));
    /* order by state offset: merged runs must be adjacent in state, param and grad */
    addr_item *items = malloc((o->n > 0 ? (size_t)o->n : 1) * sizeof *items);
    if (!items) return gd_fail(GD_ENOMEM, "out of memory");
    for (int i = 0; i < o->n; i++) { items[i].t = o->params[i]; items[i].index = i; }
    qsort_r(items, (size_t)o->n, sizeof *items, cmp_by_address, o);
    int nseg = 0;
    for (int k = 0; k < o->n; k++) {
        int i = items[k].index;
        const gd_tensor *p = o->params[i], *g = p->gradient;
        if (p->count == 0) continue;
        size_t es = gd_dtype_size(p->scalar_type);
        bool dense = p->is_contiguous && g->is_contiguous;
        if (dense && nseg > 0) {
            gd_optim_segment *last = &o->segs[nseg - 1];
            int prev = last->param_index;
            const gd_tensor *pp = o->params[prev];
            if (!last->staged && last->dtype == p->scalar_type && last->device == p->device_kind &&
                o->group[prev] == o->group[i] && last->param + last->n * (int64_t)es == (char *)p->data &&
                last->grad + last->n * (int64_t)es == (char *)g->data &&
                o->offset[prev] + (((char *)p->data - (char *)pp->data) / (int64_t)es) == o->offset[i] &&
                gd_same_storage(pp, p)) {
                last->n += p->count;
                continue;
            }
        }
        gd_optim_segment *s = &o->segs[nseg++];
        memset(s, 0, sizeof *s);
        s->param = p->data;
        s->grad = g->data;
        s->n = p->count;
        s->dtype = p->scalar_type;
        s->device = p->device_kind;
        s->staged = !dense;
        s->param_index = i;
    }
    free(items);
    o->nseg = nseg;
    o->any_staged = o->any_cuda = 0;
    for (int k = 0; k < nseg; k++) {
        o->any_staged |= o->segs[k].staged;
        o->any_cuda |= o->segs[k].device == GD_CUDA;
    }
    o->state_bound = 0;
    for (int i = 0; i < o->n; i++) {
        const gd_tensor *p = o->params[i];
        o->seen_grad[i] = p->gradient;
        o->seen_grad_data[i] = p->gradient->data;
        o->seen_param_data[i] = p->data;
        o->seen_count[i] = p->count;
    }
    o->seen_epoch = epoch;
    o->layout_valid = 1;
    return GD_OK;
}

/* state offsets order the parameters (they were assigned in address order) */
static int cmp_by_address(const void *a, const void *b, void *ctx)
{
    const gd_optim *o = ctx;
    const addr_item *x = a, *y = b;
    int gx = o->group[x->index], gy = o->group[y->index];
    if (gx != gy) return gx < gy ? -1 : 1;
    int64_t ox = o->offset[x->index], oy = o->offset[y->index];
    return ox < oy ? -1 : ox > oy;
}

/* Points each segment's state at its arenas (after ensure_slot). */
static void bind_state(gd_optim *o)
{
    for (int k = 0; k < o->nseg; k++) {
        gd_optim_segment *s = &o->segs[k];
        int i = s->param_index, g = o->group[i];
        size_t es = gd_dtype_size(s->dtype);
        /* a merged run starts at its first parameter's state */
        int64_t off = o->offset[i];
        for (int slot = 0; slot < MAX_SLOTS; slot++) {
            gd_tensor *a = slot < slot_count[o->kind] ? o->arena[g][slot] : NULL;
            s->state[slot] = a ? (char *)a->data + off * (int64_t)es : NULL;
        }
    }
}

/* --------------------------------------------------------------- kernels */

/* One loop per (kind, dtype, switches): the switches are constants inside, so
   every loop vectorises.  `restrict`: the arrays of one segment never overlap. */
#define RMSPROP_LOOP(T, S, CEN, EPSIN, MST)                                                  \
    GD_SIMD_CLONES static void rmsprop_##S##_##CEN##EPSIN##MST(int64_t n, T *restrict p, const T *restrict g,\
                                                T *restrict v, T *restrict m, T *restrict b, \
                                                const gd_optim_coef *restrict k)                  \
    {                                                                                        \
        if (k->clip_weights) /* MXNet's clip_weights: its own loop, the others stay lean */  \
            for (int64_t i = 0; i < n; i++)                                                  \
                gd_rmsprop_elem_##S(p + i, g[i], v + i, CEN ? m + i : v + i,                 \
                                    MST ? b + i : v + i, k, CEN, EPSIN, MST, 1);             \
        else                                                                                 \
            for (int64_t i = 0; i < n; i++)                                                  \
                gd_rmsprop_elem_##S(p + i, g[i], v + i, CEN ? m + i : v + i,                 \
                                    MST ? b + i : v + i, k, CEN, EPSIN, MST, 0);             \
    }
#define RMSPROP_LOOPS_MST(T, S, CEN, EPSIN)                                                  \
    RMSPROP_LOOP(T, S, CEN, EPSIN, 0) RMSPROP_LOOP(T, S, CEN, EPSIN, 1)                      \
    RMSPROP_LOOP(T, S, CEN, EPSIN, 2) RMSPROP_LOOP(T, S, CEN, EPSIN, 3)
#define RMSPROP_LOOPS(T, S)                                                                  \
    RMSPROP_LOOPS_MST(T, S, 0, 0) RMSPROP_LOOPS_MST(T, S, 0, 1)                              \
    RMSPROP_LOOPS_MST(T, S, 1, 0) RMSPROP_LOOPS_MST(T, S, 1, 1)
RMSPROP_LOOPS(float, f)
RMSPROP_LOOPS(double, d)

typedef void (*rmsprop_loop_f)(int64_t, float *, const float *, float *, float *, float *, const gd_optim_coef *);
typedef void (*rmsprop_loop_d)(int64_t, double *, const double *, double *, double *, double *,
                               const gd_optim_coef *);
#define RMSPROP_TABLE(S)                                                                     \
    {{{rmsprop_##S##_000, rmsprop_##S##_001, rmsprop_##S##_002, rmsprop_##S##_003},          \
      {rmsprop_##S##_010, rmsprop_##S##_011, rmsprop_##S##_012, rmsprop_##S##_013}},         \
     {{rmsprop_##S##_100, rmsprop_##S##_101, rmsprop_##S##_102, rmsprop_##S##_103},          \
      {rmsprop_##S##_110, rmsprop_##S##_111, rmsprop_##S##_112, rmsprop_##S##_113}}}
static const rmsprop_loop_f rmsprop_f[2][2][4] = RMSPROP_TABLE(f);
static const rmsprop_loop_d rmsprop_d[2][2][4] = RMSPROP_TABLE(d);

#define SGD_LOOP(T, S, MOM, NEST)                                                            \
    GD_SIMD_CLONES static void sgd_##S##_##MOM##NEST(int64_t n, T *restrict p, const T *restrict g,         \
                                      T *restrict b, const gd_optim_coef *restrict k)             \
    {                                                                                        \
        for (int64_t i = 0; i < n; i++) gd_sgd_elem_##S(p + i, g[i], MOM ? b + i : p + i, k, MOM, NEST); \
    }
SGD_LOOP(float, f, 0, 0) SGD_LOOP(float, f, 1, 0) SGD_LOOP(float, f, 1, 1)
SGD_LOOP(double, d, 0, 0) SGD_LOOP(double, d, 1, 0) SGD_LOOP(double, d, 1, 1)

#define ADAM_LOOP(T, S, AMS)                                                                 \
    GD_SIMD_CLONES static void adam_##S##_##AMS(int64_t n, T *restrict p, const T *restrict g, T *restrict m, \
                                 T *restrict v, T *restrict vmax, const gd_optim_coef *restrict k) \
    {                                                                                        \
        for (int64_t i = 0; i < n; i++) gd_adam_elem_##S(p + i, g[i], m + i, v + i, AMS ? vmax + i : v + i, k, AMS); \
    }
ADAM_LOOP(float, f, 0) ADAM_LOOP(float, f, 1) ADAM_LOOP(double, d, 0) ADAM_LOOP(double, d, 1)

#define OTHER_LOOPS(T, S)                                                                    \
    GD_SIMD_CLONES static void adadelta_##S(int64_t n, T *restrict p, const T *restrict g, T *restrict v,   \
                             T *restrict acc, const gd_optim_coef *restrict k)                    \
    {                                                                                        \
        for (int64_t i = 0; i < n; i++) gd_adadelta_elem_##S(p + i, g[i], v + i, acc + i, k); \
    }                                                                                        \
    GD_SIMD_CLONES static void smorms3_##S(int64_t n, T *restrict p, const T *restrict g, T *restrict mem,  \
                            T *restrict mg, T *restrict ms, const gd_optim_coef *restrict k)      \
    {                                                                                        \
        for (int64_t i = 0; i < n; i++) gd_smorms3_elem_##S(p + i, g[i], mem + i, mg + i, ms + i, k); \
    }
OTHER_LOOPS(float, f)
OTHER_LOOPS(double, d)

/* Runs elements [b, e) of one segment. */
static void run_range(const gd_optim_plan *pl, const gd_optim_segment *s, int64_t b, int64_t e)
{
    int64_t n = e - b;
    if (n <= 0) return;
    int64_t es = s->dtype == GD_FLOAT32 ? 4 : 8;
    int64_t ob = b * (int64_t)es;
    char *p = s->param + ob, *g = s->grad + ob;
    char *st[MAX_SLOTS];
    for (int k = 0; k < MAX_SLOTS; k++) st[k] = s->state[k] ? s->state[k] + ob : NULL;
    bool f = s->dtype == GD_FLOAT32;
#define ARGS(T) (T *)p, (const T *)g
    switch (pl->kind) {
    case GD_OPTIM_SGD:
        if (f) (pl->use_momentum ? (pl->nesterov ? sgd_f_11 : sgd_f_10) : sgd_f_00)(n, ARGS(float), (float *)st[0], &pl->k);
        else (pl->use_momentum ? (pl->nesterov ? sgd_d_11 : sgd_d_10) : sgd_d_00)(n, ARGS(double), (double *)st[0], &pl->k);
        break;
    case GD_OPTIM_RMSPROP:
        if (f)
            rmsprop_f[pl->centered][pl->eps_inside][pl->mst](n, ARGS(float), (float *)st[0], (float *)st[1],
                                                             (float *)st[2], &pl->k);
        else
            rmsprop_d[pl->centered][pl->eps_inside][pl->mst](n, ARGS(double), (double *)st[0], (double *)st[1],
                                                             (double *)st[2], &pl->k);
        break;
    case GD_OPTIM_ADADELTA:
        if (f) adadelta_f(n, ARGS(float), (float *)st[0], (float *)st[1], &pl->k);
        else adadelta_d(n, ARGS(double), (double *)st[0], (double *)st[1], &pl->k);
        break;
    case GD_OPTIM_ADAM:
        if (f) (pl->amsgrad ? adam_f_1 : adam_f_0)(n, ARGS(float), (float *)st[0], (float *)st[1], (float *)st[2], &pl->k);
        else (pl->amsgrad ? adam_d_1 : adam_d_0)(n, ARGS(double), (double *)st[0], (double *)st[1], (double *)st[2], &pl->k);
        break;
    case GD_OPTIM_SMORMS3:
        if (f) smorms3_f(n, ARGS(float), (float *)st[0], (float *)st[1], (float *)st[2], &pl->k);
        else smorms3_d(n, ARGS(double), (double *)st[0], (double *)st[1], (double *)st[2], &pl->k);
        break;
    }
#undef ARGS
}

/* All CPU segments in one parallel region: the concatenated elements are cut
   into equal ranges, one per thread. */
static void run_cpu(const gd_optim_plan *pl, const gd_optim_segment *segs, int nseg)
{
    int64_t total = 0;
    for (int k = 0; k < nseg; k++)
        if (segs[k].device == GD_CPU) total += segs[k].n;
    if (total == 0) return;
    if (!gd_parallel_worth(total)) {
        for (int k = 0; k < nseg; k++)
            if (segs[k].device == GD_CPU) run_range(pl, &segs[k], 0, segs[k].n);
        return;
    }
#ifdef _OPENMP
    #pragma omp parallel
    {
        int nt = omp_get_num_threads(), tid = omp_get_thread_num();
        int64_t chunk = ((total + nt - 1) / nt + 63) & ~(int64_t)63;
        int64_t b = (int64_t)tid * chunk, e = b + chunk < total ? b + chunk : total;
        int64_t base = 0;
        for (int k = 0; k < nseg && base < e; k++) {
            if (segs[k].device != GD_CPU) continue;
            int64_t sb = base, se = base + segs[k].n;
            int64_t lo = b > sb ? b : sb, hi = e < se ? e : se;
            if (lo < hi) run_range(pl, &segs[k], lo - sb, hi - sb);
            base = se;
        }
    }
#endif
}

/* ------------------------------------------------------------------ step */

#define FILL_COEF(C, T)                                                                      \
    do {                                                                                     \
        C.lr = (T)lr; C.decay = (T)decay; C.gain = (T)gain;                                  \
        C.beta1 = (T)h->beta1; C.one_minus_beta1 = (T)(1.0 - h->beta1);                      \
        C.eps = (T)h->eps; C.wd = (T)h->weight_decay; C.dwd = (T)(lr * h->decoupled_weight_decay); \
        C.momentum = (T)h->momentum; C.one_minus_dampening = (T)(1.0 - h->dampening);        \
        C.scale = (T)scale; C.clip = (T)clip; C.inv_bias = (T)inv_bias;                      \
        C.step_size = (T)step_size; C.inv_bias2_sqrt = (T)inv_bias2_sqrt;                    \
        C.first = t == 1; C.clip_w = (T)clip_w; C.clip_weights = h->clip_weights > 0;         \
        C.memory_clipped = h->memory_clipped != 0;                                           \
    } while (0)

static int check_hyper(const gd_optim *o, const gd_optim_hyper *h)
{
    const char *name = kind_name[o->kind];
    if (!(h->lr >= 0) || isinf(h->lr)) return gd_fail(GD_EINVAL, "%s: learning rate %g is not a finite number >= 0", name, h->lr);
    if (!(h->eps >= 0) || isinf(h->eps)) return gd_fail(GD_EINVAL, "%s: eps %g is not a finite number >= 0", name, h->eps);
    if (!(h->momentum >= 0) || isinf(h->momentum))
        return gd_fail(GD_EINVAL, "%s: momentum %g is not a finite number >= 0", name, h->momentum);
    if (!isfinite(h->weight_decay) || !isfinite(h->decoupled_weight_decay))
        return gd_fail(GD_EINVAL, "%s: weight decay %g is not finite", name,
                       isfinite(h->weight_decay) ? h->decoupled_weight_decay : h->weight_decay);
    return GD_OK;
}

/* Copies strided parameters and their gradients into contiguous staging. */
static int stage_in(gd_optim *o)
{
    if (!o->stage) {
        o->stage = calloc((size_t)o->n, sizeof *o->stage);
        if (!o->stage) return gd_fail(GD_ENOMEM, "out of memory");
    }
    for (int k = 0; k < o->nseg; k++) {
        if (!o->segs[k].staged) continue;
        int i = o->segs[k].param_index;
        stage_pair *sp = &o->stage[i];
        const gd_tensor *p = o->params[i];
        if (!sp->param || sp->param->count != p->count) {
            gd_tensor_release(sp->param);
            gd_tensor_release(sp->grad);
            sp->param = sp->grad = NULL;
            GD_TRY(gd_empty(&sp->param, p->rank, p->sizes, p->scalar_type, p->device_kind));
            GD_TRY(gd_empty(&sp->grad, p->rank, p->sizes, p->scalar_type, p->device_kind));
        }
    }
    for (int k = 0; k < o->nseg; k++) {
        gd_optim_segment *s = &o->segs[k];
        if (!s->staged) continue;
        int i = s->param_index;
        GD_TRY(gd_copy(o->stage[i].param, o->params[i]));
        GD_TRY(gd_copy(o->stage[i].grad, o->params[i]->gradient));
        s->param = o->stage[i].param->data;
        s->grad = o->stage[i].grad->data;
    }
    return GD_OK;
}

/* The switches and coefficients of step t. */
static void make_plan(const gd_optim *o, const gd_optim_hyper *h, int64_t t, gd_optim_plan *out)
{
    gd_optim_plan pl;
    memset(&pl, 0, sizeof pl);
    pl.kind = o->kind;
    double lr = h->lr, decay = 0, gain = 0, inv_bias = 1, step_size = 0, inv_bias2_sqrt = 1;
    double scale = (h->maximize ? -1.0 : 1.0) * (h->grad_scale != 0 ? h->grad_scale : 1.0);
    double clip = h->clip_gradient > 0 ? h->clip_gradient : INFINITY;
    double clip_w = h->clip_weights > 0 ? h->clip_weights : INFINITY;
    switch (o->kind) {
    case GD_OPTIM_SGD:
        pl.use_momentum = h->momentum != 0;
        pl.nesterov = h->nesterov != 0;
        break;
    case GD_OPTIM_RMSPROP:
        if (h->accumulate) {
            decay = gain = 1;                                   /* AdaGrad: a running sum */
            lr = h->lr / (1.0 + (double)(t - 1) * h->lr_decay); /* PyTorch's / Torch7's lr decay */
        } else {
            decay = h->alpha;
            gain = 1.0 - h->alpha;
        }
        if (h->bias_correction) inv_bias = 1.0 / (1.0 - pow(decay, (double)t));
        pl.centered = h->centered != 0;
        pl.eps_inside = h->eps_inside != 0;
        pl.mst = h->momentum == 0 ? GD_MST_NONE
               : h->momentum_style == GD_MOMENTUM_PYTORCH ? GD_MST_PYTORCH
               : h->nesterov ? GD_MST_NESTEROV : GD_MST_LR_INSIDE;
        break;
    case GD_OPTIM_ADADELTA:
        decay = h->rho;
        gain = 1.0 - h->rho;
        break;
    case GD_OPTIM_ADAM:
        decay = h->beta2;
        gain = 1.0 - h->beta2;
        step_size = lr / (1.0 - pow(h->beta1, (double)t));
        inv_bias2_sqrt = 1.0 / sqrt(1.0 - pow(h->beta2, (double)t));
        pl.amsgrad = h->amsgrad != 0;
        break;
    case GD_OPTIM_SMORMS3:
        break;
    }
    FILL_COEF(pl.k, double);
    *out = pl;
}

/* Whether the plan changes from step to step with unchanged hyperparameters. */
static bool plan_depends_on_step(const gd_optim *o, const gd_optim_hyper *h, int64_t t)
{
    switch (o->kind) {
    case GD_OPTIM_ADAM: return true;
    case GD_OPTIM_SGD: return t <= 2; /* the first step starts the momentum buffer */
    case GD_OPTIM_RMSPROP: return (h->accumulate && h->lr_decay != 0) || h->bias_correction;
    default: return false;
    }
}

int gd_optim_step(gd_optim *o, const gd_optim_hyper *h)
{
    if (!o || !h) return gd_fail(GD_EINVAL, "no optimizer");
    bool hyper_changed = !o->plan_valid || h->generation != o->plan_hyper.generation;
    if (hyper_changed) GD_TRY(check_hyper(o, h));
    /* the layout first: a parameter resized before any state exists is re-laid out */
    GD_TRY(check_and_layout(o));
    if (hyper_changed)
        for (int slot = 0; slot < slot_count[o->kind]; slot++)
            if (slot_needed(o->kind, slot, h)) GD_TRY(ensure_slot(o, slot, h));
    if (o->any_staged) GD_TRY(stage_in(o));
    if (!o->state_bound) {
        bind_state(o);
        o->state_bound = 1;
    }
    int64_t t = o->step + 1;
    if (hyper_changed || plan_depends_on_step(o, h, t)) {
        make_plan(o, h, t, &o->plan);
        memcpy(&o->plan_hyper, h, sizeof *h);
        o->plan_valid = 1;
    }
    const gd_optim_plan *pl = &o->plan;
    if (o->any_cuda) {
        const gd_cuda_backend *cu = gd_cuda();
        if (!cu) return GD_EDEVICE;
        if (cu->optim_step(pl, o->segs, o->nseg))
            return gd_fail(GD_EDEVICE, "CUDA optimizer step failed: %s", cu->error_string());
    }
    run_cpu(pl, o->segs, o->nseg);
    if (o->any_staged)
        for (int k = 0; k < o->nseg; k++) {
            gd_optim_segment *s = &o->segs[k];
            if (s->staged) GD_TRY(gd_copy(o->params[s->param_index], o->stage[s->param_index].param));
        }
    o->step = t;
    return GD_OK;
}

int gd_optim_zero_grad(gd_optim *o)
{
    if (!o) return gd_fail(GD_EINVAL, "no optimizer");
    for (int i = 0; i < o->n; i++) {
        gd_tensor *g = o->params[i]->gradient;
        if (!g || g->is_freed) continue;
        if (g->device_kind == GD_CPU && g->is_contiguous && !gd_parallel_worth(g->count))
            memset(g->data, 0, (size_t)g->count * gd_dtype_size(g->scalar_type));
        else
            GD_TRY(gd_fill(g, 0));
    }
    return GD_OK;
}

/* ------------------------------------------------------------- clipping */

int gd_clip_grad_norm(gd_tensor *const *grads, int n, double max_norm, double p, double *total)
{
    if (!(max_norm >= 0)) return gd_fail(GD_EINVAL, "max_norm %g is not a number >= 0", max_norm);
    if (!(p > 0)) return gd_fail(GD_EINVAL, "norm type %g is not > 0", p);
    double acc = 0;
    for (int i = 0; i < n; i++) {
        char what[64];
        snprintf(what, sizeof what, "gradient %d", i + 1);
        GD_TRY(gd_check_tensor(grads[i], what));
        double v;
        GD_TRY(gd_reduce_all(grads[i], GD_RED_NORM, p, &v));
        if (isinf(p)) acc = (v > acc || v != v) ? v : acc;
        else acc += pow(v, p);
    }
    double norm = isinf(p) ? acc : pow(acc, 1.0 / p);
    *total = norm;
    /* PyTorch: clip_coef = max_norm / (total_norm + 1e-6), applied when < 1 */
    double coef = max_norm / (norm + 1e-6);
    if (coef < 1)
        for (int i = 0; i < n; i++) GD_TRY(gd_binary_scalar_(grads[i], coef, GD_OP_MUL));
    return GD_OK;
}
