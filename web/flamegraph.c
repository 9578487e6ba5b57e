// SPDX-License-Identifier: GPL-2.0
/*
 * SVG flame graph renderer. Stages: merge the stacks into the frame tree
 * while reading (ftree.c), sort each node's children by name (or keep their
 * order for a flame chart), lay them out left to right (width proportional
 * to inclusive counts), prune frames narrower than min_width pixels (their
 * counts still make up the parent's width), draw.
 *
 * Frames are drawn in depth-first pre-order and each carries the index just
 * past its drawn subtree (data-e) and its parent's index (data-p). The page
 * script uses that to zoom and search touching only the frames that change:
 * a zoom repositions the zoomed subtree and its ancestors and hides the rest
 * with one class on the container; a search recolours only frames whose
 * match changed. That keeps both fast at tens of thousands of frames.
 *
 * Frame names only ever reach the page as escaped XML text or attribute
 * values, and the script only assigns them with textContent, so a name
 * cannot inject markup or script.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "web_internal.h"
#include "common/strbuf.h"
#include "common/strset.h"
#include "common/log.h"

#define FRAME_HEIGHT 16
#define FONT_SIZE 12
#define CHAR_WIDTH (FONT_SIZE * 0.59)
#define PAD_X 10
#define PAD_TOP 60
#define PAD_BOTTOM 34
#define LEGEND_LINE 16

struct flamegraph {
	struct flamegraph_opts o;
	struct ftree t;
	bool done;
};

void flamegraph_opts__resolve(struct flamegraph_opts *o, const struct flamegraph_opts *in)
{
	static const struct flamegraph_opts defaults = {
		.title = "Flame Graph", .count_name = "samples", .width = 1200, .min_width = 0.1,
	};

	*o = defaults;
	if (!in)
		return;
	*o = *in;
	o->title = in->title ? in->title : defaults.title;
	o->count_name = in->count_name ? in->count_name : defaults.count_name;
	o->width = in->width > 2 * PAD_X + 10 ? in->width : defaults.width;
	o->min_width = in->min_width >= 0 ? in->min_width : defaults.min_width;
}

struct flamegraph *flamegraph__new(const struct flamegraph_opts *opts)
{
	struct flamegraph *fg = calloc(1, sizeof(*fg));

	if (!fg)
		goto err;
	flamegraph_opts__resolve(&fg->o, opts);
	if (ftree__init(&fg->t, fg->o.chart, fg->o.reverse)) {
		free(fg);
		goto err;
	}
	return fg;
err:
	errno = ENOMEM;
	return NULL;
}

void flamegraph__free(struct flamegraph *fg)
{
	if (!fg)
		return;
	ftree__release(&fg->t);
	free(fg);
}

int flamegraph__add(struct flamegraph *fg, const char *stack, size_t len, double count)
{
	if (!len || !isfinite(count) || count <= 0 || fg->done)
		return -EINVAL;
	return ftree__add(&fg->t, stack, len, count, 0);
}

int flamegraph__add_agg(struct flamegraph *fg, const struct stack_agg *agg)
{
	return fg->done ? -EINVAL : ftree__add_agg(&fg->t, agg, 0);
}

static int add_line(void *ctx, const char *stack, size_t len, double count)
{
	return flamegraph__add(ctx, stack, len, count);
}

static int add_tree_line(void *ctx, const char *stack, size_t len, double count)
{
	if (!len || !isfinite(count) || count <= 0)
		return -EINVAL;
	return ftree__add(ctx, stack, len, count, 0);
}

#define READ_THREADS_MAX 4	/* each part's tree may hold every distinct frame */

/*
 * A large file is read in parts, one thread a core: each part builds a tree
 * of its own, merged into ours at the end (the order of the stacks does not
 * matter but in a chart, which is read in one piece).
 */
