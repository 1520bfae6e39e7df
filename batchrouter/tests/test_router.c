/*
 * The router's pure parts: which lcore polls which queue, the EAL argument
 * vector it builds, and the ethdev configuration (RSS) per device.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <rte_ethdev.h>

#include "genproc.h"
#include "port.h"
#include "router.h"

static void test_owner_deals_round_robin(void **state)
{
	(void)state;
	/* 2 ports x 2 queues on 2 workers: each worker gets one queue of each port */
	assert_int_equal(router__owner(0, 0, 2, 2), 0);
	assert_int_equal(router__owner(0, 1, 2, 2), 1);
	assert_int_equal(router__owner(1, 0, 2, 2), 0);
	assert_int_equal(router__owner(1, 1, 2, 2), 1);
	/* one worker polls everything */
	for (unsigned p = 0; p < 4; p++)
		for (unsigned q = 0; q < 4; q++)
			assert_int_equal(router__owner(p, q, 4, 1), 0);
	/* every worker gets a share that differs by at most one */
	unsigned count[3] = { 0 };
	for (unsigned p = 0; p < 2; p++)
		for (unsigned q = 0; q < 4; q++)
			count[router__owner(p, q, 4, 3)]++;
	assert_int_equal(count[0] + count[1] + count[2], 8);
	for (int i = 0; i < 3; i++)
		assert_true(count[i] == 2 || count[i] == 3);
	assert_int_equal(router__owner(0, 4, 4, 2), -1);
	assert_int_equal(router__owner(0, 0, 0, 2), -1);
	assert_int_equal(router__owner(0, 0, 2, 0), -1);
}

static void test_eal_args(void **state)
{
	char *out[16], prefix[48];
	(void)state;
	/* nothing given, no hugepages: a prefix of our own and --no-huge -m 512 */
	char *a[] = { "-l", "0,1", "--vdev", "net_null0" };
	int n = router__eal_args(4, a, out, prefix, 0);
	assert_int_equal(n, 9);
	assert_string_equal(out[0], "batchrouter");
	assert_string_equal(out[2], "0,1");
	assert_true(!strncmp(out[5], "--file-prefix=br", 16));
	assert_string_equal(out[6], "--no-huge");
	assert_string_equal(out[8], "512");
	assert_null(out[9]);
	/* hugepages free: used */
	n = router__eal_args(4, a, out, prefix, 512);
	assert_int_equal(n, 6);
	/* the user's own choices win */
	char *b[] = { "--file-prefix=x", "--socket-mem=1024", "-a", "0000:01:00.0" };
	n = router__eal_args(4, b, out, prefix, 0);
	assert_int_equal(n, 5);
	char *c[] = { "-m", "256" };
	assert_int_equal(router__eal_args(2, c, out, prefix, 0), 4);
}

static void test_eth_conf_rss(void **state)
{
	struct rte_eth_dev_info di;
	struct rte_eth_conf conf;
	char err[256];
	(void)state;

	/* a NIC that hashes: RSS over what it offers of IP/TCP/UDP */
	memset(&di, 0, sizeof(di));
	di.driver_name = "net_test";
	di.max_rx_queues = 8;
	di.max_tx_queues = 8;
	di.flow_type_rss_offloads =
	    RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_L2_PAYLOAD;
	assert_int_equal(port__eth_conf(&di, 4, 2, &conf, err, sizeof(err)), 1);
	assert_int_equal(conf.rxmode.mq_mode, RTE_ETH_MQ_RX_RSS);
	assert_int_equal(conf.rx_adv_conf.rss_conf.rss_hf,
			 RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_UDP);
	/* one queue: nothing to spread */
	assert_int_equal(port__eth_conf(&di, 1, 2, &conf, err, sizeof(err)), 0);
	assert_int_equal(conf.rxmode.mq_mode, RTE_ETH_MQ_RX_NONE);
	/* a device that does not hash (memif, pcap, ring): queues without RSS */
	di.flow_type_rss_offloads = 0;
	assert_int_equal(port__eth_conf(&di, 4, 2, &conf, err, sizeof(err)), 0);
	assert_int_equal(conf.rxmode.mq_mode, RTE_ETH_MQ_RX_NONE);
	/* too many queues: said, with what to do */
	assert_int_equal(port__eth_conf(&di, 9, 2, &conf, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--queues"));
	assert_int_equal(port__eth_conf(&di, 2, 9, &conf, err, sizeof(err)), -1);
	assert_int_equal(port__eth_conf(&di, 0, 1, &conf, err, sizeof(err)), -1);
}

/* The generator plays RSS on links that do not hash: Microsoft's/Intel's
 * published Toeplitz vector, then the queue from a round-robin RETA. */
static void test_generator_rss(void **state)
{
	(void)state;
	/* 66.9.149.187:2794 -> 161.142.100.80:1766 hashes to 0x51ccc178 with the
	 * default key; RETA[0x78] of a round-robin table is 120 % n */
	uint32_t src = 66u << 24 | 9 << 16 | 149 << 8 | 187,
		 dst = 161u << 24 | 142 << 16 | 100 << 8 | 80;
	assert_int_equal(genproc__rss_queue(src, dst, 2794, 1766, 16), 120 % 16);
	assert_int_equal(genproc__rss_queue(src, dst, 2794, 1766, 7), 120 % 7);
	assert_int_equal(genproc__rss_queue(src, dst, 2794, 1766, 1), 0);
	/* the generator's flows spread over every queue, none with most of them */
	unsigned n[4] = { 0 };
	for (unsigned f = 0; f < 64; f++)
		n[genproc__rss_queue(0xac100001 + f, 0x0a000001, (uint16_t)(1024 + f), 9001, 4)]++;
	for (int q = 0; q < 4; q++)
		assert_true(n[q] >= 6 && n[q] <= 26);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owner_deals_round_robin),
		cmocka_unit_test(test_eal_args),
		cmocka_unit_test(test_eth_conf_rss),
		cmocka_unit_test(test_generator_rss),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
