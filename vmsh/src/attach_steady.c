// SPDX-License-Identifier: GPL-2.0
/*
 * vmsh attach's steady state: once the guest's drivers have probed both
 * devices and CMD runs, vmsh stops tracing the hypervisor until detach
 * (lab-notes.md §3 measured what this relies on):
 *  - a read-only memslot over the two 0x1000-byte MMIO windows, backed by
 *    two pages of vmsh's RAM that hold each device's registers as the
 *    driver would read them: every read is served by KVM from memory, with
 *    no exit at all;
 *  - ioeventfds take the only writes a live virtio-mmio driver makes:
 *    QueueNotify (the queue's eventfd, as before) and InterruptACK (one
 *    eventfd vmsh only counts); both stay in the kernel;
 *  - interrupts go out through the irqfd, as before.
 * Nothing then stops, traces or wakes the hypervisor; vmsh serves the queues
 * from its eventfds and guest memory (process_vm_readv/writev).
 *
 * Why no interrupt can be lost: in the pages, InterruptStatus always has
 * VIRTIO_MMIO_INT_VRING set, so every interrupt makes Linux's vm_interrupt()
 * look at every queue (vring_interrupt() returns IRQ_NONE when there is
 * nothing new, which is harmless). vmsh pushes used buffers before it
 * pulses the edge-triggered line, so each pulse is followed by a handler
 * run that starts after those buffers were visible: if the line is already
 * pending, one run covers both. An acknowledgement never clears anything,
 * so there is no window between a guest's read of InterruptStatus and its
 * write to InterruptACK in which a new event could be wiped (the race the
 * original closed with a 1 ms re-send timer). Configuration changes
 * (console resize, or a device entering NEEDS_RESET) set
 * VIRTIO_MMIO_INT_CONFIG for good: the new config space and
 * ConfigGeneration are in the page before the bit, and the bit before the
 * pulse; later interrupts make the driver re-read an unchanged config,
 * which costs it nothing (a resize to the same size is a no-op).
 *
 * The driver's other registers (QueueSel, Status, ...) are only written
 * when it resets or removes a device. vmsh leaves the steady state before
 * it asks stage1 to remove them (attach__steady_leave), so those writes are
 * trapped and served again. A guest that resets a device on its own while
 * steady would reach the hypervisor instead (QEMU ignores writes to
 * unassigned memory) and find the device unresponsive until detach.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <linux/virtio_mmio.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "attach.h"
#include "memslots.h"
#include "util.h"

#define REG_PAGES (ATTACH_NDEV * GUESTRAM_MMIO_SIZE)

/* vmsh's own CPU time (user + system), to show what the steady state costs. */
static uint64_t cpu_ns(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
}

/* Write device d's page into the guest; 0 or a negative errno. */
static int steady_write_page(struct attach *a, int d)
{
	uint8_t page[GUESTRAM_MMIO_SIZE];
	struct virtio_dev *dev = a->dev[d];

	a->sync[d].status = virtio_dev__status(dev);
	a->sync[d].generation = dev->config_generation;
	virtio_mmio__snapshot(
	    dev, page, VIRTIO_MMIO_INT_VRING | (a->sync[d].config ? VIRTIO_MMIO_INT_CONFIG : 0));
	return guest__write_phys(&a->mem, a->regs_gpa + (uint64_t)d * GUESTRAM_MMIO_SIZE, page,
				 sizeof(page));
}

