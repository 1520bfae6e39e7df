// SPDX-License-Identifier: GPL-2.0
/*
 * vmsh coredump PID: an ELF core of a running KVM VM (coredump.h) that crash
 * and drgn open. The hypervisor is held (as inspect holds it) while the vCPU
 * registers and memslots are read and, unless --live, while guest RAM is
 * copied; the guest kernel (direct-map base, release) is read in the hold
 * too, before the copy; the headers are written last. The dump goes to a
 * temporary file next to the output, renamed over it only when complete: a
 * failure or SIGINT/SIGTERM/SIGHUP leaves no partial file, and the VM runs on
 * as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "coredump.h"
#include "guest.h"
#include "hv.h"
#include "hvmem.h"
#include "pagemap.h"
#include "softdirty.h"
#include "util.h"
#include "vcpu.h"

#define MSR_KERNEL_GS_BASE 0xc0000102u

#define CHUNK (4u << 20) /* guest RAM copied per read */

struct coredump {
	/* options */
	pid_t pid;
	const char *out;
	bool live, json;
	char out_buf[64];
	/* the hypervisor */
	struct hv hv;
	bool held;
	uint64_t held_ns;
	unsigned long ptrace_requests;
	struct core_vcpu *vcpus;
	size_t nvcpus;
	struct memslot *ram; /* address space 0, RAM (not read-only), by gpa */
	size_t nram;
	struct hvmem hvmem;
	struct guest_mem mem;
	/* the file */
	struct core_layout l;
	struct core_load *loads;
	char tmp[PATH_MAX];
	int fd;
	uint64_t written, copied;
	uint64_t t_copy_ns, copy_ns;
	/* --live: the final pass over what the guest wrote during the copy */
	bool softdirty;
	uint64_t recopied, recopy_ns;
	/* progress */
	uint64_t t_next_progress;
	bool progress_shown, tty;
	/* the guest */
	struct core_vmci *vmci;
	int vmci_idx; /* in vmci->cand, or -1 */
	const char *vmci_source;
	uint8_t *vmci_sym_note; /* found through the vmcoreinfo_note symbol */
	size_t vmci_sym_len;
	struct guest_kernel k;
	int kernel_err;
	uint64_t page_offset_base;
	struct core_load kimage; /* the kernel image's PT_LOAD, if kimage_ok */
	bool kimage_ok;
	/* signals */
	int sigfd, stop_signal;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: vmsh coredump [-o FILE] [--live] [--json] [-v] PID\n"
		   "\n"
		   "Writes an ELF core of the KVM VM run by hypervisor process PID, for crash\n"
		   "and drgn: one PT_LOAD per guest RAM range (p_paddr guest-physical, p_vaddr\n"
		   "in the kernel's direct map), sparse (no blocks for zero pages), a CORE\n"
		   "NT_PRSTATUS and a QEMU CPU-state note per vCPU, and the guest kernel's\n"
		   "VMCOREINFO note, found in its memory. The hypervisor is held while its\n"
		   "vCPU registers and memslots are read and the RAM is copied, and says for\n"
		   "how long; the VM then runs on as it was. On any error or on\n"
		   "SIGINT/SIGTERM/SIGHUP no file is left behind. Needs root (ptrace, eBPF).\n"
		   "\n"
		   "  -o FILE     the core file (default: vmcore.PID); replaced only when\n"
		   "              the dump is complete\n"
		   "  --live      copy the RAM while the guest runs, then hold the hypervisor\n"
		   "              briefly to copy again what the guest wrote meanwhile and to\n"
		   "              read the registers (the kernel's soft-dirty bits; without\n"
		   "              them the dump may be torn, and vmsh says so)\n"
		   "  --json      print a machine-readable summary\n"
		   "  -v          progress on stderr (-vv: debug)\n"
		   "  -h, --help  this text\n");
}

static bool interrupted(struct coredump *c)
{
	struct signalfd_siginfo si;

	while (!c->stop_signal && c->sigfd >= 0 && read(c->sigfd, &si, sizeof(si)) == sizeof(si))
		c->stop_signal = (int)si.ssi_signo;
	return c->stop_signal != 0;
}

static int release(struct coredump *c)
{
	int err;

	if (!c->held)
		return 0;
	c->held = false;
	err = hv__close(&c->hv);
	/* --live holds twice */
	c->held_ns += c->hv.t.held_ns;
	c->ptrace_requests += c->hv.t.nr_ptrace;
	if (err)
		pr_err("coredump: the hypervisor could not be released cleanly");
	return err;
}

