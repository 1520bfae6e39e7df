/*
 * batchrouter: a DPDK vector packet router whose polling adapts to load.
 * Subcommands in a table, kvmtool style; exit codes as in skalibs: 0 ok,
 * 100 usage, 111 system error, 1 run completed but packets were lost.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "collect.h"
#include "frame.h"
#include "genproc.h"
#include "policy.h"
#include "replay.h"
#include "replay_cmd.h"
#include "router.h"
#include "run.h"
#include "train.h"

static void run_usage(FILE *f)
{
	fprintf(f,
		"usage: batchrouter run [--port P] [--policy NAME[:k=v,...]] [--duration S]\n"
		"                       [--rate PPS] [--pattern cbr|poisson|onoff|stair]\n"
		"                       [--size BYTES] [--routes FILE] [--latency-budget US]\n"
		"                       [--record FILE] [--quiet]\n"
		"       batchrouter run [--queues M] [--policy P] [--routes FILE] [--duration S]\n"
		"                       -- EAL-ARGS     (the router: run --help --)\n"
		"Forwards traffic for S seconds and prints accounting; one live line per second.\n"
		"  --port     ring[:size=N]  synthetic NIC fed by the generator (default)\n"
		"             null           net_null (always a full burst)\n"
		"             afxdp[:iface=IF]  AF_XDP; without iface a veth pair in a private\n"
		"                            netns is created and removed (needs root)\n"
		"             tap            net_tap with rx interrupts (the intr policy); the\n"
		"                            tap interface brt<pid> is created and removed\n"
		"  --routes   lines 'A.B.C.D/LEN port N nexthop-mac XX:..:XX' (default: all\n"
		"             traffic back out of port 0)\n"
		"  --rate     generator rate in packets/s (default 100000)\n"
		"  --size     frame size 64..1518 (default 64)\n"
		"  --latency-budget  p99 target in us (default 200): every sleep and spin is\n"
		"             capped at it less this machine's p99 wake-up overshoot\n"
		"  --record   write a trace of the run (every frame's arrival, the worker's polls\n"
		"             and sleeps, the run's CPU and p99) for replay (ring port only)\n"
		"Policies (see `batchrouter policies`): default 'ovs'.\n");
}

static int cmd_run(int argc, char **argv)
{
	/* with '--' the EAL arguments follow: the router proper */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--"))
			return router__main(argc, argv);

	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'P' },
		{ "policy", required_argument, NULL, 'p' },
		{ "duration", required_argument, NULL, 'd' },
		{ "rate", required_argument, NULL, 'r' },
		{ "pattern", required_argument, NULL, 't' },
		{ "size", required_argument, NULL, 's' },
		{ "routes", required_argument, NULL, 'R' },
		{ "latency-budget", required_argument, NULL, 'L' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "record", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *record = NULL;
	struct run_cfg cfg = { .port = "ring",
			       .policy = "ovs",
			       .duration_s = 5,
			       .rate_pps = 100000,
			       .pattern = GEN_CBR,
			       .frame_len = 64,
			       .live = true };
	int c;

	while ((c = getopt_long(argc, argv, "P:p:d:r:t:s:R:L:qw:h", opts, NULL)) != -1) {
		switch (c) {
		case 'P':
			cfg.port = optarg;
			break;
		case 'p':
			cfg.policy = optarg;
			break;
		case 'd':
			cfg.duration_s = atof(optarg);
			break;
		case 'r':
			cfg.rate_pps = atof(optarg);
			break;
		case 't':
			if (gen__pattern_parse(optarg, &cfg.pattern)) {
				fprintf(stderr,
					"batchrouter run: unknown pattern '%s'; use cbr, "
					"poisson, onoff or stair\n",
					optarg);
				return 100;
			}
			break;
		case 's':
			cfg.frame_len = (uint32_t)atoi(optarg);
			break;
		case 'R':
			cfg.routes = optarg;
			break;
		case 'L':
			cfg.latency_budget_ns = (uint64_t)(atof(optarg) * 1000);
			break;
		case 'q':
			cfg.live = false;
			break;
		case 'w':
			record = optarg;
			break;
		case 'h':
			run_usage(stdout);
			return 0;
		default:
			run_usage(stderr);
			return 100;
		}
	}
	if (optind != argc || cfg.duration_s <= 0 || cfg.rate_pps <= 0 || cfg.frame_len < 64 ||
	    cfg.frame_len > FRAME_MAX) {
		fprintf(stderr, "batchrouter run: need duration > 0, rate > 0, size 64..%d\n",
			FRAME_MAX);
		run_usage(stderr);
		return 100;
	}
	if (run__eal_init("batchrouter", !cfg.live))
		return 111;
	const struct sleep_floor sf = *run__floor(); /* the floor the rails use */
	printf("nanosleep floor: p50 %.1f us p99 %.1f us, %.1f us CPU per sleep\n", sf.p50_ns / 1e3,
	       sf.p99_ns / 1e3, sf.cpu_per_sleep_ns / 1e3);
	fflush(stdout);

	struct run_result r;
	struct trace tr;
	char err[512];
	if (record) {
		if (trace__alloc_run(&tr, cfg.rate_pps, cfg.duration_s, 2000000)) {
			fprintf(stderr, "batchrouter run: out of memory for --record\n");
			return 111;
		}
		cfg.record = &tr;
	}
	if (run__once(&cfg, &r, err, sizeof(err))) {
		fprintf(stderr, "batchrouter run: %s\n", err);
		if (record)
			trace__free(&tr);
		return 111;
	}
	run__print(stdout, &cfg, &r);
	int lost = run__lost(&r) > 0;
	run__result_free(&r);
	if (record) {
		if (tr.truncated)
			fprintf(stderr,
				"batchrouter run: the trace filled up; %s holds the run's "
				"start only\n",
				record);
		int wr = trace__write(&tr, record, err, sizeof(err));
		trace__free(&tr);
		if (wr) {
			fprintf(stderr, "batchrouter run: %s\n", err);
			return 111;
		}
	}
	return lost;
}

static int cmd_policies(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		printf("usage: batchrouter policies\nLists the policies and their parameters.\n");
		return 0;
	}
	printf("policies (use NAME or NAME:k=v,k=v):\n");
	policy__list(stdout);
	return 0;
}

static const struct cmd {
	const char *name, *help;
	int (*fn)(int, char **);
} cmds[] = {
	{ "run", "forward traffic with one policy and print accounting", cmd_run },
	{ "gen", "the generator as its own process, over memif or a NIC", genproc__main },
	{ "bench", "sweep loads (% of R*), patterns and policies; CSV and plots", bench__main },
	{ "collect", "sweep loads x patterns x probe sleeps; CSV for train", collect__main },
	{ "train", "fit the learned policy's trees (XGBoost) to collect's CSV", train__main },
	{ "replay", "a recorded run (run --record) replayed through other policies", replay__main },
	{ "policies", "list the polling policies", cmd_policies },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: batchrouter COMMAND [--help]\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-9s %s\n", cmds[i].name, cmds[i].help);
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 100 : 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "batchrouter: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 100;
}
