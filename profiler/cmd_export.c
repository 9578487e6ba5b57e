// SPDX-License-Identifier: GPL-2.0
/*
 * `profile export --format pprof|speedscope|folded [INPUT...]`: write a
 * profile in the formats other viewers read (`go tool pprof`, speedscope,
 * flamegraph.pl and friends).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "web/web.h"
#include "common/strbuf.h"
#include "common/log.h"

enum format { FMT_NONE, FMT_PPROF, FMT_SPEEDSCOPE, FMT_FOLDED };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: profile export --format pprof|speedscope|folded [options] [INPUT...]\n\n"
		"Write the profile in INPUT (folded files; stdin when none is named or for\n"
		"\"-\"; store:KEY=VALUE[,...] for a store selection as in 'profile diff';\n"
		"several are merged) in another format:\n"
		"  pprof       gzip-compressed protobuf for `go tool pprof` and other pprof viewers\n"
		"  speedscope  speedscope's JSON file format (a sampled profile)\n"
		"  folded      folded stacks, sorted, one line per distinct stack\n\n"
		"  -f, --format FMT   the output format (required)\n"
		"  -o, --output FILE  output file (default: stdout)\n"
		"      --name NAME    profile name in speedscope (default: the first input)\n"
		"      --db PATH      the database store: inputs read\n"
		"  -h, --help         this help\n");
}

static const struct option long_opts[] = {
	{ "format", required_argument, NULL, 'f' },
	{ "output", required_argument, NULL, 'o' },
	{ "name", required_argument, NULL, 'n' },
	{ "db", required_argument, NULL, 'D' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{},
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

static int write_folded(const struct stack_agg *agg, const char *path)
{
	FILE *f = output__open(path);

	if (!f)
		return -errno;
	return output__close(f, path, stack_agg__write_folded(agg, f));
}

int cmd_export(int argc, char **argv)
{
	const char *out = NULL, *name = NULL;
	struct strbuf sb = STRBUF_INIT;
	enum format fmt = FMT_NONE;
	struct stack_agg *agg;
	int c, i, err = 0;

	while ((c = getopt_long(argc, argv, "f:o:vh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (parse_format(optarg, &fmt)) {
				pr_warn("unknown format '%s': use pprof, speedscope or folded", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'o':
			out = optarg;
			break;
		case 'D':
			input__set_db(optarg);
			break;
		case 'n':
			name = optarg;
			break;
		case 'v':
			log_set_verbose(true);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			pr_warn("see 'profile export --help'");
			return EXIT_USAGE;
		}
	}
	if (fmt == FMT_NONE) {
		pr_warn("give the output format: --format pprof|speedscope|folded");
		return EXIT_USAGE;
	}
	agg = stack_agg__new();
	if (!agg)
		return EXIT_FAILURE;
	input__progress(isatty(STDERR_FILENO));
	if (optind >= argc)
		err = input__load_agg("-", agg);
	for (i = optind; i < argc && !err; i++)
		err = input__load_agg(argv[i], agg);
	input__progress_done();
	if (!name)
		name = optind < argc ? argv[optind] : "profile";
	if (err)
		goto out;
	if (fmt == FMT_FOLDED) {
		err = write_folded(agg, out);
		goto out;
	}
	err = fmt == FMT_PPROF ? stack_agg__write_pprof(agg, &sb)
			       : stack_agg__write_speedscope(agg, name, &sb);
	if (err)
		pr_warn("cannot encode the profile: %s", strerror(-err));
	else
		err = output__write(&sb, out);
out:
	strbuf__release(&sb);
	stack_agg__free(agg);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
