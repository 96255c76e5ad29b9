#!/usr/bin/python3
"""Lasagne lasagne/updates.py rmsprop(loss_or_grads, params, learning_rate=1.0, rho=0.9, epsilon=1e-6):
  accu_new = rho*accu + (one - rho)*grad**2
  updates[param] = param - (learning_rate*grad / T.sqrt(accu_new + epsilon))"""
import math
from golden_common import case, write


def rmsprop(param, grad, s, hp, t):
    lr, rho, epsilon = hp.get("learning_rate", 1.0), hp.get("rho", 0.9), hp.get("epsilon", 1e-6)
    accu = s.setdefault("accu", [0.0] * len(param))
    for i in range(len(param)):
        accu[i] = rho * accu[i] + (1 - rho) * grad[i] ** 2
        param[i] = param[i] - (lr * grad[i] / math.sqrt(accu[i] + epsilon))
    return param


cases = [
    case("RMSProp", "lasagne", {"learning_rate": 0.01, "rho": 0.9, "epsilon": 0.1}, rmsprop,
         "eps outside the root (PyTorch's), or rho read as the weight of the new gradient",
         lr_key="learning_rate", lr_change=0.002),
    case("RMSProp", "lasagne", {"learning_rate": 0.1}, rmsprop, "lasagne's defaults (learning_rate 1, rho 0.9, "
         "epsilon 1e-6) replaced by PyTorch's (alpha 0.99, eps 1e-8)"),
]
write("lasagne", "lasagne/updates.py rmsprop", "lasagne.py", cases)
