// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-blk (virtio 1.x, 5.2) over a regular file, plus an in-memory
 * control area after the file's data through which vmsh's in-guest helper
 * reports to vmsh without another device.
 *
 * The backing file is mapped into vmsh (MAP_SHARED), and the data of a
 * request moves in one copy between the file's page cache and the guest's
 * buffers, the mapping being the local side of process_vm_readv/writev, as
 * QEMU's default cache mode copies once between the page cache and guest
 * RAM: a read is the header, then one vectored write of the data; a write
 * is the header, then one vectored read of the data into the file's pages.
 * The status byte goes out with the used element (virtq__push_last), so a
 * request at queue depth 1 costs five guest memory calls with the rings'
 * (virtio_mmio.c). Where the mapping fails (a file truncated under vmsh, a full file
 * system on a page's first write), the chunk is done again through the
 * bounce buffer with pread/pwrite, which then says what failed: the file
 * (VIRTIO_BLK_S_IOERR) or the guest's buffers (a transport error).
 *
 * Without the mapping (mmap refused), requests go through a bounce buffer
 * of fixed size, so that a request of any length costs a bounded amount of
 * host memory. The buffer takes the largest request Linux makes
 * (max_sectors_kb: 1280 KiB by default) in one piece: a read is the
 * header, then one pread and one vectored write of the data and the status
 * byte; a write is the header and data in one vectored read, one pwrite,
 * then the status byte. A request the device cannot serve (range beyond the
 * disk, write to a read-only disk, I/O error) completes with
 * VIRTIO_BLK_S_IOERR; only a malformed chain is a transport error.
 *
 * Where the guest's RAM is mapped into vmsh (a shared, file-backed RAM of
 * the hypervisor: hvmem.h), a request within the file is one preadv or
 * pwritev straight between the file and the guest's buffers, with no copy
 * through vmsh at all.
 *
 * Several requests in flight (io_threads, iopool.h): the thread that takes
 * the notifications pops every available chain. It serves them itself, at
 * once, when none can wait for the disk: one alone with nothing else in
 * flight, as most come in the nested lab, or a batch whose pages are all
 * in the image's page cache (vblk__batch_cached: mincore on the mapping);
 * a thread's wake-up would only add to their latency, and in the one-CPU
 * lab handing such batches to threads cost 15% of the random reads.
 * Otherwise they go to the pool's threads, which move the data while that
 * thread goes back to the vCPUs and the console: an image on a slow disk,
 * not in the page cache, or on a file system vmsh cannot map (a network
 * file system), where they pay off (README's --slow-disk figures). Completions come back through
 * the pool's eventfd and are used in the order popped (virtio_mmio__resync
 * relies on it; the guest does not mind), by that thread alone, so the
 * rings, the interrupts and their no-lost-interrupt argument stay one
 * thread's (virtio_mmio.c). A pool's thread touches only the file, the
 * chain's buffers and its own bounce buffer; what needs the device's state
 * (a guest buffer it cannot reach: NEEDS_RESET and its message; the
 * control area and ctl_written) it leaves to the notifying thread, which
 * serves that request again in its turn. Threads, not io_uring: guest
 * memory is another process's, which io_uring cannot reach, so the data
 * would still move through process_vm_readv/writev on some thread. Attach's
 * keeper, a forked copy, serves without a pool: the threads are vmsh's.
 * Where the guest posts several requests, EVENT_IDX (virtio_mmio.c) also
 * lets them come in one notification, with one interrupt, and the ring
 * calls (snapshot, used elements, indices) are made once for all of them.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>

#include "iopool.h"
#include "util.h"
#include "virtio.h"

#define SECTOR_SIZE 512
#define VBLK_CHUNK (2 * 1024 * 1024)
#define VBLK_HDR_SIZE 16
/* capacity, size_max, seg_max, geometry, blk_size and the topology up to opt_io_size */
#define VBLK_CONFIG_SIZE 32
/*
 * The optimal I/O size the device says it has (VIRTIO_BLK_F_TOPOLOGY), in
 * 512-byte sectors: Linux (5.4 on) reads ahead twice that on the disk, 2 MiB
 * instead of 128 KiB. A tools image is read, not written, mostly through
 * page faults of programs starting (read-around): a static busybox of 2 MiB
 * then comes in 2 requests, not ~20 one after another. O_DIRECT I/O is not
 * read ahead, so the benchmark's requests are the same either way.
 */
#define VBLK_OPT_IO_SECTORS 2048
/* Requests larger than this go to the I/O threads without a look at the page cache */
#define VBLK_CACHED_MAX (1024 * 1024)

