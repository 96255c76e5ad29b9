/*
 * gd.h: the one public header of libgd, the C core of gdlua.
 *
 * A short tour
 * ------------
 * A tensor is a reference-counted *view* (sizes, strides in elements, an offset)
 * over a reference-counted *storage* that lives on one device.  Every function
 * that can fail returns an int status (0 = ok, negative = a gd_status code) and
 * leaves a message for gd_last_error(); none of them aborts or exits on user
 * input.  Functions that make a tensor hand it back through an out-parameter
 * holding one reference, which the caller drops with gd_tensor_release().
 *
 *     gd_tensor *a, *b, *c;
 *     int64_t shape[2] = {2, 3};
 *     gd_empty(&a, 2, shape, GD_FLOAT32, GD_CPU);
 *     gd_fill(a, 1.5);
 *     gd_full_like(&b, a, 2.0);
 *     if (gd_binary(&c, a, b, GD_OP_MUL) != 0) puts(gd_last_error());
 *     gd_tensor_release(a); gd_tensor_release(b); gd_tensor_release(c);
 *
 * Indices are 0-based here; the Lua layer (lua/gd) converts from Lua's 1-based
 * indices.  The Lua layer's FFI declarations are generated from this file by
 * stripping preprocessor lines (scripts/gen-cdef.sh), so everything below the
 * include guard is plain C99 declarations: no macros in declarations, sizes as
 * enum constants; the operation enums are expanded from src/ops.def by the
 * preprocessor first.
 *
 * Sections, each owned by one part of the core:
 *   status and memory ....... src/core.c
 *   tensors and views ........ src/tensor.c, src/view.c
 *   element-wise ............. src/elementwise.c
 *   reductions, matmul ....... src/reduce.c, src/matmul.c
 *   devices .................. src/backend.c (one function table per device,
 *                              src/backend.h: src/cpu/ and cuda/ fill them)
 *   random numbers ........... src/random.c
 *   files .................... src/file.c
 *   optimizers ............... src/optim.c, src/kernels/optim.h
 *   neural-network kernels ... src/nn.c, src/kernels/nn.h
 *   autograd ................. src/autograd.c (the tape), src/autograd_backward.c
 */
#ifndef GD_H
#define GD_H

/* (scripts/gen-cdef.sh runs the preprocessor with GD_CDEF defined, to expand
   the operation lists of src/ops.def; LuaJIT knows these types already) */
#ifndef GD_CDEF
#include <stdint.h>
#include <stddef.h>
#endif

/* ---------------------------------------------------------------- constants */

enum { GD_MAX_DIMS = 8 };

typedef enum gd_dtype { GD_FLOAT32 = 0, GD_FLOAT64 = 1, GD_INT64 = 2, GD_DTYPE_COUNT = 3 } gd_dtype;
typedef enum gd_device { GD_CPU = 0, GD_CUDA = 1, GD_DEVICE_COUNT = 2 } gd_device;

typedef enum gd_status {
    GD_OK = 0,
    GD_EINVAL = -1,     /* a bad argument: shape, dtype, range, NaN ... */
    GD_ENOMEM = -2,     /* an allocation failed */
    GD_EDEVICE = -3,    /* the device is absent or failed */
    GD_EIO = -4,        /* a file could not be read or written */
    GD_EFORMAT = -5,    /* a file is corrupt or of an unsupported kind */
    GD_EFREED = -6      /* the tensor was released with t:free() */
} gd_status;

/* The operation codes, one list for C, Lua and the docs: src/ops.def. */
/* Element-wise binary operations (gd_binary and friends). */
typedef enum gd_binop {
#define GD_BINOP(ID, name, int64, doc) GD_OP_##ID,
#include "ops.def"
    GD_BINOP_COUNT
} gd_binop;

/* Element-wise unary operations (gd_unary); p1, p2 are their parameters:
   CLAMP p1 = min, p2 = max (either may be -inf/+inf); POWS x ^ p1; RPOWS
   p1 ^ x; SOFTPLUS p1 = beta (nonzero), p2 = threshold. */
typedef enum gd_unop {
#define GD_UNOP(ID, name, int64, doc) GD_OP_##ID,
#include "ops.def"
    GD_UNOP_COUNT
} gd_unop;

/* Reductions (gd_reduce_all, gd_reduce_dim). */
typedef enum gd_redop {
#define GD_REDOP(ID, name, doc) GD_RED_##ID,
#include "ops.def"
    GD_REDOP_COUNT
} gd_redop;

/* ------------------------------------------------------------------- types */

typedef struct gd_storage gd_storage;   /* opaque: data, bytes, device, refcount */

/*
 * A tensor.  The Lua layer reads these fields directly (they are its fast path
 * for element access and shape queries) but only C writes them.  The names
 * avoid the Lua method names (shape, dtype, numel ...).
 *
 * The order is by cache line (headers are 64-byte-aligned blocks, src/core.c):
 * the first line holds all that a release reads, so that releasing a batch of
 * cold dead temporaries touches one line each; the first three hold all of a
 * tensor of up to 4 dimensions, the last only strides[4..7].  Entries of sizes
 * and strides from rank on are 0.
 */
typedef struct gd_tensor {
    void *data;                       /* address of element (0,...,0) */
    int64_t count;                    /* number of elements */
    int64_t uid;                      /* unique for the process lifetime */
    struct gd_tensor *gradient;       /* NULL or a tensor of the same shape, dtype, device */
    gd_storage *storage;
    int64_t grad_node;                /* autograd: 0 (a leaf), 1 + the tape record that made this tensor, or -1
                                         (made by a record that a backward without retain_graph consumed) */
    int32_t refcount;
    int32_t lua_grad;                 /* the Lua layer may hold a Lua object of .grad for it (gd_tensor_mark_lua_grad) */
    int32_t rank;                     /* number of dimensions, 0..GD_MAX_DIMS */
    int32_t scalar_type;              /* gd_dtype */
    int64_t storage_offset;           /* in elements from the storage base */
    int32_t device_kind;              /* gd_device */
    int32_t is_contiguous;            /* C order, no gaps */
    int32_t is_freed;                 /* storage dropped by gd_tensor_free_data */
    int32_t grad_refs;                /* how many tensors have this one as their gradient */
    int32_t requires_grad;            /* autograd: a leaf that asked for gradients, or a recorded op's output */
    int32_t grad_received;            /* autograd: 1 once a backward added to .grad (since the last zero_grad) */
    int64_t sizes[GD_MAX_DIMS];
    int64_t strides[GD_MAX_DIMS];     /* in elements */
} gd_tensor;

/* ---------------------------------------------------- status and memory */

/* The message of the last failure in this thread ("" if none). */
const char *gd_last_error(void);
/* Sets the message (printf-style is internal; this one takes a plain string). */
void gd_set_error_message(const char *msg);
const char *gd_version(void);
/* Seconds on a monotonic clock (differences are elapsed wall time). */
double gd_seconds(void);
/* Ctrl-C for long loops (gd.train): gd_interrupt_catch() installs a SIGINT
   handler that only sets a flag, which gd_interrupt_pending() reads (the loop
   stops at a clean point); the handler then puts the previous disposition
   back, so that a second Ctrl-C does what it did before (the host's
   "interrupted!", or the end of the process).  gd_interrupt_release() restores
   the previous handler and clears the flag.  Calls nest; only the outermost
   pair installs and restores. */
