/*
 * The policies. Each is a pure function of the observation plus a little
 * private state, so the tests can drive them with made-up traces.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <rte_kvargs.h>

#include "learned.h"
#include "policy.h"

#define US 1000ull

/* P0: busy polling; the burst is the only knob. */
static void busy_decide(struct policy *p, const struct policy_obs *o, struct policy_decision *d)
{
	(void)o;
	d->burst = (uint16_t)p->param[0];
	d->idle = IDLE_NONE;
	d->ns = 0;
}

/* P1: the paper's data-plane rule with a constant: sleep S after N empty polls. */
static void fixed_decide(struct policy *p, const struct policy_obs *o, struct policy_decision *d)
{
	d->burst = (uint16_t)p->param[2];
	d->idle = IDLE_NONE;
	d->ns = 0;
	if (o->empty_polls >= (uint64_t)p->param[1]) {
		d->idle = IDLE_SLEEP;
		d->ns = (uint64_t)(p->param[0] * US);
	}
}

/*
 * The ovs rule's sleep, shared by ovs and vector: reset by a busy batch,
 * else grown by step_us up to max_us. State: p->cur_ns.
 */
static void sleep_backoff(struct policy *p, bool busy, double step_us, double max_us,
			  struct policy_decision *d)
{
	uint64_t step = (uint64_t)(step_us * US), max = (uint64_t)(max_us * US);

	if (busy) {
		p->cur_ns = 0;
	} else {
		p->cur_ns += step;
		if (p->cur_ns > max)
			p->cur_ns = max;
	}
	d->idle = p->cur_ns ? IDLE_SLEEP : IDLE_NONE;
	d->ns = p->cur_ns;
}

/*
 * P2: OVS pmd-sleep-max / testpmd --max-sleep-us: while batches are under
 * half of 32, grow the sleep by a step up to a cap; a batch of >= 16 resets
 * it. The step is 10 us rather than OVS's 1 us because a nanosleep costs
 * ~15 us of CPU here, so sub-floor steps would only add wake-ups.
 */
static void ovs_decide(struct policy *p, const struct policy_obs *o, struct policy_decision *d)
{
	d->burst = (uint16_t)p->param[2];
	sleep_backoff(p, o->n_hist && o->hist[0] >= 16, p->param[1], p->param[0], d);
}

/*
 * P3: l3fwd-power's legacy heuristic: after 10 empty polls spin 1 us
 * (rte_delay_us), after 300 empty polls suspend for 300 us, by rx interrupt
 * where the port has one, by sleeping otherwise.
 */
static void ladder_decide(struct policy *p, const struct policy_obs *o, struct policy_decision *d)
{
	d->burst = (uint16_t)p->param[2];
	d->idle = IDLE_NONE;
	d->ns = 0;
	if (o->empty_polls >= (uint64_t)p->param[1]) {
		d->idle = p->cur_ns ? IDLE_WAIT_RX : IDLE_SLEEP; /* cur_ns = 1: port has rx intr */
		d->ns = (uint64_t)(p->param[0] * US);
	} else if (o->empty_polls >= 10) {
		d->idle = IDLE_SPIN;
		d->ns = 1 * US;
	}
}

/*
 * P5: analytic target batch (Metronome/SmartBatching): sleep just long
 * enough for B* packets to be waiting, S = (B* - backlog) / rate, clamped.
 * A batch already at the target means we are behind: poll again at once.
 */
static void target_decide(struct policy *p, const struct policy_obs *o, struct policy_decision *d)
{
	double target = p->param[0], smax = p->param[1] * US;
	double backlog = o->rx_occupancy > 0 ? (double)o->rx_occupancy : 0;

	d->burst = (uint16_t)p->param[2];
	d->idle = IDLE_NONE;
	d->ns = 0;
	if (o->n_hist && o->hist[0] >= target)
		return;
	if (backlog >= target)
		return;
	double s = o->rate_pps > 0 ? (target - backlog) / o->rate_pps * 1e9 : smax;
	if (s > smax)
		s = smax;
	d->idle = IDLE_SLEEP;
	d->ns = (uint64_t)s;
}

