/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An interning set of strings. Each distinct string gets a dense id (0, 1, 2,
 * ...) in insertion order. Strings live in an arena owned by the set, so a
 * pointer from strset__str() stays valid until strset__free().
 */
#ifndef __PROFILER_STRSET_H
#define __PROFILER_STRSET_H

#include <stddef.h>
#include <stdint.h>

struct strset;

struct strset *strset__new(void);
void strset__free(struct strset *set);

/* Intern @len bytes at @s (need not be NUL-terminated). Returns the id, or -ENOMEM. */
int strset__add(struct strset *set, const char *s, size_t len);
/* The id of @s, or -ENOENT. */
int strset__find(const struct strset *set, const char *s, size_t len);
/* The string with id @id (borrowed). */
const char *strset__str(const struct strset *set, int id);
size_t strset__len(const struct strset *set, int id);
size_t strset__count(const struct strset *set);
/* Bytes held by the set, for memory accounting. */
size_t strset__mem(const struct strset *set);

uint64_t str_hash(const char *s, size_t len);

#endif /* __PROFILER_STRSET_H */
