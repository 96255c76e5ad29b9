#!/usr/bin/python3
"""optax.rmsprop (optax/_src/alias.py): chain(scale_by_rms | scale_by_stddev, scale_by_learning_rate,
trace(momentum, nesterov) when momentum is not None), transcribed from transform.py:
  scale_by_rms:    nu = (1-decay)*g^2 + decay*nu (nu starts at initial_scale); count += 1
                   nu_hat = nu / (1 - decay^count) if bias_correction else nu
                   u = g * rsqrt(nu_hat + eps) if eps_in_sqrt else g / (sqrt(nu_hat) + eps)
  scale_by_stddev: mu = (1-decay)*g + decay*mu as well; uses nu_hat - mu_hat^2 in place of nu_hat
  scale_by_learning_rate: u = -learning_rate*u
  trace:           tr = u + momentum*tr; u = u + momentum*tr if nesterov else tr
  apply_updates:   p = p + u"""
import math
from golden_common import case, write


def rmsprop(p, g, s, hp, t):
    lr, decay, eps = hp["learning_rate"], hp.get("decay", 0.9), hp.get("eps", 1e-8)
    init, in_sqrt, centered = hp.get("initial_scale", 0.0), hp.get("eps_in_sqrt", True), hp.get("centered", False)
    momentum, nesterov, bc = hp.get("momentum", None), hp.get("nesterov", False), hp.get("bias_correction", False)
    n = len(p)
    if not s:
        s["nu"], s["mu"], s["trace"], s["count"] = [float(init)] * n, [0.0] * n, [0.0] * n, 0
    s["count"] += 1
    for i in range(n):
        s["nu"][i] = (1 - decay) * (g[i] ** 2) + decay * s["nu"][i]
        nu_hat = s["nu"][i] / (1 - decay ** s["count"]) if bc else s["nu"][i]
        if centered:
            s["mu"][i] = (1 - decay) * g[i] + decay * s["mu"][i]
            mu_hat = s["mu"][i] / (1 - decay ** s["count"]) if bc else s["mu"][i]
            var = nu_hat - mu_hat ** 2
        else:
            var = nu_hat
        u = g[i] * (1 / math.sqrt(var + eps)) if in_sqrt else g[i] / (math.sqrt(var) + eps)
        u = -lr * u
        if momentum is not None:
            s["trace"][i] = u + momentum * s["trace"][i]
            u = u + momentum * s["trace"][i] if nesterov else s["trace"][i]
        p[i] = p[i] + u
    return p


cases = [
    case("RMSProp", "optax", {"learning_rate": 0.01, "decay": 0.9, "eps": 0.1}, rmsprop,
         "eps outside the root (optax's default is eps_in_sqrt = True)"),
    case("RMSProp", "optax", {"learning_rate": 0.01, "decay": 0.8, "eps": 0.1, "eps_in_sqrt": False,
                              "bias_correction": True, "momentum": 0.6, "nesterov": True}, rmsprop,
         "bias correction missing or applied to the root, lr outside the trace, or nesterov as plain trace",
         lr_key="learning_rate", lr_change=0.002),
    case("RMSProp", "optax", {"learning_rate": 0.01, "decay": 0.9, "eps": 0.1, "centered": True,
                              "initial_scale": 0.5, "momentum": 0.9}, rmsprop,
         "initial_scale ignored, or scale_by_stddev's mean starting at initial_scale too", lr_key="learning_rate",
         lr_change=0.002),
]
write("optax", "optax alias.py rmsprop; transform.py scale_by_rms, scale_by_stddev, trace", "optax.py", cases)
