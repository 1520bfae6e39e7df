/*
 * frame: building and reading the test/generator frames. Generated frames
 * are Ethernet/IPv4/UDP with a payload that starts with a magic word, the
 * scheduled send time and a sequence number, so the worker can measure
 * latency against the schedule (no coordinated omission) and the sink can
 * count what arrived.
 */
#ifndef BATCHROUTER_FRAME_H
#define BATCHROUTER_FRAME_H

#include <stdint.h>

#define FRAME_MIN 64
#define FRAME_MAX 1518
#define FRAME_MAGIC 0x42525453u /* "BRTS" */
#define FRAME_STAMP_OFF (14 + 20 + 8)

struct frame_spec {
	uint8_t dst_mac[6], src_mac[6];
	uint32_t src_ip, dst_ip; /* host byte order */
	uint8_t ttl;
};

/* Writes a valid frame of @len bytes (60..FRAME_MAX; FCS not included). */
void frame__build(uint8_t *buf, uint32_t len, const struct frame_spec *s, uint64_t stamp_ns,
		  uint64_t seq);
/* Rewrites only the stamp and sequence; the IP checksum does not cover them. */
void frame__stamp(uint8_t *buf, uint64_t stamp_ns, uint64_t seq);
/* Reads the stamp; returns 0, or -1 when the frame is not one of ours. */
int frame__read_stamp(const uint8_t *buf, uint32_t len, uint64_t *stamp_ns, uint64_t *seq);

#endif
