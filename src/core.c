/*
 * core.c: error messages, storage and its accounting, dtype helpers.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "backend.h"
#include "cpu/cpu.h"

#include <math.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <malloc.h>
#include <pthread.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

/* ------------------------------------------------------------------ errors */

static _Thread_local char last_error[1024];   /* (the general TLS model: 1 KB would not fit the static TLS that a dlopen may use) */

const char *gd_last_error(void) { return last_error; }

void gd_set_error_message(const char *msg)
{
    snprintf(last_error, sizeof last_error, "%s", msg ? msg : "");
}

int gd_fail(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

const char *gd_version(void) { return "gdlua 0.1.0"; }

double gd_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------------ memory */

/* Live bytes per device, and the CPU+GPU total ever allocated, which drives
   gd_mem_collect_advised(): the Lua GC sees a small handle for a 100 MB
   tensor, so the Lua layer asks after each allocation whether to collect.
   The rule is a heap that doubles: collect once the bytes allocated since the
   last collection exceed both 64 MB and what survived that collection.  What
   survived is measured at the first allocation after an advice (the Lua layer
   collects in between); measuring at the advice itself would count the
   garbage about to be collected, and the threshold would ratchet upwards. */
/* (plain: see gd_owned_add64 in internal.h) */
static int64_t live_bytes[GD_DEVICE_COUNT];
static int64_t allocated_total;
static _Atomic int64_t allocated_at_advice;
static _Atomic int64_t live_after_collect;
static _Atomic int baseline_pending;

enum { GD_COLLECT_FLOOR_MB = 64 };
static _Atomic int64_t collect_floor = (int64_t)GD_COLLECT_FLOOR_MB << 20;

void gd_mem_set_collect_floor(int64_t bytes)
{
    const int64_t least = (int64_t)GD_COLLECT_FLOOR_MB << 20;
    atomic_store(&collect_floor, bytes > least ? bytes : least);
}

int64_t gd_mem_kept_bytes(void) { return (int64_t)gd_cpu_kept_bytes(); }
void gd_mem_release_kept(void) { gd_cpu_release_kept(); }

int64_t gd_mem_live_bytes(int device)
{
    if (device < 0 || device >= GD_DEVICE_COUNT) return 0;
    return __atomic_load_n(&live_bytes[device], __ATOMIC_RELAXED);
}

/* Whether the advice's rule holds now. */
static bool advice_due(void)
{
    int64_t since = __atomic_load_n(&allocated_total, __ATOMIC_RELAXED) - atomic_load(&allocated_at_advice);
    return !atomic_load(&baseline_pending) && since > atomic_load(&collect_floor) &&
           since > atomic_load(&live_after_collect);
}

/* Set by an allocation after which the rule held, cleared by the advice: the
   Lua layer reads it after each new tensor (one load, where an FFI call to
   gd_mem_collect_advised per tensor was 2% of the d2l quadratic's step) and
   asks gd_mem_collect_advised only when it is set. */
static int collect_hint;

const int *gd_mem_collect_hint(void) { return &collect_hint; }

int gd_mem_collect_advised(void)
{
    /* (also when the rule no longer holds: the floor rose since it was set) */
    __atomic_store_n(&collect_hint, 0, __ATOMIC_RELAXED);
    if (!advice_due()) return 0;
    atomic_store(&baseline_pending, 1);
    return 1;
}

/* Called with the size of each new storage, before it is counted. */
static void account_allocation(int device, int64_t nbytes)
{
    if (atomic_load_explicit(&baseline_pending, memory_order_relaxed) && atomic_exchange(&baseline_pending, 0)) {
        int64_t live = 0; /* on every device */
        for (int d = 0; d < GD_DEVICE_COUNT; d++) live += __atomic_load_n(&live_bytes[d], __ATOMIC_RELAXED);
        atomic_store(&live_after_collect, live);
        atomic_store(&allocated_at_advice, __atomic_load_n(&allocated_total, __ATOMIC_RELAXED));
    }
    gd_owned_add64(&live_bytes[device], nbytes);
    gd_owned_add64(&allocated_total, nbytes);
    if (!__atomic_load_n(&collect_hint, __ATOMIC_RELAXED) && advice_due())
        __atomic_store_n(&collect_hint, 1, __ATOMIC_RELAXED);
}


static _Atomic int64_t uid_counter;
/* Unique, not ordered across threads: each thread takes a block of 256. */
static GD_TLS int64_t uid_next, uid_end;
int64_t gd_next_uid(void)
{
    if (uid_next == uid_end) {
        uid_next = atomic_fetch_add(&uid_counter, 256) + 1;
        uid_end = uid_next + 256;
    }
    return uid_next++;
}

/* glibc's defaults return every freed tensor of more than 128 KB to the
   kernel (mmap threshold; trimming the heap top), so the next tensor of that
   size page-faults all its memory in again: for a loop of 1 MB temporaries
   that was most of the time spent (measured 12 s against 1.8 s for 20000).
   Tensors up to 32 MB (glibc's largest mmap threshold) come from the heap,
   and the heap top is trimmed only when more than 256 MB of it is free (to
   64 MB), well above the 64 MB of garbage the collection advice lets
   accumulate, so that a collection's worth of freed tensors is reused, not
   returned and faulted in again.  The resident size stays near the peak of
   what was in use. */
static pthread_once_t malloc_tuned = PTHREAD_ONCE_INIT;
static int malloc_tuned_done;
static void tune_malloc(void)
{
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_TOP_PAD, 64 << 20);
}

