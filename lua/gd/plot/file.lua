--- gd.plot.file: writing pictures.  The format follows the file name: ".svg"
-- (or anything else) is the SVG text itself; ".png" and ".pdf" are that same
-- SVG rendered by librsvg onto a cairo surface, so that the three always agree.
--
-- Every file is written as gd.save writes checkpoints (gd.serialize's
-- write_atomically over the C writer gd_writer_*: a temporary file, every
-- write checked, fsync, rename): a full disk or a failed render is an error
-- and leaves the old file as it was, never a truncated picture.  Missing
-- directories are made with mkdir(2) through the FFI, not a shell.
local ffi = require "ffi"
local check = require "gd.check"
check.register_internal()

local M = {}
local fmt = string.format

ffi.cdef [[
int gd_plot_mkdir(const char *path, uint32_t mode) __asm__("mkdir");
char *gd_plot_strerror(int errnum) __asm__("strerror");
]]
local EEXIST = 17

--- Creates directory `dir` and its missing parents (mode 0777 less the umask,
-- as mkdir -p).  Raises "<fname>: cannot create directory 'd': why".
function M.mkdirs(fname, dir)
  local at = 1
  while true do
    local slash = dir:find("/", at + 1, true)
    local part = slash and dir:sub(1, slash - 1) or dir
    if part ~= "" and part ~= "." and part ~= ".." then
      if ffi.C.gd_plot_mkdir(part, tonumber("777", 8)) ~= 0 then
        local e = ffi.errno()
        if e ~= EEXIST then
          check.raise(fmt("%s: cannot create directory '%s': %s", fname, part, ffi.string(ffi.C.gd_plot_strerror(e))))
        end
      end
    end
    if not slash then return end
    at = slash
  end
end

--- "svg", "png" or "pdf", from the path's extension.
function M.format(path)
  local ext = path:lower():match("%.(%a+)$")
  if ext == "png" or ext == "pdf" then return ext end
  return "svg"
end

-- ------------------------------------------------------- librsvg + cairo

local R   -- {rsvg =, cairo =, gobject =, glib =} once loaded; false when missing
local load_error

local CDEFS = [[
typedef struct _RsvgHandle RsvgHandle;
typedef struct { uint32_t domain; int code; char *message; } gd_plot_GError;
typedef struct { double x, y, width, height; } gd_plot_RsvgRectangle;
typedef struct _cairo_surface cairo_surface_t;
typedef struct _cairo cairo_t;
typedef int (*gd_plot_cairo_write_func)(void *closure, const unsigned char *data, unsigned int length);
RsvgHandle *rsvg_handle_new_from_data(const uint8_t *data, size_t len, gd_plot_GError **error);
int rsvg_handle_render_document(RsvgHandle *h, cairo_t *cr, const gd_plot_RsvgRectangle *viewport,
                                gd_plot_GError **error);
void g_object_unref(void *object);
void g_error_free(gd_plot_GError *error);
cairo_surface_t *cairo_image_surface_create(int format, int width, int height);
cairo_surface_t *cairo_image_surface_create_from_png(const char *filename);
int cairo_image_surface_get_width(cairo_surface_t *s);
int cairo_image_surface_get_height(cairo_surface_t *s);
int cairo_image_surface_get_stride(cairo_surface_t *s);
unsigned char *cairo_image_surface_get_data(cairo_surface_t *s);
cairo_surface_t *cairo_pdf_surface_create_for_stream(gd_plot_cairo_write_func write, void *closure,
                                                     double width_pt, double height_pt);
int cairo_surface_write_to_png_stream(cairo_surface_t *s, gd_plot_cairo_write_func write, void *closure);
int cairo_surface_status(cairo_surface_t *s);
void cairo_surface_flush(cairo_surface_t *s);
void cairo_surface_finish(cairo_surface_t *s);
void cairo_surface_destroy(cairo_surface_t *s);
cairo_t *cairo_create(cairo_surface_t *target);
int cairo_status(cairo_t *cr);
void cairo_scale(cairo_t *cr, double sx, double sy);
void cairo_destroy(cairo_t *cr);
const char *cairo_status_to_string(int status);
]]

