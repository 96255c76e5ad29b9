/*
 * threads.c: how many threads the parallel loops and OpenBLAS use, and the
 * tuner that lowers that count when the cores are busy with other work.
 *
 * The user's count (gd_set_num_threads, OMP_NUM_THREADS, or one per processor)
 * is a limit.  On a shared machine a parallel region with n threads waits for
 * its slowest thread; when another process holds one of the cores, that
 * thread gets a share of it and every region waits for it: training the
 * 1024-wide MLP with 2 threads next to one spinning process ran at 0.11-0.45x
 * of 1 thread in most rounds (scripts/bench/nn.lua contention, 2 shared
 * cores, load 3-10), even with passive OpenMP waits (src/host/main.c).  So
 * the count adapts:
 *
 *   A training loop calls gd_optim_step once per iteration; the time between
 *   two steps of the same optimizer (the lead) is one iteration's time.  The
 *   tuner keeps the last RECENT iteration times at the active count; now and
 *   then it runs a probe at one thread fewer or one more (PROBE_SETTLE
 *   iterations to settle, then PROBE_ITERS compared), and moves to the probed
 *   count when their mean time was lower by more than HYSTERESIS.  The first probe comes after a few iterations.  A probe
 *   that loses pushes the next one further away: twice the interval, and far
 *   enough that losing probes cost at most 1/PROBE_BUDGET_INV of the time
 *   (up to PROBE_MAX iterations apart); a probe iteration already FAR_SLOWER
 *   ends the probe at once.
 *
 * Results do not depend on the count: gd's loops block their reductions by
 * size, and matrix products go through fixed blocks (src/cpu/blas.c: OpenBLAS
 * alone gives other bits with 2 threads than with 1), so the tuner changes
 * speed only (spec/threads_spec.lua).  gd_set_adaptive_threads(0), or
 * GD_ADAPTIVE_THREADS=0 in the environment, turns it off: the count is then
 * the limit.  It runs on the thread that calls gd (OpenMP's count belongs to
 * the calling thread) and keeps what it learnt per limit, so a loop that
 * switches between gd_set_num_threads(1) and (2) keeps its choice.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Below 2^17 elements (512 KB of float32) a loop stays on one thread: an
   OpenMP fork/join costs microseconds on an idle machine and far more on a
   busy one, while a memory-bound loop of that size takes tens.  Read by
   gd_parallel_worth (internal.h, inline). */
int64_t gd_parallel_threshold_value = 1 << 17;

enum {
    WARM_ITERS = 2,        /* iterations of a new lead not measured (JIT, first-touch page faults) */
    RECENT = 4,            /* iteration times kept at the active count */
    PROBE_SETTLE = 2,      /* a probe's first iterations, not compared: the threads have not
                              settled on the cores yet (measured: 2-iteration probes of 2 threads
                              lost to 1 thread while 2 threads ran 4x faster over an epoch) */
    PROBE_ITERS = 4,       /* a probe's iterations compared, after those */
    PROBE_MIN = 6,         /* iterations between probes after a change */
    PROBE_MAX = 256,       /* ... and at most, after probes that lost */
    PROBE_BUDGET_INV = 50, /* probes that lose cost at most 1/50 of the time */
};
static const double HYSTERESIS = 0.05;   /* a probe must be 5% faster to win */
static const double FAR_SLOWER = 2.0;    /* a compared probe iteration this much slower ends the probe */
static const double LEAD_STALE = 2.0;    /* seconds without the lead's step: the next optimizer leads */

enum { PH_WARM, PH_MEASURE, PH_PROBE };

static struct {
    int limit;                  /* the user's count (0: not read yet) */
    int active;                 /* the count in use */
    int adaptive;               /* tuner on (-1: not read yet) */
    uint64_t lead;              /* the optimizer whose steps delimit iterations */
    int others, others_per_iter; /* other optimizers' steps since the lead's last, and in its last iteration */
    double last;                /* time of the lead's last step */
    int phase, iters;           /* phase and iterations in it */
    double recent[RECENT];      /* iteration times at the active count, a ring */
    int nrecent, ring;
    int probe;                  /* the count being probed */
    double probe_sum, probe_cost; /* the compared iteration times of the probe, summed; all of them */
    int probe_ran, probe_seen;  /* its compared iterations so far; all of them */
    int interval, since;        /* iterations between probes, and since the last one */
    int dir;                    /* the next probe's direction: -1 fewer, +1 more threads */
    int learnt[GD_MAX_THREADS + 1]; /* the active count chosen for each limit (0: none yet) */
} tn = {.adaptive = -1};

static void apply(int n)
{
#ifdef _OPENMP
    omp_set_num_threads(n);   /* OpenBLAS's OpenMP build reads omp_get_max_threads() per call */
#else
    (void)n;
#endif
}

static void read_defaults(void)
{
    if (tn.limit == 0) {
#ifdef _OPENMP
        tn.limit = omp_get_max_threads();
#else
        tn.limit = 1;
#endif
        if (tn.limit > GD_MAX_THREADS) tn.limit = GD_MAX_THREADS;
        tn.active = tn.limit;
    }
    if (tn.adaptive < 0) {
        const char *e = getenv("GD_ADAPTIVE_THREADS");
        tn.adaptive = !(e && e[0] == '0' && e[1] == '\0');
    }
}

/* Forgets the lead and its measurements; keeps the learnt counts. */
static void restart(void)
{
    tn.lead = 0;
    tn.others = tn.others_per_iter = 0;
    tn.phase = PH_WARM;
    tn.iters = 0;
    tn.nrecent = tn.ring = 0;
    tn.since = 0;
    if (tn.interval == 0) tn.interval = PROBE_MIN;
    if (tn.dir == 0) tn.dir = -1;
}

