/*
 * philox.h: the Philox 4x32-10 counter-based generator (Salmon et al., "Parallel
 * random numbers: as easy as 1, 2, 3", SC'11), with the constants of the
 * paper and of Random123.  Element i of a draw is computed from (seed,
 * offset + i / per_block) alone, so CPU threads and GPU threads produce the
 * same numbers in any order.
 *
 * How a draw maps blocks to elements (shared by CPU and CUDA):
 *   uniform float32: 4 elements per block, 24 bits each
 *   uniform float64: 2 elements per block, 53 bits from two words each
 *   normal  float32: 4 per block (two Box-Muller pairs from 32-bit uniforms)
 *   normal  float64: 2 per block (one Box-Muller pair from 64-bit uniforms)
 *   int64 tensors draw like float64 and round (uniform) or truncate.
 */
#ifndef GD_KERNELS_PHILOX_H
#define GD_KERNELS_PHILOX_H

#include "hd.h"

#define GD_PHILOX_M0 0xD2511F53u
#define GD_PHILOX_M1 0xCD9E8D57u
#define GD_PHILOX_W0 0x9E3779B9u
#define GD_PHILOX_W1 0xBB67AE85u

/* The bijection itself: a 128-bit counter and a 64-bit key, as 32-bit words
   in Random123's order (ctr[0] is the low word).  Ten rounds, the key bumped
   by the Weyl constants between them. */
GD_HD static inline void gd_philox4x32_10_words(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)GD_PHILOX_M0 * c0, p1 = (uint64_t)GD_PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += GD_PHILOX_W0;
        k1 += GD_PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/* gdlua's packing: counter = {low, high word of the block number, 0, 0},
   key = {low, high word of the seed}. */
GD_HD static inline void gd_philox4x32_10(uint64_t seed, uint64_t counter, uint32_t out[4])
{
    const uint32_t ctr[4] = {(uint32_t)counter, (uint32_t)(counter >> 32), 0, 0};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    gd_philox4x32_10_words(ctr, key, out);
}

/* [0, 1) from 24 bits (float) or from 53 bits of two words (double) */
GD_HD static inline float gd_u01_f(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }
GD_HD static inline double gd_u01_d(uint32_t hi, uint32_t lo)
{
    return (double)((((uint64_t)hi << 32) | lo) >> 11) * (1.0 / 9007199254740992.0);
}
/* (0, 1]: Box-Muller takes a log of it */
GD_HD static inline double gd_u01_open_d(uint32_t hi, uint32_t lo)
{
    return ((double)((((uint64_t)hi << 32) | lo) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}
GD_HD static inline double gd_u01_open_32(uint32_t x) { return ((double)x + 1.0) * (1.0 / 4294967296.0); }

/* Elements per Philox block for a draw (kind 0 uniform, 1 normal). */
GD_HD static inline int gd_philox_per_block(int is_float32) { return is_float32 ? 4 : 2; }

/* The values of block `b` of a draw, as doubles (v[0..per_block-1]). */
GD_HD static inline void gd_philox_block_values(uint64_t seed, uint64_t counter, int kind, int is_float32,
                                                double a, double b, double v[4])
{
    uint32_t w[4];
    gd_philox4x32_10(seed, counter, w);
    const double two_pi = 6.283185307179586476925286766559;
    if (kind == 0) {
        if (is_float32) {
            for (int j = 0; j < 4; j++) v[j] = a + (b - a) * (double)gd_u01_f(w[j]);
        } else {
            v[0] = a + (b - a) * gd_u01_d(w[0], w[1]);
            v[1] = a + (b - a) * gd_u01_d(w[2], w[3]);
        }
    } else {
        if (is_float32) {
            for (int j = 0; j < 4; j += 2) {
                double r = sqrt(-2.0 * log(gd_u01_open_32(w[j])));
                double t = two_pi * gd_u01_open_32(w[j + 1]);
                v[j] = a + b * r * cos(t);
                v[j + 1] = a + b * r * sin(t);
            }
        } else {
            double r = sqrt(-2.0 * log(gd_u01_open_d(w[0], w[1])));
            double t = two_pi * gd_u01_d(w[2], w[3]);
            v[0] = a + b * r * cos(t);
            v[1] = a + b * r * sin(t);
        }
    }
}

#endif
