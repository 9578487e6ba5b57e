// SPDX-License-Identifier: GPL-2.0
/*
 * `profile [record]`: sample every CPU for --duration seconds, symbolize as
 * the maps are drained, then print the top functions and write folded stacks
 * and an SVG flame graph. SIGINT/SIGTERM end the run early; everything
 * recorded up to then is still written.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cmds.h"
#include "collector.h"
#include "ingest.h"
#include "unwind_report.h"
#include "symbolizer/symbolizer.h"
#include "web/web.h"
#include "common/strbuf.h"
#include "common/clock.h"
#include "common/log.h"

struct record_opts {
	double duration;
	double interval;
	long freq;
	pid_t *pids;
	int nr_pids;
	const char *comm;
	const char *svg_path;
	const char *folded_path;
	const char *title;
	enum collector_event event;
	bool include_idle;
	long top;
	bool progress;
	const char *db_path;	/* NULL: the default database; "-": none */
	int argc;
	char **argv;
	enum unwind_mode unwind;
	bool full_names;	/* C++ names with parameter lists */
	bool no_python;		/* no CPython stack walk */
	bool python_eval;	/* keep the eval loop's frames under the Python ones */
};

struct record {
	struct record_opts *opts;
	struct symbolizer *syms;
	struct stack_agg *agg;
	struct collector *coll;
	struct ingest *ingest;	/* symbolizes, and stores the run when a store is open */
	struct strbuf line;
	__u64 samples;		/* recorded samples handed to us */
	int err;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

const struct command_def record_cmd = {
	.name = "record",
	.summary = "sample all CPUs, print the top functions, write SVG and folded stacks",
	.usage = "[options]",
	.description =
		"Sample kernel and user stacks on every CPU, then print the hottest functions\n"
		"and write an SVG flame graph and folded stacks. This is what 'profile' does\n"
		"with no command. Ctrl-C or SIGTERM ends the run early; what was recorded is\n"
		"still written. The run is also stored in the database (see --db).",
	.notes =
		"Give '-' as a file name to skip that output. A failure while profiling exits 1.",
	.max_args = 0,
};

/*
 * The process a thread id belongs to (the id itself for a process, or when
 * it cannot be told): samples are filtered by process, as `perf record -p`
 * takes a thread id for its whole process.
 */
static long thread_group_of(long pid)
{
	char path[64], line[128];
	long tgid = pid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "re");
	if (!f)
		return pid;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %ld", &tgid) == 1)
			break;
	fclose(f);
	if (tgid != pid && tgid > 0) {
		pr_info("%ld is a thread of process %ld: profiling process %ld", pid, tgid, tgid);
		return tgid;
	}
	return pid;
}

