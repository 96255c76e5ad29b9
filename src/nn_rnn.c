/*
 * nn_rnn.c: gd.nn.RNN / LSTM / GRU, one layer in one direction per call:
 * argument checks, then the device's backend (nn_rnn_forward/backward:
 * src/cpu/rnn.c, cuda/rnn.cu).  The layout and gate order are PyTorch's (see
 * gd.h); the Lua layer (lua/gd/nn/rnn.lua) stacks layers and directions,
 * applies dropout between layers and handles batch_first.  Every operand is
 * on the input's device.
 */
#include "internal.h"
#include "backend.h"
#include "cpu/rnn.h"   /* the workspace sizes: one layout on every device */

#include <math.h>
#include <stdio.h>

static const char *MODE_NAMES[] = {"rnn_tanh", "rnn_relu", "lstm", "gru"};

static int64_t gates_of(int mode) { return mode == GD_NN_LSTM ? 4 : mode == GD_NN_GRU ? 3 : 1; }

/* "2x3x4" */
static const char *dims(char *buf, size_t len, int rank, const int64_t *sizes)
{
    size_t n = 0;
    buf[0] = 0;
    for (int d = 0; d < rank && n < len; d++)
        n += (size_t)snprintf(buf + n, len - n, d ? "x%lld" : "%lld", (long long)sizes[d]);
    return buf;
}

/* t: a contiguous tensor of dtype dt on device dev with exactly these sizes (or NULL
   when optional). */
static int check_exact(const gd_tensor *t, const char *fn, const char *what, int dt, int dev, int rank,
                       const int64_t *sizes, bool optional)
{
    if (t == NULL) {
        if (optional) return GD_OK;
        return gd_fail(GD_EINVAL, "%s: the %s is missing", fn, what);
    }
    GD_TRY(gd_check_tensor(t, what));
    if (t->scalar_type != dt)
        return gd_fail(GD_EINVAL, "%s: the %s is %s but the input is %s", fn, what, gd_dtype_name(t->scalar_type),
                       gd_dtype_name(dt));
    if (t->device_kind != dev)
        return gd_fail(GD_EINVAL, "%s: the %s is on %s but the input is on %s", fn, what,
                       gd_device_name(t->device_kind), gd_device_name(dev));
    bool ok = t->rank == rank && t->is_contiguous;
    for (int d = 0; ok && d < rank; d++) ok = t->sizes[d] == sizes[d];
    if (ok) return GD_OK;
    char s[128], e[128];
    return gd_fail(GD_EINVAL, "%s: the %s has shape %s%s, expected %s", fn, what, gd_shape_str(t, s, sizeof s),
                   t->is_contiguous ? "" : " (not contiguous)", dims(e, sizeof e, rank, sizes));
}

/* proj_size P: 0, or LSTM's 0 < P < H (PyTorch's messages) */
static int check_proj(const char *fn, int mode, int64_t P, int64_t H)
{
    if (P == 0) return GD_OK;
    if (mode != GD_NN_LSTM) return gd_fail(GD_EINVAL, "%s: proj_size is only supported for LSTM", fn);
    if (P < 0) return gd_fail(GD_EINVAL, "%s: proj_size should be a positive integer or zero to disable projections, "
                              "got %lld", fn, (long long)P);
    if (P >= H)
        return gd_fail(GD_EINVAL, "%s: proj_size has to be smaller than hidden_size, got proj_size %lld and "
                       "hidden_size %lld", fn, (long long)P, (long long)H);
    return GD_OK;
}

int gd_nn_rnn_workspace(int64_t *fwd, int64_t *bwd, int mode, int64_t T, int64_t B, int64_t H, int64_t P)
{
    if (mode < 0 || mode >= GD_NN_RNN_MODE_COUNT) return gd_fail(GD_EINVAL, "rnn: unknown mode %d", mode);
    if (T < 1 || B < 1 || H < 1)
        return gd_fail(GD_EINVAL, "%s: the sequence length, batch and hidden size must be positive, got %lld, %lld, "
                       "%lld", MODE_NAMES[mode], (long long)T, (long long)B, (long long)H);
    GD_TRY(check_proj(MODE_NAMES[mode], mode, P, H));
    if (fwd) *fwd = gd_cpu_rnn_ws_fwd(mode, T, B, H, P);
    if (bwd) *bwd = gd_cpu_rnn_ws_bwd(mode, T, B, H, P);
    return GD_OK;
}

