#!/usr/bin/env bats
# Runs inside a lab host: vmsh coredump against real QEMU/KVM guests. The
# dump's ELF notes and loads (readelf), its VMCOREINFO (the guest's release),
# crash and drgn on it where the guest kernel's debug vmlinux is cached
# ('lab/lab vmlinux 6.1-cloud' and '6.12', run by make lab-ready), --live
# under load, and the errors (unwritable output, a full disk, SIGINT midway):
# the guest runs on and the hypervisor is left as it was every time.

bats_require_minimum_version 1.5.0

load attach_common
load coredump

@test "coredump of a 6.1-cloud q35 guest with 2 vCPUs: notes, loads, VMCOREINFO; crash and drgn open it" {
	dump_and_check 6.1-cloud q35 2
	open_in_crash_and_drgn 6.1-cloud
	"$LAB" vm exec "$VM" --again -- true
}

@test "coredump of a 6.12 microvm guest with 2 vCPUs; crash and drgn open it" {
	dump_and_check 6.12 microvm 2
	open_in_crash_and_drgn 6.12
	"$LAB" vm exec "$VM" --again -- true
}

@test "soft-dirty bits on this kernel (the lab host's): written pages come back as runs" {
	# a unit test that needs CONFIG_MEM_SOFT_DIRTY, which a lab host has
	run "$BATS_TEST_DIRNAME/../../build/tests/vmsh_softdirty"
	echo "$output"
	[ "$status" -eq 0 ]
	! grep -q SKIPPED <<<"$output"
}

@test "coredump --live of a guest under load: the copy is not held, the dump opens" {
	local hv0 json
	start_vm 6.1-cloud q35 2 --shape initramfs
	start_marked_process
	# a CPU hog and a memory writer on the guest's 2 vCPUs, stopped after the dump
	# (crash and drgn run slowly enough in the nested lab host as it is)
	"$LAB" vm exec "$VM" --again -- '(sh -c "while :; do :; done" >/dev/null 2>&1 </dev/null & echo $! >/tmp/load1); (dd if=/dev/urandom of=/tmp/churn bs=1M count=8 >/dev/null 2>&1; while :; do cp /tmp/churn /tmp/churn2; done >/dev/null 2>&1 </dev/null & echo $! >/tmp/load2); true'
	hv0=$(hv_state "$PID")
	run --separate-stderr "$VMSH" coredump --live --json -o "$CORE" "$PID"
	echo "stdout: $output"
	echo "stderr: $stderr"
	[ "$status" -eq 0 ]
	json=$output
	[ "$(jq .live <<<"$json")" = true ]
	diff <(echo "$hv0") <(hv_state "$PID")
	"$LAB" vm exec "$VM" --again -- true
	check_core 2 "$json"
	echo "# --live: held $(jq .hypervisor.held_us <<<"$json") us, copy $(jq .copy.seconds <<<"$json") s" >&3
	"$LAB" vm exec "$VM" --again -- 'kill $(cat /tmp/load1 /tmp/load2)'
	# The final pass copied again what the guest wrote during the copy, in a
	# short hold with the registers: the dump is consistent, and both tools
	# must open it and walk its tasks (before the final pass, a dump of this
	# guest, which forks all the time, was torn: once in three CI runs crash
	# gave up at start, once drgn's walk met a task being freed)
	[ "$(jq .live_pass.final_pass <<<"$json")" = true ]
	echo "# --live: $(($(jq .live_pass.recopied <<<"$json") >> 20)) MiB written during the copy," \
		"copied again in a final pass of $(($(jq .live_pass.final_pass_us <<<"$json") / 1000)) ms" >&3
	open_in_crash_and_drgn 6.1-cloud
}

@test "coredump errors: unwritable output, a full disk, SIGINT midway: no file left, the VM unharmed" {
	local hv0 i
	start_vm 6.1-cloud q35 2 --shape initramfs --mem 1536
	hv0=$(hv_state "$PID")

	run "$VMSH" coredump -o /nonexistent/dir/vmcore "$PID"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"cannot create /nonexistent/dir/vmcore"* ]]
	diff <(echo "$hv0") <(hv_state "$PID")

	mkdir "$BATS_TEST_TMPDIR/small"
	mount -t tmpfs -o size=1m tmpfs "$BATS_TEST_TMPDIR/small"
	run "$VMSH" coredump -o "$BATS_TEST_TMPDIR/small/vmcore" "$PID"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"No space left on device"* ]]
	[[ $output == *"no dump written, the VM runs on"* ]]
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/small")" ]
	diff <(echo "$hv0") <(hv_state "$PID")
	"$LAB" vm exec "$VM" --again -- true

	# SIGINT once the copy has shown progress (after 1 s)
	# (a background job of a script starts with SIGINT ignored: env undoes that)
	env --default-signal=INT "$VMSH" coredump -o "$CORE" "$PID" 2>"$BATS_TEST_TMPDIR/err" &
	helper=$!
	for i in $(seq 600); do
		grep -q 'coredump: .* MiB/s' "$BATS_TEST_TMPDIR/err" && break
		kill -0 "$helper" 2>/dev/null || break
		sleep 0.1
	done
	grep -q 'coredump: .* MiB/s' "$BATS_TEST_TMPDIR/err" || {
		cat "$BATS_TEST_TMPDIR/err"
		echo "the dump ended before it showed progress: nothing to interrupt midway"
		false
	}
	kill -INT "$helper"
	status=0
	wait "$helper" || status=$?
	helper=
	cat "$BATS_TEST_TMPDIR/err"
	[ "$status" -eq 130 ]
	grep -q 'interrupted by Interrupt: no dump written, the VM runs on' "$BATS_TEST_TMPDIR/err"
	[ -z "$(ls "$BATS_TEST_TMPDIR" | grep vmcore)" ]
	diff <(echo "$hv0") <(hv_state "$PID")
	"$LAB" vm exec "$VM" --again -- true
}
