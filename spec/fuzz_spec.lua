-- Replays the inputs kept under spec/fuzz/<target>/ (inputs that found bugs,
-- from `make fuzz` and from issue 10's adversarial cases) through the public
-- Lua API, the way the libFuzzer targets in fuzz/ run them: every input must
-- load or fail with a clean error, a message that starts with the function's
-- name and carries no Lua internal.  A crash fails the whole run.
--   checkpoint/  gd.load and gd.nn.load of a gdlua file (its checksum
--                rewritten first, as fuzz/fuzz_load.c does)
--   npy/         gd.load of a .npy file
--   csv/         gd.data.read_csv: byte 0 picks the separator, byte 1 the
--                dtype, header and gunzip (as fuzz/fuzz_csv.c reads them)
local gd = require "gd"
local ffi = require "ffi"
local P = dofile("spec/support/process.lua")
local C = require("gd.ffi").C

local function names_in(dir)
  local list = {}
  for name in P.sh("ls -A " .. P.quote(dir) .. " 2> /dev/null"):gmatch("[^\n]+") do list[#list + 1] = name end
  table.sort(list)
  return list
end

--- nil when pcall's results are a success or a clean error of fname, else the message.
local function unclean(fname, ok, e)
  if ok then return nil end
  e = tostring(e)
  if e:sub(1, #fname + 2) ~= fname .. ": " or e:find("%.lua:%d+: ") or e:find(": attempt to ", 1, true)
    or e:find(": bad argument #", 1, true) then
    return e
  end
  return nil
end

local MAGIC = "\137GDL\r\n\26\n"

--- The input with the checksum a gdlua file needs over its last 4 bytes.
local function fix_checksum(bytes)
  if #bytes < 16 or bytes:sub(1, 8) ~= MAGIC then return bytes end
  local crc = ffi.new("uint32_t[1]", C.gd_crc32(0, bytes, #bytes - 4))
  return bytes:sub(1, -5) .. ffi.string(crc, 4)
end

local SEPS = {[0] = ",", "\t", " ", ";"}
local DTYPES = {[0] = "float32", "float64", "int64"}

describe("kept fuzz inputs", function()
  local dir
  before_each(function() dir = P.tmpdir() end)
  after_each(function() P.cleanup() end)

  -- catches: what the inputs found: Lua internals from gd.nn.load
  -- ("attempt to get length of a number value"), a byte count printed as a
  -- negative number, .npy shapes read past the header's meaning
  it("checkpoint: load or fail cleanly through gd.load and gd.nn.load", function()
    local names = names_in("spec/fuzz/checkpoint")
    assert.is_true(#names >= 10)
    for _, name in ipairs(names) do
      local path = dir .. "/in.gd"
      P.write(path, fix_checksum(P.read("spec/fuzz/checkpoint/" .. name)))
      local bad = unclean("gd.load", pcall(gd.load, path)) or unclean("gd.nn.load", pcall(gd.nn.load, path))
      assert(bad == nil, name .. ": " .. tostring(bad))
    end
  end)

  it("npy: load or fail cleanly through gd.load", function()
    local names = names_in("spec/fuzz/npy")
    assert.is_true(#names >= 5)
    for _, name in ipairs(names) do
      local path = dir .. "/in.npy"
      P.write(path, P.read("spec/fuzz/npy/" .. name))
      local bad = unclean("gd.load", pcall(gd.load, path))
      assert(bad == nil, name .. ": " .. tostring(bad))
    end
  end)

  it("csv: load or fail cleanly through gd.data.read_csv", function()
    local names = names_in("spec/fuzz/csv")
    assert.is_true(#names >= 5)
    for _, name in ipairs(names) do
      local bytes = P.read("spec/fuzz/csv/" .. name)
      if #bytes >= 2 then
        local a, b = bytes:byte(1, 2)
        local gunzip = math.floor(b / 6) % 2 == 1
        local path = dir .. (gunzip and "/in.csv.gz" or "/in.csv")
        P.write(path, bytes:sub(3))
        local opts = {sep = SEPS[a % 4], dtype = DTYPES[b % 3], header = math.floor(b / 3) % 2 == 1}
        local bad = unclean("gd.data.read_csv", pcall(gd.data.read_csv, path, opts))
        assert(bad == nil, name .. ": " .. tostring(bad))
      end
    end
  end)
end)
