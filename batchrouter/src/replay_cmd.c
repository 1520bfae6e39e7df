/*
 * batchrouter replay: a recorded run (run --record) played back through a
 * policy on the host model fitted from two other recorded runs, beside the
 * run's own figures.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "replay_cmd.h"
#include "run.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: batchrouter replay --trace FILE --busy FILE --sleeping FILE\n"
		   "                          [--policy P]... [--latency-budget US]\n"
		   "Replays the arrivals of --trace through each policy (default: the one the\n"
		   "trace was recorded with) on a model of this host: a poll's and a frame's\n"
		   "cost fitted from --busy (a trace of a busy-polling run), a sleep's CPU from\n"
		   "--sleeping (a trace of a sleeping run), and --trace's own sleep overshoots,\n"
		   "taken in turn. Prints each replay's CPU, p99 and drops beside the recorded\n"
		   "run's. Traces come from `batchrouter run --record FILE`.\n");
}

int replay__host_from(struct replay_host *h, const char *busy, const char *sleeping,
		      const struct trace *t, uint64_t budget_ns, char *err, size_t errlen)
{
	struct trace b, s;
	char why[384];
	int rc = -1;

	memset(h, 0, sizeof(*h));
	if (trace__read(&b, busy, why, sizeof(why))) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	if (replay__fit_costs(&b, h, why, sizeof(why))) {
		snprintf(err, errlen, "%s: %s", busy, why);
		trace__free(&b);
		return -1;
	}
	trace__free(&b);
	if (trace__read(&s, sleeping, why, sizeof(why))) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	if (replay__fit_sleep(&s, h, why, sizeof(why)))
		snprintf(err, errlen, "%s: %s", sleeping, why);
	else
		rc = 0;
	trace__free(&s);
	h->late = t->late;
	h->n_late = t->n_late;
	h->ring_size = t->ring_size > REPLAY_MAX_RING ? REPLAY_MAX_RING : t->ring_size;
	h->budget_ns = budget_ns;
	h->floor = (struct sleep_floor){ .p50_ns = t->floor_p50_ns,
					 .p99_ns = t->floor_p99_ns,
					 .cpu_per_sleep_ns = t->sleep_cpu_ns };
	return rc;
}

int replay__whole(const struct trace *t, const struct replay_host *h, const char *policy,
		  struct replay_result *res, char *err, size_t errlen)
{
	struct policy p;
	struct policy_rails rails = replay__rails(h);
	static struct replay_state s;

	memset(res, 0, sizeof(*res));
	res->lat = calloc(1, sizeof(*res->lat));
	if (!res->lat) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (policy__init(&p, policy, NULL, err, errlen)) {
		free(res->lat);
		res->lat = NULL;
		return -1;
	}
	replay__state_init(&s, h, 0, 0);
	replay__run(&s, t, h, &p, &rails, t->dur_ns, res, NULL, NULL);
	policy__fini(&p);
	return 0;
}

int replay__main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "trace", required_argument, NULL, 't' },
		{ "busy", required_argument, NULL, 'b' },
		{ "sleeping", required_argument, NULL, 's' },
		{ "policy", required_argument, NULL, 'p' },
		{ "latency-budget", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *trace = NULL, *busy = NULL, *sleeping = NULL, *pol[16];
	unsigned n_pol = 0;
	uint64_t budget = RUN_LATENCY_BUDGET_NS;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "t:b:s:p:L:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			trace = optarg;
			break;
		case 'b':
			busy = optarg;
			break;
		case 's':
			sleeping = optarg;
			break;
		case 'p':
			if (n_pol == 16) {
				fprintf(stderr, "batchrouter replay: at most 16 policies\n");
				return 100;
			}
			pol[n_pol++] = optarg;
			break;
		case 'L':
			budget = (uint64_t)(atof(optarg) * 1000);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 100;
		}
	}
	if (!trace || !busy || !sleeping || optind != argc) {
		usage(stderr);
		return 100;
	}

	struct trace t;
	struct replay_host h;
	char err[512];
	if (trace__read(&t, trace, err, sizeof(err)) ||
	    replay__host_from(&h, busy, sleeping, &t, budget, err, sizeof(err))) {
		fprintf(stderr, "batchrouter replay: %s\n", err);
		return 111;
	}
	if (!n_pol)
		pol[n_pol++] = t.policy;
	printf("host model: poll %.1f ns + %.1f ns per frame, %.1f us of CPU per sleep, %zu "
	       "overshoot samples\n",
	       h.poll_ns, h.pkt_ns, h.sleep_cpu_ns / 1e3, h.n_late);
	printf("%-48s %10s %9s %9s %8s %8s\n", "", "cpu_ms", "p99_us", "frames", "drops", "sleeps");
	printf("%-48s %10.2f %9.1f %9lu %8lu %8lu\n", "recorded run", t.cpu_ns / 1e6,
	       t.lat_p99_ns / 1e3, (unsigned long)t.lat_n, (unsigned long)t.lost,
	       (unsigned long)t.sleeps);
	for (unsigned i = 0; i < n_pol; i++) {
		struct replay_result r;
		if (replay__whole(&t, &h, pol[i], &r, err, sizeof(err))) {
			fprintf(stderr, "batchrouter replay: %s\n", err);
			rc = 111;
			continue;
		}
		char name[64];
		snprintf(name, sizeof(name), "replay %s", pol[i]);
		printf("%-48s %10.2f %9.1f %9lu %8lu %8lu\n", name, r.cpu_ns / 1e6,
		       lat__percentile(r.lat, 0.99) / 1e3, (unsigned long)r.pkts,
		       (unsigned long)r.drops, (unsigned long)r.sleeps);
		free(r.lat);
	}
	trace__free(&t);
	return rc;
}
