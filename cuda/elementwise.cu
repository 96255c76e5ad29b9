// elementwise.cu: copy, fill, binary, unary and ternary operations over a
// gd_iter of device pointers: the CPU loops' operands and semantics (the math
// of src/kernels/elementwise.h), one grid-stride kernel per dtype.
#include "common.cuh"
#include "kernels/elementwise.h"

namespace gdcuda {

// ------------------------------------------------------------------- copy

template <typename TO, typename FROM>
__device__ inline TO convert(FROM v) { return (TO)v; }
// float -> int64: the CPU's conversion (kernels/elementwise.h): truncation over
// [-2^63, 2^63); the core refuses every other value before the launch
template <> __device__ inline int64_t convert<int64_t, float>(float v) { return gd_float_to_int64(v); }
template <> __device__ inline int64_t convert<int64_t, double>(double v) { return gd_float_to_int64(v); }

template <typename TO, typename FROM>
__global__ void copy_kernel(gd_iter it)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < it.count; i += (int64_t)gridDim.x * blockDim.x)
        *iter_ptr<TO>(it, 0, i) = convert<TO, FROM>(*iter_ptr<const FROM>(it, 1, i));
}

template <typename TO>
static void launch_copy_from(const gd_iter &it, int src)
{
    unsigned b = blocks_for(it.count);
    switch (src) {
    case GD_FLOAT32: copy_kernel<TO, float><<<b, kThreads>>>(it); break;
    case GD_FLOAT64: copy_kernel<TO, double><<<b, kThreads>>>(it); break;
    default: copy_kernel<TO, int64_t><<<b, kThreads>>>(it); break;
    }
}

int copy(const gd_iter *it, int dst, int src)
{
    if (it->count == 0) return 0;
    switch (dst) {
    case GD_FLOAT32: launch_copy_from<float>(*it, src); break;
    case GD_FLOAT64: launch_copy_from<double>(*it, src); break;
    default: launch_copy_from<int64_t>(*it, src); break;
    }
    return check_launch("copy");
}

// ------------------------------------------------------------------- fill

template <typename T>
__global__ void fill_kernel(gd_iter it, T v)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < it.count; i += (int64_t)gridDim.x * blockDim.x)
        *iter_ptr<T>(it, 0, i) = v;
}

int fill(const gd_iter *it, int dtype, double value)
{
    if (it->count == 0) return 0;
    unsigned b = blocks_for(it->count);
    switch (dtype) {
    case GD_FLOAT32: fill_kernel<float><<<b, kThreads>>>(*it, (float)value); break;
    case GD_FLOAT64: fill_kernel<double><<<b, kThreads>>>(*it, value); break;
    default: fill_kernel<int64_t><<<b, kThreads>>>(*it, gd_float_to_int64(value)); break;
    }
    return check_launch("fill");
}

// p[i] = start + i*step (int64: rounded to nearest, as the CPU's llround)
template <typename T>
__global__ void range_kernel(T *p, long long n, double start, double step)
{
    GD_CUDA_FOR(i, n) {
        double v = start + (double)i * step;
        if (sizeof(T) == 8 && (T)0.5 == 0) p[i] = (T)llround(v);
        else p[i] = (T)v;
    }
}

int range(void *p, int64_t n, int dtype, double start, double step)
{
    if (n == 0) return 0;
    unsigned b = blocks_for(n);
    switch (dtype) {
    case GD_FLOAT32: range_kernel<float><<<b, kThreads>>>((float *)p, n, start, step); break;
    case GD_FLOAT64: range_kernel<double><<<b, kThreads>>>((double *)p, n, start, step); break;
    default: range_kernel<long long><<<b, kThreads>>>((long long *)p, n, start, step); break;
    }
    return check_launch("range");
}

// ----------------------------------------------------------------- binary

