/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One option table per command, in the manner of git's parse-options: the
 * table is what the command line is parsed with, what --help prints and what
 * the man page lists, so the three cannot drift apart. -v/--verbose,
 * -h/--help and the hidden --man (the command's man page in roff, used by the
 * build) are added to every table by the parser.
 *
 * Values are checked where they are parsed: numbers against their range,
 * durations against a year at most (inf and nan refused), strings and list
 * elements against being empty. Every error is one line naming the option
 * and the value, and the parser returns -EINVAL so the command exits 2.
 */
#ifndef __PROFILER_PARSE_OPTIONS_H
#define __PROFILER_PARSE_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

enum option_type {
	OPTION_END,
	OPTION_GROUP,		/* a heading in --help and the man page; @help is its text */
	OPTION_FLAG,		/* bool *value = true */
	OPTION_UNSET,		/* bool *value = false */
	OPTION_STRING,		/* const char **value = the argument (non-empty, see OPT_EMPTY_OK) */
	OPTION_INT,		/* int *value, in [min, max] */
	OPTION_LONG,		/* long *value, in [min, max] */
	OPTION_DOUBLE,		/* double *value, finite, in [min, max] */
	OPTION_SECONDS,		/* double *value: seconds with unit ms, s, m, h, d or w, in [min, max] */
	OPTION_CALLBACK,	/* callback(opt, arg): 0, or -EINVAL after a message */
	OPTION_KEY_VALUE,	/* struct kv_args *value gets KEY=VALUE appended (repeatable) */
};

/* The arguments of a repeatable KEY=VALUE option, in the order given; free(v) when done. */
struct kv_args {
	const char **v;
	int nr;
};

/* flags */
#define OPT_EMPTY_OK 0x1	/* OPTION_STRING: an empty argument is a value */

/* The longest duration any option takes: a year. */
#define OPT_MAX_SECONDS (365.0 * 86400)

struct option_def {
	enum option_type type;
	int short_name;		/* 0: none */
	const char *long_name;
	void *value;		/* where the value goes; the callback's context */
	const char *argh;	/* the argument's name in help (NULL: the option takes none) */
	const char *help;	/* one paragraph, wrapped when printed */
	const char *what;	/* what the value is, for errors ("frequency"); NULL: the option */
	double min, max;	/* range of numeric types */
	int (*callback)(const struct option_def *opt, const char *arg);
	unsigned int flags;
};

#define OPT_END() { .type = OPTION_END }
#define OPT_GROUP(h) { .type = OPTION_GROUP, .help = (h) }
#define OPT_FLAG(s, l, v, h) \
	{ .type = OPTION_FLAG, .short_name = (s), .long_name = (l), .value = (v), .help = (h) }
#define OPT_UNSET(s, l, v, h) \
	{ .type = OPTION_UNSET, .short_name = (s), .long_name = (l), .value = (v), .help = (h) }
#define OPT_STRING(s, l, v, a, h) \
	{ .type = OPTION_STRING, .short_name = (s), .long_name = (l), .value = (v), .argh = (a), \
	  .help = (h) }
#define OPT_STRING_EMPTY(s, l, v, a, h) \
	{ .type = OPTION_STRING, .short_name = (s), .long_name = (l), .value = (v), .argh = (a), \
	  .help = (h), .flags = OPT_EMPTY_OK }
#define OPT_INT(s, l, v, a, w, lo, hi, h) \
	{ .type = OPTION_INT, .short_name = (s), .long_name = (l), .value = (v), .argh = (a), \
	  .what = (w), .min = (lo), .max = (hi), .help = (h) }
#define OPT_LONG(s, l, v, a, w, lo, hi, h) \
	{ .type = OPTION_LONG, .short_name = (s), .long_name = (l), .value = (v), .argh = (a), \
	  .what = (w), .min = (lo), .max = (hi), .help = (h) }
