/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Damaged copies of a profile database, shared by tests/test_store.c (the
 * store API on them) and tests/test_e2e_store.c (the real commands on them):
 * a small database written through the store API, a table of ways to damage
 * a copy of it (negative schema version by PRAGMA and by a flipped header
 * byte, a newer version, an empty file, text, another application's
 * database, a missing table, a write-ahead log from another database, a
 * packed bucket replaced by a zstd frame that declares 1 GiB, with a small or
 * a billion-row rows column, a B-tree page overwritten), and a record of
 * the files' bytes to check that nothing was written. Include after cmocka.h.
 */
#ifndef __PROFILER_TESTS_STORE_DAMAGE_H
#define __PROFILER_TESTS_STORE_DAMAGE_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>
#include <zstd.h>

#include "store/store.h"

/* @path with @suffix, in @buf of 4096 bytes */
static inline char *damage_side(char *buf, const char *path, const char *suffix)
{
	if (snprintf(buf, 4096, "%s%s", path, suffix) >= 4096)
		fail_msg("'%s%s': path too long", path, suffix);
	return buf;
}

static inline void damage_unlink_all(const char *path)
{
	char buf[4096];

	unlink(path);
	unlink(damage_side(buf, path, "-wal"));
	unlink(damage_side(buf, path, "-shm"));
}

/*
 * A database at @path holding one run, one process, a two-frame stack and 3
 * samples in each of 20 buckets from 1000, the ten oldest packed. Closed
 * cleanly: no -wal file is left.
 */
static inline void damage_good_database(const char *path)
{
	const struct store_opts o = { .create = true };
	struct store_run run = { .kind = "record", .host = "h", .cmdline = "profile", .freq = 99 };
	struct store_process p = { .pid = 7, .comm = "app" };
	const struct store_frame f[2] = {
		{ .module = "app", .build_id = "ab", .name = "main" },
		{ .module = "app", .build_id = "ab", .name = "work", .addr = 0x40 },
	};
	const __u32 refs[2] = { 0, 1 };
	const struct store_stack stack = { refs, 2 };
	struct store_count counts[20];
	struct store_batch b = {
		.frames = f, .nr_frames = 2, .stacks = &stack, .nr_stacks = 1, .processes = &p,
		.nr_processes = 1, .counts = counts, .nr_counts = 20,
	};
	struct store *st;
	char buf[4096];
	__u64 n;
	int i;

	damage_unlink_all(path);
	st = store__open(path, &o);
	assert_non_null(st);
	assert_int_equal(store__add_run(st, &run, &b.run_id), 0);
	for (i = 0; i < 20; i++)
		counts[i] = (struct store_count){ .ts = 1000 + 10 * i, .count = 3 };
	assert_int_equal(store__write_batch(st, &b), 0);
	assert_int_equal(store__compact(st, 1100, 0, &n), 0);
	assert_int_equal(n, 10);
	store__free(st);
	assert_int_equal(access(damage_side(buf, path, "-wal"), F_OK), -1);
}

static inline void damage_sql(const char *path, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("'%s': %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static inline void damage_negative_pragma(const char *path)
{
	damage_sql(path, "PRAGMA user_version = -3");
}

/* The header's user_version (big-endian, offset 60) gets its top bit set: negative. */
static inline void damage_flip_header_byte(const char *path)
{
	unsigned char b = 0x80;
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, &b, 1, 60), 1);
	close(fd);
}

static inline void damage_newer(const char *path)
{
	damage_sql(path, "PRAGMA user_version = 99");
}

static inline void damage_empty(const char *path)
{
	assert_int_equal(truncate(path, 0), 0);
}

static inline void damage_text(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs("this is not an SQLite database, just text that is long enough to have a header\n"
	      "and a second line, so the file is not empty\n", f);
	fclose(f);
}

static inline void damage_other_application(const char *path)
{
	damage_unlink_all(path);
	damage_sql(path, "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);"
		   "INSERT INTO notes(body) VALUES ('a note');");
}

static inline void damage_missing_table(const char *path)
{
	damage_sql(path, "DROP TABLE packed_runs");
}

