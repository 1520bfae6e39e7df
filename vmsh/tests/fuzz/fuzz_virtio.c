// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for vmsh's virtio devices: the virtio-mmio transport,
 * split virtqueues and the virtio-blk and virtio-console request parsing,
 * driven by a hostile guest (virtio.h says everything in guest memory is
 * untrusted; this checks it).
 *
 * One input is one device's life: the first bytes pick the device and
 * the memory set-up, the rest is a program of operations that a guest (or
 * vmsh's host side) can perform: MMIO register reads and writes of any
 * offset and size, raw writes of guest RAM (rings, descriptors, indices,
 * buffers), queue notifications, console input, and two macros that do
 * what a correct driver would (initialise the device; post a descriptor
 * chain) so that the fuzzer reaches request parsing quickly and then
 * mutates from there.
 *
 * Guest RAM is fake: a buffer behind four memslots (two adjacent in
 * guest-physical space but not in the hypervisor's, a read-only one, an
 * SMM one that must never be touched) with holes between them. Every
 * hypervisor access the device code makes is checked to fall inside the
 * slot it came from; AddressSanitizer catches every other stray access in
 * vmsh's own memory, UBSan every undefined operation. Some inputs use the
 * real process_vm_readv/writev callbacks instead, with this process as the
 * hypervisor.
 *
 * Build and run: make fuzz (60 s), or make fuzz FUZZ_SECONDS=3600.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "guest.h"
#include "memslot.h"
#include "util.h"
#include "virtio.h"

#define HV_BASE 0x7f0000000000ULL /* the fake hypervisor's RAM, unless processes */
#define HV_SIZE 0x1b000ULL
#define SMM_HVA (HV_BASE + 0x100000) /* outside the buffer: must never be used */
#define RAM_TOP 0x40000ULL	     /* above every slot */
#define FILE_BYTES (64 * 512)
#define CTL_SECTORS 4

/*
 * [0, 64K) and [64K, 80K) are adjacent guest-physical slots whose
 * hypervisor ranges are not adjacent, [80K, 128K) is a hole, [128K, 136K)
 * read-only, and an SMM slot overlaps [192K, 196K).
 */
static const struct memslot fuzz_slots_fake[] = {
	{ .id = 0, .gpa = 0x00000, .size = 0x10000, .hva = HV_BASE + 0x8000 },
	{ .id = 1, .gpa = 0x10000, .size = 0x4000, .hva = HV_BASE + 0x0000 },
	{ .id = 2,
	  .flags = KVM_MEM_READONLY,
	  .gpa = 0x20000,
	  .size = 0x2000,
	  .hva = HV_BASE + 0x18000 },
	{ .id = 1 << 16 | 3, .gpa = 0x30000, .size = 0x1000, .hva = SMM_HVA },
};

static uint8_t *hv_mem; /* HV_SIZE bytes */
/*
 * This input's slots: fuzz_slots_fake, or with process_vm_readv/writev
 * (guest_mem.c's own callbacks, this process as the hypervisor) the same
 * with hv_mem's real address as the base.
 */
static struct memslot fuzz_slots[ARRAY_SIZE(fuzz_slots_fake)];
static uint64_t hv_base;
static pid_t self_pid;
static int blk_fd = -1;

/* ---- The input, consumed from the front ---- */

struct in {
	const uint8_t *p;
	size_t left;
};

static uint64_t in__bytes(struct in *in, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++) {
		v |= (uint64_t)(in->left ? *in->p : 0) << (8 * i);
		if (in->left) {
			in->p++;
			in->left--;
		}
	}
	return v;
}

static uint8_t in__u8(struct in *in)
{
	return (uint8_t)in__bytes(in, 1);
}

static uint16_t in__u16(struct in *in)
{
	return (uint16_t)in__bytes(in, 2);
}

static uint32_t in__u32(struct in *in)
{
	return (uint32_t)in__bytes(in, 4);
}

/* ---- Fake hypervisor memory ---- */

