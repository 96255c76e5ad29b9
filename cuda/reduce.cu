// reduce.cu: reductions over the rows of a contiguous rows x n array (one
// result per row; rows = 1 reduces everything).  One block per row; each
// thread folds a fixed strided subset in order and CUB's block reduction
// combines the threads' results in a fixed order, so results are the same
// bits every run.
// Semantics follow src/cpu/reduce.c: sums in double (exact int64 sums), NaN
// wins max/min, ties keep the first index, var/std take a correction.
#include "common.cuh"
#include "kernels/elementwise.h"

#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>

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

// exact int64 results for int64 sums and products, and for max/min
template <typename T>
__global__ void int_exact_kernel(const T *p, long long n, int op, long long *out)
{
    const T *row = p + (long long)blockIdx.x * n;
    if (threadIdx.x != 0) return;
    (void)op;
    long long acc = op == GD_RED_PROD ? 1 : 0;
    for (long long j = 0; j < n; j++) acc = op == GD_RED_PROD ? acc * (long long)row[j] : acc + (long long)row[j];
    out[blockIdx.x] = acc;
}

// values in the output dtype (the core's rule): SUM/PROD/MAX/MIN keep the
// input's dtype, MEAN/NORM/VAR/STD are float (float32 for int64 input)
template <typename O>
__global__ void store_kernel(const double *v, const long long *exact, const long long *idx, const void *in, long long n,
                             long long rows, int op, O *out)
{
    long long r = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (r >= rows) return;
    if (exact) out[r] = (O)exact[r];
    else if ((op == GD_RED_MAX || op == GD_RED_MIN) && idx[r] >= 0 && sizeof(O) == 8 && (O)0.5 == 0)
        out[r] = ((const O *)in)[r * n + idx[r]];  // int64 extremes, exactly
    else out[r] = (O)v[r];
}

template <typename T>
static void launch_reduce(const void *p, int64_t rows, int64_t n, int op, double param, double *vals, long long *idx)
{
    if (rows == 1) reduce_kernel<T, 1024><<<1, 1024>>>((const T *)p, n, op, param, vals, idx);
    else reduce_kernel<T, 256><<<(unsigned)rows, 256>>>((const T *)p, n, op, param, vals, idx);
}