int flamegraph__read_folded(struct flamegraph *fg, FILE *f, const char *name, size_t *bad)
{
	struct ftree extra[READ_THREADS_MAX - 1];
	void *ctxs[READ_THREADS_MAX];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nr = cpus > READ_THREADS_MAX ? READ_THREADS_MAX : cpus > 1 ? cpus : 1, i, ok = 0;
	int err = 1;

	if (fg->done)
		return -EINVAL;
	if (nr > 1 && !fg->o.chart) {
		ctxs[0] = &fg->t;
		for (ok = 0; ok < nr - 1; ok++) {
			if (ftree__init(&extra[ok], false, fg->o.reverse))
				break;
			ctxs[ok + 1] = &extra[ok];
		}
		if (ok == nr - 1)
			err = folded__read_parts(f, name, nr, add_tree_line, ctxs, bad);
		for (i = 0; i < ok; i++) {
			if (!err)
				err = ftree__merge(&fg->t, &extra[i], 0);
			ftree__release(&extra[i]);
		}
	}
	if (err == 1)
		err = folded__read(f, name, add_line, fg, bad);
	return err;
}

double flamegraph__total(const struct flamegraph *fg)
{
	return fg->t.nodes[0].val[0];
}

/* ---- colours ---- */

static bool has_suffix(const char *s, size_t len, const char *suf)
{
	size_t n = strlen(suf);

	return len >= n && !memcmp(s + len - n, suf, n);
}

void fg__palette_color(enum flamegraph_palette pal, const char *name, size_t len, int depth,
		       char *buf, size_t size)
{
	enum { USER, KERNEL, INLINED, JIT, PYTHON } kind = USER;
	double v1, v2, v3;
	uint64_t h;

	if (depth == 0 || (len >= 9 && !memcmp(name, "[unknown]", 9))) {
		snprintf(buf, size, "rgb(%d,%d,%d)", 190, 190, 196);
		return;
	}
	if (has_suffix(name, len, "_[k]"))
		kind = KERNEL;
	else if (has_suffix(name, len, "_[i]"))
		kind = INLINED;
	else if (has_suffix(name, len, "_[j]"))
		kind = JIT;
	else if (has_suffix(name, len, "_[p]"))
		kind = PYTHON;
	/* colour by the name without its kind suffix, so a name keeps its shade */
	h = str_hash(name, kind == USER ? len : len - 4);
	v1 = (h & 0xffff) / 65535.0;
	v2 = ((h >> 16) & 0xffff) / 65535.0;
	v3 = ((h >> 32) & 0xffff) / 65535.0;
	if (pal == FG_PALETTE_HOT)
		kind = USER;
	else if (pal == FG_PALETTE_COLD)
		kind = KERNEL;
	switch (kind) {
	case KERNEL:	/* blues */
		snprintf(buf, size, "rgb(%d,%d,%d)", (int)(70 + 60 * v1), (int)(130 + 70 * v2),
			 (int)(200 + 55 * v3));
		break;
	case INLINED:	/* teals */
		snprintf(buf, size, "rgb(%d,%d,%d)", (int)(60 + 50 * v1), (int)(190 + 50 * v2),
			 (int)(170 + 50 * v3));
		break;
	case JIT:	/* greens */
		snprintf(buf, size, "rgb(%d,%d,%d)", (int)(80 + 60 * v1), (int)(190 + 60 * v2),
			 (int)(60 + 50 * v3));
		break;
	case PYTHON:	/* violets */
		snprintf(buf, size, "rgb(%d,%d,%d)", (int)(150 + 50 * v1), (int)(100 + 50 * v2),
			 (int)(200 + 55 * v3));
		break;
	default:	/* warm reds to yellows */
		snprintf(buf, size, "rgb(%d,%d,%d)", (int)(215 + 40 * v1), (int)(70 + 150 * v2),
			 (int)(30 + 50 * v3));
	}
}

/* Bytes of @name that fit @width pixels, cut at a UTF-8 character boundary. */
static size_t fit_label(const char *name, size_t len, double width, bool *cut)
{
	double chars = floor((width - 6) / CHAR_WIDTH);
	size_t n;

	*cut = false;
	if (chars < 3)
		return 0;
	if (len <= chars)
		return len;
	n = (size_t)chars - 2;
	while (n > 0 && ((unsigned char)name[n] & 0xc0) == 0x80)
		n--;
	*cut = true;
	return n;
}

