/*
 * rnn.h: the CPU loops behind gd.nn.RNN/LSTM/GRU (src/cpu/rnn.c), the CPU
 * backend's nn_rnn_forward/backward, called by the checks in src/nn_rnn.c
 * once every operand is a contiguous float32/float64 tensor of the right
 * shape.  Not part of the public ABI.
 *
 * Shapes: T = time steps, B = batch, I = input features, H = hidden units,
 * G = gates (LSTM 4, GRU 3, RNN 1), P = LSTM's proj_size (0: none), R = h's
 * width (P, or H), DH = y's row length (R or 2R).
 */
#ifndef GD_CPU_RNN_H
#define GD_CPU_RNN_H

#include "../backend.h"   /* gd_rnn_plan */


/* Workspace element counts of one layer-direction (see gd_nn_rnn_workspace). */
int64_t gd_cpu_rnn_ws_fwd(int mode, int64_t T, int64_t B, int64_t H, int64_t P);
int64_t gd_cpu_rnn_ws_bwd(int mode, int64_t T, int64_t B, int64_t H, int64_t P);
void gd_cpu_rnn_forward(const gd_rnn_plan *p);
void gd_cpu_rnn_backward(const gd_rnn_plan *p);
/* the backend entries */
int gd_cpu_nn_rnn_forward(const gd_rnn_plan *p);
int gd_cpu_nn_rnn_backward(const gd_rnn_plan *p);

#endif
