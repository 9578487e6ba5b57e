/* SPDX-License-Identifier: GPL-2.0 */
/* Monotonic time in seconds, for loops that wait, deadlines and rates. */
#ifndef __PROFILER_CLOCK_H
#define __PROFILER_CLOCK_H

#include <time.h>

static inline double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif /* __PROFILER_CLOCK_H */
