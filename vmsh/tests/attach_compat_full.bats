#!/usr/bin/env bats
# Runs inside a lab host, under 'make check-full' only: the rest of the
# compatibility matrix of attach_compat.bats (README, "Compatibility"):
# Linux 5.10 (printk, not _printk), the newest sid kernel and PREEMPT_RT on
# two machine types, the other machine type of the initramfs rows, a guest
# with page-table isolation, a 4-vCPU guest, and QEMU with its seccomp
# sandbox fully on.

bats_require_minimum_version 1.5.0

load attach_common

@test "initramfs root, 6.1 / microvm / 2 vCPUs: / is the image, nothing left behind" {
	start_vm 6.1 microvm 2 --shape initramfs
	attach_root_view lab-initramfs
	attach_basics
}

@test "initramfs root, 6.12 / q35 / 1 vCPU: / is the image, nothing left behind" {
	start_vm 6.12 q35 1 --shape initramfs
	attach_root_view lab-initramfs
	attach_basics
}

@test "attach on 5.10 / microvm / 1 vCPU: uname -r, exit status, nothing left behind" {
	start_vm 5.10 microvm 1
	attach_basics
}

@test "attach on sid (7.x) / q35 / 2 vCPUs: uname -r, exit status, nothing left behind" {
	start_vm sid q35 2
	attach_basics
}

@test "attach on 6.1 / q35 / 2 vCPUs booted with pti=on: uname -r, exit status, nothing left behind" {
	start_vm 6.1 q35 2 --append pti=on
	"$LAB" vm exec "$VM" --again -- "dmesg | grep -q 'Kernel/User page tables isolation: enabled'"
	attach_basics
}

@test "attach on 6.12 / q35 / 4 vCPUs: uname -r, exit status, nothing left behind" {
	start_vm 6.12 q35 4
	attach_basics
}

@test "attach on 6.1-cloud / q35 / 2 vCPUs, QEMU -sandbox on,spawn=deny,elevateprivileges=deny,resourcecontrol=deny" {
	start_vm 6.1-cloud q35 2 --sandbox
	tr '\0' ' ' <"/proc/$PID/cmdline" | grep -q -- '-sandbox on,.*spawn=deny'
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
