#!/usr/bin/env bats
# Runs here ('tests/run --here'): vmsh against vmsh_testhv, a test hypervisor
# on this machine's own /dev/kvm. Our machines' KVM is PVM and their kernel has
# no kprobes: vmsh's eBPF memslot reader must fail with a clear message, and
# the failure must leave the hypervisor and its guest exactly as they were.
# (testhv_lab.bats covers a working inspect, in a lab host.)

bats_require_minimum_version 1.5.0
load testhv_common

setup() {
	testhv_setup
}

teardown() {
	testhv_teardown
}

@test "testhv: runs its guest and passes its own checks" {
	start_testhv --vcpus 2
	[ "$(jq -r .pid "$FACTS")" = "$HVPID" ]
	[ "$(jq '.memslots | length' "$FACTS")" -eq 2 ]
	[ "$(jq '.vcpus | length' "$FACTS")" -eq 2 ]
	p0=$(progress)
	sleep 0.3
	progressed "$p0"
	stop_testhv
}

@test "testhv: a memslot changed behind the guest's back fails its checks" {
	start_testhv --corrupt-after-ms 100
	sleep 0.5
	rc=0
	stop_testhv >"$BATS_TEST_TMPDIR/stop.log" || rc=$?
	cat "$BATS_TEST_TMPDIR/stop.log"
	[ "$rc" -eq 1 ]
	grep -q "vcpu 0: the guest found region B changed" "$BATS_TEST_TMPDIR/stop.log"
	grep -q "vmsh_testhv: FAILED" "$BATS_TEST_TMPDIR/stop.log"
}

@test "inspect without kprobes fails clearly and leaves the test hypervisor unharmed" {
	has_kprobes && skip "$(uname -r) has kprobes: inspect works here (testhv_lab.bats)"
	start_testhv --vcpus 2
	fds=$(fd_listing)
	maps=$(cat /proc/"$HVPID"/maps)
	threads=$(thread_state)
	p0=$(progress)

	run --separate-stderr "$VMSH" inspect --json "$HVPID"
	echo "stdout: $output"
	echo "stderr: $stderr"
	[ "$status" -eq 1 ]
	[[ $stderr == *"unable to read memslots: the kernel has no kprobes (CONFIG_KPROBES)"* ]]
	[ "$(grep -c . <<<"$stderr")" -eq 1 ]
	[ -z "$output" ]
	run "$VMSH" inspect "$HVPID"
	[ "$status" -eq 1 ]
	[[ $output == *"no kprobes"* ]]

	[ "$(fd_listing)" = "$fds" ]
	[ "$(cat /proc/"$HVPID"/maps)" = "$maps" ]
	[ "$(thread_state)" = "$threads" ]
	progressed "$p0"
	stop_testhv
}

# vmsh stops the hypervisor with PTRACE_SEIZE + PTRACE_INTERRUPT, which on this
# machine it never reaches (it gives up before attaching without kprobes).
# strace stops every thread the same way, at every syscall: KVM_RUN on PVM
# must come back from that cleanly.
@test "ptrace stops (strace -f) leave the test hypervisor's guest running correctly" {
	command -v strace >/dev/null || skip "strace is not installed"
	start_testhv --vcpus 2
	fds=$(fd_listing)
	maps=$(cat /proc/"$HVPID"/maps)
	threads=$(thread_state)
	p0=$(progress)
	run timeout -s INT 2 strace -f -qq -o "$BATS_TEST_TMPDIR/strace.log" -p "$HVPID"
	[ "$status" -eq 124 ] # stopped by timeout, detached on SIGINT
	grep -q 'KVM_RUN' "$BATS_TEST_TMPDIR/strace.log"
	[ "$(fd_listing)" = "$fds" ]
	[ "$(cat /proc/"$HVPID"/maps)" = "$maps" ]
	[ "$(thread_state)" = "$threads" ]
	progressed "$p0"
	stop_testhv
}

# The KVM_RUN trap that vmsh attach serves its devices' registers with: the
# guest's MMIO reads at 0xffff0 get the probe's value instead of the test
# hypervisor's, which sees none of those exits; afterwards everything is the
# test hypervisor's again and nothing of the trap is left.
@test "KVM_RUN trap: vmsh serves the guest's MMIO while the hypervisor runs, then gives it back" {
	PROBE=$ROOT/build/tests/vmsh_kvmrun_probe
	[ -x "$PROBE" ] || skip "not built: $PROBE (make)"
	start_testhv --vcpus 2
	fds=$(fd_listing)
	maps=$(cat /proc/"$HVPID"/maps)
	threads=$(thread_state)
	[[ $(mmio_state) == "mmio 0x7e57/"*" 0x7e57/"* ]]

	"$PROBE" "$HVPID" 0xffff0 16 0xb0b0 3 >"$BATS_TEST_TMPDIR/probe.out" 2>&1 &
	probe=$!
	# both vCPUs get the probe's value, and the hypervisor stops counting
	for ((i = 0; i < 100; i++)); do
		m1=$(mmio_state)
		[[ $m1 == "mmio 0xb0b0/"*" 0xb0b0/"* ]] && break
		sleep 0.1
	done
	echo "during: $m1"
	[[ $m1 == "mmio 0xb0b0/"*" 0xb0b0/"* ]]
	sleep 0.5
	m2=$(mmio_state)
	echo "later:  $m2"
	[ "$m2" = "$m1" ]
	rc=0
	wait "$probe" || rc=$?
	cat "$BATS_TEST_TMPDIR/probe.out"
	[ "$rc" -eq 0 ]
	grep -q '^served [1-9][0-9]* reads [1-9][0-9]* writes 0 bad' "$BATS_TEST_TMPDIR/probe.out"
	# paused halfway (as attach does while it changes the VM): nothing ran
	grep -q '^paused: 0 accesses' "$BATS_TEST_TMPDIR/probe.out"

	p0=$(progress)
	progressed "$p0"
	[[ $(mmio_state) == "mmio 0x7e57/"*" 0x7e57/"* ]]
	[ "$(fd_listing)" = "$fds" ]
	[ "$(cat /proc/"$HVPID"/maps)" = "$maps" ]
	[ "$(thread_state)" = "$threads" ]
	stop_testhv
}
