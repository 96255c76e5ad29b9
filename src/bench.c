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

/* Adan's shape (5 written, 1 read), as the optimizer runs it: a function with
   restrict arguments per thread's range.  Inline in the omp loop, gcc neither
   vectorises it (six pointers need more alias checks than it versions for) nor
   did the generic loop: 2.5x slower, which made Adan look at 0.46x of the roofline. */
GD_SIMD_CLONES static void stream5(int64_t n, float *restrict a, float *restrict b, float *restrict c,
                                   float *restrict d, float *restrict e, const float *restrict g)
{
    for (int64_t i = 0; i < n; i++) { a[i] += g[i]; b[i] += g[i]; c[i] += g[i]; d[i] += g[i]; e[i] += g[i]; }
}

static void stream5_parallel(int64_t n, float *const *w, const float *g, bool par)
{
#ifdef _OPENMP
    #pragma omp parallel if (par)
    {
        int nt = omp_get_num_threads(), tid = omp_get_thread_num();
        int64_t chunk = ((n + nt - 1) / nt + 63) & ~(int64_t)63;
        int64_t b = (int64_t)tid * chunk, e = b + chunk < n ? b + chunk : n;
        if (b < e) stream5(e - b, w[0] + b, w[1] + b, w[2] + b, w[3] + b, w[4] + b, g + b);
    }
#else
    (void)par;
    stream5(n, w[0], w[1], w[2], w[3], w[4], g);
#endif
}

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
    if (nro == 1 && nrw == 1) {
        float *restrict a = w[0];
        const float *restrict g = r[0];
        #pragma omp parallel for schedule(static) if (par)
        for (int64_t i = 0; i < n; i++) a[i] += g[i];
    } else if (nro == 1 && nrw == 2) {
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
    } else if (nro == 1 && nrw == 5) {
        stream5_parallel(n, w, r[0], par);
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
