#!/usr/bin/python3
"""Golden data for spec/optim_more_spec.lua and spec/lr_spec.lua, from PyTorch
1.13's own torch.optim (Debian's python3-torch): run with /usr/bin/python3

    /usr/bin/python3 scripts/golden/torch_optim_more.py > spec/golden/torch_optim_more.lua

Three parts, one Lua chunk:

* `cases`: Adamax, ASGD, NAdam, RAdam, Rprop on the 8-D quadratic of
  ../shared/golden/README.md (f = 0.5*sum h*(x-c)^2, gradient at step t
  h*(x-c) + 0.1*sin(t*i)), in float64, 60 steps; `traj[t]` at the steps listed
  in `at`; `lr_change` = {after step, new lr} sets param_groups[0]['lr']
  between two steps; `state` = the optimizer state after the last step.
* `lbfgs`: torch.optim.LBFGS on f = sum 0.5*h*(x-c)^2 + 0.3*cos(i*x) (not a
  quadratic, so the line search and the curvature test do work); per step the
  loss step() returned, the closure calls it made and x after it.
* `schedules`: the lrs (and momentum / beta1 where a scheduler cycles it) of
  two parameter groups (SGD lr 0.1 and 0.02, momentum 0.9), after construction
  and after each step (`records[k]` = {lr1, lr2[, momentum1, momentum2]}), for every scheduler of the issue; `ops` lists what
  happened between the records ("step", "step_epoch", "set_lr", "metric").

The default dtype is float64, so the 0-d state tensors (ASGD's eta and mu,
NAdam's mu_product) are float64 as gdlua keeps them (with float32 defaults
PyTorch would round them to float32 each step).
"""
import math
import sys

import torch
import torch.optim as optim
import torch.optim.lr_scheduler as S

torch.set_default_dtype(torch.float64)
N, STEPS = 8, 60
AT = [1, 2, 3, 4, 5, 6, 7, 8, 10, 15, 20, 25, 29, 30, 31, 32, 35, 40, 45, 50, 55, 60]


def lua(v, ind=""):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isinf(v):
            return "math.huge" if v > 0 else "-math.huge"
        return repr(v) if v == round(v, 10) else "%.14g" % v  # 14 digits: far inside 1e-9
    if isinstance(v, str):
        return '"' + v + '"'
    if isinstance(v, (list, tuple)):
        items = [lua(x, ind + "  ") for x in v]
        one = "{" + ", ".join(items) + "}"
        if len(one) < 110 or all(not isinstance(x, (list, tuple, dict)) for x in v):
            return one
        return "{\n" + "".join(ind + "  " + x + ",\n" for x in items) + ind + "}"
    if isinstance(v, dict):
        parts = []
        for k, x in v.items():
            key = k if isinstance(k, str) and k.isidentifier() else "[" + lua(k) + "]"
            parts.append(ind + "  " + key + " = " + lua(x, ind + "  ") + ",\n")
        one = "{" + ", ".join(x.strip().rstrip(",") for x in parts) + "}"
        if len(one) < 110:
            return one
        return "{\n" + "".join(parts) + ind + "}"
    raise TypeError(type(v))


g = torch.Generator().manual_seed(1513)
# rounded to 6 decimals so that the chunk states the problem exactly in few digits
h = [round(v, 6) for v in (torch.rand(N, generator=g) * 3 + 0.5).tolist()]
c = [round(v, 6) for v in torch.randn(N, generator=g).tolist()]
x0 = [round(v, 6) for v in (torch.randn(N, generator=g) * 2).tolist()]
H, Cc = torch.tensor(h), torch.tensor(c)
idx = torch.arange(1, N + 1, dtype=torch.float64)


def quad_grad(x, t):
    return H * (x - Cc) + 0.1 * torch.sin(t * idx)


