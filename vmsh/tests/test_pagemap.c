// SPDX-License-Identifier: GPL-2.0
/*
 * pagemap against synthetic guests: a malloc'd buffer plays the hypervisor's
 * memory, one slot is the guest's RAM with hand-built Linux-like kernel page
 * tables, a second one is vmsh's new RAM (the pool and the pages mapped).
 * Mappings are checked with guest__translate() and by reading the entries;
 * unmapping must give back the guest's RAM byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"
#include "pagemap.h"
#include "util.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define HV_BASE 0x7f0000000000ULL
#define RAM_SIZE (4 * MiB)
#define NEW_GPA (4 * GiB) /* vmsh's RAM */
#define NEW_SIZE (4 * MiB)
#define HV_SIZE (RAM_SIZE + NEW_SIZE)

static const struct memslot slots[] = {
	{ .id = 0, .gpa = 0, .size = RAM_SIZE, .hva = HV_BASE },
	{ .id = 508, .gpa = NEW_GPA, .size = NEW_SIZE, .hva = HV_BASE + RAM_SIZE },
};

#define P 0x1ULL
#define RW 0x2ULL
#define US 0x4ULL
#define A 0x20ULL
#define D 0x40ULL
#define PS 0x80ULL
#define G 0x100ULL
#define NX (1ULL << 63)
#define ADDR 0x000ffffffffff000ULL

#define PML5 0x10000ULL
#define PML4 0x11000ULL
#define PDPT_K 0x12000ULL /* PML4[511] */
#define PD_K 0x13000ULL	  /* PDPT_K[510]: the kernel image */
#define PT_K 0x14000ULL	  /* PD_K[1] */
#define PD_FIX 0x15000ULL /* PDPT_K[511] */
#define PDPT_D 0x16000ULL /* PML4[273]: direct map, 1 GiB pages */

#define HOLE 0xffffffff00000000ULL
#define KTEXT 0xffffffff80000000ULL

static struct {
	uint8_t *mem;
	int writes;			       /* write_hva calls so far */
	int fail_write;			       /* this write_hva call (1-based) fails, 0: none */
	bool table_written[NEW_SIZE / 0x1000]; /* pages of the new RAM written */
} hv;
static struct guest_mem gm;
static const struct guest_mmu mmu4 = { .cr3 = PML4 };
static const struct guest_mmu mmu5 = { .cr3 = PML5, .la57 = true };
static uint8_t *snapshot;

static int fake_read(void *ctx, uint64_t hva, void *buf, size_t len)
{
	(void)ctx;
	if (hva < HV_BASE || hva - HV_BASE > HV_SIZE || len > HV_SIZE - (hva - HV_BASE))
		return -EFAULT;
	memcpy(buf, hv.mem + (hva - HV_BASE), len);
	return 0;
}

static int fake_write(void *ctx, uint64_t hva, const void *buf, size_t len)
{
	(void)ctx;
	if (++hv.writes == hv.fail_write)
		return -EIO;
	if (hva < HV_BASE || hva - HV_BASE > HV_SIZE || len > HV_SIZE - (hva - HV_BASE))
		return -EFAULT;
	if (hva - HV_BASE >= RAM_SIZE && len == 0x1000)
		hv.table_written[(hva - HV_BASE - RAM_SIZE) / 0x1000] = true;
	/* An entry linking a table of the new RAM: that table was written first. */
	if (len == 8 && hva - HV_BASE < RAM_SIZE) {
		uint64_t e;

		memcpy(&e, buf, 8);
		if ((e & 1) && (e & 0x000ffffffffff000ULL) - NEW_GPA < NEW_SIZE && !(e & 0x80) &&
		    (e & (1ULL << 63)) == 0 && (e & 0x2))
			assert_true(
			    hv.table_written[((e & 0x000ffffffffff000ULL) - NEW_GPA) / 0x1000]);
	}
	memcpy(hv.mem + (hva - HV_BASE), buf, len);
	return 0;
}

