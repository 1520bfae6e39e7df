# Helpers for testhv.bats and testhv_lab.bats: start and stop vmsh_testhv, a
# test hypervisor whose real-mode guest checks its own memory (see testhv.c).

ROOT=$BATS_TEST_DIRNAME/../..
TESTHV=${TESTHV:-$ROOT/build/tests/vmsh_testhv}
VMSH=${VMSH:-$ROOT/build/bin/vmsh}

has_kprobes() {
	[ -e /sys/bus/event_source/devices/kprobe ] ||
		[ -e /sys/kernel/tracing/kprobe_events ] ||
		[ -e /sys/kernel/debug/tracing/kprobe_events ]
}

testhv_setup() {
	HVPID=
	[ -x "$TESTHV" ] || skip "not built: $TESTHV (make)"
	[ -x "$VMSH" ] || skip "not built: $VMSH (make)"
	[ -c /dev/kvm ] && [ -w /dev/kvm ] || skip "no usable /dev/kvm"
	FACTS=$BATS_TEST_TMPDIR/facts.json
	HVOUT=$BATS_TEST_TMPDIR/testhv.out
	HVERR=$BATS_TEST_TMPDIR/testhv.err
}

# A test hypervisor that a failed test left running: stopped by its pid.
testhv_teardown() {
	if [ -n "$HVPID" ] && kill -0 "$HVPID" 2>/dev/null; then
		kill -KILL "$HVPID"
		wait "$HVPID" 2>/dev/null || true
	fi
}

# start_testhv [OPTION...]: start it and wait for "ready PID"; sets HVPID.
start_testhv() {
	local i
	"$TESTHV" --facts "$FACTS" "$@" >"$HVOUT" 2>"$HVERR" 3>&- &
	HVPID=$!
	for ((i = 0; i < 600; i++)); do
		grep -q '^ready ' "$HVOUT" && break
		kill -0 "$HVPID" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -qx "ready $HVPID" "$HVOUT"; then
		echo "vmsh_testhv did not get ready:"
		cat "$HVOUT" "$HVERR"
		return 1
	fi
}

# stop_testhv: SIGTERM; succeeds only if the test hypervisor exits 0 (its
# guest's checks and its own passed, and the guest still made progress).
stop_testhv() {
	local rc=0
	kill -TERM "$HVPID"
	wait "$HVPID" || rc=$?
	HVPID=
	echo "vmsh_testhv exited with status $rc:"
	cat "$HVERR"
	return "$rc"
}

# progress: the guest's iteration counters, one line ("progress N0 N1 ...").
progress() {
	local n i
	n=$(grep -c '^progress' "$HVOUT" || true)
	kill -USR1 "$HVPID"
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c '^progress' "$HVOUT")" -gt "$n" ] && break
		sleep 0.05
	done
	grep '^progress' "$HVOUT" | tail -1
}

# every counter of progress line $2 is greater than in $1
advanced() {
	local -a a=($1) b=($2)
	local i
	[ "${#a[@]}" -eq "${#b[@]}" ] && [ "${#a[@]}" -gt 1 ] || return 1
	for ((i = 1; i < ${#a[@]}; i++)); do
		[ "${b[i]}" -gt "${a[i]}" ] || { echo "vcpu $((i - 1)): ${a[i]} -> ${b[i]}"; return 1; }
	done
}

# progressed P0: the guest's counters pass those of progress line P0 (within
# 20 s: a loaded machine, or a TCG lab host, runs the guest slowly).
progressed() {
	local p1 i
	for ((i = 0; i < 100; i++)); do
		p1=$(progress)
		advanced "$1" "$p1" >/dev/null && return 0
		sleep 0.2
	done
	echo "no progress: $1 -> $p1"
	return 1
}

# What must not change across vmsh runs: fds (and what they are), mappings,
# threads, and per thread: tracer, pending and blocked signals.
fd_listing() {
	local f
	for f in /proc/"$HVPID"/fd/*; do
		echo "${f##*/} $(readlink "$f")"
	done
}

thread_state() {
	local t
	for t in /proc/"$HVPID"/task/*; do
		echo "${t##*/} $(grep -E '^(TracerPid|SigPnd|ShdPnd|SigBlk)' "$t/status" | tr '\n' ' ')"
	done
}

# mmio_state: per vCPU, what its last MMIO read got and how many MMIO exits
# the test hypervisor served ("mmio 0x7e57/N0 ...").
mmio_state() {
	progress >/dev/null
	grep '^mmio' "$HVOUT" | tail -1
}
