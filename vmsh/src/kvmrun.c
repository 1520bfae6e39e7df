// SPDX-License-Identifier: GPL-2.0
/*
 * The KVM_RUN trap (x86_64). See kvmrun.h for the contract.
 *
 * Stops of a thread under PTRACE_SEIZE + PTRACE_SYSCALL, and what we do:
 * - syscall-entry/-exit-stop (SIGTRAP | 0x80): at the exit of a successful
 *   KVM_RUN on the thread's vCPU fd, look at kvm_run; serve a claimed MMIO
 *   exit and rewind; then PTRACE_SYSCALL. Entry and exit are told apart by
 *   rax: the kernel sets it to -ENOSYS on entry, KVM_RUN returns 0.
 * - PTRACE_EVENT_STOP: our PTRACE_INTERRUPT (go on), or a group-stop
 *   (SIGSTOP and friends: PTRACE_LISTEN, so the thread stays stopped like
 *   the rest of its process, yet we see it when it continues).
 * - signal-delivery-stop: the signal is passed on (PTRACE_SYSCALL with it);
 *   QEMU kicks its vCPU threads with signals, they must arrive.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest.h"
#include "kvmrun.h"
#include "util.h"

#define SYSCALL_INSN_LEN 2 /* `syscall` (0f 05), like `int $0x80` (cd 80) */

/* Every request goes through here, so that vmsh_ptrace_requests counts it. */
static long kvmrun__ptrace(enum __ptrace_request req, pid_t tid, void *addr, void *data)
{
	vmsh_ptrace_requests++;
	return ptrace(req, tid, addr, data);
}

int kvmrun__parse_run_map(const char *line, uint64_t *start)
{
	uint64_t end, offset;
	int index, used = 0;
	const char *name = strstr(line, "anon_inode:kvm-vcpu:");

	/* start-end perms offset dev inode path */
	if (!name ||
	    sscanf(line, "%" SCNx64 "-%" SCNx64 " %*s %" SCNx64, start, &end, &offset) != 3 ||
	    sscanf(name, "anon_inode:kvm-vcpu:%d%n", &index, &used) != 1 || !used)
		return -1;
	/*
	 * kvm_run is page 0 of the vCPU fd; the PIO data and coalesced MMIO
	 * pages follow it, and the dirty ring is mapped on its own at page
	 * KVM_DIRTY_LOG_PAGE_OFFSET (64), perhaps below kvm_run's address.
	 */
	if (offset != 0 || end <= *start)
		return -1;
	return index;
}

int kvmrun__find_runs(pid_t pid, struct kvmrun_vcpu *vcpus, size_t n)
{
	char path[64], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f) {
		int err = -errno;
		pr_err("unable to read %s: %s", path, strerror(errno));
		return err;
	}
	for (size_t i = 0; i < n; i++)
		vcpus[i].run_hva = 0;
	while (fgets(line, sizeof(line), f)) {
		uint64_t start;
		int index = kvmrun__parse_run_map(line, &start);

		if (index < 0)
			continue;
		for (size_t i = 0; i < n; i++)
			if (vcpus[i].index == index && !vcpus[i].run_hva)
				vcpus[i].run_hva = start;
	}
	fclose(f);
	for (size_t i = 0; i < n; i++) {
		if (!vcpus[i].run_hva) {
			pr_err("the hypervisor %d does not map vCPU %d's kvm_run", pid,
			       vcpus[i].index);
			return -ENOENT;
		}
	}
	return 0;
}

/*
 * A syscall stop of v's thread: serve and rewind a claimed MMIO exit of
 * KVM_RUN. Errors reading the hypervisor are reported and leave the exit to
 * the hypervisor.
 */
