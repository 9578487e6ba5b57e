// SPDX-License-Identifier: GPL-2.0
/*
 * The command line of the real binary: bad arguments to every command are
 * refused with exit status 2 (1 for inputs that cannot be read) and one line
 * on stderr naming the bad option and value, while a valid variant of each
 * still works; --help and the man page of every command list the same
 * options (both come from its option table); `make install` lays out the
 * binary, the systemd unit and man pages that `man -l` renders without a
 * warning.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "e2e.h"

#define MAX_ARGS 12

/* Run the binary with @args (NULL-terminated); stdout and stderr into files named @tag. */
static int run(const char *const *args, const char *tag, char **out, char **err)
{
	const char *argv[MAX_ARGS + 2] = { env_path("PROFILE") };
	char o[64], e[64];
	int i, status;

	for (i = 0; i < MAX_ARGS && args[i]; i++)
		argv[i + 1] = args[i];
	snprintf(o, sizeof(o), "%s.out", tag);
	snprintf(e, sizeof(e), "%s.err", tag);
	status = wait_exit(spawn(argv, tmp(o), tmp(e)));
	if (out)
		*out = slurp(tmp(o));
	if (err)
		*err = slurp(tmp(e));
	return status;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void test_bad_arguments(void **state)
{
	static char folded[4096], dir[4096];
	const struct {
		const char *args[MAX_ARGS];
		int status;
		const char *msg;	/* names the option and the value */
	} cases[] = {
		{ { "-p", "" }, 2, "'' (--pid)" },
		{ { "-p", "1,,2" }, 2, "'1,,2' (--pid): the list has an empty element" },
		{ { "-p", "1," }, 2, "'1,' (--pid)" },
		{ { "-d", "1e99" }, 2, "invalid duration '1e99' (--duration)" },
		{ { "-d", "inf" }, 2, "invalid duration 'inf' (--duration)" },
		{ { "-d", "nan" }, 2, "invalid duration 'nan' (--duration)" },
		{ { "-d", "400d" }, 2, "invalid duration '400d' (--duration)" },
		{ { "-F", "0" }, 2, "invalid frequency '0' (--freq)" },
		{ { "-F", "1e3" }, 2, "invalid frequency '1e3' (--freq)" },
		{ { "--interval", "0" }, 2, "invalid interval '0' (--interval)" },
		{ { "--top", "-1" }, 2, "'-1' (--top)" },
		{ { "--db", "" }, 2, "invalid --db ''" },
		{ { "-e", "bogus" }, 2, "invalid event 'bogus' (--event)" },
		{ { "--bogus" }, 2, "unknown option '--bogus'" },
		{ { "-F" }, 2, "option '-F' needs a value" },
		{ { "--include-idle=1" }, 2, "option '--include-idle=1' takes no value" },
		{ { "agent", "--bucket", "nan" }, 2, "invalid bucket 'nan' (--bucket)" },
		{ { "agent", "--retention", "inf" }, 2, "invalid retention 'inf' (--retention)" },
		{ { "agent", "--max-db-size", "nan" }, 2, "invalid size 'nan' (--max-db-size)" },
		{ { "agent", "--stats-interval", "1e99" }, 2, "'1e99' (--stats-interval)" },
		{ { "agent", "--label", "x" }, 2, "invalid label 'x' (--label)" },
		{ { "agent", "extra" }, 2, "unexpected argument 'extra'" },
		{ { "flamegraph", "--width", "5" }, 2, "invalid width '5' (--width)" },
		{ { "flamegraph", "--min-width", "inf" }, 2, "'inf' (--min-width)" },
		{ { "flamegraph", "--palette", "pink" }, 2, "invalid palette 'pink' (--palette)" },
		{ { "diff", "--z", "0", "a", "b" }, 2, "'0' (--z)" },
		{ { "diff", "--fail-above", "nan", "a", "b" }, 2, "'nan' (--fail-above)" },
		{ { "diff", "a" }, 2, "give two profiles" },
		{ { "top", "--top", "0" }, 2, "'0' (--top)" },
		{ { "top", "--pid", "3,,4" }, 2, "--pid '3,,4': the list has an empty element" },
		{ { "top", "--since", "nan" }, 2, "invalid --since 'nan'" },
		{ { "top", "--run", "0" }, 2, "invalid --run '0'" },
		{ { "runs", "--host", "" }, 2, "invalid --host ''" },
		{ { "folded", "--comm", "" }, 2, "invalid --comm ''" },
		{ { "status", "--build-id", "XYZ" }, 2, "invalid --build-id 'XYZ'" },
		{ { "export" }, 2, "give the output format" },
		{ { "export", "-f", "svg" }, 2, "invalid format 'svg' (--format)" },
		{ { "import", "csv" }, 2, "cannot import 'csv'" },
		{ { "symbolize", "-p", "0" }, 2, "invalid process id '0' (--pid)" },
		{ { "symbolize" }, 2, "give one of -e FILE or -p PID" },
		/* inputs that are directories: named, not "Input/output error" */
		{ { "flamegraph", dir }, 1, "is a directory" },
		{ { "import", "perf-script", dir }, 1, "is a directory" },
		{ { "export", "-f", "folded", dir }, 1, "is a directory" },
		{ { "diff", folded, dir }, 1, "is a directory" },
		{ { "symbolize", "-e", dir, "0x1" }, 1, "is a directory" },
		{ { "flamegraph", "store:run=1,,pid=2" }, 1, "the list has an empty element" },
	};
	size_t i;

	(void)state;
	snprintf(dir, sizeof(dir), "%s", tmpdir);
	snprintf(folded, sizeof(folded), "%s", tmp("a.folded"));
	write_file(folded, "main;work 3\n");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out, *err, *nl;
		int status = run(cases[i].args, "bad", &out, &err);

		if (status != cases[i].status)
			fail_msg("case %zu (%s %s): exit %d, want %d; stderr: %s", i,
				 cases[i].args[0], cases[i].args[1] ? cases[i].args[1] : "", status,
				 cases[i].status, err);
		if (!strstr(err, cases[i].msg))
			fail_msg("case %zu: want '%s' in: %s", i, cases[i].msg, err);
		/* one line on stderr, nothing on stdout */
		nl = strchr(err, '\n');
		if (!nl || nl[1])
			fail_msg("case %zu: not one line: %s", i, err);
		if (cases[i].status == 2)
			assert_string_equal(out, "");
		free(out);
		free(err);
	}
}

