// SPDX-License-Identifier: GPL-2.0
/*
 * `profile diff BASE NEW`: compare two profiles. Prints a table of the
 * functions whose share changed most, optionally writes a differential flame
 * graph, and with --fail-above serves as a regression gate in CI.
 */
#include <errno.h>
#include <getopt.h>
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

static void usage(FILE *f)
{
	fprintf(f,
		"usage: profile diff [options] BASE NEW\n\n"
		"Compare two profiles. Each side is a folded file, \"-\" for stdin, or a\n"
		"selection from the store: store:KEY=VALUE[,KEY=VALUE...] with the keys run,\n"
		"since, until, pid, comm, build-id, host, label (e.g. store:run=12, or\n"
		"store:label=version=1.4 vs store:label=version=1.5). Counts are compared as\n"
		"shares of each side's total. Prints the functions whose self or total share\n"
		"changed most; a change is significant (*) when |z| >= --z in a two-proportion\n"
		"z-test of the two counts.\n\n"
		"  -o, --output FILE     also write a differential flame graph: NEW's shape, each\n"
		"                        frame red (grew) or blue (shrank) by the change of its\n"
		"                        inclusive share, grey when not significant; new frames\n"
		"                        dashed, vanished ones marked on their parent and listed\n"
		"      --top N           rows in the table (default 20, 0 for all)\n"
		"      --z Z             significance threshold (default 3)\n"
		"      --fail-above PCT  exit %d when any function's self or total share grew\n"
		"                        by more than PCT percentage points\n"
		"      --db PATH         the database store: sides read (default as 'profile top')\n"
		"      --title, --subtitle, --width, --min-width, --icicle, --reverse\n"
		"                        as for 'profile flamegraph'\n"
		"  -h, --help            this help\n", EXIT_REGRESSION);
}

enum { OPT_TOP = FGOPT_LAST + 1, OPT_Z, OPT_FAIL, OPT_DB };

static const struct option long_opts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "top", required_argument, NULL, OPT_TOP },
	{ "z", required_argument, NULL, OPT_Z },
	{ "fail-above", required_argument, NULL, OPT_FAIL },
	{ "db", required_argument, NULL, OPT_DB },
	FLAMEGRAPH_LONG_OPTS,
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{},
};

static int parse_number(const char *s, const char *what, double *out)
{
	char *end;

	*out = strtod(s, &end);
	if (end == s || *end || !isfinite(*out) || *out < 0) {
		pr_warn("invalid %s '%s': give a number >= 0", what, s);
		return -EINVAL;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct diff_args *a)
{
	int c, err = 0;

	while (!err && (c = getopt_long(argc, argv, "o:vh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			a->out = optarg;
			break;
		case OPT_TOP:
			if (parse_int_range(optarg, 0, 1000000, &a->top)) {
				pr_warn("invalid --top '%s'", optarg);
				err = -EINVAL;
			}
			break;
		case OPT_Z:
			err = parse_number(optarg, "--z", &a->d.z);
			break;
		case OPT_FAIL:
			err = parse_number(optarg, "--fail-above", &a->fail_above);
			break;
		case OPT_DB:
			input__set_db(optarg);
			break;
		case 'v':
			log_set_verbose(true);
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			err = flamegraph_opt__parse(c, optarg, &a->d.fg);
			if (err > 0) {
				pr_warn("see 'profile diff --help'");
				err = -EINVAL;
			}
		}
	}
	if (!err && argc - optind != 2) {
		pr_warn("give two profiles: profile diff BASE NEW");
		err = -EINVAL;
	}
	if (!err) {
		a->base = argv[optind];
		a->new = argv[optind + 1];
	}
	return err;
}

static void print_table(const struct diff_args *a, const struct stack_agg *base,
			const struct stack_agg *new, const struct diff_entry *e, size_t nr)
{
	size_t i, rows = a->top && (size_t)a->top < nr ? (size_t)a->top : nr;

	printf("BASE %s: %.10g samples\nNEW  %s: %.10g samples\n\n", a->base,
	       stack_agg__total(base), a->new, stack_agg__total(new));
	printf("Functions by change in share (percentage points; * significant, |z| >= %g):\n",
	       a->d.z);
	printf("   dSELF    dTOTAL   SELF%% BASE->NEW    TOTAL%% BASE->NEW   FUNCTION\n");
	for (i = 0; i < rows; i++) {
		printf("%+8.2f%c %+8.2f%c  %6.2f -> %6.2f    %6.2f -> %6.2f    %s\n",
		       e[i].new_self - e[i].base_self, fabs(e[i].z_self) >= a->d.z ? '*' : ' ',
		       e[i].new_total - e[i].base_total, fabs(e[i].z_total) >= a->d.z ? '*' : ' ',
		       e[i].base_self, e[i].new_self, e[i].base_total, e[i].new_total, e[i].name);
	}
	if (rows < nr)
		printf("  ... %zu more (--top 0 shows all)\n", nr - rows);
}

/* The regression gate: true when some function grew by more than the limit. */
static bool gate_trips(const struct diff_args *a, const struct diff_entry *e, size_t nr)
{
	bool tripped = false;
	size_t i;

	for (i = 0; i < nr; i++) {
		double ds = e[i].new_self - e[i].base_self, dt = e[i].new_total - e[i].base_total;

		if (ds > a->fail_above)
			pr_warn("regression: '%s' self share grew by %.2f points (%.2f%% -> %.2f%%), above --fail-above %g",
				e[i].name, ds, e[i].base_self, e[i].new_self, a->fail_above);
		else if (dt > a->fail_above)
			pr_warn("regression: '%s' total share grew by %.2f points (%.2f%% -> %.2f%%), above --fail-above %g",
				e[i].name, dt, e[i].base_total, e[i].new_total, a->fail_above);
		else
			continue;
		tripped = true;
	}
	return tripped;
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
	if (!(a.d.z > 0)) {
		pr_warn("invalid --z '%g': give a number > 0", a.d.z);
		return EXIT_USAGE;
	}
	err = run_diff(&a, &regressed);
	if (err)
		return EXIT_FAILURE;
	return regressed ? EXIT_REGRESSION : EXIT_SUCCESS;
}
