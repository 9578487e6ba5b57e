// SPDX-License-Identifier: GPL-2.0
/*
 * `profile serve`: the web UI and its JSON and text API over the store.
 * web/server.c does HTTP; this file answers /api/ paths. Query parameters
 * are the selector options under their command-line names (since, until,
 * host, comm, pid, build-id or build_id, label, run), "base." and "new."
 * prefixed for the two sides of a diff. Each pool thread reads through its
 * own read-only connection, and every query is one read transaction of its
 * own (a snapshot), so the agent writing the same database is never blocked.
 * Answers equal the CLI's: /api/folded is what `profile folded` prints and
 * /api/top.txt what `profile top` prints for the same selection.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <jansson.h>

#include "cmds.h"
#include "selector.h"
#include "web/web.h"
#include "common/strbuf.h"
#include "common/log.h"

const struct command_def serve_cmd = {
	.name = "serve",
	.summary = "the web UI and JSON API over the store",
	.usage = "[--db PATH] [--listen ADDR:PORT] [options]",
	.description =
		"Serve a web page (timeline, filters, flame graph, top table, comparison)\n"
		"and a JSON and text API over the store, on 127.0.0.1:8080 by default. The\n"
		"page and its scripts are built into the binary. Queries read their own\n"
		"snapshot and never block an agent writing the same database.\n"
		"\n"
		"The API takes the selector options as query parameters (since, until,\n"
		"host, comm, pid, build_id, label, run; base. and new. prefixed for a diff):\n"
		"\n"
		"  /api/runs /api/hosts /api/labels /api/comms   what the store holds\n"
		"  /api/builds               executables: build id, process name, samples\n"
		"  /api/timeline?step=S      samples over time, S seconds a point\n"
		"  /api/top?limit=N          top functions (JSON); /api/top.txt as 'profile top'\n"
		"                            (20 rows); limit=0: every row\n"
		"  /api/folded               as 'profile folded'\n"
		"  /api/flamegraph.svg       width, min_width, max_frames, title, reverse,\n"
		"                            icicle, focus\n"
		"  /api/diff /api/diff.svg   the change table and the differential graph\n"
		"  /api/pprof                gzip-compressed pprof",
	.notes =
		"Listening on another address than loopback lets anyone who can connect\n"
		"read every stored profile; give --auth-token FILE to require the token in\n"
		"the file (as \"Authorization: Bearer TOKEN\", or token= in the page's URL).",
	.max_args = 0,
};

extern const struct http_asset serve_assets[];
extern const size_t serve_nr_assets;

/* frames in a graph unless max_frames= says otherwise: the widest stay, zooming fetches the rest */
#define SERVE_MAX_FRAMES 3000

/* the SVG's own script, sandboxed; allow-modals: its search asks for the term with prompt() */
#define SVG_CSP "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; sandbox allow-scripts allow-modals"

struct serve {
	const char *db_path;
	pthread_key_t store_key;
};

/* ---- a request's parameters ---- */

enum {
	P_LIMIT = 1 << 0,
	P_STEP = 1 << 1,
	P_FG = 1 << 2,		/* width, min_width, title, reverse, icicle */
	P_Z = 1 << 3,
	P_DOWNLOAD = 1 << 4,
};

struct api {
	struct serve *srv;
	struct http_response *resp;
	unsigned int params;
	bool two;			/* base. and new. selectors */
	struct selector sel[2];		/* [0]: the selection, or base; [1]: new */
	long limit;
	long step;
	double z;
	bool download;
	struct flamegraph_opts fo;
	const char *focus;		/* a frame's path, root first, ';' between names */
	bool bad;			/* resp holds a 400 */
};

static int bad_param(struct api *a, const char *key, const char *value, const char *hint)
{
	a->bad = true;
	return http_response__error(a->resp, 400, key, "invalid %s '%s': %s", key, value, hint) ?:
	       1;
}

static int parse_flag(struct api *a, const char *key, const char *value, bool *out)
{
	if (!strcmp(value, "") || !strcmp(value, "1") || !strcmp(value, "true"))
		*out = true;
	else if (!strcmp(value, "0") || !strcmp(value, "false"))
		*out = false;
	else
		return bad_param(a, key, value, "use 1 or 0");
	return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !(v >= lo && v <= hi))
		return -EINVAL;
	*out = v;
	return 0;
}