/* ---- page script ---- */

static const char SCRIPT[] =
	"\"use strict\";\n"
	"var W, PAD = 10, CHARW = 7.08, F = [], box, zoomer, hits, labels, zlabels, details, matched,\n"
	"    searchBtn, resetBtn, unit, total = 0, searching = null, parents = [];\n"
	"function init(evt) {\n"
	"  var svg = document.documentElement, rs, i, r, f;\n"
	"  W = +svg.getAttribute('width');\n"
	"  details = document.getElementById('details');\n"
	"  matched = document.getElementById('matched');\n"
	"  searchBtn = document.getElementById('search');\n"
	"  resetBtn = document.getElementById('unzoom');\n"
	"  box = document.getElementById('frames');\n"
	"  zoomer = document.getElementById('zoom');\n"
	"  hits = document.getElementById('hits');\n"
	"  unit = box.getAttribute('data-unit');\n"
	"  labels = document.getElementById('labels');\n"
	"  zlabels = document.getElementById('zlabels');\n"
	"  rs = box.children;\n"
	"  for (i = 0; i < rs.length; i++) {\n"
	"    r = rs[i];\n"
	"    f = { r: r, n: r.getAttribute('data-n'), x: +r.getAttribute('data-x'),\n"
	"          v: +r.getAttribute('data-v'), e: +r.getAttribute('data-e'),\n"
	"          p: +r.getAttribute('data-p'), y: +r.getAttribute('y'),\n"
	"          px: +r.getAttribute('x'), pw: +r.getAttribute('width') };\n"
	"    r._i = i; F.push(f);\n"
	"  }\n"
	"  total = F.length ? F[0].v : 0;\n"
	"  box.addEventListener('click', function (e) {\n"
	"    if (e.target._i !== undefined) zoom(e.target._i);\n"
	"  });\n"
	"  box.addEventListener('mouseover', function (e) {\n"
	"    if (e.target._i !== undefined) details.textContent = describe(e.target._i);\n"
	"  });\n"
	"  box.addEventListener('mouseout', function () { details.textContent = ' '; });\n"
	"  resetBtn.addEventListener('click', unzoom);\n"
	"  searchBtn.addEventListener('click', function () {\n"
	"    if (searching !== null) clearSearch(); else askSearch();\n"
	"  });\n"
	"  window.addEventListener('keydown', function (e) {\n"
	"    if ((e.ctrlKey || e.metaKey) && e.key === 'f') { e.preventDefault(); askSearch(); }\n"
	"    else if (e.key === 'Escape') clearSearch();\n"
	"  });\n"
	"}\n"
	"function describe(i) {\n"
	"  var f = F[i], v = f.v === Math.floor(f.v) ? String(f.v) : f.v.toFixed(3);\n"
	"  return f.n + ' (' + v + ' ' + unit + ', ' + (100 * f.v / total).toFixed(2) + '%)' +\n"
	"         (f.r.getAttribute('data-note') || '');\n"
	"}\n"
	"function label(frag, f, x, w) {\n"
	"  var n = Math.floor((w - 6) / CHARW), t;\n"
	"  if (n < 3) return;\n"
	"  t = document.createElementNS('http://www.w3.org/2000/svg', 'text');\n"
	"  t.setAttribute('x', (x + 3).toFixed(2)); t.setAttribute('y', f.y + 11.5);\n"
	"  t.textContent = f.n.length <= n ? f.n : f.n.substr(0, n - 2) + '..';\n"
	"  frag.appendChild(t);\n"
	"}\n"
	/*
	 * Zoom moves every frame at once with one transform on the frames group
	 * (the clip hides what falls outside), and labels only the frames wide
	 * enough to carry one: the DOM work does not grow with the frame count.
	 */
	"function zoom(i) {\n"
	"  var z = F[i], k, f, s, w, frag;\n"
	"  while (parents.length) F[parents.pop()].r.classList.remove('parent');\n"
	"  zlabels.textContent = '';\n"
	"  if (!z || i === 0) {\n"
	"    zoomer.removeAttribute('transform'); labels.style.display = '';\n"
	"    resetBtn.style.opacity = 0.3; return;\n"
	"  }\n"
	"  s = total / z.v;\n"
	"  zoomer.setAttribute('transform', 'translate(' + (PAD - s * (PAD + z.x * (W - 2 * PAD) / total)) +\n"
	"                   ',0) scale(' + s + ',1)');\n"
	"  labels.style.display = 'none';\n"
	"  frag = document.createDocumentFragment();\n"
	"  for (k = z.p; k >= 0; k = F[k].p) {\n"
	"    F[k].r.classList.add('parent'); parents.push(k); label(frag, F[k], PAD, W - 2 * PAD);\n"
	"  }\n"
	"  s = (W - 2 * PAD) / z.v;\n"
	"  for (k = i; k < z.e; k++) {\n"
	"    f = F[k]; w = f.v * s;\n"
	"    if (w < 6 + 3 * CHARW) { k = f.e - 1; continue; }\n"
	"    label(frag, f, PAD + (f.x - z.x) * s, w);\n"
	"  }\n"
	"  zlabels.appendChild(frag);\n"
	"  resetBtn.style.opacity = 1;\n"
	"}\n"
	"function unzoom() { zoom(0); }\n"
	"function askSearch() {\n"
	"  var term = prompt('Search for (regular expression)', searching || '');\n"
	"  if (term) search(term);\n"
	"}\n"
	/*
	 * Matches are painted by one path over the frames: one DOM write per
	 * search. Matched frames that touch on the same row become one rectangle.
	 */
	"function search(term) {\n"
	"  var re, sum = 0, skip = 0, i, f, d = [], run = {}, y, r;\n"
	"  try { re = new RegExp(term); } catch (e) { matched.textContent = 'Bad regex: ' + e.message; return; }\n"
	"  function flush(r) { d.push('M' + r.x.toFixed(4) + ' ' + r.y + 'h' + r.w.toFixed(4) + 'v15h-' + r.w.toFixed(4) + 'z'); }\n"
	"  for (i = 0; i < F.length; i++) {\n"
	"    f = F[i];\n"
	"    if (!re.test(f.n)) continue;\n"
	"    r = run[f.y];\n"
	"    if (r && Math.abs(r.x + r.w - f.px) < 1e-3) r.w = f.px + f.pw - r.x;\n"
	"    else { if (r) flush(r); run[f.y] = { x: f.px, y: f.y, w: f.pw }; }\n"
	"    if (i >= skip) { sum += f.v; skip = f.e; }\n"
	"  }\n"
	"  for (y in run) flush(run[y]);\n"
	"  hits.setAttribute('d', d.join(''));\n"
	"  matched.textContent = 'Matched: ' + (total ? 100 * sum / total : 0).toFixed(2) + '%';\n"
	"  searching = term; searchBtn.textContent = 'Reset Search';\n"
	"  return sum;\n"
	"}\n"
	"function clearSearch() {\n"
	"  hits.setAttribute('d', '');\n"
	"  matched.textContent = ' '; searching = null; searchBtn.textContent = 'Search';\n"
	"}\n";

