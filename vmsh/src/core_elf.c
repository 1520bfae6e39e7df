// SPDX-License-Identifier: GPL-2.0
/*
 * The ELF core file of vmsh coredump (coredump.h): layout, headers, notes,
 * sparse writes, and the search for the guest's VMCOREINFO note.
 */
#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/procfs.h>
#include <unistd.h>

#include "coredump.h"
#include "util.h"

#define ALIGN4(x) (((x) + 3u) & ~(size_t)3u)
#define PAGE_ALIGN(x) (((x) + CORE_PAGE_SIZE - 1) & ~(uint64_t)(CORE_PAGE_SIZE - 1))

_Static_assert(sizeof(struct elf_prstatus) == CORE_PRSTATUS_SIZE, "elf_prstatus layout");
_Static_assert(sizeof(elf_gregset_t) == 27 * 8, "elf_gregset_t layout");

/* QEMU's target/i386/arch_dump.c: the "QEMU" note, version 1. */
struct qemu_cpu_segment {
	uint32_t selector;
	uint32_t limit;
	uint32_t flags;
	uint32_t pad;
	uint64_t base;
};

struct qemu_cpu_state {
	uint32_t version;
	uint32_t size;
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
	struct qemu_cpu_segment cs, ds, es, fs, gs, ss;
	struct qemu_cpu_segment ldt, tr, gdt, idt;
	uint64_t cr[5];
	uint64_t kernel_gs_base; /* optional: present as 'size' says */
};
_Static_assert(sizeof(struct qemu_cpu_state) == CORE_QEMU_STATE_SIZE, "QEMUCPUState layout");

int core__layout(struct core_layout *l, size_t nvcpus, struct core_load *loads, size_t nloads)
{
	uint64_t off;

	if (nloads > CORE_MAX_LOADS || nvcpus > 4096)
		return -EINVAL;
	*l = (struct core_layout){ .nvcpus = nvcpus, .nloads = nloads };
	l->phoff = sizeof(Elf64_Ehdr);
	/* PT_NOTE, the kernel image's PT_LOAD (if found), the RAM ranges' */
	l->note_off = l->phoff + (2 + nloads) * sizeof(Elf64_Phdr);
	l->note_max =
	    nvcpus * (CORE_PRSTATUS_NOTE_SIZE + CORE_QEMU_NOTE_SIZE) + CORE_VMCOREINFO_MAX;
	l->data_off = PAGE_ALIGN(l->note_off + l->note_max);
	off = l->data_off;
	for (size_t i = 0; i < nloads; i++) {
		if (loads[i].size % CORE_PAGE_SIZE || loads[i].gpa % CORE_PAGE_SIZE ||
		    loads[i].size > UINT64_MAX - off)
			return -EINVAL;
		loads[i].offset = off;
		off += loads[i].size;
	}
	if (off > (uint64_t)INT64_MAX)
		return -EINVAL;
	l->file_size = off;
	return 0;
}

void core__prstatus(uint8_t out[CORE_PRSTATUS_SIZE], int index, const struct core_vcpu *v)
{
	const struct kvm_regs *r = &v->regs;
	const struct kvm_sregs *s = &v->sregs;
	struct elf_prstatus p;
	/* elf_gregset_t is struct user_regs_struct's order */
	const uint64_t g[27] = {
		r->r15,	       r->r14,	       r->r13,	       r->r12,	       r->rbp,
		r->rbx,	       r->r11,	       r->r10,	       r->r9,	       r->r8,
		r->rax,	       r->rcx,	       r->rdx,	       r->rsi,	       r->rdi,
		r->rax, /* orig_rax, as QEMU writes it */
		r->rip,	       s->cs.selector, r->rflags,      r->rsp,	       s->ss.selector,
		s->fs.base,    s->gs.base,     s->ds.selector, s->es.selector, s->fs.selector,
		s->gs.selector
	};

	memset(&p, 0, sizeof(p));
	p.pr_pid = index + 1;
	memcpy(&p.pr_reg, g, sizeof(g));
	memcpy(out, &p, sizeof(p));
}

