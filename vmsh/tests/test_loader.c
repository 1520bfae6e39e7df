// SPDX-License-Identifier: GPL-2.0
/*
 * The stage1 loader against the real stage1.so (and a fixture with the
 * relocation types stage1 does not use): every relocation the loader
 * applied is recomputed here from the ELF with plain Elf64 structs, not
 * the loader's code; damaged ELFs must be errors, never crashes (run it
 * under ASan); and every import of stage1 must be exported by each Debian
 * kernel in the lab's cache, whose BTF must also agree with stage1's view
 * of work_struct, resource and WORK_DATA_INIT().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <bpf/btf.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel_images.h"
#include "loader.h"
#include "util.h"

extern const unsigned char loader_fixture[];
extern const unsigned char loader_fixture_end[];

#define BASE 0xffffffff80400000ULL
#define FAKE_KERNEL 0xffffffff81000000ULL

static const char *const imports[] = {
#define STAGE1_IMPORT(name) #name,
#include "../stage1/imports.h"
#undef STAGE1_IMPORT
};

/* struct blob is kernel_images.h's. */
static struct blob blob_copy(const unsigned char *start, const unsigned char *end)
{
	struct blob b = { .len = (size_t)(end - start) };

	b.data = malloc(b.len);
	assert_non_null(b.data);
	memcpy(b.data, start, b.len);
	return b;
}

/* --- an independent view of the ELF ------------------------------------ */

static const Elf64_Ehdr *ehdr(const struct blob *b)
{
	return (const Elf64_Ehdr *)b->data;
}

static Elf64_Phdr *phdr(const struct blob *b, size_t i)
{
	return (Elf64_Phdr *)(b->data + ehdr(b)->e_phoff) + i;
}

static Elf64_Shdr *shdr(const struct blob *b, size_t i)
{
	return (Elf64_Shdr *)(b->data + ehdr(b)->e_shoff) + i;
}

static Elf64_Shdr *section_of_type(const struct blob *b, uint32_t type, size_t nth)
{
	for (size_t i = 0; i < ehdr(b)->e_shnum; i++)
		if (shdr(b, i)->sh_type == type && !nth--)
			return shdr(b, i);
	return NULL;
}

static Elf64_Phdr *load(const struct blob *b, size_t nth)
{
	for (size_t i = 0; i < ehdr(b)->e_phnum; i++)
		if (phdr(b, i)->p_type == PT_LOAD && !nth--)
			return phdr(b, i);
	return NULL;
}

static const Elf64_Sym *symbol(const struct blob *b, uint32_t type, const char *name)
{
	const Elf64_Shdr *sh = section_of_type(b, type, 0);
	const char *str = (const char *)b->data + shdr(b, sh->sh_link)->sh_offset;

	for (size_t i = 1; i < sh->sh_size / sizeof(Elf64_Sym); i++) {
		const Elf64_Sym *s = (const Elf64_Sym *)(b->data + sh->sh_offset) + i;

		if (!strcmp(str + s->st_name, name))
			return s;
	}
	return NULL;
}

static const char *dynsym_name(const struct blob *b, size_t i, const Elf64_Sym **sym)
{
	const Elf64_Shdr *sh = section_of_type(b, SHT_DYNSYM, 0);

	*sym = (const Elf64_Sym *)(b->data + sh->sh_offset) + i;
	return (const char *)b->data + shdr(b, sh->sh_link)->sh_offset + (*sym)->st_name;
}

/* --- a fake kernel ------------------------------------------------------- */

struct fake {
	const char *missing, *missing2; /* resolve says -ENOENT for them */
	int error;			/* ... or this, if set */
	unsigned calls;
};

static uint64_t fake_addr(const char *name)
{
	uint64_t h = 5381;

	for (const char *p = name; *p; p++)
		h = h * 33 + (unsigned char)*p;
	return FAKE_KERNEL + (h % 0x100000) * 16;
}

static int fake_resolve(void *ctx, const char *name, uint64_t *addr)
{
	struct fake *f = ctx;

	f->calls++;
	if (f->missing && !strcmp(name, f->missing))
		return f->error ? f->error : -ENOENT;
	if (f->missing2 && !strcmp(name, f->missing2))
		return -ENOENT;
	if (!strcmp(name, "fixture_weak"))
		return -ENOENT;
	*addr = fake_addr(name);
	return 0;
}

