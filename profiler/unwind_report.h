/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What `profile` says about its user stacks: the --unwind option, the share
 * of complete stacks (reached the root and named, as ingest judges them) and
 * how the others ended, and the BPF programs' run time
 * (profiler/unwind_report.c).
 */
#ifndef __PROFILER_UNWIND_REPORT_H
#define __PROFILER_UNWIND_REPORT_H

#include <linux/types.h>

#include "collector.h"
#include "ingest.h"

/* "fp", "dwarf" or "auto". Returns 0, or -EINVAL after naming the problem. */
int unwind_mode__parse(const char *arg, enum unwind_mode *mode);

/*
 * The summary lines, indented like the rest of the run summary: the BPF
 * unwinder's verdicts from @st, split by how ingest named the stacks (@is).
 */
void unwind_report__print(const struct ingest_stats *is, enum unwind_mode mode,
			  const struct collector_stats *st);

#endif /* __PROFILER_UNWIND_REPORT_H */
