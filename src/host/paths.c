/*
 * paths.c: finding the gd Lua package relative to the gdlua executable, so
 * that `gdlua` works from any working directory, both from the build tree and
 * after `make install`:
 *
 *   <prefix>/bin/gdlua      ->  <prefix>/share/gdlua/lua/gd/init.lua
 *   <repo>/build/bin/gdlua  ->  <repo>/lua/gd/init.lua
 *
 * The executable is found through /proc/self/exe (argv[0] may be a bare name
 * found on $PATH, or a symlink).  The directory found is prepended to
 * package.path; the defaults stay after it, so system packages (busted in
 * /usr/share/lua/5.1) are still found.
 *
 * The GPU bundle (`make gpu-bundle`, scripts/gpu-bundle) copies busted and the
 * Lua modules it needs next to the executable, for machines that have none:
 *   <exe>/../share/lua/5.1/?.lua, ?/init.lua   (package.path, after gd, before the defaults)
 *   <exe>/../lib/lua/5.1/?.so                  (package.cpath)
 * They are added only where those directories exist.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"

/* Relative to the executable's directory, in the order tried. */
static const char *const package_dirs[] = {
    "/../share/gdlua/lua",      /* installed: prefix/bin -> prefix/share/gdlua/lua */
    "/../../lua",               /* build tree: build/bin -> lua */
};

/* Copies the directory of the running executable into dir; 0 on failure. */
static int executable_dir(char *dir, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", dir, size - 1);
    if (n <= 0 || (size_t)n >= size - 1) {
        dir[0] = '\0';
        return 0;
    }
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (slash == NULL) {
        dir[0] = '\0';
        return 0;
    }
    *slash = '\0';
    return 1;
}

/* If candidate holds gd/init.lua, stores its canonical path in root. */
static int try_package_dir(const char *candidate, char root[PATH_MAX])
{
    char init[PATH_MAX + 32];
    if (snprintf(init, sizeof init, "%s/gd/init.lua", candidate) >= (int)sizeof init)
        return 0;
    if (access(init, R_OK) != 0)
        return 0;
    return realpath(candidate, root) != NULL;
}

/* Prepends prefix to package[field] (a search path). */
static void prepend_path(lua_State *L, const char *field, const char *prefix)
{
    lua_getglobal(L, "package");
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    lua_pushstring(L, prefix);
    lua_getfield(L, -2, field);
    if (lua_isstring(L, -1))
        lua_concat(L, 2);
    else
        lua_pop(L, 1);
    lua_setfield(L, -2, field);
    lua_pop(L, 1);
}

/* The GPU bundle's Lua modules (see the top of this file), where present. */
static void add_bundle_dirs(lua_State *L, const char *exedir)
{
    char dir[PATH_MAX + 64], spec[3 * (PATH_MAX + 64)];
    snprintf(dir, sizeof dir, "%s/../share/lua/5.1", exedir);
    if (access(dir, R_OK) == 0) {
        snprintf(spec, sizeof spec, "%s/?.lua;%s/?/init.lua;", dir, dir);
        prepend_path(L, "path", spec);
    }
    snprintf(dir, sizeof dir, "%s/../lib/lua/5.1", exedir);
    if (access(dir, R_OK) == 0) {
        snprintf(spec, sizeof spec, "%s/?.so;", dir);
        prepend_path(L, "cpath", spec);
    }
}

int host_setup_package_path(lua_State *L)
{
    char exedir[PATH_MAX] = "", candidate[PATH_MAX + 64], root[PATH_MAX];
    char tried[3 * (PATH_MAX + 64)] = "";
    size_t used = 0;
    int found = 0;

    if (executable_dir(exedir, sizeof exedir)) {
        for (size_t i = 0; !found && i < sizeof package_dirs / sizeof package_dirs[0]; i++) {
            snprintf(candidate, sizeof candidate, "%s%s", exedir, package_dirs[i]);
            found = try_package_dir(candidate, root);
            used += (size_t)snprintf(tried + used, sizeof tried - used, "\n  %s", candidate);
        }
    }
#ifdef GD_BUILD_DIR
    /* Without /proc (or for a binary moved elsewhere): the tree it was built in. */
    if (!found) {
        snprintf(candidate, sizeof candidate, "%s/../lua", GD_BUILD_DIR);
        found = try_package_dir(candidate, root);
        if (used < sizeof tried)
            snprintf(tried + used, sizeof tried - used, "\n  %s", candidate);
    }
#endif
    if (!found) {
        lua_pushfstring(L, "cannot find the gd Lua package (gd/init.lua); looked in:%s", tried);
        return 0;
    }

    /* package.path = root/?.lua;root/?/init.lua;[the bundle's;]<default> */
    if (exedir[0]) add_bundle_dirs(L, exedir);
    lua_getglobal(L, "package");
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_pushliteral(L, "the package library is not loaded");
        return 0;
    }
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", root, root);
    lua_getfield(L, -2, "path");
    if (lua_isstring(L, -1))
        lua_concat(L, 2);
    else
        lua_pop(L, 1);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    return 1;
}
