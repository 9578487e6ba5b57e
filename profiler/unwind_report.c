// SPDX-License-Identifier: GPL-2.0
/*
 * The user-stack part of `profile`'s run summary: how many user stacks were
 * complete, how the others ended, the unwind tables' size, and what the BPF
 * programs cost (when kernel.bpf_stats_enabled=1).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "unwind_report.h"
#include "common/log.h"

int unwind_mode__parse(const char *arg, enum unwind_mode *mode)
{
	if (!strcmp(arg, "fp")) {
		*mode = UNWIND_MODE_FP;
	} else if (!strcmp(arg, "dwarf")) {
		*mode = UNWIND_MODE_DWARF;
	} else if (!strcmp(arg, "auto")) {
		*mode = UNWIND_MODE_AUTO;
	} else {
		pr_warn("unknown unwind method '%s': use fp, dwarf or auto", arg);
		return -EINVAL;
	}
	return 0;
}

static void print_dwarf(const struct ingest_stats *is, enum unwind_mode mode,
			const struct collector_stats *st)
{
	static const char *const names[UNWIND_END_MAX] = {
		[UNWIND_END_NO_TABLE] = "no unwind table", [UNWIND_END_JIT] = "JIT/anonymous code",
		[UNWIND_END_UNSUPPORTED] = "unsupported CFI", [UNWIND_END_DEPTH] = "depth limit",
		[UNWIND_END_READ_ERROR] = "read error", [UNWIND_END_NO_MAPPING] = "unknown mapping",
		[UNWIND_END_BAD_FRAME] = "bad frame",
	};
	__u64 users = 0, unnamed = is->rooted_unnamed, complete;
	int i;

	for (i = UNWIND_END_ROOT; i < UNWIND_END_MAX; i++)
		users += st->unwind_end[i];
	if (!users)
		return;
	/* every drained sample went through ingest: its rooted ones are the BPF side's */
	if (unnamed > st->unwind_end[UNWIND_END_ROOT])
		unnamed = st->unwind_end[UNWIND_END_ROOT];
	complete = st->unwind_end[UNWIND_END_ROOT] - unnamed;
	printf("  user stacks (%s unwinding): %.2f%% complete (reached the root and named)",
	       mode == UNWIND_MODE_DWARF ? "dwarf" : "auto", 100.0 * complete / users);
	if (unnamed)
		printf(", %llu unwound but unnamed", (unsigned long long)unnamed);
	for (i = UNWIND_END_NO_TABLE; i < UNWIND_END_MAX; i++) {
		if (st->unwind_end[i])
			printf(", %llu %s", (unsigned long long)st->unwind_end[i], names[i]);
	}
	printf("\n  unwind tables: %llu binaries (%llu rows of %llu), %llu without a table\n",
	       (unsigned long long)st->unwind_tables, (unsigned long long)st->unwind_rows,
	       (unsigned long long)st->unwind_max_rows, (unsigned long long)st->unwind_no_table);
}

void unwind_report__print(const struct ingest_stats *is, enum unwind_mode mode,
			  const struct collector_stats *st)
{
	if (mode != UNWIND_MODE_FP) {
		print_dwarf(is, mode, st);
	} else if (is->user_stacks) {
		/* the root's name is the verdict: a rooted stack always has a named frame */
		printf("  user stacks (frame pointers): %.2f%% complete (end at _start or a thread start, named)",
		       100.0 * is->complete / is->user_stacks);
		if (is->unnamed)
			printf(", %llu unnamed", (unsigned long long)is->unnamed);
		printf("\n");
	}
	if (st->py_samples)
		printf("  python: %llu samples with a Python stack, %llu of them cut short (%d frames or a bad read)\n",
		       (unsigned long long)st->py_samples, (unsigned long long)st->py_truncated,
		       MAX_PY_DEPTH);
	if (st->bpf_runs)
		printf("  BPF programs: %llu runs, %.1f ms (%.2f us each; kernel.bpf_stats_enabled)\n",
		       (unsigned long long)st->bpf_runs, st->bpf_run_ns / 1e6,
		       st->bpf_run_ns / 1e3 / st->bpf_runs);
}
