// SPDX-License-Identifier: GPL-2.0
/*
 * vmsh inspect PID: hold the hypervisor just long enough to read what only
 * its own KVM fds can tell (vCPU registers, memslots), let it go, then read
 * the guest's kernel from its memory while the VM runs on.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "guest.h"
#include "hv.h"
#include "kbtf.h"
#include "pagemap.h"
#include "util.h"
#include "vcpu.h"

struct inspect_vcpu {
	bool valid;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
};

static const char *vcpu_mode(const struct kvm_sregs *s)
{
	if (!(s->cr0 & CR0_PE))
		return "real";
	return s->efer & EFER_LMA ? "long" : "protected";
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vmsh inspect [--json|--symbols] [-v] PID\n"
		   "\n"
		   "Prints what vmsh sees of the KVM VM run by hypervisor process PID:\n"
		   "the hypervisor, its vCPUs and memslots, and the guest's Linux kernel\n"
		   "(version banner, KASLR offset, exported symbols, its BTF and the\n"
		   "struct layouts attach would use). The hypervisor is\n"
		   "stopped only while its vCPU registers and memslots are read; inspect\n"
		   "says for how long. Needs root (ptrace, eBPF).\n"
		   "\n"
		   "  --json      machine-readable output\n"
		   "  --symbols   print the guest kernel's exported symbols instead, one\n"
		   "              'ADDRESS NAME' per line (like /proc/kallsyms)\n"
		   "  -v          progress on stderr (-vv: debug)\n"
		   "  -h, --help  this text\n");
}

static char *read_proc_line(pid_t pid, const char *file, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	buf[0] = '\0';
	f = fopen(path, "r");
	if (f) {
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
	return buf;
}

static json_object *hex(uint64_t v)
{
	char s[24];
	snprintf(s, sizeof(s), "0x%llx", (unsigned long long)v);
	return json_object_new_string(s);
}

/* What attach would give stage1: the guest's BTF, if any, and the layout (kbtf.h). */
struct inspect_layout {
	struct kbtf btf;
	int btf_err;	/* kbtf__find's: 0, -ENOENT (none), ... */
	int layout_err; /* kbtf__layout's */
	struct guest_layout l;
};

static json_object *inspect__layout_json(const struct inspect_layout *il)
{
	const struct guest_layout *l = &il->l;
	json_object *o = json_object_new_object(), *p;

	if (il->btf_err) {
		json_object_object_add(o, "btf", NULL);
	} else {
		p = json_object_new_object();
		json_object_object_add(p, "gva", hex(il->btf.gva));
		json_object_object_add(p, "size", json_object_new_int64(il->btf.size));
		json_object_object_add(p, "types", json_object_new_int64(il->btf.ntypes));
		json_object_object_add(o, "btf", p);
	}
	if (il->layout_err) {
		json_object_object_add(o, "layout", NULL);
		json_object_object_add(o, "layout_error",
				       json_object_new_string(strerror(-il->layout_err)));
		return o;
	}
	p = json_object_new_object();
	json_object_object_add(p, "work_struct_size", json_object_new_int64(l->work_size));
	json_object_object_add(p, "work_struct_data", json_object_new_int64(l->work_data));
	json_object_object_add(p, "work_struct_entry", json_object_new_int64(l->work_entry));
	json_object_object_add(p, "work_struct_func", json_object_new_int64(l->work_func));
	json_object_object_add(p, "work_struct_source", json_object_new_string(l->work_src));
	json_object_object_add(p, "resource_size", json_object_new_int64(l->res_size));
	json_object_object_add(p, "resource_start", json_object_new_int64(l->res_start));
	json_object_object_add(p, "resource_end", json_object_new_int64(l->res_end));
	json_object_object_add(p, "resource_flags", json_object_new_int64(l->res_flags));
	json_object_object_add(p, "resource_source", json_object_new_string(l->res_src));
	json_object_object_add(p, "work_data_init", hex(l->work_data_init));
	json_object_object_add(p, "work_data_init_source",
			       json_object_new_string(l->work_data_init_src));
	json_object_object_add(o, "layout", p);
	return o;
}

