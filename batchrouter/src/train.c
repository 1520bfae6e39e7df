/*
 * Training: CSV in (each row labelled by collect's replay), XGBoost
 * regression, JSON model out, then the model is loaded back exactly as the
 * policy loads it, so a file train writes is a file the policy accepts;
 * group k-fold and replay regret to say how it does on groups it never saw.
 * Also the inference benchmark that chose the data path's predictor.
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
#include "stats.h"
#include "train.h"

const struct train_opts train_defaults = {
	.rounds = 30, .depth = 4, .threads = 2, .eta = 0.3, .seed = 0
};

void train__set_free(struct train_set *s)
{
	free(s->x);
	free(s->y);
	free(s->grp);
	free(s->lab_ok);
	free(s->lab);
	free(s->cpu);
	free(s->cand_ok);
	free(s->groups);
	memset(s, 0, sizeof(*s));
}

enum { C_PATTERN, C_LOAD, C_LABEL, C_LABEL_OK, C_FLOOR, C_SLEEP_CPU, C__FIXED };
static const char *const fixed_cols[C__FIXED] = {
	"pattern", "load_pct", "label_us", "label_ok", "floor_p99_ns", "sleep_cpu_ns",
};

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

/* Room for one more row in every per-row array; -1: out of memory. */
static int add_row(struct train_set *s)
{
	if (s->n < s->cap)
		return 0;
	size_t n = s->cap ? s->cap * 2 : 1024, c = s->n_cand;
	void *p;
#define RE(field, per)                                                                             \
	do {                                                                                       \
		if (!(p = realloc(s->field, n * (per) * sizeof(*s->field))))                       \
			return -1;                                                                 \
		s->field = p;                                                                      \
	} while (0)
	RE(x, MODEL_NFEAT);
	RE(y, 1);
	RE(grp, 1);
	RE(lab_ok, 1);
	RE(lab, 1);
	RE(cpu, c);
	RE(cand_ok, c);
#undef RE
	s->cap = n;
	return 0;
}

/* The group of (pattern, load), created on first sight; -1: out of memory. */
static long find_group(struct train_set *s, const char *pattern, double load)
{
	for (size_t g = 0; g < s->n_groups; g++)
		if (s->groups[g].load_pct == load && !strcmp(s->groups[g].pattern, pattern))
			return (long)g;
	if (grow((void **)&s->groups, &s->cap_groups, s->n_groups + 1, sizeof(*s->groups)))
		return -1;
	struct train_group *g = &s->groups[s->n_groups];
	memset(g, 0, sizeof(*g));
	snprintf(g->pattern, sizeof(g->pattern), "%s", pattern);
	g->load_pct = load;
	return (long)s->n_groups++;
}

static bool number(const char *f, double *v)
{
	char *end;
	*v = strtod(f, &end);
	return end != f && !*end && isfinite(*v);
}

/* The column layout, found by name in the header. */
struct layout {
	int ncol;
	int col[C__FIXED], fcol[MODEL_NFEAT];
	int cpu_col[TRAIN_MAX_CANDS], ok_col[TRAIN_MAX_CANDS]; /* by candidate, ascending */
};

/* A candidate column "cpu_s<N>"/"ok_s<N>": N, or -1 if @t is not one. */
static double cand_of(const char *t, const char *prefix)
{
	size_t l = strlen(prefix);
	double v;
	if (strncmp(t, prefix, l) || !number(t + l, &v) || v < 0)
		return -1;
	return v;
}

