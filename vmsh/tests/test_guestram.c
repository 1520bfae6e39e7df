// SPDX-License-Identifier: GPL-2.0
/*
 * Placement of vmsh's RAM and MMIO windows over the memslot layouts of real
 * machines, the choice of an interrupt line from IOAPIC states, and the
 * hypervisor side of guestram.c against a fake hypervisor: the injected
 * syscalls and ioctls are recorded (and made to fail on demand), eventfds
 * are real ones of this process, copied back with pidfd_getfd(2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "guestram.h"
#include "util.h"
#include "skip.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define TiB (1ULL << 40)

/* --- placement ------------------------------------------------------------ */

/* Everything guestram.h promises about a plan. */
static void check_plan(const struct memslot *slots, size_t n, unsigned nr, unsigned bits,
		       uint64_t size, const struct guestram_plan *p)
{
	uint64_t top = 1ULL << bits;
	struct {
		uint64_t start, len;
	} r[1 + GUESTRAM_NR_MMIO] = { { p->ram_gpa, p->ram_size } };

	assert_true(p->slot < nr);
	assert_int_equal(p->ram_gpa % (2 * MiB), 0);
	assert_int_equal(p->ram_size % (2 * MiB), 0);
	assert_true(p->ram_size >= size && p->ram_size - size < 2 * MiB);
	for (int i = 0; i < GUESTRAM_NR_MMIO; i++)
		r[1 + i].start = p->mmio_gpa[i], r[1 + i].len = GUESTRAM_MMIO_SIZE;
	for (size_t i = 0; i < ARRAY_SIZE(r); i++) {
		assert_true(r[i].start < top && r[i].len <= top - r[i].start);
		for (size_t j = 0; j < i; j++)
			assert_false(r[i].start < r[j].start + r[j].len &&
				     r[j].start < r[i].start + r[i].len);
		/*
		 * Above every slot of the low half in every address space, with a
		 * gap; clear of those in the high half.
		 */
		for (size_t s = 0; s < n; s++)
			if (slots[s].size && slots[s].gpa < top / 2)
				assert_true(r[i].start >= slots[s].gpa + slots[s].size + GiB);
			else if (slots[s].size)
				assert_false(r[i].start < slots[s].gpa + slots[s].size &&
					     slots[s].gpa < r[i].start + r[i].len);
	}
	for (size_t s = 0; s < n; s++)
		if (slots[s].id >> 16 == 0)
			assert_int_not_equal(slots[s].id, p->slot);
}

static void test_choose_q35(void **state)
{
	/* q35, 6 GiB: 2 GiB below the PCI hole, 4 GiB above 4G, BIOS, SMM. */
	static const struct memslot q35[] = {
		{ .id = 0, .gpa = 0, .size = 0xa0000 },
		{ .id = 1, .gpa = 0xc0000, .size = 2 * GiB - 0xc0000 },
		{ .id = 2, .gpa = 4 * GiB, .size = 4 * GiB },
		{ .id = 3, .gpa = 0xfffc0000, .size = 0x40000, .flags = KVM_MEM_READONLY },
		{ .id = 1 << 16, .gpa = 0, .size = 2 * GiB },
		{ .id = 1 << 16 | 1, .gpa = 4 * GiB, .size = 4 * GiB },
	};
	struct guestram_plan p;

	(void)state;
	assert_int_equal(guestram__choose(q35, ARRAY_SIZE(q35), 509, 40, 16 * MiB, &p), 0);
	check_plan(q35, ARRAY_SIZE(q35), 509, 40, 16 * MiB, &p);
	/* Top-down from 7/8 of 1 TiB: RAM, then the MMIO block above it. */
	assert_int_equal(p.ram_gpa, 896 * GiB - 18 * MiB);
	assert_int_equal(p.mmio_gpa[0], 896 * GiB - 2 * MiB);
	assert_int_equal(p.mmio_gpa[1], 896 * GiB - 2 * MiB + 0x1000);
	assert_int_equal(p.slot, 508); /* the highest free id */
	/* A host-sized address space (-cpu host): the same rule. */
	assert_int_equal(guestram__choose(q35, ARRAY_SIZE(q35), 32764, 46, 3 * MiB, &p), 0);
	check_plan(q35, ARRAY_SIZE(q35), 32764, 46, 3 * MiB, &p);
	assert_int_equal(p.ram_size, 4 * MiB);
	assert_int_equal(p.ram_gpa, (1ULL << 46) - (1ULL << 43) - 6 * MiB);
	assert_int_equal(p.slot, 32763);
}

