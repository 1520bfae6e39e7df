#!/usr/bin/env bats
# Runs inside a lab host: vmsh attach on guests whose root is the initramfs
# (pivot_root refuses it), besides the lab's disk-rooted ones
# (attach_matrix.bats). The rows every 'make check' runs; the rest of the
# compatibility matrix (5.10, sid, PREEMPT_RT, ...) is attach_compat_full.bats
# ('make check-full').

bats_require_minimum_version 1.5.0

load attach_common

@test "initramfs root, 6.1 / q35 / 1 vCPU: / is the image, the VM's root at /var/lib/vmsh, nothing left" {
	start_vm 6.1 q35 1 --shape initramfs --modules virtio_mmio,virtio_console
	attach_root_view lab-initramfs
	attach_basics
}

@test "initramfs root, 6.12 / microvm / 1 vCPU: uname -r, exit status, nothing left behind" {
	start_vm 6.12 microvm 1 --shape initramfs
	attach_root_view lab-initramfs
	attach_basics
}
