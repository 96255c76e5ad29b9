// nn.cu: the CUDA backend's layer and loss kernels, mirroring src/cpu/nn.c
// with the per-element math of src/kernels/nn.h (the same functions the CPU
// loops call).  Every pointer is a contiguous device array (src/nn.c lays
// them out).  Row kernels give one thread a row (softmax, cross-entropy),
// walking it in order as the CPU does; loss sums are taken in double over the
// CPU's terms (rows, or blocks of GD_NN_MSE_BLOCK) by a parallel fixed-tree
// reduction (finish_loss), so a loss is the same from run to run and the
// CPU's up to rounding.  Only the loss value itself (one double) comes back
// to the host.
#include "common.cuh"
#include "kernels/nn.h"

#include <string.h>

namespace gdcuda {

// --------------------------------------------------------------- linear

template <typename T>
__global__ void bias_rows_kernel(T *y, const T *b, long long rows, long long cols)
{
    GD_CUDA_FOR(i, rows * cols) y[i] = b[i % cols];
}

int nn_bias_rows(void *y, const void *b, int64_t rows, int64_t cols, int dtype)
{
    if (rows * cols == 0) return 0;
    unsigned g = blocks_for(rows * cols);
    if (dtype == GD_FLOAT32) bias_rows_kernel<float><<<g, kThreads>>>((float *)y, (const float *)b, rows, cols);
    else bias_rows_kernel<double><<<g, kThreads>>>((double *)y, (const double *)b, rows, cols);
    return check_launch("linear bias");
}

// gb[j] += sum_i gy[i, j], one thread per column, in row order (as the CPU)
template <typename T>
__global__ void bias_grad_kernel(T *gb, const T *gy, long long rows, long long cols)
{
    GD_CUDA_FOR(j, cols) {
        T acc = gb[j];
        for (long long i = 0; i < rows; i++) acc += gy[i * cols + j];
        gb[j] = acc;
    }
}

int nn_bias_grad(void *gb, const void *gy, int64_t rows, int64_t cols, int dtype)
{
    if (cols == 0) return 0;
    unsigned g = blocks_for(cols);
    if (dtype == GD_FLOAT32) bias_grad_kernel<float><<<g, kThreads>>>((float *)gb, (const float *)gy, rows, cols);
    else bias_grad_kernel<double><<<g, kThreads>>>((double *)gb, (const double *)gy, rows, cols);
    return check_launch("linear bias gradient");
}

// ---------------------------------------------------------- activations

__device__ inline float act(int kind, float x)
{
    return kind == GD_NN_RELU ? gd_relu_f(x) : kind == GD_NN_TANH ? gd_tanh_f(x) : gd_sigmoid_f(x);
}
__device__ inline double act(int kind, double x)
{
    return kind == GD_NN_RELU ? gd_relu_d(x) : kind == GD_NN_TANH ? gd_tanh_d(x) : gd_sigmoid_d(x);
}
__device__ inline float act_grad(int kind, float gy, float y)
{
    return kind == GD_NN_RELU   ? gd_nn_relu_grad_f(gy, y)
           : kind == GD_NN_TANH ? gd_nn_tanh_grad_f(gy, y)
                                : gd_nn_sigmoid_grad_f(gy, y);
}
__device__ inline double act_grad(int kind, double gy, double y)
{
    return kind == GD_NN_RELU   ? gd_nn_relu_grad_d(gy, y)
           : kind == GD_NN_TANH ? gd_nn_tanh_grad_d(gy, y)
                                : gd_nn_sigmoid_grad_d(gy, y);
}

template <typename T>
__global__ void activation_kernel(T *y, const T *x, long long n, int kind)
{
    GD_CUDA_FOR(i, n) y[i] = act(kind, x[i]);
}

template <typename T>
__global__ void activation_backward_kernel(T *gx, const T *gy, const T *y, long long n, int kind)
{
    GD_CUDA_FOR(i, n) gx[i] = act_grad(kind, gy[i], y[i]);
}

int nn_activation(void *y, const void *x, int64_t n, int dtype, int kind)
{
    if (n == 0) return 0;
    unsigned g = blocks_for(n);
    if (dtype == GD_FLOAT32) activation_kernel<float><<<g, kThreads>>>((float *)y, (const float *)x, n, kind);
    else activation_kernel<double><<<g, kThreads>>>((double *)y, (const double *)x, n, kind);
    return check_launch("activation");
}

int nn_activation_backward(void *gx, const void *gy, const void *y, int64_t n, int dtype, int kind)
{
    if (n == 0) return 0;
    unsigned g = blocks_for(n);
    if (dtype == GD_FLOAT32)
        activation_backward_kernel<float><<<g, kThreads>>>((float *)gx, (const float *)gy, (const float *)y, n, kind);
    else
        activation_backward_kernel<double><<<g, kThreads>>>((double *)gx, (const double *)gy, (const double *)y, n,
                                                            kind);
    return check_launch("activation backward");
}

// -------------------------------------------------------------- softmax

// one thread per row of n: y, x are rows x n
__global__ void softmax_kernel_f(float *y, const float *x, long long rows, long long n, int log_)
{
    GD_CUDA_FOR(i, rows) gd_nn_softmax_row_f(y + i * n, x + i * n, n, log_);
}
__global__ void softmax_kernel_d(double *y, const double *x, long long rows, long long n, int log_)
{
    GD_CUDA_FOR(i, rows) gd_nn_softmax_row_d(y + i * n, x + i * n, n, log_);
}
__global__ void softmax_backward_kernel_f(float *gx, const float *gy, const float *y, long long rows, long long n,
                                          int log_)
{
    GD_CUDA_FOR(i, rows) gd_nn_softmax_grad_row_f(gx + i * n, gy + i * n, y + i * n, n, log_);
}
__global__ void softmax_backward_kernel_d(double *gx, const double *gy, const double *y, long long rows, long long n,
                                          int log_)
{
    GD_CUDA_FOR(i, rows) gd_nn_softmax_grad_row_d(gx + i * n, gy + i * n, y + i * n, n, log_);
}

int nn_softmax(void *y, const void *x, int64_t rows, int64_t n, int dtype, int log_)
{
    if (rows == 0) return 0;
    unsigned g = blocks_for(rows);
    if (dtype == GD_FLOAT32) softmax_kernel_f<<<g, kThreads>>>((float *)y, (const float *)x, rows, n, log_);
    else softmax_kernel_d<<<g, kThreads>>>((double *)y, (const double *)x, rows, n, log_);
    return check_launch("softmax");
}

int nn_softmax_backward(void *gx, const void *gy, const void *y, int64_t rows, int64_t n, int dtype, int log_)
{
    if (rows == 0) return 0;
    unsigned g = blocks_for(rows);
    if (dtype == GD_FLOAT32)
        softmax_backward_kernel_f<<<g, kThreads>>>((float *)gx, (const float *)gy, (const float *)y, rows, n, log_);
    else
        softmax_backward_kernel_d<<<g, kThreads>>>((double *)gx, (const double *)gy, (const double *)y, rows, n,
                                                   log_);
    return check_launch("softmax backward");
}

// --------------------------------------------------------------- losses

// Loss sums.  A loss's terms (one per row, per block of GD_NN_MSE_BLOCK, or
// per block of a grid) are summed by one block of kThreads threads: thread t
// adds parts t, t + kThreads, ... in order, then block_sum joins the threads
// in a fixed tree.  The order depends only on n, never on timing, so a loss
// is the same from run to run (it differs from the CPU's sequential sum in
// rounding only).
__global__ void sum_parts_kernel(const double *parts, long long n, double scale, double *out)
{
    __shared__ double sh[kThreads];
    double s = 0;
    for (long long i = threadIdx.x; i < n; i += kThreads) s += parts[i];
    s = block_sum(s, sh);
    if (threadIdx.x == 0) *out = scale * s;
}

// device scratch of n doubles plus one for the result; the sum comes back as
// one value, and the scratch is released on every path
static int finish_loss(double *parts, long long n, double scale, double *loss)
{
    sum_parts_kernel<<<1, kThreads>>>(parts, n, scale, parts + n);
    int st = check_launch("loss sum");
    if (!st) {
        cudaError_t e = cudaMemcpy(loss, parts + n, sizeof *loss, cudaMemcpyDeviceToHost);
        if (e != cudaSuccess) st = fail(e, "cudaMemcpy (loss)");
    }
    cudaFreeAsync(parts, 0);
    return st;
}

// the grid of a loss whose blocks each leave one partial sum: a fixed
// function of n, so the partials' boundaries never change
constexpr long long kLossBlocks = 1024;
static unsigned loss_blocks(int64_t n)
{
    int64_t b = (n + kThreads - 1) / kThreads;
    return (unsigned)(b < 1 ? 1 : b > kLossBlocks ? kLossBlocks : b);
}

// logits B x C, one thread per row (target already checked by the core)
template <typename T>
__global__ void cross_entropy_kernel(double *parts, T *losses, T *grad, const T *x, const long long *target,
                                     long long base, long long rows, long long C, T k, double scale)
{
    GD_CUDA_FOR(i, rows) {
        double l;
        if (sizeof(T) == 4)
            l = gd_nn_cross_entropy_row_f((float *)(grad ? grad + i * C : nullptr), (const float *)(x + i * C), C,
                                          target[i] - base, (float)k);
        else
            l = gd_nn_cross_entropy_row_d((double *)(grad ? grad + i * C : nullptr), (const double *)(x + i * C), C,
                                          target[i] - base, (double)k);
        parts[i] = l;
        if (losses) losses[i] = (T)(l * scale);
    }
}

int nn_cross_entropy(double *loss, void *losses, void *grad, const void *logits, const int64_t *target,
                     int64_t index_base, int64_t rows, int64_t C, double row_scale, double scale, int dtype)
{
    double *parts = nullptr;
    cudaError_t e = cudaMallocAsync((void **)&parts, (size_t)(rows + 1) * sizeof(double), 0);
    if (e != cudaSuccess) return fail(e, "cudaMallocAsync (cross-entropy)");
    unsigned g = blocks_for(rows);
    const long long *t = (const long long *)target;
    if (dtype == GD_FLOAT32)
        cross_entropy_kernel<float><<<g, kThreads>>>(parts, (float *)losses, (float *)grad, (const float *)logits, t,
                                                     index_base, rows, C, (float)row_scale, scale);
    else
        cross_entropy_kernel<double><<<g, kThreads>>>(parts, (double *)losses, (double *)grad, (const double *)logits,
                                                      t, index_base, rows, C, row_scale, scale);
    if (check_launch("cross-entropy")) {
        cudaFreeAsync(parts, 0);
        return -1;
    }
    return finish_loss(parts, rows, row_scale, loss);
}

// one thread per block of GD_NN_MSE_BLOCK elements: the CPU's blocking
template <typename T>
__global__ void mse_kernel(double *parts, T *losses, T *grad, const T *p, const T *q, long long n, long long nblk,
                           T k, T ks)
{
    GD_CUDA_FOR(b, nblk) {
        long long i0 = b * GD_NN_MSE_BLOCK, i1 = i0 + GD_NN_MSE_BLOCK < n ? i0 + GD_NN_MSE_BLOCK : n;
        double s = 0;
        for (long long i = i0; i < i1; i++) {
            T d = p[i] - q[i];
            s += (double)d * (double)d;
            if (losses) losses[i] = ks * d * d;
            if (grad) grad[i] = k * d;
        }
        parts[b] = s;
    }
}

int nn_mse(double *loss, void *losses, void *grad, const void *pred, const void *target, int64_t n, double elem_scale,
           double scale, int dtype)
{
    long long nblk = (n + GD_NN_MSE_BLOCK - 1) / GD_NN_MSE_BLOCK;
    double *parts = nullptr;
    cudaError_t e = cudaMallocAsync((void **)&parts, (size_t)(nblk + 1) * sizeof(double), 0);
    if (e != cudaSuccess) return fail(e, "cudaMallocAsync (mse)");
    unsigned g = blocks_for(nblk);
    if (dtype == GD_FLOAT32)
        mse_kernel<float><<<g, kThreads>>>(parts, (float *)losses, (float *)grad, (const float *)pred,
                                           (const float *)target, n, nblk, (float)(2.0 * elem_scale), (float)scale);
    else
        mse_kernel<double><<<g, kThreads>>>(parts, (double *)losses, (double *)grad, (const double *)pred,
                                            (const double *)target, n, nblk, 2.0 * elem_scale, scale);
    if (check_launch("mse")) {
        cudaFreeAsync(parts, 0);
        return -1;
    }
    return finish_loss(parts, nblk, elem_scale, loss);
}

// -------------------------------------------------------------- dropout

__global__ void dropout_kernel_f(float *y, float *mask, const float *x, long long n, float p, float keep)
{
    GD_CUDA_FOR(i, n) {
        mask[i] = gd_nn_dropout_mask_f(mask[i], p, keep);
        y[i] = x[i] * mask[i];
    }
}
__global__ void dropout_kernel_d(double *y, double *mask, const double *x, long long n, double p, double keep)
{
    GD_CUDA_FOR(i, n) {
        mask[i] = gd_nn_dropout_mask_d(mask[i], p, keep);
        y[i] = x[i] * mask[i];
    }
}

int nn_dropout(void *y, void *mask, const void *x, int64_t n, double p, int dtype)
{
    if (n == 0) return 0;
    double keep = p < 1 ? 1.0 / (1.0 - p) : 0.0;
    unsigned g = blocks_for(n);
    if (dtype == GD_FLOAT32)
        dropout_kernel_f<<<g, kThreads>>>((float *)y, (float *)mask, (const float *)x, n, (float)p, (float)keep);
    else
        dropout_kernel_d<<<g, kThreads>>>((double *)y, (double *)mask, (const double *)x, n, p, keep);
    return check_launch("dropout");
}

template <typename T>
__global__ void mul_kernel(T *gx, const T *gy, const T *mask, long long n)
{
    GD_CUDA_FOR(i, n) gx[i] = gy[i] * mask[i];
}

int nn_dropout_backward(void *gx, const void *gy, const void *mask, int64_t n, int dtype)
{
    if (n == 0) return 0;
    unsigned g = blocks_for(n);
    if (dtype == GD_FLOAT32) mul_kernel<float><<<g, kThreads>>>((float *)gx, (const float *)gy, (const float *)mask, n);
    else mul_kernel<double><<<g, kThreads>>>((double *)gx, (const double *)gy, (const double *)mask, n);
    return check_launch("dropout backward");
}

// ----------------------------------------------------------------- data

// out row i = src row index[i] - base, byte by byte (rows of any dtype)
__global__ void gather_rows_kernel(char *out, const char *src, const long long *index, long long base, long long rows,
                                   long long row_bytes)
{
    GD_CUDA_FOR(t, rows * row_bytes) {
        long long i = t / row_bytes, b = t % row_bytes;
        out[t] = src[(index[i] - base) * row_bytes + b];
    }
}

int nn_gather_rows(void *out, const void *src, const int64_t *index, int64_t index_base, int64_t rows,
                   int64_t row_bytes)
{
    if (rows * row_bytes == 0) return 0;
    gather_rows_kernel<<<blocks_for(rows * row_bytes), kThreads>>>((char *)out, (const char *)src,
                                                                   (const long long *)index, index_base, rows,
                                                                   row_bytes);
    return check_launch("gather rows");
}

}  // namespace gdcuda

