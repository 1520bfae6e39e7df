// SPDX-License-Identifier: GPL-2.0
/*
 * How many guest memory calls (a process_vm_readv/writev each for a live
 * hypervisor) the virtqueues and virtio-blk make: rings, descriptor tables
 * and a chain's buffers are each moved in one vectored call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_console.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "guest.h"
#include "util.h"
#include "virtio.h"
#include "test_virtio.h"

/* ---- Guest memory calls: a system call each for a live hypervisor ---- */

struct calls {
	unsigned long reads, writes;
};

static struct calls calls_since(struct calls c)
{
	/* The device's copy of gm counts into the same counter as the fakes. */
	assert_int_equal(mem_calls, hv.reads + hv.writes);
	return (struct calls){ hv.reads - c.reads, hv.writes - c.writes };
}

static struct calls calls_now(void)
{
	return (struct calls){ hv.reads, hv.writes };
}

/* Request r's status byte, for post_blk. */
static uint64_t status_gpa(unsigned int r)
{
	return HDR + 0x1000 + r;
}

/*
 * Post a blk request with its data in nbufs buffers of len / nbufs bytes,
 * 8 KiB apart from gpa on (request r's header at HDR + 32 * r); no
 * notification.
 */
static uint16_t post_blk(unsigned int r, uint32_t type, uint64_t sector, uint64_t gpa, uint32_t len,
			 unsigned int nbufs)
{
	struct virtio_blk_outhdr h = { .type = htole32(type), .sector = htole64(sector) };
	struct tbuf b[VIRTIO_QUEUE_MAX_SIZE];

	assert_true(nbufs + 2 <= ARRAY_SIZE(b));
	memcpy(gpa_ptr(HDR + 32 * r), &h, sizeof(h));
	*gpa_ptr(status_gpa(r)) = 0xee;
	b[0] = (struct tbuf){ HDR + 32 * r, 16, false };
	for (unsigned int i = 0; i < nbufs; i++)
		b[i + 1] =
		    (struct tbuf){ gpa + 0x2000ULL * i, len / nbufs, type == VIRTIO_BLK_T_IN };
	b[nbufs + 1] = (struct tbuf){ status_gpa(r), 1, true };
	return drv_post(0, b, nbufs + 2);
}

/* What the driver sees after a notification of n requests: all used, in order, OK. */
static void expect_used(unsigned int n, uint16_t first_head, unsigned int ndesc, uint32_t len)
{
	for (unsigned int r = 0; r < n; r++) {
		uint16_t id;
		uint32_t used_len;

		assert_true(drv_used(0, &id, &used_len));
		assert_int_equal(id, (first_head + r * ndesc) % drv.q[0].num);
		assert_int_equal(used_len, len);
	}
	assert_false(drv_used(0, &(uint16_t){ 0 }, &(uint32_t){ 0 }));
}

/*
 * One notification costs, for the rings, with EVENT_IDX (what Linux
 * negotiates): avail.idx with the descriptor table and the avail entries
 * after it (virtq__read_ahead); the used elements with used.idx and
 * avail_event; avail.idx again (nothing more?) with used_event. 2 reads
 * and 1 write. Without it: avail.idx with the table and entries; avail.idx
 * again; the used elements with used.idx; avail.flags: 3 reads and 1
 * write. (avail.idx is copied twice in each of its reads, against a torn
 * copy: one vectored call, two without vectored callbacks.) With guest RAM
 * mapped into vmsh, the indices and flags are single atomic accesses and
 * no call: only the snapshot and the used elements remain.
 */
#define RING_READS 2
#define RING_WRITES 1
#define RING_READS_LEGACY 3
#define RING_WRITES_LEGACY 1
#define RING_READS_MAPPED 1
#define RING_WRITES_MAPPED 1

/*
 * A 256 KiB read into 64 buffers: 2 calls for the request, whatever its
 * buffers: the header; the data, from the file's mapped pages (no pread).
 * The status byte goes out with the used element (virtq__push_last).
 */
