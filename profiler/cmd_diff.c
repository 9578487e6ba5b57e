// SPDX-License-Identifier: GPL-2.0
/*
 * `profile diff BASE NEW`: compare two profiles. Prints a table of the
 * functions whose share changed most, optionally writes a differential flame
 * graph, and with --fail-above serves as a regression gate in CI.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "web/web.h"
#include "common/strbuf.h"
#include "common/log.h"

/* Exit status when --fail-above trips: distinct from errors (1) and usage (2). */
#define EXIT_REGRESSION 3

struct diff_args {
	struct diff_opts d;
	const char *out;
	const char *base, *new;
	long top;
	double fail_above;	/* < 0: no gate */
};

const struct command_def diff_cmd = {
	.name = "diff",
	.summary = "compare two profiles: differential flame graph, change table, CI gate",
	.usage = "[options] BASE NEW",
	.description =
		"Compare two profiles. Each side is a folded file, \"-\" for stdin, or a\n"
		"selection from the store: store:KEY=VALUE[,KEY=VALUE...] with the keys run,\n"
		"since, until, pid, comm, build-id, host, label (e.g. store:run=12, or\n"
		"store:label=version=1.4 vs store:label=version=1.5). Counts are compared as\n"
		"shares of each side's total. Prints the functions whose self or total share\n"
		"changed most; a change is significant (*) when |z| >= --z in a two-proportion\n"
		"z-test of the two counts.",
	.notes =
		"Exit status: 0, 1 on errors, 2 for bad usage, 3 when --fail-above trips.",
	.max_args = 2,
};

static int parse_args(int argc, char **argv, struct diff_args *a)
{
	const char *db = NULL;
	const struct option_def opts[] = {
		OPT_STRING('o', "output", &a->out, "FILE",
			   "also write a differential flame graph: NEW's shape, each frame red (grew) or blue (shrank) by the change of its inclusive share, grey when not significant; new frames dashed, vanished ones marked on their parent and listed"),
		OPT_LONG(0, "top", &a->top, "N", "row count", 0, 1000000,
			 "rows in the table (default 20, 0 for all)"),
		OPT_DOUBLE(0, "z", &a->d.z, "Z", "significance threshold", 0.001, 1000,
			   "significance threshold (default 3)"),
		OPT_DOUBLE(0, "fail-above", &a->fail_above, "PCT", "limit", 0, 100,
			   "exit 3 when any function's self or total share grew by more than PCT percentage points"),
		OPT_DB(&db, "the database store: sides read"),
		OPT_GROUP("Flame graph options, as for 'profile flamegraph':"),
		FLAMEGRAPH_OPTIONS(&a->d.fg),
		OPT_END(),
	};
	int first, err;

	err = parse_options(&diff_cmd, opts, argc, argv, &first);
	if (err)
		return err;
	if (argc - first != 2) {
		pr_warn("give two profiles: profile diff BASE NEW");
		return -EINVAL;
	}
	if (db)
		input__set_db(db);
	a->base = argv[first];
	a->new = argv[first + 1];
	return 0;
}

static void print_table(const struct diff_args *a, const struct stack_agg *base,
			const struct stack_agg *new, const struct diff_entry *e, size_t nr)
{
	size_t i, rows = a->top && (size_t)a->top < nr ? (size_t)a->top : nr;
	struct strbuf sb = STRBUF_INIT;

	printf("BASE %s: %.10g samples\nNEW  %s: %.10g samples\n\n", a->base,
	       stack_agg__total(base), a->new, stack_agg__total(new));
	printf("Functions by change in share (percentage points; * significant, |z| >= %g):\n",
	       a->d.z);
	printf("   dSELF    dTOTAL   SELF%% BASE->NEW    TOTAL%% BASE->NEW   FUNCTION\n");
	for (i = 0; i < rows; i++) {
		printf("%+8.2f%c %+8.2f%c  %6.2f -> %6.2f    %6.2f -> %6.2f    %s\n",
		       e[i].new_self - e[i].base_self, fabs(e[i].z_self) >= a->d.z ? '*' : ' ',
		       e[i].new_total - e[i].base_total, fabs(e[i].z_total) >= a->d.z ? '*' : ' ',
		       e[i].base_self, e[i].new_self, e[i].base_total, e[i].new_total,
		       term_escape(&sb, e[i].name, strlen(e[i].name)));
	}
	strbuf__release(&sb);
	if (rows < nr)
		printf("  ... %zu more (--top 0 shows all)\n", nr - rows);
}

