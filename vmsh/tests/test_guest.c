// SPDX-License-Identifier: GPL-2.0
/*
 * Guest memory, page walk and kernel discovery against synthetic guests: a
 * malloc'd buffer plays the hypervisor's memory, three memslots with a hole
 * map it (in scrambled order) into guest-physical memory, and page tables
 * and a small fake kernel are written into it by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "guest.h"
#include "util.h"
#include "skip.h"

#define HV_BASE 0x7f0000000000ULL
#define HV_SIZE 0x800000ULL
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

/* gpa [0, 1M) and [1M, 2M): adjacent in the guest, not in the hypervisor. */
static const struct memslot slots[] = {
	{ .id = 0, .gpa = 0x000000, .size = 0x100000, .hva = HV_BASE + 0x200000 },
	{ .id = 1, .gpa = 0x100000, .size = 0x100000, .hva = HV_BASE + 0x000000 },
	/* hole at [2M, 4M) */
	{ .id = 2, .gpa = 0x400000, .size = 0x400000, .hva = HV_BASE + 0x400000 },
};

struct fake_hv {
	uint8_t *mem;
	int fail; /* return this from read_hva when non-zero */
	unsigned long reads;
	unsigned long vcalls; /* readv_hva/writev_hva calls */
	size_t max_segs;      /* the most segments in one of them */
};

static struct fake_hv hv;
static struct guest_mem gm;

static int fake_read_hva(void *ctx, uint64_t hva, void *buf, size_t len)
{
	struct fake_hv *h = ctx;

	h->reads++;
	if (h->fail)
		return h->fail;
	if (hva < HV_BASE || hva - HV_BASE > HV_SIZE || len > HV_SIZE - (hva - HV_BASE))
		return -EFAULT;
	memcpy(buf, h->mem + (hva - HV_BASE), len);
	return 0;
}

/* Where the test writes guest-physical memory (the test's own translation). */
static uint8_t *gpa_ptr(uint64_t gpa)
{
	for (size_t i = 0; i < ARRAY_SIZE(slots); i++)
		if (gpa >= slots[i].gpa && gpa < slots[i].gpa + slots[i].size)
			return hv.mem + (slots[i].hva - HV_BASE) + (gpa - slots[i].gpa);
	fail_msg("test bug: gpa 0x%llx outside RAM", (unsigned long long)gpa);
	return NULL;
}

static void put64(uint64_t gpa, uint64_t v)
{
	memcpy(gpa_ptr(gpa), &v, sizeof(v));
}

static int fake_write_hva(void *ctx, uint64_t hva, const void *buf, size_t len)
{
	struct fake_hv *h = ctx;

	if (h->fail)
		return h->fail;
	if (hva < HV_BASE || hva - HV_BASE > HV_SIZE || len > HV_SIZE - (hva - HV_BASE))
		return -EFAULT;
	memcpy(h->mem + (hva - HV_BASE), buf, len);
	return 0;
}

/* Vectored callbacks: every segment checked, then copied. */
static int fake_xferv_hva(struct fake_hv *h, const struct guest_hva_seg *segs, size_t nsegs,
			  uint8_t *buf, bool write)
{
	h->vcalls++;
	if (nsegs > h->max_segs)
		h->max_segs = nsegs;
	assert_true(nsegs <= GUEST_MAX_SEGS);
	if (h->fail)
		return h->fail;
	for (size_t k = 0; k < nsegs; k++)
		if (segs[k].hva < HV_BASE || segs[k].hva - HV_BASE > HV_SIZE ||
		    segs[k].len > HV_SIZE - (segs[k].hva - HV_BASE))
			return -EFAULT;
	for (size_t k = 0; k < nsegs; buf += segs[k].len, k++) {
		uint8_t *p = h->mem + (segs[k].hva - HV_BASE);

		if (write)
			memcpy(p, buf, segs[k].len);
		else
			memcpy(buf, p, segs[k].len);
	}
	return 0;
}

static int fake_readv_hva(void *ctx, const struct guest_hva_seg *segs, size_t nsegs, void *buf)
{
	return fake_xferv_hva(ctx, segs, nsegs, buf, false);
}

static int fake_writev_hva(void *ctx, const struct guest_hva_seg *segs, size_t nsegs,
			   const void *buf)
{
	return fake_xferv_hva(ctx, segs, nsegs, (uint8_t *)buf, true);
}

static int setup(void **state)
{
	(void)state;
	hv.mem = calloc(1, HV_SIZE);
	hv.fail = 0;
	hv.reads = hv.vcalls = hv.max_segs = 0;
	gm = (struct guest_mem){ 0 };
	gm.slots = slots;
	gm.nslots = ARRAY_SIZE(slots);
	gm.read_hva = fake_read_hva;
	gm.write_hva = fake_write_hva;
	gm.ctx = &hv;
	/* Each byte of RAM holds a function of its guest-physical address. */
	for (uint64_t gpa = 0; gpa < 8 * MiB; gpa++)
		if (gpa < 2 * MiB || gpa >= 4 * MiB)
			*gpa_ptr(gpa) = (uint8_t)(gpa * 7 + (gpa >> 12));
	return hv.mem ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(hv.mem);
	return 0;
}

static void expect_pattern(const uint8_t *buf, uint64_t gpa, size_t len)
{
	for (size_t i = 0; i < len; i++, gpa++)
		if (buf[i] != (uint8_t)(gpa * 7 + (gpa >> 12)))
			fail_msg("byte at gpa 0x%llx differs", (unsigned long long)gpa);
}

static void test_read_phys(void **state)
{
	uint8_t buf[0x3000];

	(void)state;
	assert_int_equal(guest__read_phys(&gm, 0x1234, buf, 100), 0);
	expect_pattern(buf, 0x1234, 100);
	/* Across slots 0 and 1, which are apart in the hypervisor. */
	assert_int_equal(guest__read_phys(&gm, 0x100000 - 0x1000, buf, 0x2000), 0);
	expect_pattern(buf, 0x100000 - 0x1000, 0x2000);
	/* Last byte of slot 1, first byte of slot 2. */
	assert_int_equal(guest__read_phys(&gm, 0x1fffff, buf, 1), 0);
	expect_pattern(buf, 0x1fffff, 1);
	assert_int_equal(guest__read_phys(&gm, 0x400000, buf, 1), 0);
	expect_pattern(buf, 0x400000, 1);
	assert_int_equal(guest__read_phys(&gm, 0x7ff000, buf, 0x1000), 0);
	expect_pattern(buf, 0x7ff000, 0x1000);
	/* Nothing to read is fine anywhere. */
	assert_int_equal(guest__read_phys(&gm, 0x300000, buf, 0), 0);
}

