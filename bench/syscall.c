// SPDX-License-Identifier: GPL-2.0
/*
 * The cost of a syscall, for what a tracer adds to every syscall on the
 * host: the thread CPU time of getppid(), the median of ROUNDS rounds of N
 * calls (CPU time, so a busy machine preempting the loop does not count).
 *
 * usage: syscall [N [ROUNDS]]   prints "NS" (nanoseconds a call)
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double cpu_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000, i;
	int rounds = argc > 2 ? atoi(argv[2]) : 7, r;
	double ns[64];

	if (n <= 0 || rounds <= 0 || rounds > 64) {
		fprintf(stderr, "usage: syscall [N [ROUNDS]] (ROUNDS at most 64)\n");
		return 2;
	}
	for (r = 0; r < rounds; r++) {
		double t0 = cpu_ns();

		for (i = 0; i < n; i++)
			syscall(SYS_getppid);
		ns[r] = (cpu_ns() - t0) / n;
	}
	qsort(ns, rounds, sizeof(ns[0]), cmp);
	printf("%.1f\n", ns[rounds / 2]);
	return 0;
}
