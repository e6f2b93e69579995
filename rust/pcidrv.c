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
#include <linux/interrupt.h>
#include <linux/module.h>
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

int rsvm_shim_pci_register(void)
{
	return pci_register_driver(&rsvm_pci_driver);
}

void rsvm_shim_pci_unregister(void)
{
	pci_unregister_driver(&rsvm_pci_driver);
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
 */
int rsvm_shim_pci_msi_enable(struct pci_dev *pdev, void *ctx)
{
	int r = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI);

	if (r < 0)
		return r;
	r = request_threaded_irq(pci_irq_vector(pdev, 0), NULL, rsvm_assigned_irq_thread, IRQF_ONESHOT,
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
 * Who else uses a requester id (IVRS aliases, rust/iommu/amdvi/assign.rs): 0 no such PCI
 * function, 1 present without a driver, 2 present with a driver (the host's, unless it is
 * rsvm's; the caller knows its own). pci_get_domain_bus_and_slot() is not in the kernel
 * crate's PCI abstraction, which only hands out devices to their driver.
 */
int rsvm_shim_pci_holder(u16 segment, u16 devid)
{
	struct pci_dev *pdev = pci_get_domain_bus_and_slot(segment, devid >> 8, devid & 0xff);
	int r;

	if (!pdev)
		return 0;
	r = READ_ONCE(pdev->dev.driver) ? 2 : 1;
	pci_dev_put(pdev);
	return r;
}

/*
 * Whether the device's DMA can also arrive with a requester id other than its own on the PCI
 * side (behind a PCIe-to-PCI or PCI-X bridge, or a DMA-alias quirk): rsvm does not program
 * those DTEs, so it refuses to assign such a device (Documentation/amdvi.md, "Aliases").
 * pci_for_each_dma_alias() is not exported to modules; this is its walk, conservatively:
 * any quirk alias, or any bridge up to the root bus other than a PCIe root, upstream or
 * downstream port (which pass requester ids through), counts. (VMD-style pci_real_dma_dev
 * redirection is x86-VMD only and not handled.)
 */
int rsvm_shim_pci_has_dma_alias(struct pci_dev *pdev)
{
	struct pci_bus *bus;

	if (pdev->dma_alias_mask)
		return 1;
	for (bus = pdev->bus; !pci_is_root_bus(bus); bus = bus->parent) {
		struct pci_dev *br = bus->self;

		if (!br)
			continue;
		if (br->dev_flags & PCI_DEV_FLAGS_BRIDGE_XLATE_ROOT)
			return 0;
		if (!pci_is_pcie(br))
			return 1;
		switch (pci_pcie_type(br)) {
		case PCI_EXP_TYPE_ROOT_PORT:
		case PCI_EXP_TYPE_UPSTREAM:
		case PCI_EXP_TYPE_DOWNSTREAM:
			continue;
		case PCI_EXP_TYPE_PCI_BRIDGE:
			if (br->dev_flags & PCI_DEV_FLAGS_PCI_BRIDGE_NO_ALIAS)
				continue;
			return 1;
		default:
			return 1;
		}
	}
	return 0;
}
