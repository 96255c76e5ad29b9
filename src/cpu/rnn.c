/*
 * rnn.c: the CPU loops of gd.nn.RNN, LSTM and GRU, one layer in one
 * direction per call (the plan's checks are src/nn_rnn.c's).  After llm.c's
 * reference-first kernels: the cell math is src/kernels/nn.h's, the matrix
 * products OpenBLAS's.
 *
 * Forward, per layer-direction (T = time, B = batch, I = input, H = hidden,
 * G gates, GH = G*H, R = h's width: H, or LSTM's proj_size P, DH = y's row):
 *   gates (T*B x GH) = x (T*B x I) @ w_ih^T + b_ih     one gemm for the sequence
 *   for each step t (backwards in time for dir 1):
 *     tmp (B x GH) = h_prev (B x R) @ w_hh^T + b_hh    one gemm
 *     the fused cell: gates[t] <- activated gates, aux[t] <- LSTM's c or
 *     GRU's hidden n part, y[t] <- h (with a projection: hf[t] <- o tanh(c),
 *     then y[t] (B x P) = hf[t] @ w_hr^T, one gemm)
 * Backward, steps in reverse processing order:
 *   dh += gy[t] (projection: dhp[t] = that, dhf = dhp[t] @ w_hr, one gemm);
 *   the cell's gradient -> dgx[t] (and GRU's dgh[t]), dc;
 *   dh_prev = dgh[t] @ w_hh (+ GRU's dh z)             one gemm per step
 *   then gw_ih += dgx^T @ x, gw_hh += dgh^T @ h_prev (two gemms: the steps
 *   whose h_prev is in y, and the first step's h0), gw_hr += dhp^T @ hf, the
 *   bias column sums, gx = dgx @ w_ih.
 *
 * ws: gates (T*B*GH) | aux (T*B*H; LSTM and GRU) | tmp (B*GH) | hf (T*B*H; P > 0)
 * bws: dgx (T*B*GH) | dgh (T*B*GH; GRU) | dh, dc, dh2 (B*H each)
 *      | dhf (B*H), dhp (T*B*P) (P > 0)
 */
#include "rnn.h"
#include "conv.h"
#include "../internal.h"
#include "../kernels/nn.h"

#include <string.h>

static int64_t gates_of(int mode) { return mode == GD_NN_LSTM ? 4 : mode == GD_NN_GRU ? 3 : 1; }

int64_t gd_cpu_rnn_ws_fwd(int mode, int64_t T, int64_t B, int64_t H, int64_t P)
{
    int64_t GH = gates_of(mode) * H;
    return T * B * GH + (mode >= GD_NN_LSTM ? T * B * H : 0) + B * GH + (P > 0 ? T * B * H : 0);
}

int64_t gd_cpu_rnn_ws_bwd(int mode, int64_t T, int64_t B, int64_t H, int64_t P)
{
    int64_t GH = gates_of(mode) * H;
    return T * B * GH * (mode == GD_NN_GRU ? 2 : 1) + 3 * B * H + (P > 0 ? B * H + T * B * P : 0);
}

/* rows x n: every row = v (or zeros when v is NULL) */
#define FILL_ROWS(T, dst, rows, n, v)                                                          \
    do {                                                                                       \
        for (int64_t r_ = 0; r_ < (rows); r_++) {                                              \
            if (v) memcpy((dst) + r_ * (n), (v), (size_t)(n) * sizeof(T));                     \
            else memset((dst) + r_ * (n), 0, (size_t)(n) * sizeof(T));                         \
        }                                                                                      \
    } while (0)

