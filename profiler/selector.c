// SPDX-License-Identifier: GPL-2.0
/*
 * Selector options shared by the commands that read the store, the time,
 * duration and size parsers, and the store -> folded stacks conversion.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "selector.h"
#include "cmds.h"
#include "web/web.h"
#include "common/strbuf.h"
#include "common/log.h"

int parse_duration(const char *s, __s64 *secs)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !(v >= 0 && v <= 1e12))	/* nan fails too */
		return -EINVAL;
	if (!strcmp(end, "") || !strcmp(end, "s"))
		;
	else if (!strcmp(end, "m"))
		v *= 60;
	else if (!strcmp(end, "h"))
		v *= 3600;
	else if (!strcmp(end, "d"))
		v *= 86400;
	else if (!strcmp(end, "w"))
		v *= 7 * 86400;
	else
		return -EINVAL;
	*secs = (__s64)v;
	return 0;
}

int parse_size(const char *s, __u64 *bytes)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !(v >= 0 && v <= 1e18))	/* nan fails too */
		return -EINVAL;
	if (*end && end[1] && strcmp(end + 1, "B") && strcmp(end + 1, "iB"))
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		v *= 1024;
		break;
	case 'm': case 'M':
		v *= 1024 * 1024;
		break;
	case 'g': case 'G':
		v *= 1024.0 * 1024 * 1024;
		break;
	default:
		return -EINVAL;
	}
	*bytes = (__u64)v;
	return 0;
}

int parse_time(const char *s, time_t now, __s64 *out)
{
	static const char *const formats[] = {
		"%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M",
		"%Y-%m-%d",
	};
	struct tm tm;
	__s64 d;
	size_t i;
	char *end;

	if (!strcmp(s, "now")) {
		*out = now;
		return 0;
	}
	if (s[0] == '-') {
		if (parse_duration(s + 1, &d))
			return -EINVAL;
		*out = now - d;
		return 0;
	}
	if (s[0] == '@') {
		errno = 0;
		d = strtoll(s + 1, &end, 10);
		if (end == s + 1 || *end || errno || d < 0)
			return -EINVAL;
		*out = d;
		return 0;
	}
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, formats[i], &tm);
		if (!end || (*end && strcmp(end, "Z")))
			continue;
		tm.tm_isdst = -1;
		*out = *end ? timegm(&tm) : mktime(&tm);
		return *out == -1 ? -EINVAL : 0;
	}
	return -EINVAL;
}

const char *format_time(__s64 t, char *buf, size_t len)
{
	time_t tt = t;
	struct tm tm;

	if (!localtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "@%lld", (long long)t);
	return buf;
}

/* ---- options ---- */

/* A bad value of the selector option (or store: key) @name: one line naming both. */
static int bad(const char *name, const char *arg, const char *hint)
{
	const struct option_def opt = { .long_name = name };

	return parse_options__bad(&opt, arg, "%s", hint);
}

