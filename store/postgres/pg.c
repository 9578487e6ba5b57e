// SPDX-License-Identifier: GPL-2.0
/*
 * The PostgreSQL backend: the fleet's central store. Frames, stacks and
 * processes are identified by content hashes computed on the host
 * (store_backend.h), so a batch needs no ids from the server: it is sent as a
 * handful of prepared multi-row statements (arrays unnested on the server) in
 * one pipeline, one implicit transaction, one round trip. Sample counts live
 * in a table partitioned by day, one row per (run, bucket) holding the
 * bucket's processes, stack hashes and counts packed in one bytea (below);
 * retention drops whole partitions. A shipped bucket is written once: its
 * (run, bucket) row is unique, and a bucket already there is not written
 * again.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <endian.h>
#include <libpq-fe.h>

#include "store/store_backend.h"
#include "common/hashmap.h"
#include "common/strbuf.h"
#include "common/strset.h"
#include "common/array.h"
#include "common/log.h"

#define PG_SCHEMA_VERSION 5
#define DAY_SECS 86400

/*
 * Schema history; each step runs in one transaction with the version update.
 * 1: hosts, runs, processes, frames, stacks (content-addressed), samples
 *    partitioned by day, shipped buckets, agent health.
 * 2: frames' source lines (file, line, the function's start line), for the
 *    exports. The frame hash (v1) leaves them out: the binary, offset and
 *    depth it covers decide them, so frames written before keep their hash
 *    and stay without a line.
 * 3: rollups: each stack's count per (hour, run, process) and per (day, run,
 *    process), so a reader sums whole hours and days from them and only the
 *    edges of its range from the samples. A batch appends its counts to the
 *    hour rollup as a delta row in its own transaction; a later batch of the
 *    run merges an hour's deltas into one row and adds them to the day's, then
 *    merges the day's. A sum over the rows never changes by a merge, so the
 *    rollups always equal the samples. The existing samples are rolled up here,
 *    with inserts into them held until the migration commits.
 * 4: writers say which schema they write (profile.schema, set per session);
 *    an insert into the samples by a session that does not write the
 *    store's version is refused. A writer of an older profile still running
 *    when the schema moves on (an agent not yet upgraded) would otherwise go
 *    on writing as the old schema wants: without rollup deltas, say. Its
 *    batch fails instead and stays in its host's database; opened again, it
 *    is told the store is newer than it knows. A block range index on the
 *    samples' time (a few kB a day: rows arrive in time order) for ranges
 *    over all hosts, which the (run, time) index does not serve.
 * 5: one row of samples per (run, bucket) instead of one per (run, bucket,
 *    process): the bucket's entries packed in one bytea (see bucket_entries),
 *    9-10 bytes an entry and a row's overhead (tuple header, index entry)
 *    shared by all of a bucket's processes; its total count beside it. The
 *    row is unique per (run, bucket), which makes the shipped marks
 *    redundant: a shipped bucket already there is skipped. The samples are
 *    rewritten, day partition by day partition, in the migration.
 */
/*
 * A count as a varint (7 bits a byte, low first, the top bit on all but the
 * last): 1 byte under 128, 2 under 16384. A negative value or one of 2^35
 * and more (neither a count, 16 bits, nor a bucket's entries reach that)
 * is an error (set_byte out of range), not a row that would misread: a NULL
 * would vanish in string_agg. Not STRICT: PostgreSQL inlines it.
 */
#define VARINT_OUT_OF_RANGE "set_byte('\\x00'::bytea, 1 + (v & 0)::integer, 0)"
#define VARINT_FUNCTION \
	"CREATE FUNCTION profile_varint(v bigint) RETURNS bytea LANGUAGE sql IMMUTABLE" \
	" PARALLEL SAFE AS $f$ SELECT CASE WHEN v < 0 THEN " VARINT_OUT_OF_RANGE \
	" WHEN v < 128 THEN set_byte('\\x00'::bytea, 0, v::integer)" \
	" WHEN v < 16384 THEN set_byte(set_byte('\\x0000'::bytea, 0, (v & 127 | 128)::integer)," \
	" 1, (v >> 7)::integer)" \
	" WHEN v < 2097152 THEN set_byte(set_byte(set_byte('\\x000000'::bytea," \
	" 0, (v & 127 | 128)::integer), 1, (v >> 7 & 127 | 128)::integer), 2, (v >> 14)::integer)" \
	" WHEN v < 268435456 THEN set_byte(set_byte(set_byte(set_byte('\\x00000000'::bytea," \
	" 0, (v & 127 | 128)::integer), 1, (v >> 7 & 127 | 128)::integer)," \
	" 2, (v >> 14 & 127 | 128)::integer), 3, (v >> 21)::integer)" \
	" WHEN v < 34359738368 THEN set_byte(set_byte(set_byte(set_byte(set_byte(" \
	"'\\x0000000000'::bytea, 0, (v & 127 | 128)::integer), 1, (v >> 7 & 127 | 128)::integer)," \
	" 2, (v >> 14 & 127 | 128)::integer), 3, (v >> 21 & 127 | 128)::integer)," \
	" 4, (v >> 28)::integer) ELSE " VARINT_OUT_OF_RANGE " END $f$;"

/*
 * Rows of samples (ts, run, n, e) from rows of t(ts, [run_id,] p, s, c): a
 * bucket's processes in hash order, each its hash, its number of entries and
 * its entries (stack hash, count) in hash order; see bucket_entries().
 */
#define PACK_BUCKETS(run, inner) \
	"SELECT ts, " run ", sum(n)::integer, string_agg(g, ''::bytea ORDER BY p) FROM" \
	" (SELECT ts" inner ", p, sum(c) AS n, int8send(p) || profile_varint(count(*)) ||" \
	" string_agg(int8send(s) || profile_varint(c), ''::bytea ORDER BY s) AS g"
#define PACK_BUCKETS_END(cols) " GROUP BY ts" cols ", p) x GROUP BY ts" cols

static const char *const pg_migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE hosts(id serial PRIMARY KEY, name text NOT NULL UNIQUE);"
	"CREATE TABLE runs(id bigserial PRIMARY KEY, host_id integer NOT NULL REFERENCES hosts(id),"
	" source text NOT NULL UNIQUE, kind text NOT NULL, start_ms bigint NOT NULL,"
	" end_ms bigint NOT NULL DEFAULT 0, freq integer NOT NULL, cmdline text NOT NULL,"
	" labels text[] NOT NULL DEFAULT '{}', last_report_ms bigint NOT NULL DEFAULT 0);"
	"CREATE INDEX runs_by_host ON runs(host_id);"
	"CREATE TABLE processes(id bigint PRIMARY KEY, run_id bigint NOT NULL, pid integer NOT NULL,"
	" start_time bigint NOT NULL, comm text NOT NULL, exe_build_id text NOT NULL,"
	" cgroup text NOT NULL, seen_day integer NOT NULL);"
	"CREATE INDEX processes_by_run ON processes(run_id);"
	"CREATE TABLE frames(hash bigint PRIMARY KEY, kernel boolean NOT NULL,"
	" flags smallint NOT NULL, depth integer NOT NULL, addr bigint NOT NULL,"
	" build_id text NOT NULL, module text NOT NULL, name text, seen_day integer NOT NULL);"
	"CREATE TABLE stacks(hash bigint PRIMARY KEY, frames bigint[] NOT NULL,"
	" seen_day integer NOT NULL);"
	"CREATE TABLE samples(ts bigint NOT NULL, run_id bigint NOT NULL,"
	" process_id bigint NOT NULL, stacks bigint[] NOT NULL, counts smallint[] NOT NULL)"
	" PARTITION BY RANGE (ts);"
	"CREATE INDEX samples_by_run ON samples(run_id, ts);"
	"CREATE TABLE shipped(run_id bigint NOT NULL, ts bigint NOT NULL,"
	" PRIMARY KEY(run_id, ts));"
	"CREATE TABLE agent_health(run_id bigint PRIMARY KEY, updated_ms bigint NOT NULL,"
	" pid integer NOT NULL, vals bigint[] NOT NULL);",
	/* 1 -> 2 */
	"ALTER TABLE frames ADD COLUMN file text NOT NULL DEFAULT '',"
	" ADD COLUMN line integer NOT NULL DEFAULT 0,"
	" ADD COLUMN start_line integer NOT NULL DEFAULT 0;",
	/* 2 -> 3: the samples held still while they are rolled up */
	"LOCK TABLE samples IN SHARE MODE;"
	"CREATE TABLE rollup_h(hour bigint NOT NULL, run_id bigint NOT NULL,"
	" process_id bigint NOT NULL, stacks bigint[] NOT NULL, counts bigint[] NOT NULL,"
	" in_day boolean NOT NULL);"
	"CREATE INDEX rollup_h_by_hour ON rollup_h(hour, run_id);"
	"CREATE INDEX rollup_h_open ON rollup_h(run_id, hour) WHERE NOT in_day;"
	"CREATE TABLE rollup_d(day bigint NOT NULL, run_id bigint NOT NULL,"
	" process_id bigint NOT NULL, stacks bigint[] NOT NULL, counts bigint[] NOT NULL,"
	" merged boolean NOT NULL);"
	"CREATE INDEX rollup_d_by_day ON rollup_d(day, run_id);"
	"CREATE INDEX rollup_d_open ON rollup_d(run_id, day) WHERE NOT merged;"
	"INSERT INTO rollup_h SELECT hr, run_id, process_id, array_agg(st ORDER BY st),"
	" array_agg(n ORDER BY st), true FROM (SELECT s.ts - s.ts % 3600 AS hr, s.run_id,"
	" s.process_id, u.st, sum(u.n) AS n FROM samples s, unnest(s.stacks, s.counts) AS u(st, n)"
	" GROUP BY 1, 2, 3, 4) x GROUP BY hr, run_id, process_id;"
	"INSERT INTO rollup_d SELECT dy, run_id, process_id, array_agg(st ORDER BY st),"
	" array_agg(n ORDER BY st), true FROM (SELECT r.hour - r.hour % 86400 AS dy, r.run_id,"
	" r.process_id, u.st, sum(u.n)::bigint AS n FROM rollup_h r,"
	" unnest(r.stacks, r.counts) AS u(st, n) GROUP BY 1, 2, 3, 4) x"
	" GROUP BY dy, run_id, process_id;",
	/* 3 -> 4 */
	"LOCK TABLE samples IN SHARE MODE;"
	"CREATE FUNCTION profile_writer_check() RETURNS trigger LANGUAGE plpgsql AS $f$"
	" DECLARE v integer := (SELECT max(version) FROM profile_schema); BEGIN"
	" IF coalesce(current_setting('profile.schema', true), '') IS DISTINCT FROM v::text THEN"
	" RAISE EXCEPTION 'this writer does not write profile schema version % of the store:"
	" upgrade it', v USING ERRCODE = '55000'; END IF; RETURN NULL; END $f$;"
	"CREATE TRIGGER samples_writer BEFORE INSERT ON samples FOR EACH STATEMENT"
	" EXECUTE FUNCTION profile_writer_check();"
	/* the edges of a range over all hosts: without it, a scan of the whole day */
	"CREATE INDEX samples_by_ts ON samples USING brin (ts) WITH (pages_per_range = 16);",
	/* 4 -> 5 */
	"LOCK TABLE samples IN ACCESS EXCLUSIVE MODE;"
	VARINT_FUNCTION
	"CREATE TABLE samples_v5(ts bigint NOT NULL, run_id bigint NOT NULL, n integer NOT NULL,"
	" e bytea NOT NULL) PARTITION BY RANGE (ts);"
	/* compressed when it helps, but kept in the row (random hashes do not compress) */
	"ALTER TABLE samples_v5 ALTER COLUMN e SET STORAGE MAIN;"
	"DO $d$ DECLARE r record; BEGIN"
	" FOR r IN SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound"
	" FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
	" WHERE i.inhparent = 'samples'::regclass LOOP"
	" EXECUTE format('ALTER TABLE %I RENAME TO %I', r.name, r.name || '_v4');"
	" EXECUTE format('CREATE TABLE %I PARTITION OF samples_v5 %s', r.name, r.bound);"
	" END LOOP; END $d$;"
	"INSERT INTO samples_v5 " PACK_BUCKETS("run_id", ", run_id")
	" FROM (SELECT s.ts, s.run_id, s.process_id AS p, u.s, u.c FROM samples s,"
	" unnest(s.stacks, s.counts) AS u(s, c)) t" PACK_BUCKETS_END(", run_id") ";"
	"DROP TABLE samples;"
	"DROP TABLE shipped;"
	"ALTER TABLE samples_v5 RENAME TO samples;"
	"CREATE UNIQUE INDEX samples_by_run ON samples(run_id, ts);"
	"CREATE INDEX samples_by_ts ON samples USING brin (ts) WITH (pages_per_range = 16);"
	"CREATE TRIGGER samples_writer BEFORE INSERT ON samples FOR EACH STATEMENT"
	" EXECUTE FUNCTION profile_writer_check();",
};

_Static_assert(sizeof(pg_migrations) / sizeof(pg_migrations[0]) == PG_SCHEMA_VERSION,
	       "one migration per schema version");

/*
 * The two statements that write counts: the samples, one row per bucket,
 * and the hour rollup's deltas. A shipped bucket already there is skipped
 * (and adds no delta); a writer's later batch for a bucket it wrote (a
 * flush within the bucket) appends to its row.
 */
#define COUNTS_T \
	"WITH t AS (SELECT * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[]," \
	" $5::smallint[]) AS t(ts, p, s, c))," \
	" i AS (INSERT INTO samples " PACK_BUCKETS("$1::bigint", "") " FROM t" PACK_BUCKETS_END("")
#define DELTAS(where) \
	" INSERT INTO rollup_h SELECT hr, $1::bigint, p, array_agg(s ORDER BY s)," \
	" array_agg(n ORDER BY s), false FROM (SELECT ts - ts % 3600 AS hr, p, s, sum(c) AS n" \
	" FROM t" where " GROUP BY 1, 2, 3) x GROUP BY hr, p"

