// SPDX-License-Identifier: GPL-2.0
/*
 * Real guest kernels from the lab cache, unpacked for tests (see
 * kernel_images.h). The payload is decompressed by the xz / lz4 / zstd /
 * gzip / bzip2 command line tools, which keeps the tests free of
 * compression libraries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel_images.h"
#include "util.h"

/* Bounds what a damaged image or a runaway decompressor can make us allocate. */
#define VMLINUX_MAX (1ULL << 30)

void blob__free(struct blob *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

/* All of f, for files and decompressors' pipes alike. */
static bool read_stream(FILE *f, struct blob *b)
{
	size_t cap = 1 << 20;

	b->len = 0;
	b->data = malloc(cap);
	if (!b->data)
		goto err;
	for (;;) {
		size_t n;

		if (b->len == cap) {
			uint8_t *p;

			if (cap >= VMLINUX_MAX)
				goto err;
			p = realloc(b->data, cap * 2);
			if (!p)
				goto err;
			b->data = p;
			cap *= 2;
		}
		n = fread(b->data + b->len, 1, cap - b->len, f);
		if (!n)
			break;
		b->len += n;
	}
	if (ferror(f))
		goto err;
	return true;
err:
	blob__free(b);
	return false;
}

bool blob__read_file(const char *path, struct blob *b)
{
	FILE *f = fopen(path, "rb");
	bool ok;

	if (!f) {
		b->data = NULL;
		b->len = 0;
		return false;
	}
	ok = read_stream(f, b);
	fclose(f);
	return ok;
}

const char *kernel_images__cache_dir(void)
{
	const char *d = getenv("LAB_CACHE");

	return d && *d ? d : "/var/cache/vmsh-lab";
}

/*
 * The bzImage's protected-mode part holds the compressed vmlinux at
 * payload_offset (boot protocol 2.08+), followed by its 4-byte size.
 */
bool kernel_images__vmlinux(const char *kernel, struct blob *out)
{
	static const struct {
		const char *magic;
		size_t len;
		const char *tool;
	} fmts[] = {
		{ "\xfd"
		  "7zXZ\0",
		  6, "xz -dc" },
		{ "\x02\x21\x4c\x18", 4, "lz4 -dc" },
		{ "\x28\xb5\x2f\xfd", 4, "zstd -dc" },
		{ "\x1f\x8b", 2, "gzip -dc" },
		{ "BZh", 3, "bzip2 -dc" },
	};
	char path[512], tmp[] = "/tmp/vmsh-test-payload-XXXXXX", cmd[700];
	struct blob bz = { 0 };
	const char *tool = NULL;
	uint32_t off, len;
	size_t start, setup_sects;
	FILE *p = NULL;
	int fd = -1, status;
	bool ok = false;

	snprintf(path, sizeof(path), "%s/kernels/%s/vmlinuz", kernel_images__cache_dir(), kernel);
	if (access(path, R_OK)) {
		print_message("# skipping: %s is missing (run lab/lab prepare)\n", path);
		return false;
	}
	assert_true(blob__read_file(path, &bz));
	assert_true(bz.len > 0x250);
	assert_memory_equal(bz.data + 0x202, "HdrS", 4);
	setup_sects = bz.data[0x1f1] ? bz.data[0x1f1] : 4;
	memcpy(&off, bz.data + 0x248, 4);
	memcpy(&len, bz.data + 0x24c, 4);
	start = (setup_sects + 1) * 512 + off;
	assert_true(len > 4 && start < bz.len && len <= bz.len - start);
	for (size_t i = 0; i < ARRAY_SIZE(fmts); i++)
		if (!memcmp(bz.data + start, fmts[i].magic, fmts[i].len))
			tool = fmts[i].tool;
	if (!tool) {
		print_message("# skipping: unknown compression in %s\n", path);
		goto out;
	}

	fd = mkstemp(tmp);
	assert_true(fd >= 0);
	/* Without the trailing size, which the tools take for garbage. */
	assert_int_equal(write(fd, bz.data + start, len - 4), (ssize_t)(len - 4));
	close(fd);
	snprintf(cmd, sizeof(cmd), "%s < '%s' 2>/dev/null", tool, tmp);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_true(read_stream(p, out));
	status = pclose(p);
	/* The shell's "command not found": this host cannot unpack it. */
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		print_message("# skipping: '%s' is not installed\n", tool);
		blob__free(out);
		goto out;
	}
	assert_int_equal(status, 0);
	ok = true;
out:
	if (fd >= 0)
		unlink(tmp);
	blob__free(&bz);
	return ok;
}