/* ---- drawing ---- */

static int draw_text(struct strbuf *sb, const char *attrs, const char *s, size_t len)
{
	int err = strbuf__addf(sb, "<text %s>", attrs);

	if (!err)
		err = xml_escape(sb, s, len);
	if (!err)
		err = strbuf__adds(sb, "</text>\n");
	return err;
}

static int draw_header(struct strbuf *sb, const struct fg_draw *d, int height)
{
	const struct flamegraph_opts *o = &d->o;
	int width = o->width, err;
	char attrs[128];

	err = strbuf__addf(sb,
		"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" onload=\"init(evt)\" "
		"xmlns=\"http://www.w3.org/2000/svg\">\n"
		"<style type=\"text/css\">\n"
		"text { font-family: monospace; font-size: %dpx; fill: #000; }\n"
		"#title { font-size: 17px; } #subtitle { fill: #555; }\n"
		".btn { cursor: pointer; fill: #236; } .btn:hover { text-decoration: underline; }\n"
		"rect.f:hover { stroke: #000; stroke-width: 0.5; vector-effect: non-scaling-stroke; cursor: pointer; }\n"
		"rect.parent { opacity: 0.55; }\n"
		"#labels, #zlabels, #hits { pointer-events: none; }\n"
		"%s"
		"</style>\n<script type=\"text/ecmascript\"><![CDATA[\n%s]]></script>\n"
		"<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" fill=\"#f6f6f0\"/>\n",
		width, height, width, height, FONT_SIZE, d->extra_css ? d->extra_css : "", SCRIPT);
	snprintf(attrs, sizeof(attrs), "id=\"title\" x=\"%d\" y=\"24\" text-anchor=\"middle\"",
		 width / 2);
	if (!err)
		err = draw_text(sb, attrs, o->title, strlen(o->title));
	if (!err && o->subtitle) {
		snprintf(attrs, sizeof(attrs),
			 "id=\"subtitle\" x=\"%d\" y=\"44\" text-anchor=\"middle\"", width / 2);
		err = draw_text(sb, attrs, o->subtitle, strlen(o->subtitle));
	}
	if (!err)
		err = strbuf__addf(sb,
			"<text id=\"unzoom\" class=\"btn\" x=\"%d\" y=\"24\" style=\"opacity:0.3\">Reset Zoom</text>\n"
			"<text id=\"search\" class=\"btn\" x=\"%d\" y=\"24\" text-anchor=\"end\">Search</text>\n"
			"<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n"
			"<text id=\"matched\" x=\"%d\" y=\"%d\" text-anchor=\"end\"> </text>\n",
			PAD_X, width - PAD_X, PAD_X, height - 12, width - PAD_X, height - 12);
	return err;
}