int gd_interrupt_catch(void);
int gd_interrupt_pending(void);
void gd_interrupt_release(void);
/* Bytes of tensor storage currently allocated, per device. */
int64_t gd_mem_live_bytes(int device);
/* Bytes of freed large CPU blocks kept for reuse (at most 512 MB: glibc maps
   blocks above 32 MB afresh each time, a page fault per 4 KB), and giving
   them back to the system (torch.cuda.empty_cache's role). */
int64_t gd_mem_kept_bytes(void);
void gd_mem_release_kept(void);
/* 1 when enough storage was allocated since the last call that returned 1 to
   make a garbage-collection cycle worthwhile (the Lua GC cannot see C memory):
   more than the collection floor and more than what survived the previous
   collection.  The floor is 64 MB, or more when set: a collection's cost grows
   with the Lua heap, so the Lua layer raises the floor with it. */
int gd_mem_collect_advised(void);
void gd_mem_set_collect_floor(int64_t bytes);
/* Nonzero when gd_mem_collect_advised() may advise a collection (set by an
   allocation after which its rule held; it advises only when the rule still
   holds): a flag a caller reads after each allocation, cheaper than the call. */
const int *gd_mem_collect_hint(void);
/* OpenMP threads used by large loops (0 or less: one per processor; at most
   GD_MAX_THREADS). */
enum { GD_MAX_THREADS = 256 };
void gd_set_num_threads(int n);
int gd_get_num_threads(void);
/* The adaptive thread count (src/threads.c): with it on (the default; off with
   GD_ADAPTIVE_THREADS=0), the count set above is a limit and the loops use one
   thread fewer whenever training iterations run faster so (another process on
   a core).  The active count is what loops and OpenBLAS use now. */
void gd_set_adaptive_threads(int on);
int gd_get_adaptive_threads(void);
int gd_get_active_threads(void);
/* One training iteration's boundary: `who` names the loop (gd_optim_step passes
   its optimizer's id), `now` is gd_seconds().  For specs: a synthetic clock. */
void gd_threads_iteration(uint64_t who, double now);
/* Elements below which loops stay single-threaded. */
void gd_set_parallel_threshold(int64_t n);
int64_t gd_get_parallel_threshold(void);
/* 1 when a CUDA device can be used; otherwise 0 and gd_last_error() says why. */
int gd_cuda_available(void);
/* Waits for queued device work (no-op on CPU). */
int gd_synchronize(int device);
/* Host<->device copies made so far in this process: scalar = 0 counts copies
   of tensor data (t:to(), t:cpu(), gd_copy across devices, bytes in and
   out); scalar = 1 counts single values (an element read or written, a
   reduction's or a loss's result, the bounds an index check reads).  A
   training step on a GPU makes no copy of the first kind. */
int64_t gd_transfer_count(int scalar);
size_t gd_dtype_size(int dtype);

/* ------------------------------------------------------ tensors and views */

/* A new tensor with uninitialised (CPU) or zeroed (CUDA) contents. */
int gd_empty(gd_tensor **out, int rank, const int64_t *sizes, int dtype, int device);
int gd_empty_like(gd_tensor **out, const gd_tensor *t);
int gd_full_like(gd_tensor **out, const gd_tensor *t, double value);
void gd_tensor_retain(gd_tensor *t);
/* Drops one reference; frees the struct (and storage, if last) at zero. NULL ok. */
void gd_tensor_release(gd_tensor *t);
/* Releases one reference to each non-NULL ptrs[i] and clears it: the Lua
   layer's release of a generation of dead temporaries, whose headers went cold
   a collection cycle ago (the next ones are prefetched while one is
   released).  The uids of those marked lua_grad go to uids[]; returns how
   many. */
int64_t gd_tensor_release_batch(gd_tensor **ptrs, int64_t n, int64_t *uids);
/* Sets t->lua_grad: the Lua layer keeps a Lua object of t's .grad under t's uid. */
void gd_tensor_mark_lua_grad(gd_tensor *t);
/* t:free(): drops the storage now; the struct stays valid (and inert). */
void gd_tensor_free_data(gd_tensor *t);
/* Sets (retaining) or clears (g = NULL) t's gradient; checks shape/dtype/device. */
int gd_tensor_set_grad(gd_tensor *t, gd_tensor *g);
/* 1 when a and b share storage. */
int gd_same_storage(const gd_tensor *a, const gd_tensor *b);
/* Looks for two of the n tensors that share an element of memory, where at
   least one of the two is among the first nwrite (written; the rest are only
   read).  Returns 1 with their 0-based indices (*first < *second), 0 when
   none do, or a negative status.  Interleaved strided views are compared
   element by element (up to 2^24 elements; past that, intersecting extents
   count as shared). */
int gd_find_overlap(gd_tensor *const *ts, int n, int nwrite, int *first, int *second);

/* Filling and copying (copy broadcasts src to dst's shape and converts dtype,
   across devices too). */
int gd_fill(gd_tensor *t, double value);
int gd_copy(gd_tensor *dst, const gd_tensor *src);
/* t[i] = start + i*step over the flat C-order index i. */
int gd_fill_range(gd_tensor *t, double start, double step);
/* Copies raw little-endian C-order bytes into a contiguous CPU/CUDA tensor, and out. */
int gd_copy_from_bytes(gd_tensor *t, const void *bytes, size_t nbytes);
int gd_copy_to_bytes(const gd_tensor *t, void *bytes, size_t nbytes);

/* One element, by 0-based index (any device). */
int gd_get(const gd_tensor *t, const int64_t *index, double *out);
int gd_set(gd_tensor *t, const int64_t *index, double value);

/* Views share t's storage; sizes may contain one -1 in view/reshape. */
int gd_view(gd_tensor **out, const gd_tensor *t, int rank, const int64_t *sizes);
int gd_reshape(gd_tensor **out, const gd_tensor *t, int rank, const int64_t *sizes);
int gd_transpose(gd_tensor **out, const gd_tensor *t, int dim0, int dim1);
int gd_permute(gd_tensor **out, const gd_tensor *t, int rank, const int *dims);
int gd_narrow(gd_tensor **out, const gd_tensor *t, int dim, int64_t start, int64_t length);
int gd_select(gd_tensor **out, const gd_tensor *t, int dim, int64_t index);
int gd_expand(gd_tensor **out, const gd_tensor *t, int rank, const int64_t *sizes);
int gd_unsqueeze(gd_tensor **out, const gd_tensor *t, int dim);
/* dim < 0: every size-1 dimension. */
int gd_squeeze(gd_tensor **out, const gd_tensor *t, int dim);
/* A view of t itself when contiguous, else a contiguous copy. */
int gd_contiguous(gd_tensor **out, const gd_tensor *t);
int gd_clone(gd_tensor **out, const gd_tensor *t);
/* A copy with another dtype and/or device (a new view of t when both match). */
int gd_to(gd_tensor **out, const gd_tensor *t, int dtype, int device);
/* Makes t a view of src's storage with the given geometry (Torch7's set_).
   A tensor that is another's gradient keeps its shape (the other relies on it). */
int gd_set_storage(gd_tensor *t, const gd_tensor *src, int64_t offset, int rank,
                   const int64_t *sizes, const int64_t *strides);
/* gd_set_storage that also gives t src's dtype (PyTorch's `t.data = src`, as
   module.double() does): t keeps its identity; a gradient of the old dtype is
   dropped.  A tensor that is another's gradient keeps its dtype. */
int gd_set_data(gd_tensor *t, const gd_tensor *src, int64_t offset, int rank,
                const int64_t *sizes, const int64_t *strides);
