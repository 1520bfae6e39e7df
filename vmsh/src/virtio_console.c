// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-console (virtio 1.x, 5.3) with a single port: receiveq 0 carries
 * the caller's input into buffers the guest posted, transmitq 1 carries the
 * guest's output to a callback. No MULTIPORT, so there are no control
 * queues; VIRTIO_CONSOLE_F_SIZE gives the guest the terminal size.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>

#include "util.h"
#include "virtio.h"

#define VCONS_RXQ 0
#define VCONS_TXQ 1
#define VCONS_CHUNK 4096
#define VCONS_CONFIG_SIZE 12 /* cols, rows, max_nr_ports, emerg_wr */

struct vcons {
	struct virtio_dev dev;
	ssize_t (*output)(void *ctx, const void *buf, size_t len);
	void (*rx_ready)(void *ctx);
	uint8_t bounce[VCONS_CHUNK];
	uint8_t config[VCONS_CONFIG_SIZE];
};

static struct vcons *to_vcons(struct virtio_dev *dev)
{
	return (struct vcons *)((char *)dev - offsetof(struct vcons, dev));
}

static void vcons__set_size(struct vcons *v, uint16_t cols, uint16_t rows)
{
	uint16_t c = htole16(cols), r = htole16(rows);

	memcpy(v->config + offsetof(struct virtio_console_config, cols), &c, sizeof(c));
	memcpy(v->config + offsetof(struct virtio_console_config, rows), &r, sizeof(r));
}

/* Hand a chain's readable bytes to output; what it refuses is dropped. */
static int vcons__transmit(struct vcons *v, const struct virtq_chain *c)
{
	uint64_t off = 0;

	while (off < c->out_len) {
		size_t n =
		    c->out_len - off < VCONS_CHUNK ? (size_t)(c->out_len - off) : VCONS_CHUNK;
		size_t done = 0;

		if (virtq_chain__read(&v->dev, c, off, v->bounce, n) < 0)
			return -EIO;
		while (done < n && v->output) {
			ssize_t w = v->output(v->dev.host.ctx, v->bounce + done, n - done);

			if (w <= 0 || (size_t)w > n - done) {
				pr_debug("virtio-console: output refused %zu bytes", n - done);
				return 0;
			}
			done += (size_t)w;
		}
		off += n;
	}
	return 0;
}

static void vcons__queue_notify(struct virtio_dev *dev, unsigned int queue)
{
	struct vcons *v = to_vcons(dev);

	if (queue == VCONS_RXQ) {
		if (v->rx_ready && virtq__has_avail(dev, VCONS_RXQ))
			v->rx_ready(dev->host.ctx);
		return;
	}
	for (unsigned int i = 0; i < dev->vqs[queue].num; i++) {
		if (virtq__pop(dev, queue, &dev->chain) <= 0 ||
		    vcons__transmit(v, &dev->chain) < 0 ||
		    virtq__push(dev, queue, dev->chain.head, 0) < 0)
			return;
	}
}

ssize_t virtio_console__input(struct virtio_dev *dev, const void *buf, size_t len)
{
	struct virtq_chain *c = &dev->chain;
	const char *p = buf;
	size_t done = 0;

	if (dev->ops->queue_notify != vcons__queue_notify)
		return -EINVAL;
	for (unsigned int i = 0; i < dev->vqs[VCONS_RXQ].num && done < len; i++) {
		size_t n;

		if (virtq__pop(dev, VCONS_RXQ, c) <= 0)
			break;
		n = len - done < c->in_len ? len - done : (size_t)c->in_len;
		if (virtq_chain__write(dev, c, 0, p + done, n) < 0 ||
		    virtq__push(dev, VCONS_RXQ, c->head, (uint32_t)n) < 0)
			break;
		done += n;
	}
	virtq__signal(dev, VCONS_RXQ);
	return (ssize_t)done;
}

bool virtio_console__can_input(struct virtio_dev *dev)
{
	return dev->ops->queue_notify == vcons__queue_notify && virtq__has_avail(dev, VCONS_RXQ);
}

int virtio_console__resize(struct virtio_dev *dev, uint16_t cols, uint16_t rows)
{
	if (dev->ops->queue_notify != vcons__queue_notify)
		return -EINVAL;
	vcons__set_size(to_vcons(dev), cols, rows);
	virtio_dev__config_changed(dev);
	return 0;
}

static void vcons__free(struct virtio_dev *dev)
{
	virtio_dev__dealloc(to_vcons(dev), sizeof(struct vcons));
}

static const struct virtio_dev_ops vcons_ops = {
	.queue_notify = vcons__queue_notify,
	.free = vcons__free,
};

int virtio_console__create(struct virtio_dev **out, const struct virtio_console_opts *opts)
{
	struct vcons *v = virtio_dev__alloc(sizeof(*v));
	uint32_t ports = htole32(1);

	if (!v) {
		pr_err("virtio-console: out of memory");
		return -ENOMEM;
	}
	v->output = opts->output;
	v->rx_ready = opts->rx_ready;
	vcons__set_size(v, opts->cols, opts->rows);
	memcpy(v->config + offsetof(struct virtio_console_config, max_nr_ports), &ports,
	       sizeof(ports));
	virtio_dev__init(&v->dev, "virtio-console", VIRTIO_ID_CONSOLE, &vcons_ops, &opts->host,
			 1ULL << VIRTIO_CONSOLE_F_SIZE, 2, v->config, sizeof(v->config));
	*out = &v->dev;
	return 0;
}
