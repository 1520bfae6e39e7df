// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-console through the in-test driver, then the virtqueue rules: every
 * way a driver can break them must put the device into NEEDS_RESET, stop
 * it until a reset, and leave it working after one; and a fixed-seed fuzz
 * of rings and descriptors that must never crash (run it under SAN=1) nor
 * touch memory outside the fake guest's RAM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_console.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "guest.h"
#include "util.h"
#include "virtio.h"
#include "test_virtio.h"

/* ---- virtio-console ---- */

static void test_console_output(void **state)
{
	struct virtio_dev *dev = *state = cons_new();
	struct tbuf b[] = { { DATA, 6, false }, { DATA + 0x100, 6, false } };
	uint16_t id, head;
	uint32_t len;

	drv_start(dev, 2);
	assert_int_equal(rd(VIRTIO_MMIO_DEVICE_ID), 3);
	memcpy(gpa_ptr(DATA), "hello ", 6);
	memcpy(gpa_ptr(DATA + 0x100), "world\n", 6);
	head = drv_post(1, b, 2);
	out_max_per_call = 4; /* short writes are retried */
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	assert_int_equal(out_len, 12);
	assert_memory_equal(out_buf, "hello world\n", 12);
	assert_true(drv_used(1, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_int_equal(irqs, 1);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	/* The driver may suppress the interrupt. */
	put16(drv.q[1].avail, VRING_AVAIL_F_NO_INTERRUPT);
	drv_post(1, b, 1);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	assert_int_equal(out_len, 18);
	assert_true(drv_used(1, &id, &len));
	assert_int_equal(irqs, 1);
}

static void test_console_input(void **state)
{
	struct virtio_dev *dev = *state = cons_new();
	struct tbuf b1 = { DATA, 4, true }, b2 = { DATA + 0x100, 4, true };
	uint16_t id;
	uint32_t len;

	drv_start(dev, 2);
	assert_false(virtio_console__can_input(dev));
	assert_int_equal(virtio_console__input(dev, "x", 1), 0);
	drv_post(0, &b1, 1);
	drv_post(0, &b2, 1);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(rx_ready_calls, 1);
	assert_true(virtio_console__can_input(dev));
	assert_int_equal(virtio_console__input(dev, "0123456789", 10), 8);
	assert_memory_equal(gpa_ptr(DATA), "0123", 4);
	assert_memory_equal(gpa_ptr(DATA + 0x100), "4567", 4);
	assert_true(drv_used(0, &id, &len));
	assert_int_equal(len, 4);
	assert_true(drv_used(0, &id, &len));
	assert_int_equal(len, 4);
	assert_false(drv_used(0, &id, &len));
	assert_int_equal(irqs, 1);
	assert_false(virtio_console__can_input(dev));
	assert_int_equal(virtio_console__input(dev, "89", 2), 0);
	/* Input shorter than the buffer uses part of it. */
	drv_post(0, &b1, 1);
	assert_int_equal(virtio_console__input(dev, "89", 2), 2);
	assert_true(drv_used(0, &id, &len));
	assert_int_equal(len, 2);
	assert_int_equal(out_len, 0);
	assert_int_equal(virtio_console__input(*state, NULL, 0), 0);
}

static void test_console_resize(void **state)
{
	struct virtio_dev *dev = *state = cons_new();
	uint16_t cols, rows;
	uint32_t gen;

	/* Before DRIVER_OK: the size changes, no interrupt. */
	assert_int_equal(virtio_console__resize(dev, 90, 30), 0);
	assert_int_equal(irqs, 0);
	drv_start(dev, 2);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_true(rd(VIRTIO_MMIO_DEVICE_FEATURES) & 1U << VIRTIO_CONSOLE_F_SIZE);
	assert_int_equal(virtio_mmio__read(dev, 0x100, &cols, 2), 0);
	assert_int_equal(virtio_mmio__read(dev, 0x102, &rows, 2), 0);
	assert_int_equal(le16toh(cols), 90);
	assert_int_equal(le16toh(rows), 30);
	gen = rd(VIRTIO_MMIO_CONFIG_GENERATION);
	assert_int_equal(virtio_console__resize(dev, 132, 43), 0);
	assert_int_equal(irqs, 1);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	assert_int_not_equal(rd(VIRTIO_MMIO_CONFIG_GENERATION), gen);
	assert_int_equal(virtio_mmio__read(dev, 0x100, &cols, 2), 0);
	assert_int_equal(virtio_mmio__read(dev, 0x102, &rows, 2), 0);
	assert_int_equal(le16toh(cols), 132);
	assert_int_equal(le16toh(rows), 43);
	assert_false(virtio_dev__status(dev) & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* Both bits pending; an ACK clears only the bits it names. */
	drv_post(1, &(struct tbuf){ DATA, 1, false }, 1);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	assert_int_equal(irqs, 2);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS),
			 VIRTIO_MMIO_INT_CONFIG | VIRTIO_MMIO_INT_VRING);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}

/*
 * Resync (attach's keeper): a copy of the device taken earlier takes up the
 * queues where the guest's used ring says they are, serves nothing twice,
 * does again a chain the other copy popped and never used, and owes the
 * guest an interrupt.
 */
static void test_resync(void **state)
{
	static struct virtq stale; /* the copy's queue, as at the fork */
	struct virtio_dev *dev = *state = cons_new();
	struct tbuf b[] = { { DATA, 2, false },
			    { DATA + 0x100, 2, false },
			    { DATA + 0x200, 2, false },
			    { DATA + 0x300, 2, false } };
	uint16_t id, head;
	uint32_t len;
	unsigned int irqs0;

	drv_start(dev, 2);
	memcpy(gpa_ptr(DATA), "ab", 2);
	memcpy(gpa_ptr(DATA + 0x100), "cd", 2);
	memcpy(gpa_ptr(DATA + 0x200), "ef", 2);
	memcpy(gpa_ptr(DATA + 0x300), "gh", 2);
	stale = dev->vqs[1];
	/* the other copy serves two chains */
	drv_post(1, &b[0], 1);
	drv_post(1, &b[1], 1);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	assert_int_equal(out_len, 4);
	assert_true(drv_used(1, &id, &len));
	assert_true(drv_used(1, &id, &len));
	/* ... and pops a third that it never uses */
	drv_post(1, &b[2], 1);
	dev->vqs[1] = stale;
	assert_int_equal(virtio_mmio__resync(dev), 0);
	assert_int_equal(dev->vqs[1].last_avail, 2);
	assert_int_equal(dev->vqs[1].used_idx, 2);
	irqs0 = irqs;
	head = drv_post(1, &b[3], 1);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	assert_int_equal(out_len, 8);
	assert_memory_equal(out_buf, "abcdefgh", 8);
	assert_true(drv_used(1, &id, &len));
	assert_true(drv_used(1, &id, &len));
	assert_int_equal(id, head);
	assert_false(drv_used(1, &id, &len));
	assert_int_equal(irqs, irqs0 + 1);
	/* nothing new, yet the interrupt the other copy may not have sent */
	assert_int_equal(virtio_mmio__resync(dev), 0);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	assert_int_equal(irqs, irqs0 + 2);
	assert_int_equal(out_len, 8);
	/* a used ring outside RAM: NEEDS_RESET, said */
	dev->vqs[1].used = HOLE; /* in no slot */
	assert_int_equal(virtio_mmio__resync(dev), -EIO);
	assert_true(virtio_dev__status(dev) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

/* Console calls on a blk device are refused. */
/* The window in memory (vmsh's steady state): what every read would give. */
static void test_snapshot(void **state)
{
	struct virtio_dev *dev = *state = cons_new();
	uint8_t page[VIRTIO_MMIO_WINDOW], before[VIRTIO_MMIO_WINDOW];
	uint32_t v, gen;
	uint16_t cols;

	drv_start(dev, 2);
	virtio_mmio__snapshot(dev, page, VIRTIO_MMIO_INT_VRING);
	for (uint64_t off = 0; off < 0x100; off += 4) {
		memcpy(&v, page + off, 4);
		if (off == VIRTIO_MMIO_INTERRUPT_STATUS)
			assert_int_equal(le32toh(v), VIRTIO_MMIO_INT_VRING);
		else
			assert_int_equal(le32toh(v), rd(off));
	}
	memcpy(&v, page + VIRTIO_MMIO_MAGIC_VALUE, 4);
	assert_int_equal(le32toh(v), 0x74726976);
	memcpy(&v, page + VIRTIO_MMIO_STATUS, 4);
	assert_true(le32toh(v) & VIRTIO_CONFIG_S_DRIVER_OK);
	for (size_t i = 0; i < 12; i++) {
		uint8_t b;

		assert_int_equal(virtio_mmio__read(dev, 0x100 + i, &b, 1), 0);
		assert_int_equal(page[0x100 + i], b);
	}
	for (size_t i = 0x100 + 12; i < sizeof(page); i++)
		assert_int_equal(page[i], 0);
	/* a resize shows in the next snapshot: new size, new generation */
	memcpy(before, page, sizeof(page));
	memcpy(&gen, page + VIRTIO_MMIO_CONFIG_GENERATION, 4);
	assert_int_equal(virtio_console__resize(dev, 111, 33), 0);
	virtio_mmio__snapshot(dev, page, VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);
	memcpy(&cols, page + 0x100, 2);
	assert_int_equal(le16toh(cols), 111);
	memcpy(&v, page + VIRTIO_MMIO_CONFIG_GENERATION, 4);
	assert_int_not_equal(v, gen);
	memcpy(&v, page + VIRTIO_MMIO_INTERRUPT_STATUS, 4);
	assert_int_equal(le32toh(v), VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);
	assert_memory_not_equal(before, page, sizeof(page));
}

static void test_console_wrong_device(void **state)
{
	struct virtio_dev *dev = *state = blk_new(false);

	assert_int_equal(virtio_console__resize(dev, 1, 1), -EINVAL);
	assert_int_equal(virtio_console__input(dev, "x", 1), -EINVAL);
	assert_false(virtio_console__can_input(dev));
}

/* ---- Strictness: each case breaks one rule on a fresh, started blk device ---- */

static const struct tbuf get_id[] = { { HDR, 16, false },
				      { DATA, 20, true },
				      { STATUS_GPA, 1, true } };

static void kick(void)
{
	virtio_mmio__queue_notify(drv.dev, 0);
}

static void post_get_id(void)
{
	struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_GET_ID) };

	memcpy(gpa_ptr(HDR), &h, sizeof(h));
	drv_post(0, get_id, 3);
}

static void bad_head(void)
{
	drv_start(drv.dev, 1);
	drv_avail(0, 16);
	kick();
}

static void bad_next(void)
{
	drv_start(drv.dev, 1);
	drv_desc(0, 0, HDR, 16, VRING_DESC_F_NEXT, 16);
	drv_avail(0, 0);
	kick();
}

static void bad_loop(void)
{
	drv_start(drv.dev, 1);
	drv_desc(0, 0, HDR, 16, VRING_DESC_F_NEXT, 1);
	drv_desc(0, 1, HDR, 16, VRING_DESC_F_NEXT, 0);
	drv_avail(0, 0);
	kick();
}

static void post3_kick(struct tbuf a, struct tbuf b, struct tbuf c)
{
	struct tbuf v[] = { a, b, c };

	drv_start(drv.dev, 1);
	memset(gpa_ptr(HDR), 0, 16); /* a read (IN) of sector 0 */
	drv_post(0, v, 3);
	kick();
}

static void bad_read_after_write(void)
{
	post3_kick(get_id[0], get_id[2], (struct tbuf){ DATA, 16, false });
}

static void bad_indirect(void)
{
	drv_start(drv.dev, 1);
	drv_desc(0, 0, DATA, 32, VRING_DESC_F_INDIRECT, 0);
	drv_avail(0, 0);
	kick();
}

static void bad_header_in_hole(void)
{
	post3_kick((struct tbuf){ HOLE + 0x100, 16, false }, get_id[1], get_id[2]);
}

static void bad_status_past_ram(void)
{
	post3_kick(get_id[0], (struct tbuf){ DATA, 512, true }, (struct tbuf){ RAM_END, 1, true });
}

static void bad_data_in_hole(void)
{
	post3_kick(get_id[0], (struct tbuf){ HOLE - 512, 1024, true }, get_id[2]);
}

static void bad_addr_wraps(void)
{
	post3_kick(get_id[0], (struct tbuf){ 0xfffffffffffff000ULL, 0x2000, true }, get_id[2]);
}

static void bad_total_len(void)
{
	struct tbuf v[] = {
		get_id[0], { DATA, 0xffffffff, true }, { DATA, 0xffffffff, true }, get_id[2]
	};

	drv_start(drv.dev, 1);
	drv_post(0, v, 4);
	kick();
}

static void bad_avail_jump(void)
{
	drv_start(drv.dev, 1);
	post_get_id();
	put16(drv.q[0].avail + 2, 17);
	kick();
}

/* Without EVENT_IDX: the used ring is first written for a used buffer. */
static void start_rings(uint16_t num, uint64_t desc, uint64_t avail, uint64_t used)
{
	assert_true(drv_negotiate(drv.dev, ~(1ULL << VIRTIO_RING_F_EVENT_IDX), false));
	drv_queue(0, num, desc, avail, used);
	drv_ok();
}

static void bad_desc_ring_in_hole(void)
{
	start_rings(16, HOLE, ring_base(0) + 0x1000, ring_base(0) + 0x2000);
	drv_avail(0, 0);
	kick();
}

static void bad_avail_ring_in_hole(void)
{
	start_rings(16, ring_base(0), HOLE + 0x1000, ring_base(0) + 0x2000);
	kick();
}

static void bad_used_ring_in_hole(void)
{
	start_rings(16, ring_base(0), ring_base(0) + 0x1000, HOLE + 0x2000);
	post_get_id();
	kick();
}

/* With EVENT_IDX the device writes avail_event as soon as it finds the ring empty. */
static void bad_used_ring_in_hole_event_idx(void)
{
	assert_true(drv_negotiate(drv.dev, ~0ULL, false));
	drv_queue(0, 16, ring_base(0), ring_base(0) + 0x1000, HOLE + 0x2000);
	drv_ok();
}

static void bad_size_not_pow2(void)
{
	start_rings(12, ring_base(0), ring_base(0) + 0x1000, ring_base(0) + 0x2000);
}

static void bad_size_zero(void)
{
	start_rings(0, ring_base(0), ring_base(0) + 0x1000, ring_base(0) + 0x2000);
}

static void bad_desc_misaligned(void)
{
	start_rings(16, ring_base(0) + 8, ring_base(0) + 0x1000, ring_base(0) + 0x2000);
}

static void bad_avail_misaligned(void)
{
	start_rings(16, ring_base(0), ring_base(0) + 0x1001, ring_base(0) + 0x2000);
}

static void bad_used_misaligned(void)
{
	start_rings(16, ring_base(0), ring_base(0) + 0x1000, ring_base(0) + 0x2002);
}

static void bad_header_short(void)
{
	struct tbuf v[] = { { HDR, 8, false }, { HDR + 8, 8, true }, get_id[2] };

	drv_start(drv.dev, 1);
	drv_post(0, v, 3);
	kick();
}

static void bad_no_status(void)
{
	struct tbuf v[] = { get_id[0], { DATA, 512, false } };

	drv_start(drv.dev, 1);
	drv_post(0, v, 2);
	kick();
}

static bool rings_in_slot0(const struct tqueue *t)
{
	return t->num && t->desc + 16ULL * t->num <= HOLE && t->avail + 6 + 2ULL * t->num <= HOLE &&
	       t->used + 6 + 8ULL * t->num <= HOLE;
}

struct strict_case {
	void (*provoke)(void);
	const char *why; /* in the device's error */
};

static void test_strict(void **state)
{
	const struct strict_case *sc = *state;
	struct virtio_dev *dev = blk_new(false);
	uint16_t id;
	uint32_t len;

	drv.dev = dev;
	assert_null(virtio_dev__error(dev));
	sc->provoke();
	assert_true(virtio_dev__status(dev) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_non_null(virtio_dev__error(dev));
	if (!strstr(virtio_dev__error(dev), sc->why))
		fail_msg("error \"%s\" lacks \"%s\"", virtio_dev__error(dev), sc->why);
	assert_false(virtio_dev__live(dev));
	assert_int_equal(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET,
			 VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_true(rd(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(irqs, 1);
	/* The driver cannot clear NEEDS_RESET but by a reset. */
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) & ~VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_true(virtio_dev__status(dev) & VIRTIO_CONFIG_S_NEEDS_RESET);

	/* Nothing more is processed, nor reported again. */
	if (rings_in_slot0(&drv.q[0])) {
		drv.q[0].next_desc = 8;
		post_get_id();
		assert_int_equal(virtio_mmio__queue_notify(dev, 0), -EIO);
		assert_int_equal(get16(drv.q[0].used + 2), 0);
	}
	assert_int_equal(virtio_mmio__queue_notify(dev, 0), -EIO);
	assert_int_equal(irqs, 1);

	/* A reset brings it back. */
	drv_start(dev, 1);
	assert_false(virtio_dev__status(dev) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_null(virtio_dev__error(dev));
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(blk_req(VIRTIO_BLK_T_GET_ID, 0, &get_id[1], 1, &len), VIRTIO_BLK_S_OK);
	assert_memory_equal(gpa_ptr(DATA), "vmsh0", 6);
	assert_false(drv_used(0, &id, &len));
	assert_int_equal(hv.bad, 0);
	virtio_dev__free(dev);
}

/* A second error while NEEDS_RESET is set changes nothing: one reason, one interrupt. */
static void test_strict_once(void **state)
{
	struct virtio_dev *dev = *state = cons_new();

	assert_true(drv_negotiate(dev, ~0ULL, false));
	drv_queue(0, 12, ring_base(0), ring_base(0) + 0x1000, ring_base(0) + 0x2000);
	drv_queue(1, 3, ring_base(1), ring_base(1) + 0x1000, ring_base(1) + 0x2000);
	drv_ok();
	assert_non_null(virtio_dev__error(dev));
	assert_non_null(strstr(virtio_dev__error(dev), "queue 0: size 12"));
	assert_int_equal(irqs, 1);
	assert_int_equal(virtio_console__input(dev, "x", 1), 0);
	assert_false(virtio_console__can_input(dev));
	assert_int_equal(virtio_mmio__queue_notify(dev, 1), -EIO);
	assert_int_equal(irqs, 1);
}

/* ---- Fuzz ---- */

static uint64_t rnd_state;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* Headers of every kind, 16 bytes apart, so that random heads hit them. */
static void fuzz_headers(void)
{
	static const uint32_t types[] = { VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH,
					  VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_DISCARD };

	for (uint64_t g = DATA; g < DATA + 0x10000; g += 16) {
		struct virtio_blk_outhdr h = {
			.type = htole32(types[rnd() % ARRAY_SIZE(types)]),
			.sector = htole64(rnd() % (FILE_SECTORS + CTL_SECTORS + 4)),
		};

		memcpy(gpa_ptr(g), &h, sizeof(h));
	}
}

static uint64_t fuzz_addr(void)
{
	switch (rnd() % 8) {
	case 0:
		return rnd();
	case 1:
		return HOLE + rnd() % HOLE;
	case 2:
		return RAM_END - rnd() % 64;
	case 3:
		return HOLE - rnd() % 64;
	case 4:
	case 5:
		return DATA + 16 * (rnd() % 0x1000);
	default:
		return DATA + rnd() % 0x1f0000;
	}
}

static uint32_t fuzz_len(void)
{
	uint64_t r = rnd() % 16;

	if (r == 0)
		return (uint32_t)rnd();
	if (r < 4)
		return 16;
	if (r < 6)
		return 1;
	return (uint32_t)(rnd() % 4096);
}

/* Random descriptors and avail entries; anything goes. */
static void fuzz_queue_random(unsigned int q, uint16_t num)
{
	struct tqueue *t = &drv.q[q];

	for (uint16_t i = 0; i < num; i++) {
		uint16_t flags = (uint16_t)(rnd() % 8 ? rnd() & 3 : rnd() & 7);

		drv_desc(q, i, fuzz_addr(), fuzz_len(), flags,
			 (uint16_t)(rnd() % 8 ? rnd() % num : rnd()));
	}
	for (uint16_t i = 0; i < num; i++)
		put16(t->avail + 4 + 2ULL * i, (uint16_t)(rnd() % 16 ? rnd() % num : rnd()));
	put16(t->avail + 2, (uint16_t)(rnd() % 16 ? rnd() % (num + 1U) : rnd()));
}

/*
 * Well-formed chains (blk: header, data, status; console: one buffer the
 * right way round), then one field broken at random: the deep paths.
 */
static void fuzz_queue_chains(bool blk, unsigned int q, uint16_t num)
{
	struct tqueue *t = &drv.q[q];
	uint16_t n = blk ? num / 3 : num, step = blk ? 3 : 1, w = q ? 0 : VRING_DESC_F_WRITE;
	uint16_t bad = (uint16_t)(rnd() % (num + 1U));

	for (uint16_t c = 0; c < n; c++) {
		uint16_t i = (uint16_t)(c * step);
		uint32_t len = (uint32_t)(rnd() % 4 ? 512 * (rnd() % 9) : rnd() % 2048);

		if (!blk) {
			drv_desc(q, i, DATA + 0x10000 + rnd() % 0x100000, len, w, 0);
		} else {
			drv_desc(q, i, DATA + 16 * (rnd() % 0x1000), 16, VRING_DESC_F_NEXT,
				 (uint16_t)(i + 1));
			drv_desc(q, i + 1, DATA + 0x10000 + rnd() % 0x100000, len,
				 VRING_DESC_F_NEXT | (rnd() & 1 ? VRING_DESC_F_WRITE : 0),
				 (uint16_t)(i + 2));
			drv_desc(q, i + 2, DATA + 0x1f0000 + rnd() % 0x100, 1, VRING_DESC_F_WRITE,
				 0);
		}
		put16(t->avail + 4 + 2ULL * c, i);
	}
	put16(t->avail + 2, n);
	if (bad < num) {
		uint64_t d = t->desc + 16ULL * bad;

		switch (rnd() % 4) {
		case 0:
			memcpy(gpa_ptr(d), &(uint64_t){ fuzz_addr() }, 8);
			break;
		case 1:
			memcpy(gpa_ptr(d + 8), &(uint32_t){ fuzz_len() }, 4);
			break;
		case 2:
			put16(d + 12, (uint16_t)rnd());
			break;
		default:
			put16(d + 14, (uint16_t)rnd());
		}
	}
}

struct fuzz_result {
	unsigned long resets, used, calls;
	size_t out_len;
	uint64_t ram_hash; /* FNV-1a of the whole fake RAM at the end */
};

static struct fuzz_result fuzz(void)
{
	struct virtio_dev *devs[2] = { blk_new(false), cons_new() };
	unsigned long fuzz_resets = 0, fuzz_used = 0;
	struct fuzz_result res;
	uint8_t in[64];

	rnd_state = 0x9e3779b97f4a7c15ULL;
	fuzz_headers();
	for (unsigned int it = 0; it < 3000; it++) {
		struct virtio_dev *dev = devs[it & 1];
		unsigned int nq = dev == devs[0] ? 1 : 2;
		uint16_t num = (uint16_t)(1U << (rnd() % 6));

		if (rnd() % 16 == 0)
			num = (uint16_t)(rnd() % 257);
		assert_true(drv_negotiate(dev, ~0ULL, false));
		for (unsigned int q = 0; q < nq; q++) {
			uint64_t b = ring_base(q), mis = rnd() % 32 == 0 ? rnd() % 8 : 0;

			drv_queue(q, num, b + mis, b + 0x1000 + mis, b + 0x2000 + mis);
		}
		drv_ok();
		/* A refused queue is not set up: leave its memory alone. */
		for (unsigned int q = 0; q < nq && !virtio_dev__error(dev); q++) {
			put16(drv.q[q].avail, (uint16_t)(rnd() & 1)); /* NO_INTERRUPT */
			if (rnd() & 1)
				fuzz_queue_random(q, num);
			else
				fuzz_queue_chains(nq == 1, q, num);
		}
		/* Now and then, registers written at random too. */
		for (unsigned int k = rnd() % 8 == 0 ? 4 : 0; k; k--)
			wr(4 * (rnd() % 64), (uint32_t)(rnd() % 4 ? rnd() % 300 : rnd()));
		for (unsigned int q = 0; q < nq; q++)
			virtio_mmio__queue_notify(dev, q);
		if (virtio_dev__status(dev) & VIRTIO_CONFIG_S_NEEDS_RESET)
			fuzz_resets++;
		for (unsigned int q = 0; q < nq; q++)
			if (drv.q[q].num && drv.q[q].used + 4 <= HOLE)
				fuzz_used += get16(drv.q[q].used + 2);
		if (dev == devs[1]) {
			for (size_t i = 0; i < sizeof(in); i++)
				in[i] = (uint8_t)rnd();
			if (virtio_console__can_input(dev))
				assert_true(virtio_console__input(dev, in, sizeof(in)) >= 0);
		}
	}
	/* Both outcomes must be common, or the fuzz explores too little. */
	assert_true(fuzz_resets > 500);
	assert_true(fuzz_used > 3000);
	assert_int_equal(hv.bad, 0);
	virtio_dev__free(devs[0]);
	virtio_dev__free(devs[1]);
	res = (struct fuzz_result){ .resets = fuzz_resets,
				    .used = fuzz_used,
				    .calls = mem_calls,
				    .out_len = out_len,
				    .ram_hash = 0xcbf29ce484222325ULL };
	for (size_t i = 0; i < HV_SIZE; i++)
		res.ram_hash = (res.ram_hash ^ hv.mem[i]) * 0x100000001b3ULL;
	return res;
}

/*
 * The fuzz with vectored guest memory, then with one call per piece from a
 * fresh start: how many calls are made is all that may differ.
 */
static void test_fuzz(void **state)
{
	struct fuzz_result v, s;

	v = fuzz();
	teardown(state);
	setup(state);
	mem_vectored(false);
	s = fuzz();
	print_message("fuzz: %lu resets, %lu used, %lu guest memory calls (%lu without "
		      "vectored calls)\n",
		      v.resets, v.used, v.calls, s.calls);
	assert_int_equal(v.resets, s.resets);
	assert_int_equal(v.used, s.used);
	assert_int_equal(v.out_len, s.out_len);
	assert_int_equal(v.ram_hash, s.ram_hash);
	assert_true(v.calls < s.calls);
}

/* ---- Ring indices: torn copies, one-store publication, the notify fence ---- */

/*
 * Start a console with 256-entry queues and put queue 1 at avail.idx =
 * used.idx = 0xff, as after 255 buffers: the next index crosses a multiple
 * of 256, where a copy that mixes the bytes of 0x00ff and 0x0100 reads
 * 0x01ff (or 0x0000), and post one byte of output there.
 */
static void idx_at_0xff(struct virtio_dev *dev)
{
	struct virtq *vq = &dev->vqs[1];
	struct tqueue *t = &drv.q[1];
	struct tbuf b = { DATA, 1, false };

	assert_true(drv_start_custom(dev, ~(1ULL << VIRTIO_RING_F_EVENT_IDX), false, 2, 256));
	vq->last_avail = vq->avail_cache = vq->used_idx = 0xff;
	t->avail_idx = t->used_seen = 0xff;
	put16(t->avail + 2, 0xff);
	put16(t->used + 2, 0xff);
	memcpy(gpa_ptr(DATA), "x", 1);
	drv_post(1, &b, 1);
}

/* Exactly the one posted buffer was used, and nothing else. */
static void expect_one_used_at_0x100(struct virtio_dev *dev)
{
	uint16_t id;
	uint32_t len;

	assert_true(virtio_dev__live(dev));
	assert_int_equal(out_len, 1);
	assert_int_equal(get16(drv.q[1].used + 2), 0x100);
	assert_true(drv_used(1, &id, &len));
	assert_false(drv_used(1, &id, &len));
}

/*
 * A copy of avail.idx that overlaps the driver's store of 0x100 reads
 * 0x01ff: 256 entries, all but one stale. avail.idx is read until two
 * copies agree.
 */
static void test_torn_avail_idx(void **state)
{
	struct virtio_dev *dev = *state = cons_new();

	idx_at_0xff(dev);
	tear_reads(drv.q[1].avail + 2, 0x1ff, 0x100, 1);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	assert_int_equal(hv.tear_left, 0);
	expect_one_used_at_0x100(dev);
}

/*
 * Copies that never agree (a driver storing during each one): nothing is
 * taken and the device is not failed; the next notification takes it.
 */
static void test_avail_idx_never_stable(void **state)
{
	struct virtio_dev *dev = *state = cons_new();

	idx_at_0xff(dev);
	/* the read-ahead's pair, then 16 pairs of copies (VIRTQ_IDX_TRIES), each disagreeing */
	tear_reads(drv.q[1].avail + 2, 0x1ff, 0x100, 2 + 32);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	assert_int_equal(hv.tear_left, 0);
	assert_true(virtio_dev__live(dev));
	assert_int_equal(out_len, 0);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	expect_one_used_at_0x100(dev);
}

/* Guest RAM mapped into vmsh: the index is one atomic load, never a copy. */
static void test_mapped_avail_idx(void **state)
{
	struct virtio_dev *dev;

	mem_direct(true);
	dev = *state = cons_new();
	idx_at_0xff(dev);
	tear_reads(drv.q[1].avail + 2, 0x1ff, 0x100, 1);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	assert_int_equal(hv.tear_left, 1); /* no copy of it was made */
	expect_one_used_at_0x100(dev);
}

static uint64_t used_gpa, avail_gpa;
static unsigned int idx_writes;
static size_t idx_write_len;
static uint8_t *idx_write_at;

/* on_write: record the writes that cover used.idx. */
static void record_idx_write(uint8_t *p, size_t len)
{
	uint8_t *idx = gpa_ptr(used_gpa + 2);

	if (p <= idx && idx + 2 <= p + len) {
		idx_writes++;
		idx_write_len = len;
		idx_write_at = p;
	}
}

/*
 * Without guest RAM mapped, used.idx goes out in one aligned 8-byte write
 * (flags, idx, ring[0].id: the kernel copies 8 bytes with one move, 2
 * bytes one at a time), ring[0].id rewritten with the id it holds; a used
 * ring aligned to 4 only gets a 2-byte write.
 */
static void test_used_idx_one_write(void **state)
{
	struct virtio_dev *dev = *state = cons_new();
	struct tbuf b[3] = { { DATA, 1, false }, { DATA + 1, 1, false }, { DATA + 2, 1, false } };
	uint16_t heads[40], id;
	uint32_t len;

	drv_start(dev, 2);
	used_gpa = drv.q[1].used;
	assert_true(used_gpa % 8 == 0);
	hv.on_write = record_idx_write;
	for (unsigned int i = 0; i < ARRAY_SIZE(heads); i++) {
		/* chains of 1 to 3 descriptors, so that slot 0 gets different heads */
		heads[i] = drv_post(1, b, i % 3 + 1);
		idx_writes = 0;
		wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
		assert_int_equal(idx_writes, 1);
		assert_int_equal(idx_write_len, 8);
		assert_ptr_equal(idx_write_at, gpa_ptr(used_gpa));
		assert_int_equal(get16(used_gpa), 0);
		assert_int_equal(get16(used_gpa + 2), i + 1);
		assert_int_equal(get32(used_gpa + 4), heads[i - i % 16]);
		assert_true(drv_used(1, &id, &len));
		assert_int_equal(id, heads[i]);
	}
	assert_int_not_equal(heads[16], heads[0]);

	/* used ring at 4 mod 8 */
	assert_true(drv_negotiate(dev, ~0ULL, false));
	drv_queue(0, 16, ring_base(0), ring_base(0) + 0x1000, ring_base(0) + 0x2000);
	drv_queue(1, 16, ring_base(1), ring_base(1) + 0x1000, ring_base(1) + 0x2004);
	drv_ok();
	used_gpa = drv.q[1].used;
	drv_post(1, b, 1);
	idx_writes = 0;
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	assert_int_equal(idx_writes, 1);
	assert_int_equal(idx_write_len, 2);
	assert_int_equal(get16(used_gpa + 2), 1);
	assert_true(virtio_dev__live(dev));
}

/* on_write: the driver re-enables interrupts as used.idx is published. */
static void reenable_on_publish(uint8_t *p, size_t len)
{
	uint8_t *idx = gpa_ptr(used_gpa + 2);

	if (p <= idx && idx + 2 <= p + len)
		put16(avail_gpa, 0);
}

/*
 * The interrupt decision reads avail.flags after used.idx is published
 * (with a full fence between them, which no single-threaded test can
 * show): a driver that clears NO_INTERRUPT then finds no new used.idx
 * gets its interrupt; one that keeps it set does not.
 */
static void test_notify_reads_flags_after_publish(void **state)
{
	struct virtio_dev *dev = *state = cons_new();
	struct tbuf b = { DATA, 1, false };

	drv_start(dev, 2);
	used_gpa = drv.q[1].used;
	avail_gpa = drv.q[1].avail;
	put16(avail_gpa, VRING_AVAIL_F_NO_INTERRUPT);
	hv.on_write = reenable_on_publish;
	drv_post(1, &b, 1);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	assert_int_equal(irqs, 1);
	hv.on_write = NULL;
	put16(avail_gpa, VRING_AVAIL_F_NO_INTERRUPT);
	drv_post(1, &b, 1);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	assert_int_equal(irqs, 1);
	assert_int_equal(get16(drv.q[1].used + 2), 2);
}

/*
 * The same decision raced for real: guest RAM mapped into vmsh (the atomic
 * path), a driver thread doing what Linux's virtqueue_enable_cb does
 * (clear NO_INTERRUPT, full barrier, read used.idx) while the device
 * publishes a used buffer and decides whether to interrupt. If the device's
 * load of avail.flags passed its store of used.idx, both sides could miss
 * the other's store: the driver sees no new used.idx and the device sees
 * NO_INTERRUPT, and the buffer waits for an interrupt that never comes.
 */
#define RACE_ROUNDS 200000 /* without the fence, 0.01 to 0.2% were lost here */
#define RACE_SECONDS 10	   /* at most, on a loaded machine */

static struct {
	unsigned int go, done; /* round numbers */
	bool stop;
	bool event_idx; /* the driver re-enables with used_event, not avail.flags */
	uint16_t *flags, *used_event, *used_idx;
	uint16_t old;  /* used.idx before the round, for used_event */
	uint16_t seen; /* used.idx as the driver read it */
} race;

/* Wait until *v is round; false if the race was stopped instead. */
static bool race_wait(const unsigned int *v, unsigned int round)
{
	for (unsigned int spins = 0; __atomic_load_n(v, __ATOMIC_ACQUIRE) != round; spins++) {
		if (__atomic_load_n(&race.stop, __ATOMIC_ACQUIRE))
			return false;
		if (spins > 1000)
			sched_yield(); /* 2 CPUs shared with others: let the other side run */
		else
			__builtin_ia32_pause();
	}
	return true;
}

static void *race_driver(void *arg)
{
	(void)arg;
	for (unsigned int round = 1; race_wait(&race.go, round); round++) {
		/* virtqueue_enable_cb: "interrupt me for what comes after old" */
		if (race.event_idx)
			__atomic_store_n(race.used_event, htole16(race.old), __ATOMIC_RELAXED);
		else
			__atomic_store_n(race.flags, 0, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		race.seen = le16toh(__atomic_load_n(race.used_idx, __ATOMIC_RELAXED));
		__atomic_store_n(&race.done, round, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void notify_race(void **state, bool event_idx)
{
	struct virtio_dev *dev;
	struct tbuf b = { DATA, 1, false };
	unsigned long lost = 0;
	unsigned int round;
	time_t end = time(NULL) + RACE_SECONDS;
	pthread_t driver;

	mem_direct(true);
	dev = *state = cons_new();
	if (event_idx)
		assert_true(drv_start_custom(dev, ~0ULL, false, 2, 16));
	else
		drv_start(dev, 2);
	race.go = race.done = 0;
	race.stop = false;
	race.event_idx = event_idx;
	race.flags = (uint16_t *)gpa_ptr(drv.q[1].avail);
	race.used_event = (uint16_t *)gpa_ptr(drv.q[1].avail + 4 + 2 * 16);
	race.used_idx = (uint16_t *)gpa_ptr(drv.q[1].used + 2);
	assert_int_equal(pthread_create(&driver, NULL, race_driver, NULL), 0);
	for (round = 1; round <= RACE_ROUNDS && (round % 1024 || time(NULL) < end); round++) {
		unsigned int before = irqs;
		uint16_t old;

		/* interrupts off: NO_INTERRUPT, or a used_event already passed */
		put16(drv.q[1].avail, VRING_AVAIL_F_NO_INTERRUPT);
		put16(drv.q[1].avail + 4 + 2 * 16, (uint16_t)(get16(drv.q[1].used + 2) - 1));
		drv_post(1, &b, 1);
		assert_int_equal(virtq__pop(dev, 1, &dev->chain), 1);
		assert_int_equal(virtq__push(dev, 1, dev->chain.head, 0), 0);
		old = get16(drv.q[1].used + 2);
		race.old = old;
		__atomic_store_n(&race.go, round, __ATOMIC_RELEASE);
		virtq__signal(dev, 1);
		race_wait(&race.done, round);
		if (irqs == before && race.seen == old)
			lost++;
	}
	__atomic_store_n(&race.stop, true, __ATOMIC_RELEASE);
	pthread_join(driver, NULL);
	print_message("notify race%s: %lu of %u notifications lost\n",
		      event_idx ? " (EVENT_IDX)" : "", lost, round - 1);
	assert_int_equal(lost, 0);
	assert_true(virtio_dev__live(dev));
}

static void test_notify_race(void **state)
{
	notify_race(state, false);
}

static void test_notify_race_event_idx(void **state)
{
	notify_race(state, true);
}

/* ---- EVENT_IDX ---- */

#define EV_NUM 16
static uint64_t used_event_gpa(unsigned int q)
{
	return drv.q[q].avail + 4 + 2 * EV_NUM;
}

static uint64_t avail_event_gpa(unsigned int q)
{
	return drv.q[q].used + 4 + 8 * EV_NUM;
}

/*
 * Interrupts only where used_event asks (the first decision always
 * interrupts), and after each notification avail_event asks for a kick at
 * the next entry.
 */
static void test_event_idx_interrupts(void **state)
{
	struct virtio_dev *dev = *state = blk_new(false);

	assert_true(drv_start_custom(dev, ~0ULL, false, 1, EV_NUM));
	put16(used_event_gpa(0), 0);
	assert_int_equal(blk_req(VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(irqs, 1);
	assert_int_equal(get16(avail_event_gpa(0)), 1);
	/* the driver wants to hear of the entry at 3 only (used.idx passing 3) */
	put16(used_event_gpa(0), 3);
	for (int r = 0; r < 2; r++)
		assert_int_equal(blk_req(VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(irqs, 1);
	assert_int_equal(blk_req(VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(irqs, 2);
	assert_int_equal(blk_req(VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(irqs, 2);
	assert_int_equal(get16(avail_event_gpa(0)), 5);
	assert_int_equal(get16(drv.q[0].used + 2), 5);
	assert_true(virtio_dev__live(dev));
}

/* on_write: the driver adds a request as the device arms avail_event, and does not kick. */
static bool late_posted;
static void post_on_arm(uint8_t *p, size_t len)
{
	uint8_t *ev = gpa_ptr(avail_event_gpa(0));
	struct tbuf b[2] = { { HDR, 16, false }, { STATUS_GPA + 1, 1, true } };

	if (late_posted || ev < p || ev >= p + len)
		return;
	late_posted = true;
	drv_post(0, b, 2);
}

/*
 * An entry the driver adds while the device arms avail_event (it read the
 * old avail_event, so it does not kick) is still served in the same
 * notification: the device reads avail.idx again after arming.
 */
static void test_event_idx_late_entry(void **state)
{
	struct virtio_dev *dev = *state = blk_new(false);
	struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_FLUSH) };
	uint16_t id;
	uint32_t len;

	assert_true(drv_start_custom(dev, ~0ULL, false, 1, EV_NUM));
	memcpy(gpa_ptr(HDR), &h, sizeof(h));
	late_posted = false;
	hv.on_write = post_on_arm;
	assert_int_equal(blk_req(VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	hv.on_write = NULL;
	assert_true(late_posted);
	assert_true(drv_used(0, &id, &len));
	assert_int_equal(*gpa_ptr(STATUS_GPA + 1), VIRTIO_BLK_S_OK);
	assert_false(drv_used(0, &id, &len));
	assert_int_equal(get16(avail_event_gpa(0)), 2);
	assert_true(virtio_dev__live(dev));
}

/*
 * Console input that finds no receive buffer arms avail_event, so that the
 * driver kicks for its next buffer (rx_ready), also after buffers were
 * taken by earlier input.
 */
static void test_event_idx_console_rx(void **state)
{
	struct virtio_dev *dev = *state = cons_new();
	struct tbuf b = { DATA, 4, true };

	assert_true(drv_start_custom(dev, ~0ULL, false, 2, EV_NUM));
	assert_int_equal(virtio_console__input(dev, "x", 1), 0);
	assert_int_equal(get16(avail_event_gpa(0)), 0);
	drv_post(0, &b, 1);
	drv_post(0, &b, 1);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(rx_ready_calls, 1);
	assert_int_equal(virtio_console__input(dev, "ab", 2), 2);
	assert_int_equal(virtio_console__input(dev, "cd", 2), 2);
	assert_int_equal(virtio_console__input(dev, "e", 1), 0);
	/* the driver's next buffer is the entry at 2: it kicks for it */
	assert_int_equal(get16(avail_event_gpa(0)), 2);
	assert_true(virtio_dev__live(dev));
}

/* The state of a strict test is its case, not a device to free. */
static int teardown_strict(void **state)
{
	*state = NULL;
	return teardown(state);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define STRICT(f, why)                                                                             \
	{                                                                                          \
		.name = "test_strict_" #f, .test_func = test_strict, .setup_func = setup,          \
		.teardown_func = teardown_strict,                                                  \
		.initial_state = (void *)&(const struct strict_case){ f, why },                    \
	}

const struct CMUnitTest virtio_queue_tests[] = {
	TEST(test_console_output),
	TEST(test_console_input),
	TEST(test_console_resize),
	TEST(test_resync),
	TEST(test_snapshot),
	TEST(test_console_wrong_device),
	STRICT(bad_head, "head descriptor 16 >= queue size 16"),
	STRICT(bad_next, "descriptor 0: next 16 >= queue size"),
	STRICT(bad_loop, "(a loop)"),
	STRICT(bad_read_after_write, "readable descriptor 2 after a writable"),
	STRICT(bad_indirect, "is indirect"),
	STRICT(bad_header_in_hole, "buffer at 0x100100 (16 bytes) not readable"),
	STRICT(bad_status_past_ram, "buffer at 0x400000 (1 bytes) not writable"),
	STRICT(bad_data_in_hole, "buffer at 0xffe00 (1024 bytes) not writable"),
	STRICT(bad_addr_wraps, "0xfffffffffffff000 + 8192 wraps"),
	STRICT(bad_total_len, "total length overflows"),
	STRICT(bad_avail_jump, "avail.idx 17 is more than 16 ahead"),
	STRICT(bad_desc_ring_in_hole, "descriptor at 0x100000"),
	STRICT(bad_avail_ring_in_hole, "avail.idx at 0x101002"),
	STRICT(bad_used_ring_in_hole, "used.ring entry at 0x102004"),
	STRICT(bad_used_ring_in_hole_event_idx, "used.avail_event at 0x102084"),
	STRICT(bad_size_not_pow2, "size 12 is not a power of 2"),
	STRICT(bad_size_zero, "size 0 is not"),
	STRICT(bad_desc_misaligned, "misaligned rings (desc 0x10008"),
	STRICT(bad_avail_misaligned, "avail 0x11001"),
	STRICT(bad_used_misaligned, "used 0x12002"),
	STRICT(bad_header_short, "8 readable bytes (need 16)"),
	STRICT(bad_no_status, "0 writable (need 1)"),
	TEST(test_strict_once),
	TEST(test_fuzz),
	TEST(test_torn_avail_idx),
	TEST(test_avail_idx_never_stable),
	TEST(test_mapped_avail_idx),
	TEST(test_used_idx_one_write),
	TEST(test_notify_reads_flags_after_publish),
	TEST(test_notify_race),
	TEST(test_notify_race_event_idx),
	TEST(test_event_idx_interrupts),
	TEST(test_event_idx_late_entry),
	TEST(test_event_idx_console_rx),
};
const size_t virtio_queue_ntests = ARRAY_SIZE(virtio_queue_tests);
