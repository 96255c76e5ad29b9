/*
 * nn_conv.c: convolution and pooling (gd.nn.Conv1d/Conv2d, MaxPool2d,
 * AvgPool2d, AdaptiveAvgPool2d): argument checks, output shapes, and the
 * call of the device's backend (src/backend.h: nn_conv2d.., nn_pool2d..; the
 * loops in src/cpu/conv.c and cuda/conv.cu).  Each layer is one C call per
 * direction (forward, backward), the seam an autograd node reuses.
 *
 * Layout is PyTorch's: x is N x C x H x W, a conv weight O x C/groups x KH x KW.
 * Every operand is on the input's device; a strided input goes through a
 * contiguous copy on that device, never through the host.
 */
#include "internal.h"
#include "backend.h"

#include <stdio.h>

/* ------------------------------------------------------------ checks */

/* dtype, device: the input's (-1: the input itself, any) */
static int check_operand(const gd_tensor *t, const char *fn, const char *what, int dtype, int device)
{
    GD_TRY(gd_check_tensor(t, what));
    if (!gd_is_float(t->scalar_type))
        return gd_fail(GD_EINVAL, "%s: the %s must be float32 or float64, got %s", fn, what,
                       gd_dtype_name(t->scalar_type));
    if (dtype >= 0 && t->scalar_type != dtype)
        return gd_fail(GD_EINVAL, "%s: the %s is %s but the input is %s", fn, what, gd_dtype_name(t->scalar_type),
                       gd_dtype_name(dtype));
    if (device >= 0 && t->device_kind != device)
        return gd_fail(GD_EINVAL, "%s: the %s is on %s but the input is on %s", fn, what,
                       gd_device_name(t->device_kind), gd_device_name(device));
    return GD_OK;
}

/* "2x3x4" */
static const char *dims_str(char *buf, size_t len, int rank, const int64_t *sizes)
{
    size_t n = 0;
    buf[0] = 0;
    for (int d = 0; d < rank && n < len; d++)
        n += (size_t)snprintf(buf + n, len - n, d ? "x%lld" : "%lld", (long long)sizes[d]);
    return buf;
}

/* Buffers the layer owns and writes: contiguous, of exactly this shape. */
static int check_buffer(const gd_tensor *t, const char *fn, const char *what, int dtype, int device, int rank,
                        const int64_t *sizes)
{
    GD_TRY(check_operand(t, fn, what, dtype, device));
    bool ok = t->rank == rank && t->is_contiguous;
    for (int d = 0; ok && d < rank; d++) ok = t->sizes[d] == sizes[d];
    if (ok) return GD_OK;
    char s[128], e[128];
    return gd_fail(GD_EINVAL, "%s: the %s has shape %s%s, expected a contiguous %s", fn, what,
                   gd_shape_str(t, s, sizeof s), t->is_contiguous ? "" : " (not contiguous)", dims_str(e, sizeof e, rank, sizes));
}

/* The input as a contiguous tensor: t retained, or a copy. */
static int dense(gd_tensor **out, const gd_tensor *t)
{
    if (t->is_contiguous) {
        gd_tensor_retain((gd_tensor *)t);
        *out = (gd_tensor *)t;
        return GD_OK;
    }
    return gd_contiguous(out, t);
}

/* PyTorch's pooling_output_shape / conv output size: floor (or ceil) of
   (in + 2p - d(k-1) - 1) / s + 1; with ceil_mode the last window must start
   inside the input or the left padding. */
static int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, int ceil_mode)
{
    int64_t num = in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
    int64_t o = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
    if (ceil_mode && (o - 1) * s >= in + p) o--;
    return o;
}

static int check_positive(const char *fn, const char *what, int64_t v, int64_t min)
{
    if (v < min) return gd_fail(GD_EINVAL, "%s: %s must be >= %lld, got %lld", fn, what, (long long)min, (long long)v);
    return GD_OK;
}