struct vblk {
	struct virtio_dev dev;
	int fd;
	bool read_only;
	char serial[VIRTIO_BLK_ID_BYTES];
	uint64_t file_bytes;
	uint64_t capacity; /* sectors */
	uint8_t *ctl;
	size_t ctl_bytes;
	void (*ctl_written)(void *ctx, uint64_t offset, const void *data, size_t len);
	uint8_t *map; /* the file's file_bytes, or NULL: bounce buffer only */
	uint8_t config[VBLK_CONFIG_SIZE];
	/*
	 * What serves requests: srv[0] is the thread that takes the queue's
	 * notifications, srv[1..io_threads] the pool's threads (iopool.h),
	 * made at the first notification by the process in pool_pid. The
	 * pointers are private memory in a shared struct: a keeper forked
	 * before the pool existed must not follow them, hence the pid.
	 */
	unsigned io_threads;
	pid_t pool_pid;
	struct iopool *pool;
	struct vblk_req *reqs; /* the pool's jobs: IOPOOL_MAX_JOBS, used as a ring */
	unsigned req_next;
	struct vblk_req *req_here; /* the one request being served without a pool */
	struct vblk_server {
		/*
		 * The request header, then VBLK_CHUNK bytes of data, then a byte
		 * for the status of a read (which follows its data in the chain).
		 */
		uint8_t *buf;
		uint8_t *bounce; /* buf + VBLK_HDR_SIZE */
	} srv[1 + IOPOOL_MAX_THREADS];
};

/* A request popped: its chain, then how it went. */
struct vblk_req {
	unsigned int queue;
	bool have_hdr; /* hdr read already (vblk__batch_cached) */
	struct virtio_blk_outhdr hdr;
	int st; /* VIRTIO_BLK_S_*, -EIO (NEEDS_RESET set), -EAGAIN (for srv[0]) */
	uint32_t written;
	bool status_done;
	struct virtq_chain c;
};

static struct vblk *to_vblk(struct virtio_dev *dev)
{
	return (struct vblk *)((char *)dev - offsetof(struct vblk, dev));
}

