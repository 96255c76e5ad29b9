/*
 * dist/nccl.c: CUDA tensors' collectives through NCCL (see dist_nccl.h).
 *
 * Set-up, as NCCL's documentation has it for MPI programs ("Creating a
 * communicator", example 2): rank 0 calls ncclGetUniqueId, MPI_Bcast gives the
 * id to every rank, each calls ncclCommInitRank(comm, size, id, rank) on its
 * current CUDA device.  One GPU per rank: NCCL >= 2.5 refuses two ranks on
 * one GPU ("Duplicate GPU detected"); pick the GPU per rank with
 * CUDA_VISIBLE_DEVICES (docs/distributed.md).  (NCCL's "Creating a
 * Communicator": "Using the same CUDA device multiple times as different ranks
 * of the same NCCL communicator is not supported"; NVIDIA/nccl#103, #418: an
 * error since 2.5.  NCCL 2.30's experimental NCCL_MULTI_RANK_GPU_ENABLE lifts
 * it; the 2.28 of this toolkit has no such switch.)
 *
 * The blocking collectives run on the CUDA backend's stream, the legacy
 * default stream (cuda/backend.cu), so they are ordered with the kernels
 * before and after them without a host sync.  DataParallel's buckets
 * (gd_dist_nccl_iallreduce) run on a stream of their own instead, so that a
 * bucket's allreduce overlaps the backward kernels still queued behind it:
 *
 *     default stream:  ... dW3 | ready1 | dX3 dW2 | ready2 | dX2 dW1 ... | wait(done1) wait(done2) | step
 *     bucket stream:             \-> allreduce 1 | done1  \-> allreduce 2 | done2
 *
 * An event recorded on the default stream after the bucket's last gradient
 * kernel (ready) is what the bucket stream waits for before NCCL reads the
 * bucket; an event recorded after the allreduce (done) is what the default
 * stream waits for before the optimizer's step (or anything else) touches
 * the arena again (PyTorch's DDP does the same with its NCCL stream).  The
 * bucket stream is created cudaStreamNonBlocking: a blocking stream would be
 * serialised with the legacy default stream and nothing would overlap.
 * cudart's stream and event functions are taken from the libcudart that
 * libgd_cuda.so already loaded (libgd_dist.so links neither).
 */
#define _GNU_SOURCE /* dl_iterate_phdr */
#include "dist_nccl.h"
#include "../gd.h"

#ifdef GD_DIST_NCCL
#include <dlfcn.h>
#include <link.h>
#include <nccl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    int tried, ok;
    ncclComm_t comm;
    ncclResult_t (*get_unique_id)(ncclUniqueId *);
    ncclResult_t (*comm_init_rank)(ncclComm_t *, int, ncclUniqueId, int);
    ncclResult_t (*comm_destroy)(ncclComm_t);
    ncclResult_t (*all_reduce)(const void *, void *, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t);
    ncclResult_t (*broadcast)(const void *, void *, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t);
    ncclResult_t (*all_gather)(const void *, void *, size_t, ncclDataType_t, ncclComm_t, cudaStream_t);
    const char *(*error_string)(ncclResult_t);
    char why[512];
} nc;

/* cudart's functions the bucket stream needs, and the stream itself */
static struct {
    int tried, ok;
    cudaStream_t stream;
    cudaError_t (*stream_create)(cudaStream_t *, unsigned int);
    cudaError_t (*stream_destroy)(cudaStream_t);
    cudaError_t (*event_create)(cudaEvent_t *, unsigned int);
    cudaError_t (*event_destroy)(cudaEvent_t);
    cudaError_t (*event_record)(cudaEvent_t, cudaStream_t);
    cudaError_t (*event_synchronize)(cudaEvent_t);
    cudaError_t (*stream_wait_event)(cudaStream_t, cudaEvent_t, unsigned int);
    const char *(*error_string)(cudaError_t);
    char why[512];
} cr;

static int nccl_check(ncclResult_t rc, const char *what, int rank)
{
    if (rc == ncclSuccess) return 0;
    return gd_dist_fail("%s failed on rank %d: %s", what, rank, nc.error_string ? nc.error_string(rc) : "NCCL error");
}

/* Opens libnccl and makes the communicator: collective, so every rank comes
   here at the same collective; a rank that cannot open NCCL tells the others
   (gd_dist_mpi_all_ok) instead of leaving them in ncclCommInitRank. */
