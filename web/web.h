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
#include <stdint.h>
#include <stdio.h>

#include "common/strbuf.h"

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
/*
 * Stacks as frames: a frame name (@len bytes, formatted as folded text has
 * it, see folded__add_frame(); no ';') interned in @agg, its id from 0 or
 * -EINVAL (a ';'), -ENOMEM. Interning the same name again gives the same id.
 */
int stack_agg__name(struct stack_agg *agg, const char *name, size_t len);
/*
 * Add @count samples to the stack of the @nr names @ids (root first): the
 * same as stack_agg__add() of the names joined by ';', without building the
 * text. Returns 0, -EINVAL (no frames, an unknown id, a count that is not
 * finite and positive), -ENOMEM.
 */
int stack_agg__add_names(struct stack_agg *agg, const int32_t *ids, size_t nr, double count);
/* Whether @agg holds stacks of names (stack_agg__get_names() works), not folded text. */
bool stack_agg__by_names(const struct stack_agg *agg);
/* Stack @idx of stacks of names, in insertion order: its names (borrowed) and count. */
bool stack_agg__get_names(const struct stack_agg *agg, size_t idx, const int32_t **ids,
			  size_t *nr, double *count);
/* How many names are interned, and name @id (NUL-terminated) with its length. */
size_t stack_agg__nr_names(const struct stack_agg *agg);
const char *stack_agg__name_str(const struct stack_agg *agg, int32_t id, size_t *len);
double stack_agg__total(const struct stack_agg *agg);
size_t stack_agg__nr_stacks(const struct stack_agg *agg);

/*
 * Read folded lines from @f and add them. A malformed line is reported as
 * "<name>:<line>: ..." and skipped; *@bad counts them. Returns 0 or -errno
 * for read and memory errors.
 */
int stack_agg__read_folded(struct stack_agg *agg, FILE *f, const char *name, size_t *bad);

/*
 * The folded reader behind stack_agg__read_folded() and the streaming
 * renderer: reads @f in large chunks and calls @fn for every well-formed line
 * with a non-zero count (@stack is not NUL-terminated and only valid during
 * the call). Blank lines and "#" comments are skipped; malformed lines are
 * reported as "<name>:<line>: ..." and counted in *@bad. Returns 0, -EIO,
 * -ENOMEM, -EFBIG (a line longer than LINES_MAX_BYTES: /dev/zero, a binary
 * piped in) or the first error @fn returns.
 */
typedef int (*folded_line_fn)(void *ctx, const char *stack, size_t len, double count);
int folded__read(FILE *f, const char *name, folded_line_fn fn, void *ctx, size_t *bad);

#define LINES_MAX_BYTES (256u << 20)

/* What a reading error of folded__read() or perf_script__collapse() means, for a message. */
const char *lines__strerror(int err);
/*
 * folded__read() in @nr parts at once, one thread each, when @f is a large
 * regular file at its start: part i (about 1/@nr of the lines, in order)
 * goes to @ctxs[i], so @fn must not share state between contexts. Returns 1,
 * having read nothing, when @f is not such a file (read it with
 * folded__read()); else as folded__read().
 */
int folded__read_parts(FILE *f, const char *name, size_t nr, folded_line_fn fn, void *const *ctxs,
		       size_t *bad);

/*
 * Called about every 64 MB while reading input, with the bytes read and the
 * input size (0 when unknown, e.g. a pipe). Commands set it to show progress
 * on a terminal; NULL (the default) for none.
 */
typedef void (*read_progress_fn)(size_t done, size_t total);
void web__set_read_progress(read_progress_fn fn);

/*
 * @v as a folded count into @buf (@size bytes, FOLDED_COUNT_MAX is enough
 * for any count): whole numbers as integers ("1000000000000000", never
 * "1e+15": flamegraph.pl reads digits only), others as the shortest text
 * that reads back as @v. Returns the length, as snprintf().
 */
#define FOLDED_COUNT_MAX 320
int folded__format_count(char *buf, size_t size, double v);

/* Write all stacks, sorted, as folded lines. Returns 0 or -EIO. */
int stack_agg__write_folded(const struct stack_agg *agg, FILE *f);

/*
 * Iterate stacks in insertion order: stack string (borrowed) and count. For
 * stacks of names the text of all is made on the first call (false when out
 * of memory).
 */
bool stack_agg__get(const struct stack_agg *agg, size_t idx, const char **stack, double *count);

