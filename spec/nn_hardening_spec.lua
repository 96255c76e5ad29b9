-- Issue 10 (hardening), the nn and tensor items: each `it` names the item and
-- says in a comment which wrong code it catches.  The signed-overflow cases
-- (item 4) give a clear error in every build; under `make asan` (UBSan with
-- -fno-sanitize-recover) the overflow they used to compute also ends the run.
local gd = rawget(_G, "gd") or require "gd"
local nn = gd.nn
local ffi = require "ffi"
local H = require "spec.support.tensor_helpers"

-- int64 tensors holding INT64_MIN and INT64_MAX (2^62 - 1 + 2^62: no overflow on the way)
local function int64_min() return gd.tensor({-2 ^ 63}, {dtype = "int64"}) end
local function int64_max()
  local x = gd.tensor({2 ^ 62}, {dtype = "int64"})
  return (x - 1) + x
end

local function classes(t) return gd.tensor(t, {dtype = "int64"}) end

--- pcall(fn) must fail with a message containing every one of `texts`.
local function fails_with(fn, ...)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error, the call succeeded")
  err = tostring(err)
  for _, text in ipairs({...}) do
    assert(err:find(text, 1, true), "expected '" .. text .. "' in: " .. err)
  end
  return err
end

describe("issue 10 item 3: empty tensors", function()
  -- the old contiguity test multiplied the expected stride by the size 0, so a
  -- 3x0 tensor was "non-contiguous", and every kernel that stages a
  -- non-contiguous operand through a contiguous copy recursed on the copy
  -- until the C stack overflowed (SIGSEGV, no pcall could catch it)
  it("reports a 3x0 tensor (and its copies) contiguous", function()
    local t = gd.zeros(3, 0)
    assert.is_true(t:is_contiguous())
    assert.is_true(t:contiguous():is_contiguous())
    assert.is_true(gd.zeros(0, 4):t():is_contiguous())
  end)

  it("runs Softmax, LogSoftmax, Dropout and the activations on 3x0", function()
    for _, m in ipairs {nn.Softmax(), nn.LogSoftmax(), nn.Dropout(0.5), nn.ReLU(), nn.Tanh()} do
      local y = m(gd.zeros(3, 0))
      assert.same({3, 0}, y.shape)
      local g = m:backward(gd.zeros(3, 0))
      assert.same({3, 0}, g.shape)
    end
  end)

  it("gives MSELoss NaN for the mean of nothing and 0 for the sum (PyTorch's values)", function()
    local err, grad = nn.MSELoss()(gd.zeros(3, 0), gd.zeros(3, 0))
    assert.is_true(err ~= err)
    assert.same({3, 0}, grad.shape)
    assert.are.equal(0, (nn.MSELoss{reduction = "sum"}(gd.zeros(3, 0), gd.zeros(3, 0))))
  end)

  it("refuses CrossEntropyLoss and accuracy with no classes, and gradcheck passes on 3x0", function()
    fails_with(function() nn.CrossEntropyLoss()(gd.zeros(3, 0), classes {1, 1, 1}) end,
      "CrossEntropyLoss", "is not a class in 1..0")
    fails_with(function() nn.accuracy(gd.zeros(3, 0), classes {1, 1, 1}) end,
      "gd.nn.accuracy", "is not a class in 1..0")
    assert.is_true((nn.gradcheck(nn.Tanh(), gd.zeros(3, 0))))
  end)
end)

describe("issue 10 item 4: INT64_MIN targets and indices", function()
  -- `target - 1` and `bad + 1` overflowed (undefined behaviour; UBSan reports
  -- it); the checks now compare without computing the overflowing value, and
  -- the message shows the index the caller gave
  it("refuses them with the value the caller gave", function()
    local t = gd.cat({int64_min(), classes {1}})
    fails_with(function() nn.CrossEntropyLoss()(gd.zeros(2, 3), t) end,
      "CrossEntropyLoss: target -9223372036854775808 (row 1) is not a class in 1..3")
    fails_with(function() nn.accuracy(gd.zeros(2, 3), t) end,
      "gd.nn.accuracy: target -9223372036854775808 (row 1) is not a class in 1..3")
    fails_with(function() gd.tensor({1, 2}):index_select(1, t) end,
      "index_select: index -9223372036854775808 out of range for dimension 1 of size 2")
    fails_with(function() gd.tensor({1, 2}):index_select(1, int64_max()) end,
      "index 9223372036854775807 out of range")
  end)

  it("still takes the classes at both ends", function()
    local logits = gd.tensor({{0, 1, 5}, {7, 1, 0}})
    local frac, n = nn.accuracy(logits, classes {3, 1})
    assert.are.equal(1, frac)
    assert.are.equal(2, n)
  end)
end)