static int one_arg(void *ctx, const char *key, const char *value)
{
	struct api *a = ctx;
	struct selector *s = &a->sel[0];
	const char *name = key;
	char msg[256], opt[32];
	double d;
	int err;

	if (!strcmp(key, "token"))
		return 0;
	if (a->two) {
		if (!strncmp(key, "base.", 5)) {
			name = key + 5;
		} else if (!strncmp(key, "new.", 4)) {
			name = key + 4;
			s = &a->sel[1];
		}
	}
	if (name != key || !a->two) {
		snprintf(opt, sizeof(opt), "%s", strcmp(name, "build_id") ? name : "build-id");
		err = strcmp(opt, "db") ? selector__set(s, opt, value, msg, sizeof(msg)) : 1;
		if (err < 0)
			return bad_param(a, key, value, msg);
		if (!err)
			return 0;
		if (name != key) {
			a->bad = true;
			return http_response__error(a->resp, 400, key, "unknown parameter '%s'", key) ?: 1;
		}
	}
	if ((a->params & P_LIMIT) && !strcmp(key, "limit")) {
		if (parse_int_range(value, 0, 1000000, &a->limit))
			return bad_param(a, key, value, "give 0 to 1000000 rows");
	} else if ((a->params & P_STEP) && !strcmp(key, "step")) {
		if (parse_int_range(value, 1, 366L * 86400, &a->step))
			return bad_param(a, key, value, "give 1 second to a year");
	} else if ((a->params & P_Z) && !strcmp(key, "z")) {
		if (parse_double(value, 0.001, 1000, &a->z))
			return bad_param(a, key, value, "give 0.001 to 1000");
	} else if ((a->params & P_FG) && !strcmp(key, "width")) {
		long w;

		if (parse_int_range(value, 100, 100000, &w))
			return bad_param(a, key, value, "give 100 to 100000 pixels");
		a->fo.width = w;
	} else if ((a->params & P_FG) && !strcmp(key, "min_width")) {
		if (parse_double(value, 0, 100000, &d))
			return bad_param(a, key, value, "give 0 to 100000 pixels");
		a->fo.min_width = d;
	} else if ((a->params & P_FG) && !strcmp(key, "max_frames")) {
		long n;

		if (parse_int_range(value, 100, 1000000, &n))
			return bad_param(a, key, value, "give 100 to 1000000 frames");
		a->fo.max_frames = n;
	} else if ((a->params & P_FG) && !strcmp(key, "focus")) {
		if (!*value)
			return bad_param(a, key, value, "give a frame's path, names joined by ';'");
		a->focus = value;
	} else if ((a->params & P_FG) && !strcmp(key, "title")) {
		a->fo.title = value;
	} else if ((a->params & P_FG) && !strcmp(key, "reverse")) {
		return parse_flag(a, key, value, &a->fo.reverse);
	} else if ((a->params & P_FG) && !strcmp(key, "icicle")) {
		return parse_flag(a, key, value, &a->fo.icicle);
	} else if ((a->params & P_DOWNLOAD) && !strcmp(key, "download")) {
		return parse_flag(a, key, value, &a->download);
	} else {
		a->bad = true;
		return http_response__error(a->resp, 400, key, "unknown parameter '%s'", key) ?: 1;
	}
	return 0;
}

/* ---- the store, one read-only connection per pool thread ---- */

static void free_store(void *st)
{
	store__free(st);
}

static struct store *thread_store(struct serve *srv)
{
	struct store *st = pthread_getspecific(srv->store_key);
	struct store_opts o = { .quiet = true };

	if (st)
		return st;
	st = store__open(srv->db_path, &o);
	if (st && pthread_setspecific(srv->store_key, st)) {
		store__free(st);
		errno = ENOMEM;
		return NULL;
	}
	return st;
}

static int resolve_last(struct api *a, struct store *st, struct selector *s)
{
	int err;

	if (!s->last_run)
		return 0;
	err = store__last_run(st, &s->sel.run_id);
	if (!err && !s->sel.run_id) {
		a->bad = true;
		return http_response__error(a->resp, 400, "run", "the store holds no runs") ?: 1;
	}
	return err;
}

