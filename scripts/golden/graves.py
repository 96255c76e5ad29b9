#!/usr/bin/python3
"""Graves, "Generating Sequences With Recurrent Neural Networks" (2013), eq. 38-41:
  n_i = aleph*n_i + (1 - aleph)*eps_i^2
  g_i = aleph*g_i + (1 - aleph)*eps_i
  Delta_i = beth*Delta_i - gimel*eps_i / sqrt(n_i - g_i^2 + daleth)
  w_i = w_i + Delta_i
(aleph = alpha, beth = momRate, gimel = learnRate, daleth = epsilon; eps_i the gradient)."""
import math
from golden_common import case, write


def graves(w, e, s, hp, t):
    aleph, beth = hp.get("alpha", 0.95), hp.get("momRate", 0.9)
    gimel, daleth = hp.get("learnRate", 1e-4), hp.get("epsilon", 1e-4)
    k = len(w)
    n, g, d = s.setdefault("n", [0.0] * k), s.setdefault("g", [0.0] * k), s.setdefault("d", [0.0] * k)
    for i in range(k):
        n[i] = aleph * n[i] + (1 - aleph) * e[i] ** 2
        g[i] = aleph * g[i] + (1 - aleph) * e[i]
        d[i] = beth * d[i] - gimel * e[i] / math.sqrt(n[i] - g[i] ** 2 + daleth)
        w[i] = w[i] + d[i]
    return w


cases = [
    case("RMSProp", "graves", {"learnRate": 0.01, "alpha": 0.9, "momRate": 0.9, "epsilon": 0.1}, graves,
         "not centered, eps outside the root, or lr outside the Delta buffer", lr_key="learnRate", lr_change=0.002),
]
write("graves", "Graves 2013, eq. 38-41", "graves.py", cases)
