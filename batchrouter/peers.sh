#!/bin/bash
# batchrouter against DPDK's own l3fwd and l3fwd-power, side by side in one
# run, on the same link (memif) and traffic (batchrouter gen).
#
# usage: batchrouter/peers.sh [--loads PCT,... | --rates PPS,...] [--reps N]
#                             [--duration S] [--systems NAME,...]
#                             [--capacity-systems NAME,...] [--cap-low PPS]
#                             [--cap-probes N] [--cap-retry N] [--out DIR]
#
#   --loads PCT,...   loads in percent of R* (default 1,10,50,90); turns on
#                     the capacity phase, which finds R* first
#   --rates PPS,...   fixed absolute rates instead: no capacity phase, no
#                     targets (the bats smoke test uses this)
#   --reps N          repetitions, interleaved (default 5): N capacity
#                     searches per capacity system, N runs per system and load
#   --duration S      seconds of traffic per run and per probe, whole (default 2)
#   --systems L       systems run at each load (default br-busy,br-vector,
#                     br-ovs,br-target,l3fwd,l3fwd-power,l3fwd-power-intr,
#                     l3fwd-power-pause); br-busy is batchrouter's busy256,
#                     br-NAME[:k=v] any other `batchrouter policies` entry
#   --capacity-systems L  systems whose capacity is searched (default
#                     br-busy,l3fwd); br-busy's median is R*
#   --cap-low PPS     the search's first rate (default 500000); while
#                     nothing passes it goes 4x lower a probe
#   --cap-probes N    rates probed per search (default 8)
#   --cap-retry N     a failing probe is run up to N more times and passes if
#                     any does (default 1; see below)
#   --out DIR         runs.txt (every run and probe), results.md (what is
#                     printed, with the plots), cpu_vs_load.png, p99_vs_load.png
#                     (gnuplot; plots.gp, plot.dat), capacity.txt (every
#                     search), stalls.txt (the stall probes)
#
# The peers are built at run time from Debian's dpdk-doc sources
# (/usr/share/dpdk/examples) into build/peers, never copied into the
# repository, with two one-line changes to l3fwd, made there by sed and
# printed: its rx checksum offload request is masked to what the PMD offers
# (memif offers none; l3fwd-power already does this itself). l3fwd runs with
# --parse-ptype (memif reports no packet types).
#
# Every run: the system under test (memif server, rsize=14: 16384 slots, its
# forwarding lcore on CPU 1) starts, the generator (memif client, CPU 0)
# connects and sends for S seconds; the system's CPU is its process's
# utime+stime between the generator's "sending" and its report, over that
# wall time. Then the system is stopped (SIGINT) before the generator leaves
# the link (DPDK 22.11's memif can crash a side that polls while its peer
# leaves).
#
# Capacity (R*): per system, a geometric bisection on the rate between
# --cap-low and the generator's own peak (what `gen` prints it builds alone,
# measured in every run: the first probe, at --cap-low, tells it). A
# probe passes when nothing is lost (back == offered: memif itself loses
# nothing, so link-full, no-mbuf and router drops all count; no tolerance)
# and the generator kept its schedule (it says "fell behind" otherwise). A
# failing probe is repeated (--cap-retry): a stall of a few ms on either CPU
# overflows the 16384-slot ring at a few Mpps whatever the router does, and
# one such stall must not end a search; a rate that fails every try fails.
# The search reports the highest passing rate, why the lowest failing one
# failed (loss, or the generator behind), and for batchrouter the mean batch
# per poll and the burst in the busiest second of those probes: a batch near
# the burst is the router at its limit; a small one means it was not (stalls
# or the generator were). A search that never fails ends at the generator's
# peak: the capacity is then a lower bound, the generator the limit. The
# searches are interleaved (rep 1 of every system, then rep 2), and the
# capacity is the median search. R* is br-busy's.
#
# Loads: each rep runs every load and every system in turn; the table gives,
# per system and load, the median run by CPU (a whole run, not field-wise
# medians), its p99 and loss, and batchrouter's CPU ratio to each peer. For
# batchrouter runs the loss is accounted: offered = back + router drops (by
# reason) + link-full + no-mbuf on the generator; a line says when not.
# Stalls: a spin probe on each CPU (3 s before and after the runs) counts
# gaps >= 200 us in its own clock reads, reported beside target 3.
# l3fwd-power's modes: its default (legacy where cpufreq exists; it picks
# interrupt-only itself on a VM without it, and says so in its log), explicit
# --interrupt-only (memif has rx interrupts), and --pmd-mgmt=pause (22.11's
# power-management API; monitor needs a PMD monitor address memif lacks, and
# scale needs cpufreq).
#
# Targets (in load mode): (1) br-busy's capacity >= l3fwd's; (2) at 10% of
# R* the best adaptive batchrouter policy uses <= 15% of br-busy's CPU and
# <= 80% of the best l3fwd-power mode's, with p99 <= 200 us and no loss;
# (3) at every load below R* no adaptive policy loses more than br-busy, and
# p99 <= 200 us where the stall rate allows. A verdict line each.
set -u -o pipefail
cd "$(dirname "$0")/.."

