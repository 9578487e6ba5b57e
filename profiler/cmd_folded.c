// SPDX-License-Identifier: GPL-2.0
/* `profile folded`: the stored samples a selector picks, as folded stacks. */
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
		"usage: profile folded [options]\n\n"
		"Write the selected samples from the store as folded stacks, sorted.\n\n"
		"  -o, --output FILE       write there (default: stdout)\n"
		"  -v, --verbose           debug output\n"
		"  -h, --help              this help\n\n%s", selector_usage);
}

static const struct option long_opts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	SELECTOR_LONG_OPTS,
	{},
};

static int own_opt(void *ctx, int c, const char *arg)
{
	if (c != 'o')
		return 1;
	*(const char **)ctx = arg;
	return 0;
}

static int write_out(struct stack_agg *agg, const char *out)
{
	FILE *f = out ? fopen(out, "w") : stdout;
	int err;

	if (!f) {
		err = -errno;
		pr_warn("cannot create '%s': %s", out, strerror(-err));
		return err;
	}
	err = stack_agg__write_folded(agg, f);
	if (f == stdout ? fflush(f) : fclose(f))
		err = err ?: -EIO;
	if (err)
		pr_warn("cannot write '%s': %s", out ? out : "<stdout>", strerror(-err));
	return err;
}

int cmd_folded(int argc, char **argv)
{
	struct selector s = {};
	struct stack_agg *agg;
	const char *out = NULL;
	int err;

	err = selector__parse_args(&s, argc, argv, "folded", long_opts, own_opt, &out, usage);
	if (err) {
		selector__release(&s);
		return err > 0 ? 0 : EXIT_USAGE;
	}
	agg = selector__load(&s);
	err = agg ? write_out(agg, out) : -errno;
	stack_agg__free(agg);
	selector__release(&s);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
