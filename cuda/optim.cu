// optim.cu: the fused optimizer step on the GPU: one kernel per segment (a
// module's whole parameter arena is one segment), specialised on the step's
// switches, running the per-element math of src/kernels/optim.h, the very
// functions the CPU loops run.
#include "common.cuh"
#include "kernels/optim.h"

namespace gdcuda {

#define GRID_LOOP(n) \
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

// Elem<T>: src/kernels/optim.h's per-element functions for storage type T
// (their C names carry the type as a suffix)
template <typename T> struct Elem;
#define GD_OPTIM_ELEM(T, S)                                                                       \
    template <> struct Elem<T> {                                                                  \
        template <int C, int E, int M>                                                            \
        __device__ static void rmsprop(T *p, T g, T *v, T *m, T *b, const gd_optim_coef *k)       \
        { gd_rmsprop_elem_##S(p, g, v, m, b, k,                                                   \
                              C, E, M, k->clip_weights, gd_optim_coupled_##S(k)); }               \
        template <int MOM, int NEST>                                                              \
        __device__ static void sgd(T *p, T g, T *b, const gd_optim_coef *k)                       \
        { gd_sgd_elem_##S(p, g, b, k, MOM, NEST); }                                               \
        template <int AMS>                                                                        \
        __device__ static void adam(T *p, T g, T *m, T *v, T *vm, const gd_optim_coef *k)         \
        { gd_adam_elem_##S(p, g, m, v, vm, k, AMS); }                                             \
        __device__ static void adadelta(T *p, T g, T *v, T *a, const gd_optim_coef *k)            \
        { gd_adadelta_elem_##S(p, g, v, a, k); }                                                  \
        __device__ static void smorms3(T *p, T g, T *a, T *b, T *c, const gd_optim_coef *k)       \
        { gd_smorms3_elem_##S(p, g, a, b, c, k,                                                   \
                              gd_optim_coupled_##S(k)); }                                         \
        __device__ static void adamax(T *p, T g, T *m, T *u, const gd_optim_coef *k)              \
        { gd_adamax_elem_##S(p, g, m, u, k); }                                                    \
        __device__ static void nadam(T *p, T g, T *m, T *v, const gd_optim_coef *k)               \
        { gd_nadam_elem_##S(p, g, m, v, k); }                                                     \
        template <int RECT>                                                                       \
        __device__ static void radam(T *p, T g, T *m, T *v, const gd_optim_coef *k)               \
        { gd_radam_elem_##S(p, g, m, v, k, RECT); }                                               \
        template <int COPY>                                                                       \
        __device__ static void asgd(T *p, T g, T *ax, const gd_optim_coef *k)                     \
        { gd_asgd_elem_##S(p, g, ax, k, COPY); }                                                  \
        __device__ static void rprop(T *p, T g, T *prev, T *step, const gd_optim_coef *k)         \
        { gd_rprop_elem_##S(p, g, prev, step, k); }                                               \
        __device__ static void lion(T *p, T g, T *m, const gd_optim_coef *k)                      \
        { gd_lion_elem_##S(p, g, m, k); }                                                         \
        template <int AMS, int MODE>                                                              \
        __device__ static void adabelief(T *p, T g, T *m, T *v, T *vm, const gd_optim_coef *k)    \
        { gd_adabelief_elem_##S(p, g, m, v, vm, k,                                                \
                                AMS, MODE, gd_optim_coupled_##S(k)); }                            \
        __device__ static void adan(T *p, T g, T *m, T *dm, T *n, T *neg, const gd_optim_coef *k) \
        { gd_adan_elem_##S(p, g, m, dm, n, neg, k,                                                \
                           gd_optim_coupled_##S(k), gd_adan_decay_##S(k)); }                      \
        template <int ADAM>                                                                       \
        __device__ static void schedulefree(T *p, T g, T *z, T *v, const gd_optim_coef *k)        \
        { gd_schedulefree_elem_##S(p, g, z, v, k, ADAM); }                                        \
    };
GD_OPTIM_ELEM(float, f)
GD_OPTIM_ELEM(double, d)

// unused state slots point at v: the switches keep them untouched
template <typename T, int C, int E, int M>
__global__ void rmsprop_kernel(T *p, const T *g, T *v, T *m, T *b, long long n, gd_optim_coef k)
{
    GRID_LOOP(n) Elem<T>::template rmsprop<C, E, M>(p + i, g[i], v + i, C ? m + i : v + i, M ? b + i : v + i, &k);
}
template <typename T, int MOM, int NEST>
__global__ void sgd_kernel(T *p, const T *g, T *b, long long n, gd_optim_coef k)
{
    GRID_LOOP(n) Elem<T>::template sgd<MOM, NEST>(p + i, g[i], MOM ? b + i : p + i, &k);
}
template <typename T, int AMS>
__global__ void adam_kernel(T *p, const T *g, T *m, T *v, T *vm, long long n, gd_optim_coef k)
{
    GRID_LOOP(n) Elem<T>::template adam<AMS>(p + i, g[i], m + i, v + i, AMS ? vm + i : v + i, &k);
}
template <typename T>
__global__ void adadelta_kernel(T *p, const T *g, T *v, T *a, long long n, gd_optim_coef k)
{
    GRID_LOOP(n) Elem<T>::adadelta(p + i, g[i], v + i, a + i, &k);
}
template <typename T>
__global__ void smorms3_kernel(T *p, const T *g, T *a, T *b, T *c, long long n, gd_optim_coef k)
{
    GRID_LOOP(n) Elem<T>::smorms3(p + i, g[i], a + i, b + i, c + i, &k);
}

// the rest of torch.optim
template <typename T>
__global__ void adamax_kernel(T *p, const T *g, T *m, T *u, long long n, gd_optim_coef k)
{
    GRID_LOOP(n) Elem<T>::adamax(p + i, g[i], m + i, u + i, &k);
}
template <typename T>
__global__ void nadam_kernel(T *p, const T *g, T *m, T *v, long long n, gd_optim_coef k)
{
    GRID_LOOP(n) Elem<T>::nadam(p + i, g[i], m + i, v + i, &k);
}
template <typename T, int RECT>
__global__ void radam_kernel(T *p, const T *g, T *m, T *v, long long n, gd_optim_coef k)
{
    GRID_LOOP(n) Elem<T>::template radam<RECT>(p + i, g[i], m + i, v + i, &k);
}
template <typename T, int COPY>
__global__ void asgd_kernel(T *p, const T *g, T *ax, long long n, gd_optim_coef k)
{
    GRID_LOOP(n) Elem<T>::template asgd<COPY>(p + i, g[i], ax + i, &k);
}
template <typename T>
__global__ void rprop_kernel(T *p, const T *g, T *prev, T *step, long long n, gd_optim_coef k)
{
    GRID_LOOP(n) Elem<T>::rprop(p + i, g[i], prev + i, step + i, &k);
}

// what papers compare against
template <typename T>
__global__ void lion_kernel(T *p, const T *g, T *m, long long n, gd_optim_coef k)
{
    GRID_LOOP(n) Elem<T>::lion(p + i, g[i], m + i, &k);
}
template <typename T, int AMS, int MODE>
__global__ void adabelief_kernel(T *p, const T *g, T *m, T *v, T *vm, long long n, gd_optim_coef k)
{
    GRID_LOOP(n) Elem<T>::template adabelief<AMS, MODE>(p + i, g[i], m + i, v + i, AMS ? vm + i : v + i, &k);
}
template <typename T>
__global__ void adan_kernel(T *p, const T *g, T *m, T *dm, T *nn, T *neg, long long n, gd_optim_coef k)
{
    GRID_LOOP(n) Elem<T>::adan(p + i, g[i], m + i, dm + i, nn + i, neg + i, &k);
}
template <typename T, int ADAM>
__global__ void schedulefree_kernel(T *p, const T *g, T *z, T *v, long long n, gd_optim_coef k)
{
    GRID_LOOP(n) Elem<T>::template schedulefree<ADAM>(p + i, g[i], z + i, ADAM ? v + i : z + i, &k);
}
template <typename T, int AMS>
static void adabelief_m(int mode, unsigned grid, T *p, const T *g, T *m, T *v, T *vm, long long n,
                        const gd_optim_coef &k)
{
    switch (mode) {
    case GD_BELIEF_PLAIN: adabelief_kernel<T, AMS, GD_BELIEF_PLAIN><<<grid, kThreads>>>(p, g, m, v, vm, n, k); break;
    case GD_BELIEF_RECT: adabelief_kernel<T, AMS, GD_BELIEF_RECT><<<grid, kThreads>>>(p, g, m, v, vm, n, k); break;
    case GD_BELIEF_SGD: adabelief_kernel<T, AMS, GD_BELIEF_SGD><<<grid, kThreads>>>(p, g, m, v, vm, n, k); break;
    default: adabelief_kernel<T, AMS, GD_BELIEF_NONE><<<grid, kThreads>>>(p, g, m, v, vm, n, k); break;
    }
}

// run-time switches to template arguments
template <typename T, int C, int E>
static void rmsprop_m(int mst, unsigned grid, T *p, const T *g, T *v, T *m, T *b, long long n, const gd_optim_coef &k)
{
    switch (mst) {
    case GD_MST_NONE: rmsprop_kernel<T, C, E, GD_MST_NONE><<<grid, kThreads>>>(p, g, v, m, b, n, k); break;
    case GD_MST_PYTORCH: rmsprop_kernel<T, C, E, GD_MST_PYTORCH><<<grid, kThreads>>>(p, g, v, m, b, n, k); break;
    case GD_MST_LR_INSIDE: rmsprop_kernel<T, C, E, GD_MST_LR_INSIDE><<<grid, kThreads>>>(p, g, v, m, b, n, k); break;
    default: rmsprop_kernel<T, C, E, GD_MST_NESTEROV><<<grid, kThreads>>>(p, g, v, m, b, n, k); break;
    }
}

template <typename T>
static void step_segment(const gd_optim_plan &pl, const gd_optim_segment &s)
{
    T *p = (T *)s.param;
    const T *g = (const T *)s.grad;
    T *s0 = (T *)s.state[0], *s1 = (T *)s.state[1], *s2 = (T *)s.state[2], *s3 = (T *)s.state[3];
    long long n = s.n;
    unsigned grid = blocks_for(n);
    const gd_optim_coef &k = pl.k;
    switch (pl.kind) {
    case GD_OPTIM_SGD:
        if (!pl.use_momentum) sgd_kernel<T, 0, 0><<<grid, kThreads>>>(p, g, s0, n, k);
        else if (pl.nesterov) sgd_kernel<T, 1, 1><<<grid, kThreads>>>(p, g, s0, n, k);
        else sgd_kernel<T, 1, 0><<<grid, kThreads>>>(p, g, s0, n, k);
        break;
    case GD_OPTIM_RMSPROP:
        if (pl.centered) {
            if (pl.eps_inside) rmsprop_m<T, 1, 1>(pl.mst, grid, p, g, s0, s1, s2, n, k);
            else rmsprop_m<T, 1, 0>(pl.mst, grid, p, g, s0, s1, s2, n, k);
        } else {
            if (pl.eps_inside) rmsprop_m<T, 0, 1>(pl.mst, grid, p, g, s0, s1, s2, n, k);
            else rmsprop_m<T, 0, 0>(pl.mst, grid, p, g, s0, s1, s2, n, k);
        }
        break;
    case GD_OPTIM_ADADELTA: adadelta_kernel<T><<<grid, kThreads>>>(p, g, s0, s1, n, k); break;
    case GD_OPTIM_ADAM:
        if (pl.amsgrad) adam_kernel<T, 1><<<grid, kThreads>>>(p, g, s0, s1, s2, n, k);
        else adam_kernel<T, 0><<<grid, kThreads>>>(p, g, s0, s1, s2, n, k);
        break;
    case GD_OPTIM_SMORMS3: smorms3_kernel<T><<<grid, kThreads>>>(p, g, s0, s1, s2, n, k); break;
    case GD_OPTIM_ADAMAX: adamax_kernel<T><<<grid, kThreads>>>(p, g, s0, s1, n, k); break;
    case GD_OPTIM_NADAM: nadam_kernel<T><<<grid, kThreads>>>(p, g, s0, s1, n, k); break;
    case GD_OPTIM_RADAM:
        if (pl.rectify) radam_kernel<T, 1><<<grid, kThreads>>>(p, g, s0, s1, n, k);
        else radam_kernel<T, 0><<<grid, kThreads>>>(p, g, s0, s1, n, k);
        break;
    case GD_OPTIM_ASGD:
        if (pl.avg_copy) asgd_kernel<T, 1><<<grid, kThreads>>>(p, g, s0, n, k);
        else asgd_kernel<T, 0><<<grid, kThreads>>>(p, g, s0, n, k);
        break;
    case GD_OPTIM_LION: lion_kernel<T><<<grid, kThreads>>>(p, g, s0, n, k); break;
    case GD_OPTIM_ADABELIEF:
        if (pl.amsgrad) adabelief_m<T, 1>(pl.belief_mode, grid, p, g, s0, s1, s2, n, k);
        else adabelief_m<T, 0>(pl.belief_mode, grid, p, g, s0, s1, s1, n, k);
        break;
    case GD_OPTIM_ADAN: adan_kernel<T><<<grid, kThreads>>>(p, g, s0, s1, s2, s3, n, k); break;
    case GD_OPTIM_SF_ADAMW: schedulefree_kernel<T, 1><<<grid, kThreads>>>(p, g, s0, s1, n, k); break;
    case GD_OPTIM_SF_SGD: schedulefree_kernel<T, 0><<<grid, kThreads>>>(p, g, s0, s0, n, k); break;
    default: rprop_kernel<T><<<grid, kThreads>>>(p, g, s0, s1, n, k); break;
    }
}

int optim_step(const gd_optim_plan *plan, const gd_optim_segment *segs, int nseg)
{
    for (int i = 0; i < nseg; i++) {
        const gd_optim_segment &s = segs[i];
        if (s.device != GD_CUDA || s.n == 0) continue;
        if (s.dtype == GD_FLOAT32) step_segment<float>(*plan, s);
        else step_segment<double>(*plan, s);
        if (check_launch("optimizer step")) return -1;
    }
    return 0;
}

}  // namespace gdcuda
