// SPDX-License-Identifier: GPL-2.0
/*
 * The store's writing side: opening and migrating the schema, interning
 * frames, stacks and processes, adding sample counts, and keeping the file
 * bounded (retention and a size cap, oldest buckets first).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sqlite_internal.h"
#include "common/strbuf.h"
#include "common/strset.h"
#include "common/hashmap.h"
#include "common/log.h"

/*
 * Schema history. Each step takes the database from version i to i + 1 and
 * runs in the same transaction as the user_version update.
 * 1: runs, hosts, processes, mappings, functions, frames, stacks, samples.
 * 2: the agent's health row per run; processes indexed by run.
 * 3: packed (compacted) buckets.
 * 4: what packed buckets reference, per bucket and run.
 * 5: the agent's stack health per run: user stacks, complete, unnamed; and the
 *    sample outcomes agent_health lacks: idle, filtered, undrained.
 * 6: source lines of frames (file, line, the function's start line), for the
 *    exports; frames stored before have none.
 */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE hosts(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
	"CREATE TABLE runs(id INTEGER PRIMARY KEY, host_id INTEGER NOT NULL REFERENCES hosts(id),"
	" kind TEXT NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL DEFAULT 0,"
	" freq INTEGER NOT NULL, cmdline TEXT NOT NULL);"
	"CREATE TABLE run_labels(run_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
	" PRIMARY KEY(run_id, key)) WITHOUT ROWID;"
	"CREATE TABLE processes(id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, pid INTEGER NOT NULL,"
	" comm TEXT NOT NULL, exe_build_id TEXT NOT NULL DEFAULT '',"
	" start_time INTEGER NOT NULL DEFAULT 0, cgroup TEXT NOT NULL DEFAULT '',"
	" UNIQUE(run_id, pid, start_time, comm));"
	"CREATE TABLE mappings(id INTEGER PRIMARY KEY, kernel INTEGER NOT NULL,"
	" build_id TEXT NOT NULL, name TEXT NOT NULL, UNIQUE(kernel, build_id, name));"
	"CREATE TABLE functions(id INTEGER PRIMARY KEY, hash INTEGER NOT NULL, name TEXT NOT NULL);"
	"CREATE INDEX functions_by_hash ON functions(hash);"
	"CREATE TABLE frames(id INTEGER PRIMARY KEY, mapping_id INTEGER NOT NULL,"
	" addr INTEGER NOT NULL, depth INTEGER NOT NULL, flags INTEGER NOT NULL,"
	" function_id INTEGER NOT NULL, UNIQUE(mapping_id, addr, depth, function_id));"
	"CREATE TABLE stacks(id INTEGER PRIMARY KEY, hash INTEGER NOT NULL, frames BLOB NOT NULL);"
	"CREATE INDEX stacks_by_hash ON stacks(hash);"
	"CREATE TABLE samples(ts INTEGER NOT NULL, process_id INTEGER NOT NULL,"
	" stack_id INTEGER NOT NULL, count INTEGER NOT NULL,"
	" PRIMARY KEY(ts, process_id, stack_id)) WITHOUT ROWID;",
	/* 1 -> 2 */
	"CREATE TABLE agent_health(run_id INTEGER PRIMARY KEY, updated_ms INTEGER NOT NULL,"
	" pid INTEGER NOT NULL, samples INTEGER NOT NULL, recorded INTEGER NOT NULL,"
	" dropped INTEGER NOT NULL, collisions INTEGER NOT NULL, lost INTEGER NOT NULL,"
	" cpu_ms INTEGER NOT NULL, rss_kb INTEGER NOT NULL, db_bytes INTEGER NOT NULL,"
	" flushes INTEGER NOT NULL, flush_errors INTEGER NOT NULL);"
	"CREATE INDEX processes_by_run ON processes(run_id);",
	/* 2 -> 3 */
	"CREATE TABLE packed(ts INTEGER PRIMARY KEY, rows INTEGER NOT NULL,"
	" samples INTEGER NOT NULL, data BLOB NOT NULL);",
	/* 3 -> 4: what the packed buckets use, without unpacking them (store_index_packed()) */
	"CREATE TABLE packed_refs(kind INTEGER NOT NULL, id INTEGER NOT NULL,"
	" last_ts INTEGER NOT NULL, PRIMARY KEY(kind, id)) WITHOUT ROWID;"
	"CREATE INDEX packed_refs_by_ts ON packed_refs(last_ts);"
	"CREATE TABLE packed_runs(ts INTEGER NOT NULL, run_id INTEGER NOT NULL,"
	" samples INTEGER NOT NULL, PRIMARY KEY(ts, run_id)) WITHOUT ROWID;",
	/*
	 * 4 -> 5: a table of its own, so that readers of version 4 see it as a
	 * temp table: how whole the user stacks were, and the outcomes of the
	 * samples taken that agent_health leaves out, so that they add up
	 */
	"CREATE TABLE agent_stacks(run_id INTEGER PRIMARY KEY, user_stacks INTEGER NOT NULL,"
	" complete INTEGER NOT NULL, unnamed INTEGER NOT NULL, idle INTEGER NOT NULL,"
	" filtered INTEGER NOT NULL, undrained INTEGER NOT NULL);",
	/*
	 * 5 -> 6: tables of their own, as in 4 -> 5, so that readers of
	 * version 5 see them as empty temp tables; a frame's line is written
	 * with the frame, and a frame stored before keeps none
	 */
	"CREATE TABLE source_files(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
	"CREATE TABLE frame_lines(frame_id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL,"
	" line INTEGER NOT NULL, start_line INTEGER NOT NULL);",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == STORE_SCHEMA_VERSION,
	       "one migration per schema version");

