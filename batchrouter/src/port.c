/* Ports as ethdevs, and the veth/netns plumbing for AF_XDP. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <rte_kvargs.h>
#include <rte_bus_vdev.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include "port.h"
#include "stats.h"

#define PORT_NB_DESC 1024 /* rx and tx descriptors asked for (the PMD may adjust) */

static int sh(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Runs an ip(8) command line; its stderr goes to ours so failures explain themselves. */
static int sh(char *err, size_t errlen, const char *fmt, ...)
{
	char cmd[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int rc = system(cmd);
	if (rc != 0) {
		snprintf(
		    err, errlen,
		    "'%s' failed (status %d); the tool's own interfaces need root and iproute2",
		    cmd, rc);
		return -1;
	}
	return 0;
}

static int read_mac(const char *ns, const char *ifname, uint8_t mac[6])
{
	char cmd[160], line[64];
	snprintf(cmd, sizeof(cmd), "%s%s cat /sys/class/net/%s/address", ns ? "ip netns exec " : "",
		 ns ? ns : "", ifname);
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	int ok = fgets(line, sizeof(line), f) != NULL;
	pclose(f);
	unsigned v[6];
	if (!ok || sscanf(line, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

int port__veth_create(struct port *p, char *err, size_t errlen)
{
	int pid = (int)getpid();
	snprintf(p->netns, sizeof(p->netns), "brns%d", pid);
	snprintf(p->dut_if, sizeof(p->dut_if), "brd%d", pid);
	snprintf(p->peer_if, sizeof(p->peer_if), "brg%d", pid);

	if (sh(err, errlen, "ip netns add %s", p->netns))
		return -1;
	p->own_veth = true; /* from here on, destroy undoes what exists */
	if (sh(err, errlen, "ip link add %s type veth peer name %s netns %s", p->dut_if, p->peer_if,
	       p->netns) ||
	    sh(err, errlen, "ip link set %s up", p->dut_if) ||
	    sh(err, errlen, "ip netns exec %s ip link set %s up", p->netns, p->peer_if) ||
	    /* veth drops frames towards a peer without XDP unless GRO is on */
	    sh(err, errlen, "ip netns exec %s ethtool -K %s gro on >/dev/null 2>&1 || true",
	       p->netns, p->peer_if) ||
	    sh(err, errlen, "ip -6 addr flush dev %s; sysctl -qw net.ipv6.conf.%s.disable_ipv6=1",
	       p->dut_if, p->dut_if)) {
		port__veth_destroy(p);
		return -1;
	}
	if (read_mac(p->netns, p->peer_if, p->peer_mac)) {
		snprintf(err, errlen, "unable to read the MAC of %s in netns %s", p->peer_if,
			 p->netns);
		port__veth_destroy(p);
		return -1;
	}
	return 0;
}

void port__veth_destroy(struct port *p)
{
	char cmd[128];
	if (!p->own_veth)
		return;
	/* deleting one end deletes the pair; the netns goes with its name */
	snprintf(cmd, sizeof(cmd), "ip link del %s 2>/dev/null", p->dut_if);
	if (system(cmd)) {
		/* already gone with the namespace or never made: nothing to undo */
	}
	snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", p->netns);
	if (system(cmd)) {
		fprintf(stderr,
			"batchrouter: warning: unable to delete netns %s; remove it with "
			"'ip netns del %s'\n",
			p->netns, p->netns);
	}
	p->own_veth = false;
}

int port__peer_socket(const struct port *p, char *err, size_t errlen)
{
	char path[64];
	int self = -1, fd = -1, s = -1, serr;
	unsigned idx;

	/* the tap's peer is in our own namespace; a veth's in the port's netns */
	if (p->netns[0]) {
		self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		snprintf(path, sizeof(path), "/run/netns/%s", p->netns);
		if (self < 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			snprintf(err, errlen, "unable to open netns %s: %s", path, strerror(errno));
			goto out;
		}
		/* setns affects only this thread; the socket stays in the netns it was made in */
		if (setns(fd, CLONE_NEWNET)) {
			snprintf(err, errlen, "unable to enter netns %s: %s", p->netns,
				 strerror(errno));
			goto out;
		}
	}
	s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	serr = errno;
	idx = if_nametoindex(p->peer_if);
	if (self >= 0 && setns(self, CLONE_NEWNET)) {
		snprintf(err, errlen, "unable to return to our netns: %s", strerror(errno));
		goto err_sock;
	}
	if (s < 0) {
		snprintf(err, errlen, "unable to open an AF_PACKET socket: %s", strerror(serr));
		goto out;
	}
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = (int)idx };
	if (!idx || bind(s, (struct sockaddr *)&sll, sizeof(sll))) {
		snprintf(err, errlen, "unable to bind to %s: %s", p->peer_if, strerror(errno));
		goto err_sock;
	}
	int big = 4 << 20;
	setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	goto out;
err_sock:
	if (s >= 0)
		close(s);
	s = -1;
out:
	if (fd >= 0)
		close(fd);
	if (self >= 0)
		close(self);
	return s;
}

bool port__has_peer(const struct port *p)
{
	return (p->kind == PORT_AFXDP && p->own_veth) || p->kind == PORT_TAP;
}

/* Whether each of the port's n rx queues has its interrupt eventfd. */
static bool rx_intr_fds(uint16_t id, uint16_t n)
{
	for (uint16_t q = 0; q < n; q++)
		if (rte_eth_dev_rx_intr_ctl_q_get_fd(id, q) < 0)
			return false;
	return n > 0;
}

/* The value of key in "kind:k=v,k=v" (rte_kvargs' syntax) into val; -1 if absent. */
static int spec_param(const char *spec, const char *key, char *val, size_t len)
{
	const char *c = strchr(spec, ':'), *v;
	struct rte_kvargs *kv = c ? rte_kvargs_parse(c + 1, NULL) : NULL;
	int ret = -1;

	v = kv ? rte_kvargs_get(kv, key) : NULL;
	if (v) {
		snprintf(val, len, "%s", v);
		ret = 0;
	}
	rte_kvargs_free(kv);
	return ret;
}

int port__open(struct port *p, const char *spec, unsigned idx, struct rte_mempool *pool, char *err,
	       size_t errlen)
{
	struct rte_eth_conf conf = { 0 };
	struct rte_ether_addr ea;
	char name[32], val[64];
	uint16_t nb_desc = PORT_NB_DESC;
	int rc;

	memset(p, 0, sizeof(*p));
	if (!strncmp(spec, "ring", 4) && (spec[4] == '\0' || spec[4] == ':')) {
		unsigned size = 1024;
		if (!spec_param(spec, "size", val, sizeof(val)))
			size = (unsigned)strtoul(val, NULL, 0);
		if (size < 64 || (size & (size - 1))) {
			snprintf(err, errlen, "port %s: size must be a power of two >= 64", spec);
			return -1;
		}
		p->kind = PORT_RING;
		/* RING_F_EXACT_SZ: a plain rte_ring of N holds N-1; the NIC has `size` slots.
		 * Names carry a serial: a process may open and close ports many times. */
		static unsigned serial;
		serial++;
		snprintf(name, sizeof(name), "br_rx%u_%u", idx, serial);
		p->rx = rte_ring_create(name, size, SOCKET_ID_ANY,
					RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
		snprintf(name, sizeof(name), "br_tx%u_%u", idx, serial);
		p->tx = rte_ring_create(name, size, SOCKET_ID_ANY,
					RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
		if (!p->rx || !p->tx) {
			snprintf(err, errlen, "port %s: unable to create rings of %u", spec, size);
			goto err_rings;
		}
		p->ring_size = size;
		snprintf(p->vdev, sizeof(p->vdev), "net_ring_br%u_%u", idx, serial);
		rc = rte_eth_from_rings(p->vdev, &p->rx, 1, &p->tx, 1, SOCKET_ID_ANY);
		if (rc < 0) {
			snprintf(err, errlen, "port %s: rte_eth_from_rings: %s", spec,
				 rte_strerror(rte_errno));
			goto err_rings;
		}
		p->id = (uint16_t)rc;
	} else if (!strcmp(spec, "null")) {
		p->kind = PORT_NULL;
		snprintf(p->vdev, sizeof(p->vdev), "net_null%u", idx);
		if ((rc = rte_vdev_init(p->vdev, "")) < 0) {
			snprintf(err, errlen,
				 "port null: rte_vdev_init(%s): %s; is librte-net-null23 "
				 "installed?",
				 p->vdev, strerror(-rc));
			return -1;
		}
	} else if (!strncmp(spec, "afxdp", 5) && (spec[5] == '\0' || spec[5] == ':')) {
		p->kind = PORT_AFXDP;
		if (spec_param(spec, "iface", p->dut_if, sizeof(p->dut_if)) &&
		    port__veth_create(p, err, errlen))
			return -1;
		char args[96];
		snprintf(p->vdev, sizeof(p->vdev), "net_af_xdp%u", idx);
		snprintf(args, sizeof(args), "iface=%s,start_queue=0,queue_count=1", p->dut_if);
		if ((rc = rte_vdev_init(p->vdev, args)) < 0) {
			snprintf(err, errlen,
				 "port afxdp: rte_vdev_init(%s,%s): %s; AF_XDP needs root, "
				 "CONFIG_XDP_SOCKETS and librte-net-af-xdp23",
				 p->vdev, args, strerror(-rc));
			goto err_veth;
		}
	} else if (!strcmp(spec, "tap")) {
		p->kind = PORT_TAP;
		snprintf(p->dut_if, sizeof(p->dut_if), "brt%d", (int)getpid());
		snprintf(p->peer_if, sizeof(p->peer_if), "%s", p->dut_if);
		char args[64];
		snprintf(p->vdev, sizeof(p->vdev), "net_tap%u", idx);
		snprintf(args, sizeof(args), "iface=%s", p->dut_if);
		if ((rc = rte_vdev_init(p->vdev, args)) < 0) {
			snprintf(
			    err, errlen,
			    "port tap: rte_vdev_init(%s,%s): %s; a tap needs root, /dev/net/tun "
			    "and librte-net-tap23",
			    p->vdev, args, strerror(-rc));
			return -1;
		}
		/* nothing of the host's own traffic (IPv6 autoconfiguration) into the test */
		if (sh(err, errlen, "sysctl -qw net.ipv6.conf.%s.disable_ipv6=1", p->dut_if))
			goto err_vdev;
		conf.intr_conf.rxq = 1;
		memcpy(p->peer_mac, (const uint8_t[6]){ 2, 0, 0, 0, 0, 2 }, 6);
	} else {
		snprintf(err, errlen,
			 "unknown port '%s'; use ring[:size=N], null, afxdp[:iface=IF] or tap",
			 spec);
		return -1;
	}
	if (p->kind != PORT_RING && rte_eth_dev_get_port_by_name(p->vdev, &p->id)) {
		snprintf(err, errlen, "port %s: no ethdev named %s after probing", spec, p->vdev);
		goto err_vdev;
	}
	if ((rc = rte_eth_dev_configure(p->id, 1, 1, &conf)) ||
	    (rc = rte_eth_rx_queue_setup(p->id, 0, nb_desc, SOCKET_ID_ANY, NULL, pool)) ||
	    (rc = rte_eth_tx_queue_setup(p->id, 0, nb_desc, SOCKET_ID_ANY, NULL)) ||
	    (rc = rte_eth_dev_start(p->id))) {
		snprintf(err, errlen, "port %s: configuring ethdev %u: %s", spec, p->id,
			 strerror(-rc));
		goto err_vdev;
	}
	p->started = true;
	if (p->kind == PORT_AFXDP || p->kind == PORT_TAP)
		p->ring_size = nb_desc;
	if (p->kind == PORT_TAP)
		p->rx_intr = rx_intr_fds(p->id, 1); /* the queue's own fd */
	if (rte_eth_macaddr_get(p->id, &ea) == 0)
		memcpy(p->mac, ea.addr_bytes, 6);
	return 0;

err_vdev:
	if (p->kind != PORT_RING)
		rte_vdev_uninit(p->vdev);
err_veth:
	port__veth_destroy(p);
err_rings:
	rte_ring_free(p->rx);
	rte_ring_free(p->tx);
	p->rx = p->tx = NULL;
	return -1;
}

void port__close(struct port *p)
{
	if (p->started) {
		rte_eth_dev_stop(p->id);
		rte_eth_dev_close(p->id);
		p->started = false;
	}
	if (p->kind != PORT_RING && p->vdev[0])
		rte_vdev_uninit(p->vdev);
	port__veth_destroy(p);
	if (p->rx) {
		/* what the worker never picked up goes back to its pool */
		void *m;
		while (rte_ring_dequeue(p->rx, &m) == 0)
			rte_pktmbuf_free(m);
		while (rte_ring_dequeue(p->tx, &m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(p->rx);
		rte_ring_free(p->tx);
		p->rx = p->tx = NULL;
	}
	p->vdev[0] = '\0';
	p->rx_intr = false;
}

int64_t port__rx_occupancy_q(const struct port *p, uint16_t q)
{
	if (p->rx)
		return (int64_t)rte_ring_count(p->rx);
	int n = rte_eth_rx_queue_count(p->id, q);
	return n < 0 ? -1 : n;
}

int64_t port__rx_occupancy(const struct port *p)
{
	return port__rx_occupancy_q(p, 0);
}

#define PORT_RSS_HF (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP)

int port__eth_conf(const struct rte_eth_dev_info *di, uint16_t nrxq, uint16_t ntxq,
		   struct rte_eth_conf *conf, char *err, size_t errlen)
{
	memset(conf, 0, sizeof(*conf));
	if (nrxq < 1 || nrxq > di->max_rx_queues || ntxq < 1 || ntxq > di->max_tx_queues) {
		snprintf(err, errlen,
			 "%s has %u rx and %u tx queues at most; asked for %u rx (--queues) and "
			 "%u tx (one per worker lcore): use fewer queues or lcores",
			 di->driver_name ? di->driver_name : "the device", di->max_rx_queues,
			 di->max_tx_queues, nrxq, ntxq);
		return -1;
	}
	uint64_t hf = di->flow_type_rss_offloads & PORT_RSS_HF;
	if (nrxq < 2 || !hf)
		return 0;
	conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
	conf->rx_adv_conf.rss_conf.rss_key = NULL; /* the device's default key */
	conf->rx_adv_conf.rss_conf.rss_hf = hf;
	return 1;
}

/* Configures and starts the port with conf; rte_errno-style negative on failure, with *err. */
static int ethdev_start(uint16_t id, const struct rte_eth_dev_info *di,
			const struct rte_eth_conf *conf, uint16_t nrxq, uint16_t ntxq,
			uint16_t *nrxd, uint16_t *ntxd, struct rte_mempool *pool, char *err,
			size_t errlen)
{
	int rc;

	if ((rc = rte_eth_dev_configure(id, nrxq, ntxq, conf)) ||
	    (rc = rte_eth_dev_adjust_nb_rx_tx_desc(id, nrxd, ntxd))) {
		snprintf(err, errlen, "port %u (%s): configuring %u rx / %u tx queues: %s", id,
			 di->driver_name, nrxq, ntxq, strerror(-rc));
		return rc;
	}
	for (uint16_t q = 0; q < nrxq; q++)
		if ((rc = rte_eth_rx_queue_setup(id, q, *nrxd, rte_eth_dev_socket_id(id), NULL,
						 pool))) {
			snprintf(err, errlen, "port %u: rx queue %u: %s", id, q, strerror(-rc));
			return rc;
		}
	for (uint16_t q = 0; q < ntxq; q++)
		if ((rc = rte_eth_tx_queue_setup(id, q, *ntxd, rte_eth_dev_socket_id(id), NULL))) {
			snprintf(err, errlen, "port %u: tx queue %u: %s", id, q, strerror(-rc));
			return rc;
		}
	if ((rc = rte_eth_dev_start(id)))
		snprintf(err, errlen, "port %u (%s): start: %s", id, di->driver_name,
			 strerror(-rc));
	return rc;
}

int port__open_ethdev(struct port *p, uint16_t id, uint16_t nrxq, uint16_t ntxq,
		      struct rte_mempool *pool, char *err, size_t errlen)
{
	struct rte_eth_dev_info di;
	struct rte_eth_conf conf;
	struct rte_ether_addr ea;
	uint16_t nrxd = PORT_NB_DESC, ntxd = PORT_NB_DESC;
	char e[200];
	int rc;

	memset(p, 0, sizeof(*p));
	p->kind = PORT_ETHDEV;
	p->id = id;
	if ((rc = rte_eth_dev_info_get(id, &di))) {
		snprintf(err, errlen, "port %u: rte_eth_dev_info_get: %s", id, strerror(-rc));
		return -1;
	}
	rc = port__eth_conf(&di, nrxq, ntxq, &conf, e, sizeof(e));
	if (rc < 0) {
		snprintf(err, errlen, "port %u: %s", id, e);
		return -1;
	}
	p->rss = rc == 1;
	/*
	 * With rx interrupts where the PMD offers them (as l3fwd-power asks), so
	 * that the intr and ladder policies can wait for frames; a PMD or a
	 * device short of interrupt vectors that refuses them gets a port
	 * without.
	 */
	conf.intr_conf.rxq = 1;
	if (ethdev_start(id, &di, &conf, nrxq, ntxq, &nrxd, &ntxd, pool, err, errlen)) {
		conf.intr_conf.rxq = 0;
		nrxd = ntxd = PORT_NB_DESC;
		if (ethdev_start(id, &di, &conf, nrxq, ntxq, &nrxd, &ntxd, pool, err, errlen))
			return -1;
	}
	p->started = true;
	p->rx_intr = conf.intr_conf.rxq && rx_intr_fds(id, nrxq);
	p->ring_size = nrxd;
	p->n_rxq = nrxq;
	p->n_txq = ntxq;
	rte_eth_promiscuous_enable(id); /* a router takes frames for its next hops' MACs */
	if (rte_eth_macaddr_get(id, &ea) == 0)
		memcpy(p->mac, ea.addr_bytes, 6);
	return 0;
}
