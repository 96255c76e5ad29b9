/*
 * repl.c: the interactive loop of gdlua.
 *
 * The C side only reads lines and hands them to lua/gd/repl.lua, which
 * decides what they mean (Lua chunk, incomplete chunk, :command, ?help),
 * runs them, and prints results, errors and completion candidates.  Keeping
 * the logic in Lua keeps it testable without a terminal.
 *
 * With a terminal on stdin and stdout, lines are edited with libedit
 * (lineedit.c); otherwise they are read plainly and the prompt is written to
 * stdout, as lua.c does without readline.  The Lua side gets a small table
 * of host functions: now() (a monotonic clock, for :time), listdir(path)
 * (for file-name completion) and the flag tty.
 */
#include <dirent.h>
#include <errno.h>
#include <locale.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"

typedef struct repl {
    lua_State *L;
    int module;                 /* registry reference to the gd.repl table */
} repl;

/* ------------------------------------------------------- host functions */

/* host.now() -> seconds on a monotonic clock. */
static int host_now(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
    return 1;
}

/* host.listdir(path) -> array of entry names, directories with a trailing
 * "/", without "." and ".."; or nil, message. */
static int host_listdir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    DIR *dir = opendir(path);
    if (dir == NULL) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", path, strerror(errno));
        return 2;
    }
    lua_newtable(L);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL && n < 100000) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        int is_dir = e->d_type == DT_DIR;
        if (e->d_type == DT_UNKNOWN || e->d_type == DT_LNK) {
            /* follow links: a link to a directory completes like one */
            struct stat st;
            const char *sep = path[0] && path[strlen(path) - 1] == '/' ? "" : "/";
            lua_pushfstring(L, "%s%s%s", path, sep, e->d_name);
            is_dir = stat(lua_tostring(L, -1), &st) == 0 && S_ISDIR(st.st_mode);
            lua_pop(L, 1);
        }
        if (is_dir)
            lua_pushfstring(L, "%s/", e->d_name);
        else
            lua_pushstring(L, e->d_name);
        lua_rawseti(L, -2, ++n);
    }
    closedir(dir);
    return 1;
}

static int terminal_columns(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

/* ------------------------------------------------------ calling gd.repl */

/* Calls gd.repl[name] with the nargs values on top of the stack; leaves
 * nres results.  An error is reported and gives a nonzero status. */
static int call_repl(repl *r, const char *name, int nargs, int nres)
{
    lua_State *L = r->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->module);
    lua_getfield(L, -1, name);
    lua_remove(L, -2);
    lua_insert(L, -(nargs + 1));
    return host_report(L, host_docall(L, nargs, nres));
}

/* The completion callback of lineedit.c. */
static int complete(void *ud, const char *before, size_t len, char **insert, char **listing)
{
    repl *r = ud;
    lua_State *L = r->L;
    int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->module);
    lua_getfield(L, -1, "complete");
    lua_remove(L, -2);
    lua_pushlstring(L, before, len);
    lua_pushinteger(L, terminal_columns());
    /* A failing completion must not disturb the line being edited: its
     * error is dropped and TAB just beeps. */
    if (host_docall(L, 2, 2) != 0) {
        lua_settop(L, top);
        return -1;
    }
    *insert = lua_isstring(L, -2) ? strdup(lua_tostring(L, -2)) : NULL;
    *listing = lua_isstring(L, -1) ? strdup(lua_tostring(L, -1)) : NULL;
    lua_settop(L, top);
    return 0;
}

/* ---------------------------------------------------------- reading lines */

/* A line from a stream that is not a terminal; NULL at end of input. */
static char *read_plain_line(const char *prompt)
{
    fputs(prompt, stdout);
    fflush(stdout);
    char *line = NULL;
    size_t size = 0;
    ssize_t n = getline(&line, &size, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

/* $GDLUA_HISTORY (empty: no history file), else ~/.gdlua_history. */
static char *history_path(void)
{
    const char *env = getenv("GDLUA_HISTORY");
    if (env != NULL)
        return env[0] ? strdup(env) : NULL;
    const char *home = getenv("HOME");
    if (home == NULL || home[0] == '\0') {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    if (home == NULL)
        return NULL;
    size_t len = strlen(home) + sizeof "/.gdlua_history";
    char *path = malloc(len);
    if (path != NULL)
        snprintf(path, len, "%s/.gdlua_history", home);
    return path;
}

/* -------------------------------------------------------------- the loop */

/* Loads gd.repl and calls its start(host).  Returns 1 on success. */
static int start(repl *r, int tty)
{
    lua_State *L = r->L;
    lua_getglobal(L, "require");
    lua_pushliteral(L, "gd.repl");
    if (host_report(L, host_docall(L, 1, 1)) != 0)
        return 0;
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        host_message("gd.repl did not return a table");
        return 0;
    }
    r->module = luaL_ref(L, LUA_REGISTRYINDEX);

    lua_createtable(L, 0, 3);
    lua_pushboolean(L, tty);
    lua_setfield(L, -2, "tty");
    lua_pushcfunction(L, host_now);
    lua_setfield(L, -2, "now");
    lua_pushcfunction(L, host_listdir);
    lua_setfield(L, -2, "listdir");
    return call_repl(r, "start", 1, 0) == 0;
}

int host_repl(lua_State *L)
{
    repl r = {L, LUA_NOREF};
    int tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    if (!start(&r, tty)) {
        luaL_unref(L, LUA_REGISTRYINDEX, r.module);
        return 0;
    }

    lineedit *le = NULL;
    if (tty) {
        setlocale(LC_CTYPE, "");    /* libedit edits UTF-8 by the locale */
        char *path = history_path();
        le = lineedit_open(path, complete, &r);
        free(path);
        if (le == NULL)
            host_message("line editing is not available; reading plain lines");
    }

    for (;;) {
        lua_settop(L, 0);
        char prompt[256] = "> ";
        if (call_repl(&r, "prompt", 0, 1) == 0) {
            if (lua_isstring(L, -1))
                snprintf(prompt, sizeof prompt, "%s", lua_tostring(L, -1));
            lua_pop(L, 1);
        }

        int cancelled = 0;
        char *line = le ? lineedit_read(le, prompt, &cancelled) : read_plain_line(prompt);
        if (line == NULL) {             /* Ctrl-D or end of input */
            fputs("\n", stdout);        /* leave the shell's prompt on a new line */
            fflush(stdout);
            break;
        }
        if (cancelled) {                /* Ctrl-C at the prompt */
            free(line);
            call_repl(&r, "cancel", 0, 0);
            continue;
        }

        lua_pushstring(L, line);
        free(line);
        if (call_repl(&r, "feed", 1, 2) != 0) {
            /* Only an error inside gd.repl itself gets here (a Ctrl-C that
             * hit it between commands, say): start afresh. */
            call_repl(&r, "cancel", 0, 0);
            continue;
        }
        if (le != NULL && lua_isstring(L, -1))
            lineedit_add_history(le, lua_tostring(L, -1));
        const char *action = lua_tostring(L, -2);
        int quit = action != NULL && strcmp(action, "quit") == 0;
        fflush(stdout);
        if (quit)
            break;
    }
    lua_settop(L, 0);
    lineedit_close(le);
    luaL_unref(L, LUA_REGISTRYINDEX, r.module);
    return 1;
}
