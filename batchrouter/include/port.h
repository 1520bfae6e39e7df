/*
 * port: opening the three kinds of port as DPDK ethdevs.
 *   ring[:size=N]   net_ring over two rte_rings: the synthetic NIC. The
 *                   generator enqueues into rx and frees what arrives on tx.
 *   null            net_null: rx always returns a full burst (peak rate).
 *   afxdp[:iface=X] net_af_xdp. Without iface the tool creates a veth pair,
 *                   one end in a network namespace of its own, and removes
 *                   both on close.
 *   tap             net_tap with rx interrupts: the PMD creates a kernel tap
 *                   interface (brt<pid>, no addresses, IPv6 off) and removes
 *                   it on close; the generator sends into it over AF_PACKET.
 *                   The one PMD here with rx interrupts (the `intr` policy).
 */
#ifndef BATCHROUTER_PORT_H
#define BATCHROUTER_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_spinlock.h>

enum port_kind { PORT_RING, PORT_NULL, PORT_AFXDP, PORT_TAP, PORT_ETHDEV };

struct rte_mempool;
struct rte_ring;
struct rte_eth_conf;
struct rte_eth_dev_info;

struct port {
	enum port_kind kind;
	uint16_t id;
	bool started;
	uint32_t ring_size; /* rx descriptors; 0 if unknown */
	/* every rx queue has an interrupt eventfd (rte_eth_dev_rx_intr_ctl_q): the
	 * PMD offers rx interrupts and the port was configured with them */
	bool rx_intr;
	/* rx_intr_enable/disable from several workers: some PMDs share a register
	 * among queues (l3fwd-power takes such a lock too) */
	rte_spinlock_t intr_lock;
	uint8_t mac[6];
	struct rte_ring *rx, *tx; /* ring ports only */
	char vdev[64];
	/* afxdp with a veth pair the tool made; tap: dut_if = peer_if, no netns */
	bool own_veth;
	char netns[32], dut_if[16], peer_if[16];
	uint8_t peer_mac[6];
	/* PORT_ETHDEV: an ethdev the EAL probed (PCI NIC, --vdev) */
	uint16_t n_rxq, n_txq;
	bool rss; /* the device spreads flows over its rx queues itself */
};

int port__open(struct port *p, const char *spec, unsigned idx, struct rte_mempool *pool, char *err,
	       size_t errlen);
void port__close(struct port *p);
/* Descriptors waiting in rx queue 0 / @q, or -1 when the PMD cannot say. */
int64_t port__rx_occupancy(const struct port *p);
int64_t port__rx_occupancy_q(const struct port *p, uint16_t q);

/*
 * The configuration for an ethdev with @nrxq rx and @ntxq tx queues: RSS
 * over IPv4/TCP/UDP (what the device offers of it) when there are several
 * rx queues and the device hashes; without it the queues are still used and
 * whoever feeds them picks the queue (a memif or pcap peer). Returns 1 with
 * RSS, 0 without, -1 with a message when the device has too few queues.
 */
int port__eth_conf(const struct rte_eth_dev_info *di, uint16_t nrxq, uint16_t ntxq,
		   struct rte_eth_conf *conf, char *err, size_t errlen);
/* Configures and starts probed ethdev @id as @p (PORT_ETHDEV). */
int port__open_ethdev(struct port *p, uint16_t id, uint16_t nrxq, uint16_t ntxq,
		      struct rte_mempool *pool, char *err, size_t errlen);

/* veth + netns plumbing, exposed for the generator and the tests. */
int port__veth_create(struct port *p, char *err, size_t errlen);
void port__veth_destroy(struct port *p);
/* Opens an AF_PACKET socket bound to the peer interface (inside the netns,
 * if the port has one). */
int port__peer_socket(const struct port *p, char *err, size_t errlen);
/* Whether the generator feeds this port through port__peer_socket. */
bool port__has_peer(const struct port *p);

#endif
