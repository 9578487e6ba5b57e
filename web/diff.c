// SPDX-License-Identifier: GPL-2.0
/*
 * Differential flame graphs and the per-function change table.
 *
 * Both sides are merged into one frame tree with a value per side and drawn
 * in NEW's shape. Counts are compared as shares of each side's total, so two
 * profiles of different length compare fairly. Every frame, not only leaves,
 * is coloured by the change of its inclusive share, but only when the change
 * is significant; otherwise it is grey. The test is a two-proportion z-test
 * with the pooled proportion:
 *
 *   p = (b + n) / (B + N),  z = (n/N - b/B) / sqrt(p (1 - p) (1/B + 1/N))
 *
 * for b of B samples in BASE and n of N in NEW. Sampling makes a frame's
 * count roughly binomial, so under "no change" z is close to standard normal
 * and |z| >= 3 happens by chance about 3 times in 1000 frames. A frame seen
 * 0 times in BASE and once in NEW gets z of about 1: grey, not bright red.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "web_internal.h"
#include "common/strbuf.h"
#include "common/strset.h"
#include "common/log.h"

#define VANISHED_LISTED 10

double diff__zscore(double b, double btotal, double n, double ntotal)
{
	double p, se;

	if (btotal <= 0 || ntotal <= 0)
		return 0;
	p = (b + n) / (btotal + ntotal);
	se = sqrt(p * (1 - p) * (1 / btotal + 1 / ntotal));
	if (!(se > 0))
		return 0;
	return (n / ntotal - b / btotal) / se;
}

struct diff_ctx {
	double btotal, ntotal;
	double z;		/* significance threshold */
	double max_change;	/* largest significant |change| in share, for the colour scale */
};

static double share(double v, double total)
{
	return total > 0 ? v / total : 0;
}

static bool is_vanished(const struct fnode *n)
{
	return n->val[1] <= 0 && n->val[0] > 0;
}

static void diff_color(const struct diff_ctx *c, double change, double z, char *buf, size_t size)
{
	double t;
	int v;

	if (fabs(z) < c->z || change == 0 || c->max_change <= 0) {
		snprintf(buf, size, "rgb(%d,%d,%d)", 214, 214, 214);
		return;
	}
	t = 0.3 + 0.7 * fmin(1, fabs(change) / c->max_change);
	v = (int)lround(235 * (1 - t));
	if (change > 0)
		snprintf(buf, size, "rgb(255,%d,%d)", v, v);
	else
		snprintf(buf, size, "rgb(%d,%d,255)", v, v);
}

/* Tooltip text for the children of @n that vanished. */
static int note_vanished(const struct ftree *t, const struct fnode *n, const struct diff_ctx *c,
			 struct strbuf *note, bool *any)
{
	int32_t k;
	int shown = 0, more = 0, err = 0;

	for (k = n->first_child; k >= 0 && !err; k = t->nodes[k].next_sibling) {
		const struct fnode *kid = &t->nodes[k];

		if (!is_vanished(kid))
			continue;
		if (shown++ == 3) {
			more++;
			shown--;
			continue;
		}
		err = strbuf__adds(note, shown == 1 ? "; vanished below it: " : ", ");
		if (!err)
			err = strbuf__add(note, kid->str, kid->len);
		if (!err)
			err = strbuf__addf(note, " (%.2f%% of BASE)", 100 * share(kid->val[0], c->btotal));
	}
	if (!err && more)
		err = strbuf__addf(note, " and %d more", more);
	*any = shown > 0;
	return err;
}

static int diff_style(void *ctx, const struct ftree *t, int id, struct fg_style *st)
{
	static const char *const classes[] = { NULL, "new", "gone", "new gone" };
	const struct diff_ctx *c = ctx;
	const struct fnode *n = &t->nodes[id];
	double b = share(n->val[0], c->btotal), v = share(n->val[1], c->ntotal);
	double z = diff__zscore(n->val[0], c->btotal, n->val[1], c->ntotal);
	bool fresh = id && n->val[0] <= 0, gone = false;
	int err;

	diff_color(c, v - b, z, st->fill, sizeof(st->fill));
	err = strbuf__addf(st->note, "; BASE %.2f%%, change %+.2f points, z %.1f%s", 100 * b,
			   100 * (v - b), z, fabs(z) >= c->z ? "" : " (not significant)");
	if (!err && fresh)
		err = strbuf__adds(st->note, "; new in NEW");
	if (!err)
		err = note_vanished(t, n, c, st->note, &gone);
	st->cls = classes[fresh | gone << 1];
	return err;
}

