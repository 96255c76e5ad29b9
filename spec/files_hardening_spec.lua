-- Files and parsers under attack (issue 10, items 7-10, 14, 17, 20, 21, 23):
-- truncated .gz files, CSV line ends, NUL bytes, NUL in paths, .npy headers
-- as NumPy reads them, CSV numbers in their column's dtype, temporary files
-- of killed saves, file modes and symlinks, long names, crafted checkpoints
-- and crafted gd.nn.load files.
local gd = require "gd"
local ffi = require "ffi"
local P = dofile("spec/support/process.lua")
local C = require("gd.ffi").C

local function write(path, bytes) P.write(path, bytes) end

--- The names in dir (without . and ..), sorted.
local function ls(dir)
  local list = {}
  for name in P.sh("ls -A " .. P.quote(dir)):gmatch("[^\n]+") do list[#list + 1] = name end
  table.sort(list)
  return list
end

local function mode_of(path) return (P.sh("stat -c %a " .. P.quote(path)):gsub("%s+$", "")) end
local function is_link(path) return os.execute("test -L " .. P.quote(path)) == 0 end

--- Calls f(...) from a Lua line of this file and returns its error message
-- (fails when it succeeds).  Not a tail call: the error's position must be here.
local function err_of(f, ...)
  local args = {n = select("#", ...), ...}
  local ok, e = pcall(function()
    local r = f(unpack(args, 1, args.n))
    return r
  end)
  assert(not ok, "expected an error")
  return tostring(e)
end

--- A .npy v1.0 file around header (padded as NumPy pads it) with data.
local function npy(header, data)
  local total = 10 + #header + 1
  header = header .. string.rep(" ", (64 - total % 64) % 64) .. "\n"
  return "\147NUMPY\1\0" .. string.char(#header % 256, math.floor(#header / 256)) .. header .. data
end

--- The int64 values of a tensor, exactly, as strings (through a .npy file:
-- Lua numbers cannot hold 2^53 + 1).
local function int64_strings(dir, t)
  gd.save(dir .. "/v.npy", t)
  local bytes = P.read(dir .. "/v.npy")
  local hlen = bytes:byte(9) + bytes:byte(10) * 256
  local data = bytes:sub(11 + hlen)
  local n = #data / 8
  local arr = ffi.new("int64_t[?]", n)
  ffi.copy(arr, data, #data)
  local out = {}
  for i = 0, n - 1 do out[#out + 1] = tostring(arr[i]):gsub("LL$", "") end
  return out
end

describe("files and parsers", function()
  local dir
  before_each(function() dir = P.tmpdir() end)
  after_each(function() P.cleanup() end)

  describe("gd.data.read_csv of a .csv.gz", function()
    -- catches: gzread's 0 at a truncated stream taken as the end of the
    -- file (1,160 of 2,297 cut points loaded, most with a corrupt last row)
    it("refuses the file cut at every byte, and reads the whole one exactly", function()
      local rows = {}
      for i = 1, 60 do rows[i] = string.format("%d,%.6f,%d", i, i / 7, i * i) end
      write(dir .. "/d.csv", table.concat(rows, "\n") .. "\n")
      assert.are.equal(0, os.execute("gzip -9 -n -c " .. P.quote(dir .. "/d.csv") .. " > " .. P.quote(dir .. "/d.csv.gz")))
      local whole = P.read(dir .. "/d.csv.gz")
      local t = gd.data.read_csv(dir .. "/d.csv.gz", {dtype = "float64"})
      assert.are.same({60, 3}, t.shape)
      assert.are.equal(3600, t:get(60, 3))
      assert.are.equal(tonumber(string.format("%.6f", 59 / 7)), t:get(59, 2))
      local accepted = {}
      for cut = 1, #whole - 1 do
        write(dir .. "/cut.csv.gz", whole:sub(1, cut))
        local ok, e = pcall(gd.data.read_csv, dir .. "/cut.csv.gz")
        if ok then
          accepted[#accepted + 1] = cut
        else
          assert.truthy(tostring(e):find("gd.data.read_csv: ", 1, true))
          -- past gzip's 10-byte header the cause is named: the stream ends early
          if cut > 10 then assert.truthy(tostring(e):find("truncated", 1, true), tostring(e)) end
        end
      end
      assert.are.same({}, accepted)
    end)
  end)

  describe("gd.data.read_csv line ends", function()
    -- catches: a bare CR ending only a line's data ("1,2\r3,4\r" read as 1x2)
    it("accepts CR, LF and CRLF, alone or mixed", function()
      local texts = {"1,2\r3,4\r5,6\r", "1,2\n3,4\n5,6", "1,2\r\n3,4\r\n5,6\r\n", "1,2\r3,4\n5,6\r\n",
                     "1,2\r\n\r\n3,4\r\r5,6\n\n"}
      for i, text in ipairs(texts) do
        write(dir .. "/l" .. i .. ".csv", text)
        local t = gd.data.read_csv(dir .. "/l" .. i .. ".csv")
        assert.are.same({{1, 2}, {3, 4}, {5, 6}}, t:totable())
      end
    end)

    it("reads a header ended by a bare CR, and counts CR lines in messages", function()
      write(dir .. "/h.csv", "a,b\r1,2\r3,4\r")
      local t, names = gd.data.read_csv(dir .. "/h.csv", {header = true, columns = {"b"}})
      assert.are.same({"b"}, names)
      assert.are.same({{2}, {4}}, t:totable())
      write(dir .. "/bad.csv", "1,2\r3,4\r5,x\r")
      assert.truthy(err_of(gd.data.read_csv, dir .. "/bad.csv"):find("line 3, field 2: 'x'", 1, true))
    end)
  end)

  describe("gd.data.read_csv NUL bytes", function()
    -- catches: strtod stopping at the NUL ("3\0xyz" read as 3)
    it("refuses a NUL byte anywhere, naming its line", function()
      for _, case in ipairs({{"3\0xyz\n", 1}, {"1,2\n3,4\0\n", 2}, {"1,2\r\n\0,4\r\n", 2}, {"a,b\0\n1,2\n", 1}}) do
        write(dir .. "/z.csv", case[1])
        local e = err_of(gd.data.read_csv, dir .. "/z.csv", {header = case[2] == 1 and case[1]:sub(1, 1) == "a"})
        assert.truthy(e:find("line " .. case[2] .. " has a NUL byte", 1, true), e)
      end
    end)
  end)

  describe("paths with a NUL byte", function()
    -- catches: C reading the name up to the NUL: gd.save("x\0.npy", t)
    -- wrote NumPy's format into x; load and read_csv read x
    it("are refused by gd.save, gd.load, gd.data.read_csv, gd.nn.load and gd.log, touching nothing", function()
      local x = dir .. "/x"
      local e = err_of(gd.save, x .. "\0.npy", gd.zeros(2))
      assert.truthy(e:find("gd.save: argument 1 (path) contains a NUL byte", 1, true), e)
      assert.are.same({}, ls(dir))
      gd.save(x, gd.nn.Linear(2, 2))
      write(dir .. "/c.csv", "1,2\n")
      for _, case in ipairs({{gd.load, "gd.load", x .. "\0.npy"}, {gd.nn.load, "gd.nn.load", x .. "\0"},
                             {gd.data.read_csv, "gd.data.read_csv", dir .. "/c.csv\0.gz"},
                             {gd.log.read, "gd.log.read", dir .. "/c.csv\0"},
                             {gd.log.Logger, "gd.log.Logger", dir .. "/c.csv\0.log"}}) do
        e = err_of(case[1], case[3])
        assert.truthy(e:find(case[2] .. ": ", 1, true), e)
        assert.truthy(e:find("contains a NUL byte", 1, true), e)
        -- raised at the caller's line
        assert.truthy(e:find("files_hardening_spec.lua:%d+: "), e)
      end
      -- nothing was written through the truncated names either
      assert.are.same({"c.csv", "x"}, ls(dir))
      assert.are.equal("1,2\n", P.read(dir .. "/c.csv"))
    end)
  end)

  describe("the .npy header", function()
    local golden = dofile("spec/golden/npy_headers.lua")
    -- catches: a pattern-matching reader that took (-6,) as 6, (2, -3) and
    -- ((2, 3),) as 2x3, (3 2) as 3x2, (1e3,) as 1x3, and the first of two
    -- 'descr' keys.  Refused files get the data bytes such a reader would
    -- expect (the product of the digit runs), so only the header refuses them.
    it("is read as NumPy reads it: what numpy.load accepts loads with its shape, the rest is refused", function()
      assert.is_true(#golden >= 25)
      for i, case in ipairs(golden) do
        local header, shape = case[1], case[2]
        local path = dir .. "/h" .. i .. ".npy"
        local size = header:find("<f8", 1, true) and 8 or header:find("<i8", 1, true) and 8 or 4
        if shape then
          local n = 1
          for _, s in ipairs(shape) do n = n * s end
          write(path, npy(header, string.rep("\0", n * size)))
          local t = gd.load(path)
          assert.are.same(shape, t.shape, header)
        else
          local n = 1
          local shape_s = header:match("'shape'%s*:%s*(.*)$") or ""
          for d in shape_s:gmatch("%d+") do n = n * tonumber(d) end
          write(path, npy(header, string.rep("\0", n * size)))
          local e = err_of(gd.load, path)
          assert.truthy(e:find("gd.load: '" .. path .. "' is not a valid .npy file: header", 1, true), header .. " -> " .. e)
        end
      end
    end)

    -- numpy's literal_eval lets the last of two keys win; gdlua refuses the
    -- ambiguity (a decision: two readers would see two different arrays)
    it("refuses a duplicate key", function()
      local path = dir .. "/dup.npy"
      write(path, npy("{'descr': '<f8', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", ("\0"):rep(8)))
      assert.truthy(err_of(gd.load, path):find("the key 'descr' appears twice", 1, true))
    end)
  end)

  describe("gd.data.read_csv numbers", function()
    local function csv(text, opts)
      write(dir .. "/n.csv", text)
      return gd.data.read_csv(dir .. "/n.csv", opts)
    end
    local function csv_err(text, opts)
      write(dir .. "/n.csv", text)
      return err_of(gd.data.read_csv, dir .. "/n.csv", opts)
    end

    -- catches: strtod's ERANGE ignored (1e400 read as inf)
    it("refuses values outside the dtype's range, and reads gradual underflow as NumPy does", function()
      assert.truthy(csv_err("1,1e400\n", {dtype = "float64"}):find("line 1, field 2: '1e400' is outside float64's range", 1, true))
      assert.truthy(csv_err("-1e400\n", {dtype = "float64"}):find("outside float64's range", 1, true))
      assert.truthy(csv_err("1e39\n"):find("'1e39' is outside float32's range", 1, true))
      assert.are.equal(1e39, csv("1e39\n", {dtype = "float64"}):get(1, 1))
      -- float('1e-400') is 0.0 in Python and NumPy: underflow is not an error
      assert.are.equal(0, csv("1e-400\n", {dtype = "float64"}):get(1, 1))
      -- a literal infinity is a value, not an overflow (NumPy reads "inf")
      assert.are.equal(math.huge, csv("inf\n", {dtype = "float64"}):get(1, 1))
    end)

    -- catches: int64 columns parsed through float64 (2^53 + 1 read as 2^53)
    -- and 1.7 truncated to 1
    it("reads int64 columns exactly, as integers", function()
      local t = csv("9007199254740993,-9223372036854775808\n9223372036854775807,-7\n", {dtype = "int64"})
      assert.are.equal("int64", t.dtype)
      assert.are.same({"9007199254740993", "-9223372036854775808", "9223372036854775807", "-7"},
        int64_strings(dir, t))
      assert.truthy(csv_err("1,1.7\n", {dtype = "int64"}):find("line 1, field 2: '1.7' is not an integer", 1, true))
      assert.truthy(csv_err("1e3\n", {dtype = "int64"}):find("'1e3' is not an integer", 1, true))
      assert.truthy(csv_err("9223372036854775808\n", {dtype = "int64"}):find("outside int64's range", 1, true))
    end)

    -- catches: a 64-byte field buffer (a 73-character number was refused)
    it("reads numbers of any length", function()
      local pi100 = "3.14159265358979323846264338327950288419716939937510582097494459230781640628620899862803482534211706"
      local t = csv("1," .. pi100 .. "\n", {dtype = "float64"})
      assert.are.equal(math.pi, t:get(1, 2))
      local long_int = string.rep("0", 90) .. "42"
      assert.are.same({"42"}, int64_strings(dir, csv(long_int .. "\n", {dtype = "int64"})))
    end)

    -- catches: float32 read through float64 (rounded twice): this decimal lies
    -- just above the midpoint 1 + 2^-24 of two floats; as a double it is the
    -- midpoint itself, which then rounds to even (1.0)
    it("parses float32 columns in one correct rounding", function()
      assert.are.equal(1 + 2 ^ -23, csv("1.0000000596046447753906250001\n"):get(1, 1))
    end)
  end)

  describe("gd.save's temporary files", function()
    local child = [[
      local gd = require "gd"
      local ffi = require "ffi"
      local w = ffi.new("gd_writer*[1]")
      assert(require("gd.ffi").C.gd_writer_open(w, arg[1]) == 0)
      assert(require("gd.ffi").C.gd_writer_write(w[0], string.rep("x", 100000), 100000) == 0)
      os.exit(0) -- dies with its temporary file written, never committed
    ]]
    -- catches: <path>.tmp.<pid> left forever by killed saves; and a cleaner
    -- that would remove a live concurrent writer's temporary file
    it("of dead writers are removed by the next save of the same path, a live writer's are kept", function()
      local path, other = dir .. "/ckpt.gd", dir .. "/other.gd"
      write(dir .. "/child.lua", child)
      for _ = 1, 3 do
        assert.are.equal(0, P.run({dir .. "/child.lua", path}).status)
      end
      assert.are.equal(0, P.run({dir .. "/child.lua", other}).status)
      -- each child's save cleaned up the one before it: one stale file of path is left
      assert.are.equal(2, #ls(dir) - 1) -- child.lua, path's and other's temporary files
      local w = ffi.new("gd_writer*[1]")
      assert.are.equal(0, C.gd_writer_open(w, path)) -- a live writer of the same path
      gd.save(path, {step = 1})
      local left = ls(dir)
      -- ckpt.gd, child.lua, the live writer's file, other.gd's stale file
      assert.are.equal(4, #left)
      C.gd_writer_abort(w[0])
      gd.save(other, 2)
      assert.are.same({"child.lua", "ckpt.gd", "other.gd"}, ls(dir))
      assert.are.same({step = 1}, gd.load(path))
    end)

    -- catches: the temporary name "<name>.tmp.<pid>" past NAME_MAX (255)
    it("fit a 250-character file name", function()
      for _, ext in ipairs({"", ".npy"}) do
        local path = dir .. "/" .. string.rep("n", 250 - #ext) .. ext
        gd.save(path, gd.tensor({1, 2, 3}))
        assert.are.same({1, 2, 3}, gd.load(path):totable())
      end
      assert.are.equal(2, #ls(dir))
    end)
  end)

  describe("gd.save over an existing file", function()
    -- catches: a 0600 checkpoint replaced by a 0644 one
    it("keeps the file's mode; a new file gets 0666 less the umask", function()
      local path = dir .. "/secret.gd"
      gd.save(path, 1)
      local umask = tonumber(P.sh("sh -c umask"), 8)
      assert.are.equal(string.format("%o", bit.band(tonumber("666", 8), bit.bnot(umask))), mode_of(path))
      os.execute("chmod 600 " .. P.quote(path))
      gd.save(path, 2)
      assert.are.equal("600", mode_of(path))
      os.execute("chmod 640 " .. P.quote(path))
      gd.save(path, gd.zeros(2))
      assert.are.equal("640", mode_of(path))
      assert.are.same({0, 0}, gd.load(path):totable())
    end)

    -- catches: the symlink replaced by a regular file (the target left stale)
    it("writes through a symlink to its target, in the target's directory", function()
      os.execute("mkdir " .. P.quote(dir .. "/store") .. " " .. P.quote(dir .. "/runs"))
      local target = dir .. "/store/real.gd"
      gd.save(target, 1)
      os.execute("chmod 600 " .. P.quote(target))
      os.execute("ln -s ../store/real.gd " .. P.quote(dir .. "/runs/latest.gd"))
      os.execute("ln -s latest.gd " .. P.quote(dir .. "/runs/chain.gd"))
      gd.save(dir .. "/runs/chain.gd", {epoch = 7})
      assert.is_true(is_link(dir .. "/runs/latest.gd"))
      assert.is_true(is_link(dir .. "/runs/chain.gd"))
      assert.are.same({epoch = 7}, gd.load(target))
      assert.are.equal("600", mode_of(target))
      assert.are.same({"chain.gd", "latest.gd"}, ls(dir .. "/runs"))
      assert.are.same({"real.gd"}, ls(dir .. "/store"))
      -- a dangling link names the file to create
      os.execute("ln -s new.gd " .. P.quote(dir .. "/store/dangling.gd"))
      gd.save(dir .. "/store/dangling.gd", gd.ones(1))
      assert.is_true(is_link(dir .. "/store/dangling.gd"))
      assert.are.same({1}, gd.load(dir .. "/store/new.gd"):totable())
      -- a loop is an error, not a hang
      os.execute("ln -s loop2 " .. P.quote(dir .. "/loop1") .. "; ln -s loop1 " .. P.quote(dir .. "/loop2"))
      assert.truthy(err_of(gd.save, dir .. "/loop1", 1):find("gd.save: cannot write", 1, true))
    end)
  end)

  describe("gd.save on a full disk", function()
    -- a 1 MB tmpfs of this spec's own (root only: pending elsewhere)
    local mnt
    before_each(function()
      mnt = dir .. "/mnt"
      os.execute("mkdir " .. P.quote(mnt))
      if os.execute("mount -t tmpfs -o size=1m tmpfs " .. P.quote(mnt) .. " 2> /dev/null") ~= 0 then mnt = nil end
    end)
    after_each(function()
      if mnt then os.execute("umount " .. P.quote(mnt)) end
    end)

    -- catches: a failed write reported as success, a half-written file in
    -- place of the old one, a temporary file left on the full disk; with the
    -- buffered writer, also a failure that only shows when the buffer is
    -- flushed at commit (the small table below never leaves the buffer before)
    it("fails naming the cause, leaves the old file whole and no temporary file", function()
      if not mnt then return pending("cannot mount a tmpfs here (not root?)") end
      local path = mnt .. "/ckpt.gd"
      gd.save(path, {epoch = 1})
      local e = err_of(gd.save, path, gd.zeros(300000))
      assert.truthy(e:find("gd.save: cannot write '" .. path .. "': No space left on device", 1, true), e)
      assert.are.same({epoch = 1}, gd.load(path))
      assert.are.same({"ckpt.gd"}, ls(mnt))
      -- leave about 40 KB free, then save 60 KB in small pieces
      P.write(mnt .. "/filler", string.rep("\0", 1024 * 1024 - 40 * 1024))
      local big = {}
      for i = 1, 600 do big[i] = string.rep("x", 90) end
      e = err_of(gd.save, path, big)
      assert.truthy(e:find("No space left on device", 1, true), e)
      assert.are.same({epoch = 1}, gd.load(path))
      assert.are.same({"ckpt.gd", "filler"}, ls(mnt))
      e = err_of(gd.save, mnt .. "/t.npy", gd.zeros(20000))
      assert.truthy(e:find("No space left on device", 1, true), e)
      assert.are.same({"ckpt.gd", "filler"}, ls(mnt))
    end)
  end)

  describe("crafted checkpoints", function()
    --- A gdlua file with the given value bytes and a valid checksum.
    local function gdl(value_bytes)
      local body = "\137GDL\r\n\26\n" .. "\1\0\0\0" .. value_bytes
      local crc = ffi.new("uint32_t[1]", C.gd_crc32(0, body, #body))
      return body .. ffi.string(crc, 4)
    end
    local function u64le(hi, lo)
      local b = ffi.new("uint32_t[2]", lo, hi)
      return ffi.string(b, 8)
    end
    -- catches: a byte count of 2^63 printed with %d (as a negative number)
    it("name impossible byte counts as the numbers the file holds", function()
      write(dir .. "/s.gd", gdl("\4" .. u64le(0x80000000, 0)))
      local e = err_of(gd.load, dir .. "/s.gd")
      assert.truthy(e:find("truncated (9223372036854775808 bytes needed at offset 21, 0 left)", 1, true), e)
      write(dir .. "/s2.gd", gdl("\4" .. u64le(0xffffffff, 0xffffffff)))
      e = err_of(gd.load, dir .. "/s2.gd")
      assert.truthy(e:find("18446744073709551616 bytes needed", 1, true), e)
      assert.falsy(e:find(" %-%d"))
    end)

    -- catches: Lua internals ("attempt to get length of a number value") or
    -- gd.nn.from_table's name in what gd.nn.load reports
    it("given to gd.nn.load fail naming gd.nn.load and the wrong part", function()
      local cases = {
        {{__class = "Nope"}, "the unknown module class 'Nope'"},
        {{__class = 5}, "__class that is a number"},
        {{__class = "Sequential", modules = 5}, "has modules that is a number"},
        {{__class = "Sequential", modules = {5}}, "modules[1] is not a module"},
        {{__class = "Sequential", modules = {{__class = "Linear", __params = {"weight"}}}},
          "the module.modules[1] (Linear): its parameter 'weight' is nil, not a tensor"},
        {{__class = "Linear", __params = "weight"}, "has __params that is a string"},
        {{__class = "Linear", __params = {true}}, "a parameter name that is a boolean"},
        {{__class = "Linear", __params = {"weight"}, weight = "w"}, "its parameter 'weight' is string"},
        {{1, 2, 3}, "does not hold a module"},
        {gd.zeros(2), "does not hold a module"},
      }
      for i, case in ipairs(cases) do
        local path = dir .. "/m" .. i .. ".gd"
        gd.save(path, case[1])
        local e = err_of(gd.nn.load, path)
        assert.truthy(e:find("^[^:]*files_hardening_spec.lua:%d+: gd.nn.load: '" .. path:gsub("%p", "%%%0") .. "'"), e)
        assert.truthy(e:find(case[2], 1, true), e)
      end
      -- a corrupt file: gd.load's reason, under gd.nn.load's name
      write(dir .. "/junk.gd", "not a checkpoint at all")
      assert.truthy(err_of(gd.nn.load, dir .. "/junk.gd"):find("gd.nn.load: '" .. dir .. "/junk.gd' is corrupt", 1, true))
      -- and a real module still loads
      local net = gd.nn.Sequential{gd.nn.Linear(3, 2), gd.nn.Tanh()}
      gd.save(dir .. "/net.gd", net)
      local back = gd.nn.load(dir .. "/net.gd")
      local x = gd.tensor({{1, -2, 0.5}})
      assert.are.same(net(x):totable(), back(x):totable())
    end)
  end)
end)
