/*
 * The data behind the learned policy: recorded runs, the host model, and
 * counterfactual labels window by window (collect.h says how).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "collect.h"
#include "replay_cmd.h"
#include "run.h"

#define COLLECT_MAX_LOADS 16
#define WINDOW_MAX_ROWS 65536 /* decisions looked at in one window */

/* up to the rails' cap under the default budget (about 135-150 us here): a
 * longer one would be cut to the cap, a duplicate of it */
const unsigned collect_cand_us[COLLECT_N_CAND] = { 0, 10, 20, 50, 100, 150 };

void collect__csv_header(FILE *csv)
{
	fprintf(csv, "pattern,load_pct,rate_pps,rep,window");
	for (int f = 0; f < MODEL_NFEAT; f++)
		fprintf(csv, ",f_%s", model_feature_names[f]);
	fprintf(csv, ",label_us,label_ok,floor_p99_ns,sleep_cpu_ns");
	for (int c = 0; c < COLLECT_N_CAND; c++)
		fprintf(csv, ",cpu_s%u,ok_s%u", collect_cand_us[c], collect_cand_us[c]);
}

struct rows {
	float (*x)[MODEL_NFEAT];
	unsigned n, after;
};

/* the decisions where the learned policy predicts */
static void keep_row(void *ctx, const struct policy_obs *o, const struct policy_decision *d)
{
	struct rows *r = ctx;
	(void)d;
	if (o->empty_polls >= r->after && r->n < WINDOW_MAX_ROWS)
		model__features(o, r->x[r->n++]);
}

struct window_try {
	double cpu_ns; /* per window_ns of time */
	uint64_t over, drops, pkts;
	bool ok;
};

static void try_candidate(const struct replay_state *from, struct replay_state *s,
			  const struct trace *t, const struct replay_host *h, struct policy *p,
			  const struct collect_label_opts *o, struct window_try *w,
			  struct rows *rows)
{
	struct replay_result r = { 0 };

	*s = *from;
	replay__run(s, t, h, p, o->rails, from->now + o->window_ns, &r, keep_row, rows);
	uint64_t span = r.t_end > r.t_start ? r.t_end - r.t_start : 1;
	w->cpu_ns = (double)r.cpu_ns * (double)o->window_ns / (double)span;
	w->over = r.over_budget;
	w->drops = r.drops;
	w->pkts = r.pkts;
}

/*
 * A candidate keeps the budget when it loses no more frames than the least
 * lossy one and has at most 1% of the window's frames over the budget beyond
 * the fewest any least lossy candidate had: frames the generator itself sent
 * late (a stall of its CPU) are over the budget whatever the router does, and
 * charging them to every action would label such windows "poll" for nothing.
 */
static int label(struct window_try *w, int n)
{
	uint64_t min_over = UINT64_MAX, min_drops = UINT64_MAX;
	int best = -1;

	for (int c = 0; c < n; c++)
		if (w[c].drops < min_drops)
			min_drops = w[c].drops;
	/* the fewest misses among the least lossy: one of those is always ok */
	for (int c = 0; c < n; c++)
		if (w[c].drops == min_drops && w[c].over < min_over)
			min_over = w[c].over;
	for (int c = 0; c < n; c++) {
		w[c].ok = w[c].drops == min_drops && (w[c].over - min_over) * 100 <= w[c].pkts;
		if (w[c].ok && (best < 0 || w[c].cpu_ns < w[best].cpu_ns))
			best = c;
	}
	return best;
}

