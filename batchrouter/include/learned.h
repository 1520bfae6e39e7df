/*
 * learned: the policy that applies a trained model. It keeps the paper's
 * data-plane rule (sleep S after `after` empty polls) and lets the model,
 * evaluated inline on the worker thread, choose S from the observation.
 * It predicts at every decision with empty_polls >= after, with that
 * decision's features, and at no other: these are exactly the decisions
 * collect's rows record, so the model serves the distribution it was
 * trained on. Fewer empty polls: poll again, no prediction.
 *
 *   learned:model=PATH[,after=N][,burst=B][,max_us=U][,floor_tol_us=T]
 *          [,infer=flat|xgb][,fallback=POLICY]
 */
#ifndef BATCHROUTER_LEARNED_H
#define BATCHROUTER_LEARNED_H

#include <stdint.h>

#include "policy.h"

/*
 * A model's labels hold for the host whose wake-ups they were replayed
 * with: init refuses a model whose recorded nanosleep floor (p99
 * overshoot) differs from this host's by more than floor_tol_us, 20 us by
 * default. An absolute bound, not a ratio: the overshoot adds to every
 * sleep, so what matters is by how many us the model's sleeps end later
 * (or earlier) than it expects, against a 200 us budget and the rails' 40
 * us margin; a ratio would refuse 2 us vs 5 us (harmless) and accept 100
 * vs 190 us (not).
 */
#define LEARNED_FLOOR_TOL_US 20

extern const struct policy_ops learned_policy_ops;

/* What the learned policy did, for the bench and the tests. */
struct learned_stats {
	uint64_t predictions;
	uint64_t xgb_errors; /* infer=xgb only: that decision polled without sleeping */
	float last_us;	     /* the last prediction, before clamping */
};

/* Fills @s if @p is a learned policy; returns -1 otherwise. */
int learned__stats(const struct policy *p, struct learned_stats *s);

#endif