/*
 * Recompute every relocation of b at base and compare with the image;
 * count them by type.
 */
static void check_relocations(const struct blob *b, const struct stage1_image *img, uint64_t base,
			      unsigned count[16])
{
	const Elf64_Shdr *rs;

	memset(count, 0, 16 * sizeof(count[0]));
	for (size_t n = 0; (rs = section_of_type(b, SHT_RELA, n)); n++) {
		for (size_t i = 0; i < rs->sh_size / sizeof(Elf64_Rela); i++) {
			const Elf64_Rela *r = (const Elf64_Rela *)(b->data + rs->sh_offset) + i;
			uint32_t type = ELF64_R_TYPE(r->r_info);
			uint64_t want, got;
			const Elf64_Sym *sym;
			const char *name;

			assert_true(r->r_offset + 8 <= img->size);
			memcpy(&got, img->buf + r->r_offset, 8);
			if (type == R_X86_64_RELATIVE) {
				want = base + (uint64_t)r->r_addend;
			} else {
				name = dynsym_name(b, ELF64_R_SYM(r->r_info), &sym);
				assert_int_equal(sym->st_shndx, SHN_UNDEF);
				want = strcmp(name, "fixture_weak") ? fake_addr(name) : 0;
				if (type == R_X86_64_64)
					want += (uint64_t)r->r_addend;
			}
			if (got != want)
				fail_msg("relocation %zu type %u at 0x%llx: 0x%llx, want 0x%llx", i,
					 type, (unsigned long long)r->r_offset,
					 (unsigned long long)got, (unsigned long long)want);
			assert_true(type < 16);
			count[type]++;
		}
	}
}

/* --- tests ----------------------------------------------------------------- */

