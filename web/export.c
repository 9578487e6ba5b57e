// SPDX-License-Identifier: GPL-2.0
/*
 * Export aggregated stacks to the formats other viewers read:
 * - pprof: a gzip-compressed perftools.profiles.Profile, encoded with
 *   protobuf-c code generated at build time from pprof's own profile.proto;
 *   one function and one location per distinct frame name, one sample per
 *   distinct stack (locations leaf first) with its count as "samples/count".
 * - speedscope: the "sampled" profile of speedscope's file format, written
 *   with jansson.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <zlib.h>

#include "profile.pb-c.h"
#include "web_internal.h"
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

/* The message tree of a profile: arrays of messages and the pointer arrays to them. */
struct pprof_build {
	Perftools__Profiles__Function *funcs, **funcp;
	Perftools__Profiles__Location *locs, **locp;
	Perftools__Profiles__Line *lines, **linep;
	Perftools__Profiles__Sample *samples, **samplep;
	uint64_t *loc_ids;
	int64_t *values;
	char **strs;
};

static void pprof_release(struct pprof_build *b)
{
	free(b->funcs);
	free(b->funcp);
	free(b->locs);
	free(b->locp);
	free(b->lines);
	free(b->linep);
	free(b->samples);
	free(b->samplep);
	free(b->loc_ids);
	free(b->values);
	free(b->strs);
}

static int pprof_alloc(struct pprof_build *b, size_t nf, size_t ns, size_t nids)
{
	memset(b, 0, sizeof(*b));
	b->strs = calloc(nf + 3, sizeof(*b->strs));
	b->funcs = calloc(nf + 1, sizeof(*b->funcs));
	b->funcp = calloc(nf + 1, sizeof(*b->funcp));
	b->locs = calloc(nf + 1, sizeof(*b->locs));
	b->locp = calloc(nf + 1, sizeof(*b->locp));
	b->lines = calloc(nf + 1, sizeof(*b->lines));
	b->linep = calloc(nf + 1, sizeof(*b->linep));
	b->samples = calloc(ns + 1, sizeof(*b->samples));
	b->samplep = calloc(ns + 1, sizeof(*b->samplep));
	b->loc_ids = calloc(nids + 1, sizeof(*b->loc_ids));
	b->values = calloc(ns + 1, sizeof(*b->values));
	if (!b->strs || !b->funcs || !b->funcp || !b->locs || !b->locp || !b->lines ||
	    !b->linep || !b->samples || !b->samplep || !b->loc_ids || !b->values) {
		pprof_release(b);
		return -ENOMEM;
	}
	return 0;
}

/*
 * String table "", "samples", "count", then the names; function and
 * location i + 1 are name i.
 */
static void pprof_functions(struct pprof_build *b, const struct frames *fr)
{
	static char empty[] = "", samples_s[] = "samples", count_s[] = "count";
	size_t i, nf = strset__count(fr->names);

	b->strs[0] = empty;
	b->strs[1] = samples_s;
	b->strs[2] = count_s;
	for (i = 0; i < nf; i++) {
		b->strs[i + 3] = (char *)strset__str(fr->names, i);
		perftools__profiles__function__init(&b->funcs[i]);
		b->funcs[i].id = i + 1;
		b->funcs[i].name = b->funcs[i].system_name = i + 3;
		b->funcp[i] = &b->funcs[i];
		perftools__profiles__line__init(&b->lines[i]);
		b->lines[i].function_id = i + 1;
		b->linep[i] = &b->lines[i];
		perftools__profiles__location__init(&b->locs[i]);
		b->locs[i].id = i + 1;
		b->locs[i].n_line = 1;
		b->locs[i].line = &b->linep[i];
		b->locp[i] = &b->locs[i];
	}
}