/* Every hva the device code uses must be inside a slot's range it came from. */
static uint8_t *fuzz__hva(uint64_t hva, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(fuzz_slots); i++) {
		const struct memslot *s = &fuzz_slots[i];

		if (s->id >> 16)
			continue;
		if (hva >= s->hva && hva - s->hva < s->size && len <= s->size - (hva - s->hva))
			return hv_mem + (hva - hv_base);
	}
	if (!len)
		return hv_mem;
	fprintf(stderr, "fuzz: access to hva 0x%llx (%zu bytes) outside every slot\n",
		(unsigned long long)hva, len);
	abort();
}

static int fuzz__read(void *ctx, uint64_t hva, void *buf, size_t len)
{
	(void)ctx;
	memcpy(buf, fuzz__hva(hva, len), len);
	return 0;
}

static int fuzz__write(void *ctx, uint64_t hva, const void *buf, size_t len)
{
	(void)ctx;
	memcpy(fuzz__hva(hva, len), buf, len);
	return 0;
}

static int fuzz__readv(void *ctx, const struct guest_hva_seg *segs, size_t n, void *buf)
{
	uint8_t *b = buf;

	(void)ctx;
	if (n > GUEST_MAX_SEGS)
		abort();
	for (size_t k = 0; k < n; b += segs[k].len, k++)
		memcpy(b, fuzz__hva(segs[k].hva, segs[k].len), segs[k].len);
	return 0;
}

static int fuzz__writev(void *ctx, const struct guest_hva_seg *segs, size_t n, const void *buf)
{
	const uint8_t *b = buf;

	(void)ctx;
	if (n > GUEST_MAX_SEGS)
		abort();
	for (size_t k = 0; k < n; b += segs[k].len, k++)
		memcpy(fuzz__hva(segs[k].hva, segs[k].len), b, segs[k].len);
	return 0;
}

static void *fuzz__ptr(void *ctx, uint64_t hva, size_t len)
{
	(void)ctx;
	return fuzz__hva(hva, len);
}

/* Guest-physical to the fake RAM (the harness's own writes, as the guest's). */
static uint8_t *fuzz__gpa(uint64_t gpa, size_t len)
{
	for (size_t i = 0; i < 3; i++) {
		const struct memslot *s = &fuzz_slots[i];

		if (gpa >= s->gpa && gpa - s->gpa < s->size && len <= s->size - (gpa - s->gpa))
			return hv_mem + (s->hva - hv_base) + (gpa - s->gpa);
	}
	return NULL;
}

static void fuzz__put(uint64_t gpa, const void *v, size_t len)
{
	uint8_t *p = fuzz__gpa(gpa, len);

	if (p)
		memcpy(p, v, len);
}

static void fuzz__put16(uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	fuzz__put(gpa, &v, 2);
}

/* ---- Device callbacks ---- */

static unsigned int irqs;
static unsigned int out_mode;
static struct virtio_dev *cur_dev;

static void fuzz__irq(void *ctx, struct virtio_dev *dev)
{
	(void)ctx;
	(void)dev;
	irqs++;
}

static volatile uint8_t out_sink;

static ssize_t fuzz__output(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	/* every byte handed out must be readable */
	for (size_t i = 0; i < len; i++)
		out_sink ^= ((const uint8_t *)buf)[i];
	switch (out_mode++ % 4) {
	case 0:
		return (ssize_t)len;
	case 1:
		return len > 3 ? 3 : (ssize_t)len;
	case 2:
		return 0;
	default:
		return -EIO;
	}
}

static void fuzz__rx_ready(void *ctx)
{
	(void)ctx;
}

static void fuzz__ctl_written(void *ctx, uint64_t off, const void *data, size_t len)
{
	uint8_t copy[CTL_SECTORS * 512];

	(void)ctx;
	if (off > sizeof(copy) || len > sizeof(copy) - off ||
	    virtio_blk__ctl_read(cur_dev, off, copy, len) || memcmp(copy, data, len))
		abort();
}

/* ---- The program ---- */

struct fuzz_q {
	uint16_t num, avail_idx;
	uint64_t desc, avail, used;
};

