--- gd.check: the one way gd's Lua layer checks arguments (like lauxlib's
-- luaL_check* family).  Every failure raises `error("<fname>: <what>", level)`
-- so messages name the function, the argument and what was wrong, and point at
-- the caller's line.
--
-- The caller's line: a public function often fails several calls deep inside
-- gd's own files (gd.zeros -> a helper -> the C call), where a fixed level
-- would point into gd itself.  `check.raise(msg)` instead walks up the stack
-- past every frame of a file registered with `check.register_internal()` and
-- raises at the first frame outside them: the user's line (or the C function,
-- such as pcall, that called gd).  The functions below take an optional
-- explicit level (counted like error()'s, from the function calling them;
-- default 2, its caller); called without one from a registered file, they
-- raise at the first frame outside gd.
local M = {}

local internal = {}

--- Marks the calling file as part of gd's core: errors raised with
-- check.raise point past its frames.
function M.register_internal()
  internal[debug.getinfo(2, "S").source] = true
end
M.register_internal()

--- For error(msg, level) in the function that called this one: the level of
-- the first frame above it outside the registered files (0 when none is).
local function outside_level()
  -- getinfo(1) is outside_level, 2 is raise (level 1 for error), 3 is raise's caller
  local level = 3
  while true do
    local info = debug.getinfo(level, "S")
    if info == nil then return 0 end
    if not internal[info.source] then return level - 1 end
    level = level + 1
  end
end

--- Raises msg at the caller's level (see the top of this file).
function M.raise(msg)
  error(msg, outside_level())
end

-- The check functions' own failures.  `level` counts as error()'s does, from
-- the function that called the check function (default 2: that function's
-- caller).  When the check function was called from a registered file and no
-- level was given, the error goes to the first frame outside gd instead.
local function fail(msg, level)
  local caller = debug.getinfo(3, "S") -- 1 fail, 2 the check function, 3 its caller
  if level == nil and caller and internal[caller.source] then error(msg, outside_level()) end
  error(msg, (level or 2) + 2)
end

--- Edit distance between two strings (for "did you mean" suggestions).
function M.distance(a, b)
  a, b = a:lower(), b:lower()
  local la, lb = #a, #b
  if la == 0 then return lb end
  if lb == 0 then return la end
  local prev, cur = {}, {}
  for j = 0, lb do prev[j] = j end
  for i = 1, la do
    cur[0] = i
    local ca = a:byte(i)
    for j = 1, lb do
      local cost = ca == b:byte(j) and 0 or 1
      local v = prev[j] + 1
      if cur[j - 1] + 1 < v then v = cur[j - 1] + 1 end
      if prev[j - 1] + cost < v then v = prev[j - 1] + cost end
      cur[j] = v
    end
    prev, cur = cur, prev
  end
  return prev[lb]
end

--- The candidate nearest to name, or nil when none is plausibly meant.
function M.suggest(name, candidates)
  local best, bestd
  for _, c in ipairs(candidates) do
    local d = M.distance(name, c)
    if not bestd or d < bestd or (d == bestd and c < best) then best, bestd = c, d end
  end
  if best and bestd <= math.max(2, math.floor(#name / 3)) then return best end
  -- a prefix or substring match is a good guess too ("lr_dec" -> "lr_decay")
  for _, c in ipairs(candidates) do
    if #name >= 3 and (c:find(name, 1, true) or name:find(c, 1, true)) then return c end
  end
  return nil
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

--- "unknown option 'dtyp' (did you mean 'dtype'?); valid options: device, dtype"
function M.unknown_message(kind, name, valid)
  local msg = string.format("unknown %s '%s'", kind, tostring(name))
  local s = type(name) == "string" and M.suggest(name, valid) or nil
  if s then msg = msg .. string.format(" (did you mean '%s'?)", s) end
  return msg .. "; valid " .. kind .. "s: " .. table.concat(valid, ", ")
end

--- Checks that opts (nil or a table) only has keys of `allowed` (a set).
-- Returns opts or an empty table.
function M.options(fname, opts, allowed, level)
  -- type(), not == nil: a NULL cdata compares equal to nil in LuaJIT
  if type(opts) == "nil" then return {} end
  if type(opts) ~= "table" then
    fail(string.format("%s: options must be a table, got %s", fname, type(opts)), level)
  end
  for k in pairs(opts) do
    if not allowed[k] then
      fail(fname .. ": " .. M.unknown_message("option", k, sorted_keys(allowed)), level)
    end
  end
  return opts
end

--- A number that is not NaN (or opt.default when v is nil and a default is
-- given); `what` names the argument.  opt: integer, min, max, finite, level.
function M.number(fname, what, v, opt)
  opt = opt or {}
  local level = opt.level
  -- type(), not == nil: a NULL cdata compares equal to nil in LuaJIT and
  -- would take the default
  if type(v) == "nil" and opt.default ~= nil then return opt.default end
  if type(v) ~= "number" then
    fail(string.format("%s: %s must be a number, got %s", fname, what, type(v)), level)
  end
  if v ~= v then fail(string.format("%s: %s is NaN", fname, what), level) end
  if (opt.integer or opt.finite) and (v == math.huge or v == -math.huge) then
    fail(string.format("%s: %s must be finite, got %s", fname, what, tostring(v)), level)
  end
  if opt.integer and v ~= math.floor(v) then
    fail(string.format("%s: %s must be an integer, got %s", fname, what, tostring(v)), level)
  end
  if opt.min and v < opt.min then
    fail(string.format("%s: %s must be >= %s, got %s", fname, what, tostring(opt.min), tostring(v)), level)
  end
  if opt.max and v > opt.max then
    fail(string.format("%s: %s must be <= %s, got %s", fname, what, tostring(opt.max), tostring(v)), level)
  end
  return v
end

--- A file name: a non-empty string without NUL bytes (C stops reading a name
-- at its first NUL, so "x\0.npy" would silently name the file "x").  `what`
-- names the argument, e.g. "argument 1 (path)".  Returns path.
function M.path(fname, what, path, level)
  if type(path) ~= "string" then
    fail(string.format("%s: %s must be a string, got %s", fname, what, type(path)), level)
  end
  if path == "" then fail(string.format("%s: %s is an empty string", fname, what), level) end
  local z = path:find("\0", 1, true)
  if z then
    fail(string.format("%s: %s contains a NUL byte (at position %d of '%s')", fname, what, z,
      (path:gsub("%z", "\\0"))), level)
  end
  return path
end

return M
