--- gd.tensor.views: views (view, reshape, transpose, narrow, select, expand,
-- diagonal ...), conversion (to, float, cpu ...), set_, index_select, cat and
-- stack.
local A = require "gd.aux"
local tonumber, tostring, type, select = tonumber, tostring, type, select
local floor = math.floor
local abs = math.abs
local fmt = string.format
local doc = require "gd.doc"
local check = require "gd.check"
local ffi = A.ffi
local C = A.C
local Tensor = A.Tensor
local out1 = A.out1
local sbuf = A.sbuf
local tbuf = A.tbuf
local dims_buf = A.dims_buf
local DTYPES = A.DTYPES
local DEVICES = A.DEVICES
local INT64 = A.INT64
local OP = A.OP
local MAX_SIZE = A.MAX_SIZE
local result = A.result
local is_tensor = A.is_tensor
local self_c = A.self_c
local tc = A.tc
local dtype_arg = A.dtype_arg
local device_arg = A.device_arg
local new_empty = A.new_empty
local sizes_from = A.sizes_from
local dim0 = A.dim0
local index0 = A.index0
local from_data = A.from_data
local argerr = A.argerr
local fail = A.fail

check.register_internal()

local gd = {}

-- -------------------------------------------------------------- views

--- A method taking sizes (n, m, ...) or ({n, m, ...}) for a C view function
-- f(out, t, rank, sizes): view, reshape, expand.
local function sized_view(name, f)
  return function(t, ...)
    local c = self_c(name, t)
    local n = sizes_from(name, ...)
    return result(f(out1, c, n, sbuf), name)
  end
end

--- A method taking another tensor's shape for the same kind of C function.
local function shaped_like(name, f)
  return function(t, other)
    local c = self_c(name, t)
    local o = tc(name, other, "argument 1")
    return result(f(out1, c, o.rank, o.sizes), name)
  end
end

Tensor.view = sized_view("view", C.gd_view)
A.document("view", "t:view(size...) -> a view with another shape sharing t's storage (one size may be -1); an error "
  .. "when t's strides do not allow it (see reshape).")
Tensor.reshape = sized_view("reshape", C.gd_reshape)
A.document("reshape", "t:reshape(size...) -> like view, but copies when the strides do not allow a view.")
Tensor.expand = sized_view("expand", C.gd_expand)
A.document("expand", "t:expand(size...) -> a view broadcasting size-1 dimensions to the sizes given (-1 keeps one); "
  .. "read-only: in-place writes into it are refused.")
Tensor.view_as = shaped_like("view_as", C.gd_view)
A.document("view_as", "t:view_as(other) -> t:view(other's shape).")
Tensor.expand_as = shaped_like("expand_as", C.gd_expand)
A.document("expand_as", "t:expand_as(other) -> t:expand(other's shape).")

function Tensor.flatten(t)
  local c = self_c("flatten", t)
  sbuf[0] = -1
  return result(C.gd_reshape(out1, c, 1, sbuf), "flatten")
end
A.document("flatten", "t:flatten() -> a 1-D view (or copy) of all elements in C order.")

function Tensor.transpose(t, d1, d2)
  local c = self_c("transpose", t)
  return result(C.gd_transpose(out1, c, dim0("transpose", c, d1), dim0("transpose", c, d2)), "transpose")
end
A.document("transpose", "t:transpose(d1, d2) -> a view with dimensions d1 and d2 swapped.")

function Tensor.t(t)
  local c = self_c("t", t)
  if c.rank > 2 then argerr("t", fmt("expects a tensor with at most 2 dimensions, got %d", c.rank)) end
  if c.rank < 2 then return result(C.gd_view(out1, c, c.rank, c.sizes), "t") end
  return result(C.gd_transpose(out1, c, 0, 1), "t")
end
A.document("t",
  "t:t() -> the transpose of a 2-D tensor (a view); 0-D and 1-D tensors come back as views of themselves.")

