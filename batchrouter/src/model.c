/*
 * Model files: validation, flattening, and XGBoost's own predictor. The
 * file is read once; json-c checks and flattens it, XGBoost loads the same
 * bytes, and the two are then made to agree on probe vectors before the
 * model is accepted.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <xgboost/c_api.h>

#include "model.h"

#define FEAT_CAP 1e6f /* counts and us beyond this carry no more information */
#define MODEL_MAX_BYTES (64u << 20)
#define N_PROBES 256

const char *const model_feature_names[MODEL_NFEAT] = {
	[MF_MEAN_BATCH] = "mean_batch",	  [MF_MAX_BATCH] = "max_batch",
	[MF_EMPTY_POLLS] = "empty_polls", [MF_US_SINCE_PKT] = "us_since_pkt",
	[MF_RATE_KPPS] = "rate_kpps",	  [MF_RX_OCC] = "rx_occ",
};

/* "in-place" prediction of one dense row; NaN would be a missing value */
static const char predict_cfg[] = "{\"type\": 0, \"training\": false, \"cache_id\": 0, "
				  "\"iteration_begin\": 0, "
				  "\"iteration_end\": 0, \"strict_shape\": false, "
				  "\"missing\": NaN}";

void model__features(const struct policy_obs *o, float x[MODEL_NFEAT])
{
	unsigned sum = 0, max = 0, n = o->n_hist < POLICY_HIST ? o->n_hist : POLICY_HIST;

	for (unsigned i = 0; i < n; i++) {
		sum += o->hist[i];
		if (o->hist[i] > max)
			max = o->hist[i];
	}
	x[MF_MEAN_BATCH] = n ? (float)sum / (float)n : 0.0f;
	x[MF_MAX_BATCH] = (float)max;
	x[MF_EMPTY_POLLS] = o->empty_polls > (uint64_t)FEAT_CAP ? FEAT_CAP : (float)o->empty_polls;
	x[MF_US_SINCE_PKT] = o->ns_since_pkt / 1000 > (uint64_t)FEAT_CAP
				 ? FEAT_CAP
				 : (float)(o->ns_since_pkt / 1000);
	x[MF_RATE_KPPS] =
	    isfinite(o->rate_pps) && o->rate_pps > 0 ? (float)(o->rate_pps / 1e3) : 0.0f;
	x[MF_RX_OCC] = o->rx_occupancy < 0 ? -1.0f : (float)o->rx_occupancy;
}

const char *model__xgb_error(void)
{
	/* the first line: XGBoost appends a stack trace that helps nobody here */
	static __thread char line[256];
	const char *e = XGBGetLastError();
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(e, "\n"), e);
	return line;
}

int model__predict_xgb(struct model *m, const float *x, float *out)
{
	bst_ulong const *shape;
	bst_ulong dim;
	const float *res;

	memcpy(m->xgb_x, x, MODEL_NFEAT * sizeof(*x));
	if (XGBoosterPredictFromDense(m->booster, m->xgb_array, predict_cfg, NULL, &shape, &dim,
				      &res))
		return -1;
	*out = res[0];
	return 0;
}

void model__free(struct model *m)
{
	if (m->booster)
		XGBoosterFree(m->booster);
	free(m->nodes);
	free(m->leaves);
	free(m->xgb_x);
	memset(m, 0, sizeof(*m));
}

/* Looks up a chain of object keys; NULL if any is missing. */
static struct json_object *jpath(struct json_object *o, const char *const *keys)
{
	for (; o && *keys; keys++)
		if (!json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, *keys, &o))
			return NULL;
	return o;
}

static const char *jstr(struct json_object *o, const char *const *keys)
{
	o = jpath(o, keys);
	return o && json_object_is_type(o, json_type_string) ? json_object_get_string(o) : NULL;
}