/* ---- small blocks: free lists for tensor headers and small CPU storages.
   A training step through autograd makes a handful of tensors of a few
   elements each; glibc's malloc/aligned_alloc/free of a header, a storage
   header and a 64-byte-aligned data block cost about 150 ns a tensor there
   (fragmentation: unlink_chunk and malloc_consolidate led the profile), five
   times the operation itself.  A small CPU storage is one block (its header
   in the first cache line, the data 64-byte aligned after it) of a size class;
   up to 16 bytes of data (a scalar, the d2l quadratic's 2 doubles) share the
   header's line instead, 16-byte aligned after it: one line a tensor, not two,
   for the young temporaries a collection cycle goes through by the ten
   thousand;
   freed blocks and headers go on a list per class and thread, up to a bound,
   the rest back to malloc.
   Under AddressSanitizer nothing is pooled, so that a use after free is
   still caught. */
#if defined(__SANITIZE_ADDRESS__)
#define GD_POOLS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GD_POOLS 0
#endif
#endif
#ifndef GD_POOLS
#define GD_POOLS 1
#endif

enum { POOL_HEAD = 64, POOL_CLASSES = 5 };
/* class 0's data: in the header's own line, after the header */
enum { TINY_HEAD = 48, TINY_BYTES = 16 };
enum { HEADER_BLOCK = (sizeof(gd_tensor) + 63) / 64 * 64 };
static const size_t pool_data_bytes[POOL_CLASSES] = {TINY_BYTES, 64, 256, 1024, 4096};
/* How many free blocks each list keeps: a collection cycle releases the
   temporaries of tens of thousands of operations at once (up to 32768 and
   more when gd.aux paces collections further apart), and what the lists
   cannot keep goes back to malloc only to be asked for again: the churn this
   avoids, and worse, since aligned_alloc then splits fragmented chunks.  A
   list of 2048 blocks of 1 KB cost quadratic_deep's 100-element loop 12%
   (_int_memalign, _int_free and malloc_consolidate at the top of the
   profile) once a burst of 40000 such tensors had come and gone.  Each list
   keeps up to its count, and all of a thread's lists together at most
   POOL_IDLE_MAX bytes (the C memory a collection is advised after: what a
   cycle can release).  Memory is kept only after it was in use at once. */
static const int pool_keep[POOL_CLASSES + 1] = {131072, 131072, 65536, 32768, 16384, 131072};
static const int64_t POOL_IDLE_MAX = (int64_t)GD_COLLECT_FLOOR_MB << 20;

typedef struct pool_node { struct pool_node *next; } pool_node;
/* Per thread, so that taking and giving need no atomic instruction (each
   costs as much as the rest of a small allocation here).  A block freed on
   another thread than its allocating one joins that thread's list; a thread's
   lists are freed when it exits (a key destructor). */
