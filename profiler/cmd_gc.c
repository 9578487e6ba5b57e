// SPDX-License-Identifier: GPL-2.0
/*
 * `profile gc`: retention on a store, the central one above all (expired day
 * partitions dropped, then what nothing references any more).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmds.h"
#include "store/store.h"
#include "common/log.h"

const struct command_def gc_cmd = {
	.name = "gc",
	.summary = "apply retention to a store",
	.usage = "--retention TIME [--db PATH|URI]",
	.description =
		"Delete the samples older than --retention (30d, 12h ...) and what only they\n"
		"used. On PostgreSQL whole day partitions are dropped, without blocking\n"
		"writers of other days.",
	.max_args = 0,
};

int cmd_gc(int argc, char **argv)
{
	const struct store_opts wo = { .write = true };
	const char *db = NULL;
	double retention = 0;
	struct store *st;
	char *path;
	__u64 n = 0;
	int err, first;
	const struct option_def opts[] = {
		OPT_DB(&db, "database"),
		OPT_SECONDS(0, "retention", &retention, "TIME", "retention", 1, 100 * 365 * 86400.0,
			    "keep this much (30d, 12h, 90m ...)"),
		OPT_END(),
	};

	err = parse_options(&gc_cmd, opts, argc, argv, &first);
	if (err)
		return err > 0 ? 0 : EXIT_USAGE;
	if (retention <= 0) {
		pr_warn("gc: --retention TIME is required");
		return EXIT_USAGE;
	}
	path = db ? strdup(db) : store__default_path();
	if (!path)
		return EXIT_FAILURE;
	st = store__open(path, &wo);
	free(path);
	if (!st)
		return EXIT_FAILURE;
	err = store__expire(st, time(NULL) - (__s64)retention, &n);
	if (!err)
		printf("deleted %llu sample rows older than %s from '%s'\n", (unsigned long long)n,
		       db ? db : "the default database", store__path(st));
	store__free(st);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
