// SPDX-License-Identifier: GPL-2.0
/*
 * vmsh coredump's file format (coredump.h): the layout, the headers and
 * notes as a reader parses them, sparse writes into a temp file, and the
 * VMCOREINFO search in fake guest memory (a malloc'd buffer behind three
 * memslots), with malformed and out-of-bounds notes.
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
#include <sys/procfs.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coredump.h"
#include "util.h"

#define PG CORE_PAGE_SIZE
#define HV_BASE 0x7f0000000000ULL
#define HV_SIZE 0x300000ULL

/* gpa [0, 1M) and [1M, 2M) adjacent, a hole, then [4M, 5M) */
static const struct memslot slots[] = {
	{ .id = 0, .gpa = 0x000000, .size = 0x100000, .hva = HV_BASE + 0x100000 },
	{ .id = 1, .gpa = 0x100000, .size = 0x100000, .hva = HV_BASE + 0x000000 },
	{ .id = 2, .gpa = 0x400000, .size = 0x100000, .hva = HV_BASE + 0x200000 },
};

static uint8_t *hvmem;
static struct guest_mem gm;

static int fake_read_hva(void *ctx, uint64_t hva, void *buf, size_t len)
{
	(void)ctx;
	if (hva < HV_BASE || hva - HV_BASE > HV_SIZE || len > HV_SIZE - (hva - HV_BASE))
		return -EFAULT;
	memcpy(buf, hvmem + (hva - HV_BASE), len);
	return 0;
}

static uint8_t *gpa_ptr(uint64_t gpa)
{
	for (size_t i = 0; i < ARRAY_SIZE(slots); i++)
		if (gpa >= slots[i].gpa && gpa < slots[i].gpa + slots[i].size)
			return hvmem + (slots[i].hva - HV_BASE) + (gpa - slots[i].gpa);
	fail_msg("test bug: gpa 0x%llx outside RAM", (unsigned long long)gpa);
	return NULL;
}

static int setup(void **state)
{
	(void)state;
	hvmem = calloc(1, HV_SIZE);
	gm = (struct guest_mem){ .slots = slots,
				 .nslots = ARRAY_SIZE(slots),
				 .read_hva = fake_read_hva };
	return hvmem ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(hvmem);
	return 0;
}

/* A VMCOREINFO note as the kernel writes it; its padded length. */
static size_t make_note(uint8_t *p, uint32_t namesz, const char *name, uint32_t type,
			const char *text)
{
	Elf64_Nhdr h = { .n_namesz = namesz, .n_descsz = (uint32_t)strlen(text), .n_type = type };

	memcpy(p, &h, sizeof(h));
	memcpy(p + 12, name, strlen(name) + 1);
	memcpy(p + 24, text, strlen(text));
	return 24 + ((strlen(text) + 3) & ~3ul);
}

#define TEXT_61 "OSRELEASE=6.1.0-27-cloud-amd64\nBUILD-ID=abcd\nPAGESIZE=4096\n"
#define TEXT_612 "OSRELEASE=6.12.9-amd64\nPAGESIZE=4096\nSYMBOL(swapper_pg_dir)=ffffffff\n"

static void test_sizes(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct elf_prstatus), CORE_PRSTATUS_SIZE);
	assert_int_equal(offsetof(struct elf_prstatus, pr_pid), 32);
	assert_int_equal(offsetof(struct elf_prstatus, pr_reg), 112);
	assert_int_equal(CORE_PRSTATUS_NOTE_SIZE, 356);
	assert_int_equal(CORE_QEMU_NOTE_SIZE, 460);
	assert_int_equal(CORE_VMCOREINFO_MAX, 4120);
}

