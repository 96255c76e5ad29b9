-- Specs of the optimizers papers compare against now: Lion, AdaBelief, Adan,
-- NAdamW, Schedule-Free AdamW and SGD.  Each replays spec/golden/papers_optim.lua,
-- written by scripts/golden/papers_optim.py from the optimizer's reference
-- implementation (PyTorch code run in float64), within 1e-9 relative per step.
-- Every case changes the lr after step 20 and uses eps >= 1e-3 and weight decay,
-- so the conventions the case's `catches` names would fail it.
local gd = require "gd"
local G = dofile("spec/golden/papers_optim.lua")

local function golden_grad(x, t)
  for i = 1, #G.x0 do x.grad:set(i, G.h[i] * (x:get(i) - G.c[i]) + 0.1 * math.sin(t * i)) end
end

local function rel(a, b) return math.abs(a - b) / math.max(1, math.abs(b)) end

local function check_x(x, ref, what)
  for i = 1, #G.x0 do
    local e = rel(x:get(i), ref[i])
    if e > 1e-9 then
      error(("%s: x[%d] = %.17g, reference %.17g (rel %.3g)"):format(what, i, x:get(i), ref[i], e), 2)
    end
  end
end

local function replay(case, dtype)
  local x = gd.tensor(G.x0, {dtype = dtype or "float64"})
  local opt = gd.optim[case.optimizer]({x}, case.hyper)
  local sf = case.eval_x ~= nil
  for t = 1, G.steps do
    if t == G.lr_change_after + 1 then
      opt.hyper.lr = case.new_lr
      if sf then opt:train() end
    end
    golden_grad(x, t)
    opt:step()
    if t == G.lr_change_after and sf then
      opt:eval()
      if not dtype then check_x(x, case.eval_x, "eval() point after step " .. t) end
    end
    if case.traj[t] and not dtype then check_x(x, case.traj[t], "step " .. t) end
  end
  return x, opt
end

describe("optimizers from papers", function()
  for _, case in ipairs(G.cases) do
    it(("%s matches its reference within 1e-9 per step (catches: %s)"):format(case.name, case.catches), function()
      replay(case)
    end)
  end

  it("each runs in float32 within float32 rounding of the float64 reference", function()
    for _, case in ipairs(G.cases) do
      local x = replay(case, "float32")
      local ref = case.traj[G.steps]
      for i = 1, #G.x0 do
        assert.is_true(math.abs(x:get(i) - ref[i]) < 1e-3 * math.max(1, math.abs(ref[i])), case.name)
      end
    end
  end)

  it("state_dict -> load_state_dict continues with the same bits", function()
    -- catches: per-group scalars (Schedule-Free's weight_sum and lr_max) or the
    -- fourth Adan slot lost in a checkpoint
    for _, case in ipairs(G.cases) do
      local a = gd.tensor(G.x0, {dtype = "float64"})
      local oa = gd.optim[case.optimizer]({a}, case.hyper)
      for t = 1, 7 do golden_grad(a, t); oa:step() end
      local b = a:clone()
      local ob = gd.optim[case.optimizer]({b}, case.hyper)
      ob:load_state_dict(oa:state_dict())
      for t = 8, 15 do
        golden_grad(a, t); oa:step()
        golden_grad(b, t); ob:step()
      end
      assert.are.same(a:totable(), b:totable(), case.name)
    end
  end)

  it("Adan's vectorised, threaded loop gives the bits of its scalar loop (every decay switch)", function()
    -- catches: a vector path that rounds otherwise than the scalar one (a reciprocal
    -- instead of the division, a contracted multiply-add, a reordered sum), and a
    -- switch taken per element or per thread differently.  The big tensor runs the
    -- SIMD body on 2 threads; the small one, 37 elements, only the scalar remainder.
    local m, reps = 37, 3600                     -- 133,200 elements: above the threading threshold
    local threads = gd.get_num_threads()
    gd.set_num_threads(2)
    local configs = {{}, {weight_decay = 0.05}, {weight_decay = 0.05, no_prox = true}}
    for _, dtype in ipairs({"float32", "float64"}) do
      for ci, hyper in ipairs(configs) do
        gd.manual_seed(ci)
        local small = gd.randn(m, {dtype = dtype}):mul_(3)
        small:set(1, 0); small:set(2, -0.0); small:set(3, 1e-40); small:set(4, 1e30)
        local big = small:view(1, m):expand(reps, m):contiguous():view(m * reps)
        local os_ = gd.optim.Adan({small}, hyper)
        local ob = gd.optim.Adan({big}, hyper)
        for t = 1, 4 do
          local g = gd.randn(m, {dtype = dtype})
          if t == 2 then g:set(5, 0); g:set(6, -1e-38) end
          small.grad:copy_(g)
          big.grad:copy_(g:view(1, m):expand(reps, m):contiguous():view(m * reps))
          os_:step()
          ob:step()
        end
        local want = small:view(1, m):expand(reps, m)
        assert.is_true(big:view(reps, m):equal(want), dtype .. " config " .. ci)
        local sa, sb = os_:state_dict().state[1], ob:state_dict().state[1]
        for _, k in ipairs({"exp_avg", "exp_avg_diff", "exp_avg_sq", "neg_pre_grad"}) do
          assert.is_true(sb[k]:view(reps, m):equal(sa[k]:view(1, m):expand(reps, m)), dtype .. " " .. k)
        end
      end
    end
    gd.set_num_threads(threads)
  end)

  it("Schedule-Free: eval() then train() returns to y, and step() in eval mode is refused", function()
    local case
    for _, c in ipairs(G.cases) do if c.optimizer == "AdamWScheduleFree" then case = c end end
    local x = gd.tensor(G.x0, {dtype = "float64"})
    local opt = gd.optim.AdamWScheduleFree({x}, case.hyper)
    for t = 1, 5 do golden_grad(x, t); opt:step() end
    local y = x:totable()
    opt:eval()
    assert.are_not.same(y, x:totable())
    opt:eval()                                   -- a second eval() changes nothing
    local xe = x:totable()
    local ok, err = pcall(opt.step, opt)
    assert.is_false(ok)
    assert.matches("gd.optim.AdamWScheduleFree:step: not in train mode", err)
    assert.are.same(xe, x:totable())
    opt:train()
    for i = 1, #y do assert.is_true(rel(x:get(i), y[i]) < 1e-12) end
  end)

  it("refuses bad hyperparameters with the optimizer's name", function()
    local x = gd.tensor({1, 2}, {dtype = "float64"})
    local bad = {
      {"Adan", {betas = {0.9, 0.9}}, "betas must be a table of three numbers"},
      {"Adan", {betas = {0.9, 0.9, 1.5}}, "betas%[3%] = 1.5 is outside %[0, 1%)"},
      {"SGDScheduleFree", {momentum = 0}, "momentum must be in %(0, 1%)"},
      {"AdamWScheduleFree", {warmup_steps = 2.5}, "warmup_steps must be an integer >= 0"},
      {"Lion", {lr = -1}, "lr must be a finite number >= 0"},
      {"AdaBelief", {rectify = "yes"}, "rectify must be true or false"},
      {"Lion", {eps = 1e-8}, "Lion"},
    }
    for _, b in ipairs(bad) do
      local ok, err = pcall(gd.optim[b[1]], {x}, b[2])
      assert.is_false(ok, b[3])
      assert.matches("gd.optim." .. b[1], err)
      assert.matches(b[3], err)
    end
  end)
end)
