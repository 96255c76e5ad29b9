#!/usr/bin/python3
"""PyTorch's own outputs, final states and gradients (input, initial states,
every parameter) of torch.nn.RNN / LSTM / GRU in float64, for
spec/nn_rnn_spec.lua.  The cases separate conventions: two layers (the second
layer's input is the first's output), bidirectional (the reverse direction's
columns and its _reverse parameters), batch_first, unbatched input, no bias,
relu, given initial states and gradients flowing into the final states
(grad_h, grad_c), and an input size different from the hidden size (a
transposed weight gives another shape).  LSTM with proj_size (LSTMP): h,
h0 and the output rows have proj_size units while c keeps hidden_size, the
second layer takes 2 * proj_size inputs, weight_hr_l* (and _reverse) get
gradients; every size differs (input 4, hidden 5, proj 3, batch 2, seq 6)
so a transposed weight_hr or a state of the wrong width shows.

    /usr/bin/python3 scripts/golden/nn_rnn.py > spec/golden/nn_rnn.lua

Needs Debian's python3-torch (1.13); CI replays the committed output.
"""
import torch

from nn_common import lua, flat

torch.manual_seed(1414)
nn = torch.nn



cases = []


def case(name, cls, args, opts, make, x_shape, h0=False, c0=False, gh=False, gc=False):
    """args/opts: the gdlua constructor's arguments and options (Lua source)."""
    m = make().double()
    x = torch.randn(*x_shape, dtype=torch.float64, requires_grad=True)
    D = 2 if m.bidirectional else 1
    unbatched = len(x_shape) == 2
    B = 1 if unbatched else (x_shape[0] if m.batch_first else x_shape[1])
    R = getattr(m, "proj_size", 0) or m.hidden_size   # h's width (PyTorch's real_hidden_size)
    sshape = (m.num_layers * D, R) if unbatched else (m.num_layers * D, B, R)
    cshape = (m.num_layers * D, m.hidden_size) if unbatched else (m.num_layers * D, B, m.hidden_size)
    c = {"name": name, "cls": cls, "args": args, "opts": opts, "x_shape": list(x.shape), "x": flat(x),
         "state_shape": list(sshape)}
    if cshape != sshape:
        c["cstate_shape"] = list(cshape)
    h = torch.randn(*sshape, dtype=torch.float64, requires_grad=True) if h0 else None
    cc = torch.randn(*cshape, dtype=torch.float64, requires_grad=True) if c0 else None
    if cls == "LSTM":
        if h is not None:
            out, (hn, cn) = m(x, (h, cc))
        else:
            out, (hn, cn) = m(x)
    else:
        out, hn = m(x, h) if h is not None else m(x)
        cn = None
    gy = torch.randn(*out.shape, dtype=torch.float64)
    total = (out * gy).sum()
    if gh:
        ghn = torch.randn(*hn.shape, dtype=torch.float64)
        total = total + (hn * ghn).sum()
        c["ghn"] = flat(ghn)
    if gc:
        gcn = torch.randn(*cn.shape, dtype=torch.float64)
        total = total + (cn * gcn).sum()
        c["gcn"] = flat(gcn)
    total.backward()
    c.update({"y_shape": list(out.shape), "y": flat(out), "gy": flat(gy), "hn": flat(hn), "gx": flat(x.grad)})
    if cn is not None:
        c["cn"] = flat(cn)
    if h is not None:
        c["h0"], c["gh0"] = flat(h), flat(h.grad)
    if cc is not None:
        c["c0"], c["gc0"] = flat(cc), flat(cc.grad)
    params = {}
    for pname, p in m.named_parameters():
        params[pname] = {"shape": list(p.shape), "v": flat(p), "g": flat(p.grad)}
    c["params"] = params
    cases.append(c)


case("RNN tanh, 2 layers, h0", "RNN", "4, 3", "{num_layers = 2}", lambda: nn.RNN(4, 3, num_layers=2), (5, 2, 4),
     h0=True, gh=True)
case("RNN relu, bidirectional, batch_first, no bias", "RNN", "3, 4",
     "{nonlinearity = 'relu', bidirectional = true, batch_first = true, bias = false}",
     lambda: nn.RNN(3, 4, nonlinearity="relu", bidirectional=True, batch_first=True, bias=False), (2, 4, 3))
case("LSTM 2 layers, batch_first, h0 c0, grad_h grad_c", "LSTM", "4, 3", "{num_layers = 2, batch_first = true}",
     lambda: nn.LSTM(4, 3, num_layers=2, batch_first=True), (3, 5, 4), h0=True, c0=True, gh=True, gc=True)