/* A temporary file next to the output, in the same file system (for rename). */
static int open_output(struct coredump *c)
{
	int n = snprintf(c->tmp, sizeof(c->tmp), "%s.vmsh-XXXXXX", c->out);

	if (n < 0 || (size_t)n >= sizeof(c->tmp)) {
		pr_err("coredump: the output path is too long");
		c->tmp[0] = '\0';
		return -ENAMETOOLONG;
	}
	c->fd = mkostemp(c->tmp, O_CLOEXEC);
	if (c->fd < 0) {
		int e = errno;
		pr_err("coredump: cannot create %s: %s (is its directory writable?)", c->tmp,
		       strerror(e));
		c->tmp[0] = '\0';
		return -e;
	}
	fchmod(c->fd, 0600); /* guest memory: secrets */
	return 0;
}

static int memslot_by_gpa(const void *a, const void *b)
{
	const struct memslot *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/* The vCPUs' registers (held). */
static int read_vcpus(struct coredump *c)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[1];
	} msrs;
	int err;

	if (c->vcpus && c->nvcpus != c->hv.nvcpus) {
		pr_err("coredump: the VM had %zu vCPUs and has %zu now", c->nvcpus, c->hv.nvcpus);
		return -EAGAIN;
	}
	c->nvcpus = c->hv.nvcpus;
	if (!c->vcpus)
		c->vcpus = calloc(c->nvcpus ? c->nvcpus : 1, sizeof(*c->vcpus));
	if (!c->vcpus)
		return -ENOMEM;
	for (size_t i = 0; i < c->nvcpus; i++) {
		long ret;

		err = hv_vcpu_ioctl(&c->hv, i, KVM_GET_REGS, &c->vcpus[i].regs);
		if (!err)
			err = hv_vcpu_ioctl(&c->hv, i, KVM_GET_SREGS, &c->vcpus[i].sregs);
		if (err)
			return err;
		/* optional (QEMUCPUState's kernel_gs_base): 0 if KVM says no */
		memset(&msrs, 0, sizeof(msrs));
		msrs.h.nmsrs = 1;
		msrs.e[0].index = MSR_KERNEL_GS_BASE;
		if (!__hv_ioctl(&c->hv, c->hv.vcpus[i].fd, KVM_GET_MSRS, &msrs, sizeof(msrs),
				&ret) &&
		    ret == 1)
			c->vcpus[i].kernel_gs_base = msrs.e[0].data;
	}
	return 0;
}

/* Hold the hypervisor, read the vCPUs and memslots; the RAM ranges to dump. */
static int read_vm(struct coredump *c)
{
	int err;

	err = hv__open(&c->hv, c->pid);
	if (err)
		return err;
	c->held = true;
	err = read_vcpus(c);
	if (err)
		return err;
	err = hv__read_memslots(&c->hv);
	if (err)
		return err;

	/* address space 0 (not SMM's), RAM only: ROM and flash slots are read-only */
	c->ram = calloc(c->hv.nslots ? c->hv.nslots : 1, sizeof(*c->ram));
	if (!c->ram)
		return -ENOMEM;
	for (size_t i = 0; i < c->hv.nslots; i++) {
		const struct memslot *s = &c->hv.slots[i];
		if (s->id >> 16 || (s->flags & KVM_MEM_READONLY) || !s->size)
			continue;
		if (s->size % CORE_PAGE_SIZE || s->gpa % CORE_PAGE_SIZE) {
			pr_err("coredump: memslot %u (gpa 0x%llx, %llu bytes) is not page-aligned",
			       s->id, (unsigned long long)s->gpa, (unsigned long long)s->size);
			return -EINVAL;
		}
		c->ram[c->nram++] = *s;
	}
	qsort(c->ram, c->nram, sizeof(*c->ram), memslot_by_gpa);
	if (!c->nram) {
		pr_err("coredump: the VM has no RAM memslot");
		return -ENOENT;
	}
	return 0;
}

