// SPDX-License-Identifier: GPL-2.0
#include "serial_proto.h"

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void buf__append(struct buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + len + 1)
			cap *= 2;
		b->data = realloc(b->data, cap);
		if (!b->data)
			err(1, "realloc");
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void buf__free(struct buf *b)
{
	free(b->data);
	*b = (struct buf){ 0 };
}

void base64__encode(struct buf *out, const void *data, size_t len)
{
	const unsigned char *p = data;
	char quad[4];

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = p[i] << 16;
		if (i + 1 < len)
			v |= p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		quad[0] = b64_alphabet[(v >> 18) & 63];
		quad[1] = b64_alphabet[(v >> 12) & 63];
		quad[2] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		quad[3] = i + 2 < len ? b64_alphabet[v & 63] : '=';
		buf__append(out, quad, 4);
	}
	if (!len)
		buf__append(out, "", 0);
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64_alphabet, c) : NULL;
	return p ? (int)(p - b64_alphabet) : -1;
}

bool base64__decode(struct buf *out, const char *text, size_t len)
{
	int vals[4], n = 0, pad = 0;

	buf__append(out, "", 0);
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (c == '\n' || c == '\r' || c == ' ' || c == '\t')
			continue;
		if (c == '=') {
			if (n < 2)
				return false;
			vals[n++] = 0;
			pad++;
		} else {
			if (pad)
				return false; /* data after padding */
			vals[n] = b64_value(c);
			if (vals[n++] < 0)
				return false;
		}
		if (n == 4) {
			unsigned v = vals[0] << 18 | vals[1] << 12 | vals[2] << 6 | vals[3];
			unsigned char bytes[3] = { v >> 16, v >> 8, v };
			buf__append(out, bytes, 3 - pad);
			n = 0;
			if (pad)
				pad = -100; /* nothing may follow a padded group */
		}
	}
	return n == 0 && pad <= 0;
}

static bool is_base64_line(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (line[i] != '=' && b64_value(line[i]) < 0)
			return false;
	return true;
}

void answer__init(struct answer *a, const char *nonce)
{
	*a = (struct answer){ .state = ANSWER_WAIT };
	snprintf(a->nonce, sizeof(a->nonce), "%s", nonce);
}

void answer__free(struct answer *a)
{
	buf__free(&a->out_b64);
	buf__free(&a->err_b64);
}

/* Is line "<word> <nonce>" followed by the end or a space? Returns the rest. */
static const char *marker(const struct answer *a, const char *line, const char *word)
{
	size_t wl = strlen(word), nl = strlen(a->nonce);

	if (strncmp(line, word, wl) || line[wl] != ' ' || strncmp(line + wl + 1, a->nonce, nl))
		return NULL;
	line += wl + 1 + nl;
	if (*line && *line != ' ')
		return NULL;
	return line;
}

void answer__feed_line(struct answer *a, const char *raw, size_t len)
{
	char line[256];
	const char *rest;

	if (len && raw[len - 1] == '\r')
		len--;
	if (a->state == ANSWER_DONE || a->state == ANSWER_BAD)
		return;
	if (len < sizeof(line)) {
		memcpy(line, raw, len);
		line[len] = '\0';
		if (marker(a, line, "LAB-OUT")) {
			a->state = ANSWER_OUT;
			return;
		}
		if (marker(a, line, "LAB-ERR")) {
			if (a->state == ANSWER_OUT) {
				a->state = ANSWER_ERR;
			} else {
				a->state = ANSWER_BAD;
				a->bad_reason = "LAB-ERR before LAB-OUT";
			}
			return;
		}
		if ((rest = marker(a, line, "LAB-END"))) {
			char *end;
			long status = strtol(rest, &end, 10);
			if (a->state != ANSWER_ERR || end == rest || *end || status < 0 ||
			    status > 255) {
				a->state = ANSWER_BAD;
				a->bad_reason = "malformed LAB-END";
				return;
			}
			a->status = (int)status;
			a->state = ANSWER_DONE;
			return;
		}
	}
	if (!is_base64_line(raw, len))
		return; /* a kernel message or the echo of something else */
	if (a->state == ANSWER_OUT)
		buf__append(&a->out_b64, raw, len);
	else if (a->state == ANSWER_ERR)
		buf__append(&a->err_b64, raw, len);
}

bool answer__decode(const struct answer *a, struct buf *out, struct buf *err)
{
	return a->state == ANSWER_DONE && base64__decode(out, a->out_b64.data, a->out_b64.len) &&
	       base64__decode(err, a->err_b64.data, a->err_b64.len);
}
