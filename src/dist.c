/*
 * dist.c: gd_dist_*, libgd's side of data-parallel training (gd.h,
 * "distributed").  Finds and opens libgd_dist.so (the MPI/NCCL engine,
 * src/dist/) as cuda_loader.c opens libgd_cuda.so, checks the tensors, and
 * calls the engine's table (dist_engine.h).  Without the engine, or outside a
 * launcher, the group is this process alone: size 1, collectives leave their
 * tensor as it is.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "dist_engine.h"
#include "autograd.h"

#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const gd_dist_engine *engine;   /* set once joined */
static int tried, d_rank, d_size = 1, d_local_rank;
static char why[4608] = "not started by a launcher (mpirun), and gd.dist.init() was not called";

int gd_dist_launched(void)
{
    /* Open MPI's mpirun, MPICH's / Intel MPI's hydra (PMI), PMIx launchers (srun --mpi=pmix) */
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MV2_COMM_WORLD_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return 1;
    }
    return 0;
}

static int cuda_sync(void) { return gd_synchronize(GD_CUDA); }

/* GD_DIST_TIMEOUT: seconds, > 0 (unset: the engine's 600). */
static int timeout_from_env(double *out)
{
    const char *v = getenv("GD_DIST_TIMEOUT");
    if (!v || !*v) return 0;
    char *end;
    errno = 0;
    double s = strtod(v, &end);
    if (errno || *end || !(s > 0) || !isfinite(s))
        return gd_fail(GD_EINVAL, "GD_DIST_TIMEOUT must be a number of seconds > 0, got '%s'", v);
    *out = s;
    return 1;
}

int gd_dist_init(int force)
{
    if (engine) return GD_OK;
    if (!force && !gd_dist_launched()) return GD_OK;
    if (tried) return gd_dist_launched() ? gd_fail(GD_EDEVICE, "gd.dist: %s", why) : GD_OK;
    tried = 1;
    double timeout = 0;
    int has_timeout = timeout_from_env(&timeout);
    if (has_timeout < 0) {
        snprintf(why, sizeof why, "%s", gd_last_error());
        tried = 0;
        return has_timeout;
    }
    Dl_info info;
    char path[4096];
    const char *env = getenv("GD_DIST_LIB");
    if (env && *env) {
        snprintf(path, sizeof path, "%s", env);
    } else if (dladdr((void *)gd_dist_init, &info) && info.dli_fname) {
        char *copy = strdup(info.dli_fname);
        snprintf(path, sizeof path, "%s/libgd_dist.so", copy ? dirname(copy) : ".");
        free(copy);
    } else {
        snprintf(path, sizeof path, "libgd_dist.so");
    }
    /* RTLD_GLOBAL: Open MPI's components (dlopened by libmpi) look up libmpi's symbols globally */
    void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        snprintf(why, sizeof why, "the MPI engine could not be loaded (%s); it is built when mpicc is found "
                 "(apt-get install libopenmpi-dev openmpi-bin)", dlerror());
        /* outside a launcher, no engine is a group of one, not an error */
        return gd_dist_launched() ? gd_fail(GD_EDEVICE, "gd.dist: %s", why) : GD_OK;
    }
    const gd_dist_engine *e = dlsym(h, "gd_dist_engine_v1");
    if (!e || e->abi != GD_DIST_ABI) {
        snprintf(why, sizeof why, "%s is not a compatible gdlua MPI engine", path);
        return gd_fail(GD_EDEVICE, "gd.dist: %s", why);
    }
    int r, n, lr;
    if (e->init(&r, &n, &lr, cuda_sync) != 0) {
        snprintf(why, sizeof why, "MPI could not start: %s", e->error_string());
        return gd_fail(GD_EDEVICE, "gd.dist: %s", why);
    }
    if (has_timeout) e->set_timeout(timeout);
    d_rank = r;
    d_size = n;
    d_local_rank = lr;
    why[0] = '\0';
    engine = e;
    return GD_OK;
}

int gd_dist_active(void) { return engine != NULL; }
int gd_dist_rank(void) { return d_rank; }
int gd_dist_size(void) { return d_size; }
int gd_dist_local_rank(void) { return d_local_rank; }
const char *gd_dist_why(void) { return why; }

int gd_dist_set_timeout(double seconds)
{
    if (!(seconds > 0) || !isfinite(seconds))
        return gd_fail(GD_EINVAL, "the timeout must be a number of seconds > 0, got %g", seconds);
    if (engine) engine->set_timeout(seconds);
    return GD_OK;
}