static void progress(struct coredump *c, bool last)
{
	uint64_t t = util__now_ns(), el = t - c->t_copy_ns;
	double mib = c->copied / 1048576.0, total = c->l.file_size - c->l.data_off;
	double rate = el ? c->copied / (el / 1e9) : 0;

	if (!last && (el < 1000000000ull || t < c->t_next_progress))
		return;
	if (last && !c->progress_shown)
		return;
	c->t_next_progress = t + (c->tty ? 250000000ull : 1000000000ull);
	c->progress_shown = true;
	fprintf(stderr, "%svmsh: coredump: %.0f of %.0f MiB (%.0f%%), %.0f MiB/s, %.0f s left%s",
		c->tty ? "\r" : "", mib, total / 1048576.0,
		total ? 100.0 * c->copied / total : 100.0, rate / 1048576.0,
		rate ? (total - c->copied) / rate : 0.0, c->tty && !last ? "\033[K" : "\n");
}

/* Copy guest RAM into the file, sparse, looking for VMCOREINFO on the way. */
static int copy_ram(struct coredump *c, uint8_t *buf)
{
	c->t_copy_ns = util__now_ns();
	for (size_t i = 0; i < c->l.nloads; i++) {
		const struct core_load *ld = &c->loads[i];

		for (uint64_t o = 0; o < ld->size; o += CHUNK) {
			size_t n = ld->size - o < CHUNK ? (size_t)(ld->size - o) : CHUNK;
			const uint8_t *p = hvmem__ptr(&c->hvmem, ld->hva + o, n);
			int err;

			if (interrupted(c))
				return -EINTR;
			if (!p) {
				err = guest__read_hva_process(&c->pid, ld->hva + o, buf, n);
				if (err) {
					pr_err("coredump: reading guest RAM at gpa 0x%llx from the "
					       "hypervisor failed: %s",
					       (unsigned long long)(ld->gpa + o), strerror(-err));
					return err;
				}
				p = buf;
			}
			for (size_t pg = 0; pg + CORE_PAGE_SIZE <= n; pg += CORE_PAGE_SIZE)
				core__vmci_page(c->vmci, &c->mem, ld->gpa + o + pg, p + pg,
						CORE_PAGE_SIZE);
			err = core__write_sparse(c->fd, ld->offset + o, p, n, &c->written);
			if (err) {
				pr_err("coredump: writing %s failed: %s", c->tmp, strerror(-err));
				return err;
			}
			c->copied += n;
			progress(c, false);
		}
	}
	c->copy_ns = util__now_ns() - c->t_copy_ns;
	progress(c, true);
	return 0;
}

/*
 * --live, before the copy (held): from now on the kernel marks every page of
 * the hypervisor that is written (by KVM for the guest too) soft-dirty.
 * false, said, where it cannot: the live dump is then not made consistent.
 */
static bool live_track(struct coredump *c)
{
	int s = softdirty__supported(), err = s == 1 ? softdirty__clear(c->pid) : 0;

	if (s == 1 && !err)
		return true;
	pr_err("coredump: --live without its final pass (%s): the dump is taken while the guest "
	       "runs and may be torn",
	       s < 0 || err ? strerror(-(s < 0 ? s : err))
			    : "this kernel keeps no soft-dirty bits, CONFIG_MEM_SOFT_DIRTY");
	return false;
}

struct recopy {
	struct coredump *c;
	const struct core_load *ld;
	uint8_t *buf;
};

/* A run of pages written during the live copy: copied again, zeros included. */
static int recopy_run(void *ctx, uint64_t hva, uint64_t len)
{
	struct recopy *r = ctx;
	struct coredump *c = r->c;

	for (uint64_t o = 0; o < len; o += CHUNK) {
		size_t n = len - o < CHUNK ? (size_t)(len - o) : CHUNK;
		const uint8_t *p = hvmem__ptr(&c->hvmem, hva + o, n);
		uint64_t off = r->ld->offset + (hva + o - r->ld->hva);
		int err;

		if (!p) {
			err = guest__read_hva_process(&c->pid, hva + o, r->buf, n);
			if (err) {
				pr_err("coredump: reading guest RAM at hva 0x%llx again failed: %s",
				       (unsigned long long)(hva + o), strerror(-err));
				return err;
			}
			p = r->buf;
		}
		for (size_t done = 0; done < n;) {
			ssize_t w = pwrite(c->fd, p + done, n - done, (off_t)(off + done));

			if (w <= 0) {
				err = w < 0 ? -errno : -EIO;
				pr_err("coredump: writing %s failed: %s", c->tmp, strerror(-err));
				return err;
			}
			done += (size_t)w;
		}
		c->recopied += n;
	}
	return 0;
}

