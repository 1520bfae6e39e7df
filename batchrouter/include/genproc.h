/*
 * genproc: `batchrouter gen [OPTIONS] -- EAL-ARGS`, the traffic generator as
 * a process of its own, on the EAL's main lcore (pin it with -l), sending
 * through the first ethdev the EAL probes (a memif client joined to the
 * router's memif server, or a NIC) and counting what comes back. It
 * measures its own peak first (frames built, stamped and freed, no link)
 * and prints it; frames carry their scheduled departure time, so latency is
 * measured against the schedule. Flows differ by source address and UDP
 * source port; on a link that does not hash (memif) the generator plays
 * the NIC's RSS: each flow goes to rx queue RETA[toeplitz(flow) & 127] with
 * the usual default key and a round-robin RETA.
 */
#ifndef BATCHROUTER_GENPROC_H
#define BATCHROUTER_GENPROC_H

#include <stdint.h>

/* The rx queue a NIC with @n_queues, the default 40-byte key and a round
 * robin 128-entry RETA would give IPv4/UDP flow (src, dst, sport, dport),
 * all in host byte order. */
unsigned genproc__rss_queue(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
			    unsigned n_queues);

int genproc__main(int argc, char **argv);

#endif