static uint8_t *gpa_ptr(uint64_t gpa)
{
	for (size_t i = 0; i < ARRAY_SIZE(slots); i++)
		if (gpa >= slots[i].gpa && gpa - slots[i].gpa < slots[i].size)
			return hv.mem + (slots[i].hva - HV_BASE) + (gpa - slots[i].gpa);
	fail_msg("test bug: gpa 0x%llx outside RAM", (unsigned long long)gpa);
	return NULL;
}

static void put64(uint64_t gpa, uint64_t v)
{
	memcpy(gpa_ptr(gpa), &v, sizeof(v));
}

static uint64_t get64(uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, gpa_ptr(gpa), sizeof(v));
	return v;
}

static unsigned idx(uint64_t va, int level)
{
	return (va >> (12 + 9 * (level - 1))) & 0x1ff;
}

static int setup(void **state)
{
	(void)state;
	hv.mem = calloc(1, HV_SIZE);
	snapshot = malloc(RAM_SIZE);
	hv.writes = hv.fail_write = 0;
	memset(hv.table_written, 0, sizeof(hv.table_written));
	gm = (struct guest_mem){ .slots = slots,
				 .nslots = ARRAY_SIZE(slots),
				 .read_hva = fake_read,
				 .write_hva = fake_write };
	if (!hv.mem || !snapshot)
		return -1;
	/* Noise in the guest's RAM, so that a stray write shows. */
	for (uint64_t i = 0; i < RAM_SIZE; i++)
		hv.mem[i] = (uint8_t)(i * 13 + (i >> 12));
	memset(gpa_ptr(PML5), 0, 7 * 0x1000);
	put64(PML5 + 8 * 511, PML4 | P | RW | A | D);
	put64(PML4 + 8 * 511, PDPT_K | P | RW | A | D);
	put64(PML4 + 8 * 273, PDPT_D | P | RW | A | D);
	put64(PDPT_D, 0 | P | RW | PS | G);
	put64(PML4 + 8 * 300, 0 | P | PS); /* PS is reserved here */
	put64(PDPT_K + 8 * 510, PD_K | P | RW | A | D);
	put64(PDPT_K + 8 * 511, PD_FIX | P | RW | A | D);
	put64(PD_K + 8 * 0, 0x200000 | P | RW | PS | G); /* _text: a 2 MiB page */
	put64(PD_K + 8 * 1, PT_K | P | RW | A | D);
	for (int i = 0; i < 4; i++)
		put64(PT_K + 8 * i, (0x300000 + i * 0x1000ULL) | P | G | NX);
	put64(PT_K + 8 * 5, 0x123000); /* not present, but not free either */
	put64(PT_K + 8 * 10, 0x30a000 | P | G | NX);
	put64(PD_K + 8 * 3, 0x7000000 | P | RW); /* a table outside RAM */
	memcpy(snapshot, hv.mem, RAM_SIZE);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(hv.mem);
	free(snapshot);
	return 0;
}

static void expect_ram_unchanged(void)
{
	assert_memory_equal(hv.mem, snapshot, RAM_SIZE);
}

/* The leaf entry of va, read by the test itself; and the flags on the way. */
static uint64_t leaf_of(const struct guest_mmu *mmu, uint64_t va)
{
	uint64_t table = mmu->cr3 & ADDR, e = 0;

	for (int level = mmu->la57 ? 5 : 4; level >= 1; level--) {
		e = get64(table + 8 * idx(va, level));
		assert_true(e & P);
		if (level > 1) {
			assert_false(e & (US | PS));
			assert_true(e & RW);
		}
		table = e & ADDR;
	}
	return e;
}