static int add_pid(const struct option_def *opt, const char *item, void *ctx)
{
	struct record_opts *o = ctx;
	pid_t *n;
	long pid;

	if (parse_int_range(item, 1, 0x7fffffff, &pid)) {
		pr_warn("'%s' is not a process id (--pid)", item);
		return -EINVAL;
	}
	if (kill(pid, 0) && errno == ESRCH) {
		pr_warn("no process with pid %ld (--%s)", pid, opt->long_name);
		return -ESRCH;
	}
	pid = thread_group_of(pid);
	n = reallocarray(o->pids, o->nr_pids + 1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	o->pids = n;
	o->pids[o->nr_pids++] = pid;
	return 0;
}

static int opt_pids(const struct option_def *opt, const char *arg)
{
	return parse_options__list(opt, arg, add_pid, opt->value);
}

static int opt_comm(const struct option_def *opt, const char *arg)
{
	if (!*arg)
		return parse_options__bad(opt, arg, "the kernel keeps 1 to 15 characters");
	/* a longer name is cut by the kernel: say what it keeps */
	if (strlen(arg) >= TASK_COMM_LEN)
		return parse_options__bad(opt, arg,
					  "the kernel keeps 1 to 15 characters (of this name, '%.15s')",
					  arg);
	*(const char **)opt->value = arg;
	return 0;
}

static int opt_event(const struct option_def *opt, const char *arg)
{
	enum collector_event *e = opt->value;

	if (!strcmp(arg, "cpu-clock"))
		*e = EVENT_CPU_CLOCK;
	else if (!strcmp(arg, "cycles"))
		*e = EVENT_CYCLES;
	else
		return parse_options__bad(opt, arg, "use cpu-clock or cycles");
	return 0;
}

static int opt_unwind(const struct option_def *opt, const char *arg)
{
	return unwind_mode__parse(arg, opt->value) ? -EINVAL : 0;
}

/* Returns 0, 1 when --help was shown, or -EINVAL after naming the problem. */
static int parse_args(int argc, char **argv, struct record_opts *o)
{
	const struct option_def opts[] = {
		OPT_SECONDS('d', "duration", &o->duration, "SECONDS", "duration", 0, OPT_MAX_SECONDS,
			    "how long to sample (default 30; 0 = until Ctrl-C)"),
		OPT_LONG('F', "freq", &o->freq, "HZ", "frequency", 1, 100000,
			 "samples per second per CPU (default 99)"),
		OPT_CALLBACK('p', "pid", o, "PID[,PID...]", "process id", opt_pids,
			     "only these processes (repeatable)"),
		OPT_CALLBACK(0, "comm", &o->comm, "NAME", "comm", opt_comm,
			     "only threads whose comm is NAME"),
		OPT_STRING('o', "output", &o->svg_path, "FILE.svg",
			   "flame graph (default profile.svg; '-' for none)"),
		OPT_STRING(0, "folded", &o->folded_path, "FILE",
			   "folded stacks (default profile.folded; '-' for none)"),
		OPT_CALLBACK('e', "event", &o->event, "EVENT", "event", opt_event,
			     "cpu-clock (default) or cycles (needs a hardware PMU)"),
		OPT_FLAG(0, "include-idle", &o->include_idle, "also record the idle task (swapper)"),
		OPT_LONG(0, "top", &o->top, "N", "row count", 0, 100000,
			 "rows in the top-functions table (default 20)"),
		OPT_STRING_EMPTY(0, "title", &o->title, "TEXT", "flame graph title"),
		OPT_SECONDS(0, "interval", &o->interval, "SECONDS", "interval", 0.01, 3600,
			    "how often the kernel maps are drained (default 1)"),
		OPT_CALLBACK(0, "unwind", &o->unwind, "METHOD", "unwind method", opt_unwind,
			     "user stacks: fp (frame pointers), dwarf (.eh_frame tables) or auto (tables, else frame pointers; default)"),
		OPT_FLAG(0, "no-python", &o->no_python,
			 "no CPython frames: Python code shows as the interpreter's C frames"),
		OPT_FLAG(0, "python-interpreter-frames", &o->python_eval,
			 "keep _PyEval_EvalFrameDefault under the Python frames it ran"),
		OPT_FLAG(0, "full-names", &o->full_names,
			 "C++ names with parameter lists (default: without, as perf shows them)"),
		OPT_UNSET(0, "no-progress", &o->progress, "no progress line, even on a terminal"),
		OPT_DB(&o->db_path, "store the run there; '-' for none"),
		OPT_END(),
	};
	int first;

	return parse_options(&record_cmd, opts, argc, argv, &first);
}

/* ---- turning samples into folded stacks ---- */

/* An ingest_sample_fn: the sample, symbolized by ingest, as a folded stack. */
static int on_sample(void *ctx, const struct ingest_sample *s)
{
	struct record *r = ctx;
	int err;

	err = ingest_sample__folded(s, &r->line);
	if (!err)
		err = stack_agg__add(r->agg, r->line.buf, r->line.len, s->count);
	if (!err)
		r->samples += s->count;
	return err;
}

static int drain(struct record *r)
{
	int err;

	ingest__begin_drain(r->ingest);
	err = collector__drain(r->coll, ingest__add, r->ingest);
	if (err)
		pr_warn("draining samples failed: %s", strerror(-err));
	return err;
}

/* ---- the sampling loop ---- */

/* Still running: not gone, and not a zombie its parent has yet to reap. */
static bool process_running(pid_t pid)
{
	char path[64], buf[512], *state;
	ssize_t n;
	int fd;

	if (kill(pid, 0) && errno == ESRCH)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT && errno != ESRCH;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* "pid (comm) S ...": the comm may hold anything, the state follows its last ')' */
	state = strrchr(buf, ')');
	return !state || !state[1] || !state[2] || (state[2] != 'Z' && state[2] != 'X');
}

static bool targets_alive(const struct record_opts *o)
{
	int i;

	if (!o->nr_pids)
		return true;
	for (i = 0; i < o->nr_pids; i++) {
		if (process_running(o->pids[i]))
			return true;
	}
	return false;
}

static void show_progress(struct record *r, double left)
{
	struct collector_stats st;
	__u64 dropped = 0;
	int i;

	if (collector__stats(r->coll, &st))
		return;
	for (i = STAT_DROP_KSTACK_COLLISION; i <= STAT_DROP_OTHER; i++)
		dropped += st.stat[i];
	if (r->opts->duration > 0)
		fprintf(stderr, "\r\033[Kprofiling: %.0f s left, %llu samples, %llu dropped", left,
			(unsigned long long)r->samples, (unsigned long long)dropped);
	else
		fprintf(stderr, "\r\033[Kprofiling until Ctrl-C: %llu samples, %llu dropped",
			(unsigned long long)r->samples, (unsigned long long)dropped);
}

static int sample_loop(struct record *r, double *elapsed)
{
	const struct record_opts *o = r->opts;
	double start = now_seconds(), left = o->duration;
	int err = 0;

	while (!stop_requested) {
		double nap = o->interval;

		if (o->duration > 0) {
			left = o->duration - (now_seconds() - start);
			if (left <= 0)
				break;
			if (nap > left)
				nap = left;
		}
		collector__poll_until(r->coll, now_seconds() + nap, &stop_requested,
				      ingest__proc_event, r->ingest);
		err = drain(r);
		if (err)
			break;
		if (o->progress)
			show_progress(r, o->duration - (now_seconds() - start));
		if (!targets_alive(o)) {
			pr_info("every selected process has exited");
			break;
		}
	}
	*elapsed = now_seconds() - start;
	if (o->progress)
		fprintf(stderr, "\r\033[K");
	return err;
}

/* ---- output ---- */

static void print_summary(struct record *r, const struct collector_stats *st, double elapsed)
{
	const struct record_opts *o = r->opts;
	const __u64 *s = st->stat;
	struct ingest_stats is;
	__u64 dropped = 0;
	int i;

	for (i = STAT_DROP_KSTACK_COLLISION; i <= STAT_DROP_OTHER; i++)
		dropped += s[i];
	dropped += st->unreadable;
	printf("Profiled %.1f s at %ld Hz on %d CPUs (%s): %llu samples expected, %llu taken\n",
	       elapsed, o->freq, st->nr_cpus, o->event == EVENT_CYCLES ? "cycles" : "cpu-clock",
	       (unsigned long long)llround(elapsed * o->freq * st->nr_cpus),
	       (unsigned long long)s[STAT_SAMPLES]);
	printf("  %llu recorded, %llu idle%s, %llu filtered out, %llu dropped\n",
	       (unsigned long long)r->samples, (unsigned long long)s[STAT_IDLE],
	       o->include_idle ? "" : " (not shown: --include-idle)",
	       (unsigned long long)s[STAT_FILTERED], (unsigned long long)dropped);
	if (dropped)
		printf("  dropped: %llu kernel-stack collisions, %llu user-stack collisions, "
		       "%llu stack map full, %llu counts map full, %llu other, %llu unreadable\n",
		       (unsigned long long)s[STAT_DROP_KSTACK_COLLISION],
		       (unsigned long long)s[STAT_DROP_USTACK_COLLISION],
		       (unsigned long long)s[STAT_DROP_STACKMAP_FULL],
		       (unsigned long long)s[STAT_DROP_COUNTS_FULL],
		       (unsigned long long)s[STAT_DROP_OTHER], (unsigned long long)st->unreadable);
	ingest__stats(r->ingest, &is);
	unwind_report__print(&is, o->unwind, st);
	pr_debug("ingest: %llu stacks drained with %llu pcs, %llu user and %llu kernel lookups",
		 (unsigned long long)is.keys, (unsigned long long)is.pcs,
		 (unsigned long long)is.user_lookups, (unsigned long long)is.kernel_lookups);
}

static int print_top(struct record *r)
{
	double total = stack_agg__total(r->agg);
	struct top_entry *top;
	size_t n, i;
	int err;

	if (!r->opts->top || total <= 0)
		return 0;
	err = stack_agg__top(r->agg, true, &top, &n);
	if (err)
		return err;
	printf("\nTop %ld functions by self samples:\n", r->opts->top);
	printf("%7s %7s %9s  %s\n", "SELF%", "TOTAL%", "SAMPLES", "FUNCTION");
	/* by self samples: the functions with none of their own are not "top" */
	for (i = 0; i < n && i < (size_t)r->opts->top && top[i].self > 0; i++)
		printf("%6.2f%% %6.2f%% %9.0f  %s\n", 100 * top[i].self / total,
		       100 * top[i].total / total, top[i].self, top[i].name);
	free(top);
	return 0;
}

/* Write to something that is not a regular file (/dev/null, a FIFO, a terminal) as it is. */
static int write_special(const char *path, int (*fn)(struct record *, FILE *), struct record *r)
{
	FILE *f = fopen(path, "w");
	int err;

	if (!f) {
		err = -errno;
		pr_warn("cannot open '%s': %s", path, strerror(-err));
		return err;
	}
	err = fn(r, f);
	if (fclose(f) && !err)
		err = -errno;
	if (err)
		pr_warn("cannot write '%s': %s", path, strerror(-err));
	return err;
}

/*
 * Write through a temporary file so a failure never leaves a half-written
 * output. Only a regular file (or none yet) is replaced that way: renaming
 * over /dev/null or a FIFO would replace the device itself.
 */
static int write_file(const char *path, int (*fn)(struct record *, FILE *), struct record *r)
{
	struct strbuf tmp = STRBUF_INIT;
	struct stat st;
	FILE *f;
	int err;

	if (!stat(path, &st) && !S_ISREG(st.st_mode))
		return write_special(path, fn, r);
	if (strbuf__addf(&tmp, "%s.tmp.%d", path, getpid()))
		return -ENOMEM;
	f = fopen(tmp.buf, "w");
	if (!f) {
		err = -errno;
		pr_warn("cannot create '%s': %s", tmp.buf, strerror(-err));
		strbuf__release(&tmp);
		return err;
	}
	err = fn(r, f);
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp.buf, path))
		err = -errno;
	if (err) {
		pr_warn("cannot write '%s': %s", path, strerror(-err));
		unlink(tmp.buf);
	}
	strbuf__release(&tmp);
	return err;
}