static int load_agg(struct api *a, struct selector *s, struct stack_agg **out)
{
	struct store *st = thread_store(a->srv);
	struct stack_agg *agg;
	int err;

	if (!st)
		return -errno;
	err = resolve_last(a, st, s);
	if (err)
		return err;
	agg = stack_agg__new();
	if (!agg)
		return -ENOMEM;
	err = selector__fill(s, st, agg);
	if (err) {
		stack_agg__free(agg);
		return err;
	}
	*out = agg;
	return 0;
}

/* ---- JSON ---- */

/*
 * A name as a JSON string; bytes that are not UTF-8 become U+FFFD, as in the
 * SVG, so a name the page sends back (focus=) is the one the graph shows.
 */
static json_t *json_name(const char *s)
{
	struct strbuf clean = STRBUF_INIT;
	json_t *j = json_string(s);

	if (j)
		return j;
	if (!utf8_clean(&clean, s, strlen(s)))
		j = json_stringn(clean.buf ? clean.buf : "", clean.len);
	strbuf__release(&clean);
	return j;
}

static int send_json(struct api *a, json_t *j)
{
	char *txt;
	int err;

	if (!j)
		return -ENOMEM;
	txt = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(j);
	if (!txt)
		return -ENOMEM;
	a->resp->type = "application/json";
	err = strbuf__adds(&a->resp->body, txt) ?: strbuf__addch(&a->resp->body, '\n');
	free(txt);
	return err;
}

/* ---- endpoints ---- */

struct runs_ctx {
	json_t *runs;
	__s64 first, last;
};

static int add_run(void *ctx, const struct store_run_info *ri)
{
	struct runs_ctx *c = ctx;
	json_t *labels = json_array(), *r;
	int i;

	/* one by one: ri->labels joins them with ',', which a value may hold */
	for (i = 0; labels && i < ri->nr_labels; i++) {
		if (json_array_append_new(labels, json_name(ri->label_list[i]))) {
			json_decref(labels);
			return -ENOMEM;
		}
	}
	r = json_pack("{s:I,s:o,s:o,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "id", (json_int_t)ri->id,
		      "kind", json_name(ri->kind), "host", json_name(ri->host),
		      "cmdline", json_name(ri->cmdline), "freq", (json_int_t)ri->freq,
		      "start_ms", (json_int_t)ri->start_ms, "end_ms", (json_int_t)ri->end_ms,
		      "first_ts", (json_int_t)ri->first_ts, "last_ts", (json_int_t)ri->last_ts,
		      "samples", (json_int_t)ri->samples, "labels", labels);
	if (!r || json_array_append_new(c->runs, r))
		return -ENOMEM;
	if (ri->samples && (!c->first || ri->first_ts < c->first))
		c->first = ri->first_ts;
	if (ri->samples && ri->last_ts > c->last)
		c->last = ri->last_ts;
	return 0;
}

static int list_runs(struct api *a, struct runs_ctx *c)
{
	struct store *st = thread_store(a->srv);
	int err;

	c->runs = json_array();
	if (!c->runs)
		return -ENOMEM;
	if (!st)
		return -errno;
	err = resolve_last(a, st, &a->sel[0]);
	return err ?: store__list_runs(st, &a->sel[0].sel, add_run, c);
}

