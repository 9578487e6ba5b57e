// SPDX-License-Identifier: GPL-2.0
/* Unit tests for common/: string buffer, interning set, hash map, UTF-8 decoding. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "common/hashmap.h"
#include "common/strbuf.h"
#include "common/strset.h"
#include "common/utf8.h"
#include "common/sigbus.h"

/* A read of @p under a guard: 1 if it faulted (and was jumped out of), else 0. */
static int guarded_read(const volatile char *p, char *out)
{
	struct sigbus_guard g;
	int faulted;

	sigbus__enter(&g);
	if (!sigsetjmp(g.env, 1)) {
		*out = *p;
		faulted = 0;
	} else {
		faulted = 1;
	}
	sigbus__leave(&g);
	return faulted;
}

/* How a child running @fn ended: its signal, or 0 for a normal exit. */
static int child_signal(void (*fn)(volatile char *), volatile char *map)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (!pid) {
		signal(SIGABRT, SIG_DFL);
		fn(map);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

static void read_unguarded(volatile char *map)
{
	(void)map[2 * 4096];
}

static void kill_self_guarded(volatile char *map)
{
	struct sigbus_guard g;

	(void)map;
	sigbus__enter(&g);
	if (!sigsetjmp(g.env, 1))
		raise(SIGBUS);	/* si_code SI_TKILL: not a fault, not caught */
	sigbus__leave(&g);
}

/*
 * A mapped file truncated under a reader: the read past its new end is a
 * SIGBUS, jumped out of under a guard; without a guard, or sent by kill(),
 * the signal keeps its default action.
 */
static void test_sigbus_guard(void **state)
{
	char path[] = "/tmp/sigbus-XXXXXX", c = 0;
	int fd = mkstemp(path);
	unsigned long before;
	volatile char *map;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(sigbus__install(), 0);
	assert_int_equal(ftruncate(fd, 3 * 4096), 0);
	map = mmap(NULL, 3 * 4096, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(guarded_read(map + 2 * 4096, &c), 0);
	assert_int_equal(ftruncate(fd, 4096), 0);
	before = sigbus__caught();
	assert_int_equal(guarded_read(map, &c), 0);	/* still there */
	assert_int_equal(guarded_read(map + 2 * 4096, &c), 1);
	assert_int_equal(guarded_read(map + 2 * 4096, &c), 1);	/* and again: the handler stays */
	assert_int_equal(sigbus__caught(), before + 2);
	assert_int_equal(child_signal(read_unguarded, map), SIGBUS);
	assert_int_equal(child_signal(kill_self_guarded, map), SIGBUS);
	munmap((void *)map, 3 * 4096);
	close(fd);
	unlink(path);
}

static void test_strbuf_addf_grows(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	char big[1000];
	int i;

	(void)state;
	assert_string_equal(strbuf__str(&sb), "");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (i = 0; i < 10; i++)
		assert_int_equal(strbuf__addf(&sb, "%d:%s;", i, big), 0);
	assert_int_equal(sb.len, 10 * (2 + 999 + 1));
	assert_int_equal(strlen(sb.buf), sb.len);
	assert_memory_equal(sb.buf + sb.len - 6, "xxxxx;", 6);
	strbuf__setlen(&sb, 3);
	assert_string_equal(sb.buf, "0:x");
	strbuf__release(&sb);
	assert_null(sb.buf);
}

static void test_strbuf_add_binary(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	assert_int_equal(strbuf__add(&sb, "a\0b", 3), 0);
	assert_int_equal(strbuf__addch(&sb, 'c'), 0);
	assert_int_equal(sb.len, 4);
	assert_memory_equal(sb.buf, "a\0bc", 5);
	strbuf__release(&sb);
}

static void test_strset_interns(void **state)
{
	static const char *const words[] = { "main", "foo", "main", "", "foo;bar", "foo" };
	static const int want_ids[] = { 0, 1, 0, 2, 3, 1 };
	struct strset *set = strset__new();
	const char *p;
	size_t i;

	(void)state;
	assert_non_null(set);
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		assert_int_equal(strset__add(set, words[i], strlen(words[i])), want_ids[i]);
	assert_int_equal(strset__count(set), 4);
	assert_int_equal(strset__find(set, "foo", 3), 1);
	assert_int_equal(strset__find(set, "fo", 2), -ENOENT);
	/* not NUL-terminated input */
	assert_int_equal(strset__add(set, "mainly", 4), 0);
	p = strset__str(set, 0);
	/* pointers stay valid while the set grows */
	for (i = 0; i < 100000; i++) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "sym%zu", i);

		assert_int_equal(strset__add(set, buf, n), (int)(4 + i));
	}
	assert_ptr_equal(strset__str(set, 0), p);
	assert_string_equal(p, "main");
	assert_string_equal(strset__str(set, 4 + 99999), "sym99999");
	assert_int_equal(strset__find(set, "sym500", 6), 4 + 500);
	strset__free(set);
}

