/*
 * dist/mpi.c: libgd_dist.so, the engine behind gd.dist (see dist_engine.h).
 *
 * CPU tensors go through MPI (Open MPI here; any MPI-3), CUDA tensors through
 * NCCL when its header was found at build time (dist/nccl.c).  No transport of
 * our own: every byte between ranks is moved by MPI or NCCL.
 *
 * Counts: MPI takes an int count, so every collective walks its buffer in
 * chunks of at most GD_DIST_CHUNK elements (default 2^30 < INT_MAX; the
 * environment variable lowers it, which is how the specs cover the loop
 * without 8 GiB tensors).
 *
 * Failure: MPI_COMM_WORLD's error handler is MPI_ERRORS_RETURN, so an MPI
 * failure is a message, never MPI's own abort.  A rank that dies or hangs
 * would leave the others waiting in a collective for ever; a watchdog thread
 * bounds every collective by GD_DIST_TIMEOUT seconds (default 600): past it,
 * the waiting rank prints what it waited for and MPI_Abort ends every rank.
 * Finalised at exit (atexit), under the watchdog too.
 */
#define _GNU_SOURCE
#include "../dist_engine.h"
#include "../gd.h"
#include "dist_nccl.h"

#include <mpi.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int g_rank, g_size = 1, g_local_rank, g_thread_level, g_initialised;
static int64_t g_chunk = (int64_t)1 << 30;
static int (*g_cuda_sync)(void);
static char g_msg[2048];

/* ------------------------------------------------------------ messages */

const char *gd_dist_mpi_error_string(void) { return g_msg; }
int gd_dist_mpi_rank(void) { return g_rank; }

int gd_dist_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    return -1;
}

/* An MPI return code as a message: "MPI_Allreduce failed: <MPI's text>". */
static int mpi_check(int rc, const char *what)
{
    if (rc == MPI_SUCCESS) return 0;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "error %d", rc);
    return gd_dist_fail("%s failed on rank %d: %s", what, g_rank, text);
}

/* --------------------------------------------------------------- watchdog */

static pthread_mutex_t wd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cv;
static double wd_timeout = 600;
static const char *wd_what;      /* the collective in progress, NULL when none */
static struct timespec wd_deadline;
static int wd_started;

/* From the main thread (a failed script, through the host): MPI_Abort. */
static void abort_all(const char *msg, int code)
{
    if (msg) {
        fprintf(stderr, "%s\n", msg);
        fflush(stderr);
    }
    fflush(stdout);
    if (g_initialised) MPI_Abort(MPI_COMM_WORLD, code);
    _exit(code);
}

/* From the watchdog's thread: MPI_Abort there needs MPI_THREAD_MULTIPLE; with
   less, ending this process is enough, since mpirun ends the job when a rank
   exits without MPI_Finalize. */
static void watchdog_fire(const char *msg, int code)
{
    fprintf(stderr, "%s\n", msg);
    fflush(stderr);
    if (g_thread_level >= MPI_THREAD_MULTIPLE) MPI_Abort(MPI_COMM_WORLD, code);
    _exit(code);
}

static void *watchdog_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&wd_mu);
    for (;;) {
        if (!wd_what) {
            pthread_cond_wait(&wd_cv, &wd_mu);
            continue;
        }
        const char *what = wd_what;
        struct timespec until = wd_deadline;
        int rc = pthread_cond_timedwait(&wd_cv, &wd_mu, &until);
        if (rc == ETIMEDOUT && wd_what == what && wd_deadline.tv_sec == until.tv_sec &&
            wd_deadline.tv_nsec == until.tv_nsec) {
            char msg[512];
            snprintf(msg, sizeof msg,
                     "gd.dist: rank %d of %d: %s did not finish within %g s (GD_DIST_TIMEOUT): another rank "
                     "has failed or stopped; ending every rank", g_rank, g_size, what, wd_timeout);
            pthread_mutex_unlock(&wd_mu);
            watchdog_fire(msg, 75);
        }
    }
    return NULL;
}

static void watchdog_start(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&wd_cv, &attr);
    pthread_condattr_destroy(&attr);
    pthread_t t;
    if (pthread_create(&t, NULL, watchdog_main, NULL) == 0) {
        pthread_detach(t);
        wd_started = 1;
    }
}