/*
 * --live, after the copy: hold again, read the registers, and copy again the
 * pages written since live_track. Memory and registers are then one instant,
 * that of this hold, as without --live; the hold lasts as long as the guest
 * wrote during the copy takes to copy again.
 */
static int live_final_pass(struct coredump *c, uint8_t *buf)
{
	uint64_t t0;
	int err = hv__open(&c->hv, c->pid);

	if (err)
		return err;
	c->held = true;
	t0 = util__now_ns();
	err = read_vcpus(c);
	for (size_t i = 0; !err && i < c->nram; i++) {
		struct recopy r = { .c = c, .ld = &c->loads[i], .buf = buf };

		err =
		    softdirty__for_each(c->pid, c->loads[i].hva, c->loads[i].size, recopy_run, &r);
		if (err && !c->recopied)
			pr_err("coredump: reading /proc/%d/pagemap failed: %s", (int)c->pid,
			       strerror(-err));
	}
	c->recopy_ns = util__now_ns() - t0;
	pr_info("coredump: --live: %.1f MiB written by the guest during the copy, copied again "
		"in the final hold (%.1f ms)",
		c->recopied / 1048576.0, c->recopy_ns / 1e6);
	return err;
}

/* The vCPU whose CR3 maps the kernel: long mode, preferably in kernel mode. */
static int pick_vcpu(const struct coredump *c)
{
	int v = -1, best = 0;

	for (size_t i = 0; i < c->nvcpus && best < 2; i++) {
		int rank = vcpu__kernel_rank(&c->vcpus[i].sregs);

		if (rank > best) {
			v = (int)i;
			best = rank;
		}
	}
	return v;
}

/* "Linux version 6.1.0-27-cloud-amd64 (...)..." -> "6.1.0-27-cloud-amd64" */
static void banner_release(const char *banner, char *rel, size_t len)
{
	const char *p = strncmp(banner, "Linux version ", 14) ? banner : banner + 14;
	size_t n = strcspn(p, " ");

	if (n >= len)
		n = len - 1;
	memcpy(rel, p, n);
	rel[n] = '\0';
}

/*
 * In the hold, before the copy: the guest kernel, for the direct-map base
 * (p_vaddr) and its release (to choose among VMCOREINFO candidates), and the
 * vmcoreinfo_note symbol where the kernel exports it. Not after the hold: the
 * picked vCPU's CR3 may be a user process's page table, freed and reused once
 * that process exits (a --live dump of a busy guest lost its kernel so). A
 * PTI user page table is swapped for the kernel's, as attach does.
 */
static void read_kernel(struct coredump *c)
{
	struct guest_mmu mmu;
	const struct ksym *sym;
	uint64_t v;
	int i = pick_vcpu(c);

	c->kernel_err = -ENOENT;
	if (i < 0) {
		pr_err("coredump: no vCPU is in long mode: p_vaddr will be 0");
		return;
	}
	c->kernel_err = pagemap__kernel_mmu(&c->mem, c->vcpus[i].sregs.cr3,
					    c->vcpus[i].sregs.cr4 & CR4_LA57, &mmu);
	if (!c->kernel_err)
		c->kernel_err = guest__find_kernel(&c->mem, &mmu, &c->k);
	if (c->kernel_err) {
		pr_err("coredump: no Linux kernel found in the guest: p_vaddr will be 0");
		return;
	}
	/* the kernel image's own PT_LOAD, as kdump has it */
	c->kimage_ok = !core__kernel_load(&c->l, c->loads, c->k.vbase, c->k.pbase, &c->kimage);
	/* exported where the direct map moves (KASLR, 5-level paging) */
	sym = guest__kernel_symbol(&c->k, "page_offset_base");
	if (sym && !guest__read_virt(&c->mem, &mmu, sym->addr, &v, sizeof(v)) &&
	    v >= 0xff00000000000000ull && !(v & ((1ull << 30) - 1)))
		c->page_offset_base = v;
	else if (!sym)
		c->page_offset_base =
		    c->k.paging_levels == 5 ? 0xff11000000000000ull : 0xffff888000000000ull;
	/* not exported by any kernel we know, but cheap to try */
	sym = guest__kernel_symbol(&c->k, "vmcoreinfo_note");
	if (sym && !guest__read_virt(&c->mem, &mmu, sym->addr, &v, sizeof(v))) {
		uint8_t *note = malloc(CORE_VMCOREINFO_MAX);
		ssize_t n = -EINVAL;
		if (note && !guest__read_virt(&c->mem, &mmu, v, note, CORE_VMCOREINFO_MAX))
			n = core__vmci_check(note, CORE_VMCOREINFO_MAX);
		if (n > 0) {
			c->vmci_sym_note = note;
			c->vmci_sym_len = (size_t)n;
		} else {
			free(note);
		}
	}
}

