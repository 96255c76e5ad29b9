#!/usr/bin/python3
"""Caffe RMSPropSolver (src/caffe/solvers/rmsprop_solver.cpp ComputeUpdateValue), after
SGDSolver::ApplyUpdate's Regularize (L2: diff += weight_decay*data):
  update = diff^2;  history = (1 - rms_decay)*update + rms_decay*history  (caffe_cpu_axpby)
  update = sqrt(history) + delta;  update = diff / update;  diff = local_rate*update
  Net::Update: data -= diff
The constructor refuses momentum: CHECK_EQ(momentum, 0) "Momentum cannot be used with RMSProp.\""""
import math
from golden_common import case, write


def rmsprop_solver(data, diff, s, hp, t):
    rate, rms_decay, delta, wd = hp["base_lr"], hp.get("rms_decay", 0.99), hp.get("delta", 1e-8), \
        hp.get("weight_decay", 0.0)
    n = len(data)
    history = s.setdefault("history", [0.0] * n)
    diff = [diff[i] + wd * data[i] for i in range(n)]                      # Regularize, L2
    for i in range(n):
        update = diff[i] ** 2
        history[i] = (1 - rms_decay) * update + rms_decay * history[i]
        update = math.sqrt(history[i])
        update = update + delta
        update = diff[i] / update
        diff[i] = rate * update
        data[i] = data[i] - diff[i]
    return data


cases = [
    case("RMSProp", "caffe", {"base_lr": 0.01, "rms_decay": 0.9, "delta": 0.1, "weight_decay": 0.1}, rmsprop_solver,
         "delta inside the root, or weight_decay added after the square (Caffe regularizes the diff first)",
         lr_key="base_lr", lr_change=0.003),
]
write("caffe", "Caffe src/caffe/solvers/rmsprop_solver.cpp, sgd_solver.cpp (Regularize)", "caffe.py", cases)
