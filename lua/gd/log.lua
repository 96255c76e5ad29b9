--- gd.log: metrics to CSV files, like Torch7's optim.Logger, so that other
-- tools (a spreadsheet, gnuplot, pandas, gd.plot) can read them.
--
--     local log = gd.log.Logger("run.csv")
--     log:add{epoch = 1, loss = 0.31}        -- the first row fixes the columns
--     log:add{epoch = 2, loss = 0.27}
--     log:close()
--
-- Each row is written and flushed as it comes, so a crashed run keeps its
-- history.  gd.log.read(path) reads such a file back as columns.
local doc = require "gd.doc"
local check = require "gd.check"
local fmt = string.format

local M = {}

local Logger = {}
Logger.__index = Logger

-- columns that lead, when present, before the rest in sorted order
local LEADING = {"epoch", "step", "examples", "time"}

local function quote(s)
  s = tostring(s)
  if s:find('[,"\n\r]') then return '"' .. s:gsub('"', '""') .. '"' end
  return s
end

local LOGGER_OPTS = {names = true, sep = true, append = true}

M.Logger = doc(function(path, opts)
  local fname = "gd.log.Logger"
  check.path(fname, "the path", path, 2)
  opts = check.options(fname, opts, LOGGER_OPTS)
  local f, err = io.open(path, opts.append and "a" or "w")
  if not f then error(fname .. ": cannot open " .. tostring(err), 2) end
  local self = setmetatable({path = path, file = f, sep = opts.sep or ",", rows = 0}, Logger)
  if opts.names then self:set_names(opts.names) end
  return self
end, "gd.log.Logger", [[
gd.log.Logger(path, [{names = {...}, sep = ",", append = false}]) -> logger
  Writes metrics as CSV: a header row of column names, then one row per
  logger:add{name = value, ...} (or logger:add{v1, v2, ...} in names order).
  Without names, the first row's keys fix the columns (epoch, step, examples,
  time first, then the rest sorted).  Rows are flushed as written.
  logger:close() closes the file.  Torch7's setNames and style are accepted.]])

function Logger:set_names(names)
  if self.names then error("Logger:set_names: the columns are already fixed (" .. table.concat(self.names, ", ") .. ")", 2) end
  if type(names) ~= "table" or #names == 0 then error("Logger:set_names: expects an array of column names", 2) end
  self.names = {}
  self.index = {}
  for i, n in ipairs(names) do
    self.names[i] = tostring(n)
    self.index[tostring(n)] = i
  end
  local parts = {}
  for i, n in ipairs(self.names) do parts[i] = quote(n) end
  self.file:write(table.concat(parts, self.sep), "\n")
  self.file:flush()
  return self
end
Logger.setNames = Logger.set_names

--- Torch7 compatibility: plotting styles are a plotting tool's business.
function Logger:style() return self end

local function default_names(row)
  local names, seen = {}, {}
  for _, k in ipairs(LEADING) do
    if row[k] ~= nil then names[#names + 1] = k; seen[k] = true end
  end
  local rest = {}
  for k in pairs(row) do
    if type(k) == "string" and not seen[k] then rest[#rest + 1] = k end
  end
  table.sort(rest)
  for _, k in ipairs(rest) do names[#names + 1] = k end
  return names
end

local function cell(v)
  if v == nil then return "" end
  if type(v) == "number" then
    if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return fmt("%d", v) end
    return fmt("%.10g", v)
  end
  if type(v) == "boolean" then return v and "1" or "0" end
  return quote(v)
end

function Logger:add(row)
  if type(row) ~= "table" then error("Logger:add: expects a table of values, got " .. type(row), 2) end
  if not self.file then error("Logger:add: the logger was closed", 2) end
  if not self.names then
    if #row > 0 then error("Logger:add: positional values need names (Logger(path, {names = ...}))", 2) end
    self:set_names(default_names(row))
  end
  for k in pairs(row) do
    if type(k) == "string" and not self.index[k] then
      error(fmt("Logger:add: unknown column '%s' (the columns are %s)", k, table.concat(self.names, ", ")), 2)
    end
  end
  local parts = {}
  for i, n in ipairs(self.names) do
    local v = row[n]
    if v == nil then v = row[i] end
    parts[i] = cell(v)
  end
  self.file:write(table.concat(parts, self.sep), "\n")
  self.file:flush()
  self.rows = self.rows + 1
  return self
end

function Logger:close()
  if self.file then
    self.file:close()
    self.file = nil
  end
end

Logger.__tostring = function(self)
  return fmt("Logger(%s, %d rows%s)", self.path, self.rows,
    self.names and ": " .. table.concat(self.names, ", ") or "")
end

--- Splits one CSV line, honouring double quotes.
local function split_csv(line, sep)
  local fields, i, n = {}, 1, #line
  while i <= n + 1 do
    if line:sub(i, i) == '"' then
      local j, buf = i + 1, {}
      while j <= n do
        local c = line:sub(j, j)
        if c == '"' then
          if line:sub(j + 1, j + 1) == '"' then buf[#buf + 1] = '"'; j = j + 2
          else j = j + 1; break end
        else buf[#buf + 1] = c; j = j + 1 end
      end
      fields[#fields + 1] = table.concat(buf)
      i = j + 1
    else
      local j = line:find(sep, i, true) or n + 1
      fields[#fields + 1] = line:sub(i, j - 1)
      i = j + 1
    end
  end
  return fields
end

M.read = doc(function(path, opts)
  local fname = "gd.log.read"
  check.path(fname, "the path", path, 2)
  opts = check.options(fname, opts, {sep = true})
  local sep = opts.sep or ","
  local f, err = io.open(path, "r")
  if not f then error(fname .. ": cannot open " .. tostring(err), 2) end
  local names, cols = nil, {}
  for line in f:lines() do
    line = line:gsub("\r$", "")
    if line ~= "" then
      local fields = split_csv(line, sep)
      if not names then
        names = fields
        for i, n in ipairs(names) do cols[n] = {}; cols[i] = cols[n] end
      else
        for i, n in ipairs(names) do
          local s = fields[i]
          local v = s ~= nil and s ~= "" and (tonumber(s) or s) or nil
          local col = cols[n]
          col[#col + 1] = v == nil and (0 / 0) or v
        end
      end
    end
  end
  f:close()
  if not names then error(fname .. ": " .. path .. " is empty", 2) end
  for i = 1, #names do cols[i] = nil end
  return cols, names
end, "gd.log.read", [[
gd.log.read(path, [{sep = ","}]) -> columns, names: a Logger's CSV file back as
{name = {values...}} (numbers where they parse; empty cells are NaN).]])

doc(Logger.add, "gd.log.Logger:add", [[
logger:add{name = value, ...} or logger:add{v1, v2, ...} -> logger: writes one row
(missing values stay empty; unknown names are an error) and flushes it.]])
doc(Logger.close, "gd.log.Logger:close", "logger:close(): closes the file.")
doc(Logger.set_names, "gd.log.Logger:set_names", [[
logger:set_names{...} -> logger: fixes the columns and writes the header (also setNames).]])

doc(M, "gd.log", "gd.log: Logger(path) writes metrics as CSV; read(path) reads them back.")

return M