// src/kernels/elementwise.h's helpers as overloads, one name per operation.
// int64: the core refuses zero divisors and negative exponents before the
// launch on every device; the stand-ins below only keep a stray one defined
// (true division of int64 promotes to float before it gets here).
__device__ inline float k_pow(float x, float y) { return gd_pow_f(x, y); }
__device__ inline double k_pow(double x, double y) { return gd_pow_d(x, y); }
__device__ inline int64_t k_pow(int64_t x, int64_t y) { return gd_pow_i(x, y < 0 ? 0 : y); }
__device__ inline float k_mod(float x, float y) { return gd_mod_f(x, y); }
__device__ inline double k_mod(double x, double y) { return gd_mod_d(x, y); }
__device__ inline int64_t k_mod(int64_t x, int64_t y) { return gd_mod_i(x, y ? y : 1); }
__device__ inline float k_max(float x, float y) { return gd_maximum_f(x, y); }
__device__ inline double k_max(double x, double y) { return gd_maximum_d(x, y); }
__device__ inline int64_t k_max(int64_t x, int64_t y) { return gd_maximum_i(x, y); }
__device__ inline float k_min(float x, float y) { return gd_minimum_f(x, y); }
__device__ inline double k_min(double x, double y) { return gd_minimum_d(x, y); }
__device__ inline int64_t k_min(int64_t x, int64_t y) { return gd_minimum_i(x, y); }
template <typename T> __device__ inline T k_div(T x, T y) { return x / y; }
template <> __device__ inline int64_t k_div<int64_t>(int64_t x, int64_t y) { return y ? x / y : 0; }

// + - * on int64 wrap (kernels/elementwise.h), as on the CPU
template <typename T> __device__ inline T k_add(T x, T y) { return x + y; }
template <typename T> __device__ inline T k_sub(T x, T y) { return x - y; }
template <typename T> __device__ inline T k_mul(T x, T y) { return x * y; }
template <> __device__ inline int64_t k_add<int64_t>(int64_t x, int64_t y) { return gd_add_i(x, y); }
template <> __device__ inline int64_t k_sub<int64_t>(int64_t x, int64_t y) { return gd_sub_i(x, y); }
template <> __device__ inline int64_t k_mul<int64_t>(int64_t x, int64_t y) { return gd_mul_i(x, y); }

template <typename T>
__device__ inline T binop(int op, T x, T y)
{
    switch (op) {
    case GD_OP_ADD: return k_add(x, y);
    case GD_OP_SUB: return k_sub(x, y);
    case GD_OP_MUL: return k_mul(x, y);
    case GD_OP_DIV: return k_div(x, y);
    case GD_OP_POW: return k_pow(x, y);
    case GD_OP_MOD: return k_mod(x, y);
    case GD_OP_MAXIMUM: return k_max(x, y);
    case GD_OP_MINIMUM: return k_min(x, y);
    case GD_OP_EQ: return x == y;
    case GD_OP_NE: return x != y;
    case GD_OP_LT: return x < y;
    case GD_OP_LE: return x <= y;
    case GD_OP_GT: return x > y;
    default: return x >= y;
    }
}

template <typename T>
__global__ void binary_kernel(gd_iter it, int op)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < it.count; i += (int64_t)gridDim.x * blockDim.x) {
        T x = *iter_ptr<const T>(it, 1, i), y = *iter_ptr<const T>(it, 2, i);
        *iter_ptr<T>(it, 0, i) = binop<T>(op, x, y);
    }
}

int binary(const gd_iter *it, int dtype, int op)
{
    if (it->count == 0) return 0;
    unsigned b = blocks_for(it->count);
    switch (dtype) {
    case GD_FLOAT32: binary_kernel<float><<<b, kThreads>>>(*it, op); break;
    case GD_FLOAT64: binary_kernel<double><<<b, kThreads>>>(*it, op); break;
    default: binary_kernel<int64_t><<<b, kThreads>>>(*it, op); break;
    }
    return check_launch("binary operation");
}

// out = a op s (s op a): operands {out, a}, the scalar by value
template <typename T>
__global__ void binary_scalar_kernel(gd_iter it, int op, T s, int scalar_first)
{
    GD_CUDA_FOR(i, it.count) {
        T a = *iter_ptr<const T>(it, 1, i);
        *iter_ptr<T>(it, 0, i) = scalar_first ? binop<T>(op, s, a) : binop<T>(op, a, s);
    }
}

