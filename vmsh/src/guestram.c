// SPDX-License-Identifier: GPL-2.0
/*
 * New guest RAM, MMIO windows, irqfds and ioeventfds (guestram.h).
 *
 * Where the new RAM goes. Nothing tells vmsh which guest-physical ranges the
 * hypervisor or the guest's firmware will decode later; the candidates are:
 * - QEMU's 64-bit PCI hole, right above RAM and the memory-hotplug area
 *   (32 GiB by default on q35), from which the guest assigns BARs of
 *   hotplugged devices;
 * - the firmware's own 64-bit MMIO window, which OVMF (dynamic MMIO window)
 *   and recent SeaBIOS put at the top of the physical address space, sized
 *   up to 1/8 of it.
 * A memslot over either would hide a device's BAR from the guest. So we go
 * top-down from the 7/8 line of the guest's physical address space: as far
 * above RAM and its hole as the space allows, and below the top window.
 * Only if slots already exist above that line (device memory, an earlier
 * vmsh) do we go top-down from the very top, still above every slot. The
 * original went top-down from the top; vmsh-notes.md §3.4.
 *
 * The slot id is the highest free one: hypervisors (QEMU's kvm_get_free_slot)
 * hand out the lowest free id they know of, and never know of ours.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "guestram.h"
#include "util.h"

#define GiB (1ULL << 30)
/* Room left between the highest slot and ours, at the least. */
#define GUESTRAM_MIN_GAP GiB
#define GUESTRAM_MAX_SLOTS 0x10000 /* the id field of a slot is 16 bits */

static uint64_t guestram__round_up(uint64_t v, uint64_t align, bool *overflow)
{
	uint64_t r = (v + align - 1) & ~(align - 1);

	if (r < v)
		*overflow = true;
	return r;
}

/* The highest free id that is not skip; -ENOSPC if none. */
static int guestram__choose_slot(const struct memslot *slots, size_t n, unsigned nr_memslots,
				 uint32_t skip, uint32_t *slot)
{
	uint64_t used[GUESTRAM_MAX_SLOTS / 64] = { 0 };

	for (size_t i = 0; i < n; i++) {
		uint32_t id = slots[i].id;

		/* Address space 1 (SMM) has ids of its own. */
		if (id >> 16 == 0 && id < nr_memslots)
			used[id / 64] |= 1ULL << (id % 64);
	}
	for (unsigned id = nr_memslots; id-- > 0;)
		if (!(used[id / 64] & (1ULL << (id % 64))) && id != skip) {
			*slot = id;
			return 0;
		}
	return -ENOSPC;
}

int guestram__choose(const struct memslot *slots, size_t n, unsigned nr_memslots,
		     unsigned guest_phys_bits, uint64_t ram_size, struct guestram_plan *out)
{
	bool overflow = false;
	uint64_t top, lo = 0, end, need, size;
	int err;

	if ((!slots && n) || !ram_size || !nr_memslots || nr_memslots > GUESTRAM_MAX_SLOTS ||
	    guest_phys_bits < 32 || guest_phys_bits > 52) {
		pr_err("bad arguments for RAM placement (%u phys bits, %u memslots, %llu bytes)",
		       guest_phys_bits, nr_memslots, (unsigned long long)ram_size);
		return -EINVAL;
	}
	size = guestram__round_up(ram_size, GUESTRAM_ALIGN, &overflow);
	/* The MMIO windows get a 2 MiB block of their own above the RAM. */
	need = size + GUESTRAM_ALIGN;
	top = 1ULL << guest_phys_bits;
	if (overflow || need < size || need > top) {
		pr_err("%llu bytes of RAM do not fit in a %u-bit guest-physical space",
		       (unsigned long long)ram_size, guest_phys_bits);
		return -ENOSPC;
	}

	/*
	 * The guest's RAM and devices are in the low half; a slot in the high
	 * half is one that vmsh placed there itself (a session that was
	 * killed leaves its slots behind) or something as unusual: it is
	 * stepped around, not built upon.
	 */
	for (size_t i = 0; i < n; i++) {
		const struct memslot *s = &slots[i];
		uint64_t last = s->gpa + (s->size - 1);

		if (!s->size)
			continue;
		if (last < s->gpa) {
			pr_err("memslot %u at 0x%llx wraps around the address space", s->id,
			       (unsigned long long)s->gpa);
			return -EINVAL;
		}
		if (last >= top) {
			pr_err("memslot %u reaches 0x%llx, beyond the guest's %u physical address "
			       "bits",
			       s->id, (unsigned long long)last, guest_phys_bits);
			return -ENOSPC;
		}
		if (s->gpa < top / 2 && last + 1 > lo)
			lo = last + 1;
	}
	end = lo;
	lo = guestram__round_up(lo + GUESTRAM_MIN_GAP, GUESTRAM_ALIGN, &overflow);

	const uint64_t ceilings[] = { top - top / 8, top };
	uint64_t base = 0;
	bool found = false;

	for (size_t i = 0; i < ARRAY_SIZE(ceilings) && !found; i++) {
		if (ceilings[i] < need)
			continue;
		base = (ceilings[i] - need) & ~(GUESTRAM_ALIGN - 1);
		found = base >= lo && !overflow;
		/* below each high slot in the way, until none is */
		for (size_t j = 0; found && j < n; j++) {
			const struct memslot *s = &slots[j];

			if (!s->size || s->gpa >= base + need || s->gpa + s->size <= base)
				continue;
			found = s->gpa >= need && ((s->gpa - need) & ~(GUESTRAM_ALIGN - 1)) >= lo;
			if (found)
				base = (s->gpa - need) & ~(GUESTRAM_ALIGN - 1);
			j = (size_t)-1; /* look at every slot again */
		}
	}
	if (!found) {
		pr_err("no guest-physical room for %llu bytes of RAM above the memslots "
		       "(which reach 0x%llx) in %u physical address bits",
		       (unsigned long long)size, (unsigned long long)end, guest_phys_bits);
		return -ENOSPC;
	}

	err = guestram__choose_slot(slots, n, nr_memslots, GUESTRAM_NO_SLOT, &out->slot);
	if (err) {
		pr_err("all %u memslots of the VM are in use: no slot left for vmsh's RAM",
		       nr_memslots);
		return err;
	}
	/* without it the devices stay trapped for the whole session */
	if (guestram__choose_slot(slots, n, nr_memslots, out->slot, &out->regs_slot))
		out->regs_slot = GUESTRAM_NO_SLOT;
	out->ram_gpa = base;
	out->ram_size = size;
	for (int i = 0; i < GUESTRAM_NR_MMIO; i++)
		out->mmio_gpa[i] = base + size + (uint64_t)i * GUESTRAM_MMIO_SIZE;
	return 0;
}

