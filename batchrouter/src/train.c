/*
 * Training: CSV in, labels per group, XGBoost regression, JSON model out,
 * then the model is loaded back exactly as the policy loads it, so a file
 * train writes is a file the policy accepts. Also the inference benchmark
 * that chose the data path's predictor.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xgboost/c_api.h>

#include "learned.h"
#include "run.h"
#include "stats.h"
#include "train.h"

const struct train_opts train_defaults = { .rounds = 30,
					   .depth = 4,
					   .threads = 2,
					   .eta = 0.3,
					   .seed = 0,
					   .budget_us = RUN_LATENCY_BUDGET_NS / 1e3 };

void train__set_free(struct train_set *s)
{
	free(s->x);
	free(s->y);
	free(s->grp);
	free(s->groups);
	memset(s, 0, sizeof(*s));
}

enum { C_RUN, C_PATTERN, C_RATE, C_SLEEP, C_CPU, C_P99, C_LOST, C__FIXED };
static const char *const fixed_cols[C__FIXED] = { "run",      "pattern",	"rate_pps",
						  "sleep_us", "cpu_ns_per_pkt", "p99_us",
						  "lost" };

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 1024;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * elem);
	if (!q)
		return -1;
	*p = q;
	*cap = n;
	return 0;
}

static int add_row(struct train_set *s)
{
	size_t cap = s->cap;
	if (s->n < s->cap)
		return 0;
	if (grow((void **)&s->x, &cap, s->n + 1, sizeof(float) * MODEL_NFEAT))
		return -1;
	cap = s->cap;
	if (grow((void **)&s->y, &cap, s->n + 1, sizeof(float)))
		return -1;
	cap = s->cap;
	if (grow((void **)&s->grp, &cap, s->n + 1, sizeof(unsigned)))
		return -1;
	s->cap = cap;
	return 0;
}

/* The group of (pattern, rate), created on first sight; -1: out of memory. */
static long find_group(struct train_set *s, const char *pattern, double rate)
{
	for (size_t g = 0; g < s->n_groups; g++)
		if (s->groups[g].rate_pps == rate && !strcmp(s->groups[g].pattern, pattern))
			return (long)g;
	if (grow((void **)&s->groups, &s->cap_groups, s->n_groups + 1, sizeof(*s->groups)))
		return -1;
	struct train_group *g = &s->groups[s->n_groups];
	memset(g, 0, sizeof(*g));
	snprintf(g->pattern, sizeof(g->pattern), "%s", pattern);
	g->rate_pps = rate;
	return (long)s->n_groups++;
}

/* Folds one run's outcome into its group's action. */
static int add_run(struct train_group *g, double sleep_us, double cpu, double p99, uint64_t lost)
{
	unsigned a;
	for (a = 0; a < g->n_act; a++)
		if (g->act[a].sleep_us == sleep_us)
			break;
	if (a == g->n_act) {
		if (g->n_act == TRAIN_MAX_ACTIONS)
			return -1;
		g->act[g->n_act++] = (struct train_action){ .sleep_us = sleep_us };
	}
	struct train_action *t = &g->act[a];
	t->cpu_ns_per_pkt += (cpu - t->cpu_ns_per_pkt) / ++t->runs; /* running mean */
	if (p99 > t->p99_us)
		t->p99_us = p99;
	t->lost += lost;
	return 0;
}

static int header(char *line, int *col, int *fcol, char *err, size_t errlen, const char *what)
{
	int i = 0;
	for (int c = 0; c < C__FIXED; c++)
		col[c] = -1;
	for (int f = 0; f < MODEL_NFEAT; f++)
		fcol[f] = -1;
	for (char *save = NULL, *t = strtok_r(line, ",\r\n", &save); t;
	     t = strtok_r(NULL, ",\r\n", &save), i++) {
		for (int c = 0; c < C__FIXED; c++)
			if (!strcmp(t, fixed_cols[c]))
				col[c] = i;
		for (int f = 0; f < MODEL_NFEAT; f++)
			if (!strncmp(t, "f_", 2) && !strcmp(t + 2, model_feature_names[f]))
				fcol[f] = i;
	}
	for (int c = 0; c < C__FIXED; c++)
		if (col[c] < 0) {
			snprintf(
			    err, errlen,
			    "%s has no column '%s'; is it the output of `batchrouter collect`?",
			    what, fixed_cols[c]);
			return -1;
		}
	for (int f = 0; f < MODEL_NFEAT; f++)
		if (fcol[f] < 0) {
			snprintf(
			    err, errlen,
			    "%s has no feature column 'f_%s': it was collected by a build with "
			    "other features (%s); collect again",
			    what, model_feature_names[f], MODEL_FEATURES);
			return -1;
		}
	return i;
}