/* An array of numbers of exactly @n elements, else NULL. */
static struct json_object *jarray(struct json_object *tree, const char *key, size_t n)
{
	struct json_object *a;
	if (!json_object_object_get_ex(tree, key, &a) || !json_object_is_type(a, json_type_array) ||
	    json_object_array_length(a) != n)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);
		if (!json_object_is_type(e, json_type_int) &&
		    !json_object_is_type(e, json_type_double))
			return NULL;
	}
	return a;
}

static int64_t jint_at(struct json_object *a, size_t i)
{
	return json_object_get_int64(json_object_array_get_idx(a, i));
}

struct tree_src {
	struct json_object *left, *right, *feat, *cond;
	size_t n;
};

/*
 * The depth of the subtree at @i, or -1 if it is malformed: a child index
 * out of range, a feature we do not compute, or deeper than
 * MODEL_MAX_DEPTH (which also ends any cycle after 2^11 visits).
 */
static int tree_depth(const struct tree_src *t, int64_t i, unsigned level)
{
	int64_t l = jint_at(t->left, (size_t)i), r = jint_at(t->right, (size_t)i);
	double v = json_object_get_double(json_object_array_get_idx(t->cond, (size_t)i));

	if (!isfinite(v))
		return -1;
	if (l == -1 && r == -1)
		return 0;
	int64_t f = jint_at(t->feat, (size_t)i);
	if (level >= MODEL_MAX_DEPTH || l < 1 || r < 1 || (size_t)l >= t->n || (size_t)r >= t->n ||
	    f < 0 || f >= MODEL_NFEAT)
		return -1;
	int dl = tree_depth(t, l, level + 1), dr = tree_depth(t, r, level + 1);
	if (dl < 0 || dr < 0)
		return -1;
	return 1 + (dl > dr ? dl : dr);
}

/* Fills heap slot @pos (at @level) of one perfect tree from node @i. */
static void fill(const struct model *m, struct model_node *nodes, float *leaves,
		 const struct tree_src *t, int64_t i, uint32_t pos, uint32_t level, float leaf)
{
	uint32_t inner = (1u << m->depth) - 1;

	if (i >= 0 && jint_at(t->left, (size_t)i) == -1) { /* a leaf: value in split_conditions */
		leaf = (float)json_object_get_double(json_object_array_get_idx(t->cond, (size_t)i));
		i = -1;
	}
	if (level == m->depth) {
		leaves[pos - inner] = leaf;
		return;
	}
	if (i < 0) { /* filler under a shallow leaf: either way leads to its value */
		nodes[pos] = (struct model_node){ .thr = 0, .feat = 0 };
		fill(m, nodes, leaves, t, -1, 2 * pos + 1, level + 1, leaf);
		fill(m, nodes, leaves, t, -1, 2 * pos + 2, level + 1, leaf);
		return;
	}
	nodes[pos] = (struct model_node){
		.thr = (float)json_object_get_double(json_object_array_get_idx(t->cond, (size_t)i)),
		.feat = (uint32_t)jint_at(t->feat, (size_t)i),
	};
	fill(m, nodes, leaves, t, jint_at(t->left, (size_t)i), 2 * pos + 1, level + 1, 0);
	fill(m, nodes, leaves, t, jint_at(t->right, (size_t)i), 2 * pos + 2, level + 1, 0);
}

