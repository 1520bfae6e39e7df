/*
 * The benchmark, in three phases on the synthetic NIC:
 *
 *  1. R*: the highest rate busy polling (burst 256) forwards with < 0.1%
 *     loss, by bracketing then bisection. One noisy run must not move the
 *     search, so a rate counts as lossless when two runs out of at most three
 *     say so.
 *  2. Each policy's own lossless rate, the same way, the policies' bisection
 *     steps interleaved so a disturbance hits them alike.
 *  3. The sweep: patterns x loads (% of R*) x policies x repetitions, the
 *     repetitions interleaved (A B C A B C ...), a run that the interference
 *     guard flags repeated once. Medians over repetitions make the table.
 *
 * Files in --out: runs.csv (every run), summary.csv (medians), lossless.csv,
 * results.md (machine facts, tables, targets) and, with gnuplot, PNG plots.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "policy.h"
#include "run.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: batchrouter bench [--short] [--out DIR] [--duration S] [--reps N]\n"
		"                        [--patterns P,...] [--policies SPEC;SPEC...]\n"
		"                        [--loads PCT,...] [--rstar PPS] [--no-lossless]\n"
		"Measures on the synthetic NIC (net_ring fed by a generator thread):\n"
		"  R*, the highest rate busy polling (burst 256) forwards with < 0.1%% loss;\n"
		"  each policy's own lossless rate; then every pattern x load (%% of R*) x\n"
		"  policy, repetitions interleaved, medians reported.\n"
		"  --out DIR       runs.csv, summary.csv, lossless.csv, results.md, plots\n"
		"                  (default bench-out)\n"
		"  --duration S    seconds per sweep run (default 1)\n"
		"  --reps N        repetitions per point, 1..%d (default 3)\n"
		"  --patterns      cbr,poisson,onoff,stair (default all)\n"
		"  --policies      policy specs separated by ';', the first is the baseline\n"
		"                  (default busy256;fixed;ovs;ladder;target)\n"
		"  --loads         percentages of R* (default 1,5,10,25,50,75,90)\n"
		"  --rstar PPS     skip the R* search\n"
		"  --no-lossless   skip the per-policy lossless-rate search\n"
		"  --folds FILE    train --kfold's M.folds.csv: a learned policy with\n"
		"                  model=M.json runs M.fold<k>.json at each point fold k held\n"
		"                  out, so every point it is judged on is a held-out one\n"
		"  --short         the demo's table: cbr, loads 1,10,50, 0.5 s, 1 rep,\n"
		"                  no per-policy search, no files, no target verdicts\n",
		BENCH_MAX_REPS);
}

/* How much the machine took from a run: stalled time plus others' CPU time. */
static double disturbance(const struct run_result *r)
{
	return (double)(stats__worker_stall_ns(&r->guard) + r->guard.gen_stall.total_ns) / 1e9 +
	       r->guard.others_cpu * r->wall_s;
}

/*
 * One run; a run the guard flags as disturbed is repeated, at most twice,
 * and the least disturbed of the tries is kept. --short (the demo) only
 * counts the repeats: a line for each would bury its table.
 */
static bool say_disturbed = true;
static unsigned n_disturbed;

static int measure(const char *policy, double rate, enum gen_pattern pat, double dur,
		   struct run_result *r)
{
	struct run_cfg c = { .port = "ring:size=1024",
			     .policy = policy,
			     .duration_s = dur,
			     .rate_pps = rate,
			     .pattern = pat,
			     .frame_len = 64 };
	struct run_result t;
	char err[256];
	bool have = false;
	for (int attempt = 0; attempt < 3; attempt++) {
		if (run__once(&c, &t, err, sizeof(err))) {
			fprintf(stderr, "batchrouter bench: %s\n", err);
			if (have)
				run__result_free(r);
			return -1;
		}
		if (!have || disturbance(&t) < disturbance(r)) {
			if (have)
				run__result_free(r);
			*r = t;
			have = true;
		} else {
			run__result_free(&t);
		}
		if (!run__disturbed(r))
			return 0;
		n_disturbed++;
		if (!say_disturbed)
			continue;
		fprintf(
		    stderr,
		    "bench: %s at %.0f pps disturbed (others %.2f CPUs, stalls %.1f + %.1f ms)%s\n",
		    policy, rate, r->guard.others_cpu, stats__worker_stall_ns(&r->guard) / 1e6,
		    r->guard.gen_stall.total_ns / 1e6, attempt < 2 ? ", repeating" : "");
	}
	return 0;
}

