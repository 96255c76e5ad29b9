// rnn.cu: the CUDA mirror of src/cpu/rnn.c (gd.nn.RNN, LSTM, GRU): one layer
// in one direction per call over a gd_rnn_plan whose pointers are device
// memory, the same workspace layout, the same cell math (src/kernels/nn.h's
// GD_HD functions) and the same order of gemms (cuBLAS through gemm.cu).
//
// The CUDA backend's nn_rnn_forward/backward (src/backend.h).  Every step's
// cell kernel runs over B*H threads, one
// hidden unit of one batch row each, exactly like one iteration of the CPU's
// (b, j) loop.
#include "common.cuh"

extern "C" {
#include "cpu/rnn.h"
#include "kernels/nn.h"
}

namespace gdcuda {

int gemm(int dtype, int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha, const void *a, int64_t lda,
         const void *b, int64_t ldb, double beta, void *c, int64_t ldc);

// row-major c (m x n) = op(a) @ op(b) + beta c, as gd_cpu_gemm_raw: cuBLAS is
// column-major, so compute c^T = op(b)^T op(a)^T
static int gemm_rm(int dt, int ta, int tb, int64_t m, int64_t n, int64_t k, const void *a, int64_t lda,
                   const void *b, int64_t ldb, double beta, void *c, int64_t ldc)
{
    return gemm(dt, tb, ta, n, m, k, 1.0, b, ldb, a, lda, beta, c, ldc);
}

// rows x n: every row = v (zeros when v is NULL)
template <typename R>
__global__ void fill_rows_kernel(R *dst, const R *v, int64_t rows, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < rows * n; i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = v ? v[i % n] : (R)0;
}

template <typename R> struct Cell;
template <> struct Cell<float> {
    static __device__ float lstm(float *xg, const float *hg, int64_t H, int64_t j, float c, float *co) { return gd_nn_lstm_cell_f(xg, hg, H, j, c, co); }
    static __device__ float gru(float *xg, const float *hg, int64_t H, int64_t j, float h, float *hn) { return gd_nn_gru_cell_f(xg, hg, H, j, h, hn); }
    static __device__ float rnn(float pre, int relu) { return gd_nn_rnn_cell_f(pre, relu); }
    static __device__ void lstm_grad(float *d, const float *g, int64_t H, int64_t j, float cp, float c, float dh, float *dc, float clip) { gd_nn_lstm_cell_grad_f(d, g, H, j, cp, c, dh, dc, clip); }
    static __device__ float gru_grad(float *dx, float *dh_, const float *g, int64_t H, int64_t j, float hn, float hp, float dh) { return gd_nn_gru_cell_grad_f(dx, dh_, g, H, j, hn, hp, dh); }
    static __device__ float rnn_grad(float h, float dh, int relu) { return gd_nn_rnn_cell_grad_f(h, dh, relu); }
};
template <> struct Cell<double> {
    static __device__ double lstm(double *xg, const double *hg, int64_t H, int64_t j, double c, double *co) { return gd_nn_lstm_cell_d(xg, hg, H, j, c, co); }
    static __device__ double gru(double *xg, const double *hg, int64_t H, int64_t j, double h, double *hn) { return gd_nn_gru_cell_d(xg, hg, H, j, h, hn); }
    static __device__ double rnn(double pre, int relu) { return gd_nn_rnn_cell_d(pre, relu); }
    static __device__ void lstm_grad(double *d, const double *g, int64_t H, int64_t j, double cp, double c, double dh, double *dc, double clip) { gd_nn_lstm_cell_grad_d(d, g, H, j, cp, c, dh, dc, clip); }
    static __device__ double gru_grad(double *dx, double *dh_, const double *g, int64_t H, int64_t j, double hn, double hp, double dh) { return gd_nn_gru_cell_grad_d(dx, dh_, g, H, j, hn, hp, dh); }
    static __device__ double rnn_grad(double h, double dh, int relu) { return gd_nn_rnn_cell_grad_d(h, dh, relu); }
};

// one step of the forward: g (B x GH) gates, tmp (B x GH) hidden projection,
// hp (B rows of ldh) the previous h or NULL, cp (B x H) the previous c or
// NULL, at (B x H) aux, yt (B rows of DH) the cell's h (y's rows, or hf's
// with a projection)
template <typename R>
__global__ void cell_forward_kernel(int mode, R *g, const R *tmp, const R *hp, int64_t ldh, const R *cp, R *at, R *yt,
                                    int64_t B, int64_t H, int64_t GH, int64_t DH)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < B * H; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t b = i / H, j = i % H;
        R h;
        if (mode == GD_NN_LSTM) h = Cell<R>::lstm(g + b * GH, tmp + b * GH, H, j, cp ? cp[i] : (R)0, &at[i]);
        else if (mode == GD_NN_GRU) h = Cell<R>::gru(g + b * GH, tmp + b * GH, H, j, hp ? hp[b * ldh + j] : (R)0, &at[i]);
        else h = Cell<R>::rnn(g[b * GH + j] + tmp[b * GH + j], mode == GD_NN_RNN_RELU);
        yt[b * DH + j] = h;
    }
}

