/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the libFuzzer targets in tests/fuzz/: the input as a
 * stream, either an in-memory one (read with fread, as a pipe is) or a
 * regular file (which the folded and perf-script readers map instead), and a
 * check that aborts, so a broken invariant is reported like a crash.
 */
#ifndef __PROFILER_FUZZ_H
#define __PROFILER_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
				#cond);                                                    \
			abort();                                                           \
		}                                                                          \
	} while (0)

/* @data as a stream read with fread (glibc's fmemopen takes a size of 0, not a NULL buffer). */
static inline FILE *fuzz_stream(const uint8_t *data, size_t size)
{
	static char empty[1];

	return fmemopen(size ? (void *)data : empty, size, "r");
}

/*
 * @data as a regular file (one memfd per process, rewritten for each input).
 * The stream owns a duplicate of the descriptor; fclose() it.
 */
static inline FILE *fuzz_file(const uint8_t *data, size_t size)
{
	static int fd = -1;
	size_t off = 0;
	ssize_t n;
	int dup_fd;

	if (fd < 0)
		fd = memfd_create("fuzz-input", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 0) || lseek(fd, 0, SEEK_SET))
		abort();
	while (off < size) {
		n = pwrite(fd, data + off, size - off, off);
		if (n <= 0)
			abort();
		off += n;
	}
	dup_fd = dup(fd);
	if (dup_fd < 0)
		abort();
	return fdopen(dup_fd, "r");
}

/* The path of a memfd holding @data (for APIs that take a path); the fd stays open. */
static inline const char *fuzz_path(const uint8_t *data, size_t size)
{
	static char path[64];
	static int fd = -1;
	size_t off = 0;
	ssize_t n;

	if (fd < 0) {
		fd = memfd_create("fuzz-file", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0))
		abort();
	while (off < size) {
		n = pwrite(fd, data + off, size - off, off);
		if (n <= 0)
			abort();
		off += n;
	}
	return path;
}

#endif /* __PROFILER_FUZZ_H */
