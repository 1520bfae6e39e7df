/*
 * The replay: its mechanics on synthetic traces, its fidelity on a recorded
 * run, and collect's counterfactual labels separating two regimes well
 * enough for the trees to learn them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "collect.h"
#include "model.h"
#include "replay.h"
#include "replay_cmd.h"
#include "run.h"
#include "train.h"

#define DATA "batchrouter/tests/data/replay/"

/* arrivals at @rate pps from @t0 for @n frames, stamped when they arrive */
static void add_cbr(struct trace *t, uint64_t t0, double rate, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t at = t0 + (uint64_t)((double)i * 1e9 / rate);
		assert_true(t->n_arr < t->cap_arr);
		t->arr[t->n_arr++] = (struct trace_arrival){ at, at };
	}
}

static struct replay_host host(uint32_t ring, const uint32_t *late, size_t n_late)
{
	return (struct replay_host){ .poll_ns = 50,
				     .pkt_ns = 150,
				     .sleep_cpu_ns = 15000,
				     .late = late,
				     .n_late = n_late,
				     .ring_size = ring,
				     .budget_ns = 200000,
				     .floor = { .p50_ns = 10000, .p99_ns = 10000 } };
}

static void replay_policy(const struct trace *t, const struct replay_host *h, const char *spec,
			  struct replay_result *r)
{
	static struct replay_state s;
	struct policy p;
	struct policy_rails rails;
	char err[256];

	if (policy__init(&p, spec, NULL, err, sizeof(err)))
		fail_msg("%s", err);
	rails = replay__rails(h);
	replay__state_init(&s, h, 0, 0);
	replay__run(&s, t, h, &p, &rails, t->dur_ns, r, NULL, NULL);
	policy__fini(&p);
}

/* Busy polling takes every frame as it comes: CPU = the whole span. */
static void test_busy_replay(void **state)
{
	struct trace t;
	struct replay_host h = host(1024, NULL, 0);
	struct replay_result r = { 0 };
	(void)state;

	assert_int_equal(trace__alloc(&t, 1000, 0, 0), 0);
	t.dur_ns = 10000000;
	add_cbr(&t, 1000, 100000, 1000); /* 10 ms at 100 kpps */
	r.lat = calloc(1, sizeof(*r.lat));
	replay_policy(&t, &h, "busy", &r);
	assert_int_equal(r.pkts, 1000);
	assert_int_equal(r.drops, 0);
	assert_int_equal(r.sleeps, 0);
	assert_true(r.cpu_ns >= t.dur_ns && r.cpu_ns <= t.dur_ns + 1000);
	/* a frame waits at most one empty poll, and leaves after its own round */
	assert_true(r.lat->max <= 50 + 50 + 150);
	free(r.lat);
	trace__free(&t);
}

/* A sleep longer than the ring lasts drops what does not fit, exactly. */
static void test_ring_overflow(void **state)
{
	struct trace t;
	static const uint32_t late[] = { 0 };
	struct replay_host h = host(64, late, 1);
	struct replay_result r = { 0 };
	(void)state;

	assert_int_equal(trace__alloc(&t, 100, 0, 0), 0);
	/* 100 frames in 1 us while the worker sleeps its first 100 us */
	for (int i = 0; i < 100; i++)
		t.arr[t.n_arr++] = (struct trace_arrival){ 1000 + (uint64_t)i * 10, 1000 };
	t.dur_ns = 1000000;
	h.floor.p99_ns = 0;
	h.budget_ns = 1000000; /* the idle cap out of the way */
	replay_policy(&t, &h, "fixed:sleep_us=100,after=1", &r);
	assert_int_equal(r.drops, 36);
	assert_int_equal(r.pkts, 64);
	trace__free(&t);
}

/*
 * The recorded run (batchrouter run --record, fixed sleep 100 us, Poisson
 * 30 kpps, 0.2 s on the README's VM) replayed through its own policy on the
 * host model fitted from two other recorded runs (busy polling; a 50 us
 * sleep at 20 kpps) gives back its CPU and its p99 within 5%.
 */
