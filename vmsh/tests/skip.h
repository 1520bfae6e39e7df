/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cmocka's skip() takes no reason: skip_because() prints one as a TAP
 * comment just before it, which tests/run reports beside the skip.
 */
#ifndef VMSH_TESTS_SKIP_H
#define VMSH_TESTS_SKIP_H

#include <stdio.h>

#define skip_because(...)                                                                          \
	do {                                                                                       \
		printf("# ");                                                                      \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
		fflush(stdout);                                                                    \
		skip();                                                                            \
	} while (0)

#endif