# ---------------------------------------------------------------- element-wise
# Hyperparameters chosen so that conventions separate: non-default betas, weight
# decay, eps large enough to matter, lr changes half way (they reach ASGD's eta
# one step late and Rprop's step sizes never), ASGD's averaging switched on at
# step 20, RAdam both with its early rectification (beta2 = 0.99) and late
# (beta2 = 0.9), Rprop's step sizes clamped at both ends.
CASES = [
    ("Adamax", dict(lr=0.05, betas=[0.8, 0.99], eps=1e-2, weight_decay=0.1), (30, 0.02)),
    ("Adamax", dict(lr=0.01, maximize=True), None),
    ("ASGD", dict(lr=0.05, lambd=0.02, alpha=0.6, t0=20.0, weight_decay=0.05), (30, 0.02)),
    ("ASGD", dict(lr=0.02), None),
    ("ASGD", dict(lr=0.03, lambd=0.1, alpha=1.5, t0=0.0, maximize=True), None),
    ("NAdam", dict(lr=0.05, betas=[0.85, 0.995], eps=1e-3, weight_decay=0.01, momentum_decay=0.01), (30, 0.02)),
    ("NAdam", dict(lr=0.02), None),
    ("RAdam", dict(lr=0.05, betas=[0.9, 0.99], eps=1e-3, weight_decay=0.1), (30, 0.02)),
    ("RAdam", dict(lr=0.03, betas=[0.7, 0.9]), None),
    ("Rprop", dict(lr=0.05, etas=[0.4, 1.3], step_sizes=[1e-3, 0.2]), (30, 0.5)),
    ("Rprop", dict(lr=0.01, maximize=True, step_sizes=[1e-6, 0.05]), None),
]


def run_case(name, hyper, change):
    x = torch.tensor(x0, requires_grad=False)
    kw = dict(hyper)
    for k in ("betas", "etas", "step_sizes"):
        if k in kw:
            kw[k] = tuple(kw[k])
    opt = getattr(optim, name)([x], **kw)
    traj = {}
    for t in range(1, STEPS + 1):
        x.grad = quad_grad(x, t)
        opt.step()
        if t in AT:
            traj[t] = x.tolist()
        if change and t == change[0]:
            opt.param_groups[0]["lr"] = change[1]
    st = {}
    for k, v in opt.state[x].items():
        if k == "step":
            continue
        st[k] = v.tolist() if v.dim() > 0 else float(v)
    case = {"torch": name, "hyper": hyper, "traj": traj, "state": st}
    if change:
        case["lr_change"] = list(change)
    return case


cases = [run_case(*c) for c in CASES]

# ---------------------------------------------------------------------- LBFGS
def lbfgs_f(x):
    return (0.5 * H * (x - Cc) ** 2 + 0.3 * torch.cos(idx * x)).sum()


LBFGS_CASES = [
    dict(lr=1.0, max_iter=5, history_size=4),
    dict(lr=0.5, max_iter=4, history_size=2, tolerance_change=1e-12),
    dict(lr=1.0, max_iter=6, history_size=3, line_search_fn="strong_wolfe"),
    dict(lr=0.8, max_iter=10, max_eval=12, history_size=5, tolerance_grad=1e-9, line_search_fn="strong_wolfe"),
    dict(lr=1.0, max_iter=20, tolerance_grad=1e-4, line_search_fn="strong_wolfe"),
]


def run_lbfgs(hyper, steps=8):
    x = torch.tensor(x0, requires_grad=True)
    opt = optim.LBFGS([x], **hyper)
    calls = [0]

    def closure():
        calls[0] += 1
        opt.zero_grad()
        loss = lbfgs_f(x)
        loss.backward()
        return loss

    out = []
    for _ in range(steps):
        calls[0] = 0
        loss = opt.step(closure)
        out.append({"loss": float(loss), "calls": calls[0], "x": x.detach().tolist()})
    st = opt.state[opt._params[0]]
    return {"hyper": hyper, "steps": out, "func_evals": st["func_evals"], "n_iter": st["n_iter"]}


