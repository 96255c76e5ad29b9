/*
 * mt19937.c: NumPy's legacy RandomState (MT19937), for the fixed-seed problems
 * of gd.bench (DeepOBS's quadratic_deep draws its rotation, eigenvalues and data
 * from np.random.RandomState(42)).  The same numbers as NumPy bit for bit:
 * init_genrand and genrand_int32 (Matsumoto & Nishimura 1998, as in
 * numpy/random/src/mt19937/mt19937.c), random_sample's 53-bit double
 * ((a >> 5) * 2^26 + (b >> 6)) / 2^53, and legacy_gauss's polar Box-Muller
 * with its cached second value (numpy/random/src/legacy/legacy-distributions.c).
 * The Lua version (lua/gd/bench/mt19937.lua) took 0.25 s of every bench
 * worker's start-up for the 200k draws of quadratic_deep; this one is ~100x less.
 */
#include "internal.h"
#include <math.h>

enum { MT_N = 624, MT_M = 397 };

void gd_mt19937_seed(gd_mt19937 *s, uint32_t seed)
{
    s->key[0] = seed;
    for (int i = 1; i < MT_N; i++)
        s->key[i] = 1812433253u * (s->key[i - 1] ^ (s->key[i - 1] >> 30)) + (uint32_t)i;
    s->pos = MT_N;
    s->has_gauss = 0;
    s->gauss = 0;
}

/* Regenerates the 624 words of state (the twist). */
static void mt19937_twist(gd_mt19937 *s)
{
    uint32_t *mt = s->key;
    for (int k = 0; k < MT_N; k++) {
        uint32_t y = (mt[k] & 0x80000000u) | (mt[(k + 1) % MT_N] & 0x7fffffffu);
        mt[k] = mt[(k + MT_M) % MT_N] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    s->pos = 0;
}

uint32_t gd_mt19937_int32(gd_mt19937 *s)
{
    if (s->pos >= MT_N || s->pos < 0) mt19937_twist(s);
    uint32_t y = s->key[s->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

double gd_mt19937_random(gd_mt19937 *s)
{
    uint32_t a = gd_mt19937_int32(s) >> 5, b = gd_mt19937_int32(s) >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
}

double gd_mt19937_gauss(gd_mt19937 *s)
{
    if (s->has_gauss) {
        s->has_gauss = 0;
        return s->gauss;
    }
    double x1, x2, r2;
    do {
        x1 = 2.0 * gd_mt19937_random(s) - 1.0;
        x2 = 2.0 * gd_mt19937_random(s) - 1.0;
        r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1.0 || r2 == 0.0);
    double f = sqrt(-2.0 * log(r2) / r2);
    s->gauss = f * x1;
    s->has_gauss = 1;
    return f * x2;
}

void gd_mt19937_normal_f32(gd_mt19937 *s, float *out, int64_t n, double mean, double sd)
{
    for (int64_t i = 0; i < n; i++) out[i] = (float)(mean + sd * gd_mt19937_gauss(s));
}
