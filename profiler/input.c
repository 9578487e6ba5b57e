// SPDX-License-Identifier: GPL-2.0
/*
 * Where the presenting subcommands (flamegraph, diff, export) get their
 * stacks from: a folded file, "-" for stdin, or a store selection written
 * "store:KEY=VALUE[,KEY=VALUE...]" with the keys of the selector options
 * (run, since, until, pid, comm, build-id, host, label, db), e.g.
 * "store:run=12" or "store:label=version=1.4,comm=nginx".
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cmds.h"
#include "selector.h"
#include "store/store.h"
#include "web/web.h"
#include "common/array.h"
#include "common/strbuf.h"
#include "common/log.h"

static void show_progress(size_t done, size_t total)
{
	if (total)
		fprintf(stderr, "\r\033[Kreading: %zu of %zu MB", done >> 20, total >> 20);
	else
		fprintf(stderr, "\r\033[Kreading: %zu MB", done >> 20);
}

static bool progress_on;

void input__progress(bool on)
{
	progress_on = on;
	web__set_read_progress(on ? show_progress : NULL);
}

void input__progress_done(void)
{
	if (progress_on)
		fprintf(stderr, "\r\033[K");
	input__progress(false);
}

int input__check_file(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return 0;	/* opening it names the problem */
	if (S_ISDIR(st.st_mode)) {
		pr_warn("'%s' is a directory", path);
		return -EISDIR;
	}
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode)) {
		pr_warn("'%s' is not a regular file", path);
		return -EINVAL;
	}
	return 0;
}

FILE *input__open(const char *spec)
{
	FILE *f;
	int err;

	if (!strcmp(spec, "-"))
		return stdin;
	err = input__check_file(spec);
	if (err) {
		errno = -err;
		return NULL;
	}
	f = fopen(spec, "r");
	if (!f)
		pr_warn("cannot open '%s': %s", spec, strerror(errno));
	return f;
}

static const char *input_name(const char *spec)
{
	return strcmp(spec, "-") ? spec : "<stdin>";
}

static int close_input(FILE *f, const char *spec, int err)
{
	if (f != stdin)
		fclose(f);
	if (err)
		pr_warn("cannot read '%s': %s", input_name(spec), lines__strerror(err));
	return err;
}

/*
 * After folded input @spec gave @samples with @bad malformed lines: an
 * error when there were lines but not one of them was folded stacks (perf
 * script text, a perf.data, a pprof file...), a warning when it held no
 * samples. Returns 0 or -EBADMSG, reported.
 */
static int check_samples(const char *spec, size_t bad, double samples)
{
	if (samples > 0)
		return 0;
	if (bad) {
		pr_warn("'%s' is not folded stacks: none of its %zu line%s reads as 'frame;frame... COUNT'",
			input_name(spec), bad, bad > 1 ? "s" : "");
		return -EBADMSG;
	}
	pr_warn("no samples in '%s'", input_name(spec));
	return 0;
}

static const struct {
	const char *key;
	int opt;
} store_keys[] = {
	{ "run", SEL_OPT_RUN }, { "since", SEL_OPT_SINCE }, { "until", SEL_OPT_UNTIL },
	{ "pid", SEL_OPT_PID }, { "comm", SEL_OPT_COMM }, { "build-id", SEL_OPT_BUILD_ID },
	{ "host", SEL_OPT_HOST }, { "label", SEL_OPT_LABEL }, { "db", SEL_OPT_DB },
};

static const char *store_db;

void input__set_db(const char *path)
{
	store_db = path;
}