static int header(char *line, struct layout *L, struct train_set *s, char *err, size_t errlen,
		  const char *what)
{
	double ok_us[TRAIN_MAX_CANDS];
	int ok_at[TRAIN_MAX_CANDS], n_ok = 0, i = 0;

	for (int c = 0; c < C__FIXED; c++)
		L->col[c] = -1;
	for (int f = 0; f < MODEL_NFEAT; f++)
		L->fcol[f] = -1;
	s->n_cand = 0;
	for (char *save = NULL, *t = strtok_r(line, ",\r\n", &save); t;
	     t = strtok_r(NULL, ",\r\n", &save), i++) {
		double us;
		for (int c = 0; c < C__FIXED; c++)
			if (!strcmp(t, fixed_cols[c]))
				L->col[c] = i;
		for (int f = 0; f < MODEL_NFEAT; f++)
			if (!strncmp(t, "f_", 2) && !strcmp(t + 2, model_feature_names[f]))
				L->fcol[f] = i;
		if ((us = cand_of(t, "cpu_s")) >= 0 || (us = cand_of(t, "ok_s")) >= 0) {
			bool cpu = t[0] == 'c';
			if ((cpu ? s->n_cand : (unsigned)n_ok) == TRAIN_MAX_CANDS) {
				snprintf(err, errlen, "%s has more than %d candidate sleeps", what,
					 TRAIN_MAX_CANDS);
				return -1;
			}
			if (cpu) {
				s->cand_us[s->n_cand] = us;
				L->cpu_col[s->n_cand++] = i;
			} else {
				ok_us[n_ok] = us;
				ok_at[n_ok++] = i;
			}
		}
	}
	for (int c = 0; c < C__FIXED; c++)
		if (L->col[c] < 0) {
			snprintf(err, errlen,
				 "%s has no column '%s'; is it the output of this build's "
				 "`batchrouter collect` (one row per replayed decision)?",
				 what, fixed_cols[c]);
			return -1;
		}
	for (int f = 0; f < MODEL_NFEAT; f++)
		if (L->fcol[f] < 0) {
			snprintf(
			    err, errlen,
			    "%s has no feature column 'f_%s': it was collected by a build with "
			    "other features (%s); collect again",
			    what, model_feature_names[f], MODEL_FEATURES);
			return -1;
		}
	if (!s->n_cand) {
		snprintf(err, errlen, "%s has no candidate columns cpu_s<N>,ok_s<N>; collect again",
			 what);
		return -1;
	}
	/* ascending by sleep (insertion sort: a handful), each with its ok column */
	for (unsigned a = 1; a < s->n_cand; a++)
		for (unsigned b = a; b > 0 && s->cand_us[b] < s->cand_us[b - 1]; b--) {
			double u = s->cand_us[b];
			int c = L->cpu_col[b];
			s->cand_us[b] = s->cand_us[b - 1], L->cpu_col[b] = L->cpu_col[b - 1];
			s->cand_us[b - 1] = u, L->cpu_col[b - 1] = c;
		}
	for (unsigned a = 0; a < s->n_cand; a++) {
		L->ok_col[a] = -1;
		if (a && s->cand_us[a] == s->cand_us[a - 1]) {
			snprintf(err, errlen, "%s has two columns cpu_s%g", what, s->cand_us[a]);
			return -1;
		}
		for (int k = 0; k < n_ok; k++)
			if (ok_us[k] == s->cand_us[a])
				L->ok_col[a] = ok_at[k];
		if (L->ok_col[a] < 0) {
			snprintf(err, errlen, "%s has cpu_s%g but no ok_s%g; collect again", what,
				 s->cand_us[a], s->cand_us[a]);
			return -1;
		}
	}
	if ((unsigned)n_ok != s->n_cand) {
		snprintf(err, errlen, "%s has %d ok_s<N> columns for %u cpu_s<N>; collect again",
			 what, n_ok, s->n_cand);
		return -1;
	}
	L->ncol = i;
	return 0;
}