local CAIRO_FORMAT_ARGB32 = 0
local CAIRO_STATUS_WRITE_ERROR = 11

--- Loads a shared library by its development name or its Debian runtime name.
local function load_lib(dev, runtime)
  local ok, lib = pcall(ffi.load, dev)
  if ok then return lib end
  ok, lib = pcall(ffi.load, runtime)
  if ok then return lib end
  error(lib, 0)
end

--- The libraries, loaded on first use: nil and a reason when they are missing.
function M.libraries()
  if R == nil then
    local ok, err = pcall(function()
      ffi.cdef(CDEFS)
      R = {rsvg = load_lib("rsvg-2", "librsvg-2.so.2"), cairo = load_lib("cairo", "libcairo.so.2"),
           gobject = load_lib("gobject-2.0", "libgobject-2.0.so.0"), glib = load_lib("glib-2.0", "libglib-2.0.so.0")}
    end)
    if not ok then R, load_error = false, tostring(err) end
  end
  if not R then return nil, load_error end
  return R
end

-- cairo writes through one callback, made once (a callback per file would be
-- a leak: LuaJIT keeps each one until freed); it appends to the writer of the
-- file being written, and remembers a failure, which it cannot raise.
local current_writer, write_failed
local gd_writer_write
local write_callback

local function callback()
  if write_callback == nil then
    local C = require("gd.ffi").C
    gd_writer_write = C.gd_writer_write
    write_callback = ffi.cast("gd_plot_cairo_write_func", function(_, data, length)
      if current_writer == nil or gd_writer_write(current_writer, data, length) ~= 0 then
        write_failed = true
        return CAIRO_STATUS_WRITE_ERROR
      end
      return 0
    end)
  end
  return write_callback
end

local function gerror_text(box)
  local e = box[0]
  if e == nil then return "unknown error" end
  local s = ffi.string(e.message)
  R.glib.g_error_free(e)
  box[0] = nil
  return s
end

