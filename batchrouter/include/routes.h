/*
 * routes: the route config file. One route per line,
 *   10.0.0.0/8 port 1 nexthop-mac 02:00:00:00:00:01
 * '#' starts a comment; blank lines are ignored.
 */
#ifndef BATCHROUTER_ROUTES_H
#define BATCHROUTER_ROUTES_H

#include <stddef.h>
#include "engine.h"

/* Returns 1 for a route in @r, 0 for a blank/comment line, -1 with @err set. */
int routes__parse_line(const char *line, struct engine_route *r, char *err, size_t errlen);

/* Loads @path into a malloc'ed array. Returns the count, or -1 with @err set. */
int routes__load(const char *path, struct engine_route **out, char *err, size_t errlen);

/* Parses "aa:bb:cc:dd:ee:ff". Returns 0 or -1. */
int routes__parse_mac(const char *s, uint8_t mac[6]);

#endif