/* "KEY=VALUE[,KEY=VALUE...]" into @sel; -EINVAL after naming the problem. */
static int parse_store_spec(const char *spec, struct selector *sel, struct strbuf *buf)
{
	char *item, *save = NULL;
	size_t i;
	int err;

	if (*spec && (spec[0] == ',' || spec[strlen(spec) - 1] == ',' || strstr(spec, ",,"))) {
		pr_warn("'store:%s': the list has an empty element", spec);
		return -EINVAL;
	}
	if (strbuf__adds(buf, spec))
		return -ENOMEM;
	if (store_db && (err = selector__parse(sel, SEL_OPT_DB, store_db)))
		return err < 0 ? err : -EINVAL;
	for (item = strtok_r(buf->buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');

		if (!eq) {
			pr_warn("'store:%s': '%s' is not KEY=VALUE", spec, item);
			return -EINVAL;
		}
		*eq = '\0';
		for (i = 0; i < sizeof(store_keys) / sizeof(store_keys[0]); i++) {
			if (!strcmp(item, store_keys[i].key))
				break;
		}
		if (i == sizeof(store_keys) / sizeof(store_keys[0])) {
			pr_warn("'store:%s': unknown key '%s' (run, since, until, pid, comm, build-id, host, label, db)",
				spec, item);
			return -EINVAL;
		}
		err = selector__parse(sel, store_keys[i].opt, eq + 1);
		if (err)
			return err < 0 ? err : -EINVAL;
	}
	return 0;
}

static int note_freq(void *ctx, const struct store_run_info *run)
{
	long *freq = ctx;

	if (!*freq)
		*freq = run->freq;
	else if (*freq > 0 && *freq != run->freq)
		*freq = -1;
	return 0;
}

int input__store_freq(const char *spec, long *freq)
{
	struct strbuf buf = STRBUF_INIT;
	struct selector sel = {};
	struct store *st = NULL;
	int err;

	*freq = 0;
	if (strncmp(spec, "store:", 6))
		return 0;
	err = parse_store_spec(spec + 6, &sel, &buf);
	if (!err) {
		st = selector__open(&sel);
		err = st ? 0 : -errno;
	}
	if (!err)
		err = store__list_runs(st, &sel.sel, note_freq, freq);
	store__free(st);
	selector__release(&sel);
	strbuf__release(&buf);
	return err;
}

/* A store selection's stacks, added to @agg. */
static int load_store(const char *spec, struct stack_agg *agg)
{
	struct strbuf buf = STRBUF_INIT;
	struct selector sel = {};
	struct stack_agg *got = NULL;
	const char *stack;
	double count;
	size_t i;
	int err;

	err = parse_store_spec(spec, &sel, &buf);
	if (!err) {
		got = selector__load(&sel);
		err = got ? 0 : -errno;
	}
	for (i = 0; !err && stack_agg__get(got, i, &stack, &count); i++) {
		if (count > 0)
			err = stack_agg__add(agg, stack, strlen(stack), count);
	}
	stack_agg__free(got);
	selector__release(&sel);
	strbuf__release(&buf);
	return err;
}

/* A frame of a store as the exports take it, named as selector__fill() names it in folded. */
static void export_frame_of(const struct store_query_frame *f, struct export_frame *x,
			    struct strbuf *tmp)
{
	*x = (struct export_frame){
		.name = f->name, .module = f->module, .build_id = f->build_id, .file = f->file,
		.addr = f->addr, .line = f->line, .start_line = f->start_line,
		.kernel = f->kernel, .inlined = f->inlined, .jit = f->jit, .python = f->python,
	};
	if (f->name)
		return;
	x->unresolved = true;
	x->name = "[unknown]";
	strbuf__setlen(tmp, 0);
	if (!f->kernel && f->module[0] && !strbuf__addf(tmp, "[unknown] (%s)", f->module))
		x->name = tmp->buf;
}

struct profile_ctx {
	struct export_profile *p;
	struct export_frame *frames;
	size_t cap;
	struct strbuf *names;	/* one per frame: the names of unresolved frames */
	size_t nr_names;
};

static int add_sample(void *ctx, const struct store_sample_key *key,
		      const struct store_query_frame *frames, int nr, __u64 count)
{
	static const struct export_frame no_stack = { .name = "[no stack]", .unresolved = true };
	struct export_key k = { .comm = key->comm[0] ? key->comm : "[unknown comm]",
				.host = key->host, .pid = key->pid };
	struct profile_ctx *c = ctx;
	int i;

	if (ARRAY_GROW(c->frames, c->cap, (size_t)nr + 1, 64))
		return -ENOMEM;
	if ((size_t)nr > c->nr_names) {
		struct strbuf *n = reallocarray(c->names, nr, sizeof(*n));

		if (!n)
			return -ENOMEM;
		for (; c->nr_names < (size_t)nr; c->nr_names++)
			n[c->nr_names] = (struct strbuf)STRBUF_INIT;
		c->names = n;
	}
	for (i = 0; i < nr; i++)
		export_frame_of(&frames[i], &c->frames[i], &c->names[i]);
	if (!nr)
		c->frames[nr++] = no_stack;
	return export_profile__add(c->p, &k, c->frames, nr, count);
}

int input__store_profile(struct store *st, const struct store_selector *sel,
			 struct export_profile *p, long *freq)
{
	struct profile_ctx c = { .p = p };
	size_t i;
	int err;

	if (freq)
		*freq = 0;
	err = store__query_samples(st, sel, add_sample, &c);
	for (i = 0; i < c.nr_names; i++)
		strbuf__release(&c.names[i]);
	free(c.names);
	free(c.frames);
	if (!err && freq)
		err = store__list_runs(st, sel, note_freq, freq);
	return err;
}

static int load_store_profile(const char *spec, struct export_profile *p)
{
	struct strbuf buf = STRBUF_INIT;
	struct selector sel = {};
	struct store *st = NULL;
	int err;

	err = parse_store_spec(spec, &sel, &buf);
	if (!err) {
		st = selector__open(&sel);
		err = st ? 0 : -errno;
	}
	err = err ?: input__store_profile(st, &sel.sel, p, NULL);
	store__free(st);
	selector__release(&sel);
	strbuf__release(&buf);
	return err;
}

int input__load_profile(const char *spec, struct export_profile *p)
{
	struct stack_agg *agg;
	int err;

	if (!strncmp(spec, "store:", 6))
		return load_store_profile(spec + 6, p);
	agg = stack_agg__new();
	err = agg ? input__load_agg(spec, agg) : -ENOMEM;
	err = err ?: export_profile__add_agg(p, agg, true);
	stack_agg__free(agg);
	return err;
}

int input__load_agg(const char *spec, struct stack_agg *agg)
{
	double before = stack_agg__total(agg);
	size_t bad = 0;
	FILE *f;
	int err;

	if (!strncmp(spec, "store:", 6)) {
		err = load_store(spec + 6, agg);
	} else {
		f = input__open(spec);
		if (!f)
			return -errno;
		err = close_input(f, spec, stack_agg__read_folded(agg, f, input_name(spec), &bad));
	}
	return err ?: check_samples(spec, bad, stack_agg__total(agg) - before);
}

int input__feed_flamegraph(const char *spec, struct flamegraph *fg)
{
	if (!strncmp(spec, "store:", 6)) {
		struct stack_agg *agg = stack_agg__new();
		int err = agg ? load_store(spec + 6, agg) : -ENOMEM;

		if (!err)
			err = flamegraph__add_agg(fg, agg);
		if (!err)
			err = check_samples(spec, 0, stack_agg__total(agg));
		stack_agg__free(agg);
		return err;
	}

	double before = flamegraph__total(fg);
	FILE *f = input__open(spec);
	size_t bad = 0;
	int err;

	if (!f)
		return -errno;
	err = close_input(f, spec, flamegraph__read_folded(fg, f, input_name(spec), &bad));
	return err ?: check_samples(spec, bad, flamegraph__total(fg) - before);
}

FILE *output__open(const char *path)
{
	FILE *f = path && strcmp(path, "-") ? fopen(path, "w") : stdout;

	if (!f)
		pr_warn("cannot create '%s': %s", path, strerror(errno));
	return f;
}

int output__close(FILE *f, const char *path, int err)
{
	bool to_stdout = f == stdout;

	if (to_stdout ? fflush(f) : fclose(f))
		err = err ? err : -EIO;
	if (err)
		pr_warn("cannot write '%s': %s", to_stdout ? "<stdout>" : path, strerror(-err));
	return err;
}

int output__write(const struct strbuf *sb, const char *path)
{
	FILE *f = output__open(path);

	if (!f)
		return -errno;
	return output__close(f, path, strbuf__write(sb, f));
}
