// SPDX-License-Identifier: GPL-2.0
/*
 * `profile symbolize --inlines` against `eu-addr2line -a -f -i -C` on every
 * code address of the fixture binaries (tests/fixtures/build.sh): function
 * names and inline chains must agree. Stripped variants must find their
 * separate debuginfo (build-id directory, .gnu_debuglink), must not use a
 * debug file whose CRC does not match, and fall back to MiniDebugInfo names.
 *
 * Environment: PROFILE (the binary), FIXTURES (where build.sh built).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <setjmp.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define MAX_ADDRS 20000
#define MAX_CHAIN 16

struct result {
	unsigned long long addr;
	int n;
	char *names[MAX_CHAIN];	/* innermost first */
	bool has_file[MAX_CHAIN];
};

struct results {
	struct result *r;
	size_t nr;
};

static char fixtures[4096], addr_file[4200];

static const char *env(const char *name)
{
	const char *v = getenv(name);

	if (!v)
		fail_msg("%s is not set: run the tests through 'make test'", name);
	return v;
}

static void results_free(struct results *rs)
{
	size_t i;
	int j;

	for (i = 0; i < rs->nr; i++)
		for (j = 0; j < rs->r[i].n; j++)
			free(rs->r[i].names[j]);
	free(rs->r);
	rs->r = NULL;
	rs->nr = 0;
}

/* Every address inside a function symbol of @ref ("nm -S"), written to addr_file. */
static size_t write_addresses(const char *ref)
{
	char cmd[8400], line[1024];
	size_t n = 0;
	FILE *p, *out;

	snprintf(cmd, sizeof(cmd), "nm -S --defined-only '%s'", ref);
	p = popen(cmd, "r");
	out = fopen(addr_file, "w");
	assert_non_null(p);
	assert_non_null(out);
	while (fgets(line, sizeof(line), p)) {
		unsigned long long start, size, a;
		char type, name[512];

		if (sscanf(line, "%llx %llx %c %511s", &start, &size, &type, name) != 4)
			continue;
		if (type != 't' && type != 'T' && type != 'W' && type != 'w')
			continue;
		for (a = start; a < start + size && n < MAX_ADDRS; a++, n++)
			fprintf(out, "0x%llx\n", a);
	}
	pclose(p);
	fclose(out);
	return n;
}

static struct result *next_result(struct results *rs, unsigned long long addr)
{
	struct result *r;

	rs->r = realloc(rs->r, (rs->nr + 1) * sizeof(*rs->r));
	assert_non_null(rs->r);
	r = &rs->r[rs->nr++];
	memset(r, 0, sizeof(*r));
	r->addr = addr;
	return r;
}

/* eu-addr2line -a -f -i: "0xADDR", then per frame "name[ inlined at ...]" and "file:line". */
static void run_eu(const char *bin, const char *debug_dir, struct results *rs)
{
	char cmd[16384], line[8192];
	struct result *r = NULL;
	bool want_name = true;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "eu-addr2line -a -f -i -C %s%s -e '%s' < '%s'",
		 debug_dir ? "--debuginfo-path=" : "", debug_dir ? debug_dir : "", bin, addr_file);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		unsigned long long a;
		char *cut;

		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "0x", 2) && sscanf(line, "%llx", &a) == 1 && !strchr(line, ' ')) {
			r = next_result(rs, a);
			want_name = true;
			continue;
		}
		if (!r)
			continue;
		if (want_name) {
			cut = strstr(line, " inlined at ");
			if (cut)
				*cut = '\0';
			if (r->n < MAX_CHAIN)
				r->names[r->n++] = strdup(line);
		} else if (r->n <= MAX_CHAIN) {
			r->has_file[r->n - 1] = strncmp(line, "??", 2) != 0;
		}
		want_name = !want_name;
	}
	/* exits 1 when some address has no answer: the counts are checked instead */
	pclose(p);
}

/*
 * ours: "0xADDR", then per frame "name at file:line[ (inlined)]"; @extra
 * options before -e
 */
static void run_ours_opts(const char *bin, const char *debug_dir, const char *extra,
			  struct results *rs)
{
	char cmd[16384], line[8192];
	struct result *r = NULL;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "'%s' symbolize -i %s %s%s -e '%s' < '%s'", env("PROFILE"),
		 extra, debug_dir ? "--debug-dir " : "", debug_dir ? debug_dir : "", bin,
		 addr_file);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		unsigned long long a;
		char *at;

		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "0x", 2) && sscanf(line, "%llx", &a) == 1 && !strchr(line, ' ')) {
			r = next_result(rs, a);
			continue;
		}
		assert_non_null(r);
		at = strstr(line, " at ");
		/* the file part cannot hold " at ": take the last one */
		while (at && strstr(at + 4, " at "))
			at = strstr(at + 4, " at ");
		assert_non_null(at);
		*at = '\0';
		if (r->n < MAX_CHAIN) {
			r->has_file[r->n] = strncmp(at + 4, "??", 2) != 0;
			r->names[r->n++] = strdup(line);
		}
	}
	assert_int_equal(pclose(p), 0);
}

