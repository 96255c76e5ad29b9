#!/usr/bin/python3
"""Flux / Optimisers.jl src/rules.jl RMSProp(eta = 0.001, rho = 0.9, epsilon = 1e-8; centred = false):
  quad = rho*quad + (1 - rho)*abs2(dx)
  centred: lin = rho*lin + (1 - rho)*dx
  dx' = dx*eta / (sqrt(quad - abs2(lin)) + epsilon)      (lin = 0 when not centred)
  x = x - dx'                                           (Optimisers.update!)"""
import math
from golden_common import case, write


def apply(x, dx, s, hp, t):
    eta, rho, eps, centred = hp.get("eta", 0.001), hp.get("rho", 0.9), hp.get("epsilon", 1e-8), hp.get("centred", False)
    n = len(x)
    quad, lin = s.setdefault("quad", [0.0] * n), s.setdefault("lin", [0.0] * n)
    for i in range(n):
        quad[i] = rho * quad[i] + (1 - rho) * dx[i] ** 2
        if centred:
            lin[i] = rho * lin[i] + (1 - rho) * dx[i]
        d = dx[i] * eta / (math.sqrt(quad[i] - (lin[i] ** 2 if centred else 0.0)) + eps)
        x[i] = x[i] - d
    return x


cases = [
    case("RMSProp", "flux", {"eta": 0.01, "rho": 0.9, "epsilon": 0.1}, apply,
         "eps inside the root, or rho read as the weight of the new gradient"),
    case("RMSProp", "flux", {"eta": 0.01, "rho": 0.9, "epsilon": 0.1, "centred": True}, apply,
         "centred ignored, or eps inside sqrt(quad - lin^2)", lr_key="eta", lr_change=0.002),
]
write("flux", "Optimisers.jl src/rules.jl RMSProp", "flux.py", cases)