/* P4: block on the rx interrupt after N empty polls, with a timeout. */
static void intr_decide(struct policy *p, const struct policy_obs *o, struct policy_decision *d)
{
	d->burst = (uint16_t)p->param[2];
	d->idle = IDLE_NONE;
	d->ns = 0;
	if (o->empty_polls >= (uint64_t)p->param[1]) {
		d->idle = IDLE_WAIT_RX;
		d->ns = (uint64_t)(p->param[0] * US);
	}
}

/*
 * P6: the vector size adapts (VPP's vector-rate idea applied to the rx
 * burst). A poll that fills the burst means more is waiting: double it, up
 * to max, so a loaded queue is drained in big vectors whose fixed costs
 * (rx/tx calls, node dispatch, prefetch warm-up) are shared by many packets.
 * When the last POLICY_HIST batches average under a quarter of the burst,
 * halve it, down to min: a light load gets small vectors, so one queue's
 * poll no longer holds a worker's other queues for a 256-packet vector and
 * the first packet of a vector waits for fewer behind it. Between these the
 * burst holds (hysteresis: x1/4 to shrink, full to grow). Idle: the ovs
 * rule (grow the sleep by step_us while batches are under min/2, cap max_us).
 * State: p->cur_ns is the sleep; the burst is the one the worker polled with.
 */
static void vector_decide(struct policy *p, const struct policy_obs *o, struct policy_decision *d)
{
	uint16_t lo = (uint16_t)p->param[0], hi = (uint16_t)p->param[1];
	uint16_t b = o->burst >= lo && o->burst <= hi ? o->burst : lo;

	if (o->n_hist && o->hist[0] >= b) {
		b = b * 2 > hi ? hi : (uint16_t)(b * 2);
	} else if (o->n_hist == POLICY_HIST) {
		unsigned sum = 0;
		for (unsigned i = 0; i < POLICY_HIST; i++)
			sum += o->hist[i];
		if (sum * 4 < (unsigned)b * POLICY_HIST)
			b = b / 2 < lo ? lo : (uint16_t)(b / 2);
	}
	d->burst = b;

	sleep_backoff(p, o->n_hist && o->hist[0] * 2 >= lo, p->param[3], p->param[2], d);
}

static const struct policy_ops busy_ops = {
	.name = "busy",
	.help = "busy polling, never idles",
	.param_names = { "burst" },
	.param_defaults = { 32 },
	.decide = busy_decide,
};
static const struct policy_ops busy64_ops = {
	.name = "busy64",
	.help = "busy polling, burst 64",
	.param_names = { "burst" },
	.param_defaults = { 64 },
	.decide = busy_decide,
};
static const struct policy_ops busy256_ops = {
	.name = "busy256",
	.help = "busy polling, burst 256 (the R* reference)",
	.param_names = { "burst" },
	.param_defaults = { 256 },
	.decide = busy_decide,
};
static const struct policy_ops fixed_ops = {
	.name = "fixed",
	.help = "sleep sleep_us after `after` consecutive empty polls",
	.param_names = { "sleep_us", "after", "burst" },
	.param_defaults = { 100, 2, 256 },
	.decide = fixed_decide,
};
static const struct policy_ops ovs_ops = {
	.name = "ovs",
	.help = "OVS/testpmd: grow the sleep by step_us while batches < 16, cap max_us",
	.param_names = { "max_us", "step_us", "burst" },
	.param_defaults = { 250, 10, 256 },
	.decide = ovs_decide,
};
static const struct policy_ops ladder_ops = {
	.name = "ladder",
	.help = "l3fwd-power: spin 1us after 10 empty polls, suspend suspend_us after `after`",
	.param_names = { "suspend_us", "after", "burst" },
	.param_defaults = { 300, 300, 256 },
	.decide = ladder_decide,
};
static const struct policy_ops target_ops = {
	.name = "target",
	.help = "analytic: sleep (target - backlog)/rate, at most max_us",
	.param_names = { "target", "max_us", "burst" },
	.param_defaults = { 64, 500, 256 },
	.decide = target_decide,
};
static const struct policy_ops intr_ops = {
	.name = "intr",
	.help = "wait for the rx interrupt (timeout_us) after `after` empty polls",
	.param_names = { "timeout_us", "after", "burst" },
	.param_defaults = { 1000, 2, 256 },
	.needs_rx_intr = true,
	.decide = intr_decide,
};

