// SPDX-License-Identifier: GPL-2.0
/*
 * `profile symbolize`: addr2line for binaries (-e FILE, ELF virtual
 * addresses as addr2line takes them) and live processes (-p PID, runtime
 * addresses), through the same symbolizer the profiler uses: DWARF inline
 * chains, file:line, separate debuginfo, demangled names.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "symbolizer/symbolizer.h"
#include "common/log.h"

struct symbolize_opts {
	const char *file;
	long pid;
	bool inlines;
	bool raw;
	bool no_dwarf;
	bool full_names;
	const char *debug_dir;
};

const struct command_def symbolize_cmd = {
	.name = "symbolize",
	.summary = "addr2line for binaries and live processes: functions, inlines, file:line",
	.usage = "(-e FILE | -p PID) [options] [ADDR...]",
	.description =
		"Print the function and source line of each address (hex, with or without\n"
		"0x; read from stdin, one per line, when none are given). With -e the\n"
		"addresses are the binary's ELF virtual addresses, as addr2line takes them;\n"
		"with -p they are addresses in the running process.\n"
		"\n"
		"Output per address: the address, then one line per frame, innermost first,\n"
		"FUNCTION at FILE:LINE, with (inlined) after inlined frames. ?? stands for what\n"
		"is unknown.",
	.max_args = -1,
};

static int parse_args(int argc, char **argv, struct symbolize_opts *o, int *first)
{
	const struct option_def opts[] = {
		OPT_STRING('e', "exe", &o->file, "FILE", "the binary to read"),
		OPT_LONG('p', "pid", &o->pid, "PID", "process id", 1, 0x7fffffff,
			 "a running process"),
		OPT_FLAG('i', "inlines", &o->inlines,
			 "the whole inline chain (default: innermost frame only)"),
		OPT_FLAG(0, "raw", &o->raw, "mangled names as the binary spells them"),
		OPT_FLAG(0, "full-names", &o->full_names,
			 "C++ names with parameter lists (default: without, as perf shows them)"),
		OPT_FLAG(0, "no-dwarf", &o->no_dwarf, "symbol tables only"),
		OPT_STRING(0, "debug-dir", &o->debug_dir, "DIR",
			   "also look for separate debuginfo under DIR"),
		OPT_END(),
	};
	int err;

	err = parse_options(&symbolize_cmd, opts, argc, argv, first);
	if (err)
		return err;
	if (!o->file == !o->pid) {
		pr_warn("give one of -e FILE or -p PID; see 'profile symbolize --help'");
		return -EINVAL;
	}
	return 0;
}

static bool parse_addr(const char *s, __u64 *addr)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	if (!*s)
		return false;
	errno = 0;
	*addr = strtoull(s, &end, 16);
	while (isspace((unsigned char)*end))
		end++;
	return !errno && end != s && !*end;
}

static void print_frames(const struct symbolize_opts *o, const struct sym_frame *f, int n)
{
	int i, shown = 0;

	/* frames come outermost first; addr2line prints the innermost first */
	for (i = n - 1; i >= 0 && (o->inlines || !shown); i--, shown++) {
		const char *name = o->raw ? f[i].raw_name : f[i].name;

		printf("%s at %s:%d%s\n", name ? name : "??", f[i].file ? f[i].file : "??",
		       f[i].line, f[i].inlined ? " (inlined)" : "");
	}
}

static int symbolize_one(struct symbolizer *s, const struct symbolize_opts *o, int handle,
			 const char *text)
{
	struct sym_frame f[SYM_MAX_FRAMES];
	__u64 addr;
	int n;

	if (!parse_addr(text, &addr)) {
		pr_warn("'%s' is not a hex address", text);
		return -EINVAL;
	}
	if (o->file)
		n = symbolizer__file_addr(s, handle, addr, f, SYM_MAX_FRAMES);
	else
		n = symbolizer__user(s, o->pid, addr, f, SYM_MAX_FRAMES);
	if (n < 0)
		return n;
	printf("0x%llx\n", (unsigned long long)addr);
	print_frames(o, f, n);
	return 0;
}

int cmd_symbolize(int argc, char **argv)
{
	struct symbolize_opts o = {};
	struct symbolizer_opts so = {};
	struct symbolizer *s;
	int handle = -1, err, i, bad = 0, first;

	err = parse_args(argc, argv, &o, &first);
	if (err)
		return err > 0 ? 0 : EXIT_USAGE;
	so.no_dwarf = o.no_dwarf;
	so.debug_dir = o.debug_dir;
	so.full_names = o.full_names;
	s = symbolizer__new(&so);
	if (!s) {
		pr_warn("cannot set up the symbolizer: %s", strerror(errno));
		return EXIT_FAILURE;
	}
	if (o.file) {
		handle = input__check_file(o.file) ?: symbolizer__open_file(s, o.file);
		if (handle < 0) {
			symbolizer__free(s);
			return EXIT_FAILURE;
		}
	} else if (symbolizer__add_process(s, o.pid)) {
		pr_warn("cannot read the mappings of pid %ld", o.pid);
		symbolizer__free(s);
		return EXIT_FAILURE;
	}
	if (first < argc) {
		for (i = first; i < argc; i++)
			bad |= symbolize_one(s, &o, handle, argv[i]) != 0;
	} else {
		char *line = NULL;
		size_t cap = 0;

		while (getline(&line, &cap, stdin) > 0) {
			line[strcspn(line, "\n")] = '\0';
			if (*line)
				bad |= symbolize_one(s, &o, handle, line) != 0;
		}
		free(line);
	}
	if (fflush(stdout))
		bad = 1;
	symbolizer__free(s);
	return bad ? EXIT_FAILURE : EXIT_SUCCESS;
}
