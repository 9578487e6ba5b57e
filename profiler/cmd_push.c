// SPDX-License-Identifier: GPL-2.0
/*
 * `profile push`: ship stored runs from a local database to the fleet's
 * central store after the fact (one-off runs included).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "push.h"
#include "selector.h"
#include "common/log.h"

const struct command_def push_cmd = {
	.name = "push",
	.summary = "ship stored runs to the central store",
	.usage = "--to URI [options]",
	.description =
		"Ship the selected runs of a local database (--db) to the central store\n"
		"(--to: a postgresql:// URI or libpq conninfo string). Each bucket is shipped\n"
		"once: pushing again, or after an interrupted push, ships only what is\n"
		"missing. The buckets a live run is still filling wait for a later push.",
	.max_args = 0,
};

int cmd_push(int argc, char **argv)
{
	const struct store_opts wo = { .create = true };
	struct selector s = {};
	struct push_stats st = {};
	struct store *local = NULL, *central = NULL;
	const char *to = NULL;
	int err, first;
	const struct option_def opts[] = {
		OPT_STRING(0, "to", &to, "URI", "the central store"),
		SELECTOR_OPTIONS(&s),
		OPT_END(),
	};

	err = parse_options(&push_cmd, opts, argc, argv, &first);
	if (err) {
		selector__release(&s);
		return err > 0 ? 0 : EXIT_USAGE;
	}
	if (!to) {
		pr_warn("push: --to URI is required (where to ship)");
		selector__release(&s);
		return EXIT_USAGE;
	}
	local = selector__open(&s);
	err = local ? 0 : -errno;
	if (!err) {
		central = store__open(to, &wo);
		err = central ? 0 : -errno;
	}
	err = err ?: push__runs(local, central, &s.sel, 0, 0, &st);
	if (!err)
		printf("pushed %llu runs: %llu new buckets, %llu samples, to '%s'\n",
		       (unsigned long long)st.runs, (unsigned long long)st.buckets,
		       (unsigned long long)st.samples, store__path(central));
	else if (local && central)
		pr_warn("push: stopped after %llu new buckets: %s (pushing again resumes)",
			(unsigned long long)st.buckets, strerror(-err));
	store__free(central);
	store__free(local);
	selector__release(&s);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
