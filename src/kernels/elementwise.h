/*
 * elementwise.h: the per-element math of gd_binary / gd_unary, in float and
 * double (suffix f / d) and int64 where it applies.  Conventions follow
 * PyTorch: `%` takes the sign of the divisor (torch.remainder, Lua's %),
 * maximum/minimum propagate NaN, sign(0) = 0, round halves to even.
 */
#ifndef GD_KERNELS_ELEMENTWISE_H
#define GD_KERNELS_ELEMENTWISE_H

#include "hd.h"

#define GD_DEFINE_REAL_KERNELS(T, S, FLOOR, POW, EXP, TANH, RINT)                              \
    GD_HD static inline T gd_mod_##S(T x, T y) { return x - FLOOR(x / y) * y; }                \
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

GD_DEFINE_REAL_KERNELS(float, f, floorf, powf, expf, tanhf, rintf)
GD_DEFINE_REAL_KERNELS(double, d, floor, pow, exp, tanh, rint)

/* int64: the caller has excluded y == 0 (mod) and y < 0 (pow). */
GD_HD static inline int64_t gd_mod_i(int64_t x, int64_t y)
{
    int64_t r = x % y;
    return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
}
GD_HD static inline int64_t gd_pow_i(int64_t x, int64_t y)
{
    int64_t r = 1;
    while (y > 0) {
        if (y & 1) r *= x;
        x *= x;
        y >>= 1;
    }
    return r;
}
GD_HD static inline int64_t gd_maximum_i(int64_t x, int64_t y) { return x > y ? x : y; }
GD_HD static inline int64_t gd_minimum_i(int64_t x, int64_t y) { return x < y ? x : y; }
GD_HD static inline int64_t gd_sign_i(int64_t x) { return (x > 0) - (x < 0); }
GD_HD static inline int64_t gd_relu_i(int64_t x) { return x > 0 ? x : 0; }
GD_HD static inline int64_t gd_clamp_i(int64_t x, int64_t lo, int64_t hi) { return x < lo ? lo : (x > hi ? hi : x); }

#endif