namespace gdcuda {

// ----------------------------------------------------------- embedding

__global__ void embedding_count_kernel(int *freq, const long long *ix, long long count)
{
    GD_CUDA_FOR(i, count) atomicAdd(freq + (ix[i] - 1), 1);
}

// one thread per (occurrence, column): atomics, since an index may repeat
// (the sum's order differs from the CPU's index order by rounding only)
template <typename T>
__global__ void embedding_backward_kernel(T *gw, const T *gy, const long long *ix, long long count, long long D,
                                          long long padding_idx, const int *freq)
{
    GD_CUDA_FOR(t, count * D) {
        long long i = t / D, j = t % D, r = ix[i];
        if (r == padding_idx) continue;
        T g = gy[t];
        if (freq) g = g * (T)(1.0 / (double)freq[r - 1]);
        atomicAdd(gw + (r - 1) * D + j, g);
    }
}

int nn_embedding_backward(int dtype, void *gw, const void *gy, const int64_t *ix, int64_t count, int64_t rows,
                          int64_t D, int64_t padding_idx, int scale_grad_by_freq)
{
    if (count * D == 0) return 0;
    int *freq = nullptr;
    if (scale_grad_by_freq) {
        cudaError_t e = cudaMallocAsync((void **)&freq, (size_t)(rows > 0 ? rows : 1) * sizeof(int), 0);
        if (e != cudaSuccess) return fail(e, "cudaMallocAsync");
        e = cudaMemsetAsync(freq, 0, (size_t)(rows > 0 ? rows : 1) * sizeof(int), 0);
        if (e != cudaSuccess) {
            cudaFreeAsync(freq, 0);
            return fail(e, "cudaMemsetAsync");
        }
        embedding_count_kernel<<<blocks_for(count), kThreads>>>(freq, (const long long *)ix, count);
    }
    unsigned g = blocks_for(count * D);
    if (dtype == GD_FLOAT32)
        embedding_backward_kernel<float><<<g, kThreads>>>((float *)gw, (const float *)gy, (const long long *)ix, count,
                                                          D, padding_idx, freq);
    else
        embedding_backward_kernel<double><<<g, kThreads>>>((double *)gw, (const double *)gy, (const long long *)ix,
                                                           count, D, padding_idx, freq);
    int rc = check_launch("embedding backward");
    if (freq) cudaFreeAsync(freq, 0);
    return rc;
}

}  // namespace gdcuda