/*
 * Append one frame name to a folded stack in @sb: a ';' separator unless
 * @sb is empty, the name with ';' and control characters replaced (the
 * format cannot carry them), then @suffix (may be NULL).
 */
int folded__add_frame(struct strbuf *sb, const char *name, const char *suffix);

/* ---- perf script import ---- */

struct perf_script_opts {
	bool kernel;		/* --kernel: "_[k]" on kernel frames */
	bool jit;		/* --jit: "_[j]" on frames from /tmp/perf-PID.map */
	bool pid;		/* --pid: "comm-PID" as the first frame */
	bool tid;		/* --tid: "comm-PID/TID" */
	bool addrs;		/* --addrs: "[module <addr>]" for unknown symbols */
	const char *event_filter;	/* only this event; NULL: the first one seen */
	bool count_samples;	/* --count-samples: every sample 1, not its period */
};

/*
 * Collapse `perf script` text from @in into folded stacks the way
 * stackcollapse-perf.pl does, and call @fn for every distinct stack in byte
 * order with its weight: the sum of the sample periods perf printed (1 for a
 * sample without one), or the number of samples under count_samples. Unrecognized lines are reported (as
 * "<name>:<line>: ...") and skipped. Returns 0, -EIO, -ENOMEM, @fn's error,
 * or -EBADMSG (reported) when there were lines but not one was a sample
 * header or a frame: the input is no perf script output.
 */
struct perf_script_info {
	enum {
		PERF_SCRIPT_SAMPLES,	/* the weights count samples */
		PERF_SCRIPT_NS,		/* periods of a time event (cpu-clock, task-clock): ns */
		PERF_SCRIPT_EVENTS,	/* periods of another event: cycles, instructions... */
	} unit;
	char event[256];	/* the event of the samples kept, "" when none */
};
/* @info (unless NULL) says what the weights are once the input is read. */
int perf_script__collapse(FILE *in, const char *name, const struct perf_script_opts *opts,
			  folded_line_fn fn, void *ctx, struct perf_script_info *info);

/* ---- export ---- */

struct export_opts {
	const char *name;	/* speedscope profile name; NULL: "profile" */
	double period_ns;	/* time one count stands for (1e9 / sampling frequency); 0: unknown */
	bool counts_are_ns;	/* the counts are nanoseconds already (perf periods) */
	bool root_is_process;	/* pprof: the first frame is the process name, a label */
};

/*
 * @agg as a gzip-compressed pprof profile (see web/export.c for what goes
 * where). Fractional counts are rounded, with a warning. Appends to @out.
 * Returns 0 or -errno.
 */
int stack_agg__export_pprof(const struct stack_agg *agg, const struct export_opts *o,
			    struct strbuf *out);
/* @agg as speedscope JSON (one "sampled" profile). Returns 0 or -errno. */
int stack_agg__export_speedscope(const struct stack_agg *agg, const struct export_opts *o,
				 struct strbuf *out);
/* The two with default options: counts of unknown period, the root frame the process. */
int stack_agg__write_pprof(const struct stack_agg *agg, struct strbuf *out);
int stack_agg__write_speedscope(const struct stack_agg *agg, const char *name, struct strbuf *out);

/*
 * A profile with what folded stacks lose, for the exports: frames with their
 * binary (file name and build id), address and source line, and samples
 * with the process, pid and host they were taken in. Filled from a store
 * (export_profile__add()) or from folded stacks (export_profile__add_agg()).
 */
struct export_profile;

struct export_frame {
	const char *name;	/* as the folded format shows it, without its suffix */
	const char *module;	/* binary basename, kernel module...; NULL/"" when unknown */
	const char *build_id;	/* hex; NULL/"" when unknown */
	const char *file;	/* source file; NULL/"" when unknown */
	unsigned long long addr;	/* file offset (user), address (kernel), line (python) */
	int line;		/* source line of @addr in @name, 0 when unknown */
	int start_line;		/* the line @name starts on, 0 when unknown */
	bool kernel, inlined, jit, python;
	bool unresolved;	/* @name is a placeholder ("[unknown]") */
};

/* Where a stack was sampled; NULL strings and pid 0 when unknown. */
struct export_key {
	const char *comm, *host;
	unsigned int pid;
};

struct export_profile *export_profile__new(void);
void export_profile__free(struct export_profile *p);
/* Add @count of the stack @frames (@nr, root first; copied). Returns 0 or -ENOMEM. */
int export_profile__add(struct export_profile *p, const struct export_key *key,
			const struct export_frame *frames, int nr, double count);