static int nccl_ready(int rank, int size)
{
    if (nc.tried) return nc.ok ? 0 : gd_dist_fail("%s", nc.why);
    nc.tried = 1;
    void *h = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!h) h = dlopen("libnccl.so", RTLD_NOW | RTLD_LOCAL);
    int mine = 0;
    if (!h) {
        snprintf(nc.why, sizeof nc.why, "gd.dist: NCCL could not be loaded on rank %d (%s)", rank, dlerror());
        mine = 1;
    } else {
        nc.get_unique_id = (ncclResult_t (*)(ncclUniqueId *))dlsym(h, "ncclGetUniqueId");
        nc.comm_init_rank = (ncclResult_t (*)(ncclComm_t *, int, ncclUniqueId, int))dlsym(h, "ncclCommInitRank");
        nc.comm_destroy = (ncclResult_t (*)(ncclComm_t))dlsym(h, "ncclCommDestroy");
        nc.all_reduce = (ncclResult_t (*)(const void *, void *, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t,
                                          cudaStream_t))dlsym(h, "ncclAllReduce");
        nc.broadcast = (ncclResult_t (*)(const void *, void *, size_t, ncclDataType_t, int, ncclComm_t,
                                         cudaStream_t))dlsym(h, "ncclBroadcast");
        nc.all_gather = (ncclResult_t (*)(const void *, void *, size_t, ncclDataType_t, ncclComm_t,
                                          cudaStream_t))dlsym(h, "ncclAllGather");
        nc.error_string = (const char *(*)(ncclResult_t))dlsym(h, "ncclGetErrorString");
        if (!nc.get_unique_id || !nc.comm_init_rank || !nc.all_reduce || !nc.broadcast || !nc.all_gather) {
            snprintf(nc.why, sizeof nc.why, "gd.dist: libnccl on rank %d lacks the functions gd.dist needs", rank);
            mine = 1;
        }
    }
    /* rank 0's id (or its failure) to every rank */
    struct { int failed; ncclUniqueId id; } msg;
    memset(&msg, 0, sizeof msg);
    if (rank == 0) {
        msg.failed = mine;
        if (!mine && nccl_check(nc.get_unique_id(&msg.id), "ncclGetUniqueId", rank)) {
            snprintf(nc.why, sizeof nc.why, "%s", "gd.dist: ncclGetUniqueId failed on rank 0");
            msg.failed = mine = 1;
        }
    }
    if (gd_dist_mpi_bcast_bytes(&msg, (int)sizeof msg)) return -1;
    int bad = gd_dist_mpi_all_ok(mine || msg.failed);
    if (bad < 0) return -1;
    if (bad) {
        if (!mine) snprintf(nc.why, sizeof nc.why, "gd.dist: NCCL could not be set up on another rank");
        return gd_dist_fail("%s", nc.why);
    }
    if (nccl_check(nc.comm_init_rank(&nc.comm, size, msg.id, rank), "ncclCommInitRank", rank)) {
        snprintf(nc.why, sizeof nc.why, "gd.dist: ncclCommInitRank failed on rank %d (one GPU per rank: "
                 "set CUDA_VISIBLE_DEVICES per rank)", rank);
        return gd_dist_fail("%s", nc.why);
    }
    nc.ok = 1;
    return 0;
}

static ncclDataType_t nccl_type(int dtype)
{
    return dtype == GD_FLOAT32 ? ncclFloat32 : dtype == GD_FLOAT64 ? ncclFloat64 : ncclInt64;
}

/* ------------------------------------------------------- the bucket stream */

/* The libcudart already in the process (libgd_cuda.so's): its path, found
   among the loaded objects, so that its soname's version need not be known. */
static int find_cudart(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    const char *name = info->dlpi_name ? strrchr(info->dlpi_name, '/') : NULL;
    if (name && strncmp(name + 1, "libcudart.so", 12) == 0) {
        snprintf(data, 4096, "%s", info->dlpi_name);
        return 1;
    }
    return 0;
}

static int cuda_check(cudaError_t rc, const char *what)
{
    if (rc == cudaSuccess) return 0;
    return gd_dist_fail("%s failed on rank %d: %s", what, gd_dist_mpi_rank(),
                        cr.error_string ? cr.error_string(rc) : "CUDA error");
}