static void test_stage1_image(void **state)
{
	struct blob b = blob_copy(stage1_blob, stage1_blob_end);
	size_t extra[2] = { 100000, 4096 };
	struct fake f = { 0 };
	struct stage1_image img;
	struct loader *l;
	unsigned count[16];
	const Elf64_Sym *s;
	size_t nload = 0;

	(void)state;
	assert_int_equal(loader__open(&l, b.data, b.len), 0);
	/* The imports are exactly the list in imports.h. */
	assert_int_equal(loader__nimports(l), ARRAY_SIZE(imports));
	for (size_t i = 0; i < ARRAY_SIZE(imports); i++) {
		bool found = false;

		for (size_t j = 0; j < loader__nimports(l); j++)
			found |= !strcmp(loader__import(l, j), imports[i]);
		if (!found)
			fail_msg("%s is listed but not imported", imports[i]);
	}
	assert_int_equal(loader__load(l, BASE, extra, 2, fake_resolve, &f, &img), 0);
	assert_int_equal(f.calls, ARRAY_SIZE(imports));
	assert_int_equal(img.gva, BASE);

	check_relocations(&b, &img, BASE, count);
	assert_int_equal(count[R_X86_64_GLOB_DAT], ARRAY_SIZE(imports));
	for (unsigned t = 0; t < 16; t++)
		if (t != R_X86_64_GLOB_DAT && t != R_X86_64_RELATIVE && t != R_X86_64_JUMP_SLOT &&
		    t != R_X86_64_64)
			assert_int_equal(count[t], 0);

	/* Segments: file bytes outside relocated words, zero BSS, protections. */
	for (const Elf64_Phdr *ph; (ph = load(&b, nload)); nload++) {
		const struct loader_area *a = &img.areas[nload];
		int prot = LOADER_PROT_R | (ph->p_flags & PF_W ? LOADER_PROT_W : 0) |
			   (ph->p_flags & PF_X ? LOADER_PROT_X : 0);

		assert_int_equal(a->gva, BASE + (ph->p_vaddr & ~0xfffULL));
		assert_int_equal(a->offset, ph->p_vaddr & ~0xfffULL);
		assert_true(a->size % 4096 == 0 &&
			    a->offset + a->size >= ph->p_vaddr + ph->p_memsz);
		assert_int_equal(a->prot, prot);
		assert_false((prot & LOADER_PROT_W) && (prot & LOADER_PROT_X));
		if (!(ph->p_flags & PF_W))
			assert_memory_equal(img.buf + ph->p_vaddr, b.data + ph->p_offset,
					    ph->p_filesz);
		for (uint64_t i = ph->p_filesz; i < ph->p_memsz; i++)
			assert_int_equal(img.buf[ph->p_vaddr + i], 0);
		if (nload)
			assert_true(a->gva >= img.areas[nload - 1].gva + img.areas[nload - 1].size);
	}
	assert_int_equal(img.nareas, nload + 2);
	assert_int_equal(img.nextra, 2);
	for (size_t i = 0; i < 2; i++) {
		const struct loader_area *a = &img.areas[nload + i];

		assert_int_equal(a->prot, LOADER_PROT_R);
		assert_int_equal(a->gva, img.extra_gva[i]);
		assert_int_equal(a->offset, img.extra_offset[i]);
		assert_true(a->size >= extra[i] && a->size % 4096 == 0);
		assert_true(a->offset >=
			    img.areas[nload + i - 1].offset + img.areas[nload + i - 1].size);
	}
	assert_int_equal(img.size,
			 img.areas[img.nareas - 1].offset + img.areas[img.nareas - 1].size);

	/* Entry and ABI where .symtab has them; IBT landing pads. */
	s = symbol(&b, SHT_SYMTAB, "stage1_entry");
	assert_non_null(s);
	assert_int_equal(img.entry_gva, BASE + s->st_value);
	assert_memory_equal(img.buf + s->st_value, "\xf3\x0f\x1e\xfa", 4);
	s = symbol(&b, SHT_SYMTAB, "stage1_worker");
	assert_non_null(s);
	assert_memory_equal(img.buf + s->st_value, "\xf3\x0f\x1e\xfa", 4);
	s = symbol(&b, SHT_SYMTAB, "stage1_abi");
	assert_non_null(s);
	assert_int_equal(img.abi_gva, BASE + s->st_value);
	assert_int_equal(img.abi_offset, s->st_value);
	assert_int_equal(loader__abi(&img)->magic, STAGE1_ABI_MAGIC);
	assert_int_equal(loader__abi(&img)->size, sizeof(struct stage1_abi));
	assert_int_equal(loader__abi(&img)->state, STAGE1_NONE);

	loader__image_free(&img);
	loader__close(l);
	free(b.data);
}

static void test_fixture_relocations(void **state)
{
	struct blob b = blob_copy(loader_fixture, loader_fixture_end);
	struct fake f = { 0 };
	struct stage1_image img;
	const Elf64_Sym *s, *local;
	struct loader *l;
	unsigned count[16];
	uint64_t v;

	(void)state;
	assert_int_equal(loader__open(&l, b.data, b.len), 0);
	assert_int_equal(loader__load(l, BASE, NULL, 0, fake_resolve, &f, &img), 0);
	check_relocations(&b, &img, BASE, count);
	assert_true(count[R_X86_64_RELATIVE] >= 3);
	assert_true(count[R_X86_64_64] >= 3);
	assert_true(count[R_X86_64_JUMP_SLOT] >= 1);
	assert_true(count[R_X86_64_GLOB_DAT] >= 1);

	/* By name: relative_ptrs[1] is &local[3]; abs_ptrs[1] fixture_data + 8. */
	s = symbol(&b, SHT_SYMTAB, "relative_ptrs");
	local = symbol(&b, SHT_SYMTAB, "local");
	assert_non_null(s);
	assert_non_null(local);
	memcpy(&v, img.buf + s->st_value + 8, 8);
	assert_int_equal(v, BASE + local->st_value + 12);
	s = symbol(&b, SHT_SYMTAB, "abs_ptrs");
	assert_non_null(s);
	memcpy(&v, img.buf + s->st_value + 8, 8);
	assert_int_equal(v, fake_addr("fixture_data") + 8);
	memcpy(&v, img.buf + s->st_value + 16, 8);
	assert_int_equal(v, 0); /* weak and missing */
	loader__image_free(&img);
	loader__close(l);
	free(b.data);
}

