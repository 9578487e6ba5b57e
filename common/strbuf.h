/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A growable, always NUL-terminated byte buffer: the one string builder used
 * for folded output, SVG and reports. On allocation failure a call returns
 * -ENOMEM and leaves the buffer as it was.
 */
#ifndef __PROFILER_STRBUF_H
#define __PROFILER_STRBUF_H

#include <stddef.h>
#include <stdio.h>

struct strbuf {
	char *buf;	/* NULL until the first add; use strbuf__str() to read */
	size_t len;
	size_t alloc;
};

#define STRBUF_INIT { NULL, 0, 0 }

int strbuf__grow(struct strbuf *sb, size_t extra);
int strbuf__add(struct strbuf *sb, const void *data, size_t len);
int strbuf__adds(struct strbuf *sb, const char *s);
int strbuf__addch(struct strbuf *sb, char c);
int strbuf__addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Shrink to @len bytes (no-op when @len >= current length). */
void strbuf__setlen(struct strbuf *sb, size_t len);
/* The contents; "" for an empty buffer. Borrowed until the next change. */
const char *strbuf__str(const struct strbuf *sb);
/* Write the whole buffer to @f; returns 0 or -EIO. */
int strbuf__write(const struct strbuf *sb, FILE *f);
void strbuf__release(struct strbuf *sb);

#endif /* __PROFILER_STRBUF_H */
