/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ptrace core: hold every thread of a running process (the hypervisor),
 * run syscalls inside it, and give it back exactly as it was.
 *
 * - Every thread is seized (PTRACE_SEIZE with PTRACE_O_TRACECLONE, so threads
 *   created meanwhile are held too) and interrupted.
 * - Syscalls run in one thread (the leader when possible) by pointing its RIP
 *   at an existing `syscall` instruction: the thread's own (at RIP-2) when it
 *   was stopped inside a syscall, else one found in the process's executable
 *   mappings. No code is written, and between two injected syscalls the
 *   thread holds its own registers again, so a vmsh killed there leaves the
 *   thread as found (the kernel detaches it and it restarts or resumes its
 *   own syscall); see tracee.c's tracee__syscall for every point.
 * - Every wait for a thread has a deadline (tracee_deadline_ms): a thread
 *   that cannot reach a ptrace stop (a killable or uninterruptible wait:
 *   hung storage, a userfaultfd without its handler, a vfork parent) makes
 *   the hold fail with -ETIMEDOUT, naming the thread, its state and kernel
 *   function, after every other thread was let go as found. A per-thread
 *   timer with signal SIGRTMAX-2 (a handler that does nothing) interrupts
 *   a wait at its deadline.
 * - A thread interrupted inside a blocking syscall resumes it correctly: the
 *   kernel's restart codes (-ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND,
 *   -ERESTART_RESTARTBLOCK) are turned into a re-executed syscall on detach.
 *   Registers are restored as found and the kernel itself applies its restart
 *   rules on detach (PTRACE_DETACH sends the thread through its signal path),
 *   including "-EINTR because a handler ran" for a signal held meanwhile.
 * - Signals that arrive while vmsh holds the process are delivered on detach,
 *   each with the siginfo its sender made (si_code, si_value, si_addr).
 * - Every ptrace request is counted (nr_ptrace), and the time the process
 *   was held is measured.
 * All functions print an actionable message with pr_err() and return a
 * negative errno on failure.
 */
#ifndef VMSH_TRACEE_H
#define VMSH_TRACEE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

/*
 * How long a thread may take to reach a ptrace stop (interrupt, injected
 * syscall entry, re-raised signal) before the hold fails. Far above what a
 * running or interruptibly sleeping thread needs (microseconds; a loaded
 * nested lab: milliseconds), short enough for a user to wait.
 */
#define TRACEE_STOP_DEADLINE_MS 5000
/* An injected syscall may itself take a while (a large mmap, KVM ioctls). */
#define TRACEE_SYSCALL_DEADLINE_MS 20000
/* Signals caught while injecting that keep their own siginfo, per thread. */
#define TRACEE_MAX_HELD 8

/* The stop deadline in use: TRACEE_STOP_DEADLINE_MS; tests shorten it. */
extern unsigned int tracee_deadline_ms;

struct tracee_thread {
	pid_t tid;
	struct user_regs_struct regs; /* as found at the attach stop; restored on detach */
	int pending_signal;	      /* to deliver on detach, 0 if none */
	bool attached;
	/* Private to tracee.c. */
	bool stopped;		/* in a ptrace-stop (interrupt, group or signal-delivery) */
	bool resumed;		/* ran injected syscalls: signals swallowed */
	bool dirty;		/* registers are not regs now (inside an injection) */
	bool stuck;		/* seized, but never reached a stop by its deadline */
	uint64_t own_insn;	/* its own `syscall` at RIP-2; 0: none, 1: not checked */
	siginfo_t pending_info; /* siginfo of pending_signal, re-set on detach */
	siginfo_t more_info[TRACEE_MAX_HELD]; /* further signals caught while injecting */
	unsigned int nmore;
	uint64_t more_signals; /* bit s-1: signal s caught beyond more_info[] */
};

struct tracee {
	pid_t pid;
	int pidfd; /* pins the process against pid reuse */
	struct tracee_thread *threads;
	size_t nthreads;
	size_t inject_idx;     /* index in threads[] of the thread that runs injected syscalls */
	uint64_t syscall_insn; /* a `syscall` in an executable mapping; 0: not searched yet */
	unsigned long nr_ptrace;
	uint64_t held_since_ns, held_ns; /* CLOCK_MONOTONIC */
	const pid_t *skip; /* threads the caller holds already (tracee__attach_except) */
	size_t nskip;
};

/*
 * Seize and stop every thread of pid. On failure every thread that stopped
 * is let go as found; one that never stopped by its deadline (-ETIMEDOUT)
 * stays seized, with a stop pending, until it leaves its kernel wait and
 * stops, or until the caller exits (the kernel lets it go then): a caller
 * that gets -ETIMEDOUT should exit soon.
 */
int tracee__attach(struct tracee *t, pid_t pid);
/*
 * The same, except for the nskip threads in skip[], which the caller
 * traces and keeps stopped itself (vmsh's paused KVM_RUN trap): they are
 * neither seized, nor used, nor detached. skip must stay valid until
 * tracee__detach.
 */
int tracee__attach_except(struct tracee *t, pid_t pid, const pid_t *skip, size_t nskip);

/*
 * Run syscall nr(a[0..5]) inside the process. Returns 0 and the syscall's
 * own return value in *ret (a negative errno if the syscall failed), or a
 * negative errno if the injection itself failed (-ETIMEDOUT: the syscall did
 * not return within TRACEE_SYSCALL_DEADLINE_MS; the thread stays seized in
 * it, as for tracee__attach).
 */
int tracee__syscall(struct tracee *t, long *ret, long nr, const long a[6]);

/* Copy memory of the process (process_vm_readv/writev); -EFAULT if short. */
int tracee__read(const struct tracee *t, uint64_t addr, void *buf, size_t len);
int tracee__write(const struct tracee *t, uint64_t addr, const void *buf, size_t len);

/* Restore every register, deliver held signals, detach. Sets held_ns. */
int tracee__detach(struct tracee *t);

#endif
