#!/usr/bin/env bats
# Runs inside a lab host: 60 s of parallel O_DIRECT writers and readers with
# checksummed, numbered blocks (vmsh-load stress) on vmsh's block device, the
# container's root: no mismatch, no I/O error, no request left without a
# completion for 10 s; the image's file system is clean afterwards and the
# hypervisor and the guest are as before.

bats_require_minimum_version 1.5.0

load attach_common
load attach_stress

@test "I/O stress on vmsh's disk: 4 writers and 4 readers with checksums for 60 s, no error, no lost completion" {
	# one vCPU: see the memfd test below
	start_vm 6.1 q35 1 --mem 512
	stress_image "$BATS_TEST_TMPDIR"
	hv0=$(hv_state "$PID")
	g0=$(guest_state)
	t0=$SECONDS
	status=0
	bounded_vmsh 420 "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/err" attach "$PID" -f "$IMG" -- \
		/bin/vmsh-load stress /stress --secs 60 --writers 4 --readers 4 --file-mib 8 || status=$?
	output=$(cat "$BATS_TEST_TMPDIR/out") stderr=$(cat "$BATS_TEST_TMPDIR/err")
	echo "status: $status, $((SECONDS - t0)) s"
	echo "stdout: $output"
	echo "stderr: $stderr"
	[ "$status" -eq 0 ]
	[[ $output == *"stress ok "*" errors=0"* ]]
	# the readers checked blocks while the writers wrote
	verified=$(sed -n 's/.* verified_blocks=\([0-9]*\).*/\1/p' <<<"$output")
	[ "${verified:-0}" -gt 0 ]
	# what the guest wrote through vmsh left a consistent file system
	/sbin/e2fsck -fn "$IMG"
	diff <(echo "$hv0") <(hv_state "$PID")
	[ "$(guest_state)" = "$g0" ]
	"$LAB" vm exec "$VM" -- true
	echo "# $(grep -o 'stress ok.*' <<<"$output")" >&3
}

# Guest RAM in a shared memfd (as vhost-user and virtiofs set-ups have it):
# vmsh maps it too, and the block device moves data with preadv/pwritev
# straight between the image and the guest's buffers. The same checks.
@test "I/O stress with the guest's RAM shared (memfd): vmsh maps it, 30 s with checksums, no error" {
	# one vCPU: a 2-vCPU guest under this load has wedged the nested TCG lab
	# host for good several times (its vCPU stuck in the guest's code)
	start_vm 6.1 q35 1 --mem 512 --memfd
	stress_image "$BATS_TEST_TMPDIR"
	hv0=$(hv_state "$PID")
	status=0
	bounded_vmsh 300 "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/err" attach -v "$PID" -f "$IMG" -- \
		/bin/vmsh-load stress /stress --secs 30 --writers 4 --readers 4 --file-mib 8 || status=$?
	output=$(cat "$BATS_TEST_TMPDIR/out") stderr=$(cat "$BATS_TEST_TMPDIR/err")
	echo "status: $status"
	echo "stdout: $output"
	echo "stderr: $stderr"
	[ "$status" -eq 0 ]
	[[ $output == *"stress ok "*" errors=0"* ]]
	# all of the guest's RAM was mapped into vmsh
	grep -E 'guest RAM: (51[01]|512) of 51[0-9] MiB shared by the hypervisor' <<<"$stderr"
	/sbin/e2fsck -fn "$IMG"
	diff <(echo "$hv0") <(hv_state "$PID")
	"$LAB" vm exec "$VM" -- true
}
