/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The clocks the workloads measure their own truth with: the calling
 * thread's CPU time here, and the monotonic clock (now_seconds()), in seconds.
 */
#ifndef __PROFILER_WL_CLOCK_H
#define __PROFILER_WL_CLOCK_H

#include <time.h>

#include "../../common/clock.h"

static inline double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif /* __PROFILER_WL_CLOCK_H */
