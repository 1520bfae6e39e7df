#!/usr/bin/env bats
# Runs inside a lab host: vmsh inspect against real QEMU/KVM guests. The
# guest must keep running, and the hypervisor must be left as it was.

bats_require_minimum_version 1.5.0

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

# Is every "System RAM" range of the guest inside the address space 0 memslots in $json?
ram_covered() {
	local json=$1 range start end covered gpa size
	local slots
	slots=$(jq -r '.memslots[] | select(.address_space == 0) | "\(.gpa) \(.size)"' <<<"$json")
	for range in $("$LAB" vm exec "$VM" -- "grep 'System RAM' /proc/iomem | sed 's/ *\\([0-9a-f]*\\)-\\([0-9a-f]*\\) .*/\\1-\\2/'"); do
		start=$((16#${range%-*}))
		end=$((16#${range#*-}))
		covered=0
		while read -r gpa size; do
			if [ "$start" -ge $((gpa)) ] && [ "$end" -lt $((gpa + size)) ]; then
				covered=1
			fi
		done <<<"$slots"
		# a RAM range may span adjacent slots: check its two ends separately
		if [ $covered = 0 ]; then
			local s_in=0 e_in=0
			while read -r gpa size; do
				[ "$start" -ge $((gpa)) ] && [ "$start" -lt $((gpa + size)) ] && s_in=1
				[ "$end" -ge $((gpa)) ] && [ "$end" -lt $((gpa + size)) ] && e_in=1
			done <<<"$slots"
			[ $s_in = 1 ] && [ $e_in = 1 ] || { echo "RAM $range not in any memslot"; return 1; }
		fi
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

@test "inspect 6.1 on pc, 1 vCPU" { inspect_matches 6.1 pc 1; }
@test "inspect 6.1 on pc, 2 vCPUs" { inspect_matches 6.1 pc 2; }
@test "inspect 6.1 on q35, 1 vCPU" { inspect_matches 6.1 q35 1; }
@test "inspect 6.1 on q35, 2 vCPUs" { inspect_matches 6.1 q35 2; }
@test "inspect 6.1 on microvm, 1 vCPU" { inspect_matches 6.1 microvm 1; }
@test "inspect 6.1 on microvm, 2 vCPUs" { inspect_matches 6.1 microvm 2; }
@test "inspect 6.12 on pc, 1 vCPU" { inspect_matches 6.12 pc 1; }
@test "inspect 6.12 on pc, 2 vCPUs" { inspect_matches 6.12 pc 2; }
@test "inspect 6.12 on q35, 1 vCPU" { inspect_matches 6.12 q35 1; }
@test "inspect 6.12 on q35, 2 vCPUs" { inspect_matches 6.12 q35 2; }
@test "inspect 6.12 on microvm, 1 vCPU" { inspect_matches 6.12 microvm 1; }
@test "inspect 6.12 on microvm, 2 vCPUs" { inspect_matches 6.12 microvm 2; }

@test "20 inspects in a row leave the hypervisor as it was; median stop time" {
	pid=$("$LAB" vm start "$VM" --kernel 6.1-cloud --machine q35 --smp 2)
	before=$(snapshot "$pid")
	held=()
	for i in $(seq 20); do
		json=$("$VMSH" inspect --json "$pid")
		held+=("$(jq .hypervisor.held_us <<<"$json")")
	done
	after=$(snapshot "$pid")
	diff <(echo "$before") <(echo "$after")
	"$LAB" vm exec "$VM" -- true
	median=$(printf '%s\n' "${held[@]}" | sort -n | sed -n 10p)
	echo "# inspect held the hypervisor: median ${median} us over 20 runs (nested lab)" >&3
}

@test "inspect works under QEMU -sandbox on" {
	pid=$("$LAB" vm start "$VM" --kernel 6.1-cloud --sandbox)
	version=$("$LAB" vm exec "$VM" -- cat /proc/version)
	json=$("$VMSH" inspect --json "$pid")
	[ "$(jq -r .kernel.banner <<<"$json")" = "$version" ]
	"$LAB" vm exec "$VM" -- true
}

@test "inspect of a hypervisor that another tracer holds fails and leaves it unharmed" {
	pid=$("$LAB" vm start "$VM" --kernel 6.1-cloud)
	before=$(snapshot "$pid" | sed '$d')
	strace -f -p "$pid" -o /dev/null &
	helper=$!
	for i in $(seq 50); do grep -q "TracerPid:[[:space:]]*$helper" "/proc/$pid/status" && break; sleep 0.1; done
	run "$VMSH" inspect "$pid"
	[ "$status" -eq 1 ]
	[[ $output == *"trace"* ]]
	kill "$helper"
	wait "$helper" || true
	helper=
	"$LAB" vm exec "$VM" -- true
	[ "$before" = "$(snapshot "$pid" | sed '$d')" ]
	[ "$(snapshot "$pid" | tail -n 1)" = 0 ]
}

@test "inspect of a process without a VM or of no process fails clearly" {
	sleep 60 &
	helper=$!
	run "$VMSH" inspect "$helper"
	[ "$status" -eq 1 ]
	[[ $output == *"has no KVM VM"* ]]
	run "$VMSH" inspect 999999999
	[ "$status" -ne 0 ]
	run "$VMSH" inspect not-a-pid
	[ "$status" -eq 2 ]
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

@test "exported symbols match the guest's /proc/kallsyms: 6.1" { symbols_match 6.1; }
@test "exported symbols match the guest's /proc/kallsyms: 6.1-cloud" { symbols_match 6.1-cloud; }
@test "exported symbols match the guest's /proc/kallsyms: 6.12" { symbols_match 6.12; }