typedef struct {
    int count;
    pool_node *head;
} pool;
static GD_TLS int64_t pool_idle_bytes;   /* in all of this thread's lists */
/* [0 .. POOL_CLASSES-1]: storage blocks by class; [POOL_CLASSES]: tensor headers */
static GD_TLS pool pools[POOL_CLASSES + 1];
static GD_TLS int pools_registered;
static pthread_key_t pools_key;
static pthread_once_t pools_key_once = PTHREAD_ONCE_INIT;

/* Where a free block keeps its list link: a storage block in its first line,
   which its release touches anyway (the refcount); a tensor header over its
   storage pointer, in the first line, the only one its release reads (the
   others are cleared when it is handed out again). */
static inline pool_node **link_of(int c, void *block)
{
    return (pool_node **)((char *)block + (c == POOL_CLASSES ? offsetof(gd_tensor, storage) : 0));
}

static void pools_drain(void *unused)
{
    (void)unused;
    for (int c = 0; c <= POOL_CLASSES; c++) {
        pool_node *n = pools[c].head;
        while (n) {
            pool_node *next = *link_of(c, n);
            free(n);
            n = next;
        }
        pools[c].head = NULL;
        pools[c].count = 0;
    }
    pool_idle_bytes = 0;
}
static void pools_key_make(void) { pthread_key_create(&pools_key, pools_drain); }

static int64_t pool_block_bytes(int c)
{
    return c == 0 ? (int64_t)(TINY_HEAD + TINY_BYTES)
           : c < POOL_CLASSES ? (int64_t)(POOL_HEAD + pool_data_bytes[c]) : (int64_t)HEADER_BLOCK;
}

static void *pool_take(int c)
{
    pool *p = &pools[c];
    pool_node *n = p->head;
    if (n) {
        p->head = *link_of(c, n);
        p->count--;
        pool_idle_bytes -= pool_block_bytes(c);
    }
    return n;
}

/* 1 when kept, 0 when the caller must free it */
static int pool_give(int c, void *block)
{
    pool *p = &pools[c];
    if (p->count >= pool_keep[c] || pool_idle_bytes + pool_block_bytes(c) > POOL_IDLE_MAX) return 0;
    if (!pools_registered) {   /* the first block this thread keeps: free its lists when it exits */
        pthread_once(&pools_key_once, pools_key_make);
        if (pthread_setspecific(pools_key, (void *)1) != 0) return 0;
        pools_registered = 1;
    }
    pool_node *n = block;
    *link_of(c, n) = p->head;
    p->head = n;
    p->count++;
    pool_idle_bytes += pool_block_bytes(c);
    return 1;
}

/* The header's lines that a tensor of up to 4 dimensions uses.  A header on
   the free list has zeros in its last line (strides[4..7]: gd_tensor_header_free
   clears them when they were used), so only the first three are cleared when
   it is handed out again: one cold line less to write for each new tensor. */
enum { HEADER_HOT = offsetof(gd_tensor, strides) + 4 * sizeof(int64_t) };
_Static_assert(HEADER_HOT == 192 && sizeof(gd_tensor) == 224, "a header is 3 lines and strides[4..7]");
_Static_assert(offsetof(gd_tensor, scalar_type) + sizeof(int32_t) <= 64,
               "what a release reads (refcount, lua_grad, uid, storage, gradient, grad_node, rank) is in line 0");

/* Zeros in 16-byte stores (gcc makes memset a loop of 8-byte ones: 50
   instructions of each new tensor). */
static inline void zero_lines(gd_tensor *t, bool whole)
{
#if defined(__SSE2__)
    __m128i z = _mm_setzero_si128();
    __m128i *p = (__m128i *)t;
    _mm_storeu_si128(p + 0, z), _mm_storeu_si128(p + 1, z), _mm_storeu_si128(p + 2, z);
    _mm_storeu_si128(p + 3, z), _mm_storeu_si128(p + 4, z), _mm_storeu_si128(p + 5, z);
    _mm_storeu_si128(p + 6, z), _mm_storeu_si128(p + 7, z), _mm_storeu_si128(p + 8, z);
    _mm_storeu_si128(p + 9, z), _mm_storeu_si128(p + 10, z), _mm_storeu_si128(p + 11, z);
    if (whole) _mm_storeu_si128(p + 12, z), _mm_storeu_si128(p + 13, z);
#else
    memset(t, 0, whole ? sizeof *t : (size_t)HEADER_HOT);
#endif
}

