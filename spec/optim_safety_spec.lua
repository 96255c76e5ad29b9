-- Specs of the optimizers' safety (issue 10, items 1, 2, 11, 12, 13, 16 and two
-- of 23): parameters that change size or share memory, steps and state dicts
-- that fail half-way, infinite hyperparameters and impossible loaded steps.
-- Every refusal is checked to leave parameters, state, step and
-- hyperparameters exactly as they were.  Each `it` says which defect of the
-- code before these fixes it catches.
local gd = require "gd"
local ffi = require "ffi"
local H = require "spec.support.tensor_helpers"

--- Everything an optimizer could change: its state (cloned), step and lr.
local function snapshot(opt)
  local sd = opt:state_dict()
  local state = {}
  for i, s in pairs(sd.state) do
    state[i] = {}
    for k, v in pairs(s) do state[i][k] = gd.is_tensor(v) and v:totable() or v end
  end
  return {state = state, steps = opt:steps(), lr = opt.hyper.lr}
end

local function same_snapshot(a, b)
  assert.are.same(a.state, b.state)
  assert.are.equal(a.steps, b.steps)
  assert.are.equal(a.lr, b.lr)
end

describe("a parameter that changes size (item 1)", function()
  -- Catches: offsets fixed at creation with only the group's total size
  -- checked.  a (3) and b (5) swap sizes, the total stays 8, and the old step
  -- ran a's 5 elements from a 3-element offset past the state arena.
  it("is refused once the optimizer has state, and nothing changes", function()
    local a, b = gd.tensor({1, 2, 3}), gd.tensor({1, 2, 3, 4, 5})
    a.grad, b.grad = gd.ones(3), gd.ones(5)
    local opt = gd.optim.Adam({a, b}, {lr = 0.1})
    opt:step()
    local before = snapshot(opt)
    local na, nb = gd.tensor({10, 20, 30, 40, 50}), gd.tensor({7, 8, 9})
    a:set_(na)
    b:set_(nb)
    a.grad, b.grad = gd.ones(5), gd.ones(3)
    H.raises(function() opt:step() end,
      "gd.optim.Adam:step: parameter 1 has 5 elements but its optimizer state was made for 3")
    H.same(a, {10, 20, 30, 40, 50})
    H.same(b, {7, 8, 9})
    -- back to their sizes, the state reads again and is what it was
    a:set_(gd.tensor({1, 2, 3}))
    b:set_(gd.tensor({1, 2, 3, 4, 5}))
    same_snapshot(before, snapshot(opt))
  end)

  -- Catches the same stale offsets before any state exists: the old step
  -- accepted the swap (same total) and laid a's 5-element state over b's.
  -- Adam's first step, by hand: m = (1-b1) g, v = (1-b2) g^2, and
  -- p -= lr * g / (|g| + eps) since both bias corrections cancel.
  it("is laid out anew while the optimizer has no state", function()
    local a, b = gd.zeros(3, {dtype = "float64"}), gd.zeros(5, {dtype = "float64"})
    local opt = gd.optim.Adam({a, b}, {lr = 0.1})
    a:set_(gd.zeros(5, {dtype = "float64"}))
    b:set_(gd.zeros(3, {dtype = "float64"}))
    a.grad = gd.tensor({1, 2, 3, 4, 5}, {dtype = "float64"})
    b.grad = gd.tensor({10, 20, 30}, {dtype = "float64"})
    opt:step()
    local sd = opt:state_dict()
    H.close(sd.state[1].exp_avg, {0.1, 0.2, 0.3, 0.4, 0.5}, 1e-12)
    H.close(sd.state[2].exp_avg, {1, 2, 3}, 1e-12)
    H.close(sd.state[1].exp_avg_sq, {0.001, 0.004, 0.009, 0.016, 0.025}, 1e-12)
    H.close(sd.state[2].exp_avg_sq, {0.1, 0.4, 0.9}, 1e-12)
    H.close(a, {-0.1, -0.1, -0.1, -0.1, -0.1}, 1e-9)
    H.close(b, {-0.1, -0.1, -0.1}, 1e-9)
  end)
end)