lbfgs = [run_lbfgs(hy) for hy in LBFGS_CASES]

# ----------------------------------------------------------------- schedules
def make_opt(kind="SGD"):
    p1, p2 = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    if kind == "Adam":
        return optim.Adam([{"params": [p1]}, {"params": [p2], "lr": 0.02}], lr=0.1, betas=(0.9, 0.99))
    return optim.SGD([{"params": [p1]}, {"params": [p2], "lr": 0.02}], lr=0.1, momentum=0.9)


def record(opt, want_mom):
    lrs = [g["lr"] for g in opt.param_groups]
    if want_mom:
        lrs += [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]
    return lrs


def lam(e):  # the LambdaLR lambda, written the same in spec/lr_spec.lua
    return 0.5 + 0.1 * e


def mul_lam(e):  # MultiplicativeLR's, likewise
    return 0.9 if e % 2 == 1 else 1.05


def run_sched(name, build, ops, kind="SGD", mom=False, spec=None):
    opt = make_opt(kind)
    scheds = build(opt)
    if not isinstance(scheds, list):
        scheds = [scheds]
    recs = [record(opt, mom)]
    for op in ops:
        if op[0] == "step":
            for s in scheds:
                s.step()
        elif op[0] == "step_epoch":
            for s in scheds:
                s.step(op[1])
        elif op[0] == "metric":
            for s in scheds:
                s.step(op[1])
        elif op[0] == "set_lr":
            opt.param_groups[0]["lr"] = op[1]
        recs.append(record(opt, mom))
    return {"name": name, "spec": spec, "ops": [o[0] if len(o) == 1 else list(o) for o in ops], "records": recs, "optimizer": kind}


