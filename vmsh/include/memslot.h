/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A KVM memory slot as vmsh sees it: a range of guest-physical memory backed
 * by memory of the hypervisor process. Shared by the eBPF memslot reader
 * (memslots.h), which produces them, and guest memory access (guest.h),
 * which consumes them. Values come from the kernel, but the memory behind
 * them belongs to the hypervisor: treat hva ranges as untrusted.
 */
#ifndef VMSH_MEMSLOT_H
#define VMSH_MEMSLOT_H

#include <stdint.h>

struct memslot {
	uint32_t id;	/* KVM slot id (as_id << 16 | id, like KVM_SET_USER_MEMORY_REGION) */
	uint32_t flags; /* KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY, ... */
	uint64_t gpa;	/* first guest-physical address */
	uint64_t size;	/* bytes */
	uint64_t hva;	/* address of the backing memory in the hypervisor */
};

#endif
