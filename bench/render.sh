#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Rendering benchmark: folded files of 10k, 100k and 1M lines (41 frames a
# line, ~1.4 KB a line: the 1M file is ~1.4 GB) rendered to SVG by
# `profile flamegraph`, with wall time and peak memory; flamegraph.pl on the
# same files when it is installed, or named by FLAMEGRAPH_PL (only up to 100k
# lines: it needs minutes and ~16 GB for 1M). Also `profile import
# perf-script` throughput. CPU is user + system seconds (all threads): on a
# busy machine it says more than the wall time.
# usage: [FLAMEGRAPH_PL=path/flamegraph.pl] bench/render.sh BUILD_DIR
set -eu
out=$1
dir=$out/bench
mkdir -p "$dir"
gen=$dir/gen_stacks
${CC:-cc} -O2 -o "$gen" bench/gen_stacks.c

measure() {	# label, command...: prints wall seconds, CPU seconds and peak RSS
	label=$1
	shift
	/usr/bin/time -f "%e %U %S %M" -o "$dir/time.txt" "$@" >/dev/null 2>"$dir/err.txt" || {
		echo "$label: failed: $(tail -1 "$dir/err.txt")"
		return 0
	}
	read -r secs user sys kb <"$dir/time.txt"
	printf '  %-36s %8.2f s  CPU %6.2f s  %7d MB\n' "$label" "$secs" \
		"$(awk "BEGIN { print $user + $sys }")" $((kb / 1024))
}

echo "profile flamegraph (streaming, default --min-width 0.1):"
for n in 10000 100000 1000000; do
	f=$dir/stacks-$n.folded
	[ -s "$f" ] || "$gen" folded "$n" >"$f"
	size=$(du -m "$f" | cut -f1)
	cat "$f" >/dev/null	# page cache: time the renderer, not the disk
	measure "$n lines ($size MB)" "$out/profile" flamegraph "$f" -o "$dir/out-$n.svg"
	frames=$(grep -c '<rect class="f' "$dir/out-$n.svg" || true)
	echo "      $frames frames drawn, SVG $(du -k "$dir/out-$n.svg" | cut -f1) KB"
done

fgpl=${FLAMEGRAPH_PL:-flamegraph.pl}
if command -v "$fgpl" >/dev/null 2>&1 || [ -f "$fgpl" ]; then
	echo "flamegraph.pl:"
	for n in 10000 100000; do
		measure "$n lines" perl "$(command -v "$fgpl" || echo "$fgpl")" "$dir/stacks-$n.folded"
	done
else
	echo "flamegraph.pl: not installed (no Debian package ships it), skipped"
fi

echo "profile import perf-script:"
f=$dir/perf-script.txt
[ -s "$f" ] || "$gen" perf-script 20000 >"$f"
size=$(du -m "$f" | cut -f1)
cat "$f" >/dev/null
for i in 1 2 3; do
	measure "$size MB of perf script, run $i" "$out/profile" import perf-script "$f"
done
if command -v stackcollapse-perf.pl >/dev/null 2>&1; then
	measure "stackcollapse-perf.pl, $size MB" stackcollapse-perf.pl "$f"
else
	echo "  stackcollapse-perf.pl: not installed (no Debian package ships it), skipped"
fi