static void expect_mapped(const struct guest_mmu *mmu, uint64_t gva, uint64_t gpa, size_t len,
			  const struct pagemap_prot *prot)
{
	for (uint64_t off = 0; off < len; off += 0x1000) {
		uint64_t got = 0, size = 0, e;
		unsigned p = 0;

		assert_int_equal(guest__translate(&gm, mmu, gva + off + 0x123, &got, &size), 0);
		assert_int_equal(got, gpa + off + 0x123);
		assert_int_equal(size, 0x1000);
		for (size_t i = 0; prot && i < prot->nranges; i++)
			if (off >= prot->ranges[i].offset &&
			    off < prot->ranges[i].offset + prot->ranges[i].len)
				p = prot->ranges[i].prot;
		e = leaf_of(mmu, gva + off);
		assert_int_equal(e & (P | A | D | US | G), P | A | D);
		assert_int_equal(!!(e & RW), !!(p & PAGEMAP_WRITE));
		assert_int_equal(!!(e & NX), !(p & PAGEMAP_EXEC));
	}
}

static void expect_unmapped(const struct guest_mmu *mmu, uint64_t gva, size_t len)
{
	for (uint64_t off = 0; off < len; off += 0x1000)
		assert_int_equal(guest__translate(&gm, mmu, gva + off, NULL, NULL), -EFAULT);
}

static void test_find_free_range(void **state)
{
	uint64_t gva = 0;

	(void)state;
	assert_int_equal(pagemap__find_free_range(&gm, &mmu4, 0x1000, &gva), 0);
	assert_int_equal(gva, HOLE);
	assert_int_equal(pagemap__find_free_range(&gm, &mmu5, 2 * GiB, &gva), 0);
	assert_int_equal(gva, HOLE);
	assert_int_equal(pagemap__find_free_range(&gm, &mmu4, 2 * GiB + 1, &gva), -EINVAL);
	assert_int_equal(pagemap__find_free_range(&gm, &mmu4, 0, &gva), -EINVAL);
	/* The guest uses the first GiB of the hole: the second one is left. */
	put64(PDPT_K + 8 * 508, 0x400000 | P | PS);
	assert_int_equal(pagemap__find_free_range(&gm, &mmu4, GiB, &gva), 0);
	assert_int_equal(gva, HOLE + GiB);
	/* Two GiB: the hole below the EFI region (444 GiB) */
	assert_int_equal(pagemap__find_free_range(&gm, &mmu4, GiB + 1, &gva), 0);
	assert_int_equal(gva, 0xffffff8000000000ULL);
	/* Non-present but non-zero is not free either. */
	put64(PDPT_K + 8 * 509, 0x5000);
	assert_int_equal(pagemap__find_free_range(&gm, &mmu4, 1, &gva), 0);
	assert_int_equal(gva, 0xffffff8000000000ULL);
	/* Both holes taken (sessions killed inside the guest keep their GiB) */
	for (int i = 0; i < 444; i++)
		put64(PDPT_K + 8 * (uint64_t)i, i == 443 ? 0 : 0x5000);
	assert_int_equal(pagemap__find_free_range(&gm, &mmu4, 1, &gva), 0);
	assert_int_equal(gva, 0xffffff8000000000ULL + 443 * GiB);
	put64(PDPT_K + 8 * 443, 0x5000);
	assert_int_equal(pagemap__find_free_range(&gm, &mmu4, 1, &gva), -ENOSPC);
	for (int i = 0; i < 444; i++)
		put64(PDPT_K + 8 * (uint64_t)i, 0);
	/* No kernel at PML4[511]; a PML4 outside memory. */
	put64(PML4 + 8 * 511, 0);
	assert_int_equal(pagemap__find_free_range(&gm, &mmu5, 1, &gva), -EINVAL);
	struct guest_mmu bad = { .cr3 = 0x7000000 };
	assert_int_equal(pagemap__find_free_range(&gm, &bad, 1, &gva), -EFAULT);
}

/*
 * PTI: the kernel PGD at KPGD (8 KiB-aligned), the user PGD at KPGD + 4 KiB
 * whose kernel-image entry has a PDPT of its own outside the kernel image
 * (pti_clone_entry_text allocates it). The image (2 MiB at gpa 0, mapped at
 * KTEXT) holds the kernel's PDPT_K and PD_K, as level3/level2_kernel_pgt.
 */
