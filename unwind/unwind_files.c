// SPDX-License-Identifier: GPL-2.0
/*
 * The binaries with a table, by file identity (device, inode), mirrored into
 * the BPF unwind_files map. A sample whose pc lies outside the mappings known
 * for its process (one user space has not read yet: a compiler exec'd again
 * a moment ago) finds its binary's table there through the pc's VMA, so a
 * binary tabled for one process unwinds in every later one at once. An entry
 * goes when its table is evicted, before the table's id and rows are reused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "unwind_internal.h"
#include "common/hashmap.h"
#include "common/log.h"

struct file_entry {
	struct unwind_file_key key;
	struct unwind_file val;
};

struct unwind_files {
	int fd;				/* the BPF map, or -1 */
	struct hashmap index;		/* hash(dev, ino) -> entry index */
	struct file_entry *v;
	size_t nr, cap;
};

static uint64_t file_key(__u64 dev, __u64 ino)
{
	return hash_u64(hash_u64(dev) ^ ino);
}

struct unwind_files *unwind_files__new(int fd)
{
	struct unwind_files *f = calloc(1, sizeof(*f));

	if (f)
		f->fd = fd;
	return f;
}

void unwind_files__free(struct unwind_files *f)
{
	if (!f)
		return;
	hashmap__release(&f->index);
	free(f->v);
	free(f);
}

static struct file_entry *find(const struct unwind_files *f, __u64 dev, __u64 ino)
{
	uint64_t i;

	if (!hashmap__get(&f->index, file_key(dev, ino), &i))
		return NULL;
	if (f->v[i].key.dev != dev || f->v[i].key.ino != ino)
		return NULL;	/* two files under one 64-bit hash: the newer one wins */
	return &f->v[i];
}

const struct unwind_file *unwind_files__get(const struct unwind_files *f, __u64 dev, __u64 ino)
{
	const struct file_entry *e = find(f, dev, ino);

	return e ? &e->val : NULL;
}

int unwind_files__set(struct unwind_files *f, __u64 dev, __u64 ino, const struct unwind_file *val)
{
	struct file_entry *e = find(f, dev, ino);
	uint64_t key = file_key(dev, ino), i;

	if (e && !memcmp(&e->val, val, sizeof(*val)))
		return 0;	/* the common case: a scan of a process mapping it again */
	if (!e) {
		if (hashmap__get(&f->index, key, &i)) {
			/* a hash collision: the slot is taken over */
			e = &f->v[i];
			if (f->fd >= 0)
				bpf_map_delete_elem(f->fd, &e->key);
		} else {
			if (f->nr == f->cap) {
				size_t cap = f->cap ? 2 * f->cap : 64;
				struct file_entry *n = reallocarray(f->v, cap, sizeof(*n));

				if (!n)
					return -ENOMEM;
				f->v = n;
				f->cap = cap;
			}
			if (hashmap__set(&f->index, key, f->nr))
				return -ENOMEM;
			e = &f->v[f->nr++];
		}
		e->key.dev = dev;
		e->key.ino = ino;
	}
	e->val = *val;
	if (f->fd >= 0 && bpf_map_update_elem(f->fd, &e->key, &e->val, BPF_ANY)) {
		int err = -errno;

		pr_debug("cannot store the unwind table of file %llx:%llu: %s",
			 (unsigned long long)dev, (unsigned long long)ino, strerror(-err));
		e->val.nr_segs = 0;	/* tried again at the next scan */
		return err;
	}
	return 0;
}

/* Remove entry @i: the last one moves into its slot. */
static void remove_at(struct unwind_files *f, size_t i)
{
	struct file_entry *e = &f->v[i];

	if (f->fd >= 0)
		bpf_map_delete_elem(f->fd, &e->key);
	hashmap__delete(&f->index, file_key(e->key.dev, e->key.ino), NULL);
	if (i != --f->nr) {
		*e = f->v[f->nr];
		hashmap__set(&f->index, file_key(e->key.dev, e->key.ino), i);	/* replaces: no allocation */
	}
}

void unwind_files__drop(struct unwind_files *f, __u64 dev, __u64 ino)
{
	const struct file_entry *e = find(f, dev, ino);

	if (e)
		remove_at(f, e - f->v);
}

void unwind_files__drop_table(struct unwind_files *f, __u32 table)
{
	size_t i = 0;

	while (i < f->nr) {
		if (f->v[i].val.table == table)
			remove_at(f, i);
		else
			i++;
	}
}

size_t unwind_files__count(const struct unwind_files *f)
{
	return f->nr;
}
