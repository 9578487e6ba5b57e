// SPDX-License-Identifier: GPL-2.0
/* Growable string buffer; see strbuf.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "log.h"

int strbuf__grow(struct strbuf *sb, size_t extra)
{
	size_t need, alloc;
	char *buf;

	if (extra > (size_t)-1 / 2 - sb->len)
		return -ENOMEM;
	need = sb->len + extra + 1;
	if (need <= sb->alloc)
		return 0;
	alloc = sb->alloc ? sb->alloc : 64;
	while (alloc < need)
		alloc *= 2;
	buf = realloc(sb->buf, alloc);
	if (!buf)
		return -ENOMEM;
	if (!sb->buf)
		buf[0] = '\0';
	sb->buf = buf;
	sb->alloc = alloc;
	return 0;
}

int strbuf__add(struct strbuf *sb, const void *data, size_t len)
{
	int err = strbuf__grow(sb, len);

	if (err)
		return err;
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
	return 0;
}

int strbuf__adds(struct strbuf *sb, const char *s)
{
	return strbuf__add(sb, s, strlen(s));
}

int strbuf__addch(struct strbuf *sb, char c)
{
	return strbuf__add(sb, &c, 1);
}

int strbuf__addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n, err;

	err = strbuf__grow(sb, 64);
	if (err)
		return err;
	va_start(ap, fmt);
	n = vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= sb->alloc - sb->len) {
		err = strbuf__grow(sb, n);
		if (err) {
			sb->buf[sb->len] = '\0';
			return err;
		}
		va_start(ap, fmt);
		vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, ap);
		va_end(ap);
	}
	sb->len += n;
	return 0;
}

void strbuf__setlen(struct strbuf *sb, size_t len)
{
	if (len >= sb->len)
		return;
	sb->len = len;
	sb->buf[len] = '\0';
}

const char *strbuf__str(const struct strbuf *sb)
{
	return sb->buf ? sb->buf : "";
}

int strbuf__write(const struct strbuf *sb, FILE *f)
{
	if (sb->len && fwrite(sb->buf, 1, sb->len, f) != sb->len)
		return -EIO;
	return 0;
}

void strbuf__release(struct strbuf *sb)
{
	free(sb->buf);
	sb->buf = NULL;
	sb->len = sb->alloc = 0;
}
