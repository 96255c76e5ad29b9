/*
 * elementwise.h: the per-element math of gd_binary / gd_unary, in float and
 * double (suffix f / d) and int64 where it applies.  Conventions follow
 * PyTorch: `%` takes the sign of the divisor (torch.remainder, Lua's %),
 * maximum/minimum propagate NaN, sign(0) = 0, round halves to even.
 */
#ifndef GD_KERNELS_ELEMENTWISE_H
#define GD_KERNELS_ELEMENTWISE_H

#include "hd.h"

/* mod: fmod is exact; moving its result into the divisor's sign gives
   torch.remainder (x - floor(x/y)*y loses precision for large x/y). */
#define GD_DEFINE_REAL_KERNELS(T, S, FMOD, POW, EXP, TANH, RINT)                               \
    GD_HD static inline T gd_mod_##S(T x, T y)                                                 \
    {                                                                                          \
        T r = FMOD(x, y);                                                                      \
        return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;                                   \
    }                                                                                          \
    GD_HD static inline T gd_pow_##S(T x, T y) { return POW(x, y); }                           \
    GD_HD static inline T gd_maximum_##S(T x, T y) { return (x > y || x != x) ? x : y; }       \
    GD_HD static inline T gd_minimum_##S(T x, T y) { return (x < y || x != x) ? x : y; }       \
    GD_HD static inline T gd_sign_##S(T x) { return x != x ? x : (T)((x > 0) - (x < 0)); }        \
    GD_HD static inline T gd_relu_##S(T x) { return x > 0 ? x : (x != x ? x : (T)0); }         \
    GD_HD static inline T gd_tanh_##S(T x) { return TANH(x); }                                 \
    /* the two branches keep exp() from overflowing for large |x| */                          \
    GD_HD static inline T gd_sigmoid_##S(T x)                                                  \
    {                                                                                          \
        if (x >= 0) return (T)1 / ((T)1 + EXP(-x));                                            \
        T e = EXP(x);                                                                          \
        return e / ((T)1 + e);                                                                 \
    }                                                                                          \
    GD_HD static inline T gd_round_##S(T x) { return RINT(x); }                                \
    GD_HD static inline T gd_clamp_##S(T x, T lo, T hi) { return x < lo ? lo : (x > hi ? hi : x); }

GD_DEFINE_REAL_KERNELS(float, f, fmodf, powf, expf, tanhf, rintf)
GD_DEFINE_REAL_KERNELS(double, d, fmod, pow, exp, tanh, rint)

/* log1p, expm1: the C library's, exact near 0, where log(1 + x) and exp(x) - 1
   lose every digit (log(1 + 1e-10f) is 0 in float).  softplus is PyTorch's
   (aten/src/ATen/native/cpu/Activation.cpp, softplus_kernel): linear where
   beta*x > threshold, where exp would overflow and log1p(exp(z))/beta equals x
   to working precision, else log1p(exp(beta*x))/beta, in T. */
#define GD_DEFINE_LOG1P_KERNELS(T, S, LOG1P, EXPM1, EXP)                                      \
    GD_HD static inline T gd_log1p_##S(T x) { return LOG1P(x); }                               \
    GD_HD static inline T gd_expm1_##S(T x) { return EXPM1(x); }                               \
    GD_HD static inline T gd_softplus_##S(T x, T beta, T threshold)                            \
    {                                                                                          \
        return x * beta > threshold ? x : LOG1P(EXP(x * beta)) / beta;                         \
    }

GD_DEFINE_LOG1P_KERNELS(float, f, log1pf, expm1f, expf)
GD_DEFINE_LOG1P_KERNELS(double, d, log1p, expm1, exp)

/* logsumexp's shift: the largest element, or 0 when that is infinite (PyTorch's
   masked_fill in aten/src/ATen/native/ReduceOps.cpp): all -inf gives -inf, a
   +inf gives +inf, instead of inf - inf = NaN.  NaN stays NaN. */
