// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for /proc/PID/maps text: each line through
 * proc_map__parse(), then the whole input as a process's maps file read by
 * symbolizer__for_each_exec_map() (a fake /proc under a temporary directory).
 * A parsed mapping must be non-empty, its path interned and without a
 * newline, its file offset defined on [start, end) and only there.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "symbolizer/symbolizer.h"
#include "symbolizer/symbolizer_internal.h"
#include "common/log.h"
#include "common/strset.h"

#define FAKE_PID 4242

static char proc_root[PATH_MAX];
static char maps_path[PATH_MAX];

static void check_map(const struct proc_map *m)
{
	__u64 off;

	FUZZ_CHECK(m->start < m->end);
	FUZZ_CHECK(m->path && !strchr(m->path, '\n'));
	FUZZ_CHECK(proc_map__file_offset(m, m->start, &off) && off == m->pgoff);
	FUZZ_CHECK(proc_map__file_offset(m, m->end - 1, &off));
	FUZZ_CHECK(!proc_map__file_offset(m, m->end, &off));
	FUZZ_CHECK(*m->path || m->kind == MAPPING_ANON);
}

static void parse_lines(const uint8_t *data, size_t size)
{
	struct strset *strs = strset__new();
	char *buf = malloc(size + 1);
	char *line, *nl;
	struct proc_map m;

	FUZZ_CHECK(strs && buf);
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (line = buf; line < buf + size; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			nl = line + strlen(line);
		*nl = '\0';
		if (!proc_map__parse(line, &m, strs))
			check_map(&m);
	}
	free(buf);
	strset__free(strs);
}

static int on_map(void *ctx, const struct sym_exec_map *m)
{
	size_t *n = ctx;

	FUZZ_CHECK(m->start < m->end && m->path);
	(*n)++;
	return 0;
}

static char pid_dir[PATH_MAX];

static void remove_fake_proc(void)
{
	unlink(maps_path);
	rmdir(pid_dir);
	rmdir(proc_root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{

	(void)argc;
	(void)argv;
	log_set_quiet(true);
	/* in memory when it can be: the file is rewritten for every input */
	snprintf(proc_root, sizeof(proc_root), "%s/fuzz-procmaps-XXXXXX",
		 !access("/dev/shm", W_OK) ? "/dev/shm" : "/tmp");
	FUZZ_CHECK(mkdtemp(proc_root));
	snprintf(pid_dir, sizeof(pid_dir), "%s/%d", proc_root, FAKE_PID);
	FUZZ_CHECK(!mkdir(pid_dir, 0700));
	snprintf(maps_path, sizeof(maps_path), "%s/maps", pid_dir);
	atexit(remove_fake_proc);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = 0;
	FILE *f;

	parse_lines(data, size);
	f = fopen(maps_path, "w");
	FUZZ_CHECK(f);
	FUZZ_CHECK(fwrite(data, 1, size, f) == size);
	FUZZ_CHECK(!fclose(f));
	FUZZ_CHECK(!symbolizer__for_each_exec_map(proc_root, FAKE_PID, on_map, &n));
	return 0;
}
