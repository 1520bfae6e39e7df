/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The hypervisor, held from outside: its KVM file descriptors, found in
 * /proc, and KVM ioctls run inside it by syscall injection (KVM refuses VM
 * and vCPU ioctls from any process but the one that created the VM).
 *
 * Every ioctl has two wrappers, after the KVM selftests: __hv_ioctl() returns
 * the ioctl's result; hv_vm_ioctl()/hv_vcpu_ioctl() also print an error that
 * names the ioctl, and return a negative errno.
 */
#ifndef VMSH_HV_H
#define VMSH_HV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "memslot.h"
#include "tracee.h"

struct hv_vcpu {
	int index;	  /* N of anon_inode:kvm-vcpu:N */
	int fd;		  /* in the hypervisor */
	pid_t tid;	  /* the thread found in KVM_RUN on it, 0 if unknown */
	uint64_t run_hva; /* its struct kvm_run in the hypervisor, 0 until looked up */
};

struct hv {
	struct tracee t;
	int vm_fd; /* in the hypervisor */
	struct hv_vcpu *vcpus;
	size_t nvcpus;
	uint64_t scratch; /* a mapping in the hypervisor for ioctl arguments */
	size_t scratch_size;
	struct memslot *slots; /* every address space; as_id in id >> 16 */
	size_t nslots;
	size_t nthreads; /* threads held, kept after hv__close */
	struct memslots_probe *probe;
};

/* Find the VM and vCPU fds of pid; -ENOENT with a message if it has no VM. */
int hv__find_kvm_fds(pid_t pid, int *vm_fd, struct hv_vcpu **vcpus, size_t *nvcpus);

/*
 * Fill vcpus[].tid from the threads of t (held): a thread interrupted in
 * ioctl(fd, KVM_RUN) runs the vCPU behind fd; the others keep their tid.
 */
void hv__map_vcpu_threads(const struct tracee *t, struct hv_vcpu *vcpus, size_t nvcpus);

/*
 * Find the VM, load the memslot probe, attach to every thread, map scratch
 * memory in the hypervisor.
 */
int hv__open(struct hv *hv, pid_t pid);
/* Read the memslots (eBPF) into hv->slots (again: the old array is freed). */
int hv__read_memslots(struct hv *hv);
/*
 * The slot of address space 0 that holds gpa if KVM logs its dirty pages
 * (KVM_MEM_LOG_DIRTY_PAGES: live migration, savevm, a dirty-rate
 * measurement), else NULL.
 */
const struct memslot *hv__dirty_logged(const struct memslot *slots, size_t nslots, uint64_t gpa);
/* Unmap the scratch memory and detach: the hypervisor runs on, as it was. */
int hv__close(struct hv *hv);
/* Free what hv__open and hv__read_memslots allocated (after hv__close). */
void hv__free(struct hv *hv);

/*
 * Run ioctl(fd, req, arg) in the hypervisor. arg (argsize bytes, may be 0)
 * is copied into the scratch mapping before and back after the call.
 * Returns 0 and the ioctl's result in *ret, or a negative errno if the
 * injection failed.
 */
int __hv_ioctl(struct hv *hv, int fd, unsigned long req, void *arg, size_t argsize, long *ret);
/* ioctl(fd, req, arg) in the hypervisor with an integer argument (KVM_CHECK_EXTENSION). */
int __hv_ioctl_value(struct hv *hv, int fd, unsigned long req, long arg, long *ret);
/* As __hv_ioctl, but a failing ioctl is an error named after the request. */
int hv__checked_ioctl(struct hv *hv, int fd, unsigned long req, const char *name, void *arg,
		      size_t argsize);

#define hv_vm_ioctl(hv, req, arg) hv__checked_ioctl(hv, (hv)->vm_fd, req, #req, arg, sizeof(*(arg)))
#define hv_vcpu_ioctl(hv, vcpu, req, arg)                                                          \
	hv__checked_ioctl(hv, (hv)->vcpus[vcpu].fd, req, #req, arg, sizeof(*(arg)))

#endif