/* The regression gate: true when some function grew by more than the limit. */
static bool gate_trips(const struct diff_args *a, const struct diff_entry *e, size_t nr)
{
	struct strbuf sb = STRBUF_INIT;
	bool tripped = false;
	size_t i;

	for (i = 0; i < nr; i++) {
		double ds = e[i].new_self - e[i].base_self, dt = e[i].new_total - e[i].base_total;
		const char *name = term_escape(&sb, e[i].name, strlen(e[i].name));

		if (ds > a->fail_above)
			pr_warn("regression: '%s' self share grew by %.2f points (%.2f%% -> %.2f%%), above --fail-above %g",
				name, ds, e[i].base_self, e[i].new_self, a->fail_above);
		else if (dt > a->fail_above)
			pr_warn("regression: '%s' total share grew by %.2f points (%.2f%% -> %.2f%%), above --fail-above %g",
				name, dt, e[i].base_total, e[i].new_total, a->fail_above);
		else
			continue;
		tripped = true;
	}
	strbuf__release(&sb);
	return tripped;
}

/* Shares of an empty side mean nothing: no comparison, and no gate passed on one. */
static int check_sides(const struct diff_args *a, const struct stack_agg *base,
		       const struct stack_agg *new)
{
	const char *empty = !(stack_agg__total(base) > 0) ? a->base :
			    !(stack_agg__total(new) > 0) ? a->new : NULL;

	if (!empty)
		return 0;
	pr_warn("cannot compare: '%s' holds no samples", empty);
	return -ENODATA;
}

static int run_diff(struct diff_args *a, bool *regressed)
{
	struct stack_agg *base = stack_agg__new(), *new = stack_agg__new();
	struct strbuf svg = STRBUF_INIT;
	struct diff_entry *e = NULL;
	size_t nr = 0;
	int err = -ENOMEM;

	if (!base || !new)
		goto out;
	input__progress(isatty(STDERR_FILENO));
	err = input__load_agg(a->base, base);
	if (!err)
		err = input__load_agg(a->new, new);
	input__progress_done();
	if (!err)
		err = check_sides(a, base, new);
	if (!err)
		err = stack_agg__diff_top(base, new, false, &e, &nr);
	if (err)
		goto out;
	print_table(a, base, new, e, nr);
	if (fflush(stdout))
		err = -EIO;
	if (!err && a->out) {
		err = flamegraph__render_diff(base, new, &a->d, &svg);
		if (!err)
			err = output__write(&svg, a->out);
	}
	if (!err && a->fail_above >= 0)
		*regressed = gate_trips(a, e, nr);
out:
	if (err == -ENOMEM)
		pr_warn("out of memory");
	free(e);
	strbuf__release(&svg);
	stack_agg__free(base);
	stack_agg__free(new);
	return err;
}

int cmd_diff(int argc, char **argv)
{
	struct diff_args a = { .d = { .fg = { .min_width = 0.1 }, .z = 3 }, .top = 20,
			       .fail_above = -1 };
	bool regressed = false;
	int err;

	err = parse_args(argc, argv, &a);
	if (err)
		return err > 0 ? 0 : EXIT_USAGE;
	err = run_diff(&a, &regressed);
	if (err)
		return EXIT_FAILURE;
	return regressed ? EXIT_REGRESSION : EXIT_SUCCESS;
}