namespace gdcuda {

// ------------------------------------------------- element-wise losses

// one thread per element (grid-stride over a grid fixed by n); each block
// leaves the block_sum of its threads' sums in parts[blockIdx.x], which
// finish_loss joins: a parallel, deterministic sum (the CPU sums in element
// order; the two differ in rounding only)
template <typename T>
__global__ void pointwise_loss_kernel(double *parts, T *losses, T *grad, const T *x, const T *t, const T *w,
                                      const T *pw, long long n, int kind, double param, double scale)
{
    __shared__ double sh[kThreads];
    double acc = 0;
    GD_CUDA_FOR(i, n) {
        double g, l;
        if (pw) l = gd_nn_bce_logits_pos_elem((double)x[i], (double)t[i], (double)pw[i], &g);
        else l = gd_nn_pointwise_loss_elem(kind, (double)x[i], (double)t[i], param, &g);
        if (w) {
            l *= (double)w[i];
            g *= (double)w[i];
        }
        if (grad) grad[i] = (T)(g * scale);
        if (losses) losses[i] = (T)l;
        acc += l;
    }
    acc = block_sum(acc, sh);
    if (threadIdx.x == 0) parts[blockIdx.x] = acc;
}

int nn_pointwise_loss(double *out, void *losses, void *grad, const void *pred, const void *target, const void *weight,
                      const void *pos_weight, int64_t n, int kind, double param, double scale, int dtype)
{
    unsigned g = loss_blocks(n);
    double *parts = nullptr;
    cudaError_t e = cudaMallocAsync((void **)&parts, (size_t)(g + 1) * sizeof(double), 0);
    if (e != cudaSuccess) return fail(e, "cudaMallocAsync (loss)");
    if (dtype == GD_FLOAT32)
        pointwise_loss_kernel<float><<<g, kThreads>>>(parts, (float *)losses, (float *)grad, (const float *)pred,
                                                      (const float *)target, (const float *)weight,
                                                      (const float *)pos_weight, n, kind, param, scale);
    else
        pointwise_loss_kernel<double><<<g, kThreads>>>(parts, (double *)losses, (double *)grad, (const double *)pred,
                                                       (const double *)target, (const double *)weight,
                                                       (const double *)pos_weight, n, kind, param, scale);
    if (check_launch("loss")) {
        cudaFreeAsync(parts, 0);
        return -1;
    }
    return finish_loss(parts, g, 1.0, out);
}

// ------------------------------------ NLLLoss, CrossEntropyLoss's options

// targets (N, 1-based): parts[block] = the block's sum of weight[t - 1] over
// rows not ignored; *bad = the smallest row whose target is neither
// ignore_index nor in 1..C (atomicMin: the same row whatever the timing)
template <typename T>
__global__ void class_targets_kernel(double *parts, unsigned long long *bad, const long long *target, const T *weight,
                                     long long N, long long C, long long ignore_index)
{
    __shared__ double sh[kThreads];
    double acc = 0;
    GD_CUDA_FOR(i, N) {
        long long t = target[i];
        if (t == ignore_index) continue;
        if (t < 1 || t > C) atomicMin(bad, (unsigned long long)i);
        else acc += weight ? (double)weight[t - 1] : 1.0;
    }
    acc = block_sum(acc, sh);
    if (threadIdx.x == 0) parts[blockIdx.x] = acc;
}

int nn_class_targets(double *denom, int64_t *bad, const int64_t *target, const void *weight, int64_t N, int64_t C,
                     int64_t ignore_index, int dtype)
{
    // scratch: g partials, the sum, then the bad row (one 8-byte word each)
    unsigned g = loss_blocks(N);
    double *parts = nullptr;
    cudaError_t e = cudaMallocAsync((void **)&parts, (size_t)(g + 2) * sizeof(double), 0);
    if (e != cudaSuccess) return fail(e, "cudaMallocAsync (class targets)");
    unsigned long long *bad_dev = (unsigned long long *)(parts + g + 1);
    e = cudaMemsetAsync(bad_dev, 0xff, sizeof *bad_dev, 0);  // no bad row: ULLONG_MAX
    if (e != cudaSuccess) {
        cudaFreeAsync(parts, 0);
        return fail(e, "cudaMemsetAsync (class targets)");
    }
    const long long *t = (const long long *)target;
    if (dtype == GD_FLOAT32)
        class_targets_kernel<float><<<g, kThreads>>>(parts, bad_dev, t, (const float *)weight, N, C, ignore_index);
    else
        class_targets_kernel<double><<<g, kThreads>>>(parts, bad_dev, t, (const double *)weight, N, C, ignore_index);
    int st = check_launch("class targets");
    if (!st) {
        sum_parts_kernel<<<1, kThreads>>>(parts, g, 1.0, parts + g);
        st = check_launch("class targets sum");
    }
    double back[2] = {0, 0};
    if (!st) {
        e = cudaMemcpy(back, parts + g, sizeof back, cudaMemcpyDeviceToHost);
        if (e != cudaSuccess) st = fail(e, "cudaMemcpy (class targets)");
    }
    cudaFreeAsync(parts, 0);
    if (st) return st;
    unsigned long long b;
    memcpy(&b, &back[1], sizeof b);
    *denom = back[0];
    *bad = b == ~0ULL ? -1 : (int64_t)b;
    return 0;
}

// one thread per row (x N x C), through gd_nn_class_row (src/kernels/nn.h);
// parts[i] = row i's loss
template <typename T>
__global__ void class_loss_kernel(double *parts, T *losses, T *grad, const T *x, const long long *target,
                                  const T *prob, const T *weight, long long N, long long C, long long ignore_index,
                                  double eps, double scale, int nll)
{
    GD_CUDA_FOR(i, N) {
        long long t = prob ? -1 : target[i] == ignore_index ? -1 : target[i] - 1;
        T *g = grad ? grad + i * C : nullptr;
        const T *p = prob ? prob + i * C : nullptr;
        double l;
        if (sizeof(T) == 4)
            l = gd_nn_class_row_f((float *)g, (const float *)(x + i * C), C, t, (const float *)p,
                                  (const float *)weight, eps, scale, nll);
        else
            l = gd_nn_class_row_d((double *)g, (const double *)(x + i * C), C, t, (const double *)p,
                                  (const double *)weight, eps, scale, nll);
        parts[i] = l;
        if (losses) losses[i] = (T)l;
    }
}

int nn_class_loss(double *sum, void *losses, void *grad, const void *x, const int64_t *target, const void *prob,
                  const void *weight, int64_t N, int64_t C, int64_t ignore_index, double label_smoothing,
                  double scale, int nll, int dtype)
{
    double *parts = nullptr;
    cudaError_t e = cudaMallocAsync((void **)&parts, (size_t)(N + 1) * sizeof(double), 0);
    if (e != cudaSuccess) return fail(e, "cudaMallocAsync (class loss)");
    unsigned g = blocks_for(N);
    const long long *t = (const long long *)target;
    if (dtype == GD_FLOAT32)
        class_loss_kernel<float><<<g, kThreads>>>(parts, (float *)losses, (float *)grad, (const float *)x, t,
                                                  (const float *)prob, (const float *)weight, N, C, ignore_index,
                                                  label_smoothing, scale, nll);
    else
        class_loss_kernel<double><<<g, kThreads>>>(parts, (double *)losses, (double *)grad, (const double *)x, t,
                                                   (const double *)prob, (const double *)weight, N, C, ignore_index,
                                                   label_smoothing, scale, nll);
    if (check_launch(nll ? "nll_loss" : "cross_entropy")) {
        cudaFreeAsync(parts, 0);
        return -1;
    }
    return finish_loss(parts, N, 1.0, sum);
}

// ------------------------------------------------- Embedding's max_norm

// One block per index (grid-stride): the first block to claim row ix[i]
// (atomicExch on claimed[row]) renormalises it, so a repeated index is
// renormalised once, as the CPU's sequential loop (whose second visit finds
// the norm no longer above max_norm).  The norm: block_sum of the terms.
template <typename T>
__global__ void embedding_renorm_kernel(T *w, int *claimed, const long long *ix, long long count, long long D,
                                        double max_norm, double norm_type)
{
    extern __shared__ double sh[];
    __shared__ int mine;
    for (long long i = blockIdx.x; i < count; i += gridDim.x) {
        long long r = ix[i] - 1;
        if (threadIdx.x == 0) mine = atomicExch(claimed + r, 1) == 0;
        __syncthreads();
        if (mine) {  // the same for every thread of the block
            T *row = w + r * D;
            double s = 0;
            for (long long j = threadIdx.x; j < D; j += blockDim.x) s += gd_nn_norm_term(fabs((double)row[j]), norm_type);
            double norm = gd_nn_norm_root(block_sum(s, sh), norm_type);
            if (norm > max_norm) {
                double k = max_norm / (norm + 1e-7);
                for (long long j = threadIdx.x; j < D; j += blockDim.x) row[j] = (T)((double)row[j] * k);
            }
        }
        __syncthreads();  // `mine` is rewritten by the next index
    }
}

int nn_embedding_renorm(int dtype, void *w, const int64_t *ix, int64_t count, int64_t rows, int64_t D, double max_norm,
                        double norm_type)
{
    if (count == 0 || D == 0) return 0;
    int *claimed = nullptr;
    size_t bytes = (size_t)(rows > 0 ? rows : 1) * sizeof(int);
    cudaError_t e = cudaMallocAsync((void **)&claimed, bytes, 0);
    if (e != cudaSuccess) return fail(e, "cudaMallocAsync (embedding renorm)");
    e = cudaMemsetAsync(claimed, 0, bytes, 0);
    if (e != cudaSuccess) {
        cudaFreeAsync(claimed, 0);
        return fail(e, "cudaMemsetAsync (embedding renorm)");
    }
    unsigned th = reduce_threads(D);
    unsigned nb = (unsigned)(count < 65535LL * 8 ? count : 65535LL * 8);
    if (dtype == GD_FLOAT32)
        embedding_renorm_kernel<float><<<nb, th, th * sizeof(double)>>>((float *)w, claimed, (const long long *)ix,
                                                                        count, D, max_norm, norm_type);
    else
        embedding_renorm_kernel<double><<<nb, th, th * sizeof(double)>>>((double *)w, claimed, (const long long *)ix,
                                                                         count, D, max_norm, norm_type);
    int st = check_launch("embedding renorm");
    cudaFreeAsync(claimed, 0);
    return st;
}

}  // namespace gdcuda
