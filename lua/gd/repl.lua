--- gd.repl: the logic of gdlua's interactive loop.
--
-- The host (src/host/repl.c) reads lines, from libedit on a terminal, and
-- drives this module:
--
--     repl.start(host)              once; host = {tty = bool, now = fn, listdir = fn}
--     repl.prompt()                 the prompt for the next line
--     repl.feed(line)               -> action, entry
--                                      action: "more" (the chunk is incomplete),
--                                      "done" or "quit"; entry: text for the history
--     repl.cancel()                 Ctrl-C at the prompt: forget a pending chunk
--     repl.complete(before, width)  TAB -> text to insert, listing to show
--
-- The pieces are usable (and tested) without the host: repl.compile,
-- repl.format, repl.candidates, repl.help.
--
-- A chunk typed here runs with the JIT off for its own code (jit.off(f, true)
-- also covers the functions it defines); library code keeps the JIT.  The
-- reason: LuaJIT's compiled loops never look at debug hooks, so Ctrl-C (a
-- hook, as in lua.c) could not stop `while true do end` once it is compiled.
-- `:jit on` compiles REPL code too, at the price of such loops.
local doc = require "gd.doc"
local repl_locals = require "gd.repl_locals"

local M = {}

local jit = rawget(_G, "jit")
local select, type, tostring, pcall, xpcall = select, type, tostring, pcall, xpcall
local getmetatable, rawget, next = getmetatable, rawget, next
local concat, sort = table.concat, table.sort
local loadstring, assert, pairs, ipairs, unpack, rawset = loadstring, assert, pairs, ipairs, unpack, rawset
local math, os, debug, package = math, os, debug, package

local host = {}          -- the host's functions (see start)
local pending = nil      -- lines of an incomplete chunk
M.show_time = false      -- :time on
M.jit = false            -- :jit on
M.session = repl_locals.new()   -- the top-level locals typed so far

---------------------------------------------------------------------- helpers

local keywords = repl_locals.keywords    -- Lua's reserved words, as a set

