# SPDX-License-Identifier: GPL-2.0
#
#   make            build build/profile and its man pages
#   make run        build, then profile the whole system for 30 s
#   make test       build, then run every test (unit and end-to-end)
#   make check      unit tests only
#   make install    install the binary, the man pages and the systemd unit
#                   (PREFIX=/usr/local, DESTDIR for a staging root)
#   make bench-unwind  frame-pointer vs DWARF unwinding: completeness and cost
#
# Missing Debian packages are installed first (scripts/install-deps.sh): what
# the build needs for any target, and what the tests need for test and check.
# V=1 shows commands; SANITIZE=address,undefined builds with sanitizers;
# WERROR=0 lets warnings through.

OUTPUT ?= build
CC ?= gcc
CXX ?= g++
CLANG ?= clang
BPFTOOL ?= bpftool
PKG_CONFIG ?= pkg-config
EXTRA_CFLAGS ?=
EXTRA_LDFLAGS ?=
WERROR ?= 1
SANITIZE ?=
DURATION ?= 30
BENCH_ADDRS ?= 100000

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/' \
	-e 's/loongarch64/loongarch/' -e 's/riscv64/riscv/' -e 's/s390x/s390/')

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all run test check clean deps bench-symbolize bench-render bench-unwind fuzz man install \
	uninstall test-deps

all: $(OUTPUT)/profile man

# Package checks run before anything reads pkg-config. config.mk is made
# (and make restarts) before any other target is considered.
ifeq ($(filter clean,$(MAKECMDGOALS)),)
-include $(OUTPUT)/config.mk
endif

$(OUTPUT)/config.mk: scripts/install-deps.sh
	$(call msg,DEPS,checking build dependencies)
	$(Q)mkdir -p $(OUTPUT)
	$(Q)scripts/install-deps.sh build
	$(Q)printf 'PKG_CFLAGS := %s\nPKG_LIBS := %s\nCMOCKA_CFLAGS := %s\nCMOCKA_LIBS := %s\nBPF_INCLUDES := %s\n' \
		"$$($(PKG_CONFIG) --cflags libbpf libelf libdw sqlite3 libzstd libpq libxxhash 2>/dev/null)" \
		"$$($(PKG_CONFIG) --libs libbpf libelf libdw sqlite3 libzstd libpq libxxhash 2>/dev/null || echo -lbpf -ldw -lelf -lz -lsqlite3 -lzstd -lpq -lxxhash)" \
		"$$($(PKG_CONFIG) --cflags cmocka 2>/dev/null)" \
		"$$($(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)" \
		"$$($(PKG_CONFIG) --variable=includedir libbpf 2>/dev/null || echo /usr/include)" > $@
	$(Q)printf 'WEB_CFLAGS := %s\nWEB_LIBS := %s\nPPROF_PROTO := %s\n' \
		"$$($(PKG_CONFIG) --cflags jansson libprotobuf-c zlib libmicrohttpd 2>/dev/null)" \
		"$$($(PKG_CONFIG) --libs jansson libprotobuf-c zlib libmicrohttpd 2>/dev/null || echo -ljansson -lprotobuf-c -lz -lmicrohttpd)" \
		"$$(dpkg -L golang-github-google-pprof-dev 2>/dev/null | grep '/proto/profile.proto$$' | head -1)" >> $@

deps: $(OUTPUT)/config.mk

# What the tests need besides the build (perf, chromium, npm, debuginfod, man ...).
TEST_DEPS := $(OUTPUT)/test-deps.stamp
$(TEST_DEPS): scripts/install-deps.sh | $(OUTPUT)/config.mk
	$(call msg,DEPS,checking test dependencies)
	$(Q)scripts/install-deps.sh test
	$(Q)touch $@

test-deps: $(TEST_DEPS)

WARNINGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
	-Wundef -Wwrite-strings -Wvla -Wno-format-nonliteral
ifeq ($(WERROR),1)
WARNINGS += -Werror
endif
ifneq ($(SANITIZE),)
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