/* ------------------------------------------------------------ conv2d */

/* geom = {SH, SW, PH, PW, DH, DW, groups}; fills g and checks x against w. */
static int conv_geom(gd_conv_geom *g, int64_t *groups, const gd_tensor *x, const gd_tensor *w, const int64_t *geom,
                     const char *fn)
{
    GD_TRY(check_operand(x, fn, "input", -1, -1));
    GD_TRY(check_operand(w, fn, "weight", x->scalar_type, x->device_kind));
    char s1[128], s2[128];
    /* 2-D: x N x C x H x W, w O x C/G x KH x KW; 1-D (Conv1d): x N x C x W,
       w O x C/G x KW, run as H = KH = 1 */
    if (x->rank != 4 && x->rank != 3)
        return gd_fail(GD_EINVAL, "%s: the input must be 4-D (batch x channels x height x width) or 3-D (batch x "
                       "channels x length), got shape %s", fn, gd_shape_str(x, s1, sizeof s1));
    if (w->rank != x->rank)
        return gd_fail(GD_EINVAL, "%s: the weight must be %d-D (out x in/groups x kernel), got shape %s", fn,
                       x->rank, gd_shape_str(w, s1, sizeof s1));
    GD_TRY(check_positive(fn, "stride", geom[0], 1));
    GD_TRY(check_positive(fn, "stride", geom[1], 1));
    GD_TRY(check_positive(fn, "padding", geom[2], 0));
    GD_TRY(check_positive(fn, "padding", geom[3], 0));
    GD_TRY(check_positive(fn, "dilation", geom[4], 1));
    GD_TRY(check_positive(fn, "dilation", geom[5], 1));
    GD_TRY(check_positive(fn, "groups", geom[6], 1));
    int64_t G = geom[6], Cin = x->sizes[1], O = w->sizes[0];
    if (O % G != 0)
        return gd_fail(GD_EINVAL, "%s: out_channels (%lld) is not divisible by groups (%lld)", fn, (long long)O,
                       (long long)G);
    if (Cin != w->sizes[1] * G)
        return gd_fail(GD_EINVAL,
                       "%s: the input has %lld channels but the layer takes %lld (weight %s, groups %lld; input %s)",
                       fn, (long long)Cin, (long long)(w->sizes[1] * G), gd_shape_str(w, s2, sizeof s2),
                       (long long)G, gd_shape_str(x, s1, sizeof s1));
    bool two = x->rank == 4;
    *g = (gd_conv_geom){.C = Cin, .H = two ? x->sizes[2] : 1, .W = x->sizes[x->rank - 1],
                        .kh = two ? w->sizes[2] : 1, .kw = w->sizes[w->rank - 1],
                        .sh = geom[0], .sw = geom[1], .ph = geom[2], .pw = geom[3], .dh = geom[4], .dw = geom[5]};
    int64_t ekh = g->dh * (g->kh - 1) + 1, ekw = g->dw * (g->kw - 1) + 1;
    if (ekh > g->H + 2 * g->ph || ekw > g->W + 2 * g->pw)
        return gd_fail(GD_EINVAL,
                       "%s: the kernel (%lldx%lld with dilation, from %lldx%lld) is larger than the padded input "
                       "(%lldx%lld)",
                       fn, (long long)ekh, (long long)ekw, (long long)g->kh, (long long)g->kw,
                       (long long)(g->H + 2 * g->ph), (long long)(g->W + 2 * g->pw));
    g->OH = out_size(g->H, g->kh, g->sh, g->ph, g->dh, 0);
    g->OW = out_size(g->W, g->kw, g->sw, g->pw, g->dw, 0);
    *groups = G;
    return GD_OK;
}

