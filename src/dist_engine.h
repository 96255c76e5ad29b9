/*
 * dist_engine.h: the table libgd_dist.so (src/dist/mpi.c) exports to libgd
 * (src/dist.c), as libgd_cuda.so exports gd_cuda_backend.  libgd itself never
 * links MPI or NCCL: it opens libgd_dist.so with dlopen when the process was
 * started by a launcher (mpirun sets OMPI_COMM_WORLD_SIZE, PMI_SIZE, ...) or
 * when gd.dist.init() asks, and calls it through this table.
 *
 * Buffers are contiguous runs of n elements of a gd_dtype on one gd_device
 * (the caller checked that).  Every function returns 0 or -1; on -1,
 * error_string() says what failed (MPI's or NCCL's own message included).
 */
#ifndef GD_DIST_ENGINE_H
#define GD_DIST_ENGINE_H

#include <stddef.h>
#include <stdint.h>

enum { GD_DIST_ABI = 2 };

typedef struct gd_dist_engine {
    int abi;
    /* Joins the process group (MPI_Init_thread, MPI_ERRORS_RETURN, finalised
       at exit); cuda_sync is libgd's gd_synchronize for CUDA, called after a
       GPU collective while the watchdog is armed (NULL: never). */
    int (*init)(int *rank, int *size, int *local_rank, int (*cuda_sync)(void));
    const char *(*error_string)(void);
    /* 1 when built with NCCL's header (CUDA tensors go through NCCL, loaded
       at their first collective); 0 when CUDA tensors cannot be reduced. */
    int (*has_nccl)(void);
    /* Seconds a collective may take before every rank is ended (GD_DIST_TIMEOUT). */
    void (*set_timeout)(double seconds);
    int (*barrier)(void);
    /* In place; op: gd_dist_op.  deterministic: every rank gathers every
       rank's values and sums them in rank order, ((x0 + x1) + x2) + ..., so
       the result is the same bits on every rank, for every rank count and
       message size (MPI's own reduction order may depend on both). */
    int (*allreduce)(void *buf, int64_t n, int dtype, int op, int device, int deterministic);
    int (*broadcast)(void *buf, int64_t n, int dtype, int root, int device);
    /* out holds size * n elements: rank r's n at out + r*n. */
    int (*allgather)(void *out, const void *in, int64_t n, int dtype, int device);
    /* Non-blocking allreduce (DataParallel's buckets under autograd): posts
       the reduction of buf in place and returns its handle in *req; buf must
       not be touched until wait(*req), which completes it (the mean's
       division, the deterministic mode's rank-order sum), frees the handle,
       and runs under the watchdog.  Requests complete in the order the caller
       waits; every rank must post and wait in the same order (MPI's rule for
       collectives).  CUDA buffers: NCCL on a stream of its own, after an
       event on the backend's stream (dist/nccl.c), so that it overlaps the
       kernels queued after the post; wait() makes the backend's stream wait
       for it, and the host too (under the watchdog). */
    int (*iallreduce)(void *buf, int64_t n, int dtype, int op, int device, int deterministic, void **req);
    int (*wait)(void *req);
    /* Prints msg (when not NULL) on standard error and ends every rank with code. */
    void (*abort)(const char *msg, int code);
} gd_dist_engine;

#endif
