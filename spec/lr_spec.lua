-- Specs of gd.optim.lr: every schedule's lr sequence (and the momentum that
-- CyclicLR / OneCycleLR cycle) against PyTorch 1.13's lr_scheduler
-- (scripts/golden/torch_optim_more.py -> spec/golden/torch_optim_more.lua):
-- two groups with their own lr, two schedules on one optimizer, manual lr
-- changes between steps, fractional epochs; then LambdaLR's edge cases and bad input.
local gd = require "gd"
local fmt = string.format

local G = dofile("spec/golden/torch_optim_more.lua")
local L = gd.optim.lr

-- the lambdas of the generator, written the same
local LAMBDAS = {
  lam = function(e) return 0.5 + 0.1 * e end,
  mul_lam = function(e) return e % 2 == 1 and 0.9 or 1.05 end,
}

local function make_opt(kind)
  local p1, p2 = gd.zeros(1), gd.zeros(1)
  if kind == "Adam" then
    return gd.optim.Adam({{params = {p1}}, {params = {p2}, lr = 0.02}}, {lr = 0.1, betas = {0.9, 0.99}})
  end
  return gd.optim.SGD({{params = {p1}}, {params = {p2}, lr = 0.02}}, {lr = 0.1, momentum = 0.9})
end

local function opts_of(o)
  local r = {}
  for k, v in pairs(o) do r[k] = LAMBDAS[v] or v end
  return r
end

local function build(opt, spec)
  local function one(entry)
    local name, o = next(entry)
    return L[name](opt, opts_of(o))
  end
  local head = next(spec[1])
  if head == "SequentialLR" then
    local subs = {}
    for i = 2, #spec do subs[#subs + 1] = one(spec[i]) end
    return {L.SequentialLR(opt, subs, spec[1].SequentialLR.milestones)}
  elseif head == "ChainedScheduler" then
    local subs = {}
    for i = 2, #spec do subs[#subs + 1] = one(spec[i]) end
    return {L.ChainedScheduler(subs)}
  end
  local list = {}
  for i, e in ipairs(spec) do list[i] = one(e) end
  return list
end

local function record(opt, n)
  local r = {}
  for i, g in ipairs(opt.param_groups) do r[i] = g.hyper.lr end
  if n > 2 then
    for i, g in ipairs(opt.param_groups) do r[2 + i] = g.hyper.betas and g.hyper.betas[1] or g.hyper.momentum end
  end
  return r
end

describe("schedules against PyTorch 1.13's lr_scheduler", function()
  for _, case in ipairs(G.schedules) do
    -- catches closed forms used where PyTorch chains (and the reverse), the
    -- first step missing at construction, base lrs shared between groups,
    -- momentum not cycled, SequentialLR's restart at 0, CosineAnnealingWarm-
    -- Restarts' restart arithmetic with fractional epochs
    it("gives " .. case.name .. "'s lr sequence", function()
      local opt = make_opt(case.optimizer)
      local scheds = build(opt, case.spec)
      local n = #case.records[1]
      local function compare(k)
        local mine, ref = record(opt, n), case.records[k]
        for i = 1, n do
          if math.abs(mine[i] - ref[i]) > 1e-12 * math.max(1, math.abs(ref[i])) then
            error(fmt("record %d value %d: %.17g, PyTorch %.17g", k, i, mine[i], ref[i]))
          end
        end
      end
      compare(1)
      for k, op in ipairs(case.ops) do
        if op == "step" then
          for _, s in ipairs(scheds) do s:step() end
        elseif op[1] == "step_epoch" or op[1] == "metric" then
          for _, s in ipairs(scheds) do s:step(op[2]) end
        elseif op[1] == "set_lr" then
          opt.param_groups[1].hyper.lr = op[2]
        end
        compare(k + 1)
      end
    end)
  end
end)

describe("schedule edge cases", function()
  local function sgd(lr) return gd.optim.SGD({gd.zeros(1)}, {lr = lr}) end
  it("LambdaLR applies lr_lambda(0) at construction, as PyTorch does", function()
    -- catches the old behaviour (lr left at base until the first step)
    local opt = sgd(1)
    L.LambdaLR(opt, {lr_lambda = function(e) return 0.25 + e end})
    assert.are.equal(0.25, opt.hyper.lr)
  end)
  it("a LambdaLR lambda that fails or returns a non-number is a gd error, changing nothing", function()
    local opt = sgd(1)
    local s = L.LambdaLR(opt, {lr_lambda = function(e)
      if e == 2 then error("boom") end
      if e == 3 then return "x" end
      return 1
    end})
    s:step()
    local ok1, err1 = pcall(s.step, s)
    assert.is_false(ok1)
    assert.matches("gd.optim.lr.LambdaLR: lr_lambda failed at epoch 2: spec/lr_spec.lua:%d+: boom", err1)
    assert.are.equal(1, s.last_epoch)
    assert.are.equal(1, opt.hyper.lr)
    local ok, err = pcall(L.LambdaLR, sgd(1), {lr_lambda = function() return 0 / 0 end})
    assert.is_false(ok)
    assert.matches("gd.optim.lr.LambdaLR: lr_lambda returned NaN at epoch 0", err, 1, true)
    assert.has_error(function() L.LambdaLR(sgd(1), {lr_lambda = 3}) end,
      "gd.optim.lr.LambdaLR: lr_lambda must be a function of the epoch (or one per group), got number")
    local neg = L.LambdaLR(sgd(1), {lr_lambda = function(e) return e == 1 and -1 or 1 end})
    assert.has_error(function() neg:step() end, "gd.optim.lr.LambdaLR: the schedule gave lr -1 for group 1 at epoch 1")
  end)
  it("errors point at the caller's line", function()
    local ok, err = pcall(function() L.StepLR(sgd(1), {step_size = 0}) end)
    assert.is_false(ok)
    assert.matches("^spec/lr_spec.lua:%d+: gd.optim.lr.StepLR: step_size must be >= 1, got 0", err)
    assert.has_error(function() L.StepLR(sgd(1), {step_size = 1, gama = 0.5}) end)
    assert.has_error(function() L.CyclicLR(gd.optim.Adam({gd.zeros(1)}), {base_lr = 0.1, max_lr = 1}) end,
      "gd.optim.lr.CyclicLR: optimizer must support momentum with `cycle_momentum` option enabled")
  end)
  it("OneCycleLR refuses to step past total_steps", function()
    local s = L.OneCycleLR(gd.optim.SGD({gd.zeros(1)}, {lr = 1, momentum = 0.9}), {max_lr = 1, total_steps = 3})
    s:step(); s:step(); s:step()
    assert.has_error(function() s:step() end,
      "gd.optim.lr.OneCycleLR: tried to step 5 times; the specified number of total steps is 3")
  end)
  it("state_dict / load_state_dict resume a schedule", function()
    local o1, o2 = sgd(1), sgd(1)
    local a = L.CosineAnnealingWarmRestarts(o1, {T_0 = 3, T_mult = 2})
    for _ = 1, 4 do a:step() end
    local b = L.CosineAnnealingWarmRestarts(o2, {T_0 = 3, T_mult = 2})
    b:load_state_dict(a:state_dict())
    o2.hyper.lr = o1.hyper.lr
    a:step(); b:step()
    assert.are.equal(o1.hyper.lr, o2.hyper.lr)
    assert.are.equal(a.T_i, b.T_i)
  end)
end)