describe("a parameter whose strides change under its optimizer (item 1's layout cache)", function()
  -- Catches: the layout cache keyed on address and size only, so a set_ that
  -- made a dense parameter a strided view of the same memory (same address,
  -- same count) kept the dense run and paired gradient element k with memory
  -- element k instead of with its own element.
  it("pairs every gradient element with its own parameter element", function()
    local p = gd.zeros(2, 3, {dtype = "float64"})
    p.grad = gd.zeros(2, 3, {dtype = "float64"})
    local opt = gd.optim.SGD({p}, {lr = 1})
    opt:step()
    p:set_(p, 1, {2, 3}, {1, 2}) -- element (r, c) now at memory r + 2c (0-based)
    p.grad:copy_(gd.tensor({{1, 2, 3}, {4, 5, 6}}, {dtype = "float64"}))
    opt:step()
    H.same(p, {{-1, -2, -3}, {-4, -5, -6}})
  end)
end)

describe("the state of a parameter that grew (item 2)", function()
  -- Catches: state_dict() returning 100-element views of a 3-element state
  -- (foreign memory), because the views were made without bounds.
  it("is not returned by state_dict()", function()
    local a = gd.tensor({1, 2, 3})
    a.grad = gd.ones(3)
    local opt = gd.optim.Adam({a}, {lr = 0.1})
    opt:step()
    local keep = a:clone()
    a:set_(gd.zeros(100))
    a.grad = gd.ones(100)
    H.raises(function() opt:state_dict() end,
      "gd.optim.Adam:state_dict: parameter 1 has 100 elements but its optimizer state was made for 3")
    a:set_(keep)
    assert.are.equal(3, opt:state_dict().state[1].exp_avg:numel())
  end)

  -- Catches: load_state_dict writing 100 elements into a 3-element state
  -- (SIGSEGV), and changing lr before it failed.
  it("is not written by load_state_dict, and nothing changes", function()
    local a = gd.tensor({1, 2, 3})
    a.grad = gd.ones(3)
    local opt = gd.optim.Adam({a}, {lr = 0.1})
    opt:step()
    local before = snapshot(opt)
    local keep = a:clone()
    a:set_(gd.zeros(100))
    a.grad = gd.ones(100)
    local sd = {state = {{step = 1, exp_avg = gd.ones(100), exp_avg_sq = gd.ones(100)}},
                param_groups = {{params = {1}, lr = 0.5}}}
    H.raises(function() opt:load_state_dict(sd) end,
      "gd.optim.Adam:load_state_dict: parameter 1 has 100 elements but its optimizer state was made for 3")
    a:set_(keep)
    same_snapshot(before, snapshot(opt))
  end)
end)