static void test_calls_big_read(void **state)
{
	struct virtio_dev *dev = *state = blk_new(false);
	uint8_t *file = malloc(FILE_SECTORS * 512);
	struct calls c;
	uint16_t head;

	assert_non_null(file);
	assert_true(drv_start_custom(dev, ~0ULL, false, 1, 128));
	head = post_blk(0, VIRTIO_BLK_T_IN, 0, DATA, FILE_SECTORS * 512, 64);
	c = calls_now();
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	c = calls_since(c);
	assert_int_equal(c.reads, RING_READS + 1);
	assert_int_equal(c.writes, RING_WRITES + 1);
	print_message("256 KiB read in 64 buffers: %lu guest memory calls\n", c.reads + c.writes);
	expect_used(1, head, 66, FILE_SECTORS * 512 + 1);
	assert_int_equal(*gpa_ptr(status_gpa(0)), VIRTIO_BLK_S_OK);
	assert_int_equal(pread(blk_fd, file, FILE_SECTORS * 512, 0), FILE_SECTORS * 512);
	for (unsigned int i = 0; i < 64; i++)
		assert_memory_equal(gpa_ptr(DATA + 0x2000ULL * i), file + 4096 * i, 4096);
	free(file);
}

/*
 * A 256 KiB write from 64 buffers: the header; the data, into the file's
 * mapped pages (no pwrite); the status with the used element.
 */
static void test_calls_big_write(void **state)
{
	struct virtio_dev *dev = *state = blk_new(false);
	uint8_t *file = malloc(FILE_SECTORS * 512);
	struct calls c;
	uint16_t head;

	assert_non_null(file);
	assert_true(drv_start_custom(dev, ~0ULL, false, 1, 128));
	fill(DATA, 64 * 0x2000, 3);
	head = post_blk(0, VIRTIO_BLK_T_OUT, 0, DATA, FILE_SECTORS * 512, 64);
	c = calls_now();
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	c = calls_since(c);
	assert_int_equal(c.reads, RING_READS + 2);
	assert_int_equal(c.writes, RING_WRITES);
	print_message("256 KiB write from 64 buffers: %lu guest memory calls\n",
		      c.reads + c.writes);
	expect_used(1, head, 66, 1);
	assert_int_equal(*gpa_ptr(status_gpa(0)), VIRTIO_BLK_S_OK);
	assert_int_equal(pread(blk_fd, file, FILE_SECTORS * 512, 0), FILE_SECTORS * 512);
	for (unsigned int i = 0; i < 64; i++)
		assert_memory_equal(gpa_ptr(DATA + 0x2000ULL * i), file + 4096 * i, 4096);
	free(file);
}

/*
 * n 4 KiB requests posted together: the rings cost the same as for one,
 * each request 2 calls. Five times on a ring just big enough, so that the
 * avail and used rings wrap around, inside a batch for most n.
 */
static void calls_batch(uint32_t type, unsigned int n)
{
	struct virtio_dev *dev = blk_new(false);
	uint16_t num = 1;

	while (num < 3 * n)
		num *= 2;
	drv.dev = dev;
	assert_true(drv_start_custom(dev, ~0ULL, false, 1, num));
	for (unsigned int round = 0; round < 5; round++) {
		uint16_t first = drv.q[0].next_desc;
		struct calls c;

		for (unsigned int r = 0; r < n; r++)
			post_blk(r, type, 8 * r, DATA + 0x10000ULL * r, 4096, 1);
		c = calls_now();
		wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
		c = calls_since(c);
		/* a read: header, then data; a write: header, then data; statuses with the elements
		 */
		assert_int_equal(c.reads, RING_READS + (type == VIRTIO_BLK_T_IN ? n : 2 * n));
		assert_int_equal(c.writes, RING_WRITES + (type == VIRTIO_BLK_T_IN ? n : 0));
		if (round == 4)
			print_message("%u 4 KiB %s posted together: %lu guest memory calls\n", n,
				      type == VIRTIO_BLK_T_IN ? "reads" : "writes",
				      c.reads + c.writes);
		expect_used(n, first, 3, type == VIRTIO_BLK_T_IN ? 4097 : 1);
		for (unsigned int r = 0; r < n; r++)
			assert_int_equal(*gpa_ptr(status_gpa(r)), VIRTIO_BLK_S_OK);
	}
	assert_true(virtio_dev__live(dev));
	assert_int_equal(hv.bad, 0);
	virtio_dev__free(dev);
}