/* One data line into row s->n; 0, or -1 with a message. */
static int parse_row(struct train_set *s, const struct layout *L, char **fields, const char *what,
		     long lineno, double *floor, double *scpu, char *err, size_t errlen)
{
	double v[C__FIXED], x;
	size_t r = s->n;

	for (int c = 0; c < C__FIXED; c++) {
		if (c == C_PATTERN)
			continue;
		if (!number(fields[L->col[c]], &v[c]) || v[c] < 0) {
			snprintf(err, errlen, "%s:%ld: %s '%s' is not a non-negative number", what,
				 lineno, fixed_cols[c], fields[L->col[c]]);
			return -1;
		}
	}
	const char *pattern = fields[L->col[C_PATTERN]];
	if (!*pattern || strlen(pattern) >= sizeof(s->groups[0].pattern)) {
		snprintf(err, errlen, "%s:%ld: pattern '%s' is empty or longer than %zu characters",
			 what, lineno, pattern, sizeof(s->groups[0].pattern) - 1);
		return -1;
	}
	long g = find_group(s, pattern, v[C_LOAD]);
	if (g < 0 || add_row(s)) {
		snprintf(err, errlen, "%s: out of memory at line %ld", what, lineno);
		return -1;
	}
	for (int k = 0; k < MODEL_NFEAT; k++) {
		if (!number(fields[L->fcol[k]], &x)) {
			snprintf(err, errlen, "%s:%ld: f_%s '%s' is not a number", what, lineno,
				 model_feature_names[k], fields[L->fcol[k]]);
			return -1;
		}
		s->x[r * MODEL_NFEAT + k] = (float)x;
	}
	unsigned lab = s->n_cand;
	for (unsigned a = 0; a < s->n_cand; a++) {
		double ok;
		if (!number(fields[L->cpu_col[a]], &x) || x < 0 ||
		    !number(fields[L->ok_col[a]], &ok) || (ok != 0 && ok != 1)) {
			snprintf(err, errlen,
				 "%s:%ld: cpu_s%g '%s' or ok_s%g '%s' is not a CPU time in ns and "
				 "0 or 1",
				 what, lineno, s->cand_us[a], fields[L->cpu_col[a]], s->cand_us[a],
				 fields[L->ok_col[a]]);
			return -1;
		}
		s->cpu[r * s->n_cand + a] = x;
		s->cand_ok[r * s->n_cand + a] = ok == 1;
		if (s->cand_us[a] == v[C_LABEL])
			lab = a;
	}
	if (lab == s->n_cand) {
		snprintf(err, errlen, "%s:%ld: label_us %g is none of the candidates (cpu_s<N>)",
			 what, lineno, v[C_LABEL]);
		return -1;
	}
	if (v[C_LABEL_OK] != 0 && v[C_LABEL_OK] != 1) {
		snprintf(err, errlen, "%s:%ld: label_ok '%s' is not 0 or 1", what, lineno,
			 fields[L->col[C_LABEL_OK]]);
		return -1;
	}
	s->grp[r] = (unsigned)g;
	s->y[r] = (float)v[C_LABEL];
	s->lab[r] = lab;
	s->lab_ok[r] = v[C_LABEL_OK] == 1;
	*floor = v[C_FLOOR];
	*scpu = v[C_SLEEP_CPU];
	s->n++;
	return 0;
}

int train__read_csv(FILE *f, const char *what, struct train_set *s, char *err, size_t errlen)
{
	char *line = NULL, **fields = NULL;
	size_t cap = 0, cap_fl = 0, cap_sc = 0;
	double *floors = NULL, *scpu = NULL;
	struct layout L;
	long lineno = 0;
	int rc = -1;
	bool have_header = false;

	memset(s, 0, sizeof(*s));
	while (getline(&line, &cap, f) > 0) {
		int n = 0;
		char *p = line;
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (!*line || *line == '#')
			continue;
		if (!have_header) {
			if (header(line, &L, s, err, errlen, what))
				goto out;
			have_header = true;
			fields = calloc((size_t)L.ncol + 1, sizeof(*fields));
			if (!fields)
				goto oom;
			continue;
		}
		while (p && n <= L.ncol)
			fields[n++] = strsep(&p, ",");
		if (n != L.ncol) {
			snprintf(err, errlen, "%s:%ld: %s fields where the header has %d", what,
				 lineno, n > L.ncol ? "more" : "fewer", L.ncol);
			goto out;
		}
		if (grow((void **)&floors, &cap_fl, s->n + 1, sizeof(*floors)) ||
		    grow((void **)&scpu, &cap_sc, s->n + 1, sizeof(*scpu)))
			goto oom;
		if (parse_row(s, &L, fields, what, lineno, &floors[s->n], &scpu[s->n], err, errlen))
			goto out;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error: %s", what, strerror(errno));
		goto out;
	}
	if (!have_header) {
		snprintf(err, errlen, "%s is empty; run `batchrouter collect --out %s`", what,
			 what);
		goto out;
	}
	if (!s->n) {
		snprintf(err, errlen, "%s has a header but no rows; collect again", what);
		goto out;
	}
	s->floor_p99_ns = (uint64_t)llround(stats__median(floors, s->n));
	s->sleep_cpu_ns = (uint64_t)llround(stats__median(scpu, s->n));
	if (!s->floor_p99_ns) {
		snprintf(err, errlen,
			 "%s records no nanosleep floor (floor_p99_ns 0): a model trained on it "
			 "could not be checked against its host's; collect again",
			 what);
		goto out;
	}
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "%s: out of memory at line %ld", what, lineno);
out:
	free(line);
	free(fields);
	free(floors);
	free(scpu);
	if (rc)
		train__set_free(s);
	return rc;
}

