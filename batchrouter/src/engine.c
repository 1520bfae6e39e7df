/*
 * The forwarding graph on rte_graph. Each node is a loop over the whole vector
 * that passes the survivors on as one stream, as VPP's nodes do: the per-node
 * loop keeps instruction caches warm and lets the LPM node use the bulk
 * lookup, which is what makes larger batches cheaper per packet.
 *
 * The nodes are ours, not rte_node's ip4_lookup/ip4_rewrite (DESIGN.md): those
 * keep one process-wide LPM with add-only routes, do not validate the header
 * (RFC 1812's checks, the checksum, TTL expiry), and reach only ethdev_tx
 * nodes, whose tx queue is the graph's id and whose refused packets go to
 * pkt_drop uncounted by reason. pkt_drop itself is rte_node's.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_ip.h>
#include <rte_lpm.h>
#include <rte_mbuf.h>

#include "engine.h"
#include "frame.h"
#include "stats.h"

const char *const engine_drop_names[DROP__MAX] = {
	[DROP_TRUNCATED] = "truncated",	    [DROP_NOT_IPV4] = "not-ipv4",
	[DROP_BAD_VERSION] = "bad-version", [DROP_BAD_IHL] = "bad-ihl",
	[DROP_BAD_LENGTH] = "bad-length",   [DROP_BAD_CHECKSUM] = "bad-checksum",
	[DROP_TTL_EXPIRED] = "ttl-expired", [DROP_NO_ROUTE] = "no-route",
	[DROP_TX_FULL] = "tx-full",
};

/* rte_raw_cksum sums the words as they lie in memory; the sum of the
 * big-endian words is its byte swap (RFC 1071's byte-order independence) */
uint16_t engine__ipv4_csum(const void *hdr, unsigned len)
{
	return rte_be_to_cpu_16((uint16_t)~rte_raw_cksum(hdr, len));
}

/* br_ipv4, part 1: Ethernet. Returns a drop reason or -1. */
static inline int check_eth(const uint8_t *f, uint32_t len)
{
	const struct rte_ether_hdr *eth = (const struct rte_ether_hdr *)f;

	if (len < sizeof(*eth))
		return DROP_TRUNCATED;
	if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return DROP_NOT_IPV4;
	return -1;
}

/*
 * br_ipv4, part 2: the IPv4 header, in the order RFC 1812 5.2.2 lists the
 * checks. The checksum covers the full IHL, so options are covered.
 */
static inline int check_ipv4(const uint8_t *f, uint32_t len)
{
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(f + RTE_ETHER_HDR_LEN);
	uint32_t room = len - RTE_ETHER_HDR_LEN;

	if (room < sizeof(*ip))
		return DROP_TRUNCATED;
	if (ip->version != 4)
		return DROP_BAD_VERSION;
	unsigned hlen = rte_ipv4_hdr_len(ip);
	if (hlen < sizeof(*ip) || hlen > room)
		return DROP_BAD_IHL;
	unsigned tot = rte_be_to_cpu_16(ip->total_length);
	if (tot < hlen || tot > room) /* shorter is fine: Ethernet pads to 60 */
		return DROP_BAD_LENGTH;
	if (rte_raw_cksum(ip, hlen) != 0xffff)
		return DROP_BAD_CHECKSUM;
	if (ip->time_to_live <= 1)
		return DROP_TTL_EXPIRED;
	return -1;
}

static inline uint32_t ipv4_dst(const uint8_t *f)
{
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(f + RTE_ETHER_HDR_LEN);
	return rte_be_to_cpu_32(ip->dst_addr);
}

/*
 * br_rewrite's work: TTL-1 with the incremental update of RFC 1624 eq. 3,
 * HC' = ~(~HC + ~m + m'), on the 16-bit word holding TTL and protocol: no
 * need to re-sum options, and no 0xffff/0x0000 corner case (RFC 1141's).
 */
static inline void rewrite(const struct engine *e, uint8_t *f, const struct engine_nexthop *nh)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)f;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f + RTE_ETHER_HDR_LEN);
	uint16_t m = (uint16_t)(ip->time_to_live << 8 | ip->next_proto_id);
	uint16_t hc = rte_be_to_cpu_16(ip->hdr_checksum);

	ip->time_to_live--;
	uint16_t m2 = (uint16_t)(ip->time_to_live << 8 | ip->next_proto_id);
	uint32_t sum = (uint16_t)~hc + (uint32_t)(uint16_t)~m + m2;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip->hdr_checksum = rte_cpu_to_be_16((uint16_t)~sum);

	memcpy(&eth->dst_addr, nh->dst, RTE_ETHER_ADDR_LEN);
	memcpy(&eth->src_addr, e->port_mac[nh->port], RTE_ETHER_ADDR_LEN);
}

