/*
 * call.c: running Lua code from the host: protected calls with a traceback,
 * error reports, and interrupting running code with Ctrl-C.
 *
 * Ctrl-C follows lua.c: the SIGINT handler cannot raise a Lua error itself
 * (it may run at any point inside the VM), so it sets a debug hook that fires
 * on the next call, return or instruction and raises "interrupted!" from
 * there.  The handler is installed with SA_RESETHAND, so a second Ctrl-C
 * before the hook has run gets the default action and ends the process: the
 * way out of code that never reaches the hook (a long C call, or a loop that
 * LuaJIT has compiled to machine code: compiled traces do not look at hooks,
 * which is why the REPL runs its own chunks with the JIT off; see
 * lua/gd/repl.lua).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"

/* The state the SIGINT handler sets its hook on (lua.c's globalL). */
static lua_State *volatile interrupted_state;

/* The hook set by the handler: removes itself and raises the error in the
 * interrupted code (lua.c's lstop). */
static void interrupt_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

/* The SIGINT handler while Lua code runs (lua.c's laction).  lua_sethook is
 * the one VM call lua.c and luajit.c make from a signal handler: it only
 * stores the hook and switches the interpreter's dispatch table. */
static void interrupt_handler(int sig)
{
    (void)sig;
    lua_State *L = interrupted_state;
    if (L != NULL)
        lua_sethook(L, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* How host_docall runs a chunk: in a coroutine, so that an error leaves the
 * failed stack intact for the report (lua.c's msghandler runs on the failing
 * stack instead).  That matters for a stack overflow: LuaJIT cannot run a
 * message handler on a full stack (lua_pcall with a C handler says "error
 * in error handling"; xpcall sometimes gives the bare message, without
 * position or traceback), while a dead coroutine's stack can be read at
 * leisure.  A string message gets the coroutine's traceback; another error
 * object is shown through its __tostring, or named by its type; nil stays nil
 * (see host_report).  A yield from the chunk itself is an error, as it is
 * outside any coroutine under lua.c. */
static const char trampoline_lua[] =
    "local create, resume, status = coroutine.create, coroutine.resume, coroutine.status\n"
    "local type, tostring, getmetatable, rawget, select, unpack, traceback =\n"
    "      type, tostring, getmetatable, rawget, select, unpack, debug.traceback\n"
    "local function report(co, e)\n"
    "  if e == nil then return nil end\n"
    "  local t = type(e)\n"
    "  if t == 'number' then\n"
    "    e = tostring(e)\n"
    "  elseif t ~= 'string' then\n"
    "    local mt = getmetatable(e)\n"
    "    if type(mt) == 'table' and rawget(mt, '__tostring') then\n"
    "      local s = tostring(e)\n"
    "      if type(s) == 'string' then return s end\n"
    "    end\n"
    "    e = '(error object is a ' .. t .. ' value)'\n"
    "  end\n"
    "  return traceback(co, e)\n"
    "end\n"
    "local function finish(co, ok, ...)\n"
    "  if status(co) == 'suspended' then\n"
    "    return false, report(co, 'attempt to yield from outside a coroutine')\n"
    "  end\n"
    "  if ok then return true, ... end\n"
    "  return false, report(co, (...))\n"
    "end\n"
    "return function(f, ...)\n"
    "  local co = create(f)\n"
    "  return finish(co, resume(co, ...))\n"
    "end\n";

static const char trampoline_key[] = "gdlua.trampoline";

/* The same in C, for when the trampoline cannot be made (no debug library). */
static int message_handler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (lua_isnoneornil(L, 1))
        return 1;
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Pushes the trampoline, made on first use; returns 0 (pushing nothing) if
 * it cannot be made. */
static int push_trampoline(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, trampoline_key);
    if (lua_isfunction(L, -1))
        return 1;
    lua_pop(L, 1);
    int top = lua_gettop(L);
    lua_getglobal(L, "debug");
    int have_debug = lua_istable(L, -1);
    lua_settop(L, top);
    if (have_debug &&
        luaL_loadbuffer(L, trampoline_lua, sizeof trampoline_lua - 1, "=[gdlua host]") == 0 &&
        lua_pcall(L, 0, 1, 0) == 0 && lua_isfunction(L, -1)) {
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, trampoline_key);
        return 1;
    }
    lua_settop(L, top);         /* an error message, or whatever came back */
    return 0;
}

int host_docall(lua_State *L, int narg, int nres)
{
    int base = lua_gettop(L) - narg;     /* the function's index */

    struct sigaction armed, saved;
    memset(&armed, 0, sizeof armed);
    armed.sa_handler = interrupt_handler;
    sigemptyset(&armed.sa_mask);
    /* SA_RESETHAND: a second Ctrl-C terminates (lua.c resets to SIG_DFL in
     * its handler).  SA_RESTART: a script blocked in io.read() keeps reading,
     * as it does under lua.c, whose signal() restarts system calls. */
    armed.sa_flags = SA_RESETHAND | SA_RESTART;
    interrupted_state = L;
    sigaction(SIGINT, &armed, &saved);

    int status;
    if (push_trampoline(L)) {
        /* trampoline(f, args...) -> true, results... | false, message */
        lua_insert(L, base);
        status = lua_pcall(L, narg + 1, LUA_MULTRET, 0);
        if (status == 0 && lua_toboolean(L, base)) {
            lua_remove(L, base);
            if (nres != LUA_MULTRET)
                lua_settop(L, base - 1 + nres);     /* as lua_pcall adjusts */
        } else if (status == 0) {
            lua_settop(L, base + 1);
            lua_remove(L, base);
            status = LUA_ERRRUN;
        }
    } else {
        lua_pushcfunction(L, message_handler);
        lua_insert(L, base);
        status = lua_pcall(L, narg, nres, base);
        lua_remove(L, base);
    }

    sigaction(SIGINT, &saved, NULL);
    /* A Ctrl-C that came after the call had finished left the hook behind;
     * it must not fire in whatever Lua code runs next. */
    if (lua_gethook(L) == interrupt_hook)
        lua_sethook(L, NULL, 0, 0);
    return status;
}

void host_message(const char *msg)
{
    fflush(stdout);     /* keep the order of what was printed before */
    fprintf(stderr, "%s: %s\n", HOST_PROGNAME, msg);
    fflush(stderr);
}

int host_report(lua_State *L, int status)
{
    /* An error whose object is nil is not reported, only its status is
     * kept, as luajit.c does: busted ends a failed run with error() so that
     * the interpreter exits with status 1 and no message of its own. */
    if (status != 0 && lua_isnil(L, -1)) {
        lua_pop(L, 1);
    } else if (status != 0) {
        const char *msg = lua_tostring(L, -1);
        if (msg == NULL)
            msg = "(error object is not a string)";
        host_message(msg);
        lua_pop(L, 1);
    }
    return status;
}
