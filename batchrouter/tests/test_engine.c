/*
 * Parse, validate, lookup and rewrite on crafted packets, malformed included:
 * one frame at a time (engine__route_one), and bursts through the rte_graph
 * from a source node of the test's out of three net_ring ports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "engine.h"
#include "frame.h"
#include "port.h"
#include "routes.h"
#include "eal.h"

static struct engine *eng;
static struct rte_mempool *pool;
static struct port ports[3];
static struct engine_counters cnt;
static struct engine_graph eg;

/* the graph's source: hands over what the test put in pending, once */
static struct rte_mbuf *pending[256];
static uint16_t n_pending;

static uint16_t src_process(struct rte_graph *g, struct rte_node *node, void **objs, uint16_t n)
{
	uint16_t k = n_pending;
	(void)objs, (void)n;

	void **out = rte_node_next_stream_get(g, node, 0, k);
	memcpy(out, pending, k * sizeof(pending[0]));
	rte_node_next_stream_put(g, node, 0, k);
	n_pending = 0;
	return k;
}

static struct rte_node_register src_node = {
	.name = "test_src",
	.flags = RTE_NODE_SOURCE_F,
	.process = src_process,
	.nb_edges = 1,
	.next_nodes = { "br_ipv4" },
};
RTE_NODE_REGISTER(src_node);

static void walk(struct rte_mbuf **pkts, uint16_t n)
{
	memcpy(pending, pkts, n * sizeof(pkts[0]));
	n_pending = n;
	rte_graph_walk(eg.graph);
	assert_int_equal(n_pending, 0);
}

/* what port @p sent: its tx ring, emptied into @out */
static unsigned sent_on(unsigned p, struct rte_mbuf **out, unsigned max)
{
	return rte_ring_dequeue_burst(ports[p].tx, (void **)out, max, NULL);
}

static const uint8_t port_macs[3][6] = { { 0x02, 0xaa, 0, 0, 0, 0 },
					 { 0x02, 0xaa, 0, 0, 0, 1 },
					 { 0x02, 0xaa, 0, 0, 0, 2 } };

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static int setup(void **state)
{
	char err[256];
	struct engine_route r[3];
	(void)state;
	if (test_eal_init("0"))
		return -1;
	assert_int_equal(routes__parse_line("10.0.0.0/8 port 1 nexthop-mac 02:00:00:00:00:01",
					    &r[0], err, sizeof(err)),
			 1);
	assert_int_equal(routes__parse_line("10.1.0.0/16 port 2 nexthop-mac 02:00:00:00:00:02",
					    &r[1], err, sizeof(err)),
			 1);
	assert_int_equal(routes__parse_line("192.168.7.0/24 port 0 nexthop-mac 02:00:00:00:00:03",
					    &r[2], err, sizeof(err)),
			 1);
	eng = engine__create("test", r, 3, 3, port_macs, err, sizeof(err));
	if (!eng) {
		fprintf(stderr, "# %s\n", err);
		return -1;
	}
	pool = rte_pktmbuf_pool_create("tpool", 1023, 0, 0, 2048 + RTE_PKTMBUF_HEADROOM,
				       SOCKET_ID_ANY);
	if (!pool)
		return -1;
	/* port 2's tx ring is small enough to overflow (tx-full) */
	const char *spec[3] = { "ring:size=256", "ring:size=256", "ring:size=64" };
	eg.io = (struct engine_io){ .eng = eng, .c = &cnt };
	for (unsigned p = 0; p < 3; p++) {
		if (port__open(&ports[p], spec[p], 20 + p, pool, err, sizeof(err))) {
			fprintf(stderr, "# %s\n", err);
			return -1;
		}
		eg.io.tx_port[p] = ports[p].id;
	}
	if (engine__graph_create(&eg, "test_src", NULL, err, sizeof(err))) {
		fprintf(stderr, "# %s\n", err);
		return -1;
	}
	return 0;
}

static void good_frame(uint8_t *buf, uint32_t len, uint32_t dst, uint8_t ttl)
{
	struct frame_spec s = { .dst_mac = { 0x02, 0xaa },
				.src_mac = { 0x02, 0xbb },
				.src_ip = IP(172, 16, 0, 1),
				.dst_ip = dst,
				.ttl = ttl };
	frame__build(buf, len, &s, 1234, 7);
}

static void fix_csum(uint8_t *buf)
{
	unsigned hl = (buf[14] & 0xf) * 4u;
	buf[24] = buf[25] = 0;
	uint16_t c = engine__ipv4_csum(buf + 14, hl);
	buf[24] = c >> 8;
	buf[25] = c & 0xff;
}

