--- gd.repl_locals: top-level `local`s that outlive the REPL line they are typed on.
--
-- IPython users expect `local runs = {...}` on one line and `pairs(runs)` on
-- the next to work; in plain Lua each line is its own chunk and its locals die
-- with it (Torch7's trepl had the same gap).  A script is never touched: this
-- only rewrites chunks typed at the prompt, and keeps Lua's own semantics, as
-- if the lines had been typed into one script:
--
--   * each top-level `local` statement (any number of names, `local function`)
--     is followed by a call that hands the session a *holder*: a tiny closure
--     over the new variable, so the session keeps the variable itself (its
--     upvalue), not a copy of its value (and a setter that is never called,
--     so that LuaJIT never treats the variable as immutable: see wrap);
--   * a later chunk is compiled inside a wrapper that declares the names it
--     mentions as locals of an enclosing function, and its upvalues of those
--     names are joined (debug.upvaluejoin) to the holders' upvalues.
--
-- So a closure defined at the prompt and the prompt itself see one variable
-- (`local n = 0`, `function inc() n = n + 1 end`, `inc()`, `n` gives 1), and a
-- local shadowed later (`local x = 1 f = function() return x end local x = 2`)
-- leaves f seeing the first x, exactly as in a script.
--
--   local S = repl_locals.new()            one per session
--   local f, err = S:wrap(src, chunkname)  a function running src with the
--                                          session's locals, or nil, message
local M = {}

local sub, byte, find, match = string.sub, string.byte, string.find, string.match
local concat = table.concat

M.KEEP = "__gd_repl_keep"       -- the wrapper's local the inserted calls use
M.RESULTS = "__gd_repl_results" -- and one returning its arguments (see gd.repl.compile)

---------------------------------------------------------------- the lexer

local keywords = {}      -- Lua's reserved words, as a set (gd.repl completes them)
M.keywords = keywords
for w in ([[and break do else elseif end false for function goto if in local nil
            not or repeat return then true until while]]):gmatch("%a+") do
  keywords[w] = true
end

-- Longest operators first.
local ops3 = {["..."] = true}
local ops2 = {["=="] = true, ["~="] = true, ["<="] = true, [">="] = true, [".."] = true, ["::"] = true}

-- Tokens of a chunk that compiles: {kind, value, first, last} with kind
-- "name", "keyword", "number", "string", "op".  Only as much of Lua's lexer
-- as finding statement ends needs (the chunk has been checked by loadstring).
local function tokens(src)
  local out, n, i, len = {}, 0, 1, #src
  local function add(kind, value, first, last)
    n = n + 1
    out[n] = {kind = kind, value = value, first = first, last = last}
  end
  if sub(src, 1, 1) == "#" then i = (find(src, "\n", 1, true) or len) + 1 end
  while i <= len do
    local c = sub(src, i, i)
    if find(c, "^%s") then
      i = i + 1
    elseif sub(src, i, i + 1) == "--" then
      local eq = match(src, "^%[(=*)%[", i + 2)
      if eq then
        local _, close = find(src, "]" .. eq .. "]", i + 4 + #eq, true)
        i = (close or len) + 1
      else
        i = (find(src, "\n", i, true) or len) + 1
      end
    elseif c == "[" and match(src, "^%[=*%[", i) then
      local eq = match(src, "^%[(=*)%[", i)
      local _, close = find(src, "]" .. eq .. "]", i + 2 + #eq, true)
      close = close or len
      add("string", nil, i, close)
      i = close + 1
    elseif c == '"' or c == "'" then
      local j = i + 1
      while j <= len do
        local d = sub(src, j, j)
        if d == "\\" then j = j + 2
        elseif d == c then break
        else j = j + 1 end
      end
      add("string", nil, i, j)
      i = j + 1
    elseif find(c, "^[%a_]") then
      local word = match(src, "^[%w_]+", i)
      add(keywords[word] and "keyword" or "name", word, i, i + #word - 1)
      i = i + #word
    elseif find(c, "^%d") or (c == "." and find(src, "^%.%d", i)) then
      -- numbers: hex, exponents with signs, LuaJIT's LL/ULL/i suffixes
      local j = i
      while true do
        local e = match(src, "^[eEpP][%+%-]", j)
        if e then j = j + 2
        elseif find(src, "^[%w_%.]", j) then j = j + 1
        else break end
      end
      add("number", nil, i, j - 1)
      i = j
    else
      local three, two = sub(src, i, i + 2), sub(src, i, i + 1)
      if ops3[three] then add("op", three, i, i + 2) i = i + 3
      elseif ops2[two] then add("op", two, i, i + 1) i = i + 2
      else add("op", c, i, i) i = i + 1 end
    end
  end
  return out
end

---------------------------------------------------- finding statement ends

local binary = {["+"] = true, ["-"] = true, ["*"] = true, ["/"] = true, ["%"] = true, ["^"] = true,
                [".."] = true, ["=="] = true, ["~="] = true, ["<"] = true, ["<="] = true,
                [">"] = true, [">="] = true, ["and"] = true, ["or"] = true}
local unary = {["-"] = true, ["not"] = true, ["#"] = true}
local close_of = {["("] = ")", ["{"] = "}", ["["] = "]"}
-- Block keywords: `while`/`for` open through their `do`, `if` through itself.
local opens = {["function"] = true, ["do"] = true, ["if"] = true, ["repeat"] = true}
local closes = {["end"] = true, ["until"] = true}

local function value(t) return t and (t.kind == "op" or t.kind == "keyword") and t.value end

-- The index after the bracket group opening at i.
local function skip_brackets(toks, i)
  local stack = {close_of[toks[i].value]}
  i = i + 1
  while toks[i] and #stack > 0 do
    local v = value(toks[i])
    if close_of[v] then stack[#stack + 1] = close_of[v]
    elseif v == stack[#stack] then stack[#stack] = nil end
    i = i + 1
  end
  return i
end

-- The index after the block that the keyword at i opens (function ... end).
local function skip_block(toks, i)
  local depth = 0
  repeat
    local v = value(toks[i])
    if opens[v] then depth = depth + 1 elseif closes[v] then depth = depth - 1 end
    i = i + 1
  until depth == 0 or not toks[i]
  if value(toks[i - 1]) == "until" then          -- repeat ... until <exp>
    return M._exp_end(toks, i)
  end
  return i
end

-- The index after the expression starting at i.
local function exp_end(toks, i)
  while unary[value(toks[i])] do i = i + 1 end
  local t = toks[i]
  local v = value(t)
  if t == nil then return i end
  if v == "function" then
    i = skip_block(toks, i)
  elseif v == "{" then
    i = skip_brackets(toks, i)
  elseif t.kind == "number" or t.kind == "string" or v == "nil" or v == "true"
      or v == "false" or v == "..." then
    i = i + 1
  else
    -- a prefix expression: Name or ( exp ), then .x [k] :m(args) (args) {t} "s"
    if v == "(" then i = skip_brackets(toks, i) else i = i + 1 end
    while toks[i] do
      local s = value(toks[i])
      if s == "." then i = i + 2
      elseif s == ":" then i = i + 2
      elseif s == "[" or s == "(" or s == "{" then i = skip_brackets(toks, i)
      elseif toks[i].kind == "string" then i = i + 1
      else break end
    end
  end
  if binary[value(toks[i])] then return exp_end(toks, i + 1) end
  return i
end
M._exp_end = exp_end

-- The top-level `local` statements of a chunk: for each, the names it
-- declares and the character position where it ends.
local function top_level_locals(toks)
  local found = {}
  local depth, i = 0, 1
  while toks[i] do
    local v = value(toks[i])
    if depth == 0 and v == "local" then
      local names = {}
      local j = i + 1
      if value(toks[j]) == "function" then
        names[1] = toks[j + 1].value
        j = skip_block(toks, j)
      else
        while toks[j] and toks[j].kind == "name" do
          names[#names + 1] = toks[j].value
          if value(toks[j + 1]) ~= "," then j = j + 1 break end
          j = j + 2
        end
        if value(toks[j]) == "=" then
          j = exp_end(toks, j + 1)
          while value(toks[j]) == "," do j = exp_end(toks, j + 1) end
        end
      end
      found[#found + 1] = {names = names, at = toks[j - 1].last}
      i = j
    else
      if opens[v] then depth = depth + 1 elseif closes[v] then depth = depth - 1 end
      i = i + 1
    end
  end
  return found
end

----------------------------------------------------------------- sessions

local Session = {}
Session.__index = Session

--- A new session: no locals yet.
function M.new()
  return setmetatable({holders = {}}, Session)
end

--- Compiles src (a chunk that loadstring accepts) so that it sees the
-- locals of earlier chunks and leaves its own top-level locals to later ones.
-- Returns the function to run, or nil and loadstring's message.
function Session:wrap(src, chunkname)
  local toks = tokens(src)
  local holders = self.holders

  -- after each top-level local statement:
  --   keep("x", function() return x end, function(v) x = v end, ...)
  -- The setter is never called: it is there because it assigns x.  LuaJIT's
  -- parser flags a local that its chunk never assigns as immutable, and so is
  -- the upvalue the holder makes of it; the JIT then compiles a read of that
  -- upvalue as a constant (its value when the trace was recorded).  A later
  -- chunk's closure that is joined to it and assigns it (`n = n + 1`) would
  -- then, once compiled, keep reading the old value: 200 calls of such an
  -- increment gave 56 (spec/repl_locals_spec.lua).
  local pieces, last = {}, 0
  for _, stat in ipairs(top_level_locals(toks)) do
    local keeps = {}
    for k, name in ipairs(stat.names) do
      keeps[k] = ("%q,function() return %s end,function(v) %s = v end"):format(name, name, name)
    end
    pieces[#pieces + 1] = sub(src, last + 1, stat.at)
    pieces[#pieces + 1] = (" %s(%s)"):format(M.KEEP, concat(keeps, ","))
    last = stat.at
  end
  pieces[#pieces + 1] = sub(src, last + 1)

  -- the earlier locals this chunk mentions, declared around it (on line 1,
  -- so that line numbers stay those typed)
  local mentioned, seen = {}, {}
  for _, t in ipairs(toks) do
    if t.kind == "name" and holders[t.value] and not seen[t.value] then
      seen[t.value] = true
      mentioned[#mentioned + 1] = t.value
    end
  end
  local decl = M.KEEP .. ", " .. M.RESULTS
  if #mentioned > 0 then decl = decl .. ", " .. concat(mentioned, ", ") end
  local wrapped = ("local %s = ... return function(...) %s\nend"):format(decl, concat(pieces))
  local outer, err = loadstring(wrapped, chunkname)
  if not outer then
    if err:find("upvalues", 1, true) then       -- LuaJIT's limit of 60 per function
      err = ("%s (this line uses %d of the prompt's locals; a function may use at most 60:"
             .. " make some of them globals)"):format(err, #mentioned)
    end
    return nil, err
  end

  local function keep(...)
    for k = 1, select("#", ...), 3 do
      local name, holder = select(k, ...)
      holders[name] = holder
    end
  end
  local f = outer(keep, function(...) return ... end)
  for k = 1, 255 do
    local name = debug.getupvalue(f, k)
    if name == nil then break end
    local holder = seen[name] and holders[name]
    if holder then debug.upvaluejoin(f, k, holder, 1) end
  end
  return f
end

--- The names of the session's locals, sorted.
function Session:names()
  local t = {}
  for k in pairs(self.holders) do t[#t + 1] = k end
  table.sort(t)
  return t
end

--- The current value of the session's local `name` (nil, false when there is none).
function Session:get(name)
  local h = self.holders[name]
  if not h then return nil, false end
  return h(), true
end

--- Forgets every local (a fresh session).
function Session:clear()
  self.holders = {}
end

return M
