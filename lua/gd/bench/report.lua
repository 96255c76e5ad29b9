--- gd.bench.report: Markdown tables and SVG plots from a results database.
-- Per problem and optimizer/flavor: the tuned lr, Performance (final metric of
-- the best setting, mean +- sample std over seeds), Speed (steps to the target,
-- mean over the seeds that reached it), Tuneability (the share of tuning
-- settings that reached the target); across problems AlgoPerf's performance
-- profile rho(tau): the share of problems on which an optimizer reaches the
-- target within tau times the fastest optimizer's steps.
local gd = require "gd"

local M = {}
local fmt = string.format

local function mean_std(v)
  local n = #v
  if n == 0 then return nil end
  local m = 0
  for _, x in ipairs(v) do m = m + x end
  m = m / n
  local s = 0
  for _, x in ipairs(v) do s = s + (x - m) ^ 2 end
  s = n > 1 and math.sqrt(s / (n - 1)) or 0
  if s < 1e-12 * math.abs(m) then s = 0 end   -- equal values: rounding, not spread
  return m, s
end
M.mean_std = mean_std

local function num(x) return x and fmt("%.4g", x) or "-" end

function M.report(path, opts)
  opts = opts or {}
  local out = opts.out or "report"
  os.execute("mkdir -p " .. require("gd.bench").shell_quote(out))
  local fh = type(path) == "string" and io.open(path, "rb")
  if not fh then error("gd.bench.report: no results database " .. tostring(path), 2) end
  fh:close()
  local db = require("gd.bench").open(path)
  local P = require "gd.bench.problems"
  local md = {"# Optimizer benchmark", ""}
  for _, r in ipairs(db:rows("SELECT key, value FROM meta ORDER BY key")) do md[#md + 1] = fmt("- %s: %s", r.key, r.value) end
  md[#md + 1] = ""
  local groups = db:rows("SELECT DISTINCT problem, optimizer, flavor, schedule FROM trials " ..
    "ORDER BY problem, optimizer, flavor, schedule")
  local formats = opts.formats or {"svg"}
  for _, f in ipairs(formats) do
    if f ~= "svg" and f ~= "png" and f ~= "pdf" then
      db:close()
      error("gd.bench.report: formats: expected \"svg\", \"png\" or \"pdf\", got " .. tostring(f), 2)
    end
  end
  -- one plot in every format asked for; the Markdown links the first
  local function plot(series, name, o)
    for _, f in ipairs(formats) do
      o.file = out .. "/" .. name .. "." .. f
      gd.plot.line(series, o)
    end
    return name .. "." .. formats[1]
  end
  local by_problem, order = {}, {}
  for _, g in ipairs(groups) do
    if not by_problem[g.problem] then by_problem[g.problem] = {}; order[#order + 1] = g.problem end
    table.insert(by_problem[g.problem], g)
  end
  local speed = {}   -- speed[problem][label] = mean steps to target
  local labels, seen = {}, {}
  for _, prob in ipairs(order) do
    local p = P[prob] or {}
    md[#md + 1] = fmt("## %s (%s, target %s)", prob, p.metric or "?", num(p.target))
    md[#md + 1] = ""
    md[#md + 1] = "| optimizer | flavor | schedule | lr | performance (final) | best | speed (steps to target) | " ..
      "tuneability | diverged |"
    md[#md + 1] = "|---|---|---|---|---|---|---|---|---|"
    local lr_series, curve_series = {}, {}
    speed[prob] = {}
    for _, g in ipairs(by_problem[prob]) do
      local label = g.optimizer .. (g.flavor ~= "default" and (" (" .. g.flavor .. ")") or "") ..
        (g.schedule ~= "none" and (" + " .. g.schedule) or "")
      if not seen[label] then seen[label] = true; labels[#labels + 1] = label end
      local tune = db:rows("SELECT * FROM trials WHERE problem = ? AND optimizer = ? AND flavor = ? AND schedule = ? " ..
        "AND phase = 'tune' AND status IN ('done', 'diverged') ORDER BY id", prob, g.optimizer, g.flavor, g.schedule)
      local reached, diverged = 0, 0
      -- one line per setting of the other hyperparameters, in lr order
      local lines, line_order = {}, {}
      for _, t in ipairs(tune) do
        if t.steps_to_target then reached = reached + 1 end
        if t.status == "diverged" then diverged = diverged + 1 end
        local h = require("gd.bench").json_decode(t.hyper)
        local lr = h.lr
        h.lr = nil
        local rest = require("gd.bench").json_encode(h)
        if not lines[rest] then
          lines[rest] = {}
          line_order[#line_order + 1] = rest
        end
        table.insert(lines[rest], {lr, t.status == "done" and t.final or 0 / 0})
      end
      for _, rest in ipairs(line_order) do
        local pts = lines[rest]
        table.sort(pts, function(a, b) return a[1] < b[1] end)
        local xs, ys = {}, {}
        for i, q in ipairs(pts) do xs[i], ys[i] = q[1], q[2] end
        local extra = rest ~= "{}" and (" " .. rest:gsub('[{}"]', ""):gsub(":", "=")) or ""
        lr_series[#lr_series + 1] = {name = label .. extra, x = xs, y = ys}
      end
      local seeds = db:rows("SELECT * FROM trials WHERE problem = ? AND optimizer = ? AND flavor = ? AND schedule = ? " ..
        "AND phase = 'seed' AND status = 'done' ORDER BY seed", prob, g.optimizer, g.flavor, g.schedule)
      local finals, bests, steps, runs = {}, {}, {}, {}
      local steps_x
      for _, s in ipairs(seeds) do
        finals[#finals + 1] = s.final
        bests[#bests + 1] = s.best
        if s.steps_to_target then steps[#steps + 1] = s.steps_to_target end
        local pts = db:rows("SELECT step, value FROM points WHERE trial_id = ? AND metric = ? ORDER BY step", s.id,
          p.metric or "loss")
        local y, x = {}, {}
        for i, q in ipairs(pts) do y[i] = q.value or 0 / 0; x[i] = q.step end
        runs[#runs + 1] = y
        steps_x = steps_x or x
      end
      local lr = seeds[1] and require("gd.bench").json_decode(seeds[1].hyper).lr
      local fm, fs = mean_std(finals)
      local bm, bs = mean_std(bests)
      local sm = #steps == #seeds and #seeds > 0 and (mean_std(steps)) or nil
      speed[prob][label] = sm
      md[#md + 1] = fmt("| %s | %s | %s | %s | %s | %s | %s | %s | %d/%d |", g.optimizer, g.flavor, g.schedule, num(lr),
        fm and fmt("%.4g ± %.2g", fm, fs) or "-", bm and fmt("%.4g ± %.2g", bm, bs) or "-",
        sm and fmt("%.0f", sm) or "not reached", #tune > 0 and fmt("%d/%d", reached, #tune) or "-", diverged, #tune)
      if #runs > 0 then curve_series[#curve_series + 1] = {name = label, x = steps_x, runs = runs} end
    end
    md[#md + 1] = ""
    if #lr_series > 0 then
      md[#md + 1] = fmt("![lr sensitivity](%s)", plot(lr_series, prob .. "_lr", {xscale = "log",
        title = prob .. ": lr sensitivity", xlabel = "learning rate", ylabel = "final " .. (p.metric or "metric")}))
    end
    if #curve_series > 0 then
      md[#md + 1] = fmt("![curves](%s)", plot(curve_series, prob .. "_curves", {
        title = prob .. ": best setting over seeds (mean -+ std)", xlabel = "step", ylabel = p.metric or "metric"}))
    end
    md[#md + 1] = ""
  end
  -- performance profile over tau in [1, 10]
  local taus, series = {}, {}
  for i = 1, 50 do taus[i] = 10 ^ ((i - 1) / 49) end
  for _, label in ipairs(labels) do
    local y = {}
    for i, tau in ipairs(taus) do
      local ok = 0
      for _, prob in ipairs(order) do
        local fastest
        for _, v in pairs(speed[prob]) do if not fastest or v < fastest then fastest = v end end
        local v = speed[prob][label]
        if v and fastest and v <= tau * math.max(fastest, 1) then ok = ok + 1 end
      end
      y[i] = ok / math.max(#order, 1)
    end
    series[#series + 1] = {name = label, x = taus, y = y}
  end
  if #series > 0 then
    local file = plot(series, "profile", {xscale = "log", title = "performance profile (steps to target)",
      xlabel = "tau", ylabel = "share of problems", ylim = {0, 1.05}})
    md[#md + 1] = "## Performance profile"
    md[#md + 1] = ""
    md[#md + 1] = "rho(tau): the share of problems on which an optimizer reaches the target within tau times " ..
      "the fastest optimizer's steps (AlgoPerf, Dahl et al. 2023)."
    md[#md + 1] = ""
    md[#md + 1] = "![profile](" .. file .. ")"
  end
  db:close()
  local text = table.concat(md, "\n") .. "\n"
  local tmp = out .. "/report.md.tmp"
  local f = assert(io.open(tmp, "w"))
  f:write(text)
  f:close()
  assert(os.rename(tmp, out .. "/report.md"))
  return text
end

return M
