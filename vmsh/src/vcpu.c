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
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "kvmrun.h"
#include "util.h"
#include "vcpu.h"

#define RFLAGS_IF (1ULL << 9)
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

/*
 * Why a vCPU's last exit is not finished (see vcpu.h). KVM_RUN returned an
 * exit the hypervisor must complete (KVM_EXIT_MMIO, _IO, ...) and the
 * thread has not run KVM_RUN again yet: KVM keeps the instruction half-done
 * (vcpu->mmio_needed, arch.pio.count) with arch.complete_userspace_io set,
 * and the next KVM_RUN calls that completion before anything else:
 * complete_emulated_mmio() re-enters the emulator with the instruction it
 * decoded (EMULTYPE_NO_DECODE), writes the read's data into the register and
 * sets RIP from the emulator's own copy, past the instruction: a RIP set
 * meanwhile is overwritten, and stage1 would never run. complete_fast_pio_*
 * see RIP changed and drop the access; the OUT or IN is then executed again
 * when stage1 returns to it: a device gets the same I/O twice. Only a KVM_RUN
 * that returned -EINTR with KVM_EXIT_INTR (a signal, our PTRACE_INTERRUPT)
 * leaves nothing behind. A stale exit_reason after an -EINTR (immediate_exit,
 * which in older kernels returned before the completion ran) fails too.
 */
const char *vcpu__exit_unfinished(const struct user_regs_struct *r, int fd, uint32_t exit_reason)
{
	if (!r)
		return "its thread is unknown";
	if ((long)r->orig_rax != SYS_ioctl || r->rsi != KVM_RUN ||
	    r->rdi != (unsigned long long)(unsigned)fd)
		return "its thread is outside KVM_RUN (an exit may be in progress)";
	if ((long)r->rax != -EINTR)
		return "its KVM_RUN returned an exit the hypervisor has not completed";
	if (exit_reason != KVM_EXIT_INTR)
		return "its last exit was not KVM_EXIT_INTR";
	return NULL;
}

/* Where each vCPU's kvm_run is mapped in the hypervisor (once, /proc/PID/maps). */
static int vcpu__find_runs(struct hv *hv)
{
	struct kvmrun_vcpu *rv;
	int err;

	if (hv->nvcpus && hv->vcpus[0].run_hva)
		return 0;
	rv = calloc(hv->nvcpus, sizeof(*rv));
	if (!rv)
		return -ENOMEM;
	for (size_t i = 0; i < hv->nvcpus; i++)
		rv[i].index = hv->vcpus[i].index;
	err = kvmrun__find_runs(hv->t.pid, rv, hv->nvcpus);
	for (size_t i = 0; !err && i < hv->nvcpus; i++)
		hv->vcpus[i].run_hva = rv[i].run_hva;
	free(rv);
	return err;
}

/* vcpu__exit_unfinished for vCPU i of a held hypervisor. */
static const char *vcpu__exit_state(struct hv *hv, size_t i)
{
	const struct user_regs_struct *r = NULL;
	uint32_t reason = KVM_EXIT_UNKNOWN;
	pid_t pid = hv->t.pid;

	for (size_t t = 0; hv->vcpus[i].tid && t < hv->t.nthreads; t++)
		if (hv->t.threads[t].tid == hv->vcpus[i].tid && hv->t.threads[t].attached)
			r = &hv->t.threads[t].regs;
	if (guest__read_hva_process(&pid,
				    hv->vcpus[i].run_hva + offsetof(struct kvm_run, exit_reason),
				    &reason, sizeof(reason)))
		return "its kvm_run cannot be read";
	return vcpu__exit_unfinished(r, hv->vcpus[i].fd, reason);
}

int vcpu__pick(struct hv *hv, struct vcpu_state *s)
{
	int err = vcpu__find_runs(hv);

	if (err)
		return err;
	for (size_t i = 0; i < hv->nvcpus; i++) {
		const char *why = vcpu__exit_state(hv, i);

		if (why) {
			pr_debug("vCPU %d cannot take the entry now: %s", hv->vcpus[i].index, why);
			continue;
		}
		err = vcpu__read(hv, i, s);
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

int vcpu__kernel_rank(const struct kvm_sregs *s)
{
	if (!(s->cr0 & CR0_PE) || !(s->efer & EFER_LMA))
		return 0;
	return (s->cs.selector & 3) ? 1 : 2;
}

int vcpu__kernel_mmu(struct hv *hv, struct guest_mmu *mmu)
{
	int v = -ENOENT, best = 0;

	for (size_t i = 0; i < hv->nvcpus && best < 2; i++) {
		struct kvm_sregs sregs;
		int err = hv_vcpu_ioctl(hv, i, KVM_GET_SREGS, &sregs), rank;

		if (err)
			return err;
		rank = vcpu__kernel_rank(&sregs);
		if (rank <= best)
			continue;
		/* CPL 0: the kernel's tables, unless in the PTI entry code */
		*mmu = (struct guest_mmu){ .cr3 = sregs.cr3, .la57 = sregs.cr4 & CR4_LA57 };
		v = (int)i;
		best = rank;
	}
	return v;
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