/*
 * Add the stacks of @agg, the folded suffixes read as frame kinds; with
 * @root_is_process the first frame of each is the process name.
 */
int export_profile__add_agg(struct export_profile *p, const struct stack_agg *agg,
			    bool root_is_process);
/* As stack_agg__export_pprof() and stack_agg__export_speedscope(); @o->root_is_process unused. */
int export_profile__pprof(const struct export_profile *p, const struct export_opts *o,
			  struct strbuf *out);
int export_profile__speedscope(const struct export_profile *p, const struct export_opts *o,
			       struct strbuf *out);

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

enum flamegraph_palette {
	FG_PALETTE_KIND,	/* by frame kind: kernel "_[k]" blues, inlined "_[i]" teals,
				 * JIT "_[j]" greens, user warm; shade from a hash of the name */
	FG_PALETTE_HOT,		/* warm colours for every frame, shade from the name */
	FG_PALETTE_COLD,	/* blues for every frame, shade from the name */
};

struct flamegraph_opts {
	const char *title;	/* default "Flame Graph" */
	const char *subtitle;	/* NULL: none */
	const char *count_name;	/* default "samples" */
	int width;		/* pixels, default 1200 */
	double min_width;	/* pixels; narrower frames are not drawn (their counts still
				 * make up the parent's width); 0 draws all, and NULL
				 * options mean 0.1 */
	size_t max_frames;	/* 0: no limit; else at most this many frames are drawn,
				 * the narrowest left out first (the frames' group then
				 * says how many in data-cut) */
	bool icicle;		/* root at the top, stacks growing down */
	bool reverse;		/* merge stacks leaf first: the callers of each leaf */
	bool chart;		/* flame chart: x is the order stacks were added in (time),
				 * a frame merges only with the same frame of the stack
				 * right before it */
	enum flamegraph_palette palette;
};

/*
 * A flame graph being built. Stacks are merged into a frame tree as they are
 * added, so memory grows with the distinct frames, not with the input.
 * Sources: folded files (flamegraph__read_folded), an aggregation
 * (flamegraph__add_agg, e.g. filled from the store), or single stacks in
 * time order (flamegraph__add, for flame charts).
 */
struct flamegraph;

/* @opts is copied (its strings are borrowed until flamegraph__free). NULL and errno on error. */
struct flamegraph *flamegraph__new(const struct flamegraph_opts *opts);
void flamegraph__free(struct flamegraph *fg);
/* Add @count to one folded stack (@len bytes, no count). 0, -EINVAL (empty, bad count), -ENOMEM. */
int flamegraph__add(struct flamegraph *fg, const char *stack, size_t len, double count);
/* Add every stack of @agg, in its insertion order. */
int flamegraph__add_agg(struct flamegraph *fg, const struct stack_agg *agg);
/* Stream folded lines from @f; see folded__read() for errors and *@bad. */
int flamegraph__read_folded(struct flamegraph *fg, FILE *f, const char *name, size_t *bad);
/* Total of the counts added so far. */
double flamegraph__total(const struct flamegraph *fg);
/* Append the SVG to @out. No stack can be added afterwards. Returns 0 or -errno. */
int flamegraph__write_svg(struct flamegraph *fg, struct strbuf *out);

/* Render @agg as a self-contained interactive SVG into @out. Returns 0 or -errno. */
int flamegraph__render(const struct stack_agg *agg, const struct flamegraph_opts *opts,
		       struct strbuf *out);

/* ---- differential flame graph ---- */

/*
 * The significance test of a change in share: a two-proportion z-test on the
 * counts @b of @btotal (BASE) and @n of @ntotal (NEW) with the pooled
 * proportion. Returns the z score (positive: the share grew), 0 when both
 * totals are not positive.
 */
double diff__zscore(double b, double btotal, double n, double ntotal);

struct diff_opts {
	struct flamegraph_opts fg;	/* title, width, min_width, ... */
	double z;			/* |z| below this is not significant (grey), default 3 */
};

/*
 * A differential flame graph: NEW's shape, every frame coloured by the
 * change of its inclusive share (red grew, blue shrank, grey not
 * significant), frames new in NEW outlined, frames that vanished listed
 * under the graph and marked on their parent.
 */
int flamegraph__render_diff(const struct stack_agg *base, const struct stack_agg *new,
			    const struct diff_opts *opts, struct strbuf *out);

struct diff_entry {
	const char *name;		/* stored in the same allocation as the array */
	double base_self, new_self;	/* shares, percent of each side's total */
	double base_total, new_total;
	double z_self, z_total;		/* diff__zscore() of the counts */
};

