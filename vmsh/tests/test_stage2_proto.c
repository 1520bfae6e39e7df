// SPDX-License-Identifier: GPL-2.0
/* The stage2 status message: round trips, and hostile bytes from the guest. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stage2_proto.h"

static struct stage2_status sample(void)
{
	struct stage2_status s = {
		.seq = 7, .state = STAGE2_EXITED, .pid = 4242, .exit_status = 127, .err = ENOENT
	};

	strcpy(s.step, "exec");
	strcpy(s.msg, "frob: not found in the image");
	return s;
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* Reseal a tampered message with a correct CRC-32, so only the field check is left. */
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

static void reseal(unsigned char *b)
{
	put32(b + 28, 0);
	put32(b + 28, crc32(b, STAGE2_PROTO_LEN));
}

static void test_roundtrip(void **state)
{
	unsigned char buf[STAGE2_PROTO_SECTOR];
	struct stage2_status in = sample(), out;

	(void)state;
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(stage2_proto__encode(&in, buf, sizeof(buf)), STAGE2_PROTO_SECTOR);
	/* fixed little-endian layout: magic "VMS2", version 1, length 320 */
	assert_memory_equal(buf, "VMS2\x01\x00\x40\x01\x07\x00\x00\x00\x03\x00\x00\x00", 16);
	assert_int_equal(buf[STAGE2_PROTO_SECTOR - 1], 0);
	assert_int_equal(stage2_proto__decode(buf, sizeof(buf), &out), 0);
	assert_int_equal(out.seq, 7);
	assert_int_equal(out.state, STAGE2_EXITED);
	assert_int_equal(out.pid, 4242);
	assert_int_equal(out.exit_status, 127);
	assert_int_equal(out.err, ENOENT);
	assert_string_equal(out.step, "exec");
	assert_string_equal(out.msg, "frob: not found in the image");
	assert_string_equal(stage2_proto__state_name(out.state), "exited");
	assert_string_equal(stage2_proto__state_name(99), "?");
}

static void test_encode_limits(void **state)
{
	unsigned char buf[STAGE2_PROTO_SECTOR];
	struct stage2_status in = sample(), out;

	(void)state;
	assert_int_equal(stage2_proto__encode(&in, buf, STAGE2_PROTO_SECTOR - 1), -EINVAL);
	in.state = 0;
	assert_int_equal(stage2_proto__encode(&in, buf, sizeof(buf)), -EINVAL);
	in = sample();
	in.exit_status = 256;
	assert_int_equal(stage2_proto__encode(&in, buf, sizeof(buf)), -EINVAL);
	in = sample();
	in.state = STAGE2_RUNNING; /* an exit status only when EXITED */
	assert_int_equal(stage2_proto__encode(&in, buf, sizeof(buf)), -EINVAL);
	in = sample();
	in.pid = 0;
	assert_int_equal(stage2_proto__encode(&in, buf, sizeof(buf)), -EINVAL);

	/* long and non-printable strings are cut and cleaned, and still decode */
	in = sample();
	memset(in.msg, 'x', sizeof(in.msg));
	in.msg[sizeof(in.msg) - 1] = '\0';
	in.msg[3] = '\n';
	memset(in.step, 'y', sizeof(in.step) - 1);
	in.step[sizeof(in.step) - 1] = '\0';
	assert_int_equal(stage2_proto__encode(&in, buf, sizeof(buf)), STAGE2_PROTO_SECTOR);
	assert_int_equal(stage2_proto__decode(buf, sizeof(buf), &out), 0);
	assert_int_equal(strlen(out.msg), STAGE2_MSG_LEN - 1);
	assert_int_equal(out.msg[3], '?');
	assert_int_equal(strlen(out.step), STAGE2_STEP_LEN - 1);
}

static void test_decode_empty_and_short(void **state)
{
	unsigned char buf[STAGE2_PROTO_SECTOR] = { 0 };
	struct stage2_status out;

	(void)state;
	assert_int_equal(stage2_proto__decode(buf, sizeof(buf), &out), -ENODATA);
	assert_int_equal(stage2_proto__decode(buf, STAGE2_PROTO_LEN - 1, &out), -EINVAL);
	assert_int_equal(stage2_proto__decode(buf, 0, &out), -EINVAL);
}

static void test_decode_hostile(void **state)
{
	unsigned char good[STAGE2_PROTO_SECTOR], b[STAGE2_PROTO_SECTOR];
	struct stage2_status in = sample(), out = { .seq = 99 };

	(void)state;
	stage2_proto__encode(&in, good, sizeof(good));

	/* every single flipped bit of the covered bytes is caught */
	for (size_t i = 0; i < STAGE2_PROTO_LEN * 8; i++) {
		memcpy(b, good, sizeof(b));
		b[i / 8] ^= (unsigned char)(1u << (i % 8));
		assert_true(stage2_proto__decode(b, sizeof(b), &out) < 0);
	}
	assert_int_equal(out.seq, 99); /* untouched on failure */

	memcpy(b, good, sizeof(b));
	put32(b + 4, 2 | STAGE2_PROTO_LEN << 16);
	reseal(b);
	assert_int_equal(stage2_proto__decode(b, sizeof(b), &out), -EPROTONOSUPPORT);

	/* resealed, so only the field validation can refuse them */
	static const struct {
		size_t off;
		uint32_t v;
	} bad[] = {
		{ 6 - 2, 1 | 100u << 16 }, /* length */
		{ 12, 0 },		   /* state */
		{ 12, 5 },
		{ 16, 0 }, /* pid */
		{ 16, 0xffffffffu },
		{ 20, 0xffffffffu }, /* exit status -1 */
		{ 20, 256 },
		{ 24, 0x80000000u }, /* errno */
		{ 24, 5000 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(b, good, sizeof(b));
		put32(b + bad[i].off, bad[i].v);
		reseal(b);
		assert_int_equal(stage2_proto__decode(b, sizeof(b), &out), -EBADMSG);
	}

	/* strings: unterminated, control characters, bytes after the NUL */
	memcpy(b, good, sizeof(b));
	memset(b + 32, 'A', STAGE2_STEP_LEN);
	reseal(b);
	assert_int_equal(stage2_proto__decode(b, sizeof(b), &out), -EBADMSG);
	memcpy(b, good, sizeof(b));
	memset(b + 64, 'A', STAGE2_MSG_LEN);
	reseal(b);
	assert_int_equal(stage2_proto__decode(b, sizeof(b), &out), -EBADMSG);
	memcpy(b, good, sizeof(b));
	b[64] = 0x1b;
	reseal(b);
	assert_int_equal(stage2_proto__decode(b, sizeof(b), &out), -EBADMSG);
	memcpy(b, good, sizeof(b));
	b[64 + STAGE2_MSG_LEN - 1] = 'z';
	reseal(b);
	assert_int_equal(stage2_proto__decode(b, sizeof(b), &out), -EBADMSG);
	memcpy(b, good, sizeof(b));
	b[40] = 0xff;
	reseal(b);
	assert_int_equal(stage2_proto__decode(b, sizeof(b), &out), -EBADMSG);

	/* random sectors never crash, and are (all but surely) refused */
	srand(1);
	for (int n = 0; n < 2000; n++) {
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)rand();
		if (n % 2)
			memcpy(b, "VMS2\x01\x00\x40\x01", 8);
		assert_true(stage2_proto__decode(b, sizeof(b), &out) < 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_encode_limits),
		cmocka_unit_test(test_decode_empty_and_short),
		cmocka_unit_test(test_decode_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
