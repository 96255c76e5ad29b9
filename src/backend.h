/*
 * backend.h: the one function table that every device implements.
 *
 * The core (the files directly in src/) does every device-independent thing first: argument
 * checks, broadcasting, type promotion, iteration plans, optimizer segments
 * and the int64 edge rules (which values convert, which bounds saturate, which
 * integer operands are refused).  Then it calls backend_of(device)->op, which
 * only runs loops or kernels over operands it may trust: the CPU's table is in
 * src/cpu/backend.c (loops in src/cpu/), CUDA's is gd_cuda_backend_v1 in
 * cuda/backend.cu (kernels in cuda/, file for file), which libgd dlopens
 * the first time a CUDA tensor is asked for (src/cuda_loader.c), so that libgd
 * itself neither links nor needs the CUDA runtime.  Both run the same
 * per-element math from src/kernels/.
 *
 * Pointers are the device's; strides in a gd_iter are in bytes.  A function
 * returns 0, or nonzero when the device failed, with the reason in
 * error_string() (the core turns it into a gd_fail message): every argument
 * was checked before, so nothing here reports a user's mistake.
 *
 * Adding a device: fill a gd_backend, make gd_backend_of return it.  Adding an
 * operation: a code in src/ops.def, a loop in src/cpu/, a kernel in cuda/.
 */
#ifndef GD_BACKEND_H
#define GD_BACKEND_H

#include "internal.h"

enum { GD_BACKEND_ABI = 5 };

/* ternary kinds (src/ops.def): operand 0 is written, operands 1..3 read */
typedef enum gd_ternop {
#define GD_TERNOP(ID, name, nops, doc) GD_TERN_##ID,
#include "ops.def"
    GD_TERNOP_COUNT
} gd_ternop;

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

/* The geometry of a convolution or pooling over one sample (src/nn_conv.c):
   C = channels, H x W = input plane, OH x OW = output plane, then the
   kernel, stride, padding and dilation, each rows then columns. */
typedef struct gd_conv_geom {
    int64_t C, H, W;
    int64_t OH, OW;
    int64_t kh, kw, sh, sw, ph, pw, dh, dw;
} gd_conv_geom;

/* One layer in one direction of gd.nn.RNN/LSTM/GRU (src/nn_rnn.c fills it;
   loops in src/cpu/rnn.c, kernels in cuda/rnn.cu, the same workspace
   layout).  T = time steps, B = batch, I = input features, H = hidden units,
   G = gates (LSTM 4, GRU 3, RNN 1), DH = y's row length (HW or 2HW). */
typedef struct gd_rnn_plan {
    int dtype, mode, dir, accumulate_gx;
    int64_t T, B, I, H, G, DH;
    /* forward */
    void *y, *hn, *cn, *ws;
    const void *x, *h0, *c0, *w_ih, *w_hh, *b_ih, *b_hh;
    /* backward */
    void *gx, *gh0, *gc0, *gw_ih, *gw_hh, *gb_ih, *gb_hh, *bws;
    const void *gy, *ghn, *gcn;
    /* LSTM projection (P > 0: h = w_hr (o tanh c), HW = P columns in h and
       y, else HW = H) and the gates' gradient clip (INFINITY: none) */
    int64_t P, HW;
    const void *w_hr;
    void *gw_hr;
    double clip;
} gd_rnn_plan;

struct gd_backend {
    int abi;
    const char *name;                        /* "cpu", "cuda": for messages */
    const char *(*error_string)(void);       /* the last failure, for messages */
    int (*device_count)(void);

    /* ---- memory.  alloc: 64-byte aligned (CPU: uninitialised; CUDA:
       zero-filled, stream-ordered).  memcpy copies raw bytes between this
       device and the host (or within the device). */
    int (*alloc)(void **p, size_t n);
    void (*free)(void *p);
    int (*memcpy)(void *dst, const void *src, size_t n, int dst_device, int src_device);
    int (*synchronize)(void);

