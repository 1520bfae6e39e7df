/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The hypervisor's memory as vmsh reaches it: mapped into vmsh where the
 * hypervisor's mapping is shared and backed by a file (memfd or /dev/shm
 * RAM, as vhost-user and virtiofs set-ups require; hugetlbfs; vmsh's own
 * MAP_SHARED RAM), through process_vm_readv/writev everywhere else (QEMU's
 * default private anonymous RAM).
 *
 * A shared mapping is opened through /proc/PID/map_files (root) and mapped
 * again in vmsh: guest memory is then copied with memcpy, and virtio-blk
 * moves a request's data between the image and the guest's buffers with one
 * preadv/pwritev and no copy through vmsh. The mapping keeps the object
 * alive; a hypervisor that shrank its own RAM file would make vmsh fault
 * (SIGBUS): no hypervisor does that to RAM it has given to KVM.
 *
 * hvmem__read/write/readv/writev/ptr are the callbacks of struct guest_mem
 * (ctx: the struct hvmem). The copies are memcpy and so promise no single
 * access of any width, as process_vm_readv/writev do not: a field that the
 * guest reads or writes concurrently with one access (virtio's 16-bit ring
 * indices) is reached through hvmem__ptr and atomics (virtio_mmio.c).
 */
#ifndef VMSH_HVMEM_H
#define VMSH_HVMEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "guest.h"
#include "memslot.h"

struct hvmem_map {
	uint64_t hva, size; /* the hypervisor's range */
	uint8_t *local;	    /* the same memory in vmsh */
};

struct hvmem {
	pid_t pid;
	struct hvmem_map *maps;
	size_t nmaps;
};

/*
 * Map what can be mapped of the hypervisor ranges behind slots[0, n) (each
 * slot's [hva, hva + size) must lie in one shared file mapping of the
 * hypervisor to be mapped). Never fails for a range that cannot be mapped:
 * that range is reached with process_vm_readv/writev. 0, or -ENOMEM.
 */
int hvmem__open(struct hvmem *h, pid_t pid, const struct memslot *slots, size_t n);
/* Add one range (vmsh's own RAM, added later); 0 or a negative errno. */
int hvmem__add(struct hvmem *h, uint64_t hva, uint64_t size);
/* Bytes of slots[0, n) that are mapped into vmsh. */
uint64_t hvmem__mapped_bytes(const struct hvmem *h, const struct memslot *slots, size_t n);
void hvmem__close(struct hvmem *h);

/*
 * The file mapping of the hypervisor that holds [hva, hva + size), from
 * /proc/PID/maps: its start, end and file offset; -ENOENT if none or if it
 * is private or not backed by a file. Pure parsing of one maps line, for tests.
 */
int hvmem__parse_maps_line(const char *line, uint64_t hva, uint64_t size, uint64_t *start,
			   uint64_t *end, uint64_t *offset);

/* struct guest_mem callbacks; ctx is a struct hvmem *. */
int hvmem__read(void *ctx, uint64_t hva, void *buf, size_t len);
int hvmem__write(void *ctx, uint64_t hva, const void *buf, size_t len);
int hvmem__readv(void *ctx, const struct guest_hva_seg *segs, size_t nsegs, void *buf);
int hvmem__writev(void *ctx, const struct guest_hva_seg *segs, size_t nsegs, const void *buf);
void *hvmem__ptr(void *ctx, uint64_t hva, size_t len);

#endif
