--- gd.experiment: run several optimizers on one objective and compare them.
--
--   local res = gd.experiment.run{
--     objective = gd.objectives.quadratic, steps = 20,
--     runs = { {name = "RMSProp (d2l)", optimizer = "RMSProp", hyper = {flavor = "d2l", lr = 0.4, gamma = 0.9}},
--              {name = "Adam", optimizer = "Adam", hyper = {lr = 0.4}} }}
--
-- prints a table (final x, f(x), steps until f is within tol of the minimum, time)
-- and returns one result per run: losses (f after 0..steps steps), trajectory
-- (the points visited, for 2-D problems), the final x, and the wall time.
local gd = require "gd"
local doc = require "gd.doc"
local check = require "gd.check"
local now = require "gd.clock"

local M = {}
local fmt = string.format

local RUN_KEYS = {name = true, optimizer = true, hyper = true, published = true}
local SPEC_KEYS = {objective = true, runs = true, steps = true, tol = true, dtype = true, device = true,
                   x0 = true, print = true, trajectory = true, title = true}

local function copy(t)
  local c = {}
  for k, v in pairs(t or {}) do c[k] = v end
  return c
end

--- The optimizer constructor a run names: a gd.optim class name or a function.
local function constructor(fname, run, i)
  local o = run.optimizer
  if type(o) == "string" then
    local optim = gd.optim
    local ctor = optim[o]
    if ctor == nil then
      local names = {}
      for k in pairs(optim._submodules or {}) do local _ = optim[k] end   -- (the lazily loaded ones too)
      for k, v in pairs(optim) do
        if type(k) == "string" and (type(v) == "function" or type(v) == "table") and k:match("^%u") then
          names[#names + 1] = k
        end
      end
      table.sort(names)
      error(fmt("%s: runs[%d]: %s", fname, i, check.unknown_message("optimizer", o, names)), 3)
    end
    return ctor
  end
  if type(o) == "function" or (type(o) == "table" and getmetatable(o) and getmetatable(o).__call) then
    return o
  end
  error(fmt("%s: runs[%d].optimizer must be a gd.optim name (\"RMSProp\") or a constructor, got %s",
    fname, i, type(o)), 3)
end

--- Runs one optimizer: returns its result table.
local function run_one(objective, run, ctor, opts)
  local x
  local x0 = opts.x0 or objective.x0
  if gd.is_tensor(x0) then
    x = x0:to({dtype = opts.dtype, device = opts.device})
    if x:is_same_storage(x0) then x = x:clone() end
  else
    x = gd.tensor(x0, {dtype = opts.dtype, device = opts.device})
  end
  x.grad = gd.zeros_like(x)
  local f, grad = objective.f, objective.grad
  local steps = opts.steps
  local losses = {}
  local keep = opts.trajectory
  local traj = keep and {{x:get(1), x:get(2)}} or nil

  collectgarbage()  -- so that one run does not pay for the garbage of the last
  local t0 = now()
  local opt = ctor({x}, copy(run.hyper))
  local g = x.grad
  local last
  local function closure()
    grad(x, g)
    last = f(x)
    return last
  end
  for k = 1, steps do
    local loss = opt:step(closure)
    losses[k] = type(loss) == "number" and loss or last  -- f before step k = f after k-1 steps
    if keep then traj[k + 1] = {x:get(1), x:get(2)} end
  end
  losses[steps + 1] = f(x)
  local elapsed = now() - t0

  local result = {
    name = run.name, optimizer = run.optimizer, hyper = run.hyper, published = run.published,
    x = x, f = losses[steps + 1], losses = losses, trajectory = traj, time = elapsed,
  }
  if objective.f_min then
    for k = 1, steps + 1 do
      if losses[k] - objective.f_min <= opts.tol then result.steps_to_tol = k - 1; break end
    end
  end
  return result
end

local function run(spec)
  local fname = "gd.experiment.run"
  check.options(fname, spec, SPEC_KEYS)
  local objective = spec.objective
  -- f alone (a function, or a table without grad): the gradient comes from autograd
  if type(objective) == "function" then
    objective = gd.objectives.from_function(objective, {x0 = spec.x0})
  elseif type(objective) == "table" and type(objective.f) == "function" and objective.grad == nil then
    local o = {}
    for k, v in pairs(objective) do o[k] = v end
    o.grad = gd.objectives.from_function(objective.f).grad
    objective = o
  end
  if type(objective) ~= "table" or type(objective.f) ~= "function" or type(objective.grad) ~= "function" then
    error(fname .. ": objective must be a table with f(x) and grad(x, out), or f alone: a function f(x) written "
      .. "with tensor operations (see gd.objectives)", 2)
  end
  if type(spec.runs) ~= "table" or #spec.runs == 0 then
    error(fname .. ": runs must be a non-empty array of {name =, optimizer =, hyper =}", 2)
  end
  local opts = {
    steps = check.number(fname, "steps", spec.steps, {default = 20, integer = true, min = 0}),
    tol = check.number(fname, "tol", spec.tol, {default = 1e-3, min = 0}),
    dtype = spec.dtype or "float64", device = spec.device or "cpu", x0 = spec.x0,
  }
  local x0 = opts.x0 or objective.x0
  if x0 == nil then error(fname .. ": the objective has no x0; give one (x0 = {...})", 2) end
  local n = gd.is_tensor(x0) and x0:numel() or #x0
  if spec.trajectory == nil then opts.trajectory = n == 2 else opts.trajectory = spec.trajectory and n == 2 end

  local ctors = {}
  for i, r in ipairs(spec.runs) do
    if type(r) ~= "table" then error(fmt("%s: runs[%d] must be a table", fname, i), 2) end
    check.options(fmt("%s: runs[%d]", fname, i), r, RUN_KEYS, 2)
    ctors[i] = constructor(fname, r, i)
  end

  local results = {objective = objective, steps = opts.steps, tol = opts.tol, title = spec.title}
  for i, r in ipairs(spec.runs) do
    local named = copy(r)
    named.name = r.name or (type(r.optimizer) == "string" and r.optimizer) or ("run " .. i)
    results[i] = run_one(objective, named, ctors[i], opts)
  end
  if spec.print ~= false then print(M.format(results)) end
  return results
end
M.run = doc(run, "gd.experiment.run", [[
gd.experiment.run{objective = obj, runs = {{name =, optimizer =, hyper =, [published =]}, ...},
  [steps = 20], [tol = 1e-3], [dtype = "float64"], [device = "cpu"], [x0 = {...}],
  [print = true], [trajectory], [title]} -> results
Runs each optimizer from obj.x0 (or x0) for `steps` steps on the objective (see
gd.objectives; any table with f(x), grad(x, out) and x0 works, on tensors of any size),
prints the comparison table (see gd.experiment.format) and returns an array with, per run:
  name, x (the final tensor), f (final value), losses[k] = f after k-1 steps (steps+1
  values), trajectory = {{x1, x2}, ...} (2-D problems only), time (seconds, wall clock),
  steps_to_tol (first step count with f - f_min <= tol; nil when never).
`optimizer` is a gd.optim name ("RMSProp") or a constructor(params, hyper); `published`
holds reference final coordinates printed beside gdlua's (e.g. d2l's).]])