/* QEMU's get_seg() of target/i386/kvm/kvm.c: kvm_segment to its flags. */
static struct qemu_cpu_segment qemu_seg(const struct kvm_segment *k)
{
	return (struct qemu_cpu_segment){
		.selector = k->selector,
		.limit = k->limit,
		.base = k->base,
		.flags = (uint32_t)k->type << 8 | (uint32_t)(k->present && !k->unusable) << 15 |
			 (uint32_t)k->dpl << 13 | (uint32_t)k->db << 22 | (uint32_t)k->s << 12 |
			 (uint32_t)k->l << 21 | (uint32_t)k->g << 23 | (uint32_t)k->avl << 20,
	};
}

void core__qemu_state(uint8_t out[CORE_QEMU_STATE_SIZE], const struct core_vcpu *v)
{
	const struct kvm_regs *r = &v->regs;
	const struct kvm_sregs *s = &v->sregs;
	struct qemu_cpu_state q;

	memset(&q, 0, sizeof(q));
	q.version = 1;
	q.size = sizeof(q);
	q.rax = r->rax, q.rbx = r->rbx, q.rcx = r->rcx, q.rdx = r->rdx;
	q.rsi = r->rsi, q.rdi = r->rdi, q.rsp = r->rsp, q.rbp = r->rbp;
	q.r8 = r->r8, q.r9 = r->r9, q.r10 = r->r10, q.r11 = r->r11;
	q.r12 = r->r12, q.r13 = r->r13, q.r14 = r->r14, q.r15 = r->r15;
	q.rip = r->rip, q.rflags = r->rflags;
	q.cs = qemu_seg(&s->cs), q.ds = qemu_seg(&s->ds), q.es = qemu_seg(&s->es);
	q.fs = qemu_seg(&s->fs), q.gs = qemu_seg(&s->gs), q.ss = qemu_seg(&s->ss);
	q.ldt = qemu_seg(&s->ldt), q.tr = qemu_seg(&s->tr);
	q.gdt = (struct qemu_cpu_segment){ .base = s->gdt.base, .limit = s->gdt.limit };
	q.idt = (struct qemu_cpu_segment){ .base = s->idt.base, .limit = s->idt.limit };
	q.cr[0] = s->cr0, q.cr[2] = s->cr2, q.cr[3] = s->cr3, q.cr[4] = s->cr4;
	q.kernel_gs_base = v->kernel_gs_base;
	memcpy(out, &q, sizeof(q));
}

/* One note: header, name padded to 4, descriptor padded to 4; its size. */
static size_t put_note(uint8_t *p, const char *name, uint32_t type, const void *desc,
		       size_t desc_len)
{
	Elf64_Nhdr h = { .n_namesz = (Elf64_Word)strlen(name) + 1,
			 .n_descsz = (Elf64_Word)desc_len,
			 .n_type = type };

	memcpy(p, &h, sizeof(h));
	memcpy(p + sizeof(h), name, h.n_namesz);
	memcpy(p + sizeof(h) + ALIGN4(h.n_namesz), desc, desc_len);
	return sizeof(h) + ALIGN4(h.n_namesz) + ALIGN4(desc_len);
}

/* The kernel's image window: __START_KERNEL_map + KERNEL_IMAGE_SIZE. */
#define KERNEL_MAP_END 0xffffffffc0000000ull

int core__kernel_load(const struct core_layout *l, const struct core_load *loads, uint64_t vaddr,
		      uint64_t paddr, struct core_load *out)
{
	for (size_t i = 0; i < l->nloads; i++) {
		const struct core_load *r = &loads[i];
		uint64_t size;

		if (paddr < r->gpa || paddr - r->gpa >= r->size)
			continue;
		if (vaddr % CORE_PAGE_SIZE || paddr % CORE_PAGE_SIZE || vaddr >= KERNEL_MAP_END ||
		    vaddr < 0xffffffff80000000ull)
			return -EINVAL;
		size = r->size - (paddr - r->gpa);
		if (size > KERNEL_MAP_END - vaddr)
			size = KERNEL_MAP_END - vaddr;
		*out = (struct core_load){ .gpa = paddr,
					   .size = size,
					   .vaddr = vaddr,
					   .offset = r->offset + (paddr - r->gpa) };
		return 0;
	}
	return -ENOENT;
}

