#!/usr/bin/env bats
# make check-full: attach_many.bats's test with 1000 attaches (~4 s each in
# the nested lab: about 65 minutes; ~20 minutes on hardware).
# lab-host-timeout: 21600

bats_require_minimum_version 1.5.0

load attach_common
load attach_many


@test "1000 attaches in a row on a 2-vCPU guest with a disk workload, each under a deadline: all succeed, the hypervisor is as before" {
	many_attaches 1000
}
