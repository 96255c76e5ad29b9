#!/usr/bin/python3
"""PyTorch's autograd on the expressions spec/autograd_spec.lua writes in Lua.

Each case: float64 inputs (seeded draws, or given values that sit on a
convention's edge: ties of max, |x| and relu at 0, clamp at its bounds), the
expression in gdlua's Lua and in PyTorch, an upstream gradient (random, of the
output's shape; none for a 0-d output) and the gradients torch.autograd gives
for every input.  Lua dimensions are 1-based, PyTorch's 0-based.
"""
import os
import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
rng = np.random.RandomState(12)


def randn(*shape):
    return rng.randn(*shape)


def pos(*shape):   # away from 0 (log, sqrt, division, pow bases)
    return rng.uniform(0.5, 2.0, size=shape)


# name, inputs {name: array}, Lua expression, torch lambda, what wrong code it catches
CASES = [
    ("add broadcasts (3x1) + (4)", {"a": randn(3, 1), "b": randn(4)}, "a + b", lambda a, b: a + b,
     "a gradient not summed back over the broadcast dims (shape 3x4 instead of 3x1 / 4)"),
    ("sub broadcasts (4x1) - (2x1x3)", {"a": randn(4, 1), "b": randn(2, 1, 3)}, "a - b", lambda a, b: a - b,
     "the sign of the right operand, or a missed leading dimension in the reduction"),
    ("mul broadcasts (3x4) * (4)", {"a": randn(3, 4), "b": randn(4)}, "a * b", lambda a, b: a * b,
     "the other operand's value not used, or its rows not summed"),
    ("div (2x3) / (2x1)", {"a": randn(2, 3), "b": pos(2, 1)}, "a / b", lambda a, b: a / b,
     "d(a/b)/db = -a/b^2 (sign, square)"),
    ("pow tensor ^ tensor", {"a": pos(4), "b": randn(4)}, "a ^ b", lambda a, b: a ** b,
     "the exponent's gradient a^b log a"),
    ("scalar ops: 2 - a, 3 / a, a * 2.5 + 1", {"a": pos(5)}, "(2 - a) * (3 / a) + a * 2.5 + 1",
     lambda a: (2 - a) * (3 / a) + a * 2.5 + 1, "a scalar-first sub/div treated as tensor-first"),
    ("a ^ 3 and 2 ^ a", {"a": randn(4)}, "a ^ 3 + 2 ^ a", lambda a: a ** 3 + 2 ** a,
     "x^p against p^x, the log 2 factor"),
    ("unary minus and square", {"a": randn(3)}, "-a:square()", lambda a: -(a * a), "neg"),
    ("maximum/minimum with ties", {"a": np.array([1.0, 2.0, 3.0, -1.0]), "b": np.array([1.0, 0.5, 3.0, 2.0])},
     "a:maximum(b) * 2 + a:minimum(b)", lambda a, b: torch.maximum(a, b) * 2 + torch.minimum(a, b),
     "ties: PyTorch 1.13 gives each side half"),
    ("comparison masks carry no gradient", {"a": randn(6)}, "a:gt(0) * a + a:le(0) * a * 3",
     lambda a: (a > 0).double() * a + (a <= 0).double() * a * 3, "a mask treated as differentiable"),
    ("matmul 2-D @ 2-D", {"a": randn(3, 4), "b": randn(4, 2)}, "a:matmul(b)", lambda a, b: a @ b,
     "transposes in g b^T, a^T g"),
    ("matmul 2-D @ 1-D", {"a": randn(3, 4), "b": randn(4)}, "a:matmul(b)", lambda a, b: a @ b,
     "the vector's dimension"),
    ("matmul 1-D @ 2-D", {"a": randn(4), "b": randn(4, 3)}, "gd.matmul(a, b)", lambda a, b: a @ b,
     "a row vector's gradient"),
    ("matmul 1-D @ 1-D (dot)", {"a": randn(5), "b": randn(5)}, "a:matmul(b)", lambda a, b: a @ b, "a 0-d result"),
    ("matmul batched 3-D @ 3-D", {"a": randn(2, 3, 4), "b": randn(2, 4, 2)}, "a:matmul(b)", lambda a, b: a @ b,
     "per-batch products"),
    ("matmul batched 3-D @ 2-D", {"a": randn(2, 3, 4), "b": randn(4, 2)}, "a:matmul(b)", lambda a, b: a @ b,
     "the shared matrix's gradient summed over the batch"),
    ("sum all, mean all", {"a": randn(3, 4)}, "a:sum() * 2 + a:mean()", lambda a: a.sum() * 2 + a.mean(),
     "mean's 1/n"),
    ("sum and mean along dims", {"a": randn(3, 4)}, "a:sum(2):unsqueeze(2) * a:mean(1, true)",
     lambda a: a.sum(1).unsqueeze(1) * a.mean(0, keepdim=True), "the reduced dimension put back"),
    ("max/min of all, with ties shared evenly", {"a": np.array([[3.0, 1.0, 3.0], [-2.0, 0.5, -2.0]])},
     "a:max() * 2 + a:min()", lambda a: a.max() * 2 + a.min(), "all the gradient to one of the tied elements"),
    ("max/min along a dim", {"a": randn(3, 5)}, "(a:max(2)) + (a:min(1)):sum()",
     lambda a: a.max(1)[0] + a.min(0)[0].sum(), "the gradient at the index the forward reported"),
    ("norm 2, 1 and 3 along a dim", {"a": randn(3, 4)}, "a:norm() + a:norm(1) + a:norm(3, 2):sum()",
     lambda a: a.norm() + a.norm(1) + a.norm(3, 1).sum(), "x/|x| and |x|^(p-2) x / norm^(p-1)"),
    ("logsumexp along a dim", {"a": randn(3, 4)}, "a:logsumexp(2)", lambda a: torch.logsumexp(a, 1),
     "softmax weights"),
    ("exp, log, log1p, sqrt of positives", {"a": pos(5)}, "a:exp() + a:log() + a:log1p() + a:sqrt()",
     lambda a: a.exp() + a.log() + a.log1p() + a.sqrt(), "each derivative"),
    ("abs and relu at 0", {"a": np.array([-1.5, 0.0, 2.0, 0.0, -0.2])}, "a:abs() + a:relu() * 3",
     lambda a: a.abs() + a.relu() * 3, "the subgradient at 0 (PyTorch: 0 for both)"),
    ("tanh, sigmoid, softplus", {"a": randn(6) * 3}, "a:tanh() + a:sigmoid() * 2 + a:softplus()",
     lambda a: a.tanh() + a.sigmoid() * 2 + torch.nn.functional.softplus(a), "derivatives from the output"),
    ("softplus with beta and threshold", {"a": np.array([-2.0, 0.1, 1.0, 3.0, 8.0])},
     "a:softplus{beta = 2, threshold = 5}", lambda a: torch.nn.functional.softplus(a, beta=2, threshold=5),
     "the linear part past the threshold"),
    ("clamp at its bounds", {"a": np.array([-2.0, -1.0, 0.3, 1.0, 1.5])}, "a:clamp(-1, 1) * 2",
     lambda a: a.clamp(-1, 1) * 2, "bounds included: PyTorch passes the gradient at x == min and x == max"),
    ("where", {"a": randn(4), "b": randn(4), "c": np.array([1.0, 0.0, 0.0, 2.0])}, "gd.where(c, a, b * 2)",
     lambda a, b, c: torch.where(c != 0, a, b * 2), "the gradient to the branch not taken"),
    ("softmax and log_softmax", {"a": randn(3, 4)}, "a:softmax(2) * 3 + a:log_softmax(1)",
     lambda a: torch.softmax(a, 1) * 3 + torch.log_softmax(a, 0), "the Jacobian of a normalised exponential"),
    ("view, reshape, transpose, t", {"a": randn(2, 3)}, "a:view(3, 2):t():reshape(6):view(2, 3):transpose(1, 2)",
     lambda a: a.view(3, 2).t().reshape(6).view(2, 3).transpose(0, 1), "the order of elements going back"),
    ("narrow, select, indexing", {"a": randn(4, 5)}, "a:narrow(2, 2, 3):select(1, 2) + a[3]:narrow(1, 1, 3) + a[{{2, 3}, 4}]:sum()",
     lambda a: a.narrow(1, 1, 3).select(0, 1) + a[2].narrow(0, 0, 3) + a[1:3, 3].sum(),
     "gradients written at the right offsets, zeros elsewhere"),
    ("expand, squeeze, unsqueeze, permute", {"a": randn(3, 1)}, "a:expand(2, 3, 4):permute(3, 1, 2):unsqueeze(1):squeeze()",
     lambda a: a.expand(2, 3, 4).permute(2, 0, 1).unsqueeze(0).squeeze(), "expand's gradient summed"),
    ("cat and stack", {"a": randn(2, 3), "b": randn(1, 3)}, "gd.cat({a, b, a}, 1):sum(2) + gd.stack({a[1], b[1]}):sum()",
     lambda a, b: torch.cat([a, b, a], 0).sum(1) + torch.stack([a[0], b[0]]).sum(),
     "each part's slice, a part used twice accumulating"),
    ("index_select with a repeated index", {"a": randn(4, 3)}, "a:index_select(1, {3, 1, 3})",
     lambda a: a.index_select(0, torch.tensor([2, 0, 2])), "repeated rows adding up"),
    ("var, std, prod, cumsum", {"a": pos(2, 4)}, "a:var() + a:std(2) :sum() + a:prod(2):sum() + a:cumsum(2)",
     lambda a: a.var() + a.std(1).sum() + a.prod(1).sum() + a.cumsum(1), "the correction, the reversed cumsum"),
    ("a tensor used twice accumulates", {"a": randn(3)}, "a * a + a:exp() * a",
     lambda a: a * a + a.exp() * a, "gradients overwritten instead of added"),
    ("mixed dtypes: float64 leaf with a float32 constant", {"a": randn(3)}, "a * gd.tensor({1.5, -2, 0.25})",
     lambda a: a * torch.tensor([1.5, -2, 0.25], dtype=torch.float32), "the gradient's dtype (float64, a's)"),
]