static const uint32_t regs[] = {
	VIRTIO_MMIO_MAGIC_VALUE,       VIRTIO_MMIO_VERSION,
	VIRTIO_MMIO_DEVICE_ID,	       VIRTIO_MMIO_VENDOR_ID,
	VIRTIO_MMIO_DEVICE_FEATURES,   VIRTIO_MMIO_DEVICE_FEATURES_SEL,
	VIRTIO_MMIO_DRIVER_FEATURES,   VIRTIO_MMIO_DRIVER_FEATURES_SEL,
	VIRTIO_MMIO_QUEUE_SEL,	       VIRTIO_MMIO_QUEUE_NUM_MAX,
	VIRTIO_MMIO_QUEUE_NUM,	       VIRTIO_MMIO_QUEUE_READY,
	VIRTIO_MMIO_QUEUE_NOTIFY,      VIRTIO_MMIO_INTERRUPT_STATUS,
	VIRTIO_MMIO_INTERRUPT_ACK,     VIRTIO_MMIO_STATUS,
	VIRTIO_MMIO_QUEUE_DESC_LOW,    VIRTIO_MMIO_QUEUE_DESC_HIGH,
	VIRTIO_MMIO_QUEUE_AVAIL_LOW,   VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
	VIRTIO_MMIO_QUEUE_USED_LOW,    VIRTIO_MMIO_QUEUE_USED_HIGH,
	VIRTIO_MMIO_CONFIG_GENERATION, VIRTIO_MMIO_CONFIG,
	VIRTIO_MMIO_CONFIG + 4,	       VIRTIO_MMIO_CONFIG + 8,
	VIRTIO_MMIO_CONFIG + 12,
};

static void fuzz__wreg(struct virtio_dev *dev, uint32_t off, uint32_t val)
{
	uint32_t v = htole32(val);

	virtio_mmio__write(dev, off, &v, 4);
}

/* A guest address: mostly a useful one, sometimes anything. */
static uint64_t fuzz__addr(struct in *in)
{
	uint8_t how = in__u8(in);

	switch (how % 8) {
	case 0:
		return in__bytes(in, 8);
	case 1:
		return in__u32(in) % RAM_TOP;
	default:
		return (uint64_t)(how / 8) * 0x800 + (in__u8(in) & 0xf0); /* in [0, 64K) mostly */
	}
}

