#!/usr/bin/env bats
# Runs inside a lab host ('tests/run --lab'): vmsh inspect against
# vmsh_testhv, a hypervisor of our own whose real-mode guest checks its own
# memory. vmsh must see exactly the VM the test hypervisor says it made (its
# facts file), fail only because there is no Linux kernel to find, and leave
# the hypervisor and its guest as they were.

bats_require_minimum_version 1.5.0
load testhv_common

setup() {
	testhv_setup
	has_kprobes || skip "no kprobes on $(uname -r)"
}

teardown() {
	testhv_teardown
}

# check_inspect JSON: compares inspect's JSON with the facts file, in one jq
# (processes are slow in a TCG lab host); prints every mismatch.
check_inspect() {
	local bad
	bad=$(jq -r --slurpfile f "$FACTS" --argjson pid "$HVPID" '
		$f[0] as $f
		| (if (.memslots | sort_by(.gpa) | map(to_entries | sort_by(.key))) ==
		      ($f.memslots | map(to_entries | sort_by(.key))) then empty
		   else "memslots: \(.memslots) != \($f.memslots)" end),
		  (if .hypervisor.pid == $pid then empty else "pid \(.hypervisor.pid)" end),
		  (if .hypervisor.threads == $f.threads then empty
		   else "threads \(.hypervisor.threads) != \($f.threads)" end),
		  (if .kernel == null and .kernel_error == "No such file or directory" then empty
		   else "kernel \(.kernel) \(.kernel_error)" end),
		  (if (.vcpus | length) == ($f.vcpus | length) then empty
		   else "\(.vcpus | length) vCPUs, not \($f.vcpus | length)" end),
		  (range($f.vcpus | length) as $i | .vcpus[$i] as $v | $f.vcpus[$i] as $w
		   | (if $v.index == $w.index and $v.fd == $w.fd and $v.mode == "real" and
			 $v.cpl == 0 and $v.cr3 == $w.cr3 and
			 # the vCPU thread, when inspect caught it in KVM_RUN
			 ($v.thread == null or $v.thread == $w.thread)
		      then empty else "vcpu \($i): \($v) vs facts \($w)" end),
		     # somewhere in the guest code (rip in hex)
		     ($v.rip | ltrimstr("0x") | ascii_downcase | explode
		      | reduce .[] as $c (0; . * 16 + (if $c >= 97 then $c - 87 else $c - 48 end))
		      | if . >= $w.rip_min and . <= $w.rip_max then empty
			else "vcpu \($i): rip \($v.rip) outside the guest code" end))
	' <<<"$1") || return 1
	[ -z "$bad" ] || { echo "$bad"; return 1; }
}

inspect_matches() {
	start_testhv "$@"
	p0=$(progress)

	run --separate-stderr "$VMSH" inspect --json "$HVPID"
	echo "$output"
	echo "stderr: $stderr"
	# status 1 only because no Linux kernel was found: one message, that one
	[ "$status" -eq 1 ]
	[ "$stderr" = "vmsh: no vCPU is in long mode: is the guest a 64-bit Linux that has booted?" ]
	check_inspect "$output"
	echo "# held for $(jq .hypervisor.held_us <<<"$output") us" >&3

	run "$VMSH" inspect "$HVPID"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"memslot 0: gpa 0x0-0xffff (64 KiB) at hva $(jq -r .memslots[0].hva "$FACTS"), flags -"* ]]
	[[ $output == *"memslot 2: gpa 0x100000-0x10ffff (64 KiB) at hva $(jq -r .memslots[1].hva "$FACTS"), flags log-dirty"* ]]
	[[ $output == *"vcpu 0: fd $(jq .vcpus[0].fd "$FACTS"), thread "*", real mode, CPL 0, RIP 0x1"* ]]
	[[ $output == *"guest kernel: not found"* ]]

	progressed "$p0"
	stop_testhv
}

@test "inspect of the test hypervisor: its memslots exactly, a real-mode vCPU, no kernel" {
	inspect_matches --vcpus 1
}

@test "inspect of the test hypervisor with 2 vCPUs" {
	inspect_matches --vcpus 2
}
