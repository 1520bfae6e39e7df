// SPDX-License-Identifier: GPL-2.0
/*
 * The hypervisor's memory, mapped into vmsh where it is shared (hvmem.h).
 *
 * /proc/PID/maps says which of the hypervisor's mappings are shared ('s')
 * and backed by a file (an inode, or a name such as "/memfd:pc.ram
 * (deleted)" or "/dev/zero (deleted)" for MAP_SHARED|MAP_ANONYMOUS);
 * /proc/PID/map_files/START-END opens that very file, whatever its name,
 * for a process with CAP_SYS_ADMIN. Private mappings (QEMU's default RAM)
 * cannot be shared: their pages are the hypervisor's own copy-on-write.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hvmem.h"
#include "util.h"

int hvmem__parse_maps_line(const char *line, uint64_t hva, uint64_t size, uint64_t *start,
			   uint64_t *end, uint64_t *offset)
{
	char perms[5];
	unsigned long long s, e, off, inode;
	int used = 0;

	if (sscanf(line, "%llx-%llx %4s %llx %*x:%*x %llu%n", &s, &e, perms, &off, &inode, &used) !=
		5 ||
	    !used)
		return -EINVAL;
	if (hva < s || hva >= e || size > e - hva)
		return -ENOENT;
	/* shared, readable and writable, and a file behind it */
	if (strlen(perms) != 4 || perms[0] != 'r' || perms[1] != 'w' || perms[3] != 's' || !inode)
		return -ENOENT;
	*start = s;
	*end = e;
	*offset = off;
	return 0;
}

static int hvmem__map(struct hvmem *h, uint64_t hva, uint64_t size)
{
	uint64_t start = 0, end = 0, off = 0;
	char path[64], line[512];
	struct hvmem_map *maps;
	bool found = false;
	void *local;
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/maps", h->pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!found && fgets(line, sizeof(line), f))
		found = !hvmem__parse_maps_line(line, hva, size, &start, &end, &off);
	fclose(f);
	if (!found)
		return -ENOENT;
	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, h->pid, start, end);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	local = mmap(NULL, end - start, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off);
	close(fd);
	if (local == MAP_FAILED)
		return -errno;
	maps = realloc(h->maps, (h->nmaps + 1) * sizeof(*maps));
	if (!maps) {
		munmap(local, end - start);
		return -ENOMEM;
	}
	h->maps = maps;
	h->maps[h->nmaps++] =
	    (struct hvmem_map){ .hva = start, .size = end - start, .local = local };
	pr_debug("hypervisor memory 0x%" PRIx64 "-0x%" PRIx64 " mapped into vmsh", start, end);
	return 0;
}

static const struct hvmem_map *hvmem__find(const struct hvmem *h, uint64_t hva, size_t len)
{
	for (size_t i = 0; i < h->nmaps; i++) {
		const struct hvmem_map *m = &h->maps[i];

		if (hva >= m->hva && hva - m->hva < m->size && len <= m->size - (hva - m->hva))
			return m;
	}
	return NULL;
}

int hvmem__add(struct hvmem *h, uint64_t hva, uint64_t size)
{
	if (hvmem__find(h, hva, size))
		return 0;
	return hvmem__map(h, hva, size);
}

int hvmem__open(struct hvmem *h, pid_t pid, const struct memslot *slots, size_t n)
{
	*h = (struct hvmem){ .pid = pid };
	for (size_t i = 0; i < n; i++) {
		int err;

		if (!slots[i].size || hvmem__find(h, slots[i].hva, slots[i].size))
			continue;
		err = hvmem__map(h, slots[i].hva, slots[i].size);
		if (err == -ENOMEM)
			return err;
	}
	return 0;
}

uint64_t hvmem__mapped_bytes(const struct hvmem *h, const struct memslot *slots, size_t n)
{
	uint64_t bytes = 0;

	for (size_t i = 0; i < n; i++)
		if (hvmem__find(h, slots[i].hva, slots[i].size))
			bytes += slots[i].size;
	return bytes;
}

void hvmem__close(struct hvmem *h)
{
	for (size_t i = 0; i < h->nmaps; i++)
		munmap(h->maps[i].local, h->maps[i].size);
	free(h->maps);
	h->maps = NULL;
	h->nmaps = 0;
}

void *hvmem__ptr(void *ctx, uint64_t hva, size_t len)
{
	const struct hvmem_map *m = hvmem__find(ctx, hva, len);

	return m ? m->local + (hva - m->hva) : NULL;
}

int hvmem__read(void *ctx, uint64_t hva, void *buf, size_t len)
{
	struct hvmem *h = ctx;
	void *p = hvmem__ptr(h, hva, len);

	if (!p)
		return guest__read_hva_process(&h->pid, hva, buf, len);
	memcpy(buf, p, len);
	return 0;
}

int hvmem__write(void *ctx, uint64_t hva, const void *buf, size_t len)
{
	struct hvmem *h = ctx;
	void *p = hvmem__ptr(h, hva, len);

	if (!p)
		return guest__write_hva_process(&h->pid, hva, buf, len);
	memcpy(p, buf, len);
	return 0;
}

/* All ranges mapped: memcpy each; otherwise one process_vm call for all. */
static bool hvmem__all_mapped(struct hvmem *h, const struct guest_hva_seg *segs, size_t nsegs)
{
	for (size_t k = 0; k < nsegs; k++)
		if (segs[k].len && !hvmem__ptr(h, segs[k].hva, segs[k].len))
			return false;
	return true;
}

int hvmem__readv(void *ctx, const struct guest_hva_seg *segs, size_t nsegs, void *buf)
{
	struct hvmem *h = ctx;
	uint8_t *b = buf;

	if (!hvmem__all_mapped(h, segs, nsegs))
		return guest__readv_hva_process(&h->pid, segs, nsegs, buf);
	for (size_t k = 0; k < nsegs; k++) {
		if (segs[k].len)
			memcpy(b, hvmem__ptr(h, segs[k].hva, segs[k].len), segs[k].len);
		b += segs[k].len;
	}
	return 0;
}

int hvmem__writev(void *ctx, const struct guest_hva_seg *segs, size_t nsegs, const void *buf)
{
	struct hvmem *h = ctx;
	const uint8_t *b = buf;

	if (!hvmem__all_mapped(h, segs, nsegs))
		return guest__writev_hva_process(&h->pid, segs, nsegs, buf);
	for (size_t k = 0; k < nsegs; k++) {
		if (segs[k].len)
			memcpy(hvmem__ptr(h, segs[k].hva, segs[k].len), b, segs[k].len);
		b += segs[k].len;
	}
	return 0;
}