static void put_load(uint8_t *p, const struct core_load *ld)
{
	Elf64_Phdr ph;

	memset(&ph, 0, sizeof(ph));
	ph.p_type = PT_LOAD;
	ph.p_flags = PF_R | PF_W | PF_X;
	ph.p_offset = ld->offset;
	ph.p_vaddr = ld->vaddr;
	ph.p_paddr = ld->gpa;
	ph.p_filesz = ld->size;
	ph.p_memsz = ld->size;
	memcpy(p, &ph, sizeof(ph));
}

ssize_t core__headers(const struct core_layout *l, const struct core_vcpu *vcpus,
		      const struct core_load *loads, const struct core_load *kimage,
		      const uint8_t *vmcoreinfo, size_t vmci_len, uint8_t *buf, size_t len)
{
	size_t ph_i = 1;
	uint8_t desc[CORE_QEMU_STATE_SIZE];
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	size_t off;

	if (len < l->note_off + l->note_max || vmci_len > CORE_VMCOREINFO_MAX || vmci_len % 4)
		return -EINVAL;
	memset(&eh, 0, sizeof(eh));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
	eh.e_type = ET_CORE;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_phoff = l->phoff;
	eh.e_ehsize = sizeof(Elf64_Ehdr);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = (Elf64_Half)(1 + (kimage != NULL) + l->nloads);
	memcpy(buf, &eh, sizeof(eh));

	off = l->note_off;
	for (size_t i = 0; i < l->nvcpus; i++) {
		core__prstatus(desc, (int)i, &vcpus[i]);
		off += put_note(buf + off, "CORE", NT_PRSTATUS, desc, CORE_PRSTATUS_SIZE);
	}
	for (size_t i = 0; i < l->nvcpus; i++) {
		core__qemu_state(desc, &vcpus[i]);
		off += put_note(buf + off, "QEMU", 0, desc, CORE_QEMU_STATE_SIZE);
	}
	if (vmci_len) {
		memcpy(buf + off, vmcoreinfo, vmci_len);
		off += vmci_len;
	}

	memset(&ph, 0, sizeof(ph));
	ph.p_type = PT_NOTE;
	ph.p_offset = l->note_off;
	ph.p_filesz = off - l->note_off;
	memcpy(buf + l->phoff, &ph, sizeof(ph));
	if (kimage)
		put_load(buf + l->phoff + ph_i++ * sizeof(ph), kimage);
	for (size_t i = 0; i < l->nloads; i++)
		put_load(buf + l->phoff + ph_i++ * sizeof(ph), &loads[i]);
	return (ssize_t)off;
}

bool core__is_zero(const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t i = 0;

	/* 64 bytes at a time: the compiler vectorizes the OR */
	for (; i + 64 <= len; i += 64) {
		uint64_t w[8], acc = 0;
		memcpy(w, b + i, sizeof(w));
		for (int k = 0; k < 8; k++)
			acc |= w[k];
		if (acc)
			return false;
	}
	for (; i < len; i++)
		if (b[i])
			return false;
	return true;
}

int core__write_sparse(int fd, uint64_t off, const uint8_t *buf, size_t len, uint64_t *written)
{
	size_t i = 0;

	while (i < len) {
		size_t start, n;

		/* skip zero pages */
		while (i < len) {
			n = len - i < CORE_PAGE_SIZE ? len - i : CORE_PAGE_SIZE;
			if (!core__is_zero(buf + i, n))
				break;
			i += n;
		}
		if (i >= len)
			break;
		/* a run of non-zero pages, written at once */
		start = i;
		while (i < len) {
			n = len - i < CORE_PAGE_SIZE ? len - i : CORE_PAGE_SIZE;
			if (core__is_zero(buf + i, n))
				break;
			i += n;
		}
		int err = util__pwrite_all(fd, buf + start, i - start, off + start);
		if (err)
			return err;
		*written += i - start;
	}
	return 0;
}