-- ------------------------------------------------------------ the table

--- Formats rows (arrays of strings) under header as aligned columns: the first
-- column left-aligned, the others right-aligned.
local function format_table(header, rows)
  local function cells(v, what)
    if type(v) ~= "table" then
      error(string.format("gd.experiment.table: %s must be an array of strings, got %s", what, type(v)), 3)
    end
  end
  cells(header, "the header")
  if type(rows) ~= "table" then
    error("gd.experiment.table: the rows must be an array of rows (arrays of strings), got " .. type(rows), 2)
  end
  for i, row in ipairs(rows) do cells(row, "row " .. i) end
  local widths = {}
  for _, row in ipairs({header, unpack(rows)}) do
    for j, cell in ipairs(row) do widths[j] = math.max(widths[j] or 0, #cell) end
  end
  local lines = {}
  local function line(row)
    local cells = {}
    for j = 1, #header do
      local cell = row[j] or ""
      cells[j] = j == 1 and cell .. string.rep(" ", widths[j] - #cell) or string.rep(" ", widths[j] - #cell) .. cell
    end
    lines[#lines + 1] = (table.concat(cells, "  "):gsub("%s+$", ""))
  end
  line(header)
  local rule = {}
  for j = 1, #header do rule[j] = string.rep("-", widths[j]) end
  lines[#lines + 1] = table.concat(rule, "  ")
  for _, row in ipairs(rows) do line(row) end
  return table.concat(lines, "\n")
end
M.table = doc(format_table, "gd.experiment.table", [[
gd.experiment.table(header, rows) -> a string: the cells (strings) in aligned columns
under a header and a rule; the first column left-aligned, the rest right-aligned.]])

--- A number in 6 decimals (as d2l prints coordinates); with small = "e", values
-- below 1e-4 in exponent form instead (so that a loss of 3e-9 is not "0.000000").
local function number(v, small)
  if v ~= v then return "nan" end
  if v == math.huge then return "inf" elseif v == -math.huge then return "-inf" end
  local a = math.abs(v)
  if a >= 1e6 or (small == "e" and v ~= 0 and a < 1e-4) then return fmt("%.3e", v) end
  return fmt("%.6f", v)
end

local function duration(s)
  if s < 1e-3 then return fmt("%.0f us", s * 1e6) end
  if s < 1 then return fmt("%.2f ms", s * 1e3) end
  return fmt("%.2f s", s)
end

--- x agrees with published coordinates printed to 6 decimals when each lies
-- within their rounding (half a unit in the 6th decimal) of x.
local function agrees(x, published)
  for i, p in ipairs(published) do
    if not (math.abs(x[i] - p) <= 5e-7 + 1e-12) then return false end
  end
  return true
end

local function format(results)
  local objective = results.objective or {}
  local first = results[1]
  if first == nil then return "(no runs)" end
  local n = first.x:numel()
  local coords = n <= 3
  local header = {"run"}
  if coords then
    local names = objective.coordinates or {}
    for i = 1, n do header[#header + 1] = names[i] or ("x" .. i) end
  else
    header[#header + 1] = "|x - x*|"
  end
  header[#header + 1] = "f(x)"
  header[#header + 1] = fmt("steps to tol %g", results.tol or 1e-3)
  header[#header + 1] = "time"
  local any_published = false
  for _, r in ipairs(results) do if r.published then any_published = true end end
  if any_published then
    for i = 1, n do header[#header + 1] = "published " .. header[i + 1] end
    header[#header + 1] = "agree"
  end
  local minimum = objective.minimum
  local min_t = (not coords and minimum) and gd.tensor(minimum, {dtype = first.x.dtype, device = first.x.device})
  local rows = {}
  for _, r in ipairs(results) do
    local row = {r.name}
    local xs = r.x:to("cpu"):totable()
    if coords then
      for i = 1, n do row[#row + 1] = number(xs[i]) end
    else
      row[#row + 1] = min_t and number((r.x - min_t):norm(), "e") or "-"
    end
    row[#row + 1] = number(r.f, "e")
    row[#row + 1] = r.steps_to_tol and tostring(r.steps_to_tol) or "-"
    row[#row + 1] = duration(r.time)
    if any_published then
      if r.published then
        for i = 1, n do row[#row + 1] = r.published[i] and fmt("%.6f", r.published[i]) or "" end
        row[#row + 1] = agrees(xs, r.published) and "yes" or "NO"
      else
        for _ = 1, n + 1 do row[#row + 1] = "" end
      end
    end
    rows[#rows + 1] = row
  end
  local title = results.title or fmt("%s: f(x) = %s, %d steps", objective.name or "objective",
    objective.formula or "?", results.steps or #first.losses - 1)
  return title .. "\n" .. format_table(header, rows)
end
M.format = doc(format, "gd.experiment.format", [[
gd.experiment.format(results) -> the comparison table of gd.experiment.run's results as a
string: per run the final x (coordinates up to 3-D, named by objective.coordinates when
it has them, else the distance to the minimum),
f(x), the steps until f - f_min <= tol ("-" when never), the wall time, and, when runs
carry `published` values (printed to 6 decimals), those beside gdlua's, with "yes" where
gdlua's lie within their rounding (5e-7).]])

return doc(M, "gd.experiment", [[
gd.experiment: compare optimizers on an objective in a few lines.
  gd.experiment.run{objective = gd.objectives.rosenbrock, steps = 200, runs = {
    {name = "Adam", optimizer = "Adam", hyper = {lr = 0.05}},
    {name = "RMSProp", optimizer = "RMSProp", hyper = {lr = 0.01}}}}
Functions: run, format, table.  Plot the results with gd.plot.trace_2d(obj, results)
and gd.plot.losses(results).]])
