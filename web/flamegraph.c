// SPDX-License-Identifier: GPL-2.0
/*
 * SVG flame graph renderer. Stages: merge the stacks into a tree of frames,
 * sort each node's children by name, lay them out left to right (width is
 * proportional to inclusive samples), prune frames narrower than min_width
 * pixels (their samples still count in the parent's width), draw.
 *
 * The SVG is self-contained: an inline script gives click-to-zoom, reset,
 * regex search with the matched share, and hover details. Frame names only
 * ever reach the page as escaped XML text or attribute values, and the script
 * only assigns them with textContent, so a name cannot inject markup.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"
#include "common/hashmap.h"
#include "common/strbuf.h"
#include "common/strset.h"
#include "common/log.h"

#define FRAME_HEIGHT 16
#define FONT_SIZE 12
#define CHAR_WIDTH (FONT_SIZE * 0.59)
#define PAD_X 10
#define PAD_TOP 60
#define PAD_BOTTOM 34

struct fnode {
	int name;		/* id in the tree's name set */
	int parent;
	int first_child;
	int next_sibling;
	int depth;
	double value;		/* inclusive samples */
	double x;		/* samples left of this frame at its depth */
};

struct ftree {
	struct strset *names;
	struct fnode *nodes;
	size_t nr, cap;
	struct hashmap children;	/* (parent << 32 | name) -> node */
	int max_depth;
};

static int ftree__child(struct ftree *t, int parent, const char *name, size_t len)
{
	int name_id = strset__add(t->names, name, len);
	struct fnode *n;
	uint64_t key, val;

	if (name_id < 0)
		return name_id;
	key = (uint64_t)parent << 32 | (uint32_t)name_id;
	if (hashmap__get(&t->children, key, &val))
		return val;
	if (t->nr == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1024;

		n = reallocarray(t->nodes, cap, sizeof(*n));
		if (!n)
			return -ENOMEM;
		t->nodes = n;
		t->cap = cap;
	}
	if (hashmap__set(&t->children, key, t->nr))
		return -ENOMEM;
	n = &t->nodes[t->nr];
	memset(n, 0, sizeof(*n));
	n->name = name_id;
	n->parent = parent;
	n->first_child = -1;
	n->next_sibling = -1;
	if (parent >= 0) {
		n->depth = t->nodes[parent].depth + 1;
		n->next_sibling = t->nodes[parent].first_child;
		t->nodes[parent].first_child = t->nr;
		if (n->depth > t->max_depth)
			t->max_depth = n->depth;
	}
	return t->nr++;
}

static int ftree__add(struct ftree *t, const char *stack, double count)
{
	const char *p = stack;
	int node = 0;

	t->nodes[0].value += count;
	for (;;) {
		const char *semi = strchr(p, ';');
		size_t len = semi ? (size_t)(semi - p) : strlen(p);

		node = ftree__child(t, node, p, len);
		if (node < 0)
			return node;
		t->nodes[node].value += count;
		if (!semi)
			return 0;
		p = semi + 1;
	}
}

static const struct ftree *sort_tree;

static int cmp_by_name(const void *a, const void *b)
{
	const struct fnode *x = &sort_tree->nodes[*(const int *)a];
	const struct fnode *y = &sort_tree->nodes[*(const int *)b];

	return strcmp(strset__str(sort_tree->names, x->name),
		      strset__str(sort_tree->names, y->name));
}

/* Order every child list by name and assign x positions, parents first. */
static int ftree__layout(struct ftree *t)
{
	int *kids = NULL;
	size_t cap = 0, i;

	sort_tree = t;
	/* nodes are created after their parents, so index order is top-down */
	for (i = 0; i < t->nr; i++) {
		struct fnode *n = &t->nodes[i];
		size_t k = 0, j;
		double x = n->x;
		int c;

		for (c = n->first_child; c >= 0; c = t->nodes[c].next_sibling) {
			if (k == cap) {
				int *nk;

				cap = cap ? cap * 2 : 64;
				nk = reallocarray(kids, cap, sizeof(*nk));
				if (!nk) {
					free(kids);
					return -ENOMEM;
				}
				kids = nk;
			}
			kids[k++] = c;
		}
		if (!k)
			continue;
		qsort(kids, k, sizeof(*kids), cmp_by_name);
		n->first_child = kids[0];
		for (j = 0; j < k; j++) {
			t->nodes[kids[j]].next_sibling = j + 1 < k ? kids[j + 1] : -1;
			t->nodes[kids[j]].x = x;
			x += t->nodes[kids[j]].value;
		}
	}
	free(kids);
	return 0;
}