static void test_read_phys_holes_and_overflow(void **state)
{
	uint8_t buf[0x2000];

	(void)state;
	/* Into the hole, from inside the hole, past the end of RAM. */
	assert_int_equal(guest__read_phys(&gm, 0x1fffff, buf, 2), -EFAULT);
	assert_int_equal(guest__read_phys(&gm, 0x200000, buf, 1), -EFAULT);
	assert_int_equal(guest__read_phys(&gm, 0x3fffff, buf, 2), -EFAULT);
	assert_int_equal(guest__read_phys(&gm, 0x7fffff, buf, 2), -EFAULT);
	assert_int_equal(guest__read_phys(&gm, 0x800000, buf, 1), -EFAULT);
	/* gpa + len wrapping around must not look like a small address. */
	assert_int_equal(guest__read_phys(&gm, UINT64_MAX, buf, 1), -EFAULT);
	assert_int_equal(guest__read_phys(&gm, UINT64_MAX - 0xfff, buf, 0x2000), -EFAULT);
	assert_int_equal(guest__read_phys(&gm, 0x1000, buf, SIZE_MAX), -EFAULT);
	/* The hypervisor's error comes back as is. */
	hv.fail = -EIO;
	assert_int_equal(guest__read_phys(&gm, 0x1000, buf, 8), -EIO);
	hv.fail = 0;
}

static void test_read_phys_bad_slots(void **state)
{
	/* Slots whose ranges wrap around are unusable, never half-used. */
	static const struct memslot bad[] = {
		{ .gpa = 0x0, .size = 0x2000, .hva = UINT64_MAX - 0xfff },
		{ .gpa = UINT64_MAX - 0xfff, .size = 0x2000, .hva = HV_BASE },
		{ .gpa = 0x10000, .size = 0, .hva = HV_BASE },
	};
	struct guest_mem bm = {
		.slots = bad, .nslots = ARRAY_SIZE(bad), .read_hva = fake_read_hva, .ctx = &hv
	};
	uint8_t buf[16];

	(void)state;
	assert_int_equal(guest__read_phys(&bm, 0x0, buf, 8), -EFAULT);
	assert_int_equal(guest__read_phys(&bm, UINT64_MAX - 0xfff, buf, 8), -EFAULT);
	assert_int_equal(guest__read_phys(&bm, 0x10000, buf, 1), -EFAULT);
	bm.nslots = 0;
	assert_int_equal(guest__read_phys(&bm, 0x0, buf, 1), -EFAULT);
	assert_int_equal(hv.reads, 0);
}

static void test_read_phys_smm_slots_ignored(void **state)
{
	/* An SMM slot (address space 1) over the same range comes first. */
	const struct memslot with_smm[] = {
		{ .id = 1 << 16, .gpa = 0x0, .size = 0x100000, .hva = HV_BASE + 0x400000 },
		slots[0],
		slots[1],
	};
	struct guest_mem sm = { .slots = with_smm,
				.nslots = ARRAY_SIZE(with_smm),
				.read_hva = fake_read_hva,
				.ctx = &hv };
	uint8_t buf[64];

	(void)state;
	assert_int_equal(guest__read_phys(&sm, 0x1000, buf, sizeof(buf)), 0);
	expect_pattern(buf, 0x1000, sizeof(buf));
}

static void test_read_hva_process(void **state)
{
	static const char msg[] = "read through process_vm_readv";
	char buf[sizeof(msg)];
	char *big;
	pid_t pid = getpid();
	int ret;

	(void)state;
	ret = guest__read_hva_process(&pid, (uint64_t)(uintptr_t)msg, buf, sizeof(buf));
	if (ret == -EPERM || ret == -ENOSYS)
		skip_because("process_vm_readv is forbidden here (seccomp, ptrace scope)");
	assert_int_equal(ret, 0);
	assert_string_equal(buf, msg);
	/* A large read (several pages, maybe several partial transfers). */
	big = malloc(1 << 20);
	assert_non_null(big);
	memset(big, 0x5a, 1 << 20);
	char *copy = calloc(1, 1 << 20);
	assert_non_null(copy);
	assert_int_equal(guest__read_hva_process(&pid, (uint64_t)(uintptr_t)big, copy, 1 << 20), 0);
	assert_memory_equal(big, copy, 1 << 20);
	free(copy);
	free(big);
	/* The zero page is never mapped; wrapping ranges are refused. */
	assert_true(guest__read_hva_process(&pid, 0x10, buf, 8) < 0);
	assert_int_equal(guest__read_hva_process(&pid, UINT64_MAX - 3, buf, 8), -EFAULT);
}

static void test_write_phys(void **state)
{
	uint8_t buf[0x2000], back[0x2000];
	struct memslot ro[ARRAY_SIZE(slots)];
	struct guest_mem rom = gm;

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i ^ 0xa5);
	/* Across slots 0 and 1, which are apart in the hypervisor. */
	assert_int_equal(guest__write_phys(&gm, 0x100000 - 0x1000, buf, sizeof(buf)), 0);
	assert_int_equal(guest__read_phys(&gm, 0x100000 - 0x1000, back, sizeof(back)), 0);
	assert_memory_equal(buf, back, sizeof(buf));
	/* Into the hole, past the end, wrapping: nothing written. */
	assert_int_equal(guest__write_phys(&gm, 0x1fffff, buf, 2), -EFAULT);
	expect_pattern(gpa_ptr(0x1fffff), 0x1fffff, 1);
	assert_int_equal(guest__write_phys(&gm, 0x7fffff, buf, 2), -EFAULT);
	assert_int_equal(guest__write_phys(&gm, UINT64_MAX - 3, buf, 8), -EFAULT);
	/* A read-only slot (ROM) is never written; no write callback: -EINVAL. */
	memcpy(ro, slots, sizeof(ro));
	ro[2].flags = KVM_MEM_READONLY;
	rom.slots = ro;
	assert_int_equal(guest__write_phys(&rom, 0x400000, buf, 8), -EFAULT);
	expect_pattern(gpa_ptr(0x400000), 0x400000, 8);
	rom.write_hva = NULL;
	assert_int_equal(guest__write_phys(&rom, 0x1000, buf, 8), -EINVAL);
}

