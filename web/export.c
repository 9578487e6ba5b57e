// SPDX-License-Identifier: GPL-2.0
/*
 * Export aggregated stacks to the formats other viewers read:
 * - pprof: a gzip-compressed perftools.profiles.Profile, encoded with
 *   protobuf-c code generated at build time from pprof's own profile.proto.
 *   One function per distinct name (the folded suffixes _[k], _[i], _[j], _[p]
 *   dropped); one location per frame and the frames inlined into it (its
 *   "_[i]" followers), their lines innermost first as pprof models inlining;
 *   kernel frames in a "[kernel.kallsyms]" mapping; the first frame, the
 *   process name, as a "process" label. One sample per distinct stack, with
 *   samples/count and, when the period is known, cpu/nanoseconds (the
 *   period type and period as Go's CPU profiles have them).
 * - speedscope: the "sampled" profile of speedscope's file format, written
 *   with jansson; weights in nanoseconds when the period is known, names
 *   without the folded suffixes.
 * Folded stacks carry no addresses, files, lines or build ids: the
 * locations have address 0 and the functions no file.
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

/* Frame ids of every stack: one array of ids, and where each stack starts. */
struct frames {
	struct strset *names;
	uint32_t *ids;
	size_t nr, cap;
	size_t *starts;		/* stack i: ids[starts[i] .. starts[i + 1]) */
	double *counts;
	size_t nr_stacks;
};

static void frames__release(struct frames *fr)
{
	strset__free(fr->names);
	free(fr->ids);
	free(fr->starts);
	free(fr->counts);
}

static int frames__push(struct frames *fr, int id)
{
	if (fr->nr == fr->cap) {
		size_t cap = fr->cap ? fr->cap * 2 : 4096;
		uint32_t *ids = reallocarray(fr->ids, cap, sizeof(*ids));

		if (!ids)
			return -ENOMEM;
		fr->ids = ids;
		fr->cap = cap;
	}
	fr->ids[fr->nr++] = id;
	return 0;
}

/* Split every stack of @agg into interned frame names, root first. */
static int frames__build(struct frames *fr, const struct stack_agg *agg)
{
	size_t n = stack_agg__nr_stacks(agg), i;
	const char *stack;
	int err = 0;

	memset(fr, 0, sizeof(*fr));
	fr->names = strset__new();
	fr->starts = calloc(n + 1, sizeof(*fr->starts));
	fr->counts = calloc(n + 1, sizeof(*fr->counts));
	if (!fr->names || !fr->starts || !fr->counts)
		return -ENOMEM;
	for (i = 0; !err && stack_agg__get(agg, i, &stack, &fr->counts[fr->nr_stacks]); i++) {
		const char *p = stack, *semi;

		if (fr->counts[fr->nr_stacks] <= 0)
			continue;
		fr->starts[fr->nr_stacks] = fr->nr;
		do {
			int id;

			semi = strchr(p, ';');
			id = strset__add(fr->names, p, semi ? (size_t)(semi - p) : strlen(p));
			err = id < 0 ? id : frames__push(fr, id);
			if (semi)
				p = semi + 1;
		} while (!err && semi);
		fr->nr_stacks++;
	}
	fr->starts[fr->nr_stacks] = fr->nr;
	return err;
}

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

/* ---- pprof ---- */

typedef Perftools__Profiles__Function pb_function;
typedef Perftools__Profiles__Location pb_location;
typedef Perftools__Profiles__Line pb_line;
typedef Perftools__Profiles__Sample pb_sample;
typedef Perftools__Profiles__Label pb_label;

/*
 * The message tree of a profile, grown as the stacks are read; pointers
 * between the arrays are set once they stop moving (pprof_link()).
 */
struct pprof_build {
	const struct export_opts *o;
	struct strset *strs;		/* the string table: id = index */
	struct strset *fnames;		/* function names: function id - 1 */
	struct strset *lockeys;		/* location keys (frame ids of a chain): location id - 1 */
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
	pb_label *labels;		/* one per sample ("process"), when root_is_process */
	size_t cap_labels;
	int n_values;
	struct strbuf key;
};

static void pprof_release(struct pprof_build *b)
{
	strset__free(b->strs);
	strset__free(b->fnames);
	strset__free(b->lockeys);
	free(b->funcs);
	free(b->locs);
	free(b->loc_line0);
	free(b->lines);
	free(b->samples);
	free(b->loc_ids);
	free(b->sample_loc0);
	free(b->values);
	free(b->labels);
	strbuf__release(&b->key);
}

