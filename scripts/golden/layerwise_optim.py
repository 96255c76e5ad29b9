#!/usr/bin/python3
"""Golden data for spec/optim_layerwise_spec.lua: optimizers that look at whole
tensors (norms, factored moments, orthogonalisation), not one element at a time.

    /usr/bin/python3 scripts/golden/layerwise_optim.py > spec/golden/layerwise_optim.lua

Each update is written from its reference implementation, in its order of
tensor operations, with Debian's PyTorch 1.13 in float64:

  LAMB       cybertronai/pytorch-lamb pytorch_lamb/lamb.py (You et al. 2019)
  LARS       timm/optim/lars.py (You et al. 2017; apex LARC's clipping)
  Adafactor  huggingface/transformers optimization.py Adafactor (Shazeer & Stern 2018)
  Muon       KellerJordan/Muon muon.py SingleDeviceMuonWithAuxAdam: Newton-Schulz
             (quintic, 5 steps) on matrices, Adam for the rest.  The reference
             runs Newton-Schulz in bfloat16 on GPUs; here (and in gdlua) it runs
             in the parameters' dtype.

The problem: three parameters, W1 (4x3), W2 (3x5), b (4); f = 0.5*sum h*(p-c)^2
per parameter with the gradient h*(p-c) + 0.1*sin(t*k) (k the 1-based flat index
within the parameter) at step t.  Every case changes the learning rate after
step 10 and uses weight decay.
"""
import math

import torch

torch.set_default_dtype(torch.float64)
STEPS, CHANGE = 20, 10
AT = [1, 2, 3, 5, 8, 10, 11, 12, 15, 20]   # the steps recorded (15 digits: far inside 1e-9)
SHAPES = [(4, 3), (3, 5), (4,)]


def init():
    ps, hs, cs = [], [], []
    for n, shape in enumerate(SHAPES):
        k = torch.arange(1, math.prod(shape) + 1, dtype=torch.float64)
        ps.append((torch.cos(k * (n + 1)) * 1.5).reshape(shape))
        hs.append((0.3 + (k % 5) * 0.4).reshape(shape))
        cs.append((torch.sin(k * 0.7 + n) * 0.8).reshape(shape))
    return ps, hs, cs


def grads(ps, hs, cs, t):
    out = []
    for p, h, c in zip(ps, hs, cs):
        k = torch.arange(1, p.numel() + 1, dtype=torch.float64).reshape(p.shape)
        out.append(h * (p - c) + 0.1 * torch.sin(t * k))
    return out


def lamb(p, g, st, hp):
    if not st:
        st["step"] = 0
        st["exp_avg"] = torch.zeros_like(p)
        st["exp_avg_sq"] = torch.zeros_like(p)
    m, v = st["exp_avg"], st["exp_avg_sq"]
    b1, b2 = hp["betas"]
    st["step"] += 1
    m.mul_(b1).add_(g, alpha=1 - b1)
    v.mul_(b2).addcmul_(g, g, value=1 - b2)
    denom = v.sqrt().add(hp["eps"])
    step_size = hp["lr"]
    weight_norm = p.pow(2).sum().sqrt()
    adam_step = m / denom
    if hp["weight_decay"] != 0:
        adam_step.add_(p, alpha=hp["weight_decay"])
    adam_norm = adam_step.pow(2).sum().sqrt()
    trust_ratio = weight_norm / adam_norm
    if hp["adam"]:
        trust_ratio = 1
    p.add_(adam_step, alpha=-step_size * float(trust_ratio))


def lars(p, g, st, hp):
    wd, mom, damp = hp["weight_decay"], hp["momentum"], hp["dampening"]
    if wd != 0 or hp["always_adapt"]:
        w_norm = p.norm(2.0)
        g_norm = g.norm(2.0)
        trust_ratio = hp["trust_coeff"] * w_norm / (g_norm + w_norm * wd + hp["eps"])
        trust_ratio = torch.where(w_norm > 0, torch.where(g_norm > 0, trust_ratio, torch.tensor(1.0)),
                                  torch.tensor(1.0))
        if hp["trust_clip"]:
            trust_ratio = torch.clamp(trust_ratio / hp["lr"], max=1.0)
        g = g.add(p, alpha=wd).mul_(trust_ratio)
    if mom != 0:
        if "momentum_buffer" not in st:
            buf = st["momentum_buffer"] = torch.clone(g).detach()
        else:
            buf = st["momentum_buffer"]
            buf.mul_(mom).add_(g, alpha=1. - damp)
        g = g.add(buf, alpha=mom) if hp["nesterov"] else buf
    p.add_(g, alpha=-hp["lr"])


def rms(t):
    return t.norm(2) / (t.numel() ** 0.5)