static int api_runs(struct api *a)
{
	struct runs_ctx c = {};
	int err = list_runs(a, &c);

	if (err) {
		json_decref(c.runs);
		return err;
	}
	return send_json(a, json_pack("{s:o}", "runs", c.runs));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The sorted keys of @set as a JSON array of strings. */
static json_t *sorted_keys(json_t *set)
{
	const char **keys = calloc(json_object_size(set) + 1, sizeof(*keys));
	json_t *out = json_array(), *v;
	const char *key;
	size_t n = 0, i;

	if (!keys || !out) {
		free(keys);
		json_decref(out);
		return NULL;
	}
	json_object_foreach(set, key, v)
		keys[n++] = key;
	qsort(keys, n, sizeof(*keys), cmp_str);
	for (i = 0; i < n; i++) {
		if (json_array_append_new(out, json_string(keys[i]))) {
			json_decref(out);
			out = NULL;
			break;
		}
	}
	free(keys);
	return out;
}

/* The distinct hosts or labels of the selected runs, sorted. */
static int distinct(struct api *a, const char *field, const char *name)
{
	struct runs_ctx c = {};
	json_t *set = json_object(), *r, *v, *out;
	size_t i, k;
	int err = set ? list_runs(a, &c) : -ENOMEM;

	json_array_foreach(c.runs, i, r) {
		json_t *vals = json_object_get(r, field);

		if (json_is_array(vals)) {
			json_array_foreach(vals, k, v)
				err = err ?: json_object_set(set, json_string_value(v), json_true());
		} else {
			err = err ?: json_object_set(set, json_string_value(vals), json_true());
		}
	}
	json_decref(c.runs);
	out = err ? NULL : sorted_keys(set);
	json_decref(set);
	if (err)
		return err;
	return send_json(a, out ? json_pack("{s:o}", name, out) : NULL);
}

static int api_hosts(struct api *a)
{
	return distinct(a, "host", "hosts");
}

static int api_labels(struct api *a)
{
	return distinct(a, "labels", "labels");
}

static int add_comm(void *ctx, const char *build_id, const char *comm, __u64 samples)
{
	const char *name = comm[0] ? comm : "[unknown comm]";
	json_t *prev = json_object_get(ctx, name);

	(void)build_id;
	/* the name as stored, UTF-8 or not: json_name() makes it JSON on the way out */
	return json_object_set_new_nocheck(ctx, name, json_real((prev ? json_real_value(prev) : 0) +
								 (double)samples)) ? -ENOMEM : 0;
}

/*
 * The process names with their samples (the page sorts them): summed by the
 * store over the executables (store__query_builds), no stack read.
 */
static int api_comms(struct api *a)
{
	json_t *counts = json_object(), *out = json_array(), *v;
	struct store *st = counts && out ? thread_store(a->srv) : NULL;
	int err = !counts || !out ? -ENOMEM : !st ? -errno : 0;
	const char *key;

	err = err ?: store__query_builds(st, &a->sel[0].sel, add_comm, counts);
	json_object_foreach(counts, key, v) {
		json_t *row = err ? NULL : json_pack("{s:o,s:f}", "name", json_name(key),
						      "samples", json_real_value(v));

		if (!err && (!row || json_array_append_new(out, row)))
			err = -ENOMEM;
	}
	json_decref(counts);
	if (err) {
		json_decref(out);
		return err;
	}
	return send_json(a, json_pack("{s:o}", "comms", out));
}

struct timeline_ctx {
	json_t *points;
};

static int add_point(void *ctx, __s64 ts, __u64 count)
{
	struct timeline_ctx *c = ctx;

	return json_array_append_new(c->points, json_pack("[I,I]", (json_int_t)ts,
							  (json_int_t)count)) ? -ENOMEM : 0;
}

/*
 * Samples over time. Without step= the range (since and until, else the
 * selected runs' samples) is cut into about 200 points.
 */
static int api_timeline(struct api *a)
{
	struct runs_ctx rc = {};
	struct timeline_ctx c = { .points = json_array() };
	struct store_selector *sel = &a->sel[0].sel;
	struct store *st;
	__s64 since, until, step = a->step;
	int err;

	err = c.points ? list_runs(a, &rc) : -ENOMEM;
	json_decref(rc.runs);
	since = sel->since ? sel->since : rc.first;
	until = sel->until ? sel->until : rc.last + 1;
	if (!step)
		step = until > since ? (until - since + 199) / 200 : 1;
	st = err ? NULL : thread_store(a->srv);
	if (!err && !st)
		err = -errno;
	err = err ?: store__query_timeline(st, sel, step, add_point, &c);
	if (err) {
		json_decref(c.points);
		return err;
	}
	return send_json(a, json_pack("{s:I,s:I,s:I,s:o}", "since", (json_int_t)since,
				      "until", (json_int_t)until, "step", (json_int_t)step,
				      "points", c.points));
}

static int add_build(void *ctx, const char *build_id, const char *comm, __u64 samples)
{
	json_t *row = json_pack("{s:o,s:o,s:I}", "build_id", json_name(build_id),
				"comm", json_name(comm), "samples", (json_int_t)samples);

	return !row || json_array_append_new(ctx, row) ? -ENOMEM : 0;
}

/* The executables (build id, process name) behind the selection, most samples first. */
static int api_builds(struct api *a)
{
	json_t *rows = json_array();
	struct store *st = rows ? thread_store(a->srv) : NULL;
	int err = !rows ? -ENOMEM : !st ? -errno : 0;

	err = err ?: store__query_builds(st, &a->sel[0].sel, add_build, rows);
	if (err) {
		json_decref(rows);
		return err;
	}
	return send_json(a, json_pack("{s:o}", "builds", rows));
}

static int top_json(struct api *a, const struct stack_agg *agg)
{
	struct top_entry *top;
	json_t *rows = json_array();
	size_t n, i;
	int err = rows ? stack_agg__top(agg, true, &top, &n) : -ENOMEM;

	if (err) {
		json_decref(rows);
		return err;
	}
	for (i = 0; i < n && (a->limit <= 0 || i < (size_t)a->limit) && !err; i++) {
		json_t *r = json_pack("{s:o,s:f,s:f}", "name", json_name(top[i].name),
				      "self", top[i].self, "total", top[i].total);

		err = !r || json_array_append_new(rows, r) ? -ENOMEM : 0;
	}
	free(top);
	if (err) {
		json_decref(rows);
		return err;
	}
	return send_json(a, json_pack("{s:f,s:I,s:I,s:o}", "total", stack_agg__total(agg),
				      "stacks", (json_int_t)stack_agg__nr_stacks(agg),
				      "functions", (json_int_t)n, "rows", rows));
}

/* Text that a function writes to a FILE, into the response. */
static int to_body(struct api *a, int (*fn)(const struct stack_agg *, long, FILE *),
		   const struct stack_agg *agg, long arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int err;

	if (!f)
		return -errno;
	err = fn(agg, arg, f);
	if (fclose(f))
		err = err ?: -ENOMEM;
	err = err ?: strbuf__add(&a->resp->body, buf, len);
	free(buf);
	return err;
}

static int write_folded(const struct stack_agg *agg, long unused, FILE *f)
{
	(void)unused;
	return stack_agg__write_folded(agg, f);
}

/* @path's names in the other order, into @out (as long as @path): "a;b;c" -> "c;b;a". */
static void reverse_path(const char *path, size_t len, char *out)
{
	size_t o = 0, end = len;

	for (;;) {
		const char *p = memrchr(path, ';', end);
		size_t start = p ? (size_t)(p - path) + 1 : 0;

		memcpy(out + o, path + start, end - start);
		o += end - start;
		if (!p)
			break;
		out[o++] = ';';
		end = p - path;
	}
	out[len] = '\0';
}

/*
 * The stacks of @in that pass through the frame @path (its names from the
 * root, ';' between them, as a graph's frames are): those that start with
 * it, or with @reverse (a graph merged leaf first), those that end with it
 * backwards. The graph of what is left draws that frame's whole subtree at
 * the full width, so frames pruned from the graph of everything are there.
 */
static int focus_agg(const struct stack_agg *in, const char *path, bool reverse,
		     struct stack_agg **out)
{
	struct stack_agg *agg = stack_agg__new();
	size_t plen = strlen(path), i, len;
	char *want = malloc(plen + 1);
	struct strbuf clean = STRBUF_INIT;
	const char *stack;
	double count;
	int err = agg && want ? 0 : -ENOMEM;

	if (!err && reverse)
		reverse_path(path, plen, want);
	else if (!err)
		memcpy(want, path, plen + 1);
	for (i = 0; !err && stack_agg__get(in, i, &stack, &count); i++) {
		const char *raw = stack;

		len = strlen(stack);
		/* the page names frames as the graph drew them: bytes not UTF-8 as U+FFFD */
		if (!utf8_is_valid(stack, len)) {
			strbuf__setlen(&clean, 0);
			err = utf8_clean(&clean, stack, len);
			if (err)
				break;
			stack = clean.buf;
			len = clean.len;
		}
		if (len < plen)
			continue;
		if (reverse ? memcmp(stack + len - plen, want, plen) ||
			      (len > plen && stack[len - plen - 1] != ';')
			    : memcmp(stack, want, plen) || (len > plen && stack[plen] != ';'))
			continue;
		err = stack_agg__add(agg, raw, strlen(raw), count);
	}
	free(want);
	strbuf__release(&clean);
	if (err) {
		stack_agg__free(agg);
		return err;
	}
	*out = agg;
	return 0;
}

/* With focus=, the selection narrowed to the stacks through that frame. */
static int apply_focus(struct api *a, struct stack_agg **agg)
{
	struct stack_agg *f;
	int err;

	if (!a->focus)
		return 0;
	err = focus_agg(*agg, a->focus, a->fo.reverse, &f);
	if (err)
		return err;
	stack_agg__free(*agg);
	*agg = f;
	return 0;
}

enum api_kind { K_TOP, K_TOP_TXT, K_FOLDED, K_SVG };

static int with_agg(struct api *a, enum api_kind kind)
{
	struct stack_agg *agg = NULL;
	int err = load_agg(a, &a->sel[0], &agg);

	if (err)
		return err;
	switch (kind) {
	case K_TOP:
		err = top_json(a, agg);
		break;
	case K_TOP_TXT:
		/* as 'profile top': 20 rows unless asked; limit=0 is every row, as in the JSON */
		err = to_body(a, write_top_report, agg,
			      a->limit < 0 ? 20 : a->limit ? a->limit : LONG_MAX);
		break;
	case K_FOLDED:
		err = to_body(a, write_folded, agg, 0);
		if (a->download)
			a->resp->filename = "profile.folded";
		break;
	case K_SVG:
		err = apply_focus(a, &agg) ?: flamegraph__render(agg, &a->fo, &a->resp->body);
		a->resp->type = "image/svg+xml";
		a->resp->csp = SVG_CSP;
		if (a->download)
			a->resp->filename = "flamegraph.svg";
		break;
	}
	stack_agg__free(agg);
	return err;
}

static int api_top(struct api *a)
{
	return with_agg(a, K_TOP);
}

static int api_top_txt(struct api *a)
{
	return with_agg(a, K_TOP_TXT);
}

static int api_folded(struct api *a)
{
	return with_agg(a, K_FOLDED);
}

static int api_flamegraph(struct api *a)
{
	return with_agg(a, K_SVG);
}

/*
 * pprof from the selection's frames, as `profile export --format pprof
 * store:...` writes it: binaries with build ids, addresses, source lines,
 * process, pid and host labels, CPU time at the runs' frequency.
 */
static int api_pprof(struct api *a)
{
	struct export_opts eo = { .name = "profile" };
	struct store *st = thread_store(a->srv);
	struct export_profile *p;
	long freq = 0;
	int err;

	if (!st)
		return -errno;
	err = resolve_last(a, st, &a->sel[0]);
	if (err)
		return err;
	p = export_profile__new();
	if (!p)
		return -ENOMEM;
	err = input__store_profile(st, &a->sel[0].sel, p, &freq);
	/*
	 * as the CLI: 99 Hz when no run says; runs at different frequencies
	 * (-1), which the CLI refuses without --freq, give plain sample counts
	 */
	eo.period_ns = freq < 0 ? 0 : 1e9 / (freq ? freq : 99);
	eo.counts_are_ns = freq == STORE_FREQ_NS;
	err = err ?: export_profile__pprof(p, &eo, &a->resp->body);
	export_profile__free(p);
	a->resp->type = "application/octet-stream";
	a->resp->filename = "profile.pb.gz";
	return err;
}

static int diff_json(struct api *a, const struct stack_agg *base, const struct stack_agg *new)
{
	struct diff_entry *e;
	json_t *rows = json_array();
	size_t nr, i;
	int err = rows ? stack_agg__diff_top(base, new, false, &e, &nr) : -ENOMEM;

	if (err) {
		json_decref(rows);
		return err;
	}
	for (i = 0; i < nr && (a->limit <= 0 || i < (size_t)a->limit) && !err; i++) {
		json_t *r = json_pack("{s:o,s:f,s:f,s:f,s:f,s:f,s:f,s:b}", "name",
				      json_name(e[i].name), "base_self", e[i].base_self,
				      "new_self", e[i].new_self, "base_total", e[i].base_total,
				      "new_total", e[i].new_total, "z_self", e[i].z_self,
				      "z_total", e[i].z_total, "significant",
				      fabs(e[i].z_self) >= a->z || fabs(e[i].z_total) >= a->z);

		err = !r || json_array_append_new(rows, r) ? -ENOMEM : 0;
	}
	free(e);
	if (err) {
		json_decref(rows);
		return err;
	}
	return send_json(a, json_pack("{s:f,s:f,s:f,s:I,s:o}", "base_total",
				      stack_agg__total(base), "new_total", stack_agg__total(new),
				      "z", a->z, "functions", (json_int_t)nr, "rows", rows));
}

static int with_two(struct api *a, bool svg)
{
	struct stack_agg *base = NULL, *new = NULL;
	struct diff_opts d = { .fg = a->fo, .z = a->z };
	int err = load_agg(a, &a->sel[0], &base);

	err = err ?: load_agg(a, &a->sel[1], &new);
	if (!err && svg)
		err = apply_focus(a, &base) ?: apply_focus(a, &new);
	if (!err && svg) {
		err = flamegraph__render_diff(base, new, &d, &a->resp->body);
		a->resp->type = "image/svg+xml";
		a->resp->csp = SVG_CSP;
		if (a->download)
			a->resp->filename = "diff.svg";
	} else if (!err) {
		err = diff_json(a, base, new);
	}
	stack_agg__free(base);
	stack_agg__free(new);
	return err;
}

static int api_diff(struct api *a)
{
	return with_two(a, false);
}

static int api_diff_svg(struct api *a)
{
	return with_two(a, true);
}

static const struct endpoint {
	const char *path;
	int (*fn)(struct api *a);
	unsigned int params;
	bool two;
} endpoints[] = {
	{ "/api/runs", api_runs, 0, false },
	{ "/api/hosts", api_hosts, 0, false },
	{ "/api/labels", api_labels, 0, false },
	{ "/api/comms", api_comms, 0, false },
	{ "/api/builds", api_builds, 0, false },
	{ "/api/timeline", api_timeline, P_STEP, false },
	{ "/api/top", api_top, P_LIMIT, false },
	{ "/api/top.txt", api_top_txt, P_LIMIT, false },
	{ "/api/folded", api_folded, P_DOWNLOAD, false },
	{ "/api/flamegraph.svg", api_flamegraph, P_FG | P_DOWNLOAD, false },
	{ "/api/pprof", api_pprof, 0, false },
	{ "/api/diff", api_diff, P_LIMIT | P_Z, true },
	{ "/api/diff.svg", api_diff_svg, P_FG | P_Z | P_DOWNLOAD, true },
};

static int handle(void *ctx, const struct http_request *req, struct http_response *resp)
{
	const char *path = http_request__path(req);
	const struct endpoint *e = NULL;
	struct api a = {
		.srv = ctx, .resp = resp, .z = 3, .limit = -1,
		.fo = { .min_width = 0.1, .width = 1200, .max_frames = SERVE_MAX_FRAMES },
	};
	size_t i;
	int err;

	for (i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
		if (!strcmp(path, endpoints[i].path))
			e = &endpoints[i];
	}
	if (!e)
		return http_response__error(resp, 404, NULL, "no such API path");
	a.params = e->params;
	a.two = e->two;
	err = http_request__each_arg(req, one_arg, &a);
	if (!a.bad && !err)
		err = e->fn(&a);
	if (err == 1 || a.bad)
		err = 0;
	if (err == -EBADMSG)
		err = http_response__error(resp, 500, NULL, "the database is damaged");
	selector__release(&a.sel[0]);
	selector__release(&a.sel[1]);
	return err;
}

/* ---- the command ---- */

static int read_token(const char *path, char **out)
{
	FILE *f = input__open(path);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		return -errno;
	n = getline(&line, &cap, f);
	fclose(f);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
		line[--n] = '\0';
	if (n < 16) {
		pr_warn("'%s' holds no token of 16 characters or more", path);
		free(line);
		return -EINVAL;
	}
	*out = line;
	return 0;
}

/* "ADDR:PORT", "[V6ADDR]:PORT" or ":PORT" (loopback). */
static int parse_listen(const char *spec, struct sockaddr_storage *ss, bool *loopback)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_PASSIVE }, *res;
	const char *colon = strrchr(spec, ':');
	char host[256];
	size_t hl;
	int rc;

	if (!colon || !colon[1]) {
		pr_warn("invalid --listen '%s': use ADDR:PORT, e.g. 127.0.0.1:8080", spec);
		return -EINVAL;
	}
	hl = colon - spec;
	if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']') {
		spec++;
		hl -= 2;
	}
	if (hl >= sizeof(host)) {
		pr_warn("invalid --listen: the address is too long");
		return -EINVAL;
	}
	memcpy(host, spec, hl);
	host[hl] = '\0';
	rc = getaddrinfo(hl ? host : "127.0.0.1", colon + 1, &hints, &res);
	if (rc) {
		pr_warn("invalid --listen '%s': %s", colon + 1 - hl - 1, gai_strerror(rc));
		return -EINVAL;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (ss->ss_family == AF_INET)
		*loopback = (ntohl(((struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	else
		*loopback = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)ss)->sin6_addr);
	return 0;
}

static void print_url(const struct sockaddr_storage *ss, int port)
{
	char addr[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, addr, sizeof(addr));
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, addr,
			  sizeof(addr));
	printf(ss->ss_family == AF_INET6 ? "profile serve: listening on http://[%s]:%d/\n"
					 : "profile serve: listening on http://%s:%d/\n",
	       addr, port);
	fflush(stdout);
}

