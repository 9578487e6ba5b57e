// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end tests of the real `profile` commands on damaged databases
 * (tests/store_damage.h): `profile runs`, `top`, `status` and `folded` on
 * each damaged copy either answer (a damage the command does not read) or
 * fail with exactly one line on stderr naming the file and a non-zero exit;
 * either way the file and its log keep every byte, the command stays under
 * 200 MB of memory (its maximum RSS, from wait4) and 20 s. `profile agent`
 * stops with one line on the damage it can meet instead of retrying
 * forever; that test skips when the kernel refuses BPF.
 *
 * Environment (tests/run.sh sets it): PROFILE.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "e2e.h"
#include "store_damage.h"

#define MAX_RSS_KB (200 * 1024)
#define MAX_SECONDS 20.0

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct outcome {
	int status;		/* exit status, or 128 + signal */
	long max_rss_kb;
	double seconds;
	char *err;		/* stderr */
	int err_lines;
};

/*
 * Run @argv to the end (killed after MAX_SECONDS + 5 s) with stdout to a file
 * and stderr captured; wait4 gives its max RSS.
 */
static void run(const char *const argv[], struct outcome *o)
{
	struct rusage ru;
	double start = mono_s();
	int status;
	pid_t pid;
	char *p;

	pid = spawn(argv, tmp("out.txt"), tmp("err.txt"));
	/* one that does not stop is killed: the check then fails on its time */
	while (wait4(pid, &status, WNOHANG, &ru) == 0) {
		if (mono_s() - start > MAX_SECONDS + 5)
			kill(pid, SIGKILL);
		sleep_s(0.02);
	}
	o->seconds = mono_s() - start;
	o->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	o->max_rss_kb = ru.ru_maxrss;
	o->err = slurp(tmp("err.txt"));
	o->err_lines = 0;
	for (p = o->err; *p; p++)
		o->err_lines += *p == '\n';
}

/* What each command reads: the damage a command does not read, it need not see. */
static bool reads_samples(const char *cmd)
{
	return !strcmp(cmd, "top") || !strcmp(cmd, "folded");
}

static bool reads_unpacked_samples(const char *cmd)
{
	return reads_samples(cmd) || !strcmp(cmd, "runs") || !strcmp(cmd, "status");
}

static void check_command(const struct damage_case *c, const char *cmd)
{
	char path[4096];
	const char *argv[] = { env_path("PROFILE"), cmd, "--db", path, NULL };
	struct damage_bytes before;
	struct outcome o;
	bool must_fail;
	char what[128];

	snprintf(path, sizeof(path), "%s", tmp("damaged.db"));	/* tmp() reuses its buffers */
	damage_good_database(path);
	c->damage(path);
	damage_remember(path, &before);
	run(argv, &o);
	snprintf(what, sizeof(what), "%s on %s", cmd, c->name);
	print_message("%-28s exit %d, %3ld MB, %.2f s: %s", what, o.status, o.max_rss_kb / 1024,
		      o.seconds, o.err_lines ? o.err : "(no error)\n");
	/* a packed bucket is read by what reads samples; a damaged page by runs and status too */
	must_fail = c->open_err || (c->query_err && (!strcmp(c->name, "damaged-page") ?
						     reads_unpacked_samples(cmd) :
						     reads_samples(cmd)));
	if (must_fail) {
		if (o.status == 0 || o.status >= 128)
			fail_msg("%s: exit status %d, not an error", what, o.status);
		if (o.err_lines != 1 || !strstr(o.err, path))
			fail_msg("%s: not one line naming '%s':\n%s", what, path, o.err);
	} else if (o.status != 0 || o.err_lines) {
		fail_msg("%s: exit %d with %s", what, o.status, o.err);
	}
	if (o.max_rss_kb > MAX_RSS_KB || o.seconds > MAX_SECONDS)
		fail_msg("%s: %ld MB, %.1f s", what, o.max_rss_kb / 1024, o.seconds);
	damage_assert_unchanged(path, &before, what);
	free(o.err);
}

static void test_readers_on_damaged_databases(void **state)
{
	static const char *const cmds[] = { "runs", "top", "status", "folded" };
	size_t i, k;

	(void)state;
	for (i = 0; i < NR_DAMAGE_CASES; i++)
		for (k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
			check_command(&damage_cases[i], cmds[k]);
}

/* A reader never creates a database: no file appears where none was. */
static void test_readers_create_nothing(void **state)
{
	char path[4096];
	const char *argv[] = { env_path("PROFILE"), "runs", "--db", path, NULL };
	struct outcome o;

	(void)state;
	snprintf(path, sizeof(path), "%s", tmp("absent.db"));
	run(argv, &o);
	assert_int_not_equal(o.status, 0);
	assert_int_equal(o.err_lines, 1);
	assert_non_null(strstr(o.err, path));
	assert_int_equal(access(path, F_OK), -1);
	free(o.err);
}

/*
 * The agent on a damage it meets at open (a foreign log, a bad version) and
 * on one it meets while writing (a damaged page): one line naming the file,
 * a non-zero exit in seconds, not a retry every flush.
 */
static void test_agent_stops_on_damage(void **state)
{
	static const char *const names[] = { "foreign-wal", "negative-version", "damaged-page" };
	char path[4096];
	const char *argv[] = {
		env_path("PROFILE"), "agent", "--db", path, "--flush-interval", "0.5",
		"--interval", "0.25", "--stats-interval", "0", NULL,
	};
	struct damage_bytes before;
	struct outcome o;
	size_t i, k;

	(void)state;
	REQUIRE_BPF();
	snprintf(path, sizeof(path), "%s", tmp("damaged.db"));
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		for (k = 0; strcmp(damage_cases[k].name, names[i]); k++)
			assert_true(k + 1 < NR_DAMAGE_CASES);
		damage_good_database(path);
		damage_cases[k].damage(path);
		damage_remember(path, &before);
		run(argv, &o);
		print_message("agent on %-18s exit %d, %.2f s: %s", names[i], o.status, o.seconds,
			      o.err);
		if (o.status == 0 || o.status >= 128 || o.seconds > MAX_SECONDS)
			fail_msg("agent on %s: exit %d after %.1f s", names[i], o.status, o.seconds);
		if (!strstr(o.err, path) || !strstr(o.err, "damaged"))
			fail_msg("agent on %s: no line naming '%s' as damaged:\n%s", names[i], path,
				 o.err);
		/*
		 * Refused at open: nothing written. A page found bad while writing
		 * was found after the agent stored its run; it stopped there.
		 */
		if (damage_cases[k].open_err)
			damage_assert_unchanged(path, &before, names[i]);
		else
			for (k = 0; k < 3; k++)
				free(before.data[k]);
		free(o.err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readers_on_damaged_databases),
		cmocka_unit_test(test_readers_create_nothing),
		cmocka_unit_test(test_agent_stops_on_damage),
	};

	return cmocka_run_group_tests_name("e2e_store", tests, setup_group, teardown_group);
}
