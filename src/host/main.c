/*
 * main.c: gdlua, the command-line host of gdlua.
 *
 * It behaves like the `lua` / `luajit` commands (the option handling and the
 * order of actions follow lua.c of Lua 5.3, plus LuaJIT's -j and -O), with two
 * additions: the gd package is loaded as the global `gd` before anything
 * runs, and the interactive loop is gdlua's REPL (repl.c, lua/gd/repl.lua).
 *
 *   gdlua [options] [script [args]]
 *   gdlua [options] -b [busted's options and spec paths]
 *   gdlua [options] -m module [args]     (python -m: runs require(module).main(args))
 *
 * Everything Lua-side runs inside one protected call (run_main, lua.c's
 * pmain), so that even an out-of-memory error during set-up is reported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <luajit.h>
#include <lualib.h>

#include "../gd.h"
#include "host.h"

/* OpenMP's idle threads spin (libgomp: GOMP_SPINCOUNT, 300,000 spins by
   default) before they sleep.  When another process holds one of the cores,
   a spinning thread takes its turn on that core from the thread with work,
   and every parallel region waits a scheduler time slice for it: training
   the 1024-wide MLP with 2 threads next to one spinning process was 16x
   slower than with 1 thread (48 against 798 samples/s, scripts/bench/nn.lua
   contention, on a shared 2-core machine).  Threads that sleep at once
   (OMP_WAIT_POLICY=passive) leave the core to whoever has work.
   libgomp reads its settings once, when it is loaded, before main runs (a
   setenv from .preinit_array is undone when libc sets up environ), so the
   host sets the variable and executes itself again, once; the second run
   removes it, so that processes gdlua starts see the caller's environment.
   A user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT wins. */
#define HOST_OMP_MARK "GDLUA_OMP_WAIT_POLICY_SET"

static void use_passive_openmp_waits(char **argv)
{
    if (getenv(HOST_OMP_MARK) != NULL) {
        unsetenv(HOST_OMP_MARK);
        unsetenv("OMP_WAIT_POLICY");
        return;
    }
    if (getenv("OMP_WAIT_POLICY") != NULL || getenv("GOMP_SPINCOUNT") != NULL) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0 || setenv(HOST_OMP_MARK, "1", 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* no /proc: go on with libgomp's defaults */
    unsetenv(HOST_OMP_MARK);
    unsetenv("OMP_WAIT_POLICY");
}

/* What collect_options found (lua.c's has_* flags). */
typedef struct options {
    int interactive;    /* -i */
    int version;        /* -v (or -i) */
    int execute;        /* -e: an -e means "no REPL" when there is no script */
    int no_env;         /* -E */
    int busted;         /* -b: argv index of busted's first argument, else 0 */
    int module;         /* -m: argv index of the module's name (the script slot), else 0 */
    int script;         /* argv index of the script, or argc when there is none */
    const char *bad;    /* the offending option, when parsing failed */
    const char *bad_why;
} options;

static void print_usage(const options *o)
{
    if (o->bad != NULL)
        fprintf(stderr, "%s: %s '%s'\n", HOST_PROGNAME, o->bad_why, o->bad);
    fprintf(stderr,
            "usage: %s [options] [script [args]]\n"
            "Available options are:\n"
            "  -e chunk  Execute string 'chunk'.\n"
            "  -l name   Require library 'name' into global 'name' (or -l g=name).\n"
            "  -j cmd    Perform LuaJIT control command (-j on, -j off, -j v ...).\n"
            "  -O[opt]   Control LuaJIT optimizations.\n"
            "  -i        Enter interactive mode after executing 'script'.\n"
            "  -v        Show version information.\n"
            "  -E        Ignore environment variables (LUA_PATH, LUA_CPATH, LUA_INIT).\n"
            "  -b ...    Run busted (the spec runner) under gdlua; the arguments after\n"
            "            -b are busted's, paths relative to the current directory.\n"
            "  -m mod    Run require('mod').main(...) with the arguments after mod\n"
            "            (as python -m); its number or false return is the exit status.\n"
            "  --        Stop handling options.\n"
            "  -         Execute stdin and stop handling options.\n"
            "With no script, gdlua starts its REPL when stdin is a terminal and\n"
            "otherwise runs the program read from stdin.\n",
            HOST_PROGNAME);
    fflush(stderr);
}

/* Scans the options (lua.c's collectargs).  Returns 0 and fills o->bad on a
 * malformed command line. */
static int collect_options(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    const char *a = NULL;
    for (int i = 1; i < argc; i++) {
        a = argv[i];
        if (a[0] != '-') {                  /* not an option: the script */
            o->script = i;
            return 1;
        }
        switch (a[1]) {
        case '-':                           /* "--": the script follows */
            if (a[2] != '\0')
                goto unrecognized;
            o->script = i + 1;
            return 1;
        case '\0':                          /* "-": the script is stdin */
            o->script = i;
            return 1;
        case 'b':                           /* -b: the rest is busted's */
            if (a[2] != '\0')
                goto unrecognized;
            o->busted = i + 1;
            o->script = i;
            return 1;
        case 'm':                           /* -m module: the rest is the module's */
            if (a[2] != '\0' || i + 1 >= argc || argv[i + 1][0] == '-') {
                o->bad = a;
                o->bad_why = a[2] != '\0' ? "unrecognized option" : "missing module name after";
                return 0;
            }
            o->module = i + 1;
            o->script = i + 1;
            return 1;
        case 'E':
            if (a[2] != '\0')
                goto unrecognized;
            o->no_env = 1;
            break;
        case 'i':
            o->interactive = 1;             /* -i implies -v, as in lua.c */
            /* fall through */
        case 'v':
            if (a[2] != '\0')
                goto unrecognized;
            o->version = 1;
            break;
        case 'e':
            o->execute = 1;
            /* fall through */
        case 'l':
        case 'j':                           /* these take an argument */
            if (a[2] == '\0') {
                i++;
                if (i >= argc || argv[i][0] == '-') {
                    o->bad = a;
                    o->bad_why = "missing argument to";
                    return 0;
                }
            }
            break;
        case 'O':                           /* -O takes a glued argument only */
            break;
        default:
            goto unrecognized;
        }
    }
    o->script = argc;                       /* no script */
    return 1;
unrecognized:
    o->bad = a;
    o->bad_why = "unrecognized option";
    return 0;
}

static void print_version(lua_State *L)
{
    const char *jit = LUAJIT_VERSION;
    lua_getglobal(L, "jit");                /* the running LuaJIT's own version */
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "version");
        if (lua_isstring(L, -1))
            jit = lua_tostring(L, -1);
    }
    printf("%s -- %s -- %s. %s\n", gd_version(), jit, LUAJIT_COPYRIGHT, LUAJIT_URL);
    fflush(stdout);
    lua_settop(L, 0);
}

