--- gd.tensor.indexing: fields (t.shape, t.dtype, t.grad ...), element access
-- (get, set, item, totable, t[i]), Torch7's x[{...}] indexing, sizes,
-- free, equal, and the metamethods __index, __newindex, __len and __eq.
local A = require "gd.aux"
local tonumber, tostring, type, select = tonumber, tostring, type, select
local check = require "gd.check"
local floor = math.floor
local fmt = string.format
local ffi = A.ffi
local C = A.C
local Tensor = A.Tensor
local getters = A.getters
local out1 = A.out1
local dbl = A.dbl
local int_box = A.int_box
local ibuf = A.ibuf
local DTYPE_NAMES = A.DTYPE_NAMES
local DEVICE_NAMES = A.DEVICE_NAMES
local PTR = A.PTR
local INT64 = A.INT64
local grads = A.grads
local shape_of = A.shape_of
local wrap = A.wrap
local result = A.result
local is_tensor = A.is_tensor
local self_c = A.self_c
local describe = A.describe
local dim0 = A.dim0
local index0 = A.index0
local not_freed = A.not_freed
local int64_value = A.int64_value
local operand = A.operand
local argerr = A.argerr
local fail = A.fail
local keep_alive = A.keep_alive

check.register_internal()

-- ------------------------------------------------------------- fields

getters.shape = function(t) return shape_of(t.c) end
getters.dtype = function(t) return DTYPE_NAMES[t.c.scalar_type] end
getters.device = function(t) return DEVICE_NAMES[t.c.device_kind] end
getters.requires_grad = function(t) return t.c.requires_grad ~= 0 end
getters.is_leaf = function(t) return t.c.grad_node == 0 end
getters.grad = function(t)
  local c = t.c
  local gc = c.gradient
  if gc == nil then return nil end
  local uid = tonumber(c.uid)
  local g = grads[uid]
  if g == nil or g.c ~= gc then
    -- set in C (an optimizer, a kernel): give it a Lua object of its own
    C.gd_tensor_retain(gc)
    g = wrap(gc)
    grads[uid] = g
    C.gd_tensor_mark_lua_grad(c)   -- (so that its death is reported: gd_tensor_release_batch)
  end
  return g
end

local function set_grad(t, g)
  local c = t.c
  if g == nil then
    C.gd_tensor_set_grad(c, nil)
    grads[tonumber(c.uid)] = nil
    return
  end
  if not is_tensor(g) then argerr("grad", "must be a tensor or nil, got " .. type(g)) end
  if C.gd_tensor_set_grad(c, g.c) ~= 0 then fail("grad") end
  grads[tonumber(c.uid)] = g
  C.gd_tensor_mark_lua_grad(c)
end

-- ------------------------------------------------------ element access

function Tensor.get(t, i, j, ...)
  local fname = "get"
  local c = self_c(fname, t)
  not_freed(fname, c)
  local n = select("#", ...)
  local rank = c.rank
  local given = (i ~= nil and 1 or 0) + (j ~= nil and 1 or 0) + n
  if given ~= rank or (i == nil and rank > 0) or (j == nil and rank > 1) then
    argerr(fname, fmt("%d indices given for a %d-dimensional tensor", given, rank))
  end
  local off = 0
  if rank >= 1 then off = index0(fname, c, 0, i) * c.strides[0] end
  if rank >= 2 then off = off + index0(fname, c, 1, j) * c.strides[1] end
  for d = 2, rank - 1 do off = off + index0(fname, c, d, (select(d - 1, ...))) * c.strides[d] end
  if c.device_kind == 0 then
    local v = ffi.cast(PTR[c.scalar_type], c.data)[off]
    if c.scalar_type == INT64 then return tonumber(v) end
    return v
  end
  -- other devices: through C
  if rank >= 1 then ibuf[0] = index0(fname, c, 0, i) end
  if rank >= 2 then ibuf[1] = index0(fname, c, 1, j) end
  for d = 2, rank - 1 do ibuf[d] = index0(fname, c, d, (select(d - 1, ...))) end
  if C.gd_get(c, ibuf, dbl) ~= 0 then fail(fname) end
  return dbl[0]
end
A.document("get", "t:get(i, j, ...) -> the element at 1-based indices (negative ones count from the end).")