/* Headers are blocks of whole cache lines, aligned to one (calloc's 240-byte
   chunks straddled five lines for 224 bytes). */
gd_tensor *gd_tensor_header_alloc(void)
{
    gd_tensor *t = GD_POOLS ? pool_take(POOL_CLASSES) : NULL;
    if (t) {
        zero_lines(t, false);
        return t;
    }
    t = aligned_alloc(64, HEADER_BLOCK);
    if (t) zero_lines(t, true);
    return t;
}

void gd_tensor_header_free(gd_tensor *t)
{
    if (!t) return;
    /* (entries from rank on are 0: only a tensor of more than 4 dimensions
       wrote the last line) */
    if (t->rank > 4) memset(t->strides + 4, 0, 4 * sizeof(int64_t));
    if (GD_POOLS && pool_give(POOL_CLASSES, t)) return;
    free(t);
}

static int pool_class_of(size_t nbytes)
{
    for (int c = 0; c < POOL_CLASSES; c++)
        if (nbytes <= pool_data_bytes[c]) return c;
    return -1;
}

/* A small CPU storage: header and data in one block of class c. */
static gd_storage *small_storage_new(int c)
{
    void *block = pool_take(c);
    if (!block) block = aligned_alloc(64, (size_t)pool_block_bytes(c));
    if (!block) return NULL;
    gd_storage *s = block;
    memset(s, 0, sizeof *s);
    s->data = (char *)block + (c == 0 ? TINY_HEAD : POOL_HEAD);
    s->pool_class = c;
    return s;
}

_Static_assert(sizeof(struct gd_storage) <= POOL_HEAD, "a storage header fits in its block's first line");
_Static_assert(sizeof(struct gd_storage) <= TINY_HEAD && TINY_HEAD % 16 == 0 && TINY_HEAD + TINY_BYTES == 64,
               "a tiny block is one line: the header, then 16 bytes of 16-byte-aligned data");
_Static_assert(offsetof(gd_tensor, storage) + sizeof(pool_node *) <= sizeof(gd_tensor),
               "a free header holds its list link (link_of)");

int gd_storage_new(gd_storage **out, size_t nbytes, int device)
{
    if (!__atomic_load_n(&malloc_tuned_done, __ATOMIC_ACQUIRE)) {   /* (pthread_once's call: 0.6% of a small op) */
        pthread_once(&malloc_tuned, tune_malloc);
        __atomic_store_n(&malloc_tuned_done, 1, __ATOMIC_RELEASE);
    }
    if (device < 0 || device >= GD_DEVICE_COUNT) return gd_fail(GD_EINVAL, "unknown device %d", device);
    int c = GD_POOLS && device == GD_CPU ? pool_class_of(nbytes) : -1;
    gd_storage *s;
    if (c >= 0) {
        s = small_storage_new(c);
        if (!s) return gd_fail(GD_ENOMEM, "out of memory allocating %zu bytes on cpu", nbytes);
    } else {
        s = calloc(1, sizeof *s);
        if (!s) return gd_fail(GD_ENOMEM, "out of memory allocating a storage header");
        s->pool_class = -1;
        const gd_backend *b = gd_backend_of(device);
        if (!b) { free(s); return GD_EDEVICE; }
        if (b->alloc(&s->data, nbytes) != 0) {
            free(s);
            return gd_fail(GD_ENOMEM, "out of memory allocating %zu bytes on %s: %s", nbytes, b->name,
                           b->error_string());
        }
    }
    s->nbytes = nbytes;
    s->device = device;
    s->refcount = 1;
    account_allocation(device, (int64_t)nbytes);
    *out = s;
    return GD_OK;
}

