# Shared by coredump.bats (make check) and coredump_full.bats (make
# check-full): a dump of a lab guest, checked with readelf, crash and drgn.

setup() {
	VM=c$BATS_TEST_NUMBER
	helper=
	CORE=$BATS_TEST_TMPDIR/vmcore
}

teardown() {
	[ -z "${helper:-}" ] || kill "$helper" 2>/dev/null || true
	mountpoint -q "$BATS_TEST_TMPDIR/small" 2>/dev/null && umount "$BATS_TEST_TMPDIR/small"
	"$LAB" vm stop "$VM"
}

# A process with a name of our own in the guest, for crash's ps and drgn: a
# script's process is named after the script (busybox would not run under
# another name), and it keeps that name while it waits for its sleep.
MARK=vmshcoremark
start_marked_process() {
	"$LAB" vm exec "$VM" --again -- "printf '#!/bin/sh\\nwhile :; do sleep 1000; done\\n' >/tmp/$MARK && chmod +x /tmp/$MARK && (/tmp/$MARK </dev/null >/dev/null 2>&1 &) && sleep 0.5 && grep -lx $MARK /proc/[0-9]*/comm"
}

# check_core SMP JSON: what readelf says of $CORE, against the guest.
check_core() {
	local smp=$1 json=$2 release notes loads note_end
	release=$("$LAB" vm exec "$VM" --again -- uname -r)
	readelf -h "$CORE" | grep -q 'Type:[[:space:]]*CORE'
	readelf -h "$CORE" | grep -q 'Machine:[[:space:]]*Advanced Micro Devices X86-64'

	# notes: a CORE NT_PRSTATUS per vCPU, then a QEMU note per vCPU, then VMCOREINFO
	notes=$(readelf -n "$CORE" | awk '$1 ~ /^(CORE|QEMU|VMCOREINFO)$/ { printf "%s ", $1 }')
	echo "notes: $notes"
	[ "$notes" = "$(for i in $(seq "$smp"); do printf 'CORE '; done; for i in $(seq "$smp"); do printf 'QEMU '; done)VMCOREINFO " ]
	[ "$(readelf -n "$CORE" | grep -c 'CORE.*0x00000150.*NT_PRSTATUS')" = "$smp" ]
	[ "$(readelf -n "$CORE" | grep -c 'QEMU.*0x000001b8')" = "$smp" ]
	# the VMCOREINFO text is the running kernel's (the notes end before the first load)
	note_end=$(jq -r '.loads[0].offset' <<<"$json")
	head -c $((note_end)) "$CORE" | strings -n 10 | grep -qx "OSRELEASE=$release"
	[ "$(jq -r .vmcoreinfo.source <<<"$json")" = scan ]

	# the kernel image first (as kdump has it), then one PT_LOAD per RAM slot:
	# guest-physical addresses, direct-map virtual ones
	loads=$(readelf -lW "$CORE" | awk '$1 == "LOAD" { print $3, $4, $5 }')
	echo "loads: $loads"
	[ "$(jq -r .kernel_image.vaddr <<<"$json")" != null ]
	[ "$(head -n 1 <<<"$loads" | cut -d' ' -f1)" = "$(jq -r .kernel_image.vaddr <<<"$json")" ]
	loads=$(tail -n +2 <<<"$loads")
	[ "$(wc -l <<<"$loads")" = "$(jq '.loads | length' <<<"$json")" ]
	while read -r vaddr paddr filesz; do
		[ $((vaddr)) -ne 0 ]
		[ $((vaddr - paddr)) -eq $(($(jq -r .loads[0].vaddr <<<"$json") - $(jq -r .loads[0].gpa <<<"$json"))) ]
	done <<<"$loads"
	loads_cover_ram "$loads"
	# sparse: an idle guest's free RAM takes no blocks
	[ "$(jq .allocated <<<"$json")" -lt "$(jq .size <<<"$json")" ]
	# the guest's memory is in it: its banner, as /proc/version shows it
	grep -aqF "$("$LAB" vm exec "$VM" --again -- cat /proc/version)" "$CORE"
}

