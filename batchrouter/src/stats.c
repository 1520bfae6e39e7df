/* Accounting: latency histogram, nanosleep floor, interference guard. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>

#include "stats.h"

uint64_t stats__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t stats__thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t stats__process_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static unsigned lat_bucket(uint64_t ns)
{
	if (ns < LAT_EXACT_NS)
		return (unsigned)ns;
	unsigned msb = 63 - (unsigned)__builtin_clzll(ns);
	if (msb >= LAT_MAX_BITS)
		return LAT_BUCKETS - 1;
	unsigned sub = (unsigned)(ns >> (msb - LAT_SUB_BITS)) & ((1u << LAT_SUB_BITS) - 1);
	return LAT_EXACT_NS + ((msb - LAT_EXACT_BITS) << LAT_SUB_BITS) + sub;
}

static uint64_t lat_bucket_low(unsigned b)
{
	if (b < LAT_EXACT_NS)
		return b;
	unsigned rel = b - LAT_EXACT_NS;
	unsigned msb = LAT_EXACT_BITS + (rel >> LAT_SUB_BITS);
	uint64_t sub = rel & ((1u << LAT_SUB_BITS) - 1);
	return (1ull << msb) | (sub << (msb - LAT_SUB_BITS));
}

void lat__reset(struct lat_hist *h)
{
	memset(h, 0, sizeof(*h));
}

void lat__record(struct lat_hist *h, uint64_t ns)
{
	h->b[lat_bucket(ns)]++;
	h->count++;
	h->sum += ns;
	if (ns > h->max)
		h->max = ns;
}

uint64_t lat__percentile(const struct lat_hist *h, double q)
{
	if (h->count == 0)
		return 0;
	/* rank = ceil(q * count), computed without floating-point surprises at q = 1 */
	uint64_t rank = (uint64_t)(q * (double)h->count);
	if ((double)rank < q * (double)h->count)
		rank++;
	if (rank == 0)
		rank = 1;
	if (rank >= h->count)
		return h->max; /* the largest sample is known exactly */
	uint64_t seen = 0;
	for (unsigned b = 0; b < LAT_BUCKETS; b++) {
		seen += h->b[b];
		if (seen >= rank) {
			uint64_t v = lat_bucket_low(b);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

void lat__merge(struct lat_hist *dst, const struct lat_hist *src)
{
	for (unsigned b = 0; b < LAT_BUCKETS; b++)
		dst->b[b] += src->b[b];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->max > dst->max)
		dst->max = src->max;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double stats__median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void stats__sleep_floor(unsigned n, struct sleep_floor *out)
{
	uint64_t *v = calloc(n ? n : 1, sizeof(*v));
	struct timespec one = { 0, 1 };
	int old = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);

	memset(out, 0, sizeof(*out));
	if (!v || n == 0) {
		free(v);
		return;
	}
	/* the worker sleeps with 1 ns slack too; measure what it will get */
	prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
	uint64_t c0 = stats__thread_cpu_ns();
	for (unsigned i = 0; i < n; i++) {
		uint64_t t0 = stats__now_ns();
		nanosleep(&one, NULL);
		v[i] = stats__now_ns() - t0;
	}
	uint64_t c1 = stats__thread_cpu_ns();
	if (old > 0)
		prctl(PR_SET_TIMERSLACK, (unsigned long)old, 0, 0, 0);
	qsort(v, n, sizeof(*v), cmp_u64);
	out->p50_ns = v[n / 2];
	out->p99_ns = v[(n * 99) / 100];
	out->cpu_per_sleep_ns = (c1 - c0) / n;
	free(v);
}

int stats__guard_snap(struct guard_snap *s)
{
	unsigned long long u, ni, sy, id, io, irq, sirq, st;
	FILE *f = fopen("/proc/stat", "r");

	memset(s, 0, sizeof(*s));
	if (!f)
		return -1;
	int ok = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &u, &ni, &sy, &id, &io,
			&irq, &sirq, &st) == 8;
	fclose(f);
	if (!ok)
		return -1;
	s->total = u + ni + sy + id + io + irq + sirq + st;
	s->idle = id + io;
	s->steal = st;

	f = fopen("/proc/self/stat", "r");
	if (!f)
		return -1;
	char buf[1024];
	size_t len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	/* fields after the ")" of comm: state is field 3, utime 14, stime 15 */
	char *p = strrchr(buf, ')');
	unsigned long ut = 0, stm = 0;
	if (p &&
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stm) == 2)
		s->self = ut + stm;
	return 0;
}

void stats__guard_diff(const struct guard_snap *a, const struct guard_snap *b,
		       struct guard_report *r)
{
	double total = (double)(b->total - a->total);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	memset(r, 0, sizeof(*r));
	if (total <= 0 || ncpu <= 0)
		return;
	double busy = total - (double)(b->idle - a->idle) - (double)(b->steal - a->steal);
	double others = busy - (double)(b->self - a->self);
	r->steal_pct = 100.0 * (double)(b->steal - a->steal) / total;
	r->others_cpu = others > 0 ? others / total * (double)ncpu : 0;
}

bool stats__guard_disturbed(const struct guard_report *r, uint64_t wall_ns)
{
	uint64_t allowed = wall_ns / 100;
	return r->others_cpu > 0.2 || stats__worker_stall_ns(r) > allowed ||
	       r->gen_stall.total_ns > allowed;
}
