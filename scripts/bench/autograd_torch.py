"""PyTorch's side of scripts/bench/autograd.lua: the same three loops with
torch.autograd, in steps per second (one line each: name<TAB>value)."""
import sys
import time
import torch

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
torch.manual_seed(0)


def rate(step, seconds=1.5, warm=0.5):
    """Steps per second in the steady state, as scripts/bench/autograd.lua's
    rate(): `warm` seconds of warm-up, then the median of three intervals of
    seconds / 3."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < warm:
        for _ in range(100):
            step()
    r = []
    for _ in range(3):
        n, t1 = 0, time.perf_counter()
        while time.perf_counter() - t1 < seconds / 3:
            for _ in range(100):
                step()
            n += 100
        r.append(n / (time.perf_counter() - t1))
    return sorted(r)[1]


# d2l quadratic f(x) = 0.1 x1^2 + 2 x2^2, RMSProp
x = torch.tensor([-5.0, -2.0], dtype=torch.float64, requires_grad=True)
c = torch.tensor([0.1, 2.0], dtype=torch.float64)
opt = torch.optim.RMSprop([x], lr=0.01, alpha=0.9, eps=1e-6)


def quad():
    opt.zero_grad()
    loss = (c * x ** 2).sum()
    loss.backward()
    opt.step()


print("quadratic\t%.6g" % rate(quad))

# the digits MLP: 64 -> 32 -> 10, batch 64, cross-entropy, SGD
net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
X = torch.randn(64, 64)
y = torch.randint(0, 10, (64,))
lossf = torch.nn.CrossEntropyLoss()
opt2 = torch.optim.SGD(net.parameters(), lr=0.1)


def mlp():
    opt2.zero_grad()
    lossf(net(X), y).backward()
    opt2.step()


print("mlp\t%.6g" % rate(mlp))

# quadratic_deep: 0.5 (x - x*)' Q (x - x*), 100-D
Q = torch.randn(100, 100, dtype=torch.float64)
Q = Q @ Q.t() / 100
xs = torch.randn(100, dtype=torch.float64)
w = torch.zeros(100, dtype=torch.float64, requires_grad=True)
opt3 = torch.optim.SGD([w], lr=0.01)


def deep():
    opt3.zero_grad()
    d = w - xs
    loss = (d @ Q @ d) * 0.5
    loss.backward()
    opt3.step()


print("quadratic_deep\t%.6g" % rate(deep))