static int write_headers(struct coredump *c)
{
	const uint8_t *note = NULL;
	size_t note_len = 0, len = c->l.note_off + c->l.note_max;
	uint8_t *buf = calloc(1, len);
	char rel[128] = "";
	ssize_t n;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	if (!c->kernel_err)
		banner_release(c->k.banner, rel, sizeof(rel));
	c->vmci_idx = core__vmci_pick(c->vmci, rel[0] ? rel : NULL);
	if (c->vmci_idx >= 0) {
		note = c->vmci->cand[c->vmci_idx].note;
		note_len = c->vmci->cand[c->vmci_idx].len;
		c->vmci_source = "scan";
	} else if (c->vmci_sym_note) {
		note = c->vmci_sym_note;
		note_len = c->vmci_sym_len;
		c->vmci_source = "symbol";
	} else {
		pr_err("coredump: warning: no VMCOREINFO note in guest memory (a kernel without "
		       "CONFIG_CRASH_CORE?): crash can still open the dump, drgn cannot");
	}
	if (c->page_offset_base)
		for (size_t i = 0; i < c->l.nloads; i++)
			c->loads[i].vaddr = c->page_offset_base + c->loads[i].gpa;
	n = core__headers(&c->l, c->vcpus, c->loads, c->kimage_ok ? &c->kimage : NULL, note,
			  note_len, buf, len);
	if (n < 0)
		err = (int)n;
	else
		for (size_t done = 0; done < (size_t)n && !err;) {
			ssize_t w = pwrite(c->fd, buf + done, (size_t)n - done, (off_t)done);
			if (w < 0 && errno != EINTR)
				err = -errno;
			else if (w > 0)
				done += (size_t)w;
		}
	if (err)
		pr_err("coredump: writing the headers of %s failed: %s", c->tmp, strerror(-err));
	free(buf);
	return err;
}

static json_object *hex(uint64_t v)
{
	char s[24];
	snprintf(s, sizeof(s), "0x%llx", (unsigned long long)v);
	return json_object_new_string(s);
}

