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
#include "symbolizer/symbolizer.h"
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

void unwind_report__add_fp(struct unwind_report *rep, struct symbolizer *syms, __u32 tgid,
			   __u64 outermost, __u64 count)
{
	static const char *const roots[] = { "_start", "__clone3", "clone3", "__clone", "clone",
					     "start_thread" };
	struct sym_frame f[SYM_MAX_FRAMES];
	size_t i;
	int n;

	rep->fp_user += count;
	/* the outermost frame of an inline chain is the function itself */
	n = symbolizer__user(syms, tgid, outermost - 1, f, SYM_MAX_FRAMES);
	for (i = 0; n > 0 && f[0].name && i < sizeof(roots) / sizeof(roots[0]); i++) {
		if (!strcmp(f[0].name, roots[i])) {
			rep->fp_rooted += count;
			return;
		}
	}
}

static void print_dwarf(enum unwind_mode mode, const struct collector_stats *st)
{
	static const char *const names[UNWIND_END_MAX] = {
		[UNWIND_END_NO_TABLE] = "no unwind table", [UNWIND_END_JIT] = "JIT/anonymous code",
		[UNWIND_END_UNSUPPORTED] = "unsupported CFI", [UNWIND_END_DEPTH] = "depth limit",
		[UNWIND_END_READ_ERROR] = "read error", [UNWIND_END_NO_MAPPING] = "unknown mapping",
		[UNWIND_END_BAD_FRAME] = "bad frame",
	};
	__u64 users = 0;
	int i;

	for (i = UNWIND_END_ROOT; i < UNWIND_END_MAX; i++)
		users += st->unwind_end[i];
	if (!users)
		return;
	printf("  user stacks (%s unwinding): %.2f%% complete (reached the root)",
	       mode == UNWIND_MODE_DWARF ? "dwarf" : "auto",
	       100.0 * st->unwind_end[UNWIND_END_ROOT] / users);
	for (i = UNWIND_END_NO_TABLE; i < UNWIND_END_MAX; i++) {
		if (st->unwind_end[i])
			printf(", %llu %s", (unsigned long long)st->unwind_end[i], names[i]);
	}
	printf("\n  unwind tables: %llu binaries (%llu rows of %llu), %llu without a table\n",
	       (unsigned long long)st->unwind_tables, (unsigned long long)st->unwind_rows,
	       (unsigned long long)st->unwind_max_rows, (unsigned long long)st->unwind_no_table);
}

void unwind_report__print(const struct unwind_report *rep, enum unwind_mode mode,
			  const struct collector_stats *st)
{
	if (mode != UNWIND_MODE_FP)
		print_dwarf(mode, st);
	else if (rep->fp_user)
		printf("  user stacks (frame pointers): %.2f%% complete (end at _start or a thread start)\n",
		       100.0 * rep->fp_rooted / rep->fp_user);
	if (st->bpf_runs)
		printf("  BPF programs: %llu runs, %.1f ms (%.2f us each; kernel.bpf_stats_enabled)\n",
		       (unsigned long long)st->bpf_runs, st->bpf_run_ns / 1e6,
		       st->bpf_run_ns / 1e3 / st->bpf_runs);
}
