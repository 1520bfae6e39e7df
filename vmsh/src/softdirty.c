// SPDX-License-Identifier: GPL-2.0
/* Soft-dirty bits of another process (softdirty.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "softdirty.h"

#define PM_SOFT_DIRTY (1ull << 55)
#define PM_BATCH 4096 /* pagemap entries read at once: 16 MiB of address space */

int softdirty__clear(pid_t pid)
{
	char path[64];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)pid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, "4", 1) != 1)
		err = -errno;
	close(fd);
	return err;
}

int softdirty__for_each(pid_t pid, uint64_t hva, uint64_t len,
			int (*fn)(void *ctx, uint64_t hva, uint64_t len), void *ctx)
{
	uint64_t *pm, first = hva / SOFTDIRTY_PAGE, n = len / SOFTDIRTY_PAGE;
	uint64_t run = 0, run_len = 0;
	char path[64];
	int fd, ret = 0;

	if (hva % SOFTDIRTY_PAGE || len % SOFTDIRTY_PAGE)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	pm = malloc(PM_BATCH * sizeof(*pm));
	if (!pm) {
		close(fd);
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < n && !ret;) {
		size_t want = n - i < PM_BATCH ? (size_t)(n - i) : PM_BATCH;
		ssize_t got = pread(fd, pm, want * sizeof(*pm), (off_t)((first + i) * sizeof(*pm)));

		if (got < 0) {
			ret = -errno;
			break;
		}
		if (got == 0 || got % (ssize_t)sizeof(*pm)) {
			ret = -EIO;
			break;
		}
		for (size_t k = 0; k < (size_t)got / sizeof(*pm) && !ret; k++) {
			uint64_t page = (first + i + k) * SOFTDIRTY_PAGE;

			if (pm[k] & PM_SOFT_DIRTY) {
				if (run_len && run + run_len == page) {
					run_len += SOFTDIRTY_PAGE;
					continue;
				}
				if (run_len)
					ret = fn(ctx, run, run_len);
				run = page;
				run_len = SOFTDIRTY_PAGE;
			}
		}
		i += (uint64_t)got / sizeof(*pm);
	}
	if (!ret && run_len)
		ret = fn(ctx, run, run_len);
	free(pm);
	close(fd);
	return ret;
}

static int softdirty__seen(void *ctx, uint64_t hva, uint64_t len)
{
	(void)hva;
	*(uint64_t *)ctx += len;
	return 0;
}

int softdirty__supported(void)
{
	long psz = sysconf(_SC_PAGESIZE);
	uint64_t seen = 0;
	volatile uint8_t *p;
	int ret;

	if (psz != SOFTDIRTY_PAGE)
		return 0;
	p = mmap(NULL, SOFTDIRTY_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	p[0] = 1; /* present before the clear */
	ret = softdirty__clear(getpid());
	if (!ret) {
		p[0] = 2; /* a write after it: soft-dirty where the kernel tracks it */
		ret = softdirty__for_each(getpid(), (uint64_t)(uintptr_t)p, SOFTDIRTY_PAGE,
					  softdirty__seen, &seen);
	}
	munmap((void *)p, SOFTDIRTY_PAGE);
	return ret < 0 ? ret : seen == SOFTDIRTY_PAGE;
}
