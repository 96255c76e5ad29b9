/*
 * host.h: the pieces of the gdlua host program, shared between its files.
 *
 *   main.c ...... command line (modelled on lua.c / luajit.c), state setup
 *   alloc.c ..... free lists in front of LuaJIT's allocator for small objects
 *   call.c ...... protected calls with tracebacks, error reports, Ctrl-C
 *   paths.c ..... finding the gd Lua package next to the executable
 *   repl.c ...... the interactive loop; the logic lives in lua/gd/repl.lua
 *   lineedit.c .. line editing, history and completion through libedit
 */
#ifndef GDLUA_HOST_H
#define GDLUA_HOST_H

#include <stddef.h>

#include <lua.h>

/* The name used in messages: "gdlua: script.lua:3: boom". */
#define HOST_PROGNAME "gdlua"

/* ------------------------------------------------------------------ call.c */

/* Calls the function below `narg` arguments on the stack like lua_pcall, with
 * a message handler that appends a traceback, and with Ctrl-C armed: a SIGINT
 * makes the running Lua code raise "interrupted!" (lua.c's docall). */
int host_docall(lua_State *L, int narg, int nres);

/* Prints the error message on top of the stack, if status is an error, as
 * "gdlua: message" on stderr and pops it; returns status (lua.c's report). */
int host_report(lua_State *L, int status);

/* Prints "gdlua: <msg>" on stderr (lua.c's l_message). */
void host_message(const char *msg);

/* ----------------------------------------------------------------- alloc.c */

/* Puts free lists for the smallest objects (tensor handles) in front of the
 * state's allocator; host_alloc_remove, before lua_close, takes them away. */
void host_alloc_install(lua_State *L);
void host_alloc_remove(lua_State *L);

/* ----------------------------------------------------------------- paths.c */

/* Finds the directory holding gd/init.lua relative to the executable and
 * prepends it to package.path.  Returns 1, or 0 with an error message pushed. */
int host_setup_package_path(lua_State *L);

/* ------------------------------------------------------------------ repl.c */

/* Runs the interactive loop until end of input or :q.  With a terminal on
 * stdin and stdout it edits lines with libedit; otherwise it reads plain
 * lines (as lua.c does without readline).  Returns 1 on a normal end, 0 if the
 * REPL could not start (the error has been reported). */
int host_repl(lua_State *L);

/* -------------------------------------------------------------- lineedit.c */

/* Completion: given the text of the line before the cursor, returns (malloc'd,
 * may be NULL) the text to insert at the cursor and a listing of candidates to
 * show under the line.  Returns 0 on success. */
typedef int (*lineedit_complete_fn)(void *ud, const char *before, size_t len,
                                    char **insert, char **listing);

typedef struct lineedit lineedit;

/* Opens the line editor on stdin/stdout.  history_path may be NULL (no
 * history file).  Returns NULL if libedit cannot be set up. */
lineedit *lineedit_open(const char *history_path, lineedit_complete_fn complete, void *ud);

/* Reads one line with the given prompt.  Returns a malloc'd line without its
 * newline, or NULL at end of input (Ctrl-D).  *cancelled is set to 1 when the
 * line was abandoned with Ctrl-C; the returned line is then to be ignored. */
char *lineedit_read(lineedit *le, const char *prompt, int *cancelled);

/* Adds an entry (possibly spanning several lines) to the history and saves
 * the history file.  A failure is reported once and then ignored. */
void lineedit_add_history(lineedit *le, const char *entry);

void lineedit_close(lineedit *le);

#endif
