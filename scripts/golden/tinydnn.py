#!/usr/bin/python3
"""tiny-dnn tiny_dnn/optimizers/optimizer.h struct RMSprop: alpha(0.0001) (the learning rate),
mu(0.99) (the decay), eps(1e-8); update(dW, W):
  g[i] = mu*g[i] + (1 - mu)*dW[i]*dW[i]
  W[i] -= alpha*dW[i] / sqrt(g[i] + eps)"""
import math
from golden_common import case, write


def update(W, dW, s, hp, t):
    alpha, mu, eps = hp.get("alpha", 0.0001), hp.get("mu", 0.99), hp.get("eps", 1e-8)
    g = s.setdefault("g", [0.0] * len(W))
    for i in range(len(W)):
        g[i] = mu * g[i] + (1 - mu) * dW[i] * dW[i]
        W[i] -= alpha * dW[i] / math.sqrt(g[i] + eps)
    return W


cases = [
    case("RMSProp", "tinydnn", {"alpha": 0.01, "mu": 0.9, "eps": 0.1}, update,
         "tiny-dnn's alpha read as PyTorch's alpha (it is the learning rate), or eps outside the root",
         lr_key="alpha", lr_change=0.002),
]
write("tinydnn", "tiny_dnn/optimizers/optimizer.h RMSprop", "tinydnn.py", cases)