    /* ---- element-wise over a gd_iter (operand 0 is written).  copy converts
       dtypes (float -> int64 truncates; the core has refused values with no
       int64); binary ops are gd_binop codes (int64 mod and pow: the core has
       refused zero divisors and negative exponents); unary ops gd_unop codes
       with their parameters (int64 clamp: bounds int64 values or infinite: gd_int64_clamp_bound);
       ternary kinds gd_ternop. */
    int (*copy)(const gd_iter *it, int dst_dtype, int src_dtype);
    int (*fill)(const gd_iter *it, int dtype, double value);
    int (*binary)(const gd_iter *it, int dtype, int op);
    /* operands {out, a}: out = a op s, or s op a when scalar_first (s is
       already a value of dtype: a whole number for int64) */
    int (*binary_scalar)(const gd_iter *it, int dtype, int op, double s, int scalar_first);
    int (*unary)(const gd_iter *it, int dtype, int op, double p1, double p2);
    int (*ternary)(const gd_iter *it, int dtype, int kind, double value);
    /* p[i] = start + i*step over n contiguous elements (int64: rounded to nearest) */
    int (*range)(void *p, int64_t n, int dtype, double start, double step);

    /* ---- reductions (gd_redop codes; param: the norm's order or the
       variance's correction).  reduce_all folds n contiguous elements into a
       host double (and, for arg-reductions, the host index).  reduce_dim:
       operands {values (out_dtype), indices (int64, or values again), input
       line starts}; each line has n elements `stride` bytes apart, walked in
       order.  cumsum: operands {out line starts, in line starts}, n elements
       per line at byte strides so / si; out may be in. */
    int (*reduce_all)(const void *p, int64_t n, int dtype, int op, double param, double *value, int64_t *index);
    int (*reduce_dim)(const gd_iter *it, int64_t n, int64_t stride, int dtype, int out_dtype, int op, double param,
                      int with_index);
    int (*cumsum)(const gd_iter *it, int64_t n, int64_t so, int64_t si, int dtype);

    /* c = beta*c + alpha*op(a)@op(b), column-major BLAS convention (the core
       swaps row-major operands); int64 too (wrapping) */
    int (*gemm)(int dtype, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                const void *a, int64_t lda, const void *b, int64_t ldb, double beta, void *c, int64_t ldc);
    /* n contiguous Philox draws (src/kernels/philox.h): kind 0 uniform [a, b), 1 normal (a, b) */
    int (*random)(void *p, int64_t n, int dtype, int kind, double a, double b, uint64_t seed, uint64_t offset);
    /* one fused optimizer step over the segments among segs on this device (src/optim.c) */
    int (*optim_step)(const gd_optim_plan *plan, const gd_optim_segment *segs, int nseg);

