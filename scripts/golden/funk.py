#!/usr/bin/python3
"""Simon Funk, "RMSprop loses to SMORMS3 - Beware the Epsilon!" (2015), the SMORMS3 of
gdlua's default (pytorch-named) flavor; mem starts at 1, g and g2 at 0:
  r = 1/(mem + 1); g = (1 - r)*g + r*grad; g2 = (1 - r)*g2 + r*grad**2
  x = g*g/(g2 + eps); params -= grad*min(lr, x)/(sqrt(g2) + eps); mem = 1 + mem*(1 - x)"""
import math
from golden_common import case, write


def smorms3(params, grad, s, hp, t):
    lr, eps = hp.get("lr", 0.001), hp.get("eps", 1e-16)
    n = len(params)
    mem, g, g2 = s.setdefault("mem", [1.0] * n), s.setdefault("g", [0.0] * n), s.setdefault("g2", [0.0] * n)
    for i in range(n):
        r = 1 / (mem[i] + 1)
        g[i] = (1 - r) * g[i] + r * grad[i]
        g2[i] = (1 - r) * g2[i] + r * grad[i] ** 2
        x = g[i] * g[i] / (g2[i] + eps)
        params[i] -= grad[i] * min(lr, x) / (math.sqrt(g2[i]) + eps)
        mem[i] = 1 + mem[i] * (1 - x)
    return params


cases = [
    case("SMORMS3", "pytorch", {"lr": 0.01, "eps": 0.05}, smorms3,
         "the memory decayed by the clipped ratio (ensmallen), or mem starting at 0", lr_key="lr", lr_change=0.05),
]
write("funk", "Simon Funk, RMSprop loses to SMORMS3 - Beware the Epsilon! (2015)", "funk.py", cases)
