/*
 * collect: the learned policy's training data. Sweeps offered load (a
 * percentage of a nominal rate), traffic pattern and a probe action (the
 * `fixed` policy: sleep S us after N empty polls) on the synthetic NIC, and
 * writes one CSV row per sampled decision: the features the policy would
 * see (model.h) next to the outcome of the whole run (CPU-ns per packet,
 * p99 latency, packets lost). `batchrouter train` turns it into a model.
 */
#ifndef BATCHROUTER_COLLECT_H
#define BATCHROUTER_COLLECT_H

#include <stdint.h>

#include "model.h"
#include "policy.h"

/*
 * The decision sampler: keeps at most @cap feature rows spread evenly over
 * a run of unknown length by halving what it holds whenever it fills.
 */
struct collect_sampler {
	float (*rows)[MODEL_NFEAT];
	unsigned n, cap;
	uint64_t stride, skip;
};

/* @cap even and >= 2; returns 0 or -1 (out of memory). */
int collect__sampler_init(struct collect_sampler *s, unsigned cap);
void collect__sampler_reset(struct collect_sampler *s);
void collect__sampler_free(struct collect_sampler *s);
/* The worker's sample hook; ctx is a struct collect_sampler *. */
void collect__sample(void *ctx, const struct policy_obs *o);

/* The columns every collect CSV starts with, in order. */
extern const char collect_csv_header[];

int collect__main(int argc, char **argv);

#endif
