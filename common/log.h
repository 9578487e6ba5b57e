/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One logging module for the whole program. Messages are lower-case, without a
 * trailing period, and go to stderr prefixed with the program name. Debug
 * output is shown only after log_set_verbose(true) (the -v flag).
 */
#ifndef __PROFILER_LOG_H
#define __PROFILER_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

void log_set_verbose(bool verbose);
bool log_is_verbose(void);
void log_set_quiet(bool quiet);
void log_print(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vprint(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define pr_warn(fmt, ...) log_print(LOG_WARN, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...) log_print(LOG_INFO, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) log_print(LOG_DEBUG, fmt, ##__VA_ARGS__)

#include "banned.h"

#endif /* __PROFILER_LOG_H */
