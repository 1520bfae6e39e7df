/* The generator: schedules, and the two emitters (synthetic ring, socket). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/if_packet.h>

#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_ring.h>

#include "gen.h"
#include "replay.h"
#include "stats.h"

#define GEN_BURST 64

const char *const gen_pattern_names[GEN__MAX] = {
	[GEN_CBR] = "cbr", [GEN_POISSON] = "poisson", [GEN_ONOFF] = "onoff", [GEN_STAIR] = "stair"
};

int gen__pattern_parse(const char *s, enum gen_pattern *p)
{
	for (int i = 0; i < GEN__MAX; i++) {
		if (!strcmp(s, gen_pattern_names[i])) {
			*p = (enum gen_pattern)i;
			return 0;
		}
	}
	return -1;
}

void gen__sched_init(struct gen_sched *s, enum gen_pattern p, double rate_pps, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->pattern = p;
	s->rate_pps = rate_pps > 0 ? rate_pps : 1;
	s->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
	s->on_ns = 1000000; /* 1 ms on, 9 ms off: the paper-style burst */
	s->period_ns = 10000000;
	s->steps = 10;
	s->step_ns = 200000000;
}

static double uniform01(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return ((double)(*x >> 11) + 0.5) / 9007199254740992.0; /* (0,1) */
}

uint64_t gen__next(struct gen_sched *s)
{
	uint64_t t;

	switch (s->pattern) {
	case GEN_POISSON:
		t = (uint64_t)s->t_ns;
		s->t_ns += -log(uniform01(&s->rng)) / s->rate_pps * 1e9;
		break;
	case GEN_ONOFF: {
		/* CBR at the peak rate in "on" time, mapped onto the periods */
		double peak = s->rate_pps * (double)s->period_ns / (double)s->on_ns;
		double v = (double)s->seq / peak * 1e9;
		uint64_t idx = (uint64_t)(v / (double)s->on_ns);
		t = idx * s->period_ns + (uint64_t)(v - (double)idx * (double)s->on_ns);
		break;
	}
	case GEN_STAIR: {
		t = (uint64_t)s->t_ns;
		unsigned k = (unsigned)((t / s->step_ns) % s->steps);
		s->t_ns += 1e9 / (s->rate_pps * (k + 1) / s->steps);
		break;
	}
	case GEN_CBR:
	default:
		/* from the sequence number, so rounding never drifts */
		t = (uint64_t)((double)s->seq * 1e9 / s->rate_pps);
		break;
	}
	s->seq++;
	return t;
}

double gen__peak_factor(enum gen_pattern p)
{
	struct gen_sched s;
	gen__sched_init(&s, p, 1, 0);
	return p == GEN_ONOFF ? (double)s.period_ns / (double)s.on_ns : 1;
}

/*
 * The generator's clock: every read logs the gap since the last one as a
 * stall if it is long, since the generator never sleeps (it plays a NIC,
 * which delivers every packet at its time: a generator that slept would
 * deliver late by its own wake-up error, up to the 50 us default timer
 * slack plus the floor, and that lateness would count as the router's).
 */
static uint64_t gen_now(struct gen *g)
{
	uint64_t t = stats__now_ns();
	if (g->last_ns)
		stall__note(&g->stall, t - g->last_ns);
	g->last_ns = t;
	return t;
}

static void pace(struct gen *g, uint64_t due_abs)
{
	while (!g->stop && gen_now(g) < due_abs)
		rte_pause();
}

