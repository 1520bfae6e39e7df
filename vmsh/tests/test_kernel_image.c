// SPDX-License-Identifier: GPL-2.0
/*
 * guest__find_kernel() against real Debian kernels: the lab's cached
 * bzImages (lab/lab prepare downloads them) are unpacked to their vmlinux,
 * whose PT_LOAD segments are loaded into synthetic guest-physical memory
 * and mapped with 2 MiB pages at their link address plus a KASLR offset,
 * as the kernel's own early page tables do. The expected values come from
 * the ELF itself: its section headers (__ksymtab, and __ksymtab_gpl where
 * the kernel still has one: 7.x keeps GPL exports in __ksymtab, flagged in
 * __kflagstab) and the bytes of its banner.
 *
 * Unpacking and the ELF reader are kernel_images.c's. Missing kernels or
 * tools make a test skip, with the reason printed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest.h"
#include "kcache.h"
#include "kernel_images.h"
#include "util.h"

#define MiB (1ULL << 20)
#define KASLR 0x1e00000ULL
#define PBASE 0x3200000ULL /* where the image starts in guest-physical memory */
#define HV_BASE 0x7f0000000000ULL

/*
 * The banner /proc/version shows: the "Linux version" line whose UTS_VERSION
 * carries the build number ("#1 SMP ..."); the weak copy has "# SMP".
 */
static void elf__banner(const struct elf *e, char *out, size_t outlen)
{
	const uint8_t *p = e->b->data, *end = e->b->data + e->b->len, *hit;
	int found = 0;

	while ((hit = memmem(p, (size_t)(end - p), "Linux version ", 14))) {
		const uint8_t *nl = memchr(hit, '\n', (size_t)(end - hit));
		const uint8_t *hash;

		p = hit + 1;
		if (!nl || (size_t)(nl - hit) >= outlen)
			continue;
		hash = memchr(hit, '#', (size_t)(nl - hit));
		if (!hash || hash[1] < '0' || hash[1] > '9')
			continue;
		if (found && !memcmp(out, hit, (size_t)(nl - hit)) && !out[nl - hit])
			continue;
		assert_int_equal(found, 0);
		memcpy(out, hit, (size_t)(nl - hit));
		out[nl - hit] = '\0';
		found++;
	}
	assert_int_equal(found, 1);
}

/* --- the synthetic guest ---------------------------------------------- */

struct guest {
	uint8_t *mem;
	size_t size;
	struct memslot slots[3];
	struct guest_mem gm;
	uint64_t text_pa, text_end_pa; /* .text, as offsets into the image */
	uint64_t bytes_read;
};

static int guest_read_hva(void *ctx, uint64_t hva, void *buf, size_t len)
{
	struct guest *g = ctx;

	if (hva < HV_BASE || hva - HV_BASE > g->size || len > g->size - (hva - HV_BASE))
		return -EFAULT;
	memcpy(buf, g->mem + (hva - HV_BASE), len);
	g->bytes_read += len;
	return 0;
}

static void guest_write(struct guest *g, uint64_t gpa, const void *src, size_t len)
{
	const uint8_t *s = src;

	while (len) {
		size_t i, n;

		for (i = 0; i < ARRAY_SIZE(g->slots); i++)
			if (gpa >= g->slots[i].gpa && gpa - g->slots[i].gpa < g->slots[i].size)
				break;
		assert_true(i < ARRAY_SIZE(g->slots));
		n = g->slots[i].size - (gpa - g->slots[i].gpa);
		if (n > len)
			n = len;
		memcpy(g->mem + (g->slots[i].hva - HV_BASE) + (gpa - g->slots[i].gpa), s, n);
		s += n;
		gpa += n;
		len -= n;
	}
}

static void guest_put64(struct guest *g, uint64_t gpa, uint64_t v)
{
	guest_write(g, gpa, &v, sizeof(v));
}

#define PT_PML5 0x1000ULL
#define PT_PML4 0x2000ULL
#define PT_PDPT 0x3000ULL
#define PT_PD 0x4000ULL

static void guest_map(struct guest *g, uint64_t vbase, uint64_t image, bool nx);

/*
 * Slot 0: page tables at gpa 0; slots 1 and 2: the image at PBASE, split
 * 16 MiB in, stored in the hypervisor in the order 2, 0, 1.
 */
