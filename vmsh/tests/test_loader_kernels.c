// SPDX-License-Identifier: GPL-2.0
/*
 * test_loader.c, part two: stage1 against the real Debian kernels in the
 * lab's cache (lab/lab prepare fills it; a missing kernel or decompressor
 * skips, with the reason printed, as in test_kernel_image.c). From each
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loader.h"
#include "util.h"

void test_debian_6_1(void **state);
void test_debian_6_1_cloud(void **state);
void test_debian_6_12(void **state);

#define VMLINUX_MAX (1ULL << 30)
#define BASE 0xffffffff80400000ULL

struct vmlinux {
	uint8_t *data;
	size_t len;
	const Elf64_Ehdr *eh;
};

static const char *cache_dir(void)
{
	const char *d = getenv("LAB_CACHE");

	return d && *d ? d : "/var/cache/vmsh-lab";
}

static uint8_t *slurp(FILE *f, size_t *len)
{
	size_t cap = 16 << 20;
	uint8_t *p = malloc(cap);

	assert_non_null(p);
	*len = 0;
	for (;;) {
		size_t n;

		if (*len == cap) {
			assert_true(cap < VMLINUX_MAX);
			cap *= 2;
			p = realloc(p, cap);
			assert_non_null(p);
		}
		n = fread(p + *len, 1, cap - *len, f);
		if (!n)
			break;
		*len += n;
	}
	return p;
}

/* The bzImage's payload (boot protocol 2.08+), through a decompressor. */
static bool vmlinux_extract(const char *kernel, struct vmlinux *v)
{
	static const struct {
		const char *magic;
		size_t len;
		const char *tool;
	} fmts[] = {
		{ "\xfd"
		  "7zXZ",
		  5, "xz -dc" },
		{ "\x28\xb5\x2f\xfd", 4, "zstd -dc" },
		{ "\x02\x21\x4c\x18", 4, "lz4 -dc" },
		{ "\x1f\x8b", 2, "gzip -dc" },
	};
	char path[512], tmp[] = "/tmp/vmsh-test-loader-XXXXXX", cmd[700];
	const char *tool = NULL;
	size_t bzlen, start;
	uint32_t off, len;
	uint8_t *bz;
	FILE *f;
	int fd, status;

	snprintf(path, sizeof(path), "%s/kernels/%s/vmlinuz", cache_dir(), kernel);
	f = fopen(path, "rb");
	if (!f) {
		print_message("skipping: %s is missing (run lab/lab prepare)\n", path);
		return false;
	}
	bz = slurp(f, &bzlen);
	fclose(f);
	assert_true(bzlen > 0x250 && !memcmp(bz + 0x202, "HdrS", 4));
	memcpy(&off, bz + 0x248, 4);
	memcpy(&len, bz + 0x24c, 4);
	start = ((bz[0x1f1] ? bz[0x1f1] : 4) + 1) * 512 + off;
	assert_true(len > 4 && start < bzlen && len <= bzlen - start);
	for (size_t i = 0; i < ARRAY_SIZE(fmts); i++)
		if (!memcmp(bz + start, fmts[i].magic, fmts[i].len))
			tool = fmts[i].tool;
	if (!tool) {
		print_message("skipping: unknown compression in %s\n", path);
		free(bz);
		return false;
	}
	fd = mkstemp(tmp);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bz + start, len - 4), (ssize_t)(len - 4));
	close(fd);
	free(bz);
	snprintf(cmd, sizeof(cmd), "%s < '%s' 2>/dev/null", tool, tmp);
	f = popen(cmd, "r");
	assert_non_null(f);
	v->data = slurp(f, &v->len);
	status = pclose(f);
	unlink(tmp);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		print_message("skipping: '%s' is not installed\n", tool);
		free(v->data);
		return false;
	}
	assert_int_equal(status, 0);
	v->eh = (const Elf64_Ehdr *)v->data;
	assert_true(v->len > sizeof(Elf64_Ehdr) && !memcmp(v->data, ELFMAG, SELFMAG));
	assert_true(v->eh->e_shoff < v->len &&
		    v->eh->e_shnum * sizeof(Elf64_Shdr) <= v->len - v->eh->e_shoff);
	assert_true(v->eh->e_phoff < v->len &&
		    v->eh->e_phnum * sizeof(Elf64_Phdr) <= v->len - v->eh->e_phoff);
	return true;
}

static const Elf64_Shdr *vmlinux_section(const struct vmlinux *v, const char *name)
{
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(v->data + v->eh->e_shoff);
	const Elf64_Shdr *str = &sh[v->eh->e_shstrndx];

	for (size_t i = 0; i < v->eh->e_shnum; i++)
		if (sh[i].sh_name < str->sh_size &&
		    !strcmp((const char *)v->data + str->sh_offset + sh[i].sh_name, name)) {
			assert_true(sh[i].sh_offset <= v->len &&
				    sh[i].sh_size <= v->len - sh[i].sh_offset);
			return &sh[i];
		}
	return NULL;
}

