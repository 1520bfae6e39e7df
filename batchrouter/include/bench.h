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

/* ---- Between bench.c (the phases) and bench_report.c (tables, files, plots) ---- */

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "run.h"

#define BENCH_MAX_POL 8
#define BENCH_MAX_LOADS 16
#define BENCH_MAX_REPS 9
#define LOSS_OK 0.001 /* "lossless": < 0.1% of offered packets lost */
#define PAIRED_REPS 7 /* runs per policy in the paired lossless check */
#define BENCH_MAX_FOLD_ROWS 128

/* The targets, checked and printed at the end. */
#define TARGET_LOAD_PCT 10
#define TARGET_CPU_RATIO 0.15
#define TARGET_LOSSLESS_RATIO 0.99
#define TARGET_P99_US 200

struct bench {
	double dur, search_dur;
	int reps;
	bool shrt, lossless_phase;
	const char *out;
	char *policies[BENCH_MAX_POL];
	unsigned n_pol;
	enum gen_pattern patterns[GEN__MAX];
	unsigned n_pat;
	double loads[BENCH_MAX_LOADS];
	unsigned n_loads;
	double rstar;
	double lossless[BENCH_MAX_POL];
	/* the paired check: every policy at 99% of the baseline's lossless rate */
	double paired_rate, paired_loss[BENCH_MAX_POL]; /* median shortfall */
	/* medians, [pattern][load][policy] */
	struct metrics med[GEN__MAX][BENCH_MAX_LOADS][BENCH_MAX_POL];
	bool have[GEN__MAX][BENCH_MAX_LOADS][BENCH_MAX_POL];
	struct sleep_floor floor;
	FILE *runs_csv;
	/* every repetition, for the confidence intervals */
	struct metrics reps_of[GEN__MAX][BENCH_MAX_LOADS][BENCH_MAX_POL][BENCH_MAX_REPS];
	int n_reps_of[GEN__MAX][BENCH_MAX_LOADS][BENCH_MAX_POL];
	/* --folds: which fold's model held each (pattern, load) out */
	struct bench_fold {
		char pattern[16];
		double load_pct;
		int fold;
	} folds[BENCH_MAX_FOLD_ROWS];
	unsigned n_folds;
};

/* A policy's name in tables: a learned policy's model path left out. */
static inline const char *bench__pname(const struct bench *b, unsigned i)
{
	return strncmp(b->policies[i], "learned:", 8) ? b->policies[i] : "learned";
}

/*
 * The searches, over a probe: whether @rate is lossless for policy @i of
 * @ctx (1), not (0), or an error (-1). bench's probe runs the policy (two of
 * at most three runs agree); the tests' are synthetic.
 */
typedef int (*bench_probe)(void *ctx, unsigned i, double rate);
/* Bisection of [lo[i], hi[i]] for @n policies at once, one step of each in
 * turn (they see the same machine); the answer is lo[i]. 0, or -1 on error. */
int bench__bisect(bench_probe probe, void *ctx, unsigned n, double *lo, double *hi, unsigned steps);
/* Makes *@lo a rate seen lossless: while it is not, it becomes the upper
 * bound and the lower bound halves, down to @floor. 1 if the bracket holds, 0
 * if even @floor loses packets, -1 on error. */
int bench__bracket_down(bench_probe probe, void *ctx, unsigned i, double *lo, double *hi,
			double floor);
/* R*: policy 0's lossless rate, bracketed from [1e5, 1e6] down (to 1e3) or up
 * (doubling, to 64e6), then 7 bisection steps. -1 on error or nothing lossless. */
int bench__rstar_search(bench_probe probe, void *ctx, double *rstar);

/*
 * What a CBR run at @rate fell short of its schedule: the packets lost, plus,
 * when the generator ended more than 1% of the run behind its schedule, that
 * lateness as a share of the run.
 */
double bench__shortfall(const struct run_result *r, double rate, double dur);
/*
 * The heuristic a learned policy must beat at one point: the cheapest one
 * (median worker CPU) among those that lost < 0.1% and kept p99 within the
 * target, or the cheapest of all when none did. -1 when none ran.
 */
int bench__best_heuristic(const struct bench *b, unsigned pt, unsigned li);
/*
 * A learned policy's median run @l against heuristic @h's: "win" (>= 10% less
 * CPU), "tie" (within +5%), else "loss"; always "loss" with a worse p99 (10% +
 * 5 us of slack) or more loss (0.1% of the offered). With @budget_us > 0 a p99
 * worse than the heuristic's is a loss only when it is also over the budget:
 * the reading by which latency up to the budget is the controller's to spend.
 * *@cpu_delta = l/h - 1.
 */
const char *bench__verdict(const struct metrics *l, const struct metrics *h, double budget_us,
			   double *cpu_delta);

/*
 * Reads train --kfold's M.folds.csv (fold,pattern,load_pct) into @b. 0, or
 * -1 with a message.
 */
int bench__read_folds(struct bench *b, const char *path, char *err, size_t errlen);
/* The fold that held (@pat, @load) out, or -1. */
int bench__fold_of(const struct bench *b, enum gen_pattern pat, double load);
/*
 * The spec policy @i runs with at (@pat, @load): a learned policy's
 * model=M.json becomes model=M.fold<k>.json where fold k held the point out;
 * otherwise its spec as given. 0, or -1 (does not fit @len).
 */
int bench__spec_at(const struct bench *b, unsigned i, enum gen_pattern pat, double load, char *buf,
		   size_t len);
/*
 * A 95% bootstrap interval of the ratio of the median-run CPUs of @l (n_l
 * runs) to @h (n_h runs): 2000 resamples with replacement of each side,
 * a fixed seed. Fills *@lo and *@hi.
 */
void bench__cpu_ratio_ci(const struct metrics *l, int n_l, const struct metrics *h, int n_h,
			 double *lo, double *hi);

/* --short's table (the demo): CPU of the baseline and the best policy per load. */
void bench__short_summary(const struct bench *b, unsigned n_disturbed);
/* results.md, summary.csv and lossless.csv in b->out, with the targets' verdicts. */
void bench__write_results(const struct bench *b);
/* The PNG plots of the sweep, with gnuplot when it is installed. */
void bench__plot(const struct bench *b);

#endif
