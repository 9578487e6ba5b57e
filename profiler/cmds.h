/* SPDX-License-Identifier: GPL-2.0 */
/* Subcommands of the profile binary, one file each, dispatched by main.c. */
#ifndef __PROFILER_CMDS_H
#define __PROFILER_CMDS_H

#include <stdbool.h>
#include <stdio.h>

#include "common/parse_options.h"

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
 * are reported; the return is 0 or -errno: -EBADMSG when a file had lines
 * but not one of them was folded stacks. An input without samples is a
 * warning ("no samples in ...").
 */
int input__load_agg(const char *spec, struct stack_agg *agg);
struct export_profile;
/*
 * As input__load_agg(), into a profile for the exports: a store selection
 * with its frames' binaries, addresses and lines and its samples' process,
 * pid and host (store__query_samples()); a folded file with the first frame
 * of each stack as the process.
 */
int input__load_profile(const char *spec, struct export_profile *p);
struct store;
struct store_selector;
/*
 * As input__load_profile() for a selection @sel of the open store @st (the
 * server's); *@freq (unless NULL) as input__store_freq() gives it. 0 or -errno.
 */
int input__store_profile(struct store *st, const struct store_selector *sel,
			 struct export_profile *p, long *freq);
/*
 * An input file named on the command line: 0 when @path can be read as one
 * (a regular file, a pipe or a character device, or missing: opening it says
 * so), else -EISDIR or -EINVAL after "'PATH' is a directory" or "... is not
 * a regular file".
 */
int input__check_file(const char *path);
/* @spec ("-" for stdin) opened for reading after input__check_file(); NULL (reported) on error. */
FILE *input__open(const char *spec);
/*
 * The sampling frequency of the runs store selection @spec reads: *@freq 0
 * when @spec is no store selection or selects no run, -1 when the runs were
 * sampled at different frequencies. Returns 0 or -errno (reported).
 */
int input__store_freq(const char *spec, long *freq);
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

/*
 * Options shared by the commands that draw flame graphs, for their option
 * tables; @fo is a struct flamegraph_opts (cmd_flamegraph.c).
 */
int flamegraph_opt__palette(const struct option_def *opt, const char *arg);
int flamegraph_opt__width(const struct option_def *opt, const char *arg);
#define FLAMEGRAPH_OPTIONS(fo) \
	OPT_STRING_EMPTY(0, "title", &(fo)->title, "TEXT", "title of the graph"), \
	OPT_STRING_EMPTY(0, "subtitle", &(fo)->subtitle, "TEXT", "second line under the title"), \
	OPT_CALLBACK(0, "width", &(fo)->width, "PIXELS", "width", flamegraph_opt__width, \
		     "image width, 100 to 100000 (default 1200)"), \
	OPT_DOUBLE(0, "min-width", &(fo)->min_width, "PX", "minimum width", 0, 100000, \
		   "omit frames narrower than this; their samples still count in the parent's width (default 0.1)"), \
	OPT_STRING(0, "count-name", &(fo)->count_name, "NAME", "what counts are (default \"samples\")"), \
	OPT_FLAG(0, "icicle", &(fo)->icicle, "root at the top, stacks growing down"), \
	OPT_FLAG(0, "inverted", &(fo)->icicle, "the same as --icicle"), \
	OPT_FLAG(0, "reverse", &(fo)->reverse, "merge stacks leaf first: the callers of each leaf"), \
	OPT_FLAG(0, "chart", &(fo)->chart, \
		 "flame chart: x is input order (time order for a recording), only adjacent equal stacks merge"), \
	OPT_CALLBACK(0, "palette", &(fo)->palette, "NAME", "palette", flamegraph_opt__palette, \
		     "kind (default: kernel _[k] blue, inlined _[i] teal, JIT _[j] green, user warm), hot, or cold; the shade comes from a hash of the name, the same every time")

/*
 * The database option of the commands that read or write the store: @dest
 * is a const char *. The default is store__default_path().
 */
#define DB_HELP_DEFAULT "default $PROFILE_DB, else /var/lib/profile/profile.db as root, else ~/.local/share/profile/profile.db"
#define OPT_DB(dest, help) OPT_STRING(0, "db", (dest), "PATH", help " (" DB_HELP_DEFAULT ")")

/* The command tables' texts: summary for `profile help`, usage and description for --help. */
extern const struct command_def record_cmd, flamegraph_cmd, symbolize_cmd, diff_cmd, import_cmd,
	export_cmd, agent_cmd, runs_cmd, top_cmd, folded_cmd, status_cmd, serve_cmd, push_cmd,
	gc_cmd;

int cmd_agent(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_folded(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_gc(int argc, char **argv);

/* Exit status for a command line that does not parse. */
#define EXIT_USAGE 2


#endif /* __PROFILER_CMDS_H */