struct draw_state {
	const struct fg_draw *d;
	double scale;
	double cut;		/* frames of this value or less are left out (max_frames) */
	size_t nr_cut;		/* how many that left out */
	int max_depth;		/* of the drawn frames */
	int32_t *order;		/* drawn nodes, pre-order */
	int32_t *index;		/* node -> position in order, -1 when not drawn */
	int32_t *size;		/* node -> drawn frames in its subtree */
	size_t nr;
	struct strbuf note;
};

static bool is_drawn(const struct draw_state *s, int32_t id)
{
	double v = s->d->t->nodes[id].val[s->d->slot];

	return v > 0 && (id == 0 || (v * s->scale >= s->d->o.min_width && v > s->cut));
}

static int cmp_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * With max_frames, the value at or under which frames are left out so that
 * at most that many are drawn: the widest stay. A frame is never wider than
 * its parent, so what stays is whole subtrees' tops.
 */
static int find_cut(struct draw_state *s)
{
	const struct ftree *t = s->d->t;
	size_t keep = s->d->o.max_frames, n = 0;
	double *v;
	int32_t i;

	s->cut = -1;
	if (!keep)
		return 0;
	for (i = 1; i < (int32_t)t->nr; i++)
		n += is_drawn(s, i);
	if (n < keep)
		return 0;
	v = malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (n = 0, i = 1; i < (int32_t)t->nr; i++)
		if (is_drawn(s, i))
			v[n++] = t->nodes[i].val[s->d->slot];
	qsort(v, n, sizeof(*v), cmp_desc);
	/* the root is one of the frames: keep - 1 others, fewer when values tie */
	s->cut = v[keep - 1];
	for (i = keep - 1; i < (int32_t)n; i++)
		s->nr_cut++;
	while (keep > 1 && v[keep - 2] == s->cut) {
		keep--;
		s->nr_cut++;
	}
	free(v);
	return 0;
}

