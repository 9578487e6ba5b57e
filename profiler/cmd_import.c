// SPDX-License-Identifier: GPL-2.0
/*
 * `profile import perf-script|folded [FILE]`: turn `perf script` text into
 * folded stacks, the same lines stackcollapse-perf.pl writes, with its
 * options under the same names; with --store, keep a profile made elsewhere
 * (perf script text or folded stacks) in the store as a run of its own, for
 * `profile folded|top|diff store:...` and `profile serve`. The first frame of
 * each stack is the process, frames ending in _[k], _[i], _[j] or _[p] are
 * stored as kernel, inlined, JIT or Python frames without the suffix: `profile folded --run
 * N` prints the input back, one line per distinct stack.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cmds.h"
#include "selector.h"
#include "store/store.h"
#include "web/web.h"
#include "common/hashmap.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/strset.h"

const struct command_def import_cmd = {
	.name = "import",
	.summary = "turn other tools' output (perf script, folded) into folded stacks or a stored run",
	.usage = "perf-script|folded [options] [FILE]",
	.description =
		"Collapse `perf script` output (FILE, or stdin when none is named or for \"-\")\n"
		"into folded stacks, line for line as FlameGraph's stackcollapse-perf.pl does.\n"
		"Each sample weighs its period when perf prints one (\": 250000 cpu-clock:\"),\n"
		"as in perf report; --count-samples counts samples instead:\n"
		"\n"
		"  perf record -g -p PID -- sleep 10\n"
		"  perf script | profile import perf-script > out.folded\n"
		"\n"
		"With --store, the stacks (perf script text, or folded stacks with whole\n"
		"counts) become a run of the database instead, of kind \"import\", to view\n"
		"with 'profile serve' and compare with 'profile diff store:...'. The first\n"
		"frame is the process name; frames ending in _[k], _[i], _[j] and _[p] are\n"
		"kernel, inlined, JIT and Python frames. 'profile folded --run N' prints the stacks back:\n"
		"\n"
		"  perf script | profile import perf-script --store --label build=v2\n"
		"  profile import folded old.folded --store --host web1 --time '2026-01-02 10:00'\n"
		"  profile import folded new.folded --store --build-id 3f2a... --label build=v2",
	.max_args = 2,	/* the format and a file */
};

struct import_opts {
	struct perf_script_opts po;
	const char *out;
	bool store;
	const char *db_path;
	const char *host;
	const char *time;
	const char *build_id;
	struct kv_args labels;
	bool folded;	/* the input is folded stacks */
};

