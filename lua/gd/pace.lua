--- gd.pace: a hill climber over a few levels of a setting, driven by measured
-- rates (gd.aux uses it for how many unsettled tensors wait for a
-- collection: the best number depends on the machine's caches, see there).
-- Nothing here is public API.
--
-- The climber stays at its home level and measures it.  Every `wait` epochs
-- it probes one neighbour for one epoch.  The neighbour above becomes the new
-- home when it is more than `gain` (3%) faster than the home epoch just
-- before; the neighbour below already when it is no more than gain/3 slower,
-- so that within the noise the climber settles on the smaller level and its
-- smaller memory.  After a move the next probe, in the same direction, comes
-- one epoch later; after a probe that failed the direction turns and the
-- wait doubles (up to `max_wait` epochs), so that a climber at the best level
-- spends almost all its time there.  A home epoch whose rate differs from the
-- one before by more than `shift` (25%) means the work itself changed
-- (another loop): the wait starts again at 1.  A rate is anything where
-- larger is better (tensors per CPU second).
local M = {}
M.__index = M

--- A climber over levels 0..top, starting at level 0.
function M.new(top, opts)
  opts = opts or {}
  return setmetatable({
    top = top, level = 0, home = 0, dir = 1,
    probing = false, home_rate = nil, epochs = 0,
    wait = 0, wait_len = 1, max_wait = opts.max_wait or 32, gain = opts.gain or 0.03,
    shift = opts.shift or 0.25,
  }, M)
end

--- Takes the rate measured over the epoch just ended (at self.level); returns
-- the level for the next epoch.
function M:observe(rate)
  self.epochs = self.epochs + 1
  if self.probing then
    self.probing = false
    -- a smaller level (less memory waiting) needs only to be no slower
    local need = self.level < self.home and 1 - self.gain / 3 or 1 + self.gain
    if self.home_rate and rate > self.home_rate * need then
      self.home, self.home_rate, self.wait_len, self.wait = self.level, rate, 1, 0
    else
      self.dir = -self.dir
      self.wait_len = math.min(self.wait_len * 2, self.max_wait)
      self.wait = self.wait_len
    end
    self.level = self.home
    return self.level
  end
  local last = self.home_rate
  self.home_rate = rate
  if last and (rate > last * (1 + self.shift) or rate < last / (1 + self.shift)) then
    -- the work changed under the climber (another loop, larger tensors):
    -- what it learnt of the levels is stale, so it probes again at once
    self.wait_len, self.wait = 1, 0
  end
  if self.wait > 0 then
    self.wait = self.wait - 1
    return self.level
  end
  local p = self.home + self.dir
  if p < 0 or p > self.top then
    self.dir = -self.dir
    p = self.home + self.dir
  end
  if p < 0 or p > self.top then return self.level end   -- (a single level)
  self.probing, self.level = true, p
  return p
end

return M
