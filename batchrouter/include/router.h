/*
 * router: `batchrouter run [OPTIONS] -- EAL-ARGS`, the router proper. The
 * EAL arguments pass through (devices: -a PCI-ADDRESS or --vdev; lcores: -l;
 * hugepages when the machine has them), every probed ethdev becomes a port
 * with --queues rx queues (RSS where the device hashes) and one tx queue per
 * worker lcore, the (port, queue) pairs are dealt round-robin to the EAL
 * worker lcores (rte_eal_remote_launch), each running the worker loop with
 * its own policy instance. Forwards until SIGINT/SIGTERM or --duration, with
 * one line per lcore per second; counters through rte_telemetry
 * (/batchrouter/stats, /batchrouter/lcores, /batchrouter/lcore,N).
 */
#ifndef BATCHROUTER_ROUTER_H
#define BATCHROUTER_ROUTER_H

#include <stdint.h>

#define ROUTER_MAX_WORKERS 16

/*
 * Which worker polls (port p, queue q) of @n_ports x @n_queues when there
 * are @n_workers: round-robin over the pairs in port-major order, so the
 * queues of one port go to different workers first. -1 on bad arguments.
 */
int router__owner(unsigned p, unsigned q, unsigned n_queues, unsigned n_workers);

/*
 * Builds the EAL argument vector: "batchrouter", the user's @eal (n of
 * them), then what is missing of: --file-prefix=br<pid> (so two routers or a
 * router and its generator never share runtime files), and, when the
 * machine has no free hugepages and the user chose no memory option,
 * --no-huge -m 512. @out must hold n + 5 pointers; @prefix_buf 48 bytes.
 * Returns the count.
 */
int router__eal_args(int n, char **eal, char **out, char *prefix_buf, long free_hugepages);

/* The subcommand: argv[0] is "run", and argv holds a "--". */
int router__main(int argc, char **argv);

#endif