static void guest_build(struct guest *g, const struct elf *e, uint64_t *vbase)
{
	uint64_t text_va = 0, text_pa = UINT64_MAX, end_pa = 0, image;

	for (size_t i = 0; i < e->eh->e_phnum; i++) {
		const Elf64_Phdr *ph = elf__phdr(e, i);

		if (ph->p_type != PT_LOAD)
			continue;
		if (ph->p_paddr < text_pa) {
			text_pa = ph->p_paddr;
			text_va = ph->p_vaddr;
		}
		if (ph->p_paddr + ph->p_memsz > end_pa)
			end_pa = ph->p_paddr + ph->p_memsz;
	}
	/*
	 * What the kernel keeps executable: _text to _etext, .text's end (the
	 * first PT_LOAD also holds .rodata, which mark_rodata_ro() makes NX).
	 */
	{
		const Elf64_Shdr *text = elf__section(e, ".text");

		assert_non_null(text);
		g->text_pa = 0;
		g->text_end_pa = text->sh_addr + text->sh_size - text_va;
	}
	assert_int_equal(text_va, 0xffffffff81000000ULL);
	image = (end_pa - text_pa + 2 * MiB - 1) & ~(2 * MiB - 1);
	assert_true(image > 16 * MiB && image < 512 * MiB);

	g->size = 2 * MiB + image;
	g->mem = calloc(1, g->size);
	assert_non_null(g->mem);
	g->slots[0] = (struct memslot){
		.id = 0, .gpa = 0, .size = 2 * MiB, .hva = HV_BASE + image - 16 * MiB
	};
	g->slots[1] = (struct memslot){
		.id = 1, .gpa = PBASE, .size = 16 * MiB, .hva = HV_BASE + image - 16 * MiB + 2 * MiB
	};
	g->slots[2] = (struct memslot){
		.id = 2, .gpa = PBASE + 16 * MiB, .size = image - 16 * MiB, .hva = HV_BASE
	};
	g->gm = (struct guest_mem){
		.slots = g->slots, .nslots = 3, .read_hva = guest_read_hva, .ctx = g
	};

	/* The segments, where a KASLR'd kernel physically at PBASE has them. */
	for (size_t i = 0; i < e->eh->e_phnum; i++) {
		const Elf64_Phdr *ph = elf__phdr(e, i);

		if (ph->p_type == PT_LOAD)
			guest_write(g, PBASE + (ph->p_paddr - text_pa), e->b->data + ph->p_offset,
				    ph->p_filesz);
	}

	/* 2 MiB pages for the image at text_va + KASLR, in 4- and 5-level tables. */
	*vbase = text_va + KASLR;
	guest_put64(g, PT_PML5 + 8 * 511, PT_PML4 | 3);
	guest_put64(g, PT_PML4 + 8 * 511, PT_PDPT | 3);
	guest_put64(g, PT_PDPT + 8 * 510, PT_PD | 3);
	guest_map(g, *vbase, image, false);
}

/*
 * Map the image's 2 MiB pages; nx: as STRICT_KERNEL_RWX does, NX on every
 * page but those of the executable segments.
 */
static void guest_map(struct guest *g, uint64_t vbase, uint64_t image, bool nx)
{
	for (uint64_t off = 0; off < image; off += 2 * MiB) {
		uint64_t idx = ((vbase + off) >> 21) & 0x1ff;
		bool exec = off + 2 * MiB > g->text_pa && off < g->text_end_pa;

		guest_put64(g, PT_PD + 8 * idx,
			    (PBASE + off) | 0x83 | (nx && !exec ? 1ULL << 63 : 0));
	}
}

/*
 * The kernel cache on a real kernel: what the scan found, stored and loaded
 * back, equal, for a small part of the scan's reads; a changed export table
 * or banner in the guest, a damaged entry, are misses.
 */