static void test_choose_microvm_and_unsorted(void **state)
{
	/* microvm: one RAM slot; firecracker-like: slots listed in any order. */
	static const struct memslot microvm[] = { { .id = 0, .gpa = 0, .size = 512 * MiB } };
	static const struct memslot unsorted[] = {
		{ .id = 5, .gpa = 8 * GiB, .size = GiB },
		{ .id = 0, .gpa = 0, .size = GiB },
		{ .id = 508, .gpa = 2 * GiB, .size = MiB },
	};
	struct guestram_plan p;

	(void)state;
	assert_int_equal(guestram__choose(microvm, 1, 509, 39, 1, &p), 0);
	check_plan(microvm, 1, 509, 39, 1, &p);
	assert_int_equal(p.ram_size, 2 * MiB);
	assert_int_equal(p.ram_gpa, 448 * GiB - 4 * MiB);
	assert_int_equal(guestram__choose(unsorted, 3, 509, 36, 64 * MiB, &p), 0);
	check_plan(unsorted, 3, 509, 36, 64 * MiB, &p);
	assert_int_equal(p.ram_gpa, 56 * GiB - 66 * MiB);
	assert_int_equal(p.slot, 507);
	/* No slots at all. */
	assert_int_equal(guestram__choose(NULL, 0, 32, 32, MiB, &p), 0);
	check_plan(NULL, 0, 32, 32, MiB, &p);
	assert_int_equal(p.slot, 31);
}

static void test_choose_slots_near_the_top(void **state)
{
	/* Device memory in the high half (an earlier vmsh, a VFIO BAR): stepped around. */
	const struct memslot high[] = {
		{ .id = 0, .gpa = 0, .size = GiB },
		{ .id = 7, .gpa = 895 * GiB, .size = GiB },
	};
	/* An SMM slot counts for addresses too. */
	const struct memslot smm_high[] = {
		{ .id = 0, .gpa = 0, .size = GiB },
		{ .id = 1 << 16 | 3, .gpa = 960 * GiB, .size = GiB },
	};
	/* What two killed sessions leave on a 40-bit q35 guest (seen in the lab) */
	const struct memslot killed[] = {
		{ .id = 0, .gpa = 0, .size = 256 * MiB },
		{ .id = 32763, .gpa = 0xdfffc00000, .size = 2 * MiB },
		{ .id = 32762, .gpa = 0xdfffe00000, .size = 2 * MiB },
		{ .id = 32761, .gpa = 0xffffc00000, .size = 2 * MiB },
		{ .id = 32760, .gpa = 0xffffe00000, .size = 2 * MiB },
	};
	const struct memslot too_high[] = {
		{ .id = 0, .gpa = 500 * GiB, .size = 523 * GiB + 512 * MiB }
	};
	const struct memslot above[] = { { .id = 0, .gpa = 2 * TiB, .size = GiB } };
	struct guestram_plan p;

	(void)state;
	assert_int_equal(guestram__choose(high, 2, 509, 40, 100 * MiB, &p), 0);
	check_plan(high, 2, 509, 40, 100 * MiB, &p);
	assert_int_equal(p.ram_gpa, 895 * GiB - 102 * MiB);
	assert_int_equal(guestram__choose(smm_high, 2, 509, 40, 100 * MiB, &p), 0);
	check_plan(smm_high, 2, 509, 40, 100 * MiB, &p);
	assert_int_equal(guestram__choose(killed, 5, 32764, 40, 2 * MiB, &p), 0);
	check_plan(killed, 5, 32764, 40, 2 * MiB, &p);
	assert_int_equal(p.ram_gpa, 0xdfffc00000 - 4 * MiB);
	/* Less than the gap left above the highest slot; a slot above MAXPHYADDR. */
	assert_int_equal(guestram__choose(too_high, 1, 509, 40, MiB, &p), -ENOSPC);
	assert_int_equal(guestram__choose(above, 1, 509, 40, MiB, &p), -ENOSPC);
	/* Room below the high slot, but not for this much RAM above the low one. */
	assert_int_equal(guestram__choose(high, 2, 509, 40, 900 * GiB, &p), -ENOSPC);
}

