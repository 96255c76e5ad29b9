--- gd.plot: pictures of experiments, as SVG files (any browser shows them) and as
-- braille plots in the terminal.
--
--   gd.plot.line(series, opts)              loss curves: several series, legend, log scale
--   gd.plot.scatter(series, opts)           points
--   gd.plot.contour(objective_or_f, opts)   contour lines of a 2-D function, with trajectories
--   gd.plot.trace_2d(objective, results)    d2l's show_trace_2d for gd.experiment results
--   gd.plot.losses(results)                 f - f_min per step of gd.experiment results
--   gd.plot.term(values_or_series)          a braille loss curve in the terminal
--
-- The SVG functions return the document's text and write it to opts.file when given.
-- Series are given as an array of numbers, a 1-D tensor, an array of
-- {name =, y = values, [x = values]}, a table name -> values, or gd.experiment
-- results (their losses, against steps 0..n).
local gd = require "gd.tensor"
local doc = require "gd.doc"
local check = require "gd.check"
check.register_internal()
local svg = require "gd.plot.svg"
local axes = require "gd.plot.axes"
local contour_lines = require "gd.plot.contour"
local term = require "gd.plot.term"
local file = require "gd.plot.file"

local M = {}
local fmt = string.format

local function values(fname, v, what)
  if gd.is_tensor(v) then
    if v:dim() ~= 1 then error(fmt("%s: %s must be a 1-D tensor, got %d-D", fname, what, v:dim()), 4) end
    return v:totable()
  end
  if type(v) ~= "table" then error(fmt("%s: %s must be an array of numbers or a tensor, got %s", fname, what, type(v)), 4) end
  return v
end

