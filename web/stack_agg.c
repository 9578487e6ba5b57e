// SPDX-License-Identifier: GPL-2.0
/*
 * Aggregated stacks, each distinct stack once with a count. Counts are
 * doubles so folded input from other tools with fractional weights survives.
 *
 * A stack is held one of two ways. Folded text (stack_agg__add(), the
 * folded readers) is interned whole. Stacks from a store arrive as frames:
 * each frame's name is interned once (stack_agg__name()) and a stack is an
 * array of name ids (stack_agg__add_names()), so no text is built per stack
 * and no frame name is hashed more than once; top and the flame graph's tree
 * walk the ids, and the folded text is made only when a caller asks for it
 * (stack_agg__get(), stack_agg__write_folded()). An aggregate holds one kind:
 * text added to stacks of names turns them all into text first, names added
 * to text are joined into text.
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
#include "common/array.h"
#include "common/hashmap.h"
#include "common/strbuf.h"
#include "common/strset.h"
#include "common/log.h"

struct stack_agg {
	struct strset *stacks;	/* text: the folded stacks, by stack id */
	double *counts;		/* by stack id */
	size_t cap;
	double total;
	/* stacks of names (by_names): stack_agg__add_names() */
	bool by_names;
	struct strset *names;	/* frame names, by name id */
	int32_t *refs;		/* each stack's name ids, one stack after another */
	size_t nr_refs, cap_refs;
	size_t *off;		/* stack i: refs[off[i] .. off[i + 1]) */
	size_t cap_off;
	uint32_t *hashes;	/* by stack id */
	size_t nr, cap_nr;	/* stacks; room in hashes */
	int32_t *slots;		/* stack ids by hash, open addressing, -1 empty */
	size_t nslots;
	/* their folded text, made once when first asked for (readers may be threads) */
	pthread_mutex_t text_lock;
	bool text_ready;
	char *text;
	size_t *text_off;	/* stack i's NUL-terminated text at text + text_off[i] */
};

struct stack_agg *stack_agg__new(void)
{
	struct stack_agg *agg = calloc(1, sizeof(*agg));

	if (!agg)
		goto err;
	pthread_mutex_init(&agg->text_lock, NULL);
	agg->stacks = strset__new();
	if (!agg->stacks)
		goto err;
	return agg;
err:
	stack_agg__free(agg);
	errno = ENOMEM;
	return NULL;
}

static void drop_text(struct stack_agg *agg)
{
	free(agg->text);
	free(agg->text_off);
	agg->text = NULL;
	agg->text_off = NULL;
	__atomic_store_n(&agg->text_ready, false, __ATOMIC_RELEASE);
}

static void drop_names(struct stack_agg *agg)
{
	drop_text(agg);
	free(agg->refs);
	free(agg->off);
	free(agg->hashes);
	free(agg->slots);
	agg->refs = NULL;
	agg->off = NULL;
	agg->hashes = NULL;
	agg->slots = NULL;
	agg->nr_refs = agg->cap_refs = agg->nr = agg->cap_nr = agg->cap_off = agg->nslots = 0;
	agg->by_names = false;
}

void stack_agg__free(struct stack_agg *agg)
{
	if (!agg)
		return;
	drop_names(agg);
	strset__free(agg->names);
	strset__free(agg->stacks);
	pthread_mutex_destroy(&agg->text_lock);
	free(agg->counts);
	free(agg);
}

/* Room for a count at stack id @id. */
static int grow_counts(struct stack_agg *agg, size_t id)
{
	size_t cap;
	double *n;

	if (id < agg->cap)
		return 0;
	cap = agg->cap ? agg->cap * 2 : 1024;
	while (cap <= id)
		cap *= 2;
	n = reallocarray(agg->counts, cap, sizeof(*n));
	if (!n)
		return -ENOMEM;
	memset(n + agg->cap, 0, (cap - agg->cap) * sizeof(*n));
	agg->counts = n;
	agg->cap = cap;
	return 0;
}

