/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Time in seconds: monotonic, for loops that wait, deadlines and rates; wall
 * clock, for what is stored or aligned to calendar time (buckets).
 */
#ifndef __PROFILER_CLOCK_H
#define __PROFILER_CLOCK_H

#include <time.h>

static inline double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Monotonic nanoseconds, for timestamps kept as integers. */
static inline unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static inline double wall_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif /* __PROFILER_CLOCK_H */
