// SPDX-License-Identifier: GPL-2.0
/*
 * The virtio devices driven the way Linux's virtio_mmio driver drives them:
 * register accesses only, rings and buffers in fake guest RAM (a malloc'd
 * buffer behind two memslots with a hole between them), and the results
 * read back from the used ring, the buffers and the backing file.
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

static const struct memslot slots[] = {
	{ .id = 0, .gpa = 0x000000, .size = 0x100000, .hva = HV_BASE + 0x200000 },
	{ .id = 1, .gpa = 0x200000, .size = 0x200000, .hva = HV_BASE + 0x000000 },
};

struct fake_hv hv;
struct guest_mem gm;

static int fake_xfer_hva(uint64_t hva, size_t len, uint8_t **p)
{
	if (hva < HV_BASE || hva - HV_BASE > HV_SIZE || len > HV_SIZE - (hva - HV_BASE)) {
		hv.bad++;
		return -EFAULT;
	}
	*p = hv.mem + (hva - HV_BASE);
	return 0;
}

/* A read of len bytes at p into buf, torn where tear_reads() says. */
static void fake_copy_in(void *buf, const uint8_t *p, size_t len)
{
	if (len == 2 && p == hv.tear_at && hv.tear_left) {
		uint16_t v = htole16(hv.tear_val[hv.tear_seen++ % 2]);

		hv.tear_left--;
		memcpy(buf, &v, 2);
		return;
	}
	memcpy(buf, p, len);
}

void tear_reads(uint64_t gpa, uint16_t a, uint16_t b, unsigned int n)
{
	hv.tear_at = gpa_ptr(gpa);
	hv.tear_val[0] = a;
	hv.tear_val[1] = b;
	hv.tear_left = n;
	hv.tear_seen = 0;
}

static void fake_copy_out(uint8_t *p, const void *buf, size_t len)
{
	memcpy(p, buf, len);
	if (hv.on_write)
		hv.on_write(p, len);
}

static int fake_read_hva(void *ctx, uint64_t hva, void *buf, size_t len)
{
	uint8_t *p;

	(void)ctx;
	hv.reads++;
	if (fake_xfer_hva(hva, len, &p))
		return -EFAULT;
	fake_copy_in(buf, p, len);
	return 0;
}

static int fake_write_hva(void *ctx, uint64_t hva, const void *buf, size_t len)
{
	uint8_t *p;

	(void)ctx;
	hv.writes++;
	if (fake_xfer_hva(hva, len, &p))
		return -EFAULT;
	fake_copy_out(p, buf, len);
	return 0;
}

/* One call for all segments, checked before anything moves, as process_vm_readv would. */
static int fake_xferv_hva(const struct guest_hva_seg *segs, size_t nsegs, uint8_t *buf, bool write)
{
	uint8_t *p;

	assert_true(nsegs <= GUEST_MAX_SEGS);
	for (size_t k = 0; k < nsegs; k++)
		if (fake_xfer_hva(segs[k].hva, segs[k].len, &p))
			return -EFAULT;
	for (size_t k = 0; k < nsegs; buf += segs[k].len, k++) {
		fake_xfer_hva(segs[k].hva, segs[k].len, &p);
		if (write)
			fake_copy_out(p, buf, segs[k].len);
		else
			fake_copy_in(buf, p, segs[k].len);
	}
	return 0;
}

static int fake_readv_hva(void *ctx, const struct guest_hva_seg *segs, size_t nsegs, void *buf)
{
	(void)ctx;
	hv.reads++;
	return fake_xferv_hva(segs, nsegs, buf, false);
}

static int fake_writev_hva(void *ctx, const struct guest_hva_seg *segs, size_t nsegs,
			   const void *buf)
{
	(void)ctx;
	hv.writes++;
	return fake_xferv_hva(segs, nsegs, (uint8_t *)buf, true);
}

unsigned long mem_calls;

static void *fake_ptr_hva(void *ctx, uint64_t hva, size_t len)
{
	(void)ctx;
	if (hva < HV_BASE || hva - HV_BASE > HV_SIZE || len > HV_SIZE - (hva - HV_BASE))
		return NULL;
	return hv.mem + (hva - HV_BASE);
}

static struct memslot process_slots[ARRAY_SIZE(slots)];
static pid_t self_pid;

