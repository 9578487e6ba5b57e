// SPDX-License-Identifier: GPL-2.0
/*
 * Export profiles to the formats other viewers read, from a store's frames
 * (binary, build id, file offset, source line; process, pid and host) or
 * from folded stacks (names and kinds only):
 * - pprof: a gzip-compressed perftools.profiles.Profile, encoded with
 *   protobuf-c code generated at build time from pprof's own profile.proto.
 *   A mapping per binary (file name, build id) with a range of addresses of
 *   its own, in which a location's address less the start is the file
 *   offset; kernel frames in one "[kernel.kallsyms]" mapping at their own
 *   addresses. One location per frame and the frames inlined into it, their
 *   lines (function, line number) innermost first as pprof models inlining;
 *   one function per (name without the folded suffix, file, start line).
 *   Labels "process", "pid" and "host". One sample per distinct stack and
 *   process, with samples/count and, when the period is known,
 *   cpu/nanoseconds (the period type and period as Go's CPU profiles have
 *   them).
 * - speedscope: the "sampled" profile of speedscope's file format, written
 *   with jansson; weights in nanoseconds when the period is known, frames
 *   named without the folded suffixes, with their file and line.
 * Folded stacks carry no binaries, addresses, files or lines: their
 * locations have no mapping and address 0, their functions no file.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <zlib.h>

#include "profile.pb-c.h"
#include "web_internal.h"
#include "common/array.h"
#include "common/strbuf.h"
#include "common/strset.h"
#include "common/log.h"

/* ---- pprof ---- */

static int gzip_into(struct strbuf *out, const uint8_t *data, size_t len)
{
	z_stream zs = {};
	int err, zret;

	/* windowBits 15 + 16: a gzip header and trailer around the deflate stream */
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	err = strbuf__grow(out, deflateBound(&zs, len) + 64);
	if (!err) {
		zs.next_in = (uint8_t *)data;
		zs.avail_in = len;
		zs.next_out = (uint8_t *)out->buf + out->len;
		zs.avail_out = out->alloc - out->len - 1;
		zret = deflate(&zs, Z_FINISH);
		if (zret != Z_STREAM_END) {
			pr_warn("gzip failed: %s", zs.msg ? zs.msg : "output buffer too small");
			err = -EIO;
		} else {
			out->len += zs.total_out;
			out->buf[out->len] = '\0';
		}
	}
	deflateEnd(&zs);
	return err;
}

/* ---- frame kinds: the folded format's suffixes ---- */

enum frame_kind { FK_PLAIN, FK_INLINED, FK_KERNEL, FK_JIT, FK_PYTHON };

/* The kind of folded frame @s (@len bytes) and the length of its name without the suffix. */
static enum frame_kind frame_kind(const char *s, size_t len, size_t *name_len)
{
	*name_len = len;
	if (len <= 4 || s[len - 4] != '_' || s[len - 3] != '[' || s[len - 1] != ']')
		return FK_PLAIN;
	*name_len = len - 4;
	switch (s[len - 2]) {
	case 'i':
		return FK_INLINED;
	case 'k':
		return FK_KERNEL;
	case 'j':
		return FK_JIT;
	case 'p':
		return FK_PYTHON;
	default:
		*name_len = len;
		return FK_PLAIN;
	}
}

/* The time one count stands for, or 0 when the counts are plain samples. */
static double ns_per_count(const struct export_opts *o)
{
	if (o->counts_are_ns)
		return 1;
	return o->period_ns > 0 ? o->period_ns : 0;
}

/* ---- the profile: interned frames, stacks of them, samples ---- */

enum { XF_KERNEL = 1, XF_INLINED = 2, XF_JIT = 4, XF_PYTHON = 8, XF_UNRESOLVED = 16 };

/* A frame; interned by its bytes, so it is zeroed (padding too) before it is filled. */
struct xframe {
	int name, module, build_id, file;	/* ids in strs */
	uint64_t addr;
	int line, start_line;
	unsigned int kind;			/* XF_* */
};

struct xsample {
	int comm, host;		/* ids in strs, -1 when unknown */
	unsigned int pid;	/* 0 when unknown */
	int stack;		/* id in stacks */
	double count;
};

struct export_profile {
	struct strset *strs;
	struct strset *frame_keys;	/* struct xframe bytes; id = index in frames */
	struct xframe *frames;
	size_t cap_frames;
	struct strset *stacks;		/* uint32_t frame ids, root first */
	struct xsample *samples;
	size_t nr_samples, cap_samples;
	uint32_t *buf;
	size_t cap_buf;
};

