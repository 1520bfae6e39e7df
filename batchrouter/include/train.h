/*
 * train: from collect's CSV to a model file. Each (pattern, rate) group is
 * labelled with the sleep of its cheapest action (least worker CPU-ns per
 * packet) that lost nothing and kept p99 within the latency budget; every
 * sampled decision of the group, whatever action produced it, gets that
 * label. Gradient-boosted regression trees (XGBoost) then learn the sleep
 * from the features, and the model is written as XGBoost JSON with the
 * feature list and target in its attributes (model.h checks them).
 */
#ifndef BATCHROUTER_TRAIN_H
#define BATCHROUTER_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model.h"

/* An action of a group, aggregated over its runs. */
struct train_action {
	double sleep_us;
	double cpu_ns_per_pkt; /* mean over runs */
	double p99_us;	       /* worst run */
	uint64_t lost;	       /* all runs */
	unsigned runs;
};

#define TRAIN_MAX_ACTIONS 32

struct train_group {
	char pattern[16];
	double rate_pps;
	struct train_action act[TRAIN_MAX_ACTIONS];
	unsigned n_act;
	double label_us;
	bool compliant; /* some action met the budget without loss */
};

struct train_set {
	size_t n, cap;
	float *x;      /* n rows of MODEL_NFEAT features */
	float *y;      /* n labels (train__label) */
	unsigned *grp; /* n group indices */
	struct train_group *groups;
	size_t n_groups, cap_groups;
};

/* Reads collect's CSV from @f (@what names it in messages); the columns are
 * found by name. Returns 0, or -1 with an actionable message. */
int train__read_csv(FILE *f, const char *what, struct train_set *s, char *err, size_t errlen);
/* Chooses each group's label and writes it to every row; @budget_us > 0. */
void train__label(struct train_set *s, double budget_us);
void train__set_free(struct train_set *s);

struct train_opts {
	unsigned rounds, depth, threads;
	double eta;
	uint64_t seed;
	double budget_us;
	bool quiet;
};
extern const struct train_opts train_defaults;

/* Trains on labelled @s and writes the JSON model to @out. */
int train__fit(const struct train_set *s, const struct train_opts *o, const char *out, char *err,
	       size_t errlen);

/* Median ns per call of each predictor and of a whole learned decision. */
struct train_bench {
	double flat_ns, xgb_ns, decide_ns, decide_cached_ns;
	unsigned calls;
};
int train__bench_inference(const char *model, unsigned calls, struct train_bench *b, char *err,
			   size_t errlen);

int train__main(int argc, char **argv);

#endif
