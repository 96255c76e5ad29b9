-- Files for specs: whole-file reads and writes, and where the reference data
-- lives (../shared from the repository root, or $GDLUA_SHARED).  Specs that
-- need ../shared skip cleanly when it is absent.
local M = {}

--- The bytes of a file, or nil.
function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

function M.write(path, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
end

function M.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

M.shared_dir = os.getenv("GDLUA_SHARED") or "../shared"

--- A path under the shared reference data: M.shared("data/digits.csv.gz").
function M.shared(relative) return M.shared_dir .. "/" .. relative end

return M
