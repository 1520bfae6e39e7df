// SPDX-License-Identifier: GPL-2.0
/*
 * A free interrupt line for vmsh's virtio-mmio devices (guestram.h).
 *
 * What stage1 can pass. stage1 registers a platform device whose IRQ
 * resource is a *Linux irq number*: platform_get_irq() returns the
 * resource's start as is (no ACPI companion, no device tree on x86), and
 * virtio_mmio request_irq()s it, IRQF_SHARED. That works only if the guest
 * already has that irq mapped to the right IOAPIC pin. On x86:
 * - ISA IRQs 0-15 are mapped at boot: the MADT (acpi
 *   mp_config_acpi_legacy_irqs) or the MP table gives each an mp_irqs entry,
 *   setup_IO_APIC_irqs() maps every pin of IOAPIC 0 that has one, and an ISA
 *   source keeps its ISA number as Linux irq (mp_map_pin_to_irq:
 *   srcbusirq). So Linux irq N is GSI N for N < 16, except where the
 *   firmware overrides it: QEMU's and most MADTs send ISA IRQ 0 (timer) to
 *   GSI 2, and Linux irq 2 is not pin 2. Pins 0 and 2 are never chosen.
 * - GSIs >= 16 are mapped lazily, when ACPI/PCI calls acpi_register_gsi()
 *   (mp_map_gsi_to_irq) for a device that uses them. An unused one has no
 *   Linux irq, and under ACPI its number may differ from the GSI (dynamic
 *   irqdomain). Only MP-table guests without ACPI (Firecracker, whose
 *   virtio_mmio.device=...:5+ command-line devices rely on exactly this)
 *   get the identity map for all 24 pins. stage1 would have to call
 *   acpi_register_gsi() itself; we do not go there.
 * Rule: stage1 passes the chosen GSI unchanged as the irq resource, and the
 * GSI is an ISA IRQ in 1, 3-15. Linux programs the pin with the ISA default
 * (edge, active high) or the MADT's override for it.
 *
 * Only edge-triggered pins. An irqfd without a resamplefd pulses the line
 * (assert, deassert). On a level-triggered pin the IOAPIC drops a pulse that
 * comes while remote-IRR is set (the previous interrupt delivered, not yet
 * EOI'd: kvm_ioapic_set_irq -> ioapic_set_irq coalesces it, and the deassert
 * clears IRR before the EOI could re-deliver it), so an event vmsh raises
 * while the guest is in its handler would be lost for good. A resamplefd
 * (KVM_IRQFD_FLAG_RESAMPLE) would keep the line asserted until the EOI, but
 * vmsh's steady state sends interrupts with no trap to learn when to lower
 * it. So the pins that firmware makes level-triggered are never chosen: the
 * PCI interrupt links 5, 9, 10 and 11, which QEMU's MADT (pc and q35, its
 * pci_irq_mask) overrides to level, active high, and which ACPI PCI link
 * devices use elsewhere. The pin is unprogrammed when it is chosen, so its
 * trigger mode cannot be read then.
 *
 * Which pins are free. KVM resets a redirection entry to "masked" only
 * (0x10000), Linux's clear_IO_APIC() writes the same, and Linux writes the
 * vector, trigger and destination when an irq on the pin is first
 * activated (request_irq): a pin still at exactly 0x10000, with no request
 * pending in IRR, has never been used by this guest. A driver that requests
 * its irq only when opened (8250 serial, floppy) leaves its pin looking free
 * until then, so the order below puts the pins of PC devices that are
 * rarely present or opened first (floppy, parallel), PCI link IRQs and
 * COM1/keyboard/RTC/SCI last.
 *
 * Split irqchip (KVM_CAP_SPLIT_IRQCHIP: QEMU kernel-irqchip=split, the
 * microvm machine's default, cloud-hypervisor): the IOAPIC lives in the
 * hypervisor and KVM_GET_IRQCHIP fails with ENXIO. KVM_IRQFD still works
 * there, but a GSI means whatever the GSI routing table says: QEMU keeps an
 * MSI route per pin of its IOAPIC (GSI = pin) mirroring each unmasked
 * redirection entry, so an irqfd on a pin's GSI would follow the guest's
 * programming. vmsh cannot see that IOAPIC to find a free pin, and cannot
 * add routes of its own (KVM_SET_GSI_ROUTING replaces the whole table,
 * which cannot be read back), so this case is refused for now.
 *
 * A line for each device. Linux's virtio_mmio handler (vm_interrupt) reads
 * InterruptStatus and writes it to InterruptACK on every interrupt of its
 * line, whether or not the interrupt was its device's. On a shared line
 * each interrupt of the disk costs the console's handler an ACK too: an
 * MMIO write that exits to KVM (an ioeventfd while steady, vmsh's trap
 * before), which in the nested lab was a third of the guest's exits per
 * disk request. So each device gets a pin of its own where two are free,
 * and they share one where only one is.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>

#include "guestram.h"
#include "util.h"

#define IOAPIC_RTE_MASKED (1ULL << 16)

/*
 * ISA IRQs in order of preference; never 0 (timer, routed to pin 2) or 2,
 * nor the level-triggered PCI links 5, 9, 10, 11 (see above).
 */