static int64_t pprof_str(struct pprof_build *b, const char *s, size_t len)
{
	return strset__add(b->strs, s, len);
}

/* Function id of @name (1-based), added when new. */
static int64_t pprof_function(struct pprof_build *b, const char *name, size_t len)
{
	size_t before = strset__count(b->fnames);
	int id = strset__add(b->fnames, name, len);
	int64_t str;

	if (id < 0)
		return id;
	if ((size_t)id == before) {
		if (ARRAY_GROW(b->funcs, b->cap_funcs, before + 1, 1024))
			return -ENOMEM;
		str = pprof_str(b, name, len);
		if (str < 0)
			return str;
		perftools__profiles__function__init(&b->funcs[id]);
		b->funcs[id].id = id + 1;
		b->funcs[id].name = b->funcs[id].system_name = str;
	}
	return id + 1;
}

/*
 * Location id (1-based) of the chain of frames @ids[0..@n) of @fr: a
 * function and the frames inlined into it, outermost first. One location a
 * chain; its lines go innermost first, as pprof wants.
 */
static int64_t pprof_location(struct pprof_build *b, const struct frames *fr, const uint32_t *ids,
			      size_t n, bool kernel)
{
	size_t before = strset__count(b->lockeys), i;
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
	b->locs[id].mapping_id = kernel ? 1 : 0;
	b->locs[id].n_line = n;
	b->loc_line0[id] = b->nr_lines;
	for (i = n; i-- > 0;) {
		const char *s = strset__str(fr->names, ids[i]);
		size_t name_len;
		int64_t fn;

		frame_kind(s, strset__len(fr->names, ids[i]), &name_len);
		fn = pprof_function(b, s, name_len);
		if (fn < 0)
			return fn;
		perftools__profiles__line__init(&b->lines[b->nr_lines]);
		b->lines[b->nr_lines++].function_id = fn;
	}
	return id + 1;
}

