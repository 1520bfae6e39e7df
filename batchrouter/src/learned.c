/*
 * The learned policy. All the work that can fail (reading, checking and
 * flattening the model, comparing its host's sleep floor with this one's)
 * happens in init, before the worker starts; decide only computes
 * features, walks the trees and clamps the result.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learned.h"
#include "model.h"

enum { P_AFTER, P_BURST, P_MAX_US, P_FLOOR_TOL_US };
enum { S_MODEL, S_INFER, S_FALLBACK };

struct learned {
	struct model m;
	bool xgb;	/* infer=xgb: XGBoost's predictor on the data path */
	uint64_t after; /* empty polls before sleeping */
	double max_us;
	struct learned_stats st;
};

/* The sleep in ns for @o; 0: poll again. */
static uint64_t predict(struct learned *l, const struct policy_obs *o)
{
	float x[MODEL_NFEAT], us;

	model__features(o, x);
	if (l->xgb) {
		if (model__predict_xgb(&l->m, x, &us)) {
			/* checked at init; if it fails now, polling is the safe action */
			l->st.xgb_errors++;
			return 0;
		}
	} else {
		us = model__predict_flat(&l->m, x);
	}
	l->st.predictions++;
	l->st.last_us = us;
	/* under 1 us is "do not sleep": the trees average actions, and a
	 * nanosleep of any length costs ~15 us of CPU; train's replay regret
	 * rounds the same way */
	if (!(us >= 1.0f))
		return 0;
	if (us > l->max_us)
		return (uint64_t)(l->max_us * 1000);
	return (uint64_t)((double)us * 1000);
}

static void learned_decide(struct policy *p, const struct policy_obs *o, struct policy_decision *d)
{
	struct learned *l = p->priv;

	d->burst = (uint16_t)p->param[P_BURST];
	d->idle = IDLE_NONE;
	d->ns = 0;
	/* every decision at or past `after` empty polls is a row of the training
	 * data: predict each of them afresh, and none of the others */
	if (o->empty_polls < l->after)
		return;
	d->ns = predict(l, o);
	if (d->ns)
		d->idle = IDLE_SLEEP;
}

/* The model's labels assume its host's wake-ups: refuse another host's. */
static int check_floor(const struct model *m, const char *path, const struct policy_caps *caps,
		       double tol_us, char *err, size_t errlen)
{
	if (!m->floor_p99_ns) {
		snprintf(err, errlen,
			 "policy learned: model %s was trained before the floor was recorded "
			 "(no %s attribute): retrain it with `batchrouter train` on data from "
			 "this build's `batchrouter collect`, or run with fallback=POLICY",
			 path, MODEL_ATTR_FLOOR);
		return -1;
	}
	if (!caps || !caps->floor_p99_ns)
		return 0; /* this host's floor unknown (tests, benchmarks of inference) */
	double there = (double)m->floor_p99_ns / 1e3, here = (double)caps->floor_p99_ns / 1e3;
	if (fabs(there - here) > tol_us) {
		snprintf(err, errlen,
			 "policy learned: model %s was trained where a wake-up overshoots %.1f us "
			 "at p99; here %.1f us (more than floor_tol_us=%g apart): its sleeps "
			 "would be wrong here; collect and train on this host, or run with "
			 "fallback=POLICY",
			 path, there, here, tol_us);
		return -1;
	}
	return 0;
}

static int learned_init(struct policy *p, const struct policy_caps *caps, char *err, size_t errlen)
{
	const char *path = p->str_param[S_MODEL], *infer = p->str_param[S_INFER];
	struct learned *l;
	char why[768];

	if (!*path) {
		snprintf(err, errlen,
			 "policy learned needs model=PATH (a file from `batchrouter train`)");
		return -1;
	}
	if (strcmp(infer, "flat") && strcmp(infer, "xgb")) {
		snprintf(err, errlen, "policy learned: infer=%s is not flat or xgb", infer);
		return -1;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "policy learned: out of memory");
		return -1;
	}
	if (model__load(&l->m, path, why, sizeof(why))) {
		snprintf(err, errlen, "policy learned: %s", why);
		free(l);
		return -1;
	}
	if (check_floor(&l->m, path, caps, p->param[P_FLOOR_TOL_US], err, errlen)) {
		model__free(&l->m);
		free(l);
		return -1;
	}
	l->xgb = !strcmp(infer, "xgb");
	l->after = (uint64_t)p->param[P_AFTER];
	l->max_us = p->param[P_MAX_US];
	p->priv = l;
	return 0;
}

static void learned_fini(struct policy *p)
{
	struct learned *l = p->priv;

	if (!l)
		return;
	model__free(&l->m);
	free(l);
	p->priv = NULL;
}

int learned__stats(const struct policy *p, struct learned_stats *s)
{
	const struct learned *l = p->priv;

	if (p->ops != &learned_policy_ops || !l)
		return -1;
	*s = l->st;
	return 0;
}

const struct policy_ops learned_policy_ops = {
	.name = "learned",
	.help = "trained trees (batchrouter train) pick the sleep at each decision with `after` "
		"or more empty polls",
	.param_names = { "after", "burst", "max_us", "floor_tol_us" },
	.param_defaults = { 2, 256, 500, LEARNED_FLOOR_TOL_US },
	.str_param_names = { "model", "infer", "fallback" },
	.str_param_defaults = { "", "flat", "" },
	.decide = learned_decide,
	.init = learned_init,
	.fini = learned_fini,
};