static void test_calls_batch(void **state)
{
	(void)state;
	calls_batch(VIRTIO_BLK_T_IN, 1);
	calls_batch(VIRTIO_BLK_T_IN, 10);
	calls_batch(VIRTIO_BLK_T_OUT, 16);
	calls_batch(VIRTIO_BLK_T_IN, 21);
}

/* A full ring: the used batch goes out when it holds num elements. */
static void test_calls_full_ring(void **state)
{
	struct virtio_dev *dev = *state = blk_new(false);
	struct tbuf b[] = { { HDR, 16, false }, { STATUS_GPA, 1, true } };
	struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_FLUSH) };

	assert_true(drv_start_custom(dev, ~0ULL, false, 1, 8));
	memcpy(gpa_ptr(HDR), &h, sizeof(h));
	for (unsigned int round = 0; round < 3; round++) {
		uint16_t first = drv.q[0].next_desc;

		for (unsigned int r = 0; r < 4; r++)
			drv_post(0, b, 2);
		wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
		expect_used(4, first, 2, 1);
	}
	assert_int_equal(get16(drv.q[0].used + 2), 12);
	assert_true(virtio_dev__live(dev));
}

/*
 * A descriptor table partly outside RAM is fine while no chain uses the
 * bad part (the snapshot fails, pops read descriptor by descriptor).
 */