/* A syscall in the hypervisor; its own failure (-errno) comes back in *ret. */
static int guestram__syscall(struct hv *hv, long *ret, long nr, long a0, long a1, long a2, long a3,
			     long a4, long a5)
{
	const long a[6] = { a0, a1, a2, a3, a4, a5 };

	return tracee__syscall(&hv->t, ret, nr, a);
}

static int guestram__munmap(struct hv *hv, uint64_t addr, uint64_t size)
{
	long ret;
	int err = guestram__syscall(hv, &ret, SYS_munmap, (long)addr, (long)size, 0, 0, 0, 0);

	if (err)
		return err;
	if (ret < 0) {
		pr_err("munmap of 0x%llx (%llu bytes) inside the hypervisor failed: %s",
		       (unsigned long long)addr, (unsigned long long)size, strerror((int)-ret));
		return (int)ret;
	}
	return 0;
}

int guestram__add(struct hv *hv, const struct guestram_plan *plan, struct guestram *ram)
{
	struct kvm_userspace_memory_region region;
	long addr;
	int err;

	*ram = (struct guestram){ 0 };
	if (!plan->ram_size || plan->ram_size % GUESTRAM_ALIGN || plan->ram_gpa % GUESTRAM_ALIGN)
		return -EINVAL;
	err =
	    guestram__syscall(hv, &addr, SYS_mmap, 0, (long)plan->ram_size, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (err)
		return err;
	if (addr < 0 && addr > -4096) {
		pr_err("mmap of %llu bytes of guest RAM inside the hypervisor failed: %s",
		       (unsigned long long)plan->ram_size, strerror((int)-addr));
		return (int)addr;
	}

	region = (struct kvm_userspace_memory_region){
		.slot = plan->slot,
		.guest_phys_addr = plan->ram_gpa,
		.memory_size = plan->ram_size,
		.userspace_addr = (uint64_t)addr,
	};
	err = hv_vm_ioctl(hv, KVM_SET_USER_MEMORY_REGION, &region);
	if (err) {
		guestram__munmap(hv, (uint64_t)addr, plan->ram_size);
		return err;
	}
	ram->slot = (struct memslot){ .id = plan->slot,
				      .gpa = plan->ram_gpa,
				      .size = plan->ram_size,
				      .hva = (uint64_t)addr };
	ram->map_addr = (uint64_t)addr;
	ram->map_size = plan->ram_size;
	ram->added = true;
	pr_debug("memslot %u: %llu bytes at gpa 0x%llx, hypervisor 0x%lx", plan->slot,
		 (unsigned long long)plan->ram_size, (unsigned long long)plan->ram_gpa, addr);
	return 0;
}

int guestram__remove(struct hv *hv, struct guestram *ram)
{
	struct kvm_userspace_memory_region region;
	int err;

	if (!ram->added)
		return 0;
	region = (struct kvm_userspace_memory_region){
		.slot = ram->slot.id,
		.flags = ram->slot.flags,
		.guest_phys_addr = ram->slot.gpa,
		.memory_size = 0,
		.userspace_addr = ram->slot.hva,
	};
	/* While KVM still maps it, the memory must stay: keep it on failure. */
	err = hv_vm_ioctl(hv, KVM_SET_USER_MEMORY_REGION, &region);
	if (err)
		return err;
	ram->added = false;
	return guestram__munmap(hv, ram->map_addr, ram->map_size);
}

int guestram__readonly_add(struct hv *hv, uint32_t slot, uint64_t gpa, uint64_t size, uint64_t hva,
			   struct memslot *out)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.flags = KVM_MEM_READONLY,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = hva,
	};
	int err;

	if (slot == GUESTRAM_NO_SLOT || !size || size % 4096 || gpa % 4096 || hva % 4096)
		return -EINVAL;
	err = hv_vm_ioctl(hv, KVM_SET_USER_MEMORY_REGION, &region);
	if (!err)
		*out = (struct memslot){
			.id = slot, .flags = KVM_MEM_READONLY, .gpa = gpa, .size = size, .hva = hva
		};
	return err;
}

