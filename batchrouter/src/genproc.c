/* The generator as its own DPDK process over an ethdev (memif). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_thash.h>

#include "frame.h"
#include "gen.h"
#include "genproc.h"
#include "port.h"
#include "router.h"
#include "stats.h"

#define GP_BURST 32
#define GP_MAX_FLOWS 4096
#define GP_MAX_Q 16

/* the key most NICs (and DPDK's testpmd) use by default */
static const uint8_t rss_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

unsigned genproc__rss_queue(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
			    unsigned n_queues)
{
	union rte_thash_tuple t = { 0 };
	t.v4.src_addr = src;
	t.v4.dst_addr = dst;
	t.v4.sport = sport;
	t.v4.dport = dport;
	uint32_t h = rte_softrss((uint32_t *)&t, RTE_THASH_V4_L4_LEN, rss_key);
	return n_queues ? (h & 127) % n_queues : 0;
}

struct gp_opts {
	double rate, duration_s;
	enum gen_pattern pattern;
	double linger_s, link_wait_s;
	unsigned flows, queues, rx_queues, size;
	uint32_t dst_ip;
};

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig)
{
	stop_signal = sig;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: batchrouter gen [--rate PPS] [--pattern cbr|poisson|onoff|stair]\n"
		   "                       [--duration S] [--flows N] [--queues M] [--size B]\n"
		   "                       [--rx-queues W] [--dst A.B.C.D] [--linger S]\n"
		   "                       -- EAL-ARGS\n"
		   "Sends stamped IPv4/UDP frames through the first port the EAL probes (e.g.\n"
		   "--vdev net_memif0,role=client,socket=PATH joined to a router's server) on\n"
		   "the main lcore (-l 0 pins it), and counts what comes back.\n"
		   "  --flows    source address and UDP port vary over N flows (default 64)\n"
		   "  --queues   the router's rx queues: each flow goes to the queue RSS would\n"
		   "             pick (Toeplitz, default key); default 1\n"
		   "  --rx-queues  the router's worker lcores (its tx queues on this link):\n"
		   "             each comes back on a queue of its own and every one is drained;\n"
		   "             memif connects only when the two sides agree; default 1\n"
		   "  --dst      destination address (default 10.0.0.1)\n"
		   "  --linger   after the report, wait up to S s (default 60) without polling\n"
		   "             for the router to close the link: DPDK 22.11's memif can crash\n"
		   "             a side still polling when its peer leaves, so stop the router\n"
		   "             first (its --duration, or SIGINT)\n");
}