/* File bytes at a link address. */
static const uint8_t *vmlinux_at(const struct vmlinux *v, uint64_t va, size_t len)
{
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(v->data + v->eh->e_phoff);

	for (size_t i = 0; i < v->eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && va >= ph[i].p_vaddr &&
		    va - ph[i].p_vaddr < ph[i].p_filesz &&
		    len <= ph[i].p_filesz - (va - ph[i].p_vaddr) &&
		    ph[i].p_offset + ph[i].p_filesz <= v->len)
			return v->data + ph[i].p_offset + (va - ph[i].p_vaddr);
	fail_msg("0x%llx is not in vmlinux", (unsigned long long)va);
	return NULL;
}

/* The address of an exported symbol (5.4+ PREL32 entries, 12 bytes), or 0. */
static uint64_t ksym(const struct vmlinux *v, const char *name)
{
	const char *tabs[] = { "__ksymtab", "__ksymtab_gpl" };

	for (size_t t = 0; t < ARRAY_SIZE(tabs); t++) {
		const Elf64_Shdr *sh = vmlinux_section(v, tabs[t]);

		assert_non_null(sh);
		for (uint64_t va = sh->sh_addr; va + 12 <= sh->sh_addr + sh->sh_size; va += 12) {
			const uint8_t *e = vmlinux_at(v, va, 12);
			int32_t voff, noff;

			memcpy(&voff, e, 4);
			memcpy(&noff, e + 4, 4);
			if (!strcmp(
				(const char *)vmlinux_at(v, va + 4 + (uint64_t)(int64_t)noff, 1),
				name))
				return va + (uint64_t)(int64_t)voff;
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

static void check_btf(const struct vmlinux *v, const char *release)
{
	static const char *const work[] = { "data", "entry", "func" };
	static const size_t work_off[] = { 0, 8, 24 };
	static const char *const res[] = { "start", "end",    "name",	 "flags",
					   "desc",  "parent", "sibling", "child" };
	static const size_t res_off[] = { 0, 8, 16, 24, 32, 40, 48, 56 };
	const Elf64_Shdr *sh = vmlinux_section(v, ".BTF");
	uint64_t want, got;
	struct btf *btf;

	if (!sh) {
		print_message("no .BTF: layouts not checked\n");
		return;
	}
	btf = btf__new(v->data + sh->sh_offset, (uint32_t)sh->sh_size);
	assert_non_null(btf);
	btf_check_struct(btf, "work_struct", 32, work, work_off, ARRAY_SIZE(work));
	btf_check_struct(btf, "resource", 64, res, res_off, ARRAY_SIZE(res));
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
static void check_ibt(const struct vmlinux *v, const char *name, uint64_t addr,
		      const Elf64_Shdr *text)
{
	const Elf64_Shdr *seal = vmlinux_section(v, ".ibt_endbr_seal");

	if (!seal || addr < text->sh_addr || addr >= text->sh_addr + text->sh_size)
		return; /* no IBT, or data (system_long_wq) */
	if (memcmp(vmlinux_at(v, addr, 4), "\xf3\x0f\x1e\xfa", 4))
		fail_msg("%s has no ENDBR64", name);
	for (uint64_t va = seal->sh_addr; va + 4 <= seal->sh_addr + seal->sh_size; va += 4) {
		int32_t off;

		memcpy(&off, vmlinux_at(v, va, 4), 4);
		if (va + (uint64_t)(int64_t)off == addr)
			fail_msg("%s is sealed: an indirect call to it would fault", name);
	}
}

static void check_kernel(const char *kernel)
{
	char path[512], release[128] = "";
	struct stage1_image img;
	const Elf64_Shdr *text;
	struct vmlinux v;
	struct loader *l;
	size_t n;
	FILE *f;

	if (!vmlinux_extract(kernel, &v))
		skip();
	snprintf(path, sizeof(path), "%s/kernels/%s/version", cache_dir(), kernel);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(release, sizeof(release), f));
	fclose(f);
	text = vmlinux_section(&v, ".text");
	assert_non_null(text);

	assert_int_equal(loader__open(&l, stage1_blob, (size_t)(stage1_blob_end - stage1_blob)), 0);
	for (size_t i = 0; i < loader__nimports(l); i++) {
		const char *name = loader__import(l, i);
		uint64_t addr = ksym(&v, name);

		if (!addr)
			fail_msg("%s: stage1 imports %s, which it does not export", kernel, name);
		check_ibt(&v, name, addr, text);
	}
	assert_int_equal(loader__load(l, BASE, NULL, 0, vmlinux_resolve, &v, &img), 0);
	n = loader__nimports(l);
	loader__image_free(&img);
	loader__close(l);
	check_btf(&v, release);
	print_message("%s: all %zu imports exported, layouts match\n", kernel, n);
	free(v.data);
}

void test_debian_6_1(void **state)
{
	(void)state;
	check_kernel("6.1");
}

void test_debian_6_1_cloud(void **state)
{
	(void)state;
	check_kernel("6.1-cloud");
}

void test_debian_6_12(void **state)
{
	(void)state;
	check_kernel("6.12");
}
