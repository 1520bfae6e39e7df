// SPDX-License-Identifier: GPL-2.0
/* Finding each vCPU's kvm_run in /proc/PID/maps (kvmrun__parse_run_map). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kvmrun.h"

static void test_parse_run_map(void **state)
{
	uint64_t start = 0;

	(void)state;
	assert_int_equal(kvmrun__parse_run_map("7f1234560000-7f1234563000 rw-s 00000000 00:0e 1071"
					       "                      anon_inode:kvm-vcpu:3\n",
					       &start),
			 3);
	assert_int_equal(start, 0x7f1234560000ULL);
	/* the dirty ring: page 64 of the same fd */
	assert_int_equal(kvmrun__parse_run_map("7f0000000000-7f0000010000 rw-s 00040000 00:0e 1071"
					       "                      anon_inode:kvm-vcpu:3\n",
					       &start),
			 -1);
	assert_int_equal(kvmrun__parse_run_map("7f0000000000-7f0000010000 rw-s 00000000 00:0e 1070"
					       "                      anon_inode:kvm-vm\n",
					       &start),
			 -1);
	assert_int_equal(kvmrun__parse_run_map("garbage anon_inode:kvm-vcpu:1\n", &start), -1);
	assert_int_equal(
	    kvmrun__parse_run_map("1000-2000 rw-s 0 0:0 1 anon_inode:kvm-vcpu:x\n", &start), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_run_map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
