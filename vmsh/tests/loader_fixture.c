// SPDX-License-Identifier: GPL-2.0
/*
 * A stand-in for stage1.so that has every relocation type the loader
 * supports, which stage1 itself (all RIP-relative, no PLT) does not:
 * R_X86_64_RELATIVE (pointers to our own data, with addends),
 * R_X86_64_64 (pointers to imported data, with an addend, one weak and
 * missing) and R_X86_64_JUMP_SLOT (a PLT call), besides GLOB_DAT.
 */
#include "stage1_abi.h"

extern int fixture_func(int x);
extern int fixture_data[4];
extern int fixture_weak __attribute__((weak));
extern int fixture_got;

static int local[4] = { 1, 2, 3, 4 };

int *const relative_ptrs[] = { &local[0], &local[3] };
const char *const relative_str = "fixture";
int *const abs_ptrs[] = { &fixture_data[0], &fixture_data[2], &fixture_weak };

struct stage1_abi stage1_abi = {
	.magic = STAGE1_ABI_MAGIC,
	.version = STAGE1_ABI_VERSION,
	.size = sizeof(struct stage1_abi),
};

void stage1_entry(void)
{
	local[0] = fixture_func(fixture_got);
}