function Tensor.set(t, ...)
  local fname = "set"
  local c = self_c(fname, t)
  not_freed(fname, c)
  local n = select("#", ...)
  local rank = c.rank
  if n == 0 then argerr(fname, "expects the indices, then the value") end
  if n ~= rank + 1 then
    argerr(fname, fmt("%d indices given for a %d-dimensional tensor (set takes the indices, then the value)",
      n - 1, rank))
  end
  local value = select(n, ...)
  if type(value) == "boolean" then value = value and 1 or 0 end
  if type(value) ~= "number" then argerr(fname, "the value must be a number, got " .. type(value)) end
  local i, j = ...
  local off = 0
  if rank >= 1 then off = index0(fname, c, 0, i) * c.strides[0] end
  if rank >= 2 then off = off + index0(fname, c, 1, j) * c.strides[1] end
  for d = 2, rank - 1 do off = off + index0(fname, c, d, (select(d + 1, ...))) * c.strides[d] end
  local st = c.scalar_type
  if st == INT64 then int64_value(fname, value) end
  if c.device_kind == 0 then
    C.gd_tensor_bump_version(c) -- (what autograd checks saved tensors against)
    ffi.cast(PTR[st], c.data)[off] = value
    return t
  end
  for d = 0, rank - 1 do ibuf[d] = index0(fname, c, d, (select(d + 1, ...))) end
  if C.gd_set(c, ibuf, value) ~= 0 then fail(fname) end
  return t
end
A.document("set", "t:set(i, j, ..., value) -> t, with that element set (booleans store 1/0).")

function Tensor.item(t)
  local c = self_c("item", t)
  not_freed("item", c)
  if c.count ~= 1 then
    argerr("item", fmt("the tensor has %d elements; item() needs exactly one", tonumber(c.count)))
  end
  for d = 0, c.rank - 1 do ibuf[d] = 0 end
  if C.gd_get(c, ibuf, dbl) ~= 0 then fail("item") end
  return dbl[0]
end
A.document("item", "t:item() -> the number in a one-element tensor.")

--- t itself when it is a contiguous CPU tensor, else a contiguous CPU copy.
local function cpu_contiguous(t, fname)
  local c = t.c
  if c.device_kind == 0 and c.is_contiguous ~= 0 then return t end
  local r = result(C.gd_to(out1, c, -1, 0), fname)
  return result(C.gd_contiguous(out1, r.c), fname)
end

function Tensor.totable(t)
  local c0 = self_c("totable", t)
  not_freed("totable", c0)
  local src = cpu_contiguous(t, "totable")
  local c = src.c
  local ptr = ffi.cast(PTR[c.scalar_type], c.data)
  local rank = c.rank
  local int = c.scalar_type == INT64
  if rank == 0 then local v = ptr[0]; return int and tonumber(v) or v end
  local pos = 0
  local function build(d)
    local n = tonumber(c.sizes[d])
    local r = {}
    if d == rank - 1 then
      for i = 1, n do
        local v = ptr[pos]
        r[i] = int and tonumber(v) or v
        pos = pos + 1
      end
    else
      for i = 1, n do r[i] = build(d + 1) end
    end
    return r
  end
  local r = build(0)
  -- src read after ptr's last use: for a tensor on another device or
  -- strided, src is a fresh copy that nothing else holds, and a compiled
  -- trace drops a local that is not read again (the collections that the
  -- tables built above run would release its storage under ptr)
  keep_alive(src)
  return r
end
A.document("totable", "t:totable() -> nested Lua tables of the values (a number for a 0-d tensor).")

-- --------------------------------------------------------- misc methods

function Tensor.dim(t) return self_c("dim", t).rank end
A.document("dim", "t:dim() -> the number of dimensions.")
function Tensor.nDimension(t) return self_c("nDimension", t).rank end
A.document("nDimension", "t:nDimension() -> t:dim() (Torch7's name).")
function Tensor.numel(t) return tonumber(self_c("numel", t).count) end
A.document("numel", "t:numel() -> the number of elements.")
function Tensor.nElement(t) return tonumber(self_c("nElement", t).count) end
A.document("nElement", "t:nElement() -> t:numel() (Torch7's name).")
function Tensor.size(t, d)
  local c = self_c("size", t)
  if d == nil then return getters.shape(t) end
  return tonumber(c.sizes[dim0("size", c, d)])
end
A.document("size", "t:size([dim]) -> the size of dimension dim, or the shape as a table.")
function Tensor.stride(t, d)
  local c = self_c("stride", t)
  if d == nil then
    local s = {}
    for i = 0, c.rank - 1 do s[i + 1] = tonumber(c.strides[i]) end
    return s
  end
  return tonumber(c.strides[dim0("stride", c, d)])