static void check_kcache(struct guest *g, const struct guest_mmu *mmu, const struct guest_kernel *k,
			 uint64_t scan_bytes, const char *name)
{
	char dir[] = "/tmp/vmsh_kcache_XXXXXX", path[4096];
	struct guest_layout l = { .work_size = 32, .work_data_init = 0xfffffffe0 }, l2;
	struct guest_kernel c;
	uint64_t pa;
	uint8_t byte;

	assert_non_null(mkdtemp(dir));
	setenv("VMSH_CACHE_DIR", dir, 1);
	snprintf(l.work_src, sizeof(l.work_src), "vmsh's table for 6.1");
	assert_int_equal(kcache__store(&g->gm, mmu, k, &l), 0);

	assert_int_equal(guest__kernel_base(&g->gm, mmu, &c), 0);
	g->bytes_read = 0;
	assert_int_equal(kcache__load(&g->gm, mmu, &c, &l2), 0);
	assert_string_equal(c.banner, k->banner);
	assert_int_equal(c.nsyms, k->nsyms);
	assert_int_equal(c.layout, k->layout);
	assert_int_equal(c.ksymtab_va, k->ksymtab_va);
	for (size_t i = 0; i < k->nsyms; i++) {
		assert_string_equal(c.syms[i].name, k->syms[i].name);
		assert_int_equal(c.syms[i].addr, k->syms[i].addr);
	}
	assert_memory_equal(&l2, &l, sizeof(l));
	print_message("%s: the cache read %llu KiB of the guest, the scan %llu KiB\n", name,
		      (unsigned long long)g->bytes_read >> 10,
		      (unsigned long long)scan_bytes >> 10);
	assert_true(g->bytes_read * 10 < scan_bytes);
	guest__kernel_free(&c);

	/* one byte of the export table changed in the guest: another kernel */
	assert_int_equal(guest__translate(&g->gm, mmu, k->ksymtab_va + 40, &pa, NULL), 0);
	assert_int_equal(guest__read_virt(&g->gm, mmu, k->ksymtab_va + 40, &byte, 1), 0);
	byte ^= 1;
	guest_write(g, pa, &byte, 1);
	assert_int_equal(guest__kernel_base(&g->gm, mmu, &c), 0);
	assert_int_equal(kcache__load(&g->gm, mmu, &c, &l2), -ESTALE);
	byte ^= 1;
	guest_write(g, pa, &byte, 1);
	/* the banner */
	assert_int_equal(guest__translate(&g->gm, mmu, k->banner_va + 14, &pa, NULL), 0);
	byte = (uint8_t)(k->banner[14] ^ 1); /* the version's first digit, another one */
	guest_write(g, pa, &byte, 1);
	assert_int_equal(guest__kernel_base(&g->gm, mmu, &c), 0);
	assert_int_equal(kcache__load(&g->gm, mmu, &c, &l2), -ESTALE);
	guest_write(g, pa, k->banner + 14, 1);
	assert_int_equal(guest__kernel_base(&g->gm, mmu, &c), 0);
	assert_int_equal(kcache__load(&g->gm, mmu, &c, &l2), 0);
	guest__kernel_free(&c);
	/* a damaged entry: a symbol line cut short */
	assert_int_equal(kcache__path(k, path, sizeof(path)), 0);
	assert_int_equal(truncate(path, 2000), 0);
	assert_int_equal(guest__kernel_base(&g->gm, mmu, &c), 0);
	assert_int_equal(kcache__load(&g->gm, mmu, &c, &l2), -ESTALE);
	unlink(path);
	assert_int_equal(kcache__load(&g->gm, mmu, &c, &l2), -ENOENT);
	snprintf(path, sizeof(path), "%s/kernels", dir);
	rmdir(path);
	rmdir(dir);
	unsetenv("VMSH_CACHE_DIR");
}

/* --- the test ----------------------------------------------------------- */

