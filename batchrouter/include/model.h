/*
 * model: the learned policy's gradient-boosted trees. A model file is the
 * XGBoost JSON model that `batchrouter train` writes (regression of the
 * sleep in us on the features below). Loading it yields two equivalent
 * predictors: XGBoost's own (in-place prediction through its C API) and the
 * trees flattened into one node array that a plain loop walks. The load
 * refuses, with a message that says what to do, any file that is missing,
 * is not JSON, is not such a model, was trained on other features, or on
 * which the two predictors disagree; so nothing can go wrong on the data path.
 */
#ifndef BATCHROUTER_MODEL_H
#define BATCHROUTER_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"

/* The features, in column order; a model records them and must match. */
enum model_feature {
	MF_MEAN_BATCH,	 /* mean of the last POLICY_HIST batch sizes */
	MF_MAX_BATCH,	 /* largest of them */
	MF_EMPTY_POLLS,	 /* consecutive empty polls, capped */
	MF_US_SINCE_PKT, /* us since the last packet, capped (never: the cap) */
	MF_RATE_KPPS,	 /* EWMA arrival rate, kpps */
	MF_RX_OCC,	 /* rx ring occupancy, -1 unknown */
	MODEL_NFEAT,
};
extern const char *const model_feature_names[MODEL_NFEAT];
/* The names joined by commas, as stored in a model's attributes. */
#define MODEL_FEATURES "mean_batch,max_batch,empty_polls,us_since_pkt,rate_kpps,rx_occ"
#define MODEL_ATTR_FEATURES "batchrouter_features"
#define MODEL_ATTR_TARGET "batchrouter_target"
#define MODEL_TARGET "sleep_us"
/* The collecting host's nanosleep floor (integer ns), which every label
 * depends on: a sleep's cost and lateness are the floor's as much as its own */
#define MODEL_ATTR_FLOOR "batchrouter_floor_p99_ns"
#define MODEL_ATTR_SLEEP_CPU "batchrouter_sleep_cpu_ns"

#define MODEL_MAX_DEPTH 10 /* deeper trees are refused: 2^depth slots per tree */

/*
 * The flattened trees are perfect binary trees of the model's depth D, in
 * heap order (children of i at 2i+1 and 2i+2): a leaf above depth D becomes
 * filler splits whose descendants all hold its value. Every walk is then
 * exactly D compares with no data-dependent branch, which keeps a decision
 * free of branch mispredictions whatever the features.
 */
struct model_node {
	float thr;     /* go left if x[feat] < thr, as XGBoost does */
	uint32_t feat; /* feature index */
};

struct model {
	void *booster;		  /* XGBoost BoosterHandle */
	struct model_node *nodes; /* n_trees * (2^depth - 1) splits, tree after tree */
	float *leaves;		  /* n_trees * 2^depth leaf values */
	uint32_t n_trees, depth;
	uint32_t n_src_nodes; /* nodes in the file's trees, for reports */
	float base_score;
	uint64_t floor_p99_ns, sleep_cpu_ns; /* the attributes above; 0: not recorded */
	/* XGBoost's in-place prediction reads this heap buffer (so the struct
	 * may be copied); its array interface string is built once at load */
	float *xgb_x;
	char xgb_array[160];
};

/* Fills @x from an observation; every value is finite (no missing values). */
void model__features(const struct policy_obs *o, float x[MODEL_NFEAT]);

/* Loads @path. Returns 0, or -1 with an actionable message in @err. */
int model__load(struct model *m, const char *path, char *err, size_t errlen);
/* Same from a buffer holding the file's bytes; @what names it in messages. */
int model__load_buffer(struct model *m, const char *buf, size_t len, const char *what, char *err,
		       size_t errlen);
void model__free(struct model *m);

/* The flattened trees: base score plus one leaf per tree, summed in float
 * in tree order as XGBoost does, so both predictors agree bit for bit.
 * Four trees are walked side by side: each walk is a chain of dependent
 * loads, and four independent chains keep the core busy while they wait.
 * @x must be finite (model__features' output is). */
static inline float model__predict_flat(const struct model *m, const float *x)
{
	const uint32_t inner = (1u << m->depth) - 1;
	const struct model_node *n = m->nodes;
	const float *leaf = m->leaves;
	float s = m->base_score;
	uint32_t t = 0;

	for (; t + 4 <= m->n_trees; t += 4, n += 4 * inner, leaf += 4 * (inner + 1)) {
		const struct model_node *n1 = n + inner, *n2 = n1 + inner, *n3 = n2 + inner;
		uint32_t i0 = 0, i1 = 0, i2 = 0, i3 = 0;
		for (uint32_t d = 0; d < m->depth; d++) {
			i0 = 2 * i0 + 1 + !(x[n[i0].feat] < n[i0].thr);
			i1 = 2 * i1 + 1 + !(x[n1[i1].feat] < n1[i1].thr);
			i2 = 2 * i2 + 1 + !(x[n2[i2].feat] < n2[i2].thr);
			i3 = 2 * i3 + 1 + !(x[n3[i3].feat] < n3[i3].thr);
		}
		s += leaf[i0 - inner];
		s += leaf[inner + 1 + i1 - inner];
		s += leaf[2 * (inner + 1) + i2 - inner];
		s += leaf[3 * (inner + 1) + i3 - inner];
	}
	for (; t < m->n_trees; t++, n += inner, leaf += inner + 1) {
		uint32_t i = 0;
		for (uint32_t d = 0; d < m->depth; d++)
			i = 2 * i + 1 + !(x[n[i].feat] < n[i].thr);
		s += leaf[i - inner];
	}
	return s;
}

/* XGBoost's own prediction; 0, or -1 (message from XGBGetLastError). */
int model__predict_xgb(struct model *m, const float *x, float *out);
/* XGBoost's last error message, for the -1 above. */
const char *model__xgb_error(void);

#endif
