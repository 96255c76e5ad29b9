--- The int64 edge rules (src/kernels/elementwise.h, docs/int64.md), one set
-- for every device: the same answer, or the same error, on the CPU and on
-- CUDA (the CUDA half is pending where no GPU can be used).
--
-- Conversions from float keep every value of [-2^63, 2^63) (truncated toward
-- zero) and refuse the rest (>= 2^63, < -2^63, NaN, +-inf) with an error;
-- an infinite int64 clamp bound clamps nothing, a bound beyond int64 (1e19)
-- promotes to float32 as in PyTorch;
-- integer modulo by zero and negative integer exponents are errors.
local gd = require "gd"

local available, why = gd.cuda_available()

-- INT64_MAX and INT64_MIN, which no Lua number holds: made by wrapping
local function int64_max(n, device) return gd.full({n}, -2 ^ 63, {dtype = "int64", device = device}) - 1 end
local function int64_min(n, device) return gd.full({n}, -2 ^ 63, {dtype = "int64", device = device}) end

-- a - b, exactly (int64 arithmetic), back on the host as numbers
local function exact_difference(a, b) return (a - b):to("cpu"):totable() end

local function raises(f, pattern)
  local ok, e = pcall(f)
  assert.is_false(ok, "expected an error matching " .. pattern)
  assert.matches(pattern, tostring(e))
end

local function rules(device)
  local opts = function(dt) return {dtype = dt, device = device} end

  -- catches: CUDA's old conversion, which wrote 0 for |v| >= 9.2e18 (9.21e18
  -- fits in int64); and any rounding instead of truncation
  it("converts float values in [-2^63, 2^63) to int64, truncating toward zero", function()
    local f = gd.tensor({9.21e18, -9.21e18, 2.7, -2.7, -2 ^ 63, 0.5, -0.5}, opts("float64"))
    local i = f:to("int64")
    assert.equal("int64", i.dtype)
    -- 9.21e18 is exact in a double (921 * 2^16 * 5^16 needs 48 bits)
    local want = gd.tensor({9210000000000000000, -9210000000000000000, 2, -2, -2 ^ 63, 0, 0}, opts("int64"))
    assert.are.same({0, 0, 0, 0, 0, 0, 0}, exact_difference(i, want))
    -- float32 too: its nearest value to 9.21e18 converts as it is
    local f32 = gd.tensor({9.21e18}, opts("float32"))
    assert.equal(f32:get(1), f32:to("int64"):get(1))
  end)

  -- catches: a value with no int64 written as 0 (or INT64_MIN, x86's cast)
  -- without a word, and a failed copy that has changed its destination
  it("refuses values at or beyond 2^63, below -2^63, NaN and the infinities", function()
    for _, v in ipairs {2 ^ 63, 1e19, -2 ^ 63 - 4096, -1e19, 0 / 0, math.huge, -math.huge} do
      for _, dt in ipairs {"float32", "float64"} do
        -- (float32 rounds -2^63 - 4096 to -2^63, which converts)
        if dt == "float32" and v == -2 ^ 63 - 4096 then goto next end
        local src = gd.tensor({1, v, 3}, opts(dt))
        raises(function() return src:to("int64") end, "cannot be converted to int64")
        local dst = gd.tensor({7, 8, 9}, opts("int64"))
        raises(function() dst:copy_(src) end, "cannot be converted to int64")
        assert.are.same({7, 8, 9}, dst:to("cpu"):totable())
        ::next::
      end
    end
    raises(function() gd.zeros(2, opts("int64")):fill_(2 ^ 63) end, "does not fit in int64")
    raises(function() gd.zeros(2, opts("int64")):fill_(0 / 0) end, "NaN cannot be stored in an int64 tensor")
  end)

  -- catches: infinite (absent) bounds saturated to 2^63 - 1024, the largest
  -- double below 2^63, which clamped INT64_MAX down by 1023 (the CPU's old
  -- rule); bounds cast to int64 as they are (undefined behaviour, CUDA's old
  -- rule for 1e19); and 1e19 kept as an int64 bound, where PyTorch 1.13's
  -- int64 clamp(max=1e19) gives float32 (measured: tensor([9.2234e+18,
  -- -9.2234e+18]) of torch.float32)
  it("clamps int64 with infinite bounds as if absent, and promotes for bounds beyond int64", function()
    local hi, lo = int64_max(3, device), int64_min(3, device)
    assert.are.same({0, 0, 0}, exact_difference(hi:clamp(nil, math.huge), hi))
    assert.are.same({0, 0, 0}, exact_difference(lo:clamp(-math.huge, nil), lo))
    assert.are.same({0, 0, 0}, exact_difference(hi:clamp(-math.huge, math.huge), hi))
    local h2 = int64_max(2, device)
    h2:clamp_(nil, math.huge)
    assert.are.same({0, 0}, exact_difference(h2, int64_max(2, device)))
    -- in-range bounds clamp, and stay int64
    local t = gd.tensor({-5, 0, 5}, opts("int64"))
    local c = t:clamp(-2 ^ 63, 2)
    assert.equal("int64", c.dtype)
    assert.are.same({-5, 0, 2}, c:to("cpu"):totable())
    local c2 = hi:clamp(nil, 9.21e18)
    assert.are.same({0, 0, 0}, exact_difference(c2, gd.full({3}, 9.21e18, opts("int64"))))
    -- beyond int64, or fractional: float32, PyTorch's promotion
    local f = hi:clamp(nil, 1e19)
    assert.equal("float32", f.dtype)
    assert.equal(2 ^ 63, f:get(1))    -- INT64_MAX as a float32
    assert.equal("float32", lo:clamp(-1e19, nil).dtype)
    assert.equal("float32", t:clamp(nil, 2.5).dtype)
    assert.are.same({-5, 0, 2.5}, t:clamp(nil, 2.5):to("cpu"):totable())
    raises(function() t:clamp_(nil, 1e19) end, "float32, which cannot be stored in place")
  end)

  -- catches: a modulo by zero or a negative power that a kernel would turn
  -- into 0 silently (CUDA's kernels cannot report them: the core must look)
  it("refuses integer modulo by zero and negative integer exponents", function()
    local a, z = gd.tensor({5, 6}, opts("int64")), gd.tensor({1, 0}, opts("int64"))
    raises(function() return a % z end, "integer modulo by zero")
    raises(function() return a % 0 end, "integer modulo by zero")
    raises(function() return a ^ gd.tensor({2, -1}, opts("int64")) end, "negative integer powers")
    raises(function() return 2 ^ gd.tensor({2, -1}, opts("int64")) end, "negative integer powers")
    local m = gd.tensor({5, -5}, opts("int64")) % gd.tensor({3, 3}, opts("int64"))
    assert.are.same({2, 1}, m:to("cpu"):totable())   -- torch.remainder: the divisor's sign
  end)

  -- catches: int64 + - * evaluated in double (2^62 + 2^62 + 2^62 + 2^62 is
  -- 2^64, which wraps to 0 in int64 but is no integer overflow in a double)
  it("wraps int64 arithmetic around, as two's complement", function()
    local t = gd.full({2}, 2 ^ 62, opts("int64"))
    local s = t + t + t + t
    assert.are.same({0, 0}, s:to("cpu"):totable())
    assert.are.same({0, 0}, exact_difference(int64_max(2, device) + 1, int64_min(2, device)))
  end)
end

describe("int64 edge rules on the CPU", function() rules("cpu") end)

describe("int64 edge rules on CUDA (the same answers as the CPU)", function()
  if not available then
    pending("no GPU here: " .. tostring(why))
    return
  end
  rules("cuda")
end)
