#!/usr/bin/python3
"""Golden data for spec/optim_papers_spec.lua: what papers compare against now.

    /usr/bin/python3 scripts/golden/papers_optim.py > spec/golden/papers_optim.lua

Each optimizer's update is written here from its reference implementation, in
that implementation's order of tensor operations, run with Debian's PyTorch 1.13
in float64 (the references are PyTorch code; where they need PyTorch 2 the
one operation that differs is spelled out):

  Lion              google/automl lion/lion_pytorch.py (Chen et al. 2023)
  AdaBelief         adabelief_pytorch 0.2.0 AdaBelief.py (Zhuang et al. 2020)
  Adan              sail-sg/Adan adan.py, _single_tensor_adan (Xie et al. 2022)
  NAdamW            PyTorch 2's torch/optim/nadam.py, decoupled_weight_decay=True
  AdamWScheduleFree facebookresearch/schedule_free adamw_schedulefree.py (Defazio et al. 2024)
  SGDScheduleFree   facebookresearch/schedule_free sgd_schedulefree.py

The problem is ../shared/golden's 8-D quadratic: f = 0.5*sum h*(x-c)^2, gradient
at step t h*(x-c) + 0.1*sin(t*i).  Every case changes the learning rate after
step 20 (so lr inside/outside a buffer, and Schedule-Free's lr_max, matter) and
uses hyperparameters that separate the conventions: eps >= 0.01 (eps inside or
outside a root, AdaBelief's in-place eps), weight decay (coupled or decoupled,
proximal or not).  Schedule-Free cases also call eval() after step 20 (x is
recorded) and train() before step 21.
"""
import math

import torch

torch.set_default_dtype(torch.float64)
N, STEPS, CHANGE = 8, 40, 20
H = torch.tensor([0.5, 1.0, 2.0, 3.0, 0.1, 5.0, 1.5, 0.8])
C = torch.tensor([1.0, -2.0, 0.5, 3.0, -1.0, 0.25, 2.0, -0.5])
X0 = torch.tensor([-1.0, 1.5, 2.0, 0.0, 3.0, -1.5, 0.5, 1.0])


def grad_at(x, t):
    i = torch.arange(1, N + 1, dtype=torch.float64)
    return H * (x - C) + 0.1 * torch.sin(t * i)


# ---------------------------------------------------------------- the updates

def lion(p, g, st, hp, t):
    lr, (b1, b2), wd = hp["lr"], hp["betas"], hp["weight_decay"]
    m = st.setdefault("exp_avg", torch.zeros_like(p))
    p.mul_(1 - lr * wd)
    update = m * b1 + g * (1 - b1)
    p.add_(torch.sign(update), alpha=-lr)
    m.mul_(b2).add_(g, alpha=1 - b2)


def adabelief(p, g, st, hp, t):
    lr, (b1, b2), eps, wd = hp["lr"], hp["betas"], hp["eps"], hp["weight_decay"]
    if not st:
        st["step"] = 0
        st["exp_avg"] = torch.zeros_like(p)
        st["exp_avg_var"] = torch.zeros_like(p)
        if hp["amsgrad"]:
            st["max_exp_avg_var"] = torch.zeros_like(p)
    if hp["weight_decouple"]:
        if not hp["fixed_decay"]:
            p.mul_(1.0 - lr * wd)
        else:
            p.mul_(1.0 - wd)
    elif wd != 0:
        g = g.add(p, alpha=wd)
    m, v = st["exp_avg"], st["exp_avg_var"]
    st["step"] += 1
    bc1 = 1 - b1 ** st["step"]
    bc2 = 1 - b2 ** st["step"]
    m.mul_(b1).add_(g, alpha=1 - b1)
    r = g - m
    v.mul_(b2).addcmul_(r, r, value=1 - b2)
    if hp["amsgrad"]:
        vm = st["max_exp_avg_var"]
        torch.max(vm, v.add_(eps), out=vm)
        denom = (vm.sqrt() / math.sqrt(bc2)).add_(eps)
    else:
        denom = (v.add_(eps).sqrt() / math.sqrt(bc2)).add_(eps)
    if not hp["rectify"]:
        p.addcdiv_(m, denom, value=-(lr / bc1))
        return
    b2t = b2 ** st["step"]
    n_max = 2 / (1 - b2) - 1
    n_sma = n_max - 2 * st["step"] * b2t / (1 - b2t)
    if n_sma >= 5:
        step_size = math.sqrt((1 - b2t) * (n_sma - 4) / (n_max - 4) * (n_sma - 2) / n_sma * n_max / (n_max - 2)) / (
            1 - b1 ** st["step"])
    elif hp["degenerated_to_sgd"]:
        step_size = 1.0 / (1 - b1 ** st["step"])
    else:
        step_size = -1
    if n_sma >= 5:
        denom = v.sqrt().add_(eps)
        p.addcdiv_(m, denom, value=-step_size * lr)
    elif step_size > 0:
        p.add_(m, alpha=-step_size * lr)