static const char *const stmt_sql[STMT_MAX] = {
	[STMT_FRAME_GET] = "SELECT id FROM frames WHERE mapping_id = ?1 AND addr = ?2"
			   " AND depth = ?3 AND function_id = ?4",
	[STMT_FRAME_PUT] = "INSERT OR IGNORE INTO frames(mapping_id, addr, depth, flags,"
			   " function_id) VALUES (?1, ?2, ?3, ?5, ?4)",
	/* names are found by hash: an index on the names would store each twice */
	[STMT_FUNC_PUT] = "INSERT INTO functions(hash, name) VALUES (?1, ?2)",
	[STMT_FUNC_GET] = "SELECT id FROM functions WHERE hash = ?1 AND name = ?2",
	[STMT_MAP_PUT] = "INSERT OR IGNORE INTO mappings(kernel, build_id, name) VALUES (?1, ?2, ?3)",
	[STMT_MAP_GET] = "SELECT id FROM mappings WHERE kernel = ?1 AND build_id = ?2 AND name = ?3",
	[STMT_FILE_PUT] = "INSERT OR IGNORE INTO source_files(name) VALUES (?1)",
	[STMT_FILE_GET] = "SELECT id FROM source_files WHERE name = ?1",
	[STMT_LINE_PUT] = "INSERT OR IGNORE INTO frame_lines(frame_id, file_id, line, start_line)"
			  " VALUES (?1, ?2, ?3, ?4)",
	[STMT_STACK_GET] = "SELECT id, frames FROM stacks WHERE hash = ?1",
	[STMT_STACK_PUT] = "INSERT INTO stacks(hash, frames) VALUES (?1, ?2)",
	[STMT_PROC_PUT] = "INSERT OR IGNORE INTO processes(run_id, pid, comm, exe_build_id,"
			  " start_time, cgroup) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[STMT_PROC_GET] = "SELECT id FROM processes WHERE run_id = ?1 AND pid = ?2"
			  " AND start_time = ?3 AND comm = ?4",
	[STMT_SAMPLE_PUT] = "INSERT INTO samples(ts, process_id, stack_id, count)"
			    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT(ts, process_id, stack_id)"
			    " DO UPDATE SET count = count + excluded.count",
};

int store_err(struct sqlite_store *st, int rc, const char *what)
{
	int err;

	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		err = -EBUSY;
		break;
	case SQLITE_FULL:
		err = -ENOSPC;
		break;
	case SQLITE_NOMEM:
		err = -ENOMEM;
		break;
	case SQLITE_READONLY:
		err = -EROFS;
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		err = -EBADMSG;
		if (st)
			st->damaged = true;
		break;
	case SQLITE_CANTOPEN:
		err = st && st->db && sqlite3_system_errno(st->db) ?
			      -sqlite3_system_errno(st->db) : -ENOENT;
		break;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
		err = -EINVAL;
		break;
	default:
		err = -EIO;
		if (st && st->db && sqlite3_system_errno(st->db) == ENOSPC)
			err = -ENOSPC;
	}
	log_print(st && st->quiet ? LOG_DEBUG : LOG_WARN, "%s: '%s': %s", what,
		  st && st->path ? st->path : "?",
		  st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
	return err;
}

int store_exec(struct sqlite_store *st, const char *sql)
{
	return store_err(st, sqlite3_exec(st->db, sql, NULL, NULL, NULL), "database error");
}

sqlite3_stmt *store_stmt(struct sqlite_store *st, enum store_stmt which)
{
	sqlite3_stmt *s = st->stmts[which];

	if (!s) {
		if (store_err(st, sqlite3_prepare_v3(st->db, stmt_sql[which], -1,
						     SQLITE_PREPARE_PERSISTENT, &st->stmts[which],
						     NULL), "cannot prepare a statement"))
			return NULL;
		return st->stmts[which];
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

static void discard_store(struct sqlite_store *st);

/* ---- paths ---- */

static int make_parent_dirs(const char *path)
{
	char *copy = strdup(path), *p;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	for (p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0755) && errno != EEXIST) {
			err = -errno;
			pr_warn("cannot create directory '%s': %s", copy, strerror(-err));
			break;
		}
		*p = '/';
	}
	free(copy);
	return err;
}

/* ---- open and migrate ---- */

int query_int(struct sqlite_store *st, const char *sql, __s64 *out)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc)
		return store_err(st, rc, "cannot read the database");
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else
		*out = 0;
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
	sqlite3_finalize(s);
	return store_err(st, rc, "cannot read the database");
}

/* A schema version this profile can open: 0 (nothing yet) up to its own. */
static int check_version(struct sqlite_store *st, __s64 version)
{
	if (version < 0) {
		pr_warn("'%s' is damaged: schema version %lld is not one profile writes", st->path,
			(long long)version);
		return -EBADMSG;
	}
	if (version > STORE_SCHEMA_VERSION) {
		pr_warn("'%s' has schema version %lld, newer than this profile knows (%d): "
			"use a newer profile", st->path, (long long)version, STORE_SCHEMA_VERSION);
		return -EPROTO;
	}
	return 0;
}

int store_migrate(struct sqlite_store *st, int target)
{
	char sql[64];
	__s64 version;
	int err, v;

	if (target < 0 || target > STORE_SCHEMA_VERSION)
		return -EINVAL;
	err = query_int(st, "PRAGMA user_version", &version);
	err = err ?: check_version(st, version);
	if (err || version >= target)
		return err;
	err = sqlite__begin(st);
	if (err)
		return err;
	/* another process may have migrated while we waited for the lock: read it again */
	err = query_int(st, "PRAGMA user_version", &version);
	err = err ?: check_version(st, version);
	for (v = version; !err && v < target; v++) {
		pr_debug("migrating '%s' to schema version %d", st->path, v + 1);
		err = store_exec(st, migrations[v]);
		if (!err && v + 1 == 4)
			err = store_index_packed(st);
	}
	if (!err && version < target) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", target);
		err = store_exec(st, sql);
	}
	if (err) {
		sqlite__rollback(st);
		return err;
	}
	return sqlite__commit(st);
}

/* ---- trusting the file ---- */