/* Arms the watchdog for one collective (what: its name, a string literal). */
static void arm(const char *what)
{
    if (!wd_started || !(wd_timeout > 0)) return;
    pthread_mutex_lock(&wd_mu);
    clock_gettime(CLOCK_MONOTONIC, &wd_deadline);
    double whole = floor(wd_timeout);
    wd_deadline.tv_sec += (time_t)whole;
    wd_deadline.tv_nsec += (long)((wd_timeout - whole) * 1e9);
    if (wd_deadline.tv_nsec >= 1000000000L) {
        wd_deadline.tv_sec++;
        wd_deadline.tv_nsec -= 1000000000L;
    }
    wd_what = what;
    pthread_cond_signal(&wd_cv);
    pthread_mutex_unlock(&wd_mu);
}

static void disarm(void)
{
    if (!wd_started) return;
    pthread_mutex_lock(&wd_mu);
    wd_what = NULL;
    pthread_cond_signal(&wd_cv);
    pthread_mutex_unlock(&wd_mu);
}

static void set_timeout(double seconds)
{
    pthread_mutex_lock(&wd_mu);
    wd_timeout = seconds;
    pthread_mutex_unlock(&wd_mu);
}

/* ------------------------------------------------------------- set-up */

static void finalize_at_exit(void)
{
    int done = 0;
    MPI_Finalized(&done);
    if (done) return;
    gd_dist_nccl_shutdown();
    arm("MPI_Finalize (at exit)");
    MPI_Finalize();
    disarm();
}

static int engine_init(int *rank, int *size, int *local_rank, int (*cuda_sync)(void))
{
    g_cuda_sync = cuda_sync;
    const char *chunk = getenv("GD_DIST_CHUNK");
    if (chunk && *chunk) {
        long long c = atoll(chunk);
        if (c >= 1 && c <= (1LL << 30)) g_chunk = c;
    }
    if (!g_initialised) {
        int already = 0;
        MPI_Initialized(&already);
        if (!already) {
            /* Open MPI's shared-memory transport between ranks on one
               machine: copy-in/copy-out through its shared segments rather
               than the kernel's cross-process copy (CMA), unless the user
               chose (OMPI_MCA_...=cma).  Measured here on 2 ranks (bench/
               dist.lua's MLP, 5 interleaved pairs): the 4.4 MB gradient
               allreduce 1.08 ms in a step against 1.45 with CMA, the step
               8.99 ms against 9.93; a 25 MB allreduce 4.9 ms against 7.0.
               Other MPIs ignore the variable. */
            setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 0);
            int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &g_thread_level);
            if (rc != MPI_SUCCESS) return gd_dist_fail("MPI_Init_thread failed (error %d)", rc);
            atexit(finalize_at_exit);
        } else {
            MPI_Query_thread(&g_thread_level);
        }
        if (mpi_check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler"))
            return -1;
        if (mpi_check(MPI_Comm_rank(MPI_COMM_WORLD, &g_rank), "MPI_Comm_rank")) return -1;
        if (mpi_check(MPI_Comm_size(MPI_COMM_WORLD, &g_size), "MPI_Comm_size")) return -1;
        /* the ranks that share this machine's memory: local_rank picks a GPU */
        MPI_Comm node;
        if (mpi_check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &node),
                      "MPI_Comm_split_type")) return -1;
        MPI_Comm_rank(node, &g_local_rank);
        MPI_Comm_free(&node);
        g_initialised = 1;
        watchdog_start();
    }
    *rank = g_rank;
    *size = g_size;
    *local_rank = g_local_rank;
    return 0;
}

/* ------------------------------------------------------------- CPU collectives */

static MPI_Datatype mpi_type(int dtype)
{
    return dtype == GD_FLOAT32 ? MPI_FLOAT : dtype == GD_FLOAT64 ? MPI_DOUBLE : MPI_INT64_T;
}

static size_t elem_size(int dtype) { return dtype == GD_FLOAT32 ? 4 : 8; }

static MPI_Op mpi_op(int op)
{
    return op == GD_DIST_MAX ? MPI_MAX : op == GD_DIST_MIN ? MPI_MIN : MPI_SUM;
}

/* x[i] /= size: the mean after the sum (PyTorch's ReduceOp.AVG divides). */
static void divide(void *buf, int64_t n, int dtype)
{
    if (dtype == GD_FLOAT32) {
        float *x = buf, d = (float)g_size;
        for (int64_t i = 0; i < n; i++) x[i] /= d;
    } else if (dtype == GD_FLOAT64) {
        double *x = buf, d = (double)g_size;
        for (int64_t i = 0; i < n; i++) x[i] /= d;
    } else {
        int64_t *x = buf;
        for (int64_t i = 0; i < n; i++) x[i] /= g_size; /* C's truncation, as torch's integer division of old */
    }
}

