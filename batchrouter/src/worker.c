/* The poll loop, its accounting and the controller call. */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/prctl.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_epoll.h>
#include <rte_ethdev.h>
#include <rte_graph_worker.h>
#include <rte_mbuf.h>
#include <rte_pause.h>

#include "frame.h"
#include "port.h"
#include "worker.h"

/*
 * The graph's source: one round over the worker's queue set, each queue
 * polled with the burst the policy chose; what it sees of the round is left
 * in the worker for worker__poll.
 */
static uint16_t rx_process(struct rte_graph *g, struct rte_node *node, void **objs, uint16_t n)
{
	struct worker *w;
	uint16_t max = 0, total = 0;
	(void)objs, (void)n;

	memcpy(&w, node->ctx, sizeof(w));
	void **out = rte_node_next_stream_get(g, node, 0, (uint16_t)(w->n_rxq * w->burst));
	for (unsigned i = 0; i < w->n_rxq; i++) {
		struct worker_rxq *q = &w->rxq[i];
		uint16_t k =
		    rte_eth_rx_burst(q->port->id, q->q, (struct rte_mbuf **)out + total, w->burst);
		if (i == 0)
			w->round_now = w->clock();
		w->batch_hist[k]++;
		q->polls++;
		q->rx += k;
		total += k;
		if (k > max)
			max = k;
	}
	rte_node_next_stream_put(g, node, 0, total);
	w->round_max = max;
	w->round_total = total;
	return total;
}

static struct rte_node_register rx_node = {
	.name = "br_rx",
	.flags = RTE_NODE_SOURCE_F,
	.process = rx_process,
	.nb_edges = 1,
	.next_nodes = { "br_ipv4" },
};
RTE_NODE_REGISTER(rx_node);

void worker__fini(struct worker *w)
{
	engine__graph_destroy(&w->eg);
}

int worker__init(struct worker *w, char *err, size_t errlen)
{
	memset(&w->c, 0, sizeof(w->c));
	memset(w->batch_hist, 0, sizeof(w->batch_hist));
	w->polls = w->sleeps = w->spins = w->waits = w->idle_req_ns = w->cpu_ns = 0;
	w->stop = false;
	if (!w->n_rxq && w->rx) {
		w->rxq[0] = (struct worker_rxq){ .port = w->rx, .q = 0 };
		w->n_rxq = 1;
	}
	for (unsigned i = 0; i < w->n_rxq; i++)
		w->rxq[i].rx = w->rxq[i].polls = 0;
	if (!w->clock)
		w->clock = stats__now_ns;
	w->burst = 32;
	policy__track_init(&w->obs, &w->track, w->burst, w->n_rxq ? w->rxq[0].port->ring_size : 0,
			   w->rate_tau_ns);
	w->asked_idle_ns = 0;
	w->asked_sleep = false;
	memset(&w->stall, 0, sizeof(w->stall));
	memset(&w->late_wakeup, 0, sizeof(w->late_wakeup));
	w->intr_epfd = -1;
	if (w->lat)
		lat__reset(w->lat);

	if (!w->eng || !w->n_ports || w->n_ports > ENGINE_MAX_PORTS) {
		snprintf(err, errlen, "worker: %s",
			 w->eng ? "1 to " RTE_STR(ENGINE_MAX_PORTS) " output ports needed"
				: "no engine");
		return -1;
	}
	w->eg.io = (struct engine_io){
		.eng = w->eng, .c = &w->c, .tx_q = w->tx_q, .lat = w->lat, .clock = w->clock
	};
	for (unsigned p = 0; p < w->n_ports; p++)
		w->eg.io.tx_port[p] = w->ports[p].id;
	w->eg.graph = NULL;
	return engine__graph_create(&w->eg, rx_node.name, w, err, errlen);
}

uint16_t worker__poll(struct worker *w, struct policy_decision *d)
{
	int64_t occ = -1;

	/* br_rx polls every queue of the set, each with the burst the policy
	 * chose; the policy then sees the round: its largest vector, its packets */
	rte_graph_walk(w->eg.graph);
	uint16_t n = w->round_max, total = w->round_total;
	uint64_t now = w->round_now;
	w->polls++;
	/*
	 * Time since the last poll beyond the idle action asked for: the
	 * machine's. After a sleep it shows as a late wake-up, logged apart: on
	 * the README's VM they come as often per second whether the worker
	 * sleeps 20 or 140 us at a time, and as busy polling's stalls do (the
	 * same preemptions by the guest's DAMON thread and the host).
	 */
	if (w->track.last_poll_ns && now - w->track.last_poll_ns > w->asked_idle_ns)
		stall__note(w->asked_sleep ? &w->late_wakeup : &w->stall,
			    now - w->track.last_poll_ns - w->asked_idle_ns);
	for (unsigned i = 0; i < w->n_rxq; i++) {
		int64_t o = port__rx_occupancy_q(w->rxq[i].port, w->rxq[i].q);
		if (o > occ)
			occ = o;
	}
	struct policy_obs *o = &w->obs;
	policy__observe(o, &w->track, w->burst, n, total, now, occ);
	policy__decide(w->pol, o, d);
	policy__guard(&w->rails, o, d);
	if (unlikely(w->rec != NULL))
		trace__poll(w->rec, now, total, d);
	if (d->burst >= 1 && d->burst <= ENGINE_MAX_BURST)
		w->burst = d->burst;
	return total;
}