int binary_scalar(const gd_iter *it, int dtype, int op, double s, int scalar_first)
{
    if (it->count == 0) return 0;
    unsigned b = blocks_for(it->count);
    switch (dtype) {
    case GD_FLOAT32: binary_scalar_kernel<float><<<b, kThreads>>>(*it, op, (float)s, scalar_first); break;
    case GD_FLOAT64: binary_scalar_kernel<double><<<b, kThreads>>>(*it, op, s, scalar_first); break;
    default: binary_scalar_kernel<int64_t><<<b, kThreads>>>(*it, op, gd_float_to_int64(s), scalar_first); break;
    }
    return check_launch("binary operation");
}

// ------------------------------------------------------------------ unary

// Real<T>: the math functions and src/kernels/elementwise.h's helpers for T
// (C spells the type in each name: sqrtf / sqrt, gd_sign_f / gd_sign_d)
template <typename T> struct Real;
#define GD_REAL_OPS(T, S, SUF)                                                                    \
    template <> struct Real<T> {                                                                  \
        __device__ static T sqrt_(T x) { return sqrt##SUF(x); }                                   \
        __device__ static T exp_(T x) { return exp##SUF(x); }                                     \
        __device__ static T log_(T x) { return log##SUF(x); }                                     \
        __device__ static T abs_(T x) { return fabs##SUF(x); }                                    \
        __device__ static T floor_(T x) { return floor##SUF(x); }                                 \
        __device__ static T ceil_(T x) { return ceil##SUF(x); }                                   \
        __device__ static T sin_(T x) { return sin##SUF(x); }                                     \
        __device__ static T cos_(T x) { return cos##SUF(x); }                                     \
        __device__ static T pow_(T x, T y) { return pow##SUF(x, y); }                             \
        __device__ static T sign_(T x) { return gd_sign_##S(x); }                                 \
        __device__ static T relu_(T x) { return gd_relu_##S(x); }                                 \
        __device__ static T tanh_(T x) { return gd_tanh_##S(x); }                                 \
        __device__ static T sigmoid_(T x) { return gd_sigmoid_##S(x); }                           \
        __device__ static T round_(T x) { return gd_round_##S(x); }                               \
        __device__ static T clamp_(T x, T a, T b) { return gd_clamp_##S(x, a, b); }               \
        __device__ static T log1p_(T x) { return gd_log1p_##S(x); }                               \
        __device__ static T expm1_(T x) { return gd_expm1_##S(x); }                               \
        __device__ static T softplus_(T x, T b, T t) { return gd_softplus_##S(x, b, t); }         \
    };
GD_REAL_OPS(float, f, f)
GD_REAL_OPS(double, d, )

template <typename T>
__device__ inline T unop(int op, T x, T p1, T p2)
{
    typedef Real<T> R;
    switch (op) {
    case GD_OP_NEG: return -x;
    case GD_OP_ABS: return R::abs_(x);
    case GD_OP_SQRT: return R::sqrt_(x);
    case GD_OP_EXP: return R::exp_(x);
    case GD_OP_LOG: return R::log_(x);
    case GD_OP_SQUARE: return x * x;
    case GD_OP_SIGN: return R::sign_(x);
    case GD_OP_RELU: return R::relu_(x);
    case GD_OP_TANH: return R::tanh_(x);
    case GD_OP_SIGMOID: return R::sigmoid_(x);
    case GD_OP_FLOOR: return R::floor_(x);
    case GD_OP_CEIL: return R::ceil_(x);
    case GD_OP_ROUND: return R::round_(x);
    case GD_OP_SIN: return R::sin_(x);
    case GD_OP_COS: return R::cos_(x);
    case GD_OP_RSQRT: return (T)1 / R::sqrt_(x);
    case GD_OP_RECIPROCAL: return (T)1 / x;
    case GD_OP_CLAMP: return R::clamp_(x, p1, p2);
    case GD_OP_POWS: return p1 == 2 ? x * x : R::pow_(x, p1);   /* as the CPU: x^2 is x*x */
    case GD_OP_LOG1P: return R::log1p_(x);
    case GD_OP_EXPM1: return R::expm1_(x);
    case GD_OP_SOFTPLUS: return R::softplus_(x, p1, p2);
    default: return R::pow_(p1, x);
    }
}

// int64 has only the operations the core keeps in int64
__device__ inline int64_t unop_i(int op, int64_t x, int64_t p1, int64_t p2)
{
    switch (op) {
    case GD_OP_NEG: return gd_neg_i(x);
    case GD_OP_ABS: return gd_abs_i(x);
    case GD_OP_SQUARE: return gd_mul_i(x, x);
    case GD_OP_SIGN: return gd_sign_i(x);
    case GD_OP_RELU: return gd_relu_i(x);
    case GD_OP_CLAMP: return gd_clamp_i(x, p1, p2);
    case GD_OP_POWS: return gd_pow_i(x, p1 < 0 ? 0 : p1);
    case GD_OP_RPOWS: return gd_pow_i(p1, x < 0 ? 0 : x);
    default: return x; /* floor, ceil, round */
    }
}

template <typename T>
__global__ void unary_kernel(gd_iter it, int op, T p1, T p2)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < it.count; i += (int64_t)gridDim.x * blockDim.x)
        *iter_ptr<T>(it, 0, i) = unop<T>(op, *iter_ptr<const T>(it, 1, i), p1, p2);
}

__global__ void unary_kernel_i(gd_iter it, int op, int64_t p1, int64_t p2)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < it.count; i += (int64_t)gridDim.x * blockDim.x)
        *iter_ptr<int64_t>(it, 0, i) = unop_i(op, *iter_ptr<const int64_t>(it, 1, i), p1, p2);
}

int unary(const gd_iter *it, int dtype, int op, double p1, double p2)
{
    if (it->count == 0) return 0;
    unsigned b = blocks_for(it->count);
    switch (dtype) {
    case GD_FLOAT32: unary_kernel<float><<<b, kThreads>>>(*it, op, (float)p1, (float)p2); break;
    case GD_FLOAT64: unary_kernel<double><<<b, kThreads>>>(*it, op, p1, p2); break;
    default:
        /* an infinite int64 clamp bound clamps nothing (gd_int64_clamp_bound, as on the CPU);
           the other int64 parameters are int64 values (the core's rule) */
        if (op == GD_OP_CLAMP)
            unary_kernel_i<<<b, kThreads>>>(*it, op, gd_int64_clamp_bound(p1), gd_int64_clamp_bound(p2));
        else
            unary_kernel_i<<<b, kThreads>>>(*it, op, gd_float_to_int64(p1), gd_float_to_int64(p2));
    }
    return check_launch("unary operation");
}

// ---------------------------------------------------------------- ternary

template <typename T>
__global__ void ternary_kernel(gd_iter it, int kind, T v)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < it.count; i += (int64_t)gridDim.x * blockDim.x) {
        T *o = iter_ptr<T>(it, 0, i);
        T a = *iter_ptr<const T>(it, 1, i);
        switch (kind) {
        case GD_TERN_ADD_SCALED: *o = k_add(*o, k_mul(v, a)); break;
        case GD_TERN_ADDCMUL: *o = k_add(*o, k_mul(k_mul(v, a), *iter_ptr<const T>(it, 2, i))); break;
        case GD_TERN_ADDCDIV: *o = *o + v * a / *iter_ptr<const T>(it, 2, i); break;
        default: *o = a != 0 ? *iter_ptr<const T>(it, 2, i) : *iter_ptr<const T>(it, 3, i); break;
        }
    }
}

int ternary(const gd_iter *it, int dtype, int kind, double value)
{
    if (it->count == 0) return 0;
    unsigned b = blocks_for(it->count);
    switch (dtype) {
    case GD_FLOAT32: ternary_kernel<float><<<b, kThreads>>>(*it, kind, (float)value); break;
    case GD_FLOAT64: ternary_kernel<double><<<b, kThreads>>>(*it, kind, value); break;
    default: ternary_kernel<int64_t><<<b, kThreads>>>(*it, kind, (int64_t)value); break;
    }
    return check_launch("element-wise operation");
}

}  // namespace gdcuda
