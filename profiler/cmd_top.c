// SPDX-License-Identifier: GPL-2.0
/* `profile top`: the hottest functions among the stored samples a selector picks. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "selector.h"
#include "web/web.h"
#include "common/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: profile top [options]\n\n"
		"Print the functions with the most samples in the store, by self samples.\n\n"
		"      --top N             rows (default 20)\n"
		"  -v, --verbose           debug output\n"
		"  -h, --help              this help\n\n%s", selector_usage);
}

enum { OPT_TOP = 256 };

static const struct option long_opts[] = {
	{ "top", required_argument, NULL, OPT_TOP },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	SELECTOR_LONG_OPTS,
	{},
};

static int parse_args(int argc, char **argv, struct selector *s, long *top)
{
	int c, err;

	while ((c = getopt_long(argc, argv, "vh", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_TOP:
			if (parse_int_range(optarg, 1, 1000000, top)) {
				pr_warn("invalid --top '%s'", optarg);
				return -EINVAL;
			}
			break;
		case 'v':
			log_set_verbose(true);
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			err = selector__parse(s, c, optarg);
			if (err > 0)
				pr_warn("see 'profile top --help'");
			if (err)
				return -EINVAL;
		}
	}
	if (optind < argc) {
		pr_warn("unexpected argument '%s'; see 'profile top --help'", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

int cmd_top(int argc, char **argv)
{
	struct selector s = {};
	struct stack_agg *agg = NULL;
	struct store *st = NULL;
	long top = 20;
	int err;

	err = parse_args(argc, argv, &s, &top);
	if (err) {
		selector__release(&s);
		return err > 0 ? 0 : EXIT_USAGE;
	}
	st = selector__open(&s);
	agg = stack_agg__new();
	err = !st || !agg ? -errno : selector__fill(&s, st, agg);
	if (!err && stack_agg__total(agg) <= 0)
		printf("No samples match.\n");
	else if (!err)
		printf("%.0f samples in %zu stacks\n\n", stack_agg__total(agg),
		       stack_agg__nr_stacks(agg));
	if (!err)
		err = print_top_table(agg, top);
	stack_agg__free(agg);
	store__free(st);
	selector__release(&s);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