static const struct policy_ops vector_ops = {
	.name = "vector",
	.help = "adaptive burst: double it after a full poll, halve it when batches "
		"average < 1/4 of it; ovs-style sleep",
	.param_names = { "min", "max", "max_us", "step_us" },
	.param_defaults = { 16, 256, 250, 10 },
	.decide = vector_decide,
};

const struct policy_ops *const policy_table[] = {
	&busy_ops,   &busy64_ops, &busy256_ops,	       &fixed_ops,  &ovs_ops, &ladder_ops,
	&target_ops, &intr_ops,	  &learned_policy_ops, &vector_ops, NULL,
};

void policy__list(FILE *f)
{
	for (const struct policy_ops *const *t = policy_table; *t; t++) {
		fprintf(f, "  %-8s %s\n          params:", (*t)->name, (*t)->help);
		for (int i = 0; i < POLICY_MAX_PARAMS && (*t)->param_names[i]; i++)
			fprintf(f, " %s=%g", (*t)->param_names[i], (*t)->param_defaults[i]);
		for (int i = 0; i < POLICY_MAX_STR_PARAMS && (*t)->str_param_names[i]; i++)
			fprintf(f, " %s=%s", (*t)->str_param_names[i],
				(*t)->str_param_defaults[i] ? (*t)->str_param_defaults[i] : "");
		fputc('\n', f);
	}
}

const char *policy__str_param(const struct policy *p, const char *name)
{
	for (int i = 0; i < POLICY_MAX_STR_PARAMS && p->ops->str_param_names[i]; i++)
		if (!strcmp(p->ops->str_param_names[i], name))
			return p->str_param[i];
	return NULL;
}

/* Stores "k=v" into a string parameter; 1 if @k is none, -1 if too long. */
static int set_str_param(struct policy *p, const char *k, const char *v, char *err, size_t errlen)
{
	for (int i = 0; i < POLICY_MAX_STR_PARAMS && p->ops->str_param_names[i]; i++) {
		if (strcmp(p->ops->str_param_names[i], k))
			continue;
		if (strlen(v) >= sizeof(p->str_param[i])) {
			snprintf(err, errlen, "policy %s: %s is longer than %zu characters",
				 p->ops->name, k, sizeof(p->str_param[i]) - 1);
			return -1;
		}
		snprintf(p->str_param[i], sizeof(p->str_param[i]), "%s", v);
		return 0;
	}
	return 1;
}

/* The "k=v,k=v" after the name: DPDK's own device-argument syntax (rte_kvargs). */
static int set_params(struct policy *p, const char *params, char *err, size_t errlen)
{
	const struct policy_ops *ops = p->ops;
	struct rte_kvargs *kv;
	int ret = -1;

	if (!params || !*params)
		return 0;
	kv = rte_kvargs_parse(params, NULL);
	if (!kv) {
		snprintf(err, errlen, "policy %s: '%s' is not a list of k=v", ops->name, params);
		return -1;
	}
	for (unsigned n = 0; n < kv->count; n++) {
		const char *k = kv->pairs[n].key, *val = kv->pairs[n].value;
		char *end;
		int i, rc;

		if (!val) { /* rte_kvargs takes a key alone */
			snprintf(err, errlen, "policy %s: '%s' is not k=v", ops->name, k);
			goto out;
		}
		rc = set_str_param(p, k, val, err, errlen);
		if (rc < 0)
			goto out;
		if (rc == 0)
			continue;
		for (i = 0; i < POLICY_MAX_PARAMS && ops->param_names[i]; i++)
			if (!strcmp(ops->param_names[i], k))
				break;
		if (i == POLICY_MAX_PARAMS || !ops->param_names[i]) {
			snprintf(err, errlen,
				 "policy %s has no parameter '%s' (see 'batchrouter policies')",
				 ops->name, k);
			goto out;
		}
		double v = strtod(val, &end);
		if (*end || end == val || v < 0) {
			snprintf(err, errlen, "policy %s: %s='%s' is not a non-negative number",
				 ops->name, k, val);
			goto out;
		}
		p->param[i] = v;
	}
	ret = 0;
out:
	rte_kvargs_free(kv);
	return ret;
}