    /* ---- layers and losses over contiguous operands of one float dtype
       (src/nn.c checks; math in src/kernels/nn.h).  B = rows, F = features,
       C = classes.  Loss values come back as host doubles (one scalar). */
    /* y (B x F) = b (F) in every row */
    int (*nn_bias_rows)(void *y, const void *b, int64_t rows, int64_t cols, int dtype);
    /* gb (F) += column sums of gy (B x F), each summed in row order */
    int (*nn_bias_grad)(void *gb, const void *gy, int64_t rows, int64_t cols, int dtype);
    int (*nn_activation)(void *y, const void *x, int64_t n, int dtype, int kind);
    int (*nn_activation_backward)(void *gx, const void *gy, const void *y, int64_t n, int dtype, int kind);
    /* over rows of n (the last dimension) */
    int (*nn_softmax)(void *y, const void *x, int64_t rows, int64_t n, int dtype, int log_);
    int (*nn_softmax_backward)(void *gx, const void *gy, const void *y, int64_t rows, int64_t n, int dtype, int log_);
    /* logits B x C, target (B) classes counted from index_base (already
       checked); grad, losses may be NULL; *loss = row_scale * the sum of the
       row losses, summed in row order; losses[i] = scale * row loss i;
       grad = d(*loss)/d logits */
    int (*nn_cross_entropy)(double *loss, void *losses, void *grad, const void *logits, const int64_t *target,
                            int64_t index_base, int64_t rows, int64_t C, double row_scale, double scale, int dtype);
    /* n elements in blocks of GD_NN_MSE_BLOCK, each block's sum in order, the
       blocks' sums in order: *loss = elem_scale * the sum of squares;
       losses = scale * d^2; grad = 2 elem_scale d */
    int (*nn_mse)(double *loss, void *losses, void *grad, const void *pred, const void *target, int64_t n,
                  double elem_scale, double scale, int dtype);
    /* mask holds uniform [0, 1) draws on entry, 0 or 1/(1-p) on return; y = x * mask */
    int (*nn_dropout)(void *y, void *mask, const void *x, int64_t n, double p, int dtype);
    /* gx = gy * mask */
    int (*nn_dropout_backward)(void *gx, const void *gy, const void *mask, int64_t n, int dtype);
    /* out row i = src row index[i] - index_base (already checked), rows of row_bytes */
    int (*nn_gather_rows)(void *out, const void *src, const int64_t *index, int64_t index_base, int64_t rows,
                          int64_t row_bytes);
    /* the element-wise losses (GD_NN_LOSS_* codes, src/nn_loss.c): over n
       elements, loss l_i and gradient g_i of src/kernels/nn.h (times
       weight_i when given; pos_weight: BCEWithLogits's); grad = scale * g,
       losses = l (either may be NULL); *sum = the l_i summed in double in
       element order */
    int (*nn_pointwise_loss)(double *sum, void *losses, void *grad, const void *pred, const void *target,
                             const void *weight, const void *pos_weight, int64_t n, int kind, double param,
                             double scale, int dtype);
    /* NLLLoss and CrossEntropyLoss with options (src/nn_loss.c), x N x C.
       class_targets: *bad = the first row (0-based) whose target is neither
       ignore_index nor a class in 1..C, or -1; *denom = the sum over the
       rows not ignored of weight[target - 1] (1 without a weight), in row
       order on the CPU, a fixed tree on a device.  class_loss (targets
       already checked): target (N, 1-based) or prob (N x C) is given; row i's
       loss l_i is nll's -w[t] x[i, t] or else src/kernels/nn.h's
       gd_nn_soft_cross_entropy_row (0 for an ignored row); losses[i] = l_i,
       grad = scale * d l_i / d x (overwritten, zero rows where ignored),
       either may be NULL; *sum = the sum of the l_i. */
    int (*nn_class_targets)(double *denom, int64_t *bad, const int64_t *target, const void *weight, int64_t N,
                            int64_t C, int64_t ignore_index, int dtype);
    int (*nn_class_loss)(double *sum, void *losses, void *grad, const void *x, const int64_t *target,
                         const void *prob, const void *weight, int64_t N, int64_t C, int64_t ignore_index,
                         double label_smoothing, double scale, int nll, int dtype);
    /* Embedding's backward: gw (rows x D) row idx[i] - 1 += gy (count x D)
       row i, for each of the count indices (checked: 1..rows) but
       padding_idx (1-based, 0 = none); with scale_grad_by_freq each
       occurrence's gradient is divided by how often its row occurs */
    int (*nn_embedding_backward)(int dtype, void *gw, const void *gy, const int64_t *idx, int64_t count,
                                 int64_t rows, int64_t D, int64_t padding_idx, int scale_grad_by_freq);
    /* Embedding's max_norm (PyTorch's embedding_renorm_): each row of w
       (rows x D) that idx (count, checked: 1..rows) names, once however often
       it is named, whose norm_type-norm exceeds max_norm is scaled in place
       by max_norm / (norm + 1e-7) */
    int (*nn_embedding_renorm)(int dtype, void *w, const int64_t *idx, int64_t count, int64_t rows, int64_t D,
                               double max_norm, double norm_type);

    /* ---- convolution and pooling (src/nn_conv.c checks; PyTorch's NCHW
       layout).  Every operand is contiguous, of dtype, on this device; b, gx,
       gw, gb may be NULL.  col is the workspace, C*KH*KW x OH*OW of one sample.
       conv2d: x N x C x H x W, w O x C/G x KH x KW, y N x O x OH x OW (written);
       backward: gw, gb accumulate, gx is overwritten. */
    int (*nn_conv2d)(int dtype, void *y, void *col, const void *x, const void *w, const void *b, int64_t N,
                     int64_t O, int64_t G, const gd_conv_geom *g);
    int (*nn_conv2d_backward)(int dtype, void *gx, void *gw, void *gb, void *col, const void *gy, const void *x,
                              const void *w, int64_t N, int64_t O, int64_t G, const gd_conv_geom *g);
    /* conv_transpose2d: the adjoint of the conv that g describes (g.C x g.H x
       g.W is the output y, g.OH x g.OW the plane of x, N x Cin x OH x OW);
       w Cin x C/G x KH x KW.  y is written; gw, gb accumulate; gx written. */
    int (*nn_conv_transpose2d)(int dtype, void *y, void *col, const void *x, const void *w, const void *b,
                               int64_t N, int64_t Cin, int64_t G, const gd_conv_geom *g);
    int (*nn_conv_transpose2d_backward)(int dtype, void *gx, void *gw, void *gb, void *col, const void *gy,
                                        const void *x, const void *w, int64_t N, int64_t Cin, int64_t G,
                                        const gd_conv_geom *g);
    /* pooling over `planes` planes of g->H x g->W (kind: gd_nn_pool_kind);
       max pool writes idx (the argmax's offset in its plane, -1 for a window
       of only padding); backward overwrites gx. */
    int (*nn_pool2d)(int dtype, int kind, void *y, int64_t *idx, const void *x, int64_t planes,
                     const gd_conv_geom *g, int count_include_pad, int64_t divisor_override);
    int (*nn_pool2d_backward)(int dtype, int kind, void *gx, const void *gy, const int64_t *idx, int64_t planes,
                              const gd_conv_geom *g, int count_include_pad, int64_t divisor_override);

