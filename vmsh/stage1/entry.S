/* SPDX-License-Identifier: GPL-2.0 */
/*
 * stage1_entry: vmsh points one vCPU's RIP here while it runs kernel code
 * with interrupts enabled, and leaves the interrupted RIP in
 * stage1_abi.orig_rip. Everything else (GPRs, RFLAGS, the stack) is the
 * interrupted code's and is given back exactly: the original RIP is pushed
 * into a slot made below the interrupted stack pointer and reached with
 * `ret`, because an indirect jmp to it would fault on IBT kernels (it is
 * no branch target). Kernel code runs without a red zone, so the bytes
 * below RSP are free.
 */
#include "stage1_abi.h"

	.text
	.globl stage1_entry
	.hidden stage1_entry
	.type stage1_entry, @function
stage1_entry:
	endbr64
	/* lea, not sub: the flags are not saved yet */
	lea -8(%rsp), %rsp
	pushfq
	push %rax
	/*
	 * Interrupts off for the whole entry (in the guest kernel: CPL 0; the
	 * user-space unit test, CPL 3, may not cli and skips it). Why: an
	 * interrupt taken inside the entry could preempt this task (PREEMPT,
	 * PREEMPT_RT) with its RIP, or a return address on its stack, in
	 * stage1, where no vmsh RIP check sees it. With IF clear from here to
	 * the final `sti; ret` (the STI shadow covers the ret), the task is
	 * either before this point (it has run nothing of stage1's: no state
	 * is set, so vmsh never believes the entry ran, and keeps stage1's
	 * memory) or runs to the original RIP without a scheduling point;
	 * only an NMI or MCE can come in between, and those never schedule.
	 * queue_work_on is safe with interrupts off (it saves and restores
	 * them itself; its locks are raw spinlocks, also on PREEMPT_RT).
	 */
	mov %cs, %eax
	test $3, %al
	jnz 1f
	cli
1:
	/* The C code needs DF clear (popfq restores it). */
	cld
	push %rcx
	push %rdx
	push %rbx
	push %rbp
	push %rsi
	push %rdi
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	/* 15 registers and RFLAGS below the return slot */
	mov stage1_abi+STAGE1_ABI_OFF_ORIG_RIP(%rip), %rax
	mov %rax, 128(%rsp)
	mov %rsp, %rbx
	and $-16, %rsp
	call stage1_enter
	mov %rbx, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rdi
	pop %rsi
	pop %rbp
	pop %rbx
	pop %rdx
	pop %rcx
	/*
	 * IF as it was: vmsh enters only where interrupts were on, and then
	 * `sti` turns them on again only after the `ret` (its shadow); from
	 * a CPL 3 test, or where IF was clear, just popfq.
	 */
	mov %cs, %eax
	test $3, %al
	jnz 2f
	btrq $9, 8(%rsp)
	jnc 2f
	pop %rax
	popfq
	sti
	ret
2:
	pop %rax
	popfq
	ret
	.size stage1_entry, . - stage1_entry

/*
 * stage1_worker(work): the work function the kernel calls in a kworker.
 * stage1_work() does everything and returns the final state (DONE or
 * ERROR); that store, the one after which vmsh may take stage1's memory
 * away, is not stage1's: stage1_worker tail-calls the kernel's memcpy to
 * make it (one byte: the state's low byte, the rest is 0 already), with
 * its own frame gone, so memcpy returns straight into the workqueue code.
 * Until the store, the task may be preempted anywhere (PREEMPT_RT) and vmsh
 * waits; from the store on, the task runs only kernel code, and nothing of
 * stage1's is on its stack. process_one_work() does not touch the work item
 * after its function returns (the function may free it).
 */
	.text
	.globl stage1_worker
	.hidden stage1_worker
	.type stage1_worker, @function
stage1_worker:
	endbr64
	sub $8, %rsp
	call stage1_work
	add $8, %rsp
	mov %al, stage1_final(%rip)
	lea stage1_abi+STAGE1_ABI_OFF_STATE(%rip), %rdi
	lea stage1_final(%rip), %rsi
	mov $1, %edx
	jmp *memcpy@GOTPCREL(%rip)
	.size stage1_worker, . - stage1_worker

	.section .note.GNU-stack, "", @progbits