static void test_layout(void **state)
{
	struct core_load loads[3] = { { .gpa = 0, .size = 0xa0000 },
				      { .gpa = 0x100000, .size = 0x7ff00000 },
				      { .gpa = 0x100000000ull, .size = 0x40000000 } };
	struct core_layout l;

	(void)state;
	assert_int_equal(core__layout(&l, 2, loads, 3), 0);
	assert_int_equal(l.phoff, 64);
	assert_int_equal(l.note_off, 64 + 5 * 56); /* PT_NOTE, kernel image, 3 RAM */
	assert_int_equal(l.note_max, 2 * (356 + 460) + 4120);
	assert_int_equal(l.data_off % PG, 0);
	assert_true(l.data_off >= l.note_off + l.note_max);
	assert_int_equal(loads[0].offset, l.data_off);
	assert_int_equal(loads[1].offset, l.data_off + 0xa0000);
	assert_int_equal(loads[2].offset, loads[1].offset + 0x7ff00000);
	assert_int_equal(l.file_size, loads[2].offset + 0x40000000);

	/* unaligned slots, overflow, too many loads */
	loads[1].size = 0x1234;
	assert_int_equal(core__layout(&l, 2, loads, 3), -EINVAL);
	loads[1].size = 0x1000;
	loads[2].size = UINT64_MAX & ~0xfffull;
	assert_int_equal(core__layout(&l, 2, loads, 3), -EINVAL);
	assert_int_equal(core__layout(&l, 1, loads, CORE_MAX_LOADS + 1), -EINVAL);
}

static void fill_vcpu(struct core_vcpu *v, uint64_t seed)
{
	memset(v, 0, sizeof(*v));
	v->regs.rip = 0xffffffff81000000ull + seed;
	v->regs.rsp = 0xffffc90000000000ull + seed;
	v->regs.rax = seed;
	v->regs.r15 = seed + 15;
	v->regs.rflags = 0x246;
	v->sregs.cs = (struct kvm_segment){ .selector = 0x10,
					    .type = 11,
					    .present = 1,
					    .s = 1,
					    .l = 1,
					    .g = 1,
					    .limit = 0xffffffff };
	v->sregs.ss.selector = 0x18;
	v->sregs.gs.base = 0xffff888000000000ull + seed;
	v->sregs.cr0 = 0x80050033;
	v->sregs.cr3 = 0x1000000 + seed * PG;
	v->sregs.cr4 = 0x3506f0;
	v->sregs.gdt = (struct kvm_dtable){ .base = 0xfffffe0000001000ull, .limit = 0x7f };
	v->sregs.idt = (struct kvm_dtable){ .base = 0xfffffe0000000000ull, .limit = 0xfff };
	v->kernel_gs_base = 0x7f00 + seed;
}

