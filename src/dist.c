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
