#!/usr/bin/python3
"""PyTorch's own forward outputs and input/parameter gradients for
spec/nn_conv_spec.lua: Conv1d, Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d,
Flatten, the norms, Embedding and the element-wise losses (BCE's weight and
pos_weight too) in float64, on random inputs with non-default hyperparameters
chosen so that conventions separate (stride != dilation != padding per axis,
groups, ceil_mode windows that run past the padding, count_include_pad,
divisor_override, uneven adaptive windows).

    /usr/bin/python3 scripts/golden/nn_layers.py > spec/golden/nn_layers.lua

Needs Debian's python3-torch (1.13); CI replays the committed output.
"""
import torch

from nn_common import lua, flat

torch.manual_seed(14)
nn = torch.nn



cases = []


def case(name, cls, args, opts, make, x_shape, norm=False, train=True, affine=False):
    """make() builds the torch module; args/opts are the gdlua constructor's
    positional arguments and options table (Lua source).  norm: a batch norm,
    whose weight, bias and running statistics start random."""
    m = make().double()
    c = {}
    if affine:
        with torch.no_grad():
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-1, 1)
    if norm:
        with torch.no_grad():
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-1, 1)
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
        c["rm0"], c["rv0"] = flat(m.running_mean), flat(m.running_var)
        c["train"] = 1 if train else 0
        m.train(train)
    x = torch.randn(*x_shape, dtype=torch.float64, requires_grad=True)
    y = m(x)
    gy = torch.randn(*y.shape, dtype=torch.float64)
    y.backward(gy)
    c.update({"name": name, "cls": cls, "args": args, "opts": opts, "x_shape": list(x.shape), "x": flat(x),
              "y_shape": list(y.shape), "y": flat(y), "gy": flat(gy), "gx": flat(x.grad)})
    if norm:
        c["rm"], c["rv"] = flat(m.running_mean), flat(m.running_var)
    for pname in ("weight", "bias"):
        p = getattr(m, pname, None)
        if p is not None:
            c[pname] = flat(p)
            c[pname + "_shape"] = list(p.shape)
            c["g" + pname] = flat(p.grad)
    cases.append(c)


# Conv2d: a (3, 2) kernel with stride (2, 1), padding (1, 2), dilation (1, 2)
# and groups 2: any axis or parameter swapped gives another shape or values
case("Conv2d stride/padding/dilation per axis, groups 2", "Conv2d", "4, 6, {3, 2}",
     "{stride = {2, 1}, padding = {1, 2}, dilation = {1, 2}, groups = 2}",
     lambda: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2), (2, 4, 5, 6))
case("Conv2d no bias, depthwise", "Conv2d", "3, 3, 3", "{padding = 1, groups = 3, bias = false}",
     lambda: nn.Conv2d(3, 3, 3, padding=1, groups=3, bias=False), (2, 3, 4, 4))
case("Conv2d 1x1 stride 2", "Conv2d", "3, 2, 1", "{stride = 2}", lambda: nn.Conv2d(3, 2, 1, stride=2), (1, 3, 5, 5))
case("Conv1d stride 2, padding 2, dilation 3", "Conv1d", "4, 2, 3", "{stride = 2, padding = 2, dilation = 3, groups = 2}",
     lambda: nn.Conv1d(4, 2, 3, stride=2, padding=2, dilation=3, groups=2), (2, 4, 9))
# MaxPool2d: ceil_mode adds a last window that starts inside the input;
# padding and dilation differ per axis
case("MaxPool2d ceil_mode, padding, dilation", "MaxPool2d", "{3, 2}",
     "{stride = {2, 1}, padding = {1, 1}, dilation = {1, 2}, ceil_mode = true}",
     lambda: nn.MaxPool2d((3, 2), stride=(2, 1), padding=(1, 1), dilation=(1, 2), ceil_mode=True), (2, 2, 6, 7))
case("MaxPool2d default stride", "MaxPool2d", "2", "nil", lambda: nn.MaxPool2d(2), (1, 3, 5, 4))
# AvgPool2d: count_include_pad on and off, with ceil_mode windows that run
# past the padding (PyTorch clips those before counting), divisor_override
case("AvgPool2d ceil_mode count_include_pad", "AvgPool2d", "3", "{stride = 2, padding = 1, ceil_mode = true}",
     lambda: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), (2, 2, 6, 6))
case("AvgPool2d exclude pad", "AvgPool2d", "{3, 2}",
     "{stride = {2, 1}, padding = {1, 1}, ceil_mode = true, count_include_pad = false}",
     lambda: nn.AvgPool2d((3, 2), stride=(2, 1), padding=(1, 1), ceil_mode=True, count_include_pad=False),
     (1, 2, 6, 5))
case("AvgPool2d divisor_override", "AvgPool2d", "2", "{padding = 1, divisor_override = 3}",
     lambda: nn.AvgPool2d(2, padding=1, divisor_override=3), (1, 2, 5, 4))