static void test_forward_rewrites(void **state)
{
	uint8_t f[128];
	uint16_t port = 99;
	(void)state;

	good_frame(f, 64, IP(10, 9, 8, 7), 64);
	assert_int_equal(engine__route_one(eng, f, 64, &port), -1);
	assert_int_equal(port, 1);
	assert_int_equal(f[14 + 8], 63);
	assert_int_equal(engine__ipv4_csum(f + 14, 20), 0); /* still verifies */
	const uint8_t nh[6] = { 2, 0, 0, 0, 0, 1 };
	assert_memory_equal(f, nh, 6);
	assert_memory_equal(f + 6, port_macs[1], 6);

	/* longest prefix wins */
	good_frame(f, 64, IP(10, 1, 2, 3), 2);
	assert_int_equal(engine__route_one(eng, f, 64, &port), -1);
	assert_int_equal(port, 2);
	assert_int_equal(f[14 + 8], 1);
	assert_int_equal(engine__ipv4_csum(f + 14, 20), 0);

	/* largest frame */
	uint8_t big[FRAME_MAX];
	good_frame(big, FRAME_MAX, IP(192, 168, 7, 9), 255);
	assert_int_equal(engine__route_one(eng, big, FRAME_MAX, &port), -1);
	assert_int_equal(port, 0);
}

/* The incremental update must equal a full recompute for every TTL and with options. */
static void test_incremental_checksum(void **state)
{
	uint8_t f[128];
	uint16_t port;
	(void)state;
	srand(1);
	for (int ttl = 2; ttl <= 255; ttl++) {
		for (int opt = 0; opt < 2; opt++) {
			good_frame(f, 96, IP(10, rand() & 255, rand() & 255, rand() & 255),
				   (uint8_t)ttl);
			f[14 + 4] = (uint8_t)rand(); /* vary the id: other csum values */
			if (opt) {
				f[14] = 0x46; /* one word of options: NOP NOP NOP EOL */
				memmove(f + 38, f + 34, 50);
				f[34] = f[35] = f[36] = 1;
				f[37] = 0;
			}
			fix_csum(f);
			assert_int_equal(engine__route_one(eng, f, 96, &port), -1);
			uint8_t copy[60];
			memcpy(copy, f + 14, 24);
			unsigned hl = (f[14] & 0xf) * 4u;
			uint16_t got = (uint16_t)(copy[10] << 8 | copy[11]);
			copy[10] = copy[11] = 0;
			assert_int_equal(got, engine__ipv4_csum(copy, hl));
		}
	}
}

static void test_malformed_dropped(void **state)
{
	uint8_t f[128];
	uint16_t port;
	(void)state;

	/* truncated: shorter than Ethernet, than an IPv4 header */
	good_frame(f, 64, IP(10, 0, 0, 1), 64);
	assert_int_equal(engine__route_one(eng, f, 0, &port), DROP_TRUNCATED);
	assert_int_equal(engine__route_one(eng, f, 13, &port), DROP_TRUNCATED);
	assert_int_equal(engine__route_one(eng, f, 14 + 19, &port), DROP_TRUNCATED);

	/* non-IPv4: ARP, IPv6, VLAN */
	uint16_t types[] = { 0x0806, 0x86dd, 0x8100 };
	for (unsigned i = 0; i < 3; i++) {
		good_frame(f, 64, IP(10, 0, 0, 1), 64);
		f[12] = types[i] >> 8;
		f[13] = types[i] & 0xff;
		assert_int_equal(engine__route_one(eng, f, 64, &port), DROP_NOT_IPV4);
	}

	good_frame(f, 64, IP(10, 0, 0, 1), 64);
	f[14] = 0x65;
	fix_csum(f);
	assert_int_equal(engine__route_one(eng, f, 64, &port), DROP_BAD_VERSION);

	/* IHL below 5, and IHL beyond the frame */
	good_frame(f, 64, IP(10, 0, 0, 1), 64);
	f[14] = 0x44;
	assert_int_equal(engine__route_one(eng, f, 64, &port), DROP_BAD_IHL);
	good_frame(f, 64, IP(10, 0, 0, 1), 64);
	f[14] = 0x4f; /* 60 bytes of header, only 50 in the frame */
	assert_int_equal(engine__route_one(eng, f, 64, &port), DROP_BAD_IHL);

	/* total length larger than the frame, and smaller than the header */
	good_frame(f, 64, IP(10, 0, 0, 1), 64);
	f[16] = 0x05;
	fix_csum(f);
	assert_int_equal(engine__route_one(eng, f, 64, &port), DROP_BAD_LENGTH);
	good_frame(f, 64, IP(10, 0, 0, 1), 64);
	f[16] = 0;
	f[17] = 19;
	fix_csum(f);
	assert_int_equal(engine__route_one(eng, f, 64, &port), DROP_BAD_LENGTH);

	good_frame(f, 64, IP(10, 0, 0, 1), 64);
	f[25] ^= 0x01;
	assert_int_equal(engine__route_one(eng, f, 64, &port), DROP_BAD_CHECKSUM);

	good_frame(f, 64, IP(10, 0, 0, 1), 1);
	assert_int_equal(engine__route_one(eng, f, 64, &port), DROP_TTL_EXPIRED);
	good_frame(f, 64, IP(10, 0, 0, 1), 0);
	assert_int_equal(engine__route_one(eng, f, 64, &port), DROP_TTL_EXPIRED);

	good_frame(f, 64, IP(11, 0, 0, 1), 64);
	uint8_t before[64];
	memcpy(before, f, 64);
	assert_int_equal(engine__route_one(eng, f, 64, &port), DROP_NO_ROUTE);
	assert_memory_equal(before, f, 64); /* dropped frames are not modified */
}

