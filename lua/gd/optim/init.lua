--- gd.optim: SGD, AdaGrad, RMSProp, AdaDelta, Adam, AdamW and SMORMS3, in
-- every system's convention (`hyper.flavor`, see gd.optim.flavors), and the
-- rest of torch.optim (Adamax, ASGD, NAdam, RAdam, Rprop: PyTorch 1.13's), each
-- a fused C step over all parameters (src/optim.c, src/kernels/optim.h); LBFGS
-- over tensor ops (gd.optim.lbfgs).
--
--   local opt = gd.optim.RMSProp({x}, {flavor = "d2l", lr = 0.4, gamma = 0.9})
--   for i = 1, 20 do opt:step(function() f.grad(x, x.grad) return f.f(x) end) end
--
-- Hyperparameters are checked once, when given or changed through
-- `opt.hyper`, and live in a C struct per parameter group, so `opt:step()`
-- is one FFI call per group: no allocation, no string lookups.
local gd = require "gd.tensor"
local doc = require "gd.doc"
local check = require "gd.check"
local flavors = require "gd.optim.flavors"
check.register_internal() -- errors raised with check.raise point past this file
local I = require "gd.aux"
local ffi, C = I.ffi, I.C
local fmt = string.format

local M = {}
M.flavors = doc(flavors, "gd.optim.flavors", [[
gd.optim.flavors(name) -> {[flavor] = {names, pytorch_names, defaults, switches,
required, source, update, clashes, infer}}: whose convention each flavor of the
optimizer `name` ("RMSProp", "AdaGrad", "SMORMS3", "SGD", "Adam", ...) follows:
its own keyword names (-> canonical names), the PyTorch names it also takes,
its defaults (canonical), the switches it fixes, its update in its own notation
and its source.  docs/flavors.md is generated from it (make docs).]])

local KIND = {SGD = 0, RMSProp = 1, AdaGrad = 1, AdaDelta = 2, Adam = 3, AdamW = 3, SMORMS3 = 4,
              Adamax = 5, ASGD = 6, NAdam = 7, RAdam = 8, Rprop = 9,
              Lion = 10, AdaBelief = 11, Adan = 12, NAdamW = 7, AdamWScheduleFree = 13, SGDScheduleFree = 14}
local SLOT_NAMES = {
  SGD = {"momentum_buffer"},
  RMSProp = {"square_avg", "grad_avg", "momentum_buffer"},
  AdaGrad = {"sum", "grad_avg", "momentum_buffer"},
  AdaDelta = {"square_avg", "acc_delta"},
  Adam = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
  AdamW = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
  SMORMS3 = {"mem", "mg", "ms"},
  Adamax = {"exp_avg", "exp_inf"},
  ASGD = {"ax"},
  NAdam = {"exp_avg", "exp_avg_sq"},
  RAdam = {"exp_avg", "exp_avg_sq"},
  Rprop = {"prev", "step_size"},
  Lion = {"exp_avg"},
  AdaBelief = {"exp_avg", "exp_avg_var", "max_exp_avg_var"},
  Adan = {"exp_avg", "exp_avg_diff", "exp_avg_sq", "neg_pre_grad"},
  NAdamW = {"exp_avg", "exp_avg_sq"},
  AdamWScheduleFree = {"z", "exp_avg_sq"},
  SGDScheduleFree = {"z"},
}
-- optimizers whose weight_decay is decoupled (p *= 1 - lr*wd, or Adan's proximal form)
local DECOUPLED = {AdamW = true, Lion = true, Adan = true, NAdamW = true}
-- per-group scalar state (PyTorch's 0-d state tensors), C's gd_optim_get_scalar order
local SCALAR_NAMES = {ASGD = {"eta", "mu"}, NAdam = {"mu_product"}, NAdamW = {"mu_product"},
                      AdamWScheduleFree = {"weight_sum", "lr_max"}, SGDScheduleFree = {"weight_sum", "lr_max"}}
local STYLE = {pytorch = 0, lr_inside = 1}

local function cerr() return ffi.string(C.gd_last_error()) end

local function sorted_keys(t)
  local r = {}
  for k in pairs(t) do r[#r + 1] = k end
  table.sort(r)
  return r
end

-- ------------------------------------------------------------ validation

--- Checks one canonical value; `shown` is the name the user wrote; `kinds`
-- (a flavor's own) overrides flavors.kinds.
local function validate(fname, key, shown, v, kinds)
  local kind = kinds and kinds[key] or flavors.kinds[key]
  local function bad(what)
    error(fmt("%s: %s %s", fname, shown, what), 0)
  end
  if kind == "bool" then
    if type(v) ~= "boolean" then bad("must be true or false, got " .. tostring(v)) end
    return v
  elseif kind == "style" then
    if STYLE[v] == nil then bad(check.unknown_message("momentum style", v, {"lr_inside", "pytorch"}):gsub("^unknown ", "is an unknown ")) end
    return v
  elseif kind == "betas" then
    if type(v) ~= "table" or #v ~= 2 then bad("must be a table of two numbers {beta1, beta2}") end
    for i = 1, 2 do
      local b = v[i]
      if type(b) ~= "number" or b ~= b or b < 0 or b >= 1 then
        error(fmt("%s: %s[%d] = %s is outside [0, 1)", fname, shown, i, tostring(b)), 0)
      end
    end
    return {v[1], v[2]}
  elseif kind == "etas" or kind == "step_sizes" then -- Rprop's pairs
    if type(v) ~= "table" or #v ~= 2 or type(v[1]) ~= "number" or type(v[2]) ~= "number" then
      bad("must be a table of two numbers")
    end
    local a, b = v[1], v[2]
    if kind == "etas" and not (0 < a and a < 1 and 1 < b and b < math.huge) then
      bad(fmt("= {%s, %s} must satisfy 0 < etaminus < 1 < etaplus", tostring(a), tostring(b)))
    end
    if kind == "step_sizes" and not (a >= 0 and a <= b) then
      bad(fmt("= {%s, %s} must satisfy 0 <= min <= max", tostring(a), tostring(b)))
    end
    return {a, b}
  elseif kind == "betas3" then -- Adan's three betas
    if type(v) ~= "table" or #v ~= 3 then bad("must be a table of three numbers {beta1, beta2, beta3}") end
    for i = 1, 3 do
      local b = v[i]
      if type(b) ~= "number" or b ~= b or b < 0 or b >= 1 then
        error(fmt("%s: %s[%d] = %s is outside [0, 1)", fname, shown, i, tostring(b)), 0)
      end
    end
    return {v[1], v[2], v[3]}
  end
  if type(v) ~= "number" then bad("must be a number, got " .. type(v)) end
  if v ~= v then bad("is NaN") end
  -- no hyperparameter means anything infinite (an infinite momentum or decay
  -- turns every parameter into inf or NaN at the first step)
  if kind == "rate" then
    if v < 0 or v == math.huge then bad(fmt("must be a finite number >= 0, got %s", tostring(v))) end
  elseif kind == "nonneg" then
    if v < 0 then bad(fmt("must be >= 0, got %s", tostring(v))) end
    if v == math.huge then bad("must be finite, got inf") end
  elseif kind == "decay" then
    if v < 0 or v >= 1 then bad(fmt("must be in [0, 1), got %s", tostring(v))) end
  elseif kind == "count" then
    if v < 0 or v ~= math.floor(v) or v == math.huge then bad(fmt("must be an integer >= 0, got %s", tostring(v))) end
  elseif kind == "open_unit" then
    if not (v > 0 and v < 1) then bad(fmt("must be in (0, 1), got %s", tostring(v))) end
  elseif kind == "halflife" then
    if not (v > 0) or v == math.huge then bad(fmt("must be a finite number > 0, got %s", tostring(v))) end
  elseif v == math.huge or v == -math.huge then
    bad(fmt("must be finite, got %s", tostring(v)))
  end
  return v
end

--- Rules between values (PyTorch's): Nesterov needs momentum, and (SGD) no dampening.
local function cross_check(fname, name, v)
  if v.nesterov and not (v.momentum and v.momentum > 0) then
    error(fname .. ": nesterov needs a momentum > 0", 0)
  end
  if name == "SGD" and v.nesterov and v.dampening ~= 0 then
    error(fname .. ": nesterov needs zero dampening", 0)
  end
end

--- Writes canonical values into the C struct of a group.  dist_scale: the
-- 1/N of data-parallel training (gd.dist), folded into grad_scale so that
-- averaging the ranks' summed gradients costs no pass of its own.
local function write_hyper(h, name, v, dist_scale)
  h.lr = v.lr or 0
  h.lr_decay = v.lr_decay or 0
  h.alpha = v.alpha or 0
  h.beta1 = v.betas and v.betas[1] or 0
  h.beta2 = v.betas and v.betas[2] or 0
  h.rho = v.rho or 0
  h.eps = v.eps or 0
  if DECOUPLED[name] or (name == "AdaBelief" and v.weight_decouple) then
    -- AdamW, Lion, Adan, NAdamW (and AdaBelief's weight_decouple) call their decoupled decay weight_decay
    h.weight_decay = 0
    h.decoupled_weight_decay = v.weight_decay or 0
  else
    h.weight_decay = v.weight_decay or 0
    h.decoupled_weight_decay = v.decoupled_weight_decay or 0
  end
  h.momentum = v.momentum or 0
  h.dampening = v.dampening or 0
  h.grad_scale = (v.grad_scale or 1) * (dist_scale or 1)
  h.clip_gradient = v.clip_gradient or 0
  h.clip_weights = v.clip_weights or 0
  h.state_init = v.state_init or v.initial_accumulator_value or 0
  h.accumulate = name == "AdaGrad" and 1 or 0
  h.centered = v.centered and 1 or 0
  h.eps_inside = v.eps_inside and 1 or 0
  h.momentum_style = STYLE[v.momentum_style or "pytorch"]
  h.nesterov = v.nesterov and 1 or 0
  h.maximize = v.maximize and 1 or 0
  h.amsgrad = v.amsgrad and 1 or 0
  h.bias_correction = v.bias_correction and 1 or 0
  h.lambd = v.lambd or 0
  h.t0 = v.t0 or 0
  h.momentum_decay = v.momentum_decay or 0
  h.etaminus = v.etas and v.etas[1] or 0
  h.etaplus = v.etas and v.etas[2] or 0
  h.step_size_min = v.step_sizes and v.step_sizes[1] or 0
  h.step_size_max = v.step_sizes and v.step_sizes[2] or 0
  h.adam_step_bias = v.adam_step_bias and 1 or 0
  h.memory_clipped = v.memory_clipped and 1 or 0
  if v.betas3 then h.beta1, h.beta2, h.beta3 = v.betas3[1], v.betas3[2], v.betas3[3] end
  h.warmup_steps = v.warmup_steps or 0
  h.sf_r = v.r or 0
  h.weight_lr_power = v.weight_lr_power or 0
  h.fixed_decay = v.fixed_decay and 1 or 0
  h.rectify = v.rectify and 1 or 0
  h.degenerated_to_sgd = v.degenerated_to_sgd and 1 or 0
  h.no_prox = v.no_prox and 1 or 0
  h.nadam_fixed_product = name == "NAdamW" and 1 or 0
  h.generation = h.generation + 1 -- tells the C step to recompute its coefficients
end

-- ------------------------------------------------------------ resolution

--- Which flavor a hyper table without `flavor` is written in: PyTorch's, or
-- a flavor with `infer` names (PuzzleLib's: RMSProp{learnRate = ..., factor =
-- ...}) when one of them is given and its names cover every key.  No other
-- flavor is guessed: {lr = 0.4, gamma = 0.9} is refused with a hint to say
-- flavor = "d2l", never silently run with d2l's eps inside the root.  Returns
-- the flavor and whether it was inferred.
local function infer_flavor(fname, name, given)
  local table_ = flavors[name]
  local all_pytorch = true
  for k in pairs(given) do
    if k ~= "flavor" and not table_.pytorch.names[k] then all_pytorch = false end
  end
  if all_pytorch then return "pytorch", false end
  local matches = {}
  for _, fl in ipairs(sorted_keys(table_)) do
    local spec = table_[fl]
    if spec.infer then
      local ok, marked = true, false
      for k in pairs(given) do
        if k ~= "flavor" and not spec.names[k] then ok = false; break end
      end
      for _, k in ipairs(spec.infer) do if given[k] ~= nil then marked = true end end
      if ok and marked then matches[#matches + 1] = fl end
    end
  end
  if #matches == 1 then return matches[1], true end
  if #matches > 1 then
    error(fmt("%s: these names fit several flavors (%s); say which with flavor = \"...\"", fname,
      table.concat(matches, ", ")), 0)
  end
  return "pytorch", false -- and the unknown name is reported against PyTorch's names
end

--- The flavors of `name` that take the keyword k (for "say flavor = ..." hints).
local function flavors_taking(name, k)
  local r = {}
  for _, fl in ipairs(sorted_keys(flavors[name])) do
    if flavors[name][fl].names[k] then r[#r + 1] = fl end
  end
  return r
end

--- Resolves a user's hyper table into canonical values: {values, flavor, shown},
-- where shown maps canonical keys back to the user's names (for messages).
local function resolve(fname, name, given)
  local table_ = flavors[name]
  local flavor, inferred = given.flavor, false
  if flavor == nil then flavor, inferred = infer_flavor(fname, name, given) end
  if type(flavor) ~= "string" or not table_[flavor] then
    error(fname .. ": " .. check.unknown_message("flavor", tostring(flavor), sorted_keys(table_)), 0)
  end
  local spec = table_[flavor]
  local values, shown, from = {}, {}, {}
  for k, v in pairs(spec.defaults) do values[k] = v end
  local given_canonical = {}
  for _, k in ipairs(sorted_keys(given)) do
    if k ~= "flavor" then
      if type(k) ~= "string" then error(fmt("%s: hyperparameter names must be strings, got %s", fname, type(k)), 0) end
      local canon = spec.names[k]
      if not canon then
        local valid = sorted_keys(spec.names)
        local msg = check.unknown_message("hyperparameter", k, valid)
        if flavors.kinds[k] or flavors.kinds[(table_.pytorch.names[k] or "")] then
          msg = fmt("the %s flavor of %s does not take '%s'; valid hyperparameters: %s", flavor, name, k,
            table.concat(valid, ", "))
        end
        if given.flavor == nil then
          local others = flavors_taking(name, k)
          if #others > 0 then
            msg = msg .. fmt("; '%s' is a name of the %s flavor%s (say flavor = \"%s\")", k,
              table.concat(others, ", "), #others > 1 and "s" or "", others[1])
          end
        end
        error(fname .. ": " .. msg, 0)
      end
      if from[canon] then
        error(fmt("%s: '%s' and '%s' both set %s; give one", fname, from[canon], k, canon), 0)
      end
      from[canon] = k
      given_canonical[canon] = true
      values[canon] = validate(fname, canon, k, given[k], spec.kinds)
    end
  end
  for k, v in pairs(spec.fixed or {}) do
    if given_canonical[k] and values[k] ~= v then
      local why = spec.fixed_why and spec.fixed_why[k]
      error(fmt("%s: the %s flavor fixes %s = %s%s", fname, flavor, from[k], tostring(v),
        why and ("; " .. why) or ""), 0)
    end
    values[k] = v
  end
  for _, k in ipairs(spec.required or {}) do
    if not given_canonical[k] then
      local theirs = k
      for their, canon in pairs(spec.names) do if canon == k and their ~= k then theirs = their end end
      error(fmt("%s: the %s flavor needs %s (it has no default there)", fname, flavor, theirs), 0)
    end
  end
  -- defaults of kinds that need checking too (e.g. halflife)
  for k, v in pairs(values) do
    if not given_canonical[k] and flavors.kinds[k] then values[k] = validate(fname, k, k, v, spec.kinds) end
  end
  if spec.resolve then spec.resolve(values, given_canonical) end
  cross_check(fname, name, values)
  for canon, k in pairs(from) do shown[canon] = k end
  return values, flavor, shown, inferred
end

-- ------------------------------------------------------------- parameters

local function is_group_list(p)
  return type(p) == "table" and not gd.is_tensor(p) and type(p[1]) == "table" and not gd.is_tensor(p[1])
    and p[1].params ~= nil
end

--- A list of tensors from a tensor list or a module.
local function param_list(fname, p, what)
  if type(p) == "table" and type(p.parameters) == "function" then p = p:parameters() end
  if gd.is_tensor(p) then p = {p} end
  if type(p) ~= "table" then error(fmt("%s: %s must be a table of tensors or a module, got %s", fname, what, type(p)), 0) end
  local list = {}
  for i = 1, #p do
    if not gd.is_tensor(p[i]) then
      error(fmt("%s: %s[%d] is a %s, not a tensor", fname, what, i, type(p[i])), 0)
    end
    list[i] = p[i]
  end
  return list
end

-- ------------------------------------------------------------- optimizer

local Optimizer = {}
Optimizer.__index = Optimizer
M.Optimizer = Optimizer

--- Autograd's skip, as PyTorch skips a parameter whose .grad is None: when a
-- backward reached some of the parameters since zero_grad (grad_received)
-- but not others that require grad, those others get no step at all (no
-- weight decay, no momentum).  When none was reached (gradients written by
-- hand or by net:backward(grad)) every parameter steps, as before autograd.
local function autograd_skips(opt)
  local params = opt.params
  if params == nil then return false end
  local reached, missed = false, false
  for i = 1, #params do
    local c = params[i].c
    if c.grad_received ~= 0 then reached = true
    elseif c.requires_grad ~= 0 then missed = true end
  end
  return reached and missed
end

--- The gradients a group's step is handed: each parameter's .grad, or NULL
-- for one that requires grad and that no backward reached.
local function handed_grads(group)
  local arr = group._handed
  if arr == nil then
    arr = ffi.new("gd_tensor*[?]", math.max(#group.params, 1))
    group._handed = arr
  end
  for i, p in ipairs(group.params) do
    local c = p.c
    if c.grad_received == 0 and c.requires_grad ~= 0 then arr[i - 1] = nil else arr[i - 1] = c.gradient end
  end
  return arr
end

local HYPER_CT = ffi.typeof("gd_optim_hyper")
local optim_box = ffi.new("gd_optim*[1]")
local pair_box = ffi.new("int[2]")

local function make_group(opt, params, values, shown)
  local fname = opt._fname
  local h = HYPER_CT()
  write_hyper(h, opt.name, values, opt._dist_scale)
  local arr = ffi.new("gd_tensor*[?]", math.max(#params, 1))
  for i, p in ipairs(params) do arr[i - 1] = p.c end
  if C.gd_optim_new(optim_box, KIND[opt.name], arr, #params, h) ~= 0 then error(fname .. ": " .. cerr(), 0) end
  local c = ffi.gc(optim_box[0], C.gd_optim_free)
  local group = {params = params, _values = values, _shown = shown, _c = c, _h = h, initial_lr = values.lr}
  return group
end

local function address(p) return tonumber(ffi.cast("intptr_t", p.c)) end

--- PyTorch refuses a parameter in two groups ("some parameters appear in more
-- than one parameter group"): each group's C step would update it.  Views of
-- one memory in two groups are the same mistake (within a group, C finds both).
local function check_groups_disjoint(fname, lists)
  if #lists < 2 then return end
  local where, all, group_of, index_of = {}, {}, {}, {}
  for gi, list in ipairs(lists) do
    for j, p in ipairs(list) do
      local a = address(p)
      local prev = where[a]
      if prev and prev[1] ~= gi then
        error(fmt("%s: some parameters appear in more than one parameter group (parameter %d of group %d is "
          .. "parameter %d of group %d)", fname, j, gi, prev[2], prev[1]), 0)
      end
      where[a] = where[a] or {gi, j}
      all[#all + 1] = p
      group_of[#all], index_of[#all] = gi, j
    end
  end
  local arr = ffi.new("gd_tensor*[?]", #all)
  for i, p in ipairs(all) do arr[i - 1] = p.c end
  local found = C.gd_find_overlap(arr, #all, #all, pair_box, pair_box + 1)
  if found < 0 then error(fname .. ": " .. cerr(), 0) end
  if found == 1 then
    local a, b = pair_box[0] + 1, pair_box[1] + 1
    if group_of[a] ~= group_of[b] then
      error(fmt("%s: parameter %d of group %d and parameter %d of group %d share memory (views of one tensor): "
        .. "some parameters appear in more than one parameter group", fname, index_of[a], group_of[a],
        index_of[b], group_of[b]), 0)
    end
  end
end

--- A copy of values with key set to value (by canonical or flavor name),
-- validated; nothing is changed.
local function updated_values(opt, values, key, value)
  local fname = opt._fname
  local spec = flavors[opt.name][opt.flavor]
  -- opt.hyper holds canonical names, so a canonical name means its canonical
  -- value (tiny-dnn's opt.hyper.alpha is the decay, as read, not its learning
  -- rate); other keys are the flavor's own names
  local canon = (values[key] ~= nil and key) or spec.names[key] or nil
  if key == "flavor" then error(fname .. ": the flavor cannot change after construction", 0) end
  if not canon then
    local seen, valid = {}, {}
    for k in pairs(values) do seen[k] = true end
    for k in pairs(spec.names) do seen[k] = true end
    for k in pairs(seen) do valid[#valid + 1] = k end
    table.sort(valid)
    error(fname .. ": " .. check.unknown_message("hyperparameter", key, valid), 0)
  end
  if spec.fixed and spec.fixed[canon] ~= nil and spec.fixed[canon] ~= value then
    local why = spec.fixed_why and spec.fixed_why[canon]
    error(fmt("%s: the %s flavor fixes %s = %s%s", fname, opt.flavor, canon, tostring(spec.fixed[canon]),
      why and ("; " .. why) or ""), 0)
  end
  local v = validate(fname, canon, key, value, spec.kinds)
  local new = {}
  for k, x in pairs(values) do new[k] = x end
  if canon == "rms_halflife" then new.alpha = math.exp(-math.log(2) / v) else new[canon] = v end
  cross_check(fname, opt.name, new)
  return new
end

--- Gives a group new (validated) values: the Lua copy and the C struct.
local function commit_values(opt, group, values)
  group._values = values
  write_hyper(group._h, opt.name, values, opt._dist_scale)
end

--- Sets one hyperparameter of a group, by canonical or flavor name.
local function set_hyper(opt, group, key, value)
  commit_values(opt, group, updated_values(opt, group._values, key, value))
end

--- A table whose reads give a group's canonical values and whose writes are
-- validated and go to the C struct (for every group when `groups` has many).
local function hyper_proxy(opt, groups)
  return setmetatable({}, {
    __index = function(_, k)
      if k == "flavor" then return opt.flavor end
      local v = groups[1]._values[k]
      if type(v) == "table" then return {v[1], v[2]} end
      return v
    end,
    __newindex = function(_, k, v)
      for _, g in ipairs(groups) do
        local ok, err = pcall(set_hyper, opt, g, k, v)
        if not ok then error(err, 2) end
      end
    end,
    __pairs = function() return next, groups[1]._values, nil end,
    __tostring = function()
      local parts = {}
      for _, k in ipairs(sorted_keys(groups[1]._values)) do
        local v = groups[1]._values[k]
        if type(v) == "table" then v = "{" .. v[1] .. ", " .. v[2] .. "}" end
        parts[#parts + 1] = k .. "=" .. tostring(v)
      end
      return "{" .. table.concat(parts, ", ") .. "}"
    end,
  })
end

local function build(opt, params, hyper)
  local fname = opt._fname
  local values, flavor, shown, inferred = resolve(fname, opt.name, hyper)
  opt.flavor, opt.flavor_inferred = flavor, inferred
  -- everything is checked before anything changes: parameters get their zero
  -- gradients only once every group is made
  local lists, gvalues, gshowns = {}, {}, {}
  if is_group_list(params) then
    for gi, gspec in ipairs(params) do
      if type(gspec) ~= "table" then error(fmt("%s: parameter group %d is not a table", fname, gi), 0) end
      local merged = {}
      for k, v in pairs(hyper) do merged[k] = v end
      for k, v in pairs(gspec) do if k ~= "params" then merged[k] = v end end
      merged.flavor = flavor
      local gv, _, gshown = resolve(fmt("%s (group %d)", fname, gi), opt.name, merged)
      gvalues[gi], gshowns[gi] = gv, gshown
      lists[gi] = param_list(fname, gspec.params, fmt("group %d's params", gi))
    end
  else
    lists[1], gvalues[1], gshowns[1] = param_list(fname, params, "params"), values, shown
    if #lists[1] == 0 then error(fname .. ": optimizer got an empty parameter list", 0) end -- as PyTorch
  end
  check_groups_disjoint(fname, lists)
  local groups = {}
  for gi, list in ipairs(lists) do groups[gi] = make_group(opt, list, gvalues[gi], gshowns[gi]) end
  for _, list in ipairs(lists) do
    for _, p in ipairs(list) do
      if p.grad == nil then p.grad = gd.zeros_like(p) end
    end
  end
  opt.param_groups = groups
  opt._c, opt._h = {}, {}
  for i, g in ipairs(groups) do
    opt._c[i], opt._h[i] = g._c, g._h
    g.hyper = hyper_proxy(opt, {g})
  end
  opt._ngroups = #groups
  opt.hyper = hyper_proxy(opt, groups)
  local all = {}
  for _, g in ipairs(groups) do for _, p in ipairs(g.params) do all[#all + 1] = p end end
  opt.params = all
end

local function new_optimizer(name, params, hyper)
  local fname = "gd.optim." .. name
  local opt = setmetatable({name = name, _fname = fname}, Optimizer)
  -- PuzzleLib's shape: gd.optim.RMSProp{learnRate = ...}, then opt:setupOn(net)
  -- ({} is an empty parameter list, not an empty hyper table: gd.optim.Adam() takes all defaults)
  if hyper == nil and type(params) == "table" and not gd.is_tensor(params) and params[1] == nil
    and next(params) ~= nil and type(params.parameters) ~= "function" then
    hyper, params = params, nil
  end
  hyper = hyper or {}
  -- level 2: the constructors call new_optimizer as a tail call, so its caller
  -- is the user's line (3 pointed one frame too far: no position at all)
  if type(hyper) ~= "table" then error(fmt("%s: hyper must be a table, got %s", fname, type(hyper)), 2) end
  if hyper.nodeinfo ~= nil then
    -- PuzzleLib's nodeinfo (gd.dist.nodeinfo()): data-parallel steps over its ranks
    local ni = hyper.nodeinfo
    if type(ni) ~= "table" or type(ni.size) ~= "number" then
      error(fmt("%s: nodeinfo must be gd.dist.nodeinfo()'s table, got %s", fname, type(ni)), 2)
    end
    opt._nodeinfo = ni
    local rest = {}
    for k, v in pairs(hyper) do if k ~= "nodeinfo" then rest[k] = v end end
    hyper = rest
  end
  if type(params) == "table" and type(params.flat_parameters) == "function" then opt._dist_module = params end
  opt._hyper_in = hyper
  local ok, err = pcall(function()
    if params == nil then
      -- resolve now, so that mistakes show at construction, not at setupOn
      local values, flavor, _, inferred = resolve(fname, name, hyper)
      opt.flavor, opt.flavor_inferred = flavor, inferred
      opt._values = values
      opt.hyper = setmetatable({}, {__index = function(_, k)
        if k == "flavor" then return flavor end
        return values[k]
      end, __newindex = function()
        error(fname .. ": call setupOn(net) before changing hyperparameters", 2)
      end})
    else
      build(opt, params, hyper)
    end
  end)
  if not ok then check.raise(err) end -- at the caller's line however gd.optim.X was reached
  return opt
end

-- Adan's max_grad_norm: clip = min(1, max_grad_norm / (global norm + eps)), as a
-- gradient scale of this step (adan.py; its eps is the last group's).
local function adan_clip(opt)
  local max_norm = opt.param_groups[1]._values.max_grad_norm
  if not max_norm or max_norm <= 0 then return end
  local acc = 0
  for _, g in ipairs(opt.param_groups) do
    for _, p in ipairs(g.params) do if p.grad ~= nil then acc = acc + (p.grad * p.grad):sum() end end
  end
  local groups = opt.param_groups
  local ds = opt._dist_scale or 1   -- the norm of the ranks' mean gradient, not of their sum
  local clip = math.min(max_norm / (math.sqrt(acc) * ds + groups[#groups]._values.eps), 1.0)
  for _, g in ipairs(groups) do
    g._h.grad_scale = clip * ds
    g._h.generation = g._h.generation + 1
  end
end

-- ------------------------------------------------ data-parallel (gd.dist)

local dist -- gd.dist, once something loaded it (DataParallel, nodeinfo, a sharded loader)

--- gd.dist if it has been loaded, else nil.  package.loaded can hold other
-- things under its name: LuaJIT's loading sentinel (a light userdata, which
-- LuaJIT 2.1 shows as a number) after a require that failed, e.g. under
-- mpirun without the MPI engine (issue 17: every step raised "attempt to index
-- a number value"), or a user's stand-in; only the module itself counts.
local function is_dist(d) return type(d) == "table" and d._generation ~= nil and type(d._folded_scale) == "function" end
local function loaded_dist()
  local d = package.loaded["gd.dist"]
  if is_dist(d) then return d end
  d = rawget(gd, "dist")
  if is_dist(d) then return d end
  return nil
end

--- Finds what data-parallel training asks of this optimizer: the 1/N to fold
-- into grad_scale when a gd.dist.DataParallel sums these gradients, or, with
-- PuzzleLib's nodeinfo and no DataParallel, the gradients this optimizer
-- reduces itself before its step (one allreduce over the model's arena).
-- Runs again whenever gd.dist gains a DataParallel (its generation moves).
local function dist_refresh(opt)
  opt._dist_gen = dist._generation
  local scale, covered = 1, false
  for _, p in ipairs(opt.params) do
    local s, c = dist._folded_scale(p.grad)
    if c then scale, covered = s, true break end
  end
  local reduce = nil
  local size = dist.size()
  if opt._nodeinfo and size > 1 and not covered then
    scale = 1 / size
    local m = opt._dist_module
    local g = m and select(2, m:flat_parameters())
    if g then reduce = {g}
    else
      reduce = {}
      for _, p in ipairs(opt.params) do reduce[#reduce + 1] = p.grad end
    end
  end
  opt._dist_reduce = reduce
  if scale ~= (opt._dist_scale or 1) then
    opt._dist_scale = scale
    for _, g in ipairs(opt.param_groups) do write_hyper(g._h, opt.name, g._values, scale) end
  end
end

--- One fused step over every parameter; returns the closure's loss, and
-- nothing at all without a closure (so the REPL prints nothing after it).
function Optimizer:step(closure)
  local loss
  if closure ~= nil then
    local kind = type(closure)
    if kind ~= "function" and kind ~= "table" then
      error(self._fname .. ":step: the closure must be a function, got " .. kind, 2)
    end
    loss = closure()
  end
  local cs, hs = self._c, self._h
  if cs == nil then error(self._fname .. ":step: no parameters (call setupOn(net) first)", 2) end
  if self._eval_mode then error(self._fname .. ":step: not in train mode (call opt:train() after opt:eval())", 2) end
  -- data-parallel only where gd.dist is in use: never loaded from here, since
  -- under mpirun loading it joins the MPI job (independent workers, such as
  -- gd.bench's, must not)
  if dist == nil then dist = loaded_dist() end
  if dist and self._dist_gen ~= dist._generation then dist_refresh(self) end
  local reduce = self._dist_reduce
  if reduce then
    for i = 1, #reduce do dist.allreduce(reduce[i], "sum") end
  end
  if self.name == "Adan" then adan_clip(self) end
  local skips = autograd_skips(self)
  for i = 1, self._ngroups do
    local st
    if skips then
      st = C.gd_optim_step_grads(cs[i], hs[i], handed_grads(self.param_groups[i]))
    else
      st = C.gd_optim_step(cs[i], hs[i])
    end
    if st ~= 0 then error(self._fname .. ":step: " .. cerr(), 2) end
  end
  if closure == nil then return end
  return loss
end

--- Sets every parameter's gradient to zero (and forgets which ones a backward
-- reached: see autograd_skips).
function Optimizer:zero_grad()
  for _, p in ipairs(self.params or {}) do C.gd_tensor_clear_grad_received(p.c) end
  local cs = self._c
  if cs == nil then error(self._fname .. ":zero_grad: no parameters (call setupOn(net) first)", 2) end
  for i = 1, self._ngroups do
    if C.gd_optim_zero_grad(cs[i]) ~= 0 then error(self._fname .. ":zero_grad: " .. cerr(), 2) end
  end
end

-- Schedule-Free's train()/eval(): p moves between y (training) and x (evaluation):
-- eval: p = lerp(p, z, 1 - 1/beta), train: p = lerp(p, z, 1 - beta), torch.lerp's
-- two-sided formula.  Other optimizers: no-ops, as PyTorch has none.
local function lerp_(p, z, w)
  if w < 0.5 then p:add_(z - p, w) else p:copy_(z - (z - p) * (1 - w)) end
end
local function sf_swap(opt, to_eval)
  if (opt._eval_mode or false) == to_eval then return end
  if opt._c and C.gd_optim_slot_allocated(opt.param_groups[1]._c, 0) ~= 0 then
    for _, g in ipairs(opt.param_groups) do
      local beta = opt.name == "AdamWScheduleFree" and g._values.betas[1] or g._values.momentum
      for j, p in ipairs(g.params) do
        if C.gd_optim_state(I.out1, g._c, j - 1, 0, g._h) ~= 0 then error(opt._fname .. ": " .. cerr(), 3) end
        lerp_(p, I.wrap(I.out1[0]), to_eval and 1 - 1 / beta or 1 - beta)
      end
    end
  end
  opt._eval_mode = to_eval
end

--- Schedule-Free optimizers: puts the parameters at the evaluation point x.
function Optimizer:eval()
  if self.name == "AdamWScheduleFree" or self.name == "SGDScheduleFree" then sf_swap(self, true) end
  return self
end

--- Schedule-Free optimizers: back to the training point y (before step()).
function Optimizer:train()
  if self.name == "AdamWScheduleFree" or self.name == "SGDScheduleFree" then sf_swap(self, false) end
  return self
end

--- PuzzleLib's names.
function Optimizer:setupOn(net)
  local ok, err = pcall(build, self, net, self._hyper_in)
  if not ok then error(err, 2) end
  if type(net) == "table" and type(net.flat_parameters) == "function" then self._dist_module = net end
  self._dist_gen = nil
  return self
end
Optimizer.zeroGradParams = Optimizer.zero_grad

--- PyTorch's add_param_group: appends a group {params = {...}, <hyper>...};
-- what it leaves out comes from the optimizer's construction hyperparameters.
function Optimizer:add_param_group(group)
  local fname = self._fname .. ":add_param_group"
  if not self._c then error(fname .. ": no parameters (call setupOn(net) first)", 2) end
  if type(group) ~= "table" or gd.is_tensor(group) or group.params == nil then
    error(fname .. ": group must be a table with params (and hyperparameters), got " ..
      (gd.is_tensor(group) and "a tensor" or type(group)), 2)
  end
  local ok, err = pcall(function()
    local params = param_list(fname, group.params, "group.params")
    local lists = {}
    for i, g in ipairs(self.param_groups) do lists[i] = g.params end
    lists[#lists + 1] = params
    check_groups_disjoint(fname, lists)
    local merged = {}
    for k, v in pairs(self._hyper_in) do merged[k] = v end
    for k, v in pairs(group) do if k ~= "params" then merged[k] = v end end
    merged.flavor = self.flavor
    local gi = #self.param_groups + 1
    local gv, _, gshown = resolve(fmt("%s (group %d)", fname, gi), self.name, merged)
    local g = make_group(self, params, gv, gshown)
    for _, p in ipairs(params) do
      if p.grad == nil then p.grad = gd.zeros_like(p) end
    end
    g.hyper = hyper_proxy(self, {g})
    -- every check passed: nothing above changed the optimizer
    self.param_groups[gi] = g
    self._c[gi], self._h[gi] = g._c, g._h
    self._dist_gen = nil -- the new group's gradients may be a DataParallel's
    self._ngroups = gi
    for _, p in ipairs(params) do self.params[#self.params + 1] = p end
  end)
  if not ok then error(err, 2) end
end
Optimizer.update = function(self) return self:step() end

--- The number of steps taken (of the first group).
function Optimizer:steps()
  if not self._c then return 0 end
  return tonumber(C.gd_optim_get_step(self._c[1]))
end

--- PyTorch-shaped: {state = {[i] = {step = n, <slot> = tensor, ...}},
-- param_groups = {{<canonical hyper>..., params = {i, ...}}}, optimizer, flavor}.
-- The tensors are views of the live state (gd.save copies them).
function Optimizer:state_dict()
  if not self._c then error(self._fname .. ":state_dict: no parameters (call setupOn(net) first)", 2) end
  local names = SLOT_NAMES[self.name]
  local state, groups, idx = {}, {}, 0
  for gi, g in ipairs(self.param_groups) do
    local ids = {}
    for j = 1, #g.params do
      idx = idx + 1
      ids[j] = idx
      -- each parameter's own count: one that autograd skipped lags (PyTorch's state[p]["step"])
      local s = {step = tonumber(C.gd_optim_get_param_step(g._c, j - 1))}
      for slot = 0, #names - 1 do
        if C.gd_optim_slot_allocated(g._c, slot) ~= 0 then
          if C.gd_optim_state(I.out1, g._c, j - 1, slot, g._h) ~= 0 then
            error(self._fname .. ":state_dict: " .. cerr(), 2)
          end
          s[names[slot + 1]] = I.wrap(I.out1[0])
        end
      end
      for w, nm in ipairs(SCALAR_NAMES[self.name] or {}) do
        if C.gd_optim_get_scalar(g._c, w - 1, g._h, I.dbl) ~= 0 then error(self._fname .. ":state_dict: " .. cerr(), 2) end
        s[nm] = I.dbl[0]
      end
      state[idx] = s
    end
    local hv = {}
    for k, v in pairs(g._values) do hv[k] = type(v) == "table" and {unpack(v)} or v end
    hv.params = ids
    groups[gi] = hv
  end
  return {optimizer = self.name, flavor = self.flavor, state = state, param_groups = groups}
end

--- Restores what state_dict() gave (possibly through gd.save / gd.load).
-- Everything is checked before anything changes: a refused state dict leaves
-- the hyperparameters, the state and the step as they were.
function Optimizer:load_state_dict(sd)
  local fname = self._fname .. ":load_state_dict"
  local function bad(msg) error(fname .. ": " .. msg, 3) end
  if not self._c then bad("no parameters (call setupOn(net) first)") end
  if type(sd) ~= "table" or type(sd.state) ~= "table" or type(sd.param_groups) ~= "table" then
    bad("expects a table with state and param_groups (from state_dict())")
  end
  if sd.optimizer and sd.optimizer ~= self.name then
    bad(fmt("the state is of %s, this optimizer is %s", tostring(sd.optimizer), self.name))
  end
  if #sd.param_groups ~= #self.param_groups then
    bad(fmt("the state has %d parameter groups, this optimizer %d", #sd.param_groups, #self.param_groups))
  end
  local names = SLOT_NAMES[self.name]
  -- 1. check everything: shapes, steps, each parameter's state layout, hyperparameters
  local idx = 0
  local copies = {}  -- {group, param index, slot, source} for every state tensor to load
  local steps, pstep, new_values = {}, {}, {}
  for gi, g in ipairs(self.param_groups) do
    local sg = sd.param_groups[gi]
    if type(sg) ~= "table" or type(sg.params) ~= "table" or #sg.params ~= #g.params then
      bad(fmt("group %d has %s parameters in the state and %d here", gi,
        type(sg) == "table" and type(sg.params) == "table" and #sg.params or "no", #g.params))
    end
    for j, p in ipairs(g.params) do
      local s = sd.state[sg.params[j]]
      idx = idx + 1
      if s ~= nil then
        if type(s) ~= "table" then bad(fmt("state of parameter %d is not a table", idx)) end
        local scalars = SCALAR_NAMES[self.name] or {}
        for k, v in pairs(s) do
          local is_scalar = false
          for _, nm in ipairs(scalars) do if nm == k then is_scalar = true end end
          if is_scalar then
            if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then
              bad(fmt("state %s of parameter %d must be a finite number, got %s", k, idx, tostring(v)))
            end
          elseif k ~= "step" then
            local ok = false
            for _, nm in ipairs(names) do if nm == k then ok = true end end
            if not ok then
              local all = {unpack(names)}
              for _, nm in ipairs(scalars) do all[#all + 1] = nm end
              bad(check.unknown_message("state entry", k, all))
            end
            if not gd.is_tensor(v) then bad(fmt("state %s of parameter %d is not a tensor", k, idx)) end
            if v:is_freed() then bad(fmt("state %s of parameter %d was released with free()", k, idx)) end
            local a, b = v.shape, p.shape
            if table.concat(a, "x") ~= table.concat(b, "x") then
              bad(fmt("state %s of parameter %d has shape %s, the parameter %s", k, idx,
                #a == 0 and "scalar" or table.concat(a, "x"), #b == 0 and "scalar" or table.concat(b, "x")))
            end
          end
        end
        -- the step: a whole number a C int64 holds exactly, one per parameter as
        -- in PyTorch (a parameter autograd skipped lags); the group's count is
        -- the largest.  Checkpoints from before per-parameter counts have one
        -- value for the whole group and load the same way.
        local t = s.step
        if t ~= nil then
          check.number(fname, fmt("the step of parameter %d", idx), t, {integer = true, min = 0, level = 2})
          if t > 2 ^ 53 then bad(fmt("the step of parameter %d must be at most 2^53, got %s", idx, tostring(t))) end
          pstep[gi] = pstep[gi] or {}
          pstep[gi][j] = t
          if steps[gi] == nil or t > steps[gi] then steps[gi] = t end
        end
        if C.gd_optim_check_state(g._c, j - 1) ~= 0 then bad(cerr()) end
        for slot = 0, #names - 1 do
          local v = s[names[slot + 1]]
          if v ~= nil then copies[#copies + 1] = {g, j, slot, v} end
        end
        for w, nm in ipairs(SCALAR_NAMES[self.name] or {}) do
          if s[nm] ~= nil and C.gd_optim_set_scalar(g._c, w - 1, s[nm]) ~= 0 then error(fname .. ": " .. cerr(), 2) end
        end
      end
    end
    local values = g._values
    for k, v in pairs(sg) do
      if k ~= "params" and g._values[k] ~= nil then
        local ok, res = pcall(updated_values, self, values, k, v)
        if not ok then error(res, 2) end
        values = res
      end
    end
    new_values[gi] = values
  end
  -- 2. a source that shares memory with the live state (a state_dict() not
  -- saved) is read before any state is written, unless it is its own destination
  local live = {}
  for _, g in ipairs(self.param_groups) do
    for slot = 0, #names - 1 do
      if C.gd_optim_slot_allocated(g._c, slot) ~= 0 then
        if C.gd_optim_state(I.out1, g._c, 0, slot, g._h) ~= 0 then error(fname .. ": " .. cerr(), 2) end
        live[#live + 1] = I.wrap(I.out1[0])
      end
    end
  end
  for _, cp in ipairs(copies) do
    local src = cp[4]
    for _, a in ipairs(live) do
      if src:is_same_storage(a) then cp[4] = src:clone(); break end
    end
  end
  -- 3. change: hyperparameters, then state and steps
  for gi, g in ipairs(self.param_groups) do
    commit_values(self, g, new_values[gi])
    g.initial_lr = g._values.lr
  end
  for _, cp in ipairs(copies) do
    local g, j, slot, src = cp[1], cp[2], cp[3], cp[4]
    if C.gd_optim_state(I.out1, g._c, j - 1, slot, g._h) ~= 0 then error(fname .. ": " .. cerr(), 2) end
    I.wrap(I.out1[0]):copy_(src)
  end
  for gi, g in ipairs(self.param_groups) do
    -- the group's count for all, then the lagging ones (a parameter without a
    -- state entry takes the group's, as when counts were one per group)
    if C.gd_optim_set_step(g._c, steps[gi] or 0) ~= 0 then error(fname .. ": " .. cerr(), 2) end
    for j, t in pairs(pstep[gi] or {}) do
      if C.gd_optim_set_param_step(g._c, j - 1, t) ~= 0 then error(fname .. ": " .. cerr(), 2) end
    end
  end
end

function Optimizer:__tostring()
  local spec = flavors[self.name][self.flavor]
  local v = self.param_groups and self.param_groups[1]._values or self._values
  -- the flavor's own hyperparameters, under their canonical names
  local keys, seen = {}, {}
  for _, canon in pairs(spec.names) do
    if not seen[canon] and v[canon] ~= nil then seen[canon] = true; keys[#keys + 1] = canon end
  end
  if spec.names.rms_halflife then keys[#keys + 1] = "alpha" end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local x = v[k]
    if type(x) == "table" then x = "{" .. x[1] .. ", " .. x[2] .. "}" end
    parts[#parts + 1] = k .. "=" .. tostring(x)
  end
  local n, count = 0, 0
  for _, p in ipairs(self.params or {}) do n = n + 1; count = count + p:numel() end
  local size = self.params and fmt(" [%d tensor%s, %d parameters]", n, n == 1 and "" or "s", count)
    or " [not set up]"
  local flavor = self.flavor_inferred and self.flavor .. ", inferred from its names" or self.flavor
  return fmt("%s (%s): %s%s", self.name, flavor, table.concat(parts, " "), size)
end

-- ------------------------------------------------------------ constructors

local OPT_DOCS = {
  SGD = [[
gd.optim.SGD(params, {lr, momentum = 0, dampening = 0, nesterov = false,
weight_decay = 0, maximize = false, flavor = "pytorch"})
  PyTorch's SGD: the momentum buffer starts as the first gradient.  Flavors:
  pytorch, torch7 (learningRate, weightDecay; dampening defaults to momentum), d2l (lr).]],
  AdaGrad = [[
gd.optim.AdaGrad(params, {lr = 1e-2, lr_decay = 0, weight_decay = 0,
initial_accumulator_value = 0, eps = 1e-10, flavor = "pytorch"})   (alias Adagrad)
  sum += g^2; p -= lr/(1 + (t-1)*lr_decay) * g / (sqrt(sum) + eps).  Flavors
  (each system's names and defaults; PyTorch's names work for what it has):]],
  RMSProp = [[
gd.optim.RMSProp(params, {lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0,
momentum = 0, centered = false, maximize = false, flavor = "pytorch"})   (alias RMSprop)
  v = alpha*v + (1-alpha)*g^2; p -= lr*g/(sqrt(v) + eps), with each system's
  convention through flavor: that system's names and defaults, and PyTorch's
  names for whatever the system has (where a system's own name is spelled
  like PyTorch's, the system's meaning wins: see the notes).  Without flavor,
  only PuzzleLib's names are recognised (RMSProp{learnRate = 1e-3, factor =
  0.9}, then opt:setupOn(net), opt:zeroGradParams(), opt:update());
  opt.hyper.flavor and tostring(opt) show the flavor in use.  Every update in
  its own notation, with its source: gd.optim.flavors("RMSProp"), docs/flavors.md.
  Flavors:]],
  AdaDelta = [[
gd.optim.AdaDelta(params, {lr = 1, rho = 0.9, eps = 1e-6, weight_decay = 0,
flavor = "pytorch"})   Flavors: pytorch, d2l (rho; eps 1e-5).]],
  Adam = [[
gd.optim.Adam(params, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8,
weight_decay = 0, amsgrad = false, maximize = false, flavor = "pytorch"})
  PyTorch's Adam (bias-corrected moments).  Flavors: pytorch, d2l (eps 1e-6).]],
  AdamW = [[
gd.optim.AdamW(params, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8,
weight_decay = 1e-2, amsgrad = false})   Adam with decoupled decay: p *= 1 - lr*wd.]],
  SMORMS3 = [[
gd.optim.SMORMS3(params, {lr = 1e-3, eps = 1e-16})   Simon Funk's SMORMS3: mem
  starts at 1, the step is min(lr, g^2/(g2 + eps)); flavors:]],
  Adamax = [[
gd.optim.Adamax(params, {lr = 2e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0,
maximize = false})   PyTorch 1.13's Adamax: m = b1*m + (1-b1)*g;
  u = max(b2*u, |g| + eps); p -= lr/(1 - b1^t) * m/u.  State: exp_avg, exp_inf.]],
  ASGD = [[
gd.optim.ASGD(params, {lr = 1e-2, lambd = 1e-4, alpha = 0.75, t0 = 1e6, weight_decay = 0,
maximize = false})   PyTorch 1.13's averaged SGD: p *= 1 - lambd*eta; p -= eta*g;
  ax += (p - ax)*mu; after the step eta = lr/(1 + lambd*lr*t)^alpha and
  mu = 1/max(1, t - t0) (so an lr change reaches eta one step later, as in
  PyTorch).  State: ax (the average), eta, mu.]],
  NAdam = [[
gd.optim.NAdam(params, {lr = 2e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0,
momentum_decay = 4e-3})   PyTorch 1.13's NAdam: mu_t = b1*(1 - 0.5*0.96^(t*momentum_decay)),
  Adam's moments, p -= lr*(1-mu_t)/(1-prod mu)*g/d + lr*mu_{t+1}/(1-prod mu*mu_t*mu_{t+1})*m/d
  with d = sqrt(v/(1-b2^t)) + eps (1.13's product, kept as it is).  State: exp_avg,
  exp_avg_sq, mu_product.]],
  RAdam = [[
gd.optim.RAdam(params, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0})
  PyTorch 1.13's RAdam: rho_t = rho_inf - 2t*b2^t/(1-b2^t); while rho_t <= 5 the step is
  lr*m/(1-b1^t), then the rectified adaptive step.  State: exp_avg, exp_avg_sq.]],
  Rprop = [[
gd.optim.Rprop(params, {lr = 1e-2, etas = {0.5, 1.2}, step_sizes = {1e-6, 50},
maximize = false})   PyTorch 1.13's Rprop: each step size grows by etaplus where the
  gradient keeps its sign, shrinks by etaminus where it flips (and that gradient is
  taken as 0), clamped to step_sizes; p -= sign(g)*step.  Step sizes start at the
  lr of the first step.  State: prev, step_size.]],
}

--- help's list of an optimizer's flavors, from the registry: each flavor's
-- own names with their defaults, its fixed switches and its name clashes.
local function flavor_lines(name)
  local reg = flavors.registry(name)
  local order = sorted_keys(reg)
  for i, fl in ipairs(order) do if fl == "pytorch" then table.remove(order, i); table.insert(order, 1, fl) end end
  local lines = {}
  for _, fl in ipairs(order) do
    local r = reg[fl]
    local parts = {}
    for _, k in ipairs(sorted_keys(r.names)) do
      local v = r.defaults[r.names[k]]
      if type(v) == "table" then v = "{" .. v[1] .. ", " .. v[2] .. "}" end
      parts[#parts + 1] = v == nil and (k .. " (required)") or (k .. " " .. tostring(v))
    end
    local sw = {}
    for _, k in ipairs(sorted_keys(r.switches)) do sw[#sw + 1] = k .. " = " .. tostring(r.switches[k]) end
    local items = {}
    for i, p in ipairs(parts) do items[#items + 1] = p .. (i < #parts and "," or (#sw > 0 and ";" or "")) end
    if #sw > 0 then
      items[#items + 1] = "fixed:"
      for i, x in ipairs(sw) do items[#items + 1] = x .. (i < #sw and "," or "") end
    end
    for _, k in ipairs(sorted_keys(r.clashes)) do
      local c = r.clashes[k]
      items[#items] = items[#items] .. ";"
      for word in fmt("note: %s here is the system's own name for %s, not PyTorch's %s", k, c.means,
        c.pytorch):gmatch("%S+") do items[#items + 1] = word end
    end
    -- wrapped at 96 columns under the first name
    local line = fmt("    %-10s", fl)
    for _, item in ipairs(items) do
      if #line + 1 + #item > 96 and #line > 15 then
        lines[#lines + 1] = line
        line = string.rep(" ", 15) .. item
      else
        line = line .. " " .. item
      end
    end
    lines[#lines + 1] = line
  end
  return "\n" .. table.concat(lines, "\n")
end
for _, name in ipairs {"RMSProp", "AdaGrad", "SMORMS3"} do OPT_DOCS[name] = OPT_DOCS[name] .. flavor_lines(name) end
OPT_DOCS.RMSProp = OPT_DOCS.RMSProp .. [[

  opt.hyper reads and writes canonical (PyTorch) names: tiny-dnn's
  opt.hyper.alpha is its decay mu, Keras's weight decay is
  opt.hyper.decoupled_weight_decay; a flavor's own names that are not canonical
  names (learning_rate, rho, ...) are accepted on writes too.]]
OPT_DOCS.Lion = [[
gd.optim.Lion(params, {lr = 1e-4, betas = {0.9, 0.99}, weight_decay = 0})   Lion (Chen et al.
  2023; google/automl lion_pytorch.py): p *= 1 - lr*wd; p -= lr*sign(b1*m + (1-b1)*g);
  m = b2*m + (1-b2)*g.  State: exp_avg.]]
OPT_DOCS.AdaBelief = [[
gd.optim.AdaBelief(params, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-16, weight_decay = 0,
amsgrad = false, weight_decouple = true, fixed_decay = false, rectify = true,
degenerated_to_sgd = true})   AdaBelief (Zhuang et al. 2020; adabelief_pytorch 0.2.0): Adam
  with s = b2*s + (1-b2)*(g - m)^2 + eps (eps accumulates in s, as the source does);
  rectify: RAdam's rectified step once N_sma >= 5, an SGD step before.
  State: exp_avg, exp_avg_var, max_exp_avg_var.]]
OPT_DOCS.Adan = [[
gd.optim.Adan(params, {lr = 1e-3, betas = {0.98, 0.92, 0.99}, eps = 1e-8, weight_decay = 0,
max_grad_norm = 0, no_prox = false})   Adan (Xie et al. 2022; sail-sg/Adan adan.py): Nesterov
  momentum from the gradient difference; betas are the gradient's, the difference's and
  the second moment's; weight decay proximal (p /= 1 + lr*wd) unless no_prox.
  State: exp_avg, exp_avg_diff, exp_avg_sq, neg_pre_grad.]]
OPT_DOCS.NAdamW = [[
gd.optim.NAdamW(params, {lr = 2e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 1e-2,
momentum_decay = 4e-3})   PyTorch 2's NAdam(decoupled_weight_decay = true): p *= 1 - lr*wd,
  then NAdam (PyTorch 2's mu product).  State: exp_avg, exp_avg_sq, mu_product.]]
OPT_DOCS.AdamWScheduleFree = [[
gd.optim.AdamWScheduleFree(params, {lr = 0.0025, betas = {0.9, 0.999}, eps = 1e-8,
weight_decay = 0, warmup_steps = 0, r = 0, weight_lr_power = 2})   Schedule-Free AdamW
  (Defazio et al. 2024; facebookresearch/schedule_free): no schedule needed; call
  opt:eval() before evaluating or saving and opt:train() before training again.
  State: z, exp_avg_sq, weight_sum, lr_max.]]
OPT_DOCS.SGDScheduleFree = [[
gd.optim.SGDScheduleFree(params, {lr = 1.0, momentum = 0.9, weight_decay = 0, warmup_steps = 0,
r = 0, weight_lr_power = 2})   Schedule-Free SGD (facebookresearch/schedule_free
  sgd_schedulefree.py); opt:eval() / opt:train() as AdamWScheduleFree.  State: z,
  weight_sum, lr_max.]]

for name in pairs(KIND) do
  M[name] = doc(function(params, hyper) return new_optimizer(name, params, hyper) end, "gd.optim." .. name,
    OPT_DOCS[name] .. [[

  opt:step([closure]) -> the closure's loss (nothing without one), after one fused step;
  opt:zero_grad(); opt.hyper (canonical names, assignable between steps);
  opt:state_dict() / opt:load_state_dict(sd) (checked whole before anything
  changes); parameter groups as in PyTorch:
  gd.optim.SGD({{params = {w}}, {params = {b}, weight_decay = 0}}, {lr = 0.1}).
  Each parameter appears once (in one group), no two parameters or a parameter
  and a gradient share memory, and a parameter keeps its size once the
  optimizer has state (before that, a resized parameter is laid out anew).]])
end
M.RMSprop = M.RMSProp
M.Adagrad = M.AdaGrad
M.Adadelta = M.AdaDelta

-- ---------------------------------------------------------------- clipping

local function grads_of(fname, params)
  local list = param_list(fname, params, "params")
  local out = {}
  for _, p in ipairs(list) do
    if p.grad ~= nil then out[#out + 1] = p.grad end
  end
  return out
end

M.clip_grad_norm_ = doc(function(params, max_norm, norm_type)
  local fname = "gd.optim.clip_grad_norm_"
  local ok, gs = pcall(grads_of, fname, params)
  if not ok then error(gs, 2) end
  check.number(fname, "max_norm", max_norm, {min = 0})
  if norm_type == "inf" then norm_type = math.huge end
  norm_type = norm_type or 2
  check.number(fname, "norm_type", norm_type)
  local arr = ffi.new("gd_tensor*[?]", math.max(#gs, 1))
  for i, g in ipairs(gs) do arr[i - 1] = g.c end
  if C.gd_clip_grad_norm(arr, #gs, max_norm, norm_type, I.dbl) ~= 0 then error(fname .. ": " .. cerr(), 2) end
  return I.dbl[0]
end, "gd.optim.clip_grad_norm_", [[
gd.optim.clip_grad_norm_(params, max_norm, [norm_type = 2]) -> the total norm
  before clipping.  Scales all gradients together so that their joint norm is
  at most max_norm (PyTorch's clip_grad_norm_, with its 1e-6 guard).]])

M.clip_grad_value_ = doc(function(params, clip_value)
  local fname = "gd.optim.clip_grad_value_"
  local ok, gs = pcall(grads_of, fname, params)
  if not ok then error(gs, 2) end
  check.number(fname, "clip_value", clip_value, {min = 0})
  for _, g in ipairs(gs) do g:clamp_(-clip_value, clip_value) end
end, "gd.optim.clip_grad_value_", [[
gd.optim.clip_grad_value_(params, clip_value): clamps every gradient element to
  [-clip_value, clip_value].]])

-- Loaded on first use: the schedules (gd.optim.lr), LBFGS, Torch7's functional
-- optimizers and the layer-wise ones (norms, factored moments, Newton-Schulz:
-- gd.optim.layerwise).  Together they are ~360 KB of Lua heap, which every
-- full collection traverses: in a loop that never touches them (the d2l
-- quadratic through autograd collects every ~2000 steps) they made each
-- collection ~60 us slower.  The REPL completes these names (_submodules).
local lazy = {lr = "gd.optim.lr", LBFGS = "gd.optim.lbfgs", torch7 = "gd.optim.torch7",
              LAMB = "gd.optim.layerwise", LARS = "gd.optim.layerwise", Adafactor = "gd.optim.layerwise",
              Muon = "gd.optim.layerwise"}
M._submodules = lazy
setmetatable(M, {
  __index = function(t, k)
    local file = lazy[k]
    if not file then return nil end
    local v = require(file)
    if file == "gd.optim.layerwise" then v = v[k] end
    rawset(t, k, v)
    return v
  end,
})

-- torch.optim.SparseAdam updates only the rows a sparse gradient names; gdlua's
-- gradients are dense (nn.Embedding's too), so there is nothing for it to do
-- that Adam does not.  Named here so that a PyTorch user gets a reason, not
-- "attempt to call a nil value".
M.SparseAdam = doc(function()
  error("gd.optim.SparseAdam: not provided: gdlua has no sparse gradients (nn.Embedding's gradient is "
    .. "dense); on dense gradients SparseAdam's update is gd.optim.Adam's torch7 flavor", 2)
end, "gd.optim.SparseAdam", [[
gd.optim.SparseAdam: not provided.  PyTorch's SparseAdam needs sparse gradients
(nn.Embedding(sparse=True)); gdlua's gradients are dense, and calling it raises an
error that says so.  On a gradient with every entry present SparseAdam's update
(step_size = lr*sqrt(1-b2^t)/(1-b1^t), eps added to sqrt(v)) is Torch7's Adam:
gd.optim.Adam(params, {flavor = "torch7", learningRate = lr, epsilon = eps}).]])

doc(M, "gd.optim", [[
gd.optim: SGD, AdaGrad (Adagrad), RMSProp (RMSprop), AdaDelta, Adam, AdamW,
SMORMS3; each takes (params, hyper) with hyper.flavor choosing a system's
convention (help(gd.optim.RMSProp) lists them).  PyTorch 1.13's Adamax, ASGD,
NAdam, RAdam, Rprop and LBFGS (SparseAdam: gdlua has no sparse gradients).
opt:add_param_group(group).  Schedules in gd.optim.lr; clip_grad_norm_,
clip_grad_value_.]])

return M