static int cmp_group(const struct train_set *s, unsigned a, unsigned b)
{
	const struct train_group *x = &s->groups[a], *y = &s->groups[b];
	int c = strcmp(x->pattern, y->pattern);
	if (c)
		return c;
	return (x->load_pct > y->load_pct) - (x->load_pct < y->load_pct);
}

int train__kfold_assign(const struct train_set *s, unsigned k, unsigned *fold_of_group)
{
	unsigned *order;

	if (k < 2 || k > s->n_groups)
		return -1;
	order = malloc(s->n_groups * sizeof(*order));
	if (!order)
		return -1;
	for (unsigned g = 0; g < s->n_groups; g++)
		order[g] = g;
	/* insertion sort: tens of groups, and no qsort context pointer in C11 */
	for (unsigned a = 1; a < s->n_groups; a++)
		for (unsigned b = a; b > 0 && cmp_group(s, order[b], order[b - 1]) < 0; b--) {
			unsigned t = order[b];
			order[b] = order[b - 1];
			order[b - 1] = t;
		}
	/* dealt round-robin: consecutive loads of a pattern land in different
	 * folds, so no fold holds out a whole load range or a whole pattern
	 * (unless the patterns have fewer loads than there are folds) */
	for (unsigned i = 0; i < s->n_groups; i++)
		fold_of_group[order[i]] = i % k;
	free(order);
	return 0;
}

void train__fold_rows(const struct train_set *s, const unsigned *fold_of_group, unsigned fold,
		      bool *train_rows)
{
	for (size_t i = 0; i < s->n; i++)
		train_rows[i] = fold_of_group[s->grp[i]] != fold;
}

unsigned train__nearest(const struct train_set *s, float pred_us)
{
	double us = pred_us >= 1.0f ? (double)pred_us : 0; /* as learned.c rounds */
	unsigned best = 0;
	for (unsigned a = 1; a < s->n_cand; a++)
		if (fabs(s->cand_us[a] - us) < fabs(s->cand_us[best] - us))
			best = a; /* strictly nearer: ties keep the shorter sleep */
	return best;
}

