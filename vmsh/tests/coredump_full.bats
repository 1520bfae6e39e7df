#!/usr/bin/env bats
# Runs inside a lab host (make check-full): the rest of the coredump matrix
# (coredump.bats has 6.1-cloud on q35 and 6.12 on microvm): 6.1-cloud on
# microvm and 6.12 on q35, 2 vCPUs each; each dump opens in crash (where
# bookworm's crash reads that kernel) and drgn.

bats_require_minimum_version 1.5.0

load attach_common
load coredump

@test "coredump of a 6.1-cloud microvm guest with 2 vCPUs; crash and drgn open it" {
	dump_and_check 6.1-cloud microvm 2
	open_in_crash_and_drgn 6.1-cloud
	"$LAB" vm exec "$VM" --again -- true
}

@test "coredump of a 6.12 q35 guest with 2 vCPUs; drgn opens it" {
	dump_and_check 6.12 q35 2
	open_in_crash_and_drgn 6.12
	"$LAB" vm exec "$VM" --again -- true
}
