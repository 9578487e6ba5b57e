/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Presentation: aggregated stacks (the folded format), the top-functions
 * table and SVG flame graphs.
 *
 * Folded format, one stack per line, root first:
 *   comm;main;foo;bar 42
 * Kernel frames carry a "_[k]" suffix and sit above the user frames.
 */
#ifndef __PROFILER_WEB_H
#define __PROFILER_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct strbuf;
struct stack_agg;

/* ---- stack aggregation ---- */

struct stack_agg *stack_agg__new(void);
void stack_agg__free(struct stack_agg *agg);

/*
 * Add @count samples to the stack @stack (@len bytes, frames separated by
 * ';', no count). Returns 0, -EINVAL for an empty stack or a count that is
 * not finite and positive, -ENOMEM.
 */
int stack_agg__add(struct stack_agg *agg, const char *stack, size_t len, double count);
double stack_agg__total(const struct stack_agg *agg);
size_t stack_agg__nr_stacks(const struct stack_agg *agg);

/*
 * Read folded lines from @f and add them. A malformed line is reported as
 * "<name>:<line>: ..." and skipped; *@bad counts them. Returns 0 or -errno
 * for read and memory errors.
 */
int stack_agg__read_folded(struct stack_agg *agg, FILE *f, const char *name, size_t *bad);

/* Write all stacks, sorted, as folded lines. Returns 0 or -EIO. */
int stack_agg__write_folded(const struct stack_agg *agg, FILE *f);

/* Iterate stacks in insertion order: stack string (borrowed) and count. */
bool stack_agg__get(const struct stack_agg *agg, size_t idx, const char **stack, double *count);

/*
 * Append one frame name to a folded stack in @sb: a ';' separator unless
 * @sb is empty, the name with ';' and control characters replaced (the
 * format cannot carry them), then @suffix (may be NULL).
 */
int folded__add_frame(struct strbuf *sb, const char *name, const char *suffix);

/* ---- top functions ---- */

struct top_entry {
	const char *name;	/* stored in the same allocation as the array */
	double self;		/* samples with this frame as the leaf */
	double total;		/* samples with this frame anywhere in the stack */
};

/*
 * Self and total samples per frame name, sorted by self then total,
 * descending. @skip_root ignores each stack's first frame (the comm in
 * profiles). *@out is one allocation, entries and names, that the caller
 * releases with free(). Returns 0 or -ENOMEM.
 */
int stack_agg__top(const struct stack_agg *agg, bool skip_root, struct top_entry **out,
		   size_t *nr);

/* ---- SVG flame graph ---- */

struct flamegraph_opts {
	const char *title;	/* default "Flame Graph" */
	const char *subtitle;	/* NULL: none */
	const char *count_name;	/* default "samples" */
	int width;		/* pixels, default 1200 */
	double min_width;	/* pixels; narrower frames are not drawn, default 0.1 */
};

/* Render @agg as a self-contained interactive SVG into @out. Returns 0 or -errno. */
int flamegraph__render(const struct stack_agg *agg, const struct flamegraph_opts *opts,
		       struct strbuf *out);

/*
 * Append @s escaped for XML text and attribute values: &<>"' become
 * entities, control characters and invalid UTF-8 become U+FFFD.
 */
int xml_escape(struct strbuf *sb, const char *s, size_t len);

#endif /* __PROFILER_WEB_H */
