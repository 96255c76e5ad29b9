#!/usr/bin/python3
"""MLX mlx/optimizers/optimizers.py RMSprop(learning_rate, alpha=0.99, eps=1e-8).apply_single:
  v = alpha*v + (1 - alpha)*square(gradient)
  return parameter - lr*gradient / (sqrt(v) + eps)"""
import math
from golden_common import case, write


def apply_single(parameter, gradient, s, hp, t):
    lr, alpha, eps = hp["learning_rate"], hp.get("alpha", 0.99), hp.get("eps", 1e-8)
    v = s.setdefault("v", [0.0] * len(parameter))
    for i in range(len(parameter)):
        v[i] = alpha * v[i] + (1 - alpha) * gradient[i] ** 2
        parameter[i] = parameter[i] - lr * gradient[i] / (math.sqrt(v[i]) + eps)
    return parameter


cases = [
    case("RMSProp", "mlx", {"learning_rate": 0.01, "alpha": 0.9, "eps": 0.1}, apply_single,
         "eps inside the root", lr_key="learning_rate", lr_change=0.002),
]
write("mlx", "mlx/optimizers/optimizers.py RMSprop", "mlx.py", cases)
