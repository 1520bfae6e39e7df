# The replayed held-out traces (scripts/bench-results' replay.txt): per trace,
# the cheapest heuristic that kept p99 <= 200 us and lost < 0.1% (the
# cheapest of all when none did, as bench picks it), and the learned policy
# against it, judged as bench judges (a p99 over 1.1x + 5 us of the
# heuristic's, or 0.1% more loss, is a loss) and, apart, against the budget
# (a p99 over 200 us and over the heuristic's as above, or 0.1% more loss, is
# a loss).
function verdict(strict,   d) {
	d = lcpu / hcpu - 1
	if ((strict ? lp99 > 1.1 * hp99 + 5 : lp99 > 200 && lp99 > 1.1 * hp99 + 5) || ldrop > hdrop + 0.001) return "loss"
	return d <= -0.10 ? "win" : d <= 0.05 ? "tie" : "loss"
}
function flush(   i, pass) {
	if (!name) return
	hcpu = 0
	for (pass = 0; pass < 2 && !hcpu; pass++)
		for (i = 1; i <= n; i++)
			if ((pass || (p99[i] <= 200 && drop[i] < 0.001)) && (!hcpu || cpu[i] < hcpu)) {
				hcpu = cpu[i]; hp99 = p99[i]; hdrop = drop[i]; hname = pol[i]
			}
	s = verdict(1); b = verdict(0); ns[s]++; nb[b]++
	printf "%-14s %-7s %+7.1f%%  p99 %4.0f/%4.0f us  loss %.2f/%.2f%%  strict %-4s  budget %s\n", name, hname, 100 * (lcpu / hcpu - 1), lp99, hp99, 100 * ldrop, 100 * hdrop, s, b
}
/^== / { flush(); name = $2 " " $3; n = 0; next }
/^replay learned/ { lcpu = $3; lp99 = $4; ldrop = $6 / ($5 + $6); next }
/^replay / { n++; pol[n] = $2; cpu[n] = $3; p99[n] = $4; drop[n] = $6 / ($5 + $6) }
END { flush(); printf "strict: %d wins, %d ties, %d losses; budget: %d wins, %d ties, %d losses\n", ns["win"], ns["tie"], ns["loss"], nb["win"], nb["tie"], nb["loss"] }
