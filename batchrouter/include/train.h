/*
 * train: from collect's CSV to a model file. Each row of the CSV is one
 * decision of a replayed trajectory and carries its own label (collect
 * replays the row's time window under every candidate sleep and labels it
 * with the cheapest one that met the budget) and what each candidate cost
 * there. Gradient-boosted regression trees (XGBoost) learn the label from
 * the features; the model is written as XGBoost JSON with the feature list,
 * the target and the collecting host's nanosleep floor in its attributes
 * (model.h checks the first two, the learned policy the floor). The
 * per-candidate costs score a model by replay regret: what the candidate
 * nearest its prediction would have cost against the label's.
 */
#ifndef BATCHROUTER_TRAIN_H
#define BATCHROUTER_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model.h"

#define TRAIN_MAX_CANDS 32

/* A group: the rows of one (pattern, load), never split between folds. */
struct train_group {
	char pattern[16];
	double load_pct;
};

struct train_set {
	size_t n, cap;
	float *x;	  /* n rows of MODEL_NFEAT features */
	float *y;	  /* n labels (label_us) */
	unsigned *grp;	  /* n group indices */
	uint8_t *lab_ok;  /* n: the label met the budget (label_ok) */
	unsigned *lab;	  /* n: the label's candidate index */
	double *cpu;	  /* n * n_cand: replayed CPU ns of the row's window (cpu_s<N>) */
	uint8_t *cand_ok; /* n * n_cand: that candidate met the budget (ok_s<N>) */
	double cand_us[TRAIN_MAX_CANDS]; /* the candidate sleeps, ascending */
	unsigned n_cand;
	struct train_group *groups;
	size_t n_groups, cap_groups;
	/* the collecting host's floor, median over rows */
	uint64_t floor_p99_ns, sleep_cpu_ns;
};

/* Reads collect's CSV from @f (@what names it in messages); the columns are
 * found by name, '#' lines are comments. Returns 0, or -1 with an
 * actionable message. */
int train__read_csv(FILE *f, const char *what, struct train_set *s, char *err, size_t errlen);
void train__set_free(struct train_set *s);

/*
 * Group k-fold: sorts the groups by (pattern, load_pct) and deals them out
 * round-robin, group i of that order to fold i mod @k, so every fold holds
 * low and high loads and, where the patterns outnumber the folds' turns,
 * several patterns. Deterministic: the same groups give the same folds
 * whatever their order in the file. Fills @fold_of_group (n_groups
 * entries); -1 unless 2 <= @k <= n_groups.
 */
int train__kfold_assign(const struct train_set *s, unsigned k, unsigned *fold_of_group);
/* @train_rows[i]: row i is in fold @fold's training side (its group is not
 * held out by @fold); false: held out. */
void train__fold_rows(const struct train_set *s, const unsigned *fold_of_group, unsigned fold,
		      bool *train_rows);

/* The candidate the learned policy's sleep @pred_us stands for: under 1 us
 * none (as the policy rounds), else the nearest (ties: the shorter). */
unsigned train__nearest(const struct train_set *s, float pred_us);

/* Replay regret of predictions over some rows. */
struct train_eval {
	size_t rows;
	double label_sum, pred_sum;
	double cpu_chosen, cpu_label; /* sum over rows of the replayed CPU ns */
	size_t missed;		      /* rows whose chosen candidate did not meet the budget */
	size_t label_missed;	      /* rows where no candidate did (label_ok 0) */
};
/* Adds row @i with prediction @pred_us to @e. */
void train__eval_add(const struct train_set *s, size_t i, float pred_us, struct train_eval *e);

struct train_opts {
	unsigned rounds, depth, threads;
	double eta;
	uint64_t seed;
	bool quiet;
	bool all_windows; /* also fit rows whose window no candidate kept the budget in */
};
extern const struct train_opts train_defaults;

/* Trains on the rows of @s where @rows is true (NULL: all) and writes the
 * JSON model to @out, floor attributes included. */
int train__fit(const struct train_set *s, const bool *rows, const struct train_opts *o,
	       const char *out, char *err, size_t errlen);

/* Median ns per call of each predictor and of a whole learned decision. */
struct train_bench {
	double flat_ns, xgb_ns, decide_ns;
	unsigned calls;
};
int train__bench_inference(const char *model, unsigned calls, struct train_bench *b, char *err,
			   size_t errlen);

int train__main(int argc, char **argv);

#endif