int train__read_csv(FILE *f, const char *what, struct train_set *s, char *err, size_t errlen)
{
	char *line = NULL, *fields[64];
	size_t cap = 0;
	int col[C__FIXED], fcol[MODEL_NFEAT], ncol, rc = -1;
	long last_run = -1, lineno = 1;
	unsigned *seen = NULL;
	size_t n_seen = 0, cap_seen = 0;

	memset(s, 0, sizeof(*s));
	if (getline(&line, &cap, f) < 0) {
		snprintf(err, errlen, "%s is empty; run `batchrouter collect --out %s`", what,
			 what);
		goto out;
	}
	ncol = header(line, col, fcol, err, errlen, what);
	if (ncol < 0)
		goto out;
	if (ncol > 64) {
		snprintf(err, errlen, "%s has %d columns, more than 64", what, ncol);
		goto out;
	}
	while (getline(&line, &cap, f) > 0) {
		int n = 0;
		char *p = line, *end;
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (!*line)
			continue;
		while (p && n < 64)
			fields[n++] = strsep(&p, ",");
		if (n != ncol) {
			snprintf(err, errlen, "%s:%ld: %d fields where the header has %d", what,
				 lineno, n, ncol);
			goto out;
		}
		double v[C__FIXED];
		for (int c = 0; c < C__FIXED; c++) {
			if (c == C_PATTERN)
				continue;
			v[c] = strtod(fields[col[c]], &end);
			if (end == fields[col[c]] || *end || !isfinite(v[c])) {
				snprintf(err, errlen, "%s:%ld: %s '%s' is not a number", what,
					 lineno, fixed_cols[c], fields[col[c]]);
				goto out;
			}
		}
		if (strlen(fields[col[C_PATTERN]]) >= sizeof(s->groups[0].pattern)) {
			snprintf(err, errlen, "%s:%ld: pattern '%s' is longer than %zu characters",
				 what, lineno, fields[col[C_PATTERN]],
				 sizeof(s->groups[0].pattern) - 1);
			goto out;
		}
		long g = find_group(s, fields[col[C_PATTERN]], v[C_RATE]);
		if (g < 0 || add_row(s))
			goto oom;
		for (int k = 0; k < MODEL_NFEAT; k++) {
			double x = strtod(fields[fcol[k]], &end);
			if (end == fields[fcol[k]] || *end || !isfinite(x)) {
				snprintf(err, errlen, "%s:%ld: f_%s '%s' is not a number", what,
					 lineno, model_feature_names[k], fields[fcol[k]]);
				goto out;
			}
			s->x[s->n * MODEL_NFEAT + k] = (float)x;
		}
		s->grp[s->n] = (unsigned)g;
		s->y[s->n++] = 0;
		/* a run's outcome repeats on each of its rows: count it once */
		if ((long)v[C_RUN] == last_run)
			continue;
		last_run = (long)v[C_RUN];
		size_t i;
		for (i = 0; i < n_seen && seen[i] != (unsigned)last_run; i++)
			;
		if (i < n_seen)
			continue;
		if (grow((void **)&seen, &cap_seen, n_seen + 1, sizeof(*seen)))
			goto oom;
		seen[n_seen++] = (unsigned)last_run;
		if (add_run(&s->groups[g], v[C_SLEEP], v[C_CPU], v[C_P99],
			    v[C_LOST] > 0 ? (uint64_t)v[C_LOST] : 0)) {
			snprintf(err, errlen, "%s: group %s %.0f pps has more than %d actions",
				 what, fields[col[C_PATTERN]], v[C_RATE], TRAIN_MAX_ACTIONS);
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error: %s", what, strerror(errno));
		goto out;
	}
	if (!s->n) {
		snprintf(err, errlen, "%s has a header but no rows; collect again", what);
		goto out;
	}
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "%s: out of memory at line %ld", what, lineno);
out:
	free(line);
	free(seen);
	if (rc)
		train__set_free(s);
	return rc;
}