/* One sample of stack @si of @fr. */
static int pprof_sample(struct pprof_build *b, const struct frames *fr, size_t si, bool *rounded)
{
	size_t first = fr->starts[si], end = fr->starts[si + 1], i, j, nids = 0, at;
	double per = ns_per_count(b->o), count = fr->counts[si];
	pb_sample *smp;
	int64_t *v;

	if (ARRAY_GROW(b->samples, b->cap_samples, b->nr_samples + 1, 1024) ||
	    ARRAY_GROW(b->sample_loc0, b->cap_sample_loc0, b->nr_samples + 1, 1024) ||
	    ARRAY_GROW(b->values, b->cap_values, (b->nr_samples + 1) * b->n_values, 1024) ||
	    ARRAY_GROW(b->labels, b->cap_labels, b->nr_samples + 1, 1024) ||
	    ARRAY_GROW(b->loc_ids, b->cap_loc_ids, b->nr_loc_ids + (end - first), 4096))
		return -ENOMEM;
	smp = &b->samples[b->nr_samples];
	perftools__profiles__sample__init(smp);
	perftools__profiles__label__init(&b->labels[b->nr_samples]);
	if (b->o->root_is_process && first < end) {
		int64_t str = pprof_str(b, strset__str(fr->names, fr->ids[first]),
					strset__len(fr->names, fr->ids[first]));

		if (str < 0)
			return str;
		b->labels[b->nr_samples].key = pprof_str(b, "process", 7);
		b->labels[b->nr_samples].str = str;
		smp->n_label = 1;
		first++;
	}
	/* chains root first: a frame and the inlined frames after it */
	at = b->nr_loc_ids;
	for (i = first; i < end; i = j) {
		size_t name_len;
		enum frame_kind k = frame_kind(strset__str(fr->names, fr->ids[i]),
					       strset__len(fr->names, fr->ids[i]), &name_len);
		int64_t loc;

		for (j = i + 1; j < end; j++) {
			if (frame_kind(strset__str(fr->names, fr->ids[j]),
				       strset__len(fr->names, fr->ids[j]), &name_len) != FK_INLINED)
				break;
		}
		loc = pprof_location(b, fr, &fr->ids[i], j - i, k == FK_KERNEL);
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
	if (b->o->counts_are_ns) {
		v[0] = llround(count);
	} else {
		v[0] = llround(count);
		if (per > 0)
			v[1] = llround(count * per);
	}
	*rounded |= v[0] != count;
	smp->n_value = b->n_values;
	b->nr_samples++;
	return 0;
}

/* Point the messages at each other, now that the arrays are final. */
static int pprof_link(struct pprof_build *b, Perftools__Profiles__Profile *prof, void ***ptrs)
{
	size_t nf = strset__count(b->fnames), nl = strset__count(b->lockeys), i, k = 0;
	size_t need = nf + nl + b->nr_lines + 2 * b->nr_samples;
	void **p = calloc(need + 1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	*ptrs = p;
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
		b->samples[i].location_id = &b->loc_ids[b->sample_loc0[i]];
		b->samples[i].value = &b->values[i * b->n_values];
		p[k++] = &b->samples[i];
	}
	prof->n_sample = b->nr_samples;
	for (i = 0; i < b->nr_samples; i++) {
		p[k] = &b->labels[i];
		b->samples[i].label = b->samples[i].n_label ? (pb_label **)&p[k] : NULL;
		k++;
	}
	return 0;
}

int stack_agg__export_pprof(const struct stack_agg *agg, const struct export_opts *o,
			    struct strbuf *out)
{
	Perftools__Profiles__Profile prof = PERFTOOLS__PROFILES__PROFILE__INIT;
	Perftools__Profiles__ValueType vt[2] = { PERFTOOLS__PROFILES__VALUE_TYPE__INIT,
						 PERFTOOLS__PROFILES__VALUE_TYPE__INIT };
	Perftools__Profiles__ValueType period = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	Perftools__Profiles__ValueType *vtp[2] = { &vt[0], &vt[1] };
	Perftools__Profiles__Mapping kmap = PERFTOOLS__PROFILES__MAPPING__INIT, *kmapp = &kmap;
	struct pprof_build b = { .o = o, .key = STRBUF_INIT };
	double per = ns_per_count(o);
	bool rounded = false, has_kernel = false;
	char **table = NULL;
	void **ptrs = NULL;
	uint8_t *packed = NULL;
	struct frames fr;
	size_t len, i;
	int err;

	err = frames__build(&fr, agg);
	b.strs = strset__new();
	b.fnames = strset__new();
	b.lockeys = strset__new();
	if (!err && (!b.strs || !b.fnames || !b.lockeys))
		err = -ENOMEM;
	/* string 0 is "", as pprof requires */
	if (!err && pprof_str(&b, "", 0) != 0)
		err = -ENOMEM;
	if (err)
		goto out;
	/*
	 * Values: CPU time with a known period, as Go's CPU profiles have
	 * them (samples/count and cpu/nanoseconds, period cpu/nanoseconds);
	 * counts that are nanoseconds already give cpu/nanoseconds alone;
	 * without either, samples/count.
	 */
	b.n_values = o->counts_are_ns ? 1 : per > 0 ? 2 : 1;
	if (o->counts_are_ns) {
		vt[0].type = pprof_str(&b, "cpu", 3);
		vt[0].unit = pprof_str(&b, "nanoseconds", 11);
	} else {
		vt[0].type = pprof_str(&b, "samples", 7);
		vt[0].unit = pprof_str(&b, "count", 5);
		vt[1].type = pprof_str(&b, "cpu", 3);
		vt[1].unit = pprof_str(&b, "nanoseconds", 11);
	}
	if (per > 0 || o->counts_are_ns) {
		period.type = pprof_str(&b, "cpu", 3);
		period.unit = pprof_str(&b, "nanoseconds", 11);
		prof.period_type = &period;
		prof.period = o->counts_are_ns ? 0 : llround(per);
		prof.default_sample_type = pprof_str(&b, "cpu", 3);
	}
	for (i = 0; i < fr.nr_stacks && !err; i++)
		err = pprof_sample(&b, &fr, i, &rounded);
	if (err)
		goto out;
	if (rounded)
		pr_warn("pprof values are integers: fractional counts were rounded");
	for (i = 0; i < strset__count(b.lockeys); i++)
		has_kernel |= b.locs[i].mapping_id == 1;
	if (has_kernel) {
		/* kernel frames in a mapping of their own, as perf names the kernel */
		kmap.id = 1;
		kmap.filename = pprof_str(&b, "[kernel.kallsyms]", 17);
		kmap.has_functions = kmap.has_inline_frames = true;
		prof.n_mapping = 1;
		prof.mapping = &kmapp;
	}
	err = pprof_link(&b, &prof, &ptrs);
	if (err)
		goto out;
	prof.n_sample_type = b.n_values;
	prof.sample_type = vtp;
	prof.n_string_table = strset__count(b.strs);
	table = calloc(prof.n_string_table + 1, sizeof(*table));
	if (!table) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < prof.n_string_table; i++)
		table[i] = (char *)strset__str(b.strs, i);
	prof.string_table = table;
	len = perftools__profiles__profile__get_packed_size(&prof);
	packed = malloc(len ? len : 1);
	if (packed) {
		perftools__profiles__profile__pack(&prof, packed);
		err = gzip_into(out, packed, len);
	} else {
		err = -ENOMEM;
	}
out:
	free(packed);
	free(table);
	free(ptrs);
	pprof_release(&b);
	frames__release(&fr);
	return err;
}

