// SPDX-License-Identifier: GPL-2.0
/*
 * profile: a continuous CPU profiler. The bare form records; other
 * subcommands present what was recorded. See `profile --help`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "cmds.h"
#include "common/log.h"

static int cmd_help(int argc, char **argv);

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} cmds[] = {
	{ "record", cmd_record, "sample all CPUs, print the top functions, write SVG and folded stacks (the default)" },
	{ "flamegraph", cmd_flamegraph, "render folded stacks (ours or other tools') as an SVG flame graph" },
	{ "symbolize", cmd_symbolize, "addr2line for binaries and live processes: functions, inlines, file:line" },
	{ "diff", cmd_diff, "compare two profiles: differential flame graph, change table, CI gate" },
	{ "import", cmd_import, "turn other tools' output (perf script) into folded stacks" },
	{ "export", cmd_export, "write a profile as pprof, speedscope JSON or folded stacks" },
	{ "agent", cmd_agent, "sample continuously into the database (the always-on service)" },
	{ "runs", cmd_runs, "list the runs in the database" },
	{ "top", cmd_top, "the hottest functions among the stored samples" },
	{ "folded", cmd_folded, "the stored samples as folded stacks" },
	{ "status", cmd_status, "the database and the agent's health" },
	{ "help", cmd_help, "show this help" },
};

static int cmd_help(int argc, char **argv)
{
	size_t i;

	(void)argc;
	(void)argv;
	printf("usage: profile [record options]\n"
	       "       profile <command> [options]\n\n"
	       "With no command, profile records: see 'profile record --help'.\n\n"
	       "Commands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		printf("  %-12s %s\n", cmds[i].name, cmds[i].summary);
	printf("\n'profile <command> --help' describes each one.\n");
	return 0;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !log_is_verbose())
		return 0;
	if (level == LIBBPF_INFO && !log_is_verbose())
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	size_t i;

	libbpf_set_print(libbpf_print);
	if (argc > 1 && argv[1][0] != '-') {
		for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
			if (!strcmp(argv[1], cmds[i].name))
				return cmds[i].fn(argc - 1, argv + 1);
		}
		pr_warn("'%s' is not a profile command; see 'profile help'", argv[1]);
		return EXIT_USAGE;
	}
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		cmd_help(argc, argv);
		printf("\n");
	}
	return cmd_record(argc, argv);
}