static void test_write_hva_process(void **state)
{
	char target[64] = "before";
	static const char msg[] = "written through process_vm_writev";
	pid_t pid = getpid();
	int ret;

	(void)state;
	ret = guest__write_hva_process(&pid, (uint64_t)(uintptr_t)target, msg, sizeof(msg));
	if (ret == -EPERM || ret == -ENOSYS)
		skip_because("process_vm_writev is forbidden here (seccomp, ptrace scope)");
	assert_int_equal(ret, 0);
	assert_string_equal(target, msg);
	assert_true(guest__write_hva_process(&pid, 0x10, msg, 8) < 0);
}

/* --- vectored guest-physical access --------------------------------------- */

/*
 * Segments: inside slot 0; across the seam of slots 0 and 1 (apart in the
 * hypervisor); empty; across slot 1's end would be the hole, so up to it;
 * in slot 2.
 */
static const struct guest_seg vsegs[] = {
	{ 0x1234, 100 },	   { 0x100000 - 0x800, 0x1000 }, { 0x5000, 0 },
	{ 0x200000 - 0x10, 0x10 }, { 0x400000 + 7, 0x2000 },
};

static size_t vsegs_total(void)
{
	size_t t = 0;

	for (size_t k = 0; k < ARRAY_SIZE(vsegs); k++)
		t += vsegs[k].len;
	return t;
}

static void expect_vsegs(const uint8_t *buf)
{
	for (size_t k = 0; k < ARRAY_SIZE(vsegs); buf += vsegs[k].len, k++)
		expect_pattern(buf, vsegs[k].gpa, vsegs[k].len);
}

static void test_readv_phys(void **state)
{
	static uint8_t buf[0x4000];
	unsigned long calls = 0;
	size_t bad = 42;

	(void)state;
	gm.calls = &calls;
	/* Without vectored callbacks: one read_hva per piece (the seam makes two). */
	assert_int_equal(guest__readv_phys(&gm, vsegs, ARRAY_SIZE(vsegs), buf, &bad), 0);
	expect_vsegs(buf);
	assert_int_equal(hv.reads, 5);
	assert_int_equal(calls, 5);
	/* With them: one call for all five pieces. */
	memset(buf, 0, sizeof(buf));
	gm.readv_hva = fake_readv_hva;
	assert_int_equal(guest__readv_phys(&gm, vsegs, ARRAY_SIZE(vsegs), buf, NULL), 0);
	expect_vsegs(buf);
	assert_int_equal(hv.vcalls, 1);
	assert_int_equal(hv.max_segs, 5);
	assert_int_equal(hv.reads, 5);
	assert_int_equal(calls, 6);
	assert_int_equal(guest__readv_phys(&gm, vsegs, 0, buf, NULL), 0);
	assert_int_equal(calls, 6);
	/* Scalar reads still count. */
	assert_int_equal(guest__read_phys(&gm, 0x1000, buf, 8), 0);
	assert_int_equal(calls, 7);
	/* The callback's error comes back; no segment is to blame. */
	hv.fail = -EIO;
	assert_int_equal(guest__readv_phys(&gm, vsegs, ARRAY_SIZE(vsegs), buf, &bad), -EIO);
	assert_int_equal(bad, SIZE_MAX);
	hv.fail = 0;
	assert_int_equal(vsegs_total(), 100 + 0x1000 + 0x10 + 0x2000);
}

static void test_readv_phys_faults(void **state)
{
	struct guest_seg segs[] = { { 0x1000, 16 }, { 0x200000 - 8, 16 }, { 0x3000, 8 } };
	uint8_t buf[64];
	size_t bad = 0;

	(void)state;
	gm.readv_hva = fake_readv_hva;
	/* Into the hole: -EFAULT, the segment named, nothing read. */
	assert_int_equal(guest__readv_phys(&gm, segs, 3, buf, &bad), -EFAULT);
	assert_int_equal(bad, 1);
	assert_int_equal(hv.vcalls + hv.reads, 0);
	segs[1] = (struct guest_seg){ UINT64_MAX - 3, 8 }; /* wraps */
	assert_int_equal(guest__readv_phys(&gm, segs, 3, buf, &bad), -EFAULT);
	assert_int_equal(bad, 1);
	segs[1] = (struct guest_seg){ 0x8000000, 1 }; /* past the end */
	assert_int_equal(guest__readv_phys(&gm, segs, 3, buf, &bad), -EFAULT);
	assert_int_equal(bad, 1);
	segs[1] = (struct guest_seg){ 0x2000, SIZE_MAX }; /* total overflows */
	assert_int_equal(guest__readv_phys(&gm, segs, 3, buf, &bad), -EINVAL);
	assert_int_equal(hv.vcalls + hv.reads, 0);
	/* No callback at all. */
	gm.read_hva = NULL;
	gm.readv_hva = NULL;
	assert_int_equal(guest__readv_phys(&gm, segs, 1, buf, &bad), -EINVAL);
	/* A vectored callback alone is enough. */
	gm.readv_hva = fake_readv_hva;
	assert_int_equal(guest__readv_phys(&gm, segs, 1, buf, NULL), 0);
	expect_pattern(buf, 0x1000, 16);
}

/* More pieces than one call takes: GUEST_MAX_SEGS per call. */
static void test_readv_phys_many(void **state)
{
	enum { N = 2 * GUEST_MAX_SEGS + 10 };
	struct guest_seg *segs = calloc(N, sizeof(*segs));
	uint8_t *buf = malloc(3 * N);

	(void)state;
	assert_non_null(segs);
	assert_non_null(buf);
	gm.readv_hva = fake_readv_hva;
	for (size_t k = 0; k < N; k++)
		segs[k] = (struct guest_seg){ 0x400000 + 100 * k, 3 };
	assert_int_equal(guest__readv_phys(&gm, segs, N, buf, NULL), 0);
	for (size_t k = 0; k < N; k++)
		expect_pattern(buf + 3 * k, 0x400000 + 100 * k, 3);
	assert_int_equal(hv.vcalls, 3);
	assert_int_equal(hv.max_segs, GUEST_MAX_SEGS);
	free(segs);
	free(buf);
}

