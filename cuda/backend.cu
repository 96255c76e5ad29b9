// backend.cu: libgd_cuda.so's entry point, gd_cuda_backend_v1 (the table of
// src/backend.h), and the memory functions: the stream-ordered allocator (cudaMallocAsync) on the
// default stream, copies, synchronisation, and error messages.
#include "common.cuh"

#include <stdio.h>
#include <string.h>

namespace gdcuda {

static thread_local char last_error[512];

int fail(cudaError_t e, const char *what)
{
    snprintf(last_error, sizeof last_error, "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
    return -1;
}

int fail_msg(const char *msg)
{
    snprintf(last_error, sizeof last_error, "%s", msg);
    return -1;
}

int check_launch(const char *what)
{
    cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? 0 : fail(e, what);
}

static const char *error_string() { return last_error; }

static int device_count()
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        fail(e, "cudaGetDeviceCount");
        return 0;
    }
    if (n == 0) fail_msg("the CUDA runtime sees no device");
    return n;
}

static int alloc(void **p, size_t n)
{
    if (n == 0) n = 1;
    cudaError_t e = cudaMallocAsync(p, n, 0);
    if (e != cudaSuccess) return fail(e, "cudaMallocAsync");
    e = cudaMemsetAsync(*p, 0, n, 0);
    if (e != cudaSuccess) return fail(e, "cudaMemsetAsync");
    return 0;
}

static void release(void *p)
{
    if (p) cudaFreeAsync(p, 0);
}

static int copy_bytes(void *dst, const void *src, size_t n, int dst_device, int src_device)
{
    cudaMemcpyKind kind = dst_device == GD_CUDA ? (src_device == GD_CUDA ? cudaMemcpyDeviceToDevice
                                                                         : cudaMemcpyHostToDevice)
                                                : cudaMemcpyDeviceToHost;
    cudaError_t e = cudaMemcpy(dst, src, n, kind);
    return e == cudaSuccess ? 0 : fail(e, "cudaMemcpy");
}

static int synchronize()
{
    cudaError_t e = cudaDeviceSynchronize();
    return e == cudaSuccess ? 0 : fail(e, "cudaDeviceSynchronize");
}

// in the other files
int copy(const gd_iter *it, int dst_dtype, int src_dtype);
int fill(const gd_iter *it, int dtype, double value);
int binary(const gd_iter *it, int dtype, int op);
int binary_scalar(const gd_iter *it, int dtype, int op, double s, int scalar_first);
int unary(const gd_iter *it, int dtype, int op, double p1, double p2);
int ternary(const gd_iter *it, int dtype, int kind, double value);
int range(void *p, int64_t n, int dtype, double start, double step);
int reduce_all(const void *p, int64_t n, int dtype, int op, double param, double *value, int64_t *index);
int reduce_dim(const gd_iter *it, int64_t n, int64_t stride, int dtype, int out_dtype, int op, double param,
               int with_index);
int cumsum(const gd_iter *it, int64_t n, int64_t so, int64_t si, int dtype);
int gemm(int dtype, int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha, const void *a, int64_t lda,
         const void *b, int64_t ldb, double beta, void *c, int64_t ldc);
int random(void *p, int64_t n, int dtype, int kind, double a, double b, uint64_t seed, uint64_t offset);
int optim_step(const gd_optim_plan *plan, const gd_optim_segment *segs, int nseg);
int nn_bias_rows(void *y, const void *b, int64_t rows, int64_t cols, int dtype);
int nn_bias_grad(void *gb, const void *gy, int64_t rows, int64_t cols, int dtype);
int nn_activation(void *y, const void *x, int64_t n, int dtype, int kind);
int nn_activation_backward(void *gx, const void *gy, const void *y, int64_t n, int dtype, int kind);
int nn_softmax(void *y, const void *x, int64_t rows, int64_t n, int dtype, int log_);
int nn_softmax_backward(void *gx, const void *gy, const void *y, int64_t rows, int64_t n, int dtype, int log_);
int nn_cross_entropy(double *loss, void *losses, void *grad, const void *logits, const int64_t *target,
                     int64_t index_base, int64_t rows, int64_t C, double row_scale, double scale, int dtype);
int nn_mse(double *loss, void *losses, void *grad, const void *pred, const void *target, int64_t n, double elem_scale,
           double scale, int dtype);
int nn_dropout(void *y, void *mask, const void *x, int64_t n, double p, int dtype);
int nn_dropout_backward(void *gx, const void *gy, const void *mask, int64_t n, int dtype);
int nn_gather_rows(void *out, const void *src, const int64_t *index, int64_t index_base, int64_t rows,
                   int64_t row_bytes);
int nn_pointwise_loss(double *sum, void *losses, void *grad, const void *pred, const void *target, const void *weight,
                      const void *pos_weight, int64_t n, int kind, double param, double scale, int dtype);
int nn_class_targets(double *denom, int64_t *bad, const int64_t *target, const void *weight, int64_t N, int64_t C,
                     int64_t ignore_index, int dtype);
