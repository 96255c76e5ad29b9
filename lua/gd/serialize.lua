--- gd.serialize: gd.save / gd.load.
--
-- The gdlua format (any path not ending in .npy), all integers little-endian:
--
--   magic    8 bytes  "\137GDL\r\n\26\n"  (PNG's trick: catches text-mode and
--                                          truncated transfers)
--   version  u32      1
--   value             see below
--   crc32    u32      zlib's CRC-32 of every byte before it
--
--   value := tag u8, then by tag
--     1 false | 2 true
--     3 number   f64
--     4 string   u64 length, bytes
--     5 table    u64 number of pairs, then key value key value ...
--                (keys are numbers, strings or booleans)
--     6 tensor   u8 dtype (0 float32, 1 float64, 2 int64), u8 device (0 cpu,
--                1 cuda), u8 rank, i64 sizes[rank], then the elements in C
--                order (count * element size bytes)
--
-- Files are written atomically (a temporary file, fsync, rename: gd_writer in
-- src/file.c): a failed, interrupted or killed save leaves the old file as it
-- was, and the next save of the path removes the killed one's temporary
-- file.  An existing file keeps its mode; a symlink is written through (its
-- target replaced, the link kept).  Paths ending in .npy read
-- and write NumPy's .npy format (v1.0 written; v1/2/3 read) for float32
-- ("<f4"), float64 ("<f8") and int64 ("<i8") arrays in C order.
local gd = require "gd.tensor"
local doc = require "gd.doc"
local check = require "gd.check"
local I = require "gd.aux"
local ffi, C = I.ffi, I.C
check.register_internal()
local fmt = string.format

local M = {}

local MAGIC = "\137GDL\r\n\26\n"
local VERSION = 1
local TAG_FALSE, TAG_TRUE, TAG_NUMBER, TAG_STRING, TAG_TABLE, TAG_TENSOR = 1, 2, 3, 4, 5, 6
local ELEM_SIZE = {[0] = 4, [1] = 8, [2] = 8}
local MAX_ELEMENTS = 2 ^ 53   -- libgd's limit on a tensor's element count
local MAX_DEPTH = 200         -- tables nest at most this deep (save and load)

if not ffi.abi("le") then error("gd.serialize: big-endian machines are not supported") end

local wbox = ffi.new("gd_writer*[1]")
local u8 = ffi.new("uint8_t[1]")
local u32 = ffi.new("uint32_t[1]")
local u64 = ffi.new("uint64_t[1]")
local i64 = ffi.new("int64_t[1]")
local f64 = ffi.new("double[1]")

local function cerr() return ffi.string(C.gd_last_error()) end

-- ------------------------------------------------------------------ write

local Writer = {}
Writer.__index = Writer

local function open_writer(fname, path)
  if C.gd_writer_open(wbox, path) ~= 0 then error(fname .. ": " .. cerr(), 0) end
  return setmetatable({w = wbox[0], fname = fname}, Writer)
end

function Writer:raw(ptr, n)
  if C.gd_writer_write(self.w, ptr, n) ~= 0 then error(self.fname .. ": " .. cerr(), 0) end
