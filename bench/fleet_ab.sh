#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Two profile builds in turn on the same fleet data (bench/fleet.sh with
# FLEET_KEEP, the server started on it by hand): each of bench/fleet.sh's
# queries run by one build then the other, ROUNDS times, so both see the same
# machine; prints the median and minimum wall time of each and says when the
# two outputs differ. The data's databases may differ (one copy per schema).
#   usage: bench/fleet_ab.sh OLD_PROFILE OLD_DB NEW_PROFILE NEW_DB T0 [ROUNDS]
# T0 is the 't0' line bench/fleet.sh printed when it wrote the data.
set -eu

old=$1 dbo=$2 new=$3 dbn=$4 t0=$5 n=${6:-5}
a0=$(( (t0 / 3600 + 1) * 3600 ))
m0=$((a0 + 1800))
dir=$(mktemp -d /tmp/profile-fleet-ab-XXXXXX)
trap 'rm -rf "$dir"' EXIT INT TERM

ms() { date +%s%N; }
stats() { sort -n | awk '{v[NR] = $1} END {printf "median %d min %d ms", v[int((NR + 1) / 2)], v[1]}'; }
q() {
	what=$1 cmd=$2
	shift 2
	: >"$dir/old.t"
	: >"$dir/new.t"
	for i in $(seq "$n"); do
		for b in old new; do
			if [ $b = old ]; then bin=$old db=$dbo; else bin=$new db=$dbn; fi
			s=$(ms)
			"$bin" "$cmd" --db "$db" "$@" >"$dir/$b.out" 2>&1 || echo "$b failed: $(head -1 "$dir/$b.out")"
			echo $(( ($(ms) - s) / 1000000 )) >>"$dir/$b.t"
		done
		cmp -s "$dir/old.out" "$dir/new.out" || echo "$what: the outputs differ"
	done
	echo "$what: old $(stats <"$dir/old.t"); new $(stats <"$dir/new.t"); load $(cut -d' ' -f1 /proc/loadavg)"
}
q "top, one host, one hour (on the clock)" top --host host017 --since "@$a0" --until "@$((a0 + 3600))"
q "flamegraph, one host, one hour (on the clock)" flamegraph --host host017 --since "@$a0" \
	--until "@$((a0 + 3600))" -o -
q "top, one host, one hour (from :30 to :30)" top --host host017 --since "@$m0" \
	--until "@$((m0 + 3600))"
q "top, all hosts, whole span" top
q "flamegraph, all hosts, whole span" flamegraph -o -
q "top, all hosts, whole span, --comm java" top --comm java
q "top, all hosts, from :30 of the first hour" top --since "@$m0"