/*
 * SQLite's log tells when a connection replays a write-ahead log that no open
 * connection was using (SQLITE_NOTICE_RECOVER_WAL): one left by a crash, or
 * one from another database put beside this one. Counted per thread, as the
 * replay happens in the thread that reads.
 */
static __thread unsigned int wal_recoveries;
static bool sqlite_log_installed;

static void sqlite_log(void *ctx, int code, const char *msg)
{
	(void)ctx;
	if (code == SQLITE_NOTICE_RECOVER_WAL)
		wal_recoveries++;
	else
		pr_debug("sqlite: %s (%d)", msg, code);
}

static void install_sqlite_log(void)
{
	/* only before SQLite initialises; if someone was first, every log is verified */
	sqlite_log_installed = sqlite3_config(SQLITE_CONFIG_LOG, sqlite_log, NULL) == SQLITE_OK;
}

/* Whether @path's -wal holds frames, and whether its -shm exists, and is writable to us. */
static void side_files(const char *path, bool *wal_frames, bool *shm, bool *shm_writable)
{
	struct strbuf name = STRBUF_INIT;
	struct stat sb;

	*wal_frames = true;	/* when in doubt, verify */
	*shm = *shm_writable = false;
	if (strbuf__addf(&name, "%s-wal", path))
		return;
	*wal_frames = !stat(name.buf, &sb) && sb.st_size > 32;	/* more than its header */
	name.buf[name.len - 3] = 's';
	name.buf[name.len - 2] = 'h';
	name.buf[name.len - 1] = 'm';
	*shm = !access(name.buf, F_OK);
	*shm_writable = !access(name.buf, W_OK);
	strbuf__release(&name);
}

static bool dir_writable(const char *path)
{
	const char *slash = strrchr(path, '/');
	struct strbuf dir = STRBUF_INIT;
	bool ret;

	if (!slash)
		return !access(".", W_OK);
	if (strbuf__add(&dir, path, slash == path ? 1 : slash - path))
		return true;
	ret = !access(dir.buf, W_OK);
	strbuf__release(&dir);
	return ret;
}

/*
 * A reader in a directory it cannot write: SQLite cannot create the -wal and
 * -shm files of a WAL database there. With no log to replay, the file alone
 * is the database: open it immutable (*@uri gets "file:PATH?immutable=1").
 * With a log but no -shm index, it cannot be read: say so.
 */
static int reader_side_files(const char *path, struct strbuf *uri, bool *verify)
{
	bool frames, shm, shm_writable;
	const char *p;
	int err = 0;

	side_files(path, &frames, &shm, &shm_writable);
	/* a read-only index is not rebuilt, so SQLite's log cannot tell a stale log: verify it */
	*verify = frames && shm && !shm_writable;
	if ((shm && shm_writable) || dir_writable(path))
		return 0;
	if (frames && !shm) {
		pr_warn("cannot read '%s': its write-ahead log needs a '-shm' index beside it, and"
			" its directory is read-only to this user", path);
		return -EACCES;
	}
	if (frames)
		return 0;
	err = strbuf__adds(uri, "file:");
	for (p = path; !err && *p; p++)
		err = strchr("?#%", *p) ? strbuf__addf(uri, "%%%02x", *p) : strbuf__addch(uri, *p);
	return err ?: strbuf__adds(uri, "?immutable=1");
}

/*
 * PRAGMA quick_check: every page belongs to exactly one B-tree and each tree
 * is well formed. Its cost is a read of the file, so it runs when a replayed
 * log may have mixed another database's pages into this one.
 */
static int verify_pages(struct sqlite_store *st)
{
	struct strbuf what = STRBUF_INIT;
	const char *res;
	sqlite3_stmt *s;
	int rc, err;

	err = store_err(st, sqlite3_prepare_v2(st->db, "PRAGMA quick_check(1)", -1, &s, NULL),
			"cannot check the database");
	if (err)
		return err;
	rc = sqlite3_step(s);
	res = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
	if (res && strcmp(res, "ok")) {
		/* one line: without the "*** in database main ***" heading and newlines */
		if (!strncmp(res, "*** in database main ***", 24))
			res += 24;
		strbuf__adds(&what, res + strspn(res, " \n"));
		for (char *c = what.buf; c && *c; c++)
			if (*c == '\n')
				*c = ' ';
		pr_warn("'%s' is damaged (checked after replaying its write-ahead log '%s-wal'): %s",
			st->path, st->path, what.buf ?: "");
		err = -EBADMSG;
	} else if (rc != SQLITE_ROW) {
		err = store_err(st, rc, "cannot check the database");
	}
	sqlite3_finalize(s);
	strbuf__release(&what);
	return err;
}

/* The first read: the header, and any write-ahead log replayed and verified. */
static int read_header(struct sqlite_store *st, bool verify, __s64 *schema_cookie)
{
	unsigned int before = wal_recoveries;
	bool frames, shm, shm_writable;
	int err;

	err = query_int(st, "PRAGMA schema_version", schema_cookie);
	if (err)
		return err;
	if (!sqlite_log_installed) {
		side_files(st->path, &frames, &shm, &shm_writable);
		verify = verify || frames;
	}
	if (verify || wal_recoveries != before)
		err = verify_pages(st);
	return err;
}

/* Tables each schema version has, and the version that added them. */
static const struct {
	const char *name;
	int since;
} schema_tables[] = {
	{ "hosts", 1 }, { "runs", 1 }, { "run_labels", 1 }, { "processes", 1 },
	{ "mappings", 1 }, { "functions", 1 }, { "frames", 1 }, { "stacks", 1 },
	{ "samples", 1 }, { "agent_health", 2 }, { "packed", 3 }, { "packed_refs", 4 },
	{ "packed_runs", 4 }, { "agent_stacks", 5 }, { "source_files", 6 }, { "frame_lines", 6 },
};