local function is_identifier(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil and not keywords[s]
end

local function gd_module()
  return package.loaded.gd or rawget(_G, "gd")
end

local function is_tensor(v)
  if type(v) ~= "cdata" then return false end
  local gd = gd_module()
  local check = type(gd) == "table" and rawget(gd, "is_tensor")
  if not check then return false end
  local ok, yes = pcall(check, v)
  return ok and yes == true
end

-- tostring that never raises: a failing __tostring is reported in place.
local function safe_tostring(v)
  local ok, s = pcall(tostring, v)
  if ok and type(s) == "string" then return s end
  return ("<%s: __tostring failed: %s>"):format(type(v), tostring(s))
end

local function has_tostring(v)
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__tostring") ~= nil
end

-- Captured now, so that a session that reassigns io or print keeps working.
local stdout, stderr = io.stdout, io.stderr

local function write_out(s)
  stdout:write(s, "\n")
end

local function write_err(s)
  stdout:flush()
  stderr:write(s, "\n")
end

---------------------------------------------------------------- pretty printing

M.max_depth = 4          -- nested tables deeper than this print as {...}
M.max_items = 50         -- entries shown per table
M.max_total = 400        -- entries shown in all; after that tables print as {...}
M.max_string = 200       -- characters of a string shown inside a table
M.line_width = 80        -- a table that fits in this prints on one line

local escapes = {['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r",
                 ["\t"] = "\\t", ["\0"] = "\\0"}

local function quote(s)
  local shown = s
  local more = ""
  if #s > M.max_string then
    shown = s:sub(1, M.max_string)
    more = ("...(%d bytes)"):format(#s)
  end
  shown = shown:gsub('[%c"\\]', function(c)
    return escapes[c] or ("\\%03d"):format(c:byte())
  end)
  return '"' .. shown .. '"' .. more
end

-- A one-line description of a tensor, for tensors inside tables.
local function tensor_summary(t)
  local ok, s = pcall(function()
    local shape = t.shape
    local dims = {}
    for i = 1, #shape do dims[i] = tostring(shape[i]) end
    return ("<tensor %s %s %s>"):format(tostring(t.dtype), tostring(t.device),
                                      #dims > 0 and concat(dims, "x") or "scalar")
  end)
  if ok then return s end
  return (safe_tostring(t):match("^[^\n]*"))
end

-- Orders keys: numbers, then strings, then anything else.
local key_rank = {number = 1, string = 2}
local function key_less(a, b)
  local ta, tb = type(a), type(b)
  local ra, rb = key_rank[ta] or 3, key_rank[tb] or 3
  if ra ~= rb then return ra < rb end
  if ta == tb and (ta == "number" or ta == "string") then return a < b end
  return tostring(a) < tostring(b)
end

local render

local function render_key(k, state)
  if is_identifier(k) then return k end
  if type(k) == "string" then return "[" .. quote(k) .. "]" end
  return "[" .. render(k, 1, state, "") .. "]"
end

-- The string for v at nesting level `level` (0: a top-level result).
-- state.seen holds the tables being printed (the current path), for cycles;
-- state.budget the number of entries that may still be shown.
function render(v, level, state, indent)
  local tv = type(v)
  if tv == "string" then
    return level == 0 and v or quote(v)
  elseif tv == "number" or tv == "boolean" or tv == "nil" then
    return tostring(v)
  elseif tv == "cdata" then
    if is_tensor(v) then
      return level == 0 and safe_tostring(v) or tensor_summary(v)
    end
    return safe_tostring(v)
  elseif tv == "function" then
    local _, name = doc.lookup(v)
    return name and ("<function %s>"):format(name) or tostring(v)
  elseif tv ~= "table" then
    return safe_tostring(v)
  end

  -- tables: optimizers, modules and other objects describe themselves
  if has_tostring(v) then
    return level == 0 and safe_tostring(v) or (safe_tostring(v):match("^[^\n]*"))
  end
  local seen = state.seen
  if seen[v] then return "<cycle>" end
  if level > 0 then
    local _, name = doc.lookup(v)
    if name then return ("<%s>"):format(name) end
  end
  if level >= M.max_depth or state.budget <= 0 then
    return next(v) == nil and "{}" or "{...}"
  end

  seen[v] = true
  local items, n = {}, 0
  local shown_array = 0
  while rawget(v, shown_array + 1) ~= nil do shown_array = shown_array + 1 end
  local keys = {}
  for k in next, v do
    if not (type(k) == "number" and k >= 1 and k <= shown_array and k % 1 == 0) then
      keys[#keys + 1] = k
    end
  end
  sort(keys, key_less)
  local total = shown_array + #keys
  local inner = indent .. "  "
  local limit = math.min(M.max_items, math.max(state.budget, 1))
  state.budget = state.budget - math.min(total, limit)
  for i = 1, shown_array do
    if n >= limit then break end
    n = n + 1
    items[n] = render(rawget(v, i), level + 1, state, inner)
  end
  for _, k in ipairs(keys) do
    if n >= limit then break end
    n = n + 1
    items[n] = render_key(k, state) .. " = " .. render(rawget(v, k), level + 1, state, inner)
  end
  seen[v] = nil
  if total > n then items[n + 1] = ("... (%d more)"):format(total - n) end
  if #items == 0 then return "{}" end

  local one_line = "{" .. concat(items, ", ") .. "}"
  if #indent + #one_line <= M.line_width and not one_line:find("\n", 1, true) then
    return one_line
  end
  return "{\n" .. inner .. concat(items, ",\n" .. inner) .. "\n" .. indent .. "}"
end

--- The text the REPL prints for a value: strings as they are, tensors and
-- objects through their __tostring, tables with their contents (indented,
-- cycle-safe, limited in depth and size).
function M.format(v)
  return render(v, 0, {seen = {}, budget = M.max_total}, "")
end

--- Prints n results side by side (tab-separated, like print).
function M.print_results(n, ...)
  if n == 0 then return end
  local parts = {}
  for i = 1, n do parts[i] = M.format((select(i, ...))) end
  write_out(concat(parts, "\t"))
end

------------------------------------------------------------------ compiling

-- True when a load error says the chunk merely ended too early (lua.c's
-- incomplete(): the message ends in '<eof>').  An unfinished short string
-- continues only after a trailing backslash; otherwise it is a real error.
local function is_incomplete(err, src)
  if not err:find("'<eof>'$") then return false end
  if err:find("unfinished string near '<eof>'$", 1) then
    return src:find("\\$") ~= nil
  end
  return true
end

--- Compiles a REPL chunk.  Returns f, show (false after a trailing ';'), or
-- nil, "incomplete", or nil, message.  A chunk is tried as `return <chunk>`
-- first (so that expressions print), then as statements.  Top-level locals
-- live on in the session (M.session, see gd.repl_locals): a later chunk sees
-- them as a script's later lines would.
function M.compile(src)
  local body = src:gsub("[%s;]*$", "")
  local show = not src:find(";[%s;]*$")
  body = body:gsub("^%s*=", "return ", 1)     -- Lua 5.1's `= expr`
  local f, err_expr = loadstring("return " .. body, "=stdin")
  if f then
    -- Run it as an argument list instead: `return error("x")` would be a tail
    -- call, and LuaJIT's tail calls drop the frame that gives the error its
    -- "stdin:1:" position and the traceback its line.
    local g, err = M.session:wrap("return " .. repl_locals.RESULTS .. "(" .. body .. "\n)", "=stdin")
    if g then return g, show end
    return nil, err
  end
  local g, err_stat = loadstring(body, "=stdin")
  if g then
    local w, err = M.session:wrap(body, "=stdin")
    if w then return w, show end
    return nil, err
  end
  if is_incomplete(err_stat, body) or is_incomplete(err_expr, body) then
    return nil, "incomplete"
  end
  return nil, err_stat
end

----------------------------------------------------------------- running

-- The error handler: the message and a traceback that stops where the REPL's
-- own frames begin.
local function traceback(e)
  local msg
  if type(e) == "string" then
    msg = e
  elseif has_tostring(e) then
    msg = safe_tostring(e)
  else
    msg = ("(error object is a %s value)"):format(type(e))
  end
  local tb = debug.traceback("", 2)
  local lines = {}
  for line in tb:gmatch("[^\n]+") do
    if line:find("in function 'xpcall'", 1, true) or line:find("gd/repl.lua:", 1, true) then
      break
    end
    if line ~= "stack traceback:" then lines[#lines + 1] = line end
  end
  if #lines == 0 then return msg end
  -- the chunk itself runs inside gd.repl_locals' wrapper function: name it as lua.c would
  lines[#lines] = lines[#lines]:gsub("^(%s*stdin:%d+: in )function <stdin:1>$", "%1main chunk")
  return msg .. "\nstack traceback:\n" .. concat(lines, "\n")
end

local function now()
  return host.now and host.now() or os.clock()
end

local function format_seconds(s)
  if s < 1e-3 then return ("%.1f us"):format(s * 1e6) end
  if s < 1 then return ("%.1f ms"):format(s * 1e3) end
  if s < 60 then return ("%.2f s"):format(s) end
  return ("%dm %.1fs"):format(math.floor(s / 60), s % 60)
end

local function pack(...) return {n = select("#", ...), ...} end

--- Runs a compiled chunk: prints its results (unless show is false), keeps
-- the first in `_`, prints an error with a short traceback.  Returns true
-- when the chunk ran without error.
function M.run(f, show)
  if jit and not M.jit then jit.off(f, true) end
  local t0 = now()
  local r = pack(xpcall(f, traceback))
  local elapsed = now() - t0
  if r[1] then
    if r.n > 1 then
      rawset(_G, "_", r[2])
      if show ~= false then M.print_results(r.n - 1, unpack(r, 2, r.n)) end
    end
  else
    local msg = tostring(r[2])
    -- On a terminal Ctrl-C has echoed "^C" at the end of the output line.
    if host.tty and msg:match("^[^\n]-interrupted!") then stdout:write("\n") end
    write_err(msg)
  end
  if M.show_time then write_out("wall time: " .. format_seconds(elapsed)) end
  return r[1]
end

--------------------------------------------------------------------- help

local overview = [[
gdlua REPL
  1 + 1            an expression prints its value; several print side by side
  x = f();         a trailing ';' hides the result; _ holds the last result
  local y = 2      top-level locals live on at the next prompts, as in a script
  help(x), ?x, x?  documentation of a gd function, module, optimizer or method
  TAB              completes globals, fields, methods, gd modules, file names
  :time on|off     print the wall time of each command
  :jit on|off      JIT-compile code typed here (off by default: with it on,
                   Ctrl-C cannot stop a compiled loop such as while true do end)
  :q               quit (or Ctrl-D)
  Ctrl-C           stops a running command, or clears the line]]

-- Names a table's __index function can produce: a `_submodules` list on the
-- table itself, or the keys of the sets of names the function closes over
-- (tables whose keys are strings and values true or strings: gd's lazily
-- loaded submodules are such a set).
local function lazy_names(t, index_fn, add)
  local list = rawget(t, "_submodules")
  if type(list) == "table" then
    for k, v in pairs(list) do
      if type(k) == "string" then add(k) elseif type(v) == "string" then add(v) end
    end
    return
  end
  if type(index_fn) ~= "function" then return end
  for i = 1, 60 do
    local name, up = debug.getupvalue(index_fn, i)
    if name == nil then break end
    if type(up) == "table" and up ~= t and getmetatable(up) == nil then
      local names, is_set = {}, true
      for k, val in next, up do
        if type(k) ~= "string" or (val ~= true and type(val) ~= "string") then
          is_set = false
          break
        end
        names[#names + 1] = k
      end
      if is_set then for _, k in ipairs(names) do add(k) end end
    end
  end
end

-- Lays names out in columns, as ls does, within `width` characters.
function M.columns(names, width)
  local widest = 0
  for _, s in ipairs(names) do widest = math.max(widest, #s) end
  local colw = widest + 2
  local ncols = math.max(1, math.floor((width or 80) / colw))
  local nrows = math.ceil(#names / ncols)
  local lines = {}
  for r = 1, nrows do
    local row = {}
    for c = 0, ncols - 1 do
      local s = names[c * nrows + r]
      if s then row[#row + 1] = s .. (" "):rep(colw - #s) end
    end
    lines[r] = concat(row):gsub("%s+$", "")
  end
  return concat(lines, "\n") .. "\n"
end

-- A name for v: its documented name, the module it is (package.loaded), a
-- global or a field of gd holding it; nil if none is found.
local function name_of(v)
  local _, name = doc.lookup(v)
  if name then return name end
  if type(v) ~= "table" and type(v) ~= "function" then return nil end
  local best    -- the shortest module name: gd is also package.loaded["gd.tensor"]
  for k, m in pairs(package.loaded) do
    if m == v and type(k) == "string" and (not best or #k < #best) then best = k end
  end
  if best then return best end
  for k, g in pairs(_G) do
    if g == v and type(k) == "string" then return k end
  end
  local gd = gd_module()
  if type(gd) == "table" then
    for k, f in pairs(gd) do
      if f == v and type(k) == "string" then return "gd." .. k end
    end
  end
  return nil
end

local function describe(v)
  if type(v) == "string" then return quote(v) end
  local name = name_of(v)
  if name then return name end
  if is_tensor(v) then return "a tensor" end
  return ("a %s (%s)"):format(type(v), safe_tostring(v):match("^[^\n]*"))
end

-- Documented names under a dotted prefix, or under its parent.
local class_doc

local function names_near(name)
  local all = doc.names()
  local function with_prefix(prefix)
    local found = {}
    for _, n in ipairs(all) do
      if n:sub(1, #prefix) == prefix and n ~= name then found[#found + 1] = n end
    end
    return found
  end
  local found = with_prefix(name)
  if #found == 0 then
    local parent = name:match("^(.*[%.:])[^%.:]*$")
    if parent then found = with_prefix(parent) end
  end
  return found
end

-- Documented functions reachable as fields of a table (and its methods).
local function documented_fields(t)
  local found, seen = {}, {}
  local depth = 0
  while type(t) == "table" and depth < 8 do
    for _, v in next, t do
      local _, name = doc.lookup(v)
      if name and not seen[name] then seen[name] = true; found[#found + 1] = name end
    end
    local mt = getmetatable(t)
    t = type(mt) == "table" and rawget(mt, "__index") or nil
    depth = depth + 1
  end
  sort(found)
  return found
end

--- help(x): prints the documentation of x (a gd function, module, optimizer,
-- tensor method ...).  help("gd.zeros") looks a name up; help() gives an
-- overview of the REPL.  `?x` at the prompt is short for help(x).
function M.help(...)
  if select("#", ...) == 0 then
    write_out(overview)
    return
  end
  local v, name = ...
  local text, docname = doc.lookup(v)
  if not text and type(name) == "string" then text, docname = doc.find(name) end
  if not text and type(v) == "string" then
    text, docname = doc.find(v)
    if not text then name = name or v end
  end
  if not text and is_tensor(v) then text, docname = doc.find("gd.Tensor") end
  if not text and type(v) == "table" and getmetatable(v) ~= nil then
    text, docname = class_doc(v)
  end
  if text then
    write_out(text)
    return
  end

  name = name or name_of(v)
  local lines = {("No documentation for %s."):format(name or describe(v))}
  local fields = documented_fields(v)
  local submodules = {}
  if type(v) == "table" then
    local mt = getmetatable(v)
    local index = type(mt) == "table" and rawget(mt, "__index")
    if type(index) == "function" then
      lazy_names(v, index, function(k) submodules[#submodules + 1] = (name or "?") .. "." .. k end)
      sort(submodules)
    end
  end
  if #fields > 0 or #submodules > 0 then
    if #fields > 0 then
      lines[#lines + 1] = "Documented functions in it (help(name) for one):"
      lines[#lines + 1] = M.columns(fields, M.line_width)
    end
    if #submodules > 0 then
      lines[#lines + 1] = "Submodules, loaded when first used:"
      lines[#lines + 1] = M.columns(submodules, M.line_width)
    end
  elseif type(name) == "string" then
    local near = names_near(name)
    if #near > 0 then
      lines[#lines + 1] = "Documented names like it:"
      lines[#lines + 1] = M.columns(near, M.line_width)
    end
  end
  if #lines == 1 then
    lines[2] = "help() shows how to use the REPL; help(gd) lists what gd offers.\n"
  end
  stdout:write(concat(lines, "\n"))
end

-- The documentation of an object's class (an optimizer, a module): its
-- metatable or __index if documented, else the documented name ending in
-- the class name, which is the first word its __tostring gives
-- ("RMSProp (pytorch): lr=..." -> gd.optim.RMSProp).
class_doc = function(v)
  local mt = getmetatable(v)
  if type(mt) ~= "table" then return nil end
  local text, name = doc.lookup(mt)
  if text then return text, name end
  local index = rawget(mt, "__index")
  if type(index) == "table" then
    text, name = doc.lookup(index)
    if text then return text, name end
  end
  local class = type(rawget(mt, "__name")) == "string" and rawget(mt, "__name")
  if not class and has_tostring(v) then class = safe_tostring(v):match("^%s*([%a_][%w_]*)") end
  if not class then return nil end
  local found
  for _, n in ipairs(doc.names()) do
    if n:match("[%.:]([%a_][%w_]*)$") == class then
      if found then return nil end      -- ambiguous
      found = n
    end
  end
  if found then return doc.find(found) end
  return nil
end

-- `?expr`: evaluates expr and shows its documentation.
local function help_command(expr)
  if expr == "" then return M.help() end
  local f = loadstring("return " .. expr, "=stdin") and M.session:wrap("return " .. expr, "=stdin")
  if not f then
    -- not an expression (`?gd.optim.` say): look the text up by name
    return M.help(nil, expr)
  end
  local ok, v = xpcall(f, traceback)
  if not ok then v = nil end
  M.help(v, expr)
end

----------------------------------------------------------------- commands

local commands = {}

local function on_off(current, arg, what)
  if arg == "on" then return true end
  if arg == "off" then return false end
  if arg == "" then return not current end
  write_err(("usage: :%s on|off"):format(what))
  return current
end

commands.q = function() return "quit" end
commands.quit = commands.q
commands.exit = commands.q
commands.help = function() M.help() end
commands.time = function(arg)
  M.show_time = on_off(M.show_time, arg, "time")
  write_out("timing is " .. (M.show_time and "on" or "off"))
end
commands.jit = function(arg)
  M.jit = on_off(M.jit, arg, "jit")
  write_out("JIT compilation of REPL code is " .. (M.jit and "on" or "off"))
end

local function run_command(line)
  local name, arg = line:match("^:(%a+)%s*(.-)%s*$")
  local command = name and commands[name]
  if not command then
    local names = {}
    for k in pairs(commands) do names[#names + 1] = ":" .. k end
    sort(names)
    write_err(("unknown command %s (commands: %s)"):format(line, concat(names, " ")))
    return "done"
  end
  return command(arg) or "done"
end

----------------------------------------------------------------- the loop

--- Called once by the host before the first prompt.
function M.start(h)
  host = h or {}
  pending = nil
  rawset(_G, "help", M.help)
  if host.tty then write_out("Type help() for help, :q or Ctrl-D to quit.") end
end

function M.prompt()
  if pending then
    local p = rawget(_G, "_PROMPT2")
    return type(p) == "string" and p or ">> "
  end
  local p = rawget(_G, "_PROMPT")
  return type(p) == "string" and p or "> "
end

function M.cancel()
  pending = nil
end

--- Handles one line of input; see the top of the file.
function M.feed(line)
  if not pending then
    local trimmed = line:match("^%s*(.-)%s*$")
    if trimmed == "" then return "done" end
    if trimmed:match("^:%a") then return run_command(trimmed), line end
    if trimmed:sub(1, 1) == "?" then
      help_command(trimmed:sub(2):match("^%s*(.-)$"))
      return "done", line
    end
    -- IPython's `x?` too, unless the line is Lua as it is (`x = 1 -- why?`)
    if trimmed:sub(-1) == "?" and not loadstring(trimmed) and not loadstring("return " .. trimmed) then
      help_command(trimmed:match("^(.-)%s*%?+$"))
      return "done", line
    end
    pending = {}
  end
  pending[#pending + 1] = line
  local src = concat(pending, "\n")
  local f, show_or_err = M.compile(src)
  if not f and show_or_err == "incomplete" then return "more" end
  pending = nil
  if f then
    M.run(f, show_or_err)
  else
    write_err(show_or_err)
  end
  return "done", src
end

---------------------------------------------------------------- completion

-- Where a string opened and not closed before the end of `s` starts (the
-- index of its first character), or nil; also false inside a comment.
local function open_string(s)
  local i, n = 1, #s
  while i <= n do
    local c = s:sub(i, i)
    if c == '"' or c == "'" then
      local j = i + 1
      while j <= n do
        local d = s:sub(j, j)
        if d == "\\" then j = j + 2
        elseif d == c then break
        else j = j + 1 end
      end
      if j > n then return i + 1 end
      i = j + 1
    elseif c == "-" and s:sub(i + 1, i + 1) == "-" then
      local eq = s:match("^%[(=*)%[", i + 2)
      if eq then
        local close = s:find("]" .. eq .. "]", i + 4 + #eq, true)
        if not close then return false end
        i = close + #eq + 2
      else
        local nl = s:find("\n", i, true)
        if not nl then return false end
        i = nl + 1
      end
    elseif c == "[" and s:match("^%[=*%[", i) then
      local eq = s:match("^%[(=*)%[", i)
      local first = i + #eq + 2
      local close = s:find("]" .. eq .. "]", first, true)
      if not close then return first end
      i = close + #eq + 2
    else
      i = i + 1
    end
  end
  return nil
end

local function callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__call") ~= nil
end

-- v[k] without raising (fields of tensors, lazy gd modules ...).
local function safe_index(v, k)
  local tv = type(v)
  if tv ~= "table" and tv ~= "cdata" and tv ~= "userdata" and tv ~= "string" then return nil end
  local ok, r = pcall(function() return v[k] end)
  if ok then return r end
  return nil
end

-- The field names of v; only callable ones when methods is true.
local function field_names(v, methods)
  local out, seen = {}, {}
  local function add(k, value, known)
    if is_identifier(k) and not seen[k] and (not methods or not known or callable(value)) then
      seen[k] = true
      out[#out + 1] = k
    end
  end
  if type(v) == "table" then
    local t, depth = v, 0
    while type(t) == "table" and depth < 10 do
      for k, value in next, t do add(k, value, true) end
      local mt = getmetatable(t)
      if type(mt) ~= "table" then break end
      local index = rawget(mt, "__index")
      if type(index) == "function" and not methods then
        lazy_names(t, index, function(k) add(k) end)
      end
      if type(index) ~= "table" then break end
      t, depth = index, depth + 1
    end
  elseif is_tensor(v) then
    local gd = gd_module()
    local methods_table = type(gd) == "table" and rawget(gd, "Tensor")
    if type(methods_table) == "table" then
      for k, value in next, methods_table do add(k, value, true) end
    end
    if not methods then
      for _, k in ipairs({"shape", "dtype", "device", "grad"}) do add(k) end
    end
  elseif type(v) == "string" then
    for k, value in next, string do add(k, value, true) end
  else
    local mt = getmetatable(v)
    local index = type(mt) == "table" and rawget(mt, "__index")
    if type(index) == "table" then
      for k, value in next, index do add(k, value, true) end
    end
  end
  sort(out)
  return out
end

local function file_candidates(partial)
  local dir, base = partial:match("^(.*/)([^/]*)$")
  if not dir then dir, base = "", partial end
  local real = dir
  if real:sub(1, 2) == "~/" then real = (os.getenv("HOME") or "~") .. real:sub(2) end
  if not host.listdir then return {}, #partial - #base end
  local entries = host.listdir(real == "" and "." or real) or {}
  local out = {}
  for _, e in ipairs(entries) do
    if e:sub(1, #base) == base and (base:sub(1, 1) == "." or e:sub(1, 1) ~= ".") then
      out[#out + 1] = e
    end
  end
  sort(out)
  return out, #dir
end

--- Completion candidates for the text before the cursor: returns the index
-- in `before` where the word being completed starts, and the candidates
-- (each a full replacement of that word).
function M.candidates(before)
  local str = open_string(before)
  if str == false then return #before + 1, {} end     -- in a comment
  if str then
    local partial = before:sub(str)
    local cands, dirlen = file_candidates(partial)
    return str + dirlen, cands
  end
  local expr = before:match("[%w_%.:]*$")
  local path, sep, word = expr:match("^(.*)([%.:])([%w_]*)$")
  if not path then
    if expr:match("^%d") then return #before + 1, {} end
    local names = field_names(_G, false)
    local is_global = {}
    for _, k in ipairs(names) do is_global[k] = true end
    for _, k in ipairs(M.session:names()) do
      if not is_global[k] then names[#names + 1] = k end
    end
    for k in pairs(keywords) do names[#names + 1] = k end
    local out = {}
    for _, k in ipairs(names) do
      if k:sub(1, #expr) == expr then out[#out + 1] = k end
    end
    sort(out)
    return #before - #expr + 1, out
  end
  local start = #before - #word + 1
  if path == "" or not path:match("^[%a_][%w_]*$") and not path:match("^[%a_][%w_%.]*[%w_]$") then
    return start, {}
  end
  local v = _G
  for name in path:gmatch("[^%.]+") do
    local value, is_local = nil, false
    if v == _G then value, is_local = M.session:get(name) end   -- the prompt's locals first
    if is_local then v = value else v = safe_index(v, name) end
    if v == nil then return start, {} end
  end
  local out = {}
  for _, k in ipairs(field_names(v, sep == ":")) do
    -- metamethods and the like only when asked for with "__"
    if k:sub(1, #word) == word and (k:sub(1, 2) ~= "__" or word:sub(1, 2) == "__") then
      out[#out + 1] = k
    end
  end
  return start, out
end

--- TAB: returns the text to insert at the cursor (the longest prefix the
-- candidates share), and when that adds nothing, the list of candidates.
function M.complete(before, width)
  local start, cands = M.candidates(before)
  if #cands == 0 then return "", nil end
  local word = before:sub(start)
  local common = cands[1]
  for i = 2, #cands do
    local c = cands[i]
    local n = 0
    while n < #common and n < #c and common:byte(n + 1) == c:byte(n + 1) do n = n + 1 end
    common = common:sub(1, n)
  end
  local insert = common:sub(#word + 1)
  if #cands == 1 or insert ~= "" then return insert, nil end
  return "", M.columns(cands, width)
end

return M
