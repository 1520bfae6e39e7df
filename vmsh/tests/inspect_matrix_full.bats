#!/usr/bin/env bats
# Runs inside a lab host, under 'make check-full' only: the rows of the
# inspect matrix (machine type x kernel x vCPUs) that inspect_matrix.bats
# does not run on every 'make check'.

bats_require_minimum_version 1.5.0

load inspect_common

@test "inspect 6.1 on pc, 2 vCPUs" { inspect_matches 6.1 pc 2; }
@test "inspect 6.1 on q35, 1 vCPU" { inspect_matches 6.1 q35 1; }
@test "inspect 6.1 on q35, 2 vCPUs" { inspect_matches 6.1 q35 2; }
@test "inspect 6.1 on microvm, 1 vCPU" { inspect_matches 6.1 microvm 1; }
@test "inspect 6.12 on pc, 1 vCPU" { inspect_matches 6.12 pc 1; }
@test "inspect 6.12 on pc, 2 vCPUs" { inspect_matches 6.12 pc 2; }
@test "inspect 6.12 on q35, 1 vCPU" { inspect_matches 6.12 q35 1; }
@test "inspect 6.12 on microvm, 2 vCPUs" { inspect_matches 6.12 microvm 2; }