LOADS=1,10,50,90
RATES=
REPS=5
DUR=2
SYSTEMS=br-busy,br-vector,br-ovs,br-target,l3fwd,l3fwd-power,l3fwd-power-intr,l3fwd-power-pause
CAPSYS=br-busy,l3fwd
CAP_LOW=500000
CAP_PROBES=8
CAP_RETRY=1
OUT=
while [ $# -gt 0 ]; do
	case $1 in
	--loads) LOADS=$2; shift 2 ;;
	--rates) RATES=$2; shift 2 ;;
	--reps) REPS=$2; shift 2 ;;
	--duration) DUR=$2; shift 2 ;;
	--systems) SYSTEMS=$2; shift 2 ;;
	--capacity-systems) CAPSYS=$2; shift 2 ;;
	--cap-low) CAP_LOW=$2; shift 2 ;;
	--cap-probes) CAP_PROBES=$2; shift 2 ;;
	--cap-retry) CAP_RETRY=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "peers.sh: unknown argument '$1' (see --help)" >&2; exit 100 ;;
	esac
done
for v in "$REPS" "$DUR" "$CAP_LOW" "$CAP_PROBES" "$CAP_RETRY"; do
	[[ $v =~ ^[0-9]+$ ]] || { echo "peers.sh: '$v' is not a whole number (see --help)" >&2; exit 100; }
done
[ "$REPS" -ge 1 ] && [ "$DUR" -ge 1 ] && [ "$CAP_PROBES" -ge 2 ] ||
	{ echo "peers.sh: need --reps >= 1, --duration >= 1, --cap-probes >= 2" >&2; exit 100; }
if [ -z "$RATES" ]; then
	[[ ,$CAPSYS, == *,br-busy,* ]] || { echo "peers.sh: R* is br-busy's: --capacity-systems needs br-busy" >&2; exit 100; }
fi

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

# The stall probe: spins on one CPU reading CLOCK_MONOTONIC and counts the
# gaps >= 200 us between reads (time the CPU was taken away). C, because an
# interpreter's own pauses would be counted as the machine's.
build_stallprobe() {
	[ -x "$P/stallprobe" ] && [ "$P/stallprobe" -nt "$0" ] && return 0
	cat >"$P/stallprobe.c" <<'C'
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}
int main(int argc, char **argv)
{
	if (argc != 4)
		return 100;
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(atoi(argv[1]), &s);
	if (sched_setaffinity(0, sizeof(s), &s))
		return perror("sched_setaffinity"), 111;
	long long thr = atoll(argv[3]) * 1000, t0 = now_ns(), prev = t0, end = t0 + (long long)(atof(argv[2]) * 1e9);
	long long n = 0, tot = 0, max = 0, t;
	while ((t = now_ns()) < end) {
		if (t - prev >= thr) {
			n++, tot += t - prev;
			if (t - prev > max)
				max = t - prev;
		}
		prev = t;
	}
	double w = (t - t0) / 1e9;
	/* cpu stalls_per_s stalled_pct max_us */
	printf("%s %.2f %.4f %.0f\n", argv[1], n / w, 100.0 * tot / 1e9 / w, max / 1e3);
	return 0;
}
C
	cc -O2 -o "$P/stallprobe" "$P/stallprobe.c" || { echo "peers.sh: stall probe did not build" >&2; exit 111; }
}

# both CPUs at once for $1 s; appends "when cpu stalls/s stalled% max_us"
stall_probe() {
	local pid
	"$P/stallprobe" 0 "$1" 200 >"$stalls.0" &
	pid=$!
	"$P/stallprobe" 1 "$1" 200 >"$stalls.1"
	wait "$pid"
	sed "s/^/$2 /" "$stalls.0" "$stalls.1" | tee -a "$stalls" >&2
	rm -f "$stalls.0" "$stalls.1"
}

