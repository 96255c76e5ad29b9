/*
 * cuda_backend.h: the table of functions that cuda/libgd_cuda.so exports as
 * gd_cuda_backend_v1.  libgd dlopens that library the first time a CUDA tensor
 * is asked for, so that libgd itself neither links nor needs the CUDA runtime.
 *
 * The core does every check, broadcast and type promotion before it calls in
 * here; the backend gets device pointers in a gd_iter (the same description of
 * strided operands the CPU loops get) and runs the same per-element math from
 * src/kernels/.
 */
#ifndef GD_CUDA_BACKEND_H
#define GD_CUDA_BACKEND_H

#include "internal.h"

enum { GD_CUDA_ABI = 2 };

/* ternary kinds: operand 0 is written, operands 1..3 read */
enum {
    GD_TERN_ADD_SCALED = 0, /* o0 = o0 + v * o1          (nops 2) */
    GD_TERN_ADDCMUL,        /* o0 = o0 + v * o1 * o2     (nops 3) */
    GD_TERN_ADDCDIV,        /* o0 = o0 + v * o1 / o2     (nops 3) */
    GD_TERN_WHERE           /* o0 = o1 != 0 ? o2 : o3    (nops 4) */
};

#include "kernels/optim.h"

enum { GD_OPTIM_MAX_SLOTS = 4 }; /* Adan keeps four arrays */

/* one run of adjacent parameter elements: what an optimizer loop sees */
typedef struct gd_optim_segment {
    char *param, *grad;
    char *state[GD_OPTIM_MAX_SLOTS];
    int64_t n;
    int dtype, device;
    int staged;                 /* param or grad not contiguous: go through a copy */
    int param_index;            /* the (first) parameter of the run */
} gd_optim_segment;

struct gd_cuda_backend {
    int abi;
    const char *(*error_string)(void);       /* the last CUDA failure, for messages */
    int (*device_count)(void);
    int (*alloc)(void **p, size_t n);         /* zero-filled, stream-ordered */
    void (*free)(void *p);
    int (*memcpy)(void *dst, const void *src, size_t n, int dst_device, int src_device);
    int (*synchronize)(void);
    /* element-wise over a gd_iter of device pointers (strides in bytes) */
    int (*copy)(const gd_iter *it, int dst_dtype, int src_dtype);
    int (*fill)(const gd_iter *it, int dtype, double value);
    int (*binary)(const gd_iter *it, int dtype, int op);
    int (*unary)(const gd_iter *it, int dtype, int op, double p1, double p2);
    int (*ternary)(const gd_iter *it, int dtype, int kind, double value);
    /* reductions over contiguous data: rows x n, one result per row (rows = 1:
       reduce all); results (double) and arg-indices land in host arrays or, when
       out_device is 1, in device arrays of the tensor's dtype / int64 */
    int (*reduce_rows)(const void *p, int64_t rows, int64_t n, int dtype, int op, double param,
                       void *values, int64_t *indices, int out_device);
    /* c = beta*c + alpha*op(a)@op(b), column-major BLAS convention */
    int (*gemm)(int dtype, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                const void *a, int64_t lda, const void *b, int64_t ldb, double beta, void *c, int64_t ldc);
    int (*random)(void *p, int64_t n, int dtype, int kind, double a, double b, uint64_t seed, uint64_t offset);
    /* one fused optimizer step over the CUDA segments among segs (src/optim.c) */
    int (*optim_step)(const gd_optim_plan *plan, const gd_optim_segment *segs, int nseg);
    /* inclusive cumulative sums of the rows of a contiguous rows x n array (out may be in) */
    int (*cumsum_rows)(void *out, const void *in, int64_t rows, int64_t n, int dtype);
};

#endif
