// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-mmio version 2 transport and split virtqueues (virtio 1.x, 4.2.2
 * and 2.7). The register file lives here; the device models only see
 * validated descriptor chains.
 *
 * The guest's driver is untrusted: every ring and buffer access goes
 * through guest__read_phys/write_phys or their vectored forms (which fail
 * outside RAM), every index is checked against the queue size, and chain
 * walks are bounded by it. The first violation moves the device to
 * NEEDS_RESET, after which no queue is touched until the driver resets it.
 *
 * Every guest memory access is a system call for a live hypervisor, so they
 * are batched, without changing what is checked or when a violation is
 * seen: a ring's new entries and its descriptor table come in one read
 * after avail.idx, used elements go out together before used.idx, and a
 * copy to or from a chain is one call whatever its number of buffers.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "util.h"
#include "virtio.h"

#define VIRTIO_MMIO_MAGIC 0x74726976 /* "virt" */
#define VIRTIO_MMIO_VERSION_MODERN 2
#define VIRTIO_VENDOR_ID 0

#define VIRTIO_DEV_MAX_FAIL_MSGS 8

void virtio_dev__init(struct virtio_dev *dev, const char *name, uint32_t device_id,
		      const struct virtio_dev_ops *ops, const struct virtio_host *host,
		      uint64_t device_features, unsigned int nqueues, uint8_t *config,
		      size_t config_len)
{
	dev->name = name;
	dev->device_id = device_id;
	dev->ops = ops;
	if (host)
		dev->host = *host;
	dev->device_features =
	    device_features | (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX);
	dev->nqueues = nqueues;
	dev->config = config;
	dev->config_len = config_len;
}

void virtio_dev__free(struct virtio_dev *dev)
{
	if (dev)
		dev->ops->free(dev);
}

void *virtio_dev__alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p; /* zeroed */
}