end
A.document("stride", "t:stride([dim]) -> the stride (in elements) of dimension dim, or all of them as a table.")

--- Releases the tensor's storage now instead of at garbage collection; the
-- tensor becomes empty, and using it afterwards is an error (never a crash).
-- Views of it keep the storage alive until they go too.
function Tensor.free(t)
  local c = self_c("free", t)
  grads[tonumber(c.uid)] = nil
  C.gd_tensor_free_data(c)
end
A.document("free", "t:free() -> releases the storage now; the tensor becomes empty and using it is an error.")
function Tensor.is_freed(t) return self_c("is_freed", t).is_freed ~= 0 end
A.document("is_freed", "t:is_freed() -> true after t:free().")

function Tensor.type(t) return DTYPE_NAMES[self_c("type", t).scalar_type] end
A.document("type", "t:type() -> the dtype name.")
function Tensor.is_cuda(t) return self_c("is_cuda", t).device_kind == 1 end
A.document("is_cuda", "t:is_cuda() -> true for a tensor on the GPU.")
function Tensor.equal(t, other)
  local a = self_c("equal", t)
  if not is_tensor(other) then return false end
  local b = other.c
  if a.rank ~= b.rank then return false end
  for d = 0, a.rank - 1 do if a.sizes[d] ~= b.sizes[d] then return false end end
  if C.gd_allclose(a, b, 0, 0, int_box) ~= 0 then fail("equal") end
  return int_box[0] ~= 0
end
A.document("equal", "t:equal(other) -> true when other is a tensor of the same shape and values (NaN is unequal).")

-- -------------------------------------------- Torch7's table indexing

--- One entry of x[{...}] applied to dimension d of c: a number selects (the
-- dimension goes), {} takes all, {a} is a..a and {a, b} is a..b inclusive
-- (negative from the end), as Torch7's __index__.  Returns the view and the
-- next dimension.
local function index_entry(fname, c, d, e, i)
  if type(e) == "number" then
    return result(C.gd_select(out1, c, d, index0(fname, c, d, e)), fname), d
  end
  if type(e) ~= "table" then
    argerr(fname, fmt("entry %d must be a number, {} or a range {first, last}, got %s", i, describe(e)))
  end
  if e[3] ~= nil then argerr(fname, fmt("entry %d has more than two numbers; a range is {first, last}", i)) end
  local size = tonumber(c.sizes[d])
  local a, b = e[1], e[2]
  if a == nil and b == nil then return result(C.gd_narrow(out1, c, d, 0, size), fname), d + 1 end
  if b == nil then b = a end
  a = a or 1
  if type(a) ~= "number" or a ~= floor(a) then
    argerr(fname, fmt("entry %d: range bound %s is not an integer", i, describe(a)))
  end
  if type(b) ~= "number" or b ~= floor(b) then
    argerr(fname, fmt("entry %d: range bound %s is not an integer", i, describe(b)))
  end
  local first, last = a < 0 and a + size + 1 or a, b < 0 and b + size + 1 or b
  if first < 1 or first > size or last < 1 or last > size then
    argerr(fname, fmt("entry %d: range {%s, %s} is out of range for dimension %d of size %d", i, describe(a),
      describe(b), d + 1, size))
  end
  if last < first then
    argerr(fname, fmt("entry %d: range {%s, %s} ends before it starts", i, describe(a), describe(b)))
  end
  return result(C.gd_narrow(out1, c, d, first - 1, last - first + 1), fname), d + 1
end

--- x[{...}]: a view, or nil and true when every dimension is selected by a
-- number (the element itself is then read or written by get/set).
local function index_table(fname, t, idx)
  local c = t.c
  local n = #idx
  if n > c.rank then
    argerr(fname, fmt("%d entries given for a %d-dimensional tensor", n, c.rank))
  end
  local all_numbers = n == c.rank and n > 0
  for i = 1, n do
    if type(idx[i]) ~= "number" then all_numbers = false; break end
  end
  if all_numbers then
    for i = 1, n do index0(fname, c, i - 1, idx[i]) end -- (out-of-range errors name the indexing)
    return nil, true
  end
  if n == 0 then return result(C.gd_view(out1, c, c.rank, c.sizes), fname) end
  local v, d = t, 0
  for i = 1, n do v, d = index_entry(fname, v.c, d, idx[i], i) end
  return v
