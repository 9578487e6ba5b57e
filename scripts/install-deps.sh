#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages that are missing, and only those:
#   install-deps.sh build   what `make` needs to build the binary (the default)
#   install-deps.sh test    that, and what the tests need (perf, chromium, npm,
#                           debuginfod, man-db, cmocka ...)
# Called by the Makefile; safe to run by hand. apt-get update runs only when
# something is missing.
set -eu

what=${1:-build}
case $what in
build | test) ;;
*)
	echo "usage: install-deps.sh [build|test]" >&2
	exit 2
	;;
esac

PKG_CONFIG=${PKG_CONFIG:-pkg-config}
need=""

# pkg-config module -> Debian package
pc_build="libbpf:libbpf-dev libelf:libelf-dev libdw:libdw-dev jansson:libjansson-dev
	libprotobuf-c:libprotobuf-c-dev zlib:zlib1g-dev sqlite3:libsqlite3-dev libzstd:libzstd-dev
	libmicrohttpd:libmicrohttpd-dev libpq:libpq-dev libxxhash:libxxhash-dev"
pc_test="cmocka:libcmocka-dev"
# header -> Debian package, for libraries without a pkg-config file
hdr_build="/usr/include/libiberty/demangle.h:libiberty-dev"
file_test="/usr/bin/python3:python3"
# command -> Debian package
cmd_build="clang:clang bpftool:bpftool gcc:gcc make:make protoc-c:protobuf-c-compiler
	sed:sed install:coreutils"
cmd_test="g++:g++ eu-addr2line:elfutils eu-readelf:elfutils xmllint:libxml2-utils
	debuginfod:debuginfod addr2line:binutils objcopy:binutils protoc:protobuf-compiler
	perf:linux-perf chromium:chromium node:nodejs npm:npm man:man-db go:golang-go"

pc=$pc_build cmds=$cmd_build
if [ "$what" = test ]; then
	pc="$pc $pc_test"
	cmds="$cmds $cmd_test"
fi

command -v "$PKG_CONFIG" >/dev/null 2>&1 || need="$need pkg-config"
for pair in $pc; do
	if ! command -v "$PKG_CONFIG" >/dev/null 2>&1 || ! "$PKG_CONFIG" --exists "${pair%%:*}" 2>/dev/null; then
		need="$need ${pair#*:}"
	fi
done
files=$hdr_build
[ "$what" = test ] && files="$files $file_test"
for pair in $files; do
	[ -e "${pair%%:*}" ] || need="$need ${pair#*:}"
done
for pair in $cmds; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || need="$need ${pair#*:}"
done
# the PostgreSQL server the fleet tests start (initdb, pg_ctl)
if [ "$what" = test ] && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
	need="$need postgresql"
fi
# package with a file the build reads -> Debian package
dpkg -L golang-github-google-pprof-dev 2>/dev/null | grep -q '/proto/profile.proto$' ||
	need="$need golang-github-google-pprof-dev"

# one name once (elfutils and binutils stand for two commands each)
need=$(printf '%s\n' $need | awk 'NF && !seen[$0]++' | tr '\n' ' ')
[ -z "$need" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: $need; run as root or: sudo apt-get install $need" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps: missing packages: $need, and there is no apt-get to install them" >&2
	exit 1
fi
echo "install-deps: installing the $what dependencies: $need" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $need >&2