GD_HD static inline double gd_logsumexp_shift(double max) { return (max == INFINITY || max == -INFINITY) ? 0 : max; }

/* The int64 edge rules, one definition for every device (the core applies
   them before a kernel runs; see docs/int64.md):
   - a float converts to int64 by truncation toward zero when the result lies
     in [-2^63, 2^63): 9.21e18 -> 9210000000000000000; values at or beyond
     2^63 (or below -2^63), NaN and the infinities have no int64, and the core
     refuses them with an error on every device.  (PyTorch gives an
     unspecified value there: INT64_MIN on x86, 0 or saturation elsewhere.)
     Should one reach a kernel, it is written as 0, never undefined behaviour.
   - int64 clamp: an infinite bound is an absent one (it stands for INT64_MAX
     or INT64_MIN, gd_int64_clamp_bound, in the kernels of every device), so
     clamp(nil, inf) leaves INT64_MAX as it is; a finite bound that is no
     int64 value (2.5, 1e19) makes the result float32 (the core), as a
     Python float bound does in PyTorch. */
GD_HD static inline int gd_float_fits_int64(double v)
{
    /* the doubles that truncate into [-2^63, 2^63): the next double below
       -2^63 is -2^63 - 2048, which does not */
    return v >= -9223372036854775808.0 && v < 9223372036854775808.0;
}
GD_HD static inline int64_t gd_float_to_int64(double v) { return gd_float_fits_int64(v) ? (int64_t)v : 0; }
/* an int64 clamp bound (an int64 value, or infinite; never NaN: the core refuses it) */
GD_HD static inline int64_t gd_int64_clamp_bound(double v)
{
    if (v >= 9223372036854775808.0) return INT64_MAX;
    if (v < -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

/* int64 arithmetic wraps around (two's complement), as PyTorch's and NumPy's
   does; it goes through uint64_t because signed overflow is undefined in C. */
GD_HD static inline int64_t gd_add_i(int64_t x, int64_t y) { return (int64_t)((uint64_t)x + (uint64_t)y); }
GD_HD static inline int64_t gd_sub_i(int64_t x, int64_t y) { return (int64_t)((uint64_t)x - (uint64_t)y); }
GD_HD static inline int64_t gd_mul_i(int64_t x, int64_t y) { return (int64_t)((uint64_t)x * (uint64_t)y); }
GD_HD static inline int64_t gd_neg_i(int64_t x) { return (int64_t)(0 - (uint64_t)x); }
GD_HD static inline int64_t gd_abs_i(int64_t x) { return x < 0 ? gd_neg_i(x) : x; }

/* int64: the caller has excluded y == 0 (mod) and y < 0 (pow).  x % -1 is
   done by hand: INT64_MIN % -1 traps on x86. */
GD_HD static inline int64_t gd_mod_i(int64_t x, int64_t y)
{
    if (y == -1) return 0;
    int64_t r = x % y;
    return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
}
GD_HD static inline int64_t gd_pow_i(int64_t x, int64_t y)
{
    uint64_t r = 1, b = (uint64_t)x;
    while (y > 0) {
        if (y & 1) r *= b;
        b *= b;
        y >>= 1;
    }
    return (int64_t)r;
}
GD_HD static inline int64_t gd_maximum_i(int64_t x, int64_t y) { return x > y ? x : y; }
GD_HD static inline int64_t gd_minimum_i(int64_t x, int64_t y) { return x < y ? x : y; }
GD_HD static inline int64_t gd_sign_i(int64_t x) { return (x > 0) - (x < 0); }
GD_HD static inline int64_t gd_relu_i(int64_t x) { return x > 0 ? x : 0; }
GD_HD static inline int64_t gd_clamp_i(int64_t x, int64_t lo, int64_t hi) { return x < lo ? lo : (x > hi ? hi : x); }

#endif