/* Run fn with stderr captured into out. */
static int capture_stderr(char *out, size_t len, int (*fn)(void *), void *arg)
{
	char path[] = "/tmp/vmsh-test-loader-XXXXXX";
	int fd = mkstemp(path), saved = dup(2), ret;
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	unlink(path);
	fflush(stderr);
	dup2(fd, 2);
	ret = fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, out, len - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	return ret;
}

static int load_with(void *arg)
{
	struct fake *f = arg;
	struct stage1_image img;
	struct loader *l;
	int ret;

	assert_int_equal(loader__open(&l, stage1_blob, (size_t)(stage1_blob_end - stage1_blob)), 0);
	ret = loader__load(l, BASE, NULL, 0, fake_resolve, f, &img);
	if (!ret)
		loader__image_free(&img);
	loader__close(l);
	return ret;
}

static void test_missing_import(void **state)
{
	struct fake f = { .missing = "kill_pid" };
	char msg[512];

	(void)state;
	assert_int_equal(capture_stderr(msg, sizeof(msg), load_with, &f), -ENOENT);
	assert_non_null(strstr(msg, "the guest kernel does not export kill_pid"));
	f = (struct fake){ .missing = "system_long_wq", .error = -EIO };
	assert_int_equal(capture_stderr(msg, sizeof(msg), load_with, &f), -EIO);
	assert_non_null(strstr(msg, "system_long_wq"));
	/* A weak import the guest lacks is fine: __request_module. */
	f = (struct fake){ .missing = "__request_module" };
	assert_int_equal(capture_stderr(msg, sizeof(msg), load_with, &f), 0);
}

/* Before 5.15 the kernel exports printk, not _printk: the loader links that. */
static void test_alternative_import(void **state)
{
	struct fake f = { .missing = "_printk" };
	struct stage1_image img;
	struct loader *l;
	char msg[512];

	(void)state;
	assert_string_equal(loader__alternative("_printk"), "printk");
	assert_null(loader__alternative("kill_pid"));
	assert_int_equal(loader__open(&l, stage1_blob, (size_t)(stage1_blob_end - stage1_blob)), 0);
	assert_int_equal(loader__load(l, BASE, NULL, 0, fake_resolve, &f, &img), 0);
	/* the GOT slot of _printk holds printk's address */
	{
		uint64_t want = fake_addr("printk");
		bool found = false;

		for (size_t off = 0; off + 8 <= img.size; off += 8)
			found |= !memcmp(img.buf + off, &want, 8);
		assert_true(found);
	}
	loader__image_free(&img);
	loader__close(l);
	/* neither: the message names both */
	f = (struct fake){ .missing = "_printk", .missing2 = "printk" };
	assert_int_equal(capture_stderr(msg, sizeof(msg), load_with, &f), -ENOENT);
	assert_non_null(strstr(msg, "exports neither _printk nor printk"));
}

/* Open and load; anything but a clean success or a negative errno fails. */
static int try_blob(const struct blob *b)
{
	struct fake f = { 0 };
	struct stage1_image img;
	struct loader *l;
	int ret = loader__open(&l, b->data, b->len);

	if (ret) {
		assert_true(ret < 0);
		assert_null(l);
		return ret;
	}
	ret = loader__load(l, BASE, NULL, 0, fake_resolve, &f, &img);
	assert_true(ret <= 0);
	if (!ret)
		loader__image_free(&img);
	loader__close(l);
	return ret;
}

static int devnull_stderr(void)
{
	int saved = dup(2), fd = open("/dev/null", O_WRONLY);

	fflush(stderr);
	dup2(fd, 2);
	close(fd);
	return saved;
}

static void restore_stderr(int saved)
{
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
}

