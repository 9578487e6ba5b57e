// SPDX-License-Identifier: GPL-2.0
/*
 * The option tables of the subcommands: getopt_long arrays built from them,
 * values checked and stored, and the same tables printed as --help text and
 * as a roff man page. See parse_options.h.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "parse_options.h"
#include "log.h"

/* getopt values: table entries are VAL_BASE + index; the built-in ones below them */
#define VAL_BASE 1000
enum { VAL_VERBOSE = 'v', VAL_HELP = 'h', VAL_MAN = 900 };

/* help layout: options start at column 2, their text at most at HELP_COL, lines end by 79 */
#define HELP_COL 28
#define HELP_WIDTH 79

static const struct option_def builtin_opts[] = {
	OPT_FLAG('v', "verbose", NULL, "debug output"),
	OPT_FLAG('h', "help", NULL, "this help"),
	OPT_END(),
};

int parse_seconds(const char *s, double *out)
{
	static const struct {
		const char *unit;
		double secs;
	} units[] = {
		{ "", 1 }, { "s", 1 }, { "ms", 0.001 }, { "m", 60 }, { "h", 3600 }, { "d", 86400 },
		{ "w", 7 * 86400 },
	};
	char *end;
	double v;
	size_t i;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v < 0)
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(end, units[i].unit)) {
			*out = v * units[i].secs;
			return isfinite(*out) ? 0 : -EINVAL;
		}
	}
	return -EINVAL;
}