def adafactor(p, g, st, hp):
    factored = len(g.shape) >= 2
    use_first_moment = hp["beta1"] is not None
    if not st:
        st["step"] = 0
        if use_first_moment:
            st["exp_avg"] = torch.zeros_like(g)
        if factored:
            st["exp_avg_sq_row"] = torch.zeros(g.shape[:-1])
            st["exp_avg_sq_col"] = torch.zeros(g.shape[:-2] + g.shape[-1:])
        else:
            st["exp_avg_sq"] = torch.zeros_like(g)
        st["RMS"] = 0
    st["step"] += 1
    st["RMS"] = rms(p)
    rel = hp["lr"]
    if hp["relative_step"]:
        min_step = 1e-6 * st["step"] if hp["warmup_init"] else 1e-2
        rel = min(min_step, 1.0 / math.sqrt(st["step"]))
    scale = 1.0
    if hp["scale_parameter"]:
        scale = max(hp["eps"][1], st["RMS"])
    lr = scale * rel
    beta2t = 1.0 - math.pow(st["step"], hp["decay_rate"])
    update = (g ** 2) + hp["eps"][0]
    if factored:
        row, col = st["exp_avg_sq_row"], st["exp_avg_sq_col"]
        row.mul_(beta2t).add_(update.mean(dim=-1), alpha=(1.0 - beta2t))
        col.mul_(beta2t).add_(update.mean(dim=-2), alpha=(1.0 - beta2t))
        r_factor = (row / row.mean(dim=-1, keepdim=True)).rsqrt_().unsqueeze(-1)
        c_factor = col.unsqueeze(-2).rsqrt()
        update = torch.mul(r_factor, c_factor)
        update.mul_(g)
    else:
        v = st["exp_avg_sq"]
        v.mul_(beta2t).add_(update, alpha=(1.0 - beta2t))
        update = v.rsqrt().mul_(g)
    update.div_((rms(update) / hp["clip_threshold"]).clamp_(min=1.0))
    update.mul_(lr)
    if use_first_moment:
        m = st["exp_avg"]
        m.mul_(hp["beta1"]).add_(update, alpha=(1 - hp["beta1"]))
        update = m
    if hp["weight_decay"] != 0:
        p.add_(p, alpha=(-hp["weight_decay"] * lr))
    p.add_(-update)


def newton_schulz(G, steps):
    a, b, c = (3.4445, -4.7750, 2.0315)
    X = G.clone()
    if G.size(-2) > G.size(-1):
        X = X.mT
    X = X / (X.norm(dim=(-2, -1), keepdim=True) + 1e-7)
    for _ in range(steps):
        A = X @ X.mT
        B = b * A + c * A @ A
        X = a * X + B @ X
    if G.size(-2) > G.size(-1):
        X = X.mT
    return X


def muon(p, g, st, hp):
    if p.ndim >= 2:
        if not st:
            st["momentum_buffer"] = torch.zeros_like(p)
        beta = hp["momentum"]
        buf = st["momentum_buffer"]
        grad = g.clone()
        buf.lerp_(grad, 1 - beta)
        update = grad.lerp_(buf, beta) if hp["nesterov"] else buf
        if update.ndim == 4:
            update = update.view(len(update), -1)
        update = newton_schulz(update, steps=hp["ns_steps"])
        update *= max(1, grad.size(-2) / grad.size(-1)) ** 0.5
        p.mul_(1 - hp["lr"] * hp["weight_decay"])
        p.add_(update.reshape(p.shape), alpha=-hp["lr"])
    else:
        if not st:
            st["exp_avg"] = torch.zeros_like(p)
            st["exp_avg_sq"] = torch.zeros_like(p)
            st["step"] = 0
        st["step"] += 1
        b1, b2 = hp["adam_betas"]
        buf1, buf2 = st["exp_avg"], st["exp_avg_sq"]
        buf1.lerp_(g, 1 - b1)
        buf2.lerp_(g.square(), 1 - b2)
        buf1c = buf1 / (1 - b1 ** st["step"])
        buf2c = buf2 / (1 - b2 ** st["step"])
        update = buf1c / (buf2c.sqrt() + hp["adam_eps"])
        p.mul_(1 - hp["adam_lr"] * hp["adam_weight_decay"])
        p.add_(update, alpha=-hp["adam_lr"])


