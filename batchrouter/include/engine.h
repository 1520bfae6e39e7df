/*
 * engine: the per-packet work of the router, as a small graph of vector
 * nodes (eth parse -> ipv4 validate -> lpm lookup -> rewrite -> per-port tx
 * vectors). It owns no threads and no ports: a worker hands it a burst of
 * mbufs and gets back one vector per output port, so everything here can be
 * tested on crafted packets without a NIC.
 */
#ifndef BATCHROUTER_ENGINE_H
#define BATCHROUTER_ENGINE_H

#include <stdint.h>
#include <stddef.h>

struct rte_mbuf;
struct rte_lpm;

#define ENGINE_MAX_PORTS 8
#define ENGINE_MAX_BURST 512

/* Every way a packet can leave the router without being sent. */
enum engine_drop {
	DROP_TRUNCATED,	   /* frame shorter than the headers it claims */
	DROP_NOT_IPV4,	   /* ethertype other than 0x0800 (VLAN, ARP, IPv6...) */
	DROP_BAD_VERSION,  /* IP version field != 4 */
	DROP_BAD_IHL,	   /* IHL < 5 or header longer than the frame */
	DROP_BAD_LENGTH,   /* total length < IHL*4 or longer than the frame */
	DROP_BAD_CHECKSUM, /* IPv4 header checksum does not verify */
	DROP_TTL_EXPIRED,  /* TTL 0 or 1: forwarding would make it 0 */
	DROP_NO_ROUTE,	   /* no LPM match */
	DROP_TX_FULL,	   /* output port refused the packet */
	DROP__MAX
};

extern const char *const engine_drop_names[DROP__MAX];

struct engine_route {
	uint32_t prefix; /* host byte order */
	uint8_t depth;	 /* 0..32 */
	uint16_t port;
	uint8_t mac[6]; /* next-hop destination MAC */
};

struct engine_nexthop {
	uint16_t port;
	uint8_t dst[6];
};

struct engine {
	struct rte_lpm *lpm;
	unsigned n_nexthops;
	unsigned n_ports;
	uint8_t port_mac[ENGINE_MAX_PORTS][6]; /* source MAC per output port */
	struct engine_nexthop nexthops[];
};

/* Per-worker counters: single writer, read racily by the stats printer. */
struct engine_counters {
	uint64_t rx;
	uint64_t forwarded;
	uint64_t drops[DROP__MAX];
};

/* Packets that survived the graph, grouped by output port. */
struct engine_out {
	uint16_t n[ENGINE_MAX_PORTS];
	struct rte_mbuf *pkts[ENGINE_MAX_PORTS][ENGINE_MAX_BURST];
};

/*
 * Builds the LPM from @routes. @port_macs gives the source MAC written on
 * packets leaving each of @n_ports ports. Needs an initialised EAL. Returns
 * NULL with a message in @err on failure (duplicate name, bad port...).
 */
struct engine *engine__create(const char *name, const struct engine_route *routes, unsigned n,
			      unsigned n_ports, const uint8_t (*port_macs)[6], char *err,
			      size_t errlen);
void engine__destroy(struct engine *e);

/*
 * The whole graph on one frame in place: returns -1 and sets *@port when the
 * frame was rewritten for forwarding, otherwise the drop reason. Pure apart
 * from the LPM read; used by the tests and by engine__process().
 */
int engine__route_one(const struct engine *e, uint8_t *frame, uint32_t len, uint16_t *port);

/*
 * Runs the graph over a burst. Dropped mbufs are freed and counted in @c;
 * the rest are appended to @out (whose counts the caller resets).
 */
void engine__process(const struct engine *e, struct rte_mbuf **pkts, uint16_t n,
		     struct engine_out *out, struct engine_counters *c);

/* RFC 1071 checksum over an IPv4 header, returns the folded, inverted sum. */
uint16_t engine__ipv4_csum(const void *hdr, unsigned len);

#endif
