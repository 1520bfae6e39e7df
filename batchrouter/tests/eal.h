/* EAL for the unit tests: no hugepages, no PCI, no shared files, quiet. */
#ifndef BATCHROUTER_TEST_EAL_H
#define BATCHROUTER_TEST_EAL_H

#include <stdio.h>
#include <unistd.h>
#include <rte_eal.h>

static inline int test_eal_init(const char *lcores)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=brtest%d", (int)getpid());
	char *argv[] = {
		"test",		"--no-huge", "--no-pci", "--no-shconf",	   "-l",
		(char *)lcores, "-m",	     "256",	 "--no-telemetry", "--log-level=*:error",
		prefix,		NULL,
	};
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "# unable to initialise the DPDK EAL (--no-huge)\n");
		return -1;
	}
	return 0;
}

#endif