int reduce_rows(const void *p, int64_t rows, int64_t n, int dtype, int op, double param, void *values,
                int64_t *indices, int out_device)
{
    if (rows == 0) return 0;
    if (rows > 2147483647LL) return fail_msg("too many rows for one CUDA reduction");
    double *dv = nullptr;
    long long *di = nullptr, *dexact = nullptr;
    cudaError_t e = cudaMallocAsync((void **)&dv, (size_t)rows * sizeof(double), 0);
    if (e == cudaSuccess) e = cudaMallocAsync((void **)&di, (size_t)rows * sizeof(long long), 0);
    bool int_exact = dtype == GD_INT64 && (op == GD_RED_SUM || op == GD_RED_PROD);
    if (e == cudaSuccess && int_exact) e = cudaMallocAsync((void **)&dexact, (size_t)rows * sizeof(long long), 0);
    if (e != cudaSuccess) {
        if (dv) cudaFreeAsync(dv, 0);
        if (di) cudaFreeAsync(di, 0);
        return fail(e, "cudaMallocAsync (reduction)");
    }
    int st = 0;
    if (n > 0) {
        switch (dtype) {
        case GD_FLOAT32: launch_reduce<float>(p, rows, n, op, param, dv, di); break;
        case GD_FLOAT64: launch_reduce<double>(p, rows, n, op, param, dv, di); break;
        default:
            launch_reduce<long long>(p, rows, n, op, param, dv, di);
            if (int_exact) int_exact_kernel<long long><<<(unsigned)rows, 32>>>((const long long *)p, n, op, dexact);
        }
        st = check_launch("reduction");
    } else {
        /* empty rows: a sum of nothing */
        double fillv = op == GD_RED_PROD                        ? 1.0
                       : (op == GD_RED_SUM || op == GD_RED_NORM) ? 0.0
                       : op == GD_RED_LOGSUMEXP                  ? -INFINITY
                                                                 : nan("");
        double *h = (double *)malloc((size_t)rows * sizeof(double));
        if (!h) st = fail_msg("out of memory");
        else {
            for (int64_t r = 0; r < rows; r++) h[r] = fillv;
            e = cudaMemcpy(dv, h, (size_t)rows * sizeof(double), cudaMemcpyHostToDevice);
            free(h);
            if (e != cudaSuccess) st = fail(e, "cudaMemcpy");
            if (!st) { e = cudaMemsetAsync(di, 0xff, (size_t)rows * sizeof(long long), 0); if (e != cudaSuccess) st = fail(e, "cudaMemset"); }
            if (!st && dexact) {
                long long one = op == GD_RED_PROD ? 1 : 0;
                for (int64_t r = 0; r < rows && !st; r++)
                    if (cudaMemcpy(dexact + r, &one, sizeof one, cudaMemcpyHostToDevice) != cudaSuccess)
                        st = fail_msg("cudaMemcpy failed");
            }
        }
    }
    if (!st && out_device == 0) {
        /* host results: rows of double values and int64 indices */
        if (values) {
            if (dexact) {
                long long *tmp = (long long *)malloc((size_t)rows * sizeof(long long));
                if (!tmp) st = fail_msg("out of memory");
                else {
                    e = cudaMemcpy(tmp, dexact, (size_t)rows * sizeof(long long), cudaMemcpyDeviceToHost);
                    if (e != cudaSuccess) st = fail(e, "cudaMemcpy");
                    for (int64_t r = 0; !st && r < rows; r++) ((double *)values)[r] = (double)tmp[r];
                    free(tmp);
                }
            } else {
                e = cudaMemcpy(values, dv, (size_t)rows * sizeof(double), cudaMemcpyDeviceToHost);
                if (e != cudaSuccess) st = fail(e, "cudaMemcpy");
            }
        }
        if (!st && indices) {
            e = cudaMemcpy(indices, di, (size_t)rows * sizeof(long long), cudaMemcpyDeviceToHost);
            if (e != cudaSuccess) st = fail(e, "cudaMemcpy");
        }
    } else if (!st) {
        unsigned b = (unsigned)((rows + kThreads - 1) / kThreads);
        if (values) {
            bool keep = op == GD_RED_SUM || op == GD_RED_PROD || op == GD_RED_MAX || op == GD_RED_MIN;
            int out_dtype = keep ? dtype : (dtype == GD_INT64 ? GD_FLOAT32 : dtype);
            switch (out_dtype) {
            case GD_FLOAT32: store_kernel<float><<<b, kThreads>>>(dv, nullptr, di, p, n, rows, op, (float *)values); break;
            case GD_FLOAT64: store_kernel<double><<<b, kThreads>>>(dv, nullptr, di, p, n, rows, op, (double *)values); break;
            default: store_kernel<long long><<<b, kThreads>>>(dv, dexact, di, p, n, rows, op, (long long *)values); break;
            }
        }
        if (indices) {
            e = cudaMemcpyAsync(indices, di, (size_t)rows * sizeof(long long), cudaMemcpyDeviceToDevice, 0);
            if (e != cudaSuccess) st = fail(e, "cudaMemcpyAsync");
        }
        if (!st) st = check_launch("reduction store");
    }
    cudaFreeAsync(dv, 0);
    cudaFreeAsync(di, 0);
    if (dexact) cudaFreeAsync(dexact, 0);
    return st;
}

// ------------------------------------------------------------------ scans

// Inclusive cumulative sums of the rows of a contiguous rows x n array (out
// may be in): one block per row walks it in tiles of BLOCK; CUB's block scan
// sums a tile in a fixed order and the carry adds the tiles before it, so
// results are the same bits every run.  A is the accumulator: double for
// floats (as the CPU), unsigned 64-bit for int64 (exact, wrapping).
template <typename T, typename A, int BLOCK>
__global__ void cumsum_kernel(const T *in, T *out, long long n)
{
    typedef cub::BlockScan<A, BLOCK> Scan;
    __shared__ typename Scan::TempStorage temp;
    const T *row = in + (long long)blockIdx.x * n;
    T *orow = out + (long long)blockIdx.x * n;
    A carry = 0;
    for (long long base = 0; base < n; base += BLOCK) {
        long long j = base + threadIdx.x;
        A v = j < n ? (A)row[j] : (A)0;
        A incl, total;
        Scan(temp).InclusiveSum(v, incl, total);
        if (j < n) orow[j] = (T)(carry + incl);
        carry += total;
        __syncthreads();  // temp is reused by the next tile
    }
}

int cumsum_rows(void *out, const void *in, int64_t rows, int64_t n, int dtype)
{
    if (rows == 0 || n == 0) return 0;
    if (rows > 2147483647LL) return fail_msg("too many rows for one CUDA cumsum");
    unsigned b = (unsigned)rows;
    switch (dtype) {
    case GD_FLOAT32: cumsum_kernel<float, double, 256><<<b, 256>>>((const float *)in, (float *)out, n); break;
    case GD_FLOAT64: cumsum_kernel<double, double, 256><<<b, 256>>>((const double *)in, (double *)out, n); break;
    default:
        cumsum_kernel<long long, unsigned long long, 256><<<b, 256>>>((const long long *)in, (long long *)out, n);
        break;
    }
    return check_launch("cumsum");
}

}  // namespace gdcuda
