-- optbench.lua: the optimizer benchmark on the command line (gd.bench).
--
--   gdlua scripts/optbench.lua run --problems quadratic_deep,digits_mlp --optimizers RMSProp,Adam \
--       [--flavors pytorch,tf1] [--budget quick|full|STEPS] [--seeds 3] [--trials 36] \
--       [--search grid|random] [--workers N] --db results.db
--   gdlua scripts/optbench.lua report results.db [--out report/]
--   gdlua scripts/optbench.lua problems        # lists the problems and what each needs
local gd = rawget(_G, "gd") or require "gd"
local args = {...}
local cmd = table.remove(args, 1)

local function usage(msg)
  if msg then io.stderr:write("optbench: " .. msg .. "\n") end
  io.stderr:write("usage: gdlua scripts/optbench.lua run --db FILE [--problems a,b] [--optimizers A,B] " ..
    "[--flavors f,g] [--budget quick|full|N] [--seeds K] [--trials N] [--search grid|random] [--workers N]\n" ..
    "       gdlua scripts/optbench.lua report FILE [--out DIR]\n       gdlua scripts/optbench.lua problems\n")
  os.exit(msg and 2 or 0)
end

local function list(s) local t = {}; for v in s:gmatch("[^,]+") do t[#t + 1] = v end; return t end

local function flags(a, allowed)
  local o, pos = {}, {}
  local i = 1
  while i <= #a do
    local k = a[i]:match("^%-%-(.+)$")
    if k then
      if not allowed[k] then usage("unknown option --" .. k) end
      if a[i + 1] == nil then usage("--" .. k .. " needs a value") end
      o[k] = a[i + 1]
      i = i + 2
    else pos[#pos + 1] = a[i]; i = i + 1 end
  end
  return o, pos
end

local function int(o, k)
  if o[k] == nil then return nil end
  local n = tonumber(o[k])
  if not n then usage("--" .. k .. " must be a number, got " .. o[k]) end
  return n
end

if cmd == "run" then
  local o = flags(args, {problems = true, optimizers = true, flavors = true, budget = true, seeds = true,
    trials = true, workers = true, db = true, search = true})
  if not o.db then usage("run needs --db FILE") end
  local ok, err = pcall(gd.bench.run, {db = o.db, problems = o.problems and list(o.problems),
    optimizers = o.optimizers and list(o.optimizers), flavors = o.flavors and list(o.flavors),
    budget = tonumber(o.budget) or o.budget, seeds = int(o, "seeds"), trials = int(o, "trials"),
    workers = int(o, "workers"), search = o.search})
  if not ok then usage(tostring(err)) end
elseif cmd == "report" then
  local o, pos = flags(args, {out = true})
  if not pos[1] then usage("report needs the database file") end
  gd.bench.report(pos[1], {out = o.out or "report"})
  print("optbench: wrote " .. (o.out or "report") .. "/report.md")
elseif cmd == "problems" then
  local P = gd.bench.problems
  for _, n in ipairs(P.names) do
    local p = P[n]
    print(string.format("%-18s %-8s budget %5d quick %3d target %-6g %s", n, p.metric, p.budget, p.quick, p.target,
      p.absent or p.source or ""))
  end
elseif cmd == nil or cmd == "-h" or cmd == "--help" then usage()
else usage("unknown command " .. tostring(cmd)) end
