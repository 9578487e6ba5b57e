/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The CPython interpreters the Python tests run against: Debian's
 * /usr/bin/python3.11 (the one Debian 12 and its CI have) and any
 * python3.11 to python3.13 found in /usr/bin, /usr/local/bin and pyenv's
 * versions ($PYENV_ROOT, or ~/.pyenv). PROFILE_TEST_PYTHONS=PATH:PATH
 * replaces the search. The same executable is listed once.
 */
#ifndef __PROFILER_TESTS_PYTHONS_H
#define __PROFILER_TESTS_PYTHONS_H

#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TEST_PYTHONS 16

struct test_python {
	char path[PATH_MAX];
	int minor;		/* 11, 12, 13 */
	char name[PATH_MAX + 64];	/* "python3.12 (/root/.pyenv/...)": for test names */
};

/* The minor version in "python3.N", or -1 for another name or version. */
static inline int test_python_minor(const char *path)
{
	const char *base = strrchr(path, '/');
	int minor;
	char end;

	base = base ? base + 1 : path;
	if (sscanf(base, "python3.%d%c", &minor, &end) != 1)
		return -1;
	return minor >= 11 && minor <= 13 ? minor : -1;
}

static inline void test_python_add(struct test_python *out, int *nr, const char *path)
{
	char real[PATH_MAX];
	int i, minor = test_python_minor(path);

	if (*nr >= MAX_TEST_PYTHONS || minor < 0 || access(path, X_OK) || !realpath(path, real))
		return;
	for (i = 0; i < *nr; i++) {
		char seen[PATH_MAX];

		if (realpath(out[i].path, seen) && !strcmp(seen, real))
			return;
	}
	snprintf(out[*nr].path, sizeof(out[*nr].path), "%s", path);
	out[*nr].minor = minor;
	snprintf(out[*nr].name, sizeof(out[*nr].name), "python3.%d (%s)", minor, path);
	(*nr)++;
}

/* Fill @out; returns how many were found. */
static inline int test_pythons(struct test_python *out)
{
	static const char *const dirs[] = { "/usr/bin", "/usr/local/bin" };
	const char *list = getenv("PROFILE_TEST_PYTHONS"), *root = getenv("PYENV_ROOT");
	char pattern[PATH_MAX];
	int nr = 0, minor;
	size_t i, d;
	glob_t g;

	if (list) {
		char *copy = strdup(list), *p, *save = NULL;

		for (p = copy ? strtok_r(copy, ":", &save) : NULL; p; p = strtok_r(NULL, ":", &save))
			test_python_add(out, &nr, p);
		free(copy);
		return nr;
	}
	for (d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
		for (minor = 11; minor <= 13; minor++) {
			snprintf(pattern, sizeof(pattern), "%s/python3.%d", dirs[d], minor);
			test_python_add(out, &nr, pattern);
		}
	}
	if (root)
		snprintf(pattern, sizeof(pattern), "%s/versions/*/bin/python3.1[123]", root);
	else
		snprintf(pattern, sizeof(pattern), "%s/.pyenv/versions/*/bin/python3.1[123]",
			 getenv("HOME") ? getenv("HOME") : "/root");
	if (!glob(pattern, 0, NULL, &g)) {
		for (i = 0; i < g.gl_pathc; i++)
			test_python_add(out, &nr, g.gl_pathv[i]);
		globfree(&g);
	}
	return nr;
}

/* One line naming every interpreter the binary tests, so a log says which ran. */
static inline void test_pythons_print(const char *what, const struct test_python *p, int nr)
{
	int i;

	printf("%s: %d CPython interpreter%s:", what, nr, nr == 1 ? "" : "s");
	for (i = 0; i < nr; i++)
		printf(" %s", p[i].name);
	printf("%s\n", nr ? "" : " none found, the Python tests are skipped");
	fflush(stdout);
}

#endif /* __PROFILER_TESTS_PYTHONS_H */