/* Parse buf as a reader would: notes in order, program headers. */
static void test_headers(void **state)
{
	struct core_load loads[2] = { { .gpa = 0, .size = 0x9f000, .vaddr = 0xffff888000000000ull },
				      { .gpa = 0x100000, .size = 0x100000 } };
	struct core_vcpu v[2];
	struct core_layout l;
	uint8_t vmci[CORE_VMCOREINFO_MAX] = { 0 }, *buf;
	size_t vmci_len = make_note(vmci, 11, "VMCOREINFO", 0, TEXT_61);
	struct core_load kimage;
	Elf64_Ehdr eh;
	Elf64_Phdr ph[4];
	ssize_t n;
	size_t off, k = 0;

	(void)state;
	fill_vcpu(&v[0], 1);
	fill_vcpu(&v[1], 2);
	assert_int_equal(core__layout(&l, 2, loads, 2), 0);
	assert_int_equal(core__kernel_load(&l, loads, 0xffffffff81000000ull, 0x180000, &kimage), 0);
	buf = calloc(1, l.note_off + l.note_max);
	assert_non_null(buf);
	assert_int_equal(core__headers(&l, v, loads, &kimage, vmci, vmci_len, buf, 10), -EINVAL);
	n = core__headers(&l, v, loads, &kimage, vmci, vmci_len, buf, l.note_off + l.note_max);
	assert_int_equal(n, l.note_off + 2 * 356 + 2 * 460 + vmci_len);

	memcpy(&eh, buf, sizeof(eh));
	assert_memory_equal(eh.e_ident, ELFMAG, SELFMAG);
	assert_int_equal(eh.e_ident[EI_CLASS], ELFCLASS64);
	assert_int_equal(eh.e_type, ET_CORE);
	assert_int_equal(eh.e_machine, EM_X86_64);
	assert_int_equal(eh.e_phnum, 4);
	assert_int_equal(eh.e_phentsize, sizeof(Elf64_Phdr));
	memcpy(ph, buf + eh.e_phoff, sizeof(ph));
	assert_int_equal(ph[0].p_type, PT_NOTE);
	assert_int_equal(ph[0].p_offset, l.note_off);
	assert_int_equal(ph[0].p_offset + ph[0].p_filesz, (uint64_t)n);
	/* the kernel image first, its data inside the second RAM range's */
	assert_int_equal(ph[1].p_type, PT_LOAD);
	assert_int_equal(ph[1].p_vaddr, 0xffffffff81000000ull);
	assert_int_equal(ph[1].p_paddr, 0x180000);
	assert_int_equal(ph[1].p_filesz, 0x80000);
	assert_int_equal(ph[1].p_offset, loads[1].offset + 0x80000);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ph[2 + i].p_type, PT_LOAD);
		assert_int_equal(ph[2 + i].p_paddr, loads[i].gpa);
		assert_int_equal(ph[2 + i].p_vaddr, loads[i].vaddr);
		assert_int_equal(ph[2 + i].p_filesz, loads[i].size);
		assert_int_equal(ph[2 + i].p_memsz, loads[i].size);
		assert_int_equal(ph[2 + i].p_offset, loads[i].offset);
		assert_int_equal(ph[2 + i].p_offset % PG, 0);
	}

	/* the notes: CORE x2, QEMU x2, VMCOREINFO */
	for (off = ph[0].p_offset; off < ph[0].p_offset + ph[0].p_filesz; k++) {
		Elf64_Nhdr h;
		const uint8_t *name, *desc;

		memcpy(&h, buf + off, sizeof(h));
		name = buf + off + 12;
		desc = name + ((h.n_namesz + 3) & ~3u);
		if (k < 2) {
			struct elf_prstatus p;
			assert_int_equal(h.n_type, NT_PRSTATUS);
			assert_int_equal(h.n_namesz, 5);
			assert_string_equal((const char *)name, "CORE");
			assert_int_equal(h.n_descsz, sizeof(p));
			memcpy(&p, desc, sizeof(p));
			assert_int_equal(p.pr_pid, k + 1);
			/* user_regs_struct order: r15 first, rip 16th, gs_base 22nd */
			assert_int_equal(p.pr_reg[0], v[k].regs.r15);
			assert_int_equal(p.pr_reg[16], v[k].regs.rip);
			assert_int_equal(p.pr_reg[17], 0x10);
			assert_int_equal(p.pr_reg[19], v[k].regs.rsp);
			assert_int_equal(p.pr_reg[22], v[k].sregs.gs.base);
		} else if (k < 4) {
			uint32_t ver, size, flags;
			uint64_t rip, cr3, idt, kgs;
			assert_int_equal(h.n_type, 0);
			assert_string_equal((const char *)name, "QEMU");
			assert_int_equal(h.n_descsz, CORE_QEMU_STATE_SIZE);
			memcpy(&ver, desc, 4);
			memcpy(&size, desc + 4, 4);
			memcpy(&rip, desc + 8 + 16 * 8, 8);
			/* cs: selector, limit, flags */
			memcpy(&flags, desc + 8 + 18 * 8 + 8, 4);
			memcpy(&idt, desc + 8 + 18 * 8 + 9 * 24 + 16, 8);
			memcpy(&cr3, desc + 8 + 18 * 8 + 10 * 24 + 3 * 8, 8);
			memcpy(&kgs, desc + 8 + 18 * 8 + 10 * 24 + 5 * 8, 8);
			assert_int_equal(ver, 1);
			assert_int_equal(size, CORE_QEMU_STATE_SIZE);
			assert_int_equal(rip, v[k - 2].regs.rip);
			/* type 11, S, P, L, G as QEMU's DESC_* bits */
			assert_int_equal(flags, 11 << 8 | 1 << 12 | 1 << 15 | 1 << 21 | 1 << 23);
			assert_int_equal(idt, 0xfffffe0000000000ull);
			assert_int_equal(cr3, v[k - 2].sregs.cr3);
			assert_int_equal(kgs, v[k - 2].kernel_gs_base);
		} else {
			assert_string_equal((const char *)name, "VMCOREINFO");
			assert_int_equal(h.n_descsz, strlen(TEXT_61));
			assert_memory_equal(desc, TEXT_61, strlen(TEXT_61));
		}
		off += 12 + ((h.n_namesz + 3) & ~3u) + ((h.n_descsz + 3) & ~3u);
	}
	assert_int_equal(k, 5);
	assert_int_equal(off, (size_t)n);

	/* no VMCOREINFO: the notes end after the QEMU ones */
	memset(buf, 0, l.note_off + l.note_max);
	n = core__headers(&l, v, loads, NULL, NULL, 0, buf, l.note_off + l.note_max);
	assert_int_equal(n, l.note_off + 2 * 356 + 2 * 460);
	/* no kernel image: the RAM ranges follow PT_NOTE */
	memcpy(&eh, buf, sizeof(eh));
	assert_int_equal(eh.e_phnum, 3);
	memcpy(ph, buf + eh.e_phoff, sizeof(ph));
	assert_int_equal(ph[1].p_paddr, loads[0].gpa);
	/* an oversized or unaligned note is refused */
	assert_int_equal(core__headers(&l, v, loads, NULL, vmci, CORE_VMCOREINFO_MAX + 4, buf,
				       l.note_off + l.note_max),
			 -EINVAL);
	assert_int_equal(core__headers(&l, v, loads, NULL, vmci, 5, buf, l.note_off + l.note_max),
			 -EINVAL);
	free(buf);
}

