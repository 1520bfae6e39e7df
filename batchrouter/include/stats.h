/*
 * stats: the accounting that every run reports. Latency is a log-linear
 * histogram that is exact below LAT_EXACT_NS (so deterministic schedules can
 * be checked to the nanosecond) and within 1/1024 relative above; the max is
 * always exact. Batch sizes get one bucket per size.
 */
#ifndef BATCHROUTER_STATS_H
#define BATCHROUTER_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define LAT_EXACT_BITS 16
#define LAT_EXACT_NS (1u << LAT_EXACT_BITS)
#define LAT_SUB_BITS 10 /* 1024 sub-buckets per octave above the exact range */
#define LAT_MAX_BITS 40 /* ~18 minutes: anything longer is clamped */
#define LAT_BUCKETS (LAT_EXACT_NS + (LAT_MAX_BITS - LAT_EXACT_BITS) * (1u << LAT_SUB_BITS))

struct lat_hist {
	uint64_t count;
	uint64_t max;
	uint64_t sum;
	uint64_t b[LAT_BUCKETS];
};

void lat__reset(struct lat_hist *h);
void lat__record(struct lat_hist *h, uint64_t ns);
/* Nearest-rank percentile (0 < q <= 1): the lower bound of the bucket holding
 * the ceil(q*count)-th smallest sample, capped at the exact max. 0 if empty. */
uint64_t lat__percentile(const struct lat_hist *h, double q);
void lat__merge(struct lat_hist *dst, const struct lat_hist *src);

/* Measures the nanosleep floor: @n sleeps of 1 ns with 1 ns timer slack. */
struct sleep_floor {
	uint64_t p50_ns, p99_ns, cpu_per_sleep_ns;
};
void stats__sleep_floor(unsigned n, struct sleep_floor *out);

/* The interference guard: CPU used by everything else during a run. */
struct guard_snap {
	uint64_t total, idle, steal; /* jiffies from /proc/stat */
	uint64_t self;		     /* this process, jiffies (utime+stime) */
};
/*
 * Machine stalls: gaps of at least STALL_NS in a thread's own timeline that
 * it did not ask for (no sleep, no spin). A VM's host can preempt a vCPU for
 * milliseconds without reporting any steal; the worker and the generator
 * each keep a log of the gaps they see, and the guard reports both.
 */
#define STALL_NS 200000
struct stall_log {
	uint64_t count, total_ns, max_ns;
};
static inline void stall__note(struct stall_log *s, uint64_t gap_ns)
{
	if (gap_ns < STALL_NS)
		return;
	s->count++;
	s->total_ns += gap_ns;
	if (gap_ns > s->max_ns)
		s->max_ns = gap_ns;
}

struct guard_report {
	double steal_pct;  /* steal over all CPUs */
	double others_cpu; /* CPUs busy with other processes (not this one) */
	/* filled in by the run: the worker's stalls between busy polls and its
	 * late wake-ups (a stall that fell into a sleep), the generator's stalls */
	struct stall_log worker_stall, worker_late, gen_stall;
};
/* The worker's stalled time: between polls and inside sleeps. */
static inline uint64_t stats__worker_stall_ns(const struct guard_report *r)
{
	return r->worker_stall.total_ns + r->worker_late.total_ns;
}
/*
 * A run the machine disturbed: other processes used more than 0.2 CPU, or
 * stalls (late wake-ups included) took more than 1% of the run from the
 * worker or the generator.
 * (On the shared 2-vCPU VM of the README they take 0.3-0.6% from each in
 * every run, mostly the guest's DAMON thread: that much is the machine.)
 * @wall_ns: the run's length.
 */
bool stats__guard_disturbed(const struct guard_report *r, uint64_t wall_ns);
int stats__guard_snap(struct guard_snap *s);
void stats__guard_diff(const struct guard_snap *a, const struct guard_snap *b,
		       struct guard_report *r);

/* The median of @v[0..n-1] (n > 0; sorts @v in place): the mean of the two
 * middle values when n is even. */
double stats__median(double *v, size_t n);
uint64_t stats__now_ns(void);
/* @ns as a struct timespec, for nanosleep and ppoll. */
static inline struct timespec stats__timespec(uint64_t ns)
{
	return (struct timespec){ (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };
}
uint64_t stats__thread_cpu_ns(void);
uint64_t stats__process_cpu_ns(void);

#endif
