-- Specs of the rest of torch.optim: Adamax, ASGD, NAdam, RAdam, Rprop (fused C
-- steps) and LBFGS, replayed against trajectories that PyTorch 1.13's own
-- torch.optim wrote (scripts/golden/torch_optim_more.py ->
-- spec/golden/torch_optim_more.lua), in float64 within 1e-9; plus state_dict
-- round trips, add_param_group and bad input.
local gd = require "gd"

local fmt = string.format

local G = dofile("spec/golden/torch_optim_more.lua")

local function grad_at(x, t)
  for i = 1, #G.x0 do x.grad:set(i, G.h[i] * (x:get(i) - G.c[i]) + 0.1 * math.sin(t * i)) end
end

local function rel(a, b) return math.abs(a - b) / math.max(1, math.abs(b)) end

local function worst(x, ref)
  local w = 0
  for i = 1, #ref do w = math.max(w, rel(x:get(i), ref[i])) end
  return w
end

local function describe_case(case)
  local parts = {}
  for k, v in pairs(case.hyper) do
    parts[#parts + 1] = k .. "=" .. (type(v) == "table" and "{" .. table.concat(v, ",") .. "}" or tostring(v))
  end
  table.sort(parts)
  local s = case.torch .. " " .. table.concat(parts, " ")
  if case.lr_change then s = s .. fmt(" (lr %g after step %d)", case.lr_change[2], case.lr_change[1]) end
  return s
end

--- Runs a golden case for `upto` steps from `opt` (or a new optimizer).
local function replay(case, dtype, opt, x, from, upto)
  x = x or gd.tensor(G.x0, {dtype = dtype})
  opt = opt or gd.optim[case.torch]({x}, case.hyper)
  local errs = {}
  for t = from or 1, upto or G.steps do
    grad_at(x, t)
    opt:step()
    if case.traj[t] then errs[#errs + 1] = {t, worst(x, case.traj[t])} end
    if case.lr_change and t == case.lr_change[1] then opt.hyper.lr = case.lr_change[2] end
  end
  return errs, opt, x
end

describe("golden torch_optim_more.lua (PyTorch 1.13's torch.optim, float64)", function()
  for _, case in ipairs(G.cases) do
    -- catches any departure from PyTorch's update order, defaults or edge
    -- behaviour: eps placement (Adamax's |g| + eps inside the max), the lr
    -- change reaching ASGD's eta one step late and never Rprop's step sizes,
    -- NAdam's 1.13 mu product, RAdam's switch to the rectified step
    it("matches " .. describe_case(case), function()
      local errs, opt = replay(case, "float64")
      for _, e in ipairs(errs) do
        if e[2] > 1e-9 then error(fmt("step %d: relative error %.3g", e[1], e[2])) end
      end
      -- and the state PyTorch holds after the last step
      local st = opt:state_dict().state[1]
      for name, ref in pairs(case.state) do
        local mine = st[name]
        assert.is_not_nil(mine, name)
        if type(ref) == "number" then
          assert.is_true(rel(mine, ref) < 1e-9, fmt("%s: %.17g vs %.17g", name, mine, ref))
        else
          assert.is_true(worst(mine, ref) < 1e-9, name)
        end
      end
    end)
  end

  it("float32 parameters follow the float64 trajectory to float32 accuracy", function()
    -- the float loops run the same math: a wrong float32 kernel (a coefficient
    -- left out, a slot swapped) would be off by far more than 1e-3
    for _, case in ipairs(G.cases) do
      local x = gd.tensor(G.x0, {dtype = "float32"})
      local opt = gd.optim[case.torch]({x}, case.hyper)
      for t = 1, 20 do
        grad_at(x, t)
        opt:step()
        if case.lr_change and t == case.lr_change[1] then opt.hyper.lr = case.lr_change[2] end
      end
      assert.is_true(worst(x, case.traj[20]) < 1e-3, describe_case(case))
    end
  end)

  it("a state_dict saved half way resumes the same trajectory (scalar state too)", function()
    -- catches ASGD's eta/mu or NAdam's mu_product not saved or not restored
    for _, case in ipairs(G.cases) do
      local _, opt1, x1 = replay(case, "float64", nil, nil, 1, 25)
      local path = os.tmpname()
      gd.save(path, opt1:state_dict())
      local x = gd.tensor(x1:totable(), {dtype = "float64"})
      local opt = gd.optim[case.torch]({x}, case.hyper)
      if case.lr_change and case.lr_change[1] < 25 then opt.hyper.lr = case.lr_change[2] end
      opt:load_state_dict(gd.load(path))
      os.remove(path)
      local errs = replay(case, "float64", opt, x, 26, G.steps)
      for _, e in ipairs(errs) do
        if e[2] > 1e-9 then error(fmt("%s: step %d after resuming: %.3g", describe_case(case), e[1], e[2])) end
      end
    end
  end)
end)

describe("the rest of torch.optim's hyperparameters", function()
  local function opt_of(name, hyper) return gd.optim[name]({gd.zeros(2, {dtype = "float64"})}, hyper) end
  it("SparseAdam is not provided, and says why instead of being nil", function()
    -- catches: gd.optim.SparseAdam(...) failing as "attempt to call a nil value"
    local x = gd.tensor({1, 2})
    local ok, err = pcall(gd.optim.SparseAdam, {x}, {lr = 0.1})
    assert.is_false(ok)
    assert.matches("gd.optim.SparseAdam: not provided: gdlua has no sparse gradients", err)
    assert.matches("torch7 flavor", err)
    assert.matches("not provided", require("gd.doc").lookup(gd.optim.SparseAdam))
  end)

  it("use PyTorch 1.13's defaults", function()
    local a = opt_of("Adamax").hyper
    assert.are.same({2e-3, 0.9, 0.999, 1e-8, 0}, {a.lr, a.betas[1], a.betas[2], a.eps, a.weight_decay})
    local s = opt_of("ASGD").hyper
    assert.are.same({1e-2, 1e-4, 0.75, 1e6, 0}, {s.lr, s.lambd, s.alpha, s.t0, s.weight_decay})
    local n = opt_of("NAdam").hyper
    assert.are.same({2e-3, 4e-3, 1e-8}, {n.lr, n.momentum_decay, n.eps})
    local r = opt_of("RAdam").hyper
    assert.are.same({1e-3, 0.9, 0.999}, {r.lr, r.betas[1], r.betas[2]})
    local p = opt_of("Rprop").hyper
    assert.are.same({1e-2, 0.5, 1.2, 1e-6, 50}, {p.lr, p.etas[1], p.etas[2], p.step_sizes[1], p.step_sizes[2]})
  end)
  it("reject bad values with the function and the name, changing nothing", function()
    assert.has_error(function() opt_of("Rprop", {etas = {1.5, 1.2}}) end,
      "gd.optim.Rprop: etas = {1.5, 1.2} must satisfy 0 < etaminus < 1 < etaplus")
    assert.has_error(function() opt_of("Rprop", {step_sizes = {1, 0.5}}) end,
      "gd.optim.Rprop: step_sizes = {1, 0.5} must satisfy 0 <= min <= max")
    assert.has_error(function() opt_of("NAdam", {momentum_decay = -1}) end,
      "gd.optim.NAdam: momentum_decay must be >= 0, got -1")
    assert.has_error(function() opt_of("Adamax", {betas = {0.9, 1}}) end,
      "gd.optim.Adamax: betas[2] = 1 is outside [0, 1)")
    -- PyTorch 1.13's NAdam and RAdam take no maximize
    assert.has_error(function() opt_of("NAdam", {maximize = true}) end)
    local o = opt_of("ASGD", {alpha = 1.5}) -- ASGD's alpha is a power: 1.5 is fine
    assert.are.equal(1.5, o.hyper.alpha)
    assert.has_error(function() o.hyper.lambd = "x" end, "gd.optim.ASGD: lambd must be a number, got string")
    assert.are.equal(1e-4, o.hyper.lambd)
  end)
  it("Rprop's step sizes start at the lr of the first step and ignore later lr changes", function()
    local x = gd.tensor({1, 1}, {dtype = "float64"})
    local o = gd.optim.Rprop({x}, {lr = 0.1})
    o.hyper.lr = 0.2                  -- before the first step: the step sizes start at 0.2
    x.grad:fill_(1); o:step()         -- sign 0 (no previous gradient): factor 1
    assert.are.equal(0.8, x:get(1))
    o.hyper.lr = 5                    -- after: no effect (PyTorch keeps step_size in the state)
    x.grad:fill_(1); o:step()         -- same sign: 0.2 * 1.2
    assert.is_true(math.abs(x:get(1) - (0.8 - 0.24)) < 1e-15)
  end)
end)

describe("add_param_group", function()
  it("adds a group with its own hyperparameters, the rest from the optimizer's", function()
    local a, b = gd.tensor({1}, {dtype = "float64"}), gd.tensor({1}, {dtype = "float64"})
    local o = gd.optim.SGD({a}, {lr = 0.1, momentum = 0.5})
    o:add_param_group({params = {b}, lr = 0.01})
    assert.are.equal(2, #o.param_groups)
    assert.are.equal(0.01, o.param_groups[2].hyper.lr)
    assert.are.equal(0.5, o.param_groups[2].hyper.momentum)
    a.grad:fill_(1); b.grad:fill_(1)
    o:step()
    -- catches a group added but not stepped, or stepped with the first group's lr
    assert.are.equal(0.9, a:get(1))
    assert.is_true(math.abs(b:get(1) - 0.99) < 1e-15)
    local sd = o:state_dict()
    assert.are.equal(2, #sd.param_groups)
  end)
  it("schedules see the new group", function()
    local a, b = gd.zeros(1), gd.zeros(1)
    local o = gd.optim.Adamax({a}, {lr = 0.1})
    o:add_param_group({params = {b}, lr = 0.4})
    local s = gd.optim.lr.StepLR(o, {step_size = 1, gamma = 0.5})
    s:step()
    assert.are.same({0.05, 0.2}, s:get_last_lr())
  end)
  it("refuses a parameter already in a group, and bad groups, changing nothing", function()
    local a = gd.zeros(1)
    local o = gd.optim.Adam({a}, {lr = 0.1})
    local ok, err = pcall(o.add_param_group, o, {params = {a}})
    assert.is_false(ok)
    assert.matches("gd.optim.Adam:add_param_group: some parameters appear in more than one parameter group", err, 1, true)
    -- a view of a parameter shares its memory: refused as well
    assert.has_error(function() o:add_param_group({params = {a:view(1)}}) end)
    assert.has_error(function() o:add_param_group(a) end,
      "gd.optim.Adam:add_param_group: group must be a table with params (and hyperparameters), got a tensor")
    assert.has_error(function() o:add_param_group({params = {gd.zeros(1)}, lr = -1}) end)
    assert.are.equal(1, #o.param_groups)
    assert.are.equal(1, #o.params)
  end)
end)

describe("LBFGS against PyTorch 1.13's torch.optim.LBFGS (float64)", function()
  -- f = sum 0.5*h*(x-c)^2 + 0.3*cos(i*x): the generator's function
  local function closure_for(x, calls)
    return function()
      calls[1] = calls[1] + 1
      local f = 0
      for i = 1, #G.x0 do
        local xi = x:get(i)
        f = f + 0.5 * G.h[i] * (xi - G.c[i]) ^ 2 + 0.3 * math.cos(i * xi)
        x.grad:set(i, G.h[i] * (xi - G.c[i]) - 0.3 * i * math.sin(i * xi))
      end
      return f
    end
  end
  for _, case in ipairs(G.lbfgs) do
    local parts = {}
    for k, v in pairs(case.hyper) do parts[#parts + 1] = k .. "=" .. tostring(v) end
    table.sort(parts)
    -- catches any change in the two-loop recursion, the first step's
    -- 1/sum|g| scaling, the curvature test, the stopping order, or the
    -- line search's bracketing and interpolation (the call counts differ)
    it("matches " .. table.concat(parts, " ") .. ", closure calls included", function()
      local x = gd.tensor(G.x0, {dtype = "float64"})
      local opt = gd.optim.LBFGS({x}, case.hyper)
      local calls = {0}
      local closure = closure_for(x, calls)
      for k, ref in ipairs(case.steps) do
        calls[1] = 0
        local loss = opt:step(closure)
        assert.are.equal(ref.calls, calls[1], "closure calls at step " .. k)
        assert.is_true(rel(loss, ref.loss) < 1e-9, fmt("loss at step %d: %.17g vs %.17g", k, loss, ref.loss))
        local w = worst(x, ref.x)
        if w > 1e-9 then error(fmt("step %d: relative error %.3g", k, w)) end
      end
      assert.are.equal(case.func_evals, opt:state_dict().state[1].func_evals)
      assert.are.equal(case.n_iter, opt:state_dict().state[1].n_iter)
    end)
  end

  it("rejects what PyTorch rejects, and bad closures, with gd errors", function()
    local x = gd.zeros(2, {dtype = "float64"})
    assert.has_error(function() gd.optim.LBFGS({x}, {line_search_fn = "backtracking"}) end,
      "gd.optim.LBFGS: line_search_fn must be nil or \"strong_wolfe\" (the only one PyTorch has), got backtracking")
    assert.has_error(function() gd.optim.LBFGS({{params = {x}}}) end,
      "gd.optim.LBFGS: LBFGS doesn't support per-parameter options (parameter groups)")
    assert.has_error(function() gd.optim.LBFGS({x}, {max_iter = 0}) end,
      "gd.optim.LBFGS: max_iter must be >= 1, got 0")
    local opt = gd.optim.LBFGS({x})
    assert.has_error(function() opt:step() end)
    assert.has_error(function() opt:step(function() return "loss" end) end,
      "gd.optim.LBFGS:step: the closure must return the loss (a number or a 1-element tensor), got string")
    assert.are.equal(20, opt.hyper.max_iter)
    assert.are.equal(25, opt.hyper.max_eval) -- max_iter * 5 // 4
  end)

  it("steps float32 parameters (a flat float32 vector) close to the float64 run", function()
    -- catches a flat vector of the wrong dtype or a gather/scatter that mixes parameters up
    local x = gd.tensor(G.x0, {dtype = "float32"})
    local a, b = x:narrow(1, 1, 3), x:narrow(1, 4, 5) -- two parameters: the flat vector spans both
    local opt = gd.optim.LBFGS({a, b}, G.lbfgs[3].hyper)
    local calls = {0}
    local x64 = gd.tensor(G.x0, {dtype = "float64"})
    x64.grad = gd.zeros(8, {dtype = "float64"})
    local f64 = closure_for(x64, calls)
    local closure = function()
      x64:copy_(x)
      local f = f64()
      a.grad:copy_(x64.grad:narrow(1, 1, 3))
      b.grad:copy_(x64.grad:narrow(1, 4, 5))
      return f
    end
    opt:step(closure)
    assert.is_true(worst(x, G.lbfgs[3].steps[1].x) < 1e-3) -- float32 rounding through 8 line-search evaluations
    assert.has_error(function() opt:add_param_group({params = {gd.zeros(1)}}) end,
      "gd.optim.LBFGS:add_param_group: LBFGS doesn't support per-parameter options (parameter groups)")
  end)

  it("takes an lr schedule", function()
    local x = gd.zeros(1, {dtype = "float64"})
    local opt = gd.optim.LBFGS({x}, {lr = 0.5})
    local s = gd.optim.lr.StepLR(opt, {step_size = 1, gamma = 0.5})
    s:step()
    assert.are.equal(0.25, opt.hyper.lr)
  end)
end)

describe("the rest of torch.optim on the GPU", function()
  local available, why = gd.cuda_available()
  if not available then
    pending("no GPU here: " .. tostring(why))
    return
  end
  -- the CUDA kernels run src/kernels/optim.h's functions: a wrong switch or
  -- slot in cuda/optim.cu shows as a difference from the CPU and from PyTorch
  for ci, case in ipairs(G.cases) do
    it(fmt("steps case %d (%s) as PyTorch does, in float64", ci, case.torch), function()
      local x = gd.tensor(G.x0, {dtype = "float64", device = "cuda"})
      local opt = gd.optim[case.torch]({x}, case.hyper)
      local gh = gd.zeros(#G.x0, {dtype = "float64"})
      for t = 1, G.steps do
        local xc = x:to("cpu")
        for i = 1, #G.x0 do gh:set(i, G.h[i] * (xc:get(i) - G.c[i]) + 0.1 * math.sin(t * i)) end
        x.grad:copy_(gh)
        opt:step()
        if case.traj[t] then
          local w = worst(x:to("cpu"), case.traj[t])
          if w > 1e-9 then error(fmt("step %d: relative error %.3g", t, w)) end
        end
        if case.lr_change and t == case.lr_change[1] then opt.hyper.lr = case.lr_change[2] end
      end
    end)
  end
end)