steps = lambda n: [("step",)] * n
SCHEDULES = [
    ("StepLR", lambda o: S.StepLR(o, step_size=3, gamma=0.5), steps(10), "SGD", False,
     [{"StepLR": {"step_size": 3, "gamma": 0.5}}]),
    ("MultiStepLR", lambda o: S.MultiStepLR(o, milestones=[3, 7, 7, 12], gamma=0.5), steps(14), "SGD", False,
     [{"MultiStepLR": {"milestones": [3, 7, 7, 12], "gamma": 0.5}}]),
    ("MultiStepLR closed form", lambda o: S.MultiStepLR(o, milestones=[2, 5, 5], gamma=0.3),
     [("step_epoch", 1), ("step_epoch", 5), ("step_epoch", 3), ("step_epoch", 9)], "SGD", False,
     [{"MultiStepLR": {"milestones": [2, 5, 5], "gamma": 0.3}}]),
    ("ConstantLR", lambda o: S.ConstantLR(o, factor=0.25, total_iters=4), steps(7), "SGD", False,
     [{"ConstantLR": {"factor": 0.25, "total_iters": 4}}]),
    ("LinearLR", lambda o: S.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=5), steps(8), "SGD", False,
     [{"LinearLR": {"start_factor": 0.2, "end_factor": 0.9, "total_iters": 5}}]),
    ("ExponentialLR", lambda o: S.ExponentialLR(o, gamma=0.8), steps(6), "SGD", False,
     [{"ExponentialLR": {"gamma": 0.8}}]),
    ("PolynomialLR", lambda o: S.PolynomialLR(o, total_iters=6, power=2.0), steps(9), "SGD", False,
     [{"PolynomialLR": {"total_iters": 6, "power": 2.0}}]),
    ("CosineAnnealingLR", lambda o: S.CosineAnnealingLR(o, T_max=4, eta_min=0.01), steps(13), "SGD", False,
     [{"CosineAnnealingLR": {"T_max": 4, "eta_min": 0.01}}]),
    ("LambdaLR", lambda o: S.LambdaLR(o, lr_lambda=lam), steps(5), "SGD", False,
     [{"LambdaLR": {"lr_lambda": "lam"}}]),
    ("MultiplicativeLR", lambda o: S.MultiplicativeLR(o, lr_lambda=mul_lam), steps(6), "SGD", False,
     [{"MultiplicativeLR": {"lr_lambda": "mul_lam"}}]),
    ("CyclicLR triangular", lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=[0.1, 0.05], step_size_up=3,
                                                 step_size_down=5), steps(18), "SGD", True,
     [{"CyclicLR": {"base_lr": 0.01, "max_lr": [0.1, 0.05], "step_size_up": 3, "step_size_down": 5}}]),
    ("CyclicLR triangular2", lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=2,
                                                  mode="triangular2", base_momentum=0.7, max_momentum=0.95),
     steps(13), "SGD", True,
     [{"CyclicLR": {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 2, "mode": "triangular2",
                    "base_momentum": 0.7, "max_momentum": 0.95}}]),
    ("CyclicLR exp_range", lambda o: S.CyclicLR(o, base_lr=[0.01, 0.002], max_lr=0.1, step_size_up=3,
                                                mode="exp_range", gamma=0.9, cycle_momentum=False),
     steps(14), "SGD", True,
     [{"CyclicLR": {"base_lr": [0.01, 0.002], "max_lr": 0.1, "step_size_up": 3, "mode": "exp_range",
                    "gamma": 0.9, "cycle_momentum": False}}]),
    ("OneCycleLR cos", lambda o: S.OneCycleLR(o, max_lr=[0.1, 0.05], total_steps=12, pct_start=0.25),
     steps(11), "SGD", True,
     [{"OneCycleLR": {"max_lr": [0.1, 0.05], "total_steps": 12, "pct_start": 0.25}}]),
    ("OneCycleLR linear three_phase Adam", lambda o: S.OneCycleLR(o, max_lr=0.2, epochs=3, steps_per_epoch=4,
                                                                  anneal_strategy="linear", three_phase=True,
                                                                  div_factor=10.0, final_div_factor=100.0,
                                                                  base_momentum=0.8, max_momentum=0.9),
     steps(11), "Adam", True,
     [{"OneCycleLR": {"max_lr": 0.2, "epochs": 3, "steps_per_epoch": 4, "anneal_strategy": "linear",
                      "three_phase": True, "div_factor": 10.0, "final_div_factor": 100.0,
                      "base_momentum": 0.8, "max_momentum": 0.9}}]),
    ("CosineAnnealingWarmRestarts", lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.001),
     steps(16), "SGD", False,
     [{"CosineAnnealingWarmRestarts": {"T_0": 3, "T_mult": 2, "eta_min": 0.001}}]),
    ("CosineAnnealingWarmRestarts fractional epochs",
     lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=3, eta_min=0.005),
     [("step_epoch", e) for e in [0.5, 1.0, 1.75, 2.0, 3.5, 7.9, 8.0, 9.25, 30.5, 0.25]], "SGD", False,
     [{"CosineAnnealingWarmRestarts": {"T_0": 2, "T_mult": 3, "eta_min": 0.005}}]),
    ("CosineAnnealingWarmRestarts T_mult 1", lambda o: S.CosineAnnealingWarmRestarts(o, T_0=4),
     steps(3) + [("step_epoch", 9.5), ("step",), ("step",)], "SGD", False,
     [{"CosineAnnealingWarmRestarts": {"T_0": 4}}]),
    ("ReduceLROnPlateau min rel", lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=2, threshold=0.1,
                                                               cooldown=1, min_lr=[0.01, 0.004]),
     [("metric", m) for m in [1.0, 0.95, 0.92, 0.91, 0.85, 0.8, 0.89, 0.79, 0.78, 0.77, 0.76, 0.75, 0.74, 0.7,
                              0.69, 0.68, 0.67]], "SGD", False,
     [{"ReduceLROnPlateau": {"factor": 0.5, "patience": 2, "threshold": 0.1, "cooldown": 1,
                             "min_lr": [0.01, 0.004]}}]),
    ("ReduceLROnPlateau max abs", lambda o: S.ReduceLROnPlateau(o, mode="max", factor=0.1, patience=1,
                                                               threshold=0.05, threshold_mode="abs",
                                                               eps=1e-3),
     [("metric", m) for m in [0.1, 0.2, 0.22, 0.24, 0.3, 0.31, 0.32, 0.33, 0.34, 0.35, 0.36]], "SGD", False,
     [{"ReduceLROnPlateau": {"mode": "max", "factor": 0.1, "patience": 1, "threshold": 0.05,
                             "threshold_mode": "abs", "eps": 1e-3}}]),
    ("SequentialLR", lambda o: S.SequentialLR(o, [S.ConstantLR(o, factor=0.5, total_iters=2),
                                                  S.ExponentialLR(o, gamma=0.9)], milestones=[3]),
     steps(8), "SGD", False,
     [{"SequentialLR": {"milestones": [3]}}, {"ConstantLR": {"factor": 0.5, "total_iters": 2}},
      {"ExponentialLR": {"gamma": 0.9}}]),
    ("SequentialLR warmup then cosine", lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=3),
                                                                     S.CosineAnnealingLR(o, T_max=5),
                                                                     S.StepLR(o, step_size=2, gamma=0.5)],
                                                                 milestones=[4, 7]),
     steps(12), "SGD", False,
     [{"SequentialLR": {"milestones": [4, 7]}}, {"LinearLR": {"start_factor": 0.1, "total_iters": 3}},
      {"CosineAnnealingLR": {"T_max": 5}}, {"StepLR": {"step_size": 2, "gamma": 0.5}}]),
    ("ChainedScheduler", lambda o: S.ChainedScheduler([S.ConstantLR(o, factor=0.5, total_iters=3),
                                                       S.ExponentialLR(o, gamma=0.9)]),
     steps(6), "SGD", False,
     [{"ChainedScheduler": {}}, {"ConstantLR": {"factor": 0.5, "total_iters": 3}},
      {"ExponentialLR": {"gamma": 0.9}}]),
    ("two schedulers on one optimizer", lambda o: [S.StepLR(o, step_size=2, gamma=0.5),
                                                   S.ExponentialLR(o, gamma=0.9)],
     steps(7), "SGD", False,
     [{"StepLR": {"step_size": 2, "gamma": 0.5}}, {"ExponentialLR": {"gamma": 0.9}}]),
    ("manual lr change kept", lambda o: S.ExponentialLR(o, gamma=0.9),
     steps(3) + [("set_lr", 0.5)] + steps(3), "SGD", False, [{"ExponentialLR": {"gamma": 0.9}}]),
    ("manual lr change, StepLR and CosineAnnealingLR",
     lambda o: [S.StepLR(o, step_size=3, gamma=0.5), S.CosineAnnealingLR(o, T_max=6)],
     steps(2) + [("set_lr", 0.3)] + steps(6), "SGD", False,
     [{"StepLR": {"step_size": 3, "gamma": 0.5}}, {"CosineAnnealingLR": {"T_max": 6}}]),
    ("manual lr change, OneCycleLR overwrites", lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=6),
     steps(2) + [("set_lr", 0.5)] + steps(2), "SGD", True, [{"OneCycleLR": {"max_lr": 0.1, "total_steps": 6}}]),
]

schedules = [run_sched(n, b, ops, k, m, sp) for (n, b, ops, k, m, sp) in SCHEDULES]

out = {"torch_version": torch.__version__, "h": h, "c": c, "x0": x0, "steps": STEPS, "at": AT,
       "cases": cases, "lbfgs": lbfgs, "schedules": schedules}
sys.stdout.write("-- Generated by scripts/golden/torch_optim_more.py from PyTorch %s's torch.optim (float64).\n"
                 "-- Do not edit: rerun the script (see its docstring for the protocol).\n" % torch.__version__)
sys.stdout.write("return " + lua(out) + "\n")