/* Local (no other rank involved): resolves cudart, makes the stream. */
static int stream_ready(void)
{
    if (cr.tried) return cr.ok ? 0 : gd_dist_fail("%s", cr.why);
    cr.tried = 1;
    char path[4096] = "";
    dl_iterate_phdr(find_cudart, path);
    void *h = path[0] ? dlopen(path, RTLD_NOW | RTLD_NOLOAD) : NULL;
    if (!h) {
        snprintf(cr.why, sizeof cr.why, "gd.dist: the bucket stream needs the CUDA runtime libgd_cuda.so loaded, "
                 "and none is in this process (rank %d)", gd_dist_mpi_rank());
        return gd_dist_fail("%s", cr.why);
    }
    cr.stream_create = (cudaError_t (*)(cudaStream_t *, unsigned int))dlsym(h, "cudaStreamCreateWithFlags");
    cr.stream_destroy = (cudaError_t (*)(cudaStream_t))dlsym(h, "cudaStreamDestroy");
    cr.event_create = (cudaError_t (*)(cudaEvent_t *, unsigned int))dlsym(h, "cudaEventCreateWithFlags");
    cr.event_destroy = (cudaError_t (*)(cudaEvent_t))dlsym(h, "cudaEventDestroy");
    cr.event_record = (cudaError_t (*)(cudaEvent_t, cudaStream_t))dlsym(h, "cudaEventRecord");
    cr.event_synchronize = (cudaError_t (*)(cudaEvent_t))dlsym(h, "cudaEventSynchronize");
    cr.stream_wait_event = (cudaError_t (*)(cudaStream_t, cudaEvent_t, unsigned int))dlsym(h, "cudaStreamWaitEvent");
    cr.error_string = (const char *(*)(cudaError_t))dlsym(h, "cudaGetErrorString");
    dlclose(h); /* RTLD_NOLOAD took a reference; libgd_cuda.so keeps its own */
    if (!cr.stream_create || !cr.stream_destroy || !cr.event_create || !cr.event_destroy || !cr.event_record ||
        !cr.event_synchronize || !cr.stream_wait_event) {
        snprintf(cr.why, sizeof cr.why, "gd.dist: %.400s lacks the stream and event functions the bucket stream needs",
                 path);
        return gd_dist_fail("%s", cr.why);
    }
    if (cuda_check(cr.stream_create(&cr.stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags (the bucket "
                                                                         "stream)")) {
        snprintf(cr.why, sizeof cr.why, "%s", gd_dist_mpi_error_string());
        return -1;
    }
    cr.ok = 1;
    return 0;
}

/* A posted bucket: its allreduce is queued on the bucket stream; done is
   recorded after it.  kind first: dist/mpi.c tells it from an MPI request. */
typedef struct nccl_req {
    int kind;
    cudaEvent_t done;
} nccl_req;

int gd_dist_nccl_iallreduce(void *buf, int64_t n, int dtype, int op, int deterministic, int rank, int size,
                            void **out)
{
    if (deterministic && (op == GD_DIST_SUM || op == GD_DIST_MEAN))
        return gd_dist_fail("allreduce: the deterministic (rank-order) sum is CPU-only; NCCL's sum of a CUDA "
                            "tensor is the same bits on every rank, but not in rank order");
    /* nccl_ready is collective: every rank reaches it at its first bucket
       (or first CUDA collective), whether or not its stream can be made */
    if (nccl_ready(rank, size) || stream_ready()) return -1;
    nccl_req *r = calloc(1, sizeof *r);
    if (!r) return gd_dist_fail("iallreduce: out of memory for the request");
    r->kind = GD_DIST_REQ_NCCL;
    cudaEvent_t ready = NULL;
    const unsigned fl = cudaEventDisableTiming;
    if (cuda_check(cr.event_create(&ready, fl), "cudaEventCreateWithFlags") ||
        cuda_check(cr.event_create(&r->done, fl), "cudaEventCreateWithFlags")) {
        if (ready) cr.event_destroy(ready);
        free(r);
        return -1;
    }
    ncclRedOp_t o = op == GD_DIST_MAX ? ncclMax : op == GD_DIST_MIN ? ncclMin : op == GD_DIST_MEAN ? ncclAvg : ncclSum;
    /* ready: after the kernels that wrote the bucket's gradients, on the
       default stream; the bucket stream waits for it, then reduces */
    int st = cuda_check(cr.event_record(ready, cudaStreamLegacy), "cudaEventRecord (a bucket's gradients ready)");
    if (!st) st = cuda_check(cr.stream_wait_event(cr.stream, ready, 0), "cudaStreamWaitEvent (the bucket stream)");
    if (!st) st = nccl_check(nc.all_reduce(buf, buf, (size_t)n, nccl_type(dtype), o, nc.comm, cr.stream),
                             "ncclAllReduce (a gradient bucket)", rank);
    if (!st) st = cuda_check(cr.event_record(r->done, cr.stream), "cudaEventRecord (a bucket's allreduce done)");
    cr.event_destroy(ready);  /* released once the stream has passed it (CUDA's rule) */
    if (st) {
        cr.event_destroy(r->done);
        free(r);
        return -1;
    }
    *out = r;
    return 0;
}

int gd_dist_nccl_wait(void *req)
{
    nccl_req *r = req;
    /* the default stream's next kernels (the optimizer's step) wait for the
       allreduce; the host waits too, so that a rank that never joins is
       caught by the watchdog (dist/mpi.c arms it around this call) */
    int st = cuda_check(cr.stream_wait_event(cudaStreamLegacy, r->done, 0), "cudaStreamWaitEvent (the default "
                                                                             "stream on a bucket)");
    if (!st) st = cuda_check(cr.event_synchronize(r->done), "the wait for a gradient bucket's NCCL allreduce");
    cr.event_destroy(r->done);
    free(r);
    return st;
}

int gd_dist_nccl_allreduce(void *buf, int64_t n, int dtype, int op, int deterministic, int rank, int size)
{
    if (deterministic && (op == GD_DIST_SUM || op == GD_DIST_MEAN))
        return gd_dist_fail("allreduce: the deterministic (rank-order) sum is CPU-only; NCCL's sum of a CUDA "
                            "tensor is the same bits on every rank, but not in rank order");
    if (nccl_ready(rank, size)) return -1;
    ncclRedOp_t o = op == GD_DIST_MAX ? ncclMax : op == GD_DIST_MIN ? ncclMin : op == GD_DIST_MEAN ? ncclAvg : ncclSum;
    return nccl_check(nc.all_reduce(buf, buf, (size_t)n, nccl_type(dtype), o, nc.comm, (cudaStream_t)0),
                      "ncclAllReduce", rank);
}

int gd_dist_nccl_broadcast(void *buf, int64_t n, int dtype, int root, int rank, int size)
{
    if (nccl_ready(rank, size)) return -1;
    return nccl_check(nc.broadcast(buf, buf, (size_t)n, nccl_type(dtype), root, nc.comm, (cudaStream_t)0),
                      "ncclBroadcast", rank);
}

int gd_dist_nccl_allgather(void *out, const void *in, int64_t n, int dtype, int rank, int size)
{
    if (nccl_ready(rank, size)) return -1;
    return nccl_check(nc.all_gather(in, out, (size_t)n, nccl_type(dtype), nc.comm, (cudaStream_t)0),
                      "ncclAllGather", rank);
}

void gd_dist_nccl_shutdown(void)
{
    if (nc.ok && nc.comm_destroy) nc.comm_destroy(nc.comm);
    nc.ok = 0;
    if (cr.ok) cr.stream_destroy(cr.stream);
    cr.ok = 0;
}

#else /* built without nccl.h */

static int no_nccl(void)
{
    return gd_dist_fail("libgd_dist.so was built without NCCL (nccl.h was not found): CUDA tensors cannot be "
                        "reduced across ranks; move them to the CPU, or rebuild where the CUDA toolkit has NCCL");
}
int gd_dist_nccl_allreduce(void *buf, int64_t n, int dtype, int op, int deterministic, int rank, int size)
{
    (void)buf; (void)n; (void)dtype; (void)op; (void)deterministic; (void)rank; (void)size;
    return no_nccl();
}
int gd_dist_nccl_broadcast(void *buf, int64_t n, int dtype, int root, int rank, int size)
{
    (void)buf; (void)n; (void)dtype; (void)root; (void)rank; (void)size;
    return no_nccl();
}
int gd_dist_nccl_allgather(void *out, const void *in, int64_t n, int dtype, int rank, int size)
{
    (void)out; (void)in; (void)n; (void)dtype; (void)rank; (void)size;
    return no_nccl();
}
int gd_dist_nccl_iallreduce(void *buf, int64_t n, int dtype, int op, int deterministic, int rank, int size,
                            void **out)
{
    (void)buf; (void)n; (void)dtype; (void)op; (void)deterministic; (void)rank; (void)size; (void)out;
    return no_nccl();
}
int gd_dist_nccl_wait(void *req)
{
    (void)req;
    return no_nccl();
}
void gd_dist_nccl_shutdown(void) {}

#endif