void *gen__ring_thread(void *arg)
{
	struct gen *g = arg;
	struct rte_mbuf *m[GEN_BURST], *done[GEN_BURST];
	uint8_t tmpl[FRAME_MAX];
	uint64_t next = gen__next(&g->sched), end = g->start_ns + g->duration_ns;

	frame__build(tmpl, g->frame_len, &g->spec, 0, 0);
	while (!g->stop) {
		uint64_t now = gen_now(g);
		unsigned n = rte_ring_sc_dequeue_burst(g->tx, (void **)done, GEN_BURST, NULL);
		if (n) {
			rte_pktmbuf_free_bulk(done, n);
			g->c.sunk += n;
		}
		if (g->start_ns + next >= end) {
			if (now >= end)
				break;
			pace(g, end);
			continue;
		}
		if (g->start_ns + next > now) {
			pace(g, g->start_ns + next);
			continue;
		}
		unsigned k = 0;
		uint64_t stamps[GEN_BURST];
		while (k < GEN_BURST && g->start_ns + next <= now && g->start_ns + next < end) {
			stamps[k++] = g->start_ns + next;
			next = gen__next(&g->sched);
		}
		g->c.offered += k;
		g->c.late_ns = now - stamps[k - 1];
		if (rte_pktmbuf_alloc_bulk(g->pool, m, k) != 0) {
			g->c.no_mbuf += k;
			continue;
		}
		for (unsigned i = 0; i < k; i++) {
			uint8_t *d = (uint8_t *)rte_pktmbuf_append(m[i], (uint16_t)g->frame_len);
			memcpy(d, tmpl, g->frame_len);
			frame__stamp(d, stamps[i], g->sched.seq - k + i);
			if (unlikely(g->rec != NULL))
				trace__arrive(g->rec, now, stamps[i]);
		}
		unsigned sent = rte_ring_sp_enqueue_burst(g->rx, (void **)m, k, NULL);
		g->c.sent += sent;
		if (sent < k) {
			g->c.ring_full += k - sent;
			rte_pktmbuf_free_bulk(m + sent, k - sent);
		}
	}
	g->c.cpu_ns = stats__thread_cpu_ns();
	return NULL;
}

/* Counts forwarded frames: ours, addressed to the sink, TTL decremented. */
static void sink_drain(struct gen *g)
{
	uint8_t buf[2048];
	struct sockaddr_ll from;
	socklen_t fl;

	for (;;) {
		fl = sizeof(from);
		ssize_t n = recvfrom(g->sock, buf, sizeof(buf), MSG_DONTWAIT,
				     (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		uint64_t st, seq;
		if (from.sll_pkttype == PACKET_OUTGOING || memcmp(buf, g->sink_mac, 6) ||
		    frame__read_stamp(buf, (uint32_t)n, &st, &seq) || buf[22] != g->spec.ttl - 1)
			continue;
		g->c.sunk++;
	}
}

void *gen__socket_thread(void *arg)
{
	struct gen *g = arg;
	uint8_t frames[GEN_BURST][FRAME_MAX];
	struct mmsghdr msgs[GEN_BURST];
	struct iovec iov[GEN_BURST];
	uint64_t next = gen__next(&g->sched), end = g->start_ns + g->duration_ns;

	for (unsigned i = 0; i < GEN_BURST; i++) {
		frame__build(frames[i], g->frame_len, &g->spec, 0, 0);
		iov[i] = (struct iovec){ frames[i], g->frame_len };
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	while (!g->stop) {
		uint64_t now = gen_now(g);
		sink_drain(g);
		if (g->start_ns + next >= end) {
			if (now >= end + 200000000ull) /* 200 ms for the last ones to come back */
				break;
			pace(g, now + 100000);
			continue;
		}
		if (g->start_ns + next > now) {
			pace(g, g->start_ns + next);
			continue;
		}
		unsigned k = 0;
		while (k < GEN_BURST && g->start_ns + next <= now && g->start_ns + next < end) {
			g->c.late_ns = now - (g->start_ns + next);
			frame__stamp(frames[k++], g->start_ns + next, g->sched.seq - 1);
			next = gen__next(&g->sched);
		}
		g->c.offered += k;
		unsigned off = 0;
		while (off < k) {
			int r = sendmmsg(g->sock, msgs + off, k - off, 0);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				/* ENOBUFS: the veth queue is full; that is loss at the sender */
				g->c.ring_full += k - off;
				break;
			}
			off += (unsigned)r;
			g->c.sent += (unsigned)r;
		}
	}
	g->c.cpu_ns = stats__thread_cpu_ns();
	return NULL;
}

int gen__parse_loads(char *s, double *v, unsigned max)
{
	unsigned n = 0;
	for (char *t = strtok(s, ","); t; t = strtok(NULL, ",")) {
		char *end;
		if (n == max)
			return -1;
		v[n] = strtod(t, &end);
		if (*end || v[n] <= 0 || v[n] > 200)
			return -1;
		n++;
	}
	return (int)n;
}