CASES = [
    ("LAMB", "LAMB", {"lr": 0.05, "betas": [0.8, 0.9], "eps": 0.01, "weight_decay": 0.1, "adam": False},
     {"lr": 0.01}, "the trust ratio ||p|| / ||m/(sqrt(v)+eps) + wd*p|| per tensor (not per arena); no bias correction"),
    ("LAMB adam=true", "LAMB", {"lr": 0.05, "betas": [0.8, 0.9], "eps": 0.01, "weight_decay": 0.1, "adam": True},
     {"lr": 0.01}, "trust ratio fixed at 1"),
    ("LARS momentum, wd", "LARS", {"lr": 0.5, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.05,
                                   "nesterov": False, "trust_coeff": 0.02, "eps": 1e-8, "trust_clip": False,
                                   "always_adapt": False},
     {"lr": 0.1}, "trust = coeff*||p|| / (||g|| + wd*||p|| + eps) applied to g + wd*p before the momentum"),
    ("LARS nesterov, clip", "LARS", {"lr": 0.5, "momentum": 0.8, "dampening": 0.0, "weight_decay": 0.05,
                                     "nesterov": True, "trust_coeff": 0.5, "eps": 1e-8, "trust_clip": True,
                                     "always_adapt": False},
     {"lr": 0.2}, "LARC's clip min(trust / lr, 1)"),
    ("Adafactor relative step", "Adafactor", {"lr": None, "eps": [1e-30, 1e-3], "clip_threshold": 1.0,
                                              "decay_rate": -0.8, "beta1": None, "weight_decay": 0.05,
                                              "scale_parameter": True, "relative_step": True,
                                              "warmup_init": False},
     {}, "factored row/column moments of g^2 + eps1 for matrices, full for vectors; RMS-clipped update"),
    ("Adafactor fixed lr, beta1", "Adafactor", {"lr": 0.05, "eps": [1e-30, 1e-3], "clip_threshold": 0.5,
                                                "decay_rate": -0.6, "beta1": 0.8, "weight_decay": 0.1,
                                                "scale_parameter": False, "relative_step": False,
                                                "warmup_init": False},
     {"lr": 0.01}, "the first moment of the clipped update; decay scaled by the step's lr"),
    ("Muon with auxiliary Adam", "Muon", {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.1, "nesterov": True,
                                          "ns_steps": 5, "adam_lr": 0.01, "adam_betas": [0.8, 0.9],
                                          "adam_eps": 1e-3, "adam_weight_decay": 0.05},
     {"lr": 0.02, "adam_lr": 0.005}, "Newton-Schulz on the Nesterov blend (quintic coefficients, Frobenius normalisation); "
     "the sqrt(rows/cols) scale; Adam on the vector"),
    ("Muon without Nesterov", "Muon", {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.0, "nesterov": False,
                                       "ns_steps": 3, "adam_lr": 0.01, "adam_betas": [0.9, 0.95],
                                       "adam_eps": 1e-10, "adam_weight_decay": 0.0},
     {"lr": 0.01}, "the momentum buffer itself orthogonalised"),
]

UPDATE = {"LAMB": lamb, "LARS": lars, "Adafactor": adafactor, "Muon": muon}


def lua(v):
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "%.15g" % v
    if isinstance(v, str):
        return '"' + v.replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "{" + ", ".join(lua(x) for x in v) + "}"
    if isinstance(v, dict):
        return "{" + ", ".join("%s = %s" % (k, lua(v[k])) for k in sorted(v) if v[k] is not None) + "}"
    raise TypeError(type(v))


ps0, hs, cs = init()
out = ["-- Generated by scripts/golden/layerwise_optim.py (PyTorch 1.13, float64); do not edit.", "return {"]
out.append("  shapes = %s, steps = %d, lr_change_after = %d," % (lua([list(s) for s in SHAPES]), STEPS, CHANGE))
def exact(ts):   # the problem itself in full precision
    return "{" + ", ".join("{" + ", ".join("%.17g" % v for v in t.flatten().tolist()) + "}" for t in ts) + "}"


out.append("  p0 = %s," % exact(ps0))
out.append("  h = %s," % exact(hs))
out.append("  c = %s," % exact(cs))
out.append("  cases = {")
for title, name, hp0, change, catches in CASES:
    hp = dict(hp0)
    ps = [p.clone() for p in ps0]
    sts = [{} for _ in ps]
    traj = []
    for t in range(1, STEPS + 1):
        if t == CHANGE + 1:
            hp.update(change)
        for p, g, st in zip(ps, grads(ps, hs, cs, t), sts):
            UPDATE[name](p, g, st, hp)
        if t in AT:
            traj.append("[%d] = %s" % (t, lua([p.flatten().tolist() for p in ps])))
    out.append("    {name = %s, optimizer = %s, catches = %s," % (lua(title), lua(name), lua(catches)))
    out.append("     hyper = %s, change = %s," % (lua(hp0), lua(change)))
    out.append("     traj = {" + ",\n       ".join(traj) + "}},")
out.append("  },")
out.append("}")
print("\n".join(out))
