#!/usr/bin/env bats
# The router proper (`batchrouter run ... -- EAL-ARGS`) on DPDK's net_pcap:
# two ports, each with two rx queues read from pcap files and one tx pcap,
# one worker lcore polling all four queues. Frames of many flows, routed by
# destination to the other port or back; every 10th has TTL 1. pcap cannot
# hash, so the files are the queues (a NIC's RSS is configured where the
# device offers it: test_router.c). The verdicts come from flows.py.

BR=${BR:-build/bin/batchrouter}
FLOWS=batchrouter/tests/flows.py

setup() {
	cd "$BATS_TEST_DIRNAME/../.."
	[ -x "$BR" ] || skip "$BR not built (run make)"
	D=$(mktemp -d)
	python3 "$FLOWS" make "$D" 500 >/dev/null
	VDEVS=(--vdev "net_pcap0,rx_pcap=$D/in_p0_q0.pcap,rx_pcap=$D/in_p0_q1.pcap,tx_pcap=$D/out_p0.pcap"
		--vdev "net_pcap1,rx_pcap=$D/in_p1_q0.pcap,rx_pcap=$D/in_p1_q1.pcap,tx_pcap=$D/out_p1.pcap")
	PID= GPID=
}

teardown() {
	# the router (and generator) started in the background, by pid, if running
	for p in $PID ${GPID:-}; do
		if kill -0 "$p" 2>/dev/null; then
			kill "$p"
			wait "$p" || true
		fi
	done
	rm -rf "$D"
}

