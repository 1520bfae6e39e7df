/* bench: sweeps of load (% of R*), pattern and policy; CSV, table, gnuplot. */
#ifndef BATCHROUTER_BENCH_H
#define BATCHROUTER_BENCH_H

/* One run's figures, as the sweep keeps them. */
struct metrics {
	double cpu_frac, ns_per_pkt, avg_batch, p50_us, p99_us, p999_us, max_us;
	double lost_frac, wakeups_per_s;
};

/*
 * The median *run* of @n (1..9) repetitions into @out: ranked by CPU, ties
 * by p99, the lower middle one for an even count; every field of @out comes
 * from that one run (field-wise medians would describe no run that happened).
 */
void bench__median_run(const struct metrics *reps, int n, struct metrics *out);

int bench__main(int argc, char **argv);

#endif
