/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The lab's command protocol on a guest's serial console (the guest side is
 * lab/guest/init). The host sends one line, "NONCE BASE64(script)\n"; the
 * guest answers
 *     LAB-OUT NONCE\n  base64(stdout) lines
 *     LAB-ERR NONCE\n  base64(stderr) lines
 *     LAB-END NONCE STATUS\n
 * Kernel messages may interleave with the answer on the same console: lines
 * that are not base64 are ignored, and only markers with our nonce count.
 */
#ifndef LAB_SERIAL_PROTO_H
#define LAB_SERIAL_PROTO_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len, cap;
};

void buf__append(struct buf *b, const void *data, size_t len);
void buf__free(struct buf *b);

/* Appends the base64 encoding (RFC 4648, padded, no line breaks) of data. */
void base64__encode(struct buf *out, const void *data, size_t len);
/*
 * Appends the decoding of base64 text (whitespace allowed between groups).
 * Returns false, leaving out in an unspecified state, on any other character
 * or a truncated group.
 */
bool base64__decode(struct buf *out, const char *text, size_t len);

enum answer_state { ANSWER_WAIT, ANSWER_OUT, ANSWER_ERR, ANSWER_DONE, ANSWER_BAD };

struct answer {
	char nonce[33];
	enum answer_state state;
	struct buf out_b64, err_b64;
	int status;
	char *bad_reason; /* static string, set with ANSWER_BAD */
};

void answer__init(struct answer *a, const char *nonce);
void answer__free(struct answer *a);
/* Feeds one line (without its '\n'; a trailing '\r' is ignored). */
void answer__feed_line(struct answer *a, const char *line, size_t len);
/* Decodes the collected stdout/stderr once state is ANSWER_DONE. */
bool answer__decode(const struct answer *a, struct buf *out, struct buf *err);

#endif