int collect__label_trace(FILE *csv, const struct trace *t, const struct replay_host *h,
			 const struct collect_label_opts *o, const char *pattern, double load_pct,
			 int rep, struct collect_label_stats *st, char *err, size_t errlen)
{
	struct policy pol[COLLECT_N_CAND];
	struct replay_state *oracle = NULL, *s = NULL;
	struct rows rows[COLLECT_N_CAND] = { { 0 } };
	unsigned n_pol = 0, window = 0;
	/* each candidate's trajectory gives its share of the window's rows */
	unsigned per_cand = o->rows_per_window / COLLECT_N_CAND;
	int rc = -1;

	if (!per_cand)
		per_cand = 1;
	memset(st, 0, sizeof(*st));
	oracle = malloc(sizeof(*oracle));
	s = malloc(COLLECT_N_CAND * sizeof(*s));
	if (!oracle || !s)
		goto oom;
	for (int c = 0; c < COLLECT_N_CAND; c++) {
		rows[c].after = o->after;
		rows[c].x = calloc(WINDOW_MAX_ROWS, sizeof(*rows[c].x));
		if (!rows[c].x)
			goto oom;
	}
	for (; n_pol < COLLECT_N_CAND; n_pol++) {
		char spec[96];
		snprintf(spec, sizeof(spec), "fixed:sleep_us=%u,after=%u,burst=256",
			 collect_cand_us[n_pol], o->after);
		if (policy__init(&pol[n_pol], spec, NULL, err, errlen))
			goto out;
	}
	replay__state_init(oracle, h, 0, o->late_start);
	while (oracle->now < t->dur_ns) {
		struct window_try w[COLLECT_N_CAND];

		/*
		 * Every candidate of a window draws the same overshoots (a fair
		 * comparison), and every window draws from its own place in the
		 * samples: where the next sample follows on from the oracle's, a
		 * window that polls takes none, and a rare late wake-up of
		 * milliseconds would meet every later window's sleeps at the same
		 * point and label the rest of the run "poll".
		 */
		if (h->n_late)
			oracle->late_i = (o->late_start + (size_t)window * 7919) % h->n_late;
		for (int c = 0; c < COLLECT_N_CAND; c++) {
			rows[c].n = 0;
			try_candidate(oracle, &s[c], t, h, &pol[c], o, &w[c], &rows[c]);
		}
		int best = label(w, COLLECT_N_CAND);
		for (int c = 0; c < COLLECT_N_CAND; c++) {
			st->cand_cpu_ns[c] += w[c].cpu_ns;
			st->cand_ok[c] += w[c].ok;
		}
		/* in absolute terms: nothing over the budget beyond 1%, nothing lost */
		bool kept = !w[best].drops && w[best].over * 100 <= w[best].pkts;
		st->windows++;
		st->windows_ok += kept;
		st->label_count[best]++;
		st->oracle_cpu_ns += w[best].cpu_ns;
		/*
		 * The rows: decisions from every candidate's trajectory, not only
		 * the label's. The policy that serves will not follow the oracle
		 * exactly, and a window whose label is "poll" has no idle
		 * decision on the oracle's own path (a busy worker never turns
		 * idle there), so it would teach nothing about such a state.
		 */
		for (int c = 0; c < COLLECT_N_CAND; c++) {
			unsigned keep = rows[c].n < per_cand ? rows[c].n : per_cand;
			for (unsigned k = 0; k < keep; k++) {
				const float *x = rows[c].x[(size_t)k * rows[c].n / keep];
				fprintf(csv, "%s,%g,%.0f,%d,%u", pattern, load_pct, t->rate_pps,
					rep, window);
				for (int f = 0; f < MODEL_NFEAT; f++)
					fprintf(csv, ",%.9g", (double)x[f]);
				fprintf(csv, ",%u,%d,%lu,%.0f", collect_cand_us[best], kept,
					(unsigned long)o->floor_p99_ns, h->sleep_cpu_ns);
				for (int k2 = 0; k2 < COLLECT_N_CAND; k2++)
					fprintf(csv, ",%.0f,%d", w[k2].cpu_ns, w[k2].ok);
				fputc('\n', csv);
			}
			st->rows += keep;
		}
		/* the oracle goes on from where the label's action left it */
		*oracle = s[best];
		window++;
	}
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	for (unsigned i = 0; i < n_pol; i++)
		policy__fini(&pol[i]);
	for (int c = 0; c < COLLECT_N_CAND; c++)
		free(rows[c].x);
	free(s);
	free(oracle);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: batchrouter collect --out FILE.csv [--rstar PPS] [--loads PCT,...]\n"
	    "                           [--pattern P]... [--reps N] [--duration S]\n"
	    "                           [--window-ms W] [--rows N] [--after N]\n"
	    "                           [--latency-budget US] [--traces DIR] [--short]\n"
	    "Records one run per load (%% of R*) x pattern x repetition on the synthetic NIC,\n"
	    "fits this host's costs from a busy and a sleeping run, and labels every window\n"
	    "of every run by replaying it under each candidate sleep (0,10,20,50,100,150 us\n"
	    "after N empty polls): the cheapest that kept P(latency > budget) <= 1%% and lost\n"
	    "nothing. One CSV row per kept decision: the features, the label, and each\n"
	    "candidate's CPU and verdict in that window. Then: batchrouter train --data FILE.\n"
	    "  --rstar     nominal rate R* in packets/s (default 1000000)\n"
	    "  --loads     load percentages of R* (default 1,10,25,50,75,90; --short: 1,10,50)\n"
	    "  --pattern   cbr|poisson|onoff|stair, repeatable (default: all four)\n"
	    "  --reps      runs per (load, pattern) (default 1)\n"
	    "  --duration  seconds per run (default 1; --short: 0.3)\n"
	    "  --window-ms a label's window (default 10)\n"
	    "  --rows      decisions kept per window, spread evenly over the candidates'\n"
	    "              trajectories (default 12)\n"
	    "  --after     empty polls before a candidate sleeps (default 2, as learned's)\n"
	    "  --latency-budget  the p99 target in us (default 200)\n"
	    "  --traces    also write every recorded run there (batchrouter replay reads them)\n");
}