/* out[i] = ((g[0][i] + g[1][i]) + g[2][i]) + ...: every rank's chunk of c
   values, gathered rank-major in g, summed in rank order. */
#define ORDERED_SUM(T)                                                            \
    do {                                                                          \
        T *o = out;                                                               \
        const T *g = gathered;                                                    \
        for (int64_t i = 0; i < c; i++) {                                         \
            T s = g[i];                                                           \
            for (int r = 1; r < g_size; r++) s = s + g[(int64_t)r * c + i];       \
            o[i] = s;                                                             \
        }                                                                         \
    } while (0)

static void ordered_sum(void *out, const void *gathered, int64_t c, int dtype)
{
    if (dtype == GD_FLOAT32) ORDERED_SUM(float);
    else if (dtype == GD_FLOAT64) ORDERED_SUM(double);
    else ORDERED_SUM(int64_t);
}

static int cpu_allreduce(void *buf, int64_t n, int dtype, int op, int deterministic)
{
    size_t es = elem_size(dtype);
    MPI_Datatype t = mpi_type(dtype);
    int sum = op == GD_DIST_SUM || op == GD_DIST_MEAN;
    if (deterministic && sum && g_size > 1) {
        /* bounded memory: size * 4M elements of scratch at a time */
        int64_t c_max = g_chunk < ((int64_t)1 << 22) ? g_chunk : ((int64_t)1 << 22);
        int64_t first = n < c_max ? n : c_max;
        void *scratch = malloc((size_t)g_size * (size_t)(first > 0 ? first : 1) * es);
        if (!scratch) return gd_dist_fail("allreduce: out of memory for the deterministic reduction's %lld bytes",
                                           (long long)((size_t)g_size * (size_t)first * es));
        for (int64_t off = 0; off < n; off += c_max) {
            int64_t c = n - off < c_max ? n - off : c_max;
            char *p = (char *)buf + (size_t)off * es;
            arm("allreduce (deterministic: MPI_Allgather)");
            int rc = MPI_Allgather(p, (int)c, t, scratch, (int)c, t, MPI_COMM_WORLD);
            disarm();
            if (mpi_check(rc, "MPI_Allgather")) {
                free(scratch);
                return -1;
            }
            ordered_sum(p, scratch, c, dtype);
        }
        free(scratch);
    } else {
        for (int64_t off = 0; off < n; off += g_chunk) {
            int64_t c = n - off < g_chunk ? n - off : g_chunk;
            arm("allreduce (MPI_Allreduce)");
            int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + (size_t)off * es, (int)c, t, mpi_op(op),
                                   MPI_COMM_WORLD);
            disarm();
            if (mpi_check(rc, "MPI_Allreduce")) return -1;
        }
    }
    if (op == GD_DIST_MEAN) divide(buf, n, dtype);
    return 0;
}

static int cpu_broadcast(void *buf, int64_t n, int dtype, int root)
{
    size_t es = elem_size(dtype);
    for (int64_t off = 0; off < n; off += g_chunk) {
        int64_t c = n - off < g_chunk ? n - off : g_chunk;
        arm("broadcast (MPI_Bcast)");
        int rc = MPI_Bcast((char *)buf + (size_t)off * es, (int)c, mpi_type(dtype), root, MPI_COMM_WORLD);
        disarm();
        if (mpi_check(rc, "MPI_Bcast")) return -1;
    }
    return 0;
}

static int cpu_allgather(void *out, const void *in, int64_t n, int dtype)
{
    size_t es = elem_size(dtype);
    MPI_Datatype t = mpi_type(dtype);
    if (n <= g_chunk) {
        arm("allgather (MPI_Allgather)");
        int rc = MPI_Allgather(in, (int)n, t, out, (int)n, t, MPI_COMM_WORLD);
        disarm();
        return mpi_check(rc, "MPI_Allgather");
    }
    /* chunk k of every rank lands rank-major in scratch, then at out + r*n + off */
    void *scratch = malloc((size_t)g_size * (size_t)g_chunk * es);
    if (!scratch) return gd_dist_fail("allgather: out of memory for a chunk's scratch");
    for (int64_t off = 0; off < n; off += g_chunk) {
        int64_t c = n - off < g_chunk ? n - off : g_chunk;
        arm("allgather (MPI_Allgather)");
        int rc = MPI_Allgather((const char *)in + (size_t)off * es, (int)c, t, scratch, (int)c, t, MPI_COMM_WORLD);
        disarm();
        if (mpi_check(rc, "MPI_Allgather")) {
            free(scratch);
            return -1;
        }
        for (int r = 0; r < g_size; r++)
            memcpy((char *)out + ((size_t)r * (size_t)n + (size_t)off) * es, (char *)scratch + (size_t)r * (size_t)c * es,
                   (size_t)c * es);
    }
    free(scratch);
    return 0;
}