/* Checks that the document is a regression model on our features. */
static int check_learner(struct model *m, struct json_object *doc, char *err, size_t errlen)
{
	static const char *const k_obj[] = { "learner", "objective", "name", NULL };
	static const char *const k_gb[] = { "learner", "gradient_booster", "name", NULL };
	static const char *const k_feat[] = { "learner", "attributes", MODEL_ATTR_FEATURES, NULL };
	static const char *const k_target[] = { "learner", "attributes", MODEL_ATTR_TARGET, NULL };
	static const char *const k_floor[] = { "learner", "attributes", MODEL_ATTR_FLOOR, NULL };
	static const char *const k_scpu[] = { "learner", "attributes", MODEL_ATTR_SLEEP_CPU, NULL };
	static const char *const k_nf[] = { "learner", "learner_model_param", "num_feature", NULL };
	static const char *const k_nt[] = { "learner", "learner_model_param", "num_target", NULL };
	static const char *const k_nc[] = { "learner", "learner_model_param", "num_class", NULL };
	static const char *const k_base[] = { "learner", "learner_model_param", "base_score",
					      NULL };
	const char *s;
	char *end;

	if (!jpath(doc, (const char *const[]){ "learner", NULL })) {
		snprintf(err, errlen, "is JSON but not an XGBoost model (no \"learner\")");
		return -1;
	}
	s = jstr(doc, k_feat);
	if (!s || strcmp(s, MODEL_FEATURES)) {
		snprintf(err, errlen,
			 "was trained on features '%s', this build computes '%s'; retrain it with "
			 "`batchrouter train` on data from this build's `batchrouter collect`",
			 s ? s : "(not a batchrouter model)", MODEL_FEATURES);
		return -1;
	}
	s = jstr(doc, k_target);
	if (!s || strcmp(s, MODEL_TARGET)) {
		snprintf(err, errlen, "predicts '%s', the learned policy needs '%s'; retrain it",
			 s ? s : "(nothing)", MODEL_TARGET);
		return -1;
	}
	s = jstr(doc, k_nf);
	if (!s || strtol(s, &end, 10) != MODEL_NFEAT || *end) {
		snprintf(err, errlen, "has %s features, this build computes %d; retrain it",
			 s ? s : "an unknown number of", MODEL_NFEAT);
		return -1;
	}
	s = jstr(doc, k_obj);
	const char *gb = jstr(doc, k_gb), *nt = jstr(doc, k_nt), *nc = jstr(doc, k_nc);
	if (!s || strcmp(s, "reg:squarederror") || !gb || strcmp(gb, "gbtree") ||
	    (nt && strcmp(nt, "1")) || (nc && strcmp(nc, "0"))) {
		snprintf(err, errlen,
			 "is a %s/%s model with %s targets; the learned policy needs one "
			 "reg:squarederror gbtree target as `batchrouter train` writes",
			 gb ? gb : "?", s ? s : "?", nt ? nt : "?");
		return -1;
	}
	/* optional here: the policy decides what a model without them means */
	s = jstr(doc, k_floor);
	m->floor_p99_ns = s ? strtoull(s, &end, 10) : 0;
	if (s && (*end || end == s))
		m->floor_p99_ns = 0;
	s = jstr(doc, k_scpu);
	m->sleep_cpu_ns = s ? strtoull(s, &end, 10) : 0;
	if (s && (*end || end == s))
		m->sleep_cpu_ns = 0;
	s = jstr(doc, k_base);
	m->base_score = s ? strtof(s, &end) : NAN;
	if (!s || *end || !isfinite(m->base_score)) {
		snprintf(err, errlen, "has no valid base_score");
		return -1;
	}
	return 0;
}

/* Finds tree @idx's node arrays; they must all have tree_param.num_nodes entries. */
static int tree_arrays(struct json_object *tree, size_t idx, struct tree_src *t, char *err,
		       size_t errlen)
{
	static const char *const k_nn[] = { "tree_param", "num_nodes", NULL };
	const char *nn = jstr(tree, k_nn);
	struct json_object *cat;
	char *end;
	long n = nn ? strtol(nn, &end, 10) : 0;

	if (nn && !*end && n >= 1 && n <= 1 << 20) {
		t->n = (size_t)n;
		t->left = jarray(tree, "left_children", t->n);
		t->right = jarray(tree, "right_children", t->n);
		t->feat = jarray(tree, "split_indices", t->n);
		t->cond = jarray(tree, "split_conditions", t->n);
	}
	if (!t->left || !t->right || !t->feat || !t->cond) {
		snprintf(err, errlen, "tree %zu lacks its node arrays or they disagree in length",
			 idx);
		return -1;
	}
	/* categorical splits test set membership, which the walk does not do */
	if (json_object_object_get_ex(tree, "categories_nodes", &cat) &&
	    json_object_is_type(cat, json_type_array) && json_object_array_length(cat)) {
		snprintf(err, errlen,
			 "tree %zu has categorical splits, which the learned policy does not "
			 "evaluate; retrain with `batchrouter train`",
			 idx);
		return -1;
	}
	return 0;
}

