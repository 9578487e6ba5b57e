/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What `profile` says about its user stacks: the --unwind option, the share
 * of complete stacks and how the others ended, and the BPF programs' run
 * time (profiler/unwind_report.c).
 */
#ifndef __PROFILER_UNWIND_REPORT_H
#define __PROFILER_UNWIND_REPORT_H

#include <linux/types.h>

#include "collector.h"

struct symbolizer;

/* Frame-pointer stacks carry no verdict: those ending at a thread's root count as complete. */
struct unwind_report {
	__u64 fp_user;		/* samples with a user stack */
	__u64 fp_rooted;	/* ... whose outermost frame is _start or a thread start */
};

/* "fp", "dwarf" or "auto". Returns 0, or -EINVAL after naming the problem. */
int unwind_mode__parse(const char *arg, enum unwind_mode *mode);

/* Count @count samples whose outermost user frame is @outermost. */
void unwind_report__add_fp(struct unwind_report *rep, struct symbolizer *syms, __u32 tgid,
			   __u64 outermost, __u64 count);

/* The summary lines, indented like the rest of the run summary. */
void unwind_report__print(const struct unwind_report *rep, enum unwind_mode mode,
			  const struct collector_stats *st);

#endif /* __PROFILER_UNWIND_REPORT_H */