// dh (B x H): the gradient reaching the cell's h from later steps (with a
// projection: through w_hr, gy already in it and gyt NULL)
template <typename R>
__global__ void cell_backward_kernel(int mode, R *dx, R *dhh, const R *g, const R *at, const R *yt, const R *gyt,
                                     const R *hp, int64_t ldh, const R *cp, const R *dh, R *dc, R *dh2, int64_t B,
                                     int64_t H, int64_t GH, int64_t DH, R clip)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < B * H; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t b = i / H, j = i % H;
        R d = dh[i];
        if (gyt) d += gyt[b * DH + j];
        if (mode == GD_NN_LSTM) Cell<R>::lstm_grad(dx + b * GH, g + b * GH, H, j, cp ? cp[i] : (R)0, at[i], d, &dc[i], clip);
        else if (mode == GD_NN_GRU)
            dh2[i] = Cell<R>::gru_grad(dx + b * GH, dhh + b * GH, g + b * GH, H, j, at[i], hp ? hp[b * ldh + j] : (R)0, d);
        else dx[b * GH + j] = Cell<R>::rnn_grad(yt[b * DH + j], d, mode == GD_NN_RNN_RELU);
    }
}

// with a projection: dp (B x P) = dh + gyt's first P columns (rows of DH)
template <typename R>
__global__ void proj_grad_kernel(R *dp, const R *dh, const R *gyt, int64_t B, int64_t P, int64_t DH)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < B * P; i += (int64_t)gridDim.x * blockDim.x)
        dp[i] = dh[i] + (gyt ? gyt[(i / P) * DH + i % P] : (R)0);
}

// gb[c] += sum over rows of m[r, c], each column summed in row order in double
template <typename R>
__global__ void colsum_add_kernel(R *gb, const R *m, int64_t rows, int64_t n)
{
    for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < n; c += (int64_t)gridDim.x * blockDim.x) {
        double s = 0;
        for (int64_t r = 0; r < rows; r++) s += (double)m[r * n + c];
        gb[c] += (R)s;
    }
}

static int64_t gates_of(int mode) { return mode == GD_NN_LSTM ? 4 : mode == GD_NN_GRU ? 3 : 1; }