void mem_process(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(slots); i++) {
		process_slots[i] = slots[i];
		process_slots[i].hva = (uintptr_t)hv.mem + (slots[i].hva - HV_BASE);
	}
	self_pid = getpid();
	gm.slots = process_slots;
	gm.read_hva = guest__read_hva_process;
	gm.write_hva = guest__write_hva_process;
	gm.readv_hva = NULL;
	gm.writev_hva = NULL;
	gm.ptr_hva = NULL;
	gm.ctx = &self_pid;
}

void mem_direct(bool on)
{
	gm.ptr_hva = on ? fake_ptr_hva : NULL;
}

void mem_vectored(bool on)
{
	gm.readv_hva = on ? fake_readv_hva : NULL;
	gm.writev_hva = on ? fake_writev_hva : NULL;
}

uint8_t *gpa_ptr(uint64_t gpa)
{
	for (size_t i = 0; i < ARRAY_SIZE(slots); i++)
		if (gpa >= slots[i].gpa && gpa < slots[i].gpa + slots[i].size)
			return hv.mem + (slots[i].hva - HV_BASE) + (gpa - slots[i].gpa);
	fail_msg("test bug: gpa 0x%llx outside RAM", (unsigned long long)gpa);
	return NULL;
}

void put16(uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	memcpy(gpa_ptr(gpa), &v, 2);
}

uint16_t get16(uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, gpa_ptr(gpa), 2);
	return le16toh(v);
}

uint32_t get32(uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, gpa_ptr(gpa), 4);
	return le32toh(v);
}

/* ---- Host side: callbacks and the backing file ---- */

unsigned int irqs, rx_ready_calls, ctl_calls;
uint64_t ctl_off;
size_t ctl_len;
uint8_t ctl_data[CTL_SECTORS * 512];
char out_buf[256];
size_t out_len, out_max_per_call;
int blk_fd = -1;
unsigned int blk_io_threads;

static void on_irq(void *ctx, struct virtio_dev *dev)
{
	(void)ctx;
	(void)dev;
	irqs++;
}

static void on_rx_ready(void *ctx)
{
	(void)ctx;
	rx_ready_calls++;
}

static void on_ctl(void *ctx, uint64_t off, const void *data, size_t len)
{
	(void)ctx;
	ctl_calls++;
	ctl_off = off;
	ctl_len = len;
	assert_true(len <= sizeof(ctl_data));
	memcpy(ctl_data, data, len);
}

static ssize_t on_output(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	if (out_max_per_call && len > out_max_per_call)
		len = out_max_per_call;
	/* The fuzz test outputs more than out_buf holds: keep the start. */
	if (out_len < sizeof(out_buf))
		memcpy(out_buf + out_len, buf,
		       len < sizeof(out_buf) - out_len ? len : sizeof(out_buf) - out_len);
	out_len += len;
	return (ssize_t)len;
}

/* A temp file of size bytes with a known pattern, unlinked at once. */
int temp_file(off_t size, int flags)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char path[256];
	int fd, rfd;

	snprintf(path, sizeof(path), "%s/vmsh_virtio_XXXXXX", dir);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	for (off_t i = 0; i < size; i += 512) {
		uint8_t s[512];

		for (int j = 0; j < 512; j++)
			s[j] = (uint8_t)((i / 512) * 13 + j);
		assert_int_equal(pwrite(fd, s, 512 < size - i ? 512 : size - i, i),
				 512 < size - i ? 512 : size - i);
	}
	rfd = open(path, flags);
	assert_true(rfd >= 0);
	unlink(path);
	close(fd);
	return rfd;
}

struct virtio_dev *blk_new(bool ro)
{
	struct virtio_blk_opts o = {
		.host = { .notify_irq = on_irq },
		.read_only = ro,
		.serial = "vmsh0",
		.ctl_sectors = CTL_SECTORS,
		.ctl_written = on_ctl,
		.io_threads = blk_io_threads,
	};
	struct virtio_dev *dev;

	/* Read-write even when ro: the device itself must refuse writes. */
	blk_fd = temp_file(FILE_SECTORS * 512, O_RDWR);
	o.fd = blk_fd;
	assert_int_equal(virtio_blk__create(&dev, &o), 0);
	virtio_dev__set_mem(dev, &gm);
	return dev;
}

struct virtio_dev *cons_new(void)
{
	struct virtio_console_opts o = {
		.host = { .notify_irq = on_irq },
		.cols = 80,
		.rows = 24,
		.output = on_output,
		.rx_ready = on_rx_ready,
	};
	struct virtio_dev *dev;

