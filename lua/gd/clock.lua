--- gd.clock(): wall-clock seconds from a monotonic clock (libgd's
-- gd_seconds, CLOCK_MONOTONIC), for timing: os.clock() counts CPU time,
-- summed over threads.
local C = require("gd.ffi").C
local doc = require "gd.doc"

return doc(function() return C.gd_seconds() end, "gd.clock",
  "gd.clock() -> seconds (a monotonic wall clock, for timing code).")