#define KPGD 0x20000ULL
#define UPGD (KPGD + 0x1000)
#define UPDPT 0x300000ULL
#define UPD 0x301000ULL

static void test_kernel_root(void **state)
{
	const struct guest_kernel k = { .vbase = KTEXT, .pbase = 0 };
	struct guest_mmu mmu;
	uint64_t gva = 0;

	(void)state;
	put64(PD_K + 8 * 0, 0x0 | P | RW | PS | G); /* _text: gpa 0 */
	memset(gpa_ptr(KPGD), 0, 0x2000);
	put64(KPGD + 8 * 511, PDPT_K | P | RW | A | D);
	put64(UPGD + 8 * 511, UPDPT | P | RW | A | D);
	memset(gpa_ptr(UPDPT), 0, 0x2000);
	put64(UPDPT + 8 * 510, UPD | P | RW | A | D);
	put64(UPD + 8 * 0, 0x0 | P | PS | G); /* the entry text, cloned */

	/* the user half, the same in both (NX in the kernel's copy) */
	put64(KPGD + 8 * 1, 0x40000 | P | RW | US | A | NX);
	put64(UPGD + 8 * 1, 0x40000 | P | RW | US | A);
	mmu = (struct guest_mmu){ .cr3 = UPGD | 0x3 };
	struct guest_mmu kern = { 0 };
	assert_true(pagemap__pti_user(&gm, &mmu, &kern));
	assert_int_equal(kern.cr3, KPGD | 0x3);
	/* the same from a vCPU's CR3 in a hold, the kernel half copied */
	assert_int_equal(pagemap__kernel_mmu(&gm, UPGD | 0x3, false, &kern), 0);
	assert_int_equal(kern.cr3, KPGD | 0x3);
	assert_true(kern.top_copied);
	assert_int_equal(kern.kernel_top[255], PDPT_K | P | RW | A | D);
	assert_int_equal(pagemap__kernel_mmu(&gm, KPGD, false, &kern), 0);
	assert_int_equal(kern.cr3, KPGD);
	assert_int_equal(pagemap__kernel_mmu(&gm, 0x7ffff000ULL << 12, false, &kern), -EFAULT);
	/* not a pair: the kernel's own, an empty user half, different user halves */
	mmu = (struct guest_mmu){ .cr3 = KPGD };
	assert_false(pagemap__pti_user(&gm, &mmu, &kern));
	assert_false(pagemap__pti_user(&gm, &mmu4, &kern));
	put64(KPGD + 8 * 2, 0x41000 | P | RW | US | A);
	mmu = (struct guest_mmu){ .cr3 = UPGD };
	assert_false(pagemap__pti_user(&gm, &mmu, &kern));
	put64(KPGD + 8 * 2, 0);

	/* the kernel's PGD, and one with bit 12 set that is not PTI's */
	mmu = (struct guest_mmu){ .cr3 = KPGD | 0x5 /* PCID */ };
	assert_int_equal(pagemap__kernel_root(&gm, &mmu, &k), 0);
	assert_int_equal(mmu.cr3, KPGD | 0x5);
	mmu = mmu4;
	assert_int_equal(pagemap__kernel_root(&gm, &mmu, &k), 0);
	assert_int_equal(mmu.cr3, PML4);
	mmu = mmu5;
	assert_int_equal(pagemap__kernel_root(&gm, &mmu, &k), 0);
	assert_int_equal(mmu.cr3, PML5);

	/* the user PGD has room in the hole too: mapping there would miss the kernel */
	mmu = (struct guest_mmu){ .cr3 = UPGD };
	assert_int_equal(pagemap__find_free_range(&gm, &mmu, 0x1000, &gva), 0);
	assert_int_equal(pagemap__kernel_root(&gm, &mmu, &k), 0);
	assert_int_equal(mmu.cr3, KPGD);

	/* a PGD whose kernel half is not the kernel's (freed, reused): refused */
	mmu = (struct guest_mmu){ .cr3 = UPDPT };
	assert_int_equal(pagemap__kernel_root(&gm, &mmu, &k), -EINVAL);
	put64(KPGD + 8 * 511, UPDPT | P | RW | A | D);
	mmu = (struct guest_mmu){ .cr3 = UPGD };
	assert_int_equal(pagemap__kernel_root(&gm, &mmu, &k), -EINVAL);
	assert_int_equal(mmu.cr3, UPGD);
	/* the PDPT is the kernel's but its PD for _text is not */
	put64(KPGD + 8 * 511, PDPT_K | P | RW | A | D);
	put64(PDPT_K + 8 * 510, UPD | P | RW | A | D);
	mmu = (struct guest_mmu){ .cr3 = KPGD };
	assert_int_equal(pagemap__kernel_root(&gm, &mmu, &k), -EINVAL);
	/* outside memory */
	mmu = (struct guest_mmu){ .cr3 = 0x7000000 };
	assert_int_equal(pagemap__kernel_root(&gm, &mmu, &k), -EINVAL);
}

