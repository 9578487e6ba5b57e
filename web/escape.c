// SPDX-License-Identifier: GPL-2.0
/*
 * Escaping for XML (SVG) text and attributes, and UTF-8 clean-up for the
 * formats whose strings must be UTF-8 (pprof, JSON). Names come from
 * arbitrary binaries, so besides the five special characters XML drops what
 * would make the document ill-formed: control characters and invalid UTF-8.
 */
#include <errno.h>
#include <stdint.h>

#include "web.h"
#include "common/strbuf.h"
#include "common/log.h"
#include "common/utf8.h"

static const char REPLACEMENT[] = "\xef\xbf\xbd";	/* U+FFFD */

/* Length of the valid UTF-8 sequence at @s (at most @len bytes), or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t len)
{
	uint32_t cp;
	size_t n = utf8__seq_len(s, len, &cp);

	/* XML excludes U+FFFE and U+FFFF as well */
	return n && cp != 0xfffe && cp != 0xffff ? n : 0;
}

int xml_escape(struct strbuf *sb, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	int err = 0;

	while (p < end && !err) {
		size_t n;

		switch (*p) {
		case '&':
			err = strbuf__adds(sb, "&amp;");
			break;
		case '<':
			err = strbuf__adds(sb, "&lt;");
			break;
		case '>':
			err = strbuf__adds(sb, "&gt;");
			break;
		case '"':
			err = strbuf__adds(sb, "&quot;");
			break;
		case '\'':
			err = strbuf__adds(sb, "&#39;");
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				err = strbuf__adds(sb, REPLACEMENT);
				break;
			}
			n = utf8_seq_len(p, end - p);
			if (!n) {
				err = strbuf__adds(sb, REPLACEMENT);
				break;
			}
			err = strbuf__add(sb, p, n);
			p += n;
			continue;
		}
		p++;
	}
	return err;
}

/* A C1 control (U+0080..U+009F): terminals obey them as they do ESC sequences. */
static bool is_c1(uint32_t cp)
{
	return cp >= 0x80 && cp <= 0x9f;
}

const char *term_escape(struct strbuf *sb, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	uint32_t cp;
	int err = 0;
	size_t n, i;

	strbuf__setlen(sb, 0);
	while (p < end && !err) {
		n = utf8__seq_len(p, end - p, &cp);
		if (n && !(cp < 0x20 || cp == 0x7f || is_c1(cp))) {
			err = strbuf__add(sb, p, n);
			p += n;
			continue;
		}
		/* the bytes of a control character, or one byte of invalid UTF-8 */
		for (i = 0; i < (n ? n : 1) && !err; i++)
			err = strbuf__addf(sb, "\\x%02x", p[i]);
		p += n ? n : 1;
	}
	if (err)
		return "(out of memory)";
	return sb->buf ? sb->buf : "";
}

bool utf8_is_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	uint32_t cp;
	size_t n;

	for (; p < end; p += n) {
		n = utf8__seq_len(p, end - p, &cp);
		if (!n)
			return false;
	}
	return true;
}

int utf8_clean(struct strbuf *sb, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	uint32_t cp;
	int err = 0;
	size_t n;

	while (p < end && !err) {
		n = utf8__seq_len(p, end - p, &cp);
		if (!n) {
			err = strbuf__adds(sb, REPLACEMENT);
			p++;
			continue;
		}
		err = strbuf__add(sb, p, n);
		p += n;
	}
	return err;
}
