// SPDX-License-Identifier: GPL-2.0
/*
 * What rsvm's device assignment (rust/iommu/amdvi/assign/, Documentation/amdvi.md) needs from
 * C: only what Linux 7.2's `kernel` crate cannot express. The policy (binding, assignment,
 * INTx masking, DMA aliases, IRQ moves) is in Rust; Rust reaches these through rust/ffi/ (pci.rs, irq.rs).
 */
#include <linux/interrupt.h>
#include <linux/workqueue.h>
#include <linux/module.h>
#include <linux/msi.h>
#include <linux/pci.h>
#include <linux/spinlock.h>
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
 * The PCI driver "rsvm". Why C: `kernel::pci::Driver` has no driver_override-only id entry
 * (VFIO's PCI_DRIVER_OVERRIDE_DEVICE_VFIO: bind only when the administrator names the
 * driver) and scopes the device to probe/unbind, while an assigned device is used from VM
 * ioctls and the VM fd's release.
 */
int rsvm_shim_pci_register(void)
{
	return pci_register_driver(&rsvm_pci_driver);
}

/* Why C: pairs with rsvm_shim_pci_register (the driver struct is static here). */
void rsvm_shim_pci_unregister(void)
{
	pci_unregister_driver(&rsvm_pci_driver);
}

/* Why C: pci_domain_nr() is a static inline without a Rust helper. */
void rsvm_shim_pci_ids(struct pci_dev *pdev, u16 *segment, u16 *devid)
{
	*segment = pci_domain_nr(pdev->bus);
	*devid = pci_dev_id(pdev);
}

/*
 * The MSI message Linux programmed into the device for its vector 0 (the cached copy, what
 * the device sends), and that IRQ's number; -ENODEV if the device has no MSI vector.
 * Why C: struct msi_msg (linux/msi.h) is not in the kernel crate's bindings.
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

static void rsvm_irqs_moved_fn(struct work_struct *w)
{
	rsvm_amdvi_irqs_moved();
}
static DECLARE_WORK(rsvm_irqs_moved_work, rsvm_irqs_moved_fn);

/*
 * Queues rsvm_amdvi_irqs_moved() (Rust decides when: a CPU died). Why C: a static work item
 * (DECLARE_WORK, schedule_work are macros/inlines) that must be cancelled synchronously at
 * unload, which the kernel crate's workqueue cannot do.
 */
void rsvm_shim_irqs_moved_schedule(void)
{
	schedule_work(&rsvm_irqs_moved_work);
}

/* Why C: cancel_work_sync on the static work above; no run is pending or running after. */
void rsvm_shim_irqs_moved_cancel(void)
{
	cancel_work_sync(&rsvm_irqs_moved_work);
}

/*
 * Raw spinlocks, for state shared with a hard-irq handler (the INTx line, Rust's
 * ffi::irq::RawSpinLockIrq). Why C: the kernel crate has no raw spinlock, raw_spin_lock_init
 * is a macro (a lockdep class per call site; a plain initialiser without DEBUG_SPINLOCK) and
 * raw_spin_lock_irqsave/unlock_irqrestore are macros that are inlined in some configurations.
 */
void rsvm_shim_raw_spin_lock_init(raw_spinlock_t *lock)
{
	raw_spin_lock_init(lock);
}

/* Why C: see rsvm_shim_raw_spin_lock_init. */
unsigned long rsvm_shim_raw_spin_lock_irqsave(raw_spinlock_t *lock)
{
	unsigned long flags;

	raw_spin_lock_irqsave(lock, flags);
	return flags;
}

/* Why C: see rsvm_shim_raw_spin_lock_init. */
void rsvm_shim_raw_spin_unlock_irqrestore(raw_spinlock_t *lock, unsigned long flags)
{
	raw_spin_unlock_irqrestore(lock, flags);
}