--- Mean and band of several runs (arrays of the same length, e.g. one per
-- seed): band "std" (the default) is mean -+ the sample standard deviation
-- (n - 1, as torch.std and pandas), "minmax" the smallest and largest run.
local function aggregate(fname, runs, band, i)
  if type(runs) ~= "table" or #runs == 0 then
    check.raise(fmt("%s: series[%d].runs must be an array of runs (arrays of values)", fname, i))
  end
  band = band or "std"
  if band ~= "std" and band ~= "minmax" then
    check.raise(fmt("%s: series[%d].band must be \"std\" or \"minmax\", got %s", fname, i, tostring(band)))
  end
  local cols = {}
  for r, run in ipairs(runs) do
    cols[r] = values(fname, run, fmt("series[%d].runs[%d]", i, r))
    if #cols[r] ~= #cols[1] then
      check.raise(fmt("%s: series[%d].runs[%d] has %d values, runs[1] %d", fname, i, r, #cols[r], #cols[1]))
    end
  end
  local n = #cols
  local mean, lo, hi = {}, {}, {}
  for k = 1, #cols[1] do
    local sum, mn, mx = 0, math.huge, -math.huge
    for r = 1, n do
      local v = cols[r][k]
      sum = sum + v
      if v < mn then mn = v end
      if v > mx then mx = v end
    end
    local m = sum / n
    mean[k] = m
    if band == "minmax" then
      lo[k], hi[k] = mn, mx
    else
      local ss = 0
      for r = 1, n do ss = ss + (cols[r][k] - m) ^ 2 end
      local sd = n > 1 and math.sqrt(ss / (n - 1)) or 0
      lo[k], hi[k] = m - sd, m + sd
    end
  end
  return mean, lo, hi
end

--- Normalises the accepted forms of series to an array of {name, x, y}.
local function as_series(fname, v)
  if gd.is_tensor(v) or (type(v) == "table" and type(v[1]) == "number") then
    return {{y = values(fname, v, "the values")}}
  end
  if type(v) ~= "table" then error(fmt("%s: expects values or series, got %s", fname, type(v)), 3) end
  local items = v
  if #v == 0 and next(v) ~= nil then    -- name -> values
    local names = {}
    for k in pairs(v) do names[#names + 1] = tostring(k) end
    table.sort(names)
    items = {}
    for i, k in ipairs(names) do items[i] = {name = k, y = v[k]} end
  end
  local out = {}
  for i, item in ipairs(items) do
    if gd.is_tensor(item) or (type(item) == "table" and type(item[1]) == "number") then
      out[i] = {y = values(fname, item, fmt("series[%d]", i))}
    elseif type(item) == "table" then
      local y, x = item.y, item.x
      if y == nil and item.losses then   -- gd.experiment results: f after 0..n steps
        y, x = item.losses, {}
        for k = 1, #y do x[k] = k - 1 end
      end
      local lo, hi
      if y == nil and item.runs ~= nil then y, lo, hi = aggregate(fname, item.runs, item.band, i) end
      if y == nil then error(fmt("%s: series[%d] has no y (or losses, or runs)", fname, i), 3) end
      out[i] = {name = item.name, y = values(fname, y, fmt("series[%d].y", i)), color = item.color,
                x = x and values(fname, x, fmt("series[%d].x", i)) or nil, dash = item.dash, marker = item.marker}
      if item.marker ~= nil and item.marker ~= true and item.marker ~= false then
        local known = false
        for _, m in ipairs(axes.markers) do known = known or m == item.marker end
        if not known then
          check.raise(fmt("%s: series[%d].marker: %s", fname, i, check.unknown_message("marker", item.marker,
            axes.markers)))
        end
      end
      if item.dash ~= nil and (type(item.dash) ~= "string" or not (item.dash == "none" or
          item.dash:match("^%d+[%d.]*[%d., ]*$"))) then
        check.raise(fmt("%s: series[%d].dash must be \"none\" or an SVG dash array such as \"6,3\", got %s", fname,
          i, tostring(item.dash)))
      end
      lo, hi = lo or item.lo, hi or item.hi
      if (lo == nil) ~= (hi == nil) then check.raise(fmt("%s: series[%d] has %s but no %s", fname, i,
        lo and "lo" or "hi", lo and "hi" or "lo")) end
      if lo ~= nil then
        local s = out[i]
        s.lo, s.hi = values(fname, lo, fmt("series[%d].lo", i)), values(fname, hi, fmt("series[%d].hi", i))
        if #s.lo ~= #s.y or #s.hi ~= #s.y then
          check.raise(fmt("%s: series[%d] has %d values, %d lo and %d hi", fname, i, #s.y, #s.lo, #s.hi))
        end
      end
    else
      error(fmt("%s: series[%d] must be a table or a tensor, got %s", fname, i, type(item)), 3)
    end
  end
  return out
end

local AXES_OPTS = {title = true, xlabel = true, ylabel = true, xscale = true, yscale = true, xlim = true,
  ylim = true, width = true, height = true, margin = true, file = true, legend = true, scale = true}

--- The option names of AXES_OPTS plus extra ones.
local function axes_opts(...)
  local set = {}
  for k in pairs(AXES_OPTS) do set[k] = true end
  for _, k in ipairs({...}) do set[k] = true end
  return set
end
local LINE_OPTS, SCATTER_OPTS = axes_opts("markers"), axes_opts("radius")
local LOSSES_OPTS = axes_opts("markers", "subtract_min")

local function scale_arg(fname, v, what)
  if v == nil or v == "linear" or v == "log" then return v or "linear" end
  error(fmt("%s: %s must be \"linear\" or \"log\", got %s", fname, what, tostring(v)), 4)
end

--- Fills in each series' style: colour, dash pattern, marker shape, width.
local function style(series)
  local n = #series
  for i, s in ipairs(series) do
    s.color = s.color or axes.color(i)
    s.dash = s.dash or axes.dash(i)
    s.shape = type(s.marker) == "string" and s.marker or axes.marker_shape(i)
    s.width = axes.stroke_width(i, n)
  end
end

--- Marks series that a reader could not tell apart (every point within 0.2%
-- of the axis span of an earlier series' point at the same x): s.coincides =
-- the earlier series' name.
local function coincidences(series, xscale, yscale, xlim, ylim)
  local function t(scale, v) if scale == "log" then return v > 0 and math.log10(v) or nil end return v end
  local xs = math.abs(t(xscale, xlim[2]) - t(xscale, xlim[1]))
  local ys = math.abs(t(yscale, ylim[2]) - t(yscale, ylim[1]))
  for j = 2, #series do
    local b = series[j]
    for i = 1, j - 1 do
      local a = series[i]
      if #a.y == #b.y and #a.y > 0 and not a.coincides then
        local same = true
        for k = 1, #a.y do
          local ax_, bx = t(xscale, a.x and a.x[k] or k), t(xscale, b.x and b.x[k] or k)
          local ay, by = t(yscale, a.y[k]), t(yscale, b.y[k])
          if (ay == nil) ~= (by == nil) or (ax_ == nil) ~= (bx == nil) then same = false break end
          if ay and ax_ then
            if math.abs(ay - by) > 0.002 * ys or math.abs(ax_ - bx) > 0.002 * xs then
              -- non-finite values compare as different unless both are the same
              if not (ay == by) then same = false break end
            end
          end
        end
        if same then b.coincides = a.name or ("series " .. i) break end
      end
    end
  end
end

--- The legend entries of plotted series (none for one unnamed series).
local function series_legend(series, line_, marker)
  local entries = {}
  if #series > 1 or series[1].name then
    for i, s in ipairs(series) do
      local name = s.name or ("series " .. i)
      if s.coincides then name = name .. " (coincides with " .. s.coincides .. ")" end
      entries[i] = {name = name, color = s.color or axes.color(i), line = line_, dash = s.dash, width = s.width,
                    marker = marker and (s.shape or true), band = s.lo ~= nil}
    end
  end
  return entries
end

--- The legend entries to make room for on the right (when drawn "outside").
local function outside(opts, entries)
  if opts.legend == nil or opts.legend == "outside" then return entries end
  return nil
end

--- The scales and limits of series (from the data, bands included, unless given).
local function series_limits(fname, series, opts, xpad)
  local xscale, yscale = scale_arg(fname, opts.xscale, "xscale"), scale_arg(fname, opts.yscale, "yscale")
  local xs, ys = {}, {}
  for _, s in ipairs(series) do
    for i, y in ipairs(s.y) do
      local x = s.x and s.x[i] or i
      xs[#xs + 1], ys[#ys + 1] = x, y
      if s.lo then ys[#ys + 1], ys[#ys + 2] = s.lo[i], s.hi[i] end
    end
  end
  local xlim = opts.xlim or {axes.data_limits(xs, xscale, xpad)}
  local ylim = opts.ylim or {axes.data_limits(ys, yscale, 0.05)}
  if xlim[1] == nil then xlim = xscale == "log" and {1, 10} or {0, 1} end
  if ylim[1] == nil then ylim = yscale == "log" and {1, 10} or {0, 1} end
  return xscale, yscale, xlim, ylim
end

--- Axes for series (x and y limits from the data unless given).
local function series_axes(fname, series, opts, xpad, legend)
  local xscale, yscale, xlim, ylim = series_limits(fname, series, opts, xpad)
  return axes.new{width = opts.width or 720, height = opts.height or 400, margin = opts.margin,
    xlim = xlim, ylim = ylim, xscale = xscale, yscale = yscale, legend = outside(opts, legend)}
end

--- The document's text, written to opts.file (SVG, PNG or PDF by its
-- extension: gd.plot.file) when given.
local function finish(doc_, opts, fname)
  local text = doc_:finish()
  if opts.file ~= nil then file.write(fname, opts.file, text, doc_.width, doc_.height, opts) end
  return text
end

--- Path data through the drawable points of a series, broken at gaps.
local function path_data(ax, xs, ys)
  local parts, run = {}, {}
  for i = 1, #ys do
    local px, py = ax:point(xs and xs[i] or i, ys[i])
    if px then
      run[#run + 1] = {px, py}
    elseif #run > 0 then
      parts[#parts + 1] = svg.path(run)
      run = {}
    end
  end
  if #run > 0 then parts[#parts + 1] = svg.path(run) end
  return table.concat(parts)
end

--- The pixel points of a series' drawable values.
local function pixels(ax, s)
  local pts = {}
  for k, y in ipairs(s.y) do
    local px, py = ax:point(s.x and s.x[k] or k, y)
    if px then pts[#pts + 1] = {px, py} end
  end
  return pts
end

--- The closed outline of a band (hi forwards, lo backwards), broken where
-- a value cannot be drawn.
local function band_data(ax, s)
  local parts, upper, lower = {}, {}, {}
  local function flush()
    if #upper > 1 then
      for k = #lower, 1, -1 do upper[#upper + 1] = lower[k] end
      parts[#parts + 1] = svg.path(upper, true)
    end
    upper, lower = {}, {}
  end
  for k = 1, #s.y do
    local x = s.x and s.x[k] or k
    local hx, hy = ax:point(x, s.hi[k])
    local lx, ly = ax:point(x, s.lo[k])
    if hx and lx then
      upper[#upper + 1], lower[#lower + 1] = {hx, hy}, {lx, ly}
    else
      flush()
    end
  end
  flush()
  return table.concat(parts)
end

--- Indices of the points of a series of n points that get a marker: all of
-- them (every = true), or about 10 spread evenly, shifted for series i of
-- count so that the markers of coincident series do not sit on each other.
local function marker_indices(n, every, i, count)
  local idx = {}
  if every or n <= 10 then
    for k = 1, n do idx[#idx + 1] = k end
    return idx
  end
  local m = 10
  local shift = (i - 1) / math.max(count, 1)
  for k = 0, m - 1 do
    local at = math.floor(1 + (k + shift) * (n - 1) / m + 0.5)
    if at ~= idx[#idx] then idx[#idx + 1] = at end
  end
  return idx
end

local function line(series, opts)
  local fname = "gd.plot.line"
  opts = check.options(fname, opts, LINE_OPTS)
  series = as_series(fname, series)
  style(series)
  local xscale, yscale, xlim, ylim = series_limits(fname, series, opts, 0)
  coincidences(series, xscale, yscale, xlim, ylim)
  local markers = opts.markers
  local legend = series_legend(series, true, markers ~= false)
  local ax = series_axes(fname, series, opts, 0, legend)
  local d = svg.new(ax.width, ax.height)
  ax:begin(d, opts)
  -- bands first, under every line
  for _, s in ipairs(series) do
    if s.lo then
      d:element("path", {class = "band", d = band_data(ax, s), fill = s.color, ["fill-opacity"] = 0.2,
        stroke = "none", ["data-name"] = s.name})
    end
  end
  -- then the lines, in order: later ones on top and thinner
  for i, s in ipairs(series) do
    local attrs = {class = "series", d = path_data(ax, s.x, s.y), fill = "none", stroke = s.color,
      ["stroke-width"] = s.width, ["stroke-linejoin"] = "round",
      ["stroke-dasharray"] = s.dash ~= "none" and s.dash or nil, ["data-coincides"] = s.coincides}
    if s.name then attrs["data-name"] = s.name end
    d:element("path", attrs)
    if markers ~= false then
      local pts = pixels(ax, s)
      d:open("g", {class = "markers", ["data-name"] = s.name, ["data-shape"] = s.shape})
      for _, k in ipairs(marker_indices(#pts, markers == true, i, #series)) do
        axes.marker(d, s.shape, pts[k][1], pts[k][2], 3, s.color, "marker")
      end
      d:close("g")
    end
  end
  ax:finish(d)
  ax:legend(d, legend, opts.legend)
  return finish(d, opts, fname)
end
M.line = doc(line, "gd.plot.line", [[
gd.plot.line(series, [opts]) -> SVG text of a line plot (also written to opts.file:
"x.svg", or "x.png" / "x.pdf" rendered from the same SVG by librsvg + cairo).
series: an array of numbers, a 1-D tensor, {{name =, y =, [x =], [color =], [dash =],
[marker =], [lo =, hi =]}, ...}, a table name -> values, or gd.experiment results.
Each series gets its own colour, dash pattern and marker shape; later series are
drawn on top and thinner, and the legend says when a series coincides with an
earlier one.  lo/hi (arrays like y) draw a shaded error band; runs = {y1, y2, ...}
(one array per seed) in place of y draws their mean with a band of -+ the sample
standard deviation (band = "std") or from the smallest to the largest run
(band = "minmax").  opts: file, scale (PNG pixels per SVG pixel, 1), title,
xlabel, ylabel, xscale/yscale = "linear" | "log", xlim/ylim = {lo, hi}, width
(720), height (400), legend = "outside" (right of the plot, the default) |
"top-right" | "top-left" | "bottom-right" | "bottom-left" | false, markers
(default: about 10 per series; true: every point; false: none).
Values that cannot be drawn (NaN, inf, <= 0 on a log axis) leave gaps.
  gd.plot.line({{name = "loss", y = losses}}, {yscale = "log", file = "out/loss.svg"})]])

local function scatter(series, opts)
  local fname = "gd.plot.scatter"
  opts = check.options(fname, opts, SCATTER_OPTS)
  if type(series) == "table" and series.x and series.y then series = {series} end
  series = as_series(fname, series)
  style(series)
  local legend = series_legend(series, false, true)
  local ax = series_axes(fname, series, opts, 0.04, legend)
  local d = svg.new(ax.width, ax.height)
  ax:begin(d, opts)
  for _, s in ipairs(series) do
    -- each series its own shape as well as colour
    d:open("g", {class = "points", ["fill-opacity"] = 0.8, ["data-name"] = s.name, ["data-shape"] = s.shape})
    for _, p in ipairs(pixels(ax, s)) do axes.marker(d, s.shape, p[1], p[2], opts.radius or 3, s.color, "point") end
    d:close("g")
  end
  ax:finish(d)
  ax:legend(d, legend, opts.legend)
  return finish(d, opts, fname)
end
M.scatter = doc(scatter, "gd.plot.scatter", [[
gd.plot.scatter(series, [opts]) -> SVG text of a scatter plot.  series: {name =, x =, y =}
or an array of them (x, y: arrays or 1-D tensors); opts as gd.plot.line, plus radius (3).
  gd.plot.scatter({x = X:select(2, 1), y = y}, {file = "out/data.svg"})]])

--- The function of (x1, x2) to contour: objective.f_xy, or objective.f on a tensor.
local function xy_function(fname, target)
  if type(target) == "function" then return target end
  if type(target) == "table" and type(target.f_xy) == "function" then return target.f_xy end
  if type(target) == "table" and type(target.f) == "function" then
    local x = gd.zeros(2, {dtype = "float64"})
    return function(a, b) x:set(1, a); x:set(2, b); return target.f(x) end
  end
  error(fname .. ": expects a 2-D objective (see gd.objectives) or a function f(x1, x2)", 3)
end

local CONTOUR_OPTS = {bounds = true, levels = true, level_scale = true, grid = true, trajectories = true, labels = true,
  minimum = true, title = true, xlabel = true, ylabel = true, width = true, height = true, margin = true,
  file = true, legend = true, scale = true}

local function contour(target, opts)
  local fname = "gd.plot.contour"
  opts = check.options(fname, opts, CONTOUR_OPTS)
  local f = xy_function(fname, target)
  local obj = type(target) == "table" and target or {}
  local bounds = opts.bounds or obj.bounds
  if type(bounds) ~= "table" or #bounds ~= 2 then
    error(fname .. ": needs bounds = {{x1_lo, x1_hi}, {x2_lo, x2_hi}} (or an objective that has them)", 2)
  end
  local n = check.number(fname, "grid", opts.grid, {default = 100, integer = true, min = 2})
  local z = contour_lines.grid(f, bounds, n, n)
  local zlo, zhi = contour_lines.range(z)
  local levels = opts.levels
  if levels == nil or type(levels) == "number" then
    levels = contour_lines.levels(zlo, zhi, opts.level_scale or obj.levels or "linear", levels, obj.f_min)
  end

  local trajectories = opts.trajectories or {}
  local legend = {}
  for i, t in ipairs(trajectories) do
    legend[i] = {name = t.name or ("run " .. i), color = t.color or axes.color(i), marker = axes.marker_shape(i),
                 dash = axes.dash(i), width = 1.5}
  end
  local ax = axes.new{width = opts.width or 720, height = opts.height or 480, margin = opts.margin,
    xlim = bounds[1], ylim = bounds[2], legend = outside(opts, legend)}
  local d = svg.new(ax.width, ax.height)
  local title = opts.title
  if title == nil and obj.name then
    title = (obj.formula and #obj.formula <= 60) and fmt("%s: %s", obj.name, obj.formula) or obj.name
  end
  ax:begin(d, {title = title, xlabel = opts.xlabel or "x1", ylabel = opts.ylabel or "x2"})
  d:open("g", {class = "contours", fill = "none", ["stroke-width"] = 1})
  local label_at = {}   -- level index -> the pixel point its label goes to
  for k, level in ipairs(levels) do
    local parts, longest = {}, nil
    for _, l in ipairs(contour_lines.lines(z, bounds, level)) do
      local pts = {}
      for i, p in ipairs(l.points) do pts[i] = {ax:px(p[1]), ax:py(p[2])} end
      parts[#parts + 1] = svg.path(pts, l.closed)
      if longest == nil or #pts > #longest then longest = pts end
    end
    if #parts > 0 then
      d:element("path", {class = "contour", ["data-level"] = fmt("%.6g", level), d = table.concat(parts),
        stroke = contour_lines.colormap(#levels == 1 and 0.5 or (k - 1) / (#levels - 1))})
      -- a label on the longest line, at a point that moves along with k so
      -- that the labels of nested rings do not stack up in one column
      if #longest >= 8 then
        label_at[k] = longest[math.floor(#longest * ((0.15 + 0.37 * k) % 1)) + 1]
      end
    end
  end
  d:close("g")
  if opts.labels ~= false then
    -- matplotlib's clabel: each level's value on its line, in one notation for all
    -- (levels need not be evenly spaced: each value with the digits it needs, up to 6 decimals)
    local texts = axes.format_ticks(levels, nil, "linear")
    d:open("g", {class = "contour-labels", ["font-size"] = 10, ["text-anchor"] = "middle", fill = "#333333",
      stroke = "#ffffff", ["stroke-width"] = 3, ["paint-order"] = "stroke"})
    for k = 1, #levels do
      local p = label_at[k]
      if p then d:element("text", {class = "contour-label", x = p[1], y = p[2] + 3.5, ["data-level"] = fmt("%.6g",
        levels[k])}, texts[k]) end
    end
    d:close("g")
  end

  local minima = opts.minimum or obj.minima or (obj.minimum and {obj.minimum}) or {}
  for _, m in ipairs(minima) do
    local px, py = ax:px(m[1]), ax:py(m[2])
    d:element("path", {class = "minimum", d = fmt("M%s,%sl8,8m0,-8l-8,8", svg.num(px - 4), svg.num(py - 4)),
      stroke = "#000000", ["stroke-width"] = 2})
  end

  for i, t in ipairs(trajectories) do
    local color = legend[i].color
    local finite = {}   -- the drawable points (a diverging run ends in inf or NaN)
    for _, p in ipairs(t.points) do
      local px, py = ax:point(p[1], p[2])
      if px then finite[#finite + 1] = {px, py} end
    end
    local dash = legend[i].dash
    d:element("polyline", {class = "trajectory", ["data-name"] = t.name, points = svg.points(finite),
      fill = "none", stroke = color, ["stroke-width"] = 1.5, ["stroke-linejoin"] = "round",
      ["stroke-dasharray"] = dash ~= "none" and dash or nil})
    -- a marker per step, as d2l draws them; on long runs, where markers would
    -- merge into a thick line, only the first and the last point
    d:open("g", {class = "markers", fill = color, ["data-shape"] = legend[i].marker})
    for _, p in ipairs(#finite <= 60 and finite or {finite[1], finite[#finite]}) do
      axes.marker(d, legend[i].marker, p[1], p[2], 2.5, color)
    end
    d:close("g")
  end
  ax:finish(d)
  ax:legend(d, legend, opts.legend)
  return finish(d, opts, fname)
end
M.contour = doc(contour, "gd.plot.contour", [[
gd.plot.contour(objective_or_f, [opts]) -> SVG text: contour lines of a 2-D function over
a window, with trajectories drawn on top (d2l's show_trace_2d).
objective_or_f: a gd.objectives entry (its f_xy, bounds, levels, minimum are used) or a
function f(x1, x2).  opts: bounds = {{x1_lo, x1_hi}, {x2_lo, x2_hi}}, levels (a count or
an array of values), level_scale = "linear" | "log", grid (100 cells a side),
trajectories = {{name =, points = {{x1, x2}, ...}, [color =]}, ...}, minimum = {{x1, x2}, ...}
(marked with a cross), labels (true: each level's value written on its line; false: none),
title, xlabel, ylabel, width (720), height (480), legend (as in gd.plot.line), file
(.svg, .png or .pdf), scale.  Each trajectory has its own colour, dash and marker shape.]])

local GRID_OPTS = {cols = true, title = true, file = true, scale = true}

--- Several plots in one figure: each plot's SVG nested at its cell, its ids
-- made unique (a clip path per plot).
local function grid(plots, opts)
  local fname = "gd.plot.grid"
  opts = check.options(fname, opts, GRID_OPTS)
  if type(plots) ~= "table" or #plots == 0 then
    check.raise(fname .. ": expects an array of plots (the SVG text gd.plot.line and the others return)")
  end
  local cells, cw, ch = {}, 0, 0
  for i, text in ipairs(plots) do
    if type(text) ~= "string" then
      check.raise(fmt("%s: plots[%d] must be the SVG text of a plot, got %s", fname, i, type(text)))
    end
    local open_tag = text:match("^<svg[^>]*>")
    local w, h
    if open_tag then w, h = open_tag:match(' width="([%d.]+)" height="([%d.]+)"') end
    if not w then check.raise(fmt("%s: plots[%d] is not an SVG document made by gd.plot", fname, i)) end
    local body = text:sub(#open_tag + 1):gsub("</svg>%s*$", "")
    body = body:gsub('id="plot%-area', 'id="plot-area-' .. i):gsub("url%(#plot%-area", "url(#plot-area-" .. i)
    cells[i] = {w = tonumber(w), h = tonumber(h), body = body}
    cw, ch = math.max(cw, cells[i].w), math.max(ch, cells[i].h)
  end
  local n = #cells
  local cols = check.number(fname, "cols", opts.cols, {default = math.min(n, 3), integer = true, min = 1})
  local rows = math.ceil(n / cols)
  local top = opts.title and 32 or 0
  local d = svg.new(cols * cw, rows * ch + top)
  d:element("rect", {width = cols * cw, height = rows * ch + top, fill = "#ffffff"})
  if opts.title then
    d:element("text", {class = "title", x = cols * cw / 2, y = 22, ["text-anchor"] = "middle", ["font-size"] = 16,
      ["font-weight"] = "bold"}, opts.title)
  end
  for i, c in ipairs(cells) do
    local r, col = math.floor((i - 1) / cols), (i - 1) % cols
    d:raw(fmt('<svg class="cell" x="%s" y="%s" width="%s" height="%s" viewBox="0 0 %s %s">\n', svg.num(col * cw),
      svg.num(top + r * ch), svg.num(c.w), svg.num(c.h), svg.num(c.w), svg.num(c.h)))
    d:raw(c.body)
    d:raw("</svg>\n")
  end
  return finish(d, opts, fname)
end
M.grid = doc(grid, "gd.plot.grid", [[
gd.plot.grid(plots, [{cols = min(#plots, 3), title =, file =, scale =}]) -> SVG text of one
figure holding several plots, row by row: plots is an array of what gd.plot.line,
scatter, contour, trace_2d, losses (or grid) returned.  file: .svg, .png or .pdf.
  gd.plot.grid({gd.plot.losses(res), gd.plot.trace_2d(f, res)}, {cols = 2, file = "out/fig.pdf"})]])

local function trajectories_of(results)
  local t = {}
  for i, r in ipairs(results) do
    if r.trajectory == nil then
      error(fmt("gd.plot.trace_2d: results[%d] (%s) has no trajectory (only 2-D runs keep one)", i,
        tostring(r.name)), 3)
    end
    t[i] = {name = r.name, points = r.trajectory, color = r.color}
  end
  return t
end

local function trace_2d(objective, results, opts)
  opts = check.options("gd.plot.trace_2d", opts, CONTOUR_OPTS)
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.trajectories = trajectories_of(results)
  return contour(objective, o)
end
M.trace_2d = doc(trace_2d, "gd.plot.trace_2d", [[
gd.plot.trace_2d(objective, results, [opts]) -> SVG text: the objective's contours with
the trajectory of every run in results (from gd.experiment.run), as d2l's show_trace_2d.
A result's `color` field, when set, picks its colour (here and in gd.plot.losses).
opts as gd.plot.contour (file, title, bounds, levels ...).
  local res = gd.experiment.run{objective = gd.objectives.quadratic, runs = {...}}
  gd.plot.trace_2d(gd.objectives.quadratic, res, {file = "out/trace.svg"})]])

--- Loss curves of experiment results: f - f_min when the minimum is known.  f is
-- only known to about 1e-16 * |f_min|, so differences below 1e-13 * |f_min| (noise,
-- or negative) are drawn at that floor.
local function loss_series(results, subtract)
  local f_min = subtract ~= false and results.objective and results.objective.f_min or nil
  local floor = f_min and 1e-13 * math.abs(f_min) or 0
  local series = {}
  for i, r in ipairs(results) do
    local y, x = {}, {}
    for k, v in ipairs(r.losses) do
      y[k] = f_min and math.max(v - f_min, floor) or v
      x[k] = k - 1
    end
    series[i] = {name = r.name, x = x, y = y, color = r.color}
  end
  return series, f_min
end

local function losses(results, opts)
  local fname = "gd.plot.losses"
  opts = check.options(fname, opts, LOSSES_OPTS)
  if type(results) ~= "table" or type(results[1]) ~= "table" or results[1].losses == nil then
    error(fname .. ": expects the results of gd.experiment.run", 2)
  end
  local series, f_min = loss_series(results, opts.subtract_min)
  local o = {xlabel = "step", ylabel = f_min and "f(x) - f(x*)" or "f(x)", yscale = "log"}
  if results.objective and results.objective.name then o.title = results.objective.name end
  for k, v in pairs(opts) do if k ~= "subtract_min" then o[k] = v end end
  return line(series, o)
end
M.losses = doc(losses, "gd.plot.losses", [[
gd.plot.losses(results, [opts]) -> SVG text: f(x) - f_min after each step, one curve per
run of gd.experiment.run's results, on a log scale (opts.yscale = "linear" to change;
subtract_min = false plots f itself).  f is only known to about 1e-16 * |f_min|, so
differences below 1e-13 * |f_min| are drawn at that floor.  Other opts as gd.plot.line.]])

local TERM_OPTS = {width = true, height = true, xscale = true, yscale = true, color = true, title = true}

local function term_string(v, opts)
  local fname = "gd.plot.term"
  opts = check.options(fname, opts, TERM_OPTS)
  scale_arg(fname, opts.xscale, "xscale")
  scale_arg(fname, opts.yscale, "yscale")
  local series
  if type(v) == "table" and type(v[1]) == "table" and v[1].losses and v.objective then
    series = loss_series(v)          -- gd.experiment results
    if opts.yscale == nil then
      local o = {yscale = "log"}
      for k, val in pairs(opts) do o[k] = val end
      opts = o
    end
  else
    series = as_series(fname, v)
  end
  return term.render(series, opts)
end
M.term_string = doc(term_string, "gd.plot.term_string", [[
gd.plot.term_string(values_or_series, [opts]) -> the braille plot gd.plot.term prints, as a string.]])

M.term = doc(function(v, opts) print(term_string(v, opts)) end, "gd.plot.term", [[
gd.plot.term(values_or_series, [opts]) prints a line plot in braille characters: a loss
curve at the REPL.  values_or_series: an array of numbers, a 1-D tensor, series
({{name =, y =}, ...}) or gd.experiment results (then f - f_min, log scale).
opts: width (60 columns), height (14 rows), xscale/yscale = "linear" | "log", color (when
a terminal), title.
  gd.plot.term(losses, {yscale = "log"})]])

return doc(M, "gd.plot", [[
gd.plot: SVG plots (line, scatter, contour, trace_2d, losses), figures of several plots
(grid) and terminal plots (term).  The SVG functions return the text and write
opts.file: .svg (open it in a browser), or .png / .pdf rendered from the same SVG.]])
