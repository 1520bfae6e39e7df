// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "util.h"

int vmsh_verbose;
unsigned long vmsh_ptrace_requests;

int util__mkdir_p(char *path, mode_t mode)
{
	struct stat st;

	/* there already (maybe on a read-only filesystem, as in a lab host) */
	if (!stat(path, &st) && S_ISDIR(st.st_mode))
		return 0;
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST) {
			*p = '/';
			return -errno;
		}
		*p = '/';
	}
	if (mkdir(path, mode) && errno != EEXIST)
		return -errno;
	return chmod(path, mode) ? -errno : 0;
}

int util__cache_dir(char *dir, size_t len)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	const char *override = getenv("VMSH_CACHE_DIR");
	int err;

	if (override && *override == '/')
		snprintf(dir, len, "%s", override);
	else if (geteuid() == 0)
		snprintf(dir, len, "/var/cache/vmsh");
	else if (xdg && *xdg == '/')
		snprintf(dir, len, "%s/vmsh", xdg);
	else if (home && *home == '/')
		snprintf(dir, len, "%s/.cache/vmsh", home);
	else {
		pr_err("no cache directory: set HOME or XDG_CACHE_HOME");
		return -ENOENT;
	}
	err = util__mkdir_p(dir, 0755);
	if (err)
		pr_err("cannot create %s: %s", dir, strerror(-err));
	return err;
}

uint64_t util__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double util__uptime_ms(void)
{
	static uint64_t start;
	uint64_t now = util__now_ns();

	if (!start)
		start = now;
	return (double)(now - start) / 1e6;
}

uint64_t util__fnv1a(uint64_t h, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

int util__pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ENOSPC;
		p += n, len -= (size_t)n, off += (uint64_t)n;
	}
	return 0;
}

int util__hash_file(const char *path, uint64_t *h)
{
	unsigned char buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	*h = UTIL_FNV1A_INIT;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		*h = util__fnv1a(*h, buf, (size_t)n);
	close(fd);
	return n < 0 ? -EIO : 0;
}
