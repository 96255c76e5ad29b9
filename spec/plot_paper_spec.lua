-- Pictures for a paper (issue 13): curves told apart by more than colour,
-- coincident runs kept visible and named, error bands, several plots in one
-- figure, one tick notation per axis, labelled contours, PNG and PDF rendered
-- from the SVG, and braille plots readable without colour.  The SVG is parsed
-- and checked for what a reader would see; the PNG is read back through cairo.
local gd = rawget(_G, "gd") or require "gd"
local xml = dofile("spec/support/plot_xml.lua")
local P = dofile("spec/support/process.lua")
local axes = require "gd.plot.axes"
local pfile = require "gd.plot.file"

local W, H = 400, 300
local MARGIN = {left = 50, right = 10, top = 20, bottom = 30}
local PW, PH = W - 50 - 10, H - 20 - 30
local function px(x, lo, hi) return 50 + (x - lo) / (hi - lo) * PW end
local function py(y, lo, hi) return 20 + PH - (y - lo) / (hi - lo) * PH end
local function close_to(a, b, tol) return math.abs(a - b) <= (tol or 0.006) end

local function legend_texts(root)
  local out = {}
  for _, n in ipairs(xml.find_all(xml.by_class(root, "legend", "g")[1], function(n) return n.tag == "text" end)) do
    out[#out + 1] = n.text
  end
  return out
end

local function four()
  local s = {}
  for k = 1, 4 do
    local y = {}
    for i = 1, 30 do y[i] = k + math.sin(i / 4) end
    s[k] = {name = "run " .. k, y = y}
  end
  return s
end

describe("gd.plot.line for papers", function()
  it("gives each series its own dash pattern, marker shape and colour, later ones thinner", function()
    local root = xml.parse(gd.plot.line(four()))
    local paths = xml.by_class(root, "series", "path")
    assert.equal(4, #paths)
    local dashes, colours, shapes = {}, {}, {}
    for k, p in ipairs(paths) do
      dashes[p.attrs["stroke-dasharray"] or "solid"] = true
      colours[p.attrs.stroke] = true
      if k > 1 then
        -- drawn later, on top, and thinner (catches today's 2 px for every curve)
        assert.is_true(tonumber(p.attrs["stroke-width"]) < tonumber(paths[k - 1].attrs["stroke-width"]))
      end
    end
    for _, g in ipairs(xml.by_class(root, "markers", "g")) do shapes[g.attrs["data-shape"]] = true end
    local function size(t) local n = 0 for _ in pairs(t) do n = n + 1 end return n end
    -- today: one solid line style and no markers at all
    assert.equal(4, size(dashes))
    assert.equal(4, size(colours))
    assert.equal(4, size(shapes))
    -- the legend draws the same dash and marker as the curve
    local legend = xml.by_class(root, "legend", "g")[1]
    local lines = xml.find_all(legend, function(n) return n.tag == "line" end)
    assert.equal(paths[2].attrs["stroke-dasharray"], lines[2].attrs["stroke-dasharray"])
  end)

  it("says in the legend which runs coincide, and only those", function()
    local a, near, far = {}, {}, {}
    for i = 1, 20 do
      a[i] = 1 / i
      near[i] = a[i] * (1 + 1e-9)     -- the same curve to any reader
      far[i] = a[i] * 1.3
    end
    local root = xml.parse(gd.plot.line({{name = "adam", y = a}, {name = "adam again", y = near},
      {name = "sgd", y = far}}, {yscale = "log"}))
    assert.same({"adam", "adam again (coincides with adam)", "sgd"}, legend_texts(root))
    local paths = xml.by_class(root, "series", "path")
    assert.equal("adam", paths[2].attrs["data-coincides"])
    assert.is_nil(paths[3].attrs["data-coincides"])
    -- markers of coincident runs are shifted apart: series 2's squares (path
    -- "Mx,yh2a...", centre x + a) are not all on series 1's circles
    local on_first = {}
    for _, c in ipairs(xml.by_class(root, "markers", "g")[1].children) do on_first[tonumber(c.attrs.cx)] = true end
    local apart = 0
    for _, sq in ipairs(xml.by_class(root, "markers", "g")[2].children) do
      local x, a2 = sq.attrs.d:match("^M([%d.]+),[%d.]+h([%d.]+)")
      local centre = tonumber(x) + tonumber(a2) / 2
      local hit = false
      for cx in pairs(on_first) do if math.abs(cx - centre) < 0.05 then hit = true end end
      if not hit then apart = apart + 1 end
    end
    assert.is_true(apart >= 5, apart .. " of series 2's markers apart from series 1's")
  end)

  it("shades a band from lo to hi under the line", function()
    local root = xml.parse(gd.plot.line({{name = "mean", x = {0, 1, 2}, y = {1, 2, 3}, lo = {0.5, 1, 2},
      hi = {1.5, 3, 3.5}}}, {width = W, height = H, margin = MARGIN, xlim = {0, 2}, ylim = {0, 4}, legend = false}))
    local band = xml.by_class(root, "band", "path")[1]
    assert.is_truthy(band)                            -- today: no band at all
    assert.is_true(tonumber(band.attrs["fill-opacity"]) < 1)
    local ring = xml.subpaths(band.attrs.d)[1]
    assert.is_true(ring.closed)
    -- hi forwards, then lo backwards (hand-computed through the axis transform)
    local want = {{0, 1.5}, {1, 3}, {2, 3.5}, {2, 2}, {1, 1}, {0, 0.5}}
    assert.equal(#want, #ring)
    for k, p in ipairs(want) do
      assert.is_true(close_to(ring[k][1], px(p[1], 0, 2)) and close_to(ring[k][2], py(p[2], 0, 4)))
    end
    -- the band lies under the line: it comes first in the document
    local order = xml.find_all(root, function(n) return n.attrs.class == "band" or n.attrs.class == "series" end)
    assert.equal("band", order[1].attrs.class)
  end)

  it("aggregates runs across seeds as mean -+ sample std, or min/max", function()
    local runs = {{1, 2, 3}, {3, 4, 5}}   -- mean {2, 3, 4}; sample std sqrt(2) (population std: 1)
    local opts = {width = W, height = H, margin = MARGIN, xlim = {1, 3}, ylim = {0, 6}, legend = false}
    local root = xml.parse(gd.plot.line({{name = "seeds", runs = runs}}, opts))
    local line_ = xml.subpaths(xml.by_class(root, "series", "path")[1].attrs.d)[1]
    for k, m in ipairs({2, 3, 4}) do assert.is_true(close_to(line_[k][2], py(m, 0, 6))) end
    local ring = xml.subpaths(xml.by_class(root, "band", "path")[1].attrs.d)[1]
    assert.is_true(close_to(ring[1][2], py(2 + math.sqrt(2), 0, 6), 0.01))
    assert.is_true(close_to(ring[6][2], py(2 - math.sqrt(2), 0, 6), 0.01))
    root = xml.parse(gd.plot.line({{name = "seeds", runs = runs, band = "minmax"}}, opts))
    ring = xml.subpaths(xml.by_class(root, "band", "path")[1].attrs.d)[1]
    assert.is_true(close_to(ring[1][2], py(3, 0, 6)) and close_to(ring[6][2], py(1, 0, 6)))
    local ok, err = pcall(gd.plot.line, {{name = "s", runs = {{1, 2}, {1}}}})
    assert.is_false(ok)
    assert.matches("gd.plot.line: series[1].runs[2] has 1 values, runs[1] 2", err, 1, true)
    ok, err = pcall(gd.plot.line, {{y = {1, 2}, lo = {0, 1}}})
    assert.matches("gd.plot.line: series[1] has lo but no hi", err, 1, true)
    ok, err = pcall(gd.plot.line, {{y = {1, 2}, marker = "sqare"}})
    assert.matches("gd.plot.line: series[1].marker: unknown marker 'sqare' (did you mean 'square'?)", err, 1, true)
    ok, err = pcall(gd.plot.line, {{y = {1, 2}, dash = "dotted"}})
    assert.matches("gd.plot.line: series[1].dash must be \"none\" or an SVG dash array", err, 1, true)
    -- a series' own dash and marker win
    local root = xml.parse(gd.plot.line({{name = "a", y = {1, 2}, dash = "1,1", marker = "star"}}))
    assert.equal("1,1", xml.by_class(root, "series", "path")[1].attrs["stroke-dasharray"])
    assert.equal("star", xml.by_class(root, "markers", "g")[1].attrs["data-shape"])
  end)
end)

describe("gd.plot tick labels", function()
  it("use one notation per axis", function()
    -- today: "0", "5e-4", "0.001", "0.0015", "0.002"
    assert.same({"0", "5e-4", "1e-3", "1.5e-3", "2e-3"}, axes.format_ticks({0, 5e-4, 1e-3, 1.5e-3, 2e-3}, 5e-4))
    assert.same({"0", "0.5", "1", "1.5"}, axes.format_ticks({0, 0.5, 1, 1.5}, 0.5))
    assert.same({"0.001", "0.01", "0.1", "1"}, axes.format_ticks({1e-3, 1e-2, 0.1, 1}, nil, "log"))
    local root = xml.parse(gd.plot.line({0, 0.002}, {ylim = {0, 0.002}}))
    local labels = {}
    for _, n in ipairs(xml.by_class(root, "yticks", "g")[1].children) do
      if n.tag == "text" then labels[#labels + 1] = n.text end
    end
    for _, l in ipairs(labels) do assert.is_truthy(l == "0" or l:find("e%-")) end
  end)
end)

describe("gd.plot.contour labels", function()
  it("write each level's value on its line", function()
    local quad = gd.objectives.quadratic
    local root = xml.parse(gd.plot.contour(quad, {width = W, height = H, margin = MARGIN, legend = false}))
    local labels = xml.by_class(root, "contour-label", "text")
    assert.is_true(#labels >= 4)                       -- today: no labels
    for _, t in ipairs(labels) do
      local level = tonumber(t.attrs["data-level"])
      -- back from pixels to (x1, x2): bounds {{-5.5, 1}, {-3, 1}}
      local x1 = -5.5 + (tonumber(t.attrs.x) - 50) / PW * 6.5
      local x2 = -3 + (20 + PH - (tonumber(t.attrs.y) - 3.5)) / PH * 4
      local f = 0.1 * x1 * x1 + 2 * x2 * x2
      assert.is_true(math.abs(f - level) <= 0.05 * level + 0.05,
        string.format("label %s at f = %.3f", t.text, f))
      assert.is_true(math.abs(tonumber(t.text) - level) <= 1e-6 * math.abs(level) + 1e-9)
    end
    root = xml.parse(gd.plot.contour(quad, {labels = false}))
    assert.equal(0, #xml.by_class(root, "contour-label", "text"))
  end)
end)

describe("gd.plot.grid", function()
  it("puts several plots in one figure, each clipped to its own area", function()
    local a = gd.plot.line({1, 2, 3}, {width = 300, height = 200})
    local b = gd.plot.line({3, 1, 2}, {width = 300, height = 200})
    local c = gd.plot.scatter({x = {1, 2}, y = {1, 2}}, {width = 300, height = 200})
    local root = xml.parse(gd.plot.grid({a, b, c}, {cols = 2, title = "three"}))
    assert.equal("600", root.attrs.width)
    assert.equal(tostring(2 * 200 + 32), root.attrs.height)
    local cells = xml.by_class(root, "cell", "svg")
    assert.equal(3, #cells)
    assert.same({"0", "300", "0"}, {cells[1].attrs.x, cells[2].attrs.x, cells[3].attrs.x})
    assert.same({"32", "32", "232"}, {cells[1].attrs.y, cells[2].attrs.y, cells[3].attrs.y})
    -- every clip path id once, and each plot's area refers to its own
    local ids, refs = {}, {}
    for _, n in ipairs(xml.find_all(root, function(n) return n.attrs.id ~= nil end)) do
      assert.is_nil(ids[n.attrs.id])
      ids[n.attrs.id] = true
    end
    for _, n in ipairs(xml.by_class(root, "plot-area", "g")) do
      local id = n.attrs["clip-path"]:match("^url%(#(.*)%)$")
      assert.is_true(ids[id])
      assert.is_nil(refs[id])
      refs[id] = true
    end
    local ok, err = pcall(gd.plot.grid, {a, 3})
    assert.is_false(ok)
    assert.matches("gd.plot.grid: plots[2] must be the SVG text of a plot, got number", err, 1, true)
  end)
end)

describe("gd.plot PNG and PDF", function()
  after_each(P.cleanup)

  local function have_libs()
    local ok = pfile.libraries()
    return ok ~= nil
  end

  it("renders the SVG to a PNG of its size, with the curves where the SVG has them", function()
    if not have_libs() then pending("librsvg / cairo are not installed") return end
    local dir = P.tmpdir()
    local y, lo, hi = {}, {}, {}
    for i = 1, 11 do y[i] = i; lo[i] = i - 3; hi[i] = i + 3 end
    local opts = {width = W, height = H, margin = MARGIN, xlim = {1, 11}, ylim = {-5, 20}, legend = false}
    opts.file = dir .. "/fig.png"
    opts.scale = 2
    local text = gd.plot.line({{name = "m", y = y, lo = lo, hi = hi}, {name = "flat", y = {15, 15}, x = {1, 11}}},
      opts)
    local img = pfile.read_png(opts.file)
    assert.equal(2 * W, img.width)
    assert.equal(2 * H, img.height)
    -- on series 1 (solid, #1f77b4 = 31, 119, 180) at (6, 6)
    local r, g, b = img.pixel(math.floor(2 * px(6, 1, 11)), math.floor(2 * py(6, -5, 20)))
    assert.is_true(math.abs(r - 31) < 40 and math.abs(g - 119) < 40 and math.abs(b - 180) < 40,
      string.format("curve pixel %d %d %d", r, g, b))
    -- inside the band, away from the line (x = 6, y = 8: 2 above the mean): a light blue tint
    r, g, b = img.pixel(math.floor(2 * px(6, 1, 11)), math.floor(2 * py(8, -5, 20)))
    assert.is_true(b > r + 20 and r > 150, string.format("band pixel %d %d %d", r, g, b))
    -- empty plot area: white
    r, g, b = img.pixel(math.floor(2 * px(9, 1, 11)), math.floor(2 * py(-3, -5, 20)))
    assert.same({255, 255, 255}, {r, g, b})
    -- the second series (orange, #ff7f0e) at y = 15
    r, g, b = img.pixel(math.floor(2 * px(2, 1, 11)), math.floor(2 * py(15, -5, 20)))
    assert.is_true(r > 200 and b < 100, string.format("second curve pixel %d %d %d", r, g, b))
    assert.matches("^<svg", text)
  end)

  it("writes a PDF page of the SVG's size", function()
    if not have_libs() then pending("librsvg / cairo are not installed") return end
    local path = P.tmpdir() .. "/fig.pdf"
    gd.plot.line({1, 3, 2}, {file = path, width = 300, height = 200})
    local bytes = P.read(path)
    assert.matches("^%%PDF%-", bytes)
    assert.matches("/MediaBox %[ 0 0 300 200 %]", bytes)
    assert.matches("%%%%EOF%s*$", bytes)
  end)
end)

describe("gd.plot.term without colour", function()
  it("marks each series with its own character, in the plot and the legend", function()
    local s = gd.plot.term_string({{name = "adam", y = {10, 1, 0.1, 0.01}}, {name = "sgd", y = {10, 5, 2, 1}}},
      {yscale = "log", color = false, width = 30, height = 8})
    local legend = s:match("[^\n]*adam[^\n]*$")
    -- today both are "⣿"
    assert.matches("o adam", legend, 1, true)
    assert.matches("x sgd", legend, 1, true)
    local canvas = s:sub(1, #s - #legend)
    assert.is_truthy(canvas:find("o", 1, true))
    assert.is_truthy(canvas:find("x", 1, true))
  end)
end)

describe("gd.plot.term's axis labels", function()
  it("use one notation for the axis", function()
    -- today: "23.64" above "4.11e-04"
    local s = gd.plot.term_string({23.64, 1, 4.11e-4}, {color = false, width = 20, height = 6})
    local labels = {}
    for l in s:gmatch("([^\n]-) ┤") do labels[#labels + 1] = l:match("%S+") end
    assert.same({"2.36e+01", "1.18e+01", "4.11e-04"}, labels)
  end)
end)
