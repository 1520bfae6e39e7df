# Shared by attach_many.bats (make check) and attach_many_full.bats (make
# check-full): N attaches in a row on one guest, each under a deadline.

# hold_report PID VMSH_PID: what vmsh and every hypervisor thread are doing
# (state, wchan, kernel stack when readable, TracerPid), as TAP comments.
hold_report() {
	local pid=$1 vmsh=$2 task tid
	for task in /proc/"$vmsh"/task/* /proc/"$pid"/task/*; do
		[ -d "$task" ] || continue
		tid=${task##*/}
		echo "# $(sed 's/^\([0-9]*\) (\([^)]*\)) \([A-Z]\).*/tid \1 (\2) state \3/' "$task/stat" 2>/dev/null)" \
			"wchan $(cat "$task/wchan" 2>/dev/null)" \
			"$(grep -E '^TracerPid:' "$task/status" 2>/dev/null | tr '\t' ' ')" >&3
		sed 's/^/#     /' "$task/stack" 2>/dev/null >&3 || true
	done
}

# bounded_attach DEADLINE_S OUT ERR: vmsh attach -v $PID -- uname -r, stdin
# /dev/null, stdout a pipe (into OUT), stderr into ERR. Returns vmsh's
# status; if the deadline passes first, reports what every thread is doing,
# ends vmsh (SIGTERM, then SIGKILL 10 s later) and returns 124.
bounded_attach() {
	local deadline=$1 out=$2 err=$3 vmsh t rc=0
	"$VMSH" attach -v "$PID" -- uname -r </dev/null 2>"$err" > >(cat >"$out") &
	vmsh=$!
	for ((t = 0; t < deadline * 10; t++)); do
		grep -q '^State:.*Z' "/proc/$vmsh/status" 2>/dev/null && break
		[ -d "/proc/$vmsh" ] || break
		sleep 0.1
	done
	if [ -d "/proc/$vmsh" ] && ! grep -q '^State:.*Z' "/proc/$vmsh/status" 2>/dev/null; then
		echo "# vmsh $vmsh did not end within $deadline s; what every thread is doing:" >&3
		hold_report "$PID" "$vmsh"
		kill -TERM "$vmsh" 2>/dev/null || true
		for ((t = 0; t < 100; t++)); do
			grep -q '^State:.*Z' "/proc/$vmsh/status" 2>/dev/null && break
			sleep 0.1
		done
		kill -KILL "$vmsh" 2>/dev/null || true
		wait "$vmsh" || true
		sed 's/^/# vmsh: /' "$err" >&3
		return 124
	fi
	wait "$vmsh" || rc=$?
	return "$rc"
}

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
		bounded_attach 120 "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/err" || rc=$?
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
