/* The route file parser: strict, with line numbers in every error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "routes.h"

int routes__parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (v[i] > 0xff)
			return -1;
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

int routes__parse_line(const char *line, struct engine_route *r, char *err, size_t errlen)
{
	char buf[256], *tok[8], *save = NULL, *slash, *end;
	unsigned nt = 0;
	struct in_addr a;

	snprintf(buf, sizeof(buf), "%s", line);
	char *hash = strchr(buf, '#');
	if (hash)
		*hash = '\0';
	for (char *t = strtok_r(buf, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
		if (nt == 8) {
			snprintf(err, errlen, "too many fields");
			return -1;
		}
		tok[nt++] = t;
	}
	if (nt == 0)
		return 0;
	if (nt != 5 || strcmp(tok[1], "port") || strcmp(tok[3], "nexthop-mac")) {
		snprintf(err, errlen,
			 "expected 'A.B.C.D/LEN port N nexthop-mac XX:XX:XX:XX:XX:XX'");
		return -1;
	}
	slash = strchr(tok[0], '/');
	if (!slash) {
		snprintf(err, errlen, "prefix '%s' has no /LEN", tok[0]);
		return -1;
	}
	*slash = '\0';
	if (inet_pton(AF_INET, tok[0], &a) != 1) {
		snprintf(err, errlen, "'%s' is not an IPv4 address", tok[0]);
		return -1;
	}
	errno = 0;
	unsigned long depth = strtoul(slash + 1, &end, 10);
	if (errno || *end || end == slash + 1 || depth > 32) {
		snprintf(err, errlen, "prefix length '%s' is not 0..32", slash + 1);
		return -1;
	}
	unsigned long port = strtoul(tok[2], &end, 10);
	if (*end || end == tok[2] || port >= ENGINE_MAX_PORTS) {
		snprintf(err, errlen, "port '%s' is not 0..%d", tok[2], ENGINE_MAX_PORTS - 1);
		return -1;
	}
	if (routes__parse_mac(tok[4], r->mac)) {
		snprintf(err, errlen, "'%s' is not a MAC address", tok[4]);
		return -1;
	}
	uint32_t pfx = ntohl(a.s_addr);
	uint32_t mask = depth ? ~0u << (32 - depth) : 0;
	if (pfx & ~mask) {
		snprintf(err, errlen, "%s/%lu has host bits set", tok[0], depth);
		return -1;
	}
	r->prefix = pfx;
	r->depth = (uint8_t)depth;
	r->port = (uint16_t)port;
	return 1;
}

int routes__load(const char *path, struct engine_route **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	struct engine_route *v = NULL;
	char line[256], why[160];
	int n = 0, cap = 0, lineno = 0;

	if (!f) {
		snprintf(err, errlen, "unable to open route file %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct engine_route r;
		lineno++;
		int rc = routes__parse_line(line, &r, why, sizeof(why));
		if (rc < 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			goto err;
		}
		if (rc == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			struct engine_route *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto err;
			}
			v = nv;
		}
		v[n++] = r;
	}
	fclose(f);
	*out = v;
	return n;
err:
	fclose(f);
	free(v);
	return -1;
}