static struct rte_mbuf *mbuf_of(const uint8_t *f, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	assert_non_null(m);
	uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, len ? len : 1);
	assert_non_null(d);
	if (len == 0)
		rte_pktmbuf_trim(m, 1);
	memcpy(d, f, len);
	return m;
}

/* The burst path counts every drop by reason and frees what it drops. */
static void test_burst_counts(void **state)
{
	struct engine_counters *c = &cnt;
	struct rte_mbuf *pkts[16], *out[16];
	uint8_t f[128];
	unsigned avail = rte_mempool_avail_count(pool);
	uint16_t n = 0;
	(void)state;

	good_frame(f, 64, IP(10, 2, 0, 1), 64);
	pkts[n++] = mbuf_of(f, 64); /* -> port 1 */
	good_frame(f, 64, IP(10, 1, 0, 1), 64);
	pkts[n++] = mbuf_of(f, 64); /* -> port 2 */
	pkts[n++] = mbuf_of(f, 10); /* truncated */
	good_frame(f, 64, IP(10, 1, 0, 1), 1);
	pkts[n++] = mbuf_of(f, 64); /* ttl */
	good_frame(f, 64, IP(8, 8, 8, 8), 64);
	pkts[n++] = mbuf_of(f, 64); /* no route */
	good_frame(f, 64, IP(10, 1, 0, 1), 64);
	f[25] ^= 0xff;
	pkts[n++] = mbuf_of(f, 64); /* checksum */
	good_frame(f, 64, IP(10, 3, 0, 1), 64);
	pkts[n++] = mbuf_of(f, 64); /* -> port 1 */

	memset(c, 0, sizeof(*c));
	walk(pkts, n);
	assert_int_equal(c->rx, 7);
	assert_int_equal(c->forwarded, 3);
	assert_int_equal(c->drops[DROP_TRUNCATED], 1);
	assert_int_equal(c->drops[DROP_TTL_EXPIRED], 1);
	assert_int_equal(c->drops[DROP_NO_ROUTE], 1);
	assert_int_equal(c->drops[DROP_BAD_CHECKSUM], 1);
	assert_int_equal(sent_on(0, out, 16), 0);
	assert_int_equal(rte_mempool_avail_count(pool), avail - 3); /* drops were freed */
	assert_int_equal(sent_on(1, out, 16), 2);
	for (unsigned i = 0; i < 2; i++) { /* rewritten for the next hop on port 1 */
		const uint8_t *f = rte_pktmbuf_mtod(out[i], const uint8_t *);
		assert_memory_equal(f, ((uint8_t[]){ 2, 0, 0, 0, 0, 1 }), 6);
		assert_memory_equal(f + 6, port_macs[1], 6);
		assert_int_equal(f[14 + 8], 63);
	}
	rte_pktmbuf_free_bulk(out, 2);
	assert_int_equal(sent_on(2, out, 16), 1);
	rte_pktmbuf_free_bulk(out, 1);
	assert_int_equal(rte_mempool_avail_count(pool), avail);
}

/* A port that refuses part of the vector: the rest is tx-full, counted and freed. */
static void test_tx_full(void **state)
{
	struct rte_mbuf *pkts[128], *out[128];
	uint8_t f[64];
	unsigned avail = rte_mempool_avail_count(pool);
	(void)state;

	memset(&cnt, 0, sizeof(cnt));
	good_frame(f, 64, IP(10, 1, 0, 1), 64); /* -> port 2, whose ring holds 63 */
	for (unsigned i = 0; i < 100; i++)
		pkts[i] = mbuf_of(f, 64);
	walk(pkts, 100);
	unsigned got = sent_on(2, out, 128);
	assert_true(got > 0 && got < 100);
	assert_int_equal(cnt.forwarded, got);
	assert_int_equal(cnt.drops[DROP_TX_FULL], 100 - got);
	rte_pktmbuf_free_bulk(out, got);
	assert_int_equal(rte_mempool_avail_count(pool), avail);
}

