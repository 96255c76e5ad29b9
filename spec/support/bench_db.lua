--- spec/support/bench_db.lua: scratch results databases for the gd.bench specs.
--   local B = dofile("spec/support/bench_db.lua")
--   local db = B.tmpdb(); B.rows(db, "SELECT ..."); B.cleanup(db)
local bench = require("gd").bench
local M = {}

function M.tmpdb()
  local p = os.tmpname()
  os.remove(p)
  return p .. ".db"
end

function M.cleanup(p) for _, s in ipairs{"", "-wal", "-shm"} do os.remove(p .. s) end end

function M.rows(path, sql, ...)
  local db = bench.open(path)
  local r = db:rows(sql, ...)
  db:close()
  return r
end

return M
