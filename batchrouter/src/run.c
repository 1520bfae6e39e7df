/* One measured run: setup, threads, live stats, teardown, result. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "port.h"
#include "policy.h"
#include "routes.h"
#include "replay.h"
#include "run.h"
#include "worker.h"

int run__eal_init(const char *prog, bool quiet)
{
	char prefix[48];
	snprintf(prefix, sizeof(prefix), "--file-prefix=br%d", (int)getpid());
	/* no hugepages here, no PCI devices; -m bounds the heap --no-huge mmaps */
	char *argv[] = { (char *)prog, "--no-huge", "--no-pci", "--no-shconf", "-l", "0", "-m",
			 "512", "--no-telemetry",
			 quiet ? "--log-level=*:error" : "--log-level=*:warning",
			 /* the tap PMD's complaints about qdiscs and multi-process
			  * peers it does not need; real failures still reach us */
			 quiet ? "--log-level=pmd.net.tap:critical"
			       : "--log-level=pmd.net.tap:warning",
			 prefix, NULL };
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "batchrouter: unable to initialise the DPDK EAL: %s\n",
			rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

static void pin(pthread_t t, int cpu)
{
	cpu_set_t set;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	CPU_ZERO(&set);
	CPU_SET(cpu % (n > 0 ? n : 1), &set);
	pthread_setaffinity_np(t, sizeof(set), &set);
}