int nn_class_loss(double *sum, void *losses, void *grad, const void *x, const int64_t *target, const void *prob,
                  const void *weight, int64_t N, int64_t C, int64_t ignore_index, double label_smoothing,
                  double scale, int nll, int dtype);
int nn_embedding_backward(int dtype, void *gw, const void *gy, const int64_t *idx, int64_t count, int64_t rows,
                          int64_t D, int64_t padding_idx, int scale_grad_by_freq);
int nn_embedding_renorm(int dtype, void *w, const int64_t *idx, int64_t count, int64_t rows, int64_t D,
                        double max_norm, double norm_type);
int nn_conv2d(int dt, void *y, void *col, const void *x, const void *w, const void *b, int64_t N, int64_t O,
              int64_t G, const gd_conv_geom *g);
int nn_conv2d_backward(int dt, void *gx, void *gw, void *gb, void *col, const void *gy, const void *x,
                       const void *w, int64_t N, int64_t O, int64_t G, const gd_conv_geom *g);
int nn_conv_transpose2d(int dt, void *y, void *col, const void *x, const void *w, const void *b, int64_t N,
                        int64_t Cin, int64_t G, const gd_conv_geom *g);
int nn_conv_transpose2d_backward(int dt, void *gx, void *gw, void *gb, void *col, const void *gy, const void *x,
                                 const void *w, int64_t N, int64_t Cin, int64_t G, const gd_conv_geom *g);
int nn_pool2d(int dt, int kind, void *y, int64_t *idx, const void *x, int64_t planes, const gd_conv_geom *g,
              int count_include_pad, int64_t divisor_override);
int nn_pool2d_backward(int dt, int kind, void *gx, const void *gy, const int64_t *idx, int64_t planes,
                       const gd_conv_geom *g, int count_include_pad, int64_t divisor_override);
int nn_batchnorm(int dtype, void *y, void *save_mean, void *save_invstd, void *rmean, void *rvar, const void *x,
                 const void *w, const void *b, int64_t N, int64_t C, int64_t L, double momentum, double eps,
                 int training);
int nn_batchnorm_backward(int dtype, void *gx, void *gw, void *gb, const void *gy, const void *x, const void *w,
                          const void *save_mean, const void *save_invstd, int64_t N, int64_t C, int64_t L,
                          int batch_stats);
int nn_rownorm(int dtype, void *y, void *save_mean, void *save_rstd, const void *x, const void *w, const void *b,
               int64_t rows, int64_t M, int64_t G, int64_t span, double eps);
int nn_rownorm_backward(int dtype, void *gx, void *gw, void *gb, const void *gy, const void *x, const void *w,
                        const void *save_mean, const void *save_rstd, int64_t rows, int64_t M, int64_t G,
                        int64_t span);
int nn_rnn_forward(const gd_rnn_plan *p);
int nn_rnn_backward(const gd_rnn_plan *p);

}  // namespace gdcuda

// (const at namespace scope is internal in C++: declare it extern first).
// The order is struct gd_backend's (C++17 has no designated initialisers).
extern "C" {
extern const gd_backend gd_cuda_backend_v1;
const gd_backend gd_cuda_backend_v1 = {
    GD_BACKEND_ABI,
    "cuda",
    gdcuda::error_string,
    gdcuda::device_count,
    gdcuda::alloc,
    gdcuda::release,
    gdcuda::copy_bytes,
    gdcuda::synchronize,
    gdcuda::copy,
    gdcuda::fill,
    gdcuda::binary,
    gdcuda::binary_scalar,
    gdcuda::unary,
    gdcuda::ternary,
    gdcuda::range,
    gdcuda::reduce_all,
    gdcuda::reduce_dim,
    gdcuda::cumsum,
    gdcuda::gemm,
    gdcuda::random,
    gdcuda::optim_step,
    gdcuda::nn_bias_rows,
    gdcuda::nn_bias_grad,
    gdcuda::nn_activation,
    gdcuda::nn_activation_backward,
    gdcuda::nn_softmax,
    gdcuda::nn_softmax_backward,
    gdcuda::nn_cross_entropy,
    gdcuda::nn_mse,
    gdcuda::nn_dropout,
    gdcuda::nn_dropout_backward,
    gdcuda::nn_gather_rows,
    gdcuda::nn_pointwise_loss,
    gdcuda::nn_class_targets,
    gdcuda::nn_class_loss,
    gdcuda::nn_embedding_backward,
    gdcuda::nn_embedding_renorm,
    gdcuda::nn_conv2d,
    gdcuda::nn_conv2d_backward,
    gdcuda::nn_conv_transpose2d,
    gdcuda::nn_conv_transpose2d_backward,
    gdcuda::nn_pool2d,
    gdcuda::nn_pool2d_backward,
    gdcuda::nn_batchnorm,
    gdcuda::nn_batchnorm_backward,
    gdcuda::nn_rownorm,
    gdcuda::nn_rownorm_backward,
    gdcuda::nn_rnn_forward,
    gdcuda::nn_rnn_backward,
};
}