static void test_writev_phys(void **state)
{
	static uint8_t buf[0x4000], back[0x4000];
	struct memslot ro[ARRAY_SIZE(slots)];
	struct guest_seg segs[] = { { 0x3000, 8 }, { 0x400000, 8 } };
	size_t bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i ^ 0x5a);
	/* Scalar fallback, then vectored: the same bytes land. */
	assert_int_equal(guest__writev_phys(&gm, vsegs, ARRAY_SIZE(vsegs), buf, NULL), 0);
	assert_int_equal(guest__readv_phys(&gm, vsegs, ARRAY_SIZE(vsegs), back, NULL), 0);
	assert_memory_equal(buf, back, vsegs_total());
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i ^ 0xa5);
	gm.writev_hva = fake_writev_hva;
	assert_int_equal(guest__writev_phys(&gm, vsegs, ARRAY_SIZE(vsegs), buf, NULL), 0);
	assert_int_equal(hv.vcalls, 1);
	assert_int_equal(guest__readv_phys(&gm, vsegs, ARRAY_SIZE(vsegs), back, NULL), 0);
	assert_memory_equal(buf, back, vsegs_total());
	/* A read-only slot: -EFAULT, and the good segment before it is not written either. */
	memcpy(ro, slots, sizeof(ro));
	ro[2].flags = KVM_MEM_READONLY;
	gm.slots = ro;
	assert_int_equal(guest__writev_phys(&gm, segs, 2, buf, &bad), -EFAULT);
	assert_int_equal(bad, 1);
	expect_pattern(gpa_ptr(0x3000), 0x3000, 8);
	expect_pattern(gpa_ptr(0x400000), 0x400000, 7); /* vsegs[4] starts at + 7 */
	assert_int_equal(hv.vcalls, 1);
	/* ...but it reads */
	assert_int_equal(guest__readv_phys(&gm, segs, 2, back, NULL), 0);
	/* Into the hole. */
	gm.slots = slots;
	segs[1].gpa = 0x300000;
	assert_int_equal(guest__writev_phys(&gm, segs, 2, buf, &bad), -EFAULT);
	assert_int_equal(bad, 1);
	expect_pattern(gpa_ptr(0x3000), 0x3000, 8);
	/* No write callback. */
	gm.write_hva = NULL;
	gm.writev_hva = NULL;
	assert_int_equal(guest__writev_phys(&gm, segs, 1, buf, &bad), -EINVAL);
}

/* process_vm_readv/writev on ourselves: one call for many ranges, more past IOV_MAX. */
static void test_readv_hva_process(void **state)
{
	enum { N = GUEST_MAX_SEGS + 300 };
	struct guest_hva_seg *segs = calloc(N, sizeof(*segs));
	uint8_t *src = malloc(8 * N), *dst = malloc(4 * N);
	pid_t pid = getpid();
	int ret;

	(void)state;
	assert_non_null(segs);
	assert_non_null(src);
	assert_non_null(dst);
	for (size_t i = 0; i < 8 * N; i++)
		src[i] = (uint8_t)(i * 31 + 7);
	/* every other 4 bytes of src, and some empty segments */
	for (size_t k = 0; k < N; k++)
		segs[k] = (struct guest_hva_seg){ (uint64_t)(uintptr_t)(src + 8 * k),
						  k % 97 == 5 ? 0 : 4 };
	ret = guest__readv_hva_process(&pid, segs, N, dst);
	if (ret == -EPERM || ret == -ENOSYS) {
		free(segs);
		free(src);
		free(dst);
		skip_because("process_vm_readv is forbidden here (seccomp, ptrace scope)");
	}
	assert_int_equal(ret, 0);
	for (size_t k = 0, o = 0; k < N; o += segs[k].len, k++)
		assert_memory_equal(dst + o, src + 8 * k, segs[k].len);
	/* Write back shifted by one: the odd words of src take the data. */
	for (size_t k = 0; k < N; k++)
		segs[k].hva += 4;
	assert_int_equal(guest__writev_hva_process(&pid, segs, N, dst), 0);
	for (size_t k = 0; k < N; k++)
		assert_memory_equal(src + 8 * k + 4, src + 8 * k, segs[k].len);
	/* An unmapped range fails the call; a wrapping one is refused. */
	segs[7].hva = 0x10;
	assert_true(guest__readv_hva_process(&pid, segs, N, dst) < 0);
	segs[7] = (struct guest_hva_seg){ UINT64_MAX - 3, 8 };
	assert_int_equal(guest__readv_hva_process(&pid, segs, N, dst), -EFAULT);
	assert_int_equal(guest__readv_hva_process(&pid, segs, 0, dst), 0);
	free(segs);
	free(src);
	free(dst);
}

/* A struct guest_mem with only the process callbacks gets the vectored ones. */
static void test_readv_phys_process(void **state)
{
	static uint8_t ram[0x3000];
	const struct memslot ps[] = {
		{ .id = 0, .gpa = 0x0, .size = 0x1000, .hva = (uint64_t)(uintptr_t)(ram + 0x2000) },
		{ .id = 1, .gpa = 0x1000, .size = 0x2000, .hva = (uint64_t)(uintptr_t)ram },
	};
	const struct guest_seg segs[] = { { 0x800, 0x1000 }, { 0x2ff0, 0x10 } };
	pid_t pid = getpid();
	unsigned long calls = 0;
	struct guest_mem pm = { .slots = ps,
				.nslots = ARRAY_SIZE(ps),
				.read_hva = guest__read_hva_process,
				.write_hva = guest__write_hva_process,
				.ctx = &pid,
				.calls = &calls };
	uint8_t buf[0x1010], back[0x1010];
	int ret;

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 13);
	ret = guest__writev_phys(&pm, segs, 2, buf, NULL);
	if (ret == -EPERM || ret == -ENOSYS)
		skip_because("process_vm_writev is forbidden here (seccomp, ptrace scope)");
	assert_int_equal(ret, 0);
	assert_int_equal(calls, 1);
	assert_memory_equal(ram + 0x2800, buf, 0x800);
	assert_memory_equal(ram, buf + 0x800, 0x800);
	assert_memory_equal(ram + 0x1ff0, buf + 0x1000, 0x10);
	assert_int_equal(guest__readv_phys(&pm, segs, 2, back, NULL), 0);
	assert_int_equal(calls, 2);
	assert_memory_equal(buf, back, sizeof(buf));
}