def lua(v):
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "{" + ", ".join(lua(e) for e in v) + "}"
    r = repr(float(v))
    assert "inf" not in r and "nan" not in r
    return r


def tensor_lua(t):
    t = t.detach().double()
    return "{shape = %s, data = %s}" % (lua(list(t.shape)), lua(t.reshape(-1).tolist()))


def main():
    out = ["-- Generated by scripts/golden/autograd.py with PyTorch %s: do not edit." % torch.__version__,
           "-- inputs, the upstream gradient (nil: a 0-d output) and torch.autograd's gradients.",
           "return {"]
    for name, inputs, expr, fn, catches in CASES:
        names = sorted(inputs)
        ts = [torch.tensor(inputs[k], dtype=torch.float64, requires_grad=(k != "c" or "where" not in name))
              for k in names]
        y = fn(*ts)
        up = None if y.dim() == 0 else torch.tensor(rng.randn(*y.shape))
        grads = torch.autograd.grad(y, [t for t in ts if t.requires_grad], up, allow_unused=True)
        gi = iter(grads)
        fields = ["name = %s" % lua(name), "expr = %s" % lua(expr), "catches = %s" % lua(catches),
                  "args = %s" % lua(names)]
        fields.append("inputs = {%s}" % ", ".join("%s = %s" % (k, tensor_lua(t)) for k, t in zip(names, ts)))
        fields.append("requires_grad = {%s}" % ", ".join("%s = %s" % (k, "true" if t.requires_grad else "false")
                                                         for k, t in zip(names, ts)))
        fields.append("y = %s" % tensor_lua(y))
        if up is not None:
            fields.append("up = %s" % tensor_lua(up))
        gs = []
        for k, t in zip(names, ts):
            if t.requires_grad:
                g = next(gi)
                gs.append("%s = %s" % (k, tensor_lua(g if g is not None else torch.zeros_like(t))))
        fields.append("grads = {%s}" % ", ".join(gs))
        out.append("  {" + ",\n   ".join(fields) + "},")
    out += ["}", ""]
    path = os.path.join(ROOT, "spec", "golden", "autograd.lua")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(out))
    os.replace(path + ".tmp", path)
    print("wrote spec/golden/autograd.lua (%d cases)" % len(CASES))


main()
