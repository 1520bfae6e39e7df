/* Latency histogram exactness, nanosleep floor, interference guard. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stats.h"

static struct lat_hist h;

/* 1..1000 us would be inexact above 65 us; use 1..1000 x 50 ns: all exact. */
static void test_exact_percentiles(void **state)
{
	(void)state;
	lat__reset(&h);
	assert_int_equal(lat__percentile(&h, 0.99), 0);
	/* record in a scrambled order: i*7919 mod 1000 visits all of 0..999 */
	for (uint64_t i = 0; i < 1000; i++)
		lat__record(&h, 50 * (1 + (i * 7919) % 1000));
	assert_int_equal(h.count, 1000);
	assert_int_equal(lat__percentile(&h, 0.5), 50 * 500);
	assert_int_equal(lat__percentile(&h, 0.99), 50 * 990);
	assert_int_equal(lat__percentile(&h, 0.999), 50 * 999);
	assert_int_equal(lat__percentile(&h, 1.0), 50 * 1000);
	assert_int_equal(h.max, 50000);
	assert_int_equal(h.sum, 50ull * 1000 * 1001 / 2);
}

static void test_large_values_bounded_error(void **state)
{
	(void)state;
	lat__reset(&h);
	uint64_t vals[] = { 70000, 123456, 999999, 5000000, 123456789 };
	for (unsigned i = 0; i < 5; i++) {
		lat__reset(&h);
		lat__record(&h, vals[i]);
		lat__record(&h, 1);
		uint64_t p = lat__percentile(&h, 1.0);
		assert_int_equal(p, vals[i]); /* max is exact */
		lat__record(&h, vals[i] + 1);
		p = lat__percentile(&h, 0.6);
		assert_true(p <= vals[i] + 1 && p >= vals[i] - vals[i] / 1000);
	}
	/* absurd values are clamped into the last bucket, max stays exact */
	lat__reset(&h);
	lat__record(&h, UINT64_MAX / 2);
	assert_int_equal(lat__percentile(&h, 1.0), UINT64_MAX / 2);
}

static void test_merge(void **state)
{
	static struct lat_hist a, b;
	(void)state;
	lat__reset(&a);
	lat__reset(&b);
	for (int i = 1; i <= 10; i++)
		lat__record(i <= 5 ? &a : &b, (uint64_t)i * 100);
	lat__merge(&a, &b);
	assert_int_equal(a.count, 10);
	assert_int_equal(a.max, 1000);
	assert_int_equal(lat__percentile(&a, 0.5), 500);
}

static void test_sleep_floor_sane(void **state)
{
	struct sleep_floor f;
	(void)state;
	stats__sleep_floor(50, &f);
	assert_true(f.p50_ns > 0);
	assert_true(f.p99_ns >= f.p50_ns);
	assert_true(f.p50_ns < 100000000); /* < 100 ms even on a loaded machine */
}

static void test_guard(void **state)
{
	struct guard_snap a, b;
	struct guard_report r;
	(void)state;
	assert_int_equal(stats__guard_snap(&a), 0);
	volatile uint64_t x = 0;
	uint64_t t0 = stats__now_ns();
	while (stats__now_ns() - t0 < 30000000)
		x++;
	assert_int_equal(stats__guard_snap(&b), 0);
	stats__guard_diff(&a, &b, &r);
	assert_true(r.steal_pct >= 0 && r.steal_pct <= 100);
	assert_true(r.others_cpu >= 0);
}

/* Gaps under STALL_NS are the thread's own; 1% of the run is the guard's line. */
static void test_stalls_and_disturbed(void **state)
{
	struct stall_log l = { 0 };
	struct guard_report r = { 0 };
	(void)state;
	stall__note(&l, STALL_NS - 1);
	assert_int_equal(l.count, 0);
	stall__note(&l, STALL_NS);
	stall__note(&l, 3 * STALL_NS);
	assert_int_equal(l.count, 2);
	assert_int_equal(l.total_ns, 4 * STALL_NS);
	assert_int_equal(l.max_ns, 3 * STALL_NS);

	r.worker_stall.total_ns = 10000000; /* 10 ms of a 1 s run: not yet */
	assert_false(stats__guard_disturbed(&r, 1000000000));
	r.gen_stall.total_ns = 10000001;
	assert_true(stats__guard_disturbed(&r, 1000000000));
	r.gen_stall.total_ns = 0;
	r.others_cpu = 0.3;
	assert_true(stats__guard_disturbed(&r, 1000000000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stalls_and_disturbed),
		cmocka_unit_test(test_exact_percentiles),
		cmocka_unit_test(test_large_values_bounded_error),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_sleep_floor_sane),
		cmocka_unit_test(test_guard),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
