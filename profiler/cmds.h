/* SPDX-License-Identifier: GPL-2.0 */
/* Subcommands of the profile binary, one file each, dispatched by main.c. */
#ifndef __PROFILER_CMDS_H
#define __PROFILER_CMDS_H

/* Each takes argv with argv[0] the subcommand name and returns the exit status. */
int cmd_record(int argc, char **argv);
int cmd_flamegraph(int argc, char **argv);
int cmd_symbolize(int argc, char **argv);
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
