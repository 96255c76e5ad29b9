/*
 * conv.h: the CPU loops behind convolution and pooling (src/cpu/conv.c),
 * behind the CPU backend's nn_conv2d.. and nn_pool2d.. entries (src/backend.h)
 * and the RNN cells (src/cpu/rnn.c).  Not part of the public ABI.
 *
 * Shapes: N = batch, C = channels, H x W = input plane, OH x OW = output plane,
 * KH x KW = kernel.  A geometry g is {KH, KW, SH, SW, PH, PW, DH, DW}
 * (kernel, stride, padding, dilation).
 */
#ifndef GD_CPU_CONV_H
#define GD_CPU_CONV_H

#include "../backend.h"   /* gd_conv_geom */

/* col (C*KH*KW x OH*OW) = the patches of x (C x H x W); zero where padded. */
void gd_cpu_im2col(int dtype, const void *x, void *col, const gd_conv_geom *g);
/* gx (C x H x W) += the patches in col scattered back (the adjoint of im2col). */
void gd_cpu_col2im(int dtype, const void *col, void *gx, const gd_conv_geom *g);

/* y = A (m x k) @ B (k x n) (+ y when beta), row-major, with transposes. */
void gd_cpu_gemm_raw(int dtype, int ta, int tb, int64_t m, int64_t n, int64_t k, const void *a, int64_t lda,
                     const void *b, int64_t ldb, double beta, void *c, int64_t ldc);

/* Pooling over planes (N*C of them).  kind: 0 max (idx: the argmax of each
   output, an offset in its plane, or -1 for a window of only padding), 1 avg
   (count_include_pad, divisor_override: PyTorch's avg_pool2d). */
void gd_cpu_maxpool(int dtype, const void *x, void *y, int64_t *idx, int64_t planes, const gd_conv_geom *g);
void gd_cpu_maxpool_backward(int dtype, const void *gy, const int64_t *idx, void *gx, int64_t planes,
                             const gd_conv_geom *g);
void gd_cpu_avgpool(int dtype, const void *x, void *y, int64_t planes, const gd_conv_geom *g,
                    int count_include_pad, int64_t divisor_override);
void gd_cpu_avgpool_backward(int dtype, const void *gy, void *gx, int64_t planes, const gd_conv_geom *g,
                             int count_include_pad, int64_t divisor_override);
/* AdaptiveAvgPool2d: output cell (i, j) averages rows floor(i*H/OH) ..
   ceil((i+1)*H/OH) - 1 and likewise columns (PyTorch's start_index/end_index). */
void gd_cpu_adaptive_avgpool(int dtype, const void *x, void *y, int64_t planes, const gd_conv_geom *g);
void gd_cpu_adaptive_avgpool_backward(int dtype, const void *gy, void *gx, int64_t planes, const gd_conv_geom *g);

/* the backend entries (src/backend.h) */
int gd_cpu_nn_conv2d(int dtype, void *y, void *col, const void *x, const void *w, const void *b, int64_t N,
                     int64_t O, int64_t G, const gd_conv_geom *g);
int gd_cpu_nn_conv2d_backward(int dtype, void *gx, void *gw, void *gb, void *col, const void *gy, const void *x,
                              const void *w, int64_t N, int64_t O, int64_t G, const gd_conv_geom *g);
int gd_cpu_nn_conv_transpose2d(int dtype, void *y, void *col, const void *x, const void *w, const void *b,
                               int64_t N, int64_t Cin, int64_t G, const gd_conv_geom *g);
int gd_cpu_nn_conv_transpose2d_backward(int dtype, void *gx, void *gw, void *gb, void *col, const void *gy,
                                        const void *x, const void *w, int64_t N, int64_t Cin, int64_t G,
                                        const gd_conv_geom *g);
int gd_cpu_nn_pool2d(int dtype, int kind, void *y, int64_t *idx, const void *x, int64_t planes,
                     const gd_conv_geom *g, int count_include_pad, int64_t divisor_override);
int gd_cpu_nn_pool2d_backward(int dtype, int kind, void *gx, const void *gy, const int64_t *idx, int64_t planes,
                              const gd_conv_geom *g, int count_include_pad, int64_t divisor_override);

#endif