struct export_profile *export_profile__new(void)
{
	struct export_profile *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->strs = strset__new();
	p->frame_keys = strset__new();
	p->stacks = strset__new();
	if (!p->strs || !p->frame_keys || !p->stacks) {
		export_profile__free(p);
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

void export_profile__free(struct export_profile *p)
{
	if (!p)
		return;
	strset__free(p->strs);
	strset__free(p->frame_keys);
	strset__free(p->stacks);
	free(p->frames);
	free(p->samples);
	free(p->buf);
	free(p);
}

static int xstr(struct export_profile *p, const char *s, size_t len)
{
	return strset__add(p->strs, s ? s : "", s ? len : 0);
}

static const char *pstr(const struct export_profile *p, int id)
{
	return strset__str(p->strs, id);
}

/* Frame id of @x, added when new. */
static int xframe_id(struct export_profile *p, const struct xframe *x)
{
	size_t before = strset__count(p->frame_keys);
	int id;

	if (ARRAY_GROW(p->frames, p->cap_frames, before + 1, 1024))
		return -ENOMEM;
	id = strset__add(p->frame_keys, (const char *)x, sizeof(*x));
	if (id >= 0 && (size_t)id == before)
		p->frames[id] = *x;
	return id;
}

/* One sample of the @nr frame ids in p->buf. */
static int add_stack(struct export_profile *p, int comm, int host, unsigned int pid, int nr,
		     double count)
{
	struct xsample *smp;
	int stack;

	/* a stack of no frames still has a buffer: strset__add() takes no NULL */
	if (ARRAY_GROW(p->buf, p->cap_buf, (size_t)nr + 1, 256))
		return -ENOMEM;
	stack = strset__add(p->stacks, (const char *)p->buf, nr * sizeof(*p->buf));
	if (stack < 0 || ARRAY_GROW(p->samples, p->cap_samples, p->nr_samples + 1, 1024))
		return -ENOMEM;
	smp = &p->samples[p->nr_samples++];
	smp->comm = comm;
	smp->host = host;
	smp->pid = pid;
	smp->stack = stack;
	smp->count = count;
	return 0;
}

int export_profile__add(struct export_profile *p, const struct export_key *key,
			const struct export_frame *frames, int nr, double count)
{
	int i, id, comm = -1, host = -1;

	if (ARRAY_GROW(p->buf, p->cap_buf, (size_t)nr + 1, 256))
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		const struct export_frame *f = &frames[i];
		struct xframe x;

		memset(&x, 0, sizeof(x));
		x.name = xstr(p, f->name, f->name ? strlen(f->name) : 0);
		x.module = xstr(p, f->module, f->module ? strlen(f->module) : 0);
		x.build_id = xstr(p, f->build_id, f->build_id ? strlen(f->build_id) : 0);
		x.file = xstr(p, f->file, f->file ? strlen(f->file) : 0);
		if (x.name < 0 || x.module < 0 || x.build_id < 0 || x.file < 0)
			return -ENOMEM;
		x.addr = f->addr;
		x.line = f->line;
		x.start_line = f->start_line;
		x.kind = (f->kernel ? XF_KERNEL : 0) | (f->inlined ? XF_INLINED : 0) |
			 (f->jit ? XF_JIT : 0) | (f->python ? XF_PYTHON : 0) |
			 (f->unresolved ? XF_UNRESOLVED : 0);
		id = xframe_id(p, &x);
		if (id < 0)
			return id;
		p->buf[i] = id;
	}
	if (key && key->comm && (comm = xstr(p, key->comm, strlen(key->comm))) < 0)
		return -ENOMEM;
	if (key && key->host && (host = xstr(p, key->host, strlen(key->host))) < 0)
		return -ENOMEM;
	return add_stack(p, comm, host, key ? key->pid : 0, nr, count);
}

/* The frame of folded frame @s (@len bytes): its kind from the suffix. */
static int folded_frame(struct export_profile *p, const char *s, size_t len)
{
	static const unsigned int kinds[] = {
		[FK_PLAIN] = 0, [FK_INLINED] = XF_INLINED, [FK_KERNEL] = XF_KERNEL,
		[FK_JIT] = XF_JIT, [FK_PYTHON] = XF_PYTHON,
	};
	struct xframe x;
	size_t name_len;

	memset(&x, 0, sizeof(x));
	x.kind = kinds[frame_kind(s, len, &name_len)];
	x.name = xstr(p, s, name_len);
	x.module = x.build_id = x.file = xstr(p, "", 0);
	if (x.name < 0 || x.module < 0)
		return -ENOMEM;
	return xframe_id(p, &x);
}

int export_profile__add_agg(struct export_profile *p, const struct stack_agg *agg,
			    bool root_is_process)
{
	const char *stack;
	double count;
	size_t i;
	int err = 0;

	for (i = 0; !err && stack_agg__get(agg, i, &stack, &count); i++) {
		const char *q = stack, *semi;
		int nr = 0, comm = -1, id;

		if (count <= 0)
			continue;
		do {
			size_t len;

			semi = strchr(q, ';');
			len = semi ? (size_t)(semi - q) : strlen(q);
			if (root_is_process && comm < 0 && q == stack) {
				id = comm = xstr(p, q, len);
			} else {
				id = folded_frame(p, q, len);
				if (id >= 0 && ARRAY_GROW(p->buf, p->cap_buf, (size_t)nr + 1, 256))
					id = -ENOMEM;
				if (id >= 0)
					p->buf[nr++] = id;
			}
			err = id < 0 ? id : 0;
			q = semi ? semi + 1 : q;
		} while (!err && semi);
		err = err ?: add_stack(p, comm, -1, 0, nr, count);
	}
	return err;
}

/* Frame ids of stack @id: copied out (strset packs them unaligned). */
static const uint32_t *stack_frames(const struct export_profile *p, int id, uint32_t *tmp,
				    size_t *nr)
{
	*nr = strset__len(p->stacks, id) / sizeof(uint32_t);
	memcpy(tmp, strset__str(p->stacks, id), *nr * sizeof(uint32_t));
	return tmp;
}

/* The longest stack, for stack_frames()' buffer. */
static size_t max_stack(const struct export_profile *p)
{
	size_t i, n, max = 1;

	for (i = 0; i < strset__count(p->stacks); i++) {
		n = strset__len(p->stacks, i) / sizeof(uint32_t);
		if (n > max)
			max = n;
	}
	return max;
}

/* Source file and line of @x: a Python frame's are its module and address. */
static const char *xframe_file(const struct export_profile *p, const struct xframe *x)
{
	return pstr(p, x->kind & XF_PYTHON ? x->module : x->file);
}

static int xframe_line(const struct xframe *x)
{
	return x->kind & XF_PYTHON ? (int)x->addr : x->line;
}

/* ---- pprof ---- */

typedef Perftools__Profiles__Function pb_function;
typedef Perftools__Profiles__Location pb_location;
typedef Perftools__Profiles__Line pb_line;
typedef Perftools__Profiles__Sample pb_sample;
typedef Perftools__Profiles__Label pb_label;
typedef Perftools__Profiles__Mapping pb_mapping;

/* Mapped addresses of user binaries start here, each binary pages after the one before. */
#define USER_BASE 0x400000ULL
#define PAGE 0x1000ULL
#define MAX_LABELS 3

/*
 * The message tree of a profile, grown as the stacks are read; pointers
 * between the arrays are set once they stop moving (pprof_link()).
 */
struct pprof_build {
	const struct export_profile *p;
	const struct export_opts *o;
	struct strset *strs;		/* the string table: id = index */
	struct strset *fkeys;		/* (name, file, start line): function id - 1 */
	struct strset *mkeys;		/* (kernel, module, build id): mapping id - 1 */
	struct strset *lockeys;		/* location keys (frame ids of a chain): location id - 1 */
	int *frame_map;			/* per frame: mapping id, 0 for none */
	pb_mapping *maps;
	size_t cap_maps;
	uint64_t *map_hi;		/* per mapping: the highest address */
	size_t cap_map_hi;
	pb_function *funcs;
	size_t cap_funcs;
	pb_location *locs;
	size_t *loc_line0;		/* first line of each location in lines */
	size_t cap_locs, cap_loc_line0;
	pb_line *lines;
	size_t nr_lines, cap_lines;
	pb_sample *samples;
	size_t nr_samples, cap_samples;
	uint64_t *loc_ids;		/* every sample's location ids, leaf first */
	size_t nr_loc_ids, cap_loc_ids;
	size_t *sample_loc0;		/* first of each sample's ids in loc_ids */
	size_t cap_sample_loc0;
	int64_t *values;		/* n_values per sample */
	size_t cap_values;
	pb_label *labels;		/* MAX_LABELS per sample */
	size_t cap_labels;
	uint32_t *tmp;			/* one stack's frame ids */
	int n_values;
	struct strbuf key;
	struct strbuf clean;		/* a string of the table with its invalid UTF-8 replaced */
	double total;			/* of the last value: what pprof's readers sum */
};

static void pprof_release(struct pprof_build *b)
{
	strbuf__release(&b->clean);
	strset__free(b->strs);
	strset__free(b->fkeys);
	strset__free(b->mkeys);
	strset__free(b->lockeys);
	free(b->frame_map);
	free(b->maps);
	free(b->map_hi);
	free(b->funcs);
	free(b->locs);
	free(b->loc_line0);
	free(b->lines);
	free(b->samples);
	free(b->loc_ids);
	free(b->sample_loc0);
	free(b->values);
	free(b->labels);
	free(b->tmp);
	strbuf__release(&b->key);
}

/* String id of @s in the table; proto3 strings must be UTF-8, so invalid bytes become U+FFFD. */
static int64_t pprof_str(struct pprof_build *b, const char *s, size_t len)
{
	if (utf8_is_valid(s, len))
		return strset__add(b->strs, s, len);
	strbuf__setlen(&b->clean, 0);
	if (utf8_clean(&b->clean, s, len))
		return -ENOMEM;
	return strset__add(b->strs, b->clean.buf, b->clean.len);
}

static int64_t pprof_strz(struct pprof_build *b, const char *s)
{
	return pprof_str(b, s, strlen(s));
}

/* Mapping id of frame @x (1-based), added when new; 0: none (Python, unknown binary). */
static int pprof_mapping(struct pprof_build *b, const struct xframe *x)
{
	const char *module = pstr(b->p, x->module), *bid = pstr(b->p, x->build_id);
	size_t before = strset__count(b->mkeys);
	pb_mapping *m;
	int id, err;

	if ((x->kind & XF_PYTHON) || (!(x->kind & XF_KERNEL) && !module[0]))
		return 0;
	strbuf__setlen(&b->key, 0);
	/* the kernel and its modules: one mapping, as perf has [kernel.kallsyms] */
	err = x->kind & XF_KERNEL ? strbuf__adds(&b->key, "k") :
				    strbuf__addf(&b->key, "u%s/%s", bid, module);
	if (err)
		return err;
	id = strset__add(b->mkeys, b->key.buf, b->key.len);
	if (id < 0 || (size_t)id < before)
		return id < 0 ? id : id + 1;
	if (ARRAY_GROW(b->maps, b->cap_maps, before + 1, 16) ||
	    ARRAY_GROW(b->map_hi, b->cap_map_hi, before + 1, 16))
		return -ENOMEM;
	m = &b->maps[id];
	perftools__profiles__mapping__init(m);
	m->id = id + 1;
	m->filename = pprof_strz(b, x->kind & XF_KERNEL ? "[kernel.kallsyms]" : module);
	m->build_id = x->kind & XF_KERNEL ? 0 : pprof_strz(b, bid);
	m->memory_start = x->addr;	/* the lowest address, for the kernel */
	m->has_functions = m->has_filenames = m->has_line_numbers = true;
	m->has_inline_frames = true;
	b->map_hi[id] = x->addr;
	return id + 1;
}

/*
 * Every frame's mapping, and each mapping's range of addresses: the kernel's
 * its own; each user binary's a range of its own in which a location's
 * address minus the range's start is the file offset the store keeps
 * (memory_offset 0), so that pprof finds the file offset (and the ELF
 * address through the binary's headers) as it does in a real process.
 */
static int pprof_mappings(struct pprof_build *b)
{
	size_t nf = strset__count(b->p->frame_keys), i, nm;
	uint64_t base = USER_BASE;

	b->frame_map = calloc(nf + 1, sizeof(*b->frame_map));
	if (!b->frame_map)
		return -ENOMEM;
	for (i = 0; i < nf; i++) {
		const struct xframe *x = &b->p->frames[i];
		int id = pprof_mapping(b, x);
		pb_mapping *m;

		if (id < 0)
			return id;
		b->frame_map[i] = id;
		if (!id)
			continue;
		m = &b->maps[id - 1];
		if (x->addr < m->memory_start)
			m->memory_start = x->addr;
		if (x->addr > b->map_hi[id - 1])
			b->map_hi[id - 1] = x->addr;
		m->has_functions &= !(x->kind & XF_UNRESOLVED);
		m->has_filenames &= pstr(b->p, x->file)[0] != '\0';
		m->has_line_numbers &= x->line > 0;
	}
	nm = strset__count(b->mkeys);
	for (i = 0; i < nm; i++) {
		pb_mapping *m = &b->maps[i];

		if (!strcmp(strset__str(b->mkeys, i), "k")) {
			m->memory_start &= ~(PAGE - 1);
			m->memory_limit = (b->map_hi[i] | (PAGE - 1)) + 1;
			if (!m->memory_limit)
				m->memory_limit = UINT64_MAX;
			m->has_filenames = m->has_line_numbers = false;
			continue;
		}
		m->memory_start = base;
		m->memory_limit = base + ((b->map_hi[i] + PAGE) & ~(PAGE - 1));
		m->file_offset = 0;
		/* without DWARF, pprof may still find inlines in the binary */
		m->has_inline_frames = m->has_line_numbers;
		base = m->memory_limit;
	}
	return 0;
}

/* Function id of frame @x (1-based): one per (name, file, start line). */
static int64_t pprof_function(struct pprof_build *b, const struct xframe *x)
{
	size_t before = strset__count(b->fkeys);
	const char *name = pstr(b->p, x->name), *file = xframe_file(b->p, x);
	pb_function *fn;
	int id, err;

	strbuf__setlen(&b->key, 0);
	err = strbuf__addf(&b->key, "%d/%s", x->start_line, file) ?:
	      strbuf__add(&b->key, "", 1) ?: strbuf__adds(&b->key, name);
	if (err)
		return err;
	id = strset__add(b->fkeys, b->key.buf, b->key.len);
	if (id < 0 || (size_t)id < before)
		return id < 0 ? id : id + 1;
	if (ARRAY_GROW(b->funcs, b->cap_funcs, before + 1, 1024))
		return -ENOMEM;
	fn = &b->funcs[id];
	perftools__profiles__function__init(fn);
	fn->id = id + 1;
	fn->name = fn->system_name = pprof_strz(b, name);
	fn->filename = pprof_strz(b, file);
	fn->start_line = x->start_line;
	if (fn->name < 0 || fn->filename < 0)
		return -ENOMEM;
	return id + 1;
}

/*
 * Location id (1-based) of the chain of frames @ids[0..@n): a function and
 * the frames inlined into it, outermost first. One location a chain, at the
 * outermost frame's address; its lines go innermost first, as pprof wants.
 */
static int64_t pprof_location(struct pprof_build *b, const uint32_t *ids, size_t n)
{
	size_t before = strset__count(b->lockeys), i;
	const struct xframe *outer = &b->p->frames[ids[0]];
	int map = b->frame_map[ids[0]];
	int id, err = 0;

	strbuf__setlen(&b->key, 0);
	for (i = 0; i < n && !err; i++)
		err = strbuf__addf(&b->key, "%u,", ids[i]);
	if (err)
		return err;
	id = strset__add(b->lockeys, b->key.buf, b->key.len);
	if (id < 0 || (size_t)id < before)
		return id < 0 ? id : id + 1;
	if (ARRAY_GROW(b->locs, b->cap_locs, before + 1, 1024) ||
	    ARRAY_GROW(b->loc_line0, b->cap_loc_line0, before + 1, 1024) ||
	    ARRAY_GROW(b->lines, b->cap_lines, b->nr_lines + n, 1024))
		return -ENOMEM;
	perftools__profiles__location__init(&b->locs[id]);
	b->locs[id].id = id + 1;
	b->locs[id].mapping_id = map;
	if (map && (outer->kind & XF_KERNEL))
		b->locs[id].address = outer->addr;
	else if (map)
		b->locs[id].address = b->maps[map - 1].memory_start + outer->addr;
	b->locs[id].n_line = n;
	b->loc_line0[id] = b->nr_lines;
	for (i = n; i-- > 0;) {
		const struct xframe *x = &b->p->frames[ids[i]];
		int64_t fn = pprof_function(b, x);

		if (fn < 0)
			return fn;
		perftools__profiles__line__init(&b->lines[b->nr_lines]);
		b->lines[b->nr_lines].function_id = fn;
		b->lines[b->nr_lines++].line = xframe_line(x);
	}
	return id + 1;
}

static int pprof_labels(struct pprof_build *b, const struct xsample *s, pb_sample *smp)
{
	pb_label *l = &b->labels[b->nr_samples * MAX_LABELS];
	size_t n = 0;

	if (s->comm >= 0) {
		perftools__profiles__label__init(&l[n]);
		l[n].key = pprof_strz(b, "process");
		l[n++].str = pprof_strz(b, pstr(b->p, s->comm));
	}
	if (s->pid) {
		perftools__profiles__label__init(&l[n]);
		l[n].key = pprof_strz(b, "pid");
		l[n++].num = s->pid;
	}
	if (s->host >= 0) {
		perftools__profiles__label__init(&l[n]);
		l[n].key = pprof_strz(b, "host");
		l[n++].str = pprof_strz(b, pstr(b->p, s->host));
	}
	smp->n_label = n;
	while (n-- > 0)
		if (l[n].key < 0 || l[n].str < 0)
			return -ENOMEM;
	return 0;
}

/* Whether @v, rounded, is a value pprof can hold (int64; its readers sum them too). */
static bool fits_int64(double v)
{
	return v < 9223372036854775808.0;	/* 2^63 */
}

/* -ERANGE after naming the stack @s whose @count (@time ns when known) does not fit. */
static int too_large(struct pprof_build *b, const struct xsample *s, double count, double time)
{
	const char *stack;
	const uint32_t *ids;
	size_t nr, i;
	int err = 0;

	ids = stack_frames(b->p, s->stack, b->tmp, &nr);
	strbuf__setlen(&b->key, 0);
	if (s->comm >= 0)
		err = strbuf__adds(&b->key, pstr(b->p, s->comm));
	for (i = 0; i < nr && !err && b->key.len < 200; i++)
		err = (b->key.len ? strbuf__addch(&b->key, ';') : 0) ?:
		      strbuf__adds(&b->key, pstr(b->p, b->p->frames[ids[i]].name));
	if (err)
		return err;
	stack = term_escape(&b->clean, b->key.buf, b->key.len > 200 ? 200 : b->key.len);
	if (!fits_int64(count) || !fits_int64(time))
		pr_warn("cannot export to pprof: the count %.17g of stack '%s'%s is more than a "
			"64-bit value holds%s", count, stack,
			fits_int64(count) ? " in nanoseconds" : "",
			fits_int64(count) ? " (if the counts are nanoseconds already: --ns)" : "");
	else
		pr_warn("cannot export to pprof: the total reaches more than a 64-bit value holds "
			"at stack '%s' (count %.17g)", stack, count);
	return -ERANGE;
}

/* One sample of @s. */
static int pprof_sample(struct pprof_build *b, const struct xsample *s, bool *rounded)
{
	double per = ns_per_count(b->o), count = s->count, time;
	size_t nr, i, j, nids = 0, at;
	const uint32_t *ids;
	pb_sample *smp;
	int64_t *v;
	int err;

	ids = stack_frames(b->p, s->stack, b->tmp, &nr);
	if (ARRAY_GROW(b->samples, b->cap_samples, b->nr_samples + 1, 1024) ||
	    ARRAY_GROW(b->sample_loc0, b->cap_sample_loc0, b->nr_samples + 1, 1024) ||
	    ARRAY_GROW(b->values, b->cap_values, (b->nr_samples + 1) * b->n_values, 1024) ||
	    ARRAY_GROW(b->labels, b->cap_labels, (b->nr_samples + 1) * MAX_LABELS, 1024) ||
	    ARRAY_GROW(b->loc_ids, b->cap_loc_ids, b->nr_loc_ids + nr, 4096))
		return -ENOMEM;
	smp = &b->samples[b->nr_samples];
	perftools__profiles__sample__init(smp);
	err = pprof_labels(b, s, smp);
	if (err)
		return err;
	/* chains root first: a frame and the inlined frames after it */
	at = b->nr_loc_ids;
	for (i = 0; i < nr; i = j) {
		int64_t loc;

		for (j = i + 1; j < nr && (b->p->frames[ids[j]].kind & XF_INLINED); j++)
			;
		loc = pprof_location(b, &ids[i], j - i);
		if (loc < 0)
			return loc;
		b->loc_ids[at + nids++] = loc;
	}
	/* leaf first */
	for (i = 0; i < nids / 2; i++) {
		uint64_t t = b->loc_ids[at + i];

		b->loc_ids[at + i] = b->loc_ids[at + nids - 1 - i];
		b->loc_ids[at + nids - 1 - i] = t;
	}
	b->sample_loc0[b->nr_samples] = at;
	smp->n_location_id = nids;
	b->nr_loc_ids += nids;
	v = &b->values[b->nr_samples * b->n_values];
	time = !b->o->counts_are_ns && per > 0 ? round(count * per) : 0;
	b->total += time ? time : round(count);
	if (!fits_int64(count) || !fits_int64(time) || !fits_int64(b->total))
		return too_large(b, s, count, time);
	v[0] = llround(count);
	if (time)
		v[1] = (int64_t)time;
	*rounded |= v[0] != count;
	smp->n_value = b->n_values;
	b->nr_samples++;
	return 0;
}

/* Point the messages at each other, now that the arrays are final. */
static int pprof_link(struct pprof_build *b, Perftools__Profiles__Profile *prof, void ***ptrs)
{
	size_t nf = strset__count(b->fkeys), nl = strset__count(b->lockeys), i, k = 0;
	size_t nm = strset__count(b->mkeys);
	size_t need = nm + nf + nl + b->nr_lines + b->nr_samples * (1 + MAX_LABELS);
	void **p = calloc(need + 1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	*ptrs = p;
	prof->mapping = (pb_mapping **)&p[k];
	for (i = 0; i < nm; i++)
		p[k++] = &b->maps[i];
	prof->n_mapping = nm;
	prof->function = (pb_function **)&p[k];
	for (i = 0; i < nf; i++)
		p[k++] = &b->funcs[i];
	prof->n_function = nf;
	prof->location = (pb_location **)&p[k];
	for (i = 0; i < nl; i++)
		p[k++] = &b->locs[i];
	prof->n_location = nl;
	for (i = 0; i < nl; i++)
		b->locs[i].line = (pb_line **)&p[k + b->loc_line0[i]];
	for (i = 0; i < b->nr_lines; i++)
		p[k + i] = &b->lines[i];
	k += b->nr_lines;
	prof->sample = (pb_sample **)&p[k];
	for (i = 0; i < b->nr_samples; i++) {
		b->samples[i].location_id = b->samples[i].n_location_id ?
			&b->loc_ids[b->sample_loc0[i]] : NULL;
		b->samples[i].value = &b->values[i * b->n_values];
		p[k++] = &b->samples[i];
	}
	prof->n_sample = b->nr_samples;
	for (i = 0; i < b->nr_samples; i++) {
		size_t j;

		b->samples[i].label = b->samples[i].n_label ? (pb_label **)&p[k] : NULL;
		for (j = 0; j < MAX_LABELS; j++)
			p[k++] = &b->labels[i * MAX_LABELS + j];
	}
	return 0;
}

/* Sample types, period and the string table's first entries. */
static void pprof_types(struct pprof_build *b, Perftools__Profiles__Profile *prof,
			Perftools__Profiles__ValueType *vt, Perftools__Profiles__ValueType *period)
{
	const struct export_opts *o = b->o;
	double per = ns_per_count(o);

	/*
	 * Values: CPU time with a known period, as Go's CPU profiles have
	 * them (samples/count and cpu/nanoseconds, period cpu/nanoseconds);
	 * counts that are nanoseconds already give cpu/nanoseconds alone;
	 * without either, samples/count.
	 */
	b->n_values = o->counts_are_ns ? 1 : per > 0 ? 2 : 1;
	if (o->counts_are_ns) {
		vt[0].type = pprof_strz(b, "cpu");
		vt[0].unit = pprof_strz(b, "nanoseconds");
	} else {
		vt[0].type = pprof_strz(b, "samples");
		vt[0].unit = pprof_strz(b, "count");
		vt[1].type = pprof_strz(b, "cpu");
		vt[1].unit = pprof_strz(b, "nanoseconds");
	}
	if (per > 0 || o->counts_are_ns) {
		period->type = pprof_strz(b, "cpu");
		period->unit = pprof_strz(b, "nanoseconds");
		prof->period_type = period;
		prof->period = o->counts_are_ns ? 0 : llround(per);
		prof->default_sample_type = pprof_strz(b, "cpu");
	}
}

/* Pack @prof with the string table of @b, gzipped into @out. */
static int pprof_pack(struct pprof_build *b, Perftools__Profiles__Profile *prof,
		      struct strbuf *out)
{
	uint8_t *packed = NULL;
	char **table;
	size_t len, i;
	int err;

	prof->n_string_table = strset__count(b->strs);
	table = calloc(prof->n_string_table + 1, sizeof(*table));
	if (!table)
		return -ENOMEM;
	for (i = 0; i < prof->n_string_table; i++)
		table[i] = (char *)strset__str(b->strs, i);
	prof->string_table = table;
	len = perftools__profiles__profile__get_packed_size(prof);
	packed = malloc(len ? len : 1);
	if (packed) {
		perftools__profiles__profile__pack(prof, packed);
		err = gzip_into(out, packed, len);
	} else {
		err = -ENOMEM;
	}
	free(packed);
	free(table);
	return err;
}

int export_profile__pprof(const struct export_profile *p, const struct export_opts *o,
			  struct strbuf *out)
{
	Perftools__Profiles__Profile prof = PERFTOOLS__PROFILES__PROFILE__INIT;
	Perftools__Profiles__ValueType vt[2] = { PERFTOOLS__PROFILES__VALUE_TYPE__INIT,
						 PERFTOOLS__PROFILES__VALUE_TYPE__INIT };
	Perftools__Profiles__ValueType period = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	Perftools__Profiles__ValueType *vtp[2] = { &vt[0], &vt[1] };
	struct pprof_build b = { .p = p, .o = o, .key = STRBUF_INIT, .clean = STRBUF_INIT };
	bool rounded = false;
	void **ptrs = NULL;
	size_t i;
	int err = 0;

	b.strs = strset__new();
	b.fkeys = strset__new();
	b.mkeys = strset__new();
	b.lockeys = strset__new();
	b.tmp = calloc(max_stack(p), sizeof(*b.tmp));
	if (!b.strs || !b.fkeys || !b.mkeys || !b.lockeys || !b.tmp)
		err = -ENOMEM;
	/* string 0 is "", as pprof requires */
	if (!err && pprof_str(&b, "", 0) != 0)
		err = -ENOMEM;
	if (!err) {
		pprof_types(&b, &prof, vt, &period);
		err = pprof_mappings(&b);
	}
	for (i = 0; i < p->nr_samples && !err; i++)
		err = pprof_sample(&b, &p->samples[i], &rounded);
	if (!err && rounded)
		pr_warn("pprof values are integers: fractional counts were rounded");
	err = err ?: pprof_link(&b, &prof, &ptrs);
	if (!err) {
		prof.n_sample_type = b.n_values;
		prof.sample_type = vtp;
		err = pprof_pack(&b, &prof, out);
	}
	free(ptrs);
	pprof_release(&b);
	return err;
}

int stack_agg__export_pprof(const struct stack_agg *agg, const struct export_opts *o,
			    struct strbuf *out)
{
	struct export_profile *p = export_profile__new();
	int err = p ? export_profile__add_agg(p, agg, o->root_is_process) : -ENOMEM;

	err = err ?: export_profile__pprof(p, o, out);
	export_profile__free(p);
	return err;
}

int stack_agg__write_pprof(const struct stack_agg *agg, struct strbuf *out)
{
	const struct export_opts o = { .root_is_process = true };

	return stack_agg__export_pprof(agg, &o, out);
}

/* ---- speedscope ---- */

/* A JSON string of @s; invalid UTF-8 becomes U+FFFD (JSON text must be UTF-8), the rest stays. */
static json_t *json_name(const char *s, size_t len)
{
	struct strbuf sb = STRBUF_INIT;
	json_t *j = json_stringn(s, len);

	if (j)
		return j;
	if (!utf8_clean(&sb, s, len))
		j = json_stringn(sb.buf ? sb.buf : "", sb.len);
	strbuf__release(&sb);
	return j;
}

static json_t *json_number(double v)
{
	return v == floor(v) && fabs(v) < 9e15 ? json_integer((json_int_t)v) : json_real(v);
}

/* Append to array @a, taking @v over; -ENOMEM when either failed. */
static int push(json_t *a, json_t *v)
{
	return v && !json_array_append_new(a, v) ? 0 : -ENOMEM;
}

/*
 * speedscope's frames: one per (name, file), with "file" and "line" when
 * known. The line is the function's start line when the symbolizer gave
 * one, else the lowest line of it the samples hold (speedscope's own pprof
 * import shows a sampled line too).
 */
struct ss_frames {
	struct strset *keys;	/* "file\0name": frame index */
	struct strbuf key;
	int *of;		/* per profile frame: its speedscope frame */
	int *line;		/* per speedscope frame */
};

/* The speedscope frame of (@file, @name), added to @frames_a when new; -ENOMEM. */
static int ss_frame(struct ss_frames *s, json_t *frames_a, const char *file, const char *name)
{
	size_t before = strset__count(s->keys);
	json_t *f;
	int id;

	strbuf__setlen(&s->key, 0);
	if (strbuf__adds(&s->key, file) || strbuf__add(&s->key, "", 1) ||
	    strbuf__adds(&s->key, name))
		return -ENOMEM;
	id = strset__add(s->keys, s->key.buf, s->key.len);
	if (id < 0 || (size_t)id < before)
		return id < 0 ? -ENOMEM : id;
	f = json_object();
	if (push(frames_a, f) || json_object_set_new(f, "name", json_name(name, strlen(name))))
		return -ENOMEM;
	if (file[0] && json_object_set_new(f, "file", json_name(file, strlen(file))))
		return -ENOMEM;
	return id;
}

static int ss_frames__build(struct ss_frames *s, const struct export_profile *p, json_t *frames_a)
{
	size_t nf = strset__count(p->frame_keys), i;
	int id;

	s->keys = strset__new();
	s->of = calloc(nf + 1, sizeof(*s->of));
	s->line = calloc(nf + 1, sizeof(*s->line));
	if (!s->keys || !s->of || !s->line)
		return -ENOMEM;
	for (i = 0; i < nf; i++) {
		const struct xframe *x = &p->frames[i];
		int line = x->start_line ? x->start_line : xframe_line(x);

		id = ss_frame(s, frames_a, xframe_file(p, x), pstr(p, x->name));
		if (id < 0)
			return id;
		s->of[i] = id;
		if (line > 0 && (!s->line[id] || line < s->line[id]))
			s->line[id] = line;
	}
	/* the lines once every frame of a function has been seen */
	for (i = 0; i < strset__count(s->keys); i++) {
		if (s->line[i] && json_object_set_new(json_array_get(frames_a, i), "line",
						      json_integer(s->line[i])))
			return -ENOMEM;
	}
	return 0;
}

static void ss_frames__release(struct ss_frames *s)
{
	strset__free(s->keys);
	strbuf__release(&s->key);
	free(s->of);
	free(s->line);
}

static json_t *speedscope_doc(const struct export_profile *p, const struct export_opts *o)
{
	json_t *doc, *frames_a, *samples_a, *weights_a, *profile;
	double per = ns_per_count(o), end = 0;
	const char *name = o->name ? o->name : "profile";
	struct ss_frames ss = { .key = STRBUF_INIT };
	uint32_t *tmp = calloc(max_stack(p), sizeof(*tmp));
	size_t i, j, nr;
	int err = 0;

	doc = tmp ?
	      json_pack("{s:s, s:{s:[]}, s:[{s:s, s:s, s:s, s:i, s:o, s:[], s:[]}], s:s, s:i, s:s}",
			"$schema", "https://www.speedscope.app/file-format-schema.json",
			"shared", "frames", "profiles", "type", "sampled", "name", name,
			"unit", per > 0 ? "nanoseconds" : "none", "startValue", 0, "endValue",
			json_integer(0), "samples", "weights", "name",
			name, "activeProfileIndex", 0, "exporter", "profile") :
	      NULL;
	if (!doc)
		goto err;
	frames_a = json_object_get(json_object_get(doc, "shared"), "frames");
	profile = json_array_get(json_object_get(doc, "profiles"), 0);
	samples_a = json_object_get(profile, "samples");
	weights_a = json_object_get(profile, "weights");
	err = ss_frames__build(&ss, p, frames_a);
	for (i = 0; i < p->nr_samples && !err; i++) {
		const struct xsample *s = &p->samples[i];
		const uint32_t *ids = stack_frames(p, s->stack, tmp, &nr);
		json_t *st = json_array();
		double w;

		err = push(samples_a, st);
		/* the process first, as in the folded stacks */
		if (!err && s->comm >= 0) {
			int id = ss_frame(&ss, frames_a, "", pstr(p, s->comm));

			err = id < 0 ? id : push(st, json_integer(id));
		}
		for (j = 0; j < nr && !err; j++)
			err = push(st, json_integer(ss.of[ids[j]]));
		/* whole nanoseconds: the periods are (a double: JSON numbers do not wrap) */
		w = per > 0 ? round(s->count * per) : s->count;
		end += w;
		if (!err)
			err = push(weights_a, json_number(w));
	}
	if (!err && json_object_set_new(profile, "endValue", json_number(end)))
		err = -ENOMEM;
	if (err)
		goto err;
	ss_frames__release(&ss);
	free(tmp);
	return doc;
err:
	json_decref(doc);
	ss_frames__release(&ss);
	free(tmp);
	return NULL;
}

int export_profile__speedscope(const struct export_profile *p, const struct export_opts *o,
			       struct strbuf *out)
{
	json_t *doc = speedscope_doc(p, o);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	int err;

	err = text ? strbuf__adds(out, text) : -ENOMEM;
	err = err ?: strbuf__addch(out, '\n');
	free(text);
	json_decref(doc);
	return err;
}

int stack_agg__export_speedscope(const struct stack_agg *agg, const struct export_opts *o,
				 struct strbuf *out)
{
	struct export_profile *p = export_profile__new();
	int err = p ? export_profile__add_agg(p, agg, false) : -ENOMEM;

	err = err ?: export_profile__speedscope(p, o, out);
	export_profile__free(p);
	return err;
}

int stack_agg__write_speedscope(const struct stack_agg *agg, const char *name, struct strbuf *out)
{
	const struct export_opts o = { .name = name };

	return stack_agg__export_speedscope(agg, &o, out);
}
