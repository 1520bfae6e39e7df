// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-blk with I/O threads (iopool.h): several requests in flight, used
 * in the order they were popped, a lone request still served at once, a
 * reset that waits for what is running and drops the rest, and a guest
 * buffer a thread cannot reach, which the notifying thread then reports.
 * Guest memory is this process's own, through process_vm_readv/writev
 * (mem_process), as with a real hypervisor: the fake callbacks count calls
 * without locks and are for one thread only.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "iopool.h"
#include "test_virtio.h"
#include "util.h"

#define NREQ 16
#define REQ_BYTES 4096
#define REQ_HDR(k) (0x90000ULL + 16ULL * (k))
#define REQ_STATUS(k) (0x98000ULL + (k))
#define REQ_DATA(k) (DATA + (uint64_t)REQ_BYTES * (k))
#define POOL_THREADS 4

/* This process's threads, from /proc/self/status. */
static int threads_now(void)
{
	char line[128];
	int n = -1;
	FILE *f = fopen("/proc/self/status", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

static struct virtio_dev *pool_blk(void)
{
	struct virtio_dev *dev;

	blk_io_threads = POOL_THREADS;
	mem_process();
	dev = blk_new(false);
	blk_io_threads = 0;
	/* 3 descriptors a request */
	assert_true(drv_start_custom(dev, ~(1ULL << VIRTIO_RING_F_EVENT_IDX), false, 1, 64));
	return dev;
}

/* Post request k: a read of sector 8 * k into data_gpa (REQ_DATA(k), marked). */
static uint16_t post_read(unsigned int k, uint64_t data_gpa)
{
	struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_IN),
				       .sector = htole64(8ULL * k) };
	struct tbuf b[] = { { REQ_HDR(k), 16, false },
			    { data_gpa, REQ_BYTES, true },
			    { REQ_STATUS(k), 1, true } };

	memcpy(gpa_ptr(REQ_HDR(k)), &h, sizeof(h));
	*gpa_ptr(REQ_STATUS(k)) = 0xee;
	memset(gpa_ptr(REQ_DATA(k)), 0xee, REQ_BYTES);
	return drv_post(0, b, 3);
}

/* Serve completions as vmsh's loop does until n are used; their ids in ids. */
static void collect(struct virtio_dev *dev, uint16_t *ids, unsigned int n)
{
	unsigned int got = 0;
	uint32_t len;

	while (got < n) {
		struct pollfd p = { .fd = virtio_dev__completion_fd(dev), .events = POLLIN };

		while (got < n && drv_used(0, &ids[got], &len)) {
			assert_int_equal(len, REQ_BYTES + 1);
			got++;
		}
		if (got == n)
			break;
		assert_true(p.fd >= 0);
		assert_int_equal(poll(&p, 1, 10000), 1);
		/* -EIO (NEEDS_RESET) comes with the bad request: its caller looks */
		virtio_mmio__complete(dev, false);
	}
}

static void check_read(unsigned int k, const uint8_t *file)
{
	assert_int_equal(*gpa_ptr(REQ_STATUS(k)), VIRTIO_BLK_S_OK);
	assert_memory_equal(gpa_ptr(REQ_DATA(k)), file + (size_t)REQ_BYTES * k, REQ_BYTES);
}

/*
 * The backing file's contents, written afresh. Its old pages go first (a
 * hole punched, which also takes them out of the device's mapping), so
 * that file_cold can drop the new ones from the page cache.
 */
static uint8_t *file_now(void)
{
	uint8_t *file = malloc(FILE_SECTORS * 512);

	assert_non_null(file);
	/* where holes cannot be punched, file_cold says so */
	(void)fallocate(blk_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, FILE_SECTORS * 512);
	for (size_t i = 0; i < FILE_SECTORS * 512; i++)
		file[i] = (uint8_t)(i * 13 + (i >> 12));
	assert_int_equal(pwrite(blk_fd, file, FILE_SECTORS * 512, 0), FILE_SECTORS * 512);
	return file;
}

/*
 * The backing file out of the page cache, so that requests wait for the
 * disk and go to the threads (virtio_blk.c's vblk__batch_cached). false
 * where TMPDIR's file system keeps its pages (tmpfs).
 */