describe("issue 10 item 5: a square Linear fed its own output", function()
  -- the bias was copied into the output buffer, which was the input, before
  -- gemm read it: lin(lin(x)) computed b + b @ W^T instead of lin(y) @ W^T + b
  it("computes lin(lin(x)) as two separate applications do", function()
    gd.manual_seed(3)
    local lin = nn.Linear(4, 4)
    local x = gd.randn(3, 4)
    local w, b = lin.weight:clone(), lin.bias:clone()
    -- the reference, by hand from matmul (no Linear involved)
    local y1 = gd.matmul(x, w:t()) + b
    local y2 = gd.matmul(y1, w:t()) + b
    local out = lin(lin(x))           -- the second call reads its own output buffer
    assert.is_true(gd.allclose(out, y2, 1e-5, 1e-5))
    -- and the buffer is still the output buffer (the result was copied back into it)
    assert.is_true(rawequal(out, lin(x)) or out:is_same_storage(lin(x)))
  end)
end)

describe("issue 10 item 6: int64 equal and allclose", function()
  -- float64 cannot tell 2^53 from 2^53 + 1: the old comparison went through it
  it("tells 2^53 from 2^53 + 1", function()
    local a = gd.tensor({2 ^ 53, -2 ^ 53}, {dtype = "int64"})
    local b = a + 1
    assert.is_false(a:equal(b))
    assert.is_false(gd.allclose(a, b, 0, 0))
    assert.is_true(a:equal(a:clone()))
    assert.is_true(gd.allclose(a, b, 0, 1))          -- |a - b| = 1 <= atol
    -- int64 extremes: the distance INT64_MAX - INT64_MIN would overflow in int64
    local lo, hi = int64_min(), int64_max()
    assert.is_false(gd.allclose(lo, hi, 0, 1e18))
    assert.is_true(gd.allclose(lo, hi, 0, 2 ^ 65))
  end)
end)

describe("issue 10 item 15: converting a model after its optimizer was built", function()
  -- m:double() replaced every parameter by a new tensor: the optimizer kept
  -- stepping the orphaned float32 copies and the model silently stopped
  -- learning.  Now the parameter tensors stay (PyTorch's param.data = ...),
  -- and the optimizer refuses the changed dtype with a clear error.
  it("keeps the parameter and gradient tensors through double() and float()", function()
    local net = nn.Sequential {nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 1)}
    local params = net:parameters()
    local grads = {}
    for i, p in ipairs(params) do grads[i] = p.grad end
    local before = params[1]:clone():double()
    net:double()
    for i, p in ipairs(net:parameters()) do
      assert.is_true(rawequal(params[i], p))
      assert.is_true(rawequal(grads[i], p.grad))
      assert.are.equal("float64", p.dtype)
      assert.are.equal("float64", p.grad.dtype)
    end
    assert.is_true(params[1]:equal(before))             -- the values were converted, not lost
    local fp, fg = net:flat_parameters()
    assert.is_true(params[1]:is_same_storage(fp))       -- still in the arena
    assert.is_true(grads[1]:is_same_storage(fg))
    net:float()
    assert.is_true(rawequal(params[1], net:parameters()[1]))
    assert.are.equal("float32", params[1].dtype)
  end)

  it("makes an optimizer built before refuse to step, and one built after train", function()
    gd.manual_seed(1)
    local net = nn.Sequential {nn.Linear(3, 1)}
    local old = gd.optim.SGD(net:parameters(), {lr = 0.1})
    net:double()
    local x, y = gd.randn(8, 3, {dtype = "float64"}), gd.randn(8, 1, {dtype = "float64"})
    local loss = nn.MSELoss()
    local _, g = loss(net(x), y)
    net:zero_grad(); net:backward(g)
    fails_with(function() old:step() end, "step", "changed dtype or device since the optimizer was created")
    local opt = gd.optim.SGD(net:parameters(), {lr = 0.1})
    local w = net.modules[1].weight:clone()
    opt:step()
    assert.is_false(net.modules[1].weight:equal(w))     -- the model's own parameter moved
  end)
end)