int stack_agg__write_pprof(const struct stack_agg *agg, struct strbuf *out)
{
	const struct export_opts o = { .root_is_process = true };

	return stack_agg__export_pprof(agg, &o, out);
}

/* ---- speedscope ---- */

/* A JSON string of @s; invalid UTF-8 becomes '?' (JSON text must be UTF-8). */
static json_t *json_name(const char *s, size_t len)
{
	json_t *j = json_stringn(s, len);
	char *copy;
	size_t i;

	if (j)
		return j;
	copy = malloc(len + 1);
	if (!copy)
		return NULL;
	for (i = 0; i < len; i++)
		copy[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	j = json_stringn(copy, len);
	free(copy);
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

static json_t *speedscope_doc(const struct frames *fr, const struct export_opts *o)
{
	json_t *doc, *frames_a, *samples_a, *weights_a, *profile;
	double per = ns_per_count(o), end = 0;
	const char *name = o->name ? o->name : "profile";
	struct strset *shown = strset__new();	/* names without suffixes: speedscope's frames */
	int *frame_of = calloc(strset__count(fr->names) + 1, sizeof(*frame_of));
	size_t i, j;
	int err = 0;

	doc = shown && frame_of ?
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
	/* the folded suffixes (_[k], _[i], _[j], _[p]) are the folded format's, not names */
	for (i = 0; i < strset__count(fr->names) && !err; i++) {
		const char *s = strset__str(fr->names, i);
		size_t len, before = strset__count(shown);

		frame_kind(s, strset__len(fr->names, i), &len);
		frame_of[i] = strset__add(shown, s, len);
		if (frame_of[i] < 0) {
			err = -ENOMEM;
		} else if ((size_t)frame_of[i] == before) {
			json_t *f = json_object();

			err = push(frames_a, f);
			if (!err && json_object_set_new(f, "name", json_name(s, len)))
				err = -ENOMEM;
		}
	}
	for (i = 0; i < fr->nr_stacks && !err; i++) {
		json_t *st = json_array();
		double w;

		err = push(samples_a, st);
		for (j = fr->starts[i]; j < fr->starts[i + 1] && !err; j++)
			err = push(st, json_integer(frame_of[fr->ids[j]]));
		/* whole nanoseconds: the periods are */
		w = per > 0 ? llround(fr->counts[i] * per) : fr->counts[i];
		end += w;
		if (!err)
			err = push(weights_a, json_number(w));
	}
	if (!err && json_object_set_new(profile, "endValue", json_number(end)))
		err = -ENOMEM;
	if (err)
		goto err;
	strset__free(shown);
	free(frame_of);
	return doc;
err:
	json_decref(doc);
	strset__free(shown);
	free(frame_of);
	return NULL;
}

int stack_agg__export_speedscope(const struct stack_agg *agg, const struct export_opts *o,
				 struct strbuf *out)
{
	struct frames fr;
	json_t *doc = NULL;
	char *text = NULL;
	int err;

	err = frames__build(&fr, agg);
	if (!err) {
		doc = speedscope_doc(&fr, o);
		text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
		err = text ? strbuf__adds(out, text) : -ENOMEM;
	}
	if (!err)
		err = strbuf__addch(out, '\n');
	free(text);
	json_decref(doc);
	frames__release(&fr);
	return err;
}

int stack_agg__write_speedscope(const struct stack_agg *agg, const char *name, struct strbuf *out)
{
	const struct export_opts o = { .name = name };

	return stack_agg__export_speedscope(agg, &o, out);
}
