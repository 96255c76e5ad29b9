--- gd.tensor.printing: tostring(t), Torch7/NumPy style.
local A = require "gd.aux"
local tonumber, tostring, type, select = tonumber, tostring, type, select
local check = require "gd.check"
local huge = math.huge
local abs = math.abs
local fmt = string.format
local ffi = A.ffi
local C = A.C
local Tensor = A.Tensor
local shape_of = A.shape_of
local out1 = A.out1
local DTYPE_NAMES = A.DTYPE_NAMES
local DEVICE_NAMES = A.DEVICE_NAMES
local PTR = A.PTR
local INT64 = A.INT64
local result = A.result
local self_c = A.self_c
local keep_alive = A.keep_alive

check.register_internal()

-- -------------------------------------------------------------- printing

--- Torch7/NumPy-style printout: the values, then "[float32 tensor, cpu, 2x3]".
-- Matrices print as rows, 1-D tensors as a column (Torch7's way), higher
-- ranks as 2-D slices headed "(i,j,.,.) =".  Past 1000 elements only three
-- entries at each end of every dimension are shown.  One format serves every
-- printed value: fixed point with 4 decimals, or %.4e when some are >= 1e6 or
-- all are tiny; int64 values print exactly.
local function tensor_tostring(t)
  local c = t.c
  if c == nil then return "[freed tensor]" end
  if c.is_freed ~= 0 then return "[tensor released with free()]" end
  local dtype, device = DTYPE_NAMES[c.scalar_type], DEVICE_NAMES[c.device_kind]
  local shape = shape_of(c)
  local desc = fmt("[%s tensor, %s, %s]", dtype, device, #shape == 0 and "scalar" or table.concat(shape, "x"))
  local n = tonumber(c.count)
  if n == 0 then return "[empty " .. desc:sub(2) end -- "[empty float32 tensor, cpu, 0x3]"
  -- a CPU tensor is read where it lies (through its strides: an expanded
  -- view of 2^40 elements prints without being copied); others are copied
  local src = t
  if c.device_kind ~= 0 then src = result(C.gd_to(out1, c, -1, 0), "tostring") end
  local sc = src.c
  local ptr = ffi.cast(PTR[sc.scalar_type], sc.data)
  local int = sc.scalar_type == INT64
  local rank = sc.rank
  local summarise = n > 1000
  local edge = 3
  local strides = {}
  for d = 0, rank - 1 do strides[d] = tonumber(sc.strides[d]) end
  local function indices(d)
    local size = tonumber(sc.sizes[d])
    local list = {}
    if summarise and size > 2 * edge then
      for i = 0, edge - 1 do list[#list + 1] = i end
      list[#list + 1] = false
      for i = size - edge, size - 1 do list[#list + 1] = i end
    else
      for i = 0, size - 1 do list[#list + 1] = i end
    end
    return list
  end
  -- the offsets that will be printed, to choose one format for all of them
  local shown = {}
  local function visit(d, off)
    if d == rank then shown[#shown + 1] = off; return end
    for _, i in ipairs(indices(d)) do if i then visit(d + 1, off + i * strides[d]) end end
  end
  visit(0, 0)
  local maxabs = 0
  for _, off in ipairs(shown) do
    local v = tonumber(ptr[off])
    if v == v and v ~= huge and v ~= -huge and abs(v) > maxabs then maxabs = abs(v) end
  end
  local sci = not int and (maxabs >= 1e6 or (maxabs > 0 and maxabs < 1e-3))
  local function format_value(off)
    local v = ptr[off]
    if int then return (tostring(v):gsub("LL$", "")) end
    if v ~= v then return "nan" end
    if v == huge then return "inf" elseif v == -huge then return "-inf" end
    return fmt(sci and "%.4e" or "%.4f", v)
  end
  local width, cells = 1, {}
  for _, off in ipairs(shown) do
    local s = format_value(off)
    cells[off] = s
    if #s > width then width = #s end
  end
  -- a 0-d tensor in a differentiable expression (a loss) prints like the number it holds
  local number = rank == 0 and c.requires_grad ~= 0 and tonumber(ptr[0]) or nil
  -- src read after ptr's last use: for a tensor on another device it is a
  -- fresh copy that nothing else holds, and a compiled trace drops a local
  -- that is not read again (the strings made above can run the collections
  -- that would release its storage under ptr)
  keep_alive(src)
  local cellfmt = "%" .. width .. "s"
  if rank == 0 then
    if number then return tostring(number) end
    return cells[0] .. "\n" .. desc
  end
  local lines = {}
  local function row(off)
    local parts = {}
    for _, j in ipairs(indices(rank - 1)) do
      parts[#parts + 1] = j and fmt(cellfmt, cells[off + j * strides[rank - 1]]) or "..."
    end
    return " " .. table.concat(parts, " ")
  end
  local function matrix(off)
    if rank == 1 then
      for _, i in ipairs(indices(0)) do
        lines[#lines + 1] = i and " " .. fmt(cellfmt, cells[off + i * strides[0]]) or " ..."
      end
      return
    end
    for _, i in ipairs(indices(rank - 2)) do
      lines[#lines + 1] = i and row(off + i * strides[rank - 2]) or " ..."
    end
  end
  local function slices(d, off, prefix)
    if d == rank - 2 or rank <= 2 then
      if rank > 2 then lines[#lines + 1] = "(" .. prefix .. ",.,.) = " end
      matrix(off)
      if rank > 2 then lines[#lines + 1] = "" end
      return
    end
    for _, i in ipairs(indices(d)) do
      if i then slices(d + 1, off + i * strides[d], prefix == "" and tostring(i + 1) or prefix .. "," .. (i + 1))
      else lines[#lines + 1] = "(...)"; lines[#lines + 1] = "" end
    end
  end
  slices(0, 0, "")
  lines[#lines + 1] = desc
  return table.concat(lines, "\n")
end
function Tensor.tostring(t)
  self_c("tostring", t)
  return tensor_tostring(t)
end
A.document("tostring", "t:tostring() -> tostring(t): the values, then dtype, device and shape.")

A.metatable.__tostring = tensor_tostring

return {}
