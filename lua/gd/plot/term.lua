--- gd.plot.term: line plots drawn with Unicode braille characters, for the REPL.
--
-- Each character cell holds a 2 x 4 grid of dots (Unicode block U+2800..U+28FF:
-- the dot in column c, row r sets bit DOT[r][c]), so a 60 x 14 cell canvas
-- has 120 x 56 dots.  Consecutive points are joined by straight dot lines.
local ffi = require "ffi"
local bit = require "bit"

local M = {}
local floor, log10, max, min, abs = math.floor, math.log10, math.max, math.min, math.abs
local fmt, char, concat = string.format, string.char, table.concat

local DOT = {{0x01, 0x08}, {0x02, 0x10}, {0x04, 0x20}, {0x40, 0x80}}  -- [row][col], rows top down

--- UTF-8 of braille pattern U+2800 + bits.
local function braille(bits)
  return char(0xE2, 0xA0 + floor(bits / 64), 0x80 + bits % 64)
end
M.braille = braille

ffi.cdef [[int gd_plot_isatty(int fd) __asm__("isatty");]]

--- True when standard output is a terminal that takes ANSI colours.
function M.color_default()
  local term = os.getenv("TERM")
  if term == nil or term == "dumb" or os.getenv("NO_COLOR") then return false end
  return ffi.C.gd_plot_isatty(1) == 1
end

local ANSI = {34, 33, 32, 31, 35, 36, 90, 94}   -- blue orange-ish green red ... like the SVG palette

-- Marker characters, one per series, drawn at a few points of each curve and
-- in the legend, so that series differ without colour too (ASCII: one
-- column wide in every terminal).
local MARKS = {"o", "x", "+", "*", "#", "@", "%", "&"}
M.marks = MARKS

--- Labels for the values of one axis, in one notation: exponents on every
-- label when one of them needs it (|v| >= 1e5 or < 1e-3), so that "4.11e-04"
-- never stands beside "23.64".
local function labels_of(values)
  local exp_form = false
  for _, v in ipairs(values) do
    if v ~= 0 and (abs(v) >= 1e5 or abs(v) < 1e-3) then exp_form = true end
  end
  local out = {}
  for i, v in ipairs(values) do out[i] = exp_form and fmt("%.2e", v) or fmt("%.4g", v) end
  return out
end

local function finite(v) return v == v and abs(v) ~= math.huge end
local function identity(v) return v end
local function log_or_nil(v) return v > 0 and log10(v) or nil end