/* Pre-order of the drawn frames, each frame's drawn subtree size and depth. */
static int plan(struct draw_state *s)
{
	const struct ftree *t = s->d->t;
	int32_t *stk = malloc(t->nr * sizeof(*stk)), i;
	size_t top = 0;

	s->order = malloc(t->nr * sizeof(*s->order));
	s->index = malloc(t->nr * sizeof(*s->index));
	s->size = calloc(t->nr, sizeof(*s->size));
	if (!stk || !s->order || !s->index || !s->size) {
		free(stk);
		return -ENOMEM;
	}
	for (i = t->nr - 1; i >= 0; i--) {
		s->index[i] = -1;
		if (!is_drawn(s, i))
			continue;
		s->size[i]++;
		if (i)
			s->size[t->nodes[i].parent] += s->size[i];
	}
	stk[top++] = 0;
	while (top) {
		int32_t n = stk[--top], c;
		size_t first = top, a, b;

		if (!is_drawn(s, n))
			continue;
		s->index[n] = s->nr;
		s->order[s->nr++] = n;
		if (t->nodes[n].depth > s->max_depth)
			s->max_depth = t->nodes[n].depth;
		for (c = t->nodes[n].first_child; c >= 0; c = t->nodes[c].next_sibling)
			stk[top++] = c;
		/* children go on in order, come off reversed: flip them */
		for (a = first, b = top; a + 1 < b; a++, b--) {
			int32_t tmp = stk[a];

			stk[a] = stk[b - 1];
			stk[b - 1] = tmp;
		}
	}
	free(stk);
	return 0;
}

static double frame_y(const struct draw_state *s, const struct fnode *n)
{
	if (s->d->o.icicle)
		return PAD_TOP + n->depth * FRAME_HEIGHT;
	return PAD_TOP + (s->max_depth - n->depth) * FRAME_HEIGHT;
}

