// SPDX-License-Identifier: GPL-2.0
/*
 * `perf script` text to folded stacks, giving line for line what
 * FlameGraph's stackcollapse-perf.pl gives for the same input, so existing
 * perf.data files and pipelines carry over. The rules (written from its
 * documented behaviour, not its code):
 *
 * - "#" lines are skipped; an empty line ends a sample, which adds its
 *   weight to "comm;frame;...;leaf" when a header was seen (a sample without
 *   frames counts for "comm" alone); input that ends without an empty line
 *   drops its last sample. The weight is the sample period when the header
 *   prints one (": PERIOD EVENT:" at its end; a period of 0 or none is 1),
 *   as perf report weighs samples; --count-samples makes every sample 1.
 * - A header is a line that starts with a non-space and has "COMM PID " or
 *   "COMM PID/TID " with COMM at least two characters: the shortest COMM
 *   followed by white space, digits, optional "/" and digits, white space.
 *   COMM's spaces become "_"; --pid appends "-PID" and --tid "-PID/TID",
 *   with "?" for a PID the line does not have. When the line ends in
 *   "EVENT:", only samples of the first event seen (or --event-filter) count.
 * - A frame line is "ADDR FUNC (MODULE)": the last " (" that opens a
 *   space-free run holding a ")". FUNC loses a "+0xOFFSET" tail; a FUNC that
 *   starts with "(" is skipped. Perf's inline chains "a->b" become frames
 *   "a;b_[i]". "[unknown]" becomes "[MODULE-basename]" ("[unknown]" without
 *   a module), with " <ADDR>" inside the brackets under --addrs. Names get
 *   ";" turned to ":", lose quotes and everything from the first "(" (unless
 *   it is "(anonymous namespace)" or the name looks like a Go method
 *   "pkg.(*T).M"); for a process name (with --pid/--tid) that starts
 *   with "java", a leading "L" of a name with "/".
 *   --kernel appends "_[k]" to frames of modules "[...]" or "...vmlinux"
 *   (not "[unknown]"), --jit appends "_[j]" to frames of /tmp/perf-PID.map
 *   and of perf inject's jitted-PID-N.so, --all does both.
 * - Output: the distinct stacks sorted bytewise, each with its count.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "web_internal.h"
#include "common/strbuf.h"
#include "common/log.h"

struct stack_ent {
	uint64_t hash;
	char *str;
	size_t len;
	unsigned long long count;
};

/* The frames one frame line gives, joined by ';' ("" for none). */
struct group {
	const char *str;	/* NULL: at off in collapse.names */
	size_t off, len;
};

struct line_ent {
	uint64_t hash;
	char *line;		/* the raw line, then the group's frames */
	uint32_t len, frames_len;
	bool java;
};

#define LINE_CACHE_MAX (256u << 20)	/* bytes of cached lines, then parse every time */

struct collapse {
	const struct perf_script_opts *o;
	const char *name;
	size_t lineno, unrecognized, recognized;
	/* the current sample */
	char pname[512];
	size_t pname_len;
	bool have_pname, is_java;
	unsigned long long period;	/* the weight of the current sample */
	bool weighted;		/* some sample kept weighs its period */
	struct strbuf names;	/* frames of lines not in the line cache */
	struct group *groups;	/* the frames of each frame line, leaf line first */
	size_t nr_groups, groups_cap;
	struct strbuf joined;
	/* frame line -> its frames, for lines seen before */
	struct line_ent *lines;
	size_t lines_cap, lines_nr, lines_mem;
	/* event filter */
	char event[256];
	bool have_event, defaulted, warned;
	/* distinct stacks */
	struct stack_ent *tab;
	size_t tab_cap, tab_nr;
};

