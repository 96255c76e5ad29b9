--- gd.doc: docstrings for help() at the REPL.
--
-- Every public function, module and class registers its documentation here
-- where it is defined:
--
--     local doc = require "gd.doc"
--     M.zeros = doc(function(...) ... end, "gd.zeros", [[
--     gd.zeros(size..., [opts]) -> tensor filled with 0. ...]])
--
-- `doc(obj, name, text)` returns obj, so it wraps definitions in place.
-- `doc.lookup(obj)` returns text, name (or nil); `doc.find(name)` looks up by
-- the full dotted name.  Keys are weak, so documenting never keeps anything alive.
local M = {}

local by_object = setmetatable({}, {__mode = "k"})
local by_name = {}

--- Registers `text` as the documentation of `obj` under `name`; returns obj.
function M.register(obj, name, text)
  -- a clear error at the caller's line (an assert named no gd function)
  if type(name) ~= "string" then
    error("gd.doc.register: the name (argument 2) must be a string, got " .. type(name), 2)
  end
  if type(text) ~= "string" then
    error("gd.doc.register: the text (argument 3) must be a string, got " .. type(text), 2)
  end
  text = text:gsub("^%s*\n", ""):gsub("%s+$", "")
  local entry = {name = name, text = text}
  if obj ~= nil and (type(obj) == "table" or type(obj) == "function" or type(obj) == "userdata") then
    by_object[obj] = entry
  end
  by_name[name] = entry
  return obj
end

--- The documentation of obj: text, name; nil if it has none.
function M.lookup(obj)
  local e = by_object[obj]
  if e then return e.text, e.name end
  return nil
end

--- The documentation registered under a dotted name ("gd.zeros"): text, name.
function M.find(name)
  local e = by_name[name]
  if e then return e.text, e.name end
  return nil
end

--- All documented names, sorted.
function M.names()
  local t = {}
  for k in pairs(by_name) do t[#t + 1] = k end
  table.sort(t)
  return t
end

M.register(M, "gd.doc", [==[
gd.doc: the docstrings that help(x) shows.
  doc(obj, name, text) -> obj     registers text for obj under a dotted name
                                  (same as gd.doc.register); wraps definitions:
      M.f = doc(function(x) ... end, "mymod.f", [[mymod.f(x) -> ...]])
  gd.doc.lookup(obj) -> text, name   the documentation of obj, or nil
  gd.doc.find(name) -> text, name    by the full dotted name ("gd.zeros"), or nil
  gd.doc.names() -> {name...}        every documented name, sorted
  Keys are weak: documenting an object never keeps it alive.]==])
M.register(M.register, "gd.doc.register", [[
gd.doc.register(obj, name, text) -> obj: registers text as the documentation
  of obj (a function, table or userdata; or nil for a name only) under the
  dotted name.  Leading blank lines and trailing space are dropped.]])
M.register(M.lookup, "gd.doc.lookup", [[
gd.doc.lookup(obj) -> text, name: the documentation registered for obj and
  the name it was registered under; nil when obj has none.]])
M.register(M.find, "gd.doc.find", [[
gd.doc.find(name) -> text, name: the documentation registered under the
  dotted name ("gd.optim.RMSProp"); nil when there is none.]])
M.register(M.names, "gd.doc.names", [[
gd.doc.names() -> array of every documented name, sorted.]])

-- doc(obj, name, text): a tail call, so register's errors point at the caller
return setmetatable(M, {__call = function(_, obj, name, text) return M.register(obj, name, text) end})