int engine__route_one(const struct engine *e, uint8_t *frame, uint32_t len, uint16_t *port)
{
	uint32_t hop;
	int r;

	if ((r = check_eth(frame, len)) >= 0)
		return r;
	if ((r = check_ipv4(frame, len)) >= 0)
		return r;
	if (rte_lpm_lookup(e->lpm, ipv4_dst(frame), &hop) != 0 || hop >= e->n_nexthops)
		return DROP_NO_ROUTE;
	rewrite(e, frame, &e->nexthops[hop]);
	*port = e->nexthops[hop].port;
	return -1;
}

/* ---- the nodes ---- */

/* A node's context: the graph's io, and for a tx clone its output port. */
struct node_ctx {
	struct engine_io *io;
	uint16_t port;
};
_Static_assert(sizeof(struct node_ctx) <= RTE_NODE_CTX_SZ, "rte_node ctx too small");

static inline struct node_ctx *ctx_of(struct rte_node *node)
{
	return (struct node_ctx *)node->ctx;
}

enum { NEXT_PASS = 0, NEXT_DROP = 1 }; /* br_ipv4's and br_lookup's edges */

static uint16_t ipv4_process(struct rte_graph *g, struct rte_node *node, void **objs, uint16_t n)
{
	struct engine_counters *c = ctx_of(node)->io->c;
	void **pass = rte_node_next_stream_get(g, node, NEXT_PASS, n);
	uint16_t k = 0;

	c->rx += n;
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = objs[i];
		const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
		int r = check_eth(f, m->data_len);
		if (r < 0)
			r = check_ipv4(f, m->data_len);
		if (r >= 0) {
			c->drops[r]++;
			rte_node_enqueue_x1(g, node, NEXT_DROP, m);
			continue;
		}
		pass[k++] = m;
	}
	rte_node_next_stream_put(g, node, NEXT_PASS, k);
	return n;
}

/* rte_lpm_lookup_bulk's arrays live on the stack: the vector in chunks */
#define LOOKUP_CHUNK 256

static uint16_t lookup_process(struct rte_graph *g, struct rte_node *node, void **objs, uint16_t n)
{
	struct engine_io *io = ctx_of(node)->io;
	const struct engine *e = io->eng;
	void **pass = rte_node_next_stream_get(g, node, NEXT_PASS, n);
	uint32_t ips[LOOKUP_CHUNK], hops[LOOKUP_CHUNK];
	uint16_t k = 0;

	for (uint16_t base = 0; base < n; base += LOOKUP_CHUNK) {
		uint16_t len = RTE_MIN((uint16_t)(n - base), (uint16_t)LOOKUP_CHUNK);
		for (uint16_t i = 0; i < len; i++)
			ips[i] = ipv4_dst(
			    rte_pktmbuf_mtod((struct rte_mbuf *)objs[base + i], const uint8_t *));
		rte_lpm_lookup_bulk(e->lpm, ips, hops, len);
		for (uint16_t i = 0; i < len; i++) {
			struct rte_mbuf *m = objs[base + i];
			/* the entry also carries depth and valid-group bits above bit 24 */
			uint32_t h = hops[i] & 0x00ffffff;
			if (!(hops[i] & RTE_LPM_LOOKUP_SUCCESS) || h >= e->n_nexthops) {
				io->c->drops[DROP_NO_ROUTE]++;
				rte_node_enqueue_x1(g, node, NEXT_DROP, m);
				continue;
			}
			/* the RSS hash was used at rx; from here the field is ours */
			m->hash.usr = h;
			pass[k++] = m;
		}
	}
	rte_node_next_stream_put(g, node, NEXT_PASS, k);
	return n;
}

/*
 * br_rewrite's edge P is br_tx-P (engine__graph_create adds them in order).
 * A vector mostly goes one way: the first packet's port gets the stream, the
 * others are enqueued one by one.
 */
static uint16_t rewrite_process(struct rte_graph *g, struct rte_node *node, void **objs, uint16_t n)
{
	const struct engine *e = ctx_of(node)->io->eng;
	uint16_t main_port = e->nexthops[((struct rte_mbuf *)objs[0])->hash.usr].port, k = 0;
	void **to = rte_node_next_stream_get(g, node, main_port, n);

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = objs[i];
		const struct engine_nexthop *nh = &e->nexthops[m->hash.usr];
		rewrite(e, rte_pktmbuf_mtod(m, uint8_t *), nh);
		if (nh->port == main_port)
			to[k++] = m;
		else
			rte_node_enqueue_x1(g, node, nh->port, m);
	}
	rte_node_next_stream_put(g, node, main_port, k);
	return n;
}

