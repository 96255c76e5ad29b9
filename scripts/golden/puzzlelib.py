#!/usr/bin/python3
"""PuzzleLib Optimizers/RMSProp.py, AdaGrad.py, SMORMS3.py (their element-wise kernels):
RMSProp: ms = factor*ms + (1 - factor)*g*g;  param -= learnRate*g / (sqrt(ms) + epsilon)
AdaGrad: h += g*g;                            param -= learnRate*g / (sqrt(h) + epsilon)
SMORMS3: r = 1/(mem + 1); mg = (1-r)*mg + r*g; ms = (1-r)*ms + r*g*g; q = mg*mg/(ms + epsilon);
         param -= g*min(learnRate, q)/(sqrt(ms) + epsilon); mem = 1 + mem*(1 - q)   (mem starts at 1)"""
import math
from golden_common import case, write


def rmsprop(p, g, s, hp, t):
    lr, factor, eps = hp.get("learnRate", 1e-3), hp.get("factor", 0.9), hp.get("epsilon", 1e-5)
    ms = s.setdefault("ms", [0.0] * len(p))
    for i in range(len(p)):
        ms[i] = factor * ms[i] + (1 - factor) * g[i] * g[i]
        p[i] -= lr * g[i] / (math.sqrt(ms[i]) + eps)
    return p


def adagrad(p, g, s, hp, t):
    lr, eps = hp.get("learnRate", 1e-3), hp.get("epsilon", 1e-8)
    h = s.setdefault("h", [0.0] * len(p))
    for i in range(len(p)):
        h[i] += g[i] * g[i]
        p[i] -= lr * g[i] / (math.sqrt(h[i]) + eps)
    return p


def smorms3(p, g, s, hp, t):
    lr, eps = hp.get("learnRate", 1e-3), hp.get("epsilon", 1e-16)
    n = len(p)
    mem, mg, ms = s.setdefault("mem", [1.0] * n), s.setdefault("mg", [0.0] * n), s.setdefault("ms", [0.0] * n)
    for i in range(n):
        r = 1 / (mem[i] + 1)
        mg[i] = (1 - r) * mg[i] + r * g[i]
        ms[i] = (1 - r) * ms[i] + r * g[i] * g[i]
        q = mg[i] * mg[i] / (ms[i] + eps)
        p[i] -= g[i] * min(lr, q) / (math.sqrt(ms[i]) + eps)
        mem[i] = 1 + mem[i] * (1 - q)
    return p


cases = [
    case("RMSProp", "puzzlelib", {"learnRate": 0.01, "factor": 0.9, "epsilon": 0.1}, rmsprop,
         "eps inside the root; constructed without flavor, it also checks that PuzzleLib's names infer puzzlelib",
         lr_key="learnRate", lr_change=0.003, infer=True),
    case("AdaGrad", "puzzlelib", {"learnRate": 0.1, "epsilon": 0.1}, adagrad,
         "eps inside the root (d2l's AdaGrad) instead of PuzzleLib's outside"),
    case("SMORMS3", "puzzlelib", {"learnRate": 0.01, "epsilon": 0.05}, smorms3,
         "the memory decayed by the clipped ratio (ensmallen), or eps left out of q or of the denominator",
         lr_key="learnRate", lr_change=0.05),
]
write("puzzlelib", "PuzzleLib Optimizers/RMSProp.py, AdaGrad.py, SMORMS3.py", "puzzlelib.py", cases)