struct collect_cfg {
	const char *out, *traces;
	double dur, rstar, window_ms, budget_us;
	int reps;
	unsigned after, rows;
	bool patterns[GEN__MAX];
	bool any_pattern;
	bool shrt;
	double loads[COLLECT_MAX_LOADS]; /* --loads; n_loads 0: the defaults */
	unsigned n_loads;
};

static int parse(int argc, char **argv, struct collect_cfg *c)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "short", no_argument, NULL, 's' },
		{ "duration", required_argument, NULL, 'd' },
		{ "rstar", required_argument, NULL, 'R' },
		{ "reps", required_argument, NULL, 'r' },
		{ "pattern", required_argument, NULL, 'p' },
		{ "after", required_argument, NULL, 'a' },
		{ "rows", required_argument, NULL, 'n' },
		{ "window-ms", required_argument, NULL, 'w' },
		{ "latency-budget", required_argument, NULL, 'L' },
		{ "traces", required_argument, NULL, 'T' },
		{ "loads", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int opt;
	enum gen_pattern p;

	while ((opt = getopt_long(argc, argv, "o:sd:R:r:p:a:n:w:L:T:l:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			c->out = optarg;
			break;
		case 's':
			c->shrt = true;
			break;
		case 'd':
			c->dur = atof(optarg);
			break;
		case 'R':
			c->rstar = atof(optarg);
			break;
		case 'r':
			c->reps = atoi(optarg);
			break;
		case 'p':
			if (gen__pattern_parse(optarg, &p)) {
				fprintf(stderr,
					"batchrouter collect: unknown pattern '%s'; use cbr, "
					"poisson, onoff or stair\n",
					optarg);
				return 100;
			}
			c->patterns[p] = c->any_pattern = true;
			break;
		case 'a':
			c->after = (unsigned)atoi(optarg);
			break;
		case 'n':
			c->rows = (unsigned)atoi(optarg);
			break;
		case 'w':
			c->window_ms = atof(optarg);
			break;
		case 'L':
			c->budget_us = atof(optarg);
			break;
		case 'T':
			c->traces = optarg;
			break;
		case 'l': {
			int n = gen__parse_loads(optarg, c->loads, COLLECT_MAX_LOADS);
			if (n <= 0) {
				fprintf(stderr,
					"batchrouter collect: --loads wants up to %d "
					"percentages in (0, 200], comma-separated\n",
					COLLECT_MAX_LOADS);
				return 100;
			}
			c->n_loads = (unsigned)n;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 100;
		}
	}
	if (optind != argc || !c->out || c->rstar <= 0 || c->reps < 1 || c->rows < 1 ||
	    c->window_ms <= 0 || c->budget_us <= 0) {
		fprintf(stderr, "batchrouter collect: need --out FILE, --rstar > 0, --reps >= 1, "
				"--rows >= 1, --window-ms > 0 and --latency-budget > 0\n");
		usage(stderr);
		return 100;
	}
	if (c->shrt && c->dur <= 0)
		c->dur = 0.3;
	if (c->dur <= 0)
		c->dur = 1;
	if (!c->any_pattern)
		for (int i = 0; i < GEN__MAX; i++)
			c->patterns[i] = true;
	return -1;
}

/* One recorded run; written to --traces when asked. */
static int record(const struct collect_cfg *c, const char *policy, enum gen_pattern pat,
		  double rate, double dur, size_t max_polls, const char *name, struct trace *t)
{
	char err[512];
	struct run_result r;

	if (trace__alloc_run(t, rate, dur, max_polls)) {
		fprintf(stderr, "batchrouter collect: out of memory for a trace\n");
		return -1;
	}
	struct run_cfg rc = { .port = "ring:size=1024",
			      .policy = policy,
			      .duration_s = dur,
			      .rate_pps = rate,
			      .pattern = pat,
			      .frame_len = 64,
			      .latency_budget_ns = (uint64_t)(c->budget_us * 1000),
			      .record = t };
	if (run__once(&rc, &r, err, sizeof(err))) {
		fprintf(stderr, "batchrouter collect: %s\n", err);
		trace__free(t);
		return -1;
	}
	printf("  recorded %-8s %5.0f kpps %-28s cpu %5.1f%%  p99 %7.1f us  lost %lu%s%s\n",
	       gen_pattern_names[pat], rate / 1e3, policy, 100 * run__worker_cpu_frac(&r),
	       lat__percentile(r.lat, 0.99) / 1e3, (unsigned long)run__lost(&r),
	       run__disturbed(&r) ? "  (disturbed)" : "", t->truncated ? "  (truncated)" : "");
	fflush(stdout);
	run__result_free(&r);
	if (c->traces) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s.trace", c->traces, name);
		if (trace__write(t, path, err, sizeof(err))) {
			fprintf(stderr, "batchrouter collect: %s\n", err);
			trace__free(t);
			return -1;
		}
	}
	return 0;
}

/* The host model: a busy run for the costs, a sleeping one for a sleep's CPU. */
static int fit_host(const struct collect_cfg *c, struct replay_host *h)
{
	struct trace busy, sleeping;
	char err[512];
	int rc = -1;

	memset(h, 0, sizeof(*h));
	if (record(c, "busy", GEN_CBR, c->rstar * 0.3, 0.3, 400000, "fit-busy", &busy))
		return -1;
	if (record(c, "fixed:sleep_us=50,after=2", GEN_POISSON, c->rstar * 0.02, 0.3, 2000000,
		   "fit-sleeping", &sleeping)) {
		trace__free(&busy);
		return -1;
	}
	if (replay__fit_costs(&busy, h, err, sizeof(err)) ||
	    replay__fit_sleep(&sleeping, h, err, sizeof(err)))
		fprintf(stderr, "batchrouter collect: the host model: %s\n", err);
	else
		rc = 0;
	trace__free(&busy);
	trace__free(&sleeping);
	return rc;
}

int collect__main(int argc, char **argv)
{
	struct collect_cfg c = {
		.rstar = 1e6, .reps = 1, .after = 2, .rows = 12, .window_ms = 10, .budget_us = 200
	};
	static const double full_loads[] = { 1, 10, 25, 50, 75, 90 }, short_loads[] = { 1, 10, 50 };
	struct trace *tr = NULL;
	uint32_t *late = NULL;
	unsigned n_tr = 0, cap_tr = 0;
	size_t n_late = 0;
	FILE *csv = NULL;
	int rc = parse(argc, argv, &c);

	if (rc >= 0)
		return rc;
	const double *loads = c.shrt ? short_loads : full_loads;
	unsigned n_loads = c.shrt ? 3 : 6;
	if (c.n_loads) {
		loads = c.loads;
		n_loads = c.n_loads;
	}
	rc = 111;
	if (c.traces && mkdir(c.traces, 0755) && errno != EEXIST) {
		fprintf(stderr, "batchrouter collect: unable to create %s: %s\n", c.traces,
			strerror(errno));
		return 111;
	}
	if (run__eal_init("batchrouter", true))
		return 111;

	/* the floor the rails use: labels are made under the rails the runs had */
	const struct sleep_floor sf = *run__floor();
	struct replay_host h;
	printf("collect: R* %.0f pps, %.2f s per run, windows of %g ms, budget %g us; nanosleep "
	       "floor p99 %.1f us\n",
	       c.rstar, c.dur, c.window_ms, c.budget_us, sf.p99_ns / 1e3);
	if (fit_host(&c, &h))
		goto out;
	printf("host model: a poll %.1f ns + %.1f ns per frame, a sleep %.1f us of CPU\n",
	       h.poll_ns, h.pkt_ns, h.sleep_cpu_ns / 1e3);

	/* the runs; `target` sleeps wherever its rails allow, so the runs also
	 * sample this host's overshoots at every load */
	for (unsigned li = 0; li < n_loads; li++)
		for (int pat = 0; pat < GEN__MAX; pat++)
			for (int rep = 0; c.patterns[pat] && rep < c.reps; rep++) {
				if (n_tr == cap_tr) {
					cap_tr = cap_tr ? 2 * cap_tr : 16;
					struct trace *n = realloc(tr, cap_tr * sizeof(*tr));
					if (!n)
						goto oom;
					tr = n;
				}
				char name[64];
				snprintf(name, sizeof(name), "%s-%g-%d", gen_pattern_names[pat],
					 loads[li], rep);
				if (record(&c, "target", (enum gen_pattern)pat,
					   c.rstar * loads[li] / 100, c.dur, 2000000, name,
					   &tr[n_tr]))
					goto out;
				n_tr++;
			}
	/* every run's overshoots, in turn: this host's distribution */
	for (unsigned i = 0; i < n_tr; i++)
		n_late += tr[i].n_late;
	late = malloc((n_late ? n_late : 1) * sizeof(*late));
	if (!late)
		goto oom;
	n_late = 0;
	for (unsigned i = 0; i < n_tr; i++) {
		memcpy(late + n_late, tr[i].late, tr[i].n_late * sizeof(*late));
		n_late += tr[i].n_late;
	}
	h.late = late;
	h.n_late = n_late;
	h.ring_size = 1024;
	h.budget_ns = (uint64_t)(c.budget_us * 1000);
	h.floor = sf;

	csv = fopen(c.out, "w");
	if (!csv) {
		fprintf(stderr, "batchrouter collect: unable to write %s: %s\n", c.out,
			strerror(errno));
		goto out;
	}
	collect__csv_header(csv);
	fputc('\n', csv);
	struct policy_rails rails = replay__rails(&h);
	printf("labels (%zu overshoot samples; CPU of the per-window labels against each "
	       "candidate held for the whole run, %% of the labels'):\n",
	       n_late);
	printf("%-8s %5s %8s %6s %5s", "pattern", "load", "windows", "ok", "rows");
	for (int k = 0; k < COLLECT_N_CAND; k++)
		printf("   s%-4u", collect_cand_us[k]);
	printf("\n");
	unsigned i = 0;
	for (unsigned li = 0; li < n_loads; li++)
		for (int pat = 0; pat < GEN__MAX; pat++)
			for (int rep = 0; c.patterns[pat] && rep < c.reps; rep++, i++) {
				struct collect_label_stats st;
				char err[512];
				struct collect_label_opts lo = {
					.window_ns = (uint64_t)(c.window_ms * 1e6),
					.after = c.after,
					.rows_per_window = c.rows,
					.rails = &rails,
					.floor_p99_ns = sf.p99_ns,
					.late_start = n_late ? (size_t)i * 7919 % n_late : 0,
				};
				if (collect__label_trace(csv, &tr[i], &h, &lo,
							 gen_pattern_names[pat], loads[li], rep,
							 &st, err, sizeof(err))) {
					fprintf(stderr, "batchrouter collect: %s\n", err);
					goto out;
				}
				printf("%-8s %4g%% %8u %6u %5u", gen_pattern_names[pat], loads[li],
				       st.windows, st.windows_ok, st.rows);
				for (int k = 0; k < COLLECT_N_CAND; k++)
					printf(" %6.0f%s",
					       100 * st.cand_cpu_ns[k] / st.oracle_cpu_ns,
					       st.cand_ok[k] == st.windows ? " " : "!");
				printf("\n");
			}
	if (fflush(csv) || ferror(csv)) {
		fprintf(stderr, "batchrouter collect: writing %s failed: %s\n", c.out,
			strerror(errno));
		goto out;
	}
	printf("(! the candidate missed the budget in some window)\n"
	       "wrote %s; next: batchrouter train --data %s --out MODEL.json\n",
	       c.out, c.out);
	rc = 0;
	goto out;
oom:
	fprintf(stderr, "batchrouter collect: out of memory\n");
out:
	if (csv && fclose(csv) && !rc) {
		fprintf(stderr, "batchrouter collect: closing %s failed: %s\n", c.out,
			strerror(errno));
		rc = 111;
	}
	for (unsigned k = 0; k < n_tr; k++)
		trace__free(&tr[k]);
	free(tr);
	free(late);
	return rc;
}