static int engine_failed(const char *what)
{
    return gd_fail(GD_EDEVICE, "%s: %s", what, engine->error_string());
}

int gd_dist_barrier(void)
{
    if (!engine) return GD_OK;
    return engine->barrier() ? engine_failed("barrier") : GD_OK;
}

static int check_arg(const gd_tensor *t, const char *what)
{
    GD_TRY(gd_check_tensor(t, what));
    if (!t->is_contiguous) return gd_fail(GD_EINVAL, "%s must be contiguous (call :contiguous() first)", what);
    return GD_OK;
}

int gd_dist_allreduce(gd_tensor *t, int op, int deterministic)
{
    GD_TRY(check_arg(t, "the tensor"));
    if (op < 0 || op >= GD_DIST_OP_COUNT) return gd_fail(GD_EINVAL, "unknown reduction %d", op);
    /* size 1 with the engine still goes through it: `mpirun -np 1` then runs
       the NCCL set-up and a real collective (scripts/gpu-check on one GPU) */
    if (!engine || t->count == 0) return GD_OK;
    if (engine->allreduce(t->data, t->count, t->scalar_type, op, t->device_kind, deterministic != 0))
        return engine_failed("allreduce");
    return GD_OK;
}

int gd_dist_broadcast(gd_tensor *t, int root)
{
    GD_TRY(check_arg(t, "the tensor"));
    if (root < 0 || root >= d_size) return gd_fail(GD_EINVAL, "root %d is not a rank (0..%d)", root, d_size - 1);
    if (!engine || t->count == 0) return GD_OK;
    if (engine->broadcast(t->data, t->count, t->scalar_type, root, t->device_kind)) return engine_failed("broadcast");
    return GD_OK;
}

int gd_dist_allgather(gd_tensor *out, const gd_tensor *t)
{
    GD_TRY(check_arg(t, "the tensor"));
    GD_TRY(check_arg(out, "the output"));
    if (out->scalar_type != t->scalar_type || out->device_kind != t->device_kind)
        return gd_fail(GD_EINVAL, "the output must have the tensor's dtype and device");
    if (out->count != t->count * d_size)
        return gd_fail(GD_EINVAL, "the output has %lld elements, size() * %lld = %lld are needed",
                       (long long)out->count, (long long)t->count, (long long)(t->count * d_size));
    if (!engine) return gd_copy(out, t);
    if (t->count == 0) return GD_OK;
    if (engine->allgather(out->data, t->data, t->count, t->scalar_type, t->device_kind))
        return engine_failed("allgather");
    return GD_OK;
}

void gd_dist_abort(const char *msg, int code)
{
    if (engine) engine->abort(msg, code);
    if (msg) fprintf(stderr, "%s\n", msg);
    fflush(NULL);
    _exit(code);
}

/* ------------------------------------------- DataParallel's gradient buckets */

typedef struct bucket_param {
    int64_t off, n;       /* its gradient in the arena, in elements from grads' first */
    int bucket;
    int expect, got;      /* this backward's edges to it, and writes into it */
} bucket_param;

typedef struct bucket {
    int64_t lo, hi;       /* elements [lo, hi) of the arena */
    int pending;          /* parameters with edges whose writes are not all in */
    int posted;
    void *req;
} bucket;

struct gd_dist_buckets {
    gd_tensor *grads;     /* retained */
    bucket_param *p;      /* sorted by off, ascending */
    int np, nb, next;     /* next: the first bucket not posted yet */
    bucket *b;            /* b[0]: the arena's last elements (the last layer) */
    int op, deterministic, enabled, touched;
    int64_t posting, early, reduced;  /* posting: this walk's posts so far; early: the last reduced walk's */
    gd_dist_buckets *link;
};

static gd_dist_buckets *bucket_sets;  /* every live set (usually one) */

static int by_offset(const void *a, const void *b)
{
    int64_t x = ((const bucket_param *)a)->off, y = ((const bucket_param *)b)->off;
    return x < y ? -1 : x > y;
}

/* The parameter whose gradient is leaf's, or NULL; *in_arena: leaf's
   gradient is some view of this arena. */