/* The valid variants of the same options still work. */
static void test_valid_variants(void **state)
{
	static char folded[4096], svg[4096], self[16], db[4096];
	const struct {
		const char *args[MAX_ARGS];
		bool bpf;
	} cases[] = {
		{ { "flamegraph", "--width", "100", "--min-width", "0", "--palette", "cold", folded } },
		{ { "flamegraph", "-o", svg, "--title", "", "--inverted", folded } },
		{ { "diff", "--z", "0.5", "--fail-above", "100", folded, folded } },
		{ { "export", "--format=folded", folded } },
		{ { "import", "perf-script", "--all", "/dev/null" } },
		{ { "help", "top" } },
		{ { "-d", "300ms", "-F", "1000", "-p", self, "--db", db, "-o", "-" }, true },
		{ { "top", "--db", db, "--run", "last", "--pid", self, "--since", "-1h" }, true },
		{ { "runs", "--db", db, "--until", "now" }, true },
	};
	size_t i;

	(void)state;
	snprintf(folded, sizeof(folded), "%s", tmp("v.folded"));
	snprintf(svg, sizeof(svg), "%s", tmp("v.svg"));
	snprintf(db, sizeof(db), "%s", tmp("v.db"));
	snprintf(self, sizeof(self), "%d", (int)getpid());
	write_file(folded, "main;work 3\nmain;rest 1\n");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *err;
		int status;

		if (cases[i].bpf && skip_reason) {
			print_message("skipping case %zu: %s\n", i, skip_reason);
			continue;
		}
		/* the record case writes its folded stacks into the temporary directory */
		if (chdir(tmpdir))
			fail_msg("chdir: %s", strerror(errno));
		status = run(cases[i].args, "ok", NULL, &err);
		if (status)
			fail_msg("case %zu (%s %s): exit %d: %s", i, cases[i].args[0],
				 cases[i].args[1], status, err);
		free(err);
	}
}

static const char *const commands[] = {
	"record", "flamegraph", "symbolize", "diff", "import", "export",
	"agent", "runs", "top", "folded", "status",
};

/*
 * The long options listed in @text, as " --name" words, in order: the option
 * lines of --help ("  -d, --duration ...", "      --comm ...") or the .TP
 * tags of a man page ("\fB\-\-duration\fR").
 */