static void ftree__release(struct ftree *t)
{
	strset__free(t->names);
	free(t->nodes);
	hashmap__release(&t->children);
}

static int ftree__build(struct ftree *t, const struct stack_agg *agg)
{
	const char *stack;
	double count;
	size_t i;
	int err;

	memset(t, 0, sizeof(*t));
	t->names = strset__new();
	if (!t->names)
		return -ENOMEM;
	err = ftree__child(t, -1, "all", 3);
	if (err < 0)
		return err;
	for (i = 0; stack_agg__get(agg, i, &stack, &count); i++) {
		if (count <= 0)
			continue;
		err = ftree__add(t, stack, count);
		if (err)
			return err;
	}
	return ftree__layout(t);
}

/* ---- drawing ---- */

static bool has_suffix(const char *s, size_t len, const char *suf)
{
	size_t n = strlen(suf);

	return len >= n && !memcmp(s + len - n, suf, n);
}

static void frame_color(const char *name, int depth, char *buf, size_t size)
{
	size_t len = strlen(name);
	uint64_t h;
	double v1, v2, v3;

	if (depth == 0 || !strncmp(name, "[unknown]", 9)) {
		snprintf(buf, size, "rgb(%d,%d,%d)", 190, 190, 196);
		return;
	}
	/* colour by the name without its kind suffix, so a name keeps its colour */
	if (has_suffix(name, len, "_[k]") || has_suffix(name, len, "_[i]") ||
	    has_suffix(name, len, "_[j]"))
		h = str_hash(name, len - 4);
	else
		h = str_hash(name, len);
	v1 = (h & 0xffff) / 65535.0;
	v2 = ((h >> 16) & 0xffff) / 65535.0;
	v3 = ((h >> 32) & 0xffff) / 65535.0;
	if (has_suffix(name, len, "_[k]"))	/* kernel: blues */
		snprintf(buf, size, "rgb(%d,%d,%d)", (int)(70 + 60 * v1), (int)(130 + 70 * v2),
			 (int)(200 + 55 * v3));
	else if (has_suffix(name, len, "_[i]"))	/* inlined: teals */
		snprintf(buf, size, "rgb(%d,%d,%d)", (int)(60 + 50 * v1), (int)(190 + 50 * v2),
			 (int)(170 + 50 * v3));
	else if (has_suffix(name, len, "_[j]"))	/* JIT: greens */
		snprintf(buf, size, "rgb(%d,%d,%d)", (int)(80 + 60 * v1), (int)(190 + 60 * v2),
			 (int)(60 + 50 * v3));
	else					/* user: warm reds to yellows */
		snprintf(buf, size, "rgb(%d,%d,%d)", (int)(215 + 40 * v1), (int)(70 + 150 * v2),
			 (int)(30 + 50 * v3));
}

