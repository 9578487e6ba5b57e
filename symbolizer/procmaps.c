// SPDX-License-Identifier: GPL-2.0
/*
 * A process's executable mappings: through the PROCMAP_QUERY ioctl where the
 * kernel has it, else from the text of /proc/PID/maps, whose lines read e.g.
 *   55d0c8a00000-55d0c8a21000 r-xp 00002000 08:01 1319  /usr/bin/cat
 * and the address -> file offset step of symbolization.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "symbolizer.h"
#include "symbolizer_internal.h"
#include "common/strbuf.h"
#include "common/strset.h"
#include "common/clock.h"
#include "common/hex.h"
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

/* Hex digits at *@p, at least one and at most 64 bits' worth; *@p moves past them. */
static bool parse_hex(const char **p, unsigned long long *out)
{
	unsigned long long v = 0;
	const char *s = *p;
	int d;

	for (;; s++) {
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		if (v >> 60)
			return false;
		v = v << 4 | d;
	}
	if (s == *p)
		return false;
	*p = s;
	*out = v;
	return true;
}

static bool parse_dec(const char **p, unsigned long long *out)
{
	unsigned long long v = 0;
	const char *s = *p;

	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (~0ULL - 9) / 10)
			return false;
		v = v * 10 + (*s - '0');
	}
	if (s == *p)
		return false;
	*p = s;
	*out = v;
	return true;
}

/* One or more spaces (the kernel pads before the path), unless @none_ok. */
static bool skip_spaces(const char **p, bool none_ok)
{
	const char *s = *p;

	while (*s == ' ' || *s == '\t')
		s++;
	if (s == *p && !none_ok)
		return false;
	*p = s;
	return true;
}

/* Kind, deleted flag and interned path of @m from @path (@len bytes). */
static int set_path(struct proc_map *m, const char *path, size_t len, struct strset *strs)
{
	int id;

	if (len > sizeof(DELETED) - 1 && !memcmp(path + len - (sizeof(DELETED) - 1), DELETED,
						 sizeof(DELETED) - 1)) {
		m->deleted = true;
		len -= sizeof(DELETED) - 1;
	}
	id = strset__add(strs, path, len);
	if (id < 0)
		return id;
	m->path = strset__str(strs, id);
	m->kind = classify(m->path, m->inode);
	return 0;
}

/* @m's build id from its @len raw bytes, as interned hex (@hex: room for it). */
static int set_build_id(struct proc_map *m, const unsigned char *bid, size_t len, char *hex,
			struct strset *strs)
{
	int id;

	hex_encode(hex, bid, len);
	id = strset__add(strs, hex, 2 * len);
	if (id < 0)
		return id;
	m->build_id = strset__str(strs, id);
	return 0;
}

/*
 * "start-end perms offset major:minor inode   path": read field by field,
 * without sscanf (the agent reads a process's maps at every exec).
 */
int proc_map__parse(const char *line, struct proc_map *m, struct strset *strs)
{
	unsigned long long start, end, pgoff, maj, min, inode;
	const char *p = line, *perms;
	size_t len;
	int i;

	if (!parse_hex(&p, &start) || *p++ != '-' || !parse_hex(&p, &end) ||
	    !skip_spaces(&p, false))
		return -EINVAL;
	perms = p;
	for (i = 0; i < 4; i++, p++) {
		if (!*p || !strchr("rwxsp-", *p))
			return -EINVAL;
	}
	if (!skip_spaces(&p, false) || !parse_hex(&p, &pgoff) || !skip_spaces(&p, false) ||
	    !parse_hex(&p, &maj) || *p++ != ':' || !parse_hex(&p, &min) ||
	    !skip_spaces(&p, false) || !parse_dec(&p, &inode))
		return -EINVAL;
	if (start >= end || maj > 0xffffffffULL || min > 0xffffffffULL)
		return -EINVAL;
	/* the path, if any, after the padding; nothing else may follow the inode */
	if (*p && *p != '\n' && !skip_spaces(&p, false))
		return -EINVAL;
	len = strcspn(p, "\n");

	memset(m, 0, sizeof(*m));
	m->start = start;
	m->end = end;
	m->pgoff = pgoff;
	m->dev_major = maj;
	m->dev_minor = min;
	m->inode = inode;
	m->exec = perms[2] == 'x';
	m->dso = -1;
	return set_path(m, p, len, strs);
}

