/*
 * alloc.c: free lists in front of LuaJIT's allocator for the Lua state's
 * smallest objects.
 *
 * Every tensor a Lua expression makes is a 24-byte cdata handle, and most
 * die young: the d2l quadratic through autograd makes three a step, and
 * LuaJIT's allocator (a dlmalloc) spent about 460 instructions a step on
 * their malloc and free (lj_alloc_free alone ~100 a call: bins, coalescing),
 * 6% of the step.  Here a block freed with a size of at most HOST_SMALL bytes
 * goes on a list for that exact size, and the next request of that size takes
 * it back: a few instructions each way, and the most recently freed (warm)
 * memory first.  Every block still comes from LuaJIT's allocator: one taken
 * from a list was made by it for that very size, so a realloc or a free
 * passed on to it later is one it knows.  The lists keep at most HOST_KEEP
 * blocks each and HOST_IDLE_MAX bytes in all; the rest go back at once.  At
 * lua_close the original allocator is put back first: the blocks on the lists
 * are part of its arena, which it then frees whole.
 *
 * LuaJIT calls the allocator with the object's exact size on every free
 * (lj_mem_free(g, p, osize)); a new object is (NULL, 0, nsize).
 */
#include <stdint.h>
#include <stdlib.h>

#include <lua.h>

#include "host.h"

enum { HOST_SMALL = 64, HOST_KEEP = 1 << 16 };
/* all the lists together hold at most this many bytes */
static const size_t HOST_IDLE_MAX = (size_t)8 << 20;

typedef struct free_block { struct free_block *next; } free_block;

typedef struct host_alloc {
    lua_Alloc orig;
    void *orig_ud;
    free_block *head[HOST_SMALL + 1];
    uint32_t count[HOST_SMALL + 1];
    size_t idle;   /* bytes on the lists */
} host_alloc;

static void *host_alloc_f(void *ud, void *ptr, size_t osize, size_t nsize)
{
    host_alloc *a = ud;
    if (nsize == 0) {
        if (ptr && osize >= sizeof(free_block) && osize <= HOST_SMALL && a->count[osize] < HOST_KEEP &&
            a->idle + osize <= HOST_IDLE_MAX) {
            free_block *b = ptr;
            b->next = a->head[osize];
            a->head[osize] = b;
            a->count[osize]++;
            a->idle += osize;
            return NULL;
        }
    } else if (!ptr && nsize <= HOST_SMALL && a->head[nsize]) {
        free_block *b = a->head[nsize];
        a->head[nsize] = b->next;
        a->count[nsize]--;
        a->idle -= nsize;
        return b;
    }
    return a->orig(a->orig_ud, ptr, osize, nsize);
}

void host_alloc_install(lua_State *L)
{
    host_alloc *a = calloc(1, sizeof *a);
    if (!a) return;   /* (then LuaJIT's own, as it is) */
    a->orig = lua_getallocf(L, &a->orig_ud);
    lua_setallocf(L, host_alloc_f, a);
}

void host_alloc_remove(lua_State *L)
{
    void *ud;
    if (lua_getallocf(L, &ud) != host_alloc_f) return;
    host_alloc *a = ud;
    lua_setallocf(L, a->orig, a->orig_ud);
    free(a);
}
