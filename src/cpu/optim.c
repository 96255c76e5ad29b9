/*
 * cpu/optim.c: the CPU backend's fused optimizer loops: one pass over the
 * (param, grad, state...) segments that src/optim.c lays out, the per-element
 * math of src/kernels/optim.h, split across threads by element ranges in one
 * parallel region.
 */
#include "cpu.h"
#include "../kernels/optim.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* --------------------------------------------------------------- kernels */

/* One loop per (kind, dtype, switches): the switches are constants inside, so
   every loop vectorises.  `restrict`: the arrays of one segment never overlap.
   MXNet's clip_weights and the coupled L2 decay (gd_optim_coupled, see
   gd_optim_grad_sw) are tested once per call, each way a loop of its own. */
#define RMSPROP_EACH(S, CEN, EPSIN, MST, CW, CPL)                                        \
    for (int64_t i = 0; i < n; i++)                                                      \
        gd_rmsprop_elem_##S(p + i, g[i], v + i, CEN ? m + i : v + i, MST ? b + i : v + i, k, CEN, EPSIN, \
                            MST, CW, CPL)
#define RMSPROP_LOOP(T, S, CEN, EPSIN, MST)                                              \
    GD_SIMD_CLONES static void rmsprop_##S##_##CEN##EPSIN##MST(int64_t n, T *restrict p, const T *restrict g, \
                                                T *restrict v, T *restrict m, T *restrict b, \
                                                const gd_optim_coef *restrict k)         \
    {                                                                                    \
        const int coupled = gd_optim_coupled_##S(k);                                     \
        if (k->clip_weights) {                                                           \
            if (coupled) RMSPROP_EACH(S, CEN, EPSIN, MST, 1, 1); else RMSPROP_EACH(S, CEN, EPSIN, MST, 1, 0); \
        } else {                                                                         \
            if (coupled) RMSPROP_EACH(S, CEN, EPSIN, MST, 0, 1); else RMSPROP_EACH(S, CEN, EPSIN, MST, 0, 0); \
        }                                                                                \
    }
#define RMSPROP_LOOPS_MST(T, S, CEN, EPSIN)                                                  \
    RMSPROP_LOOP(T, S, CEN, EPSIN, 0) RMSPROP_LOOP(T, S, CEN, EPSIN, 1)                      \
    RMSPROP_LOOP(T, S, CEN, EPSIN, 2) RMSPROP_LOOP(T, S, CEN, EPSIN, 3)
#define RMSPROP_LOOPS(T, S)                                                                  \
    RMSPROP_LOOPS_MST(T, S, 0, 0) RMSPROP_LOOPS_MST(T, S, 0, 1)                              \
    RMSPROP_LOOPS_MST(T, S, 1, 0) RMSPROP_LOOPS_MST(T, S, 1, 1)
RMSPROP_LOOPS(float, f)
RMSPROP_LOOPS(double, d)

typedef void (*rmsprop_loop_f)(int64_t, float *, const float *, float *, float *, float *, const gd_optim_coef *);
typedef void (*rmsprop_loop_d)(int64_t, double *, const double *, double *, double *, double *,
                               const gd_optim_coef *);
