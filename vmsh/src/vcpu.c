// SPDX-License-Identifier: GPL-2.0
/*
 * Entering the guest kernel through one vCPU. See vcpu.h for the contract.
 *
 * Why "as if an interrupt arrived" is the rule: stage1's entry queues work
 * with queue_work_on(), which is safe in hard-IRQ context and nowhere less
 * safe. Where RFLAGS.IF is set at CPL 0, the kernel holds no lock taken with
 * interrupts off (spin_lock_irq*), so an interrupt handler, and our entry,
 * cannot deadlock on one. Events KVM is injecting (an exception, an NMI, an
 * interrupt whose delivery began) and an interrupt shadow (after STI or
 * MOV SS) would be delivered or matter on the very next instruction, which
 * would then be ours: those states wait.
 */
#include <errno.h>
#include <string.h>

#include "util.h"
#include "vcpu.h"

#define RFLAGS_IF (1ULL << 9)
#define EFER_LMA (1ULL << 10)
#define KERNEL_HALF 0xffff800000000000ULL

int vcpu__read(struct hv *hv, size_t vcpu, struct vcpu_state *s)
{
	int err;

	memset(s, 0, sizeof(*s));
	err = hv_vcpu_ioctl(hv, vcpu, KVM_GET_REGS, &s->regs);
	if (!err)
		err = hv_vcpu_ioctl(hv, vcpu, KVM_GET_SREGS, &s->sregs);
	if (!err)
		err = hv_vcpu_ioctl(hv, vcpu, KVM_GET_VCPU_EVENTS, &s->events);
	if (!err)
		err = hv_vcpu_ioctl(hv, vcpu, KVM_GET_MP_STATE, &s->mp);
	return err;
}

const char *vcpu__cannot_enter(const struct vcpu_state *s)
{
	if (!(s->sregs.efer & EFER_LMA))
		return "not in long mode";
	if (s->sregs.cs.selector & 3)
		return "in user mode";
	if (s->regs.rip < KERNEL_HALF)
		return "not in the kernel's half of the address space";
	if (!(s->regs.rflags & RFLAGS_IF))
		return "interrupts disabled";
	if (s->events.exception.injected || s->events.exception.pending)
		return "an exception is being delivered";
	if (s->events.interrupt.injected || s->events.nmi.injected)
		return "an interrupt is being delivered";
	if (s->events.interrupt.shadow)
		return "in an interrupt shadow";
	if ((s->events.flags & KVM_VCPUEVENT_VALID_SMM) && s->events.smi.smm)
		return "in system management mode";
	if (s->mp.mp_state != KVM_MP_STATE_RUNNABLE && s->mp.mp_state != KVM_MP_STATE_HALTED)
		return "not running (waiting for INIT/SIPI)";
	return NULL;
}

int vcpu__pick(struct hv *hv, struct vcpu_state *s)
{
	for (size_t i = 0; i < hv->nvcpus; i++) {
		const char *why;
		int err = vcpu__read(hv, i, s);

		if (err)
			return err;
		why = vcpu__cannot_enter(s);
		if (!why)
			return (int)i;
		pr_debug("vCPU %d cannot take the entry now: %s (rip 0x%llx)", hv->vcpus[i].index,
			 why, (unsigned long long)s->regs.rip);
	}
	return -EAGAIN;
}

int vcpu__enter(struct hv *hv, size_t vcpu, const struct vcpu_state *s, uint64_t entry)
{
	struct kvm_regs regs = s->regs;
	int err;

	regs.rip = entry;
	err = hv_vcpu_ioctl(hv, vcpu, KVM_SET_REGS, &regs);
	if (err || s->mp.mp_state != KVM_MP_STATE_HALTED)
		return err;
	struct kvm_mp_state runnable = { .mp_state = KVM_MP_STATE_RUNNABLE };
	err = hv_vcpu_ioctl(hv, vcpu, KVM_SET_MP_STATE, &runnable);
	if (err) {
		/* leave it as found: halted at its own RIP */
		regs.rip = s->regs.rip;
		hv_vcpu_ioctl(hv, vcpu, KVM_SET_REGS, &regs);
	}
	return err;
}