static void test_desc_table_partly_outside_ram(void **state)
{
	struct virtio_dev *dev = *state = blk_new(false);
	struct tbuf d = { DATA, 512, true };
	uint8_t file[512];

	assert_true(drv_negotiate(dev, ~0ULL, false));
	drv_queue(0, 256, HOLE - 16 * 16, ring_base(0) + 0x1000, ring_base(0) + 0x2000);
	drv_ok();
	assert_int_equal(blk_req(VIRTIO_BLK_T_IN, 1, &d, 1, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(pread(blk_fd, file, 512, 512), 512);
	assert_memory_equal(gpa_ptr(DATA), file, 512);
	assert_true(virtio_dev__live(dev));
	/* a chain that reaches the hole still fails, at that descriptor */
	drv_desc(0, 3, HDR, 16, VRING_DESC_F_NEXT, 16);
	drv_avail(0, 3);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_non_null(virtio_dev__error(dev));
	assert_non_null(strstr(virtio_dev__error(dev), "descriptor at 0x100000 (16 bytes)"));
}

/*
 * The status byte is the last byte of the writable part, in the last
 * writable descriptor that is not empty (virtq__push_last): a driver may
 * end a chain with an empty one.
 */
static void test_status_before_empty_descriptor(void **state)
{
	struct virtio_dev *dev = *state = blk_new(false);
	struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_IN), .sector = 0 };
	uint64_t spare = DATA + 0x100000;
	struct tbuf b[4];
	uint16_t head, id;
	uint32_t len;

	assert_true(drv_start_custom(dev, ~0ULL, false, 1, 16));
	memcpy(gpa_ptr(HDR), &h, sizeof(h));
	*gpa_ptr(status_gpa(0)) = 0xee;
	*gpa_ptr(spare) = 0x55;
	b[0] = (struct tbuf){ HDR, 16, false };
	b[1] = (struct tbuf){ DATA, 4096, true };
	b[2] = (struct tbuf){ status_gpa(0), 1, true };
	b[3] = (struct tbuf){ spare, 0, true };
	head = drv_post(0, b, 4);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_true(drv_used(0, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 4096 + 1);
	assert_int_equal(*gpa_ptr(status_gpa(0)), VIRTIO_BLK_S_OK);
	assert_int_equal(*gpa_ptr(spare), 0x55);
}

/* Without vectored callbacks, everything works with one call per piece. */
static void test_scalar_mem(void **state)
{
	struct virtio_dev *dev;
	struct calls c;

	mem_vectored(false);
	dev = *state = blk_new(false);
	assert_true(drv_start_custom(dev, ~0ULL, false, 1, 128));
	post_blk(0, VIRTIO_BLK_T_IN, 0, DATA, FILE_SECTORS * 512, 64);
	c = calls_now();
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	c = calls_since(c);
	/*
	 * reads: the header; the read-ahead's four pieces (avail.idx twice, the
	 * table, the avail ring); avail.idx twice again with used_event. writes:
	 * the 64 buffers; the status, the used element, used.idx, avail_event.
	 */
	assert_int_equal(c.reads, 1 + 4 + 3);
	assert_int_equal(c.writes, 64 + 4);
	expect_used(1, 0, 66, FILE_SECTORS * 512 + 1);
	assert_int_equal(*gpa_ptr(status_gpa(0)), VIRTIO_BLK_S_OK);
}

/*
 * Guest RAM mapped into vmsh (hvmem.h): a request's data moves between the
 * file and the guest's buffers with one preadv/pwritev, no guest memory
 * call at all; the control area still goes through the bounce buffer.
 */
static void test_direct_blk(void **state)
{
	struct virtio_dev *dev;
	uint8_t *file = malloc(FILE_SECTORS * 512);
	struct calls c;
	uint16_t head;

	assert_non_null(file);
	mem_direct(true);
	dev = *state = blk_new(false);
	assert_true(drv_start_custom(dev, ~0ULL, false, 1, 128));
	head = post_blk(0, VIRTIO_BLK_T_IN, 0, DATA, FILE_SECTORS * 512, 64);
	c = calls_now();
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	c = calls_since(c);
	/* the header; the data not at all; the status byte with the used element */
	assert_int_equal(c.reads, RING_READS_MAPPED + 1);
	assert_int_equal(c.writes, RING_WRITES_MAPPED);
	expect_used(1, head, 66, FILE_SECTORS * 512 + 1);
	assert_int_equal(*gpa_ptr(status_gpa(0)), VIRTIO_BLK_S_OK);
	assert_int_equal(pread(blk_fd, file, FILE_SECTORS * 512, 0), FILE_SECTORS * 512);
	for (unsigned int i = 0; i < 64; i++)
		assert_memory_equal(gpa_ptr(DATA + 0x2000ULL * i), file + 4096 * i, 4096);

	/* a write of 64 KiB in 16 buffers at sector 8 */
	for (unsigned int i = 0; i < 16; i++)
		fill(DATA + 0x2000ULL * i, 4096, (uint8_t)(i + 1));
	head = post_blk(1, VIRTIO_BLK_T_OUT, 8, DATA, 16 * 4096, 16);
	c = calls_now();
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	c = calls_since(c);
	assert_int_equal(c.reads, RING_READS_MAPPED + 1);
	assert_int_equal(c.writes, RING_WRITES_MAPPED);
	expect_used(1, head, 18, 1);
	assert_int_equal(*gpa_ptr(status_gpa(1)), VIRTIO_BLK_S_OK);
	assert_int_equal(pread(blk_fd, file, 16 * 4096, 8 * 512), 16 * 4096);
	for (unsigned int i = 0; i < 16; i++)
		assert_memory_equal(gpa_ptr(DATA + 0x2000ULL * i), file + 4096 * i, 4096);

	/* the control area, after the file: through the bounce buffer, as before */
	fill(DATA, 512, 9);
	head = post_blk(2, VIRTIO_BLK_T_OUT, FILE_SECTORS, DATA, 512, 1);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	expect_used(1, head, 3, 1);
	assert_int_equal(*gpa_ptr(status_gpa(2)), VIRTIO_BLK_S_OK);
	assert_int_equal(virtio_blk__ctl_read(dev, 0, file, 512), 0);
	assert_memory_equal(file, gpa_ptr(DATA), 512);
	free(file);
}

/*
 * The real process_vm_readv/writev path (this process as the hypervisor):
 * avail.idx's two copies go in one call, and used.idx in one 8-byte write
 * of used.flags, used.idx and used.ring[0].id.
 */
static void test_process_mem(void **state)
{
	struct virtio_dev *dev;
	struct tbuf b = { DATA, 2, false };
	unsigned long before;
	uint16_t head, id;
	uint32_t len;

	mem_process();
	dev = *state = cons_new();
	drv_start(dev, 2);
	memcpy(gpa_ptr(DATA), "hi", 2);
	head = drv_post(1, &b, 1);
	before = mem_calls;
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	/* the rings, and the two bytes of output */
	assert_int_equal(mem_calls - before, RING_READS_LEGACY + RING_WRITES_LEGACY + 1);
	assert_int_equal(out_len, 2);
	assert_memory_equal(out_buf, "hi", 2);
	assert_int_equal(get16(drv.q[1].used), 0);
	assert_int_equal(get32(drv.q[1].used + 4), head);
	assert_true(drv_used(1, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(irqs, 1);
	assert_true(virtio_dev__live(dev));
}

/*
 * The file shrinks under the device (someone truncates the image): vmsh's
 * mapping of it then faults beyond the new end. A read there fails with
 * IOERR, never with a signal or a device reset; the rest still works.
 */
static void test_blk_file_truncated(void **state)
{
	struct virtio_dev *dev;
	struct tbuf rd_end = { DATA, 4096, true }, wr_end = { DATA, 4096, false };
	struct tbuf rd_start = { DATA + 0x10000, 4096, true };
	uint8_t file[4096];

	mem_process(); /* the real process_vm_readv/writev: their faults are errors */
	dev = *state = blk_new(false);
	drv_start(dev, 1);
	assert_int_equal(ftruncate(blk_fd, FILE_SECTORS * 512 / 2), 0);
	assert_int_equal(blk_req(VIRTIO_BLK_T_IN, FILE_SECTORS - 8, &rd_end, 1, NULL),
			 VIRTIO_BLK_S_IOERR);
	/* a write there goes through pwrite, which extends the file again, as without the mapping
	 */
	fill(DATA, 4096, 9);
	assert_int_equal(blk_req(VIRTIO_BLK_T_OUT, FILE_SECTORS - 8, &wr_end, 1, NULL),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(pread(blk_fd, file, sizeof(file), (FILE_SECTORS - 8) * 512),
			 (ssize_t)sizeof(file));
	assert_memory_equal(file, gpa_ptr(DATA), sizeof(file));
	assert_true(virtio_dev__live(dev));
	/* the first half is still there, both ways */
	fill(DATA, 4096, 5);
	assert_int_equal(blk_req(VIRTIO_BLK_T_OUT, 8, &wr_end, 1, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(blk_req(VIRTIO_BLK_T_IN, 8, &rd_start, 1, NULL), VIRTIO_BLK_S_OK);
	assert_memory_equal(gpa_ptr(DATA + 0x10000), gpa_ptr(DATA), 4096);
	assert_int_equal(pread(blk_fd, file, sizeof(file), 8 * 512), (ssize_t)sizeof(file));
	assert_memory_equal(file, gpa_ptr(DATA), sizeof(file));
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

const struct CMUnitTest virtio_calls_tests[] = {
	TEST(test_calls_big_read),
	TEST(test_calls_big_write),
	TEST(test_calls_batch),
	TEST(test_calls_full_ring),
	TEST(test_desc_table_partly_outside_ram),
	TEST(test_status_before_empty_descriptor),
	TEST(test_scalar_mem),
	TEST(test_direct_blk),
	TEST(test_process_mem),
	TEST(test_blk_file_truncated),
};
const size_t virtio_calls_ntests = ARRAY_SIZE(virtio_calls_tests);
