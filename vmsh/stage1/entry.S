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
	/*
	 * The C code needs DF clear (popfq restores it). IF stays as it was
	 * (set): with interrupts on here, this CPU holds no irq-safe lock, so
	 * queue_work_on (which disables them itself) cannot deadlock, and
	 * without cli the entry runs unchanged in the user-space test.
	 */
	cld
	push %rax
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
	pop %rax
	popfq
	ret
	.size stage1_entry, . - stage1_entry

	.section .note.GNU-stack, "", @progbits