#define VMCI_NAME "VMCOREINFO"
#define VMCI_TEXT "OSRELEASE="

ssize_t core__vmci_check(const uint8_t *buf, size_t len)
{
	Elf64_Nhdr h;
	size_t name_off = sizeof(h), text_off = sizeof(h) + ALIGN4(sizeof(VMCI_NAME)), total;

	if (len < text_off + sizeof(VMCI_TEXT) - 1)
		return -EINVAL;
	memcpy(&h, buf, sizeof(h));
	if (h.n_namesz != sizeof(VMCI_NAME) || h.n_type != 0 ||
	    memcmp(buf + name_off, VMCI_NAME, sizeof(VMCI_NAME)) ||
	    h.n_descsz < sizeof(VMCI_TEXT) - 1 || h.n_descsz > CORE_VMCOREINFO_TEXT_MAX)
		return -EINVAL;
	total = text_off + ALIGN4((size_t)h.n_descsz);
	if (total > len || memcmp(buf + text_off, VMCI_TEXT, sizeof(VMCI_TEXT) - 1))
		return -EINVAL;
	/* text only: KEY=VALUE lines (a NUL may end it) */
	for (size_t i = 0; i < h.n_descsz; i++) {
		uint8_t c = buf[text_off + i];
		if (c == '\0' && i + 1 == h.n_descsz)
			break;
		if (c != '\n' && (c < 0x20 || c > 0x7e))
			return -EINVAL;
	}
	return (ssize_t)total;
}

void core__vmci_page(struct core_vmci *s, const struct guest_mem *m, uint64_t gpa,
		     const uint8_t *page, size_t len)
{
	static const uint8_t head[] = { sizeof(VMCI_NAME), 0, 0, 0 };
	uint8_t note[CORE_VMCOREINFO_MAX];
	uint32_t descsz;
	size_t want;
	ssize_t n;

	/* cheap first: n_namesz, then the name */
	if (len < 24 || memcmp(page, head, sizeof(head)) ||
	    memcmp(page + 12, VMCI_NAME, sizeof(VMCI_NAME)))
		return;
	memcpy(&descsz, page + 4, sizeof(descsz));
	if (descsz > CORE_VMCOREINFO_TEXT_MAX)
		return;
	/* the whole note, which may run onto the next page */
	want = 24 + ALIGN4((size_t)descsz);
	if (guest__read_phys(m, gpa, note, want))
		return;
	n = core__vmci_check(note, want);
	if (n < 0)
		return;
	s->seen++;
	if (s->ncand >= CORE_VMCI_CANDIDATES)
		return;
	s->cand[s->ncand].gpa = gpa;
	s->cand[s->ncand].len = (size_t)n;
	memcpy(s->cand[s->ncand].note, note, (size_t)n);
	s->ncand++;
}

/* Does the note's OSRELEASE= line say release? */
static bool vmci_release_is(const uint8_t *note, size_t len, const char *release)
{
	size_t rl = strlen(release), at = 24 + sizeof(VMCI_TEXT) - 1;

	return at + rl < len && !memcmp(note + at, release, rl) && note[at + rl] == '\n';
}

int core__vmci_pick(const struct core_vmci *s, const char *release)
{
	if (!s->ncand)
		return -1;
	for (size_t i = 0; release && i < s->ncand; i++)
		if (vmci_release_is(s->cand[i].note, s->cand[i].len, release))
			return (int)i;
	return 0;
}

int core__vmci_scan(struct core_vmci *s, const struct guest_mem *m)
{
	uint8_t head[24];

	for (size_t i = 0; i < m->nslots; i++)
		for (uint64_t o = 0; o + sizeof(head) <= m->slots[i].size; o += CORE_PAGE_SIZE) {
			uint64_t gpa = m->slots[i].gpa + o;
			if (guest__read_phys(m, gpa, head, sizeof(head)))
				return -EFAULT;
			core__vmci_page(s, m, gpa, head, sizeof(head));
		}
	return 0;
}
