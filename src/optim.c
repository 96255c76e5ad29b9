/*
 * optim.c: fused optimizer steps over parameter lists.
 *
 * Layout.  An optimizer keeps, per (dtype, device) of its parameters, one flat
 * arena per state slot; parameter i owns elements [off_i, off_i + n_i) of the
 * arenas of its kind.  Offsets are assigned in the order of the parameters'
 * addresses, so parameters that are adjacent in memory (a module's parameter
 * arena) have adjacent state too and merge into one *segment*: a run of
 * (param, grad, state...) pointers over n elements.  A step is one pass over
 * the segments by each device's backend (src/cpu/optim.c: split across
 * threads by element ranges in one parallel region; cuda/optim.cu: one kernel
 * per segment).
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
#include "backend.h"
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
    /* the gradients of the step in progress (borrowed for its duration): the
       ones handed to gd_optim_step_grads, or each parameter's own; NULL:
       skipped this step */
    gd_tensor **grad;
    int64_t *pstep;             /* the steps each parameter has taken (a skipped one lags) */
    gd_optim_segment *run;      /* scratch: the segments of one step count */
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
    int any_staged, state_bound;
    int devices;                /* bit d: a segment on device d */
    int64_t step;
    /* the plan of the last step and the hyperparameters it came from: most
       steps reuse it (the per-step path must cost nanoseconds) */
    gd_optim_plan plan;
    gd_optim_hyper plan_hyper;
    int plan_valid;             /* (cleared after a step of several step counts) */
    /* per-group scalar state (ASGD's eta and mu, NAdam's mu_product), in double
       as PyTorch keeps them with a float64 default dtype */
    double scalar[2];
    int scalars_valid;          /* set by the first step or gd_optim_set_scalar */
    uint64_t uid;               /* names this optimizer's iterations to the thread tuner */
};

/* Optimizers this small mark no iterations for the thread tuner (src/threads.c):
   their loops are never parallel, and the per-step path stays a few nanoseconds
   (the 2-parameter loop makes millions of steps a second). */
enum { TUNE_MIN_ELEMENTS = 4096 };

static const int slot_count[GD_OPTIM_KIND_COUNT] = {1, 3, 2, 3, 3, 2, 1, 2, 2, 2, 1, 3, 4, 2, 1};
static const char *kind_name[GD_OPTIM_KIND_COUNT] = {"SGD", "RMSProp", "AdaDelta", "Adam", "SMORMS3",
                                                     "Adamax", "ASGD", "NAdam", "RAdam", "Rprop",
                                                     "Lion", "AdaBelief", "Adan", "AdamWScheduleFree",
                                                     "SGDScheduleFree"};
static const int scalar_count[GD_OPTIM_KIND_COUNT] = {0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 2, 2};

static bool is_schedule_free(int kind) { return kind == GD_OPTIM_SF_ADAMW || kind == GD_OPTIM_SF_SGD; }

int gd_optim_num_slots(int kind) { return kind >= 0 && kind < GD_OPTIM_KIND_COUNT ? slot_count[kind] : 0; }

/* Does a step with these hyperparameters use the slot? */
static bool slot_needed(int kind, int slot, const gd_optim_hyper *h)
{
    switch (kind) {
    case GD_OPTIM_SGD: return h->momentum != 0;
    case GD_OPTIM_RMSPROP: return slot == 0 || (slot == 1 && h->centered) || (slot == 2 && h->momentum != 0);
    case GD_OPTIM_ADAM: return slot < 2 || h->amsgrad;
    case GD_OPTIM_ADABELIEF: return slot < 2 || h->amsgrad;
    default: return true;
    }
}

