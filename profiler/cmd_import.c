// SPDX-License-Identifier: GPL-2.0
/*
 * `profile import perf-script [FILE]`: turn `perf script` text into folded
 * stacks, the same lines stackcollapse-perf.pl writes, with its options
 * under the same names.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "web/web.h"
#include "common/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: profile import perf-script [options] [FILE]\n\n"
		"Collapse `perf script` output (FILE, or stdin when none is named or for \"-\")\n"
		"into folded stacks, line for line as FlameGraph's stackcollapse-perf.pl does:\n\n"
		"  perf record -g -p PID -- sleep 10; perf script | profile import perf-script > out.folded\n\n"
		"  -o, --output FILE       folded file (default: stdout)\n"
		"      --kernel            annotate kernel frames with _[k]\n"
		"      --jit               annotate JIT frames (/tmp/perf-PID.map) with _[j]\n"
		"      --all               both annotations\n"
		"      --pid               process name as comm-PID\n"
		"      --tid               process name as comm-PID/TID\n"
		"      --addrs             raw addresses where symbols are unknown\n"
		"      --event-filter EV   only samples of event EV (default: the first event seen)\n"
		"  -h, --help              this help\n");
}

enum { OPT_KERNEL = 256, OPT_JIT, OPT_ALL, OPT_PID, OPT_TID, OPT_ADDRS, OPT_EVENT };

static const struct option long_opts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "kernel", no_argument, NULL, OPT_KERNEL },
	{ "jit", no_argument, NULL, OPT_JIT },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "pid", no_argument, NULL, OPT_PID },
	{ "tid", no_argument, NULL, OPT_TID },
	{ "addrs", no_argument, NULL, OPT_ADDRS },
	{ "event-filter", required_argument, NULL, OPT_EVENT },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{},
};

static int parse_args(int argc, char **argv, struct perf_script_opts *po, const char **out)
{
	int c;

	while ((c = getopt_long(argc, argv, "o:vh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			*out = optarg;
			break;
		case OPT_KERNEL:
			po->kernel = true;
			break;
		case OPT_JIT:
			po->jit = true;
			break;
		case OPT_ALL:
			po->kernel = po->jit = true;
			break;
		case OPT_PID:
			po->pid = true;
			break;
		case OPT_TID:
			po->tid = true;
			break;
		case OPT_ADDRS:
			po->addrs = true;
			break;
		case OPT_EVENT:
			po->event_filter = optarg;
			break;
		case 'v':
			log_set_verbose(true);
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			pr_warn("see 'profile import --help'");
			return -EINVAL;
		}
	}
	if (argc - optind > 1) {
		pr_warn("give at most one input file");
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
	FILE *in = in_path && strcmp(in_path, "-") ? fopen(in_path, "r") : stdin;
	const char *name = in == stdin ? "<stdin>" : in_path;
	FILE *out;
	int err;

	if (!in) {
		err = -errno;
		pr_warn("cannot open '%s': %s", in_path, strerror(-err));
		return err;
	}
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
	int err;

	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
			usage(stdout);
			return 0;
		}
		pr_warn("name the format to import: 'profile import perf-script'");
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "perf-script")) {
		pr_warn("cannot import '%s': the format known is perf-script", argv[1]);
		return EXIT_USAGE;
	}
	err = parse_args(argc - 1, argv + 1, &po, &out);
	if (err)
		return err > 0 ? 0 : EXIT_USAGE;
	err = import_perf_script(optind + 1 < argc ? argv[optind + 1] : NULL, out, &po);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