static void test_choose_no_room(void **state)
{
	/* 32-bit physical space with 3 GiB of RAM: 4 GiB total. */
	const struct memslot small[] = { { .id = 0, .gpa = 0, .size = 3 * GiB } };
	const struct memslot ok[] = { { .id = 0, .gpa = 0, .size = GiB } };
	struct guestram_plan p;

	(void)state;
	assert_int_equal(guestram__choose(small, 1, 509, 32, MiB, &p), -ENOSPC);
	assert_int_equal(guestram__choose(ok, 1, 509, 32, 2 * GiB, &p), -ENOSPC);
	assert_int_equal(guestram__choose(ok, 1, 509, 32, GiB, &p), 0);
	check_plan(ok, 1, 509, 32, GiB, &p);
	assert_int_equal(guestram__choose(ok, 1, 509, 40, 1ULL << 40, &p), -ENOSPC);
}

static void test_choose_ids(void **state)
{
	struct memslot full[4];
	/* ids of address space 1 and ids beyond nr (KVM's private slots) are no obstacle. */
	const struct memslot mixed[] = {
		{ .id = 0, .gpa = 0, .size = GiB },
		{ .id = 1 << 16 | 1, .gpa = 0, .size = GiB },
		{ .id = 509, .gpa = 0xfee00000, .size = 0x1000 },
	};
	struct guestram_plan p;

	(void)state;
	for (unsigned i = 0; i < 4; i++)
		full[i] = (struct memslot){ .id = i, .gpa = i * GiB, .size = GiB };
	assert_int_equal(guestram__choose(full, 4, 4, 40, MiB, &p), -ENOSPC);
	assert_int_equal(guestram__choose(full, 4, 5, 40, MiB, &p), 0);
	assert_int_equal(p.slot, 4);
	full[2].id = 1 << 16 | 2;
	assert_int_equal(guestram__choose(full, 4, 4, 40, MiB, &p), 0);
	assert_int_equal(p.slot, 2);
	assert_int_equal(guestram__choose(mixed, 3, 2, 40, MiB, &p), 0);
	assert_int_equal(p.slot, 1);
	check_plan(mixed, 3, 2, 40, MiB, &p);
	assert_int_equal(guestram__choose(mixed, 3, 65536, 40, MiB, &p), 0);
	assert_int_equal(p.slot, 65535);
}

static void test_choose_bad_input(void **state)
{
	const struct memslot wrap[] = { { .id = 0, .gpa = UINT64_MAX - 0xfff, .size = 0x2000 } };
	const struct memslot empty[] = { { .id = 0, .gpa = UINT64_MAX, .size = 0 } };
	const struct memslot ok[] = { { .id = 0, .gpa = 0, .size = GiB } };
	struct guestram_plan p;

	(void)state;
	assert_int_equal(guestram__choose(wrap, 1, 509, 40, MiB, &p), -EINVAL);
	/* A zero-sized slot occupies nothing (its id is still taken). */
	assert_int_equal(guestram__choose(empty, 1, 509, 40, MiB, &p), 0);
	assert_int_not_equal(p.slot, 0);
	assert_int_equal(guestram__choose(ok, 1, 509, 40, UINT64_MAX, &p), -ENOSPC);
	assert_int_equal(guestram__choose(ok, 1, 509, 40, UINT64_MAX - 2 * MiB, &p), -ENOSPC);
	assert_int_equal(guestram__choose(ok, 1, 509, 40, 0, &p), -EINVAL);
	assert_int_equal(guestram__choose(ok, 1, 0, 40, MiB, &p), -EINVAL);
	assert_int_equal(guestram__choose(ok, 1, 65537, 40, MiB, &p), -EINVAL);
	assert_int_equal(guestram__choose(ok, 1, 509, 31, MiB, &p), -EINVAL);
	assert_int_equal(guestram__choose(ok, 1, 509, 53, MiB, &p), -EINVAL);
	assert_int_equal(guestram__choose(ok, 1, 509, 64, MiB, &p), -EINVAL);
	assert_int_equal(guestram__choose(NULL, 1, 509, 40, MiB, &p), -EINVAL);
	/* 52 bits: the largest space; nothing overflows. */
	assert_int_equal(guestram__choose(ok, 1, 509, 52, (1ULL << 51), &p), 0);
	check_plan(ok, 1, 509, 52, 1ULL << 51, &p);
}