/* --- page tables ---------------------------------------------------------- */

#define P 0x1ULL
#define RW 0x2ULL
#define PS 0x80ULL
#define NX (1ULL << 63)

/* Table pages, all in slot 1 (gpa 1M..2M), clear of the slot 0/1 seam. */
#define PML5 0x140000ULL
#define PML4 0x141000ULL
#define PDPT_K 0x142000ULL /* for 0xffffffff80000000.. (PML4 511) */
#define PD_K 0x143000ULL   /* for 0xffffffff80000000.. (PDPT 510) */
#define PT_K 0x144000ULL   /* 4K pages for 0xffffffff80200000.. */
#define PDPT_L 0x145000ULL /* for the 1 GiB direct map (PML4 273) */
#define PML4_B 0x146000ULL /* second PML4 under PML5[255], 5-level only */
#define PDPT_B 0x147000ULL
#define PD_B 0x148000ULL
#define SELF 0x149000ULL  /* a table whose every entry points back at itself */
#define EMPTY 0x14b000ULL /* a table of non-present entries */

#define VA_2M 0xffffffff81000000ULL   /* 2 MiB page -> gpa 0x400000 */
#define VA_4K 0xffffffff80200000ULL   /* 4 KiB pages, scrambled */
#define VA_1G 0xffff888000000000ULL   /* 1 GiB page -> gpa 0 */
#define VA_LA57 0x00ff000000000000ULL /* only canonical with 5-level paging */
#define VA_SELF 0x0000000000000000ULL /* PML4[0] -> SELF */

static uint64_t idx(uint64_t va, int level)
{
	return (va >> (12 + 9 * (level - 1))) & 0x1ff;
}

static void build_tables(void)
{
	/* 4-level hierarchy under PML4; PML5[511] reuses it for 5-level. */
	put64(PML5 + 8 * 511, PML4 | P | RW);
	put64(PML4 + 8 * idx(VA_2M, 4), PDPT_K | P | RW);
	put64(PDPT_K + 8 * idx(VA_2M, 3), PD_K | P | RW);
	/* The PAT bit (12) of a 2 MiB page is not part of the address. */
	put64(PD_K + 8 * idx(VA_2M, 2), 0x400000 | P | RW | PS | NX | (1ULL << 12));
	put64(PD_K + 8 * idx(VA_4K, 2), PT_K | P | RW);
	/* Two virtually adjacent pages far apart physically, then a hole. */
	put64(PT_K + 8 * 0, 0x5000 | P);
	put64(PT_K + 8 * 1, 0x180000 | P);
	put64(PT_K + 8 * 3, 0x7000 | P);
	/* PT entry 4: present, but the page is in the hole. */
	put64(PT_K + 8 * 4, 0x300000 | P);
	/* PD entry after VA_2M: a 2 MiB page with a reserved bit (13) set. */
	put64(PD_K + 8 * (idx(VA_2M, 2) + 1), 0x600000 | P | PS | (1ULL << 13));
	/* PD entry after that: a table pointer into the hole. */
	put64(PD_K + 8 * (idx(VA_2M, 2) + 2), 0x200000 | P);
	/* A 1 GiB page at gpa 0 and one with a reserved bit (29). */
	put64(PML4 + 8 * idx(VA_1G, 4), PDPT_L | P | RW);
	put64(PDPT_L + 8 * idx(VA_1G, 3), 0x0 | P | RW | PS);
	put64(PDPT_L + 8 * (idx(VA_1G, 3) + 1), 0x40000000 | P | PS | (1ULL << 29));
	/* PS in a PML4 entry is reserved. */
	put64(PML4 + 8 * 300, 0x0 | P | PS);
	/* Recursive: PML4[0] -> SELF, whose entries all point to SELF. */
	put64(PML4 + 0, SELF | P | RW);
	for (int i = 0; i < 512; i++)
		put64(SELF + 8 * i, SELF | P | RW);
	/* 5-level only: PML5[255] -> PML4_B -> PDPT_B -> PD_B -> 2M page. */
	put64(PML5 + 8 * 255, PML4_B | P);
	put64(PML4_B + 8 * 0, PDPT_B | P);
	put64(PDPT_B + 8 * 0, PD_B | P);
	put64(PD_B + 8 * 0, 0x600000 | P | PS);
}

static const struct guest_mmu mmu4 = { .cr3 = PML4 };
static const struct guest_mmu mmu5 = { .cr3 = PML5, .la57 = true };

static void expect_translation(const struct guest_mmu *mmu, uint64_t va, uint64_t want_gpa,
			       uint64_t want_size)
{
	uint64_t gpa = 0, size = 0;

	assert_int_equal(guest__translate(&gm, mmu, va, &gpa, &size), 0);
	assert_int_equal(gpa, want_gpa);
	assert_int_equal(size, want_size);
	assert_int_equal(guest__translate(&gm, mmu, va, NULL, NULL), 0);
}

static void expect_fault(const struct guest_mmu *mmu, uint64_t va, uint64_t want_size)
{
	uint64_t gpa = 0xdead, size = 0;

	assert_int_equal(guest__translate(&gm, mmu, va, &gpa, &size), -EFAULT);
	assert_int_equal(gpa, 0xdead);
	assert_int_equal(size, want_size);
	assert_int_equal(guest__translate(&gm, mmu, va, NULL, NULL), -EFAULT);
}

static void test_translate_4level(void **state)
{
	(void)state;
	build_tables();
	expect_translation(&mmu4, VA_2M, 0x400000, 2 * MiB);
	expect_translation(&mmu4, VA_2M + 0x1fffff, 0x5fffff, 2 * MiB);
	expect_translation(&mmu4, VA_4K + 0x10, 0x5010, 0x1000);
	expect_translation(&mmu4, VA_4K + 0x1fff, 0x180fff, 0x1000);
	expect_translation(&mmu4, VA_4K + 0x3000, 0x7000, 0x1000);
	/* A translation into a hole is fine; reading it is not. */
	expect_translation(&mmu4, VA_4K + 0x4000, 0x300000, 0x1000);
	expect_translation(&mmu4, VA_1G + 0x12345678, 0x12345678, GiB);
	/* PCID and flag bits in CR3 are not part of the table address. */
	struct guest_mmu pcid = { .cr3 = PML4 | 0x5 | (1ULL << 63) };
	expect_translation(&pcid, VA_2M, 0x400000, 2 * MiB);
}