static int add_pid(const struct option_def *opt, const char *item, void *ctx)
{
	struct selector *s = ctx;
	__u32 *n;
	long pid;

	if (parse_int_range(item, 0, 0x7fffffff, &pid)) {
		pr_warn("'%s' is not a process id (--%s)", item, opt->long_name);
		return -EINVAL;
	}
	n = reallocarray(s->pids, s->sel.nr_pids + 1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->pids = n;
	s->pids[s->sel.nr_pids++] = pid;
	s->sel.pids = s->pids;
	return 0;
}

static int add_pids(struct selector *s, const char *arg)
{
	static const struct option_def opt = { .long_name = "pid", .what = "process id list" };

	return parse_options__list(&opt, arg, add_pid, s);
}

static int add_label(struct selector *s, const char *arg)
{
	const char **n;

	if (!strchr(arg, '=') || arg[0] == '=') {
		return bad("label", arg, "use KEY=VALUE");
	}
	n = reallocarray(s->labels, s->sel.nr_labels + 1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->labels = n;
	s->labels[s->sel.nr_labels++] = arg;
	s->sel.labels = s->labels;
	return 0;
}

static const struct {
	const char *name;
	int c;
} selector_opts[] = {
	{ "db", SEL_OPT_DB }, { "run", SEL_OPT_RUN }, { "since", SEL_OPT_SINCE },
	{ "until", SEL_OPT_UNTIL }, { "pid", SEL_OPT_PID }, { "comm", SEL_OPT_COMM },
	{ "build-id", SEL_OPT_BUILD_ID }, { "host", SEL_OPT_HOST }, { "label", SEL_OPT_LABEL },
};

int selector__opt(const struct option_def *opt, const char *arg)
{
	size_t i;

	for (i = 0; i < sizeof(selector_opts) / sizeof(selector_opts[0]); i++) {
		if (!strcmp(opt->long_name, selector_opts[i].name))
			return selector__parse(opt->value, selector_opts[i].c, arg) ? -EINVAL : 0;
	}
	return -EINVAL;
}

static bool is_hex(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
			return false;
	return true;
}

int selector__parse(struct selector *s, int c, const char *arg)
{
	long v;

	switch (c) {
	case SEL_OPT_DB:
		if (!*arg)
			return bad("db", arg, "give a non-empty value");
		s->db_path = arg;
		break;
	case SEL_OPT_RUN:
		if (!strcmp(arg, "last")) {
			s->last_run = true;
		} else if (parse_int_range(arg, 1, 0x7fffffffffffffffL, &v)) {
			return bad("run", arg, "give a run id or 'last'");
		} else {
			s->sel.run_id = v;
		}
		break;
	case SEL_OPT_SINCE:
	case SEL_OPT_UNTIL:
		if (parse_time(arg, time(NULL), c == SEL_OPT_SINCE ? &s->sel.since : &s->sel.until)) {
			return bad(c == SEL_OPT_SINCE ? "since" : "until", arg,
				   "use -1h, -30m, @UNIXTIME or 'YYYY-MM-DD HH:MM:SS'");
		}
		break;
	case SEL_OPT_PID:
		if (add_pids(s, arg))
			return -EINVAL;
		break;
	case SEL_OPT_COMM:
		if (!*arg || strlen(arg) >= 16) {
			return bad("comm", arg, "the kernel keeps 1 to 15 characters");
		}
		s->sel.comm = arg;
		break;
	case SEL_OPT_BUILD_ID:
		if (!is_hex(arg)) {
			return bad("build-id", arg, "give lower-case hex digits");
		}
		s->sel.build_id = arg;
		break;
	case SEL_OPT_HOST:
		if (!*arg)
			return bad("host", arg, "give a non-empty value");
		s->sel.host = arg;
		break;
	case SEL_OPT_LABEL:
		if (add_label(s, arg))
			return -EINVAL;
		break;
	default:
		return 1;
	}
	s->used = true;
	return 0;
}

void selector__release(struct selector *s)
{
	free(s->pids);
	free(s->labels);
	s->pids = NULL;
	s->labels = NULL;
}

struct store *selector__open(struct selector *s)
{
	char *path = s->db_path ? strdup(s->db_path) : store__default_path();
	struct store *st;
	int err;

	if (!path) {
		errno = ENOMEM;
		return NULL;
	}
	st = store__open(path, NULL);
	err = -errno;
	free(path);
	if (!st) {
		errno = -err;
		return NULL;
	}
	if (s->last_run) {
		err = store__last_run(st, &s->sel.run_id);
		if (!err && !s->sel.run_id) {
			pr_warn("'%s' holds no runs", store__path(st));
			err = -ENOENT;
		}
		if (err) {
			store__free(st);
			errno = -err;
			return NULL;
		}
	}
	return st;
}

/* ---- store -> folded stacks ---- */

struct fill_ctx {
	struct stack_agg *agg;
	struct strbuf line, tmp;
};

static int add_query_frame(struct fill_ctx *c, const struct store_query_frame *f)
{
	if (f->kernel)
		return folded__add_frame(&c->line, f->name ? f->name : "[unknown]", "_[k]");
	if (f->name)
		return folded__add_frame(&c->line, f->name,
					 f->inlined ? "_[i]" : f->jit ? "_[j]" : NULL);
	if (!f->module[0])
		return folded__add_frame(&c->line, "[unknown]", NULL);
	strbuf__setlen(&c->tmp, 0);
	return strbuf__addf(&c->tmp, "[unknown] (%s)", f->module) ?:
	       folded__add_frame(&c->line, c->tmp.buf, NULL);
}

static int fill_one(void *ctx, const char *comm, const struct store_query_frame *frames, int nr,
		    __u64 count)
{
	struct fill_ctx *c = ctx;
	int i, err;

	strbuf__setlen(&c->line, 0);
	err = folded__add_frame(&c->line, comm[0] ? comm : "[unknown comm]", NULL);
	for (i = 0; i < nr && !err; i++)
		err = add_query_frame(c, &frames[i]);
	if (!err && !nr)
		err = folded__add_frame(&c->line, "[no stack]", NULL);
	return err ?: stack_agg__add(c->agg, c->line.buf, c->line.len, count);
}

int selector__fill(struct selector *s, struct store *st, struct stack_agg *agg)
{
	struct fill_ctx c = { .agg = agg, .line = STRBUF_INIT, .tmp = STRBUF_INIT };
	int err;

	err = store__query_stacks(st, &s->sel, fill_one, &c);
	strbuf__release(&c.line);
	strbuf__release(&c.tmp);
	return err;
}

struct stack_agg *selector__load(struct selector *s)
{
	struct stack_agg *agg = stack_agg__new();
	struct store *st = agg ? selector__open(s) : NULL;
	int err;

	err = st ? selector__fill(s, st, agg) : -errno;
	store__free(st);
	if (err) {
		stack_agg__free(agg);
		errno = -err;
		return NULL;
	}
	return agg;
}

int print_top_table(const struct stack_agg *agg, long limit)
{
	double total = stack_agg__total(agg);
	struct top_entry *top;
	size_t n, i;
	int err;

	if (!limit || total <= 0)
		return 0;
	err = stack_agg__top(agg, true, &top, &n);
	if (err)
		return err;
	printf("%7s %7s %9s  %s\n", "SELF%", "TOTAL%", "SAMPLES", "FUNCTION");
	for (i = 0; i < n && i < (size_t)limit; i++)
		printf("%6.2f%% %6.2f%% %9.0f  %s\n", 100 * top[i].self / total,
		       100 * top[i].total / total, top[i].self, top[i].name);
	free(top);
	return 0;
}
