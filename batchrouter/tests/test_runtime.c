/*
 * The worker on the synthetic NIC with a scripted clock: latency bookkeeping
 * is exact to the nanosecond on a deterministic schedule. The timed 2 s runs
 * (CPU and loss) are in runtime.bats, where a run on a machine too busy to
 * measure can be skipped with its reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "engine.h"
#include "frame.h"
#include "policy.h"
#include "port.h"
#include "run.h"
#include "worker.h"

static uint64_t fake_now;
static uint64_t fake_clock(void)
{
	return fake_now;
}

/* the n-th call from now jumps the clock (a late wake-up inside a sleep) */
static unsigned jump_in_calls;
static uint64_t jump_ns;
static uint64_t jumping_clock(void)
{
	if (jump_in_calls && --jump_in_calls == 0)
		fake_now += jump_ns;
	return fake_now;
}

static int setup(void **state)
{
	(void)state;
	return run__eal_init("test", true);
}

/* every destination out of @port: what a worker needs to walk its graph */
static struct engine *default_route_engine(const char *name, const struct port *port)
{
	struct engine_route rt = { .depth = 0, .port = 0, .mac = { 2, 0, 0, 0, 0, 2 } };
	char err[256];
	struct engine *eng =
	    engine__create(name, &rt, 1, 1, (const uint8_t(*)[6])port->mac, err, sizeof(err));
	assert_non_null(eng);
	return eng;
}