/* One sample per stack, locations leaf first. True when a count had to be rounded. */
static bool pprof_samples(struct pprof_build *b, const struct frames *fr)
{
	bool rounded = false;
	size_t i, j;

	for (i = 0; i < fr->nr_stacks; i++) {
		size_t first = fr->starts[i], end = fr->starts[i + 1];

		perftools__profiles__sample__init(&b->samples[i]);
		for (j = first; j < end; j++)
			b->loc_ids[first + (end - 1 - j)] = fr->ids[j] + 1;
		b->samples[i].n_location_id = end - first;
		b->samples[i].location_id = &b->loc_ids[first];
		b->values[i] = llround(fr->counts[i]);
		rounded |= b->values[i] != fr->counts[i];
		b->samples[i].n_value = 1;
		b->samples[i].value = &b->values[i];
		b->samplep[i] = &b->samples[i];
	}
	return rounded;
}

int stack_agg__write_pprof(const struct stack_agg *agg, struct strbuf *out)
{
	Perftools__Profiles__Profile prof = PERFTOOLS__PROFILES__PROFILE__INIT;
	Perftools__Profiles__ValueType vt = PERFTOOLS__PROFILES__VALUE_TYPE__INIT, *vtp = &vt;
	struct pprof_build b;
	uint8_t *packed = NULL;
	struct frames fr;
	size_t nf, len;
	int err;

	err = frames__build(&fr, agg);
	nf = err ? 0 : strset__count(fr.names);
	if (!err)
		err = pprof_alloc(&b, nf, fr.nr_stacks, fr.nr);
	if (err)
		goto out_frames;
	pprof_functions(&b, &fr);
	if (pprof_samples(&b, &fr))
		pr_warn("pprof values are integers: fractional counts were rounded");
	vt.type = 1;
	vt.unit = 2;
	prof.n_sample_type = 1;
	prof.sample_type = &vtp;
	prof.n_sample = fr.nr_stacks;
	prof.sample = b.samplep;
	prof.n_location = prof.n_function = nf;
	prof.location = b.locp;
	prof.function = b.funcp;
	prof.n_string_table = nf + 3;
	prof.string_table = b.strs;
	len = perftools__profiles__profile__get_packed_size(&prof);
	packed = malloc(len ? len : 1);
	if (packed) {
		perftools__profiles__profile__pack(&prof, packed);
		err = gzip_into(out, packed, len);
	} else {
		err = -ENOMEM;
	}
	free(packed);
	pprof_release(&b);
out_frames:
	frames__release(&fr);
	return err;
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

static json_t *speedscope_doc(const struct frames *fr, const char *name, double total)
{
	json_t *doc, *frames_a, *samples_a, *weights_a, *profile;
	size_t i, j;
	int err = 0;

	doc = json_pack("{s:s, s:{s:[]}, s:[{s:s, s:s, s:s, s:i, s:o, s:[], s:[]}], s:s, s:i, s:s}",
			"$schema", "https://www.speedscope.app/file-format-schema.json",
			"shared", "frames", "profiles", "type", "sampled", "name", name,
			"unit", "none", "startValue", 0, "endValue", json_number(total), "samples",
			"weights", "name", name, "activeProfileIndex", 0, "exporter", "profile");
	if (!doc)
		return NULL;
	frames_a = json_object_get(json_object_get(doc, "shared"), "frames");
	profile = json_array_get(json_object_get(doc, "profiles"), 0);
	samples_a = json_object_get(profile, "samples");
	weights_a = json_object_get(profile, "weights");
	for (i = 0; i < strset__count(fr->names) && !err; i++) {
		json_t *f = json_object();

		err = push(frames_a, f);
		if (!err && json_object_set_new(f, "name",
						json_name(strset__str(fr->names, i),
							  strset__len(fr->names, i))))
			err = -ENOMEM;
	}
	for (i = 0; i < fr->nr_stacks && !err; i++) {
		json_t *s = json_array();

		err = push(samples_a, s);
		for (j = fr->starts[i]; j < fr->starts[i + 1] && !err; j++)
			err = push(s, json_integer(fr->ids[j]));
		if (!err)
			err = push(weights_a, json_number(fr->counts[i]));
	}
	if (err) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

int stack_agg__write_speedscope(const struct stack_agg *agg, const char *name, struct strbuf *out)
{
	struct frames fr;
	json_t *doc = NULL;
	char *text = NULL;
	int err;

	err = frames__build(&fr, agg);
	if (!err) {
		doc = speedscope_doc(&fr, name ? name : "profile", stack_agg__total(agg));
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
