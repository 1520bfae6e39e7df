/*
 * collect: the learned policy's training data, labelled by replay. It
 * records one run per (pattern, load, repetition) on the synthetic NIC (the
 * arrivals, which do not depend on the router, and this host's sleep
 * overshoots), fits the host model from a busy and a sleeping run, and then
 * labels each window of every trace counterfactually: the window is replayed
 * from the same state under every candidate sleep, and the cheapest one that
 * kept the budget is the label of every decision the worker takes in it
 * (each poll with at least `after` empty polls: where the learned policy
 * predicts). The next window starts from the labelled action's end state
 * (the oracle's trajectory).
 */
#ifndef BATCHROUTER_COLLECT_H
#define BATCHROUTER_COLLECT_H

#include <stdint.h>
#include <stdio.h>

#include "model.h"
#include "policy.h"
#include "replay.h"

/* The candidate sleeps, us (capped by the rails like any sleep). */
#define COLLECT_N_CAND 6
extern const unsigned collect_cand_us[COLLECT_N_CAND];

struct collect_label_opts {
	uint64_t window_ns;	  /* a label's span */
	unsigned after;		  /* empty polls before a candidate sleeps */
	unsigned rows_per_window; /* decisions kept per window, evenly spread */
	const struct policy_rails *rails;
	uint64_t floor_p99_ns; /* written beside each row */
	size_t late_start;     /* first overshoot sample the oracle takes */
};

/* What labelling one trace found, for the summary. */
struct collect_label_stats {
	unsigned windows, windows_ok, rows; /* windows_ok: the label kept the budget outright */
	unsigned label_count[COLLECT_N_CAND];
	double oracle_cpu_ns;		    /* the labels' CPU, summed over windows */
	double cand_cpu_ns[COLLECT_N_CAND]; /* each candidate alone, window by window */
	unsigned cand_ok[COLLECT_N_CAND];   /* windows where each was as good as the best */
};

/* The CSV's header line (no newline), with the candidates' columns. */
void collect__csv_header(FILE *csv);
/*
 * Labels @t's windows on host @h and appends their rows to @csv, tagged with
 * @pattern, @load_pct and @rep. 0, or -1 with a message (out of memory, a
 * candidate policy refused).
 */
int collect__label_trace(FILE *csv, const struct trace *t, const struct replay_host *h,
			 const struct collect_label_opts *o, const char *pattern, double load_pct,
			 int rep, struct collect_label_stats *st, char *err, size_t errlen);

int collect__main(int argc, char **argv);

#endif