static void test_corrupt(void **state)
{
	const size_t truncs[] = { 0, 1, 16, 63, 64, 200, 1000, 4096, 8192, 12000 };
	struct blob good = blob_copy(stage1_blob, stage1_blob_end);
	int saved = devnull_stderr();
	Elf64_Shdr *rela;

	(void)state;
	assert_non_null(load(&good, 3));
	for (size_t i = 0; i < ARRAY_SIZE(truncs) + 1; i++) {
		struct blob b = good;

		b.len = i < ARRAY_SIZE(truncs) ? truncs[i] : good.len - 1;
		if (b.len < good.len)
			assert_int_not_equal(try_blob(&b), 0);
	}
#define CORRUPT(what, expr)                                                                        \
	do {                                                                                       \
		struct blob b = blob_copy(good.data, good.data + good.len);                        \
		expr;                                                                              \
		if (!try_blob(&b))                                                                 \
			fail_msg("corrupt ELF accepted: %s", what);                                \
		free(b.data);                                                                      \
	} while (0)
	CORRUPT("bad magic", b.data[1] = 'X');
	CORRUPT("ELFCLASS32", b.data[EI_CLASS] = ELFCLASS32);
	CORRUPT("big endian", b.data[EI_DATA] = ELFDATA2MSB);
	CORRUPT("ET_EXEC", ((Elf64_Ehdr *)b.data)->e_type = ET_EXEC);
	CORRUPT("i386", ((Elf64_Ehdr *)b.data)->e_machine = EM_386);
	CORRUPT("phoff past the end", ((Elf64_Ehdr *)b.data)->e_phoff = b.len - 8);
	CORRUPT("phnum huge", ((Elf64_Ehdr *)b.data)->e_phnum = 0xfff0);
	CORRUPT("shoff past the end", ((Elf64_Ehdr *)b.data)->e_shoff = b.len);
	CORRUPT("shstrndx", ((Elf64_Ehdr *)b.data)->e_shstrndx = 0xfff0);
	CORRUPT("p_offset past the end", load(&b, 1)->p_offset = b.len + 0x1000);
	CORRUPT("p_filesz huge", load(&b, 1)->p_filesz = 1ULL << 62);
	CORRUPT("p_filesz > p_memsz", load(&b, 3)->p_filesz = load(&b, 3)->p_memsz + 1);
	CORRUPT("p_vaddr huge", load(&b, 3)->p_vaddr = 0xfffffffffffff000ULL);
	CORRUPT("overlapping segments", load(&b, 1)->p_vaddr = load(&b, 0)->p_vaddr);
	CORRUPT("unsorted segments", load(&b, 3)->p_vaddr = 0);
	CORRUPT("writable code", load(&b, 1)->p_flags |= PF_W);
	CORRUPT("no PT_LOAD",
		for (int i = 0; load(&b, 0) && i < 16; i++) load(&b, 0)->p_type = PT_NOTE);
	CORRUPT("section past the end", shdr(&b, 1)->sh_offset = b.len);
	rela = section_of_type(&good, SHT_RELA, 0);
	assert_non_null(rela);
#define RELA0(b) ((Elf64_Rela *)((b).data + rela->sh_offset))
	CORRUPT("relocation outside the image", RELA0(b)->r_offset = 0x100000);
	CORRUPT("relocation at the image's end",
		RELA0(b)->r_offset = load(&b, 3)->p_vaddr + load(&b, 3)->p_memsz - 4);
	CORRUPT("relocation of code", RELA0(b)->r_offset = load(&b, 1)->p_vaddr);
	CORRUPT("R_X86_64_PC32", RELA0(b)->r_info = ELF64_R_INFO(1, R_X86_64_PC32));
	CORRUPT("symbol index", RELA0(b)->r_info = ELF64_R_INFO(9999, R_X86_64_GLOB_DAT));
	CORRUPT("RELATIVE with a symbol", RELA0(b)->r_info = ELF64_R_INFO(1, R_X86_64_RELATIVE));
	CORRUPT("SHT_REL", shdr(&b, (size_t)(rela - shdr(&good, 0)))->sh_type = SHT_REL);
	CORRUPT("ABI magic", {
		const Elf64_Sym *s = symbol(&b, SHT_SYMTAB, "stage1_abi");
		const Elf64_Phdr *ph = load(&b, 3);

		b.data[ph->p_offset + (s->st_value - ph->p_vaddr)] ^= 1;
	});
	restore_stderr(saved);
	free(good.data);
}

