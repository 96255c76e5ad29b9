/*
 * fuzz_load.c: libFuzzer target for the checkpoint reader (FUZZ_NPY=0:
 * gd.load and gd.nn.load of a gdlua file) and the .npy reader (FUZZ_NPY=1:
 * gd.load of a .npy file).  Both readers are Lua over the FFI
 * (lua/gd/serialize.lua), so the target embeds LuaJIT and runs them through
 * the public Lua API, with libgd built into this executable (exported with
 * -rdynamic, so gd's FFI binding finds it through ffi.C).
 *
 * Each input is written to a file and loaded.  It must load or fail with a
 * clean error: a message that starts with the function's name
 * ("gd.load: ...") and carries no Lua internal (a source position
 * "x.lua:12: ", ": attempt to index ...", ": bad argument #1").  Anything
 * else, or a crash (ASan/UBSan), is a finding: abort(), so
 * that libFuzzer keeps the input.  spec/fuzz_spec.lua replays the kept ones.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "gd.h"

#ifndef FUZZ_NPY
#define FUZZ_NPY 0
#endif

static lua_State *L;
static char path[64];
static int gc_each;

/* Coverage of the Lua readers.  libFuzzer sees the coverage of instrumented C
   only, and the readers are Lua: without more, every mutation that reaches a
   new branch of serialize.lua looks like nothing new.  A line hook turns each
   (previous line, line) pair executed into a counter of libFuzzer's extra
   counters section (as AFL hashes its edges), which libFuzzer reads like its
   own.  Hooks keep LuaJIT in its interpreter: slower, but every line counts. */
#define LUA_EDGES (1 << 16)
__attribute__((section("__libfuzzer_extra_counters"), used)) uint8_t gd_fuzz_lua_edges[LUA_EDGES];
static uint32_t prev_line;

static void line_hook(lua_State *hl, lua_Debug *ar)
{
    if (!lua_getinfo(hl, "S", ar)) return;
    uint32_t here = (uint32_t)((uintptr_t)ar->source * 2654435761u) ^ (uint32_t)ar->currentline * 40503u;
    uint32_t edge = (here ^ prev_line) & (LUA_EDGES - 1);
    if (gd_fuzz_lua_edges[edge] < 255) gd_fuzz_lua_edges[edge]++;
    prev_line = here >> 1;
}

/* The same check as spec/fuzz_spec.lua's: nil when the call was clean. */
static const char *script =
    "local gd = require 'gd'\n"
    "local function clean(fname, ok, e)\n"
    "  if ok then return nil end\n"
    "  e = tostring(e)\n"
    "  if e:sub(1, #fname + 2) ~= fname .. ': ' or e:find('%.lua:%d+: ') or e:find(': attempt to ', 1, true)\n"
    "    or e:find(': bad argument #', 1, true) then return e end\n"
    "end\n"
    "return function(path, npy)\n"
    "  local bad = clean('gd.load', pcall(gd.load, path))\n"
    "  if bad or npy then return bad end\n"
    "  return clean('gd.nn.load', pcall(gd.nn.load, path))\n"
    "end\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    char dir[] = "/tmp/gdlua-fuzz-load.XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); exit(1); }
    snprintf(path, sizeof path, "%s/in%s", dir, FUZZ_NPY ? ".npy" : ".gd");
    gc_each = getenv("GD_FUZZ_GC_EACH") && strcmp(getenv("GD_FUZZ_GC_EACH"), "1") == 0;
    L = luaL_newstate();
    luaL_openlibs(L);
    lua_getglobal(L, "package");
    lua_pushstring(L, GD_LUA_DIR "/?.lua;" GD_LUA_DIR "/?/init.lua");
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    if (luaL_loadstring(L, script) != 0 || lua_pcall(L, 0, 1, 0) != 0) {
        fprintf(stderr, "fuzz_load: cannot load gd: %s\n", lua_tostring(L, -1));
        exit(1);
    }
    lua_setglobal(L, "fuzz_one");
    lua_sethook(L, line_hook, LUA_MASKLINE, 0);
    return 0;
}

/* The gdlua format ends with a CRC-32 of everything before it: almost every
   mutation would stop at "checksum mismatch".  Like PNG fuzzers, the target
   writes the correct checksum over the last 4 bytes of inputs that start with
   the magic, so mutations reach the value parser (spec/fuzz_spec.lua does the
   same to kept inputs). */
static void fix_checksum(uint8_t *bytes, size_t size)
{
    static const uint8_t magic[8] = {0x89, 'G', 'D', 'L', '\r', '\n', 0x1a, '\n'};
    if (FUZZ_NPY || size < 16 || memcmp(bytes, magic, 8) != 0) return;
    uint32_t crc = gd_crc32(0, bytes, size - 4);
    memcpy(bytes + size - 4, &crc, 4); /* little-endian, as gd.save writes it */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned long runs;
    uint8_t *bytes = malloc(size ? size : 1);
    if (!bytes) return 0;
    memcpy(bytes, data, size);
    fix_checksum(bytes, size);
    FILE *f = fopen(path, "wb");
    if (!f) { free(bytes); return 0; }
    fwrite(bytes, 1, size, f);
    fclose(f);
    free(bytes);
    prev_line = 0;
    lua_getglobal(L, "fuzz_one");
    lua_pushstring(L, path);
    lua_pushboolean(L, FUZZ_NPY);
    if (lua_pcall(L, 2, 1, 0) != 0) {
        fprintf(stderr, "fuzz_load: the harness itself failed: %s\n", lua_tostring(L, -1));
        abort();
    }
    if (!lua_isnil(L, -1)) {
        fprintf(stderr, "fuzz_load: an unclean error: %s\n", lua_tostring(L, -1));
        abort();
    }
    lua_pop(L, 1);
    /* C memory (tensors, file buffers) is released by ffi.gc finalizers.  With
       libFuzzer's per-input leak check (GD_FUZZ_GC_EACH=1, set by make fuzz
       with -detect_leaks=1) they run after every input, since LSan cannot see
       the pointers held in LuaJIT's own heap (an mmap'd arena it does not
       scan); otherwise now and then (a full collection costs ~5 ms). */
    if (gc_each || ++runs % 256 == 0) lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}