/* Records latency against the schedule stamp, then sends; unsent = tx-full drops. */
static uint16_t tx_process(struct rte_graph *g, struct rte_node *node, void **objs, uint16_t n)
{
	struct node_ctx *x = ctx_of(node);
	struct engine_io *io = x->io;
	struct rte_mbuf **pk = (struct rte_mbuf **)objs;

	/* stamps are read before tx: a sent mbuf may be freed at once */
	if (io->lat) {
		uint64_t now = io->clock();
		for (uint16_t i = 0; i < n; i++) {
			uint64_t st, seq;
			if (frame__read_stamp(rte_pktmbuf_mtod(pk[i], const uint8_t *),
					      pk[i]->data_len, &st, &seq) == 0 &&
			    st <= now)
				lat__record(io->lat, now - st);
		}
	}
	uint16_t sent = rte_eth_tx_burst(io->tx_port[x->port], io->tx_q, pk, n);
	io->c->forwarded += sent;
	if (sent < n) {
		io->c->drops[DROP_TX_FULL] += n - sent;
		rte_node_enqueue(g, node, 0, objs + sent, n - sent);
	}
	return n;
}

static struct rte_node_register ipv4_node = {
	.name = "br_ipv4",
	.process = ipv4_process,
	.nb_edges = 2,
	.next_nodes = { [NEXT_PASS] = "br_lookup", [NEXT_DROP] = "pkt_drop" },
};
RTE_NODE_REGISTER(ipv4_node);

static struct rte_node_register lookup_node = {
	.name = "br_lookup",
	.process = lookup_process,
	.nb_edges = 2,
	.next_nodes = { [NEXT_PASS] = "br_rewrite", [NEXT_DROP] = "pkt_drop" },
};
RTE_NODE_REGISTER(lookup_node);

static struct rte_node_register rewrite_node = {
	.name = "br_rewrite",
	.process = rewrite_process,
	.nb_edges = 0, /* br_tx-0, br_tx-1, ... as ports appear */
};
RTE_NODE_REGISTER(rewrite_node);

static struct rte_node_register tx_node = {
	.name = "br_tx", /* never in a graph itself: its clones br_tx-P are */
	.process = tx_process,
	.nb_edges = 1,
	.next_nodes = { "pkt_drop" },
};
RTE_NODE_REGISTER(tx_node);

/* the name rte_node_clone gives br_tx's clone for port @p */
static void tx_node_name(char name[RTE_NODE_NAMESIZE], unsigned p)
{
	snprintf(name, RTE_NODE_NAMESIZE, "br_tx-%u", p);
}

/* br_tx-P for P < n_ports, each br_rewrite's edge P. Node ids outlive graphs. */
static int tx_nodes_ensure(unsigned n_ports, char *err, size_t errlen)
{
	for (unsigned p = rte_node_edge_count(rewrite_node.id); p < n_ports; p++) {
		char sfx[8], name[RTE_NODE_NAMESIZE];
		const char *names[1] = { name };

		snprintf(sfx, sizeof(sfx), "%u", p);
		tx_node_name(name, p);
		if (rte_node_from_name(name) == RTE_NODE_ID_INVALID &&
		    rte_node_clone(tx_node.id, sfx) == RTE_NODE_ID_INVALID) {
			snprintf(err, errlen, "engine: rte_node_clone(br_tx, %s): %s", sfx,
				 rte_strerror(rte_errno));
			return -1;
		}
		rte_node_edge_update(rewrite_node.id, RTE_EDGE_ID_INVALID, names, 1);
		if (rte_node_edge_count(rewrite_node.id) != p + 1) {
			snprintf(err, errlen, "engine: br_rewrite: no edge to %s", name);
			return -1;
		}
	}
	return 0;
}