#define RMSPROP_TABLE(S)                                                                     \
    {{{rmsprop_##S##_000, rmsprop_##S##_001, rmsprop_##S##_002, rmsprop_##S##_003},          \
      {rmsprop_##S##_010, rmsprop_##S##_011, rmsprop_##S##_012, rmsprop_##S##_013}},         \
     {{rmsprop_##S##_100, rmsprop_##S##_101, rmsprop_##S##_102, rmsprop_##S##_103},          \
      {rmsprop_##S##_110, rmsprop_##S##_111, rmsprop_##S##_112, rmsprop_##S##_113}}}
static const rmsprop_loop_f rmsprop_f[2][2][4] = RMSPROP_TABLE(f);
static const rmsprop_loop_d rmsprop_d[2][2][4] = RMSPROP_TABLE(d);

#define SGD_LOOP(T, S, MOM, NEST)                                                            \
    GD_SIMD_CLONES static void sgd_##S##_##MOM##NEST(int64_t n, T *restrict p, const T *restrict g,         \
                                      T *restrict b, const gd_optim_coef *restrict k)             \
    {                                                                                        \
        for (int64_t i = 0; i < n; i++) gd_sgd_elem_##S(p + i, g[i], MOM ? b + i : p + i, k, MOM, NEST); \
    }
SGD_LOOP(float, f, 0, 0) SGD_LOOP(float, f, 1, 0) SGD_LOOP(float, f, 1, 1)
SGD_LOOP(double, d, 0, 0) SGD_LOOP(double, d, 1, 0) SGD_LOOP(double, d, 1, 1)

#define ADAM_LOOP(T, S, AMS)                                                                 \
    GD_SIMD_CLONES static void adam_##S##_##AMS(int64_t n, T *restrict p, const T *restrict g, T *restrict m, \
                                 T *restrict v, T *restrict vmax, const gd_optim_coef *restrict k) \
    {                                                                                        \
        for (int64_t i = 0; i < n; i++) gd_adam_elem_##S(p + i, g[i], m + i, v + i, AMS ? vmax + i : v + i, k, AMS); \
    }
ADAM_LOOP(float, f, 0) ADAM_LOOP(float, f, 1) ADAM_LOOP(double, d, 0) ADAM_LOOP(double, d, 1)

#define OTHER_LOOPS(T, S)                                                                    \
    GD_SIMD_CLONES static void adadelta_##S(int64_t n, T *restrict p, const T *restrict g, T *restrict v,   \
                             T *restrict acc, const gd_optim_coef *restrict k)                    \
    {                                                                                        \
        for (int64_t i = 0; i < n; i++) gd_adadelta_elem_##S(p + i, g[i], v + i, acc + i, k); \
    }                                                                                        \
    GD_SIMD_CLONES static void smorms3_##S(int64_t n, T *restrict p, const T *restrict g, T *restrict mem,  \
                            T *restrict mg, T *restrict ms, const gd_optim_coef *restrict k)      \
    {                                                                                        \
        if (gd_optim_coupled_##S(k))                                                         \
            for (int64_t i = 0; i < n; i++) gd_smorms3_elem_##S(p + i, g[i], mem + i, mg + i, ms + i, k, 1); \
        else                                                                                 \
            for (int64_t i = 0; i < n; i++) gd_smorms3_elem_##S(p + i, g[i], mem + i, mg + i, ms + i, k, 0); \
    }
OTHER_LOOPS(float, f)
OTHER_LOOPS(double, d)

/* The rest of torch.optim: Adamax, NAdam, RAdam (rectified or not), ASGD (mu == 1
   or not), Rprop.  Unused pointers alias a used array; the switch never touches them. */
#define MORE_LOOPS(T, S)                                                                     \
    GD_SIMD_CLONES static void adamax_##S(int64_t n, T *restrict p, const T *restrict g, T *restrict m,     \
                           T *restrict u, const gd_optim_coef *restrict k)                   \
    {                                                                                        \
        for (int64_t i = 0; i < n; i++) gd_adamax_elem_##S(p + i, g[i], m + i, u + i, k);     \
    }                                                                                        \
    GD_SIMD_CLONES static void nadam_##S(int64_t n, T *restrict p, const T *restrict g, T *restrict m,      \
                          T *restrict v, const gd_optim_coef *restrict k)                    \
    {                                                                                        \
        for (int64_t i = 0; i < n; i++) gd_nadam_elem_##S(p + i, g[i], m + i, v + i, k);      \
    }                                                                                        \
    GD_SIMD_CLONES static void radam_##S##_0(int64_t n, T *restrict p, const T *restrict g, T *restrict m,  \
                              T *restrict v, const gd_optim_coef *restrict k)                \
    {                                                                                        \
        for (int64_t i = 0; i < n; i++) gd_radam_elem_##S(p + i, g[i], m + i, v + i, k, 0);  \
    }                                                                                        \
    GD_SIMD_CLONES static void radam_##S##_1(int64_t n, T *restrict p, const T *restrict g, T *restrict m,  \
                              T *restrict v, const gd_optim_coef *restrict k)                \
    {                                                                                        \
        for (int64_t i = 0; i < n; i++) gd_radam_elem_##S(p + i, g[i], m + i, v + i, k, 1);  \
    }                                                                                        \
    GD_SIMD_CLONES static void asgd_##S##_0(int64_t n, T *restrict p, const T *restrict g, T *restrict ax,  \
                             const gd_optim_coef *restrict k)                                \
    {                                                                                        \
        for (int64_t i = 0; i < n; i++) gd_asgd_elem_##S(p + i, g[i], ax + i, k, 0);         \
    }                                                                                        \
    GD_SIMD_CLONES static void asgd_##S##_1(int64_t n, T *restrict p, const T *restrict g, T *restrict ax,  \
                             const gd_optim_coef *restrict k)                                \
    {                                                                                        \
        for (int64_t i = 0; i < n; i++) gd_asgd_elem_##S(p + i, g[i], ax + i, k, 1);         \
    }                                                                                        \
    GD_SIMD_CLONES static void rprop_##S(int64_t n, T *restrict p, const T *restrict g, T *restrict prev,   \
                          T *restrict step, const gd_optim_coef *restrict k)                 \
    {                                                                                        \
        for (int64_t i = 0; i < n; i++) gd_rprop_elem_##S(p + i, g[i], prev + i, step + i, k); \
    }
