// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "serial_proto.h"

static void encode_decode(const char *plain, const char *b64)
{
	struct buf enc = { 0 }, dec = { 0 };

	base64__encode(&enc, plain, strlen(plain));
	assert_string_equal(enc.data, b64);
	assert_true(base64__decode(&dec, b64, strlen(b64)));
	assert_int_equal(dec.len, strlen(plain));
	assert_memory_equal(dec.data, plain, dec.len);
	buf__free(&enc);
	buf__free(&dec);
}

static void test_base64_rfc4648_vectors(void **state)
{
	(void)state;
	encode_decode("", "");
	encode_decode("f", "Zg==");
	encode_decode("fo", "Zm8=");
	encode_decode("foo", "Zm9v");
	encode_decode("foob", "Zm9vYg==");
	encode_decode("fooba", "Zm9vYmE=");
	encode_decode("foobar", "Zm9vYmFy");
}

static void test_base64_binary_round_trip(void **state)
{
	unsigned char all[256];
	struct buf enc = { 0 }, dec = { 0 };

	(void)state;
	for (int i = 0; i < 256; i++)
		all[i] = i;
	base64__encode(&enc, all, sizeof(all));
	assert_true(base64__decode(&dec, enc.data, enc.len));
	assert_int_equal(dec.len, sizeof(all));
	assert_memory_equal(dec.data, all, sizeof(all));
	buf__free(&enc);
	buf__free(&dec);
}

static void test_base64_rejects_garbage(void **state)
{
	static const char *bad[] = { "Zm9", "Z===", "Zg==Zg==", "Zm9v!", "Zg=A", "=Zg=" };
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf dec = { 0 };
		assert_false(base64__decode(&dec, bad[i], strlen(bad[i])));
		buf__free(&dec);
	}
}

static void feed(struct answer *a, const char *text)
{
	const char *p = text, *nl;

	while ((nl = strchr(p, '\n'))) {
		answer__feed_line(a, p, nl - p);
		p = nl + 1;
	}
}

static void test_answer_with_kernel_noise(void **state)
{
	struct answer a;
	struct buf out = { 0 }, err = { 0 };

	(void)state;
	answer__init(&a, "00ff");
	feed(&a, "LAB-AGENT-READY 6.1.0\n"
		 "LAB-OUT 0000\nWRONG=\nLAB-END 0000 9\n" /* another nonce */
		 "LAB-OUT 00ff\r\n"
		 "aGVsbG8K\r\n"
		 "[   12.345678] random: crng init done\n"
		 "LAB-ERR 00ff\n"
		 "b29wcwo=\n"
		 "LAB-END 00ff 3\n"
		 "LAB-OUT 00ff\n");
	assert_int_equal(a.state, ANSWER_DONE);
	assert_int_equal(a.status, 3);
	assert_true(answer__decode(&a, &out, &err));
	assert_string_equal(out.data, "hello\n");
	assert_string_equal(err.data, "oops\n");
	answer__free(&a);
	buf__free(&out);
	buf__free(&err);
}

static void test_answer_rejects_bad_order_and_status(void **state)
{
	struct answer a;

	(void)state;
	answer__init(&a, "ab");
	feed(&a, "LAB-ERR ab\n");
	assert_int_equal(a.state, ANSWER_BAD);
	answer__free(&a);

	answer__init(&a, "ab");
	feed(&a, "LAB-OUT ab\nLAB-ERR ab\nLAB-END ab 256\n");
	assert_int_equal(a.state, ANSWER_BAD);
	answer__free(&a);

	answer__init(&a, "ab");
	feed(&a, "LAB-OUT abc\nLAB-OUT ab\nLAB-ERR ab\nLAB-END ab x\n");
	assert_int_equal(a.state, ANSWER_BAD);
	answer__free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_rfc4648_vectors),
		cmocka_unit_test(test_base64_binary_round_trip),
		cmocka_unit_test(test_base64_rejects_garbage),
		cmocka_unit_test(test_answer_with_kernel_noise),
		cmocka_unit_test(test_answer_rejects_bad_order_and_status),
	};
	return cmocka_run_group_tests_name("lab_serial_proto", tests, NULL, NULL);
}
