// SPDX-License-Identifier: GPL-2.0
/* `profile top`: the hottest functions among the stored samples a selector picks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "selector.h"
#include "web/web.h"
#include "common/log.h"

const struct command_def top_cmd = {
	.name = "top",
	.summary = "the hottest functions among the stored samples",
	.usage = "[options]",
	.description = "Print the functions with the most samples in the store, by self samples.",
	.max_args = 0,
};

int cmd_top(int argc, char **argv)
{
	struct selector s = {};
	struct stack_agg *agg;
	long top = 20;
	int err, first;
	const struct option_def opts[] = {
		OPT_LONG(0, "top", &top, "N", "row count", 1, 1000000, "rows (default 20)"),
		SELECTOR_OPTIONS(&s),
		OPT_END(),
	};

	err = parse_options(&top_cmd, opts, argc, argv, &first);
	if (err) {
		selector__release(&s);
		return err > 0 ? 0 : EXIT_USAGE;
	}
	agg = selector__load(&s);
	err = agg ? write_top_report(agg, top, stdout) : -errno;
	stack_agg__free(agg);
	selector__release(&s);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
