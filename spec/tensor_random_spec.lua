-- Random numbers: Philox 4x32-10 against Random123's published known answers,
-- the mapping from generator words to gd.rand / gd.randn values, seeding and
-- generator state, independence from the thread count, and sane statistics.
local gd = require "gd"
local H = require "spec.support.tensor_helpers"
local ffi = require "ffi"
local C = require("gd.ffi").C

local words = ffi.new("uint32_t[4]")

--- The four words of Philox block `counter` under key `seed` (gdlua's packing:
-- counter words {low, high, 0, 0}, key words {low, high}).
local function block(seed, counter)
  C.gd_philox4x32(seed, counter, words)
  return {tonumber(words[0]), tonumber(words[1]), tonumber(words[2]), tonumber(words[3])}
end

describe("Philox 4x32-10", function()
  -- Random123's kat_vectors: counter (4 words), key (2 words) -> output (4 words)
  local kat = {
    {{0x00000000, 0x00000000, 0x00000000, 0x00000000}, {0x00000000, 0x00000000},
     {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  }

  it("reproduces Random123's known-answer vectors", function()
    for _, v in ipairs(kat) do
      C.gd_philox4x32_words(ffi.new("uint32_t[4]", v[1]), ffi.new("uint32_t[2]", v[2]), words)
      for k = 1, 4 do assert.are.equal(v[3][k], tonumber(words[k - 1])) end
    end
  end)

  it("packs seed and block number into key and counter words, low word first", function()
    assert.are.same(kat[1][3], block(0, 0))
    -- seed 0x00000abc_12345678 is the key {0x12345678, 0xabc}; block 2^32 + 5 the counter {5, 1, 0, 0}
    local seed = 0xabc * 2 ^ 32 + 0x12345678
    C.gd_philox4x32_words(ffi.new("uint32_t[4]", {5, 1, 0, 0}), ffi.new("uint32_t[2]", {0x12345678, 0xabc}), words)
    local expect = {tonumber(words[0]), tonumber(words[1]), tonumber(words[2]), tonumber(words[3])}
    assert.are.same(expect, block(seed, 2 ^ 32 + 5))
  end)
end)

describe("gd.rand and gd.randn", function()
  local threads
  before_each(function() threads = gd.get_num_threads() end)
  after_each(function() gd.set_num_threads(threads) end)

  it("turn float32 uniforms into the top 24 bits of each word, 4 per block", function()
    gd.manual_seed(42)
    local r = gd.rand(10)
    for i = 0, 9 do
      local w = block(42, math.floor(i / 4))[i % 4 + 1]
      assert.are.equal(math.floor(w / 256) / 2 ^ 24, r:get(i + 1))
    end
  end)

  it("turn float64 uniforms into 53 bits of two words, 2 per block", function()
    gd.manual_seed(42)
    local r = gd.rand(6, {dtype = "float64"})
    for i = 0, 5 do
      local w = block(42, math.floor(i / 2))
      local hi, lo = w[(i % 2) * 2 + 1], w[(i % 2) * 2 + 2]
      assert.are.equal((hi * 2 ^ 21 + math.floor(lo / 2 ^ 11)) / 2 ^ 53, r:get(i + 1))
    end
  end)

  it("make normals by Box-Muller from the same words", function()
    gd.manual_seed(3)
    local z = gd.randn(4, {dtype = "float64"})
    for b = 0, 1 do
      local w = block(3, b)
      local u1 = (w[1] * 2 ^ 21 + math.floor(w[2] / 2 ^ 11) + 1) / 2 ^ 53
      local u2 = (w[3] * 2 ^ 21 + math.floor(w[4] / 2 ^ 11)) / 2 ^ 53
      local r, t = math.sqrt(-2 * math.log(u1)), 2 * math.pi * u2
      assert.is_true(math.abs(z:get(2 * b + 1) - r * math.cos(t)) < 1e-14)
      assert.is_true(math.abs(z:get(2 * b + 2) - r * math.sin(t)) < 1e-14)
    end
    gd.manual_seed(3)
    local zf = gd.randn(4)
    local w = block(3, 0)
    local r, t = math.sqrt(-2 * math.log((w[1] + 1) / 2 ^ 32)), 2 * math.pi * (w[2] + 1) / 2 ^ 32
    assert.is_true(math.abs(zf:get(1) - r * math.cos(t)) < 1e-6)
    assert.is_true(math.abs(zf:get(2) - r * math.sin(t)) < 1e-6)
  end)

  it("repeat after manual_seed, and move on between draws", function()
    gd.manual_seed(123)
    local a = gd.rand(8)
    gd.manual_seed(123)
    local b1, b2 = gd.rand(4), gd.rand(4)
    H.same(b1, a:narrow(1, 1, 4):totable())
    H.same(b2, a:narrow(1, 5, 4):totable())
    assert.is_false(b1:equal(b2))
    gd.manual_seed(124)
    assert.is_false(gd.rand(8):equal(a))
  end)

  it("save and restore the generator's state", function()
    gd.manual_seed(9)
    local _ = gd.rand(10)                 -- 3 blocks of 4
    local s = gd.rng_state()
    assert.are.same({seed = 9, offset = 3}, s)
    local a = gd.randn(5)
    gd.set_rng_state(s)
    assert.is_true(gd.randn(5):equal(a))
    H.raises(function() gd.set_rng_state(5) end, "gd.set_rng_state: expects the table gd.rng_state() returned")
  end)

  it("give the same numbers with 1 and 2 threads", function()
    local n = 2 ^ 18 + 3 -- past the parallel threshold
    for _, ctor in ipairs({gd.rand, gd.randn}) do
      for _, dtype in ipairs({"float32", "float64"}) do
        gd.set_num_threads(1)
        gd.manual_seed(5)
        local one = ctor(n, {dtype = dtype})
        gd.set_num_threads(2)
        gd.manual_seed(5)
        local two = ctor(n, {dtype = dtype})
        assert.is_true(one:equal(two), dtype)
      end
    end
  end)

  it("fill non-contiguous views with the numbers of a contiguous draw", function()
    gd.manual_seed(77)
    local ref = gd.rand(3, 4)
    local t = gd.zeros(4, 3)
    gd.manual_seed(77)
    t:t():uniform_()
    assert.is_true(t:t():equal(ref))
  end)

  it("draw uniforms in [0, 1) with mean 1/2 and variance 1/12", function()
    gd.manual_seed(1)
    local u = gd.rand(10 ^ 6, {dtype = "float64"})
    assert.is_true(u:min() >= 0 and u:max() < 1)
    assert.is_true(math.abs(u:mean() - 0.5) < 0.0015)     -- 5 standard errors (0.00029)
    assert.is_true(math.abs(u:var() - 1 / 12) < 0.001)
    local f = gd.rand(10 ^ 5)
    assert.is_true(f:min() >= 0 and f:max() < 1)
  end)

  it("draw normals with mean 0 and standard deviation 1", function()
    gd.manual_seed(2)
    for _, dtype in ipairs({"float32", "float64"}) do
      local z = gd.randn(10 ^ 6, {dtype = dtype})
      assert.is_true(math.abs(z:mean()) < 0.005, dtype)   -- 5 standard errors (0.001)
      assert.is_true(math.abs(z:std() - 1) < 0.005, dtype)
      -- about 68.3% within one standard deviation
      local inside = (z:abs():le(1)):sum() / 10 ^ 6
      assert.is_true(math.abs(inside - 0.6827) < 0.003, dtype)
    end
  end)

  it("fill with uniform_(a, b) and normal_(mean, std)", function()
    gd.manual_seed(4)
    local u = gd.empty(10 ^ 4, {dtype = "float64"}):uniform_(-3, -1)
    assert.is_true(u:min() >= -3 and u:max() < -1)
    local n = gd.empty(10 ^ 5, {dtype = "float64"}):normal_(10, 0.5)
    assert.is_true(math.abs(n:mean() - 10) < 0.01)
    assert.is_true(math.abs(n:std() - 0.5) < 0.01)
    local k = gd.empty(1000, {dtype = "int64"}):uniform_(0, 3)  -- whole numbers 0, 1, 2
    assert.are.equal(0, k:min())
    assert.are.equal(2, k:max())
    H.same(k:remainder(1), H.flat(gd.zeros(1000, {dtype = "int64"}):totable()))
  end)

  it("refuse int64 draws, bad bounds and NaN parameters", function()
    H.raises(function() local _ = gd.rand(2, {dtype = "int64"}) end, "gd.rand: dtype int64 is not supported")
    H.raises(function() local _ = gd.randn(2, {dtype = "int64"}) end, "gd.randn: dtype int64 is not supported")
    H.raises(function() gd.zeros(2):uniform_(1, 0) end, "uniform_: low 1 is greater than high 0")
    H.raises(function() gd.zeros(2):normal_(0, -1) end, "normal_: std must be >= 0")
    H.raises(function() gd.zeros(2):normal_(0 / 0) end, "normal_: mean is NaN")
    H.raises(function() gd.zeros(2, {dtype = "int64"}):normal_() end, "normal_: int64 tensors cannot hold normal numbers")
    H.raises(function() gd.manual_seed(-1) end, "gd.manual_seed: seed must be >= 0")
    H.raises(function() gd.manual_seed(1.5) end, "gd.manual_seed: seed must be an integer")
  end)
end)

describe("gd.randperm", function()
  it("permutes 1..n and repeats for a given seed", function()
    local p = gd.randperm(50, {seed = 6})
    assert.are.equal("int64", p.dtype)
    local seen = {}
    for _, v in ipairs(p:totable()) do seen[v] = (seen[v] or 0) + 1 end
    for i = 1, 50 do assert.are.equal(1, seen[i]) end
    assert.is_true(gd.randperm(50, {seed = 6}):equal(p))
    assert.is_false(gd.randperm(50, {seed = 7}):equal(p))
    assert.are.same({0}, gd.randperm(0).shape)
  end)
end)
