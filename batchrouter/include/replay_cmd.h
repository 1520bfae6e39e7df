/*
 * replay_cmd: the replay on this host's terms (its rails, its fitted costs),
 * for `batchrouter replay`, collect's labels and the tests.
 */
#ifndef BATCHROUTER_REPLAY_CMD_H
#define BATCHROUTER_REPLAY_CMD_H

#include "replay.h"
#include "run.h"

/*
 * The host model: costs fitted from the traces of a busy run (@busy) and of
 * a sleeping run (@sleeping), the overshoots of @t, its ring, the budget. 0,
 * or -1 with a message.
 */
int replay__host_from(struct replay_host *h, const char *busy, const char *sleeping,
		      const struct trace *t, uint64_t budget_ns, char *err, size_t errlen);
/*
 * The rails run__once gives a worker (run__rails), for @h's budget, ring and
 * recorded floor: this process's own measurement of the floor would be
 * another sample of the machine's noise.
 */
static inline struct policy_rails replay__rails(const struct replay_host *h)
{
	return run__rails(h->budget_ns, &h->floor, h->ring_size);
}
/* @t's whole run through @policy; res->lat allocated (free it). 0 or -1. */
int replay__whole(const struct trace *t, const struct replay_host *h, const char *policy,
		  struct replay_result *res, char *err, size_t errlen);

int replay__main(int argc, char **argv);

#endif
