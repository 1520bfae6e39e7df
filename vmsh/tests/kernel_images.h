/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Real guest kernels from the lab cache, unpacked for tests: the bzImages
 * lab/lab prepare downloads (lab/lib/kernels.sh) turned into their vmlinux
 * ELF, read with plain Elf64 structs so that the expected values of a test
 * never come from the code under test. Shared by test_kernel_image.c
 * (guest__find_kernel) and test_loader_kernels.c (stage1's imports).
 *
 * Errors are cmocka failures, so call these only from inside a test. A
 * missing kernel or decompressor is not an error: the caller skips, after
 * the reason has been printed.
 */
#ifndef VMSH_TESTS_KERNEL_IMAGES_H
#define VMSH_TESTS_KERNEL_IMAGES_H

#include <elf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One test per kernel in the cache (LAB_KERNELS in lab/lib/kernels.sh):
 * X(cmocka test function, directory under kernels/). A single list, so
 * that a kernel the lab adds is tested by every user.
 */
#define KERNEL_IMAGES(X)                                                                           \
	X(test_debian_6_1, "6.1")                                                                  \
	X(test_debian_6_1_cloud, "6.1-cloud")                                                      \
	X(test_debian_6_12, "6.12")                                                                \
	X(test_debian_5_10, "5.10")                                                                \
	X(test_debian_6_1_rt, "6.1-rt")                                                            \
	X(test_debian_sid, "sid")

struct blob {
	uint8_t *data;
	size_t len;
};

void blob__free(struct blob *b);
/* The whole file; false (b empty) when it cannot be read. */
bool blob__read_file(const char *path, struct blob *b);

/* $LAB_CACHE, or the lab's default. */
const char *kernel_images__cache_dir(void);
/*
 * kernels/<kernel>/vmlinuz unpacked to its vmlinux; false (after printing
 * why the test skips) when the kernel or the decompressor is missing here.
 */
bool kernel_images__vmlinux(const char *kernel, struct blob *out);
/*
 * The first line of kernels/<kernel>/version ("6.1.0-56-amd64"), "" when
 * it is empty; false when there is no such file.
 */
bool kernel_images__release(const char *kernel, char *out, size_t outlen);

/* A vmlinux whose headers and PT_LOAD segments were checked by elf__open(). */
struct elf {
	const struct blob *b;
	const Elf64_Ehdr *eh;
};

void elf__open(struct elf *e, const struct blob *b);
const Elf64_Phdr *elf__phdr(const struct elf *e, size_t i);
/* The section header, its bytes checked to be in the file, or NULL. */
const Elf64_Shdr *elf__section(const struct elf *e, const char *name);
/* File bytes at a link-time virtual address; fails the test when not loaded. */
const uint8_t *elf__at(const struct elf *e, uint64_t va, size_t len);
/*
 * The 12-byte __ksymtab / __ksymtab_gpl entry at va (5.4+: PREL32 offsets
 * to the value and the name, then the namespace): its name, and in *addr
 * the link address of the symbol.
 */
const char *elf__ksym(const struct elf *e, uint64_t va, uint64_t *addr);

#endif