--- Renders SVG text (width x height pixels) as PNG or PDF into writer w
-- (a gd.serialize writer: w.w is the gd_writer).  scale multiplies the PNG's
-- pixel size (a PDF is always width x height points: vector graphics).
local function render(fname, format, text, width, height, scale, w)
  local L, why = M.libraries()
  if not L then
    error(fmt("%s: writing %s needs librsvg and cairo (Debian: librsvg2-2, libcairo2): %s", fname,
      format:upper(), why), 0)
  end
  local rsvg, cairo = L.rsvg, L.cairo
  local gerr = ffi.new("gd_plot_GError*[1]")
  local handle = rsvg.rsvg_handle_new_from_data(text, #text, gerr)
  if handle == nil then error(fmt("%s: librsvg cannot read the SVG: %s", fname, gerror_text(gerr)), 0) end
  local surface
  if format == "png" then
    surface = cairo.cairo_image_surface_create(CAIRO_FORMAT_ARGB32, math.ceil(width * scale),
      math.ceil(height * scale))
  else
    surface = cairo.cairo_pdf_surface_create_for_stream(callback(), nil, width, height)
  end
  local cr = cairo.cairo_create(surface)
  if scale ~= 1 then cairo.cairo_scale(cr, scale, scale) end
  current_writer, write_failed = w.w, false
  local ok, msg = true, nil
  local viewport = ffi.new("gd_plot_RsvgRectangle", 0, 0, width, height)
  if rsvg.rsvg_handle_render_document(handle, cr, viewport, gerr) == 0 then
    ok, msg = false, "librsvg cannot render the SVG: " .. gerror_text(gerr)
  elseif cairo.cairo_status(cr) ~= 0 then
    ok, msg = false, "cairo: " .. ffi.string(cairo.cairo_status_to_string(cairo.cairo_status(cr)))
  end
  cairo.cairo_destroy(cr)
  if ok and format == "png" then
    local st = cairo.cairo_surface_write_to_png_stream(surface, callback(), nil)
    if st ~= 0 then ok, msg = false, "cairo: " .. ffi.string(cairo.cairo_status_to_string(st)) end
  end
  cairo.cairo_surface_finish(surface)    -- a PDF is written out here
  local st = cairo.cairo_surface_status(surface)
  if ok and st ~= 0 then ok, msg = false, "cairo: " .. ffi.string(cairo.cairo_status_to_string(st)) end
  cairo.cairo_surface_destroy(surface)
  L.gobject.g_object_unref(handle)
  current_writer = nil
  if write_failed then
    -- the writer's own message (the disk is full ...) says more than cairo's
    error(fmt("%s: %s", fname, ffi.string(require("gd.ffi").C.gd_last_error())), 0)
  end
  if not ok then error(fname .. ": " .. msg, 0) end
end
-- cairo calls back into Lua: the C calls that do so must not run from a
-- compiled trace (LuaJIT's FFI semantics, "Callbacks")
jit.off(render)

--- Writes an SVG document (text, width x height pixels) to path as SVG, PNG
-- or PDF (by the extension), atomically.  Errors name fname and point at the
-- caller of the public plot function.
function M.write(fname, path, text, width, height, opts)
  if type(path) ~= "string" or path == "" then
    check.raise(fmt("%s: file must be a path (a non-empty string), got %s", fname, type(path)))
  end
  if path:find("\0", 1, true) then check.raise(fname .. ": the file name contains a NUL byte") end
  local scale = opts and opts.scale or 1
  check.number(fname, "scale", scale, {finite = true, min = 0.01, max = 100})
  local dir = path:match("^(.*)/[^/]*$")
  if dir and dir ~= "" then M.mkdirs(fname, dir) end
  local format = M.format(path)
  local serialize = require "gd.serialize"
  local ok, err = pcall(serialize.write_atomically, fname, path, function(w)
    if format == "svg" then w:bytes(text) else render(fname, format, text, width, height, scale, w) end
  end)
  if not ok then check.raise(tostring(err)) end
  return path
end

--- Reads a PNG file into {width =, height =, pixel = function(x, y) -> r, g, b, a}
-- (0-based pixel coordinates, 0..255 channels, not premultiplied).
function M.read_png(path)
  local L, why = M.libraries()
  if not L then check.raise("gd.plot.read_png: needs cairo (Debian: libcairo2): " .. why) end
  local cairo = L.cairo
  local s = cairo.cairo_image_surface_create_from_png(path)
  local st = cairo.cairo_surface_status(s)
  if st ~= 0 then
    cairo.cairo_surface_destroy(s)
    check.raise(fmt("gd.plot.read_png: cannot read '%s': %s", path, ffi.string(cairo.cairo_status_to_string(st))))
  end
  cairo.cairo_surface_flush(s)
  local w, h, stride = cairo.cairo_image_surface_get_width(s), cairo.cairo_image_surface_get_height(s),
    cairo.cairo_image_surface_get_stride(s)
  -- copy the pixels out so that the surface can go now
  local bytes = ffi.new("uint8_t[?]", stride * h)
  ffi.copy(bytes, cairo.cairo_image_surface_get_data(s), stride * h)
  cairo.cairo_surface_destroy(s)
  local words = ffi.cast("uint32_t *", bytes)
  local function pixel(x, y)
    if x < 0 or y < 0 or x >= w or y >= h then error("gd.plot.read_png: pixel outside the image", 2) end
    -- cairo's ARGB32: native-endian words, premultiplied alpha
    local v = words[y * stride / 4 + x]
    local a = math.floor(v / 2 ^ 24) % 256
    local r, g, b = math.floor(v / 2 ^ 16) % 256, math.floor(v / 2 ^ 8) % 256, v % 256
    if a > 0 and a < 255 then
      r, g, b = math.floor(r * 255 / a + 0.5), math.floor(g * 255 / a + 0.5), math.floor(b * 255 / a + 0.5)
    end
    return r, g, b, a
  end
  return {width = w, height = h, stride = stride, pixel = pixel, bytes = bytes}
end

return M
