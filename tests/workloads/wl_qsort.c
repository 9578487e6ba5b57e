// SPDX-License-Identifier: GPL-2.0
/*
 * Workload for whole-stack unwinding, built twice by the Makefile:
 * wl_qsort with -O2 -fomit-frame-pointer and wl_qsort_fp with frame pointers.
 * Its time splits between
 *   main -> run_sort -> qsort (libc) -> ... -> cmp_slow
 * and a deep chain of its own functions,
 *   main -> run_chain -> chain_0 -> chain_1 -> ... -> chain_11 -> chain_leaf.
 * The truth is measured, not assumed: each part's thread CPU time is measured
 * around its call and written to TRUTH_FILE as "sort SHARE" and "chain SHARE"
 * (shares of the thread's total CPU time) when the workload ends, after
 * DURATION seconds or on SIGTERM.
 *
 * usage: wl_qsort DURATION TRUTH_FILE
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "wl_clock.h"

#define NR_ELEMS 2000

static volatile sig_atomic_t stop;
static volatile unsigned long sink;
static int elems[NR_ELEMS];

/* the comparator burns a little so qsort's time is mostly here */
__attribute__((noinline)) int cmp_slow(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	unsigned long acc = x;

	for (int i = 0; i < 40; i++)
		acc = acc * 31 + (acc >> 7);
	sink += acc;
	return (x > y) - (x < y);
}

__attribute__((noinline)) void run_sort(void)
{
	unsigned int seed = 12345;

	for (int i = 0; i < NR_ELEMS; i++)
		elems[i] = rand_r(&seed);
	qsort(elems, NR_ELEMS, sizeof(elems[0]), cmp_slow);
}

__attribute__((noinline)) void chain_leaf(void)
{
	unsigned long acc = sink;

	for (unsigned long i = 0; i < 400000; i++)
		acc = acc * 33 + (i ^ (acc >> 5));
	sink = acc;
}

/* a chain of distinct functions, each a real call (not a sibling jump) */
#define CHAIN(n, next)                                              \
	__attribute__((noinline)) void chain_##n(int d)             \
	{                                                           \
		next(d + 1);                                        \
		__asm__ __volatile__("" ::: "memory");              \
	}

static void chain_end(int d)
{
	(void)d;
	chain_leaf();
}

CHAIN(11, chain_end)
CHAIN(10, chain_11)
CHAIN(9, chain_10)
CHAIN(8, chain_9)
CHAIN(7, chain_8)
CHAIN(6, chain_7)
CHAIN(5, chain_6)
CHAIN(4, chain_5)
CHAIN(3, chain_4)
CHAIN(2, chain_3)
CHAIN(1, chain_2)
CHAIN(0, chain_1)

__attribute__((noinline)) void run_chain(void)
{
	chain_0(0);
	__asm__ __volatile__("" ::: "memory");
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	double t_sort = 0, t_chain = 0, start, cpu0, a, b, c, total;
	FILE *f;

	if (argc != 3) {
		fprintf(stderr, "usage: wl_qsort DURATION TRUTH_FILE\n");
		return 2;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	start = now_seconds();
	cpu0 = thread_cpu();
	while (!stop && now_seconds() - start < atof(argv[1])) {
		a = thread_cpu();
		run_sort();
		b = thread_cpu();
		run_chain();
		c = thread_cpu();
		t_sort += b - a;
		t_chain += c - b;
	}
	total = thread_cpu() - cpu0;
	f = fopen(argv[2], "w");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	fprintf(f, "sort %.6f\nchain %.6f\n", t_sort / total, t_chain / total);
	return fclose(f) ? 1 : 0;
}