int engine__graph_create(struct engine_graph *eg, const char *source, void *source_ctx, char *err,
			 size_t errlen)
{
	static unsigned seq; /* graph names are unique per process */
	const char *nodes[] = { "br_ipv4", "br_lookup", "br_rewrite" };
	const char *patterns[] = { source,	 "br_ipv4", "br_lookup",
				   "br_rewrite", "br_tx-*", "pkt_drop" };
	struct rte_graph_param prm = {
		.socket_id = SOCKET_ID_ANY,
		.nb_node_patterns = RTE_DIM(patterns),
		.node_patterns = patterns,
	};
	char name[RTE_GRAPH_NAMESIZE];
	struct rte_node *n;

	if (rte_node_from_name("pkt_drop") == RTE_NODE_ID_INVALID) {
		snprintf(err, errlen,
			 "engine: DPDK's pkt_drop node is missing: librte_node "
			 "must be linked without --as-needed");
		return -1;
	}
	if (tx_nodes_ensure(eg->io.eng->n_ports, err, errlen))
		return -1;
	snprintf(name, sizeof(name), "br_graph_%u", seq++);
	eg->id = rte_graph_create(name, &prm);
	if (eg->id == RTE_GRAPH_ID_INVALID) {
		snprintf(err, errlen, "engine: rte_graph_create(%s with source %s): %s", name,
			 source, rte_strerror(rte_errno));
		return -1;
	}
	eg->graph = rte_graph_lookup(name);
	n = rte_graph_node_get_by_name(name, source);
	if (!n) { /* a pattern that matched nothing */
		snprintf(err, errlen, "engine: no source node %s", source);
		engine__graph_destroy(eg);
		return -1;
	}
	memcpy(n->ctx, &source_ctx, sizeof(source_ctx));
	for (unsigned i = 0; i < RTE_DIM(nodes); i++) {
		n = rte_graph_node_get_by_name(name, nodes[i]);
		*ctx_of(n) = (struct node_ctx){ .io = &eg->io };
	}
	for (unsigned p = 0; p < eg->io.eng->n_ports; p++) {
		char tx[RTE_NODE_NAMESIZE];
		tx_node_name(tx, p);
		n = rte_graph_node_get_by_name(name, tx);
		*ctx_of(n) = (struct node_ctx){ .io = &eg->io, .port = (uint16_t)p };
	}
	return 0;
}

void engine__graph_destroy(struct engine_graph *eg)
{
	if (eg->graph)
		rte_graph_destroy(eg->id);
	eg->graph = NULL;
}

struct engine *engine__create(const char *name, const struct engine_route *routes, unsigned n,
			      unsigned n_ports, const uint8_t (*port_macs)[6], char *err,
			      size_t errlen)
{
	struct rte_lpm_config cfg = {
		.max_rules = n + 2, /* + the second half of a default route */
		.number_tbl8s = 256,
	};
	struct engine *e;

	if (n_ports == 0 || n_ports > ENGINE_MAX_PORTS) {
		snprintf(err, errlen, "engine: %u ports; between 1 and %d are supported", n_ports,
			 ENGINE_MAX_PORTS);
		return NULL;
	}
	e = calloc(1, sizeof(*e) + n * sizeof(e->nexthops[0]));
	if (!e) {
		snprintf(err, errlen, "engine: out of memory for %u routes", n);
		return NULL;
	}
	e->n_ports = n_ports;
	for (unsigned p = 0; p < n_ports; p++)
		memcpy(e->port_mac[p], port_macs[p], 6);

	e->lpm = rte_lpm_create(name, SOCKET_ID_ANY, &cfg);
	if (!e->lpm) {
		snprintf(err, errlen, "engine: rte_lpm_create(%s): %s (is the EAL initialised?)",
			 name, rte_strerror(rte_errno));
		goto err_free;
	}
	/* one next hop per route: the LPM result indexes this table */
	for (unsigned i = 0; i < n; i++) {
		const struct engine_route *r = &routes[i];
		if (r->port >= n_ports) {
			snprintf(err, errlen,
				 "engine: route %u sends to port %u but only %u ports exist", i + 1,
				 r->port, n_ports);
			goto err_lpm;
		}
		e->nexthops[i].port = r->port;
		memcpy(e->nexthops[i].dst, r->mac, 6);
		int rc;
		if (r->depth == 0) {
			/* rte_lpm takes depths 1..32: a default route is the two /1 halves
			 * (an explicit /1 route given later replaces its half) */
			rc = rte_lpm_add(e->lpm, 0, 1, i);
			if (rc == 0)
				rc = rte_lpm_add(e->lpm, 0x80000000u, 1, i);
		} else {
			rc = rte_lpm_add(e->lpm, r->prefix, r->depth, i);
		}
		if (rc < 0) {
			snprintf(err, errlen, "engine: rte_lpm_add route %u (/%u): %s", i + 1,
				 r->depth, strerror(-rc));
			goto err_lpm;
		}
	}
	e->n_nexthops = n;
	return e;

err_lpm:
	rte_lpm_free(e->lpm);
err_free:
	free(e);
	return NULL;
}

void engine__destroy(struct engine *e)
{
	if (!e)
		return;
	rte_lpm_free(e->lpm);
	free(e);
}
