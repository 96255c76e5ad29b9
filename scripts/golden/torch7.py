#!/usr/bin/python3
"""Torch7 torch/optim rmsprop.lua and adagrad.lua, transcribed in their order:
rmsprop: dfdx:add(wd, x); m (filled with initialMean) :mul(alpha):addcmul(1-alpha, dfdx, dfdx);
         tmp = sqrt(m) + epsilon; x:addcdiv(-lr, dfdx, tmp)
adagrad: dfdx:add(wd, x); clr = lr / (1 + nevals*lrd) (nevals: steps before this one);
         paramVariance:addcmul(1, dfdx, dfdx); x:addcdiv(-clr, dfdx, sqrt(paramVariance) + 1e-10)"""
import math
from golden_common import case, write


def rmsprop(x, dfdx, s, config, t):
    lr, alpha = config.get("learningRate", 1e-2), config.get("alpha", 0.99)
    epsilon, wd, mfill = config.get("epsilon", 1e-8), config.get("weightDecay", 0), config.get("initialMean", 0)
    n = len(x)
    if wd != 0:
        dfdx = [dfdx[i] + wd * x[i] for i in range(n)]
    if "m" not in s:
        s["m"] = [float(mfill)] * n
    for i in range(n):
        s["m"][i] = s["m"][i] * alpha
        s["m"][i] = s["m"][i] + (1.0 - alpha) * dfdx[i] * dfdx[i]
        x[i] = x[i] + (-lr) * dfdx[i] / (math.sqrt(s["m"][i]) + epsilon)
    return x


def adagrad(x, dfdx, s, config, t):
    lr, lrd, wd = config.get("learningRate", 1e-3), config.get("learningRateDecay", 0), config.get("weightDecay", 0)
    nevals = s.get("evalCounter", 0)
    n = len(x)
    if wd != 0:
        dfdx = [dfdx[i] + wd * x[i] for i in range(n)]
    clr = lr / (1 + nevals * lrd)
    if "paramVariance" not in s:
        s["paramVariance"] = [0.0] * n
    for i in range(n):
        s["paramVariance"][i] = s["paramVariance"][i] + dfdx[i] * dfdx[i]
        x[i] = x[i] + (-clr) * dfdx[i] / (math.sqrt(s["paramVariance"][i]) + 1e-10)
    s["evalCounter"] = nevals + 1
    return x


cases = [
    case("RMSProp", "torch7", {"learningRate": 0.01, "alpha": 0.9, "epsilon": 0.1, "weightDecay": 0.1,
                               "initialMean": 0.5}, rmsprop,
         "initialMean ignored (m starting at 0), eps inside the root, or the decay not in the squared gradient",
         lr_key="learningRate", lr_change=0.003),
    case("AdaGrad", "torch7", {"learningRate": 0.1, "learningRateDecay": 0.05, "weightDecay": 0.1}, adagrad,
         "learningRateDecay counted from 1 instead of 0 (lr/(1 + t*lrd)), or the decay after the square",
         lr_key="learningRate", lr_change=0.05),
]
write("torch7", "torch/optim rmsprop.lua, adagrad.lua (Torch7)", "torch7.py", cases)
