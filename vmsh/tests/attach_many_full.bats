#!/usr/bin/env bats
# make check-full: attach_many.bats's test with 1000 attaches (about an hour
# in the nested lab).

bats_require_minimum_version 1.5.0

load attach_common
load attach_many

BATS_TEST_TIMEOUT=$((1000 * 20 + 300))

@test "1000 attaches in a row on a 2-vCPU guest with a disk workload, each under a deadline: all succeed, the hypervisor is as before" {
	many_attaches 1000
}
