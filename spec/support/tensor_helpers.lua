--- spec/support/tensor_helpers.lua: assertions shared by the tensor specs.
--
--   local H = require "spec.support.tensor_helpers"   (or dofile)
--
-- H.raises(fn, text)      fn() fails with a message containing `text`, raised
--                         at fn's own line (the caller's level), never inside gd
-- H.same(t, expected)     t's values (t:totable()) equal the nested table exactly
-- H.close(t, expected, tol)  the same within tol (default 1e-6, relative to 1)
-- H.shape(t)              t.shape as "2x3" ("" for a 0-d tensor)
-- H.rss_mb()              this process's resident memory (VmRSS) in MB
-- H.tmpdir()              a fresh temporary directory (removed by H.cleanup)
local M = {}

--- Checks that fn raises an error that (1) contains `text` (a plain
-- substring) and (2) is positioned at fn's source file: the error was raised
-- at the caller's level, not inside gd's own files.  Returns the message.
function M.raises(fn, text)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error containing '" .. tostring(text) .. "', but the call succeeded")
  err = tostring(err)
  if text then
    assert(err:find(text, 1, true), "expected an error containing '" .. text .. "', got: " .. err)
  end
  local src = debug.getinfo(fn, "S").short_src
  assert(err:sub(1, #src + 1) == src .. ":",
    "the error should point at the caller's line in " .. src .. ", got: " .. err)
  assert(not err:find("lua/gd/[%w_/]+%.lua:%d+:"), "the message carries a position inside gd: " .. err)
  return err
end

local function compare(a, b, tol, path)
  if type(b) == "table" then
    assert(type(a) == "table", path .. ": expected a table, got " .. tostring(a))
    assert(#a == #b, string.format("%s: expected %d entries, got %d", path, #b, #a))
    for i = 1, #b do compare(a[i], b[i], tol, path .. "[" .. i .. "]") end
    return
  end
  if b ~= b then
    assert(a ~= a, string.format("%s: expected nan, got %s", path, tostring(a)))
  elseif tol then
    local ok = a == b or math.abs(a - b) <= tol * math.max(1, math.abs(b))
    assert(ok, string.format("%s: expected %.17g, got %.17g", path, b, a))
  else
    assert(a == b, string.format("%s: expected %.17g, got %s", path, b, tostring(a)))
  end
end

--- t's values equal `expected` (a number or a nested table) exactly.
function M.same(t, expected)
  compare(t:totable(), expected, nil, "value")
end

--- t's values equal `expected` within tol (relative for |values| > 1).
function M.close(t, expected, tol)
  compare(type(t) == "number" and t or t:totable(), expected, tol or 1e-6, "value")
end

function M.shape(t)
  return table.concat(t.shape, "x")
end

function M.rss_mb()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  for line in f:lines() do
    local kb = line:match("^VmRSS:%s+(%d+)")
    if kb then f:close(); return tonumber(kb) / 1024 end
  end
  f:close()
  return nil
end

local dirs = {}
function M.tmpdir()
  local p = io.popen("mktemp -d")
  local d = p:read("*l")
  p:close()
  dirs[#dirs + 1] = d
  return d
end
function M.cleanup()
  for _, d in ipairs(dirs) do os.execute("rm -rf '" .. d .. "'") end
  dirs = {}
end

local files = require "spec.support.files"
M.read, M.write = files.read, files.write

--- Every number of a nested table, flattened in order.
function M.flat(t, out)
  out = out or {}
  if type(t) ~= "table" then out[#out + 1] = t; return out end
  for i = 1, #t do M.flat(t[i], out) end
  return out
end

return M
