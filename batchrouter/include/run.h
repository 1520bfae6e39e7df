/*
 * run: one measured run. Sets up the mempool, ports, engine and policy,
 * starts the generator and the worker on separate threads (pinned to
 * separate CPUs where there are two), prints live stats if asked, and
 * collects the result. Used by `batchrouter run`, by bench and by tests.
 */
#ifndef BATCHROUTER_RUN_H
#define BATCHROUTER_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"
#include "gen.h"
#include "learned.h"
#include "stats.h"

struct trace;

/* The p99 target: every policy's idle actions are capped to meet it. */
#define RUN_LATENCY_BUDGET_NS 200000

struct run_cfg {
	const char *port;   /* ring[:size=N] | null | afxdp[:iface=IF] */
	const char *policy; /* name[:k=v,...] */
	const char *routes; /* file; NULL: everything back out of port 0 */
	double duration_s;
	double rate_pps;
	enum gen_pattern pattern;
	uint32_t frame_len;
	uint64_t latency_budget_ns; /* p99 target; 0: RUN_LATENCY_BUDGET_NS */
	bool live;		    /* one stats line per second on stderr */
	/* optional: arrivals, polls and sleeps recorded here (trace__alloc'd;
	 * run__once fills its run figures) */
	struct trace *record;
};

struct run_result {
	double wall_s;
	struct gen_counters gen;
	struct engine_counters eng;
	uint64_t imissed, rx_nombuf;
	uint64_t polls, sleeps, spins, waits;
	uint64_t worker_cpu_ns;
	uint64_t batch_hist[ENGINE_MAX_BURST + 1];
	struct lat_hist *lat; /* allocated by run__once, freed by run__result_free */
	struct guard_report guard;
	bool learned; /* the policy was a learned one: learned_stats is valid */
	struct learned_stats learned_stats;
};

/* The EAL, once per process. @lcores e.g. "0". Returns 0 or -1. */
int run__eal_init(const char *prog, bool quiet);
/*
 * The longest idle action that keeps p99 within @budget_ns: the budget less
 * what a wake-up overshoots at p99 on this machine (nanosleep floor, measured
 * once per process) and a margin for the batch that follows.
 */
uint64_t run__max_idle_ns(uint64_t budget_ns);
/*
 * The rails every worker gets, live or replayed: idle actions capped as above
 * for @budget_ns (0: RUN_LATENCY_BUDGET_NS) and @floor (this host's, or a
 * trace's), 1/8 of a @ring_size-slot rx ring kept free, no shortest sleep.
 */
struct policy_rails run__rails(uint64_t budget_ns, const struct sleep_floor *floor,
			       uint32_t ring_size);
/* This host's nanosleep floor, measured on the first call (the quietest of
 * three rounds of 200 sleeps). */
const struct sleep_floor *run__floor(void);
/* Returns 0 and fills @r, or -1 with an actionable message in @err. */
int run__once(const struct run_cfg *cfg, struct run_result *r, char *err, size_t errlen);
void run__result_free(struct run_result *r);

/* Derived figures. */
uint64_t run__lost(const struct run_result *r);
double run__worker_cpu_frac(const struct run_result *r);
/* The guard's verdict on @r (stats__guard_disturbed over the run's wall time). */
bool run__disturbed(const struct run_result *r);
double run__avg_batch(const struct run_result *r);
void run__print(FILE *f, const struct run_cfg *cfg, const struct run_result *r);

#endif
