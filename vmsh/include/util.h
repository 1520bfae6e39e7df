/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Messages and small helpers shared by every vmsh module.
 * Convention (after Solo5's hvt): a failure of the host or of vmsh itself is
 * reported with pr_err() and returned as a negative errno up to the command,
 * which unwinds (restoring the hypervisor) and exits non-zero; bad input from
 * the guest or the hypervisor's memory is never trusted, is bounds-checked,
 * and also comes back as a negative errno (-EFAULT, -EINVAL), never a crash.
 */
#ifndef VMSH_UTIL_H
#define VMSH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

extern int vmsh_verbose; /* 0: errors and results; 1: -v progress; 2: -vv debug */
/*
 * Every ptrace request vmsh makes (tracee.c, kvmrun.c), counted so that
 * attach can show that its steady state makes none.
 */
extern unsigned long vmsh_ptrace_requests;

#define pr_err(fmt, ...) fprintf(stderr, "vmsh: " fmt "\n", ##__VA_ARGS__)
#define pr_info(fmt, ...)                                                                          \
	do {                                                                                       \
		if (vmsh_verbose >= 1)                                                             \
			fprintf(stderr, "vmsh: " fmt "\n", ##__VA_ARGS__);                         \
	} while (0)
/* -vv: each line with the milliseconds since vmsh started, to see where time goes */
#define pr_debug(fmt, ...)                                                                         \
	do {                                                                                       \
		if (vmsh_verbose >= 2)                                                             \
			fprintf(stderr, "vmsh: [%8.1f] " fmt "\n", util__uptime_ms(),              \
				##__VA_ARGS__);                                                    \
	} while (0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t util__now_ns(void);
/* Milliseconds since the first call (pr_debug's first line). */
double util__uptime_ms(void);

/* FNV-1a, 64 bits, continued from @h (UTIL_FNV1A_INIT to start): cache keys, not security. */
#define UTIL_FNV1A_INIT 0xcbf29ce484222325ull
uint64_t util__fnv1a(uint64_t h, const void *buf, size_t len);
/* All of @len bytes at @off, through short writes and EINTR; 0 or a negative errno. */
int util__pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
/* FNV-1a of a whole file into *h; 0 or a negative errno. */
int util__hash_file(const char *path, uint64_t *h);

/* mkdir -p, the last one with @mode; 0 or a negative errno. */
int util__mkdir_p(char *path, mode_t mode);
/*
 * vmsh's cache directory (tool images, kernels), created if needed:
 * $VMSH_CACHE_DIR, else /var/cache/vmsh for root, else $XDG_CACHE_HOME/vmsh
 * or ~/.cache/vmsh. 0 or a negative errno (said).
 */
int util__cache_dir(char *dir, size_t len);

#endif