/* Gathers rows: out[i, ...] = t[index[i], ...] along dim (index: int64, 0-based). */
int gd_index_select(gd_tensor **out, const gd_tensor *t, int dim, const gd_tensor *index);
/* Concatenates n tensors along dim. */
int gd_cat(gd_tensor **out, gd_tensor *const *ts, int n, int dim);

/* ------------------------------------------------------------ element-wise */

/* out = a op b with NumPy broadcasting and PyTorch's type promotion. */
int gd_binary(gd_tensor **out, const gd_tensor *a, const gd_tensor *b, int op);
/* a = a op b in place; b broadcasts to a's shape; the result keeps a's dtype. */
int gd_binary_(gd_tensor *a, const gd_tensor *b, int op);
/* out = a op s, or s op a when scalar_first. */
int gd_binary_scalar(gd_tensor **out, const gd_tensor *a, double s, int op, int scalar_first);
int gd_binary_scalar_(gd_tensor *a, double s, int op);
int gd_unary(gd_tensor **out, const gd_tensor *a, int op, double p1, double p2);
int gd_unary_(gd_tensor *a, int op, double p1, double p2);
/* t += alpha * x (x broadcasts) */
int gd_add_scaled_(gd_tensor *t, const gd_tensor *x, double alpha);
/* t += value * a * b,  t += value * a / b */
int gd_addcmul_(gd_tensor *t, const gd_tensor *a, const gd_tensor *b, double value);
int gd_addcdiv_(gd_tensor *t, const gd_tensor *a, const gd_tensor *b, double value);
/* out = cond ? a : b, element-wise with broadcasting (cond nonzero = true). */
int gd_where(gd_tensor **out, const gd_tensor *cond, const gd_tensor *a, const gd_tensor *b);
/* 1 when a and b have the same shape and every |a-b| <= atol + rtol*|b|. */
int gd_allclose(const gd_tensor *a, const gd_tensor *b, double rtol, double atol, int *result);

/* ------------------------------------------------------ reductions, matmul */

/* Reduces every element to one number; p is the norm's order (or the variance's
   correction).  Results do not depend on the thread count. */
int gd_reduce_all(const gd_tensor *t, int op, double p, double *out);
/* Reduces along dim.  Arg-reductions write int64 0-based indices to *values;
   MAX/MIN also write them to *indices when indices is not NULL. */
int gd_reduce_dim(gd_tensor **values, gd_tensor **indices, const gd_tensor *t, int dim,
                  int op, int keepdim, double p);
/* Matrix product with NumPy's matmul rules for 1-D and 2-D operands, and batched
   3-D (b x n x k) @ (b x k x m); float32/float64 through BLAS. */
int gd_matmul(gd_tensor **out, const gd_tensor *a, const gd_tensor *b);
/* c = beta*c + alpha * op(a) @ op(b), 2-D only; trans: 1 = transposed. */
int gd_gemm(gd_tensor *c, const gd_tensor *a, int trans_a, const gd_tensor *b, int trans_b,
            double alpha, double beta);

/* ------------------------------------------ scans, diagonals, devices */

/* Cumulative sum along dim (torch.cumsum): out has t's shape and dtype.  Each
   line is summed in order, in double (int64: exactly, wrapping), so results do
   not depend on the thread count.  gd_cumsum_ writes into t itself. */
int gd_cumsum(gd_tensor **out, const gd_tensor *t, int dim);
int gd_cumsum_(gd_tensor *t, int dim);
/* The offset-th diagonal of a 2-D tensor as a 1-D view (torch.diagonal):
   offset > 0 above the main diagonal, < 0 below; empty when out of range. */
int gd_diagonal(gd_tensor **out, const gd_tensor *t, int64_t offset);
/* The number of CUDA devices (0 without a GPU; gd_last_error() says why). */
int gd_cuda_device_count(void);

/* ---------------------------------------------------------- random numbers */

/* Philox 4x32-10: element i of a draw depends only on (seed, offset, i), so the
   same seed gives the same numbers on any device and any thread count. */
void gd_manual_seed(uint64_t seed);
uint64_t gd_initial_seed(void);
/* The global generator's (seed, offset); settable for checkpointing. */
void gd_rng_get_state(uint64_t *seed, uint64_t *offset);
void gd_rng_set_state(uint64_t seed, uint64_t offset);
/* kind 0: uniform [a, b); kind 1: normal (mean a, std b).  From the global
   generator (advancing it) ... */
int gd_random_(gd_tensor *t, int kind, double a, double b);
/* ... or from an explicit (seed, offset) without touching the global one. */
int gd_random_seeded_(gd_tensor *t, int kind, double a, double b, uint64_t seed, uint64_t offset);
/* A random permutation of 0..n-1 into an int64 tensor of n elements. */
int gd_randperm_(gd_tensor *t, uint64_t seed, uint64_t offset);
/* Raw Philox block: four 32-bit words for (seed, counter), with gdlua's
   packing: counter words {low, high, 0, 0} of counter, key words {low, high}
   of seed. */
void gd_philox4x32(uint64_t seed, uint64_t counter, uint32_t *out4);
/* The bare Philox 4x32-10 bijection on Random123's words (for known-answer tests). */
void gd_philox4x32_words(const uint32_t *ctr4, const uint32_t *key2, uint32_t *out4);

/* --------------------------------------------------------------- files */

/* Atomic file writing: bytes go through a 64 KB buffer to a temporary file
   next to the target (".<name>.<crc>.<pid>-<n>.gdtmp", flock'd while its
   writer lives), then fsync and rename.  Opening removes the temporary files
   of the same path that no live writer holds (left by killed saves).  A
   symlink is written through (its target is replaced, the link kept); an
   existing file's mode and owner are kept. */
typedef struct gd_writer gd_writer;
int gd_writer_open(gd_writer **w, const char *path);
int gd_writer_write(gd_writer *w, const void *bytes, size_t n);
/* Writes a tensor's elements as little-endian C-order bytes (any device/layout). */
int gd_writer_write_tensor(gd_writer *w, const gd_tensor *t);
/* CRC-32 (zlib's) of everything written so far. */
uint32_t gd_writer_crc32(const gd_writer *w);
/* Finishes: fsync, rename over path, fsync the directory.  Frees w. */
int gd_writer_commit(gd_writer *w);
/* Abandons: removes the temporary file.  Frees w.  NULL ok. */
void gd_writer_abort(gd_writer *w);

/* Reads a whole file (plain, or gzip-compressed when gunzip is 1). */
typedef struct gd_buffer { uint8_t *bytes; size_t size; } gd_buffer;
int gd_read_file(gd_buffer *out, const char *path, int gunzip);
void gd_buffer_free(gd_buffer *b);
uint32_t gd_crc32(uint32_t crc, const void *bytes, size_t n);
/* Inflates raw deflate data (a zip member of method 8, as in NumPy's .npz)
   into exactly dst_len bytes; anything else is GD_EFORMAT. */
int gd_inflate_raw(void *dst, size_t dst_len, const void *src, size_t src_len);
/* Parses delimited numeric text into a new rows x cols tensor of dtype
   (GD_FLOAT32, GD_FLOAT64 or GD_INT64, each parsed exactly in that type).
   Lines end at LF, CR or CRLF; skips `skip_rows` lines; on a malformed line,
   an out-of-range number or a NUL byte reports the line and field. */
int gd_parse_delimited(gd_tensor **out, const char *text, size_t n, char sep, int skip_rows, int dtype);

/* -------------------------------------------------------------- optimizers */

