/* The router proper: EAL pass-through, N ports x M queues, lcore workers. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_graph.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_telemetry.h>

#include "engine.h"
#include "policy.h"
#include "port.h"
#include "router.h"
#include "routes.h"
#include "run.h"
#include "stats.h"
#include "worker.h"

struct router {
	struct port ports[ENGINE_MAX_PORTS];
	unsigned n_ports, n_queues, n_workers;
	struct engine *eng;
	struct worker *w[ROUTER_MAX_WORKERS];
	struct policy pol[ROUTER_MAX_WORKERS];
	unsigned lcore[ROUTER_MAX_WORKERS];
	/* rte_graph's own per-node counters over every worker's graph; its
	 * reads keep state, so one telemetry client at a time */
	struct rte_graph_cluster_stats *node_stats;
	rte_spinlock_t node_stats_lock;
	struct rte_tel_data *node_stats_out; /* the reply being filled: its cookie */
};

/* the telemetry thread reads the counters through this, racily (u64s) */
static struct router *telem_router;
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

int router__owner(unsigned p, unsigned q, unsigned n_queues, unsigned n_workers)
{
	if (!n_queues || !n_workers || q >= n_queues)
		return -1;
	return (int)((p * n_queues + q) % n_workers);
}

static bool has_opt(int n, char **eal, const char *const *names)
{
	for (int i = 0; i < n; i++)
		for (const char *const *o = names; *o; o++)
			if (!strncmp(eal[i], *o, strlen(*o)))
				return true;
	return false;
}

int router__eal_args(int n, char **eal, char **out, char *prefix_buf, long free_hugepages)
{
	static const char *const prefix_opts[] = { "--file-prefix", NULL };
	static const char *const mem_opts[] = { "--no-huge",   "-m",	     "--socket-mem",
						"--in-memory", "--huge-dir", NULL };
	int k = 0;

	out[k++] = "batchrouter";
	for (int i = 0; i < n; i++)
		out[k++] = eal[i];
	if (!has_opt(n, eal, prefix_opts)) {
		snprintf(prefix_buf, 48, "--file-prefix=br%d", (int)getpid());
		out[k++] = prefix_buf;
	}
	if (free_hugepages <= 0 && !has_opt(n, eal, mem_opts)) {
		out[k++] = "--no-huge";
		out[k++] = "-m";
		out[k++] = "512";
	}
	out[k] = NULL;
	return k;
}

static long free_hugepages(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long n = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* ---- telemetry ---- */

/* telemetry names take [A-Za-z0-9_]: not-ipv4 becomes not_ipv4, br_tx-0 br_tx_0 */
static void telem_key(char *k, size_t len, const char *name)
{
	snprintf(k, len, "%s", name);
	for (char *c = k; *c; c++)
		if (*c == '-')
			*c = '_';
}

static void add_counters(struct rte_tel_data *d, const struct engine_counters *c)
{
	rte_tel_data_add_dict_u64(d, "rx", c->rx);
	rte_tel_data_add_dict_u64(d, "forwarded", c->forwarded);
	for (int r = 0; r < DROP__MAX; r++) {
		char k[32];
		telem_key(k, sizeof(k), engine_drop_names[r]);
		rte_tel_data_add_dict_u64(d, k, c->drops[r]);
	}
}

static int telem_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct router *r = telem_router;
	struct engine_counters sum = { 0 };
	(void)cmd, (void)params;
	if (!r)
		return -1;
	for (unsigned i = 0; i < r->n_workers; i++) {
		const struct engine_counters *c = &r->w[i]->c;
		sum.rx += c->rx;
		sum.forwarded += c->forwarded;
		for (int k = 0; k < DROP__MAX; k++)
			sum.drops[k] += c->drops[k];
	}
	rte_tel_data_start_dict(d);
	add_counters(d, &sum);
	rte_tel_data_add_dict_u64(d, "ports", r->n_ports);
	rte_tel_data_add_dict_u64(d, "queues_per_port", r->n_queues);
	rte_tel_data_add_dict_u64(d, "workers", r->n_workers);
	return 0;
}

