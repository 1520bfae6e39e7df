/*
 * The data sweep behind the learned policy. Actions are interleaved within
 * each (load, pattern) group, so a disturbance from the VMs that share this
 * machine hits every action of a group alike; the interference guard of each
 * run is written next to its outcome so train can see it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect.h"
#include "run.h"

#define COLLECT_MAX_LOADS 16

const char collect_csv_header[] =
    "run,pattern,load_pct,rate_pps,rep,sleep_us,after,"
    "f_mean_batch,f_max_batch,f_empty_polls,f_us_since_pkt,f_rate_kpps,f_rx_occ,"
    "cpu_ns_per_pkt,p99_us,lost,offered,worker_cpu,avg_batch,others_cpu,steal_pct";

int collect__sampler_init(struct collect_sampler *s, unsigned cap)
{
	memset(s, 0, sizeof(*s));
	if (cap < 2 || cap % 2)
		return -1;
	s->rows = calloc(cap, sizeof(*s->rows));
	if (!s->rows)
		return -1;
	s->cap = cap;
	s->stride = 1;
	return 0;
}

void collect__sampler_reset(struct collect_sampler *s)
{
	s->n = 0;
	s->stride = 1;
	s->skip = 0;
}

void collect__sampler_free(struct collect_sampler *s)
{
	free(s->rows);
	memset(s, 0, sizeof(*s));
}

void collect__sample(void *ctx, const struct policy_obs *o)
{
	struct collect_sampler *s = ctx;

	if (s->skip) {
		s->skip--;
		return;
	}
	if (s->n == s->cap) {
		/* keep every other row: the spacing doubles and stays even
		 * over the whole run, whatever its length */
		for (unsigned i = 0; i < s->cap / 2; i++)
			memcpy(s->rows[i], s->rows[2 * i], sizeof(s->rows[i]));
		s->n = s->cap / 2;
		s->stride *= 2;
	}
	model__features(o, s->rows[s->n++]);
	s->skip = s->stride - 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: batchrouter collect --out FILE.csv [--short] [--duration S] [--rstar PPS]\n"
		"                           [--reps N] [--pattern P]... [--after N] [--every N]\n"
		"                           [--samples N] [--loads PCT,...]\n"
		"Runs the probe policy fixed:sleep_us=S,after=N on the synthetic NIC for every\n"
		"load (%% of R*) x pattern x S, and writes one CSV row per sampled decision: the\n"
		"learned policy's features and the run's outcome (CPU-ns/packet, p99, lost).\n"
		"Train a model on it with `batchrouter train --data FILE.csv --out MODEL`.\n"
		"  --rstar    nominal rate R* in packets/s (default 1000000)\n"
		"  --duration seconds per run (default 1; --short: 0.3)\n"
		"  --short    loads 1,10,50%%, S in 0,20,70,150 us (about 20 s in all);\n"
		"             otherwise loads 1,5,10,25,50,75,90%%, S in 0,10,20,40,70,100,150\n"
		"  --loads    load percentages of R*, comma-separated (replaces the above)\n"
		"  --pattern  cbr|poisson|onoff|stair, repeatable (default: all four)\n"
		"  --reps     runs per (load, pattern, S) (default 1)\n"
		"  --after    empty polls before the probe sleeps (default 2, as learned's)\n"
		"  --every    sample every Nth decision (default 64)\n"
		"  --samples  at most N rows per run, spread over it (default 256)\n");
}