# the system under test's command line into CMD, and the destination its
# default routes send back out of port 0 into DST; $1 name, $2 memif vdev,
# $3 file prefix. batchrouter runs without --quiet: its per-second lines
# give the batch and burst (printed by the main lcore on CPU 0, once a second).
system_cmd() {
	DST=198.18.0.1 # l3fwd's 198.18.0.0/24 -> port 0; batchrouter: all to port 0
	local eal=(--no-pci --no-huge -m 512 "--file-prefix=$3" --log-level='*:error' --vdev "$2")
	local l3=(-- -p 0x1 '--config=(0,0,1)' -P --parse-ptype)
	case $1 in
	br-busy) CMD=("$BR" run --policy busy256 -- -l 0,1 "${eal[@]}") ;;
	br-*) CMD=("$BR" run --policy "${1#br-}" -- -l 0,1 "${eal[@]}") ;;
	l3fwd) CMD=("$P/l3fwd/build/l3fwd" -l 1 "${eal[@]}" "${l3[@]}") ;;
	l3fwd-power) DST=1.1.1.1 CMD=("$P/l3fwd-power/build/l3fwd-power" -l 1 "${eal[@]}" "${l3[@]}") ;;
	l3fwd-power-intr) DST=1.1.1.1 CMD=("$P/l3fwd-power/build/l3fwd-power" -l 1 "${eal[@]}" "${l3[@]}" --interrupt-only) ;;
	l3fwd-power-pause) DST=1.1.1.1 CMD=("$P/l3fwd-power/build/l3fwd-power" -l 1 "${eal[@]}" "${l3[@]}" --pmd-mgmt=pause) ;;
	*) echo "peers.sh: unknown system '$1'" >&2; return 1 ;;
	esac
}

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# The figures of one run from the generator's ($1) and the system's ($2)
# output: "offered back p99 behind link_full no_mbuf sent gen_peak_mpps
# rrx rdrops drops_by_reason batch burst mismatch rfwd"; the router's fields are
# "-" for the peers (they print none).
parse_run() {
	awk '
	/^gen: on its own/ { peak = $7 }
	/^gen: offered/ { off = $3; sent = $5; lf = $7; nm = $9; back = $11; behind = /fell behind/ }
	/^gen: latency/ { p99 = $9 }
	/^lcore +[0-9]+: rx .* pps tx/ { sub(/^lcore +[0-9]+: /, ""); if ($2 + 0 >= best) { best = $2 + 0; batch = $8; burst = $10 } }
	/^  lcore [0-9]+: rx .* forwarded/ { rrx += $4; rfwd += $6; br = 1 }
	/^  drops:/ { for (i = 2; i < NF; i += 2) { rd += $(i + 1); if ($(i + 1) > 0) why = why (why ? "," : "") $i ":" $(i + 1) } }
	/MISMATCH/ { mm = 1 }
	END {
		if (!br) { rrx = "-"; rd = "-"; why = "-"; batch = "-"; burst = "-"; rfwd = "-" }
		else { rd += 0; if (why == "") why = "-"; if (batch == "") { batch = "-"; burst = "-" } }
		printf "%s %s %s %d %s %s %s %s %s %s %s %s %s %d %s\n", off, back, (p99 == "" ? 0 : p99), behind,
			lf, nm, sent, (peak == "" ? 0 : peak), rrx, rd, why, batch, burst, mm, rfwd
	}' "$1" "$2"
}

# one run: prints "system rate rep cpu_frac offered back p99_us behind phase
# link_full no_mbuf sent gen_peak_mpps router_rx router_drops drops_by_reason
# batch burst" ($4: the phase, cap or load)
one_run() {
	local sys=$1 rate=$2 rep=$3 phase=$4 d sock gpid spid t0 t1 c0 c1 f
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
	if ! grep -q '^gen: offered' "$d/gen"; then
		echo "peers.sh: $sys at $rate pps made no report; generator and system said:" >&2
		cat "$d/gen" "$d/sys" >&2
		rm -rf "$d"
		return 1
	fi
	f=($(parse_run "$d/gen" "$d/sys"))
	# off back p99 behind lf nm sent peak rrx rd why batch burst mm rfwd
	# 0   1    2   3      4  5  6    7    8   9  10  11    12    13 14
	if [[ $sys == br-* ]]; then
		local u=$((f[0] - f[1] - f[9] - f[4] - f[5]))
		[ "$u" -ne 0 ] || [ "${f[13]}" -ne 0 ] &&
			echo "peers.sh: accounting: $sys at $rate pps: offered ${f[0]} != back ${f[1]} + router drops ${f[9]} (${f[10]}) + link-full ${f[4]} + no-mbuf ${f[5]}: $u unaccounted (generator sent ${f[6]}, router rx ${f[8]}, forwarded ${f[14]}: forwarded, not back when the generator stopped waiting $((f[14] - f[1]))$([ "${f[13]}" -ne 0 ] && echo ', router says MISMATCH'))" >&2
	fi
	printf '%s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s\n' "$sys" "$rate" "$rep" \
		"$(awk -v c=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v w=$((t1 - t0)) 'BEGIN { printf "%.4f", c / hz / (w / 1e9) }')" \
		"${f[0]}" "${f[1]}" "${f[2]}" "${f[3]}" "$phase" "${f[4]}" "${f[5]}" "${f[6]}" "${f[7]}" \
		"${f[8]}" "${f[9]}" "${f[10]}" "${f[11]}" "${f[12]}"
	rm -rf "$d"
}

