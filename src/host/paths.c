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
    if (n <= 0 || (size_t)n >= size - 1)
        return 0;
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        return 0;
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

int host_setup_package_path(lua_State *L)
{
    char exedir[PATH_MAX], candidate[PATH_MAX + 64], root[PATH_MAX];
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

    /* package.path = root/?.lua;root/?/init.lua;<default> */
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
