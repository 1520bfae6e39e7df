// SPDX-License-Identifier: GPL-2.0
/*
 * Which vCPU may take stage1's entry: the pure rules of vcpu.h, on states
 * and thread registers as a held hypervisor shows them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>

#include "vcpu.h"

#define FD 17

/* A thread stopped by PTRACE_INTERRUPT in ioctl(FD, KVM_RUN): -EINTR. */
static struct user_regs_struct in_kvm_run(long rax)
{
	return (struct user_regs_struct){
		.orig_rax = SYS_ioctl, .rdi = FD, .rsi = KVM_RUN, .rax = (unsigned long long)rax
	};
}

static void test_exit_finished(void **state)
{
	struct user_regs_struct r = in_kvm_run(-EINTR);

	(void)state;
	assert_null(vcpu__exit_unfinished(&r, FD, KVM_EXIT_INTR));
}

/* What a pick must not take: the completion would undo a new RIP, or repeat I/O. */
static void test_exit_unfinished(void **state)
{
	struct user_regs_struct r = in_kvm_run(0);

	(void)state;
	/* stopped right after KVM_RUN returned an MMIO or PIO exit */
	assert_non_null(vcpu__exit_unfinished(&r, FD, KVM_EXIT_MMIO));
	assert_non_null(vcpu__exit_unfinished(&r, FD, KVM_EXIT_IO));
	/* -EINTR whose exit_reason is an old exit's (immediate_exit) */
	r = in_kvm_run(-EINTR);
	assert_non_null(vcpu__exit_unfinished(&r, FD, KVM_EXIT_MMIO));
	/* in user space between two KVM_RUNs (serving the exit), or in another syscall */
	r.orig_rax = (unsigned long long)-1;
	assert_non_null(vcpu__exit_unfinished(&r, FD, KVM_EXIT_INTR));
	r = in_kvm_run(-EINTR);
	r.orig_rax = SYS_futex;
	assert_non_null(vcpu__exit_unfinished(&r, FD, KVM_EXIT_INTR));
	/* KVM_RUN of another vCPU's fd, or no thread known */
	r = in_kvm_run(-EINTR);
	assert_non_null(vcpu__exit_unfinished(&r, FD + 1, KVM_EXIT_INTR));
	assert_non_null(vcpu__exit_unfinished(NULL, FD, KVM_EXIT_INTR));
}

static void test_cannot_enter(void **state)
{
	struct vcpu_state s = { 0 };

	(void)state;
	s.sregs.efer = 1ULL << 10;
	s.regs.rip = 0xffffffff81000000ULL;
	s.regs.rflags = 1ULL << 9;
	s.mp.mp_state = KVM_MP_STATE_HALTED;
	assert_null(vcpu__cannot_enter(&s));
	s.sregs.cs.selector = 0x33;
	assert_non_null(vcpu__cannot_enter(&s));
	s.sregs.cs.selector = 0x10;
	s.regs.rflags = 0;
	assert_non_null(vcpu__cannot_enter(&s));
}

/* Migration or savevm: the RAM slot holding the kernel logs dirty pages. */
/* Which vCPU every command walks the kernel's page tables from. */
static void test_kernel_rank(void **state)
{
	struct kvm_sregs s = { 0 };

	(void)state;
	assert_int_equal(vcpu__kernel_rank(&s), 0); /* real mode */
	s.cr0 = CR0_PE;
	assert_int_equal(vcpu__kernel_rank(&s), 0); /* protected mode, not long */
	s.efer = EFER_LMA;
	s.cs.selector = 0x33;
	assert_int_equal(vcpu__kernel_rank(&s), 1); /* a process, CPL 3 */
	s.cs.selector = 0x10;
	assert_int_equal(vcpu__kernel_rank(&s), 2); /* the kernel, CPL 0 */
	s.cr0 = 0;
	assert_int_equal(vcpu__kernel_rank(&s), 0); /* LMA without PE: not believed */
}

static void test_dirty_logged(void **state)
{
	struct memslot slots[] = {
		{ .id = 0, .gpa = 0, .size = 0xc0000000 },
		{ .id = 1, .gpa = 0xfd000000, .size = 16 << 20, .flags = KVM_MEM_LOG_DIRTY_PAGES },
		{ .id = 1 << 16, .gpa = 0, .size = 0x100000, .flags = KVM_MEM_LOG_DIRTY_PAGES },
	};

	(void)state;
	/* a framebuffer that logs (QEMU's VGA), SMM's address space: not migration */
	assert_null(hv__dirty_logged(slots, 3, 0x1000000));
	assert_ptr_equal(hv__dirty_logged(slots, 3, 0xfd001000), &slots[1]);
	slots[0].flags = KVM_MEM_LOG_DIRTY_PAGES;
	assert_ptr_equal(hv__dirty_logged(slots, 3, 0x1000000), &slots[0]);
	assert_null(hv__dirty_logged(slots, 3, 0xc0000000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_finished), cmocka_unit_test(test_exit_unfinished),
		cmocka_unit_test(test_cannot_enter),  cmocka_unit_test(test_kernel_rank),
		cmocka_unit_test(test_dirty_logged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