/*
 * Rx interrupts: every queue of the worker on an epoll instance of its own
 * (DPDK's per-thread one has no public accessor), polled with the policy's
 * timeout in ns (rte_epoll_wait counts in ms); rte_epoll_wait(.., 0) then
 * takes the events, which reads the queue's eventfd counter where the PMD
 * has one. Only when every queue has an interrupt.
 */
static void intr_close(struct worker *w, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		rte_eth_dev_rx_intr_ctl_q(w->rxq[i].port->id, w->rxq[i].q, w->intr_epfd,
					  RTE_INTR_EVENT_DEL, NULL);
	close(w->intr_epfd);
	w->intr_epfd = -1;
}

static void intr_open(struct worker *w)
{
	unsigned i;

	w->intr_epfd = -1;
	for (i = 0; i < w->n_rxq; i++)
		if (!w->rxq[i].port->rx_intr)
			return;
	if (!w->n_rxq || (w->intr_epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return;
	for (i = 0; i < w->n_rxq; i++)
		if (rte_eth_dev_rx_intr_ctl_q(w->rxq[i].port->id, w->rxq[i].q, w->intr_epfd,
					      RTE_INTR_EVENT_ADD, NULL))
			break;
	if (i < w->n_rxq) {
		fprintf(stderr,
			"batchrouter: port %u queue %u: no rx interrupt; this worker "
			"sleeps instead of waiting for frames\n",
			w->rxq[i].port->id, w->rxq[i].q);
		intr_close(w, i);
	}
}

static void intr_switch(struct worker *w, bool on)
{
	for (unsigned i = 0; i < w->n_rxq; i++) {
		struct port *p = w->rxq[i].port;

		rte_spinlock_lock(&p->intr_lock);
		if (on)
			rte_eth_dev_rx_intr_enable(p->id, w->rxq[i].q);
		else
			rte_eth_dev_rx_intr_disable(p->id, w->rxq[i].q);
		rte_spinlock_unlock(&p->intr_lock);
	}
}

static void intr_wait(struct worker *w, uint64_t ns)
{
	struct rte_epoll_event ev[WORKER_MAX_RXQ];
	struct pollfd pfd = { .fd = w->intr_epfd, .events = POLLIN };
	struct timespec ts = stats__timespec(ns);
	bool pending = false;

	intr_switch(w, true);
	/* a frame that came before the enable raised nothing: look once */
	for (unsigned i = 0; i < w->n_rxq && !pending; i++)
		pending = rte_eth_rx_queue_count(w->rxq[i].port->id, w->rxq[i].q) > 0;
	if (!pending && ppoll(&pfd, 1, &ts, NULL) > 0)
		rte_epoll_wait(w->intr_epfd, ev, WORKER_MAX_RXQ, 0);
	intr_switch(w, false);
}

void worker__idle(struct worker *w, const struct policy_decision *d)
{
	w->asked_idle_ns = d->idle == IDLE_NONE ? 0 : d->ns;
	w->asked_sleep = d->idle == IDLE_SLEEP || d->idle == IDLE_WAIT_RX;
	switch (d->idle) {
	case IDLE_NONE:
		return;
	case IDLE_SPIN: {
		w->spins++;
		uint64_t end = w->clock() + d->ns;
		while (w->clock() < end)
			rte_pause();
		return;
	}
	case IDLE_WAIT_RX:
		w->waits++;
		/* policy__init refuses a policy that needs rx interrupts on a port
		 * without them; ladder falls back to sleeping there */
		if (w->intr_epfd >= 0) {
			intr_wait(w, d->ns);
			w->idle_req_ns += d->ns;
			return;
		}
		/* fall through */
	case IDLE_SLEEP: {
		struct timespec ts = stats__timespec(d->ns);
		w->sleeps++;
		w->idle_req_ns += d->ns;
		uint64_t t0 = w->clock();
		nanosleep(&ts, NULL);
		uint64_t t1 = w->clock(), late = t1 - t0 - d->ns;
		policy__woke(&w->obs, &w->track, late, t1);
		if (unlikely(w->rec != NULL))
			trace__woke(w->rec, t1 - t0 - d->ns);
		return;
	}
	}
}

/* poll/idle until stopped; the thread's CPU time refreshed every ~10 ms */
static void loop(struct worker *w)
{
	struct policy_decision d;
	uint64_t c0 = stats__thread_cpu_ns(), next = 0;

	/* 1 ns slack: the default 50 us would turn every short sleep into 70 us */
	prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
	intr_open(w);
	while (!w->stop) {
		worker__poll(w, &d);
		worker__idle(w, &d);
		if (unlikely(w->track.last_poll_ns >= next)) {
			w->cpu_ns = stats__thread_cpu_ns() - c0;
			next = w->track.last_poll_ns + 10000000;
		}
	}
	w->cpu_ns = stats__thread_cpu_ns() - c0;
	if (w->intr_epfd >= 0)
		intr_close(w, w->n_rxq);
}

void *worker__thread(void *arg)
{
	rte_thread_register(); /* an lcore id gives us the mempool's per-lcore cache */
	loop(arg);
	rte_thread_unregister();
	return NULL;
}

int worker__lcore(void *arg)
{
	loop(arg);
	return 0;
}
