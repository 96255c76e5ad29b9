/*
 * autograd_pool.c: the buffers a backward walk reuses from step to step.
 *
 * A backward through a model of gd.nn modules makes the same temporaries every
 * step: the input gradient of each layer, the seed 1 of a scalar loss, the
 * copy of a loss's gradient that its record keeps.  Allocated fresh, each is
 * new memory (the freed ones wait for the collection advice, 64 MB later), so
 * every step wrote cold cache lines: the digits MLP through loss:backward()
 * ran at 0.6x of the module path, whose layers reuse their buffers.
 *
 * The pool keeps up to AG_POOL_SLOTS such tensors and hands one out again
 * only when nothing but the pool refers to it: its own refcount is 1 (no
 * record, no gradient slot, no Lua handle, no gd.grad result holds it) and so
 * is its storage's (no view, alias or detach of it survives).  A tensor a user
 * still holds is therefore never written under them; the rule needs no
 * bookkeeping of who took what.  Only plain contiguous tensors that own their
 * whole storage, outside the graph, are reused; a slot whose tensor was
 * changed (set_, requires_grad_, given a .grad) is dropped instead.
 */
#include "autograd_internal.h"

enum { AG_POOL_SLOTS = 32 };
/* At most this many bytes held (the rest are allocated plainly): a few steps
   of a small convolutional net's activations' gradients. */
static const int64_t AG_POOL_MAX_BYTES = (int64_t)128 << 20;

static gd_tensor *pool[AG_POOL_SLOTS];
static int64_t slot_bytes[AG_POOL_SLOTS];   /* as counted when pooled (free_data zeroes count) */
/* What each slot was made as: its element count and (rank, dtype, device), so
   that a lookup reads these two arrays, not every pooled tensor's header (a
   cache line each: the scan was 6% of the d2l quadratic's step). */
static int64_t slot_count[AG_POOL_SLOTS];
static int32_t slot_kind[AG_POOL_SLOTS];

/* per hash of (count, kind): the last two slots that served it, + 1 (0: none) */
enum { HINT_BUCKETS = 16, HINT_WAYS = 2 };
static int8_t hint[HINT_BUCKETS][HINT_WAYS];

static int bucket_of(int64_t count, int32_t kind)
{
    return (int)(((uint64_t)count * 0x9E3779B97F4A7C15ull >> 40 ^ (uint64_t)kind) % HINT_BUCKETS);
}

static int32_t kind_of(int rank, int dtype, int device) { return rank | dtype << 8 | device << 16; }
static int64_t pool_bytes;

static int64_t nbytes_of(const gd_tensor *t) { return t->count * (int64_t)gd_dtype_size(t->scalar_type); }

/* Nobody but the pool refers to t, and t is still what the pool made. */
static bool idle(const gd_tensor *t)
{
    return t->refcount == 1 && t->storage && t->storage->refcount == 1 && !t->gradient && !t->grad_node &&
           !t->requires_grad && !t->is_freed && t->grad_refs == 0;
}

static bool fits(const gd_tensor *t, int rank, const int64_t *sizes, int dtype, int device)
{
    if (t->rank != rank || t->scalar_type != dtype || t->device_kind != device || !t->is_contiguous ||
        t->storage_offset != 0 || t->data != t->storage->data ||
        (int64_t)t->storage->nbytes != nbytes_of(t))
        return false;
    for (int d = 0; d < rank; d++)
        if (t->sizes[d] != sizes[d]) return false;
    return true;
}

/* Slot k (-1: none), when it holds an idle tensor made for this key that
   still fits: *out, retained. */
static bool take(int k, int64_t count, int32_t kind, int rank, const int64_t *sizes, int dtype, int device,
                 gd_tensor **out)
{
    if (k < 0 || slot_count[k] != count || slot_kind[k] != kind || !pool[k]) return false;
    gd_tensor *t = pool[k];
    if (!idle(t) || !fits(t, rank, sizes, dtype, device)) return false;
    gd_tensor_retain(t);
    gd_tensor_bump_version(t);   /* (nobody can hold an older view: conservative) */
    *out = t;
    return true;
}

static void drop(int k)
{
    pool_bytes -= slot_bytes[k];
    slot_bytes[k] = 0;
    gd_tensor_release(pool[k]);
    pool[k] = NULL;
    slot_count[k] = -1;
}

int gd_ag_pool_empty(gd_tensor **out, int rank, const int64_t *sizes, int dtype, int device)
{
    int64_t count = 1;
    for (int d = 0; d < rank; d++) count *= sizes[d];
    int32_t kind = kind_of(rank, dtype, device);
    /* a hit: a slot made for this count and kind, idle and still fitting;
       first the two slots that served this key last (a step asks for the
       same buffers every time), then all of them */
    int b = bucket_of(count, kind);
    for (int w = 0; w < HINT_WAYS; w++)
        if (take(hint[b][w] - 1, count, kind, rank, sizes, dtype, device, out)) return GD_OK;
    for (int k = 0; k < AG_POOL_SLOTS; k++)
        if (take(k, count, kind, rank, sizes, dtype, device, out)) {
            if (hint[b][0] != k + 1) {
                hint[b][1] = hint[b][0];
                hint[b][0] = (int8_t)(k + 1);
            }
            return GD_OK;
        }
    /* a miss: the slots that can go, and a free one for the new tensor */
    int free_slot = -1;
    for (int k = 0; k < AG_POOL_SLOTS; k++) {
        gd_tensor *t = pool[k];
        if (!t) {   /* an empty slot is taken before an idle one is evicted (the seed and a step's gradients
                       used to evict each other every step) */
            if (free_slot < 0 || pool[free_slot]) free_slot = k;
            continue;
        }
        if (!idle(t)) {
            /* only the pool holds it, but it cannot serve again (freed early,
               made a leaf, given a .grad): its slot is free */
            if (t->refcount == 1) {
                drop(k);
                if (free_slot < 0 || pool[free_slot]) free_slot = k;
            }
            continue;
        }
        if (fits(t, rank, sizes, dtype, device)) {
            gd_tensor_retain(t);
            gd_tensor_bump_version(t);   /* (nobody can hold an older view: conservative) */
            *out = t;
            return GD_OK;
        }
        /* idle, but changed under the pool (set_ ...) or of another shape: its
           slot can go to the new one */
        if (free_slot < 0 || pool[free_slot]) free_slot = k;
    }
    GD_TRY(gd_empty(out, rank, sizes, dtype, device));
    gd_tensor *t = *out;
    if (free_slot < 0) return GD_OK;
    if (pool[free_slot]) drop(free_slot);
    if (pool_bytes + nbytes_of(t) > AG_POOL_MAX_BYTES) return GD_OK;
    gd_tensor_retain(t);
    pool[free_slot] = t;
    slot_bytes[free_slot] = nbytes_of(t);
    slot_count[free_slot] = t->count;
    slot_kind[free_slot] = kind;
    pool_bytes += slot_bytes[free_slot];
    return GD_OK;
}

int gd_ag_pool_zeros(gd_tensor **out, int rank, const int64_t *sizes, int dtype, int device)
{
    GD_TRY(gd_ag_pool_empty(out, rank, sizes, dtype, device));
    int st = gd_fill(*out, 0);
    if (st) { gd_tensor_release(*out); *out = NULL; }
    return st;
}

void gd_autograd_release_buffers(void)
{
    /* a busy one is still held elsewhere: it leaves the pool, and goes with its
       last holder */
    for (int k = 0; k < AG_POOL_SLOTS; k++)
        if (pool[k]) drop(k);
}

int64_t gd_autograd_buffer_bytes(void) { return pool_bytes; }
