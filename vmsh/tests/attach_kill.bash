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

# wait_keepers ERR: the keepers a killed vmsh -v named in ERR end within 60 s.
wait_keepers() {
	local k
	for k in $(sed -n 's/.*keeper pid \([0-9]*\).*/\1/p' "$1"); do
		helper=$k # teardown ends it, should it still run
		ended_within "$k" 60 || { echo "keeper $k did not finish within 60 s:"; cat "$1"; return 1; }
		helper=
	done
}

# steady_kill HV0 G0 RELEASE: SIGKILL vmsh in the steady state while CMD
# keeps its console and disk busy (a guest left with those unserved hangs:
# a sync waits for ever, an hvc write spins with interrupts off). The keeper
# vmsh forked on entering the steady state must detach in its place: within
# 60 s CMD is gone, the guest has nothing of vmsh left and no new splat, the
# hypervisor's fds and maps are as before that attach, and then as after_kill.
steady_kill() {
	local hv0=$1 g0=$2 release=$3 hv1 g1 splats0 keeper vmsh t err=$BATS_TEST_TMPDIR/err
	hv1=$(hv_state "$PID")
	g1=$(guest_left)
	splats0=$(guest_splats | wc -l)
	"$VMSH" attach -v "$PID" -- sh -c 'while :; do echo tick; cat /bin/busybox >/dev/null; echo 3 >/proc/sys/vm/drop_caches; sleep 0.2; done' </dev/null \
		> >(cat >/dev/null) 2>"$err" &
	helper=$!
	vmsh=$helper
	# the keeper forked after the steady state's entry (the one before it is gone)
	for ((t = 0; t < 1200; t++)); do
		sed -n '/steady state: registers/,$p' "$err" | grep -q 'keeper pid' && break
		sleep 0.1
	done
	keeper=$(sed -n '/steady state: registers/,$p' "$err" | sed -n 's/.*keeper pid \([0-9]*\).*/\1/p' | tail -1)
	[ -n "$keeper" ] || { echo "no keeper:"; cat "$err"; return 1; }
	sleep 2
	kill -KILL "$vmsh"
	wait "$vmsh" || true
	wait_keepers "$err" || return 1
	grep 'keeper' "$err" | sed 's/^/# /' >&3
	grep -q 'keeper: detached' "$err" || { cat "$err"; return 1; }
	diff <(echo "$hv1") <(hv_state "$PID") || { echo "the keeper did not restore the hypervisor"; return 1; }
	[ "$(guest_left)" = "$g1" ] || { echo "left in the guest: $(guest_left) (before: $g1)"; return 1; }
	[ "$(guest_splats | wc -l)" -eq "$splats0" ] || { guest_splats; return 1; }
	after_kill "SIGKILL in the steady state (the keeper detached)" "$hv0" "$g0" "$release"
}

# kill_points N: SIGKILL N attaches at points spread evenly over the time
# an attach takes to its command's output here (measured first: about 1 s
# on hardware, 10 s in a loaded nested lab), then once in the steady state
# of a long-running command.
kill_points() {
	local n=$1 k delay rc release hv0 g0 last t0 span failed=()
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
		wait_keepers "$BATS_TEST_TMPDIR/err" || failed+=("$delay s (keeper)")
		last=$(grep -v '^ *$' "$BATS_TEST_TMPDIR/err" | grep -v keeper | tail -1 | cut -c1-100)
		grep 'keeper' "$BATS_TEST_TMPDIR/err" | sed 's/^/#     /' >&3 || true
		# every point runs, so that one run shows all that fail
		after_kill "SIGKILL after $delay s (status $rc, last said: $last)" "$hv0" "$g0" "$release" ||
			failed+=("$delay s")
	done
	steady_kill "$hv0" "$g0" "$release" || failed+=("steady state")
	[ ${#failed[@]} -eq 0 ] || { echo "failed after the kills at: ${failed[*]}"; return 1; }
}
