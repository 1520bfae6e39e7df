/*
 * The learned policy. All the work that can fail (reading, checking and
 * flattening the model) happens in init, before the worker starts; decide
 * only computes features, walks the trees and clamps the result.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learned.h"
#include "model.h"

enum { P_EVERY, P_AFTER, P_BURST, P_MAX_US };
enum { S_MODEL, S_INFER, S_FALLBACK };

struct learned {
	struct model m;
	bool xgb;	   /* infer=xgb: XGBoost's predictor on the data path */
	bool have;	   /* a prediction is cached */
	uint64_t every;	   /* re-predict after this many polls */
	uint64_t after;	   /* empty polls before sleeping */
	uint64_t since;	   /* polls since the last prediction */
	uint64_t sleep_ns; /* the cached action */
	double max_us;
	struct learned_stats st;
};

static void predict(struct learned *l, const struct policy_obs *o)
{
	float x[MODEL_NFEAT], us;

	model__features(o, x);
	if (l->xgb) {
		if (model__predict_xgb(&l->m, x, &us)) {
			/* checked at init; if it fails now, keep the last action */
			l->st.xgb_errors++;
			return;
		}
	} else {
		us = model__predict_flat(&l->m, x);
	}
	l->st.predictions++;
	l->st.last_us = us;
	l->have = true;
	l->since = 0;
	/* under 1 us is "do not sleep": the trees average actions, and a
	 * nanosleep of any length costs ~15 us of CPU */
	if (!(us >= 1.0f))
		l->sleep_ns = 0;
	else if (us > l->max_us)
		l->sleep_ns = (uint64_t)(l->max_us * 1000);
	else
		l->sleep_ns = (uint64_t)((double)us * 1000);
}

static void learned_decide(struct policy *p, const struct policy_obs *o, struct policy_decision *d)
{
	struct learned *l = p->priv;

	d->burst = (uint16_t)p->param[P_BURST];
	d->idle = IDLE_NONE;
	d->ns = 0;
	/* turning idle is when the action matters: predict with fresh features */
	if (++l->since >= l->every || !l->have || (l->after && o->empty_polls == l->after))
		predict(l, o);
	if (o->empty_polls >= l->after && l->sleep_ns) {
		d->idle = IDLE_SLEEP;
		d->ns = l->sleep_ns;
	}
}

static int learned_init(struct policy *p, const struct policy_caps *caps, char *err, size_t errlen)
{
	const char *path = p->str_param[S_MODEL], *infer = p->str_param[S_INFER];
	struct learned *l;
	char why[768];

	(void)caps;
	if (!*path) {
		snprintf(err, errlen,
			 "policy learned needs model=PATH (a file from `batchrouter train`)");
		return -1;
	}
	if (strcmp(infer, "flat") && strcmp(infer, "xgb")) {
		snprintf(err, errlen, "policy learned: infer=%s is not flat or xgb", infer);
		return -1;
	}
	if (p->param[P_EVERY] < 1) {
		snprintf(err, errlen, "policy learned: every=%g must be at least 1",
			 p->param[P_EVERY]);
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
	l->xgb = !strcmp(infer, "xgb");
	l->every = (uint64_t)p->param[P_EVERY];
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
	.help = "trained trees (batchrouter train) pick the sleep after `after` empty polls",
	.param_names = { "every", "after", "burst", "max_us" },
	.param_defaults = { 64, 2, 256, 500 },
	.str_param_names = { "model", "infer", "fallback" },
	.str_param_defaults = { "", "flat", "" },
	.decide = learned_decide,
	.init = learned_init,
	.fini = learned_fini,
};