int policy__init(struct policy *p, const char *spec, const struct policy_caps *caps, char *err,
		 size_t errlen)
{
	char buf[POLICY_STR_LEN * 2], *params;
	const struct policy_ops *ops = NULL;

	memset(p, 0, sizeof(*p));
	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "policy spec is longer than %zu characters", sizeof(buf) - 1);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", spec);
	snprintf(p->spec, sizeof(p->spec), "%s", spec);
	params = strchr(buf, ':');
	if (params)
		*params++ = '\0';
	for (const struct policy_ops *const *t = policy_table; *t; t++)
		if (!strcmp((*t)->name, buf))
			ops = *t;
	if (!ops) {
		int off = snprintf(err, errlen, "unknown policy '%s'; known:", buf);
		for (const struct policy_ops *const *t = policy_table; *t; t++)
			if (off > 0 && (size_t)off < errlen)
				off += snprintf(err + off, errlen - off, " %s", (*t)->name);
		return -1;
	}
	if (ops->needs_rx_intr && !(caps && caps->rx_intr)) {
		snprintf(err, errlen,
			 "policy '%s' needs rx interrupts, which this port's PMD does not offer "
			 "(net_tap and most NICs' PMDs do; memif, pcap and rings do not); use "
			 "ladder or target on this port",
			 ops->name);
		return -1;
	}
	p->ops = ops;
	memcpy(p->param, ops->param_defaults, sizeof(p->param));
	for (int i = 0; i < POLICY_MAX_STR_PARAMS && ops->str_param_names[i]; i++)
		if (ops->str_param_defaults[i])
			snprintf(p->str_param[i], sizeof(p->str_param[i]), "%s",
				 ops->str_param_defaults[i]);
	if (set_params(p, params, err, errlen))
		return -1;
	/* every policy keeps its burst in a parameter named "burst" */
	for (int i = 0; i < POLICY_MAX_PARAMS && ops->param_names[i]; i++) {
		if (strcmp(ops->param_names[i], "burst"))
			continue;
		uint16_t max = caps && caps->max_burst ? caps->max_burst : 512;
		if (p->param[i] < 1 || p->param[i] > max) {
			snprintf(err, errlen, "policy %s: burst %g is not 1..%u", ops->name,
				 p->param[i], max);
			return -1;
		}
	}
	if (ops == &vector_ops) {
		uint16_t max = caps && caps->max_burst ? caps->max_burst : 512;
		if (p->param[0] < 1 || p->param[0] > p->param[1] || p->param[1] > max) {
			snprintf(err, errlen,
				 "policy vector: need 1 <= min <= max <= %u (got %g, %g)", max,
				 p->param[0], p->param[1]);
			return -1;
		}
	}
	if (ops == &ladder_ops && caps && caps->rx_intr)
		p->cur_ns = 1;
	if (ops->init && ops->init(p, caps, err, errlen)) {
		const char *fb = policy__str_param(p, "fallback");
		char fb_spec[POLICY_STR_LEN];
		if (!fb || !*fb)
			return -1;
		snprintf(fb_spec, sizeof(fb_spec), "%s", fb);
		size_t nlen = strcspn(fb_spec, ":");
		if (nlen == strlen(ops->name) && !strncmp(fb_spec, ops->name, nlen)) {
			snprintf(err, errlen, "policy %s: fallback=%s names the policy itself",
				 ops->name, fb_spec);
			return -1;
		}
		/* the user asked for it: say why, then run the heuristic instead */
		fprintf(stderr, "batchrouter: %s; using fallback policy '%s'\n", err, fb_spec);
		return policy__init(p, fb_spec, caps, err, errlen);
	}
	return 0;
}

void policy__fini(struct policy *p)
{
	if (p->ops && p->ops->fini)
		p->ops->fini(p);
	p->priv = NULL;
}

void policy__decide(struct policy *p, const struct policy_obs *o, struct policy_decision *d)
{
	p->ops->decide(p, o, d);
}

