/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The virtio devices vmsh attaches to a running guest: a virtio-mmio
 * (version 2, virtio 1.x) transport with split virtqueues, and two device
 * models behind it, virtio-blk and virtio-console.
 *
 * This module is pure logic over guest memory: it knows nothing of KVM or
 * ptrace. Its caller traps the guest's accesses to the device's 0x1000-byte
 * MMIO window and hands them to virtio_mmio__read/write(), calls
 * virtio_mmio__queue_notify() when a queue-notify ioeventfd fires, and turns
 * the notify_irq callback into an irqfd write.
 *
 * Everything in guest memory (rings, descriptors, buffers) is untrusted: it
 * is copied in with guest__read_phys()/readv_phys(), validated, acted upon,
 * and results are copied out with guest__write_phys()/writev_phys(); no
 * pointer into guest memory is ever kept. Each copy is a system call for a
 * live hypervisor, so copies are batched: a notification costs a few calls
 * for the rings (avail.idx; descriptor table and new avail entries; used
 * elements; used.idx; avail.flags) and each chain one call per copy, not
 * one per field or buffer. A driver that breaks the rules (bad descriptor index, loop,
 * buffer outside RAM, misaligned ring, ...) puts the device into
 * DEVICE_NEEDS_RESET: status bit 0x40 is set, a configuration-change
 * interrupt is raised, one message names the device and the reason (pr_err
 * for the first 8 per device, then pr_debug), and the
 * device touches no queue until the driver writes 0 to Status.
 *
 * Features offered: VIRTIO_F_VERSION_1 (required: FEATURES_OK is refused
 * without it), VIRTIO_RING_F_EVENT_IDX (the driver kicks and is interrupted
 * only when the other side asked for it, as with QEMU's devices) plus the
 * device's own; no INDIRECT_DESC, no IN_ORDER (buffers are used in order
 * anyway, each with its own used entry).
 *
 * Concurrency: none inside. A device must only be called from one thread
 * at a time (the caller's event loop); callbacks run on that thread, from
 * inside the call that triggers them.
 */
#ifndef VMSH_VIRTIO_H
#define VMSH_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "guest.h"

#define VIRTIO_MMIO_WINDOW 0x1000	/* bytes of MMIO space per device */
#define VIRTIO_QUEUE_MAX_SIZE 256	/* QueueNumMax of every queue */
#define VIRTIO_DEV_MAX_QUEUES 2		/* console: receiveq + transmitq */
#define VIRTIO_BLK_MAX_CTL_SECTORS 2048 /* 1 MiB of control area at most */

struct virtio_dev;

/*
 * Callbacks shared by every device; ctx is passed back unchanged.
 * notify_irq(ctx, dev) is called each time dev sets a bit in InterruptStatus
 * (bit 0: used buffers, bit 1: configuration change), even one that was
 * already set: a repeated interrupt is harmless to the driver, and it
 * recovers an edge the guest may have lost. It may be NULL (tests).
 */
struct virtio_host {
	void (*notify_irq)(void *ctx, struct virtio_dev *dev);
	void *ctx;
};

/* ---- Device creation and state ---------------------------------------- */

struct virtio_blk_opts {
	struct virtio_host host;
	/*
	 * A regular file whose size is a multiple of 512, used with
	 * pread/pwrite. Not owned: close it after virtio_dev__free(). It must
	 * be open for writing unless read_only.
	 */
	int fd;
	/*
	 * Fail writes to the file's data with IOERR; offer VIRTIO_BLK_F_RO
	 * only without a control area (which stays writable).
	 */
	bool read_only;
	const char *serial; /* GET_ID answer, at most 20 bytes; NULL: empty */
	/*
	 * Sectors of in-memory control area after the file's data (0 for
	 * none, at most VIRTIO_BLK_MAX_CTL_SECTORS), initially zero. The
	 * guest reads and writes it like the rest of the disk; after each
	 * successful write request touching it, ctl_written (if not NULL) gets
	 * the byte offset into the area and the bytes now there. The area is
	 * shared memory: a process forked from this one (attach's keeper)
	 * sees what the guest writes there later.
	 */
	uint32_t ctl_sectors;
	void (*ctl_written)(void *ctx, uint64_t offset, const void *data, size_t len);
	/*
	 * Threads (0 to IOPOOL_MAX_THREADS) that serve requests beside the
	 * thread that takes the notifications, so that several are in flight
	 * (iopool.h). 0: that thread serves each request before it pops the
	 * next. Requests that cannot wait for the disk (one alone, or all in
	 * the page cache) are still served by that thread; the threads start
	 * the first time others come, and their completions then come through
	 * virtio_dev__completion_fd.
	 */
	unsigned io_threads;
};

/*
 * Create a virtio-blk device (ID 2, one request queue). Capacity is the
 * file's sectors plus ctl_sectors. 0 and *out set, or a negative errno
 * (pr_err): -EINVAL for a bad fd, file or option, -ENOMEM.
 */
int virtio_blk__create(struct virtio_dev **out, const struct virtio_blk_opts *opts);
/* Capacity in 512-byte sectors (what the guest sees in config space). */
uint64_t virtio_blk__capacity(const struct virtio_dev *dev);
/*
 * Host-side access to the control area: copy len bytes at byte offset
 * off. No callback, no interrupt. 0, or -EINVAL if out of the area or the
 * device is not a virtio-blk.
 */
int virtio_blk__ctl_read(const struct virtio_dev *dev, uint64_t off, void *buf, size_t len);
int virtio_blk__ctl_write(struct virtio_dev *dev, uint64_t off, const void *buf, size_t len);

struct virtio_console_opts {
	struct virtio_host host;
	uint16_t cols, rows; /* initial size (VIRTIO_CONSOLE_F_SIZE) */
	/*
	 * Bytes the guest transmitted. Return how many were taken (short is
	 * fine: it is called again with the rest); 0 or a negative errno
	 * drops the rest of that buffer. Must not call back into the device.
	 */
	ssize_t (*output)(void *ctx, const void *buf, size_t len);
	/*
	 * Optional: called when the guest notifies the receive queue (or
	 * becomes ready) and receive buffers are posted, so that a caller
	 * holding back input knows to retry virtio_console__input().
	 */
	void (*rx_ready)(void *ctx);
};

/* Create a virtio-console device (ID 3, one port). 0 or -ENOMEM. */
int virtio_console__create(struct virtio_dev **out, const struct virtio_console_opts *opts);
/*
 * Give the guest input: copy as much of buf as its posted receive buffers
 * take, mark them used and interrupt. Returns the number of bytes taken,
 * 0 when no buffer is posted (or the device is not live): the caller keeps
 * the rest and retries after rx_ready. -EINVAL if dev is not a console.
 */
ssize_t virtio_console__input(struct virtio_dev *dev, const void *buf, size_t len);
/* Whether input would take at least one byte now. */
bool virtio_console__can_input(struct virtio_dev *dev);
/*
 * Change the console size; raises a configuration-change interrupt if the
 * driver is live. 0 or -EINVAL if dev is not a console.
 */
int virtio_console__resize(struct virtio_dev *dev, uint16_t cols, uint16_t rows);

/* Free a device of any kind (NULL is fine). */
void virtio_dev__free(struct virtio_dev *dev);
/*
 * A device's memory is shared (MAP_SHARED anonymous): a process forked from
 * the device's owner (attach's keeper) sees its state as the owner leaves
 * it, registers, features and queues included. For the device models.
 */
void *virtio_dev__alloc(size_t size);
void virtio_dev__dealloc(void *p, size_t size);
/*
 * Guest memory for queues and buffers: *mem is copied, but mem->slots and
 * mem->ctx must stay valid until the next call or virtio_dev__free(). Call
 * it again whenever the memslots change. Before the first call, queue
 * notifications fail with -ENXIO and the device stays as it is; set it
 * before the guest can set DRIVER_OK, or buffers posted before DRIVER_OK
 * wait for the next notification.
 */
void virtio_dev__set_mem(struct virtio_dev *dev, const struct guest_mem *mem);
/* Device status as the driver set it, plus VIRTIO_CONFIG_S_NEEDS_RESET. */
uint32_t virtio_dev__status(const struct virtio_dev *dev);
/* Whether the driver set DRIVER_OK and the device does not need a reset. */
bool virtio_dev__live(const struct virtio_dev *dev);
/* Why the device needs a reset (for messages), or NULL if it does not. */
const char *virtio_dev__error(const struct virtio_dev *dev);
/* InterruptStatus: lets the caller re-send an interrupt still unacked. */
uint32_t virtio_dev__interrupt_status(const struct virtio_dev *dev);
uint32_t virtio_dev__device_id(const struct virtio_dev *dev);
const char *virtio_dev__name(const struct virtio_dev *dev);

/* ---- The MMIO transport ------------------------------------------------ */

/*
 * A trapped guest access of len bytes at offset into the device's window.
 * Registers below 0x100 take aligned 32-bit accesses only; the config
 * space at 0x100 takes 1, 2, 4 or 8 bytes within its size. Data is
 * little-endian, as in kvm_run.mmio.data (data holds len bytes, len at
 * most 8 for a valid access). A bad access reads as zeros or
 * is ignored (pr_debug) and returns -EINVAL; otherwise 0.
 */
int virtio_mmio__read(struct virtio_dev *dev, uint64_t offset, void *data, size_t len);
int virtio_mmio__write(struct virtio_dev *dev, uint64_t offset, const void *data, size_t len);
/*
 * The whole window as the driver would read it now, register by register
 * (no read has side effects), except InterruptStatus, which reads isr: for
 * a caller that serves reads from memory instead of trapping them.
 */
void virtio_mmio__snapshot(struct virtio_dev *dev, uint8_t page[VIRTIO_MMIO_WINDOW], uint32_t isr);
/*
 * The driver notified queue (QueueNotify write or ioeventfd): process all
 * buffers it made available. 0 (also when the device is not live and so
 * ignores it: buffers posted before DRIVER_OK are processed when it is
 * set), -EINVAL for a queue the device does not have, -ENXIO without guest
 * memory, -EIO if the device needs a reset (now or already).
 */
int virtio_mmio__queue_notify(struct virtio_dev *dev, uint32_t queue);

/*
 * Requests a device serves in the background (virtio-blk's I/O threads):
 * an fd that becomes readable when some are done, -1 if there is none (yet:
 * ask again after each notification). Then call virtio_mmio__complete,
 * which uses them in the order they were popped and interrupts for them;
 * wait: after all in flight are done (the caller's thread helping).
 * 0, or -EIO if the device needs a reset.
 */
int virtio_dev__completion_fd(struct virtio_dev *dev);
int virtio_mmio__complete(struct virtio_dev *dev, bool wait);

/*
 * Take up the device's queues where the guest's used rings say they are,
 * after another copy of this device (a vmsh that ended, see attach's
 * keeper) served them: each ready queue's used.idx and used.ring[0].id are
 * read back, and the next chain to pop is the first one not used yet.
 * Right because the device models use every queue's chains in the order
 * they pop them: a chain popped and not used by the other copy is done
 * again (a disk request is repeated, which reads and writes allow; console
 * output may come twice, and goes nowhere in the keeper). Every queue then
 * owes the guest an interrupt. 0, or -EIO (NEEDS_RESET, said) when a used
 * ring cannot be read.
 */
int virtio_mmio__resync(struct virtio_dev *dev);

/* ---- For the device models (virtio_blk.c, virtio_console.c) only ------ */

#define VIRTQ_DESC_SIZE 16
#define VIRTQ_USED_ELEM_SIZE 8

struct virtq_used_elem {
	uint32_t id, len; /* little-endian, as in the ring */
};

struct virtq {
	uint16_t num; /* QueueNum */
	bool ready;
	uint64_t desc, avail, used;
	uint16_t last_avail;  /* next avail.ring entry to pop */
	uint16_t avail_cache; /* avail.idx as last read */
	uint16_t used_idx;    /* our used.idx */
	uint32_t used0_id;    /* used.ring[0].id as last written (little-endian) */
	bool need_irq;	      /* used entries added since the last interrupt */
	/*
	 * VIRTIO_RING_F_EVENT_IDX (virtio 1.x 2.7.7, 2.7.10): the driver
	 * kicks only when it adds the entry at avail_event (used.ring[num]),
	 * and wants an interrupt only once used.idx passes used_event
	 * (avail.ring[num]). avail_event: the value vmsh last stored
	 * (avail_event_ok: it stored one since the queue was enabled).
	 * used_event: as read after vmsh's last used.idx store (used_event_ok).
	 * signalled_used: used.idx at the last interrupt decision
	 * (signalled_ok: one was made).
	 */
	bool event_idx;
	bool avail_event_ok, used_event_ok, signalled_ok;
	uint16_t avail_event, used_event, signalled_used;
	/*
	 * Read in one call right after avail.idx, when it shows new entries:
	 * the descriptor table (snap[0, 16 * num)) and the avail.ring entries
	 * from snap_base up to avail_cache (2 bytes each after the table).
	 * Descriptors and entries of available chains belong to the device
	 * until it uses them, so the copy is what the ring holds, and the
	 * checks and the use of a descriptor see the same bytes. snap_ok is
	 * false when that read failed (a ring partly outside RAM): pops then
	 * read the fields they need one by one, and fail on the first one
	 * that is bad, exactly as if there were no snapshot.
	 */
	bool snap_ok;
	uint16_t snap_base;
	/* avail.idx, twice, read with the snapshot (virtq__read_ahead): right before it */
	uint16_t snap_idx[2];
	uint8_t snap[VIRTIO_QUEUE_MAX_SIZE * (VIRTQ_DESC_SIZE + 2)];
	/* Pushed, not yet in the used ring: written by virtq__signal. */
	uint16_t used_pending;
	struct virtq_used_elem used_batch[VIRTIO_QUEUE_MAX_SIZE];
	/* virtq__push_last's bytes, written with the batch: where, and what */
	uint16_t last_pending;
	uint64_t last_gpa[VIRTIO_QUEUE_MAX_SIZE];
	uint8_t last_byte[VIRTIO_QUEUE_MAX_SIZE];
};

struct virtq_buf {
	uint64_t addr;
	uint32_t len;
};

/* A validated descriptor chain: bufs[0, nout) device-readable, the rest writable. */
struct virtq_chain {
	uint16_t head;
	uint16_t nbufs, nout;
	uint64_t out_len, in_len; /* each at most UINT32_MAX */
	struct virtq_buf bufs[VIRTIO_QUEUE_MAX_SIZE];
};

struct virtio_dev_ops {
	/* Process the available buffers of a ready queue of a live device. */
	void (*queue_notify)(struct virtio_dev *dev, unsigned int queue);
	void (*reset)(struct virtio_dev *dev); /* after a driver reset; may be NULL */
	/* Work in the background (may be NULL): virtio_dev__completion_fd, virtio_mmio__complete */
	int (*completion_fd)(struct virtio_dev *dev);
	void (*complete)(struct virtio_dev *dev, bool wait);
	void (*free)(struct virtio_dev *dev); /* free the containing struct */
};

struct virtio_dev {
	const char *name;
	uint32_t device_id;
	const struct virtio_dev_ops *ops;
	struct virtio_host host;
	struct guest_mem mem;
	bool has_mem;

	uint64_t device_features, driver_features;
	uint32_t device_features_sel, driver_features_sel;
	uint32_t queue_sel;
	uint32_t status;
	uint32_t isr;
	uint32_t config_generation;
	unsigned int fail_msgs; /* NEEDS_RESET messages printed with pr_err */
	char error[160];	/* why NEEDS_RESET is set */
	uint8_t *config;	/* little-endian config space, owned by the model */
	size_t config_len;

	unsigned int nqueues;
	struct virtq vqs[VIRTIO_DEV_MAX_QUEUES];
	struct virtq_chain chain; /* scratch for the one chain being processed */
};

/* Fill the transport part of a model's device (zeroed by the caller). */
void virtio_dev__init(struct virtio_dev *dev, const char *name, uint32_t device_id,
		      const struct virtio_dev_ops *ops, const struct virtio_host *host,
		      uint64_t device_features, unsigned int nqueues, uint8_t *config,
		      size_t config_len);
/*
 * The driver broke a rule: enter NEEDS_RESET, raise a configuration-change
 * interrupt and say why (once per transition; after 8 such messages,
 * further ones only with -vv).
 */
void virtio_dev__fail(struct virtio_dev *dev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The configuration changed: bump ConfigGeneration, interrupt if live. */
void virtio_dev__config_changed(struct virtio_dev *dev);

/*
 * Pop the next available chain of a queue into *c, validated. 1 if one
 * was popped, 0 if none is available, -EIO if the device needs a reset
 * (set here when the chain or ring is bad).
 */
int virtq__pop(struct virtio_dev *dev, unsigned int queue, struct virtq_chain *c);
/*
 * Chains known to be available after the last pop, from avail.idx as last
 * read (no guest memory call): more may have come since.
 */
unsigned int virtq__known_avail(const struct virtio_dev *dev, unsigned int queue);
/* Whether a chain is available (reads avail.idx); false on error. */
bool virtq__has_avail(struct virtio_dev *dev, unsigned int queue);
/*
 * Return a chain with len bytes written to it. The used element is only
 * queued (its place in the used ring is checked now): virtq__signal, or a
 * full batch, writes the batch's elements and then used.idx, two calls for
 * any number of chains. 0 or -EIO (NEEDS_RESET set).
 */
int virtq__push(struct virtio_dev *dev, unsigned int queue, uint16_t head, uint32_t len);
/*
 * virtq__push of chain c whose last writable byte is still to be set to
 * last (virtio-blk's status): the byte goes out in the same call as the
 * used elements, before used.idx, saving a call per chain. Its place is
 * checked now. 0 or -EIO (NEEDS_RESET set).
 */
int virtq__push_last(struct virtio_dev *dev, unsigned int queue, const struct virtq_chain *c,
		     uint32_t len, uint8_t last);
/*
 * Publish the pushed buffers (also after NEEDS_RESET was set later: they
 * were done), then interrupt for them, unless the driver suppressed it or
 * the device needs a reset. The transport calls it after every
 * notification; a model that pushes outside one (console input) calls it.
 */
void virtq__signal(struct virtio_dev *dev, unsigned int queue);
/*
 * Copy from the readable part of a chain at byte offset off, or into its
 * writable part, in one vectored guest memory call. 0, -EINVAL if
 * [off, off + len) is outside that part (a model bug; nothing is copied),
 * -EIO if guest memory failed (NEEDS_RESET set).
 */
int virtq_chain__read(struct virtio_dev *dev, const struct virtq_chain *c, uint64_t off, void *buf,
		      size_t len);
int virtq_chain__write(struct virtio_dev *dev, const struct virtq_chain *c, uint64_t off,
		       const void *buf, size_t len);
/*
 * virtq_chain__read for a read the model may do without needing it: a bad
 * buffer returns -EFAULT and leaves the device as it was.
 */
int virtq_chain__try_read(struct virtio_dev *dev, const struct virtq_chain *c, uint64_t off,
			  void *buf, size_t len);
/* virtq_chain__write that fails quietly (-EFAULT, the device as it was): a retry follows */
int virtq_chain__try_write(struct virtio_dev *dev, const struct virtq_chain *c, uint64_t off,
			   const void *buf, size_t len);

#endif