/* ---- reading a process's mappings ---- */

/*
 * PROCMAP_QUERY (Linux 6.11, include/uapi/linux/fs.h): one ioctl on an open
 * /proc/PID/maps returns the mapping covering an address or the next one,
 * filtered by the kernel (executable only here): no text to format or parse.
 * Declared here since Debian 12's headers predate it; the layout is ABI.
 */
#ifndef PROCMAP_QUERY
struct procmap_query {
	__u64 size;
	__u64 query_flags;
	__u64 query_addr;
	__u64 vma_start;
	__u64 vma_end;
	__u64 vma_flags;
	__u64 vma_page_size;
	__u64 vma_offset;
	__u64 inode;
	__u32 dev_major;
	__u32 dev_minor;
	__u32 vma_name_size;
	__u32 build_id_size;
	__u64 vma_name_addr;
	__u64 build_id_addr;
};
#define PROCMAP_QUERY _IOWR('f', 17, struct procmap_query)
#define PROCMAP_QUERY_VMA_EXECUTABLE 0x04
#define PROCMAP_QUERY_COVERING_OR_NEXT_VMA 0x10
#endif

/* Set once an ioctl says the kernel has no PROCMAP_QUERY: text from then on. */
static bool no_procmap_query;

/*
 * The build ids the kernel read lately, by file: asked for again only after
 * BUILD_ID_TTL_NS. Reading one costs the kernel some 10 us (the ELF headers
 * and notes through the page cache), and on a build loop every process's
 * ten or so mappings are read several times a second: 12% of the agent's
 * time went there. A file rewritten under its inode is seen at the first
 * read after that long (relinking takes longer).
 */
#define BUILD_ID_SLOTS 512
#define BUILD_ID_TTL_NS (100 * 1000 * 1000ULL)

struct build_id_slot {
	__u64 file;		/* hash of (device, inode); 0: empty */
	__u64 when_ns;
	__u32 len;		/* 0: the file has none */
	unsigned char bid[20];
};

static struct build_id_slot build_id_slots[BUILD_ID_SLOTS];
static pthread_mutex_t build_id_lock = PTHREAD_MUTEX_INITIALIZER;

static __u64 file_hash(const struct procmap_query *q)
{
	__u64 h = ((__u64)q->dev_major << 40 ^ (__u64)q->dev_minor << 20 ^ q->inode) *
		  0x9e3779b97f4a7c15ULL;

	return (h ^ h >> 29) | 1;
}

/*
 * The build id of the file of executable mapping @q (read from @fd): from the
 * cache while fresh, else asked of the kernel. Its length in bytes, 0 when
 * the file has none or it cannot be read.
 */
static __u32 mapping_build_id(int fd, const struct procmap_query *q, unsigned char *bid,
			      size_t size)
{
	__u64 file = file_hash(q), now = now_ns();
	struct build_id_slot *slot = &build_id_slots[file % BUILD_ID_SLOTS];
	struct procmap_query b;
	__u32 len = 0;
	bool hit;

	pthread_mutex_lock(&build_id_lock);
	hit = slot->file == file && now - slot->when_ns < BUILD_ID_TTL_NS;
	if (hit) {
		len = slot->len;
		memcpy(bid, slot->bid, len);
	}
	pthread_mutex_unlock(&build_id_lock);
	if (hit)
		return len;
	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.query_flags = PROCMAP_QUERY_VMA_EXECUTABLE;	/* the VMA at query_addr */
	b.query_addr = q->vma_start;
	b.build_id_addr = (uintptr_t)bid;
	b.build_id_size = size;
	if (ioctl(fd, PROCMAP_QUERY, &b) || b.vma_start != q->vma_start || b.inode != q->inode ||
	    b.build_id_size > sizeof(slot->bid))
		return 0;	/* unmapped meanwhile: not cached */
	pthread_mutex_lock(&build_id_lock);
	slot->file = file;
	slot->when_ns = now;
	slot->len = b.build_id_size;
	memcpy(slot->bid, bid, b.build_id_size);
	pthread_mutex_unlock(&build_id_lock);
	return b.build_id_size;
}

