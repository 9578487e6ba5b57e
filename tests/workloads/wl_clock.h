/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The two clocks the workloads measure their own truth with: the calling
 * thread's CPU time and the monotonic wall clock, in seconds.
 */
#ifndef __PROFILER_WL_CLOCK_H
#define __PROFILER_WL_CLOCK_H

#include <time.h>

static inline double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif /* __PROFILER_WL_CLOCK_H */