static void test_map_unmap_hole(void **state)
{
	const struct pagemap_range r[] = {
		{ .offset = 0, .len = 0x2000, .prot = PAGEMAP_EXEC },
		{ .offset = 0x3000, .len = 0x1000, .prot = PAGEMAP_WRITE },
		{ .offset = 0x5000, .len = 0x3000, .prot = PAGEMAP_WRITE | PAGEMAP_EXEC },
	};
	const struct pagemap_prot prot = { .ranges = r, .nranges = ARRAY_SIZE(r) };
	struct pagemap_pool pool = { .gpa = NEW_GPA, .npages = 16 };
	struct pagemap_undo undo = { 0 };
	uint64_t gva;

	(void)state;
	assert_int_equal(pagemap__find_free_range(&gm, &mmu4, 0x9000, &gva), 0);
	assert_int_equal(
	    pagemap__map(&gm, &mmu4, gva, NEW_GPA + 2 * MiB, 0x9000, &prot, &pool, &undo), 0);
	expect_mapped(&mmu4, gva, NEW_GPA + 2 * MiB, 0x9000, &prot);
	expect_unmapped(&mmu4, gva + 0x9000, 0x1000);
	/* One link (PDPT entry 508), a new PD and a new PT from the pool. */
	assert_int_equal(undo.n, 1);
	assert_int_equal(undo.changes[0].gpa, PDPT_K + 8 * 508);
	assert_int_equal(undo.changes[0].old, 0);
	assert_int_equal(pool.used, 2);
	/* The kernel's own mappings are untouched. */
	assert_int_equal(guest__translate(&gm, &mmu4, KTEXT + 0x1234, NULL, NULL), 0);

	assert_int_equal(pagemap__unmap(&gm, &undo), 0);
	assert_int_equal(undo.n, 0);
	assert_null(undo.changes);
	expect_ram_unchanged();
	expect_unmapped(&mmu4, gva, 0x9000);
}

static void test_map_5level_and_big(void **state)
{
	struct pagemap_pool pool = { .gpa = NEW_GPA, .npages = 8 };
	struct pagemap_undo undo = { 0 };
	const uint64_t gva = HOLE + GiB - MiB, len = 4 * MiB;

	(void)state;
	/* 4 MiB across two GiB of the hole: 2 links, 2 PDs and 3 PTs. */
	assert_int_equal(pagemap__map(&gm, &mmu5, gva, NEW_GPA + MiB, len, NULL, &pool, &undo), 0);
	expect_mapped(&mmu5, gva, NEW_GPA + MiB, len, NULL);
	expect_mapped(&mmu4, gva, NEW_GPA + MiB, len, NULL); /* the same PML4 under PML5[511] */
	assert_int_equal(undo.n, 2);
	assert_int_equal(pool.used, 5);
	assert_int_equal(pagemap__unmap(&gm, &undo), 0);
	expect_ram_unchanged();
	expect_unmapped(&mmu5, gva, len);
}

