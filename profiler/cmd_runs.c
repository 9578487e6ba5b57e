// SPDX-License-Identifier: GPL-2.0
/* `profile runs`: the runs in the store (one-off records and agent runs). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "selector.h"
#include "common/log.h"

const struct command_def runs_cmd = {
	.name = "runs",
	.summary = "list the runs in the database",
	.usage = "[options]",
	.description =
		"List the runs in the store, oldest first: when, where, how long, how many\n"
		"samples, labels and the command line.",
	.max_args = 0,
};

static int print_run(void *ctx, const struct store_run_info *r)
{
	char start[32], dur[32];
	int *nr = ctx;

	if (!(*nr)++)
		printf("%5s  %-6s  %-16s  %-19s  %9s  %9s  %s\n", "RUN", "KIND", "HOST", "START",
		       "DURATION", "SAMPLES", "LABELS / COMMAND");
	if (r->end_ms)
		snprintf(dur, sizeof(dur), "%.1f s", (r->end_ms - r->start_ms) / 1000.0);
	else
		snprintf(dur, sizeof(dur), "%s", "running");
	printf("%5lld  %-6s  %-16s  %-19s  %9s  %9llu  %s%s%s\n", (long long)r->id, r->kind,
	       r->host, format_time(r->start_ms / 1000, start, sizeof(start)), dur,
	       (unsigned long long)r->samples, r->labels, r->labels[0] ? " " : "", r->cmdline);
	return 0;
}

int cmd_runs(int argc, char **argv)
{
	struct selector s = {};
	struct store *st;
	int err, nr = 0, first;
	const struct option_def opts[] = {
		SELECTOR_OPTIONS(&s),
		OPT_END(),
	};

	err = parse_options(&runs_cmd, opts, argc, argv, &first);
	if (err) {
		selector__release(&s);
		return err > 0 ? 0 : EXIT_USAGE;
	}
	st = selector__open(&s);
	err = st ? store__list_runs(st, &s.sel, print_run, &nr) : -errno;
	if (!err && !nr)
		printf("No runs match.\n");
	store__free(st);
	selector__release(&s);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
