// SPDX-License-Identifier: GPL-2.0
#include "hv.h"

#include <dirent.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "memslots.h"
#include "util.h"

#define SCRATCH_SIZE (4 * 4096)

int hv__find_kvm_fds(pid_t pid, int *vm_fd, struct hv_vcpu **vcpus, size_t *nvcpus)
{
	char path[64], target[128];
	struct dirent *de;
	struct hv_vcpu *v = NULL;
	size_t n = 0;
	DIR *dir;

	*vm_fd = -1;
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir) {
		int e = errno;
		pr_err("cannot list the fds of process %d: %s", pid, strerror(e));
		return -e;
	}
	while ((de = readdir(dir))) {
		char link[64 + sizeof(de->d_name)];
		ssize_t len;
		int fd, index;

		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = '\0';
		if (!strcmp(target, "anon_inode:kvm-vm")) {
			if (*vm_fd >= 0) {
				pr_err("process %d has more than one KVM VM (fds %d and %d); "
				       "vmsh supports one VM per hypervisor process",
				       pid, *vm_fd, fd);
				goto fail;
			}
			*vm_fd = fd;
		} else if (sscanf(target, "anon_inode:kvm-vcpu:%d", &index) == 1) {
			struct hv_vcpu *nv = realloc(v, (n + 1) * sizeof(*v));
			if (!nv)
				goto fail;
			v = nv;
			v[n++] = (struct hv_vcpu){ .index = index, .fd = fd };
		}
	}
	closedir(dir);
	if (*vm_fd < 0) {
		pr_err(
		    "process %d has no KVM VM (no anon_inode:kvm-vm fd): is it a KVM hypervisor?",
		    pid);
		free(v);
		return -ENOENT;
	}
	/* vCPUs in index order, whatever order /proc lists fds in */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && v[j - 1].index > v[j].index; j--) {
			struct hv_vcpu tmp = v[j];
			v[j] = v[j - 1];
			v[j - 1] = tmp;
		}
	*vcpus = v;
	*nvcpus = n;
	return 0;
fail:
	closedir(dir);
	free(v);
	return -EINVAL;
}

#define PF_USER_WORKER 0x00004000 /* <linux/sched.h>, since 6.4 */
#define PF_IO_WORKER 0x00000010

/*
 * A kernel worker living in the process (KVM's NX huge page recovery thread
 * since 6.13, io_uring workers): it is created from a vCPU thread's KVM_RUN
 * and shows that thread's registers, so it looks like a vCPU thread.
 */
static bool hv__is_worker(pid_t pid, pid_t tid)
{
	char path[64], buf[512];
	unsigned long flags;
	const char *p;
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	f = fopen(path, "re");
	if (!f)
		return false;
	ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	/* after "(comm)": state ppid pgrp session tty_nr tpgid flags */
	p = ok ? strrchr(buf, ')') : NULL;
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
		return false;
	return flags & (PF_USER_WORKER | PF_IO_WORKER);
}

/* A thread interrupted in ioctl(fd, KVM_RUN) runs the vCPU behind fd. */
void hv__map_vcpu_threads(const struct tracee *t, struct hv_vcpu *vcpus, size_t nvcpus)
{
	for (size_t i = 0; i < t->nthreads; i++) {
		const struct user_regs_struct *r = &t->threads[i].regs;

		if ((long)r->orig_rax != SYS_ioctl || r->rsi != KVM_RUN ||
		    hv__is_worker(t->pid, t->threads[i].tid))
			continue;
		for (size_t v = 0; v < nvcpus; v++)
			if ((unsigned long long)vcpus[v].fd == r->rdi)
				vcpus[v].tid = t->threads[i].tid;
	}
}

static int hv__syscall(struct hv *hv, long *ret, long nr, long a0, long a1, long a2, long a3,
		       long a4, long a5)
{
	const long a[6] = { a0, a1, a2, a3, a4, a5 };
	return tracee__syscall(&hv->t, ret, nr, a);
}

