/*
 * The forwarding graph. Each node is a loop over the whole vector that keeps
 * the survivors in place (compaction), as VPP's nodes do: the per-node loop
 * keeps instruction caches warm and lets the LPM node use the bulk lookup,
 * which is what makes larger batches cheaper per packet.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_lpm.h>
#include <rte_mbuf.h>

#include "engine.h"

#define ETH_HLEN 14
#define ETH_P_IPV4 0x0800
#define IPV4_MIN_HLEN 20

const char *const engine_drop_names[DROP__MAX] = {
	[DROP_TRUNCATED] = "truncated",	    [DROP_NOT_IPV4] = "not-ipv4",
	[DROP_BAD_VERSION] = "bad-version", [DROP_BAD_IHL] = "bad-ihl",
	[DROP_BAD_LENGTH] = "bad-length",   [DROP_BAD_CHECKSUM] = "bad-checksum",
	[DROP_TTL_EXPIRED] = "ttl-expired", [DROP_NO_ROUTE] = "no-route",
	[DROP_TX_FULL] = "tx-full",
};

uint16_t engine__ipv4_csum(const void *hdr, unsigned len)
{
	const uint8_t *p = hdr;
	uint32_t sum = 0;

	for (unsigned i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Node 1: Ethernet. Returns a drop reason or -1. */
static inline int node_eth(const uint8_t *f, uint32_t len)
{
	if (len < ETH_HLEN)
		return DROP_TRUNCATED;
	if ((f[12] << 8 | f[13]) != ETH_P_IPV4)
		return DROP_NOT_IPV4;
	return -1;
}

/*
 * Node 2: IPv4 validation, in the order RFC 1812 5.2.2 lists the checks. The
 * header checksum is verified over the full IHL so options are covered.
 */
static inline int node_ipv4(const uint8_t *f, uint32_t len)
{
	const uint8_t *ip = f + ETH_HLEN;
	uint32_t room = len - ETH_HLEN;

	if (room < IPV4_MIN_HLEN)
		return DROP_TRUNCATED;
	if (ip[0] >> 4 != 4)
		return DROP_BAD_VERSION;
	unsigned hlen = (ip[0] & 0xf) * 4u;
	if (hlen < IPV4_MIN_HLEN || hlen > room)
		return DROP_BAD_IHL;
	unsigned tot = (unsigned)ip[2] << 8 | ip[3];
	if (tot < hlen || tot > room) /* shorter is fine: Ethernet pads to 60 */
		return DROP_BAD_LENGTH;
	if (engine__ipv4_csum(ip, hlen) != 0)
		return DROP_BAD_CHECKSUM;
	if (ip[8] <= 1)
		return DROP_TTL_EXPIRED;
	return -1;
}

static inline uint32_t ipv4_dst(const uint8_t *f)
{
	const uint8_t *ip = f + ETH_HLEN;
	return (uint32_t)ip[16] << 24 | (uint32_t)ip[17] << 16 | (uint32_t)ip[18] << 8 | ip[19];
}

/*
 * Node 4: rewrite. TTL-1 with the incremental update of RFC 1624 eq. 3,
 * HC' = ~(~HC + ~m + m'), on the 16-bit word holding TTL and protocol: no
 * need to re-sum options, and no 0xffff/0x0000 corner case (RFC 1141's).
 */
static inline void node_rewrite(const struct engine *e, uint8_t *f, const struct engine_nexthop *nh)
{
	uint8_t *ip = f + ETH_HLEN;
	uint16_t m = (uint16_t)(ip[8] << 8 | ip[9]);
	uint16_t hc = (uint16_t)(ip[10] << 8 | ip[11]);

	ip[8]--;
	uint16_t m2 = (uint16_t)(ip[8] << 8 | ip[9]);
	uint32_t sum = (uint16_t)~hc + (uint32_t)(uint16_t)~m + m2;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	hc = (uint16_t)~sum;
	ip[10] = hc >> 8;
	ip[11] = hc & 0xff;

	memcpy(f, nh->dst, 6);
	memcpy(f + 6, e->port_mac[nh->port], 6);
}

int engine__route_one(const struct engine *e, uint8_t *frame, uint32_t len, uint16_t *port)
{
	uint32_t hop;
	int r;

	if ((r = node_eth(frame, len)) >= 0)
		return r;
	if ((r = node_ipv4(frame, len)) >= 0)
		return r;
	if (rte_lpm_lookup(e->lpm, ipv4_dst(frame), &hop) != 0 || hop >= e->n_nexthops)
		return DROP_NO_ROUTE;
	node_rewrite(e, frame, &e->nexthops[hop]);
	*port = e->nexthops[hop].port;
	return -1;
}

void engine__process(const struct engine *e, struct rte_mbuf **pkts, uint16_t n,
		     struct engine_out *out, struct engine_counters *c)
{
	uint32_t ips[ENGINE_MAX_BURST], hops[ENGINE_MAX_BURST];
	uint16_t k = 0;

	if (n > ENGINE_MAX_BURST)
		n = ENGINE_MAX_BURST; /* callers never ask for more; be safe anyway */
	c->rx += n;

	/* eth + ipv4 nodes; survivors are compacted to the front of pkts */
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
		int r = node_eth(f, m->data_len);
		if (r < 0)
			r = node_ipv4(f, m->data_len);
		if (r >= 0) {
			c->drops[r]++;
			rte_pktmbuf_free(m);
			continue;
		}
		ips[k] = ipv4_dst(f);
		pkts[k++] = m;
	}
	if (k == 0)
		return;

	/* lookup node: the bulk call amortises the tbl24 walk over the vector */
	rte_lpm_lookup_bulk(e->lpm, ips, hops, k);

	for (uint16_t i = 0; i < k; i++) {
		struct rte_mbuf *m = pkts[i];
		/* the entry also carries depth and valid-group bits above bit 24 */
		uint32_t h = hops[i] & 0x00ffffff;
		if (!(hops[i] & RTE_LPM_LOOKUP_SUCCESS) || h >= e->n_nexthops) {
			c->drops[DROP_NO_ROUTE]++;
			rte_pktmbuf_free(m);
			continue;
		}
		const struct engine_nexthop *nh = &e->nexthops[h];
		node_rewrite(e, rte_pktmbuf_mtod(m, uint8_t *), nh);
		out->pkts[nh->port][out->n[nh->port]++] = m;
		c->forwarded++;
	}
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