int parse_int_range(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_options__bad(const struct option_def *opt, const char *arg, const char *hint_fmt, ...)
{
	char hint[256];
	va_list ap;

	va_start(ap, hint_fmt);
	vsnprintf(hint, sizeof(hint), hint_fmt, ap);
	va_end(ap);
	if (opt->what)
		pr_warn("invalid %s '%s' (--%s): %s", opt->what, arg, opt->long_name, hint);
	else
		pr_warn("invalid --%s '%s': %s", opt->long_name, arg, hint);
	return -EINVAL;
}

int parse_options__list(const struct option_def *opt, const char *arg,
			int (*fn)(const struct option_def *opt, const char *item, void *ctx),
			void *ctx)
{
	const char *p = arg;
	int err = 0;

	if (!*arg)
		return parse_options__bad(opt, arg, "give a comma-separated list");
	while (!err) {
		size_t len = strcspn(p, ",");
		char *item;

		if (!len)
			return parse_options__bad(opt, arg, "the list has an empty element");
		item = strndup(p, len);
		if (!item)
			return -ENOMEM;
		err = fn(opt, item, ctx);
		free(item);
		if (!p[len])
			break;
		p += len + 1;
	}
	return err;
}

/* A human form of a number of seconds, for range hints: 0.01 s, 10 min, 365 days. */
static const char *secs_text(double s, char *buf, size_t len)
{
	if (s >= 86400 && fmod(s, 86400) == 0)
		snprintf(buf, len, "%g day%s", s / 86400, s == 86400 ? "" : "s");
	else if (s >= 3600 && fmod(s, 3600) == 0)
		snprintf(buf, len, "%g h", s / 3600);
	else
		snprintf(buf, len, "%g s", s);
	return buf;
}

/* KEY=VALUE with a non-empty key, appended to the option's list. */
static int apply_key_value(const struct option_def *o, const char *arg)
{
	struct kv_args *kv = o->value;
	const char **n;

	if (!strchr(arg, '=') || arg[0] == '=')
		return parse_options__bad(o, arg, "use KEY=VALUE");
	n = reallocarray(kv->v, kv->nr + 1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	kv->v = n;
	kv->v[kv->nr++] = arg;
	return 0;
}

static int apply_number(const struct option_def *o, const char *arg)
{
	char lo[32], hi[32], *end;
	long l;
	double d;

	switch (o->type) {
	case OPTION_INT:
	case OPTION_LONG:
		if (parse_int_range(arg, (long)o->min, (long)o->max, &l))
			return parse_options__bad(o, arg, "give an integer from %.0f to %.0f", o->min,
						  o->max);
		if (o->type == OPTION_INT)
			*(int *)o->value = (int)l;
		else
			*(long *)o->value = l;
		return 0;
	case OPTION_DOUBLE:
		errno = 0;
		d = strtod(arg, &end);
		if (end == arg || *end || errno || !isfinite(d) || d < o->min || d > o->max)
			return parse_options__bad(o, arg, "give a number from %g to %g", o->min,
						  o->max);
		*(double *)o->value = d;
		return 0;
	default:	/* OPTION_SECONDS */
		if (parse_seconds(arg, &d) || d < o->min || d > o->max)
			return parse_options__bad(o, arg, "give %s to %s, in seconds or with a unit (ms, s, m, h, d)",
						  secs_text(o->min, lo, sizeof(lo)),
						  secs_text(o->max, hi, sizeof(hi)));
		*(double *)o->value = d;
		return 0;
	}
}

static int apply(const struct option_def *o, const char *arg)
{
	switch (o->type) {
	case OPTION_FLAG:
		*(bool *)o->value = true;
		return 0;
	case OPTION_UNSET:
		*(bool *)o->value = false;
		return 0;
	case OPTION_STRING:
		if (!*arg && !(o->flags & OPT_EMPTY_OK))
			return parse_options__bad(o, arg, "give a non-empty value");
		*(const char **)o->value = arg;
		return 0;
	case OPTION_CALLBACK:
		return o->callback(o, arg);
	case OPTION_KEY_VALUE:
		return apply_key_value(o, arg);
	case OPTION_INT:
	case OPTION_LONG:
	case OPTION_DOUBLE:
	case OPTION_SECONDS:
		return apply_number(o, arg);
	default:
		return -EINVAL;
	}
}

static bool is_option(const struct option_def *o)
{
	return o->type != OPTION_END && o->type != OPTION_GROUP;
}

/* getopt_long's arrays for @opts plus the built-in options; -EINVAL on a table with duplicates. */
static int build_getopt(const struct command_def *cmd, const struct option_def *opts,
			struct option **longs, char **shorts)
{
	size_t n = 0, i, j, k = 0, s = 0;
	struct option *l;
	char *sh;

	while (opts[n].type != OPTION_END)
		n++;
	l = calloc(n + 4, sizeof(*l));
	sh = calloc(2 * n + 8, 1);
	if (!l || !sh) {
		free(l);
		free(sh);
		return -ENOMEM;
	}
	sh[s++] = ':';	/* ':' for a missing argument, '?' for an unknown option */
	for (i = 0; i < n; i++) {
		if (!is_option(&opts[i]))
			continue;
		for (j = 0; j < i; j++) {
			if (is_option(&opts[j]) && (!strcmp(opts[i].long_name, opts[j].long_name) ||
			    (opts[i].short_name && opts[i].short_name == opts[j].short_name)))
				break;
		}
		if (j < i || !strcmp(opts[i].long_name, "verbose") ||
		    !strcmp(opts[i].long_name, "help") || !strcmp(opts[i].long_name, "man")) {
			pr_warn("internal error: option '--%s' twice in 'profile %s'",
				opts[i].long_name, cmd->name);
			free(l);
			free(sh);
			return -EINVAL;
		}
		l[k++] = (struct option){ opts[i].long_name,
					  opts[i].argh ? required_argument : no_argument, NULL,
					  VAL_BASE + (int)i };
		if (opts[i].short_name) {
			sh[s++] = (char)opts[i].short_name;
			if (opts[i].argh)
				sh[s++] = ':';
		}
	}
	l[k++] = (struct option){ "verbose", no_argument, NULL, VAL_VERBOSE };
	l[k++] = (struct option){ "help", no_argument, NULL, VAL_HELP };
	l[k++] = (struct option){ "man", no_argument, NULL, VAL_MAN };
	sh[s++] = 'v';
	sh[s++] = 'h';
	*longs = l;
	*shorts = sh;
	return 0;
}

static const struct option_def *find_short(const struct option_def *opts, int c)
{
	for (; opts->type != OPTION_END; opts++) {
		if (is_option(opts) && opts->short_name == c)
			return opts;
	}
	return NULL;
}

/* getopt's '?' and ':' as one line naming the option. */
static int bad_usage(const struct command_def *cmd, int c, char **argv)
{
	const char *what = argv[optind - 1];
	char buf[3] = { '-', (char)optopt, 0 };

	/* a bundled short option ("-xq") is not argv[optind - 1] itself */
	if (optopt > 0 && optopt < 256)
		what = buf;
	if (c == ':')
		pr_warn("option '%s' needs a value; see 'profile %s --help'", what, cmd->name);
	else if (optopt >= VAL_BASE || optopt == VAL_MAN)
		pr_warn("option '%s' takes no value; see 'profile %s --help'", what, cmd->name);
	else
		pr_warn("unknown option '%s'; see 'profile %s --help'", what, cmd->name);
	return -EINVAL;
}

int parse_options(const struct command_def *cmd, const struct option_def *opts, int argc,
		  char **argv, int *first_arg)
{
	struct option *longs;
	char *shorts;
	int c, err = 0;

	err = build_getopt(cmd, opts, &longs, &shorts);
	if (err)
		return err;
	optind = 0;	/* GNU: start afresh */
	opterr = 0;
	while (!err && (c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		const struct option_def *o;

		if (c == '?' || c == ':') {
			err = bad_usage(cmd, c, argv);
		} else if (c == VAL_VERBOSE) {
			log_set_verbose(true);
		} else if (c == VAL_HELP) {
			parse_options__usage(cmd, opts, stdout);
			err = 1;
		} else if (c == VAL_MAN) {
			parse_options__man(cmd, opts, stdout);
			err = 1;
		} else {
			o = c >= VAL_BASE ? &opts[c - VAL_BASE] : find_short(opts, c);
			err = o ? apply(o, optarg) : -EINVAL;
		}
	}
	if (!err && cmd->max_args >= 0 && argc - optind > cmd->max_args) {
		pr_warn("unexpected argument '%s'; see 'profile %s --help'",
			argv[optind + cmd->max_args], cmd->name);
		err = -EINVAL;
	}
	free(longs);
	free(shorts);
	if (err < 0)
		return -EINVAL;
	*first_arg = optind;
	return err;
}

/* ---- --help ---- */

/* "  -d, --duration SECONDS" */
static int option_label(const struct option_def *o, char *buf, size_t len)
{
	char sh[8] = "    ";

	if (o->short_name)
		snprintf(sh, sizeof(sh), "-%c, ", o->short_name);
	return snprintf(buf, len, "  %s--%s%s%s", sh, o->long_name, o->argh ? " " : "",
			o->argh ? o->argh : "");
}

/* @text wrapped into lines that end by HELP_WIDTH, the first starting at column @col. */
static void wrap(FILE *f, const char *text, int col)
{
	const char *p = text;
	int at = col;

	while (*p) {
		size_t word = strcspn(p, " ");

		if (at > col && at + 1 + (int)word > HELP_WIDTH) {
			fprintf(f, "\n%*s", col, "");
			at = col;
		} else if (at > col) {
			fputc(' ', f);
			at++;
		}
		fwrite(p, 1, word, f);
		at += word;
		p += word;
		while (*p == ' ')
			p++;
	}
	fputc('\n', f);
}

static int help_column(const struct option_def *opts)
{
	const struct option_def *o;
	char label[128];
	int col = 0, n;

	for (o = opts; o->type != OPTION_END; o++) {
		if (!is_option(o))
			continue;
		n = option_label(o, label, sizeof(label)) + 2;
		if (n > col)
			col = n;
	}
	return col > HELP_COL ? HELP_COL : col < 20 ? 20 : col;
}

/* @opts, with @builtins (if not NULL) before the first group heading or at the end. */
static void print_options(FILE *f, const struct option_def *opts,
			  const struct option_def *builtins, int col)
{
	char label[128];
	int n;

	for (;; opts++) {
		if (builtins && (opts->type == OPTION_GROUP || opts->type == OPTION_END)) {
			print_options(f, builtins, NULL, col);
			builtins = NULL;
		}
		if (opts->type == OPTION_END)
			break;
		if (opts->type == OPTION_GROUP) {
			fprintf(f, "\n%s\n", opts->help);
			continue;
		}
		n = option_label(opts, label, sizeof(label));
		if (n + 2 > col)
			fprintf(f, "%s\n%*s", label, col, "");
		else
			fprintf(f, "%-*s", col, label);
		wrap(f, opts->help, col);
	}
}

void parse_options__usage(const struct command_def *cmd, const struct option_def *opts, FILE *f)
{
	const char *u = cmd->usage, *first = "usage:";
	int col = help_column(opts), c2 = help_column(builtin_opts);

	col = c2 > col ? c2 : col;
	while (*u) {
		size_t len = strcspn(u, "\n");

		fprintf(f, "%-6s profile %s %.*s\n", first, cmd->name, (int)len, u);
		first = "";
		u += len + (u[len] == '\n');
	}
	fprintf(f, "\n%s", cmd->description);
	if (cmd->description[0] && cmd->description[strlen(cmd->description) - 1] != '\n')
		fputc('\n', f);
	fputc('\n', f);
	print_options(f, opts, builtin_opts, col);
	if (cmd->notes)
		fprintf(f, "\n%s%s", cmd->notes,
			cmd->notes[0] && cmd->notes[strlen(cmd->notes) - 1] == '\n' ? "" : "\n");
}

/* ---- man pages ---- */

/* @n bytes of @s for roff: backslashes and minus signs escaped, no control line by accident. */
static void man_escape(FILE *f, const char *s, size_t n, bool line_start)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (line_start && i == 0 && (s[i] == '.' || s[i] == '\''))
			fputs("\\&", f);
		if (s[i] == '\\')
			fputs("\\e", f);
		else if (s[i] == '-')
			fputs("\\-", f);
		else
			fputc(s[i], f);
	}
}

void man__header(FILE *f, const char *title, const char *name, const char *summary)
{
	fprintf(f, ".\\\" Generated by 'profile %s --man' from its option table; do not edit.\n",
		strcmp(name, "profile") ? name + strlen("profile-") : "help");
	fprintf(f, ".TH %s 1 \"\" \"profile\" \"User Commands\"\n.SH NAME\n", title);
	man_escape(f, name, strlen(name), false);
	fputs(" \\- ", f);
	man_escape(f, summary, strlen(summary), false);
	fputc('\n', f);
}

void man__line(FILE *f, const char *text)
{
	man_escape(f, text, strlen(text), true);
	fputc('\n', f);
}

static bool is_literal(const char *para, size_t len)
{
	const char *p = para, *end = para + len;

	while (p < end) {
		if (strncmp(p, "  ", 2))
			return false;
		p = memchr(p, '\n', end - p);
		if (!p)
			break;
		p++;
	}
	return true;
}

void man__text(FILE *f, const char *text)
{
	const char *p = text;

	while (*p) {
		const char *end = strstr(p, "\n\n"), *line;
		size_t len = end ? (size_t)(end - p) : strlen(p);
		bool literal = is_literal(p, len);

		fputs(literal ? ".PP\n.nf\n.RS 2\n" : ".PP\n", f);
		for (line = p; line < p + len;) {
			size_t ll = strcspn(line, "\n");

			if (line + ll > p + len)
				ll = p + len - line;
			if (literal)
				man_escape(f, line + 2, ll - 2, true);
			else
				man_escape(f, line, ll, true);
			fputc('\n', f);
			line += ll + 1;
		}
		if (literal)
			fputs(".RE\n.fi\n", f);
		p += len;
		while (*p == '\n')
			p++;
	}
}

static void man_options(FILE *f, const struct option_def *opts, const struct option_def *builtins)
{
	for (;; opts++) {
		if (builtins && (opts->type == OPTION_GROUP || opts->type == OPTION_END)) {
			man_options(f, builtins, NULL);
			builtins = NULL;
		}
		if (opts->type == OPTION_END)
			break;
		if (opts->type == OPTION_GROUP) {
			size_t n = strlen(opts->help);

			fputs(".SS ", f);
			man_escape(f, opts->help, n && opts->help[n - 1] == ':' ? n - 1 : n, false);
			fputc('\n', f);
			continue;
		}
		fputs(".TP\n", f);
		if (opts->short_name)
			fprintf(f, "\\fB\\-%c\\fR, ", opts->short_name);
		fputs("\\fB\\-\\-", f);
		man_escape(f, opts->long_name, strlen(opts->long_name), false);
		fputs("\\fR", f);
		if (opts->argh) {
			fputs(" \\fI", f);
			man_escape(f, opts->argh, strlen(opts->argh), false);
			fputs("\\fR", f);
		}
		fputc('\n', f);
		man_escape(f, opts->help, strlen(opts->help), true);
		fputc('\n', f);
	}
}

void parse_options__man(const struct command_def *cmd, const struct option_def *opts, FILE *f)
{
	char title[64], name[64];
	const char *u = cmd->usage;
	size_t i;

	snprintf(name, sizeof(name), "profile-%s", cmd->name);
	for (i = 0; name[i] && i < sizeof(title) - 1; i++)
		title[i] = name[i] >= 'a' && name[i] <= 'z' ? name[i] - 'a' + 'A' : name[i];
	title[i] = '\0';
	man__header(f, title, name, cmd->summary);
	fputs(".SH SYNOPSIS\n", f);
	while (*u) {
		size_t len = strcspn(u, "\n");

		fprintf(f, "%s\\fBprofile %s\\fR ", u == cmd->usage ? "" : ".br\n", cmd->name);
		man_escape(f, u, len, false);
		fputc('\n', f);
		u += len + (u[len] == '\n');
	}
	fputs(".SH DESCRIPTION\n", f);
	man__text(f, cmd->description);
	fputs(".SH OPTIONS\n", f);
	man_options(f, opts, builtin_opts);
	if (cmd->notes) {
		fputs(".SH NOTES\n", f);
		man__text(f, cmd->notes);
	}
	fputs(".SH EXIT STATUS\n0 on success, 1 on failure, 2 for a command line that does not parse.\n",
	      f);
	fputs(".SH SEE ALSO\n\\fBprofile\\fR(1)\n", f);
}
