-- The tensor type: fields (shape, dtype, device, grad), dim/numel/size,
-- element access (get, set, item, totable, t[i]), the metatype's operators,
-- tostring, and the documentation every public name carries.
local gd = require "gd"
local H = require "spec.support.tensor_helpers"

describe("tensor fields", function()
  it("shape is a fresh table each time; dtype and device are names", function()
    local t = gd.zeros(2, 3, {dtype = "float64"})
    local s = t.shape
    assert.are.same({2, 3}, s)
    s[1] = 99
    assert.are.same({2, 3}, t.shape)
    assert.are.equal("float64", t.dtype)
    assert.are.equal("cpu", t.device)
    assert.is_true(gd.is_tensor(t))
    assert.is_false(gd.is_tensor({}))
    assert.is_false(gd.is_tensor(3))
  end)

  it("dim, numel and size agree with the shape", function()
    local t = gd.zeros(2, 3, 4)
    assert.are.equal(3, t:dim())
    assert.are.equal(24, t:numel())
    assert.are.equal(3, t:size(2))
    assert.are.equal(4, t:size(-1))
    assert.are.same({2, 3, 4}, t:size())
    assert.are.same({12, 4, 1}, t:stride())
    assert.are.equal(2, #t)
    H.raises(function() local _ = t:size(4) end, "size: dimension 4 out of range (the tensor has 3 dimensions)")
    H.raises(function() local _ = #gd.tensor(1) end, "#: a 0-d tensor has no length")
  end)

  it("grad is nil, or an assignable tensor of the same shape, dtype and device", function()
    local x = gd.zeros(3, {dtype = "float64"})
    assert.is_nil(x.grad)
    local g = gd.ones(3, {dtype = "float64"})
    x.grad = g
    assert.are.equal(g, x.grad)
    x.grad:mul_(2)
    H.same(g, {2, 2, 2})                 -- the same tensor, not a copy
    x.grad = nil
    assert.is_nil(x.grad)
    H.raises(function() x.grad = gd.ones(4, {dtype = "float64"}) end, "grad: gradient has shape 4 but the tensor has shape 3")
    H.raises(function() x.grad = gd.ones(3) end, "grad: gradient has dtype float32 but the tensor has dtype float64")
    H.raises(function() x.grad = x end, "grad: a tensor cannot be its own gradient")
    H.raises(function() x.grad = 5 end, "grad: must be a tensor or nil, got number")
    local y = gd.zeros(3, {dtype = "float64"})
    x.grad = y
    H.raises(function() y.grad = x end, "grad: the gradient's own gradients lead back to the tensor (a cycle)")
  end)

  it("keeps a gradient's shape fixed while it is one (set_ may re-point it, not reshape it)", function()
    local x = gd.zeros(3)
    local g = gd.zeros(3)
    x.grad = g
    local flat = gd.arange(10)
    g:set_(flat, 4, {3})                 -- same shape: fine (how gd.nn re-points gradients into its arena)
    H.same(x.grad, {3, 4, 5})
    H.raises(function() g:set_(flat, 1, {5}) end, "set_: the tensor is the gradient of another tensor, so its shape 3 cannot change")
    x.grad = nil
    g:set_(flat, 1, {5})                 -- no longer a gradient
    assert.are.same({5}, g.shape)
  end)

  it("keeps the gradient alive as long as the tensor", function()
    local x = gd.zeros(2)
    x.grad = gd.full(2, 3)
    collectgarbage()
    collectgarbage()
    H.same(x.grad, {3, 3})
  end)

  it("refuses other fields", function()
    local t = gd.zeros(2)
    H.raises(function() t.foo = 1 end, "tensor: cannot set field 'foo'")
    assert.is_nil(t.foo)
  end)
end)

describe("element access", function()
  it("get and set take 1-based indices, negative ones from the end", function()
    local t = gd.zeros(2, 3, {dtype = "float64"})
    assert.are.equal(t, t:set(1, 2, 5))
    t:set(-1, -1, 7)
    assert.are.equal(5, t:get(1, 2))
    assert.are.equal(7, t:get(2, 3))
    H.same(t, {{0, 5, 0}, {0, 0, 7}})
    local c = gd.zeros(2, 2, 2, 2)
    c:set(2, 1, 2, 1, 3)
    assert.are.equal(3, c:get(2, 1, 2, 1))
    assert.are.equal(3, c:sum())
    t:set(1, 1, true)
    assert.are.equal(1, t:get(1, 1))
  end)

  it("check the number of indices and their ranges", function()
    local t = gd.zeros(2, 3)
    H.raises(function() local _ = t:get(1) end, "get: 1 indices given for a 2-dimensional tensor")
    H.raises(function() local _ = t:get(3, 1) end, "get: index 3 out of range for dimension 1 of size 2")
    H.raises(function() local _ = t:get(1, 0) end, "get: index 0 out of range for dimension 2 of size 3")
    H.raises(function() local _ = t:get(1, 1.5) end, "get: index 1.5 for dimension 2 is not an integer")
    H.raises(function() local _ = t:get(1, "2") end, "get: index '2' for dimension 2 is not an integer")
    H.raises(function() t:set(1, 1) end, "set: 1 indices given for a 2-dimensional tensor")
    H.raises(function() t:set(1, 1, "x") end, "set: the value must be a number, got string")
    H.raises(function() gd.zeros(1, {dtype = "int64"}):set(1, 0.5) end, "set: value 0.5 is not an integer")
  end)

  it("item reads a one-element tensor of any shape", function()
    assert.are.equal(4, gd.full(4):item())
    assert.are.equal(4, gd.full(1, 1, 4):item())
    H.raises(function() local _ = gd.zeros(2):item() end, "item: the tensor has 2 elements; item() needs exactly one")
  end)

  it("totable nests like the shape, and follows views", function()
    assert.are.same({{1, 3}, {2, 4}}, gd.tensor({{1, 2}, {3, 4}}):t():totable())
    assert.are.equal(5, gd.tensor(5):totable())
    assert.are.same({{}, {}}, gd.zeros(2, 0):totable())
  end)

  it("t[i] is a number on a 1-D tensor and a view otherwise; assignment writes", function()
    local v = gd.tensor({10, 20, 30})
    assert.are.equal(20, v[2])
    assert.are.equal(30, v[-1])
    v[1] = 11
    assert.are.equal(11, v:get(1))
    local m = gd.zeros(2, 2)
    local row = m[2]
    assert.is_true(gd.is_tensor(row))
    row:fill_(3)
    H.same(m, {{0, 0}, {3, 3}})
    m[1] = 5
    m[2] = {7, 8}
    H.same(m, {{5, 5}, {7, 8}})
    H.raises(function() local _ = gd.tensor(1)[1] end, "index: a 0-d tensor cannot be indexed (use item())")
    H.raises(function() local _ = v[4] end, "get: index 4 out of range for dimension 1 of size 3")
  end)
end)

describe("the metatype", function()
  it("compares tensors by identity", function()
    local a = gd.zeros(2)
    assert.is_true(a == a)
    assert.is_false(a == gd.zeros(2))
    assert.is_false(a == 0)
    assert.is_false(a == nil)
  end)

  it("exposes the methods as gd.Tensor for extension", function()
    assert.are.equal(gd.Tensor.add_, gd.zeros(1).add_)
    gd.Tensor.double_it_for_spec = function(t) return t * 2 end
    H.same(gd.tensor({1, 2}):double_it_for_spec(), {2, 4})
    gd.Tensor.double_it_for_spec = nil
  end)
end)

describe("tostring", function()
  it("prints values, then dtype, device and shape", function()
    assert.are.equal(" 1.0000 2.0000 3.0000\n 4.0000 5.0000 6.0000\n[float32 tensor, cpu, 2x3]",
      tostring(gd.tensor({{1, 2, 3}, {4, 5, 6}})))
    assert.are.equal("  1.5000\n -2.0000\n[float64 tensor, cpu, 2]", tostring(gd.tensor({1.5, -2}, {dtype = "float64"})))
    assert.are.equal("3.2500\n[float32 tensor, cpu, scalar]", tostring(gd.tensor(3.25)))
    assert.are.equal(" 1\n 2\n[int64 tensor, cpu, 2]", tostring(gd.tensor({1, 2}, {dtype = "int64"})))
    assert.are.equal("[empty float32 tensor, cpu, 0x3]", tostring(gd.zeros(0, 3)))
  end)

  it("prints int64 exactly, NaN and infinities by name, extremes in scientific notation", function()
    assert.truthy(tostring(gd.tensor({-2 ^ 63}, {dtype = "int64"})):find("-9223372036854775808", 1, true))
    assert.are.equal("    nan\n    inf\n   -inf\n 1.0000\n[float32 tensor, cpu, 4]",
      tostring(gd.tensor({0 / 0, 1 / 0, -1 / 0, 1})))
    assert.are.equal(" 1.0000e+07\n 1.0000e+00\n[float32 tensor, cpu, 2]", tostring(gd.tensor({1e7, 1})))
  end)

  it("prints higher ranks as 2-D slices", function()
    local s = tostring(gd.arange(8):view(2, 2, 2))
    assert.are.equal("(1,.,.) = \n 0.0000 1.0000\n 2.0000 3.0000\n\n(2,.,.) = \n 4.0000 5.0000\n 6.0000 7.0000\n\n"
      .. "[float32 tensor, cpu, 2x2x2]", s)
  end)

  it("prints views through their strides, without copying them", function()
    assert.are.equal(" 1.0000 3.0000\n 2.0000 4.0000\n[float32 tensor, cpu, 2x2]",
      tostring(gd.tensor({{1, 2}, {3, 4}}):t()))
    local huge = gd.tensor({7}):expand(2 ^ 40)   -- 2^40 elements, one in memory
    local s = tostring(huge)
    assert.truthy(s:find("[float32 tensor, cpu, 1099511627776]", 1, true))
    assert.truthy(s:find(" 7.0000\n 7.0000\n 7.0000\n ...", 1, true))
  end)

  it("summarises large tensors with three entries at each end", function()
    local s = tostring(gd.arange(2000))
    local lines = {}
    for l in s:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal(8, #lines)
    assert.are.equal(" ...", lines[4])
    assert.are.equal(" 1999.0000", lines[7])
    assert.are.equal("[float32 tensor, cpu, 2000]", lines[8])
  end)
end)

describe("documentation", function()
  it("covers every public function and method", function()
    local missing = {}
    for _, name in ipairs({"tensor", "zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like",
                           "full_like", "arange", "linspace", "rand", "randn", "randperm", "manual_seed",
                           "rng_state", "set_rng_state", "set_num_threads", "get_num_threads", "cuda_available",
                           "synchronize", "memory", "matmul", "cat", "stack", "where", "allclose", "is_tensor",
                           "save", "load"}) do
      if not gd.doc.lookup(gd[name]) then missing[#missing + 1] = "gd." .. name end
    end
    for name, fn in pairs(gd.Tensor) do
      if type(fn) == "function" and not gd.doc.lookup(fn) then missing[#missing + 1] = "Tensor:" .. name end
    end
    table.sort(missing)
    assert.are.same({}, missing)
    local text = gd.doc.lookup(gd.Tensor.add_)
    assert.truthy(text:find("t:add_(x, [alpha])", 1, true))
  end)
end)