/*
 * One C optimizer updates a list of parameters (one parameter group) in one
 * fused pass per step: each parameter, gradient and state element is read and
 * written once.  Parameters that lie next to each other in one storage (a
 * module's arena) are merged into one run, so a whole network is one loop.
 * The per-element math, for every framework's convention, is in
 * src/kernels/optim.h.
 */
typedef enum gd_optim_kind {
    GD_OPTIM_SGD = 0, GD_OPTIM_RMSPROP, GD_OPTIM_ADADELTA, GD_OPTIM_ADAM, GD_OPTIM_SMORMS3,
    GD_OPTIM_ADAMAX, GD_OPTIM_ASGD, GD_OPTIM_NADAM, GD_OPTIM_RADAM, GD_OPTIM_RPROP,
    GD_OPTIM_LION, GD_OPTIM_ADABELIEF, GD_OPTIM_ADAN, GD_OPTIM_SF_ADAMW, GD_OPTIM_SF_SGD,
    GD_OPTIM_KIND_COUNT
} gd_optim_kind;

/* Where the learning rate enters the momentum buffer (RMSProp family). */
typedef enum gd_momentum_style {
    GD_MOMENTUM_PYTORCH = 0,    /* buf = mu*buf + g/d; p -= lr*buf */
    GD_MOMENTUM_LR_INSIDE = 1   /* buf = mu*buf + lr*g/d; p -= buf (nesterov: p -= lr*g/d + mu*buf) */
} gd_momentum_style;

/* Hyperparameters under canonical (PyTorch) names plus the switches that
   select another framework's convention.  The Lua layer validates them when
   they are set; the step reads them as they are. */
typedef struct gd_optim_hyper {
    double lr;
    double lr_decay;                 /* AdaGrad: lr / (1 + (t-1)*lr_decay) */
    double alpha;                    /* RMSProp: weight of the old square average */
    double beta1, beta2;             /* Adam */
    double rho;                      /* AdaDelta */
    double eps;
    double weight_decay;             /* L2: added to the gradient */
    double decoupled_weight_decay;   /* p -= lr*this*p before the update (AdamW, Keras) */
    double momentum;
    double dampening;                /* SGD */
    double grad_scale;               /* gradient multiplier (MXNet's rescale_grad), normally 1 */
    double clip_gradient;            /* |g| limit (MXNet), <= 0: off */
    double clip_weights;             /* RMSProp: |p| limit after the update (MXNet), <= 0: off */
    double state_init;               /* starting square average / accumulator */
    int32_t accumulate;              /* 1: a running sum of g^2 (AdaGrad) */
    int32_t centered;
    int32_t eps_inside;              /* sqrt(v + eps) instead of sqrt(v) + eps */
    int32_t momentum_style;          /* gd_momentum_style */
    int32_t nesterov;
    int32_t maximize;
    int32_t amsgrad;
    int32_t bias_correction;         /* Optax's RMSProp bias correction */
    int32_t adam_step_bias;          /* Torch7's Adam: bias corrections in the step size, eps on sqrt(v),
                                        lr / (1 + (t-1)*lr_decay) */
    int32_t memory_clipped;          /* SMORMS3: memory decays by min(ratio, lr) (ensmallen) */
    int32_t generation;              /* changed by whoever changes a field: a step
                                        recomputes its coefficients only when it differs */
    /* the rest of torch.optim (PyTorch 1.13's names) */
    double lambd, t0;                /* ASGD: decay term, the step averaging starts after
                                        (ASGD's power of the eta update is `alpha`) */
    double momentum_decay;           /* NAdam: mu_t = beta1*(1 - 0.5*0.96^(t*momentum_decay)) */
    double etaminus, etaplus;        /* Rprop: step size factors (etas) */
    double step_size_min, step_size_max; /* Rprop: step_sizes */
    /* what papers compare against (each reference implementation's names) */
    double beta3;                    /* Adan: the second-moment beta (betas[3]) */
    double warmup_steps;             /* Schedule-Free: linear warmup length */
    double sf_r, weight_lr_power;    /* Schedule-Free: the average's weights (k+1)^r * lr_max^power */
    int32_t fixed_decay;             /* AdaBelief: p *= 1 - wd (not lr*wd) */
    int32_t rectify;                 /* AdaBelief: RAdam's rectification */
    int32_t degenerated_to_sgd;      /* AdaBelief: an SGD step while N_sma < 5 */
    int32_t no_prox;                 /* Adan: p *= 1 - lr*wd instead of p /= 1 + lr*wd */
    int32_t nadam_fixed_product;     /* NAdam: PyTorch 2's mu_product * mu_next (1.13 had mu_product*mu*mu_next) */
} gd_optim_hyper;

typedef struct gd_optim gd_optim;

/* Retains the n parameters (float32/float64, any device); fails on a
   parameter listed twice or two that share memory (a step checks that again,
   with the gradients, whenever they change).  The state is allocated when a step first needs it,
   filled with hyper->state_init (square averages) or 0. */
int gd_optim_new(gd_optim **out, int kind, gd_tensor *const *params, int n, const gd_optim_hyper *hyper);
void gd_optim_free(gd_optim *o);
/* One fused step with each parameter's own gradient (t.grad).  Every
   parameter needs a gradient of its shape, dtype and device; when one is
   missing or wrong nothing is modified. */
int gd_optim_step(gd_optim *o, const gd_optim_hyper *hyper);
/* One fused step with the gradients handed in (autograd's): grads[i] is
   parameter i's gradient (its shape, dtype and device), or NULL: parameter i
   got no gradient this step and is skipped entirely (no weight decay, no
   momentum, no state change; its own step count stays, so its next bias
   correction is the one it would have had), as PyTorch skips a parameter
   whose .grad is None.  grads = NULL is gd_optim_step.  The optimizers with
   one scalar state for all parameters (ASGD, NAdam) refuse a skip. */
int gd_optim_step_grads(gd_optim *o, const gd_optim_hyper *hyper, gd_tensor *const *grads);
/* Zeroes every parameter's gradient. */
int gd_optim_zero_grad(gd_optim *o);
int64_t gd_optim_get_step(const gd_optim *o);
/* Fails on a negative step.  Sets every parameter's own step count too. */
int gd_optim_set_step(gd_optim *o, int64_t step);
/* Parameter param's own step count (gd_optim_step_grads: a skipped parameter
   lags the optimizer's count, as in PyTorch, which keeps one per parameter);
   -1 on a bad optimizer or index.  Setting one (load_state_dict) fails on a
   negative count or one above the optimizer's. */
int64_t gd_optim_get_param_step(const gd_optim *o, int param);
int gd_optim_set_param_step(gd_optim *o, int param, int64_t step);
/* 0 when parameter param's state can be read and written: it still has the
   element count its state was laid out for (a parameter resized before the
   optimizer has any state is laid out anew).  gd_optim_state checks it too. */
int gd_optim_check_state(gd_optim *o, int param);
/* Number of state slots of a kind; a slot's state for parameter i as a view
   (it is allocated, from hyper, if the optimizer has not needed it yet). */
int gd_optim_num_slots(int kind);
int gd_optim_slot_allocated(const gd_optim *o, int slot);
int gd_optim_state(gd_tensor **out, gd_optim *o, int param, int slot, const gd_optim_hyper *hyper);
/* Per-group scalar state that PyTorch keeps as 0-d tensors (ASGD: 0 = eta,
   1 = mu; NAdam: 0 = mu_product), in double.  Before the first step they hold
   their initial values (eta = the lr of the first step).  Setting one marks
   the scalars as loaded (load_state_dict). */
