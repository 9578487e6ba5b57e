// SPDX-License-Identifier: GPL-2.0
/*
 * Logging: a level filter in front of stderr. Warnings always print; info is
 * suppressed by log_set_quiet(); debug needs log_set_verbose().
 */
#include <stdio.h>

#include "log.h"

static bool verbose;
static bool quiet;

void log_set_verbose(bool on)
{
	verbose = on;
}

bool log_is_verbose(void)
{
	return verbose;
}

void log_set_quiet(bool on)
{
	quiet = on;
}

void log_vprint(enum log_level level, const char *fmt, va_list ap)
{
	if (level == LOG_DEBUG && !verbose)
		return;
	if (level == LOG_INFO && quiet)
		return;
	fputs("profile: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_print(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprint(level, fmt, ap);
	va_end(ap);
}
