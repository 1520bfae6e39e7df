/*
 * gen: the traffic generator. A schedule yields the intended departure time
 * of every packet (CBR, Poisson, on/off bursts, staircase); the generator
 * thread emits each packet once its time has come and stamps it with that
 * intended time, so latency includes any lateness of the generator and a
 * stalled worker cannot hide queueing (no coordinated omission).
 */
#ifndef BATCHROUTER_GEN_H
#define BATCHROUTER_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include "frame.h"
#include "stats.h"

struct trace;

enum gen_pattern { GEN_CBR, GEN_POISSON, GEN_ONOFF, GEN_STAIR, GEN__MAX };
extern const char *const gen_pattern_names[GEN__MAX];
int gen__pattern_parse(const char *s, enum gen_pattern *p);
/*
 * Parses a comma-separated list of loads, percentages of a nominal rate in
 * (0, 200], into at most @max entries of @v (modifies @s). Returns the count,
 * or -1 when malformed.
 */
int gen__parse_loads(char *s, double *v, unsigned max);

struct gen_sched {
	enum gen_pattern pattern;
	double rate_pps; /* mean rate (CBR, Poisson, on/off); top step (staircase) */
	uint64_t seq;
	double t_ns;		   /* departure time of the next packet, from the start */
	uint64_t rng;		   /* xorshift64 state: Poisson is deterministic per seed */
	uint64_t on_ns, period_ns; /* on/off: bursts of on_ns every period_ns */
	unsigned steps;		   /* staircase: rate*(k+1)/steps for step_ns each */
	uint64_t step_ns;
};

void gen__sched_init(struct gen_sched *s, enum gen_pattern p, double rate_pps, uint64_t seed);
/* Returns the departure time (ns from start) of the next packet and advances. */
uint64_t gen__next(struct gen_sched *s);
/* The pattern's highest rate over its mean (or top step): 10 for on/off. */
double gen__peak_factor(enum gen_pattern p);

struct rte_ring;
struct rte_mempool;

/* Counters the generator thread writes and the printer reads racily. */
struct gen_counters {
	uint64_t offered;   /* packets whose departure time passed */
	uint64_t sent;	    /* handed to the NIC */
	uint64_t ring_full; /* NIC rx ring full: the packet is lost */
	uint64_t no_mbuf;   /* mempool empty: the packet is lost */
	uint64_t sunk;	    /* forwarded packets that came back to the sink */
	uint64_t late_ns;   /* how late the last packet sent was on its schedule */
	uint64_t cpu_ns;
};

struct gen {
	struct gen_sched sched;
	struct frame_spec spec;
	uint32_t frame_len;
	uint64_t start_ns, duration_ns;
	/* synthetic NIC: enqueue into rx, drain and free tx */
	struct rte_ring *rx, *tx;
	struct rte_mempool *pool;
	/* AF_XDP: an AF_PACKET socket on the peer veth in the netns */
	int sock;
	uint8_t sink_mac[6];
	volatile bool stop;
	struct gen_counters c;
	struct stall_log stall; /* gaps in the generator's spinning: the machine's */
	struct trace *rec;	/* optional: every frame's arrival (run --record) */
	uint64_t last_ns;
};

/* Thread bodies; arg is a struct gen *. */
void *gen__ring_thread(void *arg);
void *gen__socket_thread(void *arg);

#endif