static inline bool is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static inline bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline bool is_word(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* ---- distinct stacks ---- */

static int tab_grow(struct collapse *c)
{
	size_t cap = c->tab_cap ? c->tab_cap * 2 : 4096, i;
	struct stack_ent *tab = calloc(cap, sizeof(*tab));

	if (!tab)
		return -ENOMEM;
	for (i = 0; i < c->tab_cap; i++) {
		size_t j;

		if (!c->tab[i].str)
			continue;
		for (j = c->tab[i].hash & (cap - 1); tab[j].str; j = (j + 1) & (cap - 1))
			;
		tab[j] = c->tab[i];
	}
	free(c->tab);
	c->tab = tab;
	c->tab_cap = cap;
	return 0;
}

static int remember(struct collapse *c, const char *s, size_t len, unsigned long long weight)
{
	uint64_t h = mem_hash(s, len);
	size_t i;

	if ((c->tab_nr + 1) * 2 > c->tab_cap && tab_grow(c))
		return -ENOMEM;
	for (i = h & (c->tab_cap - 1); c->tab[i].str; i = (i + 1) & (c->tab_cap - 1)) {
		if (c->tab[i].hash == h && c->tab[i].len == len && !memcmp(c->tab[i].str, s, len)) {
			if (__builtin_add_overflow(c->tab[i].count, weight, &c->tab[i].count))
				c->tab[i].count = ~0ULL;
			return 0;
		}
	}
	c->tab[i].str = malloc(len + 1);
	if (!c->tab[i].str)
		return -ENOMEM;
	memcpy(c->tab[i].str, s, len);
	c->tab[i].str[len] = '\0';
	c->tab[i].hash = h;
	c->tab[i].len = len;
	c->tab[i].count = weight;
	c->tab_nr++;
	return 0;
}

/* ---- one sample ---- */

static void reset_sample(struct collapse *c)
{
	c->nr_groups = 0;
	strbuf__setlen(&c->names, 0);
}

static int end_sample(struct collapse *c)
{
	size_t g;
	int err;

	if (!c->have_pname)
		return 0;
	strbuf__setlen(&c->joined, 0);
	err = strbuf__add(&c->joined, c->pname, c->pname_len);
	/* perf prints the leaf first: frame lines go in reverse */
	for (g = c->nr_groups; g-- > 0 && !err;) {
		const struct group *gr = &c->groups[g];

		err = strbuf__addch(&c->joined, ';');
		if (!err)
			err = strbuf__add(&c->joined, gr->str ? gr->str : c->names.buf + gr->off,
					  gr->len);
	}
	if (!err)
		err = remember(c, c->joined.buf, c->joined.len, c->period);
	reset_sample(c);
	c->have_pname = false;
	return err;
}

/* ---- header lines ---- */

static size_t digits(const char *s, size_t i, size_t len)
{
	while (i < len && is_digit(s[i]))
		i++;
	return i;
}

/*
 * Match "COMM WS PID [/+ [TID]] WS" with the shortest COMM of two or more
 * characters. Returns false when the line is no header.
 */
static bool parse_header(const char *l, size_t len, size_t *comm_end, size_t pid[2], size_t tid[2])
{
	size_t e, i, k, m, q;

	if (!len || is_space(l[0]))
		return false;
	for (e = 2; e < len; e++) {
		if (!is_space(l[e]))
			continue;
		for (i = e; i < len && is_space(l[i]); i++)
			;
		k = digits(l, i, len);
		if (k == i)
			continue;
		for (m = k; m < len && l[m] == '/'; m++)
			;
		q = digits(l, m, len);
		if (q >= len || !is_space(l[q]))
			continue;
		*comm_end = e;
		pid[0] = i, pid[1] = k;
		tid[0] = m, tid[1] = q;
		return true;
	}
	return false;
}

/*
 * The event and period of a header that ends in ": [PERIOD] EVENT:" (white
 * space before EVENT, optional digits, optional white space after the ':').
 * EVENT is the last word with its final ':' dropped; *@period is 0 when the
 * line prints none (or one too big to hold).
 */
static bool header_event(const char *l, size_t len, const char **ev, size_t *ev_len,
			 unsigned long long *period)
{
	size_t end = len, start, i, d;

	*period = 0;
	while (end > 0 && is_space(l[end - 1]))
		end--;
	if (end < 2 || l[end - 1] != ':')
		return false;
	for (start = end - 1; start > 0 && !is_space(l[start - 1]); start--)
		;
	if (start == end - 1 || start == 0)
		return false;
	for (i = start; i > 0 && is_space(l[i - 1]); i--)
		;
	for (d = i; d > 0 && is_digit(l[d - 1]); d--)
		;
	if (d < i) {
		size_t k;

		for (k = d; k < i; k++) {
			if (__builtin_mul_overflow(*period, 10, period) ||
			    __builtin_add_overflow(*period, l[k] - '0', period)) {
				*period = 0;
				break;
			}
		}
		i = d;
		while (i > 0 && is_space(l[i - 1]))
			i--;
	}
	if (i == 0 || l[i - 1] != ':') {
		*period = 0;
		return false;
	}
	*ev = l + start;
	*ev_len = end - 1 - start;
	return true;
}

static int pname_add(struct collapse *c, const char *s, size_t len)
{
	if (c->pname_len + len >= sizeof(c->pname))
		return -E2BIG;
	memcpy(c->pname + c->pname_len, s, len);
	c->pname_len += len;
	return 0;
}

/* 1 when @l is a header line (handled), 0 when it is not one. */
static int header_line(struct collapse *c, const char *l, size_t len)
{
	size_t comm_end, pid[2], tid[2], ev_len, i;
	unsigned long long period;
	const char *ev;
	bool has_tid;

	if (!parse_header(l, len, &comm_end, pid, tid))
		return 0;
	if (header_event(l, len, &ev, &ev_len, &period)) {
		if (!c->have_event) {
			if (ev_len >= sizeof(c->event))
				ev_len = sizeof(c->event) - 1;
			memcpy(c->event, ev, ev_len);
			c->event[ev_len] = '\0';
			c->have_event = c->defaulted = true;
		} else if (strlen(c->event) != ev_len || memcmp(c->event, ev, ev_len)) {
			if (c->defaulted && !c->warned) {
				struct strbuf sb = STRBUF_INIT;

				pr_warn("filtering for events of type: %s", term_escape(&sb, ev, ev_len));
				strbuf__release(&sb);
				c->warned = true;
			}
			return 1;
		}
	}
	/* a TID of "0" is no TID: the number is then the TID, and the PID is unknown */
	has_tid = tid[1] > tid[0] && !(tid[1] - tid[0] == 1 && l[tid[0]] == '0');
	c->pname_len = 0;
	if (pname_add(c, l, comm_end))
		return -E2BIG;
	if (c->o->tid || c->o->pid) {
		if (pname_add(c, "-", 1))
			return -E2BIG;
		if (has_tid ? pname_add(c, l + pid[0], pid[1] - pid[0]) : pname_add(c, "?", 1))
			return -E2BIG;
	}
	if (c->o->tid) {
		if (pname_add(c, "/", 1))
			return -E2BIG;
		if (has_tid ? pname_add(c, l + tid[0], tid[1] - tid[0])
			    : pname_add(c, l + pid[0], pid[1] - pid[0]))
			return -E2BIG;
	}
	for (i = 0; i < c->pname_len; i++) {
		if (c->pname[i] == ' ')
			c->pname[i] = '_';
	}
	c->have_pname = true;
	c->period = period && !c->o->count_samples ? period : 1;
	c->weighted |= period && !c->o->count_samples;
	c->is_java = c->pname_len >= 4 && !memcmp(c->pname, "java", 4);
	return 1;
}

/* ---- frame lines ---- */

/*
 * Split a frame line into ADDR, FUNC and MODULE the way
 * /^\s*(\w+)\s*(.+) \((.*)\)/ does, backtracking included: MODULE runs
 * from the rightmost " (" before the line's last ')' to that ')', so a
 * path with spaces in it stays whole (stackcollapse-perf.pl since its
 * "Handle spaces in file paths" change).
 */
static bool parse_frame(const char *l, size_t len, size_t pc[2], size_t fn[2], size_t mod[2])
{
	const char *close = memrchr(l, ')', len), *p;
	size_t a, w, ws, f = 0, q;
	bool found = false;

	for (a = 0; a < len && is_space(l[a]); a++)
		;
	for (w = a; w < len && is_word(l[w]); w++)
		;
	if (w == a || !close)
		return false;
	for (ws = w; ws < len && is_space(l[ws]); ws++)
		;
	/* the rightmost " (" before the last ')', at least two bytes after ADDR starts */
	for (q = close - l; q > a + 2;) {
		p = memrchr(l + a + 2, '(', q - (a + 2));
		if (!p)
			break;
		q = p - l;
		if (l[q - 1] == ' ') {
			f = q - 1;
			found = true;
			break;
		}
	}
	if (!found)
		return false;
	pc[0] = a;
	if (f >= ws + 1) {
		pc[1] = w, fn[0] = ws;
	} else if (f >= w + 1) {
		pc[1] = w, fn[0] = f - 1;
	} else {
		pc[1] = f - 1, fn[0] = f - 1;
	}
	fn[1] = f;
	mod[0] = f + 2;
	mod[1] = close - l;
	return true;
}

static const char *find2(const char *s, size_t len, char a, char b)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		if (s[i] == a && s[i + 1] == b)
			return s + i;
	}
	return NULL;
}

