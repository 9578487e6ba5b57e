/* SPDX-License-Identifier: GPL-2.0 */
/* Subcommands of the profile binary, one file each, dispatched by main.c. */
#ifndef __PROFILER_CMDS_H
#define __PROFILER_CMDS_H

#include <stdbool.h>
#include <stdio.h>

/* Each takes argv with argv[0] the subcommand name and returns the exit status. */
int cmd_record(int argc, char **argv);
int cmd_flamegraph(int argc, char **argv);
int cmd_symbolize(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);

struct stack_agg;
struct flamegraph;
struct strbuf;

/*
 * Inputs of the presenting commands (input.c): @spec is a folded file, "-"
 * for stdin, or a store selection "store:KEY=VALUE[,KEY=VALUE...]". Errors
 * are reported; the return is 0 or -errno.
 */
int input__load_agg(const char *spec, struct stack_agg *agg);
/* The database "store:" inputs read unless they name one (NULL: the default). */
void input__set_db(const char *path);
int input__feed_flamegraph(const char *spec, struct flamegraph *fg);
/* A "reading: N MB" line on stderr while inputs are read (on a terminal); then clear it. */
void input__progress(bool on);
void input__progress_done(void);
/* Write @sb to @path, or stdout for NULL or "-"; reports errors. */
int output__write(const struct strbuf *sb, const char *path);
/* @path (stdout for NULL or "-") opened for writing, NULL (reported) on error. */
FILE *output__open(const char *path);
/*
 * Flush (stdout) or close @f; reports @err or a write error naming @path.
 * Returns @err, else 0 or -EIO.
 */
int output__close(FILE *f, const char *path, int err);

/* Options shared by the commands that draw flame graphs (cmd_flamegraph.c). */
enum {
	FGOPT_TITLE = 0x1000, FGOPT_SUBTITLE, FGOPT_WIDTH, FGOPT_MINWIDTH, FGOPT_COUNTNAME, FGOPT_ICICLE,
	FGOPT_REVERSE, FGOPT_CHART, FGOPT_PALETTE, FGOPT_LAST,
};

#define FLAMEGRAPH_LONG_OPTS \
	{ "title", required_argument, NULL, FGOPT_TITLE }, \
	{ "subtitle", required_argument, NULL, FGOPT_SUBTITLE }, \
	{ "width", required_argument, NULL, FGOPT_WIDTH }, \
	{ "min-width", required_argument, NULL, FGOPT_MINWIDTH }, \
	{ "count-name", required_argument, NULL, FGOPT_COUNTNAME }, \
	{ "icicle", no_argument, NULL, FGOPT_ICICLE }, \
	{ "inverted", no_argument, NULL, FGOPT_ICICLE }, \
	{ "reverse", no_argument, NULL, FGOPT_REVERSE }, \
	{ "chart", no_argument, NULL, FGOPT_CHART }, \
	{ "palette", required_argument, NULL, FGOPT_PALETTE }

struct flamegraph_opts;
/* Apply option @c (from FLAMEGRAPH_LONG_OPTS); 0, 1 when @c is not one of them, -EINVAL. */
int flamegraph_opt__parse(int c, const char *arg, struct flamegraph_opts *fo);
int cmd_agent(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_folded(int argc, char **argv);
int cmd_status(int argc, char **argv);

/* Exit status for a command line that does not parse. */
#define EXIT_USAGE 2

/* Parse a positive number with an optional unit; returns 0 or -EINVAL. */
int parse_seconds(const char *s, double *out);
int parse_int_range(const char *s, long min, long max, long *out);

#endif /* __PROFILER_CMDS_H */
