-- make bench: runs every scripts/bench/*.lua under gdlua, in name order.  Each
-- prints its own section: times, and ratios against references timed in the
-- same run (the memory roofline, OpenBLAS, PyTorch where it is installed).
local dir = (arg and arg[0] or "scripts/bench.lua"):match("^(.*)/[^/]*$") or "."
local files = {}
local p = io.popen('ls "' .. dir .. '/bench/"*.lua 2>/dev/null')
for line in p:lines() do files[#files + 1] = line end
p:close()
table.sort(files)
local only = arg and arg[1]
local function cpu_name()
  local f = io.open("/proc/cpuinfo")
  if not f then return "unknown CPU" end
  for line in f:lines() do
    local name = line:match("^model name%s*:%s*(.*)")
    if name then f:close() return name end
  end
  f:close()
  return "unknown CPU"
end
print(string.format("gdlua bench: %s, %d threads, %s", gd.version, gd.get_num_threads(), cpu_name()))
-- measured: 6 minutes on 2 busy cores (127 s of CPU), PyTorch's timings included,
-- about 2-3 more for bench/dist.lua's twenty MPI runs (5 rounds of 4 kinds)
-- and 1 for bench/models.lua's PyTorch LSTM steps
print("(it takes a few minutes: about 8 on a loaded 2-core machine, less with PyTorch absent)")
local t_all = gd.clock()
for _, file in ipairs(files) do
  if not only or file:find(only, 1, true) then
    print("\n== " .. file)
    local t0 = gd.clock()
    local ok, err = pcall(dofile, file)
    if not ok then print("  FAILED: " .. tostring(err)) end
    print(string.format("   (%s took %.0f s)", file, gd.clock() - t0))
  end
end
print(string.format("\ngdlua bench: done in %.0f s", gd.clock() - t_all))