static bool file_cold(void)
{
	size_t size = FILE_SECTORS * 512;
	unsigned char in_core[FILE_SECTORS * 512 / 4096];
	void *m;
	bool cold = true;

	assert_int_equal(fdatasync(blk_fd), 0);
	/* not the pages the device's mapping has in use: file_now punched them */
	assert_int_equal(posix_fadvise(blk_fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	m = mmap(NULL, size, PROT_READ, MAP_SHARED, blk_fd, 0);
	assert_true(m != MAP_FAILED);
	assert_int_equal(mincore(m, size, in_core), 0);
	for (size_t i = 0; i < sizeof(in_core); i++)
		cold = cold && !(in_core[i] & 1);
	munmap(m, size);
	return cold;
}

/* file_cold, or skip the test saying why (file: freed first) */
static void need_cold(void *file)
{
	if (file_cold())
		return;
	free(file);
	print_message("skipped: the page cache of a file in $TMPDIR cannot be dropped (tmpfs?); "
		      "set TMPDIR to a disk's file system to test the I/O threads\n");
	skip();
}

/*
 * NREQ reads posted at once, one notification: all used, in the order
 * posted, right; cold: with the file out of the page cache (else skip).
 */
static void batch_ok(struct virtio_dev *dev, bool cold)
{
	uint8_t *file = file_now();
	uint16_t heads[NREQ], ids[NREQ];

	if (cold)
		need_cold(file);
	for (unsigned int k = 0; k < NREQ; k++)
		heads[k] = post_read(k, REQ_DATA(k));
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	collect(dev, ids, NREQ);
	/* whichever thread finished first */
	assert_memory_equal(ids, heads, sizeof(ids));
	for (unsigned int k = 0; k < NREQ; k++)
		check_read(k, file);
	free(file);
}

static void test_pool_in_order(void **state)
{
	struct virtio_dev *dev = *state = pool_blk();
	int before = threads_now();

	for (unsigned int round = 0; round < 20; round++) {
		batch_ok(dev, true);
		wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
		assert_false(virtio_dev__status(dev) & VIRTIO_CONFIG_S_NEEDS_RESET);
	}
	/* the threads started at the first batch, and only then */
	assert_int_equal(threads_now(), before + POOL_THREADS);
	assert_false(virtio_dev__status(dev) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

static void test_pool_one_request_here(void **state)
{
	*state = pool_blk();
	uint8_t *file = file_now();
	int before = threads_now();
	uint16_t head, id;
	uint32_t len;

	/* one at a time: used before the notification returns, no thread started */
	for (unsigned int k = 0; k < NREQ; k++) {
		head = post_read(k, REQ_DATA(k));
		wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
		assert_true(drv_used(0, &id, &len));
		assert_int_equal(id, head);
		check_read(k, file);
	}
	assert_int_equal(threads_now(), before);
	free(file);
}

static void test_pool_reset_in_flight(void **state)
{
	struct virtio_dev *dev = *state = pool_blk();
	uint8_t *file = file_now();

	need_cold(file);
	free(file);
	for (unsigned int k = 0; k < NREQ; k++)
		post_read(k, REQ_DATA(k));
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	wr(VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(virtio_dev__status(dev), 0);
	/*
	 * After the reset, nothing of the device's may touch guest memory:
	 * mark it all, give any thread left time to run, and look.
	 */
	memset(gpa_ptr(REQ_DATA(0)), 0x5a, (size_t)REQ_BYTES * NREQ);
	memset(gpa_ptr(REQ_STATUS(0)), 0x5a, NREQ);
	usleep(50 * 1000);
	assert_int_equal(virtio_mmio__complete(dev, true), 0);
	for (size_t i = 0; i < (size_t)REQ_BYTES * NREQ; i++)
		if (gpa_ptr(REQ_DATA(0))[i] != 0x5a)
			fail_msg("guest byte 0x%zx written after the reset", i);
	for (unsigned int k = 0; k < NREQ; k++)
		assert_int_equal(*gpa_ptr(REQ_STATUS(k)), 0x5a);

	/* the device works again, from a fresh start */
	assert_true(drv_start_custom(dev, ~(1ULL << VIRTIO_RING_F_EVENT_IDX), false, 1, 64));
	batch_ok(dev, true);
}

static void test_pool_cached_batch_here(void **state)
{
	struct virtio_dev *dev = *state = pool_blk();
	int before = threads_now();

	/* all in the page cache: served by the notifying thread, used at once */
	for (unsigned int round = 0; round < 5; round++)
		batch_ok(dev, false);
	assert_int_equal(threads_now(), before);
}

static void test_pool_bad_buffer(void **state)
{
	struct virtio_dev *dev = *state = pool_blk();
	uint8_t *file = file_now();
	uint16_t heads[NREQ], ids[NREQ];
	const unsigned int bad = 5;

	need_cold(file);
	/* request 5's data is in no memslot: a thread cannot write it */
	for (unsigned int k = 0; k < NREQ; k++)
		heads[k] = post_read(k, k == bad ? HOLE : REQ_DATA(k));
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	/* the ones before it are used, in order, then the device needs a reset */
	collect(dev, ids, bad);
	assert_memory_equal(ids, heads, bad * sizeof(ids[0]));
	for (unsigned int k = 0; k < bad; k++)
		check_read(k, file);
	for (int tries = 0; !(virtio_dev__status(dev) & VIRTIO_CONFIG_S_NEEDS_RESET); tries++) {
		struct pollfd p = { .fd = virtio_dev__completion_fd(dev), .events = POLLIN };

		assert_true(tries < 100);
		poll(&p, 1, 100);
		virtio_mmio__complete(dev, false);
	}
	assert_non_null(strstr(virtio_dev__error(dev), "not writable"));
	assert_int_equal(virtio_mmio__complete(dev, true), -EIO);
	/* and uses nothing after it */
	assert_false(drv_used(0, &ids[0], &(uint32_t){ 0 }));
	free(file);
}

static void test_pool_many_threads_create(void **state)
{
	struct virtio_blk_opts o = { .fd = -1, .io_threads = IOPOOL_MAX_THREADS + 1 };
	struct virtio_dev *dev = NULL;

	(void)state;
	o.fd = blk_fd = temp_file(FILE_SECTORS * 512, O_RDWR);
	assert_int_equal(virtio_blk__create(&dev, &o), -EINVAL);
	assert_null(dev);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
const struct CMUnitTest virtio_pool_tests[] = {
	TEST(test_pool_in_order),	   TEST(test_pool_one_request_here),
	TEST(test_pool_reset_in_flight),   TEST(test_pool_bad_buffer),
	TEST(test_pool_cached_batch_here), TEST(test_pool_many_threads_create),
};
const size_t virtio_pool_ntests = ARRAY_SIZE(virtio_pool_tests);
