/* bench's verdict helpers on synthetic run records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bench.h"

static void test_median_is_one_whole_run(void **state)
{
	(void)state;
	/* CPU and p99 disagree on the order: field-wise medians would give CPU
	 * 0.20 with p99 30, which no run had */
	const struct metrics r[5] = {
		{ .cpu_frac = 0.30, .p99_us = 10, .lost_frac = 0.0, .avg_batch = 3 },
		{ .cpu_frac = 0.10, .p99_us = 50, .lost_frac = 0.2, .avg_batch = 1 },
		{ .cpu_frac = 0.20, .p99_us = 90, .lost_frac = 0.1, .avg_batch = 2 },
		{ .cpu_frac = 0.40, .p99_us = 30, .lost_frac = 0.0, .avg_batch = 4 },
		{ .cpu_frac = 0.50, .p99_us = 20, .lost_frac = 0.0, .avg_batch = 5 },
	};
	struct metrics m;
	bench__median_run(r, 5, &m);
	assert_true(m.cpu_frac == 0.30 && m.p99_us == 10 && m.avg_batch == 3);
	/* even count: the lower middle run */
	bench__median_run(r, 4, &m);
	assert_true(m.cpu_frac == 0.20 && m.p99_us == 90 && m.lost_frac == 0.1);
	/* ties on CPU go by p99 */
	const struct metrics t[3] = {
		{ .cpu_frac = 0.2, .p99_us = 300 },
		{ .cpu_frac = 0.2, .p99_us = 100 },
		{ .cpu_frac = 0.2, .p99_us = 200 },
	};
	bench__median_run(t, 3, &m);
	assert_true(m.p99_us == 200);
	bench__median_run(t, 1, &m);
	assert_true(m.p99_us == 300);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_median_is_one_whole_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
