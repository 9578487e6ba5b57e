// SPDX-License-Identifier: GPL-2.0
/*
 * `profile import perf-script [FILE]`: turn `perf script` text into folded
 * stacks, the same lines stackcollapse-perf.pl writes, with its options
 * under the same names.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "web/web.h"
#include "common/log.h"

const struct command_def import_cmd = {
	.name = "import",
	.summary = "turn other tools' output (perf script) into folded stacks",
	.usage = "perf-script [options] [FILE]",
	.description =
		"Collapse `perf script` output (FILE, or stdin when none is named or for \"-\")\n"
		"into folded stacks, line for line as FlameGraph's stackcollapse-perf.pl does.\n"
		"Each sample weighs its period when perf prints one (\": 250000 cpu-clock:\"),\n"
		"as in perf report; --count-samples counts samples instead:\n"
		"\n"
		"  perf record -g -p PID -- sleep 10\n"
		"  perf script | profile import perf-script > out.folded",
	.max_args = 2,	/* the format and a file */
};

static int parse_args(int argc, char **argv, struct perf_script_opts *po, const char **out,
		      int *first)
{
	bool all = false;
	const struct option_def opts[] = {
		OPT_STRING('o', "output", out, "FILE", "folded file (default: stdout)"),
		OPT_FLAG(0, "kernel", &po->kernel, "annotate kernel frames with _[k]"),
		OPT_FLAG(0, "jit", &po->jit, "annotate JIT frames (/tmp/perf-PID.map) with _[j]"),
		OPT_FLAG(0, "all", &all, "both annotations"),
		OPT_FLAG(0, "pid", &po->pid, "process name as comm-PID"),
		OPT_FLAG(0, "tid", &po->tid, "process name as comm-PID/TID"),
		OPT_FLAG(0, "addrs", &po->addrs, "raw addresses where symbols are unknown"),
		OPT_STRING(0, "event-filter", &po->event_filter, "EV",
			   "only samples of event EV (default: the first event seen)"),
		OPT_FLAG(0, "count-samples", &po->count_samples,
			 "count samples (default: weigh each by the period perf printed)"),
		OPT_END(),
	};
	int err;

	err = parse_options(&import_cmd, opts, argc, argv, first);
	if (err)
		return err;
	if (all)
		po->kernel = po->jit = true;
	if (*first >= argc) {
		pr_warn("name the format to import: 'profile import perf-script'");
		return -EINVAL;
	}
	if (strcmp(argv[*first], "perf-script")) {
		pr_warn("cannot import '%s': the format known is perf-script", argv[*first]);
		return -EINVAL;
	}
	return 0;
}

static int write_line(void *ctx, const char *stack, size_t len, double count)
{
	FILE *f = ctx;

	fwrite(stack, 1, len, f);
	fprintf(f, " %.0f\n", count);
	return ferror(f) ? -EIO : 0;
}

static int import_perf_script(const char *in_path, const char *out_path,
			      const struct perf_script_opts *po)
{
	FILE *in = input__open(in_path ? in_path : "-");
	const char *name = in == stdin ? "<stdin>" : in_path;
	FILE *out;
	int err;

	if (!in)
		return -errno;
	out = output__open(out_path);
	if (!out) {
		err = -errno;
		goto out_close_in;
	}
	setvbuf(out, NULL, _IOFBF, 1 << 20);
	input__progress(isatty(STDERR_FILENO));
	err = perf_script__collapse(in, name, po, write_line, out);
	input__progress_done();
	if (err && ferror(in)) {
		pr_warn("cannot read '%s': %s", name, strerror(-err));
		err = output__close(out, out_path, 0) ?: err;
	} else {
		err = output__close(out, out_path, err);
	}
out_close_in:
	if (in != stdin)
		fclose(in);
	return err;
}

int cmd_import(int argc, char **argv)
{
	struct perf_script_opts po = {};
	const char *out = NULL;
	int err, first;

	err = parse_args(argc, argv, &po, &out, &first);
	if (err)
		return err > 0 ? 0 : EXIT_USAGE;
	err = import_perf_script(first + 1 < argc ? argv[first + 1] : NULL, out, &po);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