    /* ---- batch normalisation (src/nn_norm.c checks): x, y, gy, gx N x C x L;
       the per-channel vectors C.  save_mean/save_invstd are written.  With
       training, or without running statistics (rmean = rvar = NULL), the
       batch's statistics normalise, and training updates rmean/rvar when
       given (the variance unbiased, as PyTorch's); otherwise rmean/rvar
       normalise.  Backward:
       gw, gb accumulate, gx (may be NULL) is written; batch_stats says which
       statistics the forward used. */
    int (*nn_batchnorm)(int dtype, void *y, void *save_mean, void *save_invstd, void *rmean, void *rvar,
                        const void *x, const void *w, const void *b, int64_t N, int64_t C, int64_t L,
                        double momentum, double eps, int training);
    int (*nn_batchnorm_backward)(int dtype, void *gx, void *gw, void *gb, const void *gy, const void *x,
                                 const void *w, const void *save_mean, const void *save_invstd, int64_t N,
                                 int64_t C, int64_t L, int batch_stats);
    /* ---- layer and group normalisation (src/nn_norm.c checks): rows of M
       contiguous values normalised by their mean and biased variance; the
       affine index (w, b, gw, gb) of element p of row r is ((r mod G) M + p)
       / span (LayerNorm G = span = 1; GroupNorm G groups, span = H*W).
       save_mean/save_rstd (rows) are written; backward: gw, gb accumulate,
       gx (may be NULL) is written. */
    int (*nn_rownorm)(int dtype, void *y, void *save_mean, void *save_rstd, const void *x, const void *w,
                      const void *b, int64_t rows, int64_t M, int64_t G, int64_t span, double eps);
    int (*nn_rownorm_backward)(int dtype, void *gx, void *gw, void *gb, const void *gy, const void *x,
                               const void *w, const void *save_mean, const void *save_rstd, int64_t rows,
                               int64_t M, int64_t G, int64_t span);

    /* ---- recurrent layers: one layer, one direction (gd_rnn_plan) */
    int (*nn_rnn_forward)(const gd_rnn_plan *p);
    int (*nn_rnn_backward)(const gd_rnn_plan *p);
};

/* MSE's fixed blocking (results do not depend on threads or the device) */
enum { GD_NN_MSE_BLOCK = 4096 };

extern const gd_backend gd_cpu_backend;
/* The other devices' backends (CUDA's once loaded); NULL with an error set */
const gd_backend *gd_device_backend(int device);
/* The backend of a device: the CPU's always; CUDA's once loaded (NULL with
   an error set, "no CUDA GPU ...", when it cannot be).  Inline: the per-op
   path of small tensors must cost nanoseconds. */
static inline const gd_backend *gd_backend_of(int device)
{
    return device == GD_CPU ? &gd_cpu_backend : gd_device_backend(device);
}

/* gd_fail(GD_EDEVICE, "<what> failed on <device>: <reason>") */
int gd_backend_fail(const gd_backend *b, const char *what);
/* a backend's return code as a status: 0 stays 0 */
static inline int gd_backend_status(const gd_backend *b, int rc, const char *what)
{
    return rc == 0 ? GD_OK : gd_backend_fail(b, what);
}
/* b->op(...) with its failure turned into a message: the core's one way to
   call a backend */
#define GD_BACKEND_CALL(b, what, call) gd_backend_status((b), (b)->call, (what))

/* Every memcpy between the host and a device goes through gd_transfer, which
   counts it for gd_transfer_count: as tensor data, or (scalar = 1) as one
   value read or written (an element, a reduction's or a loss's result, the
   bounds that a check of indices reads). */
int gd_transfer(const gd_backend *b, void *dst, const void *src, size_t n, int dst_device, int src_device,
                int scalar);

#endif
