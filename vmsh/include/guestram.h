/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What vmsh adds to the VM, and takes away again: a KVM memslot of new guest
 * RAM backed by memory of the hypervisor, two MMIO windows (unbacked
 * guest-physical ranges that nothing else decodes), an interrupt line, and
 * irqfds/ioeventfds whose eventfds live in the hypervisor.
 *
 * Placement and pin choice are pure functions of what was read from KVM
 * (unit-tested). Everything that changes the hypervisor has an exact
 * inverse, named beside it, that leaves the process as it was found
 * (/proc/PID/maps, /proc/PID/fd, the VM's memslots, irqfds and ioeventfds):
 *   guestram__add            <-> guestram__remove
 *   guestram__eventfd_open   <-> guestram__eventfd_close
 *   guestram__irqfd_assign   <-> guestram__irqfd_deassign
 *   guestram__ioeventfd_assign <-> guestram__ioeventfd_deassign
 *   guestram__readonly_add   <-> guestram__readonly_remove
 * A function that fails has undone whatever it did itself. Inverses run in
 * the reverse order: deassign before closing the eventfd.
 * Errors are negative errnos, reported with pr_err().
 */
#ifndef VMSH_GUESTRAM_H
#define VMSH_GUESTRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv.h"
#include "memslot.h"

#define GUESTRAM_ALIGN (2ULL << 20) /* RAM start and size: one huge page */
#define GUESTRAM_MMIO_SIZE 0x1000ULL
#define GUESTRAM_NR_MMIO 2

#define GUESTRAM_NO_SLOT UINT32_MAX

struct guestram_plan {
	uint32_t slot;	    /* a free slot id of address space 0 */
	uint32_t regs_slot; /* a second one for the register pages, or GUESTRAM_NO_SLOT */
	uint64_t ram_gpa;   /* GUESTRAM_ALIGN-aligned */
	uint64_t ram_size;  /* the request rounded up to GUESTRAM_ALIGN */
	uint64_t mmio_gpa[GUESTRAM_NR_MMIO];
};

/*
 * Choose two slot ids (the second may be GUESTRAM_NO_SLOT) below nr_memslots (KVM_CAP_NR_MEMSLOTS)
 * unused in address space 0, and guest-physical ranges for ram_size bytes of RAM and
 * GUESTRAM_NR_MMIO windows: below 2^guest_phys_bits (the vCPU's MAXPHYADDR,
 * CPUID 0x80000008 EAX[7:0]), above every slot of every address space, far
 * from the hypervisor's PCI windows (see guestram.c). slots need not be
 * sorted. -EINVAL for bad arguments or a slot whose range wraps, -ENOSPC when
 * no id is free or the address space has no room (with pr_err()).
 */
int guestram__choose(const struct memslot *slots, size_t n, unsigned nr_memslots,
		     unsigned guest_phys_bits, uint64_t ram_size, struct guestram_plan *out);

struct guestram {
	struct memslot slot; /* as given to KVM; hva is the mapping in the hypervisor */
	uint64_t map_addr;   /* the whole mapping in the hypervisor, for munmap */
	uint64_t map_size;
	bool added;
};

/*
 * mmap(MAP_SHARED|MAP_ANONYMOUS|MAP_NORESERVE) plan->ram_size bytes in the
 * hypervisor and make them slot plan->slot at plan->ram_gpa
 * (KVM_SET_USER_MEMORY_REGION). The RAM reads as zeroes.
 */
int guestram__add(struct hv *hv, const struct guestram_plan *plan, struct guestram *ram);
/* Delete the slot (memory_size 0), then munmap the whole mapping. */
int guestram__remove(struct hv *hv, struct guestram *ram);
/*
 * The slot to append to a struct guest_mem's slots so that vmsh can write
 * the new RAM with guest__write_phys() (read_hva/write_hva of the hypervisor).
 */
struct memslot guestram__memslot(const struct guestram *ram);

/*
 * A read-only memslot (KVM_MEM_READONLY) of size bytes at gpa over memory
 * the hypervisor already maps at hva (vmsh's own RAM): the guest reads it
 * without an exit; its writes exit to the hypervisor as MMIO unless an
 * ioeventfd takes them in the kernel. *out describes the slot for removal.
 */
int guestram__readonly_add(struct hv *hv, uint32_t slot, uint64_t gpa, uint64_t size, uint64_t hva,
			   struct memslot *out);
/* Delete it (memory_size 0); the memory stays, it belongs to vmsh's RAM. */
int guestram__readonly_remove(struct hv *hv, const struct memslot *slot);

/* An eventfd that lives in the hypervisor, and vmsh's copy of it. */
struct guestram_eventfd {
	int hv_fd; /* in the hypervisor, -1 if none */
	int fd;	   /* in vmsh (pidfd_getfd), -1 if none */
};

/* eventfd2(0, EFD_CLOEXEC|EFD_NONBLOCK) in the hypervisor, copied into vmsh. */
int guestram__eventfd_open(struct hv *hv, struct guestram_eventfd *efd);
/* close() both copies; a no-op for one that is already closed. */
int guestram__eventfd_close(struct hv *hv, struct guestram_eventfd *efd);

/* KVM_IRQFD: a write to efd raises gsi (edge: irqfd pulses the line). */
int guestram__irqfd_assign(struct hv *hv, const struct guestram_eventfd *efd, uint32_t gsi);
int guestram__irqfd_deassign(struct hv *hv, const struct guestram_eventfd *efd, uint32_t gsi);

/*
 * KVM_IOEVENTFD: a 4-byte guest write of datamatch to the MMIO address addr
 * signals efd in the kernel (virtio-mmio QueueNotify, datamatch = queue);
 * GUESTRAM_ANY_DATA: a write of any value (InterruptACK).
 */
#define GUESTRAM_ANY_DATA (1ULL << 32)
int guestram__ioeventfd_assign(struct hv *hv, const struct guestram_eventfd *efd, uint64_t addr,
			       uint64_t datamatch);
int guestram__ioeventfd_deassign(struct hv *hv, const struct guestram_eventfd *efd, uint64_t addr,
				 uint64_t datamatch);

/*
 * Interrupt lines (irqline.c), gsi[i] for device i of n. A GSI chosen is
 * an ISA IRQ (1, 3-15) whose IOAPIC pin is masked and untouched since
 * reset, and the guest's Linux irq number for it is the same number, which
 * is what stage1 puts in the platform device's IRQ resource (the rule and
 * its reasons: irqline.c). Each device gets a line of its own while free
 * pins last; the devices after that share the last line found.
 */
struct kvm_ioapic_state;
/* Pure: the preferred free pins of an IOAPIC state; -ENOSPC if none is free. */
int guestram__irq_choose(const struct kvm_ioapic_state *s, uint32_t *gsi, unsigned int n);
/*
 * Read the in-kernel IOAPIC (KVM_GET_IRQCHIP) and choose. With a split
 * irqchip (the IOAPIC in the hypervisor), one line for all: the first pin
 * of the preference order (irqline.c says why that works). Changes nothing.
 */
int guestram__irq_find(struct hv *hv, uint32_t *gsi, unsigned int n);

#endif
