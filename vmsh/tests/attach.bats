#!/usr/bin/env bats
# Runs inside a lab host: vmsh attach against real QEMU/KVM guests: the VM's
# root in the container, the paper's use cases, an interactive terminal,
# repeated attaches, a guest workload, bad input and signals at every phase.

bats_require_minimum_version 1.5.0

load attach_common

@test "the VM's root is at /var/lib/vmsh: a file written there is the guest's; ps lists the guest's processes" {
	start_vm 6.1 pc 1
	run "$VMSH" attach "$PID" -- sh -c 'echo written-by-vmsh > /var/lib/vmsh/root/from-vmsh; ls /var/lib/vmsh/etc >/dev/null' </dev/null
	[ "$status" -eq 0 ]
	[ "$("$LAB" vm exec "$VM" -- cat /root/from-vmsh)" = written-by-vmsh ]
	# inspection: the container's ps sees the guest's processes, PID 1 first
	# (kernel workers come and go: they are not counted)
	guest_ps=$("$LAB" vm exec "$VM" -- 'ps -o pid,comm | grep -vc " kworker/"')
	run --separate-stderr "$VMSH" attach "$PID" -- ps -o pid,comm </dev/null
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $(sed -n 2p <<<"$output") == *" 1 init"* ]]
	# the guest's own processes plus ours (stage2, ps), less the exec's two
	[ "$(grep -vc " kworker/" <<<"$output")" -ge "$((guest_ps - 2))" ]
	# pipes work, and stdin ends for the command when vmsh's does
	run --separate-stderr "$VMSH" attach "$PID" -- /bin/sh <<<'echo piped; cat /var/lib/vmsh/root/from-vmsh'
	[ "$status" -eq 0 ]
	[ "$output" = "piped
written-by-vmsh" ]
}

@test "recovery: root's password is changed with chpasswd -R /var/lib/vmsh from a tool image" {
	start_vm 6.1 pc 1
	# a tool image with Debian's chpasswd and the libraries it links
	tree=$BATS_TEST_TMPDIR/tools
	mkdir -p "$tree/usr/sbin" "$tree/bin"
	cp /usr/sbin/chpasswd "$tree/usr/sbin/"
	cp /bin/busybox "$tree/bin/"
	ln -s busybox "$tree/bin/sh"
	for lib in $(ldd /usr/sbin/chpasswd | grep -o '/[^ ]*'); do
		mkdir -p "$tree$(dirname "$lib")"
		cp -L "$lib" "$tree$lib"
	done
	"$VMSH" image build "$tree" -o "$BATS_TEST_TMPDIR/tools.img"
	# a VM whose root account is locked (the password is lost)
	"$LAB" vm exec "$VM" -- 'sed -i "s/^root::/root:x:/" /etc/passwd; echo "root:!:20000:0:99999:7:::" > /etc/shadow; chmod 600 /etc/shadow'
	before=$("$LAB" vm exec "$VM" -- 'grep "^root:" /etc/shadow')
	# -c SHA512: the hash is made by chpasswd itself, no PAM of the guest's needed
	run "$VMSH" attach "$PID" -f "$BATS_TEST_TMPDIR/tools.img" -- \
		/usr/sbin/chpasswd -R /var/lib/vmsh -c SHA512 <<<'root:rescued-by-vmsh'
	echo "$output"
	[ "$status" -eq 0 ]
	after=$("$LAB" vm exec "$VM" -- 'grep "^root:" /etc/shadow')
	echo "before: $before"
	echo "after:  $after"
	[ "$after" != "$before" ]
	# the new hash is the new password's, with the hash's own salt
	hash=$(cut -d: -f2 <<<"$after")
	[[ $hash == '$6$'* ]]
	[ "$(python3 -W ignore -c 'import crypt, sys; print(crypt.crypt(sys.argv[1], sys.argv[2]))' \
		rescued-by-vmsh "$hash")" = "$hash" ]
}

@test "an interactive session through a pty: a command, its output, a resize, Ctrl-D" {
	start_vm 6.1-cloud q35 2
	dir=$BATS_TEST_TMPDIR
	mkfifo "$dir/in"
	exec 7<>"$dir/in"
	script -q -f -e -c "$VMSH attach -v $PID" "$dir/typescript" <"$dir/in" >/dev/null 2>&1 &
	helper=$!
	wait_for() { # PATTERN: in the session's output within 120 s
		for i in $(seq 1200); do grep -q "$1" "$dir/typescript" 2>/dev/null && return 0; sleep 0.1; done
		cat -A "$dir/typescript"
		return 1
	}
	echo 'echo "hello $((6 * 7))"' >&7
	wait_for 'hello 42'
	# resize vmsh's terminal after probing, in the steady state (the
	# config space is read from memory): the guest's terminal follows
	wait_for 'steady state: registers'
	vmsh=$(pgrep -n -x vmsh) # not script (its command line), nor the keeper (vmsh-keeper)
	stty -F "$(readlink "/proc/$vmsh/fd/0")" rows 33 cols 111
	echo 'stty size' >&7
	wait_for '33 111'
	printf '\004' >&7
	rc=0
	wait "$helper" || rc=$?
	helper=
	exec 7>&-
	[ "$rc" -eq 0 ]
	"$LAB" vm exec "$VM" -- true
}

