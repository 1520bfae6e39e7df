/*
 * The learned policy end to end without a NIC: model files that must be
 * refused (and how), a committed tiny model whose predictions are pinned
 * for both predictors, reading collect's replay CSV, a training run that
 * must separate two regimes, the group k-fold split, the sleep-floor check
 * and the policy predicting at every idle decision. tests/data/tiny.csv is
 * synthetic (see its comment); tests/data/tiny_model.json was written by
 * `batchrouter train --data batchrouter/tests/data/tiny.csv --out
 * batchrouter/tests/data/tiny_model.json --rounds 4 --depth 3 --threads 1`.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <xgboost/c_api.h>

#include "collect.h"
#include "learned.h"
#include "model.h"
#include "policy.h"
#include "train.h"

static char data_dir[4200], tiny[4300], tmp_dir[] = "/tmp/br_learned.XXXXXX";

/* The data directory from the repository root (tests/run's cwd), else
 * relative to the binary (build/tests/..). */
static int setup(void **state)
{
	char exe[4000];
	ssize_t n;
	(void)state;
	if (getenv("BR_TEST_DATA")) {
		snprintf(data_dir, sizeof(data_dir), "%s", getenv("BR_TEST_DATA"));
	} else if (access("batchrouter/tests/data/tiny_model.json", R_OK) == 0) {
		snprintf(data_dir, sizeof(data_dir), "batchrouter/tests/data");
	} else if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0';
		snprintf(data_dir, sizeof(data_dir), "%s/../../batchrouter/tests/data", exe);
	}
	snprintf(tiny, sizeof(tiny), "%s/tiny_model.json", data_dir);
	if (access(tiny, R_OK)) {
		fprintf(stderr,
			"# %s not found; run from the repository root or set BR_TEST_DATA\n", tiny);
		return -1;
	}
	return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
	return system(cmd) ? -1 : 0;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	*len = (size_t)ftell(f);
	rewind(f);
	char *b = malloc(*len + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, *len, f), *len);
	b[*len] = '\0';
	fclose(f);
	return b;
}