/*
 * Whether @path can be written, tried before sampling (a temporary file made
 * and removed where write_file() will make it), so a run is not lost at its
 * end to a missing directory or a read-only one.
 */
static bool output_writable(const char *path)
{
	struct strbuf tmp = STRBUF_INIT;
	struct stat st;
	int fd, err = 0;

	if (!strcmp(path, "-") || (!stat(path, &st) && !S_ISREG(st.st_mode)))
		return true;	/* none, or a device or FIFO: opened at the end */
	if (strbuf__addf(&tmp, "%s.tmp.%d", path, getpid()))
		return true;	/* no memory: the write at the end will tell */
	fd = open(tmp.buf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		err = errno;
	else
		close(fd), unlink(tmp.buf);
	if (err)
		pr_warn("cannot write '%s': %s", path, strerror(err));
	strbuf__release(&tmp);
	return !err;
}

static int write_folded(struct record *r, FILE *f)
{
	return stack_agg__write_folded(r->agg, f);
}

static int write_svg(struct record *r, FILE *f)
{
	struct flamegraph_opts fo = { .title = r->opts->title, .min_width = 0.1 };
	struct strbuf svg = STRBUF_INIT, sub = STRBUF_INIT;
	int err;

	if (!fo.title)
		fo.title = "CPU Flame Graph";
	err = strbuf__addf(&sub, "%.0f samples at %ld Hz", stack_agg__total(r->agg), r->opts->freq);
	fo.subtitle = err ? NULL : sub.buf;
	err = flamegraph__render(r->agg, &fo, &svg);
	if (!err)
		err = strbuf__write(&svg, f);
	strbuf__release(&svg);
	strbuf__release(&sub);
	return err;
}

static int write_outputs(struct record *r)
{
	const struct record_opts *o = r->opts;
	int err = 0, e;

	if (strcmp(o->folded_path, "-")) {
		e = write_file(o->folded_path, write_folded, r);
		if (!e)
			printf("Wrote %s (%zu stacks)\n", o->folded_path,
			       stack_agg__nr_stacks(r->agg));
		err = err ? err : e;
	}
	if (strcmp(o->svg_path, "-")) {
		e = write_file(o->svg_path, write_svg, r);
		if (!e)
			printf("Wrote %s\n", o->svg_path);
		err = err ? err : e;
	}
	return err;
}

/* ---- setup and teardown ---- */

static int setup(struct record *r)
{
	const struct record_opts *o = r->opts;
	struct collector_opts co = {
		.freq = o->freq, .event = o->event, .pids = o->pids, .nr_pids = o->nr_pids,
		.comm = o->comm, .include_idle = o->include_idle, .unwind = o->unwind,
		.drain_interval = o->interval, .no_python = o->no_python,
	};
	struct symbolizer_opts sy = { .full_names = o->full_names };
	struct sigaction sa = { .sa_handler = on_signal };
	int i;

	/* from the start: Ctrl-C while the BPF programs load still ends the run cleanly */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	r->syms = symbolizer__new(&sy);
	r->agg = stack_agg__new();
	if (!r->syms || !r->agg)
		return -ENOMEM;
	r->ingest = ingest__new(r->syms, on_sample, r);
	if (!r->ingest)
		return -ENOMEM;
	ingest__keep_interpreter_frames(r->ingest, o->python_eval);
	/* capture the selected processes' mappings before they can exit */
	for (i = 0; i < o->nr_pids; i++)
		symbolizer__add_process(r->syms, o->pids[i]);
	co.syms = r->syms;	/* one read of a process's mappings for both */
	r->coll = collector__new(&co);
	if (!r->coll)
		return -errno;
	if (!o->db_path || strcmp(o->db_path, "-")) {
		struct ingest_store_opts so = {
			.db_path = o->db_path, .kind = "record", .freq = o->freq,
			.argc = o->argc, .argv = o->argv,
		};
		int err = ingest__open_store(r->ingest, &so);

		if (err && o->db_path)
			return err;
		if (err)
			pr_warn("not storing this run (--db PATH to choose a database)");
	}
	return 0;
}

static int finish(struct record *r, double elapsed)
{
	struct collector_stats st;
	int err, e;

	/* stop sampling, take the last process events, then empty both map sets */
	err = collector__stop(r->coll);
	collector__poll(r->coll, 0, ingest__proc_event, r->ingest);
	e = drain(r);
	err = err ? err : e;
	e = drain(r);
	err = err ? err : e;
	e = collector__stats(r->coll, &st);
	if (e) {
		pr_warn("cannot read the sample counters: %s", strerror(-e));
		err = err ? err : e;
	} else {
		struct symbolizer_stats ss;

		print_summary(r, &st, elapsed);
		symbolizer__stats(r->syms, &ss);
		pr_debug("process events: %llu new (%llu named by file), %llu exec, %llu exit, %llu scan requests, %llu lost; maps reads: %llu (%zu by the symbolizer)",
			 (unsigned long long)st.events[EVENT_NEW],
			 (unsigned long long)st.new_by_file,
			 (unsigned long long)st.events[EVENT_EXEC],
			 (unsigned long long)st.events[EVENT_EXIT],
			 (unsigned long long)st.events[EVENT_SCAN],
			 (unsigned long long)st.stat[STAT_EVENTS_LOST],
			 (unsigned long long)st.unwind_scans + ss.maps_reads, ss.maps_reads);
	}
	e = print_top(r);
	err = err ? err : e;
	printf("\n");
	e = write_outputs(r);
	err = err ? err : e;
	if (ingest__store(r->ingest)) {
		__s64 run = ingest__run_id(r->ingest);

		e = ingest__close(r->ingest);
		r->ingest = NULL;
		if (!e)
			printf("Stored as run %lld in the database\n", (long long)run);
		/* a failure with the default database is only a warning */
		else if (r->opts->db_path)
			err = err ? err : e;
	}
	return err;
}

int cmd_record(int argc, char **argv)
{
	struct record_opts o = {
		.duration = 30, .interval = 1, .freq = 99, .svg_path = "profile.svg",
		.folded_path = "profile.folded", .top = 20, .progress = isatty(STDERR_FILENO),
		.argc = argc, .argv = argv,
		.unwind = UNWIND_MODE_AUTO,
	};
	struct record r = { .opts = &o, .line = STRBUF_INIT };
	double elapsed = 0;
	int err;

	err = parse_args(argc, argv, &o);
	if (err) {
		free(o.pids);
		return err > 0 ? 0 : EXIT_USAGE;
	}
	if (!output_writable(o.svg_path) || !output_writable(o.folded_path)) {
		free(o.pids);
		return EXIT_USAGE;
	}
	err = setup(&r);
	if (!err) {
		err = sample_loop(&r, &elapsed);
		if (stop_requested)
			pr_info("interrupted: writing what was recorded");
		err = finish(&r, elapsed) ?: err;
	}
	ingest__free(r.ingest);
	collector__free(r.coll);
	symbolizer__free(r.syms);
	stack_agg__free(r.agg);
	strbuf__release(&r.line);
	free(o.pids);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