static void test_replay_reproduces_recorded_run(void **state)
{
	struct trace t;
	struct replay_host h;
	struct replay_result r;
	char err[512];
	(void)state;

	if (trace__read(&t, DATA "fixed100-poisson30k.trace", err, sizeof(err)))
		fail_msg("%s", err);
	if (replay__host_from(&h, DATA "busy.trace", DATA "sleeping.trace", &t, 200000, err,
			      sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(replay__whole(&t, &h, t.policy, &r, err, sizeof(err)), 0);
	double cpu = (double)r.cpu_ns / (double)t.cpu_ns;
	double p99 = (double)lat__percentile(r.lat, 0.99) / (double)t.lat_p99_ns;
	print_message("replay/recorded: CPU %.3f, p99 %.3f (poll %.0f ns, frame %.0f ns, sleep "
		      "%.1f us)\n",
		      cpu, p99, h.poll_ns, h.pkt_ns, h.sleep_cpu_ns / 1e3);
	assert_true(cpu > 0.95 && cpu < 1.05);
	assert_true(p99 > 0.95 && p99 < 1.05);
	assert_int_equal(r.drops, 0);
	assert_true(r.pkts + 5 >= t.lat_n);
	free(r.lat);
	trace__free(&t);
}

static void test_trace_read_errors(void **state)
{
	struct trace t;
	char err[512], path[] = "/tmp/br_trace_XXXXXX";
	(void)state;

	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fprintf(f, "a 10 10\n");
	fclose(f);
	assert_int_equal(trace__read(&t, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no run line"));
	f = fopen(path, "w");
	fprintf(f, "a 10 10\nbogus\n");
	fclose(f);
	assert_int_equal(trace__read(&t, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: not a trace line"));
	unlink(path);
	assert_int_equal(trace__read(&t, "/nonexistent.trace", err, sizeof(err)), -1);
}

/*
 * Two regimes in one trace, on a worker that takes 1 us a frame: 10 kpps,
 * then 400 kpps. Windows of the first are labelled with the longest sleep
 * (150 us); in the second, the frames that come during a 150 us sleep take
 * 60 us more to forward, which puts the first of them over the 200 us
 * budget, so the label is the next shorter sleep (100 us). Trees trained on
 * the rows predict the two apart.
 */
static void test_labels_separate_regimes(void **state)
{
	static const uint32_t late[] = { 8000, 12000, 10000, 9000 };
	struct replay_host h = host(1024, late, 4);
	struct policy_rails rails;
	h.pkt_ns = 1000;
	struct collect_label_stats st;
	struct trace t;
	struct train_set s;
	struct model m;
	char err[512], csv_path[] = "/tmp/br_labels_XXXXXX", model_path[64];
	(void)state;

	assert_int_equal(trace__alloc(&t, 400000, 0, 0), 0);
	add_cbr(&t, 0, 10000, 500);	      /* 0..50 ms */
	add_cbr(&t, 50000000, 400000, 20000); /* 50..100 ms */
	t.dur_ns = 100000000;
	t.rate_pps = 10000;
	rails = replay__rails(&h);
	struct collect_label_opts o = { .window_ns = 10000000,
					.after = 2,
					.rows_per_window = 12,
					.rails = &rails,
					.floor_p99_ns = 10000 };
	int fd = mkstemp(csv_path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w+");
	collect__csv_header(f);
	fputc('\n', f);
	if (collect__label_trace(f, &t, &h, &o, "cbr", 50, 0, &st, err, sizeof(err)))
		fail_msg("%s", err);
	assert_true(st.windows >= 10);
	assert_int_equal(st.windows_ok, st.windows);
	/* the candidates are 0,10,20,50,100,150: the light half sleeps longest */
	assert_true(st.label_count[COLLECT_N_CAND - 1] >= 4);
	assert_true(st.label_count[COLLECT_N_CAND - 2] >= 4);

	rewind(f);
	if (train__read_csv(f, "labels", &s, err, sizeof(err)))
		fail_msg("%s", err);
	fclose(f);
	struct train_opts to = train_defaults;
	to.quiet = true;
	snprintf(model_path, sizeof(model_path), "%s.json", csv_path);
	if (train__fit(&s, NULL, &to, model_path, err, sizeof(err)))
		fail_msg("%s", err);
	if (model__load(&m, model_path, err, sizeof(err)))
		fail_msg("%s", err);
	double light = 0, heavy = 0;
	size_t n_light = 0, n_heavy = 0;
	for (size_t i = 0; i < s.n; i++) {
		float p = model__predict_flat(&m, &s.x[i * MODEL_NFEAT]);
		if (s.x[i * MODEL_NFEAT + MF_RATE_KPPS] < 100)
			light += p, n_light++;
		else
			heavy += p, n_heavy++;
	}
	assert_true(n_light && n_heavy);
	print_message("predicted sleep: light %.1f us, heavy %.1f us\n", light / n_light,
		      heavy / n_heavy);
	assert_true(light / n_light > 135);
	assert_true(heavy / n_heavy < 115);
	model__free(&m);
	train__set_free(&s);
	trace__free(&t);
	unlink(csv_path);
	unlink(model_path);
}

int main(void)
{
	/* the data path is relative to the repository's root */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_busy_replay),
		cmocka_unit_test(test_ring_overflow),
		cmocka_unit_test(test_replay_reproduces_recorded_run),
		cmocka_unit_test(test_trace_read_errors),
		cmocka_unit_test(test_labels_separate_regimes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