/* one node's counters as rte_graph keeps them, summed over the workers */
static int add_node(bool first, bool last, void *cookie,
		    const struct rte_graph_cluster_node_stats *st)
{
	struct rte_tel_data *d = *(struct rte_tel_data **)cookie, *n = rte_tel_data_alloc();
	char name[RTE_NODE_NAMESIZE];
	(void)first, (void)last;

	if (!n)
		return -1;
	rte_tel_data_start_dict(n);
	rte_tel_data_add_dict_u64(n, "calls", st->calls);
	rte_tel_data_add_dict_u64(n, "objs", st->objs);
	rte_tel_data_add_dict_u64(n, "cycles", st->cycles);
	telem_key(name, sizeof(name), st->name);
	return rte_tel_data_add_dict_container(d, name, n, 0);
}

/* over every graph of the process: the workers' */
static struct rte_graph_cluster_stats *node_stats_create(struct router *r)
{
	const char *graphs[] = { "br_graph_*" };
	struct rte_graph_cluster_stats_param prm = {
		.socket_id = SOCKET_ID_ANY,
		.fn = add_node,
		.cookie = &r->node_stats_out,
		.nb_graph_patterns = 1,
		.graph_patterns = graphs,
	};

	rte_spinlock_init(&r->node_stats_lock);
	return rte_graph_cluster_stats_create(&prm);
}

static int telem_nodes(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct router *r = telem_router;
	(void)cmd, (void)params;
	if (!r || !r->node_stats)
		return -1;
	rte_tel_data_start_dict(d);
	rte_spinlock_lock(&r->node_stats_lock);
	r->node_stats_out = d;
	rte_graph_cluster_stats_get(r->node_stats, false);
	rte_spinlock_unlock(&r->node_stats_lock);
	return 0;
}

static int telem_lcores(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct router *r = telem_router;
	(void)cmd, (void)params;
	if (!r)
		return -1;
	rte_tel_data_start_array(d, RTE_TEL_INT_VAL);
	for (unsigned i = 0; i < r->n_workers; i++)
		rte_tel_data_add_array_int(d, (int)r->lcore[i]);
	return 0;
}

static int telem_lcore(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct router *r = telem_router;
	char *end;
	(void)cmd;
	if (!r || !params || !*params)
		return -1;
	unsigned long lc = strtoul(params, &end, 10);
	if (*end)
		return -1;
	for (unsigned i = 0; i < r->n_workers; i++) {
		const struct worker *w = r->w[i];
		if (r->lcore[i] != lc)
			continue;
		rte_tel_data_start_dict(d);
		add_counters(d, &w->c);
		rte_tel_data_add_dict_u64(d, "polls", w->polls);
		rte_tel_data_add_dict_u64(d, "sleeps", w->sleeps);
		rte_tel_data_add_dict_u64(d, "spins", w->spins);
		rte_tel_data_add_dict_u64(d, "idle_ns", w->idle_req_ns);
		rte_tel_data_add_dict_u64(d, "cpu_ns", w->cpu_ns);
		rte_tel_data_add_dict_u64(d, "burst", w->burst);
		for (unsigned q = 0; q < w->n_rxq; q++) {
			char k[32];
			snprintf(k, sizeof(k), "rxq%u_port", q);
			rte_tel_data_add_dict_u64(d, k, w->rxq[q].port->id);
			snprintf(k, sizeof(k), "rxq%u_queue", q);
			rte_tel_data_add_dict_u64(d, k, w->rxq[q].q);
			snprintf(k, sizeof(k), "rxq%u_rx", q);
			rte_tel_data_add_dict_u64(d, k, w->rxq[q].rx);
			snprintf(k, sizeof(k), "rxq%u_polls", q);
			rte_tel_data_add_dict_u64(d, k, w->rxq[q].polls);
		}
		return 0;
	}
	return -1;
}

/* ---- setup and the run ---- */