struct collect_cfg {
	const char *out;
	double dur, rstar;
	int reps;
	unsigned after, every, samples;
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
		{ "every", required_argument, NULL, 'e' },
		{ "samples", required_argument, NULL, 'n' },
		{ "loads", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int opt;
	enum gen_pattern p;

	while ((opt = getopt_long(argc, argv, "o:sd:R:r:p:a:e:n:l:h", opts, NULL)) != -1) {
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
		case 'e':
			c->every = (unsigned)atoi(optarg);
			break;
		case 'n':
			c->samples = (unsigned)atoi(optarg);
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
	if (optind != argc || !c->out || c->rstar <= 0 || c->reps < 1 || c->every < 1 ||
	    c->samples < 2 || c->samples % 2 || c->samples > 1 << 20) {
		fprintf(stderr, "batchrouter collect: need --out FILE, --rstar > 0, --reps >= 1, "
				"--every >= 1 and an even --samples of 2..1048576\n");
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

/* One run of the probe; appends its sampled rows to @csv. */
static int one_run(FILE *csv, const struct collect_cfg *c, struct collect_sampler *s,
		   unsigned run_id, enum gen_pattern pat, double load, int rep, double sleep_us)
{
	char policy[96], err[512];
	struct run_result r;
	double rate = c->rstar * load / 100;

	snprintf(policy, sizeof(policy), "fixed:sleep_us=%g,after=%u,burst=256", sleep_us,
		 c->after);
	struct run_cfg rc = { .port = "ring:size=1024",
			      .policy = policy,
			      .duration_s = c->dur,
			      .rate_pps = rate,
			      .pattern = pat,
			      .frame_len = 64,
			      .sample = collect__sample,
			      .sample_ctx = s,
			      .sample_every = c->every };
	collect__sampler_reset(s);
	if (run__once(&rc, &r, err, sizeof(err))) {
		fprintf(stderr, "batchrouter collect: %s\n", err);
		return -1;
	}
	/* a run that forwarded nothing charges its CPU to what was offered */
	uint64_t pkts = r.eng.forwarded ? r.eng.forwarded : (r.gen.offered ? r.gen.offered : 1);
	double cpu_pp = (double)r.worker_cpu_ns / (double)pkts;
	double p99 = lat__percentile(r.lat, 0.99) / 1e3;
	unsigned long lost = (unsigned long)run__lost(&r);

	for (unsigned i = 0; i < s->n; i++) {
		const float *x = s->rows[i];
		fprintf(csv, "%u,%s,%g,%.0f,%d,%g,%u", run_id, gen_pattern_names[pat], load, rate,
			rep, sleep_us, c->after);
		for (int f = 0; f < MODEL_NFEAT; f++)
			fprintf(csv, ",%.9g", (double)x[f]);
		fprintf(csv, ",%.1f,%.1f,%lu,%lu,%.4f,%.2f,%.2f,%.2f\n", cpu_pp, p99, lost,
			(unsigned long)r.gen.offered, run__worker_cpu_frac(&r), run__avg_batch(&r),
			r.guard.others_cpu, r.guard.steal_pct);
	}
	printf("%-7s %5g%% %9.0f pps  sleep %3g us: cpu/pkt %9.0f ns  p99 %9.1f us  lost %6lu  "
	       "rows %u%s\n",
	       gen_pattern_names[pat], load, rate, sleep_us, cpu_pp, p99, lost, s->n,
	       run__disturbed(&r) ? "  (disturbed)" : "");
	fflush(stdout);
	run__result_free(&r);
	return 0;
}

int collect__main(int argc, char **argv)
{
	struct collect_cfg c = { .rstar = 1e6, .reps = 1, .after = 2, .every = 64, .samples = 256 };
	static const double full_loads[] = { 1, 5, 10, 25, 50, 75, 90 },
			    short_loads[] = { 1, 10, 50 };
	/* sleeps up to the rails' cap under the default p99 budget (about 150 us
	 * here): a longer probe would be cut to the cap, a duplicate of it */
	static const double full_acts[] = { 0, 10, 20, 40, 70, 100, 150 },
			    short_acts[] = { 0, 20, 70, 150 };
	struct collect_sampler s;
	FILE *csv = NULL;
	unsigned run_id = 0;
	int rc = parse(argc, argv, &c);

	if (rc >= 0)
		return rc;
	const double *loads = c.shrt ? short_loads : full_loads;
	const double *acts = c.shrt ? short_acts : full_acts;
	unsigned n_loads = c.shrt ? 3 : 7, n_acts = c.shrt ? 4 : 7;
	if (c.n_loads) {
		loads = c.loads;
		n_loads = c.n_loads;
	}

	if (collect__sampler_init(&s, c.samples)) {
		fprintf(stderr, "batchrouter collect: out of memory for %u samples\n", c.samples);
		return 111;
	}
	rc = 111;
	csv = fopen(c.out, "w");
	if (!csv) {
		fprintf(stderr, "batchrouter collect: unable to write %s: %s\n", c.out,
			strerror(errno));
		goto out;
	}
	if (run__eal_init("batchrouter", true))
		goto out;
	fprintf(csv, "%s\n", collect_csv_header);
	printf("collect: R* %.0f pps, %.2f s per run, after %u empty polls, every %u-th "
	       "decision, <= %u rows per run\n",
	       c.rstar, c.dur, c.after, c.every, c.samples);
	for (unsigned li = 0; li < n_loads; li++)
		for (int pat = 0; pat < GEN__MAX; pat++)
			for (int rep = 0; c.patterns[pat] && rep < c.reps; rep++)
				for (unsigned ai = 0; ai < n_acts; ai++)
					if (one_run(csv, &c, &s, run_id++, (enum gen_pattern)pat,
						    loads[li], rep, acts[ai]))
						goto out;
	if (fflush(csv) || ferror(csv)) {
		fprintf(stderr, "batchrouter collect: writing %s failed: %s\n", c.out,
			strerror(errno));
		goto out;
	}
	printf("wrote %s (%u runs); next: batchrouter train --data %s --out MODEL.json\n", c.out,
	       run_id, c.out);
	rc = 0;
out:
	if (csv && fclose(csv) && !rc) {
		fprintf(stderr, "batchrouter collect: closing %s failed: %s\n", c.out,
			strerror(errno));
		rc = 111;
	}
	collect__sampler_free(&s);
	return rc;
}