static void test_translate_faults(void **state)
{
	(void)state;
	build_tables();
	/* Not present at each level: the whole region that entry covers. */
	expect_fault(&mmu4, VA_4K + 0x2000, 0x1000);	       /* PTE */
	expect_fault(&mmu4, VA_4K + 2 * MiB * 10, 2 * MiB);    /* PDE */
	expect_fault(&mmu4, 0xffffffffc0000000ULL, GiB);       /* PDPTE 511 */
	expect_fault(&mmu4, 0xffff900000000000ULL, 512 * GiB); /* PML4E */
	/* Reserved bits set: 2 MiB page (bit 13), 1 GiB page (bit 29), PS in PML4E. */
	expect_fault(&mmu4, VA_2M + 2 * MiB, 2 * MiB);
	expect_fault(&mmu4, VA_1G + GiB, GiB);
	expect_fault(&mmu4, 0xffff000000000000ULL | (300ULL << 39), 512 * GiB);
	/* A table outside RAM: everything its parent entry covers. */
	expect_fault(&mmu4, VA_2M + 4 * MiB, 2 * MiB);
	/* Non-canonical addresses. */
	expect_fault(&mmu4, 0x0000800000000000ULL, 0x1000);
	expect_fault(&mmu4, VA_LA57, 0x1000);
	expect_fault(&mmu5, 0x0100000000000000ULL, 0x1000);
	/* CR3 outside RAM. */
	struct guest_mmu bad = { .cr3 = 0x300000 };
	uint64_t size;
	assert_int_equal(guest__translate(&gm, &bad, VA_2M, NULL, &size), -EFAULT);
	assert_true(size >= 512 * GiB);
	bad.cr3 = 0xfffffffffffff000ULL;
	assert_int_equal(guest__translate(&gm, &bad, VA_2M, NULL, NULL), -EFAULT);
}

static void test_translate_5level(void **state)
{
	(void)state;
	build_tables();
	expect_translation(&mmu5, VA_2M, 0x400000, 2 * MiB);
	expect_translation(&mmu5, VA_1G + 0x1000, 0x1000, GiB);
	expect_translation(&mmu5, VA_LA57 + 0x1234, 0x601234, 2 * MiB);
	/* PML5[0] is empty: 256 TiB at once. */
	expect_fault(&mmu5, 0x0000000000001000ULL, 1ULL << 48);
	/* A 4-level walk of a 5-level root is a different (wrong) walk. */
	expect_fault(&mmu4, VA_LA57, 0x1000);
}

/*
 * The kernel half of the top table, copied while the guest is held, keeps
 * kernel walks right after the process owning that CR3 exits and its top
 * table is freed and reused; the user half is still read from the table.
 */
static void test_translate_copied_top(void **state)
{
	struct guest_mmu mmu = mmu4, mmu_5 = mmu5;
	uint64_t entry;

	(void)state;
	build_tables();
	assert_int_equal(guest__copy_kernel_top(&gm, &mmu), 0);
	assert_true(mmu.top_copied);
	assert_int_equal(guest__copy_kernel_top(&gm, &mmu_5), 0);
	assert_int_equal(mmu_5.kernel_top[255], PML4 | P | RW); /* PML5[511] */
	memset(gpa_ptr(PML4), 0xa5, 4096);			/* reused as anything */
	expect_translation(&mmu, VA_2M, 0x400000, 2 * MiB);
	expect_translation(&mmu, VA_1G + 0x1000, 0x1000, GiB);
	assert_int_equal(guest__read_top_entry(&gm, &mmu, 511, &entry), 0);
	assert_int_equal(entry, PDPT_K | P | RW);
	assert_int_equal(guest__read_top_entry(&gm, &mmu, 0, &entry), 0);
	assert_int_equal(entry, 0xa5a5a5a5a5a5a5a5ULL);
	/* without the copy the same walk goes through the garbage */
	assert_int_not_equal(
	    guest__translate(&gm, &mmu4, VA_2M, &entry, NULL) == 0 && entry == 0x400000, 1);
	/* a top table outside guest memory: no copy */
	struct guest_mmu bad = { .cr3 = 0x300000 };
	assert_int_equal(guest__copy_kernel_top(&gm, &bad), -EFAULT);
	assert_false(bad.top_copied);
}

static void test_translate_self_reference(void **state)
{
	uint8_t buf[64];

	(void)state;
	build_tables();
	/* Recursive tables terminate: each level reads exactly one entry. */
	expect_translation(&mmu4, VA_SELF + 0x123, SELF + 0x123, 0x1000);
	expect_translation(&mmu4, 0x0000007fffffffffULL, SELF + 0xfff, 0x1000);
	/* SELF as a PML5 would be the same loop one level higher. */
	struct guest_mmu self5 = { .cr3 = SELF, .la57 = true };
	expect_translation(&self5, 0x42, SELF + 0x42, 0x1000);
	assert_int_equal(guest__read_virt(&gm, &mmu4, 8, buf, sizeof(buf)), 0);
	for (size_t i = 0; i < sizeof(buf); i += 8) {
		uint64_t e;

		memcpy(&e, buf + i, 8);
		assert_int_equal(e, SELF | P | RW);
	}
}

