/*
 * internal.h: what the C core's files share and the public header does not show.
 */
#ifndef GD_INTERNAL_H
#define GD_INTERNAL_H

#include "gd.h"
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

/* gd_dtype_size inlined in libgd's own code (a call per new tensor and per
   pool lookup was 1% of the d2l quadratic's step); core.c defines the
   exported function as (gd_dtype_size), which the macro leaves alone. */
static inline size_t gd_dtype_size_inline(int dtype)
{
    return dtype == GD_FLOAT32 ? 4 : dtype == GD_FLOAT64 || dtype == GD_INT64 ? 8 : 0;
}
#define gd_dtype_size(dtype) gd_dtype_size_inline(dtype)

struct gd_storage {
    void *data;
    size_t nbytes;
    int device;
    int refcount;
    uint64_t version;   /* autograd: moved by every in-place write (src/autograd.c) */
    int pool_class;     /* -1, or the small-block pool it came from (header and data in one block) */
};

/* initial-exec: libgd is linked into the host (or opened early); the general
   model would call __tls_get_addr on every access */
#define GD_TLS _Thread_local __attribute__((tls_model("initial-exec")))

/* ---- ownership: a tensor, its storage and the tape belong to one thread at a
   time (the Lua state's; libgd's own worker threads run kernels on raw
   pointers and never take or drop a reference).  So reference counts and the
   memory counters need no atomic read-modify-write, whose lock prefix cost
   about as much as the rest of a small tensor's life (the d2l quadratic
   through autograd: 845 k steps/s with them, 915 k without, 2026-12-02).
   They are still read and written with relaxed atomic accesses (plain moves on
   x86-64 and arm64), so that a reader elsewhere (a profiler, a debugger's
   watch) sees whole values.  Returns the new value. */
static inline int32_t gd_owned_add32(int32_t *c, int32_t d)
{
    int32_t v = __atomic_load_n(c, __ATOMIC_RELAXED) + d;
    __atomic_store_n(c, v, __ATOMIC_RELAXED);
    return v;
}
static inline int64_t gd_owned_add64(int64_t *c, int64_t d)
{
    int64_t v = __atomic_load_n(c, __ATOMIC_RELAXED) + d;
    __atomic_store_n(c, v, __ATOMIC_RELAXED);
    return v;
}

/* ---- CPU dispatch: heavy loops also get an AVX2 version, chosen at load time
   (the default x86-64 target has 128-bit vectors only).  AVX2 without FMA, so
   both versions round every operation alike. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GD_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define GD_SIMD_CLONES
#endif

/* ---- errors: every failure goes through gd_fail(), which records the message */
int gd_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define GD_TRY(expr) do { int gd_try_st_ = (expr); if (gd_try_st_ != 0) return gd_try_st_; } while (0)

/* ---- storage */
int gd_storage_new(gd_storage **out, size_t nbytes, int device);
void gd_storage_retain(gd_storage *s);
void gd_storage_release(gd_storage *s);

/* Fails unless every element the geometry reaches lies in the storage. */
int gd_check_extent(const gd_storage *s, int dtype, int64_t offset, int rank, const int64_t *sizes,
                    const int64_t *strides, const char *what);
/* A tensor struct over an existing storage (retained); fails on a geometry
   that reaches past the storage. */
int gd_tensor_wrap(gd_tensor **out, gd_storage *s, int dtype, int64_t offset, int rank,
                   const int64_t *sizes, const int64_t *strides);
/* Clears t's gradient (dropping the reference and the gradient's grad_refs). */
void gd_tensor_drop_grad(gd_tensor *t);
/* Moved by every in-place change of a tensor's geometry (set_): caches of
   layouts (the optimizers') compare it once per use instead of every stride. */
extern uint64_t gd_geometry_epoch;
/* Recomputes count, data and is_contiguous after sizes/strides/offset changed. */
void gd_tensor_refresh(gd_tensor *t);
void gd_contiguous_strides(int rank, const int64_t *sizes, int64_t *strides);

/* ---- argument checks shared by every entry point */
int gd_check_tensor(const gd_tensor *t, const char *what);
int gd_check_dim(const gd_tensor *t, int dim, const char *what);
int gd_check_same_device(const gd_tensor *a, const gd_tensor *b);
/* "2x3", "scalar" for rank 0 */
const char *gd_shape_str(const gd_tensor *t, char *buf, size_t n);
const char *gd_dtype_name(int dtype);
const char *gd_device_name(int device);
bool gd_is_float(int dtype);
/* PyTorch's promotion among float32, float64, int64. */
int gd_promote(int a, int b);

bool gd_views_conflict(const gd_tensor *dst, const gd_tensor *src);
/* Refuses to write into t when two of its indices can name one element (an
   expanded view): an in-place result there would depend on the loop order. */
int gd_check_writable(const gd_tensor *t, const char *what);
/* A geometry every view must have: 0..GD_MAX_DIMS dimensions, sizes >= 0,
   strides >= 0, and an element count that fits in int64 with room to spare. */
int gd_check_geometry(int rank, const int64_t *sizes, const int64_t *strides, const char *what);
/* The largest element count a tensor may have (2^53: exact in a double, so
   the Lua layer sees exact counts and sizes). */
#define GD_MAX_NUMEL ((int64_t)1 << 53)
/* v is a whole number that int64 holds exactly (-2^63 <= v < 2^63). */
bool gd_fits_int64(double v);
/* "value %g does not fit in int64" style check for values written into int64 tensors. */
int gd_check_int64_value(double v, const char *what);