static int parse_args(int argc, char **argv, struct import_opts *o, int *first)
{
	struct perf_script_opts *po = &o->po;
	bool all = false;
	const struct option_def opts[] = {
		OPT_STRING('o', "output", &o->out, "FILE", "folded file (default: stdout)"),
		OPT_FLAG(0, "kernel", &po->kernel, "annotate kernel frames with _[k]"),
		OPT_FLAG(0, "jit", &po->jit, "annotate JIT frames (/tmp/perf-PID.map) with _[j]"),
		OPT_FLAG(0, "all", &all, "both annotations"),
		OPT_FLAG(0, "pid", &po->pid, "process name as comm-PID"),
		OPT_FLAG(0, "tid", &po->tid, "process name as comm-PID/TID"),
		OPT_FLAG(0, "addrs", &po->addrs, "raw addresses where symbols are unknown"),
		OPT_STRING(0, "event-filter", &po->event_filter, "EV",
			   "only samples of event EV (default: the first event seen)"),
		OPT_FLAG(0, "count-samples", &po->count_samples,
			 "count samples (default: weigh each by the period perf printed)"),
		OPT_GROUP("Storing the profile as a run:"),
		OPT_FLAG(0, "store", &o->store, "store the stacks as a new run instead of printing them"),
		OPT_DB(&o->db_path, "database to store into, created when missing"),
		OPT_KEY_VALUE(0, "label", &o->labels, "KEY=VALUE", "label",
			      "label the run (repeatable)"),
		OPT_STRING(0, "host", &o->host, "NAME", "host the run is stored under (default: this one)"),
		OPT_STRING(0, "build-id", &o->build_id, "HEX",
			   "the build id of the profiled executable, for --build-id selections"),
		OPT_STRING(0, "time", &o->time, "TIME",
			   "when the samples were taken: -1h, @UNIX, 'YYYY-MM-DD HH:MM[:SS]' (default: now)"),
		OPT_END(),
	};
	int err;

	err = parse_options(&import_cmd, opts, argc, argv, first);
	if (err)
		return err;
	if (all)
		po->kernel = po->jit = true;
	if (*first >= argc) {
		pr_warn("name the format to import: 'profile import perf-script' or 'profile import folded'");
		return -EINVAL;
	}
	if (!strcmp(argv[*first], "folded")) {
		o->folded = true;
		/* folded stacks are collapsed already: these would silently do nothing */
		if (all || po->kernel || po->jit || po->pid || po->tid || po->addrs ||
		    po->event_filter || po->count_samples) {
			pr_warn("--kernel, --jit, --all, --pid, --tid, --addrs, --event-filter and --count-samples are for perf-script input");
			return -EINVAL;
		}
	} else if (strcmp(argv[*first], "perf-script")) {
		pr_warn("cannot import '%s': the formats known are perf-script and folded",
			argv[*first]);
		return -EINVAL;
	}
	if (o->store && o->out) {
		pr_warn("--store and --output exclude each other: the stacks go to the database");
		return -EINVAL;
	}
	if (!o->store && (o->db_path || o->host || o->time || o->build_id || o->labels.nr)) {
		pr_warn("--db, --label, --host, --build-id and --time are for --store");
		return -EINVAL;
	}
	if (o->build_id && (!o->build_id[0] || strlen(o->build_id) > 128 ||
			    o->build_id[strspn(o->build_id, "0123456789abcdef")])) {
		pr_warn("--build-id: '%s' is not a build id (lower-case hex digits)", o->build_id);
		return -EINVAL;
	}
	if (o->host && !o->host[0]) {
		pr_warn("--host: the name is empty");
		return -EINVAL;
	}
	return 0;
}

struct import_out {
	FILE *f;
	size_t lines;		/* stacks written */
};

/* One folded line, its count as given (a fractional one stays fractional). */
static int write_line(void *ctx, const char *stack, size_t len, double count)
{
	struct import_out *w = ctx;
	char num[FOLDED_COUNT_MAX];

	folded__format_count(num, sizeof(num), count);
	fwrite(stack, 1, len, w->f);
	fprintf(w->f, " %s\n", num);
	w->lines++;
	return ferror(w->f) ? -EIO : 0;
}

/* ---- folded stacks -> one batch of a new run ---- */

struct import_batch {
	const char *name;		/* the input, for messages */
	const char *build_id;		/* of every process, or NULL */
	__s64 ts;			/* the bucket every count goes to */
	struct strset *frame_keys;	/* kind letter + name; the id is the batch's frame index */
	struct strset *stack_keys;	/* frame indexes as bytes; the id is the stack index */
	struct strset *comms;		/* the id is the process index */
	struct hashmap count_of;	/* process << 32 | stack -> index in counts */
	struct store_frame *frames;
	size_t nr_frames, cap_frames;
	struct store_stack *stacks;	/* .frames holds an offset into refs until the end */
	size_t nr_stacks, cap_stacks;
	__u32 *refs;
	size_t nr_refs, cap_refs;
	struct store_process *procs;
	size_t nr_procs, cap_procs;
	struct store_count *counts;
	size_t nr_counts, cap_counts;
	__u32 *line;			/* the frame indexes of the stack being added */
	size_t cap_line;
	__u64 samples;
	long freq;			/* the run's: STORE_FREQ_NS for nanoseconds, 0 unknown */
};

