// SPDX-License-Identifier: GPL-2.0
/*
 * Guest-physical memory through the hypervisor's memslots.
 *
 * vmsh never maps the guest's RAM: a guest-physical address is turned into
 * an address of the hypervisor process (the slot's userspace_addr plus the
 * offset into the slot) and read through a callback, process_vm_readv(2) for
 * a live hypervisor. Slot ranges come from the kernel, but a slot's hva range
 * is only as good as the hypervisor's mappings, and every address we are
 * asked for comes from guest data (page tables, symbol tables): all
 * arithmetic is overflow-checked and any byte outside every slot is -EFAULT.
 *
 * Each callback call is a system call for a live hypervisor, and that, not
 * the copy, is what a virtqueue's many small fields cost: the vectored
 * forms move any number of guest ranges (ring entries, descriptors, a
 * chain's buffers) in one process_vm_readv/writev.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <linux/kvm.h>

#include "guest.h"
#include "util.h"

/*
 * process_vm_readv/writev() may stop at the first page it cannot read and report a
 * short count, so loop until done; a transfer of 0 bytes means the next page
 * is not readable and would spin forever.
 */
static int guest__xfer_hva_process(pid_t pid, uint64_t hva, void *buf, size_t len, bool write)
{
	char *p = buf;

	if (len && hva + len - 1 < hva)
		return -EFAULT;
	while (len) {
		struct iovec local = { .iov_base = p, .iov_len = len };
		struct iovec remote = { .iov_base = (void *)(uintptr_t)hva, .iov_len = len };
		ssize_t n = write ? process_vm_writev(pid, &local, 1, &remote, 1, 0)
				  : process_vm_readv(pid, &local, 1, &remote, 1, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EFAULT;
		p += n;
		hva += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int guest__read_hva_process(void *ctx, uint64_t hva, void *buf, size_t len)
{
	return guest__xfer_hva_process(*(const pid_t *)ctx, hva, buf, len, false);
}

int guest__write_hva_process(void *ctx, uint64_t hva, const void *buf, size_t len)
{
	return guest__xfer_hva_process(*(const pid_t *)ctx, hva, (void *)buf, len, true);
}

/*
 * The vectored form: the ranges become remote iovecs of one call (the local
 * side is one iovec, the contiguous buffer), GUEST_MAX_SEGS at a time. A
 * partial transfer resumes at the first byte not moved, with the same rule
 * as above: 0 bytes moved is -EFAULT.
 */
static int guest__xferv_hva_process(pid_t pid, const struct guest_hva_seg *segs, size_t nsegs,
				    char *p, bool write)
{
	struct iovec remote[GUEST_MAX_SEGS];
	size_t i = 0, skip = 0; /* the next byte to move: segs[i].hva + skip */

	for (size_t k = 0; k < nsegs; k++)
		if (segs[k].len && segs[k].hva + (segs[k].len - 1) < segs[k].hva)
			return -EFAULT;
	for (;;) {
		struct iovec local = { .iov_base = p, .iov_len = 0 };
		unsigned long n = 0;
		ssize_t got;
		size_t left;

		while (i < nsegs && segs[i].len == skip) {
			i++;
			skip = 0;
		}
		if (i == nsegs)
			return 0;
		for (size_t k = i; k < nsegs && n < GUEST_MAX_SEGS; k++) {
			size_t off = k == i ? skip : 0;

			if (segs[k].len == off)
				continue;
			remote[n].iov_base = (void *)(uintptr_t)(segs[k].hva + off);
			remote[n].iov_len = segs[k].len - off;
			local.iov_len += segs[k].len - off;
			n++;
		}
		got = write ? process_vm_writev(pid, &local, 1, remote, n, 0)
			    : process_vm_readv(pid, &local, 1, remote, n, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (got == 0)
			return -EFAULT;
		p += got;
		for (left = (size_t)got; left;) {
			size_t rest = segs[i].len - skip;

			if (left < rest) {
				skip += left;
				break;
			}
			left -= rest;
			i++;
			skip = 0;
		}
	}
}

int guest__readv_hva_process(void *ctx, const struct guest_hva_seg *segs, size_t nsegs, void *buf)
{
	return guest__xferv_hva_process(*(const pid_t *)ctx, segs, nsegs, buf, false);
}

int guest__writev_hva_process(void *ctx, const struct guest_hva_seg *segs, size_t nsegs,
			      const void *buf)
{
	return guest__xferv_hva_process(*(const pid_t *)ctx, segs, nsegs, (void *)buf, true);
}

/*
 * The slot holding gpa, or NULL. Only address space 0 counts: slots of
 * address space 1 (SMM, id >> 16 == 1) overlap normal RAM and are what the
 * vCPU sees only in System Management Mode. Slots whose ranges would wrap
 * around are skipped: such a slot cannot be backed by real memory, and
 * using it would turn one bad value into reads at arbitrary host addresses.
 */
static const struct memslot *guest_mem__slot(const struct guest_mem *m, uint64_t gpa)
{
	for (size_t i = 0; i < m->nslots; i++) {
		const struct memslot *s = &m->slots[i];

		if (s->id >> 16 || !s->size || s->gpa + (s->size - 1) < s->gpa ||
		    s->hva + (s->size - 1) < s->hva)
			continue;
		if (gpa >= s->gpa && gpa - s->gpa < s->size)
			return s;
	}
	return NULL;
}

/*
 * Whether every byte of [gpa, gpa + len) is in a slot (a writable one if
 * write): checked before a transfer so that a bad range changes nothing.
 */
static bool guest_mem__covered(const struct guest_mem *m, uint64_t gpa, size_t len, bool write)
{
	while (len) {
		const struct memslot *s = guest_mem__slot(m, gpa);
		uint64_t chunk;

		if (!s || (write && (s->flags & KVM_MEM_READONLY))) {
			pr_debug("guest-physical 0x%llx is in no %smemslot",
				 (unsigned long long)gpa, write ? "writable " : "");
			return false;
		}
		chunk = s->size - (gpa - s->gpa);
		if (chunk >= len)
			return true;
		gpa += chunk;
		len -= (size_t)chunk;
	}
	return true;
}

static void guest_mem__count(const struct guest_mem *m)
{
	/* virtio-blk's I/O threads count too */
	if (m->calls)
		__atomic_fetch_add(m->calls, 1, __ATOMIC_RELAXED);
}

void *guest__phys_ptr(const struct guest_mem *m, uint64_t gpa, size_t len, bool write)
{
	const struct memslot *s;

	if (!m || !m->ptr_hva || !len || gpa + (len - 1) < gpa)
		return NULL;
	s = guest_mem__slot(m, gpa);
	if (!s || len > s->size - (gpa - s->gpa) || (write && (s->flags & KVM_MEM_READONLY)))
		return NULL;
	return m->ptr_hva(m->ctx, s->hva + (gpa - s->gpa), len);
}

int guest__check_phys(const struct guest_mem *m, uint64_t gpa, size_t len, bool write)
{
	if (!m || (write ? !m->write_hva : !m->read_hva) || (!m->slots && m->nslots))
		return -EINVAL;
	if (len && (gpa + (len - 1) < gpa || !guest_mem__covered(m, gpa, len, write)))
		return -EFAULT;
	return 0;
}

/*
 * Copy between buf and guest-physical memory, slot by slot (a buffer may
 * span adjacent slots). Writes never go to read-only slots: the guest cannot
 * write those either, and the hypervisor may back them with ROM it shares.
 */
static int guest__xfer_phys(const struct guest_mem *m, uint64_t gpa, void *buf, size_t len,
			    bool write)
{
	char *p = buf;

	int ret;

	if (!len)
		return 0;
	ret = guest__check_phys(m, gpa, len, write);
	if (ret < 0)
		return ret;

	while (len) {
		const struct memslot *s = guest_mem__slot(m, gpa);
		uint64_t off, chunk;

		off = gpa - s->gpa;
		chunk = s->size - off;
		if (chunk > len)
			chunk = len;
		guest_mem__count(m);
		ret = write ? m->write_hva(m->ctx, s->hva + off, p, (size_t)chunk)
			    : m->read_hva(m->ctx, s->hva + off, p, (size_t)chunk);
		if (ret < 0)
			return ret;
		p += chunk;
		gpa += chunk;
		len -= (size_t)chunk;
	}
	return 0;
}

int guest__read_phys(const struct guest_mem *m, uint64_t gpa, void *buf, size_t len)
{
	return guest__xfer_phys(m, gpa, buf, len, false);
}

int guest__write_phys(const struct guest_mem *m, uint64_t gpa, const void *buf, size_t len)
{
	return guest__xfer_phys(m, gpa, (void *)buf, len, true);
}

/*
 * Hand a batch of translated pieces to the vectored callback, or to the
 * scalar one piece by piece when there is none.
 */
static int guest_mem__flush(const struct guest_mem *m, const struct guest_hva_seg *hs, size_t n,
			    char *p, bool write)
{
	int (*readv)(void *, const struct guest_hva_seg *, size_t, void *) = m->readv_hva;
	int (*writev)(void *, const struct guest_hva_seg *, size_t, const void *) = m->writev_hva;
	int ret;

	/* attach and inspect set only the scalar process callbacks */
	if (!readv && m->read_hva == guest__read_hva_process)
		readv = guest__readv_hva_process;
	if (!writev && m->write_hva == guest__write_hva_process)
		writev = guest__writev_hva_process;
	if (write ? writev != NULL : readv != NULL) {
		guest_mem__count(m);
		return write ? writev(m->ctx, hs, n, p) : readv(m->ctx, hs, n, p);
	}
	for (size_t k = 0; k < n; k++) {
		guest_mem__count(m);
		ret = write ? m->write_hva(m->ctx, hs[k].hva, p, hs[k].len)
			    : m->read_hva(m->ctx, hs[k].hva, p, hs[k].len);
		if (ret < 0)
			return ret;
		p += hs[k].len;
	}
	return 0;
}

/*
 * Check every range first (all or nothing, as guest__xfer_phys), then
 * translate them into pieces of at most one slot each, and move a batch of
 * GUEST_MAX_SEGS pieces per callback call.
 */
static int guest__xferv_phys(const struct guest_mem *m, const struct guest_seg *segs, size_t nsegs,
			     char *p, size_t *bad, bool write)
{
	struct guest_hva_seg hs[GUEST_MAX_SEGS];
	size_t n = 0, total = 0, dummy;
	int ret;

	if (!bad)
		bad = &dummy;
	*bad = SIZE_MAX;
	if (!m || (write ? !m->write_hva && !m->writev_hva : !m->read_hva && !m->readv_hva) ||
	    (!m->slots && m->nslots) || (nsegs && !segs))
		return -EINVAL;
	for (size_t k = 0; k < nsegs; k++) {
		if (total + segs[k].len < total)
			return -EINVAL;
		total += segs[k].len;
		if (segs[k].len && (segs[k].gpa + (segs[k].len - 1) < segs[k].gpa ||
				    !guest_mem__covered(m, segs[k].gpa, segs[k].len, write))) {
			*bad = k;
			return -EFAULT;
		}
	}
	for (size_t k = 0; k < nsegs; k++) {
		uint64_t gpa = segs[k].gpa;
		size_t len = segs[k].len;

		while (len) {
			const struct memslot *s = guest_mem__slot(m, gpa);
			uint64_t off = gpa - s->gpa, chunk = s->size - off;

			if (chunk > len)
				chunk = len;
			if (n == GUEST_MAX_SEGS) {
				ret = guest_mem__flush(m, hs, n, p, write);
				if (ret < 0)
					return ret;
				for (size_t j = 0; j < n; j++)
					p += hs[j].len;
				n = 0;
			}
			hs[n++] =
			    (struct guest_hva_seg){ .hva = s->hva + off, .len = (size_t)chunk };
			gpa += chunk;
			len -= (size_t)chunk;
		}
	}
	return n ? guest_mem__flush(m, hs, n, p, write) : 0;
}

int guest__readv_phys(const struct guest_mem *m, const struct guest_seg *segs, size_t nsegs,
		      void *buf, size_t *bad)
{
	return guest__xferv_phys(m, segs, nsegs, buf, bad, false);
}

int guest__writev_phys(const struct guest_mem *m, const struct guest_seg *segs, size_t nsegs,
		       const void *buf, size_t *bad)
{
	return guest__xferv_phys(m, segs, nsegs, (void *)buf, bad, true);
}
