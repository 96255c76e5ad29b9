-- gd.plot: the SVG documents are parsed as XML, and drawn points are checked
-- against coordinates computed by hand from the axis transform
--   px = left + (x - x_lo) / (x_hi - x_lo) * (width - left - right)
--   py = top + h - (y - y_lo) / (y_hi - y_lo) * h,   h = height - top - bottom
-- (log10 of the values on a log axis).
local gd = require "gd"
local xml = require "spec.support.plot_xml"
local axes = require "gd.plot.axes"
local contour = require "gd.plot.contour"

local W, H = 400, 300
local MARGIN = {left = 50, right = 10, top = 20, bottom = 30}
local PW, PH = W - 50 - 10, H - 20 - 30

local function px(x, lo, hi) return 50 + (x - lo) / (hi - lo) * PW end
local function py(y, lo, hi) return 20 + PH - (y - lo) / (hi - lo) * PH end

local function close_to(a, b, tol) return math.abs(a - b) <= (tol or 0.006) end

local function assert_point(p, x, y, tol)
  assert.is_true(close_to(p[1], x, tol) and close_to(p[2], y, tol),
    string.format("point (%s, %s), expected (%.3f, %.3f)", p[1], p[2], x, y))
end

describe("gd.plot.contour", function()
  local quad = gd.objectives.quadratic   -- bounds {{-5.5, 1}, {-3, 1}}
  local traj = {{-5, -2}, {-2.5, -0.5}, {0, 0}, {1, 1}}
  local doc = gd.plot.contour(quad, {width = W, height = H, margin = MARGIN, legend = "top-right",
    trajectories = {{name = "GD & <friends>", points = traj}, {name = "other", points = {{-1, 0.5}}}}})
  local root = xml.parse(doc)

  it("writes an SVG document of the requested size", function()
    assert.are.equal("svg", root.tag)
    assert.are.equal("http://www.w3.org/2000/svg", root.attrs.xmlns)
    assert.are.equal("400", root.attrs.width)
    assert.are.equal("300", root.attrs.height)
  end)

  it("puts trajectory points at the axis transform's coordinates", function()
    local lines = xml.by_class(root, "trajectory", "polyline")
    assert.are.equal(2, #lines)
    local pts = xml.subpaths(lines[1].attrs.points)[1]
    assert.are.equal(#traj, #pts)
    for i, p in ipairs(traj) do
      assert_point(pts[i], px(p[1], -5.5, 1), py(p[2], -3, 1))
    end
    -- hand-computed for two of them: (-5, -2) -> (50 + 0.5/6.5*340, 20 + 250 - 1/4*250)
    assert_point(pts[1], 76.15, 207.5)
    assert_point(pts[4], 390, 20)
  end)

  it("marks every trajectory point", function()
    local groups = xml.by_class(root, "markers", "g")
    assert.are.equal(2, #groups)
    assert.are.equal(#traj, #groups[1].children)
    local c = groups[1].children[3].attrs
    assert_point({tonumber(c.cx), tonumber(c.cy)}, px(0, -5.5, 1), py(0, -3, 1))
  end)

  it("escapes names, which read back unchanged", function()
    assert.are.equal("GD & <friends>", xml.by_class(root, "trajectory")[1].attrs["data-name"])
    assert.is_truthy(doc:find("GD &amp; &lt;friends&gt;", 1, true))
    local legend = xml.by_class(root, "legend", "g")[1]
    local texts = xml.find_all(legend, function(n) return n.tag == "text" end)
    assert.are.same({"GD & <friends>", "other"}, {texts[1].text, texts[2].text})
  end)

  it("draws contour lines on their level: points map back to f = level", function()
    local paths = xml.by_class(root, "contour", "path")
    assert.is_true(#paths >= 5)
    local checked = 0
    for _, path in ipairs(paths) do
      local level = tonumber(path.attrs["data-level"])
      for _, sub in ipairs(xml.subpaths(path.attrs.d)) do
        for _, p in ipairs(sub) do
          -- the inverse transform back to data coordinates
          local x = -5.5 + (p[1] - 50) / PW * 6.5
          local y = -3 + (20 + PH - p[2]) / PH * 4
          -- linear interpolation on a 100-cell grid, and 0.01 px rounding: 2% of the level
          assert.is_true(math.abs(quad.f_xy(x, y) - level) <= 0.02 * level + 0.01,
            string.format("f(%g, %g) = %g on level %g", x, y, quad.f_xy(x, y), level))
          checked = checked + 1
        end
      end
    end
    assert.is_true(checked > 100)
  end)

  it("marks the minimum", function()
    local m = xml.by_class(root, "minimum", "path")
    assert.are.equal(1, #m)
    local start = xml.subpaths(m[1].attrs.d)[1][1]
    assert_point(start, px(0, -5.5, 1) - 4, py(0, -3, 1) - 4)
  end)

  it("takes a plain function with explicit bounds and levels", function()
    local r = xml.parse(gd.plot.contour(function(a, b) return a + b end,
      {bounds = {{0, 1}, {0, 1}}, levels = {0.5, 1.5}, width = W, height = H, margin = MARGIN}))
    local paths = xml.by_class(r, "contour", "path")
    assert.are.equal(2, #paths)
    -- a linear function is interpolated exactly: every point has x1 + x2 = level
    for _, path in ipairs(paths) do
      local level = tonumber(path.attrs["data-level"])
      local sub = xml.subpaths(path.attrs.d)
      assert.are.equal(1, #sub)
      for _, p in ipairs(sub[1]) do
        local x, y = (p[1] - 50) / PW, (20 + PH - p[2]) / PH
        assert.is_true(math.abs(x + y - level) < 1e-4, x + y .. " vs " .. level)
      end
    end
  end)

  it("refuses a window it cannot have", function()
    assert.has_error(function() gd.plot.contour(function(a, b) return a end) end,
      "gd.plot.contour: needs bounds = {{x1_lo, x1_hi}, {x2_lo, x2_hi}} (or an objective that has them)")
    assert.has_error(function() gd.plot.contour(quad, {colour = "red"}) end)
  end)
end)

describe("marching squares (gd.plot.contour internals)", function()
  it("closes the level set of a bowl into one ring of the right radius", function()
    local f = function(a, b) return a * a + b * b end
    local bounds = {{-1, 1}, {-1, 1}}
    local z = contour.grid(f, bounds, 40, 40)
    local lines = contour.lines(z, bounds, 0.25)
    assert.are.equal(1, #lines)
    assert.is_true(lines[1].closed)
    assert.is_true(#lines[1].points > 40)
    for _, p in ipairs(lines[1].points) do
      -- chords of a circle through grid edges: within (cell size)^2 / (8 r) of r = 0.5
      assert.is_true(math.abs(math.sqrt(p[1] ^ 2 + p[2] ^ 2) - 0.5) < 0.0026)
    end
  end)

  it("resolves a saddle cell by its centre value", function()
    -- one cell, corners a = (0,0) above, b = (1,0) below, c = (1,1) above, d = (0,1) below
    local bounds = {{0, 1}, {0, 1}}
    local z = {{1, 0}, {0, 1}}               -- z[j][i]: row j = 1 is y = 0
    -- centre 0.5 > 0.4: the above corners a and c connect; b and d are cut off
    local lines = contour.lines(z, bounds, 0.4)
    assert.are.equal(2, #lines)
    local ends = {}
    for _, l in ipairs(lines) do
      local a, b = l.points[1], l.points[2]
      ends[#ends + 1] = string.format("%.2f,%.2f-%.2f,%.2f", a[1], a[2], b[1], b[2])
    end
    table.sort(ends)
    -- b = (1,0) cut off by the crossings at (0.6, 0) and (1, 0.4); d by (0, 0.6) and (0.4, 1)
    assert.are.same({"0.00,0.60-0.40,1.00", "0.60,0.00-1.00,0.40"}, ends)
    -- centre 0.5 < 0.6: a and c are cut off instead
    ends = {}
    for _, l in ipairs(contour.lines(z, bounds, 0.6)) do
      local a, b = l.points[1], l.points[2]
      ends[#ends + 1] = string.format("%.2f,%.2f-%.2f,%.2f", a[1], a[2], b[1], b[2])
    end
    table.sort(ends)
    assert.are.same({"0.00,0.40-0.40,0.00", "1.00,0.60-0.60,1.00"}, ends)
  end)

  it("spaces levels linearly, as squares (sqrt) or in 1-2-5 decades (log)", function()
    assert.are.same({2, 4, 6, 8}, contour.levels(0, 10, "linear", 5))
    local sq = contour.levels(0, 100, "sqrt", 5)
    assert.are.same({4, 16, 36, 64}, sq)
    local lg = contour.levels(0, 1000, "log", 10, 0)
    assert.are.same({2, 5, 10, 20, 50, 100, 200, 500}, lg)
  end)
end)

describe("gd.plot.line", function()
  it("maps points through a log y axis", function()
    local ys = {1, 0.1, 0.01, 0.001}
    local r = xml.parse(gd.plot.line({{name = "loss", y = ys}}, {width = W, height = H, margin = MARGIN,
      xlim = {1, 4}, ylim = {1e-4, 10}, yscale = "log", legend = "top-right"}))
    local path = xml.by_class(r, "series", "path")[1]
    local pts = xml.subpaths(path.attrs.d)[1]
    assert.are.equal(4, #pts)
    for i, y in ipairs(ys) do
      assert_point(pts[i], px(i, 1, 4), py(math.log10(y), -4, 1))
    end
    -- y = 1 on [1e-4, 10] in log10: 4/5 of the way up
    assert_point(pts[1], 50, 20 + PH - 0.8 * PH)
  end)

  it("labels log ticks at powers of ten", function()
    local r = xml.parse(gd.plot.line({1, 1e-3}, {width = W, height = H, margin = MARGIN,
      ylim = {1e-4, 10}, yscale = "log"}))
    local g = xml.by_class(r, "yticks", "g")[1]
    local labels = {}
    for _, n in ipairs(g.children) do
      if n.tag == "text" then labels[#labels + 1] = {n.text, tonumber(n.attrs.y)} end
    end
    -- one notation for the whole axis (issue 13: no "0.001" beside "1e-4"):
    -- powers of ten with superscript exponents, as matplotlib labels log axes
    assert.are.same({"10⁻⁴", "10⁻³", "10⁻²", "10⁻¹", "10⁰", "10¹"},
      {labels[1][1], labels[2][1], labels[3][1], labels[4][1], labels[5][1], labels[6][1]})
    assert.is_true(close_to(labels[5][2], py(0, -4, 1) + 4))
  end)

  it("leaves gaps at values it cannot draw", function()
    local r = xml.parse(gd.plot.line({1, 2, 0 / 0, 4, 5, -1, 7}, {yscale = "log"}))
    local subs = xml.subpaths(xml.by_class(r, "series", "path")[1].attrs.d)
    assert.are.equal(3, #subs)
    assert.are.same({2, 2, 1}, {#subs[1], #subs[2], #subs[3]})
  end)

  it("takes tensors, name -> values tables and experiment results", function()
    local r = xml.parse(gd.plot.line({b = gd.tensor({1, 2, 3}), a = {3, 2, 1}}))
    local series = xml.by_class(r, "series", "path")
    assert.are.same({"a", "b"}, {series[1].attrs["data-name"], series[2].attrs["data-name"]})
    local entries = xml.find_all(xml.by_class(r, "legend")[1], function(n) return n.tag == "text" end)
    assert.are.equal(2, #entries)
  end)

  it("writes the file it is given", function()
    local path = os.tmpname()
    local text = gd.plot.line({1, 2, 3}, {file = path})
    local f = assert(io.open(path))
    assert.are.equal(text, f:read("*a"))
    f:close()
    os.remove(path)
  end)
end)

describe("gd.plot.scatter", function()
  it("puts each point at its coordinates", function()
    local r = xml.parse(gd.plot.scatter({name = "data", x = {0, 1, 2}, y = {0, 10, 20}},
      {width = W, height = H, margin = MARGIN, xlim = {0, 2}, ylim = {0, 20}, legend = "top-left"}))
    local pts = xml.by_class(r, "point", "circle")
    assert.are.equal(3, #pts)
    for i, c in ipairs(pts) do
      assert_point({tonumber(c.attrs.cx), tonumber(c.attrs.cy)}, px(i - 1, 0, 2), py(10 * (i - 1), 0, 20))
    end
  end)
end)

describe("gd.plot axes", function()
  it("picks 1-2-5 steps and formats ticks by the step", function()
    assert.are.equal(0.2, axes.nice_step(1, 5))
    assert.are.equal(50, axes.nice_step(260, 6))
    local t = axes.linear_ticks(-5.5, 1, 6)
    assert.are.same({-5, -4, -3, -2, -1, 0, 1}, t)
    assert.are.equal("0.5", axes.format_tick(0.5, 0.1))
    assert.are.equal("-3", axes.format_tick(-3, 1))
    assert.are.equal("1e-5", axes.format_tick(1e-5))
    assert.are.equal("2e6", axes.format_tick(2e6))
  end)
end)

describe("gd.plot.term", function()
  it("draws a rising line in braille dots", function()
    -- one cell (2 x 4 dots): from dot (0, 3) to (1, 0) through (0, 2) and (1, 1):
    -- bits 0x40 + 0x04 + 0x10 + 0x08 = 0x5C -> U+285C
    local s = gd.plot.term_string({1, 2}, {width = 1, height = 1, color = false})
    assert.is_truthy(s:find("\226\161\156", 1, true))
  end)

  it("labels the range and shows every series in the legend", function()
    local s = gd.plot.term_string({{name = "adam", y = {10, 1, 0.1}}, {name = "sgd", y = {10, 5, 2}}},
      {yscale = "log", color = false, width = 30, height = 6})
    local lines = {}
    for l in s:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.is_truthy(lines[1]:find("^%s*10 ┤"))
    assert.is_truthy(lines[6]:find("^%s*0.1 ┤"))
    assert.is_truthy(s:find("adam", 1, true) and s:find("sgd", 1, true))
    assert.is_falsy(s:find("\27[", 1, true))
  end)

  it("survives constant, empty and non-finite values", function()
    assert.is_string(gd.plot.term_string({3, 3, 3}))
    assert.are.equal("(nothing to plot)", gd.plot.term_string({0 / 0}))
    assert.is_string(gd.plot.term_string({1, 1 / 0, 2}))
  end)
end)