/* Fills the shapes and forward operands of p; fn names the call. */
static int plan_common(gd_rnn_plan *p, const char *fn, const gd_tensor *x, const gd_tensor *y, const gd_tensor *ws,
                       const gd_tensor *h0, const gd_tensor *c0, const gd_tensor *w_ih, const gd_tensor *w_hh,
                       const gd_tensor *w_hr, int mode, int dir, bool backward)
{
    if (mode < 0 || mode >= GD_NN_RNN_MODE_COUNT) return gd_fail(GD_EINVAL, "rnn: unknown mode %d", mode);
    if (dir != 0 && dir != 1) return gd_fail(GD_EINVAL, "%s: the direction must be 0 or 1, got %d", fn, dir);
    GD_TRY(gd_check_tensor(x, "input"));
    char s1[128];
    if (!gd_is_float(x->scalar_type))
        return gd_fail(GD_EINVAL, "%s: the input must be float32 or float64, got %s", fn,
                       gd_dtype_name(x->scalar_type));
    if (x->rank != 3 || x->sizes[0] < 1 || x->sizes[1] < 1)
        return gd_fail(GD_EINVAL, "%s: the input must be 3-D (time x batch x features) and not empty, got shape %s",
                       fn, gd_shape_str(x, s1, sizeof s1));
    int dt = x->scalar_type, dev = x->device_kind;
    int64_t T = x->sizes[0], B = x->sizes[1], I = x->sizes[2];
    GD_TRY(check_exact(x, fn, "input", dt, dev, 3, x->sizes, false));
    GD_TRY(gd_check_tensor(w_ih, "weight_ih"));
    GD_TRY(gd_check_tensor(w_hh, "weight_hh"));
    int64_t G = gates_of(mode);
    /* H from w_hh's rows; h's width HW = its columns: H, or proj_size when
       w_hr (P x H) projects the cell's output */
    if (w_hr) {
        GD_TRY(gd_check_tensor(w_hr, "weight_hr"));
        if (mode != GD_NN_LSTM) return gd_fail(GD_EINVAL, "%s: weight_hr (proj_size) is only supported for LSTM", fn);
        if (w_hr->rank != 2 || w_hr->sizes[0] < 1)
            return gd_fail(GD_EINVAL, "%s: weight_hr must be proj_size x hidden, got shape %s", fn,
                           gd_shape_str(w_hr, s1, sizeof s1));
    }
    int64_t P = w_hr ? w_hr->sizes[0] : 0;
    if (w_hh->rank != 2 || w_hh->sizes[0] % G != 0 || w_hh->sizes[0] < G ||
        w_hh->sizes[1] != (P ? P : w_hh->sizes[0] / G))
        return gd_fail(GD_EINVAL, "%s: weight_hh must be %lld*hidden x %s, got shape %s", fn, (long long)G,
                       P ? "proj_size" : "hidden", gd_shape_str(w_hh, s1, sizeof s1));
    int64_t H = w_hh->sizes[0] / G, GH = G * H, HW = P ? P : H;
    GD_TRY(check_proj(fn, mode, P, H));
    if (w_ih->rank == 2 && w_ih->sizes[0] == GH && w_ih->sizes[1] != I)
        return gd_fail(GD_EINVAL, "%s: the input has %lld features but the layer takes %lld (input_size)", fn,
                       (long long)I, (long long)w_ih->sizes[1]);
    int64_t wsz[2] = {GH, I}, hsz[2] = {GH, HW}, rsz[2] = {P, H};
    GD_TRY(check_exact(w_ih, fn, "weight_ih", dt, dev, 2, wsz, false));
    GD_TRY(check_exact(w_hh, fn, "weight_hh", dt, dev, 2, hsz, false));
    GD_TRY(check_exact(w_hr, fn, "weight_hr", dt, dev, 2, rsz, true));
    GD_TRY(gd_check_tensor(y, "output"));
    int64_t DH = y->rank == 3 ? y->sizes[2] : 0;
    if (DH != HW && DH != 2 * HW) DH = HW;
    if (dir == 1) DH = 2 * HW;
    int64_t ysz[3] = {T, B, DH};
    GD_TRY(check_exact(y, fn, "output", dt, dev, 3, ysz, false));
    if (!backward && gd_views_conflict(y, x)) return gd_fail(GD_EINVAL, "%s: the output overlaps the input", fn);
    int64_t need = gd_cpu_rnn_ws_fwd(mode, T, B, H, P);
    GD_TRY(gd_check_tensor(ws, "workspace"));
    if (ws->scalar_type != dt || ws->device_kind != dev || !ws->is_contiguous || ws->count < need)
        return gd_fail(GD_EINVAL, "%s: the workspace must be a contiguous %s tensor on %s of at least %lld elements",
                       fn, gd_dtype_name(dt), gd_device_name(dev), (long long)need);
    int64_t bh[2] = {B, HW}, bc[2] = {B, H};
    GD_TRY(check_exact(h0, fn, "initial hidden state h0", dt, dev, 2, bh, true));
    if (mode == GD_NN_LSTM) GD_TRY(check_exact(c0, fn, "initial cell state c0", dt, dev, 2, bc, true));
    *p = (gd_rnn_plan){.dtype = dt, .mode = mode, .dir = dir, .T = T, .B = B, .I = I, .H = H, .G = G, .DH = DH,
                       .ws = ws->data, .x = x->data, .h0 = h0 ? h0->data : NULL,
                       .c0 = mode == GD_NN_LSTM && c0 ? c0->data : NULL, .w_ih = w_ih->data, .w_hh = w_hh->data,
                       .P = P, .HW = HW, .w_hr = w_hr ? w_hr->data : NULL, .clip = INFINITY};
    return GD_OK;
}

