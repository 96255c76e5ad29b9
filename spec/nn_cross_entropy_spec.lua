-- gd.nn.CrossEntropyLoss with weight, ignore_index, label_smoothing and
-- probability targets (issue 14) against PyTorch 1.13's cross_entropy
-- (spec/golden/nn_cross_entropy.lua, from scripts/golden/nn_cross_entropy.py):
-- the loss and its gradient in float64 within 1e-10, float32 within 1e-5;
-- finite differences; 1-based ignore_index; bad input.
local gd = rawget(_G, "gd") or require "gd"
local nn = gd.nn

local golden = dofile("spec/golden/nn_cross_entropy.lua")
local R, K = golden.rows, golden.classes

local function maxdiff(a, b) return (a:to("float64") - b:to("float64")):abs():max() end

local function make(g, dtype)
  local W = gd.tensor(golden.weight, {dtype = dtype})
  local opts = assert(loadstring("local W = ...; return " .. g.opts))(W)
  return nn.CrossEntropyLoss(opts)
end

local function replay(g, dtype, tol)
  local loss = make(g, dtype)
  local x = gd.tensor(g.x, {dtype = "float64"}):view(R, K):to(dtype)
  local t
  if g.prob == 1 then t = gd.tensor(g.t, {dtype = dtype}):view(R, K)
  else t = gd.tensor(g.t, {dtype = "int64"}) end
  local out, grad = loss(x, t)
  if type(out) == "number" then
    assert.is_true(math.abs(out - g.out[1]) < tol, g.name .. ": loss")
  else
    assert.is_true(maxdiff(out, gd.tensor(g.out, {dtype = "float64"})) < tol, g.name .. ": losses")
  end
  assert.is_true(maxdiff(grad, gd.tensor(g.g, {dtype = "float64"}):view(R, K)) < tol, g.name .. ": gradient")
end

describe("gd.nn.CrossEntropyLoss against PyTorch", function()
  -- A weighted mean divided by the row count, ignored rows left in the
  -- divisor, smoothing that forgets the class weights or spreads eps over
  -- C - 1 classes, ignore_index taken 0-based, or probability targets divided
  -- by their weights gives other numbers here.
  for _, g in ipairs(golden.cases) do
    it(g.name .. " (float64, 1e-10)", function() replay(g, "float64", 1e-10) end)
    it(g.name .. " (float32, 1e-5)", function() replay(g, "float32", 1e-5) end)
  end

  it("backward matches finite differences with every option", function()
    gd.manual_seed(4)
    local W = gd.tensor({1, 0.3, 2, 1.5})
    local x = gd.randn(5, 4)
    local t = gd.tensor({1, 4, -100, 2, 4}, {dtype = "int64"})
    assert.is_true(nn.gradcheck(nn.CrossEntropyLoss{weight = W, label_smoothing = 0.2}, x, t))
    local t4 = gd.tensor({1, 4, 3, 2, 4}, {dtype = "int64"})
    assert.is_true(nn.gradcheck(nn.CrossEntropyLoss{ignore_index = 4, reduction = "none"}, x, t4))
    local p = gd.rand(5, 4)
    assert.is_true(nn.gradcheck(nn.CrossEntropyLoss{weight = W, label_smoothing = 0.1}, x, p))
  end)

  it("without options still equals log-softmax + NLL (the earlier behaviour)", function()
    local x = gd.tensor({{1, 2, 3}, {0, -1, 4}}, {dtype = "float64"})
    local err = nn.CrossEntropyLoss()(x, gd.tensor({3, 1}, {dtype = "int64"}))
    local function lse(a, b, c) return math.log(math.exp(a) + math.exp(b) + math.exp(c)) end
    local want = ((lse(1, 2, 3) - 3) + (lse(0, -1, 4) - 0)) / 2   -- by hand
    assert.is_true(math.abs(err - want) < 1e-14)
  end)

  it("every row ignored gives NaN for the mean, as PyTorch (0/0)", function()
    local err, grad = nn.CrossEntropyLoss{ignore_index = 2}(gd.randn(2, 3), gd.tensor({2, 2}, {dtype = "int64"}))
    assert.is_true(err ~= err)
    assert.equal(0, grad:abs():max())
  end)
end)

describe("gd.nn.CrossEntropyLoss: bad input", function()
  it("names the loss and what is wrong", function()
    local x = gd.randn(3, 4)
    assert.has_error(function() nn.CrossEntropyLoss{label_smoothing = 1.5} end,
      "gd.nn.CrossEntropyLoss: label_smoothing = 1.5 is not in [0, 1]")
    assert.has_error(function() nn.CrossEntropyLoss{weight = 3} end,
      "gd.nn.CrossEntropyLoss: weight must be a 1-D tensor (one value per class)")
    assert.has_error(function() nn.CrossEntropyLoss{weight = gd.ones(3)}(x, gd.tensor({1, 2, 3}, {dtype = "int64"})) end,
      "CrossEntropyLoss: the weight must be 4 float32 values (one per class), got 3")
    assert.has_error(function() nn.CrossEntropyLoss()(x, gd.tensor({1, 5, 3}, {dtype = "int64"})) end,
      "CrossEntropyLoss: target 5 (row 2) is not a class in 1..4")
    -- 0 is no class in 1-based terms (PyTorch's class 0 is class 1 here)
    assert.has_error(function() nn.CrossEntropyLoss()(x, gd.tensor({1, 0, 3}, {dtype = "int64"})) end,
      "CrossEntropyLoss: target 0 (row 2) is not a class in 1..4")
    assert.has_error(function() nn.CrossEntropyLoss()(x, gd.rand(3, 5)) end,
      "CrossEntropyLoss: the target must hold int64 class indices (1-based) or probabilities of the input's shape 3x4, got float32 3x5")
    assert.has_error(function() nn.CrossEntropyLoss{ignore_index = 1}(x, gd.rand(3, 4)) end,
      "CrossEntropyLoss: ignore_index applies to class-index targets, not to probabilities")
    assert.has_error(function() nn.CrossEntropyLoss{ignore_index = 1.5} end)
  end)
end)