def adan(params, grads, sts, hp, t, group):
    """One step over all parameters (Adan clips by the global norm first)."""
    lr, (b1, b2, b3), eps, wd = hp["lr"], hp["betas"], hp["eps"], hp["weight_decay"]
    if hp["max_grad_norm"] > 0:
        total = torch.zeros(1)
        for g in grads:
            total.add_(g.pow(2).sum())
        total = torch.sqrt(total)
        clip = torch.clamp(hp["max_grad_norm"] / (total + eps), max=1.0).item()
    else:
        clip = 1.0
    group["step"] = group.get("step", 0) + 1
    bc1 = 1.0 - b1 ** group["step"]
    bc2 = 1.0 - b2 ** group["step"]
    bc3 = 1.0 - b3 ** group["step"]
    for p, g, st in zip(params, grads, sts):
        if not st:
            st["exp_avg"] = torch.zeros_like(p)
            st["exp_avg_sq"] = torch.zeros_like(p)
            st["exp_avg_diff"] = torch.zeros_like(p)
        if "neg_pre_grad" not in st or group["step"] == 1:
            st["neg_pre_grad"] = g.clone().mul_(-clip)
        m, n, dm, neg = st["exp_avg"], st["exp_avg_sq"], st["exp_avg_diff"], st["neg_pre_grad"]
        g = g.clone().mul_(clip)
        neg.add_(g)
        m.mul_(b1).add_(g, alpha=1 - b1)
        dm.mul_(b2).add_(neg, alpha=1 - b2)
        neg.mul_(b2).add_(g)
        n.mul_(b3).addcmul_(neg, neg, value=1 - b3)
        denom = (n.sqrt() / math.sqrt(bc3)).add_(eps)
        step_size_diff = lr * b2 / bc2
        step_size = lr / bc1
        if hp["no_prox"]:
            p.mul_(1 - lr * wd)
            p.addcdiv_(m, denom, value=-step_size)
            p.addcdiv_(dm, denom, value=-step_size_diff)
        else:
            p.addcdiv_(m, denom, value=-step_size)
            p.addcdiv_(dm, denom, value=-step_size_diff)
            p.div_(1 + lr * wd)
        neg.zero_().add_(g, alpha=-1.0)


def nadamw(p, g, st, hp, t):
    lr, (b1, b2), eps, wd, md = hp["lr"], hp["betas"], hp["eps"], hp["weight_decay"], hp["momentum_decay"]
    if not st:
        st["step"] = 0
        st["mu_product"] = 1.0
        st["exp_avg"] = torch.zeros_like(p)
        st["exp_avg_sq"] = torch.zeros_like(p)
    st["step"] += 1
    step = st["step"]
    bias_correction2 = 1 - b2 ** step
    p.mul_(1 - lr * wd)                                   # decoupled_weight_decay=True
    mu = b1 * (1. - 0.5 * (0.96 ** (step * md)))
    mu_next = b1 * (1. - 0.5 * (0.96 ** ((step + 1) * md)))
    st["mu_product"] *= mu
    st["exp_avg"].lerp_(g, 1 - b1)
    st["exp_avg_sq"].mul_(b2).addcmul_(g, g, value=1 - b2)
    denom = st["exp_avg_sq"].div(bias_correction2).sqrt().add_(eps)
    p.addcdiv_(g, denom, value=(-lr * (1. - mu) / (1. - st["mu_product"])))
    p.addcdiv_(st["exp_avg"], denom, value=(-lr * mu_next) / (1. - st["mu_product"] * mu_next))