@test "steady state: while I/O runs, no thread of the hypervisor is traced and vmsh makes no ptrace request" {
	start_vm 6.1-cloud q35 2
	dir=$BATS_TEST_TMPDIR
	cp "$("$VMSH" image default)" "$dir/tools.img" # writable: I/O on vmsh's disk
	hv0=$(hv_state "$PID")
	"$VMSH" attach -v -f "$dir/tools.img" "$PID" -- sh -c '
		n=0
		while [ $n -lt 30 ]; do
			dd if=/dev/urandom of=/io.bin bs=4k count=64 2>/dev/null || exit 1
			a=$(md5sum < /io.bin); sync
			echo 3 > /proc/sys/vm/drop_caches
			[ "$(md5sum < /io.bin)" = "$a" ] || { echo "checksum mismatch"; exit 1; }
			n=$((n + 1)); sleep 0.2
		done
		echo io-ok; sleep 2' </dev/null >"$dir/out" 2>"$dir/err" &
	helper=$!
	# look at the hypervisor from outside while CMD runs in the steady state
	for t in $(seq 600); do grep -q 'steady state: registers' "$dir/err" && break; sleep 0.1; done
	grep 'steady state: registers' "$dir/err"
	nice_seen=$(ps -o ni= -p "$helper" | tr -d ' ')
	samples=0
	# (until CMD says it is done: it then sleeps 2 s before vmsh detaches)
	while kill -0 "$helper" 2>/dev/null && ! grep -q io-ok "$dir/out"; do
		traced=$(cat /proc/"$PID"/task/*/status 2>/dev/null | grep -E '^TracerPid:' | grep -vc $'TracerPid:\t0$' || true)
		[ "$traced" -eq 0 ] || { echo "traced threads: $traced"; cat "$dir/err"; false; }
		samples=$((samples + 1))
		sleep 0.2
	done
	rc=0
	wait "$helper" || rc=$?
	helper=
	cat "$dir/out" "$dir/err"
	[ "$rc" -eq 0 ]
	[ "$(cat "$dir/out")" = io-ok ]
	[ "$samples" -ge 5 ]
	# vmsh's own count: not one request between probing and detach, and the
	# guest's InterruptACK writes were taken by the kernel
	grep -E 'steady state: [0-9.]+ s, 0 ptrace requests' "$dir/err"
	acks=$(sed -n 's/.* \([0-9]*\) acknowledged in the kernel.*/\1/p' "$dir/err")
	[ "$acks" -gt 0 ]
	diff <(echo "$hv0") <(hv_state "$PID")
	"$LAB" vm exec "$VM" -- true
	# vmsh's niceness (attach.c's set_nice): -5 by default (the session
	# above), kept when started under nice(1), chosen with --nice
	echo "niceness by default: $nice_seen"
	[ "$nice_seen" = -5 ]
	for want in "3 nice -n 3 $VMSH attach" "7 $VMSH attach --nice 7"; do
		set -- $want
		n=$1
		shift
		"$@" "$PID" -- sleep 3 </dev/null >/dev/null 2>&1 &
		helper=$!
		sleep 1
		got=$(ps -o ni= -p "$helper" | tr -d ' ')
		wait "$helper"
		helper=
		echo "niceness for '$*': $got"
		[ "$got" = "$n" ]
	done
}

@test "several disk requests in flight: 8 writers and 8 readers at once read back what they wrote, through vmsh's I/O threads" {
	start_vm 6.1-cloud q35 2
	dir=$BATS_TEST_TMPDIR
	# The image on the lab host's 9p share, a network file system: every
	# read waits for the outer machine, so requests are not served from the
	# page cache on vmsh's own thread (virtio_blk.c) but go to its threads.
	[ -n "${LAB_NOTES:-}" ] || skip "needs the lab host's share (LAB_NOTES)"
	img=$(mktemp "$(dirname "$LAB_NOTES")/tools.XXXXXX")
	cp "$("$VMSH" image default)" "$img" # writable: I/O on vmsh's disk
	# 8 files of 128 KiB (the default image has a few MiB free) written at
	# once, flushed together (writeback posts many requests before it
	# waits), then read back at once from the disk
	"$VMSH" attach -f "$img" "$PID" -- sh -c '
		for i in 1 2 3 4 5 6 7 8; do
			(dd if=/dev/urandom of=/f$i bs=16k count=8 2>/dev/null && md5sum < /f$i > /f$i.sum ||
			 echo "f$i not written") &
		done
		wait; sync; echo 3 > /proc/sys/vm/drop_caches
		for i in 1 2 3 4 5 6 7 8; do
			( [ "$(md5sum < /f$i)" = "$(cat /f$i.sum)" ] || echo "f$i differs" ) &
		done
		wait; rm -f /f? /f?.sum; sync; echo io-done; sleep 3' </dev/null >"$dir/out" 2>"$dir/err" &
	helper=$!
	for t in $(seq 1200); do grep -q io-done "$dir/out" && break; sleep 0.1; done
	threads=$(sed -n 's/^Threads:[[:space:]]*//p' /proc/"$helper"/status)
	rc=0
	wait "$helper" || rc=$?
	helper=
	rm -f "$img"
	cat "$dir/out" "$dir/err"
	echo "vmsh's threads at the end: $threads"
	[ "$rc" -eq 0 ]
	[ "$(cat "$dir/out")" = io-done ]
	# its own and the 16 I/O threads (--io-threads' default), started by a
	# notification that found two requests
	[ "$threads" -eq 17 ]
	"$LAB" vm exec "$VM" -- true
}

@test "10 attaches in a row: the guest works on, the hypervisor's fds and maps are as before; median times" {
	start_vm 6.1-cloud q35 2
	hv0=$(hv_state "$PID")
	g0=$(guest_state)
	first=() held=()
	# not $i: bats' run changes it
	for round in $(seq 10); do
		run --separate-stderr "$VMSH" attach -v "$PID" -- echo "round $round" </dev/null
		[ "$status" -eq 0 ] || echo "$stderr"
		[ "$status" -eq 0 ]
		[ "$output" = "round $round" ]
		line=$(grep 'timing:' <<<"$stderr")
		first+=("$(sed 's/.*first output after \([0-9.]*\) ms.*/\1/' <<<"$line")")
		held+=("$(sed 's/.*stopped \([0-9.]*\) ms.*/\1/' <<<"$line")")
	done
	diff <(echo "$hv0") <(hv_state "$PID")
	[ "$(guest_state)" = "$g0" ]
	"$LAB" vm exec "$VM" -- true
	m1=$(printf '%s\n' "${first[@]}" | sort -n | sed -n 5,6p | awk '{ s += $1 } END { print s / 2 }')
	m2=$(printf '%s\n' "${held[@]}" | sort -n | sed -n 5,6p | awk '{ s += $1 } END { print s / 2 }')
	echo "# attach, 10 rounds (nested lab): first output after ${m1} ms, hypervisor stopped ${m2} ms (medians)" >&3
}

# The kernel cache (kcache.h): the first attach analyses the guest kernel and
# keeps what it found; the second, to the same kernel at the same place, says
# it took it from the cache; an entry that no longer matches the guest (here:
# another banner) is not used and is written again; --no-kernel-cache reads
# and writes none. The cache directory is the test's own: the lab host's
# /var/cache/vmsh is on the read-only share.
@test "a second attach to the same kernel reuses the first one's analysis; a stale entry is not used" {
	start_vm 6.1 pc 1
	img=$("$VMSH" image default)
	release=$("$LAB" vm exec "$VM" -- uname -r)
	export VMSH_CACHE_DIR=$BATS_TEST_TMPDIR/cache
	attach_r() {
		run --separate-stderr "$VMSH" attach -v -f "$img" "$@" "$PID" -- uname -r </dev/null
		echo "status $status, output $output"
		grep -E 'guest kernel:|phases:|cached' <<<"$stderr"
		[ "$status" -eq 0 ]
		[ "$output" = "$release" ]
	}
	attach_r
	[[ "$stderr" != *"from vmsh's cache"* ]]
	entry=$(echo "$VMSH_CACHE_DIR"/kernels/*)
	[ -s "$entry" ]
	attach_r
	[[ "$stderr" == *"from vmsh's cache"* ]]
	sed -i 's/^banner Linux version /banner Linux version 9/' "$entry"
	attach_r
	[[ "$stderr" != *"from vmsh's cache"* ]]
	grep -q "^banner Linux version $release " "$entry"
	rm "$entry"
	attach_r --no-kernel-cache
	[[ "$stderr" != *"from vmsh's cache"* ]]
	[ ! -e "$entry" ]
}

@test "a guest workload writing and checking its own disk runs on correctly during and after attaches" {
	start_vm 6.12 pc 2
	"$LAB" vm exec "$VM" -- 'i=0; (while :; do i=$((i + 1)); dd if=/dev/urandom of=/root/w.bin bs=4k count=16 2>/dev/null; sync; s1=$(md5sum < /root/w.bin); echo 3 > /proc/sys/vm/drop_caches; s2=$(md5sum < /root/w.bin); [ "$s1" = "$s2" ] && echo ok $i >> /root/w.log || echo BAD $i >> /root/w.log; done) >/dev/null 2>&1 &'
	for i in 1 2 3; do
		run "$VMSH" attach "$PID" -- sh -c 'cat /var/lib/vmsh/root/w.log | tail -1' </dev/null
		echo "# attach $i: status $status: $output" >&3
		[ "$status" -eq 0 ]
		[[ $output == "ok "* ]]
	done
	sleep 2
	log=$("$LAB" vm exec "$VM" -- 'cat /root/w.log')
	! grep -q BAD <<<"$log" || false
	[ "$(grep -c '^ok' <<<"$log")" -gt 3 ]
}

@test "bad input: missing, corrupt and non-ext images, a command missing from the image: clear errors, VM unharmed" {
	start_vm 6.1 pc 1
	hv0=$(hv_state "$PID")
	g0=$(guest_state)
	run "$VMSH" attach "$PID" -f /nonexistent.img -- true
	[ "$status" -eq 125 ]
	[[ $output == *"cannot open the image /nonexistent.img"* ]]
	head -c 4M /dev/urandom >"$BATS_TEST_TMPDIR/corrupt.img"
	run "$VMSH" attach "$PID" -f "$BATS_TEST_TMPDIR/corrupt.img" -- true
	[ "$status" -eq 125 ]
	[[ $output == *"is not an ext2/3/4 filesystem"* ]]
	truncate -s 4M "$BATS_TEST_TMPDIR/swap.img"
	mkswap "$BATS_TEST_TMPDIR/swap.img" >/dev/null
	run "$VMSH" attach "$PID" -f "$BATS_TEST_TMPDIR/swap.img" -- true
	[ "$status" -eq 125 ]
	[[ $output == *"is not an ext2/3/4 filesystem"* ]]
	run -127 "$VMSH" attach "$PID" -- no-such-tool </dev/null
	echo "$output"
	[ "$status" -eq 127 ]
	[[ $output == *"no-such-tool: not found in the image"* ]]
	diff <(echo "$hv0") <(hv_state "$PID")
	[ "$(guest_state)" = "$g0" ]
}

@test "a guest kernel without virtio_mmio: a clear error, VM unharmed" {
	# the kernel refuses to load virtio_mmio: as if it had none
	PID=$("$LAB" vm start "$VM" --kernel 6.1 --machine pc --append module_blacklist=virtio_mmio)
	hv0=$(hv_state "$PID")
	run "$VMSH" attach "$PID" -- true </dev/null
	echo "$output"
	[ "$status" -eq 125 ]
	[[ $output == *"lacks virtio_mmio"* ]]
	diff <(echo "$hv0") <(hv_state "$PID")
	"$LAB" vm exec "$VM" -- true
}

@test "SIGTERM and SIGINT at every phase of an attach: vmsh leaves within 45 s, the VM runs on, nothing is left behind" {
	local sig rc t0 ms slowest=0 n=0
	start_vm 6.1 pc 1
	hv0=$(hv_state "$PID")
	g0=$(guest_state)
	# 45 s: the bound attach_loop.c states (stage1 stops stage2 within 30 s,
	# the teardown's hold, 2 s of last output), with room for the nested lab.
	# The two signals take turns over the phases.
	for delay in 0.02 0.1 0.3 0.6 1 2 4; do
		sig=TERM
		[ $((n % 2)) -eq 0 ] || sig=INT
		"$VMSH" attach "$PID" -- sleep 600 </dev/null >"$BATS_TEST_TMPDIR/out" 2>&1 &
		helper=$!
		sleep "$delay"
		t0=$(date +%s%N)
		kill -"$sig" "$helper"
		rc=0
		wait "$helper" || rc=$?
		ms=$((($(date +%s%N) - t0) / 1000000))
		helper=
		echo "SIG$sig after ${delay} s: status $rc after $ms ms: $(tr '\n' ' ' <"$BATS_TEST_TMPDIR/out")"
		[ "$rc" -eq $((128 + $(kill -l "$sig"))) ]
		[ "$ms" -le 45000 ]
		[ "$ms" -le "$slowest" ] || slowest=$ms
		n=$((n + 1))
		diff <(echo "$hv0") <(hv_state "$PID")
		[ "$(guest_state)" = "$g0" ]
	done
	"$LAB" vm exec "$VM" -- true
	echo "# $n signals: vmsh left within $slowest ms at the slowest" >&3
}