MORE_LOOPS(float, f)
MORE_LOOPS(double, d)

/* What papers compare against: Lion, AdaBelief (amsgrad x mode), Adan,
   Schedule-Free AdamW / SGD. */
#define BELIEF_LOOP(T, S, AMS, MODE)                                                         \
    GD_SIMD_CLONES static void adabelief_##S##_##AMS##MODE(int64_t n, T *restrict p, const T *restrict g,   \
                                            T *restrict m, T *restrict v, T *restrict vm,    \
                                            const gd_optim_coef *restrict k)                 \
    {                                                                                        \
        if (gd_optim_coupled_##S(k))                                                         \
            for (int64_t i = 0; i < n; i++)                                                  \
                gd_adabelief_elem_##S(p + i, g[i], m + i, v + i, AMS ? vm + i : v + i, k, AMS, MODE, 1); \
        else                                                                                 \
            for (int64_t i = 0; i < n; i++)                                                  \
                gd_adabelief_elem_##S(p + i, g[i], m + i, v + i, AMS ? vm + i : v + i, k, AMS, MODE, 0); \
    }
/* Adan: coupled L2 decay x decay mode (GD_ADAN_*), each a loop of its own so that
   it vectorises (see gd_adan_elem in src/kernels/optim.h) */
#define ADAN_LOOP(T, S, CPL, DEC)                                                            \
    GD_SIMD_CLONES static void adan_##S##_##CPL##DEC(int64_t n, T *restrict p, const T *restrict g,      \
                                      T *restrict m, T *restrict dm, T *restrict nn,         \
                                      T *restrict neg, const gd_optim_coef *restrict k)       \
    {                                                                                        \
        for (int64_t i = 0; i < n; i++)                                                      \
            gd_adan_elem_##S(p + i, g[i], m + i, dm + i, nn + i, neg + i, k, CPL, DEC);      \
    }
#define PAPER_LOOPS(T, S)                                                                    \
    GD_SIMD_CLONES static void lion_##S(int64_t n, T *restrict p, const T *restrict g, T *restrict m,       \
                         const gd_optim_coef *restrict k)                                    \
    {                                                                                        \
        for (int64_t i = 0; i < n; i++) gd_lion_elem_##S(p + i, g[i], m + i, k);              \
    }                                                                                        \
    BELIEF_LOOP(T, S, 0, 0) BELIEF_LOOP(T, S, 0, 1) BELIEF_LOOP(T, S, 0, 2) BELIEF_LOOP(T, S, 0, 3) \
    BELIEF_LOOP(T, S, 1, 0) BELIEF_LOOP(T, S, 1, 1) BELIEF_LOOP(T, S, 1, 2) BELIEF_LOOP(T, S, 1, 3) \
    ADAN_LOOP(T, S, 0, 0) ADAN_LOOP(T, S, 0, 1) ADAN_LOOP(T, S, 0, 2)                        \
    ADAN_LOOP(T, S, 1, 0) ADAN_LOOP(T, S, 1, 1) ADAN_LOOP(T, S, 1, 2)                        \
    GD_SIMD_CLONES static void sf_##S##_1(int64_t n, T *restrict p, const T *restrict g, T *restrict z,     \
                           T *restrict v, const gd_optim_coef *restrict k)                   \
    {                                                                                        \
        for (int64_t i = 0; i < n; i++) gd_schedulefree_elem_##S(p + i, g[i], z + i, v + i, k, 1); \
    }                                                                                        \
    GD_SIMD_CLONES static void sf_##S##_0(int64_t n, T *restrict p, const T *restrict g, T *restrict z,     \
                           const gd_optim_coef *restrict k)                                  \
    {                                                                                        \
        for (int64_t i = 0; i < n; i++) gd_schedulefree_elem_##S(p + i, g[i], z + i, z + i, k, 0); \
    }
