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
  assert(type(name) == "string" and type(text) == "string", "doc(obj, name, text)")
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

return setmetatable(M, {__call = function(_, obj, name, text) return M.register(obj, name, text) end})
