--- fuzz-seeds.lua: writes valid starting inputs for `make fuzz` (what each
-- reader accepts, so that libFuzzer's mutations start inside the format):
--   gdlua scripts/fuzz-seeds.lua build/fuzz/corpus
-- corpus/checkpoint: gd.save files (a module, nested tables, every dtype);
-- corpus/npy: .npy files of each dtype and rank; corpus/csv: CSV texts behind
-- fuzz_csv.c's two selector bytes (separator; dtype, header, gunzip).
local gd = require "gd"
local out = assert(arg[1], "usage: fuzz-seeds.lua DIR")

local function mkdir(d) assert(os.execute("mkdir -p '" .. d .. "'") == 0) end
local function write(path, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
end
for _, t in ipairs({"checkpoint", "npy", "csv"}) do mkdir(out .. "/" .. t) end

gd.manual_seed(1)
local ck = out .. "/checkpoint/"
gd.save(ck .. "mlp", gd.nn.Sequential{gd.nn.Linear(3, 4), gd.nn.ReLU(), gd.nn.Linear(4, 2)})
gd.save(ck .. "table", {lr = 0.1, name = "run", ok = true, [3] = false, nested = {a = {1, 2, "x"}}})
gd.save(ck .. "tensors", {gd.ones(2, 3), gd.arange(4, {dtype = "float64"}), gd.tensor({-1, 7}, {dtype = "int64"}),
  gd.zeros(0, 2), gd.tensor(5)})
gd.save(ck .. "number", 42)

local np = out .. "/npy/"
gd.save(np .. "f4.npy", gd.arange(6):view(2, 3))
gd.save(np .. "f8.npy", gd.tensor({1.5, -2}, {dtype = "float64"}))
gd.save(np .. "i8.npy", gd.tensor(3, {dtype = "int64"}))
gd.save(np .. "empty.npy", gd.zeros(0, 4))

local cv = out .. "/csv/"
-- selector bytes: separator index (0 ","  1 TAB  2 space  3 ";"), then dtype + 3 * header + 6 * gunzip
write(cv .. "plain", "\0\1" .. "1,2.5,-3\n4,5e3,6\n")
write(cv .. "header", "\0\4" .. "a,b\r\n1,2\r\n3,4\r\n")
write(cv .. "tab", "\1\2" .. "1\t2\n-9223372036854775808\t9223372036854775807\n")
write(cv .. "cr", "\3\0" .. "1;2\r3;4\r")
local p = io.popen("printf '1,2\\n3,4\\n' | gzip -9 -n -c")
write(cv .. "gz", "\0\7" .. p:read("*a"))
p:close()