void policy__guard(const struct policy_rails *r, const struct policy_obs *o,
		   struct policy_decision *d)
{
	/* a full burst means more is waiting: never idle after one */
	if (o->n_hist && o->hist[0] >= o->burst) {
		d->idle = IDLE_NONE;
		d->ns = 0;
		return;
	}
	if (d->idle == IDLE_NONE)
		return;
	/* the budget caps what a packet may wait for us; an rx interrupt wakes us
	 * when the packet comes, so a wait for one needs no such cap */
	if (r->max_idle_ns && d->ns > r->max_idle_ns && d->idle != IDLE_WAIT_RX)
		d->ns = r->max_idle_ns;
	/* the ring must not fill while we are away: free slots / rate, less how
	 * late wake-ups have recently been on this machine */
	if (o->ring_size && o->rate_pps > 0) {
		double used = o->rx_occupancy > 0 ? (double)o->rx_occupancy : 0;
		double free_slots = (double)o->ring_size - (double)r->ring_margin - used;
		double cap = free_slots > 0 ? free_slots / o->rate_pps * 1e9 : 0;
		cap -= (double)o->wake_late_ns;
		if ((double)d->ns > cap)
			d->ns = cap > 0 ? (uint64_t)cap : 0;
	}
	if (d->idle == IDLE_SLEEP && d->ns < r->min_sleep_ns) {
		/* a sleep under the floor costs more CPU than the polls it replaces */
		d->idle = IDLE_NONE;
		d->ns = 0;
	}
	if (d->ns == 0)
		d->idle = IDLE_NONE;
}

uint64_t policy__late_decay(uint64_t late_ns, uint64_t dt_ns)
{
	if (!late_ns || !dt_ns)
		return late_ns;
	if (dt_ns >= 64 * POLICY_LATE_HALF_NS)
		return 0;
	return (uint64_t)((double)late_ns * exp2(-(double)dt_ns / (double)POLICY_LATE_HALF_NS));
}

double policy__ewma_rate(double rate, uint64_t pkts, uint64_t dt_ns, uint64_t tau_ns)
{
	if (dt_ns == 0) /* same instant: fold the packets into the next interval */
		return rate;
	double inst = (double)pkts * 1e9 / (double)dt_ns;
	double a = (double)dt_ns / (double)(dt_ns + tau_ns);
	return rate + a * (inst - rate);
}

void policy__track_init(struct policy_obs *o, struct policy_track *t, uint16_t burst,
			uint32_t ring_size, uint64_t rate_tau_ns)
{
	memset(o, 0, sizeof(*o));
	memset(t, 0, sizeof(*t));
	t->rate_tau_ns = rate_tau_ns ? rate_tau_ns : 1000000; /* 1 ms: reacts within a few sleeps */
	o->burst = burst;
	o->ns_since_pkt = UINT64_MAX;
	o->rx_occupancy = -1;
	o->ring_size = ring_size;
}

void policy__observe(struct policy_obs *o, struct policy_track *t, uint16_t burst, uint16_t max,
		     uint16_t total, uint64_t now, int64_t occ)
{
	memmove(o->hist + 1, o->hist, sizeof(o->hist) - sizeof(o->hist[0]));
	o->hist[0] = max;
	if (o->n_hist < POLICY_HIST)
		o->n_hist++;
	o->burst = burst;
	o->empty_polls = total ? 0 : o->empty_polls + 1;
	if (t->late_peak_ns)
		o->wake_late_ns = policy__late_decay(t->late_peak_ns, now - t->late_peak_at);
	if (t->last_poll_ns)
		o->rate_pps =
		    policy__ewma_rate(o->rate_pps, total, now - t->last_poll_ns, t->rate_tau_ns);
	if (total)
		t->last_pkt_ns = now;
	o->ns_since_pkt = t->last_pkt_ns ? now - t->last_pkt_ns : UINT64_MAX;
	o->rx_occupancy = occ;
	o->now_ns = now;
	t->last_poll_ns = now;
}

void policy__woke(struct policy_obs *o, struct policy_track *t, uint64_t late_ns, uint64_t now)
{
	/* a max that decays by wall time (policy__observe): one late wake-up
	 * makes the ring rail careful for a while, not for good */
	if ((int64_t)late_ns > 0 && late_ns > o->wake_late_ns) {
		o->wake_late_ns = t->late_peak_ns = late_ns;
		t->late_peak_at = now;
	}
}
