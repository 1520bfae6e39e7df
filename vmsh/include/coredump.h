/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmsh coredump's file format (core_elf.c): an ELF64 ET_CORE file of a
 * whole VM, laid out as QEMU's dump-guest-memory and the kernel's kdump
 * lay theirs out, so that crash and drgn read it:
 *
 *   ELF header | PT_NOTE, [kernel image PT_LOAD], PT_LOAD x nloads | notes | pad | RAM
 *
 * - notes: one NT_PRSTATUS ("CORE") per vCPU in vCPU order (pid = index
 *   + 1), then one "QEMU" note per vCPU (QEMUCPUState, version 1, as
 *   QEMU's target/i386/arch_dump.c writes it), then the guest's own
 *   VMCOREINFO note, copied as found in guest memory (if found).
 * - one PT_LOAD per guest RAM range: p_paddr = guest-physical, p_vaddr =
 *   its address in the kernel's direct map where known, else 0; p_offset
 *   page-aligned, data written sparse (all-zero pages are holes).
 * - where the guest kernel was found, first, one more PT_LOAD for its image
 *   as kdump writes it (p_vaddr = _text, p_paddr = its physical address),
 *   whose p_offset points into the RAM range's data that holds it (no
 *   copy): drgn reads the kernel's top-level page table through it, and
 *   crash takes the kernel's physical base from it.
 *
 * The notes area is reserved at its largest (a VMCOREINFO note of
 * CORE_VMCOREINFO_MAX bytes), so that the RAM can be written first and the
 * headers last, once the copy has found the VMCOREINFO note.
 *
 * Everything taken from guest memory is untrusted: a VMCOREINFO candidate is
 * checked (header, name, size, text) before it is used.
 */
#ifndef VMSH_COREDUMP_H
#define VMSH_COREDUMP_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "guest.h"

#define CORE_PAGE_SIZE 4096u

/* The kernel's VMCOREINFO_BYTES (one page of text) and note: 12 + 12 + text. */
#define CORE_VMCOREINFO_TEXT_MAX 4096u
#define CORE_VMCOREINFO_MAX (12u + 12u + CORE_VMCOREINFO_TEXT_MAX)

/* Sizes of the per-vCPU notes (header, padded name, descriptor). */
#define CORE_PRSTATUS_SIZE 336u	  /* struct elf_prstatus on x86-64 */
#define CORE_QEMU_STATE_SIZE 440u /* struct QEMUCPUState with kernel_gs_base */
#define CORE_PRSTATUS_NOTE_SIZE (12u + 8u + CORE_PRSTATUS_SIZE)
#define CORE_QEMU_NOTE_SIZE (12u + 8u + CORE_QEMU_STATE_SIZE)

/* The most PT_LOADs (e_phnum is 16 bits; PN_XNUM is not worth it for memslots). */
#define CORE_MAX_LOADS 0xfff0u

/* One vCPU as the notes need it. */
struct core_vcpu {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint64_t kernel_gs_base; /* MSR_KERNEL_GS_BASE, 0 if unknown */
};

/* One guest RAM range and where it lies in the file. */
struct core_load {
	uint64_t gpa, size;
	uint64_t vaddr;	 /* p_vaddr: direct-map address, 0 if unknown */
	uint64_t hva;	 /* in the hypervisor (not written to the file) */
	uint64_t offset; /* p_offset, set by core__layout */
};

struct core_layout {
	size_t nvcpus, nloads;
	uint64_t phoff;	   /* program headers (room for nloads + 2) */
	uint64_t note_off; /* notes */
	uint64_t note_max; /* bytes reserved for them */
	uint64_t data_off; /* first PT_LOAD's data, page-aligned */
	uint64_t file_size;
};

/*
 * Place the notes and the loads' data (sets loads[].offset); -EINVAL if
 * there are too many loads, a size is not page-aligned or the file size
 * overflows.
 */
int core__layout(struct core_layout *l, size_t nvcpus, struct core_load *loads, size_t nloads);

/*
 * The kernel image's PT_LOAD: [vaddr, vaddr + size) at paddr, cut to the
 * RAM range that holds paddr and to the kernel's 1 GiB window; its offset
 * inside that range's data. -ENOENT if paddr is in no RAM range.
 */
int core__kernel_load(const struct core_layout *l, const struct core_load *loads, uint64_t vaddr,
		      uint64_t paddr, struct core_load *out);

/*
 * Write the ELF header, program headers and notes into buf (l->note_off +
 * l->note_max bytes, zeroed by the caller): the kernel image's PT_LOAD if
 * kimage is not NULL, the RAM ranges' PT_LOADs, the vCPUs' notes, then the
 * VMCOREINFO note (vmcoreinfo, vmci_len bytes, or none if vmci_len is 0).
 * Returns the bytes of buf to write (up to the end of the notes), or -EINVAL.
 */
ssize_t core__headers(const struct core_layout *l, const struct core_vcpu *vcpus,
		      const struct core_load *loads, const struct core_load *kimage,
		      const uint8_t *vmcoreinfo, size_t vmci_len, uint8_t *buf, size_t len);

/* The notes' descriptors, as core__headers writes them (for tests). */
void core__prstatus(uint8_t out[CORE_PRSTATUS_SIZE], int index, const struct core_vcpu *v);
void core__qemu_state(uint8_t out[CORE_QEMU_STATE_SIZE], const struct core_vcpu *v);

/* Whether len bytes at p are all zero. */
bool core__is_zero(const void *p, size_t len);

/*
 * Write buf (len bytes, a multiple of CORE_PAGE_SIZE is best) at off of fd,
 * skipping all-zero pages (the file must be sized with ftruncate first, so
 * that they read back as zeros). Adds the bytes written to *written.
 * 0 or a negative errno (-ENOSPC for a full disk).
 */
int core__write_sparse(int fd, uint64_t off, const uint8_t *buf, size_t len, uint64_t *written);

/*
 * Finding the guest's VMCOREINFO note: the kernel keeps it in
 * vmcoreinfo_note, page-aligned, as one ELF note named "VMCOREINFO" (type
 * 0) whose text begins "OSRELEASE=". core__vmci_page() looks at a page of
 * guest RAM (at gpa) as it is copied; where its start looks like the note
 * it reads and checks the whole note through m and keeps it. The first
 * CORE_VMCI_CANDIDATES good ones are kept; core__vmci_pick() chooses
 * among them.
 */
#define CORE_VMCI_CANDIDATES 4
struct core_vmci {
	size_t ncand;
	unsigned long seen; /* good candidates, kept or not */
	struct {
		uint64_t gpa;
		size_t len;
		uint8_t note[CORE_VMCOREINFO_MAX];
	} cand[CORE_VMCI_CANDIDATES];
};

/*
 * Check a VMCOREINFO note at the start of buf (len bytes): its length
 * (header, name and text, padded to 4), or -EINVAL if it is not one.
 */
ssize_t core__vmci_check(const uint8_t *buf, size_t len);
/* Look at one page of guest RAM (page: its first bytes, at least 24). */
void core__vmci_page(struct core_vmci *s, const struct guest_mem *m, uint64_t gpa,
		     const uint8_t *page, size_t len);
/*
 * The candidate to use: the first whose OSRELEASE is release (if release
 * is not NULL and one matches), else the first; -1 if none.
 */
int core__vmci_pick(const struct core_vmci *s, const char *release);
/* Scan every page of the slots with core__vmci_page (fallback, and tests). */
int core__vmci_scan(struct core_vmci *s, const struct guest_mem *m);

#endif