/* ------------------------------------------------ non-blocking allreduce */

/* One posted allreduce: MPI_Iallreduce (or, deterministic, MPI_Iallgather
   into scratch) per chunk of at most g_chunk elements. */
typedef struct ireq {
    int kind;                 /* GD_DIST_REQ_MPI */
    void *buf;
    int64_t n;
    int dtype, op, deterministic, nreq;
    void *scratch;            /* deterministic: size * n elements, rank-major per chunk */
    MPI_Request reqs[];
} ireq;

static int cpu_iallreduce(void *buf, int64_t n, int dtype, int op, int deterministic, void **out)
{
    size_t es = elem_size(dtype);
    MPI_Datatype t = mpi_type(dtype);
    int sum = op == GD_DIST_SUM || op == GD_DIST_MEAN;
    deterministic = deterministic && sum && g_size > 1;
    int64_t nchunks = n > 0 ? (n + g_chunk - 1) / g_chunk : 0;
    if (nchunks > INT32_MAX) return gd_dist_fail("iallreduce: %lld chunks", (long long)nchunks);
    ireq *r = calloc(1, sizeof *r + (size_t)nchunks * sizeof(MPI_Request));
    if (!r) return gd_dist_fail("iallreduce: out of memory for the request");
    r->kind = GD_DIST_REQ_MPI;
    r->buf = buf;
    r->n = n;
    r->dtype = dtype;
    r->op = op;
    r->deterministic = deterministic;
    if (deterministic && n > 0) {
        r->scratch = malloc((size_t)g_size * (size_t)n * es);
        if (!r->scratch) {
            free(r);
            return gd_dist_fail("iallreduce: out of memory for the deterministic reduction's %lld bytes",
                                (long long)((size_t)g_size * (size_t)n * es));
        }
    }
    for (int64_t off = 0; off < n; off += g_chunk) {
        int64_t c = n - off < g_chunk ? n - off : g_chunk;
        char *p = (char *)buf + (size_t)off * es;
        int rc = deterministic
            ? MPI_Iallgather(p, (int)c, t, (char *)r->scratch + (size_t)g_size * (size_t)off * es, (int)c, t,
                             MPI_COMM_WORLD, &r->reqs[r->nreq])
            : MPI_Iallreduce(MPI_IN_PLACE, p, (int)c, t, mpi_op(op), MPI_COMM_WORLD, &r->reqs[r->nreq]);
        if (rc == MPI_SUCCESS) {
            r->nreq++;
            continue;
        }
        mpi_check(rc, deterministic ? "MPI_Iallgather" : "MPI_Iallreduce");
        /* what was posted must still complete before its buffers go */
        if (r->nreq) MPI_Waitall(r->nreq, r->reqs, MPI_STATUSES_IGNORE);
        free(r->scratch);
        free(r);
        return -1;
    }
    /* Open MPI moves a non-blocking collective on only inside MPI calls: a
       test now starts its first round (the rest progress at the next post) */
    if (r->nreq) {
        int flag = 0;
        MPI_Testall(r->nreq, r->reqs, &flag, MPI_STATUSES_IGNORE);
    }
    *out = r;
    return 0;
}

static int cpu_wait(ireq *r)
{
    int rc = MPI_SUCCESS;
    if (r->nreq) {
        arm("allreduce of a gradient bucket (MPI_Waitall)");
        rc = MPI_Waitall(r->nreq, r->reqs, MPI_STATUSES_IGNORE);
        disarm();
    }
    int st = mpi_check(rc, r->deterministic ? "MPI_Iallgather's wait" : "MPI_Iallreduce's wait");
    if (!st && r->deterministic) {
        size_t es = elem_size(r->dtype);
        for (int64_t off = 0; off < r->n; off += g_chunk) {
            int64_t c = r->n - off < g_chunk ? r->n - off : g_chunk;
            ordered_sum((char *)r->buf + (size_t)off * es, (char *)r->scratch + (size_t)g_size * (size_t)off * es,
                        c, r->dtype);
        }
    }
    if (!st && r->op == GD_DIST_MEAN) divide(r->buf, r->n, r->dtype);
    free(r->scratch);
    free(r);
    return st;
}

