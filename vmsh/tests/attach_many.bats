#!/usr/bin/env bats
# Runs inside a lab host (make check, see vmsh/mk/tracee.mk): 100 attaches
# in a row (VMSH_MANY=N for another number; 1000 in attach_many_full.bats),
# as a new user would run them: `vmsh attach PID -- uname -r`, stdout a pipe,
# stdin /dev/null. Each has a deadline; one that passes it reports what vmsh
# and every hypervisor thread were doing (issue 19: the 41st of 100 once
# hung). An attach takes ~4 s here in the nested lab, with the guest's disk
# workload running (~1 s on hardware).

bats_require_minimum_version 1.5.0

load attach_common
load attach_many


@test "${VMSH_MANY:-100} attaches in a row on a 2-vCPU guest with a disk workload, each under a deadline: all succeed, the hypervisor is as before" {
	many_attaches "${VMSH_MANY:-100}"
}