case("AdaptiveAvgPool2d uneven windows", "AdaptiveAvgPool2d", "{3, 2}", "nil",
     lambda: nn.AdaptiveAvgPool2d((3, 2)), (2, 2, 7, 5))
case("AdaptiveAvgPool2d upsampling 2x2 -> 3x3", "AdaptiveAvgPool2d", "3", "nil",
     lambda: nn.AdaptiveAvgPool2d(3), (1, 1, 2, 2))

# BatchNorm: momentum 0.3 and eps 1e-3 (not the defaults); a batch of 3 x 2 x 2
# per channel, so the unbiased running variance (x 12/11) differs from the
# biased one; eval mode normalises by the running statistics
case("BatchNorm2d training, momentum 0.3, eps 1e-3", "BatchNorm2d", "3", "{momentum = 0.3, eps = 1e-3}",
     lambda: nn.BatchNorm2d(3, momentum=0.3, eps=1e-3), (3, 3, 2, 2), norm=True)
case("BatchNorm2d eval", "BatchNorm2d", "2", "{momentum = 0.3}", lambda: nn.BatchNorm2d(2, momentum=0.3),
     (2, 2, 3, 2), norm=True, train=False)
case("BatchNorm1d training N x C x L", "BatchNorm1d", "3", "{momentum = 0.2}", lambda: nn.BatchNorm1d(3, momentum=0.2),
     (2, 3, 4), norm=True)
case("BatchNorm1d training N x C", "BatchNorm1d", "4", "{eps = 0.01}", lambda: nn.BatchNorm1d(4, eps=0.01), (5, 4),
     norm=True)

# LayerNorm over the last two dimensions (a one-dimension mix-up changes the
# statistics), GroupNorm with 2 groups of 2 channels (groups of channels, not
# channels, share statistics); random affine parameters
case("LayerNorm over 3x4, eps 1e-3", "LayerNorm", "{3, 4}", "{eps = 1e-3}", lambda: nn.LayerNorm((3, 4), eps=1e-3),
     (2, 3, 4), affine=True)
case("LayerNorm no affine", "LayerNorm", "5", "{elementwise_affine = false}",
     lambda: nn.LayerNorm(5, elementwise_affine=False), (3, 5))
case("GroupNorm 2 groups of 4 channels", "GroupNorm", "2, 4", "{eps = 1e-4}", lambda: nn.GroupNorm(2, 4, eps=1e-4),
     (2, 4, 3, 2), affine=True)

# Embedding with padding_idx 2 (0-based 1): the padding row gets no gradient,
# repeated indices accumulate
emb = nn.Embedding(5, 3, padding_idx=1).double()
with torch.no_grad():
    emb.weight.normal_()
ix = torch.tensor([[0, 1, 4], [4, 4, 2]])
ey = emb(ix)
egy = torch.randn(*ey.shape, dtype=torch.float64)
ey.backward(egy)
embedding_case = {"weight": flat(emb.weight), "idx": [i + 1 for i in ix.reshape(-1).tolist()], "y": flat(ey),
                  "gy": flat(egy), "gweight": flat(emb.weight.grad)}

# Element-wise losses with non-default parameters and reductions: beta and
# delta between the |d| values (a beta/delta swap or a missing 1/beta shows),
# BCE inputs near 0 and 1, KLDiv with zeros in the target and batchmean
F = torch.nn.functional
loss_cases = []


def loss_case(name, cls, opts, x, t, fn):
    x = x.clone().requires_grad_(True)
    out = fn(x, t)
    out.sum().backward()
    loss_cases.append({"name": name, "cls": cls, "opts": opts, "shape": list(x.shape), "x": flat(x), "t": flat(t),
                       "out": flat(out), "g": flat(x.grad)})


lx = torch.randn(4, 3, dtype=torch.float64) * 2
lt = torch.randn(4, 3, dtype=torch.float64)
loss_case("L1Loss", "L1Loss", "nil", lx, lt, lambda x, t: F.l1_loss(x, t))
loss_case("SmoothL1Loss beta 0.7 sum", "SmoothL1Loss", "{beta = 0.7, reduction = 'sum'}", lx, lt,
          lambda x, t: F.smooth_l1_loss(x, t, beta=0.7, reduction="sum"))
loss_case("HuberLoss delta 0.6 none", "HuberLoss", "{delta = 0.6, reduction = 'none'}", lx, lt,
          lambda x, t: F.huber_loss(x, t, delta=0.6, reduction="none"))
px = torch.rand(4, 3, dtype=torch.float64) * 0.98 + 0.01
pt = torch.rand(4, 3, dtype=torch.float64)
loss_case("BCELoss", "BCELoss", "nil", px, pt, lambda x, t: F.binary_cross_entropy(x, t))
loss_case("BCEWithLogitsLoss sum", "BCEWithLogitsLoss", "{reduction = 'sum'}", lx * 5, pt,
          lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="sum"))