void gd_storage_retain(gd_storage *s)
{
    if (s) gd_owned_add32(&s->refcount, 1);
}

void gd_storage_release(gd_storage *s)
{
    if (!s) return;
    if (gd_owned_add32(&s->refcount, -1) != 0) return;
    gd_owned_add64(&live_bytes[s->device], -(int64_t)s->nbytes);
    if (s->pool_class >= 0) {
        if (!pool_give(s->pool_class, s)) free(s);
        return;
    }
    /* (the storage exists: its device's backend was loaded) */
    const gd_backend *b = gd_backend_of(s->device);
    if (b) b->free(s->data);
    free(s);
}

/* threads: src/threads.c */

/* ------------------------------------------------------------------ dtypes */

size_t(gd_dtype_size)(int dtype)
{
    switch (dtype) {
    case GD_FLOAT32: return 4;
    case GD_FLOAT64: return 8;
    case GD_INT64: return 8;
    default: return 0;
    }
}

const char *gd_dtype_name(int dtype)
{
    switch (dtype) {
    case GD_FLOAT32: return "float32";
    case GD_FLOAT64: return "float64";
    case GD_INT64: return "int64";
    default: return "unknown";
    }
}

bool gd_is_float(int dtype) { return dtype == GD_FLOAT32 || dtype == GD_FLOAT64; }

int gd_promote(int a, int b)
{
    if (a == b) return a;
    if (a == GD_FLOAT64 || b == GD_FLOAT64) return GD_FLOAT64;
    return GD_FLOAT32; /* float32 with int64 */
}

const char *gd_shape_str(const gd_tensor *t, char *buf, size_t n)
{
    if (t->rank == 0) { snprintf(buf, n, "scalar"); return buf; }
    size_t used = 0;
    buf[0] = 0;
    for (int d = 0; d < t->rank && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, d ? "x%lld" : "%lld", (long long)t->sizes[d]);
    return buf;
}

int gd_check_tensor(const gd_tensor *t, const char *what)
{
    if (!t) return gd_fail(GD_EINVAL, "%s is not a tensor", what);
    if (t->is_freed) return gd_fail(GD_EFREED, "%s was released with free()", what);
    return GD_OK;
}

int gd_check_dim(const gd_tensor *t, int dim, const char *what)
{
    if (dim < 0 || dim >= t->rank) {
        if (t->rank == 0)
            return gd_fail(GD_EINVAL, "%s: dimension %d out of range for a scalar tensor", what, dim + 1);
        return gd_fail(GD_EINVAL, "%s: dimension %d out of range (the tensor has %d dimension%s)",
                       what, dim + 1, t->rank, t->rank == 1 ? "" : "s");
    }
    return GD_OK;
}

int gd_check_geometry(int rank, const int64_t *sizes, const int64_t *strides, const char *what)
{
    if (rank < 0 || rank > GD_MAX_DIMS)
        return gd_fail(GD_EINVAL, "%s: %d dimensions requested, at most %d are supported", what, rank, GD_MAX_DIMS);
    int64_t count = 1;
    bool empty = false;
    for (int d = 0; d < rank; d++) {
        if (sizes[d] < 0)
            return gd_fail(GD_EINVAL, "%s: size %lld of dimension %d is negative", what, (long long)sizes[d], d + 1);
        if (strides && strides[d] < 0)
            return gd_fail(GD_EINVAL, "%s: stride %lld of dimension %d is negative", what, (long long)strides[d],
                           d + 1);
        if (sizes[d] == 0) empty = true;
    }
    /* count with overflow checks; an empty tensor may have any other sizes
       up to the limit, so check the product of the non-zero sizes */
    for (int d = 0; d < rank; d++) {
        int64_t s = sizes[d] ? sizes[d] : 1;
        if (__builtin_mul_overflow(count, s, &count) || count > GD_MAX_NUMEL) {
            return gd_fail(GD_EINVAL, "%s: the shape has too many elements (at most 2^53%s)", what,
                           empty ? ", counting non-zero sizes" : "");
        }
    }
    return GD_OK;
}

bool gd_fits_int64(double v)
{
    return v == v && v >= -9223372036854775808.0 && v < 9223372036854775808.0 && v == floor(v);
}

