#!/usr/bin/python3
"""downhill (lmjohns3/downhill) adaptive.py RMSProp and ADAGRAD, with base.py's momentum:
RMSProp: ewma = exp(-ln 2 / rms_halflife); g1 = ewma*g1 + (1-ewma)*grad; g2 = ewma*g2 + (1-ewma)*grad^2
         rms = sqrt(g2 - g1^2 + rms_regularizer); target = param - learning_rate*grad/rms
ADAGRAD: g2 = g2 + grad^2; target = param - learning_rate*grad/sqrt(g2 + rms_regularizer)
momentum (base.py): step = target - param; vel = momentum*vel + step;
         param = param + vel   (nesterov: param + momentum*vel + step)"""
import math
from golden_common import case, write


def with_momentum(p, steps, s, hp):
    mu, nesterov = hp.get("momentum", 0), hp.get("nesterov", False)
    if mu == 0:
        return [p[i] + steps[i] for i in range(len(p))]
    vel = s.setdefault("vel", [0.0] * len(p))
    for i in range(len(p)):
        vel[i] = mu * vel[i] + steps[i]
        p[i] = p[i] + (mu * vel[i] + steps[i] if nesterov else vel[i])
    return p


def rmsprop(p, grad, s, hp, t):
    lr = hp.get("learning_rate", 1e-4)
    ewma = math.exp(-math.log(2) / hp.get("rms_halflife", 14))
    eps = hp.get("rms_regularizer", 1e-8)
    n = len(p)
    g1, g2 = s.setdefault("g1", [0.0] * n), s.setdefault("g2", [0.0] * n)
    steps = []
    for i in range(n):
        g1[i] = ewma * g1[i] + (1 - ewma) * grad[i]
        g2[i] = ewma * g2[i] + (1 - ewma) * grad[i] * grad[i]
        rms = math.sqrt(g2[i] - g1[i] * g1[i] + eps)
        steps.append((p[i] - lr * grad[i] / rms) - p[i])
    return with_momentum(p, steps, s, hp)


def adagrad(p, grad, s, hp, t):
    lr, eps = hp.get("learning_rate", 1e-4), hp.get("rms_regularizer", 1e-8)
    g2 = s.setdefault("g2", [0.0] * len(p))
    steps = []
    for i in range(len(p)):
        g2[i] = g2[i] + grad[i] * grad[i]
        steps.append((p[i] - lr * grad[i] / math.sqrt(g2[i] + eps)) - p[i])
    return with_momentum(p, steps, s, hp)


cases = [
    case("RMSProp", "downhill", {"learning_rate": 0.01, "rms_halflife": 7, "rms_regularizer": 0.1, "momentum": 0.9},
         rmsprop, "the half-life read as the decay itself, regularizer outside the root, or lr outside the velocity",
         lr_key="learning_rate", lr_change=0.002),
    case("RMSProp", "downhill", {"learning_rate": 0.01, "rms_regularizer": 0.1, "momentum": 0.5, "nesterov": True},
         rmsprop, "nesterov as plain momentum, or PyTorch's lookahead form", lr_key="learning_rate",
         lr_change=0.002),
    case("AdaGrad", "downhill", {"learning_rate": 0.1, "rms_regularizer": 0.1, "momentum": 0.5}, adagrad,
         "regularizer outside the root, or no momentum on AdaGrad", lr_key="learning_rate", lr_change=0.02),
]
write("downhill", "downhill adaptive.py RMSProp, ADAGRAD; base.py momentum", "downhill.py", cases)
