--- gd.progress: a one-line progress bar for training loops.
--
--     local bar = gd.progress.bar{total = 150, label = "epoch 1/2"}
--     for i = 1, 150 do ...; bar:update(i, {loss = l}) end
--     bar:finish()
--
-- It draws on standard error, and only when that is a terminal (unless asked
-- with enabled = true), at most ten times a second, so a fast loop pays one
-- clock read per update.  The line shows the label, a bar, done/total, the
-- named values, items per second and the estimated time left.
local doc = require "gd.doc"
local check = require "gd.check"
local F = require "gd.ffi"
local C = F.C
local fmt = string.format

local M = {}

--- Seconds on a monotonic clock (for timing loops).
M.now = doc(function() return C.gd_seconds() end, "gd.progress.now",
  "gd.progress.now() -> seconds on a monotonic clock (differences are elapsed wall time).")

--- true when the file descriptor (default 2, standard error) is a terminal.
M.isatty = doc(function(fd) return C.gd_nn_isatty(fd or 2) ~= 0 end, "gd.progress.isatty",
  "gd.progress.isatty([fd = 2]) -> true when the descriptor is a terminal (1: stdout, 2: stderr).")

--- "4.2s", "1:05", "12:03:09"
local function clock_text(s)
  if s ~= s or s == math.huge or s < 0 then return "?" end
  if s < 59.95 then return fmt("%.1fs", s) end
  s = math.floor(s + 0.5)
  local h, m = math.floor(s / 3600), math.floor(s / 60) % 60
  if h > 0 then return fmt("%d:%02d:%02d", h, m, s % 60) end
  return fmt("%d:%02d", m, s % 60)
end
M.clock_text = doc(clock_text, "gd.progress.clock_text",
  "gd.progress.clock_text(seconds) -> \"4.2s\", \"1:05\" or \"2:00:00\".")

local function rate_text(r)
  if r >= 1e6 then return fmt("%.2fM", r / 1e6) end
  if r >= 1e4 then return fmt("%.1fk", r / 1e3) end
  return fmt("%.0f", r)
end

local Bar = {}
Bar.__index = Bar
M.Bar = Bar

local BAR_OPTS = {total = true, label = true, enabled = true, out = true, width = true, interval = true,
                  later = true, epochs = true, batches = true}

M.bar = doc(function(opts)
  local fname = "gd.progress.bar"
  opts = check.options(fname, opts, BAR_OPTS)
  local enabled = opts.enabled
  if enabled == nil then enabled = M.isatty(2) and (opts.out == nil or opts.out == io.stderr) end
  local now = M.now()
  return setmetatable({
    total = opts.total, label = opts.label or "", enabled = enabled and true or false,
    out = opts.out or io.stderr, width = opts.width or 20, interval = opts.interval or 0.1,
    items = 0, start = now, last = -math.huge, done = 0, later = opts.later or 0, shown = false,
    epochs = opts.epochs, batches = opts.batches, epoch = 1, batch = 0, below = nil,
  }, Bar)
end, "gd.progress.bar", [[
gd.progress.bar{total = n, [label = "epoch 1/3"], [enabled = auto], [out = io.stderr],
                [later = runs of the same length still to come (epochs), for the time left],
                [epochs = n, batches = per epoch: one bar for a whole training run]} -> bar
  bar:update(done, [values], [items]) redraws (at most every 0.1 s): values is
  a table of numbers shown as name value (e.g. {loss = 0.25}), items the number
  of items (examples) processed so far, for the rate.  bar:finish() draws the
  final state and ends the line.  Disabled unless standard error is a terminal.
  With epochs, the line reads "epoch e/E [####--] batch b/B ..." from the
  fields bar.epoch and bar.batch (set them before update); bar.below = text
  (several lines: a braille plot) is drawn under the bar; bar:print(line, [out])
  prints a line above the bar without breaking it.]])

function Bar:render(final)
  local now = M.now()
  local elapsed = now - self.start
  local parts = {}
  if self.epochs then parts[#parts + 1] = fmt("epoch %d/%d", self.epoch, self.epochs) end
  if self.label ~= "" then parts[#parts + 1] = self.label end
  local total = self.total
  if total and total > 0 then
    local frac = math.min(1, self.done / total)
    local fill = math.floor(frac * self.width + 0.5)
    parts[#parts + 1] = "[" .. string.rep("#", fill) .. string.rep("-", self.width - fill) .. "]"
    if self.epochs then
      parts[#parts + 1] = self.batches and fmt("batch %d/%d", self.batch, self.batches) or fmt("batch %d", self.batch)
    else
      parts[#parts + 1] = fmt("%d/%d", self.done, total)
    end
  elseif self.epochs then
    parts[#parts + 1] = fmt("batch %d", self.batch)
  else
    parts[#parts + 1] = tostring(self.done)
  end
  if self.values then
    local keys = {}
    for k in pairs(self.values) do keys[#keys + 1] = k end
    -- the loss first, then the rest by name
    table.sort(keys, function(a, b)
      if (a == "loss") ~= (b == "loss") then return a == "loss" end
      return tostring(a) < tostring(b)
    end)
    for _, k in ipairs(keys) do
      local v = self.values[k]
      parts[#parts + 1] = type(v) == "number" and fmt("%s %.4g", k, v) or fmt("%s %s", k, tostring(v))
    end
  end
  if elapsed > 0 and self.items > 0 then parts[#parts + 1] = rate_text(self.items / elapsed) .. " items/s" end
  if final then
    parts[#parts + 1] = clock_text(elapsed)
  elseif total and self.done > 0 then
    local per = elapsed / self.done
    local left = per * (total - self.done) + per * total * self.later
    parts[#parts + 1] = "left " .. clock_text(left)
  end
  local below = self.below
  if below and below ~= "" then
    -- the text under the bar; then back up to the bar's line (unless final)
    local n = select(2, below:gsub("\n", "")) + 1
    self.out:write("\r", table.concat(parts, "  "), "\27[K\n\27[J", below, final and "\n" or fmt("\27[%dA\r", n))
  else
    self.out:write("\r", table.concat(parts, "  "), "\27[K", final and "\n" or "")
  end
  self.out:flush()
  self.shown = not final
end

--- Prints a line above the bar (a summary), then draws the bar again under it.
function Bar:print(line, out)
  out = out or self.out
  if self.enabled and self.shown then
    self.out:write("\r\27[J")
    self.out:flush()
  end
  out:write(line, "\n")
  out:flush()
  if self.enabled and self.shown then self:render(false) end
end

function Bar:update(done, values, items)
  self.done = done
  if values then self.values = values end
  if items then self.items = items end
  if not self.enabled then return end
  local now = C.gd_seconds()
  if now - self.last < self.interval and done ~= self.total then return end
  self.last = now
  self:render(false)
end

function Bar:finish(values)
  if values then self.values = values end
  if self.enabled then self:render(true) end
end

doc(Bar.update, "gd.progress.Bar:update", [[
bar:update(done, [values], [items]): records progress (done of total steps,
named values to show, items processed so far) and redraws at most every 0.1 s.]])
doc(Bar.finish, "gd.progress.Bar:finish", "bar:finish([values]): draws the final line and ends it.")
doc(Bar.print, "gd.progress.Bar:print", [[
bar:print(line, [out = the bar's stream]): prints line (a summary) above the
bar, which is drawn again under it.]])
doc(Bar, "gd.progress.Bar", "gd.progress.Bar: the class of gd.progress.bar{...}; methods update, finish and print.")
doc(M, "gd.progress", "gd.progress: bar{...} (a one-line progress bar), now(), isatty([fd]).")

return M