static inline void damage_copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, n), n);
	assert_int_equal(n, 0);
	close(in);
	close(out);
}

/*
 * The write-ahead log of another profile database, copied while its writer
 * still had it open (so it holds committed frames), put beside @path. Its
 * pages do not fit this file's: PRAGMA quick_check finds pages used twice or
 * never, or trees that point nowhere.
 */
static inline void damage_foreign_wal(const char *path)
{
	char other[4096], from[4096], to[4096], sql[256];
	sqlite3 *db;
	int i;

	damage_side(other, path, ".other");
	damage_good_database(other);
	assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
	/*
	 * Another database has pages of its own: one laid out exactly like this
	 * one would make a log that fits it (and is then just that database).
	 */
	assert_int_equal(sqlite3_exec(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT"
				      " i + 1 FROM n WHERE i < 100) INSERT INTO functions(hash, name)"
				      " SELECT i, hex(randomblob(200)) FROM n;"
				      "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA wal_autocheckpoint = 0;"
				      "INSERT INTO hosts(name) VALUES ('another host')",
				      NULL, NULL, NULL), SQLITE_OK);
	for (i = 0; i < 40; i++) {
		snprintf(sql, sizeof(sql), "INSERT INTO stacks(hash, frames) VALUES (%d,"
			 " randomblob(400))", i);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	}
	damage_copy_file(damage_side(from, other, "-wal"), damage_side(to, path, "-wal"));
	sqlite3_close(db);
	damage_unlink_all(other);
}

/*
 * A packed blob in the store's format (format byte 1, the length as a varint,
 * then a zstd frame) whose frame declares @declared bytes of zeros and holds
 * at most 32 KB of them: a frame of a few bytes can declare 1 GiB.
 */
static inline void *damage_zstd_blob(unsigned long long declared, size_t *len)
{
	size_t cap = 1 << 16, n, rem;
	unsigned char *blob = calloc(1, cap + 16), zeros[32768] = { 0 };
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	/* all of it when that is small: a whole frame; else the start of one */
	bool whole = declared <= sizeof(zeros);
	ZSTD_inBuffer in = { zeros, whole ? declared : sizeof(zeros), 0 };
	ZSTD_outBuffer out;
	unsigned long long v = declared;

	assert_non_null(blob);
	assert_non_null(cctx);
	n = 0;
	blob[n++] = 1;
	do {
		blob[n++] = (v & 0x7f) | (v > 0x7f ? 0x80 : 0);
		v >>= 7;
	} while (v);
	out = (ZSTD_outBuffer){ blob + n, cap - n, 0 };
	assert_false(ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(cctx, declared)));
	rem = ZSTD_compressStream2(cctx, &out, &in, whole ? ZSTD_e_end : ZSTD_e_flush);
	assert_false(ZSTD_isError(rem));
	assert_int_equal(ZSTD_getFrameContentSize(blob + n, out.pos), declared);
	ZSTD_freeCCtx(cctx);
	*len = n + out.pos;
	return blob;
}

static inline void damage_blob(const char *path, const char *sql, const void *blob, size_t len)
{
	sqlite3_stmt *s;
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_bind_blob(s, 1, blob, len, SQLITE_STATIC), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	assert_int_equal(sqlite3_changes(db), 1);
	sqlite3_finalize(s);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* The oldest packed bucket's blob: a frame declaring 1 GiB; its rows column says 2. */
static inline void damage_zstd_bomb(const char *path)
{
	size_t len;
	void *blob = damage_zstd_blob(1ULL << 30, &len);

	damage_blob(path, "UPDATE packed SET data = ?1, rows = 2 WHERE ts = 1000", blob, len);
	free(blob);
}

/* The same frame, and a rows column as large as it: no bound from the row either. */
static inline void damage_zstd_bomb_rows(const char *path)
{
	size_t len;
	void *blob = damage_zstd_blob(1ULL << 30, &len);

	damage_blob(path, "UPDATE packed SET data = ?1, rows = 1000000000 WHERE ts = 1000", blob,
		    len);
	free(blob);
}

/* The samples table's root page overwritten: SQLite finds it when it reads or writes samples. */
static inline void damage_page(const char *path)
{
	static unsigned char junk[65536];
	sqlite3_stmt *s;
	sqlite3 *db;
	long root, size;
	int fd;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT rootpage, (SELECT page_size FROM"
					    " pragma_page_size) FROM sqlite_schema WHERE"
					    " name = 'samples'", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	root = sqlite3_column_int64(s, 0);
	size = sqlite3_column_int64(s, 1);
	sqlite3_finalize(s);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	assert_true(root > 1 && size > 0 && size <= (long)sizeof(junk));
	memset(junk, 0xa5, size);
	junk[0] = 0x0a;	/* an index leaf page, by its type byte, whose cells are nonsense */
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, junk, size, (root - 1) * size), size);
	close(fd);
}