static void test_kernel_load(void **state)
{
	struct core_load loads[2] = { { .gpa = 0, .size = 0x9f000 },
				      { .gpa = 0x100000, .size = 0x7ff00000 } };
	struct core_layout l;
	struct core_load k;

	(void)state;
	assert_int_equal(core__layout(&l, 1, loads, 2), 0);
	/* cut to the RAM range */
	assert_int_equal(core__kernel_load(&l, loads, 0xffffffff81000000ull, 0x7f000000, &k), 0);
	assert_int_equal(k.size, 0x1000000);
	assert_int_equal(k.offset, loads[1].offset + 0x7ef00000);
	/* cut to the kernel's window (ends at 0xffffffffc0000000) */
	assert_int_equal(core__kernel_load(&l, loads, 0xffffffffbf000000ull, 0x1000000, &k), 0);
	assert_int_equal(k.size, 0x1000000);
	/* outside RAM, unaligned, outside the window */
	assert_int_equal(core__kernel_load(&l, loads, 0xffffffff81000000ull, 0x9f000, &k), -ENOENT);
	assert_int_equal(core__kernel_load(&l, loads, 0xffffffff81000000ull, 0x80000000ull, &k),
			 -ENOENT);
	assert_int_equal(core__kernel_load(&l, loads, 0xffffffff81000010ull, 0x1000000, &k),
			 -EINVAL);
	assert_int_equal(core__kernel_load(&l, loads, 0xffffffffc0000000ull, 0x1000000, &k),
			 -EINVAL);
	assert_int_equal(core__kernel_load(&l, loads, 0xffff888000000000ull, 0x1000000, &k),
			 -EINVAL);
}

static void test_zero(void **state)
{
	uint8_t b[PG + 7] = { 0 };

	(void)state;
	assert_true(core__is_zero(b, sizeof(b)));
	assert_true(core__is_zero(b, 0));
	b[PG + 6] = 1;
	assert_false(core__is_zero(b, sizeof(b)));
	b[PG + 6] = 0;
	b[63] = 0x80;
	assert_false(core__is_zero(b, sizeof(b)));
	assert_true(core__is_zero(b + 64, sizeof(b) - 64));
}

