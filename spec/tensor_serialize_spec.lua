-- gd.save / gd.load: the gdlua format (magic, version, tagged values, dtype
-- and shape headers, CRC-32), atomic writes, errors for corrupt, truncated and
-- foreign files; and NumPy's .npy v1.0 format (<f4, <f8, <i8, C order).
local gd = require "gd"
local H = require "spec.support.tensor_helpers"
local ffi = require "ffi"
local bit = require "bit"

-- zlib's CRC-32 (reflected polynomial 0xEDB88320), written out here as the
-- independent reference for the checksum gd.save stores
local crc_table = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    if bit.band(c, 1) ~= 0 then c = bit.bxor(bit.rshift(c, 1), 0xEDB88320) else c = bit.rshift(c, 1) end
  end
  crc_table[i] = c
end
local function crc32(s)
  local c = 0xFFFFFFFF
  for i = 1, #s do
    c = bit.bxor(crc_table[bit.band(bit.bxor(c, s:byte(i)), 0xFF)], bit.rshift(c, 8))
  end
  c = bit.bxor(c, 0xFFFFFFFF)
  return c < 0 and c + 2 ^ 32 or c
end

local function u32le(s, pos)
  local a, b, c, d = s:byte(pos, pos + 3)
  return a + b * 256 + c * 65536 + d * 16777216
end

