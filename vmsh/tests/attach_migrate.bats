#!/usr/bin/env bats
# Runs inside a lab host: vmsh and a VM that is being migrated (issue 19,
# finding 8). vmsh's memslot and its writes are invisible to KVM's dirty log,
# so an attach is refused while QEMU migrates, and a session that is in its
# steady state when a migration starts detaches. The migration goes to a
# pipe at 64 KiB/s, so that it stays active for the whole test, and is
# cancelled after.

bats_require_minimum_version 1.5.0

load attach_common

# qmp COMMAND_JSON...: run QMP commands on the VM's monitor, print the replies.
qmp() {
	local sock
	sock=$("$LAB" vm dir "$VM")/qmp.sock
	{
		echo '{"execute":"qmp_capabilities"}'
		for c in "$@"; do echo "$c"; done
		sleep 1
	} | timeout 10 socat - "UNIX-CONNECT:$sock"
}

migrate_start() {
	qmp '{"execute":"migrate-set-parameters","arguments":{"max-bandwidth":65536}}' \
	    '{"execute":"migrate","arguments":{"uri":"exec:cat > /dev/null"}}' >/dev/null
	for _ in $(seq 50); do
		qmp '{"execute":"query-migrate"}' | grep -q '"status": *"active"' && return 0
		sleep 0.2
	done
	echo "the migration did not start"; qmp '{"execute":"query-migrate"}'
	return 1
}

migrate_cancel() {
	qmp '{"execute":"migrate_cancel"}' >/dev/null
	for _ in $(seq 50); do
		qmp '{"execute":"query-migrate"}' | grep -qE '"status": *"(active|cancelling)"' || return 0
		sleep 0.2
	done
	return 1
}

@test "attach while QEMU migrates the VM: refused with a clear error, the VM unharmed; after the migration ends, attach works" {
	start_vm 6.1-cloud q35 2
	hv0=$(hv_state "$PID")
	migrate_start
	run --separate-stderr "$VMSH" attach "$PID" -- uname -r </dev/null
	echo "stdout: $output"
	echo "stderr: $stderr"
	[ "$status" -eq 125 ]
	[[ $stderr == *"the VM is being migrated or snapshotted"*"attach after it ends"* ]]
	migrate_cancel
	diff <(echo "$hv0") <(hv_state "$PID")
	run --separate-stderr "$VMSH" attach "$PID" -- uname -r </dev/null
	echo "stderr: $stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "$("$LAB" vm exec "$VM" -- uname -r)" ]
}

@test "a migration that starts while vmsh is attached (steady state): vmsh detaches, the VM unharmed" {
	start_vm 6.1-cloud q35 2
	"$LAB" vm exec "$VM" -- true # the guest answers: its log is read for k0
	hv0=$(hv_state "$PID")
	k0=$(guest_splats)
	out=$BATS_TEST_TMPDIR/out err=$BATS_TEST_TMPDIR/err
	"$VMSH" attach -v "$PID" -- sh -c 'while :; do echo tick; sleep 0.2; done' \
		</dev/null >"$out" 2>"$err" &
	helper=$!
	for _ in $(seq 100); do
		grep -q "steady state: registers" "$err" && break
		sleep 0.2
	done
	grep -q "steady state: registers" "$err"
	migrate_start
	for _ in $(seq 150); do
		kill -0 "$helper" 2>/dev/null || break
		sleep 0.2
	done
	cat "$err"
	# (not "! kill -0 ...": bats does not fail a test on a negated command)
	if kill -0 "$helper" 2>/dev/null; then
		echo "vmsh did not detach within 30 s of the migration's start"
		false
	fi
	wait "$helper" || status=$?
	helper=
	grep -q "the VM is being migrated or snapshotted" "$err"
	grep "the VM is being migrated or snapshotted" "$err" | sed 's/^/# /' >&3
	[ "${status:-0}" -ne 0 ]
	migrate_cancel
	diff <(echo "$hv0") <(hv_state "$PID")
	diff <(echo "$k0") <(guest_splats)
	"$LAB" vm exec "$VM" -- true
}
