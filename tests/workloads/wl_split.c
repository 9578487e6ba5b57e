// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end workload with a known CPU split: main -> outer -> middle ->
 * leaf_alpha / leaf_beta / leaf_gamma, doing 5:3:2 units of the same work.
 * The truth is not assumed from the ratio: each leaf's thread CPU time is
 * measured around its call and written to TRUTH_FILE as shares of the
 * thread's total CPU time when the workload ends (after DURATION seconds or
 * on SIGTERM).
 *
 * usage: wl_split DURATION TRUTH_FILE
 *
 * Each leaf keeps a volatile local so GCC gives it a stack frame: GCC 12
 * drops the frame pointer set-up in small leaf functions even with
 * -mno-omit-leaf-frame-pointer, and frame-pointer unwinding would then skip
 * middle(). The Makefile also builds it with -fno-optimize-sibling-calls.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "wl_clock.h"

#define UNIT 100000UL

static volatile sig_atomic_t stop;
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

__attribute__((noinline)) void middle(double *t)
{
	double a, b, c, d;

	a = thread_cpu();
	leaf_alpha(5 * UNIT);
	b = thread_cpu();
	leaf_beta(3 * UNIT);
	c = thread_cpu();
	leaf_gamma(2 * UNIT);
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

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	double t[3] = { 0, 0, 0 }, start, cpu0, total, duration;
	FILE *f;

	if (argc != 3) {
		fprintf(stderr, "usage: wl_split DURATION TRUTH_FILE\n");
		return 2;
	}
	duration = atof(argv[1]);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	start = now_seconds();
	cpu0 = thread_cpu();
	while (!stop && now_seconds() - start < duration)
		outer(t);
	total = thread_cpu() - cpu0;
	f = fopen(argv[2], "w");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	fprintf(f, "leaf_alpha %.6f\nleaf_beta %.6f\nleaf_gamma %.6f\n", t[0] / total,
		t[1] / total, t[2] / total);
	return fclose(f) ? 1 : 0;
}