/* The schema version of a database that has the tables that version promises. */
static int check_schema(struct sqlite_store *st, __s64 *version)
{
	sqlite3_stmt *s;
	__s64 nr_tables;
	size_t i;
	int rc, err;

	err = query_int(st, "PRAGMA user_version", version);
	err = err ?: check_version(st, *version);
	err = err ?: query_int(st, "SELECT count(*) FROM main.sqlite_schema", &nr_tables);
	if (err)
		return err;
	if (!*version) {
		if (!nr_tables)
			return 0;
		pr_warn("'%s' is not a profile database (it has tables, but no schema version)",
			st->path);
		return -EBADMSG;
	}
	err = store_err(st, sqlite3_prepare_v2(st->db, "SELECT 1 FROM main.sqlite_schema"
					       " WHERE type = 'table' AND name = ?1", -1, &s, NULL),
			"cannot read the database");
	for (i = 0; !err && i < sizeof(schema_tables) / sizeof(schema_tables[0]); i++) {
		if (schema_tables[i].since > *version)
			continue;
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, schema_tables[i].name, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc == SQLITE_DONE) {
			pr_warn("'%s' is damaged: schema version %lld without table '%s'", st->path,
				(long long)*version, schema_tables[i].name);
			err = -EBADMSG;
		} else if (rc != SQLITE_ROW) {
			err = store_err(st, rc, "cannot read the database");
		}
	}
	sqlite3_finalize(s);
	return err;
}

/*
 * A reader of an older schema sees the tables later versions added as temp
 * tables (found before main's): empty, or for version 3 the index of its
 * packed buckets built as the migration would. The file is not touched.
 */
static int reader_compat(struct sqlite_store *st, __s64 version)
{
	struct strbuf sql = STRBUF_INIT;
	const char *p, *end;
	int v, err = 0;

	for (v = version; !err && v < STORE_SCHEMA_VERSION; v++) {
		/* the migration's own statements, as temp tables; indexes are not needed */
		for (p = migrations[v]; !err && *p; p = *end ? end + 1 : end) {
			end = strchrnul(p, ';');
			if (strncmp(p, "CREATE TABLE ", 13))
				continue;
			strbuf__setlen(&sql, 0);
			err = strbuf__addf(&sql, "CREATE TEMP TABLE %.*s", (int)(end - p - 13),
					   p + 13);
			err = err ?: store_exec(st, sql.buf);
		}
		if (!err && v + 1 == 4)
			err = store_index_packed(st);
	}
	strbuf__release(&sql);
	return err;
}

/* Open, read the header (verifying a replayed log) and check the schema; *@version gets it. */
static struct sqlite_store *open_checked(const char *path, const struct store_opts *opts,
				  __s64 *version)
{
	static pthread_once_t log_once = PTHREAD_ONCE_INIT;
	bool create = opts && opts->create, write = create || (opts && opts->write);
	int flags = SQLITE_OPEN_NOMUTEX;
	struct strbuf uri = STRBUF_INIT;
	bool verify = false;
	struct sqlite_store *st;
	__s64 cookie;
	int rc, err;

	pthread_once(&log_once, install_sqlite_log);
	st = calloc(1, sizeof(*st));
	if (!st || !(st->path = strdup(path))) {
		free(st);
		errno = ENOMEM;
		return NULL;
	}
	st->base.ops = &sqlite_ops;
	st->base.name = st->path;
	flags |= write ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
	if (create) {
		flags |= SQLITE_OPEN_CREATE;
		err = make_parent_dirs(path);
		if (err)
			goto err_free;
	} else if (access(path, F_OK)) {
		err = -errno;
		pr_warn("no database at '%s': %s", path, strerror(-err));
		goto err_free;
	}
	if (!write) {
		err = reader_side_files(path, &uri, &verify);
		if (err)
			goto err_free;
		if (uri.len)
			flags |= SQLITE_OPEN_URI;
	}
	rc = sqlite3_open_v2(uri.len ? uri.buf : path, &st->db, flags, NULL);
	if (rc) {
		err = store_err(st, rc, "cannot open the database");
		goto err_free;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, opts && opts->busy_timeout_ms ? opts->busy_timeout_ms : 2000);
	/* reading the header first turns "not a database" into one clear error */
	err = read_header(st, verify, &cookie);
	/* before a writer's pragmas change anything: another application's file stays as it is */
	err = err ?: check_schema(st, version);
	/*
	 * Incremental vacuum lets the size cap shrink the file. It only takes on
	 * a database without tables, before WAL mode writes the header.
	 */
	if (!err && write && !cookie)
		err = store_exec(st, "PRAGMA auto_vacuum = INCREMENTAL");
	if (!err && write)
		err = store_exec(st, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
				     " PRAGMA journal_size_limit = 4194304;"
				     " PRAGMA wal_autocheckpoint = 256; PRAGMA foreign_keys = OFF;"
				     " PRAGMA cache_size = -1024");
	if (!err && !write)
		err = store_exec(st, "PRAGMA cache_size = -1024");
	if (err)
		goto err_free;
	strbuf__release(&uri);
	return st;

err_free:
	strbuf__release(&uri);
	discard_store(st);
	errno = -err;
	return NULL;
}

struct sqlite_store *store_open_raw(const char *path, const struct store_opts *opts)
{
	__s64 version;

	return open_checked(path, opts, &version);
}

struct sqlite_store *sqlite__open(const char *path, const struct store_opts *opts)
{
	bool write = opts && (opts->write || opts->create);
	__s64 version;
	struct sqlite_store *st = open_checked(path, opts, &version);
	int err = 0;

	if (!st)
		return NULL;
	if (!write && !version) {
		pr_warn("'%s' is not a profile database (it is empty)", path);
		err = -EBADMSG;
	}
	if (!err)
		err = write ? store_migrate(st, STORE_SCHEMA_VERSION) : reader_compat(st, version);
	/* where readers unpack compacted buckets; private to this connection */
	err = err ?: store_exec(st, "CREATE TEMP TABLE unpacked(ts INTEGER, process_id INTEGER,"
				    " stack_id INTEGER, count INTEGER)");
	if (err) {
		discard_store(st);
		errno = -err;
		return NULL;
	}
	/* failing to open is always reported; later failures as the caller wants */
	st->quiet = opts && opts->quiet;
	return st;
}