	assert_int_equal(virtio_console__create(&dev, &o), 0);
	virtio_dev__set_mem(dev, &gm);
	return dev;
}

int setup(void **state)
{
	(void)state;
	hv.mem = calloc(1, HV_SIZE);
	hv.bad = hv.reads = hv.writes = 0;
	hv.tear_at = NULL;
	hv.tear_left = 0;
	hv.on_write = NULL;
	mem_calls = 0;
	gm = (struct guest_mem){ .slots = slots,
				 .nslots = ARRAY_SIZE(slots),
				 .read_hva = fake_read_hva,
				 .write_hva = fake_write_hva,
				 .calls = &mem_calls };
	mem_vectored(true);
	irqs = rx_ready_calls = ctl_calls = 0;
	out_len = out_max_per_call = 0;
	blk_fd = -1;
	return hv.mem ? 0 : -1;
}

int teardown(void **state)
{
	/* first: an I/O thread may still use the file and the guest's RAM */
	virtio_dev__free(*state);
	*state = NULL;
	free(hv.mem);
	if (blk_fd >= 0)
		close(blk_fd);
	return 0;
}

/* ---- The in-test driver ---- */

struct tdrv drv;

uint32_t rd(uint64_t off)
{
	uint32_t v;

	assert_int_equal(virtio_mmio__read(drv.dev, off, &v, 4), 0);
	return le32toh(v);
}

void wr(uint64_t off, uint32_t v)
{
	v = htole32(v);
	assert_int_equal(virtio_mmio__write(drv.dev, off, &v, 4), 0);
}

/* Rings of queue q in slot 0, at page-aligned places unless overridden. */
void drv_queue(unsigned int q, uint16_t num, uint64_t desc, uint64_t avail, uint64_t used)
{
	struct tqueue *t = &drv.q[q];

	*t = (struct tqueue){ .num = num, .desc = desc, .avail = avail, .used = used };
	if (used + 6 + 8ULL * num <= HOLE)
		memset(gpa_ptr(used), 0, 6 + 8ULL * num);
	if (avail + 6 + 2ULL * num <= HOLE)
		memset(gpa_ptr(avail), 0, 6 + 2ULL * num);
	wr(VIRTIO_MMIO_QUEUE_SEL, q);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(rd(VIRTIO_MMIO_QUEUE_NUM_MAX) >= num);
	wr(VIRTIO_MMIO_QUEUE_NUM, num);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	wr(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32));
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	wr(VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32));
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
}

uint64_t ring_base(unsigned int q)
{
	return 0x10000 + 0x10000ULL * q;
}

