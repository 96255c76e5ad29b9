-- gd.load / gd.save of NumPy .npz archives (issue 14): archives written by
-- np.savez (stored) and np.savez_compressed (deflated) read back with
-- NumPy's values (spec/golden/npz/, from scripts/golden/npz_files.py);
-- gdlua's archives read by NumPy itself when /usr/bin/python3 has it (the
-- spec skips that part cleanly otherwise); truncated and corrupted archives
-- give errors, never a partial table or a crash.
local gd = rawget(_G, "gd") or require "gd"

local arrays = dofile("spec/golden/npz/arrays.lua")

local function tmpname(suffix)
  local p = os.tmpname()
  os.remove(p)
  return p .. suffix
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function same_as_numpy(t, a, name)
  assert.equal(a.dtype, t.dtype, name .. ": dtype")
  assert.same(a.shape, t.shape, name .. ": shape")
  local flat = t:numel() > 0 and t:reshape(t:numel()):totable() or {}
  if #a.shape == 0 then flat = {t:item()} end
  assert.equal(#a.values, #flat, name .. ": count")
  for i, v in ipairs(a.values) do
    -- float32 values were rounded by NumPy; the Lua file has them exactly
    assert.equal(v, flat[i], name .. ": element " .. i)
  end
end

describe("gd.load of NumPy .npz archives", function()
  for _, which in ipairs({"stored", "compressed"}) do
    it("reads np." .. (which == "stored" and "savez" or "savez_compressed") .. "'s archive exactly", function()
      local t = gd.load("spec/golden/npz/" .. which .. ".npz")
      local n = 0
      for k, a in pairs(arrays) do
        assert.is_not_nil(t[k], "missing " .. k)
        same_as_numpy(t[k], a, k)
        n = n + 1
      end
      for k in pairs(t) do assert.is_not_nil(arrays[k], "unexpected " .. k) end
      assert.equal(7, n)
    end)
  end

  it("loads weights into a model (a state_dict saved by NumPy or PyTorch)", function()
    local m = gd.nn.Linear(4, 3)
    local t = gd.load("spec/golden/npz/stored.npz")
    m:load_state_dict({weight = t.weight, bias = gd.zeros(3)})
    assert.equal(0, (m.weight - t.weight):abs():max())
  end)
end)

describe("gd.save of .npz archives", function()
  it("round-trips a table of tensors of every dtype and rank", function()
    local path = tmpname(".npz")
    local src = {a = gd.randn(3, 2), b = gd.arange(6, {dtype = "int64"}):view(2, 3),
                 c = gd.tensor({1.5, -2}, {dtype = "float64"}), d = gd.full({}, 7, {dtype = "float64"}),
                 ["e.f"] = gd.zeros(0, 4), g = gd.randn(4, 3):t()}   -- a transposed view: written in C order
    gd.save(path, src)
    local back = gd.load(path)
    for k, v in pairs(src) do
      assert.same(v.shape, back[k].shape)
      assert.equal(v.dtype, back[k].dtype)
      if v:numel() > 0 then assert.equal(0, (v:to("float64") - back[k]:to("float64")):abs():max()) end
    end
    os.remove(path)
  end)

  it("writes an archive NumPy reads with the same values", function()
    local py = "/usr/bin/python3"
    local ok = os.execute(py .. " -c 'import numpy' 2>/dev/null")
    if ok ~= 0 and ok ~= true then pending("no NumPy at " .. py) return end
    local path = tmpname(".npz")
    local w = gd.tensor({{0.25, -1}, {3, 1e-3}})
    local idx = gd.tensor({5, -7, 2 ^ 40 + 3}, {dtype = "int64"})
    gd.save(path, {["0.weight"] = w, idx = idx, s = gd.full({}, -0.5, {dtype = "float64"})})
    local script = "import numpy as np; d = np.load('" .. path .. "'); " ..
      "print(sorted(d.files)); print(d['0.weight'].dtype, d['0.weight'].shape, repr(d['0.weight'].tolist())); " ..
      "print(d['idx'].dtype, d['idx'].tolist()); print(d['s'].dtype, d['s'].shape, float(d['s']))"
    local f = io.popen(py .. ' -c "' .. script .. '"')
    local out = f:read("*a")
    f:close()
    os.remove(path)
    assert.matches("['0.weight', 'idx', 's']", out, 1, true)
    assert.matches("float32 (2, 2) [[0.25, -1.0], [3.0, 0.0010000000474974513]]", out, 1, true)
    assert.matches("int64 [5, -7, 1099511627779]", out, 1, true)
    assert.matches("float64 () -0.5", out, 1, true)
  end)

  it("refuses what an archive of named arrays cannot hold", function()
    local path = tmpname(".npz")
    assert.has_error(function() gd.save(path, gd.zeros(2)) end,
      "gd.save: an .npz archive holds a table of named tensors, not a tensor (save it as .npy, or as {name = t})")
    assert.has_error(function() gd.save(path, {gd.zeros(2)}) end,
      "gd.save: an .npz archive names its arrays with strings; key 1 is a number")
    assert.has_error(function() gd.save(path, {a = 3}) end,
      "gd.save: an .npz archive holds tensors only; 'a' is a number")
    assert.is_nil(io.open(path, "rb"))   -- nothing written
  end)

  it("replaces the file atomically: a failed save leaves the old archive", function()
    local path = tmpname(".npz")
    gd.save(path, {x = gd.ones(2)})
    pcall(gd.save, path, {x = gd.ones(2), y = "no"})
    assert.equal(1, gd.load(path).x:get(1))
    os.remove(path)
  end)
end)

describe("gd.load of malformed .npz archives", function()
  it("reports every truncation of a stored and a deflated archive as an error", function()
    -- cuts inside the end record, the central directory, a member's data and
    -- its local header: each must be an error naming the file, never a crash
    -- or a partial table
    for _, which in ipairs({"stored", "compressed"}) do
      local bytes = read("spec/golden/npz/" .. which .. ".npz")
      local path = tmpname(".npz")
      local cuts = {0, 1, 21, 22, 100, math.floor(#bytes / 2), #bytes - 200, #bytes - 23, #bytes - 1}
      for _, n in ipairs(cuts) do
        write(path, bytes:sub(1, n))
        local ok, err = pcall(gd.load, path)
        assert.is_false(ok, which .. " cut at " .. n)
        assert.matches("gd.load: '" .. path .. "' is not a valid .npz archive", tostring(err), 1, true)
      end
      os.remove(path)
    end
  end)

  it("detects flipped bytes in a member's data (CRC-32, deflate)", function()
    math.randomseed(14)
    for _, which in ipairs({"stored", "compressed"}) do
      local bytes = read("spec/golden/npz/" .. which .. ".npz")
      -- the first member's data starts after its local header: 30 bytes, the
      -- name and the extra field (lengths at offsets 26 and 28)
      local function u16(at) return bytes:byte(at + 1) + 256 * bytes:byte(at + 2) end
      local start = 30 + u16(26) + u16(28)
      local path = tmpname(".npz")
      for _ = 1, 10 do
        local at = start + math.random(1, 40)
        local b = bytes:byte(at)
        write(path, bytes:sub(1, at - 1) .. string.char((b + math.random(1, 255)) % 256) .. bytes:sub(at + 1))
        local ok, err = pcall(gd.load, path)
        -- even a flip in an .npy header's padding fails the member's CRC-32
        assert.is_false(ok, which .. ": a flipped byte at " .. at .. " went unnoticed")
        assert.matches("gd.load: '" .. path .. "' is not a valid .npz archive: member '", tostring(err), 1, true)
      end
      os.remove(path)
    end
  end)

  it("names foreign files and unsupported members", function()
    local path = tmpname(".npz")
    write(path, "this is not a zip file at all, just some text that is long enough")
    assert.has_error(function() gd.load(path) end,
      "gd.load: '" .. path .. "' is not a valid .npz archive: no zip signature (not a zip archive)")
    write(path, "")
    assert.has_error(function() gd.load(path) end, "gd.load: '" .. path .. "' is not a valid .npz archive: the file is empty")
    os.remove(path)
    assert.has_error(function() gd.load(path) end)   -- missing file
  end)
end)