/* Pages 1, 4 and 5 of 8 have data: holes elsewhere, the same bytes read back. */
static void test_sparse(void **state)
{
	char path[] = "/tmp/vmsh-test-core-XXXXXX";
	const size_t len = 8 * PG;
	uint8_t *buf = calloc(1, len), *back = malloc(len);
	uint64_t written = 0, base = 3 * PG;
	struct stat st;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	assert_non_null(buf);
	assert_non_null(back);
	memset(buf + 1 * PG, 0xaa, PG);
	buf[4 * PG + 100] = 1;
	buf[6 * PG - 1] = 2;
	assert_int_equal(ftruncate(fd, (off_t)(base + len)), 0);
	assert_int_equal(core__write_sparse(fd, base, buf, len, &written), 0);
	assert_int_equal(written, 3 * PG);
	assert_int_equal(pread(fd, back, len, (off_t)base), (ssize_t)len);
	assert_memory_equal(back, buf, len);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, base + len);
	/* 3 data pages (a file system may round up to its block size) */
	assert_true((uint64_t)st.st_blocks * 512 <= 4 * PG);
	/* the first data is the first non-zero page, as the file system sees it */
	assert_int_equal(lseek(fd, 0, SEEK_DATA), (off_t)(base + PG));
	assert_int_equal(lseek(fd, (off_t)(base + 2 * PG), SEEK_DATA), (off_t)(base + 4 * PG));
	assert_int_equal(lseek(fd, (off_t)(base + 4 * PG), SEEK_HOLE), (off_t)(base + 6 * PG));

	/* a tail shorter than a page is written or skipped the same way */
	written = 0;
	assert_int_equal(core__write_sparse(fd, base, buf + PG, PG + 100, &written), 0);
	assert_int_equal(written, PG);
	/* a bad fd is an error, not a crash */
	assert_int_equal(core__write_sparse(-1, 0, buf + PG, PG, &written), -EBADF);
	close(fd);
	free(buf);
	free(back);
}

static void test_vmci_check(void **state)
{
	uint8_t p[2 * PG] = { 0 };
	size_t n = make_note(p, 11, "VMCOREINFO", 0, TEXT_61);

	(void)state;
	assert_int_equal(core__vmci_check(p, sizeof(p)), (ssize_t)n);
	assert_int_equal(core__vmci_check(p, n), (ssize_t)n);
	assert_int_equal(core__vmci_check(p, n - 1), -EINVAL); /* runs past the buffer */
	assert_int_equal(core__vmci_check(p, 20), -EINVAL);
	p[30] = 0x01; /* not text */
	assert_int_equal(core__vmci_check(p, sizeof(p)), -EINVAL);

	memset(p, 0, sizeof(p));
	make_note(p, 11, "VMCOREINFO", 1, TEXT_61); /* wrong type */
	assert_int_equal(core__vmci_check(p, sizeof(p)), -EINVAL);
	memset(p, 0, sizeof(p));
	make_note(p, 12, "VMCOREINFO", 0, TEXT_61); /* wrong name size */
	assert_int_equal(core__vmci_check(p, sizeof(p)), -EINVAL);
	memset(p, 0, sizeof(p));
	make_note(p, 11, "VMCOREINFX", 0, TEXT_61);
	assert_int_equal(core__vmci_check(p, sizeof(p)), -EINVAL);
	memset(p, 0, sizeof(p));
	make_note(p, 11, "VMCOREINFO", 0, "PAGESIZE=4096\nOSRELEASE=6.1\n");
	assert_int_equal(core__vmci_check(p, sizeof(p)), -EINVAL);
	/* a text size past the kernel's one page */
	memset(p, 0, sizeof(p));
	make_note(p, 11, "VMCOREINFO", 0, TEXT_61);
	((Elf64_Nhdr *)p)->n_descsz = CORE_VMCOREINFO_TEXT_MAX + 4;
	assert_int_equal(core__vmci_check(p, sizeof(p)), -EINVAL);
	((Elf64_Nhdr *)p)->n_descsz = 0xffffffff;
	assert_int_equal(core__vmci_check(p, sizeof(p)), -EINVAL);
}

/*
 * Guest RAM with decoys (a malformed note, one whose text size runs past
 * the end of RAM, one of another release) and the real note; the scan finds
 * the good ones and pick prefers the running kernel's release.
 */