void train__label(struct train_set *s, double budget_us)
{
	for (size_t gi = 0; gi < s->n_groups; gi++) {
		struct train_group *g = &s->groups[gi];
		const struct train_action *best = NULL;
		for (unsigned a = 0; a < g->n_act; a++) {
			const struct train_action *t = &g->act[a];
			if (t->lost || t->p99_us > budget_us)
				continue;
			if (!best || t->cpu_ns_per_pkt < best->cpu_ns_per_pkt ||
			    (t->cpu_ns_per_pkt == best->cpu_ns_per_pkt &&
			     t->sleep_us < best->sleep_us))
				best = t;
		}
		g->compliant = best != NULL;
		/* nothing met the budget: the least loss, then the lowest p99 */
		for (unsigned a = 0; !g->compliant && a < g->n_act; a++) {
			const struct train_action *t = &g->act[a];
			if (!best || t->lost < best->lost ||
			    (t->lost == best->lost && t->p99_us < best->p99_us))
				best = t;
		}
		g->label_us = best ? best->sleep_us : 0;
	}
	for (size_t i = 0; i < s->n; i++)
		s->y[i] = (float)s->groups[s->grp[i]].label_us;
}

#define XGB(call)                                                                                  \
	do {                                                                                       \
		if ((call)) {                                                                      \
			snprintf(err, errlen, "XGBoost: %s", model__xgb_error());                  \
			goto out;                                                                  \
		}                                                                                  \
	} while (0)