int gd_nn_conv2d_shape(int64_t *out, const gd_tensor *x, const gd_tensor *w, const int64_t *geom)
{
    gd_conv_geom g;
    int64_t G;
    GD_TRY(conv_geom(&g, &G, x, w, geom, "conv2d"));
    /* 1-D: {N, O, OW, workspace, unused} */
    int r = 0;
    out[r++] = x->sizes[0];
    out[r++] = w->sizes[0];
    if (x->rank == 4) out[r++] = g.OH;
    out[r++] = g.OW;
    out[r++] = g.C * g.kh * g.kw * g.OH * g.OW;
    if (r == 4) out[4] = 0;
    return GD_OK;
}

static int check_col(const gd_tensor *col, const gd_conv_geom *g, int dtype, int device, const char *fn)
{
    GD_TRY(check_operand(col, fn, "workspace", dtype, device));
    if (!col->is_contiguous || col->count < g->C * g->kh * g->kw * g->OH * g->OW)
        return gd_fail(GD_EINVAL, "%s: the workspace holds %lld elements, needs %lld contiguous", fn,
                       (long long)col->count, (long long)(g->C * g->kh * g->kw * g->OH * g->OW));
    return GD_OK;
}

/* y[n, o] = bias[o] + sum over the group's channels and the kernel of w * x:
   per sample, col = im2col(x[n]) (C*KH*KW x OH*OW), then for each group
   y[n, group] (O/G x L) = w[group] (O/G x C/G*KH*KW) @ col[group rows]. */
int gd_nn_conv2d_forward(gd_tensor *y, gd_tensor *col, const gd_tensor *x, const gd_tensor *w, const gd_tensor *b,
                         const int64_t *geom)
{
    const char *fn = "conv2d";
    gd_conv_geom g;
    int64_t G;
    GD_TRY(conv_geom(&g, &G, x, w, geom, fn));
    int dt = x->scalar_type, dev = x->device_kind;
    int64_t N = x->sizes[0], O = w->sizes[0], ysz[4] = {N, O, g.OH, g.OW};
    if (x->rank == 3) ysz[2] = g.OW;
    GD_TRY(check_buffer(y, fn, "output", dt, dev, x->rank, ysz));
    GD_TRY(check_col(col, &g, dt, dev, fn));
    if (b) GD_TRY(check_buffer(b, fn, "bias", dt, dev, 1, &O));
    if (gd_views_conflict(y, x)) return gd_fail(GD_EINVAL, "%s: the output overlaps the input", fn);
    gd_tensor *xd = NULL, *wd = NULL;
    GD_TRY(dense(&xd, x));
    int st = dense(&wd, w);
    if (st) { gd_tensor_release(xd); return st; }
    const gd_backend *be = gd_backend_of(dev);
    st = be ? GD_BACKEND_CALL(be, fn, nn_conv2d(dt, y->data, col->data, xd->data, wd->data, b ? b->data : NULL, N,
                                                O, G, &g))
            : GD_EDEVICE;
    gd_tensor_release(xd);
    gd_tensor_release(wd);
    return st;
}

/* gw[group] += gy[n, group] @ col[group]^T; gb[o] += sum gy[n, o, :];
   gx[n] = col2im(w[group]^T @ gy[n, group]) (overwritten). */
