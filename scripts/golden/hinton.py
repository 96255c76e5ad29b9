#!/usr/bin/python3
"""Hinton, Coursera "Neural Networks for Machine Learning", lecture 6e (rmsprop):
  MeanSquare(w, t) = 0.9*MeanSquare(w, t-1) + 0.1*(dE/dw(t))^2
  divide the gradient by sqrt(MeanSquare(w, t)): w -= lr*(dE/dw)/sqrt(MeanSquare) -- no epsilon."""
import math
from golden_common import case, write


def lecture_6e(w, dE, s, hp, t):
    ms = s.setdefault("MeanSquare", [0.0] * len(w))
    for i in range(len(w)):
        ms[i] = 0.9 * ms[i] + 0.1 * dE[i] ** 2
        w[i] = w[i] - hp["lr"] * dE[i] / math.sqrt(ms[i])
    return w


cases = [
    case("RMSProp", "hinton", {"lr": 0.01}, lecture_6e,
         "any epsilon (PyTorch's 1e-8 is invisible here; d2l's 1e-6 or the 0.05 of other cases is not), "
         "or a decay other than 0.9", lr_key="lr", lr_change=0.002),
]
write("hinton", "Hinton, Neural Networks for Machine Learning, lecture 6e", "hinton.py", cases)
