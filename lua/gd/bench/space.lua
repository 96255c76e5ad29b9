--- gd.bench.space: what a sweep tries -- hyperparameter settings (grid or
-- random search), learning-rate schedules, and the flat JSON they are stored as.
--
-- Grid search (DeepOBS): space maps each hyperparameter to a list of values and
-- the settings are their Cartesian product; without an lr entry, lr takes
-- DeepOBS's grid of `trials` points, np.logspace(-5, 2, 36) by default.
-- Random search: space maps each hyperparameter to {lo, hi} (log-uniform, both
-- > 0), {lo, hi, scale = "linear"} (uniform) or {choice = {a, b, ...}}; `trials`
-- draws from MT19937 seeded 0, so every optimizer gets the same settings.
-- Schedules are PyTorch's lr_scheduler (gd.optim.lr) stepped once an epoch;
-- a schedule is stored as one canonical string, "none", "StepLR" or
-- "StepLR gamma=0.5 step_size=10" (keys sorted; lists as 30;60).
local doc = require "gd.doc"
local MT = require "gd.bench.mt19937"

local M = {}
local fmt = string.format

--- The shortest %g text that reads back as v (0.9, not 0.90000000000000002).
local function num(v)
  for _, p in ipairs{"%.15g", "%.16g"} do
    local t = fmt(p, v)
    if tonumber(t) == v then return t end
  end
  return fmt("%.17g", v)
end
M.number_text = num

-- ---------------------------------------------------------------- JSON
-- Flat objects of numbers, booleans and strings; keys sorted, so that one
-- setting has one text (the trials table's UNIQUE key relies on it).
local function jstring(s)
  return '"' .. tostring(s):gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' elseif c == "\\" then return "\\\\" end
    return fmt("\\u%04x", c:byte())
  end) .. '"'
end