void train__eval_add(const struct train_set *s, size_t i, float pred_us, struct train_eval *e)
{
	unsigned c = train__nearest(s, pred_us);
	e->rows++;
	e->label_sum += s->y[i];
	e->pred_sum += pred_us;
	e->cpu_chosen += s->cpu[i * s->n_cand + c];
	e->cpu_label += s->cpu[i * s->n_cand + s->lab[i]];
	e->missed += !s->cand_ok[i * s->n_cand + c];
	e->label_missed += !s->lab_ok[i];
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

int train__fit(const struct train_set *s, const bool *rows, const struct train_opts *o,
	       const char *out, char *err, size_t errlen)
{
	DMatrixHandle d = NULL;
	BoosterHandle b = NULL;
	float *x = NULL, *y = NULL;
	char v[64];
	double mean = 0;
	size_t n = 0;
	int rc = -1;

	/* the chosen rows, copied: XGBoost takes a dense matrix */
	x = malloc(s->n * MODEL_NFEAT * sizeof(*x));
	y = malloc(s->n * sizeof(*y));
	if (!x || !y) {
		snprintf(err, errlen, "out of memory for %zu rows", s->n);
		goto out;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (rows && !rows[i])
			continue;
		memcpy(&x[n * MODEL_NFEAT], &s->x[i * MODEL_NFEAT], sizeof(float) * MODEL_NFEAT);
		y[n++] = s->y[i];
		mean += s->y[i];
	}
	if (!n) {
		snprintf(err, errlen, "no rows to train on");
		goto out;
	}
	mean /= (double)n;
	XGB(XGDMatrixCreateFromMat(x, n, MODEL_NFEAT, NAN, &d));
	XGB(XGDMatrixSetFloatInfo(d, "label", y, n));
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
		printf("train: %u rounds of depth <= %u on %zu rows: %s (us)\n", o->rounds,
		       o->depth, n, ev);
	}
	XGB(XGBoosterSetAttr(b, MODEL_ATTR_FEATURES, MODEL_FEATURES));
	XGB(XGBoosterSetAttr(b, MODEL_ATTR_TARGET, MODEL_TARGET));
	/* the labels hold for this floor only: the policy compares it with its host's */
	snprintf(v, sizeof(v), "%lu", (unsigned long)s->floor_p99_ns);
	XGB(XGBoosterSetAttr(b, MODEL_ATTR_FLOOR, v));
	snprintf(v, sizeof(v), "%lu", (unsigned long)s->sleep_cpu_ns);
	XGB(XGBoosterSetAttr(b, MODEL_ATTR_SLEEP_CPU, v));

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
	free(x);
	free(y);
	return rc;
}

static void print_eval_head(const char *title)
{
	printf("%s\n%-5s %-8s %6s %7s %9s %8s %9s %6s %7s\n", title, "fold", "pattern", "load",
	       "rows", "label_us", "pred_us", "cpu_ratio", "miss%", "nofit%");
}

static void print_eval(const char *fold, const char *pattern, const char *load,
		       const struct train_eval *e)
{
	double n = e->rows ? (double)e->rows : 1;
	printf("%-5s %-8s %6s %7zu %9.1f %8.1f %9.3f %6.2f %7.2f\n", fold, pattern, load, e->rows,
	       e->label_sum / n, e->pred_sum / n,
	       e->cpu_label > 0 ? e->cpu_chosen / e->cpu_label : NAN, 100 * (double)e->missed / n,
	       100 * (double)e->label_missed / n);
}

static void eval_sum(struct train_eval *t, const struct train_eval *e)
{
	t->rows += e->rows;
	t->label_sum += e->label_sum;
	t->pred_sum += e->pred_sum;
	t->cpu_chosen += e->cpu_chosen;
	t->cpu_label += e->cpu_label;
	t->missed += e->missed;
	t->label_missed += e->label_missed;
}

/*
 * One line per group of @pred's replay regret, then the total. @fold_of
 * names each group's fold (NULL: no folds, "-").
 */
