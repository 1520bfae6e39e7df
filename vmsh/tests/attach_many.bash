# Shared by attach_many.bats (make check) and attach_many_full.bats (make
# check-full): N attaches in a row on one guest, each under a deadline.

# many_attaches N: N attaches in a row on a 2-vCPU 6.1-cloud q35 guest that
# runs a checked disk workload; all must succeed, the workload sees no error,
# the hypervisor's fds and maps and the guest are as before.
many_attaches() {
	local n=$1 round rc release hv0 g0 g1 t0 t1 slowest=0 ms total
	start_vm 6.1-cloud q35 2
	disk_workload_start
	release=$("$LAB" vm exec "$VM" -- uname -r)
	hv0=$(hv_state "$PID")
	g0=$(guest_left)
	total=$(date +%s%N)
	# not $i: bats' run changes it
	for ((round = 1; round <= n; round++)); do
		t0=$(date +%s%N)
		rc=0
		bounded_vmsh 120 "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/err" attach -v "$PID" -- uname -r || rc=$?
		t1=$(date +%s%N)
		ms=$(((t1 - t0) / 1000000))
		[ "$ms" -le "$slowest" ] || slowest=$ms
		if [ "$rc" -ne 0 ] || [ "$(cat "$BATS_TEST_TMPDIR/out")" != "$release" ]; then
			echo "round $round: status $rc after $ms ms"
			echo "stdout: $(cat "$BATS_TEST_TMPDIR/out")"
			echo "stderr: $(cat "$BATS_TEST_TMPDIR/err")"
			return 1
		fi
		# progress, also for the lab's stall detector (silence = stuck)
		[ $((round % 10)) -ne 0 ] ||
			echo "# $round/$n attaches, the last took $ms ms, the slowest $slowest ms" >&3
	done
	echo "# $n attaches: $(((($(date +%s%N) - total) / 1000000) / n)) ms each on average, slowest $slowest ms" >&3
	diff <(echo "$hv0") <(hv_state "$PID")
	g1=$(guest_left)
	echo "guest (virtio-mmio devices, /dev/.vmsh*, mounts, vmsh processes): before $g0, after $g1"
	[ "$g1" = "$g0" ]
	disk_workload_check >/dev/null
}
