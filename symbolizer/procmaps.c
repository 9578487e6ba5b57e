// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/PID/maps lines, e.g.
 *   55d0c8a00000-55d0c8a21000 r-xp 00002000 08:01 1319  /usr/bin/cat
 * and the address -> file offset step of symbolization.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "symbolizer.h"
#include "symbolizer_internal.h"
#include "common/strbuf.h"
#include "common/strset.h"
#include "common/log.h"

static const char DELETED[] = " (deleted)";

static enum map_kind classify(const char *path, __u64 inode)
{
	if (!*path)
		return MAPPING_ANON;
	if (!strcmp(path, "[vdso]"))
		return MAPPING_VDSO;
	if (!strcmp(path, "[heap]") || !strncmp(path, "[stack", 6) || !strncmp(path, "[anon", 5))
		return MAPPING_ANON;
	if (path[0] == '[')
		return MAPPING_SPECIAL;
	/* memfd and SysV shm have paths but inode-less anonymous-like content */
	if (!inode && strncmp(path, "/memfd:", 7))
		return MAPPING_ANON;
	return MAPPING_FILE;
}

int proc_map__parse(const char *line, struct proc_map *m, struct strset *strs)
{
	char perms[5];
	int path_off = -1, id;
	unsigned long long start, end, pgoff, inode;
	unsigned int maj, min;
	size_t len;
	const char *path;

	if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu %n", &start, &end, perms, &pgoff, &maj,
		   &min, &inode, &path_off) < 7)
		return -EINVAL;
	if (start >= end || strlen(perms) != 4)
		return -EINVAL;
	path = path_off >= 0 ? line + path_off : "";
	while (*path == ' ')
		path++;
	len = strcspn(path, "\n");

	memset(m, 0, sizeof(*m));
	m->start = start;
	m->end = end;
	m->pgoff = pgoff;
	m->dev_major = maj;
	m->dev_minor = min;
	m->inode = inode;
	m->exec = perms[2] == 'x';
	m->dso = -1;
	if (len > sizeof(DELETED) - 1 && !memcmp(path + len - (sizeof(DELETED) - 1), DELETED,
						 sizeof(DELETED) - 1)) {
		m->deleted = true;
		len -= sizeof(DELETED) - 1;
	}
	id = strset__add(strs, path, len);
	if (id < 0)
		return id;
	m->path = strset__str(strs, id);
	m->kind = classify(m->path, inode);
	return 0;
}

bool proc_map__file_offset(const struct proc_map *m, __u64 addr, __u64 *off)
{
	if (addr < m->start || addr >= m->end)
		return false;
	*off = addr - m->start + m->pgoff;
	return true;
}

int symbolizer__for_each_exec_map(const char *proc_root, __u32 tgid,
				  int (*fn)(void *ctx, const struct sym_exec_map *m), void *ctx)
{
	struct strbuf path = STRBUF_INIT;
	struct strset *strs = strset__new();
	size_t linecap = 0;
	char *line = NULL;
	struct proc_map m;
	int err = 0;
	FILE *f;

	if (!strs || strbuf__addf(&path, "%s/%u/maps", proc_root ? proc_root : "/proc", tgid)) {
		strset__free(strs);
		strbuf__release(&path);
		return -ENOMEM;
	}
	f = fopen(strbuf__str(&path), "r");
	if (!f)
		err = -ESRCH;
	while (f && !err && getline(&line, &linecap, f) > 0) {
		struct sym_exec_map e;

		if (proc_map__parse(line, &m, strs) || !m.exec)
			continue;
		e.start = m.start;
		e.end = m.end;
		e.pgoff = m.pgoff;
		e.dev_major = m.dev_major;
		e.dev_minor = m.dev_minor;
		e.inode = m.inode;
		e.path = m.path;
		e.anon = m.kind == MAPPING_ANON;
		e.vdso = m.kind == MAPPING_VDSO;
		e.special = m.kind == MAPPING_SPECIAL;
		err = fn(ctx, &e);
	}
	if (f)
		fclose(f);
	free(line);
	strset__free(strs);
	strbuf__release(&path);
	return err;
}

int symbolizer__open_mapping(const char *proc_root, __u32 tgid, __u64 start, __u64 end,
			     __u64 inode, const char *path)
{
	struct strbuf buf = STRBUF_INIT;
	struct stat st;
	int fd, root;

	if (!proc_root)
		proc_root = "/proc";
	/* map_files reaches the very file mapped: deleted, replaced or in a container */
	if (strbuf__addf(&buf, "%s/%u/map_files/%llx-%llx", proc_root, tgid,
			 (unsigned long long)start, (unsigned long long)end))
		return -ENOMEM;
	fd = untrusted__open_link(strbuf__str(&buf), &st);
	if (fd >= 0 || fd == -EINVAL || fd == -EREMOTE || fd == -ENOMEM)
		goto out;
	/* unmapped meanwhile: the path now may name anything the process's user put there */
	strbuf__setlen(&buf, 0);
	if (strbuf__addf(&buf, "%s/%u/root", proc_root, tgid)) {
		fd = -ENOMEM;
		goto out;
	}
	root = open(strbuf__str(&buf), O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		fd = -errno;
		goto out;
	}
	fd = untrusted__open(root, path, UNTRUSTED_ANY_OWNER, &st);
	close(root);
	if (fd >= 0 && (__u64)st.st_ino != inode) {
		close(fd);	/* not the file that was mapped */
		fd = -ESTALE;
	}
out:
	strbuf__release(&buf);
	return fd;
}