static void print_table(const struct train_set *s, const float *pred, const unsigned *fold_of,
			const char *title)
{
	struct train_eval *e = calloc(s->n_groups, sizeof(*e)), tot = { 0 };
	char fold[16], load[32];

	if (!e)
		return;
	for (size_t i = 0; i < s->n; i++)
		train__eval_add(s, i, pred[i], &e[s->grp[i]]);
	print_eval_head(title);
	for (size_t g = 0; g < s->n_groups; g++) {
		snprintf(fold, sizeof(fold), "%s", "-");
		if (fold_of)
			snprintf(fold, sizeof(fold), "%u", fold_of[g]);
		snprintf(load, sizeof(load), "%g", s->groups[g].load_pct);
		print_eval(fold, s->groups[g].pattern, load, &e[g]);
		eval_sum(&tot, &e[g]);
	}
	print_eval("all", "total", "", &tot);
	free(e);
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
	struct policy p;
	char spec[POLICY_STR_LEN + 64];
	int rc = -1;

	if (model__load(&m, model, err, errlen))
		return -1;
	bench_obs(obs, BENCH_OBS);
	for (unsigned i = 0; i < BENCH_OBS; i++)
		model__features(&obs[i], x[i]);
	/* after=0: every decision predicts, as every idle decision does in a run */
	snprintf(spec, sizeof(spec), "learned:model=%s,after=0", model);
	if (policy__init(&p, spec, NULL, err, errlen))
		goto out_model;
	b->calls = calls;
	/* warm caches and XGBoost's per-thread buffers before timing */
	bench_one(B_XGB, &m, NULL, obs, x, BENCH_BATCH * 4);
	b->flat_ns = bench_one(B_FLAT, &m, NULL, obs, x, calls);
	b->xgb_ns = bench_one(B_XGB, &m, NULL, obs, x, calls);
	b->decide_ns = bench_one(B_DECIDE, &m, &p, obs, x, calls);
	rc = 0;
	policy__fini(&p);
out_model:
	model__free(&m);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: batchrouter train --data FILE.csv --out MODEL.json [--kfold K]\n"
		"                         [--rounds N] [--depth N] [--eta X] [--threads N]\n"
		"                         [--seed N] [--bench-inference]\n"
		"       batchrouter train --bench-inference --model MODEL.json [--calls N]\n"
		"Fits XGBoost regression trees from the features of `batchrouter collect`'s rows\n"
		"to each row's label (the cheapest candidate sleep that met the budget when the\n"
		"row's window was replayed) and writes the JSON model, with the collecting host's\n"
		"nanosleep floor, for `--policy learned:model=MODEL.json`. Prints per\n"
		"(pattern, load) group the replay regret of the model's sleeps: the candidate\n"
		"nearest each prediction (none under 1 us), its CPU over the label's\n"
		"(cpu_ratio) and the share of rows where it missed the budget (miss%%);\n"
		"nofit%% is the share where no candidate met it.\n"
		"  --kfold K          group K-fold cross-validation (K >= 2): groups sorted by\n"
		"                     (pattern, load) are dealt to folds round-robin; one model\n"
		"                     per fold on the other folds' rows, scored on the held-out\n"
		"                     groups. Writes MODEL.fold<k>.json (k = 0..K-1) and\n"
		"                     MODEL.folds.csv (fold,pattern,load_pct), a trailing .json\n"
		"                     of MODEL dropped first, then MODEL from all rows\n"
		"  --all-windows      also fit the rows of windows where no candidate kept the\n"
		"                     budget (an overload's least bad action; scored either way)\n"
		"  --rounds, --depth  trees and their depth (default 30, 4)\n"
		"  --eta, --threads   learning rate (0.3), XGBoost threads (2)\n"
		"  --bench-inference  median ns per decision of the flattened trees, XGBoost's\n"
		"                     own prediction and the whole learned decision\n"
		"  --calls N          calls per measurement (default 65536)\n");
}

/* @out without a trailing ".json", the stem of the fold files. */
static void out_stem(const char *out, char *stem, size_t len)
{
	size_t n = strlen(out);
	if (n > 5 && !strcmp(out + n - 5, ".json"))
		n -= 5;
	snprintf(stem, len, "%.*s", (int)n, out);
}

/* Fits on @rows, writes @out, loads it back as the policy will (the file
 * must pass the same checks) and predicts every row of @s into @pred
 * where @want (NULL: all) is true. */
static int fit_predict(const struct train_set *s, const bool *rows, const bool *want,
		       const struct train_opts *o, const char *out, float *pred, struct model *keep)
{
	struct model m;
	char err[1024];

	if (train__fit(s, rows, o, out, err, sizeof(err))) {
		fprintf(stderr, "batchrouter train: %s\n", err);
		return -1;
	}
	if (model__load(&m, out, err, sizeof(err))) {
		fprintf(stderr, "batchrouter train: the model just written is unusable: %s\n", err);
		return -1;
	}
	for (size_t i = 0; i < s->n; i++)
		if (!want || want[i])
			pred[i] = model__predict_flat(&m, &s->x[i * MODEL_NFEAT]);
	if (keep)
		*keep = m;
	else
		model__free(&m);
	return 0;
}