static void test_read_virt(void **state)
{
	uint8_t buf[0x3000];

	(void)state;
	build_tables();
	/* Across two 4 KiB pages that are far apart physically. */
	assert_int_equal(guest__read_virt(&gm, &mmu4, VA_4K + 0xff0, buf, 0x20), 0);
	expect_pattern(buf, 0x5ff0, 0x10);
	expect_pattern(buf + 0x10, 0x180000, 0x10);
	/* Into the unmapped third page, and into the page in the hole. */
	assert_int_equal(guest__read_virt(&gm, &mmu4, VA_4K + 0x1ff0, buf, 0x20), -EFAULT);
	assert_int_equal(guest__read_virt(&gm, &mmu4, VA_4K + 0x3ff0, buf, 0x20), -EFAULT);
	/* A 1 GiB page over the seam of slots 0 and 1, and into the hole. */
	assert_int_equal(guest__read_virt(&gm, &mmu4, VA_1G + 0xff000, buf, 0x2000), 0);
	expect_pattern(buf, 0xff000, 0x2000);
	assert_int_equal(guest__read_virt(&gm, &mmu4, VA_1G + 0x1ff000, buf, 0x2000), -EFAULT);
	/* Within and at the end of a 2 MiB page. */
	assert_int_equal(guest__read_virt(&gm, &mmu4, VA_2M + 0x1ff000, buf, 0x1000), 0);
	expect_pattern(buf, 0x5ff000, 0x1000);
	assert_int_equal(guest__read_virt(&gm, &mmu4, VA_2M + 0x1ff000, buf, 0x1001), -EFAULT);
	/* Wrapping around the address space. */
	assert_int_equal(guest__read_virt(&gm, &mmu4, UINT64_MAX - 0xf, buf, 0x20), -EFAULT);
	assert_int_equal(guest__read_virt(&gm, &mmu4, VA_2M, buf, 0), 0);
}

/* --- a small fake kernel -------------------------------------------------- */

/*
 * A 4 MiB "kernel" in slot 2 (gpa 0x400000) at KASLR offset 0x200000: the
 * first 2 MiB mapped by 4 KiB pages with a hole (as PTI leaves after freeing
 * parts of the image), the next 2 MiB by one 2 MiB page.
 */
#define K_KASLR 0x200000ULL
#define K_VBASE (0xffffffff81000000ULL + K_KASLR)
#define K_PBASE 0x400000ULL
#define K_PT 0x14a000ULL
#define K_STRINGS 0x280000ULL /* image offsets */
#define K_CRC 0x27f000ULL
#define K_TAB 0x270000ULL
#define K_NSYMS 40

static char k_names[K_NSYMS][32];
static uint64_t k_values[K_NSYMS];

static uint8_t *kimg(uint64_t off)
{
	return gpa_ptr(K_PBASE + off);
}

static void put_str(uint64_t off, const char *s)
{
	memcpy(kimg(off), s, strlen(s) + 1);
}

static void build_kernel(enum ksymtab_layout layout)
{
	uint64_t str = K_STRINGS, esize = layout == KSYMTAB_PREL32_NS ? 12
					  : layout == KSYMTAB_PREL32  ? 8
								      : 16;
	uint64_t ns_empty = 0, ns_named = 0;
	uint32_t lcg = 1;

	memset(kimg(0), 0, 4 * MiB);
	build_tables();
	/* 0xffffffff81200000: PD entry -> K_PT (4 KiB pages, 16..17 missing). */
	/* Drop the kernel-window entries build_tables made for other tests. */
	put64(PD_K + 8 * idx(VA_2M, 2), 0);
	put64(PD_K + 8 * (idx(VA_2M, 2) + 1), 0);
	put64(PD_K + 8 * (idx(VA_2M, 2) + 2), 0);
	put64(PD_K + 8 * idx(VA_4K, 2), 0);
	put64(PD_K + 8 * idx(K_VBASE, 2), K_PT | P | RW);
	for (int i = 0; i < 512; i++)
		put64(K_PT + 8 * i, i == 16 || i == 17 ? 0 : (K_PBASE + 0x1000 * i) | P);
	put64(PD_K + 8 * (idx(K_VBASE, 2) + 1), (K_PBASE + 2 * MiB) | P | PS);

	/* Decoys first: a format string, the weak banner, a stray anchor. */
	put_str(0x1000, "Linux version %s (%s@%s) (%s) %s\n");
	put_str(0x2000, "Linux version 6.9.0-test (me@host) (gcc 12.2.0) # SMP PREEMPT\n");
	put_str(0x3000, "<6>Linux version 6.9.0-test (me@host) (gcc 12.2.0) #7 SMP PREEMPT\n");
	memcpy(kimg(0x4000), "\x01\x02\0init_task\0\x03", 14);
	/* In the unmapped pages 16..17: must not be seen. */
	put_str(0x10000, "Linux version 6.6.6 (evil) #1 NOT MAPPED\n");
	put_str(0x200010, "Linux version 6.9.0-test (me@host) (gcc 12.2.0) #7 SMP PREEMPT\n");

	/* __kcrctab-like noise between the tables and the strings. */
	for (uint64_t off = K_CRC; off < K_STRINGS; off++) {
		lcg = lcg * 1103515245 + 12345;
		*kimg(off) = (uint8_t)(lcg >> 16);
	}
	*kimg(K_STRINGS - 1) = 0xf8; /* the first name is glued to the noise */

	for (int i = 0; i < K_NSYMS; i++) {
		uint64_t e = K_TAB + (uint64_t)i * esize, eva = K_VBASE + e, name_va;

		if (i == 0)
			snprintf(k_names[i], sizeof(k_names[i]), "first_name");
		else if (i == 5)
			snprintf(k_names[i], sizeof(k_names[i]), "init_task");
		else if (i == 1)
			snprintf(k_names[i], sizeof(k_names[i]), "data_above_the_table");
		else if (i == 2)
			snprintf(k_names[i], sizeof(k_names[i]), "percpu_var");
		else
			snprintf(k_names[i], sizeof(k_names[i]), "sym_%02d_%s", i,
				 i % 2 ? "text" : "gpl");
		k_values[i] = i == 1 ? K_VBASE + 0x300000 : i == 2 ? 0x1234 : K_VBASE + 0x100 * i;
		name_va = K_VBASE + str;
		put_str(str, k_names[i]);
		str += strlen(k_names[i]) + 1;
		if (layout == KSYMTAB_ABS64) {
			memcpy(kimg(e), &k_values[i], 8);
			memcpy(kimg(e + 8), &name_va, 8);
			continue;
		}
		int32_t voff = (int32_t)(k_values[i] - eva);
		int32_t noff = (int32_t)(name_va - (eva + 4));
		memcpy(kimg(e), &voff, 4);
		memcpy(kimg(e + 4), &noff, 4);
		if (layout == KSYMTAB_PREL32_NS) {
			/* Namespaces: "" (right after the name), a named one, or none. */
			int32_t soff = 0;

			if (!ns_empty) {
				ns_empty = K_VBASE + str;
				*kimg(str++) = 0;
			}
			if (!ns_named) {
				/* Not an identifier, as 6.12's module namespaces. */
				ns_named = K_VBASE + str;
				put_str(str, "module:kvm,kvm-intel");
				str += strlen("module:kvm,kvm-intel") + 1;
			}
			if (i % 3 == 1)
				soff = (int32_t)((i % 2 ? ns_empty : ns_named) - (eva + 8));
			memcpy(kimg(e + 8), &soff, 4);
		}
	}
	/* Then what follows the strings: pointers, as in __param. */
	for (int i = 0; i < 8; i++) {
		uint64_t v = K_VBASE + 0x1000 * i;
		memcpy(kimg(((str + 7) & ~7ULL) + 8 * i), &v, 8);
	}
}

