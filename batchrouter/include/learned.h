/*
 * learned: the policy that applies a trained model. It keeps the paper's
 * data-plane rule (sleep S after `after` empty polls) and lets the model,
 * evaluated inline on the worker thread, choose S from the observation.
 * The prediction is cached and redone every `every` polls and whenever the
 * worker turns idle, so a decision usually costs a counter increment.
 *
 *   learned:model=PATH[,every=K][,after=N][,burst=B][,max_us=U]
 *          [,infer=flat|xgb][,fallback=POLICY]
 */
#ifndef BATCHROUTER_LEARNED_H
#define BATCHROUTER_LEARNED_H

#include <stdint.h>

#include "policy.h"

extern const struct policy_ops learned_policy_ops;

/* What the learned policy did, for the bench and the tests. */
struct learned_stats {
	uint64_t predictions;
	uint64_t xgb_errors; /* infer=xgb only: the cached sleep was kept */
	float last_us;	     /* the last prediction, before clamping */
};

/* Fills @s if @p is a learned policy; returns -1 otherwise. */
int learned__stats(const struct policy *p, struct learned_stats *s);

#endif