/*
 * Close a store that failed to open, without the checkpoint SQLite runs when
 * the last connection closes: a log that failed its check, or belongs to a
 * newer profile, stays out of the file.
 */
static void discard_store(struct sqlite_store *st)
{
	if (st)
		st->damaged = true;
	sqlite__free(st);
}

void sqlite__free(struct sqlite_store *st)
{
	int i;

	if (!st)
		return;
	/* a damaged database is left as it was found: its log is not copied into it */
	if (st->damaged && st->db)
		sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	if (st->in_tx)
		sqlite__rollback(st);
	for (i = 0; i < STMT_MAX; i++)
		sqlite3_finalize(st->stmts[i]);
	sqlite3_close(st->db);
	hashmap__release(&st->frame_ids);
	hashmap__release(&st->stack_ids);
	hashmap__release(&st->proc_ids);
	hashmap__release(&st->map_ids);
	hashmap__release(&st->func_ids);
	hashmap__release(&st->file_ids);
	free(st->path);
	free(st);
}

int sqlite__schema_version(struct sqlite_store *st)
{
	__s64 v;

	return query_int(st, "PRAGMA user_version", &v) ?: (int)v;
}

/* ---- transactions ---- */

int sqlite__begin(struct sqlite_store *st)
{
	int err = store_err(st, sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
			    "cannot start writing");

	if (!err)
		st->in_tx = true;
	return err;
}

int sqlite__commit(struct sqlite_store *st)
{
	int rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL), err;

	err = store_err(st, rc, "cannot commit");
	if (err) {
		sqlite__rollback(st);
		return err;
	}
	st->in_tx = false;
	return 0;
}

void sqlite__rollback(struct sqlite_store *st)
{
	int i;

	/* after a failed step SQLite may already have rolled back: ignore that error */
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	for (i = 0; i < STMT_MAX; i++)
		if (st->stmts[i])
			sqlite3_reset(st->stmts[i]);
	st->in_tx = false;
	st->epoch++;
}

__u64 sqlite__epoch(const struct sqlite_store *st)
{
	return st->epoch;
}

/* ---- interning ---- */

/* Run an INSERT, then a SELECT returning the id; both with @bind applied. */
/*
 * Statements are reset right after use: one left active keeps a read
 * transaction open on an old snapshot, and the next BEGIN IMMEDIATE then
 * fails with SQLITE_BUSY_SNAPSHOT once any other connection has written.
 */
static int step_done(struct sqlite_store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_err(st, rc, what);
}

static int step_id(struct sqlite_store *st, sqlite3_stmt *s, const char *what, __s64 *id)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
		return 0;
	}
	sqlite3_reset(s);
	if (rc == SQLITE_DONE) {
		pr_warn("%s: '%s': row not found after insert", what, st->path);
		return -EIO;
	}
	return store_err(st, rc, what);
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	sqlite3_bind_text(s, i, v ? v : "", -1, SQLITE_STATIC);
}

/*
 * The row id cached under @key in @map, for this epoch. Mappings, functions
 * and source files are never deleted: an id stays good until a rollback.
 */
static bool cached_id(struct sqlite_store *st, struct hashmap *map, uint64_t key, __s64 *id)
{
	uint64_t v;

	sqlite__drop_stale_caches(st);
	if (!hashmap__get(map, key, &v))
		return false;
	*id = (__s64)v;
	return true;
}

static int mapping_id(struct sqlite_store *st, const struct store_frame *f, __s64 *id)
{
	const char *bid = f->build_id ? f->build_id : "";
	const char *name = f->module ? f->module : "";
	uint64_t key = hash_u64(str_hash(bid, strlen(bid)) + (f->kernel ? 1 : 0)) ^
		       str_hash(name, strlen(name));
	sqlite3_stmt *s;
	int err;

	if (cached_id(st, &st->map_ids, key, id))
		return 0;
	if (!(s = store_stmt(st, STMT_MAP_PUT)))
		return -EIO;
	sqlite3_bind_int(s, 1, f->kernel);
	bind_text(s, 2, bid);
	bind_text(s, 3, name);
	err = step_done(st, s, "cannot store a mapping");
	if (err || !(s = store_stmt(st, STMT_MAP_GET)))
		return err ?: -EIO;
	sqlite3_bind_int(s, 1, f->kernel);
	bind_text(s, 2, bid);
	bind_text(s, 3, name);
	err = step_id(st, s, "cannot store a mapping", id);
	if (!err && hashmap__set(&st->map_ids, key, (uint64_t)*id))
		hashmap__release(&st->map_ids);	/* no memory: no cache */
	return err;
}

static int function_id(struct sqlite_store *st, const char *name, __s64 *id)
{
	sqlite3_stmt *s;
	int err;

	__s64 hash = (__s64)str_hash(name, strlen(name));
	int rc;

	if (cached_id(st, &st->func_ids, (uint64_t)hash, id))
		return 0;
	if (!(s = store_stmt(st, STMT_FUNC_GET)))
		return -EIO;
	sqlite3_bind_int64(s, 1, hash);
	bind_text(s, 2, name);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_err(st, rc, "cannot read a function");
	if (rc == SQLITE_DONE) {
		if (!(s = store_stmt(st, STMT_FUNC_PUT)))
			return -EIO;
		sqlite3_bind_int64(s, 1, hash);
		bind_text(s, 2, name);
		err = step_done(st, s, "cannot store a function");
		if (err)
			return err;
		*id = sqlite3_last_insert_rowid(st->db);
	}
	if (hashmap__set(&st->func_ids, (uint64_t)hash, (uint64_t)*id))
		hashmap__release(&st->func_ids);
	return 0;
}