template <typename R>
static int rnn_forward(const gd_rnn_plan *p)
{
    const int64_t NT = p->T, B = p->B, I = p->I, H = p->H, GH = gates_of(p->mode) * H, DH = p->DH;
    const int64_t P = p->P, HW = p->HW;
    const int mode = p->mode, dir = p->dir, dt = p->dtype;
    R *gates = (R *)p->ws, *aux = gates + NT * B * GH, *tmp = aux + (mode >= GD_NN_LSTM ? NT * B * H : 0);
    R *hf = P ? tmp + B * GH : NULL;
    const R *x = (const R *)p->x, *h0 = (const R *)p->h0, *c0 = (const R *)p->c0;
    R *Y = (R *)p->y + dir * HW;
    fill_rows_kernel<R><<<blocks_for(NT * B * GH), kThreads>>>(gates, (const R *)p->b_ih, NT * B, GH);
    if (gemm_rm(dt, 0, 1, NT * B, GH, I, x, I, p->w_ih, I, 1.0, gates, GH)) return -1;
    for (int64_t s = 0; s < NT; s++) {
        int64_t t = dir ? NT - 1 - s : s, tp = dir ? t + 1 : t - 1;
        const R *hp = s == 0 ? h0 : Y + tp * B * DH;
        int64_t ldh = s == 0 ? HW : DH;
        const R *cp = s == 0 ? c0 : aux + tp * B * H;
        fill_rows_kernel<R><<<blocks_for(B * GH), kThreads>>>(tmp, (const R *)p->b_hh, B, GH);
        if (hp && gemm_rm(dt, 0, 1, B, GH, HW, hp, ldh, p->w_hh, HW, 1.0, tmp, GH)) return -1;
        R *yt = Y + t * B * DH, *ht = P ? hf + t * B * H : yt;
        cell_forward_kernel<R><<<blocks_for(B * H), kThreads>>>(mode, gates + t * B * GH, tmp, hp, ldh, cp,
                                                               aux + t * B * H, ht, B, H, GH, P ? H : DH);
        if (P && gemm_rm(dt, 0, 1, B, P, H, ht, H, p->w_hr, H, 0.0, yt, DH)) return -1;
    }
    int64_t tl = dir ? 0 : NT - 1;
    cudaError_t e = cudaSuccess;
    if (p->hn) e = cudaMemcpy2DAsync(p->hn, HW * sizeof(R), Y + tl * B * DH, DH * sizeof(R), HW * sizeof(R), B,
                                     cudaMemcpyDeviceToDevice);
    if (e == cudaSuccess && p->cn && mode == GD_NN_LSTM)
        e = cudaMemcpyAsync(p->cn, aux + tl * B * H, B * H * sizeof(R), cudaMemcpyDeviceToDevice);
    if (e != cudaSuccess) return fail(e, "rnn forward: final states");
    return check_launch("rnn forward");
}