/* Probe, reset, negotiate want & offered (or all of want); false if FEATURES_OK was refused. */
bool drv_negotiate(struct virtio_dev *dev, uint64_t want, bool accept_all)
{
	uint64_t offered, f;
	uint32_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

	drv.dev = dev;
	assert_int_equal(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(VIRTIO_MMIO_VERSION), 2);
	wr(VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_STATUS, s);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	offered = (uint64_t)rd(VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	offered |= rd(VIRTIO_MMIO_DEVICE_FEATURES);
	f = accept_all ? want : want & offered;
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	wr(VIRTIO_MMIO_STATUS, s | VIRTIO_CONFIG_S_FEATURES_OK);
	return rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK;
}

void drv_ok(void)
{
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
}

/* The whole probe with nq queues of num entries at ring_base(). */
bool drv_start_custom(struct virtio_dev *dev, uint64_t want, bool accept_all, unsigned int nq,
		      uint16_t num)
{
	if (!drv_negotiate(dev, want, accept_all))
		return false;
	for (unsigned int q = 0; q < nq; q++)
		drv_queue(q, num, ring_base(q), ring_base(q) + 0x1000, ring_base(q) + 0x2000);
	drv_ok();
	return true;
}

/* Without EVENT_IDX (test_virtio_queues.c tests it): every notification interrupts. */
void drv_start(struct virtio_dev *dev, unsigned int nq)
{
	assert_true(drv_start_custom(dev, ~(1ULL << VIRTIO_RING_F_EVENT_IDX), false, nq, 16));
	assert_true(virtio_dev__live(dev));
}

void drv_desc(unsigned int q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
	      uint16_t next)
{
	struct vring_desc d = { .addr = htole64(addr),
				.len = htole32(len),
				.flags = htole16(flags),
				.next = htole16(next) };

	memcpy(gpa_ptr(drv.q[q].desc + 16ULL * i), &d, sizeof(d));
}

void drv_avail(unsigned int q, uint16_t head)
{
	struct tqueue *t = &drv.q[q];

	put16(t->avail + 4 + 2ULL * (t->avail_idx % t->num), head);
	put16(t->avail + 2, ++t->avail_idx);
}

/* Post a chain in consecutive descriptors (mod num); no notification. */
uint16_t drv_post(unsigned int q, const struct tbuf *b, unsigned int n)
{
	struct tqueue *t = &drv.q[q];
	uint16_t head = t->next_desc;

	for (unsigned int k = 0; k < n; k++) {
		uint16_t i = (uint16_t)((head + k) % t->num);

		drv_desc(q, i, b[k].gpa, b[k].len,
			 (b[k].w ? VRING_DESC_F_WRITE : 0) | (k + 1 < n ? VRING_DESC_F_NEXT : 0),
			 (uint16_t)((i + 1) % t->num));
	}
	t->next_desc = (uint16_t)((head + n) % t->num);
	drv_avail(q, head);
	return head;
}

bool drv_used(unsigned int q, uint16_t *id, uint32_t *len)
{
	struct tqueue *t = &drv.q[q];
	uint64_t e = t->used + 4 + 8ULL * (t->used_seen % t->num);

	if (get16(t->used + 2) == t->used_seen)
		return false;
	*id = (uint16_t)get32(e);
	*len = get32(e + 4);
	t->used_seen++;
	return true;
}

/* One blk request: header, optional data, status; returns the status byte. */
uint8_t blk_req(uint32_t type, uint64_t sector, const struct tbuf *data, unsigned int n,
		uint32_t *used_len)
{
	struct virtio_blk_outhdr h = { .type = htole32(type), .sector = htole64(sector) };
	struct tbuf b[8] = { { HDR, 16, false } };
	uint16_t head, id;
	uint32_t len;

	assert_true(n + 2 <= ARRAY_SIZE(b));
	memcpy(gpa_ptr(HDR), &h, sizeof(h));
	*gpa_ptr(STATUS_GPA) = 0xee;
	if (n)
		memcpy(b + 1, data, n * sizeof(*data));
	b[n + 1] = (struct tbuf){ STATUS_GPA, 1, true };
	head = drv_post(0, b, n + 2);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_true(drv_used(0, &id, &len));
	assert_int_equal(id, head);
	if (used_len)
		*used_len = len;
	return *gpa_ptr(STATUS_GPA);
}

void fill(uint64_t gpa, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		gpa_ptr(gpa)[i] = (uint8_t)(seed + i * 7 + (i >> 9));
}

/* ---- Transport ---- */

static void test_registers(void **state)
{
	struct virtio_dev *dev = *state = blk_new(false);
	uint64_t cap = 0, f;
	uint32_t v = 0xdeadbeef;
	uint16_t seg = 0;
	uint8_t b = 0xff, z[16];

	drv.dev = dev;
	assert_int_equal(rd(VIRTIO_MMIO_DEVICE_ID), 2);
	assert_int_equal(rd(VIRTIO_MMIO_VENDOR_ID), 0);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f = (uint64_t)rd(VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f |= rd(VIRTIO_MMIO_DEVICE_FEATURES);
	assert_true(f & 1ULL << VIRTIO_F_VERSION_1);
	assert_true(f & 1ULL << VIRTIO_BLK_F_FLUSH);
	assert_true(f & 1ULL << VIRTIO_BLK_F_TOPOLOGY);
	assert_false(f & 1ULL << VIRTIO_BLK_F_RO);
	assert_true(f & 1ULL << VIRTIO_RING_F_EVENT_IDX);
	assert_false(f & (1ULL << VIRTIO_RING_F_INDIRECT_DESC | 1ULL << 35 /* IN_ORDER */));
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(rd(VIRTIO_MMIO_DEVICE_FEATURES), 0);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
	wr(VIRTIO_MMIO_QUEUE_SEL, 1); /* blk has one queue */
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);

	/* Config space: 1/2/4/8 bytes inside, nothing outside. */
	assert_int_equal(virtio_mmio__read(dev, 0x100, &cap, 8), 0);
	assert_int_equal(le64toh(cap), FILE_SECTORS + CTL_SECTORS);
	assert_int_equal(virtio_mmio__read(dev, 0x100, &v, 4), 0);
	assert_int_equal(le32toh(v), FILE_SECTORS + CTL_SECTORS);
	assert_int_equal(virtio_mmio__read(dev, 0x101, &b, 1), 0);
	assert_int_equal(b, (FILE_SECTORS + CTL_SECTORS) >> 8);
	assert_int_equal(virtio_mmio__read(dev, 0x10c, &seg, 2), 0);
	assert_int_equal(le16toh(seg), 254);
	/* the topology's optimal I/O size (sectors): the guest reads ahead twice that */
	assert_int_equal(virtio_mmio__read(dev, 0x11c, &v, 4), 0);
	assert_int_equal(le32toh(v), 2048);
	memset(z, 0xff, sizeof(z));
	assert_int_equal(virtio_mmio__read(dev, 0x11c, z, 8), -EINVAL);
	assert_int_equal(virtio_mmio__read(dev, 0x100, z, 3), -EINVAL);
	assert_int_equal(virtio_mmio__read(dev, 0x120, z, 1), -EINVAL);
	assert_int_equal(virtio_mmio__read(dev, 0xfff, z, 1), -EINVAL);
	assert_int_equal(virtio_mmio__read(dev, 0x1000, z, 4), -EINVAL);
	for (int i = 0; i < 8; i++)
		assert_int_equal(z[i], 0);
	assert_int_equal(virtio_mmio__write(dev, 0x100, z, 8), 0); /* ignored */
	assert_int_equal(virtio_mmio__read(dev, 0x100, &cap, 8), 0);
	assert_int_equal(le64toh(cap), FILE_SECTORS + CTL_SECTORS);

	/* Registers: aligned 32-bit only; bad accesses read 0 and change nothing. */
	memset(z, 0xff, sizeof(z));
	assert_int_equal(virtio_mmio__read(dev, VIRTIO_MMIO_MAGIC_VALUE, z, 2), -EINVAL);
	assert_int_equal(virtio_mmio__read(dev, VIRTIO_MMIO_MAGIC_VALUE, z + 2, 8), -EINVAL);
	assert_int_equal(virtio_mmio__read(dev, VIRTIO_MMIO_MAGIC_VALUE + 1, z, 4), -EINVAL);
	for (int i = 0; i < 10; i++)
		assert_int_equal(z[i], 0);
	b = VIRTIO_CONFIG_S_ACKNOWLEDGE;
	assert_int_equal(virtio_mmio__write(dev, VIRTIO_MMIO_STATUS, &b, 1), -EINVAL);
	assert_int_equal(virtio_mmio__write(dev, VIRTIO_MMIO_STATUS, &cap, 8), -EINVAL);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
	wr(VIRTIO_MMIO_MAGIC_VALUE, 0);
	assert_int_equal(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_NOTIFY), 0); /* write-only */
}