int gd_optim_num_scalars(int kind);
int gd_optim_get_scalar(const gd_optim *o, int which, const gd_optim_hyper *hyper, double *out);
int gd_optim_set_scalar(gd_optim *o, int which, double value);
/* Clips the gradients of n tensors so that their joint p-norm is at most
   max_norm (PyTorch's clip_grad_norm_); *total gets the norm before clipping. */
int gd_clip_grad_norm(gd_tensor *const *grads, int n, double max_norm, double p, double *total);

/* ------------------------------------------------------------- benchmarks */

/* The roofline reference of `make bench`: reads the nro + nrw float32 arrays
   and writes the nrw ones once each (w += sum of reads), threaded like the
   optimizer loops (src/bench.c). */
int gd_bench_stream(gd_tensor *const *rw, int nrw, gd_tensor *const *ro, int nro);

/* NumPy's legacy RandomState (MT19937) for gd.bench's fixed-seed problems, the
   same numbers as numpy.random.RandomState(seed) bit for bit (src/mt19937.c).
   A plain struct the caller owns: seed it, then draw. */
typedef struct gd_mt19937 { uint32_t key[624]; int pos; int has_gauss; double gauss; } gd_mt19937;
void gd_mt19937_seed(gd_mt19937 *s, uint32_t seed);
uint32_t gd_mt19937_int32(gd_mt19937 *s);           /* genrand_int32 */
double gd_mt19937_random(gd_mt19937 *s);            /* random_sample: [0, 1), 53 bits */
double gd_mt19937_gauss(gd_mt19937 *s);             /* standard_normal (legacy polar) */
/* out[i] = (float)(mean + sd * standard_normal()), i < n: normal(mean, sd, n).astype(float32) */
void gd_mt19937_normal_f32(gd_mt19937 *s, float *out, int64_t n, double mean, double sd);

/* ------------------------------------------------- neural-network kernels */

/*
 * The fused forward/backward kernels of gd.nn (src/nn.c checks; each
 * backend's loops: src/cpu/nn.c, cuda/nn.cu; math in src/kernels/nn.h).
 * Outputs are preallocated by the caller, which reuses them from step to
 * step; nothing here allocates for contiguous float32/float64 operands, on
 * any device.  Other layouts go through contiguous copies on the operands'
 * own device (never through the host).  Matrices are rows x features;
 * "rows" below is a batch.  Gradients written "+=" accumulate; every other
 * output is overwritten.
 */
typedef enum gd_nn_activation_kind {
    GD_NN_RELU = 0, GD_NN_TANH = 1, GD_NN_SIGMOID = 2, GD_NN_ACTIVATION_COUNT = 3
} gd_nn_activation_kind;

typedef enum gd_nn_reduction {
    GD_NN_MEAN = 0, GD_NN_SUM = 1, GD_NN_NONE = 2, GD_NN_REDUCTION_COUNT = 3
} gd_nn_reduction;

/* y = x @ w^T + b: x (rows x in), w (out x in), b (out) or NULL, y (rows x out). */
int gd_nn_linear_forward(gd_tensor *y, const gd_tensor *x, const gd_tensor *w, const gd_tensor *b);
/* gw += gy^T @ x, gb += column sums of gy, gx = gy @ w; any of gx, gw, gb may be NULL. */
int gd_nn_linear_backward(gd_tensor *gx, gd_tensor *gw, gd_tensor *gb, const gd_tensor *gy,
                          const gd_tensor *x, const gd_tensor *w);
/* y = act(x), same shape; gx = gy * act'(x), computed from the forward output y. */
int gd_nn_activation(gd_tensor *y, const gd_tensor *x, int kind);
int gd_nn_activation_backward(gd_tensor *gx, const gd_tensor *gy, const gd_tensor *y, int kind);
/* Softmax (log_ = 0) or log-softmax (log_ = 1) over the last dimension, and its
   backward from the forward output y. */
int gd_nn_softmax(gd_tensor *y, const gd_tensor *x, int log_);
int gd_nn_softmax_backward(gd_tensor *gx, const gd_tensor *gy, const gd_tensor *y, int log_);
/* Cross-entropy of logits (rows x classes) against int64 class indices
   target (rows) counted from index_base (1 for Lua's 1-based classes): fused
   log-softmax + negative log-likelihood.  *loss = scale * (the mean or the sum
   of the row losses; their sum for GD_NN_NONE); losses (rows), when not NULL,
   gets scale * each row's loss; grad (rows x classes), when not NULL, gets the
   gradient of *loss with respect to the logits. */
int gd_nn_cross_entropy(double *loss, gd_tensor *losses, gd_tensor *grad, const gd_tensor *logits,
                        const gd_tensor *target, int64_t index_base, int reduction, double scale);
/* Mean squared error over pred and target, which must have one element count
   (matching shapes is the caller's business): the same outputs as
   gd_nn_cross_entropy, with losses and grad shaped like pred. */
int gd_nn_mse(double *loss, gd_tensor *losses, gd_tensor *grad, const gd_tensor *pred,
              const gd_tensor *target, int reduction, double scale);
/* Inverted dropout: mask holds uniform [0, 1) draws on entry and 0 or
   1/(1-p) on return; y = x * mask.  Backward: gx = gy * mask. */
int gd_nn_dropout(gd_tensor *y, gd_tensor *mask, const gd_tensor *x, double p);
int gd_nn_dropout_backward(gd_tensor *gx, const gd_tensor *gy, const gd_tensor *mask);
/* out[i, ...] = src[index[start + i] - index_base, ...] for every row i of out
   (a data loader's shuffled batch, gathered into a reused buffer). */
int gd_nn_gather_rows(gd_tensor *out, const gd_tensor *src, const gd_tensor *index, int64_t start,
                      int64_t index_base);
/* *correct = the number of rows whose largest logit (the first, on ties) is at
   the target class (counted from index_base). */
int gd_nn_count_correct(int64_t *correct, const gd_tensor *logits, const gd_tensor *target,
                        int64_t index_base);
/* Training-loop helper: 1 when the file descriptor is a terminal (progress
   bars draw only there). */
int gd_nn_isatty(int fd);

/* ------------------------------------------ convolution and pooling (issue 14) */

/*
 * gd.nn's Conv1d/Conv2d and 2-D pooling (src/nn_conv.c checks, then the
 * device's backend: src/cpu/conv.c loops, cuda/conv.cu kernels; every operand
 * on the input's device).  PyTorch's layout:
 * x is N x C x H x W, a weight O x C/groups x KH x KW.  One call per direction,
 * so an autograd node can reuse them.
 *
 * A conv geometry is int64 {SH, SW, PH, PW, DH, DW, groups} (stride, padding,
 * dilation).  gd_nn_conv2d_shape checks x against w and writes {N, O, OH, OW,
 * workspace elements}; the workspace `col` (the im2col matrix of one sample,
 * any shape, contiguous, the input's dtype) is kept by the caller.  Forward
 * overwrites y; backward accumulates into gw and gb (+=) and overwrites gx;
 * any of the three may be NULL.
 */
int gd_nn_conv2d_shape(int64_t *out5, const gd_tensor *x, const gd_tensor *w, const int64_t *geom);
int gd_nn_conv2d_forward(gd_tensor *y, gd_tensor *col, const gd_tensor *x, const gd_tensor *w,
                         const gd_tensor *b, const int64_t *geom);
int gd_nn_conv2d_backward(gd_tensor *gx, gd_tensor *gw, gd_tensor *gb, gd_tensor *col, const gd_tensor *gy,
                          const gd_tensor *x, const gd_tensor *w, const int64_t *geom);