static int grow(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 64;
	void *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	p = reallocarray(*arr, n, size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = n;
	return 0;
}

static void import_batch__release(struct import_batch *b)
{
	strset__free(b->frame_keys);
	strset__free(b->stack_keys);
	strset__free(b->comms);
	hashmap__release(&b->count_of);
	free(b->frames);
	free(b->stacks);
	free(b->refs);
	free(b->procs);
	free(b->counts);
	free(b->line);
}

static bool has_suffix(const char *s, size_t len, const char *suffix)
{
	return len >= 4 && !memcmp(s + len - 4, suffix, 4);
}

/* The batch's index of frame @s (@len bytes, its suffix telling its kind). */
static int frame_index(struct import_batch *b, const char *s, size_t len, __u32 *idx)
{
	char kind = 'u', key[4096];
	int id;

	if (has_suffix(s, len, "_[k]"))
		kind = 'k';
	else if (has_suffix(s, len, "_[i]"))
		kind = 'i';
	else if (has_suffix(s, len, "_[j]"))
		kind = 'j';
	else if (has_suffix(s, len, "_[p]"))
		kind = 'p';
	if (kind != 'u')
		len -= 4;
	if (len >= sizeof(key)) {
		pr_warn("'%s': a frame name of %zu bytes is too long to store (at most %zu)",
			b->name, len, sizeof(key) - 1);
		return -EINVAL;
	}
	key[0] = kind;
	memcpy(key + 1, s, len);
	id = strset__add(b->frame_keys, key, len + 1);
	if (id < 0)
		return id;
	if ((size_t)id == b->nr_frames) {
		if (grow((void **)&b->frames, &b->cap_frames, b->nr_frames + 1, sizeof(*b->frames)))
			return -ENOMEM;
		b->frames[b->nr_frames++] = (struct store_frame){
			.kernel = kind == 'k', .inlined = kind == 'i', .jit = kind == 'j',
			.python = kind == 'p',
			.name = strset__str(b->frame_keys, id) + 1,
		};
	}
	*idx = id;
	return 0;
}

static int add_stack(void *ctx, const char *stack, size_t len, double count)
{
	struct import_batch *b = ctx;
	const char *end = stack + len, *p, *semi;
	size_t nr = 0;
	int proc, sid, err;
	uint64_t key, ci;

	if (!(count >= 1) || count != floor(count) || count > 9007199254740992.0) {
		struct strbuf sb = STRBUF_INIT;

		pr_warn("'%s': the count %g of stack '%s' is not a whole number of samples",
			b->name, count, term_escape(&sb, stack, len > 200 ? 200 : len));
		strbuf__release(&sb);
		return -EINVAL;
	}
	semi = memchr(stack, ';', len);
	proc = strset__add(b->comms, stack, semi ? (size_t)(semi - stack) : len);
	if (proc < 0)
		return proc;
	if ((size_t)proc == b->nr_procs) {
		if (grow((void **)&b->procs, &b->cap_procs, b->nr_procs + 1, sizeof(*b->procs)))
			return -ENOMEM;
		b->procs[b->nr_procs++] = (struct store_process){
			.comm = strset__str(b->comms, proc), .exe_build_id = b->build_id,
		};
	}
	for (p = semi ? semi + 1 : end; semi && p <= end; p = semi + 1) {
		semi = memchr(p, ';', end - p);
		if (grow((void **)&b->line, &b->cap_line, nr + 1, sizeof(*b->line)))
			return -ENOMEM;
		err = frame_index(b, p, (semi ? semi : end) - p, &b->line[nr]);
		if (err)
			return err;
		nr++;
		if (!semi)
			break;
	}
	sid = strset__add(b->stack_keys, (const char *)b->line, nr * sizeof(*b->line));
	if (sid < 0)
		return sid;
	if ((size_t)sid == b->nr_stacks) {
		if (grow((void **)&b->stacks, &b->cap_stacks, b->nr_stacks + 1, sizeof(*b->stacks)) ||
		    grow((void **)&b->refs, &b->cap_refs, b->nr_refs + nr, sizeof(*b->refs)))
			return -ENOMEM;
		memcpy(b->refs + b->nr_refs, b->line, nr * sizeof(*b->line));
		b->stacks[b->nr_stacks++] = (struct store_stack){
			.frames = (const __u32 *)(uintptr_t)b->nr_refs, .nr = nr,
		};
		b->nr_refs += nr;
	}
	b->samples += (__u64)count;
	key = (uint64_t)proc << 32 | (uint64_t)sid;
	if (hashmap__get(&b->count_of, key, &ci)) {
		b->counts[ci].count += (__u64)count;
		return 0;
	}
	if (grow((void **)&b->counts, &b->cap_counts, b->nr_counts + 1, sizeof(*b->counts)) ||
	    hashmap__set(&b->count_of, key, b->nr_counts))
		return -ENOMEM;
	b->counts[b->nr_counts++] = (struct store_count){
		.ts = b->ts, .process = proc, .stack = sid, .count = (__u64)count,
	};
	return 0;
}

/* The command line kept with the run. */
static int run_cmdline(int argc, char **argv, struct strbuf *sb)
{
	int i, err = strbuf__addf(sb, "profile");

	for (i = 0; i < argc && !err; i++)
		err = strbuf__addf(sb, " %s", argv[i]);
	return err;
}

static int store_batch(struct import_batch *b, const struct import_opts *o, int argc,
		       char **argv)
{
	struct store_opts so = { .create = true };
	struct strbuf cmd = STRBUF_INIT;
	struct store_run run = {
		.kind = "import", .labels = o->labels.v, .nr_labels = o->labels.nr,
		.start_ms = b->ts * 1000, .freq = b->freq,
	};
	struct store_batch batch = {
		.frames = b->frames, .nr_frames = b->nr_frames, .stacks = b->stacks,
		.nr_stacks = b->nr_stacks, .processes = b->procs, .nr_processes = b->nr_procs,
		.counts = b->counts, .nr_counts = b->nr_counts,
	};
	char host[256] = "", *path;
	struct store *st;
	size_t i;
	int err;

	for (i = 0; i < b->nr_stacks; i++)
		b->stacks[i].frames = b->refs + (uintptr_t)b->stacks[i].frames;
	gethostname(host, sizeof(host) - 1);
	run.host = o->host ? o->host : host;
	err = run_cmdline(argc, argv, &cmd);
	run.cmdline = strbuf__str(&cmd);
	path = o->db_path ? strdup(o->db_path) : store__default_path();
	if (err || !path) {
		err = -ENOMEM;
		goto out;
	}
	st = store__open(path, &so);
	if (!st) {
		err = -errno;
		goto out;
	}
	err = store__add_run(st, &run, &batch.run_id);
	err = err ?: store__write_batch(st, &batch);
	err = err ?: store__end_run(st, batch.run_id, b->ts * 1000);
	if (err) {
		pr_warn("cannot store the profile in '%s': %s", store__path(st), strerror(-err));
	} else {
		printf("stored run %lld: %llu %s, %zu stacks, %zu processes from '%s'\n",
		       (long long)batch.run_id, (unsigned long long)b->samples,
		       b->freq == STORE_FREQ_NS ? "ns of CPU time" : "samples", b->nr_stacks,
		       b->nr_procs, b->name);
	}
	store__free(st);
out:
	free(path);
	strbuf__release(&cmd);
	return err;
}

/*
 * What the run's counts are, from what perf script's weights were: samples
 * (frequency unknown), or nanoseconds of a time event's periods. Periods of
 * another event (cycles) are no time and no sample count: refused.
 */
static int weights_freq(const struct perf_script_info *info, const char *name, long *freq)
{
	struct strbuf sb = STRBUF_INIT;

	switch (info->unit) {
	case PERF_SCRIPT_NS:
		*freq = STORE_FREQ_NS;
		return 0;
	case PERF_SCRIPT_EVENTS:
		pr_warn("'%s': the weights are periods of event '%s', not time or samples; "
			"store sample counts with --count-samples", name,
			term_escape(&sb, info->event, strlen(info->event)));
		strbuf__release(&sb);
		return -EINVAL;
	default:
		*freq = 0;
		return 0;
	}
}

static int import_store(FILE *in, const char *name, const struct import_opts *o, int argc,
			char **argv)
{
	struct perf_script_info info;
	struct import_batch b = {
		.name = name, .build_id = o->build_id,
		.frame_keys = strset__new(), .stack_keys = strset__new(),
		.comms = strset__new(), .count_of = HASHMAP_INIT,
	};
	size_t bad = 0;
	int err;

	b.ts = time(NULL);
	if (o->time && parse_time(o->time, time(NULL), &b.ts)) {
		pr_warn("--time: cannot read '%s' as a time", o->time);
		err = -EINVAL;
		goto out;
	}
	if (!b.frame_keys || !b.stack_keys || !b.comms) {
		err = -ENOMEM;
		goto out;
	}
	if (o->folded)
		err = folded__read(in, name, add_stack, &b, &bad);
	else
		err = perf_script__collapse(in, name, &o->po, add_stack, &b, &info);
	if (!err && !o->folded)
		err = weights_freq(&info, name, &b.freq);
	if (err == -EINVAL || err == -EBADMSG)
		goto out;	/* reported */
	if (err) {
		pr_warn("cannot read '%s': %s", name, lines__strerror(err));
		goto out;
	}
	if (bad) {
		pr_warn("'%s': %zu malformed line%s; nothing stored", name, bad, bad > 1 ? "s" : "");
		err = -EINVAL;
	} else if (!b.nr_counts) {
		pr_warn("'%s' holds no stacks; nothing stored", name);
		err = -EINVAL;
	} else {
		err = store_batch(&b, o, argc, argv);
	}
out:
	import_batch__release(&b);
	return err;
}

/*
 * -EEXIST, reported, when the output @out is the file @in reads: opening it
 * for writing would empty the input before it is read.
 */
static int check_output(FILE *in, const char *name, const char *out)
{
	struct stat si, so;

	if (!out || !strcmp(out, "-") || fstat(fileno(in), &si) || stat(out, &so))
		return 0;
	if (si.st_dev != so.st_dev || si.st_ino != so.st_ino || !S_ISREG(so.st_mode))
		return 0;
	pr_warn("invalid --output '%s': it is the input '%s'; write to another file", out, name);
	return -EEXIST;
}

/*
 * What the reading of @name ended in (@err, @bad malformed lines), reported;
 * @w has what was written, @write_failed when output__close() said so.
 */
static int import_verdict(const char *name, FILE *in, int err, size_t bad,
			  const struct import_out *w, bool write_failed)
{
	if (err == -EBADMSG || (err == -EIO && write_failed))
		return err;	/* reported: not perf script; or the write, by output__close() */
	if (err) {
		pr_warn("cannot read '%s': %s", name, lines__strerror(ferror(in) ? -EIO : err));
		return err;
	}
	if (bad && !w->lines) {
		pr_warn("'%s' is not folded stacks: none of its %zu line%s reads as 'frame;frame... COUNT'",
			name, bad, bad > 1 ? "s" : "");
		return -EBADMSG;
	}
	if (bad) {
		pr_warn("'%s': %zu malformed line%s", name, bad, bad > 1 ? "s" : "");
		return -EINVAL;
	}
	if (!w->lines)
		pr_warn("no samples in '%s'", name);
	return 0;
}

static int import(const char *in_path, const struct import_opts *o, int argc, char **argv)
{
	FILE *in = input__open(in_path ? in_path : "-");
	const char *name = in == stdin ? "<stdin>" : in_path;
	struct import_out w = {};
	size_t bad = 0;
	bool write_failed;
	int err, werr;

	if (!in)
		return -errno;
	input__progress(isatty(STDERR_FILENO));
	if (o->store) {
		err = import_store(in, name, o, argc, argv);
		input__progress_done();
		goto out_close_in;
	}
	err = check_output(in, name, o->out);
	w.f = err ? NULL : output__open(o->out);
	if (!w.f) {
		err = err ?: -errno;
		input__progress_done();
		goto out_close_in;
	}
	setvbuf(w.f, NULL, _IOFBF, 1 << 20);
	if (o->folded)
		err = folded__read(in, name, write_line, &w, &bad);
	else
		err = perf_script__collapse(in, name, &o->po, write_line, &w, NULL);
	input__progress_done();
	/* a write error is the output's to report; a bad input is not */
	write_failed = ferror(w.f);
	werr = output__close(w.f, o->out, write_failed ? -EIO : 0);
	err = import_verdict(name, in, err, bad, &w, write_failed || werr) ?: werr;
out_close_in:
	if (in != stdin)
		fclose(in);
	return err;
}

int cmd_import(int argc, char **argv)
{
	struct import_opts o = {};
	int err, first;

	err = parse_args(argc, argv, &o, &first);
	if (err) {
		free(o.labels.v);
		return err > 0 ? 0 : EXIT_USAGE;
	}
	err = import(first + 1 < argc ? argv[first + 1] : NULL, &o, argc, argv);
	free(o.labels.v);
	if (err == -EEXIST)
		return EXIT_USAGE;
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