static const char *write_tmp(const char *name, const char *buf, size_t len)
{
	static char path[4400];
	snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void expect_load_error(const char *path, const char *want)
{
	struct model m;
	char err[1024] = "";
	assert_int_equal(model__load(&m, path, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("error '%s' lacks '%s'", err, want);
	assert_null(m.booster);
	assert_null(m.nodes);
}

static void test_model_missing(void **state)
{
	(void)state;
	expect_load_error("/nonexistent/model.json", "No such file or directory");
	expect_load_error("/nonexistent/model.json", "batchrouter train --data");
	expect_load_error(write_tmp("empty.json", "", 0), "is empty");
}

static void test_model_corrupt(void **state)
{
	size_t len;
	char *b = slurp(tiny, &len);
	(void)state;
	expect_load_error(write_tmp("half.json", b, len / 2), "is not valid JSON (unexpected end");
	expect_load_error(write_tmp("text.json", "model v1\n", 9), "is not valid JSON");
	expect_load_error(write_tmp("other.json", "{\"a\": 1}", 8), "not an XGBoost model");
	free(b);
}

/* Edits the tiny model's JSON, then expects @want from the load. */
static void expect_edited(const char *want, void (*edit)(struct json_object *))
{
	struct json_object *doc = json_object_from_file(tiny);
	assert_non_null(doc);
	edit(doc);
	const char *s = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	expect_load_error(write_tmp("edited.json", s, strlen(s)), want);
	json_object_put(doc);
}

static struct json_object *get(struct json_object *o, const char *const *keys)
{
	for (; *keys; keys++)
		assert_true(json_object_object_get_ex(o, *keys, &o));
	return o;
}

static struct json_object *tree0(struct json_object *doc)
{
	static const char *const k[] = { "learner", "gradient_booster", "model", "trees", NULL };
	return json_object_array_get_idx(get(doc, k), 0);
}

static void edit_features(struct json_object *doc)
{
	static const char *const k[] = { "learner", "attributes", NULL };
	json_object_object_add(get(doc, k), MODEL_ATTR_FEATURES,
			       json_object_new_string("mean_batch,rate_kpps"));
}

static void edit_objective(struct json_object *doc)
{
	static const char *const k[] = { "learner", "objective", NULL };
	json_object_object_add(get(doc, k), "name", json_object_new_string("multi:softprob"));
}

static void edit_cycle(struct json_object *doc)
{
	struct json_object *l;
	assert_true(json_object_object_get_ex(tree0(doc), "left_children", &l));
	json_object_array_put_idx(l, 1, json_object_new_int(0)); /* node 1 points at the root */
	struct json_object *r;
	assert_true(json_object_object_get_ex(tree0(doc), "right_children", &r));
	json_object_array_put_idx(r, 1, json_object_new_int(2));
}

static void edit_feature_index(struct json_object *doc)
{
	struct json_object *f;
	assert_true(json_object_object_get_ex(tree0(doc), "split_indices", &f));
	json_object_array_put_idx(f, 0, json_object_new_int(MODEL_NFEAT + 3));
}

static void edit_short_array(struct json_object *doc)
{
	struct json_object *c;
	assert_true(json_object_object_get_ex(tree0(doc), "split_conditions", &c));
	json_object_array_del_idx(c, 0, 1);
}

static void test_model_incompatible(void **state)
{
	(void)state;
	expect_edited("was trained on features 'mean_batch,rate_kpps'", edit_features);
	expect_edited("needs one reg:squarederror gbtree target", edit_objective);
	expect_edited("tree 0 is malformed", edit_cycle);
	expect_edited("tree 0 is malformed", edit_feature_index);
	expect_edited("tree 0 lacks its node arrays", edit_short_array);
}

/* A genuine XGBoost model on 5 features, labelled as ours otherwise. */
static void test_model_wrong_feature_count(void **state)
{
	float x[40 * 5], y[40];
	DMatrixHandle d;
	BoosterHandle b;
	bst_ulong len;
	const char *buf;
	(void)state;
	for (int i = 0; i < 40; i++) {
		for (int f = 0; f < 5; f++)
			x[i * 5 + f] = (float)((i * 7 + f * 3) % 11);
		y[i] = x[i * 5] > 5 ? 400.0f : 0.0f;
	}
	assert_int_equal(XGDMatrixCreateFromMat(x, 40, 5, -1e30f, &d), 0);
	assert_int_equal(XGDMatrixSetFloatInfo(d, "label", y, 40), 0);
	assert_int_equal(XGBoosterCreate(&d, 1, &b), 0);
	assert_int_equal(XGBoosterSetParam(b, "nthread", "1"), 0);
	assert_int_equal(XGBoosterUpdateOneIter(b, 0, d), 0);
	assert_int_equal(XGBoosterSetAttr(b, MODEL_ATTR_FEATURES, MODEL_FEATURES), 0);
	assert_int_equal(XGBoosterSetAttr(b, MODEL_ATTR_TARGET, MODEL_TARGET), 0);
	assert_int_equal(XGBoosterSaveModelToBuffer(b, "{\"format\": \"json\"}", &len, &buf), 0);
	expect_load_error(write_tmp("five.json", buf, len),
			  "has 5 features, this build computes 6");
	XGBoosterFree(b);
	XGDMatrixFree(d);
}

/* Pinned: the committed model's predictions, bit for bit, on both paths. */
static void test_tiny_model_predictions(void **state)
{
	static const float v[][MODEL_NFEAT] = {
		{ 0, 0, 100, 1e6f, 0, 0 }, { 1.5f, 4, 0, 90, 10.6f, 0 },
		{ 30, 64, 0, 5, 100, 12 }, { 128, 256, 0, 1, 500, 300 },
		{ 2, 8, 3, 400, 480, 2 },
	};
	static const float want[] = { 0x1.6f1566p+6f, 0x1.03138ap+7f, 0x1.03138ap+7f,
				      0x1.0f3b62p+4f, 0x1.03138ap+7f };
	struct model m;
	char err[1024];
	(void)state;
	if (model__load(&m, tiny, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(m.n_trees, 4);
	assert_int_equal(m.depth, 2);
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		float flat = model__predict_flat(&m, v[i]), xgb;
		assert_int_equal(model__predict_xgb(&m, v[i], &xgb), 0);
		assert_memory_equal(&flat, &want[i], sizeof(float));
		assert_memory_equal(&xgb, &want[i], sizeof(float));
	}
	/* and on many rows the two agree exactly */
	uint64_t r = 88172645463325252ull;
	for (int i = 0; i < 2000; i++) {
		float x[MODEL_NFEAT], a, b;
		for (int f = 0; f < MODEL_NFEAT; f++) {
			r ^= r << 13, r ^= r >> 7, r ^= r << 17;
			x[f] = (float)(r % 100000) / 100.0f;
		}
		a = model__predict_flat(&m, x);
		assert_int_equal(model__predict_xgb(&m, x, &b), 0);
		assert_memory_equal(&a, &b, sizeof(float));
	}
	model__free(&m);
}

static void test_features(void **state)
{
	struct policy_obs o = { .hist = { 4, 0, 8 },
				.n_hist = 3,
				.empty_polls = 0,
				.ns_since_pkt = UINT64_MAX,
				.rate_pps = 12500,
				.rx_occupancy = -1 };
	float x[MODEL_NFEAT];
	(void)state;
	model__features(&o, x);
	assert_true(x[MF_MEAN_BATCH] == 4.0f);
	assert_true(x[MF_MAX_BATCH] == 8.0f);
	assert_true(x[MF_EMPTY_POLLS] == 0.0f);
	assert_true(x[MF_US_SINCE_PKT] == 1e6f); /* never: the cap */
	assert_true(x[MF_RATE_KPPS] == 12.5f);
	assert_true(x[MF_RX_OCC] == -1.0f);
}

static void test_policy_init(void **state)
{
	struct policy p;
	char err[1024], spec[4400];
	(void)state;
	assert_int_equal(policy__init(&p, "learned", NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "needs model=PATH"));
	assert_int_equal(
	    policy__init(&p, "learned:model=/nonexistent.json", NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "policy learned: model /nonexistent.json: No such file"));
	snprintf(spec, sizeof(spec), "learned:model=%s,infer=gpu", tiny);
	assert_int_equal(policy__init(&p, spec, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "infer=gpu is not flat or xgb"));
	/* fallback: the heuristic runs instead, with its own defaults */
	assert_int_equal(policy__init(&p, "learned:model=/nonexistent.json,fallback=ovs", NULL, err,
				      sizeof(err)),
			 0);
	assert_string_equal(p.ops->name, "ovs");
	policy__fini(&p);
	assert_int_equal(
	    policy__init(&p, "learned:model=/no.json,fallback=learned", NULL, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "names the policy itself"));
	/* a loaded model, released by fini (ASan checks the release) */
	snprintf(spec, sizeof(spec), "learned:model=%s,after=4", tiny);
	if (policy__init(&p, spec, NULL, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(policy__str_param(&p, "model"), tiny);
	assert_string_equal(policy__str_param(&p, "infer"), "flat");
	assert_null(policy__str_param(&p, "nope"));
	policy__fini(&p);
	policy__fini(&p);
}

/* A prediction at every decision with empty_polls >= after, and at no other. */
static void test_policy_predicts_when_idle(void **state)
{
	struct policy p;
	struct policy_obs o = { .n_hist = POLICY_HIST, .burst = 256, .rx_occupancy = 0 };
	struct policy_decision d;
	struct learned_stats st;
	char err[1024], spec[4400];
	(void)state;
	snprintf(spec, sizeof(spec), "learned:model=%s,after=2", tiny);
	if (policy__init(&p, spec, NULL, err, sizeof(err)))
		fail_msg("%s", err);
	for (int i = 0; i < POLICY_HIST; i++)
		o.hist[i] = 1;
	o.rate_pps = 10600;
	o.ns_since_pkt = 140000;
	for (int i = 0; i < 5; i++) {
		o.empty_polls = i % 2; /* busy: poll again, no prediction */
		policy__decide(&p, &o, &d);
		assert_int_equal(d.idle, IDLE_NONE);
		assert_int_equal(d.burst, 256);
	}
	assert_int_equal(learned__stats(&p, &st), 0);
	assert_int_equal(st.predictions, 0);
	for (uint64_t e = 2; e < 6; e++) {
		o.empty_polls = e; /* each idle decision: a fresh prediction */
		o.ns_since_pkt += 10000;
		policy__decide(&p, &o, &d);
		learned__stats(&p, &st);
		assert_int_equal(st.predictions, e - 1);
		assert_true(st.last_us >= 1.0f); /* a light load: the tiny model sleeps */
		assert_int_equal(d.idle, IDLE_SLEEP);
		assert_int_equal(d.ns, (uint64_t)((double)st.last_us * 1000));
		assert_true(d.ns > 0 && d.ns <= 500000);
	}
	policy__fini(&p);

	/* max_us clamps; under 1 us is no sleep */
	snprintf(spec, sizeof(spec), "learned:model=%s,after=0,max_us=5", tiny);
	if (policy__init(&p, spec, NULL, err, sizeof(err)))
		fail_msg("%s", err);
	policy__decide(&p, &o, &d);
	assert_int_equal(d.idle, IDLE_SLEEP);
	assert_int_equal(d.ns, 5000);
	for (int i = 0; i < POLICY_HIST; i++)
		o.hist[i] = 40;
	o.empty_polls = 0;
	o.ns_since_pkt = 1000;
	o.rate_pps = 900000;
	o.rx_occupancy = 30;
	policy__decide(&p, &o, &d);
	learned__stats(&p, &st);
	assert_int_equal(st.predictions, 2);
	assert_true(st.last_us < 1.0f ? d.idle == IDLE_NONE : d.idle == IDLE_SLEEP);
	policy__fini(&p);

	struct policy busy;
	assert_int_equal(policy__init(&busy, "busy", NULL, err, sizeof(err)), 0);
	assert_int_equal(learned__stats(&busy, &st), -1);
	policy__fini(&busy);
}

/* A copy of the tiny model with its floor attribute set to @floor (NULL: removed). */
static const char *model_with_floor(const char *name, const char *floor)
{
	static const char *const k[] = { "learner", "attributes", NULL };
	struct json_object *doc = json_object_from_file(tiny);
	assert_non_null(doc);
	if (floor)
		json_object_object_add(get(doc, k), MODEL_ATTR_FLOOR,
				       json_object_new_string(floor));
	else
		json_object_object_del(get(doc, k), MODEL_ATTR_FLOOR);
	const char *s = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	const char *path = write_tmp(name, s, strlen(s));
	json_object_put(doc);
	return path;
}

/* A model from a host whose wake-ups overshoot differently is refused. */
static void test_floor_check(void **state)
{
	struct policy p;
	struct policy_caps caps = { .max_burst = 256, .floor_p99_ns = 60000 };
	char err[1024], spec[4600];
	(void)state;
	/* 200 us there, 60 us here: refused, and the fallback takes over */
	snprintf(spec, sizeof(spec), "learned:model=%s", model_with_floor("far.json", "200000"));
	assert_int_equal(policy__init(&p, spec, &caps, err, sizeof(err)), -1);
	if (!strstr(err, "trained where a wake-up overshoots 200.0 us at p99; here 60.0 us"))
		fail_msg("%s", err);
	assert_non_null(strstr(err, "collect and train on this host"));
	snprintf(spec, sizeof(spec), "learned:model=%s,fallback=fixed",
		 model_with_floor("far.json", "200000"));
	assert_int_equal(policy__init(&p, spec, &caps, err, sizeof(err)), 0);
	assert_string_equal(p.ops->name, "fixed");
	policy__fini(&p);
	/* 75 us there: within the 20 us tolerance */
	snprintf(spec, sizeof(spec), "learned:model=%s", model_with_floor("near.json", "75000"));
	if (policy__init(&p, spec, &caps, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(p.ops->name, "learned");
	policy__fini(&p);
	/* 85 us is not, unless the tolerance is widened */
	snprintf(spec, sizeof(spec), "learned:model=%s", model_with_floor("mid.json", "85000"));
	assert_int_equal(policy__init(&p, spec, &caps, err, sizeof(err)), -1);
	snprintf(spec, sizeof(spec), "learned:model=%s,floor_tol_us=30",
		 model_with_floor("mid.json", "85000"));
	if (policy__init(&p, spec, &caps, err, sizeof(err)))
		fail_msg("%s", err);
	policy__fini(&p);
	/* this host's floor unknown: nothing to compare */
	snprintf(spec, sizeof(spec), "learned:model=%s", model_with_floor("far.json", "200000"));
	if (policy__init(&p, spec, NULL, err, sizeof(err)))
		fail_msg("%s", err);
	policy__fini(&p);
	/* no floor recorded: refused wherever it runs */
	snprintf(spec, sizeof(spec), "learned:model=%s", model_with_floor("old.json", NULL));
	assert_int_equal(policy__init(&p, spec, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "trained before the floor was recorded"));
	assert_non_null(strstr(err, "retrain"));
	assert_int_equal(policy__init(&p, spec, &caps, err, sizeof(err)), -1);
}

#define CANDS "0,10,20,50,100,150,200"
static const double cands[] = { 0, 10, 20, 50, 100, 150, 200 };
#define NCANDS (sizeof(cands) / sizeof(cands[0]))

/*
 * Rows in collect's replay format, columns deliberately out of the
 * documented order. Two regimes: light load (a few kpps, long gaps) where
 * every candidate up to 150 us meets the budget and the label is 150; heavy
 * load (hundreds of kpps, full batches) where only 0 does. Each candidate's
 * CPU falls with its sleep, so the label is the cheapest that met it.
 */
static char *synth_csv(size_t *len)
{
	char *buf;
	FILE *f = open_memstream(&buf, len);
	uint64_t r = 1;
	assert_non_null(f);
	fputs("# a comment\nlabel_us,pattern,load_pct,f_rate_kpps,f_mean_batch,f_max_batch,"
	      "f_empty_polls,f_us_since_pkt,f_rx_occ,label_ok,floor_p99_ns,sleep_cpu_ns,window",
	      f);
	/* the candidate columns in descending order: train sorts them */
	for (int c = NCANDS - 1; c >= 0; c--)
		fprintf(f, ",ok_s%g,cpu_s%g", cands[c], cands[c]);
	fputc('\n', f);
	static const char *const patterns[] = { "cbr", "onoff", "poisson" };
	static const double loads[] = { 1, 5, 10, 60, 80, 95 };
	for (int pi = 0; pi < 3; pi++)
		for (int li = 0; li < 6; li++)
			for (int w = 0; w < 30; w++) {
				bool low = loads[li] < 50;
				double lab = low ? 150 : 0;
				r ^= r << 13, r ^= r >> 7, r ^= r << 17;
				double j = (double)(r % 100) / 100.0;
				double mean = low ? 1 + j : 30 + 10 * j;
				double kpps = low ? 5 + 10 * j : 600 + 300 * j;
				fprintf(f, "%g,%s,%g,%g,%g,%g,%d,%g,%g,1,%d,15000,%d", lab,
					patterns[pi], loads[li], kpps, mean, 2 * mean,
					low ? (int)(r % 50) + 2 : 2, low ? 100 + 50 * j : 1 + j,
					low ? 0.0 : 20 * j, w % 2 ? 61000 : 59000, w);
				for (int c = NCANDS - 1; c >= 0; c--)
					fprintf(f, ",%d,%.0f", cands[c] <= lab,
						1e6 / (1 + cands[c] / 100));
				fputc('\n', f);
			}
	fclose(f);
	return buf;
}

static void read_synth(struct train_set *s)
{
	size_t len;
	char *csv = synth_csv(&len), err[1024];
	FILE *f = fmemopen(csv, len, "r");
	assert_non_null(f);
	if (train__read_csv(f, "synthetic", s, err, sizeof(err)))
		fail_msg("%s", err);
	fclose(f);
	free(csv);
}

static void expect_csv_error(const char *csv, const char *want)
{
	struct train_set s;
	char err[1024] = "";
	FILE *f = fmemopen((void *)csv, strlen(csv), "r");
	assert_non_null(f);
	assert_int_equal(train__read_csv(f, "bad.csv", &s, err, sizeof(err)), -1);
	fclose(f);
	if (!strstr(err, want))
		fail_msg("error '%s' lacks '%s'", err, want);
}

#define GOOD_HEAD                                                                                  \
	"pattern,load_pct,f_mean_batch,f_max_batch,f_empty_polls,f_us_since_pkt,f_rate_kpps,"      \
	"f_rx_occ,label_us,label_ok,floor_p99_ns,sleep_cpu_ns,cpu_s0,ok_s0,cpu_s50,ok_s50\n"

static void test_read_csv(void **state)
{
	struct train_set s;
	(void)state;
	read_synth(&s);
	assert_int_equal(s.n, 3 * 6 * 30);
	assert_int_equal(s.n_groups, 18);
	assert_int_equal(s.n_cand, NCANDS);
	for (unsigned c = 0; c < NCANDS; c++)
		assert_true(s.cand_us[c] == cands[c]);
	assert_int_equal(s.floor_p99_ns, 60000); /* median of 59 and 61 us */
	assert_int_equal(s.sleep_cpu_ns, 15000);
	assert_true(s.y[0] == 150.0f);
	assert_int_equal(s.lab[0], 5);
	assert_true(s.cpu[0 * NCANDS + 6] == 333333);
	assert_int_equal(s.cand_ok[0 * NCANDS + 6], 0);
	assert_int_equal(s.cand_ok[0 * NCANDS + 5], 1);
	train__set_free(&s);

	expect_csv_error("", "bad.csv is empty");
	expect_csv_error("run,pattern\n0,cbr\n", "bad.csv has no column 'load_pct'");
	expect_csv_error(GOOD_HEAD, "has a header but no rows");
	expect_csv_error(GOOD_HEAD "cbr,1,1,1,1,1,1,1,20,1,60000,15000,1,1,1,1\n",
			 "label_us 20 is none of the candidates");
	expect_csv_error(GOOD_HEAD "cbr,1,1,1,1,1,1,1,0,1,60000,15000,1,1,1\n",
			 "fewer fields where the header has 16");
	expect_csv_error(GOOD_HEAD "cbr,1,1,1,1,1,1,1,0,1,60000,15000,1,2,1,1\n",
			 "is not a CPU time in ns and 0 or 1");
	expect_csv_error(GOOD_HEAD "cbr,1,1,1,1,1,1,1,0,1,0,15000,1,1,1,1\n",
			 "records no nanosleep floor");
	expect_csv_error("pattern,load_pct,f_mean_batch,f_max_batch,f_empty_polls,"
			 "f_us_since_pkt,f_rate_kpps,f_rx_occ,label_us,label_ok,floor_p99_ns,"
			 "sleep_cpu_ns,cpu_s0,ok_s0,cpu_s50\n",
			 "has cpu_s50 but no ok_s50");
}

/* Trains on the synthetic set; the model must tell the two regimes apart. */
static void test_train_separates(void **state)
{
	char err[1024], path[4400];
	struct train_set s;
	struct train_opts o = train_defaults;
	struct model m;
	(void)state;
	read_synth(&s);
	o.rounds = 10;
	o.threads = 1;
	o.quiet = true;
	snprintf(path, sizeof(path), "%s/synth.json", tmp_dir);
	if (train__fit(&s, NULL, &o, path, err, sizeof(err)))
		fail_msg("%s", err);
	if (model__load(&m, path, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(m.floor_p99_ns, 60000);
	assert_int_equal(m.sleep_cpu_ns, 15000);
	const float low[MODEL_NFEAT] = { 1.5f, 3, 20, 120, 10.5f, 0 };
	const float high[MODEL_NFEAT] = { 35, 70, 2, 1, 820, 10 };
	float pl = model__predict_flat(&m, low), ph = model__predict_flat(&m, high), x;
	assert_true(pl > 100);
	assert_true(ph < 10);
	assert_int_equal(model__predict_xgb(&m, low, &x), 0);
	assert_memory_equal(&x, &pl, sizeof(float));
	/* replay regret of its own predictions: the label's CPU, no misses */
	struct train_eval e = { 0 };
	for (size_t i = 0; i < s.n; i++)
		train__eval_add(&s, i, model__predict_flat(&m, &s.x[i * MODEL_NFEAT]), &e);
	assert_int_equal(e.rows, s.n);
	assert_int_equal(e.missed, 0);
	assert_true(fabs(e.cpu_chosen / e.cpu_label - 1) < 1e-9);
	model__free(&m);
	/* the nearest candidate, rounded as the policy rounds */
	assert_int_equal(train__nearest(&s, 0.9f), 0);
	assert_int_equal(train__nearest(&s, 4.9f), 0);
	assert_int_equal(train__nearest(&s, 5.0f), 0); /* a tie: the shorter */
	assert_int_equal(train__nearest(&s, 140), 5);
	assert_int_equal(train__nearest(&s, 900), 6);
	train__set_free(&s);
}

/* No group on both sides of a fold; every group held out exactly once. */
static void test_kfold_groups_apart(void **state)
{
	struct train_set s;
	unsigned fold_of[18], again[18];
	(void)state;
	read_synth(&s);
	bool *rows = calloc(s.n, sizeof(*rows));
	assert_non_null(rows);
	assert_int_equal(train__kfold_assign(&s, 1, fold_of), -1);
	assert_int_equal(train__kfold_assign(&s, 19, fold_of), -1);
	for (unsigned k = 2; k <= 6; k++) {
		unsigned held[18] = { 0 };
		assert_int_equal(train__kfold_assign(&s, k, fold_of), 0);
		for (unsigned fold = 0; fold < k; fold++) {
			int side[18];
			size_t n_held = 0;
			for (int g = 0; g < 18; g++)
				side[g] = -1;
			train__fold_rows(&s, fold_of, fold, rows);
			for (size_t i = 0; i < s.n; i++) {
				unsigned g = s.grp[i];
				if (side[g] >= 0 && side[g] != rows[i])
					fail_msg("k=%u fold %u: group %u on both sides", k, fold,
						 g);
				side[g] = rows[i];
				n_held += !rows[i];
			}
			assert_true(n_held > 0 && n_held < s.n);
			for (int g = 0; g < 18; g++)
				held[g] += side[g] == 0;
		}
		for (int g = 0; g < 18; g++)
			assert_int_equal(held[g], 1);
	}
	/* the rule: sorted by (pattern, load), dealt round-robin */
	assert_int_equal(train__kfold_assign(&s, 4, fold_of), 0);
	for (size_t g = 0; g < s.n_groups; g++) {
		const struct train_group *x = &s.groups[g];
		unsigned rank = 0;
		for (size_t h = 0; h < s.n_groups; h++) {
			const struct train_group *y = &s.groups[h];
			int c = strcmp(y->pattern, x->pattern);
			rank += c < 0 || (c == 0 && y->load_pct < x->load_pct);
		}
		assert_int_equal(fold_of[g], rank % 4);
	}
	/* a held-out fold mixes light and heavy loads */
	bool light = false, heavy = false;
	for (size_t g = 0; g < s.n_groups; g++)
		if (fold_of[g] == 0)
			*(s.groups[g].load_pct < 50 ? &light : &heavy) = true;
	assert_true(light && heavy);
	assert_int_equal(train__kfold_assign(&s, 4, again), 0);
	assert_memory_equal(fold_of, again, sizeof(fold_of));
	free(rows);
	train__set_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_missing),
		cmocka_unit_test(test_model_corrupt),
		cmocka_unit_test(test_model_incompatible),
		cmocka_unit_test(test_model_wrong_feature_count),
		cmocka_unit_test(test_tiny_model_predictions),
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_policy_init),
		cmocka_unit_test(test_policy_predicts_when_idle),
		cmocka_unit_test(test_floor_check),
		cmocka_unit_test(test_read_csv),
		cmocka_unit_test(test_train_separates),
		cmocka_unit_test(test_kfold_groups_apart),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