/* The global `arg` (lua.c's createargtable): arg[0] is the script, arg[1..]
 * its arguments, and the interpreter and its options get indices <= -1.
 * Without a script, arg[0] is the interpreter. */
static void create_arg_table(lua_State *L, int argc, char **argv, int script)
{
    if (script == argc)
        script = 0;
    lua_createtable(L, argc - (script + 1), script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

static int run_chunk(lua_State *L, int status)
{
    if (status == 0)
        status = host_docall(L, 0, 0);
    return host_report(L, status);
}

static int run_string(lua_State *L, const char *s, const char *name)
{
    return run_chunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* -l [global=]name: global = require(name) (lua.c 5.4's dolibrary). */
static int run_library(lua_State *L, const char *spec)
{
    const char *eq = strchr(spec, '=');
    const char *module = eq ? eq + 1 : spec;
    lua_getglobal(L, "require");
    lua_pushstring(L, module);
    int status = host_docall(L, 1, 1);
    if (status == 0) {
        if (eq)
            lua_pushlstring(L, spec, (size_t)(eq - spec));
        else
            lua_pushstring(L, spec);
        lua_insert(L, -2);
        lua_settable(L, LUA_GLOBALSINDEX);
    }
    return host_report(L, status);
}

/* Pushes the comma-separated arguments of "cmd=a,b" as strings; returns
 * their number.  s points past the '='. */
static int push_jit_args(lua_State *L, const char *s)
{
    int n = 0;
    while (s != NULL && *s != '\0') {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        lua_pushlstring(L, s, len);
        n++;
        s = comma ? comma + 1 : NULL;
    }
    return n;
}

/* -j cmd[=args]: jit.cmd(args) for a function of the jit library (on, off,
 * flush), otherwise require("jit.cmd").start(args) (luajit.c's dojitcmd). */
static int run_jit_command(lua_State *L, const char *cmd)
{
    const char *eq = strchr(cmd, '=');
    size_t len = eq ? (size_t)(eq - cmd) : strlen(cmd);
    lua_getglobal(L, "jit");
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        host_message("the jit library is not available");
        return 1;
    }
    lua_pushlstring(L, cmd, len);
    lua_gettable(L, -2);
    lua_remove(L, -2);
    if (!lua_isfunction(L, -1)) {           /* a jit.* module with start() */
        lua_pop(L, 1);
        lua_getglobal(L, "require");
        lua_pushliteral(L, "jit.");
        lua_pushlstring(L, cmd, len);
        lua_concat(L, 2);
        int status = host_docall(L, 1, 1);
        if (status != 0)
            return host_report(L, status);
        if (!lua_istable(L, -1)) {
            lua_pop(L, 1);
            host_message("unknown LuaJIT command or jit.* module without start()");
            return 1;
        }
        lua_getfield(L, -1, "start");
        lua_remove(L, -2);
        if (!lua_isfunction(L, -1)) {
            lua_pop(L, 1);
            host_message("unknown LuaJIT command or jit.* module without start()");
            return 1;
        }
    }
    int n = push_jit_args(L, eq ? eq + 1 : NULL);
    return host_report(L, host_docall(L, n, 0));
}

/* -O[args]: require("jit.opt").start(args). */
static int run_jit_opt(lua_State *L, const char *opt)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "jit.opt");
    int status = host_docall(L, 1, 1);
    if (status != 0)
        return host_report(L, status);
    lua_getfield(L, -1, "start");
    lua_remove(L, -2);
    int n = push_jit_args(L, *opt ? opt : NULL);
    return host_report(L, host_docall(L, n, 0));
}

/* Runs -e, -l, -j and -O in their command-line order (lua.c's runargs).
 * Returns 0 when one of them failed. */
static int run_options(lua_State *L, char **argv, int script)
{
    for (int i = 1; i < script; i++) {
        const char *a = argv[i];
        if (a[0] != '-')
            continue;
        int option = a[1];
        const char *value = a + 2;
        int status = 0;
        switch (option) {
        case 'e': case 'l': case 'j':
            if (*value == '\0')
                value = argv[++i];
            if (option == 'e')
                status = run_string(L, value, "=(command line)");
            else if (option == 'l')
                status = run_library(L, value);
            else
                status = run_jit_command(L, value);
            break;
        case 'O':
            status = run_jit_opt(L, value);
            break;
        default:
            break;
        }
        if (status != 0)
            return 0;
    }
    return 1;
}

/* LUA_INIT: "@file" runs the file, anything else is run as a chunk. */
static int run_lua_init(lua_State *L)
{
    const char *init = getenv("LUA_INIT");
    if (init == NULL)
        return 0;
    if (init[0] == '@')
        return run_chunk(L, luaL_loadfile(L, init + 1));
    return run_string(L, init, "=LUA_INIT");
}

/* Runs the script argv[script] with the arguments after it as `...`
 * (lua.c's handle_script).  "-" is stdin, unless it came after "--". */
static int run_script(lua_State *L, int argc, char **argv, int script)
{
    const char *name = argv[script];
    if (strcmp(name, "-") == 0 && strcmp(argv[script - 1], "--") != 0)
        name = NULL;
    int status = luaL_loadfile(L, name);
    if (status == 0) {
        int n = argc - script - 1;
        luaL_checkstack(L, n + 3, "too many arguments to script");
        for (int i = script + 1; i < argc; i++)
            lua_pushstring(L, argv[i]);
        status = host_docall(L, n, 0);
    }
    return host_report(L, status);
}

/* -b: busted's command-line runner, in this state (so that specs see `gd`
 * and the package paths scripts see).  `arg` holds busted's arguments, with
 * --ignore-lua first: a .busted file's `lua = "gdlua"` must not start the
 * interpreter again.  busted exits through os.exit with its status. */
static int run_busted(lua_State *L)
{
    static const char runner[] =
        "local ok, runner = pcall(require, 'busted.runner')\n"
        "if not ok then error('gdlua -b: cannot load busted (Debian: apt-get install lua-busted):\\n'"
        " .. tostring(runner), 0) end\n"
        "table.insert(arg, 1, '--ignore-lua')\n"
        "runner({standalone = false})\n";
    return run_string(L, runner, "=(gdlua -b)");
}

/* -m module: require(module).main(...) with the arguments after the name,
 * python -m's shape for Lua modules (a module table with a main function,
 * e.g. `gdlua -m gd.bench report results.db`).  main's return value is the
 * exit status: nothing, true or 0 succeed; false fails; a number exits with
 * it.  arg[0] is the module's name, as a script's arg[0] is its path. */
static int run_module(lua_State *L, int argc, char **argv, int module)
{
    static const char runner[] =
        "local name = ...\n"
        "local m = require(name)\n"
        "local main = type(m) == 'table' and rawget(m, 'main')\n"
        "if type(main) ~= 'function' then\n"
        "  error(string.format('gdlua -m: module %q has no main function (it returned %s)', name,\n"
        "    type(m) == 'table' and 'a table without main' or type(m)), 0)\n"
        "end\n"
        "local r = main(select(2, ...))\n"
        "if r == false then os.exit(1) end\n"
        "if type(r) == 'number' and r ~= 0 then os.exit(r) end\n";
    int status = luaL_loadbuffer(L, runner, sizeof runner - 1, "=(gdlua -m)");
    if (status == 0) {
        int n = argc - module;
        luaL_checkstack(L, n + 3, "too many arguments to the module");
        for (int i = module; i < argc; i++)
            lua_pushstring(L, argv[i]);
        status = host_docall(L, n, 0);
    }
    return host_report(L, status);
}

/* gd = require "gd" and help = gd.help, before anything else runs, so that
 * scripts, -e chunks and the REPL all have both. */
static int load_gd(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "gd");
    int status = host_docall(L, 1, 1);
    if (status == 0) {
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "help");
            lua_setglobal(L, "help");
        }
        lua_setglobal(L, "gd");
    }
    return host_report(L, status);
}