bool kernel_images__release(const char *kernel, char *out, size_t outlen)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/kernels/%s/version", kernel_images__cache_dir(), kernel);
	f = fopen(path, "r");
	if (!f)
		return false;
	/* An empty file gives "", which the callers' checks then reject. */
	if (!fgets(out, (int)outlen, f))
		out[0] = '\0';
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
	return true;
}

const Elf64_Phdr *elf__phdr(const struct elf *e, size_t i)
{
	return (const Elf64_Phdr *)(e->b->data + e->eh->e_phoff + i * sizeof(Elf64_Phdr));
}

static const Elf64_Shdr *elf__shdr(const struct elf *e, size_t i)
{
	return (const Elf64_Shdr *)(e->b->data + e->eh->e_shoff + i * sizeof(Elf64_Shdr));
}

/* Checked once here, so that the lookups below can trust the headers. */
void elf__open(struct elf *e, const struct blob *b)
{
	e->b = b;
	e->eh = (const Elf64_Ehdr *)b->data;
	assert_true(b->len > sizeof(Elf64_Ehdr));
	assert_memory_equal(e->eh->e_ident, ELFMAG, SELFMAG);
	assert_int_equal(e->eh->e_ident[EI_CLASS], ELFCLASS64);
	assert_int_equal(e->eh->e_machine, EM_X86_64);
	assert_true(e->eh->e_phoff < b->len &&
		    e->eh->e_phnum * sizeof(Elf64_Phdr) <= b->len - e->eh->e_phoff);
	assert_true(e->eh->e_shoff < b->len &&
		    e->eh->e_shnum * sizeof(Elf64_Shdr) <= b->len - e->eh->e_shoff);
	assert_true(e->eh->e_shstrndx < e->eh->e_shnum);
	for (size_t i = 0; i < e->eh->e_phnum; i++) {
		const Elf64_Phdr *ph = elf__phdr(e, i);

		if (ph->p_type == PT_LOAD)
			assert_true(ph->p_offset <= b->len &&
				    ph->p_filesz <= b->len - ph->p_offset);
	}
}

const Elf64_Shdr *elf__section(const struct elf *e, const char *name)
{
	const Elf64_Shdr *strtab = elf__shdr(e, e->eh->e_shstrndx);

	for (size_t i = 0; i < e->eh->e_shnum; i++) {
		const Elf64_Shdr *sh = elf__shdr(e, i);

		if (sh->sh_name < strtab->sh_size &&
		    !strcmp((const char *)e->b->data + strtab->sh_offset + sh->sh_name, name)) {
			assert_true(sh->sh_offset <= e->b->len &&
				    sh->sh_size <= e->b->len - sh->sh_offset);
			return sh;
		}
	}
	return NULL;
}

const uint8_t *elf__at(const struct elf *e, uint64_t va, size_t len)
{
	for (size_t i = 0; i < e->eh->e_phnum; i++) {
		const Elf64_Phdr *ph = elf__phdr(e, i);

		if (ph->p_type == PT_LOAD && va >= ph->p_vaddr && va - ph->p_vaddr < ph->p_filesz &&
		    len <= ph->p_filesz - (va - ph->p_vaddr))
			return e->b->data + ph->p_offset + (va - ph->p_vaddr);
	}
	fail_msg("0x%llx is not in the image", (unsigned long long)va);
	return NULL;
}

const char *elf__ksym(const struct elf *e, uint64_t va, uint64_t *addr)
{
	const uint8_t *ent = elf__at(e, va, 12);
	int32_t voff, noff;

	memcpy(&voff, ent, 4);
	memcpy(&noff, ent + 4, 4);
	*addr = va + (uint64_t)(int64_t)voff;
	return (const char *)elf__at(e, va + 4 + (uint64_t)(int64_t)noff, 1);
}