describe("a gradient that shares memory with a parameter (item 11)", function()
  -- Catches: the gradient p[3..10] of p[1..8] (same storage, offset 2) went
  -- into `restrict` loops: the result depended on the SIMD width.
  it("is refused, at its parameter or at another, and nothing changes", function()
    local base = gd.arange(1, 11)
    local p = base:narrow(1, 1, 8)
    p.grad = base:narrow(1, 3, 8)
    local opt = gd.optim.SGD({p}, {lr = 0.1, momentum = 0.9})
    H.raises(function() opt:step() end,
      "gd.optim.SGD:step: the gradient of parameter 1 shares memory with the parameter")
    H.same(base, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
    assert.is_nil(opt:state_dict().state[1].momentum_buffer)

    local w, b = gd.zeros(4), gd.zeros(2)
    w.grad, b.grad = gd.ones(4), w:narrow(1, 2, 2)
    local opt2 = gd.optim.SGD({w, b}, {lr = 0.1})
    H.raises(function() opt2:step() end,
      "gd.optim.SGD:step: the gradient of parameter 2 shares memory with parameter 1")
    H.same(w, {0, 0, 0, 0})
  end)

  -- Not a defect: guards the check against refusing too much.  Two columns
  -- of one matrix interleave in memory without sharing an element, and a
  -- gradient read by two parameters is only read.
  it("accepts interleaved views and a shared gradient, and updates them right", function()
    local W = gd.tensor({{1, 2}, {3, 4}, {5, 6}})
    local c1, c2 = W:select(2, 1), W:select(2, 2)
    local g = gd.tensor({10, 20, 30})
    c1.grad, c2.grad = g, g
    gd.optim.SGD({c1, c2}, {lr = 0.1}):step()
    H.close(W, {{0, 1}, {1, 2}, {2, 3}})
  end)
end)

describe("a parameter updated twice (item 12)", function()
  -- Catches: the same tensor in two groups was updated by both groups'
  -- steps; PyTorch refuses it with this message.  The refusal gives no
  -- parameter a zero gradient either (the old code did that first).
  it("in two groups is refused, as PyTorch does", function()
    local w, v = gd.zeros(3), gd.zeros(2)
    H.raises(function() gd.optim.SGD({{params = {v, w}}, {params = {w}}}, {lr = 0.1}) end,
      "gd.optim.SGD: some parameters appear in more than one parameter group (parameter 1 of group 2 is "
      .. "parameter 2 of group 1)")
    assert.is_nil(w.grad)
    assert.is_nil(v.grad)
  end)

  -- Catches: two views of one memory (here overlapping by two elements) in one
  -- group or in two were both updated.
  it("as two views of one memory is refused, in one group or two", function()
    local base = gd.zeros(5)
    local p1, p2 = base:narrow(1, 1, 3), base:narrow(1, 2, 3)
    H.raises(function() gd.optim.SGD({p1, p2}, {lr = 0.1}) end,
      "gd.optim.SGD: parameters 1 and 2 share memory (views of one tensor)")
    H.raises(function() gd.optim.Adam({{params = {p1}}, {params = {p2}}}) end,
      "gd.optim.Adam: parameter 1 of group 1 and parameter 1 of group 2 share memory")
  end)

  -- Catches: a set_ after construction made two parameters one memory; the
  -- old step updated it twice (x -= 2 lr g).
  it("after set_ is refused at the next step, and nothing changes", function()
    local a, b = gd.zeros(3), gd.zeros(3)
    a.grad, b.grad = gd.ones(3), gd.ones(3)
    local opt = gd.optim.SGD({a, b}, {lr = 0.1})
    opt:step()
    b:set_(a)
    H.raises(function() opt:step() end, "gd.optim.SGD:step: parameters 1 and 2 share memory")
    H.close(a, {-0.1, -0.1, -0.1})
    assert.are.equal(1, opt:steps())
  end)
end)

describe("a failed operation (item 13)", function()
  -- Catches: a parameter made an expanded view (stride 0) failed only at the
  -- write-back, after the momentum buffer had been updated.
  it("a step refused for an expanded parameter leaves the momentum buffer as it was", function()
    local base = gd.zeros(4)
    local p = base:narrow(1, 1, 4)
    p.grad = gd.tensor({1, 2, 3, 4})
    local opt = gd.optim.SGD({p}, {lr = 0.1, momentum = 0.9})
    opt:step()
    local before = snapshot(opt)
    p:set_(base, 1, {4}, {0})
    H.raises(function() opt:step() end,
      "gd.optim.SGD:step: parameter 1 is an expanded (or self-overlapping) view")
    H.close(base, {-0.1, -0.2, -0.3, -0.4})
    same_snapshot(before, snapshot(opt))
  end)

  -- Catches: a string step failed in an FFI conversion (a message naming no
  -- gd function) after lr had been set and the state overwritten.
  it("a load_state_dict with a string step changes nothing", function()
    local x = gd.tensor({1, 2})
    x.grad = gd.ones(2)
    local opt = gd.optim.Adam({x}, {lr = 0.1})
    opt:step()
    local before = snapshot(opt)
    local sd = {state = {{step = "5", exp_avg = gd.full({2}, 7), exp_avg_sq = gd.full({2}, 7)}},
                param_groups = {{params = {1}, lr = 0.5}}}
    H.raises(function() opt:load_state_dict(sd) end,
      "gd.optim.Adam:load_state_dict: the step of parameter 1 must be a number, got string")
    same_snapshot(before, snapshot(opt))
  end)

  -- Catches: group 1's hyperparameters were set before group 2's were found
  -- bad.
  it("a load_state_dict refused in its last group changes no group", function()
    local a, b = gd.zeros(2), gd.zeros(2)
    local opt = gd.optim.SGD({{params = {a}}, {params = {b}}}, {lr = 0.1})
    local sd = opt:state_dict()
    sd.param_groups[1].lr = 0.5
    sd.param_groups[2].momentum = -1
    H.raises(function() opt:load_state_dict(sd) end, "momentum must be >= 0, got -1")
    assert.are.equal(0.1, opt.param_groups[1].hyper.lr)
    assert.are.equal(0, opt.param_groups[2].hyper.momentum)
  end)

  -- Catches: a state_dict() that was never saved holds views of the live
  -- state; loaded into its optimizer in another order (here the two
  -- parameters' states trade places), the old code wrote parameter 1's
  -- buffer before reading it as parameter 2's source (both ended {3, 4}).
  it("a load_state_dict from live views of the state reads them first", function()
    local a, b = gd.zeros(2, {dtype = "float64"}), gd.zeros(2, {dtype = "float64"})
    a.grad = gd.tensor({1, 2}, {dtype = "float64"})
    b.grad = gd.tensor({3, 4}, {dtype = "float64"})
    local opt = gd.optim.SGD({a, b}, {lr = 0.1, momentum = 0.9})
    opt:step() -- the buffers start as the gradients
    local sd = opt:state_dict()
    sd.param_groups[1].params = {2, 1}
    opt:load_state_dict(sd)
    local after = opt:state_dict().state
    H.same(after[1].momentum_buffer, {3, 4})
    H.same(after[2].momentum_buffer, {1, 2})
  end)
end)

describe("impossible hyperparameters and steps (item 16)", function()
  -- Catches: inf passed validation for every ">= 0" hyperparameter (and the
  -- free-form numbers); one step then turned the parameters into inf/NaN.
  it("an infinite hyperparameter is refused, at construction and through opt.hyper", function()
    local x = gd.zeros(2)
    local cases = {
      {"SGD", "momentum", "momentum must be finite, got inf"},
      {"SGD", "weight_decay", "weight_decay must be finite, got inf"},
      {"SGD", "dampening", "dampening must be finite, got inf"},
      {"Adam", "eps", "eps must be finite, got inf"},
      {"AdaGrad", "lr_decay", "lr_decay must be finite, got inf"},
      {"AdaGrad", "initial_accumulator_value", "initial_accumulator_value must be finite, got inf"},
    }
    for _, c in ipairs(cases) do
      H.raises(function() gd.optim[c[1]]({x}, {lr = 0.1, [c[2]] = math.huge}) end, "gd.optim." .. c[1] .. ": " .. c[3])
      local opt = gd.optim[c[1]]({x}, {lr = 0.1})
      H.raises(function() opt.hyper[c[2]] = math.huge end, c[3])
    end
    H.raises(function() gd.optim.RMSProp({x}, {flavor = "downhill", rms_halflife = math.huge}) end,
      "rms_halflife must be a finite number > 0, got inf")
    H.raises(function() gd.optim.RMSProp({x}, {flavor = "mxnet", rescale_grad = -math.huge}) end,
      "rescale_grad must be finite, got -inf")
  end)

  -- Catches: a loaded step of -5 became 0, 2.5 became 2, NaN and 2^70 went
  -- through an undefined conversion, all silently.
  it("a loaded step that is negative, fractional, NaN or too large is refused", function()
    local x = gd.tensor({1, 2})
    x.grad = gd.ones(2)
    local opt = gd.optim.Adam({x}, {lr = 0.1})
    opt:step()
    local before = snapshot(opt)
    local cases = {{-5, "must be >= 0, got -5"}, {2.5, "must be an integer, got 2.5"}, {0 / 0, "is NaN"},
                   {2 ^ 70, "must be at most 2^53"}, {math.huge, "must be finite, got inf"}}
    for _, c in ipairs(cases) do
      local sd = opt:state_dict()
      sd.state[1].step = c[1]
      sd.param_groups[1].lr = 0.5
      H.raises(function() opt:load_state_dict(sd) end, "gd.optim.Adam:load_state_dict: the step of parameter 1 " .. c[2])
      same_snapshot(before, snapshot(opt))
    end
  end)

  -- Not a defect: a whole step loads exactly and the next step continues
  -- from it.  Adam's step 8 by hand from m = 0.5, v = 0.25, g = 1:
  -- m' = 0.9*0.5 + 0.1 = 0.55, v' = 0.999*0.25 + 0.001 = 0.25075,
  -- p = 1 - 0.1 * (m'/(1-0.9^8)) / (sqrt(v'/(1-0.999^8)) + 1e-8).
  it("a whole step loads, and the next step's bias correction uses it", function()
    local x = gd.tensor({1}, {dtype = "float64"})
    x.grad = gd.tensor({1}, {dtype = "float64"})
    local opt = gd.optim.Adam({x}, {lr = 0.1})
    opt:load_state_dict({state = {{step = 7, exp_avg = gd.tensor({0.5}), exp_avg_sq = gd.tensor({0.25})}},
                         param_groups = {{params = {1}}}})
    assert.are.equal(7, opt:steps())
    opt:step()
    local m, v = 0.55, 0.25075
    local want = 1 - 0.1 * (m / (1 - 0.9 ^ 8)) / (math.sqrt(v / (1 - 0.999 ^ 8)) + 1e-8)
    assert.is_true(math.abs(x:get(1) - want) < 1e-12, tostring(x:get(1)) .. " vs " .. want)
  end)

  -- Catches: the state entries of one group disagreeing on their step were
  -- loaded as the first one's, silently (PyTorch keeps one count per
  -- parameter; so does gdlua since autograd skips parameters).  Adam's first
  -- moments from zero with g = 1: m = 0.1, v = 0.001, and each parameter's
  -- bias correction is its own step's: p = -0.1 * (m/(1-0.9^t)) / (sqrt(v/(1-0.999^t)) + 1e-8).
  it("steps that differ within a group load per parameter", function()
    local a, b = gd.zeros(1, {dtype = "float64"}), gd.zeros(1, {dtype = "float64"})
    local opt = gd.optim.Adam({a, b}, {lr = 0.1})
    a.grad:fill_(1); b.grad:fill_(1)
    opt:load_state_dict({state = {{step = 3}, {step = 4}}, param_groups = {{params = {1, 2}}}})
    assert.are.equal(4, opt:steps())
    opt:step()
    local function want(t) return -0.1 * (0.1 / (1 - 0.9 ^ t)) / (math.sqrt(0.001 / (1 - 0.999 ^ t)) + 1e-8) end
    assert.is_true(math.abs(a:get(1) - want(4)) < 1e-12, a:get(1) .. " vs " .. want(4))
    assert.is_true(math.abs(b:get(1) - want(5)) < 1e-12, b:get(1) .. " vs " .. want(5))
    local sd = opt:state_dict()
    assert.are.equal(4, sd.state[1].step)
    assert.are.equal(5, sd.state[2].step)
  end)
end)