int hv__open(struct hv *hv, pid_t pid)
{
	long addr;
	int err;

	*hv = (struct hv){ .vm_fd = -1 };
	err = hv__find_kvm_fds(pid, &hv->vm_fd, &hv->vcpus, &hv->nvcpus);
	if (err)
		return err;
	/* Loading and verifying BPF is slow: do it while the hypervisor runs. */
	err = memslots__open(pid, &hv->probe);
	if (err)
		goto free_vcpus;
	err = tracee__attach(&hv->t, pid);
	if (err)
		goto free_vcpus;
	hv->nthreads = hv->t.nthreads;
	hv__map_vcpu_threads(&hv->t, hv->vcpus, hv->nvcpus);

	err = hv__syscall(hv, &addr, SYS_mmap, 0, SCRATCH_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (err)
		goto detach;
	if (addr < 0 && addr > -4096) {
		pr_err("mmap of %d bytes inside the hypervisor failed: %s", SCRATCH_SIZE,
		       strerror((int)-addr));
		err = (int)addr;
		goto detach;
	}
	hv->scratch = (uint64_t)addr;
	hv->scratch_size = SCRATCH_SIZE;
	pr_debug("scratch memory at 0x%lx in the hypervisor", addr);
	return 0;

detach:
	tracee__detach(&hv->t);
free_vcpus:
	memslots__close(hv->probe);
	hv->probe = NULL;
	free(hv->vcpus);
	hv->vcpus = NULL;
	return err;
}

int __hv_ioctl(struct hv *hv, int fd, unsigned long req, void *arg, size_t argsize, long *ret)
{
	int err;

	if (argsize > hv->scratch_size) {
		pr_err("ioctl argument of %zu bytes exceeds the scratch mapping", argsize);
		return -E2BIG;
	}
	if (argsize) {
		err = tracee__write(&hv->t, hv->scratch, arg, argsize);
		if (err)
			return err;
	}
	err = hv__syscall(hv, ret, SYS_ioctl, fd, (long)req, argsize ? (long)hv->scratch : 0, 0, 0,
			  0);
	if (err)
		return err;
	if (argsize && *ret >= 0)
		return tracee__read(&hv->t, hv->scratch, arg, argsize);
	return 0;
}

int __hv_ioctl_value(struct hv *hv, int fd, unsigned long req, long arg, long *ret)
{
	return hv__syscall(hv, ret, SYS_ioctl, fd, (long)req, arg, 0, 0, 0);
}

int hv__checked_ioctl(struct hv *hv, int fd, unsigned long req, const char *name, void *arg,
		      size_t argsize)
{
	long ret;
	int err = __hv_ioctl(hv, fd, req, arg, argsize, &ret);

	if (err)
		return err;
	if (ret < 0) {
		pr_err("%s on fd %d inside the hypervisor failed: %s", name, fd,
		       strerror((int)-ret));
		return (int)ret;
	}
	return 0;
}

/* Make the hypervisor issue a harmless ioctl on its VM fd: the eBPF kprobe fires. */
static int hv__poke_vm(void *ctx)
{
	struct hv *hv = ctx;
	long ret;
	int err = __hv_ioctl_value(hv, hv->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY, &ret);

	if (!err && ret < 0) {
		pr_err("KVM_CHECK_EXTENSION on the VM fd inside the hypervisor failed: %s",
		       strerror((int)-ret));
		err = (int)ret;
	}
	return err;
}

int hv__read_memslots(struct hv *hv)
{
	struct memslot *slots;
	size_t n;
	int err = memslots__collect(hv->probe, hv__poke_vm, hv, &slots, &n);

	if (err)
		return err;
	free(hv->slots);
	hv->slots = slots;
	hv->nslots = n;
	return 0;
}

const struct memslot *hv__dirty_logged(const struct memslot *slots, size_t nslots, uint64_t gpa)
{
	for (size_t i = 0; i < nslots; i++)
		if (!(slots[i].id >> 16) && (slots[i].flags & KVM_MEM_LOG_DIRTY_PAGES) &&
		    gpa >= slots[i].gpa && gpa - slots[i].gpa < slots[i].size)
			return &slots[i];
	return NULL;
}

int hv__close(struct hv *hv)
{
	int err = 0;

	if (hv->scratch) {
		long ret;
		err = hv__syscall(hv, &ret, SYS_munmap, (long)hv->scratch, (long)hv->scratch_size,
				  0, 0, 0, 0);
		if (!err && ret < 0)
			pr_err("munmap of the scratch mapping in the hypervisor failed: %s",
			       strerror((int)-ret));
		hv->scratch = 0;
	}
	if (tracee__detach(&hv->t))
		err = -EIO;
	memslots__close(hv->probe);
	hv->probe = NULL;
	return err;
}

void hv__free(struct hv *hv)
{
	free(hv->vcpus);
	free(hv->slots);
	hv->vcpus = NULL;
	hv->slots = NULL;
}
