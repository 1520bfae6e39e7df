#!/usr/bin/env bats
# Runs inside a lab host: vmsh inspect on each machine type, both guest
# kernels and 1 or 2 vCPUs, in four rows that every 'make check' runs; the
# other eight of the matrix are inspect_matrix_full.bats ('make check-full').

bats_require_minimum_version 1.5.0

load inspect_common

@test "inspect 6.1 on pc, 1 vCPU" { inspect_matches 6.1 pc 1; }
@test "inspect 6.1 on microvm, 2 vCPUs" { inspect_matches 6.1 microvm 2; }
@test "inspect 6.12 on q35, 2 vCPUs" { inspect_matches 6.12 q35 2; }
@test "inspect 6.12 on microvm, 1 vCPU" { inspect_matches 6.12 microvm 1; }