static void options_of(const char *text, bool man, char *buf, size_t len)
{
	const char *line;

	buf[0] = '\0';
	for (line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		const char *p, *end;
		char name[64];
		size_t n = 0;

		if (man) {
			if (strncmp(line, ".TP\n", 4))
				continue;
			p = strstr(line + 4, "\\fB\\-\\-");
			if (!p || p > strchr(line + 4, '\n'))
				continue;
			for (p += 7; *p && strncmp(p, "\\fR", 3) && n < sizeof(name) - 1; p++) {
				if (!strncmp(p, "\\-", 2))
					p++;
				name[n++] = *p;
			}
		} else {
			if (strncmp(line, "  -", 3) && strncmp(line, "      --", 8))
				continue;
			p = strstr(line, "--");
			end = p + strcspn(p, " \n");
			for (p += 2; p < end && n < sizeof(name) - 1; p++)
				name[n++] = *p;
		}
		name[n] = '\0';
		snprintf(buf + strlen(buf), len - strlen(buf), " --%s", name);
	}
}

static void test_help_and_man_agree(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const char *help_args[] = { commands[i], "--help", NULL };
		const char *man_args[] = { commands[i], "--man", NULL };
		char *help, *man, from_help[4096], from_man[4096];

		assert_int_equal(run(help_args, "help", &help, NULL), 0);
		assert_int_equal(run(man_args, "man", &man, NULL), 0);
		options_of(help, false, from_help, sizeof(from_help));
		options_of(man, true, from_man, sizeof(from_man));
		print_message("%s:%s\n", commands[i], from_help);
		/* every command has at least its own option and -v, -h */
		assert_non_null(strstr(from_help, " --verbose --help"));
		if (strcmp(from_help, from_man))
			fail_msg("'%s': --help lists%s\nbut the man page%s", commands[i], from_help,
				 from_man);
		free(help);
		free(man);
	}
}

/* `make install DESTDIR=... PREFIX=/usr`: the layout, the unit's path, pages man renders. */
static void test_install_layout(void **state)
{
	char *profile = strdup(env_path("PROFILE")), *out_dir = strdup(profile), cmd[16384];
	char dest[4096], path[4200], *unit, *text;
	struct stat st;
	size_t i;

	(void)state;
	*strrchr(out_dir, '/') = '\0';
	snprintf(dest, sizeof(dest), "%s", tmp("dest"));
	snprintf(cmd, sizeof(cmd),
		 "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C '%s' OUTPUT='%s' DESTDIR='%s' PREFIX=/usr install >'%s' 2>&1",
		 env_path("SRCDIR"), out_dir, dest, tmp("install.log"));
	if (system(cmd)) {
		text = slurp(tmp("install.log"));
		fail_msg("make install failed: %s", text);
	}
	snprintf(path, sizeof(path), "%s/usr/bin/profile", dest);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode) && (st.st_mode & 0111));
	snprintf(path, sizeof(path), "%s/usr/lib/systemd/system/profile-agent.service", dest);
	unit = slurp(path);
	assert_non_null(strstr(unit, "\nExecStart=/usr/bin/profile agent "));
	free(unit);
	for (i = 0; i <= sizeof(commands) / sizeof(commands[0]); i++) {
		char page[64], *warnings, *rendered;

		if (i < sizeof(commands) / sizeof(commands[0]))
			snprintf(page, sizeof(page), "profile-%s.1", commands[i]);
		else
			snprintf(page, sizeof(page), "profile.1");
		snprintf(path, sizeof(path), "%s/usr/share/man/man1/%s", dest, page);
		assert_int_equal(stat(path, &st), 0);
		snprintf(cmd, sizeof(cmd),
			 "MANWIDTH=80 man -l --warnings=all '%s' >'%s' 2>'%s'", path,
			 tmp("man.out"), tmp("man.err"));
		assert_int_equal(system(cmd), 0);
		warnings = slurp(tmp("man.err"));
		rendered = slurp(tmp("man.out"));
		if (*warnings)
			fail_msg("man -l %s: %s", page, warnings);
		/* the page has its sections, and the command's name in NAME */
		assert_non_null(strstr(rendered, "NAME"));
		assert_non_null(strstr(rendered, "OPTIONS") ?: strstr(rendered, "COMMANDS"));
		assert_non_null(strstr(rendered, i < sizeof(commands) / sizeof(commands[0]) ?
						 commands[i] : "profile"));
		free(warnings);
		free(rendered);
	}
	free(profile);
	free(out_dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_valid_variants),
		cmocka_unit_test(test_help_and_man_agree),
		cmocka_unit_test(test_install_layout),
	};

	return cmocka_run_group_tests_name("e2e_cli", tests, setup_group, teardown_group);
}