int gd_nn_conv2d_backward(gd_tensor *gx, gd_tensor *gw, gd_tensor *gb, gd_tensor *col, const gd_tensor *gy,
                          const gd_tensor *x, const gd_tensor *w, const int64_t *geom)
{
    const char *fn = "conv2d backward";
    gd_conv_geom g;
    int64_t G;
    GD_TRY(conv_geom(&g, &G, x, w, geom, fn));
    int dt = x->scalar_type, dev = x->device_kind;
    int64_t N = x->sizes[0], O = w->sizes[0], ysz[4] = {N, O, g.OH, g.OW};
    if (x->rank == 3) ysz[2] = g.OW;
    GD_TRY(check_operand(gy, fn, "output gradient", dt, dev));
    bool ok = gy->rank == x->rank;
    for (int d = 0; ok && d < x->rank; d++) ok = gy->sizes[d] == ysz[d];
    if (!ok) {
        char s[128], e[128];
        return gd_fail(GD_EINVAL, "%s: the output gradient has shape %s, expected %s", fn,
                       gd_shape_str(gy, s, sizeof s), dims_str(e, sizeof e, x->rank, ysz));
    }
    GD_TRY(check_col(col, &g, dt, dev, fn));
    if (gx) GD_TRY(check_buffer(gx, fn, "input gradient", dt, dev, x->rank, x->sizes));
    if (gw) GD_TRY(check_buffer(gw, fn, "weight gradient", dt, dev, w->rank, w->sizes));
    if (gb) GD_TRY(check_buffer(gb, fn, "bias gradient", dt, dev, 1, &O));
    gd_tensor *xd = NULL, *wd = NULL, *gyd = NULL;
    int st = dense(&xd, x);
    if (!st) st = dense(&wd, w);
    if (!st) st = dense(&gyd, gy);
    if (st) { gd_tensor_release(xd); gd_tensor_release(wd); return st; }
    const gd_backend *be = gd_backend_of(dev);
    st = be ? GD_BACKEND_CALL(be, fn, nn_conv2d_backward(dt, gx ? gx->data : NULL, gw ? gw->data : NULL,
                                                         gb ? gb->data : NULL, col->data, gyd->data, xd->data,
                                                         wd->data, N, O, G, &g))
            : GD_EDEVICE;
    gd_tensor_release(xd);
    gd_tensor_release(wd);
    gd_tensor_release(gyd);
    return st;
}

/* ------------------------------------------------- conv_transpose2d */

/* ConvTranspose2d is the adjoint of a conv2d with respect to its input: the
   transposed layer's output (N x O x OH x OW) is that conv's input, its input
   (N x C x H x W) that conv's output.  So g describes the conv from the
   output plane to the input plane (g.C = O, g.H x g.W = OH x OW, g.OH x g.OW
   = H x W), and forward = col2im, backward = im2col, as PyTorch's
   slow_conv_transpose2d.  geom = {SH, SW, PH, PW, DH, DW, groups, OPH, OPW};
   w is C x O/groups x KH x KW;
   OH = (H - 1) SH - 2 PH + DH (KH - 1) + OPH + 1. */
