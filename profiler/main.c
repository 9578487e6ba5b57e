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
#include "common/sigbus.h"

static int cmd_help(int argc, char **argv);

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const struct command_def *def;	/* NULL for help */
} cmds[] = {
	{ "record", cmd_record, &record_cmd },
	{ "flamegraph", cmd_flamegraph, &flamegraph_cmd },
	{ "symbolize", cmd_symbolize, &symbolize_cmd },
	{ "diff", cmd_diff, &diff_cmd },
	{ "import", cmd_import, &import_cmd },
	{ "export", cmd_export, &export_cmd },
	{ "agent", cmd_agent, &agent_cmd },
	{ "runs", cmd_runs, &runs_cmd },
	{ "top", cmd_top, &top_cmd },
	{ "folded", cmd_folded, &folded_cmd },
	{ "status", cmd_status, &status_cmd },
	{ "serve", cmd_serve, &serve_cmd },
	{ "push", cmd_push, &push_cmd },
	{ "gc", cmd_gc, &gc_cmd },
	{ "help", cmd_help, NULL },
};

#define NR_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static const char profile_summary[] = "a continuous CPU profiler for Linux";

static const char profile_description[] =
	"profile samples kernel and user stacks on every CPU with a BPF program,\n"
	"names them (kallsyms, ELF and DWARF with inline chains, separate debuginfo,\n"
	"JIT perf maps) and presents them as a top-functions table, folded stacks and\n"
	"interactive SVG flame graphs. Runs are kept in an SQLite database, which\n"
	"'profile agent' fills continuously and the query commands read.\n"
	"\n"
	"With no command, profile records for 30 seconds: see profile-record(1).";

static const char profile_files[] =
	"The database is $PROFILE_DB when set, else /var/lib/profile/profile.db for\n"
	"root and ~/.local/share/profile/profile.db for other users; --db PATH names\n"
	"another. DEBUGINFOD_URLS, when set, lets the symbolizer fetch debuginfo.";

/* profile.1: what the program is, and a line per command pointing at its page */
static void print_man(FILE *f)
{
	size_t i;

	man__header(f, "PROFILE", "profile", profile_summary);
	fputs(".SH SYNOPSIS\n\\fBprofile\\fR [record options]\n.br\n\\fBprofile\\fR \\fIcommand\\fR [options]\n",
	      f);
	fputs(".SH DESCRIPTION\n", f);
	man__text(f, profile_description);
	fputs(".SH COMMANDS\n", f);
	for (i = 0; i < NR_CMDS; i++) {
		if (!cmds[i].def)
			continue;
		fprintf(f, ".TP\n\\fBprofile %s\\fR\n", cmds[i].name);
		man__line(f, cmds[i].def->summary);
		fprintf(f, "(\\fBprofile\\-%s\\fR(1))\n", cmds[i].name);
	}
	fputs(".SH FILES AND ENVIRONMENT\n", f);
	man__text(f, profile_files);
	fputs(".SH EXIT STATUS\n0 on success, 1 on failure, 2 for a command line that does not parse.\n",
	      f);
	fputs(".SH SEE ALSO\n", f);
	for (i = 0; i < NR_CMDS; i++) {
		if (cmds[i].def)
			fprintf(f, "\\fBprofile\\-%s\\fR(1)%s", cmds[i].name,
				i + 2 < NR_CMDS ? ", " : "\n");
	}
}

static int cmd_help(int argc, char **argv)
{
	size_t i;

	if (argc > 1 && !strcmp(argv[1], "--man")) {
		print_man(stdout);
		return 0;
	}
	for (i = 0; argc > 1 && i < NR_CMDS; i++) {
		/* 'profile help CMD' is 'profile CMD --help' */
		if (cmds[i].def && !strcmp(argv[1], cmds[i].name)) {
			char *args[] = { argv[1], (char *)"--help", NULL };

			return cmds[i].fn(2, args);
		}
	}
	if (argc > 1) {
		pr_warn("'%s' is not a profile command; see 'profile help'", argv[1]);
		return EXIT_USAGE;
	}
	printf("usage: profile [record options]\n"
	       "       profile <command> [options]\n\n"
	       "With no command, profile records: see 'profile record --help'.\n\n"
	       "Commands:\n");
	for (i = 0; i < NR_CMDS; i++)
		printf("  %-12s %s\n", cmds[i].name,
		       cmds[i].def ? cmds[i].def->summary : "show this help");
	printf("\n'profile <command> --help' describes each one; each has a man page,\n"
	       "profile-<command>(1).\n");
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
	/* a mapped binary truncated under a reader is abandoned, not the end of us */
	sigbus__install();
	if (argc > 1 && argv[1][0] != '-') {
		for (i = 0; i < NR_CMDS; i++) {
			if (!strcmp(argv[1], cmds[i].name))
				return cmds[i].fn(argc - 1, argv + 1);
		}
		pr_warn("'%s' is not a profile command; see 'profile help'", argv[1]);
		return EXIT_USAGE;
	}
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		cmd_help(1, argv);
		printf("\n");
	}
	return cmd_record(argc, argv);
}