static int cmp_base_desc(const void *a, const void *b, void *arg)
{
	const struct ftree *t = arg;
	double x = t->nodes[*(const int32_t *)a].val[0], y = t->nodes[*(const int32_t *)b].val[0];

	return (x < y) - (x > y);
}

static int add_path(struct strbuf *sb, const struct ftree *t, int32_t id)
{
	int err = 0;

	if (t->nodes[id].parent > 0)
		err = add_path(sb, t, t->nodes[id].parent);
	if (!err && t->nodes[id].parent > 0)
		err = strbuf__addch(sb, ';');
	return err ? err : strbuf__add(sb, t->nodes[id].str, t->nodes[id].len);
}

/* Legend lines: the colour key, the totals, and the top vanished frames. */
static int build_legend(const struct ftree *t, const struct diff_ctx *c, struct strbuf *sb,
			int *lines)
{
	int32_t *gone = malloc(t->nr * sizeof(*gone)), i;
	size_t nr = 0, k;
	int err;

	if (!gone)
		return -ENOMEM;
	for (i = 1; i < (int32_t)t->nr; i++) {
		/* the topmost vanished frame of each vanished subtree */
		if (is_vanished(&t->nodes[i]) && !is_vanished(&t->nodes[t->nodes[i].parent]))
			gone[nr++] = i;
	}
	qsort_r(gone, nr, sizeof(*gone), cmp_base_desc, (void *)t);
	err = strbuf__addf(sb,
		"Colour: change of inclusive share, NEW minus BASE: red grew, blue shrank, grey not "
		"significant (two-proportion z-test, |z| < %g).\n"
		"BASE %.10g and NEW %.10g samples, compared as shares. Dashed outline: new in NEW. "
		"Purple outline: frames below it vanished.\n",
		c->z, c->btotal, c->ntotal);
	*lines = 2;
	if (!err)
		err = strbuf__addf(sb, nr ? "Vanished since BASE (%zu, largest first):\n"
					  : "Vanished since BASE: none\n", nr);
	(*lines)++;
	for (k = 0; k < nr && k < VANISHED_LISTED && !err; k++) {
		err = strbuf__adds(sb, "  ");
		if (!err)
			err = add_path(sb, t, gone[k]);
		if (!err)
			err = strbuf__addf(sb, "  (%.2f%% of BASE)\n",
					   100 * share(t->nodes[gone[k]].val[0], c->btotal));
		(*lines)++;
	}
	free(gone);
	return err;
}

int flamegraph__render_diff(const struct stack_agg *base, const struct stack_agg *new,
			    const struct diff_opts *opts, struct strbuf *out)
{
	struct diff_ctx c = { .z = opts && opts->z > 0 ? opts->z : 3 };
	struct strbuf legend = STRBUF_INIT;
	struct fg_draw d = {
		.slot = 1, .style = diff_style, .ctx = &c, .legend = &legend,
		.extra_css = "rect.new { stroke: #000; stroke-width: 1.2; stroke-dasharray: 3 2; "
			     "vector-effect: non-scaling-stroke; }\n"
			     "rect.gone { stroke: #70f; stroke-width: 2; vector-effect: non-scaling-stroke; }\n"
			     "text.legend { fill: #333; white-space: pre; }\n",
	};
	struct ftree t;
	int err, lines = 0;
	size_t i;

	flamegraph_opts__resolve(&d.o, opts ? &opts->fg : NULL);
	if (!opts || !opts->fg.title)
		d.o.title = "Differential Flame Graph";
	d.o.chart = false;
	err = ftree__init(&t, false, d.o.reverse);
	if (err)
		return err;
	d.t = &t;
	err = ftree__add_agg(&t, base, 0);
	if (!err)
		err = ftree__add_agg(&t, new, 1);
	if (!err)
		err = ftree__layout(&t, 1);
	if (err)
		goto out;
	c.btotal = t.nodes[0].val[0];
	c.ntotal = t.nodes[0].val[1];
	for (i = 1; i < t.nr; i++) {
		const struct fnode *n = &t.nodes[i];
		double change = share(n->val[1], c.ntotal) - share(n->val[0], c.btotal);

		if (n->val[1] > 0 && fabs(diff__zscore(n->val[0], c.btotal, n->val[1], c.ntotal)) >= c.z)
			c.max_change = fmax(c.max_change, fabs(change));
	}
	err = build_legend(&t, &c, &legend, &lines);
	d.legend_height = lines * 16 + 8;
	if (!err)
		err = fg__draw(&d, out);
out:
	strbuf__release(&legend);
	ftree__release(&t);
	return err;
}

