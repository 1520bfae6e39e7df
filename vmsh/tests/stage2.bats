#!/usr/bin/env bats
# Runs inside a lab host ('tests/run --lab'): stage2 without vmsh. A disk-shape
# guest gets an extra virtio-blk disk (the default busybox image with stage2
# in it, then a 4 KiB control area) and a virtio console. Each test copies
# stage2 out of that disk to /dev/.vmsh-test and runs it as root from the
# guest's shell, then checks from here what stage2 reported in the control
# area, what CMD printed on the console, and that nothing is left in the guest.
#
# Differences from the real start by call_usermodehelper: here fds 0-2 are
# open, the shell's environment and PID 1's root are stage2's, and its
# inheritable capabilities are empty (the helper's are full).

bats_require_minimum_version 1.5.0

ROOT=$BATS_TEST_DIRNAME/../..
LAB=$ROOT/lab/lab
VMSH=${VMSH:-$ROOT/build/bin/vmsh}
STAGE2=$ROOT/build/vmsh/guest/stage2
VM=stage2
SERIAL=vmsh-test1

setup_file() {
	local img
	[ -x "$VMSH" ] && [ -x "$STAGE2" ] || return 0
	# copies: a rebuild here while the tests run must not pull them away
	cp "$VMSH" "$BATS_FILE_TMPDIR/vmsh"
	export VMSH=$BATS_FILE_TMPDIR/vmsh
	export DISK=$BATS_FILE_TMPDIR/vmsh.img
	img=$(VMSH_CACHE_DIR=$BATS_FILE_TMPDIR/cache "$VMSH" image default)
	cp "$img" "$DISK"
	debugfs -w -R "write $STAGE2 stage2" "$DISK" 2>/dev/null
	export CTL
	CTL=$(stat -c %s "$DISK")
	truncate -s +4096 "$DISK"
	"$LAB" vm start "$VM" --shape disk --modules virtio_console \
		--extra-disk "$DISK,$SERIAL" --virtconsole >"$BATS_FILE_TMPDIR/start.log" 2>&1 ||
		{ cat "$BATS_FILE_TMPDIR/start.log" >&3; "$LAB" vm log "$VM" >&3; }
	export CONLOG
	CONLOG=$("$LAB" vm dir "$VM")/virtconsole.log
	export MOUNTS0
	MOUNTS0=$("$LAB" vm exec "$VM" -- cat /proc/mounts)
}

teardown_file() {
	"$LAB" vm stop "$VM"
}

setup() {
	[ -x "$VMSH" ] && [ -x "$STAGE2" ] || skip "not built (make)"
	[ -n "$("$LAB" vm pid "$VM" 2>/dev/null)" ] || skip "the guest did not start"
	# a fresh control area and console log for each test
	dd if=/dev/zero of="$DISK" bs=512 seek=$((CTL / 512)) count=8 conv=notrunc status=none
	: >"$CONLOG"
}

# guest_stage2 WORDS...: copy stage2 out of the disk and run it with CMD WORDS
# (a shell string); $output is the guest shell's output.
guest_stage2() {
	run "$LAB" vm exec "$VM" -t 120 -- "
		set -e
		for d in /sys/block/*; do
			[ \"\$(cat \$d/serial 2>/dev/null)\" = $SERIAL ] && dev=/dev/\${d##*/}
		done
		m=\$(mktemp -d)
		mount -o ro \$dev \$m
		cp \$m/stage2 /dev/.vmsh-test
		umount \$m
		rmdir \$m
		chmod 700 /dev/.vmsh-test
		set +e
		/dev/.vmsh-test --serial $SERIAL --ctl-offset $CTL -- $*
		echo stage2-status=\$?"
	echo "$output"
}

# ctl_is STATE STATUS: the control area's last message.
ctl_is() {
	run "$VMSH" image ctl-dump "$DISK" "$CTL"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"state=$1"* ]]
	[[ $output == *"exit_status=$2"* ]]
}

console() {
	tr -d '\r' <"$CONLOG"
}

@test "uname -r: EXITED 0, its output on the virtio console" {
	guest_stage2 uname -r
	[[ $output == *"stage2-status=0"* ]]
	ctl_is exited 0
	[ "$(console)" = "$("$LAB" vm exec "$VM" -- uname -r)" ]
}

@test "sh -c 'exit 7': EXITED 7" {
	guest_stage2 "sh -c 'exit 7'"
	ctl_is exited 7
}

@test "a command missing from the image: EXITED 127, named" {
	guest_stage2 no-such-tool --flag
	ctl_is exited 127
	[[ $output == *"msg=no-such-tool: not found in the image"* ]]
	[[ "$(console)" == *"no-such-tool: not found in the image"* ]]
}

@test "ps lists the guest's processes, PID 1 included" {
	guest_stage2 ps -o pid,args
	ctl_is exited 0
	console
	console | grep -E '^ *1 .*init'
	console | grep -q 'vmsh-test'
}

@test "the VM's root is at /var/lib/vmsh, writable; / is the image" {
	guest_stage2 "sh -c 'test -x /bin/busybox && test ! -e /var/lib/vmsh/stage2 && echo hi-from-vmsh >/var/lib/vmsh/root/x'"
	ctl_is exited 0
	[ "$("$LAB" vm exec "$VM" -- cat /root/x)" = hi-from-vmsh ]
	"$LAB" vm exec "$VM" -- rm /root/x
}

@test "nothing is left: processes, mounts, the stage2 file" {
	guest_stage2 "sh -c 'sleep 1000 </dev/null >/dev/null 2>&1 & echo started'"
	ctl_is exited 0
	run "$LAB" vm exec "$VM" -- 'ps -o pid,args | grep -E "sleep 1000|vmsh-test" | grep -v grep'
	echo "$output"
	[ "$status" -eq 1 ]
	run "$LAB" vm exec "$VM" -- test -e /dev/.vmsh-test
	[ "$status" -eq 1 ]
	run "$LAB" vm exec "$VM" -- cat /proc/mounts
	[ "$output" = "$MOUNTS0" ]
}

@test "SIGTERM (vmsh detaching) stops CMD; stage2 reports and exits" {
	guest_stage2 "sleep 1000 & sleep 3; kill -TERM \$!; wait \$!"
	[[ $output == *"stage2-status=0"* ]]
	ctl_is exited 137
	run "$LAB" vm exec "$VM" -- 'ps -o args | grep "^sleep 1000"'
	[ "$status" -eq 1 ]
}

@test "bad arguments: FAILED with the step, and nothing left" {
	guest_stage2 ""
	[[ $output == *"stage2-status=1"* ]]
	run "$VMSH" image ctl-dump "$DISK" "$CTL"
	echo "$output"
	[[ $output == *"state=failed"* ]]
	[[ $output == *"step=args"* ]]
	run "$LAB" vm exec "$VM" -- test -e /dev/.vmsh-test
	[ "$status" -eq 1 ]
}
