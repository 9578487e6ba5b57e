// SPDX-License-Identifier: GPL-2.0
/*
 * Escaping for XML (SVG) text and attributes. Names come from arbitrary
 * binaries, so besides the five special characters this drops what would
 * make the document ill-formed: control characters and invalid UTF-8.
 */
#include <errno.h>
#include <stdint.h>

#include "web.h"
#include "common/strbuf.h"
#include "common/log.h"

static const char REPLACEMENT[] = "\xef\xbf\xbd";	/* U+FFFD */

/* Length of the valid UTF-8 sequence at @s (at most @len bytes), or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t len)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n > len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF, and the XML-excluded U+FFFE/U+FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
		return 0;
	return n;
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
