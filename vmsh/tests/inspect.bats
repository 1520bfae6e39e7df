#!/usr/bin/env bats
# Runs inside a lab host: vmsh inspect against real QEMU/KVM guests. The
# guest must keep running, and the hypervisor must be left as it was.

LAB=$BATS_TEST_DIRNAME/../../lab/lab
VMSH=${VMSH:-$BATS_TEST_DIRNAME/../../build/bin/vmsh}

setup() {
	VM=i$BATS_TEST_NUMBER
}

teardown() {
	"$LAB" vm stop "$VM"
}

# Fields of a thread's /proc status that must not change across an inspect.
snapshot() {
	local pid=$1 t
	for t in /proc/$pid/task/*; do
		echo "${t##*/} $(grep -E '^(TracerPid|SigPnd|ShdPnd|SigBlk)' "$t/status" | tr '\n' ' ')"
	done
	grep -c . "/proc/$pid/maps"
}

# inspect_matches KERNEL MACHINE [START OPTIONS]
inspect_matches() {
	local kernel=$1 machine=$2 pid json version before after
	shift 2
	pid=$("$LAB" vm start "$VM" --kernel "$kernel" --machine "$machine" "$@")
	version=$("$LAB" vm exec "$VM" -- cat /proc/version)
	before=$(snapshot "$pid")

	run "$VMSH" inspect "$pid"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"guest kernel: $version"* ]]

	json=$("$VMSH" inspect --json "$pid")
	[ "$(jq -r .kernel.banner <<<"$json")" = "$version" ]
	[ "$(jq -r .hypervisor.pid <<<"$json")" = "$pid" ]
	[ "$(jq '.vcpus | length' <<<"$json")" -ge 1 ]
	[ "$(jq '.memslots | length' <<<"$json")" -ge 1 ]
	[ "$(jq .kernel.exported_symbols <<<"$json")" -gt 1000 ]
	[ "$(jq -r .kernel.ksymtab_layout <<<"$json")" = prel32-ns ]
	# the guest kernel uses 5-level paging where its CPU has LA57
	levels=4
	"$LAB" vm exec "$VM" -- 'grep -qw la57 /proc/cpuinfo' && levels=5
	[ "$(jq .kernel.paging_levels <<<"$json")" = "$levels" ]
	# the vCPU runs in a thread of the hypervisor, in long mode
	[ "$(jq -r '.vcpus[0].mode' <<<"$json")" = long ]
	[ -d "/proc/$pid/task/$(jq -r '.vcpus[0].thread' <<<"$json")" ]

	# the VM runs on, and the hypervisor is as it was: untraced, no signal
	# pending, no mapping left behind
	"$LAB" vm exec "$VM" -- true
	after=$(snapshot "$pid")
	[ "$before" = "$after" ]
}

@test "inspect 6.1-cloud on pc" { inspect_matches 6.1-cloud pc; }
@test "inspect 6.1 on q35, 2 vCPUs" { inspect_matches 6.1 q35 --smp 2; }
@test "inspect 6.12 on microvm, ext4 disk" { inspect_matches 6.12 microvm --shape disk; }

@test "inspect of a process without a VM fails clearly and leaves it alone" {
	sleep 60 &
	pid=$!
	run "$VMSH" inspect "$pid"
	kill "$pid"
	[ "$status" -ne 0 ]
	[[ $output == *"has no KVM VM"* ]]
}
