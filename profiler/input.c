// SPDX-License-Identifier: GPL-2.0
/*
 * Where the presenting subcommands (flamegraph, diff, export) get their
 * stacks from. Today an input is a folded file, or "-" for stdin; store
 * selections plug in here, so every command that reads profiles gains them
 * at once.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "web/web.h"
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

static FILE *open_input(const char *spec)
{
	FILE *f = strcmp(spec, "-") ? fopen(spec, "r") : stdin;

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
		pr_warn("cannot read '%s': %s", input_name(spec), strerror(-err));
	return err;
}

int input__load_agg(const char *spec, struct stack_agg *agg)
{
	FILE *f = open_input(spec);
	size_t bad;

	if (!f)
		return -errno;
	return close_input(f, spec, stack_agg__read_folded(agg, f, input_name(spec), &bad));
}

int input__feed_flamegraph(const char *spec, struct flamegraph *fg)
{
	FILE *f = open_input(spec);
	size_t bad;

	if (!f)
		return -errno;
	return close_input(f, spec, flamegraph__read_folded(fg, f, input_name(spec), &bad));
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
