/*
 * random.c: the global Philox generator (seed, offset) and random fills.
 * The math is in src/kernels/philox.h; the draws are the backend's
 * (src/cpu/random.c, cuda/random.cu).
 */
#include "internal.h"
#include "autograd.h"
#include "backend.h"
#include "kernels/philox.h"

#include <math.h>
#include <stdlib.h>

/* PyTorch's default seed, so that an unseeded run is still reproducible */
static uint64_t rng_seed = 67280421310721ull;
static uint64_t rng_offset = 0;

void gd_manual_seed(uint64_t seed) { rng_seed = seed; rng_offset = 0; }
uint64_t gd_initial_seed(void) { return rng_seed; }
void gd_rng_get_state(uint64_t *seed, uint64_t *offset) { *seed = rng_seed; *offset = rng_offset; }
void gd_rng_set_state(uint64_t seed, uint64_t offset) { rng_seed = seed; rng_offset = offset; }

void gd_philox4x32(uint64_t seed, uint64_t counter, uint32_t *out4) { gd_philox4x32_10(seed, counter, out4); }
void gd_philox4x32_words(const uint32_t *ctr4, const uint32_t *key2, uint32_t *out4)
{
    gd_philox4x32_10_words(ctr4, key2, out4);
}

int gd_random_seeded_(gd_tensor *t, int kind, double a, double b, uint64_t seed, uint64_t offset)
{
    GD_TRY(gd_ag_write(t, "random_seeded_"));
    GD_TRY(gd_check_tensor(t, "tensor"));
    if (kind != 0 && kind != 1) return gd_fail(GD_EINVAL, "unknown distribution %d", kind);
    if (a != a || b != b) return gd_fail(GD_EINVAL, "a distribution parameter is NaN");
    if (kind == 0 && !(a <= b)) return gd_fail(GD_EINVAL, "uniform: low %g is greater than high %g", a, b);
    if (kind == 1 && b < 0) return gd_fail(GD_EINVAL, "normal: std %g is negative", b);
    if (isinf(a) || isinf(b)) return gd_fail(GD_EINVAL, "a distribution parameter is infinite");
    if (t->scalar_type == GD_INT64) {
        if (kind == 1) return gd_fail(GD_EINVAL, "normal: int64 tensors cannot hold normal numbers");
        if (!gd_fits_int64(a) || !gd_fits_int64(b) || !(a < b))
            return gd_fail(GD_EINVAL, "uniform: an int64 tensor needs whole bounds low < high, got %g and %g", a, b);
        /* floor(low + (high - low) u) reaches every whole number of [low, high)
           equally only while the bounds are exact in a double */
        if (fabs(a) > 9007199254740992.0 || fabs(b) > 9007199254740992.0)
            return gd_fail(GD_EINVAL, "uniform: int64 bounds must lie within +-2^53, got %.17g and %.17g", a, b);
    }
    GD_TRY(gd_check_writable(t, kind ? "normal" : "uniform"));
    gd_tensor *c = NULL;
    int st;
    if (t->is_contiguous) { gd_tensor_retain(t); c = t; st = 0; }
    else st = gd_empty(&c, t->rank, t->sizes, t->scalar_type, t->device_kind);
    if (st) return st;
    const gd_backend *be = gd_backend_of(t->device_kind);
    if (!be) st = GD_EDEVICE;
    else st = GD_BACKEND_CALL(be, "random fill", random(c->data, c->count, c->scalar_type, kind, a, b, seed, offset));
    if (!st && c != t) st = gd_copy(t, c);
    gd_tensor_release(c);
    return st;
}

int gd_random_(gd_tensor *t, int kind, double a, double b)
{
    GD_TRY(gd_ag_write(t, "random_"));
    GD_TRY(gd_check_tensor(t, "tensor"));
    int st = gd_random_seeded_(t, kind, a, b, rng_seed, rng_offset);
    if (st) return st;
    int per = gd_philox_per_block(t->scalar_type == GD_FLOAT32);
    rng_offset += (uint64_t)((t->count + per - 1) / per);
    return GD_OK;
}

int gd_randperm_(gd_tensor *t, uint64_t seed, uint64_t offset)
{
    GD_TRY(gd_ag_write(t, "randperm_"));
    GD_TRY(gd_check_tensor(t, "tensor"));
    if (t->scalar_type != GD_INT64 || t->rank != 1 || t->device_kind != GD_CPU || !t->is_contiguous)
        return gd_fail(GD_EINVAL, "randperm: the output must be a contiguous 1-D int64 CPU tensor");
    int64_t n = t->count, *p = t->data;
    for (int64_t i = 0; i < n; i++) p[i] = i;
    /* Fisher-Yates from the end; 64-bit draws make the modulo bias negligible */
    uint32_t w[4] = {0, 0, 0, 0};
    for (int64_t i = n - 1, k = 0; i > 0; i--, k++) {
        if ((k & 1) == 0) gd_philox4x32_10(seed, offset + (uint64_t)(k / 2), w);
        uint64_t r = (k & 1) ? (((uint64_t)w[2] << 32) | w[3]) : (((uint64_t)w[0] << 32) | w[1]);
        int64_t j = (int64_t)(r % (uint64_t)(i + 1));
        int64_t tmp = p[i]; p[i] = p[j]; p[j] = tmp;
    }
    return GD_OK;
}