/* ConvTranspose2d (gd.nn.ConvTranspose2d; src/nn_conv.c): the adjoint of
   conv2d, through col2im + gemm.  geom = int64 {SH, SW, PH, PW, DH, DW,
   groups, OPH, OPW} (output_padding last); w is in x out/groups x KH x KW;
   out5 = {N, O, OH, OW, workspace elements} with OH = (H - 1) SH - 2 PH +
   DH (KH - 1) + OPH + 1.  The same conventions as conv2d otherwise. */
int gd_nn_conv_transpose2d_shape(int64_t *out5, const gd_tensor *x, const gd_tensor *w, const int64_t *geom);
int gd_nn_conv_transpose2d_forward(gd_tensor *y, gd_tensor *col, const gd_tensor *x, const gd_tensor *w,
                                   const gd_tensor *b, const int64_t *geom);
int gd_nn_conv_transpose2d_backward(gd_tensor *gx, gd_tensor *gw, gd_tensor *gb, gd_tensor *col,
                                    const gd_tensor *gy, const gd_tensor *x, const gd_tensor *w,
                                    const int64_t *geom);

typedef enum gd_nn_pool_kind {
    GD_NN_MAXPOOL = 0, GD_NN_AVGPOOL = 1, GD_NN_ADAPTIVE_AVGPOOL = 2, GD_NN_POOL_COUNT = 3
} gd_nn_pool_kind;
/* A pool geometry is int64 {KH, KW, SH, SW, PH, PW, DH, DW, ceil_mode,
   count_include_pad, divisor_override (0: none)}; for the adaptive pool
   {OH, OW}.  out4 = {N, C, OH, OW}.  idx (max pool only, int64, the output's
   shape) records each output's argmax for the backward, which overwrites gx. */
int gd_nn_pool2d_shape(int64_t *out4, const gd_tensor *x, const int64_t *geom, int kind);
int gd_nn_pool2d_forward(gd_tensor *y, gd_tensor *idx, const gd_tensor *x, const int64_t *geom, int kind);
int gd_nn_pool2d_backward(gd_tensor *gx, const gd_tensor *gy, const gd_tensor *idx, const gd_tensor *x,
                          const int64_t *geom, int kind);

/* Batch normalisation (gd.nn.BatchNorm1d/2d; src/nn_norm.c): x is N x C
   [x L | x H x W], contiguous, CPU.  training: normalise with the batch's
   biased variance and move the running statistics (when given) by momentum,
   the running variance by the unbiased one (PyTorch); otherwise normalise with
   the running statistics (the batch's when they are NULL).  save_mean and
   save_invstd (C each) keep what the backward needs; batch_stats says which
   statistics the forward used.  w, b (C) may be NULL (affine = false). */
int gd_nn_batchnorm_forward(gd_tensor *y, gd_tensor *save_mean, gd_tensor *save_invstd, gd_tensor *rmean,
                            gd_tensor *rvar, const gd_tensor *x, const gd_tensor *w, const gd_tensor *b,
                            double momentum, double eps, int training);
int gd_nn_batchnorm_backward(gd_tensor *gx, gd_tensor *gw, gd_tensor *gb, const gd_tensor *gy, const gd_tensor *x,
                             const gd_tensor *w, const gd_tensor *save_mean, const gd_tensor *save_invstd,
                             int batch_stats);

/* Embedding (gd.nn.Embedding; src/nn_embedding.c): y (indices' shape x D)
   = rows of w (num x D) at the 1-based int64 indices, each checked; backward
   adds gy's rows into gw, skipping padding_idx (1-based, 0 = none). */
int gd_nn_embedding_forward(gd_tensor *y, const gd_tensor *idx, const gd_tensor *w);
int gd_nn_embedding_backward(gd_tensor *gw, const gd_tensor *gy, const gd_tensor *idx, int64_t padding_idx,
                             int scale_grad_by_freq);
/* max_norm: the rows idx refers to with a norm_type-norm above max_norm are
   scaled in place to max_norm (PyTorch's embedding_renorm_, before the
   lookup); scale_grad_by_freq divides each occurrence's gradient by its
   row's count in idx. */
int gd_nn_embedding_renorm(gd_tensor *w, const gd_tensor *idx, double max_norm, double norm_type);

/* LayerNorm and GroupNorm (src/nn_norm.c): rows of M contiguous values
   normalised by their mean and biased variance (eps inside the root); the
   affine index of element p of row r is ((r mod G) M + p) / span (LayerNorm:
   G = span = 1; GroupNorm: G groups, span = H*W).  save_mean/save_rstd hold
   one value per row; w, b, gw, gb may be NULL. */
int gd_nn_rownorm_forward(gd_tensor *y, gd_tensor *save_mean, gd_tensor *save_rstd, const gd_tensor *x,
                          const gd_tensor *w, const gd_tensor *b, int64_t M, int64_t G, int64_t span, double eps);
int gd_nn_rownorm_backward(gd_tensor *gx, gd_tensor *gw, gd_tensor *gb, const gd_tensor *gy, const gd_tensor *x,
                           const gd_tensor *w, const gd_tensor *save_mean, const gd_tensor *save_rstd, int64_t M,
                           int64_t G, int64_t span);

/* Element-wise losses (src/nn_loss.c, math in src/kernels/nn.h): kind
   0 L1, 1 SmoothL1 (param beta), 2 Huber (param delta), 3 BCE, 4 BCE with
   logits, 5 KLDiv (param log_target); reduction 0 mean, 1 sum, 2 none,
   3 batchmean.  *loss is the reduced value (the sum for none), losses (when
   not NULL) the element losses, grad d loss / d pred (for none: of the sum).
   weight (BCE and BCE with logits) and pos_weight (BCE with logits), NULL or
   of pred's shape (the caller expands PyTorch's broadcast weights), scale
   each element's loss and the positive term (PyTorch 1.13's formulas). */
int gd_nn_pointwise_loss(double *loss, gd_tensor *losses, gd_tensor *grad, const gd_tensor *pred,
                         const gd_tensor *target, int kind, int reduction, double param, const gd_tensor *weight,
                         const gd_tensor *pos_weight);

/* NLLLoss (src/nn_loss.c): x rows x classes of log-probabilities, target
   1-based int64 classes, weight (classes) or NULL; a target equal to
   ignore_index (compared as given, as gd_nn_cross_entropy_ex: the Lua
   default is PyTorch's -100) counts for nothing; reduction 0 mean (weighted: divided by the sum of the targets'
   weights), 1 sum, 2 none (losses: one per row). */
int gd_nn_nll_loss(double *loss, gd_tensor *losses, gd_tensor *grad, const gd_tensor *x, const gd_tensor *target,
                   const gd_tensor *weight, int reduction, int64_t ignore_index);


