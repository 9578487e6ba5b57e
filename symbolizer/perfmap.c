// SPDX-License-Identifier: GPL-2.0
/*
 * JIT perf maps: /tmp/perf-PID.map, one "START SIZE name" line (hex) per
 * piece of generated code, appended to as the JIT compiles. The file belongs
 * to the profiled process, so nothing in it is trusted: it is read in place
 * with pread() up to a bound (a larger file's last PERF_MAP_WINDOW bytes), a
 * line longer than PERF_MAP_MAX_LINE is skipped without being buffered, the
 * table stops at PERF_MAP_MAX_SYMS symbols, holes of a sparse file are
 * skipped unread, and names are cleaned of control characters and invalid
 * UTF-8. A file that only grew since the last read is
 * read from where that read stopped, so a map re-read as it grows costs the
 * bytes appended, not the whole file again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "symbolizer_internal.h"
#include "common/array.h"
#include "common/hex.h"

#define READ_CHUNK (64u << 10)

/* Parse a hex number at @p (optional "0x"); returns the byte after it, or NULL. */
static const char *parse_hex(const char *p, const char *end, __u64 *val)
{
	__u64 v = 0;
	int digits = 0, d;

	if (end - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	for (; p < end && (d = hex_digit(*p)) >= 0; p++, digits++) {
		if (v >> 60)
			return NULL;	/* more than 64 bits */
		v = v << 4 | d;
	}
	if (!digits)
		return NULL;
	*val = v;
	return p;
}

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

int perf_map__parse_line(const char *line, size_t len, __u64 *start, __u64 *size,
			 const char **name, size_t *name_len)
{
	const char *end = line + len, *p;

	if (len && end[-1] == '\n')
		end--;
	if (end > line && end[-1] == '\r')
		end--;
	p = parse_hex(skip_blanks(line, end), end, start);
	if (!p || p == end || (*p != ' ' && *p != '\t'))
		return -EINVAL;
	p = parse_hex(skip_blanks(p, end), end, size);
	if (!p || p == end || (*p != ' ' && *p != '\t'))
		return -EINVAL;
	p = skip_blanks(p, end);
	if (p == end || !*size || *start + *size < *start)
		return -EINVAL;
	*name = p;
	*name_len = end - p;
	return 0;
}

void perf_map__release(struct perf_map *pm)
{
	free(pm->syms);
	free(pm->names);
	free(pm->line);
	memset(pm, 0, sizeof(*pm));
}

/* Forget the table and the reading position; the counters stay. */
static void perf_map__reset(struct perf_map *pm)
{
	struct perf_map_counts counts = pm->counts;

	perf_map__release(pm);
	pm->counts = counts;
}

static int add_line(struct perf_map *pm, const char *line, size_t len)
{
	struct perf_map_sym *sym;
	const char *name;
	size_t name_len;
	__u64 start, size;

	if (perf_map__parse_line(line, len, &start, &size, &name, &name_len)) {
		pm->counts.malformed++;
		return 0;
	}
	if (pm->nr >= PERF_MAP_MAX_SYMS || pm->names_len + name_len + 1 > PERF_MAP_MAX_NAMES) {
		pm->counts.over_limit++;
		pm->full = true;
		return 0;
	}
	if (ARRAY_GROW(pm->syms, pm->cap, pm->nr + 1, 256) ||
	    ARRAY_GROW(pm->names, pm->names_cap, pm->names_len + name_len + 1, 16384))
		return -ENOMEM;
	sym = &pm->syms[pm->nr++];
	sym->start = start;
	sym->end = start + size;
	sym->name = pm->names_len;
	sym->seq = pm->seq++;
	sym_name__clean(pm->names + pm->names_len, name, name_len);
	pm->names_len += name_len;
	pm->names[pm->names_len++] = '\0';
	return 0;
}

int perf_map__feed(struct perf_map *pm, const char *buf, size_t len)
{
	int err = 0;

	while (len && !err) {
		const char *nl = memchr(buf, '\n', len);
		size_t chunk = nl ? (size_t)(nl - buf) : len;

		if (pm->skipping) {
			pm->skipping = !nl;
		} else if (pm->line_len + chunk > PERF_MAP_MAX_LINE) {
			/* too long to be a symbol: drop it, without buffering the rest */
			pm->counts.too_long++;
			pm->line_len = 0;
			pm->skipping = !nl;
		} else if (nl && !pm->line_len) {
			err = add_line(pm, buf, chunk);
		} else {
			if (!pm->line && !(pm->line = malloc(PERF_MAP_MAX_LINE)))
				return -ENOMEM;
			memcpy(pm->line + pm->line_len, buf, chunk);
			pm->line_len += chunk;
			if (nl) {
				err = add_line(pm, pm->line, pm->line_len);
				pm->line_len = 0;
			}
		}
		chunk += nl != NULL;
		buf += chunk;
		len -= chunk;
	}
	return err;
}

static int cmp_sym(const void *a, const void *b)
{
	const struct perf_map_sym *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int perf_map__commit(struct perf_map *pm)
{
	size_t nr_new = pm->nr - pm->nr_sorted, i, j, k;
	struct perf_map_sym *tmp;

	if (!nr_new)
		return 0;
	qsort(pm->syms + pm->nr_sorted, nr_new, sizeof(*pm->syms), cmp_sym);
	if (pm->nr_sorted && cmp_sym(&pm->syms[pm->nr_sorted - 1], &pm->syms[pm->nr_sorted]) > 0) {
		/* merge from the back: every new symbol is later than every old one */
		tmp = malloc(nr_new * sizeof(*tmp));
		if (!tmp)
			return -ENOMEM;
		memcpy(tmp, pm->syms + pm->nr_sorted, nr_new * sizeof(*tmp));
		i = pm->nr_sorted;
		j = nr_new;
		k = pm->nr;
		while (j) {
			if (i && cmp_sym(&pm->syms[i - 1], &tmp[j - 1]) > 0)
				pm->syms[--k] = pm->syms[--i];
			else
				pm->syms[--k] = tmp[--j];
		}
		free(tmp);
	}
	pm->nr_sorted = pm->nr;
	return 0;
}

const struct perf_map_sym *perf_map__find(const struct perf_map *pm, __u64 addr)
{
	size_t lo = sorted_count_le(pm->syms, pm->nr_sorted, sizeof(*pm->syms), addr);

	/* of symbols at the same start the last written wins: JITs append on recompiling */
	if (lo && addr < pm->syms[lo - 1].end)
		return &pm->syms[lo - 1];
	return NULL;
}

size_t perf_map__mem(const struct perf_map *pm)
{
	return pm->cap * sizeof(*pm->syms) + pm->names_cap + (pm->line ? PERF_MAP_MAX_LINE : 0);
}

/* The last bytes read, to tell a file appended to from one rewritten since. */
static void save_tail(struct perf_map *pm, int fd)
{
	size_t want = pm->off < sizeof(pm->tail) ? pm->off : sizeof(pm->tail);
	ssize_t n = pread(fd, pm->tail, want, pm->off - want);

	pm->tail_len = n == (ssize_t)want ? want : 0;
}

static bool tail_matches(const struct perf_map *pm, int fd)
{
	unsigned char now[sizeof(pm->tail)];

	if (pm->tail_len != (pm->off < sizeof(pm->tail) ? pm->off : sizeof(pm->tail)))
		return false;
	return pread(fd, now, pm->tail_len, pm->off - pm->tail_len) == (ssize_t)pm->tail_len &&
	       !memcmp(now, pm->tail, pm->tail_len);
}

/*
 * The first byte of data at or after @off: a hole reads as zeros, which no
 * symbol line holds, and is at least a page, longer than any line kept; so a
 * sparse file costs no reading, and the line a hole falls in is dropped.
 */
static __u64 skip_hole(struct perf_map *pm, int fd, __u64 off, __u64 size)
{
	off_t data = lseek(fd, off, SEEK_DATA);

	if (data < 0 && errno == ENXIO)
		data = size;	/* nothing but a hole up to the end */
	if (data < 0 || (__u64)data <= off)
		return off;	/* no SEEK_DATA here: read it all */
	if (!pm->skipping)
		pm->counts.too_long++;
	pm->skipping = true;
	pm->line_len = 0;
	return (__u64)data < size ? (__u64)data : size;
}

int perf_map__read(struct perf_map *pm, int fd, const struct stat *st, size_t *bytes)
{
	__u64 size = st->st_size, off;
	char *buf;
	ssize_t n;
	int err = 0;

	*bytes = 0;
	if (st->st_size < 0)
		return -EINVAL;
	/* a new file, one cut short or rewritten, or a table that filled up: start over */
	if (pm->dev != (__u64)st->st_dev || pm->ino != (__u64)st->st_ino || size < pm->off ||
	    !tail_matches(pm, fd) || (pm->full && size > pm->off)) {
		perf_map__reset(pm);
		pm->dev = st->st_dev;
		pm->ino = st->st_ino;
	}
	if (size - pm->off > PERF_MAP_WINDOW) {
		/* only the newest symbols: the window starts mid-line, so its first line goes */
		perf_map__reset(pm);
		pm->dev = st->st_dev;
		pm->ino = st->st_ino;
		pm->off = size - PERF_MAP_WINDOW;
		pm->skipping = true;
		pm->counts.windowed++;
	}
	if (pm->off == size)
		return 0;
	buf = malloc(READ_CHUNK);
	if (!buf)
		return -ENOMEM;
	for (off = pm->off; off < size && !err; off += n) {
		off = skip_hole(pm, fd, off, size);
		if (off >= size)
			break;
		n = pread(fd, buf, size - off < READ_CHUNK ? size - off : READ_CHUNK, off);
		if (n <= 0) {
			err = n < 0 ? -errno : 0;
			break;	/* cut short meanwhile: keep what was read */
		}
		err = perf_map__feed(pm, buf, n);
		*bytes += n;
	}
	free(buf);
	pm->off = off;
	save_tail(pm, fd);
	return perf_map__commit(pm) ?: err;
}
