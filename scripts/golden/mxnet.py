#!/usr/bin/python3
"""MXNet 1.x RMSProp (python/mxnet/optimizer/optimizer.py RMSProp -> rmsprop_update /
rmspropalex_update), transcribed from src/operator/optimizer_op-inl.h
RMSPropUpdateKernel / RMSPropAlexUpdateKernel:
  grad = rescale_grad*grad + wd*weight; if clip_gradient >= 0: grad = clip(grad, clip_gradient)
  n = (1-gamma1)*grad^2 + gamma1*n
  plain:    w = w - lr*grad/sqrt(n + epsilon)
  centered: g = (1-gamma1)*grad + gamma1*g
            delta = gamma2*delta - lr*grad/sqrt(n - g^2 + epsilon);  w = w + delta
  if clip_weights >= 0: w = clip(w, clip_weights)"""
import math
from golden_common import case, write

SOURCE = "MXNet 1.x optimizer_op-inl.h RMSPropUpdateKernel, RMSPropAlexUpdateKernel"


def clip(v, c):
    return max(-c, min(c, v))


def rmsprop_update(weight, grad, s, hp, t):
    lr, gamma1, gamma2 = hp.get("learning_rate", 0.001), hp.get("gamma1", 0.9), hp.get("gamma2", 0.9)
    epsilon, centered = hp.get("epsilon", 1e-8), hp.get("centered", False)
    wd, rescale = hp.get("wd", 0.0), hp.get("rescale_grad", 1.0)
    cg, cw = hp.get("clip_gradient", -1.0), hp.get("clip_weights", -1.0)
    n = len(weight)
    if not s:
        s["n"], s["g"], s["delta"] = [0.0] * n, [0.0] * n, [0.0] * n
    for i in range(n):
        gr = rescale * grad[i] + wd * weight[i]
        if cg >= 0:
            gr = clip(gr, cg)
        s["n"][i] = (1 - gamma1) * (gr * gr) + gamma1 * s["n"][i]
        if centered:
            s["g"][i] = (1 - gamma1) * gr + gamma1 * s["g"][i]
            s["delta"][i] = gamma2 * s["delta"][i] - lr * (gr / math.sqrt(s["n"][i] - s["g"][i] * s["g"][i] + epsilon))
            w = weight[i] + s["delta"][i]
        else:
            w = weight[i] - lr * (gr / math.sqrt(s["n"][i] + epsilon))
        if cw >= 0:
            w = clip(w, cw)
        weight[i] = w
    return weight


cases = [
    case("RMSProp", "mxnet", {"learning_rate": 0.01, "gamma1": 0.9, "epsilon": 0.1, "wd": 0.1, "rescale_grad": 0.5,
                              "clip_gradient": 1.0, "clip_weights": 1.5}, rmsprop_update,
         "clipping before adding wd*weight (MXNet clips rescale*g + wd*w), no clip_weights, or eps outside the root"),
    case("RMSProp", "mxnet", {"learning_rate": 0.01, "gamma1": 0.9, "gamma2": 0.8, "epsilon": 0.1, "centered": True,
                              "wd": 0.1, "rescale_grad": 0.5, "clip_gradient": 1.0, "clip_weights": 1.5},
         rmsprop_update,
         "rmspropalex: lr outside delta, clipping before the decay, or the weight clip before the delta",
         lr_key="learning_rate", lr_change=0.002),
]
write("mxnet", SOURCE, "mxnet.py", cases)