/* eu-addr2line -C prints C++ names whole: compare with --full-names */
static void run_ours(const char *bin, const char *debug_dir, struct results *rs)
{
	run_ours_opts(bin, debug_dir, "--full-names", rs);
}

static void chain_string(const struct result *r, char *buf, size_t size)
{
	size_t len = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < r->n && len < size; i++)
		len += snprintf(buf + len, size - len, "%s%s", i ? " <- " : "", r->names[i]);
}

enum expect { MATCH_EU, NAMES_ONLY, NOTHING };

static const struct {
	const char *bin;
	const char *ref;	/* unstripped twin listing the addresses */
	const char *debug_dir;	/* under FIXTURES, or NULL */
	enum expect expect;
} cases[] = {
	{ "inl-pie", "inl-pie.full", NULL, MATCH_EU },
	{ "inl-nopie", "inl-nopie.full", NULL, MATCH_EU },
	{ "cxx", "cxx.full", NULL, MATCH_EU },
	{ "libsymfix.so", "libsymfix.so", NULL, MATCH_EU },
	{ "inl-buildid", "inl-buildid.full", "debugroot", MATCH_EU },
	{ "inl-debuglink", "inl-debuglink.full", NULL, MATCH_EU },
	{ "inl-badcrc", "inl-badcrc.full", NULL, NOTHING },
	{ "inl-minidebug", "inl-minidebug.full", NULL, NAMES_ONLY },
};

static void check_case(size_t c)
{
	char bin[4200], ref[4200], dbg[4200], a[4096], b[4096];
	struct results eu = {}, ours = {};
	size_t i, n, deep = 0;

	snprintf(bin, sizeof(bin), "%s/%s", fixtures, cases[c].bin);
	snprintf(ref, sizeof(ref), "%s/%s", fixtures, cases[c].ref);
	snprintf(dbg, sizeof(dbg), "%s/%s", fixtures, cases[c].debug_dir ? cases[c].debug_dir : "");
	n = write_addresses(ref);
	assert_true(n > 10);
	/* the reference answers come from the unstripped twin */
	run_eu(cases[c].expect == MATCH_EU ? bin : ref, cases[c].debug_dir ? dbg : NULL, &eu);
	run_ours(bin, cases[c].debug_dir ? dbg : NULL, &ours);
	assert_int_equal(eu.nr, n);
	assert_int_equal(ours.nr, n);
	for (i = 0; i < n; i++) {
		struct result *e = &eu.r[i], *o = &ours.r[i];
		bool ok;
		int j;

		assert_int_equal(e->addr, o->addr);
		switch (cases[c].expect) {
		case MATCH_EU:
			ok = e->n == o->n;
			for (j = 0; ok && j < e->n; j++)
				ok = !strcmp(e->names[j], o->names[j]) &&
				     e->has_file[j] == o->has_file[j];
			deep += e->n >= 3;
			break;
		case NAMES_ONLY:	/* the outermost function, no source lines */
			ok = o->n == 1 && !o->has_file[0] &&
			     !strcmp(o->names[0], e->names[e->n - 1]);
			break;
		case NOTHING:
		default:
			ok = o->n == 1 && !o->has_file[0] && !strcmp(o->names[0], "??");
			break;
		}
		if (!ok) {
			chain_string(e, a, sizeof(a));
			chain_string(o, b, sizeof(b));
			fail_msg("%s 0x%llx: eu-addr2line says %s, we say %s", cases[c].bin, e->addr,
				 a, b);
		}
	}
	if (cases[c].expect == MATCH_EU && strstr(cases[c].bin, "inl"))
		assert_true(deep > 10);	/* the fixture really has inline chains */
	print_message("%s: %zu addresses agree\n", cases[c].bin, n);
	results_free(&eu);
	results_free(&ours);
}

static void test_fixtures_agree_with_eu_addr2line(void **state)
{
	size_t c;

	(void)state;
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		check_case(c);
}

/*
 * C++ names by default as perf shows them, without parameter lists: every
 * frame's name is its --full-names name cut before the parameters (and after
 * a template function's return type).
 */
static void test_cxx_names_without_parameters(void **state)
{
	struct results full = {}, brief = {};
	char bin[4200];
	size_t i, n, cut = 0;
	bool area = false;
	int j;

	(void)state;
	snprintf(bin, sizeof(bin), "%s/cxx.full", fixtures);
	n = write_addresses(bin);
	run_ours_opts(bin, NULL, "--full-names", &full);
	run_ours_opts(bin, NULL, "", &brief);
	assert_int_equal(full.nr, n);
	assert_int_equal(brief.nr, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(full.r[i].n, brief.r[i].n);
		for (j = 0; j < full.r[i].n; j++) {
			const char *f = full.r[i].names[j], *b = brief.r[i].names[j];
			const char *at = strstr(f, b);
			size_t len = strlen(b);

			/* a template function's full name leads with its return type */
			if (!at || (at > f && at[-1] != ' ') || (at[len] && at[len] != '('))
				fail_msg("0x%llx: '%s' is no cut of '%s'", full.r[i].addr, b, f);
			cut += at[len] != '\0';
			area |= !strcmp(b, "geo::Shape::area") &&
				!strcmp(f, "geo::Shape::area(int) const");
		}
	}
	assert_true(area);
	assert_true(cut > 10);
	results_free(&full);
	results_free(&brief);
}

