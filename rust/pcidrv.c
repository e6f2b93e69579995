// SPDX-License-Identifier: GPL-2.0
/*
 * rsvm's PCI driver "rsvm", for device assignment (Documentation/amdvi.md, rust/iommu/amdvi/assign.rs).
 *
 * Why C: Linux 7.2's `kernel::pci` driver abstraction has no driver_override-only id entry
 * (VFIO's PCI_DRIVER_OVERRIDE_DEVICE_VFIO: bind *only* when the administrator names the
 * driver, never by id match), no pci_reset_function*, and ties the device to the probe/unbind
 * scopes (`Device<Bound>` with a lifetime), while an assigned device is used from VM ioctls
 * and the VM fd's release; its IRQ vector helpers are for device drivers owning the device.
 * The few lines here register the driver and wrap the static inline helpers; the logic
 * (what binding, assignment and release do) is in Rust.
 */
#include <linux/cpuhotplug.h>
#include <linux/interrupt.h>
#include <linux/workqueue.h>
#include <linux/module.h>
#include <linux/msi.h>
#include <linux/pci.h>
#include "shim.h"

static const struct pci_device_id rsvm_pci_ids[] = {
	/* Matches any device, but only through driver_override (as vfio-pci). */
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_ANY_ID, PCI_ANY_ID) },
	{}
};

static int rsvm_pci_probe_cb(struct pci_dev *pdev, const struct pci_device_id *id)
{
	return rsvm_pci_probe(pdev);
}

static void rsvm_pci_remove_cb(struct pci_dev *pdev)
{
	rsvm_pci_remove(pdev);
}

static struct pci_driver rsvm_pci_driver = {
	.name = "rsvm",
	.id_table = rsvm_pci_ids,
	.probe = rsvm_pci_probe_cb,
	.remove = rsvm_pci_remove_cb,
	/* rsvm programs the device's DMA translation itself (its own AMD-Vi driver). */
	.driver_managed_dma = true,
};

/*
 * CPU hot-unplug moves an assigned device's host IRQ (vector and destination: fixup_irqs()
 * on the dying CPU rewrites the device's MSI message) even with IRQF_NOBALANCING, and the
 * device's interrupt remapping entry still holds the old message: its MSIs are aborted from
 * then on. A CPUHP_BP_PREPARE_DYN state's teardown runs on a control CPU after the CPU is
 * dead (kernel/cpu.c: BP states are torn down after takedown_cpu()), i.e. after the move;
 * it only queues a work item, which re-reads every assigned device's message and rewrites
 * its entry under the assignment mutex (assign.rs, rsvm_amdvi_irqs_moved) — outside the
 * hotplug lock, so nothing under that mutex (IRQ setup, resets) can deadlock with hotplug.
 */
static void rsvm_irqs_moved_fn(struct work_struct *w)
{
	rsvm_amdvi_irqs_moved();
}
static DECLARE_WORK(rsvm_irqs_moved_work, rsvm_irqs_moved_fn);
static int rsvm_cpuhp_state = -1;

static int rsvm_cpu_dead(unsigned int cpu)
{
	schedule_work(&rsvm_irqs_moved_work);
	return 0;
}

int rsvm_shim_pci_register(void)
{
	int r = cpuhp_setup_state_nocalls(CPUHP_BP_PREPARE_DYN, "rsvm/amdvi:irq-moved", NULL, rsvm_cpu_dead);

	if (r < 0)
		return r;
	rsvm_cpuhp_state = r;
	r = pci_register_driver(&rsvm_pci_driver);
	if (r) {
		cpuhp_remove_state_nocalls(rsvm_cpuhp_state);
		cancel_work_sync(&rsvm_irqs_moved_work);
	}
	return r;
}

void rsvm_shim_pci_unregister(void)
{
	pci_unregister_driver(&rsvm_pci_driver);
	cpuhp_remove_state_nocalls(rsvm_cpuhp_state);
	/* No work runs after this (the unit is withdrawn next). */
	cancel_work_sync(&rsvm_irqs_moved_work);
}

/* Segment and requester id (bus << 8 | devfn): pci_domain_nr() is static inline. */
void rsvm_shim_pci_ids(struct pci_dev *pdev, u16 *segment, u16 *devid)
{
	*segment = pci_domain_nr(pdev->bus);
	*devid = pci_dev_id(pdev);
}

/* BAR `bar`: start, length and whether it is a usable memory BAR (static inlines). */
int rsvm_shim_pci_bar(struct pci_dev *pdev, unsigned int bar, u64 *start, u64 *len)
{
	unsigned long flags;

	if (bar >= PCI_STD_NUM_BARS)
		return -EINVAL;
	flags = pci_resource_flags(pdev, bar);
	if (!(flags & IORESOURCE_MEM) || (flags & IORESOURCE_UNSET) || !pci_resource_len(pdev, bar))
		return -EINVAL;
	*start = pci_resource_start(pdev, bar);
	*len = pci_resource_len(pdev, bar);
	return 0;
}

static irqreturn_t rsvm_assigned_irq_thread(int irq, void *ctx)
{
	rsvm_assigned_irq(ctx);
	return IRQ_HANDLED;
}

/*
 * One MSI vector for the device, handled in a thread: delivery to the guest's APICs takes
 * the VM's vCPU-list mutex. `ctx` stays valid until rsvm_shim_pci_msi_disable().
 * IRQF_NOBALANCING: the message Linux programs (vector, destination) is copied into the
 * device's interrupt remapping entry (assign.rs); user space (irqbalance, smp_affinity)
 * must not move it behind rsvm's back. CPU hot-unplug still does (Documentation/amdvi.md).
 */
int rsvm_shim_pci_msi_enable(struct pci_dev *pdev, void *ctx)
{
	int r = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI);

	if (r < 0)
		return r;
	r = request_threaded_irq(pci_irq_vector(pdev, 0), NULL, rsvm_assigned_irq_thread,
				 IRQF_ONESHOT | IRQF_NOBALANCING,
				 "rsvm-assigned", ctx);
	if (r)
		pci_free_irq_vectors(pdev);
	return r;
}

/* Waits for a running handler (free_irq) before the vectors go. */
void rsvm_shim_pci_msi_disable(struct pci_dev *pdev, void *ctx)
{
	free_irq(pci_irq_vector(pdev, 0), ctx);
	pci_free_irq_vectors(pdev);
}

/*
 * The MSI message Linux programmed into the device for its vector 0 (the cached copy, what
 * the device sends), and that IRQ's number; -ENODEV if the device has no MSI vector.
 */
int rsvm_shim_pci_msi_msg(struct pci_dev *pdev, u32 *address_lo, u32 *address_hi, u32 *data)
{
	struct msi_msg msg = {};
	int irq = pci_irq_vector(pdev, 0);

	if (irq < 0)
		return irq;
	get_cached_msi_msg(irq, &msg);
	*address_lo = msg.address_lo;
	*address_hi = msg.address_hi;
	*data = msg.data;
	return irq;
}
