/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The KVM_RUN trap: MMIO exits of the hypervisor's vCPUs, served by vmsh
 * while the hypervisor runs, without hypervisor support.
 *
 * Only the vCPU threads are traced, with PTRACE_SYSCALL. At the exit of an
 * ioctl(vcpu_fd, KVM_RUN) that returned 0 with KVM_EXIT_MMIO at an address
 * vmsh claims, vmsh serves the access (a read's data goes into the vCPU's
 * kvm_run, which the kernel copies into the guest's register on the next
 * KVM_RUN) and rewinds the thread onto its `syscall` instruction with the
 * same arguments: the thread enters KVM_RUN again at once and the hypervisor
 * never sees that exit. Every other stop is passed on untouched: signals are
 * delivered, group-stops are kept with PTRACE_LISTEN.
 *
 * The tracer is the thread that called kvmrun__start(); ptrace stops reach
 * it as SIGCHLD, so an event loop polls a signalfd for SIGCHLD and calls
 * kvmrun__dispatch(). If vmsh dies, the kernel detaches the threads: a claimed
 * address then reaches the hypervisor as an unknown MMIO access, which
 * QEMU-like hypervisors ignore (reads give 0).
 */
#ifndef VMSH_KVMRUN_H
#define VMSH_KVMRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct kvmrun_vcpu {
	int index;	  /* N of anon_inode:kvm-vcpu:N */
	int fd;		  /* the vCPU fd in the hypervisor */
	pid_t tid;	  /* its thread (seen in KVM_RUN on fd) */
	uint64_t run_hva; /* its struct kvm_run, mapped in the hypervisor */
	/* Private to kvmrun.c. */
	bool traced, stopped;
	bool paused;	/* kept stopped by kvmrun__pause or kvmrun__start_paused */
	int resume_req; /* how to resume it from there (PTRACE_SYSCALL or _LISTEN) */
};

struct kvmrun {
	pid_t pid;
	struct kvmrun_vcpu *vcpus;
	size_t nvcpus;
	/*
	 * Whether vmsh serves an access of len bytes at gpa, and serving it:
	 * data holds a write's bytes, or receives a read's. Called on the
	 * tracer thread only.
	 */
	bool (*claims)(void *ctx, uint64_t gpa, uint32_t len);
	void (*serve)(void *ctx, uint64_t gpa, uint8_t data[8], uint32_t len, bool is_write);
	void *ctx;
	unsigned long served, stops; /* MMIO exits served; ptrace stops seen */
};

/*
 * Find where the hypervisor maps each vCPU's struct kvm_run
 * (/proc/PID/maps: anon_inode:kvm-vcpu:N) into vcpus[].run_hva; -ENOENT if
 * one is not mapped.
 */
int kvmrun__find_runs(pid_t pid, struct kvmrun_vcpu *vcpus, size_t n);
/*
 * One line of /proc/PID/maps: the vCPU index N if it maps the kvm_run of
 * anon_inode:kvm-vcpu:N (file offset 0; not the dirty ring or another page
 * of the fd), its start in *start; else -1.
 */
int kvmrun__parse_run_map(const char *line, uint64_t *start);

/*
 * Trace every vCPU thread (tid != 0) with PTRACE_SYSCALL; SIGCHLD must be
 * blocked in the calling thread (for a signalfd). On failure nothing stays
 * traced.
 */
int kvmrun__start(struct kvmrun *k);

/*
 * Pause: every traced vCPU thread stopped and kept stopped (an MMIO exit it
 * stops at is served first; a signal that comes first is delivered). The
 * vCPUs then run no guest code, so no access can reach the hypervisor,
 * until kvmrun__resume() (traced again) or kvmrun__stop() (detached): for
 * changes to the VM that must never leave an untrapped moment. The paused
 * threads are the caller's to keep: tracee__attach_except() the others.
 */
int kvmrun__pause(struct kvmrun *k);
int kvmrun__resume(struct kvmrun *k);
/* kvmrun__start, but the threads stay paused. */
int kvmrun__start_paused(struct kvmrun *k);
/* The tids of the traced threads (at most max): for tracee__attach_except. */
size_t kvmrun__tids(const struct kvmrun *k, pid_t *tids, size_t max);

/*
 * Handle every stop that is waiting, without blocking. 0, or -ESRCH when
 * the hypervisor is gone (every vCPU thread exited).
 */
int kvmrun__dispatch(struct kvmrun *k);

/*
 * Stop tracing: each vCPU thread is interrupted, an MMIO exit it was in is
 * served first, and it is detached with its signals. 0 or a negative errno.
 */
int kvmrun__stop(struct kvmrun *k);

#endif