static int parse(int argc, char **argv, struct gp_opts *o)
{
	static const struct option opts[] = {
		{ "rate", required_argument, NULL, 'r' },
		{ "pattern", required_argument, NULL, 't' },
		{ "duration", required_argument, NULL, 'd' },
		{ "flows", required_argument, NULL, 'f' },
		{ "queues", required_argument, NULL, 'Q' },
		{ "rx-queues", required_argument, NULL, 'R' },
		{ "size", required_argument, NULL, 's' },
		{ "dst", required_argument, NULL, 'D' },
		{ "linger", required_argument, NULL, 'l' },
		{ "link-wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned a, b, c, d;
	int ch;
	*o = (struct gp_opts){ .rate = 100000,
			       .duration_s = 5,
			       .flows = 64,
			       .queues = 1,
			       .rx_queues = 1,
			       .size = 64,
			       .dst_ip = 0x0a000001,
			       .linger_s = 60,
			       .link_wait_s = 30 };
	optind = 1;
	while ((ch = getopt_long(argc, argv, "r:t:d:f:Q:R:s:D:l:w:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			o->rate = atof(optarg);
			break;
		case 't':
			if (gen__pattern_parse(optarg, &o->pattern)) {
				fprintf(stderr, "batchrouter gen: unknown pattern '%s'\n", optarg);
				return 100;
			}
			break;
		case 'd':
			o->duration_s = atof(optarg);
			break;
		case 'f':
			o->flows = (unsigned)atoi(optarg);
			break;
		case 'Q':
			o->queues = (unsigned)atoi(optarg);
			break;
		case 'R':
			o->rx_queues = (unsigned)atoi(optarg);
			break;
		case 's':
			o->size = (unsigned)atoi(optarg);
			break;
		case 'D':
			if (sscanf(optarg, "%u.%u.%u.%u", &a, &b, &c, &d) != 4 || a > 255 ||
			    b > 255 || c > 255 || d > 255) {
				fprintf(stderr, "batchrouter gen: --dst %s is not A.B.C.D\n",
					optarg);
				return 100;
			}
			o->dst_ip = a << 24 | b << 16 | c << 8 | d;
			break;
		case 'l':
			o->linger_s = atof(optarg);
			break;
		case 'w':
			o->link_wait_s = atof(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 100;
		}
	}
	if (o->rate <= 0 || o->duration_s <= 0 || o->flows < 1 || o->flows > GP_MAX_FLOWS ||
	    o->queues < 1 || o->queues > GP_MAX_Q || o->rx_queues < 1 || o->rx_queues > GP_MAX_Q ||
	    o->size < 64 || o->size > FRAME_MAX) {
		fprintf(stderr,
			"batchrouter gen: need rate > 0, duration > 0, 1 <= flows <= %d, "
			"1 <= queues and rx-queues <= %d, size 64..%d\n",
			GP_MAX_FLOWS, GP_MAX_Q, FRAME_MAX);
		return 100;
	}
	return -1;
}

struct gp {
	struct gp_opts o;
	uint16_t port;
	struct rte_mempool *pool;
	uint8_t (*tmpl)[FRAME_MAX];
	uint8_t *flow_q;
	struct lat_hist *lat;
	uint64_t offered, sent, refused, no_mbuf, back, foreign;
	uint64_t per_q[GP_MAX_Q];
	uint64_t back_q[GP_MAX_Q]; /* what came back, per rx queue */
};

/* Builds one template per flow and its queue. */
static void build_flows(struct gp *g, const uint8_t dst_mac[6])
{
	for (unsigned f = 0; f < g->o.flows; f++) {
		struct frame_spec s = { .src_mac = { 2, 0, 0, 0, 0, 9 },
					.src_ip = 0xac100001 + f,
					.dst_ip = g->o.dst_ip,
					.ttl = 64 };
		memcpy(s.dst_mac, dst_mac, 6);
		frame__build(g->tmpl[f], g->o.size, &s, 0, 0);
		uint16_t sport = (uint16_t)(1024 + f);
		g->tmpl[f][34] = sport >> 8; /* UDP checksum 0: no fix-up */
		g->tmpl[f][35] = sport & 0xff;
		g->flow_q[f] =
		    (uint8_t)genproc__rss_queue(s.src_ip, s.dst_ip, sport, 9001, g->o.queues);
	}
}

/* The generator alone: frames built, stamped and freed for ~0.5 s. */
static double own_peak(struct gp *g)
{
	struct rte_mbuf *m[GP_BURST];
	uint64_t t0 = stats__now_ns(), n = 0, now = t0;
	while (now - t0 < 500000000ull) {
		if (rte_pktmbuf_alloc_bulk(g->pool, m, GP_BURST))
			break;
		for (unsigned i = 0; i < GP_BURST; i++) {
			uint8_t *d = (uint8_t *)rte_pktmbuf_append(m[i], (uint16_t)g->o.size);
			memcpy(d, g->tmpl[(n + i) % g->o.flows], g->o.size);
			frame__stamp(d, now, n + i);
		}
		rte_pktmbuf_free_bulk(m, GP_BURST);
		n += GP_BURST;
		now = stats__now_ns();
	}
	return (double)n / ((double)(now - t0) / 1e9);
}

static void drain(struct gp *g, uint64_t now)
{
	struct rte_mbuf *m[GP_BURST];
	for (uint16_t q = 0; q < g->o.rx_queues; q++) {
		uint16_t n = rte_eth_rx_burst(g->port, q, m, GP_BURST);
		g->back_q[q] += n;
		for (uint16_t i = 0; i < n; i++) {
			uint64_t st, seq;
			if (frame__read_stamp(rte_pktmbuf_mtod(m[i], const uint8_t *),
					      m[i]->data_len, &st, &seq) == 0 &&
			    st <= now) {
				lat__record(g->lat, now - st);
				g->back++;
			} else {
				g->foreign++;
			}
		}
		if (n)
			rte_pktmbuf_free_bulk(m, n);
	}
}

static int send_loop(struct gp *g)
{
	struct gen_sched s;
	struct rte_mbuf *qb[GP_MAX_Q][GP_BURST];
	unsigned qn[GP_MAX_Q] = { 0 };
	gen__sched_init(&s, g->o.pattern, g->o.rate, 1);
	uint64_t start = stats__now_ns() + 1000000, end = start + (uint64_t)(g->o.duration_s * 1e9);
	uint64_t next = start + gen__next(&s), late = 0;

	uint64_t quiet_since = 0, seen = 0;
	while (!stop_signal) {
		uint64_t now = stats__now_ns();
		drain(g, now);
		if (next >= end) {
			/* the last ones back: until all came or 1 s passes with none
			 * (stalls of either process of up to ~0.7 s were seen on the
			 * README's VM while other jobs ran), at most 10 s */
			if (g->back != seen || !quiet_since)
				seen = g->back, quiet_since = now;
			if (g->back >= g->sent || now - quiet_since >= 1000000000ull ||
			    now >= end + 10000000000ull)
				break;
			continue;
		}
		while (next <= now && next < end) {
			unsigned f = (unsigned)(s.seq % g->o.flows), q = g->flow_q[f];
			struct rte_mbuf *m = rte_pktmbuf_alloc(g->pool);
			g->offered++;
			late = now - next;
			if (!m) {
				g->no_mbuf++;
			} else {
				uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)g->o.size);
				memcpy(d, g->tmpl[f], g->o.size);
				frame__stamp(d, next, s.seq);
				qb[q][qn[q]++] = m;
			}
			next = start + gen__next(&s);
			if (qn[q] == GP_BURST)
				break;
		}
		for (unsigned q = 0; q < g->o.queues; q++) {
			if (!qn[q])
				continue;
			uint16_t k = rte_eth_tx_burst(g->port, (uint16_t)q, qb[q], (uint16_t)qn[q]);
			g->sent += k;
			g->per_q[q] += k;
			if (k < qn[q]) { /* the link is full: lost, as a NIC's would be */
				g->refused += qn[q] - k;
				rte_pktmbuf_free_bulk(qb[q] + k, qn[q] - k);
			}
			qn[q] = 0;
		}
	}
	return late > (uint64_t)(g->o.duration_s * 1e7) ? 1 : 0; /* > 1% of the run late */
}

int genproc__main(int argc, char **argv)
{
	struct gp g = { 0 };
	int dd = 0, rc = 111, prc;
	char prefix[48];

	while (dd < argc && strcmp(argv[dd], "--"))
		dd++;
	if ((prc = parse(dd, argv, &g.o)) >= 0)
		return prc;
	if (optind != dd || dd == argc) {
		fprintf(stderr, "batchrouter gen: EAL arguments go after '--' (a device: --vdev "
				"net_memif0,role=client,socket=PATH)\n");
		return 100;
	}
	int n_eal = argc - dd - 1;
	char **eal = calloc((size_t)n_eal + 6, sizeof(char *));
	g.tmpl = calloc(g.o.flows, sizeof(*g.tmpl));
	g.flow_q = calloc(g.o.flows, 1);
	g.lat = calloc(1, sizeof(*g.lat));
	bool eal_up = false, started = false;
	if (!eal || !g.tmpl || !g.flow_q || !g.lat) {
		fprintf(stderr, "batchrouter gen: out of memory\n");
		goto out;
	}
	FILE *mi = fopen("/proc/meminfo", "r");
	long huge = 0;
	char line[128];
	while (mi && fgets(line, sizeof(line), mi))
		if (sscanf(line, "HugePages_Free: %ld", &huge) == 1)
			break;
	if (mi)
		fclose(mi);
	int n = router__eal_args(n_eal, argv + dd + 1, eal, prefix, huge);
	if (rte_eal_init(n, eal) < 0) {
		fprintf(stderr, "batchrouter gen: rte_eal_init: %s\n", rte_strerror(rte_errno));
		goto out;
	}
	eal_up = true;
	if (rte_eth_dev_count_avail() < 1) {
		fprintf(stderr, "batchrouter gen: the EAL probed no port: give it one, e.g. "
				"--vdev net_memif0,role=client,socket=PATH\n");
		goto out;
	}
	RTE_ETH_FOREACH_DEV(g.port) break;
	g.pool = rte_pktmbuf_pool_create("br_gen_pool", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					 (int)rte_socket_id());
	if (!g.pool) {
		fprintf(stderr, "batchrouter gen: mbuf pool: %s\n", rte_strerror(rte_errno));
		goto out;
	}
	struct port p;
	char err[256];
	if (port__open_ethdev(&p, g.port, (uint16_t)g.o.rx_queues, (uint16_t)g.o.queues, g.pool,
			      err, sizeof(err))) {
		fprintf(stderr,
			"batchrouter gen: %s (a memif client needs its server, the "
			"router, to be running first)\n",
			err);
		goto out;
	}
	started = true;
	uint8_t dst_mac[6] = { 2, 0, 0, 0, 0, 1 }; /* the router takes any (promiscuous) */
	build_flows(&g, dst_mac);
	double peak = own_peak(&g);
	printf("gen: on its own it builds %.2f Mpps (%u-byte frames, stamped, no link)\n",
	       peak / 1e6, g.o.size);
	fflush(stdout);
	if (g.o.rate * gen__peak_factor(g.o.pattern) > peak)
		printf("gen: WARNING: %s at %.0f pps peaks above that: expect it to fall behind\n",
		       gen_pattern_names[g.o.pattern], g.o.rate);
	/* memif connects when both ends run: wait up to 30 s for the link (the
	 * handshake took seconds on the README's busy VM) */
	struct rte_eth_link link = { 0 };
	for (int i = 0; i < 300 && !stop_signal; i++) {
		if (rte_eth_link_get_nowait(g.port, &link) == 0 && link.link_status)
			break;
		usleep(100000);
	}
	if (!link.link_status) {
		fprintf(stderr,
			"batchrouter gen: port %u's link is down after 30 s: is the router "
			"(the memif server) running?\n",
			g.port);
		goto out;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("gen: link up, sending\n");
	fflush(stdout);
	uint64_t c0 = stats__thread_cpu_ns();
	int behind = send_loop(&g);
	printf("gen: %s %.0f pps %.2f s, %u flows over %u queues:", gen_pattern_names[g.o.pattern],
	       g.o.rate, g.o.duration_s, g.o.flows, g.o.queues);
	for (unsigned q = 0; q < g.o.queues; q++)
		printf(" q%u %lu", q, (unsigned long)g.per_q[q]);
	printf("\ngen: back over %u queues:", g.o.rx_queues);
	for (unsigned q = 0; q < g.o.rx_queues; q++)
		printf(" r%u %lu", q, (unsigned long)g.back_q[q]);
	printf("\ngen: offered %lu sent %lu link-full %lu no-mbuf %lu back %lu foreign %lu, "
	       "cpu %.2f s%s\n",
	       (unsigned long)g.offered, (unsigned long)g.sent, (unsigned long)g.refused,
	       (unsigned long)g.no_mbuf, (unsigned long)g.back, (unsigned long)g.foreign,
	       (double)(stats__thread_cpu_ns() - c0) / 1e9,
	       behind ? " (fell behind its schedule by > 1% of the run)" : "");
	printf("gen: latency n %lu p50 %.1f us p99 %.1f us max %.1f us\n",
	       (unsigned long)g.lat->count, lat__percentile(g.lat, 0.5) / 1e3,
	       lat__percentile(g.lat, 0.99) / 1e3, g.lat->max / 1e3);
	fflush(stdout);
	rc = g.back == g.offered ? 0 : 1;
	/*
	 * Leave the link to the router to end: DPDK 22.11's memif frees its
	 * regions on the control thread when the peer goes, while the data path
	 * may be inside rx_burst on them (memif_disconnect; seen as a SIGSEGV in
	 * the router's worker). So the generator does not poll any more and
	 * waits, up to --linger s, for the router to close its end.
	 */
	for (uint64_t t0 = stats__now_ns(); !stop_signal && link.link_status &&
					    stats__now_ns() - t0 < (uint64_t)(g.o.linger_s * 1e9);
	     usleep(50000))
		if (rte_eth_link_get_nowait(g.port, &link))
			break;
out:
	if (started) {
		rte_eth_dev_stop(g.port);
		rte_eth_dev_close(g.port);
	}
	rte_mempool_free(g.pool);
	free(eal);
	free(g.tmpl);
	free(g.flow_q);
	free(g.lat);
	if (eal_up)
		rte_eal_cleanup();
	return rc;
}