enum pg_stmt {
	PG_LOCK_RUN,
	PG_FRAMES,
	PG_STACKS,
	PG_PROCS,
	PG_SAMPLES,
	PG_SAMPLES_SHIP,
	PG_HEALTH,
	PG_REPORT,
	PG_ROLL_HOURS,
	PG_ROLL_DAYS,
	PG_MAX,
};

static const struct {
	const char *name, *sql;
	int nparams;
} pg_stmts[PG_MAX] = {
	/*
	 * a batch's transaction holds its run: two writers of one run (an agent
	 * and a `profile push`) take turns, and their merges of the run's hours
	 * and days cannot deadlock
	 */
	[PG_LOCK_RUN] = { "lock_run",
		"SELECT pg_advisory_xact_lock(7420318, ($1::bigint % 2147483647)::integer)", 1 },
	[PG_FRAMES] = { "frames",
		"INSERT INTO frames(hash, kernel, flags, depth, addr, build_id, module, name, seen_day,"
		" file, line, start_line) SELECT DISTINCT ON (h) h, k, f, d, a, b, m, n, $9, sf, l, sl"
		" FROM unnest($1::bigint[], $2::boolean[], $3::smallint[], $4::integer[],"
		" $5::bigint[], $6::text[], $7::text[], $8::text[], $10::text[], $11::integer[],"
		" $12::integer[]) AS t(h, k, f, d, a, b, m, n, sf, l, sl)"
		" ON CONFLICT (hash) DO UPDATE SET seen_day = excluded.seen_day"
		" WHERE frames.seen_day < excluded.seen_day", 12 },
	/* stacks as "{h,h,...}" strings: arrays of arrays must be rectangular */
	[PG_STACKS] = { "stacks",
		"INSERT INTO stacks SELECT DISTINCT ON (h) h, f::bigint[], $3"
		" FROM unnest($1::bigint[], $2::text[]) AS t(h, f)"
		" ON CONFLICT (hash) DO UPDATE SET seen_day = excluded.seen_day"
		" WHERE stacks.seen_day < excluded.seen_day", 3 },
	[PG_PROCS] = { "procs",
		"INSERT INTO processes SELECT DISTINCT ON (h) h, $1, p, s, c, e, g, $8"
		" FROM unnest($2::bigint[], $3::integer[], $4::bigint[], $5::text[], $6::text[],"
		" $7::text[]) AS t(h, p, s, c, e, g)"
		" ON CONFLICT (id) DO UPDATE SET seen_day = excluded.seen_day"
		" WHERE processes.seen_day < excluded.seen_day", 8 },
	/* the counts, and their sums per hour as the hour rollup's delta rows */
	[PG_SAMPLES] = { "samples",
		COUNTS_T " ON CONFLICT (run_id, ts) DO UPDATE SET n = samples.n + excluded.n,"
		" e = samples.e || excluded.e)" DELTAS(""), 5 },
	/* a bucket another transaction is shipping waits, then is skipped */
	[PG_SAMPLES_SHIP] = { "samples_ship",
		COUNTS_T " ON CONFLICT DO NOTHING RETURNING ts)"
		DELTAS(" WHERE ts IN (SELECT ts FROM i)"), 5 },
	[PG_HEALTH] = { "health",
		"INSERT INTO agent_health VALUES ($1, $2, $3, $4::bigint[])"
		" ON CONFLICT (run_id) DO UPDATE SET updated_ms = excluded.updated_ms,"
		" pid = excluded.pid, vals = excluded.vals", 4 },
	[PG_REPORT] = { "report",
		"UPDATE runs SET last_report_ms = $2 WHERE id = $1", 2 },
	/*
	 * The run's hours before $2 that have deltas, and the current one once
	 * it has many (an agent ships a bucket a batch): each merged into one
	 * row per process, and the deltas (those not yet in a day) added to the
	 * day rollup as its delta rows
	 */
	[PG_ROLL_HOURS] = { "roll_hours",
		"WITH c AS (SELECT hour FROM rollup_h WHERE run_id = $1::bigint AND NOT in_day"
		" GROUP BY hour HAVING hour < $2::bigint OR count(*) >= 64),"
		" d AS (DELETE FROM rollup_h r USING c WHERE r.run_id = $1::bigint AND r.hour = c.hour"
		" RETURNING r.hour, r.process_id, r.stacks, r.counts, r.in_day),"
		" e AS (SELECT d.hour, d.process_id, d.in_day, u.s, u.n FROM d,"
		" unnest(d.stacks, d.counts) AS u(s, n)),"
		" h AS (INSERT INTO rollup_h SELECT hour, $1::bigint, process_id,"
		" array_agg(s ORDER BY s), array_agg(n ORDER BY s), true FROM (SELECT hour,"
		" process_id, s, sum(n)::bigint AS n FROM e GROUP BY 1, 2, 3) x GROUP BY hour, process_id)"
		" INSERT INTO rollup_d SELECT dy, $1::bigint, process_id, array_agg(s ORDER BY s),"
		" array_agg(n ORDER BY s), false FROM (SELECT hour - hour % 86400 AS dy, process_id, s,"
		" sum(n)::bigint AS n FROM e WHERE NOT in_day GROUP BY 1, 2, 3) x"
		" GROUP BY dy, process_id", 2 },
	/*
	 * the run's days that have deltas (the current one too: it gets one
	 * when an hour is merged, not more often), each merged into one row per
	 * process
	 */
	[PG_ROLL_DAYS] = { "roll_days",
		"WITH c AS (SELECT DISTINCT day FROM rollup_d WHERE run_id = $1::bigint"
		" AND NOT merged),"
		" d AS (DELETE FROM rollup_d r USING c WHERE r.run_id = $1::bigint AND r.day = c.day"
		" RETURNING r.day, r.process_id, r.stacks, r.counts)"
		" INSERT INTO rollup_d SELECT day, $1::bigint, process_id, array_agg(s ORDER BY s),"
		" array_agg(n ORDER BY s), true FROM (SELECT d.day, d.process_id, u.s,"
		" sum(u.n)::bigint AS n FROM d, unnest(d.stacks, d.counts) AS u(s, n)"
		" GROUP BY 1, 2, 3) x GROUP BY day, process_id", 1 },
};

struct pg_store {
	struct store base;
	PGconn *conn;
	char *conninfo;
	bool quiet, write;
	bool prepared;
	bool async;		/* this session commits without waiting for the WAL flush */
	struct hashmap days;	/* day number -> 1: its partition exists */
	/*
	 * frame, stack and process hashes -> the day a committed batch last
	 * wrote them: sent again only on a new day, which moves their seen_day
	 */
	struct hashmap sent;
};

static struct pg_store *pg(struct store *st)
{
	return (struct pg_store *)st;
}

/* ---- errors ---- */

/* The first line of @msg, without libpq's trailing newline. */
static int first_line_len(const char *msg)
{
	return (int)strcspn(msg ? msg : "", "\n");
}

