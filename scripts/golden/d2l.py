#!/usr/bin/python3
"""d2l (Dive into Deep Learning) 12.7 adagrad and 12.8 rmsprop from scratch:
  rmsprop: s[:] = gamma*s + (1 - gamma)*square(p.grad); p[:] -= lr*p.grad / sqrt(s + eps)
  adagrad: s[:] += square(p.grad);                     p[:] -= lr*p.grad / sqrt(s + eps)
eps is 1e-6 written into d2l's functions; gdlua's d2l flavor exposes it as `eps`, and
the cases with eps = 0.1 pass it to the same code."""
import math
from golden_common import case, write


def rmsprop(p, grad, st, hp, t):
    gamma, eps = hp["gamma"], hp.get("eps", 1e-6)
    s = st.setdefault("s", [0.0] * len(p))
    for i in range(len(p)):
        s[i] = gamma * s[i] + (1 - gamma) * grad[i] ** 2
        p[i] -= hp["lr"] * grad[i] / math.sqrt(s[i] + eps)
    return p


def adagrad(p, grad, st, hp, t):
    eps = hp.get("eps", 1e-6)
    s = st.setdefault("s", [0.0] * len(p))
    for i in range(len(p)):
        s[i] += grad[i] ** 2
        p[i] -= hp["lr"] * grad[i] / math.sqrt(s[i] + eps)
    return p


cases = [
    case("RMSProp", "d2l", {"lr": 0.1, "gamma": 0.9}, rmsprop, "d2l's eps other than 1e-6, or gamma read as 1 - gamma"),
    case("RMSProp", "d2l", {"lr": 0.1, "gamma": 0.9, "eps": 0.1}, rmsprop, "eps outside the root",
         lr_key="lr", lr_change=0.02),
    case("AdaGrad", "d2l", {"lr": 0.4}, adagrad, "an accumulator that decays, or d2l's eps other than 1e-6"),
    case("AdaGrad", "d2l", {"lr": 0.4, "eps": 0.1}, adagrad, "eps outside the root (PyTorch's AdaGrad)",
         lr_key="lr", lr_change=0.1),
]
write("d2l", "d2l 12.7 (adagrad), 12.8 (rmsprop) from scratch", "d2l.py", cases)
