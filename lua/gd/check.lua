--- gd.check: the one way gd's Lua layer checks arguments (like lauxlib's
-- luaL_check* family).  Every failure raises `error("<fname>: <what>", level)`
-- so messages name the function, the argument and what was wrong, and point at
-- the caller's line.
local M = {}

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
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(string.format("%s: options must be a table, got %s", fname, type(opts)), (level or 2) + 1)
  end
  for k in pairs(opts) do
    if not allowed[k] then
      error(fname .. ": " .. M.unknown_message("option", k, sorted_keys(allowed)), (level or 2) + 1)
    end
  end
  return opts
end

--- A finite number (or nil when optional and absent); `what` names the argument.
function M.number(fname, what, v, opt)
  opt = opt or {}
  if v == nil and opt.default ~= nil then return opt.default end
  if type(v) ~= "number" then
    error(string.format("%s: %s must be a number, got %s", fname, what, type(v)), (opt.level or 2) + 1)
  end
  if v ~= v then error(string.format("%s: %s is NaN", fname, what), (opt.level or 2) + 1) end
  if opt.integer and v ~= math.floor(v) then
    error(string.format("%s: %s must be an integer, got %s", fname, what, tostring(v)), (opt.level or 2) + 1)
  end
  if opt.min and v < opt.min then
    error(string.format("%s: %s must be >= %s, got %s", fname, what, tostring(opt.min), tostring(v)),
      (opt.level or 2) + 1)
  end
  return v
end

return M