PAPER_LOOPS(float, f)
PAPER_LOOPS(double, d)

typedef void (*belief_loop_f)(int64_t, float *, const float *, float *, float *, float *, const gd_optim_coef *);
typedef void (*belief_loop_d)(int64_t, double *, const double *, double *, double *, double *,
                              const gd_optim_coef *);
#define BELIEF_TABLE(S)                                                                      \
    {{adabelief_##S##_00, adabelief_##S##_01, adabelief_##S##_02, adabelief_##S##_03},       \
     {adabelief_##S##_10, adabelief_##S##_11, adabelief_##S##_12, adabelief_##S##_13}}
static const belief_loop_f adabelief_f[2][4] = BELIEF_TABLE(f);
static const belief_loop_d adabelief_d[2][4] = BELIEF_TABLE(d);

typedef void (*adan_loop_f)(int64_t, float *, const float *, float *, float *, float *, float *,
                            const gd_optim_coef *);
typedef void (*adan_loop_d)(int64_t, double *, const double *, double *, double *, double *, double *,
                            const gd_optim_coef *);
#define ADAN_TABLE(S) {{adan_##S##_00, adan_##S##_01, adan_##S##_02}, {adan_##S##_10, adan_##S##_11, adan_##S##_12}}
static const adan_loop_f adan_f[2][3] = ADAN_TABLE(f);
static const adan_loop_d adan_d[2][3] = ADAN_TABLE(d);

/* Runs elements [b, e) of one segment. */
static void run_range(const gd_optim_plan *pl, const gd_optim_segment *s, int64_t b, int64_t e)
{
    int64_t n = e - b;
    if (n <= 0) return;
    int64_t es = s->dtype == GD_FLOAT32 ? 4 : 8;
    int64_t ob = b * (int64_t)es;
    char *p = s->param + ob, *g = s->grad + ob;
    char *st[GD_OPTIM_MAX_SLOTS];
    for (int k = 0; k < GD_OPTIM_MAX_SLOTS; k++) st[k] = s->state[k] ? s->state[k] + ob : NULL;
    bool f = s->dtype == GD_FLOAT32;
#define ARGS(T) (T *)p, (const T *)g
    switch (pl->kind) {
    case GD_OPTIM_SGD:
        if (f) (pl->use_momentum ? (pl->nesterov ? sgd_f_11 : sgd_f_10) : sgd_f_00)(n, ARGS(float), (float *)st[0], &pl->k);
        else (pl->use_momentum ? (pl->nesterov ? sgd_d_11 : sgd_d_10) : sgd_d_00)(n, ARGS(double), (double *)st[0], &pl->k);
        break;
    case GD_OPTIM_RMSPROP:
        if (f)
            rmsprop_f[pl->centered][pl->eps_inside][pl->mst](n, ARGS(float), (float *)st[0], (float *)st[1],
                                                             (float *)st[2], &pl->k);
        else
            rmsprop_d[pl->centered][pl->eps_inside][pl->mst](n, ARGS(double), (double *)st[0], (double *)st[1],
                                                             (double *)st[2], &pl->k);
        break;
    case GD_OPTIM_ADADELTA:
        if (f) adadelta_f(n, ARGS(float), (float *)st[0], (float *)st[1], &pl->k);
        else adadelta_d(n, ARGS(double), (double *)st[0], (double *)st[1], &pl->k);
        break;
    case GD_OPTIM_ADAM:
        if (f) (pl->amsgrad ? adam_f_1 : adam_f_0)(n, ARGS(float), (float *)st[0], (float *)st[1], (float *)st[2], &pl->k);
        else (pl->amsgrad ? adam_d_1 : adam_d_0)(n, ARGS(double), (double *)st[0], (double *)st[1], (double *)st[2], &pl->k);
        break;
    case GD_OPTIM_SMORMS3:
        if (f) smorms3_f(n, ARGS(float), (float *)st[0], (float *)st[1], (float *)st[2], &pl->k);
        else smorms3_d(n, ARGS(double), (double *)st[0], (double *)st[1], (double *)st[2], &pl->k);
        break;
    case GD_OPTIM_ADAMAX:
        if (f) adamax_f(n, ARGS(float), (float *)st[0], (float *)st[1], &pl->k);
        else adamax_d(n, ARGS(double), (double *)st[0], (double *)st[1], &pl->k);
        break;
    case GD_OPTIM_NADAM:
        if (f) nadam_f(n, ARGS(float), (float *)st[0], (float *)st[1], &pl->k);
        else nadam_d(n, ARGS(double), (double *)st[0], (double *)st[1], &pl->k);
        break;
    case GD_OPTIM_RADAM:
        if (f) (pl->rectify ? radam_f_1 : radam_f_0)(n, ARGS(float), (float *)st[0], (float *)st[1], &pl->k);
        else (pl->rectify ? radam_d_1 : radam_d_0)(n, ARGS(double), (double *)st[0], (double *)st[1], &pl->k);
        break;
    case GD_OPTIM_ASGD:
        if (f) (pl->avg_copy ? asgd_f_1 : asgd_f_0)(n, ARGS(float), (float *)st[0], &pl->k);
        else (pl->avg_copy ? asgd_d_1 : asgd_d_0)(n, ARGS(double), (double *)st[0], &pl->k);
        break;
    case GD_OPTIM_RPROP:
        if (f) rprop_f(n, ARGS(float), (float *)st[0], (float *)st[1], &pl->k);
        else rprop_d(n, ARGS(double), (double *)st[0], (double *)st[1], &pl->k);
        break;
    case GD_OPTIM_LION:
        if (f) lion_f(n, ARGS(float), (float *)st[0], &pl->k);
        else lion_d(n, ARGS(double), (double *)st[0], &pl->k);
        break;
    case GD_OPTIM_ADABELIEF:
        if (f)
            adabelief_f[pl->amsgrad][pl->belief_mode](n, ARGS(float), (float *)st[0], (float *)st[1],
                                                      (float *)(pl->amsgrad ? st[2] : st[1]), &pl->k);
        else
            adabelief_d[pl->amsgrad][pl->belief_mode](n, ARGS(double), (double *)st[0], (double *)st[1],
                                                      (double *)(pl->amsgrad ? st[2] : st[1]), &pl->k);
        break;
    case GD_OPTIM_ADAN:
        if (f)
            adan_f[gd_optim_coupled_f(&pl->k)][gd_adan_decay_f(&pl->k)](n, ARGS(float), (float *)st[0], (float *)st[1],
                                                                     (float *)st[2], (float *)st[3], &pl->k);
        else
            adan_d[gd_optim_coupled_d(&pl->k)][gd_adan_decay_d(&pl->k)](n, ARGS(double), (double *)st[0],
                                                                     (double *)st[1], (double *)st[2],
                                                                     (double *)st[3], &pl->k);
        break;
    case GD_OPTIM_SF_ADAMW:
        if (f) sf_f_1(n, ARGS(float), (float *)st[0], (float *)st[1], &pl->k);
        else sf_d_1(n, ARGS(double), (double *)st[0], (double *)st[1], &pl->k);
        break;
    case GD_OPTIM_SF_SGD:
        if (f) sf_f_0(n, ARGS(float), (float *)st[0], &pl->k);
        else sf_d_0(n, ARGS(double), (double *)st[0], &pl->k);
        break;
    }
#undef ARGS
}

/* All CPU segments in one parallel region: the concatenated elements are cut
   into equal ranges, one per thread. */
int gd_cpu_optim_step(const gd_optim_plan *pl, const gd_optim_segment *segs, int nseg)
{
    int64_t total = 0;
    for (int k = 0; k < nseg; k++)
        if (segs[k].device == GD_CPU) total += segs[k].n;
    if (total == 0) return 0;
    if (!gd_parallel_worth(total)) {
        for (int k = 0; k < nseg; k++)
            if (segs[k].device == GD_CPU) run_range(pl, &segs[k], 0, segs[k].n);
        return 0;
    }
#ifdef _OPENMP
    #pragma omp parallel
    {
        int nt = omp_get_num_threads(), tid = omp_get_thread_num();
        int64_t chunk = ((total + nt - 1) / nt + 63) & ~(int64_t)63;
        int64_t b = (int64_t)tid * chunk, e = b + chunk < total ? b + chunk : total;
        int64_t base = 0;
        for (int k = 0; k < nseg && base < e; k++) {
            if (segs[k].device != GD_CPU) continue;
            int64_t sb = base, se = base + segs[k].n;
            int64_t lo = b > sb ? b : sb, hi = e < se ? e : se;
            if (lo < hi) run_range(pl, &segs[k], lo - sb, hi - sb);
            base = se;
        }
    }
#endif
    return 0;
}