static int convt_geom(gd_conv_geom *g, int64_t *groups, const gd_tensor *x, const gd_tensor *w, const int64_t *geom,
                      const char *fn)
{
    GD_TRY(check_operand(x, fn, "input", -1, -1));
    GD_TRY(check_operand(w, fn, "weight", x->scalar_type, x->device_kind));
    char s1[128], s2[128];
    if (x->rank != 4)
        return gd_fail(GD_EINVAL, "%s: the input must be 4-D (batch x channels x height x width), got shape %s", fn,
                       gd_shape_str(x, s1, sizeof s1));
    if (w->rank != 4)
        return gd_fail(GD_EINVAL, "%s: the weight must be 4-D (in x out/groups x kh x kw), got shape %s", fn,
                       gd_shape_str(w, s1, sizeof s1));
    GD_TRY(check_positive(fn, "stride", geom[0], 1));
    GD_TRY(check_positive(fn, "stride", geom[1], 1));
    GD_TRY(check_positive(fn, "padding", geom[2], 0));
    GD_TRY(check_positive(fn, "padding", geom[3], 0));
    GD_TRY(check_positive(fn, "dilation", geom[4], 1));
    GD_TRY(check_positive(fn, "dilation", geom[5], 1));
    GD_TRY(check_positive(fn, "groups", geom[6], 1));
    GD_TRY(check_positive(fn, "output_padding", geom[7], 0));
    GD_TRY(check_positive(fn, "output_padding", geom[8], 0));
    int64_t G = geom[6], Cin = x->sizes[1];
    if (Cin != w->sizes[0])
        return gd_fail(GD_EINVAL, "%s: the input has %lld channels but the layer takes %lld (weight %s; input %s)", fn,
                       (long long)Cin, (long long)w->sizes[0], gd_shape_str(w, s2, sizeof s2),
                       gd_shape_str(x, s1, sizeof s1));
    if (Cin % G != 0)
        return gd_fail(GD_EINVAL, "%s: in_channels (%lld) is not divisible by groups (%lld)", fn, (long long)Cin,
                       (long long)G);
    /* PyTorch: "output padding must be smaller than either stride or dilation" */
    if ((geom[7] >= geom[0] && geom[7] >= geom[4]) || (geom[8] >= geom[1] && geom[8] >= geom[5]))
        return gd_fail(GD_EINVAL, "%s: output_padding (%lldx%lld) must be smaller than the stride or the dilation "
                       "(%lldx%lld, %lldx%lld)", fn, (long long)geom[7], (long long)geom[8], (long long)geom[0],
                       (long long)geom[1], (long long)geom[4], (long long)geom[5]);
    int64_t kh = w->sizes[2], kw = w->sizes[3];
    int64_t OH = (x->sizes[2] - 1) * geom[0] - 2 * geom[2] + geom[4] * (kh - 1) + geom[7] + 1;
    int64_t OW = (x->sizes[3] - 1) * geom[1] - 2 * geom[3] + geom[5] * (kw - 1) + geom[8] + 1;
    if (OH < 1 || OW < 1)
        return gd_fail(GD_EINVAL, "%s: the output would be empty (%lldx%lld): the padding is too large for input %s",
                       fn, (long long)OH, (long long)OW, gd_shape_str(x, s1, sizeof s1));
    *g = (gd_conv_geom){.C = w->sizes[1] * G, .H = OH, .W = OW, .OH = x->sizes[2], .OW = x->sizes[3], .kh = kh,
                        .kw = kw, .sh = geom[0], .sw = geom[1], .ph = geom[2], .pw = geom[3], .dh = geom[4],
                        .dw = geom[5]};
    *groups = G;
    return GD_OK;
}

int gd_nn_conv_transpose2d_shape(int64_t *out, const gd_tensor *x, const gd_tensor *w, const int64_t *geom)
{
    gd_conv_geom g;
    int64_t G;
    GD_TRY(convt_geom(&g, &G, x, w, geom, "conv_transpose2d"));
    out[0] = x->sizes[0];
    out[1] = g.C;
    out[2] = g.H;
    out[3] = g.W;
    out[4] = g.C * g.kh * g.kw * g.OH * g.OW;
    return GD_OK;
}

/* per sample and group: col[group] (O/G*KH*KW x H*W) = w[group]^T
   (O/G*KH*KW x C/G) @ x[n, group] (C/G x H*W); y[n] = bias + col2im(col). */
int gd_nn_conv_transpose2d_forward(gd_tensor *y, gd_tensor *col, const gd_tensor *x, const gd_tensor *w,
                                   const gd_tensor *b, const int64_t *geom)
{
    const char *fn = "conv_transpose2d";
    gd_conv_geom g;
    int64_t G;
    GD_TRY(convt_geom(&g, &G, x, w, geom, fn));
    int dt = x->scalar_type, dev = x->device_kind;
    int64_t N = x->sizes[0], O = g.C, ysz[4] = {N, O, g.H, g.W};
    GD_TRY(check_buffer(y, fn, "output", dt, dev, 4, ysz));
    GD_TRY(check_col(col, &g, dt, dev, fn));
    if (b) GD_TRY(check_buffer(b, fn, "bias", dt, dev, 1, &O));
    if (gd_views_conflict(y, x)) return gd_fail(GD_EINVAL, "%s: the output overlaps the input", fn);
    gd_tensor *xd = NULL, *wd = NULL;
    GD_TRY(dense(&xd, x));
    int st = dense(&wd, w);
    if (st) { gd_tensor_release(xd); return st; }
    const gd_backend *be = gd_backend_of(dev);
    st = be ? GD_BACKEND_CALL(be, fn, nn_conv_transpose2d(dt, y->data, col->data, xd->data, wd->data,
                                                          b ? b->data : NULL, N, x->sizes[1], G, &g))
            : GD_EDEVICE;
    gd_tensor_release(xd);
    gd_tensor_release(wd);
    return st;
}