/* What a correct driver does up to DRIVER_OK, with sizes and rings from the input. */
static void fuzz__init(struct virtio_dev *dev, struct in *in, struct fuzz_q *qs)
{
	uint8_t flags = in__u8(in);
	uint32_t lo, hi;

	fuzz__wreg(dev, VIRTIO_MMIO_STATUS, 0);
	fuzz__wreg(dev, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	fuzz__wreg(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	virtio_mmio__read(dev, VIRTIO_MMIO_DEVICE_FEATURES, &lo, 4);
	fuzz__wreg(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	virtio_mmio__read(dev, VIRTIO_MMIO_DEVICE_FEATURES, &hi, 4);
	fuzz__wreg(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	fuzz__wreg(dev, VIRTIO_MMIO_DRIVER_FEATURES, flags & 1 ? in__u32(in) : le32toh(lo));
	fuzz__wreg(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	fuzz__wreg(dev, VIRTIO_MMIO_DRIVER_FEATURES, le32toh(hi));
	fuzz__wreg(dev, VIRTIO_MMIO_STATUS,
		   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		       VIRTIO_CONFIG_S_FEATURES_OK);
	for (unsigned int q = 0; q < VIRTIO_DEV_MAX_QUEUES; q++) {
		struct fuzz_q *fq = &qs[q];
		uint8_t sz = in__u8(in);

		fq->num = sz & 0x80 ? in__u16(in) : (uint16_t)(1u << (sz % 9));
		fq->desc = fuzz__addr(in);
		fq->avail = fuzz__addr(in);
		fq->used = fuzz__addr(in);
		fq->avail_idx = 0;
		fuzz__wreg(dev, VIRTIO_MMIO_QUEUE_SEL, q);
		fuzz__wreg(dev, VIRTIO_MMIO_QUEUE_NUM, fq->num);
		fuzz__wreg(dev, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)fq->desc);
		fuzz__wreg(dev, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(fq->desc >> 32));
		fuzz__wreg(dev, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)fq->avail);
		fuzz__wreg(dev, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(fq->avail >> 32));
		fuzz__wreg(dev, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)fq->used);
		fuzz__wreg(dev, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(fq->used >> 32));
		fuzz__put16(fq->avail, 0);
		fuzz__put16(fq->avail + 2, 0);
		fuzz__wreg(dev, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	if (!(flags & 2))
		fuzz__wreg(dev, VIRTIO_MMIO_STATUS,
			   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			       VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

/*
 * Post a chain of n descriptors from head (next links from the input,
 * mostly sequential) whose buffers are where the input says, then make it
 * available and maybe notify.
 */
static void fuzz__post(struct virtio_dev *dev, struct in *in, struct fuzz_q *qs)
{
	uint8_t sel = in__u8(in);
	struct fuzz_q *fq = &qs[sel % VIRTIO_DEV_MAX_QUEUES];
	uint16_t num = fq->num ? fq->num : 1;
	uint16_t head = in__u8(in) % num, n = in__u8(in) % 8 + 1, i = head;

	for (uint16_t k = 0; k < n; k++) {
		uint8_t f = in__u8(in);
		struct vring_desc d;
		uint16_t next = f & 0x40 ? in__u16(in) : (uint16_t)((i + 1) % num);

		d.addr = htole64(fuzz__addr(in));
		d.len = htole32(f & 0x20 ? in__u32(in) : (uint32_t)in__u8(in) * 16 + (f & 0xf));
		d.flags = htole16((k + 1 < n ? VRING_DESC_F_NEXT : 0) |
				  (f & 0x80 ? VRING_DESC_F_WRITE : 0) |
				  (f & 0x10 && !(in__u8(in) & 7) ? VRING_DESC_F_INDIRECT : 0));
		d.next = htole16(next);
		fuzz__put(fq->desc + 16ULL * i, &d, sizeof(d));
		i = next;
	}
	fuzz__put16(fq->avail + 4 + 2ULL * (fq->avail_idx % num), head);
	fq->avail_idx++;
	fuzz__put16(fq->avail + 2, fq->avail_idx);
	if (sel & 0x80)
		virtio_mmio__queue_notify(dev, sel % VIRTIO_DEV_MAX_QUEUES);
}

static void fuzz__run(struct virtio_dev *dev, bool blk, struct in *in, struct guest_mem *gm)
{
	struct fuzz_q qs[VIRTIO_DEV_MAX_QUEUES] = { 0 };
	uint8_t page[VIRTIO_MMIO_WINDOW];

	for (unsigned int steps = 0; in->left && steps < 256; steps++) {
		uint8_t op = in__u8(in), data[8] = { 0 };
		uint64_t off;
		size_t len;

		switch (op % 12) {
		case 0: /* register write */
		case 1: /* register read */
			off = op & 0x80 ? in__u16(in) % VIRTIO_MMIO_WINDOW
					: regs[in__u8(in) % ARRAY_SIZE(regs)];
			len = op & 0x40 ? in__u8(in) % 9 : 4;
			if (op % 12 == 0) {
				uint64_t v = in__bytes(in, len);

				memcpy(data, &v, sizeof(v));
				virtio_mmio__write(dev, off, data, len);
			} else {
				virtio_mmio__read(dev, off, data, len);
			}
			break;
		case 2: { /* the guest writes its RAM */
			uint64_t gpa = fuzz__addr(in);
			uint8_t buf[64];

			len = in__u8(in) % sizeof(buf) + 1;
			for (size_t i = 0; i < len; i++)
				buf[i] = in__u8(in);
			fuzz__put(gpa, buf, len);
			break;
		}
		case 3:
			virtio_mmio__queue_notify(dev, in__u8(in) % 4);
			break;
		case 4:
			fuzz__init(dev, in, qs);
			break;
		case 5:
		case 6:
			fuzz__post(dev, in, qs);
			break;
		case 7:
			if (!blk) {
				uint8_t buf[300];

				len = in__u16(in) % sizeof(buf);
				memset(buf, op, len);
				virtio_console__input(dev, buf, len);
			} else {
				uint8_t buf[64];
				uint32_t o = in__u16(in);

				len = in__u8(in) % sizeof(buf);
				if (op & 0x80)
					virtio_blk__ctl_write(dev, o, buf, len);
				else
					virtio_blk__ctl_read(dev, o, buf, len);
			}
			break;
		case 8:
			if (!blk)
				virtio_console__resize(dev, in__u16(in), in__u16(in));
			virtio_console__can_input(dev);
			break;
		case 9: /* the memslots change (mapped or not) */
			gm->ptr_hva = op & 0x80 ? fuzz__ptr : NULL;
			/* guest_mem.c's process callbacks imply their vectored forms */
			if (gm->read_hva == fuzz__read) {
				gm->readv_hva = op & 0x40 ? fuzz__readv : NULL;
				gm->writev_hva = op & 0x40 ? fuzz__writev : NULL;
			}
			virtio_dev__set_mem(dev, gm);
			break;
		case 10:
			virtio_mmio__snapshot(dev, page, in__u8(in));
			break;
		case 11:
			fuzz__wreg(dev, VIRTIO_MMIO_INTERRUPT_ACK, in__u8(in) & 3);
			virtio_dev__status(dev);
			virtio_dev__error(dev);
			virtio_dev__interrupt_status(dev);
			break;
		}
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	hv_mem = calloc(1, HV_SIZE);
	blk_fd = memfd_create("fuzz-blk", MFD_CLOEXEC);
	if (!hv_mem || blk_fd < 0 || ftruncate(blk_fd, FILE_BYTES) < 0) {
		perror("fuzz: set-up");
		abort();
	}
	self_pid = getpid();
	if (getenv("FUZZ_VERBOSE"))
		vmsh_verbose = 2;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	uint8_t setup = in__u8(&in);
	bool process = setup & 128;
	struct guest_mem gm = {
		.slots = fuzz_slots,
		.nslots = ARRAY_SIZE(fuzz_slots),
		.read_hva = process ? guest__read_hva_process : fuzz__read,
		.write_hva = process ? guest__write_hva_process : fuzz__write,
		.ctx = &self_pid,
		.readv_hva = setup & 2 || process ? NULL : fuzz__readv,
		.writev_hva = setup & 2 || process ? NULL : fuzz__writev,
		.ptr_hva = setup & 4 ? fuzz__ptr : NULL,
	};
	struct virtio_host host = { .notify_irq = fuzz__irq };
	struct virtio_dev *dev = NULL;
	bool blk = setup & 1;
	size_t ram = in__u16(&in) % 2048;

	hv_base = process ? (uint64_t)(uintptr_t)hv_mem : HV_BASE;
	for (size_t i = 0; i < ARRAY_SIZE(fuzz_slots); i++) {
		fuzz_slots[i] = fuzz_slots_fake[i];
		fuzz_slots[i].hva = fuzz_slots_fake[i].hva - HV_BASE + hv_base;
	}
	memset(hv_mem, 0, HV_SIZE);
	/* the start of RAM from the input: rings at low addresses get contents */
	for (size_t i = 0; i < ram && in.left; i++)
		hv_mem[0x8000 + i] = in__u8(&in);
	out_mode = 0;
	if (blk) {
		struct virtio_blk_opts o = {
			.host = host,
			.fd = blk_fd,
			.read_only = setup & 8,
			.serial = setup & 16 ? "fuzz-serial-01234567" : NULL,
			.ctl_sectors = setup & 32 ? CTL_SECTORS : 0,
			.ctl_written = fuzz__ctl_written,
		};

		if (virtio_blk__create(&dev, &o))
			abort();
	} else {
		struct virtio_console_opts o = {
			.host = host,
			.cols = 80,
			.rows = 25,
			.output = setup & 8 ? NULL : fuzz__output,
			.rx_ready = fuzz__rx_ready,
		};

		if (virtio_console__create(&dev, &o))
			abort();
	}
	cur_dev = dev;
	if (!(setup & 64))
		virtio_dev__set_mem(dev, &gm);
	fuzz__run(dev, blk, &in, &gm);
	if (vmsh_verbose >= 2) /* FUZZ_VERBOSE: what an input did, for writing seeds */
		fprintf(stderr, "fuzz: %s status 0x%x (%s), used.idx %u %u, %u interrupts\n",
			virtio_dev__name(dev), virtio_dev__status(dev),
			virtio_dev__error(dev) ? virtio_dev__error(dev) : "no error",
			dev->vqs[0].used_idx, dev->vqs[1].used_idx, irqs);
	virtio_dev__free(dev);
	cur_dev = NULL;
	return 0;
}
