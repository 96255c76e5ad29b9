/*
 * interrupt.c: Ctrl-C as a request to stop a long loop at a clean point.
 *
 * The host's own SIGINT handler (src/host/call.c) raises "interrupted!" in
 * whatever Lua code runs, which loses a training run's results, and cannot
 * reach a loop that LuaJIT has compiled (traces do not look at hooks).  A
 * loop that wants to stop cleanly (gd.train) brackets itself with
 * gd_interrupt_catch / gd_interrupt_release and polls gd_interrupt_pending
 * once per step: the handler here only sets a flag (async-signal-safe), so
 * the step in progress finishes and the loop returns what it has.
 *
 * The handler puts the previous disposition back as it runs (sigaction is
 * async-signal-safe), so a second Ctrl-C is handled as before: the host's
 * "interrupted!" or the default end of the process, the way out of a step
 * that never finishes.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t pending;
static int depth;                       /* nesting of catch / release */
static struct sigaction previous;       /* what the outermost catch replaced */

static void on_sigint(int sig)
{
    (void)sig;
    pending = 1;
    sigaction(SIGINT, &previous, NULL);
}

int gd_interrupt_catch(void)
{
    if (depth++ > 0) return GD_OK;
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_handler = on_sigint;
    sigemptyset(&act.sa_mask);
    act.sa_flags = SA_RESTART;         /* reads and writes in the loop go on */
    pending = 0;
    if (sigaction(SIGINT, &act, &previous) != 0) {
        depth = 0;
        return gd_fail(GD_EIO, "cannot install a SIGINT handler");
    }
    return GD_OK;
}

int gd_interrupt_pending(void) { return pending != 0; }

void gd_interrupt_release(void)
{
    if (depth == 0 || --depth > 0) return;
    sigaction(SIGINT, &previous, NULL);
    pending = 0;
}