static bool contains(const char *s, size_t len, const char *needle)
{
	return memmem(s, len, needle, strlen(needle)) != NULL;
}

static bool is_go_method(const char *s, size_t len)
{
	const char *go = find2(s, len, '.', '('), *p;

	if (!go)
		return false;
	/* the last ")." must start after the first ".(" */
	for (p = memrchr(s, ')', len); p; p = memrchr(s, ')', p - s)) {
		if (p + 1 < s + len && p[1] == '.')
			return p >= go + 2;
	}
	return false;
}

/* The name clean-up for one frame name, in place in c->names from @start. */
static void tidy(struct collapse *c, size_t start)
{
	static const char anon[] = "anonymous namespace)";
	char *s = c->names.buf + start, *p;
	size_t len = c->names.len - start, i, o;

	for (i = 0; i < len; i++) {
		if (s[i] == ';')
			s[i] = ':';
	}
	/* a Go method such as net/http.(*Client).Do keeps its parentheses */
	if (!is_go_method(s, len)) {
		for (p = s; (p = memchr(p, '(', s + len - p)); p++) {
			if ((size_t)(s + len - p - 1) >= sizeof(anon) - 1 &&
			    !memcmp(p + 1, anon, sizeof(anon) - 1))
				continue;
			len = p - s;
			break;
		}
	}
	for (i = o = 0; i < len; i++) {
		if (s[i] != '"' && s[i] != '\'')
			s[o++] = s[i];
	}
	strbuf__setlen(&c->names, start + o);
}