/* Everything after the state exists, inside a protected call (lua.c's
 * pmain).  Pushes true when all went well. */
static int run_main(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = (char **)lua_touserdata(L, 2);
    options o;
    lua_settop(L, 0);

    if (!collect_options(argc, argv, &o)) {
        print_usage(&o);
        return 0;
    }
    if (o.no_env) {                         /* LuaJIT's package library reads this */
        lua_pushboolean(L, 1);
        lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
    }
    lua_gc(L, LUA_GCSTOP, 0);               /* no collection while the libraries open */
    luaL_openlibs(L);
    lua_gc(L, LUA_GCRESTART, -1);

    if (o.version)
        print_version(L);
    if (!host_setup_package_path(L)) {
        host_report(L, 1);
        return 0;
    }
    create_arg_table(L, argc, argv, o.script);
    if (load_gd(L) != 0)
        return 0;
    if (!o.no_env && run_lua_init(L) != 0)
        return 0;
    if (!run_options(L, argv, o.script))
        return 0;
    if (o.busted) {
        if (run_busted(L) != 0)
            return 0;
    } else if (o.module) {
        if (run_module(L, argc, argv, o.module) != 0)
            return 0;
    } else if (o.script < argc && run_script(L, argc, argv, o.script) != 0) {
        return 0;
    }
    if (o.interactive) {
        if (!host_repl(L))
            return 0;
    } else if (o.script == argc && !o.execute && !o.version) {
        if (isatty(STDIN_FILENO)) {
            print_version(L);
            if (!host_repl(L))
                return 0;
        } else if (run_chunk(L, luaL_loadfile(L, NULL)) != 0) {
            return 0;
        }
    }
    lua_pushboolean(L, 1);
    return 1;
}

int main(int argc, char **argv)
{
    use_passive_openmp_waits(argv);
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        host_message("cannot create the Lua state: not enough memory");
        return EXIT_FAILURE;
    }
    host_alloc_install(L);
    lua_pushcfunction(L, run_main);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    int status = lua_pcall(L, 2, 1, 0);
    int ok = status == 0 && lua_toboolean(L, -1);
    host_report(L, status);
    fflush(stdout);
    if (!ok && gd_dist_size() > 1) {
        /* one rank of an MPI job failed (its message is above): end every
           rank now, rather than leave the others waiting in a collective
           (MPI_Abort; mpirun then exits non-zero) */
        char msg[128];
        snprintf(msg, sizeof msg, "gd.dist: rank %d of %d failed; ending every rank", gd_dist_rank(), gd_dist_size());
        gd_dist_abort(msg, 1);
    }
    host_alloc_remove(L);
    lua_close(L);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