static void check_kernel(const char *name)
{
	/* Each with an alternative name ("" for none): printk before 5.15. */
	static const char *const known[][2] = {
		{ "kmalloc_caches", "" }, { "call_usermodehelper", "" }, { "_printk", "printk" },
		{ "kfree", "" },	  { "init_task", "" },		 { "system_wq", "" },
	};
	static const Elf64_Shdr no_gpl; /* an empty table */
	char version[128], want_banner[512], prefix[200];
	const Elf64_Shdr *ksymtab, *gpl, *strings;
	struct blob vmlinux = { 0 };
	struct guest g = { 0 };
	struct elf e;
	uint64_t vbase, bytes[3];
	size_t nsyms;

	if (!kernel_images__vmlinux(name, &vmlinux))
		skip();
	elf__open(&e, &vmlinux);
	ksymtab = elf__section(&e, "__ksymtab");
	gpl = elf__section(&e, "__ksymtab_gpl");
	strings = elf__section(&e, "__ksymtab_strings");
	assert_non_null(ksymtab);
	assert_non_null(strings);
	if (!gpl)
		gpl = &no_gpl;
	assert_int_equal(ksymtab->sh_size % 12, 0);
	assert_int_equal(gpl->sh_size % 12, 0);
	nsyms = (ksymtab->sh_size + gpl->sh_size) / 12;
	elf__banner(&e, want_banner, sizeof(want_banner));

	if (kernel_images__release(name, version, sizeof(version))) {
		snprintf(prefix, sizeof(prefix), "Linux version %s (", version);
		assert_memory_equal(want_banner, prefix, strlen(prefix));
	}

	guest_build(&g, &e, &vbase);
	/* 4- and 5-level paging, then 4-level with .text executable and the rest NX */
	for (int run = 0; run < 3; run++) {
		int levels = run == 1 ? 5 : 4;
		struct guest_mmu mmu = { .cr3 = levels == 5 ? PT_PML5 : PT_PML4,
					 .la57 = levels == 5 };
		struct guest_kernel k;

		if (run == 2)
			guest_map(&g, vbase, g.size - 2 * MiB, true);
		g.bytes_read = 0;
		assert_int_equal(guest__find_kernel(&g.gm, &mmu, &k), 0);
		bytes[run] = g.bytes_read;
		assert_int_equal(k.vbase, vbase);
		assert_int_equal(k.kaslr_offset, KASLR);
		assert_int_equal(k.pbase, PBASE);
		assert_int_equal(k.paging_levels, levels);
		assert_string_equal(k.banner, want_banner);
		assert_int_equal(k.layout, KSYMTAB_PREL32_NS);
		assert_int_equal(k.nsyms, nsyms);

		/*
		 * Every entry of both tables, decoded from the ELF at link
		 * time: found under its name at its address + KASLR. Data
		 * symbols lie above the tables (positive offsets), which the
		 * original vmsh got wrong.
		 */
		for (int t = 0; t < 2; t++) {
			const Elf64_Shdr *sh = t ? gpl : ksymtab;

			for (uint64_t va = sh->sh_addr; va < sh->sh_addr + sh->sh_size; va += 12) {
				uint64_t addr;
				const char *sym = elf__ksym(&e, va, &addr);
				const struct ksym *s = guest__kernel_symbol(&k, sym);

				if (!s)
					fail_msg("%s: exported symbol %s not found", name, sym);
				assert_int_equal(s->addr, addr + KASLR);
			}
		}
		for (size_t i = 0; i < ARRAY_SIZE(known); i++) {
			const struct ksym *s = guest__kernel_symbol(&k, known[i][0]);

			if (!s && *known[i][1])
				s = guest__kernel_symbol(&k, known[i][1]);
			if (!s)
				fail_msg("%s: %s is not exported", name, known[i][0]);
			assert_true(s->addr >= vbase && s->addr < vbase + 512 * MiB);
		}
		print_message("%s (%d-level%s): %zu symbols, %s; %llu KiB read\n", name, levels,
			      run == 2 ? ", NX" : "", k.nsyms, k.banner,
			      (unsigned long long)bytes[run] >> 10);
		if (run == 2)
			check_kcache(&g, &mmu, &k, bytes[run], name);
		guest__kernel_free(&k);
	}
	/* with NX, the scan skips .text: at least half of it is not read */
	assert_true(bytes[2] + (g.text_end_pa - g.text_pa) / 2 < bytes[0]);
	free(g.mem);
	blob__free(&vmlinux);
}

/* One test per kernel in the cache, named after it. */
#define KERNEL_TEST(test, kernel)                                                                  \
	static void test(void **state)                                                             \
	{                                                                                          \
		(void)state;                                                                       \
		check_kernel(kernel);                                                              \
	}
KERNEL_IMAGES(KERNEL_TEST)
#define KERNEL_UNIT_TEST(test, kernel) cmocka_unit_test(test),

int main(void)
{
	const struct CMUnitTest tests[] = {
		KERNEL_IMAGES(KERNEL_UNIT_TEST) /* test_debian_6_1 and the other kernels */
	};

	if (getenv("VMSH_TEST_VERBOSE"))
		vmsh_verbose = atoi(getenv("VMSH_TEST_VERBOSE"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