local function files_in(dir)
  local p = io.popen("ls -A '" .. dir .. "'")
  local list = {}
  for line in p:lines() do list[#list + 1] = line end
  p:close()
  table.sort(list)
  return list
end

--- The little-endian bytes of values in a C array type ("float", "double", "int64_t").
local function bytes_of(ctype, values)
  local arr = ffi.new(ctype .. "[?]", #values, values)
  return ffi.string(arr, ffi.sizeof(ctype) * #values)
end

--- A .npy file: the v1.0 (or v2.0) preamble, a header dict padded to 64 bytes, data.
local function npy(header, data, major)
  major = major or 1
  local pre = major == 1 and 10 or 12
  local total = pre + #header + 1
  header = header .. string.rep(" ", (64 - total % 64) % 64) .. "\n"
  local len = #header
  local lenbytes = major == 1 and string.char(len % 256, math.floor(len / 256))
    or string.char(len % 256, math.floor(len / 256) % 256, 0, 0)
  return "\147NUMPY" .. string.char(major, 0) .. lenbytes .. header .. data
end

describe("gd.save and gd.load", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.cleanup() end)

  it("round-trips tensors of every dtype exactly, with their shapes", function()
    local values = {
      gd.tensor({{1.5, -2.25}, {1 / 3, 1e-30}}),
      gd.tensor({0.1, -0.0, 1 / 0, -1 / 0}, {dtype = "float64"}),
      gd.tensor({-2 ^ 63, 2 ^ 53, 0, -1}, {dtype = "int64"}),
      gd.tensor(7),
      gd.zeros(0, 3, {dtype = "float64"}),
      gd.arange(24):view(2, 3, 4),
    }
    for i, t in ipairs(values) do
      local path = dir .. "/t" .. i .. ".gd"
      gd.save(path, t)
      local u = gd.load(path)
      assert.are.equal(t.dtype, u.dtype)
      assert.are.same(t.shape, u.shape)
      assert.are.equal("cpu", u.device)
      assert.are.same(t:totable(), u:totable())
    end
    -- NaN survives too (and is still NaN)
    gd.save(dir .. "/nan.gd", gd.tensor({0 / 0}))
    local n = gd.load(dir .. "/nan.gd"):get(1)
    assert.is_true(n ~= n)
  end)

  it("saves a non-contiguous view as its values in C order", function()
    local t = gd.arange(6, {dtype = "float64"}):view(2, 3):t()
    gd.save(dir .. "/t.gd", t)
    local u = gd.load(dir .. "/t.gd")
    assert.is_true(u:is_contiguous())
    H.same(u, {{0, 3}, {1, 4}, {2, 5}})
  end)

  it("round-trips nested tables of tensors, numbers, strings and booleans", function()
    local value = {
      name = "run 1", lr = 0.4, steps = 20, ok = true, off = false,
      list = {1, 2.5, "three", {deep = {deeper = {x = gd.tensor({1, 2})}}}},
      bytes = "a\0b\255\n",
      [7] = "seven", [true] = "yes",
      weights = {w = gd.ones(2, 2, {dtype = "float64"}), b = gd.zeros(2, {dtype = "int64"})},
    }
    gd.save(dir .. "/state.gd", value)
    local r = gd.load(dir .. "/state.gd")
    assert.are.equal("run 1", r.name)
    assert.are.equal(0.4, r.lr)
    assert.are.equal(20, r.steps)
    assert.is_true(r.ok)
    assert.is_false(r.off)
    assert.are.equal("three", r.list[3])
    assert.are.equal(2.5, r.list[2])
    assert.are.equal("a\0b\255\n", r.bytes)
    assert.are.equal("seven", r[7])
    assert.are.equal("yes", r[true])
    H.same(r.list[4].deep.deeper.x, {1, 2})
    assert.are.equal("float64", r.weights.w.dtype)
    assert.are.equal("int64", r.weights.b.dtype)
    gd.save(dir .. "/n.gd", 42)
    assert.are.equal(42, gd.load(dir .. "/n.gd"))
  end)

  it("writes the documented layout: magic, version, tagged value, CRC-32 of all before it", function()
    local path = dir .. "/f.gd"
    gd.save(path, gd.tensor({1, 2}, {dtype = "float64"}))
    local s = H.read(path)
    assert.are.equal("\137GDL\r\n\26\n", s:sub(1, 8))
    assert.are.equal(1, u32le(s, 9))                                -- version
    assert.are.equal(string.char(6, 1, 0, 1), s:sub(13, 16))        -- tensor, float64, cpu, rank 1
    assert.are.equal(bytes_of("int64_t", {2}), s:sub(17, 24))       -- size
    assert.are.equal(bytes_of("double", {1, 2}), s:sub(25, 40))     -- elements
    assert.are.equal(44, #s)
    assert.are.equal(crc32(s:sub(1, 40)), u32le(s, 41))
    -- the same value gives the same bytes (table keys are written in a sorted order)
    gd.save(dir .. "/a.gd", {b = 1, a = 2, [1] = 3})
    gd.save(dir .. "/b.gd", {[1] = 3, a = 2, b = 1})
    assert.are.equal(H.read(dir .. "/a.gd"), H.read(dir .. "/b.gd"))
  end)

  it("detects corrupt, truncated and foreign files", function()
    local path = dir .. "/f.gd"
    gd.save(path, {x = gd.ones(10)})
    local s = H.read(path)
    H.write(path, s:sub(1, 20) .. string.char((s:byte(21) + 1) % 256) .. s:sub(22)) -- one flipped byte
    H.raises(function() local _ = gd.load(path) end, "gd.load: '" .. path .. "' is corrupt or not a gdlua file: checksum mismatch")
    H.write(path, s:sub(1, #s - 10))
    H.raises(function() local _ = gd.load(path) end, "is corrupt or not a gdlua file")
    H.write(path, "hello, world, this is not a tensor file")
    H.raises(function() local _ = gd.load(path) end, "no gdlua magic")
    H.write(path, "")
    H.raises(function() local _ = gd.load(path) end, "no gdlua magic")
    -- a valid checksum over nonsense (a huge table count) is still refused cleanly
    local body = "\137GDL\r\n\26\n" .. bytes_of("uint32_t", {1}) .. string.char(5) .. bytes_of("uint64_t", {2 ^ 40})
    H.write(path, body .. bytes_of("uint32_t", {crc32(body)}))
    H.raises(function() local _ = gd.load(path) end, "impossible table size")
    -- and a tensor header claiming 2^62 elements
    body = "\137GDL\r\n\26\n" .. bytes_of("uint32_t", {1}) .. string.char(6, 0, 0, 2) .. bytes_of("int64_t", {2 ^ 31, 2 ^ 31})
    H.write(path, body .. bytes_of("uint32_t", {crc32(body)}))
    H.raises(function() local _ = gd.load(path) end, "is corrupt or not a gdlua file")
    -- a future version
    body = "\137GDL\r\n\26\n" .. bytes_of("uint32_t", {99}) .. string.char(1)
    H.write(path, body .. bytes_of("uint32_t", {crc32(body)}))
    H.raises(function() local _ = gd.load(path) end, "has format version 99; this gdlua reads version 1")
  end)

  it("refuses a saved CUDA tensor without a GPU unless asked to load it on the CPU", function()
    if gd.cuda_available() then return pending("a GPU is present") end
    local path = dir .. "/cuda.gd"
    -- a float32 tensor {1.5, 2.5} marked as saved from the GPU (device byte 1)
    local body = "\137GDL\r\n\26\n" .. bytes_of("uint32_t", {1}) .. string.char(6, 0, 1, 1) .. bytes_of("int64_t", {2})
      .. bytes_of("float", {1.5, 2.5})
    H.write(path, body .. bytes_of("uint32_t", {crc32(body)}))
    H.raises(function() local _ = gd.load(path) end, "holds a cuda tensor, but no CUDA GPU is available")
    local t = gd.load(path, {device = "cpu"})
    assert.are.equal("cpu", t.device)
    H.same(t, {1.5, 2.5})
  end)

  it("reports unreadable paths", function()
    H.raises(function() local _ = gd.load(dir .. "/missing.gd") end, "gd.load: cannot read '" .. dir .. "/missing.gd': No such file")
    H.raises(function() local _ = gd.load(dir) end, "it is a directory")
    H.raises(function() gd.save(dir .. "/no/such/dir/f.gd", 1) end, "gd.save: cannot write")
    H.raises(function() gd.save(5, 1) end, "gd.save: argument 1 (path) must be a string, got number")
    H.raises(function() local _ = gd.load(dir .. "/x.gd", {device = "tpu"}) end, "gd.load: unknown device 'tpu'")
  end)

  it("refuses values it cannot save, naming where they are", function()
    H.raises(function() gd.save(dir .. "/f.gd", {a = {b = print}}) end, "gd.save: cannot save a function (at the root.a.b)")
    local cyc = {}
    cyc.self = cyc
    H.raises(function() gd.save(dir .. "/f.gd", cyc) end, "contains itself (a cycle)")
    local freed = gd.ones(3)
    freed:free()
    H.raises(function() gd.save(dir .. "/f.gd", {t = freed}) end, "was released with free()")
    H.raises(function() gd.save(dir .. "/f.gd", {[{}] = 1}) end, "has a table key")
  end)

  it("writes atomically: a failed save keeps the old file and leaves no temporary behind", function()
    local path = dir .. "/model.gd"
    gd.save(path, {version = 1})
    local before = H.read(path)
    H.raises(function() gd.save(path, {version = 2, bad = coroutine.create(print)}) end, "cannot save a thread")
    assert.are.equal(before, H.read(path))
    assert.are.same({"model.gd"}, files_in(dir))
    assert.are.equal(1, gd.load(path).version)
    gd.save(path, {version = 3})
    assert.are.equal(3, gd.load(path).version)
    assert.are.same({"model.gd"}, files_in(dir))
  end)
end)

describe(".npy files", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.cleanup() end)

  it("are written in NumPy's v1.0 layout", function()
    local path = dir .. "/a.npy"
    gd.save(path, gd.arange(6):view(2, 3))
    local s = H.read(path)
    assert.are.equal("\147NUMPY\1\0", s:sub(1, 8))
    local hlen = s:byte(9) + 256 * s:byte(10)
    assert.are.equal(0, (10 + hlen) % 64)                    -- the data starts 64-byte aligned
    local header = s:sub(11, 10 + hlen)
    assert.are.equal("\n", header:sub(-1))
    assert.are.equal("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", header:match("^(.-)%s*$"))
    assert.are.equal(bytes_of("float", {0, 1, 2, 3, 4, 5}), s:sub(11 + hlen))
    gd.save(dir .. "/v.npy", gd.tensor({1, 2}, {dtype = "int64"}))
    assert.truthy(H.read(dir .. "/v.npy"):find("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", 1, true))
    gd.save(dir .. "/s.npy", gd.tensor(2.5, {dtype = "float64"}))
    assert.truthy(H.read(dir .. "/s.npy"):find("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 1, true))
  end)

  it("are read back, and NumPy-written files read", function()
    for _, dtype in ipairs({"float32", "float64", "int64"}) do
      local t = gd.arange(12, {dtype = dtype}):view(3, 4)
      gd.save(dir .. "/" .. dtype .. ".npy", t)
      local u = gd.load(dir .. "/" .. dtype .. ".npy")
      assert.are.equal(dtype, u.dtype)
      assert.is_true(u:equal(t))
    end
    gd.save(dir .. "/scalar.npy", gd.tensor(-2.5, {dtype = "float64"}))
    local sc = gd.load(dir .. "/scalar.npy")
    assert.are.same({}, sc.shape)
    assert.are.equal(-2.5, sc:item())
    gd.save(dir .. "/view.npy", gd.arange(6):view(2, 3):t())  -- a transposed view: written in C order
    H.same(gd.load(dir .. "/view.npy"), {{0, 3}, {1, 4}, {2, 5}})
    -- as NumPy writes them (including the spare header space newer versions add)
    local f = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }" .. string.rep(" ", 21),
      bytes_of("double", {1.5, 2.5, 3.5, 4.5}))
    H.write(dir .. "/np.npy", f)
    H.same(gd.load(dir .. "/np.npy"), {{1.5, 2.5}, {3.5, 4.5}})
    H.write(dir .. "/v2.npy", npy("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
      bytes_of("int64_t", {-1, 0, 1}), 2))
    H.same(gd.load(dir .. "/v2.npy"), {-1, 0, 1})
    H.write(dir .. "/e.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5), }", ""))
    assert.are.same({0, 5}, gd.load(dir .. "/e.npy").shape)
  end)

  it("refuse Fortran order, other dtypes and damaged files with clear errors", function()
    H.write(dir .. "/f.npy", npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", bytes_of("double", {1, 2, 3, 4})))
    H.raises(function() local _ = gd.load(dir .. "/f.npy") end, "is in Fortran order, which gdlua does not read")
    H.write(dir .. "/i4.npy", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", bytes_of("int32_t", {1, 2})))
    H.raises(function() local _ = gd.load(dir .. "/i4.npy") end,
      "has dtype '<i4'; gdlua reads '<f4' (float32), '<f8' (float64) and '<i8' (int64)")
    H.write(dir .. "/be.npy", npy("{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }", bytes_of("double", {1})))
    H.raises(function() local _ = gd.load(dir .. "/be.npy") end, "has dtype '>f8'")
    H.write(dir .. "/short.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", bytes_of("double", {1, 2})))
    H.raises(function() local _ = gd.load(dir .. "/short.npy") end, "is not a valid .npy file: 16 data bytes for shape (3,)")
    H.write(dir .. "/junk.npy", "not numpy at all")
    H.raises(function() local _ = gd.load(dir .. "/junk.npy") end, "is not a valid .npy file: no NUMPY magic")
    H.write(dir .. "/huge.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", ""))
    H.raises(function() local _ = gd.load(dir .. "/huge.npy") end, "is not a valid .npy file")
    H.raises(function() gd.save(dir .. "/t.npy", {gd.ones(2)}) end, "gd.save: a .npy file holds one tensor, not a table")
  end)
end)
