-- The main job (`make run` = scripts/compare.lua) and scripts/epsilon.lua, run as
-- a user runs them, into a scratch directory; their tables are checked against
-- d2l's published numbers and their pictures parsed back.
local xml = require "spec.support.plot_xml"

local GDLUA = os.getenv("GDLUA") or "build/bin/gdlua"
local files = require "spec.support.files"
local AIRFOIL = files.shared("data/airfoil_self_noise.dat")

local function scratch_dir()
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p '" .. dir .. "'")
  return dir
end

--- Runs a shell command; returns its output (stdout and stderr) and exit status.
local function run(cmd)
  local p = io.popen(cmd .. " 2>&1; echo \"exit=$?\"")
  local s = p:read("*a")
  p:close()
  local rc = tonumber(s:match("exit=(%d+)%s*$"))
  return s:gsub("exit=%d+%s*$", ""), rc
end

local function read(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function line_of(output, name)
  for l in output:gmatch("[^\n]+") do
    if l:sub(1, #name + 2) == name .. "  " then return l end
  end
end

local function words(l)
  local w = {}
  for x in l:gmatch("%S+") do w[#w + 1] = x end
  return w
end

describe("scripts/compare.lua", function()
  local dir = scratch_dir()
  local output, rc = run("OUT='" .. dir .. "' " .. GDLUA .. " scripts/compare.lua")

  it("runs to the end", function()
    assert.are.equal(0, rc, output)
    assert.is_truthy(output:find("wrote " .. dir .. "/compare_2d.svg and " .. dir .. "/regression_loss.svg", 1, true))
  end)

  it("prints d2l's published final points beside gdlua's, which agree", function()
    -- d2l 12.6 (gd, momentum), 12.7 (AdaGrad), 12.8 (RMSProp): 'epoch 20, x1: ..., x2: ...'
    local published = {
      ["AdaGrad (d2l)"] = {"-2.382563", "-0.158591"},
      ["AdaGrad (d2l, lr 2)"] = {"-0.002295", "-0.000000"},
      ["RMSProp (d2l)"] = {"-0.010599", "0.000000"},
      ["SGD"] = {"-0.943467", "-0.000073"},
      ["Momentum"] = {"0.007188", "0.002553"},
    }
    for name, p in pairs(published) do
      local l = line_of(output, name)
      assert.is_truthy(l, name .. " has no row in:\n" .. output)
      local w = words(l:sub(#name + 1))
      -- x1 x2 f steps time(2 words) published-x1 published-x2 agree
      assert.are.same({p[1], p[2]}, {w[1], w[2]}, l)
      assert.are.same({p[1], p[2], "yes"}, {w[#w - 2], w[#w - 1], w[#w]}, l)
    end
  end)

  it("shows the PyTorch convention beside d2l's", function()
    local l = line_of(output, "RMSProp (PyTorch)")
    assert.is_truthy(l)
    -- eps outside the root changes RMSProp's x1 in the 6th decimal only
    assert.is_true(math.abs(tonumber(words(l:sub(18))[1]) - -0.010599) < 3e-6, l)
  end)

  it("draws the quadratic's contours and every d2l-style trajectory from (-5, -2)", function()
    local root = xml.parse(assert(read(dir .. "/compare_2d.svg")))
    local lines = xml.by_class(root, "trajectory", "polyline")
    local names = {}
    for i, t in ipairs(lines) do names[i] = t.attrs["data-name"] end
    assert.are.same({"AdaGrad (d2l)", "AdaGrad (d2l, lr 2)", "RMSProp (d2l)", "SGD", "Momentum", "Adam", "SMORMS3"},
      names)
    assert.is_true(#xml.by_class(root, "contour", "path") >= 5)
    -- back from pixels to data through the frame (the plot area) and d2l's window
    local frame = xml.by_class(root, "frame", "rect")[1].attrs
    local fx, fy, fw, fh = tonumber(frame.x), tonumber(frame.y), tonumber(frame.width), tonumber(frame.height)
    local function data(p) return -5.5 + (p[1] - fx) / fw * 6.5, -3 + (fy + fh - p[2]) / fh * 4 end
    for _, t in ipairs(lines) do
      local pts = xml.subpaths(t.attrs.points)[1]
      local x1, x2 = data(pts[1])
      assert.is_true(math.abs(x1 + 5) < 0.02 and math.abs(x2 + 2) < 0.02)
    end
    local rms = xml.subpaths(lines[3].attrs.points)[1]
    assert.are.equal(21, #rms)
    local x1, x2 = data(rms[21])
    assert.is_true(math.abs(x1 - -0.010599) < 0.02 and math.abs(x2) < 0.02)
  end)

  it("draws a loss curve per optimizer for the regression", function()
    local root = xml.parse(assert(read(dir .. "/regression_loss.svg")))
    local series = xml.by_class(root, "series", "path")
    assert.are.equal(9, #series)
    assert.are.equal("AdaGrad (PyTorch)", series[4].attrs["data-name"])
    assert.is_truthy(output:find("linear regression on d2l's synthetic data", 1, true))
    -- SGD (lr 0.4) converges on this well-conditioned problem, to about the
    -- generating w = {2, -3.4}, b = 4.2 (noise 0.01 on 1000 examples)
    local regression = output:sub((output:find("linear regression on", 1, true)))
    local w = words(line_of(regression, "SGD"))
    assert.is_true(math.abs(tonumber(w[2]) - 2) < 2e-3 and math.abs(tonumber(w[3]) + 3.4) < 2e-3 and
      math.abs(tonumber(w[4]) - 4.2) < 2e-3, table.concat(w, " "))
  end)

  local have_airfoil = files.exists(AIRFOIL)
  local it_airfoil = have_airfoil and it or pending
  it_airfoil("trains on the airfoil data when AIRFOIL is given", function()
    local d = scratch_dir()
    local out, code = run("AIRFOIL='" .. AIRFOIL .. "' OUT='" .. d .. "' " .. GDLUA .. " scripts/compare.lua")
    assert.are.equal(0, code, out)
    assert.is_truthy(out:find("linear regression on airfoil (1500 examples, 5 features, standardized)", 1, true))
    local root = xml.parse(assert(read(d .. "/regression_loss.svg")))
    assert.are.equal(9, #xml.by_class(root, "series", "path"))
    os.execute("rm -rf '" .. d .. "'")
  end)

  teardown(function() os.execute("rm -rf '" .. dir .. "'") end)
end)

describe("scripts/epsilon.lua", function()
  local dir = scratch_dir()
  local output, rc = run("OUT='" .. dir .. "' " .. GDLUA .. " scripts/epsilon.lua")

  it("runs to the end and tabulates every epsilon", function()
    assert.are.equal(0, rc, output)
    for k = -12, 0 do
      assert.is_truthy(output:find("\n" .. string.format("%g", 10 ^ k) .. " ", 1, true), k)
    end
  end)

  it("finds that eps inside the root acts like sqrt(eps) outside it", function()
    local e_in, e_out = output:match("smallest eps that converges: inside (%S+), outside (%S+)")
    assert.is_truthy(e_in, output)
    e_in, e_out = tonumber(e_in), tonumber(e_out)
    assert.is_true(math.abs(math.log10(e_in) - 2 * math.log10(e_out)) < 0.5, output)
  end)

  it("plots both placements against eps on log axes", function()
    local root = xml.parse(assert(read(dir .. "/epsilon.svg")))
    local series = xml.by_class(root, "series", "path")
    assert.are.equal(2, #series)
    assert.are.equal(13, #xml.subpaths(series[1].attrs.d)[1])
  end)

  teardown(function() os.execute("rm -rf '" .. dir .. "'") end)
end)
