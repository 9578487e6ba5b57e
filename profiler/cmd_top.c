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

static int own_opt(void *ctx, int c, const char *arg)
{
	if (c != OPT_TOP)
		return 1;
	if (parse_int_range(arg, 1, 1000000, ctx)) {
		pr_warn("invalid --top '%s'", arg);
		return -EINVAL;
	}
	return 0;
}

int cmd_top(int argc, char **argv)
{
	struct selector s = {};
	struct stack_agg *agg;
	long top = 20;
	int err;

	err = selector__parse_args(&s, argc, argv, "top", long_opts, own_opt, &top, usage);
	if (err) {
		selector__release(&s);
		return err > 0 ? 0 : EXIT_USAGE;
	}
	agg = selector__load(&s);
	err = agg ? 0 : -errno;
	if (!err && stack_agg__total(agg) <= 0)
		printf("No samples match.\n");
	else if (!err)
		printf("%.0f samples in %zu stacks\n\n", stack_agg__total(agg),
		       stack_agg__nr_stacks(agg));
	if (!err)
		err = print_top_table(agg, top);
	stack_agg__free(agg);
	selector__release(&s);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