/* Bytes of @name that fit @width pixels, cut at a UTF-8 character boundary. */
static size_t fit_label(const char *name, double width, bool *cut)
{
	double chars = floor((width - 6) / CHAR_WIDTH);
	size_t len = strlen(name), n;

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

static const char SCRIPT[] =
	"\"use strict\";\n"
	"var W, PAD = " "10" ", CHARW = " "7.08" ", frames, details, matched, searchBtn,\n"
	"    resetBtn, total, searching = null;\n"
	"function init(evt) {\n"
	"  var svg = document.documentElement;\n"
	"  W = +svg.getAttribute('width');\n"
	"  details = document.getElementById('details');\n"
	"  matched = document.getElementById('matched');\n"
	"  searchBtn = document.getElementById('search');\n"
	"  resetBtn = document.getElementById('unzoom');\n"
	"  frames = Array.prototype.slice.call(document.querySelectorAll('g.f'));\n"
	"  frames.forEach(function (g) {\n"
	"    var r = g.querySelector('rect');\n"
	"    g._x = +r.getAttribute('x'); g._w = +r.getAttribute('width');\n"
	"    g._d = +g.getAttribute('data-d'); g._n = g.getAttribute('data-n');\n"
	"    g._fill = r.getAttribute('fill');\n"
	"    g._sx = +g.getAttribute('data-x'); g._sv = +g.getAttribute('data-v');\n"
	"  });\n"
	"  total = frames.length ? frames[0]._sv : 0;\n"
	"  var box = document.getElementById('frames');\n"
	"  box.addEventListener('click', function (e) {\n"
	"    var g = e.target.closest('g.f'); if (g) zoom(g);\n"
	"  });\n"
	"  box.addEventListener('mouseover', function (e) {\n"
	"    var g = e.target.closest('g.f');\n"
	"    if (g) details.textContent = g.querySelector('title').textContent;\n"
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
	"function label(g, w) {\n"
	"  var n = Math.floor((w - 6) / CHARW), name = g._n, t = g.querySelector('text');\n"
	"  t.textContent = n < 3 ? '' : name.length <= n ? name : name.substr(0, n - 2) + '..';\n"
	"}\n"
	"function place(g, x, w) {\n"
	"  var r = g.querySelector('rect'), t = g.querySelector('text');\n"
	"  r.setAttribute('x', x.toFixed(2)); r.setAttribute('width', w.toFixed(2));\n"
	"  t.setAttribute('x', (x + 3).toFixed(2)); label(g, w); g.style.display = '';\n"
	"}\n"
	"function zoom(z) {\n"
	"  var scale = (W - 2 * PAD) / z._w, eps = 1e-6;\n"
	"  frames.forEach(function (g) {\n"
	"    if (g._d < z._d) {\n"
	"      if (g._x <= z._x + eps && g._x + g._w >= z._x + z._w - eps) {\n"
	"        g.classList.add('parent'); place(g, PAD, W - 2 * PAD);\n"
	"      } else g.style.display = 'none';\n"
	"    } else if (g._x >= z._x - eps && g._x + g._w <= z._x + z._w + eps) {\n"
	"      g.classList.remove('parent'); place(g, PAD + (g._x - z._x) * scale, g._w * scale);\n"
	"    } else g.style.display = 'none';\n"
	"  });\n"
	"  resetBtn.style.opacity = 1;\n"
	"}\n"
	"function unzoom() {\n"
	"  frames.forEach(function (g) { g.classList.remove('parent'); place(g, g._x, g._w); });\n"
	"  resetBtn.style.opacity = 0.3;\n"
	"}\n"
	"function askSearch() {\n"
	"  var term = prompt('Search for (regular expression)', searching || '');\n"
	"  if (term) search(term);\n"
	"}\n"
	"function search(term) {\n"
	"  var re, hits = [], sum = 0, end = -Infinity;\n"
	"  try { re = new RegExp(term); } catch (e) { matched.textContent = 'Bad regex: ' + e.message; return; }\n"
	"  frames.forEach(function (g) {\n"
	"    var r = g.querySelector('rect');\n"
	"    if (re.test(g._n)) { r.setAttribute('fill', 'rgb(220,0,220)'); hits.push([g._sx, g._sx + g._sv]); }\n"
	"    else r.setAttribute('fill', g._fill);\n"
	"  });\n"
	"  hits.sort(function (a, b) { return a[0] - b[0]; });\n"
	"  hits.forEach(function (h) {\n"
	"    if (h[0] >= end) { sum += h[1] - h[0]; end = h[1]; }\n"
	"    else if (h[1] > end) { sum += h[1] - end; end = h[1]; }\n"
	"  });\n"
	"  matched.textContent = 'Matched: ' + (total ? 100 * sum / total : 0).toFixed(2) + '%';\n"
	"  searching = term; searchBtn.textContent = 'Reset Search';\n"
	"  return sum;\n"
	"}\n"
	"function clearSearch() {\n"
	"  frames.forEach(function (g) { g.querySelector('rect').setAttribute('fill', g._fill); });\n"
	"  matched.textContent = ' '; searching = null; searchBtn.textContent = 'Search';\n"
	"}\n";

static int draw_header(struct strbuf *sb, const struct flamegraph_opts *o, int width, int height)
{
	int err;

	err = strbuf__addf(sb,
		"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" onload=\"init(evt)\" "
		"xmlns=\"http://www.w3.org/2000/svg\">\n"
		"<style type=\"text/css\">\n"
		"text { font-family: monospace; font-size: %dpx; fill: #000; }\n"
		"#title { font-size: 17px; } #subtitle { fill: #555; }\n"
		".btn { cursor: pointer; fill: #236; } .btn:hover { text-decoration: underline; }\n"
		"g.f:hover rect { stroke: #000; stroke-width: 0.5; cursor: pointer; }\n"
		"g.parent { opacity: 0.55; }\n"
		"</style>\n<script type=\"text/ecmascript\"><![CDATA[\n%s]]></script>\n"
		"<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" fill=\"#f6f6f0\"/>\n",
		width, height, width, height, FONT_SIZE, SCRIPT);
	if (!err)
		err = strbuf__addf(sb, "<text id=\"title\" x=\"%d\" y=\"24\" text-anchor=\"middle\">",
				   width / 2);
	if (!err)
		err = xml_escape(sb, o->title, strlen(o->title));
	if (!err)
		err = strbuf__adds(sb, "</text>\n");
	if (!err && o->subtitle) {
		err = strbuf__addf(sb, "<text id=\"subtitle\" x=\"%d\" y=\"44\" text-anchor=\"middle\">",
				   width / 2);
		if (!err)
			err = xml_escape(sb, o->subtitle, strlen(o->subtitle));
		if (!err)
			err = strbuf__adds(sb, "</text>\n");
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

static int draw_frame(struct strbuf *sb, const struct ftree *t, const struct fnode *n,
		      const struct flamegraph_opts *o, double scale, int height)
{
	const char *name = strset__str(t->names, n->name);
	double x = PAD_X + n->x * scale, w = n->value * scale;
	double y = height - PAD_BOTTOM - (n->depth + 1) * FRAME_HEIGHT;
	double pct = 100.0 * n->value / t->nodes[0].value;
	char color[32], count[64];
	size_t fit;
	bool cut;
	int err;

	frame_color(name, n->depth, color, sizeof(color));
	if (n->value == floor(n->value))
		snprintf(count, sizeof(count), "%.0f", n->value);
	else
		snprintf(count, sizeof(count), "%.3f", n->value);
	err = strbuf__addf(sb, "<g class=\"f\" data-d=\"%d\" data-x=\"%.10g\" data-v=\"%.10g\" data-n=\"",
			   n->depth, n->x, n->value);
	if (!err)
		err = xml_escape(sb, name, strlen(name));
	if (!err)
		err = strbuf__adds(sb, "\"><title>");
	if (!err)
		err = xml_escape(sb, name, strlen(name));
	if (!err)
		err = strbuf__addf(sb, " (%s %s, %.2f%%)</title><rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" "
				   "height=\"%d\" fill=\"%s\" rx=\"2\"/><text x=\"%.2f\" y=\"%.1f\">",
				   count, o->count_name, pct, x, y, w, FRAME_HEIGHT - 1, color, x + 3,
				   y + FRAME_HEIGHT - 4.5);
	fit = fit_label(name, w, &cut);
	if (!err && fit)
		err = xml_escape(sb, name, fit);
	if (!err && cut)
		err = strbuf__adds(sb, "..");
	if (!err)
		err = strbuf__adds(sb, "</text></g>\n");
	return err;
}

int flamegraph__render(const struct stack_agg *agg, const struct flamegraph_opts *opts,
		       struct strbuf *out)
{
	struct flamegraph_opts o = {
		.title = "Flame Graph", .count_name = "samples", .width = 1200, .min_width = 0.1,
	};
	struct ftree t;
	double scale;
	size_t i;
	int err, height;

	if (opts) {
		o.title = opts->title ? opts->title : o.title;
		o.subtitle = opts->subtitle;
		o.count_name = opts->count_name ? opts->count_name : o.count_name;
		o.width = opts->width > 2 * PAD_X + 10 ? opts->width : o.width;
		o.min_width = opts->min_width >= 0 ? opts->min_width : o.min_width;
	}
	err = ftree__build(&t, agg);
	if (err)
		goto out;
	height = PAD_TOP + PAD_BOTTOM + (t.max_depth + 1) * FRAME_HEIGHT;
	err = draw_header(out, &o, o.width, height);
	if (!err)
		err = strbuf__adds(out, "<g id=\"frames\">\n");
	scale = t.nodes[0].value > 0 ? (o.width - 2 * PAD_X) / t.nodes[0].value : 0;
	for (i = 0; i < t.nr && !err; i++) {
		const struct fnode *n = &t.nodes[i];

		if (n->value * scale < o.min_width && i != 0)
			continue;
		if (i == 0 && n->value <= 0)
			continue;	/* empty profile: no frames */
		err = draw_frame(out, &t, n, &o, scale, height);
	}
	if (!err && t.nodes[0].value <= 0)
		err = strbuf__addf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">No samples</text>\n",
				   o.width / 2, height / 2);
	if (!err)
		err = strbuf__adds(out, "</g>\n</svg>\n");
out:
	ftree__release(&t);
	return err;
}
