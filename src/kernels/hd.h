/*
 * hd.h: GD_HD marks per-element functions compiled for both the CPU (gcc) and
 * the GPU (nvcc), so that one definition of the math serves both backends and
 * the CPU specs check the GPU's arithmetic too.
 */
#ifndef GD_KERNELS_HD_H
#define GD_KERNELS_HD_H

#ifdef __CUDACC__
#define GD_HD __host__ __device__
#define GD_HD_ALWAYS_INLINE
#else
#define GD_HD
/* an update a CPU loop function calls in several loops (one per compile-time
   switch): without it gcc 12 stops inlining past its unit-growth limits and the
   loops that call an out-of-line copy do not vectorise (src/cpu/optim.c) */
#define GD_HD_ALWAYS_INLINE __attribute__((always_inline))
#endif

#include <math.h>
#include <stdint.h>

#endif