int cmd_serve(int argc, char **argv)
{
	const char *db = NULL, *listen = "127.0.0.1:8080", *token_file = NULL;
	struct sockaddr_storage ss = {};
	struct serve srv = {};
	struct http_server_opts o = {};
	struct http_server *hs;
	struct store *st;
	char *path = NULL, *token = NULL, msg[256];
	bool loopback = true;
	long threads = 4, idle = 60;
	sigset_t set;
	int err, first, sig;
	const struct option_def opts[] = {
		OPT_DB(&db, "the database to serve"),
		OPT_STRING(0, "listen", &listen, "ADDR:PORT",
			   "where to listen (default 127.0.0.1:8080; port 0 picks a free one)"),
		OPT_STRING(0, "auth-token", &token_file, "FILE",
			   "require the token in FILE (16 characters or more) with every /api/ request"),
		OPT_LONG(0, "threads", &threads, "N", "thread count", 1, 64,
			 "requests answered at once (default 4)"),
		OPT_LONG(0, "idle-timeout", &idle, "S", "idle timeout", 1, 3600,
			 "close a connection silent for S seconds while it sends its request or reads the answer (default 60; waiting for an answer does not count)"),
		OPT_END(),
	};

	err = parse_options(&serve_cmd, opts, argc, argv, &first);
	if (err)
		return err > 0 ? 0 : EXIT_USAGE;
	if (parse_listen(listen, &ss, &loopback))
		return EXIT_USAGE;
	if (token_file && read_token(token_file, &token))
		return EXIT_USAGE;
	path = db ? strdup(db) : store__default_path();
	if (!path)
		return EXIT_FAILURE;
	/* the database must be there and readable before we listen */
	st = store__open(path, NULL);
	if (!st) {
		free(path);
		free(token);
		return EXIT_FAILURE;
	}
	store__free(st);
	if (!loopback && !token)
		pr_warn("listening on '%s' without --auth-token: anyone who can connect reads every stored profile",
			listen);
	srv.db_path = path;
	if (pthread_key_create(&srv.store_key, free_store)) {
		free(path);
		free(token);
		return EXIT_FAILURE;
	}
	/* the pool's threads inherit the mask: the signals come to sigwait() */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	o.addr = (struct sockaddr *)&ss;
	o.threads = threads;
	o.idle_timeout = idle;
	o.auth_token = token;
	o.assets = serve_assets;
	o.nr_assets = serve_nr_assets;
	o.handler = handle;
	o.ctx = &srv;
	hs = http_server__start(&o, msg, sizeof(msg));
	if (!hs) {
		pr_warn("cannot listen on '%s': %s", listen, msg);
		err = -EADDRNOTAVAIL;
	} else {
		print_url(&ss, http_server__port(hs));
		sigwait(&set, &sig);
		pr_info("stopping on signal %d", sig);
		http_server__stop(hs);
	}
	free(path);
	free(token);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