/* Random damage to the headers and tables: never a crash (ASan). */
static void test_fuzz(void **state)
{
	struct blob good = blob_copy(stage1_blob, stage1_blob_end);
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	int saved = devnull_stderr(), ok = 0;

	(void)state;
	for (int iter = 0; iter < 3000; iter++) {
		struct blob b = blob_copy(good.data, good.data + good.len);

		for (int k = 0; k < 1 + iter % 4; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			/* Headers, .dynsym and .rela.dyn mostly; sometimes anywhere. */
			b.data[(x >> 8) % (iter % 5 ? 0x700 : b.len)] = (uint8_t)x;
		}
		ok += !try_blob(&b);
		free(b.data);
	}
	restore_stderr(saved);
	print_message("fuzz: %d of 3000 damaged blobs still loaded\n", ok);
	free(good.data);
}

static void test_set_args(void **state)
{
	char *argv[] = { "/dev/.vmsh-1", "--serial", "vmsh0", "--", "sh", NULL };
	char *envp[] = { "PATH=/bin", NULL };
	char *many[STAGE1_MAX_ARGV + 2], longarg[5000];
	size_t extra[2] = { 4096, 4096 };
	struct fake f = { 0 };
	struct stage1_image img;
	struct stage1_abi *abi;
	struct loader *l;

	(void)state;
	assert_int_equal(loader__open(&l, stage1_blob, (size_t)(stage1_blob_end - stage1_blob)), 0);
	assert_int_equal(loader__load(l, BASE, extra, 2, fake_resolve, &f, &img), 0);
	abi = loader__abi(&img);
	assert_int_equal(loader__set_args(&img, 1, argv, envp), 0);
	assert_int_equal(abi->argc, 5);
	assert_int_equal(abi->envc, 1);
	assert_int_equal(abi->strings_gva, img.extra_gva[1]);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal((char *)img.buf + img.extra_offset[1] + abi->argv[i], argv[i]);
	assert_string_equal((char *)img.buf + img.extra_offset[1] + abi->envp[0], envp[0]);

	for (size_t i = 0; i < ARRAY_SIZE(many); i++)
		many[i] = i + 1 < ARRAY_SIZE(many) ? "x" : NULL;
	assert_int_equal(loader__set_args(&img, 1, many, NULL), -E2BIG);
	memset(longarg, 'a', sizeof(longarg) - 1);
	longarg[sizeof(longarg) - 1] = '\0';
	argv[1] = longarg;
	assert_int_equal(loader__set_args(&img, 1, argv, NULL), -E2BIG);
	assert_int_equal(loader__set_args(&img, 2, argv, NULL), -EINVAL);
	loader__image_free(&img);
	loader__close(l);
}

static void test_work_data_init(void **state)
{
	uint64_t d;

	(void)state;
	assert_int_equal(loader__work_data_init("6.9.12-amd64", &d), 0);
	assert_int_equal(d, 0x7fffffffULL << 5);
	assert_int_equal(loader__work_data_init("Linux version 6.10.0 (gcc)", &d), 0);
	assert_int_equal(d, 0x7fffffffULL << 21);
	assert_int_equal(loader__work_data_init("7.0.1", &d), 0);
	assert_int_equal(d, 0x7fffffffULL << 21);
	assert_int_equal(loader__work_data_init("5.10.0-28-amd64", &d), 0);
	assert_int_equal(d, 0x7fffffffULL << 5);
	assert_int_equal(loader__work_data_init("4.19.0-27-amd64", &d), -ENOTSUP);
	assert_int_equal(loader__work_data_init("Linux version x", &d), -EINVAL);
}

/* test_loader_kernels.c */
#define KERNEL_TEST_DECL(test, kernel) void test(void **state);
KERNEL_IMAGES(KERNEL_TEST_DECL)
#define KERNEL_UNIT_TEST(test, kernel) cmocka_unit_test(test),

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stage1_image),   cmocka_unit_test(test_fixture_relocations),
		cmocka_unit_test(test_missing_import), cmocka_unit_test(test_alternative_import),
		cmocka_unit_test(test_corrupt),	       cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_set_args),       cmocka_unit_test(test_work_data_init),
		KERNEL_IMAGES(KERNEL_UNIT_TEST) /* test_debian_6_1 and the other kernels */
	};

	if (getenv("VMSH_TEST_VERBOSE"))
		vmsh_verbose = atoi(getenv("VMSH_TEST_VERBOSE"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