/* The folded text of the stacks of names, in agg->text; 0 or -ENOMEM. */
static int make_text(struct stack_agg *agg)
{
	size_t bytes = 0, i, j, at = 0;
	char *text;
	size_t *offs;

	for (i = 0; i < agg->nr_refs; i++)
		bytes += strset__len(agg->names, agg->refs[i]) + 1;
	text = malloc(bytes + 1);
	offs = malloc((agg->nr + 1) * sizeof(*offs));
	if (!text || !offs) {
		free(text);
		free(offs);
		return -ENOMEM;
	}
	for (i = 0; i < agg->nr; i++) {
		offs[i] = at;
		for (j = agg->off[i]; j < agg->off[i + 1]; j++) {
			size_t len = strset__len(agg->names, agg->refs[j]);

			if (j > agg->off[i])
				text[at++] = ';';
			memcpy(text + at, strset__str(agg->names, agg->refs[j]), len);
			at += len;
		}
		text[at++] = '\0';
	}
	agg->text = text;
	agg->text_off = offs;
	return 0;
}

/* The text of the stacks of names, made once for all readers; 0 or -ENOMEM. */
static int need_text(const struct stack_agg *agg)
{
	/* a cache: the stacks do not change */
	struct stack_agg *a = (struct stack_agg *)agg;
	int err = 0;

	if (__atomic_load_n(&a->text_ready, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&a->text_lock);
	if (!a->text_ready) {
		err = make_text(a);
		if (!err)
			__atomic_store_n(&a->text_ready, true, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&a->text_lock);
	return err;
}

/* Stacks of names become text stacks with the same ids: folded text is one-to-one with them. */
static int names_to_text(struct stack_agg *agg)
{
	size_t i;
	int err = need_text(agg);

	for (i = 0; !err && i < agg->nr; i++) {
		const char *s = agg->text + agg->text_off[i];
		int id = strset__add(agg->stacks, s, strlen(s));

		if (id < 0)
			err = id;
		else if ((size_t)id != i)
			err = -EINVAL;	/* cannot happen: the texts are distinct */
	}
	if (!err)
		drop_names(agg);
	return err;
}

int stack_agg__add(struct stack_agg *agg, const char *stack, size_t len, double count)
{
	int id, err;

	if (!len || !isfinite(count) || count <= 0)
		return -EINVAL;
	if (agg->by_names && (err = names_to_text(agg)))
		return err;
	id = strset__add(agg->stacks, stack, len);
	if (id < 0)
		return id;
	if (grow_counts(agg, id))
		return -ENOMEM;	/* the interned string stays, at count 0 */
	agg->counts[id] += count;
	agg->total += count;
	return 0;
}

int stack_agg__name(struct stack_agg *agg, const char *name, size_t len)
{
	if (memchr(name, ';', len))
		return -EINVAL;
	if (!agg->names && !(agg->names = strset__new()))
		return -ENOMEM;
	return strset__add(agg->names, name, len);
}

/* Stack @id holds the @nr names @ids. */
static bool same_stack(const struct stack_agg *agg, int32_t id, const int32_t *ids, size_t nr)
{
	size_t at = agg->off[id];

	return agg->off[id + 1] - at == nr && !memcmp(agg->refs + at, ids, nr * sizeof(*ids));
}

static int grow_slots(struct stack_agg *agg)
{
	size_t n = agg->nslots ? agg->nslots * 2 : 4096, i, j;
	int32_t *slots;

	if ((agg->nr + 1) * 2 <= agg->nslots)
		return 0;
	slots = malloc(n * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	memset(slots, 0xff, n * sizeof(*slots));
	for (i = 0; i < agg->nr; i++) {
		for (j = agg->hashes[i] & (n - 1); slots[j] >= 0; j = (j + 1) & (n - 1))
			;
		slots[j] = i;
	}
	free(agg->slots);
	agg->slots = slots;
	agg->nslots = n;
	return 0;
}

/* Stacks of names joined into folded text, for an aggregate of text. */
static int add_names_as_text(struct stack_agg *agg, const int32_t *ids, size_t nr, double count)
{
	struct strbuf sb = STRBUF_INIT;
	size_t i;
	int err = 0;

	for (i = 0; i < nr && !err; i++) {
		err = (i ? strbuf__addch(&sb, ';') : 0) ?:
		      strbuf__add(&sb, strset__str(agg->names, ids[i]),
				  strset__len(agg->names, ids[i]));
	}
	err = err ?: stack_agg__add(agg, sb.buf ? sb.buf : "", sb.len, count);
	strbuf__release(&sb);
	return err;
}

int stack_agg__add_names(struct stack_agg *agg, const int32_t *ids, size_t nr, double count)
{
	size_t mask, i;
	uint32_t h;
	int32_t id;

	if (!nr || !isfinite(count) || count <= 0)
		return -EINVAL;
	for (i = 0; i < nr; i++) {
		if (!agg->names || ids[i] < 0 || (size_t)ids[i] >= strset__count(agg->names))
			return -EINVAL;
	}
	if (nr == 1 && !strset__len(agg->names, ids[0]))
		return -EINVAL;	/* empty, as stack_agg__add() of "" */
	if (!agg->by_names && strset__count(agg->stacks))
		return add_names_as_text(agg, ids, nr, count);
	agg->by_names = true;
	if (grow_slots(agg))
		return -ENOMEM;
	h = (uint32_t)mem_hash(ids, nr * sizeof(*ids));
	mask = agg->nslots - 1;
	for (i = h & mask; (id = agg->slots[i]) >= 0; i = (i + 1) & mask) {
		if (agg->hashes[id] == h && same_stack(agg, id, ids, nr))
			goto add;
	}
	if (ARRAY_GROW(agg->refs, agg->cap_refs, agg->nr_refs + nr, 1024) ||
	    ARRAY_GROW(agg->hashes, agg->cap_nr, agg->nr + 1, 1024) ||
	    grow_counts(agg, agg->nr))
		return -ENOMEM;
	if (agg->nr + 2 > agg->cap_off) {
		size_t cap = agg->cap_off ? agg->cap_off * 2 : 1024;
		size_t *n = reallocarray(agg->off, cap, sizeof(*n));

		if (!n)
			return -ENOMEM;
		agg->off = n;
		agg->cap_off = cap;
	}
	id = agg->nr++;
	agg->off[id] = agg->nr_refs;
	memcpy(agg->refs + agg->nr_refs, ids, nr * sizeof(*ids));
	agg->nr_refs += nr;
	agg->off[id + 1] = agg->nr_refs;
	agg->hashes[id] = h;
	agg->slots[i] = id;
	drop_text(agg);
add:
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
	return agg->by_names ? agg->nr : strset__count(agg->stacks);
}

bool stack_agg__get(const struct stack_agg *agg, size_t idx, const char **stack, double *count)
{
	if (idx >= stack_agg__nr_stacks(agg))
		return false;
	if (agg->by_names) {
		if (need_text(agg))
			return false;	/* out of memory: the callers see fewer stacks */
		*stack = agg->text + agg->text_off[idx];
	} else {
		*stack = strset__str(agg->stacks, idx);
	}
	*count = idx < agg->cap ? agg->counts[idx] : 0;
	return true;
}

bool stack_agg__get_names(const struct stack_agg *agg, size_t idx, const int32_t **ids,
			  size_t *nr, double *count)
{
	if (!agg->by_names || idx >= agg->nr)
		return false;
	*ids = agg->refs + agg->off[idx];
	*nr = agg->off[idx + 1] - agg->off[idx];
	*count = agg->counts[idx];
	return true;
}

bool stack_agg__by_names(const struct stack_agg *agg)
{
	return agg->by_names;
}

size_t stack_agg__nr_names(const struct stack_agg *agg)
{
	return agg->names ? strset__count(agg->names) : 0;
}

const char *stack_agg__name_str(const struct stack_agg *agg, int32_t id, size_t *len)
{
	*len = strset__len(agg->names, id);
	return strset__str(agg->names, id);
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

/*
 * The count of a folded line, as flamegraph.pl reads it
 * (/^(.*)\s+?(\d+(?:\.\d*)?)$/): after the line's last space or tab, which
 * is the one separator; spaces before it belong to the last frame. @line is not
 * written to: it may be a file mapping that other threads count lines in.
 */
bool folded__parse_line(const char *line, size_t len, size_t *stack_len, double *count,
			const char **why)
{
	const char *sp = memrchr(line, ' ', len), *tab = memrchr(line, '\t', len), *num;
	char buf[128], *end;
	size_t numlen, i;

	if (tab && (!sp || tab > sp))
		sp = tab;	/* \s: a tab separates as well */
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
		if (!numlen || numlen >= sizeof(buf)) {
			*why = "the count is not a number";
			return false;
		}
		memcpy(buf, num, numlen);
		buf[numlen] = '\0';
		*count = strtod(buf, &end);
		if (end == buf || *end) {
			*why = "the count is not a number";
			return false;
		}
		if (!isfinite(*count) || *count < 0) {
			*why = "the count is negative or not finite";
			return false;
		}
	}
	if (sp == line) {
		*why = "empty stack";
		return false;
	}
	*stack_len = sp - line;
	return true;
}

#define MAX_WARNINGS 10

/* A malformed line kept to report once the parts of a file are read. */
struct folded_warning {
	size_t lineno;		/* within the part, before its base is known */
	const char *why;
};

struct folded_reader {
	const char *name;
	size_t lineno;
	size_t *bad;
	folded_line_fn fn;
	void *ctx;
	bool at_start;		/* the next line is the file's first: a BOM is skipped */
	/* a part of a mapped file (folded__read_parts): warnings wait for the line numbers */
	bool deferred;
	struct folded_warning warn[MAX_WARNINGS];
	size_t nr_warn;
};

/* One line of folded input; a malformed line is reported and counted. */
static int folded_line(void *arg, char *line, size_t len)
{
	struct folded_reader *r = arg;
	const char *why = NULL;
	size_t stack_len, bom;
	double count;

	r->lineno++;
	if (r->at_start) {
		r->at_start = false;
		bom = utf8_bom_len(line, len);
		line += bom;
		len -= bom;
	}
	if (len && line[len - 1] == '\r')
		len--;
	if (!len || line[0] == '#')
		return 0;
	if (memchr(line, '\0', len))
		why = "NUL byte in line";
	else if (folded__parse_line(line, len, &stack_len, &count, &why))
		return count == 0 ? 0 : r->fn(r->ctx, line, stack_len, count);
	(*r->bad)++;
	if (r->deferred) {
		if (r->nr_warn < MAX_WARNINGS)
			r->warn[r->nr_warn++] = (struct folded_warning){ r->lineno, why };
	} else if (*r->bad <= MAX_WARNINGS) {
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

const char *lines__strerror(int err)
{
	if (err == -EFBIG)
		return "a line longer than 256 MB (not text?)";
	return strerror(-err);
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
			char *nb;

			/* a line longer than the buffer */
			if (cap >= LINES_MAX_BYTES) {
				err = -EFBIG;
				break;
			}
			nb = realloc(buf, cap * 2 + 1);
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
	struct folded_reader r = { .name = name, .bad = bad, .fn = fn, .ctx = ctx,
				    .at_start = ftello(f) <= 0 };
	int err;

	*bad = 0;
	err = lines__read(f, folded_line, &r);
	if (*bad > MAX_WARNINGS)
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

/*
 * The first MAX_WARNINGS malformed lines of the parts, in file order: a
 * part's line numbers start after the lines of the parts before it.
 */
static void report_parts(const struct part *parts, size_t nr)
{
	size_t i, j, base = 0, shown = 0;

	for (i = 0; i < nr && shown < MAX_WARNINGS; i++) {
		const struct folded_reader *r = &parts[i].r;

		for (j = 0; j < r->nr_warn && shown < MAX_WARNINGS; j++, shown++)
			pr_warn("%s:%zu: malformed folded line skipped: %s", r->name,
				base + r->warn[j].lineno, r->warn[j].why);
		base += r->lineno;
	}
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
						     .fn = fn, .ctx = ctxs[i], .at_start = i == 0,
						     .deferred = true };
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
	report_parts(parts, nr);
	munmap(map, len);
	fseeko(f, 0, SEEK_END);
	if (*bad > MAX_WARNINGS)
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

/* Stack @i's folded text; for stacks of names after need_text(). */
static const char *stack_text(const struct stack_agg *agg, size_t i)
{
	return agg->by_names ? agg->text + agg->text_off[i] : strset__str(agg->stacks, i);
}

/* qsort_r's comparison: folded text is written by several server threads at once */
static int cmp_stack_id(const void *a, const void *b, void *ctx)
{
	const struct stack_agg *agg = ctx;

	return strcmp(stack_text(agg, *(const int *)a), stack_text(agg, *(const int *)b));
}

int folded__format_count(char *buf, size_t size, double v)
{
	int n;

	/* whole numbers as integers always: flamegraph.pl reads no exponent */
	if (v == floor(v))
		return snprintf(buf, size, "%.0f", v);
	n = snprintf(buf, size, "%.15g", v);
	if (strtod(buf, NULL) != v)
		n = snprintf(buf, size, "%.17g", v);
	return n;
}

int stack_agg__write_folded(const struct stack_agg *agg, FILE *f)
{
	size_t n = stack_agg__nr_stacks(agg), i;
	int *ids = malloc((n ? n : 1) * sizeof(*ids));
	char num[FOLDED_COUNT_MAX];

	if (!ids || (agg->by_names && need_text(agg))) {
		free(ids);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		ids[i] = i;
	qsort_r(ids, n, sizeof(*ids), cmp_stack_id, (void *)agg);
	for (i = 0; i < n; i++) {
		if (!agg->counts[ids[i]])
			continue;
		folded__format_count(num, sizeof(num), agg->counts[ids[i]]);
		if (fprintf(f, "%s %s\n", stack_text(agg, ids[i]), num) < 0)
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

/*
 * @n entries sorted, with their names copied into one block behind them so
 * a single free() releases everything (the names they point to may go).
 */
static int top_result(struct top_entry *entries, size_t n, struct top_entry **out, size_t *nr)
{
	size_t bytes = 0, off, i;
	struct top_entry *res;
	char *strs;

	if (n)
		qsort(entries, n, sizeof(*entries), cmp_top);
	for (i = 0; i < n; i++)
		bytes += strlen(entries[i].name) + 1;
	res = malloc(n * sizeof(*res) + bytes + 1);
	if (!res)
		return -ENOMEM;
	strs = (char *)(res + n);
	for (i = 0, off = 0; i < n; i++) {
		size_t l = strlen(entries[i].name) + 1;

		res[i] = entries[i];
		memcpy(strs + off, entries[i].name, l);
		res[i].name = strs + off;
		off += l;
	}
	*out = res;
	*nr = n;
	return 0;
}

/* Top of stacks of names: the names are interned already, entries go by name id. */
static int top_by_names(const struct stack_agg *agg, bool skip_root, struct top_entry **out,
			size_t *nr)
{
	size_t nn = stack_agg__nr_names(agg), i, j, n = 0;
	struct top_entry *e = calloc(nn ? nn : 1, sizeof(*e));
	/* per name: the last stack it was counted in */
	uint64_t *gen = calloc(nn ? nn : 1, sizeof(*gen));
	int err = -ENOMEM;

	if (!e || !gen)
		goto out;
	for (i = 0; i < agg->nr; i++) {
		size_t from = agg->off[i], to = agg->off[i + 1];
		double c = agg->counts[i];

		if (skip_root && to - from < 2)
			continue;
		for (j = from + skip_root; j < to; j++) {
			int32_t id = agg->refs[j];

			if (j + 1 == to)
				e[id].self += c;
			if (gen[id] != i + 1) {
				/* recursion: a frame counts once per stack in its total */
				gen[id] = i + 1;
				e[id].total += c;
			}
		}
	}
	for (i = 0; i < nn; i++) {
		if (!gen[i])
			continue;
		e[n] = e[i];
		e[n++].name = strset__str(agg->names, i);
	}
	err = top_result(e, n, out, nr);
out:
	free(e);
	free(gen);
	return err;
}

int stack_agg__top(const struct stack_agg *agg, bool skip_root, struct top_entry **out,
		   size_t *nr)
{
	struct top_state st = {};
	size_t i, n;
	int err = 0;

	if (agg->by_names)
		return top_by_names(agg, skip_root, out, nr);
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
	/* names are interned in st.names, which goes after the copy */
	for (i = 0; !err && i < n; i++)
		st.entries[i].name = strset__str(st.names, i);
	if (!err)
		err = top_result(st.entries, n, out, nr);
	free(st.seen_gen);
	strset__free(st.names);
	free(st.entries);
	return err;
}