/* "[...]" or "...vmlinux", but not "[unknown]" and the like. */
static bool is_kernel_module(const char *m, size_t mlen)
{
	return mlen && (m[0] == '[' || (mlen >= 7 && !memcmp(m + mlen - 7, "vmlinux", 7))) &&
	       !contains(m, mlen, "unknown");
}

/* After @p: digits, then @sep (NUL-terminated); the end of the match or NULL. */
static const char *digits_then(const char *p, const char *end, const char *sep)
{
	const char *d = p;
	size_t n = strlen(sep);

	while (p < end && is_digit(*p))
		p++;
	if (p == d || (size_t)(end - p) < n || memcmp(p, sep, n))
		return NULL;
	return p + n;
}

/* "/tmp/perf-PID.map" (perf map) or "/jitted-PID-N.so" (perf inject) anywhere in @m. */
static bool is_jit_module(const char *m, size_t mlen)
{
	const char *end = m + mlen, *p, *q;

	for (p = m; (p = memmem(p, end - p, "/tmp/perf-", 10)); p++) {
		if (digits_then(p + 10, end, ".map"))
			return true;
	}
	for (p = m; (p = memmem(p, end - p, "/jitted-", 8)); p++) {
		q = digits_then(p + 8, end, "-");
		if (q && digits_then(q, end, ".so"))
			return true;
	}
	return false;
}

/* Add one field of FUNC (split at "->") as a frame. */
static int add_frame(struct collapse *c, const char *l, const char *func, size_t flen,
		     const size_t pc[2], const size_t mod[2], bool inlined)
{
	const char *m = l + mod[0];
	size_t mlen = mod[1] - mod[0], start;
	int err = 0;

	if (inlined && (err = strbuf__addch(&c->names, ';')))
		return err;
	start = c->names.len;
	if (flen == 9 && !memcmp(func, "[unknown]", 9)) {
		const char *base = "unknown", *slash;
		size_t blen = 7;

		if (!(mlen == 9 && !memcmp(m, "[unknown]", 9))) {
			slash = memrchr(m, '/', mlen);
			base = slash ? slash + 1 : m;
			blen = m + mlen - base;
		}
		err = strbuf__addch(&c->names, '[');
		if (!err)
			err = strbuf__add(&c->names, base, blen);
		if (!err && c->o->addrs)
			err = strbuf__addf(&c->names, " <%.*s>", (int)(pc[1] - pc[0]), l + pc[0]);
		if (!err)
			err = strbuf__addch(&c->names, ']');
	} else {
		err = strbuf__add(&c->names, func, flen);
	}
	if (err)
		return err;
	if (memchr(c->names.buf + start, ';', c->names.len - start) ||
	    memchr(c->names.buf + start, '(', c->names.len - start) ||
	    memchr(c->names.buf + start, '"', c->names.len - start) ||
	    memchr(c->names.buf + start, '\'', c->names.len - start))
		tidy(c, start);
	if (c->is_java && c->names.len > start && c->names.buf[start] == 'L' &&
	    memchr(c->names.buf + start, '/', c->names.len - start)) {
		memmove(c->names.buf + start, c->names.buf + start + 1, c->names.len - start - 1);
		strbuf__setlen(&c->names, c->names.len - 1);
	}
	if (inlined)
		err = strbuf__adds(&c->names, "_[i]");
	else if (c->o->kernel && is_kernel_module(m, mlen))
		err = strbuf__adds(&c->names, "_[k]");
	else if (c->o->jit && is_jit_module(m, mlen))
		err = strbuf__adds(&c->names, "_[j]");
	return err;
}

