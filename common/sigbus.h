/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading files through mappings, safely. A file truncated while it is
 * mapped (a shared library copied over in place, by anyone who may write
 * it) turns the next read of a page past its new end into a SIGBUS, which
 * would kill the agent: a root process brought down by a file its users
 * write. Code that reads a mapped file runs under a guard; the SIGBUS
 * handler jumps back to the innermost guard of the faulting thread, whose
 * caller abandons (and leaks) what it was reading. Without a guard the
 * signal keeps its default action.
 *
 *	struct sigbus_guard g;
 *
 *	sigbus__enter(&g);
 *	if (!sigsetjmp(g.env, 1))
 *		err = read_it(...);	// one call: no local changed in between
 *	else
 *		err = -EIO;		// read_it's state is abandoned
 *	sigbus__leave(&g);
 */
#ifndef __PROFILER_SIGBUS_H
#define __PROFILER_SIGBUS_H

#include <setjmp.h>

struct sigbus_guard {
	sigjmp_buf env;
	struct sigbus_guard *prev;
};

extern __thread struct sigbus_guard *sigbus_top;

/* Install the handler (once, at start); 0 or -errno. */
int sigbus__install(void);

/* Keep @p, state a guard abandoned, reachable (for leak checkers); NULL is ignored. */
void sigbus__abandon(void *p);

/* How many SIGBUS the guards caught. */
unsigned long sigbus__caught(void);

static inline void sigbus__enter(struct sigbus_guard *g)
{
	g->prev = sigbus_top;
	sigbus_top = g;
}

static inline void sigbus__leave(struct sigbus_guard *g)
{
	sigbus_top = g->prev;
}

#endif /* __PROFILER_SIGBUS_H */
