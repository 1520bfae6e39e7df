#!/usr/bin/env bats
# Runs on this machine: 'lab host' itself. It passes the exit status through,
# and leaves no lab host or hypervisor behind, also when interrupted.

LAB=$BATS_TEST_DIRNAME/../lab

teardown() {
	[ -z "${lab:-}" ] || kill "$lab" 2>/dev/null || true
}

@test "lab host runs a command where /dev/kvm is real and returns its status" {
	run "$LAB" host -- bash -c 'test -c /dev/kvm && ! test -d /sys/module/kvm_pvm && exit 7'
	[ "$status" -eq 7 ]
}

@test "an interrupted lab host leaves no process behind" {
	[ "$("$LAB" mode)" = nested ] || skip "direct mode: no lab host to interrupt"
	log=$BATS_TEST_TMPDIR/log
	"$LAB" host -- bash -c 'lab/lab vm start x --kernel 6.1-cloud && echo VM-UP && sleep 600' >"$log" 2>&1 3>&- &
	lab=$!
	for i in $(seq 600); do grep -q VM-UP "$log" && break; sleep 0.5; done
	grep -q VM-UP "$log"
	qemu=$(sed -n "s/.*booting lab host, pid \([0-9]*\) .*/\1/p" "$log")
	share=$(sed -n "s/.*, share \([^)]*\)).*/\1/p" "$log")
	[ -n "$qemu" ]
	kill -0 "$qemu"
	kill -TERM "$lab"
	wait "$lab" || true
	for i in $(seq 50); do kill -0 "$qemu" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$qemu" 2>/dev/null || false
	[ -n "$share" ] && [ ! -e "$share" ]
}
