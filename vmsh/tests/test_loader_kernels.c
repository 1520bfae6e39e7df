// SPDX-License-Identifier: GPL-2.0
/*
 * test_loader.c, part two: stage1 against the real Debian kernels in the
 * lab's cache (lab/lab prepare fills it, kernel_images.c unpacks it; a
 * missing kernel or decompressor skips, with the reason printed). From each
 * vmlinux: every import of stage1 is in __ksymtab or __ksymtab_gpl, and
 * linking stage1 against those addresses succeeds; its BTF agrees with the
 * struct layouts stage1 writes (work_struct, resource) and with
 * loader__work_data_init(); and under IBT no imported function is sealed
 * (its ENDBR turned into a NOP at boot), since stage1 calls them indirectly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <bpf/btf.h>
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "kernel_images.h"
#include "loader.h"
#include "util.h"

#define BASE 0xffffffff80400000ULL

/* The address of an exported symbol (5.4+ PREL32 entries, 12 bytes), or 0. */
static uint64_t ksym(const struct elf *e, const char *name)
{
	const char *tabs[] = { "__ksymtab", "__ksymtab_gpl" };

	for (size_t t = 0; t < ARRAY_SIZE(tabs); t++) {
		const Elf64_Shdr *sh = elf__section(e, tabs[t]);

		if (!sh && t > 0)
			continue; /* no GPL table of its own (7.x) */
		assert_non_null(sh);
		for (uint64_t va = sh->sh_addr; va + 12 <= sh->sh_addr + sh->sh_size; va += 12) {
			uint64_t addr;

			if (!strcmp(elf__ksym(e, va, &addr), name))
				return addr;
		}
	}
	return 0;
}

static int vmlinux_resolve(void *ctx, const char *name, uint64_t *addr)
{
	*addr = ksym(ctx, name);
	return *addr ? 0 : -ENOENT;
}

static int64_t btf_enum_value(const struct btf *btf, const char *name)
{
	for (uint32_t id = 1; id < btf__type_cnt(btf); id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);

		if (!btf_is_enum(t))
			continue;
		for (uint16_t i = 0; i < btf_vlen(t); i++)
			if (!strcmp(btf__name_by_offset(btf, btf_enum(t)[i].name_off), name))
				return btf_enum(t)[i].val;
	}
	fail_msg("BTF has no enumerator %s", name);
	return -1;
}

/* The struct's size and its members' byte offsets, as BTF has them. */
static void btf_check_struct(const struct btf *btf, const char *name, size_t size,
			     const char *const members[], const size_t offsets[], size_t n)
{
	int id = btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT);
	const struct btf_type *t;

	assert_true(id > 0);
	t = btf__type_by_id(btf, (uint32_t)id);
	assert_int_equal(t->size, size);
	for (size_t m = 0; m < n; m++) {
		bool found = false;

		for (uint16_t i = 0; i < btf_vlen(t); i++)
			if (!strcmp(btf__name_by_offset(btf, btf_members(t)[i].name_off),
				    members[m])) {
				assert_int_equal(btf_member_bit_offset(t, i), offsets[m] * 8);
				found = true;
			}
		if (!found)
			fail_msg("struct %s has no %s", name, members[m]);
	}
}

/*
 * struct irq_work as stage1 fills it (stage1.c): flags at 8 (5.10: a member
 * of an anonymous struct; later: node's a_flags), func at 16, at most 32
 * bytes.
 */
static void check_irq_work(const struct btf *btf)
{
	static const char *const func[] = { "func" };
	static const size_t func_off[] = { 16 };
	int id = btf__find_by_name_kind(btf, "irq_work", BTF_KIND_STRUCT);
	const struct btf_type *t;

	assert_true(id > 0);
	t = btf__type_by_id(btf, (uint32_t)id);
	assert_true(t->size == 24 || t->size == 32);
	btf_check_struct(btf, "irq_work", t->size, func, func_off, 1);
	id = btf__find_by_name_kind(btf, "__call_single_node", BTF_KIND_STRUCT);
	if (id > 0) {
		t = btf__type_by_id(btf, (uint32_t)id);
		assert_true(btf_vlen(t) >= 2);
		assert_int_equal(btf_member_bit_offset(t, 1), 64); /* u_flags / a_flags */
	}
}

