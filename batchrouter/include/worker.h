/*
 * worker: the poll loop. One worker owns a set of rx queues (one queue in
 * the measured runs; in the router, the (port, queue) pairs assigned to its
 * lcore) and one tx queue on every port. Each iteration walks its own
 * instance of the engine's graph, whose source node (br_rx) polls every queue
 * of the set with the burst the policy chose; then accounting -> policy ->
 * rails -> idle action. The
 * controller runs inline on the worker's thread, so the worker's thread CPU
 * time includes the controller's cost.
 */
#ifndef BATCHROUTER_WORKER_H
#define BATCHROUTER_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "policy.h"
#include "replay.h"
#include "stats.h"

struct port;

#define WORKER_MAX_RXQ 16

/* One rx queue a worker polls, with its own counters (per-queue telemetry). */
struct worker_rxq {
	struct port *port;
	uint16_t q;
	uint64_t rx, polls;
};

struct worker {
	const struct engine *eng;
	struct port *ports; /* output ports, indexed as in the routes */
	unsigned n_ports;
	struct port *rx; /* single-queue shorthand: rxq[0] = { rx, 0 } if n_rxq is 0 */
	struct worker_rxq rxq[WORKER_MAX_RXQ];
	unsigned n_rxq;
	uint16_t tx_q; /* this worker's tx queue on every port */
	struct policy *pol;
	struct policy_rails rails;
	uint64_t (*clock)(void); /* stats__now_ns; the tests substitute a script */
	uint64_t rate_tau_ns;	 /* 0: policy__track_init's default */
	struct trace *rec;	 /* optional: polls and sleeps recorded (run --record) */

	/* state */
	struct policy_obs obs;
	uint16_t burst;
	struct policy_track track;
	uint64_t asked_idle_ns; /* the last idle action's length, for stall__note */
	bool asked_sleep;	/* ... and whether it was a sleep */
	int intr_epfd; /* the rx queues' interrupts, while the loop runs with them; else -1 */
	volatile bool stop;

	/* accounting; single writer, read racily by the stats printer */
	struct engine_counters c;
	uint64_t polls, sleeps, spins, waits, idle_req_ns;
	uint64_t batch_hist[ENGINE_MAX_BURST + 1];
	uint64_t cpu_ns;	      /* at the end; while running, refreshed every ~10 ms */
	struct stall_log stall;	      /* the machine's gaps between busy polls */
	struct stall_log late_wakeup; /* stalls during a sleep: it overshot */
	struct lat_hist *lat;

	struct engine_graph eg;
	/* the last round, as br_rx saw it */
	uint16_t round_max, round_total;
	uint64_t round_now;
};

/*
 * Zeroes state and counters and creates the worker's graph (on the main
 * thread); @lat must be allocated by the caller. Returns -1 with a message in
 * @err if DPDK refuses the graph. worker__fini destroys it; a worker that is
 * initialised again must be finished first.
 */
int worker__init(struct worker *w, char *err, size_t errlen);
void worker__fini(struct worker *w);
/* One iteration without the idle action; returns the batch size. */
uint16_t worker__poll(struct worker *w, struct policy_decision *d);
/*
 * Performs the idle action: a sleep, a spin, or a wait for any of the
 * worker's rx queues' interrupts (a sleep where the loop has none).
 */
void worker__idle(struct worker *w, const struct policy_decision *d);
/* Thread body: poll/idle until w->stop; arg is a struct worker *. */
void *worker__thread(void *arg);
/* The same on an EAL lcore (rte_eal_remote_launch); returns 0. */
int worker__lcore(void *arg);

#endif