/* --- interrupt line --------------------------------------------------------- */

static void ioapic_reset(struct kvm_ioapic_state *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < KVM_IOAPIC_NUM_PINS; i++)
		s->redirtbl[i].bits = 1ULL << 16;
}

static void test_irq_choose(void **state)
{
	struct kvm_ioapic_state s;
	uint32_t gsi[2] = { 99, 99 };

	(void)state;
	ioapic_reset(&s);
	assert_int_equal(guestram__irq_choose(&s, gsi, 1), 0);
	assert_int_equal(gsi[0], 6);
	/* a line for each device, in the order of preference */
	assert_int_equal(guestram__irq_choose(&s, gsi, 2), 0);
	assert_int_equal(gsi[0], 6);
	assert_int_equal(gsi[1], 7);
	/* In use: unmasked; masked after use (vector kept); a request pending. */
	s.redirtbl[6].bits = 0x31;
	s.redirtbl[7].bits = (1ULL << 16) | 0x32;
	s.irr = 1U << 3;
	assert_int_equal(guestram__irq_choose(&s, gsi, 2), 0);
	assert_int_equal(gsi[0], 15);
	assert_int_equal(gsi[1], 14);
	s.redirtbl[15].fields.dest_id = 1;
	assert_int_equal(guestram__irq_choose(&s, gsi, 1), 0);
	assert_int_equal(gsi[0], 14);
	/* Every ISA pin but 0 and 2 taken; pins 16-23 free: nothing for stage1. */
	for (int i = 1; i < 16; i++)
		if (i != 2)
			s.redirtbl[i].bits = 0x30 + i;
	gsi[0] = gsi[1] = 99;
	assert_int_equal(guestram__irq_choose(&s, gsi, 2), -ENOSPC);
	assert_int_equal(gsi[0], 99);
	assert_int_equal(gsi[1], 99);
	/* one free pin: both devices share it */
	s.redirtbl[8].bits = 1ULL << 16;
	assert_int_equal(guestram__irq_choose(&s, gsi, 2), 0);
	assert_int_equal(gsi[0], 8);
	assert_int_equal(gsi[1], 8);
	/* The PCI link pins, level-triggered (QEMU's MADT), are never chosen. */
	s.redirtbl[8].bits = 0x38;
	s.redirtbl[5].bits = s.redirtbl[9].bits = s.redirtbl[10].bits = s.redirtbl[11].bits = 1ULL
											      << 16;
	gsi[0] = 99;
	assert_int_equal(guestram__irq_choose(&s, gsi, 1), -ENOSPC);
	assert_int_equal(gsi[0], 99);
}

/* --- the hypervisor side, against a fake --------------------------------- */

#define FAKE_MAP 0x7f1234000000ULL

struct call {
	long nr; /* syscall, or -1 for an ioctl */
	unsigned long req;
	long a[6];
	uint8_t arg[600];
};

static struct fake {
	struct call calls[32];
	size_t ncalls;
	int fail_at;   /* the call (1-based) that fails, 0: none */
	long fail_ret; /* with this result */
	int mapped;    /* mmaps not yet unmapped */
	struct kvm_ioapic_state ioapic;
} fk;

static int fake_fail(long *ret)
{
	if (fk.fail_at && (int)fk.ncalls == fk.fail_at) {
		*ret = fk.fail_ret;
		return 1;
	}
	return 0;
}