end

local function table_get(t, idx)
  local v, element = index_table("index", t, idx)
  if element then return t:get(unpack(idx, 1, #idx)) end
  return v
end

--- x[{...}] = v: a number (or boolean) fills, a tensor or table is copied in
-- (broadcast; or, as Torch7, element by element when only the counts agree).
local function table_set(t, idx, v)
  local fname = "index"
  local view, element = index_table(fname, t, idx)
  if element then
    local n = #idx
    if n == 1 then t:set(idx[1], v) elseif n == 2 then t:set(idx[1], idx[2], v)
    else
      local args = {unpack(idx, 1, n)}
      args[n + 1] = v
      t:set(unpack(args, 1, n + 1))
    end
    return
  end
  if type(v) == "number" or type(v) == "boolean" then view:fill_(v); return end
  if type(v) == "table" and not is_tensor(v) then v = operand(fname, v, view.c) end
  if not is_tensor(v) then
    argerr(fname, fmt("cannot assign %s to a tensor slice (a number, a tensor or a table of numbers is expected)",
      describe(v)))
  end
  local vc, sc = view.c, v.c
  if vc.rank ~= sc.rank and vc.count == sc.count then
    v = result(C.gd_reshape(out1, sc, vc.rank, vc.sizes), fname)
  end
  if C.gd_copy(vc, v.c) ~= 0 then fail(fname) end
end

-- ------------------------------------------------------------ metatype

--- The number in a one-element tensor (or v itself), for < and <=.
local function scalar_value(op, v)
  if type(v) == "number" then return v end
  if is_tensor(v) and v.c.count == 1 then return v:item() end
  argerr(op, "compares numbers and one-element tensors only (use lt/le/gt/ge for element-wise comparisons)")
end

--- t[i]: a number on a 1-D tensor (a 0-d tensor when t requires grad, so that
-- the expression stays differentiable), else the view select(1, i).
local function index_number(t, i)
  local c = t.c
  if c.rank == 1 and (c.requires_grad == 0 or C.gd_grad_enabled() == 0) then return t:get(i) end
  if c.rank == 0 then argerr("index", "a 0-d tensor cannot be indexed (use item())") end
  return result(C.gd_select(out1, c, 0, index0("index", c, 0, i)), "index")
end

local mt = A.metatable

-- methods first (the hot path: t:add_(x) is one table lookup), then fields
mt.__index = function(t, k)
  local m = Tensor[k]
  if m ~= nil then return m end
  local g = getters[k]
  if g then return g(t) end
  if type(k) == "number" then return index_number(t, k) end
  if type(k) == "table" then return table_get(t, k) end
  if type(k) ~= "string" then
    argerr("index", fmt("cannot index a tensor with %s (use a number, a table such as {{}, 2}, or "
      .. "index_select)", describe(k)))
  end
  return nil
end

mt.__newindex = function(t, k, v)
  if k == "grad" then return set_grad(t, v) end
  if k == "requires_grad" then
    if type(v) ~= "boolean" then argerr("requires_grad", "must be a boolean, got " .. describe(v)) end
    if C.gd_set_requires_grad(t.c, v and 1 or 0) ~= 0 then fail("requires_grad") end
    return
  end
  if type(k) == "number" then
    local c = t.c
    if c.rank == 1 then t:set(k, v); return end
    local row = index_number(t, k)
    if type(v) == "number" or type(v) == "boolean" then row:fill_(v) else row:copy_(v) end
    return
  end
  if type(k) == "table" then return table_set(t, k, v) end
  argerr("tensor", fmt("cannot set field '%s' (tensors have no user fields; only grad is assignable)",
    tostring(k)))
end

mt.__len = function(t)
  local c = t.c
  if c.rank == 0 then argerr("#", "a 0-d tensor has no length") end
  return tonumber(c.sizes[0])
end

mt.__eq = function(a, b)
  return is_tensor(a) and is_tensor(b) and a.c == b.c
end

-- 0-d tensors (a loss that requires grad) compare and concatenate like numbers
mt.__lt = function(a, b) return scalar_value("<", a) < scalar_value("<", b) end
mt.__le = function(a, b) return scalar_value("<=", a) <= scalar_value("<=", b) end
mt.__concat = function(a, b)
  return (is_tensor(a) and tostring(a) or a) .. (is_tensor(b) and tostring(b) or b)
end

return {}