static const uint8_t irqline_order[] = { 6, 7, 3, 15, 14, 13, 12, 1, 4, 8 };

int guestram__irq_choose(const struct kvm_ioapic_state *s, uint32_t *gsi, unsigned int n)
{
	unsigned int found = 0;

	for (size_t i = 0; i < ARRAY_SIZE(irqline_order) && found < n; i++) {
		unsigned pin = irqline_order[i];

		if (s->redirtbl[pin].bits != IOAPIC_RTE_MASKED || (s->irr & (1U << pin)))
			continue;
		gsi[found++] = pin;
	}
	if (found) {
		if (found < n)
			pr_info(
			    "one free interrupt line (GSI %u) for vmsh's %u devices: they share it",
			    gsi[found - 1], n);
		for (unsigned int d = found; d < n; d++)
			gsi[d] = gsi[found - 1];
		return 0;
	}
	pr_err("every edge-triggered ISA interrupt line of the VM's IOAPIC is in use: no GSI "
	       "for vmsh's devices (the PCI link lines 5, 9, 10, 11 are level-triggered, where "
	       "an irqfd's pulses get lost)");
	return -ENOSPC;
}

int guestram__irq_find(struct hv *hv, uint32_t *gsi, unsigned int n)
{
	struct kvm_irqchip chip = { .chip_id = KVM_IRQCHIP_IOAPIC };
	long ret;
	int err;

	err = __hv_ioctl(hv, hv->vm_fd, KVM_GET_IRQCHIP, &chip, sizeof(chip), &ret);
	if (err)
		return err;
	if (ret == -ENXIO) {
		/*
		 * A split irqchip (QEMU kernel-irqchip=split, the microvm machine):
		 * the IOAPIC is the hypervisor's and cannot be read from here. QEMU
		 * keeps GSI i routed to the MSI that the guest programs into pin i,
		 * so an irqfd on an ISA pin still reaches the guest's handler, as
		 * an edge. The pin is the first of the preference order, which no
		 * QEMU machine wires a device to (an irqfd on a shared pin would
		 * only give that device's driver spurious calls). Without any
		 * irqchip, KVM_IRQFD itself fails later with a clear error.
		 */
		for (unsigned int d = 0; d < n; d++)
			gsi[d] = irqline_order[0];
		pr_info("the VM's IOAPIC is in the hypervisor (split irqchip): using ISA IRQ %u",
			gsi[0]);
		return 0;
	}
	if (ret < 0) {
		pr_err("KVM_GET_IRQCHIP (IOAPIC) inside the hypervisor failed: %s",
		       strerror((int)-ret));
		return (int)ret;
	}
	err = guestram__irq_choose(&chip.chip.ioapic, gsi, n);
	for (unsigned int d = 0; !err && d < n; d++)
		pr_debug("interrupt line of device %u: GSI %u", d, gsi[d]);
	return err;
}