static double lost_frac(const struct run_result *r)
{
	return r->gen.offered ? (double)run__lost(r) / (double)r->gen.offered : 1;
}

/*
 * What a CBR run at @rate fell short of its schedule: the packets lost, plus,
 * when the generator ended more than 1% of the run behind its schedule, that
 * lateness as a share of the run (it then offered every packet late, at its
 * own pace: a rate it cannot make is no rate the router forwarded). Less
 * than 1% is a stall near the end, not a rate it could not make.
 */
double bench__shortfall(const struct run_result *r, double rate, double dur)
{
	double scheduled = rate * dur;
	double late = (double)r->gen.late_ns / 1e9;

	if (scheduled <= 0)
		return 1;
	return (double)run__lost(r) / scheduled + (late > 0.01 * dur ? late / dur : 0);
}

/* Lossless at @rate: two runs of at most three agree. -1 on error. */
static int lossless_at(const char *policy, double rate, double dur)
{
	int ok = 0, bad = 0;
	while (ok < 2 && bad < 2) {
		struct run_result r;
		if (measure(policy, rate, GEN_CBR, dur, &r))
			return -1;
		if (bench__shortfall(&r, rate, dur) < LOSS_OK)
			ok++;
		else
			bad++;
		run__result_free(&r);
	}
	return ok == 2;
}

int bench__bisect(bench_probe probe, void *ctx, unsigned n, double *lo, double *hi, unsigned steps)
{
	for (unsigned s = 0; s < steps; s++) {
		for (unsigned i = 0; i < n; i++) {
			if (hi[i] <= lo[i])
				continue; /* no bracket: nothing was lossless */
			double mid = (lo[i] + hi[i]) / 2;
			int ok = probe(ctx, i, mid);
			if (ok < 0)
				return -1;
			if (ok)
				lo[i] = mid;
			else
				hi[i] = mid;
		}
	}
	return 0;
}

int bench__bracket_down(bench_probe probe, void *ctx, unsigned i, double *lo, double *hi,
			double floor)
{
	int ok;

	while ((ok = probe(ctx, i, *lo)) == 0 && *lo / 2 >= floor) {
		*hi = *lo;
		*lo /= 2;
	}
	return ok;
}

int bench__rstar_search(bench_probe probe, void *ctx, double *rstar)
{
	double lo = 1e5, hi = 1e6;
	int ok = bench__bracket_down(probe, ctx, 0, &lo, &hi, 1e3);

	if (ok == 0)
		fprintf(stderr, "batchrouter bench: busy polling loses packets even at %.0f pps\n",
			lo);
	if (ok <= 0)
		return -1;
	/* bracket upwards: double until busy polling loses packets */
	while ((ok = probe(ctx, 0, hi)) == 1 && hi < 64e6) {
		lo = hi;
		hi *= 2;
	}
	if (ok < 0 || bench__bisect(probe, ctx, 1, &lo, &hi, 7))
		return -1;
	*rstar = lo;
	return 0;
}

/* bench's probe: runs of the policies named in a probe_set */
struct probe_set {
	char *const *policies;
	double dur;
};

static int policy_probe(void *ctx, unsigned i, double rate)
{
	const struct probe_set *ps = ctx;
	return lossless_at(ps->policies[i], rate, ps->dur);
}

static int find_rstar(struct bench *b)
{
	char *busy = "busy256";
	struct probe_set ps = { &busy, b->search_dur };
	return bench__rstar_search(policy_probe, &ps, &b->rstar);
}

static void metrics__from(const struct run_result *r, struct metrics *m)
{
	m->cpu_frac = run__worker_cpu_frac(r);
	m->ns_per_pkt = r->eng.forwarded ? (double)r->worker_cpu_ns / (double)r->eng.forwarded : 0;
	m->avg_batch = run__avg_batch(r);
	m->p50_us = (double)lat__percentile(r->lat, 0.5) / 1e3;
	m->p99_us = (double)lat__percentile(r->lat, 0.99) / 1e3;
	m->p999_us = (double)lat__percentile(r->lat, 0.999) / 1e3;
	m->max_us = (double)r->lat->max / 1e3;
	m->lost_frac = lost_frac(r);
	m->wakeups_per_s = r->wall_s > 0 ? (double)(r->sleeps + r->waits) / r->wall_s : 0;
}

