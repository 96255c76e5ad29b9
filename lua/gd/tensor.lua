--- gd.tensor: the tensor type and its constructors (the core of `gd`).
--
-- Three layers, as PUC Lua's lua.h / lauxlib.h / one file per library:
--   gd.ffi             the binding: libgd loaded, its declarations (gd.cdef)
--   gd.aux             the helper layer: the tensor ctype, wrapping (ffi.gc),
--                      status -> error at the caller's line, argument checks
--   gd.tensor.*        the methods and gd.* functions, one file per group:
--                      constructors, runtime (threads, gd.cuda), indexing
--                      (fields, get/set, t[i], x[{...}]), views, arithmetic,
--                      reductions, linalg, printing
-- Each group adds its methods to A.Tensor (each documented where it is
-- defined, A.document), its metamethods to A.metatable, registers itself with
-- check.register_internal() (so that its errors land on the user's line), and
-- returns {gd = {name = function}} for the gd.* functions it defines.  This
-- file loads the groups, gives the ctype its metatable (once: LuaJIT refuses
-- changes afterwards) and returns the table that becomes `gd`.
--
-- A tensor is a small cdata struct holding a pointer to a C `gd_tensor`
-- (src/gd.h), which it owns through ffi.gc.  Every method is one FFI call into
-- libgd; C checks the arguments and returns a status, and a failure becomes a
-- Lua error "<method>: <what was wrong>" raised at the line of the caller.
-- `t:free()` releases a tensor's storage at once.
local A = require "gd.aux"
local doc = require "gd.doc"
local check = require "gd.check"

check.register_internal()

local gd = {}
local Tensor = A.Tensor    -- the methods; gd.Tensor, for completion and extension
gd.Tensor = Tensor
gd.dtypes = A.dtype_list

gd.is_tensor = doc(A.is_tensor, "gd.is_tensor", [[
gd.is_tensor(v) -> true when v is a gd tensor.]])

for _, group in ipairs {"constructors", "runtime", "indexing", "views", "arithmetic", "reductions", "linalg",
                        "printing"} do
  for name, f in pairs(require("gd.tensor." .. group).gd or {}) do
    assert(gd[name] == nil, name)
    gd[name] = f
  end
end

A.ffi.metatype(A.TensorCT, A.metatable)

--- gd.f(t, ...) for the methods that PyTorch also has as torch.f.
for _, name in ipairs {"log1p", "expm1", "softplus", "logsumexp", "cumsum", "diag", "diagonal", "dot", "outer"} do
  local method, fname = Tensor[name], "gd." .. name
  gd[name] = doc(function(t, ...)
    A.tc(fname, t, "argument 1")
    return method(t, ...)
  end, fname, string.format("%s(t, ...) -> t:%s(...).\n%s", fname, name, (doc.lookup(method))))
end

doc(Tensor, "gd.Tensor", [[
gd.Tensor: the tensor methods.  Fields: t.shape (a fresh table), t.dtype,
t.device, t.grad (nil or a tensor of the same shape, dtype and device;
assignable).  Methods: dim numel size stride get set item totable view
reshape t transpose permute narrow select expand unsqueeze squeeze
contiguous clone to add sub mul div pow sqrt exp log abs neg clamp matmul
sum mean max min argmax norm ..., and in place add_ sub_ mul_ div_ copy_
fill_ zero_ addcmul_ addcdiv_ clamp_ sqrt_ ...  Operators + - * / ^ % and
unary - broadcast like NumPy and promote dtypes like PyTorch.  t[i] is a
number on a 1-D tensor and a view (select) otherwise; #t is the first size.
t[{...}] is Torch7's indexing: x[{{}, 2}] (a column), x[{{1, 2}}] (rows 1..2),
x[{2, {1, 3}}], x[{{-2, -1}}] (from the end); x[{...}] = v fills or copies.
help(t.add) (or any method) shows its own documentation.]])

return gd