static int vblk__file_io(struct vblk *b, bool write, void *buf, size_t len, uint64_t pos)
{
	char *p = buf;

	while (len) {
		ssize_t n =
		    write ? pwrite(b->fd, p, len, (off_t)pos) : pread(b->fd, p, len, (off_t)pos);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EIO; /* 0: the file shrank under us */

			pr_err("virtio-blk: unable to %s backing file at offset %llu: %s",
			       write ? "write" : "read", (unsigned long long)pos, strerror(err));
			return -err;
		}
		p += n;
		pos += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Where guest memory is mapped into vmsh (hvmem.h): the request's data
 * buffers as iovecs, bytes [off, off + len) of the chain's readable (write)
 * or writable (read) part. false if any of it is not mapped or too many
 * pieces: the caller then goes through the bounce buffer.
 */
static bool vblk__direct_iov(struct vblk *b, const struct virtq_chain *c, bool write, uint64_t off,
			     uint64_t len, struct iovec *iov, int *niov)
{
	unsigned int first = write ? 0 : c->nout, last = write ? c->nout : c->nbufs;
	int n = 0;

	for (unsigned int i = first; i < last && len; i++) {
		uint64_t blen = c->bufs[i].len, skip = off < blen ? off : blen, take;
		void *p;

		off -= skip;
		take = blen - skip < len ? blen - skip : len;
		if (!take)
			continue;
		p = guest__phys_ptr(&b->dev.mem, c->bufs[i].addr + skip, (size_t)take, !write);
		if (!p || n == VIRTIO_QUEUE_MAX_SIZE)
			return false;
		iov[n++] = (struct iovec){ .iov_base = p, .iov_len = (size_t)take };
		len -= take;
	}
	*niov = n;
	return !len;
}

/*
 * Whether none of the request's data buffers is guest RAM mapped into vmsh:
 * then every copy to or from them is a process_vm_readv/writev, where a
 * fault on vmsh's own side is an error, not a signal.
 */
static bool vblk__unmapped(struct vblk *b, const struct virtq_chain *c, bool write)
{
	unsigned int first = write ? 0 : c->nout, last = write ? c->nout : c->nbufs;

	for (unsigned int i = first; i < last; i++)
		if (c->bufs[i].len &&
		    guest__phys_ptr(&b->dev.mem, c->bufs[i].addr, (size_t)c->bufs[i].len, !write))
			return false;
	return true;
}

/* preadv/pwritev all of iov at pos (which it consumes); 0 or -errno. */
static int vblk__file_iov(struct vblk *b, bool write, struct iovec *iov, int niov, uint64_t pos)
{
	while (niov) {
		ssize_t n = write ? pwritev(b->fd, iov, niov, (off_t)pos)
				  : preadv(b->fd, iov, niov, (off_t)pos);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;

			pr_err("virtio-blk: unable to %s backing file at offset %llu: %s",
			       write ? "write" : "read", (unsigned long long)pos, strerror(err));
			return -err;
		}
		pos += (uint64_t)n;
		while (niov && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			niov--;
		}
		if (niov) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/*
 * Whether s is a pool's thread: a guest memory error, or a request for the
 * control area, is not handled there but left to srv[0] (-EAGAIN), which
 * does it again with the device's state in reach: NEEDS_RESET and its
 * message, ctl_written.
 */
static bool vblk__pooled(const struct vblk *b, const struct vblk_server *s)
{
	return s != &b->srv[0];
}

/*
 * virtq_chain__read/write for s: -EIO (NEEDS_RESET set), or on a pool's
 * thread -EAGAIN with the device as it was.
 */
static int vblk__chain_io(struct vblk *b, const struct vblk_server *s, const struct virtq_chain *c,
			  bool write, uint64_t off, void *buf, size_t len)
{
	bool pooled = vblk__pooled(b, s);
	int ret;

	if (pooled)
		ret = write ? virtq_chain__try_write(&b->dev, c, off, buf, len)
			    : virtq_chain__try_read(&b->dev, c, off, buf, len);
	else
		ret = write ? virtq_chain__write(&b->dev, c, off, buf, len)
			    : virtq_chain__read(&b->dev, c, off, buf, len);
	return ret < 0 ? (pooled ? -EAGAIN : -EIO) : 0;
}

/*
 * Move data between the disk (file, then control area) at byte pos and the
 * chain: the writable part from offset 0 for reads, the readable part from
 * the header's end for writes. have: bytes of a write's data already in the
 * bounce buffer. A read that succeeds ends with the status byte, written
 * with the last data (*status_done). Returns a VIRTIO_BLK_S_* status, or
 * -EIO when the transport failed (the device needs a reset), or -EAGAIN
 * (vblk__chain_io).
 */
static int vblk__rw(struct vblk *b, struct vblk_server *s, const struct virtq_chain *c, bool write,
		    uint64_t pos, uint64_t len, size_t have, bool *status_done)
{
	uint64_t done = 0, ctl_lo = UINT64_MAX, ctl_hi = 0;
	struct iovec iov[VIRTIO_QUEUE_MAX_SIZE];
	bool use_map;
	int niov;

	/* the file straight to or from the guest's buffers: no copy in vmsh */
	if (len && pos + len <= b->file_bytes &&
	    vblk__direct_iov(b, c, write, write ? VBLK_HDR_SIZE : 0, len, iov, &niov)) {
		*status_done = false;
		return vblk__file_iov(b, write, iov, niov, pos) < 0 ? VIRTIO_BLK_S_IOERR
								    : VIRTIO_BLK_S_OK;
	}
	use_map = b->map && vblk__unmapped(b, c, write);
	while (done < len) {
		size_t n = len - done < VBLK_CHUNK ? (size_t)(len - done) : VBLK_CHUNK;
		uint64_t p = pos + done;
		/* the chunk's bytes in the file; the rest are in the control area */
		size_t in_file = p >= b->file_bytes	 ? 0
				 : b->file_bytes - p < n ? (size_t)(b->file_bytes - p)
							 : n;
		uint64_t ctl_off = p + in_file - b->file_bytes;
		int ret;

		/*
		 * The file's pages straight to or from the guest's buffers: one
		 * copy. Only through process_vm_readv/writev (use_map), whose
		 * faults on the mapping are errors: a memcpy from a truncated
		 * file's page would be SIGBUS.
		 */
		if (use_map && in_file == n && !(write && done == 0 && have >= n)) {
			ret = write ? virtq_chain__try_read(&b->dev, c, VBLK_HDR_SIZE + done,
							    b->map + p, n)
				    : virtq_chain__try_write(&b->dev, c, done, b->map + p, n);
			if (ret >= 0) {
				*status_done = false;
				done += n;
				continue;
			}
			/* again through the bounce buffer: the file's fault or the guest's? */
		}
		if (write) {
			if (!(done == 0 && have >= n)) {
				ret = vblk__chain_io(b, s, c, false, VBLK_HDR_SIZE + done,
						     s->bounce, n);
				if (ret < 0)
					return ret;
			}
			if (in_file && vblk__file_io(b, true, s->bounce, in_file, p) < 0)
				return VIRTIO_BLK_S_IOERR;
			if (n > in_file) {
				memcpy(b->ctl + ctl_off, s->bounce + in_file, n - in_file);
				if (ctl_off < ctl_lo)
					ctl_lo = ctl_off;
				ctl_hi = ctl_off + (n - in_file);
			}
		} else {
			bool last = done + n == len;

			if (in_file && vblk__file_io(b, false, s->bounce, in_file, p) < 0)
				return VIRTIO_BLK_S_IOERR;
			if (n > in_file)
				memcpy(s->bounce + in_file, b->ctl + ctl_off, n - in_file);
			/* the status byte is at the chain's offset len: right after */
			if (last)
				s->bounce[n] = VIRTIO_BLK_S_OK;
			ret = vblk__chain_io(b, s, c, true, done, s->bounce, n + last);
			if (ret < 0)
				return ret;
			*status_done = last;
		}
		done += n;
	}
	if (ctl_hi && b->ctl_written)
		b->ctl_written(b->dev.host.ctx, ctl_lo, b->ctl + ctl_lo, (size_t)(ctl_hi - ctl_lo));
	return VIRTIO_BLK_S_OK;
}

/* Whether [sector, sector + len bytes) is on the disk, len a whole number of sectors. */
static bool vblk__range_ok(const struct vblk *b, uint64_t sector, uint64_t len)
{
	return !(len % SECTOR_SIZE) && sector <= b->capacity &&
	       len / SECTOR_SIZE <= b->capacity - sector;
}

/*
 * Serve one request on s, its header known or NULL (read here); *written:
 * bytes written into the chain, *status_done: whether the status byte was
 * written too. Status, -EIO or -EAGAIN (vblk__chain_io; also a pool's
 * thread's answer to a request that reaches the control area).
 */
static int vblk__request(struct vblk *b, struct vblk_server *s, const struct virtq_chain *c,
			 const struct virtio_blk_outhdr *known, uint32_t *written,
			 bool *status_done)
{
	struct virtio_blk_outhdr hdr;
	uint64_t sector, data_len;
	size_t have = 0;
	uint32_t type;
	int st;

	if (known) {
		hdr = *known;
		goto parsed;
	}
	/*
	 * Without the file mapped: the header, and for a write its data (a
	 * request's other readable bytes), in one read. It is only a guess
	 * until the header is read: if any of it is bad, the header alone
	 * decides, as a refused write never touches its data.
	 */
	if (c->out_len > VBLK_HDR_SIZE && !b->dev.mem.ptr_hva && !b->map) {
		have = c->out_len - VBLK_HDR_SIZE < VBLK_CHUNK
			   ? (size_t)(c->out_len - VBLK_HDR_SIZE)
			   : VBLK_CHUNK;
		if (virtq_chain__try_read(&b->dev, c, 0, s->buf, VBLK_HDR_SIZE + have) < 0)
			have = 0;
	}
	if (!have && (st = vblk__chain_io(b, s, c, false, 0, s->buf, VBLK_HDR_SIZE)) < 0)
		return st;
	memcpy(&hdr, s->buf, sizeof(hdr));
parsed:
	type = le32toh(hdr.type);
	sector = le64toh(hdr.sector);
	data_len = c->in_len - 1;
	pr_debug("virtio-blk: request %u: type %u, sector %llu, %llu bytes in, %llu out", c->head,
		 type, (unsigned long long)sector, (unsigned long long)data_len,
		 (unsigned long long)c->out_len);

	switch (type) {
	case VIRTIO_BLK_T_IN:
		if (!vblk__range_ok(b, sector, data_len)) {
			pr_debug("virtio-blk: read of %llu bytes at sector %llu out of range",
				 (unsigned long long)data_len, (unsigned long long)sector);
			return VIRTIO_BLK_S_IOERR;
		}
		if (vblk__pooled(b, s) && sector * SECTOR_SIZE + data_len > b->file_bytes)
			return -EAGAIN;
		st = vblk__rw(b, s, c, false, sector * SECTOR_SIZE, data_len, 0, status_done);
		if (st == VIRTIO_BLK_S_OK)
			*written = (uint32_t)data_len;
		return st;
	case VIRTIO_BLK_T_OUT:
		data_len = c->out_len - VBLK_HDR_SIZE;
		/* a read-only image still takes writes to the control area */
		if (!vblk__range_ok(b, sector, data_len) ||
		    (b->read_only && sector * SECTOR_SIZE < b->file_bytes)) {
			pr_debug("virtio-blk: write of %llu bytes at sector %llu refused",
				 (unsigned long long)data_len, (unsigned long long)sector);
			return VIRTIO_BLK_S_IOERR;
		}
		if (vblk__pooled(b, s) && sector * SECTOR_SIZE + data_len > b->file_bytes)
			return -EAGAIN;
		return vblk__rw(b, s, c, true, sector * SECTOR_SIZE, data_len, have, status_done);
	case VIRTIO_BLK_T_FLUSH:
		if (fdatasync(b->fd) < 0) {
			pr_err("virtio-blk: unable to flush backing file: %s", strerror(errno));
			return VIRTIO_BLK_S_IOERR;
		}
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID: {
		size_t n = data_len < sizeof(b->serial) ? (size_t)data_len : sizeof(b->serial);

		if ((st = vblk__chain_io(b, s, c, true, 0, b->serial, n)) < 0)
			return st;
		*written = (uint32_t)n;
		return VIRTIO_BLK_S_OK;
	}
	}
	pr_debug("virtio-blk: unsupported request type %u", type);
	return VIRTIO_BLK_S_UNSUPP;
}

/* iopool_run_fn, and the same without a pool: serve request job on srv[server]. */
static void vblk__serve(void *ctx, void *job, unsigned server)
{
	struct vblk *b = ctx;
	struct vblk_req *r = job;

	r->written = 0;
	r->status_done = false;
	r->st = vblk__request(b, &b->srv[server], &r->c, r->have_hdr ? &r->hdr : NULL, &r->written,
			      &r->status_done);
}

/* Use a request served: its status byte (unless written) and used element. */
static int vblk__push(struct vblk *b, const struct vblk_req *r)
{
	if (r->status_done)
		return virtq__push(&b->dev, r->queue, r->c.head, r->written + 1);
	return virtq__push_last(&b->dev, r->queue, &r->c, r->written + 1, (uint8_t)r->st);
}

/* The pool, if this process has one (vblk's comment). */
static struct iopool *vblk__pool(struct vblk *b)
{
	return b->pool && b->pool_pid == getpid() ? b->pool : NULL;
}

/* A server's buffer; false without memory. */
static bool vblk__server_init(struct vblk_server *s)
{
	/* pages are only touched as requests need them */
	s->buf = malloc(VBLK_HDR_SIZE + VBLK_CHUNK + 1);
	s->bounce = s->buf ? s->buf + VBLK_HDR_SIZE : NULL;
	return s->buf;
}

/* The pool and what it serves with: stopped (waited for) and freed, NULL after. */
static void vblk__pool_free(struct vblk *b)
{
	iopool__free(b->pool);
	b->pool = NULL;
	for (unsigned t = 1; t <= IOPOOL_MAX_THREADS; t++) {
		free(b->srv[t].buf);
		b->srv[t] = (struct vblk_server){ 0 };
	}
	free(b->reqs);
	b->reqs = NULL;
}

/*
 * The pool and its threads' buffers, made at the first notification by the
 * first process to serve the device (attach's keeper, another, serves
 * without); its threads start only when a request can wait for the disk.
 * false (said) if that failed: requests are then served one at a time.
 */
static bool vblk__pool_start(struct vblk *b)
{
	bool ok;

	b->pool_pid = getpid();
	b->reqs = calloc(IOPOOL_MAX_JOBS, sizeof(*b->reqs));
	ok = b->reqs;
	for (unsigned t = 1; ok && t <= b->io_threads; t++)
		ok = vblk__server_init(&b->srv[t]);
	if (ok)
		b->pool = iopool__create(b->io_threads, vblk__serve, b);
	if (!b->pool) {
		pr_err("virtio-blk: no memory for %u I/O threads: requests are served one at a "
		       "time",
		       b->io_threads);
		vblk__pool_free(b);
		return false;
	}
	return true;
}

/*
 * Whether the n requests popped from reqs[first] will not wait for the
 * disk: all within the image, all of their pages in its page cache
 * (mincore on the mapping), none a flush. Their headers are read for it
 * (and kept: the server does not read them again). Then the notifying
 * thread serves them itself, one after another, as fast as a thread could
 * and without waking one (measured: handing such requests to threads cost
 * the nested lab ~10% of its random reads).
 */
static bool vblk__batch_cached(struct vblk *b, unsigned first, unsigned n)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned char in_core[VBLK_CACHED_MAX / 4096 + 1];

	if (!b->map || page != 4096)
		return false;
	for (unsigned i = 0; i < n; i++) {
		struct vblk_req *r = &b->reqs[(first + i) % IOPOOL_MAX_JOBS];
		uint64_t sector, len, pos, start;
		uint32_t type;

		if (virtq_chain__read(&b->dev, &r->c, 0, &r->hdr, sizeof(r->hdr)) < 0)
			return false;
		r->have_hdr = true;
		type = le32toh(r->hdr.type);
		sector = le64toh(r->hdr.sector);
		if (type == VIRTIO_BLK_T_FLUSH)
			return false;
		if (type != VIRTIO_BLK_T_IN && type != VIRTIO_BLK_T_OUT)
			continue; /* GET_ID, or refused: no disk */
		len = type == VIRTIO_BLK_T_IN ? r->c.in_len - 1 : r->c.out_len - VBLK_HDR_SIZE;
		if (!vblk__range_ok(b, sector, len))
			continue; /* refused */
		pos = sector * SECTOR_SIZE;
		if (len > VBLK_CACHED_MAX || pos + len > b->file_bytes)
			return false;
		start = pos & ~(uint64_t)4095;
		if (len && mincore(b->map + start, (size_t)(pos + len - start), in_core) < 0)
			return false;
		for (uint64_t pg = 0; len && pg < (pos + len - start + 4095) / 4096; pg++)
			if (!(in_core[pg] & 1))
				return false;
	}
	return true;
}

/*
 * Use what the pool has done, in the order it was popped. A request a
 * pool's thread left (-EAGAIN) is done again here first. Once the device
 * needs a reset, the rest are dropped: the driver's reset takes them.
 */
static void vblk__publish(struct vblk *b, struct iopool *pool)
{
	struct vblk_req *r;

	while ((r = iopool__take(pool))) {
		if (r->st == -EAGAIN)
			vblk__serve(b, r, 0);
		if (r->st >= 0 && !(b->dev.status & VIRTIO_CONFIG_S_NEEDS_RESET))
			vblk__push(b, r);
	}
}

/* Pop the next request into r, checked: 1, 0 if none, -EIO (NEEDS_RESET set). */
static int vblk__pop(struct vblk *b, unsigned int queue, struct vblk_req *r)
{
	int ret = virtq__pop(&b->dev, queue, &r->c);

	if (ret <= 0)
		return ret;
	if (r->c.out_len < VBLK_HDR_SIZE || r->c.in_len < 1) {
		virtio_dev__fail(&b->dev,
				 "request %u has %llu readable bytes (need %d) and %llu writable "
				 "(need 1)",
				 r->c.head, (unsigned long long)r->c.out_len, VBLK_HDR_SIZE,
				 (unsigned long long)r->c.in_len);
		return -EIO;
	}
	r->queue = queue;
	r->have_hdr = false;
	return 1;
}

/*
 * Requests for the pool: r (popped into the ring) and the rest available,
 * served here if none can wait for the disk (vblk__batch_cached), else by
 * the threads; then what is done is used. max: how many more may be popped.
 */
static void vblk__batch(struct vblk *b, struct iopool *pool, struct vblk_req *r, unsigned max)
{
	struct virtio_dev *dev = &b->dev;
	unsigned first = b->req_next, queue = r->queue;
	struct iopool_load load;

	iopool__submit(pool, r);
	b->req_next++;
	for (unsigned int i = 0; i < max; i++) {
		if (iopool__load(pool).in_flight >= dev->vqs[queue].num) {
			virtio_dev__fail(dev, "queue %u: more than %u requests in flight", queue,
					 dev->vqs[queue].num);
			break;
		}
		r = &b->reqs[b->req_next % IOPOOL_MAX_JOBS];
		if (vblk__pop(b, queue, r) <= 0)
			break;
		iopool__submit(pool, r);
		b->req_next++;
	}
	load = iopool__load(pool);
	if (load.queued == b->req_next - first && !load.running &&
	    vblk__batch_cached(b, first, load.queued))
		while (iopool__run_one(pool))
			;
	else if (load.queued)
		iopool__kick(pool);
	/* no thread could be started (said once): served here, one at a time */
	while (iopool__inline_only(pool) && iopool__run_one(pool))
		;
	vblk__publish(b, pool);
}

/*
 * Pop what the driver made available. Each request is served here, at
 * once, before the next is popped, as without a pool, unless the pool may
 * help: more requests known available right after it (avail.idx read with
 * the pop), or requests of the pool's still in flight (which must be used
 * first). Then it and the rest go to vblk__batch. Used in the order popped
 * either way (virtio_mmio__resync relies on it).
 */
static void vblk__queue_notify(struct virtio_dev *dev, unsigned int queue)
{
	struct vblk *b = to_vblk(dev);
	struct iopool *pool = vblk__pool(b);

	if (!pool && b->io_threads && !b->pool_pid && vblk__pool_start(b))
		pool = b->pool;
	/* At most a ring's worth per call: a racing guest gets another notify. */
	for (unsigned int i = 0; i < dev->vqs[queue].num; i++) {
		/* with a pool, its ring's next slot, taken only if submitted */
		struct vblk_req *r = pool ? &b->reqs[b->req_next % IOPOOL_MAX_JOBS] : b->req_here;

		if (vblk__pop(b, queue, r) <= 0)
			return;
		if (pool && (virtq__known_avail(dev, queue) || iopool__load(pool).in_flight)) {
			vblk__batch(b, pool, r, dev->vqs[queue].num - i - 1);
			return;
		}
		vblk__serve(b, r, 0);
		if (r->st < 0 || vblk__push(b, r) < 0)
			return;
	}
}

/* virtio_dev_ops.complete: use what the pool has done; wait: all it has. */
static void vblk__complete(struct virtio_dev *dev, bool wait)
{
	struct vblk *b = to_vblk(dev);
	struct iopool *pool = vblk__pool(b);

	if (!pool)
		return;
	iopool__ack(pool);
	if (wait)
		iopool__wait(pool, true);
	vblk__publish(b, pool);
}

static int vblk__completion_fd(struct virtio_dev *dev)
{
	struct iopool *pool = vblk__pool(to_vblk(dev));

	return pool ? iopool__fd(pool) : -1;
}

/*
 * A driver reset: the requests in flight must not touch the guest's
 * buffers after it, nor be used. Those not started are dropped; the
 * running ones are waited for.
 */
static void vblk__reset(struct virtio_dev *dev)
{
	struct vblk *b = to_vblk(dev);
	struct iopool *pool = vblk__pool(b);

	if (!pool)
		return;
	iopool__wait(pool, false);
	iopool__ack(pool);
	while (iopool__take(pool))
		;
}

static void vblk__free(struct virtio_dev *dev)
{
	struct vblk *b = to_vblk(dev);

	/* not the pool of another process: its threads are not here */
	if (vblk__pool(b))
		vblk__pool_free(b);
	if (b->map)
		munmap(b->map, (size_t)b->file_bytes);
	virtio_dev__dealloc(b->ctl, b->ctl_bytes ? b->ctl_bytes : 1);
	free(b->srv[0].buf);
	free(b->req_here);
	virtio_dev__dealloc(b, sizeof(*b));
}

static const struct virtio_dev_ops vblk_ops = {
	.queue_notify = vblk__queue_notify,
	.complete = vblk__complete,
	.completion_fd = vblk__completion_fd,
	.reset = vblk__reset,
	.free = vblk__free,
};

static int vblk__check_opts(const struct virtio_blk_opts *o, uint64_t *file_bytes)
{
	struct stat st;
	int fl;

	if (o->serial && strlen(o->serial) > VIRTIO_BLK_ID_BYTES) {
		pr_err("virtio-blk: serial \"%s\" is longer than %d bytes", o->serial,
		       VIRTIO_BLK_ID_BYTES);
		return -EINVAL;
	}
	if (o->ctl_sectors > VIRTIO_BLK_MAX_CTL_SECTORS) {
		pr_err("virtio-blk: control area of %u sectors is over the limit of %d",
		       o->ctl_sectors, VIRTIO_BLK_MAX_CTL_SECTORS);
		return -EINVAL;
	}
	if (o->io_threads > IOPOOL_MAX_THREADS) {
		pr_err("virtio-blk: %u I/O threads is over the limit of %d", o->io_threads,
		       IOPOOL_MAX_THREADS);
		return -EINVAL;
	}
	if (fstat(o->fd, &st) < 0 || (fl = fcntl(o->fd, F_GETFL)) < 0) {
		pr_err("virtio-blk: unable to use backing fd %d: %s", o->fd, strerror(errno));
		return -EINVAL;
	}
	if (!S_ISREG(st.st_mode)) {
		pr_err("virtio-blk: backing file must be a regular file");
		return -EINVAL;
	}
	if (st.st_size % SECTOR_SIZE) {
		pr_err("virtio-blk: backing file size %lld is not a multiple of %d",
		       (long long)st.st_size, SECTOR_SIZE);
		return -EINVAL;
	}
	if (!o->read_only && (fl & O_ACCMODE) == O_RDONLY) {
		pr_err("virtio-blk: backing file is open read-only; open it read-write or make "
		       "the disk read-only");
		return -EINVAL;
	}
	*file_bytes = (uint64_t)st.st_size;
	return 0;
}

int virtio_blk__create(struct virtio_dev **out, const struct virtio_blk_opts *opts)
{
	uint64_t features = 1ULL << VIRTIO_BLK_F_SEG_MAX | 1ULL << VIRTIO_BLK_F_FLUSH |
			    1ULL << VIRTIO_BLK_F_TOPOLOGY;
	uint64_t file_bytes, cap;
	uint32_t seg_max, opt_io;
	struct vblk *b;
	int ret;

	ret = vblk__check_opts(opts, &file_bytes);
	if (ret < 0)
		return ret;
	b = virtio_dev__alloc(sizeof(*b));
	if (!b)
		goto nomem;
	b->req_here = malloc(sizeof(*b->req_here));
	b->ctl_bytes = (size_t)opts->ctl_sectors * SECTOR_SIZE;
	b->ctl = virtio_dev__alloc(b->ctl_bytes ? b->ctl_bytes : 1);
	if (!vblk__server_init(&b->srv[0]) || !b->req_here || !b->ctl)
		goto nomem;
	b->io_threads = opts->io_threads;
	b->fd = opts->fd;
	b->read_only = opts->read_only;
	if (opts->serial)
		memcpy(b->serial, opts->serial, strlen(opts->serial));
	b->file_bytes = file_bytes;
	if (file_bytes && file_bytes <= SIZE_MAX) {
		b->map = mmap(NULL, (size_t)file_bytes, PROT_READ | (b->read_only ? 0 : PROT_WRITE),
			      MAP_SHARED, b->fd, 0);
		if (b->map == MAP_FAILED) {
			pr_debug("virtio-blk: cannot map the backing file (%s): bounce buffer only",
				 strerror(errno));
			b->map = NULL;
		}
	}
	b->capacity = file_bytes / SECTOR_SIZE + opts->ctl_sectors;
	b->ctl_written = opts->ctl_written;
	/* F_RO makes the guest refuse every write, the control area's too */
	if (b->read_only && !opts->ctl_sectors)
		features |= 1ULL << VIRTIO_BLK_F_RO;

	/* Two descriptors of every chain go to the header and the status. */
	cap = htole64(b->capacity);
	seg_max = htole32(VIRTIO_QUEUE_MAX_SIZE - 2);
	memcpy(b->config + offsetof(struct virtio_blk_config, capacity), &cap, sizeof(cap));
	memcpy(b->config + offsetof(struct virtio_blk_config, seg_max), &seg_max, sizeof(seg_max));
	opt_io = htole32(VBLK_OPT_IO_SECTORS);
	memcpy(b->config + offsetof(struct virtio_blk_config, opt_io_size), &opt_io,
	       sizeof(opt_io));
	virtio_dev__init(&b->dev, "virtio-blk", VIRTIO_ID_BLOCK, &vblk_ops, &opts->host, features,
			 1, b->config, sizeof(b->config));
	*out = &b->dev;
	return 0;

nomem:
	pr_err("virtio-blk: out of memory");
	if (b)
		vblk__free(&b->dev);
	return -ENOMEM;
}

uint64_t virtio_blk__capacity(const struct virtio_dev *dev)
{
	return dev->ops == &vblk_ops ? to_vblk((struct virtio_dev *)dev)->capacity : 0;
}

static struct vblk *vblk__ctl_range(const struct virtio_dev *dev, uint64_t off, size_t len)
{
	struct vblk *b;

	if (dev->ops != &vblk_ops)
		return NULL;
	b = to_vblk((struct virtio_dev *)dev);
	return off <= b->ctl_bytes && len <= b->ctl_bytes - off ? b : NULL;
}

int virtio_blk__ctl_read(const struct virtio_dev *dev, uint64_t off, void *buf, size_t len)
{
	struct vblk *b = vblk__ctl_range(dev, off, len);

	if (!b)
		return -EINVAL;
	if (len)
		memcpy(buf, b->ctl + off, len);
	return 0;
}

int virtio_blk__ctl_write(struct virtio_dev *dev, uint64_t off, const void *buf, size_t len)
{
	struct vblk *b = vblk__ctl_range(dev, off, len);

	if (!b)
		return -EINVAL;
	if (len)
		memcpy(b->ctl + off, buf, len);
	return 0;
}