void virtio_dev__dealloc(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

void virtio_dev__set_mem(struct virtio_dev *dev, const struct guest_mem *mem)
{
	/* requests in flight use the old memory: done and used with it first */
	if (dev->has_mem)
		virtio_mmio__complete(dev, true);
	dev->mem = *mem;
	dev->has_mem = true;
}

uint32_t virtio_dev__status(const struct virtio_dev *dev)
{
	return dev->status;
}

bool virtio_dev__live(const struct virtio_dev *dev)
{
	return (dev->status & (VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_NEEDS_RESET)) ==
	       VIRTIO_CONFIG_S_DRIVER_OK;
}

const char *virtio_dev__error(const struct virtio_dev *dev)
{
	return dev->status & VIRTIO_CONFIG_S_NEEDS_RESET ? dev->error : NULL;
}

uint32_t virtio_dev__interrupt_status(const struct virtio_dev *dev)
{
	return dev->isr;
}

uint32_t virtio_dev__device_id(const struct virtio_dev *dev)
{
	return dev->device_id;
}

const char *virtio_dev__name(const struct virtio_dev *dev)
{
	return dev->name;
}

static void virtio_dev__raise(struct virtio_dev *dev, uint32_t bit)
{
	dev->isr |= bit;
	if (dev->host.notify_irq)
		dev->host.notify_irq(dev->host.ctx, dev);
}

void virtio_dev__fail(struct virtio_dev *dev, const char *fmt, ...)
{
	const char *why = dev->error;
	va_list ap;

	if (dev->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	va_start(ap, fmt);
	vsnprintf(dev->error, sizeof(dev->error), fmt, ap);
	va_end(ap);
	/* A guest that errs and resets in a loop must not flood vmsh's stderr. */
	if (dev->fail_msgs < VIRTIO_DEV_MAX_FAIL_MSGS)
		pr_err("%s: guest driver error, device needs reset: %s%s", dev->name, why,
		       ++dev->fail_msgs == VIRTIO_DEV_MAX_FAIL_MSGS ? " (further ones with -vv)"
								    : "");
	else
		pr_debug("%s: guest driver error, device needs reset: %s", dev->name, why);
	dev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	virtio_dev__raise(dev, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_dev__config_changed(struct virtio_dev *dev)
{
	dev->config_generation++;
	if (virtio_dev__live(dev))
		virtio_dev__raise(dev, VIRTIO_MMIO_INT_CONFIG);
}

static void virtio_dev__reset(struct virtio_dev *dev)
{
	dev->driver_features = 0;
	dev->device_features_sel = 0;
	dev->driver_features_sel = 0;
	dev->queue_sel = 0;
	dev->status = 0;
	dev->isr = 0;
	memset(dev->vqs, 0, sizeof(dev->vqs));
	if (dev->ops->reset)
		dev->ops->reset(dev);
}

/* ---- Virtqueues ---- */

static bool virtq__usable(const struct virtio_dev *dev, unsigned int queue)
{
	return queue < dev->nqueues && dev->vqs[queue].ready && virtio_dev__live(dev) &&
	       dev->has_mem;
}

static int virtq__read(struct virtio_dev *dev, uint64_t gpa, void *buf, size_t len,
		       const char *what)
{
	int ret = guest__read_phys(&dev->mem, gpa, buf, len);

	if (ret < 0) {
		virtio_dev__fail(dev, "%s at 0x%llx (%zu bytes) not readable: %s", what,
				 (unsigned long long)gpa, len, strerror(-ret));
		return -EIO;
	}
	return 0;
}

static int virtq__write(struct virtio_dev *dev, uint64_t gpa, const void *buf, size_t len,
			const char *what)
{
	int ret = guest__write_phys(&dev->mem, gpa, buf, len);

	if (ret < 0) {
		virtio_dev__fail(dev, "%s at 0x%llx (%zu bytes) not writable: %s", what,
				 (unsigned long long)gpa, len, strerror(-ret));
		return -EIO;
	}
	return 0;
}

/* virtq__read/write's message for a failed vectored copy of segs. */
static int virtq__xferv_failed(struct virtio_dev *dev, const struct guest_seg *segs, size_t n,
			       size_t bad, int ret, bool write, const char *what)
{
	size_t total = 0;

	if (bad < n) {
		virtio_dev__fail(dev, "%s at 0x%llx (%zu bytes) not %s: %s", what,
				 (unsigned long long)segs[bad].gpa, segs[bad].len,
				 write ? "writable" : "readable", strerror(-ret));
		return -EIO;
	}
	for (size_t k = 0; k < n; k++)
		total += segs[k].len;
	virtio_dev__fail(dev, "%s from 0x%llx (%zu bytes in %zu pieces) not %s: %s", what,
			 (unsigned long long)segs[0].gpa, total, n, write ? "writable" : "readable",
			 strerror(-ret));
	return -EIO;
}

/*
 * The ring indices (avail.idx, used.idx) are 16-bit fields that the driver
 * accesses with single 16-bit loads and stores while vmsh copies them, so
 * a copy must not mix bytes of two values. How depends on how vmsh
 * reaches the ring:
 *
 * - Mapped into vmsh (hvmem.h): one aligned atomic 16-bit load or store,
 *   exactly what the driver does on its side. The rings' alignment (2 for
 *   avail, 4 for used) is checked when the queue is enabled, and memslots
 *   are page-aligned, so the pointer is aligned too (checked all the same:
 *   an unaligned one takes the copy path below).
 *
 * - Through process_vm_readv/writev: the kernel copies with
 *   copy_to_user/copy_from_user, which on x86-64 moves a copy shorter than
 *   8 bytes one byte at a time (copy_user_generic_unrolled, the string
 *   forms' byte tail, rep_movs_alternative since 6.4) or with rep movsb
 *   (FSRM), which makes no atomicity promise. So:
 *   - avail.idx is read twice in one call (two iovecs, copied one after the
 *     other) until both copies agree. A torn copy mixes the bytes of the
 *     value before and after a store the driver made during it; the second
 *     copy then sees the value after it, so they differ. Without this, a
 *     tear when the index crosses a multiple of 256 (0x01ff from 0x00ff ->
 *     0x0100) can look like up to 256 new entries, and the device would
 *     pop stale ones.
 *   - used.idx is published as virtq__idx_segs says.
 */
#define VIRTQ_IDX_TRIES 16

/* The 16-bit index at gpa as an aligned pointer in vmsh, or NULL. */
static uint16_t *virtq__idx_ptr(struct virtio_dev *dev, uint64_t gpa, bool write)
{
	uint16_t *p = guest__phys_ptr(&dev->mem, gpa, sizeof(*p), write);

	return p && !((uintptr_t)p % _Alignof(uint16_t)) ? p : NULL;
}

/*
 * Read a ring index the driver writes and, where also is not NULL, the
 * 16-bit field at also_gpa in the same call (EVENT_IDX's used_event with
 * avail.idx). Loads of ring entries and descriptors that follow are ordered
 * after the index (acquire). 0, -EIO (NEEDS_RESET set), or -EAGAIN if
 * VIRTQ_IDX_TRIES pairs of copies all disagreed (the driver stored on every
 * copy: take it as nothing new now; its next notification comes).
 */
static int virtq__load_idx(struct virtio_dev *dev, uint64_t gpa, uint16_t *idx, const char *what,
			   uint64_t also_gpa, uint16_t *also)
{
	const struct guest_seg segs[3] = { { gpa, sizeof(*idx) },
					   { gpa, sizeof(*idx) },
					   { also_gpa, sizeof(*also) } };
	size_t nsegs = also ? 3 : 2, bad = SIZE_MAX;
	uint16_t *p = virtq__idx_ptr(dev, gpa, false), v[3];
	uint16_t *pa = also ? virtq__idx_ptr(dev, also_gpa, false) : NULL;
	int ret;

	if (p && (!also || pa)) {
		if (also)
			*also = le16toh(__atomic_load_n(pa, __ATOMIC_RELAXED));
		*idx = le16toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
		return 0;
	}
	for (unsigned int t = 0; t < VIRTQ_IDX_TRIES; t++) {
		ret = guest__readv_phys(&dev->mem, segs, nsegs, v, &bad);
		if (ret < 0) {
			bool other = bad == 2;

			virtio_dev__fail(dev, "%s at 0x%llx (%zu bytes) not readable: %s",
					 other ? "avail.used_event" : what,
					 (unsigned long long)(other ? also_gpa : gpa), sizeof(*idx),
					 strerror(-ret));
			return -EIO;
		}
		if (v[0] == v[1]) {
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			*idx = le16toh(v[0]);
			if (also)
				*also = le16toh(v[2]);
			return 0;
		}
	}
	pr_debug("%s: %s at 0x%llx changed during each of %d reads", dev->name, what,
		 (unsigned long long)gpa, VIRTQ_IDX_TRIES);
	return -EAGAIN;
}

/* EVENT_IDX's avail_event: after the used ring (used.ring[num]). */
static uint64_t virtq__avail_event_gpa(const struct virtq *vq)
{
	return vq->used + 4 + (uint64_t)VIRTQ_USED_ELEM_SIZE * vq->num;
}

/* avail_event now holds last_avail: the driver kicks for the next entry. */
static void virtq__armed(struct virtq *vq)
{
	vq->avail_event = vq->last_avail;
	vq->avail_event_ok = true;
}

/*
 * How used.idx is published, after the used elements it covers (release).
 *
 * Mapped: one atomic 16-bit store. Through process_vm_writev, a 2-byte
 * write would go byte by byte (see above), low byte first: going from
 * 0x00ff to 0x0100 the driver could read 0x0000, 255 behind, take it as
 * 255 more used entries and complete stale ids (Linux: "id %u is not a
 * head!", the queue is then broken, or the wrong request completes). The
 * kernel moves 8 to 63 bytes with 8-byte moves (rep_movs_alternative's
 * word loop, the short-string path of the older ERMS copy), each one atomic
 * when aligned, so where the used ring is 8-byte aligned (Linux's is
 * page-aligned) the index goes out in one aligned 8-byte write of
 * used.flags (always 0: vmsh never sets VRING_USED_F_NO_NOTIFY), used.idx
 * and used.ring[0].id (rewritten with the value it has, which vmsh wrote
 * last or the driver has not been told about). That is atomic on every
 * x86-64 kernel without FSRM; with FSRM the kernel uses rep movsb, for
 * which the architecture promises no single store, and a used ring that is
 * only 4-byte aligned gets the 2-byte write: both can in principle still
 * tear at a 256 boundary.
 *
 * Through process_vm_writev the index goes out in the same call as the
 * elements (and chains' last bytes) it publishes, as the call's last
 * pieces: the kernel copies a call's pieces one after the other, in order
 * (process_vm_rw_core; a partial copy is resumed from where it stopped),
 * each by a copy of its own, and x86-64 makes stores visible in program
 * order (TSO; a fast string's stores may pass each other, but never those
 * of an earlier string operation). So the driver cannot see the index
 * before what it covers, as if the index were a second call.
 *
 * virtq__idx_segs appends the index's pieces (and avail_event's, for arm)
 * to segs and their bytes to buf: how many pieces.
 */
static size_t virtq__idx_segs(const struct virtq *vq, uint16_t idx, bool arm,
			      struct guest_seg *segs, uint8_t *buf)
{
	uint16_t le = htole16(idx), ev_le = htole16(vq->last_avail);
	size_t n = 0, len;

	if (vq->used % 8) {
		segs[n++] = (struct guest_seg){ vq->used + 2, sizeof(le) };
		memcpy(buf, &le, sizeof(le));
		len = sizeof(le);
	} else {
		segs[n++] = (struct guest_seg){ vq->used, 8 };
		memset(buf, 0, 2);
		memcpy(buf + 2, &le, sizeof(le));
		memcpy(buf + 4, &vq->used0_id, sizeof(vq->used0_id));
		len = 8;
	}
	if (arm) {
		segs[n++] = (struct guest_seg){ virtq__avail_event_gpa(vq), sizeof(ev_le) };
		memcpy(buf + len, &ev_le, sizeof(ev_le));
	}
	return n;
}

/*
 * EVENT_IDX: ask for a kick when the driver adds the entry at last_avail
 * (avail_event, after the used ring), alone: with used elements to publish,
 * virtq__flush writes it with used.idx. A torn copy (2 bytes
 * through process_vm_writev) can only cost a kick or add one: the re-read of
 * avail.idx that follows (virtq__refill) finds an entry whose kick the
 * driver skipped, since its avail.idx store came before its avail_event
 * load, and both sides have a full barrier between store and load.
 */
static int virtq__store_avail_event(struct virtio_dev *dev, struct virtq *vq)
{
	uint64_t gpa = virtq__avail_event_gpa(vq);
	uint16_t *p = virtq__idx_ptr(dev, gpa, true), le = htole16(vq->last_avail);

	if (p)
		__atomic_store_n(p, le, __ATOMIC_RELAXED);
	else if (virtq__write(dev, gpa, &le, sizeof(le), "used.avail_event") < 0)
		return -EIO;
	virtq__armed(vq);
	return 0;
}

/*
 * Take the snapshot described at struct virtq: the descriptor table and
 * the entries [last_avail, avail_cache), which wrap around the ring at most
 * once, in one vectored read. A failure is not the driver's yet (it may
 * never use the bad part): pops fall back to reading field by field.
 */
/*
 * The snapshot's three pieces: the descriptor table, then n avail.ring
 * entries from last_avail on, which wrap around the ring at most once.
 */
static void virtq__snap_segs(const struct virtq *vq, uint16_t n, struct guest_seg segs[3])
{
	uint16_t first = vq->last_avail % vq->num;
	uint16_t n1 = n < vq->num - first ? n : (uint16_t)(vq->num - first);

	segs[0] = (struct guest_seg){ vq->desc, (size_t)VIRTQ_DESC_SIZE * vq->num };
	segs[1] = (struct guest_seg){ vq->avail + 4 + 2ULL * first, 2 * (size_t)n1 };
	segs[2] = (struct guest_seg){ vq->avail + 4, 2 * (size_t)(n - n1) };
}

static void virtq__snapshot(struct virtio_dev *dev, struct virtq *vq)
{
	struct guest_seg segs[3];

	virtq__snap_segs(vq, (uint16_t)(vq->avail_cache - vq->last_avail), segs);
	vq->snap_base = vq->last_avail;
	vq->snap_ok = guest__readv_phys(&dev->mem, segs, ARRAY_SIZE(segs), vq->snap, NULL) == 0;
}

/*
 * EVENT_IDX: avail.idx and used_event, in one call through
 * process_vm_readv. used_event may be torn there: a value too high only
 * skips an interrupt the driver no longer needs, since its used_event store
 * comes before its used.idx load (full barriers on both sides), so it sees
 * vmsh's used.idx and polls the ring itself.
 */
static int virtq__load_idx_event(struct virtio_dev *dev, struct virtq *vq, uint16_t *idx)
{
	uint16_t ev;
	int ret = virtq__load_idx(dev, vq->avail + 2, idx, "avail.idx",
				  vq->avail + 4 + 2ULL * vq->num, &ev);

	if (!ret) {
		vq->used_event = ev;
		vq->used_event_ok = true;
	}
	return ret;
}

_Static_assert(offsetof(struct virtq, snap) ==
		   offsetof(struct virtq, snap_idx) + sizeof(((struct virtq *)0)->snap_idx),
	       "virtq__read_ahead reads snap_idx and snap as one buffer");

/*
 * A look that expects new entries (the first pop after a notification),
 * where avail.idx is not mapped: avail.idx (twice, against a torn copy)
 * and, in the same call after it, the snapshot of the descriptor table and
 * the whole avail ring from last_avail on; one call instead of two. The
 * entries up to the index were written before it (the driver's release)
 * and are copied after it: the kernel copies a call's pieces in order, and
 * x86-64 does not let a load pass an earlier one (the fast strings' loads
 * may pass each other, not those of an earlier string operation). What is
 * beyond the index is never used. false: not done (a torn or failed copy):
 * look the usual way.
 */
static bool virtq__read_ahead(struct virtio_dev *dev, struct virtq *vq, uint16_t *idx)
{
	struct guest_seg segs[5] = { { vq->avail + 2, sizeof(*idx) },
				     { vq->avail + 2, sizeof(*idx) } };

	virtq__snap_segs(vq, vq->num, segs + 2);
	if (virtq__idx_ptr(dev, vq->avail + 2, false) ||
	    guest__readv_phys(&dev->mem, segs, ARRAY_SIZE(segs), vq->snap_idx, NULL) ||
	    vq->snap_idx[0] != vq->snap_idx[1])
		return false;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	*idx = le16toh(vq->snap_idx[0]);
	vq->snap_base = vq->last_avail;
	return true;
}

/*
 * Refresh avail_cache (and the snapshot), with used_event too where asked
 * (EVENT_IDX), reading ahead (virtq__read_ahead) where asked and no
 * used_event is; -EIO on a bad ring or an index too far ahead.
 */
static int virtq__read_avail_idx(struct virtio_dev *dev, struct virtq *vq, unsigned int queue,
				 bool with_event, bool ahead)
{
	bool snapped = false;
	uint16_t idx;
	int ret = 0;

	vq->snap_ok = false;
	if (!with_event && ahead)
		snapped = virtq__read_ahead(dev, vq, &idx);
	if (!snapped)
		ret = with_event ? virtq__load_idx_event(dev, vq, &idx)
				 : virtq__load_idx(dev, vq->avail + 2, &idx, "avail.idx", 0, NULL);
	if (ret < 0)
		return ret == -EAGAIN ? 0 : -EIO;
	/* More than a ring's worth of new entries cannot be real. */
	if ((uint16_t)(idx - vq->last_avail) > vq->num) {
		virtio_dev__fail(dev, "queue %u: avail.idx %u is more than %u ahead of %u", queue,
				 idx, vq->num, vq->last_avail);
		return -EIO;
	}
	vq->avail_cache = idx;
	/* After the index: the driver wrote the entries and descriptors before it. */
	if (snapped)
		vq->snap_ok = true;
	else if (idx != vq->last_avail)
		virtq__snapshot(dev, vq);
	return 0;
}

static int virtq__flush(struct virtio_dev *dev, unsigned int queue, bool arm);

/*
 * Everything seen was popped: look for new entries. With EVENT_IDX the
 * driver kicks only for the entry at avail_event, so before the device
 * says "none" it asks for a kick at the next one (avail_event =
 * last_avail) and reads avail.idx again after a full barrier: an entry the
 * driver added before it could see that finds no kick, but is seen here
 * (the driver stores avail.idx, then loads avail_event; vhost's
 * vhost_enable_notify and QEMU's virtqueue_pop do the same). The used
 * elements waiting go out first, and used_event comes back with avail.idx:
 * so a notification that ends with the ring empty costs three calls (used
 * elements; used.idx with avail_event; avail.idx with used_event) where
 * without EVENT_IDX it costs four (avail.idx; used elements; used.idx;
 * avail.flags), and the driver's next entries need no kick until vmsh has
 * caught up with them.
 */
static int virtq__refill(struct virtio_dev *dev, struct virtq *vq, unsigned int queue, bool ahead)
{
	bool armed = vq->avail_event_ok && vq->avail_event == vq->last_avail;
	int ret;

	/* nothing to publish: one look first, enough when the kick is armed */
	if (!vq->event_idx || !vq->used_pending) {
		ret = virtq__read_avail_idx(dev, vq, queue, false, ahead && !vq->used_pending);
		if (ret < 0 || !vq->event_idx || vq->last_avail != vq->avail_cache || armed)
			return ret;
	}
	if (virtq__flush(dev, queue, !armed) < 0)
		return -EIO;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return virtq__read_avail_idx(dev, vq, queue, true, false);
}

unsigned int virtq__known_avail(const struct virtio_dev *dev, unsigned int queue)
{
	const struct virtq *vq = &dev->vqs[queue];

	return (uint16_t)(vq->avail_cache - vq->last_avail);
}

bool virtq__has_avail(struct virtio_dev *dev, unsigned int queue)
{
	struct virtq *vq = &dev->vqs[queue];

	if (!virtq__usable(dev, queue))
		return false;
	if (vq->last_avail != vq->avail_cache)
		return true;
	return virtq__refill(dev, vq, queue, false) == 0 && vq->last_avail != vq->avail_cache;
}

/* Descriptor i of a ready queue, from the snapshot or else from the ring. */
static int virtq__desc(struct virtio_dev *dev, const struct virtq *vq, uint16_t i,
		       struct vring_desc *d)
{
	if (vq->snap_ok) {
		memcpy(d, vq->snap + (size_t)VIRTQ_DESC_SIZE * i, sizeof(*d));
		return 0;
	}
	return virtq__read(dev, vq->desc + (uint64_t)i * VIRTQ_DESC_SIZE, d, sizeof(*d),
			   "descriptor");
}

int virtq__pop(struct virtio_dev *dev, unsigned int queue, struct virtq_chain *c)
{
	struct virtq *vq = &dev->vqs[queue];
	uint16_t head, i;

	if (dev->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return -EIO;
	if (!virtq__usable(dev, queue))
		return 0;
	if (vq->last_avail == vq->avail_cache) {
		if (virtq__refill(dev, vq, queue, true) < 0)
			return -EIO;
		if (vq->last_avail == vq->avail_cache)
			return 0;
	}
	if (vq->snap_ok)
		memcpy(&head,
		       vq->snap + (size_t)VIRTQ_DESC_SIZE * vq->num +
			   2 * (size_t)(uint16_t)(vq->last_avail - vq->snap_base),
		       sizeof(head));
	else if (virtq__read(dev, vq->avail + 4 + 2ULL * (vq->last_avail % vq->num), &head,
			     sizeof(head), "avail.ring entry") < 0)
		return -EIO;
	head = le16toh(head);
	if (head >= vq->num) {
		virtio_dev__fail(dev, "queue %u: head descriptor %u >= queue size %u", queue, head,
				 vq->num);
		return -EIO;
	}

	c->head = head;
	c->nbufs = c->nout = 0;
	c->out_len = c->in_len = 0;
	for (i = head;;) {
		struct vring_desc d;
		uint64_t addr;
		uint32_t len;
		uint16_t flags, next;

		/* A chain longer than the ring must revisit a descriptor. */
		if (c->nbufs >= vq->num) {
			virtio_dev__fail(dev, "queue %u: chain from %u longer than %u (a loop)",
					 queue, head, vq->num);
			return -EIO;
		}
		if (virtq__desc(dev, vq, i, &d) < 0)
			return -EIO;
		addr = le64toh(d.addr);
		len = le32toh(d.len);
		flags = le16toh(d.flags);
		next = le16toh(d.next);
		if (flags & VRING_DESC_F_INDIRECT) {
			virtio_dev__fail(
			    dev, "queue %u: descriptor %u is indirect (not negotiated)", queue, i);
			return -EIO;
		}
		if (len && addr + (len - 1) < addr) {
			virtio_dev__fail(dev, "queue %u: descriptor %u: 0x%llx + %u wraps", queue,
					 i, (unsigned long long)addr, len);
			return -EIO;
		}
		if (flags & VRING_DESC_F_WRITE) {
			c->in_len += len;
		} else {
			if (c->nbufs > c->nout) {
				virtio_dev__fail(dev,
						 "queue %u: readable descriptor %u after a "
						 "writable one",
						 queue, i);
				return -EIO;
			}
			c->out_len += len;
			c->nout++;
		}
		c->bufs[c->nbufs].addr = addr;
		c->bufs[c->nbufs].len = len;
		c->nbufs++;
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		if (next >= vq->num) {
			virtio_dev__fail(dev, "queue %u: descriptor %u: next %u >= queue size %u",
					 queue, i, next, vq->num);
			return -EIO;
		}
		i = next;
	}
	/* used.len is 32 bits, and so are the models' offsets into a part. */
	if (c->out_len > UINT32_MAX || c->in_len > UINT32_MAX) {
		virtio_dev__fail(dev, "queue %u: chain from %u: total length overflows", queue,
				 head);
		return -EIO;
	}
	vq->last_avail++;
	return 1;
}

/* A guest__check_phys that fails like virtq__write. */
static int virtq__check_write(struct virtio_dev *dev, uint64_t gpa, size_t len, const char *what)
{
	int ret = guest__check_phys(&dev->mem, gpa, len, true);

	if (ret < 0) {
		virtio_dev__fail(dev, "%s at 0x%llx (%zu bytes) not writable: %s", what,
				 (unsigned long long)gpa, len, strerror(-ret));
		return -EIO;
	}
	return 0;
}

/*
 * Write the pending used elements (at most two pieces: they wrap around
 * the ring at most once), after the chains' last bytes (virtq__push_last),
 * then used.idx (virtq__idx_segs says how): mapped, an atomic store after
 * the copy; else in the same call. arm (EVENT_IDX): avail_event =
 * last_avail too, with the index (virtq__refill).
 */
static int virtq__flush(struct virtio_dev *dev, unsigned int queue, bool arm)
{
	struct virtq *vq = &dev->vqs[queue];
	uint16_t n = vq->used_pending, k = vq->last_pending, first, n1, idx;
	uint16_t *p = virtq__idx_ptr(dev, vq->used + 2, true);
	uint16_t *pe = arm ? virtq__idx_ptr(dev, virtq__avail_event_gpa(vq), true) : NULL;
	bool mapped = p && (!arm || pe);
	struct guest_seg segs[VIRTIO_QUEUE_MAX_SIZE + 4];
	uint8_t buf[VIRTIO_QUEUE_MAX_SIZE * (1 + VIRTQ_USED_ELEM_SIZE) + 8 + 2];
	size_t nsegs = (size_t)k + 2, bad;
	int ret;

	if (!n)
		return arm ? virtq__store_avail_event(dev, vq) : 0;
	vq->used_pending = vq->last_pending = 0;
	first = vq->used_idx % vq->num;
	n1 = n < vq->num - first ? n : (uint16_t)(vq->num - first);
	idx = (uint16_t)(vq->used_idx + n);
	/* the batch wraps to slot 0 (or starts there): its id, for the index's word */
	if (n > vq->num - first)
		vq->used0_id = vq->used_batch[vq->num - first].id;
	else if (!first)
		vq->used0_id = vq->used_batch[0].id;
	for (uint16_t i = 0; i < k; i++)
		segs[i] = (struct guest_seg){ vq->last_gpa[i], 1 };
	memcpy(buf, vq->last_byte, k);
	memcpy(buf + k, vq->used_batch, (size_t)VIRTQ_USED_ELEM_SIZE * n);
	segs[k] = (struct guest_seg){ vq->used + 4 + (uint64_t)VIRTQ_USED_ELEM_SIZE * first,
				      (size_t)VIRTQ_USED_ELEM_SIZE * n1 };
	segs[k + 1] = (struct guest_seg){ vq->used + 4, (size_t)VIRTQ_USED_ELEM_SIZE * (n - n1) };
	if (!mapped)
		nsegs += virtq__idx_segs(vq, idx, arm, segs + nsegs,
					 buf + k + (size_t)VIRTQ_USED_ELEM_SIZE * n);
	ret = guest__writev_phys(&dev->mem, segs, nsegs, buf, &bad);
	if (ret < 0)
		return virtq__xferv_failed(dev, segs, nsegs, bad, ret, true,
					   bad < k		  ? "buffer"
					   : bad == (size_t)k + 2 ? "used.idx"
					   : bad == (size_t)k + 3 ? "used.avail_event"
								  : "used.ring entry");
	if (mapped) {
		__atomic_store_n(p, htole16(idx), __ATOMIC_RELEASE);
		if (arm)
			__atomic_store_n(pe, htole16(vq->last_avail), __ATOMIC_RELAXED);
	}
	if (arm)
		virtq__armed(vq);
	vq->used_event_ok = false; /* read before this store: stale for the decision */
	vq->used_idx = idx;
	vq->need_irq = true;
	return 0;
}

/* virtq__push, and virtq__push_last where last_gpa is not NULL */
static int virtq__add_used(struct virtio_dev *dev, unsigned int queue, uint16_t head, uint32_t len,
			   const uint64_t *last_gpa, uint8_t last)
{
	struct virtq *vq = &dev->vqs[queue];
	uint16_t slot = (uint16_t)(vq->used_idx + vq->used_pending) % vq->num;

	if (dev->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return -EIO;
	/*
	 * Check now where the element, the index and the last byte go, so
	 * that a bad one stops the device at the first chain, as a write would.
	 */
	if (virtq__check_write(dev, vq->used + 4 + (uint64_t)VIRTQ_USED_ELEM_SIZE * slot,
			       VIRTQ_USED_ELEM_SIZE, "used.ring entry") < 0 ||
	    virtq__check_write(dev, vq->used + 2, 2, "used.idx") < 0 ||
	    (last_gpa && virtq__check_write(dev, *last_gpa, 1, "buffer") < 0))
		return -EIO;
	if (last_gpa) {
		vq->last_gpa[vq->last_pending] = *last_gpa;
		vq->last_byte[vq->last_pending++] = last;
	}
	vq->used_batch[vq->used_pending++] =
	    (struct virtq_used_elem){ .id = htole32(head), .len = htole32(len) };
	/* The ring holds num elements: a full batch must go out first. */
	if (vq->used_pending == vq->num)
		return virtq__flush(dev, queue, false);
	return 0;
}

int virtq__push(struct virtio_dev *dev, unsigned int queue, uint16_t head, uint32_t len)
{
	return virtq__add_used(dev, queue, head, len, NULL, 0);
}

int virtq__push_last(struct virtio_dev *dev, unsigned int queue, const struct virtq_chain *c,
		     uint32_t len, uint8_t last)
{
	unsigned int i = c->nbufs;
	uint64_t gpa;

	/* the last writable byte: in the last writable descriptor that is not empty */
	while (i > c->nout && !c->bufs[i - 1].len)
		i--;
	if (i == c->nout)
		return -EINVAL; /* a model bug: no writable byte */
	gpa = c->bufs[i - 1].addr + c->bufs[i - 1].len - 1;
	return virtq__add_used(dev, queue, c->head, len, &gpa, last);
}

/* avail.flags: only bit 0 is used, so a torn copy cannot mislead; atomic where mapped. */
static int virtq__read_flags(struct virtio_dev *dev, const struct virtq *vq, uint16_t *flags)
{
	uint16_t *p = virtq__idx_ptr(dev, vq->avail, false);

	if (p) {
		*flags = le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
		return 0;
	}
	if (virtq__read(dev, vq->avail, flags, sizeof(*flags), "avail.flags") < 0)
		return -EIO;
	*flags = le16toh(*flags);
	return 0;
}

/*
 * EVENT_IDX: whether the driver asked for an interrupt for the used
 * entries since the last decision (used_event in [signalled_used,
 * used_idx)), as QEMU's virtio_should_notify decides. The first decision
 * after the queue was enabled or taken over always interrupts.
 */
static int virtq__event_wanted(struct virtio_dev *dev, struct virtq *vq, bool *want)
{
	uint16_t old = vq->signalled_used, idx;
	bool first = !vq->signalled_ok;

	/* used_event read after our last used.idx store, or read it now */
	if (!vq->used_event_ok && virtq__load_idx_event(dev, vq, &idx) == -EIO)
		return -EIO;
	vq->signalled_used = vq->used_idx;
	vq->signalled_ok = true;
	/* -EAGAIN above (avail.idx never stable) leaves used_event_ok false: interrupt */
	*want = first || !vq->used_event_ok || vring_need_event(vq->used_event, vq->used_idx, old);
	return 0;
}

void virtq__signal(struct virtio_dev *dev, unsigned int queue)
{
	struct virtq *vq = &dev->vqs[queue];
	uint16_t flags;
	bool want;

	virtq__flush(dev, queue, false);
	if (!vq->need_irq || (dev->status & VIRTIO_CONFIG_S_NEEDS_RESET))
		return;
	vq->need_irq = false;
	/*
	 * A full barrier between the used.idx store and the avail.flags load.
	 * The driver re-enables interrupts by clearing NO_INTERRUPT, then (after
	 * its own full barrier, virtqueue_enable_cb's virtio_mb) reads used.idx
	 * to catch what was used meanwhile. Should this load pass our store (a
	 * store buffer lets it on x86 too), the driver can read the old
	 * used.idx and we the old flags: neither side acts, the request waits
	 * forever (the lost notification that vhost's vhost_notify and Linux's
	 * virtqueue_kick_prepare prevent with smp_mb). On the mapped path both
	 * are plain accesses in this thread; through process_vm_writev/readv
	 * they are the kernel's copies, made in this thread in program order,
	 * so the fence between the two calls orders them as well.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->event_idx) {
		if (virtq__event_wanted(dev, vq, &want) == 0 && want)
			virtio_dev__raise(dev, VIRTIO_MMIO_INT_VRING);
		return;
	}
	if (virtq__read_flags(dev, vq, &flags) < 0)
		return;
	if (!(flags & VRING_AVAIL_F_NO_INTERRUPT))
		virtio_dev__raise(dev, VIRTIO_MMIO_INT_VRING);
}

/*
 * Copy between buf and bytes [off, off + len) of bufs[first, last): one
 * guest range per buffer touched, one vectored call for them all. quiet:
 * a guest memory error is -EFAULT and no reason for NEEDS_RESET.
 */
static int virtq_chain__xfer(struct virtio_dev *dev, const struct virtq_chain *c,
			     unsigned int first, unsigned int last, uint64_t off, void *buf,
			     size_t len, bool write, bool quiet)
{
	struct guest_seg segs[VIRTIO_QUEUE_MAX_SIZE];
	size_t n = 0, left = len, bad;
	int ret;

	for (unsigned int i = first; i < last && left; i++) {
		const struct virtq_buf *b = &c->bufs[i];
		size_t k;

		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		k = b->len - off < left ? (size_t)(b->len - off) : left;
		segs[n++] = (struct guest_seg){ b->addr + off, k };
		left -= k;
		off = 0;
	}
	if (left)
		return -EINVAL;
	if (!n)
		return 0;
	ret = write ? guest__writev_phys(&dev->mem, segs, n, buf, &bad)
		    : guest__readv_phys(&dev->mem, segs, n, buf, &bad);
	if (ret < 0)
		return quiet ? -EFAULT
			     : virtq__xferv_failed(dev, segs, n, bad, ret, write, "buffer");
	return 0;
}

int virtq_chain__read(struct virtio_dev *dev, const struct virtq_chain *c, uint64_t off, void *buf,
		      size_t len)
{
	return virtq_chain__xfer(dev, c, 0, c->nout, off, buf, len, false, false);
}

int virtq_chain__try_read(struct virtio_dev *dev, const struct virtq_chain *c, uint64_t off,
			  void *buf, size_t len)
{
	return virtq_chain__xfer(dev, c, 0, c->nout, off, buf, len, false, true);
}

int virtq_chain__write(struct virtio_dev *dev, const struct virtq_chain *c, uint64_t off,
		       const void *buf, size_t len)
{
	return virtq_chain__xfer(dev, c, c->nout, c->nbufs, off, (void *)buf, len, true, false);
}

int virtq_chain__try_write(struct virtio_dev *dev, const struct virtq_chain *c, uint64_t off,
			   const void *buf, size_t len)
{
	return virtq_chain__xfer(dev, c, c->nout, c->nbufs, off, (void *)buf, len, true, true);
}

int virtio_mmio__queue_notify(struct virtio_dev *dev, uint32_t queue)
{
	if (queue >= dev->nqueues) {
		pr_debug("%s: notify of queue %u, which does not exist", dev->name, queue);
		return -EINVAL;
	}
	if (dev->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return -EIO;
	if (!dev->has_mem) {
		pr_err("%s: queue notified before guest memory was set", dev->name);
		return -ENXIO;
	}
	if (!virtq__usable(dev, queue))
		return 0;
	dev->ops->queue_notify(dev, queue);
	virtq__signal(dev, queue);
	return dev->status & VIRTIO_CONFIG_S_NEEDS_RESET ? -EIO : 0;
}

int virtio_dev__completion_fd(struct virtio_dev *dev)
{
	return dev->ops->completion_fd ? dev->ops->completion_fd(dev) : -1;
}

int virtio_mmio__complete(struct virtio_dev *dev, bool wait)
{
	if (!dev->ops->complete)
		return 0;
	dev->ops->complete(dev, wait);
	/* as after a notification: what was used is published, NEEDS_RESET or not */
	for (unsigned int q = 0; q < dev->nqueues; q++)
		if (dev->vqs[q].ready && dev->has_mem)
			virtq__signal(dev, q);
	return dev->status & VIRTIO_CONFIG_S_NEEDS_RESET ? -EIO : 0;
}

int virtio_mmio__resync(struct virtio_dev *dev)
{
	for (unsigned int q = 0; q < dev->nqueues; q++) {
		struct virtq *vq = &dev->vqs[q];
		uint8_t head[8]; /* flags, idx, ring[0].id */
		uint16_t idx;

		if (!vq->ready)
			continue;
		if (virtq__read(dev, vq->used, head, sizeof(head), "used ring") < 0)
			return -EIO;
		memcpy(&idx, head + 2, sizeof(idx));
		idx = le16toh(idx);
		/* a bad index (the guest's to write) fails the next pop's check */
		vq->last_avail = vq->avail_cache = vq->used_idx = idx;
		vq->used_pending = vq->last_pending = 0;
		memcpy(&vq->used0_id, head + 4, sizeof(vq->used0_id));
		vq->snap_ok = false;
		vq->avail_event_ok = vq->used_event_ok = vq->signalled_ok = false;
		vq->need_irq = true;
	}
	return 0;
}

/* ---- Registers ---- */

/* QueueReady 1: check the layout once, so that pops only check contents. */
static void virtq__enable(struct virtio_dev *dev, unsigned int queue)
{
	struct virtq *vq = &dev->vqs[queue];
	uint64_t n = vq->num;

	if (!n || n > VIRTIO_QUEUE_MAX_SIZE || (n & (n - 1))) {
		virtio_dev__fail(dev, "queue %u: size %llu is not a power of 2 up to %u", queue,
				 (unsigned long long)n, VIRTIO_QUEUE_MAX_SIZE);
		return;
	}
	if (vq->desc % VRING_DESC_ALIGN_SIZE || vq->avail % VRING_AVAIL_ALIGN_SIZE ||
	    vq->used % VRING_USED_ALIGN_SIZE) {
		/* The spec's alignment; the single 16-bit index accesses rely on it. */
		virtio_dev__fail(dev,
				 "queue %u: misaligned rings (desc 0x%llx avail 0x%llx "
				 "used 0x%llx; virtio needs 16, 2 and 4): the guest's "
				 "driver is broken",
				 queue, (unsigned long long)vq->desc, (unsigned long long)vq->avail,
				 (unsigned long long)vq->used);
		return;
	}
	/* Ring ends must not wrap; whether they are in RAM is seen on access. */
	if (vq->desc > UINT64_MAX - VIRTQ_DESC_SIZE * n || vq->avail > UINT64_MAX - (6 + 2 * n) ||
	    vq->used > UINT64_MAX - (6 + VIRTQ_USED_ELEM_SIZE * n)) {
		virtio_dev__fail(dev, "queue %u: ring wraps around the address space", queue);
		return;
	}
	vq->ready = true;
	vq->last_avail = vq->avail_cache = vq->used_idx = vq->used_pending = vq->last_pending = 0;
	vq->used0_id = 0; /* slot 0 is written before any index covers it */
	vq->need_irq = vq->snap_ok = false;
	vq->event_idx = dev->driver_features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	vq->avail_event_ok = vq->used_event_ok = vq->signalled_ok = false;
}

static void virtio_dev__set_status(struct virtio_dev *dev, uint32_t val)
{
	uint32_t old = dev->status;

	if (!val) {
		virtio_dev__reset(dev);
		return;
	}
	/* Only the device sets NEEDS_RESET, and only a reset clears it. */
	val = (val & 0xff & ~VIRTIO_CONFIG_S_NEEDS_RESET) | (old & VIRTIO_CONFIG_S_NEEDS_RESET);
	if ((val & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK)) {
		uint64_t f = dev->driver_features;

		if (!(f & (1ULL << VIRTIO_F_VERSION_1)) || (f & ~dev->device_features)) {
			pr_debug("%s: refusing features 0x%llx (offered 0x%llx)", dev->name,
				 (unsigned long long)f, (unsigned long long)dev->device_features);
			val &= ~VIRTIO_CONFIG_S_FEATURES_OK;
		}
	}
	dev->status = val;
	if ((val & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    dev->has_mem) {
		/* Buffers may have been posted before DRIVER_OK, with notifications we ignored. */
		for (unsigned int q = 0; q < dev->nqueues; q++)
			virtio_mmio__queue_notify(dev, q);
	}
}

static uint32_t virtio_mmio__read_reg(struct virtio_dev *dev, uint64_t offset)
{
	struct virtq *vq = dev->queue_sel < dev->nqueues ? &dev->vqs[dev->queue_sel] : NULL;

	switch (offset) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return VIRTIO_MMIO_VERSION_MODERN;
	case VIRTIO_MMIO_DEVICE_ID:
		return dev->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_VENDOR_ID;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (dev->device_features_sel > 1)
			return 0;
		return (uint32_t)(dev->device_features >> (32 * dev->device_features_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return vq ? VIRTIO_QUEUE_MAX_SIZE : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return vq ? vq->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return dev->isr;
	case VIRTIO_MMIO_STATUS:
		return dev->status;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return dev->config_generation;
	}
	pr_debug("%s: read of write-only or unknown register 0x%llx", dev->name,
		 (unsigned long long)offset);
	return 0;
}

/* Queue layout registers: only while the queue is not ready (4.2.2.3). */
static void virtio_mmio__write_queue_reg(struct virtio_dev *dev, uint64_t offset, uint32_t val)
{
	struct virtq *vq = &dev->vqs[dev->queue_sel];

	if (vq->ready) {
		pr_debug("%s: queue %u register 0x%llx written while ready", dev->name,
			 dev->queue_sel, (unsigned long long)offset);
		return;
	}
	switch (offset) {
	case VIRTIO_MMIO_QUEUE_NUM:
		vq->num = val > UINT16_MAX ? 0 : (uint16_t)val; /* checked at QueueReady */
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		vq->desc = (vq->desc & ~0xffffffffULL) | val;
		break;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		vq->desc = (vq->desc & 0xffffffffULL) | (uint64_t)val << 32;
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		vq->avail = (vq->avail & ~0xffffffffULL) | val;
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		vq->avail = (vq->avail & 0xffffffffULL) | (uint64_t)val << 32;
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		vq->used = (vq->used & ~0xffffffffULL) | val;
		break;
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		vq->used = (vq->used & 0xffffffffULL) | (uint64_t)val << 32;
		break;
	}
}

static void virtio_mmio__write_reg(struct virtio_dev *dev, uint64_t offset, uint32_t val)
{
	switch (offset) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		dev->device_features_sel = val;
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		/* Features are fixed once FEATURES_OK was accepted. */
		if (dev->driver_features_sel > 1 || (dev->status & VIRTIO_CONFIG_S_FEATURES_OK))
			break;
		if (dev->driver_features_sel)
			dev->driver_features =
			    (dev->driver_features & 0xffffffffULL) | (uint64_t)val << 32;
		else
			dev->driver_features = (dev->driver_features & ~0xffffffffULL) | val;
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		dev->driver_features_sel = val;
		return;
	case VIRTIO_MMIO_QUEUE_SEL:
		dev->queue_sel = val;
		return;
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		if (dev->queue_sel >= dev->nqueues)
			break;
		virtio_mmio__write_queue_reg(dev, offset, val);
		return;
	case VIRTIO_MMIO_QUEUE_READY:
		if (dev->queue_sel >= dev->nqueues)
			break;
		if (!val)
			dev->vqs[dev->queue_sel].ready = false;
		else if (!dev->vqs[dev->queue_sel].ready)
			virtq__enable(dev, dev->queue_sel);
		return;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		virtio_mmio__queue_notify(dev, val);
		return;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		dev->isr &= ~val;
		return;
	case VIRTIO_MMIO_STATUS:
		virtio_dev__set_status(dev, val);
		return;
	}
	pr_debug("%s: write 0x%x to read-only, unknown or unselected register 0x%llx", dev->name,
		 val, (unsigned long long)offset);
}

static bool virtio_mmio__check(const struct virtio_dev *dev, uint64_t offset, size_t len,
			       bool write)
{
	bool ok;

	if (offset < VIRTIO_MMIO_CONFIG)
		ok = len == 4 && !(offset % 4);
	else
		ok = (len == 1 || len == 2 || len == 4 || len == 8) &&
		     offset - VIRTIO_MMIO_CONFIG <= dev->config_len &&
		     len <= dev->config_len - (offset - VIRTIO_MMIO_CONFIG);
	if (!ok)
		pr_debug("%s: bad %zu-byte %s at offset 0x%llx", dev->name, len,
			 write ? "write" : "read", (unsigned long long)offset);
	return ok;
}

int virtio_mmio__read(struct virtio_dev *dev, uint64_t offset, void *data, size_t len)
{
	uint32_t val;

	if (!virtio_mmio__check(dev, offset, len, false)) {
		memset(data, 0, len);
		return -EINVAL;
	}
	if (offset >= VIRTIO_MMIO_CONFIG) {
		memcpy(data, dev->config + (offset - VIRTIO_MMIO_CONFIG), len);
		return 0;
	}
	val = htole32(virtio_mmio__read_reg(dev, offset));
	memcpy(data, &val, sizeof(val));
	return 0;
}

void virtio_mmio__snapshot(struct virtio_dev *dev, uint8_t page[VIRTIO_MMIO_WINDOW], uint32_t isr)
{
	uint32_t val;

	memset(page, 0, VIRTIO_MMIO_WINDOW);
	for (uint64_t off = 0; off < VIRTIO_MMIO_CONFIG; off += 4) {
		val = htole32(
		    off == VIRTIO_MMIO_INTERRUPT_STATUS ? isr : virtio_mmio__read_reg(dev, off));
		memcpy(page + off, &val, sizeof(val));
	}
	memcpy(page + VIRTIO_MMIO_CONFIG, dev->config,
	       dev->config_len < VIRTIO_MMIO_WINDOW - VIRTIO_MMIO_CONFIG
		   ? dev->config_len
		   : VIRTIO_MMIO_WINDOW - VIRTIO_MMIO_CONFIG);
}

int virtio_mmio__write(struct virtio_dev *dev, uint64_t offset, const void *data, size_t len)
{
	uint32_t val;

	if (!virtio_mmio__check(dev, offset, len, true))
		return -EINVAL;
	if (offset >= VIRTIO_MMIO_CONFIG) {
		/* Neither model has a writable config field (no CONFIG_WCE, EMERG_WRITE). */
		pr_debug("%s: config space write at 0x%llx ignored", dev->name,
			 (unsigned long long)offset);
		return 0;
	}
	memcpy(&val, data, sizeof(val));
	virtio_mmio__write_reg(dev, offset, le32toh(val));
	return 0;
}