static int line_cache_grow(struct collapse *c)
{
	size_t cap = c->lines_cap ? c->lines_cap * 2 : 4096, i, j;
	struct line_ent *tab = calloc(cap, sizeof(*tab));

	if (!tab)
		return -ENOMEM;
	for (i = 0; i < c->lines_cap; i++) {
		if (!c->lines[i].line)
			continue;
		for (j = c->lines[i].hash & (cap - 1); tab[j].line; j = (j + 1) & (cap - 1))
			;
		tab[j] = c->lines[i];
	}
	free(c->lines);
	c->lines = tab;
	c->lines_cap = cap;
	return 0;
}

/* The cache slot of line @l: its entry, or the empty slot where it goes. */
static struct line_ent *line_cache_slot(struct collapse *c, const char *l, size_t len, uint64_t h)
{
	size_t i, mask = c->lines_cap - 1;

	for (i = h & mask; c->lines[i].line; i = (i + 1) & mask) {
		struct line_ent *e = &c->lines[i];

		if (e->hash == h && e->len == len && e->java == c->is_java && !memcmp(e->line, l, len))
			return e;
	}
	return &c->lines[i];
}

static int push_group(struct collapse *c, const char *str, size_t off, size_t len)
{
	if (!len)
		return 0;
	if (c->nr_groups == c->groups_cap) {
		size_t cap = c->groups_cap ? c->groups_cap * 2 : 256;
		struct group *g = reallocarray(c->groups, cap, sizeof(*g));

		if (!g)
			return -ENOMEM;
		c->groups = g;
		c->groups_cap = cap;
	}
	c->groups[c->nr_groups++] = (struct group){ .str = str, .off = off, .len = len };
	return 0;
}

/* Append the frames of one frame line to c->names. 0 when @l is no frame line. */
static int frame_line_parse(struct collapse *c, const char *l, size_t len)
{
	size_t pc[2], fn[2], mod[2], flen, x;
	const char *func, *arrow, *end;
	int err = 0, nfields = 0;

	if (!parse_frame(l, len, pc, fn, mod))
		return 0;
	if (!c->have_pname)
		return 1;
	func = l + fn[0];
	flen = fn[1] - fn[0];
	/* drop a trailing +0xOFFSET (lower-case hex) */
	for (x = flen; x > 0 && (is_digit(func[x - 1]) || (func[x - 1] >= 'a' && func[x - 1] <= 'f')); x--)
		;
	if (x < flen && x >= 3 && !memcmp(func + x - 3, "+0x", 3))
		flen = x - 3;
	if (flen && func[0] == '(')
		return 1;
	/* split at "->"; like perl's split, trailing empty fields are dropped */
	end = func + flen;
	while (end - func >= 2 && end[-1] == '>' && end[-2] == '-')
		end -= 2;
	while (!err && end > func) {
		arrow = find2(func, end - func, '-', '>');
		err = add_frame(c, l, func, arrow ? (size_t)(arrow - func) : (size_t)(end - func),
				pc, mod, nfields++ > 0);
		if (!arrow)
			break;
		func = arrow + 2;
	}
	return err ? err : 1;
}

/*
 * A frame line. The same lines come back in sample after sample, so the
 * frames of each line that starts with white space (it cannot be a header)
 * are cached by the whole line.
 */
static int frame_line(struct collapse *c, const char *l, size_t len)
{
	size_t start = c->names.len;
	struct line_ent *e = NULL;
	uint64_t h = 0;
	int ret;

	if (!c->have_pname)
		return frame_line_parse(c, l, len);
	if (is_space(l[0]) && len < 65536 && c->lines_mem < LINE_CACHE_MAX) {
		if ((c->lines_nr + 1) * 2 > c->lines_cap && line_cache_grow(c))
			return -ENOMEM;
		h = mem_hash(l, len);
		e = line_cache_slot(c, l, len, h);
		if (e->line)
			return push_group(c, e->line + e->len, 0, e->frames_len) ?: 1;
	}
	ret = frame_line_parse(c, l, len);
	if (ret <= 0)
		return ret;
	if (e) {
		size_t flen = c->names.len - start;

		e->line = malloc(len + flen + 1);
		if (!e->line)
			return -ENOMEM;
		memcpy(e->line, l, len);
		if (flen)
			memcpy(e->line + len, c->names.buf + start, flen);
		e->line[len + flen] = '\0';
		e->hash = h;
		e->len = len;
		e->frames_len = flen;
		e->java = c->is_java;
		c->lines_nr++;
		c->lines_mem += len + flen + 1 + sizeof(*e);
		strbuf__setlen(&c->names, start);
		return push_group(c, e->line + len, 0, flen) ?: 1;
	}
	return push_group(c, NULL, start, c->names.len - start) ?: 1;
}

