/*
 * dist/nccl.c: CUDA tensors' collectives through NCCL (see dist_nccl.h).
 *
 * Set-up, as NCCL's documentation has it for MPI programs ("Creating a
 * communicator", example 2): rank 0 calls ncclGetUniqueId, MPI_Bcast gives the
 * id to every rank, each calls ncclCommInitRank(comm, size, id, rank) on its
 * current CUDA device.  One GPU per rank: NCCL >= 2.5 refuses two ranks on
 * one GPU ("Duplicate GPU detected"); pick the GPU per rank with
 * CUDA_VISIBLE_DEVICES (docs/distributed.md).  The collectives run on the
 * CUDA backend's stream, the legacy default stream (cuda/backend.cu), so they
 * are ordered with the kernels before and after them without a host sync.
 */
#include "dist_nccl.h"
#include "../gd.h"

#ifdef GD_DIST_NCCL
#include <dlfcn.h>
#include <nccl.h>
#include <stddef.h>
#include <stdio.h>
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
void gd_dist_nccl_shutdown(void) {}

#endif
