--- gd.plot.axes: the data -> pixel transform of a 2-D plot, its ticks, and the
-- parts every SVG plot shares (frame, grid, tick labels, axis labels, title, legend).
--
-- The plot area is the rectangle [left, width - right] x [top, height - bottom].
-- For a linear axis a value v maps to
--   px = left + (v - lo) / (hi - lo) * plot_width
--   py = top + plot_height - (v - lo) / (hi - lo) * plot_height     (y grows upwards)
-- and a log axis applies the same to log10(v), log10(lo), log10(hi).
local svg = require "gd.plot.svg"

local M = {}
local floor, ceil, log10, abs, max, min = math.floor, math.ceil, math.log10, math.abs, math.max, math.min
local fmt = string.format

-- matplotlib's "tab10" colours, the defaults d2l's figures are drawn in
M.palette = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
             "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

function M.color(i) return M.palette[(i - 1) % #M.palette + 1] end

-- Each series also has its own dash pattern and marker shape, so that curves
-- stay apart in grey print and for colour-blind readers.  The dashes cycle
-- with period 8 and the colours with 10, so the first 40 series differ in
-- the pair; the markers cycle with period 9.
M.dashes = {"none", "8,3", "2,2", "9,3,2,3", "4,4", "12,3,2,3,2,3", "1,3", "6,2,1,2,1,2"}
M.markers = {"circle", "square", "triangle", "diamond", "triangle-down", "cross", "plus", "star", "pentagon"}

function M.dash(i) return M.dashes[(i - 1) % #M.dashes + 1] end
function M.marker_shape(i) return M.markers[(i - 1) % #M.markers + 1] end

--- The stroke width of series i of n: the first drawn widest (3.2), the last
-- (drawn on top) thinnest (1.2), so that a curve hidden under a later one
-- still shows as its border.
function M.stroke_width(i, n)
  if n <= 1 then return 2 end
  return 3.2 - 2 * (i - 1) / (n - 1)
end

--- Draws a marker of `shape` centred at (x, y), of radius about r, filled
-- (or stroked, for cross and plus) with color.  class and extra go on the element.
function M.marker(doc, shape, x, y, r, color, class)
  if shape == "circle" then
    return doc:element("circle", {class = class, cx = x, cy = y, r = r, fill = color, ["data-shape"] = shape})
  end
  local n = svg.num
  local d
  if shape == "square" then
    local a = r * 0.9
    d = fmt("M%s,%sh%sv%sh%sZ", n(x - a), n(y - a), n(2 * a), n(2 * a), n(-2 * a))
  elseif shape == "triangle" or shape == "triangle-down" then
    local s = shape == "triangle" and 1 or -1
    local a = r * 1.2
    d = fmt("M%s,%sL%s,%s %s,%sZ", n(x), n(y - s * a), n(x + a), n(y + s * a * 0.7), n(x - a), n(y + s * a * 0.7))
  elseif shape == "diamond" then
    local a = r * 1.25
    d = fmt("M%s,%sL%s,%s %s,%s %s,%sZ", n(x), n(y - a), n(x + a), n(y), n(x), n(y + a), n(x - a), n(y))
  elseif shape == "cross" or shape == "plus" then
    local a = r * 1.1
    if shape == "cross" then
      d = fmt("M%s,%sL%s,%sM%s,%sL%s,%s", n(x - a), n(y - a), n(x + a), n(y + a), n(x - a), n(y + a), n(x + a), n(y - a))
    else
      d = fmt("M%s,%sL%s,%sM%s,%sL%s,%s", n(x - a), n(y), n(x + a), n(y), n(x), n(y - a), n(x), n(y + a))
    end
    return doc:element("path", {class = class, d = d, fill = "none", stroke = color, ["stroke-width"] = 1.8,
      ["data-shape"] = shape})
  else   -- star (5 points) or pentagon
    local pts = {}
    local k = shape == "star" and 10 or 5
    for j = 0, k - 1 do
      local rr = (shape == "star" and j % 2 == 1) and r * 0.6 or r * 1.35
      local a = -math.pi / 2 + j * 2 * math.pi / k
      pts[#pts + 1] = {x + rr * math.cos(a), y + rr * math.sin(a)}
    end
    d = svg.path(pts, true)
  end
  return doc:element("path", {class = class, d = d, fill = color, ["data-shape"] = shape})
end

M.default_margin = {left = 64, right = 16, top = 34, bottom = 46}

--- A "nice" step (1, 2 or 5 times a power of ten) near range / target.
function M.nice_step(range, target)
  local raw = range / (target or 6)
  local p = 10 ^ floor(log10(raw))
  local m = raw / p
  if m < 1.5 then m = 1 elseif m < 3 then m = 2 elseif m < 7 then m = 5 else m = 10 end
  return m * p
end

--- Tick values of a linear axis: multiples of a nice step within [lo, hi].
function M.linear_ticks(lo, hi, target)
  local step = M.nice_step(hi - lo, target)
  local ticks = {}
  local k = ceil(lo / step - 1e-9)
  while k * step <= hi + step * 1e-9 do
    local v = k * step
    if abs(v) < step * 1e-9 then v = 0 end
    ticks[#ticks + 1] = v
    k = k + 1
  end
  return ticks, step
end

--- Tick values of a log axis: powers of ten within [lo, hi] (every few decades
-- when there are many); 1-2-5 multiples when fewer than two powers fit.
function M.log_ticks(lo, hi)
  local k0, k1 = ceil(log10(lo) - 1e-9), floor(log10(hi) + 1e-9)
  local ticks = {}
  if k1 - k0 + 1 >= 2 then
    local every = max(1, ceil((k1 - k0 + 1) / 8))
    for k = k0, k1, every do ticks[#ticks + 1] = 10 ^ k end
    return ticks
  end
  for k = floor(log10(lo)), ceil(log10(hi)) do
    for _, m in ipairs({1, 2, 5}) do
      local v = m * 10 ^ k
      if v >= lo * (1 - 1e-9) and v <= hi * (1 + 1e-9) then ticks[#ticks + 1] = v end
    end
  end
  if #ticks < 2 then return M.linear_ticks(lo, hi, 4) end
  return ticks
end

--- A tick label: as many decimals as the step needs; exponents for very large
-- or small numbers ("1e-05").
function M.format_tick(v, step)
  if v == 0 then return "0" end
  local a = abs(v)
  if a >= 1e5 or a < 1e-3 then
    local s = fmt("%.0e", v)
    if tonumber(s) ~= v and abs(tonumber(s) - v) > a * 1e-9 then s = fmt("%.1e", v) end
    return (s:gsub("e([-+])0*(%d)", function(sign, d) return "e" .. (sign == "-" and "-" or "") .. d end))
  end
  local e = step and floor(log10(step) + 1e-9) or -6
  local s = fmt("%." .. (e < 0 and -e or 0) .. "f", v)
  if s:find("%.") then s = s:gsub("0+$", ""):gsub("%.$", "") end
  return s
end

local SUPERSCRIPT = {["-"] = "\226\129\187", ["0"] = "\226\129\176", ["1"] = "\194\185", ["2"] = "\194\178",
  ["3"] = "\194\179", ["4"] = "\226\129\180", ["5"] = "\226\129\181", ["6"] = "\226\129\182",
  ["7"] = "\226\129\183", ["8"] = "\226\129\184", ["9"] = "\226\129\185"}

--- "10" with a superscript exponent: 10⁻⁴ (matplotlib's log-axis labels).
function M.power_of_ten(k)
  return "10" .. (tostring(k):gsub(".", SUPERSCRIPT))
end

--- Labels for all the ticks of one axis, in one notation: a log axis at
-- powers of ten whose range leaves [1e-3, 1e4] is labelled 10⁻⁴ ... 10¹
-- throughout; otherwise when any tick needs an exponent (|v| >= 1e5 or < 1e-3)
-- every tick gets one (2e-4, 4e-4, 1.5e-3: the digits each needs); else
-- decimals by the step.  So "0.001" never stands beside "1e-4".
function M.format_ticks(values, step, scale)
  local labels = {}
  local need_exp, powers = false, true
  for _, v in ipairs(values) do
    local a = abs(v)
    if v ~= 0 and (a >= 1e5 or a < 1e-3) then need_exp = true end
    if v <= 0 or abs(log10(v) - floor(log10(v) + 0.5)) > 1e-9 then powers = false end
  end
  if scale == "log" and powers and #values > 0 and (need_exp or abs(values[#values]) >= 1e4) then
    for i, v in ipairs(values) do labels[i] = M.power_of_ten(floor(log10(v) + 0.5)) end
    return labels
  end
  if not need_exp then
    for i, v in ipairs(values) do labels[i] = M.format_tick(v, step) end
    return labels
  end
  -- the fewest mantissa digits that give every tick exactly (up to 1e-9)
  for digits = 0, 6 do
    local ok = true
    for i, v in ipairs(values) do
      local s = v == 0 and "0" or fmt("%." .. digits .. "e", v)
      if v ~= 0 and abs(tonumber(s) - v) > abs(v) * 1e-9 then ok = false break end
      labels[i] = s
    end
    if ok then break end
  end
  for i, s in ipairs(labels) do
    s = s:gsub("%.?0+e", "e")     -- "5.0e-4" -> "5e-4", "1.50e-3" -> "1.5e-3"
    labels[i] = s:gsub("e([-+])0*(%d)", function(sign, d) return "e" .. (sign == "-" and "-" or "") .. d end)
  end
  return labels
end

--- The range [lo, hi] to show for data values (padded by `pad` of the span, in
-- log10 for a log axis); non-finite values (and non-positive ones on a log axis)
-- are ignored.  Returns nil when no value is usable.
function M.data_limits(values, scale, pad)
  local lo, hi = math.huge, -math.huge
  for _, v in ipairs(values) do
    if v == v and v ~= math.huge and v ~= -math.huge and (scale ~= "log" or v > 0) then
      if v < lo then lo = v end
      if v > hi then hi = v end
    end
  end
  if lo > hi then return nil end
  pad = pad or 0.04
  if scale == "log" then
    local a, b = log10(lo), log10(hi)
    if a == b then a, b = a - 0.5, b + 0.5 end
    local p = (b - a) * pad
    return 10 ^ (a - p), 10 ^ (b + p)
  end
  if lo == hi then
    local d = lo == 0 and 1 or abs(lo) * 0.1
    return lo - d, hi + d
  end
  local p = (hi - lo) * pad
  return lo - p, hi + p
end

local Axes = {}
Axes.__index = Axes

local LEGEND_ROW = 17

--- Width and height of the legend box for entries {name =, ...}.
function M.legend_size(entries)
  local longest = 0
  for _, e in ipairs(entries) do longest = max(longest, #tostring(e.name)) end
  return 36 + longest * 7.5 + 12, #entries * LEGEND_ROW + 8
end

--- axes.new{width =, height =, margin = {left, right, top, bottom},
--   xlim = {lo, hi}, ylim = {lo, hi}, xscale = "linear" | "log", yscale = ...,
--   legend = entries to be drawn "outside" (right of the plot area; the right
--   margin grows by the legend's width)}
function M.new(o)
  local margin = {}
  for k, v in pairs(M.default_margin) do margin[k] = (o.margin and o.margin[k]) or v end
  if o.legend and #o.legend > 0 then margin.right = margin.right + M.legend_size(o.legend) + 4 end
  local ax = setmetatable({
    width = o.width, height = o.height, margin = margin,
    xlo = o.xlim[1], xhi = o.xlim[2], ylo = o.ylim[1], yhi = o.ylim[2],
    xscale = o.xscale or "linear", yscale = o.yscale or "linear",
  }, Axes)
  ax.left, ax.top = margin.left, margin.top
  ax.pw = o.width - margin.left - margin.right
  ax.ph = o.height - margin.top - margin.bottom
  local function t(scale, v) return scale == "log" and log10(v) or v end
  ax.tx0, ax.tx1 = t(ax.xscale, ax.xlo), t(ax.xscale, ax.xhi)
  ax.ty0, ax.ty1 = t(ax.yscale, ax.ylo), t(ax.yscale, ax.yhi)
  return ax
end

--- Pixel x of a data value (nil for a non-positive value on a log axis).
function Axes:px(v)
  if self.xscale == "log" then
    if v <= 0 then return nil end
    v = log10(v)
  end
  return self.left + (v - self.tx0) / (self.tx1 - self.tx0) * self.pw
end

--- Pixel y of a data value (nil for a non-positive value on a log axis).
function Axes:py(v)
  if self.yscale == "log" then
    if v <= 0 then return nil end
    v = log10(v)
  end
  return self.top + self.ph - (v - self.ty0) / (self.ty1 - self.ty0) * self.ph
end

--- Pixel point of (x, y), or nil when either coordinate is not drawable.
function Axes:point(x, y)
  if x ~= x or y ~= y or abs(x) == math.huge or abs(y) == math.huge then return nil end
  local px, py = self:px(x), self:py(y)
  if px == nil or py == nil then return nil end
  return px, py
end

local function ticks_of(scale, lo, hi)
  if scale == "log" then return M.log_ticks(lo, hi), nil end
  return M.linear_ticks(lo, hi, 6)
end

--- Starts the drawing: white background, title, grid, frame, ticks and labels;
-- then opens a group clipped to the plot area (close it with Axes:finish).
function Axes:begin(doc, o)
  local L, T, W, H = self.left, self.top, self.pw, self.ph
  doc:element("rect", {width = self.width, height = self.height, fill = "#ffffff"})
  doc:raw(fmt('<defs><clipPath id="plot-area"><rect x="%s" y="%s" width="%s" height="%s"/></clipPath></defs>\n',
    svg.num(L), svg.num(T), svg.num(W), svg.num(H)))
  if o.title then
    -- over the plot area, or over the whole picture when it is wider than that
    -- (about 7.5 pixels a character in bold 14 px)
    local cx = L + W / 2
    if #o.title * 7.5 > W then cx = math.max(#o.title * 3.75 + 4, math.min(cx, self.width - #o.title * 3.75 - 4)) end
    doc:element("text", {class = "title", x = cx, y = T - 12, ["text-anchor"] = "middle",
      ["font-size"] = 14, ["font-weight"] = "bold"}, o.title)
  end
  local xt, xstep = ticks_of(self.xscale, self.xlo, self.xhi)
  local yt, ystep = ticks_of(self.yscale, self.ylo, self.yhi)
  doc:open("g", {class = "grid", stroke = "#e6e6e6", ["stroke-width"] = 1})
  for _, v in ipairs(xt) do
    local x = self:px(v)
    doc:element("line", {x1 = x, y1 = T, x2 = x, y2 = T + H})
  end
  for _, v in ipairs(yt) do
    local y = self:py(v)
    doc:element("line", {x1 = L, y1 = y, x2 = L + W, y2 = y})
  end
  doc:close("g")
  doc:element("rect", {class = "frame", x = L, y = T, width = W, height = H, fill = "none", stroke = "#333333"})
  doc:open("g", {class = "xticks", ["text-anchor"] = "middle", fill = "#333333"})
  local xl = M.format_ticks(xt, xstep, self.xscale)
  for i, v in ipairs(xt) do
    local x = self:px(v)
    doc:element("line", {x1 = x, y1 = T + H, x2 = x, y2 = T + H + 5, stroke = "#333333"})
    doc:element("text", {x = x, y = T + H + 18}, xl[i])
  end
  doc:close("g")
  doc:open("g", {class = "yticks", ["text-anchor"] = "end", fill = "#333333"})
  local yl = M.format_ticks(yt, ystep, self.yscale)
  for i, v in ipairs(yt) do
    local y = self:py(v)
    doc:element("line", {x1 = L - 5, y1 = y, x2 = L, y2 = y, stroke = "#333333"})
    doc:element("text", {x = L - 8, y = y + 4}, yl[i])
  end
  doc:close("g")
  if o.xlabel then
    doc:element("text", {class = "xlabel", x = L + W / 2, y = self.height - 8, ["text-anchor"] = "middle"}, o.xlabel)
  end
  if o.ylabel then
    local x, y = 16, T + H / 2
    doc:element("text", {class = "ylabel", x = x, y = y, ["text-anchor"] = "middle",
      transform = fmt("rotate(-90 %s %s)", svg.num(x), svg.num(y))}, o.ylabel)
  end
  doc:open("g", {class = "plot-area", ["clip-path"] = "url(#plot-area)"})
end

--- Closes the clipped group that Axes:begin opened.
function Axes:finish(doc)
  doc:close("g")
end

--- Draws a legend box: entries {name =, color =, line = true, marker = true | shape name,
-- [dash = "8,3"], [width = stroke width], [band = true: a shaded swatch]};
-- position "outside" (right of the plot area: give the entries to axes.new as
-- `legend`), "top-right", "top-left", "bottom-right" or "bottom-left" (inside).
function Axes:legend(doc, entries, position)
  if #entries == 0 or position == false or position == "none" then return end
  position = position or "outside"
  local row = LEGEND_ROW
  local w, h = M.legend_size(entries)
  local x = position:find("left") and self.left + 8 or self.left + self.pw - w - 8
  local y = position:find("bottom") and self.top + self.ph - h - 8 or self.top + 8
  if position == "outside" then x, y = self.left + self.pw + 12, self.top end
  doc:open("g", {class = "legend"})
  doc:element("rect", {x = x, y = y, width = w, height = h, fill = "#ffffff", ["fill-opacity"] = 0.85,
    stroke = "#bbbbbb", rx = 3})
  for i, e in ipairs(entries) do
    local cy = y + 4 + (i - 0.5) * row
    if e.band then
      doc:element("rect", {x = x + 8, y = cy - 6, width = 22, height = 12, fill = e.color, ["fill-opacity"] = 0.2})
    end
    if e.line ~= false then
      local dash = e.dash ~= nil and e.dash ~= "none" and e.dash or nil
      doc:element("line", {x1 = x + 8, y1 = cy, x2 = x + 30, y2 = cy, stroke = e.color,
        ["stroke-width"] = e.width or 2, ["stroke-dasharray"] = dash})
    end
    if e.marker then M.marker(doc, type(e.marker) == "string" and e.marker or "circle", x + 19, cy, 3, e.color) end
    doc:element("text", {x = x + 36, y = cy + 4}, e.name)
  end
  doc:close("g")
end

return M