/*
 * Per function: self and total share on both sides, ranked by the largest
 * change (self or total, either direction) first. @skip_root as for
 * stack_agg__top(). *@out is one allocation for free(). Returns 0 or -ENOMEM.
 */
int stack_agg__diff_top(const struct stack_agg *base, const struct stack_agg *new,
			bool skip_root, struct diff_entry **out, size_t *nr);

/*
 * Append @s escaped for XML text and attribute values: &<>"' become
 * entities, control characters and invalid UTF-8 become U+FFFD.
 */
int xml_escape(struct strbuf *sb, const char *s, size_t len);

/*
 * @s (@len bytes) made safe for a terminal, in @sb (emptied first): control
 * characters (C0, DEL, C1) and bytes of invalid UTF-8 become "\xNN", so an
 * input cannot send escape sequences through a message or a table. For text
 * meant for people, not for data output. Returns @sb's text, borrowed until
 * @sb changes; a fixed string when out of memory.
 */
const char *term_escape(struct strbuf *sb, const char *s, size_t len);

/* Whether the @len bytes at @s are well-formed UTF-8 (see common/utf8.h). */
bool utf8_is_valid(const char *s, size_t len);
/*
 * Append @s with each byte that does not start a well-formed UTF-8
 * sequence replaced by U+FFFD, the rest (control characters included) as
 * it is: for pprof's string table and JSON, whose strings must be UTF-8.
 * Returns 0 or -ENOMEM.
 */
int utf8_clean(struct strbuf *sb, const char *s, size_t len);

/* ---- HTTP server (server.c) ---- */

struct sockaddr;
struct http_server;
struct http_request;

/* The path, without the query string ("/api/top"); borrowed for the request. */
const char *http_request__path(const struct http_request *r);
/* The first value of query parameter @key, or NULL; borrowed for the request. */
const char *http_request__arg(const struct http_request *r, const char *key);
/*
 * Call @fn for every query parameter in order, repeated ones each time (a
 * value-less "k" gives ""). Stops at, and returns, @fn's first non-zero.
 */
typedef int (*http_arg_fn)(void *ctx, const char *key, const char *value);
int http_request__each_arg(const struct http_request *r, http_arg_fn fn, void *ctx);

struct http_response {
	int status;		/* 0: 200 */
	const char *type;	/* Content-Type (static); NULL: text/plain; charset=utf-8 */
	struct strbuf body;	/* the server frees it */
	const char *filename;	/* static; set: Content-Disposition: attachment */
	const char *csp;	/* static; NULL: the page's policy (own scripts only) */
};

/*
 * Make @resp a JSON error, {"error": MESSAGE, "param": @param}, one line, with
 * @status; @param may be NULL. Returns 0 or -ENOMEM.
 */
int http_response__error(struct http_response *resp, int status, const char *param,
			 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * The handler of /api/ paths: fill @resp (status 404 for a path it does not
 * know, 400 for bad parameters). Called from several threads at once; a
 * non-zero return (-errno) becomes a 500.
 */
typedef int (*http_handler_fn)(void *ctx, const struct http_request *req,
			       struct http_response *resp);

/* A file built into the binary, served at @path ("/app.js"; "/" is "/index.html"). */
struct http_asset {
	const char *path;
	const char *type;
	const unsigned char *data;
	size_t len;
};

struct http_server_opts {
	const struct sockaddr *addr;	/* where to listen; port 0: any free one */
	unsigned int threads;		/* worker threads answering /api/ requests; 0: 4 */
	unsigned int idle_timeout;	/* seconds a client may be silent; 0: 60 */
	const char *auth_token;		/* NULL: none; else /api/ requires it as a Bearer
					 * token or a token= parameter (assets do not) */
	const struct http_asset *assets;
	size_t nr_assets;
	http_handler_fn handler;
	void *ctx;
};

/*
 * Listen and serve until http_server__stop(): one thread does the HTTP, a
 * pool of @o->threads answers /api/ requests in the order they came. @o is
 * copied, its pointers borrowed until then. NULL with errno set and the
 * reason in @msg (@len bytes) when it cannot listen.
 */
struct http_server *http_server__start(const struct http_server_opts *o, char *msg, size_t len);
/* The port listened on (the one picked when 0 was asked for). */
int http_server__port(const struct http_server *s);
/* Stop listening, finish the requests under way, free. NULL is a no-op. */
void http_server__stop(struct http_server *s);

#endif /* __PROFILER_WEB_H */
