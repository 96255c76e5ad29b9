-- gd.nn's convolution and pooling layers (issue 14): forward outputs and
-- input/parameter gradients against PyTorch 1.13 (spec/golden/nn_layers.lua,
-- from scripts/golden/nn_layers.py) in float64 within 1e-10, float32 against
-- the same values, finite differences, shapes, init and bad input.
local gd = rawget(_G, "gd") or require "gd"
local nn = gd.nn

local golden, extra = dofile("spec/golden/nn_layers.lua")

local function t64(flat, shape) return gd.tensor(flat, {dtype = "float64"}):view(shape) end

local function maxdiff(a, b)
  return (a:to("float64") - b:to("float64")):abs():max()
end

--- The golden layer, built from its gdlua constructor text, with PyTorch's
-- parameters copied in.
local function build(g, dtype)
  local ctor = assert(loadstring("local nn = ...; return nn." .. g.cls .. "(" .. g.args ..
    (g.opts ~= "nil" and (", " .. g.opts) or "") .. ")"))
  local m = ctor(nn)
  if dtype == "float64" then m:double() end
  if g.weight then
    assert.same(g.weight_shape, m.weight.shape)   -- PyTorch's weight layout
    m.weight:copy_(t64(g.weight, g.weight_shape))
  end
  if g.bias then m.bias:copy_(t64(g.bias, g.bias_shape)) else assert.is_nil(m.bias) end
  if g.rm0 then
    -- fresh float64 tensors (a float32 copy would round them); forward
    -- converts them to the input's dtype
    m.running_mean = t64(g.rm0, {#g.rm0})
    m.running_var = t64(g.rv0, {#g.rv0})
    m:train(g.train == 1)
  end
  return m
end

local function replay(g, dtype, tol)
  local m = build(g, dtype)
  m:zero_grad()
  local x = t64(g.x, g.x_shape):to(dtype)
  local y = m:forward(x)
  assert.same(g.y_shape, y.shape)
  assert.is_true(maxdiff(y, t64(g.y, g.y_shape)) < tol, g.name .. ": forward")
  local gx = m:backward(t64(g.gy, g.y_shape):to(dtype))
  assert.is_true(maxdiff(gx, t64(g.gx, g.x_shape)) < tol, g.name .. ": input gradient")
  if g.weight then
    assert.is_true(maxdiff(m.weight.grad, t64(g.gweight, g.weight_shape)) < tol, g.name .. ": weight gradient")
  end
  if g.bias then assert.is_true(maxdiff(m.bias.grad, t64(g.gbias, g.bias_shape)) < tol, g.name .. ": bias gradient") end
  if g.rm then
    -- catches a biased running variance, momentum taken as 1 - momentum, or
    -- statistics that move in eval mode
    assert.is_true(maxdiff(m.running_mean, t64(g.rm, {#g.rm})) < tol, g.name .. ": running_mean")
    assert.is_true(maxdiff(m.running_var, t64(g.rv, {#g.rv})) < tol, g.name .. ": running_var")
  end
end

describe("gd.nn convolution, pooling and batch norm against PyTorch", function()
  -- Each case sets hyperparameters that differ per axis (stride != padding
  -- != dilation, rectangular kernels), groups, ceil_mode windows running past
  -- the padding, count_include_pad on and off: a padding/dilation mix-up, a
  -- swapped axis, the wrong group slice of the weight, a floor for a ceil or
  -- the wrong avg divisor changes the shape or the values.
  for _, g in ipairs(golden) do
    it(g.name .. " (float64, 1e-10)", function() replay(g, "float64", 1e-10) end)
    it(g.name .. " (float32, 1e-4)", function() replay(g, "float32", 1e-4) end)
  end
  -- ConvTranspose2d (spec/golden/nn_conv_transpose.lua): output_padding and
  -- dilation per axis, groups; the conv weight layout (out x in) in place of
  -- the transposed one (in x out/groups) fails the shape check in build
  for _, g in ipairs(dofile("spec/golden/nn_conv_transpose.lua")) do
    it(g.name .. " (float64, 1e-10)", function() replay(g, "float64", 1e-10) end)
    it(g.name .. " (float32, 1e-4)", function() replay(g, "float32", 1e-4) end)
  end
end)

describe("gd.nn.MaxPool2d with return_indices", function()
  it("returns each maximum's 1-based position in its flattened plane (PyTorch's index + 1)", function()
    -- by hand: 5 at row 1 col 2 -> 2, 8 at (2, 3) -> 7, 9 at (3, 1) -> 9,
    -- 3 at (4, 4) -> 16; PyTorch gives 1, 6, 8, 15
    local x = gd.tensor({{{{1, 5, 2, 0}, {3, 4, 8, 7}, {9, 0, 1, 1}, {2, 6, 1, 3}}}})
    local y, idx = nn.MaxPool2d(2, {return_indices = true})(x)
    assert.same({{{{5, 8}, {9, 3}}}}, y:totable())
    assert.equal("int64", idx.dtype)
    assert.same({{{{2, 7}, {9, 16}}}}, idx:totable())
    local _, i2 = nn.MaxPool2d(2, {return_indices = true})(x[1])   -- unbatched
    assert.same({{{2, 7}, {9, 16}}}, i2:totable())
    assert.is_nil(select(2, nn.MaxPool2d(2)(x)))   -- without the option, one result
  end)
end)

describe("gd.nn.ConvTranspose2d", function()
  it("backward matches gradcheck", function()
    gd.manual_seed(6)
    local m = nn.ConvTranspose2d(4, 2, {2, 3}, {stride = {2, 1}, padding = {0, 1}, output_padding = {1, 0}, groups = 2})
    assert.is_true(nn.gradcheck(m, gd.randn(2, 4, 3, 3)))
  end)

  it("inverts Conv2d's shape: a stride-2 conv's output maps back to its input size", function()
    local x = gd.randn(1, 3, 9, 7)
    local y = nn.Conv2d(3, 4, 3, {stride = 2, padding = 1})(x)
    assert.same({1, 4, 5, 4}, y.shape)
    assert.same({1, 3, 9, 7}, nn.ConvTranspose2d(4, 3, 3, {stride = 2, padding = 1})(y).shape)
    assert.same({1, 3, 10, 8}, nn.ConvTranspose2d(4, 3, 3, {stride = 2, padding = 1, output_padding = 1})(y).shape)
  end)

  it("takes PyTorch's output_size in forward: the output_padding that reaches it", function()
    -- a stride-2 conv maps 9 and 10 rows to 5: output_size tells them apart
    gd.manual_seed(7)
    local m = nn.ConvTranspose2d(2, 3, 3, {stride = 2, padding = 1}):double()
    local x = gd.randn(1, 2, 5, 4, {dtype = "float64"})
    assert.same({1, 3, 9, 7}, m(x).shape)
    local y = m:forward(x, {10, 8}):clone()
    assert.same({1, 3, 10, 8}, y.shape)
    local same = nn.ConvTranspose2d(2, 3, 3, {stride = 2, padding = 1, output_padding = 1}):double()
    same:load_state_dict(m:state_dict())
    assert.equal(0, maxdiff(same(x), y))
    -- the backward follows the forward's output_padding
    assert.same({1, 2, 5, 4}, m:backward(gd.randn(1, 3, 10, 8, {dtype = "float64"})).shape)
    assert.same({1, 3, 9, 7}, m(x, {1, 3, 9, 7}).shape)   -- a full shape: its last two
    assert.has_error(function() m:forward(x, {11, 8}) end,
      "ConvTranspose2d: output_size 11x8 is not reachable: with this input the height can be 9 to 10")
  end)

  it("initialises U(+-1/sqrt(out/groups kh kw)) with PyTorch's weight layout", function()
    gd.manual_seed(2)
    local m = nn.ConvTranspose2d(40, 6, 2, {groups = 2})
    assert.same({40, 3, 2, 2}, m.weight.shape)
    local bound = 1 / math.sqrt(3 * 4)
    assert.is_true(m.weight:abs():max() <= bound and m.weight:abs():max() > 0.95 * bound)
  end)

  it("names the layer and what is wrong", function()
    local m = nn.ConvTranspose2d(4, 2, 3)
    assert.has_error(function() m:forward(gd.randn(1, 3, 5, 5)) end,
      "ConvTranspose2d: the input has 3 channels but the layer takes 4 (weight 4x2x3x3; input 1x3x5x5)")
    assert.has_error(function() nn.ConvTranspose2d(4, 2, 3, {stride = 2, output_padding = 2}) end,
      "gd.nn.ConvTranspose2d: output_padding must be smaller than either the stride or the dilation")
    assert.has_error(function() nn.ConvTranspose2d(4, 2, 3, {padding = 4})(gd.randn(1, 4, 2, 2)) end,
      "ConvTranspose2d: the output would be empty (-4x-4): the padding is too large for input 1x4x2x2")
    assert.has_error(function() nn.ConvTranspose2d(4, 3, 3, {groups = 2}) end,
      "gd.nn.ConvTranspose2d: out_channels (3) is not divisible by groups (2)")
    m:forward(gd.randn(1, 4, 2, 2))
    assert.has_error(function() m:backward(gd.randn(1, 2, 3, 3)) end,
      "ConvTranspose2d:backward: the output gradient has shape 1x2x3x3, expected 1x2x4x4")
  end)
end)

describe("gd.nn convolution and pooling by finite differences", function()
  before_each(function() gd.manual_seed(3) end)
  local cases = {
    {"Conv2d", function() return nn.Conv2d(4, 6, {3, 2}, {stride = {2, 1}, padding = {1, 2}, dilation = {1, 2}, groups = 2}) end, {2, 4, 5, 6}},
    {"Conv1d", function() return nn.Conv1d(3, 4, 3, {padding = 2, dilation = 2, stride = 2}) end, {2, 3, 7}},
    {"MaxPool2d", function() return nn.MaxPool2d(3, {stride = 2, padding = 1, ceil_mode = true}) end, {2, 3, 6, 7}},
    {"AvgPool2d", function() return nn.AvgPool2d(3, {stride = 2, padding = 1, ceil_mode = true, count_include_pad = false}) end, {2, 3, 6, 7}},
    {"AdaptiveAvgPool2d", function() return nn.AdaptiveAvgPool2d({3, 2}) end, {2, 3, 7, 5}},
    {"Flatten in a CNN", function() return nn.Sequential{nn.Conv2d(3, 2, 3), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4, 2)} end, {2, 3, 6, 5}},
  }
  for _, c in ipairs(cases) do
    it(c[1] .. ": backward matches gradcheck", function()
      local ok, msg = nn.gradcheck(c[2](), gd.randn(c[3]))
      assert.is_true(ok, msg)
    end)
  end
end)

describe("gd.nn.Conv2d", function()
  before_each(function() gd.manual_seed(0) end)

  it("initialises as PyTorch: U(+-1/sqrt(in/groups * kh * kw)) for weight and bias", function()
    -- catches a fan_in that ignores groups or the kernel area
    local m = nn.Conv2d(8, 4, {3, 5}, {groups = 2})
    assert.same({4, 4, 3, 5}, m.weight.shape)
    local bound = 1 / math.sqrt(4 * 3 * 5)
    assert.is_true(m.weight:abs():max() <= bound)
    assert.is_true(m.weight:abs():max() > 0.9 * bound)
    assert.is_true(m.bias:abs():max() <= bound)
    local sd = m:state_dict()
    assert.is_not_nil(sd.weight)
    assert.is_not_nil(sd.bias)
  end)

  it("takes an unbatched C x H x W input, as PyTorch", function()
    local m = nn.Conv2d(2, 3, 3, {padding = 1})
    local x = gd.randn(2, 4, 5)
    local y = m(x)
    assert.same({3, 4, 5}, y.shape)
    local yb = m(x:view(1, 2, 4, 5)):clone()
    assert.is_true(maxdiff(m(x), yb[1]) == 0)
    assert.same({2, 4, 5}, m:backward(gd.ones(3, 4, 5)).shape)
  end)

  it("accumulates parameter gradients over backward calls", function()
    -- catches a weight gradient that is overwritten instead of accumulated
    local m = nn.Conv2d(2, 2, 2):double()
    local x = gd.randn(1, 2, 3, 3, {dtype = "float64"})
    m:zero_grad()
    local gy = gd.randn(1, 2, 2, 2, {dtype = "float64"})
    m:forward(x); m:backward(gy)
    local once = m.weight.grad:clone()
    m:forward(x); m:backward(gy)
    assert.is_true(maxdiff(m.weight.grad, once * 2) < 1e-12)
  end)

  it("names the layer and what is wrong on bad input, leaving the layer usable", function()
    local m = nn.Conv2d(4, 6, 3, {groups = 2})
    assert.has_error(function() m:forward(gd.randn(2, 3, 5, 5)) end,
      "Conv2d: the input has 3 channels but the layer takes 4 (weight 6x2x3x3, groups 2; input 2x3x5x5)")
    assert.has_error(function() m:forward(gd.randn(1, 4, 2, 2)) end,
      "Conv2d: the kernel (3x3 with dilation, from 3x3) is larger than the padded input (2x2)")
    assert.has_error(function() m:forward(gd.randn(4, 5)) end)
    assert.has_error(function() m:forward(gd.randn(1, 4, 5, 5, {dtype = "float64"})) end,
      "Conv2d: the weight is float32 but the input is float64")
    assert.has_error(function() m:forward("x") end, "Conv2d: the input must be a tensor, got string")
    assert.has_error(function() nn.Conv2d(4, 6, 3, {groups = 4}) end,
      "gd.nn.Conv2d: out_channels (6) is not divisible by groups (4)")
    assert.has_error(function() nn.Conv2d(4, 6, 0) end, "gd.nn.Conv2d: kernel_size must be >= 1, got 0")
    assert.has_error(function() nn.Conv2d(4, 6, 3, {paddin = 1}) end)
    assert.same({2, 6, 3, 3}, m:forward(gd.randn(2, 4, 5, 5)).shape)
    assert.has_error(function() m:backward(gd.randn(2, 6, 2, 3)) end,
      "Conv2d:backward: the output gradient has shape 2x6x2x3, expected 2x6x3x3")
  end)

  it("refuses a CUDA input to a layer whose weight is on the CPU, naming both devices", function()
    -- catches a backend call with operands on two devices (a host pointer handed to a kernel)
    if not gd.cuda.is_available() then pending("no GPU") return end
    local m = nn.Conv2d(1, 1, 1)
    assert.has_error(function() m:forward(gd.randn(1, 1, 2, 2, {device = "cuda"})) end,
      "Conv2d: the weight is on cpu but the input is on cuda")
  end)
end)

describe("gd.nn pooling and Flatten", function()
  it("MaxPool2d: the stride defaults to the kernel size; a NaN wins, as in PyTorch", function()
    local x = gd.tensor({{1, 5, 2, 0}, {3, 0 / 0, 1, 4}}, {dtype = "float64"}):view(1, 1, 2, 4)
    local y = nn.MaxPool2d(2)(x)
    assert.same({1, 1, 1, 2}, y.shape)
    assert.is_true(y:get(1, 1, 1, 1) ~= y:get(1, 1, 1, 1))   -- NaN
    assert.equal(4, y:get(1, 1, 1, 2))
  end)

  it("MaxPool2d and AvgPool2d refuse a padding over half the kernel", function()
    assert.has_error(function() nn.MaxPool2d(2, {padding = 2})(gd.randn(1, 1, 4, 4)) end,
      "MaxPool2d: padding (2x2) must be at most half the kernel size (2x2)")
    assert.has_error(function() nn.AvgPool2d(3)(gd.randn(1, 1, 2, 2)) end)
  end)

  it("Flatten merges start_dim .. end_dim (1-based) and backward restores the shape", function()
    local f = nn.Flatten()
    local y = f(gd.randn(2, 3, 4, 5))
    assert.same({2, 60}, y.shape)
    assert.same({2, 3, 4, 5}, f:backward(gd.ones(2, 60)).shape)
    assert.same({2, 12, 5}, nn.Flatten(2, 3)(gd.randn(2, 3, 4, 5)).shape)
    assert.has_error(function() nn.Flatten(5)(gd.randn(2, 3)) end, "Flatten: start_dim 5 is out of range for a 2-D input")
  end)
end)

describe("gd.nn.BatchNorm1d/2d", function()
  before_each(function() gd.manual_seed(5) end)

  it("LayerNorm and GroupNorm: backward matches gradcheck", function()
    local ln = nn.LayerNorm({3, 2})
    ln.weight:uniform_(0.5, 1.5); ln.bias:uniform_(-1, 1)
    assert.is_true(nn.gradcheck(ln, gd.randn(2, 3, 2)))
    local gn = nn.GroupNorm(3, 6)
    gn.weight:uniform_(0.5, 1.5); gn.bias:uniform_(-1, 1)
    assert.is_true(nn.gradcheck(gn, gd.randn(2, 6, 2, 2)))
    assert.has_error(function() nn.LayerNorm(4)(gd.randn(2, 5)) end,
      "LayerNorm: the input's shape 2x5 does not end in normalized_shape 4")
    assert.has_error(function() nn.GroupNorm(4, 6) end, "gd.nn.GroupNorm: num_channels (6) is not divisible by num_groups (4)")
  end)

  it("backward matches gradcheck in training and evaluation mode", function()
    -- training: catches a backward that ignores the batch statistics' own
    -- dependence on x (the mean(gy) and mean(gy xhat) terms)
    local m = nn.BatchNorm2d(3, {momentum = 0.3})
    m.weight:uniform_(0.5, 1.5); m.bias:uniform_(-1, 1)
    assert.is_true(nn.gradcheck(m, gd.randn(4, 3, 2, 3)))
    local e = nn.BatchNorm1d(3)
    e.running_var:uniform_(0.5, 2)
    e:evaluate()
    assert.is_true(nn.gradcheck(e, gd.randn(5, 3)))
    assert.is_true(nn.gradcheck(nn.BatchNorm1d(2, {affine = false}), gd.randn(3, 2, 4)))
  end)

  it("has PyTorch's state_dict keys and initial values", function()
    local m = nn.BatchNorm2d(4)
    local keys = {}
    for k in pairs(m:state_dict()) do keys[#keys + 1] = k end
    table.sort(keys)
    assert.same({"bias", "num_batches_tracked", "running_mean", "running_var", "weight"}, keys)
    assert.equal(1, m.weight:min()); assert.equal(0, m.bias:max())
    assert.equal(0, m.running_mean:abs():max()); assert.equal(1, m.running_var:min())
    m(gd.randn(2, 4, 3, 3)); m(gd.randn(2, 4, 3, 3))
    assert.equal(2, m.num_batches_tracked:item())
    m:evaluate(); m(gd.randn(2, 4, 3, 3))
    assert.equal(2, m.num_batches_tracked:item())   -- eval does not count
  end)

  it("names the layer and what is wrong on bad input", function()
    local m = nn.BatchNorm2d(3)
    assert.has_error(function() m(gd.randn(2, 4, 2, 2)) end,
      "BatchNorm2d: the input has 4 channels but the layer has num_features = 3")
    assert.has_error(function() m(gd.randn(2, 3)) end, "BatchNorm2d: the input must be 4-D (N x C x H x W), got 2-D")
    assert.has_error(function() nn.BatchNorm1d(3)(gd.randn(1, 3)) end,
      "BatchNorm1d: expected more than 1 value per channel when training, got input 1x3")
    assert.has_error(function() nn.BatchNorm1d(3, {momentum = 2}) end, "gd.nn.BatchNorm1d: momentum must be <= 1, got 2")
  end)
end)

describe("gd.nn.Embedding", function()
  before_each(function() gd.manual_seed(2) end)

  it("matches PyTorch with padding_idx: 1-based indices, repeated rows accumulate, the padding row gets none", function()
    -- catches 0-based indexing (another row), an overwritten gradient for the
    -- repeated index 5, and a gradient into the padding row
    local e = extra.embedding
    for _, dtype in ipairs({"float64", "float32"}) do
      local m = nn.Embedding(5, 3, {padding_idx = 2})
      if dtype == "float64" then m:double() end
      m.weight:copy_(t64(e.weight, {5, 3}))
      m:zero_grad()
      local idx = gd.tensor(e.idx, {dtype = "int64"}):view(2, 3)
      local y = m(idx)
      assert.same({2, 3, 3}, y.shape)
      local tol = dtype == "float64" and 1e-12 or 1e-5
      assert.is_true(maxdiff(y, t64(e.y, {2, 3, 3})) < tol)
      assert.is_nil(m:backward(t64(e.gy, {2, 3, 3}):to(dtype)))
      assert.is_true(maxdiff(m.weight.grad, t64(e.gweight, {5, 3})) < tol)
    end
  end)

  it("matches PyTorch with max_norm (norm_type 3) and scale_grad_by_freq", function()
    -- catches a 2-norm for norm_type 3, a renorm after the lookup (y would
    -- keep the long rows), rows renormalised that were not looked up, and
    -- gradients of repeated rows not divided by their count
    local e = extra.embedding_renorm
    for _, dtype in ipairs({"float64", "float32"}) do
      local m = nn.Embedding(6, 4, {max_norm = 1.5, norm_type = 3, scale_grad_by_freq = true})
      if dtype == "float64" then m:double() end
      m.weight:copy_(t64(e.w0, {6, 4}))
      m:zero_grad()
      local y = m(gd.tensor(e.idx, {dtype = "int64"}):view(2, 3))
      local tol = dtype == "float64" and 1e-12 or 1e-5
      assert.is_true(maxdiff(y, t64(e.y, {2, 3, 4})) < tol)
      assert.is_true(maxdiff(m.weight, t64(e.w1, {6, 4})) < tol)
      m:backward(t64(e.gy, {2, 3, 4}):to(dtype))
      assert.is_true(maxdiff(m.weight.grad, t64(e.gweight, {6, 4})) < tol)
    end
    assert.has_error(function() nn.Embedding(3, 2, {sparse = true}) end,
      "gd.nn.Embedding: sparse gradients are not supported (gdlua's gradients are dense)")
  end)

  it("backward matches gradcheck (without padding_idx, whose row deliberately gets no gradient)", function()
    assert.is_true(nn.gradcheck(nn.Embedding(6, 3), gd.tensor({{1, 3, 6}, {6, 2, 3}}, {dtype = "int64"})))
  end)

  it("initialises N(0, 1) with a zero padding row; negative padding_idx counts from the end", function()
    local m = nn.Embedding(400, 5, {padding_idx = -1})
    assert.equal(400, m.padding_idx)
    assert.equal(0, m.weight[400]:abs():max())
    local w = m.weight:narrow(1, 1, 399)
    assert.is_true(math.abs(w:mean()) < 0.1)
    assert.is_true(math.abs(w:pow(2):mean() - 1) < 0.1)
  end)

  it("names the layer and the bad index", function()
    local m = nn.Embedding(4, 2)
    assert.has_error(function() m(gd.tensor({1, 5, 2}, {dtype = "int64"})) end,
      "Embedding: index 5 (at position 2) is outside the embedding's 1..4")
    assert.has_error(function() m(gd.tensor({0}, {dtype = "int64"})) end,
      "Embedding: index 0 (at position 1) is outside the embedding's 1..4")
    assert.has_error(function() m(gd.tensor({1, 2})) end, "Embedding: the indices must be an int64 tensor, got float32")
    assert.has_error(function() nn.Embedding(4, 2, {padding_idx = 5}) end, "gd.nn.Embedding: padding_idx 5 is outside 1..4")
  end)
end)

describe("gd.nn element-wise losses against PyTorch", function()
  -- beta/delta fall between the |input - target| values, so a swapped
  -- branch, a missing 1/beta or a delta-scaled quadratic part changes the
  -- value; BCE inputs come near 0 and 1; KLDiv has a zero target entry (0,
  -- not NaN) and batchmean (divides by the batch, not the element count)
  for _, c in ipairs(extra.losses) do
    for _, dtype in ipairs({"float64", "float32"}) do
      it(c.name .. " (" .. dtype .. ")", function()
        local tol = dtype == "float64" and 1e-10 or 1e-4
        local m = assert(loadstring("local nn = ...; return nn." .. c.cls .. "(" .. (c.opts ~= "nil" and c.opts or "") .. ")"))(nn)
        local x, t = t64(c.x, c.shape):to(dtype), t64(c.t, c.shape):to(dtype)
        local v, g = m(x, t)
        if gd.is_tensor(v) then
          assert.is_true(maxdiff(v, t64(c.out, c.shape)) < tol)
        else
          assert.is_true(math.abs(v - c.out[1]) < tol * math.max(1, math.abs(c.out[1])))
        end
        assert.is_true(maxdiff(g, t64(c.g, c.shape)) < tol)
      end)
    end
  end

  it("backward matches gradcheck", function()
    gd.manual_seed(1)
    local x, t = gd.randn(4, 3), gd.randn(4, 3)
    for _, m in ipairs{nn.L1Loss(), nn.SmoothL1Loss{beta = 0.5}, nn.HuberLoss{delta = 0.7, reduction = "sum"},
                       nn.BCEWithLogitsLoss{reduction = "none"}} do
      assert.is_true(nn.gradcheck(m, x, t))
    end
    assert.is_true(nn.gradcheck(nn.KLDivLoss{reduction = "batchmean"}, x, gd.rand(4, 3)))
    assert.is_true(nn.gradcheck(nn.BCELoss(), gd.rand(4, 3) * 0.8 + 0.1, gd.rand(4, 3)))
  end)

  it("names the loss and what is wrong", function()
    assert.has_error(function() nn.BCELoss()(gd.tensor({0.5, 1.5}), gd.tensor({0, 1})) end,
      "BCELoss: the input must be probabilities in [0, 1], element 2 is 1.5")
    assert.has_error(function() nn.L1Loss()(gd.randn(4, 2), gd.randn(4, 3)) end,
      "L1Loss: the target has shape 4x3 but the input 4x2")
    assert.has_error(function() nn.HuberLoss{delta = 0} (gd.randn(2), gd.randn(2)) end)
    assert.has_error(function() nn.SmoothL1Loss{reduction = "batchmean"} end)
  end)
end)

describe("gd.nn.NLLLoss", function()
  it("matches PyTorch with class weights and ignore_index (weighted mean)", function()
    -- catches a plain mean instead of the weighted one, 0-based targets and an
    -- ignored row that still counts
    local e = extra.nll
    for _, dtype in ipairs({"float64", "float32"}) do
      local tol = dtype == "float64" and 1e-12 or 1e-5
      local loss = nn.NLLLoss{weight = gd.tensor(e.w), ignore_index = 3}
      local v, g = loss(t64(e.x, {5, 4}):to(dtype), gd.tensor(e.t, {dtype = "int64"}))
      assert.is_true(math.abs(v - e.out) < tol)
      assert.is_true(maxdiff(g, t64(e.g, {5, 4})) < tol)
    end
  end)

  it("backward matches gradcheck; bad targets are named", function()
    gd.manual_seed(4)
    local t = gd.tensor({1, 3, 2}, {dtype = "int64"})
    assert.is_true(nn.gradcheck(nn.NLLLoss{reduction = "sum"}, gd.randn(3, 3), t))
    assert.has_error(function() nn.NLLLoss()(gd.randn(3, 3), gd.tensor({1, 4, 2}, {dtype = "int64"})) end,
      "NLLLoss: target 4 (row 2) is outside the classes 1..3")
  end)
end)

describe("gd.nn.init", function()
  local init = nn.init
  before_each(function() gd.manual_seed(7) end)

  it("uses PyTorch's fans and gains: xavier and kaiming bounds and deviations", function()
    -- a 64 x 32 x 3 x 3 conv weight: fan_in = 32*9 = 288, fan_out = 64*9 = 576;
    -- catches fans without the receptive field, fan_in/fan_out swapped, or
    -- a tanh gain of 1
    local w = gd.empty(64, 32, 3, 3, {dtype = "float64"})
    init.xavier_uniform_(w, init.calculate_gain("tanh"))
    local bound = 5 / 3 * math.sqrt(6 / (288 + 576))
    assert.is_true(w:abs():max() <= bound and w:abs():max() > 0.99 * bound)
    init.kaiming_uniform_(w, 0, "fan_out", "relu")
    bound = math.sqrt(3) * math.sqrt(2) / math.sqrt(576)
    assert.is_true(w:abs():max() <= bound and w:abs():max() > 0.99 * bound)
    init.kaiming_normal_(w)   -- leaky_relu with a = 0: gain sqrt(2), fan_in
    local std = math.sqrt(w:pow(2):mean())
    assert.is_true(math.abs(std - math.sqrt(2 / 288)) < 0.03 * math.sqrt(2 / 288))
    init.xavier_normal_(w)
    std = math.sqrt(w:pow(2):mean())
    assert.is_true(math.abs(std - math.sqrt(2 / 864)) < 0.03 * math.sqrt(2 / 864))
    assert.near(math.sqrt(2 / 1.01), init.calculate_gain("leaky_relu", 0.1), 1e-15)
  end)

  it("orthogonal_ gives orthonormal rows or columns, times gain", function()
    for _, shape in ipairs({{6, 4}, {3, 2, 4}}) do
      local w = init.orthogonal_(gd.empty(shape, {dtype = "float64"}), 2)
      local m = w:view(shape[1], -1)
      local g = m:size(1) >= m:size(2) and m:t():matmul(m) or m:matmul(m:t())
      local n = g:size(1)
      for i = 1, n do for j = 1, n do assert.near(i == j and 4 or 0, g:get(i, j), 1e-12) end end
    end
  end)

  it("fills constants and refuses what has no fans", function()
    assert.equal(2.5, init.constant_(gd.empty(3), 2.5):min())
    assert.equal(0, init.zeros_(gd.ones(2, 2)):max())
    assert.equal(1, init.ones_(gd.zeros(2, 2)):min())
    assert.has_error(function() init.xavier_uniform_(gd.empty(5)) end,
      "gd.nn.init.xavier_uniform_: fan in and fan out need a tensor of 2 or more dimensions, got 1-D")
    assert.has_error(function() init.calculate_gain("relu6") end)
  end)
end)

describe("gd.nn.Unflatten", function()
  it("splits a dimension and backward restores the shape", function()
    local u = nn.Unflatten(2, {1, 8, 8})
    assert.same({3, 1, 8, 8}, u(gd.randn(3, 64)).shape)
    assert.same({3, 64}, u:backward(gd.ones(3, 1, 8, 8)).shape)
    assert.has_error(function() u(gd.randn(3, 60)) end, "Unflatten: dimension 2 has size 60, not 64 = the product of 1x8x8")
  end)
end)