static int sqlstate_err(const char *state, PGconn *conn)
{
	if (!conn || PQstatus(conn) == CONNECTION_BAD)
		return -ECONNRESET;
	if (!state)
		return -EIO;
	if (!strncmp(state, "08", 2) || !strcmp(state, "57P01") || !strcmp(state, "57P02") ||
	    !strcmp(state, "57P03"))
		return -ECONNRESET;
	if (!strncmp(state, "28", 2))
		return -EACCES;
	if (!strcmp(state, "3D000"))
		return -ENOENT;
	if (!strcmp(state, "53100"))
		return -ENOSPC;
	if (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03"))
		return -EBUSY;
	if (!strcmp(state, "23505") || !strcmp(state, "42P07"))
		return -EEXIST;
	return -EIO;
}

/* Log "<what>: PostgreSQL 'name': <first line>" and return -Exxx for @res (may be NULL). */
static int pg_fail(struct pg_store *p, PGresult *res, const char *what)
{
	const char *msg = res ? PQresultErrorMessage(res) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	int err;

	if (!msg || !*msg)
		msg = PQerrorMessage(p->conn);
	err = sqlstate_err(state, p->conn);
	log_print(p->quiet ? LOG_DEBUG : LOG_WARN, "%s: PostgreSQL '%s': %.*s%s", what,
		  p->base.name, first_line_len(msg), msg && *msg ? msg : "no answer",
		  err == -ECONNRESET && !strstr(msg ?: "", "terminat") ? " (connection lost)" : "");
	return err;
}

/* Check @res (which is cleared on failure); 0 or -Exxx. */
static int pg_check(struct pg_store *p, PGresult *res, const char *what)
{
	ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	int err;

	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
		return 0;
	err = pg_fail(p, res, what);
	PQclear(res);
	return err;
}

static int pg_exec(struct pg_store *p, const char *sql, const char *what)
{
	PGresult *res = PQexec(p->conn, sql);
	int err = pg_check(p, res, what);

	if (!err)
		PQclear(res);
	return err;
}

/* Run @sql with text parameters; *@out gets the result (the caller clears it). */
static int pg_query(struct pg_store *p, const char *sql, int n, const char *const *params,
		    const char *what, PGresult **out)
{
	PGresult *res = PQexecParams(p->conn, sql, n, NULL, params, NULL, NULL, 0);
	int err = pg_check(p, res, what);

	*out = err ? NULL : res;
	return err;
}

/*
 * Run @sql with @n parameters (@types, @lens and @fmts as PQexecParams()
 * takes them; NULL: text) for an answer in the binary format with @nfields
 * columns; *@out gets it (the caller clears it), NULL on failure.
 */
static int pg_query_bin(struct pg_store *p, const char *sql, int n, const Oid *types,
			const char *const *vals, const int *lens, const int *fmts, int nfields,
			const char *what, PGresult **out)
{
	PGresult *res = PQexecParams(p->conn, sql, n, types, vals, lens, fmts, 1);
	int err = pg_check(p, res, what);

	if (!err && PQnfields(res) != nfields) {
		PQclear(res);
		err = -EBADMSG;
	}
	*out = err ? NULL : res;
	return err;
}

static __s64 cell_int(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* ---- opening ---- */

/* "postgresql://user@host:port/db" from @conninfo, without its password. */
static char *display_name(const char *conninfo)
{
	const char *host = NULL, *port = NULL, *db = NULL, *user = NULL;
	PQconninfoOption *opts, *o;
	struct strbuf sb = STRBUF_INIT;
	char *errmsg = NULL;

	opts = PQconninfoParse(conninfo, &errmsg);
	if (!opts) {
		PQfreemem(errmsg);
		return strdup("?");
	}
	for (o = opts; o->keyword; o++) {
		if (!o->val || !*o->val)
			continue;
		if (!strcmp(o->keyword, "host") || (!host && !strcmp(o->keyword, "hostaddr")))
			host = o->val;
		else if (!strcmp(o->keyword, "port"))
			port = o->val;
		else if (!strcmp(o->keyword, "dbname"))
			db = o->val;
		else if (!strcmp(o->keyword, "user"))
			user = o->val;
	}
	strbuf__addf(&sb, "postgresql://%s%s%s%s%s/%s", user ?: "", user ? "@" : "",
		     host ?: "", port ? ":" : "", port ?: "", db ?: "");
	PQconninfoFree(opts);
	return sb.buf ? sb.buf : strdup("?");
}

static int pg_version(struct pg_store *p, __s64 *version)
{
	PGresult *res;
	int err;

	err = pg_query(p, "SELECT to_regclass('profile_schema') IS NOT NULL", 0, NULL,
		       "cannot read the schema", &res);
	if (err)
		return err;
	*version = strcmp(PQgetvalue(res, 0, 0), "t") ? 0 : -1;
	PQclear(res);
	if (*version == 0)
		return 0;
	err = pg_query(p, "SELECT max(version) FROM profile_schema", 0, NULL,
		       "cannot read the schema", &res);
	if (err)
		return err;
	*version = cell_int(res, 0, 0);
	PQclear(res);
	if (*version > PG_SCHEMA_VERSION) {
		pr_warn("PostgreSQL '%s' has profile schema version %lld, newer than this profile"
			" knows (%d): use a newer profile", p->base.name, (long long)*version,
			PG_SCHEMA_VERSION);
		return -EPROTO;
	}
	return 0;
}

static int pg_migrate(struct pg_store *p)
{
	char sql[96];
	__s64 version;
	int err, v;

	err = pg_exec(p, "BEGIN", "cannot migrate the schema");
	/* one migrator at a time: the others wait, then find the work done */
	err = err ?: pg_exec(p, "SELECT pg_advisory_xact_lock(7420317)", "cannot migrate the schema");
	err = err ?: pg_version(p, &version);
	if (!err && version == 0)
		err = pg_exec(p, "CREATE TABLE profile_schema(version integer NOT NULL);"
			      "INSERT INTO profile_schema VALUES (0)", "cannot create the schema");
	for (v = version; !err && v < PG_SCHEMA_VERSION; v++) {
		pr_debug("migrating PostgreSQL '%s' to schema version %d", p->base.name, v + 1);
		err = pg_exec(p, pg_migrations[v], "cannot migrate the schema");
	}
	if (!err && version < PG_SCHEMA_VERSION) {
		snprintf(sql, sizeof(sql), "UPDATE profile_schema SET version = %d",
			 PG_SCHEMA_VERSION);
		err = pg_exec(p, sql, "cannot migrate the schema");
	}
	if (err) {
		if (PQstatus(p->conn) == CONNECTION_OK)
			PQclear(PQexec(p->conn, "ROLLBACK"));
		return err;
	}
	return pg_exec(p, "COMMIT", "cannot migrate the schema");
}

static int pg_prepare(struct pg_store *p)
{
	int i, err = 0;

	for (i = 0; !err && i < PG_MAX; i++) {
		PGresult *res = PQprepare(p->conn, pg_stmts[i].name, pg_stmts[i].sql,
					  pg_stmts[i].nparams, NULL);

		err = pg_check(p, res, "cannot prepare a statement");
		if (!err)
			PQclear(res);
	}
	p->prepared = !err;
	return err;
}

static void pg_free(struct store *st)
{
	struct pg_store *p = pg(st);

	if (!st)
		return;
	PQfinish(p->conn);
	hashmap__release(&p->days);
	hashmap__release(&p->sent);
	free(p->conninfo);
	free(st->name);
	free(p);
}

/* The server's notices (and a FATAL before it hangs up) go to the debug log, not stderr. */
static void pg_notice(void *arg, const char *msg)
{
	struct pg_store *p = arg;

	pr_debug("PostgreSQL '%s': %.*s", p->base.name, first_line_len(msg), msg);
}

/* Connect (again, after a lost connection); prepared statements and partitions are per session. */
static int pg_connect(struct pg_store *p)
{
	char sql[96];
	__s64 version;
	int err;

	if (p->conn)
		PQfinish(p->conn);
	hashmap__release(&p->days);
	p->prepared = p->async = false;
	/*
	 * A server that accepts but never answers (one shutting down, a dead
	 * peer behind a firewall) must not hang a caller: a bound on connecting
	 * and keepalives on TCP, which the given string may still override
	 */
	{
		static const char *const keys[] = {
			"connect_timeout", "keepalives_idle", "keepalives_interval", "dbname", NULL,
		};
		const char *vals[] = { "10", "30", "10", p->conninfo, NULL };

		p->conn = PQconnectdbParams(keys, vals, 1);
	}
	if (!p->conn)
		return -ENOMEM;
	if (PQstatus(p->conn) != CONNECTION_OK) {
		const char *msg = PQerrorMessage(p->conn);

		err = strstr(msg, "password") || strstr(msg, "authentication") ? -EACCES :
		      strstr(msg, "does not exist") ? -ENOENT : -ECONNREFUSED;
		log_print(p->quiet ? LOG_DEBUG : LOG_WARN, "cannot connect to PostgreSQL '%s': %.*s",
			  p->base.name, first_line_len(msg), msg);
		return err;
	}
	PQsetNoticeProcessor(p->conn, pg_notice, p);
	/* the schema this session writes: profile_writer_check() refuses inserts of another */
	snprintf(sql, sizeof(sql), "SET client_min_messages = warning; SET profile.schema = '%d'",
		 PG_SCHEMA_VERSION);
	PQclear(PQexec(p->conn, sql));
	err = pg_version(p, &version);
	if (!err && version < PG_SCHEMA_VERSION) {
		if (p->write)
			err = pg_migrate(p);
		else if (version == 0) {
			pr_warn("PostgreSQL '%s' holds no profile schema (nothing was stored there)",
				p->base.name);
			err = -EBADMSG;
		} else {
			pr_warn("PostgreSQL '%s' has profile schema version %lld: open it for writing"
				" once to migrate it", p->base.name, (long long)version);
			err = -EPROTO;
		}
	}
	return err ?: (p->write ? pg_prepare(p) : 0);
}

static const struct store_ops pg_ops;

struct store *pg_store__open(const char *conninfo, const struct store_opts *opts)
{
	struct pg_store *p = calloc(1, sizeof(*p));
	int err;

	if (!p || !(p->conninfo = strdup(conninfo)) || !(p->base.name = display_name(conninfo))) {
		if (p)
			free(p->conninfo);
		free(p);
		errno = ENOMEM;
		return NULL;
	}
	p->base.ops = &pg_ops;
	p->write = opts && (opts->write || opts->create);
	/* unlike a file, a server may be away for a while: a quiet caller reports it itself */
	p->quiet = opts && opts->quiet;
	err = pg_connect(p);
	if (err) {
		pg_free(&p->base);
		errno = -err;
		return NULL;
	}
	return &p->base;
}

/* A failed call on a lost connection reconnects at the next one. */
static int pg_ready(struct pg_store *p)
{
	if (PQstatus(p->conn) == CONNECTION_OK && (p->prepared || !p->write))
		return 0;
	return pg_connect(p);
}

static int pg_schema_version(struct store *st)
{
	__s64 v;
	int err = pg_ready(pg(st)) ?: pg_version(pg(st), &v);

	return err ?: (int)v;
}

/* ---- text arrays ---- */

static void arr_open(struct strbuf *sb)
{
	strbuf__setlen(sb, 0);
	strbuf__addch(sb, '{');
}

static void arr_sep(struct strbuf *sb)
{
	if (sb->len > 1)
		strbuf__addch(sb, ',');
}

static void arr_int(struct strbuf *sb, __s64 v)
{
	arr_sep(sb);
	strbuf__addf(sb, "%lld", (long long)v);
}

static void arr_text(struct strbuf *sb, const char *s)
{
	arr_sep(sb);
	if (!s) {
		strbuf__adds(sb, "NULL");
		return;
	}
	strbuf__addch(sb, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			strbuf__addch(sb, '\\');
		strbuf__addch(sb, *s);
	}
	strbuf__addch(sb, '"');
}

static int arr_close(struct strbuf *sb)
{
	strbuf__addch(sb, '}');
	return sb->buf ? 0 : -ENOMEM;
}

/* ---- writing ---- */

static int ensure_partition(struct pg_store *p, __s64 day)
{
	char sql[256];
	uint64_t one;
	int err;

	if (hashmap__get(&p->days, (uint64_t)day, &one))
		return 0;
	/*
	 * one transaction (a simple query's statements are one), the day held:
	 * two writers of a new day take turns and the second finds it made
	 */
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(7420319, %lld);"
		 " CREATE TABLE IF NOT EXISTS samples_d%lld PARTITION OF samples"
		 " FOR VALUES FROM (%lld) TO (%lld)", (long long)day, (long long)day,
		 (long long)day * DAY_SECS, (long long)(day + 1) * DAY_SECS);
	err = pg_exec(p, sql, "cannot add a day partition");
	return err ?: hashmap__set(&p->days, (uint64_t)day, 1);
}

static __s64 today(void)
{
	return (__s64)time(NULL) / DAY_SECS;
}

enum { A_FH, A_FK, A_FF, A_FD, A_FA, A_FB, A_FM, A_FN, A_FS, A_FL, A_FSL, A_SH, A_SF, A_PH, A_PP, A_PS, A_PC, A_PE,
       A_PG, A_TS, A_TP, A_TT, A_TC, A_HV, A_MAX };

struct pg_batch {
	struct strbuf a[A_MAX];
	__s64 *frame_hash, *stack_hash, *proc_hash, *tmp;
	__s64 min_day, max_day, min_ts;
	/* what the counts use, and of that what this session has not written today */
	bool *frame_used, *stack_used, *proc_used;
	__s64 day;
};

/* Whether @hash was written today by this session; else remember it as to be sent. */
static bool sent_today(struct pg_store *p, struct pg_batch *pb, __s64 hash)
{
	uint64_t day;

	return hashmap__get(&p->sent, (uint64_t)hash, &day) && (__s64)day == pb->day;
}

static void pg_batch__release(struct pg_batch *pb)
{
	int i;

	for (i = 0; i < A_MAX; i++)
		strbuf__release(&pb->a[i]);
	free(pb->frame_hash);
	free(pb->stack_hash);
	free(pb->proc_hash);
	free(pb->tmp);
	free(pb->frame_used);
	free(pb->stack_used);
	free(pb->proc_used);
}

static int health_array(struct strbuf *sb, const struct store_health *h)
{
	const __u64 vals[] = {
		h->samples, h->recorded, h->dropped, h->collisions, h->lost, h->cpu_ms,
		h->rss_kb, h->db_bytes, h->flushes, h->flush_errors, h->user_stacks, h->complete,
		h->unnamed, h->idle, h->filtered, h->undrained,
	};
	size_t i;

	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		arr_int(sb, (__s64)vals[i]);
	return 0;
}

/* The batch as text arrays (opened here, closed at the end), hashes computed here. */
static int pg_batch__build(struct pg_store *p, struct pg_batch *pb, const struct store_batch *b)
{
	size_t i, max_frames = 0;
	__u32 j;
	int k, err = 0;

	pb->frame_hash = calloc(b->nr_frames + 1, sizeof(__s64));
	pb->stack_hash = calloc(b->nr_stacks + 1, sizeof(__s64));
	pb->proc_hash = calloc(b->nr_processes + 1, sizeof(__s64));
	for (i = 0; i < b->nr_stacks; i++)
		if (b->stacks[i].nr > max_frames)
			max_frames = b->stacks[i].nr;
	pb->tmp = calloc(max_frames + 1, sizeof(__s64));
	pb->frame_used = calloc(b->nr_frames + 1, sizeof(bool));
	pb->stack_used = calloc(b->nr_stacks + 1, sizeof(bool));
	pb->proc_used = calloc(b->nr_processes + 1, sizeof(bool));
	if (!pb->frame_hash || !pb->stack_hash || !pb->proc_hash || !pb->tmp || !pb->frame_used ||
	    !pb->stack_used || !pb->proc_used)
		return -ENOMEM;
	/* only what the counts use goes to the server */
	for (i = 0; i < b->nr_counts; i++) {
		if (b->counts[i].stack < b->nr_stacks)
			pb->stack_used[b->counts[i].stack] = true;
		if (b->counts[i].process < b->nr_processes)
			pb->proc_used[b->counts[i].process] = true;
	}
	for (i = 0; i < b->nr_stacks; i++)
		for (j = 0; pb->stack_used[i] && j < b->stacks[i].nr; j++)
			if (b->stacks[i].frames[j] < b->nr_frames)
				pb->frame_used[b->stacks[i].frames[j]] = true;
	for (k = 0; k < A_MAX; k++)
		arr_open(&pb->a[k]);
	for (i = 0; i < b->nr_frames; i++) {
		const struct store_frame *f = &b->frames[i];

		if (!pb->frame_used[i])
			continue;
		pb->frame_hash[i] = store_frame_hash_v1(f);
		if (sent_today(p, pb, pb->frame_hash[i]))
			continue;
		arr_int(&pb->a[A_FH], pb->frame_hash[i]);
		arr_text(&pb->a[A_FK], f->kernel ? "t" : "f");
		arr_int(&pb->a[A_FF], (f->inlined ? 1 : 0) | (f->jit ? 2 : 0) | (f->python ? 4 : 0));
		arr_int(&pb->a[A_FD], f->depth);
		arr_int(&pb->a[A_FA], (__s64)f->addr);
		arr_text(&pb->a[A_FB], f->build_id ?: "");
		arr_text(&pb->a[A_FM], f->module ?: "");
		arr_text(&pb->a[A_FN], f->name);
		arr_text(&pb->a[A_FS], f->file ?: "");
		arr_int(&pb->a[A_FL], f->line);
		arr_int(&pb->a[A_FSL], f->start_line);
	}
	for (i = 0; i < b->nr_stacks; i++) {
		struct strbuf one = STRBUF_INIT;

		if (!pb->stack_used[i])
			continue;
		arr_open(&one);
		for (j = 0; j < b->stacks[i].nr; j++) {
			__u32 fi = b->stacks[i].frames[j];

			if (fi >= b->nr_frames) {
				strbuf__release(&one);
				pr_warn("a stack refers to frame %u of a batch of %zu", fi,
					b->nr_frames);
				return -EINVAL;
			}
			pb->tmp[j] = pb->frame_hash[fi];
			arr_int(&one, pb->tmp[j]);
		}
		err = arr_close(&one);
		pb->stack_hash[i] = store_stack_hash_v1(pb->tmp, b->stacks[i].nr);
		if (!sent_today(p, pb, pb->stack_hash[i])) {
			arr_int(&pb->a[A_SH], pb->stack_hash[i]);
			arr_text(&pb->a[A_SF], one.buf);
		}
		strbuf__release(&one);
		if (err)
			return err;
	}
	for (i = 0; i < b->nr_processes; i++) {
		const struct store_process *sp = &b->processes[i];

		if (!pb->proc_used[i])
			continue;
		pb->proc_hash[i] = store_process_hash_v1(b->run_id, sp);
		if (sent_today(p, pb, pb->proc_hash[i]))
			continue;
		arr_int(&pb->a[A_PH], pb->proc_hash[i]);
		arr_int(&pb->a[A_PP], sp->pid);
		arr_int(&pb->a[A_PS], sp->start_time);
		arr_text(&pb->a[A_PC], sp->comm ?: "");
		arr_text(&pb->a[A_PE], sp->exe_build_id ?: "");
		arr_text(&pb->a[A_PG], sp->cgroup ?: "");
	}
	pb->min_day = LLONG_MAX;
	pb->max_day = LLONG_MIN;
	pb->min_ts = LLONG_MAX;
	for (i = 0; i < b->nr_counts; i++) {
		const struct store_count *c = &b->counts[i];
		__u64 left = c->count;

		if (c->process >= b->nr_processes || c->stack >= b->nr_stacks || c->ts < 0) {
			pr_warn("a sample count refers to process %u, stack %u of a batch of %zu, %zu",
				c->process, c->stack, b->nr_processes, b->nr_stacks);
			return -EINVAL;
		}
		if (c->ts < pb->min_ts)
			pb->min_ts = c->ts;
		if (c->ts / DAY_SECS < pb->min_day)
			pb->min_day = c->ts / DAY_SECS;
		if (c->ts / DAY_SECS > pb->max_day)
			pb->max_day = c->ts / DAY_SECS;
		/* counts are 16-bit on the server: a larger one takes several entries */
		while (left) {
			__u64 n = left > SHRT_MAX ? SHRT_MAX : left;

			arr_int(&pb->a[A_TS], c->ts);
			arr_int(&pb->a[A_TP], pb->proc_hash[c->process]);
			arr_int(&pb->a[A_TT], pb->stack_hash[c->stack]);
			arr_int(&pb->a[A_TC], (__s64)n);
			left -= n;
		}
	}
	if (b->health)
		health_array(&pb->a[A_HV], b->health);
	for (k = 0; !err && k < A_MAX; k++)
		err = arr_close(&pb->a[k]);
	return err;
}

/* Send one prepared statement into the pipeline. */
static int send(struct pg_store *p, enum pg_stmt which, const char *const *params)
{
	if (PQsendQueryPrepared(p->conn, pg_stmts[which].name, pg_stmts[which].nparams, params,
				NULL, NULL, 0))
		return 0;
	return pg_fail(p, NULL, "cannot send a batch");
}

/* Read the pipeline's results up to its sync; the first error wins. */
static int drain_pipeline(struct pg_store *p, int sent)
{
	PGresult *res;
	int err = 0, e, done = 0;

	while (done < sent + 1) {
		res = PQgetResult(p->conn);
		if (!res) {
			if (PQstatus(p->conn) == CONNECTION_BAD) {
				err = err ?: pg_fail(p, NULL, "cannot write a batch");
				break;
			}
			continue;	/* the end of one statement's results */
		}
		switch (PQresultStatus(res)) {
		case PGRES_PIPELINE_SYNC:
			done = sent + 1;
			break;
		case PGRES_PIPELINE_ABORTED:
			done++;
			break;
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
			done++;
			break;
		default:
			e = pg_fail(p, res, "cannot write a batch");
			err = err ?: e;
			done++;
		}
		PQclear(res);
	}
	return err;
}

/* After a commit: what the batch wrote need not be sent again today. */
static void remember_sent(struct pg_store *p, struct pg_batch *pb, const struct store_batch *b)
{
	size_t i;

	for (i = 0; i < b->nr_frames; i++)
		if (pb->frame_used[i])
			hashmap__set(&p->sent, (uint64_t)pb->frame_hash[i], (uint64_t)pb->day);
	for (i = 0; i < b->nr_stacks; i++)
		if (pb->stack_used[i])
			hashmap__set(&p->sent, (uint64_t)pb->stack_hash[i], (uint64_t)pb->day);
	for (i = 0; i < b->nr_processes; i++)
		if (pb->proc_used[i])
			hashmap__set(&p->sent, (uint64_t)pb->proc_hash[i], (uint64_t)pb->day);
}

/*
 * Merge the run's hours before the batch's first (and the current one when
 * its deltas pile up), then the days those merges added to.
 */
static int send_rolls(struct pg_store *p, const char *run, __s64 min_ts, int *sent)
{
	char hour[24];
	const char *params[2] = { run, hour };
	int err;

	snprintf(hour, sizeof(hour), "%lld", (long long)(min_ts - min_ts % 3600));
	err = send(p, PG_ROLL_HOURS, params);
	(*sent)++;
	err = err ?: send(p, PG_ROLL_DAYS, params);
	(*sent)++;
	return err;
}

static int pg_write_batch(struct store *st, const struct store_batch *b)
{
	struct pg_store *p = pg(st);
	char run[24], day[24], now[24], pid[16];
	struct pg_batch pb;
	const char *params[12];
	struct timespec ts;
	__s64 d;
	int sent = 0, err;

	memset(&pb, 0, sizeof(pb));
	pb.day = today();
	err = pg_ready(p);
	err = err ?: pg_batch__build(p, &pb, b);
	for (d = pb.min_day; !err && b->nr_counts && d <= pb.max_day; d++)
		err = ensure_partition(p, d);
	/*
	 * A shipped batch need not wait for the server's disk: a crash that
	 * loses its commit loses its rows with it, and the next push sends it
	 * again from the host's database
	 */
	if (!err && b->ship && !p->async) {
		err = pg_exec(p, "SET synchronous_commit = off", "cannot write a batch");
		p->async = !err;
	}
	if (err)
		goto out;
	snprintf(run, sizeof(run), "%lld", (long long)b->run_id);
	/* what the batch uses is young until this day: gc keeps it until then */
	snprintf(day, sizeof(day), "%lld",
		 (long long)(b->nr_counts && pb.max_day > today() ? pb.max_day : today()));
	if (!PQenterPipelineMode(p->conn)) {
		err = pg_fail(p, NULL, "cannot write a batch");
		goto out;
	}
	/* statements up to the sync are one implicit transaction */
	if (b->nr_counts) {
		params[0] = run;
		err = send(p, PG_LOCK_RUN, params);
		sent++;
	}
	if (!err && pb.a[A_FH].len > 2) {
		params[0] = pb.a[A_FH].buf, params[1] = pb.a[A_FK].buf, params[2] = pb.a[A_FF].buf;
		params[3] = pb.a[A_FD].buf, params[4] = pb.a[A_FA].buf, params[5] = pb.a[A_FB].buf;
		params[6] = pb.a[A_FM].buf, params[7] = pb.a[A_FN].buf, params[8] = day;
		params[9] = pb.a[A_FS].buf, params[10] = pb.a[A_FL].buf;
		params[11] = pb.a[A_FSL].buf;
		err = err ?: send(p, PG_FRAMES, params);
		sent++;
	}
	if (!err && pb.a[A_SH].len > 2) {
		params[0] = pb.a[A_SH].buf, params[1] = pb.a[A_SF].buf, params[2] = day;
		err = send(p, PG_STACKS, params);
		sent++;
	}
	if (!err && pb.a[A_PH].len > 2) {
		params[0] = run, params[1] = pb.a[A_PH].buf, params[2] = pb.a[A_PP].buf;
		params[3] = pb.a[A_PS].buf, params[4] = pb.a[A_PC].buf, params[5] = pb.a[A_PE].buf;
		params[6] = pb.a[A_PG].buf, params[7] = day;
		err = send(p, PG_PROCS, params);
		sent++;
	}
	if (!err && b->nr_counts) {
		params[0] = run, params[1] = pb.a[A_TS].buf, params[2] = pb.a[A_TP].buf;
		params[3] = pb.a[A_TT].buf, params[4] = pb.a[A_TC].buf;
		err = send(p, b->ship ? PG_SAMPLES_SHIP : PG_SAMPLES, params);
		sent++;
		err = err ?: send_rolls(p, run, pb.min_ts, &sent);
	}
	if (!err && b->health) {
		snprintf(now, sizeof(now), "%lld", (long long)b->health->updated_ms);
		snprintf(pid, sizeof(pid), "%u", b->health->pid);
		params[0] = run, params[1] = now, params[2] = pid, params[3] = pb.a[A_HV].buf;
		err = send(p, PG_HEALTH, params);
		sent++;
	}
	if (!err) {
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(now, sizeof(now), "%lld", ts.tv_sec * 1000LL + ts.tv_nsec / 1000000);
		params[0] = run, params[1] = now;
		err = send(p, PG_REPORT, params);
		sent++;
	}
	if (!err && !PQpipelineSync(p->conn))
		err = pg_fail(p, NULL, "cannot write a batch");
	if (!err)
		err = drain_pipeline(p, sent);
	if (!err)
		remember_sent(p, &pb, b);
	if (PQstatus(p->conn) == CONNECTION_OK && !PQexitPipelineMode(p->conn)) {
		/* results left unread: start the session afresh */
		PQfinish(p->conn);
		p->conn = NULL;
		p->prepared = false;
	}
out:
	pg_batch__release(&pb);
	return err;
}

static int pg_put_health(struct store *st, __s64 run_id, const struct store_health *h)
{
	struct store_batch b = { .run_id = run_id, .health = h };

	return pg_write_batch(st, &b);
}

/* ---- runs ---- */

static int pg_add_run(struct store *st, const struct store_run *run, __s64 *run_id)
{
	struct pg_store *p = pg(st);
	struct strbuf source = STRBUF_INIT, labels = STRBUF_INIT;
	char start[24], freq[24];
	const char *params[7];
	PGresult *res;
	int i, err;

	err = pg_ready(p);
	if (err)
		return err;
	for (i = 0; i < run->nr_labels; i++) {
		if (!strchr(run->labels[i], '=') || run->labels[i][0] == '=') {
			pr_warn("invalid label '%s': use key=value", run->labels[i]);
			return -EINVAL;
		}
	}
	/* a run written here directly: unique by host, start and pid */
	if (run->source)
		err = strbuf__adds(&source, run->source);
	else
		err = strbuf__addf(&source, "%s/%lld/%d/%ld", run->host ?: "",
				   (long long)run->start_ms, getpid(), random());
	arr_open(&labels);
	for (i = 0; i < run->nr_labels; i++)
		arr_text(&labels, run->labels[i]);
	err = err ?: arr_close(&labels);
	snprintf(start, sizeof(start), "%lld", (long long)run->start_ms);
	snprintf(freq, sizeof(freq), "%ld", run->freq);
	params[0] = run->host ?: "";
	params[1] = source.buf;
	params[2] = run->kind ?: "";
	params[3] = start;
	params[4] = freq;
	params[5] = run->cmdline ?: "";
	params[6] = labels.buf;
	err = err ?: pg_query(p,
		"WITH h AS (INSERT INTO hosts(name) VALUES ($1) ON CONFLICT (name)"
		" DO UPDATE SET name = excluded.name RETURNING id)"
		" INSERT INTO runs(host_id, source, kind, start_ms, freq, cmdline, labels)"
		" SELECT id, $2, $3, $4, $5, $6, $7::text[] FROM h ON CONFLICT (source)"
		" DO UPDATE SET source = excluded.source RETURNING id", 7, params,
		"cannot store the run", &res);
	if (!err) {
		*run_id = cell_int(res, 0, 0);
		PQclear(res);
	}
	strbuf__release(&source);
	strbuf__release(&labels);
	return err;
}

static int pg_end_run(struct store *st, __s64 run_id, __s64 end_ms)
{
	struct pg_store *p = pg(st);
	char id[24], end[24];
	const char *params[] = { id, end };
	PGresult *res;
	int err;

	snprintf(id, sizeof(id), "%lld", (long long)run_id);
	snprintf(end, sizeof(end), "%lld", (long long)end_ms);
	err = pg_ready(p) ?: pg_query(p, "UPDATE runs SET end_ms = $2 WHERE id = $1", 2, params,
				      "cannot end the run", &res);
	if (!err)
		PQclear(res);
	return err;
}

static int pg_shipped_until(struct store *st, __s64 run_id, __s64 *ts)
{
	struct pg_store *p = pg(st);
	char id[24];
	const char *params[] = { id };
	PGresult *res;
	int err;

	snprintf(id, sizeof(id), "%lld", (long long)run_id);
	err = pg_ready(p) ?: pg_query(p, "SELECT max(ts) FROM samples WHERE run_id = $1", 1,
				      params, "cannot read what was shipped", &res);
	if (!err) {
		*ts = cell_int(res, 0, 0);
		PQclear(res);
	}
	return err;
}

/* ---- selectors ---- */

struct pg_where {
	struct strbuf sql;
	const char *params[64];
	char nums[64][24];
	char *owned[64];	/* parameters made here (host patterns as regexes) */
	int nr, err;
};

static void w_release(struct pg_where *w)
{
	int i;

	for (i = 0; i < w->nr; i++)
		free(w->owned[i]);
	strbuf__release(&w->sql);
}

/* Add parameter @v (and its place in @fmt); @owned, when given, is freed with @w. */
static void w_add_owned(struct pg_where *w, const char *fmt, const char *v, char *owned)
{
	if (w->nr >= 64) {
		w->err = -E2BIG;
		free(owned);
		return;
	}
	w->owned[w->nr] = owned;
	w->params[w->nr++] = v;
	if (!w->err)
		w->err = strbuf__addf(&w->sql, fmt, w->nr);
}

static void w_add(struct pg_where *w, const char *fmt, const char *v)
{
	if (w->nr >= 64) {
		w->err = -E2BIG;
		return;
	}
	w->params[w->nr++] = v;
	if (!w->err)
		w->err = strbuf__addf(&w->sql, fmt, w->nr);
}

static void w_num(struct pg_where *w, const char *fmt, __s64 v)
{
	if (w->nr >= 64) {
		w->err = -E2BIG;
		return;
	}
	snprintf(w->nums[w->nr], sizeof(w->nums[0]), "%lld", (long long)v);
	w_add(w, fmt, w->nums[w->nr]);
}

/*
 * A host pattern (SQLite's GLOB: '*', '?', "[set]", "[^set]") as an anchored
 * POSIX regex for '~'; anything else is matched as itself. The caller frees it.
 */
static char *glob_regex(const char *glob)
{
	struct strbuf sb = STRBUF_INIT;
	const char *c = glob, *end;

	strbuf__addch(&sb, '^');
	for (; *c; c++) {
		if (*c == '*') {
			strbuf__adds(&sb, ".*");
		} else if (*c == '?') {
			strbuf__addch(&sb, '.');
		} else if (*c == '[' && (end = strchr(c + (c[1] == '^' ? 2 : 1) +
					     (c[c[1] == '^' ? 2 : 1] == ']'), ']'))) {
			/* the set as it is, but a backslash is an escape in a regex's set */
			for (; c <= end; c++) {
				if (*c == '\\')
					strbuf__addch(&sb, '\\');
				strbuf__addch(&sb, *c);
			}
			c--;
		} else {
			/* a backslash before a punctuation character makes it literal */
			if ((unsigned char)*c < 0x80 && !isalnum((unsigned char)*c))
				strbuf__addch(&sb, '\\');
			strbuf__addch(&sb, *c);
		}
	}
	strbuf__addch(&sb, '$');
	return sb.buf;
}

/* The selector's conditions on r (runs) and h (hosts) alone. */
static void w_run_conds(struct pg_where *w, const struct store_selector *sel)
{
	int i;

	for (i = 0; i < sel->nr_hosts; i++) {
		char *re = glob_regex(sel->hosts[i]);

		if (!re) {
			w->err = -ENOMEM;
			return;
		}
		w_add_owned(w, i ? " OR h.name ~ $%d" : " AND (h.name ~ $%d", re, re);
	}
	if (sel->nr_hosts && !w->err)
		w->err = strbuf__addch(&w->sql, ')');
	for (i = 0; i < sel->nr_labels; i++)
		w_add(w, " AND $%d = ANY(r.labels)", sel->labels[i]);
}

/* The selector's conditions on p (processes) alone. */
static int w_proc_conds(struct pg_where *w, const struct store_selector *sel)
{
	int i;

	for (i = 0; i < sel->nr_pids; i++)
		w_num(w, i ? ", $%d" : " AND p.pid IN ($%d", sel->pids[i]);
	if (sel->nr_pids)
		w->err = w->err ?: strbuf__addch(&w->sql, ')');
	if (sel->comm)
		w_add(w, " AND p.comm = $%d", sel->comm);
	if (sel->build_id)
		w_add(w, " AND starts_with(p.exe_build_id, $%d)", sel->build_id);
	return w->err;
}

/* Conditions on s (samples, when @samples), p (processes), r (runs) and h (hosts). */
static int pg_build_where(struct pg_where *w, const struct store_selector *sel, bool samples)
{

	w->err = strbuf__adds(&w->sql, " WHERE true");
	if (sel->run_id)
		w_num(w, " AND r.id = $%d", sel->run_id);
	if (samples) {
		if (sel->since)
			w_num(w, " AND s.ts >= $%d", sel->since);
		if (sel->until)
			w_num(w, " AND s.ts < $%d", sel->until);
	} else {
		if (sel->since)
			w_num(w, " AND (r.end_ms = 0 OR r.end_ms >= $%d::bigint * 1000)", sel->since);
		if (sel->until)
			w_num(w, " AND r.start_ms < $%d::bigint * 1000", sel->until);
	}
	w_run_conds(w, sel);
	if (!samples && (sel->nr_pids || sel->comm || sel->build_id))
		w->err = w->err ?: strbuf__adds(&w->sql, " AND EXISTS (SELECT 1 FROM processes p"
					       " WHERE p.run_id = r.id");
	w_proc_conds(w, sel);
	if (!samples && (sel->nr_pids || sel->comm || sel->build_id))
		w->err = w->err ?: strbuf__addch(&w->sql, ')');
	return w->err;
}

/* ---- counts: whole days and hours from the rollups, the edges from the samples ---- */

#define HOUR_SECS 3600

static __s64 round_up(__s64 v, __s64 step)
{
	return v % step ? v + step - v % step : v;
}

enum pg_src { SRC_SAMPLES, SRC_HOURS, SRC_DAYS, SRC_OPEN_HOURS };

/* A selector's time range cut into what each source answers. */
struct pg_spans {
	int nr, nr_edges;
	struct pg_span {
		enum pg_src src;
		__s64 from, to;	/* [from, to); 0 and LLONG_MAX: open */
	} v[6];
};

static void add_span(struct pg_spans *sp, enum pg_src src, __s64 from, __s64 to)
{
	sp->v[sp->nr++] = (struct pg_span){ src, from, to };
	sp->nr_edges += src == SRC_SAMPLES;
}

/*
 * Whole days come from the day rollup (plus the hour deltas not yet in it),
 * whole hours from the hour rollup, and only the edges of the range from the
 * samples; the rollups always sum to the samples, so the answer is the same.
 */
static void pg_spans(const struct store_selector *sel, struct pg_spans *sp)
{
	__s64 since = sel->since > 0 ? sel->since : 0;
	__s64 until = sel->until > 0 ? sel->until : LLONG_MAX;
	__s64 h0, h1, d0, d1;

	memset(sp, 0, sizeof(*sp));
	h0 = since > LLONG_MAX - DAY_SECS ? LLONG_MAX : round_up(since, HOUR_SECS);
	h1 = until == LLONG_MAX ? LLONG_MAX : until - until % HOUR_SECS;
	if (h0 >= h1) {
		add_span(sp, SRC_SAMPLES, since, until);
		return;
	}
	if (since < h0)
		add_span(sp, SRC_SAMPLES, since, h0);
	if (h1 < until)
		add_span(sp, SRC_SAMPLES, h1, until);
	d0 = round_up(h0, DAY_SECS);
	d1 = h1 == LLONG_MAX ? LLONG_MAX : h1 - h1 % DAY_SECS;
	if (d0 >= d1) {
		add_span(sp, SRC_HOURS, h0, h1);
		return;
	}
	if (h0 < d0)
		add_span(sp, SRC_HOURS, h0, d0);
	if (d1 < h1)
		add_span(sp, SRC_HOURS, d1, h1);
	add_span(sp, SRC_DAYS, d0, d1);
	add_span(sp, SRC_OPEN_HOURS, d0, d1);
}

/* One part of a union: @src's rows over [from, to), of the runs @runs selects. */
static void w_span(struct pg_where *w, const struct pg_span *span, const char *runs)
{
	static const char *const head[] = {
		[SRC_SAMPLES] = "SELECT ts, run_id, e FROM samples WHERE true",
		[SRC_HOURS] = "SELECT run_id, process_id, stacks, counts FROM rollup_h WHERE true",
		[SRC_DAYS] = "SELECT run_id, process_id, stacks, counts FROM rollup_d WHERE true",
		[SRC_OPEN_HOURS] = ("SELECT run_id, process_id, stacks, counts FROM rollup_h"
				    " WHERE NOT in_day"),
	};
	static const char *const col[] = {
		[SRC_SAMPLES] = "ts", [SRC_HOURS] = "hour", [SRC_DAYS] = "day",
		[SRC_OPEN_HOURS] = "hour",
	};
	char cond[48];

	if (!w->err && w->sql.len && w->sql.buf[w->sql.len - 1] != '(')
		w->err = strbuf__adds(&w->sql, " UNION ALL ");
	if (!w->err)
		w->err = strbuf__adds(&w->sql, head[span->src]);
	snprintf(cond, sizeof(cond), " AND %s >= $%%d", col[span->src]);
	if (span->from > 0)
		w_num(w, cond, span->from);
	snprintf(cond, sizeof(cond), " AND %s < $%%d", col[span->src]);
	if (span->to != LLONG_MAX)
		w_num(w, cond, span->to);
	if (runs && !w->err)
		w->err = strbuf__adds(&w->sql, runs);
}

/*
 * The selector's run conditions as " AND run_id IN (...)" in @runs, their
 * parameters added to @w, or nothing when it has none: repeated in each part
 * of a union, so that each reads only its runs.
 */
static void w_runs(struct pg_where *w, const struct store_selector *sel, struct strbuf *runs)
{
	struct strbuf outer;

	if (!sel->run_id && !sel->nr_hosts && !sel->nr_labels)
		return;
	outer = w->sql;
	w->sql = *runs;
	w->err = w->err ?: strbuf__adds(&w->sql, " AND run_id IN (SELECT r.id FROM runs r"
					" JOIN hosts h ON h.id = r.host_id WHERE true");
	if (sel->run_id)
		w_num(w, " AND r.id = $%d", sel->run_id);
	w_run_conds(w, sel);
	w->err = w->err ?: strbuf__addch(&w->sql, ')');
	*runs = w->sql;
	w->sql = outer;
}

/*
 * " FROM (...) s JOIN processes p" (and with @hosts "... JOIN hosts h"): the
 * counts of the rollups' part of @sp, as rows of (run_id, process_id,
 * stacks, counts). The edges (@sp's samples) are read by pg_edges__read().
 */
static int w_counts_from(struct pg_where *w, const struct store_selector *sel,
			 const struct pg_spans *sp, bool hosts)
{
	struct strbuf runs = STRBUF_INIT;
	int i;

	w_runs(w, sel, &runs);
	w->err = w->err ?: strbuf__adds(&w->sql, " FROM (");
	for (i = 0; i < sp->nr; i++)
		if (sp->v[i].src != SRC_SAMPLES)
			w_span(w, &sp->v[i], runs.buf);
	w->err = w->err ?: strbuf__adds(&w->sql, ") s JOIN processes p ON p.id = s.process_id");
	if (hosts)
		w->err = w->err ?: strbuf__adds(&w->sql, " JOIN runs r ON r.id = s.run_id"
						" JOIN hosts h ON h.id = r.host_id");
	strbuf__release(&runs);
	return w->err;
}

/* ---- reading stacks ---- */

/*
 * Stacks come back in PostgreSQL's binary array format (ndim, flags, element
 * type, then dim and lower bound per dimension, then length and value per
 * element, all big-endian): thousands of stacks of dozens of hashes are
 * neither printed nor parsed as text.
 */
static __s64 be_i64(const char *p)
{
	__u64 v;

	memcpy(&v, p, sizeof(v));
	return (__s64)be64toh(v);
}

/* A binary bigint[] cell: its *@n elements, the first's value at *@first + 4, 12 bytes apart. */
static int barr_cell(PGresult *res, int row, int col, const char **first, int *n)
{
	const char *v = PQgetvalue(res, row, col);
	int len = PQgetlength(res, row, col);
	__u32 ndim, dim;

	*n = 0;
	if (len < 12)
		return -EBADMSG;
	memcpy(&ndim, v, sizeof(ndim));
	if (!ndim)
		return 0;
	if (be32toh(ndim) != 1 || len < 20)
		return -EBADMSG;
	memcpy(&dim, v + 12, sizeof(dim));
	dim = be32toh(dim);
	if (dim > (__u32)(len - 20) / 12)
		return -EBADMSG;
	*first = v + 20;
	*n = (int)dim;
	return 0;
}

/*
 * Rows of (comm, stack, count) for @fn, or with @sfn (store__query_samples)
 * of (host, pid, comm, stack, count), with their frames: statements in one
 * snapshot, all answered in the binary format (no number printed and parsed
 * as text). The first reads the selection's rollup rows as they are stored
 * (stacks and counts, with the process's comm), the edges' bucket rows and
 * their processes come from pg_edges__read(), and all are summed here per
 * group and stack: a hash table in C does in tens of milliseconds what
 * unnesting and grouping hundreds of thousands of entries takes the server
 * seconds to do. Then one statement reads the stacks summed, another the
 * frames they hold, their hashes gathered here too.
 */
enum pg_col { C_COMM, C_HOST, C_PID, C_STACKS, C_COUNTS, C_MAX };
enum pg_scol { S_HASH, S_FRAMES, S_MAX };
enum pg_fcol {
	F_HASH, F_MODULE, F_NAME, F_BUILD_ID, F_ADDR, F_DEPTH, F_FLAGS,
	F_STACKS_MAX,	/* store__query_stacks() leaves the source lines out */
	F_FILE = F_STACKS_MAX, F_LINE, F_START_LINE, F_MAX,
};

#define INT8OID 20
#define INT8ARRAYOID 1016

/* A binary bigint[] parameter of @n hashes. */
static int barr_of(struct strbuf *sb, const __s64 *v, size_t n)
{
	const __u32 head[5] = { htobe32(1), 0, htobe32(INT8OID), htobe32((__u32)n), htobe32(1) };
	const __u32 len = htobe32(8);
	size_t i;
	int err;

	strbuf__setlen(sb, 0);
	err = strbuf__add(sb, head, sizeof(head));
	for (i = 0; !err && i < n; i++) {
		const __u64 be = htobe64((__u64)v[i]);

		err = strbuf__add(sb, &len, sizeof(len)) ?: strbuf__add(sb, &be, sizeof(be));
	}
	return err;
}

static __s64 bin_int(PGresult *res, int row, int col)
{
	const char *v = PQgetvalue(res, row, col);
	__u32 v32;

	if (PQgetisnull(res, row, col))
		return 0;
	if (PQgetlength(res, row, col) == 8)
		return be_i64(v);
	if (PQgetlength(res, row, col) != 4)
		return 0;
	memcpy(&v32, v, sizeof(v32));
	return (__s32)be32toh(v32);
}

/* ---- the samples of a range's edges ---- */

static int get_varint(const unsigned char **pp, const unsigned char *end, __u64 *v)
{
	const unsigned char *p = *pp;
	__u64 x = 0;
	int shift;

	for (shift = 0; p < end && shift < 64; shift += 7) {
		x |= (__u64)(*p & 127) << shift;
		if (!(*p++ & 128)) {
			*v = x;
			*pp = p;
			return 0;
		}
	}
	return -EBADMSG;
}

typedef int (*pg_entry_fn)(void *ctx, __s64 process, __s64 stack, __u64 count);

/*
 * A bucket's row, e: for each process its hash (8 bytes, big-endian, as
 * int8send writes it) and its number of entries (a varint), then the entries:
 * a stack's hash (8 bytes) and its count (a varint). Rows of a bucket written
 * in several batches are such sequences one after another.
 */
static int bucket_entries(const char *e, int len, pg_entry_fn fn, void *ctx)
{
	const unsigned char *p = (const unsigned char *)e, *end = p + len;
	int err = 0;

	while (!err && p < end) {
		__u64 n, count;
		__s64 proc;

		if (end - p < 9)
			return -EBADMSG;
		proc = be_i64((const char *)p);
		p += 8;
		err = get_varint(&p, end, &n);
		if (!err && n > (__u64)(end - p) / 9)
			return -EBADMSG;
		for (; !err && n; n--) {
			__s64 stack;

			if (end - p < 9)
				return -EBADMSG;
			stack = be_i64((const char *)p);
			p += 8;
			err = get_varint(&p, end, &count) ?: fn(ctx, proc, stack, count);
		}
	}
	return err;
}

/*
 * The edges of a selection: the buckets' rows of its samples spans, and the
 * processes they count that the selector's process conditions keep. Reading
 * them is two statements: the rows, then the processes by hash.
 */
struct pg_edges {
	PGresult *rows;		/* E_* */
	PGresult *procs;	/* P_* */
	struct hashmap proc_row;	/* process hash -> row of procs + 1, 0: not selected */
};

enum { E_TS, E_RUN, E_E, E_MAX };
enum { P_ID, P_COMM, P_HOST, P_PID, P_BUILD_ID, P_MAX };

struct proc_ids {
	struct hashmap *seen;
	__s64 *v;
	size_t nr, cap;
};

static int collect_proc(void *ctx, __s64 process, __s64 stack, __u64 count)
{
	struct proc_ids *ids = ctx;
	uint64_t one;

	(void)stack;
	(void)count;
	if (hashmap__get(ids->seen, (uint64_t)process, &one))
		return 0;
	if (ARRAY_GROW(ids->v, ids->cap, ids->nr + 1, 256))
		return -ENOMEM;
	ids->v[ids->nr++] = process;
	return hashmap__set(ids->seen, (uint64_t)process, 0);
}

static void pg_edges__release(struct pg_edges *ed)
{
	PQclear(ed->rows);
	PQclear(ed->procs);
	hashmap__release(&ed->proc_row);
	memset(ed, 0, sizeof(*ed));
}

static int pg_edges__read(struct pg_store *p, const struct store_selector *sel,
			  const struct pg_spans *sp, struct pg_edges *ed)
{
	struct pg_where w = { .sql = STRBUF_INIT };
	struct strbuf runs = STRBUF_INIT, arr = STRBUF_INIT;
	struct proc_ids ids = { .seen = &ed->proc_row };
	Oid types[64] = { INT8ARRAYOID };
	int formats[64] = { 1 }, lengths[64] = { 0 };
	int i, err;

	memset(ed, 0, sizeof(*ed));
	ed->proc_row = (struct hashmap)HASHMAP_INIT;
	w_runs(&w, sel, &runs);
	w.err = w.err ?: strbuf__addch(&w.sql, '(');
	for (i = 0; i < sp->nr; i++)
		if (sp->v[i].src == SRC_SAMPLES)
			w_span(&w, &sp->v[i], runs.buf);
	w.err = w.err ?: strbuf__addch(&w.sql, ')');
	err = w.err;
	err = err ?: pg_query_bin(p, w.sql.buf, w.nr, NULL, w.params, NULL, NULL, E_MAX,
				  "cannot query samples", &ed->rows);
	for (i = 0; !err && i < PQntuples(ed->rows); i++)
		err = bucket_entries(PQgetvalue(ed->rows, i, E_E), PQgetlength(ed->rows, i, E_E),
				     collect_proc, &ids);
	if (err == -EBADMSG)
		pr_warn("PostgreSQL '%s': a row of samples is malformed", p->base.name);
	w_release(&w);
	strbuf__release(&runs);
	/* the processes counted, with the selector's conditions on them */
	w = (struct pg_where){ .sql = STRBUF_INIT };
	w.params[w.nr++] = NULL;	/* $1: the hashes, binary */
	err = err ?: barr_of(&arr, ids.v, ids.nr);
	err = err ?: strbuf__adds(&w.sql, "SELECT p.id, p.comm, h.name, p.pid, p.exe_build_id"
				  " FROM processes p JOIN runs r ON r.id = p.run_id"
				  " JOIN hosts h ON h.id = r.host_id WHERE p.id = ANY($1)");
	err = err ?: w_proc_conds(&w, sel);
	if (!err && ids.nr) {
		w.params[0] = arr.buf;
		lengths[0] = (int)arr.len;
		for (i = 1; i < w.nr; i++)
			formats[i] = 0;
		err = pg_query_bin(p, w.sql.buf, w.nr, types, w.params, lengths, formats, P_MAX,
				   "cannot query processes", &ed->procs);
		for (i = 0; !err && i < PQntuples(ed->procs); i++)
			err = hashmap__set(&ed->proc_row, (uint64_t)bin_int(ed->procs, i, P_ID),
					   (uint64_t)i + 1);
	}
	w_release(&w);
	strbuf__release(&arr);
	free(ids.v);
	if (err)
		pg_edges__release(ed);
	return err;
}

/* The edges' entries of selected processes, each with its bucket and its row of procs. */
typedef int (*pg_edge_fn)(void *ctx, __s64 ts, int proc, __s64 stack, __u64 count);

struct edge_each {
	struct pg_edges *ed;
	__s64 ts;
	pg_edge_fn fn;
	void *ctx;
};

static int edge_entry(void *ctx, __s64 process, __s64 stack, __u64 count)
{
	struct edge_each *ee = ctx;
	uint64_t row;

	if (!hashmap__get(&ee->ed->proc_row, (uint64_t)process, &row) || !row)
		return 0;	/* not selected */
	return ee->fn(ee->ctx, ee->ts, (int)row - 1, stack, count);
}

static int pg_edges__each(struct pg_edges *ed, pg_edge_fn fn, void *ctx)
{
	struct edge_each ee = { .ed = ed, .fn = fn, .ctx = ctx };
	int i, err = 0;

	for (i = 0; !err && ed->rows && i < PQntuples(ed->rows); i++) {
		ee.ts = bin_int(ed->rows, i, E_TS);
		err = bucket_entries(PQgetvalue(ed->rows, i, E_E), PQgetlength(ed->rows, i, E_E),
				     edge_entry, &ee);
	}
	return err;
}

/* One (group, stack) of a selection and its sum, in the order first seen. */
struct pg_sum {
	__s64 stack;
	__u32 group;	/* the row that named the group first */
	__u32 stack_nr;	/* the stack's index among the distinct stacks */
	__u64 count;
};

struct pg_sums {
	struct pg_sum *v;
	size_t nr, cap;
	__s32 *slots;	/* index in v, -1 empty; open addressing */
	size_t nslots;
	struct hashmap stack_idx;	/* stack hash -> index in stacks */
	__s64 *stacks;	/* the distinct stacks, in the order first seen */
	size_t nr_stacks, cap_stacks;
};

static inline size_t sum_slot(__s64 stack, __u32 group)
{
	return hash_u64((__u64)stack ^ ((__u64)group * 0x9e3779b97f4a7c15ULL));
}

static int sums_grow(struct pg_sums *s)
{
	size_t n = s->nslots ? s->nslots * 2 : 4096, i, j;
	__s32 *slots;

	if ((s->nr + 1) * 2 <= s->nslots)
		return 0;
	slots = malloc(n * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	memset(slots, 0xff, n * sizeof(*slots));
	for (i = 0; i < s->nr; i++) {
		for (j = sum_slot(s->v[i].stack, s->v[i].group) & (n - 1); slots[j] >= 0;
		     j = (j + 1) & (n - 1))
			;
		slots[j] = i;
	}
	free(s->slots);
	s->slots = slots;
	s->nslots = n;
	return 0;
}

static int sums_add(struct pg_sums *s, __u32 group, __s64 stack, __u64 count)
{
	size_t mask, i;
	uint64_t nr;
	__s32 at;

	if (sums_grow(s))
		return -ENOMEM;
	mask = s->nslots - 1;
	for (i = sum_slot(stack, group) & mask; (at = s->slots[i]) >= 0; i = (i + 1) & mask) {
		if (s->v[at].stack == stack && s->v[at].group == group) {
			s->v[at].count += count;
			return 0;
		}
	}
	if (ARRAY_GROW(s->v, s->cap, s->nr + 1, 1024))
		return -ENOMEM;
	if (!hashmap__get(&s->stack_idx, (uint64_t)stack, &nr)) {
		nr = s->nr_stacks;
		if (ARRAY_GROW(s->stacks, s->cap_stacks, nr + 1, 1024) ||
		    hashmap__set(&s->stack_idx, (uint64_t)stack, nr))
			return -ENOMEM;
		s->stacks[s->nr_stacks++] = stack;
	}
	s->v[s->nr] = (struct pg_sum){ .stack = stack, .group = group, .stack_nr = nr,
				      .count = count };
	s->slots[i] = s->nr++;
	return 0;
}

static void sums_release(struct pg_sums *s)
{
	free(s->v);
	free(s->slots);
	free(s->stacks);
	hashmap__release(&s->stack_idx);
}

/* A group of sums: a comm, or for store__query_samples a (host, pid, comm). */
struct pg_group {
	const char *comm, *host;	/* borrowed from a result */
	__s64 pid;
};

struct pg_groups {
	struct hashmap by_key;	/* the key's hash (+1 on collision) -> index in v */
	struct strbuf key;
	struct pg_group *v;
	size_t nr, cap;
	bool samples;
};

static int group_of(struct pg_groups *gs, const char *comm, const char *host, __s64 pid,
		    __u32 *group)
{
	uint64_t h, g;
	int err;

	strbuf__setlen(&gs->key, 0);
	err = strbuf__add(&gs->key, comm, strlen(comm) + 1);
	if (!err && gs->samples)
		err = strbuf__addf(&gs->key, "%lld", (long long)pid) ?: strbuf__adds(&gs->key, host);
	if (err)
		return err;
	for (h = str_hash(gs->key.buf, gs->key.len);; h++) {
		const struct pg_group *o;

		if (!hashmap__get(&gs->by_key, h, &g))
			break;
		o = &gs->v[g];
		if (!strcmp(o->comm, comm) &&
		    (!gs->samples || (o->pid == pid && !strcmp(o->host, host)))) {
			*group = (__u32)g;
			return 0;
		}
	}
	if (ARRAY_GROW(gs->v, gs->cap, gs->nr + 1, 64))
		return -ENOMEM;
	gs->v[gs->nr] = (struct pg_group){ comm, host, pid };
	*group = (__u32)gs->nr++;
	return hashmap__set(&gs->by_key, h, *group);
}

static void groups_release(struct pg_groups *gs)
{
	hashmap__release(&gs->by_key);
	strbuf__release(&gs->key);
	free(gs->v);
}

/* The edges' entries into the sums, by their process's group. */
struct edge_sums {
	struct pg_sums *sums;
	struct pg_groups *groups;
	PGresult *procs;
	__s64 *group_of;	/* row of procs -> its group, -1 until asked */
};

static int edge_sum(void *ctx, __s64 ts, int proc, __s64 stack, __u64 count)
{
	struct edge_sums *es = ctx;
	__u32 g;
	int err;

	(void)ts;
	if (es->group_of[proc] < 0) {
		err = group_of(es->groups, PQgetvalue(es->procs, proc, P_COMM),
			       PQgetvalue(es->procs, proc, P_HOST),
			       bin_int(es->procs, proc, P_PID), &g);
		if (err)
			return err;
		es->group_of[proc] = g;
	}
	return sums_add(es->sums, (__u32)es->group_of[proc], stack, count);
}

static int pg_stacks(struct store *st, const struct store_selector *sel, store_stack_fn fn,
		     store_sample_fn sfn, void *ctx)
{
	static const Oid types[1] = { INT8ARRAYOID };
	static const int fmts[1] = { 1 };
	struct pg_store *p = pg(st);
	struct pg_where w = { .sql = STRBUF_INIT };
	struct hashmap frame_idx = HASHMAP_INIT;
	struct pg_groups groups = { .by_key = HASHMAP_INIT, .key = STRBUF_INIT, .samples = !!sfn };
	struct pg_sums sums = { .stack_idx = HASHMAP_INIT };
	struct pg_edges edges = { .proc_row = HASHMAP_INIT };
	struct pg_spans sp;
	struct strbuf arr = STRBUF_INIT;
	struct store_query_frame *qf = NULL, *out = NULL;
	__s64 *hashes = NULL;		/* the frames' hashes, each once */
	int *stack_frames = NULL;	/* each stack's frames as indexes into qf, one after another */
	size_t *stack_off = NULL;	/* stack i: stack_frames[stack_off[i] .. stack_off[i + 1]) */
	size_t nr_refs = 0, cap_refs = 0, cap_out = 0, nr_hashes = 0, cap_hashes = 0, k;
	int *ref_d = NULL;		/* each stacks row's frames by number (hashes[n]) */
	size_t nr_rd = 0, cap_rd = 0;
	size_t *row_ref = NULL;	/* stacks row i: ref_d[row_ref[i] .. row_ref[i + 1]) */
	int *qrow = NULL;		/* frame number -> row of frames, -1 when missing */
	int i, nr = 0, err;
	PGresult *res = NULL, *stacks = NULL, *frames = NULL;
	uint64_t idx;

	pg_spans(sel, &sp);
	err = pg_ready(p);
	/* one snapshot for the statements */
	err = err ?: pg_exec(p, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
			     "cannot query samples");
	if (err)
		goto out;
	if (sp.nr > sp.nr_edges) {
		err = strbuf__addf(&w.sql, "SELECT p.comm, %s, s.stacks, s.counts",
				   sfn ? "h.name, p.pid" : "NULL::text, 0");
		err = err ?: w_counts_from(&w, sel, &sp, sfn);
		err = err ?: strbuf__adds(&w.sql, " WHERE true");
		err = err ?: w_proc_conds(&w, sel);
		err = err ?: pg_query_bin(p, w.sql.buf, w.nr, NULL, w.params, NULL, NULL, C_MAX,
					  "cannot query samples", &res);
		nr = err ? 0 : PQntuples(res);
	}
	/* the sums per group and stack */
	for (i = 0; !err && i < nr; i++) {
		const char *sv = NULL, *cv = NULL;
		int j, ns = 0, nc = 0;
		__u32 group;

		err = barr_cell(res, i, C_STACKS, &sv, &ns) ?:
		      barr_cell(res, i, C_COUNTS, &cv, &nc);
		if (!err && ns != nc)
			err = -EBADMSG;
		err = err ?: group_of(&groups, PQgetvalue(res, i, C_COMM),
				      PQgetvalue(res, i, C_HOST), bin_int(res, i, C_PID), &group);
		for (j = 0; !err && j < ns; j++)
			err = sums_add(&sums, group, be_i64(sv + 12 * j + 4),
				       (__u64)be_i64(cv + 12 * j + 4));
	}
	if (err == -EBADMSG)
		pr_warn("PostgreSQL '%s': a row of samples is malformed", st->name);
	/* the edges' samples */
	if (!err && sp.nr_edges)
		err = pg_edges__read(p, sel, &sp, &edges);
	if (!err && edges.procs) {
		struct edge_sums es = { &sums, &groups, edges.procs, NULL };

		es.group_of = malloc((PQntuples(edges.procs) + 1) * sizeof(*es.group_of));
		if (!es.group_of)
			err = -ENOMEM;
		for (i = 0; !err && i < PQntuples(edges.procs); i++)
			es.group_of[i] = -1;
		err = err ?: pg_edges__each(&edges, edge_sum, &es);
		free(es.group_of);
	}
	/* the stacks summed */
	err = err ?: barr_of(&arr, sums.stacks, sums.nr_stacks);
	if (!err) {
		const char *vals[1] = { arr.buf };
		const int lens[1] = { (int)arr.len };

		err = pg_query_bin(p, "SELECT hash, frames FROM stacks WHERE hash = ANY($1)", 1,
				   types, vals, lens, fmts, S_MAX, "cannot query stacks", &stacks);
	}
	/* the frames they hold, each once; each row's frames by their number among those */
	if (!err && !(row_ref = calloc(PQntuples(stacks) + 1, sizeof(*row_ref))))
		err = -ENOMEM;
	for (i = 0; !err && i < PQntuples(stacks); i++) {
		const char *first = NULL;
		int j, n = 0;

		err = barr_cell(stacks, i, S_FRAMES, &first, &n);
		if (!err && ARRAY_GROW(ref_d, cap_rd, nr_rd + n, 1024))
			err = -ENOMEM;
		for (j = 0; !err && j < n; j++) {
			__s64 h = be_i64(first + 12 * j + 4);

			if (!hashmap__get(&frame_idx, (uint64_t)h, &idx)) {
				idx = nr_hashes;
				err = hashmap__set(&frame_idx, (uint64_t)h, idx) ?:
				      ARRAY_GROW(hashes, cap_hashes, nr_hashes + 1, 1024);
				if (!err)
					hashes[nr_hashes++] = h;
			}
			ref_d[nr_rd++] = (int)idx;
		}
		row_ref[i + 1] = nr_rd;
	}
	err = err ?: barr_of(&arr, hashes, nr_hashes);
	if (!err) {
		const char *vals[1] = { arr.buf };
		const int lens[1] = { (int)arr.len };

		err = pg_query_bin(p, sfn ? "SELECT hash, module, name, build_id, addr, depth,"
				   " flags + CASE WHEN kernel THEN 256 ELSE 0 END, file, line,"
				   " start_line FROM frames WHERE hash = ANY($1)" :
				   "SELECT hash, module, name, build_id, addr, depth,"
				   " flags + CASE WHEN kernel THEN 256 ELSE 0 END"
				   " FROM frames WHERE hash = ANY($1)", 1, types, vals, lens, fmts,
				   sfn ? F_MAX : F_STACKS_MAX, "cannot query frames", &frames);
	}
	PQclear(PQexec(p->conn, "COMMIT"));
	if (err)
		goto out;
	/* the frames as the callbacks take them, strings borrowed from the result */
	qf = calloc(PQntuples(frames) + 1, sizeof(*qf));
	stack_off = calloc(sums.nr_stacks + 1, sizeof(*stack_off));
	qrow = malloc((nr_hashes + 1) * sizeof(*qrow));
	if (!qf || !stack_off || !qrow)
		err = -ENOMEM;
	for (k = 0; !err && k < nr_hashes; k++)
		qrow[k] = -1;	/* a hash the frames did not answer */
	for (i = 0; !err && i < PQntuples(frames); i++) {
		int flags = (int)bin_int(frames, i, F_FLAGS);

		qf[i] = (struct store_query_frame){
			.kernel = flags & 256, .inlined = flags & 1, .jit = flags & 2,
			.python = flags & 4,
			.name = PQgetisnull(frames, i, F_NAME) ? NULL : PQgetvalue(frames, i, F_NAME),
			.module = PQgetvalue(frames, i, F_MODULE),
			.build_id = PQgetvalue(frames, i, F_BUILD_ID),
			.file = sfn ? PQgetvalue(frames, i, F_FILE) : "",
			.addr = (__u64)bin_int(frames, i, F_ADDR),
			.depth = (int)bin_int(frames, i, F_DEPTH),
			.line = sfn ? (int)bin_int(frames, i, F_LINE) : 0,
			.start_line = sfn ? (int)bin_int(frames, i, F_START_LINE) : 0,
			.id = i + 1,
		};
		if (hashmap__get(&frame_idx, (uint64_t)bin_int(frames, i, F_HASH), &idx))
			qrow[idx] = i;
	}
	/* each stack's frames as indexes into qf, by the stack's index among the sums' */
	{
		/* stack -> its row of stacks */
		int *row_of = malloc((sums.nr_stacks + 1) * sizeof(*row_of));

		if (!row_of)
			err = -ENOMEM;
		for (k = 0; !err && k < sums.nr_stacks; k++)
			row_of[k] = -1;
		for (i = 0; !err && i < PQntuples(stacks); i++) {
			__s64 h = bin_int(stacks, i, S_HASH);

			if (!hashmap__get(&sums.stack_idx, (uint64_t)h, &idx))
				continue;	/* not asked for */
			row_of[idx] = i;
		}
		for (k = 0; !err && k < sums.nr_stacks; k++) {
			size_t j, from, to;

			if (row_of[k] < 0) {
				pr_warn("PostgreSQL '%s': samples refer to missing stack %lld",
					st->name, (long long)sums.stacks[k]);
				err = -EBADMSG;
				break;
			}
			from = row_ref[row_of[k]];
			to = row_ref[row_of[k] + 1];
			if (ARRAY_GROW(stack_frames, cap_refs, nr_refs + (to - from), 256)) {
				err = -ENOMEM;
				break;
			}
			for (j = from; j < to; j++) {
				if (qrow[ref_d[j]] < 0) {
					pr_warn("PostgreSQL '%s': a stack refers to missing"
						" frame %lld", st->name,
						(long long)hashes[ref_d[j]]);
					err = -EBADMSG;
					break;
				}
				stack_frames[nr_refs++] = qrow[ref_d[j]];
			}
			stack_off[k + 1] = nr_refs;
		}
		free(row_of);
	}
	for (k = 0; !err && k < sums.nr; k++) {
		const struct pg_sum *sm = &sums.v[k];
		size_t j, n = stack_off[sm->stack_nr + 1] - stack_off[sm->stack_nr];
		const struct pg_group *g = &groups.v[sm->group];

		if (ARRAY_GROW(out, cap_out, n + 1, 64)) {
			err = -ENOMEM;
			break;
		}
		for (j = 0; j < n; j++)
			out[j] = qf[stack_frames[stack_off[sm->stack_nr] + j]];
		if (sfn) {
			struct store_sample_key skey = {
				.host = g->host, .pid = (__u32)g->pid, .comm = g->comm,
			};

			err = sfn(ctx, &skey, out, (int)n, sm->count);
		} else {
			err = fn(ctx, g->comm, out, (int)n, sm->count);
		}
	}
out:
	PQclear(res);
	PQclear(stacks);
	PQclear(frames);
	hashmap__release(&frame_idx);
	groups_release(&groups);
	pg_edges__release(&edges);
	sums_release(&sums);
	strbuf__release(&arr);
	w_release(&w);
	free(hashes);
	free(qf);
	free(out);
	free(stack_frames);
	free(stack_off);
	free(ref_d);
	free(row_ref);
	free(qrow);
	return err;
}

static int pg_query_stacks(struct store *st, const struct store_selector *sel, store_stack_fn fn,
			   void *ctx)
{
	return pg_stacks(st, sel, fn, NULL, ctx);
}

static int pg_query_samples(struct store *st, const struct store_selector *sel,
			    store_sample_fn fn, void *ctx)
{
	return pg_stacks(st, sel, NULL, fn, ctx);
}

/* Sums per bucket of the timeline's step, from the edges' entries. */
struct step_sums {
	__s64 step;
	struct hashmap at;	/* bucket -> index in v */
	struct step_sum {
		__s64 b;
		__u64 n;
	} *v;
	size_t nr, cap;
};

static int step_sum(void *ctx, __s64 ts, int proc, __s64 stack, __u64 count)
{
	struct step_sums *ss = ctx;
	__s64 b = ts / ss->step * ss->step;
	uint64_t i;

	(void)proc;
	(void)stack;
	if (hashmap__get(&ss->at, (uint64_t)b, &i)) {
		ss->v[i].n += count;
		return 0;
	}
	if (ARRAY_GROW(ss->v, ss->cap, ss->nr + 1, 256))
		return -ENOMEM;
	ss->v[ss->nr] = (struct step_sum){ b, count };
	return hashmap__set(&ss->at, (uint64_t)b, ss->nr++);
}

static int cmp_step(const void *a, const void *b)
{
	const struct step_sum *x = a, *y = b;

	return x->b < y->b ? -1 : x->b > y->b;
}

/* A bucket row's entries of the selected processes (@ss->procs) into the step sums. */
struct timeline_row {
	struct step_sums *ss;
	struct hashmap *procs;
	__s64 ts;
};

static int timeline_entry(void *ctx, __s64 process, __s64 stack, __u64 count)
{
	struct timeline_row *tr = ctx;
	uint64_t one;

	if (!hashmap__get(tr->procs, (uint64_t)process, &one))
		return 0;
	return step_sum(tr->ss, tr->ts, 0, stack, count);
}

/*
 * The timeline of a selection with process conditions: the processes
 * selected first, then the bucket rows of the range, a row at a time
 * (PQsetSingleRowMode: a week of a fleet's rows is not held at once), their
 * entries of those processes summed here.
 */
static int timeline_of_processes(struct pg_store *p, const struct store_selector *sel,
				 struct step_sums *ss)
{
	struct pg_where w = { .sql = STRBUF_INIT };
	struct strbuf runs = STRBUF_INIT;
	struct hashmap procs = HASHMAP_INIT;
	struct pg_span span = { SRC_SAMPLES, sel->since > 0 ? sel->since : 0,
				sel->until > 0 ? sel->until : LLONG_MAX };
	struct timeline_row tr = { ss, &procs, 0 };
	PGresult *res = NULL;
	int i, err;

	err = strbuf__adds(&w.sql, "SELECT p.id FROM processes p JOIN runs r ON r.id = p.run_id"
			   " JOIN hosts h ON h.id = r.host_id WHERE true");
	if (!err && sel->run_id)
		w_num(&w, " AND r.id = $%d", sel->run_id);
	w_run_conds(&w, sel);
	err = err ?: w.err ?: w_proc_conds(&w, sel);
	err = err ?: pg_query_bin(p, w.sql.buf, w.nr, NULL, w.params, NULL, NULL, 1,
				  "cannot query processes", &res);
	for (i = 0; !err && i < PQntuples(res); i++)
		err = hashmap__set(&procs, (uint64_t)bin_int(res, i, 0), 1);
	PQclear(res);
	res = NULL;
	w_release(&w);
	w = (struct pg_where){ .sql = STRBUF_INIT };
	w_runs(&w, sel, &runs);
	w_span(&w, &span, runs.buf);
	err = err ?: w.err;
	if (!err && !PQsendQueryParams(p->conn, w.sql.buf, w.nr, NULL, w.params, NULL, NULL, 1))
		err = pg_fail(p, NULL, "cannot query samples");
	else if (!err) {
		if (!PQsetSingleRowMode(p->conn))
			err = pg_fail(p, NULL, "cannot query samples");
		/* every result read, after an error too: the connection stays usable */
		while ((res = PQgetResult(p->conn))) {
			ExecStatusType t = PQresultStatus(res);

			if (!err && t == PGRES_SINGLE_TUPLE) {
				tr.ts = bin_int(res, 0, E_TS);
				err = bucket_entries(PQgetvalue(res, 0, E_E),
						     PQgetlength(res, 0, E_E), timeline_entry, &tr);
				if (err == -EBADMSG)
					pr_warn("PostgreSQL '%s': a row of samples is malformed",
						p->base.name);
			} else if (!err && t != PGRES_TUPLES_OK) {
				err = pg_fail(p, res, "cannot query samples");
			}
			PQclear(res);
		}
	}
	hashmap__release(&procs);
	strbuf__release(&runs);
	w_release(&w);
	return err;
}

static int pg_query_timeline(struct store *st, const struct store_selector *sel, __s64 step,
			     store_timeline_fn fn, void *ctx)
{
	struct pg_store *p = pg(st);
	struct pg_where w = { .sql = STRBUF_INIT };
	struct step_sums ss = { .step = step, .at = HASHMAP_INIT };
	PGresult *res = NULL;
	size_t k;
	int i, err;

	if (step < 1)
		return -EINVAL;
	err = pg_ready(p);
	if (!sel->nr_pids && !sel->comm && !sel->build_id) {
		/* each bucket's total is in its row */
		err = err ?: strbuf__addf(&w.sql, "SELECT (s.ts / %lld) * %lld AS b, sum(s.n)"
			" FROM samples s JOIN runs r ON r.id = s.run_id"
			" JOIN hosts h ON h.id = r.host_id", (long long)step, (long long)step);
		err = err ?: pg_build_where(&w, sel, true);
		err = err ?: strbuf__adds(&w.sql, " GROUP BY b ORDER BY b");
		err = err ?: pg_query(p, w.sql.buf, w.nr, w.params, "cannot query samples", &res);
		for (i = 0; !err && i < PQntuples(res); i++)
			err = fn(ctx, cell_int(res, i, 0), (__u64)cell_int(res, i, 1));
		PQclear(res);
		w_release(&w);
		return err;
	}
	err = err ?: pg_exec(p, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
			     "cannot query samples");
	if (err)
		return err;
	err = timeline_of_processes(p, sel, &ss);
	if (PQstatus(p->conn) == CONNECTION_OK)
		PQclear(PQexec(p->conn, "COMMIT"));
	if (!err && ss.nr)
		qsort(ss.v, ss.nr, sizeof(*ss.v), cmp_step);
	for (k = 0; !err && k < ss.nr; k++)
		err = fn(ctx, ss.v[k].b, ss.v[k].n);
	hashmap__release(&ss.at);
	free(ss.v);
	return err;
}

/* Sums per (executable build id, comm), from the rollups and from the edges. */
struct build_sum {
	const char *build_id, *comm;	/* borrowed from a result */
	__u64 n;
};

struct build_sums {
	struct hashmap at;	/* hash of the key (+1 on collision) -> index in v */
	struct build_sum *v;
	size_t nr, cap;
	PGresult *procs;
};

static int build_add(struct build_sums *bs, const char *build_id, const char *comm, __u64 n)
{
	uint64_t h = str_hash(build_id, strlen(build_id)) * 31 + str_hash(comm, strlen(comm)), i;

	for (;; h++) {
		if (!hashmap__get(&bs->at, h, &i))
			break;
		if (!strcmp(bs->v[i].build_id, build_id) && !strcmp(bs->v[i].comm, comm)) {
			bs->v[i].n += n;
			return 0;
		}
	}
	if (ARRAY_GROW(bs->v, bs->cap, bs->nr + 1, 64))
		return -ENOMEM;
	bs->v[bs->nr] = (struct build_sum){ build_id, comm, n };
	return hashmap__set(&bs->at, h, bs->nr++);
}

static int build_edge(void *ctx, __s64 ts, int proc, __s64 stack, __u64 count)
{
	struct build_sums *bs = ctx;

	(void)ts;
	(void)stack;
	return build_add(bs, PQgetvalue(bs->procs, proc, P_BUILD_ID),
			 PQgetvalue(bs->procs, proc, P_COMM), count);
}

/* Most samples first, then by build id and comm, byte by byte (as SQLite orders them). */
static int cmp_build(const void *a, const void *b)
{
	const struct build_sum *x = a, *y = b;
	int c;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	c = strcmp(x->build_id, y->build_id);
	return c ?: strcmp(x->comm, y->comm);
}

static int pg_query_builds(struct store *st, const struct store_selector *sel, store_build_fn fn,
			   void *ctx)
{
	struct pg_store *p = pg(st);
	struct pg_where w = { .sql = STRBUF_INIT };
	struct build_sums bs = { .at = HASHMAP_INIT };
	struct pg_edges edges = { .proc_row = HASHMAP_INIT };
	struct pg_spans sp;
	PGresult *res = NULL;
	size_t k;
	int i, err;

	pg_spans(sel, &sp);
	err = pg_ready(p);
	err = err ?: pg_exec(p, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
			     "cannot query samples");
	if (err)
		return err;
	if (sp.nr > sp.nr_edges) {
		err = strbuf__adds(&w.sql, "SELECT p.exe_build_id, p.comm, sum(u.count) AS n");
		err = err ?: w_counts_from(&w, sel, &sp, false);
		err = err ?: strbuf__adds(&w.sql, " CROSS JOIN LATERAL unnest(s.counts) AS u(count)"
					  " WHERE true");
		err = err ?: w_proc_conds(&w, sel);
		err = err ?: strbuf__adds(&w.sql, " GROUP BY p.exe_build_id, p.comm");
		err = err ?: pg_query(p, w.sql.buf, w.nr, w.params, "cannot query samples", &res);
	}
	if (!err && sp.nr_edges)
		err = pg_edges__read(p, sel, &sp, &edges);
	PQclear(PQexec(p->conn, "COMMIT"));
	for (i = 0; !err && res && i < PQntuples(res); i++)
		err = build_add(&bs, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
				(__u64)cell_int(res, i, 2));
	bs.procs = edges.procs;
	if (!err && edges.procs)
		err = pg_edges__each(&edges, build_edge, &bs);
	if (!err && bs.nr)
		qsort(bs.v, bs.nr, sizeof(*bs.v), cmp_build);
	for (k = 0; !err && k < bs.nr; k++)
		err = fn(ctx, bs.v[k].build_id, bs.v[k].comm, bs.v[k].n);
	PQclear(res);
	pg_edges__release(&edges);
	hashmap__release(&bs.at);
	free(bs.v);
	w_release(&w);
	return err;
}

/* ---- runs ---- */

static void parse_health(const char *arr, struct store_health *h)
{
	__u64 *vals[] = {
		&h->samples, &h->recorded, &h->dropped, &h->collisions, &h->lost, &h->cpu_ms,
		&h->rss_kb, &h->db_bytes, &h->flushes, &h->flush_errors, &h->user_stacks,
		&h->complete, &h->unnamed, &h->idle, &h->filtered, &h->undrained,
	};
	const char *c = arr + 1;
	char *end;
	size_t i;

	for (i = 0; i < sizeof(vals) / sizeof(vals[0]) && *c && *c != '}'; i++) {
		*vals[i] = strtoull(c, &end, 10);
		c = *end == ',' ? end + 1 : end;
	}
}

/* "{a=1,"b c=2"}" -> "a=1,b c=2" */
static void labels_text(const char *arr, struct strbuf *sb)
{
	const char *c;

	strbuf__setlen(sb, 0);
	strbuf__adds(sb, "");
	for (c = arr + 1; *c && *c != '}'; c++) {
		if (*c == '"')
			continue;
		if (*c == '\\' && c[1])
			c++;
		strbuf__addch(sb, *c);
	}
}

/* The elements of the text array @arr one by one, into @sb; *@n of them at @v (at most @max). */
static int labels_list(const char *arr, struct strbuf *sb, const char **v, int max, int *n)
{
	size_t offs[64];
	const char *c = arr + 1;
	int i;

	*n = 0;
	strbuf__setlen(sb, 0);
	while (*c && *c != '}' && *n < max && *n < 64) {
		offs[(*n)++] = sb->len;
		if (*c == '"') {
			for (c++; *c && *c != '"'; c++) {
				if (*c == '\\' && c[1])
					c++;
				strbuf__addch(sb, *c);
			}
			if (*c == '"')
				c++;
		} else {
			for (; *c && *c != ',' && *c != '}'; c++)
				strbuf__addch(sb, *c);
		}
		strbuf__addch(sb, '\0');
		if (*c == ',')
			c++;
	}
	if (*n && !sb->buf)
		return -ENOMEM;
	for (i = 0; i < *n; i++)
		v[i] = sb->buf + offs[i];
	return 0;
}

static int pg_list_runs(struct store *st, const struct store_selector *sel, store_run_fn fn,
			void *ctx)
{
	struct strbuf lbuf = STRBUF_INIT;
	const char *lv[64];
	struct pg_store *p = pg(st);
	struct pg_where w = { .sql = STRBUF_INIT };
	struct strbuf labels = STRBUF_INIT;
	struct store_run_info ri;
	PGresult *res = NULL;
	int i, err;

	err = pg_ready(p);
	err = err ?: strbuf__adds(&w.sql,
		"SELECT r.id, r.kind, h.name, r.cmdline, r.freq, r.start_ms, r.end_ms, r.labels,"
		" a.first, a.last, b.n, ah.run_id, ah.updated_ms, ah.pid, ah.vals, r.last_report_ms"
		" FROM runs r JOIN hosts h ON h.id = r.host_id"
		" LEFT JOIN LATERAL (SELECT min(s.ts) AS first, max(s.ts) AS last FROM samples s"
		" WHERE s.run_id = r.id) a ON true"
		/* the hour rollup holds every count: its sum is the run's */
		" LEFT JOIN LATERAL (SELECT sum((SELECT sum(c) FROM unnest(rh.counts) c)) AS n"
		" FROM rollup_h rh WHERE rh.run_id = r.id) b ON true"
		" LEFT JOIN agent_health ah ON ah.run_id = r.id");
	err = err ?: pg_build_where(&w, sel, false);
	err = err ?: strbuf__adds(&w.sql, " ORDER BY r.id");
	err = err ?: pg_query(p, w.sql.buf, w.nr, w.params, "cannot list runs", &res);
	for (i = 0; !err && i < PQntuples(res); i++) {
		memset(&ri, 0, sizeof(ri));
		ri.id = cell_int(res, i, 0);
		ri.kind = PQgetvalue(res, i, 1);
		ri.host = PQgetvalue(res, i, 2);
		ri.cmdline = PQgetvalue(res, i, 3);
		ri.freq = cell_int(res, i, 4);
		ri.start_ms = cell_int(res, i, 5);
		ri.end_ms = cell_int(res, i, 6);
		labels_text(PQgetvalue(res, i, 7), &labels);
		ri.labels = labels.buf ?: "";
		err = labels_list(PQgetvalue(res, i, 7), &lbuf, lv, 64, &ri.nr_labels);
		ri.label_list = lv;
		ri.first_ts = cell_int(res, i, 8);
		ri.last_ts = cell_int(res, i, 9);
		ri.samples = cell_int(res, i, 10);
		ri.last_report_ms = cell_int(res, i, 15);
		ri.has_health = !PQgetisnull(res, i, 11);
		if (ri.has_health) {
			ri.health.updated_ms = cell_int(res, i, 12);
			ri.health.pid = cell_int(res, i, 13);
			parse_health(PQgetvalue(res, i, 14), &ri.health);
		}
		err = err ?: fn(ctx, &ri);
	}
	PQclear(res);
	strbuf__release(&lbuf);
	strbuf__release(&labels);
	w_release(&w);
	return err;
}

static int pg_last_run(struct store *st, __s64 *run_id)
{
	struct pg_store *p = pg(st);
	PGresult *res;
	int err = pg_ready(p) ?: pg_query(p, "SELECT max(id) FROM runs", 0, NULL,
					   "cannot read runs", &res);

	if (!err) {
		*run_id = cell_int(res, 0, 0);
		PQclear(res);
	}
	return err;
}

/* ---- retention and size ---- */

/*
 * Detach and drop the day partitions wholly before @before (writers of other
 * days go on: DETACH ... CONCURRENTLY), then what only they used: rows whose
 * seen_day is before that day. A writer touching a frame, stack or process
 * moves its seen_day forward under a row lock, so gc never takes what a batch
 * being written uses.
 */
static int pg_expire(struct store *st, __s64 before, __u64 *deleted)
{
	struct pg_store *p = pg(st);
	char sql[256], cut[24];
	const char *params[] = { cut };
	__s64 cut_day = before / DAY_SECS;
	PGresult *res = NULL;
	__u64 n = 0;
	int i, err;

	err = pg_ready(p);
	snprintf(cut, sizeof(cut), "%lld", (long long)cut_day);
	/*
	 * the rollups of the expired days first, in one statement:
	 * until their partitions are gone, readers may see those days' edges
	 * but never rollups counting samples already dropped, and a gc that
	 * fails after this leaves what the next one drops
	 */
	snprintf(sql, sizeof(sql), "%lld", (long long)cut_day * DAY_SECS);
	params[0] = sql;
	if (!err) {
		err = pg_query(p, "WITH a AS (DELETE FROM rollup_h WHERE hour < $1::bigint)"
			       " DELETE FROM rollup_d WHERE day < $1::bigint", 1, params,
			       "cannot expire samples", &res);
		if (!err)
			PQclear(res);
		res = NULL;
	}
	params[0] = cut;
	err = err ?: pg_query(p, "SELECT c.relname, substr(c.relname, 10)::bigint FROM pg_inherits i"
			      " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent ="
			      " 'samples'::regclass AND c.relname ~ '^samples_d[0-9]+$'"
			      " AND substr(c.relname, 10)::bigint < $1::bigint ORDER BY 2", 1, params,
			      "cannot list partitions", &res);
	for (i = 0; !err && res && i < PQntuples(res); i++) {
		PGresult *cnt;

		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", PQgetvalue(res, i, 0));
		err = pg_query(p, sql, 0, NULL, "cannot expire samples", &cnt);
		if (!err) {
			n += cell_int(cnt, 0, 0);
			PQclear(cnt);
		}
		snprintf(sql, sizeof(sql), "ALTER TABLE samples DETACH PARTITION %s CONCURRENTLY",
			 PQgetvalue(res, i, 0));
		err = err ?: pg_exec(p, sql, "cannot detach a partition");
		snprintf(sql, sizeof(sql), "DROP TABLE %s", PQgetvalue(res, i, 0));
		err = err ?: pg_exec(p, sql, "cannot drop a partition");
	}
	PQclear(res);
	if (!err) {
		err = pg_query(p, "WITH a AS (DELETE FROM processes WHERE seen_day < $1::integer),"
			       " b AS (DELETE FROM stacks WHERE seen_day < $1::integer)"
			       " DELETE FROM frames WHERE seen_day < $1::integer", 1, params,
			       "cannot collect garbage", &res);
		if (!err)
			PQclear(res);
	}
	if (!err) {
		err = pg_query(p, "DELETE FROM runs r WHERE end_ms != 0 AND end_ms < $1::bigint *"
			       " 86400000 AND NOT EXISTS (SELECT 1 FROM processes p"
			       " WHERE p.run_id = r.id)", 1, params, "cannot expire runs", &res);
		if (!err)
			PQclear(res);
	}
	hashmap__release(&p->days);
	hashmap__release(&p->sent);
	if (deleted)
		*deleted = err ? 0 : n;
	return err;
}

static int pg_used_bytes(struct store *st, __u64 *bytes)
{
	struct pg_store *p = pg(st);
	PGresult *res;
	int err = pg_ready(p) ?: pg_query(p,
		"SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
		" WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace",
		0, NULL, "cannot measure the database", &res);

	if (!err) {
		*bytes = cell_int(res, 0, 0);
		PQclear(res);
	}
	return err;
}

/* The database's size on the server's disk. */
static int pg_file_bytes(struct store *st, __u64 *bytes)
{
	struct pg_store *p = pg(st);
	PGresult *res;
	int err = pg_ready(p) ?: pg_query(p, "SELECT pg_database_size(current_database())", 0,
					   NULL, "cannot measure the database", &res);

	if (!err) {
		*bytes = cell_int(res, 0, 0);
		PQclear(res);
	}
	return err;
}

static int pg_measure(struct store *st, struct store_measure *m)
{
	struct pg_store *p = pg(st);
	PGresult *res;
	int err;

	memset(m, 0, sizeof(*m));
	err = pg_used_bytes(st, &m->used_bytes);
	err = err ?: pg_query(p,
		"SELECT (SELECT coalesce(sum(n), 0) FROM samples), (SELECT count(*) FROM samples),"
		" (SELECT count(DISTINCT ts) FROM samples), (SELECT count(*) FROM stacks),"
		" (SELECT count(*) FROM frames), (SELECT count(*) FROM processes),"
		" (SELECT count(*) FROM runs),"
		" (SELECT coalesce(sum(pg_total_relation_size(i.inhrelid)), 0) FROM pg_inherits i"
		" WHERE i.inhparent = 'samples'::regclass)", 0, NULL,
		"cannot measure the database", &res);
	if (!err) {
		m->samples = cell_int(res, 0, 0);
		m->sample_rows = cell_int(res, 0, 1);
		m->buckets = cell_int(res, 0, 2);
		m->stacks = cell_int(res, 0, 3);
		m->frames = cell_int(res, 0, 4);
		m->processes = cell_int(res, 0, 5);
		m->runs = cell_int(res, 0, 6);
		m->sample_table_bytes = cell_int(res, 0, 7);
		PQclear(res);
	}
	return err;
}

static const struct store_ops pg_ops = {
	.name = "postgresql",
	.free = pg_free,
	.schema_version = pg_schema_version,
	.add_run = pg_add_run,
	.end_run = pg_end_run,
	.write_batch = pg_write_batch,
	.put_health = pg_put_health,
	.shipped_until = pg_shipped_until,
	.expire = pg_expire,
	.used_bytes = pg_used_bytes,
	.file_bytes = pg_file_bytes,
	.query_stacks = pg_query_stacks,
	.query_samples = pg_query_samples,
	.query_timeline = pg_query_timeline,
	.query_builds = pg_query_builds,
	.list_runs = pg_list_runs,
	.last_run = pg_last_run,
	.measure = pg_measure,
};
