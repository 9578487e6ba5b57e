// SPDX-License-Identifier: GPL-2.0
/* The SIGBUS handler behind common/sigbus.h's guards. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "common/sigbus.h"

__thread struct sigbus_guard *sigbus_top;
static unsigned long caught;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	struct sigbus_guard *g = sigbus_top;

	(void)uc;
	if (!g || si->si_code <= 0) {
		/*
		 * Not ours to catch: a fault outside a guard repeats with the
		 * default action; a SIGBUS sent by kill() (si_code <= 0) may
		 * arrive anywhere, inside malloc too, and is not jumped out of
		 */
		signal(sig, SIG_DFL);
		if (si->si_code <= 0)
			raise(sig);
		return;
	}
	__atomic_fetch_add(&caught, 1, __ATOMIC_RELAXED);
	sigbus_top = g->prev;
	siglongjmp(g->env, 1);
}

int sigbus__install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL) ? -errno : 0;
}

unsigned long sigbus__caught(void)
{
	return __atomic_load_n(&caught, __ATOMIC_RELAXED);
}

/*
 * What a SIGBUS left behind, never freed (it may be half-updated), kept
 * reachable here so that leak checkers tell it from a leak.
 */
static void *abandoned[64];
static unsigned int nr_abandoned;

void sigbus__abandon(void *p)
{
	unsigned int i;

	if (!p)
		return;
	i = __atomic_fetch_add(&nr_abandoned, 1, __ATOMIC_RELAXED);
	if (i < sizeof(abandoned) / sizeof(abandoned[0]))
		abandoned[i] = p;
}