int gd_nn_rnn_forward(gd_tensor *y, gd_tensor *hn, gd_tensor *cn, gd_tensor *ws, const gd_tensor *x,
                      const gd_tensor *h0, const gd_tensor *c0, const gd_tensor *w_ih, const gd_tensor *w_hh,
                      const gd_tensor *b_ih, const gd_tensor *b_hh, const gd_tensor *w_hr, int mode, int dir)
{
    const char *fn = mode >= 0 && mode < GD_NN_RNN_MODE_COUNT ? MODE_NAMES[mode] : "rnn";
    gd_rnn_plan p;
    GD_TRY(plan_common(&p, fn, x, y, ws, h0, c0, w_ih, w_hh, w_hr, mode, dir, false));
    int dt = p.dtype, dev = x->device_kind;
    int64_t GH = p.G * p.H, bh[2] = {p.B, p.HW}, bc[2] = {p.B, p.H};
    if ((b_ih == NULL) != (b_hh == NULL)) return gd_fail(GD_EINVAL, "%s: give both biases or neither", fn);
    GD_TRY(check_exact(b_ih, fn, "bias_ih", dt, dev, 1, &GH, true));
    GD_TRY(check_exact(b_hh, fn, "bias_hh", dt, dev, 1, &GH, true));
    GD_TRY(check_exact(hn, fn, "final hidden state", dt, dev, 2, bh, true));
    if (mode == GD_NN_LSTM) GD_TRY(check_exact(cn, fn, "final cell state", dt, dev, 2, bc, true));
    p.y = y->data;
    p.hn = hn ? hn->data : NULL;
    p.cn = mode == GD_NN_LSTM && cn ? cn->data : NULL;
    p.b_ih = b_ih ? b_ih->data : NULL;
    p.b_hh = b_hh ? b_hh->data : NULL;
    const gd_backend *be = gd_backend_of(dev);
    if (!be) return GD_EDEVICE;
    return GD_BACKEND_CALL(be, fn, nn_rnn_forward(&p));
}

