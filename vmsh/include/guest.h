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

struct guest_mem {
	const struct memslot *slots;
	size_t nslots;
	/* Read and write hypervisor memory; 0 or a negative errno. */
	int (*read_hva)(void *ctx, uint64_t hva, void *buf, size_t len);
	int (*write_hva)(void *ctx, uint64_t hva, const void *buf, size_t len); /* may be NULL */
	void *ctx;
};

/* read_hva/write_hva for a live hypervisor: ctx is a pid_t * (process_vm_readv/writev). */
int guest__read_hva_process(void *ctx, uint64_t hva, void *buf, size_t len);
int guest__write_hva_process(void *ctx, uint64_t hva, const void *buf, size_t len);

/*
 * Copy guest-physical memory; -EFAULT if any byte is outside every slot (or,
 * for a write, in a read-only slot), -EINVAL without a read/write callback.
 */
int guest__read_phys(const struct guest_mem *m, uint64_t gpa, void *buf, size_t len);
int guest__write_phys(const struct guest_mem *m, uint64_t gpa, const void *buf, size_t len);

struct guest_mmu {
	uint64_t cr3;
	bool la57; /* CR4.LA57: 5-level paging */
};

/* Translate a virtual address; -EFAULT if not mapped. *page_size may be NULL. */
int guest__translate(const struct guest_mem *m, const struct guest_mmu *mmu, uint64_t gva,
		     uint64_t *gpa, uint64_t *page_size);
/* Copy guest-virtual memory, page by page. */
int guest__read_virt(const struct guest_mem *m, const struct guest_mmu *mmu, uint64_t gva,
		     void *buf, size_t len);

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
};

/* Find and analyze the kernel mapped by mmu; 0 or a negative errno (pr_err). */
int guest__find_kernel(const struct guest_mem *m, const struct guest_mmu *mmu,
		       struct guest_kernel *k);
/* Look up an exported symbol; NULL if absent. */
const struct ksym *guest__kernel_symbol(const struct guest_kernel *k, const char *name);
void guest__kernel_free(struct guest_kernel *k);

const char *ksymtab_layout__name(enum ksymtab_layout l);

#endif