kt = torch.softmax(torch.randn(4, 3, dtype=torch.float64), 1)
kt[0, 1] = 0.0
kx = torch.log_softmax(torch.randn(4, 3, dtype=torch.float64), 1)
loss_case("KLDivLoss batchmean", "KLDivLoss", "{reduction = 'batchmean'}", kx, kt,
          lambda x, t: F.kl_div(x, t, reduction="batchmean"))
loss_case("KLDivLoss log_target sum", "KLDivLoss", "{log_target = true, reduction = 'sum'}", kx, torch.log(kt + 0.1),
          lambda x, t: F.kl_div(x, t, reduction="sum", log_target=True))

# NLLLoss with class weights and ignore_index (targets 1-based in gdlua)
nx = torch.log_softmax(torch.randn(5, 4, dtype=torch.float64), 1).requires_grad_(True)
nt = torch.tensor([0, 3, 2, 3, 1])
nw = torch.tensor([0.5, 2.0, 1.0, 3.0], dtype=torch.float64)
nll = F.nll_loss(nx, nt, weight=nw, ignore_index=2)
nll.backward()
nll_case = {"x": flat(nx), "t": [i + 1 for i in nt.tolist()], "w": flat(nw), "out": float(nll), "g": flat(nx.grad)}

# BCE's weight and BCEWithLogits's pos_weight, one value per column (class),
# broadcast over the rows: a weight applied to the wrong axis, pos_weight
# scaling the negative term, or a mean divided by the weights' sum shows
bw = torch.rand(3, dtype=torch.float64) + 0.5
loss_case("BCELoss weight broadcast over rows", "BCELoss", "{weight = gd.tensor(%s, {dtype = 'float64'})}" % lua(flat(bw)), px, pt,
          lambda x, t: F.binary_cross_entropy(x, t, weight=bw))
bpw = torch.rand(3, dtype=torch.float64) * 3
loss_case("BCEWithLogitsLoss pos_weight and weight, sum", "BCEWithLogitsLoss",
          "{pos_weight = gd.tensor(%s, {dtype = 'float64'}), weight = gd.tensor(%s, {dtype = 'float64'}), reduction = 'sum'}" % (lua(flat(bpw)), lua(flat(bw))),
          lx * 2, pt, lambda x, t: F.binary_cross_entropy_with_logits(x, t, weight=bw, pos_weight=bpw,
                                                                       reduction="sum"))
loss_case("BCEWithLogitsLoss pos_weight, mean", "BCEWithLogitsLoss", "{pos_weight = gd.tensor(%s, {dtype = 'float64'})}" % lua(flat(bpw)),
          lx, pt, lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=bpw))

# Embedding with max_norm (norm_type 3: a 2-norm would give other rows) and
# scale_grad_by_freq: rows 1 and 3 (1-based) occur twice, so their gradients
# halve; the looked-up rows over the norm are scaled in place before the lookup
emb2 = nn.Embedding(6, 4, max_norm=1.5, norm_type=3.0, scale_grad_by_freq=True).double()
with torch.no_grad():
    emb2.weight.normal_()
ew0 = flat(emb2.weight)
ix2 = torch.tensor([[0, 2, 2], [5, 0, 3]])
ey2 = emb2(ix2)
egy2 = torch.randn(*ey2.shape, dtype=torch.float64)
ey2.backward(egy2)
embedding_renorm_case = {"w0": ew0, "idx": [i + 1 for i in ix2.reshape(-1).tolist()], "w1": flat(emb2.weight),
                         "y": flat(ey2), "gy": flat(egy2), "gweight": flat(emb2.weight.grad)}

print("-- Generated by scripts/golden/nn_layers.py with PyTorch %s: do not edit." % torch.__version__)
print("return {")
for c in cases:
    parts = []
    for k, v in c.items():
        if k in ("args", "opts"):
            parts.append("%s = %s" % (k, '"' + v + '"'))
        elif isinstance(v, str):
            parts.append('%s = "%s"' % (k, v))
        else:
            parts.append("%s = %s" % (k, lua(v)))
    print("  {" + ", ".join(parts) + "},")
print("}, {embedding = {" + ", ".join("%s = %s" % (k, lua(v)) for k, v in embedding_case.items()) +
      "}, embedding_renorm = {" + ", ".join("%s = %s" % (k, lua(v)) for k, v in embedding_renorm_case.items()) +
      "}, nll = {" +
      ", ".join("%s = %s" % (k, lua(v)) for k, v in nll_case.items()) + "}, losses = {")
for c in loss_cases:
    print("  {" + ", ".join('%s = "%s"' % (k, v) if isinstance(v, str) else "%s = %s" % (k, lua(v))
                            for k, v in c.items()) + "},")
print("}}")
