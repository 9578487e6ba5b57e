// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for profiler/ingest: the folded line of a symbolized sample,
 * the naming and root rules behind "complete", symbolizing each distinct
 * address once (through the real symbolizer, on this test's own functions),
 * and the counts the agent stores with its health.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "profiler/ingest.h"
#include "symbolizer/symbolizer.h"
#include "common/strbuf.h"

/* ---- the folded line ---- */

#define U(n, m) { .name = (n), .module = (m) }
#define UI(n) { .name = (n), .module = "app", .inlined = true }
#define UJ(n) { .name = (n), .module = "[anon]", .jit = true }
#define K(n) { .name = (n), .module = "[kernel]", .kernel = true }

static void test_folded_lines(void **state)
{
	static const struct store_frame f1[] = { U("_start", "app"), U("main", "app"),
						 UI("helper"), UJ("Interpreter::run"),
						 K("asm_sysvec_apic_timer_interrupt"), K(NULL) };
	static const struct store_frame f2[] = { U(NULL, "libstripped.so"), U(NULL, NULL),
						 U("semi;colon", "app") };
	static const struct {
		const char *comm;
		const struct store_frame *frames;
		int nr;
		const char *want;
	} cases[] = {
		{ "app", f1, 6, "app;_start;main;helper_[i];Interpreter::run_[j];"
				"asm_sysvec_apic_timer_interrupt_[k];[unknown]_[k]" },
		{ "app", f2, 3, "app;[unknown] (libstripped.so);[unknown];semi:colon" },
		{ "[unknown comm]", NULL, 0, "[unknown comm];[no stack]" },
		{ "kthread", f1 + 4, 2, "kthread;asm_sysvec_apic_timer_interrupt_[k];[unknown]_[k]" },
	};
	struct strbuf line = STRBUF_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ingest_sample s = {
			.comm = cases[i].comm, .frames = cases[i].frames, .nr_frames = cases[i].nr,
		};

		assert_int_equal(ingest_sample__folded(&s, &line), 0);
		assert_string_equal(strbuf__str(&line), cases[i].want);
	}
	strbuf__release(&line);
}

/* ---- what "complete" asks of a stack ---- */