/* Recurrent layers (gd.nn.RNN, LSTM, GRU; src/nn_rnn.c checks, src/cpu/rnn.c
   loops, cell math in src/kernels/nn.h).  One call runs one layer in one
   direction over the whole sequence, PyTorch's weight layout (w_ih GH x I,
   w_hh GH x H, b_ih and b_hh GH, gates in PyTorch's order: LSTM i f g o, GRU
   r z n; G = 4, 3, 1):
     x (T x B x I, time-major, contiguous), y (T x B x DH) with DH = H, or 2H
     for a bidirectional layer: dir 0 writes columns 0..H-1 running forward in
     time, dir 1 columns H..2H-1 running backward.  h0, c0 (B x H) or NULL
     (zeros); hn, cn (B x H) the final states, or NULL.  c0/cn/gc0/gcn are
     LSTM's only.  ws (gd_nn_rnn_workspace's fwd elements, contiguous, x's
     dtype) keeps what the backward needs: pass the same one to it.
   The input projection of the whole sequence is one gemm, each time step one
   gemm for the hidden projection and one fused cell pass.  The backward
   accumulates gw_ih, gw_hh, gb_ih, gb_hh (+=; any may be NULL), writes gx
   (T x B x I; added to when accumulate_gx, for the second direction) and
   gh0/gc0 (B x H) when not NULL; gy may be NULL (no output gradient), ghn/gcn
   NULL for zero.  bws: gd_nn_rnn_workspace's bwd elements.
   LSTM with projections (PyTorch's proj_size P, 0 < P < H; LSTMP, Sak et al.
   2014): w_hr (P x H) maps o * tanh(c') to h' = w_hr (o * tanh(c')), so h0,
   hn, gh0, ghn and y's rows have R = P columns where the above says H (DH = R
   or 2R), w_hh is GH x P; c0, cn stay B x H; gw_hr accumulates (+=).  w_hr
   NULL: no projection (P = 0).  gate_grad_clip (LSTM only; a gdlua extension
   absent in PyTorch): when > 0, the backward clips the gradient of each gate's
   pre-activation to [-gate_grad_clip, gate_grad_clip] before it flows on to
   the weights, the input and the previous step (Graves 2013, sec. 2.1); 0
   leaves it exact. */
typedef enum gd_nn_rnn_mode {
    GD_NN_RNN_TANH = 0, GD_NN_RNN_RELU = 1, GD_NN_LSTM = 2, GD_NN_GRU = 3, GD_NN_RNN_MODE_COUNT = 4
} gd_nn_rnn_mode;
int gd_nn_rnn_workspace(int64_t *fwd, int64_t *bwd, int mode, int64_t T, int64_t B, int64_t H, int64_t P);
int gd_nn_rnn_forward(gd_tensor *y, gd_tensor *hn, gd_tensor *cn, gd_tensor *ws, const gd_tensor *x,
                      const gd_tensor *h0, const gd_tensor *c0, const gd_tensor *w_ih, const gd_tensor *w_hh,
                      const gd_tensor *b_ih, const gd_tensor *b_hh, const gd_tensor *w_hr, int mode, int dir);
int gd_nn_rnn_backward(gd_tensor *gx, gd_tensor *gh0, gd_tensor *gc0, gd_tensor *gw_ih, gd_tensor *gw_hh,
                       gd_tensor *gb_ih, gd_tensor *gb_hh, gd_tensor *gw_hr, gd_tensor *bws, const gd_tensor *gy,
                       const gd_tensor *ghn, const gd_tensor *gcn, const gd_tensor *ws, const gd_tensor *x,
                       const gd_tensor *y, const gd_tensor *h0, const gd_tensor *c0, const gd_tensor *w_ih,
                       const gd_tensor *w_hh, const gd_tensor *w_hr, int mode, int dir, int accumulate_gx,
                       double gate_grad_clip);


/* CrossEntropyLoss in full (src/nn_loss.c, math in src/kernels/nn.h), after
   PyTorch 1.13: logits rows x classes; target either int64 class indices
   (rows), 1-based, or probabilities (rows x classes, the logits' dtype).  A
   class target equal to ignore_index (compared as given: PyTorch's default
   -100 stays -100, a class number c ignores class c) counts for nothing.
   weight (classes) or NULL; label_smoothing in [0, 1].  reduction 0 mean:
   divided by the sum of the non-ignored targets' weights (their count without
   weights) for class targets, by the rows for probabilities; 1 sum; 2 none
   (losses: one per row).  grad (rows x classes) or NULL. */
int gd_nn_cross_entropy_ex(double *loss, gd_tensor *losses, gd_tensor *grad, const gd_tensor *logits,
                           const gd_tensor *target, const gd_tensor *weight, int64_t ignore_index,
                           double label_smoothing, int reduction);

/* -------------------------------------------- distributed (src/dist.c, issue 16) */

/*
 * Data-parallel collectives over every process of an MPI job.  libgd does not
 * link MPI: gd_dist_init opens libgd_dist.so (next to libgd.so, or
 * $GD_DIST_LIB), the MPI/NCCL engine (src/dist/), when the process was started
 * by a launcher (mpirun: OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK set) or
 * when force is 1.  Without the engine, or outside a launcher, the group is
 * this process alone (size 1) and every collective leaves its tensor as it
 * is.  Tensors must be contiguous; CPU tensors go through MPI, CUDA tensors
 * through NCCL.  Every collective is bounded by a timeout (GD_DIST_TIMEOUT
 * seconds, default 600; gd_dist_set_timeout): past it every rank is ended.
 */
typedef enum gd_dist_op { GD_DIST_SUM = 0, GD_DIST_MEAN = 1, GD_DIST_MAX = 2, GD_DIST_MIN = 3,
                          GD_DIST_OP_COUNT = 4 } gd_dist_op;

/* 0 when joined (or alone, size 1).  force: join even outside a launcher (an
   MPI singleton, size 1) when the engine exists.  Fails when MPI cannot start,
   or under a launcher when the engine cannot be loaded. */
int gd_dist_init(int force);
/* 1 once gd_dist_init joined an MPI job through the engine, else 0. */
int gd_dist_active(void);
int gd_dist_rank(void);
int gd_dist_size(void);
int gd_dist_local_rank(void);
/* 1 when this process was started by a launcher (the environment says so). */
int gd_dist_launched(void);
/* Why the engine is not in use ("" when it is). */
const char *gd_dist_why(void);
int gd_dist_set_timeout(double seconds);
int gd_dist_barrier(void);
/* In place, over every rank; deterministic: sums in rank order (CPU). */
int gd_dist_allreduce(gd_tensor *t, int op, int deterministic);
/* Root's t into every rank's t. */
int gd_dist_broadcast(gd_tensor *t, int root);
/* out (size() * t's count elements, t's dtype and device, contiguous): rank
   r's t at element r * count. */
int gd_dist_allgather(gd_tensor *out, const gd_tensor *t);
/* Prints msg on standard error and ends every rank with code (MPI_Abort);
   without the engine, ends this process. */
void gd_dist_abort(const char *msg, int code);

/*
 * DataParallel's gradient buckets under autograd (PyTorch DDP's reducer):
 * the gradient arena grads (1-D, contiguous) cut into buckets of about cap_mb
 * MiB (1 MiB = 2^20 bytes, as PyTorch's bucket_cap_mb) in reverse layer
 * order: the parameters sorted by their gradient's place in the arena, the
 * last first, a bucket closed once it holds cap_mb or more; the buckets
 * partition the whole arena.  While one gd_backward runs, a bucket whose
 * every parameter gradient has been written (each parameter's .grad gets one
 * write per recorded use of it) is posted as a non-blocking allreduce (op
 * GD_DIST_SUM or GD_DIST_MEAN; deterministic: rank order), buckets strictly
 * in order 1, 2, ..., so every rank posts the same sequence; at the end of
 * the backward the rest are posted and every one waited for, in the same
 * order.  The result is the single allreduce's over the arena.  params[i] is
 * a parameter whose .grad is a view of grads.  A backward that writes none of
 * grads' gradients leaves them alone; gd_autograd_grad never reduces.
 */
typedef struct gd_dist_buckets gd_dist_buckets;
int gd_dist_buckets_new(gd_dist_buckets **out, gd_tensor *grads, gd_tensor *const *params, int n, double cap_mb,
                        int op, int deterministic);
