/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one set of options that select what to read from the store, shared by
 * `profile runs|top|folded|flamegraph|status`: --db, --run, --since, --until,
 * --pid, --comm, --build-id, --host, --label. Also the time, duration and size
 * parsers the agent uses.
 */
#ifndef __PROFILER_SELECTOR_H
#define __PROFILER_SELECTOR_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "store/store.h"
#include "cmds.h"

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

/* The same options for a command's option table; @s is the struct selector they fill. */
int selector__opt(const struct option_def *opt, const char *arg);
#define SELECTOR_OPT(name, s, argh, help) \
	OPT_CALLBACK(0, name, (s), argh, NULL, selector__opt, help)
#define SELECTOR_OPTIONS(s) \
	OPT_GROUP("Selecting samples (all optional, combined with AND):"), \
	SELECTOR_OPT("db", s, "PATH", "database (" DB_HELP_DEFAULT ")"), \
	SELECTOR_OPT("run", s, "ID|last", "one run (see 'profile runs')"), \
	SELECTOR_OPT("since", s, "TIME", \
		     "from TIME: -1h, -30m, -2d, @UNIX, 'YYYY-MM-DD HH:MM[:SS]' (local time; a trailing Z for UTC)"), \
	SELECTOR_OPT("until", s, "TIME", "up to TIME (same forms)"), \
	SELECTOR_OPT("pid", s, "PID[,PID...]", "these processes (repeatable)"), \
	SELECTOR_OPT("comm", s, "NAME", "threads named NAME"), \
	SELECTOR_OPT("build-id", s, "HEX", \
		     "processes whose executable has this build id (or prefix)"), \
	SELECTOR_OPT("host", s, "NAME|GLOB", \
		     "runs on host NAME, or on hosts matching GLOB (*, ?, [a-z]; repeatable)"), \
	SELECTOR_OPT("label", s, "KEY=VALUE", "runs with this label (repeatable)")

struct selector {
	struct store_selector sel;	/* what the store gets */
	const char *db_path;		/* NULL: the default database */
	bool last_run;			/* --run last */
	bool used;			/* any selector option (--db included) was given */
	__u32 *pids;
	const char **labels;
	const char **hosts;
};

/*
 * Handle getopt result @c with @arg. Returns 0 when it was a selector option,
 * 1 when it is not one (the caller handles it), -EINVAL after naming the
 * problem.
 */
int selector__parse(struct selector *s, int c, const char *arg);
/*
 * The same for a selector named @key as on the command line without its
 * dashes ("since", "build-id", not "db"): 0, 1 when @key is not a selector,
 * or -EINVAL (-ENOMEM) with the reason in @msg (@len bytes) and nothing
 * printed, for callers that report it their own way (an HTTP 400).
 */
int selector__set(struct selector *s, const char *key, const char *arg, char *msg, size_t len);
void selector__release(struct selector *s);

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

/* Print the top-functions table of @agg (@limit rows) to stdout, or to @f. */
int print_top_table(const struct stack_agg *agg, long limit);
int write_top_table(const struct stack_agg *agg, long limit, FILE *f);
/* What `profile top` prints: the sample and stack counts, then the table. */
int write_top_report(const struct stack_agg *agg, long limit, FILE *f);

#endif /* __PROFILER_SELECTOR_H */
