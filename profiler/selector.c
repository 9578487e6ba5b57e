// SPDX-License-Identifier: GPL-2.0
/*
 * Selector options shared by the commands that read the store, the time,
 * duration and size parsers, and the store -> folded stacks conversion.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "selector.h"
#include "cmds.h"
#include "web/web.h"
#include "common/array.h"
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

/* A bad value of @arg: the hint in @msg; the caller names the option or parameter. */
static int bad(char *msg, size_t len, const char *hint_fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bad(char *msg, size_t len, const char *hint_fmt, ...)
{
	va_list ap;

	va_start(ap, hint_fmt);
	vsnprintf(msg, len, hint_fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int oom(char *msg, size_t len)
{
	snprintf(msg, len, "out of memory");
	return -ENOMEM;
}

static int add_pids(struct selector *s, const char *arg, char *msg, size_t len)
{
	const char *p = arg;
	__u32 *n;
	long pid;

	if (!*arg)
		return bad(msg, len, "give a comma-separated list of process ids");
	for (;;) {
		size_t l = strcspn(p, ",");
		char item[32];

		if (!l)
			return bad(msg, len, "the list has an empty element");
		if (l >= sizeof(item))
			return bad(msg, len, "'%.*s...' is not a process id", 20, p);
		memcpy(item, p, l);
		item[l] = '\0';
		if (parse_int_range(item, 0, 0x7fffffff, &pid))
			return bad(msg, len, "'%s' is not a process id", item);
		n = reallocarray(s->pids, s->sel.nr_pids + 1, sizeof(*n));
		if (!n)
			return oom(msg, len);
		s->pids = n;
		s->pids[s->sel.nr_pids++] = pid;
		s->sel.pids = s->pids;
		if (!p[l])
			return 0;
		p += l + 1;
	}
}

static int add_label(struct selector *s, const char *arg, char *msg, size_t len)
{
	const char **n;

	if (!strchr(arg, '=') || arg[0] == '=')
		return bad(msg, len, "use KEY=VALUE");
	n = reallocarray(s->labels, s->sel.nr_labels + 1, sizeof(*n));
	if (!n)
		return oom(msg, len);
	s->labels = n;
	s->labels[s->sel.nr_labels++] = arg;
	s->sel.labels = s->labels;
	return 0;
}

/* Names or glob patterns; a '[' without its ']' is refused here, not by a backend. */
static int add_host(struct selector *s, const char *arg, char *msg, size_t len)
{
	const char *c, **n;

	if (!*arg || strlen(arg) >= 4096)
		return bad(msg, len, "give a host name or pattern of 1 to 4095 bytes");
	for (c = arg; *c; c++) {
		if (*c != '[')
			continue;
		/* a ']' right after '[' or "[^" is a member of the set */
		c += c[1] == '^' ? 2 : 1;
		if (*c == ']')
			c++;
		c = strchr(c, ']');
		if (!c)
			return bad(msg, len, "a '[' without its ']'");
	}
	n = reallocarray(s->hosts, s->sel.nr_hosts + 1, sizeof(*n));
	if (!n)
		return oom(msg, len);
	s->hosts = n;
	s->hosts[s->sel.nr_hosts++] = arg;
	s->sel.hosts = s->hosts;
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

static const char *opt_name(int c)
{
	size_t i;

	for (i = 0; i < sizeof(selector_opts) / sizeof(selector_opts[0]); i++) {
		if (selector_opts[i].c == c)
			return selector_opts[i].name;
	}
	return "?";
}

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

static int set_opt(struct selector *s, int c, const char *arg, char *msg, size_t len)
{
	long v;
	int err;

	switch (c) {
	case SEL_OPT_DB:
		if (!*arg)
			return bad(msg, len, "give a non-empty value");
		s->db_path = arg;
		break;
	case SEL_OPT_RUN:
		if (!strcmp(arg, "last")) {
			s->last_run = true;
		} else if (parse_int_range(arg, 1, 0x7fffffffffffffffL, &v)) {
			return bad(msg, len, "give a run id or 'last'");
		} else {
			s->sel.run_id = v;
		}
		break;
	case SEL_OPT_SINCE:
	case SEL_OPT_UNTIL:
		if (parse_time(arg, time(NULL), c == SEL_OPT_SINCE ? &s->sel.since : &s->sel.until))
			return bad(msg, len, "use -1h, -30m, @UNIXTIME or 'YYYY-MM-DD HH:MM:SS'");
		break;
	case SEL_OPT_PID:
		err = add_pids(s, arg, msg, len);
		if (err)
			return err;
		break;
	case SEL_OPT_COMM:
		/* the kernel keeps 15 characters; imported profiles name processes freely */
		if (!*arg || strlen(arg) >= 4096)
			return bad(msg, len, "use a process name of 1 to 4095 bytes");
		s->sel.comm = arg;
		break;
	case SEL_OPT_BUILD_ID:
		if (!is_hex(arg))
			return bad(msg, len, "give lower-case hex digits");
		s->sel.build_id = arg;
		break;
	case SEL_OPT_HOST:
		err = add_host(s, arg, msg, len);
		if (err)
			return err;
		break;
	case SEL_OPT_LABEL:
		err = add_label(s, arg, msg, len);
		if (err)
			return err;
		break;
	default:
		return 1;
	}
	s->used = true;
	return 0;
}

int selector__parse(struct selector *s, int c, const char *arg)
{
	char msg[256];
	int err = set_opt(s, c, arg, msg, sizeof(msg));

	if (err < 0)
		pr_warn("invalid --%s '%s': %s", opt_name(c), arg, msg);
	return err;
}

int selector__set(struct selector *s, const char *key, const char *arg, char *msg, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(selector_opts) / sizeof(selector_opts[0]); i++) {
		if (!strcmp(key, selector_opts[i].name) && selector_opts[i].c != SEL_OPT_DB)
			return set_opt(s, selector_opts[i].c, arg, msg, len);
	}
	return 1;
}

void selector__release(struct selector *s)
{
	free(s->pids);
	free(s->labels);
	free(s->hosts);
	s->pids = NULL;
	s->labels = NULL;
	s->hosts = NULL;
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

/* ---- store -> stacks of names ---- */

/*
 * Each frame's name is formatted as folded text has it and interned in the
 * stack_agg once per frame of the query (by its store_query_frame id); a
 * stack is handed over as the array of its names' ids, no text built.
 */
struct fill_ctx {
	struct stack_agg *agg;
	struct strbuf name, tmp;
	int32_t *frame_name;	/* store frame id - 1 -> name id, -1 not yet */
	size_t cap_frames;
	int32_t *ids;		/* the stack being added */
	size_t cap_ids;
	struct strbuf comm;	/* the previous row's comm and its name id */
	int32_t comm_id;
};

static int frame_text(struct fill_ctx *c, const struct store_query_frame *f)
{
	strbuf__setlen(&c->name, 0);
	if (f->kernel)
		return folded__add_frame(&c->name, f->name ? f->name : "[unknown]", "_[k]");
	if (f->name)
		return folded__add_frame(&c->name, f->name,
					 f->inlined ? "_[i]" : f->jit ? "_[j]" :
					 f->python ? "_[p]" : NULL);
	if (!f->module[0])
		return folded__add_frame(&c->name, "[unknown]", NULL);
	strbuf__setlen(&c->tmp, 0);
	return strbuf__addf(&c->tmp, "[unknown] (%s)", f->module) ?:
	       folded__add_frame(&c->name, c->tmp.buf, NULL);
}

/* The name id of @text as a frame (an empty strbuf is a name too: ""). */
static int name_of(struct fill_ctx *c, const struct strbuf *text)
{
	return stack_agg__name(c->agg, text->buf ? text->buf : "", text->len);
}

static int frame_name(struct fill_ctx *c, const struct store_query_frame *f)
{
	int id, err;

	if (f->id && f->id <= c->cap_frames && c->frame_name[f->id - 1] >= 0)
		return c->frame_name[f->id - 1];
	err = frame_text(c, f);
	if (err)
		return err;
	id = name_of(c, &c->name);
	if (id < 0 || !f->id)
		return id;
	if (f->id > c->cap_frames) {
		size_t cap = c->cap_frames ? c->cap_frames : 1024;
		int32_t *n;

		while (cap < f->id)
			cap *= 2;
		n = reallocarray(c->frame_name, cap, sizeof(*n));
		if (!n)
			return -ENOMEM;
		memset(n + c->cap_frames, 0xff, (cap - c->cap_frames) * sizeof(*n));
		c->frame_name = n;
		c->cap_frames = cap;
	}
	c->frame_name[f->id - 1] = id;
	return id;
}

static int fill_one(void *ctx, const char *comm, const struct store_query_frame *frames, int nr,
		    __u64 count)
{
	struct fill_ctx *c = ctx;
	int i, id;

	if (!comm[0])
		comm = "[unknown comm]";
	if (c->comm_id < 0 || strcmp(comm, c->comm.buf)) {
		strbuf__setlen(&c->comm, 0);
		strbuf__setlen(&c->name, 0);
		id = strbuf__adds(&c->comm, comm) ?: folded__add_frame(&c->name, comm, NULL);
		id = id ?: name_of(c, &c->name);
		c->comm_id = id;	/* an error: looked up again next time */
		if (id < 0)
			return id;
	}
	if (ARRAY_GROW(c->ids, c->cap_ids, (size_t)nr + 1, 64))
		return -ENOMEM;
	c->ids[0] = c->comm_id;
	for (i = 0; i < nr; i++) {
		id = frame_name(c, &frames[i]);
		if (id < 0)
			return id;
		c->ids[i + 1] = id;
	}
	if (!nr) {
		strbuf__setlen(&c->name, 0);
		id = folded__add_frame(&c->name, "[no stack]", NULL) ?: name_of(c, &c->name);
		if (id < 0)
			return id;
		c->ids[nr++ + 1] = id;
	}
	return stack_agg__add_names(c->agg, c->ids, nr + 1, count);
}

int selector__fill(struct selector *s, struct store *st, struct stack_agg *agg)
{
	struct fill_ctx c = { .agg = agg, .name = STRBUF_INIT, .tmp = STRBUF_INIT,
			      .comm = STRBUF_INIT, .comm_id = -1 };
	int err;

	err = store__query_stacks(st, &s->sel, fill_one, &c);
	strbuf__release(&c.name);
	strbuf__release(&c.tmp);
	strbuf__release(&c.comm);
	free(c.frame_name);
	free(c.ids);
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

int write_top_table(const struct stack_agg *agg, long limit, FILE *f)
{
	double total = stack_agg__total(agg);
	struct strbuf sb = STRBUF_INIT;
	struct top_entry *top;
	size_t n, i;
	int err;

	if (!limit || total <= 0)
		return 0;
	err = stack_agg__top(agg, true, &top, &n);
	if (err)
		return err;
	fprintf(f, "%7s %7s %9s  %s\n", "SELF%", "TOTAL%", "SAMPLES", "FUNCTION");
	/* names of imported profiles are as the file had them: no escapes to a terminal */
	for (i = 0; i < n && i < (size_t)limit; i++)
		fprintf(f, "%6.2f%% %6.2f%% %9.0f  %s\n", 100 * top[i].self / total,
		       100 * top[i].total / total, top[i].self,
		       term_escape(&sb, top[i].name, strlen(top[i].name)));
	strbuf__release(&sb);
	free(top);
	return 0;
}

int print_top_table(const struct stack_agg *agg, long limit)
{
	return write_top_table(agg, limit, stdout);
}

int write_top_report(const struct stack_agg *agg, long limit, FILE *f)
{
	if (stack_agg__total(agg) <= 0)
		fprintf(f, "No samples match.\n");
	else
		fprintf(f, "%.0f samples in %zu stacks\n\n", stack_agg__total(agg),
			stack_agg__nr_stacks(agg));
	return write_top_table(agg, limit, f);
}
