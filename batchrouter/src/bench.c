/*
 * The benchmark. R* is the highest rate busy polling (burst 256) forwards
 * with < 0.1% loss, found by binary search; loads are then offered as a
 * percentage of it. Repetitions are interleaved (policy A, B, C, A, B, C...)
 * so a disturbance hits all policies alike, and a run the interference guard
 * flags is repeated once.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench.h"
#include "run.h"

static const char *const default_policies[] = { "busy256", "fixed", "ovs", "ladder", "target" };

static void usage(FILE *f)
{
	fprintf(f, "usage: batchrouter bench [--short] [--out DIR] [--duration S] [--reps N]\n"
		   "                        [--pattern cbr|poisson|onoff|stair] [--rstar PPS]\n"
		   "Finds R* (busy polling's lossless rate on the synthetic NIC), then runs every\n"
		   "policy at 1..90%% of R*, writing DIR/bench.csv and, with gnuplot, PNG plots.\n"
		   "  --short       a quick table for `make demo` (0.5 s runs, 3 loads, 1 rep)\n");
}

static int measure(const char *policy, double rate, enum gen_pattern pat, double dur,
		   struct run_result *r)
{
	struct run_cfg c = { .port = "ring:size=1024",
			     .policy = policy,
			     .duration_s = dur,
			     .rate_pps = rate,
			     .pattern = pat,
			     .frame_len = 64 };
	char err[256];
	for (int attempt = 0; attempt < 2; attempt++) {
		if (run__once(&c, r, err, sizeof(err))) {
			fprintf(stderr, "batchrouter bench: %s\n", err);
			return -1;
		}
		if (r->guard.others_cpu < 0.2 || attempt == 1)
			return 0;
		fprintf(stderr, "bench: %s at %.0f pps disturbed (others %.2f CPUs), repeating\n",
			policy, rate, r->guard.others_cpu);
		run__result_free(r);
	}
	return 0;
}

static double find_lossless(const char *policy, double lo, double hi, double dur)
{
	for (int i = 0; i < 7; i++) {
		double mid = (lo + hi) / 2;
		struct run_result r;
		if (measure(policy, mid, GEN_CBR, dur, &r))
			return lo;
		double loss = r.gen.offered ? (double)run__lost(&r) / (double)r.gen.offered : 1;
		run__result_free(&r);
		if (loss < 0.001)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

int bench__main(int argc, char **argv)
{
	static const struct option opts[] = { { "short", no_argument, NULL, 's' },
					      { "out", required_argument, NULL, 'o' },
					      { "duration", required_argument, NULL, 'd' },
					      { "reps", required_argument, NULL, 'r' },
					      { "pattern", required_argument, NULL, 'p' },
					      { "rstar", required_argument, NULL, 'R' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *out = "bench-out";
	double dur = 2, rstar = 0;
	int reps = 3, c, shrt = 0;
	enum gen_pattern pat = GEN_CBR;

	while ((c = getopt_long(argc, argv, "so:d:r:p:R:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			shrt = 1;
			break;
		case 'o':
			out = optarg;
			break;
		case 'd':
			dur = atof(optarg);
			break;
		case 'r':
			reps = atoi(optarg);
			break;
		case 'p':
			if (gen__pattern_parse(optarg, &pat)) {
				fprintf(stderr, "batchrouter bench: unknown pattern '%s'\n",
					optarg);
				return 100;
			}
			break;
		case 'R':
			rstar = atof(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 100;
		}
	}
	if (shrt) {
		dur = 0.5;
		reps = 1;
	}
	if (run__eal_init("batchrouter", true))
		return 111;
	struct sleep_floor sf;
	stats__sleep_floor(200, &sf);
	printf("nanosleep floor: p50 %.1f us p99 %.1f us, %.1f us CPU per sleep\n", sf.p50_ns / 1e3,
	       sf.p99_ns / 1e3, sf.cpu_per_sleep_ns / 1e3);
	if (rstar <= 0) {
		rstar = find_lossless("busy256", 1e5, 8e6, shrt ? 0.3 : dur);
		printf("R* (busy256, < 0.1%% loss): %.0f pps\n", rstar);
	}
	const double full_loads[] = { 1, 5, 10, 25, 50, 75, 90 }, short_loads[] = { 1, 10, 50 };
	const double *loads = shrt ? short_loads : full_loads;
	unsigned n_loads = shrt ? 3 : 7, n_pol = 5;

	FILE *csv = NULL;
	char path[512];
	if (!shrt) {
		mkdir(out, 0755);
		snprintf(path, sizeof(path), "%s/bench.csv", out);
		csv = fopen(path, "w");
		if (!csv) {
			fprintf(stderr, "batchrouter bench: unable to write %s\n", path);
			return 111;
		}
		fprintf(csv, "policy,pattern,load_pct,rate_pps,rep,worker_cpu,cpu_ns_per_pkt,"
			     "avg_batch,p50_us,p99_us,p999_us,max_us,lost,offered,sleeps,"
			     "gen_cpu_s,steal_pct,others_cpu\n");
	}
	printf("%-8s %6s %10s %8s %8s %9s %9s %8s\n", "policy", "load%", "pps", "cpu%", "batch",
	       "p99(us)", "max(us)", "lost");
	for (unsigned li = 0; li < n_loads; li++) {
		for (int rep = 0; rep < reps; rep++) {
			for (unsigned pi = 0; pi < n_pol; pi++) { /* interleaved */
				struct run_result r;
				double rate = rstar * loads[li] / 100;
				if (measure(default_policies[pi], rate, pat, dur, &r))
					continue;
				double p99 = lat__percentile(r.lat, 0.99) / 1e3;
				printf("%-8s %6.0f %10.0f %8.1f %8.1f %9.1f %9.1f %8lu\n",
				       default_policies[pi], loads[li], rate,
				       100 * run__worker_cpu_frac(&r), run__avg_batch(&r), p99,
				       r.lat->max / 1e3, (unsigned long)run__lost(&r));
				if (csv)
					fprintf(
					    csv,
					    "%s,%s,%.0f,%.0f,%d,%.4f,%.1f,%.2f,%.1f,%.1f,%.1f,%.1f,"
					    "%lu,%lu,%lu,%.3f,%.2f,%.2f\n",
					    default_policies[pi], gen_pattern_names[pat], loads[li],
					    rate, rep, run__worker_cpu_frac(&r),
					    r.eng.forwarded
						? (double)r.worker_cpu_ns / (double)r.eng.forwarded
						: 0,
					    run__avg_batch(&r), lat__percentile(r.lat, 0.5) / 1e3,
					    p99, lat__percentile(r.lat, 0.999) / 1e3,
					    r.lat->max / 1e3, (unsigned long)run__lost(&r),
					    (unsigned long)r.gen.offered, (unsigned long)r.sleeps,
					    r.gen.cpu_ns / 1e9, r.guard.steal_pct,
					    r.guard.others_cpu);
				run__result_free(&r);
			}
		}
	}
	if (csv) {
		fclose(csv);
		printf("wrote %s\n", path);
		/* plots: only where gnuplot exists; the CSV is the result */
		char cmd[2048];
		snprintf(cmd, sizeof(cmd),
			 "command -v gnuplot >/dev/null && cd '%s' && gnuplot -e \""
			 "set datafile separator ','; set term pngcairo size 800,500;"
			 "set key autotitle columnhead; set xlabel 'load (%% of R*)';"
			 "set output 'cpu_vs_load.png'; set ylabel 'worker CPU';"
			 "plot for [p in 'busy256 fixed ovs ladder target'] 'bench.csv' using "
			 "(strcol(1) eq p ? \\$3 : 1/0):6 with points title p;"
			 "set output 'p99_vs_load.png'; set ylabel 'p99 latency (us)';"
			 "plot for [p in 'busy256 fixed ovs ladder target'] 'bench.csv' using "
			 "(strcol(1) eq p ? \\$3 : 1/0):10 with points title p;"
			 "set output 'cpu_per_pkt_vs_batch.png'; set xlabel 'avg batch';"
			 "set ylabel 'CPU ns per packet'; set logscale x;"
			 "plot 'bench.csv' using 8:7 with points title 'all runs'\" && echo 'plots "
			 "in %s'",
			 out, out);
		if (system(cmd)) {
			fprintf(stderr, "bench: no plots (gnuplot missing or failed)\n");
		}
	}
	return 0;
}