static void test_hashmap_set_get_delete(void **state)
{
	struct hashmap map = HASHMAP_INIT;
	uint64_t v, k, sum = 0;
	size_t it = 0, n = 0;
	uint64_t i;

	(void)state;
	assert_false(hashmap__get(&map, 1, &v));
	for (i = 0; i < 5000; i++)
		assert_int_equal(hashmap__set(&map, i * 7919, i), 0);
	assert_int_equal(map.count, 5000);
	assert_int_equal(hashmap__set(&map, 7919, 42), 0);	/* replace */
	assert_int_equal(map.count, 5000);
	assert_true(hashmap__get(&map, 7919, &v));
	assert_int_equal(v, 42);
	/* delete every other key; the rest must stay reachable */
	for (i = 0; i < 5000; i += 2)
		assert_true(hashmap__delete(&map, i * 7919, NULL));
	assert_false(hashmap__delete(&map, 0, NULL));
	assert_int_equal(map.count, 2500);
	for (i = 1; i < 5000; i += 2) {
		assert_true(hashmap__get(&map, i * 7919, &v));
		assert_int_equal(v, i == 1 ? 42 : i);
	}
	for (i = 0; i < 5000; i += 2)
		assert_false(hashmap__get(&map, i * 7919, NULL));
	while (hashmap__next(&map, &it, &k, &v)) {
		n++;
		sum += k / 7919;
	}
	assert_int_equal(n, 2500);
	assert_int_equal(sum, 2500ULL * 2500);	/* sum of the odd numbers below 5000 */
	hashmap__release(&map);
}

static void test_utf8_seq_len(void **state)
{
	static const struct {
		const char *s;
		size_t len, want;
		uint32_t cp;
	} cases[] = {
		{ "a", 1, 1, 'a' },
		{ "\x7f", 1, 1, 0x7f },		/* valid; callers refuse controls */
		{ "\xc3\xa9", 2, 2, 0xe9 },		/* e acute */
		{ "\xe2\x82\xac", 3, 3, 0x20ac },	/* euro sign */
		{ "\xf0\x9f\x94\xa5", 4, 4, 0x1f525 },
		{ "\xef\xbf\xbf", 3, 3, 0xffff },	/* a noncharacter, still UTF-8 */
		{ "\xc3", 1, 0, 0 },			/* truncated */
		{ "\xe2\x82", 2, 0, 0 },
		{ "\x80", 1, 0, 0 },			/* stray continuation byte */
		{ "\xc0\xaf", 2, 0, 0 },		/* overlong '/' */
		{ "\xe0\x80\xaf", 3, 0, 0 },
		{ "\xf0\x80\x80\xaf", 4, 0, 0 },
		{ "\xed\xa0\x80", 3, 0, 0 },		/* surrogate U+D800 */
		{ "\xf4\x90\x80\x80", 4, 0, 0 },	/* past U+10FFFF */
		{ "\xf5\x80\x80\x80", 4, 0, 0 },
		{ "\xc3\x28", 2, 0, 0 },		/* second byte not a continuation */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t cp = 0;
		size_t n = utf8__seq_len((const unsigned char *)cases[i].s, cases[i].len, &cp);

		if (n != cases[i].want || (n && cp != cases[i].cp))
			fail_msg("case %zu: length %zu code point %#x, want %zu %#x", i, n,
				 (unsigned int)cp, cases[i].want, (unsigned int)cases[i].cp);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strbuf_addf_grows),
		cmocka_unit_test(test_strbuf_add_binary),
		cmocka_unit_test(test_strset_interns),
		cmocka_unit_test(test_hashmap_set_get_delete),
		cmocka_unit_test(test_utf8_seq_len),
		cmocka_unit_test(test_sigbus_guard),
	};

	return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