static void check_btf(const struct elf *e, const char *release)
{
	static const char *const work[] = { "data", "entry", "func" };
	static const size_t work_off[] = { 0, 8, 24 };
	static const char *const res[] = { "start", "end",    "name",	 "flags",
					   "desc",  "parent", "sibling", "child" };
	static const size_t res_off[] = { 0, 8, 16, 24, 32, 40, 48, 56 };
	const Elf64_Shdr *sh = elf__section(e, ".BTF");
	uint64_t want, got;
	struct btf *btf;

	if (!sh) {
		print_message("no .BTF: layouts not checked\n");
		return;
	}
	btf = btf__new(e->b->data + sh->sh_offset, (uint32_t)sh->sh_size);
	assert_non_null(btf);
	btf_check_struct(btf, "work_struct", 32, work, work_off, ARRAY_SIZE(work));
	btf_check_struct(btf, "resource", 64, res, res_off, ARRAY_SIZE(res));
	check_irq_work(btf);
	/* WORK_STRUCT_NO_POOL, as the kernel's own enum computes it. */
	want = ((1ULL << btf_enum_value(btf, "WORK_OFFQ_POOL_BITS")) - 1)
	       << btf_enum_value(btf, "WORK_OFFQ_POOL_SHIFT");
	assert_int_equal(loader__work_data_init(release, &got), 0);
	assert_int_equal(got, want);
	btf__free(btf);
}

/*
 * objtool lists the ENDBRs of functions whose address is never taken in
 * .ibt_endbr_seal (s32 offsets to each); the kernel NOPs them at boot.
 */
static void check_ibt(const struct elf *e, const char *name, uint64_t addr, const Elf64_Shdr *text)
{
	const Elf64_Shdr *seal = elf__section(e, ".ibt_endbr_seal");

	if (!seal || addr < text->sh_addr || addr >= text->sh_addr + text->sh_size)
		return; /* no IBT, or data (system_long_wq) */
	if (memcmp(elf__at(e, addr, 4), "\xf3\x0f\x1e\xfa", 4))
		fail_msg("%s has no ENDBR64", name);
	for (uint64_t va = seal->sh_addr; va + 4 <= seal->sh_addr + seal->sh_size; va += 4) {
		int32_t off;

		memcpy(&off, elf__at(e, va, 4), 4);
		if (va + (uint64_t)(int64_t)off == addr)
			fail_msg("%s is sealed: an indirect call to it would fault", name);
	}
}

static void check_kernel(const char *kernel)
{
	struct blob vmlinux = { 0 };
	struct stage1_image img;
	const Elf64_Shdr *text;
	char release[128];
	struct loader *l;
	struct elf e;
	size_t n;

	if (!kernel_images__vmlinux(kernel, &vmlinux))
		skip();
	elf__open(&e, &vmlinux);
	assert_true(kernel_images__release(kernel, release, sizeof(release)));
	text = elf__section(&e, ".text");
	assert_non_null(text);

	assert_int_equal(loader__open(&l, stage1_blob, (size_t)(stage1_blob_end - stage1_blob)), 0);
	for (size_t i = 0; i < loader__nimports(l); i++) {
		const char *name = loader__import(l, i);
		uint64_t addr = ksym(&e, name);

		if (!addr && loader__alternative(name))
			addr = ksym(&e, loader__alternative(name));
		if (!addr)
			fail_msg("%s: stage1 imports %s, which it does not export", kernel, name);
		check_ibt(&e, name, addr, text);
	}
	assert_int_equal(loader__load(l, BASE, NULL, 0, vmlinux_resolve, &e, &img), 0);
	n = loader__nimports(l);
	loader__image_free(&img);
	loader__close(l);
	check_btf(&e, release);
	print_message("%s: all %zu imports exported, layouts match\n", kernel, n);
	blob__free(&vmlinux);
}

/* One test per kernel in the cache, registered by test_loader.c. */
#define KERNEL_TEST(test, kernel)                                                                  \
	void test(void **state)                                                                    \
	{                                                                                          \
		(void)state;                                                                       \
		check_kernel(kernel);                                                              \
	}
KERNEL_IMAGES(KERNEL_TEST)
