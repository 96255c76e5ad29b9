--- gd.bench.cli: the benchmark's command line, shared by `gdlua -m gd.bench`,
-- scripts/optbench.lua and the installed gdlua-optbench.
--
--   run --db results.db [--problems a,b] [--optimizers A,B] [--flavors f,g]
--       [--schedules none,CosineAnnealingLR] [--budget quick|full|STEPS] [--seeds K]
--       [--trials N] [--search grid|random] [--space 'momentum=0,0.9;eps=1e-8,1e-4']
--       [--hyper 'momentum=0.9'] [--workers N]
--   report results.db [--out report/] [--formats svg,png]
--   problems
-- main returns the exit status (0, or 2 after a usage message) and never
-- calls os.exit, so that Lua code and specs can call it.
local M = {}

local USAGE = [[
usage: gdlua -m gd.bench run --db FILE [--problems a,b] [--optimizers A,B] [--flavors f,g]
           [--schedules none,StepLR] [--budget quick|full|N] [--seeds K] [--trials N]
           [--search grid|random] [--space 'key=v1,v2;key2=lo,hi'] [--hyper 'key=v;...'] [--workers N]
       gdlua -m gd.bench report FILE [--out DIR] [--formats svg,png]
       gdlua -m gd.bench problems
  (the same as gdlua scripts/optbench.lua ... and gdlua-optbench ...)
  --space: grid search takes each key's values; random search takes lo,hi (log-uniform)
  --schedules: gd.optim.lr names, options as 'StepLR gamma=0.5 step_size=10'
]]
M.USAGE = USAGE

local function list(s) local t = {}; for v in s:gmatch("[^,]+") do t[#t + 1] = v end; return t end

local function value(v) return tonumber(v) or (v == "true" and true) or (v == "false" and false) or v end

-- "k=v1,v2;k2=v" -> {k = {v1, v2}, k2 = {v}} (lists) or {k = v1, ...} (scalars)
local function keyvals(s, lists)
  local t = {}
  for part in s:gmatch("[^;]+") do
    local k, v = part:match("^%s*([%w_%.]+)%s*=%s*(.-)%s*$")
    if not k then return nil, part end
    if lists then
      local xs = {}
      for x in v:gmatch("[^,]+") do xs[#xs + 1] = value(x) end
      t[k] = xs
    else t[k] = value(v) end
  end
  return t
end
M.keyvals = keyvals

local function parse(a, allowed)
  local o, pos = {}, {}
  local i = 1
  while i <= #a do
    local k = a[i]:match("^%-%-(.+)$")
    if k then
      if not allowed[k] then return nil, "unknown option --" .. k end
      if a[i + 1] == nil then return nil, "--" .. k .. " needs a value" end
      o[k] = a[i + 1]
      i = i + 2
    else pos[#pos + 1] = a[i]; i = i + 1 end
  end
  return o, pos
end

local function usage(msg)
  if msg then io.stderr:write("gd.bench: " .. msg .. "\n") end
  io.stderr:write(USAGE)
  return msg and 2 or 0
end

local RUN_FLAGS = {problems = true, optimizers = true, flavors = true, schedules = true, budget = true, seeds = true,
  trials = true, workers = true, db = true, search = true, space = true, hyper = true}

function M.main(args)
  local bench = require "gd.bench"
  args = {unpack(args)}
  local cmd = table.remove(args, 1)
  if cmd == "run" then
    local o, err = parse(args, RUN_FLAGS)
    if not o then return usage(err) end
    if not o.db then return usage("run needs --db FILE") end
    for _, k in ipairs{"seeds", "trials", "workers"} do
      if o[k] and not tonumber(o[k]) then return usage("--" .. k .. " must be a number, got " .. o[k]) end
    end
    local sp, hy
    if o.space then
      sp, err = keyvals(o.space, true)
      if not sp then return usage("--space: expected key=v1,v2;..., got " .. err) end
      if o.search == "random" then
        for k, v in pairs(sp) do sp[k] = #v == 2 and v or {choice = v} end
      end
    end
    if o.hyper then
      hy, err = keyvals(o.hyper, false)
      if not hy then return usage("--hyper: expected key=value;..., got " .. err) end
    end
    local ok, res = pcall(bench.run, {db = o.db, problems = o.problems and list(o.problems),
      optimizers = o.optimizers and list(o.optimizers), flavors = o.flavors and list(o.flavors),
      schedules = o.schedules and list(o.schedules),
      budget = tonumber(o.budget) or o.budget, seeds = tonumber(o.seeds), trials = tonumber(o.trials),
      workers = tonumber(o.workers), search = o.search, space = sp, hyper = hy})
    if not ok then return usage(tostring(res)) end
    return 0
  elseif cmd == "report" then
    local o, pos = parse(args, {out = true, formats = true})
    if not o then return usage(pos) end
    if not pos[1] then return usage("report needs the database file") end
    local f = io.open(pos[1], "rb")
    if not f then return usage("report: no such database: " .. pos[1]) end
    f:close()
    local out = o.out or "report"
    local ok, err = pcall(bench.report, pos[1], {out = out, formats = o.formats and list(o.formats)})
    if not ok then return usage(tostring(err)) end
    print("gd.bench: wrote " .. out .. "/report.md")
    return 0
  elseif cmd == "problems" then
    local P = bench.problems
    for _, n in ipairs(P.names) do
      local p = P[n]
      print(string.format("%-18s %-8s budget %5d quick %3d target %-6g %s", n, p.metric, p.budget, p.quick, p.target,
        p.absent or p.source or ""))
    end
    return 0
  elseif cmd == nil or cmd == "-h" or cmd == "--help" or cmd == "help" then
    return usage()
  end
  return usage("unknown command " .. tostring(cmd))
end

return M