CFLAGS := -g -O2 -fno-omit-frame-pointer -std=gnu11 -D_GNU_SOURCE $(WARNINGS) $(SAN_FLAGS) -I. -I$(OUTPUT) -Ibpf \
	-I$(OUTPUT)/gen $(PKG_CFLAGS) $(WEB_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS := $(SAN_FLAGS) $(EXTRA_LDFLAGS)
LIBS = $(PKG_LIBS) $(WEB_LIBS) -liberty -lz -lm

COMMON_SRCS := $(wildcard common/*.c)
SYMBOLIZER_SRCS := $(wildcard symbolizer/*.c)
WEB_SRCS := $(wildcard web/*.c)
STORE_SRCS := $(wildcard store/*.c store/sqlite/*.c store/postgres/*.c)
UNWIND_SRCS := $(wildcard unwind/*.c)
PROFILER_SRCS := $(wildcard profiler/*.c)
LIB_SRCS := $(COMMON_SRCS) $(SYMBOLIZER_SRCS) $(WEB_SRCS) $(STORE_SRCS) $(UNWIND_SRCS)

obj = $(patsubst %.c,$(OUTPUT)/obj/%.o,$(1))
LIB_OBJS := $(call obj,$(LIB_SRCS)) $(OUTPUT)/obj/gen/profile.pb-c.o
PROFILER_OBJS := $(call obj,$(PROFILER_SRCS)) $(OUTPUT)/obj/gen/assets.o

# One page per command (one cmd_*.c each), generated from its option table by
# the binary itself, and profile.1 for the whole.
MAN_CMDS := $(patsubst profiler/cmd_%.c,%,$(wildcard profiler/cmd_*.c))
MAN_PAGES := $(OUTPUT)/man/profile.1 $(patsubst %,$(OUTPUT)/man/profile-%.1,$(MAN_CMDS))

TEST_NAMES := $(patsubst tests/%.c,%,$(wildcard tests/test_*.c))
TEST_BINS := $(addprefix $(OUTPUT)/tests/,$(TEST_NAMES))
WORKLOADS := $(patsubst tests/workloads/%.c,$(OUTPUT)/workloads/%,$(wildcard tests/workloads/*.c)) \
	$(OUTPUT)/workloads/wl_qsort_fp $(OUTPUT)/workloads/wl_cxx $(OUTPUT)/workloads/libwl_plugin.so \
	$(OUTPUT)/workloads/wl_stripped

# libFuzzer targets (see "fuzzing" below)
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(addprefix $(OUTPUT)/fuzz/,$(FUZZ_NAMES))
FUZZ_ALL := $(FUZZ_BINS) $(OUTPUT)/fuzz/seeds/elf/.copied

DEPS := $(shell find $(OUTPUT)/obj -name '*.d' 2>/dev/null)
-include $(DEPS)

# ---- BPF: object, then skeleton ----

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c bpf/profiler.h bpf/vmlinux.h $(wildcard bpf/*.bpf.h) bpf/unwind_step.h | $(OUTPUT)/config.mk
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -g -O2 --target=bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Ibpf \
		-I$(BPF_INCLUDES) -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name profiler_bpf > $@

# the collector includes the skeleton
$(OUTPUT)/obj/profiler/collector.o $(OUTPUT)/obj/profiler/collector_unwind.o: $(OUTPUT)/profiler.skel.h

# ---- pprof: protobuf-c code generated from pprof's own profile.proto ----

$(OUTPUT)/gen/profile.pb-c.c $(OUTPUT)/gen/profile.pb-c.h: $(OUTPUT)/config.mk
	$(call msg,PROTOC-C,$(OUTPUT)/gen/profile.pb-c.c)
	$(Q)test -n "$(PPROF_PROTO)" || { echo "pprof's profile.proto not found (golang-github-google-pprof-dev)" >&2; exit 1; }
	$(Q)mkdir -p $(OUTPUT)/gen
	$(Q)protoc-c --c_out=$(OUTPUT)/gen -I$(dir $(PPROF_PROTO)) $(PPROF_PROTO)

$(OUTPUT)/obj/gen/profile.pb-c.o: $(OUTPUT)/gen/profile.pb-c.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -g -O2 $(SAN_FLAGS) $(WEB_CFLAGS) -I$(OUTPUT)/gen -c $< -o $@

$(OUTPUT)/obj/web/export.o: $(OUTPUT)/gen/profile.pb-c.h

# ---- the web page's files (web/assets/), built into the binary ----

ASSETS := $(sort $(wildcard web/assets/*))

$(OUTPUT)/gen/assets.c: scripts/embed-assets.sh $(ASSETS) | $(OUTPUT)/config.mk
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)scripts/embed-assets.sh $(ASSETS) > $@

$(OUTPUT)/obj/gen/assets.o: $(OUTPUT)/gen/assets.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# ---- user space ----

$(OUTPUT)/obj/%.o: %.c | $(OUTPUT)/config.mk
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/profile: $(PROFILER_OBJS) $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LIBS) -o $@

# ---- tests ----

# One cmocka binary per module, linked with every module object.
$(OUTPUT)/obj/tests/%.o: tests/%.c | $(OUTPUT)/config.mk
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(CMOCKA_CFLAGS) -Wno-missing-prototypes -Wno-missing-field-initializers -MMD -MP -c $< -o $@

$(OUTPUT)/tests/test_%: $(OUTPUT)/obj/tests/test_%.o $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) $^ $(LIBS) $(CMOCKA_LIBS) -o $@

# profiler/ parts with a unit test of their own link into it too
$(OUTPUT)/tests/test_ingest: $(OUTPUT)/obj/profiler/ingest.o

# Workloads for the end-to-end tests: frame pointers, no sanitizers, plain -O2.
# wl_qsort is the exception: built without frame pointers, for the unwinder.
WL_FP_FLAGS := -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer
WL_FLAGS = $(WL_FP_FLAGS)
$(OUTPUT)/workloads/wl_qsort: WL_FLAGS = -fomit-frame-pointer

$(OUTPUT)/workloads/%: tests/workloads/%.c tests/workloads/wl_clock.h common/clock.h | $(OUTPUT)/config.mk
	$(call msg,CC-WL,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -g -O2 $(WL_FLAGS) -fno-optimize-sibling-calls -Wall -Werror \
		$< -o $@ -lm

$(OUTPUT)/workloads/wl_qsort_fp: tests/workloads/wl_qsort.c tests/workloads/wl_clock.h common/clock.h | $(OUTPUT)/config.mk
	$(call msg,CC-WL,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -g -O2 $(WL_FP_FLAGS) -fno-optimize-sibling-calls -Wall -Werror $< -o $@ -lm

# wl_qsort static and stripped: whole stacks (.eh_frame stays) without a name to give them
$(OUTPUT)/workloads/wl_stripped: tests/workloads/wl_qsort.c tests/workloads/wl_clock.h common/clock.h | $(OUTPUT)/config.mk
	$(call msg,CC-WL,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O2 -fomit-frame-pointer -fno-optimize-sibling-calls -static -s -Wall -Werror $< -o $@ -lm

CXX ?= g++
$(OUTPUT)/workloads/wl_cxx: tests/workloads/wl_cxx.cc tests/workloads/wl_clock.h common/clock.h | $(OUTPUT)/config.mk
	$(call msg,CXX-WL,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CXX) -g -O2 -fomit-frame-pointer -Wall -Werror $< -o $@

$(OUTPUT)/workloads/libwl_plugin.so: tests/workloads/plugin/wl_plugin.c | $(OUTPUT)/config.mk
	$(call msg,CC-WL,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -g -O2 -fomit-frame-pointer -fPIC -shared -Wall -Werror $< -o $@

# Symbolizer fixtures: one source, built as PIE, non-PIE and a shared library.
FIXTURES := $(OUTPUT)/fixtures/symfix-pie $(OUTPUT)/fixtures/symfix-nopie \
	$(OUTPUT)/fixtures/libsymfix.so $(OUTPUT)/fixtures/unwfix-nofp $(OUTPUT)/fixtures/unwfix-fp \
	$(OUTPUT)/fixtures/libunwfix.so $(OUTPUT)/fixtures/unwfix-nocfi $(OUTPUT)/fixtures/unwgap

$(OUTPUT)/fixtures/symfix-pie: tests/fixtures/symfix.c
	$(call msg,CC-FIX,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O1 -g -fPIE -pie $< -o $@

$(OUTPUT)/fixtures/symfix-nopie: tests/fixtures/symfix.c
	$(call msg,CC-FIX,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O1 -g -fno-pie -no-pie $< -o $@

$(OUTPUT)/fixtures/libsymfix.so: tests/fixtures/symfix.c
	$(call msg,CC-FIX,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O1 -g -fPIC -shared -DSYMFIX_LIB $< -o $@

# DWARF fixtures: inline chains, C++, separate debuginfo variants, corrupt files
FIXTURES += $(OUTPUT)/fixtures/.built
$(OUTPUT)/fixtures/.built: tests/fixtures/build.sh tests/fixtures/inlines.c tests/fixtures/cxx.cc
	$(call msg,FIXTURES,$(@D))
	$(Q)tests/fixtures/build.sh "$(CC)" "$(CXX)" $(@D) >/dev/null

# Node modules for the browser tests (playwright-core drives Debian's chromium).
BROWSER_DEPS := tests/browser/node_modules/.package-lock.json

$(BROWSER_DEPS): tests/browser/package.json tests/browser/package-lock.json | $(TEST_DEPS)
	$(call msg,NPM,tests/browser)
	$(Q)cd tests/browser && { npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error; }
	$(Q)touch $@

# Unwinder fixtures: one source, with and without frame pointers, as a
# library, and with its CFI stripped.
$(OUTPUT)/fixtures/unwfix-nofp: tests/fixtures/unwfix.c
	$(call msg,CC-FIX,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -fomit-frame-pointer $< -o $@

$(OUTPUT)/fixtures/unwfix-fp: tests/fixtures/unwfix.c
	$(call msg,CC-FIX,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -fno-omit-frame-pointer $< -o $@

$(OUTPUT)/fixtures/libunwfix.so: tests/fixtures/unwfix.c
	$(call msg,CC-FIX,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -fomit-frame-pointer -fPIC -shared -DUNWFIX_LIB $< -o $@

$(OUTPUT)/fixtures/unwgap: tests/fixtures/unwgap.c
	$(call msg,CC-FIX,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O2 -g $< -o $@

$(OUTPUT)/fixtures/unwfix-nocfi: $(OUTPUT)/fixtures/unwfix-nofp
	$(call msg,STRIP,$@)
	$(Q)objcopy --remove-section .eh_frame --remove-section .eh_frame_hdr \
		--remove-section .debug_frame $< $@

check: $(TEST_DEPS) $(TEST_BINS) $(FIXTURES)
	$(Q)tests/run.sh --unit $(OUTPUT)

test: $(TEST_DEPS) $(OUTPUT)/profile $(MAN_PAGES) $(TEST_BINS) $(WORKLOADS) $(FIXTURES) $(BROWSER_DEPS) $(FUZZ_ALL)
	$(Q)FUZZ_SECONDS=$(FUZZ_TEST_SECONDS) tests/run.sh --all $(OUTPUT)

# Benchmarks compare against the tools users would otherwise run; see bench/.
bench-symbolize: $(OUTPUT)/profile
	bench/symbolize.sh $(OUTPUT) $(BENCH_ADDRS)

# Rendering and import benchmark (bench/render.sh); not part of 'make test'.
bench-render: $(OUTPUT)/profile
	$(Q)bench/render.sh $(OUTPUT)

# fp vs dwarf unwinding: complete stacks and CPU cost (UNWIND_BENCH_SECONDS per run)
UNWIND_BENCH_SECONDS ?= 20
bench-unwind: $(OUTPUT)/profile $(WORKLOADS)
	$(Q)bench/unwind.sh $(OUTPUT) $(UNWIND_BENCH_SECONDS)

# ---- fuzzing ----

# One libFuzzer target per untrusted parser (tests/fuzz/fuzz_*.c), always
# built with clang, ASan and UBSan (UB aborts), whatever SANITIZE says; the
# modules are compiled again for them under $(OUTPUT)/fuzz/obj. `make fuzz`
# runs each for FUZZ_SECONDS; `make test` for FUZZ_TEST_SECONDS, after
# replaying tests/fuzz/regress/ (tests/fuzz/run.sh, docs/fuzzing.md).
FUZZ_SECONDS ?= 60
FUZZ_TEST_SECONDS ?= 4
FUZZ_CFLAGS = -g -O1 -fno-omit-frame-pointer -std=gnu11 -D_GNU_SOURCE $(WARNINGS) \
	-fsanitize=address,undefined -fno-sanitize-recover=all -I. -I$(OUTPUT) -Ibpf \
	-I$(OUTPUT)/gen $(PKG_CFLAGS) $(WEB_CFLAGS)
FUZZ_LIB_OBJS := $(patsubst %.c,$(OUTPUT)/fuzz/obj/%.o,$(LIB_SRCS)) \
	$(OUTPUT)/fuzz/obj/gen/profile.pb-c.o
-include $(shell find $(OUTPUT)/fuzz/obj -name '*.d' 2>/dev/null)

$(OUTPUT)/fuzz/obj/%.o: %.c | $(OUTPUT)/config.mk
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(OUTPUT)/fuzz/obj/gen/profile.pb-c.o: $(OUTPUT)/gen/profile.pb-c.c
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -g -O1 -fsanitize=address,undefined $(WEB_CFLAGS) -I$(OUTPUT)/gen -c $< -o $@

$(OUTPUT)/fuzz/obj/web/export.o: $(OUTPUT)/gen/profile.pb-c.h

$(OUTPUT)/fuzz/libprofile.a: $(FUZZ_LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUTPUT)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(OUTPUT)/fuzz/libprofile.a
	$(call msg,FUZZ-LD,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(OUTPUT)/fuzz/libprofile.a $(LIBS) -o $@

# ELF seeds are the symbolizer and unwinder fixtures, built here, not checked in.
FUZZ_ELF_SEEDS := symfix-nopie libsymfix.so inl-pie inl-minidebug inl-debuglink unwfix-nocfi
$(OUTPUT)/fuzz/seeds/elf/.copied: $(FIXTURES)
	$(call msg,SEEDS,$(@D))
	$(Q)mkdir -p $(@D)
	$(Q)cp $(addprefix $(OUTPUT)/fixtures/,$(FUZZ_ELF_SEEDS)) $(@D)/
	$(Q)touch $@

fuzz: $(FUZZ_ALL)
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(OUTPUT)/fuzz

# ---- man pages and install ----

# Man pages: MAN_PAGES, above.

$(OUTPUT)/man/profile.1: $(OUTPUT)/profile
	$(call msg,MAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(OUTPUT)/profile help --man > $@

$(OUTPUT)/man/profile-%.1: $(OUTPUT)/profile
	$(call msg,MAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(OUTPUT)/profile $* --man > $@

man: $(MAN_PAGES)

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
UNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL ?= install

install: $(OUTPUT)/profile $(MAN_PAGES)
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(UNITDIR)
	$(Q)$(INSTALL) -m 755 $(OUTPUT)/profile $(DESTDIR)$(BINDIR)/profile
	$(Q)$(INSTALL) -m 644 $(MAN_PAGES) $(DESTDIR)$(MANDIR)/man1/
	$(Q)sed 's|/usr/local/bin/profile|$(BINDIR)/profile|g' dist/profile-agent.service \
		> $(OUTPUT)/profile-agent.service
	$(Q)$(INSTALL) -m 644 $(OUTPUT)/profile-agent.service $(DESTDIR)$(UNITDIR)/profile-agent.service

uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(DESTDIR)$(BINDIR)/profile $(DESTDIR)$(UNITDIR)/profile-agent.service \
		$(patsubst $(OUTPUT)/man/%,$(DESTDIR)$(MANDIR)/man1/%,$(MAN_PAGES))

run: $(OUTPUT)/profile
	$(OUTPUT)/profile --duration $(DURATION) -o profile.svg --folded profile.folded

clean:
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT)

# The fleet's central store: batches of many hosts into a PostgreSQL server the
# script starts, then bytes per sample and query latencies (bench/fleet.sh).
$(OUTPUT)/bench/fleet: bench/fleet.c $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LIBS)

.PHONY: bench-fleet
FLEET_HOSTS ?= 50
FLEET_HOURS ?= 24
FLEET_PER_BUCKET ?= 100
bench-fleet: $(OUTPUT)/profile $(OUTPUT)/bench/fleet
	bench/fleet.sh $(OUTPUT) $(FLEET_HOSTS) $(FLEET_HOURS) $(FLEET_PER_BUCKET)

# Unwind table builds of a few big binaries: rows, CPU time, a hash of the rows (bench/tables.c).
$(OUTPUT)/bench/tables: bench/tables.c $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LIBS)

.PHONY: bench-tables
TABLE_BINARIES ?= /usr/lib/gcc/x86_64-linux-gnu/12/cc1 /lib/x86_64-linux-gnu/libc.so.6 \
	/usr/lib/x86_64-linux-gnu/libstdc++.so.6 /usr/bin/python3.11
bench-tables: $(OUTPUT)/bench/tables
	$(OUTPUT)/bench/tables -n 3 $(wildcard $(TABLE_BINARIES))

# The agent's overhead at 99 Hz with both CPUs busy, next to perf record (bench/agent.sh).
.PHONY: bench-agent
BENCH_SECONDS ?= 600
bench-agent: $(OUTPUT)/profile $(WORKLOADS)
	bench/agent.sh $(OUTPUT) $(BENCH_SECONDS)

# The same on a build loop (short compiler processes, LOAD=churn in bench/agent.sh).
.PHONY: bench-churn
bench-churn: $(OUTPUT)/profile $(WORKLOADS)
	LOAD=churn bench/agent.sh $(OUTPUT) $(BENCH_SECONDS)