/* Index tensors (class targets, rows to gather): 1 when some value v lies
   outside base <= v < base + n, with *bad its position and *value its value;
   0 when none does (or *st != 0 when a reduction failed).  Device-independent:
   two reductions on the index's device, two scalar readouts; only an error
   looks for the offender on the host. */
int gd_indices_out_of_range(const gd_tensor *idx, int64_t base, int64_t n, int64_t *bad, int64_t *value, int *st);

/* ---- broadcasting */
/* Broadcast shape of a and b into (rank, sizes); error naming both shapes. */
int gd_broadcast_shape(const gd_tensor *a, const gd_tensor *b, int *rank, int64_t *sizes);
/* Strides (in elements) of t seen as broadcast to (rank, sizes); 0 on stretched dims. */
int gd_broadcast_strides(const gd_tensor *t, int rank, const int64_t *sizes, int64_t *strides);

/* ---- the strided iterator: n operands (operand 0 is written) over one shape.
   Dimensions are coalesced; the inner loop gets byte strides. */
enum { GD_ITER_MAX = 4 };
typedef void (*gd_loop_fn)(int64_t n, char **ptrs, const int64_t *strides, const void *ctx);
typedef struct gd_iter {
    int nops, rank;
    int64_t sizes[GD_MAX_DIMS];                 /* innermost last */
    int64_t strides[GD_ITER_MAX][GD_MAX_DIMS];  /* bytes */
    char *base[GD_ITER_MAX];
    int64_t count;
} gd_iter;
/* ops[i] are viewed with the geometry (rank, sizes) using their broadcast strides. */
int gd_iter_init(gd_iter *it, int nops, const gd_tensor *const *ops, int rank, const int64_t *sizes);
/* The iteration of nops contiguous operands of one shape (no broadcasting, no
   overlap but the very same elements): one flat run, built in a few stores
   (only the fields a loop reads).  Inline, as the next two: the per-op path
   of small tensors must cost nanoseconds. */
static inline void gd_iter_flat(gd_iter *it, int nops, const gd_tensor *const *ops)
{
    it->nops = nops;
    it->rank = 1;
    it->count = ops[0]->count;
    it->sizes[0] = ops[0]->count;
    for (int k = 0; k < nops; k++) {
        it->base[k] = (char *)ops[k]->data;
        it->strides[k][0] = ops[k]->scalar_type == GD_FLOAT32 ? 4 : 8; /* (every other dtype has 8 bytes) */
    }
}
/* Runs fn over the whole iteration space, in parallel when it is large. */
void gd_iter_run_all(const gd_iter *it, gd_loop_fn fn, const void *ctx);
static inline bool gd_parallel_worth(int64_t n);
static inline void gd_iter_run(const gd_iter *it, gd_loop_fn fn, const void *ctx)
{
    if (it->rank == 1 && !gd_parallel_worth(it->count)) {
        /* one run (a flat iteration): straight to the loop */
        if (it->count == 0) return;
        /* (spelled out: a loop here compiles to a memcpy call, measured at a
           fifth of a 2-element mul_) */
        const int n = it->nops;
        int64_t inner[GD_ITER_MAX] = {it->strides[0][0], n > 1 ? it->strides[1][0] : 0,
                                      n > 2 ? it->strides[2][0] : 0, n > 3 ? it->strides[3][0] : 0};
        fn(it->count, (char **)it->base, inner, ctx); /* (loops read the pointers, never write them) */
        return;
    }
    gd_iter_run_all(it, fn, ctx);
}

/* ---- matrix products: C (m x n, column-major, ldc) = alpha op(A) op(B) + beta C
   through OpenBLAS, in blocks fixed by the shape, so that any thread count gives
   the same bits (src/cpu/blas.c) */
void gd_cpu_blas_gemm(int dtype, int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha, const void *a,
                      int64_t lda, const void *b, int64_t ldb, double beta, void *c, int64_t ldc);

/* ---- parallelism */
int gd_threads(void);   /* the active count (src/threads.c) */
extern int64_t gd_parallel_threshold_value;
/* (inline: small loops ask it on every call) */
static inline bool gd_parallel_worth(int64_t n) { return n >= gd_parallel_threshold_value && gd_threads() > 1; }

/* ---- unique ids */
int64_t gd_next_uid(void);
/* Tensor headers from a free list (src/core.c): zeroed; gd_tensor_header_free
   keeps a bounded number for reuse. */
gd_tensor *gd_tensor_header_alloc(void);
void gd_tensor_header_free(gd_tensor *t);

/* ---- backends: one function table per device (src/backend.h) */
typedef struct gd_backend gd_backend;
/* The CUDA backend, loaded at run time from libgd_cuda.so; NULL with an error
   set ("no CUDA GPU ...") when it cannot be (src/cuda_loader.c). */
const gd_backend *gd_cuda_backend(void);

/* One CPU float element: the store gd_fill's kernel would make, without the
   iterator and the backend call (a reduction's result, backward's implied
   1); false for any other tensor. */
static inline bool gd_fill1_store(gd_tensor *t, double v)
{
    if (t->count != 1 || t->device_kind != GD_CPU || !t->data) return false;
    if (t->scalar_type == GD_FLOAT64) { *(double *)t->data = v; return true; }
    if (t->scalar_type == GD_FLOAT32) { *(float *)t->data = (float)v; return true; }
    return false;
}

/* gd_fill of t, a one-element tensor just made (gd_empty, or a buffer the
   autograd pool has just handed out and versioned), without gd_fill's checks
   of a tensor that cannot fail them (they were a sixth of a small reduction). */
static inline int gd_fill_fresh1(gd_tensor *t, double v)
{
    return gd_fill1_store(t, v) ? GD_OK : gd_fill(t, v);
}

#endif
