// reduce.cu: the CUDA backend's reductions and scans.  reduce_all: one block
// over a contiguous array; each thread folds a fixed strided subset in order
// and CUB's block reduction combines the threads' results in a fixed order, so
// results are the same bits every run.  reduce_dim and cumsum: one thread per
// output line, walking it in order exactly as the CPU does (the same bits as
// the CPU's, fast when there are many lines; a few very long lines would
// want a block per line).
// Semantics follow src/cpu/reduce.c: sums in double (exact int64 sums), NaN
// wins max/min, ties keep the first index, var/std take a correction.
#include "common.cuh"
#include "kernels/elementwise.h"

#include <cub/block/block_reduce.cuh>

namespace gdcuda {

struct RedState {
    double acc;
    long long iacc;
    long long index;
};

template <typename T> __device__ inline double as_double(T v) { return (double)v; }

__device__ inline bool is_nan(double x) { return x != x; }

// a comes from lower element positions than b on ties
__device__ inline RedState combine(RedState a, RedState b, int op, double param, bool int_sum)
{
    RedState r = a;
    switch (op) {
    case GD_RED_MAX: case GD_RED_ARGMAX: case GD_RED_MIN: case GD_RED_ARGMIN: {
        if (b.index < 0) return a;
        if (a.index < 0) return b;
        bool want_max = op == GD_RED_MAX || op == GD_RED_ARGMAX;
        bool take;
        if (is_nan(a.acc) || is_nan(b.acc)) take = !is_nan(a.acc) || (is_nan(b.acc) && b.index < a.index);
        else if (a.acc == b.acc) take = b.index < a.index;
        else take = want_max ? b.acc > a.acc : b.acc < a.acc;
        return take ? b : a;
    }
    case GD_RED_PROD:
        if (int_sum) r.iacc = a.iacc * b.iacc; else r.acc = a.acc * b.acc;
        return r;
    case GD_RED_NORM:
        if (isinf(param)) r.acc = (is_nan(a.acc) || a.acc >= b.acc) && !is_nan(b.acc) ? a.acc : b.acc;
        else r.acc = a.acc + b.acc;
        return r;
    default:
        if (int_sum) r.iacc = a.iacc + b.iacc; else r.acc = a.acc + b.acc;
        return r;
    }
}

__device__ inline RedState identity(int op, bool int_sum)
{
    RedState s;
    s.index = -1;
    s.iacc = op == GD_RED_PROD ? 1 : 0;
    s.acc = op == GD_RED_PROD ? 1.0 : 0.0;
    (void)int_sum;
    return s;
}

// folds element x at position j into s
__device__ inline void fold(RedState &s, double x, long long xi, long long j, int op, double param, double center,
                            bool int_sum)
{
    switch (op) {
    case GD_RED_SUM: case GD_RED_MEAN:
        if (int_sum) s.iacc += xi; else s.acc += x;
        break;
    case GD_RED_PROD:
        if (int_sum) s.iacc *= xi; else s.acc *= x;
        break;
    case GD_RED_NORM:
        if (param == 2) s.acc += x * x;
        else if (param == 1) s.acc += fabs(x);
        else if (isinf(param)) { double a = fabs(x); if (is_nan(a) || (!is_nan(s.acc) && a > s.acc)) s.acc = a; }
        else if (param == 0) s.acc += x != 0;
        else s.acc += pow(fabs(x), param);
        break;
    case GD_RED_VAR: case GD_RED_STD: { double d = x - center; s.acc += d * d; break; }
    case GD_RED_LOGSUMEXP: s.acc += exp(x - center); break;
    default: {
        bool want_max = op == GD_RED_MAX || op == GD_RED_ARGMAX;
        if (s.index < 0 || (!is_nan(s.acc) && (is_nan(x) || (want_max ? x > s.acc : x < s.acc)))) {
            s.acc = x;
            s.index = j;
        }
    }
    }
}

// combine() as the binary operator CUB's block reduction takes
struct Combine {
    int op;
    double param;
    bool int_sum;
    __device__ RedState operator()(const RedState &a, const RedState &b) const
    {
        return combine(a, b, op, param, int_sum);
    }
};

// The block's combined state, in every thread.  cub::BlockReduce combines in
// a fixed order for a fixed block size: the same bits every run.
template <int BLOCK>
__device__ RedState block_combine(RedState mine, int op, double param, bool int_sum)
{
    typedef cub::BlockReduce<RedState, BLOCK> Reduce;
    __shared__ typename Reduce::TempStorage temp;
    __shared__ RedState shared_result;
    RedState r = Reduce(temp).Reduce(mine, Combine{op, param, int_sum});
    if (threadIdx.x == 0) shared_result = r;
    __syncthreads();
    r = shared_result;
    __syncthreads();
    return r;
}

template <typename T, int BLOCK>
__global__ void reduce_kernel(const T *p, long long n, int op, double param, double *vals, long long *idx)
{
    const T *row = p + (long long)blockIdx.x * n;
    bool int_sum = sizeof(T) == 8 && (T)0.5 == 0 && (op == GD_RED_SUM || op == GD_RED_MEAN || op == GD_RED_PROD);
    double center = 0;
    if (op == GD_RED_VAR || op == GD_RED_STD) {
        RedState s = identity(GD_RED_SUM, false);
        for (long long j = threadIdx.x; j < n; j += BLOCK) s.acc += as_double(row[j]);
        center = block_combine<BLOCK>(s, GD_RED_SUM, 0, false).acc / (double)n;
    } else if (op == GD_RED_LOGSUMEXP) {
        RedState s = identity(GD_RED_MAX, false);
        for (long long j = threadIdx.x; j < n; j += BLOCK) fold(s, as_double(row[j]), 0, j, GD_RED_MAX, 0, 0, false);
        center = gd_logsumexp_shift(block_combine<BLOCK>(s, GD_RED_MAX, 0, false).acc);
    }
    RedState s = identity(op, int_sum);
    for (long long j = threadIdx.x; j < n; j += BLOCK) {
        T v = row[j];
        fold(s, as_double(v), (long long)v, j, op, param, center, int_sum);
    }
    RedState r = block_combine<BLOCK>(s, op, param, int_sum);
    if (threadIdx.x == 0) {
        double v = int_sum ? (double)r.iacc : r.acc;
        switch (op) {
        case GD_RED_MEAN: v = v / (double)n; break;
        case GD_RED_NORM:
            if (param == 2) v = sqrt(v);
            else if (!(param == 1 || param == 0 || isinf(param))) v = pow(v, 1.0 / param);
            break;
        case GD_RED_VAR: v = v / fmax((double)n - param, 0.0); break;
        case GD_RED_STD: v = sqrt(v / fmax((double)n - param, 0.0)); break;
        case GD_RED_LOGSUMEXP: v = log(v) + center; break;
        default: break;
        }
        vals[blockIdx.x] = v;
        idx[blockIdx.x] = r.index;
        if (int_sum && (op == GD_RED_SUM || op == GD_RED_PROD)) vals[blockIdx.x] = (double)r.iacc;
    }
}

// exact int64 sums and products of a contiguous array (one thread: in order, wrapping)
__global__ void int_exact_kernel(const long long *p, long long n, int op, long long *out)
{
    if (threadIdx.x != 0 || blockIdx.x != 0) return;
    unsigned long long acc = op == GD_RED_PROD ? 1 : 0;
    for (long long j = 0; j < n; j++)
        acc = op == GD_RED_PROD ? acc * (unsigned long long)p[j] : acc + (unsigned long long)p[j];
    *out = (long long)acc;
}

int reduce_all(const void *p, int64_t n, int dtype, int op, double param, double *value, int64_t *index)
{
    if (n == 0) {
        /* a sum of nothing (the core refuses the extremes of nothing) */
        *value = op == GD_RED_PROD                        ? 1.0
                 : (op == GD_RED_SUM || op == GD_RED_NORM) ? 0.0
                 : op == GD_RED_LOGSUMEXP                  ? -INFINITY
                                                           : nan("");
        if (index) *index = -1;
        return 0;
    }
    struct Out { double v; long long idx, exact; } *d = nullptr, h;
    cudaError_t e = cudaMallocAsync((void **)&d, sizeof *d, 0);
    if (e != cudaSuccess) return fail(e, "cudaMallocAsync (reduction)");
    bool int_exact = dtype == GD_INT64 && (op == GD_RED_SUM || op == GD_RED_PROD);
    switch (dtype) {
    case GD_FLOAT32: reduce_kernel<float, 1024><<<1, 1024>>>((const float *)p, n, op, param, &d->v, &d->idx); break;
    case GD_FLOAT64: reduce_kernel<double, 1024><<<1, 1024>>>((const double *)p, n, op, param, &d->v, &d->idx); break;
    default:
        reduce_kernel<long long, 1024><<<1, 1024>>>((const long long *)p, n, op, param, &d->v, &d->idx);
        if (int_exact) int_exact_kernel<<<1, 32>>>((const long long *)p, n, op, &d->exact);
    }
    int st = check_launch("reduction");
    if (!st) {
        e = cudaMemcpy(&h, d, sizeof h, cudaMemcpyDeviceToHost);
        if (e != cudaSuccess) st = fail(e, "cudaMemcpy");
    }
    cudaFreeAsync(d, 0);
    if (st) return st;
    *value = int_exact ? (double)h.exact : h.v;
    if (index) *index = h.idx;
    return 0;
}

// ------------------------------------------------------- along a dimension

__device__ inline void store_as(char *p, int dtype, double v)
{
    switch (dtype) {
    case GD_FLOAT32: *(float *)p = (float)v; break;
    case GD_FLOAT64: *(double *)p = v; break;
    default: *(long long *)p = (long long)v; break;
    }
}

// src/cpu/reduce.c's red_finish
__device__ inline double finish(const RedState &s, int op, long long n, double param, bool int_sum)
{
    double v = int_sum ? (double)s.iacc : s.acc;
    switch (op) {
    case GD_RED_MEAN: return v / (double)n;
    case GD_RED_ARGMAX: case GD_RED_ARGMIN: return (double)s.index;
    case GD_RED_NORM:
        if (param == 2) return sqrt(v);
        if (param == 1 || param == 0 || isinf(param)) return v;
        return pow(v, 1.0 / param);
    case GD_RED_VAR: return v / fmax((double)n - param, 0.0);
    case GD_RED_STD: return sqrt(v / fmax((double)n - param, 0.0));
    case GD_RED_LOGSUMEXP: return log(v) + param;
    default: return v;
    }
}

// operands {values, indices (or values), line starts}; n elements per line, stride bytes apart
template <typename T>
__global__ void reduce_dim_kernel(gd_iter it, long long n, long long stride, int op, double param, int out_dtype,
                                  int with_index)
{
    const bool is_int = sizeof(T) == 8 && (T)0.5 == 0;
    const bool int_sum = is_int && (op == GD_RED_SUM || op == GD_RED_MEAN || op == GD_RED_PROD);
    const bool int_ext = is_int && op >= GD_RED_MAX && op <= GD_RED_ARGMIN;
    GD_CUDA_FOR(i, it.count) {
        const char *in = iter_ptr<const char>(it, 2, i);
        double center = 0, prm = param;
        if (op == GD_RED_VAR || op == GD_RED_STD) {
            double sum = 0;
            for (long long j = 0; j < n; j++) sum += (double)*(const T *)(in + j * stride);
            center = sum / (double)n;
        } else if (op == GD_RED_LOGSUMEXP) {
            RedState m = identity(GD_RED_MAX, false);
            for (long long j = 0; j < n; j++) fold(m, (double)*(const T *)(in + j * stride), 0, j, GD_RED_MAX, 0, 0, false);
            prm = center = gd_logsumexp_shift(m.acc);
        }
        RedState s = identity(op, int_sum);
        if (int_ext) {
            /* compared as integers: beyond 2^53 a double cannot tell neighbours apart */
            bool want_max = op == GD_RED_MAX || op == GD_RED_ARGMAX;
            long long best = 0;
            for (long long j = 0; j < n; j++) {
                long long x = (long long)*(const T *)(in + j * stride);
                if (s.index < 0 || (want_max ? x > best : x < best)) { best = x; s.index = j; }
            }
            s.iacc = best;
            s.acc = (double)best;
        } else {
            for (long long j = 0; j < n; j++) {
                T v = *(const T *)(in + j * stride);
                fold(s, (double)v, (long long)v, j, op, prm, center, int_sum);
            }
        }
        char *out = iter_ptr<char>(it, 0, i);
        if (is_int && (op == GD_RED_SUM || op == GD_RED_PROD) && out_dtype == GD_INT64) *(long long *)out = s.iacc;
        else if (int_ext && (op == GD_RED_MAX || op == GD_RED_MIN)) *(long long *)out = s.iacc;
        else store_as(out, out_dtype, finish(s, op, n, prm, int_sum));
        if (with_index) *iter_ptr<long long>(it, 1, i) = s.index;
    }
}

int reduce_dim(const gd_iter *it, int64_t n, int64_t stride, int dtype, int out_dtype, int op, double param,
               int with_index)
{
    if (it->count == 0) return 0;
    unsigned b = blocks_for(it->count);
    switch (dtype) {
    case GD_FLOAT32: reduce_dim_kernel<float><<<b, kThreads>>>(*it, n, stride, op, param, out_dtype, with_index); break;
    case GD_FLOAT64: reduce_dim_kernel<double><<<b, kThreads>>>(*it, n, stride, op, param, out_dtype, with_index); break;
    default: reduce_dim_kernel<long long><<<b, kThreads>>>(*it, n, stride, op, param, out_dtype, with_index); break;
    }
    return check_launch("reduction");
}

// ------------------------------------------------------------------ scans

// operands {out line starts, in line starts}: inclusive sums in order, in
// double for floats (as the CPU), unsigned 64-bit for int64 (exact, wrapping);
// out may be in (each element is read before it is written)
template <typename T, typename A>
__global__ void cumsum_kernel(gd_iter it, long long n, long long so, long long si)
{
    GD_CUDA_FOR(i, it.count) {
        char *o = iter_ptr<char>(it, 0, i);
        const char *in = iter_ptr<const char>(it, 1, i);
        A acc = 0;
        for (long long j = 0; j < n; j++) {
            acc += (A) * (const T *)(in + j * si);
            *(T *)(o + j * so) = (T)acc;
        }
    }
}

int cumsum(const gd_iter *it, int64_t n, int64_t so, int64_t si, int dtype)
{
    if (it->count == 0 || n == 0) return 0;
    unsigned b = blocks_for(it->count);
    switch (dtype) {
    case GD_FLOAT32: cumsum_kernel<float, double><<<b, kThreads>>>(*it, n, so, si); break;
    case GD_FLOAT64: cumsum_kernel<double, double><<<b, kThreads>>>(*it, n, so, si); break;
    default: cumsum_kernel<long long, unsigned long long><<<b, kThreads>>>(*it, n, so, si); break;
    }
    return check_launch("cumsum");
}

}  // namespace gdcuda
