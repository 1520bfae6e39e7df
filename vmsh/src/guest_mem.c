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

/*
 * Copy between buf and guest-physical memory, slot by slot (a buffer may
 * span adjacent slots). Writes never go to read-only slots: the guest cannot
 * write those either, and the hypervisor may back them with ROM it shares.
 */
static int guest__xfer_phys(const struct guest_mem *m, uint64_t gpa, void *buf, size_t len,
			    bool write)
{
	char *p = buf;

	if (!len)
		return 0;
	if (!m || (write ? !m->write_hva : !m->read_hva) || (!m->slots && m->nslots))
		return -EINVAL;
	if (gpa + (len - 1) < gpa || !guest_mem__covered(m, gpa, len, write))
		return -EFAULT;

	while (len) {
		const struct memslot *s = guest_mem__slot(m, gpa);
		uint64_t off, chunk;
		int ret;

		off = gpa - s->gpa;
		chunk = s->size - off;
		if (chunk > len)
			chunk = len;
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