end
function Writer:bytes(s) self:raw(s, #s) end
function Writer:u8(v) u8[0] = v; self:raw(u8, 1) end
function Writer:u32(v) u32[0] = v; self:raw(u32, 4) end
function Writer:u64(v) u64[0] = v; self:raw(u64, 8) end
function Writer:i64(v) i64[0] = v; self:raw(i64, 8) end
function Writer:f64(v) f64[0] = v; self:raw(f64, 8) end
function Writer:tensor_data(t)
  if C.gd_writer_write_tensor(self.w, t.c) ~= 0 then error(self.fname .. ": " .. cerr(), 0) end
end

--- Runs body(writer) and commits; on any error the temporary file is removed
-- and the error re-raised at the caller's level.
local function write_atomically(fname, path, body)
  local w = open_writer(fname, path)
  local ok, err = pcall(body, w)
  if not ok then
    C.gd_writer_abort(w.w)
    error(err, 0)
  end
  if C.gd_writer_commit(w.w) ~= 0 then error(fname .. ": " .. cerr(), 0) end
end

local function write_value(w, v, path, seen, depth)
  local tv = type(v)
  if tv == "boolean" then
    w:u8(v and TAG_TRUE or TAG_FALSE)
  elseif tv == "number" then
    w:u8(TAG_NUMBER); w:f64(v)
  elseif tv == "string" then
    w:u8(TAG_STRING); w:u64(#v); w:bytes(v)
  elseif gd.is_tensor(v) then
    local c = v.c
    if c.is_freed ~= 0 then error(fmt("gd.save: the tensor at %s was released with free()", path), 0) end
    w:u8(TAG_TENSOR); w:u8(c.scalar_type); w:u8(c.device_kind); w:u8(c.rank)
    for d = 0, c.rank - 1 do w:i64(c.sizes[d]) end
    w:tensor_data(v)
  elseif tv == "table" then
    if seen[v] then error(fmt("gd.save: the table at %s contains itself (a cycle)", path), 0) end
    if depth >= MAX_DEPTH then error(fmt("gd.save: tables nest deeper than %d (at %s)", MAX_DEPTH, path), 0) end
    seen[v] = true
    local keys = {}
    for k in pairs(v) do
      local tk = type(k)
      if tk ~= "string" and tk ~= "number" and tk ~= "boolean" then
        error(fmt("gd.save: the table at %s has a %s key; keys must be strings, numbers or booleans", path, tk), 0)
      end
      keys[#keys + 1] = k
    end
    -- a stable order: the same value gives the same bytes
    table.sort(keys, function(a, b)
      local ta, tb = type(a), type(b)
      if ta ~= tb then return ta < tb end
      if ta == "boolean" then return (a and 1 or 0) < (b and 1 or 0) end
      return a < b
    end)
    w:u8(TAG_TABLE); w:u64(#keys)
    for _, k in ipairs(keys) do
      write_value(w, k, path, seen, depth + 1)
      write_value(w, v[k], path .. "." .. tostring(k), seen, depth + 1)
    end
    seen[v] = nil
  else
    error(fmt("gd.save: cannot save a %s (at %s); values must be tensors, numbers, strings, booleans or tables",
      tv, path), 0)
  end
end

-- ------------------------------------------------------------------- read

local function read_all(fname, path, gunzip)
  local buf = ffi.new("gd_buffer")
  if C.gd_read_file(buf, path, gunzip and 1 or 0) ~= 0 then error(fname .. ": " .. cerr(), 0) end
  return ffi.gc(buf, C.gd_buffer_free)
end

local Reader = {}
Reader.__index = Reader

function Reader:corrupt(what)
  error(fmt("%s: '%s' is corrupt or not a gdlua file: %s", self.fname, self.path, what), 0)
end
function Reader:need(n)
  if n > self.limit - self.pos then
    -- %.0f: a size read from the file can be up to 2^64, past what %d prints
    self:corrupt(fmt("truncated (%.0f bytes needed at offset %.0f, %.0f left)", n, self.pos, self.limit - self.pos))
  end
end
function Reader:u8() self:need(1); local v = self.p[self.pos]; self.pos = self.pos + 1; return v end
function Reader:scalar(box, n)
  self:need(n)
  ffi.copy(box, self.p + self.pos, n)
  self.pos = self.pos + n
  return box[0]
end
function Reader:u32() return tonumber(self:scalar(u32, 4)) end
function Reader:u64() return tonumber(self:scalar(u64, 8)) end
function Reader:i64() return tonumber(self:scalar(i64, 8)) end
function Reader:f64() return self:scalar(f64, 8) end

function Reader:tensor(opts)
  local dtype, device, rank = self:u8(), self:u8(), self:u8()
  if dtype > 2 then self:corrupt("unknown dtype code " .. dtype) end
  if device > 1 then self:corrupt("unknown device code " .. device) end
  if rank > 8 then self:corrupt("tensor rank " .. rank) end
  local shape, count, nonzero = {}, 1, 1
  for d = 1, rank do
    local s = self:i64()
    if s < 0 then self:corrupt("negative tensor size") end
    shape[d] = s
    count = count * s
    if s > 0 then nonzero = nonzero * s end
  end
  if nonzero > MAX_ELEMENTS then self:corrupt("impossible tensor shape") end
  local nbytes = count * ELEM_SIZE[dtype]
  self:need(nbytes)
  local t = gd.empty(shape, {dtype = I.DTYPE_NAMES[dtype]})
  if C.gd_copy_from_bytes(t.c, self.p + self.pos, nbytes) ~= 0 then error(self.fname .. ": " .. cerr(), 0) end
  self.pos = self.pos + nbytes
  local want = opts.device or I.DEVICE_NAMES[device]
  if want ~= "cpu" then
    local ok, why = gd.cuda_available()
    if not ok then
      error(fmt("%s: '%s' holds a cuda tensor, but %s; load it with {device = \"cpu\"}", self.fname, self.path,
        why), 0)
    end
    t = t:to(want)
  end
  return t
end

function Reader:value(opts, depth)
  if depth > MAX_DEPTH then self:corrupt("nesting deeper than " .. MAX_DEPTH) end
  local tag = self:u8()
  if tag == TAG_FALSE then return false
  elseif tag == TAG_TRUE then return true
  elseif tag == TAG_NUMBER then return self:f64()
  elseif tag == TAG_STRING then
    local n = self:u64()
    self:need(n)
    local s = ffi.string(self.p + self.pos, n)
    self.pos = self.pos + n
    return s
  elseif tag == TAG_TABLE then
    local n = self:u64()
    if n > self.limit then self:corrupt("impossible table size") end
    local t = {}
    for _ = 1, n do
      local k = self:value(opts, depth + 1)
      if type(k) ~= "string" and type(k) ~= "number" and type(k) ~= "boolean" then self:corrupt("a bad table key") end
      if k ~= k then self:corrupt("a NaN table key") end
      t[k] = self:value(opts, depth + 1)
    end
    return t
  elseif tag == TAG_TENSOR then
    return self:tensor(opts)
  end
  self:corrupt("unknown tag " .. tostring(tag) .. " at offset " .. (self.pos - 1))
end

-- -------------------------------------------------------------------- npy

local NPY_DESCR = {[0] = "<f4", [1] = "<f8", [2] = "<i8"}
local NPY_DTYPE = {["<f4"] = "float32", ["<f8"] = "float64", ["<i8"] = "int64"}

--- The .npy v1.0 header (magic to the newline) of tensor t.
local function npy_header(t)
  local c = t.c
  local shape = t.shape
  local dims
  if #shape == 0 then dims = "()"
  elseif #shape == 1 then dims = "(" .. shape[1] .. ",)"
  else dims = "(" .. table.concat(shape, ", ") .. ")" end
  local header = fmt("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", NPY_DESCR[c.scalar_type], dims)
  -- magic(6) + version(2) + length(2) + header + padding + "\n" is a multiple of 64
  local total = 10 + #header + 1
  header = header .. string.rep(" ", (64 - total % 64) % 64) .. "\n"
  return "\147NUMPY\1\0" .. string.char(#header % 256, math.floor(#header / 256)) .. header
end

local function save_npy(path, t)
  if not gd.is_tensor(t) then
    error(fmt("gd.save: a .npy file holds one tensor, not a %s", type(t)), 0)
  end
  write_atomically("gd.save", path, function(w)
    w:bytes(npy_header(t))
    w:tensor_data(t)
  end)
end

-- The header of a .npy file is the repr of a Python dict, which NumPy reads
-- with ast.literal_eval and then checks (numpy/lib/format.py,
-- _read_array_header): a dict with exactly the keys descr, fortran_order and
-- shape; shape a tuple of ints; fortran_order a bool.  This is a parser of
-- that literal subset (strings, True/False, ints, tuples, one dict), refusing
-- what literal_eval or those checks refuse: (-6,) and (2, -3) (negative
-- sizes: NumPy fails on them when it allocates), ((2, 3),), (3 2), (1e3,),
-- a missing or extra key.  A duplicate key, which literal_eval would let the
-- last one win, is refused too: two readers could see two arrays.
local function parse_npy_header(h, bad)
  local pos = 1
  local function ws() pos = h:find("[^ \t\r\n]", pos) or #h + 1 end
  local function expect(ch, what)
    ws()
    if h:sub(pos, pos) ~= ch then
      bad(fmt("header: expected %s at position %d, found %s", what, pos,
        pos > #h and "the end" or fmt("%q", h:sub(pos, pos))))
    end
    pos = pos + 1
  end
  local function str()
    ws()
    local q = h:sub(pos, pos)
    if q ~= "'" and q ~= '"' then bad(fmt("header: expected a quoted string at position %d", pos)) end
    local stop = h:find(q, pos + 1, true)
    if not stop then bad("header: an unterminated string") end
    local s = h:sub(pos + 1, stop - 1)
    if s:find("[\\\n]") then bad("header: a string with escapes or line breaks") end
    pos = stop + 1
    return s
  end
  local function int()
    ws()
    -- Python's int literals: 0, or a nonzero digit then digits (underscores
    -- between digits); a sign is a unary operator literal_eval allows
    local sign, digits, after = h:match("^([+-]?)[ \t]*([0-9][0-9_]*)()", pos)
    if not digits then bad(fmt("header: expected an integer at position %d", pos)) end
    if digits:find("__", 1, true) or digits:sub(-1) == "_" or (digits:match("^0") and digits:find("[1-9_]")) then
      bad(fmt("header: '%s' is not a Python integer", digits))
    end
    local rest = h:sub(after, after)
    if rest:match("[%w%.]") then bad(fmt("header: '%s%s...' is not an integer", digits, rest)) end
    pos = after
    local n = tonumber((digits:gsub("_", "")))
    if sign == "-" and n ~= 0 then bad(fmt("header: negative dimension -%s in the shape", digits)) end
    if n >= 2 ^ 53 then bad(fmt("header: dimension %s is too large", digits)) end
    return n
  end
  local function tuple()
    expect("(", "'(' (the shape is a tuple)")
    local dims = {}
    ws()
    if h:sub(pos, pos) == ")" then pos = pos + 1; return dims end
    while true do
      dims[#dims + 1] = int()
      ws()
      local ch = h:sub(pos, pos)
      if ch == ")" then
        -- (6) is the int 6, not a tuple: a 1-tuple needs its comma
        if #dims == 1 then bad("header: the shape (n) is an int, not a tuple: (n,) is") end
        pos = pos + 1
        return dims
      end
      if ch ~= "," then bad(fmt("header: expected ',' or ')' in the shape at position %d", pos)) end
      pos = pos + 1
      ws()
      if h:sub(pos, pos) == ")" then pos = pos + 1; return dims end
    end
  end
  local function bool()
    ws()
    for _, w in ipairs({"True", "False"}) do
      if h:sub(pos, pos + #w - 1) == w and not h:sub(pos + #w, pos + #w):match("[%w_]") then
        pos = pos + #w
        return w == "True"
      end
    end
    bad(fmt("header: fortran_order must be True or False (at position %d)", pos))
  end
  local d = {}
  expect("{", "'{' (the header is a dict)")
  while true do
    ws()
    if h:sub(pos, pos) == "}" then pos = pos + 1; break end
    local key = str()
    if d[key] ~= nil then bad(fmt("header: the key '%s' appears twice", key)) end
    expect(":", "':'")
    if key == "descr" then
      ws()
      if h:sub(pos, pos) == "[" then bad("header: a structured dtype (descr is a list); gdlua reads plain arrays") end
      d.descr = str()
    elseif key == "fortran_order" then d.fortran_order = bool()
    elseif key == "shape" then d.shape = tuple()
    else bad(fmt("header: unexpected key '%s' (NumPy's header has exactly descr, fortran_order and shape)", key)) end
    ws()
    local ch = h:sub(pos, pos)
    if ch == "," then pos = pos + 1
    elseif ch ~= "}" then bad(fmt("header: expected ',' or '}' at position %d", pos)) end
  end
  ws()
  if pos <= #h then bad(fmt("header: unexpected text after the dict at position %d", pos)) end
  for _, k in ipairs({"descr", "fortran_order", "shape"}) do
    if d[k] == nil then bad(fmt("header lacks the key '%s'", k)) end
  end
  return d
end

--- The tensor in the .npy bytes p[0 .. size-1]; bad(what) raises for a
-- malformed file, `where` names it in the other errors ("'x.npy'").
local function npy_decode(p, size, opts, bad, where)
  local fname = "gd.load"
  if size < 10 or ffi.string(p, 6) ~= "\147NUMPY" then bad("no NUMPY magic") end
  local major = p[6]
  local hlen, start
  if major == 1 then hlen, start = p[8] + p[9] * 256, 10
  elseif major == 2 or major == 3 then
    if size < 12 then bad("truncated header") end
    hlen, start = p[8] + p[9] * 256 + p[10] * 65536 + p[11] * 16777216, 12
  else bad("unknown format version " .. major) end
  if start + hlen > size then bad("truncated header") end
  local header = ffi.string(p + start, hlen)
  local d = parse_npy_header(header, bad)
  local descr = d.descr
  if descr == "|f4" then descr = "<f4" end
  local dtype = NPY_DTYPE[descr]
  if not dtype then
    error(fmt("%s: %s has dtype '%s'; gdlua reads '<f4' (float32), '<f8' (float64) and '<i8' (int64)",
      fname, where, descr), 0)
  end
  if d.fortran_order then
    error(fmt("%s: %s is in Fortran order, which gdlua does not read (save it with C order, "
      .. "e.g. numpy.ascontiguousarray)", fname, where), 0)
  end
  local shape, count, nonzero = d.shape, 1, 1
  local shape_s = "(" .. table.concat(shape, ", ") .. (#shape == 1 and ",)" or ")")
  if #shape > 8 then bad("more than 8 dimensions") end
  for _, n in ipairs(shape) do
    count = count * n
    if n > 0 then nonzero = nonzero * n end
  end
  if nonzero > MAX_ELEMENTS then bad("impossible shape " .. shape_s) end
  local data = start + hlen
  local nbytes = count * (dtype == "float32" and 4 or 8)
  if size - data ~= nbytes then
    bad(fmt("%.0f data bytes for shape %s of %s (expected %.0f)", size - data, shape_s, descr, nbytes))
  end
  local t = gd.empty(shape, {dtype = dtype})
  if C.gd_copy_from_bytes(t.c, p + data, nbytes) ~= 0 then error(fname .. ": " .. cerr(), 0) end
  if opts.device and opts.device ~= "cpu" then t = t:to(opts.device) end
  return t
end

local function load_npy(path, opts)
  local buf = read_all("gd.load", path, false)
  local p, size = ffi.cast("const uint8_t *", buf.bytes), tonumber(buf.size)
  local function bad(what) error(fmt("gd.load: '%s' is not a valid .npy file: %s", path, what), 0) end
  local t = npy_decode(p, size, opts, bad, "'" .. path .. "'")
  return t -- not a tail call: buf (which p points into) must outlive the decode
end

-- ----------------------------------------------------------------- public

local function is_npy(path) return path:lower():sub(-4) == ".npy" end
local function is_npz(path) return path:lower():sub(-4) == ".npz" end

M.save = doc(function(path, value)
  check.path("gd.save", "argument 1 (path)", path, 2)
  local ok, err = pcall(function()
    if is_npy(path) then return save_npy(path, value) end
    if is_npz(path) then return require("gd.npz").save(path, value) end
    write_atomically("gd.save", path, function(w)
      w:bytes(MAGIC)
      w:u32(VERSION)
      write_value(w, value, "the root", {}, 0)
      w:u32(C.gd_writer_crc32(w.w))
    end)
  end)
  if not ok then error(err, 2) end
end, "gd.save", [[
gd.save(path, value): writes a tensor, or a (nested) table of tensors, numbers,
strings and booleans, atomically (the old file survives a failed or killed
save).  An existing file keeps its permissions; a symlink keeps pointing at
the file, which is replaced.
Paths ending in .npy write NumPy's format (one tensor); paths ending in .npz
a NumPy archive (np.load reads it) of a table of tensors with string keys
(the names of the arrays), stored uncompressed.  The format is documented in
lua/gd/serialize.lua (and lua/gd/npz.lua).]])

local LOAD_OPTS = {device = true}

M.load = doc(function(path, opts)
  check.path("gd.load", "argument 1 (path)", path, 2)
  opts = check.options("gd.load", opts, LOAD_OPTS)
  if opts.device ~= nil and opts.device ~= "cpu" and opts.device ~= "cuda" then
    error("gd.load: " .. check.unknown_message("device", opts.device, {"cpu", "cuda"}), 2)
  end
  local ok, res = pcall(function()
    if is_npy(path) then return load_npy(path, opts) end
    if is_npz(path) then return require("gd.npz").load(path, opts) end
    local buf = read_all("gd.load", path, false)
    local p, size = ffi.cast("const uint8_t *", buf.bytes), tonumber(buf.size)
    local r = setmetatable({p = p, pos = 0, limit = size, fname = "gd.load", path = path}, Reader)
    if size < 16 or ffi.string(p, 8) ~= MAGIC then r:corrupt("no gdlua magic (was it written by gd.save?)") end
    ffi.copy(u32, p + size - 4, 4)
    local stored = u32[0]
    if C.gd_crc32(0, p, size - 4) ~= stored then r:corrupt("checksum mismatch") end
    r.pos, r.limit = 8, size - 4
    local version = r:u32()
    if version ~= VERSION then
      error(fmt("gd.load: '%s' has format version %d; this gdlua reads version %d", path, version, VERSION), 0)
    end
    local v = r:value(opts, 0)
    if r.pos ~= r.limit then r:corrupt("trailing bytes") end
    return v
  end)
  if not ok then error(res, 2) end
  return res
end, "gd.load", [[
gd.load(path, [{device = "cpu"}]) -> the value gd.save wrote (or a tensor from a
.npy file, or a table of tensors by name from a NumPy .npz archive, written
by np.savez or np.savez_compressed).  A corrupt, truncated or foreign file is an error, never garbage.]])

-- for other writers of whole files (gd.plot): the same temporary file, checked
-- writes, fsync and rename
M.write_atomically = write_atomically
-- for gd.npz: .npy members of an archive
M.read_all, M.npy_header, M.npy_decode = read_all, npy_header, npy_decode

return M
