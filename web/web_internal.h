/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Declarations shared inside web/ only: the frame tree that the plain and
 * the differential flame graphs are drawn from, and the SVG drawing stage.
 */
#ifndef __PROFILER_WEB_INTERNAL_H
#define __PROFILER_WEB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "web.h"

struct strbuf;
struct strset;

/*
 * A 64-bit hash of @len bytes, eight at a time. For in-memory tables only:
 * never store it, it may change.
 */
static inline uint64_t mem_hash(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ (len * 0xff51afd7ed558ccdULL), v;

	if (len >= 32) {
		/* four independent lanes, so long keys hash at memory speed */
		uint64_t a = h, b = ~h, c = h ^ 0x6a09e667f3bcc908ULL, d = h + len, w[4];

		while (len >= 32) {
			memcpy(w, p, 32);
			a = (a ^ w[0]) * 0xc4ceb9fe1a85ec53ULL;
			b = (b ^ w[1]) * 0xff51afd7ed558ccdULL;
			c = (c ^ w[2]) * 0xc4ceb9fe1a85ec53ULL;
			d = (d ^ w[3]) * 0xff51afd7ed558ccdULL;
			a ^= a >> 29;
			b ^= b >> 31;
			c ^= c >> 27;
			d ^= d >> 33;
			p += 32;
			len -= 32;
		}
		h = a ^ (b * 3) ^ (c * 5) ^ (d * 7);
	}
	while (len >= 8) {
		memcpy(&v, p, 8);
		h = (h ^ v) * 0xc4ceb9fe1a85ec53ULL;
		h ^= h >> 31;
		p += 8;
		len -= 8;
	}
	v = 0;
	memcpy(&v, p, len);
	h = (h ^ v) * 0xff51afd7ed558ccdULL;
	h ^= h >> 32;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 29);
}

/* ---- frame tree ---- */

#define FTREE_VALS 2	/* [0] the profile, or BASE and NEW ([0], [1]) in a diff */

struct fnode {
	const char *str;	/* name, interned in the tree's name set */
	uint32_t len;
	uint32_t hash;		/* of the name */
	int32_t parent;
	int32_t first_child;
	int32_t last_child;
	int32_t next_sibling;
	int32_t depth;
	uint32_t nr_kids;
	double val[FTREE_VALS];	/* inclusive counts */
	double x;		/* counts left of this frame at its depth (ftree__layout) */
};

struct ftree_name {
	uint32_t hash;
	uint32_t len;
	const char *str;	/* NULL: an empty slot */
};

struct ftree {
	struct strset *names;
	struct fnode *nodes;	/* [0] is the root, "all"; parents precede children */
	size_t nr, cap;
	int32_t *slots;		/* (parent, name) -> node for parents with many
				 * children, open addressing, -1 empty */
	size_t nslots, nr_indexed;
	int max_depth;
	bool chart;		/* merge a frame only with its parent's last child */
	bool reverse;		/* add each stack leaf first */
	/* the previous stack, to reuse the nodes of a shared prefix */
	char *prev;
	size_t prev_len, prev_cap;
	int32_t *prev_nodes;	/* node of frame i */
	size_t *prev_ends;	/* end offset of frame i in prev */
	size_t prev_nr, prev_frames_cap;
	char *rev;		/* scratch for reversed stacks */
	size_t rev_cap;
	/* interned names by hash, one cache line a probe (the name set's own index is slower) */
	struct ftree_name *name_tab;
	size_t name_slots, name_nr;
};

int ftree__init(struct ftree *t, bool chart, bool reverse);
void ftree__release(struct ftree *t);
/* Add @count to every frame of @stack (folded, no count) in value slot @slot. */
int ftree__add(struct ftree *t, const char *stack, size_t len, double count, int slot);
/*
 * Add the frames of @src (built apart, e.g. from another part of the input;
 * not a chart) to @dst, values of @slot. Returns 0 or -ENOMEM.
 */
int ftree__merge(struct ftree *dst, const struct ftree *src, int slot);
/* Add every stack of @agg with a positive count to value slot @slot. */
int ftree__add_agg(struct ftree *t, const struct stack_agg *agg, int slot);
/*
 * Order children (by name, or by insertion for a chart) and give every node
 * its x from the values of @slot. Returns 0 or -ENOMEM.
 */
int ftree__layout(struct ftree *t, int slot);

/* ---- drawing ---- */

/* How one frame looks: filled in by the caller's style callback. */
struct fg_style {
	char fill[40];
	const char *cls;	/* extra class on the frame's <g>, or NULL */
	struct strbuf *note;	/* appended to the tooltip (starts empty) */
};

typedef int (*fg_style_fn)(void *ctx, const struct ftree *t, int node, struct fg_style *st);

struct fg_draw {
	const struct ftree *t;
	int slot;			/* values that give the widths */
	struct flamegraph_opts o;	/* defaults resolved */
	fg_style_fn style;
	void *ctx;
	const char *extra_css;		/* may be NULL */
	struct strbuf *legend;		/* SVG drawn under the graph, may be NULL */
	int legend_height;
};

/* Fill in defaults for unset fields of @in. */
void flamegraph_opts__resolve(struct flamegraph_opts *o, const struct flamegraph_opts *in);
/* Draw the tree (laid out with ftree__layout()) as an interactive SVG. */
int fg__draw(const struct fg_draw *d, struct strbuf *out);
/* The palette colour of a frame name; @depth 0 is the root. */
/*
 * The drawing's numbers without printf: @v at @p as "%.<prec>f" prints it
 * (@prec 0 to 4), or as "%.10g" prints a count; the end of what was written
 * (at most 24 bytes), or NULL for a value to leave to printf (negative,
 * large, not an integer count, or a fraction too near one half to round
 * from the product).
 */
char *fg__put_fixed(char *p, double v, int prec);
char *fg__put_count(char *p, double v);
void fg__palette_color(enum flamegraph_palette pal, const char *name, size_t len, int depth,
		       char *buf, size_t size);

/* ---- folded lines ---- */

/*
 * Check one folded line (@len bytes, no newline; not written to). The count
 * follows the last space, the one separator: the stack is everything before
 * it, trailing spaces of its last frame included. On success *@stack_len is
 * the length of the stack part. On failure *@why says what is wrong.
 */
bool folded__parse_line(const char *line, size_t len, size_t *stack_len, double *count,
			const char **why);

/* Length of a UTF-8 byte order mark at the start of @line (a file's first line): 3 or 0. */
static inline size_t utf8_bom_len(const char *line, size_t len)
{
	return len >= 3 && !memcmp(line, "\xef\xbb\xbf", 3) ? 3 : 0;
}

/*
 * Read @f in large chunks and call @fn for every line (without its newline;
 * @line[@len] may be overwritten). Returns 0, -EIO, -ENOMEM, -EFBIG (a line
 * longer than LINES_MAX_BYTES, from a stream: a file is mapped whole) or
 * @fn's error.
 */
int lines__read(FILE *f, int (*fn)(void *ctx, char *line, size_t len), void *ctx);

#endif /* __PROFILER_WEB_INTERNAL_H */
