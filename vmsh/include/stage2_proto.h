/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The status channel from stage2 (in the guest) to vmsh (on the host): one
 * 512-byte sector that stage2 rewrites, with O_DIRECT|O_SYNC, at the start of
 * the control area of vmsh's block device (byte offset --ctl-offset, right
 * after the image). vmsh sees every write and takes the one with the highest
 * sequence number. The layout is fixed and little-endian:
 *
 *   0  u32 magic "VMS2"     16 u32 pid (initial pid ns)   32 char step[32]
 *   4  u16 version (1)      20 s32 exit status            64 char msg[256]
 *   6  u16 length (320)     24 s32 errno (positive)      320 zero padding
 *   8  u32 sequence         28 u32 CRC-32 of bytes 0..319 with this field 0
 *  12  u32 state
 *
 * This header is compiled by both vmsh (glibc) and stage2 (static musl), so
 * it depends on nothing but the C library. Everything decoded comes from the
 * guest: stage2_proto__decode() validates every field.
 */
#ifndef VMSH_STAGE2_PROTO_H
#define VMSH_STAGE2_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define STAGE2_PROTO_MAGIC 0x32534d56u /* "VMS2" on the disk */
#define STAGE2_PROTO_VERSION 1
#define STAGE2_PROTO_SECTOR 512 /* the size of one message on the disk */
#define STAGE2_PROTO_LEN 320	/* the bytes covered by the checksum */
#define STAGE2_STEP_LEN 32
#define STAGE2_MSG_LEN 256

enum stage2_state {
	STAGE2_STARTED = 1, /* stage2 runs; pid is set */
	STAGE2_RUNNING = 2, /* CMD was executed */
	STAGE2_EXITED = 3,  /* CMD ended: exit_status is its code, or 128 + signal */
	STAGE2_FAILED = 4,  /* stage2 gave up at step, with err and msg */
};

struct stage2_status {
	uint32_t seq;
	uint32_t state; /* enum stage2_state */
	uint32_t pid;
	int32_t exit_status;	    /* 0..255 when EXITED, else 0 */
	int32_t err;		    /* positive errno, 0: none */
	char step[STAGE2_STEP_LEN]; /* NUL-terminated, printable ASCII */
	char msg[STAGE2_MSG_LEN];   /* NUL-terminated, printable ASCII */
};

/*
 * Write s into buf (len >= STAGE2_PROTO_SECTOR; the whole sector is written,
 * padding zeroed). Strings too long are truncated, non-printable bytes become
 * '?'. Returns STAGE2_PROTO_SECTOR, or -EINVAL for a short buffer or a state
 * or value out of range.
 */
int stage2_proto__encode(const struct stage2_status *s, void *buf, size_t len);

/*
 * Parse and validate a message from the guest. Returns 0; -ENODATA if buf is
 * all zeroes (nothing written yet); -EBADMSG for a bad magic, length,
 * checksum, state, field value or string; -EPROTONOSUPPORT for another
 * version; -EINVAL if len < STAGE2_PROTO_LEN. Never reads past len.
 */
int stage2_proto__decode(const void *buf, size_t len, struct stage2_status *s);

/* "started", "running", "exited", "failed", or "?" for anything else. */
const char *stage2_proto__state_name(uint32_t state);

#endif