static void test_map_into_existing_tables(void **state)
{
	struct pagemap_pool pool = { .gpa = NEW_GPA, .npages = 4 };
	struct pagemap_undo undo = { 0 }, undo2 = { 0 };
	const struct pagemap_range rw = { .offset = 0, .len = 0x2000, .prot = PAGEMAP_WRITE };
	const struct pagemap_prot prot = { .ranges = &rw, .nranges = 1 };

	(void)state;
	/* An empty PD entry of the kernel's PD: one new PT, linked there. */
	assert_int_equal(
	    pagemap__map(&gm, &mmu4, KTEXT + 4 * MiB, NEW_GPA, 0x2000, &prot, &pool, &undo), 0);
	expect_mapped(&mmu4, KTEXT + 4 * MiB, NEW_GPA, 0x2000, &prot);
	assert_int_equal(undo.n, 1);
	assert_int_equal(undo.changes[0].gpa, PD_K + 8 * 2);
	assert_int_equal(pool.used, 1);
	/* Free entries of an existing PT: leaves written there, one change each. */
	assert_int_equal(pagemap__map(&gm, &mmu4, KTEXT + 2 * MiB + 0x6000, NEW_GPA + 0x10000,
				      0x3000, NULL, &pool, &undo2),
			 0);
	expect_mapped(&mmu4, KTEXT + 2 * MiB + 0x6000, NEW_GPA + 0x10000, 0x3000, NULL);
	assert_int_equal(undo2.n, 3);
	assert_int_equal(pool.used, 1);
	assert_int_equal(pagemap__unmap(&gm, &undo2), 0);
	assert_int_equal(pagemap__unmap(&gm, &undo), 0);
	expect_ram_unchanged();
}

static void expect_refused(const struct guest_mmu *mmu, uint64_t gva, uint64_t gpa, size_t len,
			   const struct pagemap_prot *prot, size_t pool_pages, int err)
{
	struct pagemap_pool pool = { .gpa = NEW_GPA, .npages = pool_pages };
	struct pagemap_undo undo = { 0 };

	assert_int_equal(pagemap__map(&gm, mmu, gva, gpa, len, prot, &pool, &undo), err);
	assert_int_equal(undo.n, 0);
	assert_null(undo.changes);
	assert_int_equal(pool.used, 0);
	expect_ram_unchanged();
}

