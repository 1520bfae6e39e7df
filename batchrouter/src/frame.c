/* Frame builder shared by the generator and the tests. */
#include <string.h>

#include "engine.h"
#include "frame.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

void frame__stamp(uint8_t *buf, uint64_t stamp_ns, uint64_t seq)
{
	uint32_t magic = FRAME_MAGIC;
	memcpy(buf + FRAME_STAMP_OFF, &magic, 4);
	memcpy(buf + FRAME_STAMP_OFF + 4, &stamp_ns, 8);
	memcpy(buf + FRAME_STAMP_OFF + 12, &seq, 8);
}

void frame__build(uint8_t *buf, uint32_t len, const struct frame_spec *s, uint64_t stamp_ns,
		  uint64_t seq)
{
	uint8_t *ip = buf + 14, *udp = ip + 20;

	if (len < 60)
		len = 60;
	memset(buf, 0, len);
	memcpy(buf, s->dst_mac, 6);
	memcpy(buf + 6, s->src_mac, 6);
	put16(buf + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(len - 14));
	put16(ip + 4, (uint16_t)seq);
	ip[8] = s->ttl;
	ip[9] = 17; /* UDP */
	put32(ip + 12, s->src_ip);
	put32(ip + 16, s->dst_ip);
	put16(ip + 10, engine__ipv4_csum(ip, 20));
	put16(udp, 9000);
	put16(udp + 2, 9001);
	put16(udp + 4, (uint16_t)(len - 34));
	/* UDP checksum 0: optional for IPv4, and the stamp changes per packet */
	frame__stamp(buf, stamp_ns, seq);
}

int frame__read_stamp(const uint8_t *buf, uint32_t len, uint64_t *stamp_ns, uint64_t *seq)
{
	uint32_t magic;

	if (len < FRAME_STAMP_OFF + 20 || buf[14] != 0x45)
		return -1;
	memcpy(&magic, buf + FRAME_STAMP_OFF, 4);
	if (magic != FRAME_MAGIC)
		return -1;
	memcpy(stamp_ns, buf + FRAME_STAMP_OFF + 4, 8);
	memcpy(seq, buf + FRAME_STAMP_OFF + 12, 8);
	return 0;
}