void gd_dist_buckets_free(gd_dist_buckets *b);
/* on = 0: backward leaves the gradients local (no_sync). */
void gd_dist_buckets_enable(gd_dist_buckets *b, int on);
/* out[0] = the number of buckets, out[1] = those the last reduced backward
   posted while it ran (before its end), out[2] = the backwards reduced. */
void gd_dist_buckets_stats(const gd_dist_buckets *b, int64_t *out);

/* ------------------------------------------------------------- autograd */

/*
 * Automatic differentiation on a tape owned by C (src/autograd.c).  When grad
 * mode is on (the default, per thread) and an input requires grad, every
 * differentiable gd_* operation appends a plain record to the tape: the op,
 * its inputs (retained), its scalar arguments, the values its backward needs
 * and their storage versions.  The output gets requires_grad and grad_node.
 * A record lives as long as its output; gd_backward walks the records below
 * the root's in reverse, one backward per record (composed of gd_* ops, so
 * every backend runs them), sums gradients back over broadcast dimensions to
 * each input's shape and accumulates them into the .grad of leaves.  Without
 * retain_graph it then drops what the walked records held; a second backward
 * through them is an error, as is an in-place change of a saved tensor.
 *
 *     gd_tensor *x, *y, *s;           // x: a float64 leaf, {-5, -2}
 *     gd_set_requires_grad(x, 1);
 *     gd_unary(&y, x, GD_OP_POWS, 2, 0);
 *     gd_reduce(&s, y, GD_RED_SUM, 0);  // a 0-d tensor
 *     gd_backward(s, NULL, 0);        // x->gradient = 2x = {-10, -4}
 */
int gd_grad_enabled(void);
/* Sets this thread's grad mode; returns the previous one. */
int gd_set_grad_enabled(int on);
/* Float tensors only; only leaves (grad_node == 0) can be switched off. */
int gd_set_requires_grad(gd_tensor *t, int on);
/* A view of t's storage outside the graph (requires_grad 0). */
int gd_detach(gd_tensor **out, const gd_tensor *t);
/* Backpropagates grad (NULL: 1, for a one-element root) from root into the
   .grad of every leaf that requires grad. */
int gd_backward(gd_tensor *root, const gd_tensor *grad, int retain_graph);
/* The same walk, but the gradients of root with respect to the n inputs go
   to grads[0..n-1] (new references; NULL where root does not depend on the
   input) instead of any .grad. */
int gd_autograd_grad(gd_tensor **grads, gd_tensor *root, const gd_tensor *grad, gd_tensor *const *inputs, int n,
                     int retain_graph);
/* The version counter of t's storage, moved by every in-place write. */
uint64_t gd_tensor_version(const gd_tensor *t);
/* Clears grad_received (an optimizer's zero_grad: its next step skips the
   parameters that requires grad and no backward reaches, as PyTorch skips a
   None gradient). */
void gd_tensor_clear_grad_received(gd_tensor *t);
void gd_tensor_bump_version(gd_tensor *t);
/* Live records on the tape, and its length (live ones and the dead below them). */
int64_t gd_autograd_live_records(void);
int64_t gd_autograd_tape_length(void);
/* The reduction of every element as a 0-d tensor (the recorded form of
   gd_reduce_all). */
int gd_reduce(gd_tensor **out, const gd_tensor *t, int op, double p);

/* gd.nn modules record one node each for their fused kernels.  in[] are the
   module's inputs and parameters as listed; saved is what the backward needs
   (the forward output for activations/softmax, the loss gradient for losses);
   y is the module's output, which becomes a recorded output.
     LINEAR      in {x, w[, b]}          gd_nn_linear_backward
     ACTIVATION  in {x}, ip[0] = kind    saved = y (an alias)
     SOFTMAX     in {x}, ip[0] = log_    saved = y (an alias)
     LOSS_GRAD   in {pred}               saved = d loss / d pred; ip[0] = 1 when
                                          the gradient has one more trailing
                                          dimension than the loss (cross-entropy
                                          with reduction none)
     CONV2D      in {x, w[, b]}          ip = the conv geometry (7)
     CONV_T2D    in {x, w[, b]}          ip = the transposed geometry (9)
     POOL2D      in {x}                  ip = the pool geometry (11), kind;
                                          saved = the argmax indices (max pool)
     BATCHNORM   in {x[, w, b]}          saved = {mean, invstd} (2C, 1-D);
                                          ip[0] = batch_stats
     ROWNORM     in {x[, w, b]}          saved = {mean, rstd} (2 rows, 1-D);
                                          ip = {M, G, span}
     EMBEDDING   in {w}                  saved = the indices; ip = {padding_idx,
                                          scale_grad_by_freq}
     RNN         in {x, w_ih, w_hh, h0, c0, b_ih, b_hh[, w_hr]} (h0, c0, biases may
                 be NULL); one layer in one direction.  y is one flat tensor
                 [y (T x B x DH) | hn (B x R) | cn (B x H, LSTM) | the forward
                 workspace], read back as saved = y; ip = {T, B, H, DH, mode,
                 dir, P, the bits of gate_grad_clip as a double}; with a
                 projection (P > 0, R = P; else R = H) an eighth input w_hr */
typedef enum gd_ag_nn_kind {
    GD_AG_NN_LINEAR = 0, GD_AG_NN_ACTIVATION = 1, GD_AG_NN_SOFTMAX = 2, GD_AG_NN_LOSS_GRAD = 3,
    GD_AG_NN_CONV2D = 4, GD_AG_NN_CONV_T2D = 5, GD_AG_NN_POOL2D = 6, GD_AG_NN_BATCHNORM = 7,
    GD_AG_NN_ROWNORM = 8, GD_AG_NN_EMBEDDING = 9, GD_AG_NN_RNN = 10, GD_AG_NN_KIND_COUNT = 11
} gd_ag_nn_kind;
int gd_autograd_record_nn(gd_tensor *y, int kind, gd_tensor *const *in, int nin, const gd_tensor *saved,
                          const int64_t *ip, int nip);
/* 1 when y, a module's kept output buffer, may be written by its next recorded
   call: nothing but its owner's one reference refers to it or to its storage
   (no record reads it, no view or alias of it survives), so no tensor anyone
   holds can change.  Its old record, if any, is released.  0 otherwise (the
   module then writes a fresh output). */
int gd_autograd_reuse_output(gd_tensor *y);
/* A loss's result under autograd: a 0-d tensor holding value (losses NULL) or
   a copy of the per-element losses, recorded as LOSS_GRAD over pred (when
   grad mode is on and pred requires grad) with a copy of grad (d loss / d
   pred, pred's shape) as its saved gradient; extra_dim as for LOSS_GRAD. */
int gd_autograd_loss_result(gd_tensor **out, double value, const gd_tensor *losses, const gd_tensor *grad,
                            gd_tensor *pred, int extra_dim);
/* The backward's reused temporaries (src/autograd_pool.c): the bytes held,
   and their release (busy ones go with their last holder). */
int64_t gd_autograd_buffer_bytes(void);
void gd_autograd_release_buffers(void);
/* The one-pass backward of small element-wise float records
   (src/autograd_small.c): on (1, the default) or off (0: every record takes
   the composed backward, as a check that both give the same bits). */
void gd_autograd_set_small_path(int on);
int gd_autograd_small_path(void);
/* How many records it has run (for the specs). */
int64_t gd_autograd_small_records(void);

#endif /* GD_H */
