#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Two builds of the agent side by side on the same load, at the same time: the
# fair comparison on a shared, noisy host (bench/agent.sh runs one agent, then
# perf, one after the other). Both run SECONDS at 99 Hz; /proc/PID/status is
# polled every 0.25 s for the largest anonymous and file-backed RSS seen.
# Reported per agent: VmHWM, the largest RssAnon and RssFile, RssAnon at the
# end, user+sys clock ticks, and its own summary lines.
# usage: [LOAD=churn|steady] bench/agent_ab.sh OLD_PROFILE NEW_PROFILE [SECONDS]
set -euo pipefail

old=$1 new=$2 secs=${3:-60}
work=$(mktemp -d /tmp/agent-ab-XXXXXX)
src=$(cd "$(dirname "$0")/.." && pwd)
. "$(dirname "$0")/lib.sh"
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null; rm -rf "$work"' EXIT
[ "$(id -u)" -eq 0 ] || { echo "agent_ab: run as root (BPF, perf events)" >&2; exit 1; }

case ${LOAD:=churn} in
churn)
	churn_loop "$work"
	;;
steady)
	wl=${WL_SPLIT:-$src/build/workloads/wl_split}
	[ -x "$wl" ] || { echo "agent_ab: no '$wl' (set WL_SPLIT)" >&2; exit 1; }
	"$wl" $((secs + 30)) "$work/t1" & "$wl" $((secs + 30)) "$work/t2" &
	;;
*)
	echo "agent_ab: LOAD is churn or steady, not '$LOAD'" >&2
	exit 2
	;;
esac

# $1: pid, $2: file -> "time anon_kb file_kb" lines while the process lives
poll() {
	while [ -d "/proc/$1" ]; do
		awk -v t="$(date +%s.%N)" '/^RssAnon/ {a = $2} /^RssFile/ {f = $2}
			END {if (a != "") print t, a, f}' "/proc/$1/status" 2>/dev/null >>"$2" || break
		sleep 0.25
	done
}

"$old" agent --db "$work/old.db" -F 99 --stats-interval 0 2>"$work/old.log" &
a=$!
"$new" agent --db "$work/new.db" -F 99 --stats-interval 0 2>"$work/new.log" &
b=$!
poll $a "$work/old.rss" &
poll $b "$work/new.rss" &
# user+sys clock ticks of process $1
ticks() {
	sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}
# the steady state: from 10 s in (the verifier and the first tables are done) to the end
sleep 10
t0_old=$(ticks $a)
t0_new=$(ticks $b)
sleep $((secs > 10 ? secs - 10 : 0))
for who in old new; do
	pid=$([ $who = old ] && echo $a || echo $b)
	hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
	anon=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status")
	t=$(ticks $pid)
	t0=$([ $who = old ] && echo $t0_old || echo $t0_new)
	echo "$who: peak RSS $((hwm / 1024)) MB, largest anon $(sort -k2 -n "$work/$who.rss" |
		tail -1 | awk '{print int($2 / 1024)}') MB, largest file $(sort -k3 -n \
		"$work/$who.rss" | tail -1 | awk '{print int($3 / 1024)}') MB, anon at the end $((anon / 1024)) MB, user+sys $t ticks, $((t - t0)) from 10 s on"
done
kill -TERM $a $b
wait $a $b || true
echo "load $(cut -d' ' -f1-3 /proc/loadavg), builds $(cat "$work/builds" 2>/dev/null | wc -l)"
for who in old new; do
	grep -h "samples taken\|unwind tables:" "$work/$who.log" | sed "s/^/$who /"
done
