#!/usr/bin/python3
"""ensmallen (mlpack) include/ensmallen_bits/rmsprop/rmsprop_update.hpp and
smorms3/smorms3_update.hpp, Update(iterate, stepSize, gradient):
RMSProp(stepSize = 0.01, ..., alpha = 0.99, epsilon = 1e-8):
  meanSquaredGradient *= alpha; meanSquaredGradient += (1 - alpha)*(gradient % gradient)
  iterate -= stepSize*gradient / (sqrt(meanSquaredGradient) + epsilon)
SMORMS3(stepSize = 0.001, ..., epsilon = 1e-16); mem starts at ones, g and g2 at zeros:
  r = 1/(mem + 1); g = (1 - r) % g; g += r % gradient; g2 = (1 - r) % g2; g2 += r % (gradient % gradient)
  x = (g % g) / (g2 + epsilon); x = min(x, stepSize)      <- clipped before the memory update
  iterate -= gradient % x / (sqrt(g2) + epsilon); mem %= (1 - x); mem += 1"""
import math
from golden_common import case, write


def rmsprop_update(iterate, gradient, s, hp, t):
    step, alpha, epsilon = hp.get("stepSize", 0.01), hp.get("alpha", 0.99), hp.get("epsilon", 1e-8)
    msg = s.setdefault("meanSquaredGradient", [0.0] * len(iterate))
    for i in range(len(iterate)):
        msg[i] *= alpha
        msg[i] += (1 - alpha) * (gradient[i] * gradient[i])
        iterate[i] -= step * gradient[i] / (math.sqrt(msg[i]) + epsilon)
    return iterate


def smorms3_update(iterate, gradient, s, hp, t):
    step, epsilon = hp.get("stepSize", 0.001), hp.get("epsilon", 1e-16)
    n = len(iterate)
    mem, g, g2 = s.setdefault("mem", [1.0] * n), s.setdefault("g", [0.0] * n), s.setdefault("g2", [0.0] * n)
    for i in range(n):
        r = 1 / (mem[i] + 1)
        g[i] = (1 - r) * g[i]
        g[i] += r * gradient[i]
        g2[i] = (1 - r) * g2[i]
        g2[i] += r * (gradient[i] * gradient[i])
        x = (g[i] * g[i]) / (g2[i] + epsilon)
        x = min(x, step)
        iterate[i] -= gradient[i] * x / (math.sqrt(g2[i]) + epsilon)
        mem[i] *= (1 - x)
        mem[i] += 1
    return iterate


cases = [
    case("RMSProp", "ensmallen", {"stepSize": 0.01, "alpha": 0.9, "epsilon": 0.1}, rmsprop_update,
         "eps inside the root", lr_key="stepSize", lr_change=0.002),
    case("SMORMS3", "ensmallen", {"stepSize": 0.01, "epsilon": 0.05}, smorms3_update,
         "the memory decayed by the unclipped ratio (Funk's, Chainer's and PuzzleLib's order)",
         lr_key="stepSize", lr_change=0.05),
]
write("ensmallen", "ensmallen rmsprop/rmsprop_update.hpp, smorms3/smorms3_update.hpp", "ensmallen.py", cases)
