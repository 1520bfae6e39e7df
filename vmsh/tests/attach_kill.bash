# Shared by attach_kill.bats (make check: 5 points) and attach_kill_full.bats
# (make check-full: 20 points): SIGKILL vmsh at points spread over an attach
# and once in the steady state. vmsh cannot clean up after SIGKILL: what it
# leaves is reported, not forbidden; a dead, wedged or traced VM is.

# kill_report WHAT HV0 G0: after a kill, what is left behind, as a TAP comment.
kill_report() {
	local what=$1 hv0=$2 g0=$3 hv stopped
	hv=$(diff <(echo "$hv0") <(hv_state "$PID") | grep '^[<>]' || true)
	stopped=$(cat /proc/"$PID"/task/*/stat 2>/dev/null | sed 's/^[0-9]* ([^)]*) //' | grep -c '^[tT]' || true)
	echo "# $what: hypervisor: $(grep -c '^>' <<<"$hv" || true) fds/maps added," \
		"$(grep -c '^<' <<<"$hv" || true) gone, $stopped threads stopped;" \
		"guest (virtio-mmio devices, /dev/.vmsh*, mounts, stage2 processes): $(guest_left)(before: $g0)" >&3
	grep '^>' <<<"$hv" | head -8 | sed 's/^/#     /' >&3 || true
}

# after_kill WHAT HV0 G0 RELEASE: no hypervisor thread traced or stopped,
# the guest answers on its console, its disk workload verifies on (more
# checked rounds than before, none bad), and a new attach works.
after_kill() {
	local what=$1 hv0=$2 g0=$3 release=$4 traced rounds
	kill_report "$what" "$hv0" "$g0"
	traced=$(cat /proc/"$PID"/task/*/status 2>/dev/null | grep -E '^TracerPid:' | grep -vc $'TracerPid:\t0$' || true)
	[ "$traced" -eq 0 ] || { echo "$what: $traced threads still traced"; return 1; }
	! cat /proc/"$PID"/task/*/stat 2>/dev/null | sed 's/^[0-9]* ([^)]*) //' | grep -q '^[tT]' ||
		{ echo "$what: threads left stopped"; return 1; }
	timeout 60 "$LAB" vm exec "$VM" -- true || { echo "$what: the guest does not answer"; return 1; }
	rounds=$(disk_workload_check) || { echo "$what: the guest's disk workload failed"; return 1; }
	[ "$rounds" -gt "${last_rounds:-0}" ] ||
		{ echo "$what: the guest's disk workload made no progress ($rounds rounds)"; return 1; }
	last_rounds=$rounds
	run --separate-stderr timeout 120 "$VMSH" attach "$PID" -- uname -r </dev/null
	[ "$status" -eq 0 ] && [ "$output" = "$release" ] || {
		echo "# $what: the next attach: status $status: $output" >&3
		sed 's/^/#     vmsh: /' <<<"$stderr" | tail -15 >&3
		return 1
	}
}

# kill_points N: SIGKILL N attaches at points spread evenly over the time
# an attach takes to its command's output here (measured first: about 1 s
# on hardware, 10 s in a loaded nested lab), then once in the steady state
# of a long-running command.
kill_points() {
	local n=$1 k delay rc release hv0 g0 last vmsh t0 span failed=()
	start_vm 6.1-cloud q35 2
	disk_workload_start
	release=$("$LAB" vm exec "$VM" -- uname -r)
	hv0=$(hv_state "$PID")
	g0=$(guest_left)
	last_rounds=0
	t0=$(date +%s%N)
	run --separate-stderr timeout 120 "$VMSH" attach "$PID" -- uname -r </dev/null
	[ "$status" -eq 0 ] || { echo "a first attach failed: $stderr"; return 1; }
	span=$((($(date +%s%N) - t0) / 1000000))
	echo "# an attach takes $span ms here: $n kills spread over it" >&3
	for ((k = 0; k < n; k++)); do
		delay=$(awk -v s="$span" -v k="$k" -v n="$n" 'BEGIN { printf "%.2f", s * (k + 0.5) / n / 1000 }')
		"$VMSH" attach -v "$PID" -- sleep 600 </dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/err" &
		helper=$!
		sleep "$delay"
		kill -KILL "$helper"
		rc=0
		wait "$helper" || rc=$?
		helper=
		last=$(grep -v '^ *$' "$BATS_TEST_TMPDIR/err" | tail -1 | cut -c1-100)
		# every point runs, so that one run shows all that fail
		after_kill "SIGKILL after $delay s (status $rc, last said: $last)" "$hv0" "$g0" "$release" ||
			failed+=("$delay s")
	done
	"$VMSH" attach -v "$PID" -- sh -c 'while :; do echo tick; sleep 0.2; done' </dev/null \
		> >(cat >/dev/null) 2>"$BATS_TEST_TMPDIR/err" &
	helper=$!
	vmsh=$helper
	for ((t = 0; t < 1200; t++)); do grep -q 'steady state: registers' "$BATS_TEST_TMPDIR/err" && break; sleep 0.1; done
	grep -q 'steady state: registers' "$BATS_TEST_TMPDIR/err" || { cat "$BATS_TEST_TMPDIR/err"; return 1; }
	sleep 2
	kill -KILL "$vmsh"
	wait "$vmsh" || true
	helper=
	after_kill "SIGKILL in the steady state" "$hv0" "$g0" "$release" || failed+=("steady state")
	[ ${#failed[@]} -eq 0 ] || { echo "failed after the kills at: ${failed[*]}"; return 1; }
}
