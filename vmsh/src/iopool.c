// SPDX-License-Identifier: GPL-2.0
/*
 * iopool.h's pool: a ring of job pointers in submission order, split in
 * three runs: [head, started) queued or running or done, in any mix,
 * [started, tail) queued. Each slot has a state; iopool__take gives back
 * the slot at head once it is done. One mutex guards it all: a job is a
 * disk request of microseconds to milliseconds, so the lock is never
 * where the time goes.
 *
 * The eventfd is written when the job at head becomes done on a pool
 * thread: the caller then takes it and every done job after it. A job
 * done out of order writes nothing; the head's completion, later, takes
 * it along. The caller's thread running head itself needs no wake-up: it
 * takes back after running.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "iopool.h"
#include "util.h"

enum iopool_state { SLOT_QUEUED, SLOT_RUNNING, SLOT_DONE };

struct iopool {
	pthread_mutex_t lock;
	pthread_cond_t work;	      /* the threads: a job was queued, or stop */
	pthread_cond_t idle;	      /* iopool__wait: a job finished */
	unsigned head, started, tail; /* free-running; slot = index % IOPOOL_MAX_JOBS */
	unsigned running;
	void *job[IOPOOL_MAX_JOBS];
	uint8_t state[IOPOOL_MAX_JOBS];
	bool stop, inline_only;
	int efd;
	iopool_run_fn *run;
	void *ctx;
	unsigned threads, nstarted;
	pthread_t thread[IOPOOL_MAX_THREADS];
	struct iopool_worker {
		struct iopool *p;
		unsigned server;
	} worker[IOPOOL_MAX_THREADS];
};

#define SLOT(i) ((i) % IOPOOL_MAX_JOBS)

static void iopool__wake(struct iopool *p)
{
	uint64_t one = 1;

	/* a full eventfd counter (never, at one per job) would only coalesce */
	if (write(p->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_err("iopool: eventfd: %s", strerror(errno));
}

/* Start the oldest queued job: its index. Lock held, one is queued. */
static unsigned iopool__start(struct iopool *p)
{
	unsigned i = p->started++;

	p->state[SLOT(i)] = SLOT_RUNNING;
	p->running++;
	return i;
}

/* Job i finished on server; lock held. */
static void iopool__finish(struct iopool *p, unsigned i, unsigned server)
{
	p->state[SLOT(i)] = SLOT_DONE;
	p->running--;
	if (server && i == p->head)
		iopool__wake(p);
	pthread_cond_broadcast(&p->idle);
}

static void *iopool__thread(void *arg)
{
	struct iopool_worker *w = arg;
	struct iopool *p = w->p;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		unsigned i;

		while (!p->stop && p->started == p->tail)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->started == p->tail) /* stop, and nothing left */
			break;
		i = iopool__start(p);
		pthread_mutex_unlock(&p->lock);
		p->run(p->ctx, p->job[SLOT(i)], w->server);
		pthread_mutex_lock(&p->lock);
		iopool__finish(p, i, w->server);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct iopool *iopool__create(unsigned threads, iopool_run_fn *run, void *ctx)
{
	struct iopool *p;

	if (!threads || threads > IOPOOL_MAX_THREADS) {
		pr_err("iopool: %u threads: 1 to %d", threads, IOPOOL_MAX_THREADS);
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		pr_err("iopool: out of memory");
		return NULL;
	}
	p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->efd < 0) {
		pr_err("iopool: cannot make an eventfd: %s", strerror(errno));
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->idle, NULL);
	p->run = run;
	p->ctx = ctx;
	p->threads = threads;
	return p;
}

int iopool__fd(const struct iopool *p)
{
	return p->efd;
}

bool iopool__submit(struct iopool *p, void *job)
{
	bool ok;

	pthread_mutex_lock(&p->lock);
	ok = p->tail - p->head < IOPOOL_MAX_JOBS;
	if (ok) {
		p->job[SLOT(p->tail)] = job;
		p->state[SLOT(p->tail)] = SLOT_QUEUED;
		p->tail++;
	}
	pthread_mutex_unlock(&p->lock);
	return ok;
}

struct iopool_load iopool__load(struct iopool *p)
{
	struct iopool_load l;

	pthread_mutex_lock(&p->lock);
	l = (struct iopool_load){ .queued = p->tail - p->started,
				  .running = p->running,
				  .in_flight = p->tail - p->head };
	pthread_mutex_unlock(&p->lock);
	return l;
}

bool iopool__run_one(struct iopool *p)
{
	unsigned i;

	pthread_mutex_lock(&p->lock);
	if (p->started == p->tail) {
		pthread_mutex_unlock(&p->lock);
		return false;
	}
	i = iopool__start(p);
	pthread_mutex_unlock(&p->lock);
	p->run(p->ctx, p->job[SLOT(i)], 0);
	pthread_mutex_lock(&p->lock);
	iopool__finish(p, i, 0);
	pthread_mutex_unlock(&p->lock);
	return true;
}

/*
 * Start the threads, with every signal blocked: vmsh takes its signals
 * through a signalfd, and a job must not be interrupted by one.
 */
static void iopool__start_threads(struct iopool *p)
{
	sigset_t all, old;
	int err = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (p->nstarted < p->threads) {
		struct iopool_worker *w = &p->worker[p->nstarted];

		*w = (struct iopool_worker){ .p = p, .server = p->nstarted + 1 };
		err = pthread_create(&p->thread[p->nstarted], NULL, iopool__thread, w);
		if (err)
			break;
		p->nstarted++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err && !p->nstarted) {
		pr_err("iopool: cannot start a thread (%s): requests are served one at a time",
		       strerror(err));
		p->inline_only = true;
	}
}

void iopool__kick(struct iopool *p)
{
	if (!p->nstarted && !p->inline_only)
		iopool__start_threads(p);
	pthread_mutex_lock(&p->lock);
	/* a thread a job: two jobs do not wake every idle thread */
	for (unsigned i = p->started; i != p->tail; i++)
		pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
}

bool iopool__inline_only(struct iopool *p)
{
	return p->inline_only;
}

void iopool__ack(struct iopool *p)
{
	uint64_t n;

	if (read(p->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		pr_err("iopool: eventfd: %s", strerror(errno));
}

void *iopool__take(struct iopool *p)
{
	void *job = NULL;

	pthread_mutex_lock(&p->lock);
	if (p->head != p->started && p->state[SLOT(p->head)] == SLOT_DONE)
		job = p->job[SLOT(p->head++)];
	pthread_mutex_unlock(&p->lock);
	return job;
}

void iopool__wait(struct iopool *p, bool run_queued)
{
	pthread_mutex_lock(&p->lock);
	/* the caller's thread runs what nobody has started: no thread may exist */
	while (p->started != p->tail) {
		unsigned i = iopool__start(p);

		if (run_queued) {
			pthread_mutex_unlock(&p->lock);
			p->run(p->ctx, p->job[SLOT(i)], 0);
			pthread_mutex_lock(&p->lock);
		}
		iopool__finish(p, i, 0);
	}
	while (p->running)
		pthread_cond_wait(&p->idle, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

void iopool__free(struct iopool *p)
{
	if (!p)
		return;
	iopool__wait(p, false);
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned t = 0; t < p->nstarted; t++)
		pthread_join(p->thread[t], NULL);
	close(p->efd);
	pthread_cond_destroy(&p->idle);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
