/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small pool of threads that runs a device model's jobs while the
 * caller's thread goes on, and gives them back in the order they were
 * submitted (virtio-blk's requests: vmsh keeps several in flight, as the
 * hypervisor's own disk does, and still uses its chains in the order it
 * popped them, which virtio_mmio__resync relies on).
 *
 * The caller owns the jobs (any memory it keeps until it takes them back)
 * and is the only thread that submits, runs jobs itself and takes them
 * back; the pool's threads only run them. Threads are started at the first
 * iopool__kick, so a device that never has two requests at once never has
 * a thread. Only the process that made a pool may use or free it: a child
 * forked from it (attach's keeper) has none of its threads. The caller
 * keeps track of that (virtio-blk's pool_pid).
 */
#ifndef VMSH_IOPOOL_H
#define VMSH_IOPOOL_H

#include <stdbool.h>

#define IOPOOL_MAX_JOBS 256 /* in flight at once: a virtqueue's worth */
#define IOPOOL_MAX_THREADS 64

/* Runs one job: server is 0 on the caller's thread, 1..threads on the pool's. */
typedef void iopool_run_fn(void *ctx, void *job, unsigned server);

struct iopool;

/*
 * A pool of threads (1..IOPOOL_MAX_THREADS) that call run(ctx, job,
 * server). NULL (pr_err) on failure: out of memory or no eventfd.
 */
struct iopool *iopool__create(unsigned threads, iopool_run_fn *run, void *ctx);
/*
 * Stop the threads and free (NULL is fine): queued jobs are not run,
 * running ones are waited for.
 */
void iopool__free(struct iopool *p);
/*
 * An eventfd that becomes readable when the oldest job not yet taken back
 * is done on a pool thread: then iopool__ack, and iopool__take until NULL.
 * Emptied before the takes, it cannot lose the wake of a job done after
 * them.
 */
int iopool__fd(const struct iopool *p);
void iopool__ack(struct iopool *p);

/* Queue a job (not run yet); false if IOPOOL_MAX_JOBS are in flight already. */
bool iopool__submit(struct iopool *p, void *job);
struct iopool_load {
	unsigned queued;    /* jobs no thread has started yet */
	unsigned running;   /* jobs running now */
	unsigned in_flight; /* jobs not yet taken back: queued, running or done */
};

struct iopool_load iopool__load(struct iopool *p);
/* Run the oldest queued job on the caller's thread (server 0); false if none. */
bool iopool__run_one(struct iopool *p);
/*
 * Have the pool's threads take the queued jobs (started here the first
 * time; if none can be started, pr_err once, and the caller's thread runs
 * every job in iopool__run_one from then on).
 */
void iopool__kick(struct iopool *p);
/* Whether the pool's threads cannot run jobs (none could be started). */
bool iopool__inline_only(struct iopool *p);
/*
 * The oldest job in flight if it is done, taken back; NULL if there is
 * none or it is still queued or running. In submission order, always.
 */
void *iopool__take(struct iopool *p);
/*
 * Wait until no job is queued or running: those queued are run on the
 * caller's thread (run_queued) or marked done without running (they come
 * back from iopool__take unchanged), then the running ones are waited for.
 */
void iopool__wait(struct iopool *p, bool run_queued);

#endif
