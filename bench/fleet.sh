#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The fleet benchmark: a PostgreSQL server of its own (initdb in a temporary
# directory, a Unix socket, removed at the end), batches of HOSTS hosts over
# HOURS hours of 10-s buckets written by bench/fleet.c as agents ship them,
# then bytes per sample on disk (samples, rollups and all) and the latency of
# `top` and `flamegraph` for one host over one hour and for all hosts over the
# whole span, beside the targets.
#   usage: bench/fleet.sh OUTPUT [HOSTS] [HOURS] [SAMPLES_PER_BUCKET] [BUCKETS_PER_BATCH]
# With FLEET_KEEP=DIR the server's directory is DIR and is kept (the server
# stopped); a later run with the same DIR skips the writing and measures again.
set -eu

out=$1
hosts=${2:-50}
hours=${3:-24}
# a mostly idle fleet's hosts (10 samples a second), 5 minutes a batch: a day
# of 50 hosts is 43 M samples, about 10 minutes to write on 2 cores
per_bucket=${4:-100}
per_batch=${5:-30}
bin=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
keep=${FLEET_KEEP:-}
if [ -n "$keep" ]; then
	mkdir -p "$keep"
	dir=$(cd "$keep" && pwd)
else
	dir=$(mktemp -d /tmp/profile-fleet-bench-XXXXXX)
fi
port=$((20000 + $$ % 40000))
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
	as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	[ -n "$keep" ] || rm -rf "$dir"
}
trap cleanup EXIT INT TERM
[ "$(id -u)" = 0 ] && chown postgres "$dir"
[ -f "$dir/data/PG_VERSION" ] ||
	as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >/dev/null
as_pg "$bin/pg_ctl" -D "$dir/data" -w -l "$dir/server.log" \
	-o "-k $dir -p $port -c listen_addresses='' -c shared_buffers=256MB" start >/dev/null
db="host=$dir port=$port dbname=postgres user=postgres"

echo "== ingest: $hosts hosts, $hours h of 10-s buckets, $per_bucket samples per host-bucket," \
	"$per_batch buckets per batch (one pipeline round trip each)"
if [ -f "$dir/gen.txt" ] && grep -q '^t0 ' "$dir/gen.txt"; then
	echo "(written before, in $dir:)"
	cat "$dir/gen.txt"
	# a writer's open migrates the schema of an older profile
	"$out/profile" gc --db "$db" --retention 3650d >/dev/null
else
	"$out/bench/fleet" "$db" "$hosts" "$hours" "$per_bucket" 3000 "$per_batch" |
		tee "$dir/gen.txt"
fi
t0=$(sed -n 's/^t0 //p' "$dir/gen.txt")

echo "== on disk"
# the samples counted from the hour rollup (it always sums to them), whichever the schema
"$bin/psql" -X -q -h "$dir" -p "$port" -U postgres -At -F ' ' -c "
	CREATE TEMP TABLE total AS SELECT sum(c) AS n FROM rollup_h, unnest(counts) c;
	SELECT 'schema version:', max(version) FROM profile_schema;
	SELECT 'samples:', n FROM total;
	SELECT 'samples (table+indexes, all partitions):', sum(pg_total_relation_size(inhrelid)),
	  'rows:', (SELECT count(*) FROM samples)
	  FROM pg_inherits WHERE inhparent = 'samples'::regclass;
	SELECT 'stacks:', pg_total_relation_size('stacks'), 'frames:', pg_total_relation_size('frames'),
	  'processes:', pg_total_relation_size('processes'),
	  'shipped marks:', coalesce(pg_total_relation_size(to_regclass('shipped')), 0);
	SELECT 'rollups: hour', pg_total_relation_size('rollup_h'), (SELECT count(*) FROM rollup_h), 'rows,',
	  'day', pg_total_relation_size('rollup_d'), (SELECT count(*) FROM rollup_d), 'rows';
	SELECT 'bytes per sample, samples table:', round(sum(pg_total_relation_size(inhrelid))::numeric /
	  (SELECT n FROM total), 2) FROM pg_inherits WHERE inhparent = 'samples'::regclass;
	SELECT 'bytes per sample, everything:', round((SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
	  WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace)::numeric /
	  (SELECT n FROM total), 2);"

ms() { date +%s%N; }
timed() {
	what=$1
	shift
	best=
	for i in 1 2 3; do
		s=$(ms)
		"$@" >/dev/null
		e=$(( ($(ms) - s) / 1000000 ))
		[ -z "$best" ] || [ "$e" -lt "$best" ] && best=$e
	done
	echo "$what: best of 3: $best ms"
}
# an hour on the clock (from the rollups), and one that starts mid-hour (two edges from the samples)
a0=$(( (t0 / 3600 + 1) * 3600 ))
m0=$((a0 + 1800))
echo "== queries (targets: one host-hour under 100 ms, all hosts over a day under 2000 ms)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
timed "top, one host, one hour (on the clock)" "$out/profile" top --db "$db" --host host017 \
	--since "@$a0" --until "@$((a0 + 3600))"
timed "flamegraph, one host, one hour (on the clock)" "$out/profile" flamegraph --db "$db" \
	--host host017 --since "@$a0" --until "@$((a0 + 3600))" -o "$dir/h.svg"
timed "top, one host, one hour (from :30 to :30)" "$out/profile" top --db "$db" --host host017 \
	--since "@$m0" --until "@$((m0 + 3600))"
timed "top, all hosts, whole span" "$out/profile" top --db "$db"
timed "flamegraph, all hosts, whole span" "$out/profile" flamegraph --db "$db" -o "$dir/all.svg"
timed "top, all hosts, whole span, --comm java" "$out/profile" top --db "$db" --comm java
timed "top, all hosts, from :30 of the first hour (edges from the samples)" "$out/profile" top \
	--db "$db" --since "@$m0"