/* per sample: col = im2col(gy[n]); gx[n, group] = w[group] @ col[group];
   gw[group] += x[n, group] @ col[group]^T; gb[o] += sum gy[n, o, :]. */
int gd_nn_conv_transpose2d_backward(gd_tensor *gx, gd_tensor *gw, gd_tensor *gb, gd_tensor *col, const gd_tensor *gy,
                                    const gd_tensor *x, const gd_tensor *w, const int64_t *geom)
{
    const char *fn = "conv_transpose2d backward";
    gd_conv_geom g;
    int64_t G;
    GD_TRY(convt_geom(&g, &G, x, w, geom, fn));
    int dt = x->scalar_type, dev = x->device_kind;
    int64_t N = x->sizes[0], O = g.C, ysz[4] = {N, O, g.H, g.W};
    GD_TRY(check_operand(gy, fn, "output gradient", dt, dev));
    bool ok = gy->rank == 4;
    for (int d = 0; ok && d < 4; d++) ok = gy->sizes[d] == ysz[d];
    if (!ok) {
        char s[128], e[128];
        return gd_fail(GD_EINVAL, "%s: the output gradient has shape %s, expected %s", fn,
                       gd_shape_str(gy, s, sizeof s), dims_str(e, sizeof e, 4, ysz));
    }
    GD_TRY(check_col(col, &g, dt, dev, fn));
    if (gx) GD_TRY(check_buffer(gx, fn, "input gradient", dt, dev, 4, x->sizes));
    if (gw) GD_TRY(check_buffer(gw, fn, "weight gradient", dt, dev, 4, w->sizes));
    if (gb) GD_TRY(check_buffer(gb, fn, "bias gradient", dt, dev, 1, &O));
    gd_tensor *xd = NULL, *wd = NULL, *gyd = NULL;
    int st = dense(&xd, x);
    if (!st) st = dense(&wd, w);
    if (!st) st = dense(&gyd, gy);
    if (st) { gd_tensor_release(xd); gd_tensor_release(wd); return st; }
    const gd_backend *be = gd_backend_of(dev);
    st = be ? GD_BACKEND_CALL(be, fn, nn_conv_transpose2d_backward(dt, gx ? gx->data : NULL, gw ? gw->data : NULL,
                                                                   gb ? gb->data : NULL, col->data, gyd->data,
                                                                   xd->data, wd->data, N, x->sizes[1], G, &g))
            : GD_EDEVICE;
    gd_tensor_release(xd);
    gd_tensor_release(wd);
    gd_tensor_release(gyd);
    return st;
}

/* ------------------------------------------------------------ pooling */

static const char *pool_name(int kind)
{
    return kind == GD_NN_MAXPOOL ? "max_pool2d" : kind == GD_NN_AVGPOOL ? "avg_pool2d" : "adaptive_avg_pool2d";
}

/* geom = {KH, KW, SH, SW, PH, PW, DH, DW, ceil_mode, count_include_pad,
   divisor_override}; for the adaptive pool only {OH, OW}. */