function Tensor.permute(t, a, ...)
  local c = self_c("permute", t)
  local dims = type(a) == "table" and a or {a, ...}
  if #dims ~= c.rank then
    argerr("permute", fmt("%d dimensions given for a tensor with %d", #dims, c.rank))
  end
  for i = 1, #dims do dims_buf[i - 1] = dim0("permute", c, dims[i]) end
  return result(C.gd_permute(out1, c, #dims, dims_buf), "permute")
end
A.document("permute", "t:permute(d1, d2, ...) -> a view with the dimensions in that order (a table works too).")

function Tensor.narrow(t, dim, start, len)
  local c = self_c("narrow", t)
  local d = dim0("narrow", c, dim)
  check.number("narrow", "start", start, {integer = true})
  check.number("narrow", "length", len, {integer = true, min = 0, max = MAX_SIZE})
  local size = tonumber(c.sizes[d])
  if start < 0 then start = start + size + 1 end
  if start < 1 or start - 1 + len > size then
    argerr("narrow", fmt("elements %s to %s are out of range for dimension %d of size %d", tostring(start),
      tostring(start + len - 1), d + 1, size))
  end
  return result(C.gd_narrow(out1, c, d, start - 1, len), "narrow")
end
A.document("narrow", "t:narrow(dim, start, length) -> a view of `length` entries from 1-based start along dim.")

function Tensor.select(t, dim, index)
  local c = self_c("select", t)
  local d = dim0("select", c, dim)
  return result(C.gd_select(out1, c, d, index0("select", c, d, index)), "select")
end
A.document("select", "t:select(dim, index) -> a view with dimension dim fixed at index (one dimension fewer).")

function Tensor.unsqueeze(t, dim)
  local c = self_c("unsqueeze", t)
  return result(C.gd_unsqueeze(out1, c, dim0("unsqueeze", c, dim, 1)), "unsqueeze")
end
A.document("unsqueeze", "t:unsqueeze(dim) -> a view with a size-1 dimension inserted at dim (1 .. t:dim()+1).")

function Tensor.squeeze(t, dim)
  local c = self_c("squeeze", t)
  return result(C.gd_squeeze(out1, c, dim == nil and -1 or dim0("squeeze", c, dim)), "squeeze")
end
A.document("squeeze", "t:squeeze([dim]) -> a view without size-1 dimensions (or only dim, if it has size 1).")

function Tensor.contiguous(t) return result(C.gd_contiguous(out1, self_c("contiguous", t)), "contiguous") end
A.document("contiguous", "t:contiguous() -> t's values in C order: a view when already contiguous, else a copy.")
function Tensor.clone(t) return result(C.gd_clone(out1, self_c("clone", t)), "clone") end
A.document("clone", "t:clone() -> a contiguous copy.")
function Tensor.is_contiguous(t) return self_c("is_contiguous", t).is_contiguous ~= 0 end
A.document("is_contiguous", "t:is_contiguous() -> true when t's elements are dense in C order.")

local TO_OPTS = {dtype = true, device = true}
function Tensor.to(t, x)
  local fname = "to"
  local c = self_c(fname, t)
  local dtype, device = -1, -1
  if type(x) == "string" then
    if DTYPES[x] then dtype = DTYPES[x]
    elseif DEVICES[x] then device = DEVICES[x]
    else
      local s = check.suggest(x, {"float32", "float64", "int64", "cpu", "cuda"})
      argerr(fname, fmt("unknown dtype or device '%s'%s; valid: float32, float64, int64, cpu, cuda", x,
        s and fmt(" (did you mean '%s'?)", s) or ""))
    end
  elseif is_tensor(x) then
    dtype, device = x.c.scalar_type, x.c.device_kind
  elseif type(x) == "table" then
    check.options(fname, x, TO_OPTS)
    dtype = dtype_arg(fname, x.dtype, -1)
    device = device_arg(fname, x.device, -1)
  else
    argerr(fname, "expects a dtype, a device, an options table or a tensor, got " .. type(x))
  end
  return result(C.gd_to(out1, c, dtype, device), fname)
end
A.document("to", "t:to(x) -> t in another dtype/device: x = \"float64\", \"cuda\", {dtype =, device =} or a tensor "
  .. "(its dtype and device).  A view of t when nothing changes, else a copy.")
function Tensor.float(t) return result(C.gd_to(out1, self_c("float", t), 0, -1), "float") end
A.document("float", "t:float() -> t:to(\"float32\").")
function Tensor.double(t) return result(C.gd_to(out1, self_c("double", t), 1, -1), "double") end
A.document("double", "t:double() -> t:to(\"float64\").")
function Tensor.long(t) return result(C.gd_to(out1, self_c("long", t), 2, -1), "long") end
A.document("long", "t:long() -> t:to(\"int64\") (floats truncate toward zero; NaN and infinities are an error).")
function Tensor.cpu(t) return result(C.gd_to(out1, self_c("cpu", t), -1, 0), "cpu") end
A.document("cpu", "t:cpu() -> t:to(\"cpu\").")
function Tensor.cuda(t) return result(C.gd_to(out1, self_c("cuda", t), -1, 1), "cuda") end
A.document("cuda", "t:cuda() -> t:to(\"cuda\") (an error without a GPU).")

--- Torch7's set_: makes t a view of src's storage (offset 1-based, in elements).
function Tensor.set_(t, src, offset, sizes, strides)
  local fname = "set_"
  local c = self_c(fname, t)
  local s = tc(fname, src, "argument 1 (source)")
  offset = offset or 1
  check.number(fname, "offset", offset, {integer = true, min = 1, max = MAX_SIZE})
  local rank
  if sizes == nil then
    rank = s.rank
    for d = 0, rank - 1 do sbuf[d] = s.sizes[d]; tbuf[d] = s.strides[d] end
  else
    rank = sizes_from(fname, sizes)
    for d = 0, rank - 1 do if sbuf[d] < 0 then argerr(fname, "sizes must not be negative") end end
    if strides ~= nil then
      if type(strides) ~= "table" or #strides ~= rank then
        argerr(fname, fmt("strides must be a table of %d numbers", rank))
      end
      for d = 0, rank - 1 do
        local v = strides[d + 1]
        if type(v) ~= "number" or v ~= floor(v) or v < 0 or v > MAX_SIZE then
          argerr(fname, fmt("stride %s of dimension %d is not a whole number from 0 to 2^53", tostring(v), d + 1))
        end
        tbuf[d] = v
      end
    else
      local acc = 1
      for d = rank - 1, 0, -1 do tbuf[d] = acc; acc = acc * tonumber(sbuf[d]) end
    end
  end
  if C.gd_set_storage(c, s, offset - 1, rank, sbuf, tbuf) ~= 0 then fail(fname) end
  return t
end
A.document("set_",
  "t:set_(src, [offset = 1], [sizes], [strides]) -> t, made a view of src's storage (Torch7's set_).")

function Tensor.storage_offset(t) return tonumber(self_c("storage_offset", t).storage_offset) + 1 end
A.document("storage_offset", "t:storage_offset() -> 1-based position of t's first element in its storage.")
function Tensor.is_same_storage(t, other)
  return C.gd_same_storage(self_c("is_same_storage", t), tc("is_same_storage", other, "argument 1")) ~= 0
end
A.document("is_same_storage", "t:is_same_storage(other) -> true when t and other share one storage.")

function Tensor.index_select(t, dim, index)
  local fname = "index_select"
  local c = self_c(fname, t)
  local d = dim0(fname, c, dim)
  if type(index) == "table" and not is_tensor(index) then index = from_data(fname, index, INT64, false) end
  local ix = tc(fname, index, "index")
  -- 1-based indices to 0-based
  local z = result(C.gd_binary_scalar(out1, ix, 1, OP.sub, 0), fname)
  return result(C.gd_index_select(out1, c, d, z.c), fname)
end
A.document("index_select",
  "t:index_select(dim, index) -> a copy of the entries at 1-based indices (a table or int64 tensor).")

gd.cat = doc(function(list, dim)
  local fname = "gd.cat"
  if type(list) ~= "table" or #list == 0 then argerr(fname, "expects a non-empty table of tensors") end
  local arr = ffi.new("gd_tensor*[?]", #list)
  for i = 1, #list do arr[i - 1] = tc(fname, list[i], "element " .. i) end
  if dim == nil then dim = 1 end
  local d = dim0(fname, arr[0], dim)
  return result(C.gd_cat(out1, arr, #list, d), fname)
end, "gd.cat", [[
gd.cat({t1, t2, ...}, [dim = 1]) -> the tensors joined along dim (their other
sizes must match; the dtype is promoted as for arithmetic).]])

gd.stack = doc(function(list, dim)
  local fname = "gd.stack"
  if type(list) ~= "table" or #list == 0 then argerr(fname, "expects a non-empty table of tensors") end
  if dim == nil then dim = 1 end
  local parts = {}
  local first
  for i = 1, #list do
    local c = tc(fname, list[i], "element " .. i)
    -- one shape for all (gd.cat's message would name cat and the unsqueezed shapes)
    local shape = table.concat(list[i].shape, "x")
    first = first or shape
    if shape ~= first then
      argerr(fname, fmt("tensor %d has shape %s but tensor 1 has %s (stack needs one shape)", i, shape, first))
    end
    parts[i] = result(C.gd_unsqueeze(out1, c, dim0(fname, c, dim, 1)), fname)
  end
  return gd.cat(parts, dim)
end, "gd.stack", "gd.stack({t1, t2, ...}, [dim = 1]) -> the tensors (of one shape) stacked along a new dimension.")

--- A diagonal's offset: a whole number (0 is the main diagonal).
local function offset_arg(fname, k)
  return check.number(fname, "diagonal", k, {default = 0, integer = true, min = -MAX_SIZE, max = MAX_SIZE})
end
function Tensor.diagonal(t, k)
  local c = self_c("diagonal", t)
  return result(C.gd_diagonal(out1, c, offset_arg("diagonal", k)), "diagonal")
end
A.document("diagonal", [[
t:diagonal([k = 0]) -> the k-th diagonal of a 2-D tensor as a 1-D view
(writes go to t): k > 0 above the main diagonal, k < 0 below; empty when k
is out of range.]])

local function diag(fname, c, k)
  k = offset_arg(fname, k)
  if c.rank == 1 then
    local n = tonumber(c.sizes[0]) + abs(k)
    sbuf[0], sbuf[1] = n, n
    local r = new_empty(fname, 2, c.scalar_type, c.device_kind)
    if C.gd_fill(r.c, 0) ~= 0 then fail(fname) end
    local dg = result(C.gd_diagonal(out1, r.c, k), fname)
    if C.gd_copy(dg.c, c) ~= 0 then fail(fname) end
    return r
  elseif c.rank == 2 then
    local dg = result(C.gd_diagonal(out1, c, k), fname)
    return result(C.gd_clone(out1, dg.c), fname)
  end
  argerr(fname, fmt("expects a 1-D or 2-D tensor, got %d dimension%s", c.rank, c.rank == 1 and "" or "s"))
end
function Tensor.diag(t, k) return diag("diag", self_c("diag", t), k) end
A.document("diag", [[
t:diag([k = 0]) -> torch.diag: of a 1-D tensor of n values, the square
matrix (n + |k| wide) with them on its k-th diagonal and zeros elsewhere; of
a 2-D tensor, a copy of its k-th diagonal (k > 0 above the main one).]])

return {gd = gd}