/* ---- the change table ---- */

struct side_vals {
	double self[2], total[2];
};

static double rank_of(const struct diff_entry *e)
{
	return fmax(fabs(e->new_self - e->base_self), fabs(e->new_total - e->base_total));
}

static int cmp_rank(const void *a, const void *b)
{
	const struct diff_entry *x = a, *y = b;
	double rx = rank_of(x), ry = rank_of(y);

	if (rx != ry)
		return rx < ry ? 1 : -1;
	return strcmp(x->name, y->name);
}

static int merge_side(struct strset *names, struct side_vals **vals, size_t *cap,
		      const struct stack_agg *agg, bool skip_root, int side)
{
	struct top_entry *top;
	size_t nr, i;
	int err = stack_agg__top(agg, skip_root, &top, &nr);

	if (err)
		return err;
	for (i = 0; i < nr && !err; i++) {
		int id = strset__add(names, top[i].name, strlen(top[i].name));

		if (id < 0) {
			err = id;
			break;
		}
		if ((size_t)id >= *cap) {
			size_t ncap = *cap ? *cap * 2 : 256;
			struct side_vals *v = reallocarray(*vals, ncap, sizeof(*v));

			if (!v) {
				err = -ENOMEM;
				break;
			}
			memset(v + *cap, 0, (ncap - *cap) * sizeof(*v));
			*vals = v;
			*cap = ncap;
		}
		(*vals)[id].self[side] = top[i].self;
		(*vals)[id].total[side] = top[i].total;
	}
	free(top);
	return err;
}

int stack_agg__diff_top(const struct stack_agg *base, const struct stack_agg *new,
			bool skip_root, struct diff_entry **out, size_t *nr)
{
	double bt = stack_agg__total(base), nt = stack_agg__total(new);
	struct strset *names = strset__new();
	struct side_vals *vals = NULL;
	size_t cap = 0, n = 0, bytes = 0, i;
	struct diff_entry *res;
	char *str;
	int err;

	if (!names)
		return -ENOMEM;
	err = merge_side(names, &vals, &cap, base, skip_root, 0);
	if (!err)
		err = merge_side(names, &vals, &cap, new, skip_root, 1);
	if (err)
		goto out;
	n = strset__count(names);
	for (i = 0; i < n; i++)
		bytes += strset__len(names, i) + 1;
	res = malloc(n * sizeof(*res) + bytes + 1);
	if (!res) {
		err = -ENOMEM;
		goto out;
	}
	str = (char *)(res + n);
	for (i = 0; i < n; i++) {
		const struct side_vals *v = &vals[i];
		size_t len = strset__len(names, i) + 1;

		memcpy(str, strset__str(names, i), len);
		res[i] = (struct diff_entry) {
			.name = str,
			.base_self = 100 * share(v->self[0], bt), .new_self = 100 * share(v->self[1], nt),
			.base_total = 100 * share(v->total[0], bt),
			.new_total = 100 * share(v->total[1], nt),
			.z_self = diff__zscore(v->self[0], bt, v->self[1], nt),
			.z_total = diff__zscore(v->total[0], bt, v->total[1], nt),
		};
		str += len;
	}
	qsort(res, n, sizeof(*res), cmp_rank);
	*out = res;
	*nr = n;
out:
	free(vals);
	strset__free(names);
	return err;
}
