-- Plot files are written as checkpoints are (issue 10, item 22): atomically,
-- every write checked, directories made without a shell.
local gd = rawget(_G, "gd") or require "gd"
local P = dofile("spec/support/process.lua")

local function listing(dir)
  return P.sh("ls -A " .. P.quote(dir))
end

--- A series whose SVG is far larger than 64 KiB (about 30 bytes a point).
local function long_series()
  local y = {}
  for i = 1, 20000 do y[i] = math.sin(i / 50) + i / 1e4 end
  return {{name = "long", y = y}}
end

describe("gd.plot files", function()
  after_each(P.cleanup)

  it("report a full disk as an error and keep the old file whole", function()
    local dir = P.tmpdir()
    local mnt = dir .. "/small"
    assert(os.execute("mkdir " .. P.quote(mnt)) == 0)
    if os.execute("mount -t tmpfs -o size=64k tmpfs " .. P.quote(mnt) .. " 2>/dev/null") ~= 0 then
      pending("cannot mount a tmpfs here (not root?)")
      return
    end
    local ok, err = pcall(function()
      local path = mnt .. "/loss.svg"
      local old = gd.plot.line({1, 2, 3}, {file = path})
      -- today's writer: io.open/write/close unchecked, the truncated SVG is
      -- reported as success and replaces the old picture
      local wrote, msg = pcall(gd.plot.line, long_series(), {file = path})
      assert.is_false(wrote)
      assert.matches("gd.plot.line: cannot write '" .. path .. "': No space left on device", msg, 1, true)
      assert.equal(old, P.read(path))
      -- the PNG goes through cairo's stream callback into the same writer
      local png = mnt .. "/loss.png"
      local big = {}
      for i = 1, 5000 do big[i] = (i * 7919) % 1000 end
      wrote, msg = pcall(gd.plot.line, {{name = "noise", y = big}}, {file = png, scale = 3})
      assert.is_false(wrote)
      assert.matches("gd.plot.line: cannot write '" .. png .. "': No space left on device", msg, 1, true)
      assert.is_nil(P.read(png))
      -- no temporary file is left behind
      assert.equal("loss.svg\n", listing(mnt))
    end)
    os.execute("umount " .. P.quote(mnt))
    assert(ok, err)
  end)

  it("make missing directories without a shell", function()
    local dir = P.tmpdir()
    local path = dir .. "/a/b c/'q'/plot.svg"
    local execute = os.execute
    -- today's writer runs `mkdir -p` through os.execute
    os.execute = function() error("a shell was used") end
    local ok, err = pcall(gd.plot.line, {3, 1, 2}, {file = path})
    os.execute = execute
    assert(ok, err)
    assert.matches("^<svg", P.read(path))
    -- a file where a directory should be
    P.write(dir .. "/plain", "x")
    ok, err = pcall(gd.plot.line, {3, 1, 2}, {file = dir .. "/plain/sub/plot.svg"})
    assert.is_false(ok)
    assert.matches("gd.plot.line: cannot create directory '" .. dir .. "/plain/sub': Not a directory", err, 1, true)
  end)

  it("raise at the caller's line", function()
    local ok, err = pcall(function() gd.plot.line({1, 2}, {file = "/proc/no/such/plot.svg"}) end)
    assert.is_false(ok)
    assert.matches("plot_files_spec.lua:%d+: gd.plot.line: cannot create directory '/proc/no'", err)
  end)
end)