static void test_vmci_scan(void **state)
{
	struct core_vmci *s = calloc(1, sizeof(*s));
	uint8_t *p;
	size_t n61;
	int i;

	(void)state;
	assert_non_null(s);
	/* nothing in zeroed RAM */
	assert_int_equal(core__vmci_scan(s, &gm), 0);
	assert_int_equal(s->ncand, 0);
	assert_int_equal(core__vmci_pick(s, NULL), -1);

	/* a decoy: the header, but binary text */
	p = gpa_ptr(0x2000);
	make_note(p, 11, "VMCOREINFO", 0, "OSRELEASE=\x01\x02");
	/* another release first, in slot 0 */
	make_note(gpa_ptr(0x5000), 11, "VMCOREINFO", 0, TEXT_612);
	/* not page-aligned: never looked at */
	make_note(gpa_ptr(0x7010), 11, "VMCOREINFO", 0, TEXT_61);
	/* the last page of RAM, the text size running past its end */
	p = gpa_ptr(0x4ff000);
	make_note(p, 11, "VMCOREINFO", 0, TEXT_61);
	((Elf64_Nhdr *)p)->n_descsz = 4090;
	memset(p + 24 + strlen(TEXT_61), 'x', PG - 24 - strlen(TEXT_61));
	/* the real one, on the last page before the hole */
	n61 = make_note(gpa_ptr(0x1ff000), 11, "VMCOREINFO", 0, TEXT_61);
	/* and one that crosses from slot 0 into slot 1 (adjacent in the guest) */
	p = gpa_ptr(0xff000);
	make_note(p, 11, "VMCOREINFO", 0, TEXT_612);
	((Elf64_Nhdr *)p)->n_descsz = PG; /* runs 24 bytes into gpa 0x100000 */
	memset(p + 24 + strlen(TEXT_612), 'y', PG - 24 - strlen(TEXT_612));
	memset(gpa_ptr(0x100000), 'y', 24);

	assert_int_equal(core__vmci_scan(s, &gm), 0);
	assert_int_equal(s->seen, 3);
	assert_int_equal(s->ncand, 3);
	assert_int_equal(s->cand[0].gpa, 0x5000);
	assert_int_equal(s->cand[1].gpa, 0xff000);
	assert_int_equal(s->cand[1].len, 24 + PG);
	assert_int_equal(s->cand[2].gpa, 0x1ff000);
	assert_int_equal(s->cand[2].len, n61);
	/* the running kernel's release wins; else the first */
	i = core__vmci_pick(s, "6.1.0-27-cloud-amd64");
	assert_int_equal(s->cand[i].gpa, 0x1ff000);
	i = core__vmci_pick(s, "6.12.9-amd64");
	assert_int_equal(s->cand[i].gpa, 0x5000);
	assert_int_equal(core__vmci_pick(s, "6.1.0"), 0); /* a prefix is not a match */
	assert_int_equal(core__vmci_pick(s, NULL), 0);

	/* more candidates than kept: counted, not stored */
	for (uint64_t g = 0x400000; g < 0x404000; g += PG)
		make_note(gpa_ptr(g), 11, "VMCOREINFO", 0, TEXT_61);
	memset(s, 0, sizeof(*s));
	assert_int_equal(core__vmci_scan(s, &gm), 0);
	assert_int_equal(s->seen, 7);
	assert_int_equal(s->ncand, CORE_VMCI_CANDIDATES);
	free(s);
}

/* The copy's path: a page handed over with fewer than 24 bytes is ignored. */
static void test_vmci_page_short(void **state)
{
	struct core_vmci s = { 0 };
	uint8_t *p = gpa_ptr(0x3000);

	(void)state;
	make_note(p, 11, "VMCOREINFO", 0, TEXT_61);
	core__vmci_page(&s, &gm, 0x3000, p, 23);
	assert_int_equal(s.seen, 0);
	core__vmci_page(&s, &gm, 0x3000, p, 24);
	assert_int_equal(s.seen, 1);
	/* a gpa outside RAM: the full read fails, nothing kept */
	core__vmci_page(&s, &gm, 0x300000, p, PG);
	assert_int_equal(s.seen, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_kernel_load),
		cmocka_unit_test(test_zero),
		cmocka_unit_test(test_sparse),
		cmocka_unit_test(test_vmci_check),
		cmocka_unit_test_setup_teardown(test_vmci_scan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vmci_page_short, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
