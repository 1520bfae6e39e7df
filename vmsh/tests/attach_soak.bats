#!/usr/bin/env bats
# Runs inside a lab host (make check-full): vmsh's steady state under console
# and disk load for 10 minutes (VMSH_SOAK_SECS) on a 2-vCPU guest. The disk load is
# vmsh-load stress, which fails on any request open for more than 10 s (a lost
# interrupt or completion); the console carries a numbered stream whose every
# line must arrive once and in order. The hypervisor and the guest are as
# before afterwards.

bats_require_minimum_version 1.5.0

load attach_common
load attach_stress

@test "steady state under console and disk load for ${VMSH_SOAK_SECS:-600} s, 2 vCPUs: no lost interrupt, no lost or repeated console line" {
	local secs=${VMSH_SOAK_SECS:-600} out=$BATS_TEST_TMPDIR/out err=$BATS_TEST_TMPDIR/err
	start_vm 6.1-cloud q35 2 --mem 512
	stress_image "$BATS_TEST_TMPDIR" shell
	hv0=$(hv_state "$PID")
	g0=$(guest_state)
	k0=$(guest_splats)
	progress "attach: $secs s of stress and a numbered console stream"
	# 100 numbered lines every 0.2 s while the stress runs, then its status
	run --separate-stderr timeout $((secs + 600)) "$VMSH" attach -v "$PID" -f "$IMG" -- sh -c '
		/bin/vmsh-load stress /stress --secs '"$secs"' --writers 2 --readers 2 --file-mib 8 \
			>/tmp/stress.out 2>&1 &
		p=$!; n=0
		while kill -0 $p 2>/dev/null; do seq $((n + 1)) $((n + 100)); n=$((n + 100)); sleep 0.2; done
		wait $p; rc=$?; cat /tmp/stress.out; echo "lines $n"; exit $rc' </dev/null
	printf '%s\n' "$output" >"$out"
	printf '%s\n' "$stderr" >"$err"
	echo "status: $status"
	grep -v '^[0-9]*$' "$out"
	grep -E 'steady state|timing' "$err"
	[ "$status" -eq 0 ]
	grep -q 'steady state: registers' "$err"
	grep -q "stress ok .* errors=0" "$out"
	# every console line once, in order
	n=$(sed -n 's/^lines \([0-9]*\)$/\1/p' "$out")
	[ "${n:-0}" -gt 0 ]
	diff <(seq "$n") <(grep -E '^[0-9]+$' "$out") >/dev/null || {
		echo "the console stream differs from 1..$n:"
		diff <(seq "$n") <(grep -E '^[0-9]+$' "$out") | head -20
		return 1
	}
	diff <(echo "$hv0") <(hv_state "$PID")
	[ "$(guest_state)" = "$g0" ]
	no_new_splats "$k0"
	echo "# $(grep -o 'stress ok.*' "$out"); $n console lines; $(grep -o 'steady state: [0-9.]* s.*' "$err")" >&3
}
