#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Symbolization benchmark: N random code addresses (default 100000) of the
# sqlite3 shell built -O2 -g from the amalgamation (one huge compile unit),
# resolved with inline chains by each tool as one process over all of them:
#   profile symbolize --inlines, llvm-symbolizer --inlining,
#   addr2line -f -i (binutils), eu-addr2line -f -i (on a subset: it is slow).
# Prints addresses/s and peak RSS per tool, the ratios, and how many
# addresses give the same function names and inline chains as binutils.
#
# usage: bench/symbolize.sh BUILD_DIR [N] [RUNS]
set -eu
out=$(cd "$1" && pwd)
n=${2:-100000}
runs=${3:-3}
work="$out/bench/symbolize"
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$work"
cd "$work"

# the sqlite amalgamation, from the npm registry's sqlite3 package
if [ ! -f sqlite/shell.c ]; then
	echo "fetching the sqlite3 amalgamation (npm pack sqlite3@5.1.7)" >&2
	npm pack --silent sqlite3@5.1.7 >/dev/null
	tar xzf sqlite3-5.1.7.tgz package/deps
	tar xzf package/deps/sqlite-autoconf-*.tar.gz
	rm -rf sqlite package sqlite3-5.1.7.tgz
	mv sqlite-autoconf-* sqlite
fi
if [ ! -x sqlite3-shell ]; then
	echo "building the sqlite3 shell with -O2 -g" >&2
	gcc -O2 -g -DSQLITE_THREADSAFE=0 sqlite/shell.c sqlite/sqlite3.c -o sqlite3-shell -lm
fi
gcc -O2 -o measure "$src/bench/measure.c"
bin="$work/sqlite3-shell"
echo "binary: $(du -h "$bin" | cut -f1) ($bin)"

# N addresses, uniform over the bytes of function symbols, fixed seed
nm -S --defined-only "$bin" | awk -v n="$n" '
	function hex(h,  i, v) { v = 0; h = tolower(h)
		for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
		return v }
	BEGIN { k = 0 }
	NF == 4 && $3 ~ /^[tTwW]$/ { s[k] = hex($1); t += hex($2); c[k] = t; k++ }
	END { srand(1)
		for (i = 0; i < n; i++) {
			r = int(rand() * t); lo = 0; hi = k - 1
			while (lo < hi) { m = int((lo + hi) / 2); if (c[m] > r) hi = m; else lo = m + 1 }
			printf "0x%x\n", s[lo] + r - (lo ? c[lo - 1] : 0) } }' > addrs.all
head -n 1000 addrs.all > addrs.1k
echo "addresses: $(wc -l < addrs.all) (eu-addr2line: first 1000)"

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# run TOOL_NAME ADDR_FILE COMMAND...: median wall time and max RSS over $runs runs
run() {
	name=$1 file=$2
	shift 2
	: > "$name.times"
	i=0
	while [ $i -lt "$runs" ]; do
		./measure "$file" "$name.out" "$@" >> "$name.times" || { echo "$name failed" >&2; return 1; }
		i=$((i + 1))
	done
	wall=$(cut -d' ' -f1 "$name.times" | median)
	rss=$(cut -d' ' -f4 "$name.times" | sort -n | tail -1)
	cnt=$(wc -l < "$file")
	rate=$(awk -v c="$cnt" -v w="$wall" 'BEGIN { printf "%.0f", c / w }')
	printf '%-22s %8s addr/s  %6.1f s  %6.1f MB RSS\n' "$name" "$rate" "$wall" "$(awk -v r="$rss" 'BEGIN { print r / 1024 }')"
	echo "$name $rate $rss" >> results
}

: > results
run profile addrs.all "$out/profile" symbolize -i -e "$bin"
run llvm-symbolizer addrs.all llvm-symbolizer --inlining "--obj=$bin"
run addr2line addrs.all addr2line -f -i -a -e "$bin"
run eu-addr2line addrs.1k eu-addr2line -f -i -a -e "$bin"

awk '{ rate[$1] = $2; rss[$1] = $3 } END {
	printf "profile vs llvm-symbolizer: %.2fx the speed, %.2fx the memory\n", rate["profile"] / rate["llvm-symbolizer"], rss["profile"] / rss["llvm-symbolizer"]
	printf "profile vs addr2line:       %.2fx the speed, %.2fx the memory\n", rate["profile"] / rate["addr2line"], rss["profile"] / rss["addr2line"]
	printf "profile vs eu-addr2line:    %.0fx the speed\n", rate["profile"] / rate["eu-addr2line"] }' results

# agreement with binutils: function-name chains per address
awk '/^0x/ { if (a != "") print a "\t" c; a = $0; c = ""; k = 0; next }
     { if (k++ % 2 == 0) c = c (c == "" ? "" : ";") $0 } END { print a "\t" c }' addr2line.out |
	sed 's/^0x0*/0x/' > chains.binutils
awk '/^0x/ { if (a != "") print a "\t" c; a = $0; c = ""; next }
     { sub(/ at [^ ]*$/, ""); sub(/ at [^ ]* \(inlined\)$/, ""); c = c (c == "" ? "" : ";") $0 }
     END { print a "\t" c }' profile.out > chains.profile
total=$(wc -l < chains.binutils)
same=$(paste chains.binutils chains.profile | awk -F'\t' '$2 == $4' | wc -l)
echo "same function names and inline chains as binutils addr2line: $same of $total"
paste chains.binutils chains.profile | awk -F'\t' '$2 != $4' | head -5 > mismatches.txt
[ -s mismatches.txt ] && { echo "first differences (binutils | profile):"; cat mismatches.txt; }
exit 0
