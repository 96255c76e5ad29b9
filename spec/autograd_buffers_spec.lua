-- Buffer reuse under autograd (issue 12's speed goal for the digits MLP): a
-- module inside a Sequential writes its recorded output into a kept buffer
-- when only the next module reads it and nothing refers to it any more
-- (gd_autograd_reuse_output), and a backward takes its temporaries (input
-- gradients, the seed, a loss's saved gradient) from buffers reused once
-- nobody else holds them (src/autograd_pool.c).  These specs hold on to what
-- PyTorch lets a user hold, then run more steps, and check that nothing held
-- changed and that every gradient still matches an independent computation.
local gd = require "gd"

local F64 = {dtype = "float64"}

local function mlp(seed, hidden)
  gd.manual_seed(seed)
  return gd.nn.Sequential{gd.nn.Linear(6, hidden), gd.nn.ReLU(), gd.nn.Linear(hidden, 4)}:double()
end

local function close(a, b, tol, what)
  local d = (a - b):abs():max()
  if type(d) ~= "number" then d = d:item() end
  assert.is_true(d <= (tol or 1e-12), (what or "") .. ": differs by " .. tostring(d))
end

local targets = gd.tensor({1, 3, 2, 4, 4}, {dtype = "int64"})

--- The module path's parameter gradients of sum over Xs of lossf(net(X)).
local function module_grads(net, lossf, Xs)
  net:requires_grad_(false)
  net:zero_grad()
  for _, X in ipairs(Xs) do
    local _, g = lossf(net:forward(X), targets)
    net:backward(g)
  end
  local out = {}
  for i, p in ipairs(net:parameters()) do out[i] = p.grad:clone() end
  net:requires_grad_()
  net:zero_grad()
  return out
end

describe("autograd through gd.nn with reused buffers", function()
  local lossf = gd.nn.CrossEntropyLoss()

  it("leaves an output the user holds unchanged by the next steps", function()
    -- catches a Sequential's last output written into a kept buffer (the held
    -- tensor would show step k+1's values)
    local net = mlp(1, 5):requires_grad_()
    local opt = gd.optim.SGD(net:parameters(), {lr = 0.5})
    local held, copies = {}, {}
    for k = 1, 6 do
      gd.manual_seed(100 + k)
      local X = gd.randn(5, 6, F64)
      opt:zero_grad()
      local out = net(X)
      held[k], copies[k] = out, out:detach():clone()
      lossf(out, targets):backward()
      opt:step()
    end
    for k = 1, 6 do close(held[k]:detach(), copies[k], 0, "output of step " .. k) end
  end)


  -- two forwards (X1, then X2) and one backward of their summed losses, after a
  -- warm-up (the buffers exist and are free when the first forward starts):
  -- the parameters' gradients must be the module path's for the two batches
  local function two_graphs(net, X1, X2)
    for _ = 1, 3 do
      net:zero_grad()
      lossf(net(X1), targets):backward()
    end
    local ref = module_grads(net, lossf, {X1, X2})
    net:zero_grad()
    local l1 = lossf(net(X1), targets)
    local l2 = lossf(net(X2), targets)
    ;(l1 + l2):backward()
    for i, p in ipairs(net:parameters()) do close(p.grad, ref[i], 1e-12, "parameter " .. i) end
  end
  it("keeps two graphs alive at once: two forwards, then one backward through their sum", function()
    -- catches an intermediate buffer (Linear -> ReLU -> Linear) reused by the
    -- second forward while the first graph still reads it: the first graph's
    -- weight gradients would use the second batch's activations
    local net = mlp(2, 7):requires_grad_()
    gd.manual_seed(7)
    local X1, X2 = gd.randn(5, 6, F64), gd.randn(5, 6, F64)
    two_graphs(net, X1, X2)
  end)

  it("keeps two graphs of a small CNN alive at once (ReLU -> MaxPool2d buffers, the kept argmax)", function()
    -- catches the second forward writing the ReLU output or the max pool's
    -- argmax that the first graph's pool node still reads
    gd.manual_seed(12)
    local net = gd.nn.Sequential{gd.nn.Conv2d(1, 2, 3, {padding = 1}), gd.nn.ReLU(), gd.nn.MaxPool2d(2),
                                 gd.nn.Flatten(), gd.nn.Linear(8, 4)}:double():requires_grad_()
    local X1, X2 = gd.randn(5, 1, 4, 4, F64), gd.randn(5, 1, 4, 4, F64)
    two_graphs(net, X1, X2)
  end)

  it("backs through a retained graph twice, with another step run in between", function()
    -- catches buffers the retained graph still reads being taken by the step in
    -- between (or by the second walk's own temporaries): the second backward
    -- would add a different gradient than the first
    local net = mlp(3, 5):requires_grad_()
    gd.manual_seed(8)
    local X, Xo = gd.randn(5, 6, F64), gd.randn(5, 6, F64)
    local ref = module_grads(net, lossf, {X})
    local loss = lossf(net(X), targets)
    loss:backward(nil, true)
    local first = {}
    for i, p in ipairs(net:parameters()) do first[i] = p.grad:clone(); close(p.grad, ref[i], 1e-12, "first") end
    -- another step through the same net (its graph walked and dropped)
    lossf(net(Xo), targets):backward()
    local other = {}
    for i, p in ipairs(net:parameters()) do other[i] = p.grad - first[i] end
    loss:backward()
    for i, p in ipairs(net:parameters()) do close(p.grad, first[i] * 2 + other[i], 1e-12, "second") end
    -- and a third walk is refused (the second one did not retain)
    assert.has_error(function() loss:backward() end)
  end)

  it("gives a module called twice in one graph the sum of both calls' gradients", function()
    -- shared weights: Linear(5, 5) used twice in one Sequential.  Catches the
    -- second call writing the first call's kept output (the first call's
    -- gradient would then be computed from the second call's input).  The
    -- reference is the same net written as tensor operations on leaf copies.
    gd.manual_seed(4)
    local l1, shared = gd.nn.Linear(6, 5):double(), gd.nn.Linear(5, 5):double()
    local net = gd.nn.Sequential{l1, gd.nn.ReLU(), shared, gd.nn.Tanh(), shared, gd.nn.Linear(5, 4):double()}
    local last = net.modules[6]
    net:requires_grad_()
    gd.manual_seed(9)
    local X = gd.randn(5, 6, F64)
    for _ = 1, 2 do   -- (twice: the second run finds the kept buffers free)
      net:zero_grad()
      lossf(net(X), targets):backward()
    end
    local W1, b1 = l1.weight:detach():clone():requires_grad_(), l1.bias:detach():clone():requires_grad_()
    local W, b = shared.weight:detach():clone():requires_grad_(), shared.bias:detach():clone():requires_grad_()
    local W3, b3 = last.weight:detach():clone():requires_grad_(), last.bias:detach():clone():requires_grad_()
    local h = (X:matmul(W1:t()) + b1):relu()
    h = (h:matmul(W:t()) + b):tanh()
    h = h:matmul(W:t()) + b
    local logits = h:matmul(W3:t()) + b3
    local onehot = gd.zeros(5, 4, F64)
    for i = 1, 5 do onehot:set(i, targets:get(i), 1) end
    local ref = -(logits:log_softmax(2) * onehot):sum() / 5
    ref:backward()
    close(shared.weight.grad, W.grad, 1e-12, "shared weight")
    close(shared.bias.grad, b.grad, 1e-12, "shared bias")
    close(l1.weight.grad, W1.grad, 1e-12, "first weight")
    close(last.weight.grad, W3.grad, 1e-12, "last weight")
  end)

  it("scales the loss's gradient by what reaches it (the implied 1 only when nothing does)", function()
    -- catches the loss node passing its gradient on unscaled for any incoming
    -- gradient (or a reused seed buffer taken for the implied 1)
    local net = mlp(5, 5):requires_grad_()
    gd.manual_seed(10)
    local X = gd.randn(5, 6, F64)
    local ref = module_grads(net, lossf, {X})
    ;(lossf(net(X), targets) * 3):backward()
    for i, p in ipairs(net:parameters()) do close(p.grad, ref[i] * 3, 1e-12, "3 loss") end
    net:zero_grad()
    lossf(net(X), targets):backward(gd.tensor(-0.5, F64))
    for i, p in ipairs(net:parameters()) do close(p.grad, ref[i] * -0.5, 1e-12, "given gradient") end
  end)

  it("leaves a gradient gd.grad returned unchanged by later backwards", function()
    -- the input gradient of a Linear node comes from a reused buffer; catches
    -- one handed out while the user still holds it
    gd.manual_seed(6)
    local lin = gd.nn.Linear(6, 4):double()
    local df = gd.grad(function(x) return lossf(lin(x), targets) end)
    local X1, X2 = gd.randn(5, 6, F64), gd.randn(5, 6, F64)
    local g1 = df(X1:clone():requires_grad_())
    local copy = g1:clone()
    for _ = 1, 3 do df(X2:clone():requires_grad_()) end
    close(g1, copy, 0, "held gd.grad result")
    -- and g1 is right: d mean CE / dx = (softmax - onehot) W / rows
    local p = lin(X1):detach():softmax(2)
    for i = 1, 5 do p:set(i, targets:get(i), p:get(i, targets:get(i)) - 1) end
    close(g1, p:matmul(lin.weight:detach()) / 5, 1e-12, "gd.grad value")
  end)

  it("frees its buffers on request, and a released buffer's holder keeps its values", function()
    gd.manual_seed(11)
    local lin = gd.nn.Linear(6, 4):double()
    local df = gd.grad(function(x) return lossf(lin(x), targets) end)
    local g = df(gd.randn(5, 6, F64):requires_grad_())
    local copy = g:clone()
    assert.is_true(gd.autograd.buffer_bytes() > 0)
    gd.autograd.release_buffers()
    assert.are.equal(0, gd.autograd.buffer_bytes())
    close(g, copy, 0, "held after release")
    -- a pooled gradient freed early by its holder is dropped from the pool, not handed out again
    local early = df(gd.randn(5, 6, F64):requires_grad_())
    early:free()
    early = nil
    collectgarbage(); collectgarbage()
    local X = gd.randn(5, 6, F64)
    local again = df(X:clone():requires_grad_())
    close(again, df(X:clone():requires_grad_()), 0, "after an early free")
  end)
end)