static int perf_line(void *ctx, char *l, size_t len)
{
	struct collapse *c = ctx;
	int ret;

	if (++c->lineno == 1) {
		size_t bom = utf8_bom_len(l, len);

		l += bom;
		len -= bom;
	}
	/* a file that went through an editor or a share with CRLF line ends */
	if (len && l[len - 1] == '\r')
		len--;
	if (len && l[0] == '#')
		return 0;
	if (!len)
		return end_sample(c);
	ret = header_line(c, l, len);
	if (!ret)
		ret = frame_line(c, l, len);
	if (ret < 0) {
		if (ret == -E2BIG) {
			pr_warn("%s:%zu: process name too long, line skipped", c->name, c->lineno);
			return 0;
		}
		return ret;
	}
	if (ret > 0)
		c->recognized++;
	if (!ret && ++c->unrecognized <= 10) {
		struct strbuf sb = STRBUF_INIT;

		pr_warn("%s:%zu: unrecognized line: %s", c->name, c->lineno,
			term_escape(&sb, l, len > 200 ? 200 : len));
		strbuf__release(&sb);
	}
	return 0;
}

static int cmp_ent(const void *a, const void *b)
{
	const struct stack_ent *x = a, *y = b;
	int r = memcmp(x->str, y->str, x->len < y->len ? x->len : y->len);

	return r ? r : (x->len > y->len) - (x->len < y->len);
}

/* Events whose period is time in nanoseconds. */
static bool is_time_event(const char *ev)
{
	static const char *const time_events[] = { "cpu-clock", "task-clock" };
	size_t i, n;

	for (i = 0; i < sizeof(time_events) / sizeof(time_events[0]); i++) {
		n = strlen(time_events[i]);
		if (!strncmp(ev, time_events[i], n) && (!ev[n] || ev[n] == ':'))
			return true;
	}
	return false;
}

int perf_script__collapse(FILE *in, const char *name, const struct perf_script_opts *opts,
			  folded_line_fn fn, void *ctx, struct perf_script_info *info)
{
	struct collapse c = { .o = opts, .name = name, .names = STRBUF_INIT, .joined = STRBUF_INIT };
	size_t i, n = 0;
	int err;

	if (opts->event_filter && *opts->event_filter) {
		snprintf(c.event, sizeof(c.event), "%s", opts->event_filter);
		c.have_event = true;
	}
	err = lines__read(in, perf_line, &c);
	if (!err && c.unrecognized > 10)
		pr_warn("%s: %zu unrecognized lines in all", name, c.unrecognized);
	if (info) {
		*info = (struct perf_script_info){
			.unit = !c.weighted ? PERF_SCRIPT_SAMPLES :
				is_time_event(c.event) ? PERF_SCRIPT_NS : PERF_SCRIPT_EVENTS,
		};
		snprintf(info->event, sizeof(info->event), "%s", c.event);
	}
	if (!err && c.unrecognized && !c.recognized) {
		pr_warn("'%s' is not perf script output: none of its lines is a sample header or a frame",
			name);
		err = -EBADMSG;
	}
	/* compact the table, then hand the stacks out in byte order */
	for (i = 0; i < c.tab_cap; i++) {
		if (c.tab[i].str)
			c.tab[n++] = c.tab[i];
	}
	if (!err && n)
		qsort(c.tab, n, sizeof(*c.tab), cmp_ent);
	for (i = 0; i < n && !err; i++)
		err = fn(ctx, c.tab[i].str, c.tab[i].len, c.tab[i].count);
	for (i = 0; i < n; i++)
		free(c.tab[i].str);
	free(c.tab);
	for (i = 0; i < c.lines_cap; i++)
		free(c.lines[i].line);
	free(c.lines);
	free(c.groups);
	strbuf__release(&c.names);
	strbuf__release(&c.joined);
	return err;
}