int tracee__syscall(struct tracee *t, long *ret, long nr, const long a[6])
{
	struct call *c = &fk.calls[fk.ncalls++];

	(void)t;
	assert_true(fk.ncalls < ARRAY_SIZE(fk.calls));
	c->nr = nr;
	memcpy(c->a, a, sizeof(c->a));
	if (fake_fail(ret))
		return 0;
	switch (nr) {
	case SYS_mmap:
		fk.mapped++;
		*ret = (long)FAKE_MAP;
		break;
	case SYS_munmap:
		fk.mapped--;
		*ret = 0;
		break;
	case SYS_eventfd2:
		*ret = eventfd(0, (int)a[1]);
		assert_true(*ret >= 0);
		break;
	case SYS_close:
		*ret = close((int)a[0]) ? -errno : 0;
		break;
	default:
		fail_msg("unexpected syscall %ld", nr);
	}
	return 0;
}

int __hv_ioctl(struct hv *hv, int fd, unsigned long req, void *arg, size_t argsize, long *ret)
{
	struct call *c = &fk.calls[fk.ncalls++];

	assert_true(fk.ncalls < ARRAY_SIZE(fk.calls));
	assert_int_equal(fd, hv->vm_fd);
	assert_true(argsize <= sizeof(c->arg));
	c->nr = -1;
	c->req = req;
	memcpy(c->arg, arg, argsize);
	if (fake_fail(ret))
		return 0;
	*ret = 0;
	if (req == KVM_GET_IRQCHIP) {
		struct kvm_irqchip *chip = arg;

		assert_int_equal(chip->chip_id, KVM_IRQCHIP_IOAPIC);
		chip->chip.ioapic = fk.ioapic;
	}
	return 0;
}

int hv__checked_ioctl(struct hv *hv, int fd, unsigned long req, const char *name, void *arg,
		      size_t argsize)
{
	long ret;
	int err = __hv_ioctl(hv, fd, req, arg, argsize, &ret);

	(void)name;
	return err ? err : ret < 0 ? (int)ret : 0;
}

static struct hv fhv;

static int hv_setup(void **state)
{
	(void)state;
	memset(&fk, 0, sizeof(fk));
	memset(&fhv, 0, sizeof(fhv));
	fhv.vm_fd = 42;
	fhv.t.pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	return 0;
}

static int hv_teardown(void **state)
{
	(void)state;
	if (fhv.t.pidfd >= 0)
		close(fhv.t.pidfd);
	return 0;
}

static const struct kvm_userspace_memory_region *region_of(size_t i)
{
	assert_int_equal(fk.calls[i].nr, -1);
	assert_int_equal(fk.calls[i].req, KVM_SET_USER_MEMORY_REGION);
	return (const void *)fk.calls[i].arg;
}

static const struct guestram_plan plan = { .slot = 508,
					   .ram_gpa = 896 * GiB - 18 * MiB,
					   .ram_size = 16 * MiB };

static void test_add_remove(void **state)
{
	struct guestram ram;
	struct memslot s;

	(void)state;
	assert_int_equal(guestram__add(&fhv, &plan, &ram), 0);
	assert_int_equal(fk.ncalls, 2);
	assert_int_equal(fk.calls[0].nr, SYS_mmap);
	assert_int_equal(fk.calls[0].a[1], 16 * MiB);
	assert_int_equal(fk.calls[0].a[2], PROT_READ | PROT_WRITE);
	assert_int_equal(fk.calls[0].a[3], MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE);
	assert_int_equal(fk.calls[0].a[4], -1);
	assert_int_equal(region_of(1)->slot, 508);
	assert_int_equal(region_of(1)->guest_phys_addr, plan.ram_gpa);
	assert_int_equal(region_of(1)->memory_size, 16 * MiB);
	assert_int_equal(region_of(1)->userspace_addr, FAKE_MAP);
	s = guestram__memslot(&ram);
	assert_int_equal(s.id, 508);
	assert_int_equal(s.gpa, plan.ram_gpa);
	assert_int_equal(s.size, 16 * MiB);
	assert_int_equal(s.hva, FAKE_MAP);

	assert_int_equal(guestram__remove(&fhv, &ram), 0);
	assert_int_equal(fk.ncalls, 4);
	assert_int_equal(region_of(2)->slot, 508);
	assert_int_equal(region_of(2)->memory_size, 0);
	/* The whole mapping goes (the original unmapped one page of it). */
	assert_int_equal(fk.calls[3].nr, SYS_munmap);
	assert_int_equal(fk.calls[3].a[0], FAKE_MAP);
	assert_int_equal(fk.calls[3].a[1], 16 * MiB);
	assert_int_equal(fk.mapped, 0);
	/* Removing twice does nothing. */
	assert_int_equal(guestram__remove(&fhv, &ram), 0);
	assert_int_equal(fk.ncalls, 4);
}

