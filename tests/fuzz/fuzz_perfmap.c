// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for JIT perf maps (/tmp/perf-PID.map, written by the
 * profiled process). The input is the file's text, read four ways that must
 * agree symbol for symbol:
 *   1. fed to perf_map__feed() whole, then committed;
 *   2. fed in chunks (sizes from the first byte), committed after each, so
 *      lines are cut between calls and new symbols merged into sorted ones;
 *   3. read with perf_map__read() from a regular file;
 *   4. read from a file holding its first half, then again once the rest is
 *      appended (the incremental read).
 * Each line also goes through perf_map__parse_line(). Every table must be
 * sorted, its names clean and in bounds, and perf_map__find() must return
 * only a symbol covering the address.
 */
#include <errno.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "symbolizer/symbolizer_internal.h"
#include "common/log.h"

static void check_lines(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl, *name;
	size_t name_len;
	__u64 start, len;

	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', end - p);
		if (!nl)
			nl = end;
		if (perf_map__parse_line(p, nl - p, &start, &len, &name, &name_len))
			continue;
		FUZZ_CHECK(len && start + len > start);
		FUZZ_CHECK(name >= p && name + name_len <= nl);
	}
}

static void check_table(const struct perf_map *pm)
{
	const struct perf_map_sym *s, *hit;
	size_t i;

	FUZZ_CHECK(pm->nr_sorted == pm->nr && pm->nr <= PERF_MAP_MAX_SYMS);
	for (i = 0; i < pm->nr; i++) {
		s = &pm->syms[i];
		FUZZ_CHECK(s->start < s->end && s->name < pm->names_len);
		FUZZ_CHECK(sym_name__is_clean(perf_map__name(pm, s), strlen(perf_map__name(pm, s))));
		if (i)
			FUZZ_CHECK(s[-1].start < s->start ||
				   (s[-1].start == s->start && s[-1].seq < s->seq));
		hit = perf_map__find(pm, s->start);
		FUZZ_CHECK(hit && hit->start == s->start);
		hit = perf_map__find(pm, s->end - 1);
		FUZZ_CHECK(!hit || (hit->start <= s->end - 1 && s->end - 1 < hit->end));
		hit = perf_map__find(pm, s->end);
		FUZZ_CHECK(!hit || (hit->start <= s->end && s->end < hit->end));
	}
}

static void check_same(const struct perf_map *a, const struct perf_map *b)
{
	size_t i;

	FUZZ_CHECK(a->nr == b->nr);
	for (i = 0; i < a->nr; i++) {
		FUZZ_CHECK(a->syms[i].start == b->syms[i].start);
		FUZZ_CHECK(a->syms[i].end == b->syms[i].end);
		FUZZ_CHECK(!strcmp(perf_map__name(a, &a->syms[i]), perf_map__name(b, &b->syms[i])));
	}
}

static void write_at(int fd, const uint8_t *data, size_t size, off_t off)
{
	ssize_t n;

	while (size) {
		n = pwrite(fd, data, size, off);
		FUZZ_CHECK(n > 0);
		data += n;
		size -= n;
		off += n;
	}
}

static void read_file(struct perf_map *pm, int fd)
{
	struct stat st;
	size_t bytes;

	FUZZ_CHECK(!fstat(fd, &st));
	FUZZ_CHECK(!perf_map__read(pm, fd, &st, &bytes));
}

static void fuzz_read(const uint8_t *data, size_t size, const struct perf_map *whole)
{
	struct perf_map pm = {}, grown = {};
	int fd = memfd_create("perf-map", MFD_CLOEXEC);

	FUZZ_CHECK(fd >= 0);
	write_at(fd, data, size, 0);
	read_file(&pm, fd);
	check_table(&pm);
	check_same(&pm, whole);
	FUZZ_CHECK(!ftruncate(fd, size / 2));
	read_file(&grown, fd);
	write_at(fd, data + size / 2, size - size / 2, size / 2);
	read_file(&grown, fd);
	check_table(&grown);
	check_same(&grown, whole);
	perf_map__release(&grown);
	perf_map__release(&pm);
	close(fd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_quiet(true);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct perf_map whole = {}, chunked = {};
	size_t step, off, n;

	if (size < 1)
		return 0;
	step = 1 + data[0] % 97;
	check_lines(data, size);
	FUZZ_CHECK(!perf_map__feed(&whole, (const char *)data, size));
	FUZZ_CHECK(!perf_map__commit(&whole));
	check_table(&whole);
	for (off = 0; off < size; off += n) {
		n = size - off < step ? size - off : step;
		FUZZ_CHECK(!perf_map__feed(&chunked, (const char *)data + off, n));
		FUZZ_CHECK(!perf_map__commit(&chunked));
	}
	check_table(&chunked);
	check_same(&chunked, &whole);
	fuzz_read(data, size, &whole);
	perf_map__release(&chunked);
	perf_map__release(&whole);
	return 0;
}