static int pool_geom(gd_conv_geom *g, const gd_tensor *x, const int64_t *geom, int kind, const char *fn)
{
    if (kind < 0 || kind >= GD_NN_POOL_COUNT) return gd_fail(GD_EINVAL, "unknown pooling kind %d", kind);
    GD_TRY(check_operand(x, fn, "input", -1, -1));
    char s1[128];
    if (x->rank != 4)
        return gd_fail(GD_EINVAL, "%s: the input must be 4-D (batch x channels x height x width), got shape %s", fn,
                       gd_shape_str(x, s1, sizeof s1));
    *g = (gd_conv_geom){.C = x->sizes[1], .H = x->sizes[2], .W = x->sizes[3]};
    if (kind == GD_NN_ADAPTIVE_AVGPOOL) {
        GD_TRY(check_positive(fn, "output_size", geom[0], 1));
        GD_TRY(check_positive(fn, "output_size", geom[1], 1));
        if (g->H < 1 || g->W < 1)
            return gd_fail(GD_EINVAL, "%s: the input plane is empty (shape %s)", fn, gd_shape_str(x, s1, sizeof s1));
        g->OH = geom[0];
        g->OW = geom[1];
        return GD_OK;
    }
    GD_TRY(check_positive(fn, "kernel_size", geom[0], 1));
    GD_TRY(check_positive(fn, "kernel_size", geom[1], 1));
    GD_TRY(check_positive(fn, "stride", geom[2], 1));
    GD_TRY(check_positive(fn, "stride", geom[3], 1));
    GD_TRY(check_positive(fn, "padding", geom[4], 0));
    GD_TRY(check_positive(fn, "padding", geom[5], 0));
    GD_TRY(check_positive(fn, "dilation", geom[6], 1));
    GD_TRY(check_positive(fn, "dilation", geom[7], 1));
    if (geom[10] < 0) return gd_fail(GD_EINVAL, "%s: divisor_override must be positive, got %lld", fn, (long long)geom[10]);
    g->kh = geom[0]; g->kw = geom[1]; g->sh = geom[2]; g->sw = geom[3];
    g->ph = geom[4]; g->pw = geom[5]; g->dh = geom[6]; g->dw = geom[7];
    /* PyTorch: "pad should be at most half of kernel size" */
    if (2 * g->ph > g->kh || 2 * g->pw > g->kw)
        return gd_fail(GD_EINVAL, "%s: padding (%lldx%lld) must be at most half the kernel size (%lldx%lld)", fn,
                       (long long)g->ph, (long long)g->pw, (long long)g->kh, (long long)g->kw);
    int64_t ekh = g->dh * (g->kh - 1) + 1, ekw = g->dw * (g->kw - 1) + 1;
    if (ekh > g->H + 2 * g->ph || ekw > g->W + 2 * g->pw)
        return gd_fail(GD_EINVAL, "%s: the kernel (%lldx%lld with dilation) is larger than the padded input (%lldx%lld)",
                       fn, (long long)ekh, (long long)ekw, (long long)(g->H + 2 * g->ph), (long long)(g->W + 2 * g->pw));
    g->OH = out_size(g->H, g->kh, g->sh, g->ph, g->dh, (int)geom[8]);
    g->OW = out_size(g->W, g->kw, g->sw, g->pw, g->dw, (int)geom[8]);
    if (g->OH < 1 || g->OW < 1)
        return gd_fail(GD_EINVAL, "%s: the output would be empty (%lldx%lld)", fn, (long long)g->OH, (long long)g->OW);
    return GD_OK;
}

int gd_nn_pool2d_shape(int64_t *out, const gd_tensor *x, const int64_t *geom, int kind)
{
    gd_conv_geom g;
    GD_TRY(pool_geom(&g, x, geom, kind, pool_name(kind)));
    out[0] = x->sizes[0];
    out[1] = x->sizes[1];
    out[2] = g.OH;
    out[3] = g.OW;
    return GD_OK;
}