static int file_id(struct sqlite_store *st, const char *name, __s64 *id)
{
	uint64_t key = str_hash(name, strlen(name));
	sqlite3_stmt *s;
	int err;

	if (cached_id(st, &st->file_ids, key, id))
		return 0;
	if (!(s = store_stmt(st, STMT_FILE_PUT)))
		return -EIO;
	bind_text(s, 1, name);
	err = step_done(st, s, "cannot store a source file");
	if (err || !(s = store_stmt(st, STMT_FILE_GET)))
		return err ?: -EIO;
	bind_text(s, 1, name);
	err = step_id(st, s, "cannot store a source file", id);
	if (!err && hashmap__set(&st->file_ids, key, (uint64_t)*id))
		hashmap__release(&st->file_ids);
	return err;
}

/* The source line of frame @frame_id, when @f knows one and the frame has none yet. */
static int frame_line(struct sqlite_store *st, const struct store_frame *f, __s64 frame_id)
{
	__s64 file = 0;
	sqlite3_stmt *s;
	int err = 0;

	if ((!f->file || !f->file[0]) && !f->line && !f->start_line)
		return 0;
	if (f->file && f->file[0])
		err = file_id(st, f->file, &file);
	if (err || !(s = store_stmt(st, STMT_LINE_PUT)))
		return err ?: -EIO;
	sqlite3_bind_int64(s, 1, frame_id);
	sqlite3_bind_int64(s, 2, file);
	sqlite3_bind_int(s, 3, f->line);
	sqlite3_bind_int(s, 4, f->start_line);
	return step_done(st, s, "cannot store a frame's line");
}

int sqlite__frame_id(struct sqlite_store *st, const struct store_frame *f, __s64 *id)
{
	__s64 map, func = 0;
	sqlite3_stmt *s;
	int err;

	err = mapping_id(st, f, &map);
	if (!err && f->name)
		err = function_id(st, f->name, &func);
	if (err || !(s = store_stmt(st, STMT_FRAME_PUT)))
		return err ?: -EIO;
	sqlite3_bind_int64(s, 1, map);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)f->addr);
	sqlite3_bind_int(s, 3, f->depth);
	sqlite3_bind_int64(s, 4, func);
	sqlite3_bind_int(s, 5, (f->inlined ? STORE_FRAME_INLINED : 0) |
			       (f->jit ? STORE_FRAME_JIT : 0) |
			       (f->python ? STORE_FRAME_PYTHON : 0));
	err = step_done(st, s, "cannot store a frame");
	if (err)
		return err;
	if (sqlite3_changes(st->db) == 1) {
		/* a new row (most are: the batch writer caches the frames it met) */
		*id = sqlite3_last_insert_rowid(st->db);
	} else {
		if (!(s = store_stmt(st, STMT_FRAME_GET)))
			return -EIO;
		sqlite3_bind_int64(s, 1, map);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)f->addr);
		sqlite3_bind_int(s, 3, f->depth);
		sqlite3_bind_int64(s, 4, func);
		err = step_id(st, s, "cannot store a frame", id);
	}
	return err ?: frame_line(st, f, *id);
}

int sqlite__stack_id(struct sqlite_store *st, const __s64 *frames, int nr, __s64 *id)
{
	unsigned char *blob;
	size_t len = 0;
	__s64 hash;
	sqlite3_stmt *s;
	int i, rc, err = 0;

	blob = malloc((size_t)nr * 10 + 1);
	if (!blob)
		return -ENOMEM;
	for (i = 0; i < nr; i++)
		len += varint_put(blob + len, (__u64)frames[i]);
	hash = (__s64)str_hash((const char *)blob, len);
	s = store_stmt(st, STMT_STACK_GET);
	if (!s) {
		err = -EIO;
		goto out;
	}
	sqlite3_bind_int64(s, 1, hash);
	/* equal hashes are compared byte for byte: a collision gets its own row */
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((size_t)sqlite3_column_bytes(s, 1) == len &&
		    (!len || !memcmp(sqlite3_column_blob(s, 1), blob, len))) {
			*id = sqlite3_column_int64(s, 0);
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		err = store_err(st, rc, "cannot read a stack");
		goto out;
	}
	sqlite3_reset(s);
	s = store_stmt(st, STMT_STACK_PUT);
	if (!s) {
		err = -EIO;
		goto out;
	}
	sqlite3_bind_int64(s, 1, hash);
	sqlite3_bind_blob(s, 2, blob, len, SQLITE_STATIC);
	err = step_done(st, s, "cannot store a stack");
	if (!err)
		*id = sqlite3_last_insert_rowid(st->db);
out:
	if (s)
		sqlite3_reset(s);
	free(blob);
	return err;
}

int sqlite__process_id(struct sqlite_store *st, __s64 run_id, const struct store_process *p, __s64 *id)
{
	sqlite3_stmt *s;
	int err;

	if (!(s = store_stmt(st, STMT_PROC_PUT)))
		return -EIO;
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_int64(s, 2, p->pid);
	bind_text(s, 3, p->comm);
	bind_text(s, 4, p->exe_build_id);
	sqlite3_bind_int64(s, 5, p->start_time);
	bind_text(s, 6, p->cgroup);
	err = step_done(st, s, "cannot store a process");
	if (err || !(s = store_stmt(st, STMT_PROC_GET)))
		return err ?: -EIO;
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_int64(s, 2, p->pid);
	sqlite3_bind_int64(s, 3, p->start_time);
	bind_text(s, 4, p->comm);
	return step_id(st, s, "cannot store a process", id);
}

int sqlite__add_samples(struct sqlite_store *st, __s64 ts, __s64 process_id, __s64 stack_id,
		       __u64 count)
{
	sqlite3_stmt *s = store_stmt(st, STMT_SAMPLE_PUT);

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, ts);
	sqlite3_bind_int64(s, 2, process_id);
	sqlite3_bind_int64(s, 3, stack_id);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)count);
	return step_done(st, s, "cannot store samples");
}