struct router_opts {
	const char *policy, *routes;
	unsigned queues;
	double duration_s;
	uint64_t budget_ns;
	bool live;
};

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: batchrouter run [--queues M] [--policy NAME[:k=v,...]] [--routes FILE]\n"
	       "                       [--duration S] [--latency-budget US] [--quiet] -- EAL-ARGS\n"
	       "Routes between every port the EAL probes until SIGINT (or S seconds).\n"
	       "  EAL-ARGS   passed to rte_eal_init: devices (-a 0000:01:00.0 for a NIC bound\n"
	       "             to vfio-pci, --vdev net_memif0,... / net_pcap0,...), lcores (-l\n"
	       "             0,1: the first prints, each other one forwards). Added unless\n"
	       "             given: --file-prefix=br<pid>; --no-huge -m 512 when the machine\n"
	       "             has no free hugepages\n"
	       "  --queues   rx queues per port (default 1), RSS where the device hashes;\n"
	       "             (port, queue) pairs are dealt round-robin to the worker lcores\n"
	       "  --routes   'A.B.C.D/LEN port N nexthop-mac XX:..:XX' lines, N the ethdev\n"
	       "             index (default: everything out of port 0)\n"
	       "  --policy   as `batchrouter policies` (default vector); one per lcore\n"
	       "Prints one line per worker lcore per second (--quiet: only the summary);\n"
	       "counters via rte_telemetry: /batchrouter/stats, /batchrouter/lcores,\n"
	       "/batchrouter/lcore,LCORE, /batchrouter/nodes (socket path printed at start).\n");
}