def schedule_free(p, g, st, hp, t, group, adam):
    beta = hp["betas"][0] if adam else hp["momentum"]
    k = group.setdefault("k", 0)
    group.setdefault("weight_sum", 0.0)
    group.setdefault("lr_max", -1.0)
    sched = (k + 1) / hp["warmup_steps"] if k < hp["warmup_steps"] else 1.0
    lr = hp["lr"] * sched
    if adam:
        lr = lr * math.sqrt(1 - hp["betas"][1] ** (k + 1))
    lr_max = group["lr_max"] = max(lr, group["lr_max"])
    weight = ((k + 1) ** hp["r"]) * (lr_max ** hp["weight_lr_power"])
    weight_sum = group["weight_sum"] = group["weight_sum"] + weight
    ckp1 = weight / weight_sum if weight_sum != 0 else 0
    if "z" not in st:
        st["z"] = torch.clone(p)
        if adam:
            st["exp_avg_sq"] = torch.zeros_like(p)
    y, z = p, st["z"]
    if adam:
        v = st["exp_avg_sq"]
        v.mul_(hp["betas"][1]).addcmul_(g, g, value=1 - hp["betas"][1])
        denom = v.sqrt().add_(hp["eps"])
        g = g.div(denom)
    if hp["weight_decay"] != 0:
        g = g.add(y, alpha=hp["weight_decay"])
    y.lerp_(end=z, weight=ckp1)
    y.add_(g, alpha=lr * (beta * (1 - ckp1) - 1))
    z.sub_(g, alpha=lr)
    group["k"] = k + 1


def sf_move(p, st, hp, adam, to_eval):
    beta = hp["betas"][0] if adam else hp["momentum"]
    if "z" in st:
        p.lerp_(end=st["z"], weight=1 - 1 / beta if to_eval else 1 - beta)


# ---------------------------------------------------------------- the cases

CASES = [
    ("Lion lr change, decoupled wd", "Lion", {"lr": 0.02, "betas": (0.8, 0.95), "weight_decay": 0.1}, 0.005,
     "sign of the interpolated momentum (not of m); m updated after the step with beta2; decay decoupled"),
    ("AdaBelief rectified, decoupled", "AdaBelief",
     {"lr": 0.05, "betas": (0.9, 0.99), "eps": 1e-3, "weight_decay": 0.05, "amsgrad": False,
      "weight_decouple": True, "fixed_decay": False, "rectify": True, "degenerated_to_sgd": True}, 0.01,
     "SGD steps while N_sma < 5, then RAdam's rectified step; eps accumulated in the state"),
    ("AdaBelief plain, amsgrad, coupled wd", "AdaBelief",
     {"lr": 0.05, "betas": (0.8, 0.9), "eps": 0.01, "weight_decay": 0.05, "amsgrad": True,
      "weight_decouple": False, "fixed_decay": False, "rectify": False, "degenerated_to_sgd": True}, 0.01,
     "the max of s + eps; sqrt(1 - b2^t) dividing the root; eps added twice"),
    ("AdaBelief fixed decay", "AdaBelief",
     {"lr": 0.03, "betas": (0.9, 0.95), "eps": 0.02, "weight_decay": 0.01, "amsgrad": False,
      "weight_decouple": True, "fixed_decay": True, "rectify": False, "degenerated_to_sgd": True}, 0.01,
     "p *= 1 - wd (not 1 - lr*wd)"),
    ("AdaBelief rectified, no SGD start", "AdaBelief",
     {"lr": 0.05, "betas": (0.9, 0.99), "eps": 1e-3, "weight_decay": 0.0, "amsgrad": False,
      "weight_decouple": True, "fixed_decay": False, "rectify": True, "degenerated_to_sgd": False}, 0.02,
     "no step at all while N_sma < 5 when degenerated_to_sgd is off"),
    ("Adan proximal decay", "Adan",
     {"lr": 0.05, "betas": (0.9, 0.8, 0.95), "eps": 0.01, "weight_decay": 0.05, "max_grad_norm": 0.0,
      "no_prox": False}, 0.01,
     "the difference term from the first step's zero; p /= 1 + lr*wd after the update"),
    ("Adan no_prox, global clip", "Adan",
     {"lr": 0.05, "betas": (0.95, 0.85, 0.9), "eps": 0.01, "weight_decay": 0.05, "max_grad_norm": 1.0,
      "no_prox": True}, 0.02,
     "p *= 1 - lr*wd first; gradients scaled by min(1, max_norm / (norm + eps))"),
    ("NAdamW", "NAdamW",
     {"lr": 0.05, "betas": (0.8, 0.9), "eps": 0.05, "weight_decay": 0.1, "momentum_decay": 0.04}, 0.01,
     "decoupled decay; PyTorch 2's mu_product * mu_next (1.13 multiplied mu twice)"),
    ("Schedule-Free AdamW, warmup, r", "AdamWScheduleFree",
     {"lr": 0.05, "betas": (0.8, 0.95), "eps": 0.01, "weight_decay": 0.05, "warmup_steps": 5, "r": 0.5,
      "weight_lr_power": 2.0}, 0.01,
     "lr_max kept across the lr change; the y/z interpolation; eval()'s x = lerp(y, z, 1 - 1/beta1)"),
    ("Schedule-Free SGD, warmup", "SGDScheduleFree",
     {"lr": 0.1, "momentum": 0.8, "weight_decay": 0.02, "warmup_steps": 3, "r": 0.0, "weight_lr_power": 2.0}, 0.03,
     "weight decay at y; ckp1 = weight / weight_sum"),
]