/*
 * The median *run*, not field-wise medians: a field-wise median pairs one
 * run's CPU with another's p99 and describes no run that happened. Runs are
 * ranked by CPU (the headline figure), ties by p99; for an even count the
 * lower middle one is taken, so the record is always a real one.
 */
void bench__median_run(const struct metrics *reps, int n, struct metrics *out)
{
	int idx[BENCH_MAX_REPS];
	for (int i = 0; i < n; i++)
		idx[i] = i;
	for (int i = 1; i < n; i++) /* insertion sort: n <= BENCH_MAX_REPS */
		for (int j = i; j > 0; j--) {
			const struct metrics *a = &reps[idx[j - 1]], *b = &reps[idx[j]];
			if (a->cpu_frac < b->cpu_frac ||
			    (a->cpu_frac == b->cpu_frac && a->p99_us <= b->p99_us))
				break;
			int t = idx[j];
			idx[j] = idx[j - 1];
			idx[j - 1] = t;
		}
	*out = reps[idx[(n - 1) / 2]];
}

/* A policy's name in tables and plots: its spec, but a learned policy's model
 * path says nothing there (it is in the command line behind the run). */
static int sweep(struct bench *b)
{
	printf("%-8s %-8s %5s %9s %7s %7s %8s %8s %8s %9s\n", "pattern", "policy", "load%", "pps",
	       "cpu%", "batch", "ns/pkt", "p99(us)", "max(us)", "lost%");
	for (unsigned pt = 0; pt < b->n_pat; pt++) {
		enum gen_pattern pat = b->patterns[pt];
		for (unsigned li = 0; li < b->n_loads; li++) {
			struct metrics m[BENCH_MAX_POL][BENCH_MAX_REPS];
			int n[BENCH_MAX_POL] = { 0 };
			double rate = b->rstar * b->loads[li] / 100;
			for (int rep = 0; rep < b->reps; rep++) {
				for (unsigned pi = 0; pi < b->n_pol; pi++) { /* interleaved */
					struct run_result r;
					/* the full spec: pname() is for tables only */
					char spec[POLICY_STR_LEN + 64];
					if (bench__spec_at(b, pi, pat, b->loads[li], spec,
							   sizeof(spec))) {
						fprintf(stderr,
							"batchrouter bench: the spec of %s is too "
							"long\n",
							b->policies[pi]);
						return -1;
					}
					if (measure(spec, rate, pat, b->dur, &r)) {
						fprintf(
						    stderr,
						    "batchrouter bench: the run of %s at %g%% "
						    "failed; the sweep stops (a missing point is "
						    "no result)\n",
						    b->policies[pi], b->loads[li]);
						return -1;
					}
					struct metrics *x = &m[pi][n[pi]++];
					metrics__from(&r, x);
					b->reps_of[pt][li][pi][n[pi] - 1] = *x;
					b->n_reps_of[pt][li][pi] = n[pi];
					if (b->runs_csv)
						fprintf(b->runs_csv,
							"%s,%s,%g,%.0f,%d,%.4f,%.1f,%.2f,%.1f,%.1f,"
							"%.1f,%.1f,%.6f,%.0f,%.2f,%.2f,%.2f,"
							"%.2f,%lu\n",
							gen_pattern_names[pat], bench__pname(b, pi),
							b->loads[li], rate, rep, x->cpu_frac,
							x->ns_per_pkt, x->avg_batch, x->p50_us,
							x->p99_us, x->p999_us, x->max_us,
							x->lost_frac, x->wakeups_per_s,
							r.guard.steal_pct, r.guard.others_cpu,
							stats__worker_stall_ns(&r.guard) / 1e6,
							r.guard.gen_stall.total_ns / 1e6,
							(unsigned long)r.guard.worker_late.count);
					run__result_free(&r);
				}
			}
			for (unsigned pi = 0; pi < b->n_pol; pi++) {
				if (!n[pi])
					continue;
				struct metrics *x = &b->med[pt][li][pi];
				bench__median_run(m[pi], n[pi], x);
				b->have[pt][li][pi] = true;
				printf(
				    "%-8s %-8.8s %5g %9.0f %7.1f %7.1f %8.0f %8.1f %8.1f %9.4f\n",
				    gen_pattern_names[pat], bench__pname(b, pi), b->loads[li], rate,
				    100 * x->cpu_frac, x->avg_batch, x->ns_per_pkt, x->p99_us,
				    x->max_us, 100 * x->lost_frac);
			}
			fflush(stdout);
		}
	}
	return 0;
}

