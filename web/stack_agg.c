// SPDX-License-Identifier: GPL-2.0
/*
 * Aggregated stacks: each distinct folded stack is interned once and carries
 * a count. Counts are doubles so folded input from other tools with
 * fractional weights survives.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "web_internal.h"
#include "common/hashmap.h"
#include "common/strbuf.h"
#include "common/strset.h"
#include "common/log.h"

struct stack_agg {
	struct strset *stacks;
	double *counts;		/* by stack id */
	size_t cap;
	double total;
};

struct stack_agg *stack_agg__new(void)
{
	struct stack_agg *agg = calloc(1, sizeof(*agg));

	if (!agg)
		goto err;
	agg->stacks = strset__new();
	if (!agg->stacks)
		goto err;
	return agg;
err:
	stack_agg__free(agg);
	errno = ENOMEM;
	return NULL;
}

void stack_agg__free(struct stack_agg *agg)
{
	if (!agg)
		return;
	strset__free(agg->stacks);
	free(agg->counts);
	free(agg);
}

int stack_agg__add(struct stack_agg *agg, const char *stack, size_t len, double count)
{
	int id;

	if (!len || !isfinite(count) || count <= 0)
		return -EINVAL;
	id = strset__add(agg->stacks, stack, len);
	if (id < 0)
		return id;
	if ((size_t)id >= agg->cap) {
		size_t cap = agg->cap ? agg->cap * 2 : 1024;
		double *n = reallocarray(agg->counts, cap, sizeof(*n));

		if (!n)
			return -ENOMEM;	/* the interned string stays, at count 0 */
		memset(n + agg->cap, 0, (cap - agg->cap) * sizeof(*n));
		agg->counts = n;
		agg->cap = cap;
	}
	agg->counts[id] += count;
	agg->total += count;
	return 0;
}

double stack_agg__total(const struct stack_agg *agg)
{
	return agg->total;
}

size_t stack_agg__nr_stacks(const struct stack_agg *agg)
{
	return strset__count(agg->stacks);
}

bool stack_agg__get(const struct stack_agg *agg, size_t idx, const char **stack, double *count)
{
	if (idx >= strset__count(agg->stacks))
		return false;
	*stack = strset__str(agg->stacks, idx);
	*count = idx < agg->cap ? agg->counts[idx] : 0;
	return true;
}