/* Random garbage, random lengths, random mutations of good frames: no crash,
 * and every packet accounted for exactly once. */
static void test_fuzz_never_crashes(void **state)
{
	struct engine_counters *c = &cnt;
	struct rte_mbuf *pkts[32], *out[64];
	unsigned avail = rte_mempool_avail_count(pool);
	uint8_t f[256];
	memset(c, 0, sizeof(*c));
	uint64_t sent = 0;
	(void)state;

	srand(42);
	for (int round = 0; round < 2000; round++) {
		for (int i = 0; i < 32; i++) {
			uint16_t len = (uint16_t)(rand() % 200);
			if (rand() & 1) {
				good_frame(f, 200, IP(10, rand() & 3, 0, 1), (uint8_t)rand());
				for (int k = rand() % 4; k > 0; k--)
					f[rand() % 60] = (uint8_t)rand();
			} else {
				for (int k = 0; k < len; k++)
					f[k] = (uint8_t)rand();
			}
			pkts[i] = mbuf_of(f, len);
		}
		walk(pkts, 32);
		sent += 32;
		for (unsigned p = 0; p < 3; p++) {
			unsigned k = sent_on(p, out, 64);
			rte_pktmbuf_free_bulk(out, k);
		}
	}
	uint64_t dropped = 0;
	for (int d = 0; d < DROP__MAX; d++)
		dropped += c->drops[d];
	assert_int_equal(c->rx, sent);
	assert_int_equal(c->forwarded + dropped, sent);
	assert_true(c->forwarded > 0);
	assert_true(c->drops[DROP_BAD_CHECKSUM] > 0);
	assert_int_equal(rte_mempool_avail_count(pool), avail); /* every mbuf came back */
}

static void test_routes_parse(void **state)
{
	struct engine_route r;
	char err[256];
	(void)state;

	assert_int_equal(routes__parse_line("  # comment only", &r, err, sizeof(err)), 0);
	assert_int_equal(routes__parse_line("", &r, err, sizeof(err)), 0);
	assert_int_equal(routes__parse_line("0.0.0.0/0 port 3 nexthop-mac 0a:0b:0c:0d:0e:0f # dflt",
					    &r, err, sizeof(err)),
			 1);
	assert_int_equal(r.depth, 0);
	assert_int_equal(r.port, 3);
	assert_int_equal(r.mac[5], 0x0f);

	const char *bad[] = {
		"10.0.0.0 port 1 nexthop-mac 02:00:00:00:00:01",
		"10.0.0.0/33 port 1 nexthop-mac 02:00:00:00:00:01",
		"10.0.0.1/8 port 1 nexthop-mac 02:00:00:00:00:01",
		"10.0.0.0/8 port 9 nexthop-mac 02:00:00:00:00:01",
		"10.0.0.0/8 port 1 nexthop-mac 02:00:00:00:01",
		"10.0.0.0/8 port 1 nexthop-mac 02:00:00:00:00:01 extra",
		"10.0.0.300/8 port 1 nexthop-mac 02:00:00:00:00:01",
		"10.0.0.0/8 prt 1 nexthop-mac 02:00:00:00:00:01",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(routes__parse_line(bad[i], &r, err, sizeof(err)), -1);
		assert_true(strlen(err) > 0);
	}

	char path[] = "/tmp/br_routesXXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *txt = "# routes\n10.0.0.0/8 port 1 nexthop-mac 02:00:00:00:00:01\n\n"
			  "192.168.0.0/16 port 0 nexthop-mac 02:00:00:00:00:02\nbogus\n";
	assert_int_equal(write(fd, txt, strlen(txt)), (ssize_t)strlen(txt));
	close(fd);
	struct engine_route *v = NULL;
	assert_int_equal(routes__load(path, &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":5:")); /* the line number of 'bogus' */
	truncate(path, (off_t)(strlen(txt) - 6));
	assert_int_equal(routes__load(path, &v, err, sizeof(err)), 2);
	free(v);
	unlink(path);
	assert_int_equal(routes__load("/nonexistent/routes", &v, err, sizeof(err)), -1);
}

static void test_create_rejects_bad_port(void **state)
{
	struct engine_route r = { .prefix = IP(10, 0, 0, 0), .depth = 8, .port = 5 };
	char err[256];
	(void)state;
	assert_null(engine__create("bad", &r, 1, 2, port_macs, err, sizeof(err)));
	assert_non_null(strstr(err, "port 5"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward_rewrites),
		cmocka_unit_test(test_incremental_checksum),
		cmocka_unit_test(test_malformed_dropped),
		cmocka_unit_test(test_burst_counts),
		cmocka_unit_test(test_tx_full),
		cmocka_unit_test(test_fuzz_never_crashes),
		cmocka_unit_test(test_routes_parse),
		cmocka_unit_test(test_create_rejects_bad_port),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
