--- gd.plot.contour: contour lines of a function sampled on a grid, by marching
-- squares (Lorensen & Cline's marching cubes in 2-D), with the two ambiguous
-- saddle cells resolved by the value at the cell centre, and the segments joined
-- into polylines so that each level is one compact SVG path.
local M = {}
local floor, log10, min, max = math.floor, math.log10, math.min, math.max

--- Samples f(x1, x2) on an (nx+1) x (ny+1) grid over bounds: returns z with
-- z[j][i] = f(x1_i, x2_j), x1_i = lo1 + (i-1)*(hi1-lo1)/nx (likewise x2_j).
function M.grid(f, bounds, nx, ny)
  local lo1, hi1, lo2, hi2 = bounds[1][1], bounds[1][2], bounds[2][1], bounds[2][2]
  local z = {}
  for j = 1, ny + 1 do
    local x2 = lo2 + (j - 1) * (hi2 - lo2) / ny
    local row = {}
    for i = 1, nx + 1 do row[i] = f(lo1 + (i - 1) * (hi1 - lo1) / nx, x2) end
    z[j] = row
  end
  return z
end

local function finite(v) return v == v and v ~= math.huge and v ~= -math.huge end

--- The smallest and largest finite values of a grid.
function M.range(z)
  local lo, hi = math.huge, -math.huge
  for _, row in ipairs(z) do
    for _, v in ipairs(row) do
      if finite(v) then
        if v < lo then lo = v end
        if v > hi then hi = v end
      end
    end
  end
  return lo, hi
end

--- Contour levels for values in [zlo, zhi], about n of them (10):
--   "linear": multiples of a nice step strictly inside the range;
--   "sqrt":   offset + r^2 for r on a nice linear scale, so that the level lines of a
--             quadratic bowl are evenly spaced;
--   "log":    offset + m*10^k, m in 1-2-5 (thinned to 1-3, then 1, when too many),
--             over three decades below zhi - offset;
-- offset = the known minimum f_min when given, else zlo.
function M.levels(zlo, zhi, scale, n, f_min)
  local axes = require "gd.plot.axes"
  n = n or 10
  local levels = {}
  if zhi <= zlo then return levels end
  local offset = f_min and min(f_min, zlo) or zlo
  if scale == "log" then
    local top = zhi - offset
    local bottom = max(top * 1e-3, zlo - offset)
    for _, mults in ipairs({{1, 2, 5}, {1, 3}, {1}}) do
      levels = {}
      for k = floor(log10(bottom)) - 1, floor(log10(top)) + 1 do
        for _, m in ipairs(mults) do
          local v = m * 10 ^ k
          if v > bottom and v < top then levels[#levels + 1] = offset + v end
        end
      end
      if #levels <= 2 * n then break end
    end
    return levels
  elseif scale == "sqrt" then
    for _, r in ipairs((axes.linear_ticks(0, math.sqrt(zhi - offset), n))) do
      local v = offset + r * r
      if v > zlo and v < zhi then levels[#levels + 1] = v end
    end
    return levels
  end
  for _, v in ipairs((axes.linear_ticks(zlo, zhi, n))) do
    if v > zlo and v < zhi then levels[#levels + 1] = v end
  end
  return levels
end

-- Segments per cell case.  Corners: 1 = a (x_i, y_j), 2 = b (x_i+1, y_j),
-- 4 = c (x_i+1, y_j+1), 8 = d (x_i, y_j+1); a corner's bit is set when its value
-- is above the level.  Edges: B = a-b (bottom), R = b-c (right), T = d-c (top),
-- L = a-d (left).  Cases 5 and 10 are saddles: see below.
local CASES = {
  [1] = {"L", "B"}, [2] = {"B", "R"}, [3] = {"L", "R"}, [4] = {"R", "T"},
  [6] = {"B", "T"}, [7] = {"L", "T"}, [8] = {"L", "T"}, [9] = {"B", "T"},
  [11] = {"R", "T"}, [12] = {"L", "R"}, [13] = {"B", "R"}, [14] = {"L", "B"},
}

--- Polylines of one level: an array of {points = {{x1, x2}, ...}, closed = bool}
-- in data coordinates.
function M.lines(z, bounds, level)
  local ny, nx = #z - 1, #z[1] - 1
  local lo1, hi1, lo2, hi2 = bounds[1][1], bounds[1][2], bounds[2][1], bounds[2][2]
  local dx, dy = (hi1 - lo1) / nx, (hi2 - lo2) / ny
  -- edge ids: the horizontal edge from grid point (i, j) to (i+1, j) is
  -- 2*((j-1)*(nx+1) + i); the vertical one from (i, j) to (i, j+1) is that + 1
  local point = {}      -- edge id -> {x1, x2} where the level crosses it
  local link1, link2 = {}, {}   -- edge id -> the (at most two) edges joined to it
  local order = {}      -- edge ids in the order first seen (deterministic output)

  local function crossing(id, za, zb, xa, ya, xb, yb)
    if point[id] == nil then
      local t = (level - za) / (zb - za)
      point[id] = {xa + t * (xb - xa), ya + t * (yb - ya)}
      order[#order + 1] = id
    end
    return id
  end
  local function join(e1, e2)
    if link1[e1] == nil then link1[e1] = e2 else link2[e1] = e2 end
    if link1[e2] == nil then link1[e2] = e1 else link2[e2] = e1 end
  end

  for j = 1, ny do
    local row, up = z[j], z[j + 1]
    local y0 = lo2 + (j - 1) * dy
    local y1 = y0 + dy
    for i = 1, nx do
      local a, b, c, d = row[i], row[i + 1], up[i + 1], up[i]
      if finite(a) and finite(b) and finite(c) and finite(d) then
        local case = (a > level and 1 or 0) + (b > level and 2 or 0) + (c > level and 4 or 0) + (d > level and 8 or 0)
        if case ~= 0 and case ~= 15 then
          local x0 = lo1 + (i - 1) * dx
          local x1 = x0 + dx
          local base = 2 * ((j - 1) * (nx + 1) + i)
          local edges = {}
          local function edge(name)
            local e = edges[name]
            if e then return e end
            if name == "B" then e = crossing(base, a, b, x0, y0, x1, y0)
            elseif name == "T" then e = crossing(base + 2 * (nx + 1), d, c, x0, y1, x1, y1)
            elseif name == "L" then e = crossing(base + 1, a, d, x0, y0, x0, y1)
            else e = crossing(base + 3, b, c, x1, y0, x1, y1) end
            edges[name] = e
            return e
          end
          local segs = CASES[case]
          if segs then
            join(edge(segs[1]), edge(segs[2]))
          else
            -- saddle: a and c above (5) or b and d above (10); the centre
            -- value decides whether the above corners connect through the middle
            local centre_above = (a + b + c + d) / 4 > level
            if (case == 5) == centre_above then
              join(edge("L"), edge("T")); join(edge("B"), edge("R"))
            else
              join(edge("L"), edge("B")); join(edge("R"), edge("T"))
            end
          end
        end
      end
    end
  end

  -- walk the chains: open ones (from an end with a single link) first, then cycles
  local lines = {}
  local function unlink(e, other)
    if link1[e] == other then link1[e] = link2[e]; link2[e] = nil else link2[e] = nil end
  end
  local function walk(start)
    local pts = {point[start]}
    local cur = start
    while link1[cur] ~= nil do
      local nxt = link1[cur]
      unlink(cur, nxt)
      unlink(nxt, cur)
      pts[#pts + 1] = point[nxt]
      cur = nxt
    end
    return pts, cur == start
  end
  for _, id in ipairs(order) do
    if link1[id] ~= nil and link2[id] == nil then
      local pts = walk(id)
      lines[#lines + 1] = {points = pts, closed = false}
    end
  end
  for _, id in ipairs(order) do
    if link1[id] ~= nil then
      local pts = walk(id)
      pts[#pts] = nil   -- the walk came back to its start
      lines[#lines + 1] = {points = pts, closed = true}
    end
  end
  return lines
end

-- viridis at 6 stops (matplotlib's default colormap), interpolated linearly
local VIRIDIS = {{68, 1, 84}, {65, 68, 135}, {42, 120, 142}, {34, 168, 132}, {122, 209, 81}, {253, 231, 37}}

--- "#rrggbb" at t in [0, 1] along viridis.
function M.colormap(t)
  t = max(0, min(1, t)) * (#VIRIDIS - 1)
  local k = min(floor(t), #VIRIDIS - 2)
  local u = t - k
  local p, q = VIRIDIS[k + 1], VIRIDIS[k + 2]
  return string.format("#%02x%02x%02x", floor(p[1] + u * (q[1] - p[1]) + 0.5),
    floor(p[2] + u * (q[2] - p[2]) + 0.5), floor(p[3] + u * (q[3] - p[3]) + 0.5))
end

return M