describe("issue 10 item 18: class targets and int64 uniform_", function()
  -- accuracy compared targets with the argmax without checking them: 0 or
  -- classes + 1 simply counted as wrong
  it("refuses accuracy targets outside 1..classes", function()
    local s = gd.tensor({{1, 0, 0}, {0, 1, 0}})
    fails_with(function() nn.accuracy(s, classes {1, 4}) end,
      "gd.nn.accuracy: target 4 (row 2) is not a class in 1..3")
    fails_with(function() nn.accuracy(s, classes {0, 1}) end, "target 0 (row 1) is not a class in 1..3")
    fails_with(function() nn.accuracy(s, {1, 1.5}) end, "gd.nn.accuracy: the target must hold class indices")
  end)

  -- uniform_() on int64 used [0, 1) and filled zeros without a word
  it("draws int64 uniform_ whole numbers only with both bounds given", function()
    local k = gd.empty(4, {dtype = "int64"})
    fails_with(function() k:uniform_() end, "uniform_: an int64 tensor draws whole numbers in [low, high)")
    fails_with(function() k:uniform_(0) end, "give both bounds")
    fails_with(function() k:uniform_(0, 2 ^ 60) end, "uniform_: int64 bounds must lie within +-2^53")
    gd.manual_seed(2)
    local v = gd.empty(2000, {dtype = "int64"}):uniform_(-2, 2)   -- -2, -1, 0, 1
    assert.are.equal(-2, v:min())
    assert.are.equal(1, v:max())
  end)
end)

describe("issue 10 item 18b: Softmax(dim), LogSoftmax(dim) and loss shapes", function()
  -- dim was ignored: the softmax always ran along the last dimension
  it("normalises along dim (1-based, negative from the end)", function()
    local x = gd.tensor({{1, 2, 3}, {4, 6, 8}}, {dtype = "float64"})
    local y = nn.Softmax(1)(x)
    -- by hand: exp(x) / the column sums
    local e = x:exp()
    local ref = {}
    for i = 1, 2 do
      ref[i] = {}
      for j = 1, 3 do ref[i][j] = e:get(i, j) / (e:get(1, j) + e:get(2, j)) end
    end
    H.close(y, ref, 1e-12)
    H.close(nn.Softmax(-2)(x), ref, 1e-12)
    local rows = nn.Softmax(2)(x):sum(2)
    H.close(rows, {1, 1}, 1e-12)
    local ls = nn.LogSoftmax(1)
    H.close(ls(x):exp(), ref, 1e-12)
    -- backward: gx = gy - softmax * sum(gy) along dim, by hand for one column
    local gy = gd.tensor({{1, 0, 0}, {0, 0, 1}}, {dtype = "float64"})
    local gx = ls:backward(gy)
    H.close(gx:get(1, 1), 1 - ref[1][1], 1e-12)
    H.close(gx:get(2, 1), 0 - ref[2][1], 1e-12)
    H.close(gx:get(2, 3), 1 - ref[2][3], 1e-12)
    assert.is_true((nn.gradcheck(nn.Softmax(1), gd.randn(3, 4, {dtype = "float64"}))))
    assert.is_true((nn.gradcheck(nn.LogSoftmax(2), gd.randn(2, 3, 4, {dtype = "float64"}))))
  end)

  it("refuses a dim the input does not have, and dim 0", function()
    fails_with(function() nn.Softmax(3)(gd.zeros(2, 2)) end, "Softmax: dim 3 is out of range for a 2-D input")
    fails_with(function() nn.LogSoftmax(0) end, "gd.nn.LogSoftmax: dim is 1-based")
    fails_with(function() nn.Softmax(1.5) end, "gd.nn.Softmax: dim must be an integer")
  end)

  -- (N, 1) against (N) was paired element by element (PyTorch broadcasts to N x N)
  it("refuses MSELoss shapes that differ", function()
    fails_with(function() nn.MSELoss()(gd.zeros(4, 1), gd.zeros(4)) end,
      "MSELoss: the prediction has shape 4x1 but the target 4")
    fails_with(function() nn.MSELoss()(gd.zeros(4), gd.zeros(1, 4)) end, "shape 4 but the target 1x4")
  end)
end)

