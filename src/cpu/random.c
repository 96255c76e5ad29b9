/*
 * cpu/random.c: the CPU backend's random fills: n contiguous Philox draws,
 * block k of 4 (float32) or 2 (float64/int64) values from counter offset + k,
 * so that the values do not depend on the thread count (src/kernels/philox.h).
 */
#include "cpu.h"
#include "../kernels/philox.h"

#include <math.h>

int gd_cpu_random(void *data, int64_t n, int dtype, int kind, double a, double b, uint64_t seed, uint64_t offset)
{
    int f32 = dtype == GD_FLOAT32;
    int per = gd_philox_per_block(f32);
    int64_t nblocks = (n + per - 1) / per;
    #pragma omp parallel for schedule(static) if (gd_parallel_worth(n))
    for (int64_t blk = 0; blk < nblocks; blk++) {
        double v[4];
        gd_philox_block_values(seed, offset + (uint64_t)blk, kind, f32, a, b, v);
        for (int j = 0; j < per; j++) {
            int64_t i = blk * per + j;
            if (i >= n) break;
            if (dtype == GD_FLOAT32) {
                float x = (float)v[j];
                /* rounding to float can reach the upper end of [a, b) */
                if (kind == 0 && x >= (float)b && b > a) x = nextafterf((float)b, (float)a);
                ((float *)data)[i] = x;
            } else if (dtype == GD_FLOAT64) {
                double x = v[j];
                if (kind == 0 && x >= b && b > a) x = nextafter(b, a);
                ((double *)data)[i] = x;
            } else {
                /* uniform integers in [a, b): a and b are whole (checked by the caller) */
                double x = floor(v[j]);
                if (x >= b && b > a) x = b - 1;
                ((int64_t *)data)[i] = (int64_t)x;
            }
        }
    }
    return 0;
}