static void expect_kernel(enum ksymtab_layout layout, const struct guest_mmu *mmu)
{
	struct guest_kernel k;

	build_kernel(layout);
	assert_int_equal(guest__find_kernel(&gm, mmu, &k), 0);
	assert_int_equal(k.vbase, K_VBASE);
	assert_int_equal(k.kaslr_offset, K_KASLR);
	assert_int_equal(k.pbase, K_PBASE);
	assert_int_equal(k.paging_levels, mmu->la57 ? 5 : 4);
	assert_string_equal(k.banner,
			    "Linux version 6.9.0-test (me@host) (gcc 12.2.0) #7 SMP PREEMPT");
	assert_int_equal(k.layout, layout);
	assert_int_equal(k.nsyms, K_NSYMS);
	for (size_t i = 1; i < k.nsyms; i++)
		assert_true(strcmp(k.syms[i - 1].name, k.syms[i].name) < 0);
	for (int i = 0; i < K_NSYMS; i++) {
		const struct ksym *s = guest__kernel_symbol(&k, k_names[i]);

		assert_non_null(s);
		assert_string_equal(s->name, k_names[i]);
		assert_int_equal(s->addr, k_values[i]);
	}
	assert_null(guest__kernel_symbol(&k, "sym_0"));
	assert_null(guest__kernel_symbol(&k, "not_exported"));
	assert_null(guest__kernel_symbol(&k, ""));
	guest__kernel_free(&k);
	assert_null(k.syms);
	assert_int_equal(k.nsyms, 0);
}

static void test_kernel_prel32_ns(void **state)
{
	(void)state;
	expect_kernel(KSYMTAB_PREL32_NS, &mmu4);
	expect_kernel(KSYMTAB_PREL32_NS, &mmu5);
}

static void test_kernel_prel32(void **state)
{
	(void)state;
	expect_kernel(KSYMTAB_PREL32, &mmu4);
}

static void test_kernel_abs64(void **state)
{
	(void)state;
	expect_kernel(KSYMTAB_ABS64, &mmu4);
}

static void test_kernel_not_found(void **state)
{
	struct guest_kernel k;
	struct guest_mmu empty = { .cr3 = EMPTY };
	uint32_t lcg = 42;

	(void)state;
	/* No mapping at all. */
	assert_int_equal(guest__find_kernel(&gm, &empty, &k), -ENOENT);
	assert_null(k.syms);
	/* Mapped, but no banner. */
	build_kernel(KSYMTAB_PREL32_NS);
	memset(kimg(0x2000), 0, 0x100);
	memset(kimg(0x3000), 0, 0x100);
	memset(kimg(0x200010), 0, 0x100);
	assert_int_equal(guest__find_kernel(&gm, &mmu4, &k), -ENOENT);
	/* A banner but no symbol table. */
	build_kernel(KSYMTAB_PREL32_NS);
	memset(kimg(K_TAB), 0, K_NSYMS * 12);
	assert_int_equal(guest__find_kernel(&gm, &mmu4, &k), -ENOENT);
	assert_null(k.syms);
	/* Garbage everywhere: fails, does not crash or hang. */
	build_kernel(KSYMTAB_PREL32_NS);
	for (uint64_t off = 0x4000; off < 4 * MiB; off++) {
		lcg = lcg * 1103515245 + 12345;
		*kimg(off) = (uint8_t)(lcg >> 16);
	}
	assert_int_equal(guest__find_kernel(&gm, &mmu4, &k), -ENOENT);
}

static void test_kernel_hostile_tables(void **state)
{
	struct guest_kernel k;

	(void)state;
	/* Every table entry points back at its own table: the kernel window
	 * is "mapped" a million times over onto one page. Bounded, no crash. */
	struct guest_mmu self = { .cr3 = SELF };
	build_tables();
	assert_int_equal(guest__find_kernel(&gm, &self, &k), -ENOENT);
	assert_int_equal(
	    guest__find_kernel(&gm, &(struct guest_mmu){ .cr3 = SELF, .la57 = true }, &k), -ENOENT);
}

static void test_layout_names(void **state)
{
	(void)state;
	assert_string_equal(ksymtab_layout__name(KSYMTAB_NONE), "none");
	assert_string_equal(ksymtab_layout__name(KSYMTAB_PREL32_NS), "prel32-ns");
	assert_string_equal(ksymtab_layout__name(KSYMTAB_PREL32), "prel32");
	assert_string_equal(ksymtab_layout__name(KSYMTAB_ABS64), "abs64");
	assert_string_equal(ksymtab_layout__name((enum ksymtab_layout)42), "unknown");
}

int main(void)
{
	if (getenv("VMSH_TEST_VERBOSE"))
		vmsh_verbose = atoi(getenv("VMSH_TEST_VERBOSE"));

	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_phys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_phys_holes_and_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_phys_bad_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_phys_smm_slots_ignored, setup, teardown),
		cmocka_unit_test(test_read_hva_process),
		cmocka_unit_test_setup_teardown(test_write_phys, setup, teardown),
		cmocka_unit_test(test_write_hva_process),
		cmocka_unit_test_setup_teardown(test_readv_phys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readv_phys_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readv_phys_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writev_phys, setup, teardown),
		cmocka_unit_test(test_readv_hva_process),
		cmocka_unit_test(test_readv_phys_process),
		cmocka_unit_test_setup_teardown(test_translate_4level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_translate_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_translate_5level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_translate_copied_top, setup, teardown),
		cmocka_unit_test_setup_teardown(test_translate_self_reference, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_virt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_prel32_ns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_prel32, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_abs64, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_hostile_tables, setup, teardown),
		cmocka_unit_test(test_layout_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