AT = [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 18, 20, 21, 22, 23, 25, 28, 30, 33, 36, 40]


def lua(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "%.17g" % v
    if isinstance(v, str):
        return '"' + v.replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "{" + ", ".join(lua(x) for x in v) + "}"
    if isinstance(v, dict):
        return "{" + ", ".join("%s = %s" % (k, lua(v[k])) for k in sorted(v)) + "}"
    raise TypeError(type(v))


def run(name, hp0, new_lr):
    hp = dict(hp0)
    x = X0.clone()
    st, group = {}, {}
    traj, eval_x = {}, None
    sf = name in ("AdamWScheduleFree", "SGDScheduleFree")
    for t in range(1, STEPS + 1):
        if t == CHANGE + 1:
            hp["lr"] = new_lr
            if sf:
                sf_move(x, st, hp, name == "AdamWScheduleFree", False)   # train()
        g = grad_at(x, t)
        if name == "Lion":
            lion(x, g, st, hp, t)
        elif name == "AdaBelief":
            adabelief(x, g, st, hp, t)
        elif name == "Adan":
            adan([x], [g], [st], hp, t, group)
        elif name == "NAdamW":
            nadamw(x, g, st, hp, t)
        else:
            schedule_free(x, g, st, hp, t, group, name == "AdamWScheduleFree")
        if t == CHANGE and sf:
            sf_move(x, st, hp, name == "AdamWScheduleFree", True)        # eval()
            eval_x = x.tolist()
        if t in AT:
            traj[t] = x.tolist()
    return traj, eval_x


out = ["-- Generated by scripts/golden/papers_optim.py (PyTorch 1.13, float64); do not edit.", "return {"]
out.append("  h = %s, c = %s, x0 = %s, steps = %d, lr_change_after = %d, at = %s," %
           (lua(H.tolist()), lua(C.tolist()), lua(X0.tolist()), STEPS, CHANGE, lua(AT)))
out.append("  cases = {")
for title, name, hp, new_lr, catches in CASES:
    traj, eval_x = run(name, hp, new_lr)
    hyper = dict(hp)
    hyper["betas"] = list(hp["betas"]) if "betas" in hp else None
    hyper = {k: v for k, v in hyper.items() if v is not None}
    out.append("    {name = %s, optimizer = %s, catches = %s, new_lr = %s," % (lua(title), lua(name), lua(catches),
                                                                              lua(new_lr)))
    out.append("     hyper = %s," % lua(hyper))
    if eval_x is not None:
        out.append("     eval_x = %s," % lua(eval_x))
    out.append("     traj = {" + ",\n       ".join("[%d] = %s" % (t, lua(traj[t])) for t in AT) + "}},")
out.append("  },")
out.append("}")
print("\n".join(out))