static int parse_args(struct bench *b, int argc, char **argv)
{
	static const struct option opts[] = { { "short", no_argument, NULL, 's' },
					      { "out", required_argument, NULL, 'o' },
					      { "duration", required_argument, NULL, 'd' },
					      { "reps", required_argument, NULL, 'r' },
					      { "patterns", required_argument, NULL, 'p' },
					      { "pattern", required_argument, NULL, 'p' },
					      { "policies", required_argument, NULL, 'P' },
					      { "loads", required_argument, NULL, 'l' },
					      { "rstar", required_argument, NULL, 'R' },
					      { "no-lossless", no_argument, NULL, 'L' },
					      { "folds", required_argument, NULL, 'F' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	static char default_policies[] = "busy256;fixed;ovs;ladder;target";
	static const double default_loads[] = { 1, 5, 10, 25, 50, 75, 90 };
	char *pols = default_policies, *pats = NULL;
	int c, n;

	*b = (struct bench){ .dur = 1, .reps = 3, .out = "bench-out", .lossless_phase = true };
	memcpy(b->loads, default_loads, sizeof(default_loads));
	b->n_loads = sizeof(default_loads) / sizeof(default_loads[0]);
	while ((c = getopt_long(argc, argv, "so:d:r:p:P:l:R:LF:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			b->shrt = true;
			say_disturbed = false;
			break;
		case 'o':
			b->out = optarg;
			break;
		case 'd':
			b->dur = atof(optarg);
			break;
		case 'r':
			b->reps = atoi(optarg);
			break;
		case 'p':
			pats = optarg;
			break;
		case 'P':
			pols = optarg;
			break;
		case 'l':
			if ((n = gen__parse_loads(optarg, b->loads, BENCH_MAX_LOADS)) <= 0) {
				fprintf(stderr,
					"batchrouter bench: --loads wants up to %d "
					"percentages in (0, 200], comma-separated\n",
					BENCH_MAX_LOADS);
				return -1;
			}
			b->n_loads = (unsigned)n;
			break;
		case 'R':
			b->rstar = atof(optarg);
			break;
		case 'L':
			b->lossless_phase = false;
			break;
		case 'F': {
			char err[512];
			if (bench__read_folds(b, optarg, err, sizeof(err))) {
				fprintf(stderr, "batchrouter bench: %s\n", err);
				return -1;
			}
			break;
		}
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc || b->reps < 1 || b->reps > BENCH_MAX_REPS || b->dur <= 0) {
		usage(stderr);
		return -1;
	}
	if (b->shrt) {
		static const double short_loads[] = { 1, 10, 50 };
		memcpy(b->loads, short_loads, sizeof(short_loads));
		b->n_loads = 3;
		b->dur = 0.5;
		b->reps = 1;
		b->lossless_phase = false;
		pats = pats ? pats : "cbr";
	}
	/* R* and the lossless rates with runs as long as the sweep's: a short run
	 * misses the stalls a long one meets, which made R* look higher */
	b->search_dur = b->shrt ? 0.3 : b->dur;
	for (char *t = strtok(pols, ";"); t; t = strtok(NULL, ";")) {
		if (b->n_pol == BENCH_MAX_POL) {
			fprintf(stderr, "batchrouter bench: at most %d policies\n", BENCH_MAX_POL);
			return -1;
		}
		b->policies[b->n_pol++] = t;
	}
	if (!pats) {
		for (int p = 0; p < GEN__MAX; p++)
			b->patterns[b->n_pat++] = (enum gen_pattern)p;
	} else {
		for (char *t = strtok(pats, ","); t; t = strtok(NULL, ",")) {
			if (b->n_pat == GEN__MAX || gen__pattern_parse(t, &b->patterns[b->n_pat])) {
				fprintf(stderr,
					"batchrouter bench: bad pattern list at '%s' "
					"(cbr, poisson, onoff, stair)\n",
					t);
				return -1;
			}
			b->n_pat++;
		}
	}
	if (!b->n_pol) {
		fprintf(stderr, "batchrouter bench: --policies is empty\n");
		return -1;
	}
	return 0;
}

static int open_outputs(struct bench *b)
{
	char path[512];
	if (mkdir(b->out, 0755) && access(b->out, W_OK)) {
		fprintf(stderr, "batchrouter bench: unable to create %s\n", b->out);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/runs.csv", b->out);
	b->runs_csv = fopen(path, "w");
	if (!b->runs_csv) {
		fprintf(stderr, "batchrouter bench: unable to write %s\n", path);
		return -1;
	}
	fprintf(b->runs_csv, "pattern,policy,load_pct,rate_pps,rep,worker_cpu,cpu_ns_per_pkt,"
			     "avg_batch,p50_us,p99_us,p999_us,max_us,lost_frac,wakeups_per_s,"
			     "steal_pct,others_cpu,worker_stall_ms,gen_stall_ms,late_wakeups\n");
	return 0;
}

/*
 * The target's question asked directly: is every policy lossless at 99% of
 * the baseline's lossless rate? Each policy runs there PAIRED_REPS times,
 * interleaved with the others, so that all see the same machine; the median
 * shortfall answers. Separate bisections cannot: on a machine that stalls
 * threads for milliseconds, one rate passes and fails minutes apart.
 */
static int paired_check(struct bench *b)
{
	double v[BENCH_MAX_POL][PAIRED_REPS];

	b->paired_rate = TARGET_LOSSLESS_RATIO * b->lossless[0];
	if (b->paired_rate <= 0)
		return 0;
	printf("paired check at %.0f pps, %d runs per policy...\n", b->paired_rate, PAIRED_REPS);
	fflush(stdout);
	for (int rep = 0; rep < PAIRED_REPS; rep++)
		for (unsigned i = 0; i < b->n_pol; i++) {
			struct run_result r;
			if (measure(b->policies[i], b->paired_rate, GEN_CBR, b->search_dur, &r))
				return -1;
			v[i][rep] = bench__shortfall(&r, b->paired_rate, b->search_dur);
			run__result_free(&r);
		}
	for (unsigned i = 0; i < b->n_pol; i++)
		b->paired_loss[i] = stats__median(v[i], PAIRED_REPS);
	return 0;
}

static int lossless_phase(struct bench *b)
{
	double lo[BENCH_MAX_POL], hi[BENCH_MAX_POL];
	struct probe_set ps = { b->policies, b->search_dur };
	printf("lossless rates (bisection from [0.5, 1.25] x R*, the lower bound halved while "
	       "it loses; steps interleaved)...\n");
	fflush(stdout);
	for (unsigned i = 0; i < b->n_pol; i++) {
		lo[i] = 0.5 * b->rstar;
		hi[i] = 1.25 * b->rstar;
		int ok = bench__bracket_down(policy_probe, &ps, i, &lo[i], &hi[i], 0.01 * b->rstar);
		if (ok < 0)
			return -1;
		if (ok == 0) /* nothing is lossless: the rate is 0 */
			lo[i] = hi[i] = 0;
	}
	if (bench__bisect(policy_probe, &ps, b->n_pol, lo, hi, 7))
		return -1;
	for (unsigned i = 0; i < b->n_pol; i++)
		b->lossless[i] = lo[i];
	if (paired_check(b))
		return -1;
	char path[512];
	snprintf(path, sizeof(path), "%s/lossless.csv", b->out);
	FILE *f = fopen(path, "w");
	if (f)
		fprintf(f, "policy,lossless_pps,ratio,paired_pps,paired_median_loss\n");
	for (unsigned i = 0; i < b->n_pol; i++) {
		double ratio = lo[0] > 0 ? lo[i] / lo[0] : 0;
		printf("  %-24s %10.0f pps  %5.1f%% of %s; loss at %.0f pps %.3f%%\n",
		       bench__pname(b, i), lo[i], 100 * ratio, bench__pname(b, 0), b->paired_rate,
		       100 * b->paired_loss[i]);
		if (f)
			fprintf(f, "%s,%.0f,%.4f,%.0f,%.6f\n", bench__pname(b, i), lo[i], ratio,
				b->paired_rate, b->paired_loss[i]);
	}
	if (f)
		fclose(f);
	return 0;
}

int bench__main(int argc, char **argv)
{
	struct bench *b = calloc(1, sizeof(*b));
	int rc = 111;

	if (!b) {
		fprintf(stderr, "batchrouter bench: out of memory\n");
		return 111;
	}
	if (parse_args(b, argc, argv)) {
		rc = 100;
		goto out;
	}
	if (!b->shrt && open_outputs(b))
		goto out;
	if (run__eal_init("batchrouter", true))
		goto out;
	b->floor = *run__floor();
	printf("nanosleep floor: p50 %.1f us p99 %.1f us, %.1f us CPU per sleep\n",
	       b->floor.p50_ns / 1e3, b->floor.p99_ns / 1e3, b->floor.cpu_per_sleep_ns / 1e3);
	if (b->rstar <= 0) {
		if (find_rstar(b))
			goto out;
		printf("R* (busy256, < 0.1%% loss): %.0f pps\n", b->rstar);
	}
	fflush(stdout);
	if (b->lossless_phase && lossless_phase(b))
		goto out;
	if (sweep(b))
		goto out;
	if (b->shrt) {
		bench__short_summary(b, n_disturbed);
	} else {
		bench__write_results(b);
		/* gnuplot reads runs.csv: all of it, not what stdio has flushed so far */
		if (b->runs_csv && fclose(b->runs_csv))
			perror("bench: runs.csv");
		b->runs_csv = NULL;
		bench__plot(b);
	}
	rc = 0;
out:
	if (b->runs_csv)
		fclose(b->runs_csv);
	free(b);
	return rc;
}

int bench__read_folds(struct bench *b, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[256];
	long no = 0;

	if (!f) {
		snprintf(err, errlen, "unable to read %s: %s (train --kfold K writes it)", path,
			 strerror(errno));
		return -1;
	}
	b->n_folds = 0;
	while (fgets(line, sizeof(line), f)) {
		struct bench_fold *x = &b->folds[b->n_folds];
		no++;
		if (no == 1 && !strncmp(line, "fold,", 5))
			continue;
		if (b->n_folds == BENCH_MAX_FOLD_ROWS ||
		    sscanf(line, "%d,%15[^,],%lf", &x->fold, x->pattern, &x->load_pct) != 3 ||
		    x->fold < 0) {
			snprintf(err, errlen, "%s:%ld: not a fold,pattern,load_pct line%s", path,
				 no, b->n_folds == BENCH_MAX_FOLD_ROWS ? " (too many)" : "");
			fclose(f);
			return -1;
		}
		b->n_folds++;
	}
	fclose(f);
	if (!b->n_folds) {
		snprintf(err, errlen, "%s: no folds", path);
		return -1;
	}
	return 0;
}

int bench__fold_of(const struct bench *b, enum gen_pattern pat, double load)
{
	for (unsigned i = 0; i < b->n_folds; i++)
		if (!strcmp(b->folds[i].pattern, gen_pattern_names[pat]) &&
		    fabs(b->folds[i].load_pct - load) < 1e-9)
			return b->folds[i].fold;
	return -1;
}

int bench__spec_at(const struct bench *b, unsigned i, enum gen_pattern pat, double load, char *buf,
		   size_t len)
{
	const char *spec = b->policies[i], *m = strstr(spec, "model=");
	int k = bench__fold_of(b, pat, load);
	int n;

	if (strncmp(spec, "learned:", 8) || !m || k < 0) {
		n = snprintf(buf, len, "%s", spec);
		return n < 0 || (size_t)n >= len ? -1 : 0;
	}
	/* the path runs to the next ',' */
	const char *path = m + 6, *end = strchr(path, ',');
	size_t plen = end ? (size_t)(end - path) : strlen(path);
	size_t stem = plen > 5 && !strncmp(path + plen - 5, ".json", 5) ? plen - 5 : plen;
	n = snprintf(buf, len, "%.*s%.*s.fold%d.json%s", (int)(path - spec), spec, (int)stem, path,
		     k, end ? end : "");
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median_cpu(const struct metrics *x, const int *idx, int n)
{
	double v[BENCH_MAX_REPS];
	for (int i = 0; i < n; i++)
		v[i] = x[idx[i]].cpu_frac;
	return stats__median(v, (unsigned)n);
}

void bench__cpu_ratio_ci(const struct metrics *l, int n_l, const struct metrics *h, int n_h,
			 double *lo, double *hi)
{
	enum { RESAMPLES = 2000 };
	static double r[RESAMPLES];
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	int il[BENCH_MAX_REPS], ih[BENCH_MAX_REPS];

	for (int k = 0; k < RESAMPLES; k++) {
		for (int i = 0; i < n_l; i++) {
			seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
			il[i] = (int)(seed % (uint64_t)n_l);
		}
		for (int i = 0; i < n_h; i++) {
			seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
			ih[i] = (int)(seed % (uint64_t)n_h);
		}
		double mh = median_cpu(h, ih, n_h);
		r[k] = mh > 0 ? median_cpu(l, il, n_l) / mh : 0;
	}
	qsort(r, RESAMPLES, sizeof(r[0]), cmp_double);
	*lo = r[(int)(0.025 * RESAMPLES)];
	*hi = r[(int)(0.975 * RESAMPLES) - 1];
}