static void test_corrupt_inputs_give_one_line_errors(void **state)
{
	static const char *const kinds[] = { "truncated", "not-elf", "cut-dwarf" };
	char path[4200], cmd[16384], err[8192];
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		FILE *p;
		size_t n;
		int status;

		snprintf(path, sizeof(path), "%s/corrupt-%s", fixtures, kinds[i]);
		snprintf(cmd, sizeof(cmd), "'%s' symbolize -i -e '%s' 0x1100 0x11c8 2>&1 >/dev/null",
			 env("PROFILE"), path);
		p = popen(cmd, "r");
		n = fread(err, 1, sizeof(err) - 1, p);
		err[n] = '\0';
		status = pclose(p);
		/* no crash: a clean exit status either way */
		assert_true(WIFEXITED(status));
		/* unusable files fail; a cut DWARF section still gives symbol names */
		assert_int_equal(WEXITSTATUS(status), i < 2 ? 1 : 0);
		if (!strstr(err, path))
			fail_msg("%s: no message naming the file: '%s'", kinds[i], err);
		assert_int_equal(strchr(err, '\n') - err + 1, (long)strlen(err));
	}
}

/*
 * debuginfod: a real server from Debian's package on loopback serves the
 * fixture's debug root; with DEBUGINFOD_URLS set and no --debug-dir the
 * stripped binary must get its inline chains and lines from it.
 */
static void test_debuginfod_server(void **state)
{
	char dir[4200], db[4200], cache[4200], port[16], url[64], cmd[16384], buf[8192];
	char bin[4200], ref[4200];
	unsigned long long hot = 0;
	bool served = false;
	pid_t srv;
	int i;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/debugroot", fixtures);
	snprintf(db, sizeof(db), "%s/debuginfod.%d.sqlite", fixtures, getpid());
	snprintf(cache, sizeof(cache), "%s/debuginfod-cache.%d", fixtures, getpid());
	snprintf(port, sizeof(port), "%d", 20000 + getpid() % 20000);
	snprintf(url, sizeof(url), "http://127.0.0.1:%s", port);
	snprintf(bin, sizeof(bin), "%s/inl-buildid", fixtures);
	snprintf(ref, sizeof(ref), "%s/inl-buildid.full", fixtures);
	snprintf(cmd, sizeof(cmd), "nm '%s' | awk '$3 == \"hot_path\" { print $1 }'", ref);
	{
		FILE *p = popen(cmd, "r");

		assert_int_equal(fscanf(p, "%llx", &hot), 1);
		pclose(p);
	}
	srv = fork();
	assert_true(srv >= 0);
	if (srv == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		unsetenv("DEBUGINFOD_URLS");	/* no upstream federation */
		execlp("debuginfod", "debuginfod", "-F", dir, "-p", port, "-d", db, (char *)NULL);
		_exit(127);
	}
	/* the server scans its directory first: ask until it answers (30 s at most) */
	for (i = 0; i < 60 && !served; i++) {
		FILE *p;
		size_t n;

		usleep(500 * 1000);
		/* a fresh cache each time: the client remembers a miss for minutes */
		snprintf(cmd, sizeof(cmd),
			 "DEBUGINFOD_URLS=%s DEBUGINFOD_CACHE_PATH='%s.%d' DEBUGINFOD_TIMEOUT=5 "
			 "'%s' symbolize -i -e '%s' 0x%llx 2>/dev/null",
			 url, cache, i, env("PROFILE"), bin, hot + 8);
		p = popen(cmd, "r");
		n = fread(buf, 1, sizeof(buf) - 1, p);
		buf[n] = '\0';
		pclose(p);
		served = strstr(buf, "inlines.c:") != NULL;
	}
	kill(srv, SIGTERM);
	waitpid(srv, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'.* '%s'*", cache, db);
	if (system(cmd))
		print_message("could not remove %s\n", cache);
	if (!served)
		fail_msg("no source lines through debuginfod at %s; last answer: %s", url, buf);
	/* the inline chain came along: hot_path+8 is inside accumulate() */
	assert_non_null(strstr(buf, "(inlined)"));
	assert_non_null(strstr(buf, "hot_path at "));
}

static int setup(void **state)
{
	const char *dir = getenv("FIXTURES");

	(void)state;
	if (!dir)
		return -1;
	snprintf(fixtures, sizeof(fixtures), "%s", dir);
	snprintf(addr_file, sizeof(addr_file), "%s/addrs.%d", dir, getpid());
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(addr_file);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures_agree_with_eu_addr2line),
		cmocka_unit_test(test_cxx_names_without_parameters),
		cmocka_unit_test(test_corrupt_inputs_give_one_line_errors),
		cmocka_unit_test(test_debuginfod_server),
	};

	return cmocka_run_group_tests_name("addr2line", tests, setup, teardown);
}