static bucket_param *param_of(gd_dist_buckets *s, const gd_tensor *leaf, int *in_arena)
{
    const gd_tensor *g = leaf->gradient;
    *in_arena = g && g->storage == s->grads->storage;
    if (!*in_arena) return NULL;
    int64_t off = g->storage_offset - s->grads->storage_offset;
    int lo = 0, hi = s->np - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (s->p[mid].off == off) return s->p[mid].n == g->count ? &s->p[mid] : NULL;
        if (s->p[mid].off < off) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

static bucket *bucket_at(gd_dist_buckets *s, int64_t off)
{
    for (int k = 0; k < s->nb; k++)
        if (off >= s->b[k].lo && off < s->b[k].hi) return &s->b[k];
    return NULL;
}

static int post(gd_dist_buckets *s, int k)
{
    bucket *b = &s->b[k];
    b->posted = 1;
    s->next = k + 1;
    if (!engine || b->hi == b->lo) return GD_OK;
    size_t es = gd_dtype_size(s->grads->scalar_type);
    char *p = (char *)s->grads->data + (size_t)b->lo * es;
    if (engine->iallreduce(p, b->hi - b->lo, s->grads->scalar_type, s->op, s->grads->device_kind,
                           s->deterministic, &b->req))
        return engine_failed("gd.dist.DataParallel: the allreduce of a gradient bucket");
    return GD_OK;
}

/* Posts the buckets that are complete, in order, up to the first that is not. */
static int post_ready(gd_dist_buckets *s)
{
    while (s->next < s->nb && s->b[s->next].pending == 0) {
        GD_TRY(post(s, s->next));
        s->posting++;
    }
    return GD_OK;
}

static void hook_begin(void)
{
    for (gd_dist_buckets *s = bucket_sets; s; s = s->link) {
        s->touched = 0;
        s->next = 0;
        s->posting = 0;
        for (int i = 0; i < s->np; i++) s->p[i].expect = s->p[i].got = 0;
        for (int k = 0; k < s->nb; k++) {
            s->b[k].pending = 0;
            s->b[k].posted = 0;
            s->b[k].req = NULL;
        }
    }
}

/* What both leaf hooks do first on each set: *hit when the set is enabled and
   leaf's gradient lies in its arena (the set is then touched by this
   backward); leaf's entry, or NULL when it is no bucketed parameter. */
static bucket_param *touch(gd_dist_buckets *s, const gd_tensor *leaf, int *hit)
{
    *hit = 0;
    if (!s->enabled) return NULL;
    bucket_param *p = param_of(s, leaf, hit);
    if (*hit) s->touched = 1;
    return p;
}

static void hook_expect(const gd_tensor *leaf)
{
    for (gd_dist_buckets *s = bucket_sets; s; s = s->link) {
        int hit;
        bucket_param *p = touch(s, leaf, &hit);
        if (hit && p && p->expect++ == 0) s->b[p->bucket].pending++;
    }
}

static int hook_written(const gd_tensor *leaf)
{
    for (gd_dist_buckets *s = bucket_sets; s; s = s->link) {
        int hit;
        bucket_param *p = touch(s, leaf, &hit);
        if (!hit) continue;
        bucket *b = p ? &s->b[p->bucket] : bucket_at(s, leaf->gradient->storage_offset - s->grads->storage_offset);
        /* a write the edge count did not foresee, into a bucket on the wire:
           refuse rather than reduce half a gradient */
        if (b && b->posted)
            return gd_fail(GD_EINVAL, "gd.dist.DataParallel: a gradient was written after its bucket's allreduce "
                                      "was posted (a backward that writes a parameter's .grad more often than "
                                      "the graph has uses of it)");
        if (p && ++p->got == p->expect) b->pending--;
        if (p) GD_TRY(post_ready(s));
    }
    return GD_OK;
}

/* The rest posted (when the walk succeeded), then every posted one waited
   for, in bucket order, on every set the backward wrote into. */
static int hook_end(int status)
{
    int st = status;
    for (gd_dist_buckets *s = bucket_sets; s; s = s->link) {
        if (!s->enabled || !s->touched) continue;
        while (!st && s->next < s->nb) st = post(s, s->next);
        for (int k = 0; k < s->nb; k++) {
            bucket *b = &s->b[k];
            if (!b->posted || !b->req) continue;
            int w = engine->wait(b->req);
            b->req = NULL;
            if (w && !st) st = engine_failed("gd.dist.DataParallel: the wait for a gradient bucket");
        }
        if (!st) {
            s->reduced++;
            s->early = s->posting;
        }
        s->touched = 0;
    }
    return st;
}

static const gd_ag_leaf_hook bucket_hook = {hook_begin, hook_expect, hook_written, hook_end};

int gd_dist_buckets_new(gd_dist_buckets **out, gd_tensor *grads, gd_tensor *const *params, int n, double cap_mb,
                        int op, int deterministic)
{
    *out = NULL;
    GD_TRY(check_arg(grads, "the gradient arena"));
    if (grads->rank != 1) return gd_fail(GD_EINVAL, "the gradient arena must be 1-D");
    if (!gd_is_float(grads->scalar_type)) return gd_fail(GD_EINVAL, "the gradient arena must be float32 or float64");
    if (op != GD_DIST_SUM && op != GD_DIST_MEAN) return gd_fail(GD_EINVAL, "buckets reduce by sum or mean only");
    if (!(cap_mb > 0) || !isfinite(cap_mb))
        return gd_fail(GD_EINVAL, "bucket_cap_mb must be a number > 0, got %g", cap_mb);
    if (n < 1 || !params) return gd_fail(GD_EINVAL, "no parameters");
    gd_dist_buckets *s = calloc(1, sizeof *s);
    if (s) s->p = calloc((size_t)n, sizeof *s->p);
    if (s) s->b = calloc((size_t)n, sizeof *s->b);
    if (!s || !s->p || !s->b) {
        if (s) { free(s->p); free(s->b); }
        free(s);
        return gd_fail(GD_ENOMEM, "out of memory for %d parameters' buckets", n);
    }
    int st = GD_OK;
    for (int i = 0; i < n && !st; i++) {
        const gd_tensor *g = params[i] ? params[i]->gradient : NULL;
        int64_t off = g ? g->storage_offset - grads->storage_offset : -1;
        if (!g || g->storage != grads->storage || !g->is_contiguous || off < 0 || off + g->count > grads->count)
            st = gd_fail(GD_EINVAL, "parameter %d's .grad is not a contiguous view of the gradient arena", i + 1);
        else if (g->count > 0) {
            s->p[s->np].off = off;
            s->p[s->np].n = g->count;
            s->np++;
        }
    }
    if (!st && s->np == 0) st = gd_fail(GD_EINVAL, "the parameters are all empty");
    if (st) {
        free(s->p); free(s->b); free(s);
        return st;
    }
    qsort(s->p, (size_t)s->np, sizeof *s->p, by_offset);
    /* shared parameters listed twice: one entry */
    int w = 0;
    for (int i = 0; i < s->np; i++)
        if (w == 0 || s->p[i].off != s->p[w - 1].off) s->p[w++] = s->p[i];
    s->np = w;
    /* reverse layer order: from the arena's end, closing a bucket at cap bytes */
    double cap = cap_mb * 1048576.0, es = (double)gd_dtype_size(grads->scalar_type), bytes = 0;
    int64_t hi = grads->count;
    for (int i = s->np - 1; i >= 0; i--) {
        s->p[i].bucket = s->nb;
        bytes += (double)s->p[i].n * es;
        if (bytes >= cap || i == 0) {
            s->b[s->nb].hi = hi;
            s->b[s->nb].lo = i == 0 ? 0 : s->p[i].off;
            hi = s->b[s->nb].lo;
            s->nb++;
            bytes = 0;
        }
    }
    gd_tensor_retain(grads);
    s->grads = grads;
    s->op = op;
    s->deterministic = deterministic != 0;
    s->enabled = 1;
    s->link = bucket_sets;
    bucket_sets = s;
    gd_ag_set_leaf_hook(&bucket_hook);
    *out = s;
    return GD_OK;
}

void gd_dist_buckets_free(gd_dist_buckets *b)
{
    if (!b) return;
    for (gd_dist_buckets **l = &bucket_sets; *l; l = &(*l)->link)
        if (*l == b) { *l = b->link; break; }
    if (!bucket_sets) gd_ag_set_leaf_hook(NULL);
    gd_tensor_release(b->grads);
    free(b->p);
    free(b->b);
    free(b);
}

void gd_dist_buckets_enable(gd_dist_buckets *b, int on)
{
    if (b) b->enabled = on != 0;
}

void gd_dist_buckets_stats(const gd_dist_buckets *b, int64_t *out)
{
    out[0] = b ? b->nb : 0;
    out[1] = b ? b->early : 0;
    out[2] = b ? b->reduced : 0;
}