static void inspect__layout_text(const struct inspect_layout *il)
{
	const struct guest_layout *l = &il->l;

	if (!il->btf_err)
		printf("  BTF at 0x%llx: %u bytes, %u types\n", (unsigned long long)il->btf.gva,
		       il->btf.size, il->btf.ntypes);
	else
		printf("  BTF: not found (%s)\n",
		       il->btf_err == -ENOENT ? "vmsh's tables stand in" : strerror(-il->btf_err));
	if (il->layout_err) {
		printf("  stage1 layout: none (%s)\n", strerror(-il->layout_err));
		return;
	}
	printf("  stage1 layout: work_struct %u bytes (data %u, entry %u, func %u) from %s\n",
	       l->work_size, l->work_data, l->work_entry, l->work_func, l->work_src);
	printf("                 resource %u bytes (start %u, end %u, flags %u) from %s\n",
	       l->res_size, l->res_start, l->res_end, l->res_flags, l->res_src);
	printf("                 WORK_DATA_INIT 0x%llx from %s\n",
	       (unsigned long long)l->work_data_init, l->work_data_init_src);
}

static json_object *inspect__json(const struct hv *hv, const struct inspect_vcpu *vs,
				  const struct guest_kernel *k, int kernel_err,
				  const struct inspect_layout *il, const char *comm,
				  const char *exe)
{
	json_object *root = json_object_new_object(), *o, *arr;

	o = json_object_new_object();
	json_object_object_add(o, "pid", json_object_new_int(hv->t.pid));
	json_object_object_add(o, "comm", json_object_new_string(comm));
	json_object_object_add(o, "exe", json_object_new_string(exe));
	json_object_object_add(o, "threads", json_object_new_int((int)hv->nthreads));
	json_object_object_add(o, "held_us", json_object_new_int64(hv->t.held_ns / 1000));
	json_object_object_add(o, "ptrace_requests", json_object_new_int64(hv->t.nr_ptrace));
	json_object_object_add(root, "hypervisor", o);

	arr = json_object_new_array();
	for (size_t i = 0; i < hv->nvcpus; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "index", json_object_new_int(hv->vcpus[i].index));
		json_object_object_add(o, "fd", json_object_new_int(hv->vcpus[i].fd));
		json_object_object_add(
		    o, "thread", hv->vcpus[i].tid ? json_object_new_int(hv->vcpus[i].tid) : NULL);
		if (vs[i].valid) {
			json_object_object_add(o, "mode",
					       json_object_new_string(vcpu_mode(&vs[i].sregs)));
			json_object_object_add(o, "cpl",
					       json_object_new_int(vs[i].sregs.cs.selector & 3));
			json_object_object_add(o, "rip", hex(vs[i].regs.rip));
			json_object_object_add(o, "cr3", hex(vs[i].sregs.cr3));
		}
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "vcpus", arr);

	arr = json_object_new_array();
	for (size_t i = 0; i < hv->nslots; i++) {
		const struct memslot *s = &hv->slots[i];
		o = json_object_new_object();
		json_object_object_add(o, "slot", json_object_new_int64(s->id & 0xffff));
		json_object_object_add(o, "address_space", json_object_new_int64(s->id >> 16));
		json_object_object_add(o, "gpa", hex(s->gpa));
		json_object_object_add(o, "size", json_object_new_int64((int64_t)s->size));
		json_object_object_add(o, "hva", hex(s->hva));
		json_object_object_add(o, "flags", json_object_new_int64(s->flags));
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "memslots", arr);

	if (kernel_err) {
		json_object_object_add(root, "kernel", NULL);
		json_object_object_add(root, "kernel_error",
				       json_object_new_string(strerror(-kernel_err)));
	} else {
		o = json_object_new_object();
		json_object_object_add(o, "banner", json_object_new_string(k->banner));
		json_object_object_add(o, "virtual_base", hex(k->vbase));
		json_object_object_add(o, "kaslr_offset", hex(k->kaslr_offset));
		json_object_object_add(o, "physical_base", hex(k->pbase));
		json_object_object_add(o, "paging_levels", json_object_new_int(k->paging_levels));
		json_object_object_add(o, "ksymtab_layout",
				       json_object_new_string(ksymtab_layout__name(k->layout)));
		json_object_object_add(o, "exported_symbols",
				       json_object_new_int64((int64_t)k->nsyms));
		json_object_object_add(o, "stage1", inspect__layout_json(il));
		json_object_object_add(root, "kernel", o);
	}
	return root;
}