#define DEFINE_RNN(R, S)                                                                       \
    static void rnn_forward_##S(const gd_rnn_plan *p)                                          \
    {                                                                                          \
        const int64_t NT = p->T, B = p->B, I = p->I, H = p->H, GH = p->G * p->H, DH = p->DH;   \
        const int64_t P = p->P, RW = p->HW;                                                    \
        const int mode = p->mode, dir = p->dir, relu_ = mode == GD_NN_RNN_RELU;                \
        R *gates = (R *)p->ws;                                                                 \
        R *aux = gates + NT * B * GH;                                                          \
        R *tmp = aux + (mode >= GD_NN_LSTM ? NT * B * H : 0);                                  \
        R *hf = P ? tmp + B * GH : NULL;                                                       \
        const R *x = (const R *)p->x, *h0 = (const R *)p->h0, *c0 = (const R *)p->c0;          \
        const R *bih = (const R *)p->b_ih, *bhh = (const R *)p->b_hh;                          \
        R *Y = (R *)p->y + dir * RW;                                                           \
        FILL_ROWS(R, gates, NT * B, GH, bih);                                                  \
        gd_cpu_gemm_raw(p->dtype, 0, 1, NT * B, GH, I, x, I, p->w_ih, I, 1.0, gates, GH);      \
        for (int64_t s = 0; s < NT; s++) {                                                     \
            int64_t t = dir ? NT - 1 - s : s, tp = dir ? t + 1 : t - 1;                        \
            const R *hp = s == 0 ? h0 : Y + tp * B * DH;                                       \
            int64_t ldh = s == 0 ? RW : DH;                                                    \
            const R *cp = s == 0 ? c0 : aux + tp * B * H;                                      \
            FILL_ROWS(R, tmp, B, GH, bhh);                                                     \
            if (hp)                                                                            \
                gd_cpu_gemm_raw(p->dtype, 0, 1, B, GH, RW, hp, ldh, p->w_hh, RW, 1.0, tmp, GH);\
            R *g = gates + t * B * GH, *yt = Y + t * B * DH, *at = aux + t * B * H;            \
            /* the cell's h: y's row, or hf's (projected below) */                             \
            R *ht = P ? hf + t * B * H : yt;                                                   \
            const int64_t ldo = P ? H : DH;                                                    \
            _Pragma("omp parallel for schedule(static) if (B * H > 32768)")                    \
            for (int64_t b = 0; b < B; b++) {                                                  \
                R *gb = g + b * GH;                                                            \
                const R *tb = tmp + b * GH;                                                    \
                for (int64_t j = 0; j < H; j++) {                                              \
                    R h;                                                                       \
                    if (mode == GD_NN_LSTM)                                                    \
                        h = gd_nn_lstm_cell_##S(gb, tb, H, j, cp ? cp[b * H + j] : (R)0,       \
                                                &at[b * H + j]);                               \
                    else if (mode == GD_NN_GRU)                                                \
                        h = gd_nn_gru_cell_##S(gb, tb, H, j, hp ? hp[b * ldh + j] : (R)0,      \
                                               &at[b * H + j]);                                \
                    else                                                                       \
                        h = gd_nn_rnn_cell_##S(gb[j] + tb[j], relu_);                          \
                    ht[b * ldo + j] = h;                                                       \
                }                                                                              \
            }                                                                                  \
            if (P) gd_cpu_gemm_raw(p->dtype, 0, 1, B, P, H, ht, H, p->w_hr, H, 0.0, yt, DH);   \
        }                                                                                      \
        int64_t tl = dir ? 0 : NT - 1;                                                         \
        if (p->hn)                                                                             \
            for (int64_t b = 0; b < B; b++)                                                    \
                memcpy((R *)p->hn + b * RW, Y + tl * B * DH + b * DH, (size_t)RW * sizeof(R)); \
        if (p->cn && mode == GD_NN_LSTM)                                                       \
            memcpy(p->cn, aux + tl * B * H, (size_t)(B * H) * sizeof(R));                      \
    }                                                                                          \
                                                                                               \
    /* gb[c] += sum over rows of m[r, c] (rows x n), each column summed in double */           \
    static void colsum_add_##S(R *gb, const R *m, int64_t rows, int64_t n)                     \
    {                                                                                          \
        for (int64_t c = 0; c < n; c++) {                                                      \
            double s = 0;                                                                      \
            for (int64_t r = 0; r < rows; r++) s += (double)m[r * n + c];                      \
            gb[c] += (R)s;                                                                     \
        }                                                                                      \
    }                                                                                          \
                                                                                               \
    static void rnn_backward_##S(const gd_rnn_plan *p)                                         \
    {                                                                                          \
        const int64_t NT = p->T, B = p->B, I = p->I, H = p->H, GH = p->G * p->H, DH = p->DH;   \
        const int64_t P = p->P, RW = p->HW;                                                    \
        const int mode = p->mode, dir = p->dir, relu_ = mode == GD_NN_RNN_RELU;                \
        const R clip = (R)p->clip;                                                             \
        const R *gates = (const R *)p->ws;                                                     \
        const R *aux = gates + NT * B * GH;                                                    \
        const R *hf = P ? aux + (mode >= GD_NN_LSTM ? NT * B * H : 0) + B * GH : NULL;         \
        const R *x = (const R *)p->x, *h0 = (const R *)p->h0, *c0 = (const R *)p->c0;          \
        const R *Y = (const R *)p->y + dir * RW;                                               \
        const R *GY = p->gy ? (const R *)p->gy + dir * RW : NULL;                              \
        R *dgx = (R *)p->bws;                                                                  \
        R *dgh = mode == GD_NN_GRU ? dgx + NT * B * GH : dgx;                                  \
        R *dh = dgx + NT * B * GH * (mode == GD_NN_GRU ? 2 : 1);                               \
        R *dc = dh + B * H, *dh2 = dc + B * H;                                                 \
        R *dhf = P ? dh2 + B * H : NULL, *dhp = P ? dhf + B * H : NULL;                        \
        if (p->ghn) memcpy(dh, p->ghn, (size_t)(B * RW) * sizeof(R));                          \
        else memset(dh, 0, (size_t)(B * RW) * sizeof(R));                                      \
        if (p->gcn) memcpy(dc, p->gcn, (size_t)(B * H) * sizeof(R));                           \
        else memset(dc, 0, (size_t)(B * H) * sizeof(R));                                       \
        for (int64_t s = NT - 1; s >= 0; s--) {                                                \
            int64_t t = dir ? NT - 1 - s : s, tp = dir ? t + 1 : t - 1;                        \
            const R *hp = s == 0 ? h0 : Y + tp * B * DH;                                       \
            int64_t ldh = s == 0 ? RW : DH;                                                    \
            const R *cp = s == 0 ? c0 : aux + tp * B * H;                                      \
            const R *g = gates + t * B * GH, *at = aux + t * B * H, *yt = Y + t * B * DH;      \
            R *dx = dgx + t * B * GH, *dhh = dgh + t * B * GH;                                 \
            /* the gradient reaching the cell's h: dh + gy[t], through w_hr when projecting */ \
            const R *din = dh, *gyt = GY ? GY + t * B * DH : NULL;                             \
            if (P) {                                                                           \
                R *dp = dhp + t * B * P;                                                       \
                for (int64_t b = 0; b < B; b++)                                                \
                    for (int64_t k = 0; k < P; k++)                                            \
                        dp[b * P + k] = dh[b * P + k] + (gyt ? gyt[b * DH + k] : (R)0);        \
                gd_cpu_gemm_raw(p->dtype, 0, 0, B, H, P, dp, P, p->w_hr, H, 0.0, dhf, H);      \
                din = dhf;                                                                     \
                gyt = NULL;                                                                    \
            }                                                                                  \
            _Pragma("omp parallel for schedule(static) if (B * H > 32768)")                    \
            for (int64_t b = 0; b < B; b++) {                                                  \
                for (int64_t j = 0; j < H; j++) {                                              \
                    R d = din[b * H + j];                                                      \
                    if (gyt) d += gyt[b * DH + j];                                             \
                    if (mode == GD_NN_LSTM)                                                    \
                        gd_nn_lstm_cell_grad_##S(dx + b * GH, g + b * GH, H, j,                \
                                                 cp ? cp[b * H + j] : (R)0, at[b * H + j], d,  \
                                                 &dc[b * H + j], clip);                        \
                    else if (mode == GD_NN_GRU)                                                \
                        dh2[b * H + j] = gd_nn_gru_cell_grad_##S(dx + b * GH, dhh + b * GH,    \
                                                                 g + b * GH, H, j,             \
                                                                 at[b * H + j],                \
                                                                 hp ? hp[b * ldh + j] : (R)0, d); \
                    else                                                                       \
                        dx[b * GH + j] = gd_nn_rnn_cell_grad_##S(yt[b * DH + j], d, relu_);    \
                }                                                                              \
            }                                                                                  \
            if (s > 0 || p->gh0) {                                                             \
                gd_cpu_gemm_raw(p->dtype, 0, 0, B, RW, GH, dhh, GH, p->w_hh, RW,               \
                                mode == GD_NN_GRU ? 1.0 : 0.0, dh2, RW);                       \
                R *sw = dh; dh = dh2; dh2 = sw;                                                \
            }                                                                                  \
        }                                                                                      \
        if (p->gh0) memcpy(p->gh0, dh, (size_t)(B * RW) * sizeof(R));                          \
        if (p->gc0 && mode == GD_NN_LSTM) memcpy(p->gc0, dc, (size_t)(B * H) * sizeof(R));     \
        if (p->gw_ih)                                                                          \
            gd_cpu_gemm_raw(p->dtype, 1, 0, GH, I, NT * B, dgx, GH, x, I, 1.0, p->gw_ih, I);   \
        if (p->gw_hh) {                                                                        \
            if (NT > 1) {                                                                      \
                const R *a = dir ? dgh : dgh + B * GH, *hy = dir ? Y + B * DH : Y;             \
                gd_cpu_gemm_raw(p->dtype, 1, 0, GH, RW, (NT - 1) * B, a, GH, hy, DH, 1.0,      \
                                p->gw_hh, RW);                                                 \
            }                                                                                  \
            if (h0) {                                                                          \
                int64_t t0 = dir ? NT - 1 : 0;                                                 \
                gd_cpu_gemm_raw(p->dtype, 1, 0, GH, RW, B, dgh + t0 * B * GH, GH, h0, RW, 1.0, \
                                p->gw_hh, RW);                                                 \
            }                                                                                  \
        }                                                                                      \
        if (P && p->gw_hr)                                                                     \
            gd_cpu_gemm_raw(p->dtype, 1, 0, P, H, NT * B, dhp, P, hf, H, 1.0, p->gw_hr, H);    \
        if (p->gb_ih) colsum_add_##S((R *)p->gb_ih, dgx, NT * B, GH);                          \
        if (p->gb_hh) colsum_add_##S((R *)p->gb_hh, dgh, NT * B, GH);                          \
        if (p->gx)                                                                             \
            gd_cpu_gemm_raw(p->dtype, 0, 0, NT * B, I, GH, dgx, GH, p->w_ih, I,                \
                            p->accumulate_gx ? 1.0 : 0.0, p->gx, I);                           \
    }

DEFINE_RNN(float, f)
DEFINE_RNN(double, d)

void gd_cpu_rnn_forward(const gd_rnn_plan *p)
{
    if (p->dtype == GD_FLOAT32) rnn_forward_f(p);
    else rnn_forward_d(p);
}

void gd_cpu_rnn_backward(const gd_rnn_plan *p)
{
    if (p->dtype == GD_FLOAT32) rnn_backward_f(p);
    else rnn_backward_d(p);
}

int gd_cpu_nn_rnn_forward(const gd_rnn_plan *p)
{
    gd_cpu_rnn_forward(p);
    return 0;
}

int gd_cpu_nn_rnn_backward(const gd_rnn_plan *p)
{
    gd_cpu_rnn_backward(p);
    return 0;
}