/* The K fold models, their held-out predictions and the folds file. */
static int kfold(const struct train_set *s, unsigned k, const struct train_opts *o, const char *out,
		 float *held, unsigned *fold_of)
{
	char stem[4096], path[4200];
	bool *rows = malloc(s->n * sizeof(*rows)), *test = malloc(s->n * sizeof(*test));
	struct train_opts fo = *o;
	int rc = -1;
	FILE *f;

	if (!rows || !test) {
		fprintf(stderr, "batchrouter train: out of memory\n");
		goto out;
	}
	if (train__kfold_assign(s, k, fold_of)) {
		fprintf(stderr, "batchrouter train: --kfold %u needs 2..%zu (the data's groups)\n",
			k, s->n_groups);
		goto out;
	}
	out_stem(out, stem, sizeof(stem));
	snprintf(path, sizeof(path), "%s.folds.csv", stem);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "batchrouter train: unable to write %s: %s\n", path,
			strerror(errno));
		goto out;
	}
	fprintf(f, "fold,pattern,load_pct\n");
	for (unsigned i = 0; i < k; i++)
		for (size_t g = 0; g < s->n_groups; g++)
			if (fold_of[g] == i)
				fprintf(f, "%u,%s,%g\n", i, s->groups[g].pattern,
					s->groups[g].load_pct);
	if (fclose(f)) {
		fprintf(stderr, "batchrouter train: writing %s failed: %s\n", path,
			strerror(errno));
		goto out;
	}
	fo.quiet = true;
	for (unsigned i = 0; i < k; i++) {
		train__fold_rows(s, fold_of, i, rows);
		for (size_t r = 0; r < s->n; r++) {
			test[r] = !rows[r];
			rows[r] = rows[r] && (o->all_windows || s->lab_ok[r]);
		}
		snprintf(path, sizeof(path), "%s.fold%u.json", stem, i);
		if (fit_predict(s, rows, test, &fo, path, held, NULL))
			goto out;
		printf("train: fold %u: wrote %s\n", i, path);
	}
	printf("train: folds in %s.folds.csv\n", stem);
	rc = 0;
out:
	free(rows);
	free(test);
	return rc;
}