/* @v in decimal at @p; the end. */
static char *put_uint(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_int(char *p, int v)
{
	if (v >= 0)
		return put_uint(p, v);
	*p++ = '-';
	return put_uint(p, -(int64_t)v);
}

char *fg__put_fixed(char *p, double v, int prec)
{
	static const uint64_t pow10[] = { 1, 10, 100, 1000, 10000 };
	double sc, fl, frac;
	uint64_t n, f;
	int i;

	if (prec < 0 || prec > 4 || !(v >= 0) || signbit(v) || v >= 1e5)
		return NULL;
	/*
	 * v * 10^prec is within 1.2e-7 of the exact product here, so only a
	 * fraction that close to one half could round otherwise than printf
	 * does (which rounds the exact binary value): those go to printf
	 */
	sc = v * pow10[prec];
	fl = floor(sc);
	frac = sc - fl;
	if (fabs(frac - 0.5) < 1e-6)
		return NULL;
	n = (uint64_t)fl + (frac > 0.5);
	p = put_uint(p, n / pow10[prec]);
	if (!prec)
		return p;
	*p++ = '.';
	f = n % pow10[prec];
	for (i = prec - 1; i >= 0; i--) {
		p[i] = '0' + f % 10;
		f /= 10;
	}
	return p + prec;
}

char *fg__put_count(char *p, double v)
{
	/* an integer below 1e10 is what "%.10g" prints of it */
	if (!(v >= 0) || signbit(v) || v >= 1e10 || v != floor(v))
		return NULL;
	return put_uint(p, (uint64_t)v);
}

/* The literal @s at @p; the end. */
static char *put_str(char *p, const char *s, size_t len)
{
	memcpy(p, s, len);
	return p + len;
}

#define PUT(p, lit) put_str(p, lit, sizeof(lit) - 1)

/*
 * A frame's rect up to its name, as "%.4f" and "%.10g" print its numbers,
 * without printf for the usual values; NULL when one needs printf.
 */
static char *put_rect(char *p, const struct draw_state *s, const struct fnode *n, int32_t id,
		      double v, const struct fg_style *st)
{
	size_t cls = st->cls ? strlen(st->cls) : 0, fill = strlen(st->fill);

	if (cls + fill > 200)
		return NULL;
	p = PUT(p, "<rect class=\"f");
	if (st->cls) {
		*p++ = ' ';
		p = put_str(p, st->cls, cls);
	}
	p = PUT(p, "\" x=\"");
	if (!(p = fg__put_fixed(p, PAD_X + n->x * s->scale, 4)))
		return NULL;
	p = PUT(p, "\" y=\"");
	if (!(p = fg__put_fixed(p, frame_y(s, n), 1)))
		return NULL;
	p = PUT(p, "\" width=\"");
	if (!(p = fg__put_fixed(p, v * s->scale, 4)))
		return NULL;
	p = PUT(p, "\" height=\"");
	p = put_int(p, FRAME_HEIGHT - 1);
	p = PUT(p, "\" fill=\"");
	p = put_str(p, st->fill, fill);
	p = PUT(p, "\" data-x=\"");
	if (!(p = fg__put_count(p, n->x)))
		return NULL;
	p = PUT(p, "\" data-v=\"");
	if (!(p = fg__put_count(p, v)))
		return NULL;
	p = PUT(p, "\" data-e=\"");
	p = put_int(p, s->index[id] + s->size[id]);
	p = PUT(p, "\" data-p=\"");
	p = put_int(p, id ? s->index[n->parent] : -1);
	return PUT(p, "\" data-n=\"");
}

static int draw_frame(struct strbuf *sb, struct draw_state *s, int32_t id)
{
	const struct fg_draw *d = s->d;
	const struct fnode *n = &d->t->nodes[id];
	double v = n->val[d->slot];
	struct fg_style st = { .note = &s->note };
	char line[512], *end;
	int err;

	strbuf__setlen(&s->note, 0);
	err = d->style(d->ctx, d->t, id, &st);
	if (err)
		return err;
	/* four decimals keep frames aligned when zoomed in ten thousand times */
	end = put_rect(line, s, n, id, v, &st);
	if (end)
		err = strbuf__add(sb, line, end - line);
	else
		err = strbuf__addf(sb, "<rect class=\"f%s%s\" x=\"%.4f\" y=\"%.1f\" width=\"%.4f\" "
				   "height=\"%d\" fill=\"%s\" data-x=\"%.10g\" data-v=\"%.10g\" "
				   "data-e=\"%d\" data-p=\"%d\" data-n=\"",
				   st.cls ? " " : "", st.cls ? st.cls : "", PAD_X + n->x * s->scale,
				   frame_y(s, n), v * s->scale, FRAME_HEIGHT - 1, st.fill, n->x, v,
				   s->index[id] + s->size[id], id ? s->index[n->parent] : -1);
	if (!err)
		err = xml_escape(sb, n->str, n->len);
	if (!err && s->note.len) {
		err = strbuf__adds(sb, "\" data-note=\"");
		if (!err)
			err = xml_escape(sb, s->note.buf, s->note.len);
	}
	if (!err)
		err = strbuf__adds(sb, "\"/>\n");
	return err;
}

/* The label of a frame, only when it is wide enough for one. */
static int draw_label(struct strbuf *sb, struct draw_state *s, int32_t id)
{
	const struct fnode *n = &s->d->t->nodes[id];
	double x = PAD_X + n->x * s->scale, w = n->val[s->d->slot] * s->scale;
	char line[96], *p = line;
	size_t fit;
	bool cut;
	int err;

	fit = fit_label(n->str, n->len, w, &cut);
	if (!fit)
		return 0;
	p = PUT(p, "<text x=\"");
	p = fg__put_fixed(p, x + 3, 2);
	if (p) {
		p = PUT(p, "\" y=\"");
		p = fg__put_fixed(p, frame_y(s, n) + FRAME_HEIGHT - 4.5, 1);
	}
	if (p)
		err = strbuf__add(sb, line, PUT(p, "\">") - line);
	else
		err = strbuf__addf(sb, "<text x=\"%.2f\" y=\"%.1f\">", x + 3,
				   frame_y(s, n) + FRAME_HEIGHT - 4.5);
	if (!err)
		err = xml_escape(sb, n->str, fit);
	if (!err && cut)
		err = strbuf__adds(sb, "..");
	if (!err)
		err = strbuf__adds(sb, "</text>\n");
	return err;
}

static int draw_legend(struct strbuf *sb, const struct fg_draw *d, int y)
{
	const char *p = d->legend->buf, *end = p + d->legend->len;
	char attrs[64];
	int err = 0;

	while (p < end && !err) {
		const char *nl = memchr(p, '\n', end - p);
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		snprintf(attrs, sizeof(attrs), "class=\"legend\" x=\"%d\" y=\"%d\"", PAD_X, y);
		err = draw_text(sb, attrs, p, len);
		y += LEGEND_LINE;
		p += len + 1;
	}
	return err;
}

int fg__draw(const struct fg_draw *d, struct strbuf *out)
{
	struct draw_state s = { .d = d, .note = STRBUF_INIT };
	double total = d->t->nodes[0].val[d->slot];
	int err, height, graph_h;
	size_t i;

	s.scale = total > 0 ? (d->o.width - 2 * PAD_X) / total : 0;
	err = find_cut(&s) ?: plan(&s);
	if (err)
		goto out;
	graph_h = (s.max_depth + 1) * FRAME_HEIGHT;
	height = PAD_TOP + graph_h + PAD_BOTTOM + (d->legend ? d->legend_height : 0);
	err = draw_header(out, d, height);
	if (!err)
		err = strbuf__addf(out, "<clipPath id=\"clip\"><rect x=\"%d\" y=\"0\" width=\"%d\" "
				   "height=\"%d\"/></clipPath>\n<g clip-path=\"url(#clip)\">\n"
				   "<g id=\"zoom\">\n<g id=\"frames\" data-unit=\"", PAD_X,
				   d->o.width - 2 * PAD_X, height);
	if (!err)
		err = xml_escape(out, d->o.count_name, strlen(d->o.count_name));
	if (!err && s.nr_cut)
		err = strbuf__addf(out, "\" data-cut=\"%zu", s.nr_cut);
	if (!err)
		err = strbuf__adds(out, "\">\n");
	for (i = 0; i < s.nr && !err; i++)
		err = draw_frame(out, &s, s.order[i]);
	if (!err)
		err = strbuf__adds(out, "</g>\n<path id=\"hits\" fill=\"rgb(230,0,230)\" d=\"\"/>\n"
				   "</g>\n<g id=\"labels\">\n");
	for (i = 0; i < s.nr && !err; i++)
		err = draw_label(out, &s, s.order[i]);
	if (!err)
		err = strbuf__adds(out, "</g>\n<g id=\"zlabels\"></g>\n</g>\n");
	if (!err && !s.nr)
		err = strbuf__addf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">No samples</text>\n",
				   d->o.width / 2, height / 2);
	if (!err && d->legend)
		err = draw_legend(out, d, PAD_TOP + graph_h + 20);
	if (!err)
		err = strbuf__adds(out, "</svg>\n");
out:
	free(s.order);
	free(s.index);
	free(s.size);
	strbuf__release(&s.note);
	return err;
}

/* ---- plain flame graphs ---- */

static int palette_style(void *ctx, const struct ftree *t, int id, struct fg_style *st)
{
	const struct flamegraph_opts *o = ctx;
	const struct fnode *n = &t->nodes[id];

	fg__palette_color(o->palette, n->str, n->len, n->depth, st->fill, sizeof(st->fill));
	return 0;
}

int flamegraph__write_svg(struct flamegraph *fg, struct strbuf *out)
{
	struct fg_draw d = { .t = &fg->t, .o = fg->o, .style = palette_style, .ctx = &fg->o };
	int err;

	fg->done = true;
	err = ftree__layout(&fg->t, 0);
	return err ? err : fg__draw(&d, out);
}

int flamegraph__render(const struct stack_agg *agg, const struct flamegraph_opts *opts,
		       struct strbuf *out)
{
	struct flamegraph *fg = flamegraph__new(opts);
	int err;

	if (!fg)
		return -ENOMEM;
	err = flamegraph__add_agg(fg, agg);
	if (!err)
		err = flamegraph__write_svg(fg, out);
	flamegraph__free(fg);
	return err;
}