/* ---- runs and health ---- */

static int host_id(struct sqlite_store *st, const char *host, __s64 *id)
{
	sqlite3_stmt *s;
	int err;

	err = store_err(st, sqlite3_prepare_v2(st->db,
		"INSERT INTO hosts(name) VALUES (?1) ON CONFLICT(name) DO UPDATE SET name = name"
		" RETURNING id", -1, &s, NULL), "cannot store the host");
	if (err)
		return err;
	bind_text(s, 1, host);
	err = step_id(st, s, "cannot store the host", id);
	sqlite3_finalize(s);
	return err;
}

static int add_label(struct sqlite_store *st, __s64 run_id, const char *label)
{
	const char *eq = strchr(label, '=');
	sqlite3_stmt *s;
	int err;

	if (!eq || eq == label) {
		pr_warn("invalid label '%s': use key=value", label);
		return -EINVAL;
	}
	err = store_err(st, sqlite3_prepare_v2(st->db,
		"INSERT OR REPLACE INTO run_labels(run_id, key, value) VALUES (?1, ?2, ?3)",
		-1, &s, NULL), "cannot store a label");
	if (err)
		return err;
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_text(s, 2, label, eq - label, SQLITE_STATIC);
	bind_text(s, 3, eq + 1);
	err = step_done(st, s, "cannot store a label");
	sqlite3_finalize(s);
	return err;
}

int sqlite__add_run(struct sqlite_store *st, const struct store_run *run, __s64 *run_id)
{
	sqlite3_stmt *s = NULL;
	__s64 host;
	int i, err;

	err = sqlite__begin(st);
	if (err)
		return err;
	err = host_id(st, run->host, &host);
	if (!err)
		err = store_err(st, sqlite3_prepare_v2(st->db,
			"INSERT INTO runs(host_id, kind, start_ms, freq, cmdline)"
			" VALUES (?1, ?2, ?3, ?4, ?5)", -1, &s, NULL), "cannot store the run");
	if (!err) {
		sqlite3_bind_int64(s, 1, host);
		bind_text(s, 2, run->kind);
		sqlite3_bind_int64(s, 3, run->start_ms);
		sqlite3_bind_int64(s, 4, run->freq);
		bind_text(s, 5, run->cmdline);
		err = step_done(st, s, "cannot store the run");
		*run_id = sqlite3_last_insert_rowid(st->db);
	}
	sqlite3_finalize(s);
	for (i = 0; !err && i < run->nr_labels; i++)
		err = add_label(st, *run_id, run->labels[i]);
	if (err) {
		sqlite__rollback(st);
		return err;
	}
	return sqlite__commit(st);
}

int sqlite__end_run(struct sqlite_store *st, __s64 run_id, __s64 end_ms)
{
	sqlite3_stmt *s;
	int err;

	err = store_err(st, sqlite3_prepare_v2(st->db,
		"UPDATE runs SET end_ms = ?2 WHERE id = ?1", -1, &s, NULL), "cannot end the run");
	if (err)
		return err;
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_int64(s, 2, end_ms);
	err = step_done(st, s, "cannot end the run");
	sqlite3_finalize(s);
	return err;
}

int sqlite__put_health(struct sqlite_store *st, __s64 run_id, const struct store_health *h)
{
	const __u64 vals[] = {
		h->samples, h->recorded, h->dropped, h->collisions, h->lost, h->cpu_ms,
		h->rss_kb, h->db_bytes, h->flushes, h->flush_errors,
	};
	sqlite3_stmt *s;
	size_t i;
	int err;

	err = store_err(st, sqlite3_prepare_v2(st->db,
		"INSERT OR REPLACE INTO agent_health(run_id, updated_ms, pid, samples, recorded,"
		" dropped, collisions, lost, cpu_ms, rss_kb, db_bytes, flushes, flush_errors)"
		" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &s, NULL),
		"cannot store the agent's health");
	if (err)
		return err;
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_int64(s, 2, h->updated_ms);
	sqlite3_bind_int64(s, 3, h->pid);
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		sqlite3_bind_int64(s, 4 + i, (sqlite3_int64)vals[i]);
	err = step_done(st, s, "cannot store the agent's health");
	sqlite3_finalize(s);
	if (err)
		return err;
	err = store_err(st, sqlite3_prepare_v2(st->db,
		"INSERT OR REPLACE INTO agent_stacks(run_id, user_stacks, complete, unnamed, idle,"
		" filtered, undrained) VALUES (?, ?, ?, ?, ?, ?, ?)", -1, &s, NULL),
		"cannot store the agent's health");
	if (err)
		return err;
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)h->user_stacks);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)h->complete);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)h->unnamed);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)h->idle);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)h->filtered);
	sqlite3_bind_int64(s, 7, (sqlite3_int64)h->undrained);
	err = step_done(st, s, "cannot store the agent's health");
	sqlite3_finalize(s);
	return err;
}

/* ---- retention and size ---- */

/*
 * Remove what no sample references any more: processes, stacks, and runs that
 * ended before @before (unix seconds) without processes left. Frames,
 * functions and mappings stay (bounded by the code that ran, and cheap).
 * Starts a new epoch: cached ids may be gone.
 */