/* ---------------------------------------------------------- the table */

/* GPU collectives: NCCL enqueues on the backend's stream; the sync after it
   runs under the watchdog, so that a rank that never joins cannot hang the
   others for ever. */
static int gpu_done(const char *what)
{
    if (!g_cuda_sync) return 0;
    arm(what);
    int rc = g_cuda_sync();
    disarm();
    return rc ? gd_dist_fail("%s: the CUDA stream failed after the NCCL call", what) : 0;
}

static int engine_allreduce(void *buf, int64_t n, int dtype, int op, int device, int deterministic)
{
    if (device == GD_CUDA) {
        if (gd_dist_nccl_allreduce(buf, n, dtype, op, deterministic, g_rank, g_size)) return -1;
        return gpu_done("allreduce (NCCL)");
    }
    return cpu_allreduce(buf, n, dtype, op, deterministic);
}

static int engine_broadcast(void *buf, int64_t n, int dtype, int root, int device)
{
    if (device == GD_CUDA) {
        if (gd_dist_nccl_broadcast(buf, n, dtype, root, g_rank, g_size)) return -1;
        return gpu_done("broadcast (NCCL)");
    }
    return cpu_broadcast(buf, n, dtype, root);
}

static int engine_allgather(void *out, const void *in, int64_t n, int dtype, int device)
{
    if (device == GD_CUDA) {
        if (gd_dist_nccl_allgather(out, in, n, dtype, g_rank, g_size)) return -1;
        return gpu_done("allgather (NCCL)");
    }
    return cpu_allgather(out, in, n, dtype);
}

/* CUDA buffers: NCCL on the bucket stream (dist/nccl.c), waited for here
   under the watchdog. */
static int engine_iallreduce(void *buf, int64_t n, int dtype, int op, int device, int deterministic, void **req)
{
    if (device == GD_CUDA) return gd_dist_nccl_iallreduce(buf, n, dtype, op, deterministic, g_rank, g_size, req);
    return cpu_iallreduce(buf, n, dtype, op, deterministic, req);
}

static int engine_wait(void *req)
{
    if (!req) return 0;
    if (*(const int *)req == GD_DIST_REQ_NCCL) {
        arm("allreduce of a gradient bucket (NCCL, the wait for its event)");
        int rc = gd_dist_nccl_wait(req);
        disarm();
        return rc;
    }
    return cpu_wait(req);
}

static int engine_barrier(void)
{
    arm("barrier (MPI_Barrier)");
    int rc = MPI_Barrier(MPI_COMM_WORLD);
    disarm();
    return mpi_check(rc, "MPI_Barrier");
}

/* Used by dist/nccl.c: rank 0's NCCL unique id to every rank. */
int gd_dist_mpi_bcast_bytes(void *p, int n)
{
    arm("the NCCL unique id's broadcast (MPI_Bcast)");
    int rc = MPI_Bcast(p, n, MPI_BYTE, 0, MPI_COMM_WORLD);
    disarm();
    return mpi_check(rc, "MPI_Bcast of the NCCL unique id");
}

/* Used by dist/nccl.c: 0 on every rank when every rank's ok was 0. */
int gd_dist_mpi_all_ok(int ok)
{
    int worst = ok;
    arm("the NCCL set-up's agreement (MPI_Allreduce)");
    int rc = MPI_Allreduce(&ok, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    disarm();
    if (mpi_check(rc, "MPI_Allreduce")) return -1;
    return worst;
}

static int engine_has_nccl(void) { return GD_DIST_HAS_NCCL; }

__attribute__((visibility("default"))) const gd_dist_engine gd_dist_engine_v1 = {
    .abi = GD_DIST_ABI,
    .init = engine_init,
    .error_string = gd_dist_mpi_error_string,
    .has_nccl = engine_has_nccl,
    .set_timeout = set_timeout,
    .barrier = engine_barrier,
    .allreduce = engine_allreduce,
    .broadcast = engine_broadcast,
    .allgather = engine_allgather,
    .iallreduce = engine_iallreduce,
    .wait = engine_wait,
    .abort = abort_all,
};
