/*
 * dist_nccl.h: the NCCL half of libgd_dist.so (dist/nccl.c), called by
 * dist/mpi.c for CUDA tensors.  Built with NCCL's header when the Makefile
 * finds nccl.h (GD_DIST_NCCL); libnccl itself is opened with dlopen at the
 * first CUDA collective, so a machine without it still runs CPU collectives.
 */
#ifndef GD_DIST_NCCL_H
#define GD_DIST_NCCL_H

#include <stdint.h>

#ifdef GD_DIST_NCCL
#define GD_DIST_HAS_NCCL 1
#else
#define GD_DIST_HAS_NCCL 0
#endif

int gd_dist_nccl_allreduce(void *buf, int64_t n, int dtype, int op, int deterministic, int rank, int size);
int gd_dist_nccl_broadcast(void *buf, int64_t n, int dtype, int root, int rank, int size);
int gd_dist_nccl_allgather(void *out, const void *in, int64_t n, int dtype, int rank, int size);
/* DataParallel's buckets: the allreduce on a stream of its own, after the
   default stream's kernels so far (an event); *req is waited for by
   gd_dist_nccl_wait, which makes the default stream wait for it and frees it. */
int gd_dist_nccl_iallreduce(void *buf, int64_t n, int dtype, int op, int deterministic, int rank, int size,
                            void **req);
int gd_dist_nccl_wait(void *req);
void gd_dist_nccl_shutdown(void);

/* The first field of every request engine_iallreduce returns: which wait. */
enum { GD_DIST_REQ_MPI = 1, GD_DIST_REQ_NCCL = 2 };

/* from dist/mpi.c */
int gd_dist_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int gd_dist_mpi_bcast_bytes(void *p, int n);
int gd_dist_mpi_all_ok(int ok);
int gd_dist_mpi_rank(void);
const char *gd_dist_mpi_error_string(void);

#endif