static uint64_t thread_cpu(pthread_t t)
{
	clockid_t id;
	struct timespec ts;
	if (pthread_getcpuclockid(t, &id) || clock_gettime(id, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t run__lost(const struct run_result *r)
{
	return r->gen.ring_full + r->gen.no_mbuf + r->imissed + r->eng.drops[DROP_TX_FULL];
}

bool run__disturbed(const struct run_result *r)
{
	return stats__guard_disturbed(&r->guard, (uint64_t)(r->wall_s * 1e9));
}

double run__worker_cpu_frac(const struct run_result *r)
{
	return r->wall_s > 0 ? (double)r->worker_cpu_ns / 1e9 / r->wall_s : 0;
}

double run__avg_batch(const struct run_result *r)
{
	uint64_t n = 0, polls = 0;
	for (unsigned i = 1; i <= ENGINE_MAX_BURST; i++) {
		n += r->batch_hist[i] * i;
		polls += r->batch_hist[i];
	}
	return polls ? (double)n / (double)polls : 0;
}

void run__result_free(struct run_result *r)
{
	free(r->lat);
	r->lat = NULL;
}

/* the batch after a wake-up, and the wake-ups later than the floor's p99 that
 * the p99 of the packets still sees (the floor is 200 sleeps at start) */
#define IDLE_MARGIN_NS 40000

static uint64_t idle_cap(uint64_t budget_ns, const struct sleep_floor *floor)
{
	uint64_t slack = floor->p99_ns + IDLE_MARGIN_NS;
	/* a budget under the floor still allows the shortest sleep there is */
	return budget_ns > slack + floor->p50_ns ? budget_ns - slack : floor->p50_ns;
}

const struct sleep_floor *run__floor(void)
{
	static struct sleep_floor floor;
	static bool measured;

	/*
	 * The quietest of three rounds: the p99 of 200 sleeps is their second
	 * worst, and one preemption in a round (1-4 ms on the README's VM)
	 * made it anything from 22 to 54 us from one process to the next. The
	 * rails and a model's floor check need the machine's floor, not which
	 * round met a stall; the 40 us margin covers the wake-ups beyond it.
	 */
	for (int i = 0; !measured && i < 3; i++) {
		struct sleep_floor f;
		stats__sleep_floor(200, &f);
		if (!i || f.p99_ns < floor.p99_ns)
			floor = f;
	}
	measured = true;
	return &floor;
}

uint64_t run__max_idle_ns(uint64_t budget_ns)
{
	return idle_cap(budget_ns, run__floor());
}

struct policy_rails run__rails(uint64_t budget_ns, const struct sleep_floor *floor,
			       uint32_t ring_size)
{
	return (struct policy_rails){
		.max_idle_ns = idle_cap(budget_ns ? budget_ns : RUN_LATENCY_BUDGET_NS, floor),
		.ring_margin = ring_size / 8,
		.min_sleep_ns = 0,
	};
}

/* what a replay of the trace is checked against */
static void record_figures(const struct run_cfg *cfg, const struct run_result *r,
			   const struct port *port, const struct policy *pol)
{
	struct trace *t = cfg->record;

	snprintf(t->policy, sizeof(t->policy), "%s", pol->spec);
	snprintf(t->pattern, sizeof(t->pattern), "%s", gen_pattern_names[cfg->pattern]);
	t->rate_pps = cfg->rate_pps;
	t->cpu_ns = t->cpu_end_ns ? t->cpu_end_ns - t->cpu_start_ns : r->worker_cpu_ns;
	t->polls = t->n_poll;
	t->sleeps = t->n_late;
	t->lat_n = r->lat->count;
	t->lat_p99_ns = lat__percentile(r->lat, 0.99);
	t->lost = run__lost(r);
	t->ring_size = port->ring_size;
	/* the floor the run's rails were set from */
	t->floor_p50_ns = run__floor()->p50_ns;
	t->floor_p99_ns = run__floor()->p99_ns;
	t->sleep_cpu_ns = run__floor()->cpu_per_sleep_ns;
}

int run__once(const struct run_cfg *cfg, struct run_result *r, char *err, size_t errlen)
{
	struct engine_route *routes = NULL, dflt;
	struct rte_mempool *pool = NULL;
	struct port port;
	struct policy pol;
	struct engine *eng = NULL;
	static struct worker w; /* big (batch histogram): not on the stack */
	struct gen g;
	pthread_t wt, gt;
	bool have_port = false, have_pol = false, gen_started = false;
	int n_routes, rc = -1;
	static unsigned serial;
	char name[32];

	memset(r, 0, sizeof(*r));
	memset(&w, 0, sizeof(w));
	memset(&g, 0, sizeof(g));
	g.sock = -1;
	r->lat = calloc(1, sizeof(*r->lat));
	if (!r->lat) {
		snprintf(err, errlen, "out of memory for the latency histogram");
		return -1;
	}
	serial++;
	/* enough mbufs for a full rx ring, a full tx ring and bursts in flight */
	snprintf(name, sizeof(name), "br_pool%u", serial);
	pool =
	    rte_pktmbuf_pool_create(name, 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (!pool) {
		snprintf(err, errlen, "unable to create the mbuf pool: %s (raise EAL -m?)",
			 rte_strerror(rte_errno));
		goto out;
	}
	if (port__open(&port, cfg->port, 0, pool, err, errlen))
		goto out;
	have_port = true;

	if (cfg->routes) {
		n_routes = routes__load(cfg->routes, &routes, err, errlen);
		if (n_routes < 0)
			goto out;
	} else {
		/* default: everything goes back out of port 0 to the generator/sink */
		dflt = (struct engine_route){ .prefix = 0, .depth = 0, .port = 0 };
		memcpy(dflt.mac,
		       port.kind == PORT_AFXDP || port.kind == PORT_TAP
			   ? port.peer_mac
			   : (const uint8_t[6]){ 2, 0, 0, 0, 0, 2 },
		       6);
		n_routes = 1;
	}
	snprintf(name, sizeof(name), "br_lpm%u", serial);
	eng = engine__create(name, routes ? routes : &dflt, (unsigned)n_routes, 1,
			     (const uint8_t(*)[6])port.mac, err, errlen);
	if (!eng)
		goto out;

	struct policy_caps caps = { .rx_intr = port.rx_intr,
				    .max_burst = ENGINE_MAX_BURST,
				    .floor_p99_ns = run__floor()->p99_ns };
	if (policy__init(&pol, cfg->policy, &caps, err, errlen))
		goto out;
	have_pol = true;

	w.eng = eng;
	w.ports = &port;
	w.n_ports = 1;
	w.rx = &port;
	w.pol = &pol;
	w.lat = r->lat;
	w.rails = run__rails(cfg->latency_budget_ns, run__floor(), port.ring_size);
	if (worker__init(&w, err, errlen))
		goto out;

	/* the generator */
	gen__sched_init(&g.sched, cfg->pattern, cfg->rate_pps, 1);
	g.frame_len = cfg->frame_len ? cfg->frame_len : 64;
	g.spec = (struct frame_spec){ .dst_mac = { 0 },
				      .src_mac = { 2, 0, 0, 0, 0, 9 },
				      .src_ip = 0xac100001,
				      .dst_ip = 0x0a000001,
				      .ttl = 64 };
	memcpy(g.spec.dst_mac, port.mac, 6);
	g.pool = pool;
	g.duration_ns = (uint64_t)(cfg->duration_s * 1e9);
	struct guard_snap gs0, gs1;
	stats__guard_snap(&gs0);
	uint64_t t0 = stats__now_ns();
	g.start_ns = t0 + 1000000; /* 1 ms for the threads to start */
	if (cfg->record) {
		cfg->record->t0_ns = g.start_ns;
		cfg->record->dur_ns = g.duration_ns;
		g.rec = w.rec = cfg->record;
	}

	if ((errno = pthread_create(&wt, NULL, worker__thread, &w))) {
		snprintf(err, errlen, "unable to start the worker thread: %s", strerror(errno));
		goto out;
	}
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	pin(wt, ncpu > 1 ? 1 : 0);
	if (port.kind == PORT_RING) {
		g.rx = port.rx;
		g.tx = port.tx;
		if ((errno = pthread_create(&gt, NULL, gen__ring_thread, &g)) == 0)
			gen_started = true;
	} else if (port__has_peer(&port)) {
		memcpy(g.sink_mac, port.peer_mac, 6);
		g.sock = port__peer_socket(&port, err, errlen);
		if (g.sock >= 0 && (errno = pthread_create(&gt, NULL, gen__socket_thread, &g)) == 0)
			gen_started = true;
	}
	if (gen_started)
		pin(gt, 0);

	/* live stats, OVS pmd-sleep-show style, one line per second */
	uint64_t end = t0 + 1000000 + g.duration_ns, last = t0, lp = 0, lrx = 0, lsl = 0, lcpu = 0;
	for (uint64_t now = stats__now_ns(); now < end; now = stats__now_ns()) {
		/* never past the end: the run's wall time is its CPU fractions' base */
		uint64_t ns = end - now < 100000000 ? end - now : 100000000;
		struct timespec ts = { 0, (long)ns };
		nanosleep(&ts, NULL);
		now = stats__now_ns();
		if (cfg->live && now - last >= 1000000000ull) {
			uint64_t cpu = thread_cpu(wt), rx = w.c.rx, polls = w.polls, sl = w.sleeps;
			double dt = (double)(now - last) / 1e9;
			fprintf(
			    stderr,
			    "pmd core %d: %8.0f pps  %8.0f polls/s  batch %6.1f  %7.0f sleeps/s  "
			    "busy %5.1f%%  lost %lu\n",
			    ncpu > 1 ? 1 : 0, (double)(rx - lrx) / dt, (double)(polls - lp) / dt,
			    rx - lrx && polls - lp ? (double)(rx - lrx) / (double)(polls - lp) : 0,
			    (double)(sl - lsl) / dt, (double)(cpu - lcpu) / 1e7 / dt,
			    (unsigned long)(g.c.ring_full + g.c.no_mbuf));
			last = now, lp = polls, lrx = rx, lsl = sl, lcpu = cpu;
		}
	}
	if (gen_started)
		pthread_join(gt, NULL); /* the generator ends by itself at its deadline */
	/* let the worker drain what is still queued, then stop it */
	for (int i = 0; i < 100 && port__rx_occupancy(&port) > 0; i++) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	w.stop = true;
	pthread_join(wt, NULL);
	r->wall_s = (double)(stats__now_ns() - t0) / 1e9;
	stats__guard_snap(&gs1);
	stats__guard_diff(&gs0, &gs1, &r->guard);
	r->guard.worker_stall = w.stall;
	r->guard.worker_late = w.late_wakeup;
	r->guard.gen_stall = g.stall;

	struct rte_eth_stats es;
	if (rte_eth_stats_get(port.id, &es) == 0) {
		r->imissed = es.imissed;
		r->rx_nombuf = es.rx_nombuf;
	}
	if (port.kind == PORT_RING) {
		/* count what reached the sink after the generator stopped */
		void *m;
		while (rte_ring_dequeue(port.tx, &m) == 0) {
			rte_pktmbuf_free(m);
			g.c.sunk++;
		}
	}
	r->gen = g.c;
	r->eng = w.c;
	r->polls = w.polls;
	r->sleeps = w.sleeps;
	r->spins = w.spins;
	r->waits = w.waits;
	r->worker_cpu_ns = w.cpu_ns;
	memcpy(r->batch_hist, w.batch_hist, sizeof(r->batch_hist));
	r->learned = learned__stats(&pol, &r->learned_stats) == 0;
	if (cfg->record)
		record_figures(cfg, r, &port, &pol);
	rc = 0;
out:
	worker__fini(&w);
	if (have_pol)
		policy__fini(&pol);
	if (g.sock >= 0)
		close(g.sock);
	if (have_port)
		port__close(&port);
	engine__destroy(eng);
	rte_mempool_free(pool);
	free(routes);
	if (rc)
		run__result_free(r);
	return rc;
}

void run__print(FILE *f, const struct run_cfg *cfg, const struct run_result *r)
{
	const struct lat_hist *h = r->lat;
	fprintf(f, "run: port %s policy %s pattern %s rate %.0f pps frame %u B, %.2f s\n",
		cfg->port, cfg->policy, gen_pattern_names[cfg->pattern], cfg->rate_pps,
		cfg->frame_len ? cfg->frame_len : 64, r->wall_s);
	uint64_t budget = cfg->latency_budget_ns ? cfg->latency_budget_ns : RUN_LATENCY_BUDGET_NS;
	fprintf(f, "  p99 budget %.0f us: idle actions capped at %.1f us\n", budget / 1e3,
		run__max_idle_ns(budget) / 1e3);
	fprintf(f,
		"  generator: offered %lu sent %lu ring-full %lu no-mbuf %lu back %lu cpu %.3f s, "
		"last packet %.0f us late\n",
		(unsigned long)r->gen.offered, (unsigned long)r->gen.sent,
		(unsigned long)r->gen.ring_full, (unsigned long)r->gen.no_mbuf,
		(unsigned long)r->gen.sunk, (double)r->gen.cpu_ns / 1e9, r->gen.late_ns / 1e3);
	fprintf(f,
		"  worker: rx %lu forwarded %lu cpu %.3f s (%.1f%% of wall) polls %lu sleeps %lu "
		"rx-waits %lu spins %lu avg batch %.1f\n",
		(unsigned long)r->eng.rx, (unsigned long)r->eng.forwarded,
		(double)r->worker_cpu_ns / 1e9, 100 * run__worker_cpu_frac(r),
		(unsigned long)r->polls, (unsigned long)r->sleeps, (unsigned long)r->waits,
		(unsigned long)r->spins, run__avg_batch(r));
	fprintf(f, "  drops: imissed %lu rx-nombuf %lu", (unsigned long)r->imissed,
		(unsigned long)r->rx_nombuf);
	for (int d = 0; d < DROP__MAX; d++)
		fprintf(f, " %s %lu", engine_drop_names[d], (unsigned long)r->eng.drops[d]);
	fprintf(f, "\n  latency: n %lu p50 %.1f us p99 %.1f us p99.9 %.1f us max %.1f us\n",
		(unsigned long)h->count, lat__percentile(h, 0.5) / 1e3,
		lat__percentile(h, 0.99) / 1e3, lat__percentile(h, 0.999) / 1e3, h->max / 1e3);
	fprintf(f, "  late wake-ups (>= %u us over the sleep): %lu, max %.0f us\n", STALL_NS / 1000,
		(unsigned long)r->guard.worker_late.count, r->guard.worker_late.max_ns / 1e3);
	fprintf(f, "  batch sizes:");
	for (unsigned i = 0, shown = 0; i <= ENGINE_MAX_BURST && shown < 12; i++)
		if (r->batch_hist[i]) {
			fprintf(f, " %u:%lu", i, (unsigned long)r->batch_hist[i]);
			shown++;
		}
	if (r->learned)
		fprintf(f, "\n  learned: %lu predictions, last %.1f us, %lu xgboost errors",
			(unsigned long)r->learned_stats.predictions,
			(double)r->learned_stats.last_us,
			(unsigned long)r->learned_stats.xgb_errors);
	const struct stall_log *ws = &r->guard.worker_stall, *gs = &r->guard.gen_stall;
	fprintf(f,
		"\n  interference: steal %.1f%% other processes %.2f CPUs; stalls >= %u us: "
		"worker %lu (%.1f ms, max %.0f us) generator %lu (%.1f ms, max %.0f us)%s\n",
		r->guard.steal_pct, r->guard.others_cpu, STALL_NS / 1000, (unsigned long)ws->count,
		ws->total_ns / 1e6, ws->max_ns / 1e3, (unsigned long)gs->count, gs->total_ns / 1e6,
		gs->max_ns / 1e3, run__disturbed(r) ? " (disturbed)" : "");
}