@test "two ports x two queues forward N of N frames of many flows to the right ports" {
	run timeout 60 "$BR" run --quiet --queues 2 --routes "$D/routes" --duration 1 \
		-- -l 0,1 --no-pci --log-level='*:error' "${VDEVS[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"2 ports x 2 queues"* ]]
	# every queue polled and drained: 500 frames each
	[[ "$output" == *"queues 0/0:500 0/1:500 1/0:500 1/1:500"* ]]
	[[ "$output" == *"accounting: rx 2000 = forwarded 1800 + dropped 200"* ]]
	run python3 "$FLOWS" check "$D"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "TTL expiry is counted by reason, nothing else dropped" {
	run timeout 60 "$BR" run --quiet --queues 2 --routes "$D/routes" --duration 1 \
		-- -l 0,1 --no-pci --log-level='*:error' "${VDEVS[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" not-ipv4 0 "* ]]
	[[ "$output" == *" ttl-expired 200 no-route 0 tx-full 0"* ]]
}

@test "telemetry answers with the router's counters" {
	"$BR" run --quiet --queues 2 --routes "$D/routes" --duration 20 \
		-- -l 0,1 --no-pci --log-level='*:error' "${VDEVS[@]}" >"$D/out" 2>&1 &
	PID=$!
	sock=
	for _ in $(seq 100); do
		sock=$(sed -n 's/.*telemetry \(.*dpdk_telemetry.v2\)$/\1/p' "$D/out" 2>/dev/null || true)
		[ -n "$sock" ] && [ -S "$sock" ] && break
		sleep 0.1
	done
	cat "$D/out"
	[ -S "$sock" ]
	# the pcaps are read within a second; then the counters hold still
	for _ in $(seq 50); do
		stats=$(python3 "$FLOWS" telemetry "$sock" /batchrouter/stats)
		[ "$(jq '.["/batchrouter/stats"].forwarded' <<<"$stats")" = 1800 ] && break
		sleep 0.1
	done
	echo "$stats"
	[ "$(jq '.["/batchrouter/stats"].rx' <<<"$stats")" = 2000 ]
	[ "$(jq '.["/batchrouter/stats"].forwarded' <<<"$stats")" = 1800 ]
	[ "$(jq '.["/batchrouter/stats"].ttl_expired' <<<"$stats")" = 200 ]
	lcores=$(python3 "$FLOWS" telemetry "$sock" /batchrouter/lcores)
	echo "$lcores"
	[ "$(jq -c '.["/batchrouter/lcores"]' <<<"$lcores")" = "[1]" ]
	lc=$(python3 "$FLOWS" telemetry "$sock" /batchrouter/lcore,1)
	echo "$lc"
	for q in 0 1 2 3; do
		[ "$(jq ".[\"/batchrouter/lcore\"].rxq${q}_rx" <<<"$lc")" = 500 ]
	done
	# rte_graph's own per-node counters: what each node of the vector graph saw
	nodes=$(python3 "$FLOWS" telemetry "$sock" /batchrouter/nodes)
	echo "$nodes"
	n() { jq ".[\"/batchrouter/nodes\"].$1.objs" <<<"$nodes"; }
	[ "$(n br_rx)" = 2000 ]
	[ "$(n br_ipv4)" = 2000 ]
	[ "$(n br_lookup)" = 1800 ]
	[ "$(n br_rewrite)" = 1800 ]
	[ "$(($(n br_tx_0) + $(n br_tx_1)))" = 1800 ]
	[ "$(n pkt_drop)" = 200 ]
	# DPDK's own ethdev telemetry answers on the same socket
	xs=$(python3 "$FLOWS" telemetry "$sock" /ethdev/stats,0)
	echo "$xs"
	[ "$(jq '.["/ethdev/stats"].ipackets' <<<"$xs")" = 1000 ]
}

@test "without --duration it forwards until SIGINT, one line per lcore per second" {
	"$BR" run --queues 2 --routes "$D/routes" -- -l 0,1 --no-pci --log-level='*:error' \
		"${VDEVS[@]}" >"$D/out" 2>&1 &
	PID=$!
	for _ in $(seq 100); do
		[ "$(grep -c '^lcore  1: rx' "$D/out")" -ge 2 ] && break
		sleep 0.1
	done
	kill -INT "$PID"
	rc=0
	wait "$PID" || rc=$?
	PID=
	cat "$D/out"
	[ "$rc" -eq 0 ]
	[ "$(grep -c '^lcore  1: rx .* pps tx .* batch .* burst .* cpu .* idle ' "$D/out")" -ge 2 ]
	grep -q "stopped by signal 2" "$D/out"
	grep -q "accounting: rx 2000 = forwarded 1800 + dropped 200$" "$D/out"
}

@test "router mode says what is missing: a worker lcore, a port, queues" {
	run timeout 60 "$BR" run --duration 1 -- -l 0 --no-pci --log-level='*:error' "${VDEVS[@]}"
	echo "$output"
	[ "$status" -eq 111 ]
	[[ "$output" == *"no worker lcore"*"-l 0,1"* ]]
	run timeout 60 "$BR" run --duration 1 -- -l 0,1 --no-pci --log-level='*:error'
	echo "$output"
	[ "$status" -eq 111 ]
	[[ "$output" == *"probed no port"* ]]
	run timeout 60 "$BR" run --queues 3 --duration 1 -- -l 0,1 --no-pci \
		--log-level='*:error' "${VDEVS[@]}"
	echo "$output"
	[ "$status" -eq 111 ]
	[[ "$output" == *"use fewer queues"* ]]
	run timeout 60 "$BR" run --duration 1 -- --lcores 0@0,1@1,2@1 --no-pci --log-level='*:error' \
		--vdev net_null0
	echo "$output"
	[ "$status" -eq 111 ]
	[[ "$output" == *"2 worker lcores for 1 queues"*"fewer lcores"* ]]
	run "$BR" run --rate 5 -- -l 0,1
	[ "$status" -eq 100 ]
	[[ "$output" == *"belong to the measured run"* ]]
}

# Rx interrupts in router mode: two net_tap ports, whose PMD gives each rx
# queue an interrupt fd; the intr policy waits on them. The kernel's side of
# the taps sends and receives (flows.py tap).
@test "net_tap ports with rx interrupts: the intr policy routes every frame, the worker mostly asleep" {
	[ "$(id -u)" = 0 ] || skip "a tap interface needs root"
	[ -c /dev/net/tun ] || skip "no /dev/net/tun here"
	a="brr$$a" b="brr$$b"
	"$BR" run --policy intr --routes "$D/routes" --duration 8 -- -l 0,1 --no-pci \
		--log-level='*:error' --vdev "net_tap0,iface=$a" --vdev "net_tap1,iface=$b" \
		>"$D/out" 2>&1 &
	PID=$!
	for _ in $(seq 50); do ip link show "$b" >/dev/null 2>&1 && break; sleep 0.1; done
	for i in "$a" "$b"; do
		sysctl -qw "net.ipv6.conf.$i.disable_ipv6=1"
		ip link set "$i" up
	done
	run timeout 60 python3 "$FLOWS" tap "$a" "$b" 1000 500
	echo "$output"
	[ "$status" -eq 0 ]
	rc=0
	wait "$PID" || rc=$?
	PID=
	cat "$D/out"
	[ "$rc" -eq 0 ]
	grep -q "drops: .*no-route 0 tx-full 0" "$D/out"
	# 500 frames/s over 8 s: a busy-polling worker would use 8 s of CPU
	cpu=$(sed -n 's/^  lcore 1: .* cpu \([0-9.]*\) s .*/\1/p' "$D/out")
	echo "# worker CPU: $cpu s of 8" >&3
	awk -v c="$cpu" 'BEGIN { exit !(c != "" && c < 4) }'
	! ip link show "$a" >/dev/null 2>&1 || false
}

# The router and the generator as two processes joined by memif, the
# generator pinned on CPU 0 and the router's worker on CPU 1; 64 flows over
# two queues. The counts must add up whatever the machine's stalls cost:
# each queue gets what the generator put on it (RSS played by the
# generator), the router receives what was sent, and what it forwarded comes
# back. Losses at this low rate are possible on a busy machine and are
# accounted (link-full at the generator, tx-full at the router), not judged.
# memif_run ROUTER-EAL-LCORES GEN-ARGS...: the router (2 rx queues) as the
# memif server, then the generator as its client; both stopped, router
# first; their outputs in $D/router and $D/gen, the generator's in $output.
memif_run() {
	local lcores=$1
	shift
	sock="$D/memif.sock"
	"$BR" run --quiet --queues 2 -- $lcores --no-pci --log-level='*:error' \
		--vdev "net_memif0,role=server,socket=$sock,rsize=14" >"$D/router" 2>&1 &
	PID=$!
	for _ in $(seq 300); do # the server first: the client connects at start
		grep -q '^router: 1 ports' "$D/router" && break
		sleep 0.1
	done
	"$BR" gen --rate 10000 --duration 1 --flows 64 --queues 2 "$@" \
		-- -l 0 --no-pci --log-level='*:error' \
		--vdev "net_memif0,role=client,socket=$sock,rsize=14" >"$D/gen" 2>&1 &
	GPID=$!
	# the generator reports, then waits for the router to close the link
	for _ in $(seq 1200); do
		grep -q '^gen: latency' "$D/gen" && break
		kill -0 "$GPID" 2>/dev/null || break
		sleep 0.1
	done
	kill -INT "$PID"
	wait "$PID"
	PID=
	wait "$GPID"
	GPID=
	output=$(cat "$D/gen")
	echo "$output"
	cat "$D/router"
}

# gen_field NAME: a count from the generator's "gen: offered ..." line
gen_field() {
	grep '^gen: offered' <<<"$output" | sed "s/.* $1 \([0-9]*\).*/\1/"
}

@test "memif: a separate generator process, flows spread by RSS, every packet accounted" {
	memif_run "-l 0,1"
	[[ "$output" == *"on its own it builds"*"Mpps"* ]]
	offered=$(gen_field offered)
	sent=$(gen_field sent)
	[ "$offered" -eq 10000 ]
	[ $((sent + $(gen_field link-full) + $(gen_field no-mbuf))) -eq "$offered" ]
	q0=$(sed -n 's/.* q0 \([0-9]*\) q1 \([0-9]*\)$/\1/p' <<<"$output")
	q1=$(sed -n 's/.* q0 \([0-9]*\) q1 \([0-9]*\)$/\2/p' <<<"$output")
	[ "$q0" -gt 1000 ] && [ "$q1" -gt 1000 ] # 64 flows: both queues get a share
	grep -q "queues 0/0:$q0 0/1:$q1\$" "$D/router"
	# the router received all that was sent, and all it forwarded came back
	acc=$(grep 'accounting:' "$D/router")
	[ "$(sed 's/.*rx \([0-9]*\) = .*/\1/' <<<"$acc")" -eq "$sent" ]
	[ "$(sed 's/.*forwarded \([0-9]*\) + .*/\1/' <<<"$acc")" -eq "$(gen_field back)" ]
	[[ "$acc" != *MISMATCH* ]]
}

# Two worker lcores (the second shares CPU 1), each with its own tx queue:
# memif pairs each with one of the generator's rx queues, which it must open
# (--rx-queues; with one the link never came up) and drain, all of them.
@test "memif: two worker lcores, each answered on the generator's queue of its own" {
	memif_run "--lcores 0@0,1@1,2@1" --rx-queues 2
	grep -q '^router: 1 ports x 2 queues on 2 worker lcores' "$D/router"
	q0=$(sed -n 's/.* q0 \([0-9]*\) q1 \([0-9]*\)$/\1/p' <<<"$output")
	q1=$(sed -n 's/.* q0 \([0-9]*\) q1 \([0-9]*\)$/\2/p' <<<"$output")
	r0=$(sed -n 's/^gen: back over 2 queues: r0 \([0-9]*\) r1 \([0-9]*\)$/\1/p' <<<"$output")
	r1=$(sed -n 's/^gen: back over 2 queues: r0 \([0-9]*\) r1 \([0-9]*\)$/\2/p' <<<"$output")
	# lcore k polls rx queue k-1 and sends on its tx queue k-1: what one queue
	# took in comes back on the generator's queue of the same number
	l1=$(sed -n 's/^  lcore 1: .* forwarded \([0-9]*\) .*/\1/p' "$D/router")
	l2=$(sed -n 's/^  lcore 2: .* forwarded \([0-9]*\) .*/\1/p' "$D/router")
	[ "$q0" -gt 1000 ] && [ "$q1" -gt 1000 ]
	[ "$r0" -eq "$l1" ] && [ "$r1" -eq "$l2" ]
	[ $((r0 + r1)) -eq "$(gen_field back)" ]
	[ "$(gen_field back)" -eq "$(gen_field sent)" ] || grep -q 'tx-full [1-9]' "$D/router"
	[[ "$(grep 'accounting:' "$D/router")" != *MISMATCH* ]]
}

# peers.sh end to end, as small as it goes: batchrouter and DPDK's l3fwd (built
# from dpdk-doc's sources) on the same memif link and traffic, one run each.
# A smoke test of the pipeline, not a measurement.
@test "peers.sh: batchrouter and l3fwd side by side on one link" {
	[ -d /usr/share/dpdk/examples/l3fwd ] || skip "dpdk-doc not installed (scripts/install-deps)"
	run timeout 300 batchrouter/peers.sh --rates 10000 --reps 1 --duration 1 --systems br-vector,l3fwd \
		--out "$BATS_TEST_TMPDIR/peers"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q '^br-vector  *10000 ' <<<"$output"
	grep -q '^l3fwd  *10000 ' <<<"$output"
	grep -q '^| br-vector | 10000 | [0-9.]* |$' <<<"$output" # its CPU over l3fwd's
	grep -q '^Loss accounting .*: 1 of 1 runs add up' <<<"$output"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/peers/runs.txt")" -eq 2 ]
	grep -q '^| l3fwd | 10000 | 10000 |' "$BATS_TEST_TMPDIR/peers/results.md"
	! command -v gnuplot >/dev/null || [ -s "$BATS_TEST_TMPDIR/peers/cpu_vs_load.png" ]
}