static void test_latency_exact_on_schedule(void **state)
{
	static struct worker w;
	struct rte_mempool *pool;
	struct port port;
	struct policy pol;
	struct policy_decision d;
	char err[256];
	(void)state;

	pool = rte_pktmbuf_pool_create("lat_pool", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	assert_non_null(pool);
	assert_int_equal(port__open(&port, "ring:size=256", 7, pool, err, sizeof(err)), 0);
	struct engine *eng = default_route_engine("lat_lpm", &port);
	assert_int_equal(policy__init(&pol, "busy:burst=256", NULL, err, sizeof(err)), 0);

	memset(&w, 0, sizeof(w));
	w.eng = eng;
	w.ports = &port;
	w.n_ports = 1;
	w.rx = &port;
	w.pol = &pol;
	w.clock = fake_clock;
	w.lat = calloc(1, sizeof(*w.lat));
	assert_non_null(w.lat);
	assert_int_equal(worker__init(&w, err, sizeof(err)), 0);
	w.burst = 256;

	/* schedule: packet i departs at 10 us * i (i = 1..100); the worker polls
	 * every 250 us, so packet i waits (250 us * ceil(i / 25) - 10 us * i) */
	struct frame_spec s = { .src_ip = 0xac100001, .dst_ip = 0x0a000001, .ttl = 64 };
	memcpy(s.dst_mac, port.mac, 6);
	struct lat_hist want;
	lat__reset(&want);
	for (unsigned poll = 1; poll <= 4; poll++) {
		for (unsigned i = (poll - 1) * 25 + 1; i <= poll * 25; i++) {
			struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
			assert_non_null(m);
			uint8_t *f = (uint8_t *)rte_pktmbuf_append(m, 64);
			frame__build(f, 64, &s, 10000ull * i, i);
			assert_int_equal(rte_ring_enqueue(port.rx, m), 0);
			lat__record(&want, 250000ull * poll - 10000ull * i);
		}
		fake_now = 250000ull * poll;
		assert_int_equal(worker__poll(&w, &d), 25);
		void *out[32];
		assert_int_equal(rte_ring_dequeue_burst(port.tx, out, 32, NULL), 25);
		rte_pktmbuf_free_bulk((struct rte_mbuf **)out, 25);
	}
	assert_int_equal(w.lat->count, 100);
	assert_int_equal(w.lat->max, 240000);
	assert_int_equal(w.lat->sum, want.sum);
	/* waits are 0, 10, ..., 240 us, four times each */
	const double qs[] = { 0.5, 0.99, 0.999, 1.0 };
	for (unsigned k = 0; k < 4; k++)
		assert_int_equal(lat__percentile(w.lat, qs[k]), lat__percentile(&want, qs[k]));
	assert_int_equal(lat__percentile(w.lat, 0.5), 120000);
	assert_int_equal(lat__percentile(w.lat, 0.99), 240000);
	assert_int_equal(w.c.forwarded, 100);
	assert_int_equal(w.batch_hist[25], 4);

	worker__fini(&w);
	free(w.lat);
	port__close(&port);
	engine__destroy(eng);
	rte_mempool_free(pool);
}

/*
 * A gap between polls beyond the idle action asked for is the machine's: a
 * stall after a poll or a spin, a late wake-up (the policy's price) after a
 * sleep. Each is logged once, by its excess.
 */
static void test_stalls_and_late_wakeups(void **state)
{
	static struct worker w;
	struct rte_mempool *pool;
	struct port port;
	struct policy pol;
	struct policy_decision d;
	char err[256];
	(void)state;

	pool = rte_pktmbuf_pool_create("stall_pool", 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	assert_non_null(pool);
	assert_int_equal(port__open(&port, "ring:size=64", 8, pool, err, sizeof(err)), 0);
	struct engine *eng = default_route_engine("stall_lpm", &port);
	assert_int_equal(policy__init(&pol, "busy", NULL, err, sizeof(err)), 0);
	memset(&w, 0, sizeof(w));
	w.eng = eng;
	w.ports = &port;
	w.n_ports = 1;
	w.rx = &port;
	w.pol = &pol;
	w.clock = fake_clock;
	assert_int_equal(worker__init(&w, err, sizeof(err)), 0);

	fake_now = 1000000;
	worker__poll(&w, &d); /* the first poll has no gap */
	struct policy_decision none = { .idle = IDLE_NONE }, spin = { .idle = IDLE_SPIN, .ns = 0 },
			       sleep = { .idle = IDLE_SLEEP, .ns = 0 };
	worker__idle(&w, &none);
	fake_now += STALL_NS - 1; /* a short gap: the thread's own */
	worker__poll(&w, &d);
	worker__idle(&w, &none);
	fake_now += 700000; /* 700 us without being asked: a stall */
	worker__poll(&w, &d);
	worker__idle(&w, &spin);
	fake_now += 400000;
	worker__poll(&w, &d);
	/* a sleep of 0 ns returns at once; its 900 us gap is a late wake-up */
	worker__idle(&w, &sleep);
	fake_now += 900000;
	worker__poll(&w, &d);
	assert_int_equal(w.stall.count, 2);
	assert_int_equal(w.stall.total_ns, 1100000);
	assert_int_equal(w.stall.max_ns, 700000);
	assert_int_equal(w.late_wakeup.count, 1);
	assert_int_equal(w.late_wakeup.max_ns, 900000);

	worker__fini(&w);
	policy__fini(&pol);
	port__close(&port);
	engine__destroy(eng);
	rte_mempool_free(pool);
}

/*
 * The late-wake-up rail decays by wall time while the worker busy polls: a
 * 4 ms late wake-up, then 1 s of polls 10 us apart, leaves 4 ms / 2^5.
 * (It used to decay only inside sleeps: a run at a rate that never let the
 * worker sleep again kept it for good.)
 */
static void test_late_rail_decays_while_polling(void **state)
{
	static struct worker w;
	struct rte_mempool *pool;
	struct port port;
	struct policy pol;
	struct policy_decision d;
	char err[256];
	(void)state;

	pool = rte_pktmbuf_pool_create("late_pool", 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	assert_non_null(pool);
	assert_int_equal(port__open(&port, "ring:size=64", 9, pool, err, sizeof(err)), 0);
	struct engine *eng = default_route_engine("late_lpm", &port);
	assert_int_equal(policy__init(&pol, "busy", NULL, err, sizeof(err)), 0);
	memset(&w, 0, sizeof(w));
	w.eng = eng;
	w.ports = &port;
	w.n_ports = 1;
	w.rx = &port;
	w.pol = &pol;
	w.clock = jumping_clock;
	assert_int_equal(worker__init(&w, err, sizeof(err)), 0);

	fake_now = 1000000;
	worker__poll(&w, &d);
	jump_in_calls = 2; /* worker__idle reads the clock before and after */
	jump_ns = 4000000;
	worker__idle(&w, &(struct policy_decision){ .idle = IDLE_SLEEP, .ns = 0 });
	assert_int_equal(w.obs.wake_late_ns, 4000000);
	worker__poll(&w, &d);
	assert_int_equal(w.obs.wake_late_ns, 4000000);
	for (int i = 0; i < 100000; i++) {
		fake_now += 10000;
		worker__poll(&w, &d);
	}
	assert_int_equal(w.obs.wake_late_ns, 4000000 >> 5);

	worker__fini(&w);
	policy__fini(&pol);
	port__close(&port);
	engine__destroy(eng);
	rte_mempool_free(pool);
}

/* --loads lists: what bench and collect accept, and what they refuse. */
static void test_parse_loads(void **state)
{
	(void)state;
	double v[3];
	char ok[] = "1,10.5,90", big[] = "1,2,3,4", zero[] = "0", junk[] = "5,x", over[] = "201";

	assert_int_equal(gen__parse_loads(ok, v, 3), 3);
	assert_true(v[0] == 1 && v[1] == 10.5 && v[2] == 90);
	assert_int_equal(gen__parse_loads(big, v, 3), -1);
	assert_int_equal(gen__parse_loads(zero, v, 3), -1);
	assert_int_equal(gen__parse_loads(junk, v, 3), -1);
	assert_int_equal(gen__parse_loads(over, v, 3), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_latency_exact_on_schedule),
		cmocka_unit_test(test_parse_loads),
		cmocka_unit_test(test_stalls_and_late_wakeups),
		cmocka_unit_test(test_late_rail_decays_while_polling),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