static void kvmrun__syscall_stop(struct kvmrun *k, struct kvmrun_vcpu *v)
{
	struct user_regs_struct regs;
	struct kvm_run run;
	const size_t head = offsetof(struct kvm_run, mmio) + sizeof(run.mmio);
	uint8_t data[8];
	int err;

	if (kvmrun__ptrace(PTRACE_GETREGS, v->tid, NULL, &regs) < 0)
		return;
	if ((long)regs.orig_rax != SYS_ioctl || regs.rsi != KVM_RUN ||
	    regs.rdi != (unsigned long long)v->fd || regs.rax != 0)
		return;
	err = guest__read_hva_process(&k->pid, v->run_hva, &run, head);
	if (err) {
		pr_err("unable to read vCPU %d's kvm_run: %s", v->index, strerror(-err));
		return;
	}
	if (run.exit_reason != KVM_EXIT_MMIO || run.mmio.len < 1 || run.mmio.len > 8 ||
	    !k->claims(k->ctx, run.mmio.phys_addr, run.mmio.len))
		return;
	memcpy(data, run.mmio.data, sizeof(data));
	k->serve(k->ctx, run.mmio.phys_addr, data, run.mmio.len, run.mmio.is_write);
	if (!run.mmio.is_write) {
		err = guest__write_hva_process(
		    &k->pid, v->run_hva + offsetof(struct kvm_run, mmio.data), data, sizeof(data));
		if (err) {
			pr_err("unable to write vCPU %d's MMIO data: %s", v->index, strerror(-err));
			return;
		}
	}
	/* into KVM_RUN again: the kernel completes the access on entry */
	regs.rax = regs.orig_rax;
	regs.rip -= SYSCALL_INSN_LEN;
	if (kvmrun__ptrace(PTRACE_SETREGS, v->tid, NULL, &regs) < 0) {
		pr_err("unable to rewind vCPU %d's thread %d: %s", v->index, v->tid,
		       strerror(errno));
		return;
	}
	k->served++;
}

static bool group_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

enum kvmrun_mode {
	KVMRUN_RESUME, /* go on tracing */
	KVMRUN_PAUSE,  /* keep it stopped, unless the stop is a signal's (delivered) */
};

/*
 * Handle one wait status of v's thread, then resume or pause it.
 * The MMIO exit of a syscall stop is served in every mode.
 */
static void kvmrun__handle(struct kvmrun *k, struct kvmrun_vcpu *v, int status,
			   enum kvmrun_mode mode)
{
	int sig = 0, event;
	enum __ptrace_request req;
	bool keepable = true; /* a stop the thread may be kept in (not a signal's) */

	k->stops++;
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		pr_debug("vCPU %d's thread %d exited", v->index, v->tid);
		v->traced = v->stopped = v->paused = false;
		return;
	}
	if (!WIFSTOPPED(status))
		return;
	v->stopped = true;
	event = status >> 16;
	if (WSTOPSIG(status) == (SIGTRAP | 0x80)) {
		kvmrun__syscall_stop(k, v);
		req = PTRACE_SYSCALL;
	} else if (event == PTRACE_EVENT_STOP) {
		req = group_stop_signal(WSTOPSIG(status)) ? PTRACE_LISTEN : PTRACE_SYSCALL;
	} else if (event) {
		req = PTRACE_SYSCALL;
		keepable = false;
	} else {
		sig = WSTOPSIG(status); /* a signal for the thread: deliver it */
		req = PTRACE_SYSCALL;
		keepable = false;
	}
	if (mode == KVMRUN_PAUSE && keepable) {
		v->paused = true;
		v->resume_req = req;
		return;
	}
	if (kvmrun__ptrace(req, v->tid, NULL, (void *)(uintptr_t)sig) < 0) {
		if (errno != ESRCH)
			pr_err("unable to resume vCPU %d's thread %d: %s", v->index, v->tid,
			       strerror(errno));
		else
			v->traced = false;
	}
	if (req != PTRACE_LISTEN)
		v->stopped = false;
}

/* Wait for the next stop of v's thread and handle it; -ESRCH if it is gone. */
static int kvmrun__wait_one(struct kvmrun *k, struct kvmrun_vcpu *v, enum kvmrun_mode mode)
{
	int status;
	pid_t r;

	do
		r = waitpid(v->tid, &status, __WALL);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		v->traced = v->stopped = v->paused = false;
		return -errno;
	}
	kvmrun__handle(k, v, status, mode);
	return 0;
}

/* After a PTRACE_INTERRUPT: wait until v's thread is paused; -ESRCH if gone. */
static int kvmrun__wait_paused(struct kvmrun *k, struct kvmrun_vcpu *v)
{
	while (v->traced && !v->paused) {
		int err = kvmrun__wait_one(k, v, KVMRUN_PAUSE);

		if (err)
			return err;
	}
	return v->traced ? 0 : -ESRCH;
}

