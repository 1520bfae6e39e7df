# Shared by the lab's inspect tests (inspect.bats, inspect_matrix.bats): they
# run inside a lab host, against real QEMU/KVM guests. The guest must keep
# running, and the hypervisor must be left as it was.

LAB=$BATS_TEST_DIRNAME/../../lab/lab
VMSH=${VMSH:-$BATS_TEST_DIRNAME/../../build/bin/vmsh}

setup() {
	VM=i$BATS_TEST_NUMBER
}

teardown() {
	[ -z "${helper:-}" ] || kill "$helper" 2>/dev/null || true
	"$LAB" vm stop "$VM"
}

# What must not change in the hypervisor across inspects: its fds, its
# mappings, signals pending or blocked in its main thread, and no thread
# traced. (QEMU's worker threads come and go by themselves: they are not
# compared one by one, so the VMs here have no disk whose I/O would start them.)
snapshot() {
	local pid=$1
	ls -l "/proc/$pid/fd" | awk '{ print $9, $10, $11 }'
	cat "/proc/$pid/maps"
	grep -E '^(SigPnd|ShdPnd|SigBlk)' "/proc/$pid/status"
	cat /proc/"$pid"/task/*/status 2>/dev/null | grep -E '^TracerPid:' | grep -vc $'TracerPid:\t0$' || true
}

# Is every "System RAM" range of the guest inside the address space 0
# memslots in $json? A range may span adjacent slots, so each of its two ends
# must lie in some slot.
ram_covered() {
	local json=$1 range start end gpa size s_in e_in slots
	slots=$(jq -r '.memslots[] | select(.address_space == 0) | "\(.gpa) \(.size)"' <<<"$json")
	for range in $("$LAB" vm exec "$VM" -- "grep 'System RAM' /proc/iomem | sed 's/ *\\([0-9a-f]*\\)-\\([0-9a-f]*\\) .*/\\1-\\2/'"); do
		start=$((16#${range%-*}))
		end=$((16#${range#*-}))
		s_in=0 e_in=0
		while read -r gpa size; do
			[ "$start" -ge $((gpa)) ] && [ "$start" -lt $((gpa + size)) ] && s_in=1
			[ "$end" -ge $((gpa)) ] && [ "$end" -lt $((gpa + size)) ] && e_in=1
		done <<<"$slots"
		[ $s_in = 1 ] && [ $e_in = 1 ] || { echo "RAM $range not in any memslot"; return 1; }
	done
}

# inspect_matches KERNEL MACHINE SMP
inspect_matches() {
	local kernel=$1 machine=$2 smp=$3 pid json version levels
	pid=$("$LAB" vm start "$VM" --kernel "$kernel" --machine "$machine" --smp "$smp")
	version=$("$LAB" vm exec "$VM" -- cat /proc/version)

	run "$VMSH" inspect "$pid"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"guest kernel: $version"* ]]

	json=$("$VMSH" inspect --json "$pid")
	[ "$(jq -r .kernel.banner <<<"$json")" = "$version" ]
	[ "$(jq -r .hypervisor.pid <<<"$json")" = "$pid" ]
	[ "$(jq '.vcpus | length' <<<"$json")" = "$smp" ]
	[ "$(jq .kernel.exported_symbols <<<"$json")" -gt 1000 ]
	[ "$(jq -r .kernel.ksymtab_layout <<<"$json")" = prel32-ns ]
	# the guest kernel uses 5-level paging where its CPU has LA57
	levels=4
	"$LAB" vm exec "$VM" -- 'grep -qw la57 /proc/cpuinfo' && levels=5
	[ "$(jq .kernel.paging_levels <<<"$json")" = "$levels" ]
	# every vCPU runs in a thread of the hypervisor, in long mode
	for i in $(seq 0 $((smp - 1))); do
		[ "$(jq -r ".vcpus[$i].mode" <<<"$json")" = long ]
		[ -d "/proc/$pid/task/$(jq -r ".vcpus[$i].thread" <<<"$json")" ]
	done
	ram_covered "$json"
	# the guest runs on
	"$LAB" vm exec "$VM" -- true
}

# symbols_match KERNEL: a sample of the exported symbols vmsh finds, checked
# against the guest's own /proc/kallsyms (the whole file is too slow to move
# over a serial console in the nested lab: every 40th symbol is checked).
symbols_match() {
	local pid names checked
	pid=$("$LAB" vm start "$VM" --kernel "$1")
	"$VMSH" inspect --symbols "$pid" >"$BATS_TEST_TMPDIR/vmsh"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/vmsh")" -gt 1000 ]
	names=$(awk 'NR % 40 == 1 { printf "%s%s", sep, $2; sep = "|" }' "$BATS_TEST_TMPDIR/vmsh")
	"$LAB" vm exec "$VM" -- "grep -E ' ($names)\$' /proc/kallsyms" >"$BATS_TEST_TMPDIR/kallsyms"
	# kernel addresses only: per-cpu symbols show as offsets in kallsyms
	checked=$(awk '
		NR == FNR { if ($1 ~ /^ffff/) want[$3] = want[$3] " " $1; next }
		FNR % 40 == 1 && ($2 in want) {
			n++
			if (index(want[$2], " " $1) == 0) { print "MISMATCH " $2 " vmsh " $1 " kallsyms" want[$2] > "/dev/stderr"; bad++ }
		}
		END { print n + 0; exit bad > 0 }' "$BATS_TEST_TMPDIR/kallsyms" "$BATS_TEST_TMPDIR/vmsh")
	echo "# $1: $checked sampled exported symbols match /proc/kallsyms" >&3
	[ "$checked" -gt 150 ]
}
