/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one set of options that select what to read from the store, shared by
 * `profile runs|top|folded|flamegraph|status`: --db, --run, --since, --until,
 * --pid, --comm, --build-id, --host, --label. Also the time, duration and size
 * parsers the agent uses.
 */
#ifndef __PROFILER_SELECTOR_H
#define __PROFILER_SELECTOR_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "store/store.h"

struct stack_agg;

enum {
	SEL_OPT_DB = 1000,
	SEL_OPT_RUN,
	SEL_OPT_SINCE,
	SEL_OPT_UNTIL,
	SEL_OPT_PID,
	SEL_OPT_COMM,
	SEL_OPT_BUILD_ID,
	SEL_OPT_HOST,
	SEL_OPT_LABEL,
};

/* Entries for a command's getopt_long table. */
#define SELECTOR_LONG_OPTS                                                  \
	{ "db", required_argument, NULL, SEL_OPT_DB },                      \
	{ "run", required_argument, NULL, SEL_OPT_RUN },                    \
	{ "since", required_argument, NULL, SEL_OPT_SINCE },                \
	{ "until", required_argument, NULL, SEL_OPT_UNTIL },                \
	{ "pid", required_argument, NULL, SEL_OPT_PID },                    \
	{ "comm", required_argument, NULL, SEL_OPT_COMM },                  \
	{ "build-id", required_argument, NULL, SEL_OPT_BUILD_ID },          \
	{ "host", required_argument, NULL, SEL_OPT_HOST },                  \
	{ "label", required_argument, NULL, SEL_OPT_LABEL }

/* Help text for those options, for a command's usage(). */
extern const char selector_usage[];

struct selector {
	struct store_selector sel;	/* what the store gets */
	const char *db_path;		/* NULL: the default database */
	bool last_run;			/* --run last */
	bool used;			/* any selector option (--db included) was given */
	__u32 *pids;
	const char **labels;
};

/*
 * Handle getopt result @c with @arg. Returns 0 when it was a selector option,
 * 1 when it is not one (the caller handles it), -EINVAL after naming the
 * problem.
 */
int selector__parse(struct selector *s, int c, const char *arg);
void selector__release(struct selector *s);

/*
 * The getopt loop of a command that reads the store: -v, -h (prints
 * @usage), the selector options, and the command's own through @own (returns
 * 0 when it took the option, 1 when not its own, -EINVAL after a message;
 * may be NULL). Returns 0, 1 after --help, or -EINVAL after naming the
 * problem.
 */
typedef int (*cmd_opt_fn)(void *ctx, int c, const char *arg);
int selector__parse_args(struct selector *s, int argc, char **argv, const char *cmd,
			 const struct option *opts, cmd_opt_fn own, void *ctx,
			 void (*usage)(FILE *f));

/* Open the selected database (it must exist) and resolve --run last. NULL with errno set. */
struct store *selector__open(struct selector *s);

/* Open the store, read the selected samples into a new stack_agg, close. NULL with errno set. */
struct stack_agg *selector__load(struct selector *s);

/* Fill @agg with the selected samples as folded stacks (comm root, kernel frames "_[k]"). */
int selector__fill(struct selector *s, struct store *st, struct stack_agg *agg);

/*
 * A time: "now", relative "-1h"/"-30m"/"-2d", "@UNIXSECONDS", or
 * "YYYY-MM-DD[ HH:MM[:SS]]" (local time; a trailing "Z" for UTC). 0 or -EINVAL.
 */
int parse_time(const char *s, time_t now, __s64 *out);
/* A duration with unit s, m, h, d or w ("7d"); no unit is seconds. */
int parse_duration(const char *s, __s64 *secs);
/* A size with unit k, M, G (powers of 1024; "500M"); no unit is bytes. */
int parse_size(const char *s, __u64 *bytes);
/* Format unix seconds as local "YYYY-MM-DD HH:MM:SS" into @buf. */
const char *format_time(__s64 t, char *buf, size_t len);

/* Print the top-functions table of @agg (@limit rows) to stdout. */
int print_top_table(const struct stack_agg *agg, long limit);

#endif /* __PROFILER_SELECTOR_H */