int gd_check_int64_value(double v, const char *what)
{
    if (v != v) return gd_fail(GD_EINVAL, "%s: NaN cannot be stored in an int64 tensor", what);
    if (v != floor(v) && !isinf(v))
        return gd_fail(GD_EINVAL, "%s: value %.17g is not an integer, and the tensor is int64", what, v);
    if (!gd_fits_int64(v)) return gd_fail(GD_EINVAL, "%s: value %g does not fit in int64", what, v);
    return GD_OK;
}

/* Sufficient test for "no two indices share an element": with the dimensions
   sorted by stride, each stride must step past everything the smaller ones
   reach.  Layouts that interleave without overlapping also fail it; they can
   only be made with set_, and a write into one is refused with a clear
   message rather than risked. */
static bool has_internal_overlap(const gd_tensor *t)
{
    if (t->is_contiguous || t->count <= 1) return false;
    int64_t size[GD_MAX_DIMS], stride[GD_MAX_DIMS];
    int n = 0;
    for (int d = 0; d < t->rank; d++) {
        if (t->sizes[d] <= 1) continue;
        if (t->strides[d] == 0) return true;
        /* insertion sort by stride */
        int k = n++;
        while (k > 0 && stride[k - 1] > t->strides[d]) {
            stride[k] = stride[k - 1];
            size[k] = size[k - 1];
            k--;
        }
        stride[k] = t->strides[d];
        size[k] = t->sizes[d];
    }
    int64_t reach = 0; /* the largest offset the dimensions so far can reach */
    for (int k = 0; k < n; k++) {
        if (stride[k] <= reach) return true;
        reach += (size[k] - 1) * stride[k];
    }
    return false;
}

int gd_check_writable(const gd_tensor *t, const char *what)
{
    if (has_internal_overlap(t))
        return gd_fail(GD_EINVAL, "%s: the tensor is an expanded (or self-overlapping) view, where several "
                                  "elements share one memory location; write into a clone() instead", what);
    return GD_OK;
}

const char *gd_device_name(int device)
{
    static const char *names[GD_DEVICE_COUNT] = {"cpu", "cuda"};
    return device >= 0 && device < GD_DEVICE_COUNT ? names[device] : "?";
}

int gd_check_same_device(const gd_tensor *a, const gd_tensor *b)
{
    if (a->device_kind != b->device_kind)
        return gd_fail(GD_EINVAL, "tensors are on different devices (%s and %s)",
                       gd_device_name(a->device_kind), gd_device_name(b->device_kind));
    return GD_OK;
}

/* Class or row indices: every idx value v must satisfy base <= v < base + n.
   Checked from the index's smallest and largest values (two reductions on its
   device, two scalar readouts); when one is out of range, *bad gets the
   position of the first offender (found on the host: an error path) and
   *value its value.  Returns 1 when one is out of range, 0 when none is. */
int gd_indices_out_of_range(const gd_tensor *idx, int64_t base, int64_t n, int64_t *bad, int64_t *value, int *st)
{
    *st = GD_OK;
    if (idx->count == 0) return 0;
    double lo, hi;
    *st = gd_reduce_all(idx, GD_RED_MIN, 0, &lo);
    if (!*st) *st = gd_reduce_all(idx, GD_RED_MAX, 0, &hi);
    if (*st) return 0;
    /* (exact for |v| < 2^53; beyond, the rounded value is far outside any n) */
    if (lo >= (double)base && hi < (double)base + (double)n && n > 0) return 0;
    gd_tensor *h = NULL;
    *st = gd_to(&h, idx, GD_INT64, GD_CPU);
    gd_tensor *c = NULL;
    if (!*st) *st = gd_contiguous(&c, h);
    gd_tensor_release(h);
    if (*st) return 0;
    const int64_t *v = c->data;
    int found = 0;
    for (int64_t i = 0; i < c->count && !found; i++)
        if (!(n > 0 && (uint64_t)v[i] - (uint64_t)base < (uint64_t)n)) {
            *bad = i;
            *value = v[i];
            found = 1;
        }
    gd_tensor_release(c);
    return found;
}
