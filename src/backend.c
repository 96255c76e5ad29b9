/*
 * backend.c: choosing a device's function table (src/backend.h), turning its
 * failures into messages, and counting host<->device transfers.
 */
#include "internal.h"
#include "backend.h"

#include <stdatomic.h>
#include <stdio.h>

const gd_backend *gd_device_backend(int device)
{
    switch (device) {
    case GD_CPU: return &gd_cpu_backend;
    case GD_CUDA: return gd_cuda_backend();
    default: gd_fail(GD_EINVAL, "unknown device %d", device); return NULL;
    }
}

int gd_backend_fail(const gd_backend *b, const char *what)
{
    return gd_fail(GD_EDEVICE, "%s failed on %s: %s", what, b->name, b->error_string());
}

static _Atomic int64_t transfers[2];

int gd_transfer(const gd_backend *b, void *dst, const void *src, size_t n, int dst_device, int src_device,
                int scalar)
{
    if (dst_device != src_device) atomic_fetch_add(&transfers[scalar ? 1 : 0], 1);
    return gd_backend_status(b, b->memcpy(dst, src, n, dst_device, src_device), "copy");
}

int64_t gd_transfer_count(int scalar) { return atomic_load(&transfers[scalar ? 1 : 0]); }

int gd_synchronize(int device)
{
    const gd_backend *b = gd_backend_of(device);
    if (!b) return GD_EDEVICE;
    return GD_BACKEND_CALL(b, "synchronize", synchronize());
}