--- Renders series = {{name =, x = {...}, y = {...}}, ...} (x optional: 1..n) as
-- a string.  opts: width (60), height (14), xscale, yscale ("linear" | "log"),
-- color, title.
function M.render(series, opts)
  opts = opts or {}
  local W, H = opts.width or 60, opts.height or 14
  local xlog, ylog = opts.xscale == "log", opts.yscale == "log"
  local tx, ty = xlog and log_or_nil or identity, ylog and log_or_nil or identity
  local xlo, xhi, ylo, yhi = math.huge, -math.huge, math.huge, -math.huge
  local tseries = {}
  for s, ser in ipairs(series) do
    local pts = {}
    for i, v in ipairs(ser.y) do
      local xv = ser.x and ser.x[i] or i
      local x = finite(xv) and tx(xv) or nil
      local y = finite(v) and ty(v) or nil
      if x and y then
        pts[#pts + 1] = {x, y}
        xlo, xhi, ylo, yhi = min(xlo, x), max(xhi, x), min(ylo, y), max(yhi, y)
      else
        pts[#pts + 1] = false    -- a gap
      end
    end
    tseries[s] = pts
  end
  if xlo > xhi then return "(nothing to plot)" end
  if xhi == xlo then xhi = xlo + 1 end
  if yhi == ylo then yhi, ylo = yhi + 0.5, ylo - 0.5 end

  local DW, DH = 2 * W, 4 * H   -- dots
  local bits, owner, mark = {}, {}, {}
  for c = 1, W * H do bits[c] = 0 end
  local function dot(px, py)
    if px < 0 or px >= DW or py < 0 or py >= DH then return end
    local cell = floor(py / 4) * W + floor(px / 2) + 1
    bits[cell] = bit.bor(bits[cell], DOT[py % 4 + 1][px % 2 + 1])
    return cell
  end
  local function to_dots(x, y)
    return floor((x - xlo) / (xhi - xlo) * (DW - 1) + 0.5), floor((yhi - y) / (yhi - ylo) * (DH - 1) + 0.5)
  end
  for s, pts in ipairs(tseries) do
    local prev
    for _, p in ipairs(pts) do
      if p then
        local px, py = to_dots(p[1], p[2])
        if prev then
          -- a straight dot line from prev (Bresenham-like: one dot per step of the longer axis)
          local n = max(abs(px - prev[1]), abs(py - prev[2]), 1)
          for k = 1, n do
            local c = dot(floor(prev[1] + (px - prev[1]) * k / n + 0.5), floor(prev[2] + (py - prev[2]) * k / n + 0.5))
            if c then owner[c] = s end
          end
        else
          local c = dot(px, py)
          if c then owner[c] = s end
        end
        prev = {px, py}
      else
        prev = nil
      end
    end
  end
  if #tseries > 1 then
    -- about 6 markers per series, shifted per series so that coincident curves
    -- show each one's marks
    for s, pts in ipairs(tseries) do
      local drawn = {}
      for _, p in ipairs(pts) do if p then drawn[#drawn + 1] = p end end
      local m = #drawn
      if m > 0 then
        for k = 0, math.min(m, 6) - 1 do
          local at = floor((k + (s - 1) / #tseries) * m / math.min(m, 6)) + 1
          if at > m then at = m end
          local px, py = to_dots(drawn[at][1], drawn[at][2])
          local cell = floor(py / 4) * W + floor(px / 2) + 1
          if px >= 0 and px < DW and py >= 0 and py < DH then mark[cell] = s end
        end
      end
    end
  end

  local color = opts.color
  if color == nil then color = M.color_default() end
  local function yval(v) return ylog and 10 ^ v or v end
  local rows, vals = {1, H}, {yval(yhi), yval(ylo)}
  if H >= 5 then rows[3], vals[3] = floor((H + 1) / 2), yval((yhi + ylo) / 2) end
  local texts = labels_of(vals)
  local labels = {}
  for k, r in ipairs(rows) do labels[r] = texts[k] end
  local gutter = 0
  for _, l in pairs(labels) do gutter = max(gutter, #l) end
  local lines = {}
  if opts.title then lines[1] = string.rep(" ", gutter + 2) .. opts.title end
  for r = 1, H do
    local row = {}
    for c = 1, W do
      local cell = (r - 1) * W + c
      local b = bits[cell]
      local ch = b == 0 and " " or braille(b)
      local who = owner[cell]
      if mark[cell] then
        who = mark[cell]
        ch = MARKS[(who - 1) % #MARKS + 1]
      end
      if color and who then ch = fmt("\27[%dm%s\27[0m", ANSI[(who - 1) % #ANSI + 1], ch) end
      row[c] = ch
    end
    local l = labels[r] or ""
    lines[#lines + 1] = string.rep(" ", gutter - #l) .. l .. (labels[r] and " ┤" or " │") .. concat(row)
  end
  local xtexts = labels_of({xlog and 10 ^ xlo or xlo, xlog and 10 ^ xhi or xhi})
  local xl, xr = xtexts[1], xtexts[2]
  lines[#lines + 1] = string.rep(" ", gutter + 1) .. "└" .. string.rep("─", W)
  lines[#lines + 1] = string.rep(" ", gutter + 2) .. xl .. string.rep(" ", max(1, W - #xl - #xr)) .. xr
  if #series > 1 or (series[1] and series[1].name) then
    -- the legend, wrapped at the canvas width
    local indent = string.rep(" ", gutter + 2)
    local cur, used = {}, 0
    for s, ser in ipairs(series) do
      local name = tostring(ser.name or ("series " .. s))
      local ch = #series > 1 and MARKS[(s - 1) % #MARKS + 1] or "⣿"
      local key = color and fmt("\27[%dm%s\27[0m", ANSI[(s - 1) % #ANSI + 1], ch) or ch
      if used > 0 and used + 3 + 2 + #name > W then
        lines[#lines + 1] = indent .. concat(cur, "   ")
        cur, used = {}, 0
      end
      cur[#cur + 1] = key .. " " .. name
      used = used + (used > 0 and 3 or 0) + 2 + #name
    end
    lines[#lines + 1] = indent .. concat(cur, "   ")
  end
  return concat(lines, "\n")
end

return M
