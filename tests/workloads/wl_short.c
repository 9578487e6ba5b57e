// SPDX-License-Identifier: GPL-2.0
/*
 * A short-lived process: spends about 50 ms of CPU in short_lived_hot() and
 * exits, long before the profiler's next drain of the sample maps. Its
 * frames can only be named if its mappings were captured while it ran.
 *
 * usage: wl_short [MILLISECONDS]
 */
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void short_lived_hot(double seconds)
{
	volatile unsigned long acc = 0;
	double end = cpu_now() + seconds;

	do {
		for (unsigned long i = 0; i < 20000; i++)
			acc += i ^ (acc >> 3);
	} while (cpu_now() < end);
	sink = acc;
}

int main(int argc, char **argv)
{
	short_lived_hot((argc > 1 ? atof(argv[1]) : 50) / 1000);
	return 0;
}