# loads_cover_ram LOADS: both ends of every "System RAM" range of the guest lie in a PT_LOAD.
loads_cover_ram() {
	local loads=$1 range start end s_in e_in
	for range in $("$LAB" vm exec "$VM" --again -- "grep 'System RAM' /proc/iomem | sed 's/ *\\([0-9a-f]*\\)-\\([0-9a-f]*\\) .*/\\1-\\2/'"); do
		start=$((16#${range%-*}))
		end=$((16#${range#*-}))
		s_in=0 e_in=0
		while read -r vaddr paddr filesz; do
			[ "$start" -ge $((paddr)) ] && [ "$start" -lt $((paddr + filesz)) ] && s_in=1
			[ "$end" -ge $((paddr)) ] && [ "$end" -lt $((paddr + filesz)) ] && e_in=1
		done <<<"$loads"
		[ $s_in = 1 ] && [ $e_in = 1 ] || { echo "RAM $range not in any PT_LOAD"; return 1; }
	done
}

# dd_rate PID: MiB/s of dd (to /dev/null) reading the guest's RAM slots from /proc/PID/mem.
dd_rate() {
	local pid=$1 json t0 t1 bytes=0
	json=$("$VMSH" inspect --json "$pid")
	t0=$(date +%s%N)
	while read -r hva size; do
		dd if="/proc/$pid/mem" of=/dev/null bs=4M iflag=skip_bytes,count_bytes \
			skip=$((hva)) count="$size" status=none
		bytes=$((bytes + size))
	done < <(jq -r '.memslots[] | select(.address_space == 0 and (.flags / 2 | floor) % 2 == 0) | "\(.hva) \(.size)"' <<<"$json")
	t1=$(date +%s%N)
	echo $((bytes * 1000000000 / 1048576 / (t1 - t0 + 1)))
}

# open_in_crash_and_drgn KERNEL: crash's sys and its walk of the task list,
# drgn's init_task, release and task walk find the guest's marked process.
# (crash 8.0.2, bookworm's, builds its ps table from struct pid with the
# layout before pid.numbers became a flexible array, which Debian's 6.1.19x
# kernels have: its ps shows only the idle tasks of any dump of them, QEMU's
# too, and it gives up on a dump whose vCPUs ran other tasks ("active task
# not found in PID hash"). So crash runs with --active, its task table being
# the tasks on the vCPUs, and the test walks init_task.tasks with its list.)
open_in_crash_and_drgn() {
	local kernel=$1 vmlinux release out
	vmlinux=$("$LAB" vmlinux --cached "$kernel" 2>/dev/null) ||
		skip "no debug vmlinux of $kernel cached (lab/lab vmlinux $kernel)"
	command -v crash >/dev/null || skip "crash is not installed (apt-get install crash)"
	/usr/bin/python3 -c 'import drgn' 2>/dev/null ||
		skip "drgn is not installed (apt-get install python3-drgn)"
	release=$("$LAB" vm exec "$VM" --again -- uname -r)

	if crash_too_old "$release"; then
		# vmsh's dump: "cannot determine base kernel version"; QEMU's
		# dump-guest-memory of a 6.12 guest: "invalid structure member
		# offset: module_core_size" (6.4's module layout)
		echo "# crash $(crash_version) predates Linux $release (6.11+ needs crash >= 8.0.6," \
			"crash-utility/crash#194): drgn only" >&3
	elif [ -n "${LIVE_CRASH_OPTIONAL:-}" ]; then
		if (open_in_crash "$vmlinux" "$release") >"$BATS_TEST_TMPDIR/crash.out" 2>&1; then
			echo "# crash opened the --live dump" >&3
		else
			echo "# crash did not open the --live dump: $(grep -m1 '^crash:' "$BATS_TEST_TMPDIR/crash.out")" >&3
		fi
	else
		open_in_crash "$vmlinux" "$release"
	fi
	open_in_drgn "$vmlinux" "$release" "$kernel"
}

crash_version() { crash --version 2>/dev/null | sed -n 's/^crash \([0-9.]*\).*/\1/p' | head -1; }

# crash_too_old RELEASE: whether the installed crash cannot read kernel RELEASE at all
crash_too_old() {
	local k=$1 c
	c=$(crash_version)
	# kernel >= 6.11 needs crash >= 8.0.6
	printf '%s\n' 6.11 "${k%%-*}" | sort -V -C || return 1
	! printf '%s\n' 8.0.6 "$c" | sort -V -C
}

# open_in_crash VMLINUX RELEASE: crash's sys and its walk of the task list.
open_in_crash() {
	local vmlinux=$1 release=$2 out
	progress "crash $CORE"
	out=$(printf 'sys\nps\nlist task_struct.tasks -s task_struct.comm -h init_task\nquit\n' |
		timeout 900 crash -s --active "$vmlinux" "$CORE" 2>&1) || { echo "$out"; false; }
	echo "$out" | grep -vE '^ *$' | head -n 30
	grep -qE "RELEASE: $release\$" <<<"$out"
	grep -qE 'swapper/0' <<<"$out"
	grep -qF "comm = \"$MARK" <<<"$out"
}

# open_in_drgn VMLINUX RELEASE KERNEL: drgn's init_task, release and task walk.
open_in_drgn() {
	local vmlinux=$1 release=$2 kernel=$3 out
	progress "drgn $CORE"
	cat >"$BATS_TEST_TMPDIR/walk_tasks.py" <<-'EOF'
		import sys
		import drgn
		from drgn.helpers.linux.pid import for_each_task
		prog = drgn.Program()
		prog.set_core_dump(sys.argv[1])
		try:
		    prog.load_debug_info([sys.argv[2]])
		except drgn.MissingDebugInfoError:
		    pass  # modules: not needed here
		print("init_task", prog["init_task"].comm.string_().decode())
		print("release", prog["init_uts_ns"].name.release.string_().decode())
		try:
		    for t in for_each_task(prog):
		        print("task", t.pid.value_(), t.comm.string_().decode())
		except drgn.FaultError as e:
		    print("walk-fault", e)
	EOF
	out=$(timeout 600 /usr/bin/python3 "$BATS_TEST_TMPDIR/walk_tasks.py" "$CORE" "$vmlinux" 2>&1) || { echo "$out"; false; }
	echo "$out" | head -n 5
	grep -qx "init_task swapper/0" <<<"$out"
	grep -qx "release $release" <<<"$out"
	if [ -n "${LIVE_WALK_OPTIONAL:-}" ] && grep -q '^walk-fault' <<<"$out"; then
		# a --live dump of a guest that forks: its task list may be caught mid-update
		echo "# drgn ($kernel): release $release; the task walk met a task being freed" \
			"after $(grep -c '^task ' <<<"$out") tasks: $(grep -m1 '^walk-fault' <<<"$out")" >&3
		return 0
	fi
	grep -qE "^task [0-9]+ $MARK\$" <<<"$out"
	echo "# drgn ($kernel): release $release, $(grep -c '^task ' <<<"$out") tasks, $MARK among them" >&3
}

# dump_and_check KERNEL MACHINE SMP: a consistent dump of a running guest.
dump_and_check() {
	local hv0 json mine dd
	start_vm "$1" "$2" "$3" --shape initramfs
	start_marked_process
	hv0=$(hv_state "$PID")
	progress "coredump"
	run --separate-stderr "$VMSH" coredump --json -o "$CORE" "$PID"
	echo "stdout: $output"
	echo "stderr: $stderr"
	[ "$status" -eq 0 ]
	json=$output
	diff <(echo "$hv0") <(hv_state "$PID")
	"$LAB" vm exec "$VM" --again -- true
	check_core "$3" "$json"
	mine=$(jq '.copy.mib_per_s | floor' <<<"$json")
	dd=$(dd_rate "$PID")
	echo "# $1 $2 $3 vCPUs: $(jq .copy.bytes <<<"$json") bytes copied at $mine MiB/s" \
		"(dd of /proc/PID/mem: $dd MiB/s), $(jq .copy.written <<<"$json") written," \
		"held $(jq .hypervisor.held_us <<<"$json") us" >&3
}
