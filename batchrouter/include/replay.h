/*
 * replay: a recorded run played back through any policy on a model of this
 * host, to see what another action would have done. The learned policy's
 * labels come from it (collect replays each window of a trace under every
 * candidate sleep), and so does an evaluation free of the machine's noise.
 *
 * A trace holds what does not depend on the router: when each frame reached
 * the rx ring and the time it was stamped with (latency's origin), and, to
 * check the replay against the run, what the worker did (its polls, its
 * sleeps' overshoots) and the run's own CPU and p99.
 *
 * The host model: a poll round that takes k frames costs poll_ns + k * pkt_ns
 * of CPU and of wall time (the frames leave at its end); a sleep of S costs
 * sleep_cpu_ns of CPU and S plus an overshoot of wall time, the overshoots
 * taken in turn from samples of this host; a spin costs its length. The
 * observation is built by policy__observe/policy__woke, as in the worker, and
 * the rails apply, so a replayed policy decides as it would live. Not
 * modelled: preemptions while polling (the machine's stalls), cache effects
 * of long sleeps beyond sleep_cpu_ns.
 */
#ifndef BATCHROUTER_REPLAY_H
#define BATCHROUTER_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "stats.h"

struct trace_arrival {
	uint64_t at_ns;	   /* put on the rx ring (attempted), from the trace's start */
	uint64_t stamp_ns; /* its scheduled departure: latency counts from here */
};

struct trace_poll {
	uint64_t t_ns;	  /* the round's time, from the trace's start */
	uint16_t rx;	  /* frames it took */
	uint8_t idle;	  /* enum idle_kind that followed */
	uint64_t idle_ns; /* ... and its length */
};

struct trace {
	struct trace_arrival *arr;
	struct trace_poll *poll;
	uint32_t *late; /* each sleep's overshoot, ns, in order */
	size_t n_arr, n_poll, n_late, cap_arr, cap_poll, cap_late;
	bool truncated;			   /* a buffer filled during the run */
	uint64_t t0_ns;			   /* absolute start (the generator's) while recording */
	uint64_t cpu_start_ns, cpu_end_ns; /* the worker's thread CPU, while recording */
	/* the run */
	char policy[128], pattern[16];
	double rate_pps;
	uint64_t dur_ns;		  /* set before the run: polls are recorded up to it */
	uint64_t cpu_ns, sleeps, polls;	  /* over the recorded polls */
	uint64_t lat_n, lat_p99_ns, lost; /* the whole run's */
	uint32_t ring_size;
	uint64_t floor_p50_ns, floor_p99_ns, sleep_cpu_ns; /* this host's nanosleep floor */
};

/* Buffers for a run of at most the given counts; 0 or -1 (out of memory). */
int trace__alloc(struct trace *t, size_t max_arr, size_t max_poll, size_t max_late);
/* The same for a run of @dur_s at @rate_pps (every frame, 1M sleeps). */
int trace__alloc_run(struct trace *t, double rate_pps, double dur_s, size_t max_poll);
void trace__free(struct trace *t);

/* The recorders (generator thread, worker thread: one writer each). Times
 * are absolute; polls before t0_ns and after t0_ns + dur_ns are not kept. */
static inline void trace__arrive(struct trace *t, uint64_t at, uint64_t stamp)
{
	if (t->n_arr == t->cap_arr) {
		t->truncated = true;
		return;
	}
	t->arr[t->n_arr++] = (struct trace_arrival){ at - t->t0_ns, stamp - t->t0_ns };
}
static inline void trace__poll(struct trace *t, uint64_t now, uint16_t rx,
			       const struct policy_decision *d)
{
	if (now < t->t0_ns || t->cpu_end_ns)
		return;
	/* the run's CPU from its first poll to its first poll at dur_ns: the
	 * span a replay covers */
	if (!t->n_poll)
		t->cpu_start_ns = stats__thread_cpu_ns();
	if (now - t->t0_ns >= t->dur_ns)
		t->cpu_end_ns = stats__thread_cpu_ns();
	if (t->n_poll == t->cap_poll) {
		t->truncated = true;
		return;
	}
	t->poll[t->n_poll++] = (struct trace_poll){ now - t->t0_ns, rx, (uint8_t)d->idle, d->ns };
}
static inline void trace__woke(struct trace *t, uint64_t late_ns)
{
	if (t->n_poll && !t->cpu_end_ns && t->n_late < t->cap_late)
		t->late[t->n_late++] = late_ns > UINT32_MAX ? UINT32_MAX : (uint32_t)late_ns;
}

/* Text file: one "run" line of the figures, then "a AT STAMP", "p T RX IDLE
 * NS" and "l LATE" lines. 0, or -1 with a message. */
int trace__write(const struct trace *t, const char *path, char *err, size_t errlen);
int trace__read(struct trace *t, const char *path, char *err, size_t errlen);

struct replay_host {
	double poll_ns, pkt_ns; /* a round of k frames: poll_ns + k * pkt_ns */
	double sleep_cpu_ns;	/* CPU of one sleep, whatever its length */
	const uint32_t *late;	/* overshoot samples, taken in turn */
	size_t n_late;
	uint32_t ring_size;	  /* rx ring slots */
	uint64_t budget_ns;	  /* a frame later than this is a miss */
	struct sleep_floor floor; /* the rails' idle cap comes from it, as live */
};

/*
 * Fits poll_ns and pkt_ns (least squares) from the gaps between a recorded
 * busy-polling run's consecutive polls, leaving out the machine's stalls
 * (gaps of STALL_NS and more). 0, or -1 with a message (too few polls, or
 * no two batch sizes to tell the costs apart).
 */
int replay__fit_costs(const struct trace *busy, struct replay_host *h, char *err, size_t errlen);
/*
 * The CPU of one sleep, from a recorded sleeping run: what its CPU leaves
 * after its polls at @h's costs, per sleep. 0, or -1 (no sleeps).
 */
int replay__fit_sleep(const struct trace *run, struct replay_host *h, char *err, size_t errlen);

#define REPLAY_MAX_RING 4096

/* The worker and its rx ring at one instant; copied to try another action. */
struct replay_state {
	uint64_t now;		     /* from the trace's start */
	size_t next_arr;	     /* the first arrival not yet on the ring */
	size_t late_i;		     /* the next overshoot sample */
	uint32_t q[REPLAY_MAX_RING]; /* arrivals on the ring, oldest at qh */
	uint32_t qh, qn;
	uint16_t burst;
	struct policy_obs obs;
	struct policy_track track;
};

struct replay_result {
	uint64_t cpu_ns, polls, sleeps, spins, pkts, drops, over_budget;
	uint64_t t_start, t_end; /* the replayed span */
	struct lat_hist *lat;	 /* optional: every frame's latency */
};

/* A decision the replay made, before its idle action (collect's rows). */
typedef void (*replay_decide_cb)(void *ctx, const struct policy_obs *o,
				 const struct policy_decision *d);

void replay__state_init(struct replay_state *s, const struct replay_host *h, uint64_t now,
			size_t late_i);
/*
 * Plays @t from @s through policy @p and rails @r until the first poll at or
 * after @until (or the trace's end, dur_ns), advancing @s and adding to @res
 * (zero it first). @cb, if set, sees every decision. @h->ring_size must be
 * at most REPLAY_MAX_RING.
 */
void replay__run(struct replay_state *s, const struct trace *t, const struct replay_host *h,
		 struct policy *p, const struct policy_rails *r, uint64_t until,
		 struct replay_result *res, replay_decide_cb cb, void *ctx);

#endif
