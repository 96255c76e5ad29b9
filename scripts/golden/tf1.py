#!/usr/bin/python3
"""TF1 tf.compat.v1.train.RMSPropOptimizer, transcribed from
tensorflow/core/kernels/training_ops.cc ApplyRMSProp / ApplyCenteredRMSProp
(and rmsprop.py: ms starts at ones, mg and mom at zeros):
  ms  <- ms + (grad^2 - ms) * (1 - decay)
  mg  <- mg + (grad - mg) * (1 - decay)                     (centered)
  mom <- momentum * mom + lr * grad / sqrt(ms [- mg^2] + epsilon)
  var <- var - mom"""
import math
from golden_common import case, write

SOURCE = "tf.compat.v1.train.RMSPropOptimizer (training_ops.cc ApplyRMSProp, ApplyCenteredRMSProp)"


def apply_rmsprop(var, grad, s, hp, t):
    lr, decay = hp["learning_rate"], hp.get("decay", 0.9)
    momentum, epsilon, centered = hp.get("momentum", 0.0), hp.get("epsilon", 1e-10), hp.get("centered", False)
    n = len(var)
    if not s:
        s["ms"], s["mg"], s["mom"] = [1.0] * n, [0.0] * n, [0.0] * n   # rmsprop.py _create_slots
    ms, mg, mom = s["ms"], s["mg"], s["mom"]
    for i in range(n):
        ms[i] = ms[i] + (grad[i] * grad[i] - ms[i]) * (1 - decay)
        if centered:
            mg[i] = mg[i] + (grad[i] - mg[i]) * (1 - decay)
            denom = ms[i] - mg[i] * mg[i] + epsilon
        else:
            denom = ms[i] + epsilon
        mom[i] = momentum * mom[i] + lr * grad[i] / math.sqrt(denom)   # ms.rsqrt() in the kernel
        var[i] = var[i] - mom[i]
    return var


cases = [
    case("RMSProp", "tf1", {"learning_rate": 0.1, "decay": 0.9, "epsilon": 0.1}, apply_rmsprop,
         "eps outside the root, or ms starting at 0 instead of 1"),
    case("RMSProp", "tf1", {"learning_rate": 0.1, "decay": 0.9, "epsilon": 0.1, "momentum": 0.9}, apply_rmsprop,
         "PyTorch's momentum buffer (lr outside it): TF1 keeps lr*g/d in mom", lr_key="learning_rate",
         lr_change=0.01),
    case("RMSProp", "tf1", {"learning_rate": 0.05, "decay": 0.8, "epsilon": 0.1, "momentum": 0.5,
                            "centered": True}, apply_rmsprop,
         "centered with eps outside sqrt(ms - mg^2), or mg starting at 1 like ms", lr_key="learning_rate",
         lr_change=0.01),
]
write("tf1", SOURCE, "tf1.py", cases)
