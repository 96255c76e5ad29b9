/*
 * hd.h: GD_HD marks per-element functions compiled for both the CPU (gcc) and
 * the GPU (nvcc), so that one definition of the math serves both backends and
 * the CPU specs check the GPU's arithmetic too.
 */
#ifndef GD_KERNELS_HD_H
#define GD_KERNELS_HD_H

#ifdef __CUDACC__
#define GD_HD __host__ __device__
#else
#define GD_HD
#endif

#include <math.h>
#include <stdint.h>

#endif
