--- gd.clock(): wall-clock seconds from a monotonic clock (CLOCK_MONOTONIC),
-- for timing: os.clock() counts CPU time, summed over threads.
local ffi = require "ffi"
local doc = require "gd.doc"

pcall(ffi.cdef, [[
typedef struct gd_timespec { long tv_sec; long tv_nsec; } gd_timespec;
int clock_gettime(int clk_id, gd_timespec *tp);
]])
local ts = ffi.new("gd_timespec")
local CLOCK_MONOTONIC = 1

return doc(function()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end, "gd.clock", "gd.clock() -> seconds (a monotonic wall clock, for timing code).")
