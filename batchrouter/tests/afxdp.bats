#!/usr/bin/env bats
# The AF_XDP path end to end: batchrouter creates a veth pair with one end
# in a private netns, the generator sends N frames from the netns side, the
# router forwards them back out through net_af_xdp, and the sink counts them.
# The tap path the same way, with the worker waiting for rx interrupts.
# Also: the CLI's --help, and that nothing is left behind.

BR=${BR:-build/bin/batchrouter}

setup() {
	cd "$BATS_TEST_DIRNAME/../.."
	[ -x "$BR" ] || skip "$BR not built (run make)"
}

ns_count() {
	ip netns list 2>/dev/null | grep -c '^brns' || true
}

# Runs 1 s at 2 kpps on port $1 with policy $2; every packet must come back.
forwards_all() {
	N=2000
	run timeout 60 "$BR" run --port "$1" --policy "$2" --rate 2000 --duration 1 --quiet
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"offered $N sent $N ring-full 0 no-mbuf 0 back $N "* ]]
	[[ "$output" == *"forwarded $N "* ]]
}

@test "every command has --help" {
	"$BR" --help | grep -q "run"
	"$BR" run --help | grep -q -- "--policy"
	"$BR" bench --help | grep -q "R\*"
	"$BR" policies --help | grep -q "usage"
	run "$BR" nosuch
	[ "$status" -eq 100 ]
	run "$BR" run --policy nosuch --duration 1
	[ "$status" -ne 0 ]
	[[ "$output" == *"unknown policy"* ]]
}

@test "AF_XDP on veth forwards N of N packets and cleans up" {
	[ "$(id -u)" = 0 ] || skip "AF_XDP on veth needs root"
	command -v ip >/dev/null || skip "iproute2 (ip) is not installed"
	grep -q xsk_ /proc/kallsyms 2>/dev/null || skip "kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS)"
	probe="brprobe$$"
	ip netns add "$probe" 2>/dev/null || skip "unable to create a network namespace here"
	ip netns del "$probe"
	before=$(ns_count)
	forwards_all afxdp fixed
	[ "$(ns_count)" -eq "$before" ]
	! ip link show | grep -q ' brd[0-9]*[@:]'
}

@test "tap with rx interrupts: the intr policy forwards N of N packets, mostly asleep" {
	[ "$(id -u)" = 0 ] || skip "a tap interface needs root"
	[ -c /dev/net/tun ] || skip "no /dev/net/tun here"
	forwards_all tap intr
	# at 2 kpps the worker waits for nearly every packet: far under a busy core
	cpu=$(sed -n 's/.*(\([0-9.]*\)% of wall).*/\1/p' <<<"$output")
	echo "worker cpu ${cpu}%"
	awk -v c="$cpu" 'BEGIN { exit !(c < 50) }'
	! ip link show | grep -q ' brt[0-9]*[@:]'
}
