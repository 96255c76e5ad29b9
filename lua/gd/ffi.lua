--- gd.ffi: loads libgd and its FFI declarations.
--
-- Inside the gdlua host, libgd is linked into the process and its symbols are
-- reached through ffi.C.  From plain luajit (LUA_PATH pointing at lua/), the
-- library is opened from $GD_LIB, or from build/lib next to this package (the
-- source tree), or from lib/ of an installed prefix.
local ffi = require "ffi"

ffi.cdef(require "gd.cdef")

local function here()
  local src = debug.getinfo(1, "S").source
  if src:sub(1, 1) ~= "@" then return nil end
  return src:sub(2):match("^(.*)/[^/]*$") or "."
end

local function open_library()
  if pcall(function() return ffi.C.gd_version end) then return ffi.C end
  local candidates = {}
  local env = os.getenv("GD_LIB")
  if env and env ~= "" then candidates[#candidates + 1] = env end
  local dir = here()
  if dir then
    candidates[#candidates + 1] = dir .. "/../../build/lib/libgd.so"       -- source tree: lua/gd
    candidates[#candidates + 1] = dir .. "/../../../../lib/libgd.so"       -- prefix/share/gdlua/lua/gd
  end
  local errors = {}
  for _, path in ipairs(candidates) do
    local ok, lib = pcall(ffi.load, path)
    if ok then
      -- Pin the library (RTLD_NODELETE): at exit, lua_close may unload the
      -- namespace before the finalizers of the last tensors call into it.
      ffi.cdef "void *dlopen(const char *file, int mode);"
      ffi.C.dlopen(path, 0x00001 + 0x01000) -- RTLD_LAZY | RTLD_NODELETE
      return lib
    end
    errors[#errors + 1] = "  " .. tostring(lib)
  end
  error("gd: cannot find libgd.so (run `make`, or set GD_LIB):\n" .. table.concat(errors, "\n"), 0)
end

return {ffi = ffi, C = open_library()}