static void test_add_failures_undo(void **state)
{
	struct guestram ram;
	struct guestram_plan bad = plan;

	(void)state;
	/* mmap fails: nothing else is tried. */
	fk.fail_at = 1, fk.fail_ret = -ENOMEM;
	assert_int_equal(guestram__add(&fhv, &plan, &ram), -ENOMEM);
	assert_int_equal(fk.ncalls, 1);
	assert_false(ram.added);
	/* The memslot ioctl fails (EEXIST: the slot is taken): the mapping goes. */
	fk.ncalls = 0, fk.fail_at = 2, fk.fail_ret = -EEXIST;
	assert_int_equal(guestram__add(&fhv, &plan, &ram), -EEXIST);
	assert_int_equal(fk.ncalls, 3);
	assert_int_equal(fk.calls[2].nr, SYS_munmap);
	assert_int_equal(fk.calls[2].a[1], 16 * MiB);
	assert_int_equal(fk.mapped, 0);
	assert_false(ram.added);
	/* Deleting the slot fails: the memory stays mapped, the RAM stays added. */
	fk.ncalls = 0, fk.fail_at = 0;
	assert_int_equal(guestram__add(&fhv, &plan, &ram), 0);
	fk.fail_at = 3, fk.fail_ret = -EINVAL;
	assert_int_equal(guestram__remove(&fhv, &ram), -EINVAL);
	assert_int_equal(fk.mapped, 1);
	assert_true(ram.added);
	fk.fail_at = 0;
	assert_int_equal(guestram__remove(&fhv, &ram), 0);
	assert_int_equal(fk.mapped, 0);
	/* A plan that is not 2 MiB-aligned is refused before anything runs. */
	fk.ncalls = 0;
	bad.ram_gpa += 4096;
	assert_int_equal(guestram__add(&fhv, &bad, &ram), -EINVAL);
	assert_int_equal(fk.ncalls, 0);
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void test_eventfds(void **state)
{
	struct guestram_eventfd efd;
	const struct kvm_irqfd *irqfd;
	const struct kvm_ioeventfd *io;
	uint64_t v = 3;
	int hv_fd;

	(void)state;
	if (fhv.t.pidfd < 0)
		skip_because("no pidfd_open here (Linux < 5.3, or seccomp)");
	if (guestram__eventfd_open(&fhv, &efd) < 0) {
		/* pidfd_getfd refused (seccomp, Yama ptrace scope): the fd is gone again. */
		assert_int_equal(fk.calls[1].nr, SYS_close);
		skip_because("pidfd_getfd is refused here (seccomp, Yama ptrace scope)");
	}
	assert_int_equal(fk.calls[0].nr, SYS_eventfd2);
	assert_int_equal(fk.calls[0].a[1], EFD_CLOEXEC | EFD_NONBLOCK);
	/* vmsh's copy is the hypervisor's eventfd: a write is read on the other. */
	assert_int_not_equal(efd.fd, efd.hv_fd);
	assert_int_equal(write(efd.fd, &v, sizeof(v)), sizeof(v));
	v = 0;
	assert_int_equal(read(efd.hv_fd, &v, sizeof(v)), sizeof(v));
	assert_int_equal(v, 3);

	assert_int_equal(guestram__irqfd_assign(&fhv, &efd, 6), 0);
	assert_int_equal(guestram__irqfd_deassign(&fhv, &efd, 6), 0);
	irqfd = (const void *)fk.calls[1].arg;
	assert_int_equal(fk.calls[1].req, KVM_IRQFD);
	assert_int_equal(irqfd->fd, efd.hv_fd);
	assert_int_equal(irqfd->gsi, 6);
	assert_int_equal(irqfd->flags, 0);
	irqfd = (const void *)fk.calls[2].arg;
	assert_int_equal(irqfd->fd, efd.hv_fd);
	assert_int_equal(irqfd->gsi, 6);
	assert_int_equal(irqfd->flags, KVM_IRQFD_FLAG_DEASSIGN);

	assert_int_equal(guestram__ioeventfd_assign(&fhv, &efd, 0xe000000050ULL, 1), 0);
	assert_int_equal(guestram__ioeventfd_deassign(&fhv, &efd, 0xe000000050ULL, 1), 0);
	for (int i = 3; i <= 4; i++) {
		io = (const void *)fk.calls[i].arg;
		assert_int_equal(fk.calls[i].req, KVM_IOEVENTFD);
		assert_int_equal(io->addr, 0xe000000050ULL);
		assert_int_equal(io->len, 4);
		assert_int_equal(io->datamatch, 1);
		assert_int_equal(io->fd, efd.hv_fd);
		assert_int_equal(io->flags, KVM_IOEVENTFD_FLAG_DATAMATCH |
						(i == 4 ? KVM_IOEVENTFD_FLAG_DEASSIGN : 0));
	}

	hv_fd = efd.hv_fd;
	assert_int_equal(guestram__eventfd_close(&fhv, &efd), 0);
	assert_int_equal(fk.calls[5].nr, SYS_close);
	assert_int_equal(fk.calls[5].a[0], hv_fd);
	assert_false(fd_open(hv_fd));
	assert_int_equal(efd.fd, -1);
	assert_int_equal(efd.hv_fd, -1);
	/* Closed: no more ioctls on it, closing again is a no-op. */
	assert_int_equal(guestram__irqfd_assign(&fhv, &efd, 6), -EBADF);
	assert_int_equal(guestram__eventfd_close(&fhv, &efd), 0);
	assert_int_equal(fk.ncalls, 6);
}

static void test_eventfd_failure(void **state)
{
	struct guestram_eventfd efd;

	(void)state;
	fk.fail_at = 1, fk.fail_ret = -EMFILE;
	assert_int_equal(guestram__eventfd_open(&fhv, &efd), -EMFILE);
	assert_int_equal(efd.fd, -1);
	assert_int_equal(efd.hv_fd, -1);
	assert_int_equal(fk.ncalls, 1);
}

static void test_irq_find(void **state)
{
	uint32_t gsi[2] = { 0, 0 };

	(void)state;
	ioapic_reset(&fk.ioapic);
	fk.ioapic.redirtbl[6].bits = 0x26;
	assert_int_equal(guestram__irq_find(&fhv, gsi, 2), 0);
	assert_int_equal(gsi[0], 7);
	assert_int_equal(gsi[1], 3);
	/* Split irqchip: the IOAPIC is in the hypervisor; one line for both. */
	fk.ncalls = 0, fk.fail_at = 1, fk.fail_ret = -ENXIO;
	gsi[0] = gsi[1] = 0;
	assert_int_equal(guestram__irq_find(&fhv, gsi, 2), 0);
	assert_int_equal(gsi[0], 6); /* the first of the preference order */
	assert_int_equal(gsi[1], 6);
	fk.ncalls = 0, fk.fail_ret = -EFAULT;
	assert_int_equal(guestram__irq_find(&fhv, gsi, 2), -EFAULT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_choose_q35),
		cmocka_unit_test(test_choose_microvm_and_unsorted),
		cmocka_unit_test(test_choose_slots_near_the_top),
		cmocka_unit_test(test_choose_no_room),
		cmocka_unit_test(test_choose_ids),
		cmocka_unit_test(test_choose_bad_input),
		cmocka_unit_test(test_irq_choose),
		cmocka_unit_test_setup_teardown(test_add_remove, hv_setup, hv_teardown),
		cmocka_unit_test_setup_teardown(test_add_failures_undo, hv_setup, hv_teardown),
		cmocka_unit_test_setup_teardown(test_eventfds, hv_setup, hv_teardown),
		cmocka_unit_test_setup_teardown(test_eventfd_failure, hv_setup, hv_teardown),
		cmocka_unit_test_setup_teardown(test_irq_find, hv_setup, hv_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
