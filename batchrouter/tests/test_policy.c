/* Each policy on deterministic traces, and the guard rails around them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "policy.h"

#define US 1000ull

static const struct policy_rails no_rails = { 0 };

/* Feeds a trace of batch sizes, keeping the observation like the worker does. */
static void feed(struct policy_obs *o, uint16_t n)
{
	memmove(o->hist + 1, o->hist, sizeof(o->hist) - sizeof(o->hist[0]));
	o->hist[0] = n;
	if (o->n_hist < POLICY_HIST)
		o->n_hist++;
	o->empty_polls = n ? 0 : o->empty_polls + 1;
}

static void init(struct policy *p, const char *spec)
{
	char err[256];
	struct policy_caps caps = { .rx_intr = false, .max_burst = 512 };
	if (policy__init(p, spec, &caps, err, sizeof(err))) {
		fail_msg("%s", err);
	}
}

static void test_busy(void **state)
{
	struct policy p;
	struct policy_obs o = { .burst = 32 };
	struct policy_decision d;
	(void)state;
	const char *specs[] = { "busy", "busy64", "busy256", "busy:burst=128" };
	const uint16_t want[] = { 32, 64, 256, 128 };
	for (int i = 0; i < 4; i++) {
		init(&p, specs[i]);
		for (int k = 0; k < 100; k++) {
			feed(&o, 0);
			policy__decide(&p, &o, &d);
			assert_int_equal(d.idle, IDLE_NONE);
			assert_int_equal(d.burst, want[i]);
		}
	}
}

static void test_fixed(void **state)
{
	struct policy p;
	struct policy_obs o = { .burst = 256 };
	struct policy_decision d;
	(void)state;
	init(&p, "fixed:sleep_us=50,after=2");
	const uint16_t trace[] = { 5, 0, 0, 0, 3, 0 };
	const enum idle_kind want[] = { IDLE_NONE,  IDLE_NONE, IDLE_SLEEP,
					IDLE_SLEEP, IDLE_NONE, IDLE_NONE };
	for (int i = 0; i < 6; i++) {
		feed(&o, trace[i]);
		policy__decide(&p, &o, &d);
		assert_int_equal(d.idle, want[i]);
		if (d.idle == IDLE_SLEEP)
			assert_int_equal(d.ns, 50 * US);
	}
}

static void test_ovs_grows_and_resets(void **state)
{
	struct policy p;
	struct policy_obs o = { .burst = 256 };
	struct policy_decision d;
	(void)state;
	init(&p, "ovs:max_us=35,step_us=10");
	const uint16_t trace[] = { 1, 0, 15, 0, 0, 20, 0 };
	const uint64_t want[] = { 10, 20, 30, 35, 35, 0, 10 };
	for (int i = 0; i < 7; i++) {
		feed(&o, trace[i]);
		policy__decide(&p, &o, &d);
		assert_int_equal(d.ns, want[i] * US);
		assert_int_equal(d.idle, want[i] ? IDLE_SLEEP : IDLE_NONE);
	}
}

static void test_ladder(void **state)
{
	struct policy p;
	struct policy_obs o = { .burst = 256 };
	struct policy_decision d;
	(void)state;
	init(&p, "ladder");
	for (int i = 1; i <= 400; i++) {
		feed(&o, 0);
		policy__decide(&p, &o, &d);
		if (i < 10)
			assert_int_equal(d.idle, IDLE_NONE);
		else if (i < 300)
			assert_true(d.idle == IDLE_SPIN && d.ns == 1 * US);
		else
			assert_true(d.idle == IDLE_SLEEP && d.ns == 300 * US);
	}
	feed(&o, 1);
	policy__decide(&p, &o, &d);
	assert_int_equal(d.idle, IDLE_NONE);

	/* with rx interrupts the suspension blocks on them instead */
	char err[128];
	struct policy_caps caps = { .rx_intr = true };
	assert_int_equal(policy__init(&p, "ladder", &caps, err, sizeof(err)), 0);
	o.empty_polls = 300;
	policy__decide(&p, &o, &d);
	assert_int_equal(d.idle, IDLE_WAIT_RX);
}

