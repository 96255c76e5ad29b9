# torch.optim on the same sizes as scripts/bench/optim.lua; prints "name\tseconds".
import sys, time
import torch

n, reps, threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(0)
configs = [
    ("SGD+momentum", torch.optim.SGD, dict(lr=0.01, momentum=0.9)),
    ("AdaGrad", torch.optim.Adagrad, dict(lr=0.01)),
    ("RMSProp", torch.optim.RMSprop, dict(lr=0.01)),
    ("RMSProp centered+momentum", torch.optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.9)),
    ("Adam", torch.optim.Adam, dict(lr=0.001)),
    ("Adamax", torch.optim.Adamax, dict(lr=0.002)),
    ("ASGD", torch.optim.ASGD, dict(lr=0.01, t0=0)),
    ("NAdam", torch.optim.NAdam, dict(lr=0.002)),
    ("RAdam", torch.optim.RAdam, dict(lr=0.001)),
    ("Rprop", torch.optim.Rprop, dict(lr=0.01)),
]
for name, cls, hyper in configs:
    p = torch.randn(n, requires_grad=True)
    p.grad = torch.randn(n) * 0.01
    opt = cls([p], **hyper)
    opt.step()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        opt.step()
        best = min(best, time.perf_counter() - t0)
    print(f"{name}\t{best}", flush=True)
    del p, opt

# the d2l loop
x = torch.tensor([-5.0, -2.0], dtype=torch.float64, requires_grad=True)
x.grad = torch.zeros_like(x)
h = torch.tensor([0.2, 4.0], dtype=torch.float64)
opt = torch.optim.RMSprop([x], lr=0.01, alpha=0.9, eps=1e-6)
iters = 20000
with torch.no_grad():
    for _ in range(1000):
        x.grad.copy_(x).mul_(h); opt.step()
    t0 = time.perf_counter()
    for _ in range(iters):
        x.grad.copy_(x).mul_(h); opt.step()
print(f"loop\t{(time.perf_counter() - t0) / iters}", flush=True)
