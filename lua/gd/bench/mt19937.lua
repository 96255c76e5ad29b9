--- gd.bench.mt19937: NumPy's legacy RandomState (MT19937) in Lua, so that
-- DeepOBS's fixed-seed problems (np.random.RandomState(42)) come out number for
-- number: init_genrand, genrand_int32, random_sample's 53-bit double
-- ((a >> 5) * 2^26 + (b >> 6)) / 2^53, and legacy_gauss's polar Box-Muller with
-- its cached second value (numpy/random/src/legacy/legacy-distributions.c).
local bit = require "bit"
local doc = require "gd.doc"
local band, bxor, rshift, lshift, tobit = bit.band, bit.bxor, bit.rshift, bit.lshift, bit.tobit

local M = {}
local RS = {}
RS.__index = RS

local function u32(x) if x < 0 then return x + 4294967296 end return x end

local function new(seed)
  local mt = {}
  mt[0] = seed % 4294967296
  for i = 1, 623 do
    local prev = mt[i - 1]
    -- 1812433253 * (prev ^ (prev >> 30)) + i, mod 2^32, split to stay exact in doubles
    local x = u32(bxor(tobit(prev), rshift(tobit(prev), 30)))
    local lo, hi = x % 65536, math.floor(x / 65536)
    local v = (1812433253 * lo + ((1812433253 * hi) % 65536) * 65536 + i) % 4294967296
    mt[i] = v
  end
  return setmetatable({mt = mt, mti = 624, has_gauss = false, gauss = 0}, RS)
end
M.RandomState = doc(new, "gd.bench.mt19937.RandomState", [[
gd.bench.mt19937.RandomState(seed) -> rs with rs:int32(), rs:uniform([lo, hi]),
  rs:normal([mean, sd]): numpy.random.RandomState(seed)'s numbers.]])

function RS:int32()
  local mt = self.mt
  if self.mti >= 624 then
    for k = 0, 623 do
      local y = band(tobit(mt[k]), tobit(0x80000000)) + band(tobit(mt[(k + 1) % 624]), 0x7fffffff)
      y = u32(tobit(y))
      local v = bxor(tobit(mt[(k + 397) % 624]), rshift(tobit(y), 1))
      if y % 2 == 1 then v = bxor(v, tobit(0x9908b0df)) end
      mt[k] = u32(v)
    end
    self.mti = 0
  end
  local y = tobit(mt[self.mti])
  self.mti = self.mti + 1
  y = bxor(y, rshift(y, 11))
  y = bxor(y, band(lshift(y, 7), tobit(0x9d2c5680)))
  y = bxor(y, band(lshift(y, 15), tobit(0xefc60000)))
  y = bxor(y, rshift(y, 18))
  return u32(y)
end

function RS:random()
  local a, b = math.floor(self:int32() / 32), math.floor(self:int32() / 64)
  return (a * 67108864 + b) / 9007199254740992
end

function RS:uniform(lo, hi)
  lo, hi = lo or 0, hi or 1
  return lo + (hi - lo) * self:random()
end

function RS:normal(mean, sd)
  local g
  if self.has_gauss then
    self.has_gauss = false
    g = self.gauss
  else
    local x1, x2, r2
    repeat
      x1 = 2 * self:random() - 1
      x2 = 2 * self:random() - 1
      r2 = x1 * x1 + x2 * x2
    until r2 < 1 and r2 ~= 0
    local f = math.sqrt(-2 * math.log(r2) / r2)
    self.gauss, self.has_gauss = f * x1, true
    g = f * x2
  end
  return (mean or 0) + (sd or 1) * g
end

return doc(M, "gd.bench.mt19937", [[
gd.bench.mt19937: NumPy's RandomState (MT19937) for DeepOBS's fixed-seed problems.]])