static void report(struct coredump *c, uint64_t allocated)
{
	double secs = c->copy_ns / 1e9, mibs = secs > 0 ? c->copied / 1048576.0 / secs : 0;
	uint64_t vmci_gpa = c->vmci_idx >= 0 ? c->vmci->cand[c->vmci_idx].gpa : 0;

	if (c->json) {
		json_object *root = json_object_new_object(), *o, *arr;

		json_object_object_add(root, "file", json_object_new_string(c->out));
		json_object_object_add(root, "size",
				       json_object_new_int64((int64_t)c->l.file_size));
		json_object_object_add(root, "allocated",
				       json_object_new_int64((int64_t)allocated));
		json_object_object_add(root, "live", json_object_new_boolean(c->live));
		if (c->live) {
			o = json_object_new_object();
			json_object_object_add(o, "final_pass",
					       json_object_new_boolean(c->softdirty));
			json_object_object_add(o, "recopied",
					       json_object_new_int64((int64_t)c->recopied));
			json_object_object_add(
			    o, "final_pass_us",
			    json_object_new_int64((int64_t)(c->recopy_ns / 1000)));
			json_object_object_add(root, "live_pass", o);
		}
		o = json_object_new_object();
		json_object_object_add(o, "pid", json_object_new_int(c->pid));
		json_object_object_add(o, "held_us", json_object_new_int64(c->held_ns / 1000));
		json_object_object_add(o, "ptrace_requests",
				       json_object_new_int64((int64_t)c->ptrace_requests));
		json_object_object_add(root, "hypervisor", o);
		json_object_object_add(root, "vcpus", json_object_new_int((int)c->nvcpus));
		arr = json_object_new_array();
		for (size_t i = 0; i < c->l.nloads; i++) {
			o = json_object_new_object();
			json_object_object_add(o, "gpa", hex(c->loads[i].gpa));
			json_object_object_add(o, "size",
					       json_object_new_int64((int64_t)c->loads[i].size));
			json_object_object_add(o, "vaddr", hex(c->loads[i].vaddr));
			json_object_object_add(o, "offset", hex(c->loads[i].offset));
			json_object_array_add(arr, o);
		}
		json_object_object_add(root, "loads", arr);
		if (c->kimage_ok) {
			o = json_object_new_object();
			json_object_object_add(o, "vaddr", hex(c->kimage.vaddr));
			json_object_object_add(o, "paddr", hex(c->kimage.gpa));
			json_object_object_add(o, "size",
					       json_object_new_int64((int64_t)c->kimage.size));
			json_object_object_add(root, "kernel_image", o);
		} else {
			json_object_object_add(root, "kernel_image", NULL);
		}
		if (c->vmci_source) {
			o = json_object_new_object();
			json_object_object_add(o, "source", json_object_new_string(c->vmci_source));
			if (c->vmci_idx >= 0)
				json_object_object_add(o, "gpa", hex(vmci_gpa));
			json_object_object_add(o, "candidates",
					       json_object_new_int64((int64_t)c->vmci->seen));
			json_object_object_add(root, "vmcoreinfo", o);
		} else {
			json_object_object_add(root, "vmcoreinfo", NULL);
		}
		json_object_object_add(root, "kernel",
				       c->kernel_err ? NULL : json_object_new_string(c->k.banner));
		o = json_object_new_object();
		json_object_object_add(o, "bytes", json_object_new_int64((int64_t)c->copied));
		json_object_object_add(o, "written", json_object_new_int64((int64_t)c->written));
		json_object_object_add(o, "seconds", json_object_new_double(secs));
		json_object_object_add(o, "mib_per_s", json_object_new_double(mibs));
		json_object_object_add(root, "copy", o);
		printf("%s\n", json_object_to_json_string_ext(
				   root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(root);
		return;
	}
	printf("core: %s, %llu bytes (%llu allocated), %zu vCPUs, %zu RAM ranges\n", c->out,
	       (unsigned long long)c->l.file_size, (unsigned long long)allocated, c->nvcpus,
	       c->l.nloads);
	if (c->vmci_source && c->vmci_idx >= 0)
		printf("VMCOREINFO: found at gpa 0x%llx (%lu candidates)\n",
		       (unsigned long long)vmci_gpa, c->vmci->seen);
	else if (c->vmci_source)
		printf("VMCOREINFO: from the vmcoreinfo_note symbol\n");
	else
		printf("VMCOREINFO: none\n");
	if (!c->kernel_err)
		printf("guest kernel: %s\n", c->k.banner);
	printf("copied %.1f MiB in %.3f s (%.0f MiB/s), %.1f MiB written\n", c->copied / 1048576.0,
	       secs, mibs, c->written / 1048576.0);
	printf("hypervisor held for %.3f ms%s (%lu ptrace requests)\n", c->held_ns / 1e6,
	       c->live ? " (--live: not during the copy)" : "", c->ptrace_requests);
	if (c->softdirty)
		printf("--live: %.1f MiB written during the copy, copied again in the final hold\n",
		       c->recopied / 1048576.0);
}

int cmd_coredump(int argc, char **argv)
{
	static const struct option opts[] = { { "output", required_argument, NULL, 'o' },
					      { "live", no_argument, NULL, 'l' },
					      { "json", no_argument, NULL, 'j' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	struct coredump *c;
	struct stat st;
	sigset_t mask;
	uint8_t *buf = NULL;
	int ch, err = 0, rc = 1;

	c = calloc(1, sizeof(*c));
	if (!c) {
		pr_err("out of memory");
		return 1;
	}
	*c = (struct coredump){ .fd = -1, .sigfd = -1, .vmci_idx = -1 };
	while ((ch = getopt_long(argc, argv, "+ho:v", opts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			c->out = optarg;
			break;
		case 'l':
			c->live = true;
			break;
		case 'j':
			c->json = true;
			break;
		case 'v':
			vmsh_verbose++;
			break;
		case 'h':
			usage(stdout);
			free(c);
			return 0;
		default:
			usage(stderr);
			free(c);
			return 2;
		}
	}
	if (optind != argc - 1 || (c->pid = atoi(argv[optind])) <= 0 || (c->out && !c->out[0])) {
		usage(stderr);
		free(c);
		return 2;
	}
	if (!c->out) {
		snprintf(c->out_buf, sizeof(c->out_buf), "vmcore.%d", c->pid);
		c->out = c->out_buf;
	}
	c->tty = isatty(STDERR_FILENO);

	/* signals are read between steps: vmsh is never killed while it holds the VM */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGTTOU, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	c->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	c->vmci = calloc(1, sizeof(*c->vmci));
	buf = malloc(CHUNK);
	if (c->sigfd < 0 || !c->vmci || !buf) {
		pr_err("coredump: out of memory or file descriptors");
		goto out;
	}

	/* the output first: an unwritable one fails before the VM is touched */
	err = open_output(c);
	if (err)
		goto out;
	err = read_vm(c);
	if (err)
		goto fail;
	c->loads = calloc(c->nram, sizeof(*c->loads));
	if (!c->loads) {
		err = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < c->nram; i++)
		c->loads[i] = (struct core_load){ .gpa = c->ram[i].gpa,
						  .size = c->ram[i].size,
						  .hva = c->ram[i].hva };
	err = core__layout(&c->l, c->nvcpus, c->loads, c->nram);
	if (err) {
		pr_err("coredump: %zu RAM ranges cannot be laid out in an ELF file", c->nram);
		goto fail;
	}
	if (ftruncate(c->fd, (off_t)c->l.file_size)) {
		err = -errno;
		pr_err("coredump: cannot size %s to %llu bytes: %s", c->tmp,
		       (unsigned long long)c->l.file_size, strerror(errno));
		goto fail;
	}
	err = hvmem__open(&c->hvmem, c->pid, c->ram, c->nram);
	if (err)
		goto fail;
	c->mem = (struct guest_mem){ .slots = c->ram,
				     .nslots = c->nram,
				     .read_hva = hvmem__read,
				     .readv_hva = hvmem__readv,
				     .ptr_hva = hvmem__ptr,
				     .ctx = &c->hvmem };
	/* in the hold: the CR3 read from a vCPU may belong to a process that exits once it runs */
	read_kernel(c);
	if (c->live) {
		c->softdirty = live_track(c);
		if ((err = release(c)))
			goto fail;
	}
	if (interrupted(c))
		goto fail;
	err = copy_ram(c, buf);
	if (err)
		goto fail;
	if (c->softdirty && !interrupted(c) && (err = live_final_pass(c, buf)))
		goto fail;
	if ((err = release(c)))
		goto fail;
	pr_info("coredump: held the hypervisor for %.3f ms", c->held_ns / 1e6);
	if (interrupted(c))
		goto fail;
	err = write_headers(c);
	if (err)
		goto fail;
	if (fstat(c->fd, &st))
		st.st_blocks = 0;
	if (close(c->fd)) {
		err = -errno;
		c->fd = -1;
		pr_err("coredump: writing %s failed: %s", c->tmp, strerror(-err));
		goto fail;
	}
	c->fd = -1;
	if (interrupted(c))
		goto fail;
	if (rename(c->tmp, c->out)) {
		err = -errno;
		pr_err("coredump: cannot rename %s to %s: %s", c->tmp, c->out, strerror(-err));
		goto fail;
	}
	c->tmp[0] = '\0';
	report(c, (uint64_t)st.st_blocks * 512);
	rc = 0;
	goto out;

fail:
	if (release(c))
		pr_err("coredump: the hypervisor could not be restored completely");
	if (c->stop_signal) {
		pr_err("coredump: interrupted by %s: no dump written, the VM runs on",
		       strsignal(c->stop_signal));
		rc = 128 + c->stop_signal;
	} else {
		pr_err("coredump: failed (%s): no dump written, the VM runs on", strerror(-err));
	}
out:
	if (c->fd >= 0)
		close(c->fd);
	if (c->tmp[0])
		unlink(c->tmp);
	if (c->sigfd >= 0)
		close(c->sigfd);
	hvmem__close(&c->hvmem);
	guest__kernel_free(&c->k);
	hv__free(&c->hv);
	free(c->vcpus);
	free(c->ram);
	free(c->loads);
	free(c->vmci_sym_note);
	free(c->vmci);
	free(buf);
	free(c);
	return rc;
}
