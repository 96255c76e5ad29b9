#!/usr/bin/python3
"""Keras 3 keras/src/optimizers/rmsprop.py update_step, after base_optimizer.py
_apply_weight_decay (variable -= variable*weight_decay*lr):
  velocity = rho*velocity + (1 - rho)*g^2
  centered: average_grad = rho*average_grad + (1 - rho)*g; denominator = velocity - average_grad^2 + epsilon
  else:     denominator = velocity + epsilon
  increment = lr*g / sqrt(denominator)
  momentum > 0: momentum_buf = momentum*momentum_buf + increment; variable -= momentum_buf
  else:         variable -= increment"""
import math
from golden_common import case, write


def update_step(var, g, s, hp, t):
    lr, rho, momentum = hp.get("learning_rate", 1e-3), hp.get("rho", 0.9), hp.get("momentum", 0.0)
    epsilon, centered, wd = hp.get("epsilon", 1e-7), hp.get("centered", False), hp.get("weight_decay", None)
    n = len(var)
    if wd:
        for i in range(n):
            var[i] = var[i] - var[i] * wd * lr
    vel, avg, mom = s.setdefault("vel", [0.0] * n), s.setdefault("avg", [0.0] * n), s.setdefault("mom", [0.0] * n)
    for i in range(n):
        vel[i] = rho * vel[i] + (1 - rho) * (g[i] * g[i])
        if centered:
            avg[i] = rho * avg[i] + (1 - rho) * g[i]
            denominator = vel[i] - avg[i] * avg[i] + epsilon
        else:
            denominator = vel[i] + epsilon
        increment = (lr * g[i]) / math.sqrt(denominator)
        if momentum > 0:
            mom[i] = momentum * mom[i] + increment
            var[i] = var[i] - mom[i]
        else:
            var[i] = var[i] - increment
    return var


cases = [
    case("RMSProp", "keras", {"learning_rate": 0.01, "rho": 0.8, "epsilon": 0.1, "momentum": 0.9}, update_step,
         "eps outside the root, or PyTorch's momentum (Keras keeps lr*g/d in the buffer)", lr_key="learning_rate",
         lr_change=0.002),
    case("RMSProp", "keras", {"learning_rate": 0.01, "rho": 0.9, "epsilon": 0.1, "centered": True, "momentum": 0.5,
                              "weight_decay": 0.1}, update_step,
         "weight_decay added to the gradient (Keras decouples it: var -= var*wd*lr), or the decay with the old lr",
         lr_key="learning_rate", lr_change=0.003),
]
write("keras", "Keras 3 optimizers/rmsprop.py (update_step) and base_optimizer.py (_apply_weight_decay)",
      "keras.py", cases)