describe("issue 10 item 19: dropped modules are collected", function()
  -- every module's private state (a weak-keyed table) held the shared arena,
  -- whose slots held the modules: LuaJIT's weak tables are not ephemerons,
  -- so no model was ever collected (60 dropped 1000x1000 nets kept 518 MB)
  it("returns the memory of 60 dropped networks, their clones and their buffers", function()
    local C = require("gd.ffi").C
    local function live_mb()
      collectgarbage(); collectgarbage()
      return tonumber(C.gd_mem_live_bytes(0)) / 2 ^ 20
    end
    local base = live_mb()
    for _ = 1, 60 do
      local net = nn.Sequential {nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)}
      local _ = net(gd.randn(2, 512))
      net:backward(gd.ones(2, 10))
      local c = net:clone()
      c:double()
    end
    -- one network is 2 MB of parameters and 2 MB of gradients (a clone and its
    -- float64 copy 12 MB more): 60 kept would be about 960 MB
    local grown = live_mb() - base
    assert.is_true(grown < 40, string.format("%.1f MB still live after 60 dropped networks", grown))
  end)
end)

describe("issue 10 item 23: messages that name the gd function", function()
  -- a Sequential holding a Sequential that holds it: forward, parameters()
  -- and the arena rebuild walked the cycle until the stack overflowed
  it("refuses a Sequential that would contain itself through another", function()
    local a, b = nn.Sequential {nn.ReLU()}, nn.Sequential {nn.Tanh()}
    a:add(b)
    fails_with(function() b:add(a) end, "Sequential:add: the module contains this Sequential already (a cycle)")
    assert.are.equal(1, b:size())                        -- unchanged
    local c = nn.Sequential {}
    fails_with(function() c:add(nn.Sequential {nn.Sequential {c}}) end, "a cycle")
    nn.Sequential {a, a}                                 -- shared, not a cycle: allowed
    local y = a(gd.tensor({-1, 2}))                      -- a still works
    H.close(y, {math.tanh(0), math.tanh(2)}, 1e-6)
  end)

  -- a NULL cdata compares equal to nil, so it passed for a missing option
  it("does not take a NULL cdata for a missing argument", function()
    local null = ffi.cast("void *", nil)
    fails_with(function() nn.MSELoss {scale = null} end, "gd.nn.MSELoss: scale must be a number, got cdata")
    fails_with(function() nn.Sequential(null) end, "gd.nn.Sequential: expects a table of modules, got cdata")
    fails_with(function() gd.zeros(2):uniform_(null, 1) end, "uniform_: low must be a number, got cdata")
  end)

  -- Linear:backward indexed a non-tensor gradient ("attempt to index local")
  it("checks Linear:backward's gradient and names the layer for int64 input", function()
    local lin = nn.Linear(3, 2)
    lin(gd.zeros(2, 3))
    fails_with(function() lin:backward(5) end, "Linear:backward: the output gradient must be a tensor, got number")
    fails_with(function() lin(gd.zeros(2, 3, {dtype = "int64"})) end,
      "Linear: the input must be float32 or float64, got int64")
  end)

  -- gd.doc(x) with a bad name or text failed in an assert naming no gd function
  it("names gd.doc.register when gd.doc is called wrongly", function()
    local text = gd.doc.lookup(gd.zeros)
    H.raises(function() gd.doc(gd.zeros, 5, "nothing") end, "gd.doc.register: the name (argument 2) must be a string")
    H.raises(function() gd.doc.register({}, "my.thing") end, "gd.doc.register: the text (argument 3) must be a string")
    assert.are.equal(text, gd.doc.lookup(gd.zeros))     -- nothing changed
  end)

end)
