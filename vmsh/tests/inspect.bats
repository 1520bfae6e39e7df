#!/usr/bin/env bats
# Runs inside a lab host: vmsh inspect against real QEMU/KVM guests, beyond
# the machine matrix (inspect_matrix.bats): repeated inspects, a sandboxed
# hypervisor, another tracer, bad targets, and the exported symbols.

bats_require_minimum_version 1.5.0

load inspect_common

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

@test "exported symbols match the guest's /proc/kallsyms: 6.1" { symbols_match 6.1; }
@test "exported symbols match the guest's /proc/kallsyms: 6.1-cloud" { symbols_match 6.1-cloud; }
@test "exported symbols match the guest's /proc/kallsyms: 6.12" { symbols_match 6.12; }