int attach__steady_check(struct attach *a)
{
	struct memslot *slots = NULL;
	const struct memslot *s = NULL;
	size_t n = 0;
	bool hit;

	if (!a->steady || !a->hv.probe || a->migrating)
		return a->migrating ? -EBUSY : 0;
	hit = memslots__watch_hit(a->hv.probe);
	/* one load of the probe's state while the hypervisor issued no VM ioctl */
	if (!hit && memslots__poll(a->hv.probe, &slots, &n) > 0)
		s = hv__dirty_logged(slots, n, a->kernel.pbase);
	if (hit || s) {
		pr_err("attach: the VM is being migrated or snapshotted (KVM logs the dirty pages "
		       "of the guest's RAM%s): detaching, as vmsh's RAM and writes would not go "
		       "with it",
		       s ? ", a memslot shows it" : ", the hypervisor turned it on");
		a->migrating = true;
		if (!a->stop_signal)
			a->stop_signal = SIGTERM; /* the loop detaches as on SIGTERM */
	}
	free(slots);
	return a->migrating ? -EBUSY : 0;
}

void attach__steady_sync(struct attach *a)
{
	if (!a->steady)
		return;
	attach__steady_check(a);
	for (int d = 0; d < ATTACH_NDEV; d++) {
		struct virtio_dev *dev = a->dev[d];
		bool config = virtio_dev__interrupt_status(dev) & VIRTIO_MMIO_INT_CONFIG;

		if (a->sync[d].status == virtio_dev__status(dev) &&
		    a->sync[d].generation == dev->config_generation &&
		    (a->sync[d].config || !config))
			continue;
		a->sync[d].config = true;
		if (steady_write_page(a, d))
			pr_err("attach: cannot update %s's registers in the guest",
			       virtio_dev__name(dev));
	}
}

/* Take the register pages and the InterruptACK ioeventfds away (held). */
int attach__steady_remove(struct attach *a)
{
	int err = 0;

	if (a->regs_added && guestram__readonly_remove(&a->hv, &a->regs_slot))
		err = -EIO;
	else
		a->regs_added = false;
	for (int d = ATTACH_NDEV - 1; d >= 0; d--) {
		if (a->ack_assigned[d] &&
		    guestram__ioeventfd_deassign(&a->hv, &a->ack,
						 a->plan.mmio_gpa[d] + VIRTIO_MMIO_INTERRUPT_ACK,
						 GUESTRAM_ANY_DATA))
			err = -EIO;
		else
			a->ack_assigned[d] = false;
	}
	if (!err && a->ack.hv_fd >= 0 && guestram__eventfd_close(&a->hv, &a->ack))
		err = -EIO;
	return err;
}

/* The hypervisor is held: pages, ioeventfds, then the slot that shows them. */
static int steady_add(struct attach *a)
{
	int err = 0;

	for (int d = 0; !err && d < ATTACH_NDEV; d++) {
		a->sync[d].config =
		    virtio_dev__interrupt_status(a->dev[d]) & VIRTIO_MMIO_INT_CONFIG;
		err = steady_write_page(a, d);
	}
	if (!err)
		err = guestram__eventfd_open(&a->hv, &a->ack);
	for (int d = 0; !err && d < ATTACH_NDEV; d++) {
		err = guestram__ioeventfd_assign(&a->hv, &a->ack,
						 a->plan.mmio_gpa[d] + VIRTIO_MMIO_INTERRUPT_ACK,
						 GUESTRAM_ANY_DATA);
		a->ack_assigned[d] = !err;
	}
	if (!err)
		err = guestram__readonly_add(
		    &a->hv, a->plan.regs_slot, a->plan.mmio_gpa[0], REG_PAGES,
		    a->ram.slot.hva + (a->regs_gpa - a->ram.slot.gpa), &a->regs_slot);
	a->regs_added = !err;
	return err;
}

/*
 * Both transitions keep the vCPUs stopped under the trap (paused) while the
 * rest of the hypervisor is held and changed: there is no moment in which a
 * vCPU could run with neither the trap nor the register pages in place, so
 * no guest access to the windows can reach the hypervisor.
 */
