// SPDX-License-Identifier: GPL-2.0
/* The stage2 status message (stage2_proto.h), for both vmsh and stage2. */
#include <errno.h>
#include <string.h>

#include "stage2_proto.h"

#define OFF_MAGIC 0
#define OFF_VERSION 4
#define OFF_LEN 6
#define OFF_SEQ 8
#define OFF_STATE 12
#define OFF_PID 16
#define OFF_EXIT 20
#define OFF_ERR 24
#define OFF_CRC 28
#define OFF_STEP 32
#define OFF_MSG (OFF_STEP + STAGE2_STEP_LEN)

_Static_assert(OFF_MSG + STAGE2_MSG_LEN == STAGE2_PROTO_LEN, "layout");

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Bitwise CRC-32 (IEEE): no table, stage2 must stay small. */
static uint32_t crc32(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & -(c & 1));
	}
	return ~c;
}

static uint32_t msg_crc(const unsigned char *b)
{
	unsigned char tmp[STAGE2_PROTO_LEN];

	memcpy(tmp, b, sizeof(tmp));
	put32(tmp + OFF_CRC, 0);
	return crc32(tmp, sizeof(tmp));
}

static void put_str(unsigned char *dst, size_t cap, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < cap && src[i]; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? (unsigned char)src[i] : '?';
}

/* A field is valid when it holds printable ASCII, a NUL, then only NULs. */
static int get_str(char *dst, const unsigned char *src, size_t cap)
{
	size_t n = 0;

	while (n < cap && src[n]) {
		if (src[n] < 0x20 || src[n] >= 0x7f)
			return -EBADMSG;
		n++;
	}
	if (n == cap)
		return -EBADMSG;
	for (size_t i = n; i < cap; i++)
		if (src[i])
			return -EBADMSG;
	memcpy(dst, src, n + 1);
	return 0;
}

static int valid(const struct stage2_status *s)
{
	if (s->state < STAGE2_STARTED || s->state > STAGE2_FAILED)
		return 0;
	if (s->exit_status < 0 || s->exit_status > 255 ||
	    (s->state != STAGE2_EXITED && s->exit_status))
		return 0;
	if (s->err < 0 || s->err > 4095)
		return 0;
	return s->pid > 0 && s->pid <= (1u << 22); /* PID_MAX_LIMIT */
}

int stage2_proto__encode(const struct stage2_status *s, void *buf, size_t len)
{
	unsigned char *b = buf;

	if (len < STAGE2_PROTO_SECTOR || !valid(s))
		return -EINVAL;
	memset(b, 0, STAGE2_PROTO_SECTOR);
	put32(b + OFF_MAGIC, STAGE2_PROTO_MAGIC);
	put32(b + OFF_VERSION, STAGE2_PROTO_VERSION | STAGE2_PROTO_LEN << 16);
	put32(b + OFF_SEQ, s->seq);
	put32(b + OFF_STATE, s->state);
	put32(b + OFF_PID, s->pid);
	put32(b + OFF_EXIT, (uint32_t)s->exit_status);
	put32(b + OFF_ERR, (uint32_t)s->err);
	put_str(b + OFF_STEP, STAGE2_STEP_LEN, s->step);
	put_str(b + OFF_MSG, STAGE2_MSG_LEN, s->msg);
	put32(b + OFF_CRC, msg_crc(b));
	return STAGE2_PROTO_SECTOR;
}

int stage2_proto__decode(const void *buf, size_t len, struct stage2_status *s)
{
	const unsigned char *b = buf;
	struct stage2_status t;
	size_t i;

	if (len < STAGE2_PROTO_LEN)
		return -EINVAL;
	for (i = 0; i < STAGE2_PROTO_LEN && !b[i]; i++)
		;
	if (i == STAGE2_PROTO_LEN)
		return -ENODATA;
	if (get32(b + OFF_MAGIC) != STAGE2_PROTO_MAGIC)
		return -EBADMSG;
	if ((get32(b + OFF_VERSION) & 0xffff) != STAGE2_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	if (get32(b + OFF_VERSION) >> 16 != STAGE2_PROTO_LEN || get32(b + OFF_CRC) != msg_crc(b))
		return -EBADMSG;
	t.seq = get32(b + OFF_SEQ);
	t.state = get32(b + OFF_STATE);
	t.pid = get32(b + OFF_PID);
	t.exit_status = (int32_t)get32(b + OFF_EXIT);
	t.err = (int32_t)get32(b + OFF_ERR);
	if (!valid(&t) || get_str(t.step, b + OFF_STEP, STAGE2_STEP_LEN) ||
	    get_str(t.msg, b + OFF_MSG, STAGE2_MSG_LEN))
		return -EBADMSG;
	*s = t;
	return 0;
}

const char *stage2_proto__state_name(uint32_t state)
{
	static const char *const names[] = { "?", "started", "running", "exited", "failed" };

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}