static int do_train(const char *data, const char *out, unsigned k, const struct train_opts *o)
{
	struct train_set s;
	struct model m;
	char err[1024];
	float *pred = NULL, *held = NULL;
	bool *fit = NULL;
	unsigned *fold_of = NULL;
	FILE *f = fopen(data, "r");
	int rc = 111;

	if (!f) {
		fprintf(stderr,
			"batchrouter train: %s: %s; make it with `batchrouter collect --out %s`\n",
			data, strerror(errno), data);
		return 111;
	}
	int r = train__read_csv(f, data, &s, err, sizeof(err));
	fclose(f);
	if (r) {
		fprintf(stderr, "batchrouter train: %s\n", err);
		return 111;
	}
	printf("train: %zu rows, %zu groups, %u candidates, floor p99 %.1f us, %.1f us CPU per "
	       "sleep\n",
	       s.n, s.n_groups, s.n_cand, (double)s.floor_p99_ns / 1e3,
	       (double)s.sleep_cpu_ns / 1e3);
	pred = malloc(s.n * sizeof(*pred));
	held = malloc(s.n * sizeof(*held));
	fit = malloc(s.n * sizeof(*fit));
	fold_of = malloc(s.n_groups * sizeof(*fold_of));
	if (!pred || !held || !fit || !fold_of) {
		fprintf(stderr, "batchrouter train: out of memory\n");
		goto out;
	}
	/*
	 * A window where no candidate kept the budget (on/off bursts at 10x the
	 * mean rate, above what the worker forwards) is labelled with the least
	 * bad action of an overload, in states that look like the idle gaps
	 * between bursts: fitted, they taught the trees to sleep short at 1% of
	 * R* on patterns they had not seen (stair at 1%: 2.3x the oracle's CPU
	 * in the replay). They are scored, not fitted, unless --all-windows.
	 */
	size_t n_fit = 0;
	for (size_t i = 0; i < s.n; i++) {
		fit[i] = o->all_windows || s.lab_ok[i];
		n_fit += fit[i];
	}
	if (!n_fit) {
		fprintf(stderr,
			"batchrouter train: no window of %s kept the budget (label_ok 1): "
			"nothing to learn from; collect at lower loads, or --all-windows\n",
			data);
		goto out;
	}
	if (n_fit < s.n)
		printf("train: fitting %zu rows; %zu of windows where no candidate kept the budget "
		       "are scored only (--all-windows fits them)\n",
		       n_fit, s.n - n_fit);
	if (k && kfold(&s, k, o, out, held, fold_of))
		goto out;
	uint64_t t0 = stats__now_ns(), c0 = stats__process_cpu_ns();
	if (fit_predict(&s, fit, NULL, o, out, pred, &m))
		goto out;
	printf("train: fitted and wrote %s in %.2f s (%.2f CPU-s)\n", out,
	       (double)(stats__now_ns() - t0) / 1e9, (double)(stats__process_cpu_ns() - c0) / 1e9);
	/* in-sample first, then (apart) what the folds say of unseen groups */
	print_table(&s, pred, NULL, "training groups (the full model on its own rows):");
	if (k)
		print_table(&s, held, fold_of,
			    "held-out groups (each by the fold model that did not see it):");
	printf("(cpu_ratio: replayed CPU of the candidate nearest the prediction over the "
	       "label's; miss%%: rows where it missed the budget; nofit%%: where no "
	       "candidate met it)\n");
	printf("model: %u trees, %u nodes, depth %u, base %.1f us; use --policy "
	       "learned:model=%s\n",
	       m.n_trees, m.n_src_nodes, m.depth, (double)m.base_score, out);
	model__free(&m);
	rc = 0;
out:
	free(pred);
	free(held);
	free(fit);
	free(fold_of);
	train__set_free(&s);
	return rc;
}

int train__main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'D' },
		{ "out", required_argument, NULL, 'o' },
		{ "kfold", required_argument, NULL, 'k' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "depth", required_argument, NULL, 'd' },
		{ "eta", required_argument, NULL, 'e' },
		{ "threads", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 's' },
		{ "bench-inference", no_argument, NULL, 'B' },
		{ "model", required_argument, NULL, 'm' },
		{ "calls", required_argument, NULL, 'c' },
		{ "all-windows", no_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct train_opts o = train_defaults;
	const char *data = NULL, *out = NULL, *model = NULL;
	bool bench = false;
	unsigned calls = 65536, k = 0;
	int c;

	while ((c = getopt_long(argc, argv, "D:o:k:r:d:e:t:s:Bm:c:Ah", opts, NULL)) != -1) {
		switch (c) {
		case 'D':
			data = optarg;
			break;
		case 'A':
			o.all_windows = true;
			break;
		case 'o':
			out = optarg;
			break;
		case 'k':
			k = (unsigned)atoi(optarg);
			if (k < 2) {
				fprintf(stderr, "batchrouter train: --kfold needs K >= 2\n");
				return 100;
			}
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
	    (k && !fit) || o.rounds < 1 || o.rounds > 10000 || o.depth < 1 ||
	    o.depth > MODEL_MAX_DEPTH || o.eta <= 0 || o.threads < 1 || calls < BENCH_BATCH) {
		fprintf(stderr,
			"batchrouter train: need --data and --out (or --bench-inference "
			"--model), --kfold only with them, rounds 1..10000, depth 1..10, eta > 0, "
			"threads >= 1, calls >= 64\n");
		usage(stderr);
		return 100;
	}
	if (fit) {
		int rc = do_train(data, out, k, &o);
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
		       "  learned decision     %8.1f ns  (features + flattened trees)\n",
		       path, b.calls, BENCH_BATCH, b.flat_ns, b.xgb_ns, b.decide_ns);
	}
	return 0;
}