case("LSTM bidirectional 2 layers, zero states", "LSTM", "3, 2", "{num_layers = 2, bidirectional = true}",
     lambda: nn.LSTM(3, 2, num_layers=2, bidirectional=True), (4, 3, 3), gc=True)
case("LSTM unbatched", "LSTM", "2, 3", "nil", lambda: nn.LSTM(2, 3), (6, 2), h0=True, c0=True, gh=True)
case("GRU 2 layers bidirectional, h0, grad_h", "GRU", "3, 4", "{num_layers = 2, bidirectional = true}",
     lambda: nn.GRU(3, 4, num_layers=2, bidirectional=True), (4, 2, 3), h0=True, gh=True)
case("GRU batch_first no bias", "GRU", "5, 3", "{batch_first = true, bias = false}",
     lambda: nn.GRU(5, 3, batch_first=True, bias=False), (2, 6, 5), h0=True)
# The cells (torch.nn.RNNCell / LSTMCell / GRUCell): one step, parameters
# without the _l0 suffix
cells = []


def cell_case(name, cls, args, opts, m, x_shape, h=False, c=False, gc=False):
    m = m.double()
    x = torch.randn(*x_shape, dtype=torch.float64, requires_grad=True)
    sshape = (m.hidden_size,) if len(x_shape) == 1 else (x_shape[0], m.hidden_size)
    rec = {"name": name, "cls": cls, "args": args, "opts": opts, "x_shape": list(x_shape), "x": flat(x),
           "state_shape": list(sshape)}
    h0 = torch.randn(*sshape, dtype=torch.float64, requires_grad=True) if h else None
    c0 = torch.randn(*sshape, dtype=torch.float64, requires_grad=True) if c else None
    if cls == "LSTMCell":
        hn, cn = m(x, (h0, c0)) if h else m(x)
    else:
        hn, cn = (m(x, h0) if h else m(x)), None
    gh = torch.randn(*sshape, dtype=torch.float64)
    total = (hn * gh).sum()
    rec["gh"] = flat(gh)
    if gc:
        gcn = torch.randn(*sshape, dtype=torch.float64)
        total = total + (cn * gcn).sum()
        rec["gcn"] = flat(gcn)
    total.backward()
    rec.update({"hn": flat(hn), "gx": flat(x.grad)})
    if cn is not None:
        rec["cn"] = flat(cn)
    if h:
        rec["h0"], rec["gh0"] = flat(h0), flat(h0.grad)
    if c:
        rec["c0"], rec["gc0"] = flat(c0), flat(c0.grad)
    rec["params"] = {n: {"shape": list(p.shape), "v": flat(p), "g": flat(p.grad)} for n, p in m.named_parameters()}
    cells.append(rec)


cell_case("LSTMCell, h and c given, grad_c", "LSTMCell", "3, 4", "nil", nn.LSTMCell(3, 4), (2, 3), h=True, c=True,
          gc=True)
cell_case("GRUCell unbatched, h given", "GRUCell", "4, 3", "nil", nn.GRUCell(4, 3), (4,), h=True)
cell_case("RNNCell relu, no bias, zero h", "RNNCell", "3, 5", "{nonlinearity = 'relu', bias = false}",
          nn.RNNCell(3, 5, nonlinearity="relu", bias=False), (3, 3))

# LSTM with projections, drawn after the cells (the earlier cases' draws stay as committed)
case("LSTM proj_size 3, 2 layers, bidirectional, batch_first, h0 c0, grad_h grad_c", "LSTM", "4, 5",
     "{num_layers = 2, bidirectional = true, batch_first = true, proj_size = 3}",
     lambda: nn.LSTM(4, 5, num_layers=2, bidirectional=True, batch_first=True, proj_size=3, dropout=0.0),
     (2, 6, 4), h0=True, c0=True, gh=True, gc=True)
case("LSTM proj_size 2, unbatched, zero states, grad_c", "LSTM", "3, 4", "{proj_size = 2}",
     lambda: nn.LSTM(3, 4, proj_size=2), (5, 3), gc=True)

print("-- Generated by scripts/golden/nn_rnn.py with PyTorch %s: do not edit." % torch.__version__)
print("return {")
for c in cases:
    print("  {" + ", ".join("%s = %s" % (k, lua(v)) for k, v in c.items()) + "},")
print("}, {")
for c in cells:
    print("  {" + ", ".join("%s = %s" % (k, lua(v)) for k, v in c.items()) + "},")
print("}")