template <typename R>
static int rnn_backward(const gd_rnn_plan *p)
{
    const int64_t NT = p->T, B = p->B, I = p->I, H = p->H, GH = gates_of(p->mode) * H, DH = p->DH;
    const int64_t P = p->P, HW = p->HW;
    const int mode = p->mode, dir = p->dir, dt = p->dtype;
    const R clip = (R)p->clip;
    const R *gates = (const R *)p->ws, *aux = gates + NT * B * GH;
    const R *hf = P ? aux + (mode >= GD_NN_LSTM ? NT * B * H : 0) + B * GH : NULL;
    const R *x = (const R *)p->x, *h0 = (const R *)p->h0, *c0 = (const R *)p->c0;
    const R *Y = (const R *)p->y + dir * HW, *GY = p->gy ? (const R *)p->gy + dir * HW : nullptr;
    R *dgx = (R *)p->bws, *dgh = mode == GD_NN_GRU ? dgx + NT * B * GH : dgx;
    R *dh = dgx + NT * B * GH * (mode == GD_NN_GRU ? 2 : 1), *dc = dh + B * H, *dh2 = dc + B * H;
    R *dhf = P ? dh2 + B * H : NULL, *dhp = P ? dhf + B * H : NULL;
    size_t bh = (size_t)(B * HW) * sizeof(R), bc = (size_t)(B * H) * sizeof(R);
    cudaError_t e = p->ghn ? cudaMemcpyAsync(dh, p->ghn, bh, cudaMemcpyDeviceToDevice) : cudaMemsetAsync(dh, 0, bh);
    if (e == cudaSuccess) e = p->gcn ? cudaMemcpyAsync(dc, p->gcn, bc, cudaMemcpyDeviceToDevice) : cudaMemsetAsync(dc, 0, bc);
    if (e != cudaSuccess) return fail(e, "rnn backward: final state gradients");
    for (int64_t s = NT - 1; s >= 0; s--) {
        int64_t t = dir ? NT - 1 - s : s, tp = dir ? t + 1 : t - 1;
        const R *hp = s == 0 ? h0 : Y + tp * B * DH;
        int64_t ldh = s == 0 ? HW : DH;
        const R *cp = s == 0 ? c0 : aux + tp * B * H;
        const R *din = dh, *gyt = GY ? GY + t * B * DH : nullptr;
        if (P) {   // through the projection: dhp[t] = dh + gy[t], dhf = dhp[t] @ w_hr
            R *dp = dhp + t * B * P;
            proj_grad_kernel<R><<<blocks_for(B * P), kThreads>>>(dp, dh, gyt, B, P, DH);
            if (gemm_rm(dt, 0, 0, B, H, P, dp, P, p->w_hr, H, 0.0, dhf, H)) return -1;
            din = dhf;
            gyt = nullptr;
        }
        cell_backward_kernel<R><<<blocks_for(B * H), kThreads>>>(
            mode, dgx + t * B * GH, dgh + t * B * GH, gates + t * B * GH, aux + t * B * H, Y + t * B * DH,
            gyt, hp, ldh, cp, din, dc, dh2, B, H, GH, DH, clip);
        if (s > 0 || p->gh0) {
            if (gemm_rm(dt, 0, 0, B, HW, GH, dgh + t * B * GH, GH, p->w_hh, HW, mode == GD_NN_GRU ? 1.0 : 0.0, dh2, HW))
                return -1;
            R *sw = dh; dh = dh2; dh2 = sw;
        }
    }
    if (p->gh0 && (e = cudaMemcpyAsync(p->gh0, dh, bh, cudaMemcpyDeviceToDevice)) != cudaSuccess) return fail(e, "rnn backward");
    if (p->gc0 && mode == GD_NN_LSTM && (e = cudaMemcpyAsync(p->gc0, dc, bc, cudaMemcpyDeviceToDevice)) != cudaSuccess)
        return fail(e, "rnn backward");
    if (p->gw_ih && gemm_rm(dt, 1, 0, GH, I, NT * B, dgx, GH, x, I, 1.0, p->gw_ih, I)) return -1;
    if (p->gw_hh) {
        if (NT > 1) {
            const R *a = dir ? dgh : dgh + B * GH, *hy = dir ? Y + B * DH : Y;
            if (gemm_rm(dt, 1, 0, GH, HW, (NT - 1) * B, a, GH, hy, DH, 1.0, p->gw_hh, HW)) return -1;
        }
        if (h0 && gemm_rm(dt, 1, 0, GH, HW, B, dgh + (dir ? NT - 1 : 0) * B * GH, GH, h0, HW, 1.0, p->gw_hh, HW))
            return -1;
    }
    if (P && p->gw_hr && gemm_rm(dt, 1, 0, P, H, NT * B, dhp, P, hf, H, 1.0, p->gw_hr, H)) return -1;
    if (p->gb_ih) colsum_add_kernel<R><<<blocks_for(GH), kThreads>>>((R *)p->gb_ih, dgx, NT * B, GH);
    if (p->gb_hh) colsum_add_kernel<R><<<blocks_for(GH), kThreads>>>((R *)p->gb_hh, dgh, NT * B, GH);
    if (p->gx && gemm_rm(dt, 0, 0, NT * B, I, GH, dgx, GH, p->w_ih, I, p->accumulate_gx ? 1.0 : 0.0, p->gx, I))
        return -1;
    return check_launch("rnn backward");
}

}  // namespace gdcuda

namespace gdcuda {

// the backend table's entries (0 or -1 with the reason in the error string)
int nn_rnn_forward(const gd_rnn_plan *p)
{
    return p->dtype == GD_FLOAT32 ? rnn_forward<float>(p) : rnn_forward<double>(p);
}

int nn_rnn_backward(const gd_rnn_plan *p)
{
    return p->dtype == GD_FLOAT32 ? rnn_backward<float>(p) : rnn_backward<double>(p);
}

}  // namespace gdcuda