/*
 * The executable mappings through the ioctl. Returns 0, -ENOTTY when the
 * kernel (or the file: a test's fake /proc) does not answer it, -ESRCH when
 * the process is gone, -ENOMEM, or @fn's non-zero return.
 */
static int query_exec_maps(int fd, struct strset *strs, proc_map_fn fn, void *ctx)
{
	char name[PATH_MAX + sizeof(DELETED)];
	unsigned char bid[64];	/* the kernel's are at most 20 bytes */
	char hex[2 * sizeof(bid) + 1];
	struct procmap_query q;
	bool delivered = false;
	struct proc_map m;
	__u64 addr = 0;
	__u32 len;
	int err;

	for (;;) {
		memset(&q, 0, sizeof(q));
		q.size = sizeof(q);
		q.query_flags = PROCMAP_QUERY_COVERING_OR_NEXT_VMA | PROCMAP_QUERY_VMA_EXECUTABLE;
		q.query_addr = addr;
		q.vma_name_addr = (uintptr_t)name;
		q.vma_name_size = sizeof(name);
		if (ioctl(fd, PROCMAP_QUERY, &q)) {
			err = -errno;
			if (err == -ENOENT)
				return 0;	/* no mapping at or above addr: done */
			if (err == -ENOMEM)
				return err;
			/* unknown to this kernel, or a fake /proc: the text, unless half done */
			if ((err == -ENOTTY || err == -EINVAL || err == -EOPNOTSUPP) && !delivered)
				return -ENOTTY;
			return -ESRCH;	/* gone (its mm too), or meanwhile */
		}
		if (q.vma_end <= q.vma_start || q.vma_start < addr)
			return delivered ? -ESRCH : -ENOTTY;	/* not what the ABI promises */
		memset(&m, 0, sizeof(m));
		m.start = q.vma_start;
		m.end = q.vma_end;
		m.pgoff = q.vma_offset;
		m.dev_major = q.dev_major;
		m.dev_minor = q.dev_minor;
		m.inode = q.inode;
		m.exec = true;
		m.dso = -1;
		err = set_path(&m, name, q.vma_name_size ? strnlen(name, q.vma_name_size) : 0,
			       strs);
		/* the file's build id, read by the kernel: a binary rewritten in place is told apart */
		if (!err && m.kind == MAPPING_FILE && q.inode &&
		    (len = mapping_build_id(fd, &q, bid, sizeof(bid))))
			err = set_build_id(&m, bid, len, hex, strs);
		if (!err)
			err = fn(ctx, &m);
		if (err)
			return err;
		delivered = true;
		addr = q.vma_end;
	}
}

static int text_exec_maps(int fd, struct strset *strs, proc_map_fn fn, void *ctx)
{
	FILE *f = fdopen(fd, "r");
	size_t linecap = 0;
	char *line = NULL;
	struct proc_map m;
	int err = 0;

	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	while (!err && getline(&line, &linecap, f) > 0) {
		if (!proc_map__parse(line, &m, strs) && m.exec)
			err = fn(ctx, &m);
	}
	if (!err && ferror(f))
		err = -ESRCH;	/* the process went while its maps were read */
	free(line);
	fclose(f);	/* closes @fd */
	return err;
}

int proc_maps__for_each_exec(const char *proc_root, __u32 tgid, bool text_only,
			     struct strset *strs, proc_map_fn fn, void *ctx)
{
	struct strbuf path = STRBUF_INIT;
	int fd, err;

