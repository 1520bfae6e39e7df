/*
 * The learned policy end to end without a NIC: model files that must be
 * refused (and how), a committed tiny model whose predictions are pinned
 * for both predictors, labelling, a training run that must separate two
 * loads, and the policy's caching. tests/data/tiny_model.json was written by
 * `batchrouter train --data batchrouter/tests/data/tiny.csv --out
 * batchrouter/tests/data/tiny_model.json --rounds 4 --depth 3 --threads 1`.
 */
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
	static const float want[] = { 0x1.a6ba1p+7f, 0x1.56362p+8f, 0x1.397e44p+8f, 0x1.700fc2p+7f,
				      0x1.992722p+7f };
	struct model m;
	char err[1024];
	(void)state;
	if (model__load(&m, tiny, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(m.n_trees, 4);
	assert_int_equal(m.depth, 3);
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
	snprintf(spec, sizeof(spec), "learned:model=%s,every=4", tiny);
	if (policy__init(&p, spec, NULL, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(policy__str_param(&p, "model"), tiny);
	assert_string_equal(policy__str_param(&p, "infer"), "flat");
	assert_null(policy__str_param(&p, "nope"));
	policy__fini(&p);
	policy__fini(&p);
}

/* The cache: a prediction every `every` polls and on turning idle. */
static void test_policy_caching(void **state)
{
	struct policy p;
	struct policy_obs o = { .n_hist = POLICY_HIST, .burst = 256, .rx_occupancy = 0 };
	struct policy_decision d;
	struct learned_stats st;
	char err[1024], spec[4400];
	(void)state;
	snprintf(spec, sizeof(spec), "learned:model=%s,every=4,after=2", tiny);
	if (policy__init(&p, spec, NULL, err, sizeof(err)))
		fail_msg("%s", err);
	for (int i = 0; i < POLICY_HIST; i++)
		o.hist[i] = 3;
	o.rate_pps = 10600;
	o.ns_since_pkt = 90000;
	policy__decide(&p, &o, &d); /* first: predicts */
	assert_int_equal(learned__stats(&p, &st), 0);
	assert_int_equal(st.predictions, 1);
	assert_int_equal(d.idle, IDLE_NONE); /* busy: no sleep */
	for (int i = 0; i < 4; i++)
		policy__decide(&p, &o, &d);
	learned__stats(&p, &st);
	assert_int_equal(st.predictions, 2); /* the 4th poll after */
	o.empty_polls = 1;
	policy__decide(&p, &o, &d);
	learned__stats(&p, &st);
	assert_int_equal(st.predictions, 2);
	o.empty_polls = 2; /* turning idle */
	policy__decide(&p, &o, &d);
	learned__stats(&p, &st);
	assert_int_equal(st.predictions, 3);
	assert_int_equal(d.idle, IDLE_SLEEP);
	assert_int_equal(d.ns, (uint64_t)((double)st.last_us * 1000));
	assert_true(d.ns > 0 && d.ns <= 500000);
	policy__fini(&p);

	struct policy busy;
	assert_int_equal(policy__init(&busy, "busy", NULL, err, sizeof(err)), 0);
	assert_int_equal(learned__stats(&busy, &st), -1);
	policy__fini(&busy);
}

/* Two groups that want opposite actions, and one where nothing complies. */
static const char synth_header[] =
    "run,pattern,load_pct,rate_pps,rep,sleep_us,after,f_mean_batch,f_max_batch,"
    "f_empty_polls,f_us_since_pkt,f_rate_kpps,f_rx_occ,cpu_ns_per_pkt,p99_us,lost\n";

static char *synth_csv(size_t *len)
{
	char *buf;
	FILE *f = open_memstream(&buf, len);
	uint64_t r = 1;
	assert_non_null(f);
	fputs(synth_header, f);
	for (int run = 0; run < 6; run++) {
		bool low = run < 2, bad = run >= 4;
		double sleep = run % 2 ? 400 : 0;
		/* low load: sleeping is cheap and within budget; high load: it loses */
		double cpu = low ? (sleep ? 5000 : 100000) : (sleep ? 150 : 300);
		double p99 = low ? (sleep ? 420 : 10) : (sleep ? 2000 : 20);
		unsigned lost = !low && sleep ? 5000 : 0;
		if (bad) {
			p99 = sleep ? 900 : 800;
			lost = sleep ? 10 : 3;
		}
		for (int i = 0; i < 50; i++) {
			r ^= r << 13, r ^= r >> 7, r ^= r << 17;
			double jitter = (double)(r % 100) / 100.0;
			double mean = low ? 1 + jitter : 30 + 10 * jitter;
			double rate = low ? 10 + jitter : 800 + 50 * jitter;
			fprintf(f, "%d,%s,%g,%g,0,%g,2,%g,%g,%d,%g,%g,%g,%g,%g,%u\n", run,
				bad ? "onoff" : "cbr", low ? 1.0 : 80.0, low ? 10000.0 : 800000.0,
				sleep, mean, mean * 2, low ? (int)(r % 50) : 0,
				low ? 100 + 50 * jitter : 1.0, rate, low ? 0.0 : 20 * jitter, cpu,
				p99, lost);
		}
	}
	fclose(f);
	return buf;
}

static void test_label(void **state)
{
	size_t len;
	char *csv = synth_csv(&len), err[1024];
	struct train_set s;
	FILE *f = fmemopen(csv, len, "r");
	(void)state;
	if (train__read_csv(f, "synthetic", &s, err, sizeof(err)))
		fail_msg("%s", err);
	fclose(f);
	assert_int_equal(s.n, 300);
	assert_int_equal(s.n_groups, 3);
	train__label(&s, 500);
	assert_true(s.groups[0].compliant);
	assert_true(s.groups[0].label_us == 400); /* low: sleeping is cheapest and fine */
	assert_true(s.groups[1].compliant);
	assert_true(s.groups[1].label_us == 0); /* high: sleeping loses packets */
	assert_false(s.groups[2].compliant);
	assert_true(s.groups[2].label_us == 0); /* none complies: the least loss */
	assert_true(s.y[0] == 400.0f && s.y[299] == 0.0f);
	/* a tighter budget rules the low group's sleep out */
	train__label(&s, 100);
	assert_true(s.groups[0].label_us == 0);
	train__set_free(&s);

	f = fmemopen((void *)"run,pattern\n0,cbr\n", 18, "r");
	assert_int_equal(train__read_csv(f, "bad.csv", &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad.csv has no column 'rate_pps'"));
	fclose(f);
	free(csv);
}

/* Trains on the synthetic set; the model must tell the two loads apart. */
static void test_train_separates(void **state)
{
	size_t len;
	char *csv = synth_csv(&len), err[1024], path[4400];
	struct train_set s;
	struct train_opts o = train_defaults;
	struct model m;
	FILE *f = fmemopen(csv, len, "r");
	(void)state;
	assert_int_equal(train__read_csv(f, "synthetic", &s, err, sizeof(err)), 0);
	fclose(f);
	train__label(&s, 500);
	o.rounds = 10;
	o.threads = 1;
	o.quiet = true;
	snprintf(path, sizeof(path), "%s/synth.json", tmp_dir);
	if (train__fit(&s, &o, path, err, sizeof(err)))
		fail_msg("%s", err);
	if (model__load(&m, path, err, sizeof(err)))
		fail_msg("%s", err);
	const float low[MODEL_NFEAT] = { 1.5f, 3, 20, 120, 10.5f, 0 };
	const float high[MODEL_NFEAT] = { 35, 70, 0, 1, 820, 10 };
	float pl = model__predict_flat(&m, low), ph = model__predict_flat(&m, high), x;
	assert_true(pl > 300);
	assert_true(ph < 100);
	assert_int_equal(model__predict_xgb(&m, low, &x), 0);
	assert_memory_equal(&x, &pl, sizeof(float));
	model__free(&m);
	train__set_free(&s);
	free(csv);
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
		cmocka_unit_test(test_policy_caching),
		cmocka_unit_test(test_label),
		cmocka_unit_test(test_train_separates),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
