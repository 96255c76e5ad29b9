-- gd.nn: layers, losses, the parameter arena, state dicts, gradcheck.
local gd = rawget(_G, "gd") or require "gd"
local nn = gd.nn

local function close(a, b, tol)
  return gd.allclose(a, b, tol or 1e-5, tol or 1e-6)
end

local function classes(t) return gd.tensor(t, {dtype = "int64"}) end

local function tmpname()
  local p = os.tmpname()
  os.remove(p)
  return p
end

describe("gd.nn.Linear", function()
  before_each(function() gd.manual_seed(0) end)

  it("initialises as PyTorch: weight (out x in) and bias uniform in +-1/sqrt(in)", function()
    local m = nn.Linear(64, 128)
    assert.same({128, 64}, m.weight.shape)
    assert.same({128}, m.bias.shape)
    local bound = 1 / math.sqrt(64)
    assert.is_true(m.weight:max() <= bound and m.weight:min() >= -bound)
    assert.is_true(m.bias:max() <= bound and m.bias:min() >= -bound)
    -- spread over the whole interval, not a constant
    assert.is_true(m.weight:max() > 0.9 * bound and m.weight:min() < -0.9 * bound)
  end)

  it("computes x @ W^T + b", function()
    local m = nn.Linear(3, 2)
    local x = gd.randn(4, 3)
    local want = gd.matmul(x, m.weight:t()) + m.bias
    assert.is_true(close(m:forward(x), want))
    assert.is_true(close(m(x), want))
  end)

  it("takes one vector as a row", function()
    local m = nn.Linear(3, 2)
    local x = gd.randn(3)
    local y = m(x)
    assert.same({2}, y.shape)
    assert.is_true(close(y, gd.matmul(m.weight, x) + m.bias))
    local gx = m:backward(gd.ones(2))
    assert.same({3}, gx.shape)
  end)

  it("accumulates parameter gradients and returns the input gradient", function()
    local m = nn.Linear(3, 2)
    local x, g = gd.randn(4, 3), gd.randn(4, 2)
    m:zero_grad()
    m:forward(x)
    local gx = m:backward(g)
    assert.is_true(close(gx, gd.matmul(g, m.weight)))
    assert.is_true(close(m.weight.grad, gd.matmul(g:t(), x)))
    assert.is_true(close(m.bias.grad, g:sum(1)))
    m:backward(g)
    assert.is_true(close(m.weight.grad, gd.matmul(g:t(), x) * 2))
    m:zero_grad()
    assert.equal(0, m.weight.grad:abs():max())
  end)

  it("skips the input gradient when asked", function()
    local m = nn.Linear(3, 2)
    m:forward(gd.randn(4, 3))
    assert.is_nil(m:backward(gd.randn(4, 2), false))
    assert.is_true(m.weight.grad:abs():max() > 0)
  end)

  it("works without a bias", function()
    local m = nn.Linear(3, 2, {bias = false})
    assert.is_nil(m.bias)
    assert.equal(1, #m:parameters())
    local x = gd.randn(4, 3)
    assert.is_true(close(m(x), gd.matmul(x, m.weight:t())))
    assert.equal("Linear(3 -> 2, no bias) [parameters: 6]", tostring(m))
  end)

  it("names the mismatch when the input has the wrong width", function()
    local m = nn.Linear(3, 2)
    local ok, err = pcall(m.forward, m, gd.randn(4, 5))
    assert.is_false(ok)
    assert.matches("Linear: the input has 5 features but the layer takes 3", err)
    ok, err = pcall(nn.Linear, 0, 2)
    assert.is_false(ok)
    assert.matches("in_features", err)
  end)

  it("reuses its output tensor from call to call (one per batch size)", function()
    local m = nn.Linear(3, 2)
    local a = m(gd.randn(4, 3))
    local b = m(gd.randn(4, 3))
    assert.is_true(a == b)
    local c = m(gd.randn(5, 3))
    assert.is_false(a == c)
    assert.is_true(m(gd.randn(4, 3)) == a)
  end)

  it("keeps float64 parameters when asked", function()
    local m = nn.Linear(3, 2, {dtype = "float64"})
    assert.equal("float64", m.weight.dtype)
    assert.equal("float64", m(gd.randn(2, 3, {dtype = "float64"})).dtype)
  end)
end)

describe("gd.nn.Sequential", function()
  before_each(function() gd.manual_seed(0) end)

  it("applies its modules in order and backward in reverse", function()
    local l1, l2 = nn.Linear(4, 3), nn.Linear(3, 2)
    local net = nn.Sequential{l1, nn.Tanh(), l2}
    local x = gd.randn(5, 4)
    local want = gd.matmul(gd.matmul(x, l1.weight:t()):add_(l1.bias):tanh(), l2.weight:t()):add_(l2.bias)
    assert.is_true(close(net(x), want))
    net:zero_grad()
    local gx = net:backward(gd.ones(5, 2))
    assert.same({5, 4}, gx.shape)
    assert.is_true(l1.weight.grad:abs():max() > 0)
  end)

  it("chains add and counts its parameters in tostring", function()
    local net = nn.Sequential():add(nn.Linear(64, 128)):add(nn.ReLU()):add(nn.Linear(128, 128))
      :add(nn.ReLU()):add(nn.Linear(128, 10))
    assert.equal(5, net:size())
    assert.equal("Sequential(Linear(64 -> 128), ReLU, Linear(128 -> 128), ReLU, Linear(128 -> 10)) [parameters: 26122]",
      tostring(net))
    assert.equal(26122, net:num_parameters())
  end)

  it("lists parameters in module order", function()
    local a, b = nn.Linear(2, 3), nn.Linear(3, 1)
    local p = nn.Sequential{a, nn.ReLU(), b}:parameters()
    assert.equal(4, #p)
    assert.is_true(p[1] == a.weight and p[2] == a.bias and p[3] == b.weight and p[4] == b.bias)
  end)

  it("refuses what is not a module", function()
    local ok, err = pcall(nn.Sequential, {nn.ReLU(), 3})
    assert.is_false(ok)
    assert.matches("element 2 is not a module", err)
  end)
end)

describe("the parameter arena", function()
  before_each(function() gd.manual_seed(0) end)

  it("holds every parameter of a model in one flat tensor, and the gradients in another", function()
    local net = nn.Sequential{nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)}
    local params, grads = net:flat_parameters()
    assert.equal(4 * 3 + 3 + 3 * 2 + 2, params:numel())
    local offset = 1
    for _, p in ipairs(net:parameters()) do
      assert.is_true(p:is_same_storage(params))
      assert.equal(offset, p:storage_offset())
      assert.is_true(p.grad:is_same_storage(grads))
      assert.equal(offset, p.grad:storage_offset())
      offset = offset + p:numel()
    end
  end)

  it("keeps views valid when modules are added", function()
    local l1 = nn.Linear(4, 3)
    local w = l1.weight              -- a reference held before the model grows
    local before = w:clone()
    local net = nn.Sequential{l1}
    net:add(nn.Linear(3, 2))
    assert.is_true(w == l1.weight)
    assert.is_true(close(w, before, 0))
    local params = net:flat_parameters()
    assert.is_true(w:is_same_storage(params))
    -- writes through the old reference land in the arena, and the other way round
    w:fill_(2)
    assert.equal(2, params:get(1))
    params:fill_(3)
    assert.equal(3, w:get(1, 1))
    assert.is_true(w.grad:is_same_storage(select(2, net:flat_parameters())))
  end)

  it("zeroes all gradients at once", function()
    local net = nn.Sequential{nn.Linear(4, 3), nn.Linear(3, 2)}
    local _, grads = net:flat_parameters()
    grads:fill_(1)
    net:zero_grad()
    assert.equal(0, grads:abs():max())
  end)
end)

describe("activations", function()
  local x
  before_each(function()
    gd.manual_seed(0)
    x = gd.randn(3, 5)
  end)

  it("ReLU, Tanh and Sigmoid match the element-wise functions", function()
    assert.is_true(close(nn.ReLU()(x), x:relu()))
    assert.is_true(close(nn.Tanh()(x), x:tanh()))
    assert.is_true(close(nn.Sigmoid()(x), x:sigmoid()))
  end)

  it("Softmax rows sum to 1 and LogSoftmax is their log", function()
    local s = nn.Softmax()(x)
    assert.is_true(close(s:sum(2), gd.ones(3)))
    assert.is_true(close(nn.LogSoftmax()(x), s:log(), 1e-5))
    -- large logits do not overflow
    local big = gd.tensor({{1000, 0, -1000}})
    assert.is_true(close(nn.Softmax()(big), gd.tensor({{1, 0, 0}})))
  end)

  it("ReLU passes the gradient where the output is positive", function()
    local m = nn.ReLU()
    local y = m(x)
    local g = m:backward(gd.ones(3, 5))
    assert.is_true(close(g, y:gt(0)))
  end)
end)

describe("gd.nn.Dropout", function()
  before_each(function() gd.manual_seed(0) end)

  it("zeroes about p of the elements in training and scales the rest by 1/(1-p)", function()
    local m = nn.Dropout(0.25)
    local y = m(gd.ones(100, 100))
    local zeros = y:eq(0):sum()
    assert.is_true(zeros > 2200 and zeros < 2800)
    assert.is_true(math.abs(y:max() - 1 / 0.75) < 1e-6)
    local g = m:backward(gd.ones(100, 100))
    assert.is_true(close(g, y))
  end)

  it("passes its input through in evaluation mode", function()
    local m = nn.Dropout(0.5)
    local x = gd.randn(4, 4)
    m:evaluate()
    assert.is_true(m(x) == x)
    m:train()
    assert.is_false(m(x) == x)
  end)

  it("draws from gd's generator", function()
    gd.manual_seed(5)
    local a = nn.Dropout(0.5)(gd.ones(10, 10)):clone()
    gd.manual_seed(5)
    local b = nn.Dropout(0.5)(gd.ones(10, 10))
    assert.is_true(close(a, b, 0))
  end)

  it("switches recursively with train and evaluate", function()
    local net = nn.Sequential{nn.Linear(2, 2), nn.Sequential{nn.Dropout(0.5)}}
    net:evaluate()
    assert.is_false(net.modules[2].modules[1].training)
    net:train()
    assert.is_true(net.modules[2].modules[1].training)
  end)
end)

describe("gd.nn.MSELoss", function()
  local p, t
  before_each(function()
    gd.manual_seed(0)
    p, t = gd.randn(4, 3), gd.randn(4, 3)
  end)

  it("returns the mean squared error and its gradient", function()
    local err, grad = nn.MSELoss()(p, t)
    local d = p - t
    assert.is_true(math.abs(err - (d * d):mean()) < 1e-6)
    assert.is_true(close(grad, d * (2 / 12)))
  end)

  it("sums, or keeps every element, by reduction", function()
    local d = p - t
    local err, grad = nn.MSELoss{reduction = "sum"}(p, t)
    assert.is_true(math.abs(err - (d * d):sum()) < 1e-5)
    assert.is_true(close(grad, d * 2))
    local each, g2 = nn.MSELoss{reduction = "none"}(p, t)
    assert.is_true(close(each, d * d))
    assert.is_true(close(g2, d * 2))
  end)

  it("is d2l's squared_loss with scale = 0.5, and refuses (N, 1) against (N) (issue 10, 18b)", function()
    local yhat, y = gd.randn(5, 1), gd.randn(5)
    local err, grad = nn.MSELoss{scale = 0.5}(yhat, y:view(5, 1))
    local d = yhat:view(5) - y
    assert.is_true(math.abs(err - (d * d):mean() / 2) < 1e-6)
    assert.same({5, 1}, grad.shape)
    -- PyTorch broadcasts these to 5x5 (with a warning); pairing them up silently was as wrong
    local ok, msg = pcall(nn.MSELoss{scale = 0.5}, yhat, y)
    assert.is_false(ok)
    assert.matches("MSELoss: the prediction has shape 5x1 but the target 5", msg, 1, true)
  end)

  it("refuses shapes that do not match", function()
    local ok, err = pcall(nn.MSELoss(), gd.randn(4, 3), gd.randn(3, 4))
    assert.is_false(ok)
    assert.matches("shape 4x3 but the target 3x4", err)
    ok, err = pcall(nn.MSELoss, {reduction = "avg"})
    assert.is_false(ok)
    assert.matches("unknown reduction 'avg'", err)
  end)
end)

describe("gd.nn.CrossEntropyLoss", function()
  it("is log-softmax and negative log-likelihood over 1-based classes", function()
    local logits = gd.tensor({{1, 2, 3}, {1, 1, 1}})
    local target = classes({3, 1})
    local err, grad = nn.CrossEntropyLoss()(logits, target)
    local ls = nn.LogSoftmax()(logits)
    local want = -(ls:get(1, 3) + ls:get(2, 1)) / 2
    assert.is_true(math.abs(err - want) < 1e-6)
    local sm = nn.Softmax()(logits):clone()
    sm:set(1, 3, sm:get(1, 3) - 1)
    sm:set(2, 1, sm:get(2, 1) - 1)
    assert.is_true(close(grad, sm / 2))
  end)

  it("matches PyTorch on a known case", function()
    -- torch.nn.functional.cross_entropy(torch.tensor([[0.5, -1.0, 2.0]]), torch.tensor([1])) = 3.2413
    local err = nn.CrossEntropyLoss()(gd.tensor({{0.5, -1.0, 2.0}}), classes({2}))
    assert.is_true(math.abs(err - 3.2413) < 1e-4)
    assert.is_true(math.abs(err - (math.log(math.exp(0.5) + math.exp(-1) + math.exp(2)) + 1)) < 1e-6)
  end)

  it("sums or keeps per-row losses by reduction", function()
    gd.manual_seed(0)
    local logits, target = gd.randn(4, 5), classes({1, 5, 2, 2})
    local mean = nn.CrossEntropyLoss()(logits, target)
    local sum = nn.CrossEntropyLoss{reduction = "sum"}(logits, target)
    local each = nn.CrossEntropyLoss{reduction = "none"}(logits, target)
    assert.is_true(math.abs(sum - 4 * mean) < 1e-5)
    assert.same({4}, each.shape)
    assert.is_true(math.abs(each:sum() - sum) < 1e-5)
  end)

  it("takes one row of logits with one class", function()
    local err, grad = nn.CrossEntropyLoss()(gd.tensor({0.5, -1.0, 2.0}), 2)
    assert.is_true(math.abs(err - 3.2413) < 1e-4)
    assert.same({3}, grad.shape)
  end)

  it("names a class out of range and a float target", function()
    local loss = nn.CrossEntropyLoss()
    local ok, err = pcall(loss, gd.zeros(3, 4), classes({1, 5, 2}))
    assert.is_false(ok)
    assert.matches("target 5 %(row 2%) is not a class in 1..4", err)
    ok, err = pcall(loss, gd.zeros(3, 4), classes({0, 1, 2}))
    assert.matches("target 0 %(row 1%)", err)
    ok, err = pcall(loss, gd.zeros(3, 4), gd.tensor({1, 2, 3}))
    assert.is_false(ok)
    assert.matches("int64 class indices", err)
  end)

  it("counts correct predictions with gd.nn.accuracy", function()
    local acc, n = nn.accuracy(gd.tensor({{0, 1}, {3, 2}, {0, 5}}), classes({2, 2, 2}))
    assert.equal(2, n)
    assert.is_true(math.abs(acc - 2 / 3) < 1e-12)
  end)
end)

describe("gd.nn.gradcheck", function()
  before_each(function() gd.manual_seed(0) end)

  local modules = {
    {"Linear", function() return nn.Linear(4, 3) end},
    {"Linear without bias", function() return nn.Linear(4, 3, {bias = false}) end},
    {"ReLU", function() return nn.ReLU() end},
    {"Tanh", function() return nn.Tanh() end},
    {"Sigmoid", function() return nn.Sigmoid() end},
    {"Softmax", function() return nn.Softmax() end},
    {"LogSoftmax", function() return nn.LogSoftmax() end},
    {"Dropout", function() return nn.Dropout(0.4) end},
    {"Identity", function() return nn.Identity() end},
    {"Sequential", function()
      return nn.Sequential{nn.Linear(4, 6), nn.Tanh(), nn.Dropout(0.3), nn.Linear(6, 5), nn.ReLU(),
                           nn.Linear(5, 3), nn.Sigmoid(), nn.LogSoftmax()}
    end},
  }
  for _, case in ipairs(modules) do
    it("passes on " .. case[1], function()
      local ok, msg = nn.gradcheck(case[2](), gd.randn(5, 4))
      assert.is_true(ok, msg)
    end)
  end

  for _, r in ipairs {"mean", "sum", "none"} do
    it("passes on MSELoss and CrossEntropyLoss with reduction " .. r, function()
      local ok, msg = nn.gradcheck(nn.MSELoss{reduction = r}, gd.randn(5, 3), gd.randn(5, 3))
      assert.is_true(ok, msg)
      ok, msg = nn.gradcheck(nn.MSELoss{reduction = r, scale = 0.5}, gd.randn(5, 1), gd.randn(5, 1))
      assert.is_true(ok, msg)
      ok, msg = nn.gradcheck(nn.CrossEntropyLoss{reduction = r}, gd.randn(5, 4), classes({1, 4, 2, 3, 4}))
      assert.is_true(ok, msg)
    end)
  end

  it("catches a wrong backward and names the element", function()
    local Bad = nn.Module:extend("BadSquare")
    function Bad:forward(x)
      self.x = x
      return x * x
    end
    function Bad:backward(g) return g * self.x * 3 end   -- should be 2
    local ok, msg = nn.gradcheck(Bad(), gd.randn(3, 2))
    assert.is_false(ok)
    assert.matches("BadSquare: input%[%d+%]", msg)
  end)

  it("leaves the module it checks untouched", function()
    local m = nn.Linear(4, 3)
    local w = m.weight:clone()
    nn.gradcheck(m, gd.randn(5, 4))
    assert.equal("float32", m.weight.dtype)
    assert.is_true(close(m.weight, w, 0))
  end)
end)

describe("custom modules", function()
  it("register parameters into the arena through Module:extend", function()
    local Scale = nn.Module:extend("Scale")
    function Scale:init(n)
      self:register_parameter("k", gd.ones(n))
    end
    function Scale:forward(x)
      self.x = x
      return x * self.k
    end
    function Scale:backward(g)
      self.k.grad:add_((g * self.x):sum(1))
      return g * self.k
    end
    local net = nn.Sequential{nn.Linear(3, 2), Scale(2)}
    assert.equal(3 * 2 + 2 + 2, select(1, net:flat_parameters()):numel())
    assert.is_true(nn.gradcheck(net, gd.randn(4, 3)))
    assert.equal("Sequential(Linear(3 -> 2), Scale) [parameters: 10]", tostring(net))
  end)
end)

describe("state dicts and saving", function()
  before_each(function() gd.manual_seed(0) end)

  it("name parameters by field and child position", function()
    local net = nn.Sequential{nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)}
    local sd = net:state_dict()
    local names = {}
    for k in pairs(sd) do names[#names + 1] = k end
    table.sort(names)
    assert.same({"1.bias", "1.weight", "3.bias", "3.weight"}, names)
    assert.is_true(sd["3.weight"] == net.modules[3].weight)
  end)

  it("round-trip through gd.save and load_state_dict", function()
    local a = nn.Sequential{nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)}
    local b = nn.Sequential{nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)}
    local path = tmpname()
    gd.save(path, a:state_dict())
    b:load_state_dict(gd.load(path))
    os.remove(path)
    local x = gd.randn(4, 2)
    assert.is_true(close(a(x), b(x), 0))
  end)

  it("refuse missing, unexpected and misshapen entries", function()
    local net = nn.Sequential{nn.Linear(2, 3)}
    local ok, err = pcall(net.load_state_dict, net, {["1.weight"] = gd.zeros(3, 2), ["2.bias"] = gd.zeros(1)})
    assert.is_false(ok)
    assert.matches("missing 1.bias; unexpected 2.bias", err)
    ok, err = pcall(net.load_state_dict, net, {["1.weight"] = gd.zeros(2, 3), ["1.bias"] = gd.zeros(3)})
    assert.is_false(ok)
    assert.matches("'1.weight' has shape 2x3, the parameter 3x2", err)
  end)

  it("save whole models with gd.save, rebuilt by gd.nn.load", function()
    local net = nn.Sequential{nn.Linear(2, 3), nn.ReLU(), nn.Dropout(0.2), nn.Linear(3, 1)}
    local x = gd.randn(4, 2)
    net:evaluate()
    local want = net(x):clone()
    local path = tmpname()
    gd.save(path, net)
    local back = nn.load(path)
    os.remove(path)
    assert.equal(tostring(net), tostring(back))
    assert.is_false(back.modules[3].training)
    assert.is_true(close(back(x), want, 0))
    local params = back:flat_parameters()
    assert.is_true(back.modules[4].weight:is_same_storage(params))
  end)

  it("clone makes an independent copy", function()
    local net = nn.Sequential{nn.Linear(2, 3)}
    local copy = net:clone()
    copy.modules[1].weight:fill_(0)
    assert.is_true(net.modules[1].weight:abs():max() > 0)
    assert.is_false(copy.modules[1].weight:is_same_storage(net.modules[1].weight))
  end)

  it("to converts every parameter and keeps the arena", function()
    local net = nn.Sequential{nn.Linear(2, 3), nn.Linear(3, 1)}
    local x = gd.randn(4, 2)
    local want = net(x):clone()
    net:to("float64")
    assert.equal("float64", net.modules[2].bias.dtype)
    assert.equal("float64", net.modules[2].bias.grad.dtype)
    assert.is_true(net.modules[2].bias:is_same_storage(net:flat_parameters()))
    assert.is_true(close(net(x:double()), want:double(), 1e-6))
  end)
end)

describe("a training step", function()
  it("allocates no tensor once the batch sizes have been seen", function()
    gd.manual_seed(0)
    local net = nn.Sequential{nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)}
    local loss = nn.CrossEntropyLoss()
    local x, y = gd.randn(10, 8), classes({1, 2, 3, 4, 1, 2, 3, 4, 1, 2})
    local params, grads = net:flat_parameters()
    local function step()
      net:zero_grad()
      local _, g = loss(net(x), y)
      net:backward(g, false)
      params:add_(grads, -0.1)
    end
    step()
    local probe = gd.empty(1)
    for _ = 1, 20 do step() end
    local after = gd.empty(1)
    -- tensor ids are handed out in order: nothing was made between the probes
    assert.equal(tonumber(probe.c.uid) + 1, tonumber(after.c.uid))
  end)
end)