int gd_nn_pool2d_forward(gd_tensor *y, gd_tensor *idx, const gd_tensor *x, const int64_t *geom, int kind)
{
    const char *fn = pool_name(kind);
    gd_conv_geom g;
    GD_TRY(pool_geom(&g, x, geom, kind, fn));
    int dt = x->scalar_type, dev = x->device_kind;
    int64_t ysz[4] = {x->sizes[0], x->sizes[1], g.OH, g.OW}, planes = ysz[0] * ysz[1];
    GD_TRY(check_buffer(y, fn, "output", dt, dev, 4, ysz));
    if (gd_views_conflict(y, x)) return gd_fail(GD_EINVAL, "%s: the output overlaps the input", fn);
    if (kind == GD_NN_MAXPOOL) {
        GD_TRY(gd_check_tensor(idx, "indices"));
        bool ok = idx->scalar_type == GD_INT64 && idx->device_kind == dev && idx->is_contiguous && idx->rank == 4;
        for (int d = 0; ok && d < 4; d++) ok = idx->sizes[d] == ysz[d];
        if (!ok)
            return gd_fail(GD_EINVAL, "%s: the indices must be a contiguous int64 tensor of the output's shape on %s",
                           fn, gd_device_name(dev));
    }
    /* the adaptive pool's geom has only its output size */
    int cip = kind == GD_NN_AVGPOOL ? (int)geom[9] : 0;
    int64_t divisor = kind == GD_NN_AVGPOOL ? geom[10] : 0;
    gd_tensor *xd = NULL;
    GD_TRY(dense(&xd, x));
    const gd_backend *be = gd_backend_of(dev);
    int st = be ? GD_BACKEND_CALL(be, fn, nn_pool2d(dt, kind, y->data, kind == GD_NN_MAXPOOL ? (int64_t *)idx->data : NULL,
                                                    xd->data, planes, &g, cip, divisor))
                : GD_EDEVICE;
    gd_tensor_release(xd);
    return st;
}

int gd_nn_pool2d_backward(gd_tensor *gx, const gd_tensor *gy, const gd_tensor *idx, const gd_tensor *x,
                          const int64_t *geom, int kind)
{
    char fn[64];
    snprintf(fn, sizeof fn, "%s backward", pool_name(kind));
    gd_conv_geom g;
    GD_TRY(pool_geom(&g, x, geom, kind, fn));
    int dt = x->scalar_type, dev = x->device_kind;
    int64_t ysz[4] = {x->sizes[0], x->sizes[1], g.OH, g.OW}, planes = ysz[0] * ysz[1];
    GD_TRY(check_buffer(gx, fn, "input gradient", dt, dev, 4, x->sizes));
    GD_TRY(check_operand(gy, fn, "output gradient", dt, dev));
    bool ok = gy->rank == 4;
    for (int d = 0; ok && d < 4; d++) ok = gy->sizes[d] == ysz[d];
    if (!ok) {
        char s[128], e[128];
        return gd_fail(GD_EINVAL, "%s: the output gradient has shape %s, expected %s", fn,
                       gd_shape_str(gy, s, sizeof s), dims_str(e, sizeof e, 4, ysz));
    }
    if (kind == GD_NN_MAXPOOL) {
        GD_TRY(gd_check_tensor(idx, "indices"));
        if (idx->scalar_type != GD_INT64 || idx->device_kind != dev || !idx->is_contiguous || idx->count != gy->count)
            return gd_fail(GD_EINVAL, "%s: the indices do not match the output gradient", fn);
    }
    int cip = kind == GD_NN_AVGPOOL ? (int)geom[9] : 0;
    int64_t divisor = kind == GD_NN_AVGPOOL ? geom[10] : 0;
    gd_tensor *gyd = NULL;
    GD_TRY(dense(&gyd, gy));
    const gd_backend *be = gd_backend_of(dev);
    int st = be ? GD_BACKEND_CALL(be, fn, nn_pool2d_backward(dt, kind, gx->data, gyd->data,
                                                             kind == GD_NN_MAXPOOL ? (const int64_t *)idx->data : NULL,
                                                             planes, &g, cip, divisor))
                : GD_EDEVICE;
    gd_tensor_release(gyd);
    return st;
}