function M.encode(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = t[k]
    local s
    if type(v) == "number" then
      if v ~= v or v == math.huge or v == -math.huge then
        error(fmt("gd.bench: hyperparameter %s = %s cannot be stored (not finite)", k, tostring(v)), 2)
      end
      s = num(v)
    elseif type(v) == "boolean" then s = tostring(v)
    elseif type(v) == "string" then s = jstring(v)
    else error(fmt("gd.bench: hyperparameter %s must be a number, boolean or string, got %s", k, type(v)), 2) end
    parts[#parts + 1] = jstring(k) .. ":" .. s
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

local unescape = {['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t"}
local function read_string(s, i)   -- s:sub(i, i) == '"'; returns the string and the index past it
  local out = {}
  i = i + 1
  while true do
    local c = s:sub(i, i)
    if c == "" then error("gd.bench.json_decode: unterminated string", 3) end
    if c == '"' then return table.concat(out), i + 1 end
    if c == "\\" then
      local e = s:sub(i + 1, i + 1)
      if e == "u" then out[#out + 1] = string.char(tonumber(s:sub(i + 2, i + 5), 16) % 256); i = i + 6
      else out[#out + 1] = unescape[e] or e; i = i + 2 end
    else out[#out + 1] = c; i = i + 1 end
  end
end

function M.decode(s)
  local t, i = {}, 2
  if s:sub(1, 1) ~= "{" then error("gd.bench.json_decode: not a JSON object: " .. s:sub(1, 40), 2) end
  while true do
    i = s:find("[^%s,]", i) or #s + 1
    local c = s:sub(i, i)
    if c == "}" or c == "" then return t end
    local k
    k, i = read_string(s, i)
    i = s:find(":", i, true) + 1
    i = s:find("%S", i)
    if s:sub(i, i) == '"' then t[k], i = read_string(s, i)
    else
      local v = s:match("^[^,}%s]+", i)
      i = i + #v
      if v == "true" or v == "false" then t[k] = v == "true" else t[k] = tonumber(v) end
    end
  end
end

-- ---------------------------------------------------------------- settings
function M.lr_grid(n)
  n = n or 36
  local g = {}
  for i = 1, n do g[i] = 10 ^ (-5 + 7 * (i - 1) / math.max(n - 1, 1)) end
  return g
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

--- The settings of a sweep: an array of hyper tables (fixed values merged in).
-- fname names the caller in errors.
function M.settings(fname, search, space, ntrials, fixed)
  space = space or {}
  fixed = fixed or {}
  local function base()
    local h = {}
    for k, v in pairs(fixed) do h[k] = v end
    return h
  end
  for k, v in pairs(space) do
    if type(k) ~= "string" then error(fmt("%s: space keys must be hyperparameter names, got %s", fname, tostring(k)), 0) end
    if type(v) ~= "table" then
      error(fmt("%s: space.%s must be a table (%s), got %s", fname, k,
        search == "grid" and "a list of values" or "{lo, hi}, {lo, hi, scale = \"linear\"} or {choice = {...}}",
        type(v)), 0)
    end
  end
  local out = {}
  if search == "grid" then
    local axes = {}
    local keys = sorted_keys(space)
    if space.lr == nil then axes[#axes + 1] = {"lr", M.lr_grid(ntrials)} end
    for _, k in ipairs(keys) do
      local v = space[k]
      if #v == 0 then error(fmt("%s: space.%s: a grid axis needs at least one value", fname, k), 0) end
      axes[#axes + 1] = {k, v}
    end
    local function rec(i, h)
      if i > #axes then
        local c = base()
        for k, v in pairs(h) do c[k] = v end
        out[#out + 1] = c
        return
      end
      for _, v in ipairs(axes[i][2]) do h[axes[i][1]] = v; rec(i + 1, h) end
    end
    rec(1, {})
  else
    if next(space) == nil then space = {lr = {1e-5, 1e2}} end
    local keys = sorted_keys(space)
    for _, k in ipairs(keys) do
      local r = space[k]
      if r.choice then
        if type(r.choice) ~= "table" or #r.choice == 0 then
          error(fmt("%s: space.%s.choice must be a non-empty list", fname, k), 0)
        end
      elseif type(r[1]) ~= "number" or type(r[2]) ~= "number" or not (r[1] < r[2]) then
        error(fmt("%s: space.%s must be {lo, hi} with lo < hi, got {%s, %s}", fname, k, tostring(r[1]), tostring(r[2])), 0)
      elseif r.scale ~= "linear" and r[1] <= 0 then
        error(fmt("%s: space.%s: a log-uniform range needs lo > 0 (or scale = \"linear\"), got %g", fname, k, r[1]), 0)
      end
    end
    local rng = MT.RandomState(0)   -- the same settings for every optimizer
    for _ = 1, ntrials do
      local h = base()
      for _, k in ipairs(keys) do
        local r, u = space[k], rng:random()
        if r.choice then h[k] = r.choice[math.floor(u * #r.choice) + 1]
        elseif r.scale == "linear" then h[k] = r[1] + u * (r[2] - r[1])
        else h[k] = math.exp(math.log(r[1]) + u * (math.log(r[2]) - math.log(r[1]))) end
      end
      out[#out + 1] = h
    end
  end
  return out
end

-- ---------------------------------------------------------------- schedules
-- Schedules that need a function or other schedulers cannot be stored as text.
local UNSTORABLE = {LambdaLR = true, MultiplicativeLR = true, SequentialLR = true, ChainedScheduler = true}

--- The canonical text of a schedule: "none" | name | {name, k = v, ...}.
function M.schedule_label(fname, s)
  if s == nil or s == "none" then return "none" end
  local name, args
  if type(s) == "string" then
    if s:find(" ", 1, true) then return M.schedule_label(fname, M.parse_schedule(s)) end
    name, args = s, {}
  elseif type(s) == "table" then name, args = s[1] or s.name, s
  else error(fmt("%s: a schedule must be a name or {name, options...}, got %s", fname, type(s)), 0) end
  local lr = require "gd.optim.lr"
  if type(name) ~= "string" or type(lr[name]) ~= "function" or name == "Schedule" then
    local names = {}
    for k, v in pairs(lr) do if type(v) == "function" and k:match("^%u") then names[#names + 1] = k end end
    table.sort(names)
    error(fmt("%s: %s", fname, require("gd.check").unknown_message("schedule", tostring(name), names)), 0)
  end
  if UNSTORABLE[name] then
    error(fmt("%s: schedule %s takes functions or schedulers and cannot be stored in a sweep", fname, name), 0)
  end
  local parts = {name}
  local keys = {}
  for k in pairs(args) do if k ~= 1 and k ~= "name" then keys[#keys + 1] = k end end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = args[k]
    if type(v) == "table" then
      local xs = {}
      for i, x in ipairs(v) do xs[i] = num(x) end
      v = table.concat(xs, ";")
    elseif type(v) == "number" then v = num(v)
    else v = tostring(v) end
    parts[#parts + 1] = k .. "=" .. v
  end
  return table.concat(parts, " ")
end

--- The canonical text of an optimizer with fixed hyperparameters: "SGD" |
-- {"SGD", momentum = 0.99} | "SGD momentum=0.99" -> "SGD momentum=0.99" (DeepOBS's
-- "Momentum" baseline is SGD with momentum 0.99, its baselines/quadratic_deep/
-- MomentumOptimizer/...momentum__9.9e-01...: a name of its own in the results).
function M.optimizer_label(fname, o)
  local t = type(o) == "string" and M.parse_schedule(o) or o
  if type(t) ~= "table" or type(t[1]) ~= "string" then
    error(fmt("%s: an optimizer must be a name or {name, hyper...}, got %s", fname, type(o)), 0)
  end
  local optim = require "gd.optim"
  if type(optim[t[1]]) ~= "table" and type(optim[t[1]]) ~= "function" then
    error(fmt("%s: unknown optimizer %q", fname, t[1]), 0)
  end
  local parts = {t[1]}
  local keys = {}
  for k in pairs(t) do if k ~= 1 then keys[#keys + 1] = k end end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = t[k]
    parts[#parts + 1] = k .. "=" .. (type(v) == "number" and num(v) or tostring(v))
  end
  return table.concat(parts, " ")
end

--- The optimizer class name and fixed hyperparameters of an optimizer label.
function M.parse_optimizer(label)
  local t = M.parse_schedule(label)
  local name = t[1]
  t[1] = nil
  return name, t
end

--- The table form {name, k = v} of a schedule's text.
function M.parse_schedule(text)
  local t = {}
  for word in text:gmatch("%S+") do
    local k, v = word:match("^([^=]+)=(.*)$")
    if not k then t[1] = word
    elseif v:find(";", 1, true) then
      local xs = {}
      for x in v:gmatch("[^;]+") do xs[#xs + 1] = tonumber(x) end
      t[k] = xs
    else t[k] = tonumber(v) or (v == "true" and true) or (v == "false" and false) or v end
  end
  return t
end

--- A scheduler on opt for schedule text `label` over a run of `epochs` epochs
-- (nil for "none").  Options the schedule needs and the text leaves out come
-- from the run: T_max (CosineAnnealingLR), total_iters (PolynomialLR),
-- step_size (StepLR: a third of the run), total_steps and max_lr (OneCycleLR:
-- the run and the setting's lr).
function M.make_schedule(opt, label, epochs)
  if label == "none" then return nil end
  local t = M.parse_schedule(label)
  local name = t[1]
  t[1] = nil
  epochs = math.max(1, math.floor(epochs))
  if name == "CosineAnnealingLR" and t.T_max == nil then t.T_max = epochs end
  if name == "PolynomialLR" and t.total_iters == nil then t.total_iters = epochs end
  if name == "StepLR" and t.step_size == nil then t.step_size = math.max(1, math.floor(epochs / 3)) end
  if name == "OneCycleLR" then
    if t.total_steps == nil and t.epochs == nil then t.total_steps = epochs + 1 end
    if t.max_lr == nil then t.max_lr = opt.hyper.lr end
  end
  return require("gd.optim.lr")[name](opt, t), name
end

return doc(M, "gd.bench.space", [[
gd.bench.space: a sweep's settings and schedules.
  settings(fname, "grid" | "random", space, trials, fixed) -> {hyper, ...}:
    grid: Cartesian product of space's value lists (lr: DeepOBS's grid of
    `trials` points 1e-5..1e2 unless given); random: `trials` draws, each key
    {lo, hi} log-uniform, {lo, hi, scale = "linear"} or {choice = {...}}.
  schedule_label(fname, "none" | "StepLR" | {"StepLR", gamma = 0.5}) -> text;
  make_schedule(opt, text, epochs) -> a gd.optim.lr scheduler (stepped each epoch);
  encode(t) / decode(s): flat JSON, keys sorted; lr_grid(n).]])