static void test_target(void **state)
{
	struct policy p;
	struct policy_obs o = { .burst = 256, .rx_occupancy = -1 };
	struct policy_decision d;
	(void)state;
	init(&p, "target:target=64,max_us=500");

	/* 1 Mpps, empty ring: 64 packets take 64 us */
	o.rate_pps = 1e6;
	feed(&o, 0);
	policy__decide(&p, &o, &d);
	assert_int_equal(d.idle, IDLE_SLEEP);
	assert_int_equal(d.ns, 64 * US);
	/* 16 already waiting: 48 us */
	o.rx_occupancy = 16;
	policy__decide(&p, &o, &d);
	assert_int_equal(d.ns, 48 * US);
	/* a slow trickle is clamped to max */
	o.rx_occupancy = 0;
	o.rate_pps = 1000;
	policy__decide(&p, &o, &d);
	assert_int_equal(d.ns, 500 * US);
	/* no rate estimate yet: max too */
	o.rate_pps = 0;
	policy__decide(&p, &o, &d);
	assert_int_equal(d.ns, 500 * US);
	/* at or behind the target: poll at once */
	feed(&o, 64);
	policy__decide(&p, &o, &d);
	assert_int_equal(d.idle, IDLE_NONE);
	feed(&o, 3);
	o.rx_occupancy = 100;
	policy__decide(&p, &o, &d);
	assert_int_equal(d.idle, IDLE_NONE);
}

static void test_intr_needs_support(void **state)
{
	struct policy p;
	char err[256];
	struct policy_caps none = { .rx_intr = false }, yes = { .rx_intr = true };
	struct policy_obs o = { .burst = 256 };
	struct policy_decision d;
	(void)state;
	assert_int_equal(policy__init(&p, "intr", &none, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "interrupt"));
	assert_int_equal(policy__init(&p, "intr:timeout_us=200", &yes, err, sizeof(err)), 0);
	feed(&o, 0);
	feed(&o, 0);
	policy__decide(&p, &o, &d);
	assert_true(d.idle == IDLE_WAIT_RX && d.ns == 200 * US);
}

