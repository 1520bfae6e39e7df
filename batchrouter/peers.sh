#!/bin/bash
# batchrouter against DPDK's own l3fwd and l3fwd-power, side by side in one
# run, on the same link (memif) and traffic (batchrouter gen).
#
# usage: batchrouter/peers.sh [--rates PPS,...] [--reps N] [--duration S]
#                             [--systems NAME,...] [--out DIR]
#
# The peers are built at run time from Debian's dpdk-doc sources
# (/usr/share/dpdk/examples) into build/peers, never copied into the
# repository, with two one-line changes to l3fwd, made there by sed and
# printed: its rx checksum offload request is masked to what the PMD offers
# (memif offers none; l3fwd-power already does this itself). l3fwd runs with
# --parse-ptype (memif reports no packet types).
#
# Every run: the system under test (memif server, its forwarding lcore on
# CPU 1) starts, the generator (memif client, CPU 0) connects and sends
# for S seconds; the system's CPU is its process's utime+stime between the
# generator's "sending" and its report, over that wall time. Then the system
# is stopped (SIGINT) before the generator leaves the link (DPDK 22.11's
# memif can crash a side that polls while its peer leaves). Runs are
# interleaved (each system at a rate, then the next rep); the table gives,
# per system and rate, the median run by CPU (a whole run, not field-wise
# medians), its p99 and loss, and batchrouter's CPU ratio to each peer.
# l3fwd-power's modes: its default (legacy where cpufreq exists; it picks
# interrupt-only itself on a VM without it, and says so in its log), explicit
# --interrupt-only (memif has rx interrupts), and --pmd-mgmt=pause (22.11's
# power-management API; monitor needs a PMD monitor address memif lacks, and
# scale needs cpufreq).
set -u -o pipefail
cd "$(dirname "$0")/.."

RATES=10000,100000,1000000
REPS=5
DUR=2
SYSTEMS=br-busy,br-vector,br-ovs,l3fwd,l3fwd-power,l3fwd-power-intr,l3fwd-power-pause
OUT=
while [ $# -gt 0 ]; do
	case $1 in
	--rates) RATES=$2; shift 2 ;;
	--reps) REPS=$2; shift 2 ;;
	--duration) DUR=$2; shift 2 ;;
	--systems) SYSTEMS=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "peers.sh: unknown argument '$1' (see --help)" >&2; exit 100 ;;
	esac
done

BR=build/bin/batchrouter
EX=/usr/share/dpdk/examples
P=build/peers
[ -x "$BR" ] || { echo "peers.sh: $BR not built: run make" >&2; exit 111; }
[ -d "$EX/l3fwd" ] || { echo "peers.sh: $EX/l3fwd missing: apt-get install dpdk-doc (scripts/install-deps)" >&2; exit 111; }

build_peers() {
	mkdir -p "$P"
	if [ ! -x "$P/l3fwd/build/l3fwd" ] || [ ! -x "$P/l3fwd-power/build/l3fwd-power" ]; then
		rm -rf "$P/l3fwd" "$P/l3fwd-power" "$P/common"
		cp -r "$EX/l3fwd" "$EX/l3fwd-power" "$EX/common" "$P/"
		sed -i 's|^\t\tif (dev_info.max_rx_queues == 1)$|\t\tlocal_port_conf.rxmode.offloads \&= dev_info.rx_offload_capa; /* batchrouter peers.sh */\n&|; s|^\t\t\trxq_conf.offloads = port_conf.rxmode.offloads;$|\t\t\trxq_conf.offloads = port_conf.rxmode.offloads \& dev_info.rx_offload_capa; /* batchrouter peers.sh */|' \
			"$P/l3fwd/main.c"
		[ "$(grep -c 'batchrouter peers.sh' "$P/l3fwd/main.c")" -eq 2 ] ||
			{ echo "peers.sh: l3fwd's main.c changed upstream: the offload patch did not apply" >&2; exit 111; }
		echo "peers.sh: building l3fwd and l3fwd-power from $EX; changes to l3fwd:" >&2
		grep -n 'batchrouter peers.sh' "$P/l3fwd/main.c" >&2
		make -C "$P/l3fwd" -j2 >"$P/l3fwd.log" 2>&1 || { cat "$P/l3fwd.log" >&2; exit 111; }
		make -C "$P/l3fwd-power" -j2 >"$P/l3fwd-power.log" 2>&1 || { cat "$P/l3fwd-power.log" >&2; exit 111; }
	fi
}

