#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages the build and the tests need, but only when
# something is missing. Called by the Makefile; safe to run by hand.
set -eu

PKG_CONFIG=${PKG_CONFIG:-pkg-config}
need=""

# pkg-config module -> Debian package
for pair in libbpf:libbpf-dev libelf:libelf-dev libdw:libdw-dev cmocka:libcmocka-dev \
	jansson:libjansson-dev libprotobuf-c:libprotobuf-c-dev zlib:zlib1g-dev \
	sqlite3:libsqlite3-dev libzstd:libzstd-dev; do
	mod=${pair%%:*}
	pkg=${pair#*:}
	if ! command -v "$PKG_CONFIG" >/dev/null 2>&1 || ! "$PKG_CONFIG" --exists "$mod" 2>/dev/null; then
		need="$need $pkg"
	fi
done
command -v "$PKG_CONFIG" >/dev/null 2>&1 || need="$need pkg-config"
# header -> Debian package, for libraries without a pkg-config file
for pair in /usr/include/libiberty/demangle.h:libiberty-dev; do
	[ -e "${pair%%:*}" ] || need="$need ${pair#*:}"
done
# command -> Debian package
for pair in clang:clang bpftool:bpftool gcc:gcc make:make eu-addr2line:elfutils xmllint:libxml2-utils \
	debuginfod:debuginfod addr2line:binutils g++:g++ \
	protoc-c:protobuf-c-compiler protoc:protobuf-compiler perf:linux-perf chromium:chromium \
	node:nodejs npm:npm objcopy:binutils eu-readelf:elfutils; do
	cmd=${pair%%:*}
	pkg=${pair#*:}
	command -v "$cmd" >/dev/null 2>&1 || need="$need $pkg"
done

# package with a file the build reads -> Debian package
dpkg -L golang-github-google-pprof-dev 2>/dev/null | grep -q '/proto/profile.proto$' ||
	need="$need golang-github-google-pprof-dev"

[ -z "$need" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$need; run as root or: sudo apt-get install$need" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps: missing packages:$need, and there is no apt-get to install them" >&2
	exit 1
fi
echo "install-deps: installing$need" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $need >&2
