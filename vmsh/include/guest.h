/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest, seen from outside: its physical memory through the hypervisor's
 * memslots, its virtual memory through its page tables, and its Linux kernel.
 * Everything read here is untrusted guest data: every address is
 * bounds-checked and bad data is an error (-EFAULT, -EINVAL, -ENOENT), never
 * a crash or an unbounded loop.
 */
#ifndef VMSH_GUEST_H
#define VMSH_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "memslot.h"

/* A range of the hypervisor's memory, for the vectored callbacks. */
struct guest_hva_seg {
	uint64_t hva;
	size_t len;
};

/* A range of guest-physical memory, for guest__readv_phys/writev_phys. */
struct guest_seg {
	uint64_t gpa;
	size_t len;
};

/* The most segments handed to one vectored callback (IOV_MAX on Linux). */
#define GUEST_MAX_SEGS 1024

struct guest_mem {
	const struct memslot *slots;
	size_t nslots;
	/* Read and write hypervisor memory; 0 or a negative errno. */
	int (*read_hva)(void *ctx, uint64_t hva, void *buf, size_t len);
	int (*write_hva)(void *ctx, uint64_t hva, const void *buf, size_t len); /* may be NULL */
	void *ctx;
	/*
	 * Optional vectored forms: move nsegs (at most GUEST_MAX_SEGS) ranges,
	 * in order, to or from the contiguous buf (their total length). 0 or
	 * a negative errno; a short transfer is an error. When NULL, the
	 * scalar callback is called once per range, except that
	 * guest__read_hva_process/write_hva_process imply their vectored
	 * forms (same ctx), so that every live hypervisor gets them.
	 */
	int (*readv_hva)(void *ctx, const struct guest_hva_seg *segs, size_t nsegs, void *buf);
	int (*writev_hva)(void *ctx, const struct guest_hva_seg *segs, size_t nsegs,
			  const void *buf);
	/*
	 * Optional: incremented once per callback call (one system call each
	 * for a live hypervisor), for tests and statistics. A pointer, so that
	 * copies of this struct (each virtio device has one) count together.
	 */
	unsigned long *calls;
	/*
	 * Optional: a pointer in vmsh to [hva, hva + len) of the hypervisor,
	 * or NULL where that memory is not mapped into vmsh (hvmem.h).
	 */
	void *(*ptr_hva)(void *ctx, uint64_t hva, size_t len);
};

/* read_hva/write_hva for a live hypervisor: ctx is a pid_t * (process_vm_readv/writev). */
int guest__read_hva_process(void *ctx, uint64_t hva, void *buf, size_t len);
int guest__write_hva_process(void *ctx, uint64_t hva, const void *buf, size_t len);
/*
 * readv_hva/writev_hva for a live hypervisor: one process_vm_readv/writev
 * with a remote iovec per range (more only after a partial transfer, or
 * for more than GUEST_MAX_SEGS ranges).
 */
int guest__readv_hva_process(void *ctx, const struct guest_hva_seg *segs, size_t nsegs, void *buf);
int guest__writev_hva_process(void *ctx, const struct guest_hva_seg *segs, size_t nsegs,
			      const void *buf);

/*
 * Copy guest-physical memory; -EFAULT if any byte is outside every slot (or,
 * for a write, in a read-only slot), -EINVAL without a read/write callback.
 */
int guest__read_phys(const struct guest_mem *m, uint64_t gpa, void *buf, size_t len);
int guest__write_phys(const struct guest_mem *m, uint64_t gpa, const void *buf, size_t len);
/*
 * Whether guest__read_phys (write: guest__write_phys) of this range would
 * pass the memslot checks, without touching memory: 0, -EFAULT or -EINVAL.
 */
int guest__check_phys(const struct guest_mem *m, uint64_t gpa, size_t len, bool write);
/*
 * Copy between nsegs guest-physical ranges, in order, and the contiguous
 * buf (their total length), with as few callback calls as the memslots
 * allow: one vectored call for up to GUEST_MAX_SEGS pieces (a range that
 * crosses slots is one piece per slot). Every range is checked as in
 * guest__read_phys/write_phys before anything moves, so that a bad range
 * changes nothing: -EFAULT, and *bad (if not NULL) is the index of the
 * first bad range. A failed transfer returns the callback's error and sets
 * *bad to SIZE_MAX; a write may then have been partly done. -EINVAL
 * without callbacks or if the total length overflows.
 */
int guest__readv_phys(const struct guest_mem *m, const struct guest_seg *segs, size_t nsegs,
		      void *buf, size_t *bad);
int guest__writev_phys(const struct guest_mem *m, const struct guest_seg *segs, size_t nsegs,
		       const void *buf, size_t *bad);

/*
 * Guest-physical [gpa, gpa + len) as a pointer into vmsh, checked as
 * guest__read_phys (write: guest__write_phys) would: NULL if the range is
 * bad, crosses a slot, or is not mapped into vmsh (no ptr_hva, or it says
 * so). The guest may change that memory at any time: read what is needed
 * once, as from any other guest memory.
 */
