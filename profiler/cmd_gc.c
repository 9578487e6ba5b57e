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

/* @secs as the largest whole unit it is a multiple of: "30 days", "12 hours", "90 s" */
static const char *span(double secs, char *buf, size_t size)
{
	static const struct {
		double secs;
		const char *unit;
	} units[] = { { 86400, "days" }, { 3600, "hours" }, { 60, "minutes" } };
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (secs >= units[i].secs && secs / units[i].secs == (long long)(secs / units[i].secs)) {
			snprintf(buf, size, "%lld %s", (long long)(secs / units[i].secs), units[i].unit);
			return buf;
		}
	}
	snprintf(buf, size, "%g s", secs);
	return buf;
}

int cmd_gc(int argc, char **argv)
{
	const struct store_opts wo = { .write = true };
	const char *db = NULL;
	double retention = 0;
	struct store *st;
	char *path;
	char span_buf[64];
	time_t cutoff;
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
	cutoff = time(NULL) - (time_t)retention;
	err = store__expire(st, cutoff, &n);
	if (!err) {
		char when[64] = "?";
		struct tm tm;

		if (localtime_r(&cutoff, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("deleted %llu sample rows older than %s (%s) from '%s'\n",
		       (unsigned long long)n, when, span(retention, span_buf, sizeof(span_buf)),
		       store__path(st));
	}
	store__free(st);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