static void test_spec_errors(void **state)
{
	struct policy p;
	char err[256];
	(void)state;
	assert_int_equal(policy__init(&p, "nosuch", NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ovs")); /* lists the known names */
	assert_int_equal(policy__init(&p, "fixed:bogus=1", NULL, err, sizeof(err)), -1);
	assert_int_equal(policy__init(&p, "fixed:sleep_us", NULL, err, sizeof(err)), -1);
	assert_int_equal(policy__init(&p, "fixed:sleep_us=abc", NULL, err, sizeof(err)), -1);
	assert_int_equal(policy__init(&p, "busy:burst=0", NULL, err, sizeof(err)), -1);
	assert_int_equal(policy__init(&p, "busy:burst=9999", NULL, err, sizeof(err)), -1);
	/* rte_kvargs' syntax: pairs split by commas; a malformed list is refused */
	assert_int_equal(policy__init(&p, "fixed:sleep_us=10,=3", NULL, err, sizeof(err)), -1);
	assert_int_equal(policy__init(&p, "busy:burst=64", NULL, err, sizeof(err)), 0);
	assert_true(p.param[0] == 64);
	policy__fini(&p);
	/* every table entry initialises with its defaults (intr given support) */
	struct policy_caps caps = { .rx_intr = true };
	for (const struct policy_ops *const *t = policy_table; *t; t++) {
		if ((*t)->init) /* needs a file (learned: model=): see test_learned.c */
			continue;
		assert_int_equal(policy__init(&p, (*t)->name, &caps, err, sizeof(err)), 0);
		policy__fini(&p);
	}
}

static void test_guard_full_burst_polls(void **state)
{
	struct policy_obs o = { .burst = 32, .n_hist = 1 };
	struct policy_decision d = { .burst = 32, .idle = IDLE_SLEEP, .ns = 100 * US };
	(void)state;
	o.hist[0] = 32;
	policy__guard(&no_rails, &o, &d);
	assert_int_equal(d.idle, IDLE_NONE);
	o.hist[0] = 31;
	d = (struct policy_decision){ .burst = 32, .idle = IDLE_SLEEP, .ns = 100 * US };
	policy__guard(&no_rails, &o, &d);
	assert_int_equal(d.idle, IDLE_SLEEP);
}

static void test_guard_ring_and_budget(void **state)
{
	struct policy_rails r = { .max_idle_ns = 150 * US, .ring_margin = 24 };
	struct policy_obs o = { .burst = 256, .n_hist = 1, .ring_size = 1024, .rx_occupancy = 0 };
	struct policy_decision d;
	(void)state;

	/* budget caps a long sleep */
	o.rate_pps = 1000;
	d = (struct policy_decision){ .idle = IDLE_SLEEP, .ns = 1000 * US };
	policy__guard(&r, &o, &d);
	assert_int_equal(d.ns, 150 * US);

	/* 10 Mpps: (1024 - 24 - 0) slots last 100 us */
	o.rate_pps = 10e6;
	d = (struct policy_decision){ .idle = IDLE_SLEEP, .ns = 1000 * US };
	policy__guard(&r, &o, &d);
	assert_int_equal(d.ns, 100 * US);

	/* 500 already waiting: 50 us */
	o.rx_occupancy = 500;
	d = (struct policy_decision){ .idle = IDLE_SLEEP, .ns = 1000 * US };
	policy__guard(&r, &o, &d);
	assert_int_equal(d.ns, 50 * US);

	/* wake-ups lately 30 us late: 20 us; 80 us late: no sleep at all */
	o.wake_late_ns = 30 * US;
	d = (struct policy_decision){ .idle = IDLE_SLEEP, .ns = 1000 * US };
	policy__guard(&r, &o, &d);
	assert_int_equal(d.ns, 20 * US);
	o.wake_late_ns = 80 * US;
	d = (struct policy_decision){ .idle = IDLE_SLEEP, .ns = 1000 * US };
	policy__guard(&r, &o, &d);
	assert_int_equal(d.idle, IDLE_NONE);
	o.wake_late_ns = 0;

	/* ring nearly full: no sleep at all */
	o.rx_occupancy = 1010;
	d = (struct policy_decision){ .idle = IDLE_SLEEP, .ns = 1000 * US };
	policy__guard(&r, &o, &d);
	assert_int_equal(d.idle, IDLE_NONE);

	/* sleeps under the floor become polls; spins do not */
	r.min_sleep_ns = 20 * US;
	o.rx_occupancy = 0;
	o.rate_pps = 0;
	d = (struct policy_decision){ .idle = IDLE_SLEEP, .ns = 10 * US };
	policy__guard(&r, &o, &d);
	assert_int_equal(d.idle, IDLE_NONE);
	d = (struct policy_decision){ .idle = IDLE_SPIN, .ns = 1 * US };
	policy__guard(&r, &o, &d);
	assert_int_equal(d.idle, IDLE_SPIN);

	/* unknown ring (size 0): only the budget applies */
	o.ring_size = 0;
	o.rate_pps = 1e9;
	d = (struct policy_decision){ .idle = IDLE_WAIT_RX, .ns = 100 * US };
	policy__guard(&r, &o, &d);
	assert_true(d.idle == IDLE_WAIT_RX && d.ns == 100 * US);

	/* the packet itself ends a wait for the rx interrupt: no budget cap on
	 * its timeout, while the ring rail still holds */
	d = (struct policy_decision){ .idle = IDLE_WAIT_RX, .ns = 1000 * US };
	policy__guard(&r, &o, &d);
	assert_true(d.idle == IDLE_WAIT_RX && d.ns == 1000 * US);
	o.ring_size = 1024;
	o.rate_pps = 10e6;
	d = (struct policy_decision){ .idle = IDLE_WAIT_RX, .ns = 1000 * US };
	policy__guard(&r, &o, &d);
	assert_int_equal(d.ns, 100 * US);
}

/*
 * The burst-adapting policy on a simulated queue: @arrive packets come per
 * poll interval, a poll takes min(backlog, burst), the policy picks the next
 * burst. Returns the burst after @polls polls.
 */
static uint16_t vector_sim(struct policy *p, struct policy_obs *o, unsigned *backlog,
			   unsigned arrive, int polls, uint16_t *max_seen)
{
	struct policy_decision d;
	for (int i = 0; i < polls; i++) {
		*backlog += arrive;
		uint16_t n = *backlog < o->burst ? (uint16_t)*backlog : o->burst;
		*backlog -= n;
		feed(o, n);
		policy__decide(p, o, &d);
		assert_true(d.burst >= 16 && d.burst <= 256);
		o->burst = d.burst;
		if (max_seen && d.burst > *max_seen)
			*max_seen = d.burst;
	}
	return o->burst;
}

static void test_vector_burst_follows_load(void **state)
{
	struct policy p;
	struct policy_obs o = { .burst = 16 };
	struct policy_decision d;
	unsigned backlog = 0;
	uint16_t seen = 0;
	(void)state;
	init(&p, "vector");
	/* light load (2 per poll): stays at the floor and sleeps */
	assert_int_equal(vector_sim(&p, &o, &backlog, 2, 100, &seen), 16);
	assert_int_equal(seen, 16);
	policy__decide(&p, &o, &d);
	assert_int_equal(d.idle, IDLE_SLEEP);
	/* a load step to 200 per poll: full polls double the burst to 256 within
	 * a few polls, and it stays there while the backlog lasts */
	assert_int_equal(vector_sim(&p, &o, &backlog, 200, 5, NULL), 256);
	policy__decide(&p, &o, &d);
	assert_int_equal(d.idle, IDLE_NONE);
	assert_int_equal(vector_sim(&p, &o, &backlog, 200, 200, NULL), 256);
	/* back to light load: the batches average < 1/4 of the burst, it halves
	 * down to the floor again */
	backlog = 0;
	assert_int_equal(vector_sim(&p, &o, &backlog, 3, 200, NULL), 16);
	/* a medium load of 100 per poll settles between: 128 covers it without
	 * filling, 64 would fill */
	assert_int_equal(vector_sim(&p, &o, &backlog, 100, 200, NULL), 128);

	/* its bounds are checked */
	char err[256];
	struct policy_caps caps = { .max_burst = 512 };
	assert_int_equal(policy__init(&p, "vector:min=64,max=32", &caps, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "min <= max"));
	assert_int_equal(policy__init(&p, "vector:max=1024", &caps, err, sizeof(err)), -1);
}

static void test_late_rail_decays_by_time(void **state)
{
	(void)state;
	/* half-life POLICY_LATE_HALF_NS of wall time, however it is spent */
	assert_int_equal(policy__late_decay(0, 1000), 0);
	assert_int_equal(policy__late_decay(4000 * US, 0), 4000 * US);
	assert_int_equal(policy__late_decay(4000 * US, POLICY_LATE_HALF_NS), 2000 * US);
	assert_int_equal(policy__late_decay(4000 * US, 2 * POLICY_LATE_HALF_NS), 1000 * US);
	/* the worker decays from the peak and the time it was seen (never
	 * step by step, where truncation would decide how fast it decays) */
	/* a 4 ms late wake-up no longer holds the ring rail after a few seconds */
	assert_int_equal(policy__late_decay(4000 * US, 64 * POLICY_LATE_HALF_NS), 0);
}

static void test_ewma(void **state)
{
	double r = 0;
	(void)state;
	/* a steady 1 Mpps converges to 1 Mpps */
	for (int i = 0; i < 1000; i++)
		r = policy__ewma_rate(r, 10, 10 * US, 1000 * US);
	assert_true(r > 0.99e6 && r < 1.01e6);
	assert_true(policy__ewma_rate(r, 5, 0, 1000 * US) == r);
	/* silence decays it */
	for (int i = 0; i < 1000; i++)
		r = policy__ewma_rate(r, 0, 10 * US, 1000 * US);
	assert_true(r < 1e3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_busy),
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_ovs_grows_and_resets),
		cmocka_unit_test(test_ladder),
		cmocka_unit_test(test_target),
		cmocka_unit_test(test_intr_needs_support),
		cmocka_unit_test(test_spec_errors),
		cmocka_unit_test(test_guard_full_burst_polls),
		cmocka_unit_test(test_guard_ring_and_budget),
		cmocka_unit_test(test_ewma),
		cmocka_unit_test(test_vector_burst_follows_load),
		cmocka_unit_test(test_late_rail_decays_by_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
