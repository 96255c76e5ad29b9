-- Durability of gd.save (issue 10): a child process saves in a loop and is
-- SIGKILLed at random points.  After every kill the path loads as a complete
-- value the child wrote (never torn, never older than the one before), and the
-- next save leaves no temporary file behind.  Bounded: 20 kills, about 10 s.
local gd = require "gd"
local P = dofile("spec/support/process.lua")

local CHILD = [[
local gd = require "gd"
local path, n = arg[1], tonumber(arg[2])
-- 1 MB of data per save: the kill lands inside a save most of the time
local t = gd.empty(131072, {dtype = "float64"})
local npy = path:sub(-4) == ".npy"
while true do
  n = n + 1
  t:fill_(n)
  if npy then gd.save(path, t) else gd.save(path, {n = n, t = t, tag = string.rep("x", n % 997)}) end
end
]]

local function ls(dir)
  local list = {}
  for name in P.sh("ls -A " .. P.quote(dir)):gmatch("[^\n]+") do list[#list + 1] = name end
  table.sort(list)
  return list
end

--- The value's n, after checking that it is whole: every element the same n.
local function n_of(v, npy)
  local t = npy and v or v.t
  assert.are.same({131072}, t.shape)
  local n = t:get(1)
  assert.are.equal(n, t:min())
  assert.are.equal(n, t:max())
  if not npy then
    assert.are.equal(n, v.n)
    assert.are.equal(n % 997, #v.tag)
  end
  return n
end

describe("gd.save under SIGKILL", function()
  after_each(function() P.cleanup() end)

  -- catches: a torn or truncated file after a kill (a save that writes in
  -- place, or renames before its data is complete), and temporary files
  -- that outlive the save after the kill
  it("always leaves the old or the new complete value, and the next save no temporary file", function()
    local dir = P.tmpdir()
    local seed = os.time()
    math.randomseed(seed)
    P.write(dir .. "/child.lua", CHILD)
    local kills, torn_windows = 0, 0
    local deadline = os.time() + 20 -- bounded however slow the machine is
    for round = 1, 20 do
      if os.time() > deadline then break end
      local npy = round % 2 == 0
      local path = dir .. (npy and "/ckpt.npy" or "/ckpt.gd")
      local start = 0
      if round <= 2 then
        if npy then gd.save(path, gd.zeros(131072, {dtype = "float64"}))
        else gd.save(path, {n = 0, t = gd.zeros(131072, {dtype = "float64"}), tag = ""}) end
      else
        start = n_of(gd.load(path), npy)
      end
      local pid = P.sh(("cd %s && %s %s %s %d > /dev/null 2>&1 & echo $!"):format(
        P.quote(P.root), P.quote(P.gdlua), P.quote(dir .. "/child.lua"), P.quote(path), start)):match("%d+")
      assert.truthy(pid)
      -- let it start (about 0.06 s) and save a few times, then kill it anywhere
      os.execute(("sleep %.3f"):format(0.05 + math.random() * 0.2))
      os.execute("kill -KILL " .. pid .. " 2> /dev/null")
      -- wait until it is dead (gone, or a zombie: its files and locks are released)
      for _ = 1, 200 do
        local f = io.open("/proc/" .. pid .. "/stat", "r")
        local stat = f and f:read("*a") or ""
        if f then f:close() end
        if stat == "" or stat:match("^%d+ %b() ([ZX])") then break end
        os.execute("sleep 0.01")
      end
      kills = kills + 1
      local names = ls(dir)
      if #names > 3 then torn_windows = torn_windows + 1 end -- the kill hit a save in progress
      local ok, v = pcall(gd.load, path)
      assert(ok, ("seed %d, round %d: %s"):format(seed, round, tostring(v)))
      local n = n_of(v, npy)
      assert(n >= start, ("seed %d, round %d: went back from %d to %d"):format(seed, round, start, n))
      -- the next save of the path removes what the killed one left
      gd.save(path, v)
      names = ls(dir)
      local want = {"child.lua", "ckpt.gd"}
      if round > 1 then want = {"child.lua", "ckpt.gd", "ckpt.npy"} end
      assert.are.same(want, names, ("seed %d, round %d"):format(seed, round))
    end
    print(("  durability: %d kills, %d inside a save (seed %d)"):format(kills, torn_windows, seed))
    assert.is_true(kills >= 10)
    -- the kills did land inside saves (else this spec would test nothing)
    assert.is_true(torn_windows >= 1, ("seed %d: no kill hit a save in progress"):format(seed))
  end)
end)