int folded__add_frame(struct strbuf *sb, const char *name, const char *suffix)
{
	size_t start;
	char *p;
	int err;

	if (sb->len && (err = strbuf__addch(sb, ';')))
		return err;
	start = sb->len;
	err = strbuf__adds(sb, name);
	if (!err && suffix)
		err = strbuf__adds(sb, suffix);
	if (err)
		return err;
	for (p = sb->buf + start; *p; p++) {
		if (*p == ';')
			*p = ':';
		else if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	return 0;
}

bool folded__parse_line(char *line, size_t len, size_t *stack_len, double *count,
			const char **why)
{
	char *sp = memrchr(line, ' ', len), *num, *end;
	size_t numlen, i;

	if (!sp) {
		*why = "no count after the stack";
		return false;
	}
	num = sp + 1;
	numlen = line + len - num;
	for (i = 0; i < numlen && i < 16 && num[i] >= '0' && num[i] <= '9'; i++)
		;
	if (i == numlen && numlen && numlen < 16) {
		/* the common case, a plain integer, without strtod() */
		uint64_t v = 0;

		for (i = 0; i < numlen; i++)
			v = v * 10 + (num[i] - '0');
		*count = v;
	} else {
		line[len] = '\0';
		*count = strtod(num, &end);
		if (end == num || *end) {
			*why = "the count is not a number";
			return false;
		}
		if (!isfinite(*count) || *count < 0) {
			*why = "the count is negative or not finite";
			return false;
		}
	}
	while (sp > line && sp[-1] == ' ')
		sp--;
	if (sp == line) {
		*why = "empty stack";
		return false;
	}
	*stack_len = sp - line;
	return true;
}

struct folded_reader {
	const char *name;
	size_t lineno;
	size_t *bad;
	folded_line_fn fn;
	void *ctx;
	/* a part of a mapped file (folded__read_parts): lines before it, counted when needed */
	const char *map;
	size_t from;
	bool base_known;
};

/* One line of folded input; a malformed line is reported and counted. */
static int folded_line(void *arg, char *line, size_t len)
{
	struct folded_reader *r = arg;
	const char *why = NULL;
	size_t stack_len;
	double count;

	r->lineno++;
	if (len && line[len - 1] == '\r')
		len--;
	if (!len || line[0] == '#')
		return 0;
	if (memchr(line, '\0', len))
		why = "NUL byte in line";
	else if (folded__parse_line(line, len, &stack_len, &count, &why))
		return count == 0 ? 0 : r->fn(r->ctx, line, stack_len, count);
	(*r->bad)++;
	if (*r->bad <= 10) {
		if (r->map && !r->base_known) {
			const char *p = r->map, *end = r->map + r->from;

			while ((p = memchr(p, '\n', end - p))) {
				r->lineno++;
				p++;
			}
			r->base_known = true;
		}
		pr_warn("%s:%zu: malformed folded line skipped: %s", r->name, r->lineno, why);
	}
	return 0;
}

#define READ_CHUNK (4u << 20)

#define MAP_RELEASE (64u << 20)
#define PROGRESS_EVERY (64u << 20)

static read_progress_fn progress_fn;

void web__set_read_progress(read_progress_fn fn)
{
	progress_fn = fn;
}

static void report_progress(size_t done, size_t total, size_t *last)
{
	if (progress_fn && done - *last >= PROGRESS_EVERY) {
		progress_fn(done, total);
		*last = done;
	}
}

/*
 * A regular file is mapped instead of read, which saves copying it; pages
 * already parsed are dropped as we go, so memory stays flat however large
 * the file. Returns 1 when @f is not a mappable file (read it instead).
 */
static int lines__map(FILE *f, int (*fn)(void *ctx, char *line, size_t len), void *ctx)
{
	size_t len, pos, done = 0, pg = sysconf(_SC_PAGESIZE), reported = 0;
	off_t off = ftello(f);
	char *map, *tail = NULL;
	struct stat st;
	int err = 0;

	if (off < 0 || fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || st.st_size <= off)
		return 1;
	len = st.st_size;
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fileno(f), 0);
	if (map == MAP_FAILED)
		return 1;
	madvise(map, len, MADV_SEQUENTIAL);
	for (pos = off; pos < len && !err;) {
		char *nl = memchr(map + pos, '\n', len - pos);

		if (nl) {
			err = fn(ctx, map + pos, nl - (map + pos));
			pos = nl - map + 1;
		} else {
			/* the last line has no newline and no room for a NUL: copy it */
			tail = malloc(len - pos + 1);
			if (!tail) {
				err = -ENOMEM;
				break;
			}
			memcpy(tail, map + pos, len - pos);
			err = fn(ctx, tail, len - pos);
			pos = len;
		}
		if (pos - done >= MAP_RELEASE) {
			size_t upto = pos / pg * pg;

			madvise(map + done, upto - done, MADV_DONTNEED);
			done = upto;
			report_progress(pos, len, &reported);
		}
	}
	free(tail);
	munmap(map, len);
	/* leave the stream where a read would have left it */
	fseeko(f, 0, SEEK_END);
	return err;
}

