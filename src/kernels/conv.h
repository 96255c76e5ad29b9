/*
 * conv.h: the window arithmetic of pooling, shared by the CPU loops
 * (src/cpu/conv.c) and the CUDA kernels (cuda/conv.cu), after PyTorch 1.13's
 * aten/src/ATen/native/cpu/{AvgPoolKernel,AdaptiveAvgPoolKernel}.cpp.  The
 * includer has gd_conv_geom (src/backend.h).
 */
#ifndef GD_KERNELS_CONV_H
#define GD_KERNELS_CONV_H

#include "hd.h"

/* The window [h0, h1) x [w0, w1) of output (oh, ow) and its divisor, as in
   PyTorch's avg_pool2d: the padded window is clipped to the padded input for
   count_include_pad, then to the input itself for the sum. */
GD_HD static inline int64_t gd_avg_window(const gd_conv_geom *g, int64_t oh, int64_t ow, int count_include_pad,
                                          int64_t divisor_override, int64_t *h0, int64_t *h1, int64_t *w0,
                                          int64_t *w1)
{
    int64_t a0 = oh * g->sh - g->ph, b0 = ow * g->sw - g->pw;
    int64_t a1 = a0 + g->kh < g->H + g->ph ? a0 + g->kh : g->H + g->ph;
    int64_t b1 = b0 + g->kw < g->W + g->pw ? b0 + g->kw : g->W + g->pw;
    int64_t pool = (a1 - a0) * (b1 - b0);
    if (a0 < 0) a0 = 0;
    if (b0 < 0) b0 = 0;
    if (a1 > g->H) a1 = g->H;
    if (b1 > g->W) b1 = g->W;
    *h0 = a0; *h1 = a1; *w0 = b0; *w1 = b1;
    if (divisor_override) return divisor_override;
    return count_include_pad ? pool : (a1 - a0) * (b1 - b0);
}

/* AdaptiveAvgPool2d: output o of `out` covers inputs start .. end - 1 of `in` */
GD_HD static inline int64_t gd_adaptive_start(int64_t o, int64_t out, int64_t in) { return (o * in) / out; }
GD_HD static inline int64_t gd_adaptive_end(int64_t o, int64_t out, int64_t in)
{
    return ((o + 1) * in + out - 1) / out;
}

/* The window [h0, h1) x [w0, w1) of adaptive output (oh, ow) and its size */
GD_HD static inline int64_t gd_adaptive_window(const gd_conv_geom *g, int64_t oh, int64_t ow, int64_t *h0,
                                               int64_t *h1, int64_t *w0, int64_t *w1)
{
    *h0 = gd_adaptive_start(oh, g->OH, g->H);
    *h1 = gd_adaptive_end(oh, g->OH, g->H);
    *w0 = gd_adaptive_start(ow, g->OW, g->W);
    *w1 = gd_adaptive_end(ow, g->OW, g->W);
    return (*h1 - *h0) * (*w1 - *w0);
}

#endif