# a probe passes: nothing lost and the generator on schedule ($1: a run line)
passes() { awk '{ exit !($5 == $6 && $8 == 0) }' <<<"$1"; }

# One capacity search ($1 system, $2 rep): appends every probe to $runs and
# "system rep capacity_pps limit fail_pps why batch_pass burst batch_fail
# gen_peak_mpps probes" to $caps. The first probe is at --cap-low and tells
# the generator's own peak, the upper bound; while nothing has passed the
# rate drops by 4x a probe (a noisy machine can fail the low bound), then
# it bisects geometrically between the highest pass and the lowest failure.
cap_search() {
	local sys=$1 rep=$2 ok=0 bad=0 rate=$CAP_LOW line pass fail_line="" pass_line="" n=0 t peak=0
	while [ "$n" -lt "$CAP_PROBES" ]; do
		if [ "$n" -gt 0 ]; then
			if [ "$ok" -eq 0 ]; then
				rate=$(((bad / 4 + 500) / 1000 * 1000))
				[ "$rate" -ge 1000 ] || break
			else
				rate=$(awk -v a="$ok" -v b="$bad" 'BEGIN { printf "%d", int(sqrt(a * b) / 1000 + 0.5) * 1000 }')
				[ "$rate" -le "$ok" ] || [ "$rate" -ge "$bad" ] && break # resolution reached
			fi
		fi
		pass=0
		for t in $(seq 0 "$CAP_RETRY"); do
			line=$(one_run "$sys" "$rate" "$rep" cap) || return 1
			echo "$line" >>"$runs"
			echo "$line" >&2
			passes "$line" && { pass=1; break; }
		done
		if [ "$n" -eq 0 ]; then
			peak=$(awk '{ print $13 }' <<<"$line")
			bad=$(awk -v p="$peak" 'BEGIN { printf "%d", p * 1e6 }')
			echo "# generator on its own: $peak Mpps (the search's upper bound)" >&2
		fi
		n=$((n + 1))
		if [ "$pass" -eq 1 ]; then ok=$rate pass_line=$line; else bad=$rate fail_line=$line; fi
	done
	# why the lowest failing rate failed: loss beats lateness (a generator
	# that is late and loses still loses); none failed: the generator's peak
	local why=generator-peak frate=- limit
	if [ -n "$fail_line" ]; then
		frate=$bad
		why=$(awk '{ if ($5 != $6) printf "loss:%s(link-full:%s,router:%s,missing:%d)", $5 - $6, $10, $15, $5 - $6 - $10 - $11 - ($15 == "-" ? 0 : $15); else print "generator-behind" }' <<<"$fail_line")
	fi
	case $why in
	generator-*) limit=generator ;;
	*) limit=loss ;;
	esac
	[ "$ok" -eq 0 ] && limit=none-passed
	[ "$ok" -gt 0 ] && [ "$ok" -lt "$CAP_LOW" ] && limit="$limit,below-low"
	echo "$sys $rep $ok $limit $frate $why $(awk '{ print $17, $18 }' <<<"${pass_line:-x - - - - - - - - - - - - - - - - -}") $(awk '{ print $17 }' <<<"${fail_line:-x - - - - - - - - - - - - - - - - -}") $peak $n" |
		tee -a "$caps" | sed 's/^/capacity: /' >&2
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : 0) }'; }

