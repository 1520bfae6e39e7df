/*
 * engine: the per-packet work of the router, as an rte_graph of vector nodes:
 *
 *   SOURCE (the caller's) -> br_ipv4 -> br_lookup -> br_rewrite -> br_tx-P
 *                              |           |                          |
 *                              +---------> pkt_drop (rte_node's) <----+
 *
 * br_ipv4 checks Ethernet and the IPv4 header (RFC 1812 5.2.2, TTL), br_lookup
 * is rte_lpm over the vector, br_rewrite decrements TTL and writes the MACs,
 * br_tx-P (one clone per output port) sends on the worker's tx queue. Every
 * drop is counted by reason before it goes to pkt_drop. The engine owns no
 * threads and no rx: the caller supplies the source node (the worker's
 * queue-set poller; the tests' injector) and walks the graph.
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

struct lat_hist;

/* What one graph instance works with; the nodes keep a pointer to it. */
struct engine_io {
	const struct engine *eng;
	struct engine_counters *c;
	uint16_t tx_port[ENGINE_MAX_PORTS]; /* ethdev id of each output port */
	uint16_t tx_q;			    /* the walking thread's tx queue on each */
	struct lat_hist *lat;		    /* NULL: no latency recorded */
	uint64_t (*clock)(void);	    /* for the latency against the stamps */
};

/* One worker's instance of the graph. */
struct engine_graph {
	struct rte_graph *graph;
	uint16_t id; /* rte_graph_t */
	struct engine_io io;
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
 * Creates @eg's graph from its io (filled by the caller, at a stable address):
 * @source is a node registered by the caller whose edge 0 is "br_ipv4"; its
 * context (the first 8 bytes of rte_node.ctx) is set to @source_ctx. Called
 * on the main thread before the graph is walked. Returns -1 with a message in
 * @err when DPDK refuses (memory, a missing node).
 */
int engine__graph_create(struct engine_graph *eg, const char *source, void *source_ctx, char *err,
			 size_t errlen);
void engine__graph_destroy(struct engine_graph *eg);

/* RFC 1071 checksum over an IPv4 header, returns the folded, inverted sum. */
uint16_t engine__ipv4_csum(const void *hdr, unsigned len);

#endif
