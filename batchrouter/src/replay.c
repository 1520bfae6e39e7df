/* Traces, the host model's fit, and the replay itself. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "replay.h"

int trace__alloc(struct trace *t, size_t max_arr, size_t max_poll, size_t max_late)
{
	memset(t, 0, sizeof(*t));
	t->arr = calloc(max_arr ? max_arr : 1, sizeof(*t->arr));
	t->poll = calloc(max_poll ? max_poll : 1, sizeof(*t->poll));
	t->late = calloc(max_late ? max_late : 1, sizeof(*t->late));
	if (!t->arr || !t->poll || !t->late) {
		trace__free(t);
		return -1;
	}
	t->cap_arr = max_arr;
	t->cap_poll = max_poll;
	t->cap_late = max_late;
	return 0;
}

int trace__alloc_run(struct trace *t, double rate_pps, double dur_s, size_t max_poll)
{
	/* 5% over the mean: Poisson's count over a run; and slack for a short one */
	return trace__alloc(t, (size_t)(rate_pps * dur_s * 1.05) + 4096, max_poll, 1000000);
}

void trace__free(struct trace *t)
{
	free(t->arr);
	free(t->poll);
	free(t->late);
	memset(t, 0, sizeof(*t));
}

int trace__write(const struct trace *t, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		snprintf(err, errlen, "unable to write %s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(f, "# batchrouter trace 1: times in ns from the generator's start\n");
	fprintf(f,
		"run policy=%s pattern=%s rate_pps=%.0f dur_ns=%" PRIu64 " cpu_ns=%" PRIu64
		" sleeps=%" PRIu64 " polls=%" PRIu64 " lat_n=%" PRIu64 " lat_p99_ns=%" PRIu64
		" lost=%" PRIu64 " ring_size=%u floor_p50_ns=%" PRIu64 " floor_p99_ns=%" PRIu64
		" sleep_cpu_ns=%" PRIu64 " truncated=%d\n",
		t->policy, t->pattern, t->rate_pps, t->dur_ns, t->cpu_ns, t->sleeps, t->polls,
		t->lat_n, t->lat_p99_ns, t->lost, t->ring_size, t->floor_p50_ns, t->floor_p99_ns,
		t->sleep_cpu_ns, t->truncated);
	for (size_t i = 0; i < t->n_arr; i++)
		fprintf(f, "a %" PRIu64 " %" PRIu64 "\n", t->arr[i].at_ns, t->arr[i].stamp_ns);
	for (size_t i = 0; i < t->n_poll; i++)
		fprintf(f, "p %" PRIu64 " %u %u %" PRIu64 "\n", t->poll[i].t_ns, t->poll[i].rx,
			t->poll[i].idle, t->poll[i].idle_ns);
	for (size_t i = 0; i < t->n_late; i++)
		fprintf(f, "l %u\n", t->late[i]);
	if (fclose(f)) {
		snprintf(err, errlen, "unable to write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* grows one of the trace's arrays by doubling */
static int grow(void **a, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? 2 * *cap : 1024;
	void *p = realloc(*a, c * size);
	if (!p)
		return -1;
	*a = p;
	*cap = c;
	return 0;
}

static int read_run_line(struct trace *t, char *line)
{
	int trunc = 0;
	int n = sscanf(line,
		       "run policy=%127s pattern=%15s rate_pps=%lf dur_ns=%" SCNu64
		       " cpu_ns=%" SCNu64 " sleeps=%" SCNu64 " polls=%" SCNu64 " lat_n=%" SCNu64
		       " lat_p99_ns=%" SCNu64 " lost=%" SCNu64 " ring_size=%u floor_p50_ns=%" SCNu64
		       " floor_p99_ns=%" SCNu64 " sleep_cpu_ns=%" SCNu64 " truncated=%d",
		       t->policy, t->pattern, &t->rate_pps, &t->dur_ns, &t->cpu_ns, &t->sleeps,
		       &t->polls, &t->lat_n, &t->lat_p99_ns, &t->lost, &t->ring_size,
		       &t->floor_p50_ns, &t->floor_p99_ns, &t->sleep_cpu_ns, &trunc);
	t->truncated = trunc;
	return n == 15 ? 0 : -1;
}

int trace__read(struct trace *t, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[512];
	long no = 0;
	bool have_run = false;

	memset(t, 0, sizeof(*t));
	if (!f) {
		snprintf(err, errlen, "unable to read %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned rx, idle, late;
		uint64_t a, b, c;
		int ok;

		no++;
		switch (line[0]) {
		case '#':
		case '\n':
			continue;
		case 'r':
			ok = !read_run_line(t, line);
			have_run = ok;
			break;
		case 'a':
			ok = sscanf(line, "a %" SCNu64 " %" SCNu64, &a, &b) == 2 &&
			     !grow((void **)&t->arr, &t->cap_arr, t->n_arr, sizeof(*t->arr));
			if (ok)
				t->arr[t->n_arr++] = (struct trace_arrival){ a, b };
			break;
		case 'p':
			ok =
			    sscanf(line, "p %" SCNu64 " %u %u %" SCNu64, &a, &rx, &idle, &c) == 4 &&
			    rx <= UINT16_MAX && idle <= IDLE_WAIT_RX &&
			    !grow((void **)&t->poll, &t->cap_poll, t->n_poll, sizeof(*t->poll));
			if (ok)
				t->poll[t->n_poll++] =
				    (struct trace_poll){ a, (uint16_t)rx, (uint8_t)idle, c };
			break;
		case 'l':
			ok = sscanf(line, "l %u", &late) == 1 &&
			     !grow((void **)&t->late, &t->cap_late, t->n_late, sizeof(*t->late));
			if (ok)
				t->late[t->n_late++] = late;
			break;
		default:
			ok = 0;
		}
		if (!ok) {
			snprintf(err, errlen, "%s:%ld: not a trace line (or out of memory): %.60s",
				 path, no, line);
			goto fail;
		}
	}
	if (!have_run) {
		snprintf(err, errlen,
			 "%s: no run line: not a trace from `batchrouter run --record`", path);
		goto fail;
	}
	for (size_t i = 1; i < t->n_arr; i++)
		if (t->arr[i].at_ns < t->arr[i - 1].at_ns) {
			snprintf(err, errlen, "%s: arrival %zu comes before the one ahead of it",
				 path, i);
			goto fail;
		}
	fclose(f);
	return 0;
fail:
	fclose(f);
	trace__free(t);
	return -1;
}

int replay__fit_costs(const struct trace *busy, struct replay_host *h, char *err, size_t errlen)
{
	/* least squares of gap = poll_ns + k * pkt_ns over back-to-back polls */
	double n = 0, sk = 0, sg = 0, skk = 0, skg = 0;

	for (size_t i = 0; i + 1 < busy->n_poll; i++) {
		const struct trace_poll *p = &busy->poll[i];
		uint64_t gap = busy->poll[i + 1].t_ns - p->t_ns;
		if (p->idle != IDLE_NONE || gap >= STALL_NS)
			continue;
		n++;
		sk += p->rx;
		sg += (double)gap;
		skk += (double)p->rx * p->rx;
		skg += (double)p->rx * (double)gap;
	}
	double det = n * skk - sk * sk;
	if (n < 100 || det <= 0) {
		snprintf(err, errlen,
			 "the busy run has %.0f back-to-back polls%s: record a longer one, at a "
			 "load that fills some polls",
			 n, n >= 100 ? " all of one batch size" : "");
		return -1;
	}
	h->pkt_ns = (n * skg - sk * sg) / det;
	h->poll_ns = (sg - h->pkt_ns * sk) / n;
	if (h->pkt_ns < 0 || h->poll_ns < 0) {
		snprintf(err, errlen,
			 "the busy run's costs came out negative (poll %.0f ns, frame "
			 "%.0f ns): a noisy run; record it again",
			 h->poll_ns, h->pkt_ns);
		return -1;
	}
	return 0;
}

int replay__fit_sleep(const struct trace *run, struct replay_host *h, char *err, size_t errlen)
{
	uint64_t pkts = 0;

	if (!run->sleeps) {
		snprintf(err, errlen, "the run has no sleeps: record one with a sleeping policy");
		return -1;
	}
	for (size_t i = 0; i < run->n_poll; i++)
		pkts += run->poll[i].rx;
	double polls_cpu = (double)run->polls * h->poll_ns + (double)pkts * h->pkt_ns;
	double left = (double)run->cpu_ns - polls_cpu;
	h->sleep_cpu_ns = left > 0 ? left / (double)run->sleeps : 0;
	return 0;
}

void replay__state_init(struct replay_state *s, const struct replay_host *h, uint64_t now,
			size_t late_i)
{
	memset(s, 0, sizeof(*s));
	s->now = now;
	s->late_i = late_i;
	s->burst = 32; /* as worker__init */
	policy__track_init(&s->obs, &s->track, s->burst, h->ring_size, 0);
}

/* frames that reached the ring by @now; a full ring drops them, as the NIC */
static void admit(struct replay_state *s, const struct trace *t, const struct replay_host *h,
		  uint64_t now, struct replay_result *res)
{
	while (s->next_arr < t->n_arr && t->arr[s->next_arr].at_ns <= now) {
		if (s->qn < h->ring_size)
			s->q[(s->qh + s->qn++) % REPLAY_MAX_RING] = (uint32_t)s->next_arr;
		else
			res->drops++;
		s->next_arr++;
	}
}

void replay__run(struct replay_state *s, const struct trace *t, const struct replay_host *h,
		 struct policy *p, const struct policy_rails *r, uint64_t until,
		 struct replay_result *res, replay_decide_cb cb, void *ctx)
{
	struct policy_decision d;

	if (until > t->dur_ns)
		until = t->dur_ns;
	if (!res->t_start && !res->t_end)
		res->t_start = s->now;
	while (s->now < until) {
		admit(s, t, h, s->now, res);
		uint16_t k = s->qn < s->burst ? (uint16_t)s->qn : s->burst;
		double cost = h->poll_ns + k * h->pkt_ns;
		uint64_t done = s->now + (uint64_t)cost;
		for (uint16_t i = 0; i < k; i++) {
			uint64_t stamp = t->arr[s->q[s->qh]].stamp_ns;
			uint64_t lat = done > stamp ? done - stamp : 0;
			if (res->lat)
				lat__record(res->lat, lat);
			if (lat > h->budget_ns)
				res->over_budget++;
			s->qh = (s->qh + 1) % REPLAY_MAX_RING;
			s->qn--;
		}
		res->pkts += k;
		res->polls++;
		res->cpu_ns += (uint64_t)cost;
		/* the worker reads the occupancy after the round */
		admit(s, t, h, done, res);
		policy__observe(&s->obs, &s->track, s->burst, k, k, s->now, s->qn);
		policy__decide(p, &s->obs, &d);
		policy__guard(r, &s->obs, &d);
		if (cb)
			cb(ctx, &s->obs, &d);
		if (d.burst >= 1 && d.burst <= ENGINE_MAX_BURST)
			s->burst = d.burst;
		s->now = done;
		switch (d.idle) {
		case IDLE_NONE:
			break;
		case IDLE_SPIN:
			res->spins++;
			res->cpu_ns += d.ns;
			s->now += d.ns;
			break;
		case IDLE_SLEEP:
		case IDLE_WAIT_RX: {
			uint64_t late = h->n_late ? h->late[s->late_i++ % h->n_late] : 0;
			res->sleeps++;
			res->cpu_ns += (uint64_t)h->sleep_cpu_ns;
			s->now += d.ns + late;
			policy__woke(&s->obs, &s->track, late, s->now);
			break;
		}
		}
	}
	res->t_end = s->now;
}
