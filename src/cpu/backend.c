/*
 * cpu/backend.c: the CPU's function table (src/backend.h), the first
 * backend: memory from the C allocator, loops from the other files of src/cpu/.
 */
#include "cpu.h"
#include "conv.h"
#include "rnn.h"

#include <stdlib.h>
#include <string.h>

static const char *cpu_error_string(void) { return "the C allocator has no memory left"; }

static int cpu_device_count(void) { return 1; }

static int cpu_alloc(void **p, size_t n)
{
    /* 64-byte alignment: a cache line, and what AVX-512 loads like */
    size_t rounded = (n + 63) & ~(size_t)63;
    if (rounded == 0) rounded = 64;
    *p = aligned_alloc(64, rounded);
    return *p ? 0 : -1;
}

static void cpu_free(void *p) { free(p); }

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
