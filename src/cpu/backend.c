/*
 * cpu/backend.c: the CPU's function table (src/backend.h), the first
 * backend: memory from the C allocator, loops from the other files of src/cpu/.
 */
#include "cpu.h"
#include "conv.h"
#include "rnn.h"

#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *cpu_error_string(void) { return "the C allocator has no memory left"; }

static int cpu_device_count(void) { return 1; }

/* ---- large blocks.  glibc maps each block above its mmap threshold (at
   most 32 MB) afresh and unmaps it when freed, so a loop whose temporaries are
   that large (a layer-wise optimizer's step on a 4096x4096 matrix makes a few
   of 64 MB) takes a page fault for every 4 KB of every temporary: measured,
   40% of LAMB's step.  So the last few freed large blocks are kept, at most
   BIG_KEEP of them and BIG_KEEP_BYTES in all (LARS on a 64 MB matrix leaves
   about 7 temporaries between two collections: 256 MB kept them 1.3x faster
   than none, 512 MB 2.4-3x), and handed out again for a
   request they fit without wasting more than an eighth.  When the allocator
   has no memory left, the kept blocks go back first and the request is tried
   again.  Any thread may free a storage, so the list has a lock (one per
   large block: nothing beside the page faults it saves). */
enum { BIG_MIN = 32 << 20, BIG_KEEP = 8 };
static const size_t BIG_KEEP_BYTES = (size_t)512 << 20;
static struct { void *p; size_t size; } big[BIG_KEEP];
static int big_n;
static size_t big_bytes;
static pthread_mutex_t big_lock = PTHREAD_MUTEX_INITIALIZER;

static void *big_take(size_t n)
{
    void *p = NULL;
    pthread_mutex_lock(&big_lock);
    for (int k = big_n - 1; k >= 0; k--)   /* the most recently freed first */
        if (big[k].size >= n && big[k].size - n <= n / 8) {
            p = big[k].p;
            big_bytes -= big[k].size;
            big[k] = big[--big_n];
            break;
        }
    pthread_mutex_unlock(&big_lock);
    return p;
}

/* 1 when p was kept */
static int big_give(void *p)
{
    size_t size = malloc_usable_size(p);
    if (size < BIG_MIN) return 0;
    int kept = 0;
    pthread_mutex_lock(&big_lock);
    if (size <= BIG_KEEP_BYTES) {
        /* room by dropping the oldest */
        while (big_n > 0 && (big_n == BIG_KEEP || big_bytes + size > BIG_KEEP_BYTES)) {
            free(big[0].p);
            big_bytes -= big[0].size;
            memmove(&big[0], &big[1], (size_t)(big_n - 1) * sizeof big[0]);
            big_n--;
        }
        big[big_n].p = p;
        big[big_n].size = size;
        big_n++;
        big_bytes += size;
        kept = 1;
    }
    pthread_mutex_unlock(&big_lock);
    return kept;
}

void gd_cpu_release_kept(void)
{
    pthread_mutex_lock(&big_lock);
    for (int k = 0; k < big_n; k++) free(big[k].p);
    big_n = 0;
    big_bytes = 0;
    pthread_mutex_unlock(&big_lock);
}

size_t gd_cpu_kept_bytes(void)
{
    pthread_mutex_lock(&big_lock);
    size_t b = big_bytes;
    pthread_mutex_unlock(&big_lock);
    return b;
}

static int cpu_alloc(void **p, size_t n)
{
    /* 64-byte alignment: a cache line, and what AVX-512 loads like */
    size_t rounded = (n + 63) & ~(size_t)63;
    if (rounded == 0) rounded = 64;
    *p = rounded >= BIG_MIN ? big_take(rounded) : NULL;
    if (!*p) *p = aligned_alloc(64, rounded);
    if (!*p && gd_cpu_kept_bytes() > 0) {
        gd_cpu_release_kept();
        *p = aligned_alloc(64, rounded);
    }
    return *p ? 0 : -1;
}

static void cpu_free(void *p)
{
    if (p && big_give(p)) return;
    free(p);
}

static int cpu_memcpy(void *dst, const void *src, size_t n, int dst_device, int src_device)
{
    (void)dst_device;
    (void)src_device;
    if (n) memcpy(dst, src, n);
    return 0;
}

static int cpu_synchronize(void) { return 0; }

const gd_backend gd_cpu_backend = {
    .abi = GD_BACKEND_ABI,
    .name = "cpu",
    .error_string = cpu_error_string,
    .device_count = cpu_device_count,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .memcpy = cpu_memcpy,
    .synchronize = cpu_synchronize,
    .copy = gd_cpu_copy,
    .fill = gd_cpu_fill,
    .binary = gd_cpu_binary,
    .binary_scalar = gd_cpu_binary_scalar,
    .unary = gd_cpu_unary,
    .ternary = gd_cpu_ternary,
    .range = gd_cpu_range,
    .reduce_all = gd_cpu_reduce_all,
    .reduce_dim = gd_cpu_reduce_dim,
    .cumsum = gd_cpu_cumsum,
    .gemm = gd_cpu_gemm,
    .random = gd_cpu_random,
    .optim_step = gd_cpu_optim_step,
    .nn_bias_rows = gd_cpu_nn_bias_rows,
    .nn_bias_grad = gd_cpu_nn_bias_grad,
    .nn_activation = gd_cpu_nn_activation,
    .nn_activation_backward = gd_cpu_nn_activation_backward,
    .nn_softmax = gd_cpu_nn_softmax,
    .nn_softmax_backward = gd_cpu_nn_softmax_backward,
    .nn_cross_entropy = gd_cpu_nn_cross_entropy,
    .nn_mse = gd_cpu_nn_mse,
    .nn_dropout = gd_cpu_nn_dropout,
    .nn_dropout_backward = gd_cpu_nn_dropout_backward,
    .nn_gather_rows = gd_cpu_nn_gather_rows,
    .nn_pointwise_loss = gd_cpu_nn_pointwise_loss,
    .nn_class_targets = gd_cpu_nn_class_targets,
    .nn_class_loss = gd_cpu_nn_class_loss,
    .nn_embedding_backward = gd_cpu_nn_embedding_backward,
    .nn_embedding_renorm = gd_cpu_nn_embedding_renorm,
    .nn_conv2d = gd_cpu_nn_conv2d,
    .nn_conv2d_backward = gd_cpu_nn_conv2d_backward,
    .nn_conv_transpose2d = gd_cpu_nn_conv_transpose2d,
    .nn_conv_transpose2d_backward = gd_cpu_nn_conv_transpose2d_backward,
    .nn_pool2d = gd_cpu_nn_pool2d,
    .nn_pool2d_backward = gd_cpu_nn_pool2d_backward,
    .nn_batchnorm = gd_cpu_nn_batchnorm,
    .nn_batchnorm_backward = gd_cpu_nn_batchnorm_backward,
    .nn_rownorm = gd_cpu_nn_rownorm,
    .nn_rownorm_backward = gd_cpu_nn_rownorm_backward,
    .nn_rnn_forward = gd_cpu_nn_rnn_forward,
    .nn_rnn_backward = gd_cpu_nn_rnn_backward,
};