# the system under test's command line into CMD, and the destination its
# default routes send back out of port 0 into DST; $1 name, $2 memif vdev,
# $3 file prefix
system_cmd() {
	DST=198.18.0.1 # l3fwd's 198.18.0.0/24 -> port 0; batchrouter: all to port 0
	local eal=(--no-pci --no-huge -m 512 "--file-prefix=$3" --log-level='*:error' --vdev "$2")
	case $1 in
	br-busy) CMD=("$BR" run --quiet --policy busy256 -- -l 0,1 "${eal[@]}") ;;
	br-vector) CMD=("$BR" run --quiet --policy vector -- -l 0,1 "${eal[@]}") ;;
	br-ovs) CMD=("$BR" run --quiet --policy ovs -- -l 0,1 "${eal[@]}") ;;
	l3fwd) CMD=("$P/l3fwd/build/l3fwd" -l 1 "${eal[@]}" -- -p 0x1 '--config=(0,0,1)' -P --parse-ptype) ;;
	l3fwd-power) DST=1.1.1.1 CMD=("$P/l3fwd-power/build/l3fwd-power" -l 1 "${eal[@]}" -- -p 0x1 '--config=(0,0,1)' -P --parse-ptype) ;;
	l3fwd-power-intr) DST=1.1.1.1 CMD=("$P/l3fwd-power/build/l3fwd-power" -l 1 "${eal[@]}" -- -p 0x1 '--config=(0,0,1)' -P --parse-ptype --interrupt-only) ;;
	l3fwd-power-pause) DST=1.1.1.1 CMD=("$P/l3fwd-power/build/l3fwd-power" -l 1 "${eal[@]}" -- -p 0x1 '--config=(0,0,1)' -P --parse-ptype --pmd-mgmt=pause) ;;
	*) echo "peers.sh: unknown system '$1'" >&2; return 1 ;;
	esac
}

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# one run: prints "system rate rep cpu_frac offered back p99_us behind"
one_run() {
	local sys=$1 rate=$2 rep=$3 d sock gpid spid t0 t1 c0 c1 g
	d=$(mktemp -d -p "$PWD/$P") # memif wants an absolute path
	sock="$d/memif.sock"
	# the system is the memif server: it listens first, the generator joins
	system_cmd "$sys" "net_memif0,role=server,socket=$sock,socket-abstract=no,rsize=14" "brs$$" || return 1
	"${CMD[@]}" >"$d/sys" 2>&1 &
	spid=$!
	for _ in $(seq 500); do [ -S "$sock" ] && break; kill -0 "$spid" 2>/dev/null || break; sleep 0.02; done
	"$BR" gen --rate "$rate" --duration "$DUR" --flows 64 --dst "$DST" --linger 30 --link-wait 120 \
		-- -l 0 --no-pci --no-huge -m 512 --file-prefix=brg$$ --log-level='*:error' \
		--vdev "net_memif0,role=client,socket=$sock,socket-abstract=no,rsize=14" >"$d/gen" 2>&1 &
	gpid=$!
	for _ in $(seq 15000); do grep -qs 'sending' "$d/gen" && break; kill -0 "$gpid" 2>/dev/null || break; sleep 0.01; done
	t0=$(date +%s%N) c0=$(ticks "$spid")
	for _ in $(seq $((DUR * 100 + 1500))); do grep -qs '^gen: latency' "$d/gen" && break; kill -0 "$gpid" 2>/dev/null || break; sleep 0.01; done
	t1=$(date +%s%N) c1=$(ticks "$spid")
	kill -INT "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	wait "$gpid" 2>/dev/null
	g=$(grep '^gen: offered' "$d/gen")
	if [ -z "$g" ]; then
		echo "peers.sh: $sys at $rate pps made no report; generator and system said:" >&2
		cat "$d/gen" "$d/sys" >&2
		rm -rf "$d"
		return 1
	fi
	local hz
	hz=$(getconf CLK_TCK)
	printf '%s %s %s %s %s %s %s %s\n' "$sys" "$rate" "$rep" \
		"$(awk -v c=$((c1 - c0)) -v hz="$hz" -v w=$((t1 - t0)) 'BEGIN { printf "%.4f", c / hz / (w / 1e9) }')" \
		"$(sed 's/.*offered \([0-9]*\) .*/\1/' <<<"$g")" "$(sed 's/.* back \([0-9]*\) .*/\1/' <<<"$g")" \
		"$(sed -n 's/.* p99 \([0-9.]*\) us.*/\1/p' "$d/gen")" \
		"$(grep -q 'fell behind' <<<"$g" && echo 1 || echo 0)"
	rm -rf "$d"
}

build_peers
[ -n "$OUT" ] && mkdir -p "$OUT"
runs=$(mktemp)
trap 'rm -f "$runs"' EXIT
echo "# $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg); generator on CPU 0, systems on CPU 1" >&2
for rep in $(seq "$REPS"); do
	for rate in ${RATES//,/ }; do
		for sys in ${SYSTEMS//,/ }; do
			one_run "$sys" "$rate" "$rep" | tee -a "$runs" >&2 || exit 111
		done
	done
done
[ -n "$OUT" ] && cp "$runs" "$OUT/runs.txt"
python3 - "$runs" <<'PY'
import sys
from collections import defaultdict
runs = defaultdict(list)
for line in open(sys.argv[1]):
    s, rate, rep, cpu, off, back, p99, behind = line.split()
    runs[(s, int(rate))].append((float(cpu), float(p99 or 0), int(off), int(back), int(behind)))
systems = list(dict.fromkeys(k[0] for k in runs))
rates = sorted({k[1] for k in runs})
med = {}
print(f"{'system':18} {'rate':>9} {'cpu%':>6} {'p99 us':>9} {'loss%':>8} {'runs':>4} {'gen late':>8}")
for s in systems:
    for r in rates:
        v = sorted(runs[(s, r)])  # by CPU, then p99: the median run, whole
        m = v[(len(v) - 1) // 2]
        med[(s, r)] = m
        loss = 100 * (m[2] - m[3]) / m[2] if m[2] else 0
        print(f"{s:18} {r:9} {100 * m[0]:6.1f} {m[1]:9.1f} {loss:8.3f} {len(v):4} "
              f"{sum(x[4] for x in v):8}")
peers = [s for s in systems if not s.startswith("br-")]
print("\nbatchrouter's CPU over each peer's (median runs, same rate):")
for s in [s for s in systems if s.startswith("br-")]:
    for r in rates:
        print(f"  {s:10} {r:9} pps: " + "  ".join(
            f"/{p} {med[(s, r)][0] / med[(p, r)][0]:.2f}" if med[(p, r)][0] > 0 else f"/{p} -"
            for p in peers))
PY