static int parse(int argc, char **argv, struct router_opts *o)
{
	static const struct option opts[] = {
		{ "queues", required_argument, NULL, 'Q' },
		{ "policy", required_argument, NULL, 'p' },
		{ "routes", required_argument, NULL, 'R' },
		{ "duration", required_argument, NULL, 'd' },
		{ "latency-budget", required_argument, NULL, 'L' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*o = (struct router_opts){ .policy = "vector", .queues = 1, .live = true };
	optind = 1;
	while ((c = getopt_long(argc, argv, "Q:p:R:d:L:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'Q':
			o->queues = (unsigned)atoi(optarg);
			break;
		case 'p':
			o->policy = optarg;
			break;
		case 'R':
			o->routes = optarg;
			break;
		case 'd':
			o->duration_s = atof(optarg);
			break;
		case 'L':
			o->budget_ns = (uint64_t)(atof(optarg) * 1000);
			break;
		case 'q':
			o->live = false;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr,
				"batchrouter run: with '--' (router mode) the options are "
				"--queues --policy --routes --duration --latency-budget "
				"--quiet; --port/--rate/--pattern belong to the measured run "
				"without '--'\n");
			return 100;
		}
	}
	if (o->queues < 1 || o->queues > WORKER_MAX_RXQ || o->duration_s < 0) {
		fprintf(stderr, "batchrouter run: need 1 <= --queues <= %d and --duration >= 0\n",
			WORKER_MAX_RXQ);
		return 100;
	}
	return -1; /* go on */
}

static int setup_ports(struct router *r, const struct router_opts *o, struct rte_mempool *pool,
		       char *err, size_t errlen)
{
	uint16_t id;
	RTE_ETH_FOREACH_DEV(id)
	{
		if (r->n_ports == ENGINE_MAX_PORTS) {
			snprintf(err, errlen,
				 "more than %d ports probed; give the EAL fewer devices",
				 ENGINE_MAX_PORTS);
			return -1;
		}
		if (port__open_ethdev(&r->ports[r->n_ports], id, (uint16_t)o->queues,
				      (uint16_t)r->n_workers, pool, err, errlen))
			return -1;
		r->n_ports++;
	}
	if (!r->n_ports) {
		snprintf(err, errlen,
			 "the EAL probed no port: give it a device, e.g. -a 0000:01:00.0 (a NIC "
			 "bound to vfio-pci) or --vdev net_memif0,role=server");
		return -1;
	}
	return 0;
}

static int setup_workers(struct router *r, const struct router_opts *o, char *err, size_t errlen)
{
	struct policy_caps caps = { .rx_intr = true,
				    .max_burst = ENGINE_MAX_BURST,
				    .floor_p99_ns = run__floor()->p99_ns };

	for (unsigned p = 0; p < r->n_ports; p++)
		caps.rx_intr &= r->ports[p].rx_intr;

	for (unsigned i = 0; i < r->n_workers; i++) {
		struct worker *w = r->w[i];
		w->eng = r->eng;
		w->ports = r->ports;
		w->n_ports = r->n_ports;
		w->tx_q = (uint16_t)i;
		for (unsigned p = 0; p < r->n_ports; p++)
			for (unsigned q = 0; q < r->n_queues; q++) {
				if (router__owner(p, q, r->n_queues, r->n_workers) != (int)i)
					continue;
				if (w->n_rxq == WORKER_MAX_RXQ) {
					snprintf(
					    err, errlen,
					    "lcore %u would poll more than %d queues; give the "
					    "EAL more lcores (-l) or use fewer --queues",
					    r->lcore[i], WORKER_MAX_RXQ);
					return -1;
				}
				w->rxq[w->n_rxq++] =
				    (struct worker_rxq){ .port = &r->ports[p], .q = (uint16_t)q };
			}
		if (!w->n_rxq) {
			snprintf(err, errlen,
				 "%u worker lcores for %u queues (%u ports x %u): lcore %u would "
				 "have none; give the EAL fewer lcores (-l) or use more --queues",
				 r->n_workers, r->n_ports * r->n_queues, r->n_ports, r->n_queues,
				 r->lcore[i]);
			return -1;
		}
		w->rails = run__rails(o->budget_ns, run__floor(), w->rxq[0].port->ring_size);
		if (policy__init(&r->pol[i], o->policy, &caps, err, errlen))
			return -1;
		w->pol = &r->pol[i];
		if (worker__init(w, err, errlen))
			return -1;
	}
	return 0;
}

static void live_line(const struct router *r, const struct worker *prev, double dt)
{
	for (unsigned i = 0; i < r->n_workers; i++) {
		const struct worker *w = r->w[i], *p = &prev[i];
		uint64_t rx = w->c.rx - p->c.rx, polls = w->polls - p->polls;
		uint64_t calls = 0;
		for (unsigned k = 0; k < w->n_rxq; k++)
			calls += w->rxq[k].polls - p->rxq[k].polls;
		fprintf(stderr,
			"lcore %2u: rx %9.0f pps tx %9.0f pps  batch %6.1f burst %3u  cpu %5.1f%%  "
			"idle %5.1f%%  polls %8.0f/s drops %lu\n",
			r->lcore[i], (double)rx / dt,
			(double)(w->c.forwarded - p->c.forwarded) / dt,
			calls ? (double)rx / (double)calls : 0, w->burst,
			(double)(w->cpu_ns - p->cpu_ns) / 1e7 / dt,
			(double)(w->idle_req_ns - p->idle_req_ns) / 1e7 / dt, (double)polls / dt,
			(unsigned long)(w->c.rx - w->c.forwarded));
	}
}

static int summary(const struct router *r, double wall)
{
	struct engine_counters sum = { 0 };
	uint64_t dropped = 0;
	printf("router: %u ports x %u queues, %u worker lcores, %.2f s\n", r->n_ports, r->n_queues,
	       r->n_workers, wall);
	for (unsigned p = 0; p < r->n_ports; p++) {
		struct rte_eth_stats es = { 0 };
		rte_eth_stats_get(r->ports[p].id, &es);
		printf("  port %u: %s, rx %lu tx %lu imissed %lu rx-nombuf %lu\n", r->ports[p].id,
		       r->ports[p].rss ? "RSS" : "no RSS (the peer picks the queue)",
		       (unsigned long)es.ipackets, (unsigned long)es.opackets,
		       (unsigned long)es.imissed, (unsigned long)es.rx_nombuf);
	}
	for (unsigned i = 0; i < r->n_workers; i++) {
		const struct worker *w = r->w[i];
		printf("  lcore %u: rx %lu forwarded %lu cpu %.3f s polls %lu sleeps %lu queues",
		       r->lcore[i], (unsigned long)w->c.rx, (unsigned long)w->c.forwarded,
		       (double)w->cpu_ns / 1e9, (unsigned long)w->polls, (unsigned long)w->sleeps);
		for (unsigned k = 0; k < w->n_rxq; k++)
			printf(" %u/%u:%lu", w->rxq[k].port->id, w->rxq[k].q,
			       (unsigned long)w->rxq[k].rx);
		printf("\n");
		sum.rx += w->c.rx;
		sum.forwarded += w->c.forwarded;
		for (int k = 0; k < DROP__MAX; k++)
			sum.drops[k] += w->c.drops[k];
	}
	printf("  drops:");
	for (int k = 0; k < DROP__MAX; k++) {
		printf(" %s %lu", engine_drop_names[k], (unsigned long)sum.drops[k]);
		dropped += sum.drops[k];
	}
	/* TTL expiry is counted, not answered: no ICMP Time Exceeded is sent */
	printf("\n  accounting: rx %lu = forwarded %lu + dropped %lu%s\n", (unsigned long)sum.rx,
	       (unsigned long)sum.forwarded, (unsigned long)dropped,
	       sum.rx == sum.forwarded + dropped ? "" : "  MISMATCH");
	return sum.rx == sum.forwarded + dropped ? 0 : -1;
}

static int forward(struct router *r, const struct router_opts *o)
{
	static struct worker prev[ROUTER_MAX_WORKERS];
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t t0 = stats__now_ns(), last = t0;
	unsigned launched = 0;
	int rc = 0;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (unsigned i = 0; i < r->n_workers; i++) {
		if (rte_eal_remote_launch(worker__lcore, r->w[i], r->lcore[i])) {
			fprintf(stderr, "batchrouter run: unable to launch lcore %u\n",
				r->lcore[i]);
			rc = -1;
			break;
		}
		launched++;
	}
	for (unsigned i = 0; i < r->n_workers; i++)
		prev[i] = *r->w[i];
	while (!rc && !stop_signal) {
		struct timespec ts = { 0, 100000000 };
		nanosleep(&ts, NULL);
		uint64_t now = stats__now_ns();
		if (o->duration_s > 0 && now - t0 >= (uint64_t)(o->duration_s * 1e9))
			break;
		if (o->live && now - last >= 1000000000ull) {
			live_line(r, prev, (double)(now - last) / 1e9);
			for (unsigned i = 0; i < r->n_workers; i++)
				prev[i] = *r->w[i];
			last = now;
		}
	}
	for (unsigned i = 0; i < launched; i++)
		r->w[i]->stop = true;
	rte_eal_mp_wait_lcore();
	if (stop_signal)
		fprintf(stderr, "batchrouter run: stopped by signal %d\n", (int)stop_signal);
	if (summary(r, (double)(stats__now_ns() - t0) / 1e9))
		rc = -1;
	return rc;
}

int router__main(int argc, char **argv)
{
	struct router_opts o;
	int dd = 0, rc = 111;
	while (dd < argc && strcmp(argv[dd], "--"))
		dd++;
	int prc = parse(dd, argv, &o);
	if (prc >= 0)
		return prc;
	if (optind != dd) {
		fprintf(stderr, "batchrouter run: unexpected '%s' before '--'\n", argv[optind]);
		return 100;
	}

	int n_eal = argc - dd - 1;
	char **eal = calloc((size_t)n_eal + 6, sizeof(char *)), prefix[48];
	struct router *r = calloc(1, sizeof(*r));
	struct engine_route *routes = NULL, dflt = { .prefix = 0, .depth = 0, .port = 0 };
	struct rte_mempool *pool = NULL;
	char err[512];
	bool eal_up = false;
	if (!eal || !r) {
		fprintf(stderr, "batchrouter run: out of memory\n");
		goto out;
	}
	int n = router__eal_args(n_eal, argv + dd + 1, eal, prefix, free_hugepages());
	if (rte_eal_init(n, eal) < 0) {
		fprintf(stderr, "batchrouter run: rte_eal_init: %s (see the EAL's message above)\n",
			rte_strerror(rte_errno));
		goto out;
	}
	eal_up = true;
	unsigned lc;
	RTE_LCORE_FOREACH_WORKER(lc)
	{
		if (r->n_workers == ROUTER_MAX_WORKERS)
			break;
		r->lcore[r->n_workers++] = lc;
	}
	if (!r->n_workers) {
		fprintf(stderr, "batchrouter run: no worker lcore: give the EAL two or more, "
				"e.g. -l 0,1 (the first prints, the others forward)\n");
		goto out;
	}
	r->n_queues = o.queues;
	/* rx and tx rings of every queue, bursts and caches in flight */
	unsigned n_ports_max = rte_eth_dev_count_avail();
	unsigned nb = n_ports_max * (o.queues + r->n_workers) * 1024 +
		      r->n_workers * (ENGINE_MAX_BURST * 2 + 256) + 4096;
	pool = rte_pktmbuf_pool_create("br_router_pool", nb, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       (int)rte_socket_id());
	if (!pool) {
		fprintf(stderr, "batchrouter run: %u mbufs: %s (raise EAL -m or add hugepages)\n",
			nb, rte_strerror(rte_errno));
		goto out;
	}
	for (unsigned i = 0; i < r->n_workers; i++) {
		r->w[i] = calloc(1, sizeof(struct worker));
		if (!r->w[i] || !(r->w[i]->lat = calloc(1, sizeof(*r->w[i]->lat)))) {
			fprintf(stderr, "batchrouter run: out of memory for the workers\n");
			goto out;
		}
	}
	if (setup_ports(r, &o, pool, err, sizeof(err)))
		goto fail;
	int n_routes = 1;
	if (o.routes && (n_routes = routes__load(o.routes, &routes, err, sizeof(err))) < 0)
		goto fail;
	uint8_t macs[ENGINE_MAX_PORTS][6];
	for (unsigned p = 0; p < r->n_ports; p++)
		memcpy(macs[p], r->ports[p].mac, 6);
	r->eng = engine__create("br_router_lpm", routes ? routes : &dflt, (unsigned)n_routes,
				r->n_ports, (const uint8_t(*)[6])macs, err, sizeof(err));
	if (!r->eng)
		goto fail;
	if (setup_workers(r, &o, err, sizeof(err)))
		goto fail;
	r->node_stats = node_stats_create(r);
	if (!r->node_stats)
		fprintf(
		    stderr,
		    "batchrouter run: no per-node counters (rte_graph_cluster_stats_create: %s)\n",
		    rte_strerror(rte_errno));
	telem_router = r;
	if (rte_telemetry_register_cmd("/batchrouter/stats", telem_stats,
				       "Router totals: rx, forwarded, drops by reason") ||
	    rte_telemetry_register_cmd("/batchrouter/lcores", telem_lcores,
				       "The worker lcores' ids") ||
	    rte_telemetry_register_cmd("/batchrouter/lcore", telem_lcore,
				       "One worker's counters and its rx queues'. "
				       "Parameters: int lcore_id") ||
	    rte_telemetry_register_cmd("/batchrouter/nodes", telem_nodes,
				       "The graph's nodes over all workers: calls, objs, cycles"))
		fprintf(stderr, "batchrouter run: telemetry commands not registered\n");
	printf("router: %u ports x %u queues on %u worker lcores, policy %s; telemetry %s/"
	       "dpdk_telemetry.v2\n",
	       r->n_ports, r->n_queues, r->n_workers, o.policy, rte_eal_get_runtime_dir());
	fflush(stdout);
	rc = forward(r, &o) ? 111 : 0;
	goto out;
fail:
	fprintf(stderr, "batchrouter run: %s\n", err);
out:
	telem_router = NULL; /* the telemetry thread may still call: no router */
	if (r) {
		if (r->node_stats)
			rte_graph_cluster_stats_destroy(r->node_stats);
		for (unsigned i = 0; i < r->n_workers; i++) {
			policy__fini(&r->pol[i]);
			if (r->w[i]) {
				worker__fini(r->w[i]);
				free(r->w[i]->lat);
			}
			free(r->w[i]);
		}
		for (unsigned p = 0; p < r->n_ports; p++)
			port__close(&r->ports[p]);
		engine__destroy(r->eng);
	}
	if (eal_up) {
		uint16_t id;
		RTE_ETH_FOREACH_DEV(id) /* those setup_ports did not reach */
		rte_eth_dev_close(id);
	}
	rte_mempool_free(pool);
	free(routes);
	free(r);
	free(eal);
	if (eal_up)
		rte_eal_cleanup();
	return rc;
}
