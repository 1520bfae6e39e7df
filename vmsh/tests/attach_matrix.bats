#!/usr/bin/env bats
# Runs inside a lab host: vmsh attach on each QEMU machine type, each Debian
# guest kernel, 1 and 2 vCPUs (every value at least once), root on virtio-blk.

bats_require_minimum_version 1.5.0

load attach_common

@test "attach on 6.1 / pc / 1 vCPU: uname -r, exit status, nothing left behind" {
	start_vm 6.1 pc 1
	attach_basics
}

@test "attach on 6.1-cloud / q35 / 2 vCPUs: uname -r, exit status, nothing left behind" {
	start_vm 6.1-cloud q35 2
	attach_basics
}

@test "attach on 6.12 / microvm (split irqchip) / 2 vCPUs: uname -r, exit status, nothing left behind" {
	start_vm 6.12 microvm 2
	attach_basics
}

@test "attach on 6.12 / q35 / 1 vCPU: uname -r, exit status, nothing left behind" {
	start_vm 6.12 q35 1
	attach_basics
}