static void test_map_refusals(void **state)
{
	const struct pagemap_range overlap[] = { { .offset = 0, .len = 0x2000 },
						 { .offset = 0x1000, .len = 0x1000 } };
	const struct pagemap_range outside = { .offset = 0x1000, .len = 0x2000 };
	const struct pagemap_range unaligned = { .offset = 0x800, .len = 0x1000 };
	struct pagemap_prot prot = { .ranges = overlap, .nranges = 2 };
	struct pagemap_pool pool = { .gpa = NEW_GPA, .npages = 4 };
	struct pagemap_undo undo = { 0 };

	(void)state;
	/* Present leaves (the last page of the range), a huge page, a used non-present PTE. */
	expect_refused(&mmu4, KTEXT + 2 * MiB + 0x8000, NEW_GPA, 0x3000, NULL, 4, -EEXIST);
	expect_refused(&mmu4, KTEXT + MiB, NEW_GPA, 0x1000, NULL, 4, -EEXIST);
	expect_refused(&mmu4, KTEXT + 2 * MiB + 0x5000, NEW_GPA, 0x1000, NULL, 4, -EEXIST);
	/* PS in a PML4 entry; a guest table outside memory. */
	expect_refused(&mmu4, 0xffff000000000000ULL | (300ULL << 39), NEW_GPA, 0x1000, NULL, 4,
		       -EINVAL);
	expect_refused(&mmu4, KTEXT + 6 * MiB, NEW_GPA, 0x1000, NULL, 4, -EFAULT);
	/* The pool runs out on the last page: nothing was written. */
	expect_refused(&mmu4, HOLE + 2 * MiB - 0x1000, NEW_GPA, 0x2000, NULL, 2, -ENOSPC);
	/* Bad requests. */
	expect_refused(&mmu4, HOLE + 0x800, NEW_GPA, 0x1000, NULL, 4, -EINVAL);
	expect_refused(&mmu4, HOLE, NEW_GPA + 1, 0x1000, NULL, 4, -EINVAL);
	expect_refused(&mmu4, HOLE, NEW_GPA, 0x1001, NULL, 4, -EINVAL);
	expect_refused(&mmu4, HOLE, NEW_GPA, 0, NULL, 4, -EINVAL);
	expect_refused(&mmu4, HOLE, NEW_GPA, PAGEMAP_MAX_LEN + 0x1000, NULL, 4, -EINVAL);
	expect_refused(&mmu4, 0x0000800000000000ULL, NEW_GPA, 0x1000, NULL, 4, -EINVAL);
	expect_refused(&mmu4, 0x00007ffffffff000ULL, NEW_GPA, 0x2000, NULL, 4, -EINVAL);
	expect_refused(&mmu4, 0xfffffffffffff000ULL, NEW_GPA, 0x2000, NULL, 4, -EINVAL);
	expect_refused(&mmu4, HOLE, 1ULL << 52, 0x1000, NULL, 4, -EINVAL);
	expect_refused(&mmu4, HOLE, NEW_GPA, 0x2000, &prot, 4, -EINVAL);
	prot.ranges = &outside, prot.nranges = 1;
	expect_refused(&mmu4, HOLE, NEW_GPA, 0x2000, &prot, 4, -EINVAL);
	prot.ranges = &unaligned;
	expect_refused(&mmu4, HOLE, NEW_GPA, 0x2000, &prot, 4, -EINVAL);
	/* A log that is not empty. */
	undo.n = 1;
	assert_int_equal(pagemap__map(&gm, &mmu4, HOLE, NEW_GPA, 0x1000, NULL, &pool, &undo),
			 -EINVAL);
	expect_ram_unchanged();
}

static void test_write_failures(void **state)
{
	struct pagemap_pool pool = { .gpa = NEW_GPA, .npages = 8 };
	struct pagemap_undo undo = { 0 };
	const uint64_t gva = HOLE + GiB - 0x1000;

	(void)state;
	/* 4 new tables, then link 508 (write 5), then link 509 (write 6) fails. */
	hv.fail_write = 6;
	assert_int_equal(pagemap__map(&gm, &mmu4, gva, NEW_GPA, 0x2000, NULL, &pool, &undo), -EIO);
	assert_int_equal(undo.n, 0);
	assert_int_equal(pool.used, 0);
	expect_ram_unchanged();
	expect_unmapped(&mmu4, gva, 0x2000);
	/* A new table cannot be written: nothing linked. */
	hv.writes = 0, hv.fail_write = 2;
	assert_int_equal(pagemap__map(&gm, &mmu4, gva, NEW_GPA, 0x2000, NULL, &pool, &undo), -EIO);
	expect_ram_unchanged();
	/* Unmap fails half-way: what is left stays in the log, a retry finishes. */
	hv.writes = 0, hv.fail_write = 0;
	assert_int_equal(pagemap__map(&gm, &mmu4, gva, NEW_GPA, 0x2000, NULL, &pool, &undo), 0);
	assert_int_equal(undo.n, 2);
	hv.writes = 0, hv.fail_write = 2;
	assert_int_equal(pagemap__unmap(&gm, &undo), -EIO);
	assert_int_equal(undo.n, 1);
	assert_int_equal(pagemap__unmap(&gm, &undo), 0);
	expect_ram_unchanged();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_find_free_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_unmap_hole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_5level_and_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_into_existing_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_failures, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
