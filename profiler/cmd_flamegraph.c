// SPDX-License-Identifier: GPL-2.0
/*
 * `profile flamegraph [FILE...]`: read folded stacks (ours, or any tool's
 * that writes "frame;frame;frame count" lines) from files or stdin and write
 * an SVG flame graph. Input is streamed into the frame tree, so a huge file
 * needs memory for its distinct frames only.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "selector.h"
#include "web/web.h"
#include "common/strbuf.h"
#include "common/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: profile flamegraph [options] [FILE.folded...]\n\n"
		"Render folded stacks (from files, or stdin when none are named or for \"-\")\n"
		"as an interactive SVG flame graph. Counts may be fractional. Malformed lines\n"
		"are reported with their line number and skipped.\n\n"
		"  -o, --output FILE     SVG file (default: stdout)\n"
		"      --title TEXT      title (default \"Flame Graph\")\n"
		"      --subtitle TEXT   second line under the title\n"
		"      --width PIXELS    image width (default 1200)\n"
		"      --min-width PX    omit frames narrower than this; their samples still\n"
		"                        count in the parent's width (default 0.1)\n"
		"      --count-name NAME what counts are (default \"samples\")\n"
		"      --icicle          root at the top, stacks growing down (--inverted)\n"
		"      --reverse         merge stacks leaf first: the callers of each leaf\n"
		"      --chart           flame chart: x is input order (time order for a\n"
		"                        recording), only adjacent equal stacks merge\n"
		"      --palette NAME    kind (default: kernel _[k] blue, inlined _[i] teal,\n"
		"                        JIT _[j] green, user warm), hot, or cold; the shade\n"
		"                        comes from a hash of the name, the same every time\n"
		"  -h, --help            this help\n"
		"With --db, --run, --since, --until, --pid, --comm, --build-id, --host or\n"
		"--label, the stacks come from the store instead (see 'profile top --help').\n");
}

/* store selectors: when any is given, read the store instead of files */
static struct selector store_sel;

static const struct option long_opts[] = {
	{ "output", required_argument, NULL, 'o' },
	FLAMEGRAPH_LONG_OPTS,
	SELECTOR_LONG_OPTS,
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{},
};

int flamegraph_opt__parse(int c, const char *arg, struct flamegraph_opts *fo)
{
	long width;
	char *end;

	switch (c) {
	case FGOPT_TITLE:
		fo->title = arg;
		break;
	case FGOPT_SUBTITLE:
		fo->subtitle = arg;
		break;
	case FGOPT_WIDTH:
		if (parse_int_range(arg, 100, 100000, &width)) {
			pr_warn("invalid width '%s': give 100 to 100000 pixels", arg);
			return -EINVAL;
		}
		fo->width = width;
		break;
	case FGOPT_MINWIDTH:
		fo->min_width = strtod(arg, &end);
		if (end == arg || *end || !(fo->min_width >= 0)) {
			pr_warn("invalid minimum width '%s'", arg);
			return -EINVAL;
		}
		break;
	case FGOPT_COUNTNAME:
		fo->count_name = arg;
		break;
	case FGOPT_ICICLE:
		fo->icicle = true;
		break;
	case FGOPT_REVERSE:
		fo->reverse = true;
		break;
	case FGOPT_CHART:
		fo->chart = true;
		break;
	case FGOPT_PALETTE:
		if (!strcmp(arg, "kind")) {
			fo->palette = FG_PALETTE_KIND;
		} else if (!strcmp(arg, "hot")) {
			fo->palette = FG_PALETTE_HOT;
		} else if (!strcmp(arg, "cold")) {
			fo->palette = FG_PALETTE_COLD;
		} else {
			pr_warn("unknown palette '%s': use kind, hot or cold", arg);
			return -EINVAL;
		}
		break;
	default:
		return 1;	/* not a flame graph option */
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct flamegraph_opts *fo, const char **out)
{
	int c, err;

	while ((c = getopt_long(argc, argv, "o:vh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			*out = optarg;
			break;
		case 'v':
			log_set_verbose(true);
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			err = flamegraph_opt__parse(c, optarg, fo);
			if (err == 1)
				err = selector__parse(&store_sel, c, optarg);
			if (err < 0)
				return err;
			if (err) {
				pr_warn("see 'profile flamegraph --help'");
				return -EINVAL;
			}
		}
	}
	return 0;
}

int cmd_flamegraph(int argc, char **argv)
{
	struct flamegraph_opts fo = { .min_width = 0.1 };
	struct strbuf svg = STRBUF_INIT;
	const char *out = NULL;
	struct flamegraph *fg;
	int i, err;

	err = parse_args(argc, argv, &fo, &out);
	if (err)
		return err > 0 ? 0 : EXIT_USAGE;
	fg = flamegraph__new(&fo);
	if (!fg)
		return EXIT_FAILURE;
	input__progress(isatty(STDERR_FILENO));
	if (store_sel.used) {
		struct stack_agg *agg = selector__load(&store_sel);

		err = agg ? flamegraph__add_agg(fg, agg) : -errno;
		stack_agg__free(agg);
	} else if (optind >= argc) {
		err = input__feed_flamegraph("-", fg);
	}
	for (i = optind; i < argc && !err && !store_sel.used; i++)
		err = input__feed_flamegraph(argv[i], fg);
	selector__release(&store_sel);
	input__progress_done();
	if (!err)
		err = flamegraph__write_svg(fg, &svg);
	if (!err)
		err = output__write(&svg, out);
	strbuf__release(&svg);
	flamegraph__free(fg);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
