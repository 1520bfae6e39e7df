# Shared by the lab's attach tests (attach.bats, attach_matrix.bats): vmsh
# attach against real QEMU/KVM guests inside a lab host. Every VM is stopped
# by pid in teardown; the guest must keep running and the hypervisor must be
# left as it was.

LAB=$BATS_TEST_DIRNAME/../../lab/lab
VMSH=${VMSH:-$BATS_TEST_DIRNAME/../../build/bin/vmsh}

setup() {
	VM=a$BATS_TEST_NUMBER
	helper=
}

teardown() {
	[ -z "${helper:-}" ] || kill "$helper" 2>/dev/null || true
	"$LAB" vm stop "$VM"
}

# What vmsh must leave as it found it: the hypervisor's fds (and what they
# are) and its RAM and device mappings (QEMU's own thread stacks and heap
# come and go as its worker threads do, so anonymous private mappings are
# not compared), and no thread traced.
hv_state() {
	local pid=$1
	ls -l "/proc/$pid/fd" | awk 'NR > 1 { print $9, $10, $11 }'
	grep -vE ' rw-p [0-9a-f]+ 00:00 0 *$|---p [0-9a-f]+ 00:00 0 *$' "/proc/$pid/maps"
	cat /proc/"$pid"/task/*/status 2>/dev/null | grep -E '^TracerPid:' | grep -vc $'TracerPid:\t0$' || true
}

# What vmsh must leave in the guest: no device of its own, no file, no mount,
# no process of stage2 or its command.
guest_state() {
	"$LAB" vm exec "$VM" --again -- 'ls /sys/bus/platform/devices | grep -c virtio-mmio; ls -a /dev | grep -c "^\.vmsh"; wc -l < /proc/mounts; ps -o comm | grep -cE "^(sleep|stage2|\.vmsh)"' | tr '\n' ' '
}

# guest_state, less its count of sleep processes: for guests that run
# disk_workload_start (its loop runs sleep).
guest_left() {
	"$LAB" vm exec "$VM" --again -- 'ls /sys/bus/platform/devices | grep -c virtio-mmio; ls -a /dev | grep -c "^\.vmsh"; wc -l < /proc/mounts; ps -o comm | grep -cE "^(stage2|\.vmsh)"' | tr '\n' ' '
}

# The guest's kernel log lines that say something went wrong in it: a
# warning, a bug or oops, a lockdep report, or one of stage1's failed steps.
guest_splats() {
	# Filtered in the guest: the whole log through the nested lab's serial
	# console (a 7.x guest's log) once took more than labcon's 60 s.
	"$LAB" vm exec "$VM" --again -- "dmesg | grep -E '$SPLATS' || true"
}
SPLATS='WARNING:|BUG:|Oops|general protection|lockdep|possible circular locking|inconsistent lock state|scheduling while atomic|vmsh: stage1 step'

# start_vm KERNEL MACHINE SMP [lab vm start options...]: a "pre-baked" VM,
# root on virtio-blk (unless the options say --shape initramfs); sets PID.
start_vm() {
	local kernel=$1 machine=$2 smp=$3
	shift 3
	PID=$("$LAB" vm start "$VM" --kernel "$kernel" --machine "$machine" --smp "$smp" --shape disk "$@")
	progress "$VM ($kernel, $machine, $smp vCPUs $*) is up, hypervisor pid $PID"
}

# A TAP comment printed at once: where a test was when a lab host got stuck.
progress() {
	echo "# [${SECONDS}s] $*" >&3
}

# attach_basics: uname -r prints the guest's release and exits 0; a command's
# exit status comes back from a second attach; the hypervisor and the guest
# are as before, and the guest's kernel logged no new warning or splat.
attach_basics() {
	local release hv0 g0 k0
	release=$("$LAB" vm exec "$VM" --again -- uname -r)
	hv0=$(hv_state "$PID")
	g0=$(guest_state)
	k0=$(guest_splats)
	progress "attach -- uname -r"
	run --separate-stderr "$VMSH" attach "$PID" -- uname -r </dev/null
	echo "stdout: $output"
	echo "stderr: $stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "$release" ]
	run "$VMSH" attach "$PID" -- sh -c 'exit 7' </dev/null
	[ "$status" -eq 7 ]
	diff <(echo "$hv0") <(hv_state "$PID")
	[ "$(guest_state)" = "$g0" ]
	no_new_splats "$k0"
}

# no_new_splats BEFORE: the guest's kernel log has no warning or splat that
# guest_splats did not print as BEFORE (compared as strings: an empty log
# before and after is no change).
no_new_splats() {
	local before=$1 after
	after=$(guest_splats)
	[ "$after" = "$before" ] && return
	echo "new lines in the guest's kernel log:"
	diff <(printf '%s\n' "$before") <(printf '%s\n' "$after")
	false
}

# attach_root_view: in CMD, / is the image (busybox, no VM files), the VM's
# root is at /var/lib/vmsh, /proc is fresh and shows the guest's PID 1.
attach_root_view() {
	local mark=$1
	progress "attach: the root view"
	run --separate-stderr "$VMSH" attach "$PID" -- sh -c "test -x /bin/busybox && test ! -e /$mark && test -e /var/lib/vmsh/$mark && test ! -e /var/lib/vmsh/var/lib/vmsh/$mark && grep -q '^proc /proc proc' /proc/mounts && cat /proc/1/comm" </dev/null
	echo "stdout: $output"
	echo "stderr: $stderr"
	[ "$status" -eq 0 ]
	[ "$output" = init ]
}

# disk_workload_start: in the guest, a loop that writes 64 KiB of random
# data to its own disk, syncs, drops the page cache and checks the data read
# back, once a second, logging "ok N" or "BAD N" to /root/w.log.
disk_workload_start() {
	"$LAB" vm exec "$VM" -- 'i=0; (while :; do i=$((i + 1)); dd if=/dev/urandom of=/root/w.bin bs=4k count=16 2>/dev/null; sync; s1=$(md5sum < /root/w.bin); echo 3 > /proc/sys/vm/drop_caches; s2=$(md5sum < /root/w.bin); [ "$s1" = "$s2" ] && echo ok $i >> /root/w.log || echo BAD $i >> /root/w.log; sleep 1; done) >/dev/null 2>&1 &'
}

# disk_workload_check: no BAD round so far and at least one checked; prints
# the number of checked rounds (and a TAP comment).
disk_workload_check() {
	local counts ok bad
	# counted in the guest: the log grows by a line a second
	counts=$("$LAB" vm exec "$VM" --again -- 'echo $(grep -c "^ok" /root/w.log) $(grep -c BAD /root/w.log); grep BAD /root/w.log | head -5')
	read -r ok bad <<<"$counts"
	echo "# disk workload: $ok checked rounds, $bad bad" >&3
	if [ "$bad" != 0 ]; then
		{ echo "the guest's disk workload failed:"; tail -n +2 <<<"$counts"; } >&2
		return 1
	fi
	[ "$ok" -gt 0 ]
	echo "$ok"
}

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

# ended_within PID SECONDS: whether child PID exits (is a zombie or gone) in time
ended_within() {
	local pid=$1 t
	for ((t = 0; t < $2 * 10; t++)); do
		[ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# bounded_vmsh DEADLINE_S OUT ERR ARGS...: "$VMSH" ARGS against $PID, stdin
# /dev/null, stdout a pipe (into OUT), stderr into ERR. Returns vmsh's
# status. bats 1.8 has no per-test timeout, and a vmsh that never ends would
# only be caught by the lab's stall detector, without a word on why: past the
# deadline this reports what every thread is doing, ends vmsh (SIGTERM; if
# it is still there 10 s later, says so and sends SIGKILL) and returns 124.
bounded_vmsh() {
	local deadline=$1 out=$2 err=$3 vmsh rc=0 pipe reader
	shift 3
	# the pipe's reader is waited for too: OUT is whole when this returns
	exec {pipe}> >(cat >"$out")
	reader=$!
	"$VMSH" "$@" </dev/null 2>"$err" >&"$pipe" &
	vmsh=$!
	exec {pipe}>&-
	if ! ended_within "$vmsh" "$deadline"; then
		echo "# vmsh $vmsh did not end within $deadline s; what every thread is doing:" >&3
		hold_report "$PID" "$vmsh"
		kill -TERM "$vmsh" 2>/dev/null || true
		if ! ended_within "$vmsh" 10; then
			echo "# vmsh $vmsh still runs 10 s after SIGTERM; SIGKILL. Its threads:" >&3
			hold_report "$PID" "$vmsh"
			kill -KILL "$vmsh" 2>/dev/null || true
		fi
		wait "$vmsh" || true
		wait "$reader" || true
		sed 's/^/# vmsh: /' "$err" >&3
		return 124
	fi
	wait "$vmsh" || rc=$?
	wait "$reader" || true
	return "$rc"
}
