#!/usr/bin/env bats
# Runs inside a lab host ('tests/run --lab'): every guest kernel on every
# machine type boots and answers commands; both guest shapes are covered.

bats_require_minimum_version 1.5.0

LAB=$BATS_TEST_DIRNAME/../lab

setup() {
	VM=t$BATS_TEST_NUMBER
}

teardown() {
	"$LAB" vm stop "$VM"
}

# boot KERNEL MACHINE SHAPE [START OPTIONS]: start $VM and check that the
# guest runs the expected kernel with the expected command line.
boot() {
	local kernel=$1 machine=$2 shape=$3 token="lab.test=$RANDOM$RANDOM"
	shift 3
	run "$LAB" vm start "$VM" --kernel "$kernel" --machine "$machine" --shape "$shape" --append "$token" "$@"
	[ "$status" -eq 0 ] || { echo "$output"; "$LAB" vm log "$VM"; return 1; }

	run "$LAB" vm exec "$VM" -- uname -r
	[ "$status" -eq 0 ]
	[ "$output" = "$("$LAB" kernel-release "$kernel")" ]

	run "$LAB" vm exec "$VM" -- cat /proc/cmdline
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$("$LAB" vm dir "$VM")/append")" ]
	[[ $output == *"$token"* ]]

	run "$LAB" vm exec "$VM" -- 'mount | grep " on / "'
	if [ "$shape" = disk ]; then
		[[ $output == "/dev/vda on / type ext4"* ]]
		# the pre-baked VM carries its kernel's modules
		"$LAB" vm exec "$VM" -- 'test -f /lib/modules/$(uname -r)/modules.dep'
	else
		[[ $output == "rootfs on / "* ]]
	fi

	# nobody loaded the virtio transports that vmsh brings itself
	run "$LAB" vm exec "$VM" -- 'grep -E "^(virtio_mmio|virtio_console) " /proc/modules'
	[ "$status" -eq 1 ]
}

@test "6.1 on pc, initramfs" { boot 6.1 pc initramfs; }
@test "6.1 on q35, ext4 disk" { boot 6.1 q35 disk; }
@test "6.1 on microvm, initramfs" { boot 6.1 microvm initramfs; }
@test "6.1-cloud on pc, ext4 disk" { boot 6.1-cloud pc disk; }
@test "6.1-cloud on q35, initramfs, 2 vCPUs, -sandbox on" {
	boot 6.1-cloud q35 initramfs --smp 2 --sandbox
	[ "$("$LAB" vm exec "$VM" -- nproc)" = 2 ]
	tr '\0' ' ' <"/proc/$("$LAB" vm pid "$VM")/cmdline" | grep -q -- '-sandbox on'
}
@test "6.1-cloud on microvm, ext4 disk" { boot 6.1-cloud microvm disk; }
@test "6.12 on pc, initramfs" { boot 6.12 pc initramfs; }
@test "6.12 on q35, ext4 disk" { boot 6.12 q35 disk; }
@test "6.12 on microvm, ext4 disk" { boot 6.12 microvm disk; }

@test "exec relays stdout, stderr and the exit status; stop kills the hypervisor by pid" {
	"$LAB" vm start "$VM" --kernel 6.1-cloud --modules virtio_mmio,virtio_console
	run --separate-stderr "$LAB" vm exec "$VM" -- 'echo out; echo err >&2; exit 7'
	[ "$status" -eq 7 ]
	[ "$output" = out ]
	[ "$stderr" = err ]
	# asked for, the modules are loaded
	"$LAB" vm exec "$VM" -- 'grep -q "^virtio_mmio " /proc/modules && grep -q "^virtio_console " /proc/modules'
	# a binary-safe round trip of every byte value
	run "$LAB" vm exec "$VM" -- 'i=0; while [ $i -lt 256 ]; do printf "\\$(printf %o $i)"; i=$((i+1)); done | md5sum'
	[ "${output%% *}" = "$(for i in $(seq 0 255); do printf "\\$(printf %o "$i")"; done | md5sum | cut -d' ' -f1)" ]
	pid=$("$LAB" vm pid "$VM")
	"$LAB" vm stop "$VM"
	! kill -0 "$pid" 2>/dev/null || false
	run "$LAB" vm exec "$VM" -- true
	[ "$status" -ne 0 ]
	[[ $output == *"is not running"* ]]
}