int gd_nn_rnn_backward(gd_tensor *gx, gd_tensor *gh0, gd_tensor *gc0, gd_tensor *gw_ih, gd_tensor *gw_hh,
                       gd_tensor *gb_ih, gd_tensor *gb_hh, gd_tensor *gw_hr, gd_tensor *bws, const gd_tensor *gy,
                       const gd_tensor *ghn, const gd_tensor *gcn, const gd_tensor *ws, const gd_tensor *x,
                       const gd_tensor *y, const gd_tensor *h0, const gd_tensor *c0, const gd_tensor *w_ih,
                       const gd_tensor *w_hh, const gd_tensor *w_hr, int mode, int dir, int accumulate_gx,
                       double gate_grad_clip)
{
    char fn[32];
    snprintf(fn, sizeof fn, "%s backward", mode >= 0 && mode < GD_NN_RNN_MODE_COUNT ? MODE_NAMES[mode] : "rnn");
    gd_rnn_plan p;
    GD_TRY(plan_common(&p, fn, x, y, ws, h0, c0, w_ih, w_hh, w_hr, mode, dir, true));
    if (!(gate_grad_clip >= 0))   /* (NaN too) */
        return gd_fail(GD_EINVAL, "%s: gate_grad_clip must be 0 (off) or positive, got %g", fn, gate_grad_clip);
    if (gate_grad_clip > 0 && mode != GD_NN_LSTM)
        return gd_fail(GD_EINVAL, "%s: gate_grad_clip is only supported for LSTM", fn);
    int dt = p.dtype, dev = x->device_kind;
    int64_t GH = p.G * p.H, bh[2] = {p.B, p.HW}, bc[2] = {p.B, p.H}, ysz[3] = {p.T, p.B, p.DH},
            wsz[2] = {GH, p.I}, hsz[2] = {GH, p.HW}, rsz[2] = {p.P, p.H};
    GD_TRY(check_exact(gy, fn, "output gradient", dt, dev, 3, ysz, true));
    GD_TRY(check_exact(ghn, fn, "final hidden state's gradient", dt, dev, 2, bh, true));
    if (mode == GD_NN_LSTM) GD_TRY(check_exact(gcn, fn, "final cell state's gradient", dt, dev, 2, bc, true));
    GD_TRY(check_exact(gx, fn, "input gradient", dt, dev, 3, x->sizes, true));
    GD_TRY(check_exact(gh0, fn, "h0 gradient", dt, dev, 2, bh, true));
    if (mode == GD_NN_LSTM) GD_TRY(check_exact(gc0, fn, "c0 gradient", dt, dev, 2, bc, true));
    GD_TRY(check_exact(gw_ih, fn, "weight_ih gradient", dt, dev, 2, wsz, true));
    GD_TRY(check_exact(gw_hh, fn, "weight_hh gradient", dt, dev, 2, hsz, true));
    GD_TRY(check_exact(gb_ih, fn, "bias_ih gradient", dt, dev, 1, &GH, true));
    GD_TRY(check_exact(gb_hh, fn, "bias_hh gradient", dt, dev, 1, &GH, true));
    if (gw_hr && !w_hr) return gd_fail(GD_EINVAL, "%s: a weight_hr gradient without weight_hr", fn);
    GD_TRY(check_exact(gw_hr, fn, "weight_hr gradient", dt, dev, 2, rsz, true));
    int64_t need = gd_cpu_rnn_ws_bwd(mode, p.T, p.B, p.H, p.P);
    GD_TRY(gd_check_tensor(bws, "backward workspace"));
    if (bws->scalar_type != dt || bws->device_kind != dev || !bws->is_contiguous || bws->count < need)
        return gd_fail(GD_EINVAL, "%s: the backward workspace must be a contiguous %s tensor on %s of at least %lld "
                       "elements", fn, gd_dtype_name(dt), gd_device_name(dev), (long long)need);
    if (gx && (gd_views_conflict(gx, x) || gd_views_conflict(gx, y)))
        return gd_fail(GD_EINVAL, "%s: the input gradient overlaps the input or output", fn);
    p.y = (void *)y->data;
    p.gx = gx ? gx->data : NULL;
    p.gh0 = gh0 ? gh0->data : NULL;
    p.gc0 = mode == GD_NN_LSTM && gc0 ? gc0->data : NULL;
    p.gw_ih = gw_ih ? gw_ih->data : NULL;
    p.gw_hh = gw_hh ? gw_hh->data : NULL;
    p.gb_ih = gb_ih ? gb_ih->data : NULL;
    p.gb_hh = gb_hh ? gb_hh->data : NULL;
    p.gw_hr = gw_hr ? gw_hr->data : NULL;
    p.clip = gate_grad_clip > 0 ? gate_grad_clip : INFINITY;
    p.bws = bws->data;
    p.gy = gy ? gy->data : NULL;
    p.ghn = ghn ? ghn->data : NULL;
    p.gcn = mode == GD_NN_LSTM && gcn ? gcn->data : NULL;
    p.accumulate_gx = accumulate_gx != 0;
    const gd_backend *be = gd_backend_of(dev);
    if (!be) return GD_EDEVICE;
    return GD_BACKEND_CALL(be, fn, nn_rnn_backward(&p));
}