static int steady_enter(struct attach *a)
{
	int err = kvmrun__pause(&a->trap);

	if (err) {
		/* a thread gone; the others, paused, must not stay stopped */
		kvmrun__resume(&a->trap);
		return err;
	}
	err = attach__hold(a);
	if (err) {
		kvmrun__resume(&a->trap); /* the VM must not stay stopped */
		return err;
	}
	err = steady_add(a);
	if (err) {
		pr_err("attach: cannot make the devices exit-less; vmsh keeps trapping them");
		err = attach__steady_remove(a) ? -EIO : 0; /* 0: trapped as before */
		if (attach__release(a))
			err = -EIO;
		return kvmrun__resume(&a->trap) ? -EIO : err;
	}
	if (attach__release(a)) {
		kvmrun__resume(&a->trap);
		return -EIO;
	}
	/* the pages are in place: the vCPUs may run untraced */
	a->steady = true;
	a->steady_since_ns = util__now_ns();
	a->steady_cpu_ns = cpu_ns();
	a->steady_irqs = a->irqs;
	a->steady_mem_calls = a->mem_calls;
	a->steady_notifies = a->notifies;
	a->trapping = false;
	/*
	 * Migration starting while steady: the probe sees the memslot update
	 * that turns on dirty logging for the kernel's RAM (watch), and the
	 * hypervisor's next VM ioctl walks the slots (arm); attach__steady_check
	 * looks at both.
	 */
	if (a->hv.probe) {
		memslots__watch(a->hv.probe, a->kernel.pbase);
		memslots__arm(a->hv.probe);
	}
	if (kvmrun__stop(&a->trap))
		return -EIO;
	a->steady_ptrace = vmsh_ptrace_requests;
	pr_info("steady state: registers at gpa 0x%" PRIx64 " (read-only memslot %u), no trap",
		a->plan.mmio_gpa[0], a->plan.regs_slot);
	/* an event raised while the trap stopped is looked at again */
	attach__notify_irq(a);
	return 0;
}

int attach__steady_enter(struct attach *a)
{
	int err;

	if (a->steady || a->o.always_trap || a->plan.regs_slot == GUESTRAM_NO_SLOT)
		return 0;
	for (int d = 0; d < ATTACH_NDEV; d++)
		if (!virtio_dev__live(a->dev[d]))
			return 0;
	/* the keeper's copy must not miss what changes in the hypervisor */
	attach__keeper_stop(a);
	err = steady_enter(a);
	if (!err)
		attach__keeper_start(a);
	return err;
}

int attach__steady_leave(struct attach *a)
{
	uint64_t acks = 0;
	int err;

	if (!a->steady)
		return 0;
	a->steady = false;
	a->steady_ptrace = vmsh_ptrace_requests - a->steady_ptrace;
	a->steady_ns = util__now_ns() - a->steady_since_ns;
	a->steady_cpu_ns = cpu_ns() - a->steady_cpu_ns;
	if (a->ack.fd >= 0 && read(a->ack.fd, &acks, sizeof(acks)) != sizeof(acks))
		acks = 0;
	pr_info("steady state: %.1f s, %lu ptrace requests; %lu queue notifications, %lu "
		"interrupts sent, %" PRIu64 " acknowledged in the kernel; %lu guest memory calls; "
		"vmsh's CPU time %.1f ms (%.3f%% of a CPU)",
		a->steady_ns / 1e9, a->steady_ptrace, a->notifies - a->steady_notifies,
		a->irqs - a->steady_irqs, acks, a->mem_calls - a->steady_mem_calls,
		a->steady_cpu_ns / 1e6,
		a->steady_ns ? 100.0 * (double)a->steady_cpu_ns / (double)a->steady_ns : 0.0);
	/* the trap first, paused: the pages go while no vCPU runs */
	err = attach__start_trap(a, true);
	if (err)
		return err;
	err = attach__hold(a);
	if (err) {
		kvmrun__resume(&a->trap); /* the VM must not stay stopped */
		return err;
	}
	err = attach__steady_remove(a);
	if (attach__release(a) || err)
		return -EIO;
	return kvmrun__resume(&a->trap);
}
