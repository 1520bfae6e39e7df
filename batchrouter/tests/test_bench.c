/* bench's searches and verdicts on synthetic probes and run records. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

/* a link whose lossless limit is @limit[i] pps for policy i; counts probes */
struct fake_link {
	double limit[4];
	unsigned probes, order[64];
	int fail_at; /* the probe that errs, 0: none */
};

static int fake_probe(void *ctx, unsigned i, double rate)
{
	struct fake_link *l = ctx;
	if (l->probes < 64)
		l->order[l->probes] = i;
	if (++l->probes == (unsigned)l->fail_at)
		return -1;
	return rate <= l->limit[i];
}

static void test_rstar_search(void **state)
{
	(void)state;
	/* above the first bracket: doubled up to [1e6, 2e6], then 7 steps */
	struct fake_link l = { .limit = { 1.234e6 } };
	double r = 0;
	assert_int_equal(bench__rstar_search(fake_probe, &l, &r), 0);
	assert_true(r <= 1.234e6 && r > 1.234e6 - 1e6 / 128);
	/* below it: the lower bound halves from 1e5 */
	l = (struct fake_link){ .limit = { 30e3 } };
	assert_int_equal(bench__rstar_search(fake_probe, &l, &r), 0);
	assert_true(r <= 30e3 && r > 30e3 - 25e3 / 128);
	/* nothing lossless, down to the floor: an error, not a rate */
	l = (struct fake_link){ .limit = { 10 } };
	assert_int_equal(bench__rstar_search(fake_probe, &l, &r), -1);
	/* a probe that fails midway stops the search */
	l = (struct fake_link){ .limit = { 1.234e6 }, .fail_at = 5 };
	assert_int_equal(bench__rstar_search(fake_probe, &l, &r), -1);
	assert_int_equal(l.probes, 5);
}

static void test_bisect_interleaves_and_skips_unbracketed(void **state)
{
	(void)state;
	struct fake_link l = { .limit = { 700, 300, 0 } };
	double lo[3] = { 0, 0, 0 }, hi[3] = { 1000, 1000, 0 };
	assert_int_equal(bench__bisect(fake_probe, &l, 3, lo, hi, 10), 0);
	assert_true(lo[0] <= 700 && lo[0] > 699);
	assert_true(lo[1] <= 300 && lo[1] > 299);
	assert_true(lo[2] == 0 && hi[2] == 0); /* no bracket: never probed */
	assert_int_equal(l.probes, 20);
	for (unsigned k = 0; k < 20; k++) /* one step of each in turn */
		assert_int_equal(l.order[k], k % 2);
	/* bracket_down: 800 loses, 400 and 200... until one passes */
	l = (struct fake_link){ .limit = { 250 } };
	double a = 800, b = 1000;
	assert_int_equal(bench__bracket_down(fake_probe, &l, 0, &a, &b, 10), 1);
	assert_true(a == 200 && b == 400);
	l = (struct fake_link){ .limit = { 5 } };
	a = 800, b = 1000;
	assert_int_equal(bench__bracket_down(fake_probe, &l, 0, &a, &b, 100), 0);
}

/* a CBR run's shortfall: lost packets, and a generator over 1% late */
static void test_shortfall_on_run_records(void **state)
{
	(void)state;
	struct run_result r = { 0 };
	assert_true(bench__shortfall(&r, 1e6, 1) == 0);
	r.gen.ring_full = 500; /* lost at the rx ring */
	r.eng.drops[DROP_TX_FULL] = 500;
	assert_true(fabs(bench__shortfall(&r, 1e6, 1) - 0.001) < 1e-12);
	/* a generator 5 ms late on a 1 s run: a stall near the end, not counted */
	r = (struct run_result){ 0 };
	r.gen.late_ns = 5000000;
	assert_true(bench__shortfall(&r, 1e6, 1) == 0);
	/* 50 ms late: it offered at its own pace, 5% short of the rate */
	r.gen.late_ns = 50000000;
	assert_true(fabs(bench__shortfall(&r, 1e6, 1) - 0.05) < 1e-12);
	assert_true(bench__shortfall(&r, 0, 1) == 1); /* no schedule: nothing offered */
}

static void test_learned_verdicts(void **state)
{
	(void)state;
	const struct metrics h = { .cpu_frac = 0.20, .p99_us = 100, .lost_frac = 0 };
	struct metrics l = { .cpu_frac = 0.17, .p99_us = 100 };
	double d;
	assert_string_equal(bench__verdict(&l, &h, 0, &d), "win");
	assert_true(fabs(d + 0.15) < 1e-9);
	l.cpu_frac = 0.21;
	assert_string_equal(bench__verdict(&l, &h, 0, &d), "tie");
	l.cpu_frac = 0.22;
	assert_string_equal(bench__verdict(&l, &h, 0, &d), "loss");
	l.cpu_frac = 0.10, l.p99_us = 116; /* cheaper but later than 1.1 x + 5 us */
	assert_string_equal(bench__verdict(&l, &h, 0, &d), "loss");
	/* the budget reading: later than the heuristic but within 200 us */
	assert_string_equal(bench__verdict(&l, &h, 200, &d), "win");
	l.p99_us = 201;
	assert_string_equal(bench__verdict(&l, &h, 200, &d), "loss");
	l.p99_us = 114, l.lost_frac = 0.002; /* cheaper but losing */
	assert_string_equal(bench__verdict(&l, &h, 0, &d), "loss");
	assert_string_equal(bench__verdict(&l, &h, 200, &d), "loss");
}