int kvmrun__start_paused(struct kvmrun *k)
{
	int err = 0;

	k->served = k->stops = 0;
	for (size_t i = 0; i < k->nvcpus; i++) {
		struct kvmrun_vcpu *v = &k->vcpus[i];

		v->traced = v->stopped = v->paused = false;
		if (!v->tid)
			continue;
		if (kvmrun__ptrace(PTRACE_SEIZE, v->tid, NULL, (void *)PTRACE_O_TRACESYSGOOD) < 0 ||
		    kvmrun__ptrace(PTRACE_INTERRUPT, v->tid, NULL, NULL) < 0) {
			err = -errno;
			pr_err("unable to trace vCPU %d's thread %d: %s", v->index, v->tid,
			       strerror(errno));
			if (err != -ESRCH) /* seized but not interrupted */
				kvmrun__ptrace(PTRACE_DETACH, v->tid, NULL, NULL);
			goto undo;
		}
		v->traced = true;
		err = kvmrun__wait_paused(k, v);
		if (err) {
			pr_err("vCPU %d's thread %d is gone: %s", v->index, v->tid, strerror(-err));
			goto undo;
		}
	}
	return 0;
undo:
	kvmrun__stop(k);
	return err;
}

int kvmrun__pause(struct kvmrun *k)
{
	int err = 0;

	for (size_t i = 0; i < k->nvcpus; i++) {
		struct kvmrun_vcpu *v = &k->vcpus[i];

		if (v->traced && !v->paused &&
		    kvmrun__ptrace(PTRACE_INTERRUPT, v->tid, NULL, NULL) < 0 && errno == ESRCH)
			v->traced = v->stopped = false;
	}
	for (size_t i = 0; i < k->nvcpus; i++) {
		struct kvmrun_vcpu *v = &k->vcpus[i];

		if (v->traced && !v->paused && kvmrun__wait_paused(k, v) && !err) {
			pr_err("vCPU %d's thread %d is gone", v->index, v->tid);
			err = -ESRCH;
		}
	}
	return err;
}

int kvmrun__resume(struct kvmrun *k)
{
	int err = 0;

	for (size_t i = 0; i < k->nvcpus; i++) {
		struct kvmrun_vcpu *v = &k->vcpus[i];

		if (!v->traced || !v->paused)
			continue;
		v->paused = false;
		if (kvmrun__ptrace(v->resume_req, v->tid, NULL, NULL) < 0) {
			if (errno != ESRCH) {
				pr_err("unable to resume vCPU %d's thread %d: %s", v->index, v->tid,
				       strerror(errno));
				err = err ? err : -errno;
			}
			v->traced = false;
		}
		v->stopped = v->resume_req == PTRACE_LISTEN;
	}
	return err;
}

int kvmrun__start(struct kvmrun *k)
{
	int err = kvmrun__start_paused(k);

	if (!err)
		err = kvmrun__resume(k);
	if (err)
		kvmrun__stop(k);
	return err;
}

size_t kvmrun__tids(const struct kvmrun *k, pid_t *tids, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < k->nvcpus && n < max; i++)
		if (k->vcpus[i].traced)
			tids[n++] = k->vcpus[i].tid;
	return n;
}

int kvmrun__dispatch(struct kvmrun *k)
{
	size_t live = 0;

	for (size_t i = 0; i < k->nvcpus; i++) {
		struct kvmrun_vcpu *v = &k->vcpus[i];
		int status;
		pid_t r = 0;

		/* one thread at a time: a waitpid(-1) would reap vmsh's own children */
		while (v->traced && !v->paused &&
		       (r = waitpid(v->tid, &status, __WALL | WNOHANG)) > 0)
			kvmrun__handle(k, v, status, KVMRUN_RESUME);
		if (v->traced && r < 0 && errno == ECHILD)
			v->traced = v->stopped = false;
		live += v->traced;
	}
	return live ? 0 : -ESRCH;
}

int kvmrun__stop(struct kvmrun *k)
{
	/* paused first: an MMIO exit a thread stops at is served, then it goes */
	int err = kvmrun__pause(k);

	for (size_t i = 0; i < k->nvcpus; i++) {
		struct kvmrun_vcpu *v = &k->vcpus[i];

		if (v->traced && kvmrun__ptrace(PTRACE_DETACH, v->tid, NULL, NULL) < 0 &&
		    errno != ESRCH) {
			pr_err("unable to stop tracing vCPU %d's thread %d: %s", v->index, v->tid,
			       strerror(errno));
			err = err ? err : -errno;
		}
		v->traced = v->stopped = v->paused = false;
	}
	pr_debug("KVM_RUN trap: %lu MMIO exits served, %lu ptrace stops", k->served, k->stops);
	return err;
}