static int write_file(const char *path, const char *buf, size_t len, char *err, size_t errlen)
{
	char tmp[4096];
	FILE *f;

	/* write beside and rename: a policy never sees half a model */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (!f) {
		snprintf(err, errlen, "unable to write %s: %s", tmp, strerror(errno));
		return -1;
	}
	bool short_write = fwrite(buf, 1, len, f) != len;
	if (fclose(f) || short_write) {
		snprintf(err, errlen, "writing %s failed: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path)) {
		snprintf(err, errlen, "unable to rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int train__fit(const struct train_set *s, const struct train_opts *o, const char *out, char *err,
	       size_t errlen)
{
	DMatrixHandle d = NULL;
	BoosterHandle b = NULL;
	char v[64];
	double mean = 0;
	int rc = -1;

	for (size_t i = 0; i < s->n; i++)
		mean += s->y[i];
	mean /= s->n ? (double)s->n : 1;
	XGB(XGDMatrixCreateFromMat(s->x, s->n, MODEL_NFEAT, NAN, &d));
	XGB(XGDMatrixSetFloatInfo(d, "label", s->y, s->n));
	XGB(XGBoosterCreate(&d, 1, &b));
	XGB(XGBoosterSetParam(b, "booster", "gbtree"));
	XGB(XGBoosterSetParam(b, "objective", "reg:squarederror"));
	XGB(XGBoosterSetParam(b, "tree_method", "hist"));
	XGB(XGBoosterSetParam(b, "verbosity", "1"));
	/* start from the mean label: fewer rounds for the same fit */
	snprintf(v, sizeof(v), "%.9g", mean);
	XGB(XGBoosterSetParam(b, "base_score", v));
	snprintf(v, sizeof(v), "%u", o->depth);
	XGB(XGBoosterSetParam(b, "max_depth", v));
	snprintf(v, sizeof(v), "%g", o->eta);
	XGB(XGBoosterSetParam(b, "eta", v));
	snprintf(v, sizeof(v), "%u", o->threads);
	XGB(XGBoosterSetParam(b, "nthread", v));
	snprintf(v, sizeof(v), "%lu", (unsigned long)o->seed);
	XGB(XGBoosterSetParam(b, "seed", v));
	for (unsigned i = 0; i < o->rounds; i++)
		XGB(XGBoosterUpdateOneIter(b, (int)i, d));
	if (!o->quiet) {
		const char *names[] = { "train" }, *ev;
		XGB(XGBoosterEvalOneIter(b, (int)o->rounds - 1, &d, names, 1, &ev));
		printf("train: %u rounds of depth <= %u on %zu rows, %zu groups: %s (us)\n",
		       o->rounds, o->depth, s->n, s->n_groups, ev);
	}
	XGB(XGBoosterSetAttr(b, MODEL_ATTR_FEATURES, MODEL_FEATURES));
	XGB(XGBoosterSetAttr(b, MODEL_ATTR_TARGET, MODEL_TARGET));
	snprintf(v, sizeof(v), "%g", o->budget_us);
	XGB(XGBoosterSetAttr(b, "batchrouter_budget_us", v));

	bst_ulong len;
	const char *buf;
	XGB(XGBoosterSaveModelToBuffer(b, "{\"format\": \"json\"}", &len, &buf));
	if (write_file(out, buf, (size_t)len, err, errlen))
		goto out;
	rc = 0;
out:
	if (b)
		XGBoosterFree(b);
	if (d)
		XGDMatrixFree(d);
	return rc;
}

static void print_groups(const struct train_set *s, const struct model *m)
{
	printf("%-8s %9s %8s %9s  %s\n", "pattern", "rate", "label_us", "pred_us",
	       "actions S:cpu-ns/pkt/p99-us/lost");
	for (size_t gi = 0; gi < s->n_groups; gi++) {
		const struct train_group *g = &s->groups[gi];
		double sum = 0;
		size_t n = 0;
		for (size_t i = 0; i < s->n; i++)
			if (s->grp[i] == gi) {
				sum += model__predict_flat(m, &s->x[i * MODEL_NFEAT]);
				n++;
			}
		printf("%-8s %9.0f %7.0f%s %9.1f ", g->pattern, g->rate_pps, g->label_us,
		       g->compliant ? " " : "!", n ? sum / (double)n : 0);
		for (unsigned a = 0; a < g->n_act; a++)
			printf(" %g:%.0f/%.0f/%lu", g->act[a].sleep_us, g->act[a].cpu_ns_per_pkt,
			       g->act[a].p99_us, (unsigned long)g->act[a].lost);
		putchar('\n');
	}
	printf("(! no action met the budget without loss: labelled with the least loss, then "
	       "the lowest p99)\n");
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

#define BENCH_OBS 1024
#define BENCH_BATCH 64

/* Observations spread over what a worker sees, idle to saturated. */
static void bench_obs(struct policy_obs *o, unsigned n)
{
	uint64_t r = 0x2545f4914f6cdd1dull;
	for (unsigned i = 0; i < n; i++) {
		struct policy_obs *p = &o[i];
		unsigned level = (unsigned)(xorshift(&r) % 257);
		memset(p, 0, sizeof(*p));
		p->n_hist = POLICY_HIST;
		for (int k = 0; k < POLICY_HIST; k++)
			p->hist[k] = (uint16_t)(xorshift(&r) % 3 ? xorshift(&r) % (level + 1) : 0);
		p->burst = 256;
		p->empty_polls = p->hist[0] ? 0 : xorshift(&r) % 1000;
		p->ns_since_pkt = xorshift(&r) % 16 ? xorshift(&r) % 2000000 : UINT64_MAX;
		p->rate_pps = (double)(xorshift(&r) % 2000000);
		p->rx_occupancy = (int64_t)(xorshift(&r) % 1024);
		p->ring_size = 1024;
	}
}

enum bench_kind { B_FLAT, B_XGB, B_DECIDE };

/*
 * Median over batches of BENCH_BATCH calls of the ns per call. Each call's
 * input index depends on the previous result (through a volatile that is
 * always 0), so calls cannot overlap: this is the latency the worker sees
 * between a poll and its idle action, not a throughput.
 */
static double bench_one(enum bench_kind k, struct model *m, struct policy *p,
			const struct policy_obs *obs, const float (*x)[MODEL_NFEAT], unsigned calls)
{
	unsigned nb = calls / BENCH_BATCH ? calls / BENCH_BATCH : 1, j = 0;
	double *t = calloc(nb, sizeof(*t));
	volatile unsigned dep = 0;
	struct policy_decision d;
	float y = 0;

	if (!t)
		return NAN;
	for (unsigned b = 0; b < nb; b++) {
		uint64_t t0 = stats__now_ns();
		for (unsigned i = 0; i < BENCH_BATCH; i++) {
			j = (j + 1 + dep) % BENCH_OBS;
			switch (k) {
			case B_FLAT:
				y = model__predict_flat(m, x[j]);
				break;
			case B_XGB:
				if (model__predict_xgb(m, x[j], &y))
					y = NAN;
				break;
			case B_DECIDE:
				policy__decide(p, &obs[j], &d);
				y = (float)d.ns;
				break;
			}
			dep = y != y;
		}
		t[b] = (double)(stats__now_ns() - t0) / BENCH_BATCH;
	}
	double med = stats__median(t, nb);
	free(t);
	return med;
}

int train__bench_inference(const char *model, unsigned calls, struct train_bench *b, char *err,
			   size_t errlen)
{
	static struct policy_obs obs[BENCH_OBS];
	static float x[BENCH_OBS][MODEL_NFEAT];
	struct model m;
	struct policy p, pc;
	char spec[POLICY_STR_LEN + 64];
	int rc = -1;

	if (model__load(&m, model, err, errlen))
		return -1;
	bench_obs(obs, BENCH_OBS);
	for (unsigned i = 0; i < BENCH_OBS; i++)
		model__features(&obs[i], x[i]);
	/* every=1: a fresh prediction on every decision, the worst case */
	snprintf(spec, sizeof(spec), "learned:model=%s,every=1", model);
	if (policy__init(&p, spec, NULL, err, errlen))
		goto out_model;
	snprintf(spec, sizeof(spec), "learned:model=%s", model);
	if (policy__init(&pc, spec, NULL, err, errlen))
		goto out_p;
	b->calls = calls;
	/* warm caches and XGBoost's per-thread buffers before timing */
	bench_one(B_XGB, &m, NULL, obs, x, BENCH_BATCH * 4);
	b->flat_ns = bench_one(B_FLAT, &m, NULL, obs, x, calls);
	b->xgb_ns = bench_one(B_XGB, &m, NULL, obs, x, calls);
	b->decide_ns = bench_one(B_DECIDE, &m, &p, obs, x, calls);
	b->decide_cached_ns = bench_one(B_DECIDE, &m, &pc, obs, x, calls);
	rc = 0;
	policy__fini(&pc);
out_p:
	policy__fini(&p);
out_model:
	model__free(&m);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: batchrouter train --data FILE.csv --out MODEL.json [--budget-us N]\n"
		"                         [--rounds N] [--depth N] [--eta X] [--threads N]\n"
		"                         [--seed N] [--bench-inference]\n"
		"       batchrouter train --bench-inference --model MODEL.json [--calls N]\n"
		"Labels each (pattern, rate) group of `batchrouter collect`'s CSV with the sleep\n"
		"of its cheapest action (CPU-ns/packet) that lost nothing and kept p99 within the\n"
		"budget, fits XGBoost regression trees from the features to that sleep, and\n"
		"writes the JSON model for `--policy learned:model=MODEL.json`.\n"
		"  --budget-us        p99 latency budget (default 200, the run's)\n"
		"  --rounds, --depth  trees and their depth (default 30, 4)\n"
		"  --eta, --threads   learning rate (0.3), XGBoost threads (2)\n"
		"  --bench-inference  median ns per decision of the flattened trees, XGBoost's\n"
		"                     own prediction and the whole learned decision\n"
		"  --calls N          calls per measurement (default 65536)\n");
}

static int do_train(const char *data, const char *out, const struct train_opts *o)
{
	struct train_set s;
	struct model m;
	char err[1024];
	FILE *f = fopen(data, "r");

	if (!f) {
		fprintf(stderr,
			"batchrouter train: %s: %s; make it with `batchrouter collect --out %s`\n",
			data, strerror(errno), data);
		return 111;
	}
	int rc = train__read_csv(f, data, &s, err, sizeof(err));
	fclose(f);
	if (rc) {
		fprintf(stderr, "batchrouter train: %s\n", err);
		return 111;
	}
	train__label(&s, o->budget_us);
	uint64_t t0 = stats__now_ns(), c0 = stats__process_cpu_ns();
	if (train__fit(&s, o, out, err, sizeof(err))) {
		fprintf(stderr, "batchrouter train: %s\n", err);
		train__set_free(&s);
		return 111;
	}
	printf("train: fitted and wrote %s in %.2f s (%.2f CPU-s)\n", out,
	       (double)(stats__now_ns() - t0) / 1e9, (double)(stats__process_cpu_ns() - c0) / 1e9);
	/* read it back as the policy will: the file must pass the same checks */
	if (model__load(&m, out, err, sizeof(err))) {
		fprintf(stderr, "batchrouter train: the model just written is unusable: %s\n", err);
		train__set_free(&s);
		return 111;
	}
	print_groups(&s, &m);
	printf("model: %u trees, %u nodes, depth %u, base %.1f us; use --policy "
	       "learned:model=%s\n",
	       m.n_trees, m.n_src_nodes, m.depth, (double)m.base_score, out);
	model__free(&m);
	train__set_free(&s);
	return 0;
}

int train__main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'D' },
		{ "out", required_argument, NULL, 'o' },
		{ "budget-us", required_argument, NULL, 'b' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "depth", required_argument, NULL, 'd' },
		{ "eta", required_argument, NULL, 'e' },
		{ "threads", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 's' },
		{ "bench-inference", no_argument, NULL, 'B' },
		{ "model", required_argument, NULL, 'm' },
		{ "calls", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct train_opts o = train_defaults;
	const char *data = NULL, *out = NULL, *model = NULL;
	bool bench = false;
	unsigned calls = 65536;
	int c;

	while ((c = getopt_long(argc, argv, "D:o:b:r:d:e:t:s:Bm:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'D':
			data = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'b':
			o.budget_us = atof(optarg);
			break;
		case 'r':
			o.rounds = (unsigned)atoi(optarg);
			break;
		case 'd':
			o.depth = (unsigned)atoi(optarg);
			break;
		case 'e':
			o.eta = atof(optarg);
			break;
		case 't':
			o.threads = (unsigned)atoi(optarg);
			break;
		case 's':
			o.seed = strtoull(optarg, NULL, 10);
			break;
		case 'B':
			bench = true;
			break;
		case 'm':
			model = optarg;
			break;
		case 'c':
			calls = (unsigned)atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 100;
		}
	}
	bool fit = data || out;
	if (optind != argc || (fit && (!data || !out)) || (!fit && !(bench && model)) ||
	    o.budget_us <= 0 || o.rounds < 1 || o.rounds > 10000 || o.depth < 1 ||
	    o.depth > MODEL_MAX_DEPTH || o.eta <= 0 || o.threads < 1 || calls < BENCH_BATCH) {
		fprintf(stderr, "batchrouter train: need --data and --out (or --bench-inference "
				"--model), budget > 0, rounds 1..10000, depth 1..10, eta > 0, "
				"threads >= 1, calls >= 64\n");
		usage(stderr);
		return 100;
	}
	if (fit) {
		int rc = do_train(data, out, &o);
		if (rc)
			return rc;
	}
	if (bench) {
		struct train_bench b;
		char err[1024];
		const char *path = model ? model : out;
		if (train__bench_inference(path, calls, &b, err, sizeof(err))) {
			fprintf(stderr, "batchrouter train: %s\n", err);
			return 111;
		}
		printf("inference (%s), median ns per call over %u calls in batches of %d:\n"
		       "  flattened trees      %8.1f ns\n"
		       "  XGBoost (in-place)   %8.1f ns\n"
		       "  learned decision     %8.1f ns  (features + flattened trees, every=1)\n"
		       "  learned decision     %8.1f ns  (default every=64: mostly cached)\n",
		       path, b.calls, BENCH_BATCH, b.flat_ns, b.xgb_ns, b.decide_ns,
		       b.decide_cached_ns);
	}
	return 0;
}