void gd_set_num_threads(int n)
{
#ifdef _OPENMP
    if (n <= 0) n = omp_get_num_procs();
#else
    n = 1;
#endif
    if (n > GD_MAX_THREADS) n = GD_MAX_THREADS; /* libgomp aborts when it cannot create a thread */
    read_defaults();
    if (n != tn.limit) {
        if (tn.limit >= 1) tn.learnt[tn.limit] = tn.active;
        tn.limit = n;
        tn.active = tn.adaptive && tn.learnt[n] >= 1 && tn.learnt[n] <= n ? tn.learnt[n] : n;
        restart();
    }
    apply(tn.active);
}

int gd_get_num_threads(void)
{
    read_defaults();
    return tn.limit;
}

int gd_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int gd_get_active_threads(void)
{
    read_defaults();
    return gd_threads();
}

void gd_set_adaptive_threads(int on)
{
    read_defaults();
    /* either way the count starts again from the limit, and learning from scratch */
    tn.adaptive = on != 0;
    tn.active = tn.limit;
    for (int i = 0; i <= GD_MAX_THREADS; i++) tn.learnt[i] = 0;
    tn.interval = PROBE_MIN;
    apply(tn.active);
    restart();
}

int gd_get_adaptive_threads(void)
{
    read_defaults();
    return tn.adaptive;
}

/* The active count's iteration time: the mean of the recent ones without the
   largest (an evaluation or a collection between two steps).  Means, not
   minima: under contention the slow count's cost is in its tail (an iteration
   that waited for a thread without a core), which a minimum hides: measured
   2.6 ms at 1 thread against a 3.0 ms minimum at 2, with 2 threads at 0.27x
   of 1 thread's speed over an epoch. */
static double recent_time(void)
{
    if (tn.nrecent == 0) return INFINITY;
    double sum = 0, mx = 0;
    for (int i = 0; i < tn.nrecent; i++) {
        sum += tn.recent[i];
        mx = tn.recent[i] > mx ? tn.recent[i] : mx;
    }
    return tn.nrecent >= 3 ? (sum - mx) / (tn.nrecent - 1) : sum / tn.nrecent;
}

static void start_probe(void)
{
    int p = tn.active + tn.dir;
    if (p < 1 || p > tn.limit) {
        tn.dir = -tn.dir;
        p = tn.active + tn.dir;
    }
    if (p < 1 || p > tn.limit) return;   /* a limit of 1: nothing to probe */
    tn.probe = p;
    tn.probe_sum = tn.probe_cost = 0;
    tn.probe_ran = tn.probe_seen = 0;
    tn.phase = PH_PROBE;
    tn.iters = 0;
    apply(p);
}

static void end_probe(void)
{
    if (tn.probe_sum / tn.probe_ran < recent_time() * (1.0 - HYSTERESIS)) {
        tn.active = tn.probe;           /* keep the direction: one more step that way next */
        tn.interval = PROBE_MIN;
        tn.nrecent = tn.ring = 0;
    } else {
        /* doubling, and far enough apart that the probes cost at most PROBE_BUDGET
           of the time (a probe at 5x the time costs 4 iterations: every 200) */
        double extra = (tn.probe_cost / recent_time() - tn.probe_seen) * (double)PROBE_BUDGET_INV;
        int next = tn.interval * 2;
        if (extra > next) next = extra < PROBE_MAX ? (int)extra : PROBE_MAX;
        tn.interval = next < PROBE_MAX ? next : PROBE_MAX;
        tn.dir = -tn.dir;
    }
    tn.learnt[tn.limit] = tn.active;
    tn.phase = PH_MEASURE;
    tn.iters = 0;
    tn.since = 0;
    apply(tn.active);
}

void gd_threads_iteration(uint64_t who, double now)
{
    read_defaults();
    if (!tn.adaptive || tn.limit <= 1) return;
    if (who != tn.lead) {
        /* another optimizer's step is part of the lead's iteration (a second
           parameter group, a GAN's other network), unless the lead has gone
           quiet (freed, or its loop ended): more steps of others than in its
           last iteration, or no step for LEAD_STALE seconds; then this one leads */
        tn.others++;
        if (tn.lead != 0 && tn.others <= 2 * tn.others_per_iter + 1 && now - tn.last < LEAD_STALE) return;
        if (tn.phase == PH_PROBE) apply(tn.active);
        restart();
        tn.lead = who;
        tn.last = now;
        return;
    }
    double dt = now - tn.last;
    tn.last = now;
    tn.others_per_iter = tn.others;
    tn.others = 0;
    if (!(dt >= 0)) return;
    switch (tn.phase) {
    case PH_WARM:
        if (++tn.iters >= WARM_ITERS) {
            tn.phase = PH_MEASURE;
            tn.iters = 0;
        }
        break;
    case PH_MEASURE:
        tn.recent[tn.ring] = dt;
        tn.ring = (tn.ring + 1) % RECENT;
        if (tn.nrecent < RECENT) tn.nrecent++;
        tn.since++;
        if (tn.nrecent >= 2 && tn.since >= tn.interval) start_probe();
        break;
    case PH_PROBE:
        tn.probe_cost += dt;
        if (++tn.probe_seen <= PROBE_SETTLE) break;
        tn.probe_sum += dt;
        tn.probe_ran++;
        if (tn.probe_ran >= PROBE_ITERS || dt > FAR_SLOWER * recent_time()) end_probe();
        break;
    }
}

void gd_set_parallel_threshold(int64_t n) { gd_parallel_threshold_value = n < 1 ? 1 : n; }
int64_t gd_get_parallel_threshold(void) { return gd_parallel_threshold_value; }
