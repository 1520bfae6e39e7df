/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Mapping vmsh's new guest RAM into the guest kernel's page tables (x86-64,
 * 4- and 5-level paging), and taking it out again.
 *
 * The mapping hangs under a top-level entry the kernel already has, so that
 * every address space sees it: top-level entries added later are not copied
 * into existing processes' tables. pagemap__find_free_range() picks 1 GiB
 * slots of the unused hole 0xffffffff00000000-0xffffffff7fffffff (x86-64
 * mm.rst), under the PML4 entry that maps the kernel image.
 *
 * pagemap__map() never changes a present entry: it descends through present
 * tables, and takes only entries that are exactly zero (a non-present entry
 * with other bits may be the kernel's: DEBUG_PAGEALLOC keeps the frame
 * there). New tables come from a pool of guest-physical pages and are
 * written before the entry that links them into an existing table, so the
 * guest never sees a half-built tree. Every existing entry changed is
 * recorded in the undo log; pagemap__unmap() restores them in reverse order.
 * No TLB flush is needed after mapping (the entries were not present); after
 * unmapping, the guest may still hold stale translations until it flushes,
 * so unmap only when no guest code uses the range any more.
 *
 * Guest page tables are untrusted: every read is bounds-checked by
 * guest__read_phys(), loops are bounded by our own page count and the 512
 * entries of a table, and bad entries are errors (-EEXIST for an entry in
 * the way, -EFAULT for tables outside guest memory, -EINVAL for bad input).
 */
#ifndef VMSH_PAGEMAP_H
#define VMSH_PAGEMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest.h"

#define PAGEMAP_PAGE_SIZE 0x1000ULL
#define PAGEMAP_MAX_LEN (1ULL << 30) /* per call */

#define PAGEMAP_WRITE 0x1u
#define PAGEMAP_EXEC 0x2u

/* Pages [offset, offset + len) of the mapping, page-aligned. */
struct pagemap_range {
	uint64_t offset, len;
	unsigned prot; /* PAGEMAP_WRITE | PAGEMAP_EXEC */
};

/*
 * Protection of the pages of a mapping: ranges must not overlap; pages in no
 * range are read-only and not executable. no_nx: the guest runs with
 * EFER.NXE clear, where bit 63 is reserved (Linux sets it whenever the CPU
 * has NX); pages are then executable whatever their prot.
 */
struct pagemap_prot {
	const struct pagemap_range *ranges;
	size_t nranges;
	bool no_nx;
};

/* Guest-physical pages for new page tables: [gpa, gpa + npages * 4 KiB). */
struct pagemap_pool {
	uint64_t gpa;
	size_t npages;
	size_t used; /* taken by pagemap__map() (not given back by unmap) */
};

struct pagemap_change {
	uint64_t gpa; /* of the entry, in an existing table */
	uint64_t old, new;
};

struct pagemap_undo {
	struct pagemap_change *changes; /* malloc'd, in the order written */
	size_t n;
};

/*
 * The lowest gva of len bytes (rounded up to whole GiB) in the unused hole
 * below the kernel image whose PDPT entries are all zero, under a present
 * PML4 (and PML5) entry. -ENOSPC if there is none, -EFAULT/-EINVAL if the
 * tables there are outside memory or malformed.
 */
int pagemap__find_free_range(const struct guest_mem *m, const struct guest_mmu *mmu, size_t len,
			     uint64_t *gva);

/* CR3 bit 12 with PTI: the user PGD is the kernel's + 4 KiB (PTI_USER_PGTABLE_BIT). */
#define PAGEMAP_CR3_PTI_USER 0x1000ULL

/*
 * Whether mmu->cr3 is the user PGD of a PTI pair (bit 12 set, the page below
 * has the same user half, a different kernel half); if so *kernel gets the
 * kernel PGD (bit 12 clear, PCID kept). Needs no knowledge of the kernel:
 * for finding it from a vCPU in user mode.
 */
bool pagemap__pti_user(const struct guest_mem *m, const struct guest_mmu *mmu,
		       struct guest_mmu *kernel);

/*
 * While the guest is held: the page tables to walk the guest kernel with,
 * from the CR3 and CR4.LA57 of a vCPU read in this hold. A PTI user PGD
 * (pagemap__pti_user: a vCPU in user mode, or in the entry code) is
 * replaced by the kernel's, then the kernel half of the top table is
 * copied (guest__copy_kernel_top), so *mmu stays usable for the kernel
 * once the guest runs on. -EFAULT if the top table is outside guest memory.
 */
int pagemap__kernel_mmu(const struct guest_mem *m, uint64_t cr3, bool la57, struct guest_mmu *mmu);

/*
 * Make *mmu the kernel's own page tables, those vmsh may add to: the PDPT
 * under the top-level entry for the kernel image, and the PD under it for
 * _text, must be pages of the kernel image k (level3_kernel_pgt and
 * level2_kernel_pgt, which every process's kernel PGD shares with init_mm).
 * A CR3 that fails this with bit 12 set is taken for a PTI user PGD and
 * replaced by the kernel PGD below it, if that one passes. Anything else
 * (a process's tables freed since CR3 was read, garbage) is -EINVAL, with
 * an error: nothing may be written through such tables.
 */
int pagemap__kernel_root(const struct guest_mem *m, struct guest_mmu *mmu,
			 const struct guest_kernel *k);

/*
 * Map [gva, gva + len) to [gpa, gpa + len), 4 KiB pages: leaves
 * PRESENT|ACCESSED|DIRTY, WRITABLE for PAGEMAP_WRITE pages, NX for pages
 * without PAGEMAP_EXEC, never USER or GLOBAL; new tables
 * PRESENT|WRITABLE|ACCESSED|DIRTY. gva, gpa and len page-aligned, len at
 * most PAGEMAP_MAX_LEN, gva canonical. m must be able to write the pool's
 * pages and the existing tables. On success *undo (which must be empty)
 * holds the changes; on failure nothing is changed (or everything changed
 * was restored) and *undo is empty. -ENOSPC if the pool is too small.
 */
int pagemap__map(const struct guest_mem *m, const struct guest_mmu *mmu, uint64_t gva, uint64_t gpa,
		 size_t len, const struct pagemap_prot *prot, struct pagemap_pool *tables,
		 struct pagemap_undo *undo);

/*
 * Restore every entry pagemap__map() changed, last first, and free the log.
 * Stops at the first failing write (returned; the log keeps what is left,
 * so it can be retried).
 */
int pagemap__unmap(const struct guest_mem *m, struct pagemap_undo *undo);

#endif