#define OPT_DOUBLE(s, l, v, a, w, lo, hi, h) \
	{ .type = OPTION_DOUBLE, .short_name = (s), .long_name = (l), .value = (v), .argh = (a), \
	  .what = (w), .min = (lo), .max = (hi), .help = (h) }
#define OPT_SECONDS(s, l, v, a, w, lo, hi, h) \
	{ .type = OPTION_SECONDS, .short_name = (s), .long_name = (l), .value = (v), .argh = (a), \
	  .what = (w), .min = (lo), .max = (hi), .help = (h) }
#define OPT_KEY_VALUE(s, l, v, a, w, h) \
	{ .type = OPTION_KEY_VALUE, .short_name = (s), .long_name = (l), .value = (v), .argh = (a), \
	  .what = (w), .help = (h) }
#define OPT_CALLBACK(s, l, v, a, w, cb, h) \
	{ .type = OPTION_CALLBACK, .short_name = (s), .long_name = (l), .value = (v), .argh = (a), \
	  .what = (w), .callback = (cb), .help = (h) }

/*
 * What a command is, for its --help and its man page. Text is wrapped by
 * hand for an 80-column terminal; a blank line separates paragraphs, and a
 * paragraph whose lines all start with two spaces is shown as written
 * (examples, tables).
 */
struct command_def {
	const char *name;		/* "record"; messages say 'profile record' */
	const char *summary;		/* one line: `profile help` and the man page's NAME */
	const char *usage;		/* after "profile NAME ", one form per line */
	const char *description;	/* before the options */
	const char *notes;		/* after the options; may be NULL */
	int max_args;			/* positional arguments allowed; -1: any number */
};

/*
 * Parse @argv (argv[0] is the command's name) with @opts, which ends with
 * OPT_END(). Returns 0 with *@first_arg the index of the first positional
 * argument (getopt has moved them all to the end), 1 after --help or --man
 * was printed on stdout, or -EINVAL after a one-line message naming the bad
 * option or value.
 */
int parse_options(const struct command_def *cmd, const struct option_def *opts, int argc,
		  char **argv, int *first_arg);

/* The --help text: usage, description, options, notes. */
void parse_options__usage(const struct command_def *cmd, const struct option_def *opts,
			  FILE *f);
/* The man page, in roff: NAME, SYNOPSIS, DESCRIPTION, OPTIONS, NOTES, SEE ALSO. */
void parse_options__man(const struct command_def *cmd, const struct option_def *opts, FILE *f);

/* Man page pieces, for pages that are not one command's (profile.1). */
void man__header(FILE *f, const char *title, const char *name, const char *summary);
/* @text as roff paragraphs (the command_def rules), escaped. */
void man__text(FILE *f, const char *text);
/* @text escaped for roff, as one line of running text. */
void man__line(FILE *f, const char *text);

/*
 * Report a bad value for @opt in the table's words: "invalid WHAT 'ARG'
 * (--LONG): HINT" (or "invalid --LONG 'ARG': HINT" without a what). Returns
 * -EINVAL, for callbacks to return.
 */
int parse_options__bad(const struct option_def *opt, const char *arg, const char *hint_fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Call @fn for each element of the comma-separated list @arg. An empty list
 * or an empty element ("1,,2", "1,") is an error naming @opt. Returns 0, the
 * first error of @fn, -EINVAL or -ENOMEM.
 */
int parse_options__list(const struct option_def *opt, const char *arg,
			int (*fn)(const struct option_def *opt, const char *item, void *ctx),
			void *ctx);

/*
 * Seconds, with an optional unit: ms, s, m, h, d or w ("30", "1.5m"). Finite
 * and >= 0; 0 or -EINVAL.
 */
int parse_seconds(const char *s, double *out);
/* A decimal integer in [@min, @max]; 0 or -EINVAL. */
int parse_int_range(const char *s, long min, long max, long *out);

#endif /* __PROFILER_PARSE_OPTIONS_H */