static double slot_init(int kind, int slot, const gd_optim_hyper *h)
{
    if (kind == GD_OPTIM_RMSPROP && slot == 0) return h->state_init;
    if (kind == GD_OPTIM_SMORMS3 && slot == 0) return 1.0; /* SMORMS3's memory starts at 1 */
    if (kind == GD_OPTIM_RPROP && slot == 1) return h->lr; /* Rprop's step sizes start at lr */
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
    free(o->grad);
    free(o->pstep);
    free(o->run);
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
static int check_disjoint(gd_tensor *const *params, int n, gd_tensor *const *grads)
{
    /* ts: the parameters, then the gradients there are; owner[k]: whose */
    int m = n;
    if (grads)
        for (int i = 0; i < n; i++) m += grads[i] != NULL;
    gd_tensor **ts = malloc((m > 0 ? (size_t)m : 1) * sizeof *ts);
    int *owner = malloc((m > 0 ? (size_t)m : 1) * sizeof *owner);
    if (!ts || !owner) { free(ts); free(owner); return gd_fail(GD_ENOMEM, "out of memory"); }
    for (int i = 0, k = n; i < n; i++) {
        ts[i] = params[i];
        owner[i] = i;
        if (grads && grads[i]) { ts[k] = grads[i]; owner[k++] = i; }
    }
    int a = 0, b = 0;
    int found = gd_find_overlap(ts, m, n, &a, &b);
    free(ts);
    if (found <= 0) { free(owner); return found; }
    int oa = owner[a], ob = owner[b];
    free(owner);
    if (b < n) return gd_fail(GD_EINVAL, "parameters %d and %d share memory (views of one tensor): the step would "
                                         "update it twice", oa + 1, ob + 1);
    if (ob == oa)
        return gd_fail(GD_EINVAL, "the gradient of parameter %d shares memory with the parameter; give it a "
                                  "gradient of its own (clone())", oa + 1);
    return gd_fail(GD_EINVAL, "the gradient of parameter %d shares memory with parameter %d; give it a gradient "
                              "of its own (clone())", ob + 1, oa + 1);
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
    GD_TRY(check_disjoint(params, n, NULL));
    gd_optim *o = calloc(1, sizeof *o);
    if (!o) return gd_fail(GD_ENOMEM, "out of memory");
    o->kind = kind;
    o->n = n;
    o->uid = (uint64_t)gd_next_uid();
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
    o->grad = calloc(m, sizeof *o->grad);
    o->pstep = calloc(m, sizeof *o->pstep);
    o->run = calloc(m, sizeof *o->run);
    if (!o->params || !o->group || !o->offset || !o->layout_count || !o->seen_grad || !o->seen_grad_data ||
        !o->seen_param_data || !o->seen_count || !o->segs || !o->grad || !o->pstep || !o->run) {
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
        /* Schedule-Free's z starts as a copy of the parameters (state['z'] = clone(p)) */
        for (int i = 0; st == 0 && is_schedule_free(o->kind) && slot == 0 && i < o->n; i++) {
            const gd_tensor *p = o->params[i];
            if (o->group[i] != g || p->count == 0) continue;
            int64_t strides[GD_MAX_DIMS];
            gd_tensor *view;
            gd_contiguous_strides(p->rank, p->sizes, strides);
            st = gd_tensor_wrap(&view, a->storage, a->scalar_type, o->offset[i], p->rank, p->sizes, strides);
            if (st == 0) {
                st = gd_copy(view, p);
                gd_tensor_release(view);
            }
        }
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

/* A scalar's value before the first step (PyTorch's lazy state init):
   ASGD eta = the lr of the first step, mu = 1; NAdam mu_product = 1. */
static double scalar_init(const gd_optim *o, int which, const gd_optim_hyper *h)
{
    /* Schedule-Free: weight_sum = 0, lr_max = -1 */
    if (is_schedule_free(o->kind)) return which == 0 ? 0.0 : -1.0;
    return o->kind == GD_OPTIM_ASGD && which == 0 ? h->lr : 1.0;
}

/* Gives every scalar not yet set its initial value. */
static void scalars_settle(gd_optim *o, const gd_optim_hyper *h)
{
    for (int w = 0; w < scalar_count[o->kind]; w++)
        if (!(o->scalars_valid & (1 << w))) o->scalar[w] = scalar_init(o, w, h);
    o->scalars_valid = (1 << scalar_count[o->kind]) - 1;
}

int gd_optim_num_scalars(int kind) { return kind >= 0 && kind < GD_OPTIM_KIND_COUNT ? scalar_count[kind] : 0; }

int gd_optim_get_scalar(const gd_optim *o, int which, const gd_optim_hyper *hyper, double *out)
{
    if (!o || !out || !hyper) return gd_fail(GD_EINVAL, "no optimizer");
    if (which < 0 || which >= scalar_count[o->kind])
        return gd_fail(GD_EINVAL, "%s has no scalar state %d", kind_name[o->kind], which);
    *out = (o->scalars_valid & (1 << which)) ? o->scalar[which] : scalar_init(o, which, hyper);
    return GD_OK;
}

int gd_optim_set_scalar(gd_optim *o, int which, double value)
{
    if (!o) return gd_fail(GD_EINVAL, "no optimizer");
    if (which < 0 || which >= scalar_count[o->kind])
        return gd_fail(GD_EINVAL, "%s has no scalar state %d", kind_name[o->kind], which);
    if (!isfinite(value)) return gd_fail(GD_EINVAL, "%s: scalar state %d is %g", kind_name[o->kind], which, value);
    o->scalar[which] = value;
    o->scalars_valid |= 1 << which;
    o->plan_valid = 0;
    return GD_OK;
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
    for (int i = 0; i < o->n; i++) o->pstep[i] = step; /* then gd_optim_set_param_step for a lagging one */
    o->plan_valid = 0;  /* the plan may depend on the step */
    o->layout_valid = 0; /* segments merge parameters of one step count */
    return GD_OK;
}

int64_t gd_optim_get_param_step(const gd_optim *o, int param)
{
    if (!o || param < 0 || param >= o->n) return -1;
    return o->pstep[param];
}

int gd_optim_set_param_step(gd_optim *o, int param, int64_t step)
{
    if (!o) return gd_fail(GD_EINVAL, "no optimizer");
    if (param < 0 || param >= o->n) return gd_fail(GD_EINVAL, "parameter %d out of range 1..%d", param + 1, o->n);
    if (step < 0 || step > o->step)
        return gd_fail(GD_EINVAL, "step %lld of parameter %d is outside 0..%lld (the optimizer's step)",
                       (long long)step, param + 1, (long long)o->step);
    if (o->pstep[param] != step) o->layout_valid = 0; /* segments merge parameters of one step count */
    o->pstep[param] = step;
    o->plan_valid = 0;
    return GD_OK;
}

/* ---------------------------------------------------------------- layout */

/* Checks every parameter and gradient; on success (re)builds the segments when
   anything they were built from changed.  Touches no element. */
static int check_and_layout(gd_optim *o, bool handed)
{
    /* set_ is the one way to change a tensor's strides in place (a dense
       parameter turned strided, or expanded, over the same memory): it moves
       the epoch, and then everything is checked again */
    uint64_t epoch = __atomic_load_n(&gd_geometry_epoch, __ATOMIC_RELAXED);
    bool changed = !o->layout_valid || o->seen_epoch != epoch;
    for (int i = 0; i < o->n; i++) {
        const gd_tensor *p = o->params[i], *g = o->grad[i];
        if (p->is_freed) return gd_fail(GD_EFREED, "parameter %d was released with free()", i + 1);
        if (!g && !handed)
            return gd_fail(GD_EINVAL, "parameter %d has no gradient (set .grad, or run backward first)", i + 1);
        if (!g) { /* skipped this step */
            if (o->seen_grad[i] != NULL) changed = true;
            if (group_of(p) != o->group[i])
                return gd_fail(GD_EINVAL, "parameter %d changed dtype or device since the optimizer was created",
                               i + 1);
            continue;
        }
        if (g->is_freed) return gd_fail(GD_EFREED, "the gradient of parameter %d was released with free()", i + 1);
        if (group_of(p) != o->group[i])
            return gd_fail(GD_EINVAL, "parameter %d changed dtype or device since the optimizer was created", i + 1);
        if (g->count != p->count || g->scalar_type != p->scalar_type || g->device_kind != p->device_kind)
            return gd_fail(GD_EINVAL, "the gradient of parameter %d no longer matches it (%lld elements of %s on %s "
                                      "for %lld of %s on %s)", i + 1, (long long)g->count,
                           gd_dtype_name(g->scalar_type), gd_device_name(g->device_kind), (long long)p->count,
                           gd_dtype_name(p->scalar_type), gd_device_name(p->device_kind));
        if (o->seen_grad[i] != g || o->seen_grad_data[i] != g->data || o->seen_param_data[i] != p->data ||
            o->seen_count[i] != p->count)
            changed = true;
    }
    if (!changed) return GD_OK;
    /* each parameter's element count fixes its state offset */
    for (int i = 0; i < o->n; i++) GD_TRY(fit_layout(o, i));
    for (int i = 0; i < o->n; i++) GD_TRY(check_updatable(o->params[i], i));
    GD_TRY(check_disjoint(o->params, o->n, o->grad));
    /* order by state offset: merged runs must be adjacent in state, param and grad */
    addr_item *items = malloc((o->n > 0 ? (size_t)o->n : 1) * sizeof *items);
    if (!items) return gd_fail(GD_ENOMEM, "out of memory");
    for (int i = 0; i < o->n; i++) { items[i].t = o->params[i]; items[i].index = i; }
    qsort_r(items, (size_t)o->n, sizeof *items, cmp_by_address, o);
    int nseg = 0;
    for (int k = 0; k < o->n; k++) {
        int i = items[k].index;
        const gd_tensor *p = o->params[i], *g = o->grad[i];
        if (p->count == 0 || !g) continue;
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
                gd_same_storage(pp, p) && o->pstep[prev] == o->pstep[i]) {
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
    o->any_staged = o->devices = 0;
    for (int k = 0; k < nseg; k++) {
        o->any_staged |= o->segs[k].staged;
        o->devices |= 1 << o->segs[k].device;
    }
    o->state_bound = 0;
    for (int i = 0; i < o->n; i++) {
        const gd_tensor *p = o->params[i];
        o->seen_grad[i] = o->grad[i];
        o->seen_grad_data[i] = o->grad[i] ? o->grad[i]->data : NULL;
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
        GD_TRY(gd_copy(o->stage[i].grad, o->grad[i]));
        s->param = o->stage[i].param->data;
        s->grad = o->stage[i].grad->data;
    }
    return GD_OK;
}

/* Schedule-Free's per-step scalars for step t (k = t - 1): the scheduled lr
   (AdamW: times sqrt(1 - beta2^t)), and weight_sum, lr_max after this step. */
static void schedule_free_scalars(const gd_optim *o, const gd_optim_hyper *h, int64_t t, double *lr_t,
                                  double *weight_sum, double *lr_max)
{
    const double k = (double)(t - 1);
    const double sched = k < h->warmup_steps ? (k + 1) / h->warmup_steps : 1.0;
    double lr = h->lr * sched;
    if (o->kind == GD_OPTIM_SF_ADAMW) lr = lr * sqrt(1.0 - pow(h->beta2, k + 1));
    const double mx = o->scalar[1] > lr ? o->scalar[1] : lr;   /* max(lr, lr_max) */
    const double weight = pow(k + 1, h->sf_r) * pow(mx, h->weight_lr_power);
    *lr_t = lr;
    *lr_max = mx;
    *weight_sum = o->scalar[0] + weight;
}

/* The coefficients of step t for the rest of torch.optim, from PyTorch 1.13's
   _single_tensor_* functions, in their order of operations (in double). */
static void plan_more(const gd_optim *o, const gd_optim_hyper *h, int64_t t, gd_optim_plan *pl)
{
    gd_optim_coef *k = &pl->k;
    const double step = (double)t, b1 = h->beta1, b2 = h->beta2;
    switch (o->kind) {
    case GD_OPTIM_ADAMAX:
        k->decay = b2;
        k->step_size = h->lr / (1.0 - pow(b1, step));                 /* clr */
        break;
    case GD_OPTIM_NADAM: {
        k->decay = b2;
        k->gain = 1.0 - b2;
        k->bias2 = 1.0 - pow(b2, step);
        double mu = b1 * (1.0 - 0.5 * pow(0.96, step * h->momentum_decay));
        double mu_next = b1 * (1.0 - 0.5 * pow(0.96, (step + 1.0) * h->momentum_decay));
        double mu_product = o->scalar[0] * mu;
        /* sic: PyTorch 1.13; PyTorch 2's NAdam (and NAdamW) use mu_product * mu_next */
        double mu_product_next = h->nadam_fixed_product ? mu_product * mu_next : mu_product * mu * mu_next;
        k->c_grad = -h->lr * (1.0 - mu) / (1.0 - mu_product);
        k->c_avg = -h->lr * mu_next / (1.0 - mu_product_next);
        break;
    }
    case GD_OPTIM_RADAM: {
        k->decay = b2;
        k->gain = 1.0 - b2;
        double bc1 = 1.0 - pow(b1, step), bc2 = 1.0 - pow(b2, step);
        k->bias1 = bc1;
        k->bias2 = bc2;
        double rho_inf = 2.0 / (1.0 - b2) - 1.0;
        double rho_t = rho_inf - 2.0 * step * pow(b2, step) / bc2;
        pl->rectify = rho_t > 5.0;
        if (pl->rectify) {
            k->rect = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t));
            k->sqrt_bias2 = sqrt(bc2);
            k->step_size = h->lr * k->rect * k->sqrt_bias2 / bc1;
        } else {
            k->step_size = h->lr / bc1;
        }
        break;
    }
    case GD_OPTIM_ASGD: {
        double eta = o->scalar[0], mu = o->scalar[1];
        k->lr = eta;
        k->shrink = 1.0 - h->lambd * eta;
        k->avg_mu = mu;
        pl->avg_copy = mu == 1.0;
        break;
    }
    case GD_OPTIM_LION:
        k->beta2b = b2;
        k->one_minus_beta2b = 1.0 - b2;
        break;
    case GD_OPTIM_ADABELIEF: {
        const double bc1 = 1.0 - pow(b1, step), bc2 = 1.0 - pow(b2, step);
        k->beta2b = b2;
        k->one_minus_beta2b = 1.0 - b2;
        if (h->fixed_decay) k->dwd = h->decoupled_weight_decay;   /* p *= 1 - wd */
        k->sqrt_bias = sqrt(bc2);
        k->step_size = h->lr / bc1;
        pl->amsgrad = h->amsgrad != 0;
        pl->belief_mode = GD_BELIEF_PLAIN;
        if (h->rectify) {
            /* RAdam's variance rectification, as AdaBelief's fork of it */
            const double beta2_t = pow(b2, step);
            const double n_sma_max = 2.0 / (1.0 - b2) - 1.0;
            const double n_sma = n_sma_max - 2.0 * step * beta2_t / (1.0 - beta2_t);
            if (n_sma >= 5) {
                double st = sqrt((1.0 - beta2_t) * (n_sma - 4) / (n_sma_max - 4) * (n_sma - 2) / n_sma * n_sma_max /
                                 (n_sma_max - 2)) / (1.0 - pow(b1, step));
                k->step2 = st * h->lr;
                pl->belief_mode = GD_BELIEF_RECT;
            } else if (h->degenerated_to_sgd) {
                k->step2 = 1.0 / (1.0 - pow(b1, step)) * h->lr;
                pl->belief_mode = GD_BELIEF_SGD;
            } else {
                pl->belief_mode = GD_BELIEF_NONE;
            }
        }
        break;
    }
    case GD_OPTIM_ADAN: {
        /* betas = (beta1, beta2, beta3): beta1 the gradient's, beta2 the difference's */
        k->beta2b = b2;
        k->one_minus_beta2b = 1.0 - b2;
        k->beta3 = h->beta3;
        k->one_minus_beta3 = 1.0 - h->beta3;
        k->sqrt_bias = sqrt(1.0 - pow(h->beta3, step));
        k->step_size = h->lr / (1.0 - pow(b1, step));
        k->step2 = h->lr * b2 / (1.0 - pow(b2, step));
        const double wd = h->decoupled_weight_decay;
        k->dwd = h->no_prox ? h->lr * wd : 0.0;
        k->prox_div = !h->no_prox && wd != 0 ? 1.0 + h->lr * wd : 0.0;
        break;
    }
    case GD_OPTIM_SF_ADAMW:
    case GD_OPTIM_SF_SGD: {
        double lr_t, weight_sum, lr_max;
        schedule_free_scalars(o, h, t, &lr_t, &weight_sum, &lr_max);
        const double weight = pow(step, h->sf_r) * pow(lr_max, h->weight_lr_power);
        const double ckp1 = weight_sum != 0 ? weight / weight_sum : 0.0;   /* ZeroDivisionError: 0 */
        const double beta = o->kind == GD_OPTIM_SF_ADAMW ? b1 : h->momentum;
        k->lr = lr_t;
        k->ckp1 = ckp1;
        k->y_coef = lr_t * (beta * (1.0 - ckp1) - 1.0);
        k->beta2b = b2;
        k->one_minus_beta2b = 1.0 - b2;
        break;
    }
    case GD_OPTIM_RPROP:
        k->etaminus = h->etaminus;
        k->etaplus = h->etaplus;
        k->step_min = h->step_size_min;
        k->step_max = h->step_size_max;
        break;
    default:
        break;
    }
}

/* The scalar state after step t (committed once the step has run). */
static void scalars_after(gd_optim *o, const gd_optim_hyper *h, int64_t t)
{
    const double step = (double)t;
    if (o->kind == GD_OPTIM_ASGD) {
        o->scalar[0] = h->lr / pow(1.0 + h->lambd * h->lr * step, h->alpha);
        o->scalar[1] = 1.0 / fmax(1.0, step - h->t0);
    } else if (is_schedule_free(o->kind)) {
        double lr_t;
        schedule_free_scalars(o, h, t, &lr_t, &o->scalar[0], &o->scalar[1]);
    } else if (o->kind == GD_OPTIM_NADAM) {
        o->scalar[0] *= h->beta1 * (1.0 - 0.5 * pow(0.96, step * h->momentum_decay));
    }
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
        if (h->adam_step_bias) {
            /* Torch7 adam.lua: clr = lr/(1 + (t-1)*lrd); stepSize = clr*sqrt(1-b2^t)/(1-b1^t);
               x -= stepSize * m/(sqrt(v) + eps) */
            const double clr = h->lr / (1.0 + (double)(t - 1) * h->lr_decay);
            step_size = clr * sqrt(1.0 - pow(h->beta2, (double)t)) / (1.0 - pow(h->beta1, (double)t));
            inv_bias2_sqrt = 1.0;
        }
        pl.amsgrad = h->amsgrad != 0;
        break;
    case GD_OPTIM_SMORMS3:
        break;
    default:
        break;
    }
    FILL_COEF(pl.k, double);
    plan_more(o, h, t, &pl);
    *out = pl;
}

/* Whether the plan changes from step to step with unchanged hyperparameters. */
static bool plan_depends_on_step(const gd_optim *o, const gd_optim_hyper *h, int64_t t)
{
    switch (o->kind) {
    case GD_OPTIM_ADAM: return true;
    case GD_OPTIM_SGD: return t <= 2; /* the first step starts the momentum buffer */
    case GD_OPTIM_RMSPROP: return (h->accumulate && h->lr_decay != 0) || h->bias_correction;
    case GD_OPTIM_ADAMAX: case GD_OPTIM_NADAM: case GD_OPTIM_RADAM: case GD_OPTIM_ASGD: return true;
    case GD_OPTIM_ADABELIEF: case GD_OPTIM_ADAN: case GD_OPTIM_SF_ADAMW: case GD_OPTIM_SF_SGD: return true;
    default: return false;
    }
}

/* Runs the segments of segs on every device's backend with plan pl. */
static int run_segments(const gd_optim *o, const gd_optim_plan *pl, const gd_optim_segment *segs, int nseg)
{
    /* each device's backend runs its own segments */
    for (int d = 0; d < GD_DEVICE_COUNT; d++) {
        if (!(o->devices & (1 << d))) continue;
        const gd_backend *b = gd_backend_of(d);
        if (!b) return GD_EDEVICE;
        GD_TRY(GD_BACKEND_CALL(b, "optimizer step", optim_step(pl, segs, nseg)));
    }
    return GD_OK;
}

int gd_optim_step_grads(gd_optim *o, const gd_optim_hyper *h, gd_tensor *const *grads)
{
    if (!o || !h) return gd_fail(GD_EINVAL, "no optimizer");
    int64_t total = 0;
    for (int g = 0; g < NGROUPS; g++) total += o->group_size[g];
    if (total >= TUNE_MIN_ELEMENTS) gd_threads_iteration(o->uid, gd_seconds());
    for (int i = 0; i < o->n; i++) {
        o->grad[i] = grads ? grads[i] : o->params[i]->gradient;
        if (grads && grads[i]) {
            char what[64];
            snprintf(what, sizeof what, "gradient %d", i + 1);
            GD_TRY(gd_check_tensor(grads[i], what));
        }
    }
    bool hyper_changed = !o->plan_valid || h->generation != o->plan_hyper.generation;
    if (hyper_changed) GD_TRY(check_hyper(o, h));
    bool any_grad = o->n == 0;
    for (int i = 0; i < o->n; i++) any_grad = any_grad || o->grad[i];
    if (!any_grad) return GD_OK; /* every parameter skipped: nothing changes, not even a step count */
    /* the layout first: a parameter resized before any state exists is re-laid out */
    GD_TRY(check_and_layout(o, grads != NULL));
    /* the step count each segment takes: one for all, unless some parameter
       was skipped before (it lags, with its own bias corrections, as in
       PyTorch, where each parameter counts its own steps) */
    int64_t tmin = INT64_MAX, tmax = 0;
    for (int k = 0; k < o->nseg; k++) {
        int64_t t = o->pstep[o->segs[k].param_index] + 1;
        if (t < tmin) tmin = t;
        if (t > tmax) tmax = t;
    }
    if (o->nseg == 0) tmin = tmax = o->step + 1;
    bool skipping = false;
    for (int i = 0; i < o->n; i++) skipping = skipping || !o->grad[i];
    if (scalar_count[o->kind] && (tmin != tmax || (skipping && o->nseg > 0)))
        /* their eta / mu / mu_product are one per optimizer here, one per parameter in PyTorch */
        return gd_fail(GD_EINVAL, "%s: parameters without a gradient this step (skipped) are not supported: its "
                                  "scalar state is shared by all the parameters", kind_name[o->kind]);
    if (hyper_changed)
        for (int slot = 0; slot < slot_count[o->kind]; slot++)
            if (slot_needed(o->kind, slot, h)) GD_TRY(ensure_slot(o, slot, h));
    if (o->any_staged) GD_TRY(stage_in(o));
    if (!o->state_bound) {
        bind_state(o);
        o->state_bound = 1;
    }
    if (scalar_count[o->kind]) scalars_settle(o, h);
    if (o->nseg > 0) {
        if (tmin == tmax) {
            /* the usual step: one plan, reused while nothing changes */
            int64_t t = tmin;
            if (hyper_changed || plan_depends_on_step(o, h, t)) {
                make_plan(o, h, t, &o->plan);
                memcpy(&o->plan_hyper, h, sizeof *h);
                o->plan_valid = 1;
            }
            GD_TRY(run_segments(o, &o->plan, o->segs, o->nseg));
        } else {
            /* one plan per step count, each over its segments */
            for (int64_t t = tmin; t <= tmax; t++) {
                int n = 0;
                for (int k = 0; k < o->nseg; k++)
                    if (o->pstep[o->segs[k].param_index] + 1 == t) o->run[n++] = o->segs[k];
                if (n == 0) continue;
                gd_optim_plan pl;
                make_plan(o, h, t, &pl);
                GD_TRY(run_segments(o, &pl, o->run, n));
            }
            o->plan_valid = 0;
        }
        if (o->any_staged)
            for (int k = 0; k < o->nseg; k++) {
                gd_optim_segment *s = &o->segs[k];
                if (s->staged) GD_TRY(gd_copy(o->params[s->param_index], o->stage[s->param_index].param));
            }
    }
    if (scalar_count[o->kind]) scalars_after(o, h, tmin);
    for (int i = 0; i < o->n; i++)
        if (o->grad[i]) o->pstep[i]++;
    o->step++;
    return GD_OK;
}

int gd_optim_step(gd_optim *o, const gd_optim_hyper *h) { return gd_optim_step_grads(o, h, NULL); }

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
