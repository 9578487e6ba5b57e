// SPDX-License-Identifier: GPL-2.0
/*
 * `profile export --format pprof|speedscope|folded [INPUT...]`: write a
 * profile in the formats other viewers read (`go tool pprof`, speedscope,
 * flamegraph.pl and friends).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "store/store.h"
#include "web/web.h"
#include "common/strbuf.h"
#include "common/log.h"

enum format { FMT_NONE, FMT_PPROF, FMT_SPEEDSCOPE, FMT_FOLDED };

const struct command_def export_cmd = {
	.name = "export",
	.summary = "write a profile as pprof, speedscope JSON or folded stacks",
	.usage = "--format pprof|speedscope|folded [options] [INPUT...]",
	.description =
		"Write the profile in INPUT (folded files; stdin when none is named or for\n"
		"\"-\"; store:KEY=VALUE[,...] for a store selection as in 'profile diff';\n"
		"several are merged) in another format:\n"
		"\n"
		"  pprof       gzip-compressed protobuf for `go tool pprof` and other viewers\n"
		"  speedscope  speedscope's JSON file format (a sampled profile)\n"
		"  folded      folded stacks, sorted, one line per distinct stack\n"
		"\n"
		"pprof and speedscope show CPU time: each count is a sample taken at --freq\n"
		"(default: the frequency the selected runs were recorded at for store: inputs,\n"
		"else 99 Hz, what record and agent sample at), or nanoseconds already with\n"
		"--ns (perf script imports of cpu-clock, whose periods are nanoseconds);\n"
		"--freq 0 leaves the counts plain samples. In pprof the first frame of each\n"
		"stack, the process name, becomes the label \"process\". From a store, pprof\n"
		"also has each binary as a mapping (file name, build id), the frames'\n"
		"addresses, source files and lines, inlined frames as lines of one location,\n"
		"and the labels \"pid\" and \"host\"; speedscope frames have file and line.",
	.max_args = -1,
};

static int parse_format(const char *s, enum format *fmt)
{
	if (!strcmp(s, "pprof"))
		*fmt = FMT_PPROF;
	else if (!strcmp(s, "speedscope"))
		*fmt = FMT_SPEEDSCOPE;
	else if (!strcmp(s, "folded"))
		*fmt = FMT_FOLDED;
	else
		return -EINVAL;
	return 0;
}

static int opt_format(const struct option_def *opt, const char *arg)
{
	if (parse_format(arg, opt->value))
		return parse_options__bad(opt, arg, "use pprof, speedscope or folded");
	return 0;
}

static int write_folded(const struct stack_agg *agg, const char *path)
{
	FILE *f = output__open(path);

	if (!f)
		return -errno;
	return output__close(f, path, stack_agg__write_folded(agg, f));
}

int cmd_export(int argc, char **argv)
{
	const char *out = NULL, *name = NULL, *db = NULL;
	struct export_opts eo = { .root_is_process = true };
	long freq = -1, store_freq = 0;
	bool ns = false;
	struct strbuf sb = STRBUF_INIT;
	enum format fmt = FMT_NONE;
	struct stack_agg *agg = NULL;
	struct export_profile *prof = NULL;
	int i, err = 0, first;
	const struct option_def opts[] = {
		OPT_CALLBACK('f', "format", &fmt, "FMT", "format", opt_format,
			     "the output format (required)"),
		OPT_STRING('o', "output", &out, "FILE", "output file (default: stdout)"),
		OPT_STRING(0, "name", &name, "NAME",
			   "profile name in speedscope (default: the first input)"),
		OPT_LONG('F', "freq", &freq, "HZ", "frequency", 0, 1000000,
			 "the sampling frequency of the counts (default: the runs', else 99; 0: unknown)"),
		OPT_FLAG(0, "ns", &ns, "the counts are nanoseconds (perf script periods)"),
		OPT_DB(&db, "the database store: inputs read"),
		OPT_END(),
	};

	err = parse_options(&export_cmd, opts, argc, argv, &first);
	if (err)
		return err > 0 ? 0 : EXIT_USAGE;
	if (fmt == FMT_NONE) {
		pr_warn("give the output format: --format pprof|speedscope|folded");
		return EXIT_USAGE;
	}
	if (db)
		input__set_db(db);
	/* folded stacks: names only; the others from what the inputs hold */
	if (fmt == FMT_FOLDED)
		agg = stack_agg__new();
	else
		prof = export_profile__new();
	if (!agg && !prof)
		return EXIT_FAILURE;
	input__progress(isatty(STDERR_FILENO));
	if (first >= argc)
		err = agg ? input__load_agg("-", agg) : input__load_profile("-", prof);
	for (i = first; i < argc && !err; i++)
		err = agg ? input__load_agg(argv[i], agg) : input__load_profile(argv[i], prof);
	input__progress_done();
	if (!name)
		name = first < argc ? argv[first] : "profile";
	if (err)
		goto out;
	if (fmt == FMT_FOLDED) {
		err = write_folded(agg, out);
		goto out;
	}
	/* the frequency the store's runs were sampled at, unless given */
	for (i = first; i < argc && freq < 0 && !err; i++) {
		long f;

		err = input__store_freq(argv[i], &f);
		if (f < 0 || (f > 0 && store_freq > 0 && f != store_freq)) {
			pr_warn("the runs selected were sampled at different frequencies: give --freq");
			err = -EINVAL;
		} else if (f > 0) {
			store_freq = f;
		}
	}
	if (err)
		goto out;
	if (freq < 0)
		freq = store_freq > 0 ? store_freq : 99;
	/* runs of nanoseconds (perf script imports of cpu-clock), unless --freq says otherwise */
	if (freq == STORE_FREQ_NS)
		ns = true;
	eo.name = name;
	eo.counts_are_ns = ns;
	eo.period_ns = ns || !freq ? 0 : 1e9 / freq;
	err = fmt == FMT_PPROF ? export_profile__pprof(prof, &eo, &sb)
			       : export_profile__speedscope(prof, &eo, &sb);
	if (err && err != -ERANGE)	/* a value too large is named already */
		pr_warn("cannot encode the profile: %s", strerror(-err));
	if (!err)
		err = output__write(&sb, out);
out:
	strbuf__release(&sb);
	stack_agg__free(agg);
	export_profile__free(prof);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
