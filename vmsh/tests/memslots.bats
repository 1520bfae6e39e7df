#!/usr/bin/env bats
# Runs inside a lab host ('tests/run --lab'): the eBPF memslot reader against
# a VM of the test's own (vmsh_memslots_selftest, TAP, every field compared).

ROOT=$BATS_TEST_DIRNAME/../..
SELFTEST=$ROOT/build/tests/vmsh_memslots_selftest

setup() {
	[ -x "$SELFTEST" ] || skip "not built: $SELFTEST (make)"
	[ -c /dev/kvm ] || skip "no /dev/kvm"
	[ -e /sys/bus/event_source/devices/kprobe ] || skip "no kprobes on $(uname -r)"
}

@test "memslots: the selftest's VM is read back exactly" {
	run "$SELFTEST"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == 1..* ]]
	local plan=${lines[0]#1..}
	[ "$plan" -gt 0 ]
	# every planned test reported, none failed
	[ "$(grep -c '^ok ' <<<"$output")" -eq "$plan" ]
	! grep -q '^not ok ' <<<"$output" || false
	! grep -q '^Bail out!' <<<"$output"
}

@test "memslots: the same from the sanitized build" {
	local san=$ROOT/build-san/tests/vmsh_memslots_selftest
	[ -x "$san" ] || skip "not built: $san (make SAN=1)"
	run "$san"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^ok ' <<<"$output")" -eq "${lines[0]#1..}" ]
	! grep -q '^not ok ' <<<"$output"
}