static void inspect__text(const struct hv *hv, const struct inspect_vcpu *vs,
			  const struct guest_kernel *k, int kernel_err,
			  const struct inspect_layout *il, const char *comm, const char *exe)
{
	printf("hypervisor: pid %d, comm %s, exe %s, %zu threads\n", hv->t.pid, comm, exe,
	       hv->nthreads);
	printf("vm: %zu vCPUs, %zu memslots\n", hv->nvcpus, hv->nslots);
	for (size_t i = 0; i < hv->nvcpus; i++) {
		printf("  vcpu %d: fd %d, thread ", hv->vcpus[i].index, hv->vcpus[i].fd);
		if (hv->vcpus[i].tid)
			printf("%d", hv->vcpus[i].tid);
		else
			printf("?");
		if (vs[i].valid)
			printf(", %s mode, CPL %d, RIP 0x%llx, CR3 0x%llx", vcpu_mode(&vs[i].sregs),
			       vs[i].sregs.cs.selector & 3, (unsigned long long)vs[i].regs.rip,
			       (unsigned long long)vs[i].sregs.cr3);
		printf("\n");
	}
	for (size_t i = 0; i < hv->nslots; i++) {
		const struct memslot *s = &hv->slots[i];
		printf("  memslot %u%s: gpa 0x%llx-0x%llx (%llu KiB) at hva 0x%llx, flags%s%s%s\n",
		       s->id & 0xffff, s->id >> 16 ? " (SMM)" : "", (unsigned long long)s->gpa,
		       (unsigned long long)(s->gpa + s->size - 1),
		       (unsigned long long)(s->size >> 10), (unsigned long long)s->hva,
		       s->flags & KVM_MEM_LOG_DIRTY_PAGES ? " log-dirty" : "",
		       s->flags & KVM_MEM_READONLY ? " readonly" : "", s->flags ? "" : " -");
	}
	if (kernel_err) {
		printf("guest kernel: not found (%s)\n", strerror(-kernel_err));
	} else {
		printf("guest kernel: %s\n", k->banner);
		printf("  virtual base 0x%llx (KASLR offset 0x%llx), physical base 0x%llx\n",
		       (unsigned long long)k->vbase, (unsigned long long)k->kaslr_offset,
		       (unsigned long long)k->pbase);
		printf("  %d-level paging; ksymtab layout %s, %zu exported symbols\n",
		       k->paging_levels, ksymtab_layout__name(k->layout), k->nsyms);
		inspect__layout_text(il);
	}
	printf("hypervisor held for %.3f ms (%lu ptrace requests)\n", hv->t.held_ns / 1e6,
	       hv->t.nr_ptrace);
}

