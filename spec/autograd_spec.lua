-- Autograd (issue 12): every recorded operation's backward against PyTorch's
-- autograd on the same inputs (spec/golden/autograd.lua, written by
-- scripts/golden/autograd.py) and against central differences
-- (gd.autograd.gradcheck); accumulation, retain_graph, the in-place checks,
-- the tape's memory over 10^6 steps, and the hot loop staying one JIT trace.
local gd = rawget(_G, "gd") or require "gd"

local G = dofile("spec/golden/autograd.lua")

--- A gdlua tensor from the golden {shape, data}.
local function from(g, opts)
  local t = gd.tensor(g.data, {dtype = "float64"})
  return t:reshape(#g.shape == 0 and {} or g.shape):clone()
end

--- The largest |a - b| over the golden's elements (shapes must agree).
local function max_diff(t, g)
  assert.are.same(g.shape, t.shape)
  local flat = t:contiguous():view(-1)
  local worst = 0
  for i = 1, #g.data do
    local d = math.abs(flat:get(i) - g.data[i])
    if not (d <= worst) then worst = d end
  end
  return worst
end

local function compile(expr, names)
  local src = "local gd = ...; return function(" .. table.concat(names, ", ") .. ") return " .. expr .. " end"
  return assert(load(src, "=" .. expr))(gd)
end

-- Points where the function has a kink and PyTorch picks a subgradient
-- (|x| and relu at 0, clamp at its bounds, ties of max/maximum): central
-- differences average the two one-sided slopes there, so only PyTorch's
-- values are the reference.
local KINKS = {["maximum/minimum with ties"] = true, ["max/min of all, with ties shared evenly"] = true,
               ["abs and relu at 0"] = true, ["clamp at its bounds"] = true}

describe("autograd", function()
  describe("matches PyTorch's autograd", function()
    for _, case in ipairs(G) do
      it(case.name .. " (catches " .. case.catches .. ")", function()
        local f = compile(case.expr, case.args)
        local xs = {}
        for i, name in ipairs(case.args) do
          xs[i] = from(case.inputs[name])
          if case.requires_grad[name] then xs[i]:requires_grad_() end
        end
        local y = f(unpack(xs))
        assert.is_true(gd.is_tensor(y))
        assert.is_true(y.requires_grad)
        assert.is_true(max_diff(y, case.y) < 1e-12, "forward")
        if case.up then y:backward(from(case.up)) else y:backward() end
        for i, name in ipairs(case.args) do
          local want = case.grads[name]
          if want then
            local g = xs[i].grad
            assert.is_not_nil(g, name .. " got no gradient")
            assert.are.equal("float64", g.dtype)
            local d = max_diff(g, want)
            assert.is_true(d < 1e-10, string.format("d/d%s differs from PyTorch by %g", name, d))
          else
            assert.is_nil(xs[i].grad)
          end
        end
      end)
      if not KINKS[case.name] then
        it(case.name .. ": the backward agrees with central differences", function()
          local f = compile(case.expr, case.args)
          local inputs, fixed = {}, {}
          for i, name in ipairs(case.args) do
            fixed[i] = from(case.inputs[name])
            if case.requires_grad[name] then inputs[#inputs + 1] = i end
          end
          local ts = {}
          for k, i in ipairs(inputs) do ts[k] = fixed[i] end
          local ok, msg = gd.autograd.gradcheck(function(...)
            local args = {unpack(fixed)}
            for k, i in ipairs(inputs) do args[i] = select(k, ...) end
            return f(unpack(args, 1, #case.args))
          end, ts)
          assert.is_true(ok, msg)
        end)
      end
    end
  end)

  describe("on the GPU", function()
    it("gives the CPU's (and PyTorch's) gradients: the backward is composed of gd_* ops every backend runs", function()
      if not gd.cuda.is_available() then pending("no CUDA GPU here") return end
      for _, case in ipairs(G) do
        if case.expr:find("gd.tensor(", 1, true) then goto continue end -- (a CPU constant in the expression)
        local f = compile(case.expr, case.args)
        local xs = {}
        for i, name in ipairs(case.args) do
          xs[i] = from(case.inputs[name]):cuda()
          if case.requires_grad[name] then xs[i]:requires_grad_() end
        end
        local ok, err = pcall(function()
          local y = f(unpack(xs))
          if case.up then y:backward(from(case.up):cuda()) else y:backward() end
        end)
        assert.is_true(ok, case.name .. ": " .. tostring(err))
        for i, name in ipairs(case.args) do
          if case.grads[name] then
            assert.is_true(max_diff(xs[i].grad:cpu(), case.grads[name]) < 1e-9, case.name .. " d/d" .. name)
          end
        end
        ::continue::
      end
    end)
  end)

  describe("gradients", function()
    it("accumulate across backward calls until zero_grad (the optimizer's or by hand)", function()
      -- catches a backward that overwrites .grad instead of adding to it
      local x = gd.tensor({1, -2}, {dtype = "float64", requires_grad = true})
      for _ = 1, 3 do local s = (x * x):sum(); s:backward() end
      assert.are.same({6, -12}, x.grad:totable())       -- 3 * 2x
      local opt = gd.optim.SGD({x}, {lr = 0.1})
      opt:zero_grad()
      assert.are.same({0, 0}, x.grad:totable())
      local s3 = (x * 3):sum(); s3:backward()
      assert.are.same({3, 3}, x.grad:totable())
    end)

    it("skip, in the optimizer's step, a parameter that no backward reached (PyTorch's None gradient)", function()
      -- catches weight decay and momentum applied to a parameter the loss does not use
      local a = gd.tensor({1, 2}, {dtype = "float64", requires_grad = true})
      local b = gd.tensor({3, 4}, {dtype = "float64", requires_grad = true})
      local opt = gd.optim.SGD({a, b}, {lr = 0.1, momentum = 0.9, weight_decay = 0.5})
      for _ = 1, 3 do
        opt:zero_grad()
        local loss = (a * a):sum()
        loss:backward()
        opt:step()
      end
      assert.are.same({3, 4}, b:totable())
      -- by hand (PyTorch's SGD: g = 2a + 0.5a, buf = 0.9 buf + g, a -= 0.1 buf) for a[1]
      local x, buf = 1, 0
      for k = 1, 3 do
        local g = 2 * x + 0.5 * x
        buf = k == 1 and g or 0.9 * buf + g
        x = x - 0.1 * buf
      end
      assert.is_true(math.abs(a:get(1) - x) < 1e-12)
      -- gradients written by hand (no backward reached anything): every parameter steps, as before
      local c = gd.tensor({1}, {dtype = "float64", requires_grad = true})
      local opt2 = gd.optim.SGD({c}, {lr = 0.1})
      c.grad:fill_(1)
      opt2:step()
      assert.are.equal(0.9, c:get(1))
    end)

    it("are summed back to each input's shape under broadcasting", function()
      -- catches a gradient left in the broadcast shape (3x4) or summed over the wrong dims
      local a = gd.ones(3, 1, {dtype = "float64", requires_grad = true})
      local b = gd.ones(4, {dtype = "float64", requires_grad = true})
      local s = (a * b * 2):sum(); s:backward()
      assert.are.same({3, 1}, a.grad.shape)
      assert.are.same({{8}, {8}, {8}}, a.grad:totable())   -- 4 columns of 2
      assert.are.same({6, 6, 6, 6}, b.grad:totable())      -- 3 rows of 2
    end)

    it("keep their leaf's dtype when a float32 constant is mixed in", function()
      local x = gd.tensor({1, 2}, {dtype = "float32", requires_grad = true})
      local c = gd.tensor({0.5, 3}, {dtype = "float64"})
      local y = (x * c):sum()
      assert.are.equal("float64", y.dtype)
      y:backward()
      assert.are.equal("float32", x.grad.dtype)
      assert.are.same({0.5, 3}, x.grad:totable())
    end)

    it("reach only leaves that require grad; a non-leaf has none", function()
      local x = gd.tensor({1, 2}, {dtype = "float64", requires_grad = true})
      local c = gd.tensor({3, 4}, {dtype = "float64"})
      local h = x * c
      assert.is_false(h.is_leaf)
      assert.is_true(x.is_leaf)
      h:sum():backward()
      assert.is_nil(c.grad)
      assert.is_nil(h.grad)
      assert.are.same({3, 4}, x.grad:totable())
    end)
  end)

  describe("retain_graph", function()
    it("is needed for a second backward through the same graph", function()
      -- catches a tape that silently reuses freed saved values (or gives zeros)
      local x = gd.tensor({2}, {dtype = "float64", requires_grad = true})
      local y = (x:exp() * x):sum()
      y:backward()
      local g1 = x.grad:item()
      assert.has_error(function() y:backward() end)
      local ok, err = pcall(y.backward, y)
      assert.is_false(ok)
      assert.truthy(err:find("backward: trying to backward through the graph a second time", 1, true), err)
      assert.are.equal(g1, x.grad:item())   -- the failed call changed nothing

      x.grad = nil
      local z = (x:exp() * x):sum()
      z:backward(nil, true)
      z:backward({retain_graph = true})
      z:backward()
      assert.is_true(math.abs(x.grad:item() - 3 * g1) < 1e-12)
    end)

    it("without it, frees the walked records at once; their results stay non-leaves that refuse a second walk",
      function()
      -- catches records kept until their outputs are collected (a training loop's tape then holds
      -- thousands of cold records), a consumed result taken for a leaf (a second backward through it
      -- would silently give h.grad instead of an error), and retain_graph freeing records anyway
      collectgarbage(); collectgarbage()
      local r0 = gd.autograd.live_records()
      local x = gd.tensor({0.5, 2}, {dtype = "float64", requires_grad = true})
      local h = x:exp()
      local y = (h * x):sum()
      assert.are.equal(r0 + 3, gd.autograd.live_records())   -- exp, mul, sum
      y:backward(nil, true)
      assert.are.equal(r0 + 3, gd.autograd.live_records())   -- retained
      y:backward()
      assert.are.equal(r0, gd.autograd.live_records())       -- h and y still live, their records gone
      local g = x.grad:totable()
      for i, v in ipairs {0.5, 2} do
        assert.is_true(math.abs(g[i] - 2 * (math.exp(v) * (1 + v))) < 1e-12)   -- two backwards: 2 e^x (1 + x)
      end
      assert.is_false(h.is_leaf)
      assert.is_true(h.requires_grad)
      for _, f in ipairs {function() (h * 2):sum():backward() end, function() y:backward() end,
                          function() gd.grad(function(a) return (h * a):sum() end)(x) end} do
        local ok, err = pcall(f)
        assert.is_false(ok)
        assert.truthy(tostring(err):find("trying to backward through the graph a second time", 1, true),
          tostring(err))
      end
      assert.are.same(g, x.grad:totable())   -- the refused walks wrote nothing
      assert.is_nil(h.grad)
      local ok, err = pcall(function() h:add_(1) end)   -- still a recorded result: no in-place op
      assert.is_false(ok)
      assert.truthy(tostring(err):find("in-place", 1, true), tostring(err))
      -- a new graph from the leaf works as before
      x.grad = nil
      (x:exp() * x):sum():backward()
      for i, v in ipairs {0.5, 2} do assert.is_true(math.abs(x.grad:totable()[i] - math.exp(v) * (1 + v)) < 1e-12) end
      collectgarbage(); collectgarbage()   -- (the refused graphs' records go with their results)
      assert.are.equal(r0, gd.autograd.live_records())
    end)
  end)

  describe("in-place operations", function()
    it("on a saved tensor make backward raise PyTorch's error, never a wrong gradient", function()
      -- catches a version counter that is not moved by in-place writes
      local x = gd.tensor({1, 2}, {dtype = "float64", requires_grad = true})
      local c = gd.tensor({3, 4}, {dtype = "float64"})
      local y = (x * c):sum()           -- mul saves c
      c:add_(1)
      local ok, err = pcall(y.backward, y)
      assert.is_false(ok)
      assert.truthy(err:find("a tensor needed for gradient computation has been modified by an in-place operation",
        1, true), err)
      assert.is_nil(x.grad)             -- state unchanged

      local z = x:sin():sum()           -- sin saves x, a leaf
      x:set(1, 5)                       -- element writes count too
      ok, err = pcall(z.backward, z)
      assert.is_false(ok)
      assert.truthy(err:find("modified by an in-place operation", 1, true), err)

      local w = (x:exp()):sum()         -- exp saves its output: an alias of it sees writes to the output
      local e = x:exp()
      local s = (e * 1):sum()
      local ok2 = pcall(function() e:mul_(2) end)
      assert.is_false(ok2)              -- a recorded output refuses in-place changes in grad mode
      s:backward()
      w:backward()
      assert.is_true(math.abs(x.grad:get(1) - 2 * math.exp(5)) < 1e-9)
    end)

    it("that do not touch saved values are allowed (add saves nothing)", function()
      local x = gd.tensor({1, 2}, {dtype = "float64", requires_grad = true})
      local c = gd.tensor({3, 4}, {dtype = "float64"})
      local y = (x + c):sum()
      c:add_(1)
      y:backward()
      assert.are.same({1, 1}, x.grad:totable())
    end)
  end)

  describe("the Lua API", function()
    it("gives 0-d tensors where the plain API gives numbers, and numbers without grad", function()
      local x = gd.tensor({3, 4}, {dtype = "float64", requires_grad = true})
      local s = x:sum()
      assert.is_true(gd.is_tensor(s))
      assert.are.equal(0, s:dim())
      assert.are.equal("7", tostring(s))          -- prints like a number
      assert.is_true(s < 8 and s > 6)             -- compares like one
      assert.are.equal(8, (s + 1):item())         -- mixes with numbers
      assert.is_true(gd.is_tensor(x[2]))          -- t[i] on 1-D: a 0-d tensor
      assert.are.equal("number", type(x:detach():sum()))
      assert.are.equal("number", type(x:detach()[2]))
      assert.are.equal("number", type(gd.no_grad(function() return x:sum() end)))
      assert.are.equal("loss 7", "loss " .. s)
    end)

    it("no_grad records nothing and restores the mode after an error", function()
      local x = gd.tensor({1}, {dtype = "float64", requires_grad = true})
      local y = gd.no_grad(function() return x * 2 end)
      assert.is_false(y.requires_grad)
      assert.is_false(pcall(gd.no_grad, function() error("boom") end))
      assert.is_true(gd.is_grad_enabled())
    end)

    it("detach shares storage outside the graph; requires_grad is for float leaves", function()
      local x = gd.tensor({1, 2}, {requires_grad = true})
      local d = x:detach()
      assert.is_false(d.requires_grad)
      assert.is_true(d:is_same_storage(x))
      assert.has_error(function() gd.tensor({1, 2}, {dtype = "int64", requires_grad = true}) end)
      assert.has_error(function() (x * 2).requires_grad = false end)
      local z = gd.zeros(2):requires_grad_()
      assert.is_true(z.requires_grad)
      z.requires_grad = false
      assert.is_false(z.requires_grad)
    end)

    it("backward needs a gradient for a result of more than one element", function()
      local x = gd.tensor({1, 2}, {requires_grad = true})
      local ok, err = pcall(function() (x * 2):backward() end)
      assert.is_false(ok)
      assert.truthy(err:find("backward: a gradient can be implied only for a one-element result", 1, true), err)
      ok, err = pcall(function() (x * 2):backward(gd.ones(3)) end)
      assert.is_false(ok)
      assert.truthy(err:find("shape 3 but the tensor has shape 2", 1, true), err)
      ok, err = pcall(function() gd.ones(1):backward() end)
      assert.is_false(ok)
      assert.truthy(err:find("does not require grad", 1, true), err)
      assert.is_nil(x.grad)
    end)

    it("gd.grad returns the gradients and the value, leaving .grad alone", function()
      local w = gd.tensor({0.5, -1}, {dtype = "float64"})
      local X = gd.tensor({{1, 2}, {3, 4}, {5, 6}}, {dtype = "float64"})
      local y = gd.tensor({1, 0, -1}, {dtype = "float64"})
      local df = gd.grad(function(w_, X_, y_) return ((X_:matmul(w_) - y_) ^ 2):mean() end)
      local g, value = df(w, X, y)
      -- by hand, in plain Lua: r = Xw - y; value = mean(r^2); g = 2/3 X^T r
      local r, mean = {}, 0
      for i = 1, 3 do
        r[i] = X:get(i, 1) * w:get(1) + X:get(i, 2) * w:get(2) - y:get(i)
        mean = mean + r[i] ^ 2 / 3
      end
      assert.is_true(math.abs(value - mean) < 1e-12)
      local want = {0, 0}
      for i = 1, 3 do
        want[1] = want[1] + 2 / 3 * X:get(i, 1) * r[i]
        want[2] = want[2] + 2 / 3 * X:get(i, 2) * r[i]
      end
      assert.is_true(math.abs(g:get(1) - want[1]) < 1e-12 and math.abs(g:get(2) - want[2]) < 1e-12)
      assert.is_nil(w.grad)
      local gw, gX, v2 = gd.grad(function(w_, X_) return X_:matmul(w_):sum() end, {1, 2})(w, X)
      assert.are.same({9, 12}, gw:totable())
      assert.are.same({{0.5, -1}, {0.5, -1}, {0.5, -1}}, gX:totable())
      assert.are.equal(-7.5, v2)       -- sum(Xw) = -1.5 - 2.5 - 3.5
    end)

    it("gradcheck finds a wrong gradient", function()
      -- a "function" whose recorded gradient is wrong: x^3 computed through detach for one factor
      local ok, msg = gd.autograd.gradcheck(function(x) return x * x * x:detach() end,
        {gd.tensor({1.5, -0.5}, {dtype = "float64"})})
      assert.is_false(ok)
      assert.truthy(msg:find("Jacobian mismatch", 1, true))
    end)

    it("trains the d2l quadratic through loss:backward(); opt:step() as the hand-written gradient does", function()
      local c = gd.tensor({0.1, 2}, {dtype = "float64"})
      local function run(auto)
        local x = gd.tensor({-5, -2}, {dtype = "float64", requires_grad = auto})
        local opt = gd.optim.RMSProp({x}, {lr = 0.4, alpha = 0.9, eps = 1e-6})
        for _ = 1, 20 do
          opt:zero_grad()
          if auto then
            local loss = (c * x ^ 2):sum()
            loss:backward()
          else
            x.grad:copy_(x * c * 2)
          end
          opt:step()
        end
        return x:totable()
      end
      assert.are.same(run(false), run(true))
    end)
  end)

  describe("gd.nn modules", function()
    --- The parameter gradients of net for (X, y) by the module path (forward,
    -- loss, net:backward(grad)) and by the autograd path (loss:backward()).
    local function both(net, loss_fn, X, y)
      net:zero_grad()
      local _, g = loss_fn(net:forward(X), y)
      net:backward(g)
      local ref = {}
      for i, p in ipairs(net:parameters()) do ref[i] = p.grad:clone() end
      net:requires_grad_()
      net:zero_grad()
      local loss = loss_fn(net:forward(X), y)
      assert.is_true(gd.is_tensor(loss) and loss.requires_grad)
      loss:backward()
      local got = {}
      for i, p in ipairs(net:parameters()) do got[i] = p.grad end
      net:requires_grad_(false)
      return ref, got
    end

    it("record one node each and give loss:backward() the gradients of net:backward(grad)", function()
      -- catches a module node whose backward differs from the module's (a transposed weight gradient,
      -- a missing bias gradient, an activation's derivative from the input instead of the output)
      gd.manual_seed(3)
      collectgarbage(); collectgarbage()
      local before = gd.autograd.live_records()
      for _, case in ipairs {
        {gd.nn.Sequential{gd.nn.Linear(4, 6), gd.nn.Tanh(), gd.nn.Linear(6, 3)}, gd.nn.CrossEntropyLoss(),
         gd.randn(5, 4, {dtype = "float64"}), gd.tensor({1, 3, 2, 2, 1}, {dtype = "int64"})},
        {gd.nn.Sequential{gd.nn.Linear(3, 5), gd.nn.ReLU(), gd.nn.Linear(5, 2), gd.nn.Sigmoid()}, gd.nn.MSELoss(),
         gd.randn(4, 3, {dtype = "float64"}), gd.rand(4, 2, {dtype = "float64"})},
        {gd.nn.Sequential{gd.nn.Linear(3, 4), gd.nn.LogSoftmax()}, gd.nn.MSELoss({reduction = "sum"}),
         gd.randn(2, 3, {dtype = "float64"}), gd.randn(2, 4, {dtype = "float64"})},
      } do
        local net = case[1]:double()
        local ref, got = both(net, case[2], case[3], case[4])
        for i = 1, #ref do
          assert.is_true(gd.allclose(got[i], ref[i], 1e-12, 1e-14), "parameter " .. i)
        end
      end
      collectgarbage(); collectgarbage()
      assert.are.equal(before, gd.autograd.live_records())   -- the nets gone, their records too
    end)

    it("losses record one node whose backward is the loss's own gradient, for every reduction", function()
      -- catches a loss node that drops the incoming gradient (reduction none, or a scaled loss)
      gd.manual_seed(5)
      local pred = gd.rand(4, 3, {dtype = "float64"}) * 0.8 + 0.1
      local target = gd.rand(4, 3, {dtype = "float64"})
      local cls = gd.tensor({2, 1, 3, 3}, {dtype = "int64"})
      for _, case in ipairs {
        {gd.nn.MSELoss, target}, {gd.nn.L1Loss, target}, {gd.nn.SmoothL1Loss, target}, {gd.nn.HuberLoss, target},
        {gd.nn.BCELoss, target}, {gd.nn.CrossEntropyLoss, cls}, {gd.nn.NLLLoss, cls},
      } do
        for _, red in ipairs {"mean", "sum", "none"} do
          local loss_fn = case[1]({reduction = red})
          local ok, msg = gd.autograd.gradcheck(function(p)
            local v = loss_fn(p, case[2])
            return red == "none" and v * gd.tensor({1, -2, 0.5, 3}, {dtype = "float64"}):view(
              v:dim() == 1 and {4} or {4, 1}) or v * 3
          end, {pred})
          assert.is_true(ok, tostring(msg) .. " (" .. red .. ")")
        end
      end
    end)

    it("that autograd does not record yet refuse to run in a recorded graph; Dropout records x * mask", function()
      -- catches a silent gap: layers below an unrecorded one would get no gradient (and be skipped)
      -- every built-in layer records now (spec/autograd_layers_spec.lua); the guard stays for a class
      -- made without one (a parameter of any name requiring grad counts, as an LSTM's weight_ih_l0)
      local base = require "gd.nn.module"
      local K = base.new_class("AutogradSpecUnrecorded", base.Module)
      function K:init() self:register_parameter("weight_ih", gd.ones(2)) end
      function K:forward(x) return gd.no_grad(function() return x * self.weight_ih end) end
      local net = K():requires_grad_()
      local ok, err = pcall(function() return net(gd.randn(4, 2)) end)
      assert.is_false(ok)
      assert.truthy(tostring(err):find("AutogradSpecUnrecorded: autograd does not record this layer yet", 1, true), err)
      assert.is_true(gd.is_tensor(gd.no_grad(function() return net(gd.randn(4, 2)) end)))
      net:requires_grad_(false)
      assert.is_true(gd.is_tensor(net(gd.randn(4, 2))))   -- the module path, as before
      base.registry.AutogradSpecUnrecorded = nil

      gd.manual_seed(11)
      local d = gd.nn.Sequential{gd.nn.Linear(3, 4), gd.nn.Dropout(0.5), gd.nn.Linear(4, 1)}:double()
      local X = gd.randn(5, 3, {dtype = "float64"})
      gd.manual_seed(12)
      d:zero_grad()
      local out = d:forward(X)
      d:backward(gd.ones_like(out))
      local ref = d:parameters()[1].grad:clone()
      d:requires_grad_()
      gd.manual_seed(12)                                          -- the same mask
      d:zero_grad()
      local s = d(X):sum()
      s:backward()
      assert.is_true(gd.allclose(d:parameters()[1].grad, ref, 1e-12, 1e-14))
    end)

    it("put parameter gradients in the model's gradient arena, which one fused step covers", function()
      local net = gd.nn.Sequential{gd.nn.Linear(2, 3), gd.nn.Tanh(), gd.nn.Linear(3, 1)}:double()
      local opt = gd.optim.SGD(net:parameters(), {lr = 0.1})
      local grads = {}
      for i, p in ipairs(net:parameters()) do grads[i] = p.grad end
      net:requires_grad_()
      local X, y = gd.randn(4, 2, {dtype = "float64"}), gd.randn(4, 1, {dtype = "float64"})
      local w0 = net:parameters()[1]:clone()
      opt:zero_grad()
      local loss = gd.nn.MSELoss()(net(X), y)
      loss:backward()
      for i, p in ipairs(net:parameters()) do
        assert.are.equal(grads[i].c, p.grad.c)         -- the same gradient tensors, not new ones
        assert.is_true(p.grad:abs():sum() > 0)
      end
      local g1 = net:parameters()[1].grad:clone()
      opt:step()
      assert.is_true(gd.allclose(net:parameters()[1], w0 - g1 * 0.1, 1e-12, 1e-14))
    end)

    it("compose with tensor expressions (an L2 penalty written in Lua)", function()
      local lin = gd.nn.Linear(3, 2):double():requires_grad_()
      local X, y = gd.randn(4, 3, {dtype = "float64"}), gd.randn(4, 2, {dtype = "float64"})
      lin:zero_grad()
      local loss = gd.nn.MSELoss()(lin(X), y) + (lin.weight ^ 2):sum() * 0.5
      loss:backward()
      local _, g = gd.no_grad(function() return gd.nn.MSELoss()(lin(X), y) end)
      local ref = lin.weight:detach() * 1      -- d(0.5 |W|^2)/dW = W, plus the loss's gW
      lin:requires_grad_(false)
      lin.weight.grad:zero_()
      lin:forward(X)
      lin:backward(g)
      assert.is_true(gd.allclose(lin.weight.grad + ref, (function()
        lin.weight.grad:zero_(); lin:requires_grad_(); local l = gd.nn.MSELoss()(lin(X), y) + (lin.weight ^ 2):sum() * 0.5
        l:backward(); return lin.weight.grad:clone() end)(), 1e-12, 1e-14))
    end)
  end)

  describe("objectives", function()
    it("are defined by f alone; the hand-written gradients of gd.objectives check autograd's", function()
      -- catches an autograd gradient that differs from the derivations gd.objectives ships
      for _, name in ipairs(gd.objectives.names) do
        local obj = gd.objectives[name]
        local auto = gd.objectives.from_function(function(x)
          -- the 2-D objectives' f reads numbers; rewrite d2l's and Rosenbrock's with tensor ops
          if name == "quadratic" then return (x ^ 2 * gd.tensor({0.1, 2}, {dtype = "float64"})):sum() end
          if name == "rosenbrock" then
            return (1 - x[1]) ^ 2 + (x[2] - x[1] ^ 2) ^ 2 * 100
          end
          return nil
        end, {x0 = obj.x0})
        if name == "quadratic" or name == "rosenbrock" then
          local x = gd.tensor({0.7, -1.3}, {dtype = "float64"})
          local g1, g2 = gd.zeros(2, {dtype = "float64"}), gd.zeros(2, {dtype = "float64"})
          obj.grad(x, g1)
          auto.grad(x, g2)
          assert.is_true(gd.allclose(g2, g1, 1e-12, 1e-12), name)
          assert.is_true(math.abs(auto.f(x) - obj.f(x)) < 1e-12, name)
        end
      end
    end)

    it("run in gd.experiment.run{objective = function(x) ... end} as the hand-written one does", function()
      local c = gd.tensor({0.1, 2}, {dtype = "float64"})
      local runs = {{name = "RMSProp", optimizer = "RMSProp", hyper = {flavor = "d2l", lr = 0.4, gamma = 0.9}}}
      local a = gd.experiment.run{objective = function(x) return (c * x ^ 2):sum() end, x0 = {-5, -2},
                                  steps = 20, runs = runs, print = false}
      local h = gd.experiment.run{objective = gd.objectives.quadratic, steps = 20, runs = runs, print = false}
      -- (to rounding: autograd computes 2x * c where the hand-written gradient has 2 * c * x)
      assert.is_true(gd.allclose(a[1].x, h[1].x, 1e-12, 1e-15))
      for k = 1, #h[1].losses do assert.is_true(math.abs(a[1].losses[k] - h[1].losses[k]) <= 1e-12 * h[1].losses[k]) end
    end)
  end)

  describe("memory", function()
    local steps = tonumber(os.getenv("GD_AUTOGRAD_SPEC_STEPS")) or 10 ^ 6
    it("stays flat over " .. steps .. " steps of loss:backward(); opt:step() (tape and live bytes)", function()
      -- catches records, saved values or gradients that are never released
      local x = gd.tensor({-5, -2}, {dtype = "float64", requires_grad = true})
      local c = gd.tensor({0.1, 2}, {dtype = "float64"})
      local opt = gd.optim.RMSProp({x}, {lr = 0.01, alpha = 0.9, eps = 1e-6})
      local function step()
        opt:zero_grad()
        local loss = (c * x ^ 2):sum()
        loss:backward()
        opt:step()
      end
      for _ = 1, 1000 do step() end
      collectgarbage(); collectgarbage()
      local bytes0, records0 = gd.memory().cpu, gd.autograd.live_records()
      local longest = 0
      for i = 1, steps do
        step()
        if i % 4096 == 0 then
          local n = gd.autograd.tape_length()
          if n > longest then longest = n end
        end
      end
      collectgarbage(); collectgarbage()
      -- (less is fine: garbage of earlier specs whose finalizers needed more cycles)
      assert.is_true(gd.memory().cpu <= bytes0, gd.memory().cpu .. " bytes live, " .. bytes0 .. " before")
      assert.are.equal(records0, gd.autograd.live_records())
      -- between collections the records of the last steps wait for their tensors' finalizers; the
      -- dead ones below them are compacted away (catches a tape that grows by a step every step)
      assert.is_true(longest < 5 * 10 ^ 5, "tape length " .. longest)   -- (a leak: 3 records a step, 3e6)
    end)

    -- (at least 2*10^5: between collections the records of up to 262144 unsettled tensors may wait, as
    -- many as gd.aux allows for a large Lua heap, e.g. after many spec files; a leak leaves 3 a pass)
    local fwd_steps = math.max(math.floor(steps / 5), 2 * 10 ^ 5)
    it("stays flat over " .. fwd_steps .. " forward passes whose records no backward consumes", function()
      -- a backward frees what it walks at once, so the loop above never leaves holes in the tape; here
      -- records wait for their tensors' collection (a loss evaluated under grad mode, never
      -- differentiated): catches a tape that is not compacted below the live records, or records of
      -- collected tensors that are never released
      local x = gd.tensor({-5, -2}, {dtype = "float64", requires_grad = true})
      local c = gd.tensor({0.1, 2}, {dtype = "float64"})
      for _ = 1, 1000 do local _ = (c * x ^ 2):sum() end
      collectgarbage(); collectgarbage()
      local bytes0, records0 = gd.memory().cpu, gd.autograd.live_records()
      local longest, total = 0, 0
      for i = 1, fwd_steps do
        local loss = (c * x ^ 2):sum()
        total = total + loss:item()
        if i % 1024 == 0 then
          local n = gd.autograd.tape_length()
          if n > longest then longest = n end
        end
      end
      assert.is_true(math.abs(total - fwd_steps * 10.5) < 1e-6 * fwd_steps)   -- 0.1*25 + 2*4 each
      collectgarbage(); collectgarbage()
      assert.is_true(gd.memory().cpu <= bytes0, gd.memory().cpu .. " bytes live, " .. bytes0 .. " before")
      assert.are.equal(records0, gd.autograd.live_records())
      assert.is_true(longest < 2 * fwd_steps, "tape length " .. longest)   -- (a leak: 3 records a pass)
    end)
  end)

  describe("the JIT", function()
    it("compiles the d2l quadratic's loss:backward(); opt:step() loop into a looping trace without NYI aborts", function()
      -- in a fresh host: what other specs ran in this one says nothing about the loop a user runs (LuaJIT
      -- blacklists a loop whose traces kept aborting, Optimizer:zero_grad's after the layers' training
      -- specs, and neither jit.flush() nor a retry lifts it)
      local P = dofile("spec/support/process.lua")
      local r = P.run({"-e", [[
local gd = require "gd"
local jutil = require "jit.util"
local ok_vmdef, vmdef = pcall(require, "jit.vmdef")
local x = gd.tensor({-5, -2}, {dtype = "float64", requires_grad = true})
local c = gd.tensor({0.1, 2}, {dtype = "float64"})
local opt = gd.optim.RMSProp({x}, {lr = 0.01, alpha = 0.9, eps = 1e-6})
local function loop(n)
  for _ = 1, n do
    opt:zero_grad()
    local loss = (c * x ^ 2):sum()
    loss:backward()
    opt:step()
  end
end
local events = {}
local function record(what, tr, func, pc, otr, oex)
  events[#events + 1] = {what = what, tr = tr, func = func, pc = pc, otr = otr, oex = oex}
end
-- a garbage-collection finalizer running while the loop records aborts that
-- recording (normal; the JIT retries): after a whole suite the heap is big and a
-- sweep can hit every retry, so the heap is collected first and the run is
-- tried three times (NYI aborts in any of them fail the spec)
for _ = 1, 3 do
  collectgarbage(); collectgarbage()
  jit.flush()
  jit.attach(record, "trace")
  local okrun, err = pcall(loop, 20000)
  jit.attach(record)
  assert(okrun, err)
  local looped = false
  for _, e in ipairs(events) do
    if e.what == "stop" and e.func == loop then
      local info = jutil.traceinfo(e.tr)
      if info and info.linktype == "loop" and info.link == e.tr then looped = true end
    end
  end
  if looped then break end
end
local looping, aborts = false, {}
for _, e in ipairs(events) do
  if e.what == "stop" and e.func == loop then
    local info = jutil.traceinfo(e.tr)
    if info and info.linktype == "loop" and info.link == e.tr then looping = true end
  elseif e.what == "abort" then
    local fi = jutil.funcinfo(e.func, e.pc)
    local reason = ok_vmdef and vmdef.traceerr[e.otr] or tostring(e.otr)
    if type(reason) == "string" and reason:find("%%") then reason = reason:format(tostring(e.oex)) end
    reason = tostring(reason)
    local src = fi.source or ""
    local ours = e.func == loop or src:find("gd/tensor.lua", 1, true) or src:find("gd/autograd.lua", 1, true)
    if ours and (reason:find("NYI", 1, true) or reason:find("blacklisted", 1, true)) then
      aborts[#aborts + 1] = src .. ":" .. tostring(fi.currentline) .. ": " .. reason
    end
  end
end
if #aborts > 0 then io.write("ABORTS\n", table.concat(aborts, "\n"), "\n") end
io.write(looping and "looping=yes\n" or "looping=no\n")
]]}, {timeout = 120, env = {GD_GC_TORTURE = ""}})   -- (a normal run's loop, also when the suite runs under torture)
      assert.are.equal(0, r.status, r.err)
      assert.is_nil(r.out:find("ABORTS", 1, true), r.out)
      assert.truthy(r.out:find("looping=yes", 1, true), "no looping trace started in the hot loop: " .. r.out .. r.err)
    end)
  end)
end)
