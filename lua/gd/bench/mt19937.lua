--- gd.bench.mt19937: NumPy's legacy RandomState (MT19937), so that DeepOBS's
-- fixed-seed problems (np.random.RandomState(42)) come out number for number.
-- The generator is C (src/mt19937.c: init_genrand, genrand_int32,
-- random_sample's 53-bit double and legacy_gauss's polar Box-Muller with its
-- cached second value); this file is its FFI binding.  The Lua version it
-- replaces took 0.25-0.5 s of every bench worker's start-up (quadratic_deep's
-- 200k words, measured with -jp=l: 70% of the start-up in the generator; 26 ms
-- in C) and 11-14 ms of every full trial (100 epochs of 1000-point shuffles;
-- 1.2 ms in C), half of a trial: the 1-worker sweep of scripts/bench/optbench.lua
-- went from 4.0-4.3 s to 1.9-2.9 s of CPU (interleaved rounds, a loaded machine).
local doc = require "gd.doc"
local ffi = require "ffi"
local C = require("gd.ffi").C

local M = {}
local RS = {}
RS.__index = RS

local function new(seed)
  if type(seed) ~= "number" or seed ~= math.floor(seed) or seed < 0 or seed >= 4294967296 then
    error("gd.bench.mt19937.RandomState: seed must be an integer in [0, 2^32) (as NumPy's), got "
      .. tostring(seed), 2)
  end
  local s = ffi.new("gd_mt19937")
  C.gd_mt19937_seed(s, seed)
  return setmetatable({s = s}, RS)
end
M.RandomState = doc(new, "gd.bench.mt19937.RandomState", [[
gd.bench.mt19937.RandomState(seed) -> rs with rs:int32(), rs:random(), rs:uniform([lo, hi]),
  rs:normal([mean, sd]), rs:normal_f32(buf, n, [mean, sd]): numpy.random.RandomState(seed)'s
  numbers (seed an integer in [0, 2^32)).]])

function RS:int32() return tonumber(C.gd_mt19937_int32(self.s)) end
function RS:random() return C.gd_mt19937_random(self.s) end

function RS:uniform(lo, hi)
  lo, hi = lo or 0, hi or 1
  return lo + (hi - lo) * C.gd_mt19937_random(self.s)
end

function RS:normal(mean, sd)
  return (mean or 0) + (sd or 1) * C.gd_mt19937_gauss(self.s)
end

-- buf[0..n-1] = normal(mean, sd, n).astype(float32), buf a float array of at least n
function RS:normal_f32(buf, n, mean, sd)
  C.gd_mt19937_normal_f32(self.s, buf, n, mean or 0, sd or 1)
end

return doc(M, "gd.bench.mt19937", [[
gd.bench.mt19937: NumPy's RandomState (MT19937) for DeepOBS's fixed-seed problems.]])
