// SPDX-License-Identifier: GPL-2.0
/* `profile folded`: the stored samples a selector picks, as folded stacks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "selector.h"
#include "web/web.h"
#include "common/log.h"

const struct command_def folded_cmd = {
	.name = "folded",
	.summary = "the stored samples as folded stacks",
	.usage = "[options]",
	.description = "Write the selected samples from the store as folded stacks, sorted.",
	.max_args = 0,
};

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
	int err, first;
	const struct option_def opts[] = {
		OPT_STRING('o', "output", &out, "FILE", "write there (default: stdout)"),
		SELECTOR_OPTIONS(&s),
		OPT_END(),
	};

	err = parse_options(&folded_cmd, opts, argc, argv, &first);
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
