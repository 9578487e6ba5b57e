// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end workload with a known CPU split: main -> outer -> middle ->
 * leaf_alpha / leaf_beta / leaf_gamma, doing 5:3:2 units of the same work.
 * The truth is not assumed from the ratio: each leaf's thread CPU time is
 * measured around its call and written to TRUTH_FILE as shares of the
 * thread's CPU time over the measured span, then that span's CPU seconds
 * ("cpu"). The leaves' cost per unit is not constant: on the AMD EPYC guest
 * the tests run on, leaf_gamma's loop (it crosses a 64-byte line) flips
 * between the others' speed and some 40 per cent slower every second or so.
 * A truth is therefore only the truth of the span it was measured over.
 *
 * usage: wl_split DURATION TRUTH_FILE [--on-sigusr1]
 *
 * Plain: the leaves run from the start for DURATION seconds or until
 * SIGTERM, and the truth covers all of it. With --on-sigusr1 the process
 * first spins in wait_for_go(), outside the measured functions, until
 * SIGUSR1 (the test sends it once the profiler samples), then runs the
 * leaves for DURATION seconds of its own CPU time (so a busy machine
 * stretches the run instead of shrinking the sample count), or until
 * SIGTERM, writes the truth and exits: the measured span is then inside the
 * profiler's, and its samples outside wait_for_go() are the span's.
 *
 * Each leaf keeps a volatile local so GCC gives it a stack frame: GCC 12
 * drops the frame pointer set-up in small leaf functions even with
 * -mno-omit-leaf-frame-pointer, and frame-pointer unwinding would then skip
 * middle(). The Makefile also builds it with -fno-optimize-sibling-calls.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wl_clock.h"

#define UNIT 100000UL

static volatile sig_atomic_t stop, go;
static volatile unsigned long sink;

#define BURN(n)                                                   \
	do {                                                      \
		volatile unsigned long acc = 0;                   \
		for (unsigned long i = 0; i < (n); i++)           \
			acc += i ^ (acc >> 3);                    \
		sink += acc;                                      \
	} while (0)

__attribute__((noinline)) void leaf_alpha(unsigned long n)
{
	BURN(n);
}

__attribute__((noinline)) void leaf_beta(unsigned long n)
{
	BURN(n);
}

__attribute__((noinline)) void leaf_gamma(unsigned long n)
{
	BURN(n);
}

/*
 * n units of work give or take half: a loop of a fixed length sampled by a
 * timer of a fixed period aliases. One pass of middle() takes about 1.1 ms
 * here, close to the 1.001 ms between samples at 999 Hz, so with fixed
 * lengths the samples fell on the same few points of the pass for as long
 * as the two periods stayed close, and the leaves' shares wandered by 3 to
 * 7 standard errors of the binomial model the test assumes (a quarter of
 * the runs failed it). Lengths drawn at random make the point of the pass
 * a tick lands on independent from one tick to the next; the truth is
 * measured, so the 5:3:2 holds only on average and need not hold exactly.
 */
static unsigned long jitter(unsigned long n)
{
	static unsigned long x = 0x9e3779b97f4a7c15UL;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return n / 2 + x % (n + 1);
}

__attribute__((noinline)) void middle(double *t)
{
	double a, b, c, d;

	a = thread_cpu();
	leaf_alpha(jitter(5 * UNIT));
	b = thread_cpu();
	leaf_beta(jitter(3 * UNIT));
	c = thread_cpu();
	leaf_gamma(jitter(2 * UNIT));
	d = thread_cpu();
	t[0] += b - a;
	t[1] += c - b;
	t[2] += d - c;
}

__attribute__((noinline)) void outer(double *t)
{
	middle(t);
	/* keep the call a call: a sibling-call jmp would drop outer from the stack */
	__asm__ __volatile__("" ::: "memory");
}

/* busy, so the CPU is not idle while the profiler starts, but not in a leaf */
__attribute__((noinline)) void wait_for_go(void)
{
	while (!go && !stop)
		BURN(UNIT / 10);
	__asm__ __volatile__("" ::: "memory");
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		go = 1;
	else
		stop = 1;
}

int main(int argc, char **argv)
{
	double t[3] = { 0, 0, 0 }, start, cpu0, total, duration;
	struct sigaction sa;
	bool on_signal_mode;
	FILE *f;

	if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "--on-sigusr1"))) {
		fprintf(stderr, "usage: wl_split DURATION TRUTH_FILE [--on-sigusr1]\n");
		return 2;
	}
	duration = atof(argv[1]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	on_signal_mode = argc == 4;
	if (on_signal_mode)
		wait_for_go();
	start = now_seconds();
	cpu0 = thread_cpu();
	while (!stop && (on_signal_mode ? thread_cpu() - cpu0 : now_seconds() - start) < duration)
		outer(t);
	total = thread_cpu() - cpu0;
	f = fopen(argv[2], "w");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	fprintf(f, "leaf_alpha %.6f\nleaf_beta %.6f\nleaf_gamma %.6f\ncpu %.6f\n", t[0] / total,
		t[1] / total, t[2] / total, total);
	return fclose(f) ? 1 : 0;
}