static void test_features_refused(void **state)
{
	struct virtio_dev *dev = *state = blk_new(false);

	/* No VERSION_1: a legacy driver. */
	assert_false(drv_start_custom(dev, 1ULL << VIRTIO_BLK_F_FLUSH, false, 1, 16));
	assert_false(virtio_dev__status(dev) & VIRTIO_CONFIG_S_FEATURES_OK);
	/* A feature that was not offered. */
	assert_false(drv_start_custom(
	    dev, 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_RING_F_INDIRECT_DESC, true, 1, 16));
	/* VERSION_1 alone is fine, and features are frozen after FEATURES_OK. */
	assert_true(drv_start_custom(dev, 1ULL << VIRTIO_F_VERSION_1, false, 1, 16));
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 0);
	assert_true(virtio_dev__live(dev));
	assert_int_equal(blk_req(VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
}

static void test_reset(void **state)
{
	struct virtio_dev *dev = *state = blk_new(false);
	struct tbuf d = { DATA, 512, true };
	uint16_t id;
	uint32_t len;

	drv_start(dev, 1);
	assert_int_equal(blk_req(VIRTIO_BLK_T_IN, 0, &d, 1, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	wr(VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	/* Driver features are gone: FEATURES_OK without writing them fails. */
	wr(VIRTIO_MMIO_STATUS,
	   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	assert_false(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK);
	/* A stale notification after reset touches nothing. */
	drv_post(0, &d, 1);
	assert_int_equal(virtio_mmio__queue_notify(dev, 0), 0);
	assert_false(drv_used(0, &id, &len));
	assert_int_equal(virtio_mmio__queue_notify(dev, 1), -EINVAL);
}

/* Buffers posted before DRIVER_OK wait for it; notifications before it are ignored. */
static void test_deferred_until_driver_ok(void **state)
{
	struct virtio_dev *dev = *state = blk_new(false);
	struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_GET_ID) };
	struct tbuf b[] = { { HDR, 16, false }, { DATA, 20, true }, { STATUS_GPA, 1, true } };
	uint16_t id;
	uint32_t len;

	assert_true(drv_negotiate(dev, ~0ULL, false));
	drv_queue(0, 8, ring_base(0), ring_base(0) + 0x1000, ring_base(0) + 0x2000);
	memcpy(gpa_ptr(HDR), &h, sizeof(h));
	drv_post(0, b, 3);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_false(drv_used(0, &id, &len));
	assert_int_equal(irqs, 0);
	drv_ok();
	assert_true(drv_used(0, &id, &len));
	assert_int_equal(len, 6 + 14 + 1);
	assert_memory_equal(gpa_ptr(DATA), "vmsh0", 6);
	assert_int_equal(irqs, 1);
}

/* ---- virtio-blk ---- */

static void test_blk_roundtrip(void **state)
{
	struct virtio_dev *dev = *state = blk_new(false);
	struct tbuf out[] = { { DATA, 1000, false }, { DATA + 0x10000, 536, false } };
	struct tbuf in[] = { { DATA + 0x20000, 512, true },
			     { DATA + 0x30000, 24, true },
			     { DATA + 0x40000, 1000, true } };
	uint8_t file[1536], id[20] = "vmsh0";
	uint32_t len;

	drv_start(dev, 1);
	fill(DATA, 1000, 1);
	fill(DATA + 0x10000, 536, 2);
	assert_int_equal(blk_req(VIRTIO_BLK_T_OUT, 5, out, 2, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	assert_int_equal(irqs, 1);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(pread(blk_fd, file, sizeof(file), 5 * 512), sizeof(file));
	assert_memory_equal(file, gpa_ptr(DATA), 1000);
	assert_memory_equal(file + 1000, gpa_ptr(DATA + 0x10000), 536);

	assert_int_equal(blk_req(VIRTIO_BLK_T_IN, 5, in, 3, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1537);
	assert_memory_equal(gpa_ptr(DATA + 0x20000), file, 512);
	assert_memory_equal(gpa_ptr(DATA + 0x30000), file + 512, 24);
	assert_memory_equal(gpa_ptr(DATA + 0x40000), file + 536, 1000);
	/* Sector 0 still has its original pattern. */
	assert_int_equal(blk_req(VIRTIO_BLK_T_IN, 0, in, 1, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(gpa_ptr(DATA + 0x20000)[3], 3);

	assert_int_equal(blk_req(VIRTIO_BLK_T_FLUSH, 0, NULL, 0, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	memset(gpa_ptr(DATA), 0xaa, 20);
	in[0] = (struct tbuf){ DATA, 20, true };
	assert_int_equal(blk_req(VIRTIO_BLK_T_GET_ID, 0, in, 1, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 21);
	assert_memory_equal(gpa_ptr(DATA), id, 20);
	assert_int_equal(irqs, 5);
	assert_int_equal(hv.bad, 0);
}

static void test_blk_errors(void **state)
{
	struct virtio_dev *dev = *state = blk_new(false);
	struct tbuf two = { DATA, 1024, true }, odd = { DATA, 100, true };
	uint32_t len;

	drv_start(dev, 1);
	assert_int_equal(blk_req(VIRTIO_BLK_T_IN, FILE_SECTORS + CTL_SECTORS - 1, &two, 1, &len),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(len, 1);
	assert_int_equal(blk_req(VIRTIO_BLK_T_IN, UINT64_MAX / 256, &two, 1, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_req(VIRTIO_BLK_T_IN, UINT64_MAX, &two, 1, NULL), VIRTIO_BLK_S_IOERR);
	two.w = false;
	assert_int_equal(blk_req(VIRTIO_BLK_T_OUT, FILE_SECTORS + CTL_SECTORS, &two, 1, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_req(VIRTIO_BLK_T_IN, 0, &odd, 1, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_req(VIRTIO_BLK_T_DISCARD, 0, &two, 1, NULL), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(blk_req(0x12345, 0, NULL, 0, NULL), VIRTIO_BLK_S_UNSUPP);
	/* Request errors leave the device working. */
	assert_true(virtio_dev__live(dev));
	two.w = true;
	assert_int_equal(blk_req(VIRTIO_BLK_T_IN, FILE_SECTORS + CTL_SECTORS - 2, &two, 1, NULL),
			 VIRTIO_BLK_S_OK);
}

static void test_blk_read_only(void **state)
{
	struct virtio_dev *dev = *state = blk_new(true);
	struct tbuf d = { DATA, 512, false };
	struct virtio_blk_opts o = { .fd = temp_file(512, O_RDONLY) };
	struct virtio_dev *rw;
	uint8_t before[512], after[512];

	drv_start(dev, 1);
	/* no F_RO with a control area: the guest must still write that */
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_false(rd(VIRTIO_MMIO_DEVICE_FEATURES) & 1U << VIRTIO_BLK_F_RO);
	assert_int_equal(pread(blk_fd, before, 512, 512), 512);
	fill(DATA, 512, 9);
	assert_int_equal(blk_req(VIRTIO_BLK_T_OUT, 1, &d, 1, NULL), VIRTIO_BLK_S_IOERR);
	/* a write that would reach into the file's last sector too */
	assert_int_equal(blk_req(VIRTIO_BLK_T_OUT, FILE_SECTORS - 1, &d, 1, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(pread(blk_fd, after, 512, 512), 512);
	assert_memory_equal(before, after, 512);
	d.w = true;
	assert_int_equal(blk_req(VIRTIO_BLK_T_IN, 1, &d, 1, NULL), VIRTIO_BLK_S_OK);
	assert_memory_equal(gpa_ptr(DATA), before, 512);
	d.w = false;
	assert_int_equal(blk_req(VIRTIO_BLK_T_OUT, FILE_SECTORS, &d, 1, NULL), VIRTIO_BLK_S_OK);
	/* An O_RDONLY fd for a writable disk is refused at creation. */
	assert_int_equal(virtio_blk__create(&rw, &o), -EINVAL);
	o.read_only = true;
	assert_int_equal(virtio_blk__create(&rw, &o), 0);
	/* without a control area, F_RO tells the guest */
	assert_int_equal(
	    virtio_mmio__write(rw, VIRTIO_MMIO_DEVICE_FEATURES_SEL, &(uint32_t){ 0 }, 4), 0);
	uint32_t features = 0;
	assert_int_equal(virtio_mmio__read(rw, VIRTIO_MMIO_DEVICE_FEATURES, &features, 4), 0);
	assert_true(features & 1U << VIRTIO_BLK_F_RO);
	virtio_dev__free(rw);
	close(o.fd);
}

static void test_blk_create_errors(void **state)
{
	struct virtio_blk_opts o = { .fd = temp_file(1000, O_RDWR) };
	struct virtio_dev *dev = NULL;
	int p[2];

	(void)state;
	assert_int_equal(virtio_blk__create(&dev, &o), -EINVAL); /* size % 512 */
	assert_int_equal(ftruncate(o.fd, 1024), 0);
	o.serial = "123456789012345678901";
	assert_int_equal(virtio_blk__create(&dev, &o), -EINVAL);
	o.serial = "12345678901234567890";
	o.ctl_sectors = VIRTIO_BLK_MAX_CTL_SECTORS + 1;
	assert_int_equal(virtio_blk__create(&dev, &o), -EINVAL);
	o.ctl_sectors = 0;
	assert_int_equal(virtio_blk__create(&dev, &o), 0);
	assert_int_equal(virtio_blk__capacity(dev), 2);
	virtio_dev__free(dev);
	close(o.fd);
	assert_int_equal(pipe(p), 0);
	o.fd = p[0];
	assert_int_equal(virtio_blk__create(&dev, &o), -EINVAL);
	close(p[0]);
	close(p[1]);
}

static void test_blk_ctl_area(void **state)
{
	struct virtio_dev *dev = *state = blk_new(false);
	struct tbuf d = { DATA, 1024, false };
	uint8_t file[512], host[16];
	struct stat st;

	drv_start(dev, 1);
	assert_int_equal(virtio_blk__capacity(dev), FILE_SECTORS + CTL_SECTORS);
	/* A write across the end of the file: one sector each side. */
	fill(DATA, 1024, 5);
	assert_int_equal(blk_req(VIRTIO_BLK_T_OUT, FILE_SECTORS - 1, &d, 1, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(ctl_calls, 1);
	assert_int_equal(ctl_off, 0);
	assert_int_equal(ctl_len, 512);
	assert_memory_equal(ctl_data, gpa_ptr(DATA + 512), 512);
	assert_int_equal(fstat(blk_fd, &st), 0);
	assert_int_equal(st.st_size, FILE_SECTORS * 512);
	assert_int_equal(pread(blk_fd, file, 512, (FILE_SECTORS - 1) * 512), 512);
	assert_memory_equal(file, gpa_ptr(DATA), 512);
	assert_int_equal(virtio_blk__ctl_read(dev, 0, host, sizeof(host)), 0);
	assert_memory_equal(host, gpa_ptr(DATA + 512), sizeof(host));

	/* Host writes show up in guest reads; they call no callback. */
	assert_int_equal(virtio_blk__ctl_write(dev, 3 * 512 + 4, "hello", 5), 0);
	d = (struct tbuf){ DATA + 0x1000, 512, true };
	assert_int_equal(blk_req(VIRTIO_BLK_T_IN, FILE_SECTORS + 3, &d, 1, NULL), VIRTIO_BLK_S_OK);
	assert_memory_equal(gpa_ptr(DATA + 0x1004), "hello", 5);
	assert_int_equal(ctl_calls, 1);
	/* The last control sector is writable; the offset is relative to the area. */
	d.w = false;
	assert_int_equal(blk_req(VIRTIO_BLK_T_OUT, FILE_SECTORS + CTL_SECTORS - 1, &d, 1, NULL),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(ctl_calls, 2);
	assert_int_equal(ctl_off, (CTL_SECTORS - 1) * 512);
	assert_int_equal(ctl_len, 512);
	assert_int_equal(virtio_blk__ctl_read(dev, CTL_SECTORS * 512 - 1, host, 2), -EINVAL);
	assert_int_equal(virtio_blk__ctl_write(dev, CTL_SECTORS * 512, host, 1), -EINVAL);
}

/* More than the 64 KiB bounce buffer in one request, both ways. */
static void test_blk_big_transfer(void **state)
{
	struct virtio_dev *dev = *state = blk_new(false);
	const size_t all = (FILE_SECTORS + CTL_SECTORS) * 512;
	struct tbuf d = { DATA, (uint32_t)all, true };
	uint8_t *file = malloc(FILE_SECTORS * 512);

	assert_non_null(file);
	drv_start(dev, 1);
	assert_int_equal(virtio_blk__ctl_write(dev, 0, "ctl", 3), 0);
	assert_int_equal(blk_req(VIRTIO_BLK_T_IN, 0, &d, 1, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(pread(blk_fd, file, FILE_SECTORS * 512, 0), FILE_SECTORS * 512);
	assert_memory_equal(gpa_ptr(DATA), file, FILE_SECTORS * 512);
	assert_memory_equal(gpa_ptr(DATA + FILE_SECTORS * 512), "ctl", 3);

	fill(DATA, 200 * 1024, 77);
	d = (struct tbuf){ DATA, 200 * 1024, false };
	assert_int_equal(blk_req(VIRTIO_BLK_T_OUT, 100, &d, 1, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(pread(blk_fd, file, 200 * 1024, 100 * 512), 200 * 1024);
	assert_memory_equal(gpa_ptr(DATA), file, 200 * 1024);
	free(file);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	static const struct CMUnitTest tests[] = {
		TEST(test_registers),	  TEST(test_features_refused),
		TEST(test_reset),	  TEST(test_deferred_until_driver_ok),
		TEST(test_blk_roundtrip), TEST(test_blk_errors),
		TEST(test_blk_read_only), TEST(test_blk_create_errors),
		TEST(test_blk_ctl_area),  TEST(test_blk_big_transfer),
	};
	int failed = cmocka_run_group_tests_name("virtio transport and blk", tests, NULL, NULL);

	failed += _cmocka_run_group_tests("virtio console and queues", virtio_queue_tests,
					  virtio_queue_ntests, NULL, NULL);
	failed += _cmocka_run_group_tests("virtio guest memory calls", virtio_calls_tests,
					  virtio_calls_ntests, NULL, NULL);
	return failed + _cmocka_run_group_tests("virtio-blk I/O threads", virtio_pool_tests,
						virtio_pool_ntests, NULL, NULL);
}