static int collect_garbage(struct sqlite_store *st, __s64 before)
{
	sqlite3_stmt *s;
	int err;

	/* packed buckets use processes and stacks too: those packed_refs still lists */
	err = store_exec(st,
		"DELETE FROM processes WHERE id NOT IN (SELECT process_id FROM samples)"
		" AND id NOT IN (SELECT id FROM packed_refs WHERE kind = 0);"
		"DELETE FROM stacks WHERE id NOT IN (SELECT stack_id FROM samples)"
		" AND id NOT IN (SELECT id FROM packed_refs WHERE kind = 1);");
	if (!err)
		err = store_err(st, sqlite3_prepare_v2(st->db,
			"DELETE FROM runs WHERE end_ms != 0 AND end_ms < ?1 * 1000 AND NOT EXISTS"
			" (SELECT 1 FROM processes WHERE processes.run_id = runs.id)", -1, &s, NULL),
			"cannot expire runs");
	if (!err) {
		sqlite3_bind_int64(s, 1, before);
		err = step_done(st, s, "cannot expire runs");
		sqlite3_finalize(s);
	}
	if (!err)
		err = store_exec(st, "DELETE FROM run_labels WHERE run_id NOT IN (SELECT id FROM runs);"
		"DELETE FROM agent_health WHERE run_id NOT IN (SELECT id FROM runs);"
		"DELETE FROM agent_stacks WHERE run_id NOT IN (SELECT id FROM runs);");
	st->epoch++;
	return err;
}

/* Delete the sample rows, packed or not, of buckets before @before; count the rows. */
static int delete_before(struct sqlite_store *st, __s64 before, __u64 *deleted)
{
	static const char *const sql[] = {
		"SELECT coalesce(sum(rows), 0) FROM packed WHERE ts < ?1",
		"DELETE FROM packed WHERE ts < ?1",
		"DELETE FROM packed_runs WHERE ts < ?1",
		/*
		 * Buckets go oldest first: whatever a packed bucket before
		 * @before used last is used by none left.
		 */
		"DELETE FROM packed_refs WHERE last_ts < ?1",
		"DELETE FROM samples WHERE ts < ?1",
	};
	sqlite3_stmt *s;
	size_t i;
	int err = 0;

	for (i = 0; !err && i < sizeof(sql) / sizeof(sql[0]); i++) {
		err = store_err(st, sqlite3_prepare_v2(st->db, sql[i], -1, &s, NULL),
				"cannot expire samples");
		if (err)
			break;
		sqlite3_bind_int64(s, 1, before);
		if (i == 0 && sqlite3_step(s) == SQLITE_ROW && deleted)
			*deleted += sqlite3_column_int64(s, 0);
		err = i == 0 ? 0 : step_done(st, s, "cannot expire samples");
		if (!err && i == 4 && deleted)
			*deleted += sqlite3_changes(st->db);
		sqlite3_finalize(s);
	}
	return err;
}

int sqlite__expire(struct sqlite_store *st, __s64 before, __u64 *deleted)
{
	__u64 n = 0;
	int err;

	err = sqlite__begin(st);
	if (err)
		return err;
	err = delete_before(st, before, &n);
	if (!err && n)
		err = collect_garbage(st, before);
	if (err) {
		sqlite__rollback(st);
		return err;
	}
	err = sqlite__commit(st);
	if (!err && n)
		err = store_exec(st, "PRAGMA incremental_vacuum");
	if (deleted)
		*deleted = err ? 0 : n;
	return err;
}

int sqlite__used_bytes(struct sqlite_store *st, __u64 *bytes)
{
	__s64 pages, free_pages, page_size;
	int err;

	err = query_int(st, "PRAGMA page_count", &pages);
	if (!err)
		err = query_int(st, "PRAGMA freelist_count", &free_pages);
	if (!err)
		err = query_int(st, "PRAGMA page_size", &page_size);
	if (!err)
		*bytes = (__u64)(pages - free_pages) * page_size;
	return err;
}

int sqlite__file_bytes(struct sqlite_store *st, __u64 *bytes)
{
	struct strbuf wal = STRBUF_INIT;
	struct stat sb;
	int err;

	if (stat(st->path, &sb)) {
		err = -errno;
		pr_warn("cannot stat '%s': %s", st->path, strerror(-err));
		return err;
	}
	*bytes = sb.st_size;
	if (strbuf__addf(&wal, "%s-wal", st->path))
		return -ENOMEM;
	if (!stat(wal.buf, &sb))
		*bytes += sb.st_size;
	strbuf__release(&wal);
	return 0;
}

/* The bucket time below which about @frac of the buckets lie (at least one bucket). */
static int oldest_buckets_cut(struct sqlite_store *st, double frac, __s64 *cut)
{
	sqlite3_stmt *s;
	__s64 nr;
	int err, rc;

	err = query_int(st, "SELECT count(*) FROM (SELECT ts FROM samples UNION SELECT ts FROM packed)",
			&nr);
	if (err || !nr)
		return err ?: -ENOENT;
	err = store_err(st, sqlite3_prepare_v2(st->db,
		"SELECT ts FROM samples UNION SELECT ts FROM packed ORDER BY ts LIMIT 1 OFFSET ?1",
		-1, &s, NULL),
		"cannot find the oldest samples");
	if (err)
		return err;
	nr = (__s64)(nr * frac);
	sqlite3_bind_int64(s, 1, nr);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*cut = sqlite3_column_int64(s, 0) + 1;
	else if (rc == SQLITE_DONE)
		*cut = LLONG_MAX;
	else
		err = store_err(st, rc, "cannot find the oldest samples");
	sqlite3_finalize(s);
	return err;
}

int sqlite__enforce_size(struct sqlite_store *st, __u64 max_bytes, __u64 *deleted)
{
	__u64 used, n = 0;
	__s64 cut = 0;
	int round, err;

	for (round = 0; round < 64; round++) {
		err = sqlite__used_bytes(st, &used);
		if (err || used <= max_bytes)
			break;
		err = oldest_buckets_cut(st, 1.0 - (double)max_bytes / used, &cut);
		if (err == -ENOENT) {
			pr_warn("'%s' uses %llu bytes without any samples, over the cap of %llu",
				st->path, (unsigned long long)used, (unsigned long long)max_bytes);
			err = -EFBIG;
			break;
		}
		if (!err)
			err = sqlite__expire(st, cut, &n);
		if (err)
			break;
		if (deleted)
			*deleted += n;
	}
	return err;
}
