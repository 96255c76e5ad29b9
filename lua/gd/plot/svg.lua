--- gd.plot.svg: a minimal SVG 1.1 writer (no dependencies).
--
--   local doc = svg.new(640, 400)
--   doc:element("line", {x1 = 0, y1 = 0, x2 = 10, y2 = 10, stroke = "#000"})
--   doc:open("g", {class = "legend"}) ... doc:close("g")
--   local text = doc:finish()
--
-- Attributes are written in sorted order (deterministic output); text and
-- attribute values are escaped; numbers are written with at most 2 decimals,
-- which is 1/100 of a pixel.
local M = {}
local fmt, concat = string.format, table.concat

local ESCAPES = {["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;"}

--- Escapes text for XML content and attribute values.
function M.escape(s)
  return (tostring(s):gsub("[&<>\"']", ESCAPES))
end

--- A coordinate: 2 decimals, trailing zeros dropped ("12.5", "3", "-0.25").
-- Values beyond +-1e6 (far outside any drawing: a diverging run) are clamped
-- there, so that they stay short.
function M.num(v)
  if v > 1e6 then v = 1e6 elseif v < -1e6 then v = -1e6 end
  local s = fmt("%.2f", v)
  if s:find("%.") then s = s:gsub("0+$", ""):gsub("%.$", "") end
  if s == "-0" then s = "0" end
  return s
end
local num = M.num

local function attributes(attrs)
  if attrs == nil then return "" end
  local keys = {}
  for k in pairs(attrs) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do
    local v = attrs[k]
    if type(v) == "number" then v = num(v) else v = M.escape(v) end
    parts[i] = fmt(' %s="%s"', k, v)
  end
  return concat(parts)
end

--- "x1,y1 x2,y2 ..." for a polyline's points attribute, from pixel pairs.
function M.points(pts)
  local parts = {}
  for i, p in ipairs(pts) do parts[i] = num(p[1]) .. "," .. num(p[2]) end
  return concat(parts, " ")
end

--- Path data "Mx,yLx,y x,y ..." through pixel pairs (closed with Z when asked).
function M.path(pts, closed)
  local parts = {}
  for i, p in ipairs(pts) do parts[i] = num(p[1]) .. "," .. num(p[2]) end
  local d = "M" .. parts[1]
  if #parts > 1 then d = d .. "L" .. concat(parts, " ", 2) end
  return closed and d .. "Z" or d
end

local Doc = {}
Doc.__index = Doc

--- A new document of width x height pixels.
function M.new(width, height)
  local d = setmetatable({parts = {}, open_tags = {}, width = width, height = height}, Doc)
  d:raw(fmt('<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%s" height="%s" ' ..
    'viewBox="0 0 %s %s" font-family="Helvetica, Arial, sans-serif" font-size="12">\n',
    num(width), num(height), num(width), num(height)))
  return d
end

function Doc:raw(s)
  self.parts[#self.parts + 1] = s
  return self
end

--- An element: <name attrs/> or, with text, <name attrs>text</name>.
function Doc:element(name, attrs, text)
  if text == nil then
    return self:raw(fmt("<%s%s/>\n", name, attributes(attrs)))
  end
  return self:raw(fmt("<%s%s>%s</%s>\n", name, attributes(attrs), M.escape(text), name))
end

function Doc:open(name, attrs)
  self.open_tags[#self.open_tags + 1] = name
  return self:raw(fmt("<%s%s>\n", name, attributes(attrs)))
end

function Doc:close(name)
  local top = table.remove(self.open_tags)
  assert(top == name, "svg: closing " .. tostring(name) .. " but " .. tostring(top) .. " is open")
  return self:raw(fmt("</%s>\n", name))
end

--- The document's text (closes the svg element).
function Doc:finish()
  assert(#self.open_tags == 0, "svg: unclosed " .. tostring(self.open_tags[#self.open_tags]))
  return concat(self.parts) .. "</svg>\n"
end

return M