/* Checks the document and flattens its trees into m->nodes and m->leaves. */
static int flatten(struct model *m, struct json_object *doc, char *err, size_t errlen)
{
	static const char *const k_trees[] = { "learner", "gradient_booster", "model", "trees",
					       NULL };
	struct json_object *trees;
	struct tree_src *src = NULL;
	size_t n_trees, total = 0, inner;
	int rc = -1;

	if (check_learner(m, doc, err, errlen))
		return -1;
	trees = jpath(doc, k_trees);
	if (!trees || !json_object_is_type(trees, json_type_array) ||
	    json_object_array_length(trees) == 0 || json_object_array_length(trees) > 100000) {
		snprintf(err, errlen, "has no trees (or more than 100000)");
		return -1;
	}
	n_trees = json_object_array_length(trees);
	src = calloc(n_trees, sizeof(*src));
	if (!src)
		goto oom;
	m->depth = 0;
	for (size_t t = 0; t < n_trees; t++) {
		if (tree_arrays(json_object_array_get_idx(trees, t), t, &src[t], err, errlen))
			goto out;
		total += src[t].n;
		int d = tree_depth(&src[t], 0, 0);
		if (d < 0) {
			snprintf(err, errlen,
				 "tree %zu is malformed or deeper than %d (child index, feature "
				 "index or depth); retrain with `batchrouter train --depth <= %d`",
				 t, MODEL_MAX_DEPTH, MODEL_MAX_DEPTH);
			goto out;
		}
		if ((uint32_t)d > m->depth)
			m->depth = (uint32_t)d;
	}
	inner = ((size_t)1 << m->depth) - 1;
	if (n_trees * (inner + 1) * (sizeof(*m->nodes) + sizeof(*m->leaves)) > MODEL_MAX_BYTES) {
		snprintf(err, errlen, "has %zu trees of depth %u, more than 64 MiB flattened",
			 n_trees, m->depth);
		goto out;
	}
	m->nodes = calloc(n_trees * inner + 1, sizeof(*m->nodes));
	m->leaves = calloc(n_trees * (inner + 1), sizeof(*m->leaves));
	if (!m->nodes || !m->leaves)
		goto oom;
	m->n_trees = (uint32_t)n_trees;
	m->n_src_nodes = (uint32_t)total;
	for (size_t t = 0; t < n_trees; t++)
		fill(m, m->nodes + t * inner, m->leaves + t * (inner + 1), &src[t], 0, 0, 0, 0);
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory for the flattened trees");
out:
	free(src);
	return rc;
}

/* Probe rows: each feature drawn from the split thresholds and their float
 * neighbours, where a different comparison would show. */
static void probe_row(const struct model *m, uint64_t *rng, float x[MODEL_NFEAT])
{
	size_t n_nodes = (size_t)m->n_trees * ((1u << m->depth) - 1);

	for (int f = 0; f < MODEL_NFEAT; f++) {
		*rng ^= *rng << 13;
		*rng ^= *rng >> 7;
		*rng ^= *rng << 17;
		const struct model_node *nd = n_nodes ? &m->nodes[*rng % n_nodes] : NULL;
		float v = nd && nd->feat == (uint32_t)f ? nd->thr : (float)(*rng % 1000) / 7.0f;
		switch ((*rng >> 20) % 3) {
		case 0:
			v = nextafterf(v, -INFINITY);
			break;
		case 1:
			v = nextafterf(v, INFINITY);
			break;
		}
		x[f] = v;
	}
}