static int memslot_by_as_gpa(const void *a, const void *b)
{
	const struct memslot *x = a, *y = b;

	if (x->id >> 16 != y->id >> 16)
		return x->id >> 16 < y->id >> 16 ? -1 : 1;
	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/*
 * Guest memory is read through address space 0 only (not SMM's): sort slots
 * by address space, then gpa, and return how many address space 0 has.
 */
static size_t count_as0_slots(struct hv *hv)
{
	size_t n = 0;

	qsort(hv->slots, hv->nslots, sizeof(*hv->slots), memslot_by_as_gpa);
	while (n < hv->nslots && !(hv->slots[n].id >> 16))
		n++;
	return n;
}

/* The vCPU whose CR3 maps the kernel: prefer one in kernel mode. */
static int pick_vcpu(const struct hv *hv, const struct inspect_vcpu *vs)
{
	int v = -1, best = 0;

	for (size_t i = 0; i < hv->nvcpus && best < 2; i++) {
		int rank = vs[i].valid ? vcpu__kernel_rank(&vs[i].sregs) : 0;

		if (rank > best) {
			v = (int)i;
			best = rank;
		}
	}
	return v;
}

int cmd_inspect(int argc, char **argv)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { "symbols", no_argument, NULL, 's' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	struct guest_kernel k = { 0 };
	struct inspect_layout il = { .btf_err = -ENOENT, .layout_err = -ENOENT };
	struct inspect_vcpu *vs = NULL;
	struct guest_mem mem;
	struct guest_mmu mmu;
	struct hv hv;
	char comm[64], exe[4096], path[64];
	bool json = false, symbols = false;
	int c, err, kernel_err = -ENOENT, mmu_err = 0, rc = 1, v = -1;
	ssize_t n;
	pid_t pid;

	while ((c = getopt_long(argc, argv, "+hjsv", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 's':
			symbols = true;
			break;
		case 'v':
			vmsh_verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || (pid = atoi(argv[optind])) <= 0) {
		usage(stderr);
		return 2;
	}

	read_proc_line(pid, "comm", comm, sizeof(comm));
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';

	err = hv__open(&hv, pid);
	if (err)
		return 1;
	vs = calloc(hv.nvcpus ? hv.nvcpus : 1, sizeof(*vs));
	if (!vs) {
		pr_err("out of memory");
		goto close;
	}
	for (size_t i = 0; i < hv.nvcpus; i++) {
		err = hv_vcpu_ioctl(&hv, i, KVM_GET_REGS, &vs[i].regs);
		if (!err)
			err = hv_vcpu_ioctl(&hv, i, KVM_GET_SREGS, &vs[i].sregs);
		if (err)
			goto close;
		vs[i].valid = true;
	}
	err = hv__read_memslots(&hv);
	mem = (struct guest_mem){ .slots = hv.slots,
				  .nslots = count_as0_slots(&hv),
				  .read_hva = guest__read_hva_process,
				  .ctx = &pid };
	v = err ? -1 : pick_vcpu(&hv, vs);
	/* in the hold: the CR3 may be a short-lived process's, its tables freed once it runs */
	if (v >= 0)
		mmu_err =
		    pagemap__kernel_mmu(&mem, vs[v].sregs.cr3, vs[v].sregs.cr4 & CR4_LA57, &mmu);
close:
	if (hv__close(&hv) || !vs || err)
		goto out;
	pr_info("held the hypervisor for %.3f ms", hv.t.held_ns / 1e6);

	if (v < 0) {
		pr_err("no vCPU is in long mode: is the guest a 64-bit Linux that has booted?");
	} else {
		kernel_err = mmu_err ? mmu_err : guest__find_kernel(&mem, &mmu, &k);
		if (!kernel_err && !symbols) {
			il.btf_err = kbtf__find(&mem, &mmu, &k, &il.btf);
			il.layout_err = kbtf__layout(il.btf.btf ? &il.btf : NULL, k.banner, &il.l);
		}
	}
	if (symbols) {
		for (size_t i = 0; !kernel_err && i < k.nsyms; i++)
			printf("%016llx %s\n", (unsigned long long)k.syms[i].addr, k.syms[i].name);
	} else if (json) {
		json_object *o = inspect__json(&hv, vs, &k, kernel_err, &il, comm, exe);
		printf("%s\n", json_object_to_json_string_ext(
				   o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		inspect__text(&hv, vs, &k, kernel_err, &il, comm, exe);
	}
	rc = kernel_err ? 1 : 0;
out:
	kbtf__free(&il.btf);
	guest__kernel_free(&k);
	hv__free(&hv);
	free(vs);
	return rc;
}