static void test_naming_rule(void **state)
{
	static const struct store_frame named[] = { U("_start", "app"), U("main", "app") };
	static const struct store_frame partly[] = { U("_start", "app"), U(NULL, "app") };
	static const struct store_frame bare[] = { U(NULL, NULL), U(NULL, NULL), U(NULL, "app") };
	static const struct {
		const struct store_frame *frames;
		int nr;
		enum ingest_naming want;
	} cases[] = {
		{ named, 2, INGEST_NAMED },
		{ partly, 2, INGEST_PARTLY_NAMED },
		{ bare, 3, INGEST_UNNAMED },
		{ bare, 1, INGEST_UNNAMED },
		{ named, 0, INGEST_NO_USER_STACK },
	};
	static const struct {
		const char *name;
		bool root;
	} roots[] = {
		{ "_start", true }, { "start_thread", true }, { "__clone3", true }, { "clone", true },
		{ "main", false }, { "_start_of_something", false }, { NULL, false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(ingest__naming(cases[i].frames, cases[i].nr), cases[i].want);
	for (i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
		assert_int_equal(ingest__is_root_function(roots[i].name), roots[i].root);
}

/* ---- through the real symbolizer, on this process ---- */

__attribute__((noinline)) int ingest_fixture_leaf(int x);
__attribute__((noinline)) int ingest_fixture_outer(int x);
extern void _start(void);

__attribute__((noinline)) int ingest_fixture_leaf(int x)
{
	__asm__ volatile("" : "+r"(x));
	return x * 3 + 1;
}

__attribute__((noinline)) int ingest_fixture_outer(int x)
{
	int y = ingest_fixture_leaf(x);

	__asm__ volatile("" : "+r"(y));
	return y + 2;
}

struct seen {
	struct strbuf line;
	char last[512];
	int calls;
	struct ingest_sample s;
};

static int remember(void *ctx, const struct ingest_sample *s)
{
	struct seen *sn = ctx;
	int err = ingest_sample__folded(s, &sn->line);

	snprintf(sn->last, sizeof(sn->last), "%s", strbuf__str(&sn->line));
	sn->s = *s;
	sn->s.frames = NULL;	/* borrowed for the call only */
	sn->calls++;
	return err;
}

struct fixture {
	struct symbolizer *syms;
	struct ingest *in;
	struct seen seen;
	struct sample_key key;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	fx->seen.line = (struct strbuf)STRBUF_INIT;
	fx->syms = symbolizer__new(NULL);
	fx->in = fx->syms ? ingest__new(fx->syms, remember, &fx->seen) : NULL;
	fx->key.tgid = fx->key.pid = getpid();
	snprintf(fx->key.comm, sizeof(fx->key.comm), "test_ingest");
	*state = fx;
	return fx->in ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	ingest__free(fx->in);
	symbolizer__free(fx->syms);
	strbuf__release(&fx->seen.line);
	free(fx);
	return 0;
}

static int add(struct fixture *fx, __u32 end, const __u64 *uips, int nr_uips)
{
	fx->key.unwind_end = end;
	return ingest__add(fx->in, &fx->key, 1, NULL, 0, uips, nr_uips, NULL);
}

/*
 * The same samples drained again and again are looked up once per distinct
 * (process, address); the consumer sees them named, root first.
 */
static void test_symbolized_once(void **state)
{
	struct fixture *fx = *state;
	/* innermost first: a leaf pc in the leaf, return addresses in outer and _start */
	const __u64 uips[] = { (uintptr_t)ingest_fixture_leaf + 1,
			       (uintptr_t)ingest_fixture_outer + 5, (uintptr_t)_start + 1 };
	struct ingest_stats st;
	int drain, i;

	for (drain = 0; drain < 3; drain++) {
		ingest__begin_drain(fx->in);
		for (i = 0; i < 50; i++)
			assert_int_equal(add(fx, UNWIND_END_ROOT, uips, 3), 0);
	}
	assert_int_equal(fx->seen.calls, 150);
	assert_string_equal(fx->seen.last,
			    "test_ingest;_start;ingest_fixture_outer;ingest_fixture_leaf");
	assert_int_equal(fx->seen.s.naming, INGEST_NAMED);
	assert_true(fx->seen.s.rooted);
	ingest__stats(fx->in, &st);
	assert_int_equal(st.user_lookups, 3);
	assert_int_equal(st.kernel_lookups, 0);
	assert_int_equal(st.samples, 150);
	assert_int_equal(st.user_stacks, 150);
	assert_int_equal(st.complete, 150);
	assert_int_equal(st.unnamed, 0);

	/* frame pointers (no verdict): rooted when the outermost function is _start */
	assert_int_equal(add(fx, UNWIND_END_NONE, uips, 3), 0);
	assert_true(fx->seen.s.rooted);
	assert_int_equal(add(fx, UNWIND_END_NONE, uips, 2), 0);
	assert_false(fx->seen.s.rooted);
	ingest__stats(fx->in, &st);
	assert_int_equal(st.user_lookups, 3);
	assert_int_equal(st.complete, 151);

	/* an exec (a new EVENT_NEW for the pid): its addresses mean something else now */
	ingest__proc_event(fx->in, &(struct proc_event){ .type = EVENT_NEW, .tgid = getpid() });
	ingest__begin_drain(fx->in);
	assert_int_equal(add(fx, UNWIND_END_ROOT, uips, 3), 0);
	assert_int_equal(add(fx, UNWIND_END_ROOT, uips, 3), 0);
	ingest__stats(fx->in, &st);
	assert_int_equal(st.user_lookups, 6);
}

/* This process's executable mapping holding @addr, and libc's, as the unwinder offers them. */
static void self_maps(__u64 addr, struct sym_exec_map *exe, struct sym_exec_map *libc,
		      char *exe_path, char *libc_path)
{
	unsigned long long start, end, pgoff, inode;
	unsigned int major, minor;
	char line[4096], perms[8], path[2048];
	FILE *f = fopen("/proc/self/maps", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		path[0] = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %2047s", &start, &end, perms, &pgoff,
			   &major, &minor, &inode, path) < 7 || perms[2] != 'x' || !path[0])
			continue;
		if (addr >= start && addr < end) {
			strcpy(exe_path, path);
			*exe = (struct sym_exec_map){ .start = start, .end = end, .pgoff = pgoff,
						      .dev_major = major, .dev_minor = minor,
						      .inode = inode, .path = exe_path };
		} else if (strstr(path, "/libc.so")) {
			strcpy(libc_path, path);
			*libc = (struct sym_exec_map){ .pgoff = pgoff, .dev_major = major,
						       .dev_minor = minor, .inode = inode,
						       .path = libc_path };
		}
	}
	fclose(f);
	assert_true(exe->path && libc->path);
}

/*
 * A library unloaded and another file mapped at its addresses (dlclose,
 * dlopen): the addresses cached with the old file's names are looked up
 * again once the new mappings are read.
 */
static void test_remapped_file_renamed(void **state)
{
	struct fixture *fx = *state;
	const __u64 uips[] = { (uintptr_t)ingest_fixture_leaf + 1 };
	struct sym_exec_map exe = { 0 }, other = { 0 };
	char exe_path[2048], libc_path[2048];
	struct ingest_stats st;

	self_maps(uips[0], &exe, &other, exe_path, libc_path);
	/* libc where the executable was, at the same file offset */
	other.start = exe.start;
	other.end = exe.end;
	other.pgoff = exe.pgoff;
	fx->key.tgid = fx->key.pid = 0x3ffffff0;	/* no such process: the offers are all */
	assert_int_equal(symbolizer__offer_maps(fx->syms, fx->key.tgid, &exe, 1), 0);
	ingest__begin_drain(fx->in);
	assert_int_equal(add(fx, UNWIND_END_DEPTH, uips, 1), 0);
	assert_string_equal(fx->seen.last, "test_ingest;ingest_fixture_leaf");
	ingest__begin_drain(fx->in);
	assert_int_equal(add(fx, UNWIND_END_DEPTH, uips, 1), 0);
	ingest__stats(fx->in, &st);
	assert_int_equal(st.user_lookups, 1);	/* cached */

	assert_int_equal(symbolizer__offer_maps(fx->syms, fx->key.tgid, &other, 1), 0);
	ingest__begin_drain(fx->in);
	assert_int_equal(add(fx, UNWIND_END_DEPTH, uips, 1), 0);
	ingest__stats(fx->in, &st);
	assert_int_equal(st.user_lookups, 2);
	assert_null(strstr(fx->seen.last, "ingest_fixture_leaf"));
}

/*
 * Addresses no mapping holds: a row of bare [unknown] frames. Rooted or not,
 * the stack is unnamed, never complete; the lookup is retried once per drain.
 */
static void test_unnamed_not_complete(void **state)
{
	struct fixture *fx = *state;
	const __u64 bare[] = { 0x1000, 0x2008 };
	const __u64 mixed[] = { 0x1000, (uintptr_t)_start + 1 };
	struct ingest_stats st;
	int drain, i;

	for (drain = 0; drain < 2; drain++) {
		ingest__begin_drain(fx->in);
		for (i = 0; i < 10; i++)
			assert_int_equal(add(fx, UNWIND_END_ROOT, bare, 2), 0);
	}
	assert_string_equal(fx->seen.last, "test_ingest;[unknown];[unknown]");
	assert_int_equal(fx->seen.s.naming, INGEST_UNNAMED);
	assert_true(fx->seen.s.rooted);
	ingest__stats(fx->in, &st);
	assert_int_equal(st.user_lookups, 4);	/* 2 addresses, in 2 drains */
	assert_int_equal(st.user_stacks, 20);
	assert_int_equal(st.rooted, 20);
	assert_int_equal(st.complete, 0);
	assert_int_equal(st.unnamed, 20);
	assert_int_equal(st.rooted_unnamed, 20);

	/* not rooted and unnamed: unnamed, not rooted_unnamed */
	assert_int_equal(add(fx, UNWIND_END_NO_MAPPING, bare, 2), 0);
	/* partly named and rooted: complete (a frame without symbols does not undo it) */
	assert_int_equal(add(fx, UNWIND_END_ROOT, mixed, 2), 0);
	assert_string_equal(fx->seen.last, "test_ingest;_start;[unknown]");
	assert_int_equal(fx->seen.s.naming, INGEST_PARTLY_NAMED);
	/* a kernel thread: no user stack, not counted among them */
	assert_int_equal(add(fx, UNWIND_END_NONE, NULL, 0), 0);
	assert_string_equal(fx->seen.last, "test_ingest;[no stack]");
	ingest__stats(fx->in, &st);
	assert_int_equal(st.samples, 23);
	assert_int_equal(st.user_stacks, 22);
	assert_int_equal(st.unnamed, 21);
	assert_int_equal(st.rooted_unnamed, 20);
	assert_int_equal(st.complete, 1);
}

/* ---- with a store: the counts go with the health row ---- */

static int get_health(void *ctx, const struct store_run_info *r)
{
	if (r->has_health)
		*(struct store_health *)ctx = r->health;
	return 0;
}

static void test_store_health_counts(void **state)
{
	struct fixture *fx = *state;
	char dir[] = "/tmp/test-ingest-XXXXXX", path[64];
	struct ingest_store_opts so = { .kind = "agent", .freq = 99, .db_path = path };
	const __u64 named[] = { (uintptr_t)ingest_fixture_leaf + 1, (uintptr_t)_start + 1 };
	const __u64 bare[] = { 0x1000 };
	struct store_health h = { .samples = 7 }, got = {};
	struct store_selector all = {};
	struct ingest_stats st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/i.db", dir);
	assert_int_equal(ingest__flush(fx->in, NULL), -ENOENT);
	assert_int_equal(ingest__open_store(fx->in, &so), 0);
	ingest__begin_drain(fx->in);
	assert_int_equal(add(fx, UNWIND_END_ROOT, named, 2), 0);
	assert_int_equal(add(fx, UNWIND_END_ROOT, named, 2), 0);
	assert_int_equal(add(fx, UNWIND_END_ROOT, bare, 1), 0);
	assert_int_equal(ingest__flush(fx->in, &h), 0);
	ingest__stats(fx->in, &st);
	assert_int_equal(st.written, 3);
	assert_int_equal(st.stacks, 2);
	assert_int_equal(store__list_runs(ingest__store(fx->in), &all, get_health, &got), 0);
	assert_int_equal(got.samples, 7);
	assert_int_equal(got.recorded, 3);
	assert_int_equal(got.user_stacks, 3);
	assert_int_equal(got.complete, 2);
	assert_int_equal(got.unnamed, 1);
	assert_int_equal(ingest__close(fx->in), 0);
	fx->in = NULL;
	unlink(path);
	rmdir(dir);
}

/*
 * An agent that meets new addresses for as long as it runs (a build host's
 * compilers) lets go of what it interned once past a cap, right after a
 * flush: what it writes after that names the same frames and stacks as
 * before (the store finds their rows again), and the counts add up.
 */
static void test_interned_start_over(void **state)
{
	struct fixture *fx = *state;
	char dir[] = "/tmp/test-ingest-XXXXXX", path[64];
	struct ingest_store_opts so = { .kind = "agent", .freq = 99, .db_path = path };
	const __u64 named[] = { (uintptr_t)ingest_fixture_leaf + 1, (uintptr_t)_start + 1 };
	const int nr_bare = 10000;
	struct store_measure m;
	struct ingest_stats st;
	__u64 bare;
	int i;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/i.db", dir);
	assert_int_equal(ingest__open_store(fx->in, &so), 0);
	ingest__begin_drain(fx->in);
	assert_int_equal(add(fx, UNWIND_END_ROOT, named, 2), 0);
	assert_int_equal(ingest__flush(fx->in, NULL), 0);
	/* more distinct frames than are kept: one flush, then they go */
	for (i = 0; i < nr_bare; i++) {
		bare = 0x10000000 + (__u64)i * 16;
		assert_int_equal(add(fx, UNWIND_END_ROOT, &bare, 1), 0);
	}
	assert_int_equal(ingest__flush(fx->in, NULL), 0);
	ingest__stats(fx->in, &st);
	assert_int_equal(st.start_overs, 1);
	assert_int_equal(st.frames, 0);
	assert_int_equal(st.stacks, 0);
	/* the same stack again, and a bare one again: the rows written before */
	ingest__begin_drain(fx->in);
	assert_int_equal(add(fx, UNWIND_END_ROOT, named, 2), 0);
	bare = 0x10000000;
	assert_int_equal(add(fx, UNWIND_END_ROOT, &bare, 1), 0);
	assert_string_equal(fx->seen.last, "test_ingest;[unknown]");
	assert_int_equal(ingest__flush(fx->in, NULL), 0);
	ingest__stats(fx->in, &st);
	assert_int_equal(st.written, nr_bare + 3);
	assert_int_equal(store__measure(ingest__store(fx->in), &m), 0);
	assert_int_equal(m.samples, nr_bare + 3);
	assert_int_equal(m.stacks, nr_bare + 1);
	assert_int_equal(m.frames, nr_bare + 2);
	assert_int_equal(ingest__close(fx->in), 0);
	fx->in = NULL;
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_folded_lines),
		cmocka_unit_test(test_naming_rule),
		cmocka_unit_test_setup_teardown(test_symbolized_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remapped_file_renamed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unnamed_not_complete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_health_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interned_start_over, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