struct damage_case {
	const char *name;
	void (*damage)(const char *path);
	int open_err;	/* what store__open() says, for readers and writers alike */
	bool query_err;	/* opens, but reading the samples fails with -EBADMSG */
	bool writer_ok;	/* a writer may open it (it makes an empty file a database) */
};

static const struct damage_case damage_cases[] = {
	{ "negative-version", damage_negative_pragma, -EBADMSG },
	{ "flipped-header-byte", damage_flip_header_byte, -EBADMSG },
	{ "newer-version", damage_newer, -EPROTO },
	{ "empty-file", damage_empty, -EBADMSG, .writer_ok = true },
	{ "text-file", damage_text, -EBADMSG },
	{ "other-application", damage_other_application, -EBADMSG },
	{ "missing-table", damage_missing_table, -EBADMSG },
	{ "foreign-wal", damage_foreign_wal, -EBADMSG },
	{ "zstd-bomb", damage_zstd_bomb, 0, .query_err = true, .writer_ok = true },
	{ "zstd-bomb-rows", damage_zstd_bomb_rows, 0, .query_err = true, .writer_ok = true },
	{ "damaged-page", damage_page, 0, .query_err = true, .writer_ok = true },
};

#define NR_DAMAGE_CASES (sizeof(damage_cases) / sizeof(damage_cases[0]))

/* ---- nothing written ---- */

struct damage_bytes {
	char *data[3];	/* the file, its -wal and its -shm; NULL when missing */
	size_t len[3];
};

static inline char *damage_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n;

	*len = 0;
	if (!f)
		return NULL;
	do {
		if (*len == cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = fread(buf + *len, 1, cap - *len, f);
		*len += n;
	} while (n);
	fclose(f);
	return buf ? buf : calloc(1, 1);
}

static inline void damage_remember(const char *path, struct damage_bytes *b)
{
	static const char *const sides[] = { "", "-wal", "-shm" };
	char buf[4096];
	int i;

	for (i = 0; i < 3; i++)
		b->data[i] = damage_read(damage_side(buf, path, sides[i]), &b->len[i]);
}

/*
 * The file and its -wal are as they were. A -shm is SQLite's index of the
 * log, rebuilt by whoever opens it first: it may appear or change (a reader
 * needs one to read a log), but the database's bytes may not.
 */
static inline void damage_assert_unchanged(const char *path, struct damage_bytes *b,
					   const char *what)
{
	static const char *const sides[] = { "", "-wal" };
	struct damage_bytes now;
	int i;

	damage_remember(path, &now);
	for (i = 0; i < 2; i++) {
		/* reading a WAL database without a log, SQLite may leave an empty one */
		if (i == 1 && !b->data[i] && now.data[i] && !now.len[i])
			continue;
		if (!b->data[i] != !now.data[i] || b->len[i] != now.len[i] ||
		    (b->data[i] && memcmp(b->data[i], now.data[i], b->len[i])))
			fail_msg("%s: '%s%s' changed (%zu bytes before, %zu after)", what, path,
				 sides[i], b->len[i], now.len[i]);
	}
	for (i = 0; i < 3; i++) {
		free(b->data[i]);
		free(now.data[i]);
	}
}

#endif /* __PROFILER_TESTS_STORE_DAMAGE_H */
