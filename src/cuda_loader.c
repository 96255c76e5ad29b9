/*
 * cuda_loader.c: finds and opens libgd_cuda.so, next to libgd.so, the first
 * time a CUDA tensor is asked for, and hands out its function table
 * (gd_cuda_backend_v1, a gd_backend).  Without the library, the CUDA runtime
 * or a GPU, every CUDA request fails with a message that says which was
 * missing.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "backend.h"

#include <dlfcn.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static const gd_backend *backend;
static char why[4608];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load_backend(void)
{
    Dl_info info;
    char path[4096];
    const char *env = getenv("GD_CUDA_LIB");
    if (env && *env) {
        snprintf(path, sizeof path, "%s", env);
    } else if (dladdr((void *)load_backend, &info) && info.dli_fname) {
        char *copy = strdup(info.dli_fname);
        snprintf(path, sizeof path, "%s/libgd_cuda.so", copy ? dirname(copy) : ".");
        free(copy);
    } else {
        snprintf(path, sizeof path, "libgd_cuda.so");
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(why, sizeof why, "no CUDA GPU is available: the CUDA backend could not be loaded (%s)", dlerror());
        return;
    }
    const gd_backend *b = dlsym(h, "gd_cuda_backend_v1");
    if (!b || b->abi != GD_BACKEND_ABI) {
        snprintf(why, sizeof why, "no CUDA GPU is available: %s is not a compatible gdlua CUDA backend", path);
        return;
    }
    int n = b->device_count();
    if (n <= 0) {
        snprintf(why, sizeof why, "no CUDA GPU is available (%s)", b->error_string());
        return;
    }
    backend = b;
}

const gd_backend *gd_cuda_backend(void)
{
    pthread_once(&once, load_backend);
    if (!backend) gd_fail(GD_EDEVICE, "%s", why);
    return backend;
}

int gd_cuda_available(void) { return gd_cuda_backend() != NULL; }

int gd_cuda_device_count(void)
{
    const gd_backend *cu = gd_cuda_backend();
    return cu ? cu->device_count() : 0;
}