int model__load_buffer(struct model *m, const char *buf, size_t len, const char *what, char *err,
		       size_t errlen)
{
	struct json_tokener *tok = NULL;
	struct json_object *doc = NULL;
	char why[320];
	bst_ulong nf = 0;

	memset(m, 0, sizeof(*m));
	tok = json_tokener_new();
	if (!tok) {
		snprintf(err, errlen, "model %s: out of memory", what);
		return -1;
	}
	doc = json_tokener_parse_ex(tok, buf, (int)len);
	enum json_tokener_error je = json_tokener_get_error(tok);
	if (!doc || je != json_tokener_success) {
		/* json_tokener_continue: the text ended inside a value */
		snprintf(err, errlen,
			 "model %s is not valid JSON (%s near byte %zu); it may be truncated or "
			 "not a model: retrain it with `batchrouter train`",
			 what,
			 je == json_tokener_continue ? "unexpected end"
						     : json_tokener_error_desc(je),
			 json_tokener_get_parse_end(tok));
		goto fail;
	}
	if (flatten(m, doc, why, sizeof(why))) {
		snprintf(err, errlen, "model %s %s", what, why);
		goto fail;
	}
	m->xgb_x = calloc(MODEL_NFEAT, sizeof(*m->xgb_x));
	if (!m->xgb_x) {
		snprintf(err, errlen, "model %s: out of memory", what);
		goto fail;
	}
	if (XGBoosterCreate(NULL, 0, &m->booster) ||
	    XGBoosterLoadModelFromBuffer(m->booster, buf, (bst_ulong)len) ||
	    XGBoosterSetParam(m->booster, "nthread", "1") ||
	    XGBoosterGetNumFeature(m->booster, &nf)) {
		snprintf(err, errlen, "model %s: XGBoost refuses it: %s", what, model__xgb_error());
		goto fail;
	}
	if (nf != MODEL_NFEAT) {
		snprintf(err, errlen,
			 "model %s has %lu features for XGBoost, this build computes %d", what,
			 (unsigned long)nf, MODEL_NFEAT);
		goto fail;
	}
	snprintf(m->xgb_array, sizeof(m->xgb_array),
		 "{\"data\": [%lu, true], \"shape\": [1, %d], \"typestr\": \"<f4\", "
		 "\"version\": 3}",
		 (unsigned long)(uintptr_t)m->xgb_x, MODEL_NFEAT);

	/* the data path uses one predictor, the tests and bench the other:
	 * refuse a file on which they differ */
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < N_PROBES; i++) {
		float x[MODEL_NFEAT], a, b;
		probe_row(m, &rng, x);
		a = model__predict_flat(m, x);
		if (model__predict_xgb(m, x, &b)) {
			snprintf(err, errlen, "model %s: XGBoost cannot predict with it: %s", what,
				 model__xgb_error());
			goto fail;
		}
		if (a != b) {
			snprintf(err, errlen,
				 "model %s: flattened trees predict %g where XGBoost predicts %g; "
				 "the file uses a tree feature this build cannot flatten",
				 what, (double)a, (double)b);
			goto fail;
		}
	}
	json_object_put(doc);
	json_tokener_free(tok);
	return 0;
fail:
	model__free(m);
	json_object_put(doc);
	json_tokener_free(tok);
	return -1;
}

int model__load(struct model *m, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long len;
	int rc = -1;

	memset(m, 0, sizeof(*m));
	if (!f) {
		snprintf(err, errlen,
			 "model %s: %s; train one with `batchrouter collect --out data.csv` and "
			 "`batchrouter train --data data.csv --out %s`",
			 path, strerror(errno), path);
		return -1;
	}
	if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		snprintf(err, errlen, "model %s: unable to read it: %s", path, strerror(errno));
		goto out;
	}
	if (len == 0 || (unsigned long)len > MODEL_MAX_BYTES) {
		snprintf(err, errlen, "model %s is %s; retrain it with `batchrouter train`", path,
			 len ? "larger than 64 MiB" : "empty");
		goto out;
	}
	buf = malloc((size_t)len + 1);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
		snprintf(err, errlen, "model %s: unable to read it: %s", path,
			 buf ? strerror(errno) : "out of memory");
		goto out;
	}
	buf[len] = '\0';
	rc = model__load_buffer(m, buf, (size_t)len, path, err, errlen);
out:
	free(buf);
	fclose(f);
	return rc;
}
