// SPDX-License-Identifier: GPL-2.0
/* `profile runs`: the runs in the store (one-off records and agent runs). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "selector.h"
#include "web/web.h"
#include "common/log.h"
#include "common/strbuf.h"

const struct command_def runs_cmd = {
	.name = "runs",
	.summary = "list the runs in the database",
	.usage = "[options]",
	.description =
		"List the runs in the store, oldest first: when, where, how long, how many\n"
		"samples, labels and the command line.",
	.max_args = 0,
};

/* The hosts that reported to a central store, and when they last did. */
struct host_report {
	char name[64];
	__s64 last_ms;
	int runs;
};

struct runs_ctx {
	int nr;
	struct host_report hosts[256];
	int nr_hosts;
	struct strbuf esc;	/* term_escape()'s */
};

static void note_host(struct runs_ctx *c, const struct store_run_info *r)
{
	int i;

	if (!r->last_report_ms)
		return;
	for (i = 0; i < c->nr_hosts && strcmp(c->hosts[i].name, r->host); i++)
		;
	if (i == c->nr_hosts) {
		if (c->nr_hosts == 256)
			return;
		snprintf(c->hosts[i].name, sizeof(c->hosts[i].name), "%s", r->host);
		c->nr_hosts++;
	}
	c->hosts[i].runs++;
	if (r->last_report_ms > c->hosts[i].last_ms)
		c->hosts[i].last_ms = r->last_report_ms;
}

static void print_hosts(struct runs_ctx *c)
{
	char when[32];
	int i;

	if (!c->nr_hosts)
		return;
	printf("\n%-16s  %-19s  %5s\n", "HOST", "LAST REPORT", "RUNS");
	for (i = 0; i < c->nr_hosts; i++)
		printf("%-16s  %-19s  %5d\n",
		       term_escape(&c->esc, c->hosts[i].name,
				   strlen(c->hosts[i].name)),
		       format_time(c->hosts[i].last_ms / 1000, when, sizeof(when)), c->hosts[i].runs);
}

static int print_run(void *ctx, const struct store_run_info *r)
{
	char start[32], dur[32];
	struct runs_ctx *c = ctx;
	int *nr = &c->nr;

	if (!(*nr)++)
		printf("%5s  %-6s  %-16s  %-19s  %9s  %9s  %s\n", "RUN", "KIND", "HOST", "START",
		       "DURATION", "SAMPLES", "LABELS / COMMAND");
	if (r->end_ms)
		snprintf(dur, sizeof(dur), "%.1f s", (r->end_ms - r->start_ms) / 1000.0);
	else
		snprintf(dur, sizeof(dur), "%s", "running");
	/* host, labels and command line come from whoever stored the run: no escapes to the terminal */
	printf("%5lld  %-6s  ", (long long)r->id, term_escape(&c->esc, r->kind, strlen(r->kind)));
	printf("%-16s  ", term_escape(&c->esc, r->host, strlen(r->host)));
	printf("%-19s  %9s  %9llu  ", format_time(r->start_ms / 1000, start, sizeof(start)), dur,
	       (unsigned long long)r->samples);
	printf("%s%s", term_escape(&c->esc, r->labels, strlen(r->labels)), r->labels[0] ? " " : "");
	printf("%s\n", term_escape(&c->esc, r->cmdline, strlen(r->cmdline)));
	note_host(c, r);
	return 0;
}

int cmd_runs(int argc, char **argv)
{
	struct selector s = {};
	struct store *st;
	static struct runs_ctx c;
	int err, first;
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
	err = st ? store__list_runs(st, &s.sel, print_run, &c) : -errno;
	if (!err && !c.nr)
		printf("No runs match.\n");
	if (!err)
		print_hosts(&c);
	store__free(st);
	selector__release(&s);
	strbuf__release(&c.esc);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
