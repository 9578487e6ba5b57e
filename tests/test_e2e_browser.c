// SPDX-License-Identifier: GPL-2.0
/*
 * Browser tests: our SVGs in a real headless Chromium (Debian's chromium,
 * driven by playwright-core from tests/browser/, which `make test` installs
 * with npm). A 50,000-frame flame graph must answer zoom and search in under
 * 200 ms, and hostile frame names must neither run script nor add markup,
 * in the plain and the differential graph. The checks themselves are in
 * tests/browser/flamegraph.mjs; this drives it and reports its verdict.
 *
 * Environment (tests/run.sh sets it): SRCDIR.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "web/web.h"
#include "common/strbuf.h"

static char tmpdir[] = "/tmp/profile-e2e-browser-XXXXXX";

static char *tmp(const char *name)
{
	static char bufs[4][4096];
	static int next;
	char *b = bufs[next++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", tmpdir, name);
	return b;
}

static int run_node(const char *mode, const char *files)
{
	const char *src = getenv("SRCDIR") ? getenv("SRCDIR") : ".";
	char cmd[8192];
	int st;

	snprintf(cmd, sizeof(cmd), "cd '%s/tests/browser' && node flamegraph.mjs %s %s 2>&1", src,
		 mode, files);
	fflush(stdout);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void require_browser(void)
{
	const char *src = getenv("SRCDIR") ? getenv("SRCDIR") : ".";
	char path[4096];

	snprintf(path, sizeof(path), "%s/tests/browser/node_modules/playwright-core/package.json", src);
	if (access(path, R_OK))
		fail_msg("%s is missing: 'make test' installs it (npm ci in tests/browser)", path);
	if (access("/usr/bin/chromium", X_OK))
		fail_msg("/usr/bin/chromium is missing: scripts/install-deps.sh installs chromium");
}

static void write_svg(const char *path, const struct strbuf *sb)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(strbuf__write(sb, f), 0);
	fclose(f);
}

static void test_zoom_and_search_at_50k_frames(void **state)
{
	struct flamegraph_opts opts = { .title = "50,000 frames", .min_width = 0 };
	struct flamegraph *fg = flamegraph__new(&opts);
	struct strbuf sb = STRBUF_INIT, line = STRBUF_INIT;
	int a, b, c;

	(void)state;
	require_browser();
	assert_non_null(fg);
	/* 50 modules x 40 functions x 25 leaves: 52,103 frames with the chain above them */
	for (a = 0; a < 50; a++) {
		for (b = 0; b < 40; b++) {
			for (c = 0; c < 25; c++) {
				int leaf = (a * 40 + b) * 25 + c;

				strbuf__setlen(&line, 0);
				assert_int_equal(strbuf__addf(&line,
					"app;main;app::module_%02d::dispatch;app::module_%02d::Worker::run;"
					"app::module_%02d::Class%d::method_%d;leaf_%d",
					a, a, a, b, b, leaf), 0);
				assert_int_equal(flamegraph__add(fg, line.buf, line.len,
								 1 + (leaf * 7919) % 97), 0);
			}
		}
	}
	assert_int_equal(flamegraph__write_svg(fg, &sb), 0);
	write_svg(tmp("50k.svg"), &sb);
	assert_int_equal(run_node("timing", tmp("50k.svg")), 0);
	strbuf__release(&sb);
	strbuf__release(&line);
	flamegraph__free(fg);
}

static const char hostile[] =
	"app;</script><script>window.__pwned=1</script>;x 3\n"
	"app;<img src=x onerror=\"window.__pwned=2\">;y 2\n"
	"app;]]><script>window.__pwned=3</script> 2\n"
	"app;\" onmouseover=\"window.__pwned=4\" x=\";z 1\n"
	"app;<![CDATA[<script>window.__pwned=5</script>]]> 1\n"
	"app;&amp;&lt;script&gt;window.__pwned=6&lt;/script&gt; 1\n";

static void test_hostile_names_run_no_script(void **state)
{
	struct flamegraph_opts opts = { .title = "<script>window.__pwned=7</script>",
					.subtitle = "\"><script>window.__pwned=8</script>",
					.min_width = 0 };
	struct diff_opts dopts = { .fg = opts, .z = 3 };
	struct stack_agg *base = stack_agg__new(), *new = stack_agg__new();
	struct strbuf sb = STRBUF_INIT, files = STRBUF_INIT;
	size_t bad;
	FILE *f;

	(void)state;
	require_browser();
	f = fmemopen((void *)hostile, sizeof(hostile) - 1, "r");
	assert_int_equal(stack_agg__read_folded(new, f, "hostile", &bad), 0);
	fclose(f);
	assert_int_equal(bad, 0);
	assert_int_equal(flamegraph__render(new, &opts, &sb), 0);
	write_svg(tmp("hostile.svg"), &sb);
	/* a BASE where the hostile frames vanished, so their names land in notes and the legend */
	assert_int_equal(stack_agg__add(base, "app;</script><script>window.__pwned=9</script>", 46, 5), 0);
	assert_int_equal(stack_agg__add(base, "app;<b onclick=\"window.__pwned=10\">gone</b>", 43, 5), 0);
	strbuf__setlen(&sb, 0);
	assert_int_equal(flamegraph__render_diff(base, new, &dopts, &sb), 0);
	write_svg(tmp("hostile-diff.svg"), &sb);
	assert_int_equal(strbuf__addf(&files, "%s %s", tmp("hostile.svg"), tmp("hostile-diff.svg")), 0);
	assert_int_equal(run_node("hostile", files.buf), 0);
	strbuf__release(&sb);
	strbuf__release(&files);
	stack_agg__free(base);
	stack_agg__free(new);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[4200];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zoom_and_search_at_50k_frames),
		cmocka_unit_test(test_hostile_names_run_no_script),
	};

	return cmocka_run_group_tests_name("e2e_browser", tests, setup, teardown);
}
