--- gd.bench.dispatch: trials handed out by rank 0 over gd.dist (MPI), for
-- sweeps under mpirun.  Only rank 0 opens the results database, so the ranks
-- may run on other machines (SQLite's WAL must not live on a network disk).
--
-- A round: rank 0 claims up to size() pending trials (marked running, as a
-- local worker's claim) and broadcasts them; rank r runs the (r+1)-th; the
-- results with their curves come back to rank 0 through one allgather, and it
-- stores them.  A round with no trials ends the phase on every rank.  Rounds
-- are synchronous, so a round lasts as long as its slowest trial.  Messages are
-- text (flat JSON) carried as int64 tensors of bytes: gd.dist moves tensors.
local gd = require "gd"
local space = require "gd.bench.space"

local M = {}
local encode, decode = space.encode, space.decode

local function to_tensor(s, n)
  local t = gd.zeros(math.max(n, 1), {dtype = "int64"})
  for i = 1, #s do t:set(i, s:byte(i)) end
  return t
end

local function to_string(t, n)
  local bytes = t:totable()
  local parts = {}
  for i = 1, n, 4096 do
    parts[#parts + 1] = string.char(unpack(bytes, i, math.min(i + 4095, n)))
  end
  return table.concat(parts)
end

--- Rank 0's s on every rank.
local function broadcast_string(dist, s)
  local len = gd.tensor({s and #s or 0}, {dtype = "int64"})
  dist.broadcast(len, 0)
  local n = len:get(1)
  local t = to_tensor(s or "", n)
  dist.broadcast(t, 0)
  return to_string(t, n)
end
M.broadcast_string = broadcast_string

--- Every rank's s, as an array indexed by rank + 1.
local function gather_strings(dist, s)
  local lens = dist.allgather(gd.tensor({#s}, {dtype = "int64"})):totable()
  local max = 1
  for r = 1, #lens do max = math.max(max, lens[r][1]) end
  local all = dist.allgather(to_tensor(s, max))
  local out = {}
  for r = 1, #lens do out[r] = to_string(all:select(1, r):contiguous(), lens[r][1]) end
  return out
end
M.gather_strings = gather_strings

local ROW_KEYS = {"id", "problem", "optimizer", "flavor", "schedule", "hyper", "seed", "budget"}

local function encode_row(r)
  local t = {}
  for _, k in ipairs(ROW_KEYS) do t[k] = r[k] end
  return encode(t)
end

-- a result: its numbers as JSON, a tab, then the points as step,metric,value;...
local function encode_result(id, pid, status, final, best, hit, hit_s, seconds, pts)
  local parts = {}
  for i, q in ipairs(pts) do
    local v = q[3]
    parts[i] = string.format("%d,%s,%s", q[1], q[2], (v == v and v ~= math.huge and v ~= -math.huge)
      and space.number_text(v) or "nan")
  end
  return encode{id = id, pid = pid, status = status, final = final, best = best, hit = hit, hit_s = hit_s,
    seconds = seconds} .. "\t" .. table.concat(parts, ";")
end

local function decode_result(s)
  local head, tail = s:match("^([^\t]*)\t(.*)$")
  local r = decode(head)
  local pts = {}
  for step, metric, v in tail:gmatch("(%d+),([^,;]+),([^;]+)") do pts[#pts + 1] = {tonumber(step), metric, tonumber(v)} end
  return r, pts
end

--- Runs the pending trials of db (open on rank 0 only; nil elsewhere) across
-- the ranks until none is left.  Returns the number this rank ran.
function M.drain(bench, dist, db, pid, job)
  local rank, size = dist.rank(), dist.size()
  local n = 0
  while true do
    local msg
    if rank == 0 then
      local lines = {}
      for _ = 1, size do
        local row = bench._claim(db, pid, job)
        if not row then break end
        lines[#lines + 1] = encode_row(row)
      end
      msg = table.concat(lines, "\n")
    end
    msg = broadcast_string(dist, msg)
    if msg == "" then return n end
    local rows = {}
    for line in msg:gmatch("[^\n]+") do rows[#rows + 1] = decode(line) end
    local mine = rows[rank + 1]
    local result = ""
    if mine then
      result = encode_result(mine.id, pid, bench._run_one(mine))
      n = n + 1
    end
    local all = gather_strings(dist, result)
    if rank == 0 then
      for _, s in ipairs(all) do
        if s ~= "" then
          local r, pts = decode_result(s)
          bench._store(db, r.id, r.pid, r.status, r.final, r.best, r.hit, r.hit_s, r.seconds, pts)
        end
      end
    end
  end
end

return M