void *guest__phys_ptr(const struct guest_mem *m, uint64_t gpa, size_t len, bool write);

/* the control-register bits that say how a vCPU translates addresses */
#define CR0_PE (1ULL << 0)
#define CR4_LA57 (1ULL << 12) /* 5-level paging */
#define EFER_LMA (1ULL << 10) /* long mode active */

#define GUEST_MMU_KERNEL_TOP 256 /* entries in the kernel half of a top table */

struct guest_mmu {
	uint64_t cr3;
	bool la57; /* CR4.LA57: 5-level paging */
	/*
	 * When top_copied: the kernel half of the top table, copied while the
	 * guest was held (guest__copy_kernel_top), used for kernel addresses
	 * instead of reading the table at cr3. Every process shares this half
	 * and the kernel tables under it, so walks of the kernel stay right
	 * once the guest runs on and the process whose CR3 this was exits,
	 * its top table freed and reused.
	 */
	bool top_copied;
	uint64_t kernel_top[GUEST_MMU_KERNEL_TOP];
};

/*
 * Copy the kernel half of mmu's top table into mmu (top_copied). Call it
 * while the guest is held, with a CR3 read in the same hold. -EFAULT if the
 * table is outside guest memory.
 */
int guest__copy_kernel_top(const struct guest_mem *m, struct guest_mmu *mmu);
/* Entry idx of mmu's top table: from the copy for the kernel half, if made. */
int guest__read_top_entry(const struct guest_mem *m, const struct guest_mmu *mmu, unsigned idx,
			  uint64_t *entry);
/* Translate a virtual address; -EFAULT if not mapped. *page_size may be NULL. */
int guest__translate(const struct guest_mem *m, const struct guest_mmu *mmu, uint64_t gva,
		     uint64_t *gpa, uint64_t *page_size);
/* The same, and *nx: whether a table entry on the way has NX (bit 63) set. */
int guest__translate_nx(const struct guest_mem *m, const struct guest_mmu *mmu, uint64_t gva,
			uint64_t *gpa, uint64_t *page_size, bool *nx);
/* Copy guest-virtual memory, page by page. */
int guest__read_virt(const struct guest_mem *m, const struct guest_mmu *mmu, uint64_t gva,
		     void *buf, size_t len);
/*
 * Copy guest-virtual memory, zero-filling what is unmapped or outside guest
 * memory (for scans of a region that may have holes). Never fails.
 */
void guest__read_virt_fill(const struct guest_mem *m, const struct guest_mmu *mmu, uint64_t gva,
			   uint8_t *buf, size_t len);

/* The x86-64 kernel image window: _text lies in [START, END). */
#define GUEST_KERNEL_WINDOW_START 0xffffffff80000000ULL
#define GUEST_KERNEL_WINDOW_END 0xffffffffc0000000ULL

enum ksymtab_layout {
	KSYMTAB_NONE,
	KSYMTAB_PREL32_NS, /* >= 5.4: int value, name, namespace offsets (12 bytes) */
	KSYMTAB_PREL32,	   /* 4.19 - 5.3: int value, name offsets (8 bytes) */
	KSYMTAB_ABS64,	   /* < 4.19: unsigned long value, const char *name (16 bytes) */
};

struct ksym {
	uint64_t addr;
	char *name;
};

struct guest_kernel {
	uint64_t vbase;	       /* virtual address of the kernel image (_text) */
	uint64_t kaslr_offset; /* vbase - 0xffffffff81000000 */
	uint64_t pbase;	       /* its guest-physical address */
	int paging_levels;     /* 4 or 5 */
	char banner[512];      /* linux_banner, as /proc/version shows it (no newline) */
	enum ksymtab_layout layout;
	struct ksym *syms; /* exported symbols, sorted by name */
	size_t nsyms;
	uint64_t ksymtab_va; /* where the export table starts (BTF comes after it) */
	uint64_t banner_va;  /* where linux_banner is */
};

/* Find and analyze the kernel mapped by mmu; 0 or a negative errno (pr_err). */
int guest__find_kernel(const struct guest_mem *m, const struct guest_mmu *mmu,
		       struct guest_kernel *k);
/* Only where the kernel lies: vbase, kaslr_offset, pbase, paging_levels. */
int guest__kernel_base(const struct guest_mem *m, const struct guest_mmu *mmu,
		       struct guest_kernel *k);
/* The size of one export table entry. */
size_t guest__ksymtab_entry_size(enum ksymtab_layout l);
/* Look up an exported symbol; NULL if absent. */
const struct ksym *guest__kernel_symbol(const struct guest_kernel *k, const char *name);
void guest__kernel_free(struct guest_kernel *k);

const char *ksymtab_layout__name(enum ksymtab_layout l);

#endif