	if (strbuf__addf(&path, "%s/%u/maps", proc_root ? proc_root : "/proc", tgid))
		return -ENOMEM;
	fd = open(strbuf__str(&path), O_RDONLY | O_CLOEXEC);
	err = fd < 0 ? -errno : 0;
	if (err)
		pr_debug("cannot open '%s': %s", strbuf__str(&path), strerror(-err));
	strbuf__release(&path);
	if (err)
		return err == -ENOMEM ? err : -ESRCH;
	if (!text_only && !__atomic_load_n(&no_procmap_query, __ATOMIC_RELAXED)) {
		err = query_exec_maps(fd, strs, fn, ctx);
		if (err != -ENOTTY) {
			close(fd);
			return err;
		}
		/* a real /proc that does not know the ioctl: never ask again */
		if (!proc_root || !strcmp(proc_root, "/proc"))
			__atomic_store_n(&no_procmap_query, true, __ATOMIC_RELAXED);
	}
	return text_exec_maps(fd, strs, fn, ctx);
}

bool proc_map__file_offset(const struct proc_map *m, __u64 addr, __u64 *off)
{
	if (addr < m->start || addr >= m->end)
		return false;
	*off = addr - m->start + m->pgoff;
	return true;
}

struct exec_map_ctx {
	int (*fn)(void *ctx, const struct sym_exec_map *m);
	void *ctx;
};

static int exec_map_cb(void *data, const struct proc_map *m)
{
	struct exec_map_ctx *c = data;
	struct sym_exec_map e = {
		.start = m->start, .end = m->end, .pgoff = m->pgoff,
		.dev_major = m->dev_major, .dev_minor = m->dev_minor, .inode = m->inode,
		.path = m->path, .deleted = m->deleted, .anon = m->kind == MAPPING_ANON,
		.vdso = m->kind == MAPPING_VDSO,
		.special = m->kind == MAPPING_SPECIAL,
		.build_id = m->build_id,
	};

	return c->fn(c->ctx, &e);
}

int symbolizer__for_each_exec_map(const char *proc_root, __u32 tgid,
				  int (*fn)(void *ctx, const struct sym_exec_map *m), void *ctx)
{
	struct exec_map_ctx c = { fn, ctx };
	struct strset *strs = strset__new();
	int err;

	if (!strs)
		return -ENOMEM;
	err = proc_maps__for_each_exec(proc_root, tgid, false, strs, exec_map_cb, &c);
	strset__free(strs);
	return err;
}

static int vdso_size_cb(void *ctx, const struct sym_exec_map *m)
{
	__u64 *size = ctx;

	if (m->vdso)
		*size = m->end - m->start;
	return 0;
}

__u64 symbolizer__vdso_size(void)
{
	static __u64 size;	/* the same for every process of this kernel: read once */

	if (!size && symbolizer__for_each_exec_map(NULL, getpid(), vdso_size_cb, &size))
		size = 0;
	return size;
}

int symbolizer__open_mapping(const char *proc_root, __u32 tgid, __u64 start, __u64 end,
			     __u32 dev_major, __u32 dev_minor, __u64 inode, const char *path)
{
	struct strbuf buf = STRBUF_INIT;
	bool gone = false;
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
	if (root < 0 && (errno == ENOENT || errno == ESRCH)) {
		/*
		 * The process is gone (it ran for milliseconds): the file may still
		 * be at its path in our own mount namespace. Only the very file
		 * will do there: the same device and inode.
		 */
		gone = true;
		root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	if (root < 0) {
		fd = -errno;
		goto out;
	}
	fd = untrusted__open(root, path, UNTRUSTED_ANY_OWNER, &st);
	close(root);
	if (fd >= 0 && ((__u64)st.st_ino != inode ||
			(gone && (major(st.st_dev) != dev_major || minor(st.st_dev) != dev_minor)))) {
		close(fd);	/* not the file that was mapped */
		fd = -ESTALE;
	}
	if (fd < 0 && gone)
		fd = -ESRCH;
out:
	strbuf__release(&buf);
	return fd;
}
