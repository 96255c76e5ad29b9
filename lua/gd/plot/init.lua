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
      if y == nil then error(fmt("%s: series[%d] has no y (or losses)", fname, i), 3) end
      out[i] = {name = item.name, y = values(fname, y, fmt("series[%d].y", i)), color = item.color,
                x = x and values(fname, x, fmt("series[%d].x", i)) or nil}
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

--- The legend entries of plotted series (none for one unnamed series).
local function series_legend(series, line_, marker)
  local entries = {}
  if #series > 1 or series[1].name then
    for i, s in ipairs(series) do
      entries[i] = {name = s.name or ("series " .. i), color = s.color or axes.color(i), line = line_, marker = marker}
    end
  end
  return entries
end

--- The legend entries to make room for on the right (when drawn "outside").
local function outside(opts, entries)
  if opts.legend == nil or opts.legend == "outside" then return entries end
  return nil
end

--- Axes for series (x and y limits from the data unless given).
local function series_axes(fname, series, opts, xpad, legend)
  local xscale, yscale = scale_arg(fname, opts.xscale, "xscale"), scale_arg(fname, opts.yscale, "yscale")
  local xs, ys = {}, {}
  for _, s in ipairs(series) do
    for i, y in ipairs(s.y) do
      local x = s.x and s.x[i] or i
      xs[#xs + 1], ys[#ys + 1] = x, y
    end
  end
  local xlim = opts.xlim or {axes.data_limits(xs, xscale, xpad)}
  local ylim = opts.ylim or {axes.data_limits(ys, yscale, 0.05)}
  if xlim[1] == nil then xlim = xscale == "log" and {1, 10} or {0, 1} end
  if ylim[1] == nil then ylim = yscale == "log" and {1, 10} or {0, 1} end
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

--- A group of circles of radius r at pixel points (each of class `class`, when given).
local function circles(d, group, pts, r, class)
  d:open("g", group)
  for _, p in ipairs(pts) do d:element("circle", {class = class, cx = p[1], cy = p[2], r = r}) end
  d:close("g")
end

local function line(series, opts)
  local fname = "gd.plot.line"
  opts = check.options(fname, opts, LINE_OPTS)
  series = as_series(fname, series)
  local legend = series_legend(series, true, opts.markers)
  local ax = series_axes(fname, series, opts, 0, legend)
  local d = svg.new(ax.width, ax.height)
  ax:begin(d, opts)
  for i, s in ipairs(series) do
    local color = s.color or axes.color(i)
    local attrs = {class = "series", d = path_data(ax, s.x, s.y), fill = "none", stroke = color,
      ["stroke-width"] = 2, ["stroke-linejoin"] = "round"}
    if s.name then attrs["data-name"] = s.name end
    d:element("path", attrs)
    if opts.markers then circles(d, {class = "markers", fill = color}, pixels(ax, s), 2.5) end
  end
  ax:finish(d)
  ax:legend(d, legend, opts.legend)
  return finish(d, opts, fname)
end
M.line = doc(line, "gd.plot.line", [[
gd.plot.line(series, [opts]) -> SVG text of a line plot (also written to opts.file).
series: an array of numbers, a 1-D tensor, {{name =, y =, [x =], [color =]}, ...}, a table
name -> values, or gd.experiment results.  opts: file, title, xlabel, ylabel,
xscale/yscale = "linear" | "log", xlim/ylim = {lo, hi}, width (720), height (400),
legend = "outside" (right of the plot, the default) | "top-right" | "top-left" |
"bottom-right" | "bottom-left" | false, markers.
Values that cannot be drawn (NaN, inf, <= 0 on a log axis) leave gaps.
  gd.plot.line({{name = "loss", y = losses}}, {yscale = "log", file = "out/loss.svg"})]])

local function scatter(series, opts)
  local fname = "gd.plot.scatter"
  opts = check.options(fname, opts, SCATTER_OPTS)
  if type(series) == "table" and series.x and series.y then series = {series} end
  series = as_series(fname, series)
  local legend = series_legend(series, false, true)
  local ax = series_axes(fname, series, opts, 0.04, legend)
  local d = svg.new(ax.width, ax.height)
  ax:begin(d, opts)
  for i, s in ipairs(series) do
    circles(d, {class = "points", fill = s.color or axes.color(i), ["fill-opacity"] = 0.8, ["data-name"] = s.name},
      pixels(ax, s), opts.radius or 3, "point")
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

local CONTOUR_OPTS = {bounds = true, levels = true, level_scale = true, grid = true, trajectories = true,
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
    legend[i] = {name = t.name or ("run " .. i), color = t.color or axes.color(i), marker = true}
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
  for k, level in ipairs(levels) do
    local parts = {}
    for _, l in ipairs(contour_lines.lines(z, bounds, level)) do
      local pts = {}
      for i, p in ipairs(l.points) do pts[i] = {ax:px(p[1]), ax:py(p[2])} end
      parts[#parts + 1] = svg.path(pts, l.closed)
    end
    if #parts > 0 then
      d:element("path", {class = "contour", ["data-level"] = fmt("%.6g", level), d = table.concat(parts),
        stroke = contour_lines.colormap(#levels == 1 and 0.5 or (k - 1) / (#levels - 1))})
    end
  end
  d:close("g")

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
    d:element("polyline", {class = "trajectory", ["data-name"] = t.name, points = svg.points(finite),
      fill = "none", stroke = color, ["stroke-width"] = 1.5, ["stroke-linejoin"] = "round"})
    -- a marker per step, as d2l draws them; on long runs, where markers would
    -- merge into a thick line, only the first and the last point
    circles(d, {class = "markers", fill = color}, #finite <= 60 and finite or {finite[1], finite[#finite]}, 2.5)
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
(marked with a cross), title, xlabel, ylabel, width (720), height (480), legend (as in
gd.plot.line), file.]])

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
  local o = {xlabel = "step", ylabel = f_min and "f(x) - f(x*)" or "f(x)", yscale = "log", markers = false}
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
gd.plot: SVG plots (line, scatter, contour, trace_2d, losses) and terminal plots (term).
The SVG functions return the text and write opts.file; open the file in a browser.]])