int guestram__readonly_remove(struct hv *hv, const struct memslot *slot)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot->id,
		.flags = slot->flags,
		.guest_phys_addr = slot->gpa,
		.memory_size = 0,
		.userspace_addr = slot->hva,
	};

	return hv_vm_ioctl(hv, KVM_SET_USER_MEMORY_REGION, &region);
}

struct memslot guestram__memslot(const struct guestram *ram)
{
	return ram->slot;
}

static int guestram__hv_close(struct hv *hv, int fd)
{
	long ret;
	int err = guestram__syscall(hv, &ret, SYS_close, fd, 0, 0, 0, 0, 0);

	if (err)
		return err;
	if (ret < 0) {
		pr_err("close(%d) inside the hypervisor failed: %s", fd, strerror((int)-ret));
		return (int)ret;
	}
	return 0;
}

int guestram__eventfd_open(struct hv *hv, struct guestram_eventfd *efd)
{
	long hv_fd;
	int err, fd;

	efd->hv_fd = efd->fd = -1;
	err =
	    guestram__syscall(hv, &hv_fd, SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK, 0, 0, 0, 0);
	if (err)
		return err;
	if (hv_fd < 0) {
		pr_err("eventfd2 inside the hypervisor failed: %s", strerror((int)-hv_fd));
		return (int)hv_fd;
	}
	fd = (int)syscall(SYS_pidfd_getfd, hv->t.pidfd, (int)hv_fd, 0);
	if (fd < 0) {
		err = -errno;
		pr_err("pidfd_getfd of the hypervisor's eventfd %ld failed: %s "
		       "(Linux >= 5.6 and ptrace access to the hypervisor are needed)",
		       hv_fd, strerror(-err));
		guestram__hv_close(hv, (int)hv_fd);
		return err;
	}
	efd->hv_fd = (int)hv_fd;
	efd->fd = fd;
	return 0;
}

int guestram__eventfd_close(struct hv *hv, struct guestram_eventfd *efd)
{
	int err = 0;

	if (efd->fd >= 0) {
		close(efd->fd);
		efd->fd = -1;
	}
	if (efd->hv_fd >= 0) {
		err = guestram__hv_close(hv, efd->hv_fd);
		if (!err)
			efd->hv_fd = -1;
	}
	return err;
}

static int guestram__irqfd(struct hv *hv, const struct guestram_eventfd *efd, uint32_t gsi,
			   uint32_t flags)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)efd->hv_fd, .gsi = gsi, .flags = flags };

	if (efd->hv_fd < 0)
		return -EBADF;
	return hv_vm_ioctl(hv, KVM_IRQFD, &irqfd);
}

int guestram__irqfd_assign(struct hv *hv, const struct guestram_eventfd *efd, uint32_t gsi)
{
	return guestram__irqfd(hv, efd, gsi, 0);
}

int guestram__irqfd_deassign(struct hv *hv, const struct guestram_eventfd *efd, uint32_t gsi)
{
	return guestram__irqfd(hv, efd, gsi, KVM_IRQFD_FLAG_DEASSIGN);
}

/* KVM finds the ioeventfd to remove by every field but DEASSIGN: same values. */
static int guestram__ioeventfd(struct hv *hv, const struct guestram_eventfd *efd, uint64_t addr,
			       uint64_t datamatch, uint32_t flags)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch == GUESTRAM_ANY_DATA ? 0 : datamatch,
		.addr = addr,
		.len = 4,
		.fd = efd->hv_fd,
		.flags =
		    (datamatch == GUESTRAM_ANY_DATA ? 0 : KVM_IOEVENTFD_FLAG_DATAMATCH) | flags,
	};

	if (efd->hv_fd < 0)
		return -EBADF;
	return hv_vm_ioctl(hv, KVM_IOEVENTFD, &io);
}

int guestram__ioeventfd_assign(struct hv *hv, const struct guestram_eventfd *efd, uint64_t addr,
			       uint64_t datamatch)
{
	return guestram__ioeventfd(hv, efd, addr, datamatch, 0);
}

int guestram__ioeventfd_deassign(struct hv *hv, const struct guestram_eventfd *efd, uint64_t addr,
				 uint64_t datamatch)
{
	return guestram__ioeventfd(hv, efd, addr, datamatch, KVM_IOEVENTFD_FLAG_DEASSIGN);
}
