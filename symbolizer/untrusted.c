// SPDX-License-Identifier: GPL-2.0
/*
 * Files a profiled process controls (its perf map, the binaries it maps),
 * opened by a profiler that runs as root. Any user can plant a symlink to a
 * root-only file, a FIFO that blocks open() forever, a device node (by bind
 * mount, in a user namespace of their own) or a FUSE file whose server never
 * answers. So a path is resolved one component at a time below a directory
 * fd (a process's root), never following a symlink, never stepping out of
 * that root (".." is refused), never looking anything up on FUSE; the last
 * component is opened O_PATH first, checked to be a regular file with the
 * expected owner, and only then reopened for reading, through the very inode
 * checked. Text from such files is cleaned before it is kept: control
 * characters and bytes that are not UTF-8 become '?'.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "symbolizer_internal.h"
#include "common/log.h"
#include "common/utf8.h"

#ifndef FUSE_SUPER_MAGIC
#define FUSE_SUPER_MAGIC 0x65735546
#endif

/*
 * -EREMOTE on FUSE: its server answers lookups, opens and reads, or never
 * does. fstatfs() itself asks no server that root may not use (a mount
 * without allow_other, the default): the kernel answers with the magic alone.
 */
static int check_fs(int fd)
{
	struct statfs sfs;

	if (fstatfs(fd, &sfs))
		return -errno;
	return sfs.f_type == FUSE_SUPER_MAGIC ? -EREMOTE : 0;
}

/* The next component of @p into @comp; returns what follows it, or NULL with *err set. */
static const char *next_component(const char *p, char comp[NAME_MAX + 1], int *err)
{
	size_t len = strcspn(p, "/");

	if (!len || len > NAME_MAX) {
		*err = len ? -ENAMETOOLONG : -EINVAL;
		return NULL;
	}
	if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) {
		*err = -EINVAL;	/* the paths we are given never need them */
		return NULL;
	}
	memcpy(comp, p, len);
	comp[len] = '\0';
	p += len;
	while (*p == '/')
		p++;
	return p;
}

/*
 * An O_PATH fd of @path below @dirfd, no symlink followed, nothing on FUSE
 * looked up or stat()ed (the file system of each fd is checked first).
 */
static int walk(int dirfd, const char *path)
{
	char comp[NAME_MAX + 1];
	int cur = dirfd, next, err;
	const char *p = path;
	struct stat st;

	err = check_fs(dirfd);
	if (err)
		return err;
	while (*p == '/')
		p++;
	for (;;) {
		p = next_component(p, comp, &err);
		next = err ? -1 : openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (!err && next < 0)
			err = -errno;
		if (cur != dirfd)
			close(cur);
		if (!err)
			err = check_fs(next);
		if (err) {
			if (next >= 0)
				close(next);
			return err;
		}
		if (!*p)
			return next;
		if (fstat(next, &st))
			err = -errno;
		else if (!S_ISDIR(st.st_mode))
			err = S_ISLNK(st.st_mode) ? -ELOOP : -ENOTDIR;
		if (err) {
			close(next);
			return err;
		}
		cur = next;
	}
}

/* Reopen O_PATH @fd (consumed) for reading: the same inode, whatever its name is now. */
static int reopen_checked(int fd, struct stat *st)
{
	char self[64];
	struct stat now;
	int rfd, err = 0;

	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	rfd = open(self, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (rfd < 0)
		err = -errno;
	close(fd);
	if (err)
		return err;
	if (fstat(rfd, &now) || now.st_dev != st->st_dev || now.st_ino != st->st_ino ||
	    !S_ISREG(now.st_mode)) {
		close(rfd);
		return -ESTALE;
	}
	*st = now;
	return rfd;
}

int untrusted__open(int dirfd, const char *path, uid_t owner, struct stat *st)
{
	int fd = walk(dirfd, path);

	if (fd < 0)
		return fd;
	if (fstat(fd, st)) {
		close(fd);
		return -errno;
	}
	if (!S_ISREG(st->st_mode) || (owner != UNTRUSTED_ANY_OWNER && st->st_uid != owner)) {
		close(fd);
		return S_ISLNK(st->st_mode) ? -ELOOP : S_ISREG(st->st_mode) ? -EPERM : -EINVAL;
	}
	return reopen_checked(fd, st);
}

int untrusted__open_link(const char *link, struct stat *st)
{
	/* O_PATH follows the magic link to the file without opening it */
	int fd = open(link, O_PATH | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	err = check_fs(fd);
	if (!err && fstat(fd, st))
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return -EINVAL;
	}
	return reopen_checked(fd, st);
}

const char *untrusted__strerror(int err)
{
	switch (err) {
	case -ELOOP:
		return "a symlink: not followed";
	case -EINVAL:
		return "not a regular file";
	case -EPERM:
		return "not owned by the process's user";
	case -EREMOTE:
		return "on FUSE: not read";
	default:
		return strerror(-err);
	}
}

/* Length of the UTF-8 sequence at @s (at most @len bytes) if valid and printable, else 0. */
static size_t utf8_len(const unsigned char *s, size_t len)
{
	uint32_t cp;
	size_t n = utf8__seq_len(s, len, &cp);

	/* C0 and C1 controls and DEL: a terminal obeys them */
	if (n && (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)))
		return 0;
	return n;
}

bool sym_name__clean(char *dst, const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	bool changed = false;
	size_t i = 0, n;

	while (i < len) {
		n = utf8_len(s + i, len - i);
		if (!n) {
			dst[i++] = '?';
			changed = true;
			continue;
		}
		if (dst != src)
			memcpy(dst + i, s + i, n);
		i += n;
	}
	return changed;
}

bool sym_name__is_clean(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;

	while (i < len) {
		n = utf8_len(p + i, len - i);
		if (!n)
			return false;
		i += n;
	}
	return true;
}
