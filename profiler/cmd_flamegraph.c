// SPDX-License-Identifier: GPL-2.0
/*
 * `profile flamegraph [FILE...]`: read folded stacks (ours, or any tool's
 * that writes "frame;frame;frame count" lines) from files or stdin and write
 * an SVG flame graph.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "selector.h"
#include "web/web.h"
#include "common/strbuf.h"
#include "common/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: profile flamegraph [options] [FILE.folded...]\n\n"
		"Render folded stacks (from files, or stdin when none are named) as an\n"
		"interactive SVG flame graph. Malformed lines are reported and skipped.\n\n"
		"  -o, --output FILE     SVG file (default: stdout)\n"
		"      --title TEXT      title (default \"Flame Graph\")\n"
		"      --subtitle TEXT   second line under the title\n"
		"      --width PIXELS    image width (default 1200)\n"
		"      --min-width PX    omit frames narrower than this (default 0.1)\n"
		"      --count-name NAME what counts are (default \"samples\")\n"
		"  -h, --help            this help\n"
		"With --db, --run, --since, --until, --pid, --comm, --build-id, --host or\n"
		"--label, the stacks come from the store instead (see 'profile top --help').\n");
}

/* store selectors: when any is given, read the store instead of files */
static struct selector store_sel;

enum { OPT_TITLE = 256, OPT_SUBTITLE, OPT_WIDTH, OPT_MINWIDTH, OPT_COUNTNAME };

static const struct option long_opts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "title", required_argument, NULL, OPT_TITLE },
	{ "subtitle", required_argument, NULL, OPT_SUBTITLE },
	{ "width", required_argument, NULL, OPT_WIDTH },
	{ "min-width", required_argument, NULL, OPT_MINWIDTH },
	{ "count-name", required_argument, NULL, OPT_COUNTNAME },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	SELECTOR_LONG_OPTS,
	{},
};

static int parse_args(int argc, char **argv, struct flamegraph_opts *fo, const char **out)
{
	long width;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "o:vh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			*out = optarg;
			break;
		case OPT_TITLE:
			fo->title = optarg;
			break;
		case OPT_SUBTITLE:
			fo->subtitle = optarg;
			break;
		case OPT_WIDTH:
			if (parse_int_range(optarg, 100, 100000, &width)) {
				pr_warn("invalid width '%s': give 100 to 100000 pixels", optarg);
				return -EINVAL;
			}
			fo->width = width;
			break;
		case OPT_MINWIDTH:
			fo->min_width = strtod(optarg, &end);
			if (end == optarg || *end || fo->min_width < 0) {
				pr_warn("invalid minimum width '%s'", optarg);
				return -EINVAL;
			}
			break;
		case OPT_COUNTNAME:
			fo->count_name = optarg;
			break;
		case 'v':
			log_set_verbose(true);
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			if (!selector__parse(&store_sel, c, optarg))
				break;
			pr_warn("see 'profile flamegraph --help'");
			return -EINVAL;
		}
	}
	return 0;
}

static int read_inputs(struct stack_agg *agg, int argc, char **argv)
{
	size_t bad;
	int i, err;

	if (optind >= argc)
		return stack_agg__read_folded(agg, stdin, "<stdin>", &bad);
	for (i = optind; i < argc; i++) {
		FILE *f = strcmp(argv[i], "-") ? fopen(argv[i], "r") : stdin;

		if (!f) {
			err = -errno;
			pr_warn("cannot open '%s': %s", argv[i], strerror(-err));
			return err;
		}
		err = stack_agg__read_folded(agg, f, argv[i], &bad);
		if (f != stdin)
			fclose(f);
		if (err) {
			pr_warn("cannot read '%s': %s", argv[i], strerror(-err));
			return err;
		}
	}
	return 0;
}

int cmd_flamegraph(int argc, char **argv)
{
	struct flamegraph_opts fo = { .min_width = 0.1 };
	struct strbuf svg = STRBUF_INIT;
	const char *out = NULL;
	struct stack_agg *agg;
	FILE *f = stdout;
	int err;

	err = parse_args(argc, argv, &fo, &out);
	if (err)
		return err > 0 ? 0 : EXIT_USAGE;
	agg = stack_agg__new();
	if (!agg)
		return EXIT_FAILURE;
	if (store_sel.used) {
		struct store *st = selector__open(&store_sel);

		err = st ? selector__fill(&store_sel, st, agg) : -errno;
		store__free(st);
	} else {
		err = read_inputs(agg, argc, argv);
	}
	selector__release(&store_sel);
	if (!err)
		err = flamegraph__render(agg, &fo, &svg);
	if (!err && out) {
		f = fopen(out, "w");
		if (!f) {
			err = -errno;
			pr_warn("cannot create '%s': %s", out, strerror(-err));
		}
	}
	if (!err) {
		bool to_stdout = f == stdout;

		err = strbuf__write(&svg, f);
		if (to_stdout) {
			if (fflush(f) && !err)
				err = -EIO;
		} else if (fclose(f) && !err) {
			err = -errno;
		}
		if (err)
			pr_warn("cannot write '%s': %s", out ? out : "<stdout>", strerror(-err));
	}
	strbuf__release(&svg);
	stack_agg__free(agg);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
