#!/usr/bin/env bats
# Runs inside a lab host: vmsh attach on the guests people run besides the
# lab's disk-rooted 6.1/6.12 ones (attach_matrix.bats): a root that is the
# initramfs (pivot_root refuses it), Linux 5.10 (printk, not _printk), the
# newest sid kernel, PREEMPT_RT. The rows every 'make check' runs; the rest
# of the compatibility matrix is attach_compat_full.bats ('make check-full').

bats_require_minimum_version 1.5.0

load attach_common

@test "initramfs root, 6.1 / q35 / 1 vCPU: / is the image, the VM's root at /var/lib/vmsh, nothing left" {
	start_vm 6.1 q35 1 --shape initramfs --modules virtio_mmio,virtio_console
	attach_root_view lab-initramfs
	attach_basics
}

@test "initramfs root, 6.12 / microvm / 2 vCPUs: uname -r, exit status, nothing left behind" {
	start_vm 6.12 microvm 2 --shape initramfs
	attach_root_view lab-initramfs
	attach_basics
}

@test "attach on 5.10 / q35 / 2 vCPUs: uname -r, exit status, nothing left behind" {
	start_vm 5.10 q35 2
	attach_basics
}

@test "attach on sid (7.x) / microvm / 1 vCPU: uname -r, exit status, nothing left behind" {
	start_vm sid microvm 1
	attach_basics
}

@test "attach on 6.1-rt (PREEMPT_RT) / q35 / 2 vCPUs: uname -r, exit status, nothing left behind" {
	start_vm 6.1-rt q35 2
	attach_basics
}
