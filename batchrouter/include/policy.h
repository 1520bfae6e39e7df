/*
 * policy: what the worker does after each poll. A policy sees a snapshot of
 * recent history (struct policy_obs) and returns the next burst size and an
 * idle action. Policies are found by name in a table, so a learned policy is
 * one more table entry. The guard rails (policy__guard) run outside every
 * policy: no policy can sleep long enough to overflow the rx ring at the
 * current rate estimate or to exceed the latency budget, and a full burst
 * always returns to polling at once.
 */
#ifndef BATCHROUTER_POLICY_H
#define BATCHROUTER_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define POLICY_HIST 16 /* batch sizes kept for the policy, newest first */

struct policy_obs {
	uint16_t hist[POLICY_HIST]; /* last batch sizes, hist[0] = the poll just done */
	unsigned n_hist;	    /* valid entries in hist */
	uint16_t burst;		    /* burst size of the poll just done */
	uint64_t empty_polls;	    /* consecutive empty polls, including this one */
	uint64_t ns_since_pkt;	    /* since the last non-empty poll (UINT64_MAX: never) */
	double rate_pps;	    /* EWMA arrival rate */
	int64_t rx_occupancy;	    /* descriptors waiting in the rx ring, -1 unknown */
	uint32_t ring_size;	    /* rx ring slots, 0 unknown */
	uint64_t wake_late_ns;	    /* recent worst sleep overshoot (decays by time) */
	uint64_t now_ns;
};

enum idle_kind {
	IDLE_NONE,    /* poll again at once */
	IDLE_SPIN,    /* busy-wait ns (rte_delay_us-like: keeps the core) */
	IDLE_SLEEP,   /* clock_nanosleep ns */
	IDLE_WAIT_RX, /* block on the rx interrupt, at most ns */
};

struct policy_decision {
	uint16_t burst;
	enum idle_kind idle;
	uint64_t ns;
};

/* What the port offers, for policies that need it. */
struct policy_caps {
	bool rx_intr;
	uint16_t max_burst;
	uint64_t floor_p99_ns; /* this host's nanosleep overshoot p99, 0 unknown */
};

#define POLICY_MAX_PARAMS 4
#define POLICY_MAX_STR_PARAMS 3
#define POLICY_STR_LEN 256 /* a model path must fit */

struct policy;
struct policy_ops {
	const char *name;
	const char *help;
	/* parameter names and defaults; values parsed from "name:k=v,k=v" */
	const char *param_names[POLICY_MAX_PARAMS];
	double param_defaults[POLICY_MAX_PARAMS];
	/* string parameters (a path, a name); default "" unless given */
	const char *str_param_names[POLICY_MAX_STR_PARAMS];
	const char *str_param_defaults[POLICY_MAX_STR_PARAMS];
	bool needs_rx_intr;
	void (*decide)(struct policy *p, const struct policy_obs *o, struct policy_decision *d);
	/*
	 * Optional: called once after the parameters are parsed, off the data
	 * path (load a model, allocate state into p->priv). Returns 0, or -1
	 * with an actionable message. A policy with a string parameter named
	 * "fallback" is replaced by that policy when init fails.
	 */
	int (*init)(struct policy *p, const struct policy_caps *caps, char *err, size_t errlen);
	void (*fini)(struct policy *p); /* frees what init allocated */
};

struct policy {
	const struct policy_ops *ops;
	double param[POLICY_MAX_PARAMS];
	/* private state for stateful policies */
	uint64_t cur_ns;
	char spec[64];
	char str_param[POLICY_MAX_STR_PARAMS][POLICY_STR_LEN];
	void *priv; /* owned by ops->init/ops->fini */
};

/* The rails applied after the policy. */
struct policy_rails {
	uint64_t max_idle_ns;  /* no idle action longer than this (from the p99 budget) */
	uint32_t ring_margin;  /* slots kept free at the rate estimate */
	uint64_t min_sleep_ns; /* shorter sleeps become polls (nanosleep floor) */
};

extern const struct policy_ops *const policy_table[];

/*
 * Parses "name" or "name:k=v,k=v" into @p. Returns 0, or -1 with an
 * actionable message in @err (unknown name lists the known ones). Every
 * successful init is paired with policy__fini.
 */
int policy__init(struct policy *p, const char *spec, const struct policy_caps *caps, char *err,
		 size_t errlen);
/* Releases what the policy's init allocated; safe on a zeroed policy and twice. */
void policy__fini(struct policy *p);
/* The value of string parameter @name, or NULL if the policy has none. */
const char *policy__str_param(const struct policy *p, const char *name);
void policy__decide(struct policy *p, const struct policy_obs *o, struct policy_decision *d);
/* Applies the rails to @d in place. */
void policy__guard(const struct policy_rails *r, const struct policy_obs *o,
		   struct policy_decision *d);
void policy__list(FILE *f);

/*
 * The late-wake-up rail's memory: the worst recent sleep overshoot halves
 * every POLICY_LATE_HALF_NS of wall time, whatever the worker does meanwhile
 * (polling included), so one late wake-up at a high rate cannot keep a run
 * busy polling for good. Returns @late_ns decayed over @dt_ns.
 */
#define POLICY_LATE_HALF_NS 200000000ull /* 200 ms */
uint64_t policy__late_decay(uint64_t late_ns, uint64_t dt_ns);

/*
 * What is kept between polls to build the observation. The worker and the
 * replay (replay.h) both build their observations with the two functions
 * below, so a replayed policy sees what it would have seen live.
 */
struct policy_track {
	uint64_t last_poll_ns, last_pkt_ns;  /* 0: none yet */
	uint64_t late_peak_ns, late_peak_at; /* worst late wake-up, and when */
	uint64_t rate_tau_ns;		     /* the rate estimate's time constant */
};
/* Resets @o and @t for a worker that starts polling with @burst. */
void policy__track_init(struct policy_obs *o, struct policy_track *t, uint16_t burst,
			uint32_t ring_size, uint64_t rate_tau_ns);
/*
 * The observation after one poll round at @now with @burst: its largest
 * vector @max, its packets @total, the fullest queue's occupancy @occ (-1
 * unknown).
 */
void policy__observe(struct policy_obs *o, struct policy_track *t, uint16_t burst, uint16_t max,
		     uint16_t total, uint64_t now, int64_t occ);
/* A sleep that ended at @now, @late_ns after it should have. */
void policy__woke(struct policy_obs *o, struct policy_track *t, uint64_t late_ns, uint64_t now);

/* EWMA rate update with time constant tau_ns; returns the new estimate. */
double policy__ewma_rate(double rate, uint64_t pkts, uint64_t dt_ns, uint64_t tau_ns);

#endif