static void test_best_heuristic(void **state)
{
	static struct bench b;
	(void)state;
	char *pols[] = { "busy256", "fixed", "learned:model=m.json", "target" };
	memset(&b, 0, sizeof(b));
	b.n_pol = 4;
	for (unsigned i = 0; i < 4; i++) {
		b.policies[i] = pols[i];
		b.have[0][0][i] = true;
	}
	b.med[0][0][0] = (struct metrics){ .cpu_frac = 0.99, .p99_us = 30 };
	b.med[0][0][1] = (struct metrics){ .cpu_frac = 0.15, .p99_us = 250 }; /* over budget */
	b.med[0][0][2] = (struct metrics){ .cpu_frac = 0.05, .p99_us = 50 };  /* learned */
	b.med[0][0][3] = (struct metrics){ .cpu_frac = 0.20, .p99_us = 150 };
	assert_int_equal(bench__best_heuristic(&b, 0, 0), 3);
	b.med[0][0][3].lost_frac = 0.01; /* none qualifies: the cheapest of all */
	b.med[0][0][0].p99_us = 300;
	assert_int_equal(bench__best_heuristic(&b, 0, 0), 1);
	for (unsigned i = 0; i < 4; i++)
		b.have[0][0][i] = i == 2;
	assert_int_equal(bench__best_heuristic(&b, 0, 0), -1);
}

/* --folds: a learned policy runs the model of the fold that held the point out. */
static void test_folds_pick_the_held_out_model(void **state)
{
	static struct bench b;
	char path[] = "/tmp/br_folds_XXXXXX", buf[512], err[256];
	char spec0[] = "busy256", spec1[] = "learned:model=/m/x.json,after=3";
	(void)state;

	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fprintf(f, "fold,pattern,load_pct\n0,cbr,10\n1,onoff,10\n2,cbr,50\n");
	fclose(f);
	memset(&b, 0, sizeof(b));
	b.policies[0] = spec0;
	b.policies[1] = spec1;
	b.n_pol = 2;
	assert_int_equal(bench__read_folds(&b, path, err, sizeof(err)), 0);
	assert_int_equal(b.n_folds, 3);
	assert_int_equal(bench__fold_of(&b, GEN_ONOFF, 10), 1);
	assert_int_equal(bench__fold_of(&b, GEN_POISSON, 10), -1);
	assert_int_equal(bench__spec_at(&b, 1, GEN_CBR, 50, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "learned:model=/m/x.fold2.json,after=3");
	/* a point no fold held out, and a heuristic: the spec as given */
	assert_int_equal(bench__spec_at(&b, 1, GEN_POISSON, 10, buf, sizeof(buf)), 0);
	assert_string_equal(buf, spec1);
	assert_int_equal(bench__spec_at(&b, 0, GEN_CBR, 50, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "busy256");
	assert_int_equal(bench__spec_at(&b, 1, GEN_CBR, 50, buf, 20), -1);
	f = fopen(path, "w");
	fprintf(f, "fold,pattern,load_pct\nx,cbr\n");
	fclose(f);
	assert_int_equal(bench__read_folds(&b, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: not a fold,pattern,load_pct line"));
	unlink(path);
}

/* The bootstrap interval holds the ratio of medians and narrows with agreement. */
static void test_cpu_ratio_ci(void **state)
{
	struct metrics l[5], h[5];
	double lo, hi;
	(void)state;

	for (int i = 0; i < 5; i++) {
		l[i] = (struct metrics){ .cpu_frac = 0.08 + 0.001 * i };
		h[i] = (struct metrics){ .cpu_frac = 0.10 + 0.001 * i };
	}
	bench__cpu_ratio_ci(l, 5, h, 5, &lo, &hi);
	assert_true(lo <= 0.082 / 0.102 && hi >= 0.082 / 0.102);
	assert_true(hi < 1 && hi - lo < 0.1);
	/* one wild run on each side widens it */
	l[4].cpu_frac = 0.5;
	h[0].cpu_frac = 0.01;
	double lo2, hi2;
	bench__cpu_ratio_ci(l, 5, h, 5, &lo2, &hi2);
	assert_true(hi2 - lo2 > hi - lo);
	/* the same input gives the same interval (a fixed seed) */
	bench__cpu_ratio_ci(l, 5, h, 5, &lo, &hi);
	assert_true(lo == lo2 && hi == hi2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_median_is_one_whole_run),
		cmocka_unit_test(test_rstar_search),
		cmocka_unit_test(test_bisect_interleaves_and_skips_unbracketed),
		cmocka_unit_test(test_shortfall_on_run_records),
		cmocka_unit_test(test_learned_verdicts),
		cmocka_unit_test(test_best_heuristic),
		cmocka_unit_test(test_folds_pick_the_held_out_model),
		cmocka_unit_test(test_cpu_ratio_ci),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
