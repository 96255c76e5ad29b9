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
void gd_dist_nccl_shutdown(void);

/* from dist/mpi.c */
int gd_dist_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int gd_dist_mpi_bcast_bytes(void *p, int n);
int gd_dist_mpi_all_ok(int ok);

#endif