describe("messages that named no gd function (item 23)", function()
  -- Catches: gd.optim.Adam({}) was read as an empty PuzzleLib hyper table and
  -- built an optimizer that failed only at step ("call setupOn(net) first").
  -- PyTorch: "optimizer got an empty parameter list".
  it("gd.optim.Adam({}) is an empty parameter list; gd.optim.Adam() is PuzzleLib's shape", function()
    H.raises(function() gd.optim.Adam({}) end, "gd.optim.Adam: optimizer got an empty parameter list")
    H.raises(function() gd.optim.SGD({}, {lr = 0.1}) end, "gd.optim.SGD: optimizer got an empty parameter list")
    local x = gd.zeros(2)
    x.grad = gd.ones(2)
    local opt = gd.optim.Adam()
    opt:setupOn({x})
    opt:step()
    H.close(x, {-0.001, -0.001})
  end)

  -- Catches: a NULL cdata compares equal to nil in LuaJIT, so check.number
  -- gave it the default (and check.options took it for no options).
  it("a NULL cdata does not pass for a missing number or options table", function()
    local null = ffi.cast("void *", nil)
    H.raises(function() gd.allclose(gd.zeros(2), gd.zeros(2), null) end,
      "gd.allclose: rtol must be a number, got cdata")
    local ok, err = pcall(gd.nn.Linear, 2, 3, null)
    assert.is_false(ok)
    assert.matches("gd.nn.Linear: options must be a table, got cdata", tostring(err), 1, true)
  end)
end)
