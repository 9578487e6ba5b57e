// SPDX-License-Identifier: GPL-2.0
/*
 * `profile flamegraph [FILE...]`: read folded stacks (ours, or any tool's
 * that writes "frame;frame;frame count" lines) from files or stdin and write
 * an SVG flame graph. Input is streamed into the frame tree, so a huge file
 * needs memory for its distinct frames only.
 */
#include <errno.h>
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

const struct command_def flamegraph_cmd = {
	.name = "flamegraph",
	.summary = "render folded stacks (ours or other tools') as an SVG flame graph",
	.usage = "[options] [FILE.folded...]",
	.description =
		"Render folded stacks (from files, or stdin when none are named or for \"-\")\n"
		"as an interactive SVG flame graph. Counts may be fractional. Malformed lines\n"
		"are reported with their line number and skipped.\n"
		"\n"
		"With --db, --run, --since, --until, --pid, --comm, --build-id, --host or\n"
		"--label, the stacks come from the store instead.",
	.max_args = -1,
};

/* store selectors: when any is given, read the store instead of files */
static struct selector store_sel;

int flamegraph_opt__width(const struct option_def *opt, const char *arg)
{
	long width;

	if (parse_int_range(arg, 100, 100000, &width))
		return parse_options__bad(opt, arg, "give 100 to 100000 pixels");
	*(int *)opt->value = width;
	return 0;
}

int flamegraph_opt__palette(const struct option_def *opt, const char *arg)
{
	enum flamegraph_palette *p = opt->value;

	if (!strcmp(arg, "kind"))
		*p = FG_PALETTE_KIND;
	else if (!strcmp(arg, "hot"))
		*p = FG_PALETTE_HOT;
	else if (!strcmp(arg, "cold"))
		*p = FG_PALETTE_COLD;
	else
		return parse_options__bad(opt, arg, "use kind, hot or cold");
	return 0;
}

static int parse_args(int argc, char **argv, struct flamegraph_opts *fo, const char **out,
		      int *first)
{
	const struct option_def opts[] = {
		OPT_STRING('o', "output", out, "FILE", "SVG file (default: stdout)"),
		FLAMEGRAPH_OPTIONS(fo),
		SELECTOR_OPTIONS(&store_sel),
		OPT_END(),
	};

	return parse_options(&flamegraph_cmd, opts, argc, argv, first);
}

int cmd_flamegraph(int argc, char **argv)
{
	struct flamegraph_opts fo = { .min_width = 0.1 };
	struct strbuf svg = STRBUF_INIT;
	const char *out = NULL;
	struct flamegraph *fg;
	int i, err, first;

	err = parse_args(argc, argv, &fo, &out, &first);
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
	} else if (first >= argc) {
		err = input__feed_flamegraph("-", fg);
	}
	for (i = first; i < argc && !err && !store_sel.used; i++)
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