build_peers
build_stallprobe
[ -n "$OUT" ] && mkdir -p "$OUT"
runs=$(mktemp) caps=$(mktemp) stalls=$(mktemp) meta=$(mktemp)
trap 'rm -f "$runs" "$caps" "$stalls" "$meta"' EXIT
echo "# $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg); generator on CPU 0, systems on CPU 1" >&2
start=$(date +%s)
echo "# stall probe (cpu stalls/s stalled% max_us, gaps >= 200 us):" >&2
stall_probe 3 before

if [ -z "$RATES" ]; then
	for rep in $(seq "$REPS"); do
		for sys in ${CAPSYS//,/ }; do
			cap_search "$sys" "$rep" || exit 111
		done
	done
	RSTAR=$(awk '$1 == "br-busy" { print $3 }' "$caps" | median)
	[ "$RSTAR" -gt 0 ] || { echo "peers.sh: br-busy lost at every rate in most of its searches: no R*" >&2; exit 1; }
	echo "# R* (br-busy's median capacity) $RSTAR pps; loads ${LOADS//,/ }% of it" >&2
	RATES=$(for l in ${LOADS//,/ }; do awk -v r="$RSTAR" -v l="$l" 'BEGIN { printf "%d\n", r * l / 100 + 0.5 }'; done | paste -sd,)
	echo "mode loads" >>"$meta"
	echo "rstar $RSTAR" >>"$meta"
	echo "loads $LOADS" >>"$meta"
else
	echo "mode rates" >>"$meta"
fi
for rep in $(seq "$REPS"); do
	for rate in ${RATES//,/ }; do
		for sys in ${SYSTEMS//,/ }; do
			line=$(one_run "$sys" "$rate" "$rep" load) || exit 111
			echo "$line" >>"$runs"
			echo "$line" >&2
		done
	done
done
stall_probe 3 after
cat >>"$meta" <<EOF
reps $REPS
duration $DUR
cap_low $CAP_LOW
cap_probes $CAP_PROBES
cap_retry $CAP_RETRY
elapsed $(($(date +%s) - start))
machine $(nproc) CPUs, $(sed -n 's/^model name\t*: //p' /proc/cpuinfo | head -1), Linux $(uname -r)
EOF
if [ -n "$OUT" ]; then
	cp "$runs" "$OUT/runs.txt"
	cp "$stalls" "$OUT/stalls.txt"
	[ -s "$caps" ] && cp "$caps" "$OUT/capacity.txt"
fi
# The report: tables, ratios, verdicts; with --out also results.md and plots.
python3 - "$runs" "$caps" "$stalls" "$meta" "$OUT" <<'PY'
import os, subprocess, sys
from collections import defaultdict
runs_f, caps_f, stalls_f, meta_f, out = sys.argv[1:6]
meta = {}
for line in open(meta_f):
    k, _, v = line.rstrip("\n").partition(" ")
    meta[k] = v
loads_mode = meta.get("mode") == "loads"
P99_MAX = 200.0  # us: the issue's latency target

def num(x):
    return None if x == "-" else float(x)

# every load run, by system and rate
runs = defaultdict(list)
order = []
for line in open(runs_f):
    f = line.split()
    if f[8] != "load":
        continue
    s, rate = f[0], int(f[1])
    if s not in order:
        order.append(s)
    off, back = int(f[4]), int(f[5])
    runs[(s, rate)].append(dict(cpu=float(f[3]), p99=float(f[6]), off=off, back=back,
                                loss=100.0 * (off - back) / off if off else 0.0,
                                behind=int(f[7]), batch=num(f[16]), burst=num(f[17])))
rates = sorted({k[1] for k in runs})
rstar = int(meta["rstar"]) if loads_mode else None
loads = [float(x) for x in meta["loads"].split(",")] if loads_mode else []
load_of = {}  # rate -> load % of R*
for l in loads:
    load_of[int(rstar * l / 100 + 0.5)] = l

def label(rate):
    return f"{load_of[rate]:g}%" if rate in load_of else f"{rate}"

med = {}
for k, v in runs.items():
    v = sorted(v, key=lambda r: (r["cpu"], r["p99"]))  # the median run, whole
    med[k] = dict(v[(len(v) - 1) // 2], n=len(v), late=sum(r["behind"] for r in v))

lines = []
emit = lines.append
emit("# batchrouter against l3fwd and l3fwd-power (batchrouter/peers.sh)\n")
emit(f"Machine: {meta.get('machine', '?')}; run took {int(meta.get('elapsed', 0)) // 60} min.\n")
method = ("Method: one memif link (rsize 14, 16384 slots), `batchrouter gen` (CBR, 64 flows, "
          "64-byte frames) pinned on CPU 0, the system under test's forwarding lcore on CPU 1; "
          f"{meta['reps']} interleaved repetitions of {meta['duration']} s runs per system and load; "
          "per system and load the median whole run by CPU; CPU = the system process's "
          "utime+stime over the sending wall time; p99 = the generator's, against the schedule.")
if loads_mode:
    method += (f" R* = br-busy's (busy256) median zero-loss rate over {meta['reps']} capacity "
               f"searches per system (geometric bisection from {meta['cap_low']} pps to the "
               f"generator's own peak, at most {meta['cap_probes']} rates per search, a failing "
               f"rate retried {meta['cap_retry']} time(s); pass = back == offered and the generator "
               "on schedule, no loss tolerance).")
emit(method + "\n")

# stalls: the spin probe on each CPU, before and after
stalls = defaultdict(list)
for line in open(stalls_f):
    when, cpu, per_s, pct, mx = line.split()
    stalls[cpu].append((float(per_s), float(pct), float(mx)))
def stall_text(cpu):
    v = stalls.get(cpu)
    if not v:
        return "not measured"
    return (f"{max(x[0] for x in v):.1f}/s, {max(x[1] for x in v):.2f}% of the time, "
            f"longest {max(x[2] for x in v) / 1000:.1f} ms")
# a packet waits when either end of the link stalls (the generator's CPU or
# the system's): their stalled shares add up, each CPU's worst probe
stall_pct = sum(max(x[1] for x in v) for v in stalls.values() if v)
emit(f"Stalls (gaps >= 200 us in a spinning clock reader, 3 s before and after, worst): "
     f"CPU 1 (systems) {stall_text('1')}; CPU 0 (generator) {stall_text('0')}.\n")

# capacity
cap = defaultdict(list)
if loads_mode and os.path.getsize(caps_f):
    for line in open(caps_f):
        f = line.split()
        cap[f[0]].append(dict(pps=int(f[2]), limit=f[3], frate=f[4], why=f[5], batch=num(f[6]),
                              burst=num(f[7]), fbatch=num(f[8]), peak=float(f[9]), probes=int(f[10])))
capmed = {}
def cap_ratio(a, b):
    if b["pps"] == 0:
        return "n/a (the second lost at every rate)"
    return f"{a['pps'] / b['pps']:.2f}"
if cap:
    emit("## Capacity (zero-loss rate, busy polling)\n")
    peaks = sorted(c["peak"] for v in cap.values() for c in v)
    emit(f"The generator on its own builds {peaks[(len(peaks) - 1) // 2]:.2f} Mpps (median of its "
         f"{len(peaks)} first probes; 64-byte frames, stamped, no link): the searches' upper bound.\n")
    emit("| system | capacity Mpps (median) | searches (Mpps) | limit at the first failing rate | batch/burst at capacity | batch at the failing rate |")
    emit("|---|---:|---|---|---|---|")
    for s, v in cap.items():
        vs = sorted(v, key=lambda c: c["pps"])
        m = vs[(len(vs) - 1) // 2]
        capmed[s] = m
        fmt = lambda b: "-" if b is None else f"{b:.2f}"
        emit(f"| {s} | {m['pps'] / 1e6:.3f} | {' '.join('%.3f' % (c['pps'] / 1e6) for c in v)} | "
             f"{m['limit']}: {m['why']} at {m['frate']} pps | {fmt(m['batch'])}/{'-' if m['burst'] is None else '%d' % m['burst']} | {fmt(m['fbatch'])} |")
    emit("")
    for s, m in capmed.items():
        if m["limit"].startswith("generator"):
            emit(f"- {s}: the search ended at the generator's peak: its capacity is a lower bound.")
        elif m["limit"] == "none-passed":
            emit(f"- {s}: lost at every rate probed, down to {m['frate']} pps.")
        elif m["burst"] is None:
            emit(f"- {s}: prints no batch sizes: whether it or a stall was the limit is not shown.")
        else:
            b = max(x for x in (m["batch"], m["fbatch"]) if x is not None) if (m["batch"] or m["fbatch"]) else 0
            if b >= 0.5 * m["burst"]:
                emit(f"- {s}: batches reach {b:.0f} of its burst {m['burst']:.0f} at the limit: the router is the limit.")
            else:
                emit(f"- {s}: the mean batch at the limit is {b:.1f} of its burst {m['burst']:.0f}: the router "
                     "was not saturated, so the loss came from stalls or the link, not the router's "
                     "speed; its capacity is higher than this zero-loss rate.")
    emit(f"\nR* = {rstar} pps ({rstar / 1e6:.3f} Mpps).\n")

# loss accounting of batchrouter's runs: offered = back + router drops +
# link-full + no-mbuf (peers.sh printed each run that did not add up)
acc = [0, 0]
for line in open(runs_f):
    f = line.split()
    if f[0].startswith("br-") and f[14] != "-":
        acc[0] += 1
        acc[1] += int(f[4]) != int(f[5]) + int(f[14]) + int(f[9]) + int(f[10])
if acc[0]:
    emit(f"Loss accounting (batchrouter runs, offered = back + router drops by reason + link-full + "
         f"no-mbuf): {acc[0] - acc[1]} of {acc[0]} runs add up" + (f", {acc[1]} do not (see the log)" if acc[1] else "") + ".\n")

# loads
emit("## CPU, p99 and loss per system and load\n")
emit(f"| system | {'load (% of R*)' if loads_mode else 'rate'} | pps | CPU % | p99 us | loss % | batch | runs | gen late |")
emit("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for s in order:
    for r in rates:
        m = med.get((s, r))
        if not m:
            continue
        emit(f"| {s} | {label(r)} | {r} | {100 * m['cpu']:.1f} | {m['p99']:.1f} | {m['loss']:.3f} | "
             f"{'-' if m['batch'] is None else '%.1f' % m['batch']} | {m['n']} | {m['late']} |")
emit("")
brs = [s for s in order if s.startswith("br-")]
peers = [s for s in order if not s.startswith("br-")]
if peers and brs:
    emit("## Ratios (batchrouter over each peer, median runs)\n")
    if "br-busy" in capmed and "l3fwd" in capmed:
        emit(f"Capacity br-busy / l3fwd: {cap_ratio(capmed['br-busy'], capmed['l3fwd'])}\n")
    emit("CPU:\n")
    emit("| system | load | " + " | ".join(f"/{p}" for p in peers) + " |")
    emit("|---|---:|" + "---:|" * len(peers))
    for s in brs:
        for r in rates:
            if (s, r) not in med:
                continue
            cells = [f"{med[(s, r)]['cpu'] / med[(p, r)]['cpu']:.2f}" if med.get((p, r)) and med[(p, r)]["cpu"] > 0 else "-"
                     for p in peers]
            emit(f"| {s} | {label(r)} | " + " | ".join(cells) + " |")
    emit("")

# verdicts
verdicts = []
if loads_mode:
    b, l = capmed.get("br-busy"), capmed.get("l3fwd")
    if b and l:
        ok = b["pps"] >= l["pps"]
        note = ""
        if b["limit"].startswith("generator") or l["limit"].startswith("generator"):
            note = " (a capacity ended at the generator's peak: a lower bound)"
        if b["limit"] == "none-passed" or l["limit"] == "none-passed":
            note += " (a median search found no lossless rate)"
        verdicts.append(f"target 1 (capacity br-busy >= l3fwd): {'met' if ok else 'not met'}: "
                        f"{b['pps'] / 1e6:.3f} vs {l['pps'] / 1e6:.3f} Mpps, ratio {cap_ratio(b, l)}{note}")
    else:
        verdicts.append("target 1: not evaluated (needs br-busy and l3fwd in --capacity-systems)")
    r10 = next((r for r, lo in load_of.items() if lo == 10), None)
    adapt = [s for s in brs if s != "br-busy"]
    pw = [s for s in peers if s.startswith("l3fwd-power")]
    if r10 and adapt and ("br-busy", r10) in med and pw:
        good = lambda s: med[(s, r10)]["p99"] <= P99_MAX and med[(s, r10)]["loss"] == 0
        pick = lambda c: min(c, key=lambda s: med[(s, r10)]["cpu"])
        best = pick([s for s in adapt if good(s)] or adapt)
        bestp = pick([s for s in pw if med[(s, r10)]["loss"] == 0] or pw)
        m, busy, pm = med[(best, r10)], med[("br-busy", r10)], med[(bestp, r10)]
        fb, fp = m["cpu"] / busy["cpu"] if busy["cpu"] else 0, m["cpu"] / pm["cpu"] if pm["cpu"] else float("inf")
        ok = fb <= 0.15 and fp <= 0.80 and good(best)
        verdicts.append(f"target 2 (10% of R*: best adaptive <= 15% of busy's CPU, <= 80% of the best "
                        f"l3fwd-power mode's, p99 <= 200 us, no loss): {'met' if ok else 'not met'}: "
                        f"{best} {100 * m['cpu']:.1f}% CPU = {100 * fb:.1f}% of br-busy's {100 * busy['cpu']:.1f}%, "
                        f"{100 * fp:.1f}% of {bestp}'s {100 * pm['cpu']:.1f}%; p99 {m['p99']:.0f} us, loss {m['loss']:.3f}%")
    else:
        verdicts.append("target 2: not evaluated (needs load 10, br-busy, an adaptive br- policy and an l3fwd-power mode)")
    below = [r for r in rates if load_of.get(r, 100) < 100]
    if adapt and below and all(("br-busy", r) in med for r in below):
        worse = [f"{s} at {label(r)} {med[(s, r)]['loss']:.3f}% > {med[('br-busy', r)]['loss']:.3f}%"
                 for r in below for s in adapt if (s, r) in med and med[(s, r)]["loss"] > med[("br-busy", r)]["loss"]]
        over = [f"{s} at {label(r)} {med[(s, r)]['p99']:.0f} us"
                for r in below for s in adapt if (s, r) in med and med[(s, r)]["p99"] > P99_MAX]
        n = sum(1 for r in below for s in adapt if (s, r) in med)
        # p99 is a 1% quantile: stalls over ~1% of the time put more than 1% of
        # packets behind them whatever the router does
        allows = stall_pct < 1.0
        verdicts.append(f"target 3a (no adaptive policy loses more than busy polling, every load below R*): "
                        f"{'met' if not worse else 'not met'}: "
                        + ("; ".join(worse) if worse else f"{n} of {n} points"))
        verdicts.append(f"target 3b (adaptive p99 <= 200 us where the stall rate allows): "
                        f"{'met' if not over else 'not met'}: {n - len(over)} of {n} points"
                        + (f" (over: {'; '.join(over)})" if over else "")
                        + f"; stalls: CPU 1 {stall_text('1')}, CPU 0 {stall_text('0')}: "
                        + f"together {stall_pct:.2f}% of the time, "
                        + ("under 1%, so the machine allows it" if allows
                           else "over 1%, so p99 cannot be held on this machine"))
    else:
        verdicts.append("target 3: not evaluated (needs br-busy and an adaptive br- policy)")
    emit("## Targets\n")
    for v in verdicts:
        emit(f"- {v}")
    emit("")

text = "\n".join(lines)
print(text)
if out:
    x = "load (% of R*)" if loads_mode else "rate (pps)"
    with open(os.path.join(out, "plot.dat"), "w") as d:
        for s in order:
            d.write(f"# {s}\n")
            for r in rates:
                if (s, r) in med:
                    d.write(f"{load_of.get(r, r)} {100 * med[(s, r)]['cpu']:.2f} {max(med[(s, r)]['p99'], 0.1):.1f}\n")
            d.write("\n\n")
    gp = (f"set terminal pngcairo size 900,600\nset datafile separator whitespace\nset key outside right\n"
          f"set logscale x\nset grid\nset xlabel '{x}'\nnames = '{' '.join(order)}'\n"
          "set output 'cpu_vs_load.png'\nset ylabel 'CPU of the system (% of a core)'\nset yrange [0:*]\n"
          f"plot for [i=1:{len(order)}] 'plot.dat' index (i-1) using 1:2 with linespoints title word(names, i)\n"
          "set output 'p99_vs_load.png'\nset ylabel 'p99 latency (us)'\nset logscale y\nset yrange [*:*]\n"
          f"plot for [i=1:{len(order)}] 'plot.dat' index (i-1) using 1:3 with linespoints title word(names, i), "
          f"{P99_MAX} with lines dashtype 2 title '200 us'\n")
    open(os.path.join(out, "plots.gp"), "w").write(gp)
    plotted = subprocess.run(["gnuplot", "plots.gp"], cwd=out).returncode == 0
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(text + "\n")
        if plotted:
            f.write("\n![CPU vs load](cpu_vs_load.png)\n![p99 vs load](p99_vs_load.png)\n")
        f.write("\nEvery run: runs.txt (system rate rep cpu offered back p99_us behind phase link_full "
                "no_mbuf sent gen_peak_mpps router_rx router_drops drops_by_reason batch burst)\n")
    print(f"\nwritten: {out}/results.md, runs.txt" + (", cpu_vs_load.png, p99_vs_load.png" if plotted else " (no plots: gnuplot failed)"))
PY
