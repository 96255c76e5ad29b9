#!/usr/bin/python3
"""JAX jax/example_libraries/optimizers.py rmsprop(step_size, gamma=0.9, eps=1e-8) and
rmsprop_momentum(step_size, gamma=0.9, eps=1e-8, momentum=0.9), update(i, g, state):
  avg_sq_grad = avg_sq_grad*gamma + square(g)*(1. - gamma)
  rmsprop:          x = x - step_size(i)*g / sqrt(avg_sq_grad + eps)
  rmsprop_momentum: mom = momentum*mom + step_size(i)*g / sqrt(avg_sq_grad + eps); x = x - mom
(step_size(i) a schedule: the case with lr_change is a piecewise-constant one)."""
import math
from golden_common import case, write


def rmsprop(x, g, s, hp, t):
    step, gamma, eps, momentum = hp["step_size"], hp.get("gamma", 0.9), hp.get("eps", 1e-8), hp.get("momentum")
    n = len(x)
    avg, mom = s.setdefault("avg_sq_grad", [0.0] * n), s.setdefault("mom", [0.0] * n)
    for i in range(n):
        avg[i] = avg[i] * gamma + (g[i] * g[i]) * (1. - gamma)
        if momentum is None:
            x[i] = x[i] - step * g[i] / math.sqrt(avg[i] + eps)
        else:
            mom[i] = momentum * mom[i] + step * g[i] / math.sqrt(avg[i] + eps)
            x[i] = x[i] - mom[i]
    return x


cases = [
    case("RMSProp", "jax", {"step_size": 0.01, "gamma": 0.9, "eps": 0.1}, rmsprop,
         "eps outside the root, or gamma read as the weight of the new gradient"),
    case("RMSProp", "jax", {"step_size": 0.01, "gamma": 0.9, "eps": 0.1, "momentum": 0.9}, rmsprop,
         "rmsprop_momentum with PyTorch's buffer (JAX keeps step_size*g/d in mom)", lr_key="step_size",
         lr_change=0.002),
]
write("jax", "jax/example_libraries/optimizers.py rmsprop, rmsprop_momentum", "jax.py", cases)
