/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Entering the guest kernel: one vCPU, stopped out of KVM_RUN while vmsh
 * holds the hypervisor, is pointed at stage1's entry so that it calls it
 * the next time it runs, as if an interrupt had arrived. Only a vCPU in a
 * state where an interrupt could be taken qualifies (vcpu__can_enter): long
 * mode, CPL 0, RFLAGS.IF set, no exception, interrupt or NMI being injected,
 * no interrupt shadow, not in SMM, runnable or halted. Only RIP changes (and a
 * halted vCPU is made runnable: it leaves HLT as an interrupt would make
 * it); stage1 returns to the original RIP itself, with every register as
 * it was.
 */
#ifndef VMSH_VCPU_H
#define VMSH_VCPU_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/user.h>

#include "guest.h"
#include "hv.h"

struct vcpu_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp;
};

/* Read a vCPU's state (KVM_GET_REGS/SREGS/VCPU_EVENTS/MP_STATE). */
int vcpu__read(struct hv *hv, size_t vcpu, struct vcpu_state *s);

/* Pure: NULL if the state can take an entry now, else why not (for messages). */
const char *vcpu__cannot_enter(const struct vcpu_state *s);

/*
 * Pure: NULL if a vCPU whose thread was stopped with registers r (NULL:
 * no thread known) and whose kvm_run shows exit_reason has no exit left
 * unfinished, else why (for messages). Only a thread stopped in
 * ioctl(fd, KVM_RUN) that returned -EINTR with KVM_EXIT_INTR qualifies:
 * after any other exit KVM completes the instruction on the next KVM_RUN
 * from state it kept, and a RIP set now would be lost or the I/O repeated.
 */
const char *vcpu__exit_unfinished(const struct user_regs_struct *r, int fd, uint32_t exit_reason);

/*
 * Pick the first vCPU that can take an entry now (vcpu__cannot_enter, and
 * vcpu__exit_unfinished for its thread held in hv->t and its kvm_run) and
 * read its state into *s: its index, or -EAGAIN when none can right now
 * (the caller lets the guest run a little and tries again), or another
 * negative errno.
 */
int vcpu__pick(struct hv *hv, struct vcpu_state *s);

/*
 * How well a vCPU's registers show the guest kernel's page tables: 2 in
 * long mode at CPL 0, 1 in long mode at another CPL (a process's tables:
 * their kernel half is the kernel's), 0 otherwise (not a 64-bit kernel
 * yet). Every command picks the first vCPU of the highest rank.
 */
int vcpu__kernel_rank(const struct kvm_sregs *s);

/*
 * The page tables of a vCPU in kernel mode (CPL 0), else of any in long
 * mode (vcpu__kernel_rank), into *mmu: the vCPU's index, -ENOENT if none is
 * in long mode, or the ioctl's negative errno.
 * With PTI even a CPL-0 vCPU may be on the user PGD for a few instructions
 * of the entry code: check the result with pagemap__kernel_root().
 */
int vcpu__kernel_mmu(struct hv *hv, struct guest_mmu *mmu);

/*
 * Point vCPU vcpu (state s, from vcpu__pick) at entry: KVM_SET_REGS with only
 * RIP changed, then KVM_SET_MP_STATE RUNNABLE if it was halted. The caller
 * has saved s->regs.rip where the entry code finds it.
 */
int vcpu__enter(struct hv *hv, size_t vcpu, const struct vcpu_state *s, uint64_t entry);

#endif
