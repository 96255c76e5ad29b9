#!/usr/bin/python3
"""PyTorch's RMSprop and Adagrad, run by PyTorch itself (Debian's python3-torch
1.13: torch/optim/rmsprop.py, torch/optim/adagrad.py), in float64.
Run with /usr/bin/python3 (the Debian interpreter that has torch)."""
import math
import torch
from golden_common import X0, H, C, STEPS, CHANGE_AT, make, write

torch.set_default_dtype(torch.float64)


def run(cls, hyper, lr_change=None):
    x = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
    opt = cls([x], **hyper)
    traj = []
    for t in range(1, STEPS + 1):
        if lr_change is not None and t == CHANGE_AT:
            for g in opt.param_groups:   # what a schedule does
                g["lr"] = lr_change
        with torch.no_grad():
            x.grad = torch.tensor([H[i] * (x[i].item() - C[i]) + 0.1 * math.sin(t * (i + 1))
                                   for i in range(len(X0))], dtype=torch.float64)
        opt.step()
        traj.append([v.item() for v in x.detach()])
    return traj


def torch_case(optimizer, cls, hyper, catches, lr_change=None):
    return make(optimizer, "pytorch", hyper, catches, run(cls, hyper, lr_change), lr_change)


cases = [
    torch_case("RMSProp", torch.optim.RMSprop, {"lr": 0.01, "alpha": 0.9, "eps": 0.1},
               "eps inside the root (PyTorch adds it to sqrt(v))"),
    torch_case("RMSProp", torch.optim.RMSprop, {"lr": 0.01, "alpha": 0.9, "eps": 0.1, "momentum": 0.9},
               "lr inside the momentum buffer (PyTorch's buffer holds g/d, lr multiplies it)", lr_change=0.002),
    torch_case("RMSProp", torch.optim.RMSprop, {"lr": 0.01, "alpha": 0.9, "eps": 0.1, "centered": True,
                                                "momentum": 0.5, "weight_decay": 0.1},
               "centered without subtracting avg^2, or decay not added to the gradient before both averages",
               lr_change=0.003),
    torch_case("RMSProp", torch.optim.RMSprop, {"lr": 0.01, "eps": 0.05, "maximize": True, "weight_decay": 0.1},
               "maximize negating after the weight decay (PyTorch negates the gradient first)"),
    torch_case("AdaGrad", torch.optim.Adagrad, {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1,
                                                "initial_accumulator_value": 0.5, "eps": 0.1},
               "eps inside the root, the sum not starting at initial_accumulator_value, lr/(1 + t*lr_decay) "
               "instead of (t-1), or the decayed lr taken from the initial lr", lr_change=0.05),
]
write("pytorch", "torch.optim.RMSprop, torch.optim.Adagrad (PyTorch %s, run here)" % torch.__version__,
      "pytorch.py", cases)
