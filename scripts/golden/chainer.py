#!/usr/bin/python3
"""Chainer chainer/optimizers/rmsprop.py, rmsprop_graves.py, smorms3.py (update_core_cpu):
RMSprop(lr=0.01, alpha=0.99, eps=1e-8, eps_inside_sqrt=False):
  ms *= alpha; ms += (1 - alpha)*grad*grad
  denom = sqrt(ms + eps) if eps_inside_sqrt else sqrt(ms) + eps;  param -= lr*grad/denom
RMSpropGraves(lr=1e-4, alpha=0.95, momentum=0.9, eps=1e-4):
  ms *= alpha; ms += (1 - alpha)*grad*grad; n *= alpha; n += (1 - alpha)*grad
  delta *= momentum; delta -= lr*grad/sqrt(ms - n*n + eps); param += delta
SMORMS3(lr=0.001, eps=1e-16):
  r = 1/(mem + 1); g = (1 - r)*g + r*grad; g2 = (1 - r)*g2 + r*grad*grad
  x = g*g/(g2 + eps); param -= grad*minimum(x, lr)/(sqrt(g2) + eps); mem = 1 + mem*(1 - x)"""
import math
from golden_common import case, write


def rmsprop(param, grad, s, hp, t):
    lr, alpha, eps, inside = hp.get("lr", 0.01), hp.get("alpha", 0.99), hp.get("eps", 1e-8), \
        hp.get("eps_inside_sqrt", False)
    ms = s.setdefault("ms", [0.0] * len(param))
    for i in range(len(param)):
        ms[i] *= alpha
        ms[i] += (1 - alpha) * grad[i] * grad[i]
        denom = math.sqrt(ms[i] + eps) if inside else math.sqrt(ms[i]) + eps
        param[i] -= lr * grad[i] / denom
    return param


def rmsprop_graves(param, grad, s, hp, t):
    lr, alpha, momentum, eps = hp.get("lr", 1e-4), hp.get("alpha", 0.95), hp.get("momentum", 0.9), hp.get("eps", 1e-4)
    k = len(param)
    ms, n, delta = s.setdefault("ms", [0.0] * k), s.setdefault("n", [0.0] * k), s.setdefault("delta", [0.0] * k)
    for i in range(k):
        ms[i] *= alpha
        ms[i] += (1 - alpha) * grad[i] * grad[i]
        n[i] *= alpha
        n[i] += (1 - alpha) * grad[i]
        delta[i] *= momentum
        delta[i] -= lr * grad[i] / math.sqrt(ms[i] - n[i] * n[i] + eps)
        param[i] += delta[i]
    return param


def smorms3(param, grad, s, hp, t):
    lr, eps = hp.get("lr", 0.001), hp.get("eps", 1e-16)
    k = len(param)
    mem, g, g2 = s.setdefault("mem", [1.0] * k), s.setdefault("g", [0.0] * k), s.setdefault("g2", [0.0] * k)
    for i in range(k):
        r = 1 / (mem[i] + 1)
        g[i] = (1 - r) * g[i] + r * grad[i]
        g2[i] = (1 - r) * g2[i] + r * grad[i] * grad[i]
        x = g[i] * g[i] / (g2[i] + eps)
        param[i] -= grad[i] * min(x, lr) / (math.sqrt(g2[i]) + eps)
        mem[i] = 1 + mem[i] * (1 - x)
    return param


cases = [
    case("RMSProp", "chainer", {"lr": 0.01, "alpha": 0.9, "eps": 0.1}, rmsprop,
         "eps inside the root by default (Chainer's default is outside)", lr_key="lr", lr_change=0.002),
    case("RMSProp", "chainer", {"lr": 0.01, "alpha": 0.9, "eps": 0.1, "eps_inside_sqrt": True}, rmsprop,
         "eps_inside_sqrt ignored"),
    case("RMSProp", "graves", {"lr": 0.01, "alpha": 0.9, "momentum": 0.9, "eps": 0.1}, rmsprop_graves,
         "RMSpropGraves's names (lr, alpha, momentum, eps) not mapped onto the graves flavor, or lr outside delta",
         lr_key="lr", lr_change=0.002),
    case("SMORMS3", "chainer", {"lr": 0.01, "eps": 0.05}, smorms3,
         "the memory decayed by the clipped ratio (ensmallen's order)", lr_key="lr", lr_change=0.05),
]
write("chainer", "chainer/optimizers/rmsprop.py, rmsprop_graves.py, smorms3.py", "chainer.py", cases)
