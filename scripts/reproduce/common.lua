-- scripts/reproduce/common.lua: what the reproductions share -- their command
-- line (--trials N --budget full|quick|STEPS --seeds K --workers N --db FILE),
-- a sweep into a scratch database, and the side-by-side table.
local gd = rawget(_G, "gd") or require "gd"
local M = {}

function M.options(args, defaults)
  local o = {}
  for k, v in pairs(defaults) do o[k] = v end
  local i = 1
  while i <= #args do
    local k = args[i]:match("^%-%-(.+)$")
    if not k or (o[k] == nil and k ~= "db") then
      io.stderr:write("usage: [--trials N] [--budget full|quick|STEPS] [--seeds K] [--workers N] [--db FILE]\n")
      os.exit(2)
    end
    local v = args[i + 1]
    o[k] = tonumber(v) or v
    i = i + 2
  end
  return o
end

--- Runs the sweep into o.db (a scratch file unless given); returns gd.bench.summary's rows.
function M.sweep(o, spec)
  local db, scratch = o.db, o.db == nil
  if scratch then db = os.tmpname(); os.remove(db); db = db .. ".db" end
  spec.db, spec.trials, spec.budget, spec.seeds, spec.workers = db, o.trials, o.budget, o.seeds, o.workers
  spec.print = false
  gd.bench.run(spec)
  local s = gd.bench.summary(db)
  if scratch then for _, x in ipairs{"", "-wal", "-shm"} do os.remove(db .. x) end end
  return s
end

--- Prints rows {label, published, ours...} under a header, columns padded.
function M.table(header, rows)
  local w = {}
  for _, r in ipairs({header, unpack(rows)}) do
    for j, c in ipairs(r) do w[j] = math.max(w[j] or 0, #tostring(c)) end
  end
  for i, r in ipairs({header, unpack(rows)}) do
    local cells = {}
    for j, c in ipairs(r) do cells[j] = string.format("%-" .. w[j] .. "s", tostring(c)) end
    print(table.concat(cells, "  "))
    if i == 1 then
      local d = {}
      for j = 1, #w do d[j] = string.rep("-", w[j]) end
      print(table.concat(d, "  "))
    end
  end
end

return M
