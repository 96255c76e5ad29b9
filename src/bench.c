/*
 * bench.c: the memory-bandwidth reference that `make bench` compares fused
 * optimizer steps against.  gd_bench_stream reads every array once and writes
 * the read-write ones once, with as little arithmetic as a loop can have and
 * the optimizers' threading: the same bytes through the same loop structure,
 * so step time / stream time is the share of the memory roofline achieved.
 */
#include "internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

enum { STREAM_MAX = 8 };

GD_SIMD_CLONES int gd_bench_stream(gd_tensor *const *rw, int nrw, gd_tensor *const *ro, int nro)
{
    if (nrw < 1 || nrw > STREAM_MAX || nro < 0 || nro > STREAM_MAX)
        return gd_fail(GD_EINVAL, "bench_stream: 1..%d written and 0..%d read arrays", STREAM_MAX, STREAM_MAX);
    int64_t n = rw[0]->count;
    float *w[STREAM_MAX];
    const float *r[STREAM_MAX];
    for (int k = 0; k < nrw + nro; k++) {
        const gd_tensor *t = k < nrw ? rw[k] : ro[k - nrw];
        GD_TRY(gd_check_tensor(t, "array"));
        if (t->scalar_type != GD_FLOAT32 || t->device_kind != GD_CPU || !t->is_contiguous || t->count != n)
            return gd_fail(GD_EINVAL, "bench_stream: arrays must be contiguous float32 CPU tensors of one size");
        if (k < nrw) w[k] = t->data; else r[k - nrw] = t->data;
    }
    /* the optimizers' shapes get straight loops (the compiler vectorises them);
       others a generic one */
    bool par = gd_parallel_worth(n);
    if (nro == 1 && nrw == 2) {
        float *restrict a = w[0], *restrict b = w[1];
        const float *restrict g = r[0];
        #pragma omp parallel for schedule(static) if (par)
        for (int64_t i = 0; i < n; i++) { a[i] += g[i]; b[i] += g[i]; }
    } else if (nro == 1 && nrw == 3) {
        float *restrict a = w[0], *restrict b = w[1], *restrict c = w[2];
        const float *restrict g = r[0];
        #pragma omp parallel for schedule(static) if (par)
        for (int64_t i = 0; i < n; i++) { a[i] += g[i]; b[i] += g[i]; c[i] += g[i]; }
    } else if (nro == 1 && nrw == 4) {
        float *restrict a = w[0], *restrict b = w[1], *restrict c = w[2], *restrict d = w[3];
        const float *restrict g = r[0];
        #pragma omp parallel for schedule(static) if (par)
        for (int64_t i = 0; i < n; i++) { a[i] += g[i]; b[i] += g[i]; c[i] += g[i]; d[i] += g[i]; }
    } else {
        #pragma omp parallel for schedule(static) if (par)
        for (int64_t i = 0; i < n; i++) {
            float s = 0;
            for (int k = 0; k < nro; k++) s += r[k][i];
            for (int k = 0; k < nrw; k++) w[k][i] += s;
        }
    }
    return GD_OK;
}