int lines__read(FILE *f, int (*fn)(void *ctx, char *line, size_t len), void *ctx)
{
	size_t cap = READ_CHUNK, have = 0, total = 0, reported = 0;
	char *buf = malloc(cap + 1), *p, *end, *nl;
	bool eof = false;
	int err = lines__map(f, fn, ctx);

	if (err != 1) {
		free(buf);
		return err;
	}
	err = 0;
	if (!buf)
		return -ENOMEM;
	while (!eof && !err) {
		size_t n = fread(buf + have, 1, cap - have, f);

		if (!n) {
			if (ferror(f))
				err = -EIO;
			eof = true;
		}
		have += n;
		total += n;
		report_progress(total, 0, &reported);
		p = buf;
		end = buf + have;
		while (!err && p < end) {
			nl = memchr(p, '\n', end - p);
			if (!nl && !eof)
				break;
			if (!nl)
				nl = end;	/* last line, no newline: buf has room for the NUL */
			err = fn(ctx, p, nl - p);
			p = nl + 1;
		}
		if (p > end)
			p = end;
		have = end - p;
		memmove(buf, p, have);
		if (have == cap) {
			/* a line longer than the buffer */
			char *nb = realloc(buf, cap * 2 + 1);

			if (!nb) {
				err = -ENOMEM;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	free(buf);
	return err;
}

int folded__read(FILE *f, const char *name, folded_line_fn fn, void *ctx, size_t *bad)
{
	struct folded_reader r = { .name = name, .bad = bad, .fn = fn, .ctx = ctx };
	int err;

	*bad = 0;
	err = lines__read(f, folded_line, &r);
	if (*bad > 10)
		pr_warn("%s: %zu malformed lines skipped in all", name, *bad);
	return err;
}

/* ---- a mapped file read in parts, one thread each ---- */

#define PARTS_MIN (32u << 20)	/* smaller files are read by one thread */
#define PARTS_MAX 16

struct part {
	char *map;
	size_t from, to, len;	/* [from, to) of the @len mapped bytes */
	struct folded_reader r;
	size_t bad;
	bool report;		/* the part that reports progress */
	int err;
};

/* The lines of one part; pages parsed are dropped as in lines__map(). */
static void *part_read(void *arg)
{
	struct part *p = arg;
	size_t pos = p->from, done, pg = sysconf(_SC_PAGESIZE), reported = 0;
	char *tail = NULL;

	done = p->from / pg * pg;
	while (pos < p->to && !p->err) {
		char *nl = memchr(p->map + pos, '\n', p->to - pos);

		if (nl) {
			p->err = folded_line(&p->r, p->map + pos, nl - (p->map + pos));
			pos = nl - p->map + 1;
		} else {
			/* the file's last line, without a newline */
			tail = malloc(p->to - pos + 1);
			if (!tail) {
				p->err = -ENOMEM;
				break;
			}
			memcpy(tail, p->map + pos, p->to - pos);
			p->err = folded_line(&p->r, tail, p->to - pos);
			pos = p->to;
		}
		if (pos - done >= MAP_RELEASE) {
			size_t upto = pos / pg * pg;

			madvise(p->map + done, upto - done, MADV_DONTNEED);
			done = upto;
			/* the parts advance together: this one stands for all */
			if (p->report)
				report_progress((pos - p->from) * (p->len / (p->to - p->from)), p->len,
						&reported);
		}
	}
	free(tail);
	return NULL;
}

int folded__read_parts(FILE *f, const char *name, size_t nr, folded_line_fn fn, void *const *ctxs,
		       size_t *bad)
{
	struct part parts[PARTS_MAX] = {};
	pthread_t threads[PARTS_MAX];
	bool started[PARTS_MAX] = {};
	size_t len, i, at = 0;
	off_t off = ftello(f);
	struct stat st;
	char *map;
	int err = 0;

	if (nr < 2 || nr > PARTS_MAX || off != 0 || fstat(fileno(f), &st) ||
	    !S_ISREG(st.st_mode) || (size_t)st.st_size < PARTS_MIN)
		return 1;
	len = st.st_size;
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fileno(f), 0);
	if (map == MAP_FAILED)
		return 1;
	madvise(map, len, MADV_SEQUENTIAL);
	/* equal parts, each ending after a newline (the last at the end of the file) */
	for (i = 0; i < nr; i++) {
		size_t to = i + 1 == nr ? len : len / nr * (i + 1);
		char *nl;

		if (to < at)
			to = at;
		nl = to < len ? memchr(map + to, '\n', len - to) : NULL;
		to = i + 1 == nr || !nl ? len : (size_t)(nl - map) + 1;
		parts[i] = (struct part){ .map = map, .from = at, .to = to, .len = len,
					  .report = i == 0 };
		parts[i].r = (struct folded_reader){ .name = name, .bad = &parts[i].bad,
						     .fn = fn, .ctx = ctxs[i], .map = map,
						     .from = at, .base_known = i == 0 };
		at = to;
	}
	for (i = 1; i < nr; i++)
		started[i] = !pthread_create(&threads[i], NULL, part_read, &parts[i]);
	part_read(&parts[0]);
	*bad = parts[0].bad;
	err = parts[0].err;
	for (i = 1; i < nr; i++) {
		if (started[i])
			pthread_join(threads[i], NULL);
		else
			part_read(&parts[i]);	/* no thread: read it here */
		*bad += parts[i].bad;
		err = err ?: parts[i].err;
	}
	munmap(map, len);
	fseeko(f, 0, SEEK_END);
	if (*bad > 10)
		pr_warn("%s: %zu malformed lines skipped in all", name, *bad);
	return err;
}

static int agg_add_line(void *ctx, const char *stack, size_t len, double count)
{
	return stack_agg__add(ctx, stack, len, count);
}

int stack_agg__read_folded(struct stack_agg *agg, FILE *f, const char *name, size_t *bad)
{
	return folded__read(f, name, agg_add_line, agg, bad);
}

/* qsort_r's comparison: folded text is written by several server threads at once */
static int cmp_stack_id(const void *a, const void *b, void *ctx)
{
	const struct strset *set = ctx;

	return strcmp(strset__str(set, *(const int *)a), strset__str(set, *(const int *)b));
}

/* The shortest text that reads back as @v: a count written and read again is the same count. */
static int format_count(char *buf, size_t size, double v)
{
	int n;

	if (v == floor(v) && v < 1e15)
		return snprintf(buf, size, "%.0f", v);
	n = snprintf(buf, size, "%.15g", v);
	if (strtod(buf, NULL) != v)
		n = snprintf(buf, size, "%.17g", v);
	return n;
}

int stack_agg__write_folded(const struct stack_agg *agg, FILE *f)
{
	size_t n = strset__count(agg->stacks), i;
	int *ids = malloc((n ? n : 1) * sizeof(*ids));
	char num[64];

	if (!ids)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		ids[i] = i;
	qsort_r(ids, n, sizeof(*ids), cmp_stack_id, (void *)agg->stacks);
	for (i = 0; i < n; i++) {
		if (!agg->counts[ids[i]])
			continue;
		format_count(num, sizeof(num), agg->counts[ids[i]]);
		if (fprintf(f, "%s %s\n", strset__str(agg->stacks, ids[i]), num) < 0)
			break;
	}
	free(ids);
	return i < n || ferror(f) ? -EIO : 0;
}

/* ---- top functions ---- */

static int cmp_top(const void *a, const void *b)
{
	const struct top_entry *x = a, *y = b;

	if (x->self != y->self)
		return x->self < y->self ? 1 : -1;
	if (x->total != y->total)
		return x->total < y->total ? 1 : -1;
	return strcmp(x->name, y->name);
}

struct top_state {
	struct strset *names;
	struct top_entry *entries;
	size_t cap;
	uint64_t *seen_gen;	/* per name: last stack it was counted in */
};

static int top_frame(struct top_state *st, const char *name, size_t len, double count, bool leaf,
		     uint64_t gen)
{
	int id = strset__add(st->names, name, len);

	if (id < 0)
		return id;
	if ((size_t)id >= st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 1024;
		struct top_entry *e = reallocarray(st->entries, cap, sizeof(*e));
		uint64_t *g;

		if (!e)
			return -ENOMEM;
		st->entries = e;
		g = reallocarray(st->seen_gen, cap, sizeof(*g));
		if (!g)
			return -ENOMEM;
		st->seen_gen = g;
		memset(st->entries + st->cap, 0, (cap - st->cap) * sizeof(*e));
		memset(st->seen_gen + st->cap, 0, (cap - st->cap) * sizeof(*g));
		st->cap = cap;
	}
	if (leaf)
		st->entries[id].self += count;
	if (st->seen_gen[id] != gen) {
		/* recursion: a frame counts once per stack in its total */
		st->seen_gen[id] = gen;
		st->entries[id].total += count;
	}
	return 0;
}

int stack_agg__top(const struct stack_agg *agg, bool skip_root, struct top_entry **out,
		   size_t *nr)
{
	struct top_state st = {};
	size_t i, n;
	int err = 0;

	st.names = strset__new();
	if (!st.names)
		return -ENOMEM;
	for (i = 0; i < strset__count(agg->stacks) && !err; i++) {
		const char *s = strset__str(agg->stacks, i), *p = s, *semi;
		double c = i < agg->cap ? agg->counts[i] : 0;

		if (skip_root) {
			semi = strchr(p, ';');
			if (!semi)
				continue;
			p = semi + 1;
		}
		while (!err) {
			semi = strchr(p, ';');
			err = top_frame(&st, p, semi ? (size_t)(semi - p) : strlen(p), c, !semi,
					i + 1);
			if (!semi)
				break;
			p = semi + 1;
		}
	}
	n = strset__count(st.names);
	if (!err) {
		/* names are interned in st.names; re-point them at stable stack_agg memory */
		for (i = 0; i < n; i++)
			st.entries[i].name = strset__str(st.names, i);
		if (n)
			qsort(st.entries, n, sizeof(*st.entries), cmp_top);
	}
	free(st.seen_gen);
	if (err) {
		strset__free(st.names);
		free(st.entries);
		return err;
	}
	/*
	 * The names must outlive st.names: copy them into one block behind
	 * the entries so a single free() releases everything.
	 */
	{
		size_t bytes = 0, off;
		struct top_entry *res;
		char *strs;

		for (i = 0; i < n; i++)
			bytes += strlen(st.entries[i].name) + 1;
		res = malloc(n * sizeof(*res) + bytes + 1);
		if (!res) {
			strset__free(st.names);
			free(st.entries);
			return -ENOMEM;
		}
		strs = (char *)(res + n);
		for (i = 0, off = 0; i < n; i++) {
			size_t l = strlen(st.entries[i].name) + 1;

			res[i] = st.entries[i];
			memcpy(strs + off, st.entries[i].name, l);
			res[i].name = strs + off;
			off += l;
		}
		*out = res;
		*nr = n;
	}
	strset__free(st.names);
	free(st.entries);
	return 0;
}
