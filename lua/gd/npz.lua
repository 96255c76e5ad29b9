--- gd.npz: NumPy's .npz archives for gd.save / gd.load (paths ending in .npz).
--
-- An .npz file is a zip archive (PKWARE's APPNOTE.TXT) holding one .npy file
-- per array, named "<key>.npy" (numpy/lib/npyio.py: savez stores the
-- members, savez_compressed deflates them; NpzFile strips the ".npy").
--
-- Reading trusts the central directory (the archive's index at its end,
-- found through the end-of-central-directory record) for each member's
-- method, sizes, CRC-32 and local header offset, as Python's zipfile does;
-- NumPy writes its members with force_zip64, so sizes that read 0xFFFFFFFF
-- come from the zip64 extra field.  Stored (0) and deflated (8) members are
-- read, the deflated ones inflated by zlib (gd_inflate_raw); every member's
-- CRC-32 is checked.  A truncated or malformed archive is an error naming
-- the part that is wrong, never a partial table.
--
-- Writing makes a stored (uncompressed) archive, as np.savez does, through
-- the same atomic writer as every gd.save (a temporary file, fsync,
-- rename): local header, .npy bytes, per member; then the central
-- directory and its end record.  Archives past 4 GB (zip64) are refused.
local gd = require "gd.tensor"
local I = require "gd.aux"
local ser = require "gd.serialize"
local ffi, C = I.ffi, I.C
local fmt = string.format

local M = {}

local function cerr() return ffi.string(C.gd_last_error()) end

local function le16(v) return string.char(v % 256, math.floor(v / 256) % 256) end
local function le32(v)
  return string.char(v % 256, math.floor(v / 256) % 256, math.floor(v / 65536) % 256, math.floor(v / 16777216) % 256)
end

-- ------------------------------------------------------------------ read

local function rd16(p, at) return p[at] + p[at + 1] * 256 end
local function rd32(p, at) return p[at] + p[at + 1] * 256 + p[at + 2] * 65536 + p[at + 3] * 16777216 end
local function rd64(p, at) return rd32(p, at) + rd32(p, at + 4) * 4294967296 end

local SIG_LOCAL, SIG_CENTRAL, SIG_END, SIG_END64 = 0x04034b50, 0x02014b50, 0x06054b50, 0x06064b50

--- The zip64 extra field (id 1) of a central entry: the 64-bit values of the
-- fields that read 0xFFFFFFFF, in APPNOTE's order.
local function zip64_fields(p, at, len, e, bad)
  local stop = at + len
  while at + 4 <= stop do
    local id, n = rd16(p, at), rd16(p, at + 2)
    if at + 4 + n > stop then bad(fmt("member '%s': an extra field runs past its entry", e.name)) end
    if id == 1 then
      local q = at + 4
      local function take(field)
        if e[field] == 0xFFFFFFFF then
          if q + 8 > at + 4 + n then bad(fmt("member '%s': the zip64 field is too short", e.name)) end
          e[field] = rd64(p, q)
          q = q + 8
        end
      end
      take("usize"); take("csize"); take("offset")
      return
    end
    at = at + 4 + n
  end
end

function M.load(path, opts)
  local buf = ser.read_all("gd.load", path, false)
  local p, size = ffi.cast("const uint8_t *", buf.bytes), tonumber(buf.size)
  local function bad(what) error(fmt("gd.load: '%s' is not a valid .npz archive: %s", path, what), 0) end
  if size < 22 then bad(size == 0 and "the file is empty" or "too short for a zip archive (truncated?)") end
  -- the end record: 22 bytes and a comment of at most 65535, at the very end
  local eocd = nil
  for at = size - 22, math.max(0, size - 22 - 65535), -1 do
    if rd32(p, at) == SIG_END and at + 22 + rd16(p, at + 20) == size then eocd = at; break end
  end
  if eocd == nil then
    if rd32(p, 0) == SIG_LOCAL then bad("no end-of-central-directory record (the archive is truncated)") end
    bad("no zip signature (not a zip archive)")
  end
  local count, cd_size, cd_off = rd16(p, eocd + 10), rd32(p, eocd + 12), rd32(p, eocd + 16)
  if count == 0xFFFF or cd_off == 0xFFFFFFFF or cd_size == 0xFFFFFFFF or
     (eocd >= 20 and rd32(p, eocd - 20) == 0x07064b50) then
    -- the zip64 end record, through its locator just before the end record
    if eocd < 20 or rd32(p, eocd - 20) ~= 0x07064b50 then bad("a zip64 archive without its locator") end
    local e64 = rd64(p, eocd - 12)
    if e64 + 56 > eocd or rd32(p, e64) ~= SIG_END64 then bad("a broken zip64 end record") end
    count, cd_size, cd_off = rd64(p, e64 + 32), rd64(p, e64 + 40), rd64(p, e64 + 48)
  end
  if cd_off + cd_size > eocd then bad("the central directory runs past its end record (truncated?)") end
  local out, at = {}, cd_off
  for i = 1, count do
    if at + 46 > cd_off + cd_size or rd32(p, at) ~= SIG_CENTRAL then
      bad(fmt("central directory entry %d is missing or broken", i))
    end
    local e = {flags = rd16(p, at + 8), method = rd16(p, at + 10), crc = rd32(p, at + 16), csize = rd32(p, at + 20),
               usize = rd32(p, at + 24), offset = rd32(p, at + 42)}
    local nlen, xlen, clen = rd16(p, at + 28), rd16(p, at + 30), rd16(p, at + 32)
    if at + 46 + nlen + xlen + clen > cd_off + cd_size then bad(fmt("central directory entry %d is truncated", i)) end
    e.name = ffi.string(p + at + 46, nlen)
    zip64_fields(p, at + 46 + nlen, xlen, e, bad)
    at = at + 46 + nlen + xlen + clen
    if e.flags % 2 == 1 then bad(fmt("member '%s' is encrypted", e.name)) end
    if e.method ~= 0 and e.method ~= 8 then
      bad(fmt("member '%s' uses compression method %d (gdlua reads stored (0) and deflated (8) members)", e.name,
        e.method))
    end
    if e.name:sub(-4) ~= ".npy" then bad(fmt("member '%s' is not a .npy array", e.name)) end
    local key = e.name:sub(1, -5)
    if out[key] ~= nil then bad(fmt("member '%s' appears twice", e.name)) end
    -- the data starts after the local header, whose name and extra lengths
    -- may differ from the central entry's
    local lh = e.offset
    if lh + 30 > cd_off or rd32(p, lh) ~= SIG_LOCAL then bad(fmt("member '%s': no local header at its offset", e.name)) end
    local lnlen = rd16(p, lh + 26)
    if lh + 30 + lnlen > cd_off or ffi.string(p + lh + 30, lnlen) ~= e.name then
      bad(fmt("member '%s': its local header names another file", e.name))
    end
    local data = lh + 30 + lnlen + rd16(p, lh + 28)
    if data + e.csize > cd_off then bad(fmt("member '%s' runs past the end of the data (truncated?)", e.name)) end
    if e.method == 0 and e.csize ~= e.usize then
      bad(fmt("member '%s' is stored but its sizes differ (%.0f, %.0f)", e.name, e.csize, e.usize))
    end
    if e.usize > 2 ^ 40 then bad(fmt("member '%s' claims %.0f bytes", e.name, e.usize)) end
    local bytes, keep = p + data, buf
    if e.method == 8 then
      keep = ffi.new("uint8_t[?]", math.max(e.usize, 1))
      if C.gd_inflate_raw(keep, e.usize, p + data, e.csize) ~= 0 then
        bad(fmt("member '%s': %s", e.name, cerr():gsub("^inflate: ", "")))
      end
      bytes = keep
    end
    if C.gd_crc32(0, bytes, e.usize) ~= e.crc then bad(fmt("member '%s' fails its CRC-32 check", e.name)) end
    local function member_bad(what) bad(fmt("member '%s': %s", e.name, what)) end
    -- bytes (the inflated buffer, or a pointer into buf) stays referenced
    -- through the call
    out[key] = ser.npy_decode(bytes, e.usize, opts, member_bad,
      fmt("member '%s' of '%s'", e.name, path))
  end
  return out
end

-- ----------------------------------------------------------------- write

function M.save(path, value)
  if type(value) ~= "table" or gd.is_tensor(value) then
    error(fmt("gd.save: an .npz archive holds a table of named tensors, not a %s",
      gd.is_tensor(value) and "tensor (save it as .npy, or as {name = t})" or type(value)), 0)
  end
  local keys = {}
  for k, v in pairs(value) do
    if type(k) ~= "string" then
      error(fmt("gd.save: an .npz archive names its arrays with strings; key %s is a %s", tostring(k), type(k)), 0)
    end
    if k == "" or #k > 60000 then error(fmt("gd.save: the array name '%s' is empty or too long", k), 0) end
    if not gd.is_tensor(v) then
      error(fmt("gd.save: an .npz archive holds tensors only; '%s' is a %s", k, type(v)), 0)
    end
    if v.c.is_freed ~= 0 then error(fmt("gd.save: the tensor '%s' was released with free()", k), 0) end
    keys[#keys + 1] = k
  end
  table.sort(keys)   -- the same table gives the same bytes
  if #keys > 65534 then error(fmt("gd.save: %d arrays are more than an .npz without zip64 holds", #keys), 0) end
  ser.write_atomically("gd.save", path, function(w)
    local central, offset = {}, 0
    for _, k in ipairs(keys) do
      local t = value[k]
      if t.c.device_kind ~= 0 then t = t:to("cpu") end
      if t.c.is_contiguous == 0 then t = t:contiguous() end
      local header = ser.npy_header(t)
      local nbytes = t:numel() * (t.c.scalar_type == 0 and 4 or 8)
      local usize = #header + nbytes
      local name = k .. ".npy"
      if usize >= 0xFFFFFFFF or offset + usize + 30 + #name >= 0xFFFFFFFF then
        error(fmt("gd.save: '%s' would make the archive larger than 4 GB, which needs zip64 (not written)", k), 0)
      end
      local crc = C.gd_crc32(C.gd_crc32(0, header, #header), t.c.data, nbytes)
      -- version 2.0, no flags, stored, 1980-01-01 00:00 (a fixed date: the
      -- same arrays give the same bytes)
      local fields = "\20\0" .. "\0\0" .. "\0\0" .. "\0\0" .. le16(33) .. le32(crc) .. le32(usize) .. le32(usize)
      w:bytes(le32(SIG_LOCAL) .. fields .. le16(#name) .. le16(0) .. name)
      w:bytes(header)
      w:tensor_data(t)
      central[#central + 1] = le32(SIG_CENTRAL) .. "\20\0" .. fields .. le16(#name) .. le16(0) .. le16(0) ..
        le16(0) .. le16(0) .. le32(0) .. le32(offset) .. name
      offset = offset + 30 + #name + usize
    end
    local cd = table.concat(central)
    w:bytes(cd)
    w:bytes(le32(SIG_END) .. le16(0) .. le16(0) .. le16(#keys) .. le16(#keys) .. le32(#cd) .. le32(offset) .. le16(0))
  end)
end

return M
